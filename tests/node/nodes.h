/*
 * nodes.h: State nodes as separate processes for multi-process tests.
 *
 * A test network is one divex-relay on loopback (tcp or tls+tcp) and a few
 * States, each a home made with `divex init`, admitted with
 * `divex-relay admit`, and served by `divexd run`. Tests drive the nodes only
 * through the divex command with --json, exactly as an officer would, and
 * wait for conditions with deadlines by polling the command or a log (never
 * by sleeping and hoping). Every child is stopped in teardown, and killed at
 * exit even when a test fails; on a failure the tails of the logs are
 * printed, since the temporary directory goes away (DIVEX_KEEP_TMP=1 keeps
 * it).
 *
 * Everything here runs on the test's one thread; cmocka's assertions end a
 * test on the first failure.
 */
#ifndef DIVEX_TESTS_NODE_NODES_H
#define DIVEX_TESTS_NODE_NODES_H

#include <jansson.h>
#include <stddef.h>
#include <sys/types.h>

#include "proc.h"

#define TN_RELAY_NAME "test.divex/relay"
#define TN_NODES_MAX 4
/* Deadlines, in milliseconds. */
#define TN_START_MS 60000
#define TN_DELIVER_MS 60000
#define TN_CLI_MS 120000

struct trelay {
	char home[512];
	char log[600];
	char url[128];
	int use_tls;
	int port; /* 0 until first started; then fixed for every restart */
	struct proc proc;
	int running;
};

struct tnode {
	char state[4];
	char home[512];
	char log[600];	/* divexd's standard error, appended across restarts */
	char pass[600]; /* passphrase file, mode 0600 */
	char cli_log[600];
	struct proc proc;
	int running;
};

struct tnet {
	int use_tls;
	char dir[512];
	struct trelay relay;
	const struct trelay *twin; /* a second relay whose log tnet_dump_logs() shows too */
	char relay_key[65];
	struct tnode nodes[TN_NODES_MAX];
	int n_nodes;
};

/* ---- the relay ---- */

/* `divex-relay init` in home, then a relay.conf listening on port 0. */
void trelay_init(struct trelay *r, const char *home, int use_tls);
/*
 * Runs the relay and waits for its "(bound port N)" line. The first start
 * learns the port and writes it into relay.conf, so that a restart listens
 * on the same port (nodes keep their URL).
 */
void trelay_start(struct trelay *r);
/* Stops the relay with sig; returns its exit status. */
int trelay_stop(struct trelay *r, int sig);
/* Copies a stopped relay's whole home into home, listening on a new port. */
void trelay_clone(const struct trelay *from, struct trelay *to, const char *home);
/* The relay's public key as 64 hex digits, from `divex-relay identity`. */
void trelay_identity(const struct trelay *r, char key_hex[65]);
/* `divex-relay admit --status party FILE`; returns its exit status. */
int trelay_admit(const struct trelay *r, const char *enrollment);

/* ---- the network ---- */

/*
 * A relay in DIR/relay and one node per State in DIR/<STATE> (initialised,
 * admitted, tuned for tests and started). dir_name is below test_tmpdir().
 */
void tnet_setup(struct tnet *t, const char *dir_name, int use_tls, const char *const states[],
		int n);
/* Called for each node once it is initialised, before it is admitted and started. */
typedef void (*tnet_node_hook)(struct tnet *t, struct tnode *n, int i, void *arg);
/* tnet_setup, with hook (may be NULL) run for every node. */
void tnet_setup_with(struct tnet *t, const char *dir_name, int use_tls,
		     const char *const states[], int n, tnet_node_hook hook, void *arg);
/* Stops every node and the relay, whatever state the test left them in. */
void tnet_teardown(struct tnet *t);
struct tnode *tnet_node(struct tnet *t, const char *state);
/* The item of `divex outbox` on n whose message id is id (a new reference), or NULL. */
json_t *tnet_outbox_item(struct tnet *t, const struct tnode *n, const char *id);
/* Prints the last lines of every log of the network to stderr. */
void tnet_dump_logs(const struct tnet *t);
/* Dumps the logs, then fails the test with the message. */
#define TN_FAIL(t, ...)                                                                            \
	do {                                                                                       \
		tnet_dump_logs(t);                                                                 \
		fail_msg(__VA_ARGS__);                                                             \
	} while (0)

