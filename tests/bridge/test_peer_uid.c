/*
 * test_peer_uid.c: a server learns the user id of the process at the other
 * end of an ipc:// connection (bridge_request_peer_uid), which local control
 * sockets use to decide what a caller may do. Run as root, a child that
 * switched to the "nobody" user is seen as such; otherwise the test checks
 * only its own uid.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bridge.h"
#include "testlib.h"

#define NOBODY 65534

struct seen {
	int n;
	uint64_t uid;
	int rc;
};

static void handler(void *arg, struct bridge_request *req, const uint8_t *data, size_t len)
{
	struct seen *s = arg;
	s->rc = bridge_request_peer_uid(req, &s->uid);
	s->n++;
	(void)bridge_reply(req, data, len);
}

/* Sends one request from a child process running as uid. */
static pid_t ask_as(const char *url, uid_t uid)
{
	char prog[4200];
	snprintf(prog, sizeof(prog), "%s/tests/peer_uid_client", test_binary_dir());
	pid_t pid = fork();
	if (pid == 0) {
		if (uid != getuid() && setuid(uid) != 0) {
			_exit(3);
		}
		execl(prog, prog, url, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void closed(void *arg)
{
	*(int *)arg = 1;
}

static void run_case(uid_t as)
{
	uv_loop_t loop;
	struct bridge_server *srv = NULL;
	struct seen s = { 0 };
	char url[4200];
	int done = 0;
	assert_int_equal(uv_loop_init(&loop), 0);
	snprintf(url, sizeof(url), "ipc://%s/uid-%u.sock", test_tmpdir(), (unsigned)as);
	struct bridge_server_config cfg = { .url = url, .contexts = 2, .recv_max = 1024 };
	mode_t old = umask(0); /* let the other user connect */
	assert_dx_ok(bridge_server_open(&loop, &cfg, handler, &s, &srv));
	umask(old);
	pid_t child = ask_as(url, as);
	for (int i = 0; i < 1000 && s.n == 0; i++) {
		uv_run(&loop, UV_RUN_NOWAIT);
		usleep(10000); /* polling the loop, bounded by the deadline */
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_int_equal(s.n, 1);
	assert_dx_ok(s.rc);
	assert_int_equal(s.uid, (uint64_t)as);
	bridge_server_close(srv, closed, &done);
	while (!done) {
		uv_run(&loop, UV_RUN_ONCE);
	}
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_own_uid(void **state)
{
	(void)state;
	run_case(getuid());
}

static void test_other_uid(void **state)
{
	(void)state;
	if (geteuid() != 0) {
		skip();
	}
	/* The child must reach the socket through the test directory. */
	assert_int_equal(chmod(test_tmpdir(), 0755), 0);
	run_case(NOBODY);
	assert_int_equal(chmod(test_tmpdir(), 0700), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_own_uid),
		cmocka_unit_test(test_other_uid),
	};
	return cmocka_run_group_tests_name("bridge peer uid", tests, NULL, NULL);
}
