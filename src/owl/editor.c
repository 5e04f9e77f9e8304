/*
 * owl/editor - the message text written in $EDITOR: the draft's text
 * goes into a temporary file created 0600 (mkstemp, in $TMPDIR or
 * /tmp), the editor runs through /bin/sh on owl's terminal (so EDITOR
 * may hold options), and what it saved is read back, at most half of
 * OWL_MSG_MAX, before the file is removed.  Fails with the call and its
 * errno text, or the editor's exit status; the caller then asks for the
 * text line by line, so nothing typed depends on the editor.
 */
#include "owl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs the editor on path and waits; its exit status or -1. */
static int
run_editor(const char *editor, const char *path)
{
	struct sigaction ign, old_int, old_quit;
	int status = -1;
	pid_t pid;

	memset(&ign, 0, sizeof(ign));
	ign.sa_handler = SIG_IGN;
	sigemptyset(&ign.sa_mask);
	sigaction(SIGINT, &ign, &old_int);	/* Ctrl-C is the editor's */
	sigaction(SIGQUIT, &ign, &old_quit);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		signal(SIGINT, SIG_DFL);
		signal(SIGQUIT, SIG_DFL);
		setenv("OWL_EDITOR", editor, 1);
		execl("/bin/sh", "sh", "-c", "exec $OWL_EDITOR \"$1\"", "sh",
		      path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
			;
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGQUIT, &old_quit, NULL);
	return pid > 0 ? status : -1;
}

/* Reads the file back: at most max octets. */
static int
read_back(const char *path, size_t max, struct buf *out, char *err,
	  size_t errsz)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char chunk[65536];
	ssize_t n;

	if (fd == -1) {
		snprintf(err, errsz, "open %s: %s", path, strerror(errno));
		return -1;
	}
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1 || out->len + (size_t)n > max ||
		    buf_add(out, chunk, (size_t)n) == -1) {
			snprintf(err, errsz, "%s: %s", path, n == -1 ?
				 strerror(errno) : "text too long");
			close(fd);
			return -1;
		}
	}
	close(fd);
	return 0;
}

int
owl_edit(const char *editor, const char *text, size_t len, struct buf *out,
	 char *err, size_t errsz)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	int fd, status, rc = -1;

	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (bsnprintf(path, sizeof(path), "%s/owl-draft-XXXXXX", tmp) == -1) {
		snprintf(err, errsz, "TMPDIR too long");
		return -1;
	}
	if ((fd = mkstemp(path)) == -1) {
		snprintf(err, errsz, "mkstemp %s: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, 0600) == -1 || owl_write_all(fd, text, len) == -1) {
		snprintf(err, errsz, "write %s: %s", path, strerror(errno));
		close(fd);
		goto out;
	}
	close(fd);
	status = run_editor(editor, path);
	if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errsz, "the editor \"%s\" failed (%s %d)", editor,
			 status != -1 && WIFEXITED(status) ? "exit status" :
			 "signal", status == -1 ? -1 : WIFEXITED(status) ?
			 WEXITSTATUS(status) : WTERMSIG(status));
		goto out;
	}
	buf_reset(out);
	rc = read_back(path, OWL_MSG_MAX / 2, out, err, errsz);
out:
	unlink(path);
	return rc;
}
