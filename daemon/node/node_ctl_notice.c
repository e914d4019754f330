/*
 * node_ctl_notice.c: the control operations on rule 12 notices
 * (docs/casework.md, docs/casework-rules.md): notice_send, notice_reply,
 * notice_status, notice_replies, and the deadline book, due.
 *
 * The daemon decides the dates: today is its own calendar day
 * (notice_today(), which tests set with DIVEX_TODAY), and notice_check()
 * refuses a notice sent later than 30 days before the meeting unless the
 * officer gives a reason, which then travels in the notice. Each notice
 * goes as a Payload of type 5 queued exactly as `send` queues a message
 * (ctl_queue_payload: one numbered copy per State, all or none), and each
 * copy is recorded in the notices table (notice_store.h). Loop thread only.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "node_concern.h"
#include "node_consent.h"
#include "node_notice.h"
#include "node_request.h"

#define ID_HEX_LEN (2 * NOTICE_STORE_ID_LEN)

static int check_text(struct ctl_call *c, const char *what, const char *s, size_t min, size_t max)
{
	size_t len = strlen(s);
	if (len < min || len > max) {
		return ctl_fail(c, DX_EINVAL, "the %s must be %zu to %zu bytes", what, min, max);
	}
	return DX_OK;
}

static int today_or_fail(struct ctl_call *c, char today[static NOTICE_DATE_LEN + 1])
{
	int rc = notice_today(today);
	if (rc != DX_OK) {
		return ctl_fail(c, rc,
				"this node cannot tell today's date (is DIVEX_TODAY a date "
				"YYYY-MM-DD?): %s",
				dx_strerror(rc));
	}
	return DX_OK;
}

/* Applies rule 12 to the meeting date, with a message that says what to do. */
static int check_dates(struct ctl_call *c, const char *today, const Dx__NoticeSendOp *op,
		       struct notice_dates *d)
{
	int64_t days = 0;
	int rc = notice_check(today, op->meeting_date, op->late_reason[0] != '\0', d);
	if (rc == DX_EPARSE) {
		return ctl_fail(c, rc, "'%.40s' is not a meeting date: write YYYY-MM-DD",
				op->meeting_date);
	}
	if (rc == DX_EINVAL) {
		return ctl_fail(c, rc,
				"the meeting on %s is not after today (%s): there is nothing "
				"left to notify",
				op->meeting_date, today);
	}
	if (rc == DX_ELATE_NOTICE) {
		if (notice_days_between(today, op->meeting_date, &days) != DX_OK) {
			days = 0;
		}
		return ctl_fail(c, rc,
				"the meeting on %s is %lld days after today (%s): rule 12 asks for "
				"the notice at least %d days before it. Send it only with "
				"--late-reason TEXT, which is recorded and shown to the recipients",
				op->meeting_date, (long long)days, today, NOTICE_MIN_DAYS);
	}
	return rc;
}

static int record_copies(struct ctl_call *c, const Dx__NoticeSendOp *op, const char *today,
			 const struct notice_dates *d, const uint8_t *notice, size_t len,
			 const Dx__SendResult *res)
{
	struct notice_row r = {
		.direction = NOTICE_SENT,
		.late = d->late,
		.notice = notice,
		.notice_len = len,
	};
	snprintf(r.case_id, sizeof(r.case_id), "%s", op->case_id);
	snprintf(r.meeting_date, sizeof(r.meeting_date), "%s", op->meeting_date);
	snprintf(r.respond_by, sizeof(r.respond_by), "%s", d->respond_by);
	snprintf(r.sent_date, sizeof(r.sent_date), "%s", today);
	memcpy(r.group, res->copies[0]->message_id.data, NOTICE_STORE_ID_LEN);
	for (size_t i = 0; i < res->n_copies; i++) {
		memcpy(r.id, res->copies[i]->message_id.data, NOTICE_STORE_ID_LEN);
		snprintf(r.peer, sizeof(r.peer), "%s", res->copies[i]->recipient);
		int rc = notice_store_add(c->n->cases, &r);
		if (rc != DX_OK) {
			/* The copies are queued already: say so rather than pretend nothing left.
			 */
			node_log(c->n, NODE_LOG_ERROR,
				 "the notice to %s is queued but could not be "
				 "recorded: %s",
				 r.peer, dx_strerror(rc));
			return ctl_fail(c, rc,
					"the notice was queued, but recording it failed: %s; "
					"see 'divex outbox'",
					dx_strerror(rc));
		}
	}
	return DX_OK;
}

