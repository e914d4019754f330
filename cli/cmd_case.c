/*
 * cmd_case.c: `divex case`: the cases this State keeps on its node
 * (docs/casework.md). new files a case note written as a JSON case file
 * (--file) or in $EDITOR from a commented template; list, show, search and
 * close work on the node's cases; share sends a case note to other States
 * with the provider's marking; import files a case note this State received.
 *
 * The CLI parses and checks the case file (case_json.c) and hands the daemon
 * a serialized dx.CaseNote; the daemon keeps it sealed at rest. Whatever is
 * shown of a case comes back from the daemon and is printed by the same code
 * that prints a received case note.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "case_json.h"
#include "cli.h"
#include "compose.h"
#include "control.pb-c.h"

enum {
	OPT_ALL = CLI_OPT_FIRST_VERB,
	OPT_CLOSED,
	OPT_TO,
	OPT_AS,
};


static void print_summary(struct out *o, const Dx__CaseSummary *s)
{
	out_text(o, "case_id", "Case", s->case_id, strlen(s->case_id));
	out_text(o, "title", "Title", s->title, strlen(s->title));
	out_bool(o, "open", "Open", s->open);
	out_ms(o, "created_ms", "Created", s->created_ms, NULL);
	out_ms(o, "updated_ms", "Updated", s->updated_ms, NULL);
}

/* Prints a CaseResult: its summary, and its note when it carries one. */
static int print_case(struct cli *c, const Dx__CaseResult *r, const char *done)
{
	struct out o;
	out_init(&o, c);
	if (r->summary != NULL) {
		print_summary(&o, r->summary);
	}
	if (r->note.len > 0) {
		out_note(&o, "%s", "");
		cli_print_case_note(&o, "note", r->note.data, r->note.len);
	}
	if (done != NULL) {
		out_note(&o, "%s", done);
	}
	return out_finish(&o, c);
}

/* ---- new ---- */

/* Runs $VISUAL or $EDITOR (else vi) on path, as git does: through sh. */
static int run_editor(struct cli *c, const char *path)
{
	const char *ed = getenv("VISUAL");
	if (ed == NULL || ed[0] == '\0') {
		ed = getenv("EDITOR");
	}
	if (ed == NULL || ed[0] == '\0') {
		ed = "vi";
	}
	char cmd[4096];
	if ((size_t)snprintf(cmd, sizeof(cmd), "%s \"$@\"", ed) >= sizeof(cmd)) {
		return cli_usage(c, "$EDITOR is too long");
	}
	pid_t pid = fork();
	if (pid < 0) {
		return cli_error(c, dx_from_errno(errno), "starting the editor");
	}
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, ed, path, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR) {
			return cli_error(c, dx_from_errno(errno), "waiting for the editor");
		}
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		return cli_fail(c, CLI_EXIT_FAILED, "DX_EIO",
				"the editor '%s' failed; nothing was filed (the text is in %s)", ed,
				path);
	}
	return CLI_EXIT_OK;
}

