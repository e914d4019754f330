/*
 * test_case_json: the CLI's case file (cli/case_json.c). The complete
 * example of docs/casework.md (tests/casework/case_full.json) parses into a
 * case note with every template field as written, and prints back, in JSON,
 * as the very same object. Comment lines are dropped. Every refusal names
 * what is wrong: unknown keys (at any depth), wrong types, duplicate keys,
 * bad State codes, categories, quantities and ids, missing required fields,
 * lists and files over their caps.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "case_json.h"
#include "casework.pb-c.h"
#include "testlib.h"

static char *full_text(size_t *len)
{
	char path[1024];
	uint8_t *buf = NULL;
	snprintf(path, sizeof(path), "%s/tests/casework/case_full.json", test_source_dir());
	assert_dx_ok(dx_read_file(path, CASE_JSON_MAX, &buf, len));
	char *s = realloc(buf, *len + 1);
	assert_non_null(s);
	s[*len] = '\0';
	return s;
}

static Dx__CaseNote *parse_ok(const char *text, size_t len)
{
	uint8_t *note = NULL;
	size_t note_len = 0;
	char err[512];
	ProtobufCMessage *m = NULL;
	int rc = case_json_parse(text, len, &note, &note_len, err, sizeof(err));
	if (rc != DX_OK) {
		fail_msg("refused: %s", err);
	}
	assert_dx_ok(
		proto_unpack_strict(&dx__case_note__descriptor, note, note_len, CASE_JSON_MAX, &m));
	free(note);
	return (Dx__CaseNote *)m;
}

static void test_every_field(void **state)
{
	(void)state;
	size_t len;
	char *text = full_text(&len);
	Dx__CaseNote *n = parse_ok(text, len);
	assert_string_equal(n->case_id, "FRA-2025-017");
	assert_string_equal(n->title, "Rifles re-exported from the declared end user");
	assert_non_null(strstr(n->request_summary, "confirm receipt"));
	assert_int_equal(n->n_states_involved, 3);
	assert_string_equal(n->states_involved[2], "ESP");
	assert_int_equal(n->stage, DX__STAGE__STAGE_DIVERSION_DETECTED);
	assert_string_equal(n->stage_other, "Found during a post-shipment check");
	const Dx__Transfer *t = n->transfer;
	assert_non_null(t);
	assert_int_equal(t->n_categories, 2);
	assert_int_equal(t->categories[0], DX__ARMS_CATEGORY__SMALL_ARMS);
	assert_int_equal(t->categories[1], DX__ARMS_CATEGORY__AMMUNITION_MUNITIONS);
	assert_int_equal(t->n_items, 2);
	assert_int_equal(t->items[0]->quantity, 200);
	assert_string_equal(t->items[0]->value, "EUR 310000");
	assert_int_equal(t->items[1]->quantity, 150000);
	assert_string_equal(t->items[1]->description, "Cartridges, 5.56 x 45 mm");
	assert_string_equal(t->state_of_origin, "FRA");
	assert_string_equal(t->importing_state, "MEX");
	assert_int_equal(t->n_transit_states, 2);
	assert_string_equal(t->transit_states[1], "PAN");
	assert_string_equal(t->end_user, "Secretar\xc3\xad"
					 "a de Seguridad, Ciudad de M\xc3\xa9xico");
	const Dx__Diversion *d = n->diversion;
	assert_non_null(strstr(d->details, "\nSerial numbers"));
	assert_string_equal(d->discovery, "Tracing request from the seizing State, 2025-03-02");
	assert_string_equal(d->timeliness, "Eleven months after delivery");
	assert_non_null(strstr(d->methods, "False end-user"));
	assert_non_null(strstr(d->actors, "freight forwarder"));
	const Dx__IllicitActivity *il = n->illicit;
	assert_non_null(strstr(il->corruption, "customs"));
	assert_non_null(strstr(il->trafficking_routes, "Manzanillo"));
	assert_non_null(strstr(il->illicit_brokers, "Broker X"));
	assert_non_null(strstr(il->sources_of_supply, "Stocks"));
	assert_string_equal(il->concealment_methods, "Declared as machine parts");
	assert_string_equal(il->points_of_dispatch, "Manzanillo");
	assert_non_null(strstr(il->destinations, "north"));
	assert_true(n->investigation_open);
	assert_non_null(strstr(n->notes, "French PoC"));
	protobuf_c_message_free_unpacked(&n->base, NULL);
	free(text);
}

/* The note printed in JSON is the object the file holds. */
static void test_print_round_trip(void **state)
{
	(void)state;
	size_t len, note_len;
	char *text = full_text(&len);
	uint8_t *note;
	char err[256];
	assert_dx_ok(case_json_parse(text, len, &note, &note_len, err, sizeof(err)));
	json_t *want = json_loadb(text, len, 0, NULL);
	assert_non_null(want);
	struct cli c = { .json = 1, .pass_fd = -1 };
	struct out o;
	out_init(&o, &c);
	cli_print_case_note(&o, "note", note, note_len);
	json_t *got = json_object_get((json_t *)o.stack[0], "note");
	if (!json_equal(got, want)) {
		char *g = json_dumps(got, JSON_INDENT(2) | JSON_SORT_KEYS);
		fail_msg("printed differently:\n%s", g);
	}
	/* And the printed object is a case file again, giving the same note. */
	char *again = json_dumps(got, 0);
	uint8_t *note2;
	size_t note2_len;
	assert_dx_ok(case_json_parse(again, strlen(again), &note2, &note2_len, err, sizeof(err)));
	assert_int_equal(note2_len, note_len);
	assert_memory_equal(note2, note, note_len);
	out_discard(&o);
	free(again);
	free(note);
	free(note2);
	json_decref(want);
	free(text);
}