static int answer_send(struct ctl_call *c, const char *today, const struct notice_dates *d,
		       Dx__SendResult *res)
{
	Dx__NoticeSendResult *out = ctl_alloc(c, sizeof(*out));
	if (out == NULL) {
		return DX_ENOMEM;
	}
	dx__notice_send_result__init(out);
	out->notice_id = ctl_bin(c, res->copies[0]->message_id.data, NOTICE_STORE_ID_LEN);
	out->sent_date = ctl_strdup(c, today);
	out->respond_by = ctl_strdup(c, d->respond_by);
	if (out->sent_date == NULL || out->respond_by == NULL) {
		return DX_ENOMEM;
	}
	out->late = d->late != 0;
	out->respond_by_is_today = d->respond_by_is_today != 0;
	out->days_before = d->days_before;
	out->n_copies = res->n_copies;
	out->copies = res->copies;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_NOTICE_SEND;
	c->out.notice_send = out;
	return DX_OK;
}

int ctl_notice_send(struct ctl_call *c)
{
	const Dx__NoticeSendOp *op = c->in->notice_send;
	char today[NOTICE_DATE_LEN + 1], subject[NODE_NOTICE_NAME_MAX + 64];
	struct notice_dates d;
	Dx__SendResult *res = NULL;
	uint8_t *notice = NULL;
	size_t len = 0;
	int rc;
	if (!case_store_id_valid(op->case_id)) {
		return ctl_fail(c, DX_EINVAL, "'%.80s' is not a case id", op->case_id);
	}
	if ((rc = case_store_get(c->n->cases, op->case_id, NULL, NULL, NULL)) == DX_ENOENT) {
		return ctl_fail(c, rc,
				"no case %s on this node: a notice belongs to a case (see "
				"'divex case list')",
				op->case_id);
	}
	if (rc != DX_OK ||
	    (rc = check_text(c, "meeting name", op->meeting_name, 0, NODE_NOTICE_NAME_MAX)) !=
		    DX_OK ||
	    (rc = check_text(c, "summary", op->summary, 1, NODE_NOTICE_SUMMARY_MAX)) != DX_OK ||
	    (rc = check_text(c, "late reason", op->late_reason, 0, NODE_NOTICE_REASON_MAX)) !=
		    DX_OK ||
	    (rc = today_or_fail(c, today)) != DX_OK ||
	    (rc = check_dates(c, today, op, &d)) != DX_OK) {
		return rc;
	}
	Dx__Notice nt = DX__NOTICE__INIT;
	nt.meeting_date = op->meeting_date;
	nt.meeting_name = op->meeting_name;
	nt.summary = op->summary;
	nt.respond_by = d.respond_by;
	/* A reason is the record of a late notice; one on time carries none. */
	nt.late_reason = d.late ? op->late_reason : "";
	nt.sent_date = today;
	if ((rc = proto_pack_alloc(&nt.base, &notice, &len)) != DX_OK) {
		return rc;
	}
	snprintf(subject, sizeof(subject), "Notice under rule 12: %s on %s",
		 op->meeting_name[0] != '\0' ? op->meeting_name : "a meeting", op->meeting_date);
	Dx__Payload p = DX__PAYLOAD__INIT;
	p.type = NODE_PAYLOAD_NOTICE;
	p.case_id = op->case_id;
	p.subject = subject;
	p.content = (ProtobufCBinaryData){ len, notice };
	rc = ctl_queue_payload(c, op->to, op->n_to, &p, &res);
	if (rc == DX_OK) {
		rc = record_copies(c, op, today, &d, notice, len, res);
	}
	sodium_memzero(notice, len);
	free(notice);
	if (rc != DX_OK) {
		return rc;
	}
	node_log(c->n, NODE_LOG_INFO,
		 "rule 12 notice for case %s (meeting %s) sent to %zu "
		 "State(s), reply by %s%s",
		 op->case_id, op->meeting_date, op->n_to, d.respond_by,
		 d.late ? ", late with a reason" : "");
	return answer_send(c, today, &d, res);
}

