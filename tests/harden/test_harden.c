/*
 * test_harden.c: common/harden.c in one process. No core dumps and not
 * dumpable after harden_process(); user names; ownership checks and their
 * messages; sodium_malloc() memory is locked (the secrets' protection from
 * swap). As root, the two forms of the privilege drop run in forked
 * children: the ids change, root cannot be regained, and no thread keeps a
 * capability, including a thread started between the two halves.
 */
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <pwd.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harden.h"
#include "testlib.h"

/* The value of a "Key:" line of a /proc status file; -1 when absent. */
static long long status_field(const char *path, const char *key, int base)
{
	char line[256];
	long long v = -1;
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, key, strlen(key)) == 0) {
			v = strtoll(line + strlen(key), NULL, base);
			break;
		}
	}
	fclose(f);
	return v;
}

static void test_process(void **state)
{
	(void)state;
	struct rlimit rl = { 1 << 20, RLIM_INFINITY }, nofile;
	/* Raising the soft limit shows that harden_process() brings it back to 0. */
	(void)setrlimit(RLIMIT_CORE, &rl);
	/* A soft descriptor limit below the hard one is raised to it. */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	rlim_t hard = nofile.rlim_max;
	nofile.rlim_cur = hard > 64 ? 64 : hard;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &nofile), 0);
	assert_dx_ok(harden_process(HARDEN_DAEMON));
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &nofile), 0);
	assert_true(nofile.rlim_cur == hard);
	assert_int_equal(getrlimit(RLIMIT_CORE, &rl), 0);
	assert_int_equal(rl.rlim_cur, 0);
	assert_int_equal(rl.rlim_max, 0);
	assert_int_equal(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
	assert_int_equal(prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0), 1);
	assert_int_equal(status_field("/proc/self/status", "NoNewPrivs:", 10), 1);
	/* Twice is harmless: the limit is already 0 (as under systemd's LimitCORE=0). */
	assert_dx_ok(harden_process(0));
	/* Not dumpable: /proc/self files that reveal memory now belong to root. */
	struct stat st;
	assert_int_equal(stat("/proc/self/environ", &st), 0);
	assert_int_equal(st.st_uid, 0);
	/* Reading /proc/PID/stat and status, which tests and monitoring do, still works. */
	assert_true(status_field("/proc/self/status", "VmRSS:", 10) > 0);
	FILE *f = fopen("/proc/self/stat", "r");
	assert_non_null(f);
	fclose(f);
}

static void test_user_names(void **state)
{
	(void)state;
	assert_true(harden_user_name_valid("divex-relay"));
	assert_true(harden_user_name_valid("_divex.1"));
	assert_false(harden_user_name_valid(""));
	assert_false(harden_user_name_valid("-rf"));
	assert_false(harden_user_name_valid("a b"));
	assert_false(harden_user_name_valid("a/b"));
	assert_false(harden_user_name_valid("abcdefghijklmnopqrstuvwxyz0123456"));

	struct harden_user u;
	char err[HARDEN_ERR_MAX];
	assert_dx_err(harden_user_lookup("no-such-divex-user", &u, err, sizeof(err)), DX_EINVAL);
	assert_non_null(strstr(err, "no such user 'no-such-divex-user'"));
	assert_dx_err(harden_user_lookup("root", &u, err, sizeof(err)), DX_EINVAL);
	assert_non_null(strstr(err, "would drop nothing"));
	assert_dx_err(harden_user_lookup("x;y", &u, err, sizeof(err)), DX_EINVAL);
	if (getpwnam("nobody") != NULL) {
		assert_dx_ok(harden_user_lookup("nobody", &u, err, sizeof(err)));
		assert_string_equal(u.name, "nobody");
		assert_true(u.uid != 0);
	}
	char name[64];
	harden_user_name(0, name, sizeof(name));
	assert_string_equal(name, "root");
	harden_user_name(4000000000u, name, sizeof(name));
	assert_string_equal(name, "uid 4000000000");
}

static void test_owner(void **state)
{
	(void)state;
	char err[HARDEN_ERR_MAX];
	const char *dir = test_path(test_tmpdir(), "home");
	assert_int_equal(mkdir(dir, 0700), 0);
	test_write_file(test_path(dir, "state.key"), "k", 1);
	assert_int_equal(symlink("/etc/passwd", test_path(dir, "link")), 0);
	struct harden_user me = { .uid = getuid(), .gid = getgid() };
	snprintf(me.name, sizeof(me.name), "me");
	/* Ours, entries included; a symbolic link's owner does not count. */
	assert_dx_ok(harden_check_owner(dir, "home", &me, err, sizeof(err)));
	struct harden_user other = { .uid = getuid() + 1, .gid = getgid() };
	snprintf(other.name, sizeof(other.name), "divex");
	assert_dx_err(harden_check_owner(dir, "home", &other, err, sizeof(err)), DX_EINVAL);
	char want[1200], owner[64];
	harden_user_name(getuid(), owner, sizeof(owner));
	snprintf(want, sizeof(want),
		 "home %s is owned by %s, not by divex; run: chown -R divex: %s", dir, owner, dir);
	assert_string_equal(err, want);
	assert_dx_err(
		harden_check_owner(test_path(dir, "absent"), "data_dir", &me, err, sizeof(err)),
		DX_ENOENT);
	if (geteuid() == 0) {
		/* A file in the home with another owner is named, with the same fix. */
		assert_int_equal(chown(dir, 65534, 65534), 0);
		struct harden_user nobody = { .uid = 65534, .gid = 65534 };
		snprintf(nobody.name, sizeof(nobody.name), "nobody");
		assert_dx_err(harden_check_owner(dir, "home", &nobody, err, sizeof(err)),
			      DX_EINVAL);
		snprintf(want, sizeof(want), "%s/state.key, in the home, is owned by root", dir);
		assert_non_null(strstr(err, want));
		assert_non_null(strstr(err, "run: chown -R nobody: "));
	}
}

