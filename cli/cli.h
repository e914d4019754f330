/*
 * cli.h: what the files of the divex command share: the invocation context,
 * the verb tables, option parsing, the exit-code contract and output.
 *
 * Offline commands are `divex <group> <verb> [options]`; each group is a table
 * of {name, fn, summary, usage} in its own cmd_*.c file. The commands that talk
 * to this State's daemon, divexd, are mostly single verbs (`divex send`), run
 * through the same {name, fn, summary, usage} record. A verb function returns
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
	struct cli_ctl *ctl; /* the control connection, opened on first use (ctl.c) */
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
	/* Options that several verbs share: composing a message (compose.h)... */
	CLI_OPT_FILE,
	CLI_OPT_SUBJECT,
	CLI_OPT_CASE,
	CLI_OPT_HANDLING,
	CLI_OPT_RESTRICTIONS,
	CLI_OPT_RELEASABILITY,
	CLI_OPT_CLASSIFICATION,
	CLI_OPT_EVALUATION,
	CLI_OPT_ATTACH,
	/* ...and creating keys (keys init, init). */
	CLI_OPT_STATE,
	CLI_OPT_NAME,
	CLI_OPT_KDF,
	CLI_OPT_PERIOD,
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
/* Parses argv when every option in longopts is one cli_opt_common() knows:
 * CLI_CONTINUE with optind at the first argument, or an exit status. */
int cli_opt_parse_common(struct cli *c, const struct cli_verb *v, int argc, char **argv,
			 const struct option *longopts);
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
#define OUT_MAX_COLS 8
/* A column of a table: the key of the value shown in it, its heading, and
 * its width (values are cut to it); the last column takes what is left. */
