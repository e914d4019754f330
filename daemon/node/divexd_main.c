/*
 * divexd_main.c: the State node daemon.
 *
 *   divexd run --home DIR [--passphrase-file F | --passphrase-fd N]
 *
 * Start-up: read DIR/divexd.conf, become [node] user when started by root
 * (common/harden.h: divexd binds no port, so root is needed for nothing
 * after the configuration is read), unlock DIR/state.key (the passphrase from
 * the options, else the config's passphrase_file, else the terminal), open
 * the store under a key derived from the identity secret, seed the relay
 * client with the latest checkpoint the store holds (so a relay that rolls
 * back is caught even across restarts), then start the workers and the
 * control socket.
 *
 * Signals: SIGTERM and SIGINT stop taking work and drain: messages being
 * submitted get their receipts stored, an envelope being received is
 * finished, and only then does the relay client close (nng 1.5.2 can hang
 * closing a socket with a request on its way out), the store close, and the
 * process exit 0. SIGHUP rereads the configuration.
 *
 * Exit statuses: 0 after a clean stop, 1 a failure, 2 usage, 4 not set up
 * (no configuration or key file), 5 passphrase or key file permissions.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "bridge.h"
#include "checkpoint.h"
#include "harden.h"
#include "keyfile.h"
#include "node.h"
#include "util.h"

#ifndef DIVEX_VERSION
#define DIVEX_VERSION "unknown"
#endif

#define DRAIN_POLL_MS 20
#define DRAIN_DEADLINE_MS 30000
/* A drain that takes longer than this logs what it waits for. */
#define DRAIN_REPORT_MS 5000

enum { EXIT_USAGE = 2, EXIT_NOTSETUP = 4, EXIT_KEYFILE = 5 };

/* ---- relay client events ---- */

static void on_checkpoint(void *arg, const char *text, size_t len, uint64_t size)
{
	struct node *n = arg;
	struct checkpoint cp;
	int rc = checkpoint_parse_verify((const uint8_t *)text, len, n->relay.name, n->relay.name,
					 n->relay.pk, &cp);
	if (rc == DX_OK) {
		rc = node_store_checkpoint_put(n->store, cp.size, cp.root, (const uint8_t *)text, len,
					       "relay");
	}
	if (rc != DX_OK && rc != DX_ELOG_INCONSISTENT) {
		node_log(n, NODE_LOG_ERROR, "storing the relay's checkpoint: %s", dx_strerror(rc));
	}
	node_log(n, NODE_LOG_DEBUG, "relay checkpoint adopted: size %llu",
		 (unsigned long long)size);
}

static void on_alarm(void *arg, int code, const char *old_text, size_t old_len,
		     const char *new_text, size_t new_len)
{
	node_alarm(arg, code, "relay", old_text, old_len, new_text, new_len);
}

/* ---- stopping ---- */

static void closed_handle(uv_handle_t *h)
{
	(void)h;
}

static void relay_closed(void *arg)
{
	struct node *n = arg;
	n->rc = NULL;
	uv_close((uv_handle_t *)&n->sig_term, closed_handle);
	uv_close((uv_handle_t *)&n->sig_int, closed_handle);
	uv_close((uv_handle_t *)&n->sig_hup, closed_handle);
	uv_close((uv_handle_t *)&n->stop_timer, closed_handle);
}

static int drained(const struct node *n)
{
	size_t expected = n->inbox_listing ? 1 : 0;
	return node_outbox_active(n) == 0 && !node_inbox_busy(n) && !node_roster_busy(n) &&
	       relay_client_in_flight(n->rc) <= expected;
}

/* What the drain still waits for, for the log. */
static void log_in_flight(struct node *n, enum node_log_level level, const char *what)
{
	char relay[256];
	relay_client_describe_in_flight(n->rc, relay, sizeof(relay));
	node_log(n, level, "%s: outbox %zu sending, inbox %s, roster %s, relay requests: %s%s",
		 what, node_outbox_active(n), node_inbox_busy(n) ? "busy" : "idle",
		 node_roster_busy(n) ? "busy" : "idle", relay,
		 n->inbox_listing ? " (one list is the inbox's wait for mail)" : "");
}

