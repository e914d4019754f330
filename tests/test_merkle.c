/*
 * test_merkle.c: the audit log's Merkle tree (daemon/core/merkle.c).
 *
 * The tree is checked three ways: against the certificate-transparency
 * reference vectors (hard-coded here and in tests/vectors/merkle.json, which
 * an independent implementation produced), against a naive implementation of
 * RFC 9162's recursive definitions written in this file over leaf hashes, and
 * by verifying every proof it produces and requiring every tampered proof to
 * fail. Store reads are counted to show that roots and proofs cost O(log n)
 * reads, and a tree of 2^63 identical leaves exercises the largest sizes
 * without storing them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "merkle.h"
#include "testlib.h"
#include "util.h"

#define HL MERKLE_HASH_LEN
typedef uint8_t hash_t[HL];

/* The leaves of the CT reference test data and the roots of their prefixes. */
static const char *const ct_leaves[8] = { "",
					  "00",
					  "10",
					  "2021",
					  "3031",
					  "40414243",
					  "5051525354555657",
					  "606162636465666768696a6b6c6d6e6f" };
static const char *const ct_roots[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

static void unhex(uint8_t *out, size_t len, const char *hex)
{
	assert_int_equal(strlen(hex), 2 * len);
	assert_dx_ok(dx_unhex(out, len, hex));
}

static void assert_hash_hex(const hash_t h, const char *hex)
{
	char got[2 * HL + 1];
	dx_hex(got, h, HL);
	assert_string_equal(got, hex);
}

/* --- The naive reference: RFC 9162 2.1.1, 2.1.3.1 and 2.1.4.1 as written. --- */

static void ref_leaf(hash_t out, const uint8_t *d, size_t n)
{
	uint8_t buf[1 + 64];
	assert_true(n <= 64);
	buf[0] = 0x00;
	if (n > 0) {
		memcpy(buf + 1, d, n);
	}
	crypto_hash_sha256(out, buf, n + 1);
}

static void ref_node(hash_t out, const hash_t l, const hash_t r)
{
	uint8_t buf[1 + 2 * HL];
	buf[0] = 0x01;
	memcpy(buf + 1, l, HL);
	memcpy(buf + 1 + HL, r, HL);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

static uint64_t ref_k(uint64_t n)
{
	uint64_t k = 1;
	while (k * 2 < n) {
		k *= 2;
	}
	return k;
}

static void ref_mth(hash_t out, const hash_t *lh, uint64_t n)
{
	if (n == 0) {
		crypto_hash_sha256(out, (const uint8_t *)"", 0);
	} else if (n == 1) {
		memcpy(out, lh[0], HL);
	} else {
		hash_t l, r;
		uint64_t k = ref_k(n);
		ref_mth(l, lh, k);
		ref_mth(r, lh + k, n - k);
		ref_node(out, l, r);
	}
}

static size_t ref_path(uint64_t m, const hash_t *lh, uint64_t n, hash_t *out)
{
	size_t c;
	if (n <= 1) {
		return 0;
	}
	uint64_t k = ref_k(n);
	if (m < k) {
		c = ref_path(m, lh, k, out);
		ref_mth(out[c], lh + k, n - k);
	} else {
		c = ref_path(m - k, lh + k, n - k, out);
		ref_mth(out[c], lh, k);
	}
	return c + 1;
}

static size_t ref_subproof(uint64_t m, const hash_t *lh, uint64_t n, int b, hash_t *out)
{
	size_t c;
	if (m == n) {
		if (b) {
			return 0;
		}
		ref_mth(out[0], lh, n);
		return 1;
	}
	uint64_t k = ref_k(n);
	if (m <= k) {
		c = ref_subproof(m, lh, k, b, out);
		ref_mth(out[c], lh + k, n - k);
	} else {
		c = ref_subproof(m - k, lh + k, n - k, 0, out);
		ref_mth(out[c], lh, k);
	}
	return c + 1;
}

/* --- A store that counts reads and can be told to fail. --- */

struct counting {
	struct merkle_memstore mem;
	uint64_t gets, puts;
	uint64_t fail_get_at, fail_put_at; /* 1-based call number to fail; 0 never */
	int fail_rc;
};

static int cnt_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
	struct counting *c = ctx;
	if (++c->gets == c->fail_get_at) {
		return c->fail_rc;
	}
	return merkle_memstore_ops.get(&c->mem, level, index, out);
}

static int cnt_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[HL])
{
	struct counting *c = ctx;
	if (++c->puts == c->fail_put_at) {
		return c->fail_rc;
	}
	return merkle_memstore_ops.put(&c->mem, level, index, h);
}

