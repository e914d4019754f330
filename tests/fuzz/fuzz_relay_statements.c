/*
 * fuzz_relay_statements: the node's decoding and checks of the relay's
 * answer to `statements` (PROTOCOL.md 12.4): the input is a RelayResponse,
 * decoded strictly as the relay client does, then every statement is
 * checked against a fixed digest and relay key (relay_client_check_statements).
 * The seed corpus holds real answers written by test_relay_statements with
 * DIVEX_REGEN_VECTORS=1.
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "relay_client.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct relay_identity rid = { .name = "test.divex/relay" };
	static const uint8_t digest[ENVELOPE_HASH_LEN] = { 0x11 };
	ProtobufCMessage *m = NULL;
	struct relay_statement *st = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	if (proto_unpack_strict(&dx__relay_response__descriptor, data, size, RELAY_RESPONSE_MAX,
				&m) != DX_OK) {
		return 0;
	}
	if (relay_client_check_statements(&rid, digest, (const Dx__RelayResponse *)m, &st, &n,
					  &buf) == DX_OK) {
		free(st);
		free(buf);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return 0;
}
