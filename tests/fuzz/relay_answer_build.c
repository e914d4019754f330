/*
 * relay_answer_build.c: see relay_answer_build.h. An honest relay's answers
 * for fuzz_relay_answer.c, built with the real leaf, checkpoint and proof
 * code, so that the fuzzer starts from answers the client accepts.
 */
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "relay_answer_build.h"
#include "roster.h"
#include "seal.h"

struct keys *ra_fra, *ra_mex;
uint8_t ra_relay_pk[crypto_sign_PUBLICKEYBYTES], ra_relay_sk[crypto_sign_SECRETKEYBYTES];
uint8_t *ra_env_out, *ra_env_in, *ra_entry_fra;
size_t ra_env_out_len, ra_env_in_len, ra_entry_fra_len;
struct envelope_info ra_info_out, ra_info_in;
const uint8_t RA_ATT_ID[16] = { 0xa7 };
const uint8_t RA_SALT[RELAY_SALT_LEN] = { 0x5a, 0x17 };

static void make_keys(const char *state, uint8_t fill, struct keys **out)
{
	uint8_t seed[32];
	memset(seed, fill, sizeof(seed));
	if (keys_generate(state, RA_T0 - 1000, KEYS_PREKEY_PERIOD_MS, seed, out) != DX_OK) {
		abort();
	}
}

static void seal(const struct keys *from, const struct keys *to, uint8_t **out, size_t *len,
		 struct envelope_info *info)
{
	struct seal_peer peer;
	uint8_t id[ENVELOPE_ID_LEN];
	static const uint8_t body[] = "fuzz";
	memset(&peer, 0, sizeof(peer));
	memcpy(peer.state, keys_state(to), 4);
	keys_identity_pk(to, peer.identity_pk);
	keys_static_pk(to, peer.static_pk);
	memcpy(peer.prekey_pk, keys_prekey_current(to, RA_T0)->pk, 32);
	struct seal_params p = {
		.sender = from,
		.recipient = &peer,
		.sequence = 1,
		.created_ms = RA_T0,
		.body = body,
		.body_len = sizeof(body),
	};
	if (seal_envelope(&p, out, len, id, NULL) != DX_OK ||
	    envelope_parse(*out, *len, info) != DX_OK) {
		abort();
	}
}

void ra_init(void)
{
	uint8_t seed[crypto_sign_SEEDBYTES];
	if (sodium_init() < 0) {
		abort();
	}
	memset(seed, 0x07, sizeof(seed));
	crypto_sign_seed_keypair(ra_relay_pk, ra_relay_sk, seed);
	make_keys("FRA", 0x01, &ra_fra);
	make_keys("MEX", 0x02, &ra_mex);
	seal(ra_fra, ra_mex, &ra_env_out, &ra_env_out_len, &ra_info_out);
	seal(ra_mex, ra_fra, &ra_env_in, &ra_env_in_len, &ra_info_in);
	if (roster_entry_build(ra_fra, "FRA", NULL, 0, RA_T0, &ra_entry_fra, &ra_entry_fra_len) !=
	    DX_OK) {
		abort();
	}
}

/* ---- the tree a built answer is proved in ---- */

static int sign_cb(void *ctx, uint8_t sig[KEYS_SIG_LEN], const uint8_t *msg, size_t len)
{
	(void)ctx;
	crypto_sign_detached(sig, NULL, msg, len, ra_relay_sk);
	return 0;
}

/* Leaves other than the ones the request makes. */
static void other_leaf(uint8_t out[9], uint64_t i)
{
	out[0] = 0xee;
	dx_put_be64(out + 1, i);
}

/* Builds n leaves: targets (0, 1 or 2 leaf data) at t.target and after. */
void ra_tree_make(struct ra_tree *t, const uint8_t *const *targets, const size_t *target_len,
		  size_t n_targets)
{
	merkle_memstore_init(&t->store);
	if (merkle_init(&t->m, &merkle_memstore_ops, &t->store, 0) != DX_OK) {
		abort();
	}
	if (t->n < t->target + n_targets) {
		t->n = t->target + n_targets;
	}
	for (uint64_t i = 0; i < t->n; i++) {
		uint8_t o[9];
		int rc;
		if (i >= t->target && i < t->target + n_targets) {
			rc = merkle_append(&t->m, targets[i - t->target], target_len[i - t->target],
					   NULL, NULL);
		} else {
			other_leaf(o, i);
			rc = merkle_append(&t->m, o, sizeof(o), NULL, NULL);
		}
		if (rc != DX_OK) {
			abort();
		}
	}
	t->made = 1;
}

