/*
 * checkpoint.c: signed checkpoints. See checkpoint.h; the format is C2SP
 * tlog-checkpoint inside a C2SP signed note, narrowed so that every
 * checkpoint has exactly one byte representation:
 *
 *   <origin> LF <size in decimal> LF <base64 root> LF
 *   LF
 *   U+2014 SP <key name> SP <base64(key id || signature)> LF   (1 to 16 lines)
 *
 * The parser walks the text once, line by line, and accepts nothing it would
 * not itself have written: no extension lines, no leading zeros, no
 * non-canonical base64, no control characters, no byte after the last line.
 * It finishes parsing before it verifies, so a malformed checkpoint is
 * always DX_EPARSE whatever its signatures are.
 *
 * The signed text contains no 0x00 byte, while every other message divex
 * signs starts with a label that ends in 0x00 (PROTOCOL.md section 1); so the
 * relay's key can sign both without one being taken for the other.
 */
#include "checkpoint.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define B64 sodium_base64_VARIANT_ORIGINAL
#define ROOT_B64_LEN (sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN, B64) - 1) /* 44 */
#define SIG_BLOB_LEN (CHECKPOINT_KEY_ID_LEN + KEYS_SIG_LEN)
#define SIG_B64_LEN (sodium_base64_ENCODED_LEN(SIG_BLOB_LEN, B64) - 1) /* 92 */
#define SIZE_DIGITS_MAX 20
/* A signature line starts with U+2014 (em dash) in UTF-8 and a space. */
static const uint8_t sig_prefix[] = { 0xe2, 0x80, 0x94, 0x20 };
#define SIG_PREFIX_LEN sizeof(sig_prefix)
/* Largest signature blob a line within CHECKPOINT_MAX can carry. */
#define BLOB_MAX (CHECKPOINT_MAX / 4 * 3)

static int name_char_ok(uint8_t c)
{
	return c >= 0x21 && c <= 0x7e && c != '+';
}

static int name_valid_n(const uint8_t *s, size_t n)
{
	if (n == 0 || n > CHECKPOINT_KEY_NAME_MAX) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		if (!name_char_ok(s[i])) {
			return 0;
		}
	}
	return 1;
}

int checkpoint_name_valid(const char *s)
{
	if (s == NULL) {
		return 0;
	}
	size_t n = strnlen(s, CHECKPOINT_KEY_NAME_MAX + 1);
	return name_valid_n((const uint8_t *)s, n);
}

void checkpoint_key_id(uint8_t out[static CHECKPOINT_KEY_ID_LEN], const char *key_name,
		       const uint8_t pk[static KEYS_SIGN_PK_LEN])
{
	crypto_hash_sha256_state st;
	uint8_t h[crypto_hash_sha256_BYTES];
	const uint8_t sep[2] = { '\n', CHECKPOINT_SIG_TYPE_ED25519 };

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const uint8_t *)key_name, strlen(key_name));
	crypto_hash_sha256_update(&st, sep, sizeof(sep));
	crypto_hash_sha256_update(&st, pk, KEYS_SIGN_PK_LEN);
	crypto_hash_sha256_final(&st, h);
	memcpy(out, h, CHECKPOINT_KEY_ID_LEN);
}

/* The note text: three lines, each ending in LF. */
static int format_body(char *out, size_t cap, size_t *len, const char *origin, uint64_t size,
		       const uint8_t root[static MERKLE_HASH_LEN])
{
	char root_b64[ROOT_B64_LEN + 1];

	sodium_bin2base64(root_b64, sizeof(root_b64), root, MERKLE_HASH_LEN, B64);
	int n = snprintf(out, cap, "%s\n%" PRIu64 "\n%s\n", origin, size, root_b64);
	if (n < 0 || (size_t)n >= cap) {
		return DX_EINVAL;
	}
	*len = (size_t)n;
	return DX_OK;
}

int checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[static MERKLE_HASH_LEN],
		    const char *key_name, const uint8_t pk[static KEYS_SIGN_PK_LEN],
		    checkpoint_sign_fn sign, void *sign_ctx, char *out, size_t cap, size_t *out_len)
{
	char text[CHECKPOINT_MAX + 1];
	char blob_b64[SIG_B64_LEN + 1];
	uint8_t blob[SIG_BLOB_LEN];
	size_t body_len;
	int rc;

	if (!checkpoint_name_valid(origin) || !checkpoint_name_valid(key_name) || sign == NULL ||
	    out == NULL || out_len == NULL || size > MERKLE_MAX_SIZE) {
		return DX_EINVAL;
	}
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	rc = format_body(text, sizeof(text), &body_len, origin, size, root);
	if (rc != 0) {
		return rc;
	}
	checkpoint_key_id(blob, key_name, pk);
	rc = sign(sign_ctx, blob + CHECKPOINT_KEY_ID_LEN, (const uint8_t *)text, body_len);
	if (rc != 0) {
		return rc < 0 ? rc : DX_ECRYPTO;
	}
	/* A checkpoint signed by the wrong key would be refused by every node: catch it here. */
	if (crypto_sign_verify_detached(blob + CHECKPOINT_KEY_ID_LEN, (const uint8_t *)text,
					body_len, pk) != 0) {
		return DX_ESIG;
	}
	sodium_bin2base64(blob_b64, sizeof(blob_b64), blob, sizeof(blob), B64);
	int n = snprintf(text + body_len, sizeof(text) - body_len, "\n\xe2\x80\x94 %s %s\n",
			 key_name, blob_b64);
	if (n < 0 || (size_t)n >= sizeof(text) - body_len) {
		return DX_EINVAL;
	}
	size_t total = body_len + (size_t)n;
	if (total >= cap) {
		return DX_EINVAL;
	}
	memcpy(out, text, total + 1);
	*out_len = total;
	return DX_OK;
}

/* A cursor over the input; lines end in LF, and a missing LF is malformed. */
struct cursor {
	const uint8_t *p;
	size_t len;
	size_t off;
};

static int next_line(struct cursor *c, const uint8_t **line, size_t *n)
{
	const uint8_t *start = c->p + c->off;
	const uint8_t *nl = memchr(start, '\n', c->len - c->off);

	if (nl == NULL) {
		return DX_EPARSE;
	}
	*line = start;
	*n = (size_t)(nl - start);
	c->off += *n + 1;
	return DX_OK;
}

/* Decimal without sign or leading zeros ("0" alone is zero), at most MERKLE_MAX_SIZE. */
static int parse_size(const uint8_t *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;

	if (n == 0 || n > SIZE_DIGITS_MAX || (s[0] == '0' && n > 1)) {
		return DX_EPARSE;
	}
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return DX_EPARSE;
		}
		uint64_t d = (uint64_t)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10) {
			return DX_EPARSE;
		}
		v = v * 10 + d;
	}
	if (v > MERKLE_MAX_SIZE) {
		return DX_EPARSE;
	}
	*out = v;
	return DX_OK;
}

/*
 * Decodes standard padded base64 into out (cap bytes) and accepts it only if
 * encoding the result gives back the same characters, so that no two inputs
 * decode to the same bytes.
 */
static int decode_b64(const uint8_t *s, size_t n, uint8_t *out, size_t cap, size_t *out_len)
{
	char again[CHECKPOINT_MAX + 1];
	size_t bin_len = 0;

	if (n == 0 || n > CHECKPOINT_MAX) {
		return DX_EPARSE;
	}
	if (sodium_base642bin(out, cap, (const char *)s, n, NULL, &bin_len, NULL, B64) != 0) {
		return DX_EPARSE;
	}
	if (sodium_base64_ENCODED_LEN(bin_len, B64) != n + 1) {
		return DX_EPARSE;
	}
	sodium_bin2base64(again, sizeof(again), out, bin_len, B64);
	if (memcmp(again, s, n) != 0) {
		return DX_EPARSE;
	}
	*out_len = bin_len;
	return DX_OK;
}

/* The three lines of the note text and the blank line after them. */
static int parse_body(struct cursor *c, const char *origin, struct checkpoint *cp, size_t *body_len)
{
	const uint8_t *line;
	size_t n, root_len;
	size_t origin_len = strlen(origin);
	int rc;

	if ((rc = next_line(c, &line, &n)) != 0) {
		return rc;
	}
	if (!name_valid_n(line, n) || n != origin_len || memcmp(line, origin, n) != 0) {
		return DX_EPARSE;
	}
	memcpy(cp->origin, line, n);
	cp->origin[n] = '\0';
	if ((rc = next_line(c, &line, &n)) != 0 || (rc = parse_size(line, n, &cp->size)) != 0) {
		return rc;
	}
	if ((rc = next_line(c, &line, &n)) != 0) {
		return rc;
	}
	if (n != ROOT_B64_LEN || decode_b64(line, n, cp->root, sizeof(cp->root), &root_len) != 0 ||
	    root_len != MERKLE_HASH_LEN) {
		return DX_EPARSE;
	}
	*body_len = c->off;
	if ((rc = next_line(c, &line, &n)) != 0) {
		return rc;
	}
	return n == 0 ? DX_OK : DX_EPARSE;
}

