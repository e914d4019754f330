/*
 * cmd_notice.c: `divex notice` (rule 12 notices to implicated States) and
 * `divex due` (the deadline book), docs/casework.md.
 *
 * The daemon decides every date: the CLI passes the meeting date and the
 * texts, and divexd applies rule 12 with its own calendar day, refusing a
 * late notice without a reason (exit 3). `notice send` is also what
 * `divex notice --case ...` runs. Whatever came from another State (a
 * notice's summary and late reason, a reply) is printed escaped, and the
 * export of replies is JSON written to a new file, mode 0600.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compose.h"
#include "control.pb-c.h"

enum {
	OPT_TO = CLI_OPT_FIRST_VERB,
	OPT_MEETING,
	OPT_MEETING_NAME,
	OPT_SUMMARY,
	OPT_LATE_REASON,
	OPT_TEXT,
};

/* ---- send ---- */

/* clang-format off */
static const char send_usage[] =
	"usage: divex notice send --case ID --to STATE[,STATE...] --meeting YYYY-MM-DD\n"
	"                         [--meeting-name NAME] (--summary TEXT | --file FILE)\n"
	"                         [--late-reason TEXT]\n"
	"       divex notice --case ID ...   (the same)\n"
	"\n"
	"Notifies the implicated States that information to be presented at a\n"
	"meeting may involve them (rule 12), and asks for their response. divexd\n"
	"dates the notice with its own calendar day: it must go at least 30 days\n"
	"before the meeting; a later notice is refused (exit 3) unless\n"
	"--late-reason says why, and the reason is shown to every recipient. The\n"
	"response is asked for by the meeting date less 15 days. One sealed copy\n"
	"goes to each State; follow the answers with 'divex notice status'.\n"
	"\n"
	"options:\n"
	"      --case ID             the case the presentation is about\n"
	"      --to STATES           the implicated States, separated by commas\n"
	"      --meeting DATE        the meeting's date, YYYY-MM-DD\n"
	"      --meeting-name NAME   e.g. \"DIEF, CSP11\"\n"
	"      --summary TEXT        what will be presented\n"
	"      --file FILE           the summary from a file ('-': standard input)\n"
	"      --late-reason TEXT    why the notice is later than 30 days before\n"
	"                            the meeting\n"
	CLI_HELP_COMMON;
/* clang-format on */

struct send_opts {
	struct cli_recipients to;
	const char *case_id, *meeting, *name, *summary, *file, *reason;
};

static int send_parse(struct cli *c, const struct cli_verb *v, int argc, char **argv,
		      struct send_opts *s)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "case", required_argument, NULL, CLI_OPT_CASE },
		{ "to", required_argument, NULL, OPT_TO },
		{ "meeting", required_argument, NULL, OPT_MEETING },
		{ "meeting-name", required_argument, NULL, OPT_MEETING_NAME },
		{ "summary", required_argument, NULL, OPT_SUMMARY },
		{ "file", required_argument, NULL, CLI_OPT_FILE },
		{ "late-reason", required_argument, NULL, OPT_LATE_REASON },
		{ NULL, 0, NULL, 0 },
	};
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case CLI_OPT_CASE:
			s->case_id = optarg;
			break;
		case OPT_TO:
			status = cli_parse_recipients(c, &s->to, optarg);
			break;
		case OPT_MEETING:
			s->meeting = optarg;
			break;
		case OPT_MEETING_NAME:
			s->name = optarg;
			break;
		case OPT_SUMMARY:
			s->summary = optarg;
			break;
		case CLI_OPT_FILE:
			s->file = optarg;
			break;
		case OPT_LATE_REASON:
			s->reason = optarg;
			break;
		default:
			status = cli_opt_common(c, v, opt, argv);
			break;
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (optind < argc) {
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	if (s->case_id == NULL || s->to.n == 0 || s->meeting == NULL) {
		return cli_usage(c, "--case ID, --to STATE and --meeting YYYY-MM-DD are required");
	}
	return CLI_CONTINUE;
}