static const struct merkle_store_ops counting_ops = { .get = cnt_get, .put = cnt_put };

static void counting_init(struct counting *c)
{
	memset(c, 0, sizeof(*c));
	merkle_memstore_init(&c->mem);
	c->fail_rc = DX_EIO;
}

/* --- A shared tree of 1024 leaves, with its naive leaf hashes and roots. --- */

#define BIG 1024
static struct merkle_memstore big_store;
static struct merkle big;
static hash_t big_leaves[BIG];
static hash_t big_roots[BIG + 1];

static size_t leaf_data(uint64_t i, uint8_t buf[16])
{
	dx_put_be64(buf, i * 0x9e3779b97f4a7c15ull);
	memset(buf + 8, (int)(i & 0xff), 8);
	return 8 + (size_t)(i % 9);
}

static int big_setup(void **state)
{
	uint8_t d[16];
	(void)state;
	merkle_memstore_init(&big_store);
	assert_dx_ok(merkle_init(&big, &merkle_memstore_ops, &big_store, 0));
	for (uint64_t i = 0; i < BIG; i++) {
		size_t n = leaf_data(i, d);
		uint64_t idx;
		hash_t lh;
		assert_dx_ok(merkle_append(&big, d, n, &idx, lh));
		assert_int_equal(idx, i);
		ref_leaf(big_leaves[i], d, n);
		assert_memory_equal(lh, big_leaves[i], HL);
	}
	for (uint64_t n = 0; n <= BIG; n++) {
		ref_mth(big_roots[n], big_leaves, n);
	}
	return 0;
}

static int big_teardown(void **state)
{
	(void)state;
	merkle_memstore_fini(&big_store);
	return 0;
}

/* A small deterministic generator, so that failures reproduce. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* --- Reference vectors. --- */

static void build_ct_tree(struct merkle_memstore *s, struct merkle *m, hash_t lh[8])
{
	merkle_memstore_init(s);
	assert_dx_ok(merkle_init(m, &merkle_memstore_ops, s, 0));
	for (int i = 0; i < 8; i++) {
		uint8_t d[16];
		size_t n = strlen(ct_leaves[i]) / 2;
		uint64_t idx;
		unhex(d, n, ct_leaves[i]);
		assert_dx_ok(merkle_append(m, d, n, &idx, lh[i]));
		assert_int_equal(idx, (uint64_t)i);
	}
}

/* Asserts that two proofs are the same list of hashes. */
static void assert_proof_equal(const hash_t *got, size_t n_got, const hash_t *want, size_t n_want)
{
	assert_int_equal(n_got, n_want);
	if (n_want > 0) {
		assert_memory_equal(got, want, n_want * HL);
	}
}

static void check_proof_hex(const hash_t *proof, size_t n, const char *const *want, size_t n_want)
{
	assert_int_equal(n, n_want);
	for (size_t i = 0; i < n; i++) {
		assert_hash_hex(proof[i], want[i]);
	}
}

