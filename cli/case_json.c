/*
 * case_json.c: the case file and the printing of case notes. See
 * case_json.h and docs/casework.md for the format.
 *
 * The note is built as a dx.CaseNote whose strings, lists and submessages
 * are malloc'd one by one, so that protobuf_c_message_free_unpacked() frees
 * whatever part of it was built when parsing stops; each list's count is
 * raised only once its element is in place.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "case_json.h"
#include "casework.pb-c.h"

/* Names in the file, indexed by the enum's value (casework.proto). */
static const char *const STAGE_NAMES[] = {
	"", "risk_analysis", "diversion_detected", "reached_end_user", "other",
};
static const char *const STAGE_WORDS[] = {
	"(not given)",
	"pre-transfer risk analysis",
	"diversion detected, or early warning",
	"the transfer reached the end user",
	"other (below)",
};
#define N_STAGES (sizeof(STAGE_NAMES) / sizeof(STAGE_NAMES[0]))

static const char *const CATEGORY_NAMES[] = {
	"",
	"battle_tanks",
	"armoured_combat_vehicles",
	"large_calibre_artillery",
	"combat_aircraft",
	"attack_helicopters",
	"warships",
	"missiles_and_launchers",
	"small_arms",
	"light_weapons",
	"ammunition_munitions",
	"parts_and_components",
};
static const char *const CATEGORY_WORDS[] = {
	"(unspecified)",
	"battle tanks",
	"armoured combat vehicles",
	"large-calibre artillery systems",
	"combat aircraft",
	"attack helicopters",
	"warships",
	"missiles and missile launchers",
	"small arms",
	"light weapons",
	"ammunition/munitions",
	"parts and components",
};
#define N_CATEGORIES (sizeof(CATEGORY_NAMES) / sizeof(CATEGORY_NAMES[0]))

#define VALUE_MAX 1024
#define KEY_SHOWN_MAX 64

/* ---- parsing ---- */

struct pctx {
	char *err;
	size_t err_size;
};

static int refuse(struct pctx *p, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct pctx *p, const char *where, const char *fmt, ...)
{
	char msg[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(p->err, p->err_size, "%s%s%s", where, where[0] != '\0' ? ": " : "", msg);
	return DX_EINVAL;
}

/* Refuses any key of obj not in allowed (NULL-terminated). */
static int only_keys(struct pctx *p, const char *where, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		size_t i = 0;
		while (allowed[i] != NULL && strcmp(allowed[i], key) != 0) {
			i++;
		}
		if (allowed[i] == NULL) {
			char shown[4 * KEY_SHOWN_MAX + 1];
			size_t len = strlen(key);
			dx_escape(shown, sizeof(shown), key,
				  len < KEY_SHOWN_MAX ? len : KEY_SHOWN_MAX);
			return refuse(p, where, "unknown key '%s' (see docs/casework.md)", shown);
		}
	}
	return DX_OK;
}

/* An object member that must be an object when present (NULL when absent). */
static int take_obj(struct pctx *p, const char *where, json_t *obj, const char *key, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	if (v != NULL && !json_is_object(v)) {
		return refuse(p, where, "'%s' must be an object { ... }", key);
	}
	*out = v;
	return DX_OK;
}

/* A string member; *out is left alone (the empty default) when absent or "". */
static int take_str(struct pctx *p, const char *where, json_t *obj, const char *key, size_t max,
		    int required, char **out)
{
	json_t *v = json_object_get(obj, key);
	if (v == NULL) {
		return required ? refuse(p, where, "'%s' is required", key) : DX_OK;
	}
	if (!json_is_string(v)) {
		return refuse(p, where, "'%s' must be a string", key);
	}
	size_t len = json_string_length(v);
	if (len > max) {
		return refuse(p, where, "'%s' is longer than %zu bytes", key, max);
	}
	if (len == 0) {
		return required ? refuse(p, where, "'%s' must not be empty", key) : DX_OK;
	}
	char *s = malloc(len + 1);
	if (s == NULL) {
		return DX_ENOMEM;
	}
	memcpy(s, json_string_value(v), len);
	s[len] = '\0';
	*out = s;
	return DX_OK;
}

static int take_state(struct pctx *p, const char *where, json_t *obj, const char *key, char **out)
{
	int rc = take_str(p, where, obj, key, DX_STATE_LEN, 0, out);
	if (rc == DX_OK && (*out)[0] != '\0' && !dx_state_valid(*out)) {
		rc = refuse(p, where, "'%s' is not a State code (three capital letters, e.g. MEX)",
			    key);
	}
	return rc;
}

