/*
 * fuzz_proof: Merkle inclusion and consistency proofs (daemon/core/merkle.h)
 * and the receipts built on them (relay_receipt_verify), on proofs a relay
 * chose. A node checks every proof the relay hands it; a relay that lies
 * must be caught, and a malformed proof must be refused without a crash.
 *
 * The first input byte picks what the rest is:
 *   0: a raw inclusion proof: be64 index, be64 size, root (32), leaf hash
 *      (32), then the proof hashes (any count, more than MERKLE_MAX_PROOF
 *      included). The verifier must give DX_OK, DX_EPROOF or DX_EINVAL.
 *   1: a raw consistency proof: be64 size1, be64 size2, root1, root2, then
 *      the proof hashes; the same codes.
 *   2: a tree the harness builds: be16 size (1..MERKLE_FUZZ_LEAVES), be16
 *      index, be16 old size, a leaf salt byte, a mutation byte and be16
 *      mutation position. The true inclusion and consistency proofs must
 *      verify; a flipped bit in a proof hash, the leaf or a root, a hash
 *      dropped or added must be refused (short of a SHA-256 collision).
 *   3: as 2, and the inclusion proof travels in a Receipt whose checkpoint
 *      the harness signs with a fixed relay key: the receipt must verify
 *      for its leaf, and not once mutated as in 2.
 */
#include <stdlib.h>
#include <string.h>

#include "relay_wire.h"

#define MERKLE_FUZZ_LEAVES 300
#define ORIGIN "fuzz.divex/relay"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t relay_pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t relay_sk[crypto_sign_SECRETKEYBYTES];

static void init(void)
{
	static int ready;
	uint8_t seed[crypto_sign_SEEDBYTES];
	if (ready) {
		return;
	}
	if (sodium_init() < 0) {
		abort();
	}
	memset(seed, 0x07, sizeof(seed));
	crypto_sign_seed_keypair(relay_pk, relay_sk, seed);
	ready = 1;
}

static void expect_code(int rc)
{
	if (rc != DX_OK && rc != DX_EPROOF && rc != DX_EINVAL) {
		abort();
	}
}

static void raw_inclusion(const uint8_t *p, size_t len)
{
	if (len < 80) {
		return;
	}
	size_t n = (len - 80) / MERKLE_HASH_LEN;
	int rc = merkle_verify_inclusion(p + 48, dx_get_be64(p), dx_get_be64(p + 8),
					 (const uint8_t(*)[MERKLE_HASH_LEN])(p + 80), n, p + 16);
	expect_code(rc);
	if (n > MERKLE_MAX_PROOF && rc == DX_OK) {
		abort();
	}
}

static void raw_consistency(const uint8_t *p, size_t len)
{
	if (len < 80) {
		return;
	}
	size_t n = (len - 80) / MERKLE_HASH_LEN;
	int rc = merkle_verify_consistency(dx_get_be64(p), dx_get_be64(p + 8), p + 16, p + 48,
					   (const uint8_t(*)[MERKLE_HASH_LEN])(p + 80), n);
	expect_code(rc);
	if (n > MERKLE_MAX_PROOF && rc == DX_OK) {
		abort();
	}
}

/* What mode 2 and 3 build: a tree, one leaf's proof, a consistency proof. */
struct built {
	struct merkle_memstore store;
	struct merkle m;
	uint64_t size, index, old_size;
	uint8_t leaf[9];
	uint8_t leaf_hash[MERKLE_HASH_LEN];
	uint8_t root[MERKLE_HASH_LEN], old_root[MERKLE_HASH_LEN];
	uint8_t incl[MERKLE_MAX_PROOF + 1][MERKLE_HASH_LEN];
	size_t n_incl;
	uint8_t cons[MERKLE_MAX_PROOF + 1][MERKLE_HASH_LEN];
	size_t n_cons;
};

static void leaf_data(uint8_t out[9], uint64_t i, uint8_t salt)
{
	dx_put_be64(out, i);
	out[8] = salt;
}

