/*
 * node_outbox.c: delivering queued messages.
 *
 * The store holds each message from the moment an officer sends it until the
 * relay's verified receipt is stored (node_store.h). This worker takes the
 * due ones, oldest first, at most NODE_OUTBOX_PARALLEL at once, and walks
 * each through:
 *
 *   QUEUED  seal: one batch allocates the next sequence number for the
 *           recipient, seals to its pinned keys and stores the envelope;
 *   SEALED  upload every attachment the envelope names (resumed where the
 *           relay says it holds; the next piece crosses the network while
 *           the relay stores the current one), then submit the envelope;
 *   the receipt verified by the relay client is stored: RECEIPTED.
 *
 * A failure that may pass (relay unreachable, rate, quota, a key change that
 * waits for a person) is recorded as an attempt and retried after an
 * exponential backoff with jitter; a refusal that cannot change (the
 * envelope is too large, malformed) marks the message FAILED. While the
 * relay refuses the node's clock, messages wait unsealed. A message is
 * never submitted as two envelopes: once sealed, the same bytes are resent,
 * and the relay answers a resend with the same receipt.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "canon.h"
#include "node.h"
#include "wire.pb-c.h"

struct node_out_job {
	struct node_out_job *next;
	struct node *n;
	uint8_t msg_id[NODE_STORE_MSG_ID_LEN];
	char recipient[DX_STATE_LEN + 1];
	uint32_t attempts;
	uint8_t *envelope;
	size_t envelope_len;
	uint8_t digest[ENVELOPE_HASH_LEN];
	size_t n_att, att_i;
	uint8_t att_ids[ENVELOPE_MAX_ATTACHMENTS][ATTACH_ID_LEN];
	/* The current stream: bytes the relay holds, its size, the offset of
	 * the next piece to hand over, pieces on their way (at most
	 * UPLOAD_AHEAD, one until the relay's count is known) and the first
	 * failure among them. */
	uint64_t att_offset, att_total, att_sent;
	unsigned att_flight;
	int att_known;
	int att_rc;
	uint8_t *piece;
};

/* Pieces of one stream on their way at once: one being stored by the relay
 * while the next crosses the network (the relay holds a piece that arrives
 * before the one it follows: PROTOCOL.md 12.4). */
#define UPLOAD_AHEAD 2u

static void hex_id(char out[33], const uint8_t id[16])
{
	dx_hex(out, id, 16);
}

static int permanent(int rc)
{
	switch (rc) {
	case DX_ETOOBIG:
	case DX_EPARSE:
	case DX_ESTATE_CODE:
	case DX_ERECIPIENT:
	case DX_EATT_CORRUPT:
		return 1;
	default:
		return 0;
	}
}

static uint64_t backoff_ms(const struct node *n, uint32_t attempts)
{
	uint64_t d = n->cfg.retry_min_ms;
	for (uint32_t i = 1; i < attempts && d < n->cfg.retry_max_ms; i++) {
		d *= 2;
	}
	if (d > n->cfg.retry_max_ms) {
		d = n->cfg.retry_max_ms;
	}
	/* Jitter in [d/2, d]: nodes that failed together do not retry together. */
	uint32_t half = (uint32_t)(d / 2);
	return half + randombytes_uniform(half + 1);
}

static void job_free(struct node_out_job *j)
{
	free(j->envelope);
	free(j->piece);
	free(j);
}

static void job_remove(struct node_out_job *j)
{
	struct node *n = j->n;
	for (struct node_out_job **p = &n->jobs; *p != NULL; p = &(*p)->next) {
		if (*p == j) {
			*p = j->next;
			n->n_jobs--;
			break;
		}
	}
	job_free(j);
}

