/*
 * node_ctl_consent.c: the control operations on consent and export
 * (docs/casework.md; rule 16 and the Model ToR, docs/casework-rules.md):
 * consent_request, consent_decide, consent_list and export.
 *
 * The daemon decides: it signs decisions with the State's identity key only
 * for a point of contact and only about items this State sent to the
 * requester, and it lets an item out (export) only when a decision it has
 * verified again, against the provider's pinned roster entry, allows the
 * use that the item's marking restricts. Loop thread only.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "node_consent.h"
#include "node_control.h"

/* What the officer intends, by name: the use of an export, the purpose asked for. */
struct use_name {
	const char *name;
	enum consent_use use;
	int purpose;
};
static const struct use_name USES[] = {
	{ "operational", CONSENT_USE_OPERATIONAL, DX__CONSENT_PURPOSE__OPERATIONAL_USE },
	{ "disclosure", CONSENT_USE_DISCLOSURE, DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY },
	{ "briefing", CONSENT_USE_BRIEFING, DX__CONSENT_PURPOSE__ATTRIBUTABLE_BRIEFING },
	{ "dissemination", CONSENT_USE_NATIONAL, DX__CONSENT_PURPOSE__FURTHER_DISSEMINATION },
};

static int parse_use(struct ctl_call *c, const char *purpose, const char *body,
		     const struct use_name **out)
{
	for (size_t i = 0; i < sizeof(USES) / sizeof(USES[0]); i++) {
		if (strcmp(purpose, USES[i].name) != 0) {
			continue;
		}
		int disclosure = USES[i].use == CONSENT_USE_DISCLOSURE;
		if (disclosure && (body[0] == '\0' || !roster_text_valid(body, CONSENT_BODY_MAX))) {
			return ctl_fail(c, DX_EINVAL,
					"a disclosure names the court or administrative body "
					"(--body NAME, 1 to %d bytes of text)",
					CONSENT_BODY_MAX);
		}
		if (!disclosure && body[0] != '\0') {
			return ctl_fail(c, DX_EINVAL, "--body is for a disclosure only");
		}
		*out = &USES[i];
		return DX_OK;
	}
	return ctl_fail(c, DX_EINVAL,
			"the purpose is 'operational', 'disclosure', 'briefing' or "
			"'dissemination', not '%.40s'",
			purpose);
}

/* A received item: its facts and its decoded payload (free with the unpacked message). */
struct item {
	struct node_store_inbox_info info;
	uint8_t *body;
	size_t body_len;
	Dx__Payload *p;
};

static void item_clear(struct item *it)
{
	if (it->p != NULL) {
		protobuf_c_message_free_unpacked(&it->p->base, NULL);
	}
	if (it->body != NULL) {
		sodium_memzero(it->body, it->body_len);
		free(it->body);
	}
	memset(it, 0, sizeof(*it));
}

static int received_item(struct ctl_call *c, const char *id, const char *what, struct item *it)
{
	struct ctl_msg msg;
	ProtobufCMessage *pm = NULL;
	memset(it, 0, sizeof(*it));
	int rc = ctl_resolve(c, id, &msg);
	if (rc != DX_OK) {
		return rc;
	}
	if (!msg.received) {
		return ctl_fail(c, DX_EINVAL, "%s is a message this State sent: give %s", id, what);
	}
	if ((rc = node_store_inbox_get(c->n->store, msg.digest, &it->info)) != DX_OK ||
	    (rc = node_store_inbox_read(c->n->store, msg.digest, &it->body, &it->body_len)) !=
		    DX_OK) {
		item_clear(it);
		return rc;
	}
	rc = proto_unpack_strict(&dx__payload__descriptor, it->body, it->body_len,
				 ENVELOPE_BODY_MAX, &pm);
	if (rc != DX_OK) {
		item_clear(it);
		return ctl_fail(c, rc, "the payload of %s does not decode: %s", id,
				dx_strerror(rc));
	}
	it->p = (Dx__Payload *)pm;
	return DX_OK;
}

static int tables(struct ctl_call *c)
{
	int rc = consent_store_init(c->n->cases);
	return rc == DX_OK ? rc
			   : ctl_fail(c, rc, "the consent tables of cases.db: %s", dx_strerror(rc));
}

