/*
 * cmd_dossier.c: audit dossiers (daemon/core/dossier.h, PROTOCOL.md 14) for
 * the unauthorized-disclosure procedure. `divex audit verify FILE` is the
 * offline check: it needs no key file, no daemon and no network, only the
 * file and, to pin it, the relay's public key. `divex audit dossier ID`
 * asks this State's daemon for the dossier of a message it sent, checks it
 * the same way and writes it to a new file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.pb-c.h"
#include "dossier.h"

enum { OPT_RELAY_KEY = CLI_OPT_FIRST_VERB, OPT_RELAY_NAME, OPT_OUTPUT };

/* clang-format off */
const char audit_verify_usage[] =
	"usage: divex audit verify [options] FILE\n"
	"\n"
	"Checks an audit dossier offline: the envelope's outer signature under the\n"
	"sender's roster entry, every relay receipt in the relay's signed checkpoints,\n"
	"the recipient's own signed fetch and acknowledgement requests, and that all\n"
	"the checkpoints belong to one log. Prints who sent the envelope to whom and\n"
	"when the recipient fetched and acknowledged it. Compare the fingerprints\n"
	"shown with those verified out of band, and the relay key with the\n"
	"Secretariat's published key (or give it with --relay-key). Exits 0 when\n"
	"everything verifies and 3 on any failure.\n"
	"\n"
	"options:\n"
	"      --relay-key HEX       the relay's Ed25519 public key (64 hex digits):\n"
	"                            the dossier must name this key\n"
	"      --relay-name NAME     and this relay name (origin)\n"
	CLI_HELP_COMMON;
/* clang-format on */

static void print_report(struct out *o, const struct dossier_report *r, int pinned)
{
	char hex[2 * ENVELOPE_HASH_LEN + 1];
	if (r->relay_name[0] != '\0') {
		out_str(o, "relay", "Relay", r->relay_name);
		out_hex(o, "relay_key", "Relay key", r->relay_pk, KEYS_SIGN_PK_LEN);
		out_bool(o, "relay_key_given", "Relay key checked", pinned);
	}
	if (r->have_envelope) {
		out_hex(o, "envelope_id", "Envelope id", r->envelope_id, ENVELOPE_ID_LEN);
		out_hex(o, "digest", "Digest", r->digest, ENVELOPE_HASH_LEN);
		out_str(o, "sender", "From", r->sender);
		out_str(o, "recipient", "To", r->recipient);
		out_time(o, "created", "Sealed at (sender's clock)", r->created_ms);
	}
	if (r->have_entries) {
		out_str(o, "sender_fingerprint", "Sender fingerprint", r->sender_fingerprint);
		out_str(o, "recipient_fingerprint", "Recipient fingerprint",
			r->recipient_fingerprint);
	}
	if (r->have_checkpoint) {
		out_u64(o, "checkpoint_size", "Checkpoint size", r->checkpoint_size);
		dx_hex(hex, r->checkpoint_root, MERKLE_HASH_LEN);
		out_str(o, "checkpoint_root", "Checkpoint root", hex);
	}
	static const struct out_col cols[] = {
		{ "event", "EVENT", 14 },
		{ "state", "BY", 5 },
		{ "leaf_index", "LEAF", 8 },
		{ "relay_time", "RELAY TIME", 0 },
	};
	out_table_begin(o, "events", "no verified event", cols, sizeof(cols) / sizeof(cols[0]));
	for (size_t i = 0; i < r->n_events; i++) {
		const struct dossier_event *e = &r->events[i];
		out_item_begin(o);
		out_str(o, "event", "Event", dossier_event_name(e->kind));
		out_str(o, "state", "By", e->state);
		out_u64(o, "leaf_index", "Leaf", e->leaf_index);
		out_ms(o, "relay_time", "Relay time", e->time_ms, "-");
		out_ms(o, "request_time", "Request time", e->request_time_ms, "-");
		out_u64(o, "checkpoint_size", "Checkpoint size", e->checkpoint_size);
		out_item_end(o);
	}
	out_table_end(o);
	out_u64(o, "fetched", "Fetched", (uint64_t)r->fetched);
	out_u64(o, "acknowledged", "Acknowledged", (uint64_t)r->acknowledged);
	out_bool(o, "verified", "Verified", r->failed_step == NULL);
	if (r->failed_step != NULL) {
		out_str(o, "failed_step", "Failed at", r->failed_step);
	}
}

