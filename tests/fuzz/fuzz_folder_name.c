/*
 * libFuzzer harness for Maildir++ folder names (store/folder.h): the
 * input is taken both as a folder name and as a directory name.  Checks:
 * no crash, no sanitizer report; a name encodes exactly when it is valid;
 * decode(encode(x)) == x for every valid x, and its disk form is at most
 * 200 octets, starts with '.', never with ".owlpost-" and has no '/';
 * decode accepts only what encode makes (encode(decode(d)) == d); INBOX
 * is never a folder name; a role attribute parses to one bit and back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
as_name(const char *x)
{
	char disk[256], back[256];
	bool valid = store_folder_name_check(x) == NULL;
	int r = store_folder_encode(x, disk, sizeof(disk));

	if (store_folder_is_inbox(x) && valid)
		abort();
	if ((r == 0) != valid)
		abort();
	if (!valid)
		return;
	if (strlen(disk) > STORE_FOLDER_MAX_DISK || disk[0] != '.' ||
	    strncmp(disk, ".owlpost-", 9) == 0 || strchr(disk, '/') != NULL)
		abort();
	if (store_folder_decode(disk, back, sizeof(back)) != 0 ||
	    strcmp(back, x) != 0)
		abort();
}

static void
as_disk(const char *d)
{
	char name[256], again[256];

	if (store_folder_decode(d, name, sizeof(name)) != 0)
		return;
	if (store_folder_name_check(name) != NULL ||
	    store_folder_encode(name, again, sizeof(again)) != 0 ||
	    strcmp(again, d) != 0 || strncmp(d, ".owlpost-", 9) == 0)
		abort();
}

static void
as_role(const char *x)
{
	unsigned bit = store_folder_special_parse(x);
	const char *back;

	if (bit == 0)
		return;
	if ((bit & (bit - 1)) != 0 || (bit & ~STORE_SU_MASK) != 0 ||
	    (back = store_folder_special_name(bit)) == NULL ||
	    strcasecmp(back, x) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *x;

	if (size > 4096)
		return 0;
	x = malloc(size + 1);
	if (x == NULL)
		return 0;
	memcpy(x, data, size);
	x[size] = '\0';
	as_name(x);
	as_disk(x);
	as_role(x);
	free(x);
	return 0;
}