static void test_ct_vectors(void **state)
{
	struct merkle_memstore s;
	struct merkle m;
	hash_t lh[8], root, ref, proof[MERKLE_MAX_PROOF];
	size_t n;
	(void)state;

	build_ct_tree(&s, &m, lh);
	for (uint64_t size = 0; size <= 8; size++) {
		assert_dx_ok(merkle_root(&m, size, root));
		assert_hash_hex(root, ct_roots[size]);
		ref_mth(ref, lh, size);
		assert_memory_equal(root, ref, HL);
	}
	/*
	 * Proofs from the CT reference test data; tests/vectors/merkle.json has
	 * every proof of these eight leaves.
	 */
	static const char *const path_0_8[] = {
		"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
		"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
		"6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
	};
	static const char *const cons_6_8[] = {
		"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
		"ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
		"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	};
	assert_dx_ok(merkle_inclusion_proof(&m, 0, 8, proof, &n));
	check_proof_hex(proof, n, path_0_8, 3);
	assert_dx_ok(merkle_consistency_proof(&m, 1, 8, proof, &n));
	check_proof_hex(proof, n, path_0_8, 3); /* the same hashes as leaf 0's path */
	assert_dx_ok(merkle_consistency_proof(&m, 6, 8, proof, &n));
	check_proof_hex(proof, n, cons_6_8, 3);
	merkle_memstore_fini(&s);
}

/* Reads a JSON array of hex hashes into out. */
static size_t json_proof(json_t *a, hash_t *out)
{
	assert_true(json_is_array(a));
	size_t n = json_array_size(a);
	assert_true(n <= MERKLE_MAX_PROOF);
	for (size_t i = 0; i < n; i++) {
		unhex(out[i], HL, json_string_value(json_array_get(a, i)));
	}
	return n;
}

static void test_json_vectors(void **state)
{
	struct merkle_memstore s;
	struct merkle m;
	hash_t lh[8], root1, root2, want[MERKLE_MAX_PROOF], got[MERKLE_MAX_PROOF], h;
	json_error_t err;
	size_t i, n_want, n_got;
	json_t *v, *o;
	(void)state;

	o = json_load_file(test_path(test_source_dir(), "tests/vectors/merkle.json"), 0, &err);
	if (o == NULL) {
		fail_msg("merkle.json: %s (line %d)", err.text, err.line);
	}
	build_ct_tree(&s, &m, lh);
	json_array_foreach(json_object_get(o, "leaf_hashes"), i, v)
	{
		unhex(h, HL, json_string_value(v));
		assert_memory_equal(h, lh[i], HL);
	}
	json_array_foreach(json_object_get(o, "roots"), i, v)
	{
		uint64_t size = (uint64_t)json_integer_value(json_object_get(v, "size"));
		unhex(h, HL, json_string_value(json_object_get(v, "root")));
		assert_dx_ok(merkle_root(&m, size, root1));
		assert_memory_equal(h, root1, HL);
	}
	json_array_foreach(json_object_get(o, "inclusion"), i, v)
	{
		uint64_t idx = (uint64_t)json_integer_value(json_object_get(v, "index"));
		uint64_t size = (uint64_t)json_integer_value(json_object_get(v, "size"));
		n_want = json_proof(json_object_get(v, "proof"), want);
		assert_dx_ok(merkle_inclusion_proof(&m, idx, size, got, &n_got));
		assert_proof_equal(got, n_got, want, n_want);
		assert_dx_ok(merkle_root(&m, size, root1));
		assert_dx_ok(merkle_verify_inclusion(lh[idx], idx, size, want, n_want, root1));
	}
	assert_int_equal(i, 36);
	json_array_foreach(json_object_get(o, "consistency"), i, v)
	{
		uint64_t s1 = (uint64_t)json_integer_value(json_object_get(v, "size1"));
		uint64_t s2 = (uint64_t)json_integer_value(json_object_get(v, "size2"));
		n_want = json_proof(json_object_get(v, "proof"), want);
		assert_dx_ok(merkle_consistency_proof(&m, s1, s2, got, &n_got));
		assert_proof_equal(got, n_got, want, n_want);
		assert_dx_ok(merkle_root(&m, s1, root1));
		assert_dx_ok(merkle_root(&m, s2, root2));
		assert_dx_ok(merkle_verify_consistency(s1, s2, root1, root2, want, n_want));
	}
	assert_int_equal(i, 36);
	json_decref(o);
	merkle_memstore_fini(&s);
}

/* --- Exhaustive proofs over the shared tree. --- */

/* Verifies leaf's hash at index i of the first n leaves against root. */
static int incl(uint64_t leaf, uint64_t i, uint64_t n, const hash_t *p, size_t np,
		const uint8_t *root)
{
	return merkle_verify_inclusion(big_leaves[leaf], i, n, p, np, root);
}

/* Verifies a consistency proof between the shared tree's sizes m and n. */
static int cons(uint64_t m, uint64_t n, const hash_t *p, size_t np)
{
	return merkle_verify_consistency(m, n, big_roots[m], big_roots[n], p, np);
}

/* Copies a proof into t with one random bit of entry e flipped. */
static void flip(hash_t *t, const hash_t *p, size_t np, size_t e, uint64_t *rng)
{
	unsigned bit = (unsigned)(rng_next(rng) % (8 * HL));
	memcpy(t, p, np * HL);
	t[e][bit / 8] ^= (uint8_t)(1u << (bit % 8));
}

/* Copies a proof into t without entry e. */
static void drop(hash_t *t, const hash_t *p, size_t np, size_t e)
{
	memcpy(t, p, e * HL);
	memcpy(t + e, p + e + 1, (np - e - 1) * HL);
}

/* Copies a proof into t with an extra entry x, first or last. */
static void add(hash_t *t, const hash_t *p, size_t np, const uint8_t *x, int first)
{
	memcpy(t + (first ? 1 : 0), p, np * HL);
	memcpy(t[first ? 0 : np], x, HL);
}

/* Every way of tampering with an inclusion proof must fail. */
static void tamper_inclusion(uint64_t i, uint64_t n, const hash_t *proof, size_t np, int full,
			     uint64_t *rng)
{
	hash_t t[MERKLE_MAX_PROOF + 1], bad_root;
	const uint8_t *root = big_roots[n];
	size_t pick = np > 0 ? (size_t)(rng_next(rng) % np) : 0;

	for (size_t e = 0; e < np; e++) {
		if (!full && e != pick) {
			continue;
		}
		flip(t, proof, np, e, rng);
		assert_int_equal(incl(i, i, n, t, np, root), DX_EPROOF);
		drop(t, proof, np, e);
		assert_int_equal(incl(i, i, n, t, np - 1, root), DX_EPROOF);
	}
	add(t, proof, np, big_leaves[(i + 1) % n], 0);
	assert_int_equal(incl(i, i, n, t, np + 1, root), DX_EPROOF);
	add(t, proof, np, root, 1);
	assert_int_equal(incl(i, i, n, t, np + 1, root), DX_EPROOF);
	/* Another leaf, a flipped root. */
	if (n > 1) {
		assert_int_equal(incl((i + 1) % n, i, n, proof, np, root), DX_EPROOF);
	}
	memcpy(bad_root, root, HL);
	bad_root[HL - 1] ^= 0x80;
	assert_int_equal(incl(i, i, n, proof, np, bad_root), DX_EPROOF);
	/* Another index: every other one when full, else the neighbours. */
	for (uint64_t j = 0; j < n; j++) {
		if (j == i || (!full && j != (i + 1) % n && j != (i ^ 1))) {
			continue;
		}
		assert_int_equal(incl(i, j, n, proof, np, root), DX_EPROOF);
	}
	assert_int_equal(incl(i, n, n, proof, np, root), DX_EINVAL);
	/* Another size, checked against that size's root as a checkpoint would give it. */
	for (uint64_t n2 = i + 1; n2 <= BIG && n2 <= 2 * n; n2++) {
		if (n2 == n || (!full && n2 + 1 != n && n2 != n + 1)) {
			continue;
		}
		assert_int_equal(incl(i, i, n2, proof, np, big_roots[n2]), DX_EPROOF);
	}
}

static void test_inclusion_exhaustive(void **state)
{
	hash_t proof[MERKLE_MAX_PROOF], ref[MERKLE_MAX_PROOF], root;
	uint64_t rng = 0x243f6a8885a308d3ull;
	size_t np;
	(void)state;

	for (uint64_t n = 1; n <= BIG; n++) {
		assert_dx_ok(merkle_root(&big, n, root));
		assert_memory_equal(root, big_roots[n], HL);
		for (uint64_t i = 0; i < n; i++) {
			assert_dx_ok(merkle_inclusion_proof(&big, i, n, proof, &np));
			if (n <= 96 || (n % 31 == 0 && i % 97 == 0)) {
				assert_proof_equal(proof, np, ref, ref_path(i, big_leaves, n, ref));
			}
			assert_dx_ok(incl(i, i, n, proof, np, big_roots[n]));
			if (n <= 128 || i % 13 == 0) {
				tamper_inclusion(i, n, proof, np, n <= 64, &rng);
			}
		}
	}
}

static void tamper_consistency(uint64_t m, uint64_t n, const hash_t *proof, size_t np,
			       uint64_t *rng)
{
	hash_t t[MERKLE_MAX_PROOF + 1];

	for (size_t e = 0; e < np; e++) {
		flip(t, proof, np, e, rng);
		assert_int_equal(cons(m, n, t, np), DX_EPROOF);
		drop(t, proof, np, e);
		assert_int_equal(cons(m, n, t, np - 1), DX_EPROOF);
	}
	add(t, proof, np, big_roots[m], 0);
	assert_int_equal(cons(m, n, t, np + 1), DX_EPROOF);
	add(t, proof, np, big_roots[m], 1);
	assert_int_equal(cons(m, n, t, np + 1), DX_EPROOF);
	/* Swapped or mismatched roots. */
	assert_int_equal(merkle_verify_consistency(m, n, big_roots[n], big_roots[m], proof, np),
			 DX_EPROOF);
	assert_int_equal(merkle_verify_consistency(m, n, big_roots[m], big_roots[n - 1], proof, np),
			 DX_EPROOF);
	/* Other sizes, each with its own root. */
	for (uint64_t d = 1; d <= 3; d++) {
		if (m > d) {
			assert_int_equal(cons(m - d, n, proof, np), DX_EPROOF);
		}
		if (m + d < n) {
			assert_int_equal(cons(m + d, n, proof, np), DX_EPROOF);
			assert_int_equal(cons(m, n - d, proof, np), DX_EPROOF);
		}
		if (n + d <= BIG) {
			assert_int_equal(cons(m, n + d, proof, np), DX_EPROOF);
		}
	}
}

/* Checks one pair against the naive SUBPROOF (when ref is set) and by verifying it. */
static void check_consistency_pair(uint64_t m, uint64_t n, int ref, int tamper, uint64_t *rng)
{
	hash_t proof[MERKLE_MAX_PROOF], want[MERKLE_MAX_PROOF];
	size_t np, nr;

	assert_dx_ok(merkle_consistency_proof(&big, m, n, proof, &np));
	if (ref) {
		nr = m == n ? 0 : ref_subproof(m, big_leaves, n, 1, want);
		assert_proof_equal(proof, np, want, nr);
	}
	assert_dx_ok(cons(m, n, proof, np));
	if (m == n) {
		/* Same size: the roots must be equal and the proof empty. */
		if (n > 1) {
			assert_int_equal(merkle_verify_consistency(m, n, big_roots[m],
								   big_roots[n - 1], NULL, 0),
					 DX_EPROOF);
		}
		assert_int_equal(cons(m, n, big_roots, 1), DX_EPROOF);
	} else if (tamper) {
		tamper_consistency(m, n, proof, np, rng);
	}
}

static void test_consistency_exhaustive(void **state)
{
	uint64_t rng = 0x13198a2e03707344ull;
	(void)state;

	for (uint64_t n = 1; n <= 128; n++) {
		for (uint64_t m = 1; m <= n; m++) {
			check_consistency_pair(m, n, 1, 1, &rng);
		}
	}
	/* Larger trees: every old size for a spread of new sizes. */
	static const uint64_t sizes[] = { 129, 255, 256, 257,  300,  511,
					  512, 513, 777, 1000, 1023, 1024 };
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint64_t n = sizes[k];
		for (uint64_t m = 1; m <= n; m++) {
			check_consistency_pair(m, n, m % 61 == 0 || m + 1 >= n, m % 17 == 0, &rng);
		}
	}
}

