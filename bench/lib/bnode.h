/*
 * bnode.h: a State node (divexd) for benchmarks, set up as an operator would:
 * `divex init` (passphrase in a file, the fast Argon2id profile), admission
 * at the benchmark relay with `divex-relay admit`, `divexd run`; and a
 * control-socket client that speaks proto/control.proto directly, so that a
 * benchmark can drive the daemon faster than one `divex` process per message
 * allows.
 *
 * The node mirrors the roster every roster_sync_ms (given at init) so that a
 * benchmark need not wait a minute for the other States. Children go through
 * tests/relay/proc.h and are killed at exit. Blocking calls; a control
 * client may be used from one thread at a time.
 */
#ifndef DIVEX_BENCH_BNODE_H
#define DIVEX_BENCH_BNODE_H

#include <nng/nng.h>

#include "brelay.h"
#include "control.pb-c.h"

struct bnode {
	char code[4];
	char home[1100], log[1200], pass[1200];
	struct proc proc;
	int running;
};

/* divex init for code in dir/code, then admitted at r as a party. */
int bnode_init(struct bnode *n, const struct brelay *r, const char *dir, const char *code,
	       unsigned roster_sync_ms) DX_MUST_CHECK;
/* divexd run; waits until its control socket listens. */
int bnode_start(struct bnode *n) DX_MUST_CHECK;
/* SIGTERM; the node drains and exits 0. */
int bnode_stop(struct bnode *n) DX_MUST_CHECK;

struct bctl {
	nng_socket sock;
};
int bctl_open(struct bctl *c, const struct bnode *n) DX_MUST_CHECK;
void bctl_close(struct bctl *c);
/*
 * One request and its decoded answer (free with
 * dx__control_response__free_unpacked). The answer's own error is left in
 * (*out)->error.
 */
int bctl_call(struct bctl *c, Dx__ControlRequest *q, Dx__ControlResponse **out) DX_MUST_CHECK;
/* Inbox total from the status operation; -1 on failure. */
long bctl_inbox_total(struct bctl *c);
/* Waits until the node's roster holds `count` States (its own included). */
int bctl_wait_roster(struct bctl *c, size_t count, int deadline_ms) DX_MUST_CHECK;

#endif
