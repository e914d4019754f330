/*
 * relay_config.c: reading, checking and writing the relay's INI file.
 *
 * One table describes every option: its section, key, type, range, place in
 * struct relay_config and a line of help. The parser, the default values
 * written by relay_config_write_default() and the checks all follow it, so
 * an option cannot be accepted without being checked or written without
 * being parseable. The file is read whole (with a cap) and scanned before
 * inih sees it, because inih silently splits lines longer than its buffer
 * and treats indented lines as continuations of the previous value; those
 * strict-INI helpers are shared with the State node's reader
 * (daemon/core/cfgfile.h).
 */
#include "relay_config.h"

#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfgfile.h"
#include "checkpoint.h"
#include "harden.h"
#include "health.h"
#include "util.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

enum kind { K_NAME, K_URL, K_ADDR, K_PATH, K_LEVEL, K_USER, K_COUNT, K_SIZE };

struct opt {
	const char *section;
	const char *key;
	enum kind kind;
	size_t off;  /* offset in struct relay_config */
	size_t size; /* buffer size of a string option */
	uint64_t min, max;
	const char *help;
};

#define STR_OPT(sec, k, kd, field, h)                                                              \
	{                                                                                          \
		.section = sec, .key = k, .kind = kd, .off = offsetof(struct relay_config, field), \
		.size = sizeof(((struct relay_config *)0)->field), .help = h                       \
	}
#define NUM_OPT(k, kd, field, lo, hi, h)                                                           \
	{                                                                                          \
		.section = "limits", .key = k, .kind = kd,                                         \
		.off = offsetof(struct relay_config, limits.field), .min = lo, .max = hi,          \
		.help = h                                                                          \
	}

static const struct opt opts[] = {
	STR_OPT("relay", "name", K_NAME, name,
		"The audit log's origin and the relay key's name, as nodes pin them."),
	STR_OPT("relay", "listen", K_URL, listen,
		"Where nodes connect: tls+tcp://host:port in production (required)."),
	STR_OPT("relay", "admin_listen", K_ADDR, admin_listen,
		"host:port of the HTTP server for /metrics, /healthz and /status."),
	STR_OPT("relay", "data_dir", K_PATH, data_dir,
		"Directory of the relay's database and keys."),
	{ .section = "relay",
	  .key = "log_level",
	  .kind = K_LEVEL,
	  .off = offsetof(struct relay_config, log_level),
	  .help = "error, warn, info or debug." },
	STR_OPT("relay", "user", K_USER, user,
		"When started as root: the user to become (unset: no switch). Its home must "
		"belong to it."),
	STR_OPT("tls", "cert_file", K_PATH, cert_file,
		"PEM certificate the relay presents on tls+tcp (nodes pin it)."),
	STR_OPT("tls", "key_file", K_PATH, key_file, "PEM private key of that certificate."),
	NUM_OPT("max_message_bytes", K_SIZE, max_message_bytes, 64 * KIB, 256 * MIB,
		"Largest request or reply on the wire."),
	NUM_OPT("mailbox_max_envelopes", K_COUNT, mailbox_max_envelopes, 1, 10000000,
		"Envelopes a State's mailbox may hold before submissions to it are refused."),
	NUM_OPT("mailbox_max_bytes", K_SIZE, mailbox_max_bytes, 64 * KIB, TIB,
		"Bytes a State's mailbox may hold."),
	NUM_OPT("attachment_quota_bytes", K_SIZE, attachment_quota_bytes, 0, 64 * TIB,
		"Attachment bytes one sender may have stored at a time (0: no attachments)."),
	NUM_OPT("attachment_retention_seconds", K_COUNT, attachment_retention_seconds, 1,
		10ull * 366 * 86400,
		"How long an attachment stream is kept at least; after that it is deleted once "
		"no envelope naming it waits for its acknowledgement."),
	NUM_OPT("rate_per_second", K_COUNT, rate_per_second, 1, 1000000,
		"Requests per second one node may make, sustained."),
	NUM_OPT("rate_burst", K_COUNT, rate_burst, 1, 10000000,
		"Requests one node may make in a burst above that rate."),
	NUM_OPT("request_window_seconds", K_COUNT, request_window_seconds, 10, 3600,
		"How far a request's time may be from the relay's clock."),
	NUM_OPT("longpoll_max_ms", K_COUNT, longpoll_max_ms, 0, 600000,
		"Longest a list request waits for new mail (0: answer at once)."),
	NUM_OPT("contexts", K_COUNT, contexts, 1, 4096, "Requests served concurrently."),
	NUM_OPT("group_commit_max", K_COUNT, group_commit_max, 1, 65536,
		"Most entries made durable by one commit."),
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const level_names[] = {
	[RELAY_LOG_ERROR] = "error",
	[RELAY_LOG_WARN] = "warn",
	[RELAY_LOG_INFO] = "info",
	[RELAY_LOG_DEBUG] = "debug",
};

struct parse {
	struct relay_config cfg;
	const char *home;
	unsigned char seen[N_OPTS];
	/* The first complaint of the handler; the line comes from inih. */
	char msg[RELAY_CONFIG_ERR_MAX];
};

const char *relay_config_log_level_name(enum relay_log_level level)
{
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0])) {
		return "unknown";
	}
	return level_names[level];
}

