/*
 * node_ctl_node.c: the control operations about the node itself: status,
 * roster, key verification, audit, and the administrator's prekey rotation
 * and reload (docs/control.md).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "checkpoint.h"
#include "node_control.h"
#include "relay.pb-c.h"
#include "roster.h"

#ifndef DIVEX_VERSION
#define DIVEX_VERSION "unknown"
#endif

#define AUDIT_MAX_CHECKPOINTS 4096

/* ---- status ---- */

struct status_ctx {
	struct ctl_call *c;
	Dx__StatusResult *res;
	size_t cap_alarms, cap_pending;
};

static Dx__Alarm *new_alarm(struct status_ctx *s, const char *kind, uint64_t seen,
			    const char *source, const void *held, size_t held_len,
			    const void *offered, size_t offered_len)
{
	if (s->res->n_alarms == s->cap_alarms) {
		return NULL;
	}
	Dx__Alarm *a = ctl_alloc(s->c, sizeof(*a));
	if (a == NULL) {
		return NULL;
	}
	dx__alarm__init(a);
	a->kind = (char *)kind;
	a->seen_ms = seen;
	a->source = ctl_strdup(s->c, source);
	a->held = ctl_bin(s->c, held, held_len);
	a->offered = ctl_bin(s->c, offered, offered_len);
	s->res->alarms[s->res->n_alarms++] = a;
	return a;
}

static int stored_conflict(void *ctx, const struct node_store_conflict *k)
{
	struct status_ctx *s = ctx;
	new_alarm(s, k->kind == NODE_STORE_CONFLICT_EQUIVOCATION ? "equivocation" : "rollback",
		  k->seen_ms, k->source, k->held_text, k->held_len, k->offered_text,
		  k->offered_len);
	return 0;
}

static int pending_change(void *ctx, const struct node_store_roster_info *r)
{
	struct status_ctx *s = ctx;
	if (r->has_pending && s->res->n_pending_key_changes < s->cap_pending) {
		s->res->pending_key_changes[s->res->n_pending_key_changes++] =
			ctl_strdup(s->c, r->state);
	}
	return 0;
}

int ctl_status(struct ctl_call *c)
{
	struct node *n = c->n;
	struct node_store_counts k;
	const char *cp;
	size_t cp_len;
	uint64_t cp_size;
	Dx__StatusResult *res = ctl_alloc(c, sizeof(*res));
	struct status_ctx s = { .c = c, .res = res, .cap_alarms = 2 * NODE_ALARMS_MAX + 64,
				.cap_pending = 256 };
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__status_result__init(res);
	res->alarms = ctl_alloc(c, s.cap_alarms * sizeof(*res->alarms));
	res->pending_key_changes = ctl_alloc(c, s.cap_pending * sizeof(char *));
	if (res->alarms == NULL || res->pending_key_changes == NULL) {
		return DX_ENOMEM;
	}
	int rc = node_store_count(n->store, &k);
	if (rc != DX_OK) {
		return rc;
	}
	res->state = (char *)keys_state(n->keys);
	res->version = DIVEX_VERSION;
	res->relay_url = n->cfg.relay_url;
	res->relay_last_ok_ms = n->relay_last_ok_ms;
	res->relay_last_error = n->relay_last_error;
	if (relay_client_checkpoint(n->rc, &cp, &cp_len, &cp_size) == DX_OK) {
		res->checkpoint_size = cp_size;
		res->checkpoint = ctl_bin(c, cp, cp_len);
	}
	res->outbox_queued = k.outbox[NODE_STORE_OUT_QUEUED];
	res->outbox_sealed = k.outbox[NODE_STORE_OUT_SEALED];
	res->outbox_receipted = k.outbox[NODE_STORE_OUT_RECEIPTED];
	res->outbox_failed = k.outbox[NODE_STORE_OUT_FAILED];
	res->inbox_total = k.inbox;
	res->inbox_unacked = k.inbox_unacked;
	for (size_t i = 0; i < n->n_alarms; i++) {
		const struct node_alarm *a = &n->alarms[i];
		new_alarm(&s, a->code == DX_EPROOF ? "proof" : "inconsistent", a->seen_ms,
			  a->source, a->held, a->held_len, a->offered, a->offered_len);
	}
	if ((rc = node_store_checkpoint_conflicts(n->store, stored_conflict, &s)) != DX_OK ||
	    (rc = node_store_roster_list(n->store, pending_change, &s)) != DX_OK ||
	    (rc = ctl_gaps(c, &res->gaps, &res->n_gaps)) != DX_OK) {
		return rc;
	}
	const struct keys_prekey *pk = keys_prekey_current(n->keys, dx_now_ms());
	if (pk != NULL) {
		res->prekey_id = ctl_bin(c, pk->id, KEYS_ID_LEN);
		res->prekey_valid_until_ms = pk->valid_until_ms;
	}
	res->started_ms = n->started_ms;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_STATUS;
	c->out.status = res;
	return DX_OK;
}

