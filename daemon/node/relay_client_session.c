/*
 * relay_client_session.c: the node's side of request sessions (PROTOCOL.md
 * 12.2).
 *
 * The client agrees a session with the relay in the background, by a signed
 * `session` request carrying a fresh X25519 key, and checks the relay's
 * signed answer under the pinned relay key before it uses the key it
 * derives. While a session is live every request that may be MACed is; the
 * fetch and acknowledgement requests (the recipient's evidence of receipt)
 * and the handshake itself are always signed. Until the first handshake
 * completes, after a failed one, and whenever the relay has forgotten the
 * session (DX_ESESSION, after a restart), requests are signed, so a relay
 * without sessions, or one that refuses them, costs speed and nothing else.
 *
 * A session is used for its lifetime less a margin, measured on this
 * node's clock from when the answer arrived; a new one is agreed from half
 * its lifetime on, while the old one stays in use. The key and the
 * handshake's ephemeral secret live in one sodium_malloc'd block. Loop
 * thread only.
 */
#include <stdlib.h>
#include <string.h>

#include "relay_client_impl.h"

/* No handshake is tried again sooner than this after one failed. */
#define SESSION_RETRY_MS (60 * 1000)
/* A session is not used in its last minutes, so that a request MACed with
 * it is not refused because it expired on the way. */
#define SESSION_MARGIN_MS (5 * 60 * 1000)
/* Shortest and longest lifetimes a client accepts from the relay. */
#define SESSION_LIFETIME_MIN_MS (2 * SESSION_MARGIN_MS)
#define SESSION_LIFETIME_MAX_MS (24ull * 3600 * 1000)

struct relay_client_session {
	uint8_t id[RELAY_SESSION_ID_LEN];
	uint8_t key[RELAY_SESSION_KEY_LEN];
	uint8_t next_key[RELAY_SESSION_KEY_LEN]; /* derived, before it is checked in */
	uint8_t pending_sk[32];			 /* the handshake's ephemeral secret */
};

int relay_client_session_open(struct relay_client *c)
{
	c->sess = sodium_malloc(sizeof(*c->sess));
	if (c->sess == NULL) {
		return DX_ENOMEM;
	}
	sodium_memzero(c->sess, sizeof(*c->sess));
	return DX_OK;
}

void relay_client_session_free(struct relay_client *c)
{
	sodium_free(c->sess); /* wipes it */
	c->sess = NULL;
}

/* Queues a signed handshake; on failure, tries again after SESSION_RETRY_MS. */
static void start_handshake(struct relay_client *c, uint64_t now)
{
	uint8_t pk[32];
	Dx__SessionOp so = DX__SESSION_OP__INIT;
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	struct op *op = relay_client_op_new(c, OP_SESSION, NULL);
	c->sess_retry_ms = now + SESSION_RETRY_MS;
	if (op == NULL) {
		return;
	}
	randombytes_buf(c->sess->pending_sk, sizeof(c->sess->pending_sk));
	crypto_scalarmult_base(pk, c->sess->pending_sk);
	so.client_pk = (ProtobufCBinaryData){ sizeof(pk), pk };
	body.op_case = DX__REQUEST_BODY__OP_SESSION;
	body.session = &so;
	c->sess_pending = 1;
	if (relay_client_op_queue(c, op, &body) != DX_OK) {
		c->sess_pending = 0;
		sodium_memzero(c->sess->pending_sk, sizeof(c->sess->pending_sk));
	}
}

int relay_client_wrap(struct relay_client *c, struct op *op, const uint8_t *body, size_t len,
		      uint8_t **out, size_t *out_len)
{
	uint64_t now = dx_now_ms();
	int may_mac = op->kind != OP_FETCH && op->kind != OP_ACK && op->kind != OP_SESSION;
	if (may_mac && !c->sess_pending && !c->closing && now >= c->sess_retry_ms &&
	    (!c->sess_ready || now >= c->sess_renew_ms)) {
		start_handshake(c, now);
	}
	if (may_mac && c->sess_ready && now < c->sess_expires_ms) {
		op->mac = 1;
		memcpy(op->session, c->sess->id, RELAY_SESSION_ID_LEN);
		return relay_request_wrap_mac(c->sess->id, c->sess->key, body, len, out, out_len);
	}
	op->mac = 0;
	return relay_request_wrap_signed(c->keys, body, len, out, out_len);
}

/* Checks the relay's answer to a handshake and derives the key into next_key. */
static int accept_answer(struct relay_client *c, const struct op *op, const Dx__RelayResponse *r)
{
	const Dx__SessionAnswer *a = r->session;
	uint8_t rh[32], transcript[32], stmt[RELAY_SESSION_STATEMENT_MAX];
	if (a == NULL || a->session_id.len != RELAY_SESSION_ID_LEN || a->relay_pk.len != 32 ||
	    a->signature.len != KEYS_SIG_LEN || a->lifetime_ms < SESSION_LIFETIME_MIN_MS ||
	    a->lifetime_ms > SESSION_LIFETIME_MAX_MS) {
		return DX_EPARSE;
	}
	relay_request_hash(rh, op->request, op->request_len);
	relay_session_transcript(transcript, rh, a->relay_pk.data, a->session_id.data,
				 a->lifetime_ms);
	size_t n = relay_session_statement(stmt, transcript);
	if (crypto_sign_verify_detached(a->signature.data, stmt, n, c->relay.pk) != 0) {
		return DX_ESIG;
	}
	return relay_session_key(c->sess->next_key, c->sess->pending_sk, a->relay_pk.data,
				 transcript);
}

void relay_client_session_finish(struct op *op, int rc, const Dx__RelayResponse *r)
{
	struct relay_client *c = op->c;
	uint64_t now = dx_now_ms();
	c->sess_pending = 0;
	if (rc == DX_OK) {
		rc = accept_answer(c, op, r);
	}
	sodium_memzero(c->sess->pending_sk, sizeof(c->sess->pending_sk));
	if (rc != DX_OK) {
		/* Requests stay signed (or keep the session in use); a handshake
		 * is tried again later. A forged answer is the relay's or the
		 * network's fault and is counted. */
		sodium_memzero(c->sess->next_key, sizeof(c->sess->next_key));
		c->stats.session_failures++;
		return;
	}
	memcpy(c->sess->id, r->session->session_id.data, RELAY_SESSION_ID_LEN);
	memcpy(c->sess->key, c->sess->next_key, RELAY_SESSION_KEY_LEN);
	sodium_memzero(c->sess->next_key, sizeof(c->sess->next_key));
	c->sess_ready = 1;
	c->sess_expires_ms = now + r->session->lifetime_ms - SESSION_MARGIN_MS;
	c->sess_renew_ms = now + r->session->lifetime_ms / 2;
	c->sess_retry_ms = 0;
	c->stats.sessions++;
}

void relay_client_session_lost(struct relay_client *c, const struct op *op)
{
	/* Only the session the request used is forgotten: a newer one may
	 * already have replaced it. */
	if (c->sess_ready && sodium_memcmp(c->sess->id, op->session, RELAY_SESSION_ID_LEN) == 0) {
		c->sess_ready = 0;
		sodium_memzero(c->sess->key, sizeof(c->sess->key));
	}
	c->stats.sessions_lost++;
}
