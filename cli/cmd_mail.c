/*
 * cmd_mail.c: the messages this State's daemon holds: `divex inbox`, `divex
 * outbox`, `divex read` (with --save, which fetches each attachment stream
 * from the daemon, checks it against the hash and size in the signed payload
 * and decrypts it) and `divex receipts`.
 *
 * Everything shown comes from the daemon over the control socket; message
 * content was signed by another State and is escaped on output, with its
 * marking always printed before it (payload.c). An attachment is written
 * under its name only once the whole stream authenticated (files.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "cli.h"
#include "control.pb-c.h"
#include "envelope.h"
#include "wire.pb-c.h"

enum {
	OPT_LIMIT = CLI_OPT_FIRST_VERB,
	OPT_OFFSET,
	OPT_SAVE,
};

/* InboxOp.limit and OutboxOp.limit. */
#define LIST_MAX 1000
/* An id as the tables show it: a prefix `divex read` accepts. */
#define ID_COLUMN 12

/* clang-format off */
#define HELP_PAGE \
	"      --limit N             show at most N (1 to 1000; default 50)\n" \
	"      --offset N            skip the N newest first\n"
/* clang-format on */

/* Parses --limit and --offset, then asks for the inbox or the outbox; *resp
 * stays NULL when nothing was asked (--help). */
static int list(struct cli *c, const struct cli_verb *v, int argc, char **argv,
		Dx__ControlRequest__OpCase which, Dx__ControlResponse **resp)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "offset", required_argument, NULL, OPT_OFFSET },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t limit = 0, offset = 0;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_LIMIT && cli_parse_u64(optarg, 1, LIST_MAX, &limit) != DX_OK) {
			status = cli_usage(c, "--limit takes a number from 1 to %d, not '%s'",
					   LIST_MAX, optarg);
		} else if (opt == OPT_OFFSET &&
			   cli_parse_u64(optarg, 0, UINT32_MAX, &offset) != DX_OK) {
			status = cli_usage(c, "--offset takes a number, not '%s'", optarg);
		} else if (opt != OPT_LIMIT && opt != OPT_OFFSET) {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status == CLI_CONTINUE && optind < argc) {
		status = cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	Dx__InboxOp in = DX__INBOX_OP__INIT;
	Dx__OutboxOp ob = DX__OUTBOX_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	int inbox = which == DX__CONTROL_REQUEST__OP_INBOX;
	in.limit = ob.limit = (uint32_t)limit;
	in.offset = ob.offset = (uint32_t)offset;
	req.op_case = which;
	if (inbox) {
		req.inbox = &in;
	} else {
		req.outbox = &ob;
	}
	return cli_ctl_call(c, &req, resp, "listing the %s", inbox ? "inbox" : "outbox");
}

/* Parses options that take one message ID; --save only where save != NULL. */
static int id_opts(struct cli *c, const struct cli_verb *v, int argc, char **argv, const char **id,
		   const char **save)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "save", required_argument, NULL, OPT_SAVE },
		{ NULL, 0, NULL, 0 },
	};
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_SAVE && save != NULL) {
			*save = optarg;
		} else if (opt == OPT_SAVE) {
			status = cli_usage(c, "unknown option '--save'");
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status == CLI_CONTINUE && argc - optind != 1) {
		status = cli_usage(c, "give one message ID (6 or more hex digits of its id)");
	}
	if (status == CLI_CONTINUE) {
		*id = argv[optind];
	}
	return status;
}

/* Gaps go to standard error in text mode: a warning is not a result. */
static void warn_gaps(struct cli *c, Dx__Gap *const *gaps, size_t n)
{
	if (c->json) {
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char peer[4 * DX_STATE_LEN + 1];
		dx_escape(peer, sizeof(peer), gaps[i]->peer, strlen(gaps[i]->peer));
		if (gaps[i]->first == gaps[i]->last) {
			fprintf(stderr, "warning: message %llu from %s has not arrived\n",
				(unsigned long long)gaps[i]->first, peer);
		} else {
			fprintf(stderr, "warning: messages %llu-%llu from %s have not arrived\n",
				(unsigned long long)gaps[i]->first,
				(unsigned long long)gaps[i]->last, peer);
		}
	}
}

