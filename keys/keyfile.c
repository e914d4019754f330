/*
 * keyfile.c: a State's key set at rest (PROTOCOL.md section 8).
 *
 * A key file is a fixed 66-byte header followed by an XChaCha20-Poly1305
 * ciphertext of a serialized dx.KeySecrets. The header names the Argon2id cost
 * and salt, and is the AEAD's associated data, so that none of it can be
 * changed without the passphrase. Every header field is checked before
 * Argon2id runs: a hostile file must not make us allocate a gigabyte or spin
 * for minutes. The derived key, the plaintext, and protobuf-c's copies of the
 * secret fields are wiped before their memory is released, on every path.
 * Nothing here keeps state between calls; the functions are thread-safe.
 */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "canon.h"
#include "keyfile.pb-c.h"
#include "keys_internal.h"

#define KF_MAGIC "divexkey"
#define KF_MAGIC_LEN 8
#define KF_VERSION 1
#define KF_KDF_ARGON2ID13 2
#define KF_SALT_LEN crypto_pwhash_SALTBYTES
#define KF_NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KF_TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KF_KEY_LEN crypto_aead_xchacha20poly1305_ietf_KEYBYTES

#define KF_OFF_VERSION KF_MAGIC_LEN
#define KF_OFF_KDF (KF_OFF_VERSION + 1)
#define KF_OFF_OPSLIMIT (KF_OFF_KDF + 1)
#define KF_OFF_MEMLIMIT (KF_OFF_OPSLIMIT + 8)
#define KF_OFF_SALT (KF_OFF_MEMLIMIT + 8)
#define KF_OFF_NONCE (KF_OFF_SALT + KF_SALT_LEN)
#define KF_HEADER_LEN (KF_OFF_NONCE + KF_NONCE_LEN)

/* Upper bounds a reader accepts; the strongest profile stays inside them. */
#define KF_OPSLIMIT_MAX 16ull
#define KF_MEMLIMIT_MAX (1024ull * 1024 * 1024)

/*
 * The smallest KeySecrets a valid file can carry: a key (1 byte) and a length
 * (1 byte) before each of state (3), identity_seed (32), static_secret (32)
 * and static_signature (64). A shorter file is corrupt whatever the
 * passphrase, so it is reported as such instead of as a wrong passphrase.
 */
#define KF_MIN_PLAINTEXT                                                                           \
	(2 + DX_STATE_LEN + 2 + KEYS_SIGN_SEED_LEN + 2 + KEYS_DH_SK_LEN + 2 + KEYS_SIG_LEN)
#define KF_MIN_LEN (KF_HEADER_LEN + KF_MIN_PLAINTEXT + KF_TAG_LEN)

_Static_assert(KF_HEADER_LEN == 66, "key file header layout (PROTOCOL.md 8)");
_Static_assert(crypto_pwhash_ALG_ARGON2ID13 == KF_KDF_ARGON2ID13, "kdf byte is libsodium's id");
_Static_assert(KF_KEY_LEN == 32, "XChaCha20-Poly1305 key");

const struct keyfile_kdf KEYFILE_KDF_INTERACTIVE = {
	.opslimit = crypto_pwhash_argon2id_OPSLIMIT_INTERACTIVE,
	.memlimit = crypto_pwhash_argon2id_MEMLIMIT_INTERACTIVE,
};
const struct keyfile_kdf KEYFILE_KDF_MODERATE = {
	.opslimit = crypto_pwhash_argon2id_OPSLIMIT_MODERATE,
	.memlimit = crypto_pwhash_argon2id_MEMLIMIT_MODERATE,
};
const struct keyfile_kdf KEYFILE_KDF_SENSITIVE = {
	.opslimit = crypto_pwhash_argon2id_OPSLIMIT_SENSITIVE,
	.memlimit = crypto_pwhash_argon2id_MEMLIMIT_SENSITIVE,
};

int keyfile_kdf_parse(const char *name, struct keyfile_kdf *out)
{
	static const struct {
		const char *name;
		const struct keyfile_kdf *kdf;
	} profiles[] = {
		{ "interactive", &KEYFILE_KDF_INTERACTIVE },
		{ "moderate", &KEYFILE_KDF_MODERATE },
		{ "sensitive", &KEYFILE_KDF_SENSITIVE },
	};
	if (name == NULL || out == NULL) {
		return DX_EINVAL;
	}
	for (size_t i = 0; i < sizeof(profiles) / sizeof(profiles[0]); i++) {
		if (strcmp(name, profiles[i].name) == 0) {
			*out = *profiles[i].kdf;
			return DX_OK;
		}
	}
	return DX_EINVAL;
}

