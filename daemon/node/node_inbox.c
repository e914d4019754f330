/*
 * node_inbox.c: receiving.
 *
 * One long-poll asks the relay for this State's undelivered mail. Each item
 * is then taken through, one at a time:
 *
 *   fetch     the signed fetch request is logged by the relay before it
 *             releases the bytes; its receipt is verified by the client
 *   open      every check of PROTOCOL.md 5.7, against the pinned roster
 *   store     body and summary sealed at rest, id marked as seen, sequence
 *             gaps recorded, all in one transaction (node_store.h)
 *   download  each attachment stream into incoming/, checked against the
 *             size and hash the sealed payload gives
 *   ack       the signed acknowledgement, whose receipt is stored
 *
 * The acknowledgement is the one step the next item need not wait for: it
 * is sent and the round moves on, with at most INBOX_ACKS_MAX answers
 * outstanding, and the round ends only when every one has come back, so
 * that the next list does not name a message whose acknowledgement is on
 * its way. Each one's receipt is stored as it arrives. And while an
 * envelope is opened and stored, the next one's fetch is already on its
 * way (one ahead at most); its answer waits, copied, until its turn. A
 * fetch is logged by the relay and may be asked again, so a prefetched
 * envelope the round never reaches costs nothing but the copy.
 *
 * Only then does the relay drop the envelope: a crash at any step leaves it
 * in the mailbox and the next round resumes (an envelope already stored is
 * not opened twice; a download resumes from the bytes held). An envelope that
 * fails a check is refused for this run and left unacknowledged at the
 * relay, with a log line that says why, so that nothing a State sent
 * disappears without a trace. The checkpoint the sender carried is compared
 * with the relay's (node_roster.c).
 *
 * A crash (or a lost answer) between the relay logging the acknowledgement
 * and this node storing its receipt leaves a message delivered here but no
 * longer listed by the relay. At start, and whenever the relay lists
 * nothing, such messages are acknowledged again (the relay logs each signed acknowledgement with a
 * receipt of its own), so that every message ends with its receipt.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "canon.h"
#include "node.h"
#include "wire.pb-c.h"

#define INBOX_LIST_MAX 64
#define INBOX_IDLE_MS 2000
/* Acknowledgements sent and not yet answered, at most. */
#define INBOX_ACKS_MAX 8

struct node_in_round {
	struct node *n;
	struct relay_mail mail[INBOX_LIST_MAX];
	size_t n_mail, i;
	int progress;
	int reack; /* messages stored here that the relay no longer lists */
	/* The item being worked on. */
	Dx__Payload *payload;
	size_t att_i;
	unsigned acks_out; /* acknowledgements in flight */
	int ack_wait;      /* the next item waits for an acknowledgement slot */
	int ending;        /* every item is done: the round ends with the last answer */
	/* The next item's fetch, sent while this one is worked on. */
	struct {
		int state; /* PRE_* */
		size_t i;
		int rc;
		uint8_t *env, *receipt;
		size_t len, receipt_len;
	} pre;
};

enum {
	PRE_NONE,
	PRE_FLIGHT, /* sent, not answered */
	PRE_WANTED, /* sent, not answered, and its turn has come */
	PRE_READY,  /* answered, copied, waiting for its turn */
};

/* One acknowledgement in flight: what its answer is about. */
struct node_in_ack {
	struct node_in_round *r;
	struct relay_mail m;
};

static void list_mail(struct node *n);
static void on_idle(uv_timer_t *t);
static void next_item(struct node_in_round *r);

static int refused(const struct node *n, const uint8_t d[static ENVELOPE_HASH_LEN])
{
	for (size_t i = 0; i < n->n_refused; i++) {
		if (memcmp(n->refused[i], d, ENVELOPE_HASH_LEN) == 0) {
			return 1;
		}
	}
	return 0;
}

