/*
 * test_roster.c: roster entries: known-answer vectors, build and verify round
 * trips, which prekeys are published, every flipped byte refused, forgeries
 * (re-signed by another State, swapped identity key, bad prekey signatures),
 * size caps, non-canonical encodings, text rules, and prekey selection.
 *
 * DIVEX_REGEN_VECTORS=1 rewrites tests/vectors/roster-entries.json and the
 * fuzzing seed corpus in tests/fuzz/corpus/roster/ instead of checking them.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "roster.h"
#include "testlib.h"
#include "wire.pb-c.h"

#define T0 1700000000000ull
#define HOUR_MS (60ull * 60 * 1000)
#define P KEYS_PREKEY_PERIOD_MS
#define VECTOR_FILE "tests/vectors/roster-entries.json"

static const char *const LANGS_FR[] = { "fr", "en" };
static const char *const LANGS_ES[] = { "es" };
static const struct roster_contact CONTACTS[] = {
	{ .role = "point-of-contact",
	  .agency = "Ministère de la Justice",
	  .name = "A. Martin",
	  .email = "poc@justice.example",
	  .phone = "+33 1 00 00 00 00",
	  .channels = "divex, email",
	  .languages = LANGS_FR,
	  .n_languages = 2 },
	{ .role = "enforcement",
	  .agency = "Police nationale",
	  .name = "B. Durand",
	  .languages = LANGS_ES,
	  .n_languages = 1 },
};

static const char LABEL[] = "divex/v1/roster-entry";

/*
 * A key set with three prekeys: p0 [T0, T0+P), p1 [T0+P-1h, T0+2P-1h) and
 * p2 [T0+2P-1h, T0+3P-1h). At T0+P+1h, p0 has expired and p2 is not yet valid.
 */
static struct keys *make_keys(const char *state, const uint8_t *seed)
{
	struct keys *k = NULL;
	assert_dx_ok(keys_generate(state, T0, P, seed, &k));
	assert_dx_ok(keys_rotate_prekey(k, T0 + P - HOUR_MS, P));
	assert_dx_ok(keys_rotate_prekey(k, T0 + 2 * P - HOUR_MS, P));
	return k;
}

static uint8_t *build(const struct keys *k, uint64_t now, size_t *len)
{
	uint8_t *buf = NULL;
	assert_dx_ok(roster_entry_build(k, "France", CONTACTS, 2, now, &buf, len));
	return buf;
}

