/*
 * relay_client_audit.c: what a node asks the relay for an audit dossier
 * (PROTOCOL.md 14): the recipient's logged statements of an envelope
 * (`statements`, 12.4), each verified as a receipt of the leaf rebuilt from
 * the signed request it carries, and consistency proofs between two sizes.
 * Loop thread only; relay_client_check_statements() itself is pure.
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "relay_client_impl.h"

/* The request must be the recipient's fetch (kind 2) or ack (kind 3) of digest. */
static int check_request(enum relay_leaf_kind kind, const uint8_t *digest, const uint8_t *req,
			 size_t len)
{
	struct relay_request rq;
	if (len == 0 || len > RELAY_REQUEST_MAX || relay_request_parse(req, len, &rq) != DX_OK) {
		return DX_EPROOF;
	}
	const Dx__RequestBody *b = rq.body;
	const ProtobufCBinaryData *d = NULL;
	if (kind == RELAY_LEAF_FETCHED && b->op_case == DX__REQUEST_BODY__OP_FETCH) {
		d = &b->fetch->digest;
	} else if (kind == RELAY_LEAF_ACKED && b->op_case == DX__REQUEST_BODY__OP_ACK) {
		d = &b->ack->digest;
	}
	int rc = d != NULL && d->len == ENVELOPE_HASH_LEN &&
				 memcmp(d->data, digest, ENVELOPE_HASH_LEN) == 0
			 ? DX_OK
			 : DX_EPROOF;
	relay_request_free(&rq);
	return rc;
}

/* The receipt a fetch or ack answer would have carried for statement s. */
static void as_receipt(const Dx__RelayResponse *r, const Dx__Statement *s, Dx__Receipt *out)
{
	dx__receipt__init(out);
	out->checkpoint = r->checkpoint;
	out->leaf_index = s->leaf_index;
	out->n_proof = s->n_proof;
	out->proof = s->proof;
	out->time_ms = s->time_ms;
}

static int check_one(const struct relay_identity *id, const uint8_t *digest,
		     const Dx__RelayResponse *r, const Dx__Statement *s, size_t *packed)
{
	Dx__Receipt rec;
	if (s->kind != RELAY_LEAF_FETCHED && s->kind != RELAY_LEAF_ACKED) {
		return DX_EPARSE;
	}
	if (s->n_proof > MERKLE_MAX_PROOF) {
		return DX_EPROOF;
	}
	int rc = check_request((enum relay_leaf_kind)s->kind, digest, s->request.data,
			       s->request.len);
	if (rc != DX_OK) {
		return rc;
	}
	as_receipt(r, s, &rec);
	rc = relay_client_verify_statement(id, (enum relay_leaf_kind)s->kind, digest,
					   s->request.data, s->request.len, &rec);
	*packed = protobuf_c_message_get_packed_size(&rec.base);
	return rc;
}

int relay_client_check_statements(const struct relay_identity *id,
				  const uint8_t digest[static ENVELOPE_HASH_LEN],
				  const Dx__RelayResponse *r, struct relay_statement **out,
				  size_t *n_out, uint8_t **receipts)
{
	struct checkpoint cp;
	size_t total = 0, sizes[RELAY_STATEMENTS_MAX];
	if (r->n_statements > RELAY_STATEMENTS_MAX) {
		return DX_EPARSE;
	}
	/* Every proof is in the answer's checkpoint: it must be the relay's. */
	if (checkpoint_parse_verify(r->checkpoint.data, r->checkpoint.len, id->name, id->name,
				    id->pk, &cp) != DX_OK) {
		return DX_EPROOF;
	}
	for (size_t i = 0; i < r->n_statements; i++) {
		const Dx__Statement *s = r->statements[i];
		if (i > 0 && s->leaf_index <= r->statements[i - 1]->leaf_index) {
			return DX_EPARSE;
		}
		int rc = check_one(id, digest, r, s, &sizes[i]);
		if (rc != DX_OK) {
			return rc;
		}
		total += sizes[i];
	}
	struct relay_statement *st = calloc(r->n_statements + 1, sizeof(*st));
	uint8_t *buf = malloc(total + 1);
	if (st == NULL || buf == NULL) {
		free(st);
		free(buf);
		return DX_ENOMEM;
	}
	size_t off = 0;
	for (size_t i = 0; i < r->n_statements; i++) {
		const Dx__Statement *s = r->statements[i];
		Dx__Receipt rec;
		as_receipt(r, s, &rec);
		protobuf_c_message_pack(&rec.base, buf + off);
		st[i] = (struct relay_statement){
			.kind = (enum relay_leaf_kind)s->kind,
			.request = s->request.data,
			.request_len = s->request.len,
			.receipt = buf + off,
			.receipt_len = sizes[i],
			.leaf_index = s->leaf_index,
			.time_ms = s->time_ms,
		};
		off += sizes[i];
	}
	*out = st;
	*n_out = r->n_statements;
	*receipts = buf;
	return DX_OK;
}

