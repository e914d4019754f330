/*
 * cmd_node.c: the node itself, through its daemon: `divex status`, `divex
 * roster`, `divex keys verify` (how a person confirms another State's key, or
 * accepts a change of it, after comparing fingerprints out of band) and
 * `divex audit check`.
 *
 * What the daemon reports about the relay and other States is shown as it
 * is; what came from another State (names) is escaped. Alarms and pending key
 * changes are also repeated on standard error in text mode, because they need
 * a person to act.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.pb-c.h"

int cli_ctl_query(struct cli *c, const struct cli_verb *v, int argc, char **argv, int op_case,
		  ProtobufCMessage *op, const char *what, cli_print_fn print)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 },
	};
	int status = cli_opt_parse_common(c, v, argc, argv, longopts);
	if (status == CLI_CONTINUE && optind < argc) {
		status = cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__ControlResponse *resp = NULL;
	req.op_case = (Dx__ControlRequest__OpCase)op_case;
	req.status = (Dx__StatusOp *)op;
	if ((status = cli_ctl_call(c, &req, &resp, "%s", what)) != CLI_EXIT_OK) {
		return status;
	}
	struct out o;
	out_init(&o, c);
	int verdict = print(c, &o, resp);
	status = out_finish(&o, c);
	cli_ctl_free(resp);
	return status != CLI_EXIT_OK ? status : verdict;
}

static void print_alarms(struct cli *c, struct out *o, Dx__Alarm *const *alarms, size_t n)
{
	out_list_begin(o, "alarms", "Alarms");
	for (size_t i = 0; i < n; i++) {
		const Dx__Alarm *a = alarms[i];
		out_item_begin(o);
		out_text(o, "kind", "kind", a->kind, strlen(a->kind));
		out_ms(o, "seen_ms", "seen", a->seen_ms, NULL);
		out_text(o, "source", "source", a->source, strlen(a->source));
		out_json_hex(o, "held", a->held.data, a->held.len);
		out_json_hex(o, "offered", a->offered.data, a->offered.len);
		out_item_end(o);
	}
	out_list_end(o);
	if (n > 0 && !c->json) {
		fprintf(stderr,
			"warning: %zu ALARM%s: the relay's audit log contradicts what this node "
			"held; keep the evidence ('divex status --json') and tell the "
			"Secretariat and the other States\n",
			n, n == 1 ? "" : "S");
	}
}

static int print_status(struct cli *c, struct out *o, const Dx__ControlResponse *resp)
{
	const Dx__StatusResult *s = resp->status;
	out_text(o, "state", "State", s->state, strlen(s->state));
	out_text(o, "version", "divexd version", s->version, strlen(s->version));
	out_ms(o, "started_ms", "Running since", s->started_ms, "unknown");
	out_text(o, "role", "Your role", resp->role, strlen(resp->role));
	out_text(o, "relay_url", "Relay", s->relay_url, strlen(s->relay_url));
	out_ms(o, "relay_last_ok_ms", "Relay last answered", s->relay_last_ok_ms, "never");
	if (o->json || s->relay_last_error != 0) {
		out_err(o, "relay_last_error", "Relay last error", s->relay_last_error);
	}
	out_u64(o, "checkpoint_size", "Audit log size", s->checkpoint_size);
	out_json_hex(o, "checkpoint", s->checkpoint.data, s->checkpoint.len);
	out_u64(o, "outbox_queued", "Outbox queued", s->outbox_queued);
	out_u64(o, "outbox_sealed", "Outbox sealed", s->outbox_sealed);
	out_u64(o, "outbox_receipted", "Outbox receipted", s->outbox_receipted);
	out_u64(o, "outbox_failed", "Outbox failed", s->outbox_failed);
	out_u64(o, "inbox_total", "Inbox messages", s->inbox_total);
	out_u64(o, "inbox_unacked", "Inbox unacknowledged", s->inbox_unacked);
	out_hex(o, "prekey_id", "Current prekey", s->prekey_id.data, s->prekey_id.len);
	out_ms(o, "prekey_valid_until_ms", "Prekey valid until", s->prekey_valid_until_ms, "none");
	print_alarms(c, o, s->alarms, s->n_alarms);
	cli_print_gaps(o, s->gaps, s->n_gaps);
	out_list_begin(o, "pending_key_changes", "Pending key changes");
	for (size_t i = 0; i < s->n_pending_key_changes; i++) {
		const char *st = s->pending_key_changes[i];
		out_text(o, NULL, "", st, strlen(st));
	}
	out_list_end(o);
	if (s->n_pending_key_changes > 0) {
		out_note(o, "\nA State's key changed: see 'divex roster', compare the new "
			    "fingerprint with that\nState out of band, then run 'divex keys "
			    "verify STATE FINGERPRINT'.");
	}
	if (s->relay_last_error != 0) {
		out_note(o, "\nThe relay link's last error, %s: %s.",
			 dx_errname(s->relay_last_error), dx_strerror(s->relay_last_error));
	}
	return CLI_EXIT_OK;
}

/* clang-format off */
static const char status_usage[] =
	"usage: divex status [options]\n"
	"\n"
	"Shows this State's node as its daemon sees it: the relay link (last\n"
	"answer, last error), the audit log size the node holds, the outbox and\n"
	"inbox counts, the current prekey, and what needs a person: checkpoint\n"
	"alarms, messages that have not arrived (sequence gaps) and key changes\n"
	"waiting for verification. Also shows the role your user has.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int cmd_status(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	Dx__StatusOp op = DX__STATUS_OP__INIT;
	return cli_ctl_query(c, v, argc, argv, DX__CONTROL_REQUEST__OP_STATUS, &op.base,
		     "asking divexd for its status", print_status);
}

