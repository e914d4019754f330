/*
 * cmd_consent.c: `divex consent`: asking a provider State for its consent
 * to use or disclose an item it shared, and deciding such requests (rule 16
 * and the Model ToR's prior written consent; docs/casework.md).
 *
 * request, list: officer role. grant, refuse, revoke: point of contact, since
 * a decision binds the State; divexd signs it with the State's identity key
 * and checks that the request is about information this State sent. The
 * CLI only carries the officer's words; every check is the daemon's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casework.pb-c.h"
#include "cli.h"
#include "control.pb-c.h"

enum {
	OPT_PURPOSE = CLI_OPT_FIRST_VERB,
	OPT_BODY,
	OPT_REASON,
	OPT_CONDITIONS,
};

/* clang-format off */
static const char request_usage[] =
	"usage: divex consent request ITEM --purpose PURPOSE [--body NAME] --reason TEXT\n"
	"\n"
	"Asks the State that sent ITEM (a received message: a unique prefix of at\n"
	"least 6 hex digits of its id, see 'divex inbox') for its written consent,\n"
	"which it signs. PURPOSE is one of:\n"
	"  operational    export assessment or enforcement action (rule 16)\n"
	"  disclosure     disclosure to the court or administrative body --body NAME\n"
	"                 (Model ToR)\n"
	"  briefing       attribution to the provider in a briefing (rule 22)\n"
	"  dissemination  passing it on within national authorities (H2, H3)\n"
	"\n"
	"options:\n"
	"      --purpose PURPOSE     what the consent is for (required)\n"
	"      --body NAME           the court or body, for a disclosure\n"
	"      --reason TEXT         why this State needs it (required)\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int consent_request(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "purpose", required_argument, NULL, OPT_PURPOSE },
		{ "body", required_argument, NULL, OPT_BODY },
		{ "reason", required_argument, NULL, OPT_REASON },
		{ NULL, 0, NULL, 0 },
	};
	const char *purpose = NULL, *body = "", *reason = NULL;
	Dx__ControlResponse *resp = NULL;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_PURPOSE) {
			purpose = optarg;
		} else if (opt == OPT_BODY) {
			body = optarg;
		} else if (opt == OPT_REASON) {
			reason = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give the ITEM id");
	}
	if (purpose == NULL || reason == NULL) {
		return cli_usage(c, "--purpose and --reason are required");
	}
	Dx__ConsentRequestOp op = DX__CONSENT_REQUEST_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.item = argv[optind];
	op.purpose = (char *)purpose;
	op.body = (char *)body;
	op.reason = (char *)reason;
	req.op_case = DX__CONTROL_REQUEST__OP_CONSENT_REQUEST;
	req.consent_request = &op;
	status = cli_ctl_call(c, &req, &resp, "asking for consent on %s", argv[optind]);
	if (status == CLI_EXIT_OK) {
		const Dx__ConsentRequestResult *r = resp->consent_request;
		struct out o;
		out_init(&o, c);
		out_hex(&o, "message_id", "Request", r->message_id.data, r->message_id.len);
		out_text(&o, "provider", "Provider", r->provider, strlen(r->provider));
		out_str(&o, "purpose", "Purpose", r->purpose);
		out_note(&o, "\nQueued. The provider's decision arrives signed; see 'divex consent "
			     "list'.");
		status = out_finish(&o, c);
	}
	cli_ctl_free(resp);
	return status;
}

/* ---- grant, refuse, revoke ---- */

