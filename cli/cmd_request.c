/*
 * cmd_request.c: `divex request` (requests for information under the Model
 * ToR, and their responses), docs/casework.md.
 *
 * The daemon decides the dates: the CLI passes the respond-by date as
 * written and divexd refuses one before its own calendar day. Kinds are
 * named on the command line (end-user-file, brokers, ...) and travel as
 * dx.InformationKind values. Whatever came from another State (a request's
 * details, an answer) is printed escaped.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casework.pb-c.h"
#include "cli.h"
#include "compose.h"
#include "control.pb-c.h"

enum {
	OPT_TO = CLI_OPT_FIRST_VERB,
	OPT_KIND,
	OPT_DETAILS,
	OPT_RESPOND_BY,
	OPT_TEXT,
};

#define KIND_MAX 10

/* The command-line names of dx.InformationKind 1..KIND_MAX, and how people read them. */
static const struct {
	const char *arg, *label;
} KINDS[KIND_MAX + 1] = {
	{ "", "unspecified" },
	{ "end-user-file", "end-user file" },
	{ "brokers", "brokers" },
	{ "shipping-company", "shipping company" },
	{ "addresses", "addresses" },
	{ "records", "national database records" },
	{ "prices", "price, cost, commission, taxes" },
	{ "routes", "routes" },
	{ "procedures", "common procedures" },
	{ "transfers-acknowledged", "transfers acknowledged" },
	{ "other", "other" },
};

static const char *kind_label(uint32_t k)
{
	return k <= KIND_MAX ? KINDS[k].label : "unknown";
}

/* Parses "a,b,c" into kinds (distinct); CLI_CONTINUE or a usage error. */
static int parse_kinds(struct cli *c, const char *arg, uint32_t *kinds, size_t *n)
{
	const char *p = arg;
	while (*p != '\0') {
		size_t len = strcspn(p, ",");
		uint32_t k = 0;
		for (uint32_t i = 1; i <= KIND_MAX && k == 0; i++) {
			if (strlen(KINDS[i].arg) == len && strncmp(KINDS[i].arg, p, len) == 0) {
				k = i;
			}
		}
		if (k == 0) {
			return cli_usage(c,
					 "'%.*s' is not a kind: use end-user-file, brokers, "
					 "shipping-company, addresses, records, prices, routes, "
					 "procedures, transfers-acknowledged or other",
					 (int)(len > 40 ? 40 : len), p);
		}
		for (size_t i = 0; i < *n; i++) {
			if (kinds[i] == k) {
				return cli_usage(c, "the kind %s is given twice", KINDS[k].arg);
			}
		}
		kinds[(*n)++] = k;
		p += len;
		if (*p == ',') {
			p++;
		}
	}
	return CLI_CONTINUE;
}

/* ---- send ---- */

/* clang-format off */
static const char send_usage[] =
	"usage: divex request send --case ID --to STATE[,STATE...] --kind KIND[,KIND...]\n"
	"                          (--details TEXT | --file FILE) [--respond-by YYYY-MM-DD]\n"
	"\n"
	"Asks the States for information on a case (Model ToR). One sealed copy\n"
	"goes to each State; follow the answers with 'divex request list' and\n"
	"'divex due'. divexd refuses a respond-by date before its own calendar day.\n"
	"\n"
	"Kinds: end-user-file, brokers, shipping-company, addresses, records\n"
	"(national database records), prices (price, cost, commission, taxes),\n"
	"routes, procedures (common procedures), transfers-acknowledged (date,\n"
	"time and volume acknowledged by the receiving country), other.\n"
	"\n"
	"options:\n"
	"      --case ID             the case the request is about\n"
	"      --to STATES           the States asked, separated by commas\n"
	"      --kind KINDS          the information asked for, separated by commas\n"
	"      --details TEXT        what exactly is asked, and why\n"
	"      --file FILE           the details from a file ('-': standard input)\n"
	"      --respond-by DATE     the date an answer is asked by, YYYY-MM-DD\n"
	CLI_HELP_COMMON;
/* clang-format on */

struct send_opts {
	struct cli_recipients to;
	uint32_t kinds[KIND_MAX];
	size_t n_kinds;
	const char *case_id, *details, *file, *respond_by;
};