static void test_round_trip(void **state)
{
	(void)state;
	const uint64_t now = T0 + P + HOUR_MS;
	struct keys *k = make_keys("FRA", NULL);
	struct roster_entry *e = NULL;
	size_t len;
	uint8_t *buf = build(k, now, &len);
	uint8_t x[KEYS_SIGN_PK_LEN];

	assert_dx_ok(roster_entry_verify(buf, len, &e));
	assert_string_equal(e->state, "FRA");
	assert_string_equal(e->name, "France");
	keys_identity_pk(k, x);
	assert_memory_equal(e->identity_pk, x, sizeof(x));
	keys_identity_id(k, x);
	assert_memory_equal(e->identity_id, x, KEYS_ID_LEN);
	keys_static_pk(k, x);
	assert_memory_equal(e->static_pk, x, sizeof(x));
	keys_static_id(k, x);
	assert_memory_equal(e->static_id, x, KEYS_ID_LEN);
	assert_int_equal(e->issued_ms, now);
	assert_int_equal(e->signed_len, len);
	assert_memory_equal(e->signed_bytes, buf, len);

	/* p0 has expired; p1 is current; p2 is published ahead of its time. */
	assert_int_equal(e->n_prekeys, 2);
	for (size_t i = 0; i < 2; i++) {
		const struct keys_prekey *kp = keys_prekey_at(k, i + 1);
		assert_memory_equal(e->prekeys[i].pk, kp->pk, KEYS_DH_PK_LEN);
		assert_memory_equal(e->prekeys[i].id, kp->id, KEYS_ID_LEN);
		assert_int_equal(e->prekeys[i].valid_from_ms, kp->valid_from_ms);
		assert_int_equal(e->prekeys[i].valid_until_ms, kp->valid_until_ms);
	}

	assert_int_equal(e->msg->n_contacts, 2);
	const Dx__Contact *c = e->msg->contacts[0];
	assert_string_equal(c->role, "point-of-contact");
	assert_string_equal(c->agency, "Ministère de la Justice");
	assert_string_equal(c->name, "A. Martin");
	assert_string_equal(c->email, "poc@justice.example");
	assert_string_equal(c->phone, "+33 1 00 00 00 00");
	assert_string_equal(c->channels, "divex, email");
	assert_int_equal(c->n_languages, 2);
	assert_string_equal(c->languages[1], "en");
	c = e->msg->contacts[1];
	assert_string_equal(c->email, "");
	assert_int_equal(c->n_languages, 1);
	assert_string_equal(c->languages[0], "es");
	roster_entry_free(e);
	roster_entry_free(NULL);
	free(buf);

	/* Erased prekeys are never published. */
	assert_int_equal(keys_erase_expired_prekeys(k, T0 + 2 * P - HOUR_MS + KEYS_PREKEY_GRACE_MS,
						    KEYS_PREKEY_GRACE_MS),
			 2);
	buf = build(k, T0 + 2 * P, &len);
	assert_dx_ok(roster_entry_verify(buf, len, &e));
	assert_int_equal(e->n_prekeys, 1);
	assert_memory_equal(e->prekeys[0].pk, keys_prekey_at(k, 2)->pk, KEYS_DH_PK_LEN);
	roster_entry_free(e);
	free(buf);
	keys_free(k);
}

static void test_current_prekey(void **state)
{
	(void)state;
	struct keys *k = make_keys("MEX", NULL);
	struct roster_entry *e = NULL;
	size_t len;
	uint8_t *buf = build(k, T0, &len);
	assert_dx_ok(roster_entry_verify(buf, len, &e));
	assert_int_equal(e->n_prekeys, 3);
	assert_null(roster_entry_current_prekey(e, T0 - 1));
	assert_ptr_equal(roster_entry_current_prekey(e, T0), &e->prekeys[0]);
	assert_ptr_equal(roster_entry_current_prekey(e, T0 + P - HOUR_MS - 1), &e->prekeys[0]);
	/* Where windows overlap, the newest wins. */
	assert_ptr_equal(roster_entry_current_prekey(e, T0 + P - HOUR_MS), &e->prekeys[1]);
	assert_ptr_equal(roster_entry_current_prekey(e, T0 + 2 * P - HOUR_MS), &e->prekeys[2]);
	assert_ptr_equal(roster_entry_current_prekey(e, T0 + 3 * P - HOUR_MS - 1), &e->prekeys[2]);
	assert_null(roster_entry_current_prekey(e, T0 + 3 * P - HOUR_MS));
	/* The sender's view agrees with the owner's. */
	for (uint64_t t = T0; t < T0 + 3 * P; t += HOUR_MS * 7) {
		const struct roster_prekey *rp = roster_entry_current_prekey(e, t);
		const struct keys_prekey *kp = keys_prekey_current(k, t);
		assert_int_equal(rp == NULL, kp == NULL);
		if (rp != NULL) {
			assert_memory_equal(rp->id, kp->id, KEYS_ID_LEN);
		}
	}
	roster_entry_free(e);
	free(buf);
	keys_free(k);
}

