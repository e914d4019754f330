/*
 * answer.c: what the casework commands share: a text given by option or
 * read from a file, the table of copies a queued message went out as, and
 * the verbs that answer a received message with a text (`divex notice
 * reply`, `divex request respond`): ID, then exactly one of --text or
 * --file, then the daemon's answer.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "compose.h"
#include "control.pb-c.h"

enum { OPT_ANSWER_TEXT = CLI_OPT_FIRST_VERB + 0x40 };

void cli_print_copies(struct out *o, Dx__SentCopy *const *copies, size_t n)
{
	static const struct out_col cols[] = {
		{ "recipient", "TO", DX_STATE_LEN },
		{ "message_id", "MESSAGE", 0 },
	};
	out_table_begin(o, "copies", NULL, cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < n; i++) {
		out_item_begin(o);
		out_text(o, "recipient", "to", copies[i]->recipient, strlen(copies[i]->recipient));
		out_hex(o, "message_id", "message", copies[i]->message_id.data,
			copies[i]->message_id.len);
		out_item_end(o);
	}
	out_table_end(o);
}

int cli_text_option(struct cli *c, const char *file, const char *value, const char *what,
		    char **out)
{
	size_t len = 0;
	if ((file != NULL) == (value != NULL)) {
		return cli_usage(c, "give the %s with exactly one of its two options", what);
	}
	if (file != NULL) {
		return cli_compose_text(c, file, out, &len) == CLI_EXIT_OK ? CLI_CONTINUE
									   : CLI_EXIT_FAILED;
	}
	if ((*out = strdup(value)) == NULL) {
		return cli_error(c, DX_ENOMEM, "starting");
	}
	return CLI_CONTINUE;
}

void cli_text_free(char *s)
{
	if (s != NULL) {
		sodium_memzero(s, strlen(s));
		free(s);
	}
}

int cli_answer(struct cli *c, const struct cli_verb *v, int argc, char **argv,
	       const struct cli_answer_spec *spec)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "file", required_argument, NULL, CLI_OPT_FILE },
		{ "text", required_argument, NULL, OPT_ANSWER_TEXT },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL, *value = NULL;
	char *text = NULL;
	Dx__ControlResponse *resp = NULL;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == CLI_OPT_FILE) {
			file = optarg;
		} else if (opt == OPT_ANSWER_TEXT) {
			value = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give the %s ID", spec->what_id);
	}
	const char *id = argv[optind];
	if ((status = cli_text_option(c, file, value, spec->what_text, &text)) != CLI_CONTINUE) {
		return status;
	}
	status = spec->call(c, id, text, &resp);
	if (status == CLI_EXIT_OK) {
		const Dx__SendResult *r = spec->result(resp);
		struct out o;
		out_init(&o, c);
		cli_print_copies(&o, r->copies, r->n_copies);
		out_note(&o, "\n%s", spec->queued);
		status = out_finish(&o, c);
	}
	cli_ctl_free(resp);
	cli_text_free(text);
	return status;
}
