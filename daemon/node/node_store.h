/*
 * node_store.h: the durable store of a State node (divexd): the outbox that
 * keeps a message until the relay's signed receipt is stored, the inbox with
 * its replay ids and per-sender sequence gaps, the roster mirror with keys
 * pinned on first use, and every relay checkpoint the node has seen.
 *
 * The store is one SQLite database (db.h: WAL, synchronous=FULL), so every
 * function that returns 0 after a write has made it durable, unless the caller
 * has opened a batch with node_store_begin(), in which case the batch's
 * node_store_commit() does. Message bodies, attachment references and inbox
 * summaries are sealed at rest under a store key that the caller provides
 * (XChaCha20-Poly1305, a random nonce per row, the row's table and primary key
 * as associated data): no plaintext content reaches the database file. Sealed
 * envelopes and receipts are stored as they are: they are already encrypted
 * end to end, or public.
 *
 * Ownership and threads: one loop thread owns a struct node_store and calls
 * every function on it. The store copies the key into sodium_malloc memory
 * and wipes it on close. Every function returns 0 or a negative DX_E* code and
 * writes its out-parameters only on success. Buffers it returns are malloc'd
 * and owned by the caller; plaintext ones must be wiped (sodium_memzero)
 * before free(). List functions read their rows first and then call the
 * callback once per row, so a callback may call any other node_store function;
 * a callback that returns non-zero stops the listing, and that value is
 * returned.
 */
#ifndef DIVEX_NODE_NODE_STORE_H
#define DIVEX_NODE_NODE_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "envelope.h"
#include "error.h"
#include "keys.h"
#include "merkle.h"
#include "util.h"

#define NODE_STORE_KEY_LEN 32
#define NODE_STORE_MSG_ID_LEN 16
#define NODE_STORE_DIGEST_LEN ENVELOPE_HASH_LEN
/* Attachment references travel with the body; 64 references fit easily. */
#define NODE_STORE_ATTACH_REFS_MAX (64 * 1024)
/* A receipt: a signed checkpoint (4 KiB), a proof (2 KiB), salt and time. */
#define NODE_STORE_RECEIPT_MAX (16 * 1024)
/* The one-line summary (marking and subject) shown when listing the inbox. */
#define NODE_STORE_SUMMARY_MAX 512
/* Where a checkpoint came from ("relay", "envelope from MEX", ...). */
#define NODE_STORE_SOURCE_MAX 64
/* Rows returned by one listing call. */
#define NODE_STORE_LIST_MAX 1000

struct node_store;

/*
 * Opens (creating if needed, mode 0600) the store at path. The key seals
 * message bodies at rest; a store opened with another key lists its rows but
 * cannot read their bodies (DX_EDECRYPT).
 */
int node_store_open(const char *path, const uint8_t store_key[static NODE_STORE_KEY_LEN],
		    struct node_store **out) DX_MUST_CHECK;
/* Closes the store; a batch still open is rolled back, as a crash would. */
void node_store_close(struct node_store *st);

/*
 * The clock for the times the store records itself (created, received,
 * pinned, verified). Defaults to dx_now_ms; tests set a fixed one.
 */
typedef uint64_t (*node_store_clock_fn)(void *ctx);
void node_store_set_clock(struct node_store *st, node_store_clock_fn fn, void *ctx);

/*
 * Batches: every operation between begin and commit becomes durable together
 * at commit, with one fsync. An operation that fails inside a batch undoes
 * only its own changes. Sealing an outgoing message MUST allocate its
 * sequence number and store the sealed envelope in one batch (see
 * node_store_outbox_mark_sealed).
 */
int node_store_begin(struct node_store *st) DX_MUST_CHECK;
int node_store_commit(struct node_store *st) DX_MUST_CHECK;
void node_store_rollback(struct node_store *st);

/* ---- Outbox ---- */

enum node_store_out_state {
	NODE_STORE_OUT_QUEUED = 1,    /* body stored; not sealed yet */
	NODE_STORE_OUT_SEALED = 2,    /* envelope stored; waiting for the relay's receipt */
	NODE_STORE_OUT_RECEIPTED = 3, /* the relay's signed receipt is stored */
	NODE_STORE_OUT_FAILED = 4,    /* permanently refused; kept for the record */
};
const char *node_store_out_state_name(int state);

