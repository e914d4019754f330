/*
 * relay_ops.c: the request pipeline and the read-only operations.
 *
 * Every request passes, in this order (PROTOCOL.md 12.3): strict decoding,
 * membership and status of the requesting State, its signature under the
 * admitted identity key or its session's MAC (relay_session.c), the time
 * window, the replay cache, the rate limit.
 * Only then is it dispatched through a table indexed by operation. Reads are
 * answered at once; writes are checked as far as they can be without the
 * store's transaction and then join the group-commit batch (relay_batch.c).
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "relay.h"
#include "relay_replay.h"
#include "relay_server.h"

typedef int (*op_fn)(struct relay *r, struct relay_op *op);

static int op_submit_check(struct relay *r, struct relay_op *op);
static int op_list(struct relay *r, struct relay_op *op);
static int op_fetch_check(struct relay *r, struct relay_op *op);
static int op_roster(struct relay *r, struct relay_op *op);
static int op_checkpoint(struct relay *r, struct relay_op *op);
static int op_inclusion(struct relay *r, struct relay_op *op);
static int op_consistency(struct relay *r, struct relay_op *op);
static int op_download(struct relay *r, struct relay_op *op);
static int op_write_later(struct relay *r, struct relay_op *op);

/* What each operation does before (or instead of) joining the batch. */
static const struct {
	enum metrics_op metric;
	op_fn check; /* returns a code to reply now, JOIN_BATCH, or PARKED */
} OPS[] = {
	[DX__REQUEST_BODY__OP_SUBMIT] = { METRICS_OP_SUBMIT, op_submit_check },
	[DX__REQUEST_BODY__OP_LIST] = { METRICS_OP_LIST, op_list },
	[DX__REQUEST_BODY__OP_FETCH] = { METRICS_OP_FETCH, op_fetch_check },
	[DX__REQUEST_BODY__OP_ACK] = { METRICS_OP_ACK, op_fetch_check },
	[DX__REQUEST_BODY__OP_UPLOAD] = { METRICS_OP_UPLOAD, op_write_later },
	[DX__REQUEST_BODY__OP_DOWNLOAD] = { METRICS_OP_DOWNLOAD, op_download },
	[DX__REQUEST_BODY__OP_ROSTER] = { METRICS_OP_ROSTER, op_roster },
	[DX__REQUEST_BODY__OP_PUBLISH] = { METRICS_OP_PUBLISH, op_write_later },
	[DX__REQUEST_BODY__OP_GET_CHECKPOINT] = { METRICS_OP_CHECKPOINT, op_checkpoint },
	[DX__REQUEST_BODY__OP_INCLUSION] = { METRICS_OP_INCLUSION, op_inclusion },
	[DX__REQUEST_BODY__OP_CONSISTENCY] = { METRICS_OP_CONSISTENCY, op_consistency },
	[DX__REQUEST_BODY__OP_STATEMENTS] = { METRICS_OP_STATEMENTS, relay_op_statements },
	[DX__REQUEST_BODY__OP_SESSION] = { METRICS_OP_SESSION, relay_op_session },
};
#define N_OPS (sizeof(OPS) / sizeof(OPS[0]))

enum { JOIN_BATCH = 1, PARKED = 2 };

static void op_free(struct relay_op *op)
{
	for (size_t i = 0; i < op->n_owned; i++) {
		free(op->owned[i]);
	}
	relay_request_free(&op->req);
	if (op->attach_fd >= 0) {
		close(op->attach_fd);
	}
	free(op);
}

static uint8_t *own(struct relay_op *op, size_t n)
{
	if (op->n_owned >= sizeof(op->owned) / sizeof(op->owned[0])) {
		return NULL;
	}
	uint8_t *p = malloc(n > 0 ? n : 1);
	if (p != NULL) {
		op->owned[op->n_owned++] = p;
	}
	return p;
}

/*
 * Refusals that an operator should see: who was refused and why. Routine
 * outcomes (no such envelope, quota, rate) are counted in the metrics only.
 * Their order here is their order in the summary line.
 */