static int send_parse(struct cli *c, const struct cli_verb *v, int argc, char **argv,
		      struct send_opts *s)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "case", required_argument, NULL, CLI_OPT_CASE },
		{ "to", required_argument, NULL, OPT_TO },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "details", required_argument, NULL, OPT_DETAILS },
		{ "file", required_argument, NULL, CLI_OPT_FILE },
		{ "respond-by", required_argument, NULL, OPT_RESPOND_BY },
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
		case OPT_KIND:
			if (s->n_kinds > 0) {
				status = cli_usage(c, "give the kinds once, separated by commas");
			} else {
				status = parse_kinds(c, optarg, s->kinds, &s->n_kinds);
			}
			break;
		case OPT_DETAILS:
			s->details = optarg;
			break;
		case CLI_OPT_FILE:
			s->file = optarg;
			break;
		case OPT_RESPOND_BY:
			s->respond_by = optarg;
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
	if (s->case_id == NULL || s->to.n == 0 || s->n_kinds == 0) {
		return cli_usage(c, "--case ID, --to STATE and --kind KIND are required");
	}
	return CLI_CONTINUE;
}

static int request_send(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	struct send_opts *s = calloc(1, sizeof(*s));
	char *details = NULL;
	Dx__ControlResponse *resp = NULL;
	if (s == NULL) {
		return cli_error(c, DX_ENOMEM, "starting");
	}
	int status = send_parse(c, v, argc, argv, s);
	if (status == CLI_CONTINUE) {
		status = cli_text_option(c, s->file, s->details, "details (--details or --file)", &details);
	}
	if (status != CLI_CONTINUE) {
		free(s);
		return status;
	}
	Dx__RequestSendOp op = DX__REQUEST_SEND_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.case_id = (char *)s->case_id;
	op.n_to = s->to.n;
	op.to = s->to.ptrs;
	op.n_kinds = s->n_kinds;
	op.kinds = s->kinds;
	op.details = details;
	op.respond_by = (char *)(s->respond_by != NULL ? s->respond_by : "");
	req.op_case = DX__CONTROL_REQUEST__OP_REQUEST_SEND;
	req.request_send = &op;
	status = cli_ctl_call(c, &req, &resp, "sending the request for information");
	if (status == CLI_EXIT_OK) {
		const Dx__RequestSendResult *r = resp->request_send;
		struct out o;
		out_init(&o, c);
		out_hex(&o, "request_id", "Request", r->request_id.data, r->request_id.len);
		out_text(&o, "case_id", "Case", s->case_id, strlen(s->case_id));
		out_str(&o, "sent_date", "Sent", r->sent_date);
		out_str(&o, "respond_by", "Respond by",
			r->respond_by[0] != '\0' ? r->respond_by : (o.json ? "" : "(no date)"));
		cli_print_copies(&o, r->copies, r->n_copies);
		out_note(&o, "\nQueued. Follow the answers with 'divex request list'.");
		status = out_finish(&o, c);
	}
	cli_ctl_free(resp);
	cli_text_free(details);
	free(s);
	return status;
}

/* ---- respond ---- */

static const char respond_usage[] =
	"usage: divex request respond ID (--text TEXT | --file FILE)\n"
	"\n"
	"Answers the request for information ID this State received (a unique\n"
	"prefix of at least 6 hex digits, see 'divex request list' or 'divex\n"
	"due'). The answer goes to the requesting State, in reply to its request.\n"
	"\n"
	"options:\n"
	"      --text TEXT           the answer\n"
	"      --file FILE           the answer from a file ('-': standard "
	"input)\n" CLI_HELP_COMMON;

static int call_respond(struct cli *c, const char *id, char *text, Dx__ControlResponse **resp)
{
	Dx__RequestRespondOp op = DX__REQUEST_RESPOND_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.id = (char *)id;
	op.answer = text;
	req.op_case = DX__CONTROL_REQUEST__OP_REQUEST_RESPOND;
	req.request_respond = &op;
	return cli_ctl_call(c, &req, resp, "answering the request %s", id);
}

static const Dx__SendResult *respond_result(const Dx__ControlResponse *resp)
{
	return resp->request_respond;
}

static int request_respond(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct cli_answer_spec spec = {
		.what_id = "request",
		.what_text = "answer (--text or --file)",
		.queued = "Queued: the answer goes to the requesting State.",
		.call = call_respond,
		.result = respond_result,
	};
	return cli_answer(c, v, argc, argv, &spec);
}

/* ---- list ---- */

