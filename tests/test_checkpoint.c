/*
 * test_checkpoint.c: signed checkpoints (daemon/core/checkpoint.c).
 *
 * A fixed checkpoint from a seed-derived key is compared byte for byte with
 * the text an independent implementation produced (tests/vectors/
 * merkle.json). Every single-byte change, every truncation and a catalogue of
 * near-misses, each correctly signed so that only the format is at fault,
 * must be refused. Witness lines are accepted and counted; rollbacks and
 * equivocation are caught by checkpoint_check_consistent().
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "checkpoint.h"
#include "testlib.h"
#include "util.h"

#define ORIGIN "divex.secretariat/relay"
#define WITNESS "witness.example/FRA"
#define EM "\xe2\x80\x94"
/* The root and signature (key id and Ed25519 signature) of the fixed vector, in base64. */
#define ROOT8 "XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg="
#define VSIG                                                                                       \
	"v1MWiOI6R20p0glxl2UkFUhvSaXk6YsiqYeqqJUATm7hTeqny/"                                       \
	"H93GY+oqT6TwMVQbNqWc9ZOW8yVX7ObueHjLVPVQI="

/* The checkpoint of the CT reference tree of 8 leaves, signed with seed 07 * 32. */
static const char vector_text[] = ORIGIN "\n8\n" ROOT8 "\n\n" EM " " ORIGIN " " VSIG "\n";
static const char vector_root[] =
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328";

struct signer {
	uint8_t *sk; /* sodium_malloc'd Ed25519 secret key */
	uint8_t pk[KEYS_SIGN_PK_LEN];
	int fail;
};

static struct signer relay, witness, impostor;

static int sign_cb(void *ctx, uint8_t sig[KEYS_SIG_LEN], const uint8_t *msg, size_t len)
{
	struct signer *s = ctx;
	if (s->fail != 0) {
		return s->fail;
	}
	crypto_sign_detached(sig, NULL, msg, len, s->sk);
	return 0;
}

static void signer_init(struct signer *s, uint8_t seed_byte)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	memset(seed, seed_byte, sizeof(seed));
	s->sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
	assert_non_null(s->sk);
	assert_int_equal(crypto_sign_seed_keypair(s->pk, s->sk, seed), 0);
	sodium_memzero(seed, sizeof(seed));
	s->fail = 0;
}

static int setup(void **state)
{
	(void)state;
	if (sodium_init() < 0) {
		return -1;
	}
	signer_init(&relay, 0x07);
	signer_init(&witness, 0x08);
	signer_init(&impostor, 0x09);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	sodium_free(relay.sk);
	sodium_free(witness.sk);
	sodium_free(impostor.sk);
	return 0;
}

/*
 * Builds a signed note by hand, independently of checkpoint.c: body, a
 * blank line, then one line per (name, signer) in order. A NULL signer makes
 * a line of 68 bytes of junk under that name.
 */
struct line {
	const char *name;
	struct signer *by;
};

static size_t make_note(char *out, size_t cap, const char *body, const struct line *lines, size_t n)
{
	size_t len = strlen(body);
	assert_true(len + 1 < cap);
	memcpy(out, body, len);
	out[len++] = '\n';
	for (size_t i = 0; i < n; i++) {
		uint8_t blob[4 + KEYS_SIG_LEN], h[32];
		char b64[sodium_base64_ENCODED_LEN(sizeof(blob), sodium_base64_VARIANT_ORIGINAL)];
		crypto_hash_sha256_state st;
		if (lines[i].by != NULL) {
			crypto_hash_sha256_init(&st);
			crypto_hash_sha256_update(&st, (const uint8_t *)lines[i].name,
						  strlen(lines[i].name));
			crypto_hash_sha256_update(&st, (const uint8_t *)"\n\x01", 2);
			crypto_hash_sha256_update(&st, lines[i].by->pk, KEYS_SIGN_PK_LEN);
			crypto_hash_sha256_final(&st, h);
			memcpy(blob, h, 4);
			crypto_sign_detached(blob + 4, NULL, (const uint8_t *)body, strlen(body),
					     lines[i].by->sk);
		} else {
			memset(blob, 0x5a, sizeof(blob));
		}
		sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob),
				  sodium_base64_VARIANT_ORIGINAL);
		int w = snprintf(out + len, cap - len, EM " %s %s\n", lines[i].name, b64);
		assert_true(w > 0 && (size_t)w < cap - len);
		len += (size_t)w;
	}
	return len;
}

