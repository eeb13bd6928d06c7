/* log.h - log lines to stderr, where the web server or systemd collects them.
 * One write(2) per line so lines from many workers never interleave.
 * Never log a secret: keys, passwords, tokens and signatures stay out. */
#ifndef CUBBY_LOG_H
#define CUBBY_LOG_H

#include <stddef.h>

enum cb_log_level { CB_LOG_ERR = 0, CB_LOG_WARN, CB_LOG_INFO, CB_LOG_DEBUG };

/* Name the program in every line and set the threshold. */
void log_init(const char *prog, int level);
void log_set_level(int level);
int log_get_level(void);
/* "error" | "warn" | "info" | "debug" -> level, or -1. */
int log_level_parse(const char *s);
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Send stderr (every later log line, and what forked children inherit)
 * to the file at path, appending; "" keeps stderr as it is. 0, or -1
 * with the reason in err (stderr unchanged). Called again after the file
 * was rotated away, it starts the new one. */
int log_reopen(const char *path, char *err, size_t errlen);
/* One preformatted line (no newline), written whole when the level is
 * enabled; control characters become '?'. For the JSON access log. */
void log_line(int level, char *line, size_t n);

#define log_err(...)   log_msg(CB_LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(CB_LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(CB_LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(CB_LOG_DEBUG, __VA_ARGS__)

#endif
