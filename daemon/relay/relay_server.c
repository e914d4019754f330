/*
 * relay_server.c: bringing the relay up and down, and the operator's admin
 * operations.
 *
 * relay_open() loads everything from the home directory (config, key,
 * store, roster, log) and is shared by `run` and by the offline admin
 * commands. relay_serve() adds the loop's handles: the nng listener, the
 * admin socket, the health endpoints, signals (SIGTERM/SIGINT drain and
 * exit 0; SIGHUP reloads the roster) and a one-second tick, and finishes a
 * privilege drop that relay_main.c began for a port below 1024.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <time.h>

#include "canon.h"
#include "harden.h"
#include "health.h"
#include "relay.h"
#include "relay_replay.h"
#include "relay_server.h"
#include "roster.h"

/*
 * One line per event on stderr, for the operator (and journald): UTC time,
 * then what happened in words. Peer-supplied text never reaches here
 * unescaped: callers pass State codes (validated) and error sentences.
 */
void relay_logf(const struct relay *r, const char *fmt, ...)
{
	char when[32], msg[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	(void)r;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s.%03ldZ divex-relay: %s\n", when, ts.tv_nsec / 1000000, msg);
}

int relay_path(char *out, size_t cap, const char *home, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", home, name);
	return n > 0 && (size_t)n < cap ? DX_OK : DX_EINVAL;
}

int relay_open(struct relay *r, const char *home, char *err, size_t errlen)
{
	char path[600];
	int rc;
	memset(r, 0, sizeof(*r));
	r->attach_dir = -1;
	r->batch_tail = &r->batch_head;
	snprintf(r->home, sizeof(r->home), "%s", home);
	if ((rc = relay_path(path, sizeof(path), home, "relay.conf")) != DX_OK ||
	    (rc = relay_config_load(path, &r->cfg, err, errlen)) != DX_OK) {
		return rc;
	}
	snprintf(r->id.name, sizeof(r->id.name), "%s", r->cfg.name);
	if ((rc = relay_path(path, sizeof(path), home, "relay.key")) != DX_OK ||
	    (rc = keys_signer_load(path, &r->signer)) != DX_OK) {
		snprintf(err, errlen, "cannot load the relay key %s", path);
		return rc;
	}
	keys_signer_pk(r->signer, r->id.pk);
	r->members = calloc(RELAY_STATE_SLOTS, sizeof(*r->members));
	if (r->members == NULL || metrics_new(r->cfg.name, dx_now_ms(), &r->metrics) != DX_OK ||
	    replay_cache_new(&r->replay) != DX_OK) {
		return DX_ENOMEM;
	}
	if ((rc = relay_path(path, sizeof(path), r->cfg.data_dir, "relay.db")) != DX_OK ||
	    (rc = relay_store_open(r, path)) != DX_OK) {
		snprintf(err, errlen, "cannot open the store %s", path);
		return rc;
	}
	if ((rc = relay_attach_open(r)) != DX_OK) {
		snprintf(err, errlen,
			 "cannot create or open %s/attachments (check that the relay's user owns "
			 "data_dir and the disk has room)",
			 r->cfg.data_dir);
		return rc;
	}
	if ((rc = relay_roster_load(r)) != DX_OK) {
		snprintf(err, errlen, "cannot load the roster");
		return rc;
	}
	if ((rc = relay_log_open(r)) != DX_OK) {
		snprintf(err, errlen, "the audit log does not match the relay's own last checkpoint");
		return rc;
	}
	metrics_set_log(r->metrics, r->log.size, r->checkpoint_size, dx_now_ms());
	return DX_OK;
}

void relay_close(struct relay *r)
{
	if (r->db != NULL && relay_log_store_checkpoint(r) != DX_OK) {
		/* Harmless: the next start signs the same tree again. */
		relay_logf(r, "could not store the last checkpoint");
	}
	db_close(r->db);
	relay_attach_close(r);
	free(r->node_cache);
	keys_signer_free(r->signer);
	replay_cache_free(r->replay);
	metrics_free(r->metrics);
	relay_sessions_free(r);
	free(r->members);
	memset(r, 0, sizeof(*r));
}

/* Runs one admin operation in its own transaction, then signs the log. */
int relay_admin_apply(struct relay *r, const Dx__AdminRequest *q, Dx__AdminResponse *a,
		      char state_out[static 4])
{
	int rc = db_begin(r->db);
	uint64_t size0 = r->log.size;
	state_out[0] = '\0';
	if (rc != DX_OK) {
		return rc;
	}
	if (strcmp(q->verb, "admit") == 0) {
		rc = relay_roster_admit(r, q->signed_entry.data, q->signed_entry.len, q->status,
					state_out);
	} else if (strcmp(q->verb, "suspend") == 0 || strcmp(q->verb, "reinstate") == 0) {
		uint32_t status = strcmp(q->verb, "suspend") == 0 ? RELAY_STATUS_SUSPENDED : 0;
		if (relay_member(r, q->state) == NULL) {
			rc = DX_ENOT_MEMBER;
		} else {
			rc = relay_roster_set_status(r, q->state, status);
			snprintf(state_out, 4, "%s", q->state);
		}
	} else {
		rc = DX_EINVAL;
	}
	if (rc == DX_OK) {
		rc = db_commit(r->db, NULL);
	} else {
		db_rollback(r->db);
	}
	if (rc != DX_OK) {
		r->log.size = size0;
		/* The cache may hold the rolled-back change: reload it. */
		if (relay_roster_load(r) != DX_OK) {
			relay_logf(r, "roster reload after a failed change failed");
		}
		return rc;
	}
	a->log_index = r->log.size - 1;
	if ((rc = relay_log_checkpoint(r)) == DX_OK) {
		rc = relay_log_store_checkpoint(r);
	}
	return rc;
}

static void on_admin(void *arg, struct bridge_request *breq, const uint8_t *data, size_t len)
{
	struct relay *r = arg;
	Dx__AdminResponse a = DX__ADMIN_RESPONSE__INIT;
	ProtobufCMessage *m = NULL;
	char state[4] = "";
	char *text = NULL, *json = NULL;
	size_t tlen, jlen;
	uint8_t *out = NULL;
	size_t out_len;

	/* The socket sits in the 0700 home directory; the peer's uid is checked
	 * too, so that only the relay's own user (or root) administers it. */
	uint64_t uid;
	int rc = bridge_request_peer_uid(breq, &uid);
	if (rc == DX_OK && uid != (uint64_t)geteuid() && uid != 0) {
		relay_logf(r, "admin request refused from uid %llu", (unsigned long long)uid);
		rc = DX_EKEYFILE_PERM;
	}
	if (rc == DX_OK) {
		rc = proto_unpack_strict(&dx__admin_request__descriptor, data, len,
					 ROSTER_ENTRY_MAX + 1024, &m);
	}
	if (rc == DX_OK) {
		const Dx__AdminRequest *q = (const Dx__AdminRequest *)m;
		if (strcmp(q->verb, "status") == 0) {
			uint64_t now = dx_now_ms();
			rc = metrics_render_status_text(r->metrics, now, &text, &tlen);
			if (rc == DX_OK) {
				rc = metrics_render_status_json(r->metrics, now, &json, &jlen);
			}
			a.summary = text;
			a.summary_json = json;
		} else {
			rc = relay_admin_apply(r, q, &a, state);
			if (rc == DX_OK) {
				relay_note_roster_change(r, q->verb, state);
			} else {
				relay_logf(r, "roster: %s refused: %s", q->verb, dx_errname(rc));
			}
		}
	}
	metrics_count_request(r->metrics, METRICS_OP_ADMIN, rc, dx_now_ms());
	a.status = rc;
	a.message = rc == DX_OK ? "" : (char *)dx_strerror(rc);
	a.state = state;
	if (proto_pack_alloc(&a.base, &out, &out_len) == DX_OK) {
		(void)bridge_reply(breq, out, out_len);
	} else {
		bridge_drop(breq);
	}
	free(out);
	free(text);
	free(json);
	if (m != NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

/* Roster changes while running: log a line, refresh metrics. */
void relay_note_roster_change(struct relay *r, const char *verb, const char *state)
{
	struct relay_member *m = relay_member(r, state);
	relay_logf(r, "roster: %s %s (now %s); audit log size %llu", verb, state,
		   m != NULL ? relay_status_name(m->status) : "absent",
		   (unsigned long long)r->log.size);
}

static int healthy(void *ctx, char *why, size_t n)
{
	struct relay *r = ctx;
	/* Read without the loop's lock: a torn read only delays a warning. */
	if (r->stopping) {
		snprintf(why, n, "shutting down");
		return 0;
	}
	return 1;
}

/*
 * Free space where the relay keeps its store and attachments: a gauge for
 * the operator's alerts, and a log line when it falls under 5% and when it
 * is back above. A full disk loses nothing (writes are refused DX_ENOSPC
 * and retried by the nodes), but it stops the mail.
 */
#define DISK_LOW_PERCENT 5

static void watch_disk(struct relay *r)
{
	struct statvfs v;
	if (statvfs(r->cfg.data_dir, &v) != 0 || v.f_blocks == 0) {
		metrics_set_disk_free(r->metrics, -1);
		return;
	}
	uint64_t free_bytes = (uint64_t)v.f_bavail * v.f_frsize;
	metrics_set_disk_free(r->metrics, free_bytes > INT64_MAX ? INT64_MAX : (int64_t)free_bytes);
	int low = (uint64_t)v.f_bavail * 100 < (uint64_t)v.f_blocks * DISK_LOW_PERCENT;
	if (low == r->disk_low) {
		return;
	}
	r->disk_low = low;
	if (low) {
		relay_logf(r, "warning: %llu MiB free in %s, under %d%%: once it is full the relay "
			      "refuses new mail and uploads (DX_ENOSPC) until space is freed. Free "
			      "space or grow the file system",
			   (unsigned long long)(free_bytes >> 20), r->cfg.data_dir, DISK_LOW_PERCENT);
	} else {
		relay_logf(r, "free space in %s back above %d%% (%llu MiB)", r->cfg.data_dir,
			   DISK_LOW_PERCENT, (unsigned long long)(free_bytes >> 20));
	}
}

static void tick(uv_timer_t *t)
{
	struct relay *r = t->data;
	uint64_t now = dx_now_ms();
	uint64_t keep = 2ull * r->cfg.limits.request_window_seconds * 1000;
	replay_cache_expire(r->replay, now > keep ? now - keep : 0);
	relay_attach_expire(r, now, 0);
	relay_attach_release(r, now);
	watch_disk(r);
	relay_refresh_mailbox_metrics(r, now);
	relay_refusals_flush(r, now);
	unsigned long replaced = bridge_listeners_replaced();
	if (replaced != r->listeners_replaced) {
		r->listeners_replaced = replaced;
		metrics_set_listeners_replaced(r->metrics, replaced);
		relay_logf(r, "warning: the listener on %s had stopped accepting new connections "
			      "(a defect of nng 1.5.2's tls+tcp transport); it was closed and opened "
			      "again on the same port, %lu time(s) since start; nodes that were "
			      "connected reconnect on their own",
			   r->cfg.listen, replaced);
	}
	unsigned long failures = bridge_listener_relisten_failures();
	if (failures != r->relisten_failures) {
		r->relisten_failures = failures;
		relay_logf(r, "error: could not listen again on %s after replacing a listener that "
			      "had stopped accepting (is another process on the port?); retrying "
			      "every 10 s: restart the relay if this goes on",
			   r->cfg.listen);
	}
}

static void server_closed(void *arg)
{
	struct relay *r = arg;
	r->server = NULL;
	if (r->admin == NULL) {
		uv_stop(r->loop);
	}
}

static void admin_closed(void *arg)
{
	struct relay *r = arg;
	r->admin = NULL;
	if (r->server == NULL) {
		uv_stop(r->loop);
	}
}

/* Drain: refuse new work, answer parked long-polls, commit the batch. */
static void relay_stop(struct relay *r)
{
	if (r->stopping) {
		return;
	}
	r->stopping = 1;
	relay_refusals_flush(r, 0);
	relay_logf(r, "stopping: finishing in-flight commits");
	relay_batch_flush_now(r);
	for (size_t i = 0; i < RELAY_STATE_SLOTS; i++) {
		while (r->members[i].parked != NULL) {
			struct relay_op *op = r->members[i].parked;
			relay_unpark_reply(op);
		}
	}
	relay_attach_expire(r, 0, 1);
	uv_timer_stop(&r->tick);
	uv_signal_stop(&r->sigterm);
	uv_signal_stop(&r->sigint);
	uv_signal_stop(&r->sighup);
	if (r->server != NULL) {
		bridge_server_close(r->server, server_closed, r);
	}
	if (r->admin != NULL) {
		bridge_server_close(r->admin, admin_closed, r);
	}
}

/*
 * SIGHUP: re-read the roster and the configuration's limits. The listening
 * address, the name and the TLS files need a restart; a reload that would
 * change them says so and keeps the running values.
 */
static void relay_reload(struct relay *r)
{
	struct relay_config cfg;
	char path[600], err[RELAY_CONFIG_ERR_MAX] = "";
	if (relay_roster_load(r) != DX_OK) {
		relay_logf(r, "SIGHUP: roster reload failed; keeping the roster in memory");
	}
	if (relay_path(path, sizeof(path), r->home, RELAY_CONFIG_FILE_NAME) != DX_OK ||
	    relay_config_load(path, &cfg, err, sizeof(err)) != DX_OK) {
		relay_logf(r, "SIGHUP: configuration not reloaded: %s", err);
		return;
	}
	if (strcmp(cfg.listen, r->cfg.listen) != 0 || strcmp(cfg.name, r->cfg.name) != 0 ||
	    strcmp(cfg.cert_file, r->cfg.cert_file) != 0 || cfg.limits.contexts != r->cfg.limits.contexts) {
		relay_logf(r, "SIGHUP: listen, name, TLS files and contexts take effect at restart");
	}
	uint64_t contexts = r->cfg.limits.contexts;
	r->cfg.limits = cfg.limits;
	r->cfg.limits.contexts = contexts;
	r->cfg.log_level = cfg.log_level;
	relay_logf(r, "SIGHUP: roster and limits reloaded");
}

static void on_signal(uv_signal_t *s, int signum)
{
	struct relay *r = s->data;
	if (signum == SIGHUP) {
		relay_reload(r);
		return;
	}
	relay_stop(r);
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h)) {
		uv_close(h, NULL);
	}
}

/*
 * The node-facing listener is bound last and the privilege drop finished
 * right after it (harden_drop_finish() does nothing unless the relay began
 * one), so that no node's bytes are read before root's saved id is gone.
 */
static int open_listeners(struct relay *r, uv_loop_t *loop)
{
	char path[600], url[700], err[HARDEN_ERR_MAX];
	int rc, done;
	if ((rc = relay_path(path, sizeof(path), r->home, "admin.sock")) != DX_OK) {
		return rc;
	}
	remove(path);
	snprintf(url, sizeof(url), "ipc://%s", path);
	struct bridge_server_config ac = { .url = url, .contexts = 4, .recv_max = 256 * 1024 };
	if ((rc = bridge_server_open(loop, &ac, on_admin, r, &r->admin)) != DX_OK) {
		relay_logf(r, "cannot open the admin socket %s: %s", path, dx_strerror(rc));
		return rc;
	}
	if ((rc = health_start(r->cfg.admin_listen, r->metrics, healthy, r, &r->health)) != DX_OK) {
		relay_logf(r, "cannot serve health on %s: %s", r->cfg.admin_listen,
			   dx_strerror(rc));
		return rc;
	}
	struct bridge_server_config sc = {
		.url = r->cfg.listen,
		.contexts = r->cfg.limits.contexts,
		.recv_max = r->cfg.limits.max_message_bytes,
		.tls = { .cert_file = r->cfg.cert_file, .key_file = r->cfg.key_file },
	};
	rc = bridge_server_open(loop, &sc, relay_handle_request, r, &r->server);
	if (rc != DX_OK) {
		relay_logf(r, "cannot listen on %s: %s", r->cfg.listen, dx_strerror(rc));
		return rc;
	}
	if ((rc = harden_drop_finish(&done, err, sizeof(err))) != DX_OK) {
		relay_logf(r, "dropping privileges: %s", err);
		return rc;
	}
	if (done) {
		relay_logf(r, "ports bound: no capability left, root cannot be regained");
	}
	return DX_OK;
}

int relay_serve(struct relay *r)
{
	uv_loop_t loop;
	int rc;

	if (uv_loop_init(&loop) != 0) {
		return DX_ENOMEM;
	}
	r->loop = &loop;
	uv_timer_init(&loop, &r->flush_timer);
	r->flush_timer.data = r;
	uv_timer_init(&loop, &r->tick);
	r->tick.data = r;
	uv_timer_start(&r->tick, tick, 1000, 1000);
	uv_signal_init(&loop, &r->sigterm);
	uv_signal_init(&loop, &r->sigint);
	uv_signal_init(&loop, &r->sighup);
	r->sigterm.data = r->sigint.data = r->sighup.data = r;
	uv_signal_start(&r->sigterm, on_signal, SIGTERM);
	uv_signal_start(&r->sigint, on_signal, SIGINT);
	uv_signal_start(&r->sighup, on_signal, SIGHUP);

	if ((rc = open_listeners(r, &loop)) != DX_OK) {
		goto out;
	}
	int port = 0;
	if (bridge_server_port(r->server, &port) != DX_OK) {
		port = 0; /* ipc:// has no port */
	}
	char admin_host[256];
	uint16_t admin_port;
	if (health_split_addr(r->cfg.admin_listen, admin_host, sizeof(admin_host), &admin_port) !=
	    DX_OK) {
		snprintf(admin_host, sizeof(admin_host), "%s", r->cfg.admin_listen);
	}
	relay_logf(r, "%s listening on %s (bound port %d); status page http://%s:%u/status;"
		      " log size %llu",
		   r->cfg.name, r->cfg.listen, port, admin_host, (unsigned)health_port(r->health),
		   (unsigned long long)r->log.size);
	relay_refresh_mailbox_metrics(r, dx_now_ms());
	watch_disk(r);
	uv_run(&loop, UV_RUN_DEFAULT);
	rc = DX_OK;
out:
	if (!r->stopping) {
		/* Start-up failed half-way: close what was opened. */
		relay_stop(r);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	health_stop(r->health);
	r->health = NULL;
	uv_walk(&loop, close_walk, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	if (bridge_closes_abandoned() > 0) {
		relay_logf(r, "a listening socket did not close within 2 s (nng 1.5.2 can hang "
			   "closing a socket); stopped without waiting for it: every commit is "
			   "durable");
	}
	if (uv_loop_close(&loop) != 0) {
		relay_logf(r, "handles left open at exit");
	}
	r->loop = NULL;
	return rc;
}
