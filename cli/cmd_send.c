/*
 * cmd_send.c: `divex send` and `divex reply`: a message to other States,
 * handed to this State's daemon, which seals one copy per recipient and
 * delivers it in the background.
 *
 * Attachments are encrypted here, never by the daemon (docs/control.md): each
 * file is read once, encrypted under a fresh key as it is read, and the
 * encrypted stream goes to the daemon in pieces of CLI_CTL_PIECE_MAX with
 * put_attachment, so that memory use does not depend on the file's size. The
 * keys travel only inside the payload, which the daemon seals; our copies are
 * wiped once the payload is handed over.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compose.h"
#include "control.pb-c.h"

enum {
	OPT_TO = CLI_OPT_FIRST_VERB,
};

/* Recipients of one message (SendOp.to). */
/* Plaintext read from an attachment at a time. */
#define READ_CHUNK (64 * 1024)

struct send_opts {
	struct cli_compose m;
	struct cli_recipients to;
};

/* One attachment on its way to the daemon. */
struct upload {
	struct cli *c;
	const char *path;
	const uint8_t *id;
	uint8_t *piece; /* CLI_CTL_PIECE_MAX bytes of stream not yet handed over */
	size_t held;
	uint64_t sent;	/* stream bytes the daemon holds */
	uint64_t total; /* stream bytes in all */
	int status;	/* a failed put_attachment, already reported */
};

static int put_piece(struct upload *u)
{
	Dx__PutAttachmentOp op = DX__PUT_ATTACHMENT_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__ControlResponse *resp = NULL;
	op.attachment_id = (ProtobufCBinaryData){ ATTACH_ID_LEN, (uint8_t *)u->id };
	op.offset = u->sent;
	op.data = (ProtobufCBinaryData){ u->held, u->piece };
	op.total_size = u->total;
	req.op_case = DX__CONTROL_REQUEST__OP_PUT_ATTACHMENT;
	req.put_attachment = &op;
	u->status = cli_ctl_call(u->c, &req, &resp, "handing the attachment %s to divexd", u->path);
	if (u->status != CLI_EXIT_OK) {
		return DX_EIO;
	}
	uint64_t held = resp->put_attachment->received;
	cli_ctl_free(resp);
	if (held != u->sent + u->held) {
		u->status = cli_error(u->c, DX_EPARSE,
				      "handing the attachment %s to divexd: it holds %llu bytes of "
				      "the stream where %llu were expected",
				      u->path, (unsigned long long)held,
				      (unsigned long long)(u->sent + u->held));
		return DX_EPARSE;
	}
	u->sent = held;
	u->held = 0;
	return DX_OK;
}

/* The sealer's sink: fills the piece and hands it over whenever it is full. */
static int upload_sink(void *ctx, const uint8_t *data, size_t len)
{
	struct upload *u = ctx;
	while (len > 0) {
		size_t n = CLI_CTL_PIECE_MAX - u->held;
		if (n > len) {
			n = len;
		}
		memcpy(u->piece + u->held, data, n);
		u->held += n;
		data += n;
		len -= n;
		if (u->held == CLI_CTL_PIECE_MAX) {
			int rc = put_piece(u);
			if (rc != DX_OK) {
				return rc;
			}
		}
	}
	return DX_OK;
}

/* Reads fd to its end through the sealer; DX_EEXIST if it was not `size`. */
static int seal_file(int fd, uint64_t size, struct attach_sealer *s, struct upload *u, uint8_t *buf,
		     struct cli_progress *prog)
{
	uint64_t done = 0;
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return dx_from_errno(errno);
		}
		if (n == 0) {
			return done == size ? DX_OK : DX_EEXIST;
		}
		done += (uint64_t)n;
		if (done > size) {
			return DX_EEXIST;
		}
		int rc = attach_sealer_feed(s, buf, (size_t)n, upload_sink, u);
		if (rc != DX_OK) {
			return rc;
		}
		cli_progress_cb(prog, done, size);
	}
}