/* ---- roster and keys ---- */

struct roster_ctx {
	struct ctl_call *c;
	Dx__RosterResult *res;
	size_t cap;
	int rc;
};

static int roster_member(void *ctx, const struct node_store_roster_info *r)
{
	struct roster_ctx *x = ctx;
	struct ctl_call *c = x->c;
	char fp[KEYS_FP_STR_LEN];
	uint8_t *entry = NULL;
	size_t len = 0;
	struct roster_entry *e = NULL;
	struct node_store_roster_info held;
	if (x->res->n_entries == x->cap) {
		return 0;
	}
	Dx__RosterMember *m = ctl_alloc(c, sizeof(*m));
	if (m == NULL) {
		return DX_ENOMEM;
	}
	dx__roster_member__init(m);
	m->state = ctl_strdup(c, r->state);
	if (node_store_roster_get(c->n->store, r->state, &held, &entry, &len) == DX_OK &&
	    roster_entry_verify(entry, len, &e) == DX_OK && e->name != NULL) {
		m->name = ctl_strdup(c, e->name);
	}
	roster_entry_free(e);
	free(entry);
	m->status = (char *)relay_status_name(r->status);
	keys_fingerprint(fp, r->state, r->identity_pk);
	m->fingerprint = ctl_strdup(c, fp);
	m->log_index = r->log_index;
	m->pinned_ms = r->pinned_ms;
	m->verified_ms = r->verified_ms;
	if (r->has_pending) {
		keys_fingerprint(fp, r->state, r->pending_identity_pk);
		m->pending_fingerprint = ctl_strdup(c, fp);
		m->pending_ms = r->pending_ms;
	}
	m->self = strcmp(r->state, keys_state(c->n->keys)) == 0;
	x->res->entries[x->res->n_entries++] = m;
	return 0;
}

int ctl_roster(struct ctl_call *c)
{
	struct roster_ctx x = { .c = c, .cap = 1024 };
	x.res = ctl_alloc(c, sizeof(*x.res));
	if (x.res == NULL) {
		return DX_ENOMEM;
	}
	dx__roster_result__init(x.res);
	x.res->entries = ctl_alloc(c, x.cap * sizeof(*x.res->entries));
	if (x.res->entries == NULL) {
		return DX_ENOMEM;
	}
	int rc = node_store_roster_list(c->n->store, roster_member, &x);
	if (rc != DX_OK) {
		return rc;
	}
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_ROSTER;
	c->out.roster = x.res;
	return DX_OK;
}

