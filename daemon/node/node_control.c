/*
 * node_control.c: the control socket (docs/control.md).
 *
 * The socket is nng REP over ipc://<home>/control.sock, mode 0666: who may
 * do what is decided here, from the uid the kernel gives for the process on
 * the other end (SO_PEERCRED through NNG_OPT_IPC_PEER_UID), looked up in the
 * roles of divexd.conf. A caller with no role is refused before a byte of the
 * request is decoded; nothing in a request can claim a role. Requests are
 * decoded strictly (canonical encoding, no unknown fields, size cap first).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "canon.h"
#include "node_control.h"

void *ctl_alloc(struct ctl_call *c, size_t size)
{
	if (c->n_allocs == c->cap_allocs) {
		size_t cap = c->cap_allocs == 0 ? 16 : 2 * c->cap_allocs;
		void **p = realloc(c->allocs, cap * sizeof(*p));
		if (p == NULL) {
			return NULL;
		}
		c->allocs = p;
		c->cap_allocs = cap;
	}
	void *m = calloc(1, size);
	if (m != NULL) {
		c->allocs[c->n_allocs++] = m;
	}
	return m;
}

char *ctl_strdup(struct ctl_call *c, const char *s)
{
	size_t len = strlen(s);
	char *d = ctl_alloc(c, len + 1);
	if (d != NULL) {
		memcpy(d, s, len);
	}
	return d;
}

ProtobufCBinaryData ctl_bin(struct ctl_call *c, const void *data, size_t len)
{
	ProtobufCBinaryData b = { 0, NULL };
	if (len > 0 && (b.data = ctl_alloc(c, len)) != NULL) {
		memcpy(b.data, data, len);
		b.len = len;
	}
	return b;
}

int ctl_grow(struct ctl_call *c, void ***v, size_t n, size_t *cap)
{
	if (n < *cap) {
		return DX_OK;
	}
	size_t ncap = *cap == 0 ? 16 : 2 * *cap;
	void **nv = ctl_alloc(c, ncap * sizeof(*nv));
	if (nv == NULL) {
		return DX_ENOMEM;
	}
	if (n > 0) {
		memcpy(nv, *v, n * sizeof(*nv));
	}
	*v = nv;
	*cap = ncap;
	return DX_OK;
}

int ctl_fail(struct ctl_call *c, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->message, sizeof(c->message), fmt, ap);
	va_end(ap);
	return err;
}

static void call_free(struct ctl_call *c)
{
	for (size_t i = 0; i < c->n_allocs; i++) {
		free(c->allocs[i]);
	}
	free(c->allocs);
	if (c->in != NULL) {
		protobuf_c_message_free_unpacked(&c->in->base, NULL);
	}
	free(c);
}

void ctl_finish(struct ctl_call *c, int rc)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	c->out.error = rc;
	if (rc != DX_OK) {
		c->out.result_case = DX__CONTROL_RESPONSE__RESULT__NOT_SET;
		if (c->message[0] == '\0') {
			snprintf(c->message, sizeof(c->message), "%s", dx_strerror(rc));
		}
	}
	c->out.message = c->message;
	c->out.role = (char *)node_role_name(c->role);
	if (proto_pack_alloc(&c->out.base, &buf, &len) != DX_OK || len > NODE_CONTROL_MAX) {
		/* The answer is too large to send: say so instead. */
		free(buf);
		buf = NULL;
		Dx__ControlResponse small = DX__CONTROL_RESPONSE__INIT;
		small.error = DX_ETOOBIG;
		small.message = "the answer is too large; ask for fewer items (--limit)";
		if (proto_pack_alloc(&small.base, &buf, &len) != DX_OK) {
			bridge_drop(c->req);
			call_free(c);
			return;
		}
	}
	if (bridge_reply(c->req, buf, len) != DX_OK) {
		node_log(c->n, NODE_LOG_WARN, "could not answer a control request");
	}
	free(buf);
	call_free(c);
}

struct ctl_op {
	Dx__ControlRequest__OpCase op;
	enum node_role role;
	ctl_op_fn fn;
	const char *name;
};

