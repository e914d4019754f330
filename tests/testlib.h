/*
 * testlib.h: helpers shared by the test executables: temporary directories
 * that are removed at exit even when a test fails, random bytes, peak RSS, and
 * the paths of the source and build trees. Tests use cmocka's assertions,
 * which never compile out and print both operands.
 */
#ifndef DIVEX_TESTS_TESTLIB_H
#define DIVEX_TESTS_TESTLIB_H

#include <sys/types.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* Creates a fresh directory under $TMPDIR; removed recursively at exit. */
const char *test_tmpdir(void);
/*
 * Sets DIVEX_BINARY_DIR, where the tests find divex-relay, divexd and divex,
 * to the build tree this program is in (BUILD/tests/PROGRAM), unless ctest
 * or the caller has set it: for the fault campaigns, which tests/faults/run
 * starts directly.
 */
void test_find_build_tree(void);
/* Joins dir and name into a static rotating buffer (8 slots). */
const char *test_path(const char *dir, const char *name);
/* Source and build tree roots (from the environment ctest sets). */
const char *test_source_dir(void);
const char *test_binary_dir(void);
/* Peak resident set size of this process, in KiB (VmHWM). */
long test_peak_rss_kib(void);
/* Current resident set size, in KiB (VmRSS). */
long test_rss_kib(void);
/* The text after key (e.g. "Uid:") on its line of a /proc status file, or "". */
void test_proc_status(const char *path, const char *key, char *out, size_t n);
/* Gives dir and everything under it (links not followed) to uid:gid. */
void test_chown_tree(const char *dir, uid_t uid, gid_t gid);
/* Writes len bytes to path (mode 0600), failing the test on error. */
void test_write_file(const char *path, const void *data, size_t len);
/* Asserts that an int-returning divex call succeeded, printing the error. */
#define assert_dx_ok(expr)                                                                      \
	do {                                                                                    \
		int rc_ = (expr);                                                               \
		if (rc_ != 0) {                                                                 \
			fail_msg("%s failed: %s (%s)", #expr, dx_errname(rc_), dx_strerror(rc_)); \
		}                                                                               \
	} while (0)
/* Asserts a specific divex error code, printing names of both. */
#define assert_dx_err(expr, want)                                                                 \
	do {                                                                                      \
		int rc_ = (expr);                                                                 \
		if (rc_ != (want)) {                                                              \
			fail_msg("%s: got %s, want %s", #expr, dx_errname(rc_), dx_errname(want)); \
		}                                                                                 \
	} while (0)

/* 1 in a build with AddressSanitizer (gcc or clang), else 0. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_UNDER_ASAN 1
#endif
#endif
#ifndef TEST_UNDER_ASAN
#define TEST_UNDER_ASAN 0
#endif

#endif
