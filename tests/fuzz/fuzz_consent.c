/*
 * fuzz_consent.c: libFuzzer harness for consent decisions (keys/consent.h).
 * The first byte chooses the mode: 0x00 signs the rest as a statement with a
 * fixed FRA key, so that the fuzzer reaches every check behind the
 * signature; anything else verifies the rest as a whole ConsentDecision.
 * Every decision that verifies is then run through the export rule for
 * every handling code and use, alone and beside a fixed grant.
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "consent.h"

static struct keys *fra;
static uint8_t fra_pk[KEYS_SIGN_PK_LEN];

static void init(void)
{
	uint8_t seed[32];
	if (fra != NULL) {
		return;
	}
	if (sodium_init() < 0) {
		abort();
	}
	memset(seed, 1, sizeof(seed));
	if (keys_generate("FRA", 1700000000000ull, KEYS_PREKEY_PERIOD_MS, seed, &fra) != DX_OK) {
		abort();
	}
	keys_identity_pk(fra, fra_pk);
}

static uint8_t *sign_statement(const uint8_t *stmt, size_t slen, size_t *len)
{
	static const char label[] = "divex/v1/consent";
	uint8_t sig[KEYS_SIG_LEN], *msg = malloc(sizeof(label) + slen), *out = NULL;
	if (msg == NULL) {
		return NULL;
	}
	memcpy(msg, label, sizeof(label));
	memcpy(msg + sizeof(label), stmt, slen);
	keys_sign(fra, sig, msg, sizeof(label) + slen);
	free(msg);
	Dx__ConsentDecision dec = DX__CONSENT_DECISION__INIT;
	dec.statement = (ProtobufCBinaryData){ slen, (uint8_t *)stmt };
	dec.signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, sig };
	return proto_pack_alloc(&dec.base, &out, len) == DX_OK ? out : NULL;
}

static void exercise(const struct consent_decision *d)
{
	const struct consent_decision *list[1] = { d };
	struct consent_verdict v;
	for (int h = 0; h <= 5; h++) {
		for (int u = 0; u <= 3; u++) {
			struct consent_query q = {
				.handling = h, .use = (enum consent_use)u, .body = d->body[0] ? d->body : "A court",
				.provider = d->provider, .recipient = d->recipient,
				.now_ms = d->decided_ms,
			};
			memcpy(q.item, d->items[0], CONSENT_ITEM_HASH_LEN);
			int rc = consent_allows(&q, list, 1, &v);
			if (rc != DX_OK && rc != DX_ENO_CONSENT) {
				abort();
			}
			if (rc == DX_OK && v.purpose != 0 &&
			    (v.decision != d || d->outcome > DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS)) {
				abort();
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct consent_decision *d = NULL;
	uint8_t *signed_buf = NULL;
	size_t len;
	init();
	if (size == 0) {
		return 0;
	}
	if (data[0] == 0) {
		if (size - 1 > CONSENT_STATEMENT_MAX) {
			return 0;
		}
		signed_buf = sign_statement(data + 1, size - 1, &len);
		if (signed_buf == NULL) {
			return 0;
		}
		if (consent_decision_verify(signed_buf, len, "FRA", fra_pk, &d) == DX_OK) {
			exercise(d);
			consent_decision_free(d);
		}
		free(signed_buf);
		return 0;
	}
	if (consent_decision_verify(data + 1, size - 1, "FRA", fra_pk, &d) == DX_OK) {
		exercise(d);
		consent_decision_free(d);
	}
	return 0;
}
