/*
 * nodes.c: see nodes.h.
 */
#include "nodes.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#define POLL_MS 100
#define TAIL_LINES 30

/* The timings every test node runs with: short, so that faults heal fast. */
static const struct {
	const char *section, *key, *value;
} test_timings[] = {
	{ "relay", "timeout_ms", "5000" },     { "relay", "poll_wait_ms", "2000" },
	{ "relay", "roster_sync_ms", "1000" }, { "outbox", "retry_min_ms", "100" },
	{ "outbox", "retry_max_ms", "1000" },
};

long tn_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tn_pause(void)
{
	struct timespec ts = { 0, POLL_MS * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

static const char *relay_bin(void)
{
	return built("daemon/relay/divex-relay");
}

static const char *divexd_bin(void)
{
	return built("daemon/node/divexd");
}

static const char *divex_bin(void)
{
	return built("cli/divex");
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		return NULL;
	}
	char *b = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? 2 * cap : 65536;
			char *nb = realloc(b, cap);
			if (nb == NULL) {
				free(b);
				fclose(f);
				return NULL;
			}
			b = nb;
		}
		size_t got = fread(b + n, 1, 4096, f);
		n += got;
		if (got == 0) {
			break;
		}
	}
	fclose(f);
	b[n] = '\0';
	if (len != NULL) {
		*len = n;
	}
	return b;
}

/* ---- the relay ---- */

static void relay_write_conf(const struct trelay *r)
{
	char path[700], text[1024];
	snprintf(path, sizeof(path), "%s/relay.conf", r->home);
	snprintf(text, sizeof(text),
		 "[relay]\nname = %s\nlisten = %s://127.0.0.1:%d\nadmin_listen = 127.0.0.1:0\n"
		 "%s"
		 "[limits]\nrate_per_second = 10000\nrate_burst = 10000\n",
		 TN_RELAY_NAME, r->use_tls ? "tls+tcp" : "tcp", r->port,
		 r->use_tls ? "[tls]\ncert_file = tls-cert.pem\nkey_file = tls-key.pem\n" : "");
	unlink(path);
	test_write_file(path, text, strlen(text));
}

void trelay_init(struct trelay *r, const char *home, int use_tls)
{
	char listen[64];
	memset(r, 0, sizeof(*r));
	snprintf(r->home, sizeof(r->home), "%s", home);
	snprintf(r->log, sizeof(r->log), "%s.log", home);
	r->use_tls = use_tls;
	snprintf(listen, sizeof(listen), "%s://127.0.0.1:0", use_tls ? "tls+tcp" : "tcp");
	char *argv[] = {
		(char *)relay_bin(), "init", "--home", r->home, "--listen", listen, "--name",
		TN_RELAY_NAME,	     NULL
	};
	if (proc_run(r->log, argv) != 0) {
		fail_msg("divex-relay init failed; see %s", r->log);
	}
	relay_write_conf(r);
}

void trelay_start(struct trelay *r)
{
	char *argv[] = { (char *)relay_bin(), "run", "--home", r->home, NULL };
	/* The log is shared by every run of this relay: wait for one more line. */
	snprintf(r->proc.log, sizeof(r->proc.log), "%s", r->log);
	int before = proc_log_count(&r->proc, "(bound port ");
	assert_int_equal(proc_start(&r->proc, r->log, argv), 0);
	if (proc_wait_log(&r->proc, "(bound port ", before + 1, TN_START_MS) != 0) {
		fail_msg("the relay in %s did not start; see %s", r->home, r->log);
	}
	r->running = 1;
	int port = (int)proc_log_number_last(&r->proc, "(bound port ");
	assert_true(port > 0);
	if (r->port == 0) {
		r->port = port;
		relay_write_conf(r); /* the next start listens on the same port */
	} else if (port != r->port) {
		fail_msg("the relay restarted on port %d, not %d", port, r->port);
	}
	snprintf(r->url, sizeof(r->url), "%s://127.0.0.1:%d", r->use_tls ? "tls+tcp" : "tcp",
		 r->port);
}