static void test_every_byte_flipped(void **state)
{
	(void)state;
	static const uint8_t masks[] = { 0x01, 0x80, 0xff };
	struct keys *k = make_keys("BFA", NULL);
	struct roster_entry *e = NULL;
	size_t len;
	uint8_t *buf = build(k, T0 + 1, &len);
	for (size_t m = 0; m < sizeof(masks); m++) {
		for (size_t i = 0; i < len; i++) {
			buf[i] ^= masks[m];
			int rc = roster_entry_verify(buf, len, &e);
			if (rc == DX_OK) {
				fail_msg("flip 0x%02x at byte %zu of %zu accepted", masks[m], i,
					 len);
			}
			buf[i] ^= masks[m];
		}
	}
	/* Every truncation too. */
	for (size_t n = 0; n < len; n++) {
		assert_int_not_equal(roster_entry_verify(buf, n, &e), DX_OK);
	}
	assert_null(e);
	assert_dx_ok(roster_entry_verify(buf, len, &e));
	roster_entry_free(e);
	free(buf);
	keys_free(k);
}

/* Decodes the inner RosterEntry of a serialized SignedRosterEntry. */
static Dx__RosterEntry *inner_of(const uint8_t *buf, size_t len)
{
	Dx__SignedRosterEntry *sre = dx__signed_roster_entry__unpack(NULL, len, buf);
	assert_non_null(sre);
	Dx__RosterEntry *re = dx__roster_entry__unpack(NULL, sre->entry.len, sre->entry.data);
	assert_non_null(re);
	dx__signed_roster_entry__free_unpacked(sre, NULL);
	return re;
}

/* Signs arbitrary entry bytes the way PROTOCOL.md 4.4 says, with k. */
static uint8_t *sign_bytes(const struct keys *k, const uint8_t *entry, size_t entry_len,
			   size_t *len)
{
	uint8_t sig[KEYS_SIG_LEN];
	uint8_t *stmt = malloc(sizeof(LABEL) + entry_len);
	assert_non_null(stmt);
	memcpy(stmt, LABEL, sizeof(LABEL));
	memcpy(stmt + sizeof(LABEL), entry, entry_len);
	keys_sign(k, sig, stmt, sizeof(LABEL) + entry_len);
	free(stmt);
	Dx__SignedRosterEntry sre = DX__SIGNED_ROSTER_ENTRY__INIT;
	sre.entry = (ProtobufCBinaryData){ entry_len, (uint8_t *)entry };
	sre.signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, sig };
	uint8_t *out = malloc(dx__signed_roster_entry__get_packed_size(&sre));
	assert_non_null(out);
	*len = dx__signed_roster_entry__pack(&sre, out);
	return out;
}

static uint8_t *sign_entry(const struct keys *k, const Dx__RosterEntry *re, size_t *len)
{
	size_t n = dx__roster_entry__get_packed_size(re);
	uint8_t *entry = malloc(n + 1);
	assert_non_null(entry);
	dx__roster_entry__pack(re, entry);
	uint8_t *out = sign_bytes(k, entry, n, len);
	free(entry);
	return out;
}

static void expect_resigned(const struct keys *k, const Dx__RosterEntry *re, int want,
			    const char *what)
{
	struct roster_entry *e = NULL;
	size_t len;
	uint8_t *buf = sign_entry(k, re, &len);
	int rc = roster_entry_verify(buf, len, &e);
	if (rc != want) {
		fail_msg("%s: got %s, want %s", what, dx_errname(rc), dx_errname(want));
	}
	roster_entry_free(e);
	free(buf);
}

