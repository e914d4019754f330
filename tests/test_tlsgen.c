/*
 * test_tlsgen.c: the relay's self-signed TLS certificate
 * (daemon/relay/tlsgen.c).
 *
 * The files must have the right modes and never be overwritten; the
 * certificate must parse with mbedTLS, be a v3 CA for its own name with the
 * key beside it, and its fingerprint must match what tlsgen_fingerprint()
 * reads back. Finally nng's own tls+tcp transport is run with the pair: a
 * node that pins the certificate and dials the relay by its name connects,
 * one that expects another name does not.
 */
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <nng/nng.h>
#include <nng/protocol/pair0/pair.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "testlib.h"
#include "tlsgen.h"
#include "util.h"

#define JUNK_PEM "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"

struct pair {
	char cert[1024];
	char key[1024];
	char fp[TLSGEN_FINGERPRINT_HEX_LEN + 1];
};

static void make_pair(struct pair *p, const char *tag, const char *cn)
{
	const char *dir = test_tmpdir();
	char name[64];
	snprintf(name, sizeof(name), "%s-cert.pem", tag);
	snprintf(p->cert, sizeof(p->cert), "%s", test_path(dir, name));
	snprintf(name, sizeof(name), "%s-key.pem", tag);
	snprintf(p->key, sizeof(p->key), "%s", test_path(dir, name));
	assert_dx_ok(tlsgen_self_signed(p->cert, p->key, cn, p->fp));
}

static void assert_mode(const char *path, unsigned mode)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, mode);
}

static void test_files_and_cert(void **state)
{
	struct pair p;
	char fp[TLSGEN_FINGERPRINT_HEX_LEN + 1];
	make_pair(&p, "a", "relay.example.org");
	assert_mode(p.key, 0600);
	assert_mode(p.cert, 0644);
	assert_int_equal(strlen(p.fp), TLSGEN_FINGERPRINT_HEX_LEN);
	assert_int_equal(strspn(p.fp, "0123456789abcdef"), TLSGEN_FINGERPRINT_HEX_LEN);
	assert_dx_ok(tlsgen_fingerprint(p.cert, fp));
	assert_string_equal(fp, p.fp);

	mbedtls_x509_crt crt;
	mbedtls_pk_context key;
	mbedtls_x509_crt_init(&crt);
	mbedtls_pk_init(&key);
	assert_int_equal(mbedtls_x509_crt_parse_file(&crt, p.cert), 0);
	assert_int_equal(mbedtls_pk_parse_keyfile(&key, p.key, NULL), 0);
	assert_int_equal(crt.version, 3);
	assert_int_equal(crt.ca_istrue, 1);
	assert_int_equal(mbedtls_pk_get_type(&crt.pk), MBEDTLS_PK_ECKEY);
	assert_int_equal(mbedtls_pk_check_pair(&crt.pk, &key), 0);
	char dn[256];
	assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.subject) > 0);
	assert_string_equal(dn, "CN=relay.example.org");
	assert_true(mbedtls_x509_dn_gets(dn, sizeof(dn), &crt.issuer) > 0);
	assert_string_equal(dn, "CN=relay.example.org");
	/* Valid now, and for about ten years. */
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	assert_int_equal(mbedtls_x509_time_is_past(&crt.valid_from), 1);
	assert_int_equal(mbedtls_x509_time_is_future(&crt.valid_to), 1);
	assert_int_equal(crt.valid_to.year, tm.tm_year + 1900 + TLSGEN_VALIDITY_YEARS);
	/* A positive serial of 16 bytes. */
	assert_int_equal(crt.serial.len, 16);
	assert_true((crt.serial.p[0] & 0x80) == 0);
	/* Self-signed: it verifies against itself as the only trust anchor, by its name. */
	uint32_t flags = 0;
	assert_int_equal(
		mbedtls_x509_crt_verify(&crt, &crt, NULL, "relay.example.org", &flags, NULL, NULL),
		0);
	assert_true(mbedtls_x509_crt_verify(&crt, &crt, NULL, "other.example.org", &flags, NULL,
					    NULL) != 0);
	assert_true((flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) != 0);
	mbedtls_pk_free(&key);
	mbedtls_x509_crt_free(&crt);

	/* A second certificate differs. */
	struct pair q;
	make_pair(&q, "b", "relay.example.org");
	assert_string_not_equal(p.fp, q.fp);
}