static const int REFUSAL_CODES[] = {
	DX_EPARSE,	   DX_ENOT_MEMBER, DX_ESUSPENDED,     DX_EREQ_SIG,
	DX_EREQ_STALE,	   DX_EREQ_REPLAY, DX_EOUTER_SIG,     DX_ENOT_RECIPIENT,
	DX_EREPLAY,	   DX_EINTERNAL,   DX_ENOSPC,
};
_Static_assert(sizeof(REFUSAL_CODES) / sizeof(REFUSAL_CODES[0]) == RELAY_REFUSAL_KINDS,
	       "RELAY_REFUSAL_KINDS counts REFUSAL_CODES");

void relay_refusals_flush(struct relay *r, uint64_t now)
{
	/* A window also closes when the wall clock went back past its start. */
	if (now != 0 && now >= r->refusal_window_ms &&
	    now < r->refusal_window_ms + RELAY_REFUSAL_WINDOW_MS) {
		return;
	}
	char line[1024];
	size_t len = 0;
	uint64_t total = 0;
	for (size_t i = 0; i < RELAY_REFUSAL_KINDS; i++) {
		if (r->refusal_more[i] == 0) {
			continue;
		}
		total += r->refusal_more[i];
		int n = snprintf(line + len, sizeof(line) - len, "%s%s %llu (the last from %s)",
				 len > 0 ? ", " : "", dx_errname(REFUSAL_CODES[i]),
				 (unsigned long long)r->refusal_more[i],
				 r->refusal_last[i][0] != '\0' ? r->refusal_last[i]
								: "an undecodable sender");
		if (n > 0 && (size_t)n < sizeof(line) - len) {
			len += (size_t)n;
		}
		r->refusal_more[i] = 0;
	}
	if (total > 0) {
		relay_logf(r, "refused %llu more request(s) in the last %u s without a line each, "
			      "%u lines being the most per %u s: %s. The metrics count every one "
			      "(divex_relay_requests_total)",
			   (unsigned long long)total, RELAY_REFUSAL_WINDOW_MS / 1000,
			   RELAY_REFUSAL_LINES, RELAY_REFUSAL_WINDOW_MS / 1000, line);
	}
	r->refusal_window_ms = now;
	r->refusal_lines = 0;
}

static void log_refusal(const struct relay_op *op)
{
	struct relay *r = op->relay;
	size_t kind = 0;
	while (kind < RELAY_REFUSAL_KINDS && REFUSAL_CODES[kind] != op->status) {
		kind++;
	}
	if (kind == RELAY_REFUSAL_KINDS) {
		return;
	}
	/* A State code, checked by the request's parser; none if undecodable. */
	const char *from = op->req.body != NULL ? op->req.body->node : "";
	relay_refusals_flush(r, dx_now_ms());
	if (r->refusal_lines < RELAY_REFUSAL_LINES) {
		r->refusal_lines++;
		relay_logf(r, "refused a request from %s: %s",
			   from[0] != '\0' ? from : "an undecodable sender", dx_errname(op->status));
		return;
	}
	r->refusal_more[kind]++;
	snprintf(r->refusal_last[kind], sizeof(r->refusal_last[kind]), "%.3s", from);
}