static const struct ctl_op OPS[] = {
	{ DX__CONTROL_REQUEST__OP_STATUS, NODE_ROLE_OFFICER, ctl_status, "status" },
	{ DX__CONTROL_REQUEST__OP_SEND, NODE_ROLE_OFFICER, ctl_send, "send" },
	{ DX__CONTROL_REQUEST__OP_INBOX, NODE_ROLE_OFFICER, ctl_inbox, "inbox" },
	{ DX__CONTROL_REQUEST__OP_OUTBOX, NODE_ROLE_OFFICER, ctl_outbox, "outbox" },
	{ DX__CONTROL_REQUEST__OP_READ, NODE_ROLE_OFFICER, ctl_read, "read" },
	{ DX__CONTROL_REQUEST__OP_RECEIPTS, NODE_ROLE_OFFICER, ctl_receipts, "receipts" },
	{ DX__CONTROL_REQUEST__OP_ROSTER, NODE_ROLE_OFFICER, ctl_roster, "roster" },
	{ DX__CONTROL_REQUEST__OP_PUT_ATTACHMENT, NODE_ROLE_OFFICER, ctl_put_attachment,
	  "put attachment" },
	{ DX__CONTROL_REQUEST__OP_GET_ATTACHMENT, NODE_ROLE_OFFICER, ctl_get_attachment,
	  "get attachment" },
	{ DX__CONTROL_REQUEST__OP_AUDIT, NODE_ROLE_OFFICER, ctl_audit, "audit" },
	{ DX__CONTROL_REQUEST__OP_CASE_NEW, NODE_ROLE_OFFICER, ctl_case_new, "case new" },
	{ DX__CONTROL_REQUEST__OP_CASE_LIST, NODE_ROLE_OFFICER, ctl_case_list, "case list" },
	{ DX__CONTROL_REQUEST__OP_CASE_SHOW, NODE_ROLE_OFFICER, ctl_case_show, "case show" },
	{ DX__CONTROL_REQUEST__OP_CASE_SEARCH, NODE_ROLE_OFFICER, ctl_case_search, "case search" },
	{ DX__CONTROL_REQUEST__OP_CASE_CLOSE, NODE_ROLE_OFFICER, ctl_case_close, "case close" },
	{ DX__CONTROL_REQUEST__OP_CASE_SHARE, NODE_ROLE_OFFICER, ctl_case_share, "case share" },
	{ DX__CONTROL_REQUEST__OP_CASE_IMPORT, NODE_ROLE_OFFICER, ctl_case_import, "case import" },
	{ DX__CONTROL_REQUEST__OP_NOTICE_SEND, NODE_ROLE_OFFICER, ctl_notice_send, "notice send" },
	{ DX__CONTROL_REQUEST__OP_NOTICE_REPLY, NODE_ROLE_OFFICER, ctl_notice_reply,
	  "notice reply" },
	{ DX__CONTROL_REQUEST__OP_NOTICE_STATUS, NODE_ROLE_OFFICER, ctl_notice_status,
	  "notice status" },
	{ DX__CONTROL_REQUEST__OP_NOTICE_REPLIES, NODE_ROLE_OFFICER, ctl_notice_replies,
	  "notice replies" },
	{ DX__CONTROL_REQUEST__OP_DUE, NODE_ROLE_OFFICER, ctl_due, "due" },
	{ DX__CONTROL_REQUEST__OP_CONSENT_REQUEST, NODE_ROLE_OFFICER, ctl_consent_request,
	  "consent request" },
	/* A decision binds the State: the point of contact signs it. */
	{ DX__CONTROL_REQUEST__OP_CONSENT_DECIDE, NODE_ROLE_POC, ctl_consent_decide,
	  "consent decide" },
	{ DX__CONTROL_REQUEST__OP_CONSENT_LIST, NODE_ROLE_OFFICER, ctl_consent_list,
	  "consent list" },
	{ DX__CONTROL_REQUEST__OP_EXPORT, NODE_ROLE_OFFICER, ctl_export, "export" },
	{ DX__CONTROL_REQUEST__OP_DOSSIER, NODE_ROLE_OFFICER, ctl_dossier, "dossier" },
	{ DX__CONTROL_REQUEST__OP_CONCERN_RAISE, NODE_ROLE_OFFICER, ctl_concern_raise,
	  "concern raise" },
	{ DX__CONTROL_REQUEST__OP_CONCERN_EXPLAIN, NODE_ROLE_OFFICER, ctl_concern_explain,
	  "concern explain" },
	{ DX__CONTROL_REQUEST__OP_CONCERN_LIST, NODE_ROLE_OFFICER, ctl_concern_list,
	  "concern list" },
	{ DX__CONTROL_REQUEST__OP_REQUEST_SEND, NODE_ROLE_OFFICER, ctl_request_send,
	  "request send" },
	{ DX__CONTROL_REQUEST__OP_REQUEST_RESPOND, NODE_ROLE_OFFICER, ctl_request_respond,
	  "request respond" },
	{ DX__CONTROL_REQUEST__OP_REQUEST_LIST, NODE_ROLE_OFFICER, ctl_request_list,
	  "request list" },
	{ DX__CONTROL_REQUEST__OP_CONTACTS, NODE_ROLE_OFFICER, ctl_contacts, "contacts" },
	{ DX__CONTROL_REQUEST__OP_VERIFY_KEY, NODE_ROLE_POC, ctl_verify_key, "verify key" },
	{ DX__CONTROL_REQUEST__OP_SET_CONTACTS, NODE_ROLE_POC, ctl_set_contacts,
	  "publish contacts" },
	{ DX__CONTROL_REQUEST__OP_ROTATE_PREKEY, NODE_ROLE_ADMIN, ctl_rotate_prekey,
	  "rotate prekey" },
	{ DX__CONTROL_REQUEST__OP_RELOAD, NODE_ROLE_ADMIN, ctl_reload, "reload" },
};

