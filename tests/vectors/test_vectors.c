/*
 * test_vectors.c: the committed envelope vectors (tests/vectors/envelope.json)
 * are exactly what the code produces, and each committed envelope opens with
 * keys rebuilt from the published seeds to the committed body.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "seal.h"
#include "testlib.h"
#include "vectors.h"

static json_t *doc;

static uint8_t *unhex_alloc(const char *h, size_t *len)
{
	*len = strlen(h) / 2;
	uint8_t *b = malloc(*len + 1);
	assert_dx_ok(dx_unhex(b, *len, h));
	return b;
}

static void get_hex(json_t *o, const char *key, uint8_t *out, size_t n)
{
	const char *h = json_string_value(json_object_get(o, key));
	assert_non_null(h);
	assert_dx_ok(dx_unhex(out, n, h));
}

static int load(void **state)
{
	(void)state;
	json_error_t err;
	doc = json_load_file(test_path(test_source_dir(), "tests/vectors/envelope.json"), 0, &err);
	if (doc == NULL) {
		fprintf(stderr, "cannot load envelope.json: %s (line %d)\n", err.text, err.line);
		return -1;
	}
	return 0;
}

static int unload(void **state)
{
	(void)state;
	json_decref(doc);
	return 0;
}

static void test_committed_file_is_current(void **state)
{
	(void)state;
	uint8_t *file = NULL;
	size_t len;
	assert_dx_ok(dx_read_file(test_path(test_source_dir(), "tests/vectors/envelope.json"),
				  1 << 20, &file, &len));
	char *now = vectors_envelope_dump();
	assert_non_null(now);
	size_t n = strlen(now);
	if (len != n + 1 || memcmp(file, now, n) != 0) {
		fail_msg("tests/vectors/envelope.json differs from what the code produces; "
			 "if the protocol changed on purpose, regenerate it (PROTOCOL.md 9)");
	}
	free(now);
	free(file);
}

struct sender_ctx {
	struct seal_peer peer;
};

static int lookup(void *ctx, const char *state, const uint8_t id[static KEYS_ID_LEN],
		  struct seal_peer *out)
{
	struct sender_ctx *c = ctx;
	(void)id;
	if (strcmp(state, c->peer.state) != 0) {
		return DX_ESENDER;
	}
	*out = c->peer;
	return DX_OK;
}

static void test_vectors_open(void **state)
{
	(void)state;
	json_t *snd = json_object_get(doc, "sender");
	json_t *rcp = json_object_get(doc, "recipient");
	struct sender_ctx c;
	memset(&c, 0, sizeof(c));
	strcpy(c.peer.state, json_string_value(json_object_get(snd, "state")));
	get_hex(snd, "identity_pk", c.peer.identity_pk, 32);
	get_hex(snd, "static_pk", c.peer.static_pk, 32);

	uint8_t seed[32];
	struct keys *mex = NULL;
	get_hex(rcp, "seed", seed, 32);
	assert_dx_ok(keys_generate(json_string_value(json_object_get(rcp, "state")),
				   1700000000000ull, KEYS_PREKEY_PERIOD_MS, seed, &mex));
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(doc, "vectors"), i, v) {
		size_t elen, blen;
		uint8_t *env = unhex_alloc(json_string_value(json_object_get(v, "envelope")), &elen);
		uint8_t *body = unhex_alloc(json_string_value(json_object_get(v, "body")), &blen);
		struct open_params op = {
			.recipient = mex, .lookup_sender = lookup, .ctx = &c,
			.now_ms = (uint64_t)json_integer_value(json_object_get(v, "created_ms")),
			.max_age_ms = OPEN_DEFAULT_MAX_AGE_MS, .max_skew_ms = OPEN_DEFAULT_MAX_SKEW_MS,
		};
		struct opened o;
		assert_dx_ok(open_envelope(&op, env, elen, &o));
		assert_int_equal(o.body_len, blen);
		if (blen > 0) {
			assert_memory_equal(o.body, body, blen);
		}
		uint8_t key[32];
		get_hex(v, "aead_key", key, 32);
		assert_memory_equal(o.content_key, key, 32);
		opened_clear(&o);
		free(body);
		free(env);
	}
	keys_free(mex);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_committed_file_is_current),
		cmocka_unit_test(test_vectors_open),
	};
	return cmocka_run_group_tests_name("vectors", tests, load, unload);
}