static void refuse(struct node *n, const struct relay_mail *m, int rc, const char *what)
{
	char hex[2 * ENVELOPE_HASH_LEN + 1];
	dx_hex(hex, m->digest, ENVELOPE_HASH_LEN);
	node_log(n, NODE_LOG_ERROR,
		 "refused envelope %s from %s (%s): %s; it stays unacknowledged at the relay "
		 "as evidence",
		 hex, m->sender, what, dx_strerror(rc));
	if (n->n_refused < NODE_REFUSED_MAX) {
		memcpy(n->refused[n->n_refused++], m->digest, ENVELOPE_HASH_LEN);
	}
}

char *node_payload_summary(const uint8_t *body, size_t len)
{
	static const char *const handling[] = { "--", "H0", "H1", "H2", "H3" };
	ProtobufCMessage *m;
	char *out = malloc(NODE_STORE_SUMMARY_MAX + 1);
	if (out == NULL) {
		return NULL;
	}
	if (proto_unpack_strict(&dx__payload__descriptor, body, len, ENVELOPE_BODY_MAX, &m) !=
	    DX_OK) {
		snprintf(out, NODE_STORE_SUMMARY_MAX + 1, "(unreadable payload)");
		return out;
	}
	const Dx__Payload *p = (const Dx__Payload *)m;
	unsigned h = p->marking != NULL ? (unsigned)p->marking->handling : 0;
	snprintf(out, NODE_STORE_SUMMARY_MAX + 1, "[%s] %s", h < 5 ? handling[h] : "??",
		 p->subject[0] != '\0' ? p->subject : "(no subject)");
	/* A summary is one line of text: control bytes from a sender are dropped. */
	for (char *c = out; *c != '\0'; c++) {
		if ((unsigned char)*c < 0x20 || *c == 0x7f) {
			*c = ' ';
		}
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return out;
}

static void item_done(struct node_in_round *r)
{
	if (r->payload != NULL) {
		protobuf_c_message_free_unpacked(&r->payload->base, NULL);
		r->payload = NULL;
	}
	r->att_i = 0;
	r->i++;
	next_item(r);
}

static void round_end(struct node_in_round *r);

/* Answers the round still waits for before it may end. */
static int round_waiting(const struct node_in_round *r)
{
	return r->acks_out > 0 || r->pre.state == PRE_FLIGHT;
}

static void on_acked(void *arg, int rc, const struct relay_receipt_info *ri)
{
	struct node_in_ack *a = arg;
	struct node_in_round *r = a->r;
	struct node *n = r->n;
	const struct relay_mail *m = &a->m;
	node_relay_result(n, rc);
	if (rc == DX_OK) {
		rc = node_store_inbox_mark_acked(n->store, m->digest, ri->receipt, ri->receipt_len);
		r->progress = 1;
	}
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_WARN, "acknowledging mail from %s: %s (tried again later)",
			 m->sender, dx_strerror(rc));
	}
	/* A relay that refuses to acknowledge a message it no longer lists
	 * will refuse again: not asked again in this run. */
	if (r->reack && (rc == DX_ENOENT || rc == DX_ENOT_RECIPIENT || rc == DX_EPARSE)) {
		refuse(n, m, rc, "acknowledging again");
	}
	free(a);
	r->acks_out--;
	if (r->ack_wait) {
		r->ack_wait = 0;
		item_done(r);
	} else if (r->ending && !round_waiting(r)) {
		round_end(r);
	}
}

/* Sends the item's acknowledgement and moves on unless INBOX_ACKS_MAX are out. */
static void ack(struct node_in_round *r)
{
	struct node_in_ack *a = malloc(sizeof(*a));
	if (a == NULL) {
		item_done(r); /* acknowledged in a later round */
		return;
	}
	a->r = r;
	a->m = r->mail[r->i];
	int rc = relay_client_ack(r->n->rc, a->m.digest, on_acked, a);
	if (rc != DX_OK) {
		free(a);
		item_done(r);
		return;
	}
	if (++r->acks_out >= INBOX_ACKS_MAX) {
		r->ack_wait = 1;
		return;
	}
	item_done(r);
}