/* Serializes the answer, hands it to nng and frees the operation. */
void relay_op_reply(struct relay_op *op)
{
	struct relay *r = op->relay;
	Dx__RelayResponse *resp = &op->resp;
	uint8_t *buf = NULL;
	size_t len = 0;

	if (op->req.body != NULL) {
		resp->request_id = op->req.body->request_id;
	}
	resp->status = op->status;
	resp->message = op->status == DX_OK ? "" : (char *)dx_strerror(op->status);
	if (resp->checkpoint.len == 0 && r->checkpoint_len > 0) {
		resp->checkpoint = (ProtobufCBinaryData){ r->checkpoint_len, (uint8_t *)r->checkpoint };
	}
	if (op->op > 0 && (size_t)op->op < N_OPS && OPS[op->op].check != NULL) {
		metrics_count_request(r->metrics, OPS[op->op].metric, op->status, dx_now_ms());
	} else if (op->status == DX_EPARSE) {
		metrics_count_request(r->metrics, METRICS_OP_UNDECODABLE, op->status, dx_now_ms());
	}
	log_refusal(op);
	/* A client refuses an answer larger than RELAY_RESPONSE_MAX by
	 * dropping the connection, and its resend would meet the same answer
	 * for ever: no operation should produce one, and should one do so it
	 * gets a refusal instead. */
	if (protobuf_c_message_get_packed_size(&resp->base) > RELAY_RESPONSE_MAX) {
		relay_logf(r, "%s: answer of %zu bytes exceeds %u; refused instead (DX_ETOOBIG)",
			   op->req.body != NULL ? op->req.body->node : "?",
			   protobuf_c_message_get_packed_size(&resp->base),
			   (unsigned)RELAY_RESPONSE_MAX);
		Dx__RelayResponse small = DX__RELAY_RESPONSE__INIT;
		small.request_id = resp->request_id;
		small.status = DX_ETOOBIG;
		small.message = (char *)dx_strerror(DX_ETOOBIG);
		small.checkpoint = resp->checkpoint;
		*resp = small;
	}
	if (proto_pack_alloc(&resp->base, &buf, &len) == DX_OK && op->breq != NULL) {
		(void)bridge_reply(op->breq, buf, len);
	} else if (op->breq != NULL) {
		bridge_drop(op->breq);
	}
	free(buf);
	op_free(op);
}

static void reply_error(struct relay_op *op, int status)
{
	op->status = status;
	memset(&op->resp, 0, sizeof(op->resp));
	dx__relay_response__init(&op->resp);
	relay_op_reply(op);
}

/* Token bucket per member: rate_per_second, burst. */
static int rate_ok(struct relay *r, struct relay_member *m, uint64_t now)
{
	double rate = (double)r->cfg.limits.rate_per_second, burst = (double)r->cfg.limits.rate_burst;
	if (m->tokens_ms == 0) {
		m->tokens = burst;
	} else if (now > m->tokens_ms) {
		m->tokens += rate * (double)(now - m->tokens_ms) / 1000.0;
		if (m->tokens > burst) {
			m->tokens = burst;
		}
	}
	m->tokens_ms = now;
	if (m->tokens < 1.0) {
		return 0;
	}
	m->tokens -= 1.0;
	return 1;
}

/*
 * The signatures a request carries are checked off the loop: the request's
 * own and, for a submission, the envelope's outer signature, two Ed25519
 * verifications that would otherwise take most of the loop's time per
 * envelope. The thread touches only the operation (its parsed request, the
 * key copied into it, and the results), never the relay.
 */
static void check_work(uv_work_t *w)
{
	struct relay_op *op = w->data;
	/* A request with a session MAC was checked on the loop. */
	op->sig_rc = op->req.has_mac ? DX_OK : relay_request_verify(&op->req, op->checked_pk);
	if (op->sig_rc != DX_OK || op->op != DX__REQUEST_BODY__OP_SUBMIT ||
	    op->req.body->submit == NULL) {
		return;
	}
	const Dx__SubmitOp *s = op->req.body->submit;
	op->outer_checked = 1;
	op->outer_rc = envelope_parse(s->envelope.data, s->envelope.len, &op->env);
	if (op->outer_rc != DX_OK) {
		return;
	}
	/* A State sends only in its own name. */
	if (strcmp(op->env.sender, op->req.body->node) != 0) {
		op->outer_rc = DX_EOUTER_SIG;
		return;
	}
	op->outer_rc = envelope_verify_outer(&op->env, op->checked_pk);
}

