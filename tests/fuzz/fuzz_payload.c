/*
 * fuzz_payload: every casework payload a node takes from a peer, as the node
 * and the divex command decode, validate, record and show it.
 *
 * A peer's payload is authenticated (it opened under the peer's keys) but
 * not trusted. The harness runs what happens to an opened body, in order:
 *   1. node_payload_summary(), the listing line divexd stores;
 *   2. the strict Payload decode of node_inbox.c, then the node's casework
 *      dispatch (node_casework_received: notices, notice replies, requests,
 *      responses, consent requests and decisions, concerns, explanations)
 *      on a real node whose stores live in a scratch directory;
 *   3. the divex command's decode and checks (cli_payload_decode,
 *      cli_check_payload_refs) and its display (cli_print_payload, with the
 *      casework content and the case note), in text and in JSON.
 * The first input byte picks what the rest is:
 *   even: a whole Payload body;
 *   odd: byte 1 is a Payload type (1..10, or another number), the rest its
 *     content; the harness wraps it in a Payload (so that the fuzzer spends
 *     its time in the casework decoders, not on the wrapper).
 * Oracles: the summary is one line within NODE_STORE_SUMMARY_MAX bytes
 * without control bytes (divex escapes the rest when it lists it);
 * everything divexd logs about the payload is printable ASCII; everything
 * divex prints in text mode is free of control bytes, C1 controls and
 * bidirectional overrides (peer text must come out escaped); the JSON
 * output parses.
 *
 * The node's stores keep what the handlers record (one row per distinct
 * input at most); they are made afresh every STORE_RESET inputs so that a
 * long campaign does not slow down.
 *
 * With DIVEX_REGEN_CORPUS=DIR the harness writes its seeds (a valid payload
 * of every type, both forms) into DIR and exits.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "cli.h"
#include "concern_store.h"
#include "consent_store.h"
#include "node.h"
#include "notice_store.h"
#include "request_store.h"
#include "roster.h"
#include "wire.pb-c.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define STORE_RESET 20000
#define NOW_MS 1700000000000ull

static char dir[256];
static struct node the_node;
static struct keys *fra, *mex;
static uint8_t *mex_entry;
static size_t mex_entry_len;
static unsigned long runs;
static int out_fd = -1;
static int verbose; /* DIVEX_FUZZ_VERBOSE set: the node's log goes to stderr too */

/* ---- the node ---- */

static void store_paths(char *node_db, char *cases_db, size_t n)
{
	snprintf(node_db, n, "%s/%s", dir, NODE_STORE_FILE);
	snprintf(cases_db, n, "%s/%s", dir, NODE_CASES_FILE);
}

static void stores_close(void)
{
	char a[400], b[400], w[420];
	if (the_node.store != NULL) {
		node_store_close(the_node.store);
		case_store_close(the_node.cases);
		the_node.store = NULL;
		the_node.cases = NULL;
	}
	store_paths(a, b, sizeof(a));
	const char *files[] = { a, b };
	for (size_t i = 0; i < 2; i++) {
		unlink(files[i]);
		snprintf(w, sizeof(w), "%s-wal", files[i]);
		unlink(w);
		snprintf(w, sizeof(w), "%s-shm", files[i]);
		unlink(w);
	}
}

/*
 * What the node already holds, so that a well-formed consent decision from
 * MEX can get all the way: a message MEX sent here (the item), and a consent
 * request this node sent to MEX about it, sealed as REQUEST_ENVELOPE.
 */
static const uint8_t ITEM_DIGEST[NODE_STORE_DIGEST_LEN] = { 0xd1, 0x9e };
static const uint8_t REQUEST_ENVELOPE[16] = { 0x10, 0x20 };

