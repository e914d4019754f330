/*
 * node_ctl_contacts.c: the directory of contact points (ToR rule 20; the
 * Mexico working paper's database of national points of contact).
 *
 * Each State publishes its contact records (its national point of contact,
 * its enforcement authorities with agency, role, channels and languages)
 * inside its self-signed roster entry, so that the Secretariat can carry them
 * but not alter them. `contacts` lists them from the node's roster mirror,
 * checked again against the pinned key; `set_contacts` has the node rebuild,
 * sign and publish this State's entry with new records.
 */
#include <stdlib.h>
#include <string.h>

#include "node_control.h"
#include "roster.h"
#include "wire.pb-c.h"

#define CONTACTS_STATES_MAX 512

struct contacts_ctx {
	struct ctl_call *c;
	const char *only;
	Dx__ContactsResult *res;
	int rc;
};

/* Copies one contact into call memory, so that it outlives the entry it came from. */
static Dx__Contact *copy_contact(struct ctl_call *c, const Dx__Contact *src)
{
	Dx__Contact *d = ctl_alloc(c, sizeof(*d));
	if (d == NULL) {
		return NULL;
	}
	dx__contact__init(d);
	d->role = ctl_strdup(c, src->role);
	d->agency = ctl_strdup(c, src->agency);
	d->name = ctl_strdup(c, src->name);
	d->email = ctl_strdup(c, src->email);
	d->phone = ctl_strdup(c, src->phone);
	d->channels = ctl_strdup(c, src->channels);
	if (src->n_languages > 0) {
		d->languages = ctl_alloc(c, src->n_languages * sizeof(char *));
		if (d->languages == NULL) {
			return NULL;
		}
		for (size_t i = 0; i < src->n_languages; i++) {
			d->languages[i] = ctl_strdup(c, src->languages[i]);
		}
		d->n_languages = src->n_languages;
	}
	return d;
}

static int add_state(void *ctx, const struct node_store_roster_info *r)
{
	struct contacts_ctx *x = ctx;
	struct ctl_call *c = x->c;
	struct roster_entry *e = NULL;
	uint8_t *entry = NULL;
	size_t len = 0;
	char fp[KEYS_FP_STR_LEN];
	struct node_store_roster_info held;
	if ((x->only != NULL && strcmp(x->only, r->state) != 0) ||
	    x->res->n_states == CONTACTS_STATES_MAX) {
		return 0;
	}
	if (node_store_roster_get(c->n->store, r->state, &held, &entry, &len) != DX_OK) {
		return 0;
	}
	int rc = roster_entry_verify(entry, len, &e);
	free(entry);
	/* Only records signed by the pinned key are shown. */
	if (rc != DX_OK || memcmp(e->identity_pk, r->identity_pk, KEYS_SIGN_PK_LEN) != 0) {
		roster_entry_free(e);
		return 0;
	}
	Dx__StateContacts *sc = ctl_alloc(c, sizeof(*sc));
	const Dx__RosterEntry *m = e->msg;
	if (sc == NULL) {
		roster_entry_free(e);
		return DX_ENOMEM;
	}
	dx__state_contacts__init(sc);
	sc->state = ctl_strdup(c, r->state);
	sc->name = ctl_strdup(c, e->name != NULL ? e->name : "");
	keys_fingerprint(fp, r->state, r->identity_pk);
	sc->fingerprint = ctl_strdup(c, fp);
	if (m->n_contacts > 0) {
		sc->contacts = ctl_alloc(c, m->n_contacts * sizeof(*sc->contacts));
		if (sc->contacts == NULL) {
			roster_entry_free(e);
			return DX_ENOMEM;
		}
		for (size_t i = 0; i < m->n_contacts; i++) {
			if ((sc->contacts[i] = copy_contact(c, m->contacts[i])) == NULL) {
				roster_entry_free(e);
				return DX_ENOMEM;
			}
		}
		sc->n_contacts = m->n_contacts;
	}
	roster_entry_free(e);
	x->res->states[x->res->n_states++] = sc;
	return 0;
}

