/*
 * test_consent.c: consent decisions (keys/consent.h, PROTOCOL.md 13) and the
 * export rule (docs/casework-rules.md): a decision round-trips and verifies
 * only under its provider's key and State; every flipped byte, a forgery, a
 * non-canonical encoding and every shape rule are refused; the export rule
 * refuses without consent, allows with a matching grant, refuses again after
 * a revocation, and never lets a decision for another item, purpose,
 * recipient or body count. The committed vector in
 * tests/vectors/consent.json is checked, or rewritten (with the fuzz seed
 * corpus) when DIVEX_REGEN_VECTORS=1.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "consent.h"
#include "testlib.h"
#include "wire.pb-c.h"

#define T0 1700000000000ull
#define VECTOR_FILE "tests/vectors/consent.json"

static struct keys *fra, *mex, *bfa;
static uint8_t item_a[32], item_b[32];
static const uint8_t REQ_ID[16] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,
				    0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00 };

static struct keys *make(const char *state, uint8_t fill)
{
	uint8_t seed[32];
	struct keys *k = NULL;
	memset(seed, fill, sizeof(seed));
	assert_dx_ok(keys_generate(state, T0, KEYS_PREKEY_PERIOD_MS, seed, &k));
	return k;
}

static int setup(void **state)
{
	(void)state;
	uint8_t digest[32];
	fra = make("FRA", 1);
	mex = make("MEX", 2);
	bfa = make("BFA", 3);
	memset(digest, 0xa1, sizeof(digest));
	consent_item_hash(item_a, digest);
	memset(digest, 0xb2, sizeof(digest));
	consent_item_hash(item_b, digest);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	keys_free(fra);
	keys_free(mex);
	keys_free(bfa);
	return 0;
}

static struct consent_params params(int purpose, int outcome, uint64_t when)
{
	static const uint8_t(*items)[32];
	items = (const uint8_t(*)[32])item_a;
	struct consent_params p = {
		.recipient = "MEX", .request_envelope_id = REQ_ID, .purpose = purpose,
		.outcome = outcome, .items = items, .n_items = 1, .decided_ms = when,
	};
	if (purpose == DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY) {
		p.body = "Tribunal federal de Mexico";
	}
	if (outcome == DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS) {
		p.conditions = "Only for case 2025/17; return the file afterwards.";
	}
	return p;
}

static uint8_t *build(const struct keys *k, const struct consent_params *p, size_t *len)
{
	uint8_t *buf = NULL;
	assert_dx_ok(consent_decision_build(k, p, &buf, len));
	return buf;
}

static struct consent_decision *verify_fra(const uint8_t *buf, size_t len)
{
	uint8_t pk[32];
	struct consent_decision *d = NULL;
	keys_identity_pk(fra, pk);
	assert_dx_ok(consent_decision_verify(buf, len, "FRA", pk, &d));
	return d;
}

static void test_round_trip(void **state)
{
	(void)state;
	size_t len;
	struct consent_params p = params(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY,
					 DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS, T0 + 5);
	uint8_t *buf = build(fra, &p, &len);
	struct consent_decision *d = verify_fra(buf, len);
	assert_string_equal(d->provider, "FRA");
	assert_string_equal(d->recipient, "MEX");
	assert_memory_equal(d->request_envelope_id, REQ_ID, 16);
	assert_int_equal(d->purpose, DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY);
	assert_int_equal(d->outcome, DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS);
	assert_string_equal(d->body, "Tribunal federal de Mexico");
	assert_string_equal(d->conditions, p.conditions);
	assert_int_equal(d->n_items, 1);
	assert_memory_equal(d->items[0], item_a, 32);
	assert_true(consent_decision_covers(d, item_a));
	assert_false(consent_decision_covers(d, item_b));
	assert_int_equal(d->decided_ms, T0 + 5);
	assert_int_equal(d->signed_len, len);
	assert_memory_equal(d->signed_bytes, buf, len);
	consent_decision_free(d);

	/* Through a verified roster entry. */
	uint8_t *entry = NULL;
	size_t elen;
	struct roster_entry *e = NULL;
	assert_dx_ok(roster_entry_build(fra, "France", NULL, 0, T0 + 1, &entry, &elen));
	assert_dx_ok(roster_entry_verify(entry, elen, &e));
	assert_dx_ok(consent_decision_verify_entry(buf, len, e, &d));
	consent_decision_free(d);
	roster_entry_free(e);
	free(entry);
	/* Under another State's entry it is not FRA's decision. */
	assert_dx_ok(roster_entry_build(mex, "Mexico", NULL, 0, T0 + 1, &entry, &elen));
	assert_dx_ok(roster_entry_verify(entry, elen, &e));
	assert_dx_err(consent_decision_verify_entry(buf, len, e, &d), DX_ESIG);
	roster_entry_free(e);
	free(entry);
	free(buf);
}

