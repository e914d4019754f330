/*
 * case_store.c: the node's cases, in <home>/cases.db. See case_store.h.
 *
 * A sealed column holds a random 24-byte nonce followed by the
 * XChaCha20-Poly1305 ciphertext of the value; the associated data is the
 * column's label, a 0x00 byte and the case id, so that a sealed title or
 * note copied into another case or column fails to open instead of showing
 * the wrong content.
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "canon.h"
#include "case_store.h"
#include "casework.pb-c.h"
#include "db.h"
#include "util.h"

/*
 * Schema, version 1. cases: one row per case, keyed by the case id. open is
 * 1 or 0; created_ms and updated_ms are Unix milliseconds. title and note
 * are sealed (nonce || ciphertext) with the labels below.
 */
static const char SCHEMA[] =
	"CREATE TABLE cases ("
	"  case_id TEXT PRIMARY KEY, open INTEGER NOT NULL, created_ms INTEGER NOT NULL,"
	"  updated_ms INTEGER NOT NULL, title BLOB NOT NULL, note BLOB NOT NULL);"
	"CREATE INDEX cases_created ON cases(created_ms);";
#define SCHEMA_VERSION 1

#define LABEL_TITLE "divex/v1/cases/title"
#define LABEL_NOTE "divex/v1/cases/note"
#define NONCE_LEN crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define TAG_LEN crypto_aead_xchacha20poly1305_ietf_ABYTES
#define AD_MAX 128

struct case_store {
	struct db *db;
	uint8_t *key; /* sodium_malloc'd, CASE_STORE_KEY_LEN */
	case_store_clock_fn clock;
	void *clock_ctx;
};

int case_store_id_valid(const char *id)
{
	size_t len = strlen(id);
	return len >= 1 && len <= CASE_ID_MAX &&
	       strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
		       len;
}

