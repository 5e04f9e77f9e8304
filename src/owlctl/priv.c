/*
 * priv - owlctl run as root becomes the user owld serves as (the `user`
 * key, owlpost in the Debian package) before it touches a file, so that
 * the users and aliases files, the queue and DATA_DIR/tls it writes stay
 * readable by owld, and "check" loads tls.key as a reload would.  Fails
 * with 78 for an unknown user, 77 if the switch cannot be made.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "owlctl.h"

int
owlctl_become_user(const struct conf *c)
{
	struct passwd *pw;

	if (geteuid() != 0 || c->user == NULL || c->user[0] == '\0')
		return 0;
	if ((pw = getpwnam(c->user)) == NULL) {
		fprintf(stderr, "owlctl: unknown user '%s' (key 'user')\n",
			c->user);
		return EX_CONFIG_CODE;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) == -1 ||
	    setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1) {
		fprintf(stderr, "owlctl: cannot become %s: %s\n", c->user,
			strerror(errno));
		return 77; /* EX_NOPERM */
	}
	return 0;
}