const struct cli_verb cli_cmd_status = { "status", cmd_status, "the node's state", status_usage };

static void print_pending(struct out *o, const Dx__RosterMember *m)
{
	char state[4 * DX_STATE_LEN + 1], fp[4 * KEYS_FP_STR_LEN], since[CLI_TIME_LEN];
	dx_escape(state, sizeof(state), m->state, strlen(m->state));
	dx_escape(fp, sizeof(fp), m->pending_fingerprint, strlen(m->pending_fingerprint));
	cli_time(since, m->pending_ms);
	out_note(o,
		 "\n%s's key changed (seen %s); the new key's fingerprint is\n  %s\n"
		 "Messages to and from %s wait. Compare the fingerprint with %s out of band\n"
		 "and, only if it matches, run: divex keys verify %s '%s'",
		 state, since, fp, state, state, state, fp);
}

/* clang-format off */
static const char roster_usage[] =
	"usage: divex roster [options]\n"
	"\n"
	"Lists every State in this node's copy of the relay's roster: its status\n"
	"(party, signatory, suspended), the fingerprint of the key pinned for it,\n"
	"whether a person verified that fingerprint out of band ('divex keys\n"
	"verify'), and its name. A key change waiting for verification is shown\n"
	"after the table with what to do.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int print_roster(struct cli *c, struct out *o, const Dx__ControlResponse *resp)
{
	static const struct out_col cols[] = {
		{ "state", "STATE", 5 },
		{ "status", "STATUS", 9 },
		{ "verified", "VERIFIED", 8 },
		{ "fingerprint", "FINGERPRINT", KEYS_FP_STR_LEN - 1 },
		{ "name", "NAME", 0 },
	};
	(void)c;
	const Dx__RosterResult *r = resp->roster;
	out_table_begin(o, "entries", "The roster is empty: has divexd reached the relay yet?",
			cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_entries; i++) {
		const Dx__RosterMember *m = r->entries[i];
		out_item_begin(o);
		out_text(o, "state", "state", m->state, strlen(m->state));
		out_text(o, "name", "name", m->name, strlen(m->name));
		out_text(o, "status", "status", m->status, strlen(m->status));
		out_text(o, "fingerprint", "fingerprint", m->fingerprint, strlen(m->fingerprint));
		out_cell(o, "verified", m->self ? "(this)" : m->verified_ms != 0 ? "yes" : "no");
		out_u64(o, "log_index", "log entry", m->log_index);
		out_ms(o, "pinned_ms", "pinned", m->pinned_ms, NULL);
		out_ms(o, "verified_ms", "verified", m->verified_ms, "not verified");
		out_text(o, "pending_fingerprint", "pending fingerprint", m->pending_fingerprint,
			 strlen(m->pending_fingerprint));
		out_ms(o, "pending_ms", "pending since", m->pending_ms, "");
		out_bool(o, "self", "this State", m->self);
		out_item_end(o);
	}
	out_table_end(o);
	for (size_t i = 0; i < r->n_entries; i++) {
		if (r->entries[i]->pending_fingerprint[0] != '\0') {
			print_pending(o, r->entries[i]);
		}
	}
	return CLI_EXIT_OK;
}

static int cmd_roster(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	Dx__RosterListOp op = DX__ROSTER_LIST_OP__INIT;
	return cli_ctl_query(c, v, argc, argv, DX__CONTROL_REQUEST__OP_ROSTER, &op.base,
		     "reading the roster", print_roster);
}

const struct cli_verb cli_cmd_roster = { "roster", cmd_roster, "the States and their keys",
					 roster_usage };

/* Joins the fingerprint's words (it may be typed with or without quotes)
 * and checks that it is 30 digits, spaces aside. */
static int join_fingerprint(struct cli *c, int n, char **words, char *out, size_t size)
{
	size_t len = 0, digits = 0;
	for (int i = 0; i < n; i++) {
		for (const char *p = words[i]; *p != '\0'; p++) {
			if (*p != ' ' && !isdigit((unsigned char)*p)) {
				return cli_usage(c,
						 "a fingerprint is 30 digits (spaces allowed), "
						 "not '%s'",
						 words[i]);
			}
			digits += *p != ' ';
		}
		int w = snprintf(out + len, size - len, "%s%s", i > 0 ? " " : "", words[i]);
		if (w < 0 || (size_t)w >= size - len) {
			return cli_usage(c, "the fingerprint is too long");
		}
		len += (size_t)w;
	}
	if (digits != KEYS_FP_DIGITS) {
		return cli_usage(c, "a fingerprint is %d digits, and %zu were given",
				 KEYS_FP_DIGITS, digits);
	}
	return CLI_CONTINUE;
}

