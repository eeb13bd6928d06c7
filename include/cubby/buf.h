/* buf.h - the one growable byte buffer, always with a size cap.
 * Every buffer that client bytes can grow is a struct buf with a max:
 * an append past the cap fails and leaves the buffer as it was. */
#ifndef CUBBY_BUF_H
#define CUBBY_BUF_H

#include <stddef.h>

struct buf {
	char *data;     /* heap memory, NUL-terminated when len > 0 or after buf_cstr */
	size_t len;
	size_t cap;
	size_t max;     /* hard cap on len; mandatory, > 0 */
};

/* Empty buffer that may grow to max bytes. */
void buf_init(struct buf *b, size_t max);
/* 0 on success, -1 if the result would exceed max (buffer unchanged). */
int buf_append(struct buf *b, const void *p, size_t n);
int buf_puts(struct buf *b, const char *s);
int buf_putc(struct buf *b, char c);
int buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Append s (n bytes of UTF-8) as a quoted JSON string. 0 or -1 (cap). */
int buf_json_string(struct buf *b, const char *s, size_t n);
/* Contents as a C string (always valid, "" when empty). */
const char *buf_cstr(struct buf *b);
/* Forget the contents, keep the memory. */
void buf_reset(struct buf *b);
/* Release the memory; the buffer is empty and reusable afterwards. */
void buf_free(struct buf *b);

#endif
