/*
 * fuzz_relay_answer: a State node's relay client (daemon/node/relay_client*.c)
 * on answers a hostile relay chose. The relay is not trusted by a node:
 * every answer is decoded strictly and every receipt, proof, mail list,
 * roster page, download and statement is checked before the node uses it.
 *
 * The client runs for real, through its public operations, but over a
 * stand-in for the nng bridge (bridge_client_open, _request and _close are
 * defined here, so the linker never pulls daemon/core/bridge_client.c): each
 * request the client sends is queued, and the harness answers it with bytes
 * of its choosing by calling the reply callback as the bridge would. The
 * random numbers are made deterministic (randombytes_set_implementation,
 * reset for every input) so that request ids, and therefore the seeds, are
 * the same on every run.
 *
 * Input: op (1 byte: which operation), flags (1 byte), three tree
 * parameters, then the answers.
 *   flags & 1: the client is seeded with a checkpoint of the first S0 leaves
 *     first, so that a larger checkpoint in an answer makes it ask for a
 *     consistency proof (a second request, answered from the input too);
 *   flags & 2: "built" mode: the harness answers every request correctly
 *     (a tree in which the leaf the request makes is included, a checkpoint
 *     signed with the relay's fixed key, the true proofs) and the rest of the
 *     input is a list of edits (answer number, be16 offset, xor byte) applied
 *     to the packed answers. With no edits every operation must succeed and
 *     no alarm may be raised;
 *   otherwise the rest is a list of answers, each a be16 length then that
 *     many bytes; a length of 0xffff stands for a timeout, 0xfffe for a
 *     closed link;
 *   flags & 4: the client's session handshake is accepted (built mode: a
 *     session the relay's key signs, after which requests are MACed) or
 *     answered from the input (raw mode); otherwise it is refused.
 * Every callback must come exactly once, with one of the documented codes,
 * and what a successful callback hands on must hold what the header
 * promises (a receipt that decodes strictly, at most 256 mail items with
 * State codes, a download within max, the fetched envelope asked for).
 *
 * The honest answers are built in relay_answer_build.c.
 *
 * With DIVEX_REGEN_CORPUS=DIR the harness writes its seeds (every operation
 * in built mode, with and without a seeded checkpoint, and the same answers
 * in raw mode) into DIR and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "canon.h"
#include "relay_answer_build.h"
#include "relay_client.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_ANSWERS 6
#define QUEUE_MAX 16

/* ---- deterministic randomness ---- */

static uint64_t rng_state;

static uint64_t rng_next(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static const char *rng_name(void)
{
	return "fuzz";
}

static uint32_t rng_random(void)
{
	return (uint32_t)rng_next();
}

static void rng_buf(void *buf, size_t n)
{
	uint8_t *p = buf;
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = rng_next();
		memcpy(p + i, &v, n - i < 8 ? n - i : 8);
	}
}

static randombytes_implementation RNG = {
	.implementation_name = rng_name,
	.random = rng_random,
	.buf = rng_buf,
};

/* ---- the bridge, stood in for ---- */

struct bridge_client {
	int open;
};

struct pending {
	bridge_reply_fn fn;
	void *arg;
	uint8_t *data;
	size_t len;
};

static struct bridge_client the_bridge;
static struct pending queue[QUEUE_MAX];
static size_t n_queue;

int bridge_client_open(uv_loop_t *loop, const struct bridge_client_config *cfg,
		       struct bridge_client **out)
{
	(void)loop;
	if (cfg->recv_max == 0 || cfg->send_max == 0) {
		abort();
	}
	the_bridge.open = 1;
	*out = &the_bridge;
	return DX_OK;
}

int bridge_client_request(struct bridge_client *c, const uint8_t *data, size_t len,
			  bridge_reply_fn fn, void *arg)
{
	if (!c->open) {
		return DX_ECLOSED;
	}
	if (fn == NULL || len > RELAY_REQUEST_MAX) {
		abort();
	}
	if (n_queue == QUEUE_MAX) {
		return DX_ENOMEM;
	}
	uint8_t *copy = malloc(len);
	if (copy == NULL) {
		return DX_ENOMEM;
	}
	memcpy(copy, data, len);
	queue[n_queue++] = (struct pending){ fn, arg, copy, len };
	return DX_OK;
}

static struct pending pop(void)
{
	struct pending p = queue[0];
	memmove(queue, queue + 1, (n_queue - 1) * sizeof(queue[0]));
	n_queue--;
	return p;
}

