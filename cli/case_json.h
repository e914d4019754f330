/*
 * case_json.h: the case file an officer writes (docs/casework.md): a JSON
 * object with every field of the Annex 1 template and the rule 18-19
 * information, turned into a serialized dx.CaseNote (casework.proto); and the
 * printing of a case note, in text for people or, with --json, in the same
 * JSON format the file uses, so that what one State entered and what another
 * received can be compared key by key.
 *
 * The parser is strict: the file is capped at CASE_JSON_MAX bytes before it
 * is parsed, duplicate and unknown keys are refused (naming the key), every
 * value has one type, every string and list is capped, State codes are
 * checked. Lines whose first character is '#' are comments and are dropped
 * before parsing (the template opened in $EDITOR uses them); such a line
 * cannot occur inside valid JSON, so this never changes a document's meaning.
 * Single-threaded, like the rest of the CLI.
 */
#ifndef DIVEX_CLI_CASE_JSON_H
#define DIVEX_CLI_CASE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "error.h"

/* The largest case file. */
#define CASE_JSON_MAX (256 * 1024)
/* The daemon's limits (case_store.h), checked here first for a clear message. */
#define CASE_JSON_ID_MAX 64
#define CASE_JSON_TITLE_MAX 512
/* Any one free-text field. */
#define CASE_JSON_TEXT_MAX (64 * 1024)
/* Lists: States named, transit States, items. */
#define CASE_JSON_STATES_MAX 64
#define CASE_JSON_ITEMS_MAX 256

/*
 * Parses a case file of len bytes (at most CASE_JSON_MAX; it need not be
 * NUL-terminated) into a new serialized dx.CaseNote (*note, malloc'd; the
 * caller wipes and frees it). On refusal err holds a sentence saying what is
 * wrong and where ("transfer.items[2]: unknown key 'colour'"). Returns
 * DX_ENOENT when nothing but comments and blanks is left, DX_ETOOBIG over
 * the cap, DX_EINVAL for anything else refused.
 */
int case_json_parse(const char *text, size_t len, uint8_t **note, size_t *note_len, char *err,
		    size_t err_size) DX_MUST_CHECK;

/* The commented template `divex case new` opens in $EDITOR. */
extern const char case_json_template[];

/*
 * Prints a serialized case note: every field of the template, empty ones
 * included (in text as "(not given)"). In JSON, the object under key is in
 * the case file format. A note that does not decode is reported as such.
 */
void cli_print_case_note(struct out *o, const char *key, const uint8_t *note, size_t len);

/* The dx.Payload type of a case note (casework.proto). */
#define CLI_PAYLOAD_CASE_NOTE 2

#endif