static void print_info(struct out *o, const Dx__RequestInfo *i)
{
	out_hex(o, "request_id", "Request", i->request_id.data, i->request_id.len);
	out_str(o, "direction", "Direction", i->direction);
	if (i->requester[0] != '\0') {
		out_text(o, "requester", "From", i->requester, strlen(i->requester));
	}
	out_text(o, "case_id", "Case", i->case_id, strlen(i->case_id));
	out_list_begin(o, "kinds", "Information asked for");
	for (size_t k = 0; k < i->n_kinds; k++) {
		out_item_begin(o);
		out_str(o, "kind", "kind", kind_label(i->kinds[k]));
		out_item_end(o);
	}
	out_list_end(o);
	out_text(o, "date", i->direction[0] == 's' ? "Sent" : "Received", i->date, strlen(i->date));
	if (o->json || i->respond_by[0] != '\0') {
		out_text(o, "respond_by", "Respond by", i->respond_by, strlen(i->respond_by));
	}
	if (i->status[0] != '\0') {
		out_str(o, "status", "Our answer", i->status);
		out_ms(o, "answered_ms", "Answered", i->answered_ms, "-");
	}
	out_block(o, "details", "Details", i->details, strlen(i->details));
}

static void print_request_copies(struct out *o, const Dx__RequestInfo *i)
{
	static const struct out_col cols[] = {
		{ "state", "STATE", 6 },
		{ "status", "STATUS", 9 },
		{ "answered", "ANSWERED", 21 },
		{ "message_id", "MESSAGE", 0 },
	};
	out_table_begin(o, "copies", NULL, cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t k = 0; k < i->n_copies; k++) {
		const Dx__RequestCopy *cp = i->copies[k];
		char when[CLI_TIME_LEN] = "-";
		out_item_begin(o);
		out_text(o, "state", "State", cp->state, strlen(cp->state));
		out_hex(o, "message_id", "Message", cp->message_id.data, cp->message_id.len);
		out_str(o, "status", "Status", cp->status);
		out_ms(o, "answered_ms", "Answered", cp->answered_ms, "-");
		if (cp->answered_ms != 0) {
			cli_time(when, cp->answered_ms);
			out_hex(o, "answer_envelope_id", "Answer", cp->answer_envelope_id.data,
				cp->answer_envelope_id.len);
			if (o->json) {
				out_text(o, "answer", NULL, cp->answer, strlen(cp->answer));
			}
		}
		out_cell(o, "answered", when);
		out_item_end(o);
	}
	out_table_end(o);
	if (o->json) {
		return;
	}
	for (size_t k = 0; k < i->n_copies; k++) {
		const Dx__RequestCopy *cp = i->copies[k];
		if (cp->answered_ms != 0) {
			char label[32];
			snprintf(label, sizeof(label), "Answer from %s", cp->state);
			out_block(o, "answer", label, cp->answer, strlen(cp->answer));
		}
	}
}

static void print_list(struct out *o, const char *key, const char *label, Dx__RequestInfo *const *v,
		       size_t n, int sent)
{
	out_list_begin(o, key, label);
	for (size_t k = 0; k < n; k++) {
		out_item_begin(o);
		print_info(o, v[k]);
		if (sent) {
			print_request_copies(o, v[k]);
		}
		out_item_end(o);
	}
	out_list_end(o);
}

static const char list_usage[] =
	"usage: divex request list [--case ID]\n"
	"\n"
	"The requests for information this State sent, with each State's state\n"
	"(awaiting, answered, or overdue past the respond-by date) and its\n"
	"answer, and the requests it received, with its own; of one case or of\n"
	"all.\n"
	"\n"
	"options:\n"
	"      --case ID             only the requests of this case\n" CLI_HELP_COMMON;

static int request_list(struct cli *c, const struct cli_verb *v, int argc, char **argv)
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
	Dx__RequestListOp op = DX__REQUEST_LIST_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.case_id = (char *)case_id;
	req.op_case = DX__CONTROL_REQUEST__OP_REQUEST_LIST;
	req.request_list = &op;
	status = cli_ctl_call(c, &req, &resp, "reading the requests");
	if (status == CLI_EXIT_OK) {
		const Dx__RequestListResult *r = resp->request_list;
		struct out o;
		out_init(&o, c);
		print_list(&o, "sent", "Requests sent", r->sent, r->n_sent, 1);
		print_list(&o, "received", "Requests received", r->received, r->n_received, 0);
		status = out_finish(&o, c);
	}
	cli_ctl_free(resp);
	return status;
}

static const struct cli_verb request_verbs[] = {
	{ "send", request_send, "ask States for information on a case", send_usage },
	{ "respond", request_respond, "answer a request this State received", respond_usage },
	{ "list", request_list, "requests sent and received, and their answers", list_usage },
};

int cmd_request(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "request", request_verbs,
			    sizeof(request_verbs) / sizeof(request_verbs[0]),
			    "Requests for information (Model ToR) and their responses "
			    "(docs/casework.md).\n",
			    argc, argv);
}
