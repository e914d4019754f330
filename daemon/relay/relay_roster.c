/*
 * relay_roster.c: admission of States and the roster cache.
 *
 * Only States Parties and signatory States take part (ToR rule 6). The
 * Secretariat admits a State's self-signed enrollment entry with its status,
 * and can suspend and reinstate it; it cannot forge an entry, since every
 * entry carries the State's own signature, and every change is a leaf of the
 * audit log. A State may publish a newer entry (new prekeys, contacts) under
 * the identity key it was admitted with; a new identity key needs a new
 * admission by the Secretariat.
 */
#include <stdlib.h>
#include <string.h>

#include "relay.h"
#include "roster.h"

size_t relay_state_slot(const char *state)
{
	return (size_t)(state[0] - 'A') * 676 + (size_t)(state[1] - 'A') * 26 +
	       (size_t)(state[2] - 'A');
}

struct relay_member *relay_member(struct relay *r, const char *state)
{
	if (!dx_state_valid(state)) {
		return NULL;
	}
	struct relay_member *m = &r->members[relay_state_slot(state)];
	return m->present ? m : NULL;
}

int relay_roster_load(struct relay *r)
{
	sqlite3_stmt *st;
	int rc = db_stmt(r->db, "SELECT state, status, identity_pk, issued_ms, admitted_status FROM roster", &st);
	if (rc != DX_OK) {
		return rc;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *state = (const char *)sqlite3_column_text(st, 0);
		if (!dx_state_valid(state) || sqlite3_column_bytes(st, 2) != KEYS_SIGN_PK_LEN) {
			return DX_EINTERNAL;
		}
		struct relay_member *m = &r->members[relay_state_slot(state)];
		m->present = 1;
		m->status = (uint32_t)sqlite3_column_int(st, 1);
		memcpy(m->identity_pk, sqlite3_column_blob(st, 2), KEYS_SIGN_PK_LEN);
		m->issued_ms = (uint64_t)sqlite3_column_int64(st, 3);
		m->admitted_status = (uint32_t)sqlite3_column_int(st, 4);
		relay_metrics_state(r->metrics, state, m->status, 0, 0, 0,
					0);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		return db_from_sqlite(rc);
	}
	/* The mailboxes' counts come with the members: the quota check reads
	 * them instead of the mailbox. */
	return relay_mailbox_count(r);
}

/* Writes the row and the roster leaf; the caller holds the transaction. */
static int store_entry(struct relay *r, const struct roster_entry *e, uint32_t status,
		       uint32_t admitted, uint64_t *index, uint64_t now)
{
	uint8_t leaf[RELAY_LEAF_MAX];
	size_t n = relay_leaf_roster(leaf, e->state, status, e->signed_bytes, e->signed_len, now);
	int rc = relay_log_append(r, RELAY_LEAF_ROSTER, leaf, n, index);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_stmt *st;
	rc = db_stmt(r->db,
		     "INSERT OR REPLACE INTO roster (state, status, identity_pk, signed_entry,"
		     " issued_ms, log_index, updated_ms, admitted_status)"
		     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
		     &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(st, 1, e->state, DX_STATE_LEN, SQLITE_STATIC);
	sqlite3_bind_int(st, 2, (int)status);
	sqlite3_bind_blob(st, 3, e->identity_pk, KEYS_SIGN_PK_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 4, e->signed_bytes, (int)e->signed_len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)e->issued_ms);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)*index);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)now);
	sqlite3_bind_int(st, 8, (int)admitted);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		return db_from_sqlite(rc);
	}
	struct relay_member *m = &r->members[relay_state_slot(e->state)];
	m->present = 1;
	m->status = status;
	m->admitted_status = admitted;
	memcpy(m->identity_pk, e->identity_pk, KEYS_SIGN_PK_LEN);
	m->issued_ms = e->issued_ms;
	relay_metrics_state(r->metrics, e->state, status, m->last_seen_ms,
				0, 0, 0);
	return DX_OK;
}