int audit_verify(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "relay-key", required_argument, NULL, OPT_RELAY_KEY },
		{ "relay-name", required_argument, NULL, OPT_RELAY_NAME },
		{ NULL, 0, NULL, 0 },
	};
	const char *key_hex = NULL, *name = NULL;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_RELAY_KEY) {
			key_hex = optarg;
		} else if (opt == OPT_RELAY_NAME) {
			name = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give exactly one dossier FILE");
	}
	struct relay_identity pin;
	memset(&pin, 0, sizeof(pin));
	if (name != NULL && key_hex == NULL) {
		return cli_usage(c, "--relay-name goes with --relay-key");
	}
	if (key_hex != NULL && dx_unhex(pin.pk, KEYS_SIGN_PK_LEN, key_hex) != DX_OK) {
		return cli_usage(c, "--relay-key takes 64 hex digits");
	}
	if (name != NULL && !checkpoint_name_valid(name)) {
		return cli_usage(c, "--relay-name is not a valid relay name");
	}
	snprintf(pin.name, sizeof(pin.name), "%s", name != NULL ? name : "");

	const char *file = argv[optind];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct dossier_report *r = malloc(sizeof(*r));
	int rc = r == NULL ? DX_ENOMEM : dx_read_file(file, DOSSIER_MAX, &buf, &len);
	if (rc != DX_OK) {
		free(r);
		return cli_error(c, rc, "reading the dossier %s", file);
	}
	rc = dossier_verify(buf, len, key_hex != NULL ? &pin : NULL, r);
	struct out o;
	out_init(&o, c);
	print_report(&o, r, key_hex != NULL);
	if (rc == DX_OK) {
		out_note(&o, "\nThe dossier verifies: every receipt is in the relay's log and the "
			    "recipient's requests are signed by its roster key.");
	}
	status = out_finish(&o, c);
	if (rc != DX_OK) {
		cli_error(c, rc, "the dossier %s does not verify (%s)", file, r->failed_step);
		status = CLI_EXIT_REFUSED;
	}
	free(buf);
	free(r);
	return status;
}

/* clang-format off */
const char audit_dossier_usage[] =
	"usage: divex audit dossier ID -o FILE\n"
	"\n"
	"Writes the audit dossier of the message ID (a unique prefix of at least 6\n"
	"hex digits of its message or envelope id) that this State sent and the\n"
	"relay accepted: the sealed envelope, both States' roster entries, the\n"
	"relay's receipts and the recipient's own signed fetch and acknowledgement\n"
	"requests, which divexd asks the relay for, with a signed checkpoint and the\n"
	"proofs that tie them together. The dossier is checked here before it is\n"
	"written to FILE, a new file of mode 0600 (an existing file is never\n"
	"overwritten). Anyone can check it with 'divex audit verify FILE'.\n"
	"\n"
	"options:\n"
	"  -o, --output FILE         where to write the dossier (required)\n"
	CLI_HELP_COMMON;
/* clang-format on */

int cli_fetch_dossier(struct cli *c, const char *id, uint8_t **out, size_t *out_len,
		      uint8_t envelope_id[static 16])
{
	Dx__DossierOp op = DX__DOSSIER_OP__INIT;
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__ControlResponse *resp = NULL;
	op.id = (char *)id;
	req.op_case = DX__CONTROL_REQUEST__OP_DOSSIER;
	req.dossier = &op;
	int status = cli_ctl_call(c, &req, &resp, "building the dossier of %s", id);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	const Dx__DossierResult *r = resp->dossier;
	if (r->dossier.len == 0 || r->dossier.len > DOSSIER_MAX || r->envelope_id.len != 16) {
		cli_ctl_free(resp);
		return cli_error(c, DX_EPARSE, "the dossier divexd gave is malformed");
	}
	*out = malloc(r->dossier.len);
	if (*out == NULL) {
		cli_ctl_free(resp);
		return cli_error(c, DX_ENOMEM, "copying the dossier");
	}
	memcpy(*out, r->dossier.data, r->dossier.len);
	*out_len = r->dossier.len;
	memcpy(envelope_id, r->envelope_id.data, 16);
	cli_ctl_free(resp);
	return CLI_EXIT_OK;
}

int audit_dossier(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "output", required_argument, NULL, OPT_OUTPUT },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	int opt, status = CLI_CONTINUE;
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		if (opt == OPT_OUTPUT || opt == 'o') {
			path = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give exactly one message ID");
	}
	if (path == NULL) {
		return cli_usage(c, "-o FILE is required: where to write the dossier");
	}
	uint8_t *buf = NULL, envelope_id[16];
	size_t len = 0;
	if ((status = cli_fetch_dossier(c, argv[optind], &buf, &len, envelope_id)) != CLI_EXIT_OK) {
		return status;
	}
	struct dossier_report *r = malloc(sizeof(*r));
	int rc = r == NULL ? DX_ENOMEM : dossier_verify(buf, len, NULL, r);
	if (rc != DX_OK) {
		status = cli_error(c, rc, "the dossier divexd built does not verify (%s)",
				   r != NULL && r->failed_step != NULL ? r->failed_step : "memory");
	} else if ((rc = dx_write_file_atomic(path, buf, len, 0600, 0)) != DX_OK) {
		status = cli_error(c, rc, "writing the dossier to %s", path);
	} else {
		struct out o;
		out_init(&o, c);
		out_str(&o, "file", "Written to", path);
		print_report(&o, r, 0);
		out_note(&o, "\nCheck it anywhere with 'divex audit verify --relay-key HEX %s'.", path);
		status = out_finish(&o, c);
	}
	free(buf);
	free(r);
	return status;
}
