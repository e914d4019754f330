/*
 * relay_main.c: the divex-relay command.
 *
 *   divex-relay init --home DIR --listen URL [--admin HOST:PORT] [--name NAME]
 *   divex-relay run --home DIR
 *   divex-relay admit --home DIR --status party|signatory ENROLLMENT-FILE
 *   divex-relay suspend|reinstate --home DIR STATE
 *   divex-relay status --home DIR [--json]
 *   divex-relay identity --home DIR
 *
 * Admin commands talk to the running relay over its admin socket
 * (DIR/admin.sock, reachable only through the 0700 home directory); when the
 * relay is not running they open the store themselves. Exit statuses: 0 ok,
 * 1 failed, 2 usage, 3 refused (bad entry, not a member), 4 not set up.
 *
 * Started by root, every command that opens the home first becomes the
 * user named by [relay] user (become_user() below, common/harden.h), so
 * that the files it creates belong to the relay's user.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "canon.h"
#include "harden.h"
#include "health.h"
#include "relay_server.h"
#include "roster.h"
#include "tlsgen.h"
#include "util.h"

static const char *home_dir(const char *opt)
{
	const char *h = opt != NULL ? opt : getenv("DIVEX_RELAY_HOME");
	return h != NULL ? h : "/var/lib/divex-relay";
}

static int exit_for(int rc)
{
	switch (rc) {
	case DX_OK:
		return 0;
	case DX_ENOENT:
		return 4;
	case DX_EPARSE:
	case DX_ESIG:
	case DX_EROSTER:
	case DX_ESTATE_CODE:
	case DX_ENOT_MEMBER:
	case DX_ETOOBIG:
		return 3;
	case DX_EINVAL:
		return 2;
	default:
		return 1;
	}
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "divex-relay: %s: %s\n", what, dx_strerror(rc));
	return exit_for(rc);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: divex-relay <command> [options]\n"
		"\n"
		"  init --home DIR --listen URL [--admin HOST:PORT] [--name NAME] [--hostname HOST]\n"
		"        create a relay: config, signing key, and for tls+tcp:// a TLS certificate\n"
		"        for HOST (default: the host in URL), whose fingerprint nodes pin\n"
		"  run --home DIR            run in the foreground (logs to stderr)\n"
		"  admit --home DIR --status party|signatory FILE\n"
		"        admit a State from its enrollment file (its self-signed roster entry)\n"
		"  suspend --home DIR STATE  suspend a State: it can neither send nor receive\n"
		"  reinstate --home DIR STATE\n"
		"  status --home DIR [--json]   health summary of the running relay\n"
		"  identity --home DIR       the relay's name and public key, for nodes to pin\n"
		"\n"
		"DIR defaults to $DIVEX_RELAY_HOME, else /var/lib/divex-relay.\n"
		"Configuration options: docs/relay.conf.md.\n");
}

static const struct option LONG_OPTS[] = {
	{ "home", required_argument, NULL, 'H' },   { "listen", required_argument, NULL, 'l' },
	{ "admin", required_argument, NULL, 'a' },  { "name", required_argument, NULL, 'n' },
	{ "status", required_argument, NULL, 's' }, { "json", no_argument, NULL, 'j' },
	{ "hostname", required_argument, NULL, 'N' },
	{ "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
};

struct args {
	const char *home, *listen, *admin, *name, *status, *hostname;
	int json;
	char **rest;
	int n_rest;
};

static int parse(int argc, char **argv, struct args *a)
{
	int c;
	memset(a, 0, sizeof(*a));
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", LONG_OPTS, NULL)) != -1) {
		switch (c) {
		case 'H':
			a->home = optarg;
			break;
		case 'l':
			a->listen = optarg;
			break;
		case 'a':
			a->admin = optarg;
			break;
		case 'n':
			a->name = optarg;
			break;
		case 's':
			a->status = optarg;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'N':
			a->hostname = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	a->rest = argv + optind;
	a->n_rest = argc - optind;
	a->home = home_dir(a->home);
	return 0;
}

static void print_identity(const struct relay_identity *id)
{
	char hex[2 * KEYS_SIGN_PK_LEN + 1];
	dx_hex(hex, id->pk, KEYS_SIGN_PK_LEN);
	printf("relay name:       %s\nrelay public key: %s\n", id->name, hex);
}

/* The host part of a listen URL, for the certificate's common name. */
static void url_host(const char *url, char *out, size_t n)
{
	const char *p = strstr(url, "://");
	p = p != NULL ? p + 3 : url;
	size_t len = strcspn(p, ":/");
	if (len == 0 || len >= n) {
		snprintf(out, n, "localhost");
		return;
	}
	memcpy(out, p, len);
	out[len] = '\0';
}