static void download_next(struct node_in_round *r);

static void on_downloaded(void *arg, int rc, const uint8_t *data, size_t len, uint64_t total)
{
	struct node_in_round *r = arg;
	struct node *n = r->n;
	const Dx__AttachmentRef *a = r->payload->attachments[r->att_i];
	const uint8_t *id = a->attachment_id.data;
	uint64_t held, offset;
	int complete;
	node_relay_result(n, rc);
	if (rc == DX_OK && total != a->stream_size) {
		rc = DX_EATT_CORRUPT;
	}
	if (rc == DX_OK && (rc = node_files_held(n, NODE_INCOMING_DIR, id, &offset, &complete)) ==
				   DX_OK) {
		/*
		 * No bytes past the end of the stream: the part already holds all
		 * of it (a crash came between its last piece and its rename), and
		 * putting nothing at the end completes it. Anywhere else, no bytes
		 * means the relay cut the stream short.
		 */
		rc = len == 0 && offset < total
			     ? DX_EATT_TRUNCATED
			     : node_files_put(n, NODE_INCOMING_DIR, id, offset, data, len, total,
					      &held);
	}
	if (rc != DX_OK) {
		if (rc == DX_EATT_CORRUPT || rc == DX_EATT_TRUNCATED) {
			refuse(n, &r->mail[r->i], rc, "attachment");
		} else {
			node_log(n, NODE_LOG_WARN, "downloading an attachment from %s: %s",
				 r->mail[r->i].sender, dx_strerror(rc));
		}
		item_done(r);
		return;
	}
	download_next(r);
}

/* Checks a complete stream against its reference: size and hash. */
static int check_stream(struct node *n, const Dx__AttachmentRef *a, uint64_t size)
{
	uint8_t hash[ATTACH_HASH_LEN];
	if (size != a->stream_size) {
		return DX_EATT_CORRUPT;
	}
	int rc = node_files_hash(n, NODE_INCOMING_DIR, a->attachment_id.data, hash);
	if (rc != DX_OK) {
		return rc;
	}
	return sodium_memcmp(hash, a->ciphertext_hash.data, ATTACH_HASH_LEN) == 0 ? DX_OK
										     : DX_EATT_HASH;
}

static void download_next(struct node_in_round *r)
{
	struct node *n = r->n;
	uint64_t held;
	int complete, rc;
	while (r->att_i < r->payload->n_attachments) {
		const Dx__AttachmentRef *a = r->payload->attachments[r->att_i];
		if ((rc = node_files_held(n, NODE_INCOMING_DIR, a->attachment_id.data, &held,
					  &complete)) != DX_OK) {
			node_log(n, NODE_LOG_ERROR, "reading %s/%s: %s", n->home,
				 NODE_INCOMING_DIR, dx_strerror(rc));
			item_done(r);
			return;
		}
		if (!complete) {
			if (n->stopping) {
				item_done(r);
				return;
			}
			rc = relay_client_download(n->rc, a->attachment_id.data, r->mail[r->i].digest,
						   held, NODE_ATTACH_PIECE, on_downloaded, r);
			if (rc != DX_OK) {
				item_done(r);
			}
			return;
		}
		if ((rc = check_stream(n, a, held)) != DX_OK) {
			node_files_remove(n, NODE_INCOMING_DIR, a->attachment_id.data);
			refuse(n, &r->mail[r->i], rc, "attachment");
			item_done(r);
			return;
		}
		r->att_i++;
	}
	ack(r);
}

