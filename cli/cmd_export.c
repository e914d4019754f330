/*
 * cmd_export.c: `divex export`: a received item, for a national authority,
 * when the provider's consent allows the use (rule 16, Model ToR;
 * docs/casework.md).
 *
 * divexd decides: it verifies every decision it holds for the item against
 * the provider's pinned roster entry and applies the rule of
 * docs/casework-rules.md. Allowed, the CLI writes one JSON document (mode
 * 0600, never over an existing file): the marking first, then the item's
 * content, then each signed decision that allows the use, in hex with its
 * signer, signing key and date, so that the authority can check it without
 * divex. The CLI checks each decision itself too before writing it.
 * Refused, nothing is written and the exit status is 3.
 */
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "consent.h"
#include "control.pb-c.h"
#include "wire.pb-c.h"

enum {
	OPT_PURPOSE = CLI_OPT_FIRST_VERB,
	OPT_BODY,
};

/* clang-format off */
static const char export_usage[] =
	"usage: divex export ITEM --purpose PURPOSE [--body NAME] -o FILE\n"
	"\n"
	"Writes the received item ITEM (a unique prefix of its id, see 'divex inbox')\n"
	"into FILE for a national authority, if the provider's signed consent allows\n"
	"the use: the marking first, the content, and the consent decisions that\n"
	"allow it, with their signatures. Without the consent the marking requires,\n"
	"nothing is written, the missing consent is named and the exit status is 3.\n"
	"PURPOSE is operational, disclosure (with --body), briefing, or\n"
	"dissemination (within this State's competent national authorities).\n"
	"\n"
	"options:\n"
	"      --purpose PURPOSE     the intended use (required)\n"
	"      --body NAME           the court or administrative body, for a disclosure\n"
	"  -o, --output FILE         the file to write (mode 0600; must not exist)\n"
	CLI_HELP_COMMON;
/* clang-format on */

/* Checks a decision offline as the authority would, and that it covers the item. */
static int check_decision(const Dx__ExportDecision *x, const Dx__ExportResult *r)
{
	struct consent_decision *d = NULL;
	if (x->provider_identity_key.len != KEYS_SIGN_PK_LEN ||
	    r->item_hash.len != CONSENT_ITEM_HASH_LEN) {
		return DX_EPARSE;
	}
	int rc = consent_decision_verify(x->decision.data, x->decision.len, x->provider,
					 x->provider_identity_key.data, &d);
	if (rc == DX_OK && (!consent_decision_covers(d, r->item_hash.data) ||
			    strcmp(d->provider, r->sender) != 0)) {
		rc = DX_ESIG;
	}
	consent_decision_free(d);
	return rc;
}

static void put_decisions(struct out *o, const Dx__ExportResult *r)
{
	out_list_begin(o, "consent_decisions", "Consent decisions");
	for (size_t i = 0; i < r->n_decisions; i++) {
		const Dx__ExportDecision *x = r->decisions[i];
		out_item_begin(o);
		out_text(o, "provider", "signed by", x->provider, strlen(x->provider));
		out_hex(o, "provider_identity_key", "identity key", x->provider_identity_key.data,
			x->provider_identity_key.len);
		out_text(o, "recipient", "given to", x->recipient, strlen(x->recipient));
		out_str(o, "purpose", "purpose", x->purpose);
		out_text(o, "body", "body", x->body, strlen(x->body));
		out_str(o, "outcome", "outcome", x->outcome);
		out_text(o, "conditions", "conditions", x->conditions, strlen(x->conditions));
		out_ms(o, "decided_ms", "decided", x->decided_ms, NULL);
		out_hex(o, "request_envelope_id", "request", x->request_envelope_id.data,
			x->request_envelope_id.len);
		out_hex(o, "statement", "statement", x->statement.data, x->statement.len);
		out_hex(o, "signature", "signature", x->signature.data, x->signature.len);
		out_hex(o, "decision", "decision", x->decision.data, x->decision.len);
		out_item_end(o);
	}
	out_list_end(o);
}