/* Writes the template to a new private file and lets the officer edit it. */
static int edit_case(struct cli *c, char *path, size_t size, uint8_t **text, size_t *len)
{
	const char *tmp = getenv("TMPDIR");
	if ((size_t)snprintf(path, size, "%s/divex-case-XXXXXX.json",
			     tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp") >= size) {
		return cli_usage(c, "$TMPDIR is too long");
	}
	int fd = mkstemps(path, 5); /* mode 0600 */
	if (fd < 0) {
		return cli_error(c, dx_from_errno(errno), "creating a file for the case note");
	}
	int rc = cli_write_all(fd, case_json_template, strlen(case_json_template));
	if (close(fd) != 0 && rc == DX_OK) {
		rc = dx_from_errno(errno);
	}
	if (rc != DX_OK) {
		unlink(path);
		return cli_error(c, rc, "writing %s", path);
	}
	int status = run_editor(c, path);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	if ((rc = dx_read_file(path, CASE_JSON_MAX, text, len)) != DX_OK) {
		return cli_error(c, rc, "reading the case note back from %s (at most %d KiB)", path,
				 CASE_JSON_MAX / 1024);
	}
	return CLI_EXIT_OK;
}

/* clang-format off */
static const char new_usage[] =
	"usage: divex case new [--file CASE.json]\n"
	"\n"
	"Files a new case on this State's node. The case note is a JSON case file\n"
	"(docs/casework.md: every field of the Annex 1 template and the rule 18-19\n"
	"information). Without --file, a commented template opens in $VISUAL or\n"
	"$EDITOR (else vi); lines starting with '#' are ignored and an empty file\n"
	"aborts. The case id must not be taken yet.\n"
	"\n"
	"options:\n"
	"      --file FILE           the case file (at most 256 KiB)\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int case_new(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "file", required_argument, NULL, CLI_OPT_FILE },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	char edited[4096] = "", err[512];
	uint8_t *text = NULL, *note = NULL;
	size_t len = 0, note_len = 0;
	Dx__ControlResponse *resp = NULL;
	int opt, status = CLI_CONTINUE, rc;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == CLI_OPT_FILE) {
			file = optarg;
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
	if (file != NULL && (rc = dx_read_file(file, CASE_JSON_MAX, &text, &len)) != DX_OK) {
		return cli_error(c, rc, "reading the case file %s (at most %d KiB)", file,
				 CASE_JSON_MAX / 1024);
	}
	if (file == NULL &&
	    (status = edit_case(c, edited, sizeof(edited), &text, &len)) != CLI_EXIT_OK) {
		return status;
	}
	const char *source = file != NULL ? file : edited;
	rc = case_json_parse((const char *)text, len, &note, &note_len, err, sizeof(err));
	if (rc == DX_ENOENT && file == NULL) {
		unlink(edited);
		status = cli_fail(c, CLI_EXIT_FAILED, "DX_ENOENT",
				  "the case note is empty: nothing was filed");
		goto out;
	}
	if (rc != DX_OK) {
		if (file != NULL) {
			status = cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL", "%s: %s", source, err);
		} else {
			status = cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL",
					  "%s (your text is kept in %s: fix it, then run 'divex "
					  "case new --file %s')",
					  err, source, source);
		}
		goto out;
	}
	Dx__CaseNewOp op = DX__CASE_NEW_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.note = (ProtobufCBinaryData){ note_len, note };
	req.op_case = DX__CONTROL_REQUEST__OP_CASE_NEW;
	req.case_new = &op;
	status = cli_ctl_call(c, &req, &resp, "filing the case");
	if (status == CLI_EXIT_OK) {
		if (file == NULL) {
			unlink(edited);
		}
		status =
			print_case(c, resp->case_new, "\nFiled. Share it with 'divex case share'.");
	}
out:
	cli_ctl_free(resp);
	if (note != NULL) {
		sodium_memzero(note, note_len);
		free(note);
	}
	if (text != NULL) {
		sodium_memzero(text, len);
		free(text);
	}
	return status;
}

/* ---- list, search ---- */

static int print_list(struct cli *c, const Dx__CaseListResult *r, const char *empty)
{
	static const struct out_col cols[] = {
		{ "case_id", "CASE", 20 },
		{ "state", "STATE", 6 },
		{ "updated", "UPDATED", 20 },
		{ "title", "TITLE", 0 },
	};
	struct out o;
	out_init(&o, c);
	out_table_begin(&o, "cases", empty, cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_cases; i++) {
		const Dx__CaseSummary *s = r->cases[i];
		char when[CLI_TIME_LEN];
		out_item_begin(&o);
		print_summary(&o, s);
		out_cell(&o, "state", s->open ? "open" : "closed");
		cli_time(when, s->updated_ms);
		out_cell(&o, "updated", when);
		out_item_end(&o);
	}
	out_table_end(&o);
	return out_finish(&o, c);
}

static const char list_usage[] = "usage: divex case list [--all | --closed]\n"
				 "\n"
				 "Lists this node's open cases, oldest first (--closed: the closed "
				 "ones;\n--all: both).\n"
				 "\n"
				 "options:\n"
				 "      --all                 open and closed cases\n"
				 "      --closed              closed cases only\n" CLI_HELP_COMMON;

static int case_list(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "all", no_argument, NULL, OPT_ALL },
		{ "closed", no_argument, NULL, OPT_CLOSED },
		{ NULL, 0, NULL, 0 },
	};
	const char *which = "open";
	Dx__ControlResponse *resp = NULL;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_ALL || opt == OPT_CLOSED) {
			if (strcmp(which, "open") != 0) {
				return cli_usage(c, "give --all or --closed, not both");
			}
			which = opt == OPT_ALL ? "all" : "closed";
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
	Dx__CaseListOp op = DX__CASE_LIST_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.which = (char *)which;
	req.op_case = DX__CONTROL_REQUEST__OP_CASE_LIST;
	req.case_list = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "listing the cases")) == CLI_EXIT_OK) {
		status = print_list(c, resp->case_list, "no cases");
	}
	cli_ctl_free(resp);
	return status;
}