static void on_drain_tick(uv_timer_t *t)
{
	struct node *n = t->data;
	uint64_t waited = uv_now(n->loop) - n->drain_start_ms;
	if (!drained(n) && waited < DRAIN_DEADLINE_MS) {
		if (waited >= DRAIN_REPORT_MS && !n->drain_reported) {
			n->drain_reported = 1;
			log_in_flight(n, NODE_LOG_INFO, "still draining");
		}
		return;
	}
	uv_timer_stop(t);
	if (!drained(n)) {
		log_in_flight(n, NODE_LOG_WARN, "stopping with work in flight after the drain "
				"deadline; it resumes at the next start");
	}
	relay_client_close(n->rc, relay_closed, n);
}

void node_stop(struct node *n, int exit_code)
{
	if (n->stopping) {
		return;
	}
	n->stopping = 1;
	n->exit_code = exit_code;
	node_log(n, NODE_LOG_INFO, "stopping: draining work in flight");
	node_control_stop(n, NULL, NULL);
	node_outbox_stop(n);
	node_inbox_stop(n);
	node_roster_stop(n);
	node_notice_stop(n);
	n->drain_start_ms = uv_now(n->loop);
	uv_timer_start(&n->stop_timer, on_drain_tick, 0, DRAIN_POLL_MS);
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct node *n = s->data;
	if (signum == SIGHUP) {
		char msg[512];
		/* The outcome is logged; a bad file keeps the running configuration. */
		int rc = node_reload(n, msg, sizeof(msg));
		(void)rc;
		return;
	}
	node_stop(n, 0);
}

/* ---- start-up ---- */

static int exit_for(int rc)
{
	switch (rc) {
	case DX_ENOENT:
		return EXIT_NOTSETUP;
	case DX_EPASSPHRASE:
	case DX_EKEYFILE_PERM:
	case DX_ENO_PASSPHRASE:
	case DX_EKEYFILE_CORRUPT:
	case DX_EKEYFILE_VERSION:
		return EXIT_KEYFILE;
	default:
		return 1;
	}
}

static int fail(struct node *n, int rc, const char *what)
{
	node_log(n, NODE_LOG_ERROR, "%s: %s", what, dx_strerror(rc));
	return exit_for(rc);
}

/* Officers reach the control socket through the home: it must be traversable. */
static void home_traversable(struct node *n)
{
	struct stat st;
	if (stat(n->home, &st) == 0 && (st.st_mode & 0011) != 0011) {
		if (chmod(n->home, (st.st_mode & 07777) | 0011) == 0) {
			node_log(n, NODE_LOG_INFO,
				 "made %s traversable (not listable) so that local users with a "
				 "role reach its control socket; every file in it stays private",
				 n->home);
		}
	}
}

/*
 * Root without [node] user: allowed for a home that belongs to root, with a
 * warning. A home that belongs to another user is refused: the files root
 * would create in it (SQLite's journals, attachments) would stop that
 * user's divexd from starting.
 */
static int root_without_user(struct node *n)
{
	struct stat st;
	char owner[64];
	if (stat(n->home, &st) == 0 && st.st_uid != 0) {
		harden_user_name(st.st_uid, owner, sizeof(owner));
		node_log(n, NODE_LOG_ERROR,
			 "running as root, but the home %s belongs to %s: set 'user = %s' in "
			 "[node] of divexd.conf, or run divexd as %s",
			 n->home, owner, owner, owner);
		return 1;
	}
	node_log(n, NODE_LOG_WARN, "running as root: set 'user = NAME' in [node] of divexd.conf "
		 "so that divexd gives up root at start-up (docs/divexd.conf.md)");
	return 0;
}