/* Encrypts the file at path into the daemon; fills meta (with its key). */
static int upload_file(struct cli *c, const char *path, struct attach_meta *meta, uint8_t *piece,
		       uint8_t *buf)
{
	struct stat st;
	uint8_t id[ATTACH_ID_LEN];
	struct attach_sealer *s = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return cli_error(c, dx_from_errno(errno), "opening the attachment %s", path);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return cli_error(c, DX_EINVAL, "the attachment %s is not a regular file", path);
	}
	/* The id must be known before the first piece, so it is chosen here. */
	randombytes_buf(id, sizeof(id));
	struct upload u = { .c = c, .path = path, .id = id, .piece = piece };
	u.total = attach_stream_size((uint64_t)st.st_size);
	int rc = u.total == 0 ? DX_ETOOBIG : attach_sealer_new(id, &s);

	char label[96];
	struct cli_progress prog;
	const char *slash = strrchr(path, '/');
	snprintf(label, sizeof(label), "sending %.60s", slash != NULL ? slash + 1 : path);
	cli_progress_init(c, &prog, label);
	if (rc == DX_OK) {
		rc = seal_file(fd, (uint64_t)st.st_size, s, &u, buf, &prog);
	}
	if (rc == DX_OK) {
		rc = attach_sealer_finish(s, upload_sink, &u, meta);
	}
	if (rc == DX_OK && u.held > 0) {
		rc = put_piece(&u);
	}
	if (rc == DX_OK && (u.sent != u.total || meta->stream_size != u.total)) {
		rc = DX_EIO;
	}
	cli_progress_done(&prog);
	attach_sealer_free(s);
	close(fd);
	sodium_memzero(buf, READ_CHUNK);
	if (rc == DX_OK) {
		return CLI_EXIT_OK;
	}
	sodium_memzero(meta, sizeof(*meta));
	if (u.status != CLI_EXIT_OK) {
		return u.status;
	}
	if (rc == DX_EEXIST) {
		return cli_fail(c, CLI_EXIT_FAILED, "DX_EIO",
				"the attachment %s changed size while it was being read; nothing "
				"was sent: send it again once it is complete",
				path);
	}
	return cli_error(c, rc, "encrypting the attachment %s", path);
}

int cli_upload_attachments(struct cli *c, const struct cli_compose *m, struct cli_attachments *sa)
{
	if (m->n_attach == 0) {
		return CLI_EXIT_OK;
	}
	uint8_t *piece = malloc(CLI_CTL_PIECE_MAX);
	uint8_t *buf = malloc(READ_CHUNK);
	int status = CLI_EXIT_OK;
	if (piece == NULL || buf == NULL) {
		status = cli_error(c, DX_ENOMEM, "allocating attachment buffers");
	}
	for (size_t i = 0; i < m->n_attach && status == CLI_EXIT_OK; i++) {
		status = upload_file(c, m->attach[i], &sa->meta[sa->n], piece, buf);
		if (status == CLI_EXIT_OK) {
			cli_attachments_add(sa, m->attach[i]);
		}
	}
	free(piece);
	free(buf);
	return status;
}

static void print_sent(struct out *o, const Dx__SendResult *r, const struct cli_payload_frame *f)
{
	static const struct out_col cols[] = {
		{ "recipient", "TO", DX_STATE_LEN },
		{ "message_id", "MESSAGE", 0 },
	};
	if (f->in_reply_to != NULL) {
		out_hex(o, "in_reply_to", "In reply to", f->in_reply_to, ENVELOPE_ID_LEN);
	}
	out_table_begin(o, "copies", NULL, cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_copies; i++) {
		out_item_begin(o);
		out_text(o, "recipient", "to", r->copies[i]->recipient,
			 strlen(r->copies[i]->recipient));
		out_hex(o, "message_id", "message", r->copies[i]->message_id.data,
			r->copies[i]->message_id.len);
		out_item_end(o);
	}
	out_table_end(o);
	out_note(o, "\nQueued. divexd seals each copy and delivers it in the background;\n"
		    "follow it with 'divex outbox'.");
}

