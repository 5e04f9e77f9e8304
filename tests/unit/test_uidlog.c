/*
 * Unit tests of the UID index's log (docs/MAILDIR.md "The index log"):
 * its parser and replay on memory buffers (committed transactions only,
 * a torn tail ignored, corruption before a commit refused, a replay
 * idempotent and blind to records the index dropped), and through the
 * store on temp dirs: APPEND numbered from the index without listing
 * cur/, the crash between an index rewrite and the log's removal, a torn
 * or corrupt log, a view that syncs its own appends from the log and
 * still notices another program's change (also one in the same clock
 * tick, once cur/ is quiet), and a second open built from the index that
 * shows what a scan shows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "store/store.h"
#include "store/store_private.h"
#include "store/uidlist.h"

#define USER "alice@example.org"
#define MSG "Subject: hi\n\nhello\nworld\n"

#define TMPROOT_NAME "uidlog"
#include "tmproot.h"

/* --- in memory ----------------------------------------------------------- */

static void
parse_main(struct uidlist *ul, const char *text)
{
	char err[128];

	assert_int_equal(uidlist_parse(ul, text, strlen(text), err,
				       sizeof(err)), 0);
}

/* Parses body (the log after its header) and applies it to ul. */
static int
apply(struct uidlist *ul, const char *body)
{
	size_t len = strlen(body);
	char *buf = uidlist_buf_new(len), err[128];
	struct uidlog lg;

	memcpy(buf, body, len);
	if (uidlog_parse(buf, len, &lg, err, sizeof(err)) == -1) {
		uidlist_buf_free(buf);
		return -1;
	}
	uidlist_apply_log(ul, &lg, buf);
	uidlog_free(&lg);
	return 0;
}

static const char log_body[] =
	"3 6 - :c\n"
	"4 7 S +k :d\n"
	"C 1700000000.5.9 1700000001.6.9 N5 M7 R3\n"
	"C - - N5 M7 R5\n"
	"5 8 - :e\n"			/* never committed */
	"6 9 - :torn";			/* cut */