int case_store_check_note(const uint8_t *note, size_t len, ProtobufCMessage **msg_out)
{
	ProtobufCMessage *m = NULL;
	int rc = proto_unpack_strict(&dx__case_note__descriptor, note, len, CASE_NOTE_MAX, &m);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__CaseNote *n = (const Dx__CaseNote *)m;
	size_t title_len = strlen(n->title);
	if (!case_store_id_valid(n->case_id) || title_len == 0 || title_len > CASE_TITLE_MAX) {
		protobuf_c_message_free_unpacked(m, NULL);
		return DX_EINVAL;
	}
	if (msg_out != NULL) {
		*msg_out = m;
	} else {
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return DX_OK;
}

static uint64_t default_clock(void *ctx)
{
	(void)ctx;
	return dx_now_ms();
}

int case_store_open(const char *path, const uint8_t key[static CASE_STORE_KEY_LEN],
		    struct case_store **out)
{
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	struct case_store *cs = calloc(1, sizeof(*cs));
	if (cs == NULL) {
		return DX_ENOMEM;
	}
	cs->clock = default_clock;
	if ((cs->key = sodium_malloc(CASE_STORE_KEY_LEN)) == NULL) {
		free(cs);
		return DX_ENOMEM;
	}
	memcpy(cs->key, key, CASE_STORE_KEY_LEN);
	int rc = db_open(path, SCHEMA, SCHEMA_VERSION, &cs->db);
	if (rc != DX_OK) {
		case_store_close(cs);
		return rc;
	}
	*out = cs;
	return DX_OK;
}

void case_store_close(struct case_store *cs)
{
	if (cs == NULL) {
		return;
	}
	if (cs->db != NULL) {
		db_close(cs->db);
	}
	if (cs->key != NULL) {
		sodium_memzero(cs->key, CASE_STORE_KEY_LEN);
		sodium_free(cs->key);
	}
	free(cs);
}

void case_store_set_clock(struct case_store *cs, case_store_clock_fn fn, void *ctx)
{
	cs->clock = fn != NULL ? fn : default_clock;
	cs->clock_ctx = fn != NULL ? ctx : NULL;
}

static sqlite3_int64 now(struct case_store *cs)
{
	uint64_t t = cs->clock(cs->clock_ctx);
	return t > (uint64_t)INT64_MAX ? INT64_MAX : (sqlite3_int64)t;
}

/* label || 0x00 || case id; 0 when it does not fit. */
static size_t make_ad(uint8_t ad[static AD_MAX], const char *label, const char *case_id)
{
	size_t l = strlen(label), k = strlen(case_id);
	if (l + 1 + k > AD_MAX) {
		return 0;
	}
	memcpy(ad, label, l);
	ad[l] = 0;
	memcpy(ad + l + 1, case_id, k);
	return l + 1 + k;
}

/* nonce || ciphertext of pt, malloc'd. */
int case_store_seal(struct case_store *cs, const char *label, const char *row_id, const uint8_t *pt,
		    size_t pt_len, uint8_t **out, size_t *out_len)
{
	uint8_t ad[AD_MAX];
	size_t ad_len = make_ad(ad, label, row_id);
	if (ad_len == 0 || pt_len > CASE_NOTE_MAX) {
		return DX_EINVAL;
	}
	uint8_t *v = malloc(NONCE_LEN + pt_len + TAG_LEN);
	if (v == NULL) {
		return DX_ENOMEM;
	}
	unsigned long long clen = 0;
	randombytes_buf(v, NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(v + NONCE_LEN, &clen, pt, pt_len, ad, ad_len,
						   NULL, v, cs->key);
	*out = v;
	*out_len = NONCE_LEN + (size_t)clen;
	return DX_OK;
}

int case_store_unseal(struct case_store *cs, const uint8_t *v, size_t len, const char *label,
		      const char *row_id, size_t max, uint8_t **out, size_t *out_len)
{
	uint8_t ad[AD_MAX];
	size_t ad_len = make_ad(ad, label, row_id);
	if (ad_len == 0 || v == NULL || len < NONCE_LEN + TAG_LEN ||
	    len - NONCE_LEN - TAG_LEN > max) {
		return DX_EDECRYPT;
	}
	size_t pt_cap = len - NONCE_LEN - TAG_LEN;
	uint8_t *pt = malloc(pt_cap + 1);
	if (pt == NULL) {
		return DX_ENOMEM;
	}
	unsigned long long plen = 0;
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(
		    pt, &plen, NULL, v + NONCE_LEN, len - NONCE_LEN, ad, ad_len, v, cs->key) != 0) {
		free(pt);
		return DX_EDECRYPT;
	}
	pt[plen] = '\0';
	*out = pt;
	*out_len = (size_t)plen;
	return DX_OK;
}

/* Opens a sealed column of the current row into a new buffer with a NUL after it. */
static int open_col(struct case_store *cs, sqlite3_stmt *s, int col, const char *label,
		    const char *case_id, size_t max, uint8_t **out, size_t *out_len)
{
	/* A row altered outside divex may hold anything: check the type first. */
	if (sqlite3_column_type(s, col) != SQLITE_BLOB) {
		return DX_EDECRYPT;
	}
	return case_store_unseal(cs, sqlite3_column_blob(s, col),
				 (size_t)sqlite3_column_bytes(s, col), label, case_id, max, out,
				 out_len);
}

struct db *case_store_db(struct case_store *cs)
{
	return cs->db;
}

uint64_t case_store_now(struct case_store *cs)
{
	return cs->clock(cs->clock_ctx);
}

static void wipe_free(uint8_t *p, size_t len)
{
	if (p != NULL) {
		sodium_memzero(p, len);
		free(p);
	}
}

static int step_done(struct case_store *cs, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		return DX_OK;
	}
	return (rc & 0xff) == SQLITE_CONSTRAINT ? DX_EEXIST : db_from_sqlite(rc);
}