int ctl_verify_key(struct ctl_call *c)
{
	const Dx__VerifyKeyOp *op = c->in->verify_key;
	struct node_store_roster_info info;
	char fp[KEYS_FP_STR_LEN];
	if (!dx_state_valid(op->state)) {
		return ctl_fail(c, DX_ESTATE_CODE, "'%s' is not a State code", op->state);
	}
	int rc = node_store_roster_get(c->n->store, op->state, &info, NULL, NULL);
	if (rc == DX_ENOENT) {
		return ctl_fail(c, rc, "%s is not in this node's roster", op->state);
	}
	if (rc != DX_OK) {
		return rc;
	}
	Dx__VerifyKeyResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__verify_key_result__init(res);
	if (info.has_pending &&
	    keys_fingerprint_matches(op->fingerprint, op->state, info.pending_identity_pk)) {
		if ((rc = node_store_roster_accept_change(c->n->store, op->state,
							  info.pending_identity_pk)) != DX_OK) {
			return rc;
		}
		keys_fingerprint(fp, op->state, info.pending_identity_pk);
		res->action = "accepted-change";
		node_log(c->n, NODE_LOG_WARN, "key change for %s accepted; new key %s pinned",
			 op->state, fp);
		node_outbox_kick(c->n);
	} else if (keys_fingerprint_matches(op->fingerprint, op->state, info.identity_pk)) {
		if ((rc = node_store_roster_verify_oob(c->n->store, op->state, info.identity_pk)) !=
		    DX_OK) {
			return rc;
		}
		keys_fingerprint(fp, op->state, info.identity_pk);
		res->action = "verified";
		node_log(c->n, NODE_LOG_INFO, "key of %s verified out of band (%s)", op->state, fp);
	} else {
		return ctl_fail(c, DX_ESIG,
				"that fingerprint is not the one of %s's %s key: do not accept it; "
				"check the digits with %s again",
				op->state, info.has_pending ? "pinned or new" : "pinned", op->state);
	}
	res->fingerprint = ctl_strdup(c, fp);
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_VERIFY_KEY;
	c->out.verify_key = res;
	return DX_OK;
}

/* ---- administrator ---- */

int ctl_rotate_prekey(struct ctl_call *c)
{
	int rc = node_roster_rotate_prekey(c->n);
	if (rc != DX_OK) {
		return rc;
	}
	const struct keys_prekey *pk = keys_prekey_current(c->n->keys, dx_now_ms());
	Dx__RotatePrekeyResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL || pk == NULL) {
		return DX_ENOMEM;
	}
	dx__rotate_prekey_result__init(res);
	res->prekey_id = ctl_bin(c, pk->id, KEYS_ID_LEN);
	res->valid_until_ms = pk->valid_until_ms;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_ROTATE_PREKEY;
	c->out.rotate_prekey = res;
	return DX_OK;
}

int ctl_reload(struct ctl_call *c)
{
	int rc = node_reload(c->n, c->message, sizeof(c->message));
	if (rc != DX_OK) {
		return rc;
	}
	Dx__ReloadResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__reload_result__init(res);
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_RELOAD;
	c->out.reload = res;
	return DX_OK;
}

/* ---- audit: every receipt's checkpoint proved consistent with the relay's ---- */

struct audit {
	struct ctl_call *c;
	char **texts;
	size_t *lens;
	size_t n, cap, i;
	uint32_t checked, failed;
	uint64_t alarms_before;
	size_t seen;
};

