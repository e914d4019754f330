/*
 * fuzz_config: the two configuration readers, divexd.conf
 * (daemon/node/node_config.c) and relay.conf (daemon/relay/relay_config.c),
 * and the strict-INI helpers under them (daemon/core/cfgfile.c).
 *
 * The first input byte picks the reader (even: divexd.conf, odd:
 * relay.conf); the rest is the file, written to a scratch directory because
 * both readers take a path (they resolve relative paths against it).
 *
 * Whatever is refused must say why in one line of printable ASCII (the
 * message quotes the file: what the file said must come out escaped).
 * Whatever is accepted must hold what docs/divexd.conf.md and
 * docs/relay.conf.md promise: a valid State code, URL and relay name, every
 * number within its documented range, and the combinations the documents
 * require.
 *
 * With DIVEX_REGEN_CORPUS=DIR the harness writes its seeds into DIR (the
 * relay's own default file, a full divexd.conf and a few broken ones) and
 * exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfgfile.h"
#include "checkpoint.h"
#include "node_config.h"
#include "relay_config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[256], node_path[300], relay_path[300];

static void write_all(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		abort();
	}
	while (len > 0) {
		ssize_t n = write(fd, data, len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			abort();
		}
		data += n;
		len -= (size_t)n;
	}
	close(fd);
}

/* A refusal is one non-empty line of printable ASCII. */
static void check_message(const char *err, size_t cap)
{
	size_t len = strnlen(err, cap);
	if (len == 0 || len == cap) {
		abort();
	}
	for (size_t i = 0; i < len; i++) {
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] > 0x7e) {
			abort();
		}
	}
}

static int in_range(uint64_t v, uint64_t lo, uint64_t hi)
{
	return v >= lo && v <= hi;
}

static void check_node(const struct node_config *c)
{
	if (!dx_state_valid(c->state) || !cfgfile_url_valid(c->relay_url, NODE_CONFIG_URL_MAX) ||
	    !checkpoint_name_valid(c->relay_name) || c->log_level > NODE_LOG_DEBUG) {
		abort();
	}
	if (cfgfile_url_is_tls(c->relay_url) && c->relay_ca_file[0] == '\0') {
		abort();
	}
	if (!in_range(c->relay_timeout_ms, 1000, 600000) || c->poll_wait_ms > 60000 ||
	    c->poll_wait_ms >= c->relay_timeout_ms || !in_range(c->roster_sync_ms, 100, 86400000) ||
	    !in_range(c->retry_min_ms, 10, 3600000) || c->retry_max_ms < c->retry_min_ms ||
	    c->retry_max_ms > 86400000 || !in_range(c->prekey_period_days, 1, 90) ||
	    !in_range(c->prekey_grace_days, 1, 365)) {
		abort();
	}
	if (c->n_officers > NODE_CONFIG_ROLE_USERS_MAX || c->n_pocs > NODE_CONFIG_ROLE_USERS_MAX ||
	    c->n_admins > NODE_CONFIG_ROLE_USERS_MAX) {
		abort();
	}
	/* Paths are resolved against the file's directory: never relative. */
	if ((c->passphrase_file[0] != '\0' && c->passphrase_file[0] != '/') ||
	    (c->relay_ca_file[0] != '\0' && c->relay_ca_file[0] != '/')) {
		abort();
	}
	for (size_t i = 0; i < c->n_admins; i++) {
		if (node_config_role(c, c->admins[i]) != NODE_ROLE_ADMIN) {
			abort();
		}
	}
}

static void check_relay(const struct relay_config *c)
{
	const struct relay_limits *l = &c->limits;
	if (c->listen[0] == '\0' || !cfgfile_url_valid(c->listen, RELAY_CONFIG_URL_MAX) ||
	    !checkpoint_name_valid(c->name) || c->log_level > RELAY_LOG_DEBUG ||
	    c->data_dir[0] == '\0') {
		abort();
	}
	if (!in_range(l->max_message_bytes, 64 << 10, 256 << 20) ||
	    !in_range(l->mailbox_max_envelopes, 1, 10000000) ||
	    !in_range(l->mailbox_max_bytes, 64 << 10, 1ull << 40) ||
	    l->mailbox_max_bytes < l->max_message_bytes ||
	    l->attachment_quota_bytes > 64ull << 40 ||
	    !in_range(l->attachment_retention_seconds, 1, 10ull * 366 * 86400) ||
	    !in_range(l->rate_per_second, 1, 1000000) ||
	    !in_range(l->rate_burst, 1, 10000000) ||
	    !in_range(l->request_window_seconds, 10, 3600) || l->longpoll_max_ms > 600000 ||
	    !in_range(l->contexts, 1, 4096) || !in_range(l->group_commit_max, 1, 65536)) {
		abort();
	}
	if (relay_config_url_is_tls(c->listen) &&
	    (c->cert_file[0] == '\0' || c->key_file[0] == '\0')) {
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0) {
		return 0;
	}
	if (data[0] % 2 == 0) {
		struct node_config cfg;
		char err[NODE_CONFIG_ERR_MAX];
		write_all(node_path, data + 1, size - 1);
		memset(err, 0, sizeof(err));
		if (node_config_load(node_path, &cfg, err) == DX_OK) {
			check_node(&cfg);
		} else {
			check_message(err, sizeof(err));
		}
	} else {
		struct relay_config cfg;
		char err[RELAY_CONFIG_ERR_MAX];
		write_all(relay_path, data + 1, size - 1);
		memset(err, 0, sizeof(err));
		if (relay_config_load(relay_path, &cfg, err, sizeof(err)) == DX_OK) {
			check_relay(&cfg);
		} else {
			check_message(err, sizeof(err));
		}
	}
	return 0;
}

