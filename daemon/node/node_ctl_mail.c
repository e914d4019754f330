/*
 * node_ctl_mail.c: the control operations on messages: send, inbox, outbox,
 * read, receipts, and attachment streams (docs/control.md).
 *
 * send checks everything it can before queueing anything (recipients known,
 * pinned, not suspended, no key change waiting; the payload canonical and
 * within limits; every attachment complete in outgoing/ with the size and
 * hash the payload claims), then queues one message per recipient in one
 * transaction: either every copy is queued or none is. Each copy's payload
 * names its copy ("copy 2 of 3, for MEX") inside the sealed payload, so a
 * leaked copy can be traced. That core, ctl_queue_payload(), also queues
 * the case notes that case_share sends (node_ctl_case.c).
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "canon.h"
#include "checkpoint.h"
#include "node_control.h"
#include "relay.pb-c.h"
#include "wire.pb-c.h"

#define SEND_MAX_RECIPIENTS 64

/* Every attachment of a payload must be complete in outgoing/ and match its reference. */
static int check_attachments(struct ctl_call *c, const Dx__Payload *p)
{
	uint8_t hash[ATTACH_HASH_LEN];
	uint64_t size;
	char hex[33];
	if (p->n_attachments > ENVELOPE_MAX_ATTACHMENTS) {
		return ctl_fail(c, DX_ETOOBIG, "a message carries at most %d attachments",
				ENVELOPE_MAX_ATTACHMENTS);
	}
	for (size_t i = 0; i < p->n_attachments; i++) {
		const Dx__AttachmentRef *a = p->attachments[i];
		if (a->attachment_id.len != ATTACH_ID_LEN || a->key.len != ATTACH_KEY_LEN ||
		    a->ciphertext_hash.len != ATTACH_HASH_LEN ||
		    a->stream_size != attach_stream_size(a->size)) {
			return ctl_fail(c, DX_EINVAL, "attachment %zu's reference is malformed", i + 1);
		}
		for (size_t k = 0; k < i; k++) {
			if (memcmp(p->attachments[k]->attachment_id.data, a->attachment_id.data,
				   ATTACH_ID_LEN) == 0) {
				return ctl_fail(c, DX_EINVAL, "attachment %zu is named twice", i + 1);
			}
		}
		dx_hex(hex, a->attachment_id.data, ATTACH_ID_LEN);
		if (node_files_complete(c->n, NODE_OUTGOING_DIR, a->attachment_id.data, &size) !=
			    DX_OK ||
		    size != a->stream_size) {
			return ctl_fail(c, DX_EINVAL,
					"attachment %s has not been put completely; put it again",
					hex);
		}
		int rc = node_files_hash(c->n, NODE_OUTGOING_DIR, a->attachment_id.data, hash);
		if (rc != DX_OK) {
			return rc;
		}
		if (sodium_memcmp(hash, a->ciphertext_hash.data, ATTACH_HASH_LEN) != 0) {
			return ctl_fail(c, DX_EATT_HASH,
					"attachment %s held here does not match its reference; put it "
					"again", hex);
		}
	}
	return DX_OK;
}

static int check_recipients(struct ctl_call *c, char *const *to_list, size_t n_to)
{
	struct seal_peer peer;
	if (n_to == 0 || n_to > SEND_MAX_RECIPIENTS) {
		return ctl_fail(c, DX_EINVAL, "give 1 to %d recipient States", SEND_MAX_RECIPIENTS);
	}
	for (size_t i = 0; i < n_to; i++) {
		const char *to = to_list[i];
		if (!dx_state_valid(to)) {
			return ctl_fail(c, DX_ESTATE_CODE, "'%s' is not a State code (three capital "
							   "letters, e.g. MEX)", to);
		}
		if (strcmp(to, keys_state(c->n->keys)) == 0) {
			return ctl_fail(c, DX_EINVAL, "%s is this State", to);
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(to_list[k], to) == 0) {
				return ctl_fail(c, DX_EINVAL, "%s is named twice", to);
			}
		}
		int rc = node_roster_peer(c->n, to, dx_now_ms(), &peer);
		if (rc == DX_ENOENT) {
			return ctl_fail(c, DX_ENOENT,
					"%s is not in this node's roster: check the code with 'divex "
					"roster'; a newly admitted State appears within a minute",
					to);
		}
		if (rc != DX_OK) {
			return ctl_fail(c, rc, "cannot send to %s: %s", to, dx_strerror(rc));
		}
	}
	return DX_OK;
}

