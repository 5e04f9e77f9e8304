/*
 * Unit tests of owld's imap_store (the IMAP core's mailbox table over
 * store/) on temp dirs: the first list makes the special-use folders,
 * folder results map onto imap_mres, STATUS counts, SELECT with its
 * keywords, sync's positions after another session's changes, STORE,
 * EXPUNGE and COPY through the table, message text read twice (rewind),
 * APPEND spooled with CRLF made LF (a CR at a piece's end too, a bare CR
 * kept), its bounds (APPENDLIMIT, more or fewer octets than announced),
 * and a read-only (EXAMINE) view refusing changes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "owld/imap_store.h"
#include "store/store.h"

#define USER "alice@example.org"
#define MSG "Subject: hi\n\nhello\nworld\n"

#define TMPROOT_NAME "imapstore"
#include "tmproot.h"

static const struct imap_mbox_ops *const O = &imap_store_ops;
static char err[300];

static void
deliver(struct store *s, int n)
{
	const char *users[] = {USER};

	for (int i = 0; i < n; i++) {
		struct store_delivery d = {.sender = "", .users = users,
					   .nusers = 1, .data = MSG,
					   .fd = -1, .len = sizeof(MSG) - 1,
					   .when = 1700000000 + i};
		struct store_delivery *batch[] = {&d};

		store_deliver(s, batch, 1);
		assert_int_equal(d.res, STORE_OK);
	}
}

static struct imap_store *
new_ms(struct store *s, uint64_t append_max)
{
	return imap_store_new(s, USER, 100, root, append_max);
}

static struct imap_folder *
find(struct imap_folder *list, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i].name, name) == 0)
			return &list[i];
	return NULL;
}

static void
test_list_and_folders(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct imap_store *ms = new_ms(s, 1000);
	struct imap_folder *list, *f;
	size_t n;

	(void)st;
	assert_int_equal(O->list(ms, &list, &n, err, sizeof(err)), IMAP_M_OK);
	assert_string_equal(list[0].name, "INBOX");
	assert_non_null(f = find(list, n, "Sent"));
	assert_int_equal(f->special_use, IMAP_SU_SENT);
	assert_non_null(f = find(list, n, "Trash"));
	assert_int_equal(f->special_use, IMAP_SU_TRASH);
	O->list_free(ms, list, n);
	assert_int_equal(O->create(ms, "Work/2026", 0, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(O->create(ms, "Work/2026", 0, err, sizeof(err)),
			 IMAP_M_EXISTS);
	assert_int_equal(O->rename(ms, "Nope", "X", err, sizeof(err)),
			 IMAP_M_NOTFOUND);
	assert_int_equal(O->subscribe(ms, "Work/2026", true, err,
				      sizeof(err)), IMAP_M_OK);
	assert_int_equal(O->list(ms, &list, &n, err, sizeof(err)), IMAP_M_OK);
	assert_non_null(f = find(list, n, "Work"));
	assert_false(f->exists);
	assert_true(f->children);
	assert_non_null(f = find(list, n, "Work/2026"));
	assert_true(f->exists && f->subscribed);
	O->list_free(ms, list, n);
	assert_int_equal(O->delete(ms, "Work/2026", err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(O->delete(ms, "Work/2026", err, sizeof(err)),
			 IMAP_M_NOTFOUND);
	assert_int_equal(O->create(ms, "a/../b", 0, err, sizeof(err)),
			 IMAP_M_PERM);
	imap_store_free(&ms);
	store_free(&s);
}

static void
test_status_select_sync(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct imap_store *ms = new_ms(s, 1000), *other = new_ms(s, 1000);
	struct imap_status stt;
	struct imap_view_info vi;
	struct imap_changes ch;
	struct imap_msg m;
	struct imap_store_req add = {.op = IMAP_STORE_ADD,
				     .flags = IMAP_F_SEEN,
				     .keywords = "$Work"};
	uint32_t pos[] = {1}, p;

	(void)st;
	deliver(s, 3);
	assert_int_equal(O->status(ms, "INBOX", &stt, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(stt.messages, 3);
	assert_int_equal(stt.unseen, 3);
	assert_int_equal(stt.size, 3 * (sizeof(MSG) - 1 + 4));
	assert_int_equal(stt.uidnext, 4);
	/* RECENT: none claimed yet (RFC 3501 6.3.10), and STATUS claims
	 * nothing either */
	assert_int_equal(stt.recent, 3);
	assert_int_equal(O->status(other, "INBOX", &stt, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(stt.recent, 3);
	assert_int_equal(O->status(ms, "Nope", &stt, err, sizeof(err)),
			 IMAP_M_NOTFOUND);

	assert_int_equal(O->select(ms, "inbox", false, &vi, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(vi.count, 3);
	assert_int_equal(vi.uidnext, 4);
	/* SELECT claims \Recent: all three are new to every session */
	assert_int_equal(vi.recent_lo, 1);
	assert_int_equal(vi.recent_hi, 4);
	assert_null(vi.keywords);
	assert_int_equal(O->status(other, "INBOX", &stt, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(stt.recent, 0);	/* claimed now */
	assert_non_null(imap_store_dir(ms));
	assert_true(O->find_uid(ms, 2, &p));
	assert_int_equal(p, 1);
	assert_false(O->find_uid(ms, 9, &p));

	/* another session flags message 2 and expunges message 1 */
	assert_int_equal(O->select(other, "INBOX", false, &vi, err,
				   sizeof(err)), IMAP_M_OK);
	assert_int_equal(O->store(other, pos, 1, &add, NULL, err, sizeof(err)),
			 IMAP_M_OK);
	pos[0] = 0;
	assert_int_equal(O->expunge(other, pos, 1, err, sizeof(err)),
			 IMAP_M_OK);
	/* kept while a command may not say EXPUNGE */
	assert_int_equal(O->sync(ms, true, &ch, err, sizeof(err)), IMAP_M_OK);
	assert_int_equal(ch.nexpunged, 0);
	assert_int_equal(ch.count, 3);
	O->msg(ms, 0, &m);
	assert_true(m.expunged);
	/* then reported, positions before the removal */
	assert_int_equal(O->sync(ms, false, &ch, err, sizeof(err)), IMAP_M_OK);
	assert_int_equal(ch.nexpunged, 1);
	assert_int_equal(ch.expunged[0], 0);
	assert_int_equal(ch.count, 2);
	O->msg(ms, 0, &m);
	assert_int_equal(m.uid, 2);
	assert_true(m.flags & IMAP_F_SEEN);
	assert_string_equal(m.keywords, "$Work");
	assert_int_equal(m.size, sizeof(MSG) - 1 + 4);
	assert_true(m.date > 0);

	/* STATUS of the selected folder: the session's view */
	assert_int_equal(O->status(ms, "INBOX", &stt, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(stt.messages, 2);
	assert_int_equal(stt.unseen, 1);
	/* a new SELECT lists the keywords in use */
	assert_int_equal(O->select(ms, "INBOX", true, &vi, err, sizeof(err)),
			 IMAP_M_OK);
	assert_string_equal(vi.keywords, "$Work");
	imap_store_free(&other);
	imap_store_free(&ms);
	store_free(&s);
}

static void
test_readonly_refuses_changes(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct imap_store *ms = new_ms(s, 1000);
	struct imap_view_info vi;
	struct imap_store_req add = {.op = IMAP_STORE_ADD,
				     .flags = IMAP_F_DELETED};
	uint32_t pos[] = {0}, uids[1], uv;

	(void)st;
	deliver(s, 1);
	assert_int_equal(O->store(ms, pos, 1, &add, NULL, err, sizeof(err)),
			 IMAP_M_PERM); /* nothing selected */
	assert_int_equal(O->select(ms, "INBOX", true, &vi, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(O->store(ms, pos, 1, &add, NULL, err, sizeof(err)),
			 IMAP_M_PERM);
	assert_int_equal(O->expunge(ms, pos, 1, err, sizeof(err)),
			 IMAP_M_PERM);
	assert_int_equal(O->copy(ms, pos, 1, "Trash", true, uids, &uv, err,
				 sizeof(err)), IMAP_M_PERM);
	/* COPY only reads the view */
	assert_int_equal(O->create(ms, "Keep", 0, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(O->copy(ms, pos, 1, "Keep", false, uids, &uv, err,
				 sizeof(err)), IMAP_M_OK);
	assert_int_equal(uids[0], 1);
	assert_int_equal(O->copy(ms, pos, 1, "Nope", false, uids, &uv, err,
				 sizeof(err)), IMAP_M_NOTFOUND);
	O->unselect(ms);
	assert_null(imap_store_dir(ms));
	imap_store_free(&ms);
	store_free(&s);
}

/* The whole text of the message at pos, read in pieces of 5. */
static void
read_all(struct imap_store *ms, void *rd, char *out, size_t size)
{
	size_t len = 0;
	long n;

	(void)ms;
	while ((n = O->read(rd, out + len, 5)) > 0) {
		len += (size_t)n;
		assert_true(len + 5 < size);
	}
	assert_int_equal(n, 0);
	out[len] = '\0';
}

static void
test_text_read_and_rewind(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct imap_store *ms = new_ms(s, 1000);
	struct imap_view_info vi;
	char text[200];
	void *rd;

	(void)st;
	deliver(s, 1);
	assert_int_equal(O->select(ms, "INBOX", false, &vi, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(O->open(ms, 0, &rd, err, sizeof(err)), IMAP_M_OK);
	read_all(ms, rd, text, sizeof(text));
	assert_non_null(strstr(text, MSG));
	assert_int_equal(O->rewind(rd), 0);
	read_all(ms, rd, text, sizeof(text));
	assert_non_null(strstr(text, MSG));
	O->close(rd);
	imap_store_free(&ms);
	store_free(&s);
}

/* APPENDs text (CRLF, as sent) in pieces of piece octets. */
static enum imap_mres
append(struct imap_store *ms, const char *folder, const char *text,
       size_t piece, struct imap_append_req *req)
{
	size_t len = strlen(text);
	enum imap_mres r = O->append_begin(ms, len, err, sizeof(err));

	for (size_t i = 0; r == IMAP_M_OK && i < len; i += piece)
		r = O->append_data(ms, text + i,
				   len - i < piece ? len - i : piece, err,
				   sizeof(err));
	if (r != IMAP_M_OK) {
		O->append_abort(ms);
		return r;
	}
	*req = (struct imap_append_req){.folder = folder,
					.flags = IMAP_F_SEEN,
					.date = 1600000000};
	return O->append_end(ms, req, 1, err, sizeof(err));
}

static void
test_append_crlf_to_lf(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct imap_store *ms = new_ms(s, 1000);
	struct imap_append_req req;
	struct imap_view_info vi;
	struct imap_msg m;
	const char *sent = "Subject: a\r\n\r\nbare\rCR\r\nend\r\n";
	const char *kept = "Subject: a\n\nbare\rCR\nend\n";
	char text[200];
	void *rd;

	(void)st;
	/* pieces of 1 and 2 octets: a CR ends a piece, its LF starts one */
	for (size_t piece = 1; piece <= 3; piece++) {
		assert_int_equal(append(ms, "INBOX", sent, piece, &req),
				 IMAP_M_OK);
		assert_int_equal(req.uid, piece);
		assert_true(req.uidvalidity != 0);
	}
	assert_int_equal(O->select(ms, "INBOX", false, &vi, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(vi.count, 3);
	for (uint32_t i = 0; i < 3; i++) {
		O->msg(ms, i, &m);
		assert_int_equal(m.size, strlen(sent));
		assert_int_equal(m.date, 1600000000);
		assert_true(m.flags & IMAP_F_SEEN);
		assert_int_equal(O->open(ms, i, &rd, err, sizeof(err)),
				 IMAP_M_OK);
		read_all(ms, rd, text, sizeof(text));
		assert_string_equal(text, kept);
		O->close(rd);
	}
	/* a CR as the very last octet stays */
	assert_int_equal(append(ms, "INBOX", "S: b\r\n\r\nx\r", 4, &req),
			 IMAP_M_OK);
	assert_int_equal(append(ms, "Nope", "S: b\r\n\r\nx\r\n", 4, &req),
			 IMAP_M_NOTFOUND);
	imap_store_free(&ms);
	store_free(&s);
}

/* MULTIAPPEND: three messages spooled, saved together in order; a
 * count that does not match, or a cut message, saves none. */
static void
test_append_several(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct imap_store *ms = new_ms(s, 100);
	struct imap_append_req req[3];
	struct imap_status stt;
	const char *texts[] = {"S: 1\r\n\r\na\r", "S: 2\r\n\r\nb\r\n", ""};

	(void)st;
	for (int round = 0; round < 3; round++) {
		for (int k = 0; k < 3; k++) {
			size_t len = strlen(texts[k]);

			assert_int_equal(O->append_begin(ms, len, err,
							 sizeof(err)),
					 IMAP_M_OK);
			if (len > 0)
				assert_int_equal(O->append_data(ms, texts[k],
								len, err,
								sizeof(err)),
						 IMAP_M_OK);
		}
		for (int k = 0; k < 3; k++)
			req[k] = (struct imap_append_req){.folder = "INBOX",
				.flags = k == 1 ? IMAP_F_SEEN : 0};
		if (round == 0) {	/* 2 of 3: none saved */
			assert_int_equal(O->append_end(ms, req, 2, err,
						       sizeof(err)),
					 IMAP_M_PERM);
			continue;
		}
		if (round == 1) {	/* dropped */
			O->append_abort(ms);
			continue;
		}
		assert_int_equal(O->append_end(ms, req, 3, err, sizeof(err)),
				 IMAP_M_OK);
	}
	assert_int_equal(req[0].uid, 1);
	assert_int_equal(req[1].uid, 2);
	assert_int_equal(req[2].uid, 3);
	assert_int_equal(req[2].uidvalidity, req[0].uidvalidity);
	assert_int_equal(O->status(ms, "INBOX", &stt, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(stt.messages, 3);
	imap_store_free(&ms);
	store_free(&s);
}

static void
test_append_bounds(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct imap_store *ms = new_ms(s, 10);
	struct imap_append_req req = {.folder = "INBOX"};

	(void)st;
	assert_int_equal(O->append_begin(ms, 11, err, sizeof(err)),
			 IMAP_M_LIMIT);
	assert_int_equal(O->append_begin(ms, 4, err, sizeof(err)), IMAP_M_OK);
	assert_int_equal(O->append_data(ms, "abcde", 5, err, sizeof(err)),
			 IMAP_M_PERM);
	assert_int_equal(O->append_data(ms, "ab", 2, err, sizeof(err)),
			 IMAP_M_OK);
	assert_int_equal(O->append_end(ms, &req, 1, err, sizeof(err)),
			 IMAP_M_PERM); /* 2 of 4 */
	assert_int_equal(O->append_data(ms, "ab", 2, err, sizeof(err)),
			 IMAP_M_PERM); /* no APPEND any more */
	assert_int_equal(O->append_begin(ms, 4, err, sizeof(err)), IMAP_M_OK);
	O->append_abort(ms);
	imap_store_free(&ms);
	store_free(&s);
}

static void
test_mbox_refused(void **st)
{
	struct store *s = open_store(MBOX_FMT_MBOX);
	struct imap_store *ms = new_ms(s, 10);
	struct imap_view_info vi;

	(void)st;
	assert_int_equal(O->select(ms, "INBOX", false, &vi, err, sizeof(err)),
			 IMAP_M_PERM);
	assert_non_null(strstr(err, "maildir"));
	imap_store_free(&ms);
	store_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list_and_folders, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_status_select_sync, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_readonly_refuses_changes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_text_read_and_rewind,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_crlf_to_lf, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_several, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_append_bounds, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_mbox_refused, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
