/*
 * relay_client_peer.c: proving a checkpoint that did not come from the relay
 * in answer to this node (a peer carried it in an envelope, or an old receipt
 * holds it) consistent with what the relay shows now (PROTOCOL.md 11.6).
 *
 * A relay that shows one history to one State and another to a second can
 * keep each of them consistent with itself; the fork shows only when the two
 * compare. So every checkpoint a peer carries is checked against the relay's
 * current one: the relay's checkpoint is asked for first, then, when it is
 * larger, a consistency proof from the given size to it. An honest relay
 * only grows, so:
 *
 *   current smaller than the given one    rollback: two signed checkpoints
 *   same size, another root              equivocation
 *   larger, and the proof does not hold  fork
 *
 * each are reported to the caller with both signed texts as evidence. A
 * transport error or a refusal proves nothing either way.
 */
#include <stdlib.h>
#include <string.h>

#include "relay_client_impl.h"

struct prove_ctx {
	struct cp_slot given;
	struct cp_slot current;
	relay_client_prove_fn cb;
	void *arg;
};

void relay_client_prove_free(struct prove_ctx *p)
{
	free(p);
}

static void prove_end(struct op *op, int rc)
{
	struct prove_ctx *p = op->prove;
	struct relay_client *c = op->c;
	int evidence = (rc == DX_ELOG_INCONSISTENT || rc == DX_EPROOF) && p->current.set;
	if (evidence) {
		c->stats.alarms++;
	}
	if (p->cb != NULL) {
		p->cb(p->arg, rc, evidence ? p->given.text : NULL, evidence ? p->given.len : 0,
		      evidence ? p->current.text : NULL, evidence ? p->current.len : 0);
	}
}

static int send_proof(struct op *sync_op)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__ConsistencyOp cons = DX__CONSISTENCY_OP__INIT;
	struct relay_client *c = sync_op->c;
	if (c->closing) {
		return DX_ECLOSED;
	}
	struct op *op = relay_client_op_new(c, OP_PROVE_PROOF, NULL);
	if (op == NULL) {
		return DX_ENOMEM;
	}
	/* The context moves to the proof operation. */
	struct prove_ctx *p = sync_op->prove;
	relay_client_prove_fn cb = p->cb;
	void *arg = p->arg;
	op->prove = p;
	sync_op->prove = NULL;
	cons.old_size = p->given.cp.size;
	cons.new_size = p->current.cp.size;
	body.op_case = DX__REQUEST_BODY__OP_CONSISTENCY;
	body.consistency = &cons;
	int rc = relay_client_op_queue(c, op, &body);
	if (rc != DX_OK) {
		/* The operation and the context are freed: report here, once. */
		if (cb != NULL) {
			cb(arg, rc, NULL, 0, NULL, 0);
		}
		return DX_OK;
	}
	c->stats.proof_requests++;
	return DX_OK;
}

static void finish_sync(struct op *op, int rc, const Dx__RelayResponse *r)
{
	struct prove_ctx *p = op->prove;
	if (rc == DX_OK && r->checkpoint.len == 0) {
		rc = DX_EPROOF;
	}
	if (rc == DX_OK) {
		rc = relay_client_parse_checkpoint(op->c, r->checkpoint.data, r->checkpoint.len,
						   &p->current);
	}
	if (rc != DX_OK) {
		prove_end(op, rc);
		return;
	}
	const struct checkpoint *g = &p->given.cp, *cur = &p->current.cp;
	if (cur->size < g->size) {
		prove_end(op, DX_ELOG_INCONSISTENT);
	} else if (cur->size == g->size) {
		prove_end(op, memcmp(cur->root, g->root, MERKLE_HASH_LEN) == 0 ? DX_OK
									    : DX_ELOG_INCONSISTENT);
	} else if (g->size == 0) {
		prove_end(op, DX_OK); /* the empty tree is a prefix of every tree */
	} else if ((rc = send_proof(op)) != DX_OK) {
		prove_end(op, rc);
	}
}

static void finish_proof(struct op *op, int rc, const Dx__RelayResponse *r)
{
	uint8_t proof[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	struct prove_ctx *p = op->prove;
	if (rc == DX_OK && r->n_proof > MERKLE_MAX_PROOF) {
		rc = DX_EPROOF;
	}
	for (size_t i = 0; rc == DX_OK && i < r->n_proof; i++) {
		if (r->proof[i].len != MERKLE_HASH_LEN) {
			rc = DX_EPROOF;
		} else {
			memcpy(proof[i], r->proof[i].data, MERKLE_HASH_LEN);
		}
	}
	if (rc == DX_OK) {
		rc = checkpoint_check_consistent(&p->given.cp, &p->current.cp,
						 (const uint8_t(*)[MERKLE_HASH_LEN])proof,
						 r->n_proof);
	}
	prove_end(op, rc);
}

void relay_client_prove_finish(struct op *op, int rc, const Dx__RelayResponse *r)
{
	if (op->prove == NULL) {
		return;
	}
	if (op->kind == OP_PROVE_SYNC) {
		finish_sync(op, rc, r);
	} else {
		finish_proof(op, rc, r);
	}
}

int relay_client_prove(struct relay_client *c, const uint8_t *text, size_t len,
		       relay_client_prove_fn cb, void *arg)
{
	Dx__RequestBody body = DX__REQUEST_BODY__INIT;
	Dx__CheckpointOp cp = DX__CHECKPOINT_OP__INIT;
	if (c->closing) {
		return DX_ECLOSED;
	}
	struct prove_ctx *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		return DX_ENOMEM;
	}
	int rc = relay_client_parse_checkpoint(c, text, len, &p->given);
	if (rc != DX_OK) {
		free(p);
		return rc;
	}
	p->cb = cb;
	p->arg = arg;
	struct op *op = relay_client_op_new(c, OP_PROVE_SYNC, NULL);
	if (op == NULL) {
		free(p);
		return DX_ENOMEM;
	}
	op->prove = p;
	body.op_case = DX__REQUEST_BODY__OP_GET_CHECKPOINT;
	body.get_checkpoint = &cp;
	return relay_client_op_queue(c, op, &body);
}