int relay_roster_admit(struct relay *r, const uint8_t *entry, size_t len, uint32_t status,
		       char state_out[static 4])
{
	struct roster_entry *e = NULL;
	uint64_t index;
	if (status != RELAY_STATUS_PARTY && status != RELAY_STATUS_SIGNATORY) {
		return DX_EINVAL;
	}
	int rc = roster_entry_verify(entry, len, &e);
	if (rc != DX_OK) {
		return rc;
	}
	rc = store_entry(r, e, status, status, &index, dx_now_ms());
	if (rc == DX_OK) {
		memcpy(state_out, e->state, DX_STATE_LEN + 1);
	}
	roster_entry_free(e);
	return rc;
}

/*
 * Re-logs the current entry with a new status: RELAY_STATUS_SUSPENDED, or 0
 * to reinstate the status of admission.
 */
int relay_roster_set_status(struct relay *r, const char *state, uint32_t status)
{
	struct relay_member *m = relay_member(r, state);
	struct roster_entry *e = NULL;
	sqlite3_stmt *st;
	uint64_t index;
	if (m == NULL) {
		return DX_ENOT_MEMBER;
	}
	int rc = db_stmt(r->db, "SELECT signed_entry FROM roster WHERE state = ?", &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(st, 1, state, DX_STATE_LEN, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		return DX_ENOT_MEMBER;
	}
	rc = roster_entry_verify(sqlite3_column_blob(st, 0), (size_t)sqlite3_column_bytes(st, 0), &e);
	sqlite3_reset(st);
	if (rc != DX_OK) {
		return rc;
	}
	rc = store_entry(r, e, status == 0 ? m->admitted_status : status, m->admitted_status, &index,
			 dx_now_ms());
	roster_entry_free(e);
	return rc;
}

/*
 * Whether entry is the member's current entry, byte for byte; if so, the log
 * index and time of the leaf that logged it as it stands.
 */
static int current_entry(struct relay *r, const char *node, const uint8_t *entry, size_t len,
			 uint64_t *index, uint64_t *time_ms)
{
	sqlite3_stmt *st;
	if (db_stmt(r->db, "SELECT signed_entry, log_index, updated_ms FROM roster WHERE state = ?",
		    &st) != DX_OK) {
		return 0;
	}
	sqlite3_bind_text(st, 1, node, DX_STATE_LEN, SQLITE_STATIC);
	int same = 0;
	if (sqlite3_step(st) == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == len &&
	    memcmp(sqlite3_column_blob(st, 0), entry, len) == 0) {
		same = 1;
		*index = (uint64_t)sqlite3_column_int64(st, 1);
		*time_ms = (uint64_t)sqlite3_column_int64(st, 2);
	}
	sqlite3_reset(st);
	return same;
}

int relay_roster_publish(struct relay *r, const char *node, const uint8_t *entry, size_t len,
			 uint64_t *index, uint64_t *time_ms)
{
	struct roster_entry *e = NULL;
	struct relay_member *m = relay_member(r, node);
	if (m == NULL) {
		return DX_ENOT_MEMBER;
	}
	int rc = roster_entry_verify(entry, len, &e);
	if (rc != DX_OK) {
		return rc;
	}
	if (strcmp(e->state, node) != 0 ||
	    sodium_memcmp(e->identity_pk, m->identity_pk, KEYS_SIGN_PK_LEN) != 0) {
		rc = DX_EROSTER; /* a new identity key needs the Secretariat */
	} else if (e->issued_ms == m->issued_ms && current_entry(r, node, entry, len, index, time_ms)) {
		/* The same entry again (a resend): the receipt of the leaf that
		 * logged it, as for every other operation. */
		rc = DX_OK;
	} else if (e->issued_ms <= m->issued_ms) {
		rc = DX_EDUPLICATE_ENTRY;
	} else {
		rc = store_entry(r, e, m->status, m->admitted_status, index, *time_ms);
	}
	roster_entry_free(e);
	return rc;
}