static int kdf_in_range(uint64_t opslimit, uint64_t memlimit)
{
	return opslimit >= crypto_pwhash_OPSLIMIT_MIN && opslimit <= KF_OPSLIMIT_MAX &&
	       memlimit >= crypto_pwhash_MEMLIMIT_MIN && memlimit <= KF_MEMLIMIT_MAX;
}

/* Argon2id fails only when it cannot allocate its memory. */
static int derive_key(uint8_t key[static KF_KEY_LEN], const char *pass, size_t passlen,
		      const uint8_t salt[static KF_SALT_LEN], uint64_t opslimit, uint64_t memlimit)
{
	if (crypto_pwhash(key, KF_KEY_LEN, pass, passlen, salt, opslimit, (size_t)memlimit,
			  crypto_pwhash_ALG_ARGON2ID13) != 0) {
		return DX_ENOMEM;
	}
	return DX_OK;
}

/*
 * Serializes k's secrets into sodium_malloc'd memory. The protobuf structures
 * on the stack only point at the secrets; the one serialized copy is wiped by
 * the caller's sodium_free.
 */
static int pack_secrets(const struct keys *k, uint8_t **out, size_t *out_len)
{
	Dx__KeySecrets ks = DX__KEY_SECRETS__INIT;
	Dx__PrekeySecret pre[KEYS_MAX_PREKEYS];
	Dx__PrekeySecret *pre_ptr[KEYS_MAX_PREKEYS];

	ks.state = (char *)k->state;
	/* libsodium's Ed25519 secret key is seed || public key. */
	ks.identity_seed.data = k->sec->identity_sk;
	ks.identity_seed.len = KEYS_SIGN_SEED_LEN;
	ks.static_secret.data = k->sec->static_sk;
	ks.static_secret.len = KEYS_DH_SK_LEN;
	ks.static_signature.data = (uint8_t *)k->static_sig;
	ks.static_signature.len = KEYS_SIG_LEN;
	for (size_t i = 0; i < k->n_prekeys; i++) {
		const struct keys_prekey *p = &k->prekeys[i];
		dx__prekey_secret__init(&pre[i]);
		pre[i].public_key.data = (uint8_t *)p->pk;
		pre[i].public_key.len = KEYS_DH_PK_LEN;
		if (p->erased_ms == 0) {
			pre[i].secret_key.data = k->sec->prekey_sk[i];
			pre[i].secret_key.len = KEYS_DH_SK_LEN;
		}
		pre[i].valid_from_ms = p->valid_from_ms;
		pre[i].valid_until_ms = p->valid_until_ms;
		pre[i].signature.data = (uint8_t *)p->sig;
		pre[i].signature.len = KEYS_SIG_LEN;
		pre[i].erased_ms = p->erased_ms;
		pre_ptr[i] = &pre[i];
	}
	ks.n_prekeys = k->n_prekeys;
	ks.prekeys = pre_ptr;
	ks.created_ms = k->created_ms;

	size_t n = dx__key_secrets__get_packed_size(&ks);
	if (n > KEYFILE_MAX - KF_HEADER_LEN - KF_TAG_LEN) {
		return DX_ETOOBIG;
	}
	uint8_t *buf = sodium_malloc(n);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	dx__key_secrets__pack(&ks, buf);
	*out = buf;
	*out_len = n;
	return DX_OK;
}

static void put_header(uint8_t h[static KF_HEADER_LEN], const struct keyfile_kdf *kdf)
{
	memcpy(h, KF_MAGIC, KF_MAGIC_LEN);
	h[KF_OFF_VERSION] = KF_VERSION;
	h[KF_OFF_KDF] = KF_KDF_ARGON2ID13;
	dx_put_be64(h + KF_OFF_OPSLIMIT, kdf->opslimit);
	dx_put_be64(h + KF_OFF_MEMLIMIT, kdf->memlimit);
	randombytes_buf(h + KF_OFF_SALT, KF_SALT_LEN);
	randombytes_buf(h + KF_OFF_NONCE, KF_NONCE_LEN);
}