/* ---- finding notices by id prefix ---- */

struct find_ctx {
	const char *prefix;
	size_t len;
	int direction;
	size_t found;
	uint8_t group[NOTICE_STORE_ID_LEN];
	struct notice_row row; /* the match, without its buffers */
};

static int prefix_of(const char *prefix, size_t len, const uint8_t id[static NOTICE_STORE_ID_LEN])
{
	char hex[ID_HEX_LEN + 1];
	dx_hex(hex, id, NOTICE_STORE_ID_LEN);
	return strncmp(hex, prefix, len) == 0;
}

static int find_row(void *ctx, const struct notice_row *r)
{
	struct find_ctx *f = ctx;
	if ((int)r->direction != f->direction ||
	    !(prefix_of(f->prefix, f->len, r->id) || prefix_of(f->prefix, f->len, r->group))) {
		return 0;
	}
	/* The copies of one sent notice are one match. */
	if (f->found == 0 || memcmp(f->group, r->group, NOTICE_STORE_ID_LEN) != 0) {
		f->found++;
	}
	memcpy(f->group, r->group, NOTICE_STORE_ID_LEN);
	f->row = *r;
	f->row.notice = NULL;
	f->row.reply = NULL;
	return 0;
}

static int find_notice(struct ctl_call *c, const char *id, int direction, struct find_ctx *f)
{
	memset(f, 0, sizeof(*f));
	f->prefix = id;
	f->len = strlen(id);
	f->direction = direction;
	if (f->len < 6 || f->len > ID_HEX_LEN || strspn(id, "0123456789abcdef") != f->len) {
		return ctl_fail(c, DX_EINVAL,
				"'%.40s' is not a notice id: give 6 to 32 lowercase hex "
				"digits of an id shown by 'divex notice status'",
				id);
	}
	int rc = notice_store_list(c->n->cases, direction, NULL, find_row, f);
	if (rc != DX_OK) {
		return rc;
	}
	if (f->found == 0) {
		return ctl_fail(c, DX_ENOENT,
				"no %s notice has an id starting with %s: see 'divex "
				"notice status'",
				direction == NOTICE_SENT ? "sent" : "received", id);
	}
	if (f->found > 1) {
		return ctl_fail(c, DX_EAMBIGUOUS, "%s: %s", id, dx_strerror(DX_EAMBIGUOUS));
	}
	return DX_OK;
}

/* The notice a row holds, decoded; freed with protobuf_c_message_free_unpacked. */
static int row_notice(const struct notice_row *r, Dx__Notice **out)
{
	ProtobufCMessage *m = NULL;
	int rc = proto_unpack_strict(&dx__notice__descriptor, r->notice, r->notice_len,
				     NOTICE_STORE_NOTICE_MAX, &m);
	if (rc == DX_OK) {
		*out = (Dx__Notice *)m;
	}
	return rc;
}

/* ---- reply ---- */

struct reply_ctx {
	const uint8_t *id;
	Dx__Notice *notice;
	int rc;
};