/* --- Edge cases and argument checks. --- */

static void test_edges(void **state)
{
	hash_t root, empty, proof[MERKLE_MAX_PROOF + 1];
	size_t np = 99;
	(void)state;

	assert_dx_ok(merkle_root(&big, 0, root));
	assert_hash_hex(root, ct_roots[0]);
	memcpy(empty, root, HL);
	assert_int_equal(merkle_root(&big, BIG + 1, root), DX_EINVAL);
	assert_int_equal(merkle_inclusion_proof(&big, 5, 5, proof, &np), DX_EINVAL);
	assert_int_equal(merkle_inclusion_proof(&big, 0, BIG + 1, proof, &np), DX_EINVAL);
	assert_int_equal(merkle_consistency_proof(&big, 6, 5, proof, &np), DX_EINVAL);
	assert_int_equal(merkle_consistency_proof(&big, 1, BIG + 1, proof, &np), DX_EINVAL);
	assert_int_equal(np, 99); /* out-parameters untouched on failure */

	/* A one-leaf tree: the empty path. */
	assert_dx_ok(merkle_inclusion_proof(&big, 0, 1, proof, &np));
	assert_int_equal(np, 0);
	assert_dx_ok(incl(0, 0, 1, NULL, 0, big_roots[1]));
	assert_int_equal(incl(1, 0, 1, NULL, 0, big_roots[1]), DX_EPROOF);
	assert_int_equal(incl(0, 0, 0, NULL, 0, big_roots[1]), DX_EINVAL);

	/* From the empty tree: nothing to prove, but the old root must be the empty root. */
	assert_dx_ok(merkle_consistency_proof(&big, 0, 10, proof, &np));
	assert_int_equal(np, 0);
	assert_dx_ok(merkle_verify_consistency(0, 10, empty, big_roots[10], NULL, 0));
	assert_dx_ok(merkle_verify_consistency(0, 0, empty, empty, NULL, 0));
	assert_int_equal(merkle_verify_consistency(0, 10, big_roots[1], big_roots[10], NULL, 0),
			 DX_EPROOF);
	assert_int_equal(merkle_verify_consistency(0, 10, empty, big_roots[10], &empty, 1),
			 DX_EPROOF);
	/* Between different sizes an empty proof proves nothing. */
	assert_int_equal(cons(3, 10, NULL, 0), DX_EPROOF);
	assert_int_equal(cons(4, 8, NULL, 0), DX_EPROOF);
	assert_int_equal(cons(9, 8, NULL, 0), DX_EINVAL);
	assert_int_equal(merkle_verify_consistency(1, MERKLE_MAX_SIZE + 1, empty, empty, NULL, 0),
			 DX_EINVAL);
	assert_int_equal(merkle_verify_inclusion(empty, 0, MERKLE_MAX_SIZE + 1, NULL, 0, empty),
			 DX_EINVAL);
	/* More entries than any tree needs. */
	memset(proof, 0, sizeof(proof));
	assert_int_equal(merkle_verify_inclusion(empty, 0, 10, proof, MERKLE_MAX_PROOF + 1, empty),
			 DX_EPROOF);
	assert_int_equal(
		merkle_verify_consistency(3, 10, empty, empty, proof, MERKLE_MAX_PROOF + 1),
		DX_EPROOF);
}

