/*
 * gen_vectors: prints the envelope test vectors (PROTOCOL.md section 9).
 *   build/tests/gen_vectors > tests/vectors/envelope.json
 */
#include <stdio.h>
#include <stdlib.h>

#include "vectors.h"

int main(void)
{
	char *s = vectors_envelope_dump();
	if (s == NULL) {
		fprintf(stderr, "gen_vectors: could not build the vectors\n");
		return 1;
	}
	printf("%s\n", s);
	free(s);
	return 0;
}