static void test_every_byte_flipped(void **state)
{
	(void)state;
	size_t len;
	uint8_t pk[32];
	struct consent_decision *d = NULL;
	struct consent_params p = params(DX__CONSENT_PURPOSE__OPERATIONAL_USE,
					 DX__CONSENT_OUTCOME__GRANTED, T0);
	uint8_t *buf = build(fra, &p, &len);
	keys_identity_pk(fra, pk);
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			int rc = consent_decision_verify(buf, len, "FRA", pk, &d);
			if (rc == DX_OK) {
				fail_msg("byte %zu bit %d flipped still verifies", i, bit);
			}
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* Truncated at every length, and one byte too many. */
	for (size_t n = 0; n < len; n++) {
		assert_true(consent_decision_verify(buf, n, "FRA", pk, &d) != DX_OK);
	}
	uint8_t *longer = malloc(len + 1);
	assert_non_null(longer);
	memcpy(longer, buf, len);
	longer[len] = 0;
	assert_true(consent_decision_verify(longer, len + 1, "FRA", pk, &d) != DX_OK);
	free(longer);
	free(buf);
}

/* Signs arbitrary statement bytes as FRA, for forgeries and shape rules. */
static uint8_t *sign_raw(const struct keys *k, const uint8_t *stmt, size_t slen, size_t *len)
{
	static const char label[] = "divex/v1/consent";
	uint8_t sig[64], *msg = malloc(sizeof(label) + slen), *out = NULL;
	assert_non_null(msg);
	memcpy(msg, label, sizeof(label));
	memcpy(msg + sizeof(label), stmt, slen);
	keys_sign(k, sig, msg, sizeof(label) + slen);
	free(msg);
	Dx__ConsentDecision dec = DX__CONSENT_DECISION__INIT;
	dec.statement = (ProtobufCBinaryData){ slen, (uint8_t *)stmt };
	dec.signature = (ProtobufCBinaryData){ 64, sig };
	assert_dx_ok(proto_pack_alloc(&dec.base, &out, len));
	return out;
}

static int verify_statement(const Dx__ConsentStatement *st)
{
	uint8_t *stmt = NULL, pk[32];
	size_t slen, len;
	struct consent_decision *d = NULL;
	assert_dx_ok(proto_pack_alloc(&st->base, &stmt, &slen));
	uint8_t *buf = sign_raw(fra, stmt, slen, &len);
	keys_identity_pk(fra, pk);
	int rc = consent_decision_verify(buf, len, "FRA", pk, &d);
	consent_decision_free(d);
	free(buf);
	free(stmt);
	return rc;
}