int relay_config_url_is_tls(const char *url)
{
	return cfgfile_url_is_tls(url);
}

void relay_config_defaults(struct relay_config *cfg, const char *home)
{
	const char *h = home != NULL ? home : ".";
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->name, sizeof(cfg->name), "%s", RELAY_CONFIG_DEFAULT_NAME);
	snprintf(cfg->admin_listen, sizeof(cfg->admin_listen), "%s", RELAY_CONFIG_DEFAULT_ADMIN);
	/* A home too long for a path leaves the paths empty; relay_config_load() refuses it. */
	if (cfgfile_resolve_path(cfg->data_dir, sizeof(cfg->data_dir), h, ".") != 0 ||
	    cfgfile_resolve_path(cfg->cert_file, sizeof(cfg->cert_file), h,
				 RELAY_CONFIG_TLS_CERT_NAME) != 0 ||
	    cfgfile_resolve_path(cfg->key_file, sizeof(cfg->key_file), h,
				 RELAY_CONFIG_TLS_KEY_NAME) != 0) {
		cfg->data_dir[0] = cfg->cert_file[0] = cfg->key_file[0] = '\0';
	}
	cfg->log_level = RELAY_LOG_INFO;
	cfg->limits = (struct relay_limits){
		.max_message_bytes = MIB + 64 * KIB,
		.mailbox_max_envelopes = 10000,
		.mailbox_max_bytes = GIB,
		.attachment_quota_bytes = 8 * GIB,
		.attachment_retention_seconds = 7 * 86400,
		.rate_per_second = 200,
		.rate_burst = 400,
		.request_window_seconds = 300,
		.longpoll_max_ms = 30000,
		.contexts = 64,
		.group_commit_max = 256,
	};
}

/* Checks value against o and stores it; on failure writes why into p->msg. */
static int apply(struct parse *p, const struct opt *o, const char *value)
{
	char *field = (char *)&p->cfg + o->off;
	uint64_t n;
	switch (o->kind) {
	case K_NAME:
		if (!checkpoint_name_valid(value)) {
			snprintf(p->msg, sizeof(p->msg),
				 "'%s' must be 1 to 255 printable characters, no spaces or '+'",
				 o->key);
			return DX_EPARSE;
		}
		break;
	case K_URL:
		if (!cfgfile_url_valid(value, RELAY_CONFIG_URL_MAX)) {
			snprintf(p->msg, sizeof(p->msg),
				 "'%s' must be a URL starting tls+tcp://, tcp:// or ipc://",
				 o->key);
			return DX_EPARSE;
		}
		break;
	case K_ADDR: {
		char host[HEALTH_HOST_MAX + 1];
		uint16_t port;
		if (health_split_addr(value, host, sizeof(host), &port) != 0) {
			snprintf(p->msg, sizeof(p->msg), "'%s' must be host:port or [v6]:port",
				 o->key);
			return DX_EPARSE;
		}
		break;
	}
	case K_PATH:
		if (!cfgfile_token_valid(value) ||
		    cfgfile_resolve_path(field, o->size, p->home, value) != 0) {
			snprintf(p->msg, sizeof(p->msg),
				 "'%s' must be a path without spaces, of at "
				 "most %d bytes once resolved",
				 o->key, RELAY_CONFIG_PATH_MAX - 1);
			return DX_EPARSE;
		}
		return 0;
	case K_LEVEL:
		for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
			if (strcmp(value, level_names[i]) == 0) {
				p->cfg.log_level = (enum relay_log_level)i;
				return 0;
			}
		}
		snprintf(p->msg, sizeof(p->msg), "'%s' must be error, warn, info or debug", o->key);
		return DX_EPARSE;
	case K_USER:
		if (cfgfile_user_check(o->key, value, p->msg, sizeof(p->msg)) != DX_OK) {
			return DX_EPARSE;
		}
		break;
	case K_COUNT:
	case K_SIZE:
		if (cfgfile_parse_u64(value, o->kind == K_SIZE, &n) != 0 || n < o->min ||
		    n > o->max) {
			snprintf(p->msg, sizeof(p->msg),
				 "'%s' must be a%s number from %llu to %llu", o->key,
				 o->kind == K_SIZE ? " byte" : "", (unsigned long long)o->min,
				 (unsigned long long)o->max);
			return DX_EPARSE;
		}
		memcpy(field, &n, sizeof(n));
		return 0;
	}
	if (strlen(value) >= o->size) {
		snprintf(p->msg, sizeof(p->msg), "'%s' is too long", o->key);
		return DX_EPARSE;
	}
	memcpy(field, value, strlen(value) + 1);
	return 0;
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	char sec[64], key[64];
	/* inih reports the first failing line; later lines cannot change the outcome. */
	if (p->msg[0] != '\0') {
		return 1;
	}
	dx_escape(sec, sizeof(sec), section, strlen(section));
	dx_escape(key, sizeof(key), name, strlen(name));
	for (size_t i = 0; i < N_OPTS; i++) {
		if (strcmp(opts[i].section, section) != 0 || strcmp(opts[i].key, name) != 0) {
			continue;
		}
		if (p->seen[i]) {
			snprintf(p->msg, sizeof(p->msg), "'%s' given twice in [%s]", key, sec);
			return 0;
		}
		p->seen[i] = 1;
		return apply(p, &opts[i], value) == 0;
	}
	int known = 0;
	for (size_t i = 0; i < N_OPTS; i++) {
		known |= strcmp(opts[i].section, section) == 0;
	}
	cfgfile_explain_unknown(p->msg, sizeof(p->msg), section, name, known);
	return 0;
}