int keyfile_write(const char *path, const struct keys *k, const char *pass, size_t passlen,
		  const struct keyfile_kdf *kdf, int replace)
{
	struct stat st;
	if (path == NULL || k == NULL || pass == NULL || kdf == NULL) {
		return DX_EINVAL;
	}
	if (passlen == 0) {
		return DX_ENO_PASSPHRASE;
	}
	if (!kdf_in_range(kdf->opslimit, kdf->memlimit)) {
		return DX_EINVAL;
	}
	/* Refuse early, before Argon2id spends a second; the atomic write checks again. */
	if (!replace && lstat(path, &st) == 0) {
		return DX_EEXIST;
	}
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}

	uint8_t *plain = NULL, *key = NULL, *file = NULL;
	size_t plen = 0;
	int rc = pack_secrets(k, &plain, &plen);
	if (rc != DX_OK) {
		return rc;
	}
	size_t flen = KF_HEADER_LEN + plen + KF_TAG_LEN;
	file = malloc(flen);
	key = sodium_malloc(KF_KEY_LEN);
	if (file == NULL || key == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	put_header(file, kdf);
	rc = derive_key(key, pass, passlen, file + KF_OFF_SALT, kdf->opslimit, kdf->memlimit);
	if (rc != DX_OK) {
		goto out;
	}
	crypto_aead_xchacha20poly1305_ietf_encrypt(file + KF_HEADER_LEN, NULL, plain, plen, file,
						   KF_HEADER_LEN, NULL, file + KF_OFF_NONCE, key);
	rc = dx_write_file_atomic(path, file, flen, 0600, replace);
out:
	sodium_free(key);
	sodium_free(plain);
	free(file);
	return rc;
}

/* The header checks of PROTOCOL.md 8, all made before any work is done. */
static int check_header(const uint8_t *buf, size_t len, uint64_t *opslimit, uint64_t *memlimit)
{
	if (len < KF_HEADER_LEN + KF_TAG_LEN || len > KEYFILE_MAX) {
		return DX_EKEYFILE_CORRUPT;
	}
	if (memcmp(buf, KF_MAGIC, KF_MAGIC_LEN) != 0) {
		return DX_EKEYFILE_CORRUPT;
	}
	if (buf[KF_OFF_VERSION] != KF_VERSION || buf[KF_OFF_KDF] != KF_KDF_ARGON2ID13) {
		return DX_EKEYFILE_VERSION;
	}
	*opslimit = dx_get_be64(buf + KF_OFF_OPSLIMIT);
	*memlimit = dx_get_be64(buf + KF_OFF_MEMLIMIT);
	if (!kdf_in_range(*opslimit, *memlimit) || len < KF_MIN_LEN) {
		return DX_EKEYFILE_CORRUPT;
	}
	return DX_OK;
}

static void wipe_bytes(ProtobufCBinaryData *b)
{
	if (b->data != NULL && b->len > 0) {
		sodium_memzero(b->data, b->len);
	}
}

/* protobuf-c copied every secret field out of the plaintext: wipe the copies. */
static void wipe_secrets(Dx__KeySecrets *ks)
{
	wipe_bytes(&ks->identity_seed);
	wipe_bytes(&ks->static_secret);
	for (size_t i = 0; i < ks->n_prekeys; i++) {
		if (ks->prekeys[i] != NULL) {
			wipe_bytes(&ks->prekeys[i]->secret_key);
		}
	}
}

/*
 * Appends one prekey record to k. A held secret must produce the published
 * public key; an erased one must be absent and carry its erasure time.
 */
static int load_prekey(struct keys *k, const Dx__PrekeySecret *p)
{
	if (p->public_key.len != KEYS_DH_PK_LEN || p->signature.len != KEYS_SIG_LEN ||
	    p->valid_from_ms >= p->valid_until_ms) {
		return DX_EKEYFILE_CORRUPT;
	}
	if (keys_verify_prekey(k->state, k->identity_pk, p->public_key.data, p->valid_from_ms,
			       p->valid_until_ms, p->signature.data) != DX_OK) {
		return DX_EKEYFILE_CORRUPT;
	}
	size_t i = k->n_prekeys;
	uint8_t *sk = k->sec->prekey_sk[i];
	if (p->secret_key.len == KEYS_DH_SK_LEN && p->erased_ms == 0) {
		uint8_t check[KEYS_DH_PK_LEN];
		memcpy(sk, p->secret_key.data, KEYS_DH_SK_LEN);
		if (crypto_scalarmult_base(check, sk) != 0 ||
		    sodium_memcmp(check, p->public_key.data, KEYS_DH_PK_LEN) != 0) {
			sodium_memzero(sk, KEYS_DH_SK_LEN);
			return DX_EKEYFILE_CORRUPT;
		}
	} else if (p->secret_key.len != 0 || p->erased_ms == 0) {
		return DX_EKEYFILE_CORRUPT;
	}
	struct keys_prekey *rec = &k->prekeys[i];
	memcpy(rec->pk, p->public_key.data, KEYS_DH_PK_LEN);
	keys_key_id(rec->id, rec->pk);
	rec->valid_from_ms = p->valid_from_ms;
	rec->valid_until_ms = p->valid_until_ms;
	memcpy(rec->sig, p->signature.data, KEYS_SIG_LEN);
	rec->erased_ms = p->erased_ms;
	k->n_prekeys++;
	return DX_OK;
}