/* One signature line: the name and the decoded blob (key id || signature). */
static int parse_sig_line(struct cursor *c, const uint8_t **name, size_t *name_len, uint8_t *blob,
			  size_t *blob_len)
{
	const uint8_t *line, *sp;
	size_t n, rest;

	if (next_line(c, &line, &n) != 0 || n < SIG_PREFIX_LEN ||
	    memcmp(line, sig_prefix, SIG_PREFIX_LEN) != 0) {
		return DX_EPARSE;
	}
	line += SIG_PREFIX_LEN;
	n -= SIG_PREFIX_LEN;
	sp = memchr(line, ' ', n);
	if (sp == NULL || !name_valid_n(line, (size_t)(sp - line))) {
		return DX_EPARSE;
	}
	*name = line;
	*name_len = (size_t)(sp - line);
	rest = n - *name_len - 1;
	if (decode_b64(sp + 1, rest, blob, BLOB_MAX, blob_len) != 0 ||
	    *blob_len <= CHECKPOINT_KEY_ID_LEN) {
		return DX_EPARSE;
	}
	return DX_OK;
}

int checkpoint_parse_verify(const uint8_t *text, size_t len, const char *origin_expected,
			    const char *key_name, const uint8_t pk[static KEYS_SIGN_PK_LEN],
			    struct checkpoint *out)
{
	struct cursor c = { text, len, 0 };
	struct checkpoint cp;
	uint8_t want_id[CHECKPOINT_KEY_ID_LEN], sig[KEYS_SIG_LEN], blob[BLOB_MAX];
	size_t body_len = 0, key_name_len, n_sigs = 0, blob_len, name_len;
	const uint8_t *name;
	int found = 0, bad_len = 0, rc;

	memset(sig, 0, sizeof(sig));

	if (text == NULL || out == NULL || !checkpoint_name_valid(origin_expected) ||
	    !checkpoint_name_valid(key_name)) {
		return DX_EINVAL;
	}
	if (len > CHECKPOINT_MAX) {
		return DX_ETOOBIG;
	}
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	memset(&cp, 0, sizeof(cp));
	rc = parse_body(&c, origin_expected, &cp, &body_len);
	if (rc != 0) {
		return rc;
	}
	key_name_len = strlen(key_name);
	checkpoint_key_id(want_id, key_name, pk);
	while (c.off < len) {
		rc = parse_sig_line(&c, &name, &name_len, blob, &blob_len);
		if (rc != 0) {
			return rc;
		}
		if (++n_sigs > CHECKPOINT_MAX_SIGS) {
			return DX_EPARSE;
		}
		/* Only the pair (name, key id) identifies the key; either alone is another key. */
		if (name_len != key_name_len || memcmp(name, key_name, name_len) != 0 ||
		    memcmp(blob, want_id, CHECKPOINT_KEY_ID_LEN) != 0) {
			continue;
		}
		if (found) {
			return DX_EPARSE;
		}
		found = 1;
		if (blob_len != SIG_BLOB_LEN) {
			bad_len = 1;
		} else {
			memcpy(sig, blob + CHECKPOINT_KEY_ID_LEN, sizeof(sig));
		}
	}
	if (n_sigs == 0) {
		return DX_EPARSE;
	}
	if (!found || bad_len || crypto_sign_verify_detached(sig, text, body_len, pk) != 0) {
		return DX_ESIG;
	}
	cp.n_cosigs = (unsigned)(n_sigs - 1);
	*out = cp;
	return DX_OK;
}

int checkpoint_check_consistent(const struct checkpoint *old, const struct checkpoint *next,
				const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n_proof)
{
	if (old == NULL || next == NULL || strcmp(old->origin, next->origin) != 0) {
		return DX_EINVAL;
	}
	if (next->size < old->size) {
		return DX_ELOG_INCONSISTENT;
	}
	if (next->size == old->size) {
		if (crypto_verify_32(old->root, next->root) != 0) {
			return DX_ELOG_INCONSISTENT;
		}
		return n_proof == 0 ? DX_OK : DX_EPROOF;
	}
	return merkle_verify_consistency(old->size, next->size, old->root, next->root, proof,
					 n_proof);
}
