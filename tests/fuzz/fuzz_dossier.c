/*
 * fuzz_dossier.c: libFuzzer harness for audit dossiers
 * (daemon/core/dossier.h): the whole input is a dossier, verified with no
 * pinned relay. Verification must never crash, and the report must name a
 * failed step exactly when verification fails.
 */
#include <stdlib.h>

#include "dossier.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	struct dossier_report rep;
	if (!ready) {
		if (sodium_init() < 0) {
			abort();
		}
		ready = 1;
	}
	int rc = dossier_verify(data, size, NULL, &rep);
	if ((rc == DX_OK) != (rep.failed_step == NULL) || rep.n_events > DOSSIER_MAX_RECEIPTS) {
		abort();
	}
	return 0;
}