static int print_sent(struct cli *c, const Dx__NoticeSendResult *r, const char *case_id,
		      const char *meeting)
{
	char ahead[64];
	struct out o;
	out_init(&o, c);
	out_hex(&o, "notice_id", "Notice", r->notice_id.data, r->notice_id.len);
	out_text(&o, "case_id", "Case", case_id, strlen(case_id));
	out_str(&o, "sent_date", "Sent", r->sent_date);
	if (o.json) {
		out_u64(&o, "days_before", NULL, r->days_before > 0 ? (uint64_t)r->days_before : 0);
	} else {
		snprintf(ahead, sizeof(ahead), "%s (%lld days ahead)", meeting,
			 (long long)r->days_before);
		out_str(&o, "meeting", "Meeting", ahead);
	}
	out_str(&o, "respond_by", "Respond by", r->respond_by);
	out_bool(&o, "late", "Late (with a reason)", r->late);
	if (o.json) {
		out_bool(&o, "respond_by_is_today", NULL, r->respond_by_is_today);
	}
	if (r->respond_by_is_today) {
		out_note(&o, "The meeting is under 15 days away: the response is asked for today.");
	}
	cli_print_copies(&o, r->copies, r->n_copies);
	out_note(&o, "\nQueued. Follow the answers with 'divex notice status --case %s'.", case_id);
	return out_finish(&o, c);
}

static int notice_send(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	struct send_opts *s = calloc(1, sizeof(*s));
	char *summary = NULL;
	Dx__ControlResponse *resp = NULL;
	if (s == NULL) {
		return cli_error(c, DX_ENOMEM, "starting");
	}
	int status = send_parse(c, v, argc, argv, s);
	if (status == CLI_CONTINUE) {
		status = cli_text_option(c, s->file, s->summary, "summary (--summary or --file)", &summary);
	}
	if (status != CLI_CONTINUE) {
		free(s);
		return status;
	}
	Dx__NoticeSendOp op = DX__NOTICE_SEND_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.case_id = (char *)s->case_id;
	op.n_to = s->to.n;
	op.to = s->to.ptrs;
	op.meeting_date = (char *)s->meeting;
	op.meeting_name = (char *)(s->name != NULL ? s->name : "");
	op.summary = summary;
	op.late_reason = (char *)(s->reason != NULL ? s->reason : "");
	req.op_case = DX__CONTROL_REQUEST__OP_NOTICE_SEND;
	req.notice_send = &op;
	status = cli_ctl_call(c, &req, &resp, "sending the rule 12 notice");
	if (status == CLI_EXIT_OK) {
		status = print_sent(c, resp->notice_send, s->case_id, s->meeting);
	}
	cli_ctl_free(resp);
	cli_text_free(summary);
	free(s);
	return status;
}

/* ---- reply ---- */

static const char reply_usage[] =
	"usage: divex notice reply ID (--file FILE | --text TEXT)\n"
	"\n"
	"Answers the rule 12 notice ID this State received (a unique prefix of at\n"
	"least 6 hex digits, see 'divex notice status' or 'divex due'). The\n"
	"notifying State includes the response in its presentation.\n"
	"\n"
	"options:\n"
	"      --file FILE           the response from a file ('-': standard input)\n"
	"      --text TEXT           the response\n" CLI_HELP_COMMON;

static int call_reply(struct cli *c, const char *id, char *text, Dx__ControlResponse **resp)
{
	Dx__NoticeReplyOp op = DX__NOTICE_REPLY_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.id = (char *)id;
	op.response = text;
	req.op_case = DX__CONTROL_REQUEST__OP_NOTICE_REPLY;
	req.notice_reply = &op;
	return cli_ctl_call(c, &req, resp, "replying to the notice %s", id);
}

static const Dx__SendResult *reply_result(const Dx__ControlResponse *resp)
{
	return resp->notice_reply;
}

