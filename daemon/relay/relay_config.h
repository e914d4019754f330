/*
 * relay_config.h: the relay's configuration file, an INI file read with
 * inih. Every option has a default except [relay] listen; each is described
 * in docs/relay.conf.md.
 *
 * Parsing is strict: an unknown section or key, a key given twice, a value
 * that is not of its type or out of its range, an indented line or an
 * over-long line is refused with a message naming the line and the key.
 * Relative paths are taken relative to the directory that holds the file
 * (the relay's home), and are stored resolved.
 *
 * A struct relay_config is a plain value: filled once at start-up (and again
 * on SIGHUP) by the loop thread, then read-only.
 */
#ifndef DIVEX_RELAY_CONFIG_H
#define DIVEX_RELAY_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "harden.h"

#define RELAY_CONFIG_NAME_MAX 255
#define RELAY_CONFIG_URL_MAX 255
#define RELAY_CONFIG_PATH_MAX 1024
/* Whole configuration file; a longer one is refused before it is read. */
#define RELAY_CONFIG_FILE_MAX (64 * 1024)
/* Longest line, end of line excluded (inih reads lines of up to 200 bytes). */
#define RELAY_CONFIG_LINE_MAX 190
/* A message from relay_config_load() always fits in this many bytes. */
#define RELAY_CONFIG_ERR_MAX 512

#define RELAY_CONFIG_DEFAULT_NAME "att-secretariat.divex/relay"
#define RELAY_CONFIG_DEFAULT_ADMIN "127.0.0.1:9464"
/* File names, in the relay's home, that `divex-relay init` writes and the defaults name. */
#define RELAY_CONFIG_FILE_NAME "relay.conf"
#define RELAY_CONFIG_TLS_CERT_NAME "tls-cert.pem"
#define RELAY_CONFIG_TLS_KEY_NAME "tls-key.pem"
/* The user `divex-relay init` suggests for [relay] user, as dist/systemd/ names it. */
#define RELAY_CONFIG_SUGGESTED_USER "divex-relay"

enum relay_log_level {
	RELAY_LOG_ERROR,
	RELAY_LOG_WARN,
	RELAY_LOG_INFO,
	RELAY_LOG_DEBUG,
};

struct relay_limits {
	uint64_t max_message_bytes;
	uint64_t mailbox_max_envelopes;
	uint64_t mailbox_max_bytes;
	uint64_t attachment_quota_bytes;
	uint64_t attachment_retention_seconds;
	uint64_t rate_per_second;
	uint64_t rate_burst;
	uint64_t request_window_seconds;
	uint64_t longpoll_max_ms;
	uint64_t contexts;
	uint64_t group_commit_max;
};

struct relay_config {
	/* [relay] */
	char name[RELAY_CONFIG_NAME_MAX + 1];
	char listen[RELAY_CONFIG_URL_MAX + 1];
	char admin_listen[RELAY_CONFIG_URL_MAX + 1];
	char data_dir[RELAY_CONFIG_PATH_MAX];
	enum relay_log_level log_level;
	/* "" unless the relay, started by root, is to become this user. */
	char user[HARDEN_USER_NAME_MAX + 1];
	/* [tls] */
	char cert_file[RELAY_CONFIG_PATH_MAX];
	char key_file[RELAY_CONFIG_PATH_MAX];
	/* [limits] */
	struct relay_limits limits;
};

/*
 * Fills cfg with every default, paths relative to home (NULL: "."). listen
 * is left empty: it has no default.
 */
void relay_config_defaults(struct relay_config *cfg, const char *home);

/* True when url's scheme uses TLS (tls+tcp://, tls+tcp4://, tls+tcp6://). */
int relay_config_url_is_tls(const char *url);

/* "error", "warn", "info", "debug". */
const char *relay_config_log_level_name(enum relay_log_level level);

/*
 * Reads and checks the file at path. On failure writes a one-line message
 * ("relay.conf:12: unknown key 'foo' in [limits]") into err (errlen bytes,
 * RELAY_CONFIG_ERR_MAX suffices) and returns DX_ENOENT (no such file),
 * DX_ETOOBIG (over RELAY_CONFIG_FILE_MAX), DX_EIO, DX_EINVAL (a path too
 * long to resolve against) or DX_EPARSE (anything wrong with the content).
 * *cfg is written only on success.
 */
int relay_config_load(const char *path, struct relay_config *cfg, char *err,
		      size_t errlen) DX_MUST_CHECK;

/*
 * Writes a commented configuration with the given listen URL, admin address
 * (NULL: the default) and relay name (NULL: the default), every other option
 * shown commented out at its default, [tls] filled in when listen uses TLS.
 * Mode 0600; DX_EEXIST if path exists (it is never overwritten); DX_EINVAL
 * for a value that relay_config_load() would refuse.
 */
int relay_config_write_default(const char *path, const char *listen, const char *admin,
			       const char *name) DX_MUST_CHECK;

#endif
