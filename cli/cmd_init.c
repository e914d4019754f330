/*
 * cmd_init.c: `divex init`: sets up a State's node home, offline: the keys
 * and the enrollment file (the same code as `divex keys init`), the daemon's
 * configuration divexd.conf (mode 0600, never overwritten) and, for a relay
 * reached over tls+tcp, a copy of the certificate to pin.
 *
 * Everything the command line says is checked before anything is written,
 * and the configuration is built whole in memory first: what divexd would
 * refuse at start-up (a line too long, a value its parser would misread) is
 * refused here, with the option that caused it. Role users are written as
 * given; divexd resolves names to uids when it loads the file.
 */
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgfile.h"
#include "cli.h"

enum {
	OPT_RELAY_URL = CLI_OPT_FIRST_VERB,
	OPT_RELAY_NAME,
	OPT_RELAY_KEY,
	OPT_RELAY_CERT,
	OPT_RELAY_SERVER,
	OPT_OFFICER,
	OPT_POC,
	OPT_ADMIN,
};

#define CONF_FILE "divexd.conf"
#define RELAY_CERT_FILE "relay-cert.pem"
/* divexd refuses a line longer than this (docs/divexd.conf.md). */
#define CONF_LINE_MAX 190
#define CONF_MAX (16 * 1024)
#define CERT_MAX (64 * 1024)
#define TOKEN_MAX 255
#define USER_MAX 32
#define ROLE_USERS_MAX 64
#define RELAY_KEY_LEN 32
#define PREKEY_PERIOD_DAYS_MAX 90
#define PEM_CERT "-----BEGIN CERTIFICATE-----"

enum role { ROLE_ADMIN, ROLE_POC, ROLE_OFFICER, N_ROLES };
static const char *const role_key[N_ROLES] = { "administrator", "point_of_contact", "officer" };

struct init_opts {
	struct cli_keys_opts ko;
	const char *relay_url, *relay_name, *relay_key, *relay_cert, *relay_server;
	char users[N_ROLES][ROLE_USERS_MAX][USER_MAX + 1];
	size_t n_users[N_ROLES];
	int tls;
};

/* Printable ASCII without spaces: safe as an INI value and on a log line. */
static int token_ok(const char *s)
{
	if (s[0] == '\0' || strlen(s) > TOKEN_MAX) {
		return 0;
	}
	for (; *s != '\0'; s++) {
		if (*s <= 0x20 || *s >= 0x7f) {
			return 0;
		}
	}
	return 1;
}