static void test_refuses_overwrite(void **state)
{
	struct pair p;
	char fp[TLSGEN_FINGERPRINT_HEX_LEN + 1];
	make_pair(&p, "c", "relay.test");
	assert_dx_err(tlsgen_self_signed(p.cert, p.key, "relay.test", fp), DX_EEXIST);
	assert_dx_ok(tlsgen_fingerprint(p.cert, fp));
	assert_string_equal(fp, p.fp);
	/* If only the key exists, no certificate appears, and the reverse. */
	const char *dir = test_tmpdir();
	const char *lone_cert = test_path(dir, "lone-cert.pem");
	assert_dx_err(tlsgen_self_signed(lone_cert, p.key, "relay.test", fp), DX_EEXIST);
	struct stat st;
	assert_int_equal(stat(lone_cert, &st), -1);
	const char *lone_key = test_path(dir, "lone-key.pem");
	assert_dx_err(tlsgen_self_signed(p.cert, lone_key, "relay.test", fp), DX_EEXIST);
	assert_int_equal(stat(lone_key, &st), -1);
}

static void test_bad_names(void **state)
{
	char fp[TLSGEN_FINGERPRINT_HEX_LEN + 1];
	char long_name[TLSGEN_CN_MAX + 2];
	memset(long_name, 'a', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	const char *bad[] = { "",    "a b", "relay,O=evil", "x\ny", "-relay", "relay.",
			      "r=1", "é",   long_name };
	const char *dir = test_tmpdir();
	const char *cert = test_path(dir, "bad-cert.pem");
	const char *key = test_path(dir, "bad-key.pem");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (tlsgen_self_signed(cert, key, bad[i], fp) != DX_EINVAL) {
			fail_msg("accepted common name \"%s\"", bad[i]);
		}
	}
	struct stat st;
	assert_int_equal(stat(cert, &st), -1);
	assert_int_equal(stat(key, &st), -1);
	/* The longest name is fine. */
	long_name[TLSGEN_CN_MAX] = '\0';
	assert_dx_ok(tlsgen_self_signed(cert, key, long_name, fp));
}

static void test_fingerprint_errors(void **state)
{
	char fp[TLSGEN_FINGERPRINT_HEX_LEN + 1];
	const char *dir = test_tmpdir();
	assert_dx_err(tlsgen_fingerprint(test_path(dir, "none.pem"), fp), DX_ENOENT);
	const char *junk = test_path(dir, "junk.pem");
	test_write_file(junk, JUNK_PEM, strlen(JUNK_PEM));
	assert_dx_err(tlsgen_fingerprint(junk, fp), DX_EPARSE);
	const char *empty = test_path(dir, "empty.pem");
	test_write_file(empty, "", 0);
	assert_dx_err(tlsgen_fingerprint(empty, fp), DX_EPARSE);

	/* DER works too, with the same fingerprint as the PEM it came from. */
	struct pair p;
	make_pair(&p, "d", "127.0.0.1");
	mbedtls_x509_crt crt;
	mbedtls_x509_crt_init(&crt);
	assert_int_equal(mbedtls_x509_crt_parse_file(&crt, p.cert), 0);
	const char *der = test_path(dir, "d-cert.der");
	test_write_file(der, crt.raw.p, crt.raw.len);
	mbedtls_x509_crt_free(&crt);
	assert_dx_ok(tlsgen_fingerprint(der, fp));
	assert_string_equal(fp, p.fp);
}