/* The port of a tcp:// or tls+tcp:// URL; 0 for ipc:// or when there is none. */
static unsigned url_port(const char *url)
{
	const char *p = strstr(url, "://");
	if (p == NULL || strncmp(url, "ipc", 3) == 0) {
		return 0;
	}
	const char *colon = strrchr(p + 3, ':');
	char *end;
	if (colon == NULL) {
		return 0;
	}
	unsigned long port = strtoul(colon + 1, &end, 10);
	return *end == '\0' && port <= 65535 ? (unsigned)port : 0;
}

/*
 * Root without [relay] user: allowed, for a home that belongs to root. A
 * home that belongs to another user is refused, because files root created
 * in it would stop that user's relay from starting.
 */
static int root_without_user(const char *home, int serving)
{
	struct stat st;
	char owner[64];
	if (stat(home, &st) == 0 && st.st_uid != 0) {
		harden_user_name(st.st_uid, owner, sizeof(owner));
		fprintf(stderr,
			"divex-relay: running as root, but the home %s belongs to %s: set "
			"'user = %s' in [relay] of relay.conf, or run divex-relay as %s\n",
			home, owner, owner, owner);
		return 1;
	}
	if (serving) {
		relay_logf(NULL, "running as root: set 'user = NAME' in [relay] of relay.conf so "
				 "that the relay gives up root once its ports are bound "
				 "(docs/relay.conf.md)");
	}
	return 0;
}

/*
 * Becomes [relay] user when started by root. A relay that will serve on a
 * port below 1024 keeps CAP_NET_BIND_SERVICE, and only it, until
 * relay_serve() has bound its ports; everything else happens as the user.
 * Returns 0 to go on, or the exit status.
 */
static int become_user(const char *home, int serving)
{
	struct relay_config cfg;
	struct harden_user u;
	char path[600], err[HARDEN_ERR_MAX], cerr[RELAY_CONFIG_ERR_MAX], host[HEALTH_HOST_MAX + 1];
	uint16_t admin_port = 0;
	int rc;
	if (relay_path(path, sizeof(path), home, RELAY_CONFIG_FILE_NAME) != DX_OK ||
	    relay_config_load(path, &cfg, cerr, sizeof(cerr)) != DX_OK) {
		return 0; /* the command itself reports a missing or bad file */
	}
	if (cfg.user[0] == '\0') {
		return geteuid() == 0 ? root_without_user(home, serving) : 0;
	}
	if ((rc = harden_user_lookup(cfg.user, &u, err, sizeof(err))) != DX_OK) {
		fprintf(stderr, "divex-relay: %s: %s\n", path, err);
		return 1;
	}
	if (geteuid() != 0) {
		if (geteuid() == u.uid) {
			return 0;
		}
		harden_user_name(geteuid(), err, sizeof(err));
		fprintf(stderr, "divex-relay: relay.conf says user = %s, but the relay runs as %s "
				"and cannot switch users: start it as root or as %s\n",
			u.name, err, u.name);
		return 1;
	}
	rc = harden_check_owner(home, "home", &u, err, sizeof(err));
	if (rc == DX_OK) {
		rc = harden_check_owner(cfg.data_dir, "data_dir", &u, err, sizeof(err));
	}
	if (rc == DX_OK && relay_config_url_is_tls(cfg.listen)) {
		rc = harden_check_owner(cfg.key_file, "TLS key", &u, err, sizeof(err));
	}
	if (rc != DX_OK) {
		fprintf(stderr, "divex-relay: %s\n", err);
		return 1;
	}
	if (health_split_addr(cfg.admin_listen, host, sizeof(host), &admin_port) != 0) {
		admin_port = 0;
	}
	int low = serving && (harden_port_privileged(url_port(cfg.listen)) ||
			      harden_port_privileged(admin_port));
	rc = low ? harden_drop_begin(&u, err, sizeof(err)) : harden_drop(&u, err, sizeof(err));
	if (rc != DX_OK) {
		fprintf(stderr, "divex-relay: %s\n", err);
		return 1;
	}
	if (serving) {
		relay_logf(NULL, "running as %s (uid %u, gid %u)%s", u.name, (unsigned)u.uid,
			   (unsigned)u.gid,
			   low ? "; CAP_NET_BIND_SERVICE kept until the ports are bound" : "");
	}
	return 0;
}