static void
test_log_parse_apply(void **st)
{
	struct uidlist ul, again;
	struct uidlog_hdr h;
	struct uidlog lg;
	char buf[sizeof(log_body)], err[128];
	bool bad;

	(void)st;
	assert_int_equal(uidlog_parse_header("owlpost-uidlog 1 V7 I42\n", 24,
					     &h, &bad), 0);
	assert_int_equal(h.uidvalidity, 7);
	assert_int_equal(h.nonce, 42);
	assert_int_equal(h.len, 24);
	/* cut before its LF: a creation that never committed */
	assert_int_equal(uidlog_parse_header("owlpost-uidlog 1 V7", 19, &h,
					     &bad), -1);
	assert_false(bad);
	assert_int_equal(uidlog_parse_header("something else\n", 15, &h,
					     &bad), -1);
	assert_true(bad);
	/* zeros where an unsynced creation was: torn, not another file */
	assert_int_equal(uidlog_parse_header("\0\0\0\0", 4, &h, &bad), -1);
	assert_false(bad);

	memcpy(buf, log_body, sizeof(log_body));
	assert_int_equal(uidlog_parse(buf, sizeof(log_body) - 1, &lg, err,
				      sizeof(err)), 0);
	assert_int_equal(lg.ncommits, 2);
	assert_int_equal(lg.nrecs, 2);	/* e was never committed */
	assert_true(lg.commits[0].touched);
	assert_int_equal(lg.commits[0].before.sec, 1700000000);
	assert_int_equal(lg.commits[0].after.nsec, 6);
	assert_false(lg.commits[1].touched);
	assert_int_equal(lg.committed, strstr(log_body, "5 8") - log_body);
	uidlog_free(&lg);

	parse_main(&ul, "owlpost-uidlist 1 V7 N3 M5 R3\n1 2 - :a\n2 5 S :b\n");
	assert_int_equal(apply(&ul, log_body), 0);
	assert_int_equal(ul.n, 4);
	assert_int_equal(ul.uidnext, 5);
	assert_int_equal(ul.highestmodseq, 7);
	assert_int_equal(ul.recent, 5);
	assert_string_equal(ul.recs[3].base, "d");
	assert_string_equal(ul.recs[3].keywords, "k");
	assert_int_equal(ul.recs[3].flags, UF_SEEN);
	/* idempotent: a second replay (a log the fold did not remove) */
	assert_int_equal(apply(&ul, log_body), 0);
	assert_int_equal(ul.n, 4);
	uidlist_free(&ul);

	/* folded, then 3 expunged: its record in the log stays dropped */
	parse_main(&again, "owlpost-uidlist 1 V7 N5 M9 R5\n1 2 - :a\n"
			   "2 5 S :b\n4 7 S +k :d\n");
	assert_int_equal(apply(&again, log_body), 0);
	assert_int_equal(again.n, 3);
	assert_int_equal(again.recs[2].uid, 4);
	assert_int_equal(again.uidnext, 5);
	assert_int_equal(again.highestmodseq, 9);
	uidlist_free(&again);

	/* a bad line followed by a commit is corruption, not a torn tail */
	parse_main(&ul, "owlpost-uidlist 1 V7 N3 M5 R3\n");
	assert_int_equal(apply(&ul, "3 6 - :c\nxx\nC - - N4 M6 R3\n"), -1);
	/* a record below its commit's predecessor's UIDNEXT: corrupt */
	assert_int_equal(apply(&ul, "C - - N4 M6 R3\n3 7 - :c\n"
				    "C - - N4 M7 R3\n"), -1);
	/* a record past its commit's state (UID, modseq): corrupt */
	assert_int_equal(apply(&ul, "3 6 - :c\nC - - N3 M6 R3\n"), -1);
	assert_int_equal(apply(&ul, "3 9 - :c\nC - - N4 M6 R3\n"), -1);
	/* a line past the bound before a commit: corrupt too */
	{
		char *longline = calloc(1, UIDLIST_LINE_MAX + 64);

		memset(longline, 'x', UIDLIST_LINE_MAX + 1);
		strcat(longline, "\nC - - N4 M6 R3\n");
		assert_int_equal(apply(&ul, longline), -1);
		free(longline);
	}
	/* garbage after the last commit: a torn tail, ignored */
	assert_int_equal(apply(&ul, "3 6 - :c\nC - - N4 M6 R3\n\1\2\n"), 0);
	assert_int_equal(ul.n, 1);
	uidlist_free(&ul);
}

/* The index's C stamp and the log's lines round-trip. */
static void
test_log_format(void **st)
{
	static const char text[] =
		"owlpost-uidlist 1 V7 N3 M5 R3 C1700000000.123456789.42\n"
		"1 2 - :a\n";
	struct uidlog_commit k = {.touched = true,
				  .before = {1700000000, 1, 2},
				  .after = {1700000001, 999999999, 2},
				  .uidnext = 9, .highestmodseq = 12,
				  .recent = 4};
	struct uidlog_hdr h = {.uidvalidity = 7, .nonce = 99};
	struct buf *out = buf_new(4096);
	struct uidlist ul;
	char err[64];

	(void)st;
	parse_main(&ul, text);
	assert_int_equal(ul.cur.sec, 1700000000);
	assert_int_equal(ul.cur.nsec, 123456789);
	assert_int_equal(ul.cur.ino, 42);
	assert_int_equal(uidlist_format(&ul, out), 0);
	assert_string_equal(out->data, text);
	uidlist_free(&ul);
	/* C 0, or a nanosecond out of range: corrupt */
	assert_int_equal(uidlist_parse(&ul, "owlpost-uidlist 1 V7 N3 M5 R3 "
				       "C0.0.1\n", 36, err, sizeof(err)), -1);
	assert_int_equal(uidlist_parse(&ul, "owlpost-uidlist 1 V7 N3 M5 R3 "
				       "C5.1000000000.1\n", 45, err,
				       sizeof(err)), -1);
	buf_reset(out);
	assert_int_equal(uidlog_format_header(&h, out), 0);
	assert_int_equal(uidlog_format_commit(&k, out), 0);
	assert_string_equal(out->data, "owlpost-uidlog 1 V7 I99\n"
			    "C 1700000000.1.2 1700000001.999999999.2 N9 M12 "
			    "R4\n");
	buf_free(&out);
}