static int parse(const char *text, size_t len, struct checkpoint *cp)
{
	return checkpoint_parse_verify((const uint8_t *)text, len, ORIGIN, ORIGIN, relay.pk, cp);
}

/* A body signed by the relay: refused for its format alone. */
static void expect_body(const char *body, int want)
{
	char text[CHECKPOINT_MAX * 2];
	struct checkpoint cp;
	const struct line l = { ORIGIN, &relay };
	size_t len = make_note(text, sizeof(text), body, &l, 1);
	int rc = parse(text, len, &cp);
	if (rc != want) {
		fail_msg("body \"%s\": got %s, want %s", body, dx_errname(rc), dx_errname(want));
	}
}

static void expect_text(const char *text, int want)
{
	struct checkpoint cp;
	int rc = parse(text, strlen(text), &cp);
	if (rc != want) {
		fail_msg("text \"%s\": got %s, want %s", text, dx_errname(rc), dx_errname(want));
	}
}

static void test_vector(void **state)
{
	char text[CHECKPOINT_MAX + 1], hex[2 * KEYS_SIGN_PK_LEN + 1];
	uint8_t root[MERKLE_HASH_LEN], id[CHECKPOINT_KEY_ID_LEN];
	struct checkpoint cp;
	json_error_t err;
	size_t len;
	(void)state;

	assert_dx_ok(dx_unhex(root, sizeof(root), vector_root));
	assert_dx_ok(checkpoint_sign(ORIGIN, 8, root, ORIGIN, relay.pk, sign_cb, &relay, text,
				     sizeof(text), &len));
	assert_int_equal(len, strlen(vector_text));
	assert_string_equal(text, vector_text);

	json_t *o =
		json_load_file(test_path(test_source_dir(), "tests/vectors/merkle.json"), 0, &err);
	if (o == NULL) {
		fail_msg("merkle.json: %s (line %d)", err.text, err.line);
	}
	json_t *v = json_object_get(o, "checkpoint");
	assert_string_equal(json_string_value(json_object_get(v, "text")), vector_text);
	dx_hex(hex, relay.pk, KEYS_SIGN_PK_LEN);
	assert_string_equal(json_string_value(json_object_get(v, "public_key")), hex);
	checkpoint_key_id(id, ORIGIN, relay.pk);
	dx_hex(hex, id, sizeof(id));
	assert_string_equal(json_string_value(json_object_get(v, "key_id")), hex);
	json_decref(o);

	assert_dx_ok(parse(text, len, &cp));
	assert_string_equal(cp.origin, ORIGIN);
	assert_int_equal(cp.size, 8);
	assert_memory_equal(cp.root, root, sizeof(root));
	assert_int_equal(cp.n_cosigs, 0);
}

