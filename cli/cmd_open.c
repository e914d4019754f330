/*
 * cmd_open.c: the verbs of `divex envelope` that read an envelope: `open`
 * (verify, decrypt, show, and optionally save the attachments) and `inspect`
 * (the keyless view, which is exactly what the relay can see).
 *
 * An envelope is accepted only whole: its id is recorded in <home>/opened-ids
 * after the payload decoded and every requested attachment authenticated, and
 * only then is the content printed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"
#include "cli.h"
#include "seal.h"
#include "wire.pb-c.h"

enum {
	OPT_FROM = CLI_OPT_FIRST_VERB,
};

struct open_ctx {
	const struct roster_entry *sender;
	const char *ids_path;
};

/* The sender is the State of the --from entry, and no one else. */
static int lookup_sender(void *ctx, const char *state,
			 const uint8_t identity_id[static KEYS_ID_LEN], struct seal_peer *out)
{
	const struct open_ctx *oc = ctx;
	const struct roster_entry *e = oc->sender;
	if (strcmp(state, e->state) != 0 ||
	    sodium_memcmp(identity_id, e->identity_id, KEYS_ID_LEN) != 0) {
		return DX_ESENDER;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out->state, e->state, sizeof(out->state));
	memcpy(out->identity_pk, e->identity_pk, KEYS_SIGN_PK_LEN);
	memcpy(out->static_pk, e->static_pk, KEYS_DH_PK_LEN);
	return DX_OK;
}

static int seen(void *ctx, const uint8_t id[static ENVELOPE_ID_LEN])
{
	const struct open_ctx *oc = ctx;
	return cli_opened_seen(oc->ids_path, id);
}

static int refused(struct cli *c, int rc, const char *file, const struct roster_entry *from,
		   const uint8_t *buf, size_t len)
{
	struct envelope_info info;
	if (rc == DX_ESENDER && envelope_parse(buf, len, &info) == DX_OK) {
		return cli_fail(
			c, CLI_EXIT_REFUSED, dx_errname(rc),
			"%s was refused: it names %s as its sender, but the --from entry is "
			"%s's; give the sender's own entry",
			file, info.sender, from->state);
	}
	int status = cli_error(c, rc, "%s was refused", file);
	return status == CLI_EXIT_FAILED ? status : CLI_EXIT_REFUSED;
}

/* Saves each attachment of pl from <file>.att<N> into dir. */
static int save_attachments(struct cli *c, const char *file, const char *dir, const Dx__Payload *pl,
			    char **saved)
{
	char stream[4096];
	int rc = dx_mkdir_p(dir);
	if (rc != DX_OK) {
		return cli_error(c, rc, "creating the output directory %s", dir);
	}
	struct attach_meta *m = sodium_malloc(sizeof(*m));
	if (m == NULL) {
		return cli_error(c, DX_ENOMEM, "allocating an attachment key");
	}
	int status = CLI_EXIT_OK;
	for (size_t i = 0; i < pl->n_attachments && status == CLI_EXIT_OK; i++) {
		const Dx__AttachmentRef *r = pl->attachments[i];
		cli_ref_meta(r, m);
		saved[i] = malloc(4096);
		if (saved[i] == NULL) {
			status = cli_error(c, DX_ENOMEM, "saving attachments");
		} else if (snprintf(stream, sizeof(stream), "%s.att%zu", file, i + 1) >=
			   (int)sizeof(stream)) {
			status = cli_error(c, DX_EINVAL, "envelope path too long: %s", file);
		} else {
			status = cli_attach_decrypt(c, stream, dir, r->name, i + 1, m, saved[i],
						    4096);
		}
		if (status != CLI_EXIT_OK) {
			free(saved[i]);
			saved[i] = NULL;
		}
	}
	sodium_free(m);
	return status;
}

