/*
 * tlsgen.h: the relay's TLS certificate for tls+tcp, made with mbedTLS 2.28
 * (the TLS library under Debian's nng 1.5.2).
 *
 * A new deployment gets a self-signed certificate: an ECDSA P-256 key and an
 * X.509 v3 certificate valid for ten years, whose subject common name and
 * subjectAltName are the relay's host name. It is marked as a CA so that a
 * node can give it to nng_tls_config_ca_chain() as its only trust anchor:
 * that pins the relay's certificate. Its fingerprint (SHA-256 of the DER
 * encoding, lowercase hex) is what operators read out to the States so each
 * can check the certificate file it was given.
 *
 * Functions are synchronous, touch only the named files and are thread-safe.
 */
#ifndef DIVEX_RELAY_TLSGEN_H
#define DIVEX_RELAY_TLSGEN_H

#include "error.h"

/* Hex digits of a fingerprint, NUL excluded. */
#define TLSGEN_FINGERPRINT_HEX_LEN 64
/* Longest common name (X.509's ub-common-name). */
#define TLSGEN_CN_MAX 64
/* Largest certificate file tlsgen_fingerprint() reads. */
#define TLSGEN_CERT_FILE_MAX (64 * 1024)
#define TLSGEN_VALIDITY_YEARS 10

/*
 * Creates a key (key_path, PEM, mode 0600) and a self-signed certificate for
 * common_name (cert_path, PEM, mode 0644), and writes the certificate's
 * fingerprint into fingerprint_hex. common_name must be a host name or an
 * IPv4 address: 1 to 64 of letters, digits, '.', '-' (DX_EINVAL otherwise);
 * nodes dial the relay by this name, since TLS checks it. DX_EEXIST if
 * either file exists: nothing is overwritten, and nothing is left behind on
 * failure. DX_ECRYPTO if mbedTLS fails.
 */
int tlsgen_self_signed(const char *cert_path, const char *key_path, const char *common_name,
		       char fingerprint_hex[static TLSGEN_FINGERPRINT_HEX_LEN + 1]) DX_MUST_CHECK;

/*
 * Writes the fingerprint of the first certificate in the PEM or DER file at
 * cert_path. DX_ENOENT, DX_ETOOBIG over TLSGEN_CERT_FILE_MAX, DX_EPARSE if
 * it holds no certificate mbedTLS accepts.
 */
int tlsgen_fingerprint(const char *cert_path,
		       char fingerprint_hex[static TLSGEN_FINGERPRINT_HEX_LEN + 1]) DX_MUST_CHECK;

#endif
