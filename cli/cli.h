/*
 * cli.h: what the files of the divex command share: the invocation context,
 * the verb tables, option parsing, the exit-code contract and output.
 *
 * Every command is `divex <group> <verb> [options]`; each group is a table of
 * {name, fn, summary, usage} in its own cmd_*.c file. A verb function returns
 * the process exit status (CLI_EXIT_*) and has already reported any failure on
 * stderr by then; the same holds for every helper here that returns an exit
 * status. Output is plain text for people, or one JSON object with --json.
 * The CLI is single-threaded.
 */
#ifndef DIVEX_CLI_CLI_H
#define DIVEX_CLI_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>

#include "keyfile.h"
#include "keys.h"
#include "roster.h"

/* Exit statuses: the CLI's contract with scripts (docs/cli.md). */
enum cli_exit {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAILED = 1,   /* I/O or environment: the operation could not be done */
	CLI_EXIT_USAGE = 2,    /* the command line is wrong */
	CLI_EXIT_REFUSED = 3,  /* input failed verification: signature, decryption, replay... */
	CLI_EXIT_NOTSETUP = 4, /* no key file in the home, or a named file does not exist */
	CLI_EXIT_KEYFILE = 5,  /* wrong passphrase, or key/passphrase file permissions */
};
/* Returned by cli_opt_common() when parsing should go on. */
#define CLI_CONTINUE (-1)

#define CLI_DEFAULT_HOME "/var/lib/divex"
#define CLI_KEY_FILE "state.key"
#define CLI_ENROLLMENT_FILE "enrollment.dxe"
#define CLI_OPENED_IDS_FILE "opened-ids"

/* The invocation: global options, then what the running verb adds. */
struct cli {
	const char *home; /* NULL until resolved by cli_home() */
	int json;
	const char *cmd; /* "keys init", for messages */
	const char *pass_file;
	int pass_fd;
};

struct cli_verb;
typedef int (*cli_verb_fn)(struct cli *c, const struct cli_verb *v, int argc, char **argv);
struct cli_verb {
	const char *name;
	cli_verb_fn fn;
	const char *summary;
	const char *usage; /* full help text printed by --help */
};

/* Long option values shared by all verbs. */
enum {
	CLI_OPT_HOME = 0x100,
	CLI_OPT_JSON,
	CLI_OPT_PASS_FILE,
	CLI_OPT_PASS_FD,
	CLI_OPT_FIRST_VERB /* verbs number their own long-only options from here */
};
/* clang-format off */
#define CLI_LONGOPTS_COMMON \
	{ "home", required_argument, NULL, CLI_OPT_HOME }, \
	{ "json", no_argument, NULL, CLI_OPT_JSON }, \
	{ "help", no_argument, NULL, 'h' }
#define CLI_LONGOPTS_PASSPHRASE \
	{ "passphrase-file", required_argument, NULL, CLI_OPT_PASS_FILE }, \
	{ "passphrase-fd", required_argument, NULL, CLI_OPT_PASS_FD }
#define CLI_HELP_COMMON \
	"      --home DIR            State home (default $DIVEX_HOME, else " CLI_DEFAULT_HOME ")\n" \
	"      --json                print one JSON object instead of text\n" \
	"  -h, --help                show this help\n"
#define CLI_HELP_PASSPHRASE \
	"      --passphrase-file F   read the passphrase from F (first line; mode 0600)\n" \
	"      --passphrase-fd N     read it from file descriptor N\n" \
	"                            (else it is asked for on the terminal; never on argv)\n"
/* clang-format on */

/* opts.c: dispatching and option parsing. */
int cli_dispatch(struct cli *c, const char *group, const struct cli_verb *verbs, size_t n,
		 const char *group_help, int argc, char **argv);
/* Begins a verb's option parsing: resets getopt for argv. */
void cli_opt_begin(void);
/* Handles an option every verb knows, and getopt's error returns. */
int cli_opt_common(struct cli *c, const struct cli_verb *v, int opt, char **argv);
/* Reports a usage error for the running verb and returns CLI_EXIT_USAGE. */
int cli_usage(struct cli *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Parses a decimal integer in [min, max]; 0 or DX_EINVAL. */
int cli_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out) DX_MUST_CHECK;
/* The State home: --home, else $DIVEX_HOME, else CLI_DEFAULT_HOME. */
const char *cli_home(struct cli *c);
/* Joins dir and name into buf; returns CLI_EXIT_OK or an exit status. */
int cli_path(struct cli *c, char *buf, size_t size, const char *dir, const char *name);

