/*
 * roster.c: building, signing and verifying roster entries (PROTOCOL.md 4.4).
 *
 * An entry is a serialized dx.RosterEntry, carried as bytes inside a
 * dx.SignedRosterEntry together with the identity key's signature over
 * "divex/v1/roster-entry" || 0x00 || those exact bytes. Verification decodes
 * both layers canonically, checks the sizes of every key and signature,
 * verifies the outer signature before anything inside is trusted, then the
 * static key's and every prekey's signature, then the contacts. A verified
 * struct roster_entry owns its parsed message and a copy of the signed bytes.
 * Nothing here keeps state; the functions are thread-safe.
 */
#include "roster.h"

#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "wire.pb-c.h"

/* At most this many languages per contact (PROTOCOL.md 4.4). */
#define ROSTER_MAX_LANGUAGES 16

static const char LABEL_ROSTER_ENTRY[] = "divex/v1/roster-entry";

/* The signed statement: label, its NUL, and the entry bytes. */
static int entry_statement(const uint8_t *entry, size_t len, uint8_t **out, size_t *out_len)
{
	if (len > ROSTER_ENTRY_MAX) {
		return DX_ETOOBIG;
	}
	size_t n = sizeof(LABEL_ROSTER_ENTRY) + len;
	uint8_t *buf = malloc(n);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	memcpy(buf, LABEL_ROSTER_ENTRY, sizeof(LABEL_ROSTER_ENTRY));
	if (len > 0) {
		memcpy(buf + sizeof(LABEL_ROSTER_ENTRY), entry, len);
	}
	*out = buf;
	*out_len = n;
	return DX_OK;
}

/*
 * Decodes one UTF-8 sequence at p (before end) into *cp and returns its
 * length, or 0 when it is malformed: a stray continuation byte, a truncated
 * sequence, an overlong form, a surrogate, or a value past U+10FFFF.
 */
static size_t utf8_next(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
	size_t len;
	uint32_t v, min;
	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xe0) == 0xc0) {
		len = 2;
		v = p[0] & 0x1f;
		min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		len = 3;
		v = p[0] & 0x0f;
		min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		len = 4;
		v = p[0] & 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < len) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			return 0;
		}
		v = (v << 6) | (p[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
		return 0;
	}
	*cp = v;
	return len;
}

/*
 * Text fields are at most ROSTER_TEXT_MAX bytes of UTF-8 (which proto3
 * requires of strings, though protobuf-c does not check it) without control
 * characters: no C0 control, no DEL, no C1 control. They are shown to
 * officials, so nothing in them may steer a terminal.
 */
int roster_text_valid(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);
	if (n > max) {
		return 0;
	}
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		uint32_t cp;
		size_t len = utf8_next(p, end, &cp);
		if (len == 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) {
			return 0;
		}
		p += len;
	}
	return 1;
}

static int text_ok(const char *s)
{
	return roster_text_valid(s, ROSTER_TEXT_MAX);
}

static int contact_ok(const Dx__Contact *c)
{
	if (c->n_languages > ROSTER_MAX_LANGUAGES) {
		return 0;
	}
	if (!text_ok(c->role) || !text_ok(c->agency) || !text_ok(c->name) || !text_ok(c->email) ||
	    !text_ok(c->phone) || !text_ok(c->channels)) {
		return 0;
	}
	for (size_t i = 0; i < c->n_languages; i++) {
		if (!text_ok(c->languages[i])) {
			return 0;
		}
	}
	return 1;
}

static char *or_empty(const char *s)
{
	return (char *)(s != NULL ? s : "");
}

/*
 * Fills c from the caller's contact. The protobuf fields are not const, but
 * packing only reads them.
 */