static void test_comments_and_minimal(void **state)
{
	(void)state;
	const char *t = "# a comment\n{\"case_id\": \"X.1_a-b\",\n# inside too\n\"title\": \"T\","
			"\"investigation\": \"closed\"}\n#last";
	Dx__CaseNote *n = parse_ok(t, strlen(t));
	assert_string_equal(n->case_id, "X.1_a-b");
	assert_false(n->investigation_open);
	assert_null(n->transfer);
	assert_int_equal(n->stage, 0);
	protobuf_c_message_free_unpacked(&n->base, NULL);
	/* The template is all comments and blanks apart from its JSON, which is empty. */
	uint8_t *note = NULL;
	size_t note_len;
	char err[256];
	assert_dx_err(case_json_parse(case_json_template, strlen(case_json_template), &note,
				      &note_len, err, sizeof(err)),
		      DX_EINVAL);
	assert_non_null(strstr(err, "case_id"));
	const char *blank = "# nothing\n\n   \n# at all\n";
	assert_dx_err(case_json_parse(blank, strlen(blank), &note, &note_len, err, sizeof(err)),
		      DX_ENOENT);
	assert_dx_err(case_json_parse("", 0, &note, &note_len, err, sizeof(err)), DX_ENOENT);
}

#define BASE "\"case_id\":\"A-1\",\"title\":\"t\",\"investigation\":\"open\""

static void refused(const char *text, int want, const char *words)
{
	uint8_t *note = NULL;
	size_t note_len = 0;
	char err[512];
	int rc = case_json_parse(text, strlen(text), &note, &note_len, err, sizeof(err));
	if (rc != want || strstr(err, words) == NULL) {
		fail_msg("%s: got %s '%s', want %s mentioning '%s'", text, dx_errname(rc), err,
			 dx_errname(want), words);
	}
	assert_null(note);
}