static void test_forgeries(void **state)
{
	(void)state;
	size_t len, len2;
	uint8_t pk[32], pk_mex[32];
	struct consent_decision *d = NULL;
	struct consent_params p = params(DX__CONSENT_PURPOSE__OPERATIONAL_USE,
					 DX__CONSENT_OUTCOME__GRANTED, T0);
	keys_identity_pk(fra, pk);
	keys_identity_pk(mex, pk_mex);
	/* MEX signs a grant that names FRA as provider: not under FRA's key. */
	uint8_t *forged = build(mex, &(struct consent_params){ .recipient = "FRA",
							       .request_envelope_id = REQ_ID,
							       .purpose = p.purpose,
							       .outcome = p.outcome,
							       .items = p.items,
							       .n_items = 1,
							       .decided_ms = T0 },
				&len);
	assert_dx_err(consent_decision_verify(forged, len, "FRA", pk, &d), DX_ESIG);
	/* And under MEX's key it names MEX as provider, not FRA. */
	assert_dx_err(consent_decision_verify(forged, len, "FRA", pk_mex, &d), DX_ESIG);
	free(forged);
	/* A genuine FRA decision presented as BFA's. */
	uint8_t *buf = build(fra, &p, &len2);
	assert_dx_err(consent_decision_verify(buf, len2, "BFA", pk, &d), DX_ESIG);
	/* A FRA statement signed by MEX's key. */
	Dx__ConsentDecision *dec = NULL;
	assert_dx_ok(proto_unpack_strict(&dx__consent_decision__descriptor, buf, len2, 1 << 16,
					 (ProtobufCMessage **)&dec));
	uint8_t *resigned = sign_raw(mex, dec->statement.data, dec->statement.len, &len);
	assert_dx_err(consent_decision_verify(resigned, len, "FRA", pk, &d), DX_ESIG);
	free(resigned);
	/* FRA's own signature over the statement without the label. */
	uint8_t sig[64];
	keys_sign(fra, sig, dec->statement.data, dec->statement.len);
	memcpy(dec->signature.data, sig, 64);
	uint8_t *nolabel = NULL;
	assert_dx_ok(proto_pack_alloc(&dec->base, &nolabel, &len));
	assert_dx_err(consent_decision_verify(nolabel, len, "FRA", pk, &d), DX_ESIG);
	free(nolabel);
	protobuf_c_message_free_unpacked(&dec->base, NULL);
	/* Too big: refused before decoding. */
	uint8_t *big = calloc(1, CONSENT_DECISION_MAX + 1);
	assert_non_null(big);
	assert_dx_err(consent_decision_verify(big, CONSENT_DECISION_MAX + 1, "FRA", pk, &d),
		      DX_ETOOBIG);
	free(big);
	/* Non-canonical: fields out of order. */
	Dx__ConsentDecision *dd = NULL;
	assert_dx_ok(proto_unpack_strict(&dx__consent_decision__descriptor, buf, len2, 1 << 16,
					 (ProtobufCMessage **)&dd));
	size_t sl = dd->statement.len;
	uint8_t *swapped = malloc(len2);
	assert_non_null(swapped);
	size_t hdr = len2 - sl - 66; /* tag + varint length of the statement */
	memcpy(swapped, buf + hdr + sl, 66);
	memcpy(swapped + 66, buf, hdr + sl);
	assert_dx_err(consent_decision_verify(swapped, len2, "FRA", pk, &d), DX_EPARSE);
	free(swapped);
	protobuf_c_message_free_unpacked(&dd->base, NULL);
	free(buf);
}

