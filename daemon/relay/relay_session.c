/*
 * relay_session.c: request sessions (PROTOCOL.md 12.2).
 *
 * A node agrees a session key with the relay once, by a signed `session`
 * request answered with the relay's signed half of an ephemeral X25519
 * exchange; its later requests then carry a MAC under that key instead of an
 * Ed25519 signature. A MAC costs about a microsecond per KiB where a
 * verification costs about fifty microseconds, and it is checked on the loop
 * thread without a hand-off.
 *
 * Sessions live in memory only: a restarted relay knows none, answers
 * DX_ESESSION, and the node signs that request and agrees a new session. Each
 * member holds at most RELAY_SESSIONS_PER_MEMBER sessions in one
 * sodium_malloc'd block allocated at its first handshake; a new session
 * replaces an expired one or else the oldest, so a member cannot make the
 * relay hold more. A session is bound to the identity key admitted when it
 * was agreed and is refused once another key is admitted for that State.
 * The requests that are evidence (fetch, acknowledgement) and the handshake
 * itself are always signed. Loop thread only.
 */
#include <string.h>

#include "relay.h"

struct relay_session {
	uint8_t id[RELAY_SESSION_ID_LEN];
	uint8_t key[RELAY_SESSION_KEY_LEN];
	uint8_t identity_pk[KEYS_SIGN_PK_LEN];
	uint64_t created;    /* the order of creation: the oldest has the smallest */
	uint64_t expires_ms; /* 0: the slot is free */
};

struct relay_sessions {
	struct relay_session s[RELAY_SESSIONS_PER_MEMBER];
	uint64_t created; /* sessions agreed so far (a millisecond can hold several) */
	uint8_t scratch_sk[32]; /* the relay's ephemeral secret, during a handshake */
};

static void slot_clear(struct relay_session *s)
{
	sodium_memzero(s, sizeof(*s));
}

/* The member's session with this id, whether expired or not, or NULL. */
static struct relay_session *session_find(struct relay_member *m, const uint8_t *id)
{
	if (m->sessions == NULL) {
		return NULL;
	}
	for (size_t i = 0; i < RELAY_SESSIONS_PER_MEMBER; i++) {
		struct relay_session *s = &m->sessions->s[i];
		if (s->expires_ms != 0 && sodium_memcmp(s->id, id, RELAY_SESSION_ID_LEN) == 0) {
			return s;
		}
	}
	return NULL;
}

int relay_session_check(struct relay_member *m, const struct relay_request *req, uint64_t now)
{
	switch (req->body->op_case) {
	case DX__REQUEST_BODY__OP_FETCH:
	case DX__REQUEST_BODY__OP_ACK:
	case DX__REQUEST_BODY__OP_SESSION:
		/* Evidence of receipt, and the handshake, are signed. */
		return DX_EREQ_SIG;
	default:
		break;
	}
	struct relay_session *s = session_find(m, req->outer->session.data);
	if (s == NULL) {
		return DX_ESESSION;
	}
	if (now >= s->expires_ms ||
	    sodium_memcmp(s->identity_pk, m->identity_pk, KEYS_SIGN_PK_LEN) != 0) {
		slot_clear(s);
		return DX_ESESSION;
	}
	return relay_request_verify_mac(req, s->key);
}

/* A free or expired slot, else the oldest session's. */
static struct relay_session *slot_pick(struct relay_sessions *set, uint64_t now)
{
	struct relay_session *oldest = &set->s[0];
	for (size_t i = 0; i < RELAY_SESSIONS_PER_MEMBER; i++) {
		struct relay_session *s = &set->s[i];
		if (s->expires_ms == 0 || now >= s->expires_ms) {
			return s;
		}
		if (s->created < oldest->created) {
			oldest = s;
		}
	}
	return oldest;
}

int relay_op_session(struct relay *r, struct relay_op *op)
{
	const Dx__SessionOp *q = op->req.body->session;
	struct relay_member *m = relay_member(r, op->req.body->node);
	uint8_t relay_pk[32], rh[32], transcript[32], stmt[RELAY_SESSION_STATEMENT_MAX];
	uint8_t id[RELAY_SESSION_ID_LEN];
	uint64_t now = dx_now_ms(), lifetime = RELAY_SESSION_LIFETIME_MS;

	if (q == NULL || q->client_pk.len != 32) {
		return DX_EPARSE;
	}
	if (m == NULL) {
		return DX_ENOT_MEMBER;
	}
	if (m->sessions == NULL) {
		m->sessions = sodium_malloc(sizeof(*m->sessions));
		if (m->sessions == NULL) {
			return DX_ENOMEM;
		}
		sodium_memzero(m->sessions, sizeof(*m->sessions));
	}
	size_t need = sizeof(Dx__SessionAnswer) + RELAY_SESSION_ID_LEN + 32 + KEYS_SIG_LEN;
	Dx__SessionAnswer *a = (Dx__SessionAnswer *)relay_op_own(op, need);
	if (a == NULL) {
		return DX_ENOMEM;
	}
	dx__session_answer__init(a);
	uint8_t *buf = (uint8_t *)(a + 1);

	randombytes_buf(m->sessions->scratch_sk, sizeof(m->sessions->scratch_sk));
	crypto_scalarmult_base(relay_pk, m->sessions->scratch_sk);
	randombytes_buf(id, sizeof(id));
	/* The transcript binds the node's signed request (its ephemeral key,
	 * name, time), the relay's ephemeral key, the id and the lifetime. */
	relay_request_hash(rh, op->raw, op->raw_len);
	relay_session_transcript(transcript, rh, relay_pk, id, lifetime);
	struct relay_session *s = slot_pick(m->sessions, now);
	slot_clear(s);
	int rc = relay_session_key(s->key, m->sessions->scratch_sk, q->client_pk.data, transcript);
	sodium_memzero(m->sessions->scratch_sk, sizeof(m->sessions->scratch_sk));
	if (rc != DX_OK) {
		slot_clear(s);
		return rc;
	}
	memcpy(s->id, id, sizeof(id));
	memcpy(s->identity_pk, m->identity_pk, KEYS_SIGN_PK_LEN);
	s->created = ++m->sessions->created;
	s->expires_ms = now + lifetime;

	memcpy(buf, id, RELAY_SESSION_ID_LEN);
	memcpy(buf + RELAY_SESSION_ID_LEN, relay_pk, 32);
	keys_signer_sign(r->signer, buf + RELAY_SESSION_ID_LEN + 32, stmt,
			 relay_session_statement(stmt, transcript));
	a->session_id = (ProtobufCBinaryData){ RELAY_SESSION_ID_LEN, buf };
	a->relay_pk = (ProtobufCBinaryData){ 32, buf + RELAY_SESSION_ID_LEN };
	a->lifetime_ms = lifetime;
	a->signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, buf + RELAY_SESSION_ID_LEN + 32 };
	op->resp.session = a;
	return DX_OK;
}

void relay_sessions_free(struct relay *r)
{
	if (r->members == NULL) {
		return;
	}
	for (size_t i = 0; i < RELAY_STATE_SLOTS; i++) {
		/* sodium_free wipes the block. */
		sodium_free(r->members[i].sessions);
		r->members[i].sessions = NULL;
	}
}
