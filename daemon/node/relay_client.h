/*
 * relay_client.h: a State node's asynchronous client for the Secretariat's
 * relay (docs/PROTOCOL.md sections 11 and 12), driven from the node's libuv
 * loop through the bridge's REQ side.
 *
 * Every operation signs a RequestBody with the node's identity key, sends it,
 * decodes the answer strictly and checks what the answer claims before it
 * reports success: a receipt is verified against the leaf the node rebuilds
 * from what it sent (its envelope's digest and parties, its own signed
 * request), a fetched envelope must be the one asked for. A receipt that does
 * not verify is DX_EPROOF, never a success. The relay's refusal codes and the
 * bridge's transport errors are passed on unchanged.
 *
 * Every answer also carries the relay's latest signed checkpoint. The client
 * verifies it with the pinned relay key and keeps the latest one it has
 * adopted. A larger checkpoint is adopted only after a consistency proof from
 * the latest, asked of the relay in the background; a smaller one, one of the
 * same size with another root, or one whose proof fails is refused and
 * reported through on_alarm with both signed texts as evidence. The client
 * then keeps its own latest checkpoint for good: it never gives up a
 * checkpoint it verified in favour of one that contradicts it, so every later
 * checkpoint of a forked relay raises another alarm. Operations go on working
 * meanwhile (their receipts are verified against their own checkpoints); the
 * node decides what an alarm means for it.
 *
 * Ownership: the client borrows cfg->keys, which must outlive it; it copies
 * everything else. Data handed to a callback is valid only during that call.
 *
 * Thread: every function must be called on the loop thread, and every
 * callback runs there, never from within the call that queued it. An
 * operation that returns 0 calls its callback exactly once (with DX_ECLOSED
 * when the client is closed first); one that fails returns the error and
 * never calls it. Callbacks may start operations or close the client.
 */
#ifndef DIVEX_NODE_RELAY_CLIENT_H
#define DIVEX_NODE_RELAY_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "relay_wire.h"

/* Most mail items one list answer may carry (PROTOCOL.md 12.4). */
#define RELAY_CLIENT_LIST_MAX 256
#define RELAY_CLIENT_DEFAULT_CONTEXTS 16u

/*
 * Called when the relay shows a checkpoint that contradicts the client's:
 * code is DX_ELOG_INCONSISTENT (rollback or equivocation) or DX_EPROOF (the
 * relay's consistency proof failed). old_text is the checkpoint the client
 * holds (or was proving), new_text the refused one; both are signed by the
 * relay and together are evidence anyone can check. Raised once per refused
 * checkpoint.
 */
typedef void (*relay_client_alarm_fn)(void *arg, int code, const char *old_text, size_t old_len,
				      const char *new_text, size_t new_len);
/* Called when a newer checkpoint is adopted; the node stores it durably. */
typedef void (*relay_client_checkpoint_fn)(void *arg, const char *text, size_t len, uint64_t size);

struct relay_client_config {
	const char *url;	     /* tls+tcp://host:port in production */
	const char *tls_ca_file;     /* the relay's certificate, PEM, pinned (tls+tcp only) */
	const char *tls_server_name; /* expected name in it, or NULL */
	const struct keys *keys;     /* the node's keys; borrowed */
	struct relay_identity relay; /* origin = key name, and the relay's public key */
	unsigned contexts;	     /* requests in flight; 0: RELAY_CLIENT_DEFAULT_CONTEXTS */
	unsigned timeout_ms;	     /* per request (0: never); a list's wait_ms must be less */
	unsigned resend_ms;	     /* nng resend time; above any list wait_ms (0: one minute) */
	relay_client_alarm_fn on_alarm;		  /* may be NULL */
	relay_client_checkpoint_fn on_checkpoint; /* may be NULL */
	void *cb_arg;				  /* for on_alarm and on_checkpoint */
};

struct relay_client;

/* A verified receipt: what the node stores as its evidence. */
struct relay_receipt_info {
	const uint8_t *receipt; /* the serialized Receipt */
	size_t receipt_len;
	uint64_t leaf_index;
	uint64_t time_ms;    /* the relay's time in the leaf */
	const uint8_t *salt; /* RELAY_SALT_LEN bytes for submit and fetch, else NULL */
};

struct relay_mail {
	uint8_t digest[ENVELOPE_HASH_LEN];
	char sender[DX_STATE_LEN + 1];
	uint64_t size;
	uint64_t received_ms;
};

struct relay_roster_item {
	const uint8_t *signed_entry; /* not verified here */
	size_t entry_len;
	uint32_t status;
	uint64_t log_index;
};

/* rc is 0 or a DX_E* code; on failure the other arguments are NULL or 0. */
typedef void (*relay_client_receipt_fn)(void *arg, int rc, const struct relay_receipt_info *r);
typedef void (*relay_client_list_fn)(void *arg, int rc, const struct relay_mail *mail, size_t n);
typedef void (*relay_client_fetch_fn)(void *arg, int rc, const uint8_t *envelope, size_t len,
				      const struct relay_receipt_info *r);