static int set_contact(Dx__Contact *c, const struct roster_contact *in)
{
	dx__contact__init(c);
	if (in->n_languages > ROSTER_MAX_LANGUAGES) {
		return DX_EROSTER;
	}
	if (in->n_languages > 0 && in->languages == NULL) {
		return DX_EINVAL;
	}
	for (size_t i = 0; i < in->n_languages; i++) {
		if (in->languages[i] == NULL) {
			return DX_EINVAL;
		}
	}
	c->role = or_empty(in->role);
	c->agency = or_empty(in->agency);
	c->name = or_empty(in->name);
	c->email = or_empty(in->email);
	c->phone = or_empty(in->phone);
	c->channels = or_empty(in->channels);
	c->n_languages = in->n_languages;
	c->languages = (char **)in->languages;
	return DX_OK;
}

/* Signs entry bytes and wraps them in a serialized SignedRosterEntry. */
static int sign_entry(const struct keys *k, uint8_t *entry, size_t entry_len, uint8_t **out,
		      size_t *out_len)
{
	uint8_t sig[KEYS_SIG_LEN];
	uint8_t *stmt = NULL;
	size_t stmt_len = 0;
	int rc = entry_statement(entry, entry_len, &stmt, &stmt_len);
	if (rc != DX_OK) {
		return rc;
	}
	keys_sign(k, sig, stmt, stmt_len);
	free(stmt);

	Dx__SignedRosterEntry sre = DX__SIGNED_ROSTER_ENTRY__INIT;
	sre.entry.data = entry;
	sre.entry.len = entry_len;
	sre.signature.data = sig;
	sre.signature.len = KEYS_SIG_LEN;
	return proto_pack_alloc(&sre.base, out, out_len);
}

int roster_entry_build(const struct keys *k, const char *display_name,
		       const struct roster_contact *contacts, size_t n_contacts, uint64_t now_ms,
		       uint8_t **out, size_t *out_len)
{
	Dx__RosterEntry re = DX__ROSTER_ENTRY__INIT;
	Dx__SignedPrekey pre[KEYS_MAX_PREKEYS];
	Dx__SignedPrekey *pre_ptr[KEYS_MAX_PREKEYS];
	Dx__Contact con[ROSTER_MAX_CONTACTS];
	Dx__Contact *con_ptr[ROSTER_MAX_CONTACTS];
	uint8_t identity_pk[KEYS_SIGN_PK_LEN], static_pk[KEYS_DH_PK_LEN], static_sig[KEYS_SIG_LEN];

	if (k == NULL || out == NULL || out_len == NULL || (contacts == NULL && n_contacts > 0)) {
		return DX_EINVAL;
	}
	if (n_contacts > ROSTER_MAX_CONTACTS) {
		return DX_EROSTER;
	}
	keys_identity_pk(k, identity_pk);
	keys_static_pk(k, static_pk);
	keys_static_sig(k, static_sig);
	re.state = (char *)keys_state(k);
	re.name = or_empty(display_name);
	re.identity_key = (ProtobufCBinaryData){ KEYS_SIGN_PK_LEN, identity_pk };
	re.static_key = (ProtobufCBinaryData){ KEYS_DH_PK_LEN, static_pk };
	re.static_key_signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, static_sig };

	size_t n = 0;
	for (size_t i = 0; i < keys_prekey_count(k); i++) {
		const struct keys_prekey *p = keys_prekey_at(k, i);
		if (p->erased_ms != 0 || p->valid_until_ms <= now_ms) {
			continue;
		}
		dx__signed_prekey__init(&pre[n]);
		pre[n].public_key = (ProtobufCBinaryData){ KEYS_DH_PK_LEN, (uint8_t *)p->pk };
		pre[n].valid_from_ms = p->valid_from_ms;
		pre[n].valid_until_ms = p->valid_until_ms;
		pre[n].signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, (uint8_t *)p->sig };
		pre_ptr[n] = &pre[n];
		n++;
	}
	re.n_prekeys = n;
	re.prekeys = pre_ptr;
	for (size_t i = 0; i < n_contacts; i++) {
		int rc = set_contact(&con[i], &contacts[i]);
		if (rc != DX_OK) {
			return rc;
		}
		con_ptr[i] = &con[i];
	}
	re.n_contacts = n_contacts;
	re.contacts = con_ptr;
	re.issued_ms = now_ms;

	uint8_t *entry = NULL, *signed_buf = NULL;
	size_t entry_len = 0, signed_len = 0;
	struct roster_entry *check = NULL;
	int rc = proto_pack_alloc(&re.base, &entry, &entry_len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = sign_entry(k, entry, entry_len, &signed_buf, &signed_len);
	if (rc != DX_OK) {
		goto out;
	}
	/* Never hand out an entry that others would refuse: verify our own. */
	rc = roster_entry_verify(signed_buf, signed_len, &check);
	if (rc != DX_OK) {
		free(signed_buf);
		goto out;
	}
	roster_entry_free(check);
	*out = signed_buf;
	*out_len = signed_len;
out:
	free(entry);
	return rc;
}