static void test_roundtrip(void **state)
{
	static const uint64_t sizes[] = {
		0, 1, 2, 9, 10, 1000000, UINT64_C(4294967296), MERKLE_MAX_SIZE
	};
	char text[CHECKPOINT_MAX + 1], small[64];
	uint8_t root[MERKLE_HASH_LEN];
	struct checkpoint cp;
	size_t len = 0;
	(void)state;

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		randombytes_buf(root, sizeof(root));
		assert_dx_ok(checkpoint_sign(ORIGIN, sizes[i], root, ORIGIN, relay.pk, sign_cb,
					     &relay, text, sizeof(text), &len));
		assert_int_equal(strlen(text), len);
		memset(&cp, 0xee, sizeof(cp));
		assert_dx_ok(parse(text, len, &cp));
		assert_int_equal(cp.size, sizes[i]);
		assert_memory_equal(cp.root, root, sizeof(root));
		assert_string_equal(cp.origin, ORIGIN);
	}
	/* The largest size is 2^63; more does not parse. */
	expect_body(ORIGIN "\n9223372036854775808\n" ROOT8 "\n", DX_OK);
	expect_body(ORIGIN "\n9223372036854775809\n" ROOT8 "\n", DX_EPARSE);

	/* Refusals when signing. */
	len = 12345;
	assert_int_equal(checkpoint_sign(ORIGIN, 1, root, ORIGIN, relay.pk, sign_cb, &relay, small,
					 sizeof(small), &len),
			 DX_EINVAL);
	assert_int_equal(checkpoint_sign("has space", 1, root, ORIGIN, relay.pk, sign_cb, &relay,
					 text, sizeof(text), &len),
			 DX_EINVAL);
	assert_int_equal(checkpoint_sign("", 1, root, ORIGIN, relay.pk, sign_cb, &relay, text,
					 sizeof(text), &len),
			 DX_EINVAL);
	assert_int_equal(checkpoint_sign(ORIGIN, 1, root, "a+b", relay.pk, sign_cb, &relay, text,
					 sizeof(text), &len),
			 DX_EINVAL);
	assert_int_equal(checkpoint_sign(ORIGIN, MERKLE_MAX_SIZE + 1, root, ORIGIN, relay.pk,
					 sign_cb, &relay, text, sizeof(text), &len),
			 DX_EINVAL);
	/* A signer holding another key is caught before anything is written. */
	assert_int_equal(checkpoint_sign(ORIGIN, 1, root, ORIGIN, relay.pk, sign_cb, &impostor,
					 text, sizeof(text), &len),
			 DX_ESIG);
	relay.fail = DX_EIO;
	assert_int_equal(checkpoint_sign(ORIGIN, 1, root, ORIGIN, relay.pk, sign_cb, &relay, text,
					 sizeof(text), &len),
			 DX_EIO);
	relay.fail = 0;
	assert_int_equal(len, 12345);

	char long_name[CHECKPOINT_KEY_NAME_MAX + 2];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	assert_false(checkpoint_name_valid(long_name));
	long_name[CHECKPOINT_KEY_NAME_MAX] = '\0';
	assert_true(checkpoint_name_valid(long_name));
	assert_dx_ok(checkpoint_sign(long_name, 1, root, long_name, relay.pk, sign_cb, &relay, text,
				     sizeof(text), &len));
	assert_dx_ok(checkpoint_parse_verify((const uint8_t *)text, len, long_name, long_name,
					     relay.pk, &cp));
	assert_false(checkpoint_name_valid("tab\there"));
	assert_false(checkpoint_name_valid("caf\xc3\xa9"));
}

/* Every change of one byte, every truncation and every insertion is refused. */
static void test_mutations(void **state)
{
	const size_t len = strlen(vector_text);
	static const char inserts[] = { '\n', ' ', '0', '1', 'A', '=', '+', '/', '\r', '\0' };
	char t[CHECKPOINT_MAX + 2];
	struct checkpoint cp;
	(void)state;

	assert_dx_ok(parse(vector_text, len, &cp));
	for (size_t i = 0; i < len; i++) {
		for (unsigned v = 0; v < 256; v++) {
			if (v == (uint8_t)vector_text[i]) {
				continue;
			}
			memcpy(t, vector_text, len);
			t[i] = (char)v;
			int rc = parse(t, len, &cp);
			if (rc != DX_EPARSE && rc != DX_ESIG) {
				fail_msg("byte %zu set to 0x%02x: got %s", i, v, dx_errname(rc));
			}
		}
		for (size_t k = 0; k < sizeof(inserts); k++) {
			memcpy(t, vector_text, i);
			t[i] = inserts[k];
			memcpy(t + i + 1, vector_text + i, len - i);
			assert_int_not_equal(parse(t, len + 1, &cp), DX_OK);
		}
		/* Every proper prefix, and the text with byte i removed. */
		assert_int_equal(parse(vector_text, i, &cp), DX_EPARSE);
		memcpy(t, vector_text, i);
		memcpy(t + i, vector_text + i + 1, len - i - 1);
		assert_int_not_equal(parse(t, len - 1, &cp), DX_OK);
	}
	/* Trailing bytes. */
	memcpy(t, vector_text, len);
	t[len] = '\n';
	assert_int_equal(parse(t, len + 1, &cp), DX_EPARSE);
	t[len] = 'x';
	assert_int_equal(parse(t, len + 1, &cp), DX_EPARSE);
}