int trelay_stop(struct trelay *r, int sig)
{
	if (!r->running) {
		return 0;
	}
	r->running = 0;
	return proc_stop(&r->proc, sig, 30000);
}

void trelay_clone(const struct trelay *from, struct trelay *to, const char *home)
{
	char cp_log[600];
	assert_false(from->running);
	memset(to, 0, sizeof(*to));
	snprintf(to->home, sizeof(to->home), "%s", home);
	snprintf(to->log, sizeof(to->log), "%s.log", home);
	snprintf(cp_log, sizeof(cp_log), "%s.cp.log", home);
	to->use_tls = from->use_tls;
	char *argv[] = { "/bin/cp", "-a", (char *)from->home, to->home, NULL };
	assert_int_equal(proc_run(cp_log, argv), 0);
	relay_write_conf(to); /* port 0: a port of its own */
}

void trelay_identity(const struct trelay *r, char key_hex[65])
{
	char out[700];
	snprintf(out, sizeof(out), "%s.identity", r->home);
	unlink(out);
	char *argv[] = { (char *)relay_bin(), "identity", "--home", (char *)r->home, NULL };
	assert_int_equal(proc_run(out, argv), 0);
	char *text = slurp(out, NULL);
	assert_non_null(text);
	const char *at = strstr(text, "relay public key:");
	if (at == NULL) {
		fail_msg("no public key in `divex-relay identity`: %s", text);
	}
	at += strlen("relay public key:");
	while (*at == ' ') {
		at++;
	}
	assert_true(strspn(at, "0123456789abcdef") >= 64);
	memcpy(key_hex, at, 64);
	key_hex[64] = '\0';
	free(text);
}

int trelay_admit(const struct trelay *r, const char *enrollment)
{
	char *argv[] = { (char *)relay_bin(), "admit", "--home",	   (char *)r->home,
			 "--status",	      "party", (char *)enrollment, NULL };
	return proc_run(r->log, argv);
}

/* ---- logs ---- */

static void dump_tail(const char *title, const char *path)
{
	size_t n;
	char *b = slurp(path, &n);
	if (b == NULL) {
		return;
	}
	size_t at = n;
	int lines = 0;
	while (at > 0 && lines <= TAIL_LINES) {
		at--;
		lines += b[at] == '\n';
	}
	fprintf(stderr, "---- %s (%s), last lines ----\n%s\n", title, path, b + at);
	free(b);
}

void tnet_dump_logs(const struct tnet *t)
{
	dump_tail("relay", t->relay.log);
	if (t->twin != NULL) {
		dump_tail("second relay", t->twin->log);
	}
	for (int i = 0; i < t->n_nodes; i++) {
		dump_tail("divexd", t->nodes[i].log);
		dump_tail("divex commands", t->nodes[i].cli_log);
	}
}

/* ---- the divex command ---- */

static void cli_transcript(const struct tnode *n, char *const args[], const struct tcli *r)
{
	FILE *f = fopen(n->cli_log, "a");
	if (f == NULL) {
		return;
	}
	fprintf(f, "$ divex");
	for (size_t i = 0; args[i] != NULL; i++) {
		fprintf(f, " %s", args[i]);
	}
	fprintf(f, "\n[status %d]\n%s%.2000s", r->status, r->out, r->err);
	fclose(f);
}

static void read_cut(const char *path, char *buf, size_t size)
{
	size_t n = 0;
	char *b = slurp(path, &n);
	snprintf(buf, size, "%s", b != NULL ? b : "");
	free(b);
}

/* In the child: drops every supplementary group, then becomes uid and gid. */
static void become(uid_t uid, gid_t gid)
{
	if (setgroups(0, NULL) != 0 || setgid(gid) != 0 || setuid(uid) != 0) {
		_exit(126);
	}
}

/*
 * Starts `divex --home HOME --json ARGS...` as user as ((uid_t)-1: ours)
 * with its output in the files tag.out and tag.err beside the home.
 */