/* --- Cost: store reads per root and proof. --- */

static unsigned ceil_log2(uint64_t n)
{
	unsigned l = 0;
	while ((UINT64_C(1) << l) < n) {
		l++;
	}
	return l;
}

static void test_reads_logarithmic(void **state)
{
	const uint64_t total = 1000000;
	struct counting c;
	struct merkle m;
	hash_t proof[MERKLE_MAX_PROOF], root, root2, leaf;
	uint8_t d[8];
	size_t np;
	(void)state;

	counting_init(&c);
	assert_dx_ok(merkle_init(&m, &counting_ops, &c, 0));
	for (uint64_t i = 0; i < total; i++) {
		dx_put_be64(d, i);
		assert_dx_ok(merkle_append(&m, d, sizeof(d), NULL, NULL));
	}
	/* One read per completed parent: fewer reads than leaves in all. */
	assert_true(c.gets < total);
	assert_true(c.puts < 2 * total);

	static const uint64_t sizes[] = { 1000000, 999999, 524288, 524289, 777777, 65535, 3, 1 };
	for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		uint64_t n = sizes[s];
		unsigned bound = 2 * ceil_log2(n) + 1;
		c.gets = 0;
		assert_dx_ok(merkle_root(&m, n, root));
		assert_in_range(c.gets, 1, ceil_log2(n) + 1);
		const uint64_t idx[] = { 0, 1 % n, n / 2, n - 1, 314159 % n, (n * 2) / 3 };
		for (size_t k = 0; k < sizeof(idx) / sizeof(idx[0]); k++) {
			c.gets = 0;
			assert_dx_ok(merkle_inclusion_proof(&m, idx[k], n, proof, &np));
			assert_in_range(c.gets, 1 % n, bound);
			dx_put_be64(d, idx[k]);
			merkle_leaf_hash(leaf, d, sizeof(d));
			assert_dx_ok(merkle_verify_inclusion(leaf, idx[k], n, proof, np, root));
		}
		const uint64_t olds[] = { 1, n / 2, n - 1, 123457 % n, n / 3 + 1 };
		for (size_t k = 0; k < sizeof(olds) / sizeof(olds[0]); k++) {
			uint64_t o = olds[k] == 0 ? 1 : olds[k];
			c.gets = 0;
			assert_dx_ok(merkle_consistency_proof(&m, o, n, proof, &np));
			assert_in_range(c.gets, 0, bound);
			assert_dx_ok(merkle_root(&m, o, root2));
			assert_dx_ok(merkle_verify_consistency(o, n, root2, root, proof, np));
		}
	}
	merkle_memstore_fini(&c.mem);
}