/* Steps 4-7 of PROTOCOL.md 12.3, once the signature (step 3) verified. */
static int authenticate(struct relay *r, struct relay_op *op, uint64_t now)
{
	const Dx__RequestBody *b = op->req.body;
	struct relay_member *m = relay_member(r, b->node);
	if (m == NULL) {
		return DX_ENOT_MEMBER;
	}
	/* The roster may have changed while the signature was checked. */
	if (sodium_memcmp(m->identity_pk, op->checked_pk, KEYS_SIGN_PK_LEN) != 0) {
		return DX_EREQ_SIG;
	}
	if (m->status == RELAY_STATUS_SUSPENDED) {
		return DX_ESUSPENDED;
	}
	uint64_t window = (uint64_t)r->cfg.limits.request_window_seconds * 1000;
	if (b->time_ms + window < now || b->time_ms > now + window) {
		return DX_EREQ_STALE;
	}
	int rc = replay_cache_check(r->replay, b->node, b->request_id.data, op->req.body_hash, now);
	if (rc < 0) {
		return rc;
	}
	if (rc == 0 && !rate_ok(r, m, now)) {
		/* Refused: the same bytes again are a new request, not a resend. */
		replay_cache_forget(r->replay, b->node, b->request_id.data);
		return DX_ERATE;
	}
	m->last_seen_ms = now;
	metrics_touch_state(r->metrics, b->node, now);
	return DX_OK;
}

/* Steps 4-7, then the operation, for a request whose authentication step
 * ended with rc. */
static void checked(struct relay *r, struct relay_op *op, int rc)
{
	if (rc == DX_OK) {
		rc = authenticate(r, op, dx_now_ms());
	}
	if (rc == DX_OK && ((size_t)op->op >= N_OPS || OPS[op->op].check == NULL)) {
		rc = DX_EPARSE;
	}
	if (rc != DX_OK) {
		reply_error(op, rc);
	} else if ((rc = OPS[op->op].check(r, op)) == JOIN_BATCH) {
		relay_batch_add(r, op);
	} else if (rc != PARKED) {
		op->status = rc;
		relay_op_reply(op);
	}
}

static void check_done(uv_work_t *w, int status)
{
	struct relay_op *op = w->data;
	struct relay *r = op->relay;
	r->checking--;
	checked(r, op, status != 0 || r->stopping ? DX_ECLOSED : op->sig_rc);
	if (r->checking == 0) {
		relay_batch_schedule(r);
	}
}

void relay_handle_request(void *arg, struct bridge_request *breq, const uint8_t *data, size_t len)
{
	struct relay *r = arg;
	struct relay_op *op = calloc(1, sizeof(*op));
	if (op == NULL) {
		bridge_drop(breq);
		return;
	}
	op->relay = r;
	op->attach_fd = -1;
	op->breq = breq;
	op->raw = data;
	op->raw_len = len;
	dx__relay_response__init(&op->resp);
	if (r->stopping) {
		reply_error(op, DX_ECLOSED);
		return;
	}
	int rc = relay_request_parse(data, len, &op->req);
	if (rc != DX_OK) {
		reply_error(op, rc);
		return;
	}
	op->op = (int)op->req.body->op_case;
	/* Step 2 here; the key to check against comes from the roster. */
	struct relay_member *m = relay_member(r, op->req.body->node);
	if (m == NULL) {
		reply_error(op, DX_ENOT_MEMBER);
		return;
	}
	memcpy(op->checked_pk, m->identity_pk, KEYS_SIGN_PK_LEN);
	if (op->req.has_mac) {
		/* Step 3 by the session's MAC, here: it costs less than a hand-off. */
		rc = relay_session_check(m, &op->req, dx_now_ms());
		if (rc != DX_OK || op->op != DX__REQUEST_BODY__OP_SUBMIT) {
			checked(r, op, rc);
			return;
		}
		/* A submission's outer signature is still checked off the loop. */
	}
	op->work.data = op;
	if (r->checking == 0 && r->batch_head == NULL) {
		/*
		 * Nothing is being checked and nothing waits to be committed:
		 * the loop has no other work for the 40 to 50 us a check takes,
		 * and a hand-off to the pool and back would only add two thread
		 * wake-ups to this request's latency. A request that arrives
		 * while this one waits for its commit goes to the pool.
		 */
		check_work(&op->work);
		checked(r, op, op->sig_rc);
		return;
	}
	if (uv_queue_work(r->loop, &op->work, check_work, check_done) != 0) {
		reply_error(op, DX_EINTERNAL);
		return;
	}
	r->checking++;
}