/* The payload's attachment references, checked for shape before any download. */
static int load_payload(struct node_in_round *r, const uint8_t *body, size_t len)
{
	ProtobufCMessage *m;
	int rc = proto_unpack_strict(&dx__payload__descriptor, body, len, ENVELOPE_BODY_MAX, &m);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__Payload *p = (Dx__Payload *)m;
	for (size_t i = 0; i < p->n_attachments; i++) {
		const Dx__AttachmentRef *a = p->attachments[i];
		if (a->attachment_id.len != ATTACH_ID_LEN || a->ciphertext_hash.len != ATTACH_HASH_LEN ||
		    a->key.len != ATTACH_KEY_LEN || a->stream_size != attach_stream_size(a->size) ||
		    a->stream_size == 0) {
			protobuf_c_message_free_unpacked(m, NULL);
			return DX_EATT_CORRUPT;
		}
	}
	r->payload = p;
	r->att_i = 0;
	return DX_OK;
}

static int lookup_seen(void *ctx, const uint8_t id[static ENVELOPE_ID_LEN])
{
	struct node *n = ctx;
	int seen = 0;
	int rc = node_store_inbox_seen(n->store, id, &seen);
	return rc != DX_OK ? rc : seen;
}

struct gap_ctx {
	struct node *n;
	const char *peer;
};

static int gap_cb(void *ctx, uint64_t first, uint64_t last)
{
	struct gap_ctx *g = ctx;
	node_log(g->n, NODE_LOG_WARN,
		 "messages %llu-%llu from %s have not arrived: they may be late, or lost "
		 "(ask %s about them if they do not come)",
		 (unsigned long long)first, (unsigned long long)last, g->peer, g->peer);
	return 0;
}

static void prefetch(struct node_in_round *r);

/* The current item's envelope and fetch receipt (rc 0), or why it did not come. */
static void fetched(struct node_in_round *r, int rc, const uint8_t *env, size_t len,
		    const uint8_t *receipt, size_t receipt_len)
{
	struct node *n = r->n;
	const struct relay_mail *m = &r->mail[r->i];
	struct opened o;
	char *summary = NULL;
	char hex[2 * ENVELOPE_ID_LEN + 1];
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_WARN, "fetching mail from %s: %s", m->sender, dx_strerror(rc));
		item_done(r);
		return;
	}
	prefetch(r);
	struct open_params op = {
		.recipient = n->keys,
		.lookup_sender = node_roster_lookup_sender,
		.seen = lookup_seen,
		.ctx = n,
		.now_ms = dx_now_ms(),
		.max_age_ms = OPEN_DEFAULT_MAX_AGE_MS,
		.max_skew_ms = OPEN_DEFAULT_MAX_SKEW_MS,
	};
	memset(&o, 0, sizeof(o));
	rc = open_envelope(&op, env, len, &o);
	if (rc == DX_ESENDER) {
		/* Perhaps a State admitted since the last roster sync: look again, try later. */
		node_log(n, NODE_LOG_WARN,
			 "mail from %s is signed by a key the roster mirror does not hold; "
			 "syncing the roster and trying again later",
			 m->sender);
		node_roster_sync(n);
		item_done(r);
		return;
	}
	if (rc != DX_OK) {
		refuse(n, m, rc, "opening");
		item_done(r);
		return;
	}
	if (strcmp(o.info.sender, m->sender) != 0) {
		refuse(n, m, DX_ESENDER, "the relay named another sender");
		opened_clear(&o);
		item_done(r);
		return;
	}
	summary = node_payload_summary(o.body, o.body_len);
	struct node_store_opened so = {
		.sequence = o.info.sequence,
		.created_ms = o.info.created_ms,
		.body = o.body,
		.body_len = o.body_len,
		.summary = summary != NULL ? summary : "",
		.fetch_receipt = receipt,
		.fetch_receipt_len = receipt_len,
	};
	memcpy(so.digest, o.info.digest, ENVELOPE_HASH_LEN);
	memcpy(so.envelope_id, o.info.id, ENVELOPE_ID_LEN);
	memcpy(so.sender, o.info.sender, sizeof(so.sender));
	rc = node_store_inbox_store_opened(n->store, &so);
	if (rc == DX_OK) {
		r->progress = 1;
		dx_hex(hex, o.info.id, ENVELOPE_ID_LEN);
		node_log(n, NODE_LOG_INFO, "received %s from %s (sequence %llu)", hex, o.info.sender,
			 (unsigned long long)o.info.sequence);
		struct gap_ctx g = { n, o.info.sender };
		if (node_store_inbox_gaps(n->store, o.info.sender, gap_cb, &g) != DX_OK) {
			node_log(n, NODE_LOG_WARN, "reading the sequence gaps of %s", o.info.sender);
		}
		if (o.info.checkpoint_len > 0) {
			node_roster_peer_checkpoint(n, o.info.sender, o.info.checkpoint,
						    o.info.checkpoint_len);
		}
		rc = load_payload(r, o.body, o.body_len);
		if (rc != DX_OK) {
			refuse(n, m, rc, "attachment references");
		} else {
			/* Casework state (a notice to answer, ...) once the message is safe. */
			node_casework_received(n, &so, r->payload);
		}
	} else if (rc == DX_ENOSPC || rc == DX_EIO || rc == DX_EBUSY || rc == DX_ENOMEM) {
		/* Not the envelope's fault: it stays at the relay and is taken again
		 * in a later round, once there is room. */
		node_log(n, NODE_LOG_WARN, "storing mail from %s: %s (tried again later)",
			 m->sender, dx_strerror(rc));
	} else {
		refuse(n, m, rc, "storing");
	}
	if (summary != NULL) {
		sodium_memzero(summary, strlen(summary));
		free(summary);
	}
	opened_clear(&o);
	if (rc != DX_OK) {
		item_done(r);
		return;
	}
	download_next(r);
}