/* Records a failed attempt, or the failure for good, of a job's message. */
static void record_failure(struct node_out_job *j, int rc)
{
	struct node *n = j->n;
	char hex[33];
	int st;
	hex_id(hex, j->msg_id);
	if (permanent(rc)) {
		st = node_store_outbox_mark_failed(n->store, j->msg_id, rc);
		node_log(n, NODE_LOG_ERROR, "message %s to %s failed for good: %s", hex,
			 j->recipient, dx_strerror(rc));
	} else {
		uint64_t wait = backoff_ms(n, j->attempts + 1);
		st = node_store_outbox_record_attempt(n->store, j->msg_id, rc, dx_now_ms() + wait);
		node_log(n, rc == DX_EKEY_CHANGED ? NODE_LOG_WARN : NODE_LOG_INFO,
			 "message %s to %s not delivered yet, retrying in %llu ms: %s", hex,
			 j->recipient, (unsigned long long)wait, dx_strerror(rc));
	}
	if (st != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "recording the outcome for message %s: %s", hex,
			 dx_strerror(st));
	}
}

/* Ends a job: records what happened, frees it, and looks for more work. */
static void job_end(struct node_out_job *j, int rc)
{
	struct node *n = j->n;
	if (rc != DX_OK) {
		record_failure(j, rc);
	}
	job_remove(j);
	node_outbox_kick(n);
}

static void on_submitted(void *arg, int rc, const struct relay_receipt_info *r)
{
	struct node_out_job *j = arg;
	struct node *n = j->n;
	char hex[33];
	node_relay_result(n, rc);
	if (rc == DX_OK) {
		rc = node_store_outbox_mark_receipted(n->store, j->msg_id, r->receipt,
						      r->receipt_len);
		if (rc == DX_OK) {
			hex_id(hex, j->msg_id);
			node_log(n, NODE_LOG_INFO, "delivered %s to %s (leaf %llu)", hex,
				 j->recipient, (unsigned long long)r->leaf_index);
		}
	}
	job_end(j, rc);
}

static void submit(struct node_out_job *j)
{
	int rc = relay_client_submit(j->n->rc, j->envelope, j->envelope_len, on_submitted, j);
	if (rc != DX_OK) {
		job_end(j, rc);
	}
}

static void upload_next(struct node_out_job *j);

static void on_uploaded(void *arg, int rc, uint64_t received)
{
	struct node_out_job *j = arg;
	j->att_flight--;
	if (j->att_rc == DX_OK) {
		node_relay_result(j->n, rc);
		/* The relay says how much it holds: a resumed upload skips ahead.
		 * Answers may come in either order: the larger count stands. */
		if (rc == DX_OK && received > j->att_total) {
			rc = DX_EPROOF;
		}
		if (rc == DX_OK) {
			j->att_offset = j->att_offset > received ? j->att_offset : received;
			j->att_sent = j->att_sent > received ? j->att_sent : received;
			j->att_known = 1;
		} else {
			j->att_rc = rc;
		}
	}
	if (j->att_flight > 0 && (j->att_rc != DX_OK || j->att_offset == j->att_total)) {
		return; /* the piece behind this one is answered next */
	}
	if (j->att_rc != DX_OK) {
		job_end(j, j->att_rc);
		return;
	}
	if (j->att_offset == j->att_total) {
		j->att_i++;
		j->att_offset = j->att_total = j->att_sent = 0;
		j->att_known = 0;
	}
	upload_next(j);
}

static void upload_next(struct node_out_job *j)
{
	struct node *n = j->n;
	size_t got;
	uint64_t total;
	if (j->att_i == j->n_att) {
		submit(j);
		return;
	}
	if (j->piece == NULL && (j->piece = malloc(NODE_ATTACH_PIECE)) == NULL) {
		job_end(j, DX_ENOMEM);
		return;
	}
	const uint8_t *id = j->att_ids[j->att_i];
	/* A stream starts with one piece: a resumed upload learns from its
	 * answer where the relay is, rather than send two pieces it holds. */
	unsigned ahead = j->att_known ? UPLOAD_AHEAD : 1;
	while (j->att_flight < ahead && (j->att_total == 0 || j->att_sent < j->att_total)) {
		/* Pieces always start at multiples of NODE_ATTACH_PIECE, so a resend matches. */
		int rc = node_files_read(n, NODE_OUTGOING_DIR, id, j->att_sent, NODE_ATTACH_PIECE,
					 j->piece, &got, &total);
		if (rc == DX_ENOENT) {
			char hex[33];
			hex_id(hex, id);
			node_log(n, NODE_LOG_ERROR, "attachment %s is missing from %s/%s", hex,
				 n->home, NODE_OUTGOING_DIR);
			rc = DX_EATT_CORRUPT;
		}
		if (rc == DX_OK) {
			j->att_total = total;
			/* The piece is copied into its request: the buffer is free again. */
			rc = relay_client_upload(n->rc, id, j->att_sent, j->piece, got, total,
						 on_uploaded, j);
		}
		if (rc != DX_OK) {
			/* Ended when the piece on its way is answered, if there is one. */
			j->att_rc = rc;
			if (j->att_flight == 0) {
				job_end(j, rc);
			}
			return;
		}
		j->att_flight++;
		j->att_sent += got;
	}
}

