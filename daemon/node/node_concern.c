/*
 * node_concern.c: the unauthorized-disclosure procedure of rule 15 inside
 * divexd (docs/casework.md): raising a concern about a message this State
 * sent with the State concerned (a Payload of type 9, dx.DisclosureConcern,
 * optionally with the message's audit dossier attached by the CLI),
 * answering a concern raised with this State (type 10,
 * dx.DisclosureExplanation, in reply to it), the concerns table
 * (concern_store.h), the received payloads of both types, and the rows of
 * the deadline book (`due`): concerns awaiting an explanation.
 *
 * Both payloads are queued exactly as `send` queues a message
 * (ctl_queue_payload). A received explanation counts only when it comes
 * from the State the concern was raised with and names a concern this
 * State raised. Loop thread only.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "concern_store.h"
#include "node_concern.h"

#define ID_HEX_LEN (2 * CONCERN_ID_LEN)

static int text_arg(struct ctl_call *c, const char *what, const char *s, int required)
{
	size_t len = strlen(s);
	if ((required && len == 0) || len > CONCERN_TEXT_MAX) {
		return ctl_fail(c, DX_EINVAL, "the %s must be %d to %d bytes", what,
				required ? 1 : 0, CONCERN_TEXT_MAX);
	}
	return DX_OK;
}

/* ---- raising ---- */

static int answer_raise(struct ctl_call *c, const uint8_t *id, const uint8_t *envelope_id,
			const char *to)
{
	Dx__ConcernRaiseResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__concern_raise_result__init(res);
	res->concern_id = ctl_bin(c, id, CONCERN_ID_LEN);
	res->envelope_id = ctl_bin(c, envelope_id, ENVELOPE_ID_LEN);
	res->to = ctl_strdup(c, to);
	if (res->to == NULL) {
		return DX_ENOMEM;
	}
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_CONCERN_RAISE;
	c->out.concern_raise = res;
	return DX_OK;
}

int ctl_concern_raise(struct ctl_call *c)
{
	const Dx__ConcernRaiseOp *op = c->in->concern_raise;
	struct node_store_outbox_info info;
	struct ctl_msg msg;
	Dx__SendResult *res = NULL;
	char subject[96], hex[ID_HEX_LEN + 1];
	uint8_t *content = NULL;
	size_t len = 0;
	int rc = ctl_resolve(c, op->envelope, &msg);
	if (rc != DX_OK) {
		return rc;
	}
	if (msg.received) {
		return ctl_fail(c, DX_EINVAL,
				"%s is a message this State received: a concern is "
				"raised by the State that shared the information, about "
				"a message it sent",
				op->envelope);
	}
	if ((rc = node_store_outbox_get(c->n->store, msg.msg_id, &info)) != DX_OK) {
		return rc;
	}
	if (!info.has_envelope) {
		return ctl_fail(c, DX_EINVAL,
				"the message %s was never sealed: it cannot have been "
				"disclosed",
				op->envelope);
	}
	const char *to = op->to[0] != '\0' ? op->to : info.recipient;
	if (!dx_state_valid(to) || strcmp(to, keys_state(c->n->keys)) == 0) {
		return ctl_fail(c, DX_EINVAL, "'%.16s' is not another State's code", to);
	}
	if ((rc = text_arg(c, "description", op->description, 1)) != DX_OK) {
		return rc;
	}
	if (op->attach_dossier && op->n_attachments == 0) {
		return ctl_fail(c, DX_EINVAL, "attach_dossier is set but no attachment is given");
	}
	if (concern_store_init(c->n->cases) != DX_OK) {
		return DX_EIO;
	}
	Dx__DisclosureConcern dc = DX__DISCLOSURE_CONCERN__INIT;
	dc.envelope_id = (ProtobufCBinaryData){ ENVELOPE_ID_LEN, info.envelope_id };
	dc.description = op->description;
	if ((rc = proto_pack_alloc(&dc.base, &content, &len)) != DX_OK) {
		return rc;
	}
	dx_hex(hex, info.envelope_id, ENVELOPE_ID_LEN);
	snprintf(subject, sizeof(subject), "Concern under rule 15 about message %.12s", hex);
	Dx__Payload p = DX__PAYLOAD__INIT;
	p.type = NODE_PAYLOAD_CONCERN;
	p.subject = subject;
	p.content = (ProtobufCBinaryData){ len, content };
	p.n_attachments = op->n_attachments;
	p.attachments = op->attachments;
	char *recipients[1] = { (char *)to };
	rc = ctl_queue_payload(c, recipients, 1, &p, &res);
	sodium_memzero(content, len);
	free(content);
	if (rc != DX_OK) {
		return rc;
	}
	struct concern_row r = {
		.direction = CONCERN_RAISED,
		.dossier = op->attach_dossier,
		.description = op->description,
	};
	memcpy(r.id, res->copies[0]->message_id.data, CONCERN_ID_LEN);
	memcpy(r.peer, to, DX_STATE_LEN + 1);
	memcpy(r.envelope_id, info.envelope_id, CONCERN_ID_LEN);
	if ((rc = concern_store_add(c->n->cases, &r)) != DX_OK) {
		node_log(c->n, NODE_LOG_ERROR,
			 "the concern to %s is queued but could not be "
			 "recorded: %s",
			 to, dx_strerror(rc));
		return ctl_fail(c, rc,
				"the concern was queued, but recording it failed: %s; see "
				"'divex outbox'",
				dx_strerror(rc));
	}
	node_log(c->n, NODE_LOG_INFO, "rule 15 concern about %.12s raised with %s%s", hex, to,
		 op->attach_dossier ? ", with its dossier" : "");
	return answer_raise(c, r.id, info.envelope_id, to);
}

