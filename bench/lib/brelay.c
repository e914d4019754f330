/*
 * brelay.c: see brelay.h.
 */
#define _XOPEN_SOURCE 700
#include "brelay.h"

#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "roster.h"
#include "signer.h"

static const char *relay_bin(void)
{
	return built("daemon/relay/divex-relay");
}

static int write_text(const char *path, const char *text)
{
	unlink(path);
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		return DX_EIO;
	}
	int ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok ? DX_OK : DX_EIO;
}

static int write_config(struct brelay *r, const struct brelay_opts *o)
{
	char path[1100], text[2048], extra[256] = "";
	int n = 0;
	if (o->group_commit_max > 0) {
		n += snprintf(extra + n, sizeof(extra) - (size_t)n, "group_commit_max = %u\n",
			      o->group_commit_max);
	}
	if (o->longpoll_max_ms > 0) {
		snprintf(extra + n, sizeof(extra) - (size_t)n, "longpoll_max_ms = %u\n",
			 o->longpoll_max_ms);
	}
	snprintf(path, sizeof(path), "%s/relay.conf", r->home);
	snprintf(text, sizeof(text),
		 "[relay]\nname = %s\nlisten = %s://127.0.0.1:0\nadmin_listen = 127.0.0.1:0\n"
		 "log_level = warn\n%s"
		 "[limits]\nmailbox_max_envelopes = 10000000\nmailbox_max_bytes = 1 TiB\n"
		 "attachment_quota_bytes = 64 GiB\n"
		 "rate_per_second = 1000000\nrate_burst = 10000000\ncontexts = %u\n%s",
		 BRELAY_NAME, o->tls ? "tls+tcp" : "tcp",
		 o->tls ? "[tls]\ncert_file = tls-cert.pem\nkey_file = tls-key.pem\n" : "",
		 o->contexts > 0 ? o->contexts : 256, extra);
	return write_text(path, text);
}

static int load_identity(struct brelay *r)
{
	struct keys_signer *s = NULL;
	char key[1100];
	snprintf(key, sizeof(key), "%s/relay.key", r->home);
	int rc = keys_signer_load(key, &s);
	if (rc != DX_OK) {
		return rc;
	}
	snprintf(r->rid.name, sizeof(r->rid.name), "%s", BRELAY_NAME);
	keys_signer_pk(s, r->rid.pk);
	keys_signer_free(s);
	return DX_OK;
}

int brelay_init(struct brelay *r, const struct brelay_opts *o)
{
	static unsigned seq;
	char listen[64];
	memset(r, 0, sizeof(*r));
	r->tls = o->tls;
	if (o->home != NULL) {
		snprintf(r->home, sizeof(r->home), "%s", o->home);
	} else {
		snprintf(r->home, sizeof(r->home), "%s/relay-%u-%s", bench_tmpdir(), seq++,
			 o->tls ? "tls" : "tcp");
	}
	snprintf(r->log, sizeof(r->log), "%s.log", r->home);
	snprintf(r->ca, sizeof(r->ca), "%s/tls-cert.pem", r->home);
	snprintf(r->db, sizeof(r->db), "%s/relay.db", r->home);
	if (!o->keep_home) {
		snprintf(listen, sizeof(listen), "%s://127.0.0.1:0", o->tls ? "tls+tcp" : "tcp");
		char *argv[] = { (char *)relay_bin(), "init",	   "--home", r->home,
				 "--listen",	      listen,	   "--name", BRELAY_NAME,
				 "--hostname",	      "127.0.0.1", NULL };
		if (proc_run(r->log, argv) != 0) {
			fprintf(stderr, "bench: divex-relay init failed; see %s\n", r->log);
			return DX_EIO;
		}
	}
	int rc = write_config(r, o);
	return rc != DX_OK ? rc : load_identity(r);
}

int brelay_admit(struct brelay *r, const struct keys *k, const char *status)
{
	uint8_t *entry = NULL;
	size_t len;
	char path[1100];
	int rc = roster_entry_build(k, keys_state(k), NULL, 0, dx_now_ms(), &entry, &len);
	if (rc != DX_OK) {
		return rc;
	}
	snprintf(path, sizeof(path), "%s-%s.dxe", r->home, keys_state(k));
	FILE *f = fopen(path, "wb");
	rc = f != NULL && fwrite(entry, 1, len, f) == len ? DX_OK : DX_EIO;
	if (f != NULL && fclose(f) != 0) {
		rc = DX_EIO;
	}
	free(entry);
	if (rc != DX_OK) {
		return rc;
	}
	char *argv[] = { (char *)relay_bin(), "admit",	      "--home", r->home,
			 "--status",	      (char *)status, path,	NULL };
	return proc_run(r->log, argv) == 0 ? DX_OK : DX_EIO;
}