static void test_shape_rules(void **state)
{
	(void)state;
	uint8_t items[2][32];
	ProtobufCBinaryData ih[2];
	memcpy(items[0], item_a, 32);
	memcpy(items[1], item_b, 32);
	ih[0] = (ProtobufCBinaryData){ 32, items[0] };
	ih[1] = (ProtobufCBinaryData){ 32, items[1] };
	Dx__ConsentStatement good = DX__CONSENT_STATEMENT__INIT;
	good.provider = "FRA";
	good.recipient = "MEX";
	good.request_envelope_id = (ProtobufCBinaryData){ 16, (uint8_t *)REQ_ID };
	good.purpose = DX__CONSENT_PURPOSE__OPERATIONAL_USE;
	good.outcome = DX__CONSENT_OUTCOME__GRANTED;
	good.n_item_hashes = 2;
	good.item_hashes = ih;
	good.decided_ms = T0;
	assert_dx_ok(verify_statement(&good));

	Dx__ConsentStatement s;
#define BAD(mutation, code)                                \
	do {                                               \
		s = good;                                  \
		mutation;                                  \
		assert_dx_err(verify_statement(&s), code); \
	} while (0)
	BAD(s.provider = "fra", DX_ESTATE_CODE);
	BAD(s.recipient = "MEXX", DX_ESTATE_CODE);
	BAD(s.provider = "MEX", DX_ESIG);
	BAD(s.recipient = "FRA", DX_EPARSE);
	BAD(s.request_envelope_id.len = 15, DX_EPARSE);
	BAD(s.request_envelope_id.len = 0, DX_EPARSE);
	BAD(s.purpose = DX__CONSENT_PURPOSE__PURPOSE_UNSPECIFIED, DX_EPARSE);
	BAD(s.purpose = (Dx__ConsentPurpose)5, DX_EPARSE);
	BAD(s.outcome = DX__CONSENT_OUTCOME__OUTCOME_UNSPECIFIED, DX_EPARSE);
	BAD(s.outcome = (Dx__ConsentOutcome)5, DX_EPARSE);
	BAD(s.decided_ms = 0, DX_EPARSE);
	BAD(s.body = "A court", DX_EPARSE); /* a body without a disclosure */
	BAD(s.purpose = DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY, DX_EPARSE); /* and none with one */
	BAD((s.purpose = DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY, s.body = "Court\x1b[2J"), DX_EPARSE);
	BAD(s.conditions = "only on Tuesdays", DX_EPARSE);
	BAD(s.outcome = DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS, DX_EPARSE);
	BAD(s.n_item_hashes = 0, DX_EPARSE);
	BAD(ih[1].len = 31, DX_EPARSE);
	ih[1].len = 32;
	BAD(ih[1].data = items[0], DX_EPARSE); /* the same item twice */
	ih[1].data = items[1];
	char longbody[CONSENT_BODY_MAX + 2];
	memset(longbody, 'x', sizeof(longbody) - 1);
	longbody[sizeof(longbody) - 1] = '\0';
	BAD((s.purpose = DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY, s.body = longbody), DX_EPARSE);
	longbody[CONSENT_BODY_MAX] = '\0';
	s = good;
	s.purpose = DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY;
	s.body = longbody;
	assert_dx_ok(verify_statement(&s));
#undef BAD
	/* The builder refuses what the verifier would. */
	uint8_t *out = NULL;
	size_t len;
	struct consent_params p = params(DX__CONSENT_PURPOSE__OPERATIONAL_USE,
					 DX__CONSENT_OUTCOME__GRANTED, T0);
	p.recipient = "FRA";
	assert_dx_err(consent_decision_build(fra, &p, &out, &len), DX_EPARSE);
	p = params(DX__CONSENT_PURPOSE__OPERATIONAL_USE, DX__CONSENT_OUTCOME__GRANTED, T0);
	p.n_items = 0;
	assert_dx_err(consent_decision_build(fra, &p, &out, &len), DX_EINVAL);
	p = params(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY, DX__CONSENT_OUTCOME__GRANTED, T0);
	p.body = NULL;
	assert_dx_err(consent_decision_build(fra, &p, &out, &len), DX_EPARSE);
}

/* ---- the export rule ---- */

static struct consent_decision *decide(int purpose, int outcome, uint64_t when, const char *to,
				       const char *body)
{
	size_t len;
	struct consent_params p = params(purpose, outcome, when);
	if (to != NULL) {
		p.recipient = to;
	}
	if (body != NULL) {
		p.body = body;
	}
	uint8_t *buf = build(fra, &p, &len);
	struct consent_decision *d = verify_fra(buf, len);
	free(buf);
	return d;
}

static struct consent_query query(int handling, enum consent_use use)
{
	struct consent_query q = {
		.handling = handling, .use = use, .provider = "FRA", .recipient = "MEX",
		.now_ms = T0 + 1000000,
	};
	if (use == CONSENT_USE_DISCLOSURE) {
		q.body = "Tribunal federal de Mexico";
	}
	memcpy(q.item, item_a, 32);
	return q;
}