int case_store_add(struct case_store *cs, const uint8_t *note, size_t len)
{
	ProtobufCMessage *m = NULL;
	uint8_t *title = NULL, *body = NULL;
	size_t title_len = 0, body_len = 0;
	sqlite3_stmt *s;
	int rc = case_store_check_note(note, len, &m);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__CaseNote *n = (const Dx__CaseNote *)m;
	if ((rc = case_store_seal(cs, LABEL_TITLE, n->case_id, (const uint8_t *)n->title,
				  strlen(n->title), &title, &title_len)) != DX_OK ||
	    (rc = case_store_seal(cs, LABEL_NOTE, n->case_id, note, len, &body, &body_len)) !=
		    DX_OK ||
	    (rc = db_stmt(cs->db,
			  "INSERT INTO cases (case_id, open, created_ms, updated_ms, title, note) "
			  "VALUES (?1, 1, ?2, ?2, ?3, ?4)",
			  &s)) != DX_OK) {
		goto out;
	}
	sqlite3_bind_text(s, 1, n->case_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now(cs));
	sqlite3_bind_blob(s, 3, title, (int)title_len, SQLITE_STATIC);
	sqlite3_bind_blob(s, 4, body, (int)body_len, SQLITE_STATIC);
	rc = step_done(cs, s);
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
out:
	free(title);
	free(body);
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

/* Fills info from a row (case_id, open, created_ms, updated_ms, title, ...). */
static int read_info(struct case_store *cs, sqlite3_stmt *s, struct case_info *info)
{
	uint8_t *title = NULL;
	size_t title_len = 0;
	const unsigned char *id = sqlite3_column_text(s, 0);
	if (id == NULL || !case_store_id_valid((const char *)id)) {
		return DX_EPARSE;
	}
	memset(info, 0, sizeof(*info));
	memcpy(info->case_id, id, strlen((const char *)id));
	info->open = sqlite3_column_int64(s, 1) != 0;
	sqlite3_int64 c = sqlite3_column_int64(s, 2), u = sqlite3_column_int64(s, 3);
	info->created_ms = c > 0 ? (uint64_t)c : 0;
	info->updated_ms = u > 0 ? (uint64_t)u : 0;
	int rc = open_col(cs, s, 4, LABEL_TITLE, info->case_id, CASE_TITLE_MAX, &title, &title_len);
	if (rc != DX_OK) {
		return rc;
	}
	memcpy(info->title, title, title_len);
	wipe_free(title, title_len);
	return DX_OK;
}

int case_store_get(struct case_store *cs, const char *case_id, struct case_info *info,
		   uint8_t **note, size_t *note_len)
{
	sqlite3_stmt *s;
	struct case_info tmp;
	uint8_t *body = NULL;
	size_t body_len = 0;
	if (!case_store_id_valid(case_id)) {
		return DX_EINVAL;
	}
	int rc = db_stmt(cs->db,
			 "SELECT case_id, open, created_ms, updated_ms, title, note FROM cases "
			 "WHERE case_id = ?1",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, case_id, -1, SQLITE_TRANSIENT);
	int step = sqlite3_step(s);
	if (step == SQLITE_DONE) {
		rc = DX_ENOENT;
	} else if (step != SQLITE_ROW) {
		rc = db_from_sqlite(step);
	} else if ((rc = read_info(cs, s, &tmp)) == DX_OK && note != NULL) {
		rc = open_col(cs, s, 5, LABEL_NOTE, tmp.case_id, CASE_NOTE_MAX, &body, &body_len);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != DX_OK) {
		return rc;
	}
	if (info != NULL) {
		*info = tmp;
	}
	if (note != NULL) {
		*note = body;
		*note_len = body_len;
	}
	return DX_OK;
}

int case_store_set_closed(struct case_store *cs, const char *case_id)
{
	sqlite3_stmt *s;
	if (!case_store_id_valid(case_id)) {
		return DX_EINVAL;
	}
	int rc = db_stmt(
		cs->db,
		"UPDATE cases SET open = 0, updated_ms = ?2 WHERE case_id = ?1 AND open = 1", &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(s, 1, case_id, -1, SQLITE_TRANSIENT);
	sqlite3_bind_int64(s, 2, now(cs));
	rc = step_done(cs, s);
	int changed = sqlite3_changes(db_handle(cs->db));
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc == DX_OK && changed == 0) {
		/* Either closed already (nothing to do) or no such case. */
		rc = case_store_get(cs, case_id, NULL, NULL, NULL);
	}
	return rc;
}

/* ---- listing and search ---- */

static int contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *p = hay; *p != '\0'; p++) {
		if (strncasecmp(p, needle, n) == 0) {
			return 1;
		}
	}
	return n == 0;
}

