/*
 * vectors.h: the deterministic envelope test vectors of PROTOCOL.md section 9,
 * produced by one function so that the generator program and the test that
 * checks the committed file cannot drift apart.
 */
#ifndef DIVEX_TESTS_VECTORS_H
#define DIVEX_TESTS_VECTORS_H

#include <jansson.h>

/* Builds the vector document; NULL on failure. The caller json_decref()s it. */
json_t *vectors_envelope(void);
/* Serializes it exactly as committed in tests/vectors/envelope.json. */
char *vectors_envelope_dump(void);

#endif
