/*
 * main.c: the divex command: global options, then a table of command groups,
 * each of which dispatches to its verbs (cmd_*.c). Exit statuses are listed
 * in cli.h and docs/cli.md.
 */
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"

#ifndef DIVEX_VERSION
#define DIVEX_VERSION "unknown"
#endif

struct cli_group {
	const char *name;
	int (*fn)(struct cli *c, int argc, char **argv);
	const char *summary;
};

static int cmd_version(struct cli *c, int argc, char **argv);
static int cmd_help(struct cli *c, int argc, char **argv);

static const struct cli_group groups[] = {
	{ "keys", cmd_keys, "create, show and rotate this State's keys" },
	{ "entry", cmd_entry, "verify another State's roster entry file" },
	{ "envelope", cmd_envelope, "seal, open and inspect envelopes (offline)" },
	{ "relay", cmd_relay, "the Secretariat relay's health summary" },
	{ "version", cmd_version, "print the version" },
	{ "help", cmd_help, "show this help, or a group's help" },
};
#define N_GROUPS (sizeof(groups) / sizeof(groups[0]))

static void usage(FILE *f)
{
	fputs("usage: divex [--home DIR] [--json] <command> <verb> [options]\n"
	      "\n"
	      "divex carries sealed, signed case information between the national\n"
	      "contact points of ATT States. These commands work offline.\n"
	      "\n"
	      "commands:\n",
	      f);
	for (size_t i = 0; i < N_GROUPS; i++) {
		fprintf(f, "  %-10s %s\n", groups[i].name, groups[i].summary);
	}
	fputs("\n"
	      "global options (also accepted after the verb):\n" CLI_HELP_COMMON "\n"
	      "Run 'divex <command> --help' for its verbs. Exit statuses: 0 success,\n"
	      "1 failed, 2 usage, 3 refused (verification), 4 not set up or not found,\n"
	      "5 passphrase or key file permissions. See docs/cli.md.\n",
	      f);
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
	return g->fn(c, 2, sub);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli c = { .home = NULL, .json = 0, .cmd = NULL, .pass_file = NULL, .pass_fd = -1 };
	/* A crash must not leave key material in a core file. */
	struct rlimit nocore = { 0, 0 };
	setrlimit(RLIMIT_CORE, &nocore);

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
	c.cmd = g->name;
	return g->fn(&c, argc - optind, argv + optind);
}