/* Sizes of the keys and signatures, and the State code. */
static int check_shape(const Dx__RosterEntry *re)
{
	if (re->identity_key.len != KEYS_SIGN_PK_LEN || re->static_key.len != KEYS_DH_PK_LEN ||
	    re->static_key_signature.len != KEYS_SIG_LEN) {
		return DX_EROSTER;
	}
	if (!dx_state_valid(re->state)) {
		return DX_ESTATE_CODE;
	}
	return DX_OK;
}

static int check_outer_sig(const Dx__SignedRosterEntry *sre, const Dx__RosterEntry *re)
{
	uint8_t *stmt = NULL;
	size_t stmt_len = 0;
	int rc = entry_statement(sre->entry.data, sre->entry.len, &stmt, &stmt_len);
	if (rc != DX_OK) {
		return rc;
	}
	if (crypto_sign_verify_detached(sre->signature.data, stmt, stmt_len,
					re->identity_key.data) != 0) {
		rc = DX_ESIG;
	}
	free(stmt);
	return rc;
}

static int check_prekeys(const Dx__RosterEntry *re)
{
	if (re->n_prekeys == 0 || re->n_prekeys > KEYS_MAX_PREKEYS) {
		return DX_EROSTER;
	}
	for (size_t i = 0; i < re->n_prekeys; i++) {
		const Dx__SignedPrekey *p = re->prekeys[i];
		if (p->public_key.len != KEYS_DH_PK_LEN || p->signature.len != KEYS_SIG_LEN ||
		    p->valid_from_ms >= p->valid_until_ms) {
			return DX_EROSTER;
		}
		int rc = keys_verify_prekey(re->state, re->identity_key.data, p->public_key.data,
					    p->valid_from_ms, p->valid_until_ms, p->signature.data);
		if (rc != DX_OK) {
			return rc;
		}
	}
	return DX_OK;
}

static int check_contents(const Dx__RosterEntry *re)
{
	if (re->n_contacts > ROSTER_MAX_CONTACTS || !text_ok(re->name)) {
		return DX_EROSTER;
	}
	for (size_t i = 0; i < re->n_contacts; i++) {
		if (!contact_ok(re->contacts[i])) {
			return DX_EROSTER;
		}
	}
	if (re->issued_ms == 0) {
		return DX_EROSTER;
	}
	return DX_OK;
}

/* The order of checks is normative (PROTOCOL.md 4.4): it fixes which error a
 * given bad entry gets. */
static int check_entry(const Dx__SignedRosterEntry *sre, const Dx__RosterEntry *re)
{
	int rc = check_shape(re);
	if (rc != DX_OK) {
		return rc;
	}
	rc = check_outer_sig(sre, re);
	if (rc != DX_OK) {
		return rc;
	}
	rc = keys_verify_static(re->state, re->identity_key.data, re->static_key.data,
				re->static_key_signature.data);
	if (rc != DX_OK) {
		return rc;
	}
	rc = check_prekeys(re);
	if (rc != DX_OK) {
		return rc;
	}
	return check_contents(re);
}

