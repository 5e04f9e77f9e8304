/*
 * milter_edit - see milter_edit.h.  The fields are a list of pieces: the
 * original ones point into the block, new ones into a side buffer; a
 * change edits the list, and the result is written once at the end.
 */
#include "milter_edit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field {
	bool added;		/* in the side buffer, else in the block */
	size_t off, len;	/* the whole field with its LF ends */
};

struct fields {
	struct field *f;
	size_t n, cap;
	const char *hdr;
	struct buf *added;
};

static void
push_at(struct fields *fs, size_t at, struct field f)
{
	if (fs->n == fs->cap) {
		fs->cap = fs->cap ? fs->cap * 2 : 16;
		fs->f = xrealloc(fs->f, fs->cap * sizeof(*fs->f));
	}
	if (at > fs->n)
		at = fs->n;
	memmove(fs->f + at + 1, fs->f + at, (fs->n - at) * sizeof(*fs->f));
	fs->f[at] = f;
	fs->n++;
}

/* The block's fields: each line and the continuation lines after it. */
static void
split(struct fields *fs, const char *hdr, size_t len)
{
	size_t at = 0;

	while (at < len) {
		size_t end = at;

		do {
			const char *lf = memchr(hdr + end, '\n', len - end);

			end = lf ? (size_t)(lf - hdr) + 1 : len;
		} while (end < len && (hdr[end] == ' ' || hdr[end] == '\t'));
		push_at(fs, fs->n, (struct field){false, at, end - at});
		at = end;
	}
}

static const char *
text(const struct fields *fs, const struct field *f)
{
	return f->added ? fs->added->data + f->off : fs->hdr + f->off;
}

/* Does field f have this name (any case)? */
static bool
named(const struct fields *fs, const struct field *f, const char *name)
{
	const char *t = text(fs, f);
	size_t n = strlen(name), i = n;

	if (f->len <= n || strncasecmp(t, name, n) != 0)
		return false;
	while (i < f->len && (t[i] == ' ' || t[i] == '\t'))
		i++;
	return i < f->len && t[i] == ':';
}

static bool
name_valid(const char *name)
{
	if (*name == '\0')
		return false;
	for (; *name != '\0'; name++)
		if ((unsigned char)*name <= 32 || (unsigned char)*name >= 127 ||
		    *name == ':')
			return false;
	return true;
}

/* A new field "name: value\n" in the side buffer; false if it is full. */
static bool
make(struct fields *fs, const char *name, const char *value,
     struct field *f)
{
	struct buf *b = fs->added;
	bool bol = false;
	size_t vlen = strlen(value);
	int r = 0;

	/* a line end at the value's end would end the header block */
	while (vlen > 0 &&
	       (value[vlen - 1] == '\r' || value[vlen - 1] == '\n'))
		vlen--;
	f->added = true;
	f->off = b->len;
	r |= buf_printf(b, "%s:", name);
	if (*value != ' ' && *value != '\t')
		r |= buf_addc(b, ' ');
	for (const char *v = value; v < value + vlen; v++) {
		if (*v == '\r' && v + 1 < value + vlen && v[1] == '\n')
			continue;
		if (bol && *v != ' ' && *v != '\t')
			r |= buf_addc(b, '\t');
		bol = *v == '\r' || *v == '\n';
		r |= buf_addc(b, bol ? '\n' : *v);
	}
	r |= buf_addc(b, '\n');
	f->len = b->len - f->off;
	return r == 0;
}

/* The index of the nth (1-based) field of name, or fs->n. */
static size_t
nth(const struct fields *fs, const char *name, uint32_t n)
{
	if (n == 0)
		n = 1;
	for (size_t i = 0; i < fs->n; i++)
		if (named(fs, &fs->f[i], name) && --n == 0)
			return i;
	return fs->n;
}

static bool
apply(struct fields *fs, const struct milter_mod *mod, unsigned *skipped)
{
	struct field f;
	size_t i;

	if (!name_valid(mod->name)) {
		(*skipped)++;
		return true;
	}
	if (mod->type == MILTER_MOD_CHGHEADER) {
		i = nth(fs, mod->name, mod->index);
		if (*mod->value == '\0') {
			if (i < fs->n) {
				memmove(fs->f + i, fs->f + i + 1,
					(fs->n - i - 1) * sizeof(*fs->f));
				fs->n--;
			}
			return true;
		}
		if (!make(fs, mod->name, mod->value, &f))
			return false;
		if (i < fs->n)
			fs->f[i] = f;
		else
			push_at(fs, fs->n, f);
		return true;
	}
	if (!make(fs, mod->name, mod->value, &f))
		return false;
	push_at(fs, mod->type == MILTER_MOD_INSHEADER ? mod->index : fs->n,
		f);
	return true;
}

int
milter_edit_headers(const struct milter *m, const char *hdr, size_t len,
		    struct buf *out, unsigned *skipped_r)
{
	struct fields fs = {.hdr = hdr, .added = buf_new(out->max)};
	struct milter_mod mod;
	size_t pos = 0;
	int r = 0;

	*skipped_r = 0;
	split(&fs, hdr, len);
	while (r == 0 && milter_mod_next(m, &pos, &mod))
		if ((mod.type == MILTER_MOD_ADDHEADER ||
		     mod.type == MILTER_MOD_CHGHEADER ||
		     mod.type == MILTER_MOD_INSHEADER) &&
		    !apply(&fs, &mod, skipped_r))
			r = -1;
	for (size_t i = 0; r == 0 && i < fs.n; i++)
		r = buf_add(out, text(&fs, &fs.f[i]), fs.f[i].len);
	free(fs.f);
	buf_free(&fs.added);
	return r;
}
