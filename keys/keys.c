/*
 * keys.c: a State's key set: generation, signing, checked Diffie-Hellman,
 * prekey rotation and erasure, and ephemeral keys.
 *
 * All private bytes live in one sodium_malloc'd struct keys_secret per key
 * set (and one per ephemeral key); they are wiped by sodium_free, and a
 * prekey's private half is wiped with sodium_memzero the moment it is erased.
 * Statements signed here carry their own label (PROTOCOL.md section 4).
 */
#include "keys_internal.h"

#include <stdlib.h>
#include <string.h>

static const char LABEL_KEY_ID[] = "divex/v1/key-id";
static const char LABEL_STATIC[] = "divex/v1/static-key";
static const char LABEL_PREKEY[] = "divex/v1/prekey";
static const char LABEL_DERIVE[] = "divex/v1/test-derive";

void keys_key_id(uint8_t id[static KEYS_ID_LEN], const uint8_t pk[static 32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, KEYS_ID_LEN);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_KEY_ID, sizeof(LABEL_KEY_ID));
	crypto_generichash_update(&st, pk, 32);
	crypto_generichash_final(&st, id, KEYS_ID_LEN);
}

void keys_static_statement(uint8_t out[static KEYS_STATIC_STMT_LEN], const char *state,
			   const uint8_t static_pk[static 32])
{
	memcpy(out, LABEL_STATIC, sizeof(LABEL_STATIC));
	memcpy(out + sizeof(LABEL_STATIC), state, DX_STATE_LEN);
	memcpy(out + sizeof(LABEL_STATIC) + DX_STATE_LEN, static_pk, 32);
}

void keys_prekey_statement(uint8_t out[static KEYS_PREKEY_STMT_LEN], const char *state,
			   const uint8_t prekey_pk[static 32], uint64_t from_ms, uint64_t until_ms)
{
	uint8_t *p = out;
	memcpy(p, LABEL_PREKEY, sizeof(LABEL_PREKEY));
	p += sizeof(LABEL_PREKEY);
	memcpy(p, state, DX_STATE_LEN);
	p += DX_STATE_LEN;
	memcpy(p, prekey_pk, 32);
	p += 32;
	dx_put_be64(p, from_ms);
	dx_put_be64(p + 8, until_ms);
}

/* Test-vector derivation (PROTOCOL.md 9): BLAKE2b-256 keyed by the seed. */
static void derive(uint8_t out[static 32], const uint8_t seed[static 32], const char *what,
		   uint32_t index)
{
	crypto_generichash_state st;
	uint8_t idx[4];
	dx_put_be32(idx, index);
	crypto_generichash_init(&st, seed, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)LABEL_DERIVE, sizeof(LABEL_DERIVE));
	crypto_generichash_update(&st, (const uint8_t *)what, strlen(what) + 1);
	crypto_generichash_update(&st, idx, sizeof(idx));
	crypto_generichash_final(&st, out, 32);
}

int keys_alloc(struct keys **out)
{
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	struct keys *k = calloc(1, sizeof(*k));
	if (k == NULL) {
		return DX_ENOMEM;
	}
	k->sec = sodium_malloc(sizeof(*k->sec));
	if (k->sec == NULL) {
		free(k);
		return DX_ENOMEM;
	}
	sodium_memzero(k->sec, sizeof(*k->sec));
	*out = k;
	return DX_OK;
}

void keys_free(struct keys *k)
{
	if (k == NULL) {
		return;
	}
	sodium_free(k->sec); /* wipes before unmapping */
	sodium_memzero(k, sizeof(*k));
	free(k);
}

int keys_complete_identity(struct keys *k, const uint8_t seed[static KEYS_SIGN_SEED_LEN])
{
	if (crypto_sign_seed_keypair(k->identity_pk, k->sec->identity_sk, seed) != 0) {
		return DX_ECRYPTO;
	}
	keys_key_id(k->identity_id, k->identity_pk);
	if (crypto_scalarmult_base(k->static_pk, k->sec->static_sk) != 0) {
		return DX_ECRYPTO;
	}
	keys_key_id(k->static_id, k->static_pk);
	return DX_OK;
}

