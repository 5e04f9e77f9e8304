/*
 * libFuzzer harness for the milter client core: the input is the
 * milter's side of a whole session.  The first byte picks the piece size
 * the replies are fed in (1..32 octets, or all at once).  The harness
 * plays owld: OPTNEG, then after each reply the next step (CONNECT, HELO,
 * MAIL, RCPT, DATA, a header, EOH, a body piece, EOM), walking the
 * modifications at the end; then ABORT and QUIT.  Checks: no crash, no
 * sanitizer report, no event while no reply is due, nothing after an
 * error, every modification walked within the collected octets, and the
 * header changes applied to a small header block end every field in LF
 * and make no empty line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "proto/milter.h"
#include "proto/milter_edit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct milter_limits LIM = {.max_packet = 4096,
					 .max_mods = 16384};

/* The next step: false when the session has no more. */
static bool
next_step(struct milter *m, int *step, struct buf *out)
{
	static const struct milter_macro mac[] = {{"j", "mx.example"},
						  {"i", "0123"}};
	const char *a[] = {"<a@example.org>", "SIZE=10"};

	while (*step < 9) {
		enum milter_sent s = MILTER_SKIPPED;

		switch ((*step)++) {
		case 0:
			s = milter_send_connect(m, mac, 2, "h.example", '4',
						25, "192.0.2.1", out);
			break;
		case 1:
			s = milter_send_helo(m, NULL, 0, "h.example", out);
			break;
		case 2:
			s = milter_send_mail(m, mac, 1, a, 2, out);
			break;
		case 3:
			s = milter_send_rcpt(m, NULL, 0, a, 1, out);
			break;
		case 4:
			s = milter_send_data(m, NULL, 0, out);
			break;
		case 5:
			s = milter_send_header(m, "Subject", 7, "x", 1, out);
			break;
		case 6:
			s = milter_send_eoh(m, NULL, 0, out);
			break;
		case 7:
			s = milter_send_body(m, "body\r\n", 6, out);
			break;
		case 8:
			s = milter_send_eom(m, mac + 1, 1, out);
			break;
		}
		buf_reset(out);
		if (s == MILTER_SENT_REPLY)
			return true;
	}
	return false;
}

/* The header changes on a small block: the result stays in bounds. */
static void
edit(const struct milter *m)
{
	static const char hdr[] = "Received: x\nSubject: a\n\tb\nTo: c\n";
	struct buf *out = buf_new(LIM.max_mods * 2 + sizeof(hdr));
	unsigned skipped;

	if (milter_edit_headers(m, hdr, sizeof(hdr) - 1, out, &skipped) == 0 &&
	    out->len > 0 && (out->data[out->len - 1] != '\n' ||
	     memmem(out->data, out->len, "\n\n", 2) != NULL))
		abort(); /* a field ends in LF; no empty line is made */
	buf_free(&out);
}

static void
walk_mods(const struct milter *m)
{
	struct milter_mod mod;
	size_t pos = 0, total = 0;

	edit(m);
	while (milter_mod_next(m, &pos, &mod)) {
		if (mod.type == MILTER_MOD_REPLBODY)
			total += mod.len;
		else
			total += strlen(mod.name) +
				 (mod.value ? strlen(mod.value) : 0);
		if (total > LIM.max_mods)
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct milter *m;
	struct buf *out;
	size_t piece, at = 1;
	int step = 0;
	bool due, err = false;

	if (size < 1)
		return 0;
	piece = data[0] % 33;
	m = milter_new(&LIM);
	out = buf_new(1 << 16);
	due = milter_send_optneg(m, out) == MILTER_SENT_REPLY;
	buf_reset(out);
	while (at < size && due && !err) {
		size_t n = piece == 0 || size - at < piece ? size - at : piece;
		size_t used = 0;
		enum milter_ev ev = milter_feed(m, (const char *)data + at, n,
						&used);

		if (used > n)
			abort();
		at += used;
		switch (ev) {
		case MILTER_EV_MORE:
		case MILTER_EV_PROGRESS:
			break;
		case MILTER_EV_ERROR:
			err = true;
			if (milter_error(m)[0] == '\0')
				abort();
			break;
		default:
			if (step == 9)
				walk_mods(m);
			due = next_step(m, &step, out);
			break;
		}
	}
	milter_send_abort(m, out);
	milter_send_quit(m, out);
	milter_free(&m);
	buf_free(&out);
	return 0;
}