/* --- on files ------------------------------------------------------------ */

static void
inbox(char *out, size_t size, const char *sub)
{
	snprintf(out, size, "%s/mail/example.org/alice%s%s", root,
		 sub[0] ? "/" : "", sub);
}

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

static struct store_view *
open_imap(struct store *s)
{
	struct store_view *v;
	char err[300];

	assert_int_equal(store_view_open_imap(s, USER, "INBOX", true, &v,
					      err, sizeof(err)), STORE_OK);
	return v;
}

static size_t
count(struct store_view *v)
{
	struct store_view_info info;

	store_view_info(v, &info);
	return info.count;
}

static struct store_vmsg
msg(struct store_view *v, size_t i)
{
	struct store_vmsg m;

	store_view_msg(v, i, &m);
	return m;
}

static void
sync_ok(struct store_view *v, struct store_view_changes *ch)
{
	char err[300];

	assert_int_equal(store_view_sync(v, 0, ch, err, sizeof(err)),
			 STORE_OK);
}

static uint32_t
append(struct store *s, time_t date, const char *kw)
{
	struct store_append_req ap = {.data = MSG, .fd = -1,
				      .len = sizeof(MSG) - 1, .date = date,
				      .keywords = kw};
	char err[300];

	assert_int_equal(store_append(s, USER, "INBOX", &ap, err,
				      sizeof(err)), STORE_OK);
	return ap.uid;
}

/* Sets path's mtime to sec.nsec (0 nsec: now - 10 s, long settled). */
static void
set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2] = {{0, UTIME_OMIT}, {sec, nsec}};

	if (sec == 0)
		ts[1].tv_sec = time(NULL) - 10;
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* The path in cur/ or new/ of message i of v (found by its UIDL), into
 * out. */
static void
file_of(struct store_view *v, size_t i, char *out, size_t size)
{
	const char *uidl = msg(v, i).uidl;
	char dir[400];
	struct dirent *de;
	DIR *dp;

	out[0] = '\0';
	for (int k = 0; k < 2; k++) {
		inbox(dir, sizeof(dir), k ? "new" : "cur");
		assert_non_null(dp = opendir(dir));
		while ((de = readdir(dp)) != NULL)
			if (strncmp(de->d_name, uidl, strlen(uidl)) == 0)
				assert_true(bsnprintf(out, size, "%s/%s", dir,
						      de->d_name) != -1);
		closedir(dp);
	}
	assert_true(out[0] != '\0');
}

/*
 * The name another program gives file (a path of file_of) when it sets
 * the flag letter on it: in cur/ one more letter; from new/ into cur/
 * with ":2," and the letter, as a Maildir MUA does.
 */
static void
flagged_name(const char *file, char letter, char *out, size_t size)
{
	const char *at = strstr(file, "/new/");

	if (at == NULL)
		snprintf(out, size, "%s%c", file, letter);
	else
		snprintf(out, size, "%.*s/cur/%s:2,%c", (int)(at - file), file,
			 at + 5, letter);
}

/* new/'s mtime set 10 s back, as if the last delivery was long ago. */
static void
settle_new(void)
{
	char dir[400];

	inbox(dir, sizeof(dir), "new");
	set_mtime(dir, 0, 0);
}

/* How many files DIR/sub of alice's INBOX holds. */
static size_t
files_in(const char *sub)
{
	char dir[400];
	struct dirent *de;
	size_t n = 0;
	DIR *dp;

	inbox(dir, sizeof(dir), sub);
	assert_non_null(dp = opendir(dir));
	while ((de = readdir(dp)) != NULL)
		n += de->d_name[0] != '.';
	closedir(dp);
	return n;
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = calloc(1, 1 << 20);

	assert_non_null(f);
	*len = fread(data, 1, (1 << 20) - 1, f);
	fclose(f);
	return data;
}

static void
spill(const char *path, const char *data, size_t len, const char *mode)
{
	FILE *f = fopen(path, mode);

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
}