static void history(void)
{
	static const uint8_t body[] = "x", request_id[16] = { 0x77 };
	uint8_t item[CONSENT_ITEM_HASH_LEN], *req = NULL;
	size_t req_len;
	struct node_store_opened so = {
		.sequence = 1,
		.created_ms = NOW_MS,
		.body = body,
		.body_len = sizeof(body),
		.summary = "",
	};
	memcpy(so.digest, ITEM_DIGEST, sizeof(so.digest));
	memset(so.envelope_id, 0xe1, sizeof(so.envelope_id));
	memcpy(so.sender, "MEX", 4);
	consent_item_hash(item, ITEM_DIGEST);
	Dx__ConsentRequest cr = DX__CONSENT_REQUEST__INIT;
	ProtobufCBinaryData items[1] = { { sizeof(item), item } };
	ProtobufCBinaryData ids[1] = { { 16, so.envelope_id } };
	cr.purpose = 1;
	cr.reason = "Prosecution";
	cr.n_item_hashes = 1;
	cr.item_hashes = items;
	cr.n_item_envelope_ids = 1;
	cr.item_envelope_ids = ids;
	if (node_store_inbox_store_opened(the_node.store, &so) != DX_OK ||
	    proto_pack_alloc(&cr.base, &req, &req_len) != DX_OK ||
	    consent_store_request_add(the_node.cases, CONSENT_SENT, request_id, "MEX", req,
				      req_len) != DX_OK ||
	    consent_store_request_set_envelope(the_node.cases, CONSENT_SENT, request_id,
					       REQUEST_ENVELOPE) != DX_OK) {
		abort();
	}
	free(req);
}

static void stores_open(void)
{
	uint8_t key[32];
	char a[400], b[400];
	store_paths(a, b, sizeof(a));
	memset(key, 0x33, sizeof(key));
	if (node_store_open(a, key, &the_node.store) != DX_OK ||
	    case_store_open(b, key, &the_node.cases) != DX_OK) {
		abort();
	}
	/* The tables divexd makes at start-up. */
	if (notice_store_init(the_node.cases) != DX_OK ||
	    request_store_init(the_node.cases) != DX_OK ||
	    concern_store_init(the_node.cases) != DX_OK ||
	    consent_store_init(the_node.cases) != DX_OK) {
		abort();
	}
	/* MEX's entry is pinned, so that its consent decisions can be verified. */
	uint8_t pk[KEYS_SIGN_PK_LEN];
	keys_identity_pk(mex, pk);
	if (node_store_roster_put(the_node.store, "MEX", mex_entry, mex_entry_len, pk,
				  RELAY_STATUS_PARTY, 1) != DX_OK) {
		abort();
	}
	history();
}

static void cleanup(void)
{
	stores_close();
	rmdir(dir);
}

/* ---- the oracles ---- */

/* How much of Unicode a text may hold. */
enum text_kind {
	TEXT_ASCII,    /* a log line: printable ASCII only, the rest escaped */
	TEXT_TERMINAL, /* what divex prints: UTF-8 letters, no C1 or bidi controls */
	TEXT_STORED,   /* a stored summary: only C0 controls and DEL are dropped */
};

/*
 * Text a person or a log reader sees: no C0 control but a newline (and a tab
 * when tabs are allowed), no DEL; for a terminal no C1 control
 * (U+0080..U+009F) and no bidirectional formatting character
 * (U+202A..U+202E, U+2066..U+2069), which divex escapes when it prints.
 */
static void check_text(const uint8_t *s, size_t len, int tabs, enum text_kind kind,
		       const char *what)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t c = s[i];
		int bad = (c < 0x20 && c != '\n' && !(tabs && c == '\t')) || c == 0x7f;
		if (kind == TEXT_ASCII && c > 0x7f) {
			bad = 1;
		}
		if (kind == TEXT_TERMINAL && c == 0xc2 && i + 1 < len && s[i + 1] >= 0x80 &&
		    s[i + 1] <= 0x9f) {
			bad = 1;
		}
		if (kind == TEXT_TERMINAL && c == 0xe2 && i + 2 < len &&
		    ((s[i + 1] == 0x80 && s[i + 2] >= 0xaa && s[i + 2] <= 0xae) ||
		     (s[i + 1] == 0x81 && s[i + 2] >= 0xa6 && s[i + 2] <= 0xa9))) {
			bad = 1;
		}
		if (bad) {
			fprintf(stderr, "%s: raw byte 0x%02x at %zu in:\n%.*s\n", what, c, i,
				(int)len, (const char *)s);
			abort();
		}
	}
}

/* What went to standard output since the last call; the buffer is reset. */
static char *take_stdout(size_t *len)
{
	fflush(stdout);
	off_t end = lseek(out_fd, 0, SEEK_CUR);
	char *buf = malloc((size_t)end + 1);
	if (buf == NULL || pread(out_fd, buf, (size_t)end, 0) != (ssize_t)end) {
		abort();
	}
	buf[end] = '\0';
	*len = (size_t)end;
	if (ftruncate(out_fd, 0) != 0 || lseek(out_fd, 0, SEEK_SET) != 0) {
		abort();
	}
	return buf;
}

