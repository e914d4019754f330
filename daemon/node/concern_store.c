/*
 * concern_store.c: the `concerns` table of cases.db. See concern_store.h.
 *
 * The description, explanation and remedial measures are sealed under the
 * case store's key with one label per column and the row's id (32 hex
 * digits) as the row part of the associated data, so that a sealed value
 * moved to another row or column does not open.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "concern_store.h"
#include "db.h"

#define LABEL_DESCRIPTION "divex/v1/concerns/description"
#define LABEL_EXPLANATION "divex/v1/concerns/explanation"
#define LABEL_REMEDIAL "divex/v1/concerns/remedial"

/* direction: 1 raised, 2 received. explained_ms is 0 while unexplained. */
static const char SCHEMA[] =
	"CREATE TABLE IF NOT EXISTS concerns ("
	"  id BLOB PRIMARY KEY, direction INTEGER NOT NULL, peer TEXT NOT NULL,"
	"  envelope_id BLOB NOT NULL, dossier INTEGER NOT NULL, raised_ms INTEGER NOT NULL,"
	"  explained_ms INTEGER NOT NULL DEFAULT 0, description BLOB NOT NULL,"
	"  explanation BLOB, remedial BLOB);";

int concern_store_init(struct case_store *cs)
{
	return db_exec(case_store_db(cs), SCHEMA);
}


static int text_ok(const char *s, int required)
{
	if (s == NULL) {
		return !required;
	}
	size_t len = strlen(s);
	return len <= CONCERN_TEXT_MAX && (len > 0 || !required);
}

