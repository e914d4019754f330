/*
 * relay_client.c: see relay_client.h. This file holds checkpoint tracking,
 * the reply path, sending, opening and closing; relay_client_ops.c holds the
 * operations and the checks of their answers.
 *
 * Each operation is a struct op that lives from the call that queues it to
 * its reply: it remembers what the answer must be checked against (the
 * request id, the exact signed request, the envelope's digest and parties).
 * Replies pass through one path: strict decoding, the request id, the
 * checkpoint the answer carries, the relay's status, and then the
 * operation's own finisher, which verifies and calls the user's callback
 * exactly once.
 *
 * Checkpoint tracking keeps four slots: the latest adopted checkpoint, the
 * one being proved (at most one consistency request is ever in flight), the
 * largest one seen meanwhile (proved next), and the last one refused (so that
 * every answer that repeats it does not raise the alarm again). Proofs are
 * spaced: a new one starts at most every PROOF_SPACING_MS, unless the client
 * has nothing else in flight, so that a burst of submissions, each answered
 * with a larger checkpoint, costs one proof per interval instead of one
 * request more per submission. What is queued meanwhile is proved when an
 * answer arrives after the interval, or when the client falls idle.
 *
 * Everything runs on the loop thread; the bridge calls on_reply() there.
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "relay_client_impl.h"

static void track(struct relay_client *c, const struct cp_slot *s, int now, uint64_t held);

/* ---- checkpoint tracking ---- */

#define PROOF_SPACING_MS 20

static int proof_due(const struct relay_client *c)
{
	uint64_t now = dx_now_ms();
	return now < c->proof_started_ms || now - c->proof_started_ms >= PROOF_SPACING_MS;
}

static int same_tree(const struct cp_slot *a, const struct cp_slot *b)
{
	return a->cp.size == b->cp.size && memcmp(a->cp.root, b->cp.root, MERKLE_HASH_LEN) == 0;
}

static void adopt(struct relay_client *c, const struct cp_slot *s, int proved)
{
	c->latest = *s;
	if (proved) {
		c->stats.adopted++;
	}
	if (c->on_checkpoint != NULL) {
		c->on_checkpoint(c->cb_arg, c->latest.text, c->latest.len, c->latest.cp.size);
	}
}

static void refuse(struct relay_client *c, int code, const struct cp_slot *old,
		   const struct cp_slot *next)
{
	struct cp_slot held = *old;
	c->refused = *next;
	c->stats.alarms++;
	if (c->on_alarm != NULL) {
		c->on_alarm(c->cb_arg, code, held.text, held.len, c->refused.text, c->refused.len);
	}
}

/*
 * Ends the proof of the pending checkpoint: adopts it when rc is 0; refuses
 * it when the relay's proof was conclusive and failed; otherwise (a transport
 * error, a refusal, an answer that could not be verified: nothing was proved
 * either way) drops it, so that the next answer that carries it asks again.
 * The checkpoint that arrived meanwhile, if any, waits for prove_queued().
 */
static void settle(struct relay_client *c, int rc, int conclusive)
{
	struct cp_slot next = c->pending;
	c->pending.set = 0;
	if (rc == DX_OK) {
		adopt(c, &next, 1);
	} else if (conclusive && (rc == DX_EPROOF || rc == DX_ELOG_INCONSISTENT)) {
		refuse(c, rc, &c->latest, &next);
	}
}

/* After each answer: proves what is queued, if the interval is over or nothing else is in flight. */
static void prove_queued(struct relay_client *c)
{
	if (c->closing || c->pending.set || !c->queued.set ||
	    (c->in_flight > 0 && !proof_due(c))) {
		return;
	}
	struct cp_slot next = c->queued;
	c->queued.set = 0;
	/* Larger than the latest when queued; if the latest has since passed
	 * it, it is only older, not a rollback. */
	track(c, &next, 1, 0);
}

static int send_op(struct relay_client *c, struct op *op, Dx__RequestBody *body);

