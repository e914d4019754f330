/*
 * fuzz_roster.c: roster_entry_verify on arbitrary bytes, in two modes.
 *
 * An input that starts with a byte other than 0x00 is a serialized
 * SignedRosterEntry, as it arrives from the Secretariat's roster or a peer.
 * An input that starts with 0x00 is the inner RosterEntry: the harness signs
 * the rest with the identity key of the test-vector State (seed 32 x 0x01,
 * "FRA", PROTOCOL.md 9), so that entries which keep that identity key get past
 * the outer signature and the fuzzer reaches the inner checks. Either way the
 * verifier must refuse anything malformed without crashing or leaking.
 */
#include <stdlib.h>
#include <string.h>

#include "roster.h"
#include "wire.pb-c.h"

#define SIGN_MAX ROSTER_ENTRY_MAX

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char LABEL[] = "divex/v1/roster-entry";
static struct keys *signer;

static void verify(const uint8_t *buf, size_t len)
{
	struct roster_entry *e = NULL;
	if (roster_entry_verify(buf, len, &e) != DX_OK) {
		return;
	}
	/* Touch what a caller would use. */
	(void)roster_entry_current_prekey(e, e->issued_ms);
	for (size_t i = 0; i < e->msg->n_contacts; i++) {
		(void)e->msg->contacts[i]->n_languages;
	}
	roster_entry_free(e);
}

static void sign_and_verify(const uint8_t *entry, size_t len)
{
	uint8_t sig[KEYS_SIG_LEN];
	uint8_t *stmt = malloc(sizeof(LABEL) + len);
	if (stmt == NULL) {
		return;
	}
	memcpy(stmt, LABEL, sizeof(LABEL));
	memcpy(stmt + sizeof(LABEL), entry, len);
	keys_sign(signer, sig, stmt, sizeof(LABEL) + len);
	free(stmt);

	Dx__SignedRosterEntry sre = DX__SIGNED_ROSTER_ENTRY__INIT;
	sre.entry.data = (uint8_t *)entry;
	sre.entry.len = len;
	sre.signature.data = sig;
	sre.signature.len = KEYS_SIG_LEN;
	uint8_t *buf = malloc(dx__signed_roster_entry__get_packed_size(&sre));
	if (buf == NULL) {
		return;
	}
	verify(buf, dx__signed_roster_entry__pack(&sre, buf));
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (signer == NULL) {
		uint8_t seed[32];
		memset(seed, 0x01, sizeof(seed));
		if (keys_generate("FRA", 1700000000000ull, KEYS_PREKEY_PERIOD_MS, seed, &signer) !=
		    DX_OK) {
			abort();
		}
	}
	if (size > 0 && data[0] == 0x00) {
		if (size - 1 <= SIGN_MAX) {
			sign_and_verify(data + 1, size - 1);
		}
		return 0;
	}
	verify(data, size);
	return 0;
}