static void on_fetched(void *arg, int rc, const uint8_t *env, size_t len,
		       const struct relay_receipt_info *ri)
{
	struct node_in_round *r = arg;
	node_relay_result(r->n, rc);
	fetched(r, rc, env, len, rc == DX_OK ? ri->receipt : NULL, rc == DX_OK ? ri->receipt_len : 0);
}

static void pre_clear(struct node_in_round *r)
{
	free(r->pre.env);
	free(r->pre.receipt);
	r->pre.env = r->pre.receipt = NULL;
	r->pre.state = PRE_NONE;
}

static void on_prefetched(void *arg, int rc, const uint8_t *env, size_t len,
			  const struct relay_receipt_info *ri)
{
	struct node_in_round *r = arg;
	if (r->pre.state == PRE_WANTED) {
		/* Its turn has come: worked on at once, as an ordinary fetch. */
		r->pre.state = PRE_NONE;
		on_fetched(r, rc, env, len, ri);
		return;
	}
	node_relay_result(r->n, rc);
	r->pre.state = PRE_READY;
	r->pre.rc = rc;
	if (rc == DX_OK) {
		r->pre.env = malloc(len > 0 ? len : 1);
		r->pre.receipt = malloc(ri->receipt_len > 0 ? ri->receipt_len : 1);
		if (r->pre.env == NULL || r->pre.receipt == NULL) {
			r->pre.rc = DX_ENOMEM; /* fetched again in a later round */
		} else {
			memcpy(r->pre.env, env, len);
			memcpy(r->pre.receipt, ri->receipt, ri->receipt_len);
			r->pre.len = len;
			r->pre.receipt_len = ri->receipt_len;
		}
	}
	if (r->ending && !round_waiting(r)) {
		round_end(r);
	}
}

/* Sends the fetch of the item after the current one, if it will need one. */
static void prefetch(struct node_in_round *r)
{
	struct node *n = r->n;
	struct node_store_inbox_info info;
	size_t j = r->i + 1;
	if (r->pre.state != PRE_NONE || j >= r->n_mail || n->stopping ||
	    refused(n, r->mail[j].digest) || node_store_inbox_get(n->store, r->mail[j].digest,
								   &info) == DX_OK) {
		return;
	}
	if (relay_client_fetch(n->rc, r->mail[j].digest, on_prefetched, r) == DX_OK) {
		r->pre.state = PRE_FLIGHT;
		r->pre.i = j;
	}
}