/*
 * Becomes [node] user when started by root, before the passphrase, the keys
 * or the stores are read, after checking that the home (and a passphrase
 * file) belong to that user. Returns 0 to go on, else the exit status.
 */
static int become_user(struct node *n, const char *pass_file)
{
	struct harden_user u;
	char err[HARDEN_ERR_MAX], who[64];
	if (n->cfg.user[0] == '\0') {
		return geteuid() == 0 ? root_without_user(n) : 0;
	}
	int rc = harden_user_lookup(n->cfg.user, &u, err, sizeof(err));
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "%s: %s", n->conf_path, err);
		return 1;
	}
	if (geteuid() != 0) {
		if (geteuid() == u.uid) {
			return 0;
		}
		harden_user_name(geteuid(), who, sizeof(who));
		node_log(n, NODE_LOG_ERROR, "divexd.conf says user = %s, but divexd runs as %s and "
			 "cannot switch users: start it as root or as %s", u.name, who, u.name);
		return 1;
	}
	if (pass_file == NULL && n->cfg.passphrase_file[0] != '\0') {
		pass_file = n->cfg.passphrase_file;
	}
	rc = harden_check_owner(n->home, "home", &u, err, sizeof(err));
	if (rc == DX_OK && pass_file != NULL) {
		rc = harden_check_owner(pass_file, "passphrase file", &u, err, sizeof(err));
	}
	if (rc == DX_OK) {
		rc = harden_drop(&u, err, sizeof(err));
	}
	if (rc != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "%s", err);
		return 1;
	}
	node_log(n, NODE_LOG_INFO, "running as %s (uid %u, gid %u): no capability left, root "
		 "cannot be regained", u.name, (unsigned)u.uid, (unsigned)u.gid);
	return 0;
}

static int unlock(struct node *n, const char *pass_file, int pass_fd)
{
	char path[NODE_CONFIG_PATH_MAX + 32];
	if (pass_file == NULL && pass_fd < 0 && n->cfg.passphrase_file[0] != '\0') {
		pass_file = n->cfg.passphrase_file;
	}
	int rc = passphrase_read(pass_file, pass_fd, "Passphrase of this State's key file: ", 0,
				 &n->pass);
	if (rc != DX_OK) {
		return fail(n, rc, "reading the passphrase");
	}
	snprintf(path, sizeof(path), "%s/%s", n->home, NODE_KEY_FILE);
	rc = keyfile_read(path, n->pass.buf, n->pass.len, &n->keys);
	if (rc != DX_OK) {
		return fail(n, rc, path);
	}
	if (strcmp(keys_state(n->keys), n->cfg.state) != 0) {
		node_log(n, NODE_LOG_ERROR, "the key file is %s's but divexd.conf says state = %s",
			 keys_state(n->keys), n->cfg.state);
		return 1;
	}
	return 0;
}