/* ---- the pipeline ---- */

static void summary(const uint8_t *body, size_t len)
{
	char *s = node_payload_summary(body, len);
	if (s == NULL) {
		return;
	}
	size_t n = strlen(s);
	if (n > NODE_STORE_SUMMARY_MAX) {
		abort();
	}
	check_text((const uint8_t *)s, n, 0, TEXT_STORED, "summary");
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n') {
			abort();
		}
	}
	free(s);
}

static void node_side(const uint8_t *body, size_t len)
{
	ProtobufCMessage *m = NULL;
	char *log = NULL;
	size_t log_len = 0;
	if (proto_unpack_strict(&dx__payload__descriptor, body, len, ENVELOPE_BODY_MAX, &m) !=
	    DX_OK) {
		return;
	}
	struct node_store_opened so = {
		.sequence = 1,
		.created_ms = NOW_MS,
		.body = body,
		.body_len = len,
		.summary = "",
	};
	/* One envelope id per distinct input, so that each one is recorded once. */
	crypto_generichash(so.envelope_id, ENVELOPE_ID_LEN, body, len, NULL, 0);
	crypto_generichash(so.digest, sizeof(so.digest), so.envelope_id, ENVELOPE_ID_LEN, NULL, 0);
	memcpy(so.sender, "MEX", 4);
	/*
	 * node_log() writes to stderr: point the stream (not the descriptor,
	 * which libFuzzer and the sanitizers use) at a buffer meanwhile.
	 */
	FILE *saved = stderr, *mem = open_memstream(&log, &log_len);
	if (mem == NULL) {
		abort();
	}
	stderr = mem;
	node_casework_received(&the_node, &so, (const Dx__Payload *)m);
	stderr = saved;
	fclose(mem);
	if (verbose) {
		fprintf(stderr, "divexd log:\n%s", log);
	}
	check_text((const uint8_t *)log, log_len, 0, TEXT_ASCII, "divexd log");
	free(log);
	protobuf_c_message_free_unpacked(m, NULL);
}

static void cli_side(const uint8_t *body, size_t len)
{
	struct Dx__Payload *pl = NULL;
	size_t n;
	if (cli_payload_decode(body, len, &pl) != DX_OK) {
		return;
	}
	(void)cli_check_payload_refs(pl);
	for (int json = 0; json < 2; json++) {
		struct cli c = { .json = json, .pass_fd = -1 };
		struct out o;
		out_init(&o, &c);
		cli_print_payload(&o, pl, NULL);
		(void)out_finish(&o, &c);
		char *text = take_stdout(&n);
		if (json) {
			json_error_t err;
			json_t *root = json_loadb(text, n, 0, &err);
			if (root == NULL) {
				fprintf(stderr, "JSON output does not parse: %s\n%s\n", err.text,
					text);
				abort();
			}
			json_decref(root);
		} else {
			check_text((const uint8_t *)text, n, 1, TEXT_TERMINAL, "divex text output");
		}
		free(text);
	}
	cli_payload_free(pl);
}

static void pipeline(const uint8_t *body, size_t len)
{
	summary(body, len);
	node_side(body, len);
	cli_side(body, len);
}

/* Wraps content into a Payload of the given type. */
static uint8_t *wrap(uint32_t type, const uint8_t *content, size_t len, size_t *out_len)
{
	Dx__Payload p = DX__PAYLOAD__INIT;
	Dx__Marking mk = DX__MARKING__INIT;
	uint8_t *out = NULL;
	mk.handling = DX__HANDLING_CODE__H2_NO_DISSEMINATION;
	p.type = type;
	p.case_id = "DX-2024-0001";
	p.subject = "fuzz";
	p.marking = &mk;
	p.content = (ProtobufCBinaryData){ len, (uint8_t *)content };
	return proto_pack_alloc(&p.base, &out, out_len) == DX_OK ? out : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0 || size - 1 > ENVELOPE_BODY_MAX) {
		return 0;
	}
	if (++runs % STORE_RESET == 0) {
		stores_close();
		stores_open();
	}
	if (data[0] % 2 == 0) {
		pipeline(data + 1, size - 1);
		return 0;
	}
	if (size < 2) {
		return 0;
	}
	size_t len;
	uint8_t *body = wrap(data[1], data + 2, size - 2, &len);
	if (body != NULL) {
		pipeline(body, len);
		free(body);
	}
	return 0;
}