static int decide(struct cli *c, const struct cli_verb *v, int argc, char **argv, int outcome)
{
	static const struct option grant_opts[] = {
		CLI_LONGOPTS_COMMON,
		{ "conditions", required_argument, NULL, OPT_CONDITIONS },
		{ NULL, 0, NULL, 0 },
	};
	static const struct option plain_opts[] = {
		CLI_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 },
	};
	const char *conditions = "";
	Dx__ControlResponse *resp = NULL;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h",
				  outcome == DX__CONSENT_OUTCOME__GRANTED ? grant_opts : plain_opts,
				  NULL)) != -1) {
		if (opt == OPT_CONDITIONS) {
			conditions = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give the REQUEST id");
	}
	if (outcome == DX__CONSENT_OUTCOME__GRANTED && conditions[0] != '\0') {
		outcome = DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS;
	}
	Dx__ConsentDecideOp op = DX__CONSENT_DECIDE_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.request = argv[optind];
	op.outcome = (uint32_t)outcome;
	op.conditions = (char *)conditions;
	req.op_case = DX__CONTROL_REQUEST__OP_CONSENT_DECIDE;
	req.consent_decide = &op;
	status = cli_ctl_call(c, &req, &resp, "deciding the consent request %s", argv[optind]);
	if (status == CLI_EXIT_OK) {
		const Dx__ConsentDecideResult *r = resp->consent_decide;
		struct out o;
		out_init(&o, c);
		out_hex(&o, "message_id", "Decision", r->message_id.data, r->message_id.len);
		out_text(&o, "requester", "To", r->requester, strlen(r->requester));
		out_str(&o, "outcome", "Outcome", r->outcome);
		if (conditions[0] != '\0') {
			out_text(&o, "conditions", "Conditions", conditions, strlen(conditions));
		}
		out_ms(&o, "decided_ms", "Decided", r->decided_ms, NULL);
		out_json_hex(&o, "decision", r->decision.data, r->decision.len);
		out_note(&o,
			 "\nSigned with this State's identity key and queued to the requester.");
		status = out_finish(&o, c);
	}
	cli_ctl_free(resp);
	return status;
}

/* clang-format off */
static const char grant_usage[] =
	"usage: divex consent grant REQUEST [--conditions TEXT]\n"
	"\n"
	"Grants a received consent request (a unique prefix of its id, see 'divex\n"
	"consent list'). divexd signs the decision with this State's identity key,\n"
	"so it binds the State: it needs the point-of-contact role, and the request\n"
	"must be about items this State sent to the requester.\n"
	"\n"
	"options:\n"
	"      --conditions TEXT     grant under these conditions\n"
	CLI_HELP_COMMON;
static const char refuse_usage[] =
	"usage: divex consent refuse REQUEST\n"
	"\n"
	"Refuses a received consent request, in a signed decision (point of contact).\n"
	"\n"
	"options:\n" CLI_HELP_COMMON;
static const char revoke_usage[] =
	"usage: divex consent revoke REQUEST\n"
	"\n"
	"Revokes the consent given on a request: a newer signed decision that cancels\n"
	"every earlier grant (point of contact).\n"
	"\n"
	"options:\n" CLI_HELP_COMMON;
/* clang-format on */

static int consent_grant(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	return decide(c, v, argc, argv, DX__CONSENT_OUTCOME__GRANTED);
}

static int consent_refuse(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	return decide(c, v, argc, argv, DX__CONSENT_OUTCOME__REFUSED);
}

static int consent_revoke(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	return decide(c, v, argc, argv, DX__CONSENT_OUTCOME__REVOKED);
}

/* ---- list ---- */

static void print_requests(struct out *o, const Dx__ConsentListResult *r)
{
	static const struct out_col cols[] = {
		{ "direction", "DIR", 9 },
		{ "id", "ID", 14 },
		{ "peer", "STATE", 6 },
		{ "purpose", "PURPOSE", 22 },
		{ "state", "STATE OF REQUEST", 0 },
	};
	out_table_begin(o, "requests", "no consent requests", cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_requests; i++) {
		const Dx__ConsentRequestInfo *q = r->requests[i];
		out_item_begin(o);
		out_str(o, "direction", "direction", q->direction);
		out_hex(o, "id", "id", q->id.data, q->id.len);
		out_hex(o, "envelope_id", "envelope", q->envelope_id.data, q->envelope_id.len);
		out_text(o, "peer", "state", q->peer, strlen(q->peer));
		out_str(o, "purpose", "purpose", q->purpose);
		out_text(o, "body", "body", q->body, strlen(q->body));
		out_text(o, "reason", "reason", q->reason, strlen(q->reason));
		out_list_begin(o, "items", "items");
		for (size_t k = 0; k < q->n_item_envelope_ids; k++) {
			out_item_begin(o);
			out_hex(o, "envelope_id", "envelope", q->item_envelope_ids[k].data,
				q->item_envelope_ids[k].len);
			out_item_end(o);
		}
		out_list_end(o);
		out_ms(o, "created_ms", "created", q->created_ms, NULL);
		out_str(o, "state", "state", q->state);
		out_text(o, "conditions", "conditions", q->conditions, strlen(q->conditions));
		out_item_end(o);
	}
	out_table_end(o);
}