/* Adds a prekey from a given or random secret, signed for [from, until). */
static int add_prekey(struct keys *k, const uint8_t *secret, uint64_t from_ms, uint64_t until_ms)
{
	if (k->n_prekeys >= KEYS_MAX_PREKEYS) {
		return DX_ETOOBIG;
	}
	size_t i = k->n_prekeys;
	uint8_t *sk = k->sec->prekey_sk[i];
	struct keys_prekey *pk = &k->prekeys[i];
	uint8_t stmt[KEYS_PREKEY_STMT_LEN];

	if (secret != NULL) {
		memcpy(sk, secret, KEYS_DH_SK_LEN);
	} else {
		randombytes_buf(sk, KEYS_DH_SK_LEN);
	}
	memset(pk, 0, sizeof(*pk));
	if (crypto_scalarmult_base(pk->pk, sk) != 0) {
		sodium_memzero(sk, KEYS_DH_SK_LEN);
		return DX_ECRYPTO;
	}
	keys_key_id(pk->id, pk->pk);
	pk->valid_from_ms = from_ms;
	pk->valid_until_ms = until_ms;
	keys_prekey_statement(stmt, k->state, pk->pk, from_ms, until_ms);
	keys_sign(k, pk->sig, stmt, sizeof(stmt));
	k->n_prekeys++;
	return DX_OK;
}

void keys_derive_local_key(const struct keys *k, uint8_t out[static KEYS_STORE_KEY_LEN],
			   const char *purpose)
{
	static const char label[] = "divex/v1/store-key";
	crypto_generichash_state h;
	/* The seed is the first half of libsodium's Ed25519 secret key. */
	crypto_generichash_init(&h, k->sec->identity_sk, KEYS_SIGN_SEED_LEN, KEYS_STORE_KEY_LEN);
	crypto_generichash_update(&h, (const uint8_t *)label, sizeof(label));
	crypto_generichash_update(&h, (const uint8_t *)purpose, strlen(purpose));
	crypto_generichash_final(&h, out, KEYS_STORE_KEY_LEN);
	sodium_memzero(&h, sizeof(h));
}

int keys_generate(const char *state, uint64_t now_ms, uint64_t period_ms, const uint8_t *seed,
		  struct keys **out)
{
	if (!dx_state_valid(state)) {
		return DX_ESTATE_CODE;
	}
	if (period_ms == 0 || now_ms > UINT64_MAX - period_ms) {
		return DX_EINVAL;
	}
	struct keys *k = NULL;
	int rc = keys_alloc(&k);
	if (rc != DX_OK) {
		return rc;
	}
	uint8_t *tmp = sodium_malloc(2 * 32);
	if (tmp == NULL) {
		keys_free(k);
		return DX_ENOMEM;
	}
	uint8_t *id_seed = tmp, *pre_seed = tmp + 32;
	memcpy(k->state, state, DX_STATE_LEN + 1);
	k->created_ms = now_ms;
	if (seed != NULL) {
		derive(id_seed, seed, "identity", 0);
		derive(k->sec->static_sk, seed, "static", 0);
		derive(pre_seed, seed, "prekey", 0);
	} else {
		randombytes_buf(id_seed, 32);
		randombytes_buf(k->sec->static_sk, KEYS_DH_SK_LEN);
		randombytes_buf(pre_seed, 32);
	}
	rc = keys_complete_identity(k, id_seed);
	if (rc != DX_OK) {
		goto out;
	}
	uint8_t stmt[KEYS_STATIC_STMT_LEN];
	keys_static_statement(stmt, k->state, k->static_pk);
	keys_sign(k, k->static_sig, stmt, sizeof(stmt));
	rc = add_prekey(k, pre_seed, now_ms, now_ms + period_ms);
out:
	sodium_free(tmp);
	if (rc != DX_OK) {
		keys_free(k);
		return rc;
	}
	*out = k;
	return DX_OK;
}

const char *keys_state(const struct keys *k)
{
	return k->state;
}

uint64_t keys_created_ms(const struct keys *k)
{
	return k->created_ms;
}

void keys_identity_pk(const struct keys *k, uint8_t pk[static KEYS_SIGN_PK_LEN])
{
	memcpy(pk, k->identity_pk, KEYS_SIGN_PK_LEN);
}