static int load_notice(void *ctx, const struct notice_row *r)
{
	struct reply_ctx *x = ctx;
	if (memcmp(r->id, x->id, NOTICE_STORE_ID_LEN) != 0) {
		return 0;
	}
	x->rc = row_notice(r, &x->notice);
	return 1;
}

int ctl_notice_reply(struct ctl_call *c)
{
	const Dx__NoticeReplyOp *op = c->in->notice_reply;
	struct find_ctx f;
	struct reply_ctx x = { .rc = DX_ENOENT };
	char subject[NODE_NOTICE_NAME_MAX + 64];
	Dx__SendResult *res = NULL;
	uint8_t *body = NULL;
	size_t len = 0;
	int rc = check_text(c, "response", op->response, 1, NOTICE_STORE_REPLY_MAX);
	if (rc != DX_OK || (rc = find_notice(c, op->id, NOTICE_RECEIVED, &f)) != DX_OK) {
		return rc;
	}
	x.id = f.row.id;
	rc = notice_store_list(c->n->cases, NOTICE_RECEIVED, f.row.case_id, load_notice, &x);
	if (rc < 0 || (rc = x.rc) != DX_OK) {
		return rc;
	}
	snprintf(subject, sizeof(subject), "Reply to the notice under rule 12: %s on %s",
		 x.notice->meeting_name[0] != '\0' ? x.notice->meeting_name : "a meeting",
		 x.notice->meeting_date);
	protobuf_c_message_free_unpacked(&x.notice->base, NULL);
	Dx__NoticeReply nr = DX__NOTICE_REPLY__INIT;
	nr.notice_envelope_id = (ProtobufCBinaryData){ NOTICE_STORE_ID_LEN, f.row.id };
	nr.response = op->response;
	if ((rc = proto_pack_alloc(&nr.base, &body, &len)) != DX_OK) {
		return rc;
	}
	char *to[] = { f.row.peer };
	Dx__Payload p = DX__PAYLOAD__INIT;
	p.type = NODE_PAYLOAD_NOTICE_REPLY;
	p.case_id = f.row.case_id;
	p.subject = subject;
	p.in_reply_to = (ProtobufCBinaryData){ NOTICE_STORE_ID_LEN, f.row.id };
	p.content = (ProtobufCBinaryData){ len, body };
	rc = ctl_queue_payload(c, to, 1, &p, &res);
	sodium_memzero(body, len);
	free(body);
	if (rc != DX_OK) {
		return rc;
	}
	rc = notice_store_mark_replied(c->n->cases, f.row.id, case_store_now(c->n->cases),
				       res->copies[0]->message_id.data, op->response,
				       strlen(op->response));
	if (rc != DX_OK) {
		return ctl_fail(c, rc, "the reply was queued, but recording it failed: %s",
				dx_strerror(rc));
	}
	node_log(c->n, NODE_LOG_INFO, "reply to %s's rule 12 notice for case %s queued", f.row.peer,
		 f.row.case_id);
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_NOTICE_REPLY;
	c->out.notice_reply = res;
	return DX_OK;
}

/* ---- status and replies ---- */

struct status_ctx {
	struct ctl_call *c;
	char today[NOTICE_DATE_LEN + 1];
	const uint8_t *group; /* only this notice, or NULL */
	Dx__NoticeInfo **sent, **received;
	size_t n_sent, n_received, cap_sent, cap_received;
	Dx__NoticeReplyText **replies;
	size_t n_replies, cap_replies;
	int rc;
};

/* Appends item to a growing array in call memory. */
static int push(struct ctl_call *c, void ***v, size_t *n, size_t *cap, void *item)
{
	if (*n == *cap) {
		size_t ncap = *cap == 0 ? 8 : 2 * *cap;
		void **nv = ctl_alloc(c, ncap * sizeof(*nv));
		if (nv == NULL) {
			return DX_ENOMEM;
		}
		if (*n > 0) {
			memcpy(nv, *v, *n * sizeof(*nv));
		}
		*v = nv;
		*cap = ncap;
	}
	(*v)[(*n)++] = item;
	return DX_OK;
}

