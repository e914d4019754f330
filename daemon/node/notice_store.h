/*
 * notice_store.h: the rule 12 notices a State node keeps (docs/casework.md),
 * in a `notices` table of cases.db next to the cases (case_store.h).
 *
 * One row per copy: a notice this State sent to one implicated State (keyed
 * by that copy's message id, grouped under the notice id, the first copy's
 * message id), or a notice it received (keyed by the envelope id). Each row
 * records the case, the meeting and response-by dates, whether the notice
 * was late, and whether it has been answered: for a sent copy, when the
 * reply arrived, its envelope id and its text; for a received notice, when
 * this State replied and its reply's message id. The notice itself (a
 * serialized dx.Notice: meeting name, summary, late reason) and the reply
 * text are sealed at rest with case_store_seal(), associated data the
 * column's label and the row's id in hex; dates and states stay in the
 * clear so that the deadline book can be sorted without opening anything.
 *
 * Threads and ownership: the case store's thread (divexd's loop). Listings
 * read and open every matching row first and then call back once per row;
 * the row and its buffers belong to the store and are wiped after the
 * callback returns. Functions return 0 or a negative DX_E* code.
 */
#ifndef DIVEX_NODE_NOTICE_STORE_H
#define DIVEX_NODE_NOTICE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "case_store.h"
#include "error.h"
#include "notice_rules.h"
#include "util.h"

#define NOTICE_STORE_ID_LEN 16
/* A serialized dx.Notice, and a reply's text, in bytes. */
#define NOTICE_STORE_NOTICE_MAX (64 * 1024)
#define NOTICE_STORE_REPLY_MAX (64 * 1024)
/* Rows one listing returns. */
#define NOTICE_STORE_LIST_MAX 10000

enum notice_direction {
	NOTICE_SENT = 1,
	NOTICE_RECEIVED = 2,
};

struct notice_row {
	uint8_t id[NOTICE_STORE_ID_LEN];    /* sent: the copy's message id; received: envelope id */
	uint8_t group[NOTICE_STORE_ID_LEN]; /* sent: the notice id; received: the envelope id */
	enum notice_direction direction;
	char peer[DX_STATE_LEN + 1]; /* sent: the recipient; received: the sender */
	char case_id[CASE_ID_MAX + 1];
	char meeting_date[NOTICE_DATE_LEN + 1];
	char respond_by[NOTICE_DATE_LEN + 1];
	char sent_date[NOTICE_DATE_LEN + 1];
	int late; /* sent with a late reason */
	uint64_t created_ms;
	uint64_t replied_ms;		       /* 0 while awaiting a reply */
	uint8_t reply_id[NOTICE_STORE_ID_LEN]; /* sent: the reply's envelope id; received: ours */
	/* The serialized dx.Notice, and (sent, replied) the reply text with a NUL after it. */
	const uint8_t *notice;
	size_t notice_len;
	const char *reply;
	size_t reply_len;
};

/* Creates the table in the case store's database if it is not there yet. */
int notice_store_init(struct case_store *cs) DX_MUST_CHECK;

/*
 * Records a row (notice, notice_len required; reply fields ignored; created_ms
 * taken from the store's clock). A row whose id is recorded already is left
 * as it is (a received notice seen again after a restart) and DX_OK is
 * returned. DX_EINVAL for a bad date, state or case id, DX_ETOOBIG for a
 * notice over NOTICE_STORE_NOTICE_MAX.
 */
int notice_store_add(struct case_store *cs, const struct notice_row *r) DX_MUST_CHECK;

/*
 * Records the answer to the row id: when (replied_ms), the other id
 * (reply_id) and, for a sent copy, the reply's text (may be NULL for a
 * received notice). A later answer replaces an earlier one. DX_ENOENT when
 * there is no such row.
 */
int notice_store_mark_replied(struct case_store *cs, const uint8_t id[static NOTICE_STORE_ID_LEN],
			      uint64_t replied_ms,
			      const uint8_t reply_id[static NOTICE_STORE_ID_LEN], const char *reply,
			      size_t reply_len) DX_MUST_CHECK;

/*
 * Calls fn once per row, oldest first: rows of one direction (0: both) and
 * one case (case_id NULL or empty: every case). A non-zero return from fn
 * stops the listing and is returned.
 */
typedef int (*notice_store_fn)(void *ctx, const struct notice_row *r);
int notice_store_list(struct case_store *cs, int direction, const char *case_id, notice_store_fn fn,
		      void *ctx) DX_MUST_CHECK;

#endif
