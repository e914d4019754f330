/*
 * relay_statements.c: the `statements` operation (PROTOCOL.md 12.4): the
 * recipient's signed fetch and acknowledgement requests of one envelope, as
 * the relay logged them, each with its leaf index, the relay's time in the
 * leaf and an inclusion proof in the relay's current checkpoint.
 *
 * The sender of an envelope needs them for the envelope's audit dossier
 * (PROTOCOL.md 14, DIEF ToR rule 15): they are the recipient's own evidence
 * of receipt, which only the relay keeps. Only the envelope's two parties
 * are answered; the relay knows them from its envelopes table. A read: it is
 * answered at once on the loop thread, so the proofs and the checkpoint the
 * answer carries are of the same tree.
 */
#include <stdlib.h>
#include <string.h>

#include "relay.h"

/* Who sent the envelope with this digest to whom. */
static int parties(struct relay *r, const uint8_t *digest, char sender[static DX_STATE_LEN + 1],
		   char recipient[static DX_STATE_LEN + 1])
{
	sqlite3_stmt *st;
	int rc = db_stmt(r->db, "SELECT sender, recipient FROM envelopes WHERE digest = ?", &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, digest, ENVELOPE_HASH_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? DX_ENOENT : db_from_sqlite(rc);
	}
	const char *s = (const char *)sqlite3_column_text(st, 0);
	const char *t = (const char *)sqlite3_column_text(st, 1);
	rc = s != NULL && t != NULL && dx_state_valid(s) && dx_state_valid(t) ? DX_OK
									      : DX_EINTERNAL;
	if (rc == DX_OK) {
		memcpy(sender, s, DX_STATE_LEN + 1);
		memcpy(recipient, t, DX_STATE_LEN + 1);
	}
	sqlite3_reset(st);
	return rc;
}

/* One row of the statements table, copied out before the proofs are read. */
struct row {
	uint64_t index, time_ms;
	uint32_t kind;
	size_t off, len;
};

/* Reads the envelope's statements under the current checkpoint, in leaf order. */
static int read_rows(struct relay *r, const uint8_t *digest, struct row *rows, size_t *n,
		     uint8_t **block, size_t *used)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	*n = 0;
	*used = 0;
	*block = NULL;
	int rc = db_stmt(r->db,
			 "SELECT leaf_index, kind, request, time_ms FROM statements"
			 " WHERE digest = ? AND leaf_index < ? ORDER BY leaf_index LIMIT ?",
			 &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, digest, ENVELOPE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)r->checkpoint_size);
	sqlite3_bind_int(st, 3, RELAY_STATEMENTS_MAX);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < RELAY_STATEMENTS_MAX) {
		size_t len = (size_t)sqlite3_column_bytes(st, 2);
		if (len == 0 || len > RELAY_REQUEST_MAX) {
			rc = SQLITE_CORRUPT;
			break;
		}
		if (*used + len > cap) {
			size_t nc = cap == 0 ? 16384 : cap;
			while (nc < *used + len) {
				nc *= 2;
			}
			uint8_t *nb = realloc(*block, nc);
			if (nb == NULL) {
				rc = SQLITE_NOMEM;
				break;
			}
			*block = nb;
			cap = nc;
		}
		memcpy(*block + *used, sqlite3_column_blob(st, 2), len);
		rows[*n] = (struct row){ (uint64_t)sqlite3_column_int64(st, 0),
					 (uint64_t)sqlite3_column_int64(st, 3),
					 (uint32_t)sqlite3_column_int(st, 1), *used, len };
		*used += len;
		(*n)++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		free(*block);
		*block = NULL;
		return db_from_sqlite(rc);
	}
	return DX_OK;
}

/* Fills one Statement (in mem) with its row and its proof in the current checkpoint. */
static int fill(struct relay *r, const struct row *w, uint8_t *requests, Dx__Statement *s,
		ProtobufCBinaryData *items, uint8_t (*hashes)[MERKLE_HASH_LEN])
{
	size_t n;
	int rc = merkle_inclusion_proof(&r->log, w->index, r->checkpoint_size, hashes, &n);
	if (rc != DX_OK) {
		return rc;
	}
	dx__statement__init(s);
	s->kind = w->kind;
	s->request = (ProtobufCBinaryData){ w->len, requests + w->off };
	s->leaf_index = w->index;
	s->time_ms = w->time_ms;
	for (size_t i = 0; i < n; i++) {
		items[i] = (ProtobufCBinaryData){ MERKLE_HASH_LEN, hashes[i] };
	}
	s->n_proof = n;
	s->proof = items;
	return DX_OK;
}

int relay_op_statements(struct relay *r, struct relay_op *op)
{
	const Dx__StatementsOp *so = op->req.body->statements;
	char sender[DX_STATE_LEN + 1], recipient[DX_STATE_LEN + 1];
	struct row rows[RELAY_STATEMENTS_MAX];
	uint8_t *requests = NULL;
	size_t n, used;
	if (so == NULL || so->envelope_digest.len != ENVELOPE_HASH_LEN) {
		return DX_EPARSE;
	}
	int rc = parties(r, so->envelope_digest.data, sender, recipient);
	if (rc != DX_OK) {
		return rc;
	}
	/* The parties only: the log names them only through salted commitments. */
	if (strcmp(op->req.body->node, sender) != 0 && strcmp(op->req.body->node, recipient) != 0) {
		return DX_ENOT_RECIPIENT;
	}
	if ((rc = read_rows(r, so->envelope_digest.data, rows, &n, &requests, &used)) != DX_OK) {
		return rc;
	}
	size_t each = sizeof(Dx__Statement *) + sizeof(Dx__Statement) +
		      MERKLE_MAX_PROOF * (sizeof(ProtobufCBinaryData) + MERKLE_HASH_LEN);
	uint8_t *mem = relay_op_own(op, n * each + 1);
	uint8_t *kept = mem != NULL ? relay_op_own(op, used + 1) : NULL;
	if (kept != NULL && used > 0) {
		memcpy(kept, requests, used);
	}
	free(requests);
	if (kept == NULL) {
		return DX_ENOMEM;
	}
	requests = kept;
	Dx__Statement **ptrs = (Dx__Statement **)mem;
	uint8_t *p = mem + n * sizeof(*ptrs);
	for (size_t i = 0; i < n; i++, p += each - sizeof(*ptrs)) {
		Dx__Statement *s = (Dx__Statement *)p;
		ProtobufCBinaryData *items = (ProtobufCBinaryData *)(s + 1);
		uint8_t(*hashes)[MERKLE_HASH_LEN] =
			(uint8_t(*)[MERKLE_HASH_LEN])(items + MERKLE_MAX_PROOF);
		if ((rc = fill(r, &rows[i], requests, s, items, hashes)) != DX_OK) {
			return rc;
		}
		ptrs[i] = s;
	}
	op->resp.n_statements = n;
	op->resp.statements = ptrs;
	/* The checkpoint the proofs are in, whatever the relay signs later. */
	op->resp.checkpoint = (ProtobufCBinaryData){ r->checkpoint_len, (uint8_t *)r->checkpoint };
	return DX_OK;
}
