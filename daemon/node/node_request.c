/*
 * node_request.c: requests for information (Model ToR) and their responses
 * inside divexd (docs/casework.md): asking States for information on a case
 * (a Payload of type 3, dx.InformationRequest, per State), answering a
 * request received (type 4, dx.InformationResponse, in reply to it), the
 * requests table (request_store.h), the received payloads of both types,
 * the rows of the deadline book (`due`) and the daily reminders.
 *
 * Both payloads are queued exactly as `send` queues a message
 * (ctl_queue_payload: one numbered copy per State, all or none). The daemon
 * decides the dates: a respond-by date must not be before its own calendar
 * day (notice_today(), which tests set with DIVEX_TODAY). A received
 * response counts only when it comes from the State the request went to and
 * names, by envelope id, the copy sent to that State; anything else is
 * logged and stays in the inbox like any message. Everything a peer wrote
 * is escaped before it reaches the log. Loop thread only.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "node_request.h"

#define ID_HEX_LEN (2 * REQUEST_STORE_ID_LEN)

static const char *const KIND_NAMES[NODE_REQUEST_KIND_MAX + 1] = {
	"unspecified",
	"the end-user file",
	"brokers",
	"the shipping company",
	"addresses",
	"national database records",
	"price, cost, commission, taxes",
	"routes",
	"common procedures",
	"transfers acknowledged",
	"other information",
};

static const char *kind_name(uint32_t k)
{
	return k <= NODE_REQUEST_KIND_MAX ? KIND_NAMES[k] : "unknown";
}

const char *node_request_state(const struct request_row *r, const char *today)
{
	int64_t days = 0;
	if (r->answered_ms != 0) {
		return "answered";
	}
	if (r->respond_by[0] != '\0' && notice_days_between(today, r->respond_by, &days) == DX_OK &&
	    days < 0) {
		return "overdue";
	}
	return "awaiting";
}

/* The request a row holds, decoded; freed with protobuf_c_message_free_unpacked. */
static int row_request(const struct request_row *r, Dx__InformationRequest **out)
{
	ProtobufCMessage *m = NULL;
	int rc = proto_unpack_strict(&dx__information_request__descriptor, r->request,
				     r->request_len, REQUEST_STORE_REQUEST_MAX, &m);
	if (rc == DX_OK) {
		*out = (Dx__InformationRequest *)m;
	}
	return rc;
}