/* Counts a recipient's undelivered mail, for the quota. */
int relay_mailbox_count(struct relay *r)
{
	sqlite3_stmt *st;
	int rc = db_stmt(r->db,
			 "SELECT recipient, COUNT(*), COALESCE(SUM(size), 0) FROM envelopes"
			 " WHERE acked_index IS NULL GROUP BY recipient",
			 &st);
	if (rc != DX_OK) {
		return rc;
	}
	for (size_t i = 0; i < RELAY_STATE_SLOTS; i++) {
		r->members[i].mbox_n = 0;
		r->members[i].mbox_bytes = 0;
		r->members[i].mbox_oldest_stale = 1;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		/* Mail for a State no longer on the roster still counts should
		 * it come back: its slot exists whether or not it is present. */
		const char *state = (const char *)sqlite3_column_text(st, 0);
		if (state == NULL || !dx_state_valid(state)) {
			continue;
		}
		struct relay_member *m = &r->members[relay_state_slot(state)];
		m->mbox_n = (uint64_t)sqlite3_column_int64(st, 1);
		m->mbox_bytes = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? DX_OK : db_from_sqlite(rc);
}

int relay_mailbox_has_room(const struct relay *r, const struct relay_member *m, uint64_t len)
{
	uint64_t n = m->mbox_n + m->mbox_pending_n;
	uint64_t bytes = m->mbox_bytes + m->mbox_pending_bytes;
	return n < r->cfg.limits.mailbox_max_envelopes &&
	       bytes + len <= r->cfg.limits.mailbox_max_bytes;
}

static int op_submit_check(struct relay *r, struct relay_op *op)
{
	const Dx__SubmitOp *s = op->req.body->submit;
	struct envelope_info *ep = &op->env;
	if (s == NULL) {
		return DX_EPARSE;
	}
	/* Parsed, and checked to be the node's own with a valid outer
	 * signature, with the request's signature (check_work). */
	if (!op->outer_checked) {
		return DX_EINTERNAL;
	}
	if (op->outer_rc != DX_OK) {
		return op->outer_rc;
	}
	/* Only to a member. */
	struct relay_member *to = relay_member(r, ep->recipient);
	if (to == NULL) {
		return DX_ENOT_MEMBER;
	}
	if (to->status == RELAY_STATUS_SUSPENDED) {
		return DX_ESUSPENDED;
	}
	/* Checked again when the batch applies it, with the batch's own new
	 * envelopes counted (relay_batch.c); this refuses early and cheaply. */
	if (!relay_mailbox_has_room(r, to, s->envelope.len)) {
		return DX_EQUOTA;
	}
	return JOIN_BATCH;
}

static int op_fetch_check(struct relay *r, struct relay_op *op)
{
	const ProtobufCBinaryData *d = op->op == DX__REQUEST_BODY__OP_FETCH
					       ? (op->req.body->fetch ? &op->req.body->fetch->digest : NULL)
					       : (op->req.body->ack ? &op->req.body->ack->digest : NULL);
	sqlite3_stmt *st;
	if (d == NULL || d->len != ENVELOPE_HASH_LEN) {
		return DX_EPARSE;
	}
	int rc = db_stmt(r->db, "SELECT recipient FROM envelopes WHERE digest = ?", &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, d->data, ENVELOPE_HASH_LEN, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		return DX_ENOENT;
	}
	rc = strcmp((const char *)sqlite3_column_text(st, 0), op->req.body->node) == 0
		     ? JOIN_BATCH
		     : DX_ENOT_RECIPIENT;
	sqlite3_reset(st);
	return rc;
}

static int op_write_later(struct relay *r, struct relay_op *op)
{
	(void)r;
	(void)op;
	return JOIN_BATCH;
}

/* Fills resp.mail with the node's undelivered envelopes; returns how many. */
static int fill_mail(struct relay *r, struct relay_op *op, uint32_t max, size_t *count)
{
	sqlite3_stmt *st;
	*count = 0;
	if (max == 0 || max > 256) {
		max = 256;
	}
	int rc = db_stmt(r->db,
			 "SELECT digest, sender, size, received_ms FROM envelopes"
			 " WHERE recipient = ? AND acked_index IS NULL ORDER BY received_ms LIMIT ?",
			 &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(st, 1, op->req.body->node, DX_STATE_LEN, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)max);
	size_t each = sizeof(Dx__MailItem) + sizeof(Dx__MailItem *) + ENVELOPE_HASH_LEN + 4;
	uint8_t *mem = own(op, each * max);
	if (mem == NULL) {
		return DX_ENOMEM;
	}
	Dx__MailItem **ptrs = (Dx__MailItem **)mem;
	Dx__MailItem *items = (Dx__MailItem *)(mem + max * sizeof(Dx__MailItem *));
	uint8_t *strs = (uint8_t *)(items + max);
	size_t n = 0;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < max) {
		Dx__MailItem *it = &items[n];
		uint8_t *dg = strs + n * (ENVELOPE_HASH_LEN + 4);
		dx__mail_item__init(it);
		memcpy(dg, sqlite3_column_blob(st, 0), ENVELOPE_HASH_LEN);
		memcpy(dg + ENVELOPE_HASH_LEN, sqlite3_column_text(st, 1), 4);
		it->digest = (ProtobufCBinaryData){ ENVELOPE_HASH_LEN, dg };
		it->sender = (char *)dg + ENVELOPE_HASH_LEN;
		it->size = (uint64_t)sqlite3_column_int64(st, 2);
		it->received_ms = (uint64_t)sqlite3_column_int64(st, 3);
		ptrs[n++] = it;
	}
	sqlite3_reset(st);
	op->resp.n_mail = n;
	op->resp.mail = ptrs;
	*count = n;
	return DX_OK;
}

