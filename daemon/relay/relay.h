/*
 * relay.h: the Secretariat's relay, divex-relay.
 *
 * One libuv loop thread owns everything here: the SQLite store, the Merkle
 * log, the roster cache, the pending write batch and the parked long-polls.
 * Requests arrive from the nng bridge on that thread; reads are answered at
 * once, writes join a batch that one transaction commits (group commit)
 * before any of them is answered. The relay holds no key that opens an
 * envelope: it links divex_core, never divex_seal.
 *
 * Files: relay_store.c (schema and queries), relay_log.c (audit log and
 * checkpoints), relay_roster.c (admission and the roster cache),
 * relay_ops.c (request pipeline and handlers), relay_session.c (request
 * sessions), relay_batch.c (group commit), relay_attach.c (attachment
 * streams, in files), relay_statements.c (the recipient's logged requests,
 * for audit dossiers), relay_server.c (loop, signals, admin socket),
 * relay_main.c (command line).
 */
#ifndef DIVEX_RELAY_RELAY_H
#define DIVEX_RELAY_RELAY_H

#include <stdint.h>
#include <uv.h>

#include "bridge.h"
#include "checkpoint.h"
#include "db.h"
#include "merkle.h"
#include "metrics.h"
#include "relay_config.h"
#include "relay_wire.h"
#include "signer.h"

/* State codes map one-to-one onto 26^3 slots: no hashing, no collisions. */
#define RELAY_STATE_SLOTS (26 * 26 * 26)
/* Long-polls one State may hold open at once. */
#define RELAY_PARKED_MAX 2
/* Sessions one State may hold at once, and how long one lasts
 * (relay_session.c). */
#define RELAY_SESSIONS_PER_MEMBER 4
#define RELAY_SESSION_LIFETIME_MS (60ull * 60 * 1000)
/* An upload piece that arrives ahead of the bytes received (by at most
 * RELAY_DATA_MAX) waits this long for the piece before it. Each waiting
 * piece holds one of the relay's contexts, like a parked poll, so at most
 * a quarter of them wait at once, and at most this many per State (a node
 * uploads up to 8 streams at once, each with at most one piece ahead)
 * (relay_attach.c). Its status while applied: RELAY_AHEAD, never sent. */
#define RELAY_AHEAD_WAIT_MS 5000
#define RELAY_AHEAD_PER_MEMBER 8
#define RELAY_AHEAD 1

struct relay_sessions;

struct relay_member {
	uint8_t present;
	uint32_t status;
	uint32_t admitted_status; /* party or signatory, restored on reinstatement */
	uint8_t identity_pk[KEYS_SIGN_PK_LEN];
	uint64_t issued_ms;
	uint64_t last_seen_ms;
	/* Token bucket for the per-node rate limit. */
	double tokens;
	uint64_t tokens_ms;
	/* Parked long-poll requests of this member (a small list). */
	struct relay_op *parked;
	/* This member's mailbox: envelopes waiting and their bytes as
	 * committed, and what the batch being applied adds to it (the quota
	 * is checked against both, without reading the mailbox). */
	uint64_t mbox_n, mbox_bytes;
	uint64_t mbox_pending_n, mbox_pending_bytes;
	/* When the oldest waiting envelope arrived, for its gauge: kept as mail
	 * arrives, read again from the mailbox index only once an
	 * acknowledgement may have taken the oldest away (stale). */
	uint64_t mbox_oldest_ms;
	uint8_t mbox_oldest_stale;
	/* Request sessions (relay_session.c), allocated at the first handshake. */
	struct relay_sessions *sessions;
};

/* A request in flight: parsed, authenticated, waiting for its answer. */
struct relay_op {
	struct relay *relay;
	struct bridge_request *breq; /* NULL for admin operations in-process */
	struct relay_request req;
	const uint8_t *raw; /* the signed request bytes (valid until answered) */
	size_t raw_len;
	int op;             /* Dx__RequestBody__OpCase */
	int status;         /* result code once applied */
	Dx__RelayResponse resp;
	/* Results a handler leaves for the reply. */
	uint64_t leaf_index;
	int has_leaf;
	Dx__Receipt receipt;
	struct envelope_info env; /* submit: parsed once, views into req */
	uint8_t salt[RELAY_SALT_LEN];
	uint64_t time_ms;
	/* A mailbox this operation changed (a new envelope: +1; a first
	 * acknowledgement: -1) by mbox_bytes, counted once the batch commits. */
	int mbox_change;
	char mbox_state[4];
	uint64_t mbox_bytes;
	uint8_t *owned[8]; /* buffers freed after the reply */
	size_t n_owned;
	/* Signature checks, run on libuv's thread pool (relay_ops.c): the
	 * key they were checked against, and their results. */
	uv_work_t work;
	uint8_t checked_pk[KEYS_SIGN_PK_LEN];
	int sig_rc;        /* the request's signature */
	int outer_checked; /* submit: envelope parsed, sender and outer signature checked */
	int outer_rc;
	/* Upload: the stream's file this operation wrote (-1: none), made
	 * durable before its batch commits, closed when the op is freed; and
	 * whether the file is new (its directory is synced too). */
	int attach_fd;
	int attach_created;
	/* Upload ahead of its stream: waiting since, in the relay's list. */
	uint64_t ahead_since_ms;
	struct relay_op *next_ahead;
	/* Long-poll. */
	uv_timer_t *timer;
	struct relay_op *next_parked;
	struct relay_op *next_batch;
};

