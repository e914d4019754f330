/*
 * canon.h: strict decoding of protobuf messages from untrusted bytes.
 *
 * protobuf's encoding is not canonical, and divex signs and hashes exact
 * bytes. To leave an attacker no room to re-encode a message, every wire
 * message is decoded with proto_unpack_strict(), which accepts only the
 * canonical encoding (PROTOCOL.md 3): the size is checked against a cap before
 * protobuf-c allocates anything, no message at any depth may carry unknown
 * fields, and packing the decoded message again must give back exactly the
 * bytes received.
 */
#ifndef DIVEX_PROTO_CANON_H
#define DIVEX_PROTO_CANON_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * Decodes buf (len <= cap) as a message of type desc. Returns DX_ETOOBIG over
 * the cap, DX_EPARSE for anything not canonical. *out is written only on
 * success; free it with protobuf_c_message_free_unpacked(*out, NULL).
 */
int proto_unpack_strict(const ProtobufCMessageDescriptor *desc, const uint8_t *buf, size_t len,
			size_t cap, ProtobufCMessage **out) DX_MUST_CHECK;

/* Packs msg into a new malloc'd buffer. */
int proto_pack_alloc(const ProtobufCMessage *msg, uint8_t **out, size_t *out_len) DX_MUST_CHECK;

#endif