/* A list member, checked for type and length; *arr (calloc'd) is NULL when empty. */
static int take_list(struct pctx *p, const char *where, json_t *obj, const char *key, size_t max,
		     size_t elem, json_t **list, void **arr)
{
	json_t *v = json_object_get(obj, key);
	*list = NULL;
	*arr = NULL;
	if (v == NULL) {
		return DX_OK;
	}
	if (!json_is_array(v)) {
		return refuse(p, where, "'%s' must be a list [ ... ]", key);
	}
	size_t n = json_array_size(v);
	if (n > max) {
		return refuse(p, where, "'%s' lists more than %zu entries", key, max);
	}
	if (n > 0 && (*arr = calloc(n, elem)) == NULL) {
		return DX_ENOMEM;
	}
	*list = v;
	return DX_OK;
}

/* A list of distinct State codes. */
static int take_states(struct pctx *p, const char *where, json_t *obj, const char *key,
		       size_t *n_out, char ***out)
{
	json_t *list;
	void *arr;
	int rc = take_list(p, where, obj, key, CASE_JSON_STATES_MAX, sizeof(char *), &list, &arr);
	if (rc != DX_OK || arr == NULL) {
		return rc;
	}
	char **v = arr;
	*out = v;
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		const char *s = json_is_string(e) ? json_string_value(e) : "";
		if (json_string_length(e) != DX_STATE_LEN || !dx_state_valid(s)) {
			return refuse(p, where,
				      "'%s'[%zu] is not a State code (three capital "
				      "letters, e.g. MEX)",
				      key, i);
		}
		for (size_t k = 0; k < i; k++) {
			if (strcmp(v[k], s) == 0) {
				return refuse(p, where, "'%s' names %s twice", key, s);
			}
		}
		if ((v[i] = strdup(s)) == NULL) {
			return DX_ENOMEM;
		}
		(*n_out)++;
	}
	return DX_OK;
}

/* A name from names[] (indexed by enum value); "" is 0. */
static int name_index(const char *const *names, size_t n, const char *s, int *out)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(names[i], s) == 0) {
			*out = (int)i;
			return DX_OK;
		}
	}
	return DX_EINVAL;
}

static int take_categories(struct pctx *p, json_t *t, Dx__Transfer *tr)
{
	json_t *list;
	void *arr;
	int rc = take_list(p, "transfer", t, "categories", N_CATEGORIES - 1,
			   sizeof(Dx__ArmsCategory), &list, &arr);
	if (rc != DX_OK || arr == NULL) {
		return rc;
	}
	tr->categories = arr;
	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *e = json_array_get(list, i);
		int v = 0;
		if (!json_is_string(e) ||
		    name_index(CATEGORY_NAMES, N_CATEGORIES, json_string_value(e), &v) != DX_OK ||
		    v == 0) {
			return refuse(p, "transfer",
				      "categories[%zu] is not a category: battle_tanks, "
				      "armoured_combat_vehicles, large_calibre_artillery, "
				      "combat_aircraft, attack_helicopters, warships, "
				      "missiles_and_launchers, small_arms, light_weapons, "
				      "ammunition_munitions or parts_and_components",
				      i);
		}
		for (size_t k = 0; k < i; k++) {
			if ((int)tr->categories[k] == v) {
				return refuse(p, "transfer", "categories names %s twice",
					      CATEGORY_NAMES[v]);
			}
		}
		tr->categories[i] = (Dx__ArmsCategory)v;
		tr->n_categories++;
	}
	return DX_OK;
}

static int take_item(struct pctx *p, json_t *e, size_t i, Dx__Item **out)
{
	static const char *const keys[] = { "description", "quantity", "value", NULL };
	char where[48];
	snprintf(where, sizeof(where), "transfer.items[%zu]", i);
	if (!json_is_object(e)) {
		return refuse(p, where,
			      "an item is an object {\"description\", \"quantity\", "
			      "\"value\"}");
	}
	int rc = only_keys(p, where, e, keys);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__Item *it = malloc(sizeof(*it));
	if (it == NULL) {
		return DX_ENOMEM;
	}
	dx__item__init(it);
	*out = it;
	json_t *q = json_object_get(e, "quantity");
	if (q != NULL && (!json_is_integer(q) || json_integer_value(q) < 0)) {
		return refuse(p, where, "'quantity' must be a whole number, 0 or more");
	}
	it->quantity = q != NULL ? (uint64_t)json_integer_value(q) : 0;
	if ((rc = take_str(p, where, e, "description", CASE_JSON_TEXT_MAX, 0, &it->description)) !=
	    DX_OK) {
		return rc;
	}
	return take_str(p, where, e, "value", VALUE_MAX, 0, &it->value);
}

