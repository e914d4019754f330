/*
 * rc_fixture.c: see rc_fixture.h.
 */
#include "rc_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fx F;

static void expire_cb(uv_timer_t *t)
{
	(void)t;
	F.expired = 1;
}

void fx_init(void)
{
	memset(&F, 0, sizeof(F));
	assert_int_equal(uv_loop_init(&F.loop), 0);
	assert_int_equal(uv_timer_init(&F.loop, &F.deadline), 0);
	assert_int_equal(uv_timer_start(&F.deadline, expire_cb, DEADLINE_MS, 0), 0);
}

void fx_fini(void)
{
	uv_timer_stop(&F.deadline);
	uv_close((uv_handle_t *)&F.deadline, NULL);
	assert_int_equal(uv_run(&F.loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&F.loop), 0);
}

static void on_alarm(void *arg, int code, const char *old_text, size_t old_len,
		     const char *new_text, size_t new_len)
{
	struct fx *f = arg;
	f->alarms++;
	f->alarm_code = code;
	snprintf(f->alarm_old, sizeof(f->alarm_old), "%.*s", (int)old_len, old_text);
	snprintf(f->alarm_new, sizeof(f->alarm_new), "%.*s", (int)new_len, new_text);
	/* Said where it happens: some tests expect alarms, others none. */
	fprintf(stderr, "relay client alarm %s; held:\n%s\nrefused:\n%s\n", dx_errname(code),
		f->alarm_old, f->alarm_new);
}

static void on_checkpoint(void *arg, const char *text, size_t len, uint64_t size)
{
	struct fx *f = arg;
	(void)text;
	(void)len;
	f->checkpoints++;
	f->cp_size = size;
}

/* A client for k; url NULL means the relay itself (over TLS when the group uses it). */
struct relay_client *open_client(const struct keys *k, const char *url)
{
	char ca[1100];
	struct relay_client *c = NULL;
	int direct = url == NULL;
	snprintf(ca, sizeof(ca), "%s/tls-cert.pem", H.home);
	struct relay_client_config cfg = {
		.url = direct ? H.url : url,
		.tls_ca_file = direct && H.use_tls ? ca : NULL,
		.tls_server_name = direct && H.use_tls ? "127.0.0.1" : NULL,
		.keys = k,
		.relay = H.rid,
		.timeout_ms = 20000,
		.resend_ms = 5000,
		.on_alarm = on_alarm,
		.on_checkpoint = on_checkpoint,
		.cb_arg = &F,
	};
	assert_dx_ok(relay_client_open(&F.loop, &cfg, &c));
	return c;
}

void set_flag(void *arg)
{
	*(int *)arg = 1;
}

/* Waits for the client's own proof requests too, as a node's clean shutdown does. */
void close_client(struct relay_client *c)
{
	int done = 0;
	WAIT_FOR(relay_client_in_flight(c) == 0);
	relay_client_close(c, set_flag, &done);
	WAIT_FOR(done);
}

/* ---- results of operations ---- */

void res_free(struct res *r)
{
	free(r->receipt);
	free(r->env);
	memset(r, 0, sizeof(*r));
}

static void take_receipt(struct res *s, const struct relay_receipt_info *r)
{
	if (r == NULL) {
		return;
	}
	s->receipt = malloc(r->receipt_len);
	memcpy(s->receipt, r->receipt, r->receipt_len);
	s->receipt_len = r->receipt_len;
	s->leaf_index = r->leaf_index;
	if (r->salt != NULL) {
		memcpy(s->salt, r->salt, RELAY_SALT_LEN);
		s->has_salt = 1;
	}
}

void receipt_cb(void *arg, int rc, const struct relay_receipt_info *r)
{
	struct res *s = arg;
	s->rc = rc;
	take_receipt(s, r);
	s->done++;
}

void fetch_cb(void *arg, int rc, const uint8_t *env, size_t len,
		     const struct relay_receipt_info *r)
{
	struct res *s = arg;
	s->rc = rc;
	take_receipt(s, r);
	if (env != NULL) {
		s->env = malloc(len);
		memcpy(s->env, env, len);
		s->env_len = len;
	}
	s->done++;
}

void list_cb(void *arg, int rc, const struct relay_mail *mail, size_t n)
{
	struct res *s = arg;
	s->rc = rc;
	s->n = n;
	for (size_t i = 0; i < n && i < 64; i++) {
		s->mail[i] = mail[i];
	}
	s->done++;
}

void roster_cb(void *arg, int rc, const struct relay_roster_item *items, size_t n, int more)
{
	struct res *s = arg;
	s->rc = rc;
	s->n = n;
	s->more = more;
	s->last_index = n > 0 ? items[n - 1].log_index : 0;
	for (size_t i = 0; i < n && i < 64; i++) {
		s->statuses[i] = items[i].status;
		s->rc = items[i].entry_len > 0 ? s->rc : DX_EPARSE;
	}
	s->done++;
}

void done_cb(void *arg, int rc)
{
	struct res *s = arg;
	s->rc = rc;
	s->done++;
}

int submit(struct relay_client *c, const uint8_t *env, size_t len, struct res *r)
{
	memset(r, 0, sizeof(*r));
	assert_dx_ok(relay_client_submit(c, env, len, receipt_cb, r));
	WAIT_FOR(r->done);
	return r->rc;
}

int sync_once(struct relay_client *c)
{
	struct res r;
	memset(&r, 0, sizeof(r));
	assert_dx_ok(relay_client_sync(c, done_cb, &r));
	WAIT_FOR(r.done);
	return r.rc;
}

int mail_has(const struct res *r, const uint8_t digest[32])
{
	for (size_t i = 0; i < r->n; i++) {
		if (memcmp(r->mail[i].digest, digest, 32) == 0) {
			return 1;
		}
	}
	return 0;
}