/* The marking of what the node itself sends about consent: for the stated purpose. */
static Dx__Marking *own_marking(struct ctl_call *c)
{
	Dx__Marking *mk = ctl_alloc(c, sizeof(*mk));
	if (mk != NULL) {
		dx__marking__init(mk);
		mk->handling = DX__HANDLING_CODE__H0_STATED_PURPOSE_ONLY;
	}
	return mk;
}

/* ---- consent_request ---- */

int ctl_consent_request(struct ctl_call *c)
{
	const Dx__ConsentRequestOp *op = c->in->consent_request;
	const struct use_name *u = NULL;
	struct item it;
	uint8_t hash[CONSENT_ITEM_HASH_LEN], *req = NULL;
	size_t req_len = 0;
	Dx__SendResult *res = NULL;
	int rc = parse_use(c, op->purpose, op->body, &u);
	if (rc != DX_OK || (rc = tables(c)) != DX_OK) {
		return rc;
	}
	if (op->reason[0] == '\0' || !roster_text_valid(op->reason, CONSENT_REASON_MAX)) {
		return ctl_fail(c, DX_EINVAL,
				"give the reason for the request (1 to %d bytes of text)",
				CONSENT_REASON_MAX);
	}
	if ((rc = received_item(c, op->item, "an item this State received", &it)) != DX_OK) {
		return rc;
	}
	consent_item_hash(hash, it.info.digest);
	ProtobufCBinaryData hb = { sizeof(hash), hash };
	ProtobufCBinaryData ib = { ENVELOPE_ID_LEN, it.info.envelope_id };
	Dx__ConsentRequest r = DX__CONSENT_REQUEST__INIT;
	r.purpose = (Dx__ConsentPurpose)u->purpose;
	r.body = (char *)op->body;
	r.reason = (char *)op->reason;
	r.n_item_hashes = 1;
	r.item_hashes = &hb;
	r.n_item_envelope_ids = 1;
	r.item_envelope_ids = &ib;
	if ((rc = proto_pack_alloc(&r.base, &req, &req_len)) != DX_OK ||
	    (rc = consent_request_check(req, req_len, NULL)) != DX_OK) {
		goto out;
	}
	char subject[128], *to[1] = { it.info.sender };
	snprintf(subject, sizeof(subject), "Consent request: %s", consent_purpose_name(u->purpose));
	Dx__Payload p = DX__PAYLOAD__INIT;
	p.type = PAYLOAD_TYPE_CONSENT_REQUEST;
	p.case_id = it.p->case_id;
	p.in_reply_to = ib;
	p.marking = own_marking(c);
	p.subject = subject;
	p.content = (ProtobufCBinaryData){ req_len, req };
	if (p.marking == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	if ((rc = ctl_queue_payload(c, to, 1, &p, &res)) != DX_OK) {
		goto out;
	}
	const uint8_t *msg_id = res->copies[0]->message_id.data;
	rc = consent_store_request_add(c->n->cases, CONSENT_SENT, msg_id, it.info.sender, req,
				       req_len);
	if (rc != DX_OK) {
		rc = ctl_fail(c, rc, "the request is queued to %s but could not be recorded: %s",
			      it.info.sender, dx_strerror(rc));
		goto out;
	}
	Dx__ConsentRequestResult *ans = ctl_alloc(c, sizeof(*ans));
	if (ans == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	dx__consent_request_result__init(ans);
	ans->message_id = ctl_bin(c, msg_id, NODE_STORE_MSG_ID_LEN);
	ans->provider = ctl_strdup(c, it.info.sender);
	ans->purpose = (char *)consent_purpose_name(u->purpose);
	if (ans->provider == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	node_log(c->n, NODE_LOG_INFO, "consent request for %s sent to %s",
		 consent_purpose_name(u->purpose), it.info.sender);
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_CONSENT_REQUEST;
	c->out.consent_request = ans;
out:
	free(req);
	item_clear(&it);
	return rc;
}

/* ---- consent_decide ---- */

struct find_ctx {
	const uint8_t *id;
	int direction;
	uint8_t *req;
	size_t req_len;
};

static int find_cb(void *ctx, const struct consent_request_row *r)
{
	struct find_ctx *f = ctx;
	if (r->direction != f->direction || memcmp(r->id, f->id, CONSENT_STORE_ID_LEN) != 0) {
		return 0;
	}
	if ((f->req = malloc(r->request_len)) == NULL) {
		return DX_ENOMEM;
	}
	memcpy(f->req, r->request, r->request_len);
	f->req_len = r->request_len;
	return 1;
}

/* Checks that this State sent item i of the request to requester (its own information). */
static int own_item(struct ctl_call *c, const Dx__ConsentRequest *r, size_t i,
		    const char *requester)
{
	char hex[2 * ENVELOPE_ID_LEN + 1];
	struct ctl_msg msg;
	struct node_store_outbox_info info;
	uint8_t hash[CONSENT_ITEM_HASH_LEN];
	dx_hex(hex, r->item_envelope_ids[i].data, ENVELOPE_ID_LEN);
	int rc = ctl_resolve(c, hex, &msg);
	if (rc == DX_OK && !msg.received &&
	    node_store_outbox_get(c->n->store, msg.msg_id, &info) == DX_OK && info.has_envelope &&
	    strcmp(info.recipient, requester) == 0 &&
	    memcmp(info.envelope_id, r->item_envelope_ids[i].data, ENVELOPE_ID_LEN) == 0) {
		consent_item_hash(hash, info.digest);
		if (sodium_memcmp(hash, r->item_hashes[i].data, sizeof(hash)) == 0) {
			return DX_OK;
		}
	}
	return ctl_fail(c, DX_EINVAL,
			"the request names item %s, which this State did not send to %s: a "
			"State can only consent about its own information",
			hex, requester);
}

static int check_outcome(struct ctl_call *c, const Dx__ConsentDecideOp *op)
{
	if (op->outcome < DX__CONSENT_OUTCOME__GRANTED ||
	    op->outcome > DX__CONSENT_OUTCOME__REVOKED) {
		return ctl_fail(c, DX_EINVAL,
				"the outcome is 1 granted, 2 granted with "
				"conditions, 3 refused or 4 revoked");
	}
	int with = op->outcome == DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS;
	if (with && (op->conditions[0] == '\0' ||
		     !roster_text_valid(op->conditions, CONSENT_CONDITIONS_MAX))) {
		return ctl_fail(c, DX_EINVAL, "conditions are 1 to %d bytes of text",
				CONSENT_CONDITIONS_MAX);
	}
	if (!with && op->conditions[0] != '\0') {
		return ctl_fail(c, DX_EINVAL, "conditions go with a grant only");
	}
	return DX_OK;
}

static int answer_decide(struct ctl_call *c, const Dx__SendResult *res, const char *requester,
			 int outcome, uint64_t decided_ms, const uint8_t *dec, size_t dec_len)
{
	Dx__ConsentDecideResult *out = ctl_alloc(c, sizeof(*out));
	if (out == NULL) {
		return DX_ENOMEM;
	}
	dx__consent_decide_result__init(out);
	out->message_id = ctl_bin(c, res->copies[0]->message_id.data, NODE_STORE_MSG_ID_LEN);
	out->requester = ctl_strdup(c, requester);
	out->outcome = (char *)consent_outcome_name(outcome);
	out->decided_ms = decided_ms;
	out->decision = ctl_bin(c, dec, dec_len);
	if (out->requester == NULL || out->decision.len != dec_len) {
		return DX_ENOMEM;
	}
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_CONSENT_DECIDE;
	c->out.consent_decide = out;
	return DX_OK;
}

int ctl_consent_decide(struct ctl_call *c)
{
	const Dx__ConsentDecideOp *op = c->in->consent_decide;
	struct item it;
	struct find_ctx f = { .direction = CONSENT_RECEIVED };
	ProtobufCMessage *rm = NULL;
	uint8_t(*items)[CONSENT_ITEM_HASH_LEN] = NULL, *dec = NULL;
	size_t dec_len = 0;
	Dx__SendResult *res = NULL;
	int rc = check_outcome(c, op);
	if (rc != DX_OK || (rc = tables(c)) != DX_OK) {
		return rc;
	}
	if ((rc = received_item(c, op->request, "a consent request this State received", &it)) !=
	    DX_OK) {
		return rc;
	}
	f.id = it.info.envelope_id;
	rc = consent_store_request_list(c->n->cases, CONSENT_RECEIVED, find_cb, &f);
	if (rc < 0) {
		goto out;
	}
	if (f.req == NULL) {
		rc = ctl_fail(c, DX_EINVAL,
			      "%s is not a consent request (see 'divex consent list')",
			      op->request);
		goto out;
	}
	if ((rc = consent_request_check(f.req, f.req_len, &rm)) != DX_OK) {
		goto out;
	}
	const Dx__ConsentRequest *r = (const Dx__ConsentRequest *)rm;
	const char *requester = it.info.sender;
	if ((items = calloc(r->n_item_hashes, sizeof(*items))) == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->n_item_hashes; i++) {
		if ((rc = own_item(c, r, i, requester)) != DX_OK) {
			goto out;
		}
		memcpy(items[i], r->item_hashes[i].data, CONSENT_ITEM_HASH_LEN);
	}
	struct consent_params cp = {
		.recipient = requester,
		.request_envelope_id = it.info.envelope_id,
		.purpose = r->purpose,
		.body = r->body,
		.outcome = (int)op->outcome,
		.conditions = op->conditions,
		.items = (const uint8_t(*)[CONSENT_ITEM_HASH_LEN])items,
		.n_items = r->n_item_hashes,
		.decided_ms = case_store_now(c->n->cases),
	};
	if ((rc = consent_decision_build(c->n->keys, &cp, &dec, &dec_len)) != DX_OK) {
		rc = ctl_fail(c, rc, "the decision could not be signed: %s", dx_strerror(rc));
		goto out;
	}
	char subject[160], *to[1] = { it.info.sender };
	snprintf(subject, sizeof(subject), "Consent decision: %s for %s",
		 consent_outcome_name(cp.outcome), consent_purpose_name(cp.purpose));
	Dx__Payload p = DX__PAYLOAD__INIT;
	p.type = PAYLOAD_TYPE_CONSENT_DECISION;
	p.case_id = it.p->case_id;
	p.in_reply_to = (ProtobufCBinaryData){ ENVELOPE_ID_LEN, it.info.envelope_id };
	p.marking = own_marking(c);
	p.subject = subject;
	p.content = (ProtobufCBinaryData){ dec_len, dec };
	if (p.marking == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	if ((rc = ctl_queue_payload(c, to, 1, &p, &res)) != DX_OK) {
		goto out;
	}
	if ((rc = consent_store_decision_add(c->n->cases, CONSENT_SENT, keys_state(c->n->keys),
					     requester, it.info.envelope_id, cp.decided_ms, dec,
					     dec_len)) != DX_OK ||
	    (rc = consent_store_request_decided(c->n->cases, CONSENT_RECEIVED, it.info.envelope_id,
						cp.outcome, cp.decided_ms)) != DX_OK) {
		rc = ctl_fail(c, rc, "the decision is queued to %s but could not be recorded: %s",
			      requester, dx_strerror(rc));
		goto out;
	}
	node_log(c->n, NODE_LOG_INFO, "consent decision signed and sent to %s: %s for %s",
		 requester, consent_outcome_name(cp.outcome), consent_purpose_name(cp.purpose));
	rc = answer_decide(c, res, requester, cp.outcome, cp.decided_ms, dec, dec_len);
out:
	free(dec);
	free(items);
	if (rm != NULL) {
		protobuf_c_message_free_unpacked(rm, NULL);
	}
	if (f.req != NULL) {
		sodium_memzero(f.req, f.req_len);
		free(f.req);
	}
	item_clear(&it);
	return rc;
}

/* ---- consent_list ---- */

struct list_ctx {
	struct ctl_call *c;
	Dx__ConsentRequestInfo **reqs;
	size_t n_reqs, cap_reqs;
	Dx__ConsentDecisionInfo **decs;
	size_t n_decs, cap_decs;
	uint8_t self_pk[KEYS_SIGN_PK_LEN];
};

static char *dup_text(struct ctl_call *c, const char *s, int *failed)
{
	char *d = ctl_strdup(c, s != NULL ? s : "");
	*failed |= d == NULL;
	return d;
}

static int list_request(void *ctx, const struct consent_request_row *row)
{
	struct list_ctx *l = ctx;
	struct ctl_call *c = l->c;
	ProtobufCMessage *rm = NULL;
	uint8_t env[CONSENT_STORE_ID_LEN];
	int failed = 0;
	if (consent_request_check(row->request, row->request_len, &rm) != DX_OK) {
		return 0; /* it was checked when stored: a row altered outside divex */
	}
	const Dx__ConsentRequest *r = (const Dx__ConsentRequest *)rm;
	Dx__ConsentRequestInfo *ri = ctl_alloc(c, sizeof(*ri));
	int rc = ctl_grow(c, (void ***)&l->reqs, l->n_reqs, &l->cap_reqs);
	if (ri == NULL || rc != DX_OK) {
		protobuf_c_message_free_unpacked(rm, NULL);
		return DX_ENOMEM;
	}
	dx__consent_request_info__init(ri);
	ri->direction = (char *)consent_direction_name(row->direction);
	ri->id = ctl_bin(c, row->id, CONSENT_STORE_ID_LEN);
	if (node_consent_sent_envelope(c->n, row, env) == DX_OK) {
		ri->envelope_id = ctl_bin(c, env, sizeof(env));
	}
	ri->peer = dup_text(c, row->peer, &failed);
	ri->purpose = (char *)consent_purpose_name(r->purpose);
	ri->body = dup_text(c, r->body, &failed);
	ri->reason = dup_text(c, r->reason, &failed);
	ri->item_envelope_ids = ctl_alloc(c, r->n_item_envelope_ids * sizeof(ProtobufCBinaryData));
	failed |= ri->item_envelope_ids == NULL;
	for (size_t i = 0; !failed && i < r->n_item_envelope_ids; i++) {
		ri->item_envelope_ids[i] =
			ctl_bin(c, r->item_envelope_ids[i].data, r->item_envelope_ids[i].len);
		ri->n_item_envelope_ids++;
	}
	ri->created_ms = row->created_ms;
	ri->state = row->outcome == 0 ? "pending" : (char *)consent_outcome_name(row->outcome);
	ri->conditions = (char *)protobuf_c_empty_string;
	protobuf_c_message_free_unpacked(rm, NULL);
	if (failed) {
		return DX_ENOMEM;
	}
	l->reqs[l->n_reqs++] = ri;
	return 0;
}

static int list_decision(void *ctx, const struct consent_decision_row *row)
{
	struct list_ctx *l = ctx;
	struct ctl_call *c = l->c;
	struct consent_decision *d = NULL;
	struct roster_entry *e = NULL;
	int rc, failed = 0;
	/* Shown only as verified now: ours against our key, a peer's against its pinned entry. */
	if (row->direction == CONSENT_SENT) {
		rc = consent_decision_verify(row->decision, row->decision_len,
					     keys_state(c->n->keys), l->self_pk, &d);
	} else if ((rc = node_consent_entry(c->n, row->provider, &e)) == DX_OK) {
		rc = consent_decision_verify_entry(row->decision, row->decision_len, e, &d);
		roster_entry_free(e);
	}
	if (rc != DX_OK) {
		node_log(c->n, NODE_LOG_WARN,
			 "a stored consent decision from %s does not verify "
			 "(%s): not listed",
			 row->provider, dx_strerror(rc));
		return 0;
	}
	Dx__ConsentDecisionInfo *di = ctl_alloc(c, sizeof(*di));
	if (di == NULL || ctl_grow(c, (void ***)&l->decs, l->n_decs, &l->cap_decs) != DX_OK) {
		consent_decision_free(d);
		return DX_ENOMEM;
	}
	dx__consent_decision_info__init(di);
	di->direction = (char *)consent_direction_name(row->direction);
	di->provider = dup_text(c, d->provider, &failed);
	di->recipient = dup_text(c, d->recipient, &failed);
	di->request_envelope_id = ctl_bin(c, d->request_envelope_id, CONSENT_REQUEST_ID_LEN);
	di->purpose = (char *)consent_purpose_name(d->purpose);
	di->body = dup_text(c, d->body, &failed);
	di->outcome = (char *)consent_outcome_name(d->outcome);
	di->conditions = dup_text(c, d->conditions, &failed);
	di->decided_ms = d->decided_ms;
	di->n_items = (uint32_t)d->n_items;
	consent_decision_free(d);
	if (failed) {
		return DX_ENOMEM;
	}
	l->decs[l->n_decs++] = di;
	/* The conditions of a request's newest decision go with the request. */
	for (size_t i = 0; i < l->n_reqs; i++) {
		Dx__ConsentRequestInfo *ri = l->reqs[i];
		if (ri->envelope_id.len == CONSENT_REQUEST_ID_LEN &&
		    memcmp(ri->envelope_id.data, di->request_envelope_id.data,
			   CONSENT_REQUEST_ID_LEN) == 0 &&
		    strcmp(ri->state, di->outcome) == 0) {
			ri->conditions = di->conditions;
		}
	}
	return 0;
}

int ctl_consent_list(struct ctl_call *c)
{
	struct list_ctx l = { .c = c };
	int rc = tables(c);
	if (rc != DX_OK) {
		return rc;
	}
	keys_identity_pk(c->n->keys, l.self_pk);
	rc = consent_store_request_list(c->n->cases, 0, list_request, &l);
	if (rc == DX_OK) {
		rc = consent_store_decision_list(c->n->cases, 0, NULL, list_decision, &l);
	}
	if (rc != DX_OK) {
		return rc;
	}
	Dx__ConsentListResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__consent_list_result__init(res);
	res->requests = l.reqs;
	res->n_requests = l.n_reqs;
	res->decisions = l.decs;
	res->n_decisions = l.n_decs;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_CONSENT_LIST;
	c->out.consent_list = res;
	return DX_OK;
}

/* ---- export ---- */

struct verified {
	struct node *n;
	const struct roster_entry *e;
	struct consent_decision **d;
	size_t n_d, cap;
	int rc;
};

/* Every stored decision of the provider, verified again against its pinned entry. */
static int verify_cb(void *ctx, const struct consent_decision_row *row)
{
	struct verified *v = ctx;
	struct consent_decision *d = NULL;
	int rc = consent_decision_verify_entry(row->decision, row->decision_len, v->e, &d);
	if (rc != DX_OK) {
		node_log(v->n, NODE_LOG_WARN,
			 "a stored consent decision from %s does not verify against its pinned "
			 "key (%s): not counted",
			 row->provider, dx_strerror(rc));
		return 0;
	}
	if (v->n_d == v->cap) {
		size_t cap = v->cap == 0 ? 8 : 2 * v->cap;
		struct consent_decision **nd = realloc(v->d, cap * sizeof(*nd));
		if (nd == NULL) {
			consent_decision_free(d);
			return DX_ENOMEM;
		}
		v->d = nd;
		v->cap = cap;
	}
	v->d[v->n_d++] = d;
	return 0;
}

static int export_decision(struct ctl_call *c, const struct consent_decision *d,
			   const struct roster_entry *e, Dx__ExportDecision **out)
{
	ProtobufCMessage *m = NULL;
	int failed = 0;
	int rc = proto_unpack_strict(&dx__consent_decision__descriptor, d->signed_bytes,
				     d->signed_len, CONSENT_DECISION_MAX, &m);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__ConsentDecision *cd = (const Dx__ConsentDecision *)m;
	Dx__ExportDecision *x = ctl_alloc(c, sizeof(*x));
	if (x == NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
		return DX_ENOMEM;
	}
	dx__export_decision__init(x);
	x->decision = ctl_bin(c, d->signed_bytes, d->signed_len);
	x->statement = ctl_bin(c, cd->statement.data, cd->statement.len);
	x->signature = ctl_bin(c, cd->signature.data, cd->signature.len);
	failed |= x->decision.len != d->signed_len || x->statement.len != cd->statement.len ||
		  x->signature.len != cd->signature.len;
	protobuf_c_message_free_unpacked(m, NULL);
	x->provider = dup_text(c, d->provider, &failed);
	x->provider_identity_key = ctl_bin(c, e->identity_pk, KEYS_SIGN_PK_LEN);
	x->recipient = dup_text(c, d->recipient, &failed);
	x->purpose = (char *)consent_purpose_name(d->purpose);
	x->body = dup_text(c, d->body, &failed);
	x->outcome = (char *)consent_outcome_name(d->outcome);
	x->conditions = dup_text(c, d->conditions, &failed);
	x->decided_ms = d->decided_ms;
	x->request_envelope_id = ctl_bin(c, d->request_envelope_id, CONSENT_REQUEST_ID_LEN);
	if (failed) {
		return DX_ENOMEM;
	}
	*out = x;
	return DX_OK;
}

static int answer_export(struct ctl_call *c, const struct item *it, const struct use_name *u,
			 const char *body, const struct consent_verdict *v,
			 const uint8_t item_hash[static CONSENT_ITEM_HASH_LEN],
			 const struct roster_entry *e)
{
	int failed = 0;
	Dx__ExportResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__export_result__init(res);
	res->envelope_id = ctl_bin(c, it->info.envelope_id, ENVELOPE_ID_LEN);
	res->sender = dup_text(c, it->info.sender, &failed);
	res->received_ms = it->info.received_ms;
	res->payload = ctl_bin(c, it->body, it->body_len);
	failed |= res->payload.len != it->body_len;
	res->use = (char *)u->name;
	res->body = dup_text(c, body, &failed);
	res->consent_needed = v->purpose != 0 ? (char *)consent_purpose_name(v->purpose)
					      : (char *)protobuf_c_empty_string;
	res->conditions = dup_text(c, v->conditions, &failed);
	res->item_hash = ctl_bin(c, item_hash, CONSENT_ITEM_HASH_LEN);
	if (failed) {
		return DX_ENOMEM;
	}
	if (v->decision != NULL) {
		Dx__ExportDecision **xs = ctl_alloc(c, sizeof(*xs));
		if (xs == NULL) {
			return DX_ENOMEM;
		}
		int rc = export_decision(c, v->decision, e, &xs[0]);
		if (rc != DX_OK) {
			return rc;
		}
		res->decisions = xs;
		res->n_decisions = 1;
	}
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_EXPORT;
	c->out.export = res;
	return DX_OK;
}

int ctl_export(struct ctl_call *c)
{
	const Dx__ExportOp *op = c->in->export;
	const struct use_name *u = NULL;
	struct item it;
	struct roster_entry *e = NULL;
	struct consent_verdict verdict;
	struct verified v = { .n = c->n };
	int rc = parse_use(c, op->purpose, op->body, &u);
	if (rc != DX_OK || (rc = tables(c)) != DX_OK) {
		return rc;
	}
	if ((rc = received_item(c, op->item, "an item this State received", &it)) != DX_OK) {
		return rc;
	}
	if ((rc = node_consent_entry(c->n, it.info.sender, &e)) != DX_OK) {
		rc = ctl_fail(c, rc, "the roster entry of %s, the provider, cannot be used: %s",
			      it.info.sender, dx_strerror(rc));
		goto out;
	}
	v.e = e;
	rc = consent_store_decision_list(c->n->cases, CONSENT_RECEIVED, it.info.sender, verify_cb,
					 &v);
	if (rc != DX_OK) {
		goto out;
	}
	struct consent_query q = {
		.handling = it.p->marking != NULL ? (int)it.p->marking->handling : 0,
		.use = u->use,
		.body = op->body,
		.provider = it.info.sender,
		.recipient = keys_state(c->n->keys),
		.now_ms = dx_now_ms(),
	};
	consent_item_hash(q.item, it.info.digest);
	rc = consent_allows(&q, (const struct consent_decision *const *)v.d, v.n_d, &verdict);
	char hex[2 * ENVELOPE_ID_LEN + 1];
	dx_hex(hex, it.info.envelope_id, ENVELOPE_ID_LEN);
	if (rc != DX_OK) {
		node_log(c->n, NODE_LOG_INFO, "export of %s from %s for %s refused: %s", hex,
			 it.info.sender, u->name, dx_strerror(rc));
		rc = ctl_fail(c, rc, "%s", verdict.message);
		goto out;
	}
	node_log(c->n, NODE_LOG_INFO, "export of %s from %s for %s allowed%s", hex, it.info.sender,
		 u->name, verdict.decision != NULL ? " by the provider's signed consent" : "");
	rc = answer_export(c, &it, u, op->body, &verdict, q.item, e);
out:
	for (size_t i = 0; i < v.n_d; i++) {
		consent_decision_free(v.d[i]);
	}
	free(v.d);
	roster_entry_free(e);
	item_clear(&it);
	return rc;
}
