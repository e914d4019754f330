/*
 * test_keyfile.c: key files at rest: round trips (erased prekeys included),
 * wrong passphrases, permissions and symbolic links, truncation, every flipped
 * byte, header fields that would make Argon2id expensive, re-sealed files
 * whose decrypted contents break a consistency rule, and that no secret is
 * ever written in clear.
 *
 * Most tests use Argon2id's minimum cost so the suite stays fast; one round
 * trip uses the "interactive" profile. DIVEX_REGEN_VECTORS=1 also rewrites the
 * fuzzing seed corpus in tests/fuzz/corpus/keyfile/.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "keyfile.h"
#include "keyfile.pb-c.h"
#include "testlib.h"

#define T0 1700000000000ull
#define PASS "correct horse battery staple"
#define PASSLEN (sizeof(PASS) - 1)
#define HEADER_LEN 66
#define TAG_LEN 16
#define MIN_LEN 221 /* header, smallest valid KeySecrets (139), tag */
#define OFF_VERSION 8
#define OFF_KDF 9
#define OFF_OPSLIMIT 10
#define OFF_MEMLIMIT 18
#define OFF_SALT 26
#define OFF_NONCE 42
/* Must match tests/fuzz/fuzz_keyfile.c. */
#define FUZZ_PASS "divex-fuzz"

static const struct keyfile_kdf KDF_MIN = { crypto_pwhash_OPSLIMIT_MIN,
					    crypto_pwhash_MEMLIMIT_MIN };

static const uint8_t SEED[32] = { 0x11, 0x22, 0x33, 0x44 };

/* A seeded key set with three prekeys, the first erased. */
static struct keys *make_keys(const char *state)
{
	const uint64_t P = KEYS_PREKEY_PERIOD_MS;
	struct keys *k = NULL;
	assert_dx_ok(keys_generate(state, T0, P, SEED, &k));
	assert_dx_ok(keys_rotate_prekey(k, T0 + P, P));
	assert_dx_ok(keys_rotate_prekey(k, T0 + 2 * P, P));
	assert_int_equal(
		keys_erase_expired_prekeys(k, T0 + P + KEYS_PREKEY_GRACE_MS, KEYS_PREKEY_GRACE_MS),
		1);
	return k;
}

static const char *fresh_path(const char *name)
{
	const char *p = test_path(test_tmpdir(), name);
	unlink(p);
	return p;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	assert_dx_ok(dx_read_file(path, KEYFILE_MAX, &buf, len));
	return buf;
}

/* Writes k with the minimum cost and returns the file's bytes. */
static uint8_t *write_image(const struct keys *k, const char *name, const char *pass, size_t *len)
{
	const char *path = fresh_path(name);
	assert_dx_ok(keyfile_write(path, k, pass, strlen(pass), &KDF_MIN, 0));
	return slurp(path, len);
}

static void assert_same_keys(const struct keys *a, const struct keys *b)
{
	uint8_t x[64], y[64];
	assert_string_equal(keys_state(a), keys_state(b));
	assert_int_equal(keys_created_ms(a), keys_created_ms(b));
	keys_identity_pk(a, x);
	keys_identity_pk(b, y);
	assert_memory_equal(x, y, KEYS_SIGN_PK_LEN);
	keys_static_pk(a, x);
	keys_static_pk(b, y);
	assert_memory_equal(x, y, KEYS_DH_PK_LEN);
	keys_static_sig(a, x);
	keys_static_sig(b, y);
	assert_memory_equal(x, y, KEYS_SIG_LEN);
	/* Ed25519 is deterministic: equal signatures mean equal identity secrets. */
	keys_sign(a, x, (const uint8_t *)"m", 1);
	keys_sign(b, y, (const uint8_t *)"m", 1);
	assert_memory_equal(x, y, KEYS_SIG_LEN);

	struct keys_ephemeral *e = NULL;
	uint8_t epk[KEYS_DH_PK_LEN];
	assert_dx_ok(keys_ephemeral_new(NULL, &e));
	keys_ephemeral_pk(e, epk);
	assert_dx_ok(keys_dh_static(a, x, epk));
	assert_dx_ok(keys_dh_static(b, y, epk));
	assert_memory_equal(x, y, KEYS_DH_LEN);
	assert_int_equal(keys_prekey_count(a), keys_prekey_count(b));
	for (size_t i = 0; i < keys_prekey_count(a); i++) {
		const struct keys_prekey *p = keys_prekey_at(a, i), *q = keys_prekey_at(b, i);
		assert_memory_equal(p, q, sizeof(*p));
		if (p->erased_ms != 0) {
			assert_dx_err(keys_dh_prekey(b, q->id, y, epk), DX_EPREKEY_ERASED);
			continue;
		}
		assert_dx_ok(keys_dh_prekey(a, p->id, x, epk));
		assert_dx_ok(keys_dh_prekey(b, q->id, y, epk));
		assert_memory_equal(x, y, KEYS_DH_LEN);
	}
	keys_ephemeral_free(e);
}