static void test_refusals(void **state)
{
	(void)state;
	refused("{" BASE ",\"colour\":\"red\"}", DX_EINVAL, "unknown key 'colour'");
	refused("{" BASE ",\"transfer\":{\"items\":[{\"description\":\"x\",\"colour\":1}]}}",
		DX_EINVAL, "transfer.items[0]: unknown key 'colour'");
	refused("{" BASE ",\"diversion\":{\"detail\":\"x\"}}", DX_EINVAL,
		"diversion: unknown key 'detail'");
	refused("{" BASE ",\"illicit\":{\"bribes\":\"x\"}}", DX_EINVAL, "illicit: unknown key");
	refused("{" BASE ",\"transfer\":{\"end_users\":\"x\"}}", DX_EINVAL, "'end_users'");
	refused("{" BASE ",\"title\":\"again\"}", DX_EINVAL, "duplicate");
	refused("{\"title\":\"t\",\"investigation\":\"open\"}", DX_EINVAL, "'case_id' is required");
	refused("{\"case_id\":\"A\",\"investigation\":\"open\"}", DX_EINVAL, "'title' is required");
	refused("{\"case_id\":\"A\",\"title\":\"t\"}", DX_EINVAL, "'investigation'");
	refused("{\"case_id\":\"A\",\"title\":\"t\",\"investigation\":\"maybe\"}", DX_EINVAL,
		"'investigation'");
	refused("{\"case_id\":\"A B\",\"title\":\"t\",\"investigation\":\"open\"}", DX_EINVAL,
		"'case_id'");
	refused("{\"case_id\":\"A\",\"title\":\"\",\"investigation\":\"open\"}", DX_EINVAL,
		"'title' must not be empty");
	refused("{\"case_id\":\"0123456789012345678901234567890123456789012345678901234567890123"
		"4\",\"title\":\"t\",\"investigation\":\"open\"}",
		DX_EINVAL, "'case_id' is longer");
	refused("{" BASE ",\"notes\":7}", DX_EINVAL, "'notes' must be a string");
	refused("{" BASE ",\"transfer\":[]}", DX_EINVAL, "'transfer' must be an object");
	refused("{" BASE ",\"states_involved\":\"FRA\"}", DX_EINVAL, "must be a list");
	refused("{" BASE ",\"states_involved\":[\"fra\"]}", DX_EINVAL, "not a State code");
	refused("{" BASE ",\"states_involved\":[\"FRA\",\"FRA\"]}", DX_EINVAL, "twice");
	refused("{" BASE ",\"transfer\":{\"state_of_origin\":\"France\"}}", DX_EINVAL,
		"'state_of_origin'");
	refused("{" BASE ",\"transfer\":{\"transit_states\":[\"ESP\",1]}}", DX_EINVAL,
		"transit_states'[1]");
	refused("{" BASE ",\"transfer\":{\"categories\":[\"tanks\"]}}", DX_EINVAL,
		"categories[0] is not a category");
	refused("{" BASE ",\"transfer\":{\"categories\":[\"warships\",\"warships\"]}}", DX_EINVAL,
		"twice");
	refused("{" BASE ",\"transfer\":{\"items\":[{\"quantity\":-1}]}}", DX_EINVAL, "'quantity'");
	refused("{" BASE ",\"transfer\":{\"items\":[{\"quantity\":2.5}]}}", DX_EINVAL,
		"'quantity'");
	refused("{" BASE ",\"transfer\":{\"items\":[{\"quantity\":\"3\"}]}}", DX_EINVAL,
		"'quantity'");
	refused("{" BASE ",\"transfer\":{\"items\":[7]}}", DX_EINVAL, "transfer.items[0]");
	refused("{" BASE ",\"stage\":\"detected\"}", DX_EINVAL, "'stage'");
	refused("{" BASE ",\"stage\":\"other\"}", DX_EINVAL, "stage_other");
	refused("[1,2]", DX_EINVAL, "one JSON object");
	refused("{" BASE ",}", DX_EINVAL, "not valid JSON");
	refused("{\"case_id\":\"A\\u0000B\",\"title\":\"t\",\"investigation\":\"open\"}", DX_EINVAL,
		"not valid JSON");

	/* Lists over their caps. */
	char *big = malloc(CASE_JSON_MAX + 64);
	assert_non_null(big);
	size_t n = (size_t)sprintf(big, "{" BASE ",\"states_involved\":[");
	for (int i = 0; i <= CASE_JSON_STATES_MAX; i++) {
		n += (size_t)sprintf(big + n, "%s\"%c%c%c\"", i > 0 ? "," : "", 'A' + i / 26 % 26,
				     'A' + i % 26, 'Z');
	}
	sprintf(big + n, "]}");
	refused(big, DX_EINVAL, "more than 64");
	/* A string over its cap, and a file over 256 KiB. */
	n = (size_t)sprintf(big, "{" BASE ",\"notes\":\"");
	memset(big + n, 'x', CASE_JSON_TEXT_MAX + 1);
	sprintf(big + n + CASE_JSON_TEXT_MAX + 1, "\"}");
	refused(big, DX_EINVAL, "'notes' is longer");
	memset(big, ' ', CASE_JSON_MAX + 1);
	big[CASE_JSON_MAX + 1] = '\0';
	refused(big, DX_ETOOBIG, "256 KiB");
	free(big);
}

int main(void)
{
	assert_int_equal(sodium_init() >= 0, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_field),
		cmocka_unit_test(test_print_round_trip),
		cmocka_unit_test(test_comments_and_minimal),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