static void start_proof(struct relay_client *c, const struct cp_slot *s)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__ConsistencyOp cons = DX__CONSISTENCY_OP__INIT;
	c->pending = *s;
	if (c->latest.cp.size == 0) {
		/* The empty tree is a prefix of every tree: nothing to ask. */
		settle(c, checkpoint_check_consistent(&c->latest.cp, &c->pending.cp, NULL, 0), 1);
		return;
	}
	struct op *op = c->closing ? NULL : relay_client_op_new(c, OP_CONSISTENCY, NULL);
	if (op == NULL) {
		c->pending.set = 0;
		return;
	}
	cons.old_size = c->latest.cp.size;
	cons.new_size = s->cp.size;
	body.op_case = DX__REQUEST_BODY__OP_CONSISTENCY;
	body.consistency = &cons;
	if (send_op(c, op, &body) != DX_OK) {
		relay_client_op_free(op);
		c->pending.set = 0;
		return;
	}
	c->proof_started_ms = dx_now_ms();
	c->stats.proof_requests++;
}

/*
 * Decides what a verified checkpoint from the relay means (PROTOCOL.md
 * 11.6); a larger one is proved at once when now is set or the last proof
 * is PROOF_SPACING_MS old, and queued otherwise. held is the largest size
 * the client held when it made the request this answers: a smaller one than
 * the latest is a rollback only if it is smaller than that too.
 */
static void track(struct relay_client *c, const struct cp_slot *s, int now, uint64_t held)
{
	const struct cp_slot *l = &c->latest;
	if (!l->set) {
		adopt(c, s, 0); /* the first one the node sees: nothing to compare with */
		return;
	}
	if (c->refused.set && same_tree(&c->refused, s)) {
		return;
	}
	if (s->cp.size < l->cp.size && s->cp.size >= held) {
		return; /* older than the latest, not than the request: not proved on its own */
	}
	if (s->cp.size < l->cp.size || (s->cp.size == l->cp.size && !same_tree(l, s))) {
		refuse(c, DX_ELOG_INCONSISTENT, l, s);
		return;
	}
	if (s->cp.size == l->cp.size) {
		return;
	}
	/* A proof is in flight: never a second one for the same checkpoint. */
	if (c->pending.set && s->cp.size <= c->pending.cp.size) {
		if (s->cp.size == c->pending.cp.size && !same_tree(&c->pending, s)) {
			refuse(c, DX_ELOG_INCONSISTENT, &c->pending, s);
		}
		return;
	}
	if (c->queued.set && c->queued.cp.size == s->cp.size && !same_tree(&c->queued, s)) {
		refuse(c, DX_ELOG_INCONSISTENT, &c->queued, s);
		return;
	}
	if (!c->queued.set || c->queued.cp.size < s->cp.size) {
		c->queued = *s;
	}
	/* The largest one seen is proved, now or once the interval is over. */
	if (!c->pending.set && (now || proof_due(c))) {
		struct cp_slot next = c->queued;
		c->queued.set = 0;
		start_proof(c, &next);
	}
}

int relay_client_parse_checkpoint(const struct relay_client *c, const uint8_t *text, size_t len,
				  struct cp_slot *out)
{
	/*
	 * Nearly every answer carries the checkpoint the client already holds:
	 * the same bytes were verified under the same pinned key, so the
	 * signature is not checked again.
	 */
	const struct cp_slot *known[] = { &c->latest, &c->pending, &c->queued };
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		if (known[i]->set && known[i]->len == len && memcmp(known[i]->text, text, len) == 0) {
			*out = *known[i];
			return DX_OK;
		}
	}
	int rc = checkpoint_parse_verify(text, len, c->relay.name, c->relay.name, c->relay.pk,
					 &out->cp);
	if (rc != DX_OK) {
		return rc;
	}
	memcpy(out->text, text, len);
	out->text[len] = '\0';
	out->len = len;
	out->set = 1;
	return DX_OK;
}

