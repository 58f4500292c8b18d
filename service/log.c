#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int min_level = LOG_INFO;
static int access_fd = STDOUT_FILENO;
static char *access_path;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

int
log_init(const char *level, const char *access)
{
	int i;

	for (i = 0; i < 4; i++)
		if (strcmp(level, level_names[i]) == 0)
			atomic_store(&min_level, i);
	free(access_path);
	access_path = NULL;
	if (strcmp(access, "-") == 0) {
		access_fd = STDOUT_FILENO;
		return 0;
	}
	access_path = strdup(access);
	if (access_path == NULL)
		return -1;
	access_fd = open(access_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (access_fd < 0) {
		log_error("%s: %s", access_path, strerror(errno));
		access_fd = STDOUT_FILENO;
		return -1;
	}
	return 0;
}

int
log_reopen(void)
{
	int fd;

	if (access_path == NULL)
		return 0;
	fd = open(access_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd < 0) {
		log_error("reopen %s: %s", access_path, strerror(errno));
		return -1;
	}
	/* dup2 swaps the file under the same descriptor number atomically. */
	if (dup2(fd, access_fd) < 0)
		log_error("reopen %s: %s", access_path, strerror(errno));
	close(fd);
	return 0;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if ((int)lvl < atomic_load(&min_level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s: ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, ts.tv_nsec / 1000000, level_names[lvl]);
	va_start(ap, fmt);
	m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	if (write(STDERR_FILENO, line, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
}

void
log_access_line(const char *line, size_t len)
{
	while (len > 0) {
		ssize_t w = write(access_fd, line, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		line += w;
		len -= (size_t)w;
	}
}