/* The current item's fetch: 1 when it was prefetched (and is taken care of). */
static int take_prefetched(struct node_in_round *r)
{
	if (r->pre.state == PRE_NONE || r->pre.i != r->i) {
		return 0;
	}
	if (r->pre.state == PRE_FLIGHT) {
		r->pre.state = PRE_WANTED;
		return 1;
	}
	int rc = r->pre.rc;
	uint8_t *env = r->pre.env, *receipt = r->pre.receipt;
	size_t len = r->pre.len, receipt_len = r->pre.receipt_len;
	r->pre.env = r->pre.receipt = NULL;
	r->pre.state = PRE_NONE;
	fetched(r, rc, env, len, receipt, receipt_len);
	free(env);
	free(receipt);
	return 1;
}

/* An envelope stored before a crash or a failed acknowledgement: finish it. */
static int resume_stored(struct node_in_round *r, const struct relay_mail *m)
{
	uint8_t *body = NULL;
	size_t len = 0;
	int rc = node_store_inbox_read(r->n->store, m->digest, &body, &len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = load_payload(r, body, len);
	struct node_store_inbox_info info;
	if (rc == DX_OK && node_store_inbox_get(r->n->store, m->digest, &info) == DX_OK) {
		/*
		 * A crash may have come between storing the envelope and recording
		 * its casework state: record it again (the handlers keep one copy).
		 */
		struct node_store_opened so = {
			.sequence = info.sequence,
			.created_ms = info.created_ms,
			.body = body,
			.body_len = len,
			.summary = "",
		};
		memcpy(so.digest, info.digest, ENVELOPE_HASH_LEN);
		memcpy(so.envelope_id, info.envelope_id, ENVELOPE_ID_LEN);
		memcpy(so.sender, info.sender, sizeof(so.sender));
		node_casework_received(r->n, &so, r->payload);
	}
	sodium_memzero(body, len);
	free(body);
	return rc;
}

static void next_item(struct node_in_round *r)
{
	struct node *n = r->n;
	struct node_store_inbox_info info;
	while (r->i < r->n_mail) {
		const struct relay_mail *m = &r->mail[r->i];
		if (n->stopping) {
			break;
		}
		if (refused(n, m->digest)) {
			r->i++;
			continue;
		}
		int rc;
		if (node_store_inbox_get(n->store, m->digest, &info) == DX_OK) {
			if ((rc = resume_stored(r, m)) != DX_OK) {
				refuse(n, m, rc, "stored message");
				r->i++;
				continue;
			}
			download_next(r);
			return;
		}
		if (take_prefetched(r)) {
			return;
		}
		rc = relay_client_fetch(n->rc, m->digest, on_fetched, r);
		if (rc != DX_OK) {
			node_log(n, NODE_LOG_WARN, "fetching mail from %s: %s", m->sender,
				 dx_strerror(rc));
			r->i++;
			continue;
		}
		return;
	}
	if (round_waiting(r)) {
		r->ending = 1; /* the last answer ends the round */
		return;
	}
	round_end(r);
}

/* Every item is done and every acknowledgement answered: list again or rest. */
static void round_end(struct node_in_round *r)
{
	struct node *n = r->n;
	int progress = r->progress;
	pre_clear(r); /* a prefetched envelope whose turn never came */
	free(r);
	n->in_round = NULL;
	if (n->stopping) {
		return;
	}
	if (progress) {
		list_mail(n);
	} else {
		/* Only mail that cannot be taken now: do not ask again at once. */
		uv_timer_start(&n->inbox_timer, on_idle, INBOX_IDLE_MS, 0);
	}
}

/*
 * The relay lists nothing: messages stored here without an acknowledgement
 * receipt were acknowledged at the relay by a request whose answer was lost.
 * Starts a round that finishes them (attachments, then the acknowledgement);
 * 0 when there is none.
 */
static int reack_stored(struct node *n)
{
	uint8_t digests[INBOX_LIST_MAX][NODE_STORE_DIGEST_LEN];
	char senders[INBOX_LIST_MAX][DX_STATE_LEN + 1];
	size_t found = 0;
	if (node_store_inbox_unacked(n->store, INBOX_LIST_MAX, digests, senders, &found) != DX_OK ||
	    found == 0) {
		return 0;
	}
	struct node_in_round *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		return 0;
	}
	r->n = n;
	r->reack = 1;
	for (size_t i = 0; i < found; i++) {
		if (refused(n, digests[i])) {
			continue;
		}
		memcpy(r->mail[r->n_mail].digest, digests[i], NODE_STORE_DIGEST_LEN);
		memcpy(r->mail[r->n_mail].sender, senders[i], DX_STATE_LEN + 1);
		r->n_mail++;
	}
	if (r->n_mail == 0) {
		free(r);
		return 0;
	}
	node_log(n, NODE_LOG_INFO,
		 "%zu stored message(s) without an acknowledgement receipt: acknowledging again",
		 r->n_mail);
	n->in_round = r;
	next_item(r);
	return 1;
}