int brelay_start(struct brelay *r)
{
	char *argv[] = { (char *)relay_bin(), "run", "--home", r->home, NULL };
	snprintf(r->proc.log, sizeof(r->proc.log), "%s", r->log);
	int before = proc_log_count(&r->proc, "(bound port ");
	if (proc_start(&r->proc, r->log, argv) != 0 ||
	    proc_wait_log(&r->proc, "(bound port ", before + 1, 600000) != 0) {
		fprintf(stderr, "bench: the relay did not start; see %s\n", r->log);
		return DX_EIO;
	}
	r->port = (int)proc_log_number_last(&r->proc, "(bound port ");
	snprintf(r->url, sizeof(r->url), "%s://127.0.0.1:%d", r->tls ? "tls+tcp" : "tcp", r->port);
	r->running = 1;
	return r->port > 0 ? DX_OK : DX_EIO;
}

int brelay_stop(struct brelay *r)
{
	if (!r->running) {
		return DX_OK;
	}
	r->running = 0;
	uint64_t t0 = bench_now_ns();
	int st = proc_stop(&r->proc, SIGTERM, 60000);
	if (st != 0) {
		fprintf(stderr, "bench: the relay %s after SIGTERM (%.1f s); see %s\n",
			st < 0 ? "did not exit within 60 s and was killed"
			       : "exited with a failure",
			(double)(bench_now_ns() - t0) / 1e9, r->log);
	}
	return st == 0 ? DX_OK : DX_EIO;
}

struct relay_client_config brelay_client_config(const struct brelay *r, const struct keys *k,
						unsigned contexts)
{
	struct relay_client_config cfg = {
		.url = r->url,
		.tls_ca_file = r->tls ? r->ca : NULL,
		.tls_server_name = r->tls ? "127.0.0.1" : NULL,
		.keys = k,
		.relay = r->rid,
		.contexts = contexts,
		.timeout_ms = 120000,
		.resend_ms = 100000,
	};
	return cfg;
}

void bench_state_code(uint32_t n, char out[static 4])
{
	out[0] = (char)('A' + n / 676 % 26);
	out[1] = (char)('A' + n / 26 % 26);
	out[2] = (char)('A' + n % 26);
	out[3] = '\0';
}

struct keys *bench_state(const char *code, uint32_t n)
{
	uint8_t seed[32];
	struct keys *k = NULL;
	crypto_generichash(seed, sizeof(seed), (const uint8_t *)code, 3, (const uint8_t *)&n,
			   sizeof(n));
	BENCH_CHECK(keys_generate(code, dx_now_ms() - 1000, KEYS_PREKEY_PERIOD_MS, seed, &k));
	sodium_memzero(seed, sizeof(seed));
	return k;
}

void bench_peer(const struct keys *k, struct seal_peer *out)
{
	memset(out, 0, sizeof(*out));
	memcpy(out->state, keys_state(k), DX_STATE_LEN + 1);
	keys_identity_pk(k, out->identity_pk);
	keys_static_pk(k, out->static_pk);
	memcpy(out->prekey_pk, keys_prekey_current(k, dx_now_ms())->pk, KEYS_DH_PK_LEN);
}

uint8_t *bench_seal(const struct keys *from, const struct seal_peer *to, const uint8_t *body,
		    size_t body_len, const uint8_t (*attachment_ids)[16], size_t n_attachments,
		    size_t *len, struct envelope_info *info)
{
	struct seal_params p = {
		.sender = from,
		.recipient = to,
		.sequence = 1,
		.created_ms = dx_now_ms(),
		.attachment_ids = attachment_ids,
		.n_attachment_ids = n_attachments,
		.body = body,
		.body_len = body_len,
	};
	uint8_t *env = NULL, id[ENVELOPE_ID_LEN];
	BENCH_CHECK(seal_envelope(&p, &env, len, id, NULL));
	if (info != NULL) {
		BENCH_CHECK(envelope_parse(env, *len, info));
	}
	return env;
}

size_t bench_body_for_envelope(const struct keys *from, const struct seal_peer *to, size_t target)
{
	uint8_t body[1] = { 0 };
	size_t len;
	uint8_t *env = bench_seal(from, to, body, sizeof(body), NULL, 0, &len, NULL);
	free(env);
	size_t overhead = len - sizeof(body);
	return target > overhead ? target - overhead : 1;
}

int brelay_fresh(struct brelay *r, const struct brelay_opts *o, struct keys *const *states,
		 size_t n)
{
	int rc = brelay_init(r, o);
	for (size_t i = 0; rc == DX_OK && i < n; i++) {
		rc = brelay_admit(r, states[i], "party");
	}
	return rc != DX_OK ? rc : brelay_start(r);
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

void brelay_discard(struct brelay *r)
{
	if (r->running && brelay_stop(r) != DX_OK) {
		return; /* kept for a look, with its log */
	}
	nftw(r->home, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