struct node_store_outbox_info {
	uint8_t msg_id[NODE_STORE_MSG_ID_LEN];
	char recipient[DX_STATE_LEN + 1];
	int state;
	uint64_t created_ms;
	/* Set once sealed (has_envelope). */
	int has_envelope;
	uint8_t envelope_id[ENVELOPE_ID_LEN];
	uint8_t digest[NODE_STORE_DIGEST_LEN];
	uint64_t sequence;
	uint64_t sealed_ms;
	/* Delivery attempts and the last error code (0 for none). */
	uint32_t attempts;
	int last_error;
	uint64_t next_attempt_ms;
	/* The refusal code of a FAILED message. */
	int failed_code;
	uint64_t receipted_ms;
};

/*
 * Queues a message for recipient: the serialized payload body (at most
 * ENVELOPE_BODY_MAX) and its attachment references (opaque, at most
 * NODE_STORE_ATTACH_REFS_MAX, may be empty), both sealed at rest. Writes a
 * new random 16-byte message id. The message is due at once.
 */
int node_store_outbox_enqueue(struct node_store *st, const char *recipient, const uint8_t *body,
			      size_t body_len, const uint8_t *attach_refs, size_t attach_len,
			      uint8_t msg_id[static NODE_STORE_MSG_ID_LEN]) DX_MUST_CHECK;

/*
 * Allocates the next outgoing sequence number for peer (1 for the first),
 * durably: a number once committed is never handed out again.
 */
int node_store_next_sequence(struct node_store *st, const char *peer,
			     uint64_t *sequence) DX_MUST_CHECK;

/*
 * Stores the sealed envelope of a QUEUED (or, when re-sealed, SEALED)
 * message, as is, with its envelope id, digest and sequence, and makes it
 * SEALED and due at once. The sequence must have been allocated for the
 * message's recipient and not be used by another message (DX_EEXIST).
 * Allocate it with node_store_next_sequence() in the same batch:
 *
 *	node_store_begin(); node_store_next_sequence(); seal;
 *	node_store_outbox_mark_sealed(); node_store_commit(); then submit.
 *
 * A crash before the commit loses both the allocation and the envelope, so no
 * sequence number can ever name two different envelopes that left the node.
 * DX_ENOENT for an unknown message, DX_EINVAL for one already receipted or
 * failed.
 */
int node_store_outbox_mark_sealed(struct node_store *st,
				  const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN],
				  const uint8_t *envelope, size_t envelope_len,
				  const uint8_t envelope_id[static ENVELOPE_ID_LEN],
				  const uint8_t digest[static NODE_STORE_DIGEST_LEN],
				  uint64_t sequence) DX_MUST_CHECK;

/* Messages QUEUED or SEALED whose next attempt is due at now_ms, oldest first. */
typedef int (*node_store_outbox_fn)(void *ctx, const struct node_store_outbox_info *m);
int node_store_outbox_due(struct node_store *st, uint64_t now_ms, size_t max,
			  node_store_outbox_fn cb, void *ctx) DX_MUST_CHECK;

/*
 * Records a failed delivery attempt: counts it, keeps the error code and
 * schedules the next attempt (the caller computes the backoff).
 */
int node_store_outbox_record_attempt(struct node_store *st,
				     const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN], int error,
				     uint64_t next_attempt_ms) DX_MUST_CHECK;

/*
 * The link to the relay is back: every QUEUED or SEALED message whose last
 * attempt failed for want of a link (DX_ETIMEDOUT, DX_EUNREACHABLE,
 * DX_ETLS, DX_ECLOSED) and that waits for a later attempt is made due at
 * now_ms; *n counts them. Refusals (rate, quota, keys) keep their backoff.
 */
int node_store_outbox_link_up(struct node_store *st, uint64_t now_ms, size_t *n) DX_MUST_CHECK;