static int check_whole(struct parse *p)
{
	int have_listen = 0;
	for (size_t i = 0; i < N_OPTS; i++) {
		have_listen |= p->seen[i] && strcmp(opts[i].key, "listen") == 0;
	}
	if (!have_listen) {
		snprintf(p->msg, sizeof(p->msg), "[relay] listen is required");
		return DX_EPARSE;
	}
	if (p->cfg.limits.mailbox_max_bytes < p->cfg.limits.max_message_bytes) {
		snprintf(p->msg, sizeof(p->msg),
			 "[limits] mailbox_max_bytes is smaller than max_message_bytes");
		return DX_EPARSE;
	}
	if (p->cfg.data_dir[0] == '\0' || p->cfg.cert_file[0] == '\0' ||
	    p->cfg.key_file[0] == '\0') {
		snprintf(p->msg, sizeof(p->msg), "the configuration's directory name is too long");
		return DX_EPARSE;
	}
	return 0;
}

/* Parses text (NUL-terminated, len bytes); on failure err holds "where: why". */
static int parse_text(const char *where, const char *text, size_t len, const char *home,
		      struct relay_config *cfg, char *err, size_t errlen)
{
	struct parse *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "%s: out of memory", where);
		return DX_ENOMEM;
	}
	int rc = DX_EPARSE;
	relay_config_defaults(&p->cfg, home);
	p->home = home;
	const char *why = NULL;
	int line = cfgfile_prescan(text, len, RELAY_CONFIG_LINE_MAX, &why);
	if (line == 0) {
		line = ini_parse_string(text, on_value, p);
		why = line > 0 && cfgfile_line_has_value(text, line) && p->msg[0] != '\0'
			      ? p->msg
			      : "syntax error";
	}
	if (line < 0) {
		snprintf(err, errlen, "%s: out of memory", where);
		rc = DX_ENOMEM;
		goto out;
	}
	if (line > 0) {
		snprintf(err, errlen, "%s:%d: %s", where, line, why);
		goto out;
	}
	if (check_whole(p) != 0) {
		snprintf(err, errlen, "%s: %s", where, p->msg);
		goto out;
	}
	*cfg = p->cfg;
	rc = 0;
out:
	free(p);
	return rc;
}

int relay_config_load(const char *path, struct relay_config *cfg, char *err, size_t errlen)
{
	char home[RELAY_CONFIG_PATH_MAX];
	char where[256];
	char *text = NULL;
	size_t len = 0;
	dx_escape(where, sizeof(where), path, strlen(path));
	if (cfgfile_dir_of(path, home, sizeof(home)) != 0) {
		snprintf(err, errlen, "%s: path too long", where);
		return DX_EINVAL;
	}
	int rc = cfgfile_read_text(path, RELAY_CONFIG_FILE_MAX, &text, &len);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", where, dx_strerror(rc));
		return rc;
	}
	rc = parse_text(where, text, len, home, cfg, err, errlen);
	free(text);
	return rc;
}

/* Writes n as "N GiB" when it is a whole number of a binary unit, else as digits. */
static void fmt_size(char *out, size_t outsz, uint64_t n)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} units[] = { { "TiB", TIB }, { "GiB", GIB }, { "MiB", MIB }, { "KiB", KIB } };
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (n != 0 && n % units[i].mult == 0) {
			snprintf(out, outsz, "%llu %s", (unsigned long long)(n / units[i].mult),
				 units[i].suffix);
			return;
		}
	}
	snprintf(out, outsz, "%llu", (unsigned long long)n);
}