struct out_col {
	const char *key;
	const char *heading;
	int width;
};
struct out {
	int json;
	int depth;
	void *stack[OUT_MAX_DEPTH]; /* json_t *, kept opaque here */
	char kind[OUT_MAX_DEPTH];   /* 'o' object, 'O' unlabelled object, 'l' list, 'i' item */
	int indent;
	int item_start;
	const char *pending; /* a list label not printed until its first item */
	int failed;
	/* A table being printed in text mode (out_table_begin). */
	const struct out_col *cols;
	size_t n_cols;
	int table_depth;
	size_t rows;
	const char *table_empty;
	char *cells[OUT_MAX_COLS];
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
/* With label NULL the object exists only in JSON: its values are printed in
 * text mode as if they were the parent's. */
void out_obj_begin(struct out *o, const char *key, const char *label);
void out_obj_end(struct out *o);
/* Unix milliseconds: a number in JSON, ISO-8601 in text (or if_zero for 0). */
void out_ms(struct out *o, const char *key, const char *label, uint64_t ms, const char *if_zero);
/* A DX_E* code: the number in JSON, its name in text ("" for 0). */
void out_err(struct out *o, const char *key, const char *label, int code);
/* Bytes shown only in JSON (a signed checkpoint, a receipt), as hex. */
void out_json_hex(struct out *o, const char *key, const uint8_t *b, size_t len);
/*
 * A list whose items print in text mode as one row each under a heading:
 * inside an item, a value whose key names a column fills that cell and every
 * other value is left out of the text (JSON keeps them all). out_cell() fills
 * a cell with text that JSON does not need. With no rows, text mode prints
 * the line `empty`.
 */
void out_table_begin(struct out *o, const char *key, const char *empty, const struct out_col *cols,
		     size_t n_cols);
void out_table_end(struct out *o);
void out_cell(struct out *o, const char *key, const char *value);
/* Prints the JSON object (if any) and frees it; returns an exit status. */
int out_finish(struct out *o, struct cli *c);
/* Frees without printing, on an error path. */
void out_discard(struct out *o);

/*
 * ctl.c: the control socket of this State's daemon (docs/control.md): one
 * REQ socket dialled to ipc://<home>/control.sock on first use, one request
 * at a time, each answered or timed out (60 s, or $DIVEX_CTL_TIMEOUT_MS).
 */
#define CLI_CONTROL_SOCKET "control.sock"
#define CLI_CTL_VERSION 1
/* The largest reply (and request): an attachment piece or a message with room
 * for the control protocol's own fields. */
#define CLI_CTL_MSG_MAX (1024 * 1024 + 64 * 1024)
/* Attachment streams travel in pieces of this size. */
#define CLI_CTL_PIECE_MAX (512 * 1024)
struct cli_ctl;
struct Dx__ControlRequest;
struct Dx__ControlResponse;
/*
 * Sends req (its version is set here) and waits for the answer. On success
 * *out holds a response carrying the result that matches the request; free it
 * with cli_ctl_free(). Any failure, the daemon's refusals included, has been
 * reported as "<what>: <the daemon's words>: <advice>" and its exit status is
 * returned.
 */
int cli_ctl_call(struct cli *c, struct Dx__ControlRequest *req, struct Dx__ControlResponse **out,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Frees a response, wiping the message payload it may carry. */
void cli_ctl_free(struct Dx__ControlResponse *resp);
struct ProtobufCMessage;
/* Prints a result; returns the exit status once the output is written. */
typedef int (*cli_print_fn)(struct cli *c, struct out *o,
			    const struct Dx__ControlResponse *resp);
/*
 * Runs a command that takes only the common options and no argument: sends
 * the operation (op is its message; the request's oneof holds a pointer,
 * whichever member it is) and prints the result with print (cmd_node.c).
 */
int cli_ctl_query(struct cli *c, const struct cli_verb *v, int argc, char **argv,
		  int op_case, struct ProtobufCMessage *op, const char *what, cli_print_fn print);
/* Closes the connection, if any. */
void cli_ctl_close(struct cli *c);

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
/* Checks what a payload carries by itself: each attachment reference is
 * complete (id, key, hash, consistent sizes), and in_reply_to is an id. */
int cli_check_payload_refs(const struct Dx__Payload *pl) DX_MUST_CHECK;
/* Decodes a serialized dx.Payload strictly and checks its references. */
int cli_payload_decode(const uint8_t *buf, size_t len, struct Dx__Payload **out) DX_MUST_CHECK;
/* Frees a decoded payload, wiping the attachment keys it holds. */
void cli_payload_free(struct Dx__Payload *pl);
struct Dx__AttachmentRef;
struct attach_meta;
/* What opening attachment r needs, from a checked reference (the key too:
 * m belongs in sodium_malloc memory). */
void cli_ref_meta(const struct Dx__AttachmentRef *r, struct attach_meta *m);
/* Prints the marking first, then the content, so that a marking never goes
 * unseen. saved[i], when not NULL, is where attachment i was written. */
void cli_print_payload(struct out *o, const struct Dx__Payload *pl, char *const *saved);
/* answer.c: what the casework commands share. */
struct Dx__SentCopy;
struct Dx__SendResult;
/* The table of the copies a queued message went out as (TO, MESSAGE). */
void cli_print_copies(struct out *o, struct Dx__SentCopy *const *copies, size_t n);
/* A text given by one of two options: its file (read once) or its value; malloc'd. */
int cli_text_option(struct cli *c, const char *file, const char *value, const char *what,
		    char **out);
/* Wipes and frees such a text. */
void cli_text_free(char *s);
/* A verb that answers a received message: ID, then --text TEXT or --file FILE. */
struct cli_answer_spec {
	const char *what_id;   /* "notice": in "give the notice ID" */
	const char *what_text; /* "response (--file or --text)" */
	const char *queued;    /* the note printed after the copies */
	/* Sends the answer; returns an exit status, *resp set on CLI_EXIT_OK. */
	int (*call)(struct cli *c, const char *id, char *text, struct Dx__ControlResponse **resp);
	const struct Dx__SendResult *(*result)(const struct Dx__ControlResponse *resp);
};
int cli_answer(struct cli *c, const struct cli_verb *v, int argc, char **argv,
	       const struct cli_answer_spec *spec);

/* payload_casework.c: the name of a Payload type ("notice"), NULL if unknown,
 * and the content of types 3 to 10, decoded strictly and shown escaped. */
const char *cli_payload_type_name(uint32_t type);
void cli_print_casework(struct out *o, uint32_t type, const uint8_t *content, size_t len);

/* files.c: attachment stream files and the record of opened envelopes. */
#define CLI_MAX_ATTACHMENT_NAME 255
struct attach_meta;
/* Writes all of buf to fd, retrying on EINTR and short writes. */
int cli_write_all(int fd, const void *buf, size_t len) DX_MUST_CHECK;
/*
 * Writes the plaintext of one attachment to fd as it authenticates. It
 * reports its own failures (naming the attachment by index and safe_name)
 * and returns an exit status.
 */
typedef int (*cli_decrypt_fn)(struct cli *c, void *ctx, int fd, size_t index, const char *safe_name,
			      struct cli_progress *prog);
/*
 * Saves attachment `index` (from 1) into dir under a safe form of name: fn
 * writes it to a temporary file there, which is linked to its final name
 * (name.1, name.2, ... if that is taken) only once fn succeeded, and removed
 * otherwise. The final path goes into saved.
 */
int cli_attach_save(struct cli *c, const char *dir, const char *name, size_t index,
		    cli_decrypt_fn fn, void *ctx, char *saved, size_t saved_size);
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

/*
 * cmd_keys.c: creating a State's keys, shared by `keys init` and `init`.
 * cli_keys_opt() handles --state, --name, --kdf and --period-days (and hands
 * anything else to cli_opt_common()); cli_keys_check() requires a valid
 * --state.
 */
struct cli_keys_opts {
	const char *state;
	const char *name;
	struct keyfile_kdf kdf;
	uint64_t period_ms;
};
struct cli_key_paths {
	char key[4096];
	char enrollment[4096];
};
/* clang-format off */
#define CLI_LONGOPTS_KEYS \
	{ "state", required_argument, NULL, CLI_OPT_STATE }, \
	{ "name", required_argument, NULL, CLI_OPT_NAME }, \
	{ "kdf", required_argument, NULL, CLI_OPT_KDF }, \
	{ "period-days", required_argument, NULL, CLI_OPT_PERIOD }
#define CLI_HELP_KEYS \
	"      --state CODE          ISO 3166-1 alpha-3 code of this State, e.g. FRA\n" \
	"      --name NAME           display name in the roster (default: the code)\n" \
	"      --kdf PROFILE         Argon2id cost: interactive, moderate (default),\n" \
	"                            sensitive; production keys use moderate or more\n" \
	"      --period-days N       validity of each prekey in days (default 7)\n"
/* clang-format on */
void cli_keys_opts_init(struct cli_keys_opts *ko);
int cli_keys_opt(struct cli *c, const struct cli_verb *v, struct cli_keys_opts *ko, int opt,
		 char **argv);
int cli_keys_check(struct cli *c, const struct cli_keys_opts *ko);
int cli_key_paths(struct cli *c, struct cli_key_paths *p);
/* Refuses an existing key file, creates the home (0700), asks for a new
 * passphrase, and writes the key file and the enrollment file. */
int cli_keys_create(struct cli *c, const struct cli_keys_opts *ko, const struct cli_key_paths *p,
		    struct keys **out, uint64_t *now_ms);
/* The "files" object; config and relay_cert may be NULL. */
void cli_print_files(struct out *o, const struct cli_key_paths *p, const char *config,
		     const char *relay_cert);

/* Group entry points (cmd_*.c), called from main.c. */
int cmd_keys(struct cli *c, int argc, char **argv);
int cmd_entry(struct cli *c, int argc, char **argv);
int cmd_relay(struct cli *c, int argc, char **argv);
int cmd_envelope(struct cli *c, int argc, char **argv);
int cmd_audit(struct cli *c, int argc, char **argv);
int cmd_admin(struct cli *c, int argc, char **argv); /* cmd_admin.c */
int cmd_case(struct cli *c, int argc, char **argv); /* cmd_case.c */
int cmd_concern(struct cli *c, int argc, char **argv); /* cmd_concern.c */
int cmd_consent(struct cli *c, int argc, char **argv); /* cmd_consent.c */
int cmd_notice(struct cli *c, int argc, char **argv); /* cmd_notice.c */
int cmd_request(struct cli *c, int argc, char **argv); /* cmd_request.c */
/* Commands without verbs, run by main.c through their record. */
extern const struct cli_verb cli_cmd_init;   /* cmd_init.c */
extern const struct cli_verb cli_cmd_status; /* cmd_node.c */
extern const struct cli_verb cli_cmd_contacts; /* cmd_contacts.c */
extern const struct cli_verb cli_cmd_roster;
extern const struct cli_verb cli_cmd_send; /* cmd_send.c */
extern const struct cli_verb cli_cmd_reply;
extern const struct cli_verb cli_cmd_inbox; /* cmd_mail.c */
extern const struct cli_verb cli_cmd_outbox;
extern const struct cli_verb cli_cmd_read;
extern const struct cli_verb cli_cmd_receipts;
extern const struct cli_verb cli_cmd_export; /* cmd_export.c */
extern const struct cli_verb cli_cmd_due; /* cmd_notice.c */
/* cmd_mail.c: sequence gaps, as `inbox --json` and `status` list them. */
struct Dx__Gap;
void cli_print_gaps(struct out *o, struct Dx__Gap *const *gaps, size_t n);
/* cmd_node.c: `divex keys verify`, in the keys group's table. */
int keys_verify(struct cli *c, const struct cli_verb *v, int argc, char **argv);
extern const char keys_verify_usage[];
/* cmd_dossier.c: `divex audit verify`, in the audit group's table. */
int audit_verify(struct cli *c, const struct cli_verb *v, int argc, char **argv);
extern const char audit_verify_usage[];
/* cmd_dossier.c: `divex audit dossier`, in the audit group's table, and the
 * dossier of a sent message fetched from the daemon (a malloc'd copy). */
int audit_dossier(struct cli *c, const struct cli_verb *v, int argc, char **argv);
extern const char audit_dossier_usage[];
int cli_fetch_dossier(struct cli *c, const char *id, uint8_t **out, size_t *out_len,
		      uint8_t envelope_id[static 16]);
/* cmd_open.c: the verbs of `divex envelope` that read an envelope. */
int envelope_open(struct cli *c, const struct cli_verb *v, int argc, char **argv);
int envelope_inspect(struct cli *c, const struct cli_verb *v, int argc, char **argv);
extern const char envelope_open_usage[];
extern const char envelope_inspect_usage[];

#endif