static int build(struct built *b, const uint8_t *p, size_t len)
{
	if (len < 7) {
		return -1;
	}
	b->size = 1 + (((uint64_t)p[0] << 8 | p[1]) % MERKLE_FUZZ_LEAVES);
	b->index = ((uint64_t)p[2] << 8 | p[3]) % b->size;
	b->old_size = ((uint64_t)p[4] << 8 | p[5]) % (b->size + 1);
	merkle_memstore_init(&b->store);
	if (merkle_init(&b->m, &merkle_memstore_ops, &b->store, 0) != DX_OK) {
		abort();
	}
	for (uint64_t i = 0; i < b->size; i++) {
		uint8_t d[9];
		leaf_data(d, i, p[6]);
		if (merkle_append(&b->m, d, sizeof(d), NULL, NULL) != DX_OK) {
			abort();
		}
	}
	leaf_data(b->leaf, b->index, p[6]);
	merkle_leaf_hash(b->leaf_hash, b->leaf, sizeof(b->leaf));
	if (merkle_root(&b->m, b->size, b->root) != DX_OK ||
	    merkle_root(&b->m, b->old_size, b->old_root) != DX_OK ||
	    merkle_inclusion_proof(&b->m, b->index, b->size, b->incl, &b->n_incl) != DX_OK ||
	    merkle_consistency_proof(&b->m, b->old_size, b->size, b->cons, &b->n_cons) != DX_OK) {
		abort();
	}
	return 0;
}

enum mutation {
	MUT_NONE,
	MUT_FLIP_PROOF, /* one bit of one proof hash */
	MUT_FLIP_LEAF,	/* one bit of the leaf (hash) */
	MUT_FLIP_ROOT,	/* one bit of the (new) root */
	MUT_DROP,	/* the last proof hash dropped */
	MUT_ADD,	/* one hash more */
	MUT_INDEX,	/* another index or size: must not crash, may verify by chance */
	N_MUTATIONS,
};

static int verify_inclusion(const struct built *b)
{
	return merkle_verify_inclusion(b->leaf_hash, b->index, b->size,
				       (const uint8_t(*)[MERKLE_HASH_LEN])b->incl, b->n_incl,
				       b->root);
}

static int verify_consistency(const struct built *b)
{
	return merkle_verify_consistency(b->old_size, b->size, b->old_root, b->root,
					 (const uint8_t(*)[MERKLE_HASH_LEN])b->cons, b->n_cons);
}

/*
 * Applies mutation m at position pos to the proof of the given kind (0
 * inclusion, 1 consistency); returns 1 when the proof must now fail, 0 when
 * nothing was changed or the change may verify, -1 to stop.
 */
static int mutate(struct built *b, int consistency, enum mutation m, unsigned pos)
{
	uint8_t(*proof)[MERKLE_HASH_LEN] = consistency ? b->cons : b->incl;
	size_t *n = consistency ? &b->n_cons : &b->n_incl;
	switch (m) {
	case MUT_FLIP_PROOF:
		if (*n == 0) {
			return 0;
		}
		proof[(pos / 256) % *n][(pos / 8) % MERKLE_HASH_LEN] ^= (uint8_t)(1u << (pos % 8));
		return 1;
	case MUT_FLIP_LEAF:
		if (consistency) {
			/* A consistency proof has no leaf: flip the old root. */
			b->old_root[(pos / 8) % MERKLE_HASH_LEN] ^= (uint8_t)(1u << (pos % 8));
			return 1;
		}
		b->leaf_hash[(pos / 8) % MERKLE_HASH_LEN] ^= (uint8_t)(1u << (pos % 8));
		return 1;
	case MUT_FLIP_ROOT:
		b->root[(pos / 8) % MERKLE_HASH_LEN] ^= (uint8_t)(1u << (pos % 8));
		return 1;
	case MUT_DROP:
		if (*n == 0) {
			return 0;
		}
		(*n)--;
		return 1;
	case MUT_ADD:
		if (*n >= MERKLE_MAX_PROOF) {
			return 0;
		}
		memset(proof[*n], (int)pos, MERKLE_HASH_LEN);
		(*n)++;
		return 1;
	case MUT_INDEX:
		if (consistency) {
			b->old_size = (b->old_size + 1 + pos) % (b->size + 2);
		} else {
			b->index = (b->index + 1 + pos) % (b->size + 2);
		}
		return 0;
	default:
		return 0;
	}
}