void cli_print_gaps(struct out *o, Dx__Gap *const *gaps, size_t n)
{
	out_list_begin(o, "gaps", "Sequence gaps");
	for (size_t i = 0; i < n; i++) {
		out_item_begin(o);
		out_text(o, "peer", "from", gaps[i]->peer, strlen(gaps[i]->peer));
		out_u64(o, "first", "first", gaps[i]->first);
		out_u64(o, "last", "last", gaps[i]->last);
		out_item_end(o);
	}
	out_list_end(o);
}

/* clang-format off */
static const char inbox_usage[] =
	"usage: divex inbox [options]\n"
	"\n"
	"Lists the messages this State received, newest first: envelope id (give\n"
	"it, or its first digits, to 'divex read'), sender, the sender's sequence\n"
	"number, when it arrived, whether the relay was told it arrived, and the\n"
	"marking and subject. Messages a sender numbered but that have not arrived\n"
	"are reported as warnings on standard error.\n"
	"\n"
	"options:\n"
	HELP_PAGE CLI_HELP_COMMON;
/* clang-format on */

static int cmd_inbox(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct out_col cols[] = {
		{ "envelope_id", "ENVELOPE", ID_COLUMN },
		{ "sender", "FROM", 4 },
		{ "sequence", "SEQ", 6 },
		{ "received_ms", "RECEIVED", 20 },
		{ "acknowledged", "ACK", 3 },
		{ "summary", "MARKING AND SUBJECT", 0 },
	};
	Dx__ControlResponse *resp = NULL;
	int status = list(c, v, argc, argv, DX__CONTROL_REQUEST__OP_INBOX, &resp);
	if (status != CLI_EXIT_OK || resp == NULL) {
		return status;
	}
	const Dx__InboxResult *r = resp->inbox;
	struct out o;
	out_init(&o, c);
	out_table_begin(&o, "items", "The inbox is empty.", cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_items; i++) {
		const Dx__InboxItem *it = r->items[i];
		out_item_begin(&o);
		out_hex(&o, "envelope_id", "envelope", it->envelope_id.data, it->envelope_id.len);
		out_json_hex(&o, "digest", it->digest.data, it->digest.len);
		out_text(&o, "sender", "from", it->sender, strlen(it->sender));
		out_u64(&o, "sequence", "sequence", it->sequence);
		out_ms(&o, "created_ms", "sealed", it->created_ms, NULL);
		out_ms(&o, "received_ms", "received", it->received_ms, NULL);
		out_text(&o, "summary", "summary", it->summary, strlen(it->summary));
		out_bool(&o, "acknowledged", "acknowledged", it->acknowledged);
		out_item_end(&o);
	}
	out_table_end(&o);
	if (o.json) {
		cli_print_gaps(&o, r->gaps, r->n_gaps);
	}
	status = out_finish(&o, c);
	warn_gaps(c, r->gaps, r->n_gaps);
	cli_ctl_free(resp);
	return status;
}

const struct cli_verb cli_cmd_inbox = { "inbox", cmd_inbox, "list received messages", inbox_usage };

/* clang-format off */
static const char outbox_usage[] =
	"usage: divex outbox [options]\n"
	"\n"
	"Lists the messages this State sent, newest first, one line per copy:\n"
	"message id, recipient, where delivery stands (queued: waiting to be\n"
	"sealed; sealed: on its way to the relay; receipted: the relay signed for\n"
	"it; failed: it will not be delivered, see the last error), the sequence\n"
	"number, attempts so far and when it was queued.\n"
	"\n"
	"options:\n"
	HELP_PAGE CLI_HELP_COMMON;
/* clang-format on */