static void test_ports(void **state)
{
	(void)state;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "r");
	unsigned start = 1024;
	if (f != NULL) {
		assert_int_equal(fscanf(f, "%u", &start), 1);
		fclose(f);
	}
	assert_false(harden_port_privileged(0));
	assert_false(harden_port_privileged(start));
	assert_false(harden_port_privileged(7443));
	if (start > 1) {
		assert_true(harden_port_privileged(start - 1));
	}
}

/* AddressSanitizer replaces mlock() with a no-op, so nothing is locked in that build. */

/* sodium_malloc() locks its pages: they are counted in VmLck and never swapped. */
static void test_secrets_locked(void **state)
{
	(void)state;
	assert_true(sodium_init() >= 0);
#if TEST_UNDER_ASAN
	printf("skipped: mlock() is a no-op under AddressSanitizer\n");
	return;
#endif
	long long before = status_field("/proc/self/status", "VmLck:", 10);
	unsigned char *key = sodium_malloc(64 * 1024);
	assert_non_null(key);
	long long after = status_field("/proc/self/status", "VmLck:", 10);
	sodium_free(key);
	printf("VmLck: %lld kB before sodium_malloc(64 KiB), %lld kB after\n", before, after);
	assert_true(after >= before + 64);
}

/* ---- the drop itself, as root, in children ---- */

static int pipefd[2];

static void *idle_thread(void *arg)
{
	char c;
	(void)arg;
	while (read(pipefd[0], &c, 1) < 0 && errno == EINTR) {
	}
	return NULL;
}

/* The lowest free loopback port below 1024 that this process may bind; 0 if none. */
static int bind_low(int *fd_out)
{
	for (int port = 1000; port > 600; port--) {
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
			*fd_out = fd;
			return port;
		}
		int e = errno;
		if (fd >= 0) {
			close(fd);
		}
		if (e == EACCES || e == EPERM) {
			return 0;
		}
	}
	return 0;
}

/* Whether every thread's permitted and effective capability sets are empty. */
static int no_task_has_caps(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[300];
	int tasks = 0, clean = 0;
	if (d == NULL) {
		return 0;
	}
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9') {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/task/%s/status", e->d_name);
		tasks++;
		clean += status_field(path, "CapPrm:", 16) == 0 &&
			 status_field(path, "CapEff:", 16) == 0;
	}
	closedir(d);
	return tasks >= 2 && clean == tasks;
}

/* Runs in the child: 0 when every check passed, else the number of the failed one. */
static int child_drop(int two_steps)
{
	struct harden_user u;
	char err[HARDEN_ERR_MAX];
	pthread_t th;
	int done = 0, fd = -1;
	if (harden_user_lookup("nobody", &u, err, sizeof(err)) != DX_OK) {
		return 1;
	}
	if (!two_steps) {
		if (harden_drop(&u, err, sizeof(err)) != DX_OK) {
			fprintf(stderr, "harden_drop: %s\n", err);
			return 2;
		}
		/* Not dumpable although the ids changed: /proc/self/environ stays root's. */
		struct stat st;
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0 ||
		    stat("/proc/self/environ", &st) != 0 || st.st_uid != 0) {
			return 3;
		}
		return setuid(0) == 0 || getuid() != u.uid ? 4 : 0;
	}
	if (harden_drop_begin(&u, err, sizeof(err)) != DX_OK) {
		fprintf(stderr, "harden_drop_begin: %s\n", err);
		return 5;
	}
	/* A thread started now inherits CAP_NET_BIND_SERVICE and nothing else. */
	if (pipe(pipefd) != 0 || pthread_create(&th, NULL, idle_thread, NULL) != 0) {
		return 6;
	}
	if (status_field("/proc/self/status", "CapPrm:", 16) != 1LL << 10 ||
	    status_field("/proc/self/status", "CapEff:", 16) != 1LL << 10 || geteuid() != u.uid) {
		return 7;
	}
	if (harden_port_privileged(1000) && bind_low(&fd) == 0) {
		return 8; /* the one capability kept must let it bind */
	}
	if (harden_drop_finish(&done, err, sizeof(err)) != DX_OK || !done) {
		fprintf(stderr, "harden_drop_finish: %s\n", err);
		return 9;
	}
	/* A second call has nothing left to do. */
	if (harden_drop_finish(&done, err, sizeof(err)) != DX_OK || done) {
		return 10;
	}
	if (setuid(0) == 0 || seteuid(0) == 0 || !no_task_has_caps()) {
		return 11;
	}
	if (write(pipefd[1], "x", 1) != 1 || pthread_join(th, NULL) != 0) {
		return 12;
	}
	if (fd >= 0) {
		close(fd);
	}
	return 0;
}

static void run_child(int two_steps)
{
	if (geteuid() != 0 || getpwnam("nobody") == NULL) {
		printf("skipped: the privilege drop needs root and a user 'nobody'\n");
		return;
	}
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		_exit(child_drop(two_steps));
	}
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_drop(void **state)
{
	(void)state;
	run_child(0);
}

static void test_drop_two_steps(void **state)
{
	(void)state;
	run_child(1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_process),	       cmocka_unit_test(test_user_names),
		cmocka_unit_test(test_owner),	       cmocka_unit_test(test_ports),
		cmocka_unit_test(test_secrets_locked), cmocka_unit_test(test_drop),
		cmocka_unit_test(test_drop_two_steps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