/*
 * The log's refusal lines: a peer, member or not, that sends refused
 * requests as fast as it can must not fill the operator's log (or disk).
 * At most RELAY_REFUSAL_LINES lines per RELAY_REFUSAL_WINDOW_MS; the others
 * are counted by error and summed up in one line when the window closes.
 * The metrics count every refusal.
 */
#define RELAY_REFUSAL_KINDS 11
#define RELAY_REFUSAL_LINES 20
#define RELAY_REFUSAL_WINDOW_MS 10000

struct relay {
	uv_loop_t *loop;
	struct relay_config cfg;
	char home[512];
	struct db *db;
	int attach_dir; /* data_dir/attachments (relay_attach.c) */
	/* Attachment retention (relay_attach.c): when the next step is due,
	 * and the rowid the pass has reached. */
	uint64_t attach_release_ms;
	int64_t attach_release_after;
	struct relay_op *ahead; /* upload pieces waiting for the one before */
	size_t n_ahead;
	struct keys_signer *signer;
	struct relay_identity id;
	struct merkle log;
	/* The latest checkpoint the relay signed, and whether it is stored. */
	char checkpoint[CHECKPOINT_MAX];
	size_t checkpoint_len;
	uint64_t checkpoint_size;
	uint8_t checkpoint_root[MERKLE_HASH_LEN];
	int checkpoint_stored;
	struct relay_member *members; /* RELAY_STATE_SLOTS entries */
	/* Requests whose signatures a thread is checking: the batch waits for
	 * them rather than commit once per request as each one comes back. */
	unsigned checking;
	struct metrics *metrics;
	struct health *health;
	struct bridge_server *server;
	struct bridge_server *admin;
	/* Group commit. */
	struct relay_op *batch_head, **batch_tail;
	size_t batch_len;
	uv_timer_t flush_timer;
	int flush_scheduled;
	/* Replay cache of recent request ids (in memory; see PROTOCOL.md 12.3). */
	struct replay_cache *replay;
	uv_timer_t tick;
	unsigned long listeners_replaced; /* as last logged */
	unsigned long relisten_failures;  /* as last logged */
	uv_signal_t sigterm, sigint, sighup;
	int disk_low; /* data_dir's file system is under 5% free (as last logged) */
	/* Refusal lines in the log, at most RELAY_REFUSAL_LINES per window;
	 * the rest counted by error and said in one line (relay_ops.c). */
	uint64_t refusal_window_ms;
	unsigned refusal_lines;
	uint64_t refusal_more[RELAY_REFUSAL_KINDS];
	char refusal_last[RELAY_REFUSAL_KINDS][4];
	int stopping;
	int exit_code;
	/* The Merkle nodes most recently written or read (relay_store.c). */
	struct relay_node_cache *node_cache;
};

/* Roster status as the metrics know it. */
static inline enum metrics_state_status relay_metrics_status(uint32_t status)
{
	return status == RELAY_STATUS_PARTY       ? METRICS_STATUS_PARTY
	       : status == RELAY_STATUS_SIGNATORY ? METRICS_STATUS_SIGNATORY
						  : METRICS_STATUS_SUSPENDED;
}

/* Metrics are best effort: a failure to record one never fails a request. */
static inline void relay_metrics_state(struct metrics *m, const char *state, uint32_t status,
				       uint64_t last_seen_ms, uint64_t depth, uint64_t bytes,
				       uint64_t oldest_ms)
{
	if (metrics_set_state(m, state, relay_metrics_status(status), last_seen_ms, depth, bytes,
			      oldest_ms) != DX_OK) {
		return;
	}
}

