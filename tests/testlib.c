/*
 * testlib.c: see testlib.h.
 */
#define _XOPEN_SOURCE 700
#include "testlib.h"

#include <ftw.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>

#include "error.h"

static char tmpdir[4096];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void cleanup_tmpdir(void)
{
	if (tmpdir[0] != '\0' && getenv("DIVEX_KEEP_TMP") == NULL) {
		nftw(tmpdir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	}
}

const char *test_tmpdir(void)
{
	if (tmpdir[0] == '\0') {
		const char *base = getenv("TMPDIR");
		snprintf(tmpdir, sizeof(tmpdir), "%s/divex-test.XXXXXX", base ? base : "/tmp");
		if (mkdtemp(tmpdir) == NULL) {
			fail_msg("mkdtemp(%s) failed", tmpdir);
		}
		atexit(cleanup_tmpdir);
	}
	return tmpdir;
}

const char *test_path(const char *dir, const char *name)
{
	static char bufs[8][4096];
	static unsigned slot;
	char *b = bufs[slot++ % 8];
	snprintf(b, sizeof(bufs[0]), "%s/%s", dir, name);
	return b;
}

const char *test_source_dir(void)
{
	const char *s = getenv("DIVEX_SOURCE_DIR");
	return s != NULL ? s : ".";
}

const char *test_binary_dir(void)
{
	const char *s = getenv("DIVEX_BINARY_DIR");
	return s != NULL ? s : ".";
}

static long status_field(const char *field)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t n = strlen(field);
	if (f == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, field, n) == 0 && line[n] == ':') {
			v = strtol(line + n + 1, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

void test_proc_status(const char *path, const char *key, char *out, size_t n)
{
	char line[256];
	FILE *f = fopen(path, "r");
	out[0] = '\0';
	assert_non_null(f);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, strlen(key)) == 0) {
			snprintf(out, n, "%s", line + strlen(key));
			out[strcspn(out, "\n")] = '\0';
			break;
		}
	}
	fclose(f);
}

static uid_t chown_uid;
static gid_t chown_gid;

static int chown_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return lchown(path, chown_uid, chown_gid);
}

void test_chown_tree(const char *dir, uid_t uid, gid_t gid)
{
	chown_uid = uid;
	chown_gid = gid;
	assert_int_equal(nftw(dir, chown_one, 16, FTW_PHYS), 0);
}

long test_peak_rss_kib(void)
{
	return status_field("VmHWM");
}

long test_rss_kib(void)
{
	return status_field("VmRSS");
}

void test_write_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0) {
		fail_msg("open(%s) failed", path);
	}
	const uint8_t *p = data;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w <= 0) {
			fail_msg("write(%s) failed", path);
		}
		p += w;
		len -= (size_t)w;
	}
	close(fd);
}

void test_find_build_tree(void)
{
	char exe[1024];
	if (getenv("DIVEX_BINARY_DIR") != NULL) {
		return;
	}
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0) {
		return;
	}
	exe[n] = '\0';
	setenv("DIVEX_BINARY_DIR", dirname(dirname(exe)), 1);
}
