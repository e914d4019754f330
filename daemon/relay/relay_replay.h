/*
 * relay_replay.h: the relay's cache of recent request ids (relay_replay.c).
 * Loop thread only.
 */
#ifndef DIVEX_RELAY_REPLAY_H
#define DIVEX_RELAY_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "relay_wire.h"

struct replay_cache;

int replay_cache_new(struct replay_cache **out) DX_MUST_CHECK;
void replay_cache_free(struct replay_cache *c);
/*
 * Records (node, id). Returns 0 if new, 1 if seen with the same body (a
 * resend: answer it again), DX_EREQ_REPLAY if seen with another body.
 */
int replay_cache_check(struct replay_cache *c, const char *node,
		       const uint8_t id[RELAY_REQUEST_ID_LEN], const uint8_t body_hash[32],
		       uint64_t now_ms) DX_MUST_CHECK;
/*
 * Forgets (node, id) as if it had never been recorded: for a request that
 * was refused before anything was carried out (DX_ERATE), so that sending it
 * again is a new request and not a resend.
 */
void replay_cache_forget(struct replay_cache *c, const char *node,
			 const uint8_t id[RELAY_REQUEST_ID_LEN]);
/* Forgets entries recorded before before_ms. */
void replay_cache_expire(struct replay_cache *c, uint64_t before_ms);
size_t replay_cache_count(const struct replay_cache *c);

#endif