static void test_required_table(void **state)
{
	(void)state;
	/* docs/casework-rules.md, section 2: the table, cell by cell. */
	static const int none = 0, fd = DX__CONSENT_PURPOSE__FURTHER_DISSEMINATION,
			 ou = DX__CONSENT_PURPOSE__OPERATIONAL_USE,
			 db = DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY,
			 ab = DX__CONSENT_PURPOSE__ATTRIBUTABLE_BRIEFING;
	static const int want[6][4] = {
		/* national, operational, disclosure, briefing */
		{ none, ou, db, ab }, /* no code */
		{ none, ou, db, ab }, /* H0 */
		{ none, ou, db, ab }, /* H1 */
		{ fd, ou, db, ab },   /* H2 */
		{ fd, ou, db, ab },   /* H3 */
		{ fd, ou, db, ab },   /* an unknown code counts as H3 */
	};
	for (int h = 0; h < 6; h++) {
		for (int u = 0; u < 4; u++) {
			assert_int_equal(consent_required(h == 5 ? 99 : h, (enum consent_use)u),
					 want[h][u]);
		}
	}
}

static void test_export_rule(void **state)
{
	(void)state;
	struct consent_verdict v;
	const struct consent_decision *list[8];
	struct consent_query q = query(DX__HANDLING_CODE__H1_NO_JUDICIAL_USE, CONSENT_USE_DISCLOSURE);

	/* Refused without consent, naming it. */
	assert_dx_err(consent_allows(&q, NULL, 0, &v), DX_ENO_CONSENT);
	assert_string_equal(v.message,
			    "export for disclosure to Tribunal federal de Mexico needs FRA's consent "
			    "for DISCLOSURE_TO_BODY on this item; ask with 'divex consent request'");
	assert_int_equal(v.purpose, DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY);

	/* Allowed with a matching grant. */
	struct consent_decision *grant = decide(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY,
						DX__CONSENT_OUTCOME__GRANTED, T0 + 10, NULL, NULL);
	list[0] = grant;
	assert_dx_ok(consent_allows(&q, list, 1, &v));
	assert_ptr_equal(v.decision, grant);
	assert_null(v.conditions);

	/* Refused again after revocation. */
	struct consent_decision *revoke = decide(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY,
						 DX__CONSENT_OUTCOME__REVOKED, T0 + 20, NULL, NULL);
	list[1] = revoke;
	assert_dx_err(consent_allows(&q, list, 2, &v), DX_ENO_CONSENT);
	assert_ptr_equal(v.decision, revoke);
	assert_non_null(strstr(v.message, "revoked"));
	/* Order in the list does not matter: the newest decides. */
	list[0] = revoke;
	list[1] = grant;
	assert_dx_err(consent_allows(&q, list, 2, &v), DX_ENO_CONSENT);

	/* A newer grant with conditions allows again and hands back the conditions. */
	struct consent_decision *cond = decide(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY,
					       DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS,
					       T0 + 30, NULL, NULL);
	list[2] = cond;
	assert_dx_ok(consent_allows(&q, list, 3, &v));
	assert_string_equal(v.conditions, cond->conditions);

	/* A refusal at the same instant as a grant wins the tie. */
	struct consent_decision *refuse = decide(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY,
						 DX__CONSENT_OUTCOME__REFUSED, T0 + 30, NULL, NULL);
	list[3] = refuse;
	assert_dx_err(consent_allows(&q, list, 4, &v), DX_ENO_CONSENT);
	assert_non_null(strstr(v.message, "refused"));

	/* A decision dated beyond the clock skew is not counted yet. */
	struct consent_decision *future =
		decide(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY, DX__CONSENT_OUTCOME__GRANTED,
		       q.now_ms + CONSENT_CLOCK_SKEW_MS + 1, NULL, NULL);
	list[0] = future;
	assert_dx_err(consent_allows(&q, list, 1, &v), DX_ENO_CONSENT);
	q.now_ms += 2;
	assert_dx_ok(consent_allows(&q, list, 1, &v));
	q.now_ms -= 2;

	/* Grants that do not match count for nothing. */
	struct consent_decision *other_body = decide(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY,
						     DX__CONSENT_OUTCOME__GRANTED, T0 + 40, NULL,
						     "Another court");
	struct consent_decision *other_purpose = decide(DX__CONSENT_PURPOSE__OPERATIONAL_USE,
							DX__CONSENT_OUTCOME__GRANTED, T0 + 40,
							NULL, NULL);
	struct consent_decision *other_recipient = decide(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY,
							  DX__CONSENT_OUTCOME__GRANTED, T0 + 40,
							  "BFA", NULL);
	list[0] = other_body;
	list[1] = other_purpose;
	list[2] = other_recipient;
	assert_dx_err(consent_allows(&q, list, 3, &v), DX_ENO_CONSENT);
	assert_null(v.decision);
	/* Another item. */
	list[0] = grant;
	memcpy(q.item, item_b, 32);
	assert_dx_err(consent_allows(&q, list, 1, &v), DX_ENO_CONSENT);
	memcpy(q.item, item_a, 32);
	/* Another provider's item. */
	q.provider = "BFA";
	assert_dx_err(consent_allows(&q, list, 1, &v), DX_ENO_CONSENT);
	assert_non_null(strstr(v.message, "BFA's consent"));
	q.provider = "FRA";

	/* National sharing: free under H1, needs FURTHER_DISSEMINATION under H2. */
	struct consent_query n = query(DX__HANDLING_CODE__H1_NO_JUDICIAL_USE, CONSENT_USE_NATIONAL);
	assert_dx_ok(consent_allows(&n, NULL, 0, &v));
	assert_int_equal(v.purpose, 0);
	n.handling = DX__HANDLING_CODE__H2_NO_DISSEMINATION;
	assert_dx_err(consent_allows(&n, NULL, 0, &v), DX_ENO_CONSENT);
	assert_non_null(strstr(v.message, "FURTHER_DISSEMINATION"));
	struct consent_decision *fd = decide(DX__CONSENT_PURPOSE__FURTHER_DISSEMINATION,
					     DX__CONSENT_OUTCOME__GRANTED, T0 + 50, NULL, NULL);
	list[0] = fd;
	assert_dx_ok(consent_allows(&n, list, 1, &v));

	/* Operational use needs consent whatever the code. */
	struct consent_query o = query(DX__HANDLING_CODE__HANDLING_UNSPECIFIED,
				       CONSENT_USE_OPERATIONAL);
	assert_dx_err(consent_allows(&o, NULL, 0, &v), DX_ENO_CONSENT);
	assert_string_equal(v.message, "export for operational use needs FRA's consent for "
				       "OPERATIONAL_USE on this item; ask with 'divex consent "
				       "request'");
	list[0] = other_purpose;
	assert_dx_ok(consent_allows(&o, list, 1, &v));

	/* Bad queries. */
	struct consent_query bad = query(0, CONSENT_USE_DISCLOSURE);
	bad.body = "";
	assert_dx_err(consent_allows(&bad, NULL, 0, &v), DX_EINVAL);
	bad = query(0, CONSENT_USE_OPERATIONAL);
	bad.recipient = "mex";
	assert_dx_err(consent_allows(&bad, NULL, 0, &v), DX_EINVAL);
	/* A body with escape sequences is shown escaped. */
	struct consent_query esc = query(0, CONSENT_USE_DISCLOSURE);
	esc.body = "Court\x1b[2J";
	assert_dx_err(consent_allows(&esc, NULL, 0, &v), DX_ENO_CONSENT);
	assert_null(strchr(v.message, 0x1b));

	struct consent_decision *all[] = { grant,	 revoke,	cond,	   refuse, future,
					   other_body, other_purpose, other_recipient, fd };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		consent_decision_free(all[i]);
	}
}