static void test_forgeries(void **state)
{
	(void)state;
	struct keys *fra = make_keys("FRA", NULL), *mex = make_keys("MEX", NULL);
	size_t len;
	uint8_t *buf = build(fra, T0 + 1, &len);
	Dx__RosterEntry *re = inner_of(buf, len);
	uint8_t mex_pk[KEYS_SIGN_PK_LEN];
	keys_identity_pk(mex, mex_pk);

	/* The re-encoding is exact, so re-signing with the owner's key is accepted. */
	expect_resigned(fra, re, DX_OK, "re-signed by owner");
	/* Another State's key over France's entry. */
	expect_resigned(mex, re, DX_ESIG, "re-signed by MEX");
	/* Another State claims France's entry as its own identity. */
	uint8_t *saved = re->identity_key.data;
	re->identity_key.data = mex_pk;
	expect_resigned(mex, re, DX_ESIG, "identity swapped");
	re->identity_key.data = saved;
	/* France's entry under another State's name. */
	char *saved_state = re->state;
	re->state = "MEX";
	expect_resigned(fra, re, DX_ESIG, "state renamed");
	re->state = "mex";
	expect_resigned(fra, re, DX_ESTATE_CODE, "state lowercase");
	re->state = saved_state;

	/* Inner signatures are checked even under a good outer one. */
	re->static_key_signature.data[3] ^= 1;
	expect_resigned(fra, re, DX_ESIG, "static signature");
	re->static_key_signature.data[3] ^= 1;
	re->static_key.data[0] ^= 1;
	expect_resigned(fra, re, DX_ESIG, "static key");
	re->static_key.data[0] ^= 1;
	re->prekeys[0]->signature.data[7] ^= 1;
	expect_resigned(fra, re, DX_ESIG, "prekey signature");
	re->prekeys[0]->signature.data[7] ^= 1;
	re->prekeys[0]->valid_until_ms += P;
	expect_resigned(fra, re, DX_ESIG, "prekey window stretched");
	re->prekeys[0]->valid_until_ms -= P;
	re->prekeys[0]->public_key.data[1] ^= 1;
	expect_resigned(fra, re, DX_ESIG, "prekey key");
	re->prekeys[0]->public_key.data[1] ^= 1;
	expect_resigned(fra, re, DX_OK, "restored");

	dx__roster_entry__free_unpacked(re, NULL);
	free(buf);
	keys_free(fra);
	keys_free(mex);
}

static void test_shape_rules(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA", NULL);
	size_t len;
	uint8_t *buf = build(k, T0 + 1, &len);
	Dx__RosterEntry *re = inner_of(buf, len);

	re->identity_key.len = 31;
	expect_resigned(k, re, DX_EROSTER, "identity key short");
	re->identity_key.len = 32;
	re->static_key.len = 31;
	expect_resigned(k, re, DX_EROSTER, "static key short");
	re->static_key.len = 32;
	re->static_key_signature.len = 63;
	expect_resigned(k, re, DX_EROSTER, "static signature short");
	re->static_key_signature.len = 64;

	Dx__SignedPrekey **pre = re->prekeys;
	size_t n_pre = re->n_prekeys;
	re->n_prekeys = 0;
	expect_resigned(k, re, DX_EROSTER, "no prekeys");
	Dx__SignedPrekey *many[KEYS_MAX_PREKEYS + 1];
	for (size_t i = 0; i < KEYS_MAX_PREKEYS + 1; i++) {
		many[i] = pre[0];
	}
	re->prekeys = many;
	re->n_prekeys = KEYS_MAX_PREKEYS;
	expect_resigned(k, re, DX_OK, "KEYS_MAX_PREKEYS prekeys");
	re->n_prekeys = KEYS_MAX_PREKEYS + 1;
	expect_resigned(k, re, DX_EROSTER, "too many prekeys");
	re->prekeys = pre;
	re->n_prekeys = n_pre;

	pre[0]->public_key.len = 31;
	expect_resigned(k, re, DX_EROSTER, "prekey short");
	pre[0]->public_key.len = 32;
	pre[0]->signature.len = 63;
	expect_resigned(k, re, DX_EROSTER, "prekey signature short");
	pre[0]->signature.len = 64;
	uint64_t until = pre[0]->valid_until_ms;
	pre[0]->valid_until_ms = pre[0]->valid_from_ms;
	expect_resigned(k, re, DX_EROSTER, "prekey window empty");
	pre[0]->valid_until_ms = until;

	uint64_t issued = re->issued_ms;
	re->issued_ms = 0;
	expect_resigned(k, re, DX_EROSTER, "issued_ms zero");
	re->issued_ms = issued;
	expect_resigned(k, re, DX_OK, "restored");

	dx__roster_entry__free_unpacked(re, NULL);
	free(buf);
	keys_free(k);
}