static int cmd_init(struct args *a)
{
	char path[600], cert[600], key[600], fp[65], host[256];
	struct keys_signer *s = NULL;
	int rc;
	if (a->listen == NULL) {
		fprintf(stderr, "divex-relay init: --listen URL is required, e.g. tls+tcp://0.0.0.0:7443\n");
		return 2;
	}
	const char *name = a->name != NULL ? a->name : RELAY_CONFIG_DEFAULT_NAME;
	const char *admin = a->admin != NULL ? a->admin : RELAY_CONFIG_DEFAULT_ADMIN;
	if ((rc = dx_mkdir_p(a->home)) != DX_OK) {
		return fail("creating the home directory", rc);
	}
	if (relay_path(path, sizeof(path), a->home, "relay.conf") != DX_OK) {
		return fail("home path", DX_EINVAL);
	}
	int tls = relay_config_url_is_tls(a->listen);
	if (tls && a->hostname == NULL &&
	    (strstr(a->listen, "://0.0.0.0:") != NULL || strstr(a->listen, "://[") != NULL)) {
		fprintf(stderr, "divex-relay init: the relay listens on every address; give the name nodes"
				" will dial with --hostname NAME (it goes into the TLS certificate)\n");
		return 2;
	}
	if (tls) {
		if (relay_path(cert, sizeof(cert), a->home, RELAY_CONFIG_TLS_CERT_NAME) != DX_OK ||
		    relay_path(key, sizeof(key), a->home, RELAY_CONFIG_TLS_KEY_NAME) != DX_OK) {
			return fail("home path", DX_EINVAL);
		}
	}
	if ((rc = relay_config_write_default(path, a->listen, admin, name)) != DX_OK) {
		return fail("writing relay.conf (an existing relay is never overwritten)", rc);
	}
	if (relay_path(path, sizeof(path), a->home, "relay.key") != DX_OK ||
	    (rc = keys_signer_create(path, &s)) != DX_OK) {
		return fail("creating the relay key", rc);
	}
	struct relay_identity id;
	snprintf(id.name, sizeof(id.name), "%s", name);
	keys_signer_pk(s, id.pk);
	keys_signer_free(s);
	printf("Created a relay in %s\n", a->home);
	print_identity(&id);
	if (tls) {
		if (a->hostname != NULL) {
			snprintf(host, sizeof(host), "%s", a->hostname);
		} else {
			url_host(a->listen, host, sizeof(host));
		}
		if ((rc = tlsgen_self_signed(cert, key, host, fp)) != DX_OK) {
			return fail("creating the TLS certificate", rc);
		}
		printf("TLS certificate:  %s\nTLS fingerprint:  sha256:%s\n", cert, fp);
	}
	printf("Give every node the relay name, public key%s.\n",
	       tls ? " and certificate (to pin)" : "");
	return 0;
}

static int cmd_run(struct args *a)
{
	struct relay r;
	char err[256] = "", path[600];
	int rc = relay_open(&r, a->home, err, sizeof(err));
	if (rc != DX_OK) {
		fprintf(stderr, "divex-relay: %s: %s\n", err[0] ? err : "start-up failed",
			dx_strerror(rc));
		relay_close(&r);
		return exit_for(rc);
	}
	/* One relay per home: the lock also tells admin commands to use the socket. */
	int lock = -1;
	if (relay_path(path, sizeof(path), a->home, "relay.lock") == DX_OK) {
		lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	}
	if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
		fprintf(stderr, "divex-relay: another relay is already running in %s\n", a->home);
		relay_close(&r);
		return 1;
	}
	/* Only now that this process is the one relay of the home. */
	if ((rc = relay_attach_recover(&r)) != DX_OK) {
		fprintf(stderr,
			"divex-relay: cannot put the attachment files in order in %s/attachments: "
			"%s; check the directory's owner and free space, then start again\n",
			r.cfg.data_dir, dx_strerror(rc));
		relay_close(&r);
		close(lock);
		return exit_for(rc);
	}
	rc = relay_serve(&r);
	relay_close(&r);
	close(lock);
	fprintf(stderr, "divex-relay: stopped\n");
	return rc == DX_OK ? 0 : exit_for(rc);
}