/* Uploads the attachments, then hands the message to the daemon. */
static int send_message(struct cli *c, const struct send_opts *s, const struct cli_payload_frame *f)
{
	struct cli_attachments *sa = NULL;
	Dx__ControlResponse *resp = NULL;
	char *text = NULL;
	size_t text_len = 0, body_len = 0;
	uint8_t *body = NULL;
	int status;
	if ((status = cli_attachments_new(c, &sa)) != CLI_EXIT_OK ||
	    (s->m.text_path != NULL &&
	     (status = cli_compose_text(c, s->m.text_path, &text, &text_len)) != CLI_EXIT_OK) ||
	    (status = cli_upload_attachments(c, &s->m, sa)) != CLI_EXIT_OK ||
	    (status = cli_compose_payload(c, &s->m, f, text, sa, &body, &body_len)) !=
		    CLI_EXIT_OK) {
		goto out;
	}
	Dx__SendOp op = DX__SEND_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.n_to = s->to.n;
	op.to = (char **)s->to.ptrs; /* read only: protobuf-c's field is not const */
	op.payload = (ProtobufCBinaryData){ body_len, body };
	req.op_case = DX__CONTROL_REQUEST__OP_SEND;
	req.send = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "sending the message")) != CLI_EXIT_OK) {
		goto out;
	}
	struct out o;
	out_init(&o, c);
	print_sent(&o, resp->send, f);
	status = out_finish(&o, c);
out:
	cli_ctl_free(resp);
	if (body != NULL) {
		sodium_memzero(body, body_len);
		free(body);
	}
	if (text != NULL) {
		sodium_memzero(text, text_len);
		free(text);
	}
	cli_attachments_free(sa);
	return status;
}

/* clang-format off */
static const char send_usage[] =
	"usage: divex send --to STATE[,STATE...] (--file MSG | -) [options]\n"
	"\n"
	"Hands a message to this State's daemon, which seals one copy for each\n"
	"recipient (\"copy 2 of 3, for MEX\") and delivers it through the relay in\n"
	"the background. Attachments are encrypted here, each under its own key,\n"
	"and streamed to the daemon; their keys travel only inside the sealed\n"
	"message. The marking travels inside the encryption too.\n"
	"\n"
	"options:\n"
	"      --to STATES           recipients: State codes separated by commas;\n"
	"                            repeatable, up to 64\n"
	CLI_HELP_COMPOSE_TEXT CLI_HELP_COMPOSE_MARKING CLI_HELP_COMMON;
/* clang-format on */

/* Parses the options of send, or of reply (id != NULL: the ID comes first
 * and the recipient is the original's sender). */
static int parse_message(struct cli *c, const struct cli_verb *v, int argc, char **argv,
			 const struct option *longopts, struct send_opts *s, const char **id)
{
	int opt, status = CLI_CONTINUE;
	cli_compose_init(&s->m);
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		status = opt == OPT_TO ? cli_parse_recipients(c, &s->to, optarg)
				       : cli_compose_opt(c, v, &s->m, opt, argv);
	}
	if (status == CLI_CONTINUE && id != NULL) {
		if (optind < argc) {
			*id = argv[optind++];
		} else {
			status = cli_usage(c, "give the ID of the message to answer");
		}
	}
	if (status == CLI_CONTINUE && id == NULL && s->to.n == 0) {
		status = cli_usage(c, "--to STATE is required");
	}
	if (status == CLI_CONTINUE) {
		status = cli_compose_check(c, &s->m, argc - optind, argv + optind);
	}
	return status;
}

static int cmd_send(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		CLI_LONGOPTS_COMPOSE,
		{ "to", required_argument, NULL, OPT_TO },
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return cli_error(c, DX_ENOMEM, "starting");
	}
	int status = parse_message(c, v, argc, argv, longopts, s, NULL);
	if (status == CLI_CONTINUE) {
		struct cli_payload_frame frame = { 0 };
		status = send_message(c, s, &frame);
	}
	free(s);
	return status;
}