static void test_round_trip(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA"), *back = NULL;
	const char *path = fresh_path("rt.key");
	struct stat st;

	assert_dx_ok(keyfile_write(path, k, PASS, PASSLEN, &KDF_MIN, 0));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_dx_ok(keyfile_read(path, PASS, PASSLEN, &back));
	assert_same_keys(k, back);
	assert_int_equal(keys_prekey_at(back, 0)->erased_ms,
			 T0 + KEYS_PREKEY_PERIOD_MS + KEYS_PREKEY_GRACE_MS);
	keys_free(back);

	/* The "interactive" profile, as a real deployment's weakest choice. */
	path = fresh_path("interactive.key");
	assert_dx_ok(keyfile_write(path, k, PASS, PASSLEN, &KEYFILE_KDF_INTERACTIVE, 0));
	assert_dx_ok(keyfile_read(path, PASS, PASSLEN, &back));
	assert_same_keys(k, back);
	keys_free(back);
	keys_free(k);
}

static void test_mode_ignores_umask(void **state)
{
	(void)state;
	struct keys *k = make_keys("MEX");
	struct stat st;
	mode_t old = umask(0);
	const char *path = fresh_path("umask.key");
	assert_dx_ok(keyfile_write(path, k, PASS, PASSLEN, &KDF_MIN, 0));
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	keys_free(k);
}

static void test_kdf_parse(void **state)
{
	(void)state;
	struct keyfile_kdf kdf;
	assert_dx_ok(keyfile_kdf_parse("interactive", &kdf));
	assert_int_equal(kdf.opslimit, crypto_pwhash_OPSLIMIT_INTERACTIVE);
	assert_int_equal(kdf.memlimit, crypto_pwhash_MEMLIMIT_INTERACTIVE);
	assert_dx_ok(keyfile_kdf_parse("moderate", &kdf));
	assert_int_equal(kdf.opslimit, crypto_pwhash_OPSLIMIT_MODERATE);
	assert_int_equal(kdf.memlimit, crypto_pwhash_MEMLIMIT_MODERATE);
	assert_dx_ok(keyfile_kdf_parse("sensitive", &kdf));
	assert_int_equal(kdf.opslimit, crypto_pwhash_OPSLIMIT_SENSITIVE);
	assert_int_equal(kdf.memlimit, crypto_pwhash_MEMLIMIT_SENSITIVE);
	assert_dx_err(keyfile_kdf_parse("Moderate", &kdf), DX_EINVAL);
	assert_dx_err(keyfile_kdf_parse("", &kdf), DX_EINVAL);
	assert_dx_err(keyfile_kdf_parse(NULL, &kdf), DX_EINVAL);
}

static void test_write_refuses(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA");
	const char *path = fresh_path("refuse.key");
	struct keyfile_kdf weak = { 0, crypto_pwhash_MEMLIMIT_MIN };
	struct keyfile_kdf huge = { 1, (size_t)2 << 30 };
	assert_dx_err(keyfile_write(path, k, PASS, 0, &KDF_MIN, 0), DX_ENO_PASSPHRASE);
	assert_dx_err(keyfile_write(path, k, PASS, PASSLEN, &weak, 0), DX_EINVAL);
	assert_dx_err(keyfile_write(path, k, PASS, PASSLEN, &huge, 0), DX_EINVAL);
	assert_dx_err(keyfile_write(path, NULL, PASS, PASSLEN, &KDF_MIN, 0), DX_EINVAL);
	assert_int_equal(access(path, F_OK), -1);
	keys_free(k);
}