static int list_contacts(struct ctl_call *c, const char *only, Dx__ContactsResult **out)
{
	struct contacts_ctx x = { .c = c, .only = only };
	x.res = ctl_alloc(c, sizeof(*x.res));
	if (x.res == NULL) {
		return DX_ENOMEM;
	}
	dx__contacts_result__init(x.res);
	x.res->states = ctl_alloc(c, CONTACTS_STATES_MAX * sizeof(*x.res->states));
	if (x.res->states == NULL) {
		return DX_ENOMEM;
	}
	int rc = node_store_roster_list(c->n->store, add_state, &x);
	if (rc != DX_OK) {
		return rc;
	}
	if (only != NULL && x.res->n_states == 0) {
		return ctl_fail(c, DX_ENOENT, "%s is not in this node's roster", only);
	}
	*out = x.res;
	return DX_OK;
}

int ctl_contacts(struct ctl_call *c)
{
	const char *st = c->in->contacts->state;
	if (st[0] != '\0' && !dx_state_valid(st)) {
		return ctl_fail(c, DX_ESTATE_CODE, "'%s' is not a State code", st);
	}
	Dx__ContactsResult *res = NULL;
	int rc = list_contacts(c, st[0] != '\0' ? st : NULL, &res);
	if (rc != DX_OK) {
		return rc;
	}
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_CONTACTS;
	c->out.contacts = res;
	return DX_OK;
}

static int text_ok(const char *s)
{
	return s[0] == '\0' || roster_text_valid(s, ROSTER_TEXT_MAX);
}

int ctl_set_contacts(struct ctl_call *c)
{
	const Dx__SetContactsOp *op = c->in->set_contacts;
	struct roster_contact list[ROSTER_MAX_CONTACTS];
	if (op->n_contacts > ROSTER_MAX_CONTACTS) {
		return ctl_fail(c, DX_ETOOBIG, "at most %d contact records", ROSTER_MAX_CONTACTS);
	}
	for (size_t i = 0; i < op->n_contacts; i++) {
		const Dx__Contact *ct = op->contacts[i];
		int ok = strcmp(ct->role, "point-of-contact") == 0 || strcmp(ct->role, "enforcement") == 0;
		ok = ok && text_ok(ct->agency) && text_ok(ct->name) && text_ok(ct->email) &&
		     text_ok(ct->phone) && text_ok(ct->channels) && ct->n_languages <= 16;
		for (size_t k = 0; ok && k < ct->n_languages; k++) {
			ok = ct->languages[k][0] != '\0' && text_ok(ct->languages[k]);
		}
		if (!ok) {
			return ctl_fail(c, DX_EINVAL,
					"contact %zu: role must be point-of-contact or enforcement, "
					"texts printable and at most %d bytes, at most 16 languages",
					i + 1, ROSTER_TEXT_MAX);
		}
		list[i] = (struct roster_contact){
			.role = ct->role,
			.agency = ct->agency,
			.name = ct->name,
			.email = ct->email,
			.phone = ct->phone,
			.channels = ct->channels,
			.languages = (const char *const *)ct->languages,
			.n_languages = ct->n_languages,
		};
	}
	int rc = node_roster_set_contacts(c->n, list, op->n_contacts);
	if (rc == DX_EBUSY) {
		return ctl_fail(c, rc, "this State's roster entry is being published; try again in "
				       "a moment");
	}
	if (rc != DX_OK) {
		return rc;
	}
	/* The answer shows what was published; the mirror follows at the next sync. */
	Dx__ContactsResult *res = ctl_alloc(c, sizeof(*res));
	Dx__StateContacts *sc = ctl_alloc(c, sizeof(*sc));
	Dx__StateContacts **states = ctl_alloc(c, sizeof(*states));
	if (res == NULL || sc == NULL || states == NULL) {
		return DX_ENOMEM;
	}
	dx__contacts_result__init(res);
	dx__state_contacts__init(sc);
	uint8_t pk[KEYS_SIGN_PK_LEN];
	char fp[KEYS_FP_STR_LEN];
	keys_identity_pk(c->n->keys, pk);
	keys_fingerprint(fp, keys_state(c->n->keys), pk);
	sc->state = (char *)keys_state(c->n->keys);
	sc->fingerprint = ctl_strdup(c, fp);
	sc->contacts = op->contacts;
	sc->n_contacts = op->n_contacts;
	states[0] = sc;
	res->states = states;
	res->n_states = 1;
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_SET_CONTACTS;
	c->out.set_contacts = res;
	return DX_OK;
}
