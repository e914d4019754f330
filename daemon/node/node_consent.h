/*
 * node_consent.h: consent on a State node (rule 16, Model ToR;
 * docs/casework.md): what the receiving side (node_consent.c) and the control
 * operations (node_ctl_consent.c) share.
 *
 * A consent request (Payload type 7) received is recorded as pending; a
 * consent decision (Payload type 8) received is checked strictly against the
 * sender's pinned roster entry before it is stored, and refused with a log
 * line otherwise. Loop thread only, like the rest of the node.
 */
#ifndef DIVEX_NODE_NODE_CONSENT_H
#define DIVEX_NODE_NODE_CONSENT_H

#include "consent_store.h"
#include "node.h"
#include "wire.pb-c.h"

/* Payload.type values (casework.proto). */
#define PAYLOAD_TYPE_CONSENT_REQUEST 7
#define PAYLOAD_TYPE_CONSENT_DECISION 8

/* Called for a stored envelope whose payload is of type 7 or 8. */
void node_consent_received(struct node *n, const struct node_store_opened *m, const Dx__Payload *p);

/* The pinned roster entry of state, verified again (free with roster_entry_free). */
int node_consent_entry(struct node *n, const char *state, struct roster_entry **out) DX_MUST_CHECK;

/* 1 when this node received an item from provider whose consent_item_hash is item, else 0. */
int node_consent_received_item(struct node *n, const char *provider,
			       const uint8_t item[static CONSENT_ITEM_HASH_LEN]);

/*
 * The envelope id of a request this node sent (recorded once the outbox has
 * sealed it): DX_ENOENT while it is not sealed.
 */
int node_consent_sent_envelope(struct node *n, const struct consent_request_row *r,
			       uint8_t out[static CONSENT_STORE_ID_LEN]) DX_MUST_CHECK;

/*
 * The pending consent requests for `divex due` (a ctl_due_source of
 * node_notice.h): those this State must decide and those it awaits, dated
 * by the day they were recorded.
 */
struct ctl_call;
struct ctl_due_book;
int ctl_due_consent(struct ctl_call *c, struct ctl_due_book *b, const char *today);

#endif