/* ---- one node ---- */

/*
 * `divex init` for state in home with a fresh passphrase file, against t's
 * relay; then the test timings written into divexd.conf. The node is not
 * admitted or started.
 */
void tnode_init(struct tnet *t, struct tnode *n, const char *state, const char *home);
/* Sets key = value in [section] of the node's divexd.conf (replacing it). */
void tnode_conf_set(struct tnode *n, const char *section, const char *key, const char *value);
/* `divexd run --home DIR`, waiting for its control socket. */
void tnode_start(struct tnet *t, struct tnode *n);
/* Sends sig and waits; returns the exit status (128+signal when killed). */
int tnode_stop(struct tnode *n, int sig);
/* Waits until the log contains needle count times: 0, or -1 after deadline_ms. */
int tnode_wait_log(const struct tnode *n, const char *needle, int count, int deadline_ms);

/* ---- the divex command ---- */

struct tcli {
	int status;	/* exit status, 128+signal, or -1 after the deadline */
	json_t *json;	/* standard output parsed as JSON, or NULL */
	char *out;	/* standard output, whole; freed by tcli_free() */
	char err[8192]; /* standard error (cut) */
};

/*
 * Runs `divex --home HOME --json ARGS...` as user `as` ((uid_t)-1: this
 * process's user) with standard input from /dev/null. r->out and r->json
 * must be freed with tcli_free().
 */
void tnode_cli_argv(const struct tnode *n, uid_t as, struct tcli *r, char *const args[]);
void tcli_free(struct tcli *r);
/* Runs the command and asserts status 0 and a JSON answer, which it returns. */
json_t *tnode_cli_ok_argv(struct tnet *t, const struct tnode *n, char *const args[]);
#define TN_ARGS(...) ((char *const[]){ __VA_ARGS__, NULL })
#define TN_CLI_OK(t, n, ...) tnode_cli_ok_argv(t, n, TN_ARGS(__VA_ARGS__))

/*
 * Sends a text message (and attachments, NULL-terminated, may be NULL) from
 * n to one State; returns the message id (32 hex digits) in id.
 */
void tnode_send(struct tnet *t, const struct tnode *n, const char *to, const char *subject,
		const char *text, const char *const attach[], char id[33]);
/*
 * Starts count `divex send` commands from n to one State at once, with
 * subjects "<tag> <i>.", and waits for every answer; message ids in ids.
 */
#define TN_BURST_MAX 32
void tnode_send_burst(struct tnet *t, const struct tnode *n, const char *to, const char *tag,
		      int count, char ids[][33]);
/*
 * Waits until n's inbox holds an item from sender whose summary contains
 * subject (and, with acked set, that is acknowledged: its attachments are
 * downloaded); returns it (a new reference) or fails the test at the
 * deadline.
 */
json_t *tnode_wait_inbox(struct tnet *t, const struct tnode *n, const char *sender,
			 const char *subject, int acked, int deadline_ms);
/* Waits until n's outbox item with message id is in state ("receipted", ...). */
json_t *tnode_wait_outbox(struct tnet *t, const struct tnode *n, const char *id, const char *state,
			  int deadline_ms);
/*
 * `divex read ID --json` on n (a new reference); *payload, when payload is
 * not NULL, is its "payload" object (borrowed from the answer).
 */
json_t *tnode_read(struct tnet *t, const struct tnode *n, const char *id, json_t **payload);
/* The current `divex inbox --json` (a new reference). */
json_t *tnode_inbox(struct tnet *t, const struct tnode *n);
/* The string member key of o, or "" (never NULL). */
const char *tj_str(const json_t *o, const char *key);
/* The integer member key of o, or -1. */
long long tj_int(const json_t *o, const char *key);

/* ---- files ---- */

/* Writes len pseudo-random bytes (seeded) to path. */
void tfile_random(const char *path, size_t len, unsigned seed);
/* Whether two files have the same bytes. */
int tfile_same(const char *a, const char *b);
/* Milliseconds on a monotonic clock. */
long tn_now_ms(void);
/* A pause between two polls of a condition (never a synchronisation). */
void tn_pause(void);

#endif