/*
 * APPEND takes its UID from the index (the log's UIDNEXT) without a
 * listing of cur/: a file another program put there meanwhile, older by
 * its name, is numbered after it, by the next scan.
 */
static void
test_append_without_listing(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *v = open_imap(s);
	char path[600], logp[400];
	unsigned long listings;
	struct stat sb;

	(void)st;
	store_view_close(&v);
	inbox(path, sizeof(path), "cur/1600000000.M1P1Q1.other,S=5,W=6:2,");
	spill(path, "x\ny\n\n", 5, "w");
	listings = maildir_listings;
	assert_int_equal(append(s, 1700000000, "Work"), 1);
	assert_int_equal(append(s, 1700000001, NULL), 2);
	assert_int_equal(maildir_listings, listings);
	inbox(logp, sizeof(logp), ".owlpost-uidlist.log");
	assert_int_equal(stat(logp, &sb), 0);
	v = open_imap(s); /* a scan: numbers the other file, folds the log */
	assert_int_equal(count(v), 3);
	assert_int_equal(msg(v, 0).date, 1700000000);
	assert_string_equal(msg(v, 0).keywords, "Work");
	assert_int_equal(msg(v, 2).uid, 3);
	assert_int_equal(msg(v, 2).date, 1600000000);
	assert_int_equal(stat(logp, &sb), -1);
	store_view_close(&v);
	store_free(&s);
}

/*
 * A crash after the index was rewritten with the log folded in, before
 * the log was removed: the replay adds nothing twice, brings back no
 * expunged message, and UIDNEXT does not go back.  A torn last line is
 * ignored and cut by the next append; a log corrupt before its last
 * commit renumbers the folder (new UIDVALIDITY) and keeps every message.
 */
static void
test_log_crash_states(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *v = open_imap(s);
	struct store_view_info info;
	char logp[400], *saved, *now;
	size_t len, nlen;
	bool dele[3] = {true, false, false};
	uint32_t uv;
	char err[300];

	(void)st;
	inbox(logp, sizeof(logp), ".owlpost-uidlist.log");
	store_view_close(&v);
	assert_int_equal(append(s, 1700000000, NULL), 1);
	assert_int_equal(append(s, 1700000001, NULL), 2);
	saved = slurp(logp, &len);
	v = open_imap(s);		/* folds and removes the log */
	assert_int_equal(access(logp, F_OK), -1);
	spill(logp, saved, len, "w");	/* ... but the crash kept it */
	store_view_close(&v);
	v = open_imap(s);
	assert_int_equal(count(v), 2);
	store_view_info(v, &info);
	assert_int_equal(info.uidnext, 3);
	uv = info.uidvalidity;
	assert_int_equal(append(s, 1700000002, NULL), 3);
	sync_ok(v, NULL);
	/* expunge 1 (the scan folds), then the stale log comes back */
	assert_int_equal(store_view_expunge(v, dele, err, sizeof(err)),
			 STORE_OK);
	spill(logp, saved, len, "w");
	store_view_close(&v);
	v = open_imap(s);
	assert_int_equal(count(v), 2);
	assert_int_equal(msg(v, 0).uid, 2);
	assert_int_equal(msg(v, 1).uid, 3);
	store_view_close(&v);
	/* a torn line after the last commit */
	assert_int_equal(append(s, 1700000003, NULL), 4);
	spill(logp, "9 99 - :torn", 12, "a");
	v = open_imap(s);
	assert_int_equal(count(v), 3);
	store_view_close(&v);
	assert_int_equal(append(s, 1700000004, NULL), 5);
	spill(logp, "9 99 - :torn", 12, "a");
	assert_int_equal(append(s, 1700000005, NULL), 6);
	now = slurp(logp, &nlen);
	assert_null(strstr(now, "torn"));
	assert_int_equal(now[nlen - 1], '\n');
	free(now);
	v = open_imap(s);
	assert_int_equal(count(v), 5);
	store_view_info(v, &info);
	assert_int_equal(info.uidvalidity, uv);
	store_view_close(&v);
	/* corrupt before a commit: the numbering it held is lost */
	assert_int_equal(append(s, 1700000006, NULL), 7);
	spill(logp, "garbage\nC - - N9 M99 R8\n", 24, "a");
	v = open_imap(s);
	assert_int_equal(count(v), 6);
	store_view_info(v, &info);
	assert_true(info.uidvalidity != uv);
	store_view_close(&v);
	free(saved);
	store_free(&s);
}