/* --- Failing stores, reopening, limits. --- */

static void test_store_failures(void **state)
{
	struct counting c;
	struct merkle m;
	hash_t proof[MERKLE_MAX_PROOF], root;
	uint8_t d[16];
	size_t np = 77;
	(void)state;

	counting_init(&c);
	assert_dx_ok(merkle_init(&m, &counting_ops, &c, 0));
	for (uint64_t i = 0; i < 200; i++) {
		size_t n = leaf_data(i, d);
		/* Leaf 127 completes 7 subtrees: fail each of its puts and reads once. */
		if (i == 127) {
			for (uint64_t f = 1; f <= 8; f++) {
				c.fail_put_at = c.puts + f;
				assert_int_equal(merkle_append(&m, d, n, NULL, NULL), DX_EIO);
				assert_int_equal(m.size, 127);
			}
			for (uint64_t f = 1; f <= 7; f++) {
				c.fail_get_at = c.gets + f;
				assert_int_equal(merkle_append(&m, d, n, NULL, NULL), DX_EIO);
				assert_int_equal(m.size, 127);
			}
			c.fail_put_at = c.fail_get_at = 0;
		}
		assert_dx_ok(merkle_append(&m, d, n, NULL, NULL));
	}
	for (uint64_t n = 0; n <= 200; n++) {
		assert_dx_ok(merkle_root(&m, n, root));
		assert_memory_equal(root, big_roots[n], HL);
	}
	/* A failing read fails the proof and leaves the outputs alone. */
	c.fail_get_at = c.gets + 3;
	assert_int_equal(merkle_inclusion_proof(&m, 5, 200, proof, &np), DX_EIO);
	assert_int_equal(np, 77);
	c.fail_get_at = c.gets + 2;
	assert_int_equal(merkle_consistency_proof(&m, 7, 200, proof, &np), DX_EIO);
	c.fail_get_at = c.gets + 1;
	assert_int_equal(merkle_root(&m, 200, root), DX_EIO);
	/* A store that answers with a positive number is treated as failing. */
	c.fail_rc = 1;
	c.fail_get_at = c.gets + 1;
	assert_int_equal(merkle_root(&m, 200, root), DX_EIO);
	assert_int_equal(np, 77);
	merkle_memstore_fini(&c.mem);

	/* The memory store refuses gaps and unknown nodes. */
	struct merkle_memstore s;
	merkle_memstore_init(&s);
	assert_int_equal(merkle_memstore_ops.put(&s, 0, 1, root), DX_EINVAL);
	assert_int_equal(merkle_memstore_ops.put(&s, MERKLE_MAX_LEVELS, 0, root), DX_EINVAL);
	assert_int_equal(merkle_memstore_ops.get(&s, 0, 0, root), DX_ENOENT);
	assert_int_equal(merkle_memstore_ops.get(&s, MERKLE_MAX_LEVELS, 0, root), DX_ENOENT);
	merkle_memstore_fini(&s);
}