/* The one positional argument of show, search, close and import. */
static int one_arg(struct cli *c, const struct cli_verb *v, int argc, char **argv,
		   const struct option *longopts, const char *what, const char **arg,
		   const char **as)
{
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_AS && as != NULL) {
			*as = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give %s", what);
	}
	*arg = argv[optind];
	return CLI_CONTINUE;
}

static const struct option plain_opts[] = {
	CLI_LONGOPTS_COMMON,
	{ NULL, 0, NULL, 0 },
};

static const char search_usage[] =
	"usage: divex case search TEXT\n"
	"\n"
	"Lists the cases, open or closed, whose id, title or any field "
	"of the\ncase note contains TEXT, ignoring case (ASCII letters).\n"
	"\n"
	"options:\n" CLI_HELP_COMMON;

static int case_search(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	const char *text = NULL;
	Dx__ControlResponse *resp = NULL;
	int status = one_arg(c, v, argc, argv, plain_opts, "the TEXT to search for", &text, NULL);
	if (status != CLI_CONTINUE) {
		return status;
	}
	Dx__CaseSearchOp op = DX__CASE_SEARCH_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.text = (char *)text;
	req.op_case = DX__CONTROL_REQUEST__OP_CASE_SEARCH;
	req.case_search = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "searching the cases")) == CLI_EXIT_OK) {
		status = print_list(c, resp->case_search, "no case matches");
	}
	cli_ctl_free(resp);
	return status;
}

/* ---- show, close ---- */

static const char show_usage[] = "usage: divex case show ID\n"
				 "\n"
				 "Shows one case and every field of its case note.\n"
				 "\n"
				 "options:\n" CLI_HELP_COMMON;

static int case_show(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	const char *id = NULL;
	Dx__ControlResponse *resp = NULL;
	int status = one_arg(c, v, argc, argv, plain_opts, "the case ID", &id, NULL);
	if (status != CLI_CONTINUE) {
		return status;
	}
	Dx__CaseShowOp op = DX__CASE_SHOW_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.case_id = (char *)id;
	req.op_case = DX__CONTROL_REQUEST__OP_CASE_SHOW;
	req.case_show = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "reading the case %s", id)) == CLI_EXIT_OK) {
		status = print_case(c, resp->case_show, NULL);
	}
	cli_ctl_free(resp);
	return status;
}

static const char close_usage[] = "usage: divex case close ID\n"
				  "\n"
				  "Marks a case closed; it stays on the node (see 'divex case list "
				  "--closed').\n"
				  "\n"
				  "options:\n" CLI_HELP_COMMON;

static int case_close(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	const char *id = NULL;
	Dx__ControlResponse *resp = NULL;
	int status = one_arg(c, v, argc, argv, plain_opts, "the case ID", &id, NULL);
	if (status != CLI_CONTINUE) {
		return status;
	}
	Dx__CaseCloseOp op = DX__CASE_CLOSE_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.case_id = (char *)id;
	req.op_case = DX__CONTROL_REQUEST__OP_CASE_CLOSE;
	req.case_close = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "closing the case %s", id)) == CLI_EXIT_OK) {
		status = print_case(c, resp->case_close, NULL);
	}
	cli_ctl_free(resp);
	return status;
}

/* ---- share ---- */

struct share_opts {
	struct cli_compose m; /* only the marking options are accepted */
	struct cli_recipients to;
};

