/*
 * proc.c: see proc.h.
 */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#define MAX_CHILDREN 64
static pid_t children[MAX_CHILDREN];
static int registered;

static void kill_children(void)
{
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
	}
}

static void track(pid_t pid, int add)
{
	if (!registered) {
		atexit(kill_children);
		registered = 1;
	}
	for (int i = 0; i < MAX_CHILDREN; i++) {
		if (add && children[i] == 0) {
			children[i] = pid;
			return;
		}
		if (!add && children[i] == pid) {
			children[i] = 0;
			return;
		}
	}
}

long proc_deadline_ms(long ms)
{
	const char *s = getenv("DIVEX_TEST_SLOW");
	long f = s != NULL ? strtol(s, NULL, 10) : 1;
	if (f < 1) {
		f = 1;
	} else if (f > 100) {
		f = 100;
	}
	return ms * f;
}

/* Whether path names divex-relay, divexd or divex, the programs a wrapper checks. */
static int is_ours(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base != NULL ? base + 1 : path;
	return strcmp(base, "divex-relay") == 0 || strcmp(base, "divexd") == 0 ||
	       strcmp(base, "divex") == 0;
}

char *const *proc_wrap_argv(char *const argv[], char *out[PROC_ARGV_MAX], char *buf, size_t cap)
{
	const char *wrap = getenv("DIVEX_TEST_WRAP");
	size_t n = 0;
	if (wrap == NULL || wrap[0] == '\0' || !is_ours(argv[0]) || strlen(wrap) >= cap) {
		return argv;
	}
	memcpy(buf, wrap, strlen(wrap) + 1);
	for (char *save = NULL, *w = strtok_r(buf, " \t", &save); w != NULL;
	     w = strtok_r(NULL, " \t", &save)) {
		if (n + 1 >= PROC_ARGV_MAX) {
			return argv;
		}
		out[n++] = w;
	}
	for (size_t i = 0; argv[i] != NULL; i++) {
		if (n + 1 >= PROC_ARGV_MAX) {
			return argv;
		}
		out[n++] = argv[i];
	}
	out[n] = NULL;
	return out;
}

static pid_t spawn(const char *log, char *const argv[])
{
	static char words[4096];
	char *wrapped[PROC_ARGV_MAX];
	char *const *args = proc_wrap_argv(argv, wrapped, words, sizeof(words));
	pid_t pid = fork();
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		execv(args[0], args);
		_exit(127);
	}
	return pid;
}

int proc_start(struct proc *p, const char *log, char *const argv[])
{
	snprintf(p->log, sizeof(p->log), "%s", log);
	p->pid = spawn(log, argv);
	if (p->pid < 0) {
		return -1;
	}
	track(p->pid, 1);
	return 0;
}

int proc_run(const char *log, char *const argv[])
{
	int status;
	pid_t pid = spawn(log, argv);
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)n + 1);
	if (b != NULL) {
		*len = fread(b, 1, (size_t)n, f);
		b[*len] = '\0';
	}
	fclose(f);
	return b;
}

int proc_log_count(const struct proc *p, const char *needle)
{
	size_t n, len = strlen(needle);
	if (len == 0) {
		return -1; /* an empty needle would match at every byte, for ever */
	}
	char *b = slurp(p->log, &n);
	int count = 0;
	for (char *at = b; at != NULL && (at = memmem(at, n - (size_t)(at - b), needle, len)) != NULL;
	     at += len) {
		count++;
	}
	free(b);
	return count;
}

int proc_wait_log(const struct proc *p, const char *needle, int count, int deadline_ms)
{
	long end = now_ms() + proc_deadline_ms(deadline_ms);
	do {
		if (proc_log_count(p, needle) >= count) {
			return 0;
		}
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			return -1; /* it died */
		}
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		nanosleep(&ts, NULL); /* polling interval, not a synchronisation */
	} while (now_ms() < end);
	return -1;
}

long proc_log_number_last(const struct proc *p, const char *prefix)
{
	size_t n;
	char *b = slurp(p->log, &n);
	long v = -1;
	for (char *at = b; at != NULL && (at = strstr(at, prefix)) != NULL; at++) {
		v = strtol(at + strlen(prefix), NULL, 10);
	}
	free(b);
	return v;
}

int proc_stop(struct proc *p, int sig, int deadline_ms)
{
	int status;
	long end = now_ms() + proc_deadline_ms(deadline_ms);
	kill(p->pid, sig);
	while (now_ms() < end) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid) {
			track(p->pid, 0);
			return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, NULL, 0);
	track(p->pid, 0);
	return -1;
}

int file_contains(const char *path, const void *needle, size_t len)
{
	size_t n;
	char *b = slurp(path, &n);
	int found = b != NULL && memmem(b, n, needle, len) != NULL;
	free(b);
	return found;
}

const char *built(const char *rel)
{
	static char buf[4][1024];
	static int slot;
	char *b = buf[slot++ % 4];
	snprintf(b, sizeof(buf[0]), "%s/%s", test_binary_dir(), rel);
	return b;
}