const struct cli_verb cli_cmd_send = { "send", cmd_send, "send a message to other States",
				       send_usage };

/* "Re: " and the original subject, unless it already starts so. */
static char *reply_subject(const char *orig)
{
	const char *subject = orig != NULL ? orig : "";
	int has_re = strncasecmp(subject, "Re:", 3) == 0;
	size_t len = strlen(subject) + 5;
	char *out = malloc(len);
	if (out != NULL) {
		snprintf(out, len, "%s%s", has_re ? "" : "Re: ", subject);
	}
	return out;
}

/* Reads the message answered: it must be one this State received. */
static int read_original(struct cli *c, const char *id, Dx__ControlResponse **resp,
			 Dx__Payload **pl)
{
	Dx__ReadOp op = DX__READ_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.id = (char *)id;
	req.op_case = DX__CONTROL_REQUEST__OP_READ;
	req.read = &op;
	int status = cli_ctl_call(c, &req, resp, "reading the message %s", id);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	const Dx__ReadResult *r = (*resp)->read;
	if (strcmp(r->direction, "received") != 0) {
		return cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL",
				"%s is a message this State sent: reply to a message it received "
				"(see 'divex inbox')",
				id);
	}
	int rc = r->envelope_id.len == ENVELOPE_ID_LEN && dx_state_valid(r->sender) ? DX_OK
										    : DX_EPARSE;
	if (rc == DX_OK) {
		rc = cli_payload_decode(r->payload.data, r->payload.len, pl);
	}
	if (rc != DX_OK) {
		return cli_error(c, rc, "the message %s, as divexd gave it, is malformed", id);
	}
	return CLI_EXIT_OK;
}

/* clang-format off */
static const char reply_usage[] =
	"usage: divex reply ID (--file MSG | -) [options]\n"
	"\n"
	"Answers the received message ID (a unique prefix of at least 6 hex digits\n"
	"of its envelope id): sends to its sender, in reply to it, in the same case,\n"
	"with the subject \"Re: <its subject>\" and its marking, unless --case,\n"
	"--subject or any marking option says otherwise. A marking option replaces\n"
	"the whole marking: the others take their defaults.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMPOSE_TEXT CLI_HELP_COMPOSE_MARKING CLI_HELP_COMMON;
/* clang-format on */

static int cmd_reply(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		CLI_LONGOPTS_COMPOSE,
		{ NULL, 0, NULL, 0 },
	};
	struct send_opts *s = calloc(1, sizeof(*s));
	const char *id = NULL;
	if (s == NULL) {
		return cli_error(c, DX_ENOMEM, "starting");
	}
	int status = parse_message(c, v, argc, argv, longopts, s, &id);
	if (status != CLI_CONTINUE) {
		free(s);
		return status;
	}

	Dx__ControlResponse *resp = NULL;
	Dx__Payload *pl = NULL;
	char *subject = NULL;
	if ((status = read_original(c, id, &resp, &pl)) != CLI_EXIT_OK) {
		goto out;
	}
	if (s->m.subject == NULL && (subject = reply_subject(pl->subject)) == NULL) {
		status = cli_error(c, DX_ENOMEM, "building the reply");
		goto out;
	}
	const Dx__ReadResult *r = resp->read;
	cli_recipients_add(&s->to, r->sender);
	struct cli_payload_frame frame = {
		.marking = s->m.marking_given ? NULL : pl->marking,
		.in_reply_to = r->envelope_id.data,
		.case_id = s->m.case_id != NULL ? NULL : pl->case_id,
		.subject = subject,
	};
	status = send_message(c, s, &frame);
out:
	free(subject);
	cli_payload_free(pl);
	cli_ctl_free(resp);
	free(s);
	return status;
}

const struct cli_verb cli_cmd_reply = { "reply", cmd_reply, "answer a received message",
					reply_usage };