static void test_wrong_passphrase(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA"), *back = NULL;
	const char *path = fresh_path("wrong.key");
	assert_dx_ok(keyfile_write(path, k, PASS, PASSLEN, &KDF_MIN, 0));
	assert_dx_err(keyfile_read(path, "wrong", 5, &back), DX_EPASSPHRASE);
	assert_dx_err(keyfile_read(path, PASS, PASSLEN - 1, &back), DX_EPASSPHRASE);
	assert_dx_err(keyfile_read(path, "", 0, &back), DX_EPASSPHRASE);
	assert_null(back);
	keys_free(k);
}

static void test_permissions(void **state)
{
	(void)state;
	static const mode_t bad[] = { 0640, 0604, 0620, 0602, 0610, 0601, 0644, 0666 };
	struct keys *k = make_keys("FRA"), *back = NULL;
	const char *path = fresh_path("perm.key");
	assert_dx_ok(keyfile_write(path, k, PASS, PASSLEN, &KDF_MIN, 0));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(chmod(path, bad[i]), 0);
		assert_dx_err(keyfile_read(path, PASS, PASSLEN, &back), DX_EKEYFILE_PERM);
	}
	assert_int_equal(chmod(path, 0400), 0);
	assert_dx_ok(keyfile_read(path, PASS, PASSLEN, &back));
	keys_free(back);
	back = NULL;
	/* A file owned by someone else is refused even at 0600. */
	if (geteuid() == 0) {
		assert_int_equal(chmod(path, 0600), 0);
		assert_int_equal(chown(path, 65534, 65534), 0);
		assert_dx_err(keyfile_read(path, PASS, PASSLEN, &back), DX_EKEYFILE_PERM);
	}
	assert_dx_err(keyfile_read(test_path(test_tmpdir(), "absent.key"), PASS, PASSLEN, &back),
		      DX_ENOENT);
	assert_dx_err(keyfile_read(test_tmpdir(), PASS, PASSLEN, &back), DX_EINVAL);
	assert_null(back);
	keys_free(k);
}

static void test_symlinks(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA"), *back = NULL;
	const char *real = fresh_path("real.key");
	const char *link = fresh_path("link.key");
	const char *dangling = fresh_path("dangling.key");
	const char *target = fresh_path("target-never-created.key");
	assert_dx_ok(keyfile_write(real, k, PASS, PASSLEN, &KDF_MIN, 0));
	assert_int_equal(symlink(real, link), 0);
	assert_dx_err(keyfile_read(link, PASS, PASSLEN, &back), DX_EKEYFILE_PERM);

	/* Writing through a link, live or dangling, is refused. */
	size_t before_len, after_len;
	uint8_t *before = slurp(real, &before_len);
	assert_dx_err(keyfile_write(link, k, PASS, PASSLEN, &KDF_MIN, 0), DX_EEXIST);
	uint8_t *after = slurp(real, &after_len);
	assert_int_equal(before_len, after_len);
	assert_memory_equal(before, after, before_len);
	assert_int_equal(symlink(target, dangling), 0);
	assert_dx_err(keyfile_write(dangling, k, PASS, PASSLEN, &KDF_MIN, 0), DX_EEXIST);
	assert_int_equal(access(target, F_OK), -1);
	free(before);
	free(after);
	keys_free(k);
}

static void test_no_overwrite(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA"), *other = NULL, *back = NULL;
	const char *path = fresh_path("exists.key");
	size_t len1, len2;
	assert_dx_ok(keyfile_write(path, k, PASS, PASSLEN, &KDF_MIN, 0));
	uint8_t *first = slurp(path, &len1);
	assert_dx_ok(keys_generate("MEX", T0, KEYS_PREKEY_PERIOD_MS, NULL, &other));
	assert_dx_err(keyfile_write(path, other, PASS, PASSLEN, &KDF_MIN, 0), DX_EEXIST);
	uint8_t *second = slurp(path, &len2);
	assert_int_equal(len1, len2);
	assert_memory_equal(first, second, len1);
	assert_dx_ok(keyfile_read(path, PASS, PASSLEN, &back));
	assert_same_keys(k, back);
	keys_free(back);
	/* With replace, the new key set takes its place. */
	assert_dx_ok(keyfile_write(path, other, "new", 3, &KDF_MIN, 1));
	assert_dx_ok(keyfile_read(path, "new", 3, &back));
	assert_same_keys(other, back);
	keys_free(back);
	free(first);
	free(second);
	keys_free(other);
	keys_free(k);
}

