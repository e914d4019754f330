/*
 * main.c: the divex command: global options, then a table of commands. A
 * command is either a group that dispatches to its verbs (`divex keys show`)
 * or a single verb (`divex send`), run through its cli_verb record so that
 * both parse their options and answer --help the same way (cmd_*.c). Exit
 * statuses are listed in cli.h and docs/cli.md.
 */
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "harden.h"
#include "util.h"

#ifndef DIVEX_VERSION
#define DIVEX_VERSION "unknown"
#endif

struct cli_group {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv); /* a group of verbs */
	const struct cli_verb *verb;			 /* or a single verb */
	const char *summary;
	int node; /* talks to this State's daemon */
};

static int cmd_version(struct cli *c, int argc, char **argv);
static int cmd_help(struct cli *c, int argc, char **argv);

static const struct cli_group groups[] = {
	{ "init", NULL, &cli_cmd_init, "set up this State's node: keys, enrollment, divexd.conf",
	  1 },
	{ "status", NULL, &cli_cmd_status, "the node: relay link, queues, alarms, gaps", 1 },
	{ "send", NULL, &cli_cmd_send, "send a message (and attachments) to other States", 1 },
	{ "inbox", NULL, &cli_cmd_inbox, "list received messages, newest first", 1 },
	{ "read", NULL, &cli_cmd_read, "show one message; save its attachments", 1 },
	{ "reply", NULL, &cli_cmd_reply, "answer a received message", 1 },
	{ "outbox", NULL, &cli_cmd_outbox, "list sent messages and their delivery", 1 },
	{ "receipts", NULL, &cli_cmd_receipts, "the relay's receipts for one message", 1 },
	{ "roster", NULL, &cli_cmd_roster, "the States, their keys and verification", 1 },
	{ "contacts", NULL, &cli_cmd_contacts, "the States' published contact points", 1 },
	{ "case", cmd_case, NULL, "file, list, search, close and share cases", 1 },
	{ "concern", cmd_concern, NULL, "raise and explain suspected disclosures (rule 15)", 1 },
	{ "consent", cmd_consent, NULL, "ask for, grant, refuse and revoke consent (rule 16)",
	  1 },
	{ "export", NULL, &cli_cmd_export, "an item for a national authority, with consent", 1 },
	{ "notice", cmd_notice, NULL, "rule 12 notices to implicated States, and replies", 1 },
	{ "request", cmd_request, NULL, "requests for information to States, and answers", 1 },
	{ "due", NULL, &cli_cmd_due, "what is due, and when: replies awaited and owed", 1 },
	{ "audit", cmd_audit, NULL, "check the relay's audit log against this node", 1 },
	{ "admin", cmd_admin, NULL, "rotate the prekey, reload the daemon (administrator)", 1 },
	{ "keys", cmd_keys, NULL, "create, show, rotate and verify keys", 0 },
	{ "entry", cmd_entry, NULL, "verify another State's roster entry file", 0 },
	{ "envelope", cmd_envelope, NULL, "seal, open and inspect envelopes (offline)", 0 },
	{ "relay", cmd_relay, NULL, "the Secretariat relay's health summary", 0 },
	{ "version", cmd_version, NULL, "print the version", 0 },
	{ "help", cmd_help, NULL, "show this help, or a command's help", 0 },
};
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

static void list_groups(FILE *f, int node)
{
	for (size_t i = 0; i < N_GROUPS; i++) {
		if (groups[i].node == node) {
			fprintf(f, "  %-10s %s\n", groups[i].name, groups[i].summary);
		}
	}
}

static void usage(FILE *f)
{
	fputs("usage: divex [--home DIR] [--json] <command> [<verb>] [options]\n"
	      "\n"
	      "divex carries sealed, signed case information between the national\n"
	      "contact points of ATT States.\n"
	      "\n"
	      "commands that talk to this State's daemon, divexd (init works offline):\n",
	      f);
	list_groups(f, 1);
	fputs("\noffline commands:\n", f);
	list_groups(f, 0);
	fputs("\n"
	      "global options (also accepted after the command):\n" CLI_HELP_COMMON "\n"
	      "Run 'divex <command> --help' for its options or verbs. Exit statuses:\n"
	      "0 success, 1 failed (or divexd not running), 2 usage, 3 refused\n"
	      "(verification, or no role for this), 4 not set up or not found,\n"
	      "5 passphrase or key file permissions. See docs/cli.md.\n",
	      f);
}

static int run_group(struct cli *c, const struct cli_group *g, int argc, char **argv)
{
	c->cmd = g->name;
	if (g->verb != NULL) {
		return g->verb->fn(c, g->verb, argc, argv);
	}
	return g->fn(c, argc, argv);
}

static int cmd_version(struct cli *c, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	if (c->json) {
		json_t *j = json_pack("{s:s, s:s}", "version", DIVEX_VERSION, "libsodium",
				      sodium_version_string());
		if (j == NULL) {
			return cli_error(c, DX_ENOMEM, "building the JSON output");
		}
		json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
		putchar('\n');
		json_decref(j);
	} else {
		printf("divex %s (libsodium %s)\n", DIVEX_VERSION, sodium_version_string());
	}
	return CLI_EXIT_OK;
}

static const struct cli_group *find_group(const char *name)
{
	for (size_t i = 0; i < N_GROUPS; i++) {
		if (strcmp(groups[i].name, name) == 0) {
			return &groups[i];
		}
	}
	return NULL;
}

static int cmd_help(struct cli *c, int argc, char **argv)
{
	if (argc < 2) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	const struct cli_group *g = find_group(argv[1]);
	if (g == NULL || g->fn == cmd_help || g->fn == cmd_version) {
		if (g != NULL) {
			usage(stdout);
			return CLI_EXIT_OK;
		}
		return cli_usage(c, "no command named '%s'", argv[1]);
	}
	char *sub[] = { argv[1], "--help", NULL };
	return run_group(c, g, 2, sub);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c = {
		.home = NULL, .json = 0, .cmd = NULL, .pass_file = NULL, .pass_fd = -1, .ctl = NULL
	};
	/*
	 * A crash must not leave key material in a core file, and another
	 * process of the same user must not read it through ptrace or /proc.
	 * Not HARDEN_DAEMON: `divex case new` runs the user's editor, which
	 * may need privileges of its own.
	 */
	if (harden_process(0) != DX_OK) {
		return cli_error(&c, DX_EIO, "disabling core dumps");
	}
	dx_malloc_for_messages(); /* attachments go through in 512 KiB pieces */

	if (sodium_init() < 0) {
		return cli_error(&c, DX_ECRYPTO, "starting");
	}
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			return cmd_version(&c, 0, NULL);
		default: {
			/* --home and --json; anything else is a usage error. */
			static const struct cli_verb top = { "divex", NULL, "", "" };
			int status = cli_opt_common(&c, &top, opt, argv);
			if (status != CLI_CONTINUE) {
				return status;
			}
			break;
		}
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	const struct cli_group *g = find_group(argv[optind]);
	if (g == NULL) {
		return cli_usage(&c, "unknown command '%s'", argv[optind]);
	}
	int status = run_group(&c, g, argc - optind, argv + optind);
	cli_ctl_close(&c);
	return status;
}
