/*
 * specseal.h: a second, deliberately independent implementation of sealing,
 * written from docs/PROTOCOL.md section 5 with libsodium calls only. Tests use
 * it to check that the spec and the code agree byte for byte, and to build
 * forgeries: the key-compromise-impersonation test gives it a recipient's own
 * secrets and a signer that is not the claimed sender.
 */
#ifndef DIVEX_TESTS_SPECSEAL_H
#define DIVEX_TESTS_SPECSEAL_H

#include <stddef.h>
#include <stdint.h>

#include "seal.h"

struct spec_input {
	uint8_t id[16];
	uint8_t eph_sk[32];
	char sender[4], recipient[4];
	uint8_t sender_identity_pk[32], sender_static_pk[32];
	uint8_t recipient_identity_pk[32], recipient_static_pk[32], prekey_pk[32];
	uint8_t dh1[32]; /* X25519(sender static, prekey), however the caller got it */
	uint64_t sequence, created_ms;
	const uint8_t *body;
	size_t body_len;
	/* Signs with the identity key the forger holds. */
	const struct keys *signer;
};

/* Returns a malloc'd serialized Envelope. */
int spec_seal(const struct spec_input *in, uint8_t **out, size_t *out_len);

#endif