static void test_format_rejects(void **state)
{
	(void)state;
	expect_body(ORIGIN "\n8\n" ROOT8 "\n", DX_OK);
	expect_body(ORIGIN "\n0\n" ROOT8 "\n", DX_OK);
	/* Sizes. */
	expect_body(ORIGIN "\n08\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n00\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n+8\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n-0\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n 8\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n8 \n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n0x8\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n18446744073709551615\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n18446744073709551616\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n000000000000000000008\n" ROOT8 "\n", DX_EPARSE);
	/* Roots: wrong length, non-canonical, other alphabets, no padding. */
	expect_body(ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQw==\n", DX_EPARSE);
	expect_body(ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyhh\n", DX_EPARSE);
	expect_body(ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyh=\n", DX_EPARSE);
	expect_body(ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz-Nw7_RgQyg=\n", DX_EPARSE);
	expect_body(ORIGIN "\n8\nXcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg\n", DX_EPARSE);
	expect_body(ORIGIN "\n8\n XcnaeacGWamtVZy3Ad7ZoqudgjqtL0lgz+Nw7/RgQyg=\n", DX_EPARSE);
	expect_body(ORIGIN "\n8\n\n", DX_EPARSE);
	/* Origins, extension lines, line endings. */
	expect_body("divex.secretariat/other\n8\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN " \n8\n" ROOT8 "\n", DX_EPARSE);
	expect_body("\n8\n" ROOT8 "\n", DX_EPARSE);
	expect_body(ORIGIN "\n8\n" ROOT8 "\nextension\n", DX_EPARSE);
	expect_body(ORIGIN "\r\n8\r\n" ROOT8 "\r\n", DX_EPARSE);
	expect_body(ORIGIN "\n8\n" ROOT8 "\n\n", DX_EPARSE);
	expect_body(ORIGIN "\n8\n" ROOT8, DX_EPARSE);
	expect_body(ORIGIN "\n8\n", DX_EPARSE);
	expect_body("", DX_EPARSE);

	/* Whole texts: no signature, a broken signature line, no final newline. */
	expect_text("", DX_EPARSE);
	expect_text(ORIGIN "\n8\n" ROOT8 "\n\n", DX_EPARSE);
	expect_text(ORIGIN "\n8\n" ROOT8 "\n", DX_EPARSE);
	const char *good_sig = strstr(vector_text, EM " ");
	char t[CHECKPOINT_MAX];
	size_t body_len = (size_t)(good_sig - vector_text);
	static const char *const bad_lines[] = {
		"-- " ORIGIN " " VSIG "\n",   EM ORIGIN " " VSIG "\n", EM " " ORIGIN "  " VSIG "\n",
		EM " " ORIGIN " " VSIG " \n", EM " " ORIGIN " " VSIG,  EM " " ORIGIN "\n",
		EM " " ORIGIN " \n",	      EM "  " VSIG "\n",       EM " a+b " VSIG "\n",
		EM " " ORIGIN " v1MWiA==\n",  EM " " ORIGIN " ====\n",
	};
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		snprintf(t, sizeof(t), "%.*s%s", (int)body_len, vector_text, bad_lines[i]);
		expect_text(t, DX_EPARSE);
	}
	/* A good line followed by a bad one is refused as a whole. */
	snprintf(t, sizeof(t), "%s%s", vector_text, bad_lines[2]);
	expect_text(t, DX_EPARSE);
	snprintf(t, sizeof(t), "%s\n", vector_text);
	expect_text(t, DX_EPARSE);
}

static void test_signature_rules(void **state)
{
	char t[CHECKPOINT_MAX * 2];
	struct checkpoint cp;
	size_t len;
	const char *body = ORIGIN "\n8\n" ROOT8 "\n";
	(void)state;

	/* Witness cosignatures, before or after the log's, are counted and not checked. */
	const struct line after[] = { { ORIGIN, &relay }, { WITNESS, &witness } };
	len = make_note(t, sizeof(t), body, after, 2);
	assert_dx_ok(parse(t, len, &cp));
	assert_int_equal(cp.n_cosigs, 1);
	const struct line before[] = { { WITNESS, &witness },
				       { "witness.example/MEX", NULL },
				       { ORIGIN, &relay } };
	len = make_note(t, sizeof(t), body, before, 3);
	assert_dx_ok(parse(t, len, &cp));
	assert_int_equal(cp.n_cosigs, 2);

	/* Sixteen lines are accepted, seventeen are not. */
	struct line many[CHECKPOINT_MAX_SIGS + 1];
	for (size_t i = 0; i < CHECKPOINT_MAX_SIGS + 1; i++) {
		many[i].name = WITNESS;
		many[i].by = NULL;
	}
	many[0].name = ORIGIN;
	many[0].by = &relay;
	len = make_note(t, sizeof(t), body, many, CHECKPOINT_MAX_SIGS);
	assert_dx_ok(parse(t, len, &cp));
	assert_int_equal(cp.n_cosigs, CHECKPOINT_MAX_SIGS - 1);
	len = make_note(t, sizeof(t), body, many, CHECKPOINT_MAX_SIGS + 1);
	assert_int_equal(parse(t, len, &cp), DX_EPARSE);

	/* Same name, another key (another key id): not the log's signature. */
	const struct line imp[] = { { ORIGIN, &impostor } };
	len = make_note(t, sizeof(t), body, imp, 1);
	assert_int_equal(parse(t, len, &cp), DX_ESIG);
	const struct line imp2[] = { { ORIGIN, &impostor }, { ORIGIN, &relay } };
	len = make_note(t, sizeof(t), body, imp2, 2);
	assert_dx_ok(parse(t, len, &cp));
	assert_int_equal(cp.n_cosigs, 1);
	/* Same key, another name: its key id differs too, so it is another key. */
	const struct line renamed[] = { { WITNESS, &relay } };
	len = make_note(t, sizeof(t), body, renamed, 1);
	assert_int_equal(parse(t, len, &cp), DX_ESIG);
	/* The log's key twice. */
	const struct line dup[] = { { ORIGIN, &relay }, { ORIGIN, &relay } };
	len = make_note(t, sizeof(t), body, dup, 2);
	assert_int_equal(parse(t, len, &cp), DX_EPARSE);

	/* Wrong key, wrong key name, wrong origin for the verifier. */
	len = strlen(vector_text);
	assert_int_equal(checkpoint_parse_verify((const uint8_t *)vector_text, len, ORIGIN, ORIGIN,
						 witness.pk, &cp),
			 DX_ESIG);
	assert_int_equal(checkpoint_parse_verify((const uint8_t *)vector_text, len, ORIGIN, WITNESS,
						 relay.pk, &cp),
			 DX_ESIG);
	assert_int_equal(checkpoint_parse_verify((const uint8_t *)vector_text, len, WITNESS, ORIGIN,
						 relay.pk, &cp),
			 DX_EPARSE);
	assert_int_equal(checkpoint_parse_verify((const uint8_t *)vector_text, len, "bad origin",
						 ORIGIN, relay.pk, &cp),
			 DX_EINVAL);
	assert_int_equal(checkpoint_parse_verify(NULL, 0, ORIGIN, ORIGIN, relay.pk, &cp),
			 DX_EINVAL);

	/* The log's key id with a signature of the wrong length. */
	uint8_t blob[4 + KEYS_SIG_LEN - 1];
	char b64[200];
	checkpoint_key_id(blob, ORIGIN, relay.pk);
	memset(blob + 4, 1, sizeof(blob) - 4);
	sodium_bin2base64(b64, sizeof(b64), blob, sizeof(blob), sodium_base64_VARIANT_ORIGINAL);
	snprintf(t, sizeof(t), "%s\n" EM " " ORIGIN " %s\n", body, b64);
	expect_text(t, DX_ESIG);
}

/* Sizes at and over CHECKPOINT_MAX, padded with a long witness line. */
static void test_size_cap(void **state)
{
	char t[CHECKPOINT_MAX + 64];
	struct checkpoint cp;
	const size_t base = strlen(vector_text);
	(void)state;

	for (size_t target = CHECKPOINT_MAX; target <= CHECKPOINT_MAX + 1; target++) {
		/* One witness line: prefix (4) + name + space + base64 + newline. */
		size_t room = target - base - 4 - 1 - 1;
		size_t name_len = room % 4 == 0 ? 4 : room % 4;
		size_t b64_len = room - name_len;
		size_t w = base;
		memcpy(t, vector_text, base);
		memcpy(t + w, EM " ", 4);
		w += 4;
		memset(t + w, 'w', name_len);
		w += name_len;
		t[w++] = ' ';
		memset(t + w, 'A', b64_len);
		w += b64_len;
		t[w++] = '\n';
		assert_int_equal(w, target);
		assert_int_equal(b64_len % 4, 0);
		int rc = parse(t, w, &cp);
		assert_int_equal(rc, target == CHECKPOINT_MAX ? DX_OK : DX_ETOOBIG);
	}
}

static void sign_at(struct merkle *m, uint64_t size, struct checkpoint *cp)
{
	char text[CHECKPOINT_MAX + 1];
	uint8_t root[MERKLE_HASH_LEN];
	size_t len;

	assert_dx_ok(merkle_root(m, size, root));
	assert_dx_ok(checkpoint_sign(ORIGIN, size, root, ORIGIN, relay.pk, sign_cb, &relay, text,
				     sizeof(text), &len));
	assert_dx_ok(parse(text, len, cp));
}

static void test_check_consistent(void **state)
{
	struct merkle_memstore s;
	struct merkle m;
	struct checkpoint c0, c5, c13, c40, fork13, other;
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t np;
	(void)state;

	merkle_memstore_init(&s);
	assert_dx_ok(merkle_init(&m, &merkle_memstore_ops, &s, 0));
	for (uint8_t i = 0; i < 40; i++) {
		assert_dx_ok(merkle_append(&m, &i, 1, NULL, NULL));
	}
	sign_at(&m, 0, &c0);
	sign_at(&m, 5, &c5);
	sign_at(&m, 13, &c13);
	sign_at(&m, 40, &c40);
	fork13 = c13;
	fork13.root[7] ^= 0x10;

	assert_dx_ok(merkle_consistency_proof(&m, 5, 13, proof, &np));
	assert_dx_ok(checkpoint_check_consistent(&c5, &c13,
						 (const uint8_t(*)[MERKLE_HASH_LEN])proof, np));
	/* The same proof does not serve another pair, nor a forked root. */
	assert_int_equal(checkpoint_check_consistent(&c5, &c40,
						     (const uint8_t(*)[MERKLE_HASH_LEN])proof, np),
			 DX_EPROOF);
	assert_int_equal(checkpoint_check_consistent(&c5, &fork13,
						     (const uint8_t(*)[MERKLE_HASH_LEN])proof, np),
			 DX_EPROOF);
	proof[0][0] ^= 1;
	assert_int_equal(checkpoint_check_consistent(&c5, &c13,
						     (const uint8_t(*)[MERKLE_HASH_LEN])proof, np),
			 DX_EPROOF);
	assert_int_equal(checkpoint_check_consistent(&c5, &c13, NULL, 0), DX_EPROOF);

	/* Rollback and equivocation are evidence, whatever proof comes with them. */
	assert_int_equal(checkpoint_check_consistent(&c13, &c5, NULL, 0), DX_ELOG_INCONSISTENT);
	assert_int_equal(checkpoint_check_consistent(&c40, &c0, NULL, 0), DX_ELOG_INCONSISTENT);
	assert_int_equal(checkpoint_check_consistent(&c13, &fork13, NULL, 0), DX_ELOG_INCONSISTENT);
	assert_int_equal(checkpoint_check_consistent(&fork13, &c13, NULL, 0), DX_ELOG_INCONSISTENT);
	/* The same checkpoint again is fine, with nothing to prove. */
	assert_dx_ok(checkpoint_check_consistent(&c13, &c13, NULL, 0));
	assert_int_equal(checkpoint_check_consistent(&c13, &c13,
						     (const uint8_t(*)[MERKLE_HASH_LEN])proof, 1),
			 DX_EPROOF);
	/* From the empty log anything follows, but only from the true empty root. */
	assert_dx_ok(checkpoint_check_consistent(&c0, &c40, NULL, 0));
	other = c0;
	other.root[0] ^= 1;
	assert_int_equal(checkpoint_check_consistent(&other, &c40, NULL, 0), DX_EPROOF);
	/* Checkpoints of another log are not compared. */
	other = c13;
	memcpy(other.origin, "other.example", sizeof("other.example"));
	assert_int_equal(checkpoint_check_consistent(&c5, &other, NULL, 0), DX_EINVAL);
	/* Every pair of sizes with its proof. */
	for (uint64_t a = 0; a <= 40; a++) {
		struct checkpoint ca, cb;
		sign_at(&m, a, &ca);
		for (uint64_t b = a; b <= 40; b += 3) {
			sign_at(&m, b, &cb);
			assert_dx_ok(merkle_consistency_proof(&m, a, b, proof, &np));
			assert_dx_ok(checkpoint_check_consistent(
				&ca, &cb, (const uint8_t(*)[MERKLE_HASH_LEN])proof, np));
			if (b > a) {
				assert_int_equal(checkpoint_check_consistent(&cb, &ca, NULL, 0),
						 DX_ELOG_INCONSISTENT);
			}
		}
	}
	merkle_memstore_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vector),		 cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_mutations),	 cmocka_unit_test(test_format_rejects),
		cmocka_unit_test(test_signature_rules),	 cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_check_consistent),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
