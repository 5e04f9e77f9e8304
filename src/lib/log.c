/*
 * log - see log.h.  The log fd is swapped with dup2() on reopen, so threads
 * that are writing at that moment never see a closed descriptor.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 4096

static int log_fd_cur = 2;
static char *log_path;
static bool trace_on;

static const char *level_names[] = {"trace", "debug", "info", "warn", "error"};

int
log_open(const char *path, const char **error_r)
{
	int fd;

	if (path == NULL || *path == '\0') {
		log_fd_cur = 2;
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		*error_r = strerror(errno);
		return -1;
	}
	free(log_path);
	log_path = strdup(path);
	log_fd_cur = fd;
	return 0;
}

void
log_reopen(void)
{
	int fd;

	if (log_path == NULL)
		return;
	fd = open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (fd == -1) {
		log_msg(LOGL_ERROR, "main", "event=log-reopen path=%s error=\"%s\"",
			log_path, strerror(errno));
		return;
	}
	if (dup2(fd, log_fd_cur) == -1)
		log_msg(LOGL_ERROR, "main", "event=log-reopen error=\"dup2: %s\"",
			strerror(errno));
	close(fd);
}

void
log_set_trace(bool on)
{
	trace_on = on;
}

bool
log_trace_enabled(void)
{
	return trace_on;
}

int
log_fd(void)
{
	return log_fd_cur;
}

static size_t
stamp(char *p, size_t sz, enum log_level level, const char *component)
{
	struct timespec ts;
	struct tm tm;
	int n;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(p, sz, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s %s ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
		     level_names[level], component);
	return n < 0 ? 0 : (size_t)n >= sz ? sz - 1 : (size_t)n;
}

static void
emit(char *line, size_t len)
{
	ssize_t r;

	if (len >= LOG_LINE_MAX - 1) {
		len = LOG_LINE_MAX - 5;
		memcpy(line + len, "...", 3);
		len += 3;
	}
	line[len++] = '\n';
	do
		r = write(log_fd_cur, line, len);
	while (r == -1 && errno == EINTR);
}

void
log_msg(enum log_level level, const char *component, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	size_t n;
	va_list ap;
	int r;

	if (level == LOGL_TRACE && !trace_on)
		return;
	n = stamp(line, sizeof(line), level, component);
	va_start(ap, fmt);
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (r < 0)
		r = 0;
	n += (size_t)r;
	if (n > sizeof(line) - 1)
		n = sizeof(line) - 1;
	emit(line, n);
}

void
log_trace(const char *component, const char *id, char dir, const char *s,
	  size_t len)
{
	char line[LOG_LINE_MAX];
	size_t n, i;
	int r;

	if (!trace_on)
		return;
	n = stamp(line, sizeof(line), LOGL_TRACE, component);
	r = snprintf(line + n, sizeof(line) - n, "[%s] %c: ", id, dir);
	n += r > 0 ? (size_t)r : 0;
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	for (i = 0; i < len && n < sizeof(line) - 8; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f) {
			line[n++] = (char)c;
		} else {
			r = snprintf(line + n, sizeof(line) - n, "\\x%02x", c);
			n += (size_t)r;
		}
	}
	emit(line, n);
}

const char *
log_q(char *tmp, size_t sz, const char *s)
{
	size_t i, n = 0;
	bool plain = *s != '\0';

	for (i = 0; s[i] != '\0'; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c <= 0x20 || c == '"' || c == '=' || c == '\\' || c >= 0x7f)
			plain = false;
	}
	if (plain)
		return s;
	if (sz < 4)
		return "\"\"";
	tmp[n++] = '"';
	for (i = 0; s[i] != '\0' && n < sz - 6; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c == '\\') {
			tmp[n++] = '\\';
			tmp[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(tmp + n, sz - n, "\\x%02x", c);
		} else {
			tmp[n++] = (char)c;
		}
	}
	tmp[n++] = '"';
	tmp[n] = '\0';
	return tmp;
}
