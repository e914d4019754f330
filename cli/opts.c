/*
 * opts.c: dispatching a group to its verb, and the option handling every
 * verb shares (home, --json, --help, passphrase sources, getopt's errors).
 * getopt keeps global state, so each verb resets it with cli_opt_begin().
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void print_group_help(FILE *f, const char *group, const struct cli_verb *verbs, size_t n,
			     const char *group_help)
{
	fprintf(f, "usage: divex %s <verb> [options]\n\n%s\nverbs:\n", group, group_help);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "  %-16s %s\n", verbs[i].name, verbs[i].summary);
	}
	fprintf(f, "\nRun 'divex %s <verb> --help' for the options of a verb.\n", group);
}

int cli_dispatch(struct cli *c, const char *group, const struct cli_verb *verbs, size_t n,
		 const char *group_help, int argc, char **argv)
{
	static char cmd[64];

	if (argc < 2) {
		print_group_help(stderr, group, verbs, n, group_help);
		return CLI_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
		print_group_help(stdout, group, verbs, n, group_help);
		return CLI_EXIT_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(verbs[i].name, name) == 0) {
			snprintf(cmd, sizeof(cmd), "%s %s", group, verbs[i].name);
			c->cmd = cmd;
			return verbs[i].fn(c, &verbs[i], argc - 1, argv + 1);
		}
	}
	c->cmd = group;
	return cli_usage(c, "unknown verb '%s'", name);
}

void cli_opt_begin(void)
{
	/* 0, not 1: glibc then reinitialises its permutation state too. */
	optind = 0;
	opterr = 0;
}

static const char *bad_option(char **argv)
{
	static char shortopt[3];
	if (optopt > 0 && optopt < 0x100) {
		shortopt[0] = '-';
		shortopt[1] = (char)optopt;
		shortopt[2] = '\0';
		return shortopt;
	}
	return optind > 0 ? argv[optind - 1] : "?";
}

int cli_opt_common(struct cli *c, const struct cli_verb *v, int opt, char **argv)
{
	uint64_t fd;

	switch (opt) {
	case CLI_OPT_HOME:
		if (optarg[0] == '\0') {
			return cli_usage(c, "--home needs a directory");
		}
		c->home = optarg;
		return CLI_CONTINUE;
	case CLI_OPT_JSON:
		c->json = 1;
		return CLI_CONTINUE;
	case CLI_OPT_PASS_FILE:
		c->pass_file = optarg;
		return CLI_CONTINUE;
	case CLI_OPT_PASS_FD:
		if (cli_parse_u64(optarg, 0, INT_MAX, &fd) != 0) {
			return cli_usage(c,
					 "--passphrase-fd needs a file descriptor number, not '%s'",
					 optarg);
		}
		c->pass_fd = (int)fd;
		return CLI_CONTINUE;
	case 'h':
		fputs(v->usage, stdout);
		return CLI_EXIT_OK;
	case ':':
		return cli_usage(c, "option '%s' needs a value", bad_option(argv));
	case '?':
		return cli_usage(c, "unknown or ambiguous option '%s'", bad_option(argv));
	default:
		return cli_usage(c, "unexpected option");
	}
}

int cli_opt_parse_common(struct cli *c, const struct cli_verb *v, int argc, char **argv,
			 const struct option *longopts)
{
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		status = cli_opt_common(c, v, opt, argv);
	}
	return status;
}

int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	if (s == NULL || s[0] < '0' || s[0] > '9') {
		return DX_EINVAL;
	}
	errno = 0;
	char *end = NULL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
		return DX_EINVAL;
	}
	*out = (uint64_t)v;
	return DX_OK;
}

const char *cli_home(struct cli *c)
{
	if (c->home == NULL) {
		const char *env = getenv("DIVEX_HOME");
		c->home = (env != NULL && env[0] != '\0') ? env : CLI_DEFAULT_HOME;
	}
	return c->home;
}

int cli_path(struct cli *c, char *buf, size_t size, const char *dir, const char *name)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size) {
		return cli_error(c, DX_EINVAL, "path too long: %s/%s", dir, name);
	}
	return CLI_EXIT_OK;
}