void keys_identity_id(const struct keys *k, uint8_t id[static KEYS_ID_LEN])
{
	memcpy(id, k->identity_id, KEYS_ID_LEN);
}

void keys_static_pk(const struct keys *k, uint8_t pk[static KEYS_DH_PK_LEN])
{
	memcpy(pk, k->static_pk, KEYS_DH_PK_LEN);
}

void keys_static_id(const struct keys *k, uint8_t id[static KEYS_ID_LEN])
{
	memcpy(id, k->static_id, KEYS_ID_LEN);
}

void keys_static_sig(const struct keys *k, uint8_t sig[static KEYS_SIG_LEN])
{
	memcpy(sig, k->static_sig, KEYS_SIG_LEN);
}

void keys_sign(const struct keys *k, uint8_t sig[static KEYS_SIG_LEN], const uint8_t *msg,
	       size_t len)
{
	crypto_sign_detached(sig, NULL, msg, len, k->sec->identity_sk);
}

/* libsodium's crypto_scalarmult refuses an all-zero result (a low-order peer key). */
static int checked_dh(uint8_t out[static KEYS_DH_LEN], const uint8_t *sk, const uint8_t *peer)
{
	if (crypto_scalarmult(out, sk, peer) != 0) {
		sodium_memzero(out, KEYS_DH_LEN);
		return DX_EDH;
	}
	return DX_OK;
}

int keys_dh_static(const struct keys *k, uint8_t out[static KEYS_DH_LEN],
		   const uint8_t peer[static KEYS_DH_PK_LEN])
{
	return checked_dh(out, k->sec->static_sk, peer);
}

static size_t prekey_index(const struct keys *k, const uint8_t id[static KEYS_ID_LEN])
{
	for (size_t i = 0; i < k->n_prekeys; i++) {
		if (sodium_memcmp(k->prekeys[i].id, id, KEYS_ID_LEN) == 0) {
			return i;
		}
	}
	return SIZE_MAX;
}

int keys_dh_prekey(const struct keys *k, const uint8_t id[static KEYS_ID_LEN],
		   uint8_t out[static KEYS_DH_LEN], const uint8_t peer[static KEYS_DH_PK_LEN])
{
	size_t i = prekey_index(k, id);
	if (i == SIZE_MAX) {
		return DX_EPREKEY_UNKNOWN;
	}
	if (k->prekeys[i].erased_ms != 0) {
		return DX_EPREKEY_ERASED;
	}
	return checked_dh(out, k->sec->prekey_sk[i], peer);
}

size_t keys_prekey_count(const struct keys *k)
{
	return k->n_prekeys;
}

const struct keys_prekey *keys_prekey_at(const struct keys *k, size_t i)
{
	return i < k->n_prekeys ? &k->prekeys[i] : NULL;
}

const struct keys_prekey *keys_prekey_find(const struct keys *k, const uint8_t id[static KEYS_ID_LEN])
{
	size_t i = prekey_index(k, id);
	return i == SIZE_MAX ? NULL : &k->prekeys[i];
}

const struct keys_prekey *keys_prekey_current(const struct keys *k, uint64_t now_ms)
{
	const struct keys_prekey *best = NULL;
	for (size_t i = 0; i < k->n_prekeys; i++) {
		const struct keys_prekey *p = &k->prekeys[i];
		if (p->erased_ms != 0 || now_ms < p->valid_from_ms || now_ms >= p->valid_until_ms) {
			continue;
		}
		if (best == NULL || p->valid_from_ms >= best->valid_from_ms) {
			best = p;
		}
	}
	return best;
}

/* Drops record i, shifting later records (and their secrets) down by one. */
static void drop_prekey(struct keys *k, size_t i)
{
	size_t tail = k->n_prekeys - i - 1;
	memmove(&k->prekeys[i], &k->prekeys[i + 1], tail * sizeof(k->prekeys[0]));
	memmove(k->sec->prekey_sk[i], k->sec->prekey_sk[i + 1], tail * KEYS_DH_SK_LEN);
	k->n_prekeys--;
	sodium_memzero(k->sec->prekey_sk[k->n_prekeys], KEYS_DH_SK_LEN);
	memset(&k->prekeys[k->n_prekeys], 0, sizeof(k->prekeys[0]));
}

