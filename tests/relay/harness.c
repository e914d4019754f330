/*
 * harness.c: see harness.h.
 */
#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "roster.h"
#include "signer.h"
#include "testlib.h"

#define CANARY "canary-7f3a9c: forty rifles, serials 4471-4510"

struct relay_harness H;

const char *rh_relay_bin(void)
{
	return built("daemon/relay/divex-relay");
}

static struct keys *rh_make_state(const char *state, uint8_t fill)
{
	uint8_t seed[32];
	struct keys *k = NULL;
	memset(seed, fill, sizeof(seed));
	assert_dx_ok(keys_generate(state, dx_now_ms() - 1000, KEYS_PREKEY_PERIOD_MS, seed, &k));
	return k;
}

static void rh_enroll(const struct keys *k, const char *status)
{
	uint8_t *entry = NULL;
	size_t len;
	char path[1100];
	assert_dx_ok(roster_entry_build(k, keys_state(k), NULL, 0, dx_now_ms(), &entry, &len));
	snprintf(path, sizeof(path), "%s/%s.dxe", test_tmpdir(), keys_state(k));
	test_write_file(path, entry, len);
	free(entry);
	char *argv[] = { (char *)rh_relay_bin(), "admit", "--home", H.home, "--status", (char *)status,
			 path, NULL };
	assert_int_equal(proc_run(H.relay_log, argv), 0);
}

/* The relay listens on H.listen_port, by default 0; clients learn the port from its log. */
static void rh_write_config(void)
{
	char path[1100], text[2048], listen[64], extra[256] = "";
	snprintf(listen, sizeof(listen), "%s://127.0.0.1:%d", H.use_tls ? "tls+tcp" : "tcp",
		 H.listen_port);
	snprintf(path, sizeof(path), "%s/relay.conf", H.home);
	if (H.attachment_retention_s > 0) {
		snprintf(extra, sizeof(extra), "attachment_retention_seconds = %u\n",
			 H.attachment_retention_s);
	}
	if (H.attachment_quota > 0) {
		size_t used = strlen(extra);
		snprintf(extra + used, sizeof(extra) - used, "attachment_quota_bytes = %llu\n",
			 H.attachment_quota);
	}
	snprintf(text, sizeof(text),
		 "[relay]\nname = %s\nlisten = %s\nadmin_listen = 127.0.0.1:0\n"
		 "%s"
		 "[limits]\nmailbox_max_envelopes = %d\nrate_per_second = 10000\n"
		 "rate_burst = 10000\n%s",
		 NAME, listen, H.use_tls ? "[tls]\ncert_file = tls-cert.pem\nkey_file = tls-key.pem\n" : "",
		 H.mailbox_max > 0 ? H.mailbox_max : 40, extra);
	unlink(path);
	test_write_file(path, text, strlen(text));
}

void rh_start_relay(void)
{
	char *argv[] = { (char *)rh_relay_bin(), "run", "--home", H.home, NULL };
	/* The log is shared by every run of this relay: wait for one more line. */
	snprintf(H.relay.log, sizeof(H.relay.log), "%s", H.relay_log);
	int before = proc_log_count(&H.relay, "(bound port ");
	assert_int_equal(proc_start(&H.relay, H.relay_log, argv), 0);
	if (proc_wait_log(&H.relay, "(bound port ", before + 1, 20000) != 0) {
		fail_msg("the relay did not start; see %s", H.relay_log);
	}
	/* After a restart the log holds both lines: take the last port. */
	H.port = (int)proc_log_number_last(&H.relay, "(bound port ");
	assert_true(H.port > 0);
	snprintf(H.url, sizeof(H.url), "%s://127.0.0.1:%d", H.use_tls ? "tls+tcp" : "tcp", H.port);
}