static void audit_add(struct audit *a, const uint8_t *receipt, size_t len)
{
	ProtobufCMessage *m;
	if (a->n == a->cap ||
	    proto_unpack_strict(&dx__receipt__descriptor, receipt, len, NODE_STORE_RECEIPT_MAX, &m) !=
		    DX_OK) {
		return;
	}
	const Dx__Receipt *r = (const Dx__Receipt *)m;
	int dup = 0;
	for (size_t i = 0; i < a->n && !dup; i++) {
		dup = a->lens[i] == r->checkpoint.len &&
		      memcmp(a->texts[i], r->checkpoint.data, r->checkpoint.len) == 0;
	}
	if (!dup && r->checkpoint.len > 0 && (a->texts[a->n] = ctl_alloc(a->c, r->checkpoint.len)) != NULL) {
		memcpy(a->texts[a->n], r->checkpoint.data, r->checkpoint.len);
		a->lens[a->n++] = r->checkpoint.len;
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

static int audit_out(void *ctx, const struct node_store_outbox_info *m)
{
	struct audit *a = ctx;
	uint8_t *buf;
	size_t len;
	a->seen++;
	if (m->state == NODE_STORE_OUT_RECEIPTED &&
	    node_store_outbox_receipt(a->c->n->store, m->msg_id, &buf, &len) == DX_OK) {
		audit_add(a, buf, len);
		free(buf);
	}
	return 0;
}

static int audit_in(void *ctx, const struct node_store_inbox_info *m)
{
	struct audit *a = ctx;
	uint8_t *buf;
	size_t len;
	a->seen++;
	for (int kind = NODE_STORE_RECEIPT_FETCH; kind <= NODE_STORE_RECEIPT_ACK; kind++) {
		if (node_store_inbox_receipt(a->c->n->store, m->digest, kind, &buf, &len) == DX_OK) {
			audit_add(a, buf, len);
			free(buf);
		}
	}
	return 0;
}

static void audit_next(struct audit *a);

static void audit_proved(void *arg, int rc, const char *given, size_t given_len,
			 const char *current, size_t current_len)
{
	struct audit *a = arg;
	if (given != NULL) {
		node_alarm(a->c->n, rc, "audit of a stored receipt", given, given_len, current,
			   current_len);
	}
	a->checked++;
	if (rc != DX_OK) {
		a->failed++;
		node_log(a->c->n, rc == DX_ELOG_INCONSISTENT || rc == DX_EPROOF ? NODE_LOG_ERROR
										 : NODE_LOG_WARN,
			 "audit: a receipt's checkpoint could not be proved consistent with the "
			 "relay's: %s",
			 dx_strerror(rc));
	}
	a->i++;
	audit_next(a);
}

static void audit_next(struct audit *a)
{
	struct ctl_call *c = a->c;
	while (a->i < a->n) {
		int rc = relay_client_prove(c->n->rc, (const uint8_t *)a->texts[a->i], a->lens[a->i],
					    audit_proved, a);
		if (rc == DX_OK) {
			return;
		}
		a->checked++;
		a->failed++;
		a->i++;
	}
	const char *cp;
	size_t cp_len;
	uint64_t size;
	Dx__AuditResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		free(a);
		ctl_finish(c, DX_ENOMEM);
		return;
	}
	dx__audit_result__init(res);
	if (relay_client_checkpoint(c->n->rc, &cp, &cp_len, &size) == DX_OK) {
		res->tree_size = size;
		res->checkpoint = ctl_bin(c, cp, cp_len);
	}
	res->receipts_checked = a->checked;
	res->receipts_failed = a->failed;
	struct relay_client_stats st;
	relay_client_stats(c->n->rc, &st);
	res->alarms = (uint32_t)(st.alarms - a->alarms_before);
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_AUDIT;
	c->out.audit = res;
	node_log(c->n, NODE_LOG_INFO,
		 "audit: %u checkpoint(s) of this node's receipts checked against the relay's "
		 "tree of size %llu, %u failed",
		 a->checked, (unsigned long long)size, a->failed);
	free(a);
	ctl_finish(c, DX_OK);
}

int ctl_audit(struct ctl_call *c)
{
	struct audit *a = calloc(1, sizeof(*a));
	if (a == NULL) {
		return DX_ENOMEM;
	}
	a->c = c;
	a->cap = AUDIT_MAX_CHECKPOINTS;
	a->texts = ctl_alloc(c, a->cap * sizeof(*a->texts));
	a->lens = ctl_alloc(c, a->cap * sizeof(*a->lens));
	struct relay_client_stats st;
	relay_client_stats(c->n->rc, &st);
	a->alarms_before = st.alarms;
	int rc = a->texts != NULL && a->lens != NULL ? DX_OK : DX_ENOMEM;
	for (size_t off = 0; rc == DX_OK; off += NODE_STORE_LIST_MAX) {
		a->seen = 0;
		rc = node_store_outbox_list(c->n->store, NODE_STORE_LIST_MAX, off, audit_out, a);
		if (a->seen < NODE_STORE_LIST_MAX) {
			break;
		}
	}
	for (size_t off = 0; rc == DX_OK; off += NODE_STORE_LIST_MAX) {
		a->seen = 0;
		rc = node_store_inbox_list(c->n->store, NODE_STORE_LIST_MAX, off, audit_in, a);
		if (a->seen < NODE_STORE_LIST_MAX) {
			break;
		}
	}
	if (rc != DX_OK) {
		free(a);
		return rc;
	}
	audit_next(a);
	return CTL_LATER;
}
