/*
 * node_config.c: reading and checking a State node's divexd.conf.
 *
 * One table describes every option: its section, key, type, range and place
 * in struct node_config, so that no option can be accepted without being
 * checked. The file is read whole under a cap and scanned before inih sees
 * it, with the helpers the relay's reader uses (daemon/core/cfgfile.h), so
 * the two files follow the same rules. Checks that involve two options (a
 * TLS URL needs ca_file, the long-poll must end before the request times
 * out) run once the whole file is read, and still name the line at fault.
 *
 * User names in [roles] are resolved with getpwnam_r() while the file is
 * read: the uids are what the control socket compares with its peer's.
 */
#include "node_config.h"

#include <errno.h>
#include <ini.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfgfile.h"
#include "checkpoint.h"
#include "harden.h"

/*
 * A message is "WHERE:LINE: WHY"; these sizes keep it within
 * NODE_CONFIG_ERR_MAX whatever the path, which is shortened if need be.
 */
#define WHERE_MAX 232
#define MSG_MAX 256

/* getpwnam_r()'s scratch buffer; an entry that needs more is refused. */
#define PWBUF_MAX (64 * 1024)

enum kind { K_STATE, K_PATH, K_LEVEL, K_USER, K_URL, K_NAME, K_HOST, K_KEY, K_U32, K_ROLE };

struct opt {
	const char *section;
	const char *key;
	enum kind kind;
	size_t off;	  /* offset in struct node_config */
	size_t size;	  /* buffer size of a string option */
	size_t count_off; /* roles: offset of the count */
	uint32_t min, max;
};

#define FIELD_SIZE(f) sizeof(((struct node_config *)0)->f)
#define STR_OPT(sec, k, kd, f)                                                                     \
	{                                                                                          \
		.section = sec, .key = k, .kind = kd, .off = offsetof(struct node_config, f),      \
		.size = FIELD_SIZE(f)                                                              \
	}
#define U32_OPT(sec, k, f, lo, hi)                                                                 \
	{                                                                                          \
		.section = sec, .key = k, .kind = K_U32, .off = offsetof(struct node_config, f),   \
		.min = lo, .max = hi                                                               \
	}
#define ROLE_OPT(k, f, n)                                                                          \
	{                                                                                          \
		.section = "roles", .key = k, .kind = K_ROLE,                                      \
		.off = offsetof(struct node_config, f), .size = FIELD_SIZE(f),                     \
		.count_off = offsetof(struct node_config, n)                                       \
	}

static const struct opt opts[] = {
	STR_OPT("node", "state", K_STATE, state),
	STR_OPT("node", "passphrase_file", K_PATH, passphrase_file),
	{ .section = "node", .key = "log_level", .kind = K_LEVEL },
	STR_OPT("node", "user", K_USER, user),
	STR_OPT("relay", "url", K_URL, relay_url),
	STR_OPT("relay", "name", K_NAME, relay_name),
	STR_OPT("relay", "public_key", K_KEY, relay_public_key),
	STR_OPT("relay", "ca_file", K_PATH, relay_ca_file),
	STR_OPT("relay", "server_name", K_HOST, relay_server_name),
	U32_OPT("relay", "timeout_ms", relay_timeout_ms, 1000, 600000),
	U32_OPT("relay", "poll_wait_ms", poll_wait_ms, 0, 60000),
	U32_OPT("relay", "roster_sync_ms", roster_sync_ms, 100, 86400000),
	U32_OPT("outbox", "retry_min_ms", retry_min_ms, 10, 3600000),
	U32_OPT("outbox", "retry_max_ms", retry_max_ms, 10, 86400000),
	U32_OPT("prekeys", "period_days", prekey_period_days, 1, 90),
	U32_OPT("prekeys", "grace_days", prekey_grace_days, 1, 365),
	ROLE_OPT("administrator", admins, n_admins),
	ROLE_OPT("point_of_contact", pocs, n_pocs),
	ROLE_OPT("officer", officers, n_officers),
};
#define N_OPTS (sizeof(opts) / sizeof(opts[0]))