static void test_text_rules(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA", NULL);
	size_t len;
	uint8_t *buf = build(k, T0 + 1, &len);
	Dx__RosterEntry *re = inner_of(buf, len);
	char long_ok[ROSTER_TEXT_MAX + 1], too_long[ROSTER_TEXT_MAX + 2];
	memset(long_ok, 'a', ROSTER_TEXT_MAX);
	long_ok[ROSTER_TEXT_MAX] = '\0';
	memset(too_long, 'a', ROSTER_TEXT_MAX + 1);
	too_long[ROSTER_TEXT_MAX + 1] = '\0';
	static const char *const bad_text[] = {
		"Fr\x01nce",
		"line\nbreak",
		"tab\there",
		"del\x7f",
		"\x1b[31mred",
		"csi\xc2\x9b[31m",   /* C1 control U+009B, then "[31m" */
		"bad \xff byte",     /* not UTF-8 */
		"lone \x80 cont",    /* stray continuation byte */
		"overlong \xc0\xaf", /* '/' in two bytes */
		"surrogate \xed\xa0\x80",
		"past max \xf4\x90\x80\x80",
		"cut \xc3",	    /* truncated at the end */
		"cut \xe2\x82 mid", /* truncated inside */
	};
	static const char *const good_text[] = {
		"México, Estados Unidos Mexicanos",
		"Côte d’Ivoire",
		"日本国",
		"\xf0\x9f\x87\xab\xf0\x9f\x87\xb7", /* a flag, four-byte sequences */
		"\xc2\xa0nbsp",
		"\xef\xbf\xbd",
		"~ tilde",
		"",
	};

	char *saved_name = re->name;
	for (size_t i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
		re->name = (char *)bad_text[i];
		expect_resigned(k, re, DX_EROSTER, bad_text[i]);
	}
	re->name = too_long;
	expect_resigned(k, re, DX_EROSTER, "name too long");
	re->name = long_ok;
	expect_resigned(k, re, DX_OK, "name at the limit");
	for (size_t i = 0; i < sizeof(good_text) / sizeof(good_text[0]); i++) {
		re->name = (char *)good_text[i];
		expect_resigned(k, re, DX_OK, good_text[i]);
	}
	re->name = saved_name;

	Dx__Contact *c = re->contacts[0];
	char **fields[] = { &c->role,  &c->agency,   &c->name,	      &c->email,
			    &c->phone, &c->channels, &c->languages[0] };
	for (size_t f = 0; f < sizeof(fields) / sizeof(fields[0]); f++) {
		char *saved = *fields[f];
		*fields[f] = "x\ry";
		expect_resigned(k, re, DX_EROSTER, "control character in a contact");
		*fields[f] = too_long;
		expect_resigned(k, re, DX_EROSTER, "contact field too long");
		*fields[f] = saved;
	}
	char **langs = c->languages;
	size_t n_langs = c->n_languages;
	char *many[17];
	for (size_t i = 0; i < 17; i++) {
		many[i] = "de";
	}
	c->languages = many;
	c->n_languages = 16;
	expect_resigned(k, re, DX_OK, "16 languages");
	c->n_languages = 17;
	expect_resigned(k, re, DX_EROSTER, "17 languages");
	c->languages = langs;
	c->n_languages = n_langs;

	Dx__Contact **contacts = re->contacts;
	Dx__Contact *lots[ROSTER_MAX_CONTACTS + 1];
	for (size_t i = 0; i < ROSTER_MAX_CONTACTS + 1; i++) {
		lots[i] = contacts[1];
	}
	re->contacts = lots;
	re->n_contacts = ROSTER_MAX_CONTACTS;
	expect_resigned(k, re, DX_OK, "ROSTER_MAX_CONTACTS contacts");
	re->n_contacts = ROSTER_MAX_CONTACTS + 1;
	expect_resigned(k, re, DX_EROSTER, "too many contacts");
	re->contacts = contacts;
	re->n_contacts = 2;

	dx__roster_entry__free_unpacked(re, NULL);
	free(buf);
	keys_free(k);
}

