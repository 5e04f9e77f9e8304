/*
 * tmproot - the temporary directory of the unit tests that work on files:
 * setup() makes /tmp/owl-TMPROOT_NAME-XXXXXX as root for one cmocka test,
 * teardown() removes it; fault injection (store/fsops) is cleared around
 * each test; open_store() opens a store there.  Header-only: a test program defines TMPROOT_NAME and
 * includes it once.
 */
#ifndef OWL_TEST_TMPROOT_H
#define OWL_TEST_TMPROOT_H

#include <stdio.h>
#include <stdlib.h>

#include "store/fsops.h"

#ifndef TMPROOT_NAME
#error "define TMPROOT_NAME before including tmproot.h"
#endif

static char root[256];

static int
setup(void **st)
{
	(void)st;
	snprintf(root, sizeof(root), "/tmp/owl-" TMPROOT_NAME "-XXXXXX");
	if (mkdtemp(root) == NULL)
		return -1;
	fsops_clear();
	return 0;
}

static int
teardown(void **st)
{
	char cmd[300];

	(void)st;
	fsops_clear();
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	return system(cmd) == 0 ? 0 : -1;
}

/*
 * A store on root/mail named host.test, for the programs that include
 * store/store.h before this header.
 */
#ifdef OWL_STORE_H
static inline struct store *
open_store(enum mailbox_format fmt)
{
	char mail[300];
	const char *e;
	struct store *s;

	snprintf(mail, sizeof(mail), "%s/mail", root);
	s = store_new(fmt, mail, "host.test", &e);
	assert_non_null(s);
	return s;
}

/* What a box says of message i: its size with CRLF; its file name, in one
 * of four buffers so that two can be compared. */
static inline size_t
msg_size(const struct store_box *b, size_t i)
{
	struct store_msg_info mi;

	store_box_info(b, i, &mi);
	return mi.size;
}

static inline const char *
msg_file(const struct store_box *b, size_t i)
{
	static char names[4][512];
	static unsigned k;
	char *out = names[k++ % 4];

	assert_int_equal(store_box_file(b, i, out, sizeof(names[0])), 0);
	return out;
}
#endif

#endif