/* A user name as useradd takes it, or a numeric uid. */
static int user_ok(const char *u, size_t len)
{
	if (len == 0 || len > USER_MAX || u[0] == '-') {
		return 0;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = u[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-' ||
			 (ch == '$' && i == len - 1);
		if (!ok) {
			return 0;
		}
	}
	return 1;
}

/* --officer alice,bob (and again): each user once per role. */
static int add_users(struct cli *c, struct init_opts *io, enum role r, const char *opt,
		     const char *arg)
{
	const char *p = arg;
	for (;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (!user_ok(p, len)) {
			return cli_usage(c, "%s takes user names or numeric uids, not '%s'", opt,
					 arg);
		}
		if (io->n_users[r] == ROLE_USERS_MAX) {
			return cli_usage(c, "at most %d users per role", ROLE_USERS_MAX);
		}
		char *dst = io->users[r][io->n_users[r]++];
		memcpy(dst, p, len);
		dst[len] = '\0';
		if (comma == NULL) {
			return CLI_CONTINUE;
		}
		p = comma + 1;
	}
}

static int init_opt(struct cli *c, const struct cli_verb *v, struct init_opts *io, int opt,
		    char **argv)
{
	switch (opt) {
	case OPT_RELAY_URL:
		io->relay_url = optarg;
		return CLI_CONTINUE;
	case OPT_RELAY_NAME:
		io->relay_name = optarg;
		return CLI_CONTINUE;
	case OPT_RELAY_KEY:
		io->relay_key = optarg;
		return CLI_CONTINUE;
	case OPT_RELAY_CERT:
		io->relay_cert = optarg;
		return CLI_CONTINUE;
	case OPT_RELAY_SERVER:
		io->relay_server = optarg;
		return CLI_CONTINUE;
	case OPT_OFFICER:
		return add_users(c, io, ROLE_OFFICER, "--officer", optarg);
	case OPT_POC:
		return add_users(c, io, ROLE_POC, "--poc", optarg);
	case OPT_ADMIN:
		return add_users(c, io, ROLE_ADMIN, "--admin", optarg);
	default:
		return cli_keys_opt(c, v, &io->ko, opt, argv);
	}
}

static int url_kind(const char *url, int *tls)
{
	if (!cfgfile_url_valid(url, TOKEN_MAX)) {
		return DX_EINVAL;
	}
	*tls = cfgfile_url_is_tls(url);
	return DX_OK;
}

static int check_relay(struct cli *c, struct init_opts *io)
{
	uint8_t pk[RELAY_KEY_LEN];
	if (io->relay_url == NULL || io->relay_name == NULL || io->relay_key == NULL) {
		return cli_usage(c, "--relay-url, --relay-name and --relay-key are required "
				    "('divex-relay identity' prints the name and key)");
	}
	if (url_kind(io->relay_url, &io->tls) != DX_OK) {
		return cli_usage(c,
				 "--relay-url is tls+tcp://HOST:PORT (or tcp://, ipc:// for "
				 "tests), not '%s'",
				 io->relay_url);
	}
	if (!token_ok(io->relay_name)) {
		return cli_usage(c, "--relay-name is 1 to %d printable characters without spaces",
				 TOKEN_MAX);
	}
	if (strlen(io->relay_key) != 2 * RELAY_KEY_LEN ||
	    dx_unhex(pk, sizeof(pk), io->relay_key) != DX_OK) {
		return cli_usage(c, "--relay-key is the relay's public key: %d hex digits",
				 2 * RELAY_KEY_LEN);
	}
	if (io->tls != (io->relay_cert != NULL)) {
		return cli_usage(c, io->tls ? "a tls+tcp:// relay needs --relay-cert FILE, the "
					      "certificate to pin (the relay's tls-cert.pem)"
					    : "--relay-cert is only for a tls+tcp:// relay");
	}
	if (io->relay_server != NULL && (!io->tls || !token_ok(io->relay_server))) {
		return cli_usage(c, "--relay-server-name is a host name, for a tls+tcp:// relay");
	}
	return CLI_CONTINUE;
}

/* The configuration, built in memory; a line divexd would refuse is noted. */
struct conf {
	char buf[CONF_MAX];
	size_t len;
	int overflow;
	const char *too_long; /* the key of the first line longer than CONF_LINE_MAX */
};

static void conf_line(struct conf *cf, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void conf_line(struct conf *cf, const char *key, const char *fmt, ...)
{
	char line[4 * CONF_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || n > CONF_LINE_MAX) {
		if (cf->too_long == NULL) {
			cf->too_long = key;
		}
		return;
	}
	if (cf->len + (size_t)n + 2 > sizeof(cf->buf)) {
		cf->overflow = 1;
		return;
	}
	memcpy(cf->buf + cf->len, line, (size_t)n);
	cf->len += (size_t)n;
	cf->buf[cf->len++] = '\n';
}

static void conf_role(struct conf *cf, const struct init_opts *io, enum role r)
{
	char users[ROLE_USERS_MAX * (USER_MAX + 2) + 1];
	size_t len = 0;
	users[0] = '\0';
	for (size_t i = 0; i < io->n_users[r]; i++) {
		len += (size_t)snprintf(users + len, sizeof(users) - len, "%s%s", i > 0 ? ", " : "",
					io->users[r][i]);
	}
	conf_line(cf, role_key[r], "%s =%s%s", role_key[r], len > 0 ? " " : "", users);
}

static void build_conf(struct conf *cf, const struct init_opts *io, const char *pass_file)
{
	char key[2 * RELAY_KEY_LEN + 1];
	uint8_t pk[RELAY_KEY_LEN];
	/* Checked by check_relay(); written in lowercase whatever was typed. */
	if (dx_unhex(pk, sizeof(pk), io->relay_key) != DX_OK) {
		memset(pk, 0, sizeof(pk));
	}
	dx_hex(key, pk, sizeof(pk));
	conf_line(cf, "",
		  "# divexd configuration for %s, written by 'divex init'. See "
		  "docs/divexd.conf.md.",
		  io->ko.state);
	conf_line(cf, "", "[node]");
	conf_line(cf, "state", "state = %s", io->ko.state);
	if (pass_file != NULL) {
		conf_line(cf, "passphrase_file", "passphrase_file = %s", pass_file);
	}
	conf_line(cf, "log_level", "log_level = info");
	conf_line(cf, "", "%s", "");
	conf_line(cf, "", "[relay]");
	conf_line(cf, "url", "url = %s", io->relay_url);
	conf_line(cf, "name", "name = %s", io->relay_name);
	conf_line(cf, "public_key", "public_key = %s", key);
	if (io->tls) {
		conf_line(cf, "ca_file", "ca_file = %s", RELAY_CERT_FILE);
	}
	if (io->relay_server != NULL) {
		conf_line(cf, "server_name", "server_name = %s", io->relay_server);
	}
	conf_line(cf, "", "%s", "");
	conf_line(cf, "", "[prekeys]");
	conf_line(cf, "period_days", "period_days = %llu",
		  (unsigned long long)(io->ko.period_ms / KEYS_DAY_MS));
	conf_line(cf, "", "%s", "");
	conf_line(cf, "", "[roles]");
	conf_line(cf, "",
		  "; Who may use the control socket (docs/control.md): user names or "
		  "numeric uids,");
	conf_line(cf, "",
		  "; separated by commas. Officers read and send; points of contact "
		  "also verify");
	conf_line(cf, "", "; keys; administrators also rotate the prekey and reload this file.");
	for (int r = 0; r < N_ROLES; r++) {
		conf_role(cf, io, (enum role)r);
	}
}

/* The passphrase file as divexd will find it: absolute, and a plain value. */
static int pass_file_path(struct cli *c, char out[static PATH_MAX])
{
	if (realpath(c->pass_file, out) == NULL) {
		return cli_error(c, dx_from_errno(errno), "--passphrase-file %s", c->pass_file);
	}
	for (const char *p = out; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == ';' || *p == '#') {
			return cli_usage(c,
					 "the passphrase file's path %s cannot be written in "
					 "divexd.conf (it holds ';', '#' or a control character)",
					 out);
		}
	}
	return CLI_EXIT_OK;
}

/* Reads the relay certificate to pin; it must at least look like one. */
static int read_cert(struct cli *c, const char *path, uint8_t **out, size_t *len)
{
	int rc = dx_read_file(path, CERT_MAX, out, len);
	if (rc != DX_OK) {
		return cli_error(c, rc, "reading the relay certificate %s", path);
	}
	if (memmem(*out, *len, PEM_CERT, strlen(PEM_CERT)) == NULL) {
		free(*out);
		*out = NULL;
		return cli_error(c, DX_EPARSE,
				 "%s is not a PEM certificate (give the relay's "
				 "tls-cert.pem)",
				 path);
	}
	return CLI_EXIT_OK;
}

struct init_paths {
	struct cli_key_paths keys;
	char conf[4096];
	char cert[4096];
};

/* Nothing of an existing node is replaced. */
static int check_free(struct cli *c, const struct init_paths *p, int tls)
{
	struct stat st;
	const char *taken = lstat(p->conf, &st) == 0	      ? p->conf
			    : tls && lstat(p->cert, &st) == 0 ? p->cert
							      : NULL;
	if (taken != NULL) {
		return cli_fail(c, CLI_EXIT_FAILED, "DX_EEXIST",
				"%s already exists: this home is already set up, and nothing was "
				"changed; edit divexd.conf by hand, or choose another --home",
				taken);
	}
	return CLI_EXIT_OK;
}

static void print_init(struct out *o, const char *home, const struct init_opts *io,
		       const struct keys *k, uint64_t now, const struct init_paths *p)
{
	out_note(o, "Set up the node of %s in %s.", io->ko.state, home);
	cli_print_keys(o, k, now);
	cli_print_files(o, &p->keys, p->conf, io->tls ? p->cert : NULL);
	out_obj_begin(o, "roles", "Roles");
	for (int r = 0; r < N_ROLES; r++) {
		out_list_begin(o, role_key[r], role_key[r]);
		for (size_t i = 0; i < io->n_users[r]; i++) {
			out_str(o, NULL, "", io->users[r][i]);
		}
		out_list_end(o);
	}
	out_obj_end(o);
	out_note(o,
		 "\nNext: hand %s to the Secretariat, give the fingerprint to the other\n"
		 "States by a separate channel, and start the daemon:\n"
		 "  divexd run --home %s",
		 p->keys.enrollment, home);
}

/* clang-format off */
static const char init_usage[] =
	"usage: divex init --state CODE --relay-url URL --relay-name NAME --relay-key HEX\n"
	"                  [--relay-cert FILE] [options]\n"
	"\n"
	"Sets up this State's node in the home directory, offline: creates the keys\n"
	"and enrollment.dxe (as 'divex keys init'), writes divexd.conf (mode 0600)\n"
	"for the daemon, and copies the relay's certificate to relay-cert.pem.\n"
	"Nothing that exists is overwritten. Without a role option, the user\n"
	"running the command becomes the node's administrator.\n"
	"\n"
	"options:\n"
	CLI_HELP_KEYS
	"      --relay-url URL       tls+tcp://HOST:PORT of the relay (tcp://, ipc://\n"
	"                            for tests)\n"
	"      --relay-name NAME     the relay's name, as 'divex-relay identity' prints it\n"
	"      --relay-key HEX       the relay's public key (64 hex digits), likewise\n"
	"      --relay-cert FILE     the relay's TLS certificate to pin (tls+tcp only)\n"
	"      --relay-server-name N the name to check in that certificate\n"
	"      --officer USER        may read and send (repeatable; commas allowed)\n"
	"      --poc USER            point of contact: also verifies keys\n"
	"      --admin USER          administrator: also rotates the prekey, reloads\n"
	CLI_HELP_PASSPHRASE
	"                            (with --passphrase-file, divexd.conf names the file\n"
	"                            so that the daemon can start unattended)\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int parse_init(struct cli *c, const struct cli_verb *v, int argc, char **argv,
		      struct init_opts *io)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		CLI_LONGOPTS_PASSPHRASE,
		CLI_LONGOPTS_KEYS,
		{ "relay-url", required_argument, NULL, OPT_RELAY_URL },
		{ "relay-name", required_argument, NULL, OPT_RELAY_NAME },
		{ "relay-key", required_argument, NULL, OPT_RELAY_KEY },
		{ "relay-cert", required_argument, NULL, OPT_RELAY_CERT },
		{ "relay-server-name", required_argument, NULL, OPT_RELAY_SERVER },
		{ "officer", required_argument, NULL, OPT_OFFICER },
		{ "poc", required_argument, NULL, OPT_POC },
		{ "admin", required_argument, NULL, OPT_ADMIN },
		{ NULL, 0, NULL, 0 },
	};
	int opt, status = CLI_CONTINUE;
	cli_keys_opts_init(&io->ko);
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		status = init_opt(c, v, io, opt, argv);
	}
	if (status == CLI_CONTINUE && optind < argc) {
		status = cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	if (status == CLI_CONTINUE) {
		status = cli_keys_check(c, &io->ko);
	}
	if (status == CLI_CONTINUE) {
		status = check_relay(c, io);
	}
	if (status == CLI_CONTINUE && io->ko.period_ms / KEYS_DAY_MS > PREKEY_PERIOD_DAYS_MAX) {
		status = cli_usage(c,
				   "a node rotates its prekey at least every %d days: "
				   "--period-days must not exceed that",
				   PREKEY_PERIOD_DAYS_MAX);
	}
	return status;
}