int rh_setup(void **state)
{
	(void)state;
	struct keys_signer *s = NULL;
	snprintf(H.home, sizeof(H.home), "%s/relay-%s", test_tmpdir(), H.use_tls ? "tls" : "tcp");
	snprintf(H.relay_log, sizeof(H.relay_log), "%s.log", H.home);
	char listen[128];
	snprintf(listen, sizeof(listen), "%s://127.0.0.1:0", H.use_tls ? "tls+tcp" : "tcp");
	char *argv[] = { (char *)rh_relay_bin(), "init", "--home", H.home, "--listen", listen,
			 "--name", NAME, NULL };
	assert_int_equal(proc_run(H.relay_log, argv), 0);
	rh_write_config();
	H.fra = rh_make_state("FRA", 1);
	H.mex = rh_make_state("MEX", 2);
	H.bfa = rh_make_state("BFA", 3);
	H.gbr = rh_make_state("GBR", 4);
	rh_enroll(H.fra, "party");
	rh_enroll(H.mex, "party");
	rh_enroll(H.bfa, "signatory");
	char key[1100];
	snprintf(key, sizeof(key), "%s/relay.key", H.home);
	assert_dx_ok(keys_signer_load(key, &s));
	snprintf(H.rid.name, sizeof(H.rid.name), "%s", NAME);
	keys_signer_pk(s, H.rid.pk);
	keys_signer_free(s);
	rh_start_relay();
	return 0;
}

int rh_teardown(void **state)
{
	(void)state;
	int rc = proc_stop(&H.relay, SIGTERM, 20000);
	keys_free(H.fra);
	keys_free(H.mex);
	keys_free(H.bfa);
	keys_free(H.gbr);
	return rc == 0 ? 0 : -1; /* SIGTERM must drain and exit 0 */
}

void rh_open_client(struct tclient *c, const struct keys *k)
{
	char ca[1100];
	snprintf(ca, sizeof(ca), "%s/tls-cert.pem", H.home);
	assert_int_equal(tclient_open(c, H.url, k, H.use_tls ? ca : NULL), 0);
}

uint8_t *rh_seal_for(const struct keys *from, const struct keys *to, const char *text,
			 size_t *len, struct envelope_info *info)
{
	return rh_seal_naming(from, to, text, NULL, 0, len, info);
}

uint8_t *rh_seal_naming(const struct keys *from, const struct keys *to, const char *text,
			const uint8_t (*ids)[16], size_t n_ids, size_t *len,
			struct envelope_info *info)
{
	struct seal_peer peer;
	memset(&peer, 0, sizeof(peer));
	memcpy(peer.state, keys_state(to), 4);
	keys_identity_pk(to, peer.identity_pk);
	keys_static_pk(to, peer.static_pk);
	memcpy(peer.prekey_pk, keys_prekey_current(to, dx_now_ms())->pk, 32);
	struct seal_params p = {
		.sender = from, .recipient = &peer, .sequence = 1, .created_ms = dx_now_ms(),
		.body = (const uint8_t *)text, .body_len = strlen(text),
		.attachment_ids = ids, .n_attachment_ids = n_ids,
	};
	uint8_t *env = NULL, id[16];
	assert_dx_ok(seal_envelope(&p, &env, len, id, NULL));
	assert_dx_ok(envelope_parse(env, *len, info));
	return env;
}

Dx__RelayResponse *rh_call(struct tclient *c, Dx__RequestBody *b, int want)
{
	Dx__RelayResponse *r = NULL;
	assert_dx_ok(tclient_call(c, b, &r));
	if (r->status != want) {
		fail_msg("relay answered %s (%s), want %s", dx_errname(r->status), r->message,
			 dx_errname(want));
	}
	return r;
}

const char *rh_stream_file(const uint8_t id[16])
{
	char name[40];
	dx_hex(name, id, 16);
	return test_path(test_path(H.home, "attachments"), name);
}

Dx__RelayResponse *rh_upload(struct tclient *c, const uint8_t id[16], uint64_t off,
			     const uint8_t *data, size_t n, uint64_t total, int want)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__UploadOp u = DX__UPLOAD_OP__INIT;
	u.attachment_id = (ProtobufCBinaryData){ 16, (uint8_t *)id };
	u.offset = off;
	u.data = (ProtobufCBinaryData){ n, (uint8_t *)data };
	u.total_size = total;
	b.op_case = DX__REQUEST_BODY__OP_UPLOAD;
	b.upload = &u;
	return rh_call(c, &b, want);
}