static void print_shared(struct out *o, const Dx__SendResult *r, const char *id)
{
	static const struct out_col cols[] = {
		{ "recipient", "TO", DX_STATE_LEN },
		{ "message_id", "MESSAGE", 0 },
	};
	out_text(o, "case_id", "Case", id, strlen(id));
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

/* clang-format off */
static const char share_usage[] =
	"usage: divex case share ID --to STATE[,STATE...] [marking options]\n"
	"\n"
	"Sends the case note of case ID to other States: one sealed copy per\n"
	"recipient (\"copy 2 of 3, for MEX\"), with the case id, the title as the\n"
	"subject, and the marking below, which the recipient always sees first.\n"
	"\n"
	"options:\n"
	"      --to STATES           recipients: State codes separated by commas;\n"
	"                            repeatable, up to 64\n"
	"      --handling H          H0 use only for the stated purpose (default);\n"
	"                            H1 not in judicial proceedings without permission;\n"
	"                            H2 no further dissemination without permission;\n"
	"                            H3 other restrictions (give --restrictions)\n"
	"      --restrictions TEXT   the restrictions, for H3\n"
	"      --evaluation XN       source A/B/C/X and information 1-4, e.g. B2\n"
	"      --releasability TEXT  who may see it (default: competent national\n"
	"                            authorities of the recipient State only)\n"
	"      --classification TEXT e.g. RESTRICTED\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int share_parse(struct cli *c, const struct cli_verb *v, int argc, char **argv,
		       struct share_opts *s, const char **id)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "to", required_argument, NULL, OPT_TO },
		{ "handling", required_argument, NULL, CLI_OPT_HANDLING },
		{ "restrictions", required_argument, NULL, CLI_OPT_RESTRICTIONS },
		{ "evaluation", required_argument, NULL, CLI_OPT_EVALUATION },
		{ "releasability", required_argument, NULL, CLI_OPT_RELEASABILITY },
		{ "classification", required_argument, NULL, CLI_OPT_CLASSIFICATION },
		{ NULL, 0, NULL, 0 },
	};
	int opt, status = CLI_CONTINUE;
	cli_compose_init(&s->m);
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		status = opt == OPT_TO ? cli_parse_recipients(c, &s->to, optarg)
				       : cli_compose_opt(c, v, &s->m, opt, argv);
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give the case ID");
	}
	if (s->to.n == 0) {
		return cli_usage(c, "--to STATE is required");
	}
	if (s->m.handling == DX__HANDLING_CODE__H3_OTHER_RESTRICTIONS &&
	    (s->m.restrictions == NULL || s->m.restrictions[0] == '\0')) {
		return cli_usage(c, "--handling H3 needs --restrictions TEXT spelling them out");
	}
	*id = argv[optind];
	return CLI_CONTINUE;
}

static int case_share(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	struct share_opts *s = calloc(1, sizeof(*s));
	const char *id = NULL;
	Dx__ControlResponse *resp = NULL;
	if (s == NULL) {
		return cli_error(c, DX_ENOMEM, "starting");
	}
	int status = share_parse(c, v, argc, argv, s, &id);
	if (status != CLI_CONTINUE) {
		free(s);
		return status;
	}
	Dx__Marking mk;
	Dx__CaseShareOp op = DX__CASE_SHARE_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	cli_compose_marking(&s->m, &mk);
	op.case_id = (char *)id;
	op.n_to = s->to.n;
	op.to = s->to.ptrs;
	op.marking = &mk;
	req.op_case = DX__CONTROL_REQUEST__OP_CASE_SHARE;
	req.case_share = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "sharing the case %s", id)) == CLI_EXIT_OK) {
		struct out o;
		out_init(&o, c);
		print_shared(&o, resp->case_share, id);
		status = out_finish(&o, c);
	}
	cli_ctl_free(resp);
	free(s);
	return status;
}

/* ---- import ---- */

static const char import_usage[] =
	"usage: divex case import ID [--as CASE]\n"
	"\n"
	"Files the case note carried by the received message ID (a unique prefix\n"
	"of at least 6 hex digits, see 'divex inbox') as a case on this node,\n"
	"under the case id it carries, or under CASE with --as.\n"
	"\n"
	"options:\n"
	"      --as CASE             the local case id to file it under\n" CLI_HELP_COMMON;

static int case_import(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "as", required_argument, NULL, OPT_AS },
		{ NULL, 0, NULL, 0 },
	};
	const char *id = NULL, *as = "";
	Dx__ControlResponse *resp = NULL;
	int status = one_arg(c, v, argc, argv, longopts, "the message ID", &id, &as);
	if (status != CLI_CONTINUE) {
		return status;
	}
	Dx__CaseImportOp op = DX__CASE_IMPORT_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.id = (char *)id;
	op.as_case_id = (char *)as;
	req.op_case = DX__CONTROL_REQUEST__OP_CASE_IMPORT;
	req.case_import = &op;
	status = cli_ctl_call(c, &req, &resp, "importing the case note in %s", id);
	if (status == CLI_EXIT_OK) {
		status = print_case(c, resp->case_import, "\nFiled as a case on this node.");
	}
	cli_ctl_free(resp);
	return status;
}

static const struct cli_verb case_verbs[] = {
	{ "new", case_new, "file a new case from a case file or $EDITOR", new_usage },
	{ "list", case_list, "list the cases (open; --closed, --all)", list_usage },
	{ "show", case_show, "show a case and its case note", show_usage },
	{ "search", case_search, "find cases by any text in them", search_usage },
	{ "close", case_close, "mark a case closed", close_usage },
	{ "share", case_share, "send a case note to other States, marked", share_usage },
	{ "import", case_import, "file a received case note as a case", import_usage },
};

int cmd_case(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "case", case_verbs, sizeof(case_verbs) / sizeof(case_verbs[0]),
			    "Cases kept on this State's node (docs/casework.md).\n", argc, argv);
}
