/*
 * compose.h: the message an officer writes, shared by `envelope seal` (offline)
 * and `send` / `reply` (through the daemon): the options that describe it
 * (text, subject, case, the provider's marking, attachments), reading its
 * text, the attachment references, and the dx.Payload built from all that.
 *
 * Attachment keys live in sodium_malloc memory owned by struct
 * cli_attachments and are wiped by cli_attachments_free(); a serialized
 * payload holds them too, and whoever builds one wipes it before freeing.
 * Single-threaded, like the rest of the CLI.
 */
#ifndef DIVEX_CLI_COMPOSE_H
#define DIVEX_CLI_COMPOSE_H

#include "attach.h"
#include "cli.h"
#include "envelope.h"
#include "wire.pb-c.h"

struct cli_compose {
	const char *text_path;
	const char *subject;
	const char *case_id;
	const char *restrictions;
	const char *releasability;
	const char *classification;
	char source_eval[2];
	uint32_t info_eval;
	int handling;
	int marking_given; /* any of the marking options was on the command line */
	const char *attach[ENVELOPE_MAX_ATTACHMENTS];
	size_t n_attach;
};

/* clang-format off */
#define CLI_LONGOPTS_COMPOSE \
	{ "file", required_argument, NULL, CLI_OPT_FILE }, \
	{ "subject", required_argument, NULL, CLI_OPT_SUBJECT }, \
	{ "case", required_argument, NULL, CLI_OPT_CASE }, \
	{ "handling", required_argument, NULL, CLI_OPT_HANDLING }, \
	{ "restrictions", required_argument, NULL, CLI_OPT_RESTRICTIONS }, \
	{ "evaluation", required_argument, NULL, CLI_OPT_EVALUATION }, \
	{ "releasability", required_argument, NULL, CLI_OPT_RELEASABILITY }, \
	{ "classification", required_argument, NULL, CLI_OPT_CLASSIFICATION }, \
	{ "attach", required_argument, NULL, CLI_OPT_ATTACH }
#define CLI_HELP_COMPOSE_TEXT \
	"      --file MSG            the message text; '-' reads standard input, as does\n" \
	"                            a lone '-' argument\n" \
	"      --subject TEXT        subject line\n" \
	"      --case ID             the case this message belongs to\n"
#define CLI_HELP_COMPOSE_MARKING \
	"      --handling H          H0 use only for the stated purpose (default);\n" \
	"                            H1 not in judicial proceedings without permission;\n" \
	"                            H2 no further dissemination without permission;\n" \
	"                            H3 other restrictions (give --restrictions)\n" \
	"      --restrictions TEXT   the restrictions, for H3\n" \
	"      --evaluation XN       source A/B/C/X and information 1-4, e.g. B2\n" \
	"      --releasability TEXT  who may see it (default: competent national\n" \
	"                            authorities of the recipient State only)\n" \
	"      --classification TEXT e.g. RESTRICTED\n" \
	"      --attach FILE         attach a file (repeatable, up to 64)\n"
/* clang-format on */

void cli_compose_init(struct cli_compose *m);
/* Handles one of the options above, or hands opt to cli_opt_common(). */
int cli_compose_opt(struct cli *c, const struct cli_verb *v, struct cli_compose *m, int opt,
		    char **argv);
/*
 * Checks the message once every option is in: args (n of them) are the
 * positional arguments left, where only a lone "-" (the text on standard
 * input) is allowed; a message needs text or an attachment; H3 needs its
 * restrictions. Returns CLI_CONTINUE when all is well.
 */
int cli_compose_check(struct cli *c, struct cli_compose *m, int n, char **args);
/* Reads the message text from a file or standard input ("-"), capped. */
int cli_compose_text(struct cli *c, const char *path, char **out, size_t *out_len);

/* The marking the options describe (defaults for those not given); mk points
 * into m and lives as long as it. */
void cli_compose_marking(const struct cli_compose *m, Dx__Marking *mk);

/* The attachments of one message, in the order given. */
struct cli_attachments {
	size_t n;
	struct attach_meta *meta; /* sodium_malloc'd, ENVELOPE_MAX_ATTACHMENTS: the keys */
	uint8_t ids[ENVELOPE_MAX_ATTACHMENTS][ATTACH_ID_LEN]; /* in the envelope header too */
	Dx__AttachmentRef refs[ENVELOPE_MAX_ATTACHMENTS];
	Dx__AttachmentRef *ref_ptrs[ENVELOPE_MAX_ATTACHMENTS];
	char names[ENVELOPE_MAX_ATTACHMENTS][CLI_MAX_ATTACHMENT_NAME + 1];
};
int cli_attachments_new(struct cli *c, struct cli_attachments **out);
/* Records meta[n], just filled from the file at path, as the next reference. */
void cli_attachments_add(struct cli_attachments *sa, const char *path);
void cli_attachments_free(struct cli_attachments *sa);
/*
 * cmd_send.c: encrypts the files m->attach names and streams them to the
 * daemon with put_attachment, adding each to sa. Returns an exit status
 * (failures reported).
 */
int cli_upload_attachments(struct cli *c, const struct cli_compose *m, struct cli_attachments *sa);

/* The States a message goes to: --to MEX,BFA (and --to again), distinct. */
#define CLI_MAX_RECIPIENTS 64
struct cli_recipients {
	char to[CLI_MAX_RECIPIENTS][DX_STATE_LEN + 1];
	char *ptrs[CLI_MAX_RECIPIENTS]; /* to[i], for the request's repeated field */
	size_t n;
};
/* Adds the codes of one --to argument; CLI_CONTINUE, or the exit status. */
int cli_parse_recipients(struct cli *c, struct cli_recipients *r, const char *arg);
/* Adds one code known to be valid (a reply's sender). */
void cli_recipients_add(struct cli_recipients *r, const char *code);

/* What the payload carries beside the composed message itself. */
struct cli_payload_frame {
	const char *copy_for;	    /* "copy 1 of 1 for X", or NULL to leave it to the daemon */
	const Dx__Marking *marking; /* NULL: the marking from the options */
	const uint8_t *in_reply_to; /* ENVELOPE_ID_LEN bytes, or NULL */
	const char *case_id;	    /* NULL: --case */
	const char *subject;	    /* NULL: --subject */
};
/* Serializes the dx.Payload (type 1: a message), at most ENVELOPE_BODY_MAX. */
int cli_compose_payload(struct cli *c, const struct cli_compose *m,
			const struct cli_payload_frame *f, const char *text,
			const struct cli_attachments *sa, uint8_t **out, size_t *out_len);

#endif