int relay_client_set_checkpoint(struct relay_client *c, const uint8_t *text, size_t len)
{
	struct cp_slot s;
	if (c->latest.set || c->sent) {
		return DX_EEXIST;
	}
	int rc = relay_client_parse_checkpoint(c, text, len, &s);
	if (rc == DX_OK) {
		c->latest = s;
	}
	return rc;
}

int relay_client_checkpoint(const struct relay_client *c, const char **text, size_t *len,
			    uint64_t *size)
{
	if (!c->latest.set) {
		return DX_ENOENT;
	}
	*text = c->latest.text;
	*len = c->latest.len;
	*size = c->latest.cp.size;
	return DX_OK;
}

void relay_client_stats(const struct relay_client *c, struct relay_client_stats *out)
{
	*out = c->stats;
}

size_t relay_client_in_flight(const struct relay_client *c)
{
	return c->in_flight;
}

void relay_client_describe_in_flight(const struct relay_client *c, char *buf, size_t len)
{
	static const char *const names[N_OP_KINDS] = {
		[OP_SUBMIT] = "submit",		[OP_LIST] = "list",
		[OP_FETCH] = "fetch",		[OP_ACK] = "ack",
		[OP_ROSTER] = "roster",		[OP_PUBLISH] = "publish",
		[OP_UPLOAD] = "upload",		[OP_DOWNLOAD] = "download",
		[OP_SYNC] = "sync",		[OP_CONSISTENCY] = "consistency",
		[OP_PROVE_SYNC] = "prove-sync", [OP_PROVE_PROOF] = "prove-proof",
		[OP_STATEMENTS] = "statements", [OP_PROOF] = "proof",
		[OP_SESSION] = "session",
	};
	size_t at = 0;
	if (len == 0) {
		return;
	}
	buf[0] = '\0';
	for (size_t k = 0; k < N_OP_KINDS; k++) {
		if (c->in_flight_kind[k] == 0) {
			continue;
		}
		int w = snprintf(buf + at, len - at, "%s%s %zu", at > 0 ? ", " : "", names[k],
				 c->in_flight_kind[k]);
		if (w < 0 || (size_t)w >= len - at) {
			return; /* truncated: the start is the useful part */
		}
		at += (size_t)w;
	}
	if (at == 0) {
		snprintf(buf, len, "none");
	}
}

/* The client's own proof request: no user callback. */
static void finish_consistency(struct op *op, int rc, const Dx__RelayResponse *r)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	struct relay_client *c = op->c;
	if (!c->pending.set) {
		return;
	}
	if (rc != DX_OK) {
		settle(c, rc, 0);
		return;
	}
	if (r->n_proof > MERKLE_MAX_PROOF) {
		settle(c, DX_EPROOF, 1);
		return;
	}
	for (size_t i = 0; i < r->n_proof; i++) {
		if (r->proof[i].len != MERKLE_HASH_LEN) {
			settle(c, DX_EPROOF, 1);
			return;
		}
		memcpy(proof[i], r->proof[i].data, MERKLE_HASH_LEN);
	}
	rc = checkpoint_check_consistent(&c->latest.cp, &c->pending.cp,
					 (const uint8_t(*)[MERKLE_HASH_LEN])proof, r->n_proof);
	settle(c, rc, 1);
}

/* ---- the reply path ---- */

/* Strict decoding, and the answer must be to this request. */
static int decode(const struct op *op, const uint8_t *data, size_t len, Dx__RelayResponse **out)
{
	ProtobufCMessage *m = NULL;
	int rc = proto_unpack_strict(&dx__relay_response__descriptor, data, len, RELAY_RESPONSE_MAX,
				     &m);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__RelayResponse *r = (Dx__RelayResponse *)m;
	const ProtobufCBinaryData *id = &r->request_id;
	/* Only a request the relay could not decode is answered without its id. */
	int id_ok = id->len == RELAY_REQUEST_ID_LEN
			    ? memcmp(id->data, op->request_id, RELAY_REQUEST_ID_LEN) == 0
			    : id->len == 0 && r->status != 0;
	if (!id_ok || r->status > 0 || r->checkpoint.len > CHECKPOINT_MAX) {
		protobuf_c_message_free_unpacked(m, NULL);
		return DX_EPARSE;
	}
	*out = r;
	return DX_OK;
}

