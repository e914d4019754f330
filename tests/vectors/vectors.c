/*
 * vectors.c: envelope test vectors. Every secret is derived from a published
 * seed (PROTOCOL.md 9.1) and every random choice is fixed, so the output is
 * the same on every run; a second implementation recomputes each field.
 */
#include "vectors.h"

#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "seal.h"
#include "wire.pb-c.h"

#define CREATED_MS 1700000001000ull
#define KEYS_AT_MS 1700000000000ull

static json_t *hex(const uint8_t *b, size_t n)
{
	char *s = malloc(2 * n + 1);
	dx_hex(s, b, n);
	json_t *j = json_string(s);
	free(s);
	return j;
}

/* The documented test derivation, recomputed here from its definition. */
static void derive(uint8_t out[32], const uint8_t seed[32], const char *what, uint32_t index)
{
	crypto_generichash_state st;
	uint8_t idx[4];
	dx_put_be32(idx, index);
	crypto_generichash_init(&st, seed, 32, 32);
	crypto_generichash_update(&st, (const uint8_t *)"divex/v1/test-derive", 21);
	crypto_generichash_update(&st, (const uint8_t *)what, strlen(what) + 1);
	crypto_generichash_update(&st, idx, 4);
	crypto_generichash_final(&st, out, 32);
}

static json_t *state_json(const struct keys *k, const uint8_t seed[32])
{
	uint8_t b[64], id[16], sk[32];
	char fp[KEYS_FP_STR_LEN];
	json_t *j = json_object();
	json_object_set_new(j, "state", json_string(keys_state(k)));
	json_object_set_new(j, "seed", hex(seed, 32));
	derive(sk, seed, "identity", 0);
	json_object_set_new(j, "identity_seed", hex(sk, 32));
	keys_identity_pk(k, b);
	json_object_set_new(j, "identity_pk", hex(b, 32));
	keys_fingerprint(fp, keys_state(k), b);
	json_object_set_new(j, "fingerprint", json_string(fp));
	keys_identity_id(k, id);
	json_object_set_new(j, "identity_key_id", hex(id, 16));
	derive(sk, seed, "static", 0);
	json_object_set_new(j, "static_sk", hex(sk, 32));
	keys_static_pk(k, b);
	json_object_set_new(j, "static_pk", hex(b, 32));
	keys_static_id(k, id);
	json_object_set_new(j, "static_key_id", hex(id, 16));
	keys_static_sig(k, b);
	json_object_set_new(j, "static_signature", hex(b, 64));
	const struct keys_prekey *pk = keys_prekey_at(k, 0);
	json_t *p = json_object();
	derive(sk, seed, "prekey", 0);
	json_object_set_new(p, "sk", hex(sk, 32));
	json_object_set_new(p, "pk", hex(pk->pk, 32));
	json_object_set_new(p, "id", hex(pk->id, 16));
	json_object_set_new(p, "valid_from_ms", json_integer((json_int_t)pk->valid_from_ms));
	json_object_set_new(p, "valid_until_ms", json_integer((json_int_t)pk->valid_until_ms));
	json_object_set_new(p, "signature", hex(pk->sig, 64));
	json_object_set_new(j, "prekey", p);
	sodium_memzero(sk, sizeof(sk));
	return j;
}

/* The Payload of the first vector: a small case note with a marking. */
static int vector_body(uint8_t **out, size_t *len)
{
	Dx__Payload pl = DX__PAYLOAD__INIT;
	Dx__Marking mk = DX__MARKING__INIT;
	mk.handling = DX__HANDLING_CODE__H2_NO_DISSEMINATION;
	mk.source_evaluation = "B";
	mk.information_evaluation = 2;
	mk.releasability = "competent national authorities of MEX";
	pl.type = 1;
	pl.case_id = "FRA-2026-0042";
	pl.marking = &mk;
	pl.copy_number = 1;
	pl.copy_count = 1;
	pl.copy_for = "MEX";
	pl.subject = "Rifles diverted in transit";
	pl.text = "Forty rifles with serial numbers removed were found in transit.";
	return proto_pack_alloc(&pl.base, out, len);
}