static const char *const level_names[] = {
	[NODE_LOG_ERROR] = "error",
	[NODE_LOG_WARN] = "warn",
	[NODE_LOG_INFO] = "info",
	[NODE_LOG_DEBUG] = "debug",
};

static const char *const role_names[] = {
	[NODE_ROLE_NONE] = "none",
	[NODE_ROLE_OFFICER] = "officer",
	[NODE_ROLE_POC] = "point_of_contact",
	[NODE_ROLE_ADMIN] = "administrator",
};

struct parse {
	struct node_config cfg;
	const char *dir;
	unsigned char seen[N_OPTS];
	/* The first complaint of the handler; the line comes from inih. */
	char msg[MSG_MAX];
};

const char *node_role_name(enum node_role r)
{
	if ((unsigned)r >= sizeof(role_names) / sizeof(role_names[0])) {
		return "unknown";
	}
	return role_names[r];
}

static void defaults(struct node_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_level = NODE_LOG_INFO;
	cfg->relay_timeout_ms = 30000;
	cfg->poll_wait_ms = 20000;
	cfg->roster_sync_ms = 60000;
	cfg->retry_min_ms = 500;
	cfg->retry_max_ms = 300000;
	cfg->prekey_period_days = 7;
	cfg->prekey_grace_days = 30;
}

/* The uid of a user name, or DX_ENOENT; DX_EIO when the lookup itself fails. */
static int lookup_user(const char *name, uid_t *uid)
{
	struct passwd pw, *res = NULL;
	char *buf = malloc(PWBUF_MAX);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	int e = getpwnam_r(name, &pw, buf, PWBUF_MAX, &res);
	int rc = e != 0 && e != ENOENT && e != ESRCH ? DX_EIO : res == NULL ? DX_ENOENT : 0;
	if (rc == 0) {
		*uid = pw.pw_uid;
	}
	free(buf);
	return rc;
}

/* Adds one user (a name or a numeric uid) to a role's list; why in p->msg. */
static int add_user(struct parse *p, const struct opt *o, const char *user, uid_t *list, size_t *n)
{
	char esc[64];
	uint64_t num;
	uid_t uid;
	dx_escape(esc, sizeof(esc), user, strlen(user));
	if (user[0] >= '0' && user[0] <= '9') {
		/* (uid_t)-1 means "no uid" to the kernel: it can never be a peer's. */
		if (cfgfile_parse_u64(user, 0, &num) != 0 || num >= (uid_t)-1) {
			snprintf(p->msg, sizeof(p->msg), "'%s': '%s' is not a valid uid", o->key,
				 esc);
			return DX_EPARSE;
		}
		uid = (uid_t)num;
	} else if (!cfgfile_token_valid(user)) {
		snprintf(p->msg, sizeof(p->msg), "'%s': '%s' is not a user name", o->key, esc);
		return DX_EPARSE;
	} else {
		int rc = lookup_user(user, &uid);
		if (rc != 0) {
			snprintf(p->msg, sizeof(p->msg), "'%s': %s '%s'", o->key,
				 rc == DX_ENOENT ? "no such user" : "cannot look up user", esc);
			return DX_EPARSE;
		}
	}
	for (size_t i = 0; i < *n; i++) {
		if (list[i] == uid) {
			return 0;
		}
	}
	if (*n >= NODE_CONFIG_ROLE_USERS_MAX) {
		snprintf(p->msg, sizeof(p->msg), "'%s' lists more than %d users", o->key,
			 NODE_CONFIG_ROLE_USERS_MAX);
		return DX_EPARSE;
	}
	list[(*n)++] = uid;
	return 0;
}