static int open_store(struct node *n)
{
	char path[NODE_CONFIG_PATH_MAX + 32];
	uint8_t key[KEYS_STORE_KEY_LEN];
	struct node_store_checkpoint cp;
	snprintf(path, sizeof(path), "%s/%s", n->home, NODE_STORE_FILE);
	keys_derive_local_key(n->keys, key, "node.db");
	int rc = node_store_open(path, key, &n->store);
	sodium_memzero(key, sizeof(key));
	if (rc != DX_OK) {
		return fail(n, rc, path);
	}
	/* The officer's cases: their own database, under their own key. */
	snprintf(path, sizeof(path), "%s/%s", n->home, NODE_CASES_FILE);
	keys_derive_local_key(n->keys, key, "cases.db");
	rc = case_store_open(path, key, &n->cases);
	sodium_memzero(key, sizeof(key));
	if (rc != DX_OK) {
		return fail(n, rc, path);
	}
	struct relay_client_config rcfg = {
		.url = n->cfg.relay_url,
		.tls_ca_file = n->cfg.relay_ca_file[0] != '\0' ? n->cfg.relay_ca_file : NULL,
		.tls_server_name = n->cfg.relay_server_name[0] != '\0' ? n->cfg.relay_server_name
								       : NULL,
		.keys = n->keys,
		.timeout_ms = n->cfg.relay_timeout_ms,
		.on_alarm = on_alarm,
		.on_checkpoint = on_checkpoint,
		.cb_arg = n,
	};
	snprintf(n->relay.name, sizeof(n->relay.name), "%s", n->cfg.relay_name);
	memcpy(n->relay.pk, n->cfg.relay_public_key, sizeof(n->relay.pk));
	rcfg.relay = n->relay;
	if ((rc = relay_client_open(n->loop, &rcfg, &n->rc)) != DX_OK) {
		return fail(n, rc, "opening the relay client");
	}
	if (node_store_checkpoint_latest(n->store, &cp) == DX_OK) {
		rc = relay_client_set_checkpoint(n->rc, cp.text, cp.text_len);
		if (rc != DX_OK) {
			node_log(n, NODE_LOG_WARN, "the stored checkpoint does not verify under the "
				 "configured relay key: %s", dx_strerror(rc));
		} else {
			node_log(n, NODE_LOG_INFO, "holding the relay's checkpoint of size %llu",
				 (unsigned long long)cp.size);
		}
		node_store_checkpoint_fini(&cp);
	}
	return 0;
}