static void test_build_refuses(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA", NULL);
	uint8_t *buf = NULL;
	size_t len = 0;
	struct roster_contact c = CONTACTS[0];
	struct roster_contact many[ROSTER_MAX_CONTACTS + 1];

	assert_dx_err(roster_entry_build(k, "Fr\nance", NULL, 0, T0, &buf, &len), DX_EROSTER);
	c.phone = "+33\t1";
	assert_dx_err(roster_entry_build(k, "France", &c, 1, T0, &buf, &len), DX_EROSTER);
	c = CONTACTS[0];
	c.n_languages = 17;
	assert_dx_err(roster_entry_build(k, "France", &c, 1, T0, &buf, &len), DX_EROSTER);
	c.n_languages = 1;
	c.languages = NULL;
	assert_dx_err(roster_entry_build(k, "France", &c, 1, T0, &buf, &len), DX_EINVAL);
	for (size_t i = 0; i < ROSTER_MAX_CONTACTS + 1; i++) {
		many[i] = CONTACTS[1];
	}
	assert_dx_err(
		roster_entry_build(k, "France", many, ROSTER_MAX_CONTACTS + 1, T0, &buf, &len),
		DX_EROSTER);
	assert_dx_err(roster_entry_build(k, "France", NULL, 1, T0, &buf, &len), DX_EINVAL);
	/* issued_ms 0 is refused; so is a moment when no prekey is live. */
	assert_dx_err(roster_entry_build(k, "France", NULL, 0, 0, &buf, &len), DX_EROSTER);
	assert_dx_err(roster_entry_build(k, "France", NULL, 0, T0 + 10 * P, &buf, &len),
		      DX_EROSTER);
	assert_null(buf);

	/* NULL strings are empty; the maximum of everything is still under the cap. */
	assert_dx_ok(roster_entry_build(k, NULL, (struct roster_contact[]){ { .role = "x" } }, 1,
					T0, &buf, &len));
	free(buf);
	buf = NULL;
	char big[ROSTER_TEXT_MAX + 1];
	memset(big, 'b', ROSTER_TEXT_MAX);
	big[ROSTER_TEXT_MAX] = '\0';
	const char *langs[16];
	for (size_t i = 0; i < 16; i++) {
		langs[i] = big;
	}
	for (size_t i = 0; i < ROSTER_MAX_CONTACTS; i++) {
		many[i] = (struct roster_contact){ big, big, big, big, big, big, langs, 16 };
	}
	/* 32 contacts of 22 fields of 256 bytes exceed ROSTER_ENTRY_MAX. */
	assert_dx_err(roster_entry_build(k, big, many, ROSTER_MAX_CONTACTS, T0, &buf, &len),
		      DX_ETOOBIG);
	assert_null(buf);
	keys_free(k);
}