static void print_decisions(struct out *o, const Dx__ConsentListResult *r)
{
	static const struct out_col cols[] = {
		{ "direction", "DIR", 9 },    { "provider", "FROM", 5 },
		{ "recipient", "TO", 5 },     { "purpose", "PURPOSE", 22 },
		{ "outcome", "OUTCOME", 24 }, { "conditions", "CONDITIONS", 0 },
	};
	out_table_begin(o, "decisions", "no consent decisions", cols,
			sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_decisions; i++) {
		const Dx__ConsentDecisionInfo *d = r->decisions[i];
		out_item_begin(o);
		out_str(o, "direction", "direction", d->direction);
		out_text(o, "provider", "from", d->provider, strlen(d->provider));
		out_text(o, "recipient", "to", d->recipient, strlen(d->recipient));
		out_hex(o, "request_envelope_id", "request", d->request_envelope_id.data,
			d->request_envelope_id.len);
		out_str(o, "purpose", "purpose", d->purpose);
		out_text(o, "body", "body", d->body, strlen(d->body));
		out_str(o, "outcome", "outcome", d->outcome);
		out_text(o, "conditions", "conditions", d->conditions, strlen(d->conditions));
		out_ms(o, "decided_ms", "decided", d->decided_ms, NULL);
		out_u64(o, "n_items", "items", d->n_items);
		out_item_end(o);
	}
	out_table_end(o);
}

static const char list_usage[] =
	"usage: divex consent list\n"
	"\n"
	"The consent requests this State sent and received, with their state\n"
	"(pending, or the outcome of the newest decision), then every signed\n"
	"decision, each verified again against its signer's pinned key.\n"
	"\n"
	"options:\n" CLI_HELP_COMMON;

static int consent_list(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
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
	Dx__ConsentListOp op = DX__CONSENT_LIST_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	req.op_case = DX__CONTROL_REQUEST__OP_CONSENT_LIST;
	req.consent_list = &op;
	if ((status = cli_ctl_call(c, &req, &resp, "listing consent")) == CLI_EXIT_OK) {
		struct out o;
		out_init(&o, c);
		print_requests(&o, resp->consent_list);
		out_note(&o, "%s", "");
		print_decisions(&o, resp->consent_list);
		status = out_finish(&o, c);
	}
	cli_ctl_free(resp);
	return status;
}

static const struct cli_verb consent_verbs[] = {
	{ "request", consent_request, "ask the provider of an item for its consent",
	  request_usage },
	{ "grant", consent_grant, "grant a consent request (signed; point of contact)",
	  grant_usage },
	{ "refuse", consent_refuse, "refuse a consent request (signed; point of contact)",
	  refuse_usage },
	{ "revoke", consent_revoke, "revoke consent given (signed; point of contact)",
	  revoke_usage },
	{ "list", consent_list, "consent requests and decisions, sent and received", list_usage },
};

int cmd_consent(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "consent", consent_verbs,
			    sizeof(consent_verbs) / sizeof(consent_verbs[0]),
			    "Consent to use or disclose shared information (rule 16, Model ToR;\n"
			    "docs/casework.md).\n",
			    argc, argv);
}
