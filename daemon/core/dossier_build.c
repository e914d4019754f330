/*
 * dossier_build.c: assembling an audit dossier from the pieces a node keeps
 * (see dossier.h). The node's store holds each receipt as the relay sent it
 * and, for fetches and acknowledgements, its own signed request; the caller
 * adds a recent checkpoint and the consistency proofs to it.
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "dossier.h"
#include "dossier.pb-c.h"

struct rcpt {
	uint64_t index;
	Dx__DossierReceipt dr;
	uint8_t *bytes; /* the receipt, re-encoded without a repeated salt */
};

/*
 * A fetch receipt repeats the accepted leaf's salt for the recipient; the
 * fetched leaf does not commit to it, so it is left out (PROTOCOL.md 14.1:
 * nothing unchecked in a dossier).
 */
static int prepare(const struct dossier_receipt_in *in, struct rcpt *out)
{
	ProtobufCMessage *m = NULL;
	size_t len;
	int rc = proto_unpack_strict(&dx__receipt__descriptor, in->receipt, in->receipt_len,
				     DOSSIER_RECEIPT_MAX, &m);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__Receipt *r = (Dx__Receipt *)m;
	if (in->kind != RELAY_LEAF_ACCEPTED) {
		r->salt.len = 0;
	}
	out->index = r->leaf_index;
	rc = proto_pack_alloc(m, &out->bytes, &len);
	protobuf_c_message_free_unpacked(m, NULL);
	if (rc != DX_OK) {
		return rc;
	}
	dx__dossier_receipt__init(&out->dr);
	out->dr.kind = (uint32_t)in->kind;
	out->dr.receipt = (ProtobufCBinaryData){ len, out->bytes };
	if (in->kind != RELAY_LEAF_ACCEPTED) {
		out->dr.request = (ProtobufCBinaryData){ in->request_len, (uint8_t *)in->request };
	}
	return DX_OK;
}

static int by_index(const void *a, const void *b)
{
	const struct rcpt *x = a, *y = b;
	return x->index < y->index ? -1 : x->index > y->index;
}

static int by_size(const void *a, const void *b)
{
	const Dx__DossierProof *x = *(Dx__DossierProof *const *)a, *y = *(Dx__DossierProof *const *)b;
	return x->old_size < y->old_size ? -1 : x->old_size > y->old_size;
}

int dossier_build(const struct dossier_parts *p, uint8_t **out, size_t *out_len)
{
	Dx__Dossier d = DX__DOSSIER__INIT;
	struct rcpt *rc_list = NULL;
	Dx__DossierReceipt **rp = NULL;
	Dx__DossierProof *proofs = NULL, **pp = NULL;
	ProtobufCBinaryData *hashes = NULL;
	uint8_t *buf = NULL;
	size_t len, n_hashes = 0;
	struct dossier_report rep;
	int rc = DX_ENOMEM;

	if (p->relay == NULL || p->n_receipts == 0 || p->n_receipts > DOSSIER_MAX_RECEIPTS ||
	    p->n_proofs > DOSSIER_MAX_RECEIPTS) {
		return DX_EINVAL;
	}
	for (size_t i = 0; i < p->n_proofs; i++) {
		if (p->proofs[i].n_hashes > MERKLE_MAX_PROOF) {
			return DX_EINVAL;
		}
		n_hashes += p->proofs[i].n_hashes;
	}
	rc_list = calloc(p->n_receipts, sizeof(*rc_list));
	rp = calloc(p->n_receipts, sizeof(*rp));
	proofs = calloc(p->n_proofs + 1, sizeof(*proofs));
	pp = calloc(p->n_proofs + 1, sizeof(*pp));
	hashes = calloc(n_hashes + 1, sizeof(*hashes));
	if (rc_list == NULL || rp == NULL || proofs == NULL || pp == NULL || hashes == NULL) {
		goto out;
	}
	for (size_t i = 0; i < p->n_receipts; i++) {
		if ((rc = prepare(&p->receipts[i], &rc_list[i])) != DX_OK) {
			goto out;
		}
	}
	qsort(rc_list, p->n_receipts, sizeof(*rc_list), by_index);
	for (size_t i = 0; i < p->n_receipts; i++) {
		rp[i] = &rc_list[i].dr;
	}
	for (size_t i = 0, h = 0; i < p->n_proofs; i++) {
		dx__dossier_proof__init(&proofs[i]);
		proofs[i].old_size = p->proofs[i].old_size;
		proofs[i].n_hashes = p->proofs[i].n_hashes;
		proofs[i].hashes = &hashes[h];
		for (size_t j = 0; j < p->proofs[i].n_hashes; j++, h++) {
			hashes[h] = (ProtobufCBinaryData){ MERKLE_HASH_LEN,
							   (uint8_t *)p->proofs[i].hashes[j] };
		}
		pp[i] = &proofs[i];
	}
	qsort(pp, p->n_proofs, sizeof(*pp), by_size);

	d.version = DOSSIER_VERSION;
	d.relay_name = (char *)p->relay->name;
	d.relay_key = (ProtobufCBinaryData){ KEYS_SIGN_PK_LEN, (uint8_t *)p->relay->pk };
	d.envelope = (ProtobufCBinaryData){ p->envelope_len, (uint8_t *)p->envelope };
	d.sender_entry = (ProtobufCBinaryData){ p->sender_entry_len, (uint8_t *)p->sender_entry };
	d.recipient_entry =
		(ProtobufCBinaryData){ p->recipient_entry_len, (uint8_t *)p->recipient_entry };
	d.n_receipts = p->n_receipts;
	d.receipts = rp;
	d.checkpoint = (ProtobufCBinaryData){ p->checkpoint_len, (uint8_t *)p->checkpoint };
	d.n_proofs = p->n_proofs;
	d.proofs = pp;
	if ((rc = proto_pack_alloc(&d.base, &buf, &len)) != DX_OK) {
		goto out;
	}
	if ((rc = dossier_verify(buf, len, p->relay, &rep)) != DX_OK) {
		goto out;
	}
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	if (rc_list != NULL) {
		for (size_t i = 0; i < p->n_receipts; i++) {
			free(rc_list[i].bytes);
		}
	}
	free(rc_list);
	free(rp);
	free(proofs);
	free(pp);
	free(hashes);
	return rc;
}
