/*
 * merkle.c: the audit log's Merkle tree. See merkle.h, and RFC 9162 section
 * 2.1 for the definitions this file follows.
 *
 * Every subtree that RFC 9162's recursive definitions name covers a range
 * [start, start + len) whose start is a multiple of the largest power of two
 * not above len. Such a range splits, by the bits of len from the highest,
 * into perfect subtrees that the store holds, and its hash is their roots
 * folded from the right. That is how roots and proof entries are computed
 * here: one store read per perfect subtree, never a leaf rehashed.
 *
 * Proofs are built from the top of the tree down, which is the natural order
 * for walking it, and then reversed, because RFC 9162 lists them from the
 * leaf upwards.
 */
#include "merkle.h"

#include <stdlib.h>
#include <string.h>

#define NODE_PREFIX 0x01
#define LEAF_PREFIX 0x00

static const uint8_t empty_input[1];

int merkle_init(struct merkle *m, const struct merkle_store_ops *ops, void *ctx, uint64_t size)
{
	if (m == NULL || ops == NULL || ops->get == NULL || ops->put == NULL ||
	    size > MERKLE_MAX_SIZE) {
		return DX_EINVAL;
	}
	m->ops = ops;
	m->ctx = ctx;
	m->size = size;
	return DX_OK;
}

void merkle_leaf_hash(uint8_t out[static MERKLE_HASH_LEN], const uint8_t *data, size_t len)
{
	crypto_hash_sha256_state st;
	const uint8_t prefix = LEAF_PREFIX;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	if (len > 0) {
		crypto_hash_sha256_update(&st, data, len);
	}
	crypto_hash_sha256_final(&st, out);
}