static int notice_reply(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct cli_answer_spec spec = {
		.what_id = "notice",
		.what_text = "response (--file or --text)",
		.queued = "Queued: the reply goes to the notifying State.",
		.call = call_reply,
		.result = reply_result,
	};
	return cli_answer(c, v, argc, argv, &spec);
}

/* ---- status, replies ---- */

static void print_info(struct out *o, const Dx__NoticeInfo *i)
{
	out_hex(o, "notice_id", "Notice", i->notice_id.data, i->notice_id.len);
	out_str(o, "direction", "Direction", i->direction);
	if (i->sender[0] != '\0') {
		out_text(o, "sender", "From", i->sender, strlen(i->sender));
	}
	out_text(o, "case_id", "Case", i->case_id, strlen(i->case_id));
	out_text(o, "meeting_date", "Meeting", i->meeting_date, strlen(i->meeting_date));
	if (o->json || i->meeting_name[0] != '\0') {
		out_text(o, "meeting_name", "Meeting name", i->meeting_name,
			 strlen(i->meeting_name));
	}
	out_text(o, "sent_date", "Sent", i->sent_date, strlen(i->sent_date));
	out_text(o, "respond_by", "Respond by", i->respond_by, strlen(i->respond_by));
	if (i->late_reason[0] != '\0') {
		out_text(o, "late_reason", "Late; the reason given", i->late_reason,
			 strlen(i->late_reason));
	} else if (o->json) {
		out_str(o, "late_reason", NULL, "");
	}
	if (i->status[0] != '\0') {
		out_str(o, "status", "Our reply", i->status);
		out_ms(o, "replied_ms", "Replied", i->replied_ms, "-");
	}
	out_block(o, "summary", "Summary", i->summary, strlen(i->summary));
}

static void print_notice_copies(struct out *o, const Dx__NoticeInfo *i)
{
	static const struct out_col cols[] = {
		{ "state", "STATE", 6 },
		{ "status", "STATUS", 9 },
		{ "replied", "REPLIED", 21 },
		{ "message_id", "MESSAGE", 0 },
	};
	out_table_begin(o, "copies", NULL, cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t k = 0; k < i->n_copies; k++) {
		const Dx__NoticeCopy *cp = i->copies[k];
		char when[CLI_TIME_LEN] = "-";
		out_item_begin(o);
		out_text(o, "state", "State", cp->state, strlen(cp->state));
		out_hex(o, "message_id", "Message", cp->message_id.data, cp->message_id.len);
		out_str(o, "status", "Status", cp->status);
		out_ms(o, "replied_ms", "Replied", cp->replied_ms, "-");
		if (cp->replied_ms != 0) {
			cli_time(when, cp->replied_ms);
			out_hex(o, "reply_envelope_id", "Reply", cp->reply_envelope_id.data,
				cp->reply_envelope_id.len);
		}
		out_cell(o, "replied", when);
		out_item_end(o);
	}
	out_table_end(o);
}

static void print_list(struct out *o, const char *key, const char *label, Dx__NoticeInfo *const *v,
		       size_t n, int sent)
{
	out_list_begin(o, key, label);
	for (size_t k = 0; k < n; k++) {
		out_item_begin(o);
		print_info(o, v[k]);
		if (sent) {
			print_notice_copies(o, v[k]);
		}
		out_item_end(o);
	}
	out_list_end(o);
}

static const char status_usage[] =
	"usage: divex notice status [--case ID]\n"
	"\n"
	"The rule 12 notices this State sent, with each implicated State's\n"
	"answer (awaiting, replied, or overdue past the respond-by date), and the\n"
	"notices it received, with its own reply; of one case or of all.\n"
	"\n"
	"options:\n"
	"      --case ID             only the notices of this case\n" CLI_HELP_COMMON;