int keys_rotate_prekey(struct keys *k, uint64_t now_ms, uint64_t period_ms)
{
	if (period_ms == 0 || now_ms > UINT64_MAX - period_ms) {
		return DX_EINVAL;
	}
	if (k->n_prekeys == KEYS_MAX_PREKEYS) {
		size_t i;
		for (i = 0; i < k->n_prekeys && k->prekeys[i].erased_ms == 0; i++) {
		}
		if (i == k->n_prekeys) {
			return DX_ETOOBIG;
		}
		drop_prekey(k, i);
	}
	return add_prekey(k, NULL, now_ms, now_ms + period_ms);
}

int keys_erase_expired_prekeys(struct keys *k, uint64_t now_ms, uint64_t grace_ms)
{
	int n = 0;
	for (size_t i = 0; i < k->n_prekeys; i++) {
		struct keys_prekey *p = &k->prekeys[i];
		if (p->erased_ms != 0) {
			continue;
		}
		if (p->valid_until_ms > UINT64_MAX - grace_ms || p->valid_until_ms + grace_ms > now_ms) {
			continue;
		}
		sodium_memzero(k->sec->prekey_sk[i], KEYS_DH_SK_LEN);
		p->erased_ms = now_ms;
		n++;
	}
	return n;
}

int keys_verify_static(const char *state, const uint8_t identity_pk[static 32],
		       const uint8_t static_pk[static 32], const uint8_t sig[static 64])
{
	uint8_t stmt[KEYS_STATIC_STMT_LEN];
	if (!dx_state_valid(state)) {
		return DX_ESTATE_CODE;
	}
	keys_static_statement(stmt, state, static_pk);
	return crypto_sign_verify_detached(sig, stmt, sizeof(stmt), identity_pk) == 0 ? DX_OK : DX_ESIG;
}

int keys_verify_prekey(const char *state, const uint8_t identity_pk[static 32],
		       const uint8_t prekey_pk[static 32], uint64_t valid_from_ms,
		       uint64_t valid_until_ms, const uint8_t sig[static 64])
{
	uint8_t stmt[KEYS_PREKEY_STMT_LEN];
	if (!dx_state_valid(state)) {
		return DX_ESTATE_CODE;
	}
	keys_prekey_statement(stmt, state, prekey_pk, valid_from_ms, valid_until_ms);
	return crypto_sign_verify_detached(sig, stmt, sizeof(stmt), identity_pk) == 0 ? DX_OK : DX_ESIG;
}

struct keys_ephemeral {
	uint8_t pk[KEYS_DH_PK_LEN];
	uint8_t *sk; /* sodium_malloc'd */
};

int keys_ephemeral_new(const uint8_t *seed, struct keys_ephemeral **out)
{
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	struct keys_ephemeral *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		return DX_ENOMEM;
	}
	e->sk = sodium_malloc(KEYS_DH_SK_LEN);
	if (e->sk == NULL) {
		free(e);
		return DX_ENOMEM;
	}
	if (seed != NULL) {
		memcpy(e->sk, seed, KEYS_DH_SK_LEN);
	} else {
		randombytes_buf(e->sk, KEYS_DH_SK_LEN);
	}
	if (crypto_scalarmult_base(e->pk, e->sk) != 0) {
		keys_ephemeral_free(e);
		return DX_ECRYPTO;
	}
	*out = e;
	return DX_OK;
}

void keys_ephemeral_pk(const struct keys_ephemeral *e, uint8_t pk[static KEYS_DH_PK_LEN])
{
	memcpy(pk, e->pk, KEYS_DH_PK_LEN);
}

int keys_ephemeral_dh(const struct keys_ephemeral *e, uint8_t out[static KEYS_DH_LEN],
		      const uint8_t peer[static KEYS_DH_PK_LEN])
{
	return checked_dh(out, e->sk, peer);
}

void keys_ephemeral_free(struct keys_ephemeral *e)
{
	if (e == NULL) {
		return;
	}
	sodium_free(e->sk);
	free(e);
}