/* more: the relay has entries after this page (ask again from the index after
 * the last one). */
typedef void (*relay_client_roster_fn)(void *arg, int rc, const struct relay_roster_item *items,
				       size_t n, int more);
typedef void (*relay_client_upload_fn)(void *arg, int rc, uint64_t received);
typedef void (*relay_client_download_fn)(void *arg, int rc, const uint8_t *data, size_t len,
					 uint64_t total_size);
typedef void (*relay_client_done_fn)(void *arg, int rc);

/*
 * Opens the client and starts dialling (the relay may appear later). DX_EINVAL
 * for a configuration without url, keys or a valid relay name.
 */
int relay_client_open(uv_loop_t *loop, const struct relay_client_config *cfg,
		      struct relay_client **out) DX_MUST_CHECK;
/*
 * Fails every pending operation with DX_ECLOSED, then frees the client and
 * calls done(arg) (which may be NULL) on the loop thread. A second call is
 * ignored.
 */
void relay_client_close(struct relay_client *c, void (*done)(void *arg), void *arg);

/*
 * Seeds the latest checkpoint from the node's store before the first
 * request. The text is verified with the pinned key (its error otherwise);
 * DX_EEXIST once the client holds a checkpoint.
 */
int relay_client_set_checkpoint(struct relay_client *c, const uint8_t *text,
				size_t len) DX_MUST_CHECK;
/* The latest adopted checkpoint; DX_ENOENT when none. Pointers valid until the next answer. */
int relay_client_checkpoint(const struct relay_client *c, const char **text, size_t *len,
			    uint64_t *size) DX_MUST_CHECK;

struct relay_client_stats {
	uint64_t proof_requests; /* consistency proofs asked of the relay */
	uint64_t adopted;	 /* checkpoints adopted after the first */
	uint64_t alarms;
	uint64_t sessions;	   /* request sessions agreed with the relay */
	uint64_t sessions_lost;	   /* requests the relay refused for an unknown session */
	uint64_t session_failures; /* handshakes refused, failed or not checked */
};
void relay_client_stats(const struct relay_client *c, struct relay_client_stats *out);
/*
 * Requests sent and not yet answered, the client's own proof requests
 * included. A node that shuts down cleanly waits for 0 before closing:
 * nng 1.5.2 can hang in nng_close() when a socket closes while a request
 * is on its way out.
 */
size_t relay_client_in_flight(const struct relay_client *c);
/*
 * The same requests by operation, for a log line ("submit 2, list 1"): at
 * most len bytes with the NUL; "none" when nothing is in flight.
 */
void relay_client_describe_in_flight(const struct relay_client *c, char *buf, size_t len);

/* Submits an envelope this node sealed; the receipt proves its accepted leaf. */
int relay_client_submit(struct relay_client *c, const uint8_t *envelope, size_t len,
			relay_client_receipt_fn cb, void *arg) DX_MUST_CHECK;
/* Undelivered mail, oldest first; waits up to wait_ms (< timeout_ms) for some. */
int relay_client_list(struct relay_client *c, uint32_t wait_ms, uint32_t max,
		      relay_client_list_fn cb, void *arg) DX_MUST_CHECK;
/* Fetches an envelope addressed to this node; the receipt proves the fetched leaf. */
int relay_client_fetch(struct relay_client *c, const uint8_t digest[static ENVELOPE_HASH_LEN],
		       relay_client_fetch_fn cb, void *arg) DX_MUST_CHECK;
/* Acknowledges an envelope; the receipt proves the acknowledged leaf. */
int relay_client_ack(struct relay_client *c, const uint8_t digest[static ENVELOPE_HASH_LEN],
		     relay_client_receipt_fn cb, void *arg) DX_MUST_CHECK;
/* Roster entries logged at or after since_index, in log order, passed on
 * unverified: one page of at most max (0: the relay's page size). */
int relay_client_roster(struct relay_client *c, uint64_t since_index, uint32_t max,
			relay_client_roster_fn cb, void *arg) DX_MUST_CHECK;
/* Publishes a newer roster entry of this node; the receipt proves its roster leaf. */
int relay_client_publish(struct relay_client *c, const uint8_t *entry, size_t len,
			 relay_client_receipt_fn cb, void *arg) DX_MUST_CHECK;
/*
 * One piece of an attachment stream (len <= RELAY_DATA_MAX); data may be
 * reused once this returns. Two pieces of a stream may be on their way at
 * once, the second starting where the first ends: the relay holds one that
 * arrives first until the one before it is stored (PROTOCOL.md 12.4), and
 * the answers may come in either order.
 */
int relay_client_upload(struct relay_client *c, const uint8_t id[static RELAY_ATTACHMENT_ID_LEN],
			uint64_t offset, const uint8_t *data, size_t len, uint64_t total_size,
			relay_client_upload_fn cb, void *arg) DX_MUST_CHECK;