/* Parses "name, 1001, other": comma-separated, blanks around each ignored. */
static int apply_role(struct parse *p, const struct opt *o, const char *value)
{
	uid_t *list = (uid_t *)((char *)&p->cfg + o->off);
	size_t *n = (size_t *)((char *)&p->cfg + o->count_off);
	char item[NODE_CONFIG_LINE_MAX + 1];
	const char *s = value;
	if (*s == '\0') {
		return 0; /* a role nobody holds */
	}
	for (;;) {
		size_t len = strcspn(s, ",");
		const char *a = s, *b = s + len;
		while (a < b && (*a == ' ' || *a == '\t')) {
			a++;
		}
		while (b > a && (b[-1] == ' ' || b[-1] == '\t')) {
			b--;
		}
		if (a == b || (size_t)(b - a) >= sizeof(item)) {
			snprintf(p->msg, sizeof(p->msg), "'%s' has an empty entry in its list",
				 o->key);
			return DX_EPARSE;
		}
		memcpy(item, a, (size_t)(b - a));
		item[b - a] = '\0';
		int rc = add_user(p, o, item, list, n);
		if (rc != 0) {
			return rc;
		}
		if (s[len] == '\0') {
			return 0;
		}
		s += len + 1;
	}
}

static int apply_key(struct parse *p, const struct opt *o, const char *value)
{
	uint8_t *field = (uint8_t *)&p->cfg + o->off;
	int ok = strlen(value) == 2 * FIELD_SIZE(relay_public_key);
	for (const char *c = value; ok && *c != '\0'; c++) {
		ok = (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f');
	}
	if (!ok || dx_unhex(field, FIELD_SIZE(relay_public_key), value) != 0) {
		snprintf(p->msg, sizeof(p->msg), "'%s' must be 64 lowercase hex digits", o->key);
		return DX_EPARSE;
	}
	return 0;
}

/* Checks the value of a string option; on failure writes why into p->msg. */
static int check_string(struct parse *p, const struct opt *o, const char *value)
{
	switch (o->kind) {
	case K_STATE:
		if (!dx_state_valid(value)) {
			snprintf(p->msg, sizeof(p->msg),
				 "'%s' must be a State code of three capital letters", o->key);
			return DX_EPARSE;
		}
		break;
	case K_URL:
		if (!cfgfile_url_valid(value, NODE_CONFIG_URL_MAX)) {
			snprintf(p->msg, sizeof(p->msg),
				 "'%s' must be a URL starting tls+tcp://, tcp:// or ipc://",
				 o->key);
			return DX_EPARSE;
		}
		break;
	case K_USER:
		if (cfgfile_user_check(o->key, value, p->msg, sizeof(p->msg)) != DX_OK) {
			return DX_EPARSE;
		}
		break;
	case K_NAME:
		if (!checkpoint_name_valid(value)) {
			snprintf(p->msg, sizeof(p->msg),
				 "'%s' must be 1 to 255 printable characters, no spaces or '+'",
				 o->key);
			return DX_EPARSE;
		}
		break;
	default:
		if (!cfgfile_token_valid(value) || strlen(value) > NODE_CONFIG_NAME_MAX) {
			snprintf(p->msg, sizeof(p->msg),
				 "'%s' must be 1 to 255 printable characters, no spaces", o->key);
			return DX_EPARSE;
		}
		break;
	}
	if (strlen(value) >= o->size) {
		snprintf(p->msg, sizeof(p->msg), "'%s' is too long", o->key);
		return DX_EPARSE;
	}
	memcpy((char *)&p->cfg + o->off, value, strlen(value) + 1);
	return 0;
}

/* Checks value against o and stores it; on failure writes why into p->msg. */
static int apply(struct parse *p, const struct opt *o, const char *value)
{
	char *field = (char *)&p->cfg + o->off;
	uint64_t n;
	switch (o->kind) {
	case K_PATH:
		if (!cfgfile_token_valid(value) ||
		    cfgfile_resolve_path(field, o->size, p->dir, value) != 0) {
			snprintf(p->msg, sizeof(p->msg),
				 "'%s' must be a path without spaces, of at most %d bytes once "
				 "resolved",
				 o->key, NODE_CONFIG_PATH_MAX - 1);
			return DX_EPARSE;
		}
		return 0;
	case K_LEVEL:
		for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
			if (strcmp(value, level_names[i]) == 0) {
				p->cfg.log_level = (enum node_log_level)i;
				return 0;
			}
		}
		snprintf(p->msg, sizeof(p->msg), "'%s' must be error, warn, info or debug", o->key);
		return DX_EPARSE;
	case K_KEY:
		return apply_key(p, o, value);
	case K_U32:
		if (cfgfile_parse_u64(value, 0, &n) != 0 || n < o->min || n > o->max) {
			snprintf(p->msg, sizeof(p->msg), "'%s' must be a number from %u to %u",
				 o->key, o->min, o->max);
			return DX_EPARSE;
		}
		uint32_t v = (uint32_t)n;
		memcpy(field, &v, sizeof(v));
		return 0;
	case K_ROLE:
		return apply_role(p, o, value);
	default:
		return check_string(p, o, value);
	}
}