/* The attachment ids of a payload body, for the header. */
static int payload_attachments(const uint8_t *body, size_t len, struct node_out_job *j)
{
	ProtobufCMessage *m;
	int rc = proto_unpack_strict(&dx__payload__descriptor, body, len, ENVELOPE_BODY_MAX, &m);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__Payload *p = (Dx__Payload *)m;
	if (p->n_attachments > ENVELOPE_MAX_ATTACHMENTS) {
		rc = DX_ETOOBIG;
	}
	for (size_t i = 0; rc == DX_OK && i < p->n_attachments; i++) {
		if (p->attachments[i]->attachment_id.len != ATTACH_ID_LEN) {
			rc = DX_EPARSE;
		} else {
			memcpy(j->att_ids[i], p->attachments[i]->attachment_id.data, ATTACH_ID_LEN);
		}
	}
	j->n_att = rc == DX_OK ? p->n_attachments : 0;
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

/* QUEUED -> SEALED in one batch (node_store.h explains why). */
static int seal_job(struct node_out_job *j)
{
	struct node *n = j->n;
	struct seal_peer peer;
	struct envelope_info info;
	uint8_t *body = NULL, id[ENVELOPE_ID_LEN];
	size_t body_len = 0;
	uint64_t seq, now = dx_now_ms(), cp_size;
	const char *cp = NULL;
	size_t cp_len = 0;

	int rc = node_roster_peer(n, j->recipient, now, &peer);
	if (rc != DX_OK) {
		return rc;
	}
	if ((rc = node_store_outbox_read(n->store, j->msg_id, &body, &body_len, NULL, NULL)) !=
	    DX_OK) {
		return rc;
	}
	if ((rc = payload_attachments(body, body_len, j)) != DX_OK) {
		goto out;
	}
	if (relay_client_checkpoint(n->rc, &cp, &cp_len, &cp_size) != DX_OK) {
		cp = NULL;
		cp_len = 0;
	}
	if ((rc = node_store_begin(n->store)) != DX_OK) {
		goto out;
	}
	struct seal_params sp = {
		.sender = n->keys,
		.recipient = &peer,
		.created_ms = now,
		.checkpoint = (const uint8_t *)cp,
		.checkpoint_len = cp_len,
		.attachment_ids = (const uint8_t(*)[16])j->att_ids,
		.n_attachment_ids = j->n_att,
		.body = body,
		.body_len = body_len,
	};
	if ((rc = node_store_next_sequence(n->store, j->recipient, &seq)) != DX_OK) {
		goto rollback;
	}
	sp.sequence = seq;
	if ((rc = seal_envelope(&sp, &j->envelope, &j->envelope_len, id, NULL)) != DX_OK) {
		goto rollback;
	}
	if ((rc = envelope_parse(j->envelope, j->envelope_len, &info)) != DX_OK) {
		goto rollback;
	}
	memcpy(j->digest, info.digest, ENVELOPE_HASH_LEN);
	if ((rc = node_store_outbox_mark_sealed(n->store, j->msg_id, j->envelope, j->envelope_len,
						 id, info.digest, seq)) != DX_OK) {
		goto rollback;
	}
	rc = node_store_commit(n->store);
	goto out;
rollback:
	node_store_rollback(n->store);
out:
	if (body != NULL) {
		sodium_memzero(body, body_len);
		free(body);
	}
	return rc;
}

/* A SEALED message after a restart or a failed attempt: the same envelope again. */
static int load_sealed(struct node_out_job *j)
{
	struct envelope_info info;
	int rc = node_store_outbox_envelope(j->n->store, j->msg_id, &j->envelope, &j->envelope_len);
	if (rc != DX_OK) {
		return rc;
	}
	if ((rc = envelope_parse(j->envelope, j->envelope_len, &info)) != DX_OK) {
		return rc;
	}
	memcpy(j->digest, info.digest, ENVELOPE_HASH_LEN);
	j->n_att = info.n_attachments;
	memcpy(j->att_ids, info.attachment_ids, info.n_attachments * ATTACH_ID_LEN);
	return DX_OK;
}

static int has_job(const struct node *n, const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN])
{
	for (const struct node_out_job *j = n->jobs; j != NULL; j = j->next) {
		if (memcmp(j->msg_id, msg_id, NODE_STORE_MSG_ID_LEN) == 0) {
			return 1;
		}
	}
	return 0;
}

