/*
 * node.h: divexd, the State node: what its files share.
 *
 * One struct node per process, owned by the libuv loop thread; every
 * function here runs on that thread. The node is a set of workers driven by
 * timers and by the answers of the relay client:
 *
 *   node_outbox.c   seals queued messages, uploads their attachments,
 *                   submits them and stores the relay's receipts, retrying
 *                   with backoff and jitter
 *   node_inbox.c    long-polls the mailbox, fetches, opens and stores each
 *                   envelope, downloads its attachments, acknowledges
 *   node_roster.c   mirrors and pins the roster, rotates and publishes this
 *                   State's prekeys, compares peers' checkpoints
 *   node_control.c  the control socket: roles, then node_ctl_*.c operations
 *                   (node_ctl_case.c: cases, kept in case_store.h's database)
 *   node_files.c    attachment stream files in the home
 *   divexd_main.c   start-up, signals, reload and the drain on shutdown
 *
 * Durable state lives in the node store (node_store.h); what is kept here is
 * only what a restart may forget.
 */
#ifndef DIVEX_NODE_NODE_H
#define DIVEX_NODE_NODE_H

#include <stdarg.h>
#include <stdint.h>
#include <uv.h>

#include "case_store.h"
#include "keyfile.h"
#include "keys.h"
#include "node_config.h"
#include "node_store.h"
#include "relay_client.h"
#include "seal.h"

#define NODE_CONTROL_SOCKET "control.sock"
#define NODE_STORE_FILE "node.db"
#define NODE_CASES_FILE "cases.db"
#define NODE_KEY_FILE "state.key"
#define NODE_ENROLLMENT_FILE "enrollment.dxe"
#define NODE_OUTGOING_DIR "outgoing"
#define NODE_INCOMING_DIR "incoming"
/* Control requests and replies: one attachment piece and room for the rest. */
#define NODE_CONTROL_MAX (1024 * 1024)
#define NODE_ATTACH_PIECE (512 * 1024)
/* Messages being sealed, uploaded or submitted at once. */
#define NODE_OUTBOX_PARALLEL 8
/* Alarms remembered for `divex status` since start-up (the store keeps its own). */
#define NODE_ALARMS_MAX 32
/* Envelopes this run could not open, skipped until restart. */
#define NODE_REFUSED_MAX 256

struct node_alarm {
	int code;
	uint64_t seen_ms;
	char source[NODE_STORE_SOURCE_MAX + 1];
	char held[CHECKPOINT_MAX + 1];
	size_t held_len;
	char offered[CHECKPOINT_MAX + 1];
	size_t offered_len;
};

struct node_out_job; /* node_outbox.c */

struct node {
	uv_loop_t *loop;
	char home[NODE_CONFIG_PATH_MAX];
	char conf_path[NODE_CONFIG_PATH_MAX + 32];
	char ctl_url[NODE_CONFIG_PATH_MAX + 32];
	struct node_config cfg;
	struct keys *keys;
	struct passphrase pass; /* kept to rewrite the key file when prekeys rotate */
	struct node_store *store;
	struct case_store *cases; /* case_store.h: the officer's cases */
	struct relay_client *rc;
	struct relay_identity relay;
	struct bridge_server *ctl;

	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t outbox_timer, inbox_timer, roster_timer, prekey_timer, stop_timer;
	uv_timer_t notice_timer; /* node_notice.c: the daily deadline reminders */
	int stopping;
	int exit_code;
	uint64_t started_ms;
	uint64_t drain_start_ms; /* on the loop's clock */
	int drain_reported;	 /* the slow drain's work was logged */
	uint64_t relay_last_ok_ms;
	int relay_last_error;

	/* node_outbox.c */
	struct node_out_job *jobs;
	unsigned n_jobs;
	int outbox_scanning;

	/* node_inbox.c */
	struct node_in_round *in_round; /* the mail being worked on, or NULL */
	int inbox_listing;		/* a long-poll is out */
	uint8_t refused[NODE_REFUSED_MAX][ENVELOPE_HASH_LEN];
	size_t n_refused;

	/* node_roster.c */
	uint64_t roster_since;
	int roster_active;
	int publish_active;
	int publish_needed;

	struct node_alarm alarms[NODE_ALARMS_MAX];
	size_t n_alarms;
	uint64_t alarm_logged_ms;
};