static pid_t cli_spawn(const struct tnode *n, uid_t as, char *const args[], const char *tag)
{
	char out[700], err[700];
	char *argv[64];
	size_t k = 0;
	argv[k++] = (char *)divex_bin();
	argv[k++] = "--home";
	argv[k++] = (char *)n->home;
	argv[k++] = "--json";
	for (size_t i = 0; args[i] != NULL && k < 63; i++) {
		argv[k++] = args[i];
	}
	argv[k] = NULL;
	snprintf(out, sizeof(out), "%s.%s.out", n->home, tag);
	snprintf(err, sizeof(err), "%s.%s.err", n->home, tag);
	/* Looked up before fork(): the child only makes system calls. */
	gid_t gid = (gid_t)-1;
	if (as != (uid_t)-1) {
		struct passwd *pw = getpwuid(as);
		assert_non_null(pw);
		gid = pw->pw_gid;
	}
	int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int fe = open(err, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int fi = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fo >= 0 && fe >= 0 && fi >= 0);
	static char words[4096];
	char *wrapped[PROC_ARGV_MAX];
	char *const *cmd = proc_wrap_argv(argv, wrapped, words, sizeof(words));
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fi, 0);
		dup2(fo, 1);
		dup2(fe, 2);
		if (as != (uid_t)-1) {
			become(as, gid);
		}
		execv(cmd[0], cmd);
		_exit(127);
	}
	close(fo);
	close(fe);
	close(fi);
	return pid;
}