/*
 * A view syncs its session's appends from the log, without a listing;
 * a change by another program between two of owld's is seen at once
 * (cur/ is not where the log's chain says), and one in the same clock
 * tick as owld's own (the test sets cur/'s mtime back to the one the
 * append left) once cur/ has been quiet for 2 s.
 */
static void
test_foreign_change_noticed(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *v;
	struct store_view_changes ch;
	char cur[400], file[600], to[700];
	unsigned long listings;
	struct stat sb;

	(void)st;
	deliver(s, 2);
	v = open_imap(s);
	inbox(cur, sizeof(cur), "cur");
	set_mtime(cur, 0, 0);
	settle_new();
	sync_ok(v, NULL);	/* cur/ settled: listed once more, trusted */
	listings = maildir_listings;
	assert_int_equal(append(s, 1700000010, NULL), 3);
	sync_ok(v, &ch);
	assert_int_equal(ch.nnew, 1);
	assert_int_equal(count(v), 3);
	assert_int_equal(msg(v, 2).uid, 3);
	assert_int_equal(msg(v, 2).date, 1700000010);
	store_view_changes_free(&ch);
	assert_int_equal(maildir_listings, listings);

	/* another program sets \Seen on message 1, then owld appends */
	file_of(v, 0, file, sizeof(file));
	flagged_name(file, 'S', to, sizeof(to));
	assert_int_equal(rename(file, to), 0);
	assert_int_equal(append(s, 1700000011, NULL), 4);
	sync_ok(v, &ch);
	assert_int_equal(ch.nnew, 1);
	assert_int_equal(ch.nchanged, 1);
	assert_true(msg(v, 0).flags & STORE_F_SEEN);
	store_view_changes_free(&ch);

	/* owld appends; another program removes message 2 (still in new/,
	 * as delivered) in the same tick: new/'s mtime is what it was */
	set_mtime(cur, 0, 0);
	settle_new();
	sync_ok(v, NULL);
	assert_int_equal(append(s, 1700000012, NULL), 5);
	file_of(v, 1, file, sizeof(file));
	snprintf(to, sizeof(to), "%.*s", (int)(strrchr(file, '/') - file),
		 file);
	assert_int_equal(stat(to, &sb), 0);
	assert_int_equal(unlink(file), 0);
	set_mtime(to, sb.st_mtim.tv_sec, sb.st_mtim.tv_nsec);
	listings = maildir_listings;
	sync_ok(v, &ch);	/* the log's chain holds: not seen yet */
	assert_int_equal(maildir_listings, listings);
	assert_int_equal(ch.nnew, 1);
	store_view_changes_free(&ch);
	sleep(MAILDIR_SETTLED_SECS + 1);
	sync_ok(v, &ch);	/* quiet for long enough: listed */
	assert_int_equal(ch.nexpunged, 1);
	assert_int_equal(ch.expunged[0], 1);
	assert_int_equal(count(v), 4);
	store_view_changes_free(&ch);
	store_view_close(&v);
	store_free(&s);
}

static void
assert_same_views(struct store_view *a, struct store_view *b)
{
	struct store_view_info ia, ib;

	store_view_info(a, &ia);
	store_view_info(b, &ib);
	assert_int_equal(ia.count, ib.count);
	assert_int_equal(ia.uidvalidity, ib.uidvalidity);
	assert_int_equal(ia.uidnext, ib.uidnext);
	assert_int_equal(ia.highestmodseq, ib.highestmodseq);
	for (size_t i = 0; i < ia.count; i++) {
		struct store_vmsg x = msg(a, i), y = msg(b, i);

		assert_int_equal(x.uid, y.uid);
		assert_int_equal(x.modseq, y.modseq);
		assert_int_equal(x.flags, y.flags);
		assert_int_equal(x.size, y.size);
		assert_int_equal(x.octets, y.octets);
		assert_int_equal(x.date, y.date);
		assert_string_equal(x.uidl, y.uidl);
		assert_string_equal(x.keywords ? x.keywords : "",
				    y.keywords ? y.keywords : "");
	}
}

