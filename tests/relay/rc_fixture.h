/*
 * rc_fixture.h: what the relay client's tests share: a libuv loop with a
 * deadline timer (WAIT_FOR runs it until a condition holds, never sleeps),
 * clients of the harness's relay, and callbacks that record results.
 */
#ifndef DIVEX_TESTS_RC_FIXTURE_H
#define DIVEX_TESTS_RC_FIXTURE_H

#include "harness.h"
#include "relay_client.h"
#include "testlib.h"

#define DEADLINE_MS 60000

struct fx {
	uv_loop_t loop;
	uv_timer_t deadline;
	int expired;
	int alarms, alarm_code;
	char alarm_old[CHECKPOINT_MAX + 1], alarm_new[CHECKPOINT_MAX + 1];
	int checkpoints;
	uint64_t cp_size;
};
extern struct fx F;

/* Runs the loop until cond holds; the deadline timer bounds the wait. */
#define WAIT_FOR(cond)                                                                             \
	do {                                                                                       \
		while (!(cond) && !F.expired) {                                                    \
			uv_run(&F.loop, UV_RUN_ONCE);                                              \
		}                                                                                  \
		if (!(cond)) {                                                                     \
			fail_msg("deadline passed waiting for %s", #cond);                         \
		}                                                                                  \
	} while (0)

struct res {
	int done, rc;
	uint8_t *receipt;
	size_t receipt_len;
	uint64_t leaf_index;
	uint8_t salt[RELAY_SALT_LEN];
	int has_salt;
	uint8_t *env;
	size_t env_len;
	struct relay_mail mail[64];
	size_t n;
	uint32_t statuses[64];
	int more;            /* roster: another page follows */
	uint64_t last_index; /* roster: log index of the page's last entry */
};

void fx_init(void);
void fx_fini(void);
/* A client for k; url NULL means the relay itself (over TLS when the group uses it). */
struct relay_client *open_client(const struct keys *k, const char *url);
void set_flag(void *arg);
/* Waits for the client's own proof requests too, as a node's clean shutdown does. */
void close_client(struct relay_client *c);
void res_free(struct res *r);
void receipt_cb(void *arg, int rc, const struct relay_receipt_info *r);
void fetch_cb(void *arg, int rc, const uint8_t *env, size_t len, const struct relay_receipt_info *r);
void list_cb(void *arg, int rc, const struct relay_mail *mail, size_t n);
void roster_cb(void *arg, int rc, const struct relay_roster_item *items, size_t n, int more);
void done_cb(void *arg, int rc);
int submit(struct relay_client *c, const uint8_t *env, size_t len, struct res *r);
int sync_once(struct relay_client *c);
int mail_has(const struct res *r, const uint8_t digest[32]);

#endif