static void test_truncated(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA"), *back = NULL;
	size_t len;
	uint8_t *img = write_image(k, "trunc.key", PASS, &len);
	const size_t corrupt[] = { 0,
				   1,
				   10,
				   HEADER_LEN - 1,
				   HEADER_LEN,
				   HEADER_LEN + TAG_LEN - 1,
				   HEADER_LEN + TAG_LEN,
				   MIN_LEN - 1 };
	for (size_t i = 0; i < sizeof(corrupt) / sizeof(corrupt[0]); i++) {
		assert_dx_err(keyfile_decode(img, corrupt[i], PASS, PASSLEN, &back),
			      DX_EKEYFILE_CORRUPT);
	}
	/*
	 * Past the smallest possible size, a shortened ciphertext fails only its
	 * authentication, which cannot tell truncation from a wrong passphrase.
	 */
	assert_true(len > MIN_LEN);
	const size_t unauth[] = { MIN_LEN, len - TAG_LEN, len - 1 };
	for (size_t i = 0; i < sizeof(unauth) / sizeof(unauth[0]); i++) {
		assert_dx_err(keyfile_decode(img, unauth[i], PASS, PASSLEN, &back), DX_EPASSPHRASE);
	}
	/* The same holds on disk. */
	const char *path = fresh_path("trunc-disk.key");
	test_write_file(path, img, HEADER_LEN + 10);
	assert_dx_err(keyfile_read(path, PASS, PASSLEN, &back), DX_EKEYFILE_CORRUPT);
	test_write_file(path, img, 0);
	assert_dx_err(keyfile_read(path, PASS, PASSLEN, &back), DX_EKEYFILE_CORRUPT);
	assert_null(back);
	free(img);
	keys_free(k);
}

/* Which errors a change to byte i may produce. */
static void assert_refused_at(size_t i, int rc)
{
	if (i < OFF_VERSION) {
		assert_int_equal(rc, DX_EKEYFILE_CORRUPT);
	} else if (i < OFF_OPSLIMIT) {
		assert_int_equal(rc, DX_EKEYFILE_VERSION);
	} else if (i < OFF_SALT) {
		/* Out of range, or in range and then refused by the AEAD. */
		assert_true(rc == DX_EKEYFILE_CORRUPT || rc == DX_EPASSPHRASE);
	} else {
		assert_int_equal(rc, DX_EPASSPHRASE);
	}
}