/*
 * An open whose index says cur/ is as its last (settled) listing saw it
 * is built from the index without a listing, and shows what a scan
 * shows; a change of cur/ since makes it list again.
 */
static void
test_second_open_from_index(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *a, *b, *c;
	struct store_flags_req seen = {.op = STORE_FLAGS_ADD,
				       .flags = STORE_F_SEEN | STORE_F_FLAGGED,
				       .keywords = "$Label1"};
	size_t pos = 1;
	char cur[400], file[600], to[700], err[300];
	unsigned long listings;

	(void)st;
	deliver(s, 3);
	a = open_imap(s);
	assert_int_equal(store_view_store(a, &pos, 1, &seen, NULL, err,
					  sizeof(err)), STORE_OK);
	assert_int_equal(append(s, 1700000020, "Work Home"), 4);
	store_view_close(&a);
	inbox(cur, sizeof(cur), "cur");
	set_mtime(cur, 0, 0);
	settle_new();
	listings = maildir_listings;
	a = open_imap(s);		/* listed: records cur/ in the index */
	assert_int_equal(maildir_listings, listings + 1);
	b = open_imap(s);		/* from the index */
	assert_int_equal(maildir_listings, listings + 1);
	assert_int_equal(count(b), 4);
	assert_same_views(a, b);
	store_view_close(&b);
	/* a rename by another program: listed again */
	file_of(a, 0, file, sizeof(file));
	flagged_name(file, 'T', to, sizeof(to));
	assert_int_equal(rename(file, to), 0);
	c = open_imap(s);
	assert_int_equal(maildir_listings, listings + 2);
	assert_true(msg(c, 0).flags & STORE_F_DELETED);
	store_view_close(&c);
	store_view_close(&a);
	store_free(&s);
}

/*
 * When a directory's mtime is settled (no later change can carry it):
 * on a local filesystem one kernel clock, so a tick of at most 10 ms
 * (50 ms asked); elsewhere the clocks of several hosts, 2 s.
 */
static void
test_settled_rule(void **st)
{
	struct timespec at = {1700000100, 500000000};

	(void)st;
	assert_false(maildir_settled_at(0, 0, &at, true));
	assert_false(maildir_settled_at(1700000100, 480000000, &at, true));
	assert_true(maildir_settled_at(1700000100, 450000000, &at, true));
	assert_true(maildir_settled_at(1700000099, 999000000, &at, true));
	assert_true(maildir_settled_at(1700000099, 400000000, &at, true));
	assert_true(maildir_settled_at(1700000090, 900000000, &at, true));
	assert_false(maildir_settled_at(1700000100, 0, &at, false));
	assert_false(maildir_settled_at(1700000099, 0, &at, false));
	assert_true(maildir_settled_at(1700000098, 900000000, &at, false));
	/* a clock set back: the mtime is in the future, not settled */
	assert_false(maildir_settled_at(1700000101, 0, &at, true));
}

/*
 * Delivered messages stay in new/: an open renames none and the index
 * says where each is (and new/'s stamp), so the next open, at once, is
 * built from the index; a message is read from new/; a flag change
 * moves just that one into cur/ with its flags; an expunge removes one
 * from new/.
 */