static void test_encoding_rules(void **state)
{
	(void)state;
	struct keys *k = make_keys("FRA", NULL);
	struct roster_entry *e = NULL;
	size_t len, n;
	uint8_t *buf = build(k, T0 + 1, &len);
	uint8_t *bad = malloc(ROSTER_ENTRY_MAX + 16);
	assert_non_null(bad);

	/* Outer layer: an unknown field, a repeated field, a short signature. */
	memcpy(bad, buf, len);
	bad[len] = 3 << 3; /* field 3, varint */
	bad[len + 1] = 0;
	assert_dx_err(roster_entry_verify(bad, len + 2, &e), DX_EPARSE);
	bad[len] = (2 << 3) | 2; /* signature again, empty */
	bad[len + 1] = 0;
	assert_dx_err(roster_entry_verify(bad, len + 2, &e), DX_EPARSE);
	assert_dx_err(roster_entry_verify(bad, 0, &e), DX_EPARSE);
	Dx__SignedRosterEntry sre = DX__SIGNED_ROSTER_ENTRY__INIT;
	uint8_t sig[KEYS_SIG_LEN] = { 0 };
	sre.signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, sig };
	n = dx__signed_roster_entry__pack(&sre, bad);
	assert_dx_err(roster_entry_verify(bad, n, &e), DX_EPARSE); /* no entry */
	sre.entry = (ProtobufCBinaryData){ 5, (uint8_t *)"\x0a\x03"
							 "FRA" };
	sre.signature.len = 63;
	n = dx__signed_roster_entry__pack(&sre, bad);
	assert_dx_err(roster_entry_verify(bad, n, &e), DX_EPARSE);

	/* Inner layer, correctly signed but not canonical. */
	Dx__SignedRosterEntry *outer = dx__signed_roster_entry__unpack(NULL, len, buf);
	assert_non_null(outer);
	size_t elen = outer->entry.len;
	uint8_t *entry = malloc(elen + 16);
	assert_non_null(entry);
	memcpy(entry, outer->entry.data, elen);
	entry[elen] = 15 << 3; /* unknown field 15 */
	entry[elen + 1] = 1;
	uint8_t *signed_buf = sign_bytes(k, entry, elen + 2, &n);
	assert_dx_err(roster_entry_verify(signed_buf, n, &e), DX_EPARSE);
	free(signed_buf);
	entry[elen] = 8 << 3; /* issued_ms a second time */
	entry[elen + 1] = 1;
	signed_buf = sign_bytes(k, entry, elen + 2, &n);
	assert_dx_err(roster_entry_verify(signed_buf, n, &e), DX_EPARSE);
	free(signed_buf);
	signed_buf = sign_bytes(k, (const uint8_t *)"\xff\xff", 2, &n);
	assert_dx_err(roster_entry_verify(signed_buf, n, &e), DX_EPARSE);
	free(signed_buf);
	/* A string with a NUL inside does not survive the canonical check. */
	signed_buf = sign_bytes(k,
				(const uint8_t *)"\x0a\x03"
						 "F\0A",
				5, &n);
	assert_dx_err(roster_entry_verify(signed_buf, n, &e), DX_EPARSE);
	free(signed_buf);
	dx__signed_roster_entry__free_unpacked(outer, NULL);
	free(entry);

	/* Over the cap: refused before anything is decoded. */
	memset(bad, 0, ROSTER_ENTRY_MAX + 1);
	assert_dx_err(roster_entry_verify(bad, ROSTER_ENTRY_MAX + 1, &e), DX_ETOOBIG);
	assert_dx_err(roster_entry_verify(NULL, 1, &e), DX_EINVAL);
	assert_dx_err(roster_entry_verify(buf, len, NULL), DX_EINVAL);
	assert_null(e);
	free(bad);
	free(buf);
	keys_free(k);
}

/* Known answers: entries from seeded keys are fully deterministic. */
static const struct {
	uint8_t seed_byte;
	const char *state, *name;
} VECTORS[] = {
	{ 0x01, "FRA", "France" },
	{ 0x02, "MEX", "México" },
	{ 0x03, "BFA", "Burkina Faso" },
};
#define N_VECTORS (sizeof(VECTORS) / sizeof(VECTORS[0]))
#define VECTOR_NOW (T0 + 1000)

static uint8_t *vector_entry(size_t i, size_t *len)
{
	uint8_t seed[32];
	struct keys *k = NULL;
	uint8_t *buf = NULL;
	memset(seed, VECTORS[i].seed_byte, sizeof(seed));
	assert_dx_ok(keys_generate(VECTORS[i].state, T0, P, seed, &k));
	assert_dx_ok(roster_entry_build(k, VECTORS[i].name, CONTACTS, i == 2 ? 0 : 2, VECTOR_NOW,
					&buf, len));
	keys_free(k);
	return buf;
}

static void write_source_file(const char *rel, const void *data, size_t len)
{
	test_write_file(test_path(test_source_dir(), rel), data, len);
}