/* Whether the kinds are 1..NODE_REQUEST_KIND_MAX, distinct, and at least one. */
static int kinds_valid(const void *kinds, size_t n, int is_enum)
{
	uint32_t seen = 0;
	if (n == 0 || n > NODE_REQUEST_KIND_MAX) {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t k = is_enum ? (uint32_t)((const Dx__InformationKind *)kinds)[i]
				     : ((const uint32_t *)kinds)[i];
		if (k == 0 || k > NODE_REQUEST_KIND_MAX || (seen & (1U << k)) != 0) {
			return 0;
		}
		seen |= 1U << k;
	}
	return 1;
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

static int store_ready(struct ctl_call *c)
{
	int rc = request_store_init(c->n->cases);
	if (rc != DX_OK) {
		return ctl_fail(c, rc, "the requests table cannot be opened: %s", dx_strerror(rc));
	}
	return DX_OK;
}

/* ---- sending ---- */

static int check_send(struct ctl_call *c, const Dx__RequestSendOp *op, const char *today)
{
	int64_t days = 0;
	size_t len = strlen(op->details);
	int rc;
	if (!case_store_id_valid(op->case_id)) {
		return ctl_fail(c, DX_EINVAL, "'%.80s' is not a case id", op->case_id);
	}
	if ((rc = case_store_get(c->n->cases, op->case_id, NULL, NULL, NULL)) == DX_ENOENT) {
		return ctl_fail(c, rc,
				"no case %s on this node: a request belongs to a case (see "
				"'divex case list')",
				op->case_id);
	}
	if (rc != DX_OK) {
		return rc;
	}
	if (!kinds_valid(op->kinds, op->n_kinds, 0)) {
		return ctl_fail(c, DX_EINVAL,
				"name the information asked for: 1 to %d distinct kinds, each 1 "
				"to %d",
				NODE_REQUEST_KIND_MAX, NODE_REQUEST_KIND_MAX);
	}
	if (len == 0 || len > NODE_REQUEST_DETAILS_MAX) {
		return ctl_fail(c, DX_EINVAL, "the details must be 1 to %d bytes",
				NODE_REQUEST_DETAILS_MAX);
	}
	if (op->respond_by[0] == '\0') {
		return DX_OK;
	}
	if (notice_days_between(today, op->respond_by, &days) != DX_OK) {
		return ctl_fail(c, DX_EINVAL, "'%.40s' is not a respond-by date: write YYYY-MM-DD",
				op->respond_by);
	}
	if (days < 0) {
		return ctl_fail(c, DX_EINVAL, "the respond-by date %s is before today (%s)",
				op->respond_by, today);
	}
	return DX_OK;
}

static int record_copies(struct ctl_call *c, const Dx__RequestSendOp *op, const char *today,
			 const uint8_t *request, size_t len, const Dx__SendResult *res)
{
	struct request_row r = {
		.direction = REQUEST_SENT,
		.request = request,
		.request_len = len,
	};
	snprintf(r.case_id, sizeof(r.case_id), "%s", op->case_id);
	snprintf(r.respond_by, sizeof(r.respond_by), "%s", op->respond_by);
	snprintf(r.day, sizeof(r.day), "%s", today);
	memcpy(r.group, res->copies[0]->message_id.data, REQUEST_STORE_ID_LEN);
	for (size_t i = 0; i < res->n_copies; i++) {
		memcpy(r.id, res->copies[i]->message_id.data, REQUEST_STORE_ID_LEN);
		snprintf(r.peer, sizeof(r.peer), "%s", res->copies[i]->recipient);
		int rc = request_store_add(c->n->cases, &r);
		if (rc != DX_OK) {
			/* The copies are queued already: say so rather than pretend nothing left.
			 */
			node_log(c->n, NODE_LOG_ERROR,
				 "the request to %s is queued but could not be recorded: %s",
				 r.peer, dx_strerror(rc));
			return ctl_fail(c, rc,
					"the request was queued, but recording it failed: %s; "
					"see 'divex outbox'",
					dx_strerror(rc));
		}
	}
	return DX_OK;
}

static int answer_send(struct ctl_call *c, const char *today, const char *respond_by,
		       Dx__SendResult *res)
{
	Dx__RequestSendResult *out = ctl_alloc(c, sizeof(*out));
	if (out == NULL) {
		return DX_ENOMEM;
	}
	dx__request_send_result__init(out);
	out->request_id = ctl_bin(c, res->copies[0]->message_id.data, REQUEST_STORE_ID_LEN);
	out->sent_date = ctl_strdup(c, today);
	out->respond_by = ctl_strdup(c, respond_by);
	if (out->sent_date == NULL || out->respond_by == NULL) {
		return DX_ENOMEM;
	}
	out->n_copies = res->n_copies;
	out->copies = res->copies;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_REQUEST_SEND;
	c->out.request_send = out;
	return DX_OK;
}

int ctl_request_send(struct ctl_call *c)
{
	const Dx__RequestSendOp *op = c->in->request_send;
	char today[NOTICE_DATE_LEN + 1], subject[128];
	Dx__InformationKind kinds[NODE_REQUEST_KIND_MAX];
	Dx__SendResult *res = NULL;
	uint8_t *body = NULL;
	size_t len = 0;
	int rc;
	if ((rc = today_or_fail(c, today)) != DX_OK || (rc = check_send(c, op, today)) != DX_OK ||
	    (rc = store_ready(c)) != DX_OK) {
		return rc;
	}
	for (size_t i = 0; i < op->n_kinds; i++) {
		kinds[i] = (Dx__InformationKind)op->kinds[i];
	}
	Dx__InformationRequest ir = DX__INFORMATION_REQUEST__INIT;
	ir.n_kinds = op->n_kinds;
	ir.kinds = kinds;
	ir.details = op->details;
	ir.respond_by = op->respond_by;
	if ((rc = proto_pack_alloc(&ir.base, &body, &len)) != DX_OK) {
		return rc;
	}
	if (op->n_kinds > 1) {
		snprintf(subject, sizeof(subject), "Request for information: %s and %zu more",
			 kind_name(op->kinds[0]), op->n_kinds - 1);
	} else {
		snprintf(subject, sizeof(subject), "Request for information: %s",
			 kind_name(op->kinds[0]));
	}
	Dx__Payload p = DX__PAYLOAD__INIT;
	p.type = NODE_PAYLOAD_REQUEST;
	p.case_id = op->case_id;
	p.subject = subject;
	p.content = (ProtobufCBinaryData){ len, body };
	rc = ctl_queue_payload(c, op->to, op->n_to, &p, &res);
	if (rc == DX_OK) {
		rc = record_copies(c, op, today, body, len, res);
	}
	sodium_memzero(body, len);
	free(body);
	if (rc != DX_OK) {
		return rc;
	}
	node_log(c->n, NODE_LOG_INFO, "request for information on case %s sent to %zu State(s)%s%s",
		 op->case_id, op->n_to, op->respond_by[0] != '\0' ? ", respond by " : "",
		 op->respond_by);
	return answer_send(c, today, op->respond_by, res);
}

/* ---- responding ---- */

struct find_ctx {
	const char *prefix;
	size_t len;
	size_t found;
	struct request_row row; /* the match, without its buffers */
};

static int find_row(void *ctx, const struct request_row *r)
{
	struct find_ctx *f = ctx;
	char hex[ID_HEX_LEN + 1];
	dx_hex(hex, r->id, REQUEST_STORE_ID_LEN);
	if (strncmp(hex, f->prefix, f->len) != 0) {
		return 0;
	}
	f->found++;
	f->row = *r;
	f->row.request = NULL;
	f->row.answer = NULL;
	return 0;
}

int ctl_request_respond(struct ctl_call *c)
{
	const Dx__RequestRespondOp *op = c->in->request_respond;
	struct find_ctx f = { .prefix = op->id, .len = strlen(op->id) };
	Dx__SendResult *res = NULL;
	uint8_t *body = NULL;
	size_t len = 0, alen = strlen(op->answer);
	int rc;
	if (alen == 0 || alen > REQUEST_STORE_ANSWER_MAX) {
		return ctl_fail(c, DX_EINVAL, "the answer must be 1 to %d bytes",
				REQUEST_STORE_ANSWER_MAX);
	}
	if (f.len < 6 || f.len > ID_HEX_LEN || strspn(op->id, "0123456789abcdef") != f.len) {
		return ctl_fail(c, DX_EINVAL,
				"'%.40s' is not a request id: give 6 to 32 lowercase hex digits "
				"of an id shown by 'divex request list'",
				op->id);
	}
	if ((rc = store_ready(c)) != DX_OK ||
	    (rc = request_store_list(c->n->cases, REQUEST_RECEIVED, NULL, find_row, &f)) != DX_OK) {
		return rc;
	}
	if (f.found == 0) {
		return ctl_fail(c, DX_ENOENT,
				"no received request has an id starting with %s: see 'divex "
				"request list'",
				op->id);
	}
	if (f.found > 1) {
		return ctl_fail(c, DX_EAMBIGUOUS, "%s: %s", op->id, dx_strerror(DX_EAMBIGUOUS));
	}
	Dx__InformationResponse ir = DX__INFORMATION_RESPONSE__INIT;
	ir.request_envelope_id = (ProtobufCBinaryData){ REQUEST_STORE_ID_LEN, f.row.id };
	ir.answer = op->answer;
	if ((rc = proto_pack_alloc(&ir.base, &body, &len)) != DX_OK) {
		return rc;
	}
	char *to[] = { f.row.peer };
	Dx__Payload p = DX__PAYLOAD__INIT;
	p.type = NODE_PAYLOAD_RESPONSE;
	p.case_id = f.row.case_id;
	p.subject = "Response to the request for information";
	p.in_reply_to = (ProtobufCBinaryData){ REQUEST_STORE_ID_LEN, f.row.id };
	p.content = (ProtobufCBinaryData){ len, body };
	rc = ctl_queue_payload(c, to, 1, &p, &res);
	sodium_memzero(body, len);
	free(body);
	if (rc != DX_OK) {
		return rc;
	}
	rc = request_store_mark_answered(c->n->cases, f.row.id, case_store_now(c->n->cases),
					 res->copies[0]->message_id.data, NULL, 0);
	if (rc != DX_OK) {
		return ctl_fail(c, rc, "the response was queued, but recording it failed: %s",
				dx_strerror(rc));
	}
	node_log(c->n, NODE_LOG_INFO, "response to %s's request for information on case %s queued",
		 f.row.peer, f.row.case_id);
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_REQUEST_RESPOND;
	c->out.request_respond = res;
	return DX_OK;
}

/* ---- listing ---- */

struct list_ctx {
	struct ctl_call *c;
	char today[NOTICE_DATE_LEN + 1];
	Dx__RequestInfo **sent, **received;
	size_t n_sent, n_received, cap_sent, cap_received;
};

static Dx__RequestInfo *new_info(struct ctl_call *c, const struct request_row *r)
{
	Dx__InformationRequest *ir = NULL;
	Dx__RequestInfo *i = ctl_alloc(c, sizeof(*i));
	if (i == NULL || row_request(r, &ir) != DX_OK) {
		return NULL;
	}
	dx__request_info__init(i);
	i->request_id = ctl_bin(c, r->group, REQUEST_STORE_ID_LEN);
	i->direction = r->direction == REQUEST_SENT ? "sent" : "received";
	i->case_id = ctl_strdup(c, r->case_id);
	i->details = ctl_strdup(c, ir->details);
	i->respond_by = ctl_strdup(c, r->respond_by);
	i->date = ctl_strdup(c, r->day);
	i->kinds = ctl_alloc(c, (ir->n_kinds + 1) * sizeof(*i->kinds));
	if (i->kinds != NULL) {
		for (size_t k = 0; k < ir->n_kinds; k++) {
			i->kinds[k] = (uint32_t)ir->kinds[k];
		}
		i->n_kinds = ir->n_kinds;
	}
	protobuf_c_message_free_unpacked(&ir->base, NULL);
	if (i->case_id == NULL || i->details == NULL || i->respond_by == NULL || i->date == NULL ||
	    i->kinds == NULL) {
		return NULL;
	}
	return i;
}

static int add_copy(struct list_ctx *s, Dx__RequestInfo *i, const struct request_row *r)
{
	Dx__RequestCopy *cp = ctl_alloc(s->c, sizeof(*cp));
	if (cp == NULL) {
		return DX_ENOMEM;
	}
	dx__request_copy__init(cp);
	cp->state = ctl_strdup(s->c, r->peer);
	cp->message_id = ctl_bin(s->c, r->id, REQUEST_STORE_ID_LEN);
	cp->status = (char *)node_request_state(r, s->today);
	cp->answered_ms = r->answered_ms;
	cp->answer = ctl_strdup(s->c, r->answer != NULL ? r->answer : "");
	if (r->answered_ms != 0) {
		cp->answer_envelope_id = ctl_bin(s->c, r->answer_id, REQUEST_STORE_ID_LEN);
	}
	if (cp->state == NULL || cp->answer == NULL) {
		return DX_ENOMEM;
	}
	size_t cap = i->n_copies; /* copies grow one by one: the array is exact */
	if (ctl_grow(s->c, (void ***)&i->copies, i->n_copies, &cap) != DX_OK) {
		return DX_ENOMEM;
	}
	i->copies[i->n_copies++] = cp;
	return DX_OK;
}

static int push(struct ctl_call *c, Dx__RequestInfo ***v, size_t *n, size_t *cap,
		Dx__RequestInfo *i)
{
	if (ctl_grow(c, (void ***)v, *n, cap) != DX_OK) {
		return DX_ENOMEM;
	}
	(*v)[(*n)++] = i;
	return DX_OK;
}

static int list_row(void *ctx, const struct request_row *r)
{
	struct list_ctx *s = ctx;
	Dx__RequestInfo *i = NULL;
	if (r->direction == REQUEST_RECEIVED) {
		if ((i = new_info(s->c, r)) == NULL) {
			return DX_ENOMEM;
		}
		i->requester = ctl_strdup(s->c, r->peer);
		i->status = (char *)node_request_state(r, s->today);
		i->answered_ms = r->answered_ms;
		return i->requester == NULL
			       ? DX_ENOMEM
			       : push(s->c, &s->received, &s->n_received, &s->cap_received, i);
	}
	for (size_t k = 0; k < s->n_sent && i == NULL; k++) {
		if (memcmp(s->sent[k]->request_id.data, r->group, REQUEST_STORE_ID_LEN) == 0) {
			i = s->sent[k];
		}
	}
	if (i == NULL) {
		int rc;
		if ((i = new_info(s->c, r)) == NULL) {
			return DX_ENOMEM;
		}
		if ((rc = push(s->c, &s->sent, &s->n_sent, &s->cap_sent, i)) != DX_OK) {
			return rc;
		}
	}
	return add_copy(s, i, r);
}

int ctl_request_list(struct ctl_call *c)
{
	const char *case_id = c->in->request_list->case_id;
	struct list_ctx s = { .c = c };
	if (case_id[0] != '\0' && !case_store_id_valid(case_id)) {
		return ctl_fail(c, DX_EINVAL, "'%.80s' is not a case id", case_id);
	}
	int rc = today_or_fail(c, s.today);
	if (rc != DX_OK || (rc = store_ready(c)) != DX_OK ||
	    (rc = request_store_list(c->n->cases, 0, case_id, list_row, &s)) != DX_OK) {
		return rc;
	}
	Dx__RequestListResult *out = ctl_alloc(c, sizeof(*out));
	if (out == NULL) {
		return DX_ENOMEM;
	}
	dx__request_list_result__init(out);
	out->sent = s.sent;
	out->n_sent = s.n_sent;
	out->received = s.received;
	out->n_received = s.n_received;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_REQUEST_LIST;
	c->out.request_list = out;
	return DX_OK;
}

/* ---- the deadline book and the reminders ---- */

struct due_ctx {
	struct ctl_due_book *b;
	const char *today;
};

/*
 * A sent request is due when it asked for a date; a received one waits on
 * this State either way, and without a date it is listed under the day it
 * arrived.
 */
static int due_row(void *ctx, const struct request_row *r)
{
	struct due_ctx *x = ctx;
	Dx__InformationRequest *ir = NULL;
	char what[256], hex[ID_HEX_LEN + 1];
	if (r->answered_ms != 0 || (r->direction == REQUEST_SENT && r->respond_by[0] == '\0')) {
		return 0;
	}
	int rc = row_request(r, &ir);
	if (rc != DX_OK) {
		return rc;
	}
	const char *kind = ir->n_kinds > 0 ? kind_name((uint32_t)ir->kinds[0]) : "information";
	const char *more = ir->n_kinds > 1 ? " and more" : "";
	int overdue = strcmp(node_request_state(r, x->today), "overdue") == 0;
	dx_hex(hex, r->id, REQUEST_STORE_ID_LEN);
	if (r->direction == REQUEST_SENT) {
		snprintf(what, sizeof(what), "%s's answer to the request for %s%s", r->peer, kind,
			 more);
	} else {
		snprintf(what, sizeof(what),
			 "answer %s's request for %s%s%s: 'divex request respond %.12s'", r->peer,
			 kind, more, r->respond_by[0] == '\0' ? " (no date asked)" : "", hex);
	}
	protobuf_c_message_free_unpacked(&ir->base, NULL);
	return ctl_due_add(x->b, r->respond_by[0] != '\0' ? r->respond_by : r->day,
			   r->direction == REQUEST_SENT ? "request_answer_awaited"
							: "request_to_answer",
			   r->peer, r->case_id, r->id, REQUEST_STORE_ID_LEN, what, overdue);
}

int node_request_due(struct ctl_call *c, struct ctl_due_book *b, const char *today)
{
	struct due_ctx x = { .b = b, .today = today };
	int rc = request_store_init(c->n->cases);
	return rc != DX_OK ? rc : request_store_list(c->n->cases, 0, NULL, due_row, &x);
}

struct remind_ctx {
	struct node *n;
	const char *today;
	int64_t days;
};

static int remind_row(void *ctx, const struct request_row *r)
{
	struct remind_ctx *x = ctx;
	int64_t days = 0;
	char when[48];
	if (r->answered_ms != 0 || r->respond_by[0] == '\0' ||
	    notice_days_between(x->today, r->respond_by, &days) != DX_OK || days > x->days) {
		return 0;
	}
	if (days > 0) {
		snprintf(when, sizeof(when), "due in %lld day%s", (long long)days,
			 days == 1 ? "" : "s");
	} else if (days == 0) {
		snprintf(when, sizeof(when), "due today");
	} else {
		snprintf(when, sizeof(when), "%lld day%s overdue", (long long)-days,
			 days == -1 ? "" : "s");
	}
	if (r->direction == REQUEST_SENT) {
		node_log(x->n, NODE_LOG_INFO,
			 "reminder: %s's answer to the request for information on case %s is %s "
			 "(respond by %s)",
			 r->peer, r->case_id, when, r->respond_by);
	} else {
		node_log(x->n, NODE_LOG_INFO,
			 "reminder: this State's answer to %s's request for information on case "
			 "%s is %s (respond by %s): 'divex due'",
			 r->peer, r->case_id, when, r->respond_by);
	}
	return 0;
}

void node_request_remind(struct node *n, const char *today, int64_t days)
{
	struct remind_ctx x = { .n = n, .today = today, .days = days };
	int rc = request_store_init(n->cases);
	if (rc == DX_OK) {
		rc = request_store_list(n->cases, 0, NULL, remind_row, &x);
	}
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_WARN, "checking the dates of the requests: %s",
			 dx_strerror(rc));
	}
}

