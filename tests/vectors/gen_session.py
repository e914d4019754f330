#!/usr/bin/env python3
"""gen_session.py: the request-session vector (PROTOCOL.md 12.2), computed
from the protocol's definitions alone with Python's hashlib and the
`cryptography` package (Debian: python3-cryptography), independently of the
C code. It prints tests/vectors/session.json; test_session_vector checks the
C implementation against that file.

    python3 tests/vectors/gen_session.py > tests/vectors/session.json
"""
import hashlib
import json

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, x25519


def L(text):
    return text.encode() + b"\x00"


def h256(data, key=b""):
    return hashlib.blake2b(data, digest_size=32, key=key).digest()


def be64(n):
    return n.to_bytes(8, "big")


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, data):
    """A length-delimited protobuf field."""
    return varint(num << 3 | 2) + varint(len(data)) + data


def field_varint(num, n):
    return varint(num << 3) + varint(n)


def raw(priv):
    return priv.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)


def derive(seed, what, index):
    """PROTOCOL.md 9.1."""
    return h256(L("divex/v1/test-derive") + what.encode() + b"\x00" + index.to_bytes(4, "big"),
                key=seed)


fra_seed = bytes([1]) * 32
fra = ed25519.Ed25519PrivateKey.from_private_bytes(derive(fra_seed, "identity", 0))
relay_seed = bytes([0x44]) * 32
relay = ed25519.Ed25519PrivateKey.from_private_bytes(relay_seed)
client_sk = bytes([0x11]) * 32
relay_sk = bytes([0x22]) * 32
client = x25519.X25519PrivateKey.from_private_bytes(client_sk)
relay_eph = x25519.X25519PrivateKey.from_private_bytes(relay_sk)
client_pk = raw(client)
relay_pk = raw(relay_eph)
session_id = bytes([0x33]) * 16
lifetime_ms = 3600000

# The signed handshake request: RequestBody {node, request_id, time_ms, session {client_pk}}.
hs_body = (field(1, b"FRA") + field(2, bytes([0x55]) * 16) + field_varint(3, 1700000002000)
           + field(22, field(1, client_pk)))
hs_sig = fra.sign(L("divex/v1/relay-request") + hs_body)
hs_request = field(1, hs_body) + field(2, hs_sig)

request_hash = h256(L("divex/v1/request-hash") + hs_request)
transcript = h256(L("divex/v1/session") + request_hash + relay_pk + session_id + be64(lifetime_ms))
dh = relay_eph.exchange(x25519.X25519PublicKey.from_public_bytes(client_pk))
assert dh == client.exchange(x25519.X25519PublicKey.from_public_bytes(relay_pk))
session_key = h256(L("divex/v1/session-key") + transcript, key=dh)
relay_sig = relay.sign(L("divex/v1/relay-session") + transcript)

# A MACed request: RequestBody {node, request_id, time_ms, get_checkpoint {}}.
body = field(1, b"FRA") + field(2, bytes([0x66]) * 16) + field_varint(3, 1700000003000) + field(18, b"")
mac = h256(L("divex/v1/relay-request-mac") + session_id + h256(body), key=session_key)
mac_request = field(1, body) + field(3, session_id) + field(4, mac)

print(json.dumps({
    "description": "Request session (PROTOCOL.md 12.2): FRA (seed 01*32, section 9.1) agrees a "
                   "session with a relay whose Ed25519 seed is 44*32, then MACs a request. "
                   "Computed by tests/vectors/gen_session.py from the protocol's definitions. "
                   "Byte strings are lowercase hex.",
    "fra_identity_pk": raw(fra).hex(),
    "relay_seed": relay_seed.hex(),
    "relay_pk": raw(relay).hex(),
    "client_sk": client_sk.hex(),
    "client_pk": client_pk.hex(),
    "handshake_body": hs_body.hex(),
    "handshake_request": hs_request.hex(),
    "request_hash": request_hash.hex(),
    "relay_ephemeral_sk": relay_sk.hex(),
    "relay_ephemeral_pk": relay_pk.hex(),
    "session_id": session_id.hex(),
    "lifetime_ms": lifetime_ms,
    "transcript": transcript.hex(),
    "shared_secret": dh.hex(),
    "session_key": session_key.hex(),
    "relay_signature": relay_sig.hex(),
    "mac_body": body.hex(),
    "mac": mac.hex(),
    "mac_request": mac_request.hex(),
}, indent=2))
