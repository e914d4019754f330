/*
 * cmd_entry.c: `divex entry`: checking a roster entry file offline. An entry
 * is self-signed: verification proves the file is intact and consistent with
 * the identity key it names, not that the key belongs to that State. The
 * fingerprint, compared out of band, is what proves the latter. Everything in
 * the entry came from another party and is escaped before it is printed.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "wire.pb-c.h"

static void text_field(struct out *o, const char *key, const char *label, const char *s)
{
	if (s != NULL && s[0] != '\0') {
		out_text(o, key, label, s, strlen(s));
	}
}

static void print_contacts(struct out *o, const struct roster_entry *e)
{
	const Dx__RosterEntry *m = e->msg;
	out_list_begin(o, "contacts", "Contacts");
	for (size_t i = 0; m != NULL && i < m->n_contacts; i++) {
		const Dx__Contact *ct = m->contacts[i];
		out_item_begin(o);
		text_field(o, "role", "role", ct->role);
		text_field(o, "agency", "agency", ct->agency);
		text_field(o, "name", "name", ct->name);
		text_field(o, "email", "email", ct->email);
		text_field(o, "phone", "phone", ct->phone);
		text_field(o, "channels", "channels", ct->channels);
		if (ct->n_languages > 0) {
			out_list_begin(o, "languages", "languages");
			for (size_t j = 0; j < ct->n_languages; j++) {
				out_text(o, NULL, "", ct->languages[j], strlen(ct->languages[j]));
			}
			out_list_end(o);
		}
		out_item_end(o);
	}
	out_list_end(o);
}

static void print_entry(struct out *o, const struct roster_entry *e, uint64_t now_ms)
{
	char fp[KEYS_FP_STR_LEN];
	const struct roster_prekey *cur = roster_entry_current_prekey(e, now_ms);

	keys_fingerprint(fp, e->state, e->identity_pk);
	out_str(o, "state", "State", e->state);
	text_field(o, "name", "Name", e->name);
	out_str(o, "fingerprint", "Fingerprint", fp);
	out_hex(o, "identity_key_id", "Identity key id", e->identity_id, KEYS_ID_LEN);
	out_hex(o, "identity_key", "Identity key", e->identity_pk, KEYS_SIGN_PK_LEN);
	out_hex(o, "static_key_id", "Static key id", e->static_id, KEYS_ID_LEN);
	out_time(o, "issued", "Issued", e->issued_ms);
	out_str(o, "signature", "Signatures", "valid (entry, static key and every prekey)");
	out_list_begin(o, "prekeys", "Prekeys");
	for (size_t i = 0; i < e->n_prekeys; i++) {
		const struct roster_prekey *p = &e->prekeys[i];
		out_item_begin(o);
		out_hex(o, "id", "id", p->id, KEYS_ID_LEN);
		out_time(o, "valid_from", "valid from", p->valid_from_ms);
		out_time(o, "valid_until", "valid until", p->valid_until_ms);
		out_bool(o, "current", "current", p == cur);
		out_item_end(o);
	}
	out_list_end(o);
	print_contacts(o, e);
}

/* clang-format off */
static const char show_usage[] =
	"usage: divex entry show FILE [options]\n"
	"\n"
	"Verifies a roster entry file (for example another State's enrollment.dxe)\n"
	"with nothing but the file: its encoding, its self-signature, the signature\n"
	"over the static key and over every prekey. Prints the State, its\n"
	"fingerprint, key ids, prekeys and contacts. Compare the fingerprint with the\n"
	"one that State gave you by another channel before trusting the entry.\n"
	"Exits with status 3 if the entry fails verification.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int entry_show(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 },
	};
	int status = cli_opt_parse_common(c, v, argc, argv, longopts);
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give exactly one entry FILE");
	}
	const char *path = argv[optind];
	struct roster_entry *e = NULL;
	if ((status = cli_load_entry(c, path, &e)) != CLI_EXIT_OK) {
		return status;
	}
	struct out o;
	out_init(&o, c);
	print_entry(&o, e, dx_now_ms());
	out_note(&o,
		 "\nThe entry is intact and self-consistent. Before trusting it, compare the\n"
		 "fingerprint with the one %s gave you by another channel.",
		 e->state);
	status = out_finish(&o, c);
	roster_entry_free(e);
	return status;
}

static const struct cli_verb verbs[] = {
	{ "show", entry_show, "verify a roster entry file and print what it holds", show_usage },
};

int cmd_entry(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "entry", verbs, sizeof(verbs) / sizeof(verbs[0]),
			    "Roster entries: the self-signed public description of a State.\n",
			    argc, argv);
}
