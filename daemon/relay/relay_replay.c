/*
 * relay_replay.c: recently seen request ids.
 *
 * A node reuses a request id only when nng resends the same bytes; the relay
 * then answers again (every operation is idempotent). A request id seen with
 * a different body is a replay and is refused. Entries live for twice the
 * time window, after which the time check alone refuses an old request. The
 * cache is in memory: after a restart, a captured request can only be replayed
 * within its time window, and then only re-runs an idempotent operation.
 */
#include <stdlib.h>
#include <string.h>

#include "relay_replay.h"

struct entry {
	char node[4];
	uint8_t id[RELAY_REQUEST_ID_LEN];
	uint8_t body_hash[32];
	uint64_t time_ms;
	struct entry *next;   /* bucket chain */
	struct entry *older;  /* expiry order: newer -> older */
	struct entry *newer;
};

#define BUCKETS 65536
/*
 * Memory bound. Past it the oldest ids are forgotten early; that only lets an
 * identical resend re-run an idempotent operation, and the time window still
 * bounds how old a replay can be.
 */
#define MAX_ENTRIES (1u << 20)

struct replay_cache {
	struct entry *bucket[BUCKETS];
	struct entry *newest, *oldest;
	size_t count;
};

static size_t hash(const char *node, const uint8_t id[RELAY_REQUEST_ID_LEN])
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < 3; i++) {
		h = (h ^ (uint8_t)node[i]) * 16777619u;
	}
	for (size_t i = 0; i < RELAY_REQUEST_ID_LEN; i++) {
		h = (h ^ id[i]) * 16777619u;
	}
	return h % BUCKETS;
}

int replay_cache_new(struct replay_cache **out)
{
	*out = calloc(1, sizeof(**out));
	return *out == NULL ? DX_ENOMEM : DX_OK;
}

void replay_cache_free(struct replay_cache *c)
{
	if (c == NULL) {
		return;
	}
	struct entry *e = c->newest;
	while (e != NULL) {
		struct entry *o = e->older;
		free(e);
		e = o;
	}
	free(c);
}

/* Unlinks e from its bucket and from the expiry order, and frees it. */
static void drop(struct replay_cache *c, struct entry *e)
{
	struct entry **pp = &c->bucket[hash(e->node, e->id)];
	while (*pp != e) {
		pp = &(*pp)->next;
	}
	*pp = e->next;
	if (e->newer != NULL) {
		e->newer->older = e->older;
	} else {
		c->newest = e->older;
	}
	if (e->older != NULL) {
		e->older->newer = e->newer;
	} else {
		c->oldest = e->newer;
	}
	free(e);
	c->count--;
}

static void drop_oldest(struct replay_cache *c)
{
	drop(c, c->oldest);
}

void replay_cache_forget(struct replay_cache *c, const char *node,
			 const uint8_t id[RELAY_REQUEST_ID_LEN])
{
	for (struct entry *e = c->bucket[hash(node, id)]; e != NULL; e = e->next) {
		if (memcmp(e->node, node, 3) == 0 && memcmp(e->id, id, RELAY_REQUEST_ID_LEN) == 0) {
			drop(c, e);
			return;
		}
	}
}

int replay_cache_check(struct replay_cache *c, const char *node,
		       const uint8_t id[RELAY_REQUEST_ID_LEN], const uint8_t body_hash[32],
		       uint64_t now_ms)
{
	size_t b = hash(node, id);
	for (struct entry *e = c->bucket[b]; e != NULL; e = e->next) {
		if (memcmp(e->node, node, 3) == 0 && memcmp(e->id, id, RELAY_REQUEST_ID_LEN) == 0) {
			return memcmp(e->body_hash, body_hash, 32) == 0 ? 1 : DX_EREQ_REPLAY;
		}
	}
	struct entry *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		return DX_ENOMEM;
	}
	memcpy(e->node, node, 3);
	memcpy(e->id, id, RELAY_REQUEST_ID_LEN);
	memcpy(e->body_hash, body_hash, 32);
	e->time_ms = now_ms;
	e->next = c->bucket[b];
	c->bucket[b] = e;
	e->older = c->newest;
	if (c->newest != NULL) {
		c->newest->newer = e;
	}
	c->newest = e;
	if (c->oldest == NULL) {
		c->oldest = e;
	}
	c->count++;
	if (c->count > MAX_ENTRIES) {
		drop_oldest(c);
	}
	return 0;
}

void replay_cache_expire(struct replay_cache *c, uint64_t before_ms)
{
	while (c->oldest != NULL && c->oldest->time_ms < before_ms) {
		drop_oldest(c);
	}
}

size_t replay_cache_count(const struct replay_cache *c)
{
	return c->count;
}