static void park_timeout(uv_timer_t *t);

static void timer_closed(uv_handle_t *h)
{
	free(h);
}

static void unpark(struct relay_op *op)
{
	struct relay_member *m = relay_member(op->relay, op->req.body->node);
	if (m != NULL) {
		struct relay_op **pp = &m->parked;
		while (*pp != NULL && *pp != op) {
			pp = &(*pp)->next_parked;
		}
		if (*pp == op) {
			*pp = op->next_parked;
		}
	}
	if (op->timer != NULL) {
		uv_timer_stop(op->timer);
		uv_close((uv_handle_t *)op->timer, timer_closed);
		op->timer = NULL;
	}
}

static int op_list(struct relay *r, struct relay_op *op)
{
	const Dx__ListOp *l = op->req.body->list;
	size_t n;
	if (l == NULL) {
		return DX_EPARSE;
	}
	int rc = fill_mail(r, op, l->max, &n);
	if (rc != DX_OK || n > 0 || l->wait_ms == 0 || r->stopping) {
		return rc;
	}
	/* Each parked poll holds one of the server's contexts: a State may hold
	 * at most RELAY_PARKED_MAX, so that no member can starve the others. */
	struct relay_member *pm = relay_member(r, op->req.body->node);
	size_t parked = 0;
	for (struct relay_op *q = pm->parked; q != NULL; q = q->next_parked) {
		parked++;
	}
	if (parked >= RELAY_PARKED_MAX) {
		return DX_OK;
	}
	uint32_t wait = l->wait_ms < r->cfg.limits.longpoll_max_ms ? l->wait_ms : r->cfg.limits.longpoll_max_ms;
	op->timer = malloc(sizeof(*op->timer));
	if (op->timer == NULL) {
		return DX_OK;
	}
	uv_timer_init(r->loop, op->timer);
	op->timer->data = op;
	uv_timer_start(op->timer, park_timeout, wait, 0);
	op->next_parked = pm->parked;
	pm->parked = op;
	return PARKED;
}

static void park_timeout(uv_timer_t *t)
{
	struct relay_op *op = t->data;
	unpark(op);
	op->status = DX_OK;
	relay_op_reply(op);
}

