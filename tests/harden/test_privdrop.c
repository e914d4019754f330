/*
 * test_privdrop.c: divex-relay started by root with [relay] user = nobody,
 * as separate processes.
 *
 * The relay listens on tls+tcp on a port below 1024, so it keeps
 * CAP_NET_BIND_SERVICE until the port is bound and then gives it up: the
 * test reads /proc/PID/status (every id is nobody's, no thread has a
 * capability, no new privileges), checks that the process is not dumpable,
 * that it still serves States (a sealed envelope submitted and listed),
 * its admin socket (root's commands) and SIGHUP, and that the files it
 * creates belong to nobody. Then the set-ups it must refuse, each with its
 * fix in the message: a home that belongs to root, a key file that does,
 * root without `user =` in a home that belongs to another user, an unknown
 * user.
 *
 * Needs root and a user named nobody: otherwise it prints why and exits 77,
 * which ctest reports as skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harden.h"
#include "harness.h"
#include "testlib.h"

#define SKIP 77

static struct passwd nobody;

/* A loopback port below 1024 that is free now (root may bind it); 0 if none. */
static int free_low_port(void)
{
	for (int port = 999; port > 600; port--) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		if (fd >= 0) {
			close(fd);
		}
		if (ok) {
			return port;
		}
	}
	return 0;
}

static void write_conf(const char *home, int tls, int port, const char *user_line)
{
	char path[1100], text[1024];
	snprintf(path, sizeof(path), "%s/relay.conf", home);
	snprintf(text, sizeof(text),
		 "[relay]\nname = %s\nlisten = %s://127.0.0.1:%d\nadmin_listen = 127.0.0.1:0\n%s"
		 "%s[limits]\nrate_per_second = 10000\nrate_burst = 10000\n",
		 NAME, tls ? "tls+tcp" : "tcp", port, user_line,
		 tls ? "[tls]\ncert_file = tls-cert.pem\nkey_file = tls-key.pem\n" : "");
	unlink(path);
	test_write_file(path, text, strlen(text));
}

static void check_dropped(pid_t pid)
{
	char path[128], want[128], got[256];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	unsigned u = nobody.pw_uid, g = nobody.pw_gid;
	snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", u, u, u, u);
	test_proc_status(path, "Uid:", got, sizeof(got));
	assert_string_equal(got, want);
	snprintf(want, sizeof(want), "\t%u\t%u\t%u\t%u", g, g, g, g);
	test_proc_status(path, "Gid:", got, sizeof(got));
	assert_string_equal(got, want);
	test_proc_status(path, "NoNewPrivs:", got, sizeof(got));
	assert_string_equal(got, "\t1");
	test_proc_status(path, "CapAmb:", got, sizeof(got));
	assert_string_equal(got, "\t0000000000000000");
	printf("relay pid %d: Uid%s\n", (int)pid, want);

	/* Every thread, nng's and libmicrohttpd's included, holds no capability. */
	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	DIR *d = opendir(path);
	assert_non_null(d);
	int threads = 0;
	char task[400];
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9') {
			continue;
		}
		snprintf(task, sizeof(task), "%s/%s/status", path, e->d_name);
		threads++;
		test_proc_status(task, "CapPrm:", got, sizeof(got));
		assert_string_equal(got, "\t0000000000000000");
		test_proc_status(task, "CapEff:", got, sizeof(got));
		assert_string_equal(got, "\t0000000000000000");
	}
	closedir(d);
	printf("relay pid %d: %d threads, none with a capability\n", (int)pid, threads);
	assert_true(threads >= 2);

	/* Not dumpable: what reveals memory belongs to root, though the process is nobody's. */
	struct stat st;
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_uid, 0);
	/* /proc/PID/stat, which tests and monitoring read, still is readable. */
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(got, sizeof(got), f));
	fclose(f);
}

static void check_owned(const char *name)
{
	struct stat st;
	const char *path = test_path(H.home, name);
	if (lstat(path, &st) != 0) {
		fail_msg("%s: %s", path, strerror(errno));
	}
	if (st.st_uid != nobody.pw_uid) {
		fail_msg("%s belongs to uid %u, not to nobody", path, (unsigned)st.st_uid);
	}
}