int ctl_queue_payload(struct ctl_call *c, char *const *to, size_t n_to, Dx__Payload *p,
		      Dx__SendResult **out)
{
	uint8_t *body = NULL;
	size_t body_len = 0;
	int rc = check_recipients(c, to, n_to);
	if (rc != DX_OK || (rc = check_attachments(c, p)) != DX_OK) {
		return rc;
	}
	Dx__SendResult *res = ctl_alloc(c, sizeof(*res));
	Dx__SentCopy **copies = ctl_alloc(c, n_to * sizeof(*copies));
	if (res == NULL || copies == NULL) {
		return DX_ENOMEM;
	}
	dx__send_result__init(res);
	if (p->type == 0) {
		p->type = 1;
	}
	if ((rc = node_store_begin(c->n->store)) != DX_OK) {
		return rc;
	}
	char *given_copy_for = p->copy_for;
	for (size_t i = 0; i < n_to; i++) {
		uint8_t id[NODE_STORE_MSG_ID_LEN];
		p->copy_number = (uint32_t)(i + 1);
		p->copy_count = (uint32_t)n_to;
		p->copy_for = to[i];
		if ((rc = proto_pack_alloc(&p->base, &body, &body_len)) != DX_OK) {
			break;
		}
		if (body_len > ENVELOPE_BODY_MAX) {
			rc = ctl_fail(c, DX_ETOOBIG, "the message is too large (%zu bytes; at most "
						     "%d): send long texts as attachments",
				      body_len, ENVELOPE_BODY_MAX);
			sodium_memzero(body, body_len);
			free(body);
			break;
		}
		rc = node_store_outbox_enqueue(c->n->store, to[i], body, body_len, NULL, 0, id);
		sodium_memzero(body, body_len);
		free(body);
		body = NULL;
		if (rc != DX_OK) {
			break;
		}
		Dx__SentCopy *cp = ctl_alloc(c, sizeof(*cp));
		if (cp == NULL) {
			rc = DX_ENOMEM;
			break;
		}
		dx__sent_copy__init(cp);
		cp->recipient = ctl_strdup(c, to[i]);
		cp->message_id = ctl_bin(c, id, sizeof(id));
		copies[i] = cp;
	}
	p->copy_for = given_copy_for; /* the recipients' codes belong to the caller */
	if (rc != DX_OK) {
		node_store_rollback(c->n->store);
		return rc;
	}
	if ((rc = node_store_commit(c->n->store)) != DX_OK) {
		return rc;
	}
	res->n_copies = n_to;
	res->copies = copies;
	*out = res;
	node_log(c->n, NODE_LOG_INFO, "queued a message for %zu State(s)", n_to);
	node_outbox_kick(c->n);
	return DX_OK;
}