static int take_transfer(struct pctx *p, json_t *t, Dx__CaseNote *n)
{
	static const char *const keys[] = {
		"categories", "items", "state_of_origin", "importing_state", "transit_states",
		"end_user",   NULL
	};
	json_t *list;
	void *arr;
	int rc = only_keys(p, "transfer", t, keys);
	if (rc != DX_OK) {
		return rc;
	}
	Dx__Transfer *tr = malloc(sizeof(*tr));
	if (tr == NULL) {
		return DX_ENOMEM;
	}
	dx__transfer__init(tr);
	n->transfer = tr;
	if ((rc = take_categories(p, t, tr)) != DX_OK ||
	    (rc = take_list(p, "transfer", t, "items", CASE_JSON_ITEMS_MAX, sizeof(Dx__Item *),
			    &list, &arr)) != DX_OK) {
		return rc;
	}
	tr->items = arr;
	for (size_t i = 0; arr != NULL && i < json_array_size(list); i++) {
		rc = take_item(p, json_array_get(list, i), i, &tr->items[i]);
		if (tr->items[i] != NULL) {
			tr->n_items++;
		}
		if (rc != DX_OK) {
			return rc;
		}
	}
	if ((rc = take_state(p, "transfer", t, "state_of_origin", &tr->state_of_origin)) != DX_OK ||
	    (rc = take_state(p, "transfer", t, "importing_state", &tr->importing_state)) != DX_OK ||
	    (rc = take_states(p, "transfer", t, "transit_states", &tr->n_transit_states,
			      &tr->transit_states)) != DX_OK) {
		return rc;
	}
	return take_str(p, "transfer", t, "end_user", CASE_JSON_TEXT_MAX, 0, &tr->end_user);
}

/* An object of free-text fields: keys[i] goes to *fields[i]. */
static int take_texts(struct pctx *p, const char *where, json_t *obj, const char *const *keys,
		      char **const *fields)
{
	int rc = only_keys(p, where, obj, keys);
	for (size_t i = 0; rc == DX_OK && keys[i] != NULL; i++) {
		rc = take_str(p, where, obj, keys[i], CASE_JSON_TEXT_MAX, 0, fields[i]);
	}
	return rc;
}

static int take_diversion(struct pctx *p, json_t *d, Dx__CaseNote *n)
{
	static const char *const keys[] = { "details", "discovery", "timeliness",
					    "methods", "actors",    NULL };
	Dx__Diversion *v = malloc(sizeof(*v));
	if (v == NULL) {
		return DX_ENOMEM;
	}
	dx__diversion__init(v);
	n->diversion = v;
	char **const fields[] = { &v->details, &v->discovery, &v->timeliness, &v->methods,
				  &v->actors };
	return take_texts(p, "diversion", d, keys, fields);
}

static int take_illicit(struct pctx *p, json_t *d, Dx__CaseNote *n)
{
	static const char *const keys[] = { "corruption",	   "trafficking_routes",
					    "illicit_brokers",	   "sources_of_supply",
					    "concealment_methods", "points_of_dispatch",
					    "destinations",	   NULL };
	Dx__IllicitActivity *v = malloc(sizeof(*v));
	if (v == NULL) {
		return DX_ENOMEM;
	}
	dx__illicit_activity__init(v);
	n->illicit = v;
	char **const fields[] = { &v->corruption,	   &v->trafficking_routes,
				  &v->illicit_brokers,	   &v->sources_of_supply,
				  &v->concealment_methods, &v->points_of_dispatch,
				  &v->destinations };
	return take_texts(p, "illicit", d, keys, fields);
}

