/*
 * relay_attach.c: attachment streams, uploaded once in pieces and downloaded
 * by the recipients of envelopes that reference them.
 *
 * The relay stores ciphertext it cannot read (PROTOCOL.md 6). Pieces must
 * arrive in order; a resent piece that matches what is stored is accepted
 * again (nng resends). The uploader declares the stream's size up front so
 * that the per-sender quota is checked before anything is stored. A download
 * is released only to a State that received an envelope naming the
 * attachment.
 */
#include <string.h>

#include "relay.h"

static int quota_used(struct relay *r, const char *owner, uint64_t *bytes)
{
	sqlite3_stmt *st;
	int rc = db_stmt(r->db, "SELECT COALESCE(SUM(total_size), 0) FROM attachments WHERE owner = ?",
			 &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_text(st, 1, owner, DX_STATE_LEN, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		return DX_EINTERNAL;
	}
	*bytes = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return DX_OK;
}

/* A resent piece is accepted if it is byte for byte what is stored. */
static int same_piece(struct relay *r, const Dx__UploadOp *u)
{
	sqlite3_stmt *st;
	int rc = db_stmt(r->db, "SELECT data FROM attachment_data WHERE attachment_id = ? AND offset = ?",
			 &st);
	if (rc != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, u->attachment_id.data, 16, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)u->offset);
	rc = DX_EINVAL;
	if (sqlite3_step(st) == SQLITE_ROW && (size_t)sqlite3_column_bytes(st, 0) == u->data.len &&
	    memcmp(sqlite3_column_blob(st, 0), u->data.data, u->data.len) == 0) {
		rc = DX_OK;
	}
	sqlite3_reset(st);
	return rc;
}

int relay_attach_upload(struct relay *r, struct relay_op *op)
{
	const Dx__UploadOp *u = op->req.body->upload;
	const char *node = op->req.body->node;
	sqlite3_stmt *st;
	uint64_t received = 0, used;
	int rc, exists = 0;

	if (u == NULL || u->attachment_id.len != 16 || u->data.len == 0 ||
	    u->data.len > RELAY_DATA_MAX || u->total_size == 0) {
		return DX_EPARSE;
	}
	if ((rc = db_stmt(r->db, "SELECT owner, total_size, received FROM attachments"
				 " WHERE attachment_id = ?",
			  &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, u->attachment_id.data, 16, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW) {
		exists = 1;
		int mine = strcmp((const char *)sqlite3_column_text(st, 0), node) == 0;
		uint64_t total = (uint64_t)sqlite3_column_int64(st, 1);
		received = (uint64_t)sqlite3_column_int64(st, 2);
		sqlite3_reset(st);
		if (!mine || total != u->total_size) {
			return DX_EINVAL;
		}
	} else {
		sqlite3_reset(st);
		if ((rc = quota_used(r, node, &used)) != DX_OK) {
			return rc;
		}
		if (u->total_size > r->cfg.limits.attachment_quota_bytes ||
		    used > r->cfg.limits.attachment_quota_bytes - u->total_size) {
			return DX_EQUOTA;
		}
	}
	op->resp.total_size = received;
	if (u->offset < received) {
		return same_piece(r, u);
	}
	if (u->offset != received || u->data.len > u->total_size - received) {
		return DX_EINVAL;
	}
	if (!exists) {
		if ((rc = db_stmt(r->db, "INSERT INTO attachments (attachment_id, owner, total_size,"
					 " received, created_ms) VALUES (?, ?, ?, 0, ?)",
				  &st)) != DX_OK) {
			return rc;
		}
		sqlite3_bind_blob(st, 1, u->attachment_id.data, 16, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, node, DX_STATE_LEN, SQLITE_STATIC);
		sqlite3_bind_int64(st, 3, (sqlite3_int64)u->total_size);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)dx_now_ms());
		rc = sqlite3_step(st);
		sqlite3_reset(st);
		if (rc != SQLITE_DONE) {
			return db_from_sqlite(rc);
		}
	}
	if ((rc = db_stmt(r->db, "INSERT INTO attachment_data (attachment_id, offset, data)"
				 " VALUES (?, ?, ?)",
			  &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, u->attachment_id.data, 16, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)u->offset);
	sqlite3_bind_blob(st, 3, u->data.data, (int)u->data.len, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		return db_from_sqlite(rc);
	}
	if ((rc = db_stmt(r->db, "UPDATE attachments SET received = ? WHERE attachment_id = ?",
			  &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_int64(st, 1, (sqlite3_int64)(received + u->data.len));
	sqlite3_bind_blob(st, 2, u->attachment_id.data, 16, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	op->resp.total_size = received + u->data.len;
	return rc == SQLITE_DONE ? DX_OK : db_from_sqlite(rc);
}

int relay_attach_download(struct relay *r, struct relay_op *op)
{
	const Dx__DownloadOp *d = op->req.body->download;
	sqlite3_stmt *st;
	int rc;
	if (d == NULL || d->attachment_id.len != 16 || d->envelope_digest.len != ENVELOPE_HASH_LEN) {
		return DX_EPARSE;
	}
	/* Released only to the recipient of an envelope that names it. */
	if ((rc = db_stmt(r->db,
			  "SELECT 1 FROM envelopes JOIN envelope_attachments USING (digest)"
			  " WHERE digest = ? AND attachment_id = ? AND recipient = ?",
			  &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, d->envelope_digest.data, ENVELOPE_HASH_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(st, 2, d->attachment_id.data, 16, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, op->req.body->node, DX_STATE_LEN, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW) {
		return DX_ENOT_RECIPIENT;
	}
	if ((rc = db_stmt(r->db, "SELECT total_size, received FROM attachments WHERE attachment_id = ?",
			  &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, d->attachment_id.data, 16, SQLITE_STATIC);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return DX_ENOENT;
	}
	uint64_t total = (uint64_t)sqlite3_column_int64(st, 0);
	uint64_t received = (uint64_t)sqlite3_column_int64(st, 1);
	sqlite3_reset(st);
	if (received != total) {
		return DX_ENOENT; /* still being uploaded */
	}
	op->resp.total_size = total;
	if (d->offset >= total) {
		return d->offset == total ? DX_OK : DX_EINVAL;
	}
	if ((rc = db_stmt(r->db,
			  "SELECT offset, data FROM attachment_data WHERE attachment_id = ?"
			  " AND offset <= ? ORDER BY offset DESC LIMIT 1",
			  &st)) != DX_OK) {
		return rc;
	}
	sqlite3_bind_blob(st, 1, d->attachment_id.data, 16, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)d->offset);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_reset(st);
		return DX_EINTERNAL;
	}
	uint64_t start = (uint64_t)sqlite3_column_int64(st, 0);
	size_t plen = (size_t)sqlite3_column_bytes(st, 1);
	size_t skip = (size_t)(d->offset - start);
	size_t max = d->max == 0 || d->max > RELAY_DATA_MAX ? RELAY_DATA_MAX : d->max;
	size_t n = skip < plen ? plen - skip : 0;
	if (n > max) {
		n = max;
	}
	uint8_t *buf = relay_op_own(op, n);
	if (buf == NULL) {
		sqlite3_reset(st);
		return DX_ENOMEM;
	}
	memcpy(buf, (const uint8_t *)sqlite3_column_blob(st, 1) + skip, n);
	sqlite3_reset(st);
	op->resp.data = (ProtobufCBinaryData){ n, buf };
	return DX_OK;
}