static void test_every_byte_flipped(void **state)
{
	(void)state;
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	struct keys *k = make_keys("BFA"), *back = NULL;
	size_t len;
	uint8_t *img = write_image(k, "flip.key", PASS, &len);
	for (size_t m = 0; m < sizeof(masks); m++) {
		for (size_t i = 0; i < len; i++) {
			img[i] ^= masks[m];
			/*
			 * Setting bit 31 of the memory limit would still be in range
			 * for some masks; skip the few that ask for over 64 MiB so
			 * the loop stays fast (the cap test covers the range).
			 */
			uint64_t mem = dx_get_be64(img + OFF_MEMLIMIT);
			if (mem <= 64u << 20 || mem > 1u << 30) {
				assert_refused_at(i,
						  keyfile_decode(img, len, PASS, PASSLEN, &back));
			}
			img[i] ^= masks[m];
		}
	}
	assert_null(back);
	assert_dx_ok(keyfile_decode(img, len, PASS, PASSLEN, &back));
	keys_free(back);
	free(img);
	keys_free(k);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_header_fields(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA"), *back = NULL;
	size_t len;
	uint8_t *img = write_image(k, "header.key", PASS, &len);
	uint8_t *bad = malloc(len);
	assert_non_null(bad);

#define MUTATE(stmt, want)                                                                         \
	do {                                                                                       \
		memcpy(bad, img, len);                                                             \
		stmt;                                                                              \
		assert_dx_err(keyfile_decode(bad, len, PASS, PASSLEN, &back), want);               \
	} while (0)

	MUTATE(memcpy(bad, "divexkez", 8), DX_EKEYFILE_CORRUPT);
	MUTATE(memcpy(bad, "DIVEXKEY", 8), DX_EKEYFILE_CORRUPT);
	MUTATE(bad[OFF_VERSION] = 2, DX_EKEYFILE_VERSION);
	MUTATE(bad[OFF_VERSION] = 0, DX_EKEYFILE_VERSION);
	MUTATE(bad[OFF_KDF] = 1, DX_EKEYFILE_VERSION); /* Argon2i */
	MUTATE(bad[OFF_KDF] = 3, DX_EKEYFILE_VERSION);
	MUTATE(dx_put_be64(bad + OFF_OPSLIMIT, 0), DX_EKEYFILE_CORRUPT);
	MUTATE(dx_put_be64(bad + OFF_OPSLIMIT, 17), DX_EKEYFILE_CORRUPT);
	MUTATE(dx_put_be64(bad + OFF_OPSLIMIT, UINT64_MAX), DX_EKEYFILE_CORRUPT);
	MUTATE(dx_put_be64(bad + OFF_MEMLIMIT, crypto_pwhash_MEMLIMIT_MIN - 1),
	       DX_EKEYFILE_CORRUPT);
	MUTATE(dx_put_be64(bad + OFF_MEMLIMIT, 0), DX_EKEYFILE_CORRUPT);
	/* In range but not what was sealed: the header is authenticated. */
	MUTATE(dx_put_be64(bad + OFF_OPSLIMIT, 2), DX_EPASSPHRASE);

	/* Limits a hostile file could use to make us burn memory are refused fast. */
	const uint64_t huge[] = { (1ull << 30) + 1, 1ull << 40, UINT64_MAX };
	long rss_before = test_peak_rss_kib();
	double t = now_s();
	for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
		MUTATE(dx_put_be64(bad + OFF_MEMLIMIT, huge[i]), DX_EKEYFILE_CORRUPT);
	}
	MUTATE(dx_put_be64(bad + OFF_OPSLIMIT, 1ull << 32), DX_EKEYFILE_CORRUPT);
	assert_true(now_s() - t < 0.5);
	assert_true(test_peak_rss_kib() - rss_before < 16 * 1024);
#undef MUTATE

	/* Nothing larger than the cap is a key file. */
	uint8_t *big = calloc(1, KEYFILE_MAX + 1);
	assert_non_null(big);
	memcpy(big, img, len);
	assert_dx_err(keyfile_decode(big, KEYFILE_MAX + 1, PASS, PASSLEN, &back),
		      DX_EKEYFILE_CORRUPT);
	const char *path = fresh_path("big.key");
	test_write_file(path, big, KEYFILE_MAX + 1);
	assert_dx_err(keyfile_read(path, PASS, PASSLEN, &back), DX_EKEYFILE_CORRUPT);
	assert_null(back);
	free(big);
	free(bad);
	free(img);
	keys_free(k);
}

/* Decrypts an image written with KDF_MIN and PASS, for re-sealing. */
static Dx__KeySecrets *open_image(const uint8_t *img, size_t len, uint8_t key[static 32])
{
	uint8_t *plain = malloc(len);
	unsigned long long plen = 0;
	assert_non_null(plain);
	assert_int_equal(crypto_pwhash(key, 32, PASS, PASSLEN, img + OFF_SALT, KDF_MIN.opslimit,
				       KDF_MIN.memlimit, crypto_pwhash_ALG_ARGON2ID13),
			 0);
	assert_int_equal(crypto_aead_xchacha20poly1305_ietf_decrypt(
				 plain, &plen, NULL, img + HEADER_LEN, len - HEADER_LEN, img,
				 HEADER_LEN, img + OFF_NONCE, key),
			 0);
	Dx__KeySecrets *ks = dx__key_secrets__unpack(NULL, plen, plain);
	assert_non_null(ks);
	free(plain);
	return ks;
}