/* clang-format off */
const char keys_verify_usage[] =
	"usage: divex keys verify STATE FINGERPRINT [options]\n"
	"\n"
	"Records that a person compared STATE's key fingerprint with that State out\n"
	"of band (in person, by diplomatic note). If FINGERPRINT matches the key\n"
	"pinned for STATE, the key is marked verified. If STATE's key changed and\n"
	"FINGERPRINT matches the new key, the change is accepted and messages to\n"
	"and from STATE flow again. A fingerprint that matches neither is refused\n"
	"(status 3). Needs the point_of_contact role on this node. The daemon must\n"
	"be running.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

int keys_verify(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 },
	};
	char fp[4 * KEYS_FP_STR_LEN];
	int status = cli_opt_parse_common(c, v, argc, argv, longopts);
	if (status == CLI_CONTINUE && argc - optind < 2) {
		status = cli_usage(c, "give the STATE and the FINGERPRINT you compared");
	}
	if (status == CLI_CONTINUE && !dx_state_valid(argv[optind])) {
		return cli_error(c, DX_ESTATE_CODE, "'%s'", argv[optind]);
	}
	if (status == CLI_CONTINUE) {
		status = join_fingerprint(c, argc - optind - 1, argv + optind + 1, fp, sizeof(fp));
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	const char *state = argv[optind];
	Dx__VerifyKeyOp op = DX__VERIFY_KEY_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__ControlResponse *resp = NULL;
	op.state = (char *)state;
	op.fingerprint = fp;
	req.op_case = DX__CONTROL_REQUEST__OP_VERIFY_KEY;
	req.verify_key = &op;
	status = cli_ctl_call(c, &req, &resp, "verifying the key of %s", state);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	const Dx__VerifyKeyResult *r = resp->verify_key;
	struct out o;
	out_init(&o, c);
	out_str(&o, "state", "State", state);
	out_text(&o, "action", "Action", r->action, strlen(r->action));
	out_text(&o, "fingerprint", "Fingerprint", r->fingerprint, strlen(r->fingerprint));
	if (strcmp(r->action, "accepted-change") == 0) {
		out_note(&o, "\n%s's new key is pinned; messages to and from %s flow again.", state,
			 state);
	} else {
		out_note(&o, "\nThe key pinned for %s is recorded as verified out of band.", state);
	}
	status = out_finish(&o, c);
	cli_ctl_free(resp);
	return status;
}

/* clang-format off */
static const char audit_check_usage[] =
	"usage: divex audit check [options]\n"
	"\n"
	"Has the daemon fetch the relay's latest signed checkpoint, prove it\n"
	"consistent with the one the node holds (the log only grew), and prove\n"
	"every receipt the node holds included in it. Exits with status 3 if any\n"
	"proof fails or an alarm is raised.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int print_audit(struct cli *c, struct out *o, const Dx__ControlResponse *resp)
{
	const Dx__AuditResult *r = resp->audit;
	out_u64(o, "tree_size", "Audit log size", r->tree_size);
	out_json_hex(o, "checkpoint", r->checkpoint.data, r->checkpoint.len);
	out_u64(o, "receipts_checked", "Receipts proved", r->receipts_checked);
	out_u64(o, "receipts_failed", "Receipts failed", r->receipts_failed);
	out_u64(o, "alarms", "Alarms", r->alarms);
	if (r->receipts_failed == 0 && r->alarms == 0) {
		out_note(o, "\nThe relay's log is consistent with what this node held, and "
			    "includes every receipt.");
		return CLI_EXIT_OK;
	}
	return cli_fail(c, CLI_EXIT_REFUSED, dx_errname(DX_EPROOF),
			"audit check failed: %u receipt(s) not proved in the relay's log, "
			"%u alarm(s); see 'divex status' and divexd's log",
			r->receipts_failed, r->alarms);
}

static int audit_check(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	Dx__AuditOp op = DX__AUDIT_OP__INIT;
	return cli_ctl_query(c, v, argc, argv, DX__CONTROL_REQUEST__OP_AUDIT, &op.base,
		     "checking the audit log", print_audit);
}

static const struct cli_verb audit_verbs[] = {
	{ "check", audit_check, "prove the relay's log consistent and every receipt in it",
	  audit_check_usage },
	{ "verify", audit_verify, "check an envelope's audit dossier offline",
	  audit_verify_usage },
	{ "dossier", audit_dossier, "write the audit dossier of a message this State sent",
	  audit_dossier_usage },
};

int cmd_audit(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "audit", audit_verbs, sizeof(audit_verbs) / sizeof(audit_verbs[0]),
			    "The relay's audit log, checked by this State's daemon, and audit\n"
			    "dossiers, checked offline.\n", argc, argv);
}
