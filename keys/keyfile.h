/*
 * keyfile.h: a State's keys at rest, and the passphrase that unlocks them.
 *
 * The key file is sealed with XChaCha20-Poly1305 under a key derived from a
 * passphrase with Argon2id (crypto_pwhash); the layout is in PROTOCOL.md
 * section 8. Files are written O_EXCL|O_NOFOLLOW with mode 0600 and refused
 * on load when group- or world-readable. Passphrases come from a file, a file
 * descriptor or a terminal prompt, never from argv, and live in sodium_malloc
 * memory.
 */
#ifndef DIVEX_KEYS_KEYFILE_H
#define DIVEX_KEYS_KEYFILE_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

/* Argon2id cost. "moderate" is the default for a State's key file. */
struct keyfile_kdf {
	unsigned long long opslimit;
	size_t memlimit;
};
extern const struct keyfile_kdf KEYFILE_KDF_INTERACTIVE;
extern const struct keyfile_kdf KEYFILE_KDF_MODERATE;
extern const struct keyfile_kdf KEYFILE_KDF_SENSITIVE;
/* Parses "interactive", "moderate" or "sensitive". */
int keyfile_kdf_parse(const char *name, struct keyfile_kdf *out) DX_MUST_CHECK;

#define KEYFILE_MAX (256 * 1024)

/* Writes k to path. replace == 0 refuses an existing file (DX_EEXIST). */
int keyfile_write(const char *path, const struct keys *k, const char *pass, size_t passlen,
		  const struct keyfile_kdf *kdf, int replace) DX_MUST_CHECK;
/*
 * Loads and decrypts path. DX_EKEYFILE_PERM if group/world-readable,
 * DX_EKEYFILE_CORRUPT if truncated or malformed, DX_EPASSPHRASE if the
 * passphrase is wrong (or the file altered), DX_EKEYFILE_VERSION if newer.
 */
int keyfile_read(const char *path, const char *pass, size_t passlen, struct keys **out) DX_MUST_CHECK;
/*
 * The Argon2id cost recorded in a key file's header (checked as on reading),
 * so that a rewrite keeps the cost the State chose.
 */
int keyfile_read_kdf(const char *path, struct keyfile_kdf *out) DX_MUST_CHECK;
/* Decrypts an in-memory key file image (what keyfile_read does after I/O). */
int keyfile_decode(const uint8_t *buf, size_t len, const char *pass, size_t passlen,
		   struct keys **out) DX_MUST_CHECK;

/* A passphrase in sodium_malloc'd memory, NUL-terminated. */
struct passphrase {
	char *buf;
	size_t len;
};
#define PASSPHRASE_MAX 1024
/*
 * Reads a passphrase: from file if non-NULL (first line; a trailing newline is
 * dropped; the file must not be group/world-readable), else from fd if >= 0,
 * else by prompting on /dev/tty with echo off (confirm != 0 asks twice).
 * DX_ENO_PASSPHRASE when none of these is possible.
 */
int passphrase_read(const char *file, int fd, const char *prompt, int confirm,
		    struct passphrase *out) DX_MUST_CHECK;
void passphrase_free(struct passphrase *p);

#endif
