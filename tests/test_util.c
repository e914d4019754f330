/*
 * test_util.c: the text escaping that stands between another State's words
 * and an officer's terminal, and the positioned file I/O the relay and the
 * node keep attachment streams with, and the directory sync behind every
 * new file's name (common/util.c).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

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

/* Whole buffers at an offset; a file that ends early is said as such. */
static void test_positioned_io(void **state)
{
	(void)state;
	uint8_t data[100 * 1024], back[sizeof(data)];
	for (size_t i = 0; i < sizeof(data); i++) {
		data[i] = (uint8_t)(i * 7 + 3);
	}
	const char *path = test_path(test_tmpdir(), "pio");
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	/* Past the end: the gap reads as zeros, the bytes where they were put. */
	assert_dx_ok(dx_pwrite_all(fd, data, sizeof(data), 5000));
	assert_int_equal(lseek(fd, 0, SEEK_END), 5000 + (off_t)sizeof(data));
	assert_dx_ok(dx_pread_all(fd, back, sizeof(back), 5000));
	assert_memory_equal(back, data, sizeof(data));
	assert_dx_ok(dx_pread_all(fd, back, 5000, 0));
	for (size_t i = 0; i < 5000; i++) {
		assert_int_equal(back[i], 0);
	}
	/* Compared in more than one read (64 KiB at a time). */
	assert_dx_ok(dx_same_bytes(fd, 5000, data, sizeof(data)));
	data[sizeof(data) - 1] ^= 1;
	assert_int_equal(dx_same_bytes(fd, 5000, data, sizeof(data)), DX_EINVAL);
	data[sizeof(data) - 1] ^= 1;
	/* One byte past the end of the file. */
	assert_int_equal(dx_pread_all(fd, back, sizeof(data) + 1, 5000), DX_EIO);
	assert_int_equal(dx_same_bytes(fd, 5001, data, sizeof(data)), DX_EINVAL);
	assert_dx_ok(dx_pread_all(fd, back, 0, 1 << 30));
	close(fd);
	/* A descriptor open for reading only cannot be written. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_int_equal(dx_pwrite_all(fd, data, 10, 0), DX_EIO);
	close(fd);
}

/* A directory is synced; a missing one, or a file, is an error, not a crash. */
static void test_fsync_dir(void **state)
{
	(void)state;
	assert_dx_ok(dx_fsync_dir(test_tmpdir()));
	assert_int_equal(dx_fsync_dir(test_path(test_tmpdir(), "no-such-dir")), DX_ENOENT);
	const char *file = test_path(test_tmpdir(), "a-file");
	test_write_file(file, "x", 1);
	assert_true(dx_fsync_dir(file) != DX_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_text),
		cmocka_unit_test(test_positioned_io),
		cmocka_unit_test(test_fsync_dir),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
