/*
 * node_notice.c: the rule 12 notices a node receives and the reminders of
 * their dates (docs/casework.md).
 *
 * A received Notice (Payload type 5) is recorded in the notices table, so
 * that `divex due` shows it until this State replies. A received
 * NoticeReply (type 6) answers a notice only when it names, by envelope id,
 * a copy this node sent to that very sender: a reply from another State, or
 * to a notice this node never sent, is logged and otherwise ignored (it
 * stays in the inbox like any message). Everything a peer wrote is escaped
 * before it reaches the log.
 *
 * Once at start and then once a day, every notice awaiting a reply whose
 * respond-by date is NODE_NOTICE_REMIND_DAYS days away or past, and whose
 * meeting is still ahead, is logged as a "reminder:" line. Loop thread only.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "node_notice.h"
#include "node_request.h"

const char *node_notice_state(const struct notice_row *r, const char *today)
{
	int64_t days = 0;
	if (r->replied_ms != 0) {
		return "replied";
	}
	if (notice_days_between(today, r->respond_by, &days) == DX_OK && days < 0) {
		return "overdue";
	}
	return "awaiting";
}

/* ---- receiving ---- */

static void log_ignored(struct node *n, const struct node_store_opened *m, const char *why)
{
	char hex[2 * ENVELOPE_ID_LEN + 1];
	dx_hex(hex, m->envelope_id, ENVELOPE_ID_LEN);
	node_log(n, NODE_LOG_WARN, "message %s from %s: %s; it is kept in the inbox", hex,
		 m->sender, why);
}

void node_notice_received(struct node *n, const struct node_store_opened *m, const Dx__Payload *p)
{
	ProtobufCMessage *pm = NULL;
	char case_id[4 * CASE_ID_MAX + 1], reason[4 * 80 + 1];
	if (proto_unpack_strict(&dx__notice__descriptor, p->content.data, p->content.len,
				NOTICE_STORE_NOTICE_MAX, &pm) != DX_OK) {
		log_ignored(n, m, "its rule 12 notice does not decode");
		return;
	}
	const Dx__Notice *nt = (const Dx__Notice *)pm;
	struct notice_row r = {
		.direction = NOTICE_RECEIVED,
		.late = nt->late_reason[0] != '\0',
		.notice = p->content.data,
		.notice_len = p->content.len,
	};
	memcpy(r.id, m->envelope_id, NOTICE_STORE_ID_LEN);
	memcpy(r.group, m->envelope_id, NOTICE_STORE_ID_LEN);
	memcpy(r.peer, m->sender, sizeof(r.peer));
	if (strlen(p->case_id) > CASE_ID_MAX || strlen(nt->meeting_date) > NOTICE_DATE_LEN ||
	    strlen(nt->respond_by) > NOTICE_DATE_LEN || strlen(nt->sent_date) > NOTICE_DATE_LEN) {
		log_ignored(n, m, "its rule 12 notice has a malformed case id or date");
		goto out;
	}
	memcpy(r.case_id, p->case_id, strlen(p->case_id) + 1);
	memcpy(r.meeting_date, nt->meeting_date, strlen(nt->meeting_date) + 1);
	memcpy(r.respond_by, nt->respond_by, strlen(nt->respond_by) + 1);
	memcpy(r.sent_date, nt->sent_date, strlen(nt->sent_date) + 1);
	int rc = notice_store_add(n->cases, &r);
	if (rc == DX_EINVAL) {
		log_ignored(n, m, "its rule 12 notice has a malformed case id or date");
		goto out;
	}
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "recording the rule 12 notice from %s: %s", m->sender,
			 dx_strerror(rc));
		goto out;
	}
	dx_escape(case_id, sizeof(case_id), r.case_id, strlen(r.case_id));
	node_log(n, NODE_LOG_INFO, "rule 12 notice from %s for case %s: meeting %s, reply by %s",
		 m->sender, case_id, r.meeting_date, r.respond_by);
	if (r.late) {
		dx_escape(reason, sizeof(reason), nt->late_reason, strnlen(nt->late_reason, 80));
		node_log(n, NODE_LOG_INFO, "the notice from %s is late; its reason: %s", m->sender,
			 reason);
	}
out:
	protobuf_c_message_free_unpacked(pm, NULL);
}

struct reply_match {
	struct node *n;
	const char *sender;
	const uint8_t *notice_envelope_id;
	int found;
	uint8_t id[NOTICE_STORE_ID_LEN];
	char case_id[CASE_ID_MAX + 1];
};

/* Whether the sent copy r is the envelope the reply names. */
static int match_sent(void *ctx, const struct notice_row *r)
{
	struct reply_match *x = ctx;
	struct node_store_outbox_info info;
	if (strcmp(r->peer, x->sender) != 0 ||
	    node_store_outbox_get(x->n->store, r->id, &info) != DX_OK || !info.has_envelope ||
	    memcmp(info.envelope_id, x->notice_envelope_id, ENVELOPE_ID_LEN) != 0) {
		return 0;
	}
	x->found = 1;
	memcpy(x->id, r->id, NOTICE_STORE_ID_LEN);
	memcpy(x->case_id, r->case_id, sizeof(x->case_id));
	return 1;
}

