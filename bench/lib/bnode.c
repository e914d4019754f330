/*
 * bnode.c: see bnode.h.
 */
#include "bnode.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <nng/protocol/reqrep0/req.h>

#include "bench.h"
#include "canon.h"

#define CTL_MAX (1024 * 1024 + 4096)

static int write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");
	if (f == NULL) {
		return DX_EIO;
	}
	int ok = fputs(text, f) >= 0;
	ok = fclose(f) == 0 && ok;
	return ok && chmod(path, mode) == 0 ? DX_OK : DX_EIO;
}

/* Adds the benchmark's timings to [relay] in the divexd.conf that init wrote. */
static int tune_config(const struct bnode *n, unsigned roster_sync_ms)
{
	char path[1300], *text = malloc(65536), *out = malloc(65536 + 256);
	int rc = DX_EIO;
	snprintf(path, sizeof(path), "%s/divexd.conf", n->home);
	FILE *f = fopen(path, "r");
	if (f != NULL && text != NULL && out != NULL) {
		size_t len = fread(text, 1, 65535, f);
		text[len] = '\0';
		const char *at = strstr(text, "[relay]\n");
		if (at != NULL) {
			size_t head = (size_t)(at - text) + strlen("[relay]\n");
			snprintf(out, 65536 + 256, "%.*sroster_sync_ms = %u\n%s", (int)head, text,
				 roster_sync_ms, text + head);
			rc = DX_OK;
		}
	}
	if (f != NULL) {
		fclose(f);
	}
	if (rc == DX_OK) {
		rc = write_file(path, out, 0600);
	}
	free(text);
	free(out);
	return rc;
}

int bnode_init(struct bnode *n, const struct brelay *r, const char *dir, const char *code,
	       unsigned roster_sync_ms)
{
	char key[80], entry[1300];
	memset(n, 0, sizeof(*n));
	snprintf(n->code, sizeof(n->code), "%s", code);
	snprintf(n->home, sizeof(n->home), "%s/%s", dir, code);
	snprintf(n->log, sizeof(n->log), "%s/%s.log", dir, code);
	snprintf(n->pass, sizeof(n->pass), "%s/%s.pass", dir, code);
	int rc = write_file(n->pass, "benchmark passphrase\n", 0600);
	if (rc != DX_OK) {
		return rc;
	}
	dx_hex(key, r->rid.pk, KEYS_SIGN_PK_LEN);
	char *argv[] = { (char *)built("cli/divex"),
			 "--home",
			 n->home,
			 "init",
			 "--state",
			 n->code,
			 "--kdf",
			 "interactive",
			 "--relay-url",
			 (char *)r->url,
			 "--relay-name",
			 (char *)r->rid.name,
			 "--relay-key",
			 key,
			 "--passphrase-file",
			 n->pass,
			 r->tls ? "--relay-cert" : NULL,
			 (char *)r->ca,
			 NULL };
	if (proc_run(n->log, argv) != 0) {
		fprintf(stderr, "bench: divex init %s failed; see %s\n", code, n->log);
		return DX_EIO;
	}
	if ((rc = tune_config(n, roster_sync_ms)) != DX_OK) {
		return rc;
	}
	snprintf(entry, sizeof(entry), "%s/enrollment.dxe", n->home);
	char *admit[] = { (char *)built("daemon/relay/divex-relay"),
			  "admit",
			  "--home",
			  (char *)r->home,
			  "--status",
			  "party",
			  entry,
			  NULL };
	return proc_run(n->log, admit) == 0 ? DX_OK : DX_EIO;
}

int bnode_start(struct bnode *n)
{
	char *argv[] = { (char *)built("daemon/node/divexd"), "run", "--home", n->home, NULL };
	snprintf(n->proc.log, sizeof(n->proc.log), "%s", n->log);
	int before = proc_log_count(&n->proc, "control socket listening");
	if (proc_start(&n->proc, n->log, argv) != 0 ||
	    proc_wait_log(&n->proc, "control socket listening", before + 1, 120000) != 0) {
		fprintf(stderr, "bench: divexd %s did not start; see %s\n", n->code, n->log);
		return DX_EIO;
	}
	n->running = 1;
	return DX_OK;
}

int bnode_stop(struct bnode *n)
{
	if (!n->running) {
		return DX_OK;
	}
	n->running = 0;
	return proc_stop(&n->proc, SIGTERM, 120000) == 0 ? DX_OK : DX_EIO;
}

int bctl_open(struct bctl *c, const struct bnode *n)
{
	char url[1300];
	snprintf(url, sizeof(url), "ipc://%s/control.sock", n->home);
	int rc = nng_req0_open(&c->sock);
	if (rc != 0) {
		return DX_EIO;
	}
	/* As the CLI does: never resend a request that is not idempotent. */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, 120000);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, CTL_MAX);
	return nng_dial(c->sock, url, NULL, 0) == 0 ? DX_OK : DX_EIO;
}

void bctl_close(struct bctl *c)
{
	nng_close(c->sock);
}

int bctl_call(struct bctl *c, Dx__ControlRequest *q, Dx__ControlResponse **out)
{
	uint8_t *buf = NULL;
	size_t len;
	void *reply = NULL;
	size_t rlen;
	q->version = 1;
	int rc = proto_pack_alloc(&q->base, &buf, &len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = nng_send(c->sock, buf, len, 0);
	free(buf);
	if (rc != 0 || nng_recv(c->sock, &reply, &rlen, NNG_FLAG_ALLOC) != 0) {
		return DX_EIO;
	}
	ProtobufCMessage *m = NULL;
	rc = proto_unpack_strict(&dx__control_response__descriptor, reply, rlen, CTL_MAX, &m);
	nng_free(reply, rlen);
	if (rc == DX_OK) {
		*out = (Dx__ControlResponse *)m;
	}
	return rc;
}

long bctl_inbox_total(struct bctl *c)
{
	Dx__ControlRequest q = DX__CONTROL_REQUEST__INIT;
	Dx__StatusOp s = DX__STATUS_OP__INIT;
	Dx__ControlResponse *r = NULL;
	q.op_case = DX__CONTROL_REQUEST__OP_STATUS;
	q.status = &s;
	if (bctl_call(c, &q, &r) != DX_OK) {
		return -1;
	}
	long v = r->error == 0 && r->status != NULL ? (long)r->status->inbox_total : -1;
	dx__control_response__free_unpacked(r, NULL);
	return v;
}

int bctl_wait_roster(struct bctl *c, size_t count, int deadline_ms)
{
	uint64_t end = bench_now_ns() + (uint64_t)deadline_ms * 1000000u;
	do {
		Dx__ControlRequest q = DX__CONTROL_REQUEST__INIT;
		Dx__RosterListOp op = DX__ROSTER_LIST_OP__INIT;
		Dx__ControlResponse *r = NULL;
		q.op_case = DX__CONTROL_REQUEST__OP_ROSTER;
		q.roster = &op;
		if (bctl_call(c, &q, &r) == DX_OK) {
			size_t n = r->error == 0 && r->roster != NULL ? r->roster->n_entries : 0;
			dx__control_response__free_unpacked(r, NULL);
			if (n >= count) {
				return DX_OK;
			}
		}
		struct timespec ts = { 0, 100 * 1000 * 1000 };
		nanosleep(&ts, NULL); /* polling interval, not a synchronisation */
	} while (bench_now_ns() < end);
	return DX_ETIMEDOUT;
}