/*
 * Whether any text of m (at any depth) contains needle: every string field,
 * and the name of every enumerated value that is set. Walking the descriptor
 * covers every field of the template, including those added later.
 */
static int message_matches(const ProtobufCMessage *m, const char *needle)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *field = (const char *)m + f->offset;
		const char *elems = field;
		size_t n = 1;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			n = *(const size_t *)(const void *)((const char *)m + f->quantifier_offset);
			elems = *(const char *const *)(const void *)field;
		}
		for (size_t k = 0; k < n; k++) {
			if (f->type == PROTOBUF_C_TYPE_STRING) {
				const char *s = ((const char *const *)(const void *)elems)[k];
				if (s != NULL && contains_nocase(s, needle)) {
					return 1;
				}
			} else if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
				const ProtobufCMessage *sub =
					((const ProtobufCMessage *const *)(const void *)elems)[k];
				if (sub != NULL && message_matches(sub, needle)) {
					return 1;
				}
			} else if (f->type == PROTOBUF_C_TYPE_ENUM) {
				int v = ((const int *)(const void *)elems)[k];
				const ProtobufCEnumValue *ev =
					protobuf_c_enum_descriptor_get_value(f->descriptor, v);
				if (v != 0 && ev != NULL && contains_nocase(ev->name, needle)) {
					return 1;
				}
			}
		}
	}
	return 0;
}

