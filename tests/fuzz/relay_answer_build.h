/*
 * relay_answer_build.h: what fuzz_relay_answer.c answers with when it plays
 * an honest relay: fixed keys (the relay's, FRA's, MEX's), an envelope of
 * each direction, FRA's roster entry, and the correct answer to any request
 * the relay client sends, proved in a small Merkle tree under a checkpoint
 * the relay's key signs (relay_answer_build.c). Single-threaded.
 */
#ifndef DIVEX_TESTS_FUZZ_RELAY_ANSWER_BUILD_H
#define DIVEX_TESTS_FUZZ_RELAY_ANSWER_BUILD_H

#include "relay_wire.h"

#define RA_NAME "fuzz.divex/relay"
#define RA_T0 1700000000000ull

/* Made once by ra_init(): FRA is the node under test, MEX its peer. */
extern struct keys *ra_fra, *ra_mex;
extern uint8_t ra_relay_pk[crypto_sign_PUBLICKEYBYTES], ra_relay_sk[crypto_sign_SECRETKEYBYTES];
extern uint8_t *ra_env_out, *ra_env_in, *ra_entry_fra; /* FRA to MEX, MEX to FRA */
extern size_t ra_env_out_len, ra_env_in_len, ra_entry_fra_len;
extern struct envelope_info ra_info_out, ra_info_in;
extern const uint8_t RA_ATT_ID[16];
extern const uint8_t RA_SALT[RELAY_SALT_LEN];
void ra_init(void);

/*
 * The tree of an input: leaves s0.. are the ones the first request makes
 * (at target and after), every other leaf is fixed, so that checkpoints of
 * the first s0 leaves are the same in every tree.
 */
struct ra_tree {
	struct merkle_memstore store;
	struct merkle m;
	uint64_t s0, n, target;
	int made;
};

/* Builds t's n leaves with n_targets leaves of the given data at t->target. */
void ra_tree_make(struct ra_tree *t, const uint8_t *const *targets, const size_t *target_len,
		  size_t n_targets);
void ra_tree_free(struct ra_tree *t);
/* The signed checkpoint of the tree's first size leaves; returns its length. */
size_t ra_tree_checkpoint(const struct ra_tree *t, uint64_t size, char out[CHECKPOINT_MAX + 1]);
/* Whether raw is the client's session handshake (answered apart). */
int ra_is_session(const uint8_t *raw, size_t len);
/*
 * An honest answer to a session handshake (PROTOCOL.md 12.2): accept 1, a
 * session signed with the relay's key; accept 0, a refusal. No checkpoint.
 */
void ra_build_session_answer(const uint8_t *raw, size_t len, int accept, uint8_t **out,
			     size_t *out_len);
/*
 * The correct answer to the request raw, packed into *out (malloc'd). The
 * first answer of an input makes the tree, with the leaves its request
 * makes; later ones (proofs, syncs) use it as it is.
 */
void ra_build_answer(struct ra_tree *t, const uint8_t *raw, size_t len, uint8_t **out,
		     size_t *out_len);

#endif
