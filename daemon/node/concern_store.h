/*
 * concern_store.h: the rule 15 concerns a State node keeps (docs/casework.md),
 * in a `concerns` table of cases.db next to the cases (case_store.h).
 *
 * One row per concern: one this State raised (keyed by the concern's message
 * id) or one raised with it (keyed by the concern's envelope id). Each row
 * records the other State, the envelope the concern is about, whether the
 * message's audit dossier went with it, when it was raised, and once
 * answered when and with what explanation and remedial measures. The
 * description, the explanation and the remedial measures are sealed at rest
 * with case_store_seal() (associated data: the column's label and the row's
 * id in hex); ids, States, times and the state stay in the clear so that the
 * deadline book can list what waits without opening anything.
 *
 * Threads and ownership: the case store's thread (divexd's loop). Listings
 * read and open every row first and then call back once per row; the row's
 * texts belong to the store and are wiped after the callback returns.
 * Functions return 0 or a negative DX_E* code.
 */
#ifndef DIVEX_NODE_CONCERN_STORE_H
#define DIVEX_NODE_CONCERN_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "case_store.h"
#include "error.h"
#include "util.h"

#define CONCERN_ID_LEN 16
/* Texts in bytes: a description, an explanation, remedial measures. */
#define CONCERN_TEXT_MAX (32 * 1024)
/* Rows one listing returns. */
#define CONCERN_STORE_LIST_MAX 10000

enum concern_direction {
	CONCERN_RAISED = 1,   /* by this State */
	CONCERN_RECEIVED = 2, /* raised with this State */
};

struct concern_row {
	uint8_t id[CONCERN_ID_LEN]; /* raised: the message id; received: the envelope id */
	enum concern_direction direction;
	char peer[DX_STATE_LEN + 1]; /* raised: the State concerned; received: who raised it */
	uint8_t envelope_id[CONCERN_ID_LEN]; /* the message the concern is about */
	int dossier;			     /* the audit dossier was attached */
	uint64_t raised_ms;		     /* taken from the store's clock by concern_store_add */
	uint64_t explained_ms;		     /* 0 while no explanation was given */
	const char *description;	     /* NUL-terminated */
	const char *explanation;	     /* NULL while unexplained */
	const char *remedial;
};

/* Creates the table in the case store's database if it is not there yet. */
int concern_store_init(struct case_store *cs) DX_MUST_CHECK;

/*
 * Records a concern (description required, at most CONCERN_TEXT_MAX; the
 * explanation fields are ignored). A row whose id is recorded already is
 * left as it is (a concern seen again after a restart): DX_OK. DX_EINVAL for
 * a bad direction, State or description.
 */
int concern_store_add(struct case_store *cs, const struct concern_row *r) DX_MUST_CHECK;

/*
 * Records the explanation of the concern id, at explained_ms; a later one
 * replaces an earlier one. DX_ENOENT when there is no such concern;
 * DX_EINVAL for a text over CONCERN_TEXT_MAX or an empty explanation.
 */
int concern_store_explain(struct case_store *cs, const uint8_t id[static CONCERN_ID_LEN],
			  uint64_t explained_ms, const char *explanation,
			  const char *remedial) DX_MUST_CHECK;

/* Called once per row; a non-zero return stops the listing and is returned. */
typedef int (*concern_store_fn)(void *ctx, const struct concern_row *r);
/* One concern (DX_ENOENT when none). */
int concern_store_get(struct case_store *cs, const uint8_t id[static CONCERN_ID_LEN],
		      concern_store_fn fn, void *ctx) DX_MUST_CHECK;
/* Every concern, oldest first. */
int concern_store_list(struct case_store *cs, concern_store_fn fn, void *ctx) DX_MUST_CHECK;

#endif