static void on_list(void *arg, int rc, const struct relay_mail *mail, size_t count)
{
	struct node *n = arg;
	n->inbox_listing = 0;
	node_relay_result(n, rc);
	if (n->stopping) {
		return;
	}
	if (rc != DX_OK) {
		/* The relay is away or refused: the link's state is in `divex status`. */
		node_log(n, NODE_LOG_DEBUG, "listing mail: %s", dx_strerror(rc));
		uv_timer_start(&n->inbox_timer, on_idle, INBOX_IDLE_MS, 0);
		return;
	}
	if (count == 0) {
		if (!reack_stored(n)) {
			list_mail(n);
		}
		return;
	}
	struct node_in_round *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		uv_timer_start(&n->inbox_timer, on_idle, INBOX_IDLE_MS, 0);
		return;
	}
	r->n = n;
	r->n_mail = count < INBOX_LIST_MAX ? count : INBOX_LIST_MAX;
	memcpy(r->mail, mail, r->n_mail * sizeof(mail[0]));
	n->in_round = r;
	next_item(r);
}

static void list_mail(struct node *n)
{
	if (n->stopping || n->inbox_listing || n->in_round != NULL) {
		return;
	}
	int rc = relay_client_list(n->rc, n->cfg.poll_wait_ms, INBOX_LIST_MAX, on_list, n);
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "asking the relay for mail: %s", dx_strerror(rc));
		uv_timer_start(&n->inbox_timer, on_idle, INBOX_IDLE_MS, 0);
		return;
	}
	n->inbox_listing = 1;
}

static void on_idle(uv_timer_t *t)
{
	list_mail(t->data);
}

int node_inbox_start(struct node *n)
{
	if (uv_timer_init(n->loop, &n->inbox_timer) != 0) {
		return DX_EINTERNAL;
	}
	n->inbox_timer.data = n;
	/* What a crash left stored but unacknowledged is finished first. */
	if (!reack_stored(n)) {
		list_mail(n);
	}
	return DX_OK;
}

/* Busy with an envelope: the drain on shutdown waits for it (not for a long-poll). */
int node_inbox_busy(const struct node *n)
{
	return n->in_round != NULL;
}

void node_inbox_stop(struct node *n)
{
	if (n->inbox_timer.loop == NULL) {
		return; /* never started */
	}
	uv_timer_stop(&n->inbox_timer);
	uv_close((uv_handle_t *)&n->inbox_timer, NULL);
}