void relay_client_finish_statements(struct op *op, int rc, const Dx__RelayResponse *r)
{
	struct relay_statement *st = NULL;
	uint8_t *buf = NULL;
	size_t n = 0;
	struct checkpoint cp = { 0 };
	if (rc == DX_OK) {
		rc = relay_client_check_statements(&op->c->relay, op->digest, r, &st, &n, &buf);
	}
	if (rc == DX_OK &&
	    checkpoint_parse_verify(r->checkpoint.data, r->checkpoint.len, op->c->relay.name,
				    op->c->relay.name, op->c->relay.pk, &cp) != DX_OK) {
		rc = DX_EPROOF;
	}
	if (rc == DX_OK) {
		op->cb.statements(op->arg, rc, st, n, (const char *)r->checkpoint.data,
				  r->checkpoint.len, cp.size);
	} else {
		op->cb.statements(op->arg, rc, NULL, 0, NULL, 0, 0);
	}
	free(st);
	free(buf);
}

void relay_client_finish_proof(struct op *op, int rc, const Dx__RelayResponse *r)
{
	uint8_t(*proof)[MERKLE_HASH_LEN] = NULL;
	size_t n = 0;
	if (rc == DX_OK && r->n_proof > MERKLE_MAX_PROOF) {
		rc = DX_EPARSE;
	}
	if (rc == DX_OK) {
		n = r->n_proof;
		proof = malloc((n + 1) * MERKLE_HASH_LEN);
		rc = proof == NULL ? DX_ENOMEM : DX_OK;
	}
	for (size_t i = 0; rc == DX_OK && i < n; i++) {
		if (r->proof[i].len != MERKLE_HASH_LEN) {
			rc = DX_EPARSE;
			break;
		}
		memcpy(proof[i], r->proof[i].data, MERKLE_HASH_LEN);
	}
	op->cb.consistency(op->arg, rc,
			   rc == DX_OK ? (const uint8_t(*)[MERKLE_HASH_LEN])proof : NULL,
			   rc == DX_OK ? n : 0);
	free(proof);
}

int relay_client_statements(struct relay_client *c, const uint8_t digest[static ENVELOPE_HASH_LEN],
			    relay_client_statements_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__StatementsOp so = DX__STATEMENTS_OP__INIT;
	int rc;
	struct op *op = relay_client_op_start(c, OP_STATEMENTS, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.statements = cb;
	memcpy(op->digest, digest, ENVELOPE_HASH_LEN);
	so.envelope_digest = (ProtobufCBinaryData){ ENVELOPE_HASH_LEN, op->digest };
	body.op_case = DX__REQUEST_BODY__OP_STATEMENTS;
	body.statements = &so;
	return relay_client_op_queue(c, op, &body);
}

int relay_client_consistency(struct relay_client *c, uint64_t old_size, uint64_t new_size,
			     relay_client_consistency_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__ConsistencyOp cons = DX__CONSISTENCY_OP__INIT;
	int rc;
	if (old_size == 0 || old_size > new_size) {
		return DX_EINVAL;
	}
	struct op *op = relay_client_op_start(c, OP_PROOF, cb != NULL, arg, &rc);
	if (op == NULL) {
		return rc;
	}
	op->cb.consistency = cb;
	cons.old_size = old_size;
	cons.new_size = new_size;
	body.op_case = DX__REQUEST_BODY__OP_CONSISTENCY;
	body.consistency = &cons;
	return relay_client_op_queue(c, op, &body);
}