/* ---- the seed corpus ---- */

static void write_seed(const char *out, const char *name, const uint8_t *head, size_t head_len,
		       const uint8_t *rest, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", out, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(head, 1, head_len, f) != head_len ||
	    (len > 0 && fwrite(rest, 1, len, f) != len) || fclose(f) != 0) {
		abort();
	}
}

/* A seed in both forms: the content with its type, and the wrapped body. */
static void seed_pair(const char *out, const char *name, uint32_t type, const ProtobufCMessage *m)
{
	uint8_t *content = NULL, *body;
	size_t len = 0, blen;
	char fname[128];
	if (m != NULL && proto_pack_alloc(m, &content, &len) != DX_OK) {
		abort();
	}
	uint8_t head[2] = { 1, (uint8_t)type };
	snprintf(fname, sizeof(fname), "content-%s", name);
	write_seed(out, fname, head, 2, content, len);
	body = wrap(type, content, len, &blen);
	head[0] = 0;
	snprintf(fname, sizeof(fname), "payload-%s", name);
	write_seed(out, fname, head, 1, body, blen);
	free(body);
	free(content);
}

static void regen_corpus(const char *out)
{
	static uint8_t id16[16] = { 0x10, 0x20 }, item[32] = { 0x44 };
	ProtobufCBinaryData items[1] = { { 32, item } }, ids[1] = { { 16, id16 } };

	seed_pair(out, "message", 1, NULL);
	Dx__InformationRequest ir = DX__INFORMATION_REQUEST__INIT;
	Dx__InformationKind kinds[2] = { 1, 2 };
	ir.n_kinds = 2;
	ir.kinds = kinds;
	ir.details = "Serial numbers of the rifles in the shipment";
	ir.respond_by = "2024-03-01";
	seed_pair(out, "request", 3, &ir.base);
	Dx__InformationResponse ia = DX__INFORMATION_RESPONSE__INIT;
	ia.request_envelope_id = (ProtobufCBinaryData){ 16, id16 };
	ia.answer = "Serials 4471-4510.\nSee the attached list.";
	seed_pair(out, "response", 4, &ia.base);
	Dx__Notice nt = DX__NOTICE__INIT;
	nt.meeting_date = "2024-06-10";
	nt.meeting_name = "DIEF plenary";
	nt.summary = "Case DX-2024-0001 will be presented.";
	nt.respond_by = "2024-05-26";
	nt.sent_date = "2024-04-01";
	seed_pair(out, "notice", 5, &nt.base);
	nt.late_reason = "the case was closed late";
	nt.sent_date = "2024-05-20";
	seed_pair(out, "notice-late", 5, &nt.base);
	Dx__NoticeReply nr = DX__NOTICE_REPLY__INIT;
	nr.notice_envelope_id = (ProtobufCBinaryData){ 16, id16 };
	nr.response = "We ask that the serial numbers be left out.";
	seed_pair(out, "notice-reply", 6, &nr.base);
	Dx__ConsentRequest cr = DX__CONSENT_REQUEST__INIT;
	cr.purpose = 1;
	cr.reason = "Prosecution";
	cr.n_item_hashes = 1;
	cr.item_hashes = items;
	cr.n_item_envelope_ids = 1;
	cr.item_envelope_ids = ids;
	seed_pair(out, "consent-request", 7, &cr.base);

	/* A decision MEX really signed (the node has MEX's entry pinned). */
	Dx__ConsentStatement cs = DX__CONSENT_STATEMENT__INIT;
	uint8_t *stmt = NULL, sig[KEYS_SIG_LEN];
	size_t slen;
	cs.provider = "MEX";
	cs.recipient = "FRA";
	uint8_t real_item[CONSENT_ITEM_HASH_LEN];
	ProtobufCBinaryData real_items[1] = { { sizeof(real_item), real_item } };
	consent_item_hash(real_item, ITEM_DIGEST);
	cs.request_envelope_id = (ProtobufCBinaryData){ 16, (uint8_t *)REQUEST_ENVELOPE };
	cs.purpose = 1;
	cs.outcome = 1;
	cs.n_item_hashes = 1;
	cs.item_hashes = real_items;
	cs.decided_ms = NOW_MS;
	if (proto_pack_alloc(&cs.base, &stmt, &slen) != DX_OK) {
		abort();
	}
	static const char label[] = "divex/v1/consent";
	uint8_t *msg = malloc(sizeof(label) + slen);
	memcpy(msg, label, sizeof(label));
	memcpy(msg + sizeof(label), stmt, slen);
	keys_sign(mex, sig, msg, sizeof(label) + slen);
	free(msg);
	Dx__ConsentDecision cd = DX__CONSENT_DECISION__INIT;
	cd.statement = (ProtobufCBinaryData){ slen, stmt };
	cd.signature = (ProtobufCBinaryData){ KEYS_SIG_LEN, sig };
	seed_pair(out, "consent-decision", 8, &cd.base);
	free(stmt);

	Dx__DisclosureConcern dc = DX__DISCLOSURE_CONCERN__INIT;
	dc.envelope_id = (ProtobufCBinaryData){ 16, id16 };
	dc.description = "Our notice appeared in the press on 3 May.";
	seed_pair(out, "concern", 9, &dc.base);
	Dx__DisclosureExplanation de = DX__DISCLOSURE_EXPLANATION__INIT;
	de.concern_envelope_id = (ProtobufCBinaryData){ 16, id16 };
	de.explanation = "A court ordered it.";
	de.remedial_measures = "None needed.";
	seed_pair(out, "explanation", 10, &de.base);

	/* Hostile text: escapes, bidirectional overrides, C1 controls. */
	static const char hostile[] = "\x1b[2J\xe2\x80\xae\xc2\x9b"
				      "evil\r\n";
	nt.meeting_name = (char *)hostile;
	nt.summary = (char *)hostile;
	nt.late_reason = (char *)hostile;
	seed_pair(out, "notice-hostile", 5, &nt.base);
	Dx__Payload p = DX__PAYLOAD__INIT;
	Dx__Marking mk = DX__MARKING__INIT;
	mk.handling = DX__HANDLING_CODE__H3_OTHER_RESTRICTIONS;
	mk.restrictions = (char *)hostile;
	p.type = 1;
	p.case_id = (char *)hostile;
	p.subject = (char *)hostile;
	p.text = (char *)hostile;
	p.copy_for = (char *)hostile;
	p.copy_count = 2;
	p.copy_number = 1;
	p.marking = &mk;
	uint8_t *body = NULL;
	size_t blen;
	if (proto_pack_alloc(&p.base, &body, &blen) != DX_OK) {
		abort();
	}
	uint8_t head[1] = { 0 };
	write_seed(out, "payload-hostile", head, 1, body, blen);
	free(body);
	write_seed(out, "empty", head, 1, NULL, 0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	const char *regen = getenv("DIVEX_REGEN_CORPUS");
	uint8_t seed[32];
	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		abort();
	}
	memset(seed, 0x01, sizeof(seed));
	if (keys_generate("FRA", NOW_MS - 1000, KEYS_PREKEY_PERIOD_MS, seed, &fra) != DX_OK) {
		abort();
	}
	memset(seed, 0x02, sizeof(seed));
	if (keys_generate("MEX", NOW_MS - 1000, KEYS_PREKEY_PERIOD_MS, seed, &mex) != DX_OK ||
	    roster_entry_build(mex, "MEX", NULL, 0, NOW_MS, &mex_entry, &mex_entry_len) != DX_OK) {
		abort();
	}
	if (regen != NULL) {
		regen_corpus(regen);
		exit(0);
	}
	snprintf(dir, sizeof(dir), "%s/divex-fuzz-payload.XXXXXX", base);
	if (mkdtemp(dir) == NULL) {
		abort();
	}
	atexit(cleanup);
	verbose = getenv("DIVEX_FUZZ_VERBOSE") != NULL;
	memset(&the_node, 0, sizeof(the_node));
	the_node.keys = fra;
	the_node.cfg.log_level = NODE_LOG_DEBUG;
	memcpy(the_node.cfg.state, "FRA", 4);
	stores_open();
	/* divex prints to standard output: into memory, to be checked. */
	out_fd = memfd_create("divex-stdout", MFD_CLOEXEC);
	if (out_fd < 0 || dup2(out_fd, STDOUT_FILENO) < 0) {
		abort();
	}
	return 0;
}