/*
 * Stores the relay's receipt for a SEALED (or FAILED) message: RECEIPTED.
 * The same receipt again is accepted; another one is DX_EEXIST and the first
 * is kept. DX_EINVAL for a message that was never sealed.
 */
int node_store_outbox_mark_receipted(struct node_store *st,
				     const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN],
				     const uint8_t *receipt, size_t receipt_len) DX_MUST_CHECK;

/* A permanent refusal (error is the DX_E* code): FAILED, no more attempts. */
int node_store_outbox_mark_failed(struct node_store *st,
				  const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN],
				  int error) DX_MUST_CHECK;

int node_store_outbox_get(struct node_store *st, const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN],
			  struct node_store_outbox_info *out) DX_MUST_CHECK;

/* The decrypted body and attachment references (either out may be NULL). */
int node_store_outbox_read(struct node_store *st,
			   const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN], uint8_t **body,
			   size_t *body_len, uint8_t **attach_refs,
			   size_t *attach_len) DX_MUST_CHECK;

/* The sealed envelope (DX_ENOENT before sealing) or the receipt (before receipt). */
int node_store_outbox_envelope(struct node_store *st,
			       const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN], uint8_t **out,
			       size_t *out_len) DX_MUST_CHECK;
int node_store_outbox_receipt(struct node_store *st,
			      const uint8_t msg_id[static NODE_STORE_MSG_ID_LEN], uint8_t **out,
			      size_t *out_len) DX_MUST_CHECK;

/* Every message, newest first, for `divex status` (limit <= NODE_STORE_LIST_MAX). */
int node_store_outbox_list(struct node_store *st, size_t limit, size_t offset,
			   node_store_outbox_fn cb, void *ctx) DX_MUST_CHECK;

/* How many messages each part of the store holds, counted by SQLite without
 * opening any: outbox[state] for NODE_STORE_OUT_* (index 0 unused). */
struct node_store_counts {
	uint64_t outbox[5];
	uint64_t inbox, inbox_unacked;
};
int node_store_count(struct node_store *st, struct node_store_counts *out) DX_MUST_CHECK;

/* ---- Inbox ---- */

/* What the node learnt when it opened an envelope. */
struct node_store_opened {
	uint8_t digest[NODE_STORE_DIGEST_LEN];
	uint8_t envelope_id[ENVELOPE_ID_LEN];
	char sender[DX_STATE_LEN + 1];
	uint64_t sequence;
	uint64_t created_ms;
	/* The opened payload body, at most ENVELOPE_BODY_MAX. */
	const uint8_t *body;
	size_t body_len;
	/* Marking and subject for listings (NUL-free text, at most NODE_STORE_SUMMARY_MAX). */
	const char *summary;
	/* The relay's fetch receipt (may be empty). */
	const uint8_t *fetch_receipt;
	size_t fetch_receipt_len;
};

struct node_store_inbox_info {
	uint8_t digest[NODE_STORE_DIGEST_LEN];
	uint8_t envelope_id[ENVELOPE_ID_LEN];
	char sender[DX_STATE_LEN + 1];
	uint64_t sequence;
	uint64_t created_ms;
	uint64_t received_ms;
	int acked;
	/* The summary, or empty with summary_err = DX_EDECRYPT when it cannot be read. */
	char summary[NODE_STORE_SUMMARY_MAX + 1];
	int summary_err;
};

/* *seen = 1 when an envelope with this id was accepted before, else 0. */
int node_store_inbox_seen(struct node_store *st, const uint8_t envelope_id[static ENVELOPE_ID_LEN],
			  int *seen) DX_MUST_CHECK;

/*
 * Stores an opened envelope in one transaction: the sealed body and summary,
 * the fetch receipt, the envelope id as seen (DX_EREPLAY if it was), and the
 * sender's sequence state: a jump past the highest sequence records the
 * missing range as a gap; a late envelope shrinks or splits its gap.
 */
int node_store_inbox_store_opened(struct node_store *st,
				  const struct node_store_opened *m) DX_MUST_CHECK;

