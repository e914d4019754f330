/*
 * passphrase.c: reading the passphrase that unlocks a key file.
 *
 * A passphrase comes from a private file, from an inherited file descriptor,
 * or from the controlling terminal with echo off; never from argv, where every
 * local user could read it. It lives in sodium_malloc'd memory from the first
 * byte read, and passphrase_free wipes it. Input is read a byte at a time so
 * that nothing past the first newline is consumed: a descriptor may carry more
 * data for its owner. The terminal prompt catches SIGINT, SIGQUIT, SIGTERM,
 * SIGHUP and SIGTSTP while echo is off, restores the terminal, and then
 * re-raises the signal; it changes process-wide signal dispositions for that
 * time, so call it before starting threads.
 */
#include "keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#define DEFAULT_PROMPT "Passphrase: "
#define CONFIRM_PROMPT "Repeat passphrase: "
#define MISMATCH_TEXT "Passphrases do not match; try again.\n"
#define PROMPT_ATTEMPTS 3
/* The longest line kept: a passphrase and the '\r' of a CRLF ending. */
#define LINE_MAX_BYTES (PASSPHRASE_MAX + 1)

static int passphrase_alloc(struct passphrase *p)
{
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	/* Room for the longest line and its NUL. */
	p->buf = sodium_malloc(LINE_MAX_BYTES + 1);
	if (p->buf == NULL) {
		return DX_ENOMEM;
	}
	p->len = 0;
	return DX_OK;
}

void passphrase_free(struct passphrase *p)
{
	if (p == NULL || p->buf == NULL) {
		return;
	}
	sodium_free(p->buf); /* wipes before unmapping */
	p->buf = NULL;
	p->len = 0;
}

/* Set by the prompt's signal handler. */
static volatile sig_atomic_t caught_signal;

/*
 * Waits until fd is readable with the signals of wait_mask unblocked, as one
 * atomic step: a signal cannot slip in between a check of caught_signal and
 * the wait, which would leave the prompt blocked with echo off.
 */
static int wait_readable(int fd, const sigset_t *wait_mask)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	for (;;) {
		if (caught_signal != 0) {
			return DX_ENO_PASSPHRASE;
		}
		if (ppoll(&pfd, 1, NULL, wait_mask) >= 0) {
			return DX_OK;
		}
		if (errno != EINTR) {
			return dx_from_errno(errno);
		}
	}
}

/*
 * Reads one line into p: up to a newline (dropped, with a '\r' before it) or
 * end of input. A line longer than PASSPHRASE_MAX is refused, an empty one
 * means no passphrase, and a NUL byte means the input is not text (most likely
 * a binary file given by mistake). With wait_mask, each byte is awaited with
 * wait_readable (the terminal prompt, whose signals are otherwise blocked).
 */
static int read_line(int fd, struct passphrase *p, const sigset_t *wait_mask)
{
	size_t n = 0;
	int newline = 0;
	for (;;) {
		char c;
		if (wait_mask != NULL) {
			int rc = wait_readable(fd, wait_mask);
			if (rc != DX_OK) {
				return rc;
			}
		}
		ssize_t r = read(fd, &c, 1);
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			return dx_from_errno(errno);
		}
		if (r == 0) {
			break;
		}
		if (c == '\n') {
			newline = 1;
			break;
		}
		if (n == LINE_MAX_BYTES) {
			return DX_ETOOBIG;
		}
		p->buf[n++] = c;
	}
	if (newline && n > 0 && p->buf[n - 1] == '\r') {
		n--;
	}
	if (n > PASSPHRASE_MAX) {
		return DX_ETOOBIG;
	}
	if (n == 0) {
		return DX_ENO_PASSPHRASE;
	}
	if (memchr(p->buf, '\0', n) != NULL) {
		return DX_EINVAL;
	}
	p->buf[n] = '\0';
	p->len = n;
	return DX_OK;
}

/* Reads a line from fd into a new passphrase; *out is written only on success. */
static int read_fd(int fd, struct passphrase *out)
{
	struct passphrase p;
	int rc = passphrase_alloc(&p);
	if (rc != DX_OK) {
		return rc;
	}
	rc = read_line(fd, &p, NULL);
	if (rc != DX_OK) {
		passphrase_free(&p);
		return rc;
	}
	*out = p;
	return DX_OK;
}

/*
 * The file may be a regular file or a pipe (a shell's <(...)); either way no
 * one but its owner may have any access to it. Symbolic links are followed:
 * the permission check applies to what is actually read.
 */