static void tree_proofs(const uint8_t *p, size_t len)
{
	struct built b;
	if (build(&b, p, len) != 0) {
		return;
	}
	if (verify_inclusion(&b) != DX_OK || verify_consistency(&b) != DX_OK) {
		abort();
	}
	enum mutation m = len > 7 ? (enum mutation)(p[7] % N_MUTATIONS) : MUT_NONE;
	unsigned pos = len > 9 ? (unsigned)(p[8] << 8 | p[9]) : 0;
	struct built c = b;
	int must_fail = mutate(&c, 0, m, pos);
	int rc = verify_inclusion(&c);
	expect_code(rc);
	if (must_fail && rc == DX_OK) {
		abort();
	}
	c = b;
	must_fail = mutate(&c, 1, m, pos);
	rc = verify_consistency(&c);
	expect_code(rc);
	/*
	 * The old root of an empty tree, or of one as large as the new tree, is
	 * compared rather than proved: a flipped bit there must fail too. But
	 * the empty tree is a prefix of every tree, whatever its root: from size
	 * 0 the new root is not constrained.
	 */
	if (b.old_size == 0 && m == MUT_FLIP_ROOT) {
		must_fail = 0;
	}
	if (must_fail && rc == DX_OK) {
		abort();
	}
	merkle_memstore_fini(&b.store);
}

static int sign_cb(void *ctx, uint8_t sig[KEYS_SIG_LEN], const uint8_t *msg, size_t len)
{
	(void)ctx;
	crypto_sign_detached(sig, NULL, msg, len, relay_sk);
	return 0;
}

static int receipt_verifies(const struct built *b, const char *cp, size_t cp_len)
{
	ProtobufCBinaryData hashes[MERKLE_MAX_PROOF + 1];
	struct relay_identity id;
	struct checkpoint out;
	Dx__Receipt r = DX__RECEIPT__INIT;
	for (size_t i = 0; i < b->n_incl; i++) {
		hashes[i] = (ProtobufCBinaryData){ MERKLE_HASH_LEN, (uint8_t *)b->incl[i] };
	}
	memset(&id, 0, sizeof(id));
	memcpy(id.name, ORIGIN, sizeof(ORIGIN));
	memcpy(id.pk, relay_pk, sizeof(relay_pk));
	r.checkpoint = (ProtobufCBinaryData){ cp_len, (uint8_t *)cp };
	r.leaf_index = b->index;
	r.n_proof = b->n_incl;
	r.proof = hashes;
	int rc = relay_receipt_verify(&r, b->leaf, sizeof(b->leaf), &id, &out);
	if (rc == DX_OK && (out.size != b->size || strcmp(out.origin, ORIGIN) != 0)) {
		abort();
	}
	return rc;
}

static void receipt(const uint8_t *p, size_t len)
{
	struct built b;
	char cp[CHECKPOINT_MAX + 1];
	size_t cp_len;
	if (build(&b, p, len) != 0) {
		return;
	}
	if (checkpoint_sign(ORIGIN, b.size, b.root, ORIGIN, relay_pk, sign_cb, NULL, cp, sizeof(cp),
			    &cp_len) != DX_OK) {
		abort();
	}
	if (receipt_verifies(&b, cp, cp_len) != DX_OK) {
		abort();
	}
	enum mutation m = len > 7 ? (enum mutation)(p[7] % N_MUTATIONS) : MUT_NONE;
	unsigned pos = len > 9 ? (unsigned)(p[8] << 8 | p[9]) : 0;
	struct built c = b;
	int must_fail = mutate(&c, 0, m, pos);
	/* The leaf itself (not its hash) is what a receipt is checked against. */
	if (m == MUT_FLIP_LEAF) {
		c.leaf[(pos / 8) % sizeof(c.leaf)] ^= (uint8_t)(1u << (pos % 8));
	}
	int rc = receipt_verifies(&c, cp, cp_len);
	if (must_fail && m != MUT_FLIP_ROOT && rc == DX_OK) {
		abort();
	}
	/* A flipped byte of the signed text: another root, size or a bad signature. */
	if (m == MUT_FLIP_ROOT) {
		cp[(pos / 8) % cp_len] ^= (uint8_t)(1u << (pos % 8));
		if (receipt_verifies(&b, cp, cp_len) == DX_OK) {
			abort();
		}
	}
	merkle_memstore_fini(&b.store);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init();
	if (size == 0) {
		return 0;
	}
	switch (data[0] % 4) {
	case 0:
		raw_inclusion(data + 1, size - 1);
		break;
	case 1:
		raw_consistency(data + 1, size - 1);
		break;
	case 2:
		tree_proofs(data + 1, size - 1);
		break;
	default:
		receipt(data + 1, size - 1);
		break;
	}
	return 0;
}
