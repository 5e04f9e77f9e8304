/*
 * log - the one log module.
 *
 * Each line: RFC 3339 UTC time, level, component, then key=value pairs:
 *   2026-01-01T12:00:00.123Z info smtp id=4f2a9c01 peer=192.0.2.7 event=...
 * Lines are formatted into a bounded stack buffer and written with a single
 * write(2), so lines from worker threads never interleave; an overlong line
 * is cut and ends in "...".  The destination is stderr or log.file; log_reopen()
 * (on SIGHUP) reopens the file for rotation.  log_trace() prints the -v
 * protocol trace "[id] C: ..." / "[id] S: ..." with control bytes escaped.
 */
#ifndef OWL_LOG_H
#define OWL_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum log_level { LOGL_TRACE, LOGL_DEBUG, LOGL_INFO, LOGL_WARN, LOGL_ERROR };

/* Opens path for appending (NULL: stderr). -1 and *error_r on failure. */
int log_open(const char *path, const char **error_r);
/* Reopens the file given to log_open (log rotation); no-op for stderr. */
void log_reopen(void);
void log_set_trace(bool on);
bool log_trace_enabled(void);
/* The file descriptor logged to (for daemon mode's stderr redirection). */
int log_fd(void);

void log_msg(enum log_level level, const char *component, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* One trace line; dir is 'C' (client) or 'S' (server). */
void log_trace(const char *component, const char *id, char dir,
	       const char *line, size_t len);

/*
 * Makes s safe as a key=value value: returned as is when it has no space,
 * quote, '=' or control byte, else double-quoted with \-escapes.  Writes
 * into tmp (size sz) when it must change it; the result is always usable.
 */
const char *log_q(char *tmp, size_t sz, const char *s);

#endif