/* ---- receiving ---- */

static void log_ignored(struct node *n, const struct node_store_opened *m, const char *why)
{
	char hex[2 * ENVELOPE_ID_LEN + 1];
	dx_hex(hex, m->envelope_id, ENVELOPE_ID_LEN);
	node_log(n, NODE_LOG_WARN, "message %s from %s: %s; it is kept in the inbox", hex,
		 m->sender, why);
}

void node_request_received(struct node *n, const struct node_store_opened *m, const Dx__Payload *p)
{
	ProtobufCMessage *pm = NULL;
	char case_id[4 * CASE_ID_MAX + 1];
	if (proto_unpack_strict(&dx__information_request__descriptor, p->content.data,
				p->content.len, REQUEST_STORE_REQUEST_MAX, &pm) != DX_OK) {
		log_ignored(n, m, "its request for information does not decode");
		return;
	}
	const Dx__InformationRequest *ir = (const Dx__InformationRequest *)pm;
	struct request_row r = {
		.direction = REQUEST_RECEIVED,
		.request = p->content.data,
		.request_len = p->content.len,
	};
	memcpy(r.id, m->envelope_id, REQUEST_STORE_ID_LEN);
	memcpy(r.group, m->envelope_id, REQUEST_STORE_ID_LEN);
	memcpy(r.peer, m->sender, sizeof(r.peer));
	if (strlen(p->case_id) > CASE_ID_MAX || strlen(ir->respond_by) > NOTICE_DATE_LEN ||
	    !kinds_valid(ir->kinds, ir->n_kinds, 1)) {
		log_ignored(n, m,
			    "its request for information has a malformed case id, date or kind");
		goto out;
	}
	memcpy(r.case_id, p->case_id, strlen(p->case_id) + 1);
	memcpy(r.respond_by, ir->respond_by, strlen(ir->respond_by) + 1);
	int rc = notice_today(r.day);
	if (rc == DX_OK && (rc = request_store_init(n->cases)) == DX_OK) {
		rc = request_store_add(n->cases, &r);
	}
	if (rc == DX_EINVAL) {
		log_ignored(n, m, "its request for information has a malformed case id or date");
		goto out;
	}
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "recording the request for information from %s: %s",
			 m->sender, dx_strerror(rc));
		goto out;
	}
	dx_escape(case_id, sizeof(case_id), r.case_id, strlen(r.case_id));
	node_log(n, NODE_LOG_INFO, "request for information from %s on case %s%s%s", m->sender,
		 case_id, r.respond_by[0] != '\0' ? ", respond by " : "", r.respond_by);