/* No role given: the person setting the node up administers it. */
static void default_admin(struct init_opts *io)
{
	if (io->n_users[ROLE_ADMIN] + io->n_users[ROLE_POC] + io->n_users[ROLE_OFFICER] > 0) {
		return;
	}
	const struct passwd *pw = getpwuid(getuid());
	char *dst = io->users[ROLE_ADMIN][0];
	if (pw != NULL && user_ok(pw->pw_name, strlen(pw->pw_name))) {
		snprintf(dst, USER_MAX + 1, "%s", pw->pw_name);
	} else {
		snprintf(dst, USER_MAX + 1, "%u", (unsigned)getuid());
	}
	io->n_users[ROLE_ADMIN] = 1;
}

static int prepare(struct cli *c, struct init_opts *io, struct init_paths *p, struct conf *cf,
		   uint8_t **cert, size_t *cert_len)
{
	char pass_file[PATH_MAX];
	const char *home = cli_home(c);
	int status;
	if ((status = cli_key_paths(c, &p->keys)) != CLI_EXIT_OK ||
	    (status = cli_path(c, p->conf, sizeof(p->conf), home, CONF_FILE)) != CLI_EXIT_OK ||
	    (status = cli_path(c, p->cert, sizeof(p->cert), home, RELAY_CERT_FILE)) !=
		    CLI_EXIT_OK ||
	    (status = check_free(c, p, io->tls)) != CLI_EXIT_OK ||
	    (io->tls && (status = read_cert(c, io->relay_cert, cert, cert_len)) != CLI_EXIT_OK) ||
	    (c->pass_file != NULL && (status = pass_file_path(c, pass_file)) != CLI_EXIT_OK)) {
		return status;
	}
	default_admin(io);
	build_conf(cf, io, c->pass_file != NULL ? pass_file : NULL);
	if (cf->too_long != NULL) {
		return cli_usage(c,
				 "the '%s' line of divexd.conf would be longer than %d "
				 "characters, which divexd refuses: give fewer users or shorter "
				 "values",
				 cf->too_long, CONF_LINE_MAX);
	}
	if (cf->overflow) {
		return cli_error(c, DX_ETOOBIG, "building divexd.conf");
	}
	return CLI_EXIT_OK;
}

