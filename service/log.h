/* log — operational messages to stderr, one JSON access line per request.
 * The access log is written with one write(2) per line (O_APPEND), so lines
 * from several worker threads never interleave; SIGHUP reopens it in place
 * with dup2 so no thread ever writes to a closed descriptor. */
#ifndef WEBHOOKD_LOG_H
#define WEBHOOKD_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

/* level: "debug"|"info"|"warn"|"error"; access: "-" for stdout or a path. */
int  log_init(const char *level, const char *access);
int  log_reopen(void);
void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log_access_line(const char *line, size_t len);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
