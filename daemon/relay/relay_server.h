/*
 * relay_server.h: starting, running and stopping the relay, and the
 * operator's admin operations (relay_server.c), used by relay_main.c.
 */
#ifndef DIVEX_RELAY_SERVER_H
#define DIVEX_RELAY_SERVER_H

#include "relay.h"

/* home/name into out. */
int relay_path(char *out, size_t cap, const char *home, const char *name) DX_MUST_CHECK;
/* Loads config, key, store, roster and log; err receives a sentence. */
int relay_open(struct relay *r, const char *home, char *err, size_t errlen) DX_MUST_CHECK;
void relay_close(struct relay *r);
/* Runs the loop until SIGTERM or SIGINT; returns once drained. */
int relay_serve(struct relay *r) DX_MUST_CHECK;
/* admit / suspend / reinstate, in one transaction, then a new checkpoint. */
int relay_admin_apply(struct relay *r, const Dx__AdminRequest *q, Dx__AdminResponse *a,
		      char state_out[static 4]) DX_MUST_CHECK;
/* Logs an admission, suspension or reinstatement for the operator. */
void relay_note_roster_change(struct relay *r, const char *verb, const char *state);
/* Recomputes per-State mailbox depth, bytes and oldest undelivered. */
void relay_refresh_mailbox_metrics(struct relay *r, uint64_t now_ms);
/* Answers a parked long-poll now (shutdown). */
void relay_unpark_reply(struct relay_op *op);

#endif