/* ---- explaining ---- */

static int copy_row(void *ctx, const struct concern_row *r)
{
	struct concern_row *out = ctx;
	*out = *r;
	out->description = out->explanation = out->remedial = NULL;
	return 0;
}

int ctl_concern_explain(struct ctl_call *c)
{
	const Dx__ConcernExplainOp *op = c->in->concern_explain;
	struct node_store_inbox_info info;
	struct concern_row row;
	struct ctl_msg msg;
	Dx__SendResult *res = NULL;
	uint8_t *content = NULL;
	size_t len = 0;
	int rc = ctl_resolve(c, op->concern, &msg);
	if (rc != DX_OK) {
		return rc;
	}
	if (!msg.received || (rc = node_store_inbox_get(c->n->store, msg.digest, &info)) != DX_OK ||
	    concern_store_init(c->n->cases) != DX_OK ||
	    (rc = concern_store_get(c->n->cases, info.envelope_id, copy_row, &row)) != DX_OK ||
	    row.direction != CONCERN_RECEIVED) {
		return ctl_fail(c, rc == DX_OK || rc == DX_ENOENT ? DX_EINVAL : rc,
				"%s is not a concern raised with this State: see 'divex concern "
				"list'",
				op->concern);
	}
	if ((rc = text_arg(c, "explanation", op->explanation, 1)) != DX_OK ||
	    (rc = text_arg(c, "remedial measures", op->remedial_measures, 0)) != DX_OK) {
		return rc;
	}
	Dx__DisclosureExplanation de = DX__DISCLOSURE_EXPLANATION__INIT;
	de.concern_envelope_id = (ProtobufCBinaryData){ ENVELOPE_ID_LEN, info.envelope_id };
	de.explanation = op->explanation;
	de.remedial_measures = op->remedial_measures;
	if ((rc = proto_pack_alloc(&de.base, &content, &len)) != DX_OK) {
		return rc;
	}
	Dx__Payload p = DX__PAYLOAD__INIT;
	p.type = NODE_PAYLOAD_EXPLANATION;
	p.subject = "Explanation under rule 15";
	p.in_reply_to = (ProtobufCBinaryData){ ENVELOPE_ID_LEN, info.envelope_id };
	p.content = (ProtobufCBinaryData){ len, content };
	char *recipients[1] = { row.peer };
	rc = ctl_queue_payload(c, recipients, 1, &p, &res);
	sodium_memzero(content, len);
	free(content);
	if (rc != DX_OK) {
		return rc;
	}
	rc = concern_store_explain(c->n->cases, info.envelope_id, case_store_now(c->n->cases),
				   op->explanation, op->remedial_measures);
	if (rc != DX_OK) {
		return ctl_fail(c, rc, "the explanation was queued, but recording it failed: %s",
				dx_strerror(rc));
	}
	node_log(c->n, NODE_LOG_INFO, "rule 15 explanation sent to %s", row.peer);
	Dx__ConcernExplainResult *out = ctl_alloc(c, sizeof(*out));
	if (out == NULL) {
		return DX_ENOMEM;
	}
	dx__concern_explain_result__init(out);
	out->message_id = res->copies[0]->message_id;
	out->to = res->copies[0]->recipient;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_CONCERN_EXPLAIN;
	c->out.concern_explain = out;
	return DX_OK;
}

/* ---- listing ---- */

struct list_ctx {
	struct ctl_call *c;
	Dx__ConcernInfo **items;
	size_t n, cap;
};