/* Whether the note in column 5 of the current row contains needle. */
static int row_matches(struct case_store *cs, sqlite3_stmt *s, const struct case_info *info,
		       const char *needle, int *match)
{
	uint8_t *body = NULL;
	size_t len = 0;
	ProtobufCMessage *m = NULL;
	*match = contains_nocase(info->case_id, needle) || contains_nocase(info->title, needle);
	if (*match) {
		return DX_OK;
	}
	int rc = open_col(cs, s, 5, LABEL_NOTE, info->case_id, CASE_NOTE_MAX, &body, &len);
	if (rc == DX_OK) {
		rc = proto_unpack_strict(&dx__case_note__descriptor, body, len, CASE_NOTE_MAX, &m);
	}
	if (rc == DX_OK) {
		*match = message_matches(m, needle);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	wipe_free(body, len);
	return rc;
}

static int collect(struct case_store *cs, sqlite3_stmt *s, const char *needle,
		   struct case_info **out, size_t *n_out)
{
	struct case_info *v = NULL;
	size_t n = 0, cap = 0;
	int rc = DX_OK, step, match = 1;
	while ((step = sqlite3_step(s)) == SQLITE_ROW) {
		if (n == CASE_STORE_LIST_MAX) {
			rc = DX_ETOOBIG;
			break;
		}
		if (n == cap) {
			size_t ncap = cap == 0 ? 16 : 2 * cap;
			struct case_info *nv = realloc(v, ncap * sizeof(*nv));
			if (nv == NULL) {
				rc = DX_ENOMEM;
				break;
			}
			v = nv;
			cap = ncap;
		}
		if ((rc = read_info(cs, s, &v[n])) != DX_OK ||
		    (needle != NULL && (rc = row_matches(cs, s, &v[n], needle, &match)) != DX_OK)) {
			break;
		}
		if (match) {
			n++;
		}
	}
	if (rc == DX_OK && step != SQLITE_DONE) {
		rc = db_from_sqlite(step);
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	if (rc != DX_OK) {
		free(v);
		return rc;
	}
	*out = v;
	*n_out = n;
	return DX_OK;
}

static int list_where(struct case_store *cs, int open_mask, const char *needle,
		      case_store_list_fn fn, void *ctx)
{
	sqlite3_stmt *s;
	struct case_info *v = NULL;
	size_t n = 0;
	int rc = db_stmt(cs->db,
			 "SELECT case_id, open, created_ms, updated_ms, title, note FROM cases "
			 "WHERE ((open = 1 AND (?1 & 1)) OR (open = 0 AND (?1 & 2))) "
			 "ORDER BY created_ms, case_id",
			 &s);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_int(s, 1, open_mask);
	if ((rc = collect(cs, s, needle, &v, &n)) != DX_OK) {
		return rc;
	}
	for (size_t i = 0; i < n && rc == DX_OK; i++) {
		rc = fn(ctx, &v[i]);
	}
	sodium_memzero(v, n * sizeof(*v));
	free(v);
	return rc;
}

int case_store_list(struct case_store *cs, enum case_store_which which, case_store_list_fn fn,
		    void *ctx)
{
	if (which < CASE_STORE_OPEN || which > CASE_STORE_ALL) {
		return DX_EINVAL;
	}
	return list_where(cs, (int)which, NULL, fn, ctx);
}

int case_store_search(struct case_store *cs, const char *text, case_store_list_fn fn, void *ctx)
{
	size_t len = strlen(text);
	if (len == 0 || len > CASE_SEARCH_MAX) {
		return DX_EINVAL;
	}
	return list_where(cs, CASE_STORE_ALL, text, fn, ctx);
}

int64_t case_store_ms(uint64_t v)
{
	return v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
}

int case_store_col_text(sqlite3_stmt *s, int col, char *out, size_t max)
{
	const unsigned char *t = sqlite3_column_text(s, col);
	int len = sqlite3_column_bytes(s, col);
	if (t == NULL || len < 0 || (size_t)len > max) {
		return DX_EPARSE;
	}
	memcpy(out, t, (size_t)len);
	out[len] = '\0';
	return DX_OK;
}

int case_store_col_id(sqlite3_stmt *s, int col, uint8_t *out, size_t len)
{
	if (sqlite3_column_type(s, col) != SQLITE_BLOB ||
	    (size_t)sqlite3_column_bytes(s, col) != len) {
		return DX_EPARSE;
	}
	memcpy(out, sqlite3_column_blob(s, col), len);
	return DX_OK;
}

int case_store_col_sealed(struct case_store *cs, sqlite3_stmt *s, int col, const char *label,
			  const char *row_id, size_t max, uint8_t **out, size_t *out_len)
{
	if (sqlite3_column_type(s, col) == SQLITE_NULL) {
		*out = NULL;
		*out_len = 0;
		return DX_OK;
	}
	if (sqlite3_column_type(s, col) != SQLITE_BLOB) {
		return DX_EDECRYPT;
	}
	return case_store_unseal(cs, sqlite3_column_blob(s, col),
				 (size_t)sqlite3_column_bytes(s, col), label, row_id, max, out,
				 out_len);
}

int case_store_set_answer(struct case_store *cs, const char *sql, const char *label,
			  const char *row_hex, const uint8_t *id, const uint8_t *answer_id,
			  size_t id_len, uint64_t ms, const char *text, size_t text_len)
{
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	sqlite3_stmt *s;
	int rc;
	if (text != NULL && (rc = case_store_seal(cs, label, row_hex, (const uint8_t *)text,
						  text_len, &sealed, &sealed_len)) != DX_OK) {
		return rc;
	}
	rc = db_stmt(cs->db, sql, &s);
	if (rc == DX_OK) {
		sqlite3_bind_blob(s, 1, id, (int)id_len, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, case_store_ms(ms));
		sqlite3_bind_blob(s, 3, answer_id, (int)id_len, SQLITE_STATIC);
		if (sealed != NULL) {
			sqlite3_bind_blob(s, 4, sealed, (int)sealed_len, SQLITE_STATIC);
		} else {
			sqlite3_bind_null(s, 4);
		}
		int step = sqlite3_step(s);
		rc = step == SQLITE_DONE ? DX_OK : db_from_sqlite(step);
		if (rc == DX_OK && sqlite3_changes(db_handle(cs->db)) == 0) {
			rc = DX_ENOENT;
		}
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
	}
	free(sealed);
	return rc;
}
