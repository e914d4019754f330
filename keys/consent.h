/*
 * consent.h: consent decisions (DIEF ToR rule 16; Model ToR: "prior written
 * consent") and the rule that decides whether an item may be exported.
 *
 * A provider State records its decision on a consent request in a
 * ConsentStatement (proto/casework.proto), signs the exact bytes with its
 * identity key and sends the pair as a ConsentDecision. Anyone holding the
 * provider's roster entry can check it offline: the format and reject rules
 * are in docs/PROTOCOL.md section 13. A decision covers items by hash
 * (consent_item_hash() of each envelope digest), so it cannot be moved to
 * another item.
 *
 * consent_allows() is the pure decision that `divex export` applies: which
 * consent the item's handling code and the intended use need, and whether
 * the newest matching verified decision grants it. The mapping and the
 * treaty wording behind it are in docs/casework-rules.md.
 *
 * A struct consent_decision owns its memory; strings point into it. All
 * functions are pure and thread-safe (building signs with the borrowed keys).
 */
#ifndef DIVEX_KEYS_CONSENT_H
#define DIVEX_KEYS_CONSENT_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "roster.h"

#define CONSENT_ITEM_HASH_LEN 32
#define CONSENT_REQUEST_ID_LEN 16
#define CONSENT_MAX_ITEMS 256
#define CONSENT_BODY_MAX 256
#define CONSENT_CONDITIONS_MAX 2048
/* Serialized ConsentStatement and ConsentDecision (PROTOCOL.md 13). */
#define CONSENT_STATEMENT_MAX (16 * 1024)
#define CONSENT_DECISION_MAX (CONSENT_STATEMENT_MAX + 128)
/* A decision dated this far after "now" is already taken into account. */
#define CONSENT_CLOCK_SKEW_MS (5ull * 60 * 1000)
#define CONSENT_MESSAGE_MAX 1536

/* BLAKE2b-256("divex/v1/consent-item\0" || envelope digest). */
void consent_item_hash(uint8_t out[static CONSENT_ITEM_HASH_LEN],
		       const uint8_t digest[static 32]);

/* What a provider decides; provider is the signing State. */
struct consent_params {
	const char *recipient;			/* the State the consent is given to */
	const uint8_t *request_envelope_id;	/* CONSENT_REQUEST_ID_LEN: the request answered */
	int purpose;				/* dx.ConsentPurpose */
	const char *body;			/* DISCLOSURE_TO_BODY only, else NULL or "" */
	int outcome;				/* dx.ConsentOutcome */
	const char *conditions;			/* GRANTED_WITH_CONDITIONS only, else NULL or "" */
	const uint8_t (*items)[CONSENT_ITEM_HASH_LEN];
	size_t n_items;
	uint64_t decided_ms;
};

/*
 * Builds and signs a decision as keys' State: a malloc'd serialized
 * ConsentDecision. The result is run through consent_decision_verify()
 * first, whose error is returned for parameters it would refuse.
 */
int consent_decision_build(const struct keys *k, const struct consent_params *p, uint8_t **out,
			   size_t *out_len) DX_MUST_CHECK;

/* A verified decision. */
struct consent_decision {
	char provider[DX_STATE_LEN + 1];
	char recipient[DX_STATE_LEN + 1];
	uint8_t request_envelope_id[CONSENT_REQUEST_ID_LEN];
	int purpose;
	int outcome;
	const char *body;	/* "" when none */
	const char *conditions; /* "" when none */
	size_t n_items;
	uint8_t (*items)[CONSENT_ITEM_HASH_LEN];
	uint64_t decided_ms;
	/* The exact signed ConsentDecision, and the decoded statement. */
	uint8_t *signed_bytes;
	size_t signed_len;
	struct Dx__ConsentStatement *msg;
};

/*
 * Parses and verifies a serialized ConsentDecision as coming from the State
 * provider with identity key identity_pk (PROTOCOL.md 13.2, in that order):
 * DX_ETOOBIG, DX_EPARSE, DX_ESIG, DX_ESTATE_CODE; DX_ESIG also when the
 * statement names another provider. *out is written only on success.
 */
int consent_decision_verify(const uint8_t *buf, size_t len, const char *provider,
			    const uint8_t identity_pk[static KEYS_SIGN_PK_LEN],
			    struct consent_decision **out) DX_MUST_CHECK;
/* The same against a verified roster entry of the provider. */
int consent_decision_verify_entry(const uint8_t *buf, size_t len, const struct roster_entry *e,
				  struct consent_decision **out) DX_MUST_CHECK;
void consent_decision_free(struct consent_decision *d);
/* True when the decision covers the item. */
int consent_decision_covers(const struct consent_decision *d,
			    const uint8_t item[static CONSENT_ITEM_HASH_LEN]);

/* What the recipient intends to do with an item it exports. */
enum consent_use {
	CONSENT_USE_NATIONAL = 0,    /* share within its competent national authorities */
	CONSENT_USE_OPERATIONAL = 1, /* export assessment, enforcement action */
	CONSENT_USE_DISCLOSURE = 2,  /* disclose to a named court or administrative body */
	CONSENT_USE_BRIEFING = 3,    /* attribute it in a briefing */
};
const char *consent_use_name(enum consent_use use);
const char *consent_purpose_name(int purpose);
const char *consent_outcome_name(int outcome);

/*
 * The dx.ConsentPurpose that the use of an item marked with handling code
 * (dx.HandlingCode; an unknown code counts as H3) needs, or 0 when the use
 * needs no consent. docs/casework-rules.md has the table.
 */
int consent_required(int handling, enum consent_use use);

struct consent_query {
	int handling;	       /* the item's dx.HandlingCode */
	enum consent_use use;
	const char *body;      /* CONSENT_USE_DISCLOSURE: the court or body named */
	const char *provider;  /* the State that provided the item */
	const char *recipient; /* this State */
	uint8_t item[CONSENT_ITEM_HASH_LEN];
	uint64_t now_ms;
};

struct consent_verdict {
	int purpose;				 /* the consent needed, 0 for none */
	const struct consent_decision *decision; /* the deciding decision, or NULL */
	const char *conditions;			 /* to show with the export, or NULL */
	char message[CONSENT_MESSAGE_MAX];	 /* why, in a sentence for the officer */
};

/*
 * Decides whether the item may be exported for q->use. Among the verified
 * decisions d[0..n) from q->provider to q->recipient for the needed purpose
 * (and, for a disclosure, the same body) that cover q->item and are not
 * dated after now plus CONSENT_CLOCK_SKEW_MS, the newest decides; of two
 * equally new, the more restrictive. GRANTED and GRANTED_WITH_CONDITIONS
 * allow (the conditions are returned for display); REFUSED, REVOKED or no
 * decision refuse with DX_ENO_CONSENT and a message naming the missing
 * consent. DX_EINVAL for a query without valid State codes, or a disclosure
 * without a body. out is always written.
 */
int consent_allows(const struct consent_query *q, const struct consent_decision *const *d,
		   size_t n, struct consent_verdict *out) DX_MUST_CHECK;

#endif