static nng_tls_config *tls_config(nng_tls_mode mode, const struct pair *p, const char *server)
{
	nng_tls_config *cfg = NULL;
	uint8_t *cert = NULL, *key = NULL;
	size_t clen = 0, klen = 0;
	assert_int_equal(nng_tls_config_alloc(&cfg, mode), 0);
	assert_dx_ok(dx_read_file(p->cert, 65536, &cert, &clen));
	char *cert_s = calloc(1, clen + 1);
	assert_non_null(cert_s);
	memcpy(cert_s, cert, clen);
	if (mode == NNG_TLS_MODE_SERVER) {
		assert_dx_ok(dx_read_file(p->key, 65536, &key, &klen));
		char *key_s = calloc(1, klen + 1);
		assert_non_null(key_s);
		memcpy(key_s, key, klen);
		assert_int_equal(nng_tls_config_own_cert(cfg, cert_s, key_s, NULL), 0);
		free(key_s);
		free(key);
	} else {
		assert_int_equal(nng_tls_config_ca_chain(cfg, cert_s, NULL), 0);
		assert_int_equal(nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED), 0);
		assert_int_equal(nng_tls_config_server_name(cfg, server), 0);
	}
	free(cert_s);
	free(cert);
	return cfg;
}

/* Dials the relay's listener over tls+tcp as server_name; returns nng's result. */
static int dial_pinned(const struct pair *relay, const struct pair *pinned, const char *server)
{
	nng_socket ls, ds;
	nng_listener l;
	nng_dialer d;
	int port = 0;
	char url[64];
	nng_tls_config *scfg = tls_config(NNG_TLS_MODE_SERVER, relay, NULL);
	nng_tls_config *ccfg = tls_config(NNG_TLS_MODE_CLIENT, pinned, server);
	assert_int_equal(nng_pair0_open(&ls), 0);
	assert_int_equal(nng_pair0_open(&ds), 0);
	assert_int_equal(nng_listener_create(&l, ls, "tls+tcp://127.0.0.1:0"), 0);
	assert_int_equal(nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, scfg), 0);
	assert_int_equal(nng_listener_start(l, 0), 0);
	assert_int_equal(nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port), 0);
	snprintf(url, sizeof(url), "tls+tcp://127.0.0.1:%d", port);
	assert_int_equal(nng_dialer_create(&d, ds, url), 0);
	assert_int_equal(nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, ccfg), 0);
	assert_int_equal(nng_socket_set_ms(ds, NNG_OPT_SENDTIMEO, 3000), 0);
	assert_int_equal(nng_socket_set_ms(ls, NNG_OPT_RECVTIMEO, 3000), 0);
	int rv = nng_dialer_start(d, 0);
	if (rv == 0) {
		/* The handshake completes with the first exchange. */
		char *msg = NULL;
		size_t len = 0;
		rv = nng_send(ds, "hello", 6, 0);
		if (rv == 0) {
			rv = nng_recv(ls, &msg, &len, NNG_FLAG_ALLOC);
		}
		if (rv == 0) {
			assert_int_equal(len, 6);
			assert_string_equal(msg, "hello");
			nng_free(msg, len);
		}
	}
	nng_close(ds);
	nng_close(ls);
	nng_tls_config_free(scfg);
	nng_tls_config_free(ccfg);
	return rv;
}

static void assert_tls_refused(int rv)
{
	if (rv != NNG_ECRYPTO && rv != NNG_EPEERAUTH) {
		fail_msg("want a TLS refusal, got: %s", nng_strerror(rv));
	}
}

static void test_nng_pinning(void **state)
{
	struct pair relay, other, ip;
	make_pair(&relay, "relay", "relay.test");
	make_pair(&other, "other", "relay.test");
	make_pair(&ip, "ip", "127.0.0.1");
	assert_int_equal(dial_pinned(&relay, &relay, "relay.test"), 0);
	/* An IPv4 address works through the common name alone. */
	assert_int_equal(dial_pinned(&ip, &ip, "127.0.0.1"), 0);
	/* The right certificate under another name, or another certificate: refused. */
	assert_tls_refused(dial_pinned(&relay, &relay, "elsewhere.test"));
	assert_tls_refused(dial_pinned(&relay, &other, "relay.test"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_files_and_cert), cmocka_unit_test(test_refuses_overwrite),
		cmocka_unit_test(test_bad_names),      cmocka_unit_test(test_fingerprint_errors),
		cmocka_unit_test(test_nng_pinning),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
