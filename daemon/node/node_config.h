/*
 * node_config.h: a State node's configuration file, <home>/divexd.conf, an
 * INI file read with inih (docs/divexd.conf.md). `divex init` writes it;
 * divexd reads it at start-up and again on SIGHUP.
 *
 * Parsing is strict, as the relay's: an unknown section or key, a key given
 * twice, a value that is not of its type or out of its range, an indented or
 * over-long line is refused with a message naming the line and the key.
 * Relative paths are resolved against the directory that holds the file.
 *
 * Roles map local users to what they may do on the control socket
 * (docs/control.md). Each role lists user names or numeric uids separated by
 * commas; names are resolved to uids with getpwnam() when the file is loaded,
 * and an unknown name is an error (a typo must not silently lock a person
 * out or, worse, be ignored).
 *
 * A struct node_config is a plain value: filled by the loop thread, then
 * read-only.
 */
#ifndef DIVEX_NODE_NODE_CONFIG_H
#define DIVEX_NODE_NODE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "harden.h"
#include "util.h"

#define NODE_CONFIG_FILE_NAME "divexd.conf"
#define NODE_CONFIG_NAME_MAX 255
#define NODE_CONFIG_URL_MAX 255
#define NODE_CONFIG_PATH_MAX 1024
#define NODE_CONFIG_FILE_MAX (64 * 1024)
#define NODE_CONFIG_LINE_MAX 190
#define NODE_CONFIG_ERR_MAX 512
/* Users per role. */
#define NODE_CONFIG_ROLE_USERS_MAX 64

enum node_role {
	NODE_ROLE_NONE = 0,
	NODE_ROLE_OFFICER = 1,
	NODE_ROLE_POC = 2,
	NODE_ROLE_ADMIN = 3,
};
const char *node_role_name(enum node_role r); /* "officer", "point_of_contact", ... */

enum node_log_level {
	NODE_LOG_ERROR,
	NODE_LOG_WARN,
	NODE_LOG_INFO,
	NODE_LOG_DEBUG,
};

struct node_config {
	/* [node] */
	char state[DX_STATE_LEN + 1];		    /* required: this State's code */
	char passphrase_file[NODE_CONFIG_PATH_MAX]; /* optional, resolved; "" for none */
	enum node_log_level log_level;		    /* default info */
	char user[HARDEN_USER_NAME_MAX + 1];	    /* optional: started by root, become this user */
	/* [relay] */
	char relay_url[NODE_CONFIG_URL_MAX + 1];       /* required */
	char relay_name[NODE_CONFIG_NAME_MAX + 1];     /* required: origin and key name */
	uint8_t relay_public_key[32];		       /* required: 64 hex digits */
	char relay_ca_file[NODE_CONFIG_PATH_MAX];      /* required for tls+tcp://, resolved */
	char relay_server_name[NODE_CONFIG_NAME_MAX + 1]; /* optional */
	uint32_t relay_timeout_ms;			  /* default 30000, 1000..600000 */
	uint32_t poll_wait_ms;	   /* long-poll wait, default 20000, 0..60000, < timeout */
	uint32_t roster_sync_ms;   /* default 60000, 100..86400000 */
	/* [outbox] */
	uint32_t retry_min_ms; /* default 500, 10..3600000 */
	uint32_t retry_max_ms; /* default 300000, >= retry_min_ms, <= 86400000 */
	/* [prekeys] */
	uint32_t prekey_period_days; /* default 7, 1..90 */
	uint32_t prekey_grace_days;  /* default 30, 1..365 */
	/* [roles] officer / point_of_contact / administrator */
	uid_t officers[NODE_CONFIG_ROLE_USERS_MAX];
	size_t n_officers;
	uid_t pocs[NODE_CONFIG_ROLE_USERS_MAX];
	size_t n_pocs;
	uid_t admins[NODE_CONFIG_ROLE_USERS_MAX];
	size_t n_admins;
};

/*
 * Reads path into cfg. On failure returns DX_EPARSE (or DX_EIO, DX_ENOENT,
 * DX_ETOOBIG for the file itself) and writes a message naming the line and
 * key into err (NODE_CONFIG_ERR_MAX bytes, may be NULL). cfg is written only
 * on success.
 */
int node_config_load(const char *path, struct node_config *cfg,
		     char err[NODE_CONFIG_ERR_MAX]) DX_MUST_CHECK;

/* The highest role uid holds (NODE_ROLE_NONE when none). */
enum node_role node_config_role(const struct node_config *cfg, uid_t uid);

#endif
