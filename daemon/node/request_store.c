/*
 * request_store.c: the `requests` table of cases.db. See request_store.h.
 *
 * The request and the answer text are sealed under the case store's key with
 * one label per column and the row's id (32 hex digits) as the row part of
 * the associated data, so that a sealed value moved to another row or
 * column does not open.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "request_store.h"

#define LABEL_REQUEST "divex/v1/requests/request"
#define LABEL_ANSWER "divex/v1/requests/answer"

/*
 * direction: 1 sent, 2 received. respond_by is '' when no date was asked.
 * answered_ms is 0 while an answer is awaited; answer_id is then NULL.
 * request and answer are sealed (nonce || ciphertext).
 */
static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS requests ("
	"  id BLOB PRIMARY KEY, grp BLOB NOT NULL, direction INTEGER NOT NULL,"
	"  peer TEXT NOT NULL, case_id TEXT NOT NULL, respond_by TEXT NOT NULL,"
	"  day TEXT NOT NULL, created_ms INTEGER NOT NULL,"
	"  answered_ms INTEGER NOT NULL DEFAULT 0, answer_id BLOB,"
	"  request BLOB NOT NULL, answer BLOB);"
	"CREATE INDEX IF NOT EXISTS requests_case ON requests(case_id, created_ms);";

#define COLS                                                                                       \
	"id, grp, direction, peer, case_id, respond_by, day, created_ms, answered_ms, answer_id, " \
	"request, answer"

int request_store_init(struct case_store *cs)
{
	return db_exec(case_store_db(cs), SCHEMA);
}

static void row_hex(char out[static 2 * REQUEST_STORE_ID_LEN + 1],
		    const uint8_t id[static REQUEST_STORE_ID_LEN])
{
	dx_hex(out, id, REQUEST_STORE_ID_LEN);
}

static int date_valid(const char *s)
{
	int64_t day;
	return notice_date_parse(s, &day) == DX_OK;
}

int request_store_add(struct case_store *cs, const struct request_row *r)
{
	char hex[2 * REQUEST_STORE_ID_LEN + 1];
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	sqlite3_stmt *s;
	if ((r->direction != REQUEST_SENT && r->direction != REQUEST_RECEIVED) ||
	    !dx_state_valid(r->peer) || !case_store_id_valid(r->case_id) ||
	    (r->respond_by[0] != '\0' && !date_valid(r->respond_by)) || !date_valid(r->day) ||
	    r->request == NULL) {
		return DX_EINVAL;
	}
	if (r->request_len > REQUEST_STORE_REQUEST_MAX) {
		return DX_ETOOBIG;
	}
	row_hex(hex, r->id);
	int rc = case_store_seal(cs, LABEL_REQUEST, hex, r->request, r->request_len, &sealed,
				 &sealed_len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = db_stmt(case_store_db(cs),
		     "INSERT INTO requests (id, grp, direction, peer, case_id, respond_by, day, "
		     "created_ms, request) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
		     "ON CONFLICT(id) DO NOTHING",
		     &s);
	if (rc == DX_OK) {
		sqlite3_bind_blob(s, 1, r->id, REQUEST_STORE_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, r->group, REQUEST_STORE_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, (int)r->direction);
		sqlite3_bind_text(s, 4, r->peer, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, r->case_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, r->respond_by, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, r->day, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 8, case_store_ms(case_store_now(cs)));
		sqlite3_bind_blob(s, 9, sealed, (int)sealed_len, SQLITE_STATIC);
		int step = sqlite3_step(s);
		rc = step == SQLITE_DONE ? DX_OK : db_from_sqlite(step);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	free(sealed);
	return rc;
}

int request_store_mark_answered(struct case_store *cs,
				const uint8_t id[static REQUEST_STORE_ID_LEN], uint64_t answered_ms,
				const uint8_t answer_id[static REQUEST_STORE_ID_LEN],
				const char *answer, size_t answer_len)
{
	char hex[2 * REQUEST_STORE_ID_LEN + 1];
	if (answer != NULL && answer_len > REQUEST_STORE_ANSWER_MAX) {
		return DX_ETOOBIG;
	}
	row_hex(hex, id);
	return case_store_set_answer(
		cs,
		"UPDATE requests SET answered_ms = ?2, answer_id = ?3, answer = ?4 WHERE id = ?1",
		LABEL_ANSWER, hex, id, answer_id, REQUEST_STORE_ID_LEN, answered_ms, answer,
		answer_len);
}

/* ---- listing ---- */

static void row_free(struct request_row *r)
{
	if (r->request != NULL) {
		sodium_memzero((void *)r->request, r->request_len);
		free((void *)r->request);
	}
	if (r->answer != NULL) {
		sodium_memzero((void *)r->answer, r->answer_len);
		free((void *)r->answer);
	}
	sodium_memzero(r, sizeof(*r));
}

static int read_row(struct case_store *cs, sqlite3_stmt *s, struct request_row *r)
{
	char hex[2 * REQUEST_STORE_ID_LEN + 1];
	uint8_t *request = NULL, *answer = NULL;
	size_t request_len = 0, answer_len = 0;
	int rc;
	memset(r, 0, sizeof(*r));
	if ((rc = case_store_col_id(s, 0, r->id, REQUEST_STORE_ID_LEN)) != DX_OK ||
	    (rc = case_store_col_id(s, 1, r->group, REQUEST_STORE_ID_LEN)) != DX_OK ||
	    (rc = case_store_col_text(s, 3, r->peer, DX_STATE_LEN)) != DX_OK ||
	    (rc = case_store_col_text(s, 4, r->case_id, CASE_ID_MAX)) != DX_OK ||
	    (rc = case_store_col_text(s, 5, r->respond_by, NOTICE_DATE_LEN)) != DX_OK ||
	    (rc = case_store_col_text(s, 6, r->day, NOTICE_DATE_LEN)) != DX_OK) {
		return rc;
	}
	int dir = sqlite3_column_int(s, 2);
	if (dir != REQUEST_SENT && dir != REQUEST_RECEIVED) {
		return DX_EPARSE;
	}
	r->direction = (enum request_direction)dir;
	sqlite3_int64 c = sqlite3_column_int64(s, 7), a = sqlite3_column_int64(s, 8);
	r->created_ms = c > 0 ? (uint64_t)c : 0;
	r->answered_ms = a > 0 ? (uint64_t)a : 0;
	if (r->answered_ms != 0 &&
	    (rc = case_store_col_id(s, 9, r->answer_id, REQUEST_STORE_ID_LEN)) != DX_OK) {
		return rc;
	}
	row_hex(hex, r->id);
	if ((rc = case_store_col_sealed(cs, s, 10, LABEL_REQUEST, hex, REQUEST_STORE_REQUEST_MAX,
					&request, &request_len)) != DX_OK) {
		return rc;
	}
	if (request == NULL) {
		return DX_EDECRYPT;
	}
	r->request = request;
	r->request_len = request_len;
	if ((rc = case_store_col_sealed(cs, s, 11, LABEL_ANSWER, hex, REQUEST_STORE_ANSWER_MAX,
					&answer, &answer_len)) != DX_OK) {
		row_free(r);
		return rc;
	}
	r->answer = (const char *)answer;
	r->answer_len = answer_len;
	return DX_OK;
}

static int collect(struct case_store *cs, sqlite3_stmt *s, struct request_row **out, size_t *n_out)
{
	struct request_row *v = NULL;
	size_t n = 0, cap = 0;
	int rc = DX_OK, step;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == REQUEST_STORE_LIST_MAX) {
			rc = DX_ETOOBIG;
			break;
		}
		if (n == cap) {
			size_t ncap = cap == 0 ? 16 : 2 * cap;
			struct request_row *nv = realloc(v, ncap * sizeof(*nv));
			if (nv == NULL) {
				rc = DX_ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if ((rc = read_row(cs, s, &v[n])) != DX_OK) {
			break;
		}
		n++;
	}
	if (rc == DX_OK && step != SQLITE_DONE) {
		rc = db_from_sqlite(step);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != DX_OK) {
		for (size_t i = 0; i < n; i++) {
			row_free(&v[i]);
		}
		free(v);
		return rc;
	}
	*out = v;
	*n_out = n;
	return DX_OK;
}

int request_store_list(struct case_store *cs, int direction, const char *case_id,
		       request_store_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	struct request_row *v = NULL;
	size_t n = 0;
	int rc = db_stmt(case_store_db(cs),
			 "SELECT " COLS " FROM requests WHERE (?1 = 0 OR direction = ?1) "
			 "AND (?2 IS NULL OR case_id = ?2) ORDER BY created_ms, rowid",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, direction);
	if (case_id != NULL && case_id[0] != '\0') {
		sqlite3_bind_text(s, 2, case_id, -1, SQLITE_STATIC);
	} else {
		sqlite3_bind_null(s, 2);
	}
	if ((rc = collect(cs, s, &v, &n)) != DX_OK) {
		return rc;
	}
	for (size_t i = 0; i < n; i++) {
		if (rc == DX_OK) {
			rc = fn(ctx, &v[i]);
		}
		row_free(&v[i]);
	}
	free(v);
	return rc;
}
