/*
 * specseal.c: sealing straight from the specification. See specseal.h.
 */
#include "specseal.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wire.pb-c.h"

/* label || 0x00, as every labelled input in PROTOCOL.md begins. */
static void upd_label(crypto_generichash_state *st, const char *label)
{
	crypto_generichash_update(st, (const uint8_t *)label, strlen(label) + 1);
}

static void key_id(uint8_t out[16], const uint8_t pk[32])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, 16);
	upd_label(&st, "divex/v1/key-id");
	crypto_generichash_update(&st, pk, 32);
	crypto_generichash_final(&st, out, 16);
}

static uint8_t *pack(const ProtobufCMessage *m, size_t *len)
{
	*len = protobuf_c_message_get_packed_size(m);
	uint8_t *b = malloc(*len + 1);
	protobuf_c_message_pack(m, b);
	return b;
}

int spec_seal(const struct spec_input *in, uint8_t **out, size_t *out_len)
{
	uint8_t eph_pk[32], dh2[32], dh3[32], prekey_id[16], th[32], master[32], key[32], nonce[24];
	uint8_t commit[32], suite[4] = { 0, 0, 0, 1 };
	crypto_generichash_state st;

	crypto_scalarmult_base(eph_pk, in->eph_sk);
	if (crypto_scalarmult(dh2, in->eph_sk, in->recipient_static_pk) != 0 ||
	    crypto_scalarmult(dh3, in->eph_sk, in->prekey_pk) != 0) {
		return -1;
	}
	key_id(prekey_id, in->prekey_pk);

	crypto_generichash_init(&st, NULL, 0, 32);
	upd_label(&st, "divex/v1/seal-transcript");
	crypto_generichash_update(&st, suite, 4);
	crypto_generichash_update(&st, in->id, 16);
	crypto_generichash_update(&st, (const uint8_t *)in->sender, 3);
	crypto_generichash_update(&st, (const uint8_t *)in->recipient, 3);
	crypto_generichash_update(&st, in->sender_identity_pk, 32);
	crypto_generichash_update(&st, in->sender_static_pk, 32);
	crypto_generichash_update(&st, in->recipient_identity_pk, 32);
	crypto_generichash_update(&st, in->recipient_static_pk, 32);
	crypto_generichash_update(&st, prekey_id, 16);
	crypto_generichash_update(&st, in->prekey_pk, 32);
	crypto_generichash_update(&st, eph_pk, 32);
	crypto_generichash_final(&st, th, 32);

	crypto_generichash_init(&st, th, 32, 32);
	upd_label(&st, "divex/v1/seal-master");
	crypto_generichash_update(&st, in->dh1, 32);
	crypto_generichash_update(&st, dh2, 32);
	crypto_generichash_update(&st, dh3, 32);
	crypto_generichash_final(&st, master, 32);
	crypto_kdf_derive_from_key(key, 32, 1, "dxseal01", master);
	crypto_kdf_derive_from_key(nonce, 24, 2, "dxseal01", master);

	crypto_generichash_init(&st, NULL, 0, 32);
	upd_label(&st, "divex/v1/key-commitment");
	crypto_generichash_update(&st, key, 32);
	crypto_generichash_update(&st, nonce, 24);
	crypto_generichash_final(&st, commit, 32);

	/* Inner signature: label || id || sender || recipient || H(label || body). */
	uint8_t stmt[sizeof("divex/v1/payload") + 16 + 6 + 32], isig[64];
	memcpy(stmt, "divex/v1/payload", sizeof("divex/v1/payload"));
	memcpy(stmt + 17, in->id, 16);
	memcpy(stmt + 33, in->sender, 3);
	memcpy(stmt + 36, in->recipient, 3);
	crypto_generichash_init(&st, NULL, 0, 32);
	upd_label(&st, "divex/v1/body");
	crypto_generichash_update(&st, in->body, in->body_len);
	crypto_generichash_final(&st, stmt + 39, 32);
	keys_sign(in->signer, isig, stmt, sizeof(stmt));

	Dx__SealedPayload sp = DX__SEALED_PAYLOAD__INIT;
	sp.body = (ProtobufCBinaryData){ in->body_len, (uint8_t *)in->body };
	sp.inner_signature = (ProtobufCBinaryData){ 64, isig };
	size_t plen;
	uint8_t *plain = pack(&sp.base, &plen);

	uint8_t sid[16], ssid[16], rsid[16];
	key_id(sid, in->sender_identity_pk);
	key_id(ssid, in->sender_static_pk);
	key_id(rsid, in->recipient_static_pk);
	Dx__EnvelopeHeader h = DX__ENVELOPE_HEADER__INIT;
	h.suite = 1;
	h.envelope_id = (ProtobufCBinaryData){ 16, (uint8_t *)in->id };
	h.sender = (char *)in->sender;
	h.recipient = (char *)in->recipient;
	h.sender_identity_key_id = (ProtobufCBinaryData){ 16, sid };
	h.sender_static_key_id = (ProtobufCBinaryData){ 16, ssid };
	h.recipient_static_key_id = (ProtobufCBinaryData){ 16, rsid };
	h.recipient_prekey_id = (ProtobufCBinaryData){ 16, prekey_id };
	h.ephemeral_key = (ProtobufCBinaryData){ 32, eph_pk };
	h.sequence = in->sequence;
	h.created_ms = in->created_ms;
	h.key_commitment = (ProtobufCBinaryData){ 32, commit };
	size_t hlen;
	uint8_t *hdr = pack(&h.base, &hlen);

	size_t clen = plen + crypto_aead_xchacha20poly1305_ietf_ABYTES;
	uint8_t *ct = malloc(clen);
	crypto_aead_xchacha20poly1305_ietf_encrypt(ct, NULL, plain, plen, hdr, hlen, NULL, nonce, key);

	/* Outer signature: label || be32(len header) || header || H(label || ct). */
	size_t olen = sizeof("divex/v1/envelope") + 4 + hlen + 32;
	uint8_t *ostmt = malloc(olen), osig[64];
	memcpy(ostmt, "divex/v1/envelope", sizeof("divex/v1/envelope"));
	ostmt[18] = (uint8_t)(hlen >> 24);
	ostmt[19] = (uint8_t)(hlen >> 16);
	ostmt[20] = (uint8_t)(hlen >> 8);
	ostmt[21] = (uint8_t)hlen;
	memcpy(ostmt + 22, hdr, hlen);
	crypto_generichash_init(&st, NULL, 0, 32);
	upd_label(&st, "divex/v1/ciphertext");
	crypto_generichash_update(&st, ct, clen);
	crypto_generichash_final(&st, ostmt + 22 + hlen, 32);
	keys_sign(in->signer, osig, ostmt, olen);

	Dx__Envelope env = DX__ENVELOPE__INIT;
	env.header = (ProtobufCBinaryData){ hlen, hdr };
	env.ciphertext = (ProtobufCBinaryData){ clen, ct };
	env.signature = (ProtobufCBinaryData){ 64, osig };
	*out = pack(&env.base, out_len);
	free(ostmt);
	free(ct);
	free(hdr);
	free(plain);
	return 0;
}