/* Builds a key set from decoded secrets, checking every consistency rule. */
static int load_secrets(const Dx__KeySecrets *ks, struct keys **out)
{
	if (!dx_state_valid(ks->state) || ks->identity_seed.len != KEYS_SIGN_SEED_LEN ||
	    ks->static_secret.len != KEYS_DH_SK_LEN || ks->static_signature.len != KEYS_SIG_LEN ||
	    ks->n_prekeys > KEYS_MAX_PREKEYS) {
		return DX_EKEYFILE_CORRUPT;
	}
	struct keys *k = NULL;
	int rc = keys_alloc(&k);
	if (rc != DX_OK) {
		return rc;
	}
	memcpy(k->state, ks->state, DX_STATE_LEN + 1);
	k->created_ms = ks->created_ms;
	memcpy(k->sec->static_sk, ks->static_secret.data, KEYS_DH_SK_LEN);
	rc = keys_complete_identity(k, ks->identity_seed.data);
	if (rc != DX_OK) {
		goto out;
	}
	memcpy(k->static_sig, ks->static_signature.data, KEYS_SIG_LEN);
	if (keys_verify_static(k->state, k->identity_pk, k->static_pk, k->static_sig) != DX_OK) {
		rc = DX_EKEYFILE_CORRUPT;
		goto out;
	}
	for (size_t i = 0; i < ks->n_prekeys; i++) {
		rc = load_prekey(k, ks->prekeys[i]);
		if (rc != DX_OK) {
			goto out;
		}
	}
out:
	if (rc != DX_OK) {
		keys_free(k);
		return rc;
	}
	*out = k;
	return DX_OK;
}

int keyfile_decode(const uint8_t *buf, size_t len, const char *pass, size_t passlen,
		   struct keys **out)
{
	uint64_t opslimit, memlimit;
	if (buf == NULL || out == NULL || (pass == NULL && passlen != 0)) {
		return DX_EINVAL;
	}
	int rc = check_header(buf, len, &opslimit, &memlimit);
	if (rc != DX_OK) {
		return rc;
	}
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}

	size_t plen = len - KF_HEADER_LEN - KF_TAG_LEN;
	uint8_t *key = sodium_malloc(KF_KEY_LEN);
	uint8_t *plain = sodium_malloc(plen);
	ProtobufCMessage *msg = NULL;
	if (key == NULL || plain == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	rc = derive_key(key, pass != NULL ? pass : "", passlen, buf + KF_OFF_SALT, opslimit,
			memlimit);
	if (rc != DX_OK) {
		goto out;
	}
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain, NULL, NULL, buf + KF_HEADER_LEN,
						       len - KF_HEADER_LEN, buf, KF_HEADER_LEN,
						       buf + KF_OFF_NONCE, key) != 0) {
		rc = DX_EPASSPHRASE;
		goto out;
	}
	rc = proto_unpack_strict(&dx__key_secrets__descriptor, plain, plen, KEYFILE_MAX, &msg);
	if (rc != DX_OK) {
		rc = rc == DX_ENOMEM ? DX_ENOMEM : DX_EKEYFILE_CORRUPT;
		goto out;
	}
	rc = load_secrets((const Dx__KeySecrets *)msg, out);
out:
	if (msg != NULL) {
		wipe_secrets((Dx__KeySecrets *)msg);
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	sodium_free(plain);
	sodium_free(key);
	return rc;
}

/* A key file over KEYFILE_MAX is no key file divex wrote. */
static int read_private_file(const char *path, uint8_t **out, size_t *out_len)
{
	int rc = dx_read_private_file(path, KEYFILE_MAX, out, out_len);
	return rc == DX_ETOOBIG ? DX_EKEYFILE_CORRUPT : rc;
}

int keyfile_read(const char *path, const char *pass, size_t passlen, struct keys **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (path == NULL || out == NULL) {
		return DX_EINVAL;
	}
	int rc = read_private_file(path, &buf, &len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = keyfile_decode(buf, len, pass, passlen, out);
	free(buf);
	return rc;
}

int keyfile_read_kdf(const char *path, struct keyfile_kdf *out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	uint64_t ops, mem;
	int rc = read_private_file(path, &buf, &len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = check_header(buf, len, &ops, &mem);
	free(buf);
	if (rc == DX_OK) {
		out->opslimit = (unsigned long long)ops;
		out->memlimit = (size_t)mem;
	}
	return rc;
}
