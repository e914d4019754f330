/*
 * fuzz_case_json: the CLI's case file parser (cli/case_json.c), which reads
 * a file the officer wrote (or was handed). Whatever it accepts must pack to
 * a case note that decodes canonically and prints without trouble, in text
 * and in JSON; whatever it refuses must say why.
 */
#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "case_json.h"
#include "casework.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *note = NULL;
	size_t len = 0;
	char err[512];
	ProtobufCMessage *m = NULL;
	int rc = case_json_parse((const char *)data, size, &note, &len, err, sizeof(err));
	if (rc != DX_OK) {
		assert(err[0] != '\0');
		return 0;
	}
	assert(proto_unpack_strict(&dx__case_note__descriptor, note, len, CASE_JSON_MAX, &m) ==
	       DX_OK);
	protobuf_c_message_free_unpacked(m, NULL);
	/* JSON mode only builds an object: nothing reaches the fuzzer's output. */
	struct cli c = { .json = 1, .pass_fd = -1 };
	struct out o;
	out_init(&o, &c);
	cli_print_case_note(&o, "note", note, len);
	out_discard(&o);
	free(note);
	return 0;
}
