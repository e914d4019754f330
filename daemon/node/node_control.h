/*
 * node_control.h: what the files of the control socket share
 * (docs/control.md). node_control.c receives a request, finds the caller's
 * role from the kernel's peer uid, decodes strictly and dispatches;
 * node_ctl_node.c (status, roster, keys, audit, admin), node_ctl_mail.c
 * (send, inbox, outbox, read, receipts, attachments) and node_ctl_case.c
 * (cases) answer.
 *
 * A call owns every allocation made for its answer (ctl_alloc), freed
 * together once the answer is packed. An operation answers at once by
 * returning 0 or an error, or later: it returns CTL_LATER and calls
 * ctl_finish() itself. Loop thread only.
 */
#ifndef DIVEX_NODE_NODE_CONTROL_H
#define DIVEX_NODE_NODE_CONTROL_H

#include "control.pb-c.h"
#include "node.h"

#define CTL_LATER 1

struct ctl_call {
	struct node *n;
	struct bridge_request *req;
	enum node_role role;
	Dx__ControlRequest *in;
	Dx__ControlResponse out;
	char message[512];
	void **allocs;
	size_t n_allocs, cap_allocs;
};

/* Zeroed memory that lives as long as the call; NULL on exhaustion. */
void *ctl_alloc(struct ctl_call *c, size_t size);
char *ctl_strdup(struct ctl_call *c, const char *s);
/* A copy of data in call memory (empty for len 0 or on exhaustion). */
ProtobufCBinaryData ctl_bin(struct ctl_call *c, const void *data, size_t len);
/* Makes room for element n of a call-memory array of pointers (doubling). */
int ctl_grow(struct ctl_call *c, void ***v, size_t n, size_t *cap) DX_MUST_CHECK;
/* Sets the message shown with an error; returns err. */
int ctl_fail(struct ctl_call *c, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Answers a call that returned CTL_LATER, with rc 0 or an error. */
void ctl_finish(struct ctl_call *c, int rc);

/* Resolves an id prefix (docs/control.md) to a received or a sent message. */
struct ctl_msg {
	int received; /* 1: inbox, digest set; 0: outbox, msg_id set */
	uint8_t digest[ENVELOPE_HASH_LEN];
	uint8_t msg_id[NODE_STORE_MSG_ID_LEN];
};
int ctl_resolve(struct ctl_call *c, const char *id, struct ctl_msg *out) DX_MUST_CHECK;

typedef int (*ctl_op_fn)(struct ctl_call *c);
/* node_ctl_node.c */
int ctl_status(struct ctl_call *c);
int ctl_roster(struct ctl_call *c);
int ctl_verify_key(struct ctl_call *c);
int ctl_rotate_prekey(struct ctl_call *c);
int ctl_reload(struct ctl_call *c);
int ctl_audit(struct ctl_call *c);
/* node_ctl_contacts.c */
int ctl_contacts(struct ctl_call *c);
int ctl_set_contacts(struct ctl_call *c);
/* node_ctl_mail.c */
int ctl_send(struct ctl_call *c);
int ctl_inbox(struct ctl_call *c);
int ctl_outbox(struct ctl_call *c);
int ctl_read(struct ctl_call *c);
int ctl_receipts(struct ctl_call *c);
int ctl_put_attachment(struct ctl_call *c);
int ctl_get_attachment(struct ctl_call *c);
/* node_ctl_case.c */
int ctl_case_new(struct ctl_call *c);
int ctl_case_list(struct ctl_call *c);
int ctl_case_show(struct ctl_call *c);
int ctl_case_search(struct ctl_call *c);
int ctl_case_close(struct ctl_call *c);
int ctl_case_share(struct ctl_call *c);
int ctl_case_import(struct ctl_call *c);
/* node_ctl_notice.c: rule 12 notices and the deadline book */
int ctl_notice_send(struct ctl_call *c);
int ctl_notice_reply(struct ctl_call *c);
int ctl_notice_status(struct ctl_call *c);
int ctl_notice_replies(struct ctl_call *c);
int ctl_due(struct ctl_call *c);
/* node_ctl_consent.c: consent (rule 16, Model ToR) and export */
int ctl_consent_request(struct ctl_call *c);
int ctl_consent_decide(struct ctl_call *c);
int ctl_consent_list(struct ctl_call *c);
int ctl_export(struct ctl_call *c);
/* node_ctl_audit.c: an envelope's audit dossier; node_concern.c: rule 15 concerns */
int ctl_dossier(struct ctl_call *c);
int ctl_concern_raise(struct ctl_call *c);
int ctl_concern_explain(struct ctl_call *c);
int ctl_concern_list(struct ctl_call *c);
/* node_request.c: requests for information (Model ToR) and their responses */
int ctl_request_send(struct ctl_call *c);
int ctl_request_respond(struct ctl_call *c);
int ctl_request_list(struct ctl_call *c);
/*
 * The core of send, shared with case_share: checks the recipients and the
 * payload's attachments, then queues one numbered copy of p per recipient in
 * one batch (all or none) and kicks the outbox. p's copy fields are used as
 * scratch and restored. *out is in call memory.
 */
int ctl_queue_payload(struct ctl_call *c, char *const *to, size_t n_to, Dx__Payload *p,
		      Dx__SendResult **out) DX_MUST_CHECK;
/* The sequence gaps of every State, in call memory. */
int ctl_gaps(struct ctl_call *c, Dx__Gap ***out, size_t *n_out) DX_MUST_CHECK;

#endif
