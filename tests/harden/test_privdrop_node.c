/*
 * test_privdrop_node.c: divexd started by root with [node] user = nobody,
 * in a network of real processes (a relay, FRA and MEX; tests/node/nodes.h).
 *
 * FRA's divexd becomes nobody before it reads its passphrase or keys: the
 * test reads /proc/PID/status (every id nobody's, no capability, no new
 * privileges), then exchanges mail both ways through it, attachment
 * included, with the divex command run by root (whose role the control
 * socket still finds from the peer's uid), and checks that the files
 * divexd created belong to nobody. Last, a home given back to root is
 * refused with the chown to run.
 *
 * Needs root and a user named nobody: otherwise it prints why and exits 77,
 * which ctest reports as skipped.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodes.h"
#include "testlib.h"

#define SKIP 77

static struct passwd nobody;
/* The text after key on its line of /proc/PID/status. */
static void status_line(pid_t pid, const char *key, char *out, size_t n)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	test_proc_status(path, key, out, n);
}

/* Every regular file directly in dir belongs to nobody; returns how many there are. */
static int owned_by_nobody(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	int files = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' ||
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			continue;
		}
		if (st.st_uid != nobody.pw_uid) {
			fail_msg("%s/%s belongs to uid %u, not to nobody", dir, e->d_name,
				 (unsigned)st.st_uid);
		}
		files++;
	}
	closedir(d);
	return files;
}

static void test_divexd_as_nobody(void **state)
{
	(void)state;
	static struct tnet t;
	const char *const states[] = { "FRA", "MEX" };
	char want[256], got[256], attach[700], id[33];
	/* nobody must be able to reach its home through the test's directories. */
	assert_int_equal(chmod(test_tmpdir(), 0711), 0);
	tnet_setup(&t, "net", 0, states, 2);
	assert_int_equal(chmod(t.dir, 0711), 0);
	struct tnode *fra = tnet_node(&t, "FRA"), *mex = tnet_node(&t, "MEX");

	assert_int_equal(tnode_stop(fra, SIGTERM), 0);
	tnode_conf_set(fra, "node", "user", "nobody");
	test_chown_tree(fra->home, nobody.pw_uid, nobody.pw_gid);
	assert_int_equal(lchown(fra->pass, nobody.pw_uid, nobody.pw_gid), 0);
	tnode_start(&t, fra);
	assert_int_equal(tnode_wait_log(fra, "running as nobody", 1, 1000), 0);
	unsigned u = nobody.pw_uid, g = nobody.pw_gid;
	snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", u, u, u, u);
	status_line(fra->proc.pid, "Uid:", got, sizeof(got));
	assert_string_equal(got, want);
	snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", g, g, g, g);
	status_line(fra->proc.pid, "Gid:", got, sizeof(got));
	assert_string_equal(got, want);
	status_line(fra->proc.pid, "CapPrm:", got, sizeof(got));
	assert_string_equal(got, "\t0000000000000000");
	status_line(fra->proc.pid, "NoNewPrivs:", got, sizeof(got));
	assert_string_equal(got, "\t1");
	printf("divexd for FRA, pid %d, runs as nobody (uid %u)\n", (int)fra->proc.pid, u);

	/* It serves: mail both ways, an attachment included. */
	snprintf(attach, sizeof(attach), "%s/manifest.txt", t.dir);
	test_write_file(attach, "forty rifles\n", 13);
	const char *const files[] = { attach, NULL };
	tnode_send(&t, fra, "MEX", "From a node without root", "See the manifest.", files, id);
	json_decref(tnode_wait_outbox(&t, fra, id, "receipted", TN_DELIVER_MS));
	json_decref(tnode_wait_inbox(&t, mex, "FRA", "From a node without root", 1, TN_DELIVER_MS));
	tnode_send(&t, mex, "FRA", "Answer to a node without root", "Received.", NULL, id);
	json_decref(tnode_wait_inbox(&t, fra, "MEX", "Answer to a node without root", 0,
				     TN_DELIVER_MS));
	json_decref(TN_CLI_OK(&t, fra, "status"));

	/* What it created while running belongs to nobody. */
	int entries = owned_by_nobody(fra->home);
	printf("FRA's home: %d entries, all nobody's\n", entries);
	assert_int_equal(tnode_stop(fra, SIGTERM), 0);

	/* A home that went back to root is refused, with the command that fixes it. */
	test_chown_tree(fra->home, 0, 0);
	char log[700], real[4096];
	snprintf(log, sizeof(log), "%s.refused.log", fra->home);
	assert_non_null(realpath(fra->home, real));
	char *argv[] = { (char *)built("daemon/node/divexd"), "run", "--home", fra->home, NULL };
	assert_int_equal(proc_run(log, argv), 1);
	char msg[4096 * 2 + 100];
	snprintf(msg, sizeof(msg),
		 "home %s is owned by root, not by nobody; run: chown -R nobody: %s", real, real);
	if (!file_contains(log, msg, strlen(msg))) {
		TN_FAIL(&t, "divexd did not say \"%s\"; see %s", msg, log);
	}
	printf("refused as it should: %s\n", msg);
	tnet_teardown(&t);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skipped: starting divexd as root needs root\n");
		return SKIP;
	}
	struct passwd *pw = getpwnam("nobody");
	if (pw == NULL) {
		printf("skipped: there is no user named nobody\n");
		return SKIP;
	}
	nobody = *pw;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_divexd_as_nobody),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