static int take_enums(struct pctx *p, json_t *root, Dx__CaseNote *n)
{
	json_t *v = json_object_get(root, "stage");
	int stage = 0;
	if (v != NULL &&
	    (!json_is_string(v) ||
	     name_index(STAGE_NAMES, N_STAGES, json_string_value(v), &stage) != DX_OK)) {
		return refuse(p, "",
			      "'stage' is one of risk_analysis, diversion_detected, "
			      "reached_end_user or other");
	}
	n->stage = (Dx__Stage)stage;
	if (stage == DX__STAGE__STAGE_OTHER && n->stage_other[0] == '\0') {
		return refuse(p, "", "'stage' other needs 'stage_other' saying what it is");
	}
	v = json_object_get(root, "investigation");
	const char *inv = json_is_string(v) ? json_string_value(v) : "";
	if (strcmp(inv, "open") != 0 && strcmp(inv, "closed") != 0) {
		return refuse(p, "", "'investigation' is required: \"open\" or \"closed\"");
	}
	n->investigation_open = strcmp(inv, "open") == 0;
	return DX_OK;
}

static int take_note(struct pctx *p, json_t *root, Dx__CaseNote *n)
{
	static const char *const keys[] = {
		"case_id", "title",	    "request_summary", "states_involved",
		"stage",   "stage_other",   "transfer",	       "diversion",
		"illicit", "investigation", "notes",	       NULL,
	};
	json_t *t = NULL, *d = NULL, *il = NULL;
	int rc = only_keys(p, "", root, keys);
	if (rc != DX_OK ||
	    (rc = take_str(p, "", root, "case_id", CASE_JSON_ID_MAX, 1, &n->case_id)) != DX_OK) {
		return rc;
	}
	if (strspn(n->case_id,
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") !=
	    strlen(n->case_id)) {
		return refuse(p, "",
			      "'case_id' is made of letters, digits, '.', '_' and '-', "
			      "e.g. FRA-2025-017");
	}
	if ((rc = take_str(p, "", root, "title", CASE_JSON_TITLE_MAX, 1, &n->title)) != DX_OK ||
	    (rc = take_str(p, "", root, "request_summary", CASE_JSON_TEXT_MAX, 0,
			   &n->request_summary)) != DX_OK ||
	    (rc = take_states(p, "", root, "states_involved", &n->n_states_involved,
			      &n->states_involved)) != DX_OK ||
	    (rc = take_str(p, "", root, "stage_other", CASE_JSON_TEXT_MAX, 0, &n->stage_other)) !=
		    DX_OK ||
	    (rc = take_enums(p, root, n)) != DX_OK ||
	    (rc = take_str(p, "", root, "notes", CASE_JSON_TEXT_MAX, 0, &n->notes)) != DX_OK ||
	    (rc = take_obj(p, "", root, "transfer", &t)) != DX_OK ||
	    (rc = take_obj(p, "", root, "diversion", &d)) != DX_OK ||
	    (rc = take_obj(p, "", root, "illicit", &il)) != DX_OK) {
		return rc;
	}
	if (t != NULL && (rc = take_transfer(p, t, n)) != DX_OK) {
		return rc;
	}
	if (d != NULL && (rc = take_diversion(p, d, n)) != DX_OK) {
		return rc;
	}
	return il != NULL ? take_illicit(p, il, n) : DX_OK;
}

/* Drops the lines that start with '#'; *blank says whether only white space is left. */
static char *strip_comments(const char *text, size_t len, size_t *out_len, int *blank)
{
	char *out = malloc(len + 1);
	size_t n = 0;
	if (out == NULL) {
		return NULL;
	}
	*blank = 1;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - text) + 1 : len;
		if (text[i] != '#') {
			for (size_t k = i; k < end; k++) {
				if (strchr(" \t\r\n", text[k]) == NULL || text[k] == '\0') {
					*blank = 0;
				}
			}
			memcpy(out + n, text + i, end - i);
			n += end - i;
		}
		i = end;
	}
	out[n] = '\0';
	*out_len = n;
	return out;
}

