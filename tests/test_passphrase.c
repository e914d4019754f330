/*
 * test_passphrase.c: reading a passphrase from a file, a descriptor, and a
 * terminal. The terminal cases run a child process in its own session on a
 * pseudo-terminal, answer its prompt from the master side, and check that
 * echo was off while the passphrase was typed and is back on afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "keyfile.h"
#include "testlib.h"

static const char *write_pass_file(const char *name, const char *content, size_t len, mode_t mode)
{
	const char *path = test_path(test_tmpdir(), name);
	unlink(path);
	test_write_file(path, content, len);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static void expect_file(const char *content, size_t len, int want_rc, const char *want)
{
	struct passphrase p = { NULL, 0 };
	const char *path = write_pass_file("pass", content, len, 0600);
	int rc = passphrase_read(path, -1, NULL, 0, &p);
	if (rc != want_rc) {
		fail_msg("got %s, want %s", dx_errname(rc), dx_errname(want_rc));
	}
	if (want_rc == DX_OK) {
		assert_int_equal(p.len, strlen(want));
		assert_memory_equal(p.buf, want, p.len);
		assert_int_equal(p.buf[p.len], '\0');
		passphrase_free(&p);
		assert_null(p.buf);
		assert_int_equal(p.len, 0);
	} else {
		assert_null(p.buf);
	}
}

#define EXPECT_FILE(lit, rc, want) expect_file(lit, sizeof(lit) - 1, rc, want)

static void test_from_file(void **state)
{
	(void)state;
	EXPECT_FILE("secret\n", DX_OK, "secret");
	EXPECT_FILE("secret\r\n", DX_OK, "secret");
	EXPECT_FILE("secret", DX_OK, "secret");
	EXPECT_FILE("secret\n\n", DX_OK, "secret");
	EXPECT_FILE("first line\nsecond line\n", DX_OK, "first line");
	EXPECT_FILE("  spaces kept \t\n", DX_OK, "  spaces kept \t");
	/* Only one line ending is dropped, and a lone CR is part of the text. */
	EXPECT_FILE("secret\r", DX_OK, "secret\r");
	EXPECT_FILE("secret\r\r\n", DX_OK, "secret\r");
	EXPECT_FILE("", DX_ENO_PASSPHRASE, NULL);
	EXPECT_FILE("\n", DX_ENO_PASSPHRASE, NULL);
	EXPECT_FILE("\r\n", DX_ENO_PASSPHRASE, NULL);
	EXPECT_FILE("sec\0ret\n", DX_EINVAL, NULL);

	/* Exactly PASSPHRASE_MAX bytes, with either ending, and one more. */
	char *big = malloc(PASSPHRASE_MAX + 8);
	assert_non_null(big);
	memset(big, 'x', PASSPHRASE_MAX + 8);
	big[PASSPHRASE_MAX + 7] = '\0';
	big[PASSPHRASE_MAX] = '\r';
	big[PASSPHRASE_MAX + 1] = '\n';
	char *want = strndup(big, PASSPHRASE_MAX);
	expect_file(big, PASSPHRASE_MAX + 2, DX_OK, want);
	expect_file(big, PASSPHRASE_MAX + 1, DX_ETOOBIG, NULL);
	expect_file(big, PASSPHRASE_MAX, DX_OK, want);
	big[PASSPHRASE_MAX] = 'x';
	expect_file(big, PASSPHRASE_MAX + 1, DX_ETOOBIG, NULL);
	expect_file(big, PASSPHRASE_MAX + 7, DX_ETOOBIG, NULL);
	free(want);
	free(big);
}

static void test_file_permissions(void **state)
{
	(void)state;
	static const mode_t bad[] = { 0640, 0604, 0620, 0602, 0644 };
	struct passphrase p = { NULL, 0 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *path = write_pass_file("perm-pass", "secret\n", 7, bad[i]);
		assert_dx_err(passphrase_read(path, -1, NULL, 0, &p), DX_EKEYFILE_PERM);
	}
	const char *path = write_pass_file("ok-pass", "secret\n", 7, 0400);
	assert_dx_ok(passphrase_read(path, -1, NULL, 0, &p));
	passphrase_free(&p);
	passphrase_free(&p); /* a second free is harmless */
	assert_dx_err(passphrase_read(test_path(test_tmpdir(), "absent"), -1, NULL, 0, &p),
		      DX_ENOENT);
	assert_dx_err(passphrase_read(test_tmpdir(), -1, NULL, 0, &p), DX_EINVAL);
	/* A file wins over a descriptor. */
	assert_dx_ok(passphrase_read(path, 12345, NULL, 0, &p));
	assert_string_equal(p.buf, "secret");
	passphrase_free(&p);
	assert_dx_err(passphrase_read(path, -1, NULL, 0, NULL), DX_EINVAL);
}