/* Sends one admin request to the running relay. */
static int admin_call(const char *home, const Dx__AdminRequest *q, Dx__AdminResponse **out)
{
	char path[600], url[700];
	nng_socket sock;
	uint8_t *buf = NULL;
	size_t len;
	int rc;
	if (relay_path(path, sizeof(path), home, "admin.sock") != DX_OK) {
		return DX_EINVAL;
	}
	snprintf(url, sizeof(url), "ipc://%s", path);
	if (nng_req0_open(&sock) != 0) {
		return DX_ENOMEM;
	}
	nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO, 30000);
	nng_socket_set_size(sock, NNG_OPT_RECVMAXSZ, 1 << 20);
	if ((rc = nng_dial(sock, url, NULL, 0)) != 0 ||
	    (rc = proto_pack_alloc(&q->base, &buf, &len)) != DX_OK ||
	    (rc = nng_send(sock, buf, len, 0)) != 0) {
		free(buf);
		nng_close(sock);
		return rc > 0 ? DX_EUNREACHABLE : rc;
	}
	free(buf);
	void *reply = NULL;
	size_t rlen;
	if ((rc = nng_recv(sock, &reply, &rlen, NNG_FLAG_ALLOC)) != 0) {
		nng_close(sock);
		return DX_ETIMEDOUT;
	}
	ProtobufCMessage *m = NULL;
	rc = proto_unpack_strict(&dx__admin_response__descriptor, reply, rlen, 1 << 20, &m);
	nng_free(reply, rlen);
	nng_close(sock);
	if (rc == DX_OK) {
		*out = (Dx__AdminResponse *)m;
	}
	return rc;
}

/* Runs an admin request: through the running relay, else on the store. */
static int admin(const char *home, const Dx__AdminRequest *q, char state[static 4])
{
	char path[600];
	int lock = -1, rc;
	if (relay_path(path, sizeof(path), home, "relay.lock") == DX_OK) {
		lock = open(path, O_RDWR | O_CLOEXEC);
	}
	if (lock >= 0 && flock(lock, LOCK_EX | LOCK_NB) != 0) {
		close(lock);
		Dx__AdminResponse *a = NULL;
		if ((rc = admin_call(home, q, &a)) != DX_OK) {
			return rc;
		}
		rc = a->status;
		snprintf(state, 4, "%s", a->state);
		dx__admin_response__free_unpacked(a, NULL);
		return rc;
	}
	struct relay r;
	char err[256] = "";
	Dx__AdminResponse a = DX__ADMIN_RESPONSE__INIT;
	rc = relay_open(&r, home, err, sizeof(err));
	if (rc == DX_OK) {
		rc = relay_admin_apply(&r, q, &a, state);
	} else {
		fprintf(stderr, "divex-relay: %s\n", err);
	}
	relay_close(&r);
	if (lock >= 0) {
		close(lock);
	}
	return rc;
}

static int cmd_admit(struct args *a)
{
	Dx__AdminRequest q = DX__ADMIN_REQUEST__INIT;
	uint8_t *entry = NULL;
	size_t len;
	char state[4];
	uint32_t status;
	if (a->n_rest != 1 || a->status == NULL || relay_status_parse(a->status, &status) != DX_OK) {
		fprintf(stderr, "usage: divex-relay admit --home DIR --status party|signatory FILE\n"
				"(only States Parties and signatory States can be admitted)\n");
		return 2;
	}
	int rc = dx_read_file(a->rest[0], ROSTER_ENTRY_MAX, &entry, &len);
	if (rc != DX_OK) {
		return fail(a->rest[0], rc);
	}
	q.verb = "admit";
	q.signed_entry = (ProtobufCBinaryData){ len, entry };
	q.status = status;
	rc = admin(a->home, &q, state);
	free(entry);
	if (rc != DX_OK) {
		return fail("admission refused", rc);
	}
	printf("admitted %s as %s\n", state, relay_status_name(status));
	return 0;
}