/* Stores the relay's receipt for our acknowledgement. Idempotent as mark_receipted. */
int node_store_inbox_mark_acked(struct node_store *st,
				const uint8_t digest[static NODE_STORE_DIGEST_LEN],
				const uint8_t *receipt, size_t receipt_len) DX_MUST_CHECK;

/* Received envelopes, newest first (limit <= NODE_STORE_LIST_MAX). */
typedef int (*node_store_inbox_fn)(void *ctx, const struct node_store_inbox_info *m);
int node_store_inbox_list(struct node_store *st, size_t limit, size_t offset,
			  node_store_inbox_fn cb, void *ctx) DX_MUST_CHECK;
int node_store_inbox_get(struct node_store *st, const uint8_t digest[static NODE_STORE_DIGEST_LEN],
			 struct node_store_inbox_info *out) DX_MUST_CHECK;
/*
 * Up to max stored messages without an acknowledgement receipt, oldest
 * first: their digests and senders (nothing is opened). *n is how many.
 */
int node_store_inbox_unacked(struct node_store *st, size_t max,
			     uint8_t (*digests)[NODE_STORE_DIGEST_LEN], char (*senders)[DX_STATE_LEN + 1],
			     size_t *n) DX_MUST_CHECK;

/* The decrypted body; the caller wipes it with sodium_memzero and frees it. */
int node_store_inbox_read(struct node_store *st, const uint8_t digest[static NODE_STORE_DIGEST_LEN],
			  uint8_t **body, size_t *body_len) DX_MUST_CHECK;

/* The fetch or acknowledgement receipt (DX_ENOENT when there is none). */
enum node_store_receipt_kind { NODE_STORE_RECEIPT_FETCH = 1, NODE_STORE_RECEIPT_ACK = 2 };
int node_store_inbox_receipt(struct node_store *st,
			     const uint8_t digest[static NODE_STORE_DIGEST_LEN], int kind,
			     uint8_t **out, size_t *out_len) DX_MUST_CHECK;

/* Highest sequence received from peer (0 for none) and its missing ranges, lowest first. */
int node_store_inbox_highest(struct node_store *st, const char *peer,
			     uint64_t *highest) DX_MUST_CHECK;
typedef int (*node_store_gap_fn)(void *ctx, uint64_t first, uint64_t last);
int node_store_inbox_gaps(struct node_store *st, const char *peer, node_store_gap_fn cb,
			  void *ctx) DX_MUST_CHECK;

/*
 * Forgets seen envelope ids whose envelope was created more than max_age_ms
 * before now_ms: such an envelope is refused as stale before its id is looked
 * up. *pruned (may be NULL) receives the count.
 */
int node_store_inbox_prune_seen(struct node_store *st, uint64_t now_ms, uint64_t max_age_ms,
				uint64_t *pruned) DX_MUST_CHECK;

/* ---- Roster mirror ---- */

struct node_store_roster_info {
	char state[DX_STATE_LEN + 1];
	uint8_t identity_pk[KEYS_SIGN_PK_LEN]; /* the pinned key */
	uint32_t status;
	uint64_t log_index;
	uint64_t pinned_ms;
	uint64_t updated_ms;
	uint64_t verified_ms; /* out-of-band verification of the pinned key; 0 for never */
	int has_pending;
	uint8_t pending_identity_pk[KEYS_SIGN_PK_LEN];
	uint32_t pending_status;
	uint64_t pending_log_index;
	uint64_t pending_ms;
};

/*
 * Mirrors a roster entry the caller has verified (roster_entry_verify): its
 * exact signed bytes, identity key, status (relay_status) and log index. The
 * first key seen for a State is pinned. An entry under the pinned key updates
 * the mirror (DX_EDUPLICATE_ENTRY for a lower log index than the stored one).
 * An entry under another key is not applied: it is kept as the pending change
 * and DX_EKEY_CHANGED is returned, while the pinned entry stays in effect.
 */
int node_store_roster_put(struct node_store *st, const char *state, const uint8_t *entry,
			  size_t entry_len, const uint8_t identity_pk[static KEYS_SIGN_PK_LEN],
			  uint32_t status, uint64_t log_index) DX_MUST_CHECK;

