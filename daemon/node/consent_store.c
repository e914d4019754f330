/*
 * consent_store.c: consent requests and decisions in the case database.
 * See consent_store.h.
 *
 * Row ids for the associated data of sealed values: "s:" or "r:" (sent,
 * received) and the hex id for a request; the hex of a 16-byte BLAKE2b hash
 * of the signed bytes for a decision. A sealed value copied to another row
 * or column therefore fails to open.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "consent_store.h"
#include "db.h"
#include "util.h"

/*
 * consent_requests: direction 1 sent, 2 received; id the message id (sent)
 * or the envelope id (received); envelope_id NULL until known; outcome 0
 * while pending. consent_decisions: hash is BLAKE2b-128 of the decision.
 */
static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS consent_requests ("
	"  direction INTEGER NOT NULL, id BLOB NOT NULL, envelope_id BLOB, peer TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL, outcome INTEGER NOT NULL DEFAULT 0,"
	"  decided_ms INTEGER NOT NULL DEFAULT 0, request BLOB NOT NULL,"
	"  PRIMARY KEY (direction, id));"
	"CREATE TABLE IF NOT EXISTS consent_decisions ("
	"  hash BLOB PRIMARY KEY, direction INTEGER NOT NULL, provider TEXT NOT NULL,"
	"  recipient TEXT NOT NULL, request_envelope_id BLOB NOT NULL,"
	"  decided_ms INTEGER NOT NULL, stored_ms INTEGER NOT NULL, decision BLOB NOT NULL);";

#define LABEL_REQUEST "divex/v1/consent/request"
#define LABEL_DECISION "divex/v1/consent/decision"
#define ROW_ID_MAX (2 + 2 * CONSENT_STORE_ID_LEN + 1)

const char *consent_direction_name(int direction)
{
	return direction == CONSENT_SENT ? "sent" : "received";
}

int consent_store_init(struct case_store *cs)
{
	return db_exec(case_store_db(cs), SCHEMA);
}

static void wipe_free(uint8_t *p, size_t len)
{
	if (p != NULL) {
		sodium_memzero(p, len);
		free(p);
	}
}

static int valid_direction(int direction)
{
	return direction == CONSENT_SENT || direction == CONSENT_RECEIVED;
}

static void request_row_id(char out[static ROW_ID_MAX], int direction, const uint8_t *id)
{
	out[0] = direction == CONSENT_SENT ? 's' : 'r';
	out[1] = ':';
	dx_hex(out + 2, id, CONSENT_STORE_ID_LEN);
}


static int text_ok(const char *s, size_t max)
{
	return roster_text_valid(s, max);
}

int consent_request_check(const uint8_t *buf, size_t len, ProtobufCMessage **msg_out)
{
	ProtobufCMessage *m = NULL;
	int rc = proto_unpack_strict(&dx__consent_request__descriptor, buf, len,
				     CONSENT_REQUEST_MAX, &m);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__ConsentRequest *r = (const Dx__ConsentRequest *)m;
	int disclosure = r->purpose == DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY;
	rc = DX_EPARSE;
	if (r->purpose < DX__CONSENT_PURPOSE__OPERATIONAL_USE ||
	    r->purpose > DX__CONSENT_PURPOSE__FURTHER_DISSEMINATION ||
	    !text_ok(r->body, CONSENT_BODY_MAX) || (r->body[0] != '\0') != disclosure ||
	    !text_ok(r->reason, CONSENT_REASON_MAX) || r->n_item_hashes == 0 ||
	    r->n_item_hashes > CONSENT_MAX_ITEMS || r->n_item_envelope_ids != r->n_item_hashes) {
		goto out;
	}
	for (size_t i = 0; i < r->n_item_hashes; i++) {
		if (r->item_hashes[i].len != CONSENT_ITEM_HASH_LEN ||
		    r->item_envelope_ids[i].len != CONSENT_REQUEST_ID_LEN) {
			goto out;
		}
	}
	rc = DX_OK;
out:
	if (rc == DX_OK && msg_out != NULL) {
		*msg_out = m;
	} else {
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return rc;
}

static int step_done(sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	sqlite3_reset(s);
	if (rc == SQLITE_DONE) {
		return DX_OK;
	}
	return (rc & 0xff) == SQLITE_CONSTRAINT ? DX_EEXIST : db_from_sqlite(rc);
}

int consent_store_request_add(struct case_store *cs, int direction,
			      const uint8_t id[static CONSENT_STORE_ID_LEN], const char *peer,
			      const uint8_t *request, size_t len)
{
	char row[ROW_ID_MAX];
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	sqlite3_stmt *s;
	if (!valid_direction(direction) || !dx_state_valid(peer)) {
		return DX_EINVAL;
	}
	int rc = consent_request_check(request, len, NULL);
	if (rc != DX_OK) {
		return rc;
	}
	request_row_id(row, direction, id);
	if ((rc = case_store_seal(cs, LABEL_REQUEST, row, request, len, &sealed, &sealed_len)) !=
	    DX_OK) {
		return rc;
	}
	rc = db_stmt(case_store_db(cs),
		     "INSERT INTO consent_requests (direction, id, envelope_id, peer, created_ms, "
		     "request) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
		     &s);
	if (rc == DX_OK) {
		sqlite3_bind_int(s, 1, direction);
		sqlite3_bind_blob(s, 2, id, CONSENT_STORE_ID_LEN, SQLITE_STATIC);
		if (direction == CONSENT_RECEIVED) {
			sqlite3_bind_blob(s, 3, id, CONSENT_STORE_ID_LEN, SQLITE_STATIC);
		}
		sqlite3_bind_text(s, 4, peer, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, case_store_ms(case_store_now(cs)));
		sqlite3_bind_blob(s, 6, sealed, (int)sealed_len, SQLITE_STATIC);
		rc = step_done(s);
	}
	free(sealed);
	return rc;
}

static int changed_one(struct case_store *cs, int rc)
{
	if (rc == DX_OK && sqlite3_changes(db_handle(case_store_db(cs))) == 0) {
		return DX_ENOENT;
	}
	return rc;
}

int consent_store_request_set_envelope(struct case_store *cs, int direction,
				       const uint8_t id[static CONSENT_STORE_ID_LEN],
				       const uint8_t envelope_id[static CONSENT_STORE_ID_LEN])
{
	sqlite3_stmt *s;
	int rc = db_stmt(case_store_db(cs),
			 "UPDATE consent_requests SET envelope_id = ?3 WHERE direction = ?1 AND "
			 "id = ?2",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, direction);
	sqlite3_bind_blob(s, 2, id, CONSENT_STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, envelope_id, CONSENT_STORE_ID_LEN, SQLITE_STATIC);
	return changed_one(cs, step_done(s));
}

/* The order of consent_allows() for decisions of the same time: higher is stricter. */
static int strictness(int outcome)
{
	switch (outcome) {
	case DX__CONSENT_OUTCOME__REVOKED:
		return 4;
	case DX__CONSENT_OUTCOME__REFUSED:
		return 3;
	case DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS:
		return 2;
	default:
		return 1;
	}
}

int consent_store_request_decided(struct case_store *cs, int direction,
				  const uint8_t id[static CONSENT_STORE_ID_LEN], int outcome,
				  uint64_t decided_ms)
{
	sqlite3_stmt *s;
	if (outcome < DX__CONSENT_OUTCOME__GRANTED || outcome > DX__CONSENT_OUTCOME__REVOKED) {
		return DX_EINVAL;
	}
	int rc = db_stmt(case_store_db(cs),
			 "SELECT outcome, decided_ms FROM consent_requests WHERE direction = ?1 "
			 "AND id = ?2",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, direction);
	sqlite3_bind_blob(s, 2, id, CONSENT_STORE_ID_LEN, SQLITE_STATIC);
	int step = sqlite3_step(s);
	int held = step == SQLITE_ROW ? sqlite3_column_int(s, 0) : 0;
	uint64_t held_ms = step == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 1) : 0;
	sqlite3_reset(s);
	if (step == SQLITE_DONE) {
		return DX_ENOENT;
	}
	if (step != SQLITE_ROW) {
		return db_from_sqlite(step);
	}
	if (held != 0 && (held_ms > decided_ms ||
			  (held_ms == decided_ms && strictness(held) >= strictness(outcome)))) {
		return DX_OK;
	}
	if ((rc = db_stmt(case_store_db(cs),
			  "UPDATE consent_requests SET outcome = ?3, decided_ms = ?4 WHERE "
			  "direction = ?1 AND id = ?2",
			  &s)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, direction);
	sqlite3_bind_blob(s, 2, id, CONSENT_STORE_ID_LEN, SQLITE_STATIC);
	sqlite3_bind_int(s, 3, outcome);
	sqlite3_bind_int64(s, 4, case_store_ms(decided_ms));
	return step_done(s);
}

/* ---- listings: rows read and opened first, then called back ---- */

struct rows {
	void *v;
	uint8_t **bufs;
	size_t *lens;
	size_t n, cap, size;
};

static void *rows_next(struct rows *r)
{
	if (r->n == r->cap) {
		size_t cap = r->cap == 0 ? 16 : 2 * r->cap;
		void *v = realloc(r->v, cap * r->size);
		if (v == NULL) {
			return NULL;
		}
		r->v = v;
		uint8_t **bufs = realloc(r->bufs, cap * sizeof(*bufs));
		if (bufs == NULL) {
			return NULL;
		}
		r->bufs = bufs;
		size_t *lens = realloc(r->lens, cap * sizeof(*lens));
		if (lens == NULL) {
			return NULL;
		}
		r->lens = lens;
		r->cap = cap;
	}
	void *row = (uint8_t *)r->v + r->n * r->size;
	memset(row, 0, r->size);
	r->bufs[r->n] = NULL;
	r->lens[r->n] = 0;
	return row;
}

static void rows_free(struct rows *r)
{
	for (size_t i = 0; i < r->n; i++) {
		wipe_free(r->bufs[i], r->lens[i]);
	}
	free(r->v);
	free(r->bufs);
	free(r->lens);
}

/* Opens the sealed column col of the current row into rows' next buffer. */
static int open_col(struct case_store *cs, struct rows *r, sqlite3_stmt *s, int col,
		    const char *label, const char *row_id, size_t max)
{
	if (sqlite3_column_type(s, col) != SQLITE_BLOB) {
		return DX_EDECRYPT;
	}
	return case_store_unseal(cs, sqlite3_column_blob(s, col),
				 (size_t)sqlite3_column_bytes(s, col), label, row_id, max,
				 &r->bufs[r->n], &r->lens[r->n]);
}

static int blob16(sqlite3_stmt *s, int col, uint8_t out[static 16])
{
	if (sqlite3_column_type(s, col) != SQLITE_BLOB || sqlite3_column_bytes(s, col) != 16) {
		return 0;
	}
	memcpy(out, sqlite3_column_blob(s, col), 16);
	return 1;
}

static void copy_state(char out[static DX_STATE_LEN + 1], sqlite3_stmt *s, int col)
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	snprintf(out, DX_STATE_LEN + 1, "%s", t != NULL ? t : "");
}

int consent_store_request_list(struct case_store *cs, int direction, consent_request_fn fn,
			       void *ctx)
{
	struct rows r = { .size = sizeof(struct consent_request_row) };
	sqlite3_stmt *s;
	int rc =
		db_stmt(case_store_db(cs),
			"SELECT direction, id, envelope_id, peer, created_ms, outcome, decided_ms, "
			"request FROM consent_requests WHERE ?1 = 0 OR direction = ?1 "
			"ORDER BY created_ms, rowid LIMIT ?2",
			&s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, direction);
	sqlite3_bind_int(s, 2, CONSENT_STORE_LIST_MAX);
	int step;
	while (rc == DX_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct consent_request_row *row = rows_next(&r);
		char rid[ROW_ID_MAX];
		if (row == NULL) {
			rc = DX_ENOMEM;
			break;
		}
		row->direction = sqlite3_column_int(s, 0);
		if (!valid_direction(row->direction) || !blob16(s, 1, row->id)) {
			rc = DX_EDECRYPT;
			break;
		}
		row->has_envelope = blob16(s, 2, row->envelope_id);
		copy_state(row->peer, s, 3);
		row->created_ms = (uint64_t)sqlite3_column_int64(s, 4);
		row->outcome = sqlite3_column_int(s, 5);
		row->decided_ms = (uint64_t)sqlite3_column_int64(s, 6);
		request_row_id(rid, row->direction, row->id);
		rc = open_col(cs, &r, s, 7, LABEL_REQUEST, rid, CONSENT_REQUEST_MAX);
		if (rc == DX_OK) {
			r.n++;
		}
	}
	if (rc == DX_OK && step != SQLITE_DONE) {
		rc = db_from_sqlite(step);
	}
	sqlite3_reset(s);
	for (size_t i = 0; rc == DX_OK && i < r.n; i++) {
		struct consent_request_row *row = (struct consent_request_row *)r.v + i;
		row->request = r.bufs[i];
		row->request_len = r.lens[i];
		rc = fn(ctx, row);
	}
	rows_free(&r);
	return rc;
}

static void decision_hash(uint8_t out[static CONSENT_STORE_ID_LEN], const uint8_t *d, size_t len)
{
	crypto_generichash(out, CONSENT_STORE_ID_LEN, d, len, NULL, 0);
}

int consent_store_decision_add(struct case_store *cs, int direction, const char *provider,
			       const char *recipient,
			       const uint8_t request_envelope_id[static CONSENT_REQUEST_ID_LEN],
			       uint64_t decided_ms, const uint8_t *decision, size_t len)
{
	uint8_t hash[CONSENT_STORE_ID_LEN], *sealed = NULL;
	char rid[2 * CONSENT_STORE_ID_LEN + 1];
	size_t sealed_len = 0;
	sqlite3_stmt *s;
	if (!valid_direction(direction) || !dx_state_valid(provider) ||
	    !dx_state_valid(recipient) || len == 0 || len > CONSENT_DECISION_MAX) {
		return DX_EINVAL;
	}
	decision_hash(hash, decision, len);
	dx_hex(rid, hash, sizeof(hash));
	int rc = case_store_seal(cs, LABEL_DECISION, rid, decision, len, &sealed, &sealed_len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = db_stmt(case_store_db(cs),
		     "INSERT OR IGNORE INTO consent_decisions (hash, direction, provider, "
		     "recipient, request_envelope_id, decided_ms, stored_ms, decision) VALUES "
		     "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
		     &s);
	if (rc == DX_OK) {
		sqlite3_bind_blob(s, 1, hash, sizeof(hash), SQLITE_STATIC);
		sqlite3_bind_int(s, 2, direction);
		sqlite3_bind_text(s, 3, provider, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, recipient, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 5, request_envelope_id, CONSENT_REQUEST_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(s, 6, case_store_ms(decided_ms));
		sqlite3_bind_int64(s, 7, case_store_ms(case_store_now(cs)));
		sqlite3_bind_blob(s, 8, sealed, (int)sealed_len, SQLITE_STATIC);
		rc = step_done(s);
	}
	free(sealed);
	return rc;
}

int consent_store_decision_list(struct case_store *cs, int direction, const char *provider,
				consent_decision_fn fn, void *ctx)
{
	struct rows r = { .size = sizeof(struct consent_decision_row) };
	sqlite3_stmt *s;
	int rc = db_stmt(case_store_db(cs),
			 "SELECT hash, direction, provider, recipient, request_envelope_id, "
			 "decided_ms, stored_ms, decision FROM consent_decisions WHERE (?1 = 0 OR "
			 "direction = ?1) AND (?2 IS NULL OR provider = ?2) "
			 "ORDER BY decided_ms, rowid LIMIT ?3",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, direction);
	if (provider != NULL) {
		sqlite3_bind_text(s, 2, provider, -1, SQLITE_STATIC);
	}
	sqlite3_bind_int(s, 3, CONSENT_STORE_LIST_MAX);
	int step;
	while (rc == DX_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		struct consent_decision_row *row = rows_next(&r);
		uint8_t hash[CONSENT_STORE_ID_LEN];
		char rid[2 * CONSENT_STORE_ID_LEN + 1];
		if (row == NULL) {
			rc = DX_ENOMEM;
			break;
		}
		row->direction = sqlite3_column_int(s, 1);
		if (!blob16(s, 0, hash) || !valid_direction(row->direction) ||
		    !blob16(s, 4, row->request_envelope_id)) {
			rc = DX_EDECRYPT;
			break;
		}
		copy_state(row->provider, s, 2);
		copy_state(row->recipient, s, 3);
		row->decided_ms = (uint64_t)sqlite3_column_int64(s, 5);
		row->stored_ms = (uint64_t)sqlite3_column_int64(s, 6);
		dx_hex(rid, hash, sizeof(hash));
		rc = open_col(cs, &r, s, 7, LABEL_DECISION, rid, CONSENT_DECISION_MAX);
		if (rc == DX_OK) {
			r.n++;
		}
	}
	if (rc == DX_OK && step != SQLITE_DONE) {
		rc = db_from_sqlite(step);
	}
	sqlite3_reset(s);
	for (size_t i = 0; rc == DX_OK && i < r.n; i++) {
		struct consent_decision_row *row = (struct consent_decision_row *)r.v + i;
		row->decision = r.bufs[i];
		row->decision_len = r.lens[i];
		rc = fn(ctx, row);
	}
	rows_free(&r);
	return rc;
}

/* ---- the receiving node's check ---- */

int consent_store_check_decision(const uint8_t *buf, size_t len, const struct roster_entry *e,
				 const char *self, consent_item_fn is_item, void *ctx,
				 struct consent_decision **out)
{
	struct consent_decision *d = NULL;
	int rc = consent_decision_verify_entry(buf, len, e, &d);
	if (rc != DX_OK) {
		return rc;
	}
	if (strcmp(d->provider, e->state) != 0 || strcmp(d->recipient, self) != 0) {
		rc = DX_ESENDER;
	}
	for (size_t i = 0; rc == DX_OK && i < d->n_items; i++) {
		if (is_item(ctx, d->items[i]) != 1) {
			rc = DX_ESENDER;
		}
	}
	if (rc != DX_OK) {
		consent_decision_free(d);
		return rc;
	}
	*out = d;
	return DX_OK;
}
