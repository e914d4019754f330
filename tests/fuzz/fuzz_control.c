/*
 * fuzz_control: the decoders on either side of the node's control socket,
 * and the node's reading of a payload a peer signed.
 *
 * The first input byte picks what the rest is:
 *   0: a ControlRequest, as divexd decodes it from a local caller;
 *   1: a ControlResponse, as divex decodes it from the daemon;
 *   2: a Payload body from an opened envelope, summarised for listings
 *      (the sender is authenticated but not trusted).
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "control.pb-c.h"
#include "node.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ProtobufCMessage *m = NULL;
	if (size == 0) {
		return 0;
	}
	const uint8_t *buf = data + 1;
	size_t len = size - 1;
	switch (data[0] % 3) {
	case 0:
		if (proto_unpack_strict(&dx__control_request__descriptor, buf, len, NODE_CONTROL_MAX,
					&m) == DX_OK) {
			protobuf_c_message_free_unpacked(m, NULL);
		}
		break;
	case 1:
		if (proto_unpack_strict(&dx__control_response__descriptor, buf, len,
					NODE_CONTROL_MAX + 64 * 1024, &m) == DX_OK) {
			protobuf_c_message_free_unpacked(m, NULL);
		}
		break;
	default: {
		char *s = node_payload_summary(buf, len);
		if (s != NULL && strlen(s) > NODE_STORE_SUMMARY_MAX) {
			abort();
		}
		free(s);
		break;
	}
	}
	return 0;
}