/* Up to max (<= RELAY_DATA_MAX) stream bytes from offset. */
int relay_client_download(struct relay_client *c, const uint8_t id[static RELAY_ATTACHMENT_ID_LEN],
			  const uint8_t envelope_digest[static ENVELOPE_HASH_LEN], uint64_t offset,
			  uint32_t max, relay_client_download_fn cb, void *arg) DX_MUST_CHECK;
/* Asks only for the relay's checkpoint (tracked as with every answer). */
int relay_client_sync(struct relay_client *c, relay_client_done_fn cb, void *arg) DX_MUST_CHECK;

/*
 * Proves a checkpoint that came from elsewhere (a peer's envelope, an old
 * receipt) consistent with the relay's current one: asks the relay for its
 * checkpoint, then for a consistency proof from the given size. cb gets 0
 * when it holds; DX_ELOG_INCONSISTENT (the relay now shows a smaller tree,
 * or the same size with another root) or DX_EPROOF (the proof fails) when
 * the two cannot both be true, with both signed texts (given, then the
 * relay's current one) as evidence; any other code, without texts, when
 * nothing could be proved (transport, refusal). on_alarm is not called: the
 * caller knows where the given checkpoint came from and reports it (the
 * alarm is counted in the stats). The text is verified with the pinned key
 * first: its error is returned and cb is not called.
 */
typedef void (*relay_client_prove_fn)(void *arg, int rc, const char *given, size_t given_len,
				      const char *current, size_t current_len);
int relay_client_prove(struct relay_client *c, const uint8_t *text, size_t len,
		       relay_client_prove_fn cb, void *arg) DX_MUST_CHECK;

/*
 * The recipient's logged fetch and acknowledgement statements of an envelope
 * this node sent or received (PROTOCOL.md 12.4, `statements`), for its audit
 * dossier. Each is verified before cb hears of it: its request is a fetch
 * (kind 2) or an acknowledgement (kind 3) of digest, and the leaf rebuilt
 * from it is included in the answer's checkpoint under the pinned relay key
 * (DX_EPROOF otherwise). receipt is that proof as a serialized dx.Receipt
 * (no salt), as a fetch or ack answer would have carried it; checkpoint is
 * the signed text all of them are proved in.
 */
struct relay_statement {
	enum relay_leaf_kind kind;
	const uint8_t *request; /* the recipient's whole signed RelayRequest */
	size_t request_len;
	const uint8_t *receipt;
	size_t receipt_len;
	uint64_t leaf_index;
	uint64_t time_ms;
};
typedef void (*relay_client_statements_fn)(void *arg, int rc, const struct relay_statement *s,
					   size_t n, const char *checkpoint, size_t checkpoint_len,
					   uint64_t checkpoint_size);
int relay_client_statements(struct relay_client *c,
			    const uint8_t digest[static ENVELOPE_HASH_LEN],
			    relay_client_statements_fn cb, void *arg) DX_MUST_CHECK;
/*
 * Checks a `statements` answer against digest and the relay's key: the same
 * checks as relay_client_statements, exposed for tests and fuzzing. On
 * success *out (n of them, malloc'd, views into r and into *receipts, which
 * the caller frees with free()) holds the statements.
 */
int relay_client_check_statements(const struct relay_identity *id,
				  const uint8_t digest[static ENVELOPE_HASH_LEN],
				  const Dx__RelayResponse *r, struct relay_statement **out,
				  size_t *n, uint8_t **receipts) DX_MUST_CHECK;
/*
 * A consistency proof from old_size to new_size (PROTOCOL.md 11.4), asked
 * for a dossier. The hashes are only checked for size here (DX_EPARSE): the
 * caller verifies them against the two roots it holds.
 */
typedef void (*relay_client_consistency_fn)(void *arg, int rc,
					    const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n);
int relay_client_consistency(struct relay_client *c, uint64_t old_size, uint64_t new_size,
			     relay_client_consistency_fn cb, void *arg) DX_MUST_CHECK;

/*
 * The receipt checks the operations use, exposed for tests and audits: 0, or
 * DX_EPROOF when the receipt does not prove the leaf under the relay's key.
 * (The operations run the same checks, skipping the signature of a
 * checkpoint the client already verified.)
 */
int relay_client_verify_accepted(const struct relay_identity *id,
				 const uint8_t digest[static ENVELOPE_HASH_LEN], const char *sender,
				 const char *recipient, const Dx__Receipt *r) DX_MUST_CHECK;
int relay_client_verify_statement(const struct relay_identity *id, enum relay_leaf_kind kind,
				  const uint8_t digest[static ENVELOPE_HASH_LEN],
				  const uint8_t *request, size_t request_len,
				  const Dx__Receipt *r) DX_MUST_CHECK;

#endif