static int read_file(const char *path, struct passphrase *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		return dx_from_errno(errno);
	}
	int rc;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		rc = dx_from_errno(errno);
	} else if (!S_ISREG(st.st_mode) && !S_ISFIFO(st.st_mode)) {
		rc = DX_EINVAL;
	} else if ((st.st_mode & 077) != 0) {
		rc = DX_EKEYFILE_PERM;
	} else {
		rc = read_fd(fd, out);
	}
	close(fd);
	return rc;
}

static void write_all(int fd, const char *s)
{
	size_t len = strlen(s);
	while (len > 0) {
		ssize_t w = write(fd, s, len);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return;
		}
		s += w;
		len -= (size_t)w;
	}
}

static const int PROMPT_SIGNALS[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGTSTP };
#define N_PROMPT_SIGNALS (sizeof(PROMPT_SIGNALS) / sizeof(PROMPT_SIGNALS[0]))

static void on_signal(int sig)
{
	caught_signal = sig;
}

static int set_termios(int fd, const struct termios *t)
{
	int r;
	do {
		r = tcsetattr(fd, TCSAFLUSH, t);
	} while (r != 0 && errno == EINTR);
	return r;
}

/*
 * Asks once on the terminal: echo goes off before the prompt is shown, and the
 * terminal, the signal dispositions and the signal mask are restored on every
 * path. The prompt's signals are blocked except while waiting for input, so
 * each one either interrupts the wait (and is raised again once the terminal
 * is restored) or stays pending until the old disposition is back.
 */
static int ask(int tty, const char *prompt, struct passphrase *p)
{
	struct termios saved, quiet;
	struct sigaction sa, old[N_PROMPT_SIGNALS];
	sigset_t block, old_mask;

	if (tcgetattr(tty, &saved) != 0) {
		return DX_ENO_PASSPHRASE;
	}
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHONL);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigemptyset(&block);
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++) {
		sigaddset(&block, PROMPT_SIGNALS[i]);
	}
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	caught_signal = 0;
	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++) {
		sigaction(PROMPT_SIGNALS[i], &sa, &old[i]);
	}

	int rc = DX_ENO_PASSPHRASE;
	if (set_termios(tty, &quiet) == 0) {
		write_all(tty, prompt);
		rc = read_line(tty, p, &old_mask);
		set_termios(tty, &saved);
		write_all(tty, "\n");
	}

	for (size_t i = 0; i < N_PROMPT_SIGNALS; i++) {
		sigaction(PROMPT_SIGNALS[i], &old[i], NULL);
	}
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	int sig = caught_signal;
	caught_signal = 0;
	if (sig != 0) {
		raise(sig);
		rc = DX_ENO_PASSPHRASE;
	}
	return rc;
}

/*
 * With confirm, the passphrase is asked twice; after PROMPT_ATTEMPTS
 * mismatches the answer is DX_EINVAL (the user typed two different things).
 */
static int read_prompt(const char *prompt, int confirm, struct passphrase *out)
{
	int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	if (tty < 0) {
		return DX_ENO_PASSPHRASE;
	}
	struct passphrase p = { NULL, 0 }, again = { NULL, 0 };
	int rc = passphrase_alloc(&p);
	if (rc == DX_OK && confirm) {
		rc = passphrase_alloc(&again);
	}
	if (rc != DX_OK) {
		goto out;
	}
	rc = DX_EINVAL;
	for (int attempt = 0; attempt < PROMPT_ATTEMPTS; attempt++) {
		int r = ask(tty, prompt != NULL ? prompt : DEFAULT_PROMPT, &p);
		if (r != DX_OK || !confirm) {
			rc = r;
			break;
		}
		r = ask(tty, CONFIRM_PROMPT, &again);
		if (r != DX_OK) {
			rc = r;
			break;
		}
		if (p.len == again.len && sodium_memcmp(p.buf, again.buf, p.len) == 0) {
			rc = DX_OK;
			break;
		}
		write_all(tty, MISMATCH_TEXT);
	}
out:
	passphrase_free(&again);
	if (rc == DX_OK) {
		*out = p;
	} else {
		passphrase_free(&p);
	}
	close(tty);
	return rc;
}

int passphrase_read(const char *file, int fd, const char *prompt, int confirm,
		    struct passphrase *out)
{
	if (out == NULL) {
		return DX_EINVAL;
	}
	if (file != NULL) {
		return read_file(file, out);
	}
	if (fd >= 0) {
		return read_fd(fd, out);
	}
	return read_prompt(prompt, confirm, out);
}