/* ---- vectors ---- */

static uint8_t *vector_decision(size_t *len)
{
	struct consent_params p = params(DX__CONSENT_PURPOSE__DISCLOSURE_TO_BODY,
					 DX__CONSENT_OUTCOME__GRANTED_WITH_CONDITIONS,
					 T0 + 86400000);
	return build(fra, &p, len);
}

static char *hex(const uint8_t *b, size_t n)
{
	char *h = malloc(2 * n + 1);
	assert_non_null(h);
	dx_hex(h, b, n);
	return h;
}

static void regenerate(const char *path)
{
	size_t len;
	uint8_t *buf = vector_decision(&len);
	Dx__ConsentDecision *dec = NULL;
	assert_dx_ok(proto_unpack_strict(&dx__consent_decision__descriptor, buf, len, 1 << 16,
					 (ProtobufCMessage **)&dec));
	uint8_t digest[32], pk[32];
	memset(digest, 0xa1, sizeof(digest));
	keys_identity_pk(fra, pk);
	char *h_buf = hex(buf, len), *h_st = hex(dec->statement.data, dec->statement.len),
	     *h_sig = hex(dec->signature.data, 64), *h_dig = hex(digest, 32),
	     *h_item = hex(item_a, 32), *h_pk = hex(pk, 32), *h_req = hex(REQ_ID, 16);
	json_t *doc = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I}",
		"description",
		"A consent decision (PROTOCOL.md 13) by FRA (key set from seed 01*32 created at "
		"1700000000000, PROTOCOL.md 9) for MEX: DISCLOSURE_TO_BODY granted with conditions "
		"on one item, the envelope digest a1*32.",
		"provider", "FRA", "identity_pk", h_pk, "recipient", "MEX", "request_envelope_id",
		h_req, "envelope_digest", h_dig, "item_hash", h_item, "body",
		"Tribunal federal de Mexico", "conditions",
		"Only for case 2025/17; return the file afterwards.", "statement", h_st,
		"signature", h_sig, "decision", h_buf, "outcome", "GRANTED_WITH_CONDITIONS",
		"decided_ms", (json_int_t)(T0 + 86400000));
	assert_non_null(doc);
	assert_int_equal(json_dump_file(doc, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER), 0);
	json_decref(doc);
	/* The fuzz seed corpus: 0x00 and the statement (the harness signs it), 0x01 and the decision. */
	uint8_t *tagged = malloc(len + 1);
	assert_non_null(tagged);
	tagged[0] = 0;
	memcpy(tagged + 1, dec->statement.data, dec->statement.len);
	test_write_file(test_path(test_source_dir(), "tests/fuzz/corpus/consent/statement"), tagged,
			dec->statement.len + 1);
	tagged[0] = 1;
	memcpy(tagged + 1, buf, len);
	test_write_file(test_path(test_source_dir(), "tests/fuzz/corpus/consent/decision"), tagged,
			len + 1);
	free(tagged);
	free(h_buf);
	free(h_st);
	free(h_sig);
	free(h_dig);
	free(h_item);
	free(h_pk);
	free(h_req);
	protobuf_c_message_free_unpacked(&dec->base, NULL);
	free(buf);
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
	size_t len;
	uint8_t *buf = vector_decision(&len);
	char *h = hex(buf, len);
	assert_string_equal(h, json_string_value(json_object_get(doc, "decision")));
	/* The item hash of the stated digest, and the decision verifies as stated. */
	uint8_t digest[32], item[32];
	assert_dx_ok(dx_unhex(digest, 32,
			      json_string_value(json_object_get(doc, "envelope_digest"))));
	consent_item_hash(item, digest);
	char ih[65];
	dx_hex(ih, item, 32);
	assert_string_equal(ih, json_string_value(json_object_get(doc, "item_hash")));
	struct consent_decision *d = verify_fra(buf, len);
	assert_string_equal(d->conditions, json_string_value(json_object_get(doc, "conditions")));
	consent_decision_free(d);
	free(h);
	free(buf);
	json_decref(doc);
}

int main(void)
{
	if (sodium_init() < 0) {
		return 1;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_every_byte_flipped),
		cmocka_unit_test(test_forgeries),      cmocka_unit_test(test_shape_rules),
		cmocka_unit_test(test_required_table), cmocka_unit_test(test_export_rule),
		cmocka_unit_test(test_vectors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