int ctl_send(struct ctl_call *c)
{
	const Dx__SendOp *s = c->in->send;
	ProtobufCMessage *m = NULL;
	Dx__SendResult *res = NULL;
	int rc = check_recipients(c, s->to, s->n_to);
	if (rc != DX_OK) {
		return rc;
	}
	rc = proto_unpack_strict(&dx__payload__descriptor, s->payload.data, s->payload.len,
				 ENVELOPE_BODY_MAX, &m);
	if (rc != DX_OK) {
		return ctl_fail(c, rc, "the message could not be decoded: %s", dx_strerror(rc));
	}
	rc = ctl_queue_payload(c, s->to, s->n_to, (Dx__Payload *)m, &res);
	if (rc == DX_OK) {
		c->out.result_case = DX__CONTROL_RESPONSE__RESULT_SEND;
		c->out.send = res;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

/* ---- listings ---- */

static size_t list_limit(uint32_t limit)
{
	return limit == 0 ? 50 : limit > NODE_STORE_LIST_MAX ? NODE_STORE_LIST_MAX : limit;
}

struct list_ctx {
	struct ctl_call *c;
	void **items;
	size_t n, cap;
	int rc;
};

static int inbox_item(void *ctx, const struct node_store_inbox_info *m)
{
	struct list_ctx *l = ctx;
	Dx__InboxItem *it = ctl_alloc(l->c, sizeof(*it));
	if (it == NULL || l->n == l->cap) {
		return DX_ENOMEM;
	}
	dx__inbox_item__init(it);
	it->envelope_id = ctl_bin(l->c, m->envelope_id, ENVELOPE_ID_LEN);
	it->digest = ctl_bin(l->c, m->digest, ENVELOPE_HASH_LEN);
	it->sender = ctl_strdup(l->c, m->sender);
	it->sequence = m->sequence;
	it->created_ms = m->created_ms;
	it->received_ms = m->received_ms;
	it->summary = ctl_strdup(l->c, m->summary_err == DX_OK ? m->summary : "(unreadable)");
	it->acknowledged = m->acked != 0;
	l->items[l->n++] = it;
	return 0;
}

/* Sequence gaps of every State in the roster, for inbox and status. */
struct gaps_ctx {
	struct ctl_call *c;
	const char *peer;
	Dx__Gap **gaps;
	size_t n, cap;
};

static int gap_item(void *ctx, uint64_t first, uint64_t last)
{
	struct gaps_ctx *g = ctx;
	if (g->n == g->cap) {
		return 0;
	}
	Dx__Gap *gap = ctl_alloc(g->c, sizeof(*gap));
	if (gap == NULL) {
		return DX_ENOMEM;
	}
	dx__gap__init(gap);
	gap->peer = ctl_strdup(g->c, g->peer);
	gap->first = first;
	gap->last = last;
	g->gaps[g->n++] = gap;
	return 0;
}

static int gaps_of_peer(void *ctx, const struct node_store_roster_info *r)
{
	struct gaps_ctx *g = ctx;
	g->peer = r->state;
	return node_store_inbox_gaps(g->c->n->store, r->state, gap_item, g);
}

int ctl_gaps(struct ctl_call *c, Dx__Gap ***out, size_t *n_out)
{
	struct gaps_ctx g = { .c = c, .cap = 256 };
	g.gaps = ctl_alloc(c, g.cap * sizeof(*g.gaps));
	if (g.gaps == NULL) {
		return DX_ENOMEM;
	}
	int rc = node_store_roster_list(c->n->store, gaps_of_peer, &g);
	*out = g.gaps;
	*n_out = g.n;
	return rc;
}

int ctl_inbox(struct ctl_call *c)
{
	const Dx__InboxOp *op = c->in->inbox;
	struct list_ctx l = { .c = c, .cap = list_limit(op->limit) };
	Dx__InboxResult *res = ctl_alloc(c, sizeof(*res));
	l.items = ctl_alloc(c, l.cap * sizeof(void *));
	if (res == NULL || l.items == NULL) {
		return DX_ENOMEM;
	}
	dx__inbox_result__init(res);
	int rc = node_store_inbox_list(c->n->store, l.cap, op->offset, inbox_item, &l);
	if (rc == DX_OK) {
		rc = ctl_gaps(c, &res->gaps, &res->n_gaps);
	}
	if (rc != DX_OK) {
		return rc;
	}
	res->items = (Dx__InboxItem **)l.items;
	res->n_items = l.n;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_INBOX;
	c->out.inbox = res;
	return DX_OK;
}

static int outbox_item(void *ctx, const struct node_store_outbox_info *m)
{
	struct list_ctx *l = ctx;
	Dx__OutboxItem *it = ctl_alloc(l->c, sizeof(*it));
	if (it == NULL || l->n == l->cap) {
		return DX_ENOMEM;
	}
	dx__outbox_item__init(it);
	it->message_id = ctl_bin(l->c, m->msg_id, NODE_STORE_MSG_ID_LEN);
	it->recipient = ctl_strdup(l->c, m->recipient);
	it->state = (char *)node_store_out_state_name(m->state);
	it->created_ms = m->created_ms;
	if (m->has_envelope) {
		it->envelope_id = ctl_bin(l->c, m->envelope_id, ENVELOPE_ID_LEN);
		it->sequence = m->sequence;
	}
	it->attempts = m->attempts;
	it->last_error = m->state == NODE_STORE_OUT_FAILED ? m->failed_code : m->last_error;
	it->next_attempt_ms = m->next_attempt_ms;
	it->receipted_ms = m->receipted_ms;
	l->items[l->n++] = it;
	return 0;
}

int ctl_outbox(struct ctl_call *c)
{
	const Dx__OutboxOp *op = c->in->outbox;
	struct list_ctx l = { .c = c, .cap = list_limit(op->limit) };
	Dx__OutboxResult *res = ctl_alloc(c, sizeof(*res));
	l.items = ctl_alloc(c, l.cap * sizeof(void *));
	if (res == NULL || l.items == NULL) {
		return DX_ENOMEM;
	}
	dx__outbox_result__init(res);
	int rc = node_store_outbox_list(c->n->store, l.cap, op->offset, outbox_item, &l);
	if (rc != DX_OK) {
		return rc;
	}
	res->items = (Dx__OutboxItem **)l.items;
	res->n_items = l.n;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_OUTBOX;
	c->out.outbox = res;
	return DX_OK;
}

/* ---- one message ---- */

/* A body owned by the call: copied into call memory, the original wiped. */
static ProtobufCBinaryData own_body(struct ctl_call *c, uint8_t *body, size_t len)
{
	ProtobufCBinaryData b = ctl_bin(c, body, len);
	sodium_memzero(body, len);
	free(body);
	return b;
}

int ctl_read(struct ctl_call *c)
{
	struct ctl_msg msg;
	uint8_t *body = NULL;
	size_t len = 0;
	int rc = ctl_resolve(c, c->in->read->id, &msg);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__ReadResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__read_result__init(res);
	if (msg.received) {
		struct node_store_inbox_info info;
		if ((rc = node_store_inbox_get(c->n->store, msg.digest, &info)) != DX_OK ||
		    (rc = node_store_inbox_read(c->n->store, msg.digest, &body, &len)) != DX_OK) {
			return rc;
		}
		res->direction = "received";
		res->envelope_id = ctl_bin(c, info.envelope_id, ENVELOPE_ID_LEN);
		res->sender = ctl_strdup(c, info.sender);
		res->recipient = (char *)keys_state(c->n->keys);
		res->sequence = info.sequence;
		res->created_ms = info.created_ms;
		res->received_ms = info.received_ms;
		res->state = info.acked ? "acknowledged" : "received";
	} else {
		struct node_store_outbox_info info;
		if ((rc = node_store_outbox_get(c->n->store, msg.msg_id, &info)) != DX_OK ||
		    (rc = node_store_outbox_read(c->n->store, msg.msg_id, &body, &len, NULL, NULL)) !=
			    DX_OK) {
			return rc;
		}
		res->direction = "sent";
		res->message_id = ctl_bin(c, info.msg_id, NODE_STORE_MSG_ID_LEN);
		if (info.has_envelope) {
			res->envelope_id = ctl_bin(c, info.envelope_id, ENVELOPE_ID_LEN);
		}
		res->sender = (char *)keys_state(c->n->keys);
		res->recipient = ctl_strdup(c, info.recipient);
		res->sequence = info.sequence;
		res->created_ms = info.created_ms;
		res->state = (char *)node_store_out_state_name(info.state);
	}
	res->payload = own_body(c, body, len);
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_READ;
	c->out.read = res;
	return DX_OK;
}

static int receipt_item(struct ctl_call *c, const char *kind, uint8_t *buf, size_t len,
			Dx__ReceiptItem **out)
{
	ProtobufCMessage *m;
	struct checkpoint cp;
	int rc = proto_unpack_strict(&dx__receipt__descriptor, buf, len, NODE_STORE_RECEIPT_MAX, &m);
	if (rc != DX_OK) {
		free(buf);
		return rc;
	}
	const Dx__Receipt *r = (const Dx__Receipt *)m;
	Dx__ReceiptItem *it = ctl_alloc(c, sizeof(*it));
	if (it == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	dx__receipt_item__init(it);
	it->kind = (char *)kind;
	it->leaf_index = r->leaf_index;
	it->time_ms = r->time_ms;
	if (checkpoint_parse_verify(r->checkpoint.data, r->checkpoint.len, c->n->relay.name,
				    c->n->relay.name, c->n->relay.pk, &cp) == DX_OK) {
		it->tree_size = cp.size;
	}
	it->checkpoint = ctl_bin(c, r->checkpoint.data, r->checkpoint.len);
	it->receipt = ctl_bin(c, buf, len);
	*out = it;
out:
	protobuf_c_message_free_unpacked(m, NULL);
	free(buf);
	return rc;
}

int ctl_receipts(struct ctl_call *c)
{
	struct ctl_msg msg;
	uint8_t *buf;
	size_t len, n = 0;
	int rc = ctl_resolve(c, c->in->receipts->id, &msg);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__ReceiptsResult *res = ctl_alloc(c, sizeof(*res));
	Dx__ReceiptItem **items = ctl_alloc(c, 2 * sizeof(*items));
	if (res == NULL || items == NULL) {
		return DX_ENOMEM;
	}
	dx__receipts_result__init(res);
	if (msg.received) {
		struct node_store_inbox_info info;
		static const struct {
			int kind;
			const char *name;
		} kinds[] = { { NODE_STORE_RECEIPT_FETCH, "fetched" },
			      { NODE_STORE_RECEIPT_ACK, "acknowledged" } };
		if ((rc = node_store_inbox_get(c->n->store, msg.digest, &info)) != DX_OK) {
			return rc;
		}
		res->direction = "received";
		res->envelope_id = ctl_bin(c, info.envelope_id, ENVELOPE_ID_LEN);
		for (size_t k = 0; k < 2; k++) {
			rc = node_store_inbox_receipt(c->n->store, msg.digest, kinds[k].kind, &buf,
						      &len);
			if (rc == DX_ENOENT) {
				continue;
			}
			if (rc != DX_OK ||
			    (rc = receipt_item(c, kinds[k].name, buf, len, &items[n])) != DX_OK) {
				return rc;
			}
			n++;
		}
	} else {
		struct node_store_outbox_info info;
		if ((rc = node_store_outbox_get(c->n->store, msg.msg_id, &info)) != DX_OK) {
			return rc;
		}
		res->direction = "sent";
		if (info.has_envelope) {
			res->envelope_id = ctl_bin(c, info.envelope_id, ENVELOPE_ID_LEN);
		}
		rc = node_store_outbox_receipt(c->n->store, msg.msg_id, &buf, &len);
		if (rc == DX_OK) {
			if ((rc = receipt_item(c, "accepted", buf, len, &items[n])) != DX_OK) {
				return rc;
			}
			n++;
		} else if (rc != DX_ENOENT) {
			return rc;
		}
	}
	res->receipts = items;
	res->n_receipts = n;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_RECEIPTS;
	c->out.receipts = res;
	return DX_OK;
}

/* ---- attachment streams ---- */

int ctl_put_attachment(struct ctl_call *c)
{
	const Dx__PutAttachmentOp *op = c->in->put_attachment;
	uint64_t held = 0;
	if (op->attachment_id.len != ATTACH_ID_LEN || op->data.len > NODE_ATTACH_PIECE ||
	    op->total_size == 0 || op->total_size > attach_stream_size(UINT32_MAX)) {
		return ctl_fail(c, DX_EINVAL, "malformed attachment piece (id of 16 bytes, at most "
					      "%d bytes of data, a stream size)",
				NODE_ATTACH_PIECE);
	}
	int rc = node_files_put(c->n, NODE_OUTGOING_DIR, op->attachment_id.data, op->offset,
				op->data.data, op->data.len, op->total_size, &held);
	if (rc == DX_EINVAL) {
		return ctl_fail(c, rc, "this piece does not continue the attachment held here "
				       "(offset %llu); start the attachment again",
				(unsigned long long)op->offset);
	}
	if (rc == DX_ENOSPC) {
		/* The CLI gives up on this stream and a new send starts another:
		 * what it left would hold on to the space the disk lacks. */
		node_files_remove(c->n, NODE_OUTGOING_DIR, op->attachment_id.data);
	}
	if (rc != DX_OK) {
		return rc;
	}
	Dx__PutAttachmentResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__put_attachment_result__init(res);
	res->received = held;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_PUT_ATTACHMENT;
	c->out.put_attachment = res;
	return DX_OK;
}

/* The attachment must be one the message references: nothing else is served. */
static int message_names(struct ctl_call *c, const struct ctl_msg *msg, const uint8_t id[16])
{
	uint8_t *body = NULL;
	size_t len = 0;
	ProtobufCMessage *m;
	int rc = msg->received ? node_store_inbox_read(c->n->store, msg->digest, &body, &len)
			       : node_store_outbox_read(c->n->store, msg->msg_id, &body, &len, NULL,
							NULL);
	if (rc != DX_OK) {
		return rc;
	}
	rc = proto_unpack_strict(&dx__payload__descriptor, body, len, ENVELOPE_BODY_MAX, &m);
	sodium_memzero(body, len);
	free(body);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__Payload *p = (const Dx__Payload *)m;
	rc = ctl_fail(c, DX_ENOENT, "that message has no such attachment");
	for (size_t i = 0; i < p->n_attachments; i++) {
		const ProtobufCBinaryData *a = &p->attachments[i]->attachment_id;
		if (a->len == ATTACH_ID_LEN && memcmp(a->data, id, ATTACH_ID_LEN) == 0) {
			rc = DX_OK;
		}
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

int ctl_get_attachment(struct ctl_call *c)
{
	const Dx__GetAttachmentOp *op = c->in->get_attachment;
	struct ctl_msg msg;
	size_t got = 0;
	uint64_t total = 0;
	if (op->attachment_id.len != ATTACH_ID_LEN) {
		return ctl_fail(c, DX_EINVAL, "an attachment id has 16 bytes");
	}
	int rc = ctl_resolve(c, op->id, &msg);
	if (rc != DX_OK || (rc = message_names(c, &msg, op->attachment_id.data)) != DX_OK) {
		return rc;
	}
	size_t max = op->max == 0 || op->max > NODE_ATTACH_PIECE ? NODE_ATTACH_PIECE : op->max;
	uint8_t *buf = ctl_alloc(c, max);
	Dx__GetAttachmentResult *res = ctl_alloc(c, sizeof(*res));
	if (buf == NULL || res == NULL) {
		return DX_ENOMEM;
	}
	rc = node_files_read(c->n, msg.received ? NODE_INCOMING_DIR : NODE_OUTGOING_DIR,
			     op->attachment_id.data, op->offset, max, buf, &got, &total);
	if (rc == DX_ENOENT) {
		return ctl_fail(c, rc, "that attachment has not been downloaded yet: try again "
				       "in a moment ('divex status' shows the relay link)");
	}
	if (rc != DX_OK) {
		return rc;
	}
	dx__get_attachment_result__init(res);
	res->data = (ProtobufCBinaryData){ got, buf };
	res->total_size = total;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_GET_ATTACHMENT;
	c->out.get_attachment = res;
	return DX_OK;
}
