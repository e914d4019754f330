/*
 * harness.h: a divex-relay child process on loopback for multi-process
 * tests: initialised and configured with the real commands, with four States
 * (FRA, MEX and BFA admitted; GBR never), and helpers to talk to it as those
 * States would.
 */
#ifndef DIVEX_TESTS_RELAY_HARNESS_H
#define DIVEX_TESTS_RELAY_HARNESS_H

#include "client.h"
#include "proc.h"
#include "seal.h"

#define CANARY "canary-7f3a9c: forty rifles, serials 4471-4510"
#define NAME "test.divex/relay"

struct relay_harness {
	char home[1024], relay_log[1100], url[256];
	struct proc relay;
	struct keys *fra, *mex, *bfa, *gbr;
	struct relay_identity rid;
	int use_tls;
	int port;
	/* [limits] mailbox_max_envelopes; 0 means 40. */
	int mailbox_max;
	/* The port relay.conf asks for; 0 (any) unless a test restarts it in place. */
	int listen_port;
	/* [limits] attachment_retention_seconds and attachment_quota_bytes;
	 * 0 leaves the relay's defaults. */
	unsigned attachment_retention_s;
	unsigned long long attachment_quota;
};
extern struct relay_harness H;

const char *rh_relay_bin(void);
/* cmocka group setup/teardown: a fresh relay (H.use_tls chooses the URL). */
int rh_setup(void **state);
int rh_teardown(void **state);
void rh_start_relay(void);
void rh_open_client(struct tclient *c, const struct keys *k);
uint8_t *rh_seal_for(const struct keys *from, const struct keys *to, const char *text,
		     size_t *len, struct envelope_info *info);
/* The same, its header naming the attachment streams ids. */
uint8_t *rh_seal_naming(const struct keys *from, const struct keys *to, const char *text,
			const uint8_t (*ids)[16], size_t n_ids, size_t *len,
			struct envelope_info *info);
Dx__RelayResponse *rh_call(struct tclient *c, Dx__RequestBody *b, int want);
Dx__RelayResponse *rh_submit(struct tclient *c, const uint8_t *env, size_t len, int want);
/* The relay's file of an attachment stream (attachments/<hex id> in its home). */
const char *rh_stream_file(const uint8_t id[16]);
/* One attachment piece (PROTOCOL.md 12.4 upload), answered with status want. */
Dx__RelayResponse *rh_upload(struct tclient *c, const uint8_t id[16], uint64_t off,
			     const uint8_t *data, size_t n, uint64_t total, int want);
void rh_check_accepted_receipt(const Dx__RelayResponse *r, const struct envelope_info *e);
Dx__RelayResponse *rh_list(struct tclient *c, uint32_t wait_ms);
Dx__RelayResponse *rh_fetch_or_ack(struct tclient *c, int ack, const uint8_t digest[32], int want,
				   uint8_t **raw, size_t *raw_len);
int rh_lookup_fra(void *ctx, const char *state, const uint8_t id[static KEYS_ID_LEN],
		  struct seal_peer *out);
void rh_admin_cmd(const char *verb, const char *st);
/* Rewrites relay.conf with another mailbox limit (for SIGHUP tests). */
void rh_rewrite_config(int mailbox_max);
/* Stops the relay (SIGTERM) and starts it again on the port it had, so that
 * clients already connected find it again. */
void rh_restart_same_port(void);

#endif