void bridge_client_close(struct bridge_client *c, void (*done)(void *arg), void *arg)
{
	c->open = 0;
	while (n_queue > 0) {
		struct pending p = pop();
		p.fn(p.arg, DX_ECLOSED, NULL, 0);
		free(p.data);
	}
	if (done != NULL) {
		done(arg);
	}
}

/* ---- operations and their callbacks ---- */

enum op {
	OP_SUBMIT,
	OP_LIST,
	OP_FETCH,
	OP_ACK,
	OP_ROSTER,
	OP_PUBLISH,
	OP_UPLOAD,
	OP_DOWNLOAD,
	OP_SYNC,
	OP_STATEMENTS,
	OP_CONSISTENCY,
	OP_PROVE,
	N_OPS,
};

#define DOWNLOAD_MAX 300

struct run {
	int calls, rc;
	int alarms;
};

/*
 * A callback reports 0 or a negative code; the relay's own refusal codes are
 * passed on as they came, so any negative one is possible.
 */
static void check_rc(int rc)
{
	if (rc > 0) {
		abort();
	}
}

static void seen(struct run *r, int rc)
{
	check_rc(rc);
	r->calls++;
	r->rc = rc;
}

static void check_receipt(const struct relay_receipt_info *ri, int with_salt)
{
	ProtobufCMessage *m = NULL;
	if (ri == NULL || ri->receipt_len == 0 || (with_salt && ri->salt == NULL) ||
	    proto_unpack_strict(&dx__receipt__descriptor, ri->receipt, ri->receipt_len,
				RELAY_RESPONSE_MAX, &m) != DX_OK) {
		abort();
	}
	protobuf_c_message_free_unpacked(m, NULL);
}

static void on_receipt(void *arg, int rc, const struct relay_receipt_info *ri)
{
	seen(arg, rc);
	if (rc == DX_OK) {
		check_receipt(ri, 0);
	} else if (ri != NULL) {
		abort();
	}
}

static void on_list(void *arg, int rc, const struct relay_mail *mail, size_t n)
{
	seen(arg, rc);
	if (rc != DX_OK && (mail != NULL || n != 0)) {
		abort();
	}
	if (n > RELAY_CLIENT_LIST_MAX) {
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		if (!dx_state_valid(mail[i].sender)) {
			abort();
		}
	}
}

static void on_fetch(void *arg, int rc, const uint8_t *env, size_t len,
		     const struct relay_receipt_info *ri)
{
	struct envelope_info e;
	seen(arg, rc);
	if (rc != DX_OK) {
		if (env != NULL || ri != NULL) {
			abort();
		}
		return;
	}
	check_receipt(ri, 1);
	if (envelope_parse(env, len, &e) != DX_OK ||
	    memcmp(e.digest, ra_info_in.digest, ENVELOPE_HASH_LEN) != 0 ||
	    strcmp(e.recipient, "FRA") != 0) {
		abort();
	}
}

static void on_roster(void *arg, int rc, const struct relay_roster_item *items, size_t n, int more)
{
	seen(arg, rc);
	if (rc != DX_OK && (items != NULL || n != 0 || more)) {
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		/* The node verifies each entry itself (fuzz_roster); here it is only read. */
		volatile uint8_t x = items[i].entry_len > 0 ? items[i].signed_entry[0] : 0;
		(void)x;
	}
}

static void on_upload(void *arg, int rc, uint64_t received)
{
	seen(arg, rc);
	(void)received;
}

static void on_download(void *arg, int rc, const uint8_t *data, size_t len, uint64_t total)
{
	seen(arg, rc);
	(void)total;
	if (len > DOWNLOAD_MAX || (rc != DX_OK && (data != NULL || len != 0))) {
		abort();
	}
	for (size_t i = 0; i < len; i++) {
		volatile uint8_t x = data[i];
		(void)x;
	}
}

static void on_done(void *arg, int rc)
{
	seen(arg, rc);
}