static json_t *one_vector(const struct keys *fra, const struct keys *mex, const char *name,
			  const uint8_t *body, size_t body_len, const uint8_t (*att)[16],
			  size_t n_att, const uint8_t *cp, size_t cp_len, uint8_t fill)
{
	struct seal_peer to;
	uint8_t id[16], eph[32], eph_pk[32], out_id[16];
	uint8_t *env = NULL;
	size_t len;
	struct seal_trace tr;
	memset(id, fill, sizeof(id));
	memset(eph, (uint8_t)(fill + 1), sizeof(eph));
	memset(&to, 0, sizeof(to));
	memcpy(to.state, keys_state(mex), 4);
	keys_identity_pk(mex, to.identity_pk);
	keys_static_pk(mex, to.static_pk);
	memcpy(to.prekey_pk, keys_prekey_at(mex, 0)->pk, 32);
	struct seal_params p = {
		.sender = fra, .recipient = &to, .sequence = 1, .created_ms = CREATED_MS,
		.checkpoint = cp, .checkpoint_len = cp_len, .attachment_ids = att,
		.n_attachment_ids = n_att, .body = body, .body_len = body_len,
		.fixed_id = id, .fixed_ephemeral = eph,
	};
	if (seal_envelope(&p, &env, &len, out_id, &tr) != DX_OK) {
		return NULL;
	}
	struct envelope_info e;
	if (envelope_parse(env, len, &e) != DX_OK) {
		free(env);
		return NULL;
	}
	crypto_scalarmult_base(eph_pk, eph);
	json_t *v = json_object();
	json_object_set_new(v, "name", json_string(name));
	json_object_set_new(v, "envelope_id", hex(id, 16));
	json_object_set_new(v, "ephemeral_sk", hex(eph, 32));
	json_object_set_new(v, "ephemeral_pk", hex(eph_pk, 32));
	json_object_set_new(v, "sequence", json_integer(1));
	json_object_set_new(v, "created_ms", json_integer((json_int_t)CREATED_MS));
	json_object_set_new(v, "body", hex(body, body_len));
	json_object_set_new(v, "dh1", hex(tr.dh1, 32));
	json_object_set_new(v, "dh2", hex(tr.dh2, 32));
	json_object_set_new(v, "dh3", hex(tr.dh3, 32));
	json_object_set_new(v, "transcript_hash", hex(tr.transcript_hash, 32));
	json_object_set_new(v, "master", hex(tr.master, 32));
	json_object_set_new(v, "aead_key", hex(tr.aead_key, 32));
	json_object_set_new(v, "nonce", hex(tr.nonce, 24));
	json_object_set_new(v, "key_commitment", hex(e.key_commitment, 32));
	json_object_set_new(v, "inner_signature", hex(tr.inner_signature, 64));
	json_object_set_new(v, "header", hex(e.header, e.header_len));
	json_object_set_new(v, "ciphertext", hex(e.ciphertext, e.ciphertext_len));
	json_object_set_new(v, "ciphertext_hash", hex(e.ciphertext_hash, 32));
	json_object_set_new(v, "outer_signature", hex(e.signature, 64));
	json_object_set_new(v, "digest", hex(e.digest, 32));
	json_object_set_new(v, "envelope", hex(env, len));
	free(env);
	return v;
}

json_t *vectors_envelope(void)
{
	uint8_t s1[32], s2[32], *body = NULL;
	size_t body_len;
	struct keys *fra = NULL, *mex = NULL;
	json_t *doc = NULL;
	memset(s1, 0x01, 32);
	memset(s2, 0x02, 32);
	if (sodium_init() < 0 ||
	    keys_generate("FRA", KEYS_AT_MS, KEYS_PREKEY_PERIOD_MS, s1, &fra) != DX_OK ||
	    keys_generate("MEX", KEYS_AT_MS, KEYS_PREKEY_PERIOD_MS, s2, &mex) != DX_OK ||
	    vector_body(&body, &body_len) != DX_OK) {
		goto out;
	}
	static const uint8_t att[2][16] = { { 0xa1 }, { 0xa2 } };
	static const uint8_t cp[] = "divex.example/relay\n42\nAAAA\n";
	json_t *list = json_array();
	json_array_append_new(list, one_vector(fra, mex, "case-note", body, body_len, NULL, 0,
					       NULL, 0, 0x10));
	json_array_append_new(list, one_vector(fra, mex, "empty-body-attachments-checkpoint",
					       NULL, 0, att, 2, cp, sizeof(cp) - 1, 0x20));
	doc = json_object();
	json_object_set_new(doc, "about",
			    json_string("divex suite 1 envelope vectors; see docs/PROTOCOL.md section 9. "
					"Regenerate with: build/tests/gen_vectors > tests/vectors/envelope.json"));
	json_object_set_new(doc, "suite", json_integer(1));
	json_object_set_new(doc, "sender", state_json(fra, s1));
	json_object_set_new(doc, "recipient", state_json(mex, s2));
	json_object_set_new(doc, "vectors", list);
out:
	free(body);
	keys_free(fra);
	keys_free(mex);
	return doc;
}

char *vectors_envelope_dump(void)
{
	json_t *doc = vectors_envelope();
	if (doc == NULL) {
		return NULL;
	}
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(doc);
	return s;
}