static Dx__NoticeInfo *new_info(struct ctl_call *c, const struct notice_row *r)
{
	Dx__Notice *nt = NULL;
	Dx__NoticeInfo *i = ctl_alloc(c, sizeof(*i));
	if (i == NULL || row_notice(r, &nt) != DX_OK) {
		return NULL;
	}
	dx__notice_info__init(i);
	i->notice_id = ctl_bin(c, r->group, NOTICE_STORE_ID_LEN);
	i->direction = r->direction == NOTICE_SENT ? "sent" : "received";
	i->case_id = ctl_strdup(c, r->case_id);
	i->meeting_date = ctl_strdup(c, r->meeting_date);
	i->meeting_name = ctl_strdup(c, nt->meeting_name);
	i->summary = ctl_strdup(c, nt->summary);
	i->respond_by = ctl_strdup(c, r->respond_by);
	i->sent_date = ctl_strdup(c, r->sent_date);
	i->late_reason = ctl_strdup(c, nt->late_reason);
	protobuf_c_message_free_unpacked(&nt->base, NULL);
	if (i->case_id == NULL || i->meeting_date == NULL || i->meeting_name == NULL ||
	    i->summary == NULL || i->respond_by == NULL || i->sent_date == NULL ||
	    i->late_reason == NULL) {
		return NULL;
	}
	return i;
}

static int add_copy(struct status_ctx *s, Dx__NoticeInfo *i, const struct notice_row *r)
{
	Dx__NoticeCopy *cp = ctl_alloc(s->c, sizeof(*cp));
	if (cp == NULL) {
		return DX_ENOMEM;
	}
	dx__notice_copy__init(cp);
	cp->state = ctl_strdup(s->c, r->peer);
	cp->message_id = ctl_bin(s->c, r->id, NOTICE_STORE_ID_LEN);
	cp->status = (char *)node_notice_state(r, s->today);
	cp->replied_ms = r->replied_ms;
	if (r->replied_ms != 0) {
		cp->reply_envelope_id = ctl_bin(s->c, r->reply_id, NOTICE_STORE_ID_LEN);
	}
	size_t cap = i->n_copies; /* copies grow one by one: the array is exact */
	Dx__NoticeCopy **v = ctl_alloc(s->c, (cap + 1) * sizeof(*v));
	if (cp->state == NULL || v == NULL) {
		return DX_ENOMEM;
	}
	if (cap > 0) {
		memcpy(v, i->copies, cap * sizeof(*v));
	}
	v[cap] = cp;
	i->copies = v;
	i->n_copies = cap + 1;
	return DX_OK;
}

static int add_reply(struct status_ctx *s, const struct notice_row *r)
{
	Dx__NoticeReplyText *t = ctl_alloc(s->c, sizeof(*t));
	if (t == NULL) {
		return DX_ENOMEM;
	}
	dx__notice_reply_text__init(t);
	t->state = ctl_strdup(s->c, r->peer);
	t->replied_ms = r->replied_ms;
	t->reply_envelope_id = ctl_bin(s->c, r->reply_id, NOTICE_STORE_ID_LEN);
	t->response = ctl_strdup(s->c, r->reply != NULL ? r->reply : "");
	if (t->state == NULL || t->response == NULL) {
		return DX_ENOMEM;
	}
	return push(s->c, (void ***)&s->replies, &s->n_replies, &s->cap_replies, t);
}

