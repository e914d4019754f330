/*
 * node_consent.c: consent requests and decisions as they arrive (see
 * node_consent.h), the lookups the control operations share, and the
 * pending requests in the deadline book of `divex due`.
 *
 * A decision received is believed only once it verifies against the
 * sender's pinned roster entry, is given to this State, covers only items
 * the sender sent here, and answers a request this State sent to the
 * sender: anything else is refused and logged, and nothing of it is stored.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "casework.pb-c.h"
#include "node_consent.h"
#include "node_control.h"
#include "node_notice.h"

int node_consent_entry(struct node *n, const char *state, struct roster_entry **out)
{
	struct node_store_roster_info info;
	uint8_t *entry = NULL;
	size_t len = 0;
	int rc = node_store_roster_get(n->store, state, &info, &entry, &len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = roster_entry_verify(entry, len, out);
	free(entry);
	if (rc == DX_OK &&
	    sodium_memcmp((*out)->identity_pk, info.identity_pk, KEYS_SIGN_PK_LEN) != 0) {
		roster_entry_free(*out);
		*out = NULL;
		rc = DX_ESIG;
	}
	return rc;
}

struct item_ctx {
	const char *provider;
	const uint8_t *item;
	int found;
	size_t seen;
};

static int item_cb(void *ctx, const struct node_store_inbox_info *m)
{
	struct item_ctx *x = ctx;
	uint8_t h[CONSENT_ITEM_HASH_LEN];
	x->seen++;
	if (strcmp(m->sender, x->provider) == 0) {
		consent_item_hash(h, m->digest);
		if (sodium_memcmp(h, x->item, sizeof(h)) == 0) {
			x->found = 1;
			return 1;
		}
	}
	return 0;
}

int node_consent_received_item(struct node *n, const char *provider,
			       const uint8_t item[static CONSENT_ITEM_HASH_LEN])
{
	struct item_ctx x = { .provider = provider, .item = item };
	for (size_t off = 0;; off += NODE_STORE_LIST_MAX) {
		x.seen = 0;
		int rc = node_store_inbox_list(n->store, NODE_STORE_LIST_MAX, off, item_cb, &x);
		if (x.found || rc < 0 || x.seen < NODE_STORE_LIST_MAX) {
			break;
		}
	}
	return x.found;
}

int node_consent_sent_envelope(struct node *n, const struct consent_request_row *r,
			       uint8_t out[static CONSENT_STORE_ID_LEN])
{
	struct node_store_outbox_info info;
	if (r->has_envelope) {
		memcpy(out, r->envelope_id, CONSENT_STORE_ID_LEN);
		return DX_OK;
	}
	if (r->direction != CONSENT_SENT) {
		return DX_ENOENT;
	}
	int rc = node_store_outbox_get(n->store, r->id, &info);
	if (rc != DX_OK) {
		return rc;
	}
	if (!info.has_envelope) {
		return DX_ENOENT;
	}
	memcpy(out, info.envelope_id, CONSENT_STORE_ID_LEN);
	/* Remember it: the outbox is the authority, this only saves the lookup. */
	if (consent_store_request_set_envelope(n->cases, CONSENT_SENT, r->id, out) != DX_OK) {
		node_log(n, NODE_LOG_WARN, "recording the envelope id of a consent request");
	}
	return DX_OK;
}

/* ---- receiving ---- */

static void received_request(struct node *n, const struct node_store_opened *m,
			     const Dx__Payload *p, const char *hex)
{
	ProtobufCMessage *rm = NULL;
	int rc = consent_request_check(p->content.data, p->content.len, &rm);
	if (rc == DX_OK) {
		rc = consent_store_request_add(n->cases, CONSENT_RECEIVED, m->envelope_id,
					       m->sender, p->content.data, p->content.len);
	}
	if (rc == DX_OK) {
		const Dx__ConsentRequest *r = (const Dx__ConsentRequest *)rm;
		node_log(n, NODE_LOG_INFO,
			 "consent request %s from %s recorded: %s on %zu item(s), pending", hex,
			 m->sender, consent_purpose_name(r->purpose), r->n_item_hashes);
	} else {
		node_log(n, NODE_LOG_WARN, "consent request %s from %s not recorded: %s", hex,
			 m->sender, dx_strerror(rc));
	}
	if (rm != NULL) {
		protobuf_c_message_free_unpacked(rm, NULL);
	}
}

struct provider_item {
	struct node *n;
	const char *provider;
};

static int provider_item(void *ctx, const uint8_t item[static CONSENT_ITEM_HASH_LEN])
{
	const struct provider_item *pi = ctx;
	return node_consent_received_item(pi->n, pi->provider, item);
}

/* Finds the request a decision answers among those sent to its provider. */
struct answer_ctx {
	struct node *n;
	const struct consent_decision *d;
	int found;
	uint8_t id[CONSENT_STORE_ID_LEN];
};

