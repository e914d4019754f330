/*
 * fuzz_relay_request: the relay's decoder of requests from the network, and
 * the node's checks of what the relay answers.
 *
 * The first input byte picks what the rest is:
 *   0: a whole RelayRequest: strict parse, then signature check;
 *   1: a RequestBody, signed by FRA as-is, then parsed and verified (reaches
 *      every field check behind the signature);
 *   2: a Receipt, checked against a fixed leaf and relay key (what a node
 *      does with each answer).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "relay_wire.h"

static struct keys *fra;
static struct relay_identity rid;

static void init(void)
{
	uint8_t seed[32];
	if (fra != NULL) {
		return;
	}
	if (sodium_init() < 0) {
		abort();
	}
	memset(seed, 0x01, sizeof(seed));
	if (keys_generate("FRA", 1700000000000ull, KEYS_PREKEY_PERIOD_MS, seed, &fra) != DX_OK) {
		abort();
	}
	snprintf(rid.name, sizeof(rid.name), "fuzz.divex/relay");
	keys_identity_pk(fra, rid.pk);
}

static void parse_verify(const uint8_t *buf, size_t len)
{
	struct relay_request r;
	uint8_t pk[32];
	if (relay_request_parse(buf, len, &r) != DX_OK) {
		return;
	}
	keys_identity_pk(fra, pk);
	(void)relay_request_verify(&r, pk);
	/* A MACed request: checked under a fixed session key, as a relay would. */
	uint8_t key[RELAY_SESSION_KEY_LEN];
	memset(key, 0x5a, sizeof(key));
	(void)relay_request_verify_mac(&r, key);
	relay_request_free(&r);
}

static void signed_body(const uint8_t *body, size_t len)
{
	uint8_t sig[64], *stmt = malloc(sizeof("divex/v1/relay-request") + len), *out = NULL;
	size_t out_len;
	if (stmt == NULL) {
		return;
	}
	memcpy(stmt, "divex/v1/relay-request", sizeof("divex/v1/relay-request"));
	memcpy(stmt + sizeof("divex/v1/relay-request"), body, len);
	keys_sign(fra, sig, stmt, sizeof("divex/v1/relay-request") + len);
	free(stmt);
	Dx__RelayRequest q = DX__RELAY_REQUEST__INIT;
	q.body = (ProtobufCBinaryData){ len, (uint8_t *)body };
	q.signature = (ProtobufCBinaryData){ 64, sig };
	if (proto_pack_alloc(&q.base, &out, &out_len) == DX_OK) {
		parse_verify(out, out_len);
		free(out);
	}
}

static void receipt(const uint8_t *buf, size_t len)
{
	ProtobufCMessage *m = NULL;
	static const uint8_t leaf[] = "fuzz leaf";
	if (proto_unpack_strict(&dx__receipt__descriptor, buf, len, RELAY_RESPONSE_MAX, &m) != DX_OK) {
		return;
	}
	(void)relay_receipt_verify((const Dx__Receipt *)m, leaf, sizeof(leaf), &rid, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size == 0) {
		return 0;
	}
	switch (data[0] % 3) {
	case 0:
		parse_verify(data + 1, size - 1);
		break;
	case 1:
		signed_body(data + 1, size - 1);
		break;
	default:
		receipt(data + 1, size - 1);
		break;
	}
	return 0;
}
