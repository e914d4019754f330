/*
 * cmd_contacts.c: `divex contacts [STATE]` lists the contact records States
 * publish in their self-signed roster entries (ToR rule 20: national points
 * of contact and enforcement authorities); `divex contacts publish FILE`
 * has the daemon publish this State's records from a JSON file.
 *
 * Records come from other States: every text is escaped when shown. The
 * file is parsed strictly: unknown keys are refused by name, sizes are
 * capped before anything is allocated for them.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.pb-c.h"
#include "roster.h"

#define CONTACTS_FILE_MAX (64 * 1024)
#define CONTACT_LANGUAGES_MAX 16

/* clang-format off */
static const char contacts_usage[] =
	"usage: divex contacts [STATE] [options]\n"
	"       divex contacts publish FILE [options]\n"
	"\n"
	"Lists the contact records each State publishes in its self-signed roster\n"
	"entry (its national point of contact, its enforcement authorities), from\n"
	"this node's roster mirror: every State's, or STATE's. The records are\n"
	"signed by the State's pinned key; the Secretariat carries them but cannot\n"
	"alter them.\n"
	"\n"
	"'publish' replaces this State's records with those of FILE and has the\n"
	"daemon sign and publish the new entry (point_of_contact role). FILE:\n"
	"  {\"contacts\": [{\"role\": \"point-of-contact\" | \"enforcement\",\n"
	"                 \"agency\": \"...\", \"name\": \"...\", \"email\": \"...\",\n"
	"                 \"phone\": \"...\", \"languages\": [\"fr\", \"en\"],\n"
	"                 \"channels\": \"...\"}]}\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

static void print_contact(struct out *o, const Dx__Contact *ct)
{
	out_item_begin(o);
	out_text(o, "role", "role", ct->role, strlen(ct->role));
	out_text(o, "agency", "agency", ct->agency, strlen(ct->agency));
	out_text(o, "name", "name", ct->name, strlen(ct->name));
	out_text(o, "email", "email", ct->email, strlen(ct->email));
	out_text(o, "phone", "phone", ct->phone, strlen(ct->phone));
	if (o->json) {
		out_list_begin(o, "languages", "languages");
		for (size_t i = 0; i < ct->n_languages; i++) {
			out_text(o, NULL, NULL, ct->languages[i], strlen(ct->languages[i]));
		}
		out_list_end(o);
	} else {
		/* One line for people: "fr, en, es". */
		char joined[CONTACT_LANGUAGES_MAX * (ROSTER_TEXT_MAX + 2) + 1] = "";
		for (size_t i = 0; i < ct->n_languages; i++) {
			if (i > 0) {
				strcat(joined, ", ");
			}
			strncat(joined, ct->languages[i], ROSTER_TEXT_MAX);
		}
		out_text(o, "languages", "languages", joined, strlen(joined));
	}
	out_text(o, "channels", "channels", ct->channels, strlen(ct->channels));
	out_item_end(o);
}

static void print_states(struct out *o, const Dx__ContactsResult *r)
{
	out_list_begin(o, "states", "States");
	for (size_t i = 0; i < r->n_states; i++) {
		const Dx__StateContacts *sc = r->states[i];
		out_item_begin(o);
		out_text(o, "state", "State", sc->state, strlen(sc->state));
		out_text(o, "name", "name", sc->name, strlen(sc->name));
		out_text(o, "fingerprint", "signed by", sc->fingerprint, strlen(sc->fingerprint));
		out_list_begin(o, "contacts", "contacts");
		for (size_t k = 0; k < sc->n_contacts; k++) {
			print_contact(o, sc->contacts[k]);
		}
		out_list_end(o);
		out_item_end(o);
	}
	out_list_end(o);
}

static int call_and_print(struct cli *c, Dx__ControlRequest *req, const char *what)
{
	Dx__ControlResponse *resp = NULL;
	int status = cli_ctl_call(c, req, &resp, "%s", what);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	struct out o;
	out_init(&o, c);
	print_states(&o, resp->result_case == DX__CONTROL_RESPONSE__RESULT_CONTACTS
				 ? resp->contacts
				 : resp->set_contacts);
	cli_ctl_free(resp);
	return out_finish(&o, c);
}

/* A string member: absent is "", anything but a string is refused. */
static int member_str(struct cli *c, json_t *obj, const char *key, size_t i, const char **out)
{
	json_t *v = json_object_get(obj, key);
	*out = "";
	if (v == NULL) {
		return CLI_CONTINUE;
	}
	if (!json_is_string(v) || json_string_length(v) > ROSTER_TEXT_MAX) {
		return cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL",
				"contacts[%zu].%s must be a string of at most %d bytes", i, key,
				ROSTER_TEXT_MAX);
	}
	*out = json_string_value(v);
	return CLI_CONTINUE;
}