static int resend_signed(struct relay_client *c, struct op *op);

static void on_reply(void *arg, int rc, const uint8_t *data, size_t len)
{
	struct op *op = arg;
	struct relay_client *c = op->c;
	Dx__RelayResponse *r = NULL;
	struct cp_slot s;

	c->in_flight--;
	c->in_flight_kind[op->kind]--;
	if (rc == DX_OK) {
		rc = decode(op, data, len, &r);
	}
	if (rc == DX_OK && r->checkpoint.len > 0) {
		/* A checkpoint not signed by the pinned key makes the whole answer suspect. */
		if (relay_client_parse_checkpoint(c, r->checkpoint.data, r->checkpoint.len, &s) != DX_OK) {
			rc = DX_EPROOF;
		} else if (!c->closing) {
			track(c, &s, 0, op->held_size);
		}
	}
	if (rc == DX_OK && r->status != 0) {
		rc = r->status;
	}
	if (rc == DX_ESESSION && op->mac && !c->closing) {
		/* The relay forgot the session (it restarted, or the session
		 * expired): the same request again, signed. It was refused
		 * before the relay recorded it, so this is not a replay. */
		relay_client_session_lost(c, op);
		if (r != NULL) {
			protobuf_c_message_free_unpacked(&r->base, NULL);
		}
		if ((rc = resend_signed(c, op)) == DX_OK) {
			return;
		}
		r = NULL;
	}
	if (op->kind == OP_CONSISTENCY) {
		finish_consistency(op, rc, rc == DX_OK ? r : NULL);
	} else if (op->kind == OP_SESSION) {
		relay_client_session_finish(op, rc, rc == DX_OK ? r : NULL);
	} else if (op->kind == OP_PROVE_SYNC || op->kind == OP_PROVE_PROOF) {
		relay_client_prove_finish(op, rc, rc == DX_OK ? r : NULL);
	} else {
		relay_client_op_finish(op, rc, rc == DX_OK ? r : NULL);
	}
	if (r != NULL) {
		protobuf_c_message_free_unpacked(&r->base, NULL);
	}
	relay_client_op_free(op);
	prove_queued(c);
}

/* ---- sending ---- */

struct op *relay_client_op_new(struct relay_client *c, enum op_kind kind, void *arg)
{
	struct op *op = calloc(1, sizeof(*op));
	if (op != NULL) {
		op->c = c;
		op->kind = kind;
		op->arg = arg;
		const struct cp_slot *held[] = { &c->latest, &c->pending, &c->queued };
		for (size_t i = 0; i < sizeof(held) / sizeof(held[0]); i++) {
			if (held[i]->set && held[i]->cp.size > op->held_size) {
				op->held_size = held[i]->cp.size;
			}
		}
	}
	return op;
}

void relay_client_op_free(struct op *op)
{
	free(op->request);
	free(op->body);
	free(op->entry);
	if (op->prove != NULL) {
		relay_client_prove_free(op->prove);
	}
	free(op);
}

/* Hands an authenticated request to the bridge; op owns req from then on. */
static int send_request(struct relay_client *c, struct op *op, uint8_t *req, size_t len)
{
	int rc = bridge_client_request(c->bridge, req, len, on_reply, op);
	if (rc != DX_OK) {
		free(req);
		return rc;
	}
	free(op->request);
	op->request = req;
	op->request_len = len;
	c->sent = 1;
	c->in_flight++;
	c->in_flight_kind[op->kind]++;
	return DX_OK;
}

/*
 * Serializes body carrying the latest checkpoint, authenticates it with the
 * session's MAC or the node's signature (relay_client_session.c) and
 * queues it.
 */