Dx__RelayResponse *rh_submit(struct tclient *c, const uint8_t *env, size_t len, int want)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__SubmitOp s = DX__SUBMIT_OP__INIT;
	s.envelope = (ProtobufCBinaryData){ len, (uint8_t *)env };
	b.op_case = DX__REQUEST_BODY__OP_SUBMIT;
	b.submit = &s;
	return rh_call(c, &b, want);
}

void rh_check_accepted_receipt(const Dx__RelayResponse *r, const struct envelope_info *e)
{
	uint8_t leaf[RELAY_LEAF_MAX];
	assert_non_null(r->receipt);
	assert_int_equal(r->receipt->salt.len, RELAY_SALT_LEN);
	size_t n = relay_leaf_accepted(leaf, e->digest, e->sender, e->recipient,
				       r->receipt->salt.data, r->receipt->time_ms);
	assert_dx_ok(relay_receipt_verify(r->receipt, leaf, n, &H.rid, NULL));
	/* The same receipt does not prove another envelope. */
	leaf[30] ^= 1;
	assert_true(relay_receipt_verify(r->receipt, leaf, n, &H.rid, NULL) != DX_OK);
}

Dx__RelayResponse *rh_list(struct tclient *c, uint32_t wait_ms)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__ListOp l = DX__LIST_OP__INIT;
	l.wait_ms = wait_ms;
	b.op_case = DX__REQUEST_BODY__OP_LIST;
	b.list = &l;
	return rh_call(c, &b, DX_OK);
}

Dx__RelayResponse *rh_fetch_or_ack(struct tclient *c, int ack, const uint8_t digest[32],
				       int want, uint8_t **raw, size_t *raw_len)
{
	Dx__RequestBody b = DX__REQUEST_BODY__INIT;
	Dx__FetchOp f = DX__FETCH_OP__INIT;
	Dx__AckOp a = DX__ACK_OP__INIT;
	if (ack) {
		a.digest = (ProtobufCBinaryData){ 32, (uint8_t *)digest };
		b.op_case = DX__REQUEST_BODY__OP_ACK;
		b.ack = &a;
	} else {
		f.digest = (ProtobufCBinaryData){ 32, (uint8_t *)digest };
		b.op_case = DX__REQUEST_BODY__OP_FETCH;
		b.fetch = &f;
	}
	Dx__RelayResponse *r = NULL;
	assert_dx_ok(tclient_sign(c, &b, raw, raw_len));
	assert_dx_ok(tclient_call_raw(c, *raw, *raw_len, &r));
	if (r->status != want) {
		fail_msg("relay answered %s, want %s", dx_errname(r->status), dx_errname(want));
	}
	return r;
}

int rh_lookup_fra(void *ctx, const char *state, const uint8_t id[KEYS_ID_LEN],
		      struct seal_peer *out)
{
	(void)ctx;
	(void)id;
	if (strcmp(state, "FRA") != 0) {
		return DX_ESENDER;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->state, "FRA", 4);
	keys_identity_pk(H.fra, out->identity_pk);
	keys_static_pk(H.fra, out->static_pk);
	return DX_OK;
}

void rh_admin_cmd(const char *verb, const char *st)
{
	char *argv[] = { (char *)rh_relay_bin(), (char *)verb, "--home", H.home, (char *)st, NULL };
	assert_int_equal(proc_run(H.relay_log, argv), 0);
}


void rh_rewrite_config(int mailbox_max)
{
	H.mailbox_max = mailbox_max;
	rh_write_config();
}

void rh_restart_same_port(void)
{
	assert_int_equal(proc_stop(&H.relay, SIGTERM, 20000), 0);
	H.listen_port = H.port;
	rh_write_config();
	rh_start_relay();
	H.listen_port = 0;
	rh_write_config();
}