/* Seals arbitrary plaintext under img's header, as a writer would. */
static uint8_t *seal_plain(const uint8_t *img, const uint8_t key[static 32], const uint8_t *plain,
			   size_t plen, size_t *out_len)
{
	size_t n = HEADER_LEN + plen + TAG_LEN;
	uint8_t *out = malloc(n);
	assert_non_null(out);
	memcpy(out, img, HEADER_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(out + HEADER_LEN, NULL, plain, plen, out,
						   HEADER_LEN, NULL, out + OFF_NONCE, key);
	*out_len = n;
	return out;
}

static uint8_t *seal_secrets(const uint8_t *img, const uint8_t key[static 32],
			     const Dx__KeySecrets *ks, size_t *out_len)
{
	size_t plen = dx__key_secrets__get_packed_size(ks);
	uint8_t *plain = malloc(plen + 8);
	assert_non_null(plain);
	dx__key_secrets__pack(ks, plain);
	uint8_t *out = seal_plain(img, key, plain, plen, out_len);
	free(plain);
	return out;
}

/*
 * Mutators change the decoded secrets in place or swap in malloc'd fields, so
 * that protobuf-c can free the message afterwards; the caller restores the
 * prekey array, which two of them replace.
 */
typedef void (*mutator)(Dx__KeySecrets *ks);
static void replace_bytes(ProtobufCBinaryData *b, size_t len)
{
	free(b->data);
	b->data = malloc(len);
	assert_non_null(b->data);
	randombytes_buf(b->data, len);
	b->len = len;
}
static void replace_state(Dx__KeySecrets *ks, const char *s)
{
	free(ks->state);
	ks->state = strdup(s);
	assert_non_null(ks->state);
}
static void m_none(Dx__KeySecrets *ks)
{
	(void)ks;
}
static void m_state(Dx__KeySecrets *ks)
{
	replace_state(ks, "fra");
}
static void m_state_long(Dx__KeySecrets *ks)
{
	replace_state(ks, "FRAN");
}
static void m_seed_short(Dx__KeySecrets *ks)
{
	ks->identity_seed.len = 31;
}
static void m_seed_other(Dx__KeySecrets *ks)
{
	randombytes_buf(ks->identity_seed.data, 32);
}
static void m_static_other(Dx__KeySecrets *ks)
{
	randombytes_buf(ks->static_secret.data, 32);
}
static void m_static_long(Dx__KeySecrets *ks)
{
	replace_bytes(&ks->static_secret, 33);
}
static void m_static_sig_short(Dx__KeySecrets *ks)
{
	ks->static_signature.len = 63;
}
static void m_static_sig_flip(Dx__KeySecrets *ks)
{
	ks->static_signature.data[0] ^= 1;
}
static void m_pre_secret_other(Dx__KeySecrets *ks)
{
	randombytes_buf(ks->prekeys[1]->secret_key.data, 32);
}
static void m_pre_secret_gone(Dx__KeySecrets *ks)
{
	ks->prekeys[1]->secret_key.len = 0;
}
static void m_pre_secret_short(Dx__KeySecrets *ks)
{
	ks->prekeys[1]->secret_key.len = 31;
}
static void m_pre_erased_with_secret(Dx__KeySecrets *ks)
{
	ks->prekeys[1]->erased_ms = T0;
}
static void m_pre_erased_zero(Dx__KeySecrets *ks)
{
	ks->prekeys[0]->erased_ms = 0;
}
static void m_pre_sig(Dx__KeySecrets *ks)
{
	ks->prekeys[2]->signature.data[5] ^= 0x40;
}
static void m_pre_window(Dx__KeySecrets *ks)
{
	ks->prekeys[2]->valid_until_ms += 1;
}
static void m_pre_empty_window(Dx__KeySecrets *ks)
{
	ks->prekeys[2]->valid_until_ms = ks->prekeys[2]->valid_from_ms;
}
static void m_pre_pk_short(Dx__KeySecrets *ks)
{
	ks->prekeys[2]->public_key.len = 31;
}
static void m_pre_none(Dx__KeySecrets *ks)
{
	ks->n_prekeys = 0;
}
static void m_pre_too_many(Dx__KeySecrets *ks)
{
	static Dx__PrekeySecret *many[KEYS_MAX_PREKEYS + 1];
	for (size_t i = 0; i < KEYS_MAX_PREKEYS + 1; i++) {
		many[i] = ks->prekeys[2];
	}
	ks->prekeys = many;
	ks->n_prekeys = KEYS_MAX_PREKEYS + 1;
}

static void test_contents_checked(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		mutator fn;
		int want;
	} cases[] = {
		{ "unchanged", m_none, DX_OK },
		{ "no prekeys", m_pre_none, DX_OK },
		{ "state lowercase", m_state, DX_EKEYFILE_CORRUPT },
		{ "state long", m_state_long, DX_EKEYFILE_CORRUPT },
		{ "identity seed short", m_seed_short, DX_EKEYFILE_CORRUPT },
		{ "identity seed other", m_seed_other, DX_EKEYFILE_CORRUPT },
		{ "static secret other", m_static_other, DX_EKEYFILE_CORRUPT },
		{ "static secret long", m_static_long, DX_EKEYFILE_CORRUPT },
		{ "static sig short", m_static_sig_short, DX_EKEYFILE_CORRUPT },
		{ "static sig flipped", m_static_sig_flip, DX_EKEYFILE_CORRUPT },
		{ "prekey secret other", m_pre_secret_other, DX_EKEYFILE_CORRUPT },
		{ "prekey secret missing", m_pre_secret_gone, DX_EKEYFILE_CORRUPT },
		{ "prekey secret short", m_pre_secret_short, DX_EKEYFILE_CORRUPT },
		{ "erased prekey with secret", m_pre_erased_with_secret, DX_EKEYFILE_CORRUPT },
		{ "erased prekey without time", m_pre_erased_zero, DX_EKEYFILE_CORRUPT },
		{ "prekey sig flipped", m_pre_sig, DX_EKEYFILE_CORRUPT },
		{ "prekey window changed", m_pre_window, DX_EKEYFILE_CORRUPT },
		{ "prekey window empty", m_pre_empty_window, DX_EKEYFILE_CORRUPT },
		{ "prekey pk short", m_pre_pk_short, DX_EKEYFILE_CORRUPT },
		{ "too many prekeys", m_pre_too_many, DX_EKEYFILE_CORRUPT },
	};
	struct keys *k = make_keys("FRA"), *back = NULL;
	size_t len, n;
	uint8_t key[32];
	uint8_t *img = write_image(k, "contents.key", PASS, &len);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Dx__KeySecrets *ks = open_image(img, len, key);
		assert_int_equal(ks->n_prekeys, 3);
		Dx__PrekeySecret **saved = ks->prekeys;
		cases[i].fn(ks);
		uint8_t *bad = seal_secrets(img, key, ks, &n);
		ks->prekeys = saved;
		ks->n_prekeys = 3;
		dx__key_secrets__free_unpacked(ks, NULL);
		int rc = keyfile_decode(bad, n, PASS, PASSLEN, &back);
		if (rc != cases[i].want) {
			fail_msg("%s: got %s, want %s", cases[i].what, dx_errname(rc),
				 dx_errname(cases[i].want));
		}
		keys_free(back);
		back = NULL;
		free(bad);
	}
	free(img);
	keys_free(k);
}