/* Copies the verified facts into a new entry, which takes ownership of re. */
static int fill_entry(Dx__RosterEntry *re, const uint8_t *buf, size_t len,
		      struct roster_entry **out)
{
	struct roster_entry *e = calloc(1, sizeof(*e));
	if (e == NULL) {
		return DX_ENOMEM;
	}
	e->signed_bytes = malloc(len);
	if (e->signed_bytes == NULL) {
		free(e);
		return DX_ENOMEM;
	}
	memcpy(e->signed_bytes, buf, len);
	e->signed_len = len;
	memcpy(e->state, re->state, DX_STATE_LEN + 1);
	e->name = re->name;
	memcpy(e->identity_pk, re->identity_key.data, KEYS_SIGN_PK_LEN);
	keys_key_id(e->identity_id, e->identity_pk);
	memcpy(e->static_pk, re->static_key.data, KEYS_DH_PK_LEN);
	keys_key_id(e->static_id, e->static_pk);
	e->n_prekeys = re->n_prekeys;
	for (size_t i = 0; i < re->n_prekeys; i++) {
		struct roster_prekey *p = &e->prekeys[i];
		memcpy(p->pk, re->prekeys[i]->public_key.data, KEYS_DH_PK_LEN);
		keys_key_id(p->id, p->pk);
		p->valid_from_ms = re->prekeys[i]->valid_from_ms;
		p->valid_until_ms = re->prekeys[i]->valid_until_ms;
	}
	e->issued_ms = re->issued_ms;
	e->msg = re;
	*out = e;
	return DX_OK;
}

int roster_entry_verify(const uint8_t *buf, size_t len, struct roster_entry **out)
{
	ProtobufCMessage *outer = NULL, *inner = NULL;
	if ((buf == NULL && len > 0) || out == NULL) {
		return DX_EINVAL;
	}
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	int rc = proto_unpack_strict(&dx__signed_roster_entry__descriptor, buf, len,
				     ROSTER_ENTRY_MAX, &outer);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__SignedRosterEntry *sre = (const Dx__SignedRosterEntry *)outer;
	if (sre->signature.len != KEYS_SIG_LEN || sre->entry.len == 0) {
		rc = DX_EPARSE;
		goto out;
	}
	rc = proto_unpack_strict(&dx__roster_entry__descriptor, sre->entry.data, sre->entry.len,
				 ROSTER_ENTRY_MAX, &inner);
	if (rc != DX_OK) {
		rc = rc == DX_ENOMEM ? DX_ENOMEM : DX_EPARSE;
		goto out;
	}
	rc = check_entry(sre, (const Dx__RosterEntry *)inner);
	if (rc != DX_OK) {
		goto out;
	}
	rc = fill_entry((Dx__RosterEntry *)inner, buf, len, out);
	if (rc == DX_OK) {
		inner = NULL; /* now owned by *out */
	}
out:
	if (inner != NULL) {
		protobuf_c_message_free_unpacked(inner, NULL);
	}
	protobuf_c_message_free_unpacked(outer, NULL);
	return rc;
}

void roster_entry_free(struct roster_entry *e)
{
	if (e == NULL) {
		return;
	}
	if (e->msg != NULL) {
		protobuf_c_message_free_unpacked(&e->msg->base, NULL);
	}
	free(e->signed_bytes);
	free(e);
}

const struct roster_prekey *roster_entry_current_prekey(const struct roster_entry *e,
							uint64_t now_ms)
{
	const struct roster_prekey *best = NULL;
	for (size_t i = 0; i < e->n_prekeys; i++) {
		const struct roster_prekey *p = &e->prekeys[i];
		if (now_ms < p->valid_from_ms || now_ms >= p->valid_until_ms) {
			continue;
		}
		if (best == NULL || p->valid_from_ms >= best->valid_from_ms) {
			best = p;
		}
	}
	return best;
}

size_t roster_entry_contacts(const struct roster_entry *e, struct roster_contact *out, size_t max)
{
	const Dx__RosterEntry *m = e->msg;
	size_t n = 0;
	for (size_t i = 0; m != NULL && i < m->n_contacts && n < max; i++) {
		const Dx__Contact *src = m->contacts[i];
		struct roster_contact *dst = &out[n++];
		dst->role = src->role;
		dst->agency = src->agency;
		dst->name = src->name;
		dst->email = src->email;
		dst->phone = src->phone;
		dst->channels = src->channels;
		dst->languages = (const char *const *)src->languages;
		dst->n_languages = src->n_languages;
	}
	return n;
}