void ra_tree_free(struct ra_tree *t)
{
	if (t->made) {
		merkle_memstore_fini(&t->store);
		t->made = 0;
	}
}

/* The signed checkpoint of the tree's first size leaves. */
size_t ra_tree_checkpoint(const struct ra_tree *t, uint64_t size, char out[CHECKPOINT_MAX + 1])
{
	uint8_t root[MERKLE_HASH_LEN];
	size_t len;
	if (merkle_root(&t->m, size, root) != DX_OK ||
	    checkpoint_sign(RA_NAME, size, root, RA_NAME, ra_relay_pk, sign_cb, NULL, out,
			    CHECKPOINT_MAX + 1, &len) != DX_OK) {
		abort();
	}
	return len;
}

/* ---- building correct answers ---- */

struct answer {
	Dx__RelayResponse r;
	Dx__Receipt rc;
	Dx__MailItem mail[2], *mailp[2];
	Dx__RosterItem ros[2], *rosp[2];
	Dx__Statement st[2], *stp[2];
	ProtobufCBinaryData proofs[3][MERKLE_MAX_PROOF];
	uint8_t hashes[3][MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint8_t *stmt_req[2];
	size_t stmt_len[2];
	char cp[CHECKPOINT_MAX + 1];
	uint8_t data[512];
};

static void set_proof(struct answer *a, int slot, uint8_t (*h)[MERKLE_HASH_LEN], size_t n,
		      size_t *n_out, ProtobufCBinaryData **out)
{
	for (size_t i = 0; i < n; i++) {
		a->proofs[slot][i] = (ProtobufCBinaryData){ MERKLE_HASH_LEN, h[i] };
	}
	*n_out = n;
	*out = a->proofs[slot];
}

static void inclusion(struct answer *a, const struct ra_tree *t, int slot, uint64_t index,
		      size_t *n_out, ProtobufCBinaryData **out)
{
	size_t n;
	if (merkle_inclusion_proof(&t->m, index, t->n, a->hashes[slot], &n) != DX_OK) {
		abort();
	}
	set_proof(a, slot, a->hashes[slot], n, n_out, out);
}

/* A signed fetch (kind 2) or ack (kind 3) of the received envelope, as FRA made it. */
static void statement_request(int kind, uint8_t **out, size_t *len)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__FetchOp f = DX__FETCH_OP__INIT;
	Dx__AckOp a = DX__ACK_OP__INIT;
	uint8_t id[RELAY_REQUEST_ID_LEN];
	memset(id, kind, sizeof(id));
	b.request_id = (ProtobufCBinaryData){ sizeof(id), id };
	b.time_ms = RA_T0 + (uint64_t)kind;
	if (kind == RELAY_LEAF_FETCHED) {
		f.digest = (ProtobufCBinaryData){ ENVELOPE_HASH_LEN, ra_info_in.digest };
		b.op_case = DX__REQUEST_BODY__OP_FETCH;
		b.fetch = &f;
	} else {
		a.digest = (ProtobufCBinaryData){ ENVELOPE_HASH_LEN, ra_info_in.digest };
		b.op_case = DX__REQUEST_BODY__OP_ACK;
		b.ack = &a;
	}
	if (relay_request_sign(ra_fra, &b, out, len) != DX_OK) {
		abort();
	}
}

/*
 * The leaves the request makes, for the tree of the first answer: returns
 * how many (0..2), written into leaves.
 */
