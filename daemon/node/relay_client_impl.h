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
	int sent; /* a request went out: too late to seed the latest checkpoint */
	int closing;
	size_t in_flight; /* requests sent and not yet answered, proofs included */
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
	uint8_t *request; /* the signed request exactly as sent */
	size_t request_len;
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