/* ---- the seed corpus ---- */

static void write_seed(const char *out, const char *name, uint8_t kind, const char *text,
		       size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", out, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(&kind, 1, 1, f) != 1 || fwrite(text, 1, len, f) != len ||
	    fclose(f) != 0) {
		abort();
	}
}

static const char NODE_FULL[] =
	"[node]\nstate = FRA\npassphrase_file = pass.txt\nlog_level = debug\n"
	"[relay]\nurl = tls+tcp://relay.example:7443\n"
	"name = att-secretariat.divex/relay\n"
	"public_key = 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	"ca_file = relay-cert.pem\nserver_name = relay.example\ntimeout_ms = 30000\n"
	"poll_wait_ms = 20000\nroster_sync_ms = 60000\n"
	"[outbox]\nretry_min_ms = 500\nretry_max_ms = 300000\n"
	"[prekeys]\nperiod_days = 7\ngrace_days = 30\n"
	"[roles]\nofficer = root, 1000\npoint_of_contact = 0\nadministrator = root\n";

static const char NODE_MIN[] =
	"[node]\nstate = MEX\n[relay]\nurl = tcp://127.0.0.1:7000\nname = test.divex/relay\n"
	"public_key = ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\n";

static const char *const BROKEN[] = {
	"[node]\nstate = fra\n",
	"[node]\n state = FRA\n",
	"[relay]\nurl = http://x\n",
	"[limits]\nrate_per_second = 18446744073709551616\n",
	"[limits]\nmax_message_bytes = 3 GiB\n",
	"[nope]\nkey = \x1b[31mred\n",
	"[relay]\nname = a+b\nname = c\n",
	"no section = 1\n",
};

static void regen_corpus(const char *out)
{
	char path[300], *text = NULL;
	size_t len = 0;
	snprintf(path, sizeof(path), "%s/relay-default.conf", dir);
	unlink(path);
	if (relay_config_write_default(path, "tls+tcp://0.0.0.0:7443", NULL, NULL) != DX_OK ||
	    cfgfile_read_text(path, RELAY_CONFIG_FILE_MAX, &text, &len) != DX_OK) {
		abort();
	}
	write_seed(out, "relay-default", 1, text, len);
	free(text);
	unlink(path);
	if (relay_config_write_default(path, "tcp://127.0.0.1:0", "127.0.0.1:0",
				       "test.divex/relay") != DX_OK ||
	    cfgfile_read_text(path, RELAY_CONFIG_FILE_MAX, &text, &len) != DX_OK) {
		abort();
	}
	write_seed(out, "relay-tcp", 1, text, len);
	free(text);
	unlink(path);
	write_seed(out, "node-full", 0, NODE_FULL, sizeof(NODE_FULL) - 1);
	write_seed(out, "node-min", 0, NODE_MIN, sizeof(NODE_MIN) - 1);
	for (size_t i = 0; i < sizeof(BROKEN) / sizeof(BROKEN[0]); i++) {
		char name[32];
		snprintf(name, sizeof(name), "broken-%zu", i);
		write_seed(out, name, (uint8_t)(i % 2), BROKEN[i], strlen(BROKEN[i]));
	}
	write_seed(out, "empty-node", 0, "", 0);
	write_seed(out, "empty-relay", 1, "", 0);
}

static void cleanup(void)
{
	unlink(node_path);
	unlink(relay_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	const char *out = getenv("DIVEX_REGEN_CORPUS");
	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "%s/divex-fuzz-config.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		abort();
	}
	snprintf(node_path, sizeof(node_path), "%s/divexd.conf", dir);
	snprintf(relay_path, sizeof(relay_path), "%s/relay.conf", dir);
	atexit(cleanup);
	if (out != NULL) {
		regen_corpus(out);
		exit(0);
	}
	return 0;
}