static void on_request(void *arg, struct bridge_request *req, const uint8_t *data, size_t len)
{
	struct node *n = arg;
	uint64_t uid = 0;
	ProtobufCMessage *m = NULL;
	struct ctl_call *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		bridge_drop(req);
		return;
	}
	c->n = n;
	c->req = req;
	Dx__ControlResponse init = DX__CONTROL_RESPONSE__INIT;
	c->out = init;

	int rc = bridge_request_peer_uid(req, &uid);
	c->role = rc == DX_OK ? node_config_role(&n->cfg, (uid_t)uid) : NODE_ROLE_NONE;
	if (c->role == NODE_ROLE_NONE) {
		node_log(n, NODE_LOG_WARN, "control request from uid %llu refused: no role",
			 (unsigned long long)uid);
		ctl_finish(c, ctl_fail(c, DX_EFORBIDDEN,
				       "uid %llu has no role on this node: %s",
				       (unsigned long long)uid, dx_strerror(DX_EFORBIDDEN)));
		return;
	}
	rc = proto_unpack_strict(&dx__control_request__descriptor, data, len, NODE_CONTROL_MAX, &m);
	if (rc != DX_OK) {
		ctl_finish(c, ctl_fail(c, rc, "the request could not be decoded (%s): is this "
					      "divex the same version as divexd?",
				       dx_errname(rc)));
		return;
	}
	c->in = (Dx__ControlRequest *)m;
	if (c->in->version != 1) {
		ctl_finish(c, ctl_fail(c, DX_EINVAL, "control protocol version %u is not spoken "
						     "here (1 is): upgrade divex or divexd",
				       c->in->version));
		return;
	}
	for (size_t i = 0; i < sizeof(OPS) / sizeof(OPS[0]); i++) {
		if (OPS[i].op != c->in->op_case) {
			continue;
		}
		if (c->role < OPS[i].role) {
			ctl_finish(c, ctl_fail(c, DX_EFORBIDDEN,
					       "'%s' needs the %s role; uid %llu is %s on this node",
					       OPS[i].name, node_role_name(OPS[i].role),
					       (unsigned long long)uid, node_role_name(c->role)));
			return;
		}
		rc = OPS[i].fn(c);
		if (rc != CTL_LATER) {
			ctl_finish(c, rc);
		}
		return;
	}
	ctl_finish(c, ctl_fail(c, DX_EINVAL, "no operation in the request"));
}