static int list_row(void *ctx, const struct concern_row *r)
{
	struct list_ctx *l = ctx;
	if (ctl_grow(l->c, (void ***)&l->items, l->n, &l->cap) != DX_OK) {
		return DX_ENOMEM;
	}
	Dx__ConcernInfo *it = ctl_alloc(l->c, sizeof(*it));
	if (it == NULL) {
		return DX_ENOMEM;
	}
	dx__concern_info__init(it);
	it->direction = r->direction == CONCERN_RAISED ? "raised" : "received";
	it->id = ctl_bin(l->c, r->id, CONCERN_ID_LEN);
	it->peer = ctl_strdup(l->c, r->peer);
	it->envelope_id = ctl_bin(l->c, r->envelope_id, CONCERN_ID_LEN);
	it->description = ctl_strdup(l->c, r->description);
	it->state = r->explained_ms != 0 ? "explained" : "raised";
	it->raised_ms = r->raised_ms;
	it->explained_ms = r->explained_ms;
	it->explanation = ctl_strdup(l->c, r->explanation != NULL ? r->explanation : "");
	it->remedial_measures = ctl_strdup(l->c, r->remedial != NULL ? r->remedial : "");
	it->dossier_attached = r->dossier != 0;
	if (it->peer == NULL || it->description == NULL || it->explanation == NULL ||
	    it->remedial_measures == NULL) {
		return DX_ENOMEM;
	}
	l->items[l->n++] = it;
	return 0;
}

int ctl_concern_list(struct ctl_call *c)
{
	struct list_ctx l = { .c = c };
	int rc = concern_store_init(c->n->cases);
	if (rc == DX_OK) {
		rc = concern_store_list(c->n->cases, list_row, &l);
	}
	if (rc != DX_OK) {
		return rc;
	}
	Dx__ConcernListResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__concern_list_result__init(res);
	res->concerns = l.items;
	res->n_concerns = l.n;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_CONCERN_LIST;
	c->out.concern_list = res;
	return DX_OK;
}

/* ---- the deadline book ---- */

struct due_ctx {
	struct ctl_due_book *b;
};

static int due_row(void *ctx, const struct concern_row *r)
{
	struct due_ctx *d = ctx;
	char date[NOTICE_DATE_LEN + 1], hex[ID_HEX_LEN + 1], env[ID_HEX_LEN + 1], what[200];
	if (r->explained_ms != 0) {
		return 0;
	}
	/* The local day it was raised, as every date in the book is local. */
	if (notice_local_day(r->raised_ms, date) != DX_OK) {
		return DX_EINTERNAL;
	}
	dx_hex(hex, r->id, CONCERN_ID_LEN);
	dx_hex(env, r->envelope_id, CONCERN_ID_LEN);
	if (r->direction == CONCERN_RAISED) {
		snprintf(what, sizeof(what),
			 "%s's explanation of the rule 15 concern about message "
			 "%.12s, raised on %s",
			 r->peer, env, date);
	} else {
		snprintf(what, sizeof(what),
			 "explain the rule 15 concern %s raised on %s: 'divex "
			 "concern explain %.12s'",
			 r->peer, date, hex);
	}
	return ctl_due_add(d->b, date,
			   r->direction == CONCERN_RAISED ? "concern_explanation_awaited"
							  : "concern_to_explain",
			   r->peer, "", r->id, CONCERN_ID_LEN, what, 0);
}

int node_concern_due(struct ctl_call *c, struct ctl_due_book *b, const char *today)
{
	struct due_ctx d = { b };
	(void)today;
	int rc = concern_store_init(c->n->cases);
	return rc != DX_OK ? rc : concern_store_list(c->n->cases, due_row, &d);
}

/* ---- receiving ---- */

static void log_ignored(struct node *n, const struct node_store_opened *m, const char *why)
{
	char hex[2 * ENVELOPE_ID_LEN + 1];
	dx_hex(hex, m->envelope_id, ENVELOPE_ID_LEN);
	node_log(n, NODE_LOG_WARN, "message %s from %s kept, but %s", hex, m->sender, why);
}