/* output.c: exit codes, errors, and text or JSON output. */
int cli_exit_for(int dx_err);
/* "divex: <what>: <dx_strerror>" (or JSON); returns the mapped exit status. */
int cli_error(struct cli *c, int dx_err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* An error that no DX_E* code names: reported as name + message. */
int cli_fail(struct cli *c, int status, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Formats Unix milliseconds as ISO-8601 UTC ("2025-03-01T12:00:00Z"). */
#define CLI_TIME_LEN 32
void cli_time(char out[static CLI_TIME_LEN], uint64_t ms);
/* A progress callback for attach_*_fd(): a \r percentage on a terminal. */
struct cli_progress {
	int enabled;
	const char *label;
	int last;
};
void cli_progress_init(struct cli *c, struct cli_progress *p, const char *label);
void cli_progress_cb(void *ctx, uint64_t done, uint64_t total);
void cli_progress_done(struct cli_progress *p);

/*
 * Structured output: the same calls print aligned "label: value" lines in text
 * mode, or build one JSON object printed by out_finish() with --json. Text
 * values given to out_text() are untrusted and escaped; the others are ours.
 */
#define OUT_MAX_DEPTH 8
struct out {
	int json;
	int depth;
	void *stack[OUT_MAX_DEPTH]; /* json_t *, kept opaque here */
	char kind[OUT_MAX_DEPTH];   /* 'o' object, 'l' list, 'i' list item */
	int indent;
	int item_start;
	const char *pending; /* a list label not printed until its first item */
	int failed;
};
void out_init(struct out *o, struct cli *c);
void out_str(struct out *o, const char *key, const char *label, const char *value);
void out_text(struct out *o, const char *key, const char *label, const char *raw, size_t len);
void out_block(struct out *o, const char *key, const char *label, const char *raw, size_t len);
void out_u64(struct out *o, const char *key, const char *label, uint64_t v);
void out_bool(struct out *o, const char *key, const char *label, int v);
void out_hex(struct out *o, const char *key, const char *label, const uint8_t *b, size_t len);
void out_time(struct out *o, const char *key, const char *label, uint64_t ms);
void out_note(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void out_list_begin(struct out *o, const char *key, const char *label);
void out_list_end(struct out *o);
void out_item_begin(struct out *o);
void out_item_end(struct out *o);
void out_obj_begin(struct out *o, const char *key, const char *label);
void out_obj_end(struct out *o);
/* Prints the JSON object (if any) and frees it; returns an exit status. */
int out_finish(struct out *o, struct cli *c);
/* Frees without printing, on an error path. */
void out_discard(struct out *o);

/* home.c: the State's files. */
int cli_passphrase(struct cli *c, const char *prompt, int confirm, struct passphrase *out);
/* Loads <home>/state.key. With keep != NULL the passphrase is handed back
 * (the caller frees it), for commands that rewrite the key file. */
int cli_load_keys(struct cli *c, struct keys **out, struct passphrase *keep);
/* Reads and verifies a roster entry file; refusals exit with CLI_EXIT_REFUSED. */
int cli_load_entry(struct cli *c, const char *path, struct roster_entry **out);
/* Prints a State's own key facts (keys init, keys show, keys rotate-prekey). */
void cli_print_keys(struct out *o, const struct keys *k, uint64_t now_ms);

/* payload.c: the dx.Payload of a message: its marking, checks and display. */
struct Dx__Payload;
struct Dx__Marking;
struct envelope_info;
/* Parses "H0".."H3" into a dx.HandlingCode value. */
int cli_parse_handling(const char *s, int *out) DX_MUST_CHECK;
/* Parses an evaluation such as "B2" (source A/B/C/X, information 1..4). */
int cli_parse_evaluation(const char *s, char source[static 2], uint32_t *info) DX_MUST_CHECK;
/* Checks a decoded payload against the envelope header that carried it. */
int cli_check_payload(const struct Dx__Payload *pl, const struct envelope_info *info) DX_MUST_CHECK;
/* Prints the marking first, then the content, so that a marking never goes
 * unseen. saved[i], when not NULL, is where attachment i was written. */
void cli_print_payload(struct out *o, const struct Dx__Payload *pl, char *const *saved);

/* files.c: attachment stream files and the record of opened envelopes. */
#define CLI_MAX_ATTACHMENT_NAME 255
struct attach_meta;
/* Encrypts in_path into a new out_path (mode 0600, never overwriting). */
int cli_attach_encrypt(struct cli *c, const char *in_path, const char *out_path,
		       struct attach_meta *meta);
/* Decrypts stream_path into dir under a safe form of name, via a temporary
 * file renamed only once the whole stream authenticated. */
int cli_attach_decrypt(struct cli *c, const char *stream_path, const char *dir, const char *name,
		       size_t index, const struct attach_meta *meta, char *saved,
		       size_t saved_size);
/* <home>/opened-ids: 1 if id is listed, 0 if not, or a negative DX_E* code. */
int cli_opened_seen(const char *path, const uint8_t id[static 16]);
/* Appends id to <home>/opened-ids and makes it durable. */
int cli_opened_record(const char *path, const uint8_t id[static 16]) DX_MUST_CHECK;

/* Group entry points (cmd_*.c), called from main.c. */
int cmd_keys(struct cli *c, int argc, char **argv);
int cmd_entry(struct cli *c, int argc, char **argv);
int cmd_relay(struct cli *c, int argc, char **argv);
int cmd_envelope(struct cli *c, int argc, char **argv);
/* cmd_open.c: the verbs of `divex envelope` that read an envelope. */
int envelope_open(struct cli *c, const struct cli_verb *v, int argc, char **argv);
int envelope_inspect(struct cli *c, const struct cli_verb *v, int argc, char **argv);
extern const char envelope_open_usage[];
extern const char envelope_inspect_usage[];

#endif