static int status_row(void *ctx, const struct notice_row *r)
{
	struct status_ctx *s = ctx;
	Dx__NoticeInfo *i = NULL;
	if (s->group != NULL && memcmp(s->group, r->group, NOTICE_STORE_ID_LEN) != 0) {
		return 0;
	}
	if (r->direction == NOTICE_RECEIVED) {
		if ((i = new_info(s->c, r)) == NULL) {
			return DX_ENOMEM;
		}
		i->sender = ctl_strdup(s->c, r->peer);
		i->status = (char *)node_notice_state(r, s->today);
		i->replied_ms = r->replied_ms;
		return i->sender == NULL ? DX_ENOMEM
					 : push(s->c, (void ***)&s->received, &s->n_received,
						&s->cap_received, i);
	}
	for (size_t k = 0; k < s->n_sent && i == NULL; k++) {
		if (memcmp(s->sent[k]->notice_id.data, r->group, NOTICE_STORE_ID_LEN) == 0) {
			i = s->sent[k];
		}
	}
	if (i == NULL) {
		if ((i = new_info(s->c, r)) == NULL) {
			return DX_ENOMEM;
		}
		int rc = push(s->c, (void ***)&s->sent, &s->n_sent, &s->cap_sent, i);
		if (rc != DX_OK) {
			return rc;
		}
	}
	int rc = add_copy(s, i, r);
	if (rc == DX_OK && r->replied_ms != 0 && s->group != NULL) {
		rc = add_reply(s, r);
	}
	return rc;
}

int ctl_notice_status(struct ctl_call *c)
{
	const char *case_id = c->in->notice_status->case_id;
	struct status_ctx s = { .c = c };
	if (case_id[0] != '\0' && !case_store_id_valid(case_id)) {
		return ctl_fail(c, DX_EINVAL, "'%.80s' is not a case id", case_id);
	}
	int rc = today_or_fail(c, s.today);
	if (rc != DX_OK ||
	    (rc = notice_store_list(c->n->cases, 0, case_id, status_row, &s)) != DX_OK) {
		return rc;
	}
	Dx__NoticeStatusResult *out = ctl_alloc(c, sizeof(*out));
	if (out == NULL) {
		return DX_ENOMEM;
	}
	dx__notice_status_result__init(out);
	out->sent = s.sent;
	out->n_sent = s.n_sent;
	out->received = s.received;
	out->n_received = s.n_received;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_NOTICE_STATUS;
	c->out.notice_status = out;
	return DX_OK;
}

int ctl_notice_replies(struct ctl_call *c)
{
	struct find_ctx f;
	struct status_ctx s = { .c = c };
	int rc = find_notice(c, c->in->notice_replies->id, NOTICE_SENT, &f);
	if (rc != DX_OK || (rc = today_or_fail(c, s.today)) != DX_OK) {
		return rc;
	}
	s.group = f.group;
	if ((rc = notice_store_list(c->n->cases, NOTICE_SENT, f.row.case_id, status_row, &s)) !=
	    DX_OK) {
		return rc;
	}
	Dx__NoticeRepliesResult *out = ctl_alloc(c, sizeof(*out));
	if (out == NULL || s.n_sent != 1) {
		return out == NULL ? DX_ENOMEM : DX_EINTERNAL;
	}
	dx__notice_replies_result__init(out);
	out->notice = s.sent[0];
	out->replies = s.replies;
	out->n_replies = s.n_replies;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_NOTICE_REPLIES;
	c->out.notice_replies = out;
	return DX_OK;
}

/* ---- the deadline book ---- */

struct ctl_due_book {
	struct ctl_call *c;
	Dx__DueItem **items;
	size_t n, cap;
};

int ctl_due_add(struct ctl_due_book *b, const char *date, const char *kind, const char *state,
		const char *case_id, const uint8_t *id, size_t id_len, const char *what,
		int overdue)
{
	Dx__DueItem *it = ctl_alloc(b->c, sizeof(*it));
	if (it == NULL) {
		return DX_ENOMEM;
	}
	dx__due_item__init(it);
	it->date = ctl_strdup(b->c, date);
	it->kind = ctl_strdup(b->c, kind);
	it->state = ctl_strdup(b->c, state);
	it->case_id = ctl_strdup(b->c, case_id);
	it->id = ctl_bin(b->c, id, id_len);
	it->what = ctl_strdup(b->c, what);
	it->overdue = overdue != 0;
	if (it->date == NULL || it->kind == NULL || it->state == NULL || it->case_id == NULL ||
	    it->what == NULL) {
		return DX_ENOMEM;
	}
	return push(b->c, (void ***)&b->items, &b->n, &b->cap, it);
}

