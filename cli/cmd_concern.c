/*
 * cmd_concern.c: `divex concern`, the unauthorized-disclosure procedure of
 * rule 15 (docs/casework.md). raise tells the State concerned that a message
 * this State sent is suspected to have been disclosed, optionally with the
 * message's audit dossier attached; explain answers a concern raised with
 * this State, with an explanation and remedial measures; list shows both
 * kinds and whether each has been explained.
 *
 * The dossier is asked of the daemon (`dossier`), checked here, written to a
 * private temporary directory and sent as an ordinary attachment through the
 * same code as `divex send --attach` (encrypted here, streamed to the
 * daemon, its key only inside the sealed payload); the temporary copy is
 * removed once it is handed over.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "compose.h"
#include "control.pb-c.h"
#include "dossier.h"

enum {
	OPT_ENVELOPE = CLI_OPT_FIRST_VERB,
	OPT_TO,
	OPT_DESCRIPTION,
	OPT_ATTACH_DOSSIER,
	OPT_EXPLANATION,
	OPT_REMEDIAL,
};

/* Writes the dossier of id into a new private directory; path gets the file. */
static int dossier_file(struct cli *c, const char *id, char *dir, size_t dir_size, char *path,
			size_t path_size)
{
	uint8_t *buf = NULL, envelope_id[16];
	size_t len = 0;
	char hex[33];
	int status = cli_fetch_dossier(c, id, &buf, &len, envelope_id);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	struct dossier_report *r = malloc(sizeof(*r));
	int rc = r == NULL ? DX_ENOMEM : dossier_verify(buf, len, NULL, r);
	free(r);
	if (rc != DX_OK) {
		free(buf);
		return cli_error(c, rc, "the dossier divexd built does not verify");
	}
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, dir_size, "%s/divex-dossier-XXXXXX",
		 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		free(buf);
		return cli_error(c, dx_from_errno(errno), "creating a temporary directory");
	}
	dx_hex(hex, envelope_id, sizeof(envelope_id));
	snprintf(path, path_size, "%s/dossier-%.12s.dxd", dir, hex);
	rc = dx_write_file_atomic(path, buf, len, 0600, 0);
	free(buf);
	if (rc != DX_OK) {
		rmdir(dir);
		return cli_error(c, rc, "writing the dossier to %s", path);
	}
	return CLI_EXIT_OK;
}

/* clang-format off */
static const char raise_usage[] =
	"usage: divex concern raise --envelope ID --description TEXT [options]\n"
	"\n"
	"Raises a suspected unauthorized disclosure (rule 15) of the message ID that\n"
	"this State sent, bilaterally with the State concerned (by default the\n"
	"message's recipient), which is to explain and state remedial measures.\n"
	"With --attach-dossier the message's audit dossier goes with it, as an\n"
	"encrypted attachment: the relay's proof of who fetched and acknowledged\n"
	"the message and when, which the other State can check with 'divex audit\n"
	"verify'.\n"
	"\n"
	"options:\n"
	"      --envelope ID         the message (6 to 32 hex digits of its id)\n"
	"      --to STATE            the State concerned (default: its recipient)\n"
	"      --description TEXT    what is suspected, when and how it came to light\n"
	"      --attach-dossier      attach the message's audit dossier\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int concern_raise(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "envelope", required_argument, NULL, OPT_ENVELOPE },
		{ "to", required_argument, NULL, OPT_TO },
		{ "description", required_argument, NULL, OPT_DESCRIPTION },
		{ "attach-dossier", no_argument, NULL, OPT_ATTACH_DOSSIER },
		{ NULL, 0, NULL, 0 },
	};
	const char *id = NULL, *to = "", *description = NULL;
	int attach = 0, opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_ENVELOPE) {
			id = optarg;
		} else if (opt == OPT_TO) {
			to = optarg;
		} else if (opt == OPT_DESCRIPTION) {
			description = optarg;
		} else if (opt == OPT_ATTACH_DOSSIER) {
			attach = 1;
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
	if (id == NULL || description == NULL) {
		return cli_usage(c, "--envelope ID and --description TEXT are required");
	}
	if (to[0] != '\0' && !dx_state_valid(to)) {
		return cli_usage(c, "--to takes a State code such as MEX");
	}

	struct cli_attachments *sa = NULL;
	Dx__ControlResponse *resp = NULL;
	char dir[4096], path[4200];
	dir[0] = '\0';
	if ((status = cli_attachments_new(c, &sa)) != CLI_EXIT_OK) {
		return status;
	}
	if (attach) {
		struct cli_compose m;
		cli_compose_init(&m);
		status = dossier_file(c, id, dir, sizeof(dir), path, sizeof(path));
		if (status == CLI_EXIT_OK) {
			m.attach[0] = path;
			m.n_attach = 1;
			status = cli_upload_attachments(c, &m, sa);
			unlink(path);
			rmdir(dir);
		}
		if (status != CLI_EXIT_OK) {
			goto out;
		}
	}
	Dx__ConcernRaiseOp op = DX__CONCERN_RAISE_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.envelope = (char *)id;
	op.to = (char *)to;
	op.description = (char *)description;
	op.attach_dossier = attach != 0;
	op.n_attachments = sa->n;
	op.attachments = sa->ref_ptrs;
	req.op_case = DX__CONTROL_REQUEST__OP_CONCERN_RAISE;
	req.concern_raise = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "raising the concern")) != CLI_EXIT_OK) {
		goto out;
	}
	const Dx__ConcernRaiseResult *r = resp->concern_raise;
	struct out o;
	out_init(&o, c);
	out_hex(&o, "concern_id", "Concern", r->concern_id.data, r->concern_id.len);
	out_hex(&o, "envelope_id", "About message", r->envelope_id.data, r->envelope_id.len);
	out_text(&o, "to", "Raised with", r->to, strlen(r->to));
	out_bool(&o, "dossier_attached", "Dossier attached", attach);
	out_note(&o, "\nQueued; follow the answer with 'divex concern list'.");
	status = out_finish(&o, c);
