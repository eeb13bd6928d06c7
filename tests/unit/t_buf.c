/* t_buf.c - the capped growable buffer. */
#include "config.h"

#include "cubby/buf.h"
#include "tap.h"

int
main(void)
{
	struct buf b;
	char big[100];

	buf_init(&b, 10);
	is_str(buf_cstr(&b), "", "an empty buffer is the empty string");
	is_int(buf_puts(&b, "hello"), 0, "append within the cap");
	is_int(buf_puts(&b, "world"), 0, "append exactly to the cap");
	is_int(b.len, 10, "length is 10");
	is_int(buf_putc(&b, '!'), -1, "one byte past the cap is refused");
	is_str(buf_cstr(&b), "helloworld", "a refused append leaves the buffer as it was");
	buf_reset(&b);
	is_int(b.len, 0, "reset empties");
	is_int(buf_printf(&b, "%d-%s", 7, "x"), 0, "printf within the cap");
	is_str(buf_cstr(&b), "7-x", "printf result");
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	is_int(buf_printf(&b, "%s", big), -1, "printf past the cap is refused");
	is_str(buf_cstr(&b), "7-x", "and leaves the buffer as it was");
	buf_free(&b);

	buf_init(&b, 1 << 20);
	for (int i = 0; i < 100000; i++)
		if (buf_append(&b, "0123456789", 10) != 0)
			break;
	is_int(b.len, 1000000, "grows to a million bytes in small appends");
	ok(b.cap <= (1 << 20) + 1, "capacity never exceeds the cap (+NUL)");
	buf_free(&b);
	return done_testing();
}
