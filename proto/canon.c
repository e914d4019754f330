/*
 * canon.c: canonical-only protobuf decoding. See canon.h for the why.
 */
#include "canon.h"

#include <stdlib.h>
#include <string.h>

/* True when msg or any sub-message carries unknown fields. */
static int has_unknown(const ProtobufCMessage *msg)
{
	if (msg->n_unknown_fields != 0) {
		return 1;
	}
	const ProtobufCMessageDescriptor *d = msg->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		if (f->type != PROTOBUF_C_TYPE_MESSAGE) {
			continue;
		}
		const char *base = (const char *)msg;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)(base + f->quantifier_offset);
			ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(base + f->offset);
			for (size_t j = 0; j < n; j++) {
				if (arr[j] != NULL && has_unknown(arr[j])) {
					return 1;
				}
			}
		} else {
			const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
			if (sub != NULL && has_unknown(sub)) {
				return 1;
			}
		}
	}
	return 0;
}

int proto_unpack_strict(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
			size_t cap, ProtobufCMessage **out)
{
	if (len > cap) {
		return DX_ETOOBIG;
	}
	ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, len, buf);
	if (msg == NULL) {
		return DX_EPARSE;
	}
	int rc = DX_EPARSE;
	uint8_t *again = NULL;
	if (has_unknown(msg)) {
		goto out;
	}
	size_t n = protobuf_c_message_get_packed_size(msg);
	if (n != len) {
		goto out;
	}
	again = malloc(n > 0 ? n : 1);
	if (again == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	if (protobuf_c_message_pack(msg, again) != n || (n > 0 && memcmp(again, buf, n) != 0)) {
		goto out;
	}
	*out = msg;
	msg = NULL;
	rc = DX_OK;
out:
	/* The copy may hold secrets (a key file's plaintext): wipe it. */
	if (again != NULL) {
		explicit_bzero(again, protobuf_c_message_get_packed_size(msg != NULL ? msg : *out));
		free(again);
	}
	if (msg != NULL) {
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	return rc;
}

int proto_pack_alloc(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len)
{
	size_t n = protobuf_c_message_get_packed_size(msg);
	uint8_t *buf = malloc(n > 0 ? n : 1);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	protobuf_c_message_pack(msg, buf);
	*out = buf;
	*out_len = n;
	return DX_OK;
}
