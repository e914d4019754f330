/*
 * relay_client_impl.h: what relay_client.c (checkpoint tracking, the reply
 * path, sending, opening and closing) and relay_client_ops.c (the operations
 * and the checks of their answers) share. Loop thread only.
 */
#ifndef DIVEX_NODE_RELAY_CLIENT_IMPL_H
#define DIVEX_NODE_RELAY_CLIENT_IMPL_H

#include "bridge.h"
#include "relay_client.h"

enum op_kind {
	OP_SUBMIT,
	OP_LIST,
	OP_FETCH,
	OP_ACK,
	OP_ROSTER,
	OP_PUBLISH,
	OP_UPLOAD,
	OP_DOWNLOAD,
	OP_SYNC,
	OP_CONSISTENCY,
	OP_PROVE_SYNC,  /* relay_client_prove: the relay's current checkpoint */
	OP_PROVE_PROOF, /* relay_client_prove: consistency of the given one with it */
	OP_STATEMENTS,	/* relay_client_statements */
	OP_PROOF,	/* relay_client_consistency: a user's consistency proof */
	OP_SESSION,	/* relay_client_session.c: a handshake */
	N_OP_KINDS,
};

/* A verified checkpoint with its exact signed text (NUL-terminated for callers). */
struct cp_slot {
	int set;
	struct checkpoint cp;
	size_t len;
	char text[CHECKPOINT_MAX + 1];
};

struct relay_client {
	struct bridge_client *bridge;
	const struct keys *keys;
	struct relay_identity relay;
	unsigned timeout_ms;
	relay_client_alarm_fn on_alarm;
	relay_client_checkpoint_fn on_checkpoint;
	void *cb_arg;
	struct cp_slot latest, pending, queued, refused;
	uint64_t proof_started_ms; /* when the last consistency request went out */
	int sent; /* a request went out: too late to seed the latest checkpoint */
	int closing;
	size_t in_flight; /* requests sent and not yet answered, proofs included */
	size_t in_flight_kind[N_OP_KINDS]; /* the same, by operation */
	/* Request sessions (relay_client_session.c); times on this node's clock. */
	struct relay_client_session *sess; /* sodium_malloc'd */
	int sess_ready, sess_pending;
	uint64_t sess_expires_ms, sess_renew_ms, sess_retry_ms;
	struct relay_client_stats stats;
	void (*done)(void *arg);
	void *done_arg;
};

/* One request, from the call that queues it to its reply. */
struct op {
	struct relay_client *c;
	enum op_kind kind;
	union {
		relay_client_receipt_fn receipt;
		relay_client_list_fn list;
		relay_client_fetch_fn fetch;
		relay_client_roster_fn roster;
		relay_client_upload_fn upload;
		relay_client_download_fn download;
		relay_client_done_fn done;
		relay_client_statements_fn statements;
		relay_client_consistency_fn consistency;
	} cb;
	void *arg;
	uint8_t request_id[RELAY_REQUEST_ID_LEN];
	/* The largest checkpoint size the client held when the request was
	 * made: an answer may carry an older checkpoint than one that arrived
	 * since (answers to requests in flight at once come in any order), but
	 * not one older than this (PROTOCOL.md 11.6). */
	uint64_t held_size;
	uint8_t *request; /* the request exactly as sent */
	size_t request_len;
	/* A request sent with a session MAC keeps its body, to be signed and
	 * sent again should the relay have forgotten the session. */
	int mac;
	uint8_t session[RELAY_SESSION_ID_LEN];
	uint8_t *body;
	size_t body_len;
	uint8_t *entry; /* publish: a copy of the entry, to rebuild the leaf */
	size_t entry_len;
	uint8_t digest[ENVELOPE_HASH_LEN];
	char sender[DX_STATE_LEN + 1];
	char recipient[DX_STATE_LEN + 1];
	uint32_t max; /* download: the most bytes the answer may carry */
	struct prove_ctx *prove; /* relay_client_prove: what is being proved; owned */
};

/* relay_client_audit.c: the finishers of OP_STATEMENTS and OP_PROOF. */
void relay_client_finish_statements(struct op *op, int rc, const Dx__RelayResponse *r);
void relay_client_finish_proof(struct op *op, int rc, const Dx__RelayResponse *r);

/* relay_client_session.c */
int relay_client_session_open(struct relay_client *c) DX_MUST_CHECK;
void relay_client_session_free(struct relay_client *c);
/*
 * Wraps a serialized body for op: with the session's MAC when one is live and
 * op may use it (op->mac, op->session), else signed; starts a handshake when
 * one is due.
 */
int relay_client_wrap(struct relay_client *c, struct op *op, const uint8_t *body, size_t len,
		      uint8_t **out, size_t *out_len) DX_MUST_CHECK;
/* Finishes OP_SESSION. */
void relay_client_session_finish(struct op *op, int rc, const Dx__RelayResponse *r);
/* The relay answered DX_ESESSION to op: forgets op's session if still in use. */
void relay_client_session_lost(struct relay_client *c, const struct op *op);

/* relay_client_peer.c: finishes OP_PROVE_*; frees nothing but what it allocated. */
void relay_client_prove_finish(struct op *op, int rc, const Dx__RelayResponse *r);
void relay_client_prove_free(struct prove_ctx *p);
/* Verifies a checkpoint with the pinned relay key into a slot. */
int relay_client_parse_checkpoint(const struct relay_client *c, const uint8_t *text, size_t len,
				  struct cp_slot *out) DX_MUST_CHECK;

/* A new operation of kind for the user callback's arg, or NULL (DX_ENOMEM). */
struct op *relay_client_op_new(struct relay_client *c, enum op_kind kind, void *arg);
void relay_client_op_free(struct op *op);
/*
 * Checks that a user operation may start (a callback, not closing) and
 * allocates it: NULL with *rc set otherwise.
 */
struct op *relay_client_op_start(struct relay_client *c, enum op_kind kind, int has_cb, void *arg,
				 int *rc);
/* Signs and queues op's request; frees op when it could not be queued. */
int relay_client_op_queue(struct relay_client *c, struct op *op, Dx__RequestBody *body);
/* Verifies a user operation's answer (r is NULL when rc is not 0) and calls its callback. */
void relay_client_op_finish(struct op *op, int rc, const Dx__RelayResponse *r);

#endif