static int answer_cb(void *ctx, const struct consent_request_row *r)
{
	struct answer_ctx *a = ctx;
	uint8_t env[CONSENT_STORE_ID_LEN];
	if (strcmp(r->peer, a->d->provider) != 0 ||
	    node_consent_sent_envelope(a->n, r, env) != DX_OK ||
	    sodium_memcmp(env, a->d->request_envelope_id, sizeof(env)) != 0) {
		return 0;
	}
	a->found = 1;
	memcpy(a->id, r->id, sizeof(a->id));
	return 1;
}

static void received_decision(struct node *n, const struct node_store_opened *m,
			      const Dx__Payload *p, const char *hex)
{
	struct roster_entry *e = NULL;
	struct consent_decision *d = NULL;
	struct provider_item pi = { n, m->sender };
	struct answer_ctx a = { .n = n };
	int rc = node_consent_entry(n, m->sender, &e);
	if (rc == DX_OK) {
		rc = consent_store_check_decision(p->content.data, p->content.len, e,
						  keys_state(n->keys), provider_item, &pi, &d);
	}
	if (rc == DX_OK) {
		a.d = d;
		rc = consent_store_request_list(n->cases, CONSENT_SENT, answer_cb, &a);
		if (rc >= 0 && !a.found) {
			rc = DX_ENOENT;
		} else if (rc > 0) {
			rc = DX_OK;
		}
	}
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_WARN,
			 "consent decision %s from %s refused, not stored: %s (%s)", hex, m->sender,
			 rc == DX_ENOENT ? "it answers no request this State sent to it"
					 : "forged, altered or not about items it sent here",
			 dx_strerror(rc));
		goto out;
	}
	rc = consent_store_decision_add(n->cases, CONSENT_RECEIVED, d->provider, d->recipient,
					d->request_envelope_id, d->decided_ms, d->signed_bytes,
					d->signed_len);
	if (rc == DX_OK) {
		rc = consent_store_request_decided(n->cases, CONSENT_SENT, a.id, d->outcome,
						   d->decided_ms);
	}
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_WARN, "consent decision %s from %s not recorded: %s", hex,
			 m->sender, dx_strerror(rc));
		goto out;
	}
	node_log(n, NODE_LOG_INFO, "consent decision %s from %s verified and recorded: %s for %s",
		 hex, m->sender, consent_outcome_name(d->outcome),
		 consent_purpose_name(d->purpose));
out:
	consent_decision_free(d);
	roster_entry_free(e);
}

void node_consent_received(struct node *n, const struct node_store_opened *m, const Dx__Payload *p)
{
	char hex[2 * ENVELOPE_ID_LEN + 1];
	dx_hex(hex, m->envelope_id, ENVELOPE_ID_LEN);
	if (consent_store_init(n->cases) != DX_OK) {
		node_log(n, NODE_LOG_WARN, "the consent tables of cases.db cannot be opened");
		return;
	}
	if (p->type == PAYLOAD_TYPE_CONSENT_REQUEST) {
		received_request(n, m, p, hex);
	} else if (p->type == PAYLOAD_TYPE_CONSENT_DECISION) {
		received_decision(n, m, p, hex);
	}
}

/* ---- the deadline book ---- */

#define DAY_LEN 11

/* YYYY-MM-DD of a time, on the local calendar like every date in the book. */
static void local_day(char out[static DAY_LEN], uint64_t ms)
{
	if (notice_local_day(ms, out) != DX_OK) {
		snprintf(out, DAY_LEN, "1970-01-01");
	}
}

struct due_ctx {
	struct ctl_call *c;
	struct ctl_due_book *b;
};

static int due_row(void *ctx, const struct consent_request_row *r)
{
	struct due_ctx *x = ctx;
	ProtobufCMessage *rm = NULL;
	char date[DAY_LEN], what[256], hex[2 * CONSENT_STORE_ID_LEN + 1];
	if (r->outcome != 0 || consent_request_check(r->request, r->request_len, &rm) != DX_OK) {
		return 0;
	}
	const char *purpose = consent_purpose_name(((const Dx__ConsentRequest *)rm)->purpose);
	dx_hex(hex, r->id, CONSENT_STORE_ID_LEN);
	local_day(date, r->created_ms);
	if (r->direction == CONSENT_RECEIVED) {
		snprintf(what, sizeof(what),
			 "decide %s's consent request for %s: 'divex consent grant|refuse %.12s'",
			 r->peer, purpose, hex);
	} else {
		snprintf(what, sizeof(what), "%s's decision on the consent request for %s", r->peer,
			 purpose);
	}
	protobuf_c_message_free_unpacked(rm, NULL);
	return ctl_due_add(x->b, date,
			   r->direction == CONSENT_RECEIVED ? "consent_to_decide"
							    : "consent_awaited",
			   r->peer, "", r->id, CONSENT_STORE_ID_LEN, what, 0);
}

int ctl_due_consent(struct ctl_call *c, struct ctl_due_book *b, const char *today)
{
	struct due_ctx x = { c, b };
	(void)today;
	int rc = consent_store_init(c->n->cases);
	return rc != DX_OK ? rc : consent_store_request_list(c->n->cases, 0, due_row, &x);
}