static int notice_status(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "case", required_argument, NULL, CLI_OPT_CASE },
		{ NULL, 0, NULL, 0 },
	};
	const char *case_id = "";
	Dx__ControlResponse *resp = NULL;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == CLI_OPT_CASE) {
			case_id = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (optind < argc) {
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	Dx__NoticeStatusOp op = DX__NOTICE_STATUS_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.case_id = (char *)case_id;
	req.op_case = DX__CONTROL_REQUEST__OP_NOTICE_STATUS;
	req.notice_status = &op;
	status = cli_ctl_call(c, &req, &resp, "reading the notices");
	if (status == CLI_EXIT_OK) {
		const Dx__NoticeStatusResult *r = resp->notice_status;
		struct out o;
		out_init(&o, c);
		print_list(&o, "sent", "Notices sent", r->sent, r->n_sent, 1);
		print_list(&o, "received", "Notices received", r->received, r->n_received, 0);
		status = out_finish(&o, c);
	}
	cli_ctl_free(resp);
	return status;
}

static void print_replies(struct out *o, const Dx__NoticeRepliesResult *r)
{
	out_obj_begin(o, "notice", "Notice");
	print_info(o, r->notice);
	print_notice_copies(o, r->notice);
	out_obj_end(o);
	out_list_begin(o, "replies", "Replies");
	for (size_t k = 0; k < r->n_replies; k++) {
		const Dx__NoticeReplyText *t = r->replies[k];
		out_item_begin(o);
		out_text(o, "state", "From", t->state, strlen(t->state));
		out_ms(o, "replied_ms", "Received", t->replied_ms, NULL);
		out_hex(o, "reply_envelope_id", "Envelope", t->reply_envelope_id.data,
			t->reply_envelope_id.len);
		out_block(o, "response", "Response", t->response, strlen(t->response));
		out_item_end(o);
	}
	out_list_end(o);
	if (r->n_replies == 0) {
		out_note(o, "No reply yet.");
	}
}

/* Writes the replies as JSON to a new file (mode 0600). */
static int export_replies(struct cli *c, const Dx__NoticeRepliesResult *r, const char *path)
{
	struct cli jc = *c;
	struct out o;
	jc.json = 1;
	out_init(&o, &jc);
	print_replies(&o, r);
	json_t *root = o.depth > 0 ? (json_t *)o.stack[0] : NULL;
	char *text = root != NULL && !o.failed
			     ? json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)
			     : NULL;
	out_discard(&o);
	if (text == NULL) {
		return cli_error(c, DX_ENOMEM, "building the JSON export");
	}
	size_t len = strlen(text);
	/* json_dumps ends without a newline: the file gets one. */
	char *withnl = malloc(len + 2);
	if (withnl == NULL) {
		free(text);
		return cli_error(c, DX_ENOMEM, "building the JSON export");
	}
	memcpy(withnl, text, len);
	withnl[len] = '\n';
	free(text);
	int rc = dx_write_file_atomic(path, (const uint8_t *)withnl, len + 1, 0600, 0);
	sodium_memzero(withnl, len + 1);
	free(withnl);
	if (rc != DX_OK) {
		return cli_error(c, rc, "writing %s (it must not exist yet)", path);
	}
	struct out done;
	out_init(&done, c);
	out_str(&done, "exported", "Exported to", path);
	out_u64(&done, "replies", "Replies", r->n_replies);
	return out_finish(&done, c);
}

static const char replies_usage[] =
	"usage: divex notice replies ID [-o FILE]\n"
	"\n"
	"The responses the implicated States gave to the notice ID this State\n"
	"sent (a prefix of its id or of one copy's message id), for inclusion in\n"
	"the presentation as rule 12 requires. With -o, they are exported as JSON\n"
	"to FILE, which must not exist yet (mode 0600).\n"
	"\n"
	"options:\n"
	"  -o, --output FILE         export to FILE as JSON\n" CLI_HELP_COMMON;