/*
 * Applies the pending change when identity_pk is its key (DX_ESIG otherwise,
 * DX_ENOENT when none is pending): the new key is pinned and counted as
 * verified out of band, since the user compared its fingerprint to accept it.
 */
int node_store_roster_accept_change(struct node_store *st, const char *state,
				    const uint8_t identity_pk[static KEYS_SIGN_PK_LEN])
	DX_MUST_CHECK;

/* Records that the pinned key was verified out of band now (DX_ESIG for another key). */
int node_store_roster_verify_oob(struct node_store *st, const char *state,
				 const uint8_t identity_pk[static KEYS_SIGN_PK_LEN]) DX_MUST_CHECK;

/* The mirrored entry; entry may be NULL to skip its bytes. */
int node_store_roster_get(struct node_store *st, const char *state,
			  struct node_store_roster_info *info, uint8_t **entry,
			  size_t *entry_len) DX_MUST_CHECK;
/* The pending entry's bytes (DX_ENOENT when none). */
int node_store_roster_pending_entry(struct node_store *st, const char *state, uint8_t **entry,
				    size_t *entry_len) DX_MUST_CHECK;

/* Every mirrored State, by State code. */
typedef int (*node_store_roster_fn)(void *ctx, const struct node_store_roster_info *r);
int node_store_roster_list(struct node_store *st, node_store_roster_fn cb, void *ctx) DX_MUST_CHECK;

/* ---- Relay checkpoints ---- */

struct node_store_checkpoint {
	uint64_t size;
	uint8_t root[MERKLE_HASH_LEN];
	uint64_t seen_ms;
	char source[NODE_STORE_SOURCE_MAX + 1];
	/* The signed text (at most CHECKPOINT_MAX), malloc'd; free with node_store_checkpoint_fini.
	 */
	uint8_t *text;
	size_t text_len;
};
void node_store_checkpoint_fini(struct node_store_checkpoint *c);

/*
 * Keeps a checkpoint the caller has verified (signature, and consistency with
 * the latest by a proof when it is larger). The store itself refuses with
 * DX_ELOG_INCONSISTENT, and records the pair as a conflict that survives
 * restarts: a checkpoint of a size already held with another root
 * (equivocation, whether or not the size is the latest), and one smaller
 * than the latest whose size was never held (a rollback: the relay shows an
 * older tree than it has already signed). A smaller checkpoint whose size is
 * held with the same root is kept in the history. Size is at most INT64_MAX;
 * text at most CHECKPOINT_MAX bytes; source 1 to NODE_STORE_SOURCE_MAX bytes.
 * Inside a batch, the conflict is committed with the batch.
 */
int node_store_checkpoint_put(struct node_store *st, uint64_t size,
			      const uint8_t root[static MERKLE_HASH_LEN], const uint8_t *text,
			      size_t text_len, const char *source) DX_MUST_CHECK;

/* The checkpoint of the largest size held (DX_ENOENT when none). */
int node_store_checkpoint_latest(struct node_store *st,
				 struct node_store_checkpoint *out) DX_MUST_CHECK;

/* Two checkpoints that cannot both hold: evidence against the relay. */
enum node_store_conflict_kind {
	NODE_STORE_CONFLICT_EQUIVOCATION = 1, /* same size, another root */
	NODE_STORE_CONFLICT_ROLLBACK = 2,     /* smaller than the latest, root not the one held */
};
struct node_store_conflict {
	int kind;
	uint64_t seen_ms;
	char source[NODE_STORE_SOURCE_MAX + 1];
	/* held: the checkpoint the node had; offered: the one refused. Views valid during the
	 * callback. */
	uint64_t held_size, offered_size;
	const uint8_t *held_text, *offered_text;
	size_t held_len, offered_len;
};
typedef int (*node_store_conflict_fn)(void *ctx, const struct node_store_conflict *c);
int node_store_checkpoint_conflicts(struct node_store *st, node_store_conflict_fn cb,
				    void *ctx) DX_MUST_CHECK;

#endif