static int cmd_init(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	struct init_opts *io = calloc(1, sizeof(*io));
	struct init_paths *p = calloc(1, sizeof(*p));
	struct conf *cf = calloc(1, sizeof(*cf));
	struct keys *k = NULL;
	uint8_t *cert = NULL;
	size_t cert_len = 0;
	uint64_t now = 0;
	int status, rc;
	if (io == NULL || p == NULL || cf == NULL) {
		status = cli_error(c, DX_ENOMEM, "starting");
		goto out;
	}
	if ((status = parse_init(c, v, argc, argv, io)) != CLI_CONTINUE ||
	    (status = prepare(c, io, p, cf, &cert, &cert_len)) != CLI_EXIT_OK ||
	    (status = cli_keys_create(c, &io->ko, &p->keys, &k, &now)) != CLI_EXIT_OK) {
		goto out;
	}
	if (io->tls && (rc = dx_write_file_atomic(p->cert, cert, cert_len, 0644, 0)) != DX_OK) {
		status = cli_error(c, rc,
				   "writing %s (the keys were created: copy the relay's "
				   "certificate there and write divexd.conf by hand)",
				   p->cert);
		goto out;
	}
	rc = dx_write_file_atomic(p->conf, (const uint8_t *)cf->buf, cf->len, 0600, 0);
	if (rc != DX_OK) {
		status = cli_error(c, rc,
				   "writing %s (the keys were created: write it by hand, "
				   "see docs/divexd.conf.md)",
				   p->conf);
		goto out;
	}
	struct out o;
	out_init(&o, c);
	print_init(&o, cli_home(c), io, k, now, p);
	status = out_finish(&o, c);
out:
	keys_free(k);
	free(cert);
	free(cf);
	free(p);
	free(io);
	return status;
}

const struct cli_verb cli_cmd_init = { "init", cmd_init, "set up this State's node", init_usage };