out:
	cli_ctl_free(resp);
	cli_attachments_free(sa);
	return status;
}

/* clang-format off */
static const char explain_usage[] =
	"usage: divex concern explain ID --explanation TEXT [--remedial-measures TEXT]\n"
	"\n"
	"Answers the concern ID raised with this State (a prefix of its id, as\n"
	"'divex concern list' shows it) with an explanation of the matter and the\n"
	"remedial measures taken, sent to the State that raised it (rule 15).\n"
	"\n"
	"options:\n"
	"      --explanation TEXT    what happened\n"
	"      --remedial-measures TEXT  what was done about it\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int concern_explain(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "explanation", required_argument, NULL, OPT_EXPLANATION },
		{ "remedial-measures", required_argument, NULL, OPT_REMEDIAL },
		{ NULL, 0, NULL, 0 },
	};
	const char *explanation = NULL, *remedial = "";
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_EXPLANATION) {
			explanation = optarg;
		} else if (opt == OPT_REMEDIAL) {
			remedial = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1 || explanation == NULL) {
		return cli_usage(c, "give the concern's ID and --explanation TEXT");
	}
	Dx__ConcernExplainOp op = DX__CONCERN_EXPLAIN_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__ControlResponse *resp = NULL;
	op.concern = argv[optind];
	op.explanation = (char *)explanation;
	op.remedial_measures = (char *)remedial;
	req.op_case = DX__CONTROL_REQUEST__OP_CONCERN_EXPLAIN;
	req.concern_explain = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "explaining the concern %s", argv[optind])) !=
	    CLI_EXIT_OK) {
		return status;
	}
	const Dx__ConcernExplainResult *r = resp->concern_explain;
	struct out o;
	out_init(&o, c);
	out_hex(&o, "message_id", "Explanation", r->message_id.data, r->message_id.len);
	out_text(&o, "to", "Sent to", r->to, strlen(r->to));
	status = out_finish(&o, c);
	cli_ctl_free(resp);
	return status;
}

/* clang-format off */
static const char list_usage[] =
	"usage: divex concern list\n"
	"\n"
	"The rule 15 concerns this State raised and those raised with it, with\n"
	"their state (raised or explained) and, once explained, the explanation and\n"
	"remedial measures.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int print_concerns(struct cli *c, struct out *o, const Dx__ControlResponse *resp)
{
	(void)c;
	const Dx__ConcernListResult *r = resp->concern_list;
	out_list_begin(o, "concerns", "Concerns");
	for (size_t i = 0; i < r->n_concerns; i++) {
		const Dx__ConcernInfo *k = r->concerns[i];
		out_item_begin(o);
		out_str(o, "direction", "Direction", k->direction);
		out_hex(o, "id", "Id", k->id.data, k->id.len);
		out_text(o, "peer", "State", k->peer, strlen(k->peer));
		out_hex(o, "envelope_id", "About message", k->envelope_id.data,
			k->envelope_id.len);
		out_str(o, "state", "State of the concern", k->state);
		out_ms(o, "raised_ms", "Raised", k->raised_ms, NULL);
		out_bool(o, "dossier_attached", "Dossier attached", k->dossier_attached);
		out_block(o, "description", "Description", k->description, strlen(k->description));
		out_ms(o, "explained_ms", "Explained", k->explained_ms, "-");
		if (k->explained_ms != 0) {
			out_block(o, "explanation", "Explanation", k->explanation,
				  strlen(k->explanation));
			out_block(o, "remedial_measures", "Remedial measures",
				  k->remedial_measures, strlen(k->remedial_measures));
		}
		out_item_end(o);
	}
	out_list_end(o);
	return CLI_EXIT_OK;
}

static int concern_list(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	Dx__ConcernListOp op = DX__CONCERN_LIST_OP__INIT;
	return cli_ctl_query(c, v, argc, argv, DX__CONTROL_REQUEST__OP_CONCERN_LIST, &op.base,
			     "listing the concerns", print_concerns);
}

static const struct cli_verb concern_verbs[] = {
	{ "raise", concern_raise, "raise a suspected disclosure of a message this State sent",
	  raise_usage },
	{ "explain", concern_explain, "answer a concern raised with this State", explain_usage },
	{ "list", concern_list, "the concerns raised and received, and their answers", list_usage },
};

int cmd_concern(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(
		c, "concern", concern_verbs, sizeof(concern_verbs) / sizeof(concern_verbs[0]),
		"The unauthorized-disclosure procedure of rule 15 (docs/casework.md).\n", argc,
		argv);
}