static int cmd_outbox(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct out_col cols[] = {
		{ "message_id", "MESSAGE", ID_COLUMN },
		{ "recipient", "TO", 4 },
		{ "state", "STATE", 9 },
		{ "sequence", "SEQ", 6 },
		{ "attempts", "TRIES", 5 },
		{ "created_ms", "QUEUED", 20 },
		{ "last_error", "LAST ERROR", 0 },
	};
	Dx__ControlResponse *resp = NULL;
	int status = list(c, v, argc, argv, DX__CONTROL_REQUEST__OP_OUTBOX, &resp);
	if (status != CLI_EXIT_OK || resp == NULL) {
		return status;
	}
	const Dx__OutboxResult *r = resp->outbox;
	struct out o;
	out_init(&o, c);
	out_table_begin(&o, "items", "Nothing sent yet.", cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_items; i++) {
		const Dx__OutboxItem *it = r->items[i];
		out_item_begin(&o);
		out_hex(&o, "message_id", "message", it->message_id.data, it->message_id.len);
		out_text(&o, "recipient", "to", it->recipient, strlen(it->recipient));
		out_text(&o, "state", "state", it->state, strlen(it->state));
		out_ms(&o, "created_ms", "queued", it->created_ms, NULL);
		out_json_hex(&o, "envelope_id", it->envelope_id.data, it->envelope_id.len);
		out_u64(&o, "sequence", "sequence", it->sequence);
		out_u64(&o, "attempts", "attempts", it->attempts);
		if (o.json || it->last_error != 0) {
			out_err(&o, "last_error", "last error", it->last_error);
		}
		out_ms(&o, "next_attempt_ms", "next attempt", it->next_attempt_ms, "");
		out_ms(&o, "receipted_ms", "receipted", it->receipted_ms, "");
		out_item_end(&o);
	}
	out_table_end(&o);
	status = out_finish(&o, c);
	cli_ctl_free(resp);
	return status;
}

const struct cli_verb cli_cmd_outbox = { "outbox", cmd_outbox, "list sent messages", outbox_usage };

/* One attachment of the message being read, fetched from the daemon. */
struct fetch {
	const char *id;
	const Dx__AttachmentRef *ref;
	struct attach_meta *meta; /* sodium_malloc'd */
	int fd;
};

static int write_sink(void *ctx, const uint8_t *data, size_t len)
{
	const struct fetch *f = ctx;
	return cli_write_all(f->fd, data, len);
}

/* Asks for the next piece at offset; *len 0 means the stream ended early. */
static int get_piece(struct cli *c, const struct fetch *f, uint64_t offset, size_t index,
		     Dx__ControlResponse **resp)
{
	Dx__GetAttachmentOp op = DX__GET_ATTACHMENT_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	uint64_t left = f->ref->stream_size - offset;
	op.id = (char *)f->id;
	op.attachment_id = f->ref->attachment_id;
	op.offset = offset;
	op.max = left < CLI_CTL_PIECE_MAX ? (uint32_t)left : CLI_CTL_PIECE_MAX;
	req.op_case = DX__CONTROL_REQUEST__OP_GET_ATTACHMENT;
	req.get_attachment = &op;
	return cli_ctl_call(c, &req, resp, "getting attachment %zu of %s from divexd", index,
			    f->id);
}

/* Fetches the stream piece by piece and feeds it to the opener; the size
 * and hash in the signed payload decide, not what the daemon says. */
static int fetch_decrypt(struct cli *c, void *ctx, int fd, size_t index, const char *safe_name,
			 struct cli_progress *prog)
{
	struct fetch *f = ctx;
	struct attach_opener *op = NULL;
	uint64_t offset = 0, total = f->ref->stream_size;
	int status = CLI_EXIT_OK;
	f->fd = fd;
	int rc = attach_opener_new(f->meta, &op);
	while (rc == DX_OK && offset < total) {
		Dx__ControlResponse *resp = NULL;
		if ((status = get_piece(c, f, offset, index, &resp)) != CLI_EXIT_OK) {
			break;
		}
		const Dx__GetAttachmentResult *g = resp->get_attachment;
		if (g->total_size != total) {
			rc = g->total_size < total ? DX_EATT_TRUNCATED : DX_EATT_TRAILING;
		} else if (g->data.len == 0 || g->data.len > total - offset) {
			rc = g->data.len == 0 ? DX_EATT_TRUNCATED : DX_EATT_TRAILING;
		} else {
			rc = attach_opener_feed(op, g->data.data, g->data.len, write_sink, f);
			offset += g->data.len;
			cli_progress_cb(prog, offset, total);
		}
		cli_ctl_free(resp);
	}
	if (rc == DX_OK && status == CLI_EXIT_OK) {
		rc = attach_opener_finish(op, write_sink, f);
	}
	attach_opener_free(op);
	if (status == CLI_EXIT_OK && rc != DX_OK) {
		status = cli_error(c, rc,
				   "attachment %zu (%s) of %s: checking and decrypting it; "
				   "nothing was saved",
				   index, safe_name, f->id);
	}
	return status;
}