/* New mail for state: answer its parked long-polls. */
void relay_wake_parked(struct relay *r, const char *state)
{
	struct relay_member *m = relay_member(r, state);
	while (m != NULL && m->parked != NULL) {
		relay_unpark_reply(m->parked);
	}
}

static int op_roster(struct relay *r, struct relay_op *op)
{
	sqlite3_stmt *st;
	size_t cap = 64, n = 0;
	int rc = db_stmt(r->db,
			 "SELECT signed_entry, status, log_index FROM roster WHERE log_index >= ?"
			 " ORDER BY log_index",
			 &st);
	if (rc != DX_OK) {
		return rc;
	}
	if (op->req.body->roster == NULL) {
		return DX_EPARSE;
	}
	/* One page: an entry updated meanwhile moves to a later log index, so
	 * a client paging on from the last index it got misses nothing. */
	size_t max = op->req.body->roster->max;
	if (max == 0 || max > RELAY_ROSTER_PAGE) {
		max = RELAY_ROSTER_PAGE;
	}
	int more = 0;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)op->req.body->roster->since_index);
	Dx__RosterItem **ptrs = NULL;
	/* The roster grows with the membership; gather it in one owned block. */
	uint8_t *block = NULL;
	size_t used = 0, block_cap = 0;
	struct item {
		size_t off, len;
		uint32_t status;
		uint64_t index;
	} *tmp = malloc(cap * sizeof(*tmp));
	if (tmp == NULL) {
		return DX_ENOMEM;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		size_t len = (size_t)sqlite3_column_bytes(st, 0);
		if (n == max || (n > 0 && used + len > RELAY_ROSTER_PAGE_BYTES)) {
			more = 1;
			rc = SQLITE_DONE;
			break;
		}
		if (n == cap) {
			struct item *t = realloc(tmp, 2 * cap * sizeof(*tmp));
			if (t == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			tmp = t;
			cap *= 2;
		}
		if (used + len > block_cap) {
			size_t nc = block_cap == 0 ? 65536 : block_cap;
			while (nc < used + len) {
				nc *= 2;
			}
			uint8_t *nb = realloc(block, nc);
			if (nb == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			block = nb;
			block_cap = nc;
		}
		memcpy(block + used, sqlite3_column_blob(st, 0), len);
		tmp[n] = (struct item){ used, len, (uint32_t)sqlite3_column_int(st, 1),
					(uint64_t)sqlite3_column_int64(st, 2) };
		used += len;
		n++;
	}
	sqlite3_reset(st);
	uint8_t *mem = rc == SQLITE_DONE ? own(op, n * (sizeof(*ptrs) + sizeof(Dx__RosterItem))) : NULL;
	if (mem == NULL || op->n_owned >= sizeof(op->owned) / sizeof(op->owned[0])) {
		free(tmp);
		free(block);
		return rc == SQLITE_DONE ? DX_ENOMEM : db_from_sqlite(rc);
	}
	op->owned[op->n_owned++] = block;
	ptrs = (Dx__RosterItem **)mem;
	Dx__RosterItem *items = (Dx__RosterItem *)(mem + n * sizeof(*ptrs));
	for (size_t i = 0; i < n; i++) {
		dx__roster_item__init(&items[i]);
		items[i].signed_entry = (ProtobufCBinaryData){ tmp[i].len, block + tmp[i].off };
		items[i].status = tmp[i].status;
		items[i].log_index = tmp[i].index;
		ptrs[i] = &items[i];
	}
	free(tmp);
	op->resp.n_roster = n;
	op->resp.roster = ptrs;
	op->resp.roster_more = more;
	return DX_OK;
}

static int op_checkpoint(struct relay *r, struct relay_op *op)
{
	(void)r;
	(void)op;
	return DX_OK; /* every answer carries the latest checkpoint */
}

static int set_proof(struct relay_op *op, uint8_t (*proof)[MERKLE_HASH_LEN], size_t n)
{
	uint8_t *mem = own(op, n * (sizeof(ProtobufCBinaryData) + MERKLE_HASH_LEN));
	if (mem == NULL) {
		return DX_ENOMEM;
	}
	ProtobufCBinaryData *items = (ProtobufCBinaryData *)mem;
	uint8_t *h = mem + n * sizeof(ProtobufCBinaryData);
	for (size_t i = 0; i < n; i++) {
		memcpy(h + i * MERKLE_HASH_LEN, proof[i], MERKLE_HASH_LEN);
		items[i] = (ProtobufCBinaryData){ MERKLE_HASH_LEN, h + i * MERKLE_HASH_LEN };
	}
	op->resp.n_proof = n;
	op->resp.proof = items;
	return DX_OK;
}

static int op_inclusion(struct relay *r, struct relay_op *op)
{
	const Dx__InclusionOp *in = op->req.body->inclusion;
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t n;
	if (in == NULL) {
		return DX_EPARSE;
	}
	if (in->tree_size > r->checkpoint_size || in->index >= in->tree_size) {
		return DX_EINVAL;
	}
	int rc = merkle_inclusion_proof(&r->log, in->index, in->tree_size, proof, &n);
	return rc != DX_OK ? rc : set_proof(op, proof, n);
}

static int op_consistency(struct relay *r, struct relay_op *op)
{
	const Dx__ConsistencyOp *c = op->req.body->consistency;
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	size_t n;
	if (c == NULL) {
		return DX_EPARSE;
	}
	if (c->new_size > r->checkpoint_size || c->old_size == 0 || c->old_size > c->new_size) {
		return DX_EINVAL;
	}
	int rc = merkle_consistency_proof(&r->log, c->old_size, c->new_size, proof, &n);
	return rc != DX_OK ? rc : set_proof(op, proof, n);
}

static int op_download(struct relay *r, struct relay_op *op)
{
	return relay_attach_download(r, op);
}

/* Exposed for relay_attach.c and relay_batch.c. */
uint8_t *relay_op_own(struct relay_op *op, size_t n)
{
	return own(op, n);
}

void relay_unpark_reply(struct relay_op *op)
{
	size_t n;
	unpark(op);
	op->status = fill_mail(op->relay, op, op->req.body->list->max, &n);
	relay_op_reply(op);
}

/*
 * The per-State gauges, every second. The counts and bytes are the tallies
 * the quota keeps (exact: they change as each batch commits), and so is the
 * oldest waiting envelope's arrival, except after an acknowledgement, which
 * costs one seek in envelopes_mailbox for that State at the next tick. So a
 * tick reads nothing for a relay at rest, and at most one index entry per
 * State acknowledged in the last second. It used to be an aggregate over
 * the table that read every waiting body each second: 200 ms of the loop at
 * 200,000 waiting, 38 ms at 990,000 acknowledged (bench/RESULTS.md, seventh
 * round).
 */
void relay_refresh_mailbox_metrics(struct relay *r, uint64_t now_ms)
{
	sqlite3_stmt *st = NULL;
	(void)now_ms;
	if (db_stmt(r->db,
		    "SELECT received_ms FROM envelopes WHERE recipient = ? AND acked_index IS NULL"
		    " ORDER BY received_ms LIMIT 1",
		    &st) != DX_OK) {
		st = NULL; /* the gauges still get their counts */
	}
	for (size_t i = 0; i < RELAY_STATE_SLOTS; i++) {
		struct relay_member *m = &r->members[i];
		if (!m->present) {
			continue;
		}
		char state[4] = { (char)('A' + i / 676), (char)('A' + i / 26 % 26),
				  (char)('A' + i % 26), 0 };
		if (m->mbox_n > 0 && m->mbox_oldest_stale && st != NULL) {
			sqlite3_bind_text(st, 1, state, DX_STATE_LEN, SQLITE_STATIC);
			if (sqlite3_step(st) == SQLITE_ROW) {
				m->mbox_oldest_ms = (uint64_t)sqlite3_column_int64(st, 0);
				m->mbox_oldest_stale = 0;
			}
			sqlite3_reset(st);
		}
		relay_metrics_state(r->metrics, state, m->status, m->last_seen_ms, m->mbox_n,
				    m->mbox_bytes, m->mbox_n > 0 ? m->mbox_oldest_ms : 0);
	}
}
