/*
 * request_store.h: the requests for information (Model ToR) a State node
 * keeps (docs/casework.md), in a `requests` table of cases.db next to the
 * cases (case_store.h).
 *
 * One row per copy: a request this State sent to one State (keyed by that
 * copy's message id, grouped under the request id, the first copy's message
 * id), or a request it received (keyed by its envelope id). Each row
 * records the case, the respond-by date (empty when none was asked), the
 * calendar day it was sent or received, and whether it has been answered:
 * for a sent copy, when the response arrived, its envelope id and its text;
 * for a received request, when this State answered and its response's
 * message id. The request itself (a serialized dx.InformationRequest:
 * kinds, details) and the answer text are sealed at rest with
 * case_store_seal(), associated data the column's label and the row's id in
 * hex; dates and State codes stay in the clear so that the deadline book
 * can be sorted without opening anything.
 *
 * Threads and ownership: the case store's thread (divexd's loop). Listings
 * read and open every matching row first and then call back once per row;
 * the row and its buffers belong to the store and are wiped after the
 * callback returns. Functions return 0 or a negative DX_E* code.
 */
#ifndef DIVEX_NODE_REQUEST_STORE_H
#define DIVEX_NODE_REQUEST_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "case_store.h"
#include "error.h"
#include "notice_rules.h"
#include "util.h"

#define REQUEST_STORE_ID_LEN 16
/* A serialized dx.InformationRequest, and an answer's text, in bytes. */
#define REQUEST_STORE_REQUEST_MAX (64 * 1024)
#define REQUEST_STORE_ANSWER_MAX (64 * 1024)
/* Rows one listing returns. */
#define REQUEST_STORE_LIST_MAX 10000

enum request_direction {
	REQUEST_SENT = 1,
	REQUEST_RECEIVED = 2,
};

struct request_row {
	uint8_t id[REQUEST_STORE_ID_LEN]; /* sent: the copy's message id; received: envelope id */
	uint8_t group[REQUEST_STORE_ID_LEN]; /* sent: the request id; received: the envelope id */
	enum request_direction direction;
	char peer[DX_STATE_LEN + 1]; /* sent: the State asked; received: the requester */
	char case_id[CASE_ID_MAX + 1];
	char respond_by[NOTICE_DATE_LEN + 1]; /* empty: no date asked */
	char day[NOTICE_DATE_LEN + 1];	      /* sent or received on */
	uint64_t created_ms;
	uint64_t answered_ms;			 /* 0 while awaiting an answer */
	uint8_t answer_id[REQUEST_STORE_ID_LEN]; /* sent: the response's envelope id; received: ours
						  */
	/* The serialized dx.InformationRequest, and (sent, answered) the answer with a NUL after
	 * it. */
	const uint8_t *request;
	size_t request_len;
	const char *answer;
	size_t answer_len;
};

/* Creates the table in the case store's database if it is not there yet. */
int request_store_init(struct case_store *cs) DX_MUST_CHECK;

/*
 * Records a row (request, request_len required; answer fields ignored;
 * created_ms taken from the store's clock). A row whose id is recorded
 * already is left as it is (a received request seen again after a restart)
 * and DX_OK is returned. DX_EINVAL for a bad date, state or case id,
 * DX_ETOOBIG for a request over REQUEST_STORE_REQUEST_MAX.
 */
int request_store_add(struct case_store *cs, const struct request_row *r) DX_MUST_CHECK;

/*
 * Records the answer to the row id: when (answered_ms), the other id
 * (answer_id) and, for a sent copy, the answer's text (may be NULL for a
 * received request). A later answer replaces an earlier one. DX_ENOENT when
 * there is no such row.
 */
int request_store_mark_answered(struct case_store *cs,
				const uint8_t id[static REQUEST_STORE_ID_LEN], uint64_t answered_ms,
				const uint8_t answer_id[static REQUEST_STORE_ID_LEN],
				const char *answer, size_t answer_len) DX_MUST_CHECK;

/*
 * Calls fn once per row, oldest first: rows of one direction (0: both) and
 * one case (case_id NULL or empty: every case). A non-zero return from fn
 * stops the listing and is returned.
 */
typedef int (*request_store_fn)(void *ctx, const struct request_row *r);
int request_store_list(struct case_store *cs, int direction, const char *case_id,
		       request_store_fn fn, void *ctx) DX_MUST_CHECK;

#endif