struct due_notice_ctx {
	struct ctl_due_book *b;
	const char *today;
};

static int due_notice_row(void *ctx, const struct notice_row *r)
{
	struct due_notice_ctx *x = ctx;
	Dx__Notice *nt = NULL;
	char what[NODE_NOTICE_NAME_MAX + 160], hex[ID_HEX_LEN + 1];
	if (r->replied_ms != 0) {
		return 0;
	}
	int rc = row_notice(r, &nt);
	if (rc != DX_OK) {
		return rc;
	}
	const char *name = nt->meeting_name[0] != '\0' ? nt->meeting_name : "a meeting";
	int overdue = strcmp(node_notice_state(r, x->today), "overdue") == 0;
	dx_hex(hex, r->id, NOTICE_STORE_ID_LEN);
	if (r->direction == NOTICE_SENT) {
		snprintf(what, sizeof(what), "%s's reply to the rule 12 notice for %s on %s",
			 r->peer, name, r->meeting_date);
	} else {
		snprintf(what, sizeof(what),
			 "reply to %s's rule 12 notice for %s on %s: 'divex "
			 "notice reply %.12s'",
			 r->peer, name, r->meeting_date, hex);
	}
	protobuf_c_message_free_unpacked(&nt->base, NULL);
	return ctl_due_add(x->b, r->respond_by,
			   r->direction == NOTICE_SENT ? "notice_reply_awaited"
						       : "notice_to_answer",
			   r->peer, r->case_id, r->id, NOTICE_STORE_ID_LEN, what, overdue);
}

static int due_notices(struct ctl_call *c, struct ctl_due_book *b, const char *today)
{
	struct due_notice_ctx x = { .b = b, .today = today };
	return notice_store_list(c->n->cases, 0, NULL, due_notice_row, &x);
}

/*
 * Every module with dates in the book. Consent requests awaiting an answer
 * are added here by the consent module, with a source of its own.
 */
static const ctl_due_source DUE_SOURCES[] = {
	due_notices,
	ctl_due_consent,
	node_concern_due,
	node_request_due,
};

static int due_cmp(const void *a, const void *b)
{
	const Dx__DueItem *x = *(const Dx__DueItem *const *)a, *y = *(const Dx__DueItem *const *)b;
	int d = strcmp(x->date, y->date);
	if (d == 0) {
		d = strcmp(x->kind, y->kind);
	}
	return d != 0 ? d : strcmp(x->state, y->state);
}

int ctl_due(struct ctl_call *c)
{
	struct ctl_due_book b = { .c = c };
	char today[NOTICE_DATE_LEN + 1];
	int rc = today_or_fail(c, today);
	for (size_t i = 0; rc == DX_OK && i < sizeof(DUE_SOURCES) / sizeof(DUE_SOURCES[0]); i++) {
		rc = DUE_SOURCES[i](c, &b, today);
	}
	if (rc != DX_OK) {
		return rc;
	}
	if (b.n > 1) {
		qsort(b.items, b.n, sizeof(*b.items), due_cmp);
	}
	Dx__DueResult *out = ctl_alloc(c, sizeof(*out));
	if (out == NULL) {
		return DX_ENOMEM;
	}
	dx__due_result__init(out);
	out->today = ctl_strdup(c, today);
	if (out->today == NULL) {
		return DX_ENOMEM;
	}
	out->items = b.items;
	out->n_items = b.n;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_DUE;
	c->out.due = out;
	return DX_OK;
}
