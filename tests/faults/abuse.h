/*
 * abuse.h: what the parts of the protocol abuse campaign (fault_abuse.c,
 * abuse_auth.c) share: requests signed by hand (another node than the
 * signer's, a chosen id and time), the relay's tree size, its RSS and open
 * descriptors, and a check that the relay is alive and serves a member.
 * Every function fails the running cmocka test when something is wrong.
 * Single-threaded except where a function says otherwise.
 */
#ifndef DIVEX_TESTS_FAULTS_ABUSE_H
#define DIVEX_TESTS_FAULTS_ABUSE_H

#include <stddef.h>
#include <stdint.h>

#include "harness.h"

/* How far from the relay's clock a request may be (relay.conf default, seconds). */
#define ABUSE_WINDOW_MS (300u * 1000u)

/*
 * Signs body as k but naming node (which may be another State), with the
 * given request id (16 bytes) and time. *out is malloc'd.
 */
void abuse_sign_as(const struct keys *k, const char *node, Dx__RequestBody *body,
		   const uint8_t id[RELAY_REQUEST_ID_LEN], uint64_t time_ms, uint8_t **out,
		   size_t *len);
/* Sends raw bytes and returns the decoded answer (the test fails on a transport error). */
Dx__RelayResponse *abuse_call_raw(struct tclient *c, const uint8_t *req, size_t len);
/* The relay's current tree size, asked as BFA (a member the cases never use). */
uint64_t abuse_tree_size(void);
/* The relay process still runs and answers a member's get_checkpoint. */
void abuse_check_alive(const char *after);
/* VmRSS of the relay in KiB, and the number of its open descriptors. */
long abuse_relay_rss_kib(void);
int abuse_relay_fds(void);
/* Monotonic milliseconds. */
uint64_t abuse_now_ms(void);

/* abuse_auth.c: the cases of authentication and replay (cmocka tests). */
void test_invalid_signatures(void **state);
void test_other_states_mail(void **state);
void test_replay_every_type(void **state);

#endif
