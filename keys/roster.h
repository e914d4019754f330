/*
 * roster.h: self-signed roster entries (PROTOCOL.md 4.4).
 *
 * A State describes itself (identity key, static key, prekeys, contacts) in a
 * RosterEntry, serializes it, and signs the exact bytes with its identity key.
 * Anyone can verify an entry with nothing but the entry: the Secretariat can
 * refuse or hide an entry but cannot forge one. Verification is strict: the
 * encoding must be canonical, every size is capped before use, and every inner
 * signature (static key, each prekey) must verify.
 */
#ifndef DIVEX_KEYS_ROSTER_H
#define DIVEX_KEYS_ROSTER_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

#define ROSTER_ENTRY_MAX (64 * 1024)
#define ROSTER_MAX_CONTACTS 32
#define ROSTER_TEXT_MAX 256

struct roster_contact {
	const char *role, *agency, *name, *email, *phone, *channels;
	const char *const *languages;
	size_t n_languages;
};

struct roster_prekey {
	uint8_t id[KEYS_ID_LEN];
	uint8_t pk[KEYS_DH_PK_LEN];
	uint64_t valid_from_ms;
	uint64_t valid_until_ms;
};

/* A verified entry. Strings point into msg and live as long as the entry. */
struct roster_entry {
	char state[DX_STATE_LEN + 1];
	const char *name;
	uint8_t identity_pk[KEYS_SIGN_PK_LEN];
	uint8_t identity_id[KEYS_ID_LEN];
	uint8_t static_pk[KEYS_DH_PK_LEN];
	uint8_t static_id[KEYS_ID_LEN];
	size_t n_prekeys;
	struct roster_prekey prekeys[KEYS_MAX_PREKEYS];
	uint64_t issued_ms;
	/* Exact signed bytes, and the parsed form (contacts live there). */
	uint8_t *signed_bytes;
	size_t signed_len;
	struct Dx__RosterEntry *msg;
};

/*
 * Builds and signs this State's entry: all live (not erased, not yet expired
 * at now_ms) prekeys and the given contacts. Returns a malloc'd serialized
 * SignedRosterEntry.
 */
int roster_entry_build(const struct keys *k, const char *display_name,
		       const struct roster_contact *contacts, size_t n_contacts, uint64_t now_ms,
		       uint8_t **out, size_t *out_len) DX_MUST_CHECK;

/*
 * The contacts of a verified entry as roster_entry_build() takes them, so that
 * a rebuilt entry (a new prekey) keeps what the State published. The strings
 * point into e. Returns how many were written (at most max).
 */
size_t roster_entry_contacts(const struct roster_entry *e, struct roster_contact *out, size_t max);

/* Parses and verifies a serialized SignedRosterEntry. */
int roster_entry_verify(const uint8_t *buf, size_t len, struct roster_entry **out) DX_MUST_CHECK;
void roster_entry_free(struct roster_entry *e);

/*
 * True when s is at most max bytes of well-formed UTF-8 without a C0
 * control, DEL or C1 control: the rule for every text shown to officials
 * (PROTOCOL.md 4.4), here and in other signed statements.
 */
int roster_text_valid(const char *s, size_t max);

/* The prekey a sender should seal to at now_ms (newest valid), or NULL. */
const struct roster_prekey *roster_entry_current_prekey(const struct roster_entry *e, uint64_t now_ms);

#endif