static void test_relay_as_nobody(void **state)
{
	(void)state;
	int port = free_low_port();
	if (port == 0) {
		fail_msg("no free loopback port below 1024");
	}
	assert_int_equal(proc_stop(&H.relay, SIGTERM, 20000), 0);
	write_conf(H.home, 1, port, "user = nobody\n");
	/* nobody must be able to reach its home through the test's directory. */
	assert_int_equal(chmod(test_tmpdir(), 0711), 0);
	test_chown_tree(H.home, nobody.pw_uid, nobody.pw_gid);
	rh_start_relay();
	assert_int_equal(H.port, port);
	assert_int_equal(proc_log_count(&H.relay, "running as nobody"), 1);
	assert_int_equal(proc_log_count(&H.relay, "ports bound: no capability left"), 1);
	printf("listening on %s: port %d is %sprivileged here\n", H.url, port,
	       harden_port_privileged((unsigned)port) ? "" : "not ");
	check_dropped(H.relay.pid);

	/* It serves States: FRA submits a sealed envelope, MEX lists it. */
	struct tclient fra, mex;
	struct envelope_info info;
	size_t len;
	rh_open_client(&fra, H.fra);
	rh_open_client(&mex, H.mex);
	uint8_t *env = rh_seal_for(H.fra, H.mex, CANARY, &len, &info);
	Dx__RelayResponse *r = rh_submit(&fra, env, len, DX_OK);
	rh_check_accepted_receipt(r, &info);
	dx__relay_response__free_unpacked(r, NULL);
	free(env);
	r = rh_list(&mex, 0);
	assert_int_equal(r->n_mail, 1);
	assert_memory_equal(r->mail[0]->digest.data, info.digest, 32);
	dx__relay_response__free_unpacked(r, NULL);
	tclient_close(&fra);
	tclient_close(&mex);

	/* Root's admin commands reach it through the admin socket and change its store. */
	rh_admin_cmd("suspend", "BFA");
	rh_admin_cmd("reinstate", "BFA");
	char *argv[] = { (char *)rh_relay_bin(), "status", "--home", H.home, NULL };
	assert_int_equal(proc_run(H.relay_log, argv), 0);
	/* SIGHUP rereads relay.conf, which nobody can read. */
	int before = proc_log_count(&H.relay, "SIGHUP: roster and limits reloaded");
	kill(H.relay.pid, SIGHUP);
	assert_int_equal(
		proc_wait_log(&H.relay, "SIGHUP: roster and limits reloaded", before + 1, 20000),
		0);
	/* What it created while running belongs to nobody. */
	check_owned("relay.db");
	check_owned("relay.db-wal");
	check_owned("admin.sock");
	check_owned("relay.lock");
	/* The group's teardown stops it, and requires a clean exit. */
}

/* Runs `divex-relay run` on home, which must refuse with status 1 and say want. */
static void expect_refusal(const char *home, const char *want)
{
	char log[1200];
	static int n;
	snprintf(log, sizeof(log), "%s.refused-%d.log", home, n++);
	char *argv[] = { (char *)rh_relay_bin(), "run", "--home", (char *)home, NULL };
	int status = proc_run(log, argv);
	if (status != 1 || !file_contains(log, want, strlen(want))) {
		char *text = NULL;
		size_t len = 0;
		(void)!dx_read_file(log, 65536, (uint8_t **)&text, &len);
		fail_msg("divex-relay run: status %d, want 1 and \"%s\"; it said: %.*s", status,
			 want, (int)len, text != NULL ? text : "");
	}
	printf("refused as it should: %s\n", want);
}

static void test_refusals(void **state)
{
	(void)state;
	char home[1100], want[2500], key[1200], log[1200];
	snprintf(home, sizeof(home), "%s/bad", test_tmpdir());
	snprintf(log, sizeof(log), "%s.init.log", home);
	char *init[] = { (char *)rh_relay_bin(), "init", "--home", home, "--listen",
			 "tcp://127.0.0.1:0",	 NULL };
	assert_int_equal(proc_run(log, init), 0);
	write_conf(home, 0, 0, "user = nobody\n");

	/* The home is root's: the fix is named. */
	snprintf(want, sizeof(want),
		 "home %s is owned by root, not by nobody; run: chown -R nobody: %s", home, home);
	expect_refusal(home, want);

	/* The home is nobody's, but a key file in it is still root's. */
	test_chown_tree(home, nobody.pw_uid, nobody.pw_gid);
	snprintf(key, sizeof(key), "%s/relay.key", home);
	assert_int_equal(chown(key, 0, 0), 0);
	snprintf(want, sizeof(want), "%s/relay.key, in the home, is owned by root, not by nobody",
		 home);
	expect_refusal(home, want);
	test_chown_tree(home, nobody.pw_uid, nobody.pw_gid);

	/* Root without `user =` in a home that belongs to nobody. */
	write_conf(home, 0, 0, "");
	test_chown_tree(home, nobody.pw_uid, nobody.pw_gid);
	snprintf(want, sizeof(want),
		 "running as root, but the home %s belongs to nobody: set 'user = nobody'", home);
	expect_refusal(home, want);

	/* A user that does not exist, and root itself. */
	write_conf(home, 0, 0, "user = no-such-divex-user\n");
	test_chown_tree(home, nobody.pw_uid, nobody.pw_gid);
	expect_refusal(home, "no such user 'no-such-divex-user'");
	write_conf(home, 0, 0, "user = root\n");
	test_chown_tree(home, nobody.pw_uid, nobody.pw_gid);
	expect_refusal(home, "user = root is root, which would drop nothing");
}

static int setup(void **state)
{
	H.use_tls = 1;
	return rh_setup(state);
}

int main(void)
{
	if (geteuid() != 0) {
		printf("skipped: starting a relay as root needs root\n");
		return SKIP;
	}
	struct passwd *pw = getpwnam("nobody");
	if (pw == NULL) {
		printf("skipped: there is no user named nobody\n");
		return SKIP;
	}
	nobody = *pw;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_relay_as_nobody),
		cmocka_unit_test(test_refusals),
	};
	return cmocka_run_group_tests(tests, setup, rh_teardown);
}
