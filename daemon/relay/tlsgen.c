/*
 * tlsgen.c: self-signed certificates for the relay's tls+tcp listener, with
 * mbedTLS 2.28 (see tlsgen.h).
 *
 * The private key exists in mbedTLS's own context, which mbedtls_pk_free()
 * wipes, and as PEM text in a sodium_malloc'd buffer, which sodium_free()
 * wipes; it is written only to key_path, 0600, never over an existing file.
 * The certificate is parsed back before it is written, so a certificate that
 * mbedTLS (and so nng) would not load is never produced.
 */
#include "tlsgen.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Personalization of the DRBG: a label, not a secret. */
#define DRBG_LABEL "divex/v1/tls-keygen"
#define KEY_PEM_MAX 2048
#define CERT_PEM_MAX 4096
#define SERIAL_LEN 16
/* Certificates start a day early, so that a node whose clock lags still accepts one. */
#define BACKDATE_SECONDS (24 * 3600)

struct gen {
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_pk_context key;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
};

/* Letters, digits, '.', '-'; not starting or ending with '.' or '-'. */
static int cn_valid(const char *cn)
{
	size_t n = strlen(cn);
	if (n == 0 || n > TLSGEN_CN_MAX || cn[0] == '.' || cn[0] == '-' || cn[n - 1] == '.' ||
	    cn[n - 1] == '-') {
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char c = cn[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-')) {
			return 0;
		}
	}
	return 1;
}

/* True for a dotted-quad-looking name: it goes in the CN only (see add_san). */
static int cn_is_ipv4(const char *cn)
{
	return strspn(cn, "0123456789.") == strlen(cn);
}

/*
 * Adds subjectAltName with one dNSName. mbedTLS 2.28 has no writer for it,
 * so the DER is built here: SEQUENCE { [2] IMPLICIT IA5String name }; names
 * are at most 64 bytes, so every length fits in one byte. An IPv4 address
 * gets no subjectAltName: mbedTLS 2.28 matches only dNSName entries and,
 * when the extension is absent, the common name.
 */
static int add_san(mbedtls_x509write_cert *crt, const char *cn)
{
	uint8_t der[2 + 2 + TLSGEN_CN_MAX];
	size_t n = strlen(cn);
	if (cn_is_ipv4(cn)) {
		return 0;
	}
	der[0] = 0x30;
	der[1] = (uint8_t)(n + 2);
	der[2] = 0x82;
	der[3] = (uint8_t)n;
	memcpy(der + 4, cn, n);
	return mbedtls_x509write_crt_set_extension(crt, MBEDTLS_OID_SUBJECT_ALT_NAME,
						   MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME),
						   0, der, n + 4);
}

/* "YYYYMMDDhhmmss" of t plus years (29 February becomes 28 February). */
static int fmt_time(char out[15], time_t t, int years)
{
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL) {
		return DX_EINVAL;
	}
	tm.tm_year += years;
	if (years != 0 && tm.tm_mon == 1 && tm.tm_mday == 29) {
		tm.tm_mday = 28;
	}
	return strftime(out, 15, "%Y%m%d%H%M%S", &tm) == 14 ? 0 : DX_EINVAL;
}

static int set_serial_validity(struct gen *g)
{
	uint8_t serial[SERIAL_LEN];
	char from[15], until[15];
	time_t now = time(NULL);
	if (mbedtls_ctr_drbg_random(&g->drbg, serial, sizeof(serial)) != 0) {
		return DX_ECRYPTO;
	}
	/* Positive and of full length, as RFC 5280 asks of a serial number. */
	serial[0] = (uint8_t)((serial[0] & 0x7f) | 0x40);
	if (mbedtls_mpi_read_binary(&g->serial, serial, sizeof(serial)) != 0 ||
	    mbedtls_x509write_crt_set_serial(&g->crt, &g->serial) != 0) {
		return DX_ECRYPTO;
	}
	if (fmt_time(from, now - BACKDATE_SECONDS, 0) != 0 ||
	    fmt_time(until, now, TLSGEN_VALIDITY_YEARS) != 0) {
		return DX_EINVAL;
	}
	return mbedtls_x509write_crt_set_validity(&g->crt, from, until) == 0 ? 0 : DX_ECRYPTO;
}

static int build_cert(struct gen *g, const char *cn)
{
	char subject[8 + TLSGEN_CN_MAX];
	snprintf(subject, sizeof(subject), "CN=%s", cn);
	mbedtls_x509write_crt_set_version(&g->crt, MBEDTLS_X509_CRT_VERSION_3);
	mbedtls_x509write_crt_set_md_alg(&g->crt, MBEDTLS_MD_SHA256);
	mbedtls_x509write_crt_set_subject_key(&g->crt, &g->key);
	mbedtls_x509write_crt_set_issuer_key(&g->crt, &g->key);
	int rc = set_serial_validity(g);
	if (rc != 0) {
		return rc;
	}
	if (mbedtls_x509write_crt_set_subject_name(&g->crt, subject) != 0 ||
	    mbedtls_x509write_crt_set_issuer_name(&g->crt, subject) != 0 ||
	    mbedtls_x509write_crt_set_basic_constraints(&g->crt, 1, 0) != 0 ||
	    mbedtls_x509write_crt_set_key_usage(&g->crt, MBEDTLS_X509_KU_DIGITAL_SIGNATURE |
								 MBEDTLS_X509_KU_KEY_CERT_SIGN) !=
		    0 ||
	    mbedtls_x509write_crt_set_subject_key_identifier(&g->crt) != 0 ||
	    mbedtls_x509write_crt_set_authority_key_identifier(&g->crt) != 0 ||
	    add_san(&g->crt, cn) != 0) {
		return DX_ECRYPTO;
	}
	return 0;
}

