/*
 * test_util.c: the text escaping that stands between another State's words
 * and an officer's terminal (common/util.c).
 */
#include <string.h>

#include "testlib.h"
#include "util.h"

static void check(const char *in, size_t len, const char *want)
{
	char out[256];
	dx_escape_text(out, sizeof(out), in, len);
	assert_string_equal(out, want);
}

static void test_escape_text(void **state)
{
	(void)state;
	check("plain", 5, "plain");
	check("Secretar\xc3\xad" "a", 11, "Secretar\xc3\xad" "a");
	check("\xe6\x97\xa5\xe6\x9c\xac", 6, "\xe6\x97\xa5\xe6\x9c\xac");
	check("\xf0\x9f\x93\x8e", 4, "\xf0\x9f\x93\x8e");
	/* Controls, C1 controls, bidi overrides and a BOM are shown as bytes. */
	check("a\x1b[2Jb", 6, "a\\x1b[2Jb");
	check("\xc2\x85", 2, "\\xc2\\x85");
	check("abc\xe2\x80\xae" "def", 9, "abc\\xe2\\x80\\xaedef");
	check("\xe2\x81\xa6x", 4, "\\xe2\\x81\\xa6x");
	check("\xef\xbb\xbfx", 4, "\\xef\\xbb\\xbfx");
	/* Malformed UTF-8: a lone lead byte, an overlong form, a surrogate, past U+10FFFF. */
	check("\xc3", 1, "\\xc3");
	check("\xc0\xaf", 2, "\\xc0\\xaf");
	check("\xed\xa0\x80", 3, "\\xed\\xa0\\x80");
	check("\xf4\x90\x80\x80", 4, "\\xf4\\x90\\x80\\x80");
	check("back\\slash", 10, "back\\x5cslash");
	/* A sequence that does not fit is left out whole, never cut. */
	char small[4];
	dx_escape_text(small, sizeof(small), "a\xc3\xad\xc3\xad", 5);
	assert_string_equal(small, "a\xc3\xad");
	dx_escape_text(small, sizeof(small), "\x01", 1);
	assert_string_equal(small, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
