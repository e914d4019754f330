/*
 * dossier.h: the audit dossier of one envelope (DIEF ToR rule 15; DESIGN
 * section 5): a self-contained file that shows, to anyone holding the
 * relay's public key, who sent the envelope to whom and when the recipient
 * fetched and acknowledged it. It carries the whole envelope, the roster
 * entries of both States, the relay's receipts with their openings (the salt
 * of the accepted leaf, the recipient's own signed fetch and acknowledgement
 * requests), a signed checkpoint that every receipt's checkpoint is proved
 * consistent with, and those proofs. Nothing in it is taken on trust: every
 * byte is signed, opens something signed, or must equal something that is.
 * docs/PROTOCOL.md section 14 is normative.
 *
 * dossier_build() takes the pieces a node keeps (it does not fetch
 * anything); dossier_verify() needs nothing but the file (and, to pin it,
 * the relay's identity). Pure functions; thread-safe.
 */
#ifndef DIVEX_CORE_DOSSIER_H
#define DIVEX_CORE_DOSSIER_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "relay_wire.h"

#define DOSSIER_VERSION 1
#define DOSSIER_MAX_RECEIPTS 64
/* A Receipt: a checkpoint, a proof and a few fields. */
#define DOSSIER_RECEIPT_MAX (CHECKPOINT_MAX + MERKLE_MAX_PROOF * (MERKLE_HASH_LEN + 2) + 256)
/* A fetch or acknowledgement request: a digest, a checkpoint and a signature. */
#define DOSSIER_REQUEST_MAX (CHECKPOINT_MAX + 1024)
#define DOSSIER_MAX                                                                            \
	(ENVELOPE_MAX + 2 * 64 * 1024 + CHECKPOINT_MAX +                                       \
	 DOSSIER_MAX_RECEIPTS * (DOSSIER_RECEIPT_MAX + DOSSIER_REQUEST_MAX + 64) +             \
	 DOSSIER_MAX_RECEIPTS * (MERKLE_MAX_PROOF * (MERKLE_HASH_LEN + 2) + 32) + 1024)

/* One receipt as the node stored it. request is NULL for an accepted leaf. */
struct dossier_receipt_in {
	enum relay_leaf_kind kind; /* RELAY_LEAF_ACCEPTED, _FETCHED or _ACKED */
	const uint8_t *receipt;	   /* serialized dx.Receipt */
	size_t receipt_len;
	const uint8_t *request; /* the recipient's signed RelayRequest */
	size_t request_len;
};

struct dossier_proof_in {
	uint64_t old_size;
	const uint8_t (*hashes)[MERKLE_HASH_LEN];
	size_t n_hashes;
};

struct dossier_parts {
	const struct relay_identity *relay;
	const uint8_t *envelope;
	size_t envelope_len;
	const uint8_t *sender_entry;
	size_t sender_entry_len;
	const uint8_t *recipient_entry;
	size_t recipient_entry_len;
	const struct dossier_receipt_in *receipts;
	size_t n_receipts;
	const uint8_t *checkpoint; /* signed text */
	size_t checkpoint_len;
	const struct dossier_proof_in *proofs; /* from each smaller receipt checkpoint */
	size_t n_proofs;
};

/*
 * Assembles a dossier (a malloc'd serialized dx.Dossier): receipts are put
 * in leaf order, proofs in size order, and the salt that fetch receipts
 * repeat is left out. The result is verified before it is returned; its
 * error is returned otherwise.
 */
int dossier_build(const struct dossier_parts *p, uint8_t **out, size_t *out_len) DX_MUST_CHECK;

struct dossier_event {
	enum relay_leaf_kind kind;
	uint64_t leaf_index;
	uint64_t time_ms;	     /* the relay's time in the leaf */
	uint64_t request_time_ms;    /* fetched, acknowledged: the recipient's clock */
	uint64_t checkpoint_size;    /* of the receipt's checkpoint */
	char state[DX_STATE_LEN + 1]; /* who: the sender (accepted) or the recipient */
};

/* What a dossier shows; filled as far as verification got. */
struct dossier_report {
	char relay_name[CHECKPOINT_KEY_NAME_MAX + 1];
	uint8_t relay_pk[KEYS_SIGN_PK_LEN];
	int have_envelope;
	uint8_t envelope_id[ENVELOPE_ID_LEN];
	uint8_t digest[ENVELOPE_HASH_LEN];
	char sender[DX_STATE_LEN + 1];
	char recipient[DX_STATE_LEN + 1];
	uint64_t created_ms;
	int have_entries;
	char sender_fingerprint[KEYS_FP_STR_LEN];
	char recipient_fingerprint[KEYS_FP_STR_LEN];
	int have_checkpoint;
	uint64_t checkpoint_size;
	uint8_t checkpoint_root[MERKLE_HASH_LEN];
	size_t n_events; /* verified events, in leaf order */
	struct dossier_event events[DOSSIER_MAX_RECEIPTS];
	int fetched, acknowledged; /* counts among the events */
	const char *failed_step;   /* NULL when verified; what failed otherwise */
};

/*
 * Verifies a dossier (PROTOCOL.md 14.2, in that order). With relay != NULL
 * the dossier's relay key must be relay->pk, and its name relay->name unless
 * that is empty (DX_ESIG otherwise).
 * Returns 0 or the first failure's code; report (always written) says what
 * was shown and, on failure, which step failed.
 */
int dossier_verify(const uint8_t *buf, size_t len, const struct relay_identity *relay,
		   struct dossier_report *report) DX_MUST_CHECK;

const char *dossier_event_name(enum relay_leaf_kind kind);

#endif