void node_notice_reply_received(struct node *n, const struct node_store_opened *m,
				const Dx__Payload *p)
{
	ProtobufCMessage *pm = NULL;
	char hex[2 * ENVELOPE_ID_LEN + 1];
	if (proto_unpack_strict(&dx__notice_reply__descriptor, p->content.data, p->content.len,
				NOTICE_STORE_REPLY_MAX + 64, &pm) != DX_OK) {
		log_ignored(n, m, "its reply to a rule 12 notice does not decode");
		return;
	}
	const Dx__NoticeReply *nr = (const Dx__NoticeReply *)pm;
	struct reply_match x = { .n = n, .sender = m->sender };
	size_t len = strlen(nr->response);
	if (nr->notice_envelope_id.len != ENVELOPE_ID_LEN || len > NOTICE_STORE_REPLY_MAX) {
		log_ignored(n, m, "its reply to a rule 12 notice is malformed");
		goto out;
	}
	x.notice_envelope_id = nr->notice_envelope_id.data;
	int rc = notice_store_list(n->cases, NOTICE_SENT, NULL, match_sent, &x);
	if (rc < 0) {
		node_log(n, NODE_LOG_ERROR, "reading the notices: %s", dx_strerror(rc));
		goto out;
	}
	dx_hex(hex, nr->notice_envelope_id.data, ENVELOPE_ID_LEN);
	if (!x.found) {
		node_log(n, NODE_LOG_WARN,
			 "a reply from %s names notice %s, which this node did not send to %s: "
			 "ignored (the message stays in the inbox)",
			 m->sender, hex, m->sender);
		goto out;
	}
	rc = notice_store_mark_replied(n->cases, x.id, case_store_now(n->cases), m->envelope_id,
				       nr->response, len);
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "recording %s's reply to notice %s: %s", m->sender, hex,
			 dx_strerror(rc));
		goto out;
	}
	node_log(n, NODE_LOG_INFO, "%s replied to the rule 12 notice %s for case %s", m->sender,
		 hex, x.case_id);
out:
	protobuf_c_message_free_unpacked(pm, NULL);
}

/* ---- reminders ---- */

struct remind_ctx {
	struct node *n;
	const char *today;
	size_t logged;
};

static int remind_row(void *ctx, const struct notice_row *r)
{
	struct remind_ctx *x = ctx;
	int64_t days = 0, to_meeting = 0;
	char when[48];
	if (r->replied_ms != 0 || notice_days_between(x->today, r->respond_by, &days) != DX_OK ||
	    notice_days_between(x->today, r->meeting_date, &to_meeting) != DX_OK ||
	    days > NODE_NOTICE_REMIND_DAYS || to_meeting < 0) {
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
	if (r->direction == NOTICE_SENT) {
		node_log(x->n, NODE_LOG_INFO,
			 "reminder: %s's reply to the rule 12 notice for case %s (meeting %s) is "
			 "%s (respond by %s)",
			 r->peer, r->case_id, r->meeting_date, when, r->respond_by);
	} else {
		node_log(x->n, NODE_LOG_INFO,
			 "reminder: this State's reply to %s's rule 12 notice for case %s (meeting "
			 "%s) is %s (respond by %s): 'divex due'",
			 r->peer, r->case_id, r->meeting_date, when, r->respond_by);
	}
	x->logged++;
	return 0;
}

static void on_remind(uv_timer_t *t)
{
	struct node *n = t->data;
	char today[NOTICE_DATE_LEN + 1];
	struct remind_ctx x = { .n = n, .today = today };
	int rc = notice_today(today);
	if (rc == DX_OK) {
		rc = notice_store_list(n->cases, 0, NULL, remind_row, &x);
		node_request_remind(n, today, NODE_NOTICE_REMIND_DAYS);
	}
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_WARN, "checking the rule 12 dates: %s", dx_strerror(rc));
	}
}

int node_notice_start(struct node *n)
{
	int rc = notice_store_init(n->cases);
	if (rc != DX_OK) {
		return rc;
	}
	if (uv_timer_init(n->loop, &n->notice_timer) != 0) {
		return DX_EINTERNAL;
	}
	n->notice_timer.data = n;
	if (uv_timer_start(&n->notice_timer, on_remind, 0, NODE_NOTICE_REMIND_MS) != 0) {
		return DX_EINTERNAL;
	}
	return DX_OK;
}

void node_notice_stop(struct node *n)
{
	if (n->notice_timer.loop == NULL) {
		return;
	}
	uv_timer_stop(&n->notice_timer);
	uv_close((uv_handle_t *)&n->notice_timer, NULL);
}
