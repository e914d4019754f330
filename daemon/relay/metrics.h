/*
 * metrics.h: the relay's health figures and their three renderings: the
 * Prometheus text exposition format for /metrics, a self-contained HTML page
 * for /status, and a plain-text and a JSON summary for `divex relay status`.
 *
 * One struct metrics is shared by the relay's loop thread, which updates it,
 * and the HTTP server's thread, which renders it. A single mutex guards it;
 * every update holds the lock for a few instructions, and a renderer holds it
 * only to copy the figures into a private snapshot, then formats without it,
 * so a slow or large rendering (10,000 States) never stalls the relay loop.
 *
 * No function here reads a clock: updates and renderers take the current time
 * as an argument, so that the relay passes its own notion of now and tests
 * are deterministic. The rings that feed the throughput chart and the recent
 * error rates are keyed by absolute second and minute, so a slot that is not
 * refreshed simply ages out of the window.
 *
 * Strings that reach a rendering (the relay's name, State codes) are treated
 * as untrusted: they are first made printable ASCII by dx_escape() and then
 * escaped for the context (label escaping in Prometheus, entities in HTML,
 * JSON string encoding).
 */
#ifndef DIVEX_RELAY_METRICS_H
#define DIVEX_RELAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Longest State key accepted by metrics_set_state(), NUL excluded. */
#define METRICS_STATE_MAX 15
/* Longest relay name kept for display, NUL excluded; longer names are cut. */
#define METRICS_NAME_MAX 255
/* The throughput chart covers this many seconds, one slot per second. */
#define METRICS_THROUGHPUT_SECONDS 600
/* Recent error rates cover this many minutes, one slot per minute. */
#define METRICS_ERROR_MINUTES 10
/* A State not seen for longer than this is flagged on the status page. */
#define METRICS_WARN_UNSEEN_MS (3600ULL * 1000)
/* A mailbox whose oldest undelivered envelope is older than this is flagged. */
#define METRICS_WARN_BACKLOG_MS (24ULL * 3600 * 1000)

/* The relay operations whose requests are counted. */
enum metrics_op {
	METRICS_OP_SUBMIT,
	METRICS_OP_LIST,
	METRICS_OP_FETCH,
	METRICS_OP_ACK,
	METRICS_OP_UPLOAD,
	METRICS_OP_DOWNLOAD,
	METRICS_OP_ROSTER,
	METRICS_OP_PUBLISH,
	METRICS_OP_CHECKPOINT,
	METRICS_OP_INCLUSION,
	METRICS_OP_CONSISTENCY,
	METRICS_OP_STATEMENTS,
	METRICS_OP_SESSION,
	METRICS_OP_ADMIN,
	METRICS_OP_UNDECODABLE, /* a request that decodes to no known operation */
	METRICS_OP_COUNT
};

/*
 * How a request ended: answered, refused because of the request or its
 * sender (any DX_E* code but the four below), or failed inside the relay
 * (DX_EINTERNAL, DX_EIO, DX_ENOSPC, DX_ENOMEM), which is what an operator
 * must act on.
 */
enum metrics_outcome {
	METRICS_OUTCOME_OK,
	METRICS_OUTCOME_REFUSED,
	METRICS_OUTCOME_INTERNAL,
	METRICS_OUTCOME_COUNT
};

/* A State's standing in the roster, shown beside its row. */
enum metrics_state_status {
	METRICS_STATUS_PARTY,
	METRICS_STATUS_SIGNATORY,
	METRICS_STATUS_SUSPENDED,
	METRICS_STATUS_COUNT
};

struct metrics;

/* "submit", "list", ...; "unknown" for a value out of range. */
const char *metrics_op_name(enum metrics_op op);
/* "party", "signatory", "suspended"; "unknown" for a value out of range. */
const char *metrics_status_name(enum metrics_state_status status);
/* The outcome a return code counts as. */
enum metrics_outcome metrics_outcome_of(int err);

/*
 * Creates an empty registry for the relay called name (shown on the status
 * page; cut at METRICS_NAME_MAX) that started at start_ms (for the uptime).
 */
int metrics_new(const char *name, uint64_t start_ms, struct metrics **out) DX_MUST_CHECK;
void metrics_free(struct metrics *m);

/*
 * Counts one request of operation op that ended with err (0 or a DX_E*
 * code). A nonzero err is also counted by its code, in total and in the
 * per-minute ring for recent error rates.
 */
void metrics_count_request(struct metrics *m, enum metrics_op op, int err, uint64_t now_ms);

/* Counts n envelopes accepted (made durable) at now_ms, for the throughput chart. */
void metrics_count_accepted(struct metrics *m, uint64_t n, uint64_t now_ms);

/* Sets how many times the node-facing listener was found not accepting and replaced. */
void metrics_set_listeners_replaced(struct metrics *m, uint64_t n);

/* Sets how many attachment pieces wait for the piece before them. */
void metrics_set_pieces_waiting(struct metrics *m, uint64_t n);

/* Sets the bytes free for the relay on the file system of its data_dir (-1: unknown). */
void metrics_set_disk_free(struct metrics *m, int64_t bytes);

/*
 * Records one group commit of batch_size entries that took commit_seconds
 * in all, fsync_seconds of which were spent in fsync.
 */
void metrics_observe_commit(struct metrics *m, double commit_seconds, double fsync_seconds,
			    uint64_t batch_size);

/* Sets the audit log's size in leaves and the latest checkpoint's size and time. */
void metrics_set_log(struct metrics *m, uint64_t leaves, uint64_t checkpoint_size,
		     uint64_t checkpoint_ms);

/*
 * Inserts or updates the row of one State: its status, the time it was last
 * seen (0: never; the later of the stored and the given time is kept, so a
 * caller that does not know it may pass 0), its mailbox depth in envelopes
 * and bytes, and the time its oldest undelivered envelope was accepted (0:
 * the mailbox is empty). DX_EINVAL for an empty or too long state or a bad
 * status; DX_ENOMEM.
 */
int metrics_set_state(struct metrics *m, const char *state, enum metrics_state_status status,
		      uint64_t last_seen_ms, uint64_t depth, uint64_t bytes,
		      uint64_t oldest_ms) DX_MUST_CHECK;

/* Marks a known State as seen at now_ms. DX_ENOENT if it has no row. */
int metrics_touch_state(struct metrics *m, const char *state, uint64_t now_ms);

/* Removes a State's row (it left the roster). DX_ENOENT if it has none. */
int metrics_remove_state(struct metrics *m, const char *state);

/*
 * Renderers. Each writes a new malloc'd, NUL-terminated text into *out and
 * its length (NUL excluded) into *len, only on success; the caller frees it.
 * now_ms is the time the rendering describes (ages, uptime, the windows).
 */
int metrics_render_prometheus(struct metrics *m, uint64_t now_ms, char **out,
			      size_t *len) DX_MUST_CHECK;
int metrics_render_status_html(struct metrics *m, uint64_t now_ms, char **out,
			       size_t *len) DX_MUST_CHECK;
int metrics_render_status_text(struct metrics *m, uint64_t now_ms, char **out,
			       size_t *len) DX_MUST_CHECK;
int metrics_render_status_json(struct metrics *m, uint64_t now_ms, char **out,
			       size_t *len) DX_MUST_CHECK;

#endif
