/*
 * crash_load.c: the crash campaign's messages and the `divex send` processes
 * that queue them (crash_campaign.h).
 *
 * Every message is a function of the seed and its number: sender,
 * recipient, text and attachment bytes. The files a send reads are written
 * just before it starts and removed once it has been reaped, so a long
 * campaign keeps only the few in flight on disk.
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "crash_campaign.h"
#include "testlib.h"

#define TEXT_MIN 40
#define TEXT_SPREAD 4000
#define ATT_MIN 2048
#define LINE_LEN 72

uint64_t crash_rand(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void crash_plan(struct crash_run *c, int n, size_t att_max, int att_every)
{
	uint64_t r = c->seed;
	c->msgs = calloc((size_t)n, sizeof(*c->msgs));
	assert_non_null(c->msgs);
	c->n_msgs = n;
	assert_true(att_max > ATT_MIN && att_every > 0);
	for (int i = 0; i < n; i++) {
		struct crash_msg *m = &c->msgs[i];
		m->sender = (int)(crash_rand(&r) % CRASH_SENDERS);
		m->recipient = CRASH_SENDERS + (int)(crash_rand(&r) % CRASH_RECEIVERS);
		m->seed = (uint32_t)crash_rand(&r);
		m->text_len = TEXT_MIN + (size_t)(crash_rand(&r) % TEXT_SPREAD);
		if (crash_rand(&r) % (uint64_t)att_every == 0) {
			m->att_len = ATT_MIN + (size_t)(crash_rand(&r) % (att_max - ATT_MIN));
		}
		m->state = CRASH_PLANNED;
	}
}

char *crash_text(const struct crash_run *c, int i)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				       "0123456789 .,;:-()";
	const struct crash_msg *m = &c->msgs[i];
	char *t = malloc(m->text_len + 1);
	assert_non_null(t);
	int head = snprintf(t, m->text_len + 1, "Crash campaign message %d from %s to %s.\n", i,
			    c->net->nodes[m->sender].state, c->net->nodes[m->recipient].state);
	uint64_t r = m->seed;
	for (size_t k = (size_t)head; k < m->text_len; k++) {
		/* A line break now and then keeps the text a text. */
		t[k] = (k + 1) % LINE_LEN == 0 ? '\n'
					       : alphabet[crash_rand(&r) % (sizeof(alphabet) - 1)];
	}
	t[m->text_len] = '\0';
	return t;
}

void crash_att_name(int i, char name[32])
{
	snprintf(name, 32, "crash-%d.bin", i);
}

void crash_att_write(const struct crash_run *c, int i, const char *dir, char path[700])
{
	char name[32];
	crash_att_name(i, name);
	snprintf(path, 700, "%s/%s", dir, name);
	tfile_random(path, c->msgs[i].att_len, c->msgs[i].seed);
}

/* ---- processes ---- */

static void out_paths(const struct crash_run *c, const char *tag, char out[700], char err[700])
{
	snprintf(out, 700, "%s/%s.out", c->dir, tag);
	snprintf(err, 700, "%s/%s.err", c->dir, tag);
}

pid_t crash_cli_start(const struct crash_run *c, const struct tnode *n, char *const args[],
		      const char *tag)
{
	char out[700], err[700];
	char *argv[64];
	size_t k = 0;
	argv[k++] = (char *)built("cli/divex");
	argv[k++] = "--home";
	argv[k++] = (char *)n->home;
	argv[k++] = "--json";
	for (size_t i = 0; args[i] != NULL && k < 63; i++) {
		argv[k++] = args[i];
	}
	argv[k] = NULL;
	out_paths(c, tag, out, err);
	int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fo >= 0 && fe >= 0 && fi >= 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fi, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fo);
	close(fe);
	close(fi);
	return pid;
}

static char *slurp_text(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *b = NULL;
	size_t n = 0, cap = 0, got;
	if (f == NULL) {
		return strdup("");
	}
	do {
		if (n + 4097 > cap) {
			cap = cap ? 2 * cap : 16384;
			char *nb = realloc(b, cap);
			assert_non_null(nb);
			b = nb;
		}
		got = fread(b + n, 1, 4096, f);
		n += got;
	} while (got > 0);
	fclose(f);
	b[n] = '\0';
	return b;
}

/* Fills r from a command that has ended with the given wait status. */
static void collect_ended(const struct crash_run *c, int status, const char *tag, struct tcli *r)
{
	char out[700], err[700];
	memset(r, 0, sizeof(*r));
	r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	out_paths(c, tag, out, err);
	r->out = slurp_text(out);
	assert_non_null(r->out);
	char *e = slurp_text(err);
	snprintf(r->err, sizeof(r->err), "%s", e != NULL ? e : "");
	free(e);
	r->json = json_loads(r->out, JSON_REJECT_DUPLICATES, NULL);
	unlink(out);
	unlink(err);
}