static void on_statements(void *arg, int rc, const struct relay_statement *s, size_t n,
			  const char *cp, size_t cp_len, uint64_t cp_size)
{
	seen(arg, rc);
	(void)cp_size;
	if (rc != DX_OK) {
		return;
	}
	if (n > RELAY_STATEMENTS_MAX || cp == NULL || cp_len == 0) {
		abort();
	}
	for (size_t i = 0; i < n; i++) {
		ProtobufCMessage *m = NULL;
		if (proto_unpack_strict(&dx__receipt__descriptor, s[i].receipt, s[i].receipt_len,
					RELAY_RESPONSE_MAX, &m) != DX_OK) {
			abort();
		}
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

static void on_consistency(void *arg, int rc, const uint8_t (*proof)[MERKLE_HASH_LEN], size_t n)
{
	seen(arg, rc);
	if (n > MERKLE_MAX_PROOF || (rc == DX_OK && n > 0 && proof == NULL)) {
		abort();
	}
}

static void on_prove(void *arg, int rc, const char *given, size_t given_len, const char *current,
		     size_t current_len)
{
	seen(arg, rc);
	/*
	 * A contradiction always comes with both texts; DX_EPROOF comes without
	 * them when the relay's own checkpoint was missing or not signed, as
	 * nothing was proved then. Texts come only with those two codes.
	 */
	int texts = given != NULL && current != NULL && given_len > 0 && current_len > 0;
	if ((rc == DX_ELOG_INCONSISTENT && !texts) ||
	    ((given != NULL || current != NULL) &&
	     (!texts || (rc != DX_EPROOF && rc != DX_ELOG_INCONSISTENT)))) {
		abort();
	}
}

static void on_alarm(void *arg, int code, const char *old_text, size_t old_len,
		     const char *new_text, size_t new_len)
{
	struct run *r = arg;
	if ((code != DX_ELOG_INCONSISTENT && code != DX_EPROOF) || old_text == NULL ||
	    new_text == NULL || old_len == 0 || new_len == 0) {
		abort();
	}
	r->alarms++;
}

static int start(struct relay_client *c, enum op op, struct run *r, const struct ra_tree *t,
		 const char *given, size_t given_len)
{
	switch (op) {
	case OP_SUBMIT:
		return relay_client_submit(c, ra_env_out, ra_env_out_len, on_receipt, r);
	case OP_LIST:
		return relay_client_list(c, 0, RELAY_CLIENT_LIST_MAX, on_list, r);
	case OP_FETCH:
		return relay_client_fetch(c, ra_info_in.digest, on_fetch, r);
	case OP_ACK:
		return relay_client_ack(c, ra_info_in.digest, on_receipt, r);
	case OP_ROSTER:
		return relay_client_roster(c, 0, 8, on_roster, r);
	case OP_PUBLISH:
		return relay_client_publish(c, ra_entry_fra, ra_entry_fra_len, on_receipt, r);
	case OP_UPLOAD:
		return relay_client_upload(c, RA_ATT_ID, 0, RA_SALT, sizeof(RA_SALT),
					   sizeof(RA_SALT), on_upload, r);
	case OP_DOWNLOAD:
		return relay_client_download(c, RA_ATT_ID, ra_info_in.digest, 0, DOWNLOAD_MAX,
					     on_download, r);
	case OP_SYNC:
		return relay_client_sync(c, on_done, r);
	case OP_STATEMENTS:
		return relay_client_statements(c, ra_info_in.digest, on_statements, r);
	case OP_CONSISTENCY:
		return relay_client_consistency(c, t->s0 > 0 ? t->s0 : 1, t->n, on_consistency, r);
	default:
		return relay_client_prove(c, (const uint8_t *)given, given_len, on_prove, r);
	}
}

/* ---- one input ---- */

struct input {
	enum op op;
	int seeded, built, sessions;
	const uint8_t *rest;
	size_t rest_len;
};

/* Answers recorded while regenerating the corpus. */
static int recording;
static uint8_t *recorded[MAX_ANSWERS];
static size_t recorded_len[MAX_ANSWERS], n_recorded;

static void apply_edits(const struct input *in, size_t answer, uint8_t *buf, size_t len)
{
	for (size_t i = 0; i + 4 <= in->rest_len && len > 0; i += 4) {
		const uint8_t *e = in->rest + i;
		if (e[0] % MAX_ANSWERS == answer) {
			buf[((size_t)e[1] << 8 | e[2]) % len] ^= e[3];
		}
	}
}

/* Answers the oldest pending request; returns 0 when there is nothing more to answer. */
static int answer_next(const struct input *in, struct ra_tree *t, size_t answer, size_t *off)
{
	if (n_queue == 0) {
		return 0;
	}
	struct pending p = pop();
	/* The client's background session handshake is answered at once and
	 * not counted, so that an input's answers and edits keep addressing
	 * the requests it is about. Without flags & 4 it is refused and the
	 * client signs its requests; with it, built mode agrees a session
	 * (the client then MACs them) and raw mode answers it with the
	 * input's next answer. */
	while (ra_is_session(p.data, p.len)) {
		uint8_t *buf = NULL;
		size_t len = 0;
		if (in->sessions && !in->built && *off + 2 <= in->rest_len) {
			len = (size_t)in->rest[*off] << 8 | in->rest[*off + 1];
			*off += 2;
			len = len > in->rest_len - *off ? in->rest_len - *off : len;
			buf = malloc(len + 1);
			memcpy(buf, in->rest + *off, len);
			*off += len;
		} else {
			ra_build_session_answer(p.data, p.len, in->sessions && in->built, &buf,
						&len);
		}
		p.fn(p.arg, DX_OK, buf, len);
		free(buf);
		free(p.data);
		if (n_queue == 0) {
			return 0;
		}
		p = pop();
	}
	if (in->built) {
		uint8_t *buf = NULL;
		size_t len = 0;
		ra_build_answer(t, p.data, p.len, &buf, &len);
		if (recording && n_recorded < MAX_ANSWERS) {
			recorded[n_recorded] = malloc(len);
			memcpy(recorded[n_recorded], buf, len);
			recorded_len[n_recorded++] = len;
		}
		apply_edits(in, answer, buf, len);
		p.fn(p.arg, DX_OK, buf, len);
		free(buf);
	} else if (*off + 2 <= in->rest_len) {
		size_t len = (size_t)in->rest[*off] << 8 | in->rest[*off + 1];
		*off += 2;
		if (len == 0xffff || len == 0xfffe) {
			p.fn(p.arg, len == 0xffff ? DX_ETIMEDOUT : DX_ECLOSED, NULL, 0);
		} else {
			if (len > in->rest_len - *off) {
				len = in->rest_len - *off;
			}
			/* A copy of exactly len bytes, so that ASan sees any read past it. */
			uint8_t *buf = malloc(len + 1);
			memcpy(buf, in->rest + *off, len);
			*off += len;
			p.fn(p.arg, DX_OK, buf, len);
			free(buf);
		}
	} else {
		free(p.data);
		p.fn(p.arg, DX_ETIMEDOUT, NULL, 0);
		return 1;
	}
	free(p.data);
	return 1;
}

static void closed(void *arg)
{
	*(int *)arg = 1;
}

static void run_input(const struct input *in, const uint8_t params[3])
{
	struct ra_tree t = { .made = 0 };
	struct run r = { 0, 0, 0 };
	struct relay_client *c = NULL;
	char given[CHECKPOINT_MAX + 1], seed_cp[CHECKPOINT_MAX + 1];
	size_t given_len = 0, off = 0;
	int is_closed = 0;

	t.s0 = params[0] % 16;
	t.n = t.s0 + 1 + params[1] % 24;
	t.target = t.s0 + params[2] % (t.n - t.s0);
	struct relay_client_config cfg = {
		.url = "tcp://127.0.0.1:1",
		.keys = ra_fra,
		.timeout_ms = 30000,
		.on_alarm = on_alarm,
		.cb_arg = &r,
	};
	memcpy(cfg.relay.name, RA_NAME, sizeof(RA_NAME));
	memcpy(cfg.relay.pk, ra_relay_pk, sizeof(ra_relay_pk));
	if (relay_client_open(NULL, &cfg, &c) != DX_OK) {
		abort();
	}
	/* Checkpoints of prefixes that hold only other leaves: the same in every tree. */
	struct ra_tree prefix = { .n = t.s0 + 1, .target = t.s0 + 1 };
	ra_tree_make(&prefix, NULL, NULL, 0);
	if (in->seeded) {
		size_t len = ra_tree_checkpoint(&prefix, t.s0, seed_cp);
		if (relay_client_set_checkpoint(c, (const uint8_t *)seed_cp, len) != DX_OK) {
			abort();
		}
	}
	given_len = ra_tree_checkpoint(&prefix, t.s0 / 2 + 1 <= t.s0 ? t.s0 / 2 + 1 : t.s0, given);
	ra_tree_free(&prefix);
	if (start(c, in->op, &r, &t, given, given_len) != DX_OK) {
		abort();
	}
	for (size_t answer = 0; answer < MAX_ANSWERS; answer++) {
		if (!answer_next(in, &t, answer, &off)) {
			break;
		}
	}
	struct relay_client_stats st;
	relay_client_stats(c, &st);
	relay_client_close(c, closed, &is_closed);
	/* An honest session is agreed, never refused (a fetch or an
	 * acknowledgement is signed and starts no handshake; the
	 * consistency proof a seeded client asks for does). */
	int fetch_ack = in->op == OP_FETCH || in->op == OP_ACK;
	if (in->built && in->sessions && in->rest_len < 4 &&
	    ((fetch_ack ? st.sessions > 1 : st.sessions != 1) || st.session_failures != 0)) {
		fprintf(stderr, "honest session not agreed: %d agreed, %d failed\n",
			(int)st.sessions, (int)st.session_failures);
		abort();
	}
	if (!is_closed || r.calls != 1 || n_queue != 0) {
		abort();
	}
	/* An honest relay: everything succeeds and nothing is alarming. */
	if (in->built && in->rest_len < 4 && (r.rc != DX_OK || r.alarms != 0)) {
		fprintf(stderr, "honest answer refused: op %d rc %s alarms %d\n", (int)in->op,
			dx_errname(r.rc), r.alarms);
		abort();
	}
	ra_tree_free(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 5) {
		return 0;
	}
	struct input in = {
		.op = (enum op)(data[0] % N_OPS),
		.seeded = data[1] & 1,
		.built = (data[1] & 2) != 0,
		.sessions = (data[1] & 4) != 0,
		.rest = data + 5,
		.rest_len = size - 5,
	};
	rng_state = 0x6469766578ull;
	run_input(&in, data + 2);
	return 0;
}

/* ---- the seed corpus ---- */

static void write_seed(const char *dir, const char *name, const uint8_t head[5],
		       const uint8_t *rest, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(head, 1, 5, f) != 5 ||
	    (len > 0 && fwrite(rest, 1, len, f) != len) || fclose(f) != 0) {
		abort();
	}
}

static void regen_corpus(const char *dir)
{
	static const char *const names[N_OPS] = {
		"submit", "list",     "fetch", "ack",	     "roster",	    "publish",
		"upload", "download", "sync",  "statements", "consistency", "prove",
	};
	for (int op = 0; op < N_OPS; op++) {
		for (int seeded = 0; seeded < 2; seeded++) {
			uint8_t head[5] = { (uint8_t)op, (uint8_t)(2 | seeded), 5, 3, 1 };
			char name[64];
			recording = 1;
			n_recorded = 0;
			LLVMFuzzerTestOneInput(head, sizeof(head));
			recording = 0;
			snprintf(name, sizeof(name), "built-%s%s", names[op],
				 seeded ? "-seeded" : "");
			write_seed(dir, name, head, NULL, 0);
			/* The same answers, raw: length-prefixed. */
			size_t total = 0;
			for (size_t i = 0; i < n_recorded; i++) {
				total += 2 + recorded_len[i];
			}
			uint8_t *rest = malloc(total + 1), *p = rest;
			for (size_t i = 0; i < n_recorded; i++) {
				*p++ = (uint8_t)(recorded_len[i] >> 8);
				*p++ = (uint8_t)recorded_len[i];
				memcpy(p, recorded[i], recorded_len[i]);
				p += recorded_len[i];
				free(recorded[i]);
			}
			head[1] = (uint8_t)seeded;
			snprintf(name, sizeof(name), "raw-%s%s", names[op],
				 seeded ? "-seeded" : "");
			write_seed(dir, name, head, rest, total);
			free(rest);
		}
	}
	/* A few edits of a built answer, a timeout, a closed link, garbage. */
	static const uint8_t edit[4] = { 0, 0, 40, 0x01 };
	uint8_t head[5] = { OP_SUBMIT, 3, 5, 3, 1 };
	write_seed(dir, "edit-submit", head, edit, sizeof(edit));
	static const uint8_t timeout[2] = { 0xff, 0xff }, gone[2] = { 0xff, 0xfe };
	head[1] = 0;
	write_seed(dir, "timeout", head, timeout, sizeof(timeout));
	write_seed(dir, "closed", head, gone, sizeof(gone));
	static const uint8_t garbage[6] = { 0x00, 0x04, 0x0a, 0x02, 0xff, 0x00 };
	write_seed(dir, "garbage", head, garbage, sizeof(garbage));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("DIVEX_REGEN_CORPUS");
	(void)argc;
	(void)argv;
	if (randombytes_set_implementation(&RNG) != 0) {
		abort();
	}
	rng_state = 1;
	ra_init();
	if (dir != NULL) {
		regen_corpus(dir);
		exit(0);
	}
	return 0;
}