static int start(struct node *n)
{
	int rc;
	n->sig_term.data = n->sig_int.data = n->sig_hup.data = n->stop_timer.data = n;
	if (uv_signal_init(n->loop, &n->sig_term) != 0 || uv_signal_init(n->loop, &n->sig_int) != 0 ||
	    uv_signal_init(n->loop, &n->sig_hup) != 0 || uv_timer_init(n->loop, &n->stop_timer) != 0 ||
	    uv_signal_start(&n->sig_term, on_signal, SIGTERM) != 0 ||
	    uv_signal_start(&n->sig_int, on_signal, SIGINT) != 0 ||
	    uv_signal_start(&n->sig_hup, on_signal, SIGHUP) != 0) {
		return fail(n, DX_EINTERNAL, "installing signal handlers");
	}
	n->started_ms = dx_now_ms();
	if ((rc = node_files_init(n)) != DX_OK) {
		return fail(n, rc, "creating the attachment directories");
	}
	/* The notices table first: received mail may record a notice in it. */
	if ((rc = node_notice_start(n)) != DX_OK) {
		return fail(n, rc, "starting the rule 12 notices");
	}
	if ((rc = node_outbox_start(n)) != DX_OK || (rc = node_inbox_start(n)) != DX_OK ||
	    (rc = node_roster_start(n)) != DX_OK) {
		return fail(n, rc, "starting the workers");
	}
	home_traversable(n);
	if ((rc = node_control_start(n)) != DX_OK) {
		node_log(n, NODE_LOG_ERROR, "listening on %s: %s (is another divexd running with "
			 "this home?)", n->ctl_url, dx_strerror(rc));
		return 1;
	}
	node_log(n, NODE_LOG_INFO, "divexd %s for %s, relay %s", DIVEX_VERSION, n->cfg.state,
		 n->cfg.relay_url);
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: divexd run --home DIR [--passphrase-file F | --passphrase-fd N]\n"
	      "       divexd --help | --version\n"
	      "\n"
	      "Runs a State's divex node in the foreground: keeps its outbox and inbox,\n"
	      "mirrors the roster, rotates prekeys and serves the divex command on\n"
	      "ipc://DIR/control.sock. Configuration: DIR/divexd.conf (docs/divexd.conf.md),\n"
	      "written by 'divex init'. Logs go to standard error.\n"
	      "\n"
	      "  --home DIR            the State's home (default $DIVEX_HOME, else /var/lib/divex)\n"
	      "  --passphrase-file F   the key file's passphrase (first line; mode 0600)\n"
	      "  --passphrase-fd N     read it from file descriptor N\n"
	      "                        (else [node] passphrase_file, else the terminal)\n"
	      "\n"
	      "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP rereads the configuration.\n"
	      "Exit statuses: 0 clean stop, 1 failure, 2 usage, 4 not set up, 5 passphrase.\n",
	      f);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "passphrase-file", required_argument, NULL, 'p' },
		{ "passphrase-fd", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	static struct node node;
	struct node *n = &node;
	const char *home = getenv("DIVEX_HOME"), *pass_file = NULL;
	int pass_fd = -1, opt;
	char err[NODE_CONFIG_ERR_MAX];

	dx_malloc_for_messages();
	/* Keys live in this process: never in a core file, never under ptrace. */
	if (harden_process(HARDEN_DAEMON) != DX_OK) {
		fprintf(stderr, "divexd: cannot disable core dumps\n");
		return 1;
	}
	n->cfg.log_level = NODE_LOG_INFO;
	if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
		usage(stdout);
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("divexd %s\n", DIVEX_VERSION);
		return 0;
	}
	if (argc < 2 || strcmp(argv[1], "run") != 0) {
		usage(stderr);
		return EXIT_USAGE;
	}
	optind = 2;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'H':
			home = optarg;
			break;
		case 'p':
			pass_file = optarg;
			break;
		case 'f': {
			char *end;
			long v = strtol(optarg, &end, 10);
			if (*end != '\0' || v < 0 || v > INT_MAX) {
				fprintf(stderr, "divexd: --passphrase-fd takes a file descriptor\n");
				return EXIT_USAGE;
			}
			pass_fd = (int)v;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("divexd %s\n", DIVEX_VERSION);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (home == NULL) {
		home = "/var/lib/divex";
	}
	char real[PATH_MAX];
	if (realpath(home, real) == NULL) {
		fprintf(stderr, "divexd: the home %s does not exist: create it with 'divex init "
				"--home %s ...'\n",
			home, home);
		return EXIT_NOTSETUP;
	}
	if (strlen(real) >= sizeof(n->home) - 64) {
		fprintf(stderr, "divexd: the home's path is too long (%zu bytes)\n", strlen(real));
		return EXIT_USAGE;
	}
	memcpy(n->home, real, strlen(real) + 1);
	if (sodium_init() < 0) {
		fprintf(stderr, "divexd: libsodium could not start\n");
		return 1;
	}
	snprintf(n->conf_path, sizeof(n->conf_path), "%s/%s", n->home, NODE_CONFIG_FILE_NAME);
	snprintf(n->ctl_url, sizeof(n->ctl_url), "ipc://%s/%s", n->home, NODE_CONTROL_SOCKET);
	int rc = node_config_load(n->conf_path, &n->cfg, err);
	if (rc != DX_OK) {
		fprintf(stderr, "divexd: %s\n", err);
		return rc == DX_ENOENT ? EXIT_NOTSETUP : 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((rc = become_user(n, pass_file)) != 0) {
		return rc;
	}
	n->loop = uv_default_loop();
	int status = unlock(n, pass_file, pass_fd);
	if (status == 0) {
		status = open_store(n);
	}
	if (status == 0) {
		status = start(n);
		if (status != 0 && n->stop_timer.loop != NULL) {
			node_stop(n, status);
		} else if (status != 0) {
			relay_client_close(n->rc, NULL, NULL);
		}
		uv_run(n->loop, UV_RUN_DEFAULT);
		status = n->exit_code;
	}
	if (n->store != NULL) {
		node_store_close(n->store);
	}
	case_store_close(n->cases);
	keys_free(n->keys);
	passphrase_free(&n->pass);
	if (bridge_closes_abandoned() > 0) {
		node_log(n, NODE_LOG_WARN, "a socket (the relay connection or the control socket) did "
			 "not close within 2 s (nng 1.5.2 can hang closing a socket); stopped "
			 "without waiting for it: everything stored is durable");
	}
	if (n->rc == NULL && status == 0) {
		node_log(n, NODE_LOG_INFO, "stopped");
	}
	uv_loop_close(n->loop);
	return status;
}