static void test_reopen(void **state)
{
	struct merkle_memstore s;
	struct merkle m, again;
	hash_t root;
	uint8_t d[16];
	(void)state;

	merkle_memstore_init(&s);
	assert_dx_ok(merkle_init(&m, &merkle_memstore_ops, &s, 0));
	for (uint64_t i = 0; i < 300; i++) {
		size_t n = leaf_data(i, d);
		/* Leaves 100..149 first get other data, then are rewritten below. */
		if (i >= 100 && i < 150) {
			d[0] ^= 0xff;
		}
		assert_dx_ok(merkle_append(&m, d, n, NULL, NULL));
	}
	/* Reopen at size 100 (a restart after a lost write) and append the right leaves. */
	assert_dx_ok(merkle_init(&again, &merkle_memstore_ops, &s, 100));
	for (uint64_t i = 100; i < BIG; i++) {
		size_t n = leaf_data(i, d);
		uint64_t idx;
		assert_dx_ok(merkle_append(&again, d, n, &idx, NULL));
		assert_int_equal(idx, i);
	}
	for (uint64_t n = 0; n <= BIG; n += 7) {
		assert_dx_ok(merkle_root(&again, n, root));
		assert_memory_equal(root, big_roots[n], HL);
	}
	merkle_memstore_fini(&s);
}

