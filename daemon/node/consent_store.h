/*
 * consent_store.h: consent requests and decisions kept by a State node
 * (rule 16 and the Model ToR's prior written consent; docs/casework.md), in
 * two tables of the case database (case_store.h), and the strict check a
 * node applies to a decision it receives.
 *
 * consent_requests holds the requests this State sent (keyed by their
 * outbox message id) and those it received (keyed by their envelope id),
 * with the requesting or providing State, the state of the request
 * (pending, or the outcome of the newest decision) and the serialized
 * dx.ConsentRequest, sealed at rest. consent_decisions holds every signed
 * decision this State sent or received, sealed at rest, keyed by a hash of
 * its bytes. A stored decision is only a record: whoever relies on one
 * verifies it again against the provider's pinned roster entry.
 *
 * Ownership and threads: the functions work on a case store owned by one
 * thread (divexd's loop) and return 0 or a negative DX_E* code. Listings
 * read and decrypt their rows first and then call back once per row, with
 * views valid during the callback only, so a callback may use the store.
 */
#ifndef DIVEX_NODE_CONSENT_STORE_H
#define DIVEX_NODE_CONSENT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "case_store.h"
#include "consent.h"
#include "roster.h"

#define CONSENT_REASON_MAX 2048
/* A serialized dx.ConsentRequest: items by hash and id, body and reason. */
#define CONSENT_REQUEST_MAX                                                                        \
	(CONSENT_MAX_ITEMS * (CONSENT_ITEM_HASH_LEN + CONSENT_REQUEST_ID_LEN + 4) +                \
	 CONSENT_BODY_MAX + CONSENT_REASON_MAX + 64)
#define CONSENT_STORE_ID_LEN 16
/* Rows one listing returns. */
#define CONSENT_STORE_LIST_MAX 10000

enum consent_direction {
	CONSENT_SENT = 1,
	CONSENT_RECEIVED = 2,
};
const char *consent_direction_name(int direction);

/* Creates the tables when missing; every other function expects them. */
int consent_store_init(struct case_store *cs) DX_MUST_CHECK;

/*
 * Checks a serialized dx.ConsentRequest from a peer or the CLI: canonical
 * within CONSENT_REQUEST_MAX, a known purpose, a body exactly for a
 * disclosure, texts by the rule of roster_text_valid(), 1 to
 * CONSENT_MAX_ITEMS items given by hash (32) and envelope id (16) in the
 * same order. With msg_out the decoded request is handed out
 * (protobuf_c_message_free_unpacked frees it). DX_EPARSE or DX_ETOOBIG.
 */
struct ProtobufCMessage;
int consent_request_check(const uint8_t *buf, size_t len,
			  struct ProtobufCMessage **msg_out) DX_MUST_CHECK;

struct consent_request_row {
	int direction;
	uint8_t id[CONSENT_STORE_ID_LEN]; /* sent: the message id; received: the envelope id */
	int has_envelope;
	uint8_t envelope_id[CONSENT_STORE_ID_LEN];
	char peer[DX_STATE_LEN + 1]; /* sent: the provider; received: the requester */
	uint64_t created_ms;
	int outcome; /* 0 while pending, else the dx.ConsentOutcome of the newest decision */
	uint64_t decided_ms;
	/* The serialized dx.ConsentRequest (checked when added). */
	const uint8_t *request;
	size_t request_len;
};

/*
 * Records a request (checked with consent_request_check): a received one
 * with its envelope id as id (has_envelope set), a sent one with its
 * message id. DX_EEXIST when the same (direction, id) is there.
 */
int consent_store_request_add(struct case_store *cs, int direction,
			      const uint8_t id[static CONSENT_STORE_ID_LEN], const char *peer,
			      const uint8_t *request, size_t len) DX_MUST_CHECK;
/* Records the envelope id of a sent request once it is sealed. */
int consent_store_request_set_envelope(
	struct case_store *cs, int direction, const uint8_t id[static CONSENT_STORE_ID_LEN],
	const uint8_t envelope_id[static CONSENT_STORE_ID_LEN]) DX_MUST_CHECK;
/*
 * Records a decision's outcome on a request, unless the request already
 * holds a newer one (equal times: the more restrictive outcome stays, as
 * consent_allows() decides). DX_ENOENT for an unknown request.
 */
int consent_store_request_decided(struct case_store *cs, int direction,
				  const uint8_t id[static CONSENT_STORE_ID_LEN], int outcome,
				  uint64_t decided_ms) DX_MUST_CHECK;
typedef int (*consent_request_fn)(void *ctx, const struct consent_request_row *r);
/* Every request, oldest first; direction 0 for both. */
int consent_store_request_list(struct case_store *cs, int direction, consent_request_fn fn,
			       void *ctx) DX_MUST_CHECK;

struct consent_decision_row {
	int direction;
	char provider[DX_STATE_LEN + 1];
	char recipient[DX_STATE_LEN + 1];
	uint8_t request_envelope_id[CONSENT_REQUEST_ID_LEN];
	uint64_t decided_ms;
	uint64_t stored_ms;
	const uint8_t *decision; /* the signed dx.ConsentDecision */
	size_t decision_len;
};

/*
 * Records a signed decision (at most CONSENT_DECISION_MAX bytes) with the
 * facts the caller verified. The same bytes twice are stored once (0).
 */
int consent_store_decision_add(struct case_store *cs, int direction, const char *provider,
			       const char *recipient,
			       const uint8_t request_envelope_id[static CONSENT_REQUEST_ID_LEN],
			       uint64_t decided_ms, const uint8_t *decision,
			       size_t len) DX_MUST_CHECK;
typedef int (*consent_decision_fn)(void *ctx, const struct consent_decision_row *r);
/* Decisions oldest first; direction 0 for both, provider NULL for every provider. */
int consent_store_decision_list(struct case_store *cs, int direction, const char *provider,
				consent_decision_fn fn, void *ctx) DX_MUST_CHECK;

/*
 * The strict check of a decision a node receives from sender, whose pinned
 * roster entry is e: it must verify against e (consent_decision_verify_entry:
 * the provider is the sender, the signature covers the exact bytes), be
 * given to self, and every item it names must be one this node received from
 * the provider (is_item returns 1 for such an item hash). DX_ESIG, DX_EPARSE,
 * DX_ETOOBIG as the verifier; DX_ESENDER for a decision given to another
 * State or naming an item the provider never sent here. *out (free with
 * consent_decision_free) is written only on success.
 */
typedef int (*consent_item_fn)(void *ctx, const uint8_t item[static CONSENT_ITEM_HASH_LEN]);
int consent_store_check_decision(const uint8_t *buf, size_t len, const struct roster_entry *e,
				 const char *self, consent_item_fn is_item, void *ctx,
				 struct consent_decision **out) DX_MUST_CHECK;

#endif