static void test_from_fd(void **state)
{
	(void)state;
	int fds[2];
	struct passphrase p = { NULL, 0 };
	char rest[16] = { 0 };
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(write(fds[1], "pipe pass\r\nrest", 15), 15);
	close(fds[1]);
	assert_dx_ok(passphrase_read(NULL, fds[0], NULL, 0, &p));
	assert_string_equal(p.buf, "pipe pass");
	assert_int_equal(p.len, 9);
	passphrase_free(&p);
	/* Nothing past the newline was consumed. */
	assert_int_equal(read(fds[0], rest, sizeof(rest) - 1), 4);
	assert_string_equal(rest, "rest");
	close(fds[0]);

	assert_int_equal(pipe(fds), 0);
	close(fds[1]);
	assert_dx_err(passphrase_read(NULL, fds[0], NULL, 0, &p), DX_ENO_PASSPHRASE);
	close(fds[0]);
	assert_dx_err(passphrase_read(NULL, fds[0], NULL, 0, &p), DX_EIO);
}

/* In a new session without a controlling terminal there is nothing to ask. */
static void test_no_tty(void **state)
{
	(void)state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct passphrase p;
		if (setsid() < 0) {
			_exit(2);
		}
		_exit(passphrase_read(NULL, -1, NULL, 0, &p) == DX_ENO_PASSPHRASE ? 0 : 1);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* A child on a pseudo-terminal; the parent holds the master side. */
struct pty_child {
	int master;
	pid_t pid;
	char seen[4096];
	size_t n_seen;
	size_t mark; /* where the next expected text is searched from */
};

static volatile sig_atomic_t child_got_sigint;
static void child_on_sigint(int sig)
{
	(void)sig;
	child_got_sigint = 1;
}

/*
 * Runs in the child: become a session leader with the pty as controlling
 * terminal, read a passphrase, and report through the exit status: 0 when it
 * equals want (or, with want NULL, when the call failed with want_rc) and
 * SIGINT reached the child's handler exactly when want_sigint says; 3 when
 * echo was left off.
 */
static void child_main(const char *slave_name, int confirm, const char *want, int want_rc,
		       int want_sigint)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = child_on_sigint;
	sigaction(SIGINT, &sa, NULL);
	if (setsid() < 0) {
		_exit(10);
	}
	int slave = open(slave_name, O_RDWR);
	if (slave < 0) {
		_exit(11);
	}
	struct passphrase p = { NULL, 0 };
	int rc = passphrase_read(NULL, -1, "Pass: ", confirm, &p);
	struct termios t;
	if (tcgetattr(slave, &t) != 0 || !(t.c_lflag & ECHO)) {
		_exit(3);
	}
	if (rc != want_rc) {
		_exit(20 - rc);
	}
	if (want != NULL && (p.len != strlen(want) || memcmp(p.buf, want, p.len) != 0)) {
		_exit(4);
	}
	if (want_sigint != child_got_sigint) {
		_exit(5);
	}
	passphrase_free(&p);
	_exit(0);
}

static int pty_start(struct pty_child *c, int confirm, const char *want, int want_rc,
		     int want_sigint)
{
	memset(c, 0, sizeof(*c));
	c->master = posix_openpt(O_RDWR | O_NOCTTY);
	if (c->master < 0 || grantpt(c->master) != 0 || unlockpt(c->master) != 0) {
		return -1;
	}
	char name[256];
	if (ptsname_r(c->master, name, sizeof(name)) != 0) {
		return -1;
	}
	c->pid = fork();
	assert_true(c->pid >= 0);
	if (c->pid == 0) {
		close(c->master);
		child_main(name, confirm, want, want_rc, want_sigint);
	}
	return 0;
}

/*
 * Reads from the master until text appears after the previous match. Input
 * must not be typed ahead of a prompt: turning echo off flushes it.
 */