/* SHA-256 of the DER of the first certificate in buf (PEM, NUL included, or DER). */
static int fingerprint_of(const uint8_t *buf, size_t len,
			  char hex[static TLSGEN_FINGERPRINT_HEX_LEN + 1])
{
	mbedtls_x509_crt crt;
	uint8_t digest[32];
	mbedtls_x509_crt_init(&crt);
	int rc = DX_EPARSE;
	if (mbedtls_x509_crt_parse(&crt, buf, len) == 0 && crt.raw.p != NULL &&
	    mbedtls_sha256_ret(crt.raw.p, crt.raw.len, digest, 0) == 0) {
		dx_hex(hex, digest, sizeof(digest));
		rc = 0;
	}
	mbedtls_x509_crt_free(&crt);
	return rc;
}

static int path_exists(const char *path)
{
	struct stat st;
	return lstat(path, &st) == 0;
}

/* Generates the key and the certificate's PEM; key_pem is sodium_malloc'd. */
static int generate(struct gen *g, const char *cn, uint8_t *key_pem, uint8_t *cert_pem)
{
	if (mbedtls_ctr_drbg_seed(&g->drbg, mbedtls_entropy_func, &g->entropy,
				  (const unsigned char *)DRBG_LABEL, strlen(DRBG_LABEL)) != 0 ||
	    mbedtls_pk_setup(&g->key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0 ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(g->key),
				mbedtls_ctr_drbg_random, &g->drbg) != 0) {
		return DX_ECRYPTO;
	}
	int rc = build_cert(g, cn);
	if (rc != 0) {
		return rc;
	}
	if (mbedtls_x509write_crt_pem(&g->crt, cert_pem, CERT_PEM_MAX, mbedtls_ctr_drbg_random,
				      &g->drbg) != 0 ||
	    mbedtls_pk_write_key_pem(&g->key, key_pem, KEY_PEM_MAX) != 0) {
		return DX_ECRYPTO;
	}
	return 0;
}

int tlsgen_self_signed(const char *cert_path, const char *key_path, const char *common_name,
		       char fingerprint_hex[static TLSGEN_FINGERPRINT_HEX_LEN + 1])
{
	char hex[TLSGEN_FINGERPRINT_HEX_LEN + 1];
	if (common_name == NULL || !cn_valid(common_name)) {
		return DX_EINVAL;
	}
	if (path_exists(cert_path) || path_exists(key_path)) {
		return DX_EEXIST;
	}
	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	uint8_t *key_pem = sodium_malloc(KEY_PEM_MAX);
	uint8_t *cert_pem = calloc(1, CERT_PEM_MAX);
	struct gen *g = calloc(1, sizeof(*g));
	int rc = DX_ENOMEM;
	if (key_pem == NULL || cert_pem == NULL || g == NULL) {
		goto out;
	}
	memset(key_pem, 0, KEY_PEM_MAX);
	mbedtls_entropy_init(&g->entropy);
	mbedtls_ctr_drbg_init(&g->drbg);
	mbedtls_pk_init(&g->key);
	mbedtls_x509write_crt_init(&g->crt);
	mbedtls_mpi_init(&g->serial);
	rc = generate(g, common_name, key_pem, cert_pem);
	if (rc == 0) {
		rc = fingerprint_of(cert_pem, strlen((char *)cert_pem) + 1, hex);
		rc = rc == 0 ? 0 : DX_ECRYPTO;
	}
	if (rc == 0) {
		rc = dx_write_file_atomic(key_path, key_pem, strlen((char *)key_pem), 0600, 0);
	}
	if (rc == 0) {
		rc = dx_write_file_atomic(cert_path, cert_pem, strlen((char *)cert_pem), 0644, 0);
		if (rc != 0) {
			/* Leave no key without its certificate. */
			unlink(key_path);
		}
	}
	if (rc == 0) {
		memcpy(fingerprint_hex, hex, sizeof(hex));
	}
	mbedtls_mpi_free(&g->serial);
	mbedtls_x509write_crt_free(&g->crt);
	mbedtls_pk_free(&g->key);
	mbedtls_ctr_drbg_free(&g->drbg);
	mbedtls_entropy_free(&g->entropy);
out:
	sodium_free(key_pem);
	free(cert_pem);
	free(g);
	return rc;
}

int tlsgen_fingerprint(const char *cert_path,
		       char fingerprint_hex[static TLSGEN_FINGERPRINT_HEX_LEN + 1])
{
	uint8_t *data = NULL;
	size_t len = 0;
	char hex[TLSGEN_FINGERPRINT_HEX_LEN + 1];
	int rc = dx_read_file(cert_path, TLSGEN_CERT_FILE_MAX, &data, &len);
	if (rc != 0) {
		return rc;
	}
	/* mbedTLS takes PEM only with its terminating NUL counted in the length. */
	uint8_t *buf = malloc(len + 1);
	if (buf == NULL) {
		free(data);
		return DX_ENOMEM;
	}
	memcpy(buf, data, len);
	buf[len] = '\0';
	int pem = len > 0 && memmem(buf, len, "-----BEGIN CERTIFICATE-----", 27) != NULL;
	rc = fingerprint_of(buf, pem ? len + 1 : len, hex);
	free(buf);
	free(data);
	if (rc == 0) {
		memcpy(fingerprint_hex, hex, sizeof(hex));
	}
	return rc;
}