static int cmd_status_change(struct args *a, const char *verb)
{
	Dx__AdminRequest q = DX__ADMIN_REQUEST__INIT;
	char state[4];
	if (a->n_rest != 1 || !dx_state_valid(a->rest[0])) {
		fprintf(stderr, "usage: divex-relay %s --home DIR STATE (e.g. MEX)\n", verb);
		return 2;
	}
	q.verb = (char *)verb;
	q.state = a->rest[0];
	int rc = admin(a->home, &q, state);
	if (rc != DX_OK) {
		return fail(verb, rc);
	}
	printf("%s: %s\n", verb, a->rest[0]);
	return 0;
}

static int cmd_status(struct args *a)
{
	Dx__AdminRequest q = DX__ADMIN_REQUEST__INIT;
	Dx__AdminResponse *r = NULL;
	q.verb = "status";
	int rc = admin_call(a->home, &q, &r);
	if (rc != DX_OK) {
		return fail("the relay is not answering on its admin socket (is it running?)", rc);
	}
	fputs(a->json ? r->summary_json : r->summary, stdout);
	if (a->json) {
		putchar('\n');
	}
	dx__admin_response__free_unpacked(r, NULL);
	return 0;
}

static int cmd_identity(struct args *a)
{
	struct relay_config cfg;
	struct keys_signer *s = NULL;
	struct relay_identity id;
	char path[600], err[256] = "";
	int rc;
	if (relay_path(path, sizeof(path), a->home, "relay.conf") != DX_OK ||
	    (rc = relay_config_load(path, &cfg, err, sizeof(err))) != DX_OK) {
		fprintf(stderr, "divex-relay: %s\n", err);
		return 4;
	}
	if (relay_path(path, sizeof(path), a->home, "relay.key") != DX_OK ||
	    (rc = keys_signer_load(path, &s)) != DX_OK) {
		return fail("loading relay.key", rc);
	}
	snprintf(id.name, sizeof(id.name), "%s", cfg.name);
	keys_signer_pk(s, id.pk);
	keys_signer_free(s);
	print_identity(&id);
	return 0;
}

static int cmd_suspend(struct args *a)
{
	return cmd_status_change(a, "suspend");
}

static int cmd_reinstate(struct args *a)
{
	return cmd_status_change(a, "reinstate");
}

/* How a command runs when started by root (become_user()). */
enum as_user { AS_CALLER, AS_USER, AS_SERVER };

static const struct {
	const char *name;
	int (*fn)(struct args *a);
	enum as_user as;
} COMMANDS[] = {
	{ "init", cmd_init, AS_CALLER },	 { "run", cmd_run, AS_SERVER },
	{ "admit", cmd_admit, AS_USER },	 { "suspend", cmd_suspend, AS_USER },
	{ "reinstate", cmd_reinstate, AS_USER }, { "status", cmd_status, AS_CALLER },
	{ "identity", cmd_identity, AS_USER },
};

int main(int argc, char **argv)
{
	struct args a;
	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	dx_malloc_for_messages();
	/* No core file and no ptrace: the relay's keys are in this process. */
	if (harden_process(HARDEN_DAEMON) != DX_OK) {
		return fail("disabling core dumps", DX_EIO);
	}
	if (sodium_init() < 0) {
		return fail("libsodium", DX_ECRYPTO);
	}
	for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++) {
		if (strcmp(argv[1], COMMANDS[i].name) != 0) {
			continue;
		}
		if (parse(argc - 1, argv + 1, &a) != 0) {
			return 2;
		}
		int status = COMMANDS[i].as == AS_CALLER
				     ? 0
				     : become_user(a.home, COMMANDS[i].as == AS_SERVER);
		return status != 0 ? status : COMMANDS[i].fn(&a);
	}
	fprintf(stderr, "divex-relay: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
