/*
 * merkle.h: the append-only Merkle tree of the audit log, with RFC 9162
 * (Certificate Transparency v2) section 2.1 hashing over SHA-256, and the
 * inclusion and consistency proofs that let anyone check it.
 *
 * The tree keeps no leaves. It keeps the root of every complete perfect
 * subtree in a store reached through struct merkle_store_ops, so that the
 * relay can keep them in its database and tools can keep them in memory
 * (struct merkle_memstore). The node (level, index) is the root of the
 * perfect subtree over leaves [index * 2^level, (index + 1) * 2^level). Roots
 * and proofs for any size up to the current one are assembled from those
 * nodes with O(log n) store reads; nothing is ever rehashed from leaves.
 *
 * A struct merkle is owned by one thread at a time; the caller serializes
 * appends and reads. The verifiers take no store and are pure and
 * thread-safe. Byte layouts and reject rules are in docs/PROTOCOL.md (audit
 * log section).
 */
#ifndef DIVEX_CORE_MERKLE_H
#define DIVEX_CORE_MERKLE_H

#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "error.h"

#define MERKLE_HASH_LEN crypto_hash_sha256_BYTES
/*
 * The largest tree size divex accepts. It keeps every inclusion proof within
 * 63 hashes and every consistency proof within MERKLE_MAX_PROOF.
 */
#define MERKLE_MAX_SIZE (UINT64_C(1) << 63)
#define MERKLE_MAX_PROOF 64
/* Levels of the perfect subtrees a tree of MERKLE_MAX_SIZE leaves holds. */
#define MERKLE_MAX_LEVELS 64

/*
 * Where the perfect-subtree roots live. Both return 0 or a negative DX_E*
 * code; get returns DX_ENOENT for a node it does not hold. put replaces a
 * node it already holds: an append that failed half-way leaves nodes beyond
 * the tree's size, and the next append writes them again.
 */
struct merkle_store_ops {
	int (*get)(void *ctx, unsigned level, uint64_t index, uint8_t out[MERKLE_HASH_LEN]);
	int (*put)(void *ctx, unsigned level, uint64_t index, const uint8_t h[MERKLE_HASH_LEN]);
};

struct merkle {
	const struct merkle_store_ops *ops;
	void *ctx;
	uint64_t size; /* number of leaves */
};

/*
 * Opens a tree of size leaves over a store that already holds its nodes (0
 * for a new log). Refuses a size above MERKLE_MAX_SIZE with DX_EINVAL.
 */
int merkle_init(struct merkle *m, const struct merkle_store_ops *ops, void *ctx,
		uint64_t size) DX_MUST_CHECK;

/* SHA-256(0x00 || data) and SHA-256(0x01 || left || right). */
void merkle_leaf_hash(uint8_t out[static MERKLE_HASH_LEN], const uint8_t *data, size_t len);
void merkle_node_hash(uint8_t out[static MERKLE_HASH_LEN],
		      const uint8_t left[static MERKLE_HASH_LEN],
		      const uint8_t right[static MERKLE_HASH_LEN]);

/*
 * Appends one leaf: stores its hash as node (0, size) and then the root of
 * every perfect subtree it completes, then grows the size by one. On failure
 * the size is unchanged. index_out and leaf_hash_out may be NULL.
 */
int merkle_append(struct merkle *m, const uint8_t *leaf_data, size_t len, uint64_t *index_out,
		  uint8_t leaf_hash_out[MERKLE_HASH_LEN]) DX_MUST_CHECK;

/* The root of the tree's first size leaves, size <= m->size (0 gives SHA-256 of nothing). */
int merkle_root(const struct merkle *m, uint64_t size,
		uint8_t out[static MERKLE_HASH_LEN]) DX_MUST_CHECK;

/*
 * The inclusion proof (RFC 9162 2.1.3.1) of leaf index in the tree of its
 * first size leaves, index < size <= m->size. proof has room for
 * MERKLE_MAX_PROOF hashes; *n_proof receives the count.
 */
int merkle_inclusion_proof(const struct merkle *m, uint64_t index, uint64_t size,
			   uint8_t (*proof)[MERKLE_HASH_LEN], size_t *n_proof) DX_MUST_CHECK;

/*
 * The consistency proof (RFC 9162 2.1.4.1) from the tree of size1 leaves to
 * the tree of size2 leaves, size1 <= size2 <= m->size. It is empty when
 * size1 is 0 or equals size2.
 */
int merkle_consistency_proof(const struct merkle *m, uint64_t size1, uint64_t size2,
			     uint8_t (*proof)[MERKLE_HASH_LEN], size_t *n_proof) DX_MUST_CHECK;

/*
 * Verifies an inclusion proof (RFC 9162 2.1.3.2). DX_EINVAL when index >=
 * size or size > MERKLE_MAX_SIZE; DX_EPROOF when the proof does not lead to
 * root.
 */
int merkle_verify_inclusion(const uint8_t leaf_hash[static MERKLE_HASH_LEN], uint64_t index,
			    uint64_t size, const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n_proof,
			    const uint8_t root[static MERKLE_HASH_LEN]) DX_MUST_CHECK;

/*
 * Verifies a consistency proof (RFC 9162 2.1.4.2) between the tree of size1
 * leaves with root1 and the tree of size2 leaves with root2. For size1 ==
 * size2 the proof must be empty and the roots equal; for size1 == 0 the proof
 * must be empty and root1 the empty tree's root. DX_EINVAL when size1 > size2
 * or size2 > MERKLE_MAX_SIZE; DX_EPROOF when the proof does not verify.
 */
int merkle_verify_consistency(uint64_t size1, uint64_t size2,
			      const uint8_t root1[static MERKLE_HASH_LEN],
			      const uint8_t root2[static MERKLE_HASH_LEN],
			      const uint8_t (*proof)[MERKLE_HASH_LEN],
			      size_t n_proof) DX_MUST_CHECK;

/*
 * A store in memory: one growable array of hashes per level. For tests and
 * offline tools; the relay keeps its nodes in its database.
 */
struct merkle_memstore {
	uint8_t *level[MERKLE_MAX_LEVELS];
	uint64_t len[MERKLE_MAX_LEVELS];
	uint64_t cap[MERKLE_MAX_LEVELS];
};

extern const struct merkle_store_ops merkle_memstore_ops;

void merkle_memstore_init(struct merkle_memstore *s);
void merkle_memstore_fini(struct merkle_memstore *s);

#endif
