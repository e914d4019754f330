/*
 * notice_store.c: the `notices` table of cases.db. See notice_store.h.
 *
 * The notice and the reply text are sealed under the case store's key with
 * one label per column and the row's id (32 hex digits) as the row part of
 * the associated data, so that a sealed value moved to another row or
 * column does not open.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "notice_store.h"

#define LABEL_NOTICE "divex/v1/notices/notice"
#define LABEL_REPLY "divex/v1/notices/reply"

/*
 * direction: 1 sent, 2 received. replied_ms is 0 while a reply is awaited;
 * reply_id is then NULL. notice and reply are sealed (nonce || ciphertext).
 */
static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS notices ("
	"  id BLOB PRIMARY KEY, grp BLOB NOT NULL, direction INTEGER NOT NULL,"
	"  peer TEXT NOT NULL, case_id TEXT NOT NULL, meeting_date TEXT NOT NULL,"
	"  respond_by TEXT NOT NULL, sent_date TEXT NOT NULL, late INTEGER NOT NULL,"
	"  created_ms INTEGER NOT NULL, replied_ms INTEGER NOT NULL DEFAULT 0,"
	"  reply_id BLOB, notice BLOB NOT NULL, reply BLOB);"
	"CREATE INDEX IF NOT EXISTS notices_case ON notices(case_id, created_ms);";

#define COLS                                                                                       \
	"id, grp, direction, peer, case_id, meeting_date, respond_by, sent_date, late, "           \
	"created_ms, replied_ms, reply_id, notice, reply"

int notice_store_init(struct case_store *cs)
{
	return db_exec(case_store_db(cs), SCHEMA);
}

static void row_hex(char out[static 2 * NOTICE_STORE_ID_LEN + 1],
		    const uint8_t id[static NOTICE_STORE_ID_LEN])
{
	dx_hex(out, id, NOTICE_STORE_ID_LEN);
}

static int date_valid(const char *s)
{
	int64_t day;
	return notice_date_parse(s, &day) == DX_OK;
}

int notice_store_add(struct case_store *cs, const struct notice_row *r)
{
	char hex[2 * NOTICE_STORE_ID_LEN + 1];
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	sqlite3_stmt *s;
	if ((r->direction != NOTICE_SENT && r->direction != NOTICE_RECEIVED) ||
	    !dx_state_valid(r->peer) || !case_store_id_valid(r->case_id) ||
	    !date_valid(r->meeting_date) || !date_valid(r->respond_by) ||
	    !date_valid(r->sent_date) || r->notice == NULL) {
		return DX_EINVAL;
	}
	if (r->notice_len > NOTICE_STORE_NOTICE_MAX) {
		return DX_ETOOBIG;
	}
	row_hex(hex, r->id);
	int rc = case_store_seal(cs, LABEL_NOTICE, hex, r->notice, r->notice_len, &sealed,
				 &sealed_len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = db_stmt(case_store_db(cs),
		     "INSERT INTO notices (id, grp, direction, peer, case_id, meeting_date, "
		     "respond_by, sent_date, late, created_ms, notice) "
		     "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) "
		     "ON CONFLICT(id) DO NOTHING",
		     &s);
	if (rc == DX_OK) {
		sqlite3_bind_blob(s, 1, r->id, NOTICE_STORE_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, r->group, NOTICE_STORE_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int(s, 3, (int)r->direction);
		sqlite3_bind_text(s, 4, r->peer, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 5, r->case_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 6, r->meeting_date, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 7, r->respond_by, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 8, r->sent_date, -1, SQLITE_STATIC);
		sqlite3_bind_int(s, 9, r->late != 0);
		sqlite3_bind_int64(s, 10, case_store_ms(case_store_now(cs)));
		sqlite3_bind_blob(s, 11, sealed, (int)sealed_len, SQLITE_STATIC);
		int step = sqlite3_step(s);
		rc = step == SQLITE_DONE ? DX_OK : db_from_sqlite(step);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	free(sealed);
	return rc;
}

int notice_store_mark_replied(struct case_store *cs, const uint8_t id[static NOTICE_STORE_ID_LEN],
			      uint64_t replied_ms,
			      const uint8_t reply_id[static NOTICE_STORE_ID_LEN], const char *reply,
			      size_t reply_len)
{
	char hex[2 * NOTICE_STORE_ID_LEN + 1];
	if (reply != NULL && reply_len > NOTICE_STORE_REPLY_MAX) {
		return DX_ETOOBIG;
	}
	row_hex(hex, id);
	return case_store_set_answer(
		cs, "UPDATE notices SET replied_ms = ?2, reply_id = ?3, reply = ?4 WHERE id = ?1",
		LABEL_REPLY, hex, id, reply_id, NOTICE_STORE_ID_LEN, replied_ms, reply, reply_len);
}

/* ---- listing ---- */

static void row_free(struct notice_row *r)
{
	if (r->notice != NULL) {
		sodium_memzero((void *)r->notice, r->notice_len);
		free((void *)r->notice);
	}
	if (r->reply != NULL) {
		sodium_memzero((void *)r->reply, r->reply_len);
		free((void *)r->reply);
	}
	sodium_memzero(r, sizeof(*r));
}

static int read_row(struct case_store *cs, sqlite3_stmt *s, struct notice_row *r)
{
	char hex[2 * NOTICE_STORE_ID_LEN + 1];
	uint8_t *notice = NULL, *reply = NULL;
	size_t notice_len = 0, reply_len = 0;
	int rc;
	memset(r, 0, sizeof(*r));
	if ((rc = case_store_col_id(s, 0, r->id, NOTICE_STORE_ID_LEN)) != DX_OK ||
	    (rc = case_store_col_id(s, 1, r->group, NOTICE_STORE_ID_LEN)) != DX_OK ||
	    (rc = case_store_col_text(s, 3, r->peer, DX_STATE_LEN)) != DX_OK ||
	    (rc = case_store_col_text(s, 4, r->case_id, CASE_ID_MAX)) != DX_OK ||
	    (rc = case_store_col_text(s, 5, r->meeting_date, NOTICE_DATE_LEN)) != DX_OK ||
	    (rc = case_store_col_text(s, 6, r->respond_by, NOTICE_DATE_LEN)) != DX_OK ||
	    (rc = case_store_col_text(s, 7, r->sent_date, NOTICE_DATE_LEN)) != DX_OK) {
		return rc;
	}
	int dir = sqlite3_column_int(s, 2);
	if (dir != NOTICE_SENT && dir != NOTICE_RECEIVED) {
		return DX_EPARSE;
	}
	r->direction = (enum notice_direction)dir;
	r->late = sqlite3_column_int(s, 8) != 0;
	sqlite3_int64 c = sqlite3_column_int64(s, 9), p = sqlite3_column_int64(s, 10);
	r->created_ms = c > 0 ? (uint64_t)c : 0;
	r->replied_ms = p > 0 ? (uint64_t)p : 0;
	if (r->replied_ms != 0 &&
	    (rc = case_store_col_id(s, 11, r->reply_id, NOTICE_STORE_ID_LEN)) != DX_OK) {
		return rc;
	}
	row_hex(hex, r->id);
	if ((rc = case_store_col_sealed(cs, s, 12, LABEL_NOTICE, hex, NOTICE_STORE_NOTICE_MAX,
					&notice, &notice_len)) != DX_OK) {
		return rc;
	}
	if (notice == NULL) {
		return DX_EDECRYPT;
	}
	r->notice = notice;
	r->notice_len = notice_len;
	if ((rc = case_store_col_sealed(cs, s, 13, LABEL_REPLY, hex, NOTICE_STORE_REPLY_MAX, &reply,
					&reply_len)) != DX_OK) {
		row_free(r);
		return rc;
	}
	r->reply = (const char *)reply;
	r->reply_len = reply_len;
	return DX_OK;
}

static int collect(struct case_store *cs, sqlite3_stmt *s, struct notice_row **out, size_t *n_out)
{
	struct notice_row *v = NULL;
	size_t n = 0, cap = 0;
	int rc = DX_OK, step;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == NOTICE_STORE_LIST_MAX) {
			rc = DX_ETOOBIG;
			break;
		}
		if (n == cap) {
			size_t ncap = cap == 0 ? 16 : 2 * cap;
			struct notice_row *nv = realloc(v, ncap * sizeof(*nv));
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

int notice_store_list(struct case_store *cs, int direction, const char *case_id, notice_store_fn fn,
		      void *ctx)
{
	sqlite3_stmt *s;
	struct notice_row *v = NULL;
	size_t n = 0;
	int rc = db_stmt(case_store_db(cs),
			 "SELECT " COLS " FROM notices WHERE (?1 = 0 OR direction = ?1) "
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
