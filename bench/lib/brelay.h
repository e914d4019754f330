/*
 * brelay.h: a divex-relay child process for benchmarks, set up with the real
 * commands (`divex-relay init`, `admit`, `run`) as tests/relay/harness.c
 * does, but with limits that a benchmark must not hit by accident: a rate of
 * one million requests per second, mailboxes of ten million envelopes,
 * and the context pool and group-commit size the benchmark asks for.
 *
 * The relay listens on port 0 on loopback; the fixture learns the port from
 * the relay's log. Child processes go through tests/relay/proc.h, so every
 * one is killed when the benchmark exits. Single-threaded.
 */
#ifndef DIVEX_BENCH_BRELAY_H
#define DIVEX_BENCH_BRELAY_H

#include <stdint.h>

#include "keys.h"
#include "proc.h"
#include "relay_client.h"
#include "relay_wire.h"
#include "seal.h"

#define BRELAY_NAME "bench.divex/relay"

struct brelay_opts {
	int tls;
	unsigned contexts;	   /* 0: 256 */
	unsigned group_commit_max; /* 0: the relay's default */
	unsigned longpoll_max_ms;  /* 0: the relay's default */
	const char *home;	   /* NULL: a new directory under bench_tmpdir() */
	int keep_home;		   /* reuse an existing home (built by bench_scale_build) */
};

struct brelay {
	char home[1024], log[1100], url[256], ca[1100], db[1100];
	struct proc proc;
	struct relay_identity rid;
	int tls, port, running;
};

/* divex-relay init and the benchmark's relay.conf (or, with keep_home, neither). */
int brelay_init(struct brelay *r, const struct brelay_opts *o) DX_MUST_CHECK;
/* divex-relay admit of k's self-signed roster entry; status "party" or "signatory". */
int brelay_admit(struct brelay *r, const struct keys *k, const char *status) DX_MUST_CHECK;
/* Starts `divex-relay run` and waits for its port. */
int brelay_start(struct brelay *r) DX_MUST_CHECK;
/* SIGTERM, and the relay must drain and exit 0. */
int brelay_stop(struct brelay *r) DX_MUST_CHECK;
/* init, admit every State in states[0..n) as a party, start. */
int brelay_fresh(struct brelay *r, const struct brelay_opts *o, struct keys *const *states,
		 size_t n) DX_MUST_CHECK;
/* Stops the relay if it runs and removes its home, database and log. */
void brelay_discard(struct brelay *r);
/* A relay_client configuration for k (contexts in flight). */
struct relay_client_config brelay_client_config(const struct brelay *r, const struct keys *k,
						unsigned contexts);

/* A State's keys, derived from (code, n) so that runs are repeatable. */
struct keys *bench_state(const char *code, uint32_t n);
/* The seal_peer another State's node would hold for k. */
void bench_peer(const struct keys *k, struct seal_peer *out);
/* Seals body for `to`; returns the envelope (malloc'd) and fills info. */
uint8_t *bench_seal(const struct keys *from, const struct seal_peer *to, const uint8_t *body,
		    size_t body_len, const uint8_t (*attachment_ids)[16], size_t n_attachments,
		    size_t *len, struct envelope_info *info);
/* The body length whose sealed envelope is closest to `target` bytes. */
size_t bench_body_for_envelope(const struct keys *from, const struct seal_peer *to, size_t target);
/* The State code of n (0..17575): AAA, AAB, ... */
void bench_state_code(uint32_t n, char out[static 4]);

#endif