static size_t request_leaves(const struct relay_request *q, const uint8_t *raw, size_t raw_len,
			     struct answer *a, uint8_t leaves[2][RELAY_LEAF_MAX], size_t lens[2])
{
	const Dx__RequestBody *b = q->body;
	struct envelope_info e;
	switch (b->op_case) {
	case DX__REQUEST_BODY__OP_SUBMIT:
		if (envelope_parse(b->submit->envelope.data, b->submit->envelope.len, &e) !=
		    DX_OK) {
			abort();
		}
		lens[0] = relay_leaf_accepted(leaves[0], e.digest, e.sender, e.recipient, RA_SALT,
					      RA_T0);
		return 1;
	case DX__REQUEST_BODY__OP_FETCH:
		lens[0] = relay_leaf_statement(leaves[0], RELAY_LEAF_FETCHED, b->fetch->digest.data,
					       raw, raw_len, RA_T0);
		return 1;
	case DX__REQUEST_BODY__OP_ACK:
		lens[0] = relay_leaf_statement(leaves[0], RELAY_LEAF_ACKED, b->ack->digest.data,
					       raw, raw_len, RA_T0);
		return 1;
	case DX__REQUEST_BODY__OP_PUBLISH:
		lens[0] = relay_leaf_roster(leaves[0], "FRA", RELAY_STATUS_PARTY,
					    b->publish->signed_entry.data,
					    b->publish->signed_entry.len, RA_T0);
		return 1;
	case DX__REQUEST_BODY__OP_STATEMENTS:
		for (int k = 0; k < 2; k++) {
			statement_request(RELAY_LEAF_FETCHED + k, &a->stmt_req[k], &a->stmt_len[k]);
			lens[k] = relay_leaf_statement(
				leaves[k], (enum relay_leaf_kind)(RELAY_LEAF_FETCHED + k),
				ra_info_in.digest, a->stmt_req[k], a->stmt_len[k],
				RA_T0 + (uint64_t)k);
		}
		return 2;
	default:
		return 0;
	}
}

static void receipt(struct answer *a, const struct ra_tree *t, int with_salt)
{
	dx__receipt__init(&a->rc);
	a->rc.checkpoint = a->r.checkpoint;
	a->rc.leaf_index = t->target;
	a->rc.time_ms = RA_T0;
	if (with_salt) {
		a->rc.salt = (ProtobufCBinaryData){ RELAY_SALT_LEN, (uint8_t *)RA_SALT };
	}
	inclusion(a, t, 0, t->target, &a->rc.n_proof, &a->rc.proof);
	a->r.receipt = &a->rc;
}

static void answer_op(struct answer *a, const struct ra_tree *t, const Dx__RequestBody *b)
{
	switch (b->op_case) {
	case DX__REQUEST_BODY__OP_SUBMIT:
	case DX__REQUEST_BODY__OP_ACK:
	case DX__REQUEST_BODY__OP_PUBLISH:
		receipt(a, t, b->op_case == DX__REQUEST_BODY__OP_SUBMIT);
		break;
	case DX__REQUEST_BODY__OP_FETCH:
		receipt(a, t, 1);
		a->r.envelope = (ProtobufCBinaryData){ ra_env_in_len, ra_env_in };
		break;
	case DX__REQUEST_BODY__OP_LIST:
		for (int i = 0; i < 2; i++) {
			dx__mail_item__init(&a->mail[i]);
			a->mail[i].digest =
				(ProtobufCBinaryData){ ENVELOPE_HASH_LEN, ra_info_in.digest };
			a->mail[i].sender = "MEX";
			a->mail[i].size = ra_env_in_len;
			a->mail[i].received_ms = RA_T0 + (uint64_t)i;
			a->mailp[i] = &a->mail[i];
		}
		a->r.n_mail = 2;
		a->r.mail = a->mailp;
		break;
	case DX__REQUEST_BODY__OP_ROSTER:
		for (int i = 0; i < 2; i++) {
			dx__roster_item__init(&a->ros[i]);
			a->ros[i].signed_entry =
				(ProtobufCBinaryData){ ra_entry_fra_len, ra_entry_fra };
			a->ros[i].status = RELAY_STATUS_PARTY + (uint32_t)i;
			a->ros[i].log_index = (uint64_t)i;
			a->rosp[i] = &a->ros[i];
		}
		a->r.n_roster = 2;
		a->r.roster = a->rosp;
		break;
	case DX__REQUEST_BODY__OP_UPLOAD:
		a->r.total_size = b->upload->offset + b->upload->data.len;
		break;
	case DX__REQUEST_BODY__OP_DOWNLOAD:
		memset(a->data, 0x3c, sizeof(a->data));
		a->r.data =
			(ProtobufCBinaryData){ b->download->max < sizeof(a->data) ? b->download->max
										  : sizeof(a->data),
					       a->data };
		a->r.total_size = sizeof(a->data);
		break;
	case DX__REQUEST_BODY__OP_CONSISTENCY: {
		size_t n = 0;
		uint64_t o = b->consistency->old_size, w = b->consistency->new_size;
		if (o > w || w > t->n ||
		    merkle_consistency_proof(&t->m, o, w, a->hashes[2], &n) != DX_OK) {
			a->r.status = DX_EINVAL;
			break;
		}
		set_proof(a, 2, a->hashes[2], n, &a->r.n_proof, &a->r.proof);
		break;
	}
	case DX__REQUEST_BODY__OP_STATEMENTS:
		for (int k = 0; k < 2; k++) {
			dx__statement__init(&a->st[k]);
			a->st[k].kind = RELAY_LEAF_FETCHED + (uint32_t)k;
			a->st[k].request = (ProtobufCBinaryData){ a->stmt_len[k], a->stmt_req[k] };
			a->st[k].leaf_index = t->target + (uint64_t)k;
			a->st[k].time_ms = RA_T0 + (uint64_t)k;
			inclusion(a, t, k, t->target + (uint64_t)k, &a->st[k].n_proof,
				  &a->st[k].proof);
			a->stp[k] = &a->st[k];
		}
		a->r.n_statements = 2;
		a->r.statements = a->stp;
		break;
	default:
		break;
	}
}