static void test_plaintext_not_canonical(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA"), *back = NULL;
	size_t len, n;
	uint8_t key[32];
	uint8_t *img = write_image(k, "canon.key", PASS, &len);
	Dx__KeySecrets *ks = open_image(img, len, key);
	size_t plen = dx__key_secrets__get_packed_size(ks);
	uint8_t *plain = malloc(plen + 16);
	assert_non_null(plain);
	dx__key_secrets__pack(ks, plain);

	/* An unknown field 15 (varint 1) appended. */
	plain[plen] = 15 << 3;
	plain[plen + 1] = 1;
	uint8_t *bad = seal_plain(img, key, plain, plen + 2, &n);
	assert_dx_err(keyfile_decode(bad, n, PASS, PASSLEN, &back), DX_EKEYFILE_CORRUPT);
	free(bad);
	/* created_ms (field 6) encoded a second time. */
	plain[plen] = 6 << 3;
	plain[plen + 1] = 1;
	bad = seal_plain(img, key, plain, plen + 2, &n);
	assert_dx_err(keyfile_decode(bad, n, PASS, PASSLEN, &back), DX_EKEYFILE_CORRUPT);
	free(bad);
	/* Garbage of a plausible size. */
	randombytes_buf(plain, plen);
	bad = seal_plain(img, key, plain, plen, &n);
	assert_dx_err(keyfile_decode(bad, n, PASS, PASSLEN, &back), DX_EKEYFILE_CORRUPT);
	free(bad);
	assert_null(back);
	free(plain);
	dx__key_secrets__free_unpacked(ks, NULL);
	free(img);
	keys_free(k);
}

/* The test-vector derivation of PROTOCOL.md 9, to know the seeded secrets. */
static void derive(uint8_t out[static 32], const char *what)
{
	static const char label[] = "divex/v1/test-derive";
	const uint8_t idx[4] = { 0 };
	crypto_generichash_state st;
	crypto_generichash_init(&st, SEED, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)label, sizeof(label));
	crypto_generichash_update(&st, (const uint8_t *)what, strlen(what) + 1);
	crypto_generichash_update(&st, idx, sizeof(idx));
	crypto_generichash_final(&st, out, 32);
}

static int contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
	for (size_t i = 0; i + m <= n; i++) {
		if (memcmp(hay + i, needle, m) == 0) {
			return 1;
		}
	}
	return 0;
}