/* The default of o as it is written in a file (paths relative to the home). */
static void default_text(const struct opt *o, const struct relay_config *def, char *out,
			 size_t outsz)
{
	uint64_t n;
	switch (o->kind) {
	case K_PATH:
		snprintf(out, outsz, "%s",
			 strcmp(o->key, "cert_file") == 0  ? RELAY_CONFIG_TLS_CERT_NAME
			 : strcmp(o->key, "key_file") == 0 ? RELAY_CONFIG_TLS_KEY_NAME
							   : ".");
		return;
	case K_LEVEL:
		snprintf(out, outsz, "%s", relay_config_log_level_name(def->log_level));
		return;
	case K_USER:
		/* No default: the commented line shows the name the packaged units use. */
		snprintf(out, outsz, "%s", RELAY_CONFIG_SUGGESTED_USER);
		return;
	case K_COUNT:
	case K_SIZE:
		memcpy(&n, (const char *)def + o->off, sizeof(n));
		if (o->kind == K_SIZE) {
			fmt_size(out, outsz, n);
		} else {
			snprintf(out, outsz, "%llu", (unsigned long long)n);
		}
		return;
	default:
		snprintf(out, outsz, "%s", (const char *)def + o->off);
		return;
	}
}

/* The text of a new configuration file; far below RELAY_CONFIG_FILE_MAX. */
struct sbuf_cfg {
	char text[8192];
	size_t len;
	int overflow;
};

static void cfg_printf(struct sbuf_cfg *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void cfg_printf(struct sbuf_cfg *b, const char *fmt, ...)
{
	va_list ap;
	size_t room = sizeof(b->text) - b->len;
	va_start(ap, fmt);
	int n = vsnprintf(b->text + b->len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		b->overflow = 1;
		return;
	}
	b->len += (size_t)n;
}

static const char file_intro[] =
	"# divex-relay configuration. Every option is described in docs/relay.conf.md.\n"
	"# A line starting with ';' shows an option at its default: remove the ';' to\n"
	"# change it. Relative paths are relative to the directory of this file.\n"
	"# Sizes take a KiB, MiB, GiB or TiB suffix. Unknown keys are refused.\n";

/* Whether o is written active (uncommented) in a new file. */
static int written_active(const struct opt *o, const char *listen)
{
	if (strcmp(o->section, "tls") == 0) {
		return relay_config_url_is_tls(listen);
	}
	return strcmp(o->key, "name") == 0 || strcmp(o->key, "listen") == 0 ||
	       strcmp(o->key, "admin_listen") == 0;
}

static void compose(struct sbuf_cfg *b, const char *listen, const char *admin, const char *name)
{
	struct relay_config def;
	char v[RELAY_CONFIG_PATH_MAX];
	const char *section = "";
	relay_config_defaults(&def, ".");
	cfg_printf(b, "%s", file_intro);
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt *o = &opts[i];
		if (strcmp(section, o->section) != 0) {
			section = o->section;
			cfg_printf(b, "\n[%s]\n", section);
		}
		if (strcmp(o->key, "name") == 0) {
			snprintf(v, sizeof(v), "%s", name);
		} else if (strcmp(o->key, "listen") == 0) {
			snprintf(v, sizeof(v), "%s", listen);
		} else if (strcmp(o->key, "admin_listen") == 0) {
			snprintf(v, sizeof(v), "%s", admin);
		} else {
			default_text(o, &def, v, sizeof(v));
		}
		cfg_printf(b, "# %s\n%s%s = %s\n", o->help, written_active(o, listen) ? "" : ";",
			   o->key, v);
	}
}

int relay_config_write_default(const char *path, const char *listen, const char *admin,
			       const char *name)
{
	char host[HEALTH_HOST_MAX + 1], err[RELAY_CONFIG_ERR_MAX];
	uint16_t port;
	struct relay_config check;
	admin = admin != NULL ? admin : RELAY_CONFIG_DEFAULT_ADMIN;
	name = name != NULL ? name : RELAY_CONFIG_DEFAULT_NAME;
	/* Checked before composing, so that no value can smuggle in a line of its own. */
	if (listen == NULL || !cfgfile_url_valid(listen, RELAY_CONFIG_URL_MAX) ||
	    !checkpoint_name_valid(name) ||
	    health_split_addr(admin, host, sizeof(host), &port) != 0) {
		return DX_EINVAL;
	}
	struct sbuf_cfg b = { 0 };
	compose(&b, listen, admin, name);
	if (b.overflow) {
		return DX_EINVAL;
	}
	int rc = parse_text("new configuration", b.text, b.len, ".", &check, err, sizeof(err));
	if (rc != 0) {
		return DX_EINVAL;
	}
	return dx_write_file_atomic(path, (const uint8_t *)b.text, b.len, 0600, 0);
}
