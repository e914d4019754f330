/*
 * fixtures.h: three deterministic States (FRA, MEX, BFA) for envelope tests
 * and vectors, with a roster-mirror lookup and a replay set.
 */
#ifndef DIVEX_TESTS_FIXTURES_H
#define DIVEX_TESTS_FIXTURES_H

#include "seal.h"

#define FIX_NOW_MS 1700000000000ull

struct fixture {
	struct keys *fra, *mex, *bfa;
	struct seal_peer fra_peer, mex_peer, bfa_peer;
	/* Replay set: ids returned as seen. */
	uint8_t seen[64][ENVELOPE_ID_LEN];
	size_t n_seen;
};

/* Builds the three States from seeds 0x01.., 0x02.., 0x03.. at FIX_NOW_MS. */
void fixture_init(struct fixture *f);
void fixture_fini(struct fixture *f);
/* A seal_peer for k, sealing to its current prekey at now_ms. */
void fixture_peer(struct seal_peer *out, const struct keys *k, uint64_t now_ms);
/* open_params for recipient k at now_ms, looking senders up in f. */
struct open_params fixture_open_params(struct fixture *f, const struct keys *k, uint64_t now_ms);
/* seal_params from sender to peer with a body. */
struct seal_params fixture_seal_params(const struct keys *sender, const struct seal_peer *to,
				       const uint8_t *body, size_t body_len);

#endif