static void test_no_secret_in_clear(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA");
	uint8_t id_seed[32], static_sk[32], prekey_sk[32], pk[32];
	derive(id_seed, "identity");
	derive(static_sk, "static");
	derive(prekey_sk, "prekey");
	/* The derivation is the one keys_generate used: the public key agrees. */
	uint8_t sk[crypto_sign_SECRETKEYBYTES], want[32];
	crypto_sign_seed_keypair(want, sk, id_seed);
	keys_identity_pk(k, pk);
	assert_memory_equal(pk, want, 32);

	size_t len;
	uint8_t *img = write_image(k, "clear.key", PASS, &len);
	const uint8_t *secrets[] = { id_seed, static_sk, prekey_sk, pk };
	for (size_t s = 0; s < sizeof(secrets) / sizeof(secrets[0]); s++) {
		/* Any 8-byte window of a secret would be too much. */
		for (size_t off = 0; off + 8 <= 32; off += 8) {
			assert_false(contains(img, len, secrets[s] + off, 8));
		}
	}
	assert_false(contains(img, len, (const uint8_t *)PASS, 8));
	/* Error sentences are constant text and never carry key material. */
	char hex[65];
	dx_hex(hex, id_seed, 32);
	for (int code = -100; code <= 0; code++) {
		const char *text = dx_strerror(code);
		assert_null(strstr(text, hex));
		assert_false(contains((const uint8_t *)text, strlen(text), id_seed, 8));
	}
	free(img);
	sodium_memzero(sk, sizeof(sk));
	keys_free(k);
}

/* DIVEX_REGEN_VECTORS=1: seed files for fuzz_keyfile, all at minimum cost. */
static void write_corpus(const char *name, const uint8_t *data, size_t len)
{
	char rel[256];
	snprintf(rel, sizeof(rel), "tests/fuzz/corpus/keyfile/%s", name);
	test_write_file(test_path(test_source_dir(), rel), data, len);
}

static void test_regen_corpus(void **state)
{
	(void)state;
	const char *regen = getenv("DIVEX_REGEN_VECTORS");
	if (regen == NULL || strcmp(regen, "1") != 0) {
		skip();
	}
	struct keys *k = make_keys("FRA");
	size_t len;
	uint8_t *img = write_image(k, "corpus.key", FUZZ_PASS, &len);
	write_corpus("real-fra", img, len);
	write_corpus("header-only", img, HEADER_LEN);
	img[OFF_VERSION] = 2;
	write_corpus("version-2", img, len);
	img[OFF_VERSION] = 1;
	dx_put_be64(img + OFF_MEMLIMIT, 1ull << 40);
	write_corpus("huge-memlimit", img, len);
	free(img);
	keys_free(k);
	struct keys *one = NULL;
	assert_dx_ok(keys_generate("MEX", T0, KEYS_PREKEY_PERIOD_MS, SEED, &one));
	img = write_image(one, "corpus-one.key", FUZZ_PASS, &len);
	write_corpus("real-mex", img, len);
	free(img);
	keys_free(one);

	/* Plaintext-mode seeds: 0x00, then a KeySecrets the harness seals itself. */
	uint8_t key[32];
	k = make_keys("BFA");
	img = write_image(k, "corpus-plain.key", PASS, &len);
	Dx__KeySecrets *ks = open_image(img, len, key);
	size_t plen = dx__key_secrets__get_packed_size(ks);
	uint8_t *plain = malloc(plen + 1);
	assert_non_null(plain);
	plain[0] = 0x00;
	dx__key_secrets__pack(ks, plain + 1);
	write_corpus("plain-bfa", plain, plen + 1);
	free(plain);
	dx__key_secrets__free_unpacked(ks, NULL);
	free(img);
	keys_free(k);
}

int main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_mode_ignores_umask),
		cmocka_unit_test(test_kdf_parse),
		cmocka_unit_test(test_write_refuses),
		cmocka_unit_test(test_wrong_passphrase),
		cmocka_unit_test(test_permissions),
		cmocka_unit_test(test_symlinks),
		cmocka_unit_test(test_no_overwrite),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_every_byte_flipped),
		cmocka_unit_test(test_header_fields),
		cmocka_unit_test(test_contents_checked),
		cmocka_unit_test(test_plaintext_not_canonical),
		cmocka_unit_test(test_no_secret_in_clear),
		cmocka_unit_test(test_regen_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