static int save_all(struct cli *c, const char *id, const char *dir, const Dx__Payload *pl,
		    char **saved)
{
	int rc = dx_mkdir_p(dir);
	if (rc != DX_OK) {
		return cli_error(c, rc, "creating the directory %s", dir);
	}
	struct fetch f = { .id = id, .meta = sodium_malloc(sizeof(struct attach_meta)) };
	if (f.meta == NULL) {
		return cli_error(c, DX_ENOMEM, "allocating an attachment key");
	}
	int status = CLI_EXIT_OK;
	for (size_t i = 0; i < pl->n_attachments && status == CLI_EXIT_OK; i++) {
		f.ref = pl->attachments[i];
		cli_ref_meta(f.ref, f.meta);
		if ((saved[i] = malloc(4096)) == NULL) {
			status = cli_error(c, DX_ENOMEM, "saving attachments");
		} else {
			status = cli_attach_save(c, dir, f.ref->name, i + 1, fetch_decrypt, &f,
						 saved[i], 4096);
		}
		if (status != CLI_EXIT_OK) {
			free(saved[i]);
			saved[i] = NULL;
		}
	}
	sodium_free(f.meta);
	return status;
}

static void print_read(struct out *o, const Dx__ReadResult *r, const Dx__Payload *pl,
		       char *const *saved)
{
	int sent = strcmp(r->direction, "sent") == 0;
	out_text(o, "direction", "Direction", r->direction, strlen(r->direction));
	if (r->envelope_id.len > 0) {
		out_hex(o, "envelope_id", "Envelope id", r->envelope_id.data, r->envelope_id.len);
	}
	if (r->message_id.len > 0) {
		out_hex(o, "message_id", "Message id", r->message_id.data, r->message_id.len);
	}
	out_text(o, "sender", "From", r->sender, strlen(r->sender));
	out_text(o, "recipient", "To", r->recipient, strlen(r->recipient));
	out_u64(o, "sequence", "Sequence", r->sequence);
	out_ms(o, "created_ms", "Sealed at", r->created_ms, "not sealed yet");
	if (sent) {
		out_text(o, "state", "Delivery", r->state, strlen(r->state));
	} else {
		out_ms(o, "received_ms", "Received at", r->received_ms, NULL);
	}
	/* Nested in JSON; in text the marking opens the content. */
	out_obj_begin(o, "payload", NULL);
	cli_print_payload(o, pl, saved);
	out_obj_end(o);
}