/*
 * A store holding a tree of identical leaves of any size: every node of a
 * level has the same hash, so 2^63 leaves cost nothing to store.
 */
static hash_t uniform[MERKLE_MAX_LEVELS];

static int uniform_get(void *ctx, unsigned level, uint64_t index, uint8_t out[HL])
{
	(void)ctx;
	if (level >= MERKLE_MAX_LEVELS || (index + 1) > (MERKLE_MAX_SIZE >> level)) {
		return DX_ENOENT;
	}
	memcpy(out, uniform[level], HL);
	return DX_OK;
}

static int uniform_put(void *ctx, unsigned level, uint64_t index, const uint8_t h[HL])
{
	(void)ctx;
	(void)level;
	(void)index;
	(void)h;
	return DX_EIO;
}

static const struct merkle_store_ops uniform_ops = { .get = uniform_get, .put = uniform_put };

static void test_huge_sizes(void **state)
{
	struct merkle m;
	hash_t proof[MERKLE_MAX_PROOF], r1, r2;
	uint64_t rng = 0xa4093822299f31d0ull;
	size_t np;
	(void)state;

	ref_leaf(uniform[0], (const uint8_t *)"x", 1);
	for (unsigned l = 1; l < MERKLE_MAX_LEVELS; l++) {
		ref_node(uniform[l], uniform[l - 1], uniform[l - 1]);
	}
	assert_int_equal(merkle_init(&m, &uniform_ops, NULL, MERKLE_MAX_SIZE + 1), DX_EINVAL);
	assert_dx_ok(merkle_init(&m, &uniform_ops, NULL, MERKLE_MAX_SIZE));
	assert_int_equal(merkle_append(&m, (const uint8_t *)"x", 1, NULL, NULL), DX_ETOOBIG);

	assert_dx_ok(merkle_root(&m, MERKLE_MAX_SIZE, r2));
	assert_memory_equal(r2, uniform[63], HL);
	const uint64_t idx[] = { 0, MERKLE_MAX_SIZE - 1, MERKLE_MAX_SIZE / 3 };
	for (size_t k = 0; k < 3; k++) {
		assert_dx_ok(merkle_inclusion_proof(&m, idx[k], MERKLE_MAX_SIZE, proof, &np));
		assert_int_equal(np, 63);
		assert_dx_ok(merkle_verify_inclusion(uniform[0], idx[k], MERKLE_MAX_SIZE, proof, np,
						     r2));
	}
	/* The longest consistency proof: 2^63 - 1 leaves to 2^63. */
	assert_dx_ok(merkle_root(&m, MERKLE_MAX_SIZE - 1, r1));
	assert_dx_ok(
		merkle_consistency_proof(&m, MERKLE_MAX_SIZE - 1, MERKLE_MAX_SIZE, proof, &np));
	assert_int_equal(np, MERKLE_MAX_PROOF);
	assert_dx_ok(
		merkle_verify_consistency(MERKLE_MAX_SIZE - 1, MERKLE_MAX_SIZE, r1, r2, proof, np));
	/* Random large sizes. */
	for (int k = 0; k < 200; k++) {
		uint64_t n = rng_next(&rng) % MERKLE_MAX_SIZE + 1;
		uint64_t o = rng_next(&rng) % n + 1;
		uint64_t i = rng_next(&rng) % n;
		assert_dx_ok(merkle_root(&m, n, r2));
		assert_dx_ok(merkle_root(&m, o, r1));
		assert_dx_ok(merkle_inclusion_proof(&m, i, n, proof, &np));
		assert_dx_ok(merkle_verify_inclusion(uniform[0], i, n, proof, np, r2));
		assert_dx_ok(merkle_consistency_proof(&m, o, n, proof, &np));
		assert_dx_ok(merkle_verify_consistency(o, n, r1, r2, proof, np));
		if (np > 0) {
			proof[np - 1][0] ^= 1;
			assert_int_equal(merkle_verify_consistency(o, n, r1, r2, proof, np),
					 DX_EPROOF);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ct_vectors),
		cmocka_unit_test(test_json_vectors),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_inclusion_exhaustive),
		cmocka_unit_test(test_consistency_exhaustive),
		cmocka_unit_test(test_store_failures),
		cmocka_unit_test(test_reopen),
		cmocka_unit_test(test_reads_logarithmic),
		cmocka_unit_test(test_huge_sizes),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, big_setup, big_teardown);
}