static int start_job(void *ctx, const struct node_store_outbox_info *m)
{
	struct node *n = ctx;
	if (n->n_jobs >= NODE_OUTBOX_PARALLEL || has_job(n, m->msg_id)) {
		return 0;
	}
	/*
	 * While the relay refuses this node's clock, nothing is sealed (the
	 * envelope would carry the wrong time for good) or submitted. Each
	 * message shows why it waits, once, and stays due, so that it goes out
	 * as soon as the clock is right, not after a backoff reckoned on the
	 * wrong clock.
	 */
	if (n->relay_last_error == DX_EREQ_STALE) {
		if (m->last_error != DX_EREQ_STALE &&
		    node_store_outbox_record_attempt(n->store, m->msg_id, DX_EREQ_STALE, 0) !=
			    DX_OK) {
			node_log(n, NODE_LOG_ERROR, "recording a refused clock in the outbox");
		}
		return 0;
	}
	struct node_out_job *j = calloc(1, sizeof(*j));
	if (j == NULL) {
		return DX_ENOMEM;
	}
	j->n = n;
	memcpy(j->msg_id, m->msg_id, NODE_STORE_MSG_ID_LEN);
	memcpy(j->recipient, m->recipient, sizeof(j->recipient));
	j->attempts = m->attempts;
	j->next = n->jobs;
	n->jobs = j;
	n->n_jobs++;
	int rc = m->state == NODE_STORE_OUT_QUEUED ? seal_job(j) : load_sealed(j);
	if (rc != DX_OK) {
		/* Ended at once; the scan goes on with the rest. */
		record_failure(j, rc);
		job_remove(j);
		return 0;
	}
	upload_next(j);
	return 0;
}

void node_outbox_kick(struct node *n)
{
	if (n->stopping || n->outbox_scanning || n->n_jobs >= NODE_OUTBOX_PARALLEL) {
		return;
	}
	n->outbox_scanning = 1;
	int rc = node_store_outbox_due(n->store, dx_now_ms(), NODE_OUTBOX_PARALLEL, start_job, n);
	n->outbox_scanning = 0;
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "reading the outbox: %s", dx_strerror(rc));
	}
}

static void on_tick(uv_timer_t *t)
{
	node_outbox_kick(t->data);
}

int node_outbox_start(struct node *n)
{
	int rc = uv_timer_init(n->loop, &n->outbox_timer);
	if (rc != 0) {
		return DX_EINTERNAL;
	}
	n->outbox_timer.data = n;
	uint64_t tick = n->cfg.retry_min_ms < 1000 ? n->cfg.retry_min_ms : 1000;
	if (uv_timer_start(&n->outbox_timer, on_tick, 0, tick) != 0) {
		return DX_EINTERNAL;
	}
	return DX_OK;
}

size_t node_outbox_active(const struct node *n)
{
	return n->n_jobs;
}

/*
 * Stops taking new work. Jobs in flight finish on their own (their answers,
 * or DX_ECLOSED when the relay client closes); a receipt that arrives is
 * still stored, so a drain loses nothing.
 */
void node_outbox_stop(struct node *n)
{
	if (n->outbox_timer.loop == NULL) {
		return; /* never started */
	}
	uv_timer_stop(&n->outbox_timer);
	uv_close((uv_handle_t *)&n->outbox_timer, NULL);
}