/* clang-format off */
static const char read_usage[] =
	"usage: divex read ID [--save DIR] [options]\n"
	"\n"
	"Shows one message, received or sent: ID is a unique prefix (6 hex digits\n"
	"or more) of its envelope id, or of a sent message's id. The provider's\n"
	"marking comes first, then the subject, text and attachments. With --save,\n"
	"each attachment is fetched from the daemon, checked against the size and\n"
	"hash the sender signed, decrypted and written into DIR under a safe form\n"
	"of its name; an attachment that fails any check is not written at all and\n"
	"the command exits with status 3.\n"
	"\n"
	"options:\n"
	"      --save DIR            save the attachments in DIR (created if missing)\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int cmd_read(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	const char *id = NULL, *save = NULL;
	int status = id_opts(c, v, argc, argv, &id, &save);
	if (status != CLI_CONTINUE) {
		return status;
	}
	Dx__ReadOp op = DX__READ_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__ControlResponse *resp = NULL;
	Dx__Payload *pl = NULL;
	char *saved[ENVELOPE_MAX_ATTACHMENTS] = { NULL };
	op.id = (char *)id;
	req.op_case = DX__CONTROL_REQUEST__OP_READ;
	req.read = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "reading the message %s", id)) != CLI_EXIT_OK) {
		return status;
	}
	const Dx__ReadResult *r = resp->read;
	int rc = cli_payload_decode(r->payload.data, r->payload.len, &pl);
	if (rc == DX_OK && pl->n_attachments > ENVELOPE_MAX_ATTACHMENTS) {
		rc = DX_EPARSE;
	}
	if (rc != DX_OK) {
		status = cli_error(c, rc, "the message %s, as divexd gave it, is malformed", id);
		goto out;
	}
	if (save != NULL && (status = save_all(c, id, save, pl, saved)) != CLI_EXIT_OK) {
		goto out;
	}
	struct out o;
	out_init(&o, c);
	print_read(&o, r, pl, saved);
	status = out_finish(&o, c);
out:
	for (size_t i = 0; i < ENVELOPE_MAX_ATTACHMENTS; i++) {
		free(saved[i]);
	}
	cli_payload_free(pl);
	cli_ctl_free(resp);
	return status;
}

const struct cli_verb cli_cmd_read = { "read", cmd_read, "show one message", read_usage };

/* clang-format off */
static const char receipts_usage[] =
	"usage: divex receipts ID [options]\n"
	"\n"
	"Lists the relay's signed receipts for one message, each verified by the\n"
	"daemon and proved included in the relay's audit log: accepted (the relay\n"
	"took it), fetched (the recipient downloaded it), acknowledged (the\n"
	"recipient confirmed it), with the relay's time and the log position. With\n"
	"--json the signed receipts and checkpoints are included, as hex, for an\n"
	"arbiter to check.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int cmd_receipts(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct out_col cols[] = {
		{ "kind", "KIND", 12 },
		{ "time_ms", "RELAY TIME", 20 },
		{ "leaf_index", "LOG ENTRY", 10 },
		{ "tree_size", "PROVED IN LOG OF SIZE", 0 },
	};
	const char *id = NULL;
	int status = id_opts(c, v, argc, argv, &id, NULL);
	if (status != CLI_CONTINUE) {
		return status;
	}
	Dx__ReceiptsOp op = DX__RECEIPTS_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__ControlResponse *resp = NULL;
	op.id = (char *)id;
	req.op_case = DX__CONTROL_REQUEST__OP_RECEIPTS;
	req.receipts = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "getting the receipts of %s", id)) !=
	    CLI_EXIT_OK) {
		return status;
	}
	const Dx__ReceiptsResult *r = resp->receipts;
	struct out o;
	out_init(&o, c);
	out_text(&o, "direction", "Direction", r->direction, strlen(r->direction));
	out_hex(&o, "envelope_id", "Envelope id", r->envelope_id.data, r->envelope_id.len);
	out_note(&o, "%s", "");
	out_table_begin(&o, "receipts", "No receipts yet.", cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_receipts; i++) {
		const Dx__ReceiptItem *it = r->receipts[i];
		out_item_begin(&o);
		out_text(&o, "kind", "kind", it->kind, strlen(it->kind));
		out_u64(&o, "leaf_index", "log entry", it->leaf_index);
		out_ms(&o, "time_ms", "relay time", it->time_ms, NULL);
		out_u64(&o, "tree_size", "log size", it->tree_size);
		out_json_hex(&o, "checkpoint", it->checkpoint.data, it->checkpoint.len);
		out_json_hex(&o, "receipt", it->receipt.data, it->receipt.len);
		out_item_end(&o);
	}
	out_table_end(&o);
	status = out_finish(&o, c);
	cli_ctl_free(resp);
	return status;
}

const struct cli_verb cli_cmd_receipts = { "receipts", cmd_receipts,
					   "the relay's receipts for a message", receipts_usage };