static void pty_expect(struct pty_child *c, const char *text)
{
	for (;;) {
		c->seen[c->n_seen] = '\0';
		const char *hit = strstr(c->seen + c->mark, text);
		if (hit != NULL) {
			c->mark = (size_t)(hit - c->seen) + strlen(text);
			return;
		}
		struct pollfd pfd = { .fd = c->master, .events = POLLIN };
		if (poll(&pfd, 1, 10000) <= 0) {
			fail_msg("timed out waiting for \"%s\"; saw \"%s\"", text, c->seen);
		}
		ssize_t n = read(c->master, c->seen + c->n_seen, sizeof(c->seen) - 1 - c->n_seen);
		if (n <= 0) {
			fail_msg("terminal closed waiting for \"%s\"; saw \"%s\"", text, c->seen);
		}
		c->n_seen += (size_t)n;
	}
}

static void pty_type(struct pty_child *c, const char *s)
{
	assert_int_equal(write(c->master, s, strlen(s)), (ssize_t)strlen(s));
}

static int pty_finish(struct pty_child *c)
{
	int status;
	assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
	/* Drain what is left so the transcript is complete. */
	for (;;) {
		struct pollfd pfd = { .fd = c->master, .events = POLLIN };
		if (poll(&pfd, 1, 0) <= 0) {
			break;
		}
		ssize_t n = read(c->master, c->seen + c->n_seen, sizeof(c->seen) - 1 - c->n_seen);
		if (n <= 0) {
			break;
		}
		c->n_seen += (size_t)n;
	}
	c->seen[c->n_seen] = '\0';
	close(c->master);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

static void test_prompt(void **state)
{
	(void)state;
	struct pty_child c;
	if (pty_start(&c, 0, "hunter2 x", DX_OK, 0) != 0) {
		skip();
	}
	pty_expect(&c, "Pass: ");
	pty_type(&c, "hunter2 x\n");
	assert_int_equal(pty_finish(&c), 0);
	assert_null(strstr(c.seen, "hunter2"));
}

static void test_prompt_confirm(void **state)
{
	(void)state;
	struct pty_child c;
	if (pty_start(&c, 1, "second", DX_OK, 0) != 0) {
		skip();
	}
	pty_expect(&c, "Pass: ");
	pty_type(&c, "first\n");
	pty_expect(&c, "Repeat passphrase: ");
	pty_type(&c, "firsT\n");
	pty_expect(&c, "do not match");
	pty_expect(&c, "Pass: ");
	pty_type(&c, "second\n");
	pty_expect(&c, "Repeat passphrase: ");
	pty_type(&c, "second\n");
	assert_int_equal(pty_finish(&c), 0);
	assert_null(strstr(c.seen, "first"));
	assert_null(strstr(c.seen, "second"));
}

static void test_prompt_mismatch(void **state)
{
	(void)state;
	struct pty_child c;
	if (pty_start(&c, 1, NULL, DX_EINVAL, 0) != 0) {
		skip();
	}
	for (int i = 0; i < 3; i++) {
		pty_expect(&c, "Pass: ");
		pty_type(&c, "one\n");
		pty_expect(&c, "Repeat passphrase: ");
		pty_type(&c, "two\n");
	}
	assert_int_equal(pty_finish(&c), 0);
}

static void test_prompt_empty(void **state)
{
	(void)state;
	struct pty_child c;
	if (pty_start(&c, 0, NULL, DX_ENO_PASSPHRASE, 0) != 0) {
		skip();
	}
	pty_expect(&c, "Pass: ");
	pty_type(&c, "\n");
	assert_int_equal(pty_finish(&c), 0);
}

/* Ctrl-C at the prompt: the terminal gets its echo back, then the signal
 * reaches the program's own handler. */
static void test_prompt_interrupted(void **state)
{
	(void)state;
	struct pty_child c;
	if (pty_start(&c, 0, NULL, DX_ENO_PASSPHRASE, 1) != 0) {
		skip();
	}
	pty_expect(&c, "Pass: ");
	pty_type(&c, "half");
	assert_int_equal(kill(c.pid, SIGINT), 0);
	assert_int_equal(pty_finish(&c), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_file),
		cmocka_unit_test(test_file_permissions),
		cmocka_unit_test(test_from_fd),
		cmocka_unit_test(test_no_tty),
		cmocka_unit_test(test_prompt),
		cmocka_unit_test(test_prompt_confirm),
		cmocka_unit_test(test_prompt_mismatch),
		cmocka_unit_test(test_prompt_empty),
		cmocka_unit_test(test_prompt_interrupted),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