void ra_build_session_answer(const uint8_t *raw, size_t len, int accept, uint8_t **out,
			     size_t *out_len)
{
	struct relay_request q;
	Dx__RelayResponse r = DX__RELAY_RESPONSE__INIT;
	Dx__SessionAnswer a = DX__SESSION_ANSWER__INIT;
	uint8_t sk[32], pk[32], id[RELAY_SESSION_ID_LEN], sig[64], rh[32], t[32];
	uint8_t stmt[RELAY_SESSION_STATEMENT_MAX];
	if (relay_request_parse(raw, len, &q) != DX_OK) {
		abort();
	}
	r.request_id = q.body->request_id;
	r.message = "";
	if (!accept) {
		r.status = DX_EPARSE;
	} else {
		randombytes_buf(sk, sizeof(sk));
		randombytes_buf(id, sizeof(id));
		crypto_scalarmult_base(pk, sk);
		relay_request_hash(rh, raw, len);
		relay_session_transcript(t, rh, pk, id, 3600000);
		crypto_sign_detached(sig, NULL, stmt, relay_session_statement(stmt, t), ra_relay_sk);
		a.session_id = (ProtobufCBinaryData){ sizeof(id), id };
		a.relay_pk = (ProtobufCBinaryData){ sizeof(pk), pk };
		a.lifetime_ms = 3600000;
		a.signature = (ProtobufCBinaryData){ sizeof(sig), sig };
		r.session = &a;
	}
	if (proto_pack_alloc(&r.base, out, out_len) != DX_OK) {
		abort();
	}
	relay_request_free(&q);
}

int ra_is_session(const uint8_t *raw, size_t len)
{
	struct relay_request q;
	if (relay_request_parse(raw, len, &q) != DX_OK) {
		return 0;
	}
	int is = q.body->op_case == DX__REQUEST_BODY__OP_SESSION;
	relay_request_free(&q);
	return is;
}

/*
 * The correct answer to the request raw: packed into *out (malloc'd). The
 * first answer of an input makes the tree, with the leaves its request
 * makes; later ones (proofs, syncs) use it as it is.
 */
void ra_build_answer(struct ra_tree *t, const uint8_t *raw, size_t len, uint8_t **out,
		     size_t *out_len)
{
	struct relay_request q;
	struct answer *a = calloc(1, sizeof(*a));
	uint8_t leaves[2][RELAY_LEAF_MAX];
	size_t lens[2];
	if (a == NULL || relay_request_parse(raw, len, &q) != DX_OK) {
		abort();
	}
	if (q.body->op_case == DX__REQUEST_BODY__OP_SESSION) {
		abort(); /* answered by ra_build_session_answer() */
	}
	if (!t->made) {
		size_t n = request_leaves(&q, raw, len, a, leaves, lens);
		const uint8_t *lp[2] = { leaves[0], leaves[1] };
		ra_tree_make(t, lp, lens, n);
	} else if (q.body->op_case == DX__REQUEST_BODY__OP_STATEMENTS) {
		abort();
	}
	dx__relay_response__init(&a->r);
	a->r.request_id = q.body->request_id;
	size_t cp_len = ra_tree_checkpoint(t, t->n, a->cp);
	a->r.checkpoint = (ProtobufCBinaryData){ cp_len, (uint8_t *)a->cp };
	answer_op(a, t, q.body);
	if (proto_pack_alloc(&a->r.base, out, out_len) != DX_OK) {
		abort();
	}
	relay_request_free(&q);
	free(a->stmt_req[0]);
	free(a->stmt_req[1]);
	free(a);
}
