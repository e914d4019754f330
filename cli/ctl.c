/*
 * ctl.c: the divex side of the control protocol (docs/control.md,
 * proto/control.proto), the only way the CLI reaches this State's daemon.
 *
 * One nng REQ socket per invocation, dialled synchronously to
 * ipc://<home>/control.sock the first time a command needs the daemon, then
 * one request at a time. The request is never resent by nng: a request such
 * as `send` must not be carried out twice because an answer was slow, so the
 * resend timer is off and a timeout is reported as such, with the advice to
 * look before repeating. Replies are decoded with the same canonical-only
 * decoder as every other message, under a cap set before anything is
 * received. The CLI is single-threaded, and so is this file.
 */
#include <errno.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "canon.h"
#include "cli.h"
#include "control.pb-c.h"

#define DEFAULT_TIMEOUT_MS 60000
#define TIMEOUT_MAX_MS (24u * 60 * 60 * 1000)
#define IPC_PREFIX "ipc://"

struct cli_ctl {
	nng_socket sock;
	uint32_t timeout_ms;
	int unanswered; /* the last request was sent and got no answer */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* A refused or missing socket means that no daemon is listening there. */
static int from_nng(int rv)
{
	switch (rv) {
	case NNG_ENOENT:
	case NNG_ECONNREFUSED:
	case NNG_ECONNRESET:
		return DX_ENODAEMON;
	case NNG_ETIMEDOUT:
		return DX_ETIMEDOUT;
	case NNG_EMSGSIZE:
		return DX_ETOOBIG;
	default:
		return DX_EIO;
	}
}

static uint32_t timeout_ms(void)
{
	const char *env = getenv("DIVEX_CTL_TIMEOUT_MS");
	uint64_t v;
	if (env != NULL && cli_parse_u64(env, 1, TIMEOUT_MAX_MS, &v) == DX_OK) {
		return (uint32_t)v;
	}
	return DEFAULT_TIMEOUT_MS;
}

static int socket_path(struct cli *c, char *out, size_t size)
{
	int n = snprintf(out, size, "%s/%s", cli_home(c), CLI_CONTROL_SOCKET);
	return n >= 0 && (size_t)n < size ? DX_OK : DX_EINVAL;
}

static int dial(struct cli_ctl *ctl)
{
	char url[sizeof(IPC_PREFIX) + sizeof(ctl->path)];
	struct stat st;
	/* nng would retry a missing socket in the background; say so now. */
	if (stat(ctl->path, &st) != 0) {
		return errno == ENOENT ? DX_ENODAEMON : dx_from_errno(errno);
	}
	if (!S_ISSOCK(st.st_mode)) {
		return DX_ENODAEMON;
	}
	snprintf(url, sizeof(url), IPC_PREFIX "%s", ctl->path);
	int rv = nng_req0_open(&ctl->sock);
	if (rv != 0) {
		return from_nng(rv);
	}
	if ((rv = nng_socket_set_size(ctl->sock, NNG_OPT_RECVMAXSZ, CLI_CTL_MSG_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(ctl->sock, NNG_OPT_RECVTIMEO, (nng_duration)ctl->timeout_ms)) !=
		    0 ||
	    (rv = nng_socket_set_ms(ctl->sock, NNG_OPT_SENDTIMEO, (nng_duration)ctl->timeout_ms)) !=
		    0 ||
	    (rv = nng_socket_set_ms(ctl->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) !=
		    0 ||
	    (rv = nng_dial(ctl->sock, url, NULL, 0)) != 0) {
		nng_close(ctl->sock);
		return from_nng(rv);
	}
	return DX_OK;
}

static int ctl_open(struct cli *c, struct cli_ctl **out)
{
	struct cli_ctl *ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL) {
		return DX_ENOMEM;
	}
	ctl->timeout_ms = timeout_ms();
	int rc = socket_path(c, ctl->path, sizeof(ctl->path));
	if (rc == DX_OK) {
		rc = dial(ctl);
	}
	if (rc != DX_OK) {
		free(ctl);
		return rc;
	}
	*out = ctl;
	return DX_OK;
}

void cli_ctl_close(struct cli *c)
{
	if (c->ctl != NULL) {
		nng_close(c->ctl->sock);
		free(c->ctl);
		c->ctl = NULL;
	}
}

/* One request, one reply. Our copies of both are wiped: a request may carry
 * a payload with attachment keys, a reply a message's payload. */
static int exchange(struct cli_ctl *ctl, const Dx__ControlRequest *req, Dx__ControlResponse **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	nng_msg *msg = NULL;
	int rc = proto_pack_alloc(&req->base, &buf, &len);
	if (rc != DX_OK) {
		return rc;
	}
	int rv = len > CLI_CTL_MSG_MAX ? NNG_EMSGSIZE : nng_msg_alloc(&msg, 0);
	if (rv == 0) {
		rv = nng_msg_append(msg, buf, len);
	}
	sodium_memzero(buf, len);
	free(buf);
	ctl->unanswered = 0;
	if (rv == 0 && (rv = nng_sendmsg(ctl->sock, msg, 0)) == 0) {
		msg = NULL; /* nng owns it now */
		rv = nng_recvmsg(ctl->sock, &msg, 0);
		ctl->unanswered = rv != 0;
	}
	if (rv != 0) {
		if (msg != NULL) {
			nng_msg_free(msg);
		}
		return from_nng(rv);
	}
	ProtobufCMessage *m = NULL;
	rc = proto_unpack_strict(&dx__control_response__descriptor, nng_msg_body(msg),
				 nng_msg_len(msg), CLI_CTL_MSG_MAX, &m);
	sodium_memzero(nng_msg_body(msg), nng_msg_len(msg));
	nng_msg_free(msg);
	if (rc == DX_OK) {
		*out = (Dx__ControlResponse *)m;
	}
	return rc;
}

static int report_refusal(struct cli *c, const char *what, const Dx__ControlResponse *resp)
{
	/* The daemon's words may quote another State's text: escape them. */
	char words[1024];
	int err = resp->error < 0 ? resp->error : DX_EPARSE;
	const char *m = resp->message != NULL ? resp->message : "";
	dx_escape_text(words, sizeof(words), m, strlen(m));
	/* A bare code comes with its own sentence, which cli_error() adds once. */
	if (words[0] == '\0' || strcmp(m, dx_strerror(err)) == 0) {
		return cli_error(c, err, "%s", what);
	}
	return cli_error(c, err, "%s: %s", what, words);
}

static int report_failure(struct cli *c, const char *what, int rc)
{
	const char *path = c->ctl != NULL ? c->ctl->path : cli_home(c);
	/* The request went out and the daemon stopped (or crashed) before it
	 * answered: it may have carried it out, as after a timeout. */
	if (c->ctl != NULL && c->ctl->unanswered && rc != DX_ETIMEDOUT) {
		return cli_error(c, rc,
				 "%s: divexd stopped before it answered; it may have carried the "
				 "request out, so look ('divex outbox', 'divex status') once it runs "
				 "again, before repeating it",
				 what);
	}
	switch (rc) {
	case DX_ENODAEMON:
		return cli_error(c, rc, "%s: nothing listens at %s/%s", what, cli_home(c),
				 CLI_CONTROL_SOCKET);
	case DX_ETIMEDOUT:
		return cli_error(c, rc,
				 "%s: divexd did not answer within %u ms (set DIVEX_CTL_TIMEOUT_MS "
				 "to wait longer); it may still carry the request out, so look "
				 "('divex outbox', 'divex status') before repeating it",
				 what, timeout_ms());
	case DX_EPARSE:
	case DX_ETOOBIG:
		return cli_error(c, rc,
				 "%s: divexd's answer could not be decoded (is it the "
				 "same version as divex?)",
				 what);
	default:
		return cli_error(c, rc, "%s: talking to divexd at %s", what, path);
	}
}

int cli_ctl_call(struct cli *c, Dx__ControlRequest *req, Dx__ControlResponse **out, const char *fmt,
		 ...)
{
	char what[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);

	int rc = DX_OK;
	if (c->ctl == NULL) {
		rc = ctl_open(c, &c->ctl);
	}
	Dx__ControlResponse *resp = NULL;
	req->version = CLI_CTL_VERSION;
	if (rc == DX_OK) {
		rc = exchange(c->ctl, req, &resp);
	}
	if (rc != DX_OK) {
		return report_failure(c, what, rc);
	}
	if (resp->error != 0) {
		int status = report_refusal(c, what, resp);
		cli_ctl_free(resp);
		return status;
	}
	/* Each result has the field number of its operation. */
	if ((int)resp->result_case != (int)req->op_case) {
		cli_ctl_free(resp);
		return report_failure(c, what, DX_EPARSE);
	}
	*out = resp;
	return CLI_EXIT_OK;
}

void cli_ctl_free(Dx__ControlResponse *resp)
{
	if (resp == NULL) {
		return;
	}
	if (resp->result_case == DX__CONTROL_RESPONSE__RESULT_READ && resp->read != NULL) {
		sodium_memzero(resp->read->payload.data, resp->read->payload.len);
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
}