void merkle_node_hash(uint8_t out[static MERKLE_HASH_LEN],
		      const uint8_t left[static MERKLE_HASH_LEN],
		      const uint8_t right[static MERKLE_HASH_LEN])
{
	uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

	buf[0] = NODE_PREFIX;
	memcpy(buf + 1, left, MERKLE_HASH_LEN);
	memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

static void empty_root(uint8_t out[static MERKLE_HASH_LEN])
{
	crypto_hash_sha256(out, empty_input, 0);
}

/* A store that answers with a positive number is broken; call that an I/O error. */
static int store_get(const struct merkle *m, unsigned level, uint64_t index,
		     uint8_t out[MERKLE_HASH_LEN])
{
	int rc = m->ops->get(m->ctx, level, index, out);
	return rc > 0 ? DX_EIO : rc;
}

static int store_put(struct merkle *m, unsigned level, uint64_t index,
		     const uint8_t h[MERKLE_HASH_LEN])
{
	int rc = m->ops->put(m->ctx, level, index, h);
	return rc > 0 ? DX_EIO : rc;
}

/* RFC 9162's k: the largest power of two smaller than n, for n >= 2. */
static uint64_t split_point(uint64_t n)
{
	return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/*
 * MTH(D[start:start+len]) for len >= 1, from stored perfect subtrees. The
 * recursive definitions only ever name ranges aligned as described at the
 * top of this file; anything else is a bug in the caller.
 */
static int range_hash(const struct merkle *m, uint64_t start, uint64_t len,
		      uint8_t out[static MERKLE_HASH_LEN])
{
	uint8_t acc[MERKLE_HASH_LEN], h[MERKLE_HASH_LEN];
	uint64_t rem = len;
	int have = 0;

	if (len == 0 || start > m->size || len > m->size - start) {
		return DX_EINVAL;
	}
	unsigned top = 63 - (unsigned)__builtin_clzll(len);
	if ((start & ((UINT64_C(1) << top) - 1)) != 0) {
		return DX_EINVAL;
	}
	while (rem != 0) {
		unsigned level = (unsigned)__builtin_ctzll(rem);
		uint64_t width = UINT64_C(1) << level;
		uint64_t off = start + (rem - width);
		int rc = store_get(m, level, off >> level, h);
		if (rc != 0) {
			return rc;
		}
		if (have) {
			merkle_node_hash(acc, h, acc);
		} else {
			memcpy(acc, h, sizeof(acc));
			have = 1;
		}
		rem -= width;
	}
	memcpy(out, acc, MERKLE_HASH_LEN);
	return DX_OK;
}

int merkle_append(struct merkle *m, const uint8_t *leaf_data, size_t len, uint64_t *index_out,
		  uint8_t leaf_hash_out[MERKLE_HASH_LEN])
{
	uint8_t leaf[MERKLE_HASH_LEN], h[MERKLE_HASH_LEN], left[MERKLE_HASH_LEN];
	uint64_t n = m->size;
	uint64_t idx = n;
	unsigned level = 0;
	int rc;

	if (n >= MERKLE_MAX_SIZE) {
		return DX_ETOOBIG;
	}
	if (leaf_data == NULL && len > 0) {
		return DX_EINVAL;
	}
	merkle_leaf_hash(leaf, leaf_data, len);
	rc = store_put(m, 0, n, leaf);
	if (rc != 0) {
		return rc;
	}
	/* A node with an odd index is a right child: it completes its parent. */
	memcpy(h, leaf, sizeof(h));
	while (idx & 1) {
		rc = store_get(m, level, idx - 1, left);
		if (rc != 0) {
			return rc;
		}
		merkle_node_hash(h, left, h);
		idx >>= 1;
		level++;
		rc = store_put(m, level, idx, h);
		if (rc != 0) {
			return rc;
		}
	}
	m->size = n + 1;
	if (index_out != NULL) {
		*index_out = n;
	}
	if (leaf_hash_out != NULL) {
		memcpy(leaf_hash_out, leaf, MERKLE_HASH_LEN);
	}
	return DX_OK;
}

int merkle_root(const struct merkle *m, uint64_t size, uint8_t out[static MERKLE_HASH_LEN])
{
	if (size > m->size) {
		return DX_EINVAL;
	}
	if (size == 0) {
		empty_root(out);
		return DX_OK;
	}
	return range_hash(m, 0, size, out);
}

/* Writes n hashes from tmp into proof in reverse order, after `first` entries already there. */
static void reverse_into(uint8_t (*proof)[MERKLE_HASH_LEN], size_t first,
			 uint8_t (*tmp)[MERKLE_HASH_LEN], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memcpy(proof[first + i], tmp[n - 1 - i], MERKLE_HASH_LEN);
	}
}

int merkle_inclusion_proof(const struct merkle *m, uint64_t index, uint64_t size,
			   uint8_t (*proof)[MERKLE_HASH_LEN], size_t *n_proof)
{
	uint8_t tmp[MERKLE_MAX_PROOF][MERKLE_HASH_LEN];
	uint64_t start = 0, n = size;
	size_t cnt = 0;

	if (index >= size || size > m->size) {
		return DX_EINVAL;
	}
	/* PATH(m, D[n]): descend towards the leaf, keeping each sibling. */
	while (n > 1) {
		uint64_t k = split_point(n);
		int rc;
		if (cnt == MERKLE_MAX_PROOF) {
			return DX_EINVAL;
		}
		if (index - start < k) {
			rc = range_hash(m, start + k, n - k, tmp[cnt]);
			n = k;
		} else {
			rc = range_hash(m, start, k, tmp[cnt]);
			start += k;
			n -= k;
		}
		if (rc != 0) {
			return rc;
		}
		cnt++;
	}
	reverse_into(proof, 0, tmp, cnt);
	*n_proof = cnt;
	return DX_OK;
}

int merkle_consistency_proof(const struct merkle *m, uint64_t size1, uint64_t size2,
			     uint8_t (*proof)[MERKLE_HASH_LEN], size_t *n_proof)
{
	uint8_t tmp[MERKLE_MAX_PROOF][MERKLE_HASH_LEN], last[MERKLE_HASH_LEN];
	uint64_t start = 0, n = size2, mm = size1;
	size_t cnt = 0, n_last = 0;
	int whole = 1; /* RFC 9162's b: the old tree is a complete subtree here */
	int rc;

	if (size1 > size2 || size2 > m->size) {
		return DX_EINVAL;
	}
	if (size1 == 0 || size1 == size2) {
		*n_proof = 0;
		return DX_OK;
	}
	/* SUBPROOF(m, D[n], b), from the top down. */
	for (;;) {
		if (mm == n) {
			if (!whole) {
				rc = range_hash(m, start, n, last);
				if (rc != 0) {
					return rc;
				}
				n_last = 1;
			}
			break;
		}
		uint64_t k = split_point(n);
		if (cnt == MERKLE_MAX_PROOF) {
			return DX_EINVAL;
		}
		if (mm <= k) {
			rc = range_hash(m, start + k, n - k, tmp[cnt]);
			n = k;
		} else {
			rc = range_hash(m, start, k, tmp[cnt]);
			start += k;
			n -= k;
			mm -= k;
			whole = 0;
		}
		if (rc != 0) {
			return rc;
		}
		cnt++;
	}
	if (cnt + n_last > MERKLE_MAX_PROOF) {
		return DX_EINVAL;
	}
	if (n_last) {
		memcpy(proof[0], last, MERKLE_HASH_LEN);
	}
	reverse_into(proof, n_last, tmp, cnt);
	*n_proof = cnt + n_last;
	return DX_OK;
}

/* Shifts fn and sn right together until fn is odd or zero, as RFC 9162 words it. */
static void shift_until_odd(uint64_t *fn, uint64_t *sn)
{
	while ((*fn & 1) == 0 && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

int merkle_verify_inclusion(const uint8_t leaf_hash[static MERKLE_HASH_LEN], uint64_t index,
			    uint64_t size, const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n_proof,
			    const uint8_t root[static MERKLE_HASH_LEN])
{
	uint8_t r[MERKLE_HASH_LEN];
	uint64_t fn, sn;

	if (index >= size || size > MERKLE_MAX_SIZE) {
		return DX_EINVAL;
	}
	if (n_proof > MERKLE_MAX_PROOF || (n_proof > 0 && proof == NULL)) {
		return DX_EPROOF;
	}
	fn = index;
	sn = size - 1;
	memcpy(r, leaf_hash, sizeof(r));
	for (size_t i = 0; i < n_proof; i++) {
		if (sn == 0) {
			return DX_EPROOF;
		}
		if ((fn & 1) != 0 || fn == sn) {
			merkle_node_hash(r, proof[i], r);
			shift_until_odd(&fn, &sn);
		} else {
			merkle_node_hash(r, r, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || crypto_verify_32(r, root) != 0) {
		return DX_EPROOF;
	}
	return DX_OK;
}

static int is_pow2(uint64_t n)
{
	return n != 0 && (n & (n - 1)) == 0;
}

int merkle_verify_consistency(uint64_t size1, uint64_t size2,
			      const uint8_t root1[static MERKLE_HASH_LEN],
			      const uint8_t root2[static MERKLE_HASH_LEN],
			      const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n_proof)
{
	uint8_t fr[MERKLE_HASH_LEN], sr[MERKLE_HASH_LEN], empty[MERKLE_HASH_LEN];
	uint64_t fn, sn;
	size_t i = 0;

	if (size1 > size2 || size2 > MERKLE_MAX_SIZE) {
		return DX_EINVAL;
	}
	if (n_proof > MERKLE_MAX_PROOF || (n_proof > 0 && proof == NULL)) {
		return DX_EPROOF;
	}
	if (size1 == size2) {
		return n_proof == 0 && crypto_verify_32(root1, root2) == 0 ? DX_OK : DX_EPROOF;
	}
	if (size1 == 0) {
		/* The empty tree is a prefix of every tree; only its root can be wrong. */
		empty_root(empty);
		return n_proof == 0 && crypto_verify_32(root1, empty) == 0 ? DX_OK : DX_EPROOF;
	}
	if (n_proof == 0) {
		return DX_EPROOF;
	}
	/* When size1 is a power of two the old root is the implicit first entry. */
	if (is_pow2(size1)) {
		memcpy(fr, root1, sizeof(fr));
	} else {
		memcpy(fr, proof[0], sizeof(fr));
		i = 1;
	}
	memcpy(sr, fr, sizeof(sr));
	fn = size1 - 1;
	sn = size2 - 1;
	while ((fn & 1) != 0) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < n_proof; i++) {
		if (sn == 0) {
			return DX_EPROOF;
		}
		if ((fn & 1) != 0 || fn == sn) {
			merkle_node_hash(fr, proof[i], fr);
			merkle_node_hash(sr, proof[i], sr);
			shift_until_odd(&fn, &sn);
		} else {
			merkle_node_hash(sr, sr, proof[i]);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || crypto_verify_32(fr, root1) != 0 || crypto_verify_32(sr, root2) != 0) {
		return DX_EPROOF;
	}
	return DX_OK;
}

/* The in-memory store. */

#define MEMSTORE_MIN_CAP 16

void merkle_memstore_init(struct merkle_memstore *s)
{
	memset(s, 0, sizeof(*s));
}

void merkle_memstore_fini(struct merkle_memstore *s)
{
	for (unsigned i = 0; i < MERKLE_MAX_LEVELS; i++) {
		free(s->level[i]);
	}
	memset(s, 0, sizeof(*s));
}

/* Makes room for node index at level, doubling the array with checked sizes. */
static int memstore_reserve(struct merkle_memstore *s, unsigned level, uint64_t index)
{
	uint64_t cap = s->cap[level];
	uint8_t *p;

	if (index < cap) {
		return DX_OK;
	}
	if (cap == 0) {
		cap = MEMSTORE_MIN_CAP;
	}
	while (cap <= index) {
		if (cap > UINT64_MAX / 2) {
			return DX_ENOMEM;
		}
		cap *= 2;
	}
	if (cap > SIZE_MAX / MERKLE_HASH_LEN) {
		return DX_ENOMEM;
	}
	p = realloc(s->level[level], (size_t)cap * MERKLE_HASH_LEN);
	if (p == NULL) {
		return DX_ENOMEM;
	}
	s->level[level] = p;
	s->cap[level] = cap;
	return DX_OK;
}

static int memstore_get(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN])
{
	struct merkle_memstore *s = ctx;

	if (level >= MERKLE_MAX_LEVELS || index >= s->len[level]) {
		return DX_ENOENT;
	}
	memcpy(out, s->level[level] + index * MERKLE_HASH_LEN, MERKLE_HASH_LEN);
	return DX_OK;
}

/* Nodes arrive in order, so a put may replace a node or add the next one, never leave a gap. */
static int memstore_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[MERKLE_HASH_LEN])
{
	struct merkle_memstore *s = ctx;
	int rc;

	if (level >= MERKLE_MAX_LEVELS || index > s->len[level]) {
		return DX_EINVAL;
	}
	rc = memstore_reserve(s, level, index);
	if (rc != 0) {
		return rc;
	}
	memcpy(s->level[level] + index * MERKLE_HASH_LEN, h, MERKLE_HASH_LEN);
	if (index == s->len[level]) {
		s->len[level]++;
	}
	return DX_OK;
}

const struct merkle_store_ops merkle_memstore_ops = {
	.get = memstore_get,
	.put = memstore_put,
};