out:
	protobuf_c_message_free_unpacked(pm, NULL);
}

struct answer_match {
	struct node *n;
	const char *sender;
	const uint8_t *request_envelope_id;
	int found;
	uint8_t id[REQUEST_STORE_ID_LEN];
	char case_id[CASE_ID_MAX + 1];
};

/* Whether the sent copy r is the envelope the response names. */
static int match_sent(void *ctx, const struct request_row *r)
{
	struct answer_match *x = ctx;
	struct node_store_outbox_info info;
	if (strcmp(r->peer, x->sender) != 0 ||
	    node_store_outbox_get(x->n->store, r->id, &info) != DX_OK || !info.has_envelope ||
	    memcmp(info.envelope_id, x->request_envelope_id, ENVELOPE_ID_LEN) != 0) {
		return 0;
	}
	x->found = 1;
	memcpy(x->id, r->id, REQUEST_STORE_ID_LEN);
	memcpy(x->case_id, r->case_id, sizeof(x->case_id));
	return 1;
}

void node_request_response_received(struct node *n, const struct node_store_opened *m,
				    const Dx__Payload *p)
{
	ProtobufCMessage *pm = NULL;
	char hex[2 * ENVELOPE_ID_LEN + 1];
	if (proto_unpack_strict(&dx__information_response__descriptor, p->content.data,
				p->content.len, REQUEST_STORE_ANSWER_MAX + 64, &pm) != DX_OK) {
		log_ignored(n, m, "its response to a request for information does not decode");
		return;
	}
	const Dx__InformationResponse *ir = (const Dx__InformationResponse *)pm;
	struct answer_match x = { .n = n, .sender = m->sender };
	size_t len = strlen(ir->answer);
	if (ir->request_envelope_id.len != ENVELOPE_ID_LEN || len > REQUEST_STORE_ANSWER_MAX) {
		log_ignored(n, m, "its response to a request for information is malformed");
		goto out;
	}
	x.request_envelope_id = ir->request_envelope_id.data;
	int rc = request_store_init(n->cases);
	if (rc == DX_OK) {
		rc = request_store_list(n->cases, REQUEST_SENT, NULL, match_sent, &x);
	}
	if (rc < 0) {
		node_log(n, NODE_LOG_ERROR, "reading the requests: %s", dx_strerror(rc));
		goto out;
	}
	dx_hex(hex, ir->request_envelope_id.data, ENVELOPE_ID_LEN);
	if (!x.found) {
		node_log(n, NODE_LOG_WARN,
			 "a response from %s names request %s, which this node did not send to "
			 "%s: ignored (the message stays in the inbox)",
			 m->sender, hex, m->sender);
		goto out;
	}
	rc = request_store_mark_answered(n->cases, x.id, case_store_now(n->cases), m->envelope_id,
					 ir->answer, len);
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "recording %s's response to request %s: %s", m->sender,
			 hex, dx_strerror(rc));
		goto out;
	}
	node_log(n, NODE_LOG_INFO, "%s answered the request for information %s on case %s",
		 m->sender, hex, x.case_id);
out:
	protobuf_c_message_free_unpacked(pm, NULL);
}