static int notice_replies(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *output = NULL;
	Dx__ControlResponse *resp = NULL;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		if (opt == 'o') {
			output = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give the notice ID");
	}
	const char *id = argv[optind];
	Dx__NoticeRepliesOp op = DX__NOTICE_REPLIES_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.id = (char *)id;
	req.op_case = DX__CONTROL_REQUEST__OP_NOTICE_REPLIES;
	req.notice_replies = &op;
	status = cli_ctl_call(c, &req, &resp, "reading the replies to %s", id);
	if (status == CLI_EXIT_OK && output != NULL) {
		status = export_replies(c, resp->notice_replies, output);
	} else if (status == CLI_EXIT_OK) {
		struct out o;
		out_init(&o, c);
		print_replies(&o, resp->notice_replies);
		status = out_finish(&o, c);
	}
	cli_ctl_free(resp);
	return status;
}

static const struct cli_verb notice_verbs[] = {
	{ "send", notice_send, "notify implicated States of a presentation (rule 12)", send_usage },
	{ "reply", notice_reply, "answer a notice this State received", reply_usage },
	{ "status", notice_status, "notices sent and received, and their answers", status_usage },
	{ "replies", notice_replies, "the responses to a notice, or their JSON export",
	  replies_usage },
};

int cmd_notice(struct cli *c, int argc, char **argv)
{
	/* `divex notice --case ...` is `divex notice send --case ...`. */
	if (argc >= 2 && argv[1][0] == '-' && strcmp(argv[1], "-h") != 0 &&
	    strcmp(argv[1], "--help") != 0) {
		c->cmd = "notice send";
		return notice_send(c, &notice_verbs[0], argc, argv);
	}
	return cli_dispatch(c, "notice", notice_verbs,
			    sizeof(notice_verbs) / sizeof(notice_verbs[0]),
			    "Rule 12 notices to the States a presentation involves "
			    "(docs/casework.md).\n",
			    argc, argv);
}

/* ---- due ---- */

static const char due_usage[] =
	"usage: divex due\n"
	"\n"
	"The deadline book, earliest first, what is past its date marked\n"
	"OVERDUE: replies this State awaits to its rule 12 notices and the\n"
	"notices it must answer; answers it awaits to its requests for\n"
	"information and the requests it must answer; consent requests to\n"
	"decide and consent it awaits; disclosure concerns to explain and\n"
	"explanations it awaits. The daemon also logs reminders as dates near.\n"
	"\n"
	"options:\n" CLI_HELP_COMMON;

static int cmd_due(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct out_col cols[] = {
		{ "date", "DUE", 11 },	   { "flag", "", 8 },	  { "state", "STATE", 6 },
		{ "case_id", "CASE", 18 }, { "what", "WHAT", 0 },
	};
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 },
	};
	Dx__ControlResponse *resp = NULL;
	int status = cli_opt_parse_common(c, v, argc, argv, longopts);
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (optind < argc) {
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	Dx__DueOp op = DX__DUE_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	req.op_case = DX__CONTROL_REQUEST__OP_DUE;
	req.due = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "reading the deadline book")) != CLI_EXIT_OK) {
		cli_ctl_free(resp);
		return status;
	}
	const Dx__DueResult *r = resp->due;
	struct out o;
	out_init(&o, c);
	out_str(&o, "today", "Today", r->today);
	out_table_begin(&o, "items", "nothing is due", cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_items; i++) {
		const Dx__DueItem *it = r->items[i];
		out_item_begin(&o);
		out_text(&o, "date", "Due", it->date, strlen(it->date));
		out_str(&o, "kind", "Kind", it->kind);
		out_text(&o, "state", "State", it->state, strlen(it->state));
		out_text(&o, "case_id", "Case", it->case_id, strlen(it->case_id));
		out_hex(&o, "id", "Id", it->id.data, it->id.len);
		out_text(&o, "what", "What", it->what, strlen(it->what));
		out_bool(&o, "overdue", "Overdue", it->overdue);
		out_cell(&o, "flag", it->overdue ? "OVERDUE" : "");
		out_item_end(&o);
	}
	out_table_end(&o);
	status = out_finish(&o, c);
	cli_ctl_free(resp);
	return status;
}

const struct cli_verb cli_cmd_due = { "due", cmd_due, "what is due, and when", due_usage };