static int parse_contact(struct cli *c, json_t *obj, size_t i, Dx__Contact *ct,
			 const char **langs)
{
	static const char *const keys[] = { "role",  "agency",	  "name",    "email",
					    "phone", "languages", "channels" };
	const char *k;
	json_t *v;
	if (!json_is_object(obj)) {
		return cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL", "contacts[%zu] must be an object", i);
	}
	json_object_foreach(obj, k, v)
	{
		int known = 0;
		for (size_t j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
			known |= strcmp(k, keys[j]) == 0;
		}
		if (!known) {
			return cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL",
					"contacts[%zu]: unknown key '%s'", i, k);
		}
	}
	int st;
	if ((st = member_str(c, obj, "role", i, (const char **)&ct->role)) != CLI_CONTINUE ||
	    (st = member_str(c, obj, "agency", i, (const char **)&ct->agency)) != CLI_CONTINUE ||
	    (st = member_str(c, obj, "name", i, (const char **)&ct->name)) != CLI_CONTINUE ||
	    (st = member_str(c, obj, "email", i, (const char **)&ct->email)) != CLI_CONTINUE ||
	    (st = member_str(c, obj, "phone", i, (const char **)&ct->phone)) != CLI_CONTINUE ||
	    (st = member_str(c, obj, "channels", i, (const char **)&ct->channels)) != CLI_CONTINUE) {
		return st;
	}
	json_t *l = json_object_get(obj, "languages");
	if (l != NULL) {
		if (!json_is_array(l) || json_array_size(l) > CONTACT_LANGUAGES_MAX) {
			return cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL",
					"contacts[%zu].languages must be a list of at most %d "
					"strings",
					i, CONTACT_LANGUAGES_MAX);
		}
		for (size_t j = 0; j < json_array_size(l); j++) {
			json_t *s = json_array_get(l, j);
			if (!json_is_string(s) || json_string_length(s) > ROSTER_TEXT_MAX) {
				return cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL",
						"contacts[%zu].languages[%zu] must be a string", i, j);
			}
			langs[j] = json_string_value(s);
		}
		ct->languages = (char **)langs;
		ct->n_languages = json_array_size(l);
	}
	return CLI_CONTINUE;
}

static int publish(struct cli *c, const char *path)
{
	Dx__Contact cts[ROSTER_MAX_CONTACTS], *ptrs[ROSTER_MAX_CONTACTS];
	const char *langs[ROSTER_MAX_CONTACTS][CONTACT_LANGUAGES_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	json_error_t jerr;
	int rc = dx_read_file(path, CONTACTS_FILE_MAX, &buf, &len);
	if (rc != DX_OK) {
		return cli_error(c, rc, "reading %s (at most %d bytes)", path, CONTACTS_FILE_MAX);
	}
	json_t *root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	int status = CLI_CONTINUE;
	json_t *list = root != NULL ? json_object_get(root, "contacts") : NULL;
	if (root == NULL) {
		status = cli_fail(c, CLI_EXIT_USAGE, "DX_EPARSE", "%s:%d: %s", path, jerr.line,
				  jerr.text);
	} else if (!json_is_object(root) || json_object_size(root) != 1 || !json_is_array(list) ||
		   json_array_size(list) > ROSTER_MAX_CONTACTS) {
		status = cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL",
				  "%s must be {\"contacts\": [...]} with at most %d records", path,
				  ROSTER_MAX_CONTACTS);
	}
	size_t n = status == CLI_CONTINUE ? json_array_size(list) : 0;
	for (size_t i = 0; status == CLI_CONTINUE && i < n; i++) {
		dx__contact__init(&cts[i]);
		ptrs[i] = &cts[i];
		status = parse_contact(c, json_array_get(list, i), i, &cts[i], langs[i]);
	}
	if (status == CLI_CONTINUE) {
		Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
		Dx__SetContactsOp op = DX__SET_CONTACTS_OP__INIT;
		op.contacts = ptrs;
		op.n_contacts = n;
		req.op_case = DX__CONTROL_REQUEST__OP_SET_CONTACTS;
		req.set_contacts = &op;
		status = call_and_print(c, &req, "publishing this State's contacts");
	}
	json_decref(root);
	return status;
}

static int cmd_contacts_fn(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 },
	};
	int status = cli_opt_parse_common(c, v, argc, argv, longopts);
	if (status != CLI_CONTINUE) {
		return status;
	}
	int left = argc - optind;
	if (left >= 1 && strcmp(argv[optind], "publish") == 0) {
		if (left != 2) {
			return cli_usage(c, "publish takes one FILE");
		}
		return publish(c, argv[optind + 1]);
	}
	if (left > 1) {
		return cli_usage(c, "unexpected argument '%s'", argv[optind + 1]);
	}
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__ContactsOp op = DX__CONTACTS_OP__INIT;
	op.state = left == 1 ? argv[optind] : "";
	req.op_case = DX__CONTROL_REQUEST__OP_CONTACTS;
	req.contacts = &op;
	return call_and_print(c, &req, "listing contacts");
}

const struct cli_verb cli_cmd_contacts = { "contacts", cmd_contacts_fn,
					   "the States' published contact points", contacts_usage };