static void print_opened(struct out *o, const struct opened *op, const struct roster_entry *from,
			 const Dx__Payload *pl, char *const *saved)
{
	char fp[KEYS_FP_STR_LEN];
	const struct envelope_info *i = &op->info;
	keys_fingerprint(fp, from->state, from->identity_pk);
	out_hex(o, "envelope_id", "Envelope id", i->id, ENVELOPE_ID_LEN);
	out_str(o, "sender", "From", i->sender);
	out_str(o, "sender_fingerprint", "Sender fingerprint", fp);
	out_str(o, "recipient", "To", i->recipient);
	out_u64(o, "sequence", "Sequence", i->sequence);
	out_time(o, "created", "Sealed at", i->created_ms);
	out_str(o, "verified", "Verified",
		"sender signatures (envelope and content), decryption, freshness, not a replay");
	cli_print_payload(o, pl, saved);
}

/* clang-format off */
const char envelope_open_usage[] =
	"usage: divex envelope open FILE --from ENTRYFILE [-o OUTDIR] [options]\n"
	"\n"
	"Verifies and decrypts an envelope sealed to this State by the State whose\n"
	"roster entry is ENTRYFILE, then shows its marking (always, before the\n"
	"content), subject, text and attachments. With -o, each attachment is\n"
	"decrypted from FILE.att<N> beside the envelope into OUTDIR. An envelope is\n"
	"accepted once: its id is recorded in <home>/opened-ids and a second opening\n"
	"is refused as a replay. Exits with status 3 when anything fails to verify.\n"
	"\n"
	"options:\n"
	"      --from ENTRYFILE      the sender's roster entry (enrollment.dxe)\n"
	"  -o, --output OUTDIR       save the attachments in OUTDIR\n"
	CLI_HELP_PASSPHRASE CLI_HELP_COMMON;
/* clang-format on */