static void
test_new_stays_in_new(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_flags_req seen = {.op = STORE_FLAGS_ADD,
				       .flags = STORE_F_SEEN};
	struct store_view *a, *b;
	struct store_reader rd;
	unsigned long listings;
	char newdir[400], file[600], buf[4096], err[300];
	bool dele[300] = {false};
	size_t pos = 1;
	ssize_t got;

	(void)st;
	deliver(s, 300);
	inbox(newdir, sizeof(newdir), "new");
	set_mtime(newdir, 0, 0);
	listings = maildir_listings;
	a = open_imap(s);
	assert_int_equal(maildir_listings, listings + 1);
	assert_int_equal(count(a), 300);
	assert_int_equal(files_in("new"), 300);
	assert_int_equal(files_in("cur"), 0);
	assert_int_equal(store_view_reader_open(a, 7, &rd), 0);
	got = store_reader_read(&rd, buf, sizeof(buf));
	assert_int_equal(got, (ssize_t)sizeof(MSG) - 1);
	assert_memory_equal(buf, MSG, sizeof(MSG) - 1);
	store_reader_close(&rd);
	store_view_close(&a);
	b = open_imap(s);		/* from the index: no listing */
	if (maildir_fs_local(newdir))
		assert_int_equal(maildir_listings, listings + 1);
	assert_int_equal(count(b), 300);
	assert_int_equal(store_view_reader_open(b, 299, &rd), 0);
	store_reader_close(&rd);

	/* \Seen on message 2: moved into cur/ with its flag */
	assert_int_equal(store_view_store(b, &pos, 1, &seen, NULL, err,
					  sizeof(err)), STORE_OK);
	assert_int_equal(files_in("new"), 299);
	assert_int_equal(files_in("cur"), 1);
	file_of(b, 1, file, sizeof(file));
	assert_non_null(strstr(file, "/cur/"));
	assert_non_null(strstr(file, ":2,S"));
	assert_true(msg(b, 1).flags & STORE_F_SEEN);
	assert_int_equal(store_view_reader_open(b, 1, &rd), 0);
	store_reader_close(&rd);

	/* message 1 (in new/) and 2 (in cur/) expunged */
	dele[0] = dele[1] = true;
	assert_int_equal(store_view_expunge(b, dele, err, sizeof(err)),
			 STORE_OK);
	sync_ok(b, NULL);
	assert_int_equal(count(b), 298);
	assert_int_equal(files_in("new"), 298);
	assert_int_equal(files_in("cur"), 0);
	store_view_close(&b);
	a = open_imap(s);
	assert_int_equal(count(a), 298);
	assert_int_equal(msg(a, 0).uid, 3);
	assert_false(msg(a, 0).flags & STORE_F_SEEN);
	store_view_close(&a);
	store_free(&s);
}

/*
 * A big new/ changed a moment ago (the last of a burst of deliveries):
 * the first open waits out the clock tick (a local filesystem's, 50 ms at
 * most) before it lists, so its listing is settled and the next open, at
 * once, is built from the index instead of listing 2,000 names again.
 */
static void
test_big_new_waited_for(void **st)
{
	struct store *s = open_store(MBOX_FMT_MAILDIR);
	struct store_view *a, *b;
	unsigned long listings;
	char dir[400], path[700];

	(void)st;
	deliver(s, 1);		/* the Maildir and its index */
	inbox(dir, sizeof(dir), "new");
	for (int i = 0; i < 2000; i++) {
		FILE *f;

		snprintf(path, sizeof(path),
			 "%s/1700001000.M%dP1Q%d.burst.example.org,S=%zu,W=%zu",
			 dir, i, i, sizeof(MSG) - 1, sizeof(MSG) - 1 + 4);
		assert_non_null(f = fopen(path, "w"));
		fputs(MSG, f);
		fclose(f);
	}
	listings = maildir_listings;
	a = open_imap(s);	/* new/ changed just now: waited for */
	assert_int_equal(maildir_listings, listings + 1);
	assert_int_equal(count(a), 2001);
	store_view_close(&a);
	b = open_imap(s);
	if (maildir_fs_local(dir))
		assert_int_equal(maildir_listings, listings + 1);
	assert_int_equal(count(b), 2001);
	store_view_close(&b);
	store_free(&s);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_parse_apply),
		cmocka_unit_test(test_log_format),
		cmocka_unit_test_setup_teardown(test_append_without_listing,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_crash_states, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_foreign_change_noticed,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_open_from_index,
						setup, teardown),
		cmocka_unit_test(test_settled_rule),
		cmocka_unit_test_setup_teardown(test_new_stays_in_new,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_new_waited_for,
						setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