/* The document for the authority, as JSON text (malloc'd). */
static char *document(struct cli *c, const Dx__ExportResult *r, const Dx__Payload *pl)
{
	struct cli jc = *c;
	struct out o;
	char *text = NULL;
	jc.json = 1;
	out_init(&o, &jc);
	/* The marking first, then the content, exactly as 'divex read' shows them. */
	cli_print_payload(&o, pl, NULL);
	out_obj_begin(&o, "item", "Item");
	out_hex(&o, "envelope_id", "envelope", r->envelope_id.data, r->envelope_id.len);
	out_text(&o, "provider", "provider", r->sender, strlen(r->sender));
	out_ms(&o, "received_ms", "received", r->received_ms, NULL);
	out_hex(&o, "item_hash", "item hash", r->item_hash.data, r->item_hash.len);
	out_obj_end(&o);
	out_obj_begin(&o, "use", "Use");
	out_str(&o, "purpose", "purpose", r->use);
	out_text(&o, "body", "body", r->body, strlen(r->body));
	out_str(&o, "consent_needed", "consent needed",
		r->consent_needed[0] != '\0' ? r->consent_needed : "none");
	out_text(&o, "conditions", "conditions", r->conditions, strlen(r->conditions));
	out_obj_end(&o);
	put_decisions(&o, r);
	out_str(&o, "how_to_verify", "how to verify",
		"each signature is Ed25519 by provider_identity_key over the ASCII text "
		"'divex/v1/consent', a 0x00 byte and the statement bytes; item_hash is "
		"BLAKE2b-256 of 'divex/v1/consent-item', a 0x00 byte and the envelope "
		"digest (docs/PROTOCOL.md section 13)");
	if (!o.failed && o.depth > 0) {
		text = json_dumps((json_t *)o.stack[0], JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	}
	out_discard(&o);
	return text;
}

static int write_export(struct cli *c, const char *path, const Dx__ExportResult *r)
{
	Dx__Payload *pl = NULL;
	int rc = cli_payload_decode(r->payload.data, r->payload.len, &pl);
	if (rc != DX_OK) {
		return cli_error(c, rc, "the item's payload");
	}
	for (size_t i = 0; i < r->n_decisions; i++) {
		if ((rc = check_decision(r->decisions[i], r)) != DX_OK) {
			cli_payload_free(pl);
			return cli_error(c, rc,
					 "the consent decision divexd gave does not verify; "
					 "nothing was written");
		}
	}
	char *text = document(c, r, pl);
	cli_payload_free(pl);
	if (text == NULL) {
		return cli_error(c, DX_ENOMEM, "building the export document");
	}
	size_t len = strlen(text);
	rc = dx_write_file_atomic(path, (const uint8_t *)text, len, 0600, 0);
	sodium_memzero(text, len);
	free(text);
	if (rc != DX_OK) {
		return cli_error(c, rc, "writing %s%s", path,
				 rc == DX_EEXIST ? " (it exists: choose a new file)" : "");
	}
	return CLI_EXIT_OK;
}

static int export_run(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "purpose", required_argument, NULL, OPT_PURPOSE },
		{ "body", required_argument, NULL, OPT_BODY },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *purpose = NULL, *body = "", *path = NULL;
	Dx__ControlResponse *resp = NULL;
	struct stat st;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		if (opt == OPT_PURPOSE) {
			purpose = optarg;
		} else if (opt == OPT_BODY) {
			body = optarg;
		} else if (opt == 'o') {
			path = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give the ITEM id");
	}
	if (purpose == NULL || path == NULL) {
		return cli_usage(c, "--purpose and -o FILE are required");
	}
	if (lstat(path, &st) == 0) {
		return cli_error(c, DX_EEXIST, "%s exists: export writes a new file only", path);
	}
	Dx__ExportOp op = DX__EXPORT_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	op.item = argv[optind];
	op.purpose = (char *)purpose;
	op.body = (char *)body;
	req.op_case = DX__CONTROL_REQUEST__OP_EXPORT;
	req.export = &op;
	status = cli_ctl_call(c, &req, &resp, "exporting %s", argv[optind]);
	if (status == CLI_EXIT_OK) {
		const Dx__ExportResult *r = resp->export;
		status = write_export(c, path, r);
		if (status == CLI_EXIT_OK) {
			struct out o;
			out_init(&o, c);
			out_str(&o, "file", "Written", path);
			out_text(&o, "provider", "Provider", r->sender, strlen(r->sender));
			out_str(&o, "use", "Use", r->use);
			out_str(&o, "consent_needed", "Consent needed",
				r->consent_needed[0] != '\0' ? r->consent_needed : "none");
			if (r->conditions[0] != '\0') {
				out_text(&o, "conditions", "Conditions", r->conditions,
					 strlen(r->conditions));
			}
			out_u64(&o, "decisions", "Decisions", r->n_decisions);
			if (r->conditions[0] != '\0') {
				out_note(&o, "\nThe provider's conditions apply to this use: pass "
					     "them on with the file.");
			}
			status = out_finish(&o, c);
		}
	}
	cli_ctl_free(resp);
	return status;
}

const struct cli_verb cli_cmd_export = { "export", export_run,
					 "an item for a national authority, with consent",
					 export_usage };
