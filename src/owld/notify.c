/*
 * notify - tells systemd how owld is doing (Type=notify in owld.service):
 * READY=1 once every listener accepts, RELOADING=1 then READY=1 around a
 * reload, STOPPING=1 at a stop.  The protocol (sd_notify(3)) is one
 * datagram of "KEY=VALUE" lines to the unix socket named in
 * $NOTIFY_SOCKET ('@' for the abstract namespace); without that variable
 * this does nothing.  Written here rather than linking libsystemd: the
 * protocol is a documented stable interface that systemd invites
 * daemons to speak themselves, it is these 40 lines, and owld then builds
 * and runs the same on a machine without systemd (README, "Debian package
 * and systemd").  A datagram that cannot be sent is logged once; owld
 * serves on regardless (systemd then times the start out and says so).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../lib/log.h"
#include "owld.h"

/* Fills sun from $NOTIFY_SOCKET; the address length, or 0 for none. */
static socklen_t
notify_addr(struct sockaddr_un *sun)
{
	const char *path = getenv("NOTIFY_SOCKET");
	size_t len;

	if (path == NULL || (path[0] != '/' && path[0] != '@') ||
	    (len = strlen(path)) < 2 || len >= sizeof(sun->sun_path))
		return 0;
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	memcpy(sun->sun_path, path, len);
	if (path[0] == '@')
		sun->sun_path[0] = '\0';	/* abstract: no trailing NUL */
	return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
			   (path[0] == '/'));
}

void
owld_notify(const char *state)
{
	static bool failed_logged;
	struct sockaddr_un sun;
	socklen_t alen = notify_addr(&sun);
	int fd;

	if (alen == 0)
		return;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd != -1 && sendto(fd, state, strlen(state), MSG_NOSIGNAL,
			       (struct sockaddr *)&sun, alen) != -1) {
		close(fd);
		return;
	}
	if (!failed_logged)
		log_msg(LOGL_WARN, "main", "event=notify-failed error=\"%s\"",
			strerror(errno));
	failed_logged = true;
	if (fd != -1)
		close(fd);
}

void
owld_notify_reloading(void)
{
	struct timespec ts;
	char msg[80];

	/* MONOTONIC_USEC: what Type=notify-reload (systemd 253) asks for */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg), "RELOADING=1\nMONOTONIC_USEC=%llu",
		 (unsigned long long)ts.tv_sec * 1000000ULL +
			 (unsigned long long)ts.tv_nsec / 1000);
	owld_notify(msg);
}