/* relay_server.c: a timestamped line on stderr for the operator. */
void relay_logf(const struct relay *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* relay_store.c */
int relay_store_open(struct relay *r, const char *path) DX_MUST_CHECK;
int relay_store_merkle_ops(struct relay *r, const struct merkle_store_ops **ops, void **ctx);
/* Empties the Merkle node cache (after a failed COMMIT). */
void relay_store_forget_nodes(struct relay *r);

/* relay_log.c */
int relay_log_open(struct relay *r) DX_MUST_CHECK;
int relay_log_append(struct relay *r, int kind, const uint8_t *leaf, size_t len,
		     uint64_t *index) DX_MUST_CHECK;
int relay_log_checkpoint(struct relay *r) DX_MUST_CHECK;
int relay_log_store_checkpoint(struct relay *r) DX_MUST_CHECK;
int relay_log_receipt(struct relay *r, uint64_t index, Dx__Receipt *out, struct relay_op *op) DX_MUST_CHECK;

/* relay_roster.c */
int relay_roster_load(struct relay *r) DX_MUST_CHECK;
struct relay_member *relay_member(struct relay *r, const char *state);
int relay_roster_admit(struct relay *r, const uint8_t *entry, size_t len, uint32_t status,
		       char state_out[static 4]) DX_MUST_CHECK;
int relay_roster_set_status(struct relay *r, const char *state, uint32_t status) DX_MUST_CHECK;
/* The roster leaf records *time_ms (now, on entry), which the receipt repeats;
 * the member's current entry again gets its leaf's index and time back. */
int relay_roster_publish(struct relay *r, const char *node, const uint8_t *entry, size_t len,
			 uint64_t *index, uint64_t *time_ms) DX_MUST_CHECK;

/* relay_ops.c */
void relay_handle_request(void *arg, struct bridge_request *breq, const uint8_t *data, size_t len);
void relay_op_reply(struct relay_op *op);
void relay_wake_parked(struct relay *r, const char *state);
/* A buffer freed with the operation, or NULL. */
uint8_t *relay_op_own(struct relay_op *op, size_t n);

/* relay_ops.c: the mailboxes' counts, read from the store (at start and
 * whenever the roster is reloaded, never during a batch). */
int relay_mailbox_count(struct relay *r) DX_MUST_CHECK;
/* Whether one more envelope of len bytes fits in m's mailbox. */
int relay_mailbox_has_room(const struct relay *r, const struct relay_member *m, uint64_t len);
/* A State's slot in relay.members. */
size_t relay_state_slot(const char *state);
/* Says how many refusals went without a line, once their window closed
 * (or at once when `now` is 0: the relay is stopping). */
void relay_refusals_flush(struct relay *r, uint64_t now);

/* relay_batch.c: relay_batch_add() joins op to the batch and flushes or
 * schedules it; relay_batch_append() only joins it (the caller schedules). */
void relay_batch_add(struct relay *r, struct relay_op *op);
void relay_batch_append(struct relay *r, struct relay_op *op);
void relay_batch_flush_now(struct relay *r);
/* Commits the batch after this loop iteration's I/O, if it holds anything. */
void relay_batch_schedule(struct relay *r);

/* relay_ops.c handlers applied inside the batch transaction. */
int relay_apply_write(struct relay *r, struct relay_op *op);

/* relay_statements.c: the statements operation, a read (PROTOCOL.md 12.4). */
int relay_op_statements(struct relay *r, struct relay_op *op);

/* relay_session.c: the session operation (a read: it stores nothing durable). */
int relay_op_session(struct relay *r, struct relay_op *op);
/*
 * Step 3 of PROTOCOL.md 12.3 for a request with a MAC: DX_ESESSION when m
 * holds no such live session agreed under its current identity key,
 * DX_EREQ_SIG when the operation must be signed or the MAC is wrong.
 */
int relay_session_check(struct relay_member *m, const struct relay_request *req, uint64_t now);
void relay_sessions_free(struct relay *r);

/* relay_attach.c: relay_attach_open() opens (and creates) the files'
 * directory; relay_attach_recover() moves pieces a store of an earlier
 * version kept in SQLite into files and removes files no stream row names
 * (only with the relay's lock held: a second process would race the
 * running relay's uncommitted uploads); relay_attach_sync() makes the
 * files a batch wrote durable, before its commit. */
int relay_attach_open(struct relay *r) DX_MUST_CHECK;
int relay_attach_recover(struct relay *r) DX_MUST_CHECK;
void relay_attach_close(struct relay *r);
int relay_attach_sync(struct relay *r, struct relay_op *head) DX_MUST_CHECK;
/*
 * After a batch: relay_attach_settle() takes an applied upload (before its
 * reply): one RELAY_AHEAD is kept waiting (1 returned: not to be answered
 * now) or refused; one that stored bytes sends the pieces waiting for its
 * stream to the next batch; one refused answers them with DX_EINVAL.
 * relay_attach_expire() answers those that waited too long (DX_EINVAL),
 * or all of them (DX_ECLOSED) when the relay stops.
 */
int relay_attach_settle(struct relay *r, struct relay_op *op, int batch_rc);
void relay_attach_expire(struct relay *r, uint64_t now_ms, int all);
/*
 * Retention (PROTOCOL.md 12.4), from the relay's tick: deletes streams
 * created more than attachment_retention_seconds ago that no envelope
 * waiting for its acknowledgement names. A pass reads at most 500 streams
 * per tick and deletes at most 64; a new pass starts once a minute.
 */
void relay_attach_release(struct relay *r, uint64_t now_ms);
int relay_attach_upload(struct relay *r, struct relay_op *op) DX_MUST_CHECK;
int relay_attach_download(struct relay *r, struct relay_op *op) DX_MUST_CHECK;

#endif