/* divexd_main.c */
void node_log(struct node *n, enum node_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Records the outcome of a relay request for `divex status`. */
void node_relay_result(struct node *n, int rc);
/* Rereads divexd.conf (SIGHUP, `reload`); msg says what applied. */
int node_reload(struct node *n, char *msg, size_t size) DX_MUST_CHECK;
/* Asks the loop to stop once in-flight work has drained. */
void node_stop(struct node *n, int exit_code);

/* node_outbox.c */
int node_outbox_start(struct node *n) DX_MUST_CHECK;
/* Looks for due messages now (after a send, a key acceptance, a reconnect). */
void node_outbox_kick(struct node *n);
size_t node_outbox_active(const struct node *n);
void node_outbox_stop(struct node *n);

/* node_inbox.c */
int node_inbox_start(struct node *n) DX_MUST_CHECK;
void node_inbox_stop(struct node *n);
int node_inbox_busy(const struct node *n);
/* The summary line listings show: "[H2] subject" (malloc'd). */
char *node_payload_summary(const uint8_t *body, size_t len);

/* node_roster.c */
int node_roster_start(struct node *n) DX_MUST_CHECK;
void node_roster_stop(struct node *n);
int node_roster_busy(const struct node *n);
/* Syncs the roster now; cb (may be NULL) is called when done. */
void node_roster_sync(struct node *n);
/*
 * The peer keys to seal to: the pinned entry, verified again, with its
 * newest valid prekey. DX_ENOENT for a State not in the mirror,
 * DX_EKEY_CHANGED while a key change waits, DX_ESUSPENDED for a suspended
 * State, DX_EPREKEY_EXPIRED when it has no valid prekey.
 */
int node_roster_peer(struct node *n, const char *state, uint64_t now_ms, struct seal_peer *out)
	DX_MUST_CHECK;
/* Open-time lookup (open_params.lookup_sender), ctx is the node. */
int node_roster_lookup_sender(void *ctx, const char *state,
			      const uint8_t identity_id[static KEYS_ID_LEN], struct seal_peer *out);
/* Publishes this State's entry with these contact records instead (DX_EBUSY while one is out). */
struct roster_contact;
int node_roster_set_contacts(struct node *n, const struct roster_contact *contacts, size_t count)
	DX_MUST_CHECK;
/* Rotates the prekey now, rewrites the key file and publishes the new entry. */
int node_roster_rotate_prekey(struct node *n) DX_MUST_CHECK;
/* Checks a checkpoint a peer carried against the relay's (alarm on contradiction). */
void node_roster_peer_checkpoint(struct node *n, const char *peer, const uint8_t *text,
				 size_t len);
/* Records an alarm (log line, status, store conflict where it applies). */
void node_alarm(struct node *n, int code, const char *source, const char *held, size_t held_len,
		const char *offered, size_t offered_len);

/* node_files.c: attachment streams, <home>/outgoing/<hex id> and incoming/<hex id>. */
int node_files_init(struct node *n) DX_MUST_CHECK;
void node_files_path(const struct node *n, const char *dir, const uint8_t id[static 16],
		     const char *suffix, char *out, size_t size);
/* The size of a complete stream file (DX_ENOENT when absent or incomplete). */
int node_files_complete(const struct node *n, const char *dir, const uint8_t id[static 16],
			uint64_t *size) DX_MUST_CHECK;
/* Appends a piece to <dir>/<id>.part at offset (== its size; an identical resend is fine); when
 * it reaches total, fsyncs and renames it to <id>. *held gets the bytes now held. */
int node_files_put(const struct node *n, const char *dir, const uint8_t id[static 16],
		   uint64_t offset, const uint8_t *data, size_t len, uint64_t total,
		   uint64_t *held) DX_MUST_CHECK;
/* Bytes held of a stream, complete or not (0 when there is nothing). */
int node_files_held(const struct node *n, const char *dir, const uint8_t id[static 16],
		    uint64_t *held, int *complete) DX_MUST_CHECK;
/* Removes a stream and its part (a download that failed its check). */
void node_files_remove(const struct node *n, const char *dir, const uint8_t id[static 16]);
/* Reads up to max bytes of a complete stream from offset. */
int node_files_read(const struct node *n, const char *dir, const uint8_t id[static 16],
		    uint64_t offset, size_t max, uint8_t *buf, size_t *got,
		    uint64_t *total) DX_MUST_CHECK;
/* BLAKE2b-256 stream hash (PROTOCOL.md 6) of a complete file. */
int node_files_hash(const struct node *n, const char *dir, const uint8_t id[static 16],
		    uint8_t hash[static 32]) DX_MUST_CHECK;

/*
 * node_casework.c: what a received casework payload means to this node (a
 * notice to answer, a reply to a notice, ...), called by node_inbox.c once
 * the envelope is stored. Failures are logged: the message itself is kept.
 */
struct Dx__Payload;
void node_casework_received(struct node *n, const struct node_store_opened *m,
			    const struct Dx__Payload *p);

/* node_notice.c: rule 12 notices: the notices table, and reminders once a day and at start. */
int node_notice_start(struct node *n) DX_MUST_CHECK;
void node_notice_stop(struct node *n);

/* node_control.c */
int node_control_start(struct node *n) DX_MUST_CHECK;
void node_control_stop(struct node *n, void (*done)(void *), void *arg);

#endif