int case_json_parse(const char *text, size_t len, uint8_t **note, size_t *note_len, char *err,
		    size_t err_size)
{
	struct pctx p = { err, err_size };
	json_error_t jerr;
	json_t *root = NULL;
	Dx__CaseNote *n = NULL;
	size_t clean_len = 0;
	int blank = 1, rc;
	err[0] = '\0';
	if (len > CASE_JSON_MAX) {
		snprintf(err, err_size, "the case file is larger than %d KiB",
			 CASE_JSON_MAX / 1024);
		return DX_ETOOBIG;
	}
	char *clean = strip_comments(text, len, &clean_len, &blank);
	if (clean == NULL) {
		return DX_ENOMEM;
	}
	if (blank) {
		snprintf(err, err_size, "the case file is empty");
		rc = DX_ENOENT;
		goto out;
	}
	root = json_loadb(clean, clean_len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		rc = refuse(&p, "", "not valid JSON: line %d, column %d: %s", jerr.line,
			    jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		rc = refuse(&p, "", "a case file is one JSON object { ... }");
		goto out;
	}
	if ((n = malloc(sizeof(*n))) == NULL) {
		rc = DX_ENOMEM;
		goto out;
	}
	dx__case_note__init(n);
	if ((rc = take_note(&p, root, n)) == DX_OK) {
		rc = proto_pack_alloc(&n->base, note, note_len);
	}
out:
	if (n != NULL) {
		protobuf_c_message_free_unpacked(&n->base, NULL);
	}
	json_decref(root);
	free(clean);
	if (rc == DX_ENOMEM && err[0] == '\0') {
		snprintf(err, err_size, "out of memory");
	}
	return rc;
}

/* ---- printing ---- */

static void field(struct out *o, const char *key, const char *label, const char *s)
{
	if (s != NULL && s[0] != '\0') {
		if (strchr(s, '\n') != NULL) {
			out_block(o, key, label, s, strlen(s));
		} else {
			out_text(o, key, label, s, strlen(s));
		}
	} else {
		out_str(o, key, label, o->json ? "" : "(not given)");
	}
}

/* A list of strings: a JSON array, or one line joined with ", " in text. */
static void str_list(struct out *o, const char *key, const char *label, char *const *v, size_t n)
{
	if (o->json) {
		out_list_begin(o, key, label);
		for (size_t i = 0; i < n; i++) {
			out_text(o, NULL, label, v[i], strlen(v[i]));
		}
		out_list_end(o);
		return;
	}
	size_t total = 1;
	for (size_t i = 0; i < n; i++) {
		total += strlen(v[i]) + 2;
	}
	char *s = malloc(total);
	if (s == NULL) {
		out_str(o, key, label, "(out of memory)");
		return;
	}
	s[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strcat(s, i > 0 ? ", " : "");
		strcat(s, v[i]);
	}
	field(o, key, label, s);
	free(s);
}

static void print_transfer(struct out *o, const Dx__Transfer *t)
{
	static const Dx__Transfer empty = DX__TRANSFER__INIT;
	const char *names[N_CATEGORIES] = { NULL };
	size_t n = 0;
	if (t == NULL) {
		t = &empty;
	}
	out_obj_begin(o, "transfer", "Transfer");
	for (size_t i = 0; i < t->n_categories && n < N_CATEGORIES; i++) {
		size_t v = (size_t)t->categories[i];
		if (o->json) {
			names[n++] = v < N_CATEGORIES ? CATEGORY_NAMES[v] : "unknown";
		} else {
			names[n++] = v < N_CATEGORIES ? CATEGORY_WORDS[v] : "(unknown category)";
		}
	}
	str_list(o, "categories", "categories of arms", (char *const *)names, n);
	out_list_begin(o, "items", "items");
	for (size_t i = 0; i < t->n_items; i++) {
		out_item_begin(o);
		field(o, "description", "description", t->items[i]->description);
		out_u64(o, "quantity", "quantity", t->items[i]->quantity);
		field(o, "value", "value", t->items[i]->value);
		out_item_end(o);
	}
	out_list_end(o);
	field(o, "state_of_origin", "State of origin", t->state_of_origin);
	field(o, "importing_state", "importing State", t->importing_state);
	str_list(o, "transit_states", "transit States", t->transit_states, t->n_transit_states);
	field(o, "end_user", "end user", t->end_user);
	out_obj_end(o);
}

static void print_diversion(struct out *o, const Dx__Diversion *d)
{
	static const Dx__Diversion empty = DX__DIVERSION__INIT;
	if (d == NULL) {
		d = &empty;
	}
	out_obj_begin(o, "diversion", "Diversion");
	field(o, "details", "details", d->details);
	field(o, "discovery", "discovery", d->discovery);
	field(o, "timeliness", "timeliness", d->timeliness);
	field(o, "methods", "methods", d->methods);
	field(o, "actors", "actors", d->actors);
	out_obj_end(o);
}

static void print_illicit(struct out *o, const Dx__IllicitActivity *a)
{
	static const Dx__IllicitActivity empty = DX__ILLICIT_ACTIVITY__INIT;
	if (a == NULL) {
		a = &empty;
	}
	out_obj_begin(o, "illicit", "Illicit transfer activities (rule 19)");
	field(o, "corruption", "corruption", a->corruption);
	field(o, "trafficking_routes", "trafficking routes", a->trafficking_routes);
	field(o, "illicit_brokers", "illicit brokers", a->illicit_brokers);
	field(o, "sources_of_supply", "sources of illicit supply", a->sources_of_supply);
	field(o, "concealment_methods", "methods of concealment", a->concealment_methods);
	field(o, "points_of_dispatch", "common points of dispatch", a->points_of_dispatch);
	field(o, "destinations", "destinations (organised groups)", a->destinations);
	out_obj_end(o);
}

void cli_print_case_note(struct out *o, const char *key, const uint8_t *note, size_t len)
{
	ProtobufCMessage *m = NULL;
	int rc = proto_unpack_strict(&dx__case_note__descriptor, note, len, CASE_JSON_MAX, &m);
	if (rc != DX_OK) {
		char msg[128];
		snprintf(msg, sizeof(msg), "(the case note could not be decoded: %s)",
			 dx_strerror(rc));
		out_str(o, key, "Case note", msg);
		return;
	}
	const Dx__CaseNote *n = (const Dx__CaseNote *)m;
	size_t stage = (size_t)n->stage;
	out_obj_begin(o, key, "CASE NOTE (Annex 1 template; rules 18-19)");
	field(o, "case_id", "case id", n->case_id);
	field(o, "title", "title", n->title);
	field(o, "request_summary", "summary of the request", n->request_summary);
	str_list(o, "states_involved", "States involved", n->states_involved, n->n_states_involved);
	if (o->json) {
		out_str(o, "stage", "stage", stage < N_STAGES ? STAGE_NAMES[stage] : "unknown");
	} else {
		out_str(o, "stage", "stage", stage < N_STAGES ? STAGE_WORDS[stage] : "(unknown)");
	}
	field(o, "stage_other", "stage (other)", n->stage_other);
	print_transfer(o, n->transfer);
	print_diversion(o, n->diversion);
	print_illicit(o, n->illicit);
	out_str(o, "investigation", "investigation", n->investigation_open ? "open" : "closed");
	field(o, "notes", "notes", n->notes);
	out_obj_end(o);
	protobuf_c_message_free_unpacked(m, NULL);
}

/* clang-format off */
const char case_json_template[] =
	"# A new case. Fill in the JSON below and save; lines starting with '#'\n"
	"# are ignored, and an empty file aborts. Every field but case_id, title\n"
	"# and investigation may be left empty (\"\" or []). See docs/casework.md.\n"
	"#\n"
	"# case_id: 1-64 of A-Z a-z 0-9 . _ -   States: ISO 3166-1 alpha-3 (MEX)\n"
	"# stage: risk_analysis, diversion_detected, reached_end_user or other\n"
	"#        (other: say what in stage_other)\n"
	"# categories: battle_tanks, armoured_combat_vehicles,\n"
	"#   large_calibre_artillery, combat_aircraft, attack_helicopters, warships,\n"
	"#   missiles_and_launchers, small_arms, light_weapons,\n"
	"#   ammunition_munitions, parts_and_components\n"
	"# investigation: \"open\" or \"closed\"\n"
	"{\n"
	"  \"case_id\": \"\",\n"
	"  \"title\": \"\",\n"
	"  \"request_summary\": \"\",\n"
	"  \"states_involved\": [],\n"
	"  \"stage\": \"\",\n"
	"  \"stage_other\": \"\",\n"
	"  \"transfer\": {\n"
	"    \"categories\": [],\n"
	"    \"items\": [ { \"description\": \"\", \"quantity\": 0, \"value\": \"\" } ],\n"
	"    \"state_of_origin\": \"\",\n"
	"    \"importing_state\": \"\",\n"
	"    \"transit_states\": [],\n"
	"    \"end_user\": \"\"\n"
	"  },\n"
	"  \"diversion\": {\n"
	"    \"details\": \"\", \"discovery\": \"\", \"timeliness\": \"\",\n"
	"    \"methods\": \"\", \"actors\": \"\"\n"
	"  },\n"
	"  \"illicit\": {\n"
	"    \"corruption\": \"\", \"trafficking_routes\": \"\", \"illicit_brokers\": \"\",\n"
	"    \"sources_of_supply\": \"\", \"concealment_methods\": \"\",\n"
	"    \"points_of_dispatch\": \"\", \"destinations\": \"\"\n"
	"  },\n"
	"  \"investigation\": \"open\",\n"
	"  \"notes\": \"\"\n"
	"}\n";
/* clang-format on */
