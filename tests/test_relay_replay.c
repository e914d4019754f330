/*
 * test_relay_replay.c: the relay's cache of recent request ids: a resend is
 * recognised, a reused id with another body is a replay, old entries expire,
 * and memory stays bounded.
 */
#include <string.h>

#include "relay_replay.h"
#include "testlib.h"

static void test_resend_and_replay(void **state)
{
	(void)state;
	struct replay_cache *c = NULL;
	uint8_t id[16] = { 1 }, body[32] = { 2 }, other[32] = { 3 };
	assert_dx_ok(replay_cache_new(&c));
	assert_int_equal(replay_cache_check(c, "FRA", id, body, 1000), 0);
	assert_int_equal(replay_cache_check(c, "FRA", id, body, 1001), 1);
	assert_int_equal(replay_cache_check(c, "FRA", id, other, 1002), DX_EREQ_REPLAY);
	/* The same id from another State is another request. */
	assert_int_equal(replay_cache_check(c, "MEX", id, other, 1003), 0);
	replay_cache_expire(c, 1001);
	assert_int_equal(replay_cache_count(c), 1);
	assert_int_equal(replay_cache_check(c, "FRA", id, other, 1004), 0);
	replay_cache_free(c);
}

/* A forgotten id (a request refused for its rate) is new again; the others stay. */
static void test_forget(void **state)
{
	(void)state;
	struct replay_cache *c = NULL;
	uint8_t a[16] = { 1 }, b[16] = { 2 }, d[16] = { 3 }, body[32] = { 4 };
	assert_dx_ok(replay_cache_new(&c));
	assert_int_equal(replay_cache_check(c, "FRA", a, body, 1000), 0);
	assert_int_equal(replay_cache_check(c, "FRA", b, body, 1001), 0);
	assert_int_equal(replay_cache_check(c, "FRA", d, body, 1002), 0);
	replay_cache_forget(c, "FRA", b); /* from the middle of the expiry order */
	replay_cache_forget(c, "MEX", a); /* not recorded: nothing happens */
	assert_int_equal(replay_cache_count(c), 2);
	assert_int_equal(replay_cache_check(c, "FRA", b, body, 1003), 0);
	assert_int_equal(replay_cache_check(c, "FRA", a, body, 1004), 1);
	replay_cache_forget(c, "FRA", a); /* the oldest */
	replay_cache_forget(c, "FRA", b); /* the newest */
	replay_cache_expire(c, 2000);
	assert_int_equal(replay_cache_count(c), 0);
	replay_cache_free(c);
}

static void test_bounded(void **state)
{
	(void)state;
	struct replay_cache *c = NULL;
	uint8_t id[16] = { 0 }, body[32] = { 0 };
	assert_dx_ok(replay_cache_new(&c));
	for (uint32_t i = 0; i < (1u << 20) + 1000; i++) {
		memcpy(id, &i, sizeof(i));
		assert_int_equal(replay_cache_check(c, "FRA", id, body, 5000), 0);
	}
	assert_int_equal(replay_cache_count(c), 1u << 20);
	/* The newest are still known. */
	uint32_t last = (1u << 20) + 999;
	memcpy(id, &last, sizeof(last));
	assert_int_equal(replay_cache_check(c, "FRA", id, body, 5000), 1);
	replay_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resend_and_replay),
		cmocka_unit_test(test_forget),
		cmocka_unit_test(test_bounded),
	};
	return cmocka_run_group_tests_name("relay replay cache", tests, NULL, NULL);
}