/* Waits for a command started by cli_spawn() (killing it at the deadline). */
static void cli_collect(const struct tnode *n, pid_t pid, char *const args[], const char *tag,
			struct tcli *r)
{
	char out[700], err[700];
	int status = 0;
	long end = tn_now_ms() + proc_deadline_ms(TN_CLI_MS);
	pid_t got;
	memset(r, 0, sizeof(*r));
	while ((got = waitpid(pid, &status, WNOHANG)) == 0 && tn_now_ms() < end) {
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (got == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		r->status = -1;
	} else {
		r->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	snprintf(out, sizeof(out), "%s.%s.out", n->home, tag);
	snprintf(err, sizeof(err), "%s.%s.err", n->home, tag);
	r->out = slurp(out, NULL);
	if (r->out == NULL) {
		r->out = strdup("");
		assert_non_null(r->out);
	}
	read_cut(err, r->err, sizeof(r->err));
	r->json = json_loads(r->out, JSON_REJECT_DUPLICATES, NULL);
	cli_transcript(n, args, r);
}

void tnode_cli_argv(const struct tnode *n, uid_t as, struct tcli *r, char *const args[])
{
	pid_t pid = cli_spawn(n, as, args, "cli");
	cli_collect(n, pid, args, "cli", r);
}

void tcli_free(struct tcli *r)
{
	json_decref(r->json);
	r->json = NULL;
	free(r->out);
	r->out = NULL;
}

json_t *tnode_cli_ok_argv(struct tnet *t, const struct tnode *n, char *const args[])
{
	struct tcli r;
	tnode_cli_argv(n, (uid_t)-1, &r, args);
	if (r.status != 0 || r.json == NULL) {
		TN_FAIL(t, "%s: divex %s: status %d, stdout \"%.300s\", stderr \"%.500s\"",
			n->state, args[0], r.status, r.out, r.err);
	}
	json_t *j = r.json;
	r.json = NULL;
	tcli_free(&r);
	return j;
}

const char *tj_str(const json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s != NULL ? s : "";
}

long long tj_int(const json_t *o, const char *key)
{
	const json_t *v = json_object_get(o, key);
	return json_is_integer(v) ? (long long)json_integer_value(v) : -1;
}

/* ---- one node ---- */

void tnode_conf_set(struct tnode *n, const char *section, const char *key, const char *value)
{
	char path[700], head[80];
	snprintf(path, sizeof(path), "%s/divexd.conf", n->home);
	snprintf(head, sizeof(head), "[%s]", section);
	size_t len;
	char *text = slurp(path, &len);
	if (text == NULL) {
		fail_msg("%s: no divexd.conf in %s", n->state, n->home);
	}
	size_t cap = len + strlen(key) + strlen(value) + strlen(head) + 16;
	char *outp = calloc(1, cap);
	assert_non_null(outp);
	size_t o = 0;
	int in_section = 0, done = 0;
	for (char *line = text; *line != '\0';) {
		size_t ll = strcspn(line, "\n");
		int drop = 0;
		if (line[0] == '[') {
			in_section = strncmp(line, head, strlen(head)) == 0;
		} else if (in_section && line[0] != ';' && line[0] != '#') {
			size_t k = strcspn(line, "=:");
			while (k > 0 && (line[k - 1] == ' ' || line[k - 1] == '\t')) {
				k--;
			}
			drop = k == strlen(key) && strncmp(line, key, k) == 0;
		}
		if (!drop) {
			memcpy(outp + o, line, ll);
			o += ll;
			outp[o++] = '\n';
		}
		if (line[0] == '[' && in_section && !done) {
			o += (size_t)snprintf(outp + o, cap - o, "%s = %s\n", key, value);
			done = 1;
		}
		line += ll;
		line += *line == '\n';
	}
	if (!done) {
		o += (size_t)snprintf(outp + o, cap - o, "%s\n%s = %s\n", head, key, value);
	}
	unlink(path);
	test_write_file(path, outp, o);
	free(outp);
	free(text);
}

/* Whether `divex init` takes --kdf (a cheap key file makes tests fast). */
static int init_takes_kdf(const struct tnode *n)
{
	static int known = -1;
	if (known < 0) {
		struct tcli r;
		tnode_cli_argv(n, (uid_t)-1, &r, TN_ARGS("init", "--help"));
		known = strstr(r.out, "--kdf") != NULL || strstr(r.err, "--kdf") != NULL;
		tcli_free(&r);
	}
	return known;
}

void tnode_init(struct tnet *t, struct tnode *n, const char *state, const char *home)
{
	char cert[700], phrase[64];
	memset(n, 0, sizeof(*n));
	snprintf(n->state, sizeof(n->state), "%s", state);
	snprintf(n->home, sizeof(n->home), "%s", home);
	snprintf(n->log, sizeof(n->log), "%s.log", home);
	snprintf(n->pass, sizeof(n->pass), "%s.pass", home);
	snprintf(n->cli_log, sizeof(n->cli_log), "%s.cli.log", home);
	snprintf(phrase, sizeof(phrase), "pass-%s-%08x\n", state, (unsigned)rand());
	test_write_file(n->pass, phrase, strlen(phrase));
	assert_int_equal(chmod(n->pass, 0600), 0);
	snprintf(cert, sizeof(cert), "%s/tls-cert.pem", t->relay.home);
	char *args[32];
	size_t k = 0;
	const char *fixed[] = { "init",	       "--state",     state,	    "--name",
				state,	       "--relay-url", t->relay.url, "--relay-name",
				TN_RELAY_NAME, "--relay-key", t->relay_key, "--passphrase-file",
				n->pass };
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		args[k++] = (char *)fixed[i];
	}
	if (t->use_tls) {
		args[k++] = "--relay-cert";
		args[k++] = cert;
		args[k++] = "--relay-server-name";
		args[k++] = "127.0.0.1";
	}
	if (init_takes_kdf(n)) {
		args[k++] = "--kdf";
		args[k++] = "interactive";
	}
	args[k] = NULL;
	struct tcli r;
	tnode_cli_argv(n, (uid_t)-1, &r, args);
	if (r.status != 0) {
		TN_FAIL(t, "divex init --state %s: status %d: %.500s", state, r.status, r.err);
	}
	tcli_free(&r);
	/* The contract's modes: a private home, a private configuration. */
	struct stat st;
	char conf[700];
	snprintf(conf, sizeof(conf), "%s/divexd.conf", home);
	if (stat(home, &st) != 0 || (st.st_mode & 0777) != 0700 || stat(conf, &st) != 0 ||
	    (st.st_mode & 0777) != 0600) {
		TN_FAIL(t, "divex init %s: the home must be mode 0700 and divexd.conf 0600", state);
	}
	for (size_t i = 0; i < sizeof(test_timings) / sizeof(test_timings[0]); i++) {
		tnode_conf_set(n, test_timings[i].section, test_timings[i].key,
			       test_timings[i].value);
	}
}

void tnode_start(struct tnet *t, struct tnode *n)
{
	char *argv[] = { (char *)divexd_bin(), "run", "--home", n->home, NULL };
	const char *ready = "control socket listening on ipc://";
	snprintf(n->proc.log, sizeof(n->proc.log), "%s", n->log);
	int before = proc_log_count(&n->proc, ready);
	assert_int_equal(proc_start(&n->proc, n->log, argv), 0);
	n->running = 1;
	if (proc_wait_log(&n->proc, ready, before + 1, TN_START_MS) != 0) {
		TN_FAIL(t, "divexd for %s did not open its control socket; see %s", n->state,
			n->log);
	}
}

int tnode_stop(struct tnode *n, int sig)
{
	if (!n->running) {
		return 0;
	}
	n->running = 0;
	return proc_stop(&n->proc, sig, 30000);
}

int tnode_wait_log(const struct tnode *n, const char *needle, int count, int deadline_ms)
{
	return proc_wait_log(&n->proc, needle, count, deadline_ms);
}

/* ---- messages ---- */

/* The message id of the one copy a send to one State answers with. */
static void send_answer(struct tnet *t, const struct tnode *n, json_t *j, const char *to,
			char id[33])
{
	json_t *copies = json_object_get(j, "copies");
	json_t *c = json_array_get(copies, 0);
	if (json_array_size(copies) != 1 || strcmp(tj_str(c, "recipient"), to) != 0 ||
	    strlen(tj_str(c, "message_id")) != 32) {
		TN_FAIL(t, "%s: unexpected answer to send: %.300s", n->state, json_dumps(j, 0));
	}
	snprintf(id, 33, "%s", tj_str(c, "message_id"));
}

void tnode_send(struct tnet *t, const struct tnode *n, const char *to, const char *subject,
		const char *text, const char *const attach[], char id[33])
{
	char msg[700];
	char *args[48];
	size_t k = 0;
	snprintf(msg, sizeof(msg), "%s.msg", n->home);
	unlink(msg);
	test_write_file(msg, text, strlen(text));
	args[k++] = "send";
	args[k++] = "--to";
	args[k++] = (char *)to;
	args[k++] = "--subject";
	args[k++] = (char *)subject;
	args[k++] = "--file";
	args[k++] = msg;
	for (size_t i = 0; attach != NULL && attach[i] != NULL && k < 45; i++) {
		args[k++] = "--attach";
		args[k++] = (char *)attach[i];
	}
	args[k] = NULL;
	json_t *j = tnode_cli_ok_argv(t, n, args);
	send_answer(t, n, j, to, id);
	json_decref(j);
}

void tnode_send_burst(struct tnet *t, const struct tnode *n, const char *to, const char *tag,
		      int count, char ids[][33])
{
	char msg[700], subject[TN_BURST_MAX][64], name[TN_BURST_MAX][16];
	pid_t pids[TN_BURST_MAX];
	assert_true(count <= TN_BURST_MAX);
	snprintf(msg, sizeof(msg), "%s.burst", n->home);
	unlink(msg);
	test_write_file(msg, "One of many.", 12);
	for (int i = 0; i < count; i++) {
		snprintf(subject[i], sizeof(subject[i]), "%s %d.", tag, i);
		snprintf(name[i], sizeof(name[i]), "burst%d", i);
		pids[i] = cli_spawn(
			n, (uid_t)-1,
			TN_ARGS("send", "--to", (char *)to, "--subject", subject[i], "--file", msg),
			name[i]);
	}
	for (int i = 0; i < count; i++) {
		struct tcli r;
		cli_collect(
			n, pids[i],
			TN_ARGS("send", "--to", (char *)to, "--subject", subject[i], "--file", msg),
			name[i], &r);
		if (r.status != 0 || r.json == NULL) {
			TN_FAIL(t, "%s: send \"%s\": status %d, %.300s", n->state, subject[i],
				r.status, r.err);
		}
		send_answer(t, n, r.json, to, ids[i]);
		tcli_free(&r);
	}
}

json_t *tnode_read(struct tnet *t, const struct tnode *n, const char *id, json_t **payload)
{
	json_t *j = TN_CLI_OK(t, n, "read", (char *)id);
	if (payload != NULL) {
		*payload = json_object_get(j, "payload");
		if (!json_is_object(*payload)) {
			TN_FAIL(t, "%s: read %s: no payload object in %.300s", n->state, id,
				json_dumps(j, 0));
		}
	}
	return j;
}

json_t *tnode_inbox(struct tnet *t, const struct tnode *n)
{
	return TN_CLI_OK(t, n, "inbox");
}

json_t *tnode_wait_inbox(struct tnet *t, const struct tnode *n, const char *sender,
			 const char *subject, int acked, int deadline_ms)
{
	long end = tn_now_ms() + proc_deadline_ms(deadline_ms);
	struct tcli r = { 0 };
	do {
		tcli_free(&r);
		tnode_cli_argv(n, (uid_t)-1, &r, TN_ARGS("inbox"));
		json_t *items = json_object_get(r.json, "items");
		for (size_t i = 0; r.status == 0 && i < json_array_size(items); i++) {
			json_t *it = json_array_get(items, i);
			if (strcmp(tj_str(it, "sender"), sender) == 0 &&
			    strstr(tj_str(it, "summary"), subject) != NULL &&
			    (!acked || json_is_true(json_object_get(it, "acknowledged")))) {
				json_incref(it);
				tcli_free(&r);
				return it;
			}
		}
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(t,
		"%s: no message \"%s\" from %s after %d ms (last inbox: status %d, %.400s %.300s)",
		n->state, subject, sender, deadline_ms, r.status, r.out, r.err);
	return NULL;
}

json_t *tnode_wait_outbox(struct tnet *t, const struct tnode *n, const char *id, const char *state,
			  int deadline_ms)
{
	long end = tn_now_ms() + proc_deadline_ms(deadline_ms);
	struct tcli r = { 0 };
	const char *last = "absent";
	do {
		tcli_free(&r);
		tnode_cli_argv(n, (uid_t)-1, &r, TN_ARGS("outbox"));
		json_t *items = json_object_get(r.json, "items");
		for (size_t i = 0; r.status == 0 && i < json_array_size(items); i++) {
			json_t *it = json_array_get(items, i);
			if (strcmp(tj_str(it, "message_id"), id) != 0) {
				continue;
			}
			last = tj_str(it, "state");
			if (strcmp(last, state) == 0) {
				json_incref(it);
				tcli_free(&r);
				return it;
			}
		}
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(t, "%s: message %s not %s after %d ms (status %d, %.400s %.300s)", n->state, id,
		state, deadline_ms, r.status, r.out, r.err);
	return NULL;
}

/* ---- the network ---- */

/* Waits until n's roster mirror lists every State of the network. */
static void wait_roster(struct tnet *t, const struct tnode *n)
{
	long end = tn_now_ms() + proc_deadline_ms(TN_START_MS);
	struct tcli r = { 0 };
	do {
		int found = 0;
		tcli_free(&r);
		tnode_cli_argv(n, (uid_t)-1, &r, TN_ARGS("roster"));
		json_t *entries = json_object_get(r.json, "entries");
		for (int s = 0; r.status == 0 && s < t->n_nodes; s++) {
			for (size_t i = 0; i < json_array_size(entries); i++) {
				json_t *e = json_array_get(entries, i);
				if (strcmp(tj_str(e, "state"), t->nodes[s].state) == 0) {
					found++;
					break;
				}
			}
		}
		if (found == t->n_nodes) {
			tcli_free(&r);
			return;
		}
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(t, "%s: the roster never listed every State (status %d, %.400s %.300s)", n->state,
		r.status, r.out, r.err);
}

void tnet_setup(struct tnet *t, const char *dir_name, int use_tls, const char *const states[],
		int n)
{
	tnet_setup_with(t, dir_name, use_tls, states, n, NULL, NULL);
}

void tnet_setup_with(struct tnet *t, const char *dir_name, int use_tls,
		     const char *const states[], int n, tnet_node_hook hook, void *arg)
{
	char home[600], enr[700];
	memset(t, 0, sizeof(*t));
	t->use_tls = use_tls;
	snprintf(t->dir, sizeof(t->dir), "%s/%s", test_tmpdir(), dir_name);
	assert_int_equal(mkdir(t->dir, 0700), 0);
	snprintf(home, sizeof(home), "%s/relay", t->dir);
	trelay_init(&t->relay, home, use_tls);
	trelay_start(&t->relay);
	trelay_identity(&t->relay, t->relay_key);
	assert_true(n <= TN_NODES_MAX);
	for (int i = 0; i < n; i++) {
		snprintf(home, sizeof(home), "%s/%s", t->dir, states[i]);
		tnode_init(t, &t->nodes[i], states[i], home);
		t->n_nodes = i + 1;
		if (hook != NULL) {
			hook(t, &t->nodes[i], i, arg);
		}
		snprintf(enr, sizeof(enr), "%s/enrollment.dxe", home);
		if (trelay_admit(&t->relay, enr) != 0) {
			TN_FAIL(t, "divex-relay admit %s refused", enr);
		}
	}
	for (int i = 0; i < n; i++) {
		tnode_start(t, &t->nodes[i]);
	}
	for (int i = 0; i < n; i++) {
		wait_roster(t, &t->nodes[i]);
	}
}

void tnet_teardown(struct tnet *t)
{
	for (int i = 0; i < t->n_nodes; i++) {
		if (tnode_stop(&t->nodes[i], SIGTERM) != 0) {
			tnode_stop(&t->nodes[i], SIGKILL);
		}
	}
	trelay_stop(&t->relay, SIGTERM);
}

json_t *tnet_outbox_item(struct tnet *t, const struct tnode *n, const char *id)
{
	json_t *j = TN_CLI_OK(t, n, "outbox");
	json_t *items = json_object_get(j, "items"), *found = NULL;
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		if (strcmp(tj_str(it, "message_id"), id) == 0) {
			found = json_incref(it);
			break;
		}
	}
	json_decref(j);
	return found;
}

struct tnode *tnet_node(struct tnet *t, const char *state)
{
	for (int i = 0; i < t->n_nodes; i++) {
		if (strcmp(t->nodes[i].state, state) == 0) {
			return &t->nodes[i];
		}
	}
	fail_msg("no node %s in the network", state);
	return NULL;
}

/* ---- files ---- */

void tfile_random(const char *path, size_t len, unsigned seed)
{
	uint8_t *b = malloc(len > 0 ? len : 1);
	uint64_t x = 0x9e3779b97f4a7c15ULL ^ seed;
	assert_non_null(b);
	for (size_t i = 0; i < len; i++) {
		/* xorshift64: reproducible bytes, no need for quality. */
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		b[i] = (uint8_t)(x >> 24);
	}
	unlink(path);
	test_write_file(path, b, len);
	free(b);
}

int tfile_same(const char *a, const char *b)
{
	size_t na, nb;
	char *x = slurp(a, &na), *y = slurp(b, &nb);
	int same = x != NULL && y != NULL && na == nb && memcmp(x, y, na) == 0;
	free(x);
	free(y);
	return same;
}