int node_control_start(struct node *n)
{
	struct bridge_server_config cfg = {
		.url = n->ctl_url,
		.contexts = 8,
		.recv_max = NODE_CONTROL_MAX,
		.ipc_mode = 0666,
	};
	int rc = bridge_server_open(n->loop, &cfg, on_request, n, &n->ctl);
	if (rc == DX_OK) {
		node_log(n, NODE_LOG_INFO, "control socket listening on %s", n->ctl_url);
	}
	return rc;
}

void node_control_stop(struct node *n, void (*done)(void *), void *arg)
{
	if (n->ctl == NULL) {
		if (done != NULL) {
			done(arg);
		}
		return;
	}
	bridge_server_close(n->ctl, done, arg);
	n->ctl = NULL;
}

/* ---- id prefixes ---- */

struct resolve_ctx {
	const char *prefix;
	size_t len;
	struct ctl_msg *out;
	int found;
	size_t seen;
};

static int hex_prefix_matches(const char *prefix, size_t len, const uint8_t *id, size_t id_len)
{
	char hex[2 * ENVELOPE_HASH_LEN + 1];
	dx_hex(hex, id, id_len);
	return len <= 2 * id_len && strncmp(hex, prefix, len) == 0;
}

static int resolve_inbox(void *ctx, const struct node_store_inbox_info *m)
{
	struct resolve_ctx *r = ctx;
	r->seen++;
	if (hex_prefix_matches(r->prefix, r->len, m->envelope_id, ENVELOPE_ID_LEN)) {
		r->found++;
		r->out->received = 1;
		memcpy(r->out->digest, m->digest, ENVELOPE_HASH_LEN);
	}
	return 0;
}

static int resolve_outbox(void *ctx, const struct node_store_outbox_info *m)
{
	struct resolve_ctx *r = ctx;
	r->seen++;
	if (hex_prefix_matches(r->prefix, r->len, m->msg_id, NODE_STORE_MSG_ID_LEN) ||
	    (m->has_envelope &&
	     hex_prefix_matches(r->prefix, r->len, m->envelope_id, ENVELOPE_ID_LEN))) {
		r->found++;
		r->out->received = 0;
		memcpy(r->out->msg_id, m->msg_id, NODE_STORE_MSG_ID_LEN);
	}
	return 0;
}

int ctl_resolve(struct ctl_call *c, const char *id, struct ctl_msg *out)
{
	struct resolve_ctx r = { .prefix = id, .len = strlen(id), .out = out };
	if (r.len < 6 || r.len > 32 || strspn(id, "0123456789abcdef") != r.len) {
		return ctl_fail(c, DX_EINVAL,
				"'%s' is not a message id: give 6 to 32 lowercase hex digits of "
				"an id shown by 'divex inbox' or 'divex outbox'",
				id);
	}
	int rc;
	/* Page through everything: a page shorter than the maximum is the last. */
	for (size_t off = 0;; off += NODE_STORE_LIST_MAX) {
		r.seen = 0;
		rc = node_store_inbox_list(c->n->store, NODE_STORE_LIST_MAX, off, resolve_inbox, &r);
		if (rc != DX_OK || r.seen < NODE_STORE_LIST_MAX || r.found > 1) {
			break;
		}
	}
	for (size_t off = 0; rc == DX_OK; off += NODE_STORE_LIST_MAX) {
		r.seen = 0;
		rc = node_store_outbox_list(c->n->store, NODE_STORE_LIST_MAX, off, resolve_outbox,
					    &r);
		if (rc != DX_OK || r.seen < NODE_STORE_LIST_MAX || r.found > 1) {
			break;
		}
	}
	if (rc != DX_OK) {
		return rc;
	}
	if (r.found == 0) {
		return ctl_fail(c, DX_ENOENT, "no message has an id starting with %s on this node",
				id);
	}
	if (r.found > 1) {
		return ctl_fail(c, DX_EAMBIGUOUS, "%s: %s", id, dx_strerror(DX_EAMBIGUOUS));
	}
	return DX_OK;
}
