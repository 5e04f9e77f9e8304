/*
 * tmproot - the temporary directory of the unit tests that work on files:
 * setup() makes /tmp/owl-TMPROOT_NAME-XXXXXX as root for one cmocka test,
 * teardown() removes it; fault injection (store/fsops) is cleared around
 * each test.  Header-only: a test program defines TMPROOT_NAME and
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

#endif