int envelope_open(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		CLI_LONGOPTS_PASSPHRASE,
		{ "from", required_argument, NULL, OPT_FROM },
		{ "output", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	const char *from_path = NULL, *outdir = NULL;
	int opt, status = CLI_CONTINUE;

	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		if (opt == OPT_FROM) {
			from_path = optarg;
		} else if (opt == 'o') {
			outdir = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1 || from_path == NULL) {
		return cli_usage(c, "give one envelope FILE and --from ENTRYFILE");
	}
	const char *file = argv[optind];

	char ids_path[4096];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct roster_entry *from = NULL;
	struct keys *k = NULL;
	struct opened op;
	Dx__Payload *pl = NULL;
	char *saved[ENVELOPE_MAX_ATTACHMENTS] = { NULL };
	memset(&op, 0, sizeof(op));

	int rc = dx_read_file(file, ENVELOPE_MAX, &buf, &len);
	if (rc != DX_OK) {
		return cli_error(c, rc, "reading the envelope %s", file);
	}
	if ((status = cli_path(c, ids_path, sizeof(ids_path), cli_home(c), CLI_OPENED_IDS_FILE)) !=
		    CLI_EXIT_OK ||
	    (status = cli_load_entry(c, from_path, &from)) != CLI_EXIT_OK ||
	    (status = cli_load_keys(c, &k, NULL)) != CLI_EXIT_OK) {
		goto out;
	}
	struct open_ctx ctx = { .sender = from, .ids_path = ids_path };
	struct open_params p = {
		.recipient = k,
		.lookup_sender = lookup_sender,
		.seen = seen,
		.ctx = &ctx,
		.now_ms = dx_now_ms(),
		.max_age_ms = OPEN_DEFAULT_MAX_AGE_MS,
		.max_skew_ms = OPEN_DEFAULT_MAX_SKEW_MS,
	};
	rc = open_envelope(&p, buf, len, &op);
	if (rc != DX_OK) {
		status = refused(c, rc, file, from, buf, len);
		goto out;
	}
	rc = cli_payload_decode(op.body, op.body_len, &pl);
	if (rc == DX_OK) {
		rc = cli_check_payload(pl, &op.info);
	}
	if (rc != DX_OK) {
		status = cli_error(c, rc, "%s was refused: its signed payload is malformed", file);
		goto out;
	}
	if (outdir != NULL &&
	    (status = save_attachments(c, file, outdir, pl, saved)) != CLI_EXIT_OK) {
		goto out;
	}
	if ((rc = cli_opened_record(ids_path, op.info.id)) != DX_OK) {
		status = cli_error(c, rc, "recording the envelope id in %s", ids_path);
		goto out;
	}
	struct out o;
	out_init(&o, c);
	print_opened(&o, &op, from, pl, saved);
	status = out_finish(&o, c);
out:
	for (size_t i = 0; i < ENVELOPE_MAX_ATTACHMENTS; i++) {
		free(saved[i]);
	}
	cli_payload_free(pl);
	opened_clear(&op);
	keys_free(k);
	roster_entry_free(from);
	free(buf);
	return status;
}

static const char *suite_name(uint32_t suite)
{
	return suite == ENVELOPE_SUITE_X25519_ED25519_XCHACHA
		       ? "1 (X25519, Ed25519, BLAKE2b, XChaCha20-Poly1305)"
		       : "unknown";
}

/* clang-format off */
const char envelope_inspect_usage[] =
	"usage: divex envelope inspect FILE [options]\n"
	"\n"
	"Parses an envelope without any key and prints what the relay, or anyone\n"
	"holding the file, can see: routing metadata, key ids, sizes and hashes.\n"
	"Signatures are not checked here; 'divex envelope open' checks them.\n"
	"Exits with status 3 if FILE is not a well-formed envelope.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

int envelope_inspect(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 },
	};
	int status = cli_opt_parse_common(c, v, argc, argv, longopts);
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc - optind != 1) {
		return cli_usage(c, "give exactly one envelope FILE");
	}
	const char *file = argv[optind];
	uint8_t *buf = NULL;
	size_t len = 0;
	struct envelope_info *i = malloc(sizeof(*i));
	int rc = i == NULL ? DX_ENOMEM : dx_read_file(file, ENVELOPE_MAX, &buf, &len);
	if (rc != DX_OK) {
		free(i);
		return cli_error(c, rc, "reading the envelope %s", file);
	}
	rc = envelope_parse(buf, len, i);
	if (rc != DX_OK) {
		status = cli_error(c, rc, "%s is not a well-formed envelope", file);
		goto out;
	}
	struct out o;
	out_init(&o, c);
	out_str(&o, "suite", "Suite", suite_name(i->suite));
	out_hex(&o, "envelope_id", "Envelope id", i->id, ENVELOPE_ID_LEN);
	out_str(&o, "sender", "From", i->sender);
	out_str(&o, "recipient", "To", i->recipient);
	out_u64(&o, "sequence", "Sequence", i->sequence);
	out_time(&o, "created", "Sealed at", i->created_ms);
	out_hex(&o, "sender_identity_key_id", "Sender identity key", i->sender_identity_id,
		KEYS_ID_LEN);
	out_hex(&o, "sender_static_key_id", "Sender static key", i->sender_static_id, KEYS_ID_LEN);
	out_hex(&o, "recipient_static_key_id", "Recipient static key", i->recipient_static_id,
		KEYS_ID_LEN);
	out_hex(&o, "recipient_prekey_id", "Recipient prekey", i->recipient_prekey_id, KEYS_ID_LEN);
	out_u64(&o, "size", "Size (bytes)", len);
	out_u64(&o, "header_size", "Header (bytes)", i->header_len);
	out_u64(&o, "ciphertext_size", "Ciphertext (bytes)", i->ciphertext_len);
	out_u64(&o, "checkpoint_size", "Checkpoint (bytes)", i->checkpoint_len);
	out_list_begin(&o, "attachment_ids", "Attachment ids");
	for (size_t a = 0; a < i->n_attachments; a++) {
		out_hex(&o, NULL, "", i->attachment_ids[a], 16);
	}
	out_list_end(&o);
	out_hex(&o, "ciphertext_hash", "Ciphertext hash", i->ciphertext_hash, ENVELOPE_HASH_LEN);
	out_hex(&o, "digest", "Digest", i->digest, ENVELOPE_HASH_LEN);
	out_bool(&o, "signature_checked", "Signature checked", 0);
	out_note(&o, "\nThis is all a relay sees. The subject, text, marking and attachment names\n"
		     "and keys are inside the encryption; 'divex envelope open' verifies the\n"
		     "signatures.");
	status = out_finish(&o, c);
out:
	free(buf);
	free(i);
	return status;
}