static void regenerate(const char *path)
{
	json_t *list = json_array();
	for (size_t i = 0; i < N_VECTORS; i++) {
		size_t len;
		uint8_t *buf = vector_entry(i, &len);
		char *hex = malloc(2 * len + 1), seed_hex[65], rel[128];
		uint8_t seed[32];
		assert_non_null(hex);
		memset(seed, VECTORS[i].seed_byte, sizeof(seed));
		dx_hex(seed_hex, seed, sizeof(seed));
		dx_hex(hex, buf, len);
		json_array_append_new(list,
				      json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "seed", seed_hex,
						"state", VECTORS[i].state, "name", VECTORS[i].name,
						"created_ms", (json_int_t)T0, "issued_ms",
						(json_int_t)VECTOR_NOW, "signed_entry", hex));
		snprintf(rel, sizeof(rel), "tests/fuzz/corpus/roster/entry-%s", VECTORS[i].state);
		write_source_file(rel, buf, len);
		if (i == 0) {
			/* Inner-mode seed: 0x00, then the entry the harness signs itself. */
			Dx__SignedRosterEntry *sre =
				dx__signed_roster_entry__unpack(NULL, len, buf);
			assert_non_null(sre);
			uint8_t *plain = malloc(sre->entry.len + 1);
			assert_non_null(plain);
			plain[0] = 0x00;
			memcpy(plain + 1, sre->entry.data, sre->entry.len);
			write_source_file("tests/fuzz/corpus/roster/inner-FRA", plain,
					  sre->entry.len + 1);
			free(plain);
			dx__signed_roster_entry__free_unpacked(sre, NULL);
			write_source_file("tests/fuzz/corpus/roster/truncated", buf, len / 2);
			buf[len - 1] ^= 1;
			write_source_file("tests/fuzz/corpus/roster/bad-signature", buf, len);
		}
		free(hex);
		free(buf);
	}
	write_source_file("tests/fuzz/corpus/roster/empty", "", 0);
	json_t *doc = json_pack(
		"{s:s, s:o}", "description",
		"Signed roster entries (PROTOCOL.md 4.4) from keys_generate(state, "
		"created_ms, 7 days, seed) (PROTOCOL.md 9), built at issued_ms; the first "
		"two carry the two contacts of tests/test_roster.c, the third none.",
		"vectors", list);
	assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER), 0);
	json_decref(doc);
}

static void test_vectors(void **state)
{
	(void)state;
	const char *path = test_path(test_source_dir(), VECTOR_FILE);
	const char *regen = getenv("DIVEX_REGEN_VECTORS");
	if (regen != NULL && strcmp(regen, "1") == 0) {
		regenerate(path);
	}
	json_error_t err;
	json_t *doc = json_load_file(path, 0, &err);
	if (doc == NULL) {
		fail_msg("%s: %s", path, err.text);
	}
	json_t *list = json_object_get(doc, "vectors");
	assert_int_equal(json_array_size(list), N_VECTORS);
	for (size_t i = 0; i < N_VECTORS; i++) {
		const char *want =
			json_string_value(json_object_get(json_array_get(list, i), "signed_entry"));
		assert_non_null(want);
		size_t len;
		uint8_t *buf = vector_entry(i, &len);
		char *hex = malloc(2 * len + 1);
		assert_non_null(hex);
		dx_hex(hex, buf, len);
		assert_string_equal(hex, want);
		struct roster_entry *e = NULL;
		assert_dx_ok(roster_entry_verify(buf, len, &e));
		assert_string_equal(e->state, VECTORS[i].state);
		assert_string_equal(e->name, VECTORS[i].name);
		roster_entry_free(e);
		free(hex);
		free(buf);
	}
	json_decref(doc);
}

int main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),	       cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_current_prekey), cmocka_unit_test(test_every_byte_flipped),
		cmocka_unit_test(test_forgeries),      cmocka_unit_test(test_shape_rules),
		cmocka_unit_test(test_text_rules),     cmocka_unit_test(test_build_refuses),
		cmocka_unit_test(test_encoding_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
