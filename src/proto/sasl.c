/*
 * sasl - PLAIN and LOGIN for the server cores; see sasl.h.
 *
 * Each response is decoded into a stack buffer that is wiped before the
 * function returns, whatever the result; a result that ends the exchange
 * badly also wipes the user name and password kept in the struct.
 */
#include "sasl.h"
#include "wire.h"

#include <string.h>
#include <strings.h>

static enum sasl_result feed(struct sasl *, const char *, size_t);
static enum sasl_result plain(struct sasl *, const char *, size_t);
static enum sasl_result login(struct sasl *, const char *, size_t);
static enum sasl_result end(struct sasl *, enum sasl_result);
static bool user_ok(const struct sasl *, const char *, size_t);

void
sasl_init(struct sasl *x, unsigned flags)
{
	explicit_bzero(x, sizeof(*x));
	x->flags = flags;
}

enum sasl_mech
sasl_mech_parse(const char *name, size_t len)
{
	if (len == 5 && strncasecmp(name, "PLAIN", 5) == 0)
		return SASL_MECH_PLAIN;
	if (len == 5 && strncasecmp(name, "LOGIN", 5) == 0)
		return SASL_MECH_LOGIN;
	return SASL_MECH_NONE;
}

enum sasl_result
sasl_start(struct sasl *x, enum sasl_mech m, const char *initial, size_t len)
{
	sasl_wipe(x);
	x->mech = m;
	if (m == SASL_MECH_NONE)
		return end(x, SASL_MALFORMED); /* caller bug: say no */
	if (initial == NULL)
		return SASL_MORE;
	if (len == 1 && initial[0] == '*' && (x->flags & SASL_CANCEL_INITIAL))
		return end(x, SASL_CANCELLED);
	if (len == 1 && initial[0] == '=')
		len = 0; /* RFC 4954 4: an empty initial response */
	return feed(x, initial, len);
}

enum sasl_result
sasl_step(struct sasl *x, const char *line, size_t len)
{
	if (x->mech == SASL_MECH_NONE)
		return end(x, SASL_MALFORMED); /* caller bug: say no */
	if (len == 1 && line[0] == '*')
		return end(x, SASL_CANCELLED);
	if (len == 1 && line[0] == '=' && (x->flags & SASL_EMPTY_ALWAYS))
		len = 0;
	return feed(x, line, len);
}

const char *
sasl_challenge(const struct sasl *x)
{
	if (x->mech != SASL_MECH_LOGIN)
		return "";
	return x->have_user ? "UGFzc3dvcmQ6" /* Password: */
			    : "VXNlcm5hbWU6"; /* Username: */
}

bool
sasl_active(const struct sasl *x)
{
	return x->mech != SASL_MECH_NONE;
}

const char *
sasl_user(const struct sasl *x)
{
	return x->user;
}

const char *
sasl_pass(const struct sasl *x)
{
	return x->pass;
}

void
sasl_wipe(struct sasl *x)
{
	explicit_bzero(x->user, sizeof(x->user));
	explicit_bzero(x->pass, sizeof(x->pass));
	x->mech = SASL_MECH_NONE;
	x->have_user = false;
}

/* Ends the exchange; anything but OK forgets what was decoded. */
static enum sasl_result
end(struct sasl *x, enum sasl_result r)
{
	if (r != SASL_OK)
		sasl_wipe(x);
	x->mech = SASL_MECH_NONE;
	x->have_user = false;
	return r;
}

static enum sasl_result
feed(struct sasl *x, const char *in, size_t len)
{
	return x->mech == SASL_MECH_PLAIN ? plain(x, in, len)
					  : login(x, in, len);
}

/* A user name of len bytes (no NUL in it) the protocol accepts. */
static bool
user_ok(const struct sasl *x, const char *u, size_t len)
{
	if (len == 0 || len > SASL_USER_MAX)
		return false;
	if (x->flags & SASL_USER_TOKEN)
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)u[i] <= ' ' || u[i] == 0x7f)
				return false;
	return true;
}

/*
 * Splits raw[0..n) (NUL-terminated at n) into authzid NUL authcid NUL
 * passwd; false unless there are exactly two NULs.
 */
static bool
plain_split(const char *raw, size_t n, const char **authc, size_t *zc,
	    const char **pass, size_t *zp)
{
	size_t za = strnlen(raw, n);

	if (za >= n)
		return false;
	*authc = raw + za + 1;
	*zc = strnlen(*authc, n - za - 1);
	if (za + 1 + *zc >= n)
		return false;
	*pass = *authc + *zc + 1;
	*zp = n - za - *zc - 2;
	return memchr(*pass, '\0', *zp) == NULL;
}

/* The PLAIN response (RFC 4616): [authzid] NUL authcid NUL passwd. */
static enum sasl_result
plain(struct sasl *x, const char *in, size_t len)
{
	char raw[SASL_LINE_MAX];
	const char *authc, *pass;
	size_t n, zc, zp;
	enum sasl_result r;

	if (b64_decode(in, len, raw, sizeof(raw) - 1, &n) == -1) {
		r = SASL_BAD_BASE64;
		goto out;
	}
	raw[n] = '\0';
	if (!plain_split(raw, n, &authc, &zc, &pass, &zp) ||
	    !user_ok(x, authc, zc) || zp > SASL_PASS_MAX) {
		r = SASL_MALFORMED;
		goto out;
	}
	if (raw[0] != '\0' && strcmp(raw, authc) != 0) {
		r = SASL_AUTHZID; /* no logging in as another user */
		goto out;
	}
	memcpy(x->user, authc, zc + 1);
	memcpy(x->pass, pass, zp + 1);
	r = SASL_OK;
out:
	explicit_bzero(raw, sizeof(raw));
	return end(x, r);
}

/* LOGIN: the user name, then the password, neither holding a NUL. */
static enum sasl_result
login(struct sasl *x, const char *in, size_t len)
{
	char raw[SASL_LINE_MAX];
	size_t n;
	enum sasl_result r;

	if (b64_decode(in, len, raw, sizeof(raw) - 1, &n) == -1) {
		r = SASL_BAD_BASE64;
	} else if (memchr(raw, '\0', n) != NULL ||
		   (x->have_user ? n > SASL_PASS_MAX : !user_ok(x, raw, n))) {
		r = SASL_MALFORMED;
	} else if (!x->have_user) {
		memcpy(x->user, raw, n);
		x->user[n] = '\0';
		x->have_user = true;
		explicit_bzero(raw, sizeof(raw));
		return SASL_MORE;
	} else {
		memcpy(x->pass, raw, n);
		x->pass[n] = '\0';
		r = SASL_OK;
	}
	explicit_bzero(raw, sizeof(raw));
	return end(x, r);
}