void crash_cli_collect(const struct crash_run *c, pid_t pid, const char *tag, struct tcli *r)
{
	int status = 0;
	long end = tn_now_ms() + CRASH_CLI_DEADLINE_MS;
	pid_t got;
	while ((got = waitpid(pid, &status, WNOHANG)) == 0 && tn_now_ms() < end) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL); /* polling interval, not a synchronisation */
	}
	if (got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	collect_ended(c, status, tag, r);
	if (got == 0) {
		r->status = -1;
	}
}

/* ---- sends ---- */

static void send_files(const struct crash_run *c, int i, char msg[700], char att[700])
{
	char dir[640];
	snprintf(dir, sizeof(dir), "%s/load", c->dir);
	snprintf(msg, 700, "%s/%d.txt", dir, i);
	att[0] = '\0';
	if (c->msgs[i].att_len > 0) {
		crash_att_write(c, i, dir, att);
	}
}

void crash_send_start(struct crash_run *c, int i)
{
	char msg[700], att[700], subject[48], tag[32];
	struct crash_msg *m = &c->msgs[i];
	struct tnode *from = &c->net->nodes[m->sender];
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/load", c->dir);
	mkdir(dir, 0700);
	send_files(c, i, msg, att);
	char *text = crash_text(c, i);
	unlink(msg);
	test_write_file(msg, text, m->text_len);
	free(text);
	snprintf(subject, sizeof(subject), CRASH_SUBJECT "%d", i);
	snprintf(tag, sizeof(tag), "load/%d", i);
	char *args[] = { "send",      "--to",	  c->net->nodes[m->recipient].state,
			 "--subject", subject,	  "--file",
			 msg,	      "--attach", att,
			 NULL };
	if (att[0] == '\0') {
		args[7] = NULL; /* no attachment: the list ends before --attach */
	}
	m->pid = crash_cli_start(c, from, args, tag);
	m->started_ms = tn_now_ms();
	m->state = CRASH_RUNNING;
	c->running++;
}

/* Records how one send ended and removes its files. */
static void send_ended(struct crash_run *c, int i, int status, int timed_out)
{
	char msg[700], att[700], tag[32];
	struct crash_msg *m = &c->msgs[i];
	struct tcli r;
	snprintf(tag, sizeof(tag), "load/%d", i);
	collect_ended(c, status, tag, &r);
	if (timed_out) {
		r.status = -1;
	}
	m->cli_status = r.status;
	json_t *copy = json_array_get(json_object_get(r.json, "copies"), 0);
	if (r.status == 0 && strlen(tj_str(copy, "message_id")) == 32 &&
	    strcmp(tj_str(copy, "recipient"), c->net->nodes[m->recipient].state) == 0) {
		snprintf(m->id, sizeof(m->id), "%s", tj_str(copy, "message_id"));
		m->state = CRASH_CONFIRMED;
	} else {
		/* Its daemon died under it: the message may or may not be queued. */
		m->state = CRASH_UNCONFIRMED;
		c->failed_status[r.status & 0xff]++;
		r.err[strcspn(r.err, "\n")] = '\0';
		fprintf(stderr, "crash: send %d from %s failed (status %d): %.300s\n", i,
			c->net->nodes[m->sender].state, r.status, r.err);
	}
	tcli_free(&r);
	send_files(c, i, msg, att);
	unlink(msg);
	if (att[0] != '\0') {
		unlink(att);
	}
	c->running--;
}

int crash_send_reap(struct crash_run *c)
{
	int done = 0;
	long now = tn_now_ms();
	for (int i = 0; i < c->n_msgs && c->running > 0; i++) {
		struct crash_msg *m = &c->msgs[i];
		int status = 0, timed_out = 0;
		if (m->state != CRASH_RUNNING) {
			continue;
		}
		pid_t got = waitpid(m->pid, &status, WNOHANG);
		if (got == 0 && now - m->started_ms > CRASH_CLI_DEADLINE_MS) {
			kill(m->pid, SIGKILL);
			got = waitpid(m->pid, &status, 0);
			timed_out = 1;
		}
		if (got == m->pid) {
			send_ended(c, i, status, timed_out);
			done++;
		}
	}
	return done;
}

void crash_send_kill_all(struct crash_run *c)
{
	for (int i = 0; i < c->n_msgs && c->running > 0; i++) {
		if (c->msgs[i].state == CRASH_RUNNING) {
			kill(c->msgs[i].pid, SIGKILL);
			waitpid(c->msgs[i].pid, NULL, 0);
			c->msgs[i].state = CRASH_UNCONFIRMED;
			c->running--;
		}
	}
}
