/*
 * node_runtime.c: what every part of divexd uses and the library holds, so
 * that tests and tools can link the workers without main(): the log line
 * format, the relay link's state, and rereading the configuration.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "node.h"

static const char *const LEVELS[] = { "error", "warn", "info", "debug" };

void node_log(struct node *n, enum node_log_level level, const char *fmt, ...)
{
	char when[40], msg[8192];
	struct timespec ts;
	struct tm tm;
	if (level > n->cfg.log_level) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ divexd %s %s: %s\n", when, ts.tv_nsec / 1000000,
		n->cfg.state[0] != '\0' ? n->cfg.state : "-", LEVELS[level], msg);
	fflush(stderr);
}

void node_relay_result(struct node *n, int rc)
{
	/*
	 * A clock the relay refuses stops every request, as surely as a broken
	 * link, and only a person can fix it: it is kept as the link's state
	 * (`divex status`) and logged once, not retried in silence.
	 */
	if (rc == DX_EREQ_STALE) {
		if (n->relay_last_error != rc) {
			node_log(n, NODE_LOG_ERROR,
				 "the relay refused this node's clock: %s; nothing is sent or "
				 "received until it is fixed (queued messages wait)",
				 dx_strerror(rc));
		}
		n->relay_last_error = rc;
		return;
	}
	/* Refusals are answers too: only transport errors mean the link is down. */
	if (rc == DX_ETIMEDOUT || rc == DX_EUNREACHABLE || rc == DX_ETLS || rc == DX_ECLOSED) {
		if (n->relay_last_error != rc && rc != DX_ECLOSED) {
			node_log(n, NODE_LOG_WARN, "relay link: %s", dx_strerror(rc));
		}
		n->relay_last_error = rc;
		return;
	}
	int was_down = n->relay_last_error != DX_OK;
	n->relay_last_error = DX_OK;
	n->relay_last_ok_ms = dx_now_ms();
	if (was_down) {
		/* What waited for the link goes now, not after its backoff. */
		size_t due = 0;
		int st = node_store_outbox_link_up(n->store, n->relay_last_ok_ms, &due);
		if (st != DX_OK) {
			node_log(n, NODE_LOG_ERROR, "relay link is up again; rescheduling the outbox: %s",
				 dx_strerror(st));
		} else {
			node_log(n, NODE_LOG_INFO, "relay link is up again; %zu queued message(s) "
				 "due now", due);
		}
		node_outbox_kick(n);
	}
}

/* ---- reload ---- */

int node_reload(struct node *n, char *msg, size_t size)
{
	struct node_config cfg;
	char err[NODE_CONFIG_ERR_MAX];
	int rc = node_config_load(n->conf_path, &cfg, err);
	if (rc != DX_OK) {
		snprintf(msg, size, "%s: %s; the running configuration is kept", n->conf_path, err);
		node_log(n, NODE_LOG_ERROR, "reload: %s", msg);
		return rc;
	}
	int relay_changed = strcmp(cfg.state, n->cfg.state) != 0 ||
			    strcmp(cfg.relay_url, n->cfg.relay_url) != 0 ||
			    strcmp(cfg.relay_name, n->cfg.relay_name) != 0 ||
			    memcmp(cfg.relay_public_key, n->cfg.relay_public_key, 32) != 0 ||
			    strcmp(cfg.relay_ca_file, n->cfg.relay_ca_file) != 0;
	if (relay_changed) {
		/* The state and the relay are kept: what applies now is what was loaded. */
		memcpy(cfg.state, n->cfg.state, sizeof(cfg.state));
		memcpy(cfg.relay_url, n->cfg.relay_url, sizeof(cfg.relay_url));
		memcpy(cfg.relay_name, n->cfg.relay_name, sizeof(cfg.relay_name));
		memcpy(cfg.relay_public_key, n->cfg.relay_public_key, 32);
		memcpy(cfg.relay_ca_file, n->cfg.relay_ca_file, sizeof(cfg.relay_ca_file));
		memcpy(cfg.relay_server_name, n->cfg.relay_server_name,
		       sizeof(cfg.relay_server_name));
	}
	n->cfg = cfg;
	snprintf(msg, size, "configuration reloaded (roles, timings, log level)%s",
		 relay_changed ? "; the [node] state and [relay] settings changed and apply only "
				 "after a restart of divexd"
			       : "");
	node_log(n, relay_changed ? NODE_LOG_WARN : NODE_LOG_INFO, "%s", msg);
	return DX_OK;
}

