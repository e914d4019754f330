/*
 * proc.h: child processes for multi-process tests: start a program with its
 * output in a file, wait for a line to appear (with a deadline, never a
 * sleep), signal it, reap it. Every child started is killed at exit even when
 * a test fails.
 *
 * Two environment variables serve runs under a memory checker
 * (scripts/valgrind): DIVEX_TEST_WRAP, words put before the command line of
 * divex-relay, divexd and divex (e.g. "valgrind --leak-check=full"), and
 * DIVEX_TEST_SLOW, a whole factor by which every deadline here grows.
 */
#ifndef DIVEX_TESTS_PROC_H
#define DIVEX_TESTS_PROC_H

#include <sys/types.h>

struct proc {
	pid_t pid;
	char log[1200];
};

/* Starts argv (NULL-terminated) with stdout and stderr appended to log. */
int proc_start(struct proc *p, const char *log, char *const argv[]);
/* Runs argv to completion; returns its exit status (or -1). */
int proc_run(const char *log, char *const argv[]);
/* How many times the log contains needle; -1 for an empty needle. */
int proc_log_count(const struct proc *p, const char *needle);
/* Waits until the log contains needle `count` times; 0, or -1 after deadline_ms
 * or if the process died. */
int proc_wait_log(const struct proc *p, const char *needle, int count, int deadline_ms);
/* Reads the integer after the last `prefix` in the log; -1 if absent. */
long proc_log_number_last(const struct proc *p, const char *prefix);
/* Sends sig and waits for exit; returns the exit status, 128+signal, or -1. */
int proc_stop(struct proc *p, int sig, int deadline_ms);
/* Whether the file contains the bytes (for canary checks). */
int file_contains(const char *path, const void *needle, size_t len);
/* Path of a built executable: $DIVEX_BINARY_DIR/<rel>. */
const char *built(const char *rel);
/* ms scaled by $DIVEX_TEST_SLOW (1 when unset, at most 100). */
long proc_deadline_ms(long ms);
/*
 * argv with the words of $DIVEX_TEST_WRAP in front when argv[0] is one of the
 * three divex programs, else argv itself. Built before fork(): the child only
 * execs. out has room for PROC_ARGV_MAX pointers; words are kept in buf.
 */
#define PROC_ARGV_MAX 96
char *const *proc_wrap_argv(char *const argv[], char *out[PROC_ARGV_MAX], char *buf, size_t cap);

#endif