static int send_op(struct relay_client *c, struct op *op, Dx__RequestBody *body)
{
	uint8_t *bytes = NULL, *req = NULL;
	size_t blen, len;
	randombytes_buf(op->request_id, sizeof(op->request_id));
	body->request_id = (ProtobufCBinaryData){ sizeof(op->request_id), op->request_id };
	body->time_ms = 0;
	body->checkpoint =
		c->latest.set ? (ProtobufCBinaryData){ c->latest.len, (uint8_t *)c->latest.text }
			      : (ProtobufCBinaryData){ 0, NULL };
	int rc = relay_request_pack(keys_state(c->keys), body, op->request_id, &bytes, &blen);
	if (rc == DX_OK) {
		rc = relay_client_wrap(c, op, bytes, blen, &req, &len);
	}
	if (rc == DX_OK) {
		rc = send_request(c, op, req, len);
	}
	if (rc == DX_OK && op->mac) {
		op->body = bytes;
		op->body_len = blen;
		bytes = NULL;
	}
	free(bytes);
	return rc;
}

static int resend_signed(struct relay_client *c, struct op *op)
{
	uint8_t *req = NULL;
	size_t len;
	int rc = relay_request_wrap_signed(c->keys, op->body, op->body_len, &req, &len);
	if (rc == DX_OK) {
		op->mac = 0;
		rc = send_request(c, op, req, len);
	}
	return rc;
}

int relay_client_op_queue(struct relay_client *c, struct op *op, Dx__RequestBody *body)
{
	int rc = send_op(c, op, body);
	if (rc != DX_OK) {
		relay_client_op_free(op);
	}
	return rc;
}

struct op *relay_client_op_start(struct relay_client *c, enum op_kind kind, int has_cb, void *arg,
				 int *rc)
{
	struct op *op = NULL;
	if (!has_cb) {
		*rc = DX_EINVAL;
	} else if (c->closing) {
		*rc = DX_ECLOSED;
	} else if ((op = relay_client_op_new(c, kind, arg)) == NULL) {
		*rc = DX_ENOMEM;
	} else {
		*rc = DX_OK;
	}
	return op;
}

/* ---- opening and closing ---- */

int relay_client_open(uv_loop_t *loop, const struct relay_client_config *cfg,
		      struct relay_client **out)
{
	if (cfg->url == NULL || cfg->keys == NULL || !checkpoint_name_valid(cfg->relay.name)) {
		return DX_EINVAL;
	}
	struct relay_client *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		return DX_ENOMEM;
	}
	c->keys = cfg->keys;
	c->relay = cfg->relay;
	c->timeout_ms = cfg->timeout_ms;
	c->on_alarm = cfg->on_alarm;
	c->on_checkpoint = cfg->on_checkpoint;
	c->cb_arg = cfg->cb_arg;
	struct bridge_client_config bc = {
		.url = cfg->url,
		.contexts = cfg->contexts != 0 ? cfg->contexts : RELAY_CLIENT_DEFAULT_CONTEXTS,
		.recv_max = RELAY_RESPONSE_MAX,
		.send_max = RELAY_REQUEST_MAX,
		.resend_ms = cfg->resend_ms,
		.timeout_ms = cfg->timeout_ms,
		.tls = { .ca_file = cfg->tls_ca_file, .server_name = cfg->tls_server_name },
	};
	int rc = relay_client_session_open(c);
	if (rc != DX_OK) {
		free(c);
		return rc;
	}
	rc = bridge_client_open(loop, &bc, &c->bridge);
	if (rc != DX_OK) {
		relay_client_session_free(c);
		free(c);
		return rc;
	}
	*out = c;
	return DX_OK;
}

static void bridge_closed(void *arg)
{
	struct relay_client *c = arg;
	void (*done)(void *) = c->done;
	void *done_arg = c->done_arg;
	relay_client_session_free(c);
	free(c);
	if (done != NULL) {
		done(done_arg);
	}
}

void relay_client_close(struct relay_client *c, void (*done)(void *arg), void *arg)
{
	if (c->closing) {
		return;
	}
	c->closing = 1;
	c->done = done;
	c->done_arg = arg;
	bridge_client_close(c->bridge, bridge_closed, c);
}