static int on_value(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;
	char sec[64], key[64];
	/* inih reports the first failing line; later lines cannot change the outcome. */
	if (p->msg[0] != '\0') {
		return 1;
	}
	for (size_t i = 0; i < N_OPTS; i++) {
		if (strcmp(opts[i].section, section) != 0 || strcmp(opts[i].key, name) != 0) {
			continue;
		}
		if (p->seen[i]) {
			dx_escape(sec, sizeof(sec), section, strlen(section));
			dx_escape(key, sizeof(key), name, strlen(name));
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

static int seen(const struct parse *p, const char *section, const char *key)
{
	for (size_t i = 0; i < N_OPTS; i++) {
		if (strcmp(opts[i].section, section) == 0 && strcmp(opts[i].key, key) == 0) {
			return p->seen[i];
		}
	}
	return 0;
}

/*
 * The checks that need the whole file. Returns the line to blame (0 for a
 * missing option) and writes why into p->msg, or returns -1 when all is well.
 */
static int check_whole(struct parse *p, const char *text)
{
	static const struct {
		const char *section, *key;
	} required[] = {
		{ "node", "state" },
		{ "relay", "url" },
		{ "relay", "name" },
		{ "relay", "public_key" },
	};
	const struct node_config *c = &p->cfg;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
		if (!seen(p, required[i].section, required[i].key)) {
			snprintf(p->msg, sizeof(p->msg), "[%s] %s is required", required[i].section,
				 required[i].key);
			return 0;
		}
	}
	if (cfgfile_url_is_tls(c->relay_url) && c->relay_ca_file[0] == '\0') {
		snprintf(p->msg, sizeof(p->msg),
			 "'url' uses TLS: [relay] ca_file (the relay's certificate) is required");
		return cfgfile_line_of(text, "relay", "url");
	}
	if (c->poll_wait_ms >= c->relay_timeout_ms) {
		snprintf(p->msg, sizeof(p->msg),
			 "'poll_wait_ms' (%u) must be less than [relay] timeout_ms (%u)",
			 c->poll_wait_ms, c->relay_timeout_ms);
		int line = cfgfile_line_of(text, "relay", "poll_wait_ms");
		return line > 0 ? line : cfgfile_line_of(text, "relay", "timeout_ms");
	}
	if (c->retry_max_ms < c->retry_min_ms) {
		snprintf(p->msg, sizeof(p->msg),
			 "'retry_max_ms' (%u) must be at least [outbox] retry_min_ms (%u)",
			 c->retry_max_ms, c->retry_min_ms);
		int line = cfgfile_line_of(text, "outbox", "retry_max_ms");
		return line > 0 ? line : cfgfile_line_of(text, "outbox", "retry_min_ms");
	}
	return -1;
}

/* Parses text (NUL-terminated, len bytes); on failure err holds "where:line: why". */
static int parse_text(const char *where, const char *text, size_t len, const char *dir,
		      struct node_config *cfg, char *err, size_t errlen)
{
	struct parse *p = calloc(1, sizeof(*p));
	if (p == NULL) {
		snprintf(err, errlen, "%s: out of memory", where);
		return DX_ENOMEM;
	}
	int rc = DX_EPARSE;
	defaults(&p->cfg);
	p->dir = dir;
	const char *why = NULL;
	int line = cfgfile_prescan(text, len, NODE_CONFIG_LINE_MAX, &why);
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
	if (line == 0) {
		/* -1: the file is good; 0: a missing option, which has no line. */
		line = check_whole(p, text);
		why = p->msg;
	}
	if (line > 0) {
		snprintf(err, errlen, "%s:%d: %s", where, line, why);
		goto out;
	}
	if (line == 0) {
		snprintf(err, errlen, "%s: %s", where, why);
		goto out;
	}
	*cfg = p->cfg;
	rc = 0;
out:
	free(p);
	return rc;
}

/*
 * The absolute directory that holds path, so that resolved paths stay right
 * whatever the daemon's working directory later becomes.
 */
static int abs_dir_of(const char *path, char *dir, size_t n)
{
	char rel[NODE_CONFIG_PATH_MAX], cwd[NODE_CONFIG_PATH_MAX];
	if (cfgfile_dir_of(path, rel, sizeof(rel)) != 0) {
		return DX_EINVAL;
	}
	if (rel[0] == '/') {
		return snprintf(dir, n, "%s", rel) < (int)n ? 0 : DX_EINVAL;
	}
	if (getcwd(cwd, sizeof(cwd)) == NULL) {
		return DX_EINVAL;
	}
	return cfgfile_resolve_path(dir, n, cwd, rel);
}

int node_config_load(const char *path, struct node_config *cfg, char err[NODE_CONFIG_ERR_MAX])
{
	char dir[NODE_CONFIG_PATH_MAX], where[WHERE_MAX], scratch[NODE_CONFIG_ERR_MAX];
	char *text = NULL;
	size_t len = 0;
	if (err == NULL) {
		err = scratch;
	}
	dx_escape(where, sizeof(where), path, strlen(path));
	if (abs_dir_of(path, dir, sizeof(dir)) != 0) {
		snprintf(err, NODE_CONFIG_ERR_MAX, "%s: path too long", where);
		return DX_EINVAL;
	}
	int rc = cfgfile_read_text(path, NODE_CONFIG_FILE_MAX, &text, &len);
	if (rc != 0) {
		snprintf(err, NODE_CONFIG_ERR_MAX, "%s: %s", where, dx_strerror(rc));
		return rc;
	}
	rc = parse_text(where, text, len, dir, cfg, err, NODE_CONFIG_ERR_MAX);
	free(text);
	return rc;
}

enum node_role node_config_role(const struct node_config *cfg, uid_t uid)
{
	static const struct {
		enum node_role role;
		size_t off, count_off;
	} order[] = {
		{ NODE_ROLE_ADMIN, offsetof(struct node_config, admins),
		  offsetof(struct node_config, n_admins) },
		{ NODE_ROLE_POC, offsetof(struct node_config, pocs),
		  offsetof(struct node_config, n_pocs) },
		{ NODE_ROLE_OFFICER, offsetof(struct node_config, officers),
		  offsetof(struct node_config, n_officers) },
	};
	for (size_t r = 0; r < sizeof(order) / sizeof(order[0]); r++) {
		const uid_t *list = (const uid_t *)((const char *)cfg + order[r].off);
		size_t n = *(const size_t *)((const char *)cfg + order[r].count_off);
		for (size_t i = 0; i < n && i < NODE_CONFIG_ROLE_USERS_MAX; i++) {
			if (list[i] == uid) {
				return order[r].role;
			}
		}
	}
	return NODE_ROLE_NONE;
}