void node_concern_received(struct node *n, const struct node_store_opened *m, const Dx__Payload *p)
{
	ProtobufCMessage *pm = NULL;
	char hex[2 * ENVELOPE_ID_LEN + 1];
	if (proto_unpack_strict(&dx__disclosure_concern__descriptor, p->content.data,
				p->content.len, CONCERN_TEXT_MAX + 64, &pm) != DX_OK) {
		log_ignored(n, m, "its rule 15 concern does not decode");
		return;
	}
	const Dx__DisclosureConcern *dc = (const Dx__DisclosureConcern *)pm;
	struct concern_row r = {
		.direction = CONCERN_RECEIVED,
		.dossier = p->n_attachments > 0,
		.description = dc->description,
	};
	int rc = dc->envelope_id.len == ENVELOPE_ID_LEN ? concern_store_init(n->cases) : DX_EINVAL;
	if (rc == DX_OK) {
		memcpy(r.id, m->envelope_id, CONCERN_ID_LEN);
		memcpy(r.peer, m->sender, sizeof(r.peer));
		memcpy(r.envelope_id, dc->envelope_id.data, CONCERN_ID_LEN);
		rc = concern_store_add(n->cases, &r);
	}
	if (rc == DX_EINVAL) {
		log_ignored(n, m, "its rule 15 concern is malformed");
	} else if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "recording the rule 15 concern from %s: %s", m->sender,
			 dx_strerror(rc));
	} else {
		dx_hex(hex, r.envelope_id, ENVELOPE_ID_LEN);
		node_log(n, NODE_LOG_INFO, "rule 15 concern from %s about message %s%s", m->sender,
			 hex, r.dossier ? ", with an attachment" : "");
	}
	protobuf_c_message_free_unpacked(pm, NULL);
}

/* Finds the message id of the sent message sealed as envelope_id. */
struct sent_ctx {
	const uint8_t *envelope_id;
	uint8_t msg_id[NODE_STORE_MSG_ID_LEN];
	int found;
	size_t seen;
};

static int sent_row(void *ctx, const struct node_store_outbox_info *m)
{
	struct sent_ctx *s = ctx;
	s->seen++;
	if (m->has_envelope && memcmp(m->envelope_id, s->envelope_id, ENVELOPE_ID_LEN) == 0) {
		memcpy(s->msg_id, m->msg_id, NODE_STORE_MSG_ID_LEN);
		s->found = 1;
		return 1;
	}
	return 0;
}

static int find_sent(struct node *n, const uint8_t *envelope_id, uint8_t msg_id[static 16])
{
	struct sent_ctx s = { .envelope_id = envelope_id };
	for (size_t off = 0;; off += NODE_STORE_LIST_MAX) {
		s.seen = 0;
		int rc = node_store_outbox_list(n->store, NODE_STORE_LIST_MAX, off, sent_row, &s);
		if (rc < 0) {
			return rc;
		}
		if (s.found) {
			memcpy(msg_id, s.msg_id, NODE_STORE_MSG_ID_LEN);
			return DX_OK;
		}
		if (s.seen < NODE_STORE_LIST_MAX) {
			return DX_ENOENT;
		}
	}
}

void node_concern_explanation_received(struct node *n, const struct node_store_opened *m,
				       const Dx__Payload *p)
{
	ProtobufCMessage *pm = NULL;
	struct concern_row row;
	uint8_t id[CONCERN_ID_LEN];
	if (proto_unpack_strict(&dx__disclosure_explanation__descriptor, p->content.data,
				p->content.len, 2 * CONCERN_TEXT_MAX + 64, &pm) != DX_OK) {
		log_ignored(n, m, "its rule 15 explanation does not decode");
		return;
	}
	const Dx__DisclosureExplanation *de = (const Dx__DisclosureExplanation *)pm;
	int rc = de->concern_envelope_id.len == ENVELOPE_ID_LEN ? concern_store_init(n->cases)
								: DX_EINVAL;
	if (rc == DX_OK) {
		rc = find_sent(n, de->concern_envelope_id.data, id);
	}
	if (rc == DX_OK) {
		rc = concern_store_get(n->cases, id, copy_row, &row);
	}
	/* Only the State the concern was raised with answers it. */
	if (rc == DX_OK && (row.direction != CONCERN_RAISED || strcmp(row.peer, m->sender) != 0)) {
		rc = DX_ENOENT;
	}
	if (rc == DX_OK) {
		rc = concern_store_explain(n->cases, id, case_store_now(n->cases), de->explanation,
					   de->remedial_measures);
	}
	if (rc == DX_ENOENT || rc == DX_EINVAL) {
		log_ignored(n, m,
			    "its rule 15 explanation names no concern raised with that State");
	} else if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "recording the rule 15 explanation from %s: %s",
			 m->sender, dx_strerror(rc));
	} else {
		node_log(n, NODE_LOG_INFO, "rule 15 explanation from %s received", m->sender);
	}
	protobuf_c_message_free_unpacked(pm, NULL);
}