int concern_store_add(struct case_store *cs, const struct concern_row *r)
{
	char hex[2 * CONCERN_ID_LEN + 1];
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	sqlite3_stmt *s;
	if ((r->direction != CONCERN_RAISED && r->direction != CONCERN_RECEIVED) ||
	    !dx_state_valid(r->peer) || !text_ok(r->description, 1)) {
		return DX_EINVAL;
	}
	dx_hex(hex, r->id, CONCERN_ID_LEN);
	int rc = case_store_seal(cs, LABEL_DESCRIPTION, hex, (const uint8_t *)r->description,
				 strlen(r->description), &sealed, &sealed_len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = db_stmt(case_store_db(cs),
		     "INSERT INTO concerns (id, direction, peer, envelope_id, dossier, raised_ms,"
		     " description) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(id) DO NOTHING",
		     &s);
	if (rc == DX_OK) {
		sqlite3_bind_blob(s, 1, r->id, CONCERN_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int(s, 2, (int)r->direction);
		sqlite3_bind_text(s, 3, r->peer, -1, SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, r->envelope_id, CONCERN_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int(s, 5, r->dossier != 0);
		sqlite3_bind_int64(s, 6, case_store_ms(case_store_now(cs)));
		sqlite3_bind_blob(s, 7, sealed, (int)sealed_len, SQLITE_STATIC);
		int step = sqlite3_step(s);
		rc = step == SQLITE_DONE ? DX_OK : db_from_sqlite(step);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	free(sealed);
	return rc;
}

int concern_store_explain(struct case_store *cs, const uint8_t id[static CONCERN_ID_LEN],
			  uint64_t explained_ms, const char *explanation, const char *remedial)
{
	char hex[2 * CONCERN_ID_LEN + 1];
	uint8_t *se = NULL, *sr = NULL;
	size_t se_len = 0, sr_len = 0;
	sqlite3_stmt *s;
	if (!text_ok(explanation, 1) || !text_ok(remedial, 0) || explained_ms == 0) {
		return DX_EINVAL;
	}
	if (remedial == NULL) {
		remedial = "";
	}
	dx_hex(hex, id, CONCERN_ID_LEN);
	int rc = case_store_seal(cs, LABEL_EXPLANATION, hex, (const uint8_t *)explanation,
				 strlen(explanation), &se, &se_len);
	if (rc == DX_OK) {
		rc = case_store_seal(cs, LABEL_REMEDIAL, hex, (const uint8_t *)remedial,
				     strlen(remedial), &sr, &sr_len);
	}
	if (rc == DX_OK) {
		rc = db_stmt(
			case_store_db(cs),
			"UPDATE concerns SET explained_ms = ?2, explanation = ?3, remedial = ?4"
			" WHERE id = ?1",
			&s);
	}
	if (rc == DX_OK) {
		sqlite3_bind_blob(s, 1, id, CONCERN_ID_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, case_store_ms(explained_ms));
		sqlite3_bind_blob(s, 3, se, (int)se_len, SQLITE_STATIC);
		sqlite3_bind_blob(s, 4, sr, (int)sr_len, SQLITE_STATIC);
		int step = sqlite3_step(s);
		rc = step == SQLITE_DONE ? DX_OK : db_from_sqlite(step);
		if (rc == DX_OK && sqlite3_changes(db_handle(case_store_db(cs))) == 0) {
			rc = DX_ENOENT;
		}
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	free(se);
	free(sr);
	return rc;
}

/* A row read and opened, kept until every row is read. */
struct held {
	struct concern_row r;
	uint8_t *texts[3];
	size_t lens[3];
};

static void held_free(struct held *h, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < 3; k++) {
			if (h[i].texts[k] != NULL) {
				sodium_memzero(h[i].texts[k], h[i].lens[k]);
				free(h[i].texts[k]);
			}
		}
	}
	free(h);
}

static int open_row(struct case_store *cs, sqlite3_stmt *s, struct held *h)
{
	static const char *const labels[3] = { LABEL_DESCRIPTION, LABEL_EXPLANATION,
					       LABEL_REMEDIAL };
	char hex[2 * CONCERN_ID_LEN + 1];
	struct concern_row *r = &h->r;
	const char *peer = (const char *)sqlite3_column_text(s, 2);
	if (sqlite3_column_bytes(s, 0) != CONCERN_ID_LEN ||
	    sqlite3_column_bytes(s, 3) != CONCERN_ID_LEN || peer == NULL || !dx_state_valid(peer)) {
		return DX_EINTERNAL;
	}
	memcpy(r->id, sqlite3_column_blob(s, 0), CONCERN_ID_LEN);
	r->direction = (enum concern_direction)sqlite3_column_int(s, 1);
	memcpy(r->peer, peer, DX_STATE_LEN + 1);
	memcpy(r->envelope_id, sqlite3_column_blob(s, 3), CONCERN_ID_LEN);
	r->dossier = sqlite3_column_int(s, 4);
	r->raised_ms = (uint64_t)sqlite3_column_int64(s, 5);
	r->explained_ms = (uint64_t)sqlite3_column_int64(s, 6);
	dx_hex(hex, r->id, CONCERN_ID_LEN);
	for (int k = 0; k < 3; k++) {
		int col = 7 + k;
		if (sqlite3_column_type(s, col) == SQLITE_NULL) {
			continue;
		}
		int rc = case_store_unseal(cs, sqlite3_column_blob(s, col),
					   (size_t)sqlite3_column_bytes(s, col), labels[k], hex,
					   CONCERN_TEXT_MAX, &h->texts[k], &h->lens[k]);
		if (rc != DX_OK) {
			return rc;
		}
	}
	r->description = (const char *)h->texts[0];
	r->explanation = (const char *)h->texts[1];
	r->remedial = (const char *)h->texts[2];
	return r->description != NULL ? DX_OK : DX_EINTERNAL;
}

static int list(struct case_store *cs, const uint8_t *id, concern_store_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	struct held *h = NULL;
	size_t n = 0, cap = 0;
	int rc = db_stmt(case_store_db(cs),
			 id != NULL
				 ? "SELECT id, direction, peer, envelope_id, dossier, raised_ms,"
				   " explained_ms, description, explanation, remedial FROM concerns"
				   " WHERE id = ?1"
				 : "SELECT id, direction, peer, envelope_id, dossier, raised_ms,"
				   " explained_ms, description, explanation, remedial FROM concerns"
				   " ORDER BY raised_ms, id LIMIT 10000",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	if (id != NULL) {
		sqlite3_bind_blob(s, 1, id, CONCERN_ID_LEN, SQLITE_STATIC);
	}
	int step = SQLITE_DONE;
	while (rc == DX_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == cap) {
			size_t nc = cap == 0 ? 16 : 2 * cap;
			struct held *nh = realloc(h, nc * sizeof(*nh));
			if (nh == NULL) {
				rc = DX_ENOMEM;
				break;
			}
			h = nh;
			cap = nc;
		}
		memset(&h[n], 0, sizeof(h[n]));
		rc = open_row(cs, s, &h[n]);
		n++;
	}
	if (rc == DX_OK && step != SQLITE_DONE) {
		rc = db_from_sqlite(step);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == DX_OK && id != NULL && n == 0) {
		rc = DX_ENOENT;
	}
	for (size_t i = 0; rc == DX_OK && i < n; i++) {
		rc = fn(ctx, &h[i].r);
	}
	held_free(h, n);
	return rc;
}

int concern_store_get(struct case_store *cs, const uint8_t id[static CONCERN_ID_LEN],
		      concern_store_fn fn, void *ctx)
{
	return list(cs, id, fn, ctx);
}

int concern_store_list(struct case_store *cs, concern_store_fn fn, void *ctx)
{
	return list(cs, NULL, fn, ctx);
}
