/*
 * cmd_envelope.c: `divex envelope`: sealing a message to another State,
 * opening one sealed to this State, and inspecting any envelope without keys,
 * all offline. Files stand in for the relay until the node daemon exists: an
 * envelope is one file, its attachment streams sit beside it as
 * <envelope>.att<N>, and this home's <home>/opened-ids refuses replays.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "canon.h"
#include "cli.h"
#include "seal.h"
#include "wire.pb-c.h"

enum {
	OPT_TO = CLI_OPT_FIRST_VERB,
	OPT_FROM,
	OPT_FILE,
	OPT_SUBJECT,
	OPT_SEQUENCE,
	OPT_HANDLING,
	OPT_RESTRICTIONS,
	OPT_RELEASABILITY,
	OPT_CLASSIFICATION,
	OPT_EVALUATION,
	OPT_CASE,
	OPT_ATTACH,
};

#define DEFAULT_RELEASABILITY "competent national authorities of the recipient State only"

/* Reads the message text from a file or standard input ("-"), capped. */
static int read_text(struct cli *c, const char *path, char **out, size_t *out_len)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	if (strcmp(path, "-") != 0) {
		rc = dx_read_file(path, ENVELOPE_BODY_MAX, &buf, &len);
	} else {
		rc = DX_OK;
		buf = malloc(ENVELOPE_BODY_MAX + 1);
		if (buf == NULL) {
			rc = DX_ENOMEM;
		}
		while (rc == DX_OK && len <= ENVELOPE_BODY_MAX) {
			ssize_t n = read(STDIN_FILENO, buf + len, ENVELOPE_BODY_MAX + 1 - len);
			if (n < 0 && errno == EINTR) {
				continue;
			}
			if (n < 0) {
				rc = dx_from_errno(errno);
			}
			if (n <= 0) {
				break;
			}
			len += (size_t)n;
		}
		if (rc == DX_OK && len > ENVELOPE_BODY_MAX) {
			rc = DX_ETOOBIG;
		}
	}
	if (rc != DX_OK) {
		free(buf);
		return cli_error(c, rc, "reading the message text from %s", path);
	}
	if (memchr(buf, '\0', len) != NULL) {
		free(buf);
		return cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL",
				"the message text in %s contains a NUL byte: send binary data with "
				"--attach FILE instead",
				path);
	}
	char *text = realloc(buf, len + 1);
	if (text == NULL) {
		free(buf);
		return cli_error(c, DX_ENOMEM, "reading the message text");
	}
	text[len] = '\0';
	*out = text;
	*out_len = len;
	return CLI_EXIT_OK;
}

struct seal_opts {
	const char *to, *text_path, *out, *subject, *case_id;
	const char *restrictions, *releasability, *classification;
	char source_eval[2];
	uint32_t info_eval;
	int handling;
	uint64_t sequence;
	const char *attach[ENVELOPE_MAX_ATTACHMENTS];
	size_t n_attach;
};

static int seal_opt(struct cli *c, const struct cli_verb *v, struct seal_opts *s, int opt,
		    char **argv)
{
	switch (opt) {
	case OPT_TO:
		s->to = optarg;
		return CLI_CONTINUE;
	case OPT_FILE:
		s->text_path = optarg;
		return CLI_CONTINUE;
	case 'o':
		s->out = optarg;
		return CLI_CONTINUE;
	case OPT_SUBJECT:
		s->subject = optarg;
		return CLI_CONTINUE;
	case OPT_CASE:
		s->case_id = optarg;
		return CLI_CONTINUE;
	case OPT_RESTRICTIONS:
		s->restrictions = optarg;
		return CLI_CONTINUE;
	case OPT_RELEASABILITY:
		s->releasability = optarg;
		return CLI_CONTINUE;
	case OPT_CLASSIFICATION:
		s->classification = optarg;
		return CLI_CONTINUE;
	case OPT_SEQUENCE:
		if (cli_parse_u64(optarg, 1, UINT64_MAX, &s->sequence) != DX_OK) {
			return cli_usage(c, "--sequence takes a number from 1, not '%s'", optarg);
		}
		return CLI_CONTINUE;
	case OPT_HANDLING:
		if (cli_parse_handling(optarg, &s->handling) != DX_OK) {
			return cli_usage(c, "--handling is H0, H1, H2 or H3, not '%s'", optarg);
		}
		return CLI_CONTINUE;
	case OPT_EVALUATION:
		if (cli_parse_evaluation(optarg, s->source_eval, &s->info_eval) != DX_OK) {
			return cli_usage(c,
					 "--evaluation is a source grade A, B, C or X and an "
					 "information grade 1 to 4, e.g. B2, not '%s'",
					 optarg);
		}
		return CLI_CONTINUE;
	case OPT_ATTACH:
		if (s->n_attach == ENVELOPE_MAX_ATTACHMENTS) {
			return cli_usage(c, "at most %d attachments per envelope",
					 ENVELOPE_MAX_ATTACHMENTS);
		}
		s->attach[s->n_attach++] = optarg;
		return CLI_CONTINUE;
	default:
		return cli_opt_common(c, v, opt, argv);
	}
}

static int seal_check(struct cli *c, struct seal_opts *s, int argc, char **argv)
{
	if (optind < argc) {
		if (argc - optind > 1 || strcmp(argv[optind], "-") != 0 || s->text_path != NULL) {
			return cli_usage(c, "unexpected argument '%s'", argv[optind]);
		}
		s->text_path = "-";
	}
	if (s->to == NULL || s->out == NULL) {
		return cli_usage(c, "--to ENTRYFILE and -o OUT are required");
	}
	if (s->text_path == NULL && s->n_attach == 0) {
		return cli_usage(c, "nothing to seal: give the text with --file FILE (or - for "
				    "standard input), or an --attach FILE");
	}
	if (s->handling == DX__HANDLING_CODE__H3_OTHER_RESTRICTIONS &&
	    (s->restrictions == NULL || s->restrictions[0] == '\0')) {
		return cli_usage(c, "--handling H3 needs --restrictions TEXT spelling them out");
	}
	return CLI_CONTINUE;
}

/* Output files must not exist: an envelope is never silently replaced. */
static int check_outputs(struct cli *c, const struct seal_opts *s)
{
	char path[4096];
	struct stat st;
	for (size_t i = 0; i <= s->n_attach; i++) {
		if (i == 0) {
			snprintf(path, sizeof(path), "%s", s->out);
		} else if (snprintf(path, sizeof(path), "%s.att%zu", s->out, i) >=
			   (int)sizeof(path)) {
			return cli_error(c, DX_EINVAL, "output path too long: %s", s->out);
		}
		if (lstat(path, &st) == 0) {
			return cli_error(c, DX_EEXIST, "%s", path);
		}
	}
	return CLI_EXIT_OK;
}

struct sealed_attachments {
	size_t n;
	struct attach_meta *meta; /* sodium_malloc'd: holds the keys */
	uint8_t ids[ENVELOPE_MAX_ATTACHMENTS][ATTACH_ID_LEN];
	Dx__AttachmentRef refs[ENVELOPE_MAX_ATTACHMENTS];
	Dx__AttachmentRef *ref_ptrs[ENVELOPE_MAX_ATTACHMENTS];
	char names[ENVELOPE_MAX_ATTACHMENTS][CLI_MAX_ATTACHMENT_NAME + 1];
	char paths[ENVELOPE_MAX_ATTACHMENTS][4096];
};

static void unlink_streams(struct sealed_attachments *sa)
{
	for (size_t i = 0; i < sa->n; i++) {
		unlink(sa->paths[i]);
	}
}

static int encrypt_attachments(struct cli *c, const struct seal_opts *s,
			       struct sealed_attachments *sa)
{
	sa->n = 0;
	sa->meta = sodium_malloc(sizeof(struct attach_meta) * ENVELOPE_MAX_ATTACHMENTS);
	if (sa->meta == NULL) {
		return cli_error(c, DX_ENOMEM, "allocating attachment keys");
	}
	for (size_t i = 0; i < s->n_attach; i++) {
		struct attach_meta *m = &sa->meta[i];
		snprintf(sa->paths[i], sizeof(sa->paths[i]), "%s.att%zu", s->out, i + 1);
		int status = cli_attach_encrypt(c, s->attach[i], sa->paths[i], m);
		if (status != CLI_EXIT_OK) {
			unlink_streams(sa);
			return status;
		}
		sa->n++;
		const char *slash = strrchr(s->attach[i], '/');
		snprintf(sa->names[i], sizeof(sa->names[i]), "%s",
			 slash != NULL ? slash + 1 : s->attach[i]);
		memcpy(sa->ids[i], m->id, ATTACH_ID_LEN);
		Dx__AttachmentRef *r = &sa->refs[i];
		dx__attachment_ref__init(r);
		r->attachment_id = (ProtobufCBinaryData){ ATTACH_ID_LEN, m->id };
		r->key = (ProtobufCBinaryData){ ATTACH_KEY_LEN, m->key };
		r->ciphertext_hash = (ProtobufCBinaryData){ ATTACH_HASH_LEN, m->hash };
		r->size = m->size;
		r->stream_size = m->stream_size;
		r->name = sa->names[i];
		sa->ref_ptrs[i] = r;
	}
	return CLI_EXIT_OK;
}

/* Serializes the dx.Payload: a type-1 message, copy 1 of 1 for the recipient. */
static int build_payload(struct cli *c, const struct seal_opts *s, const char *recipient,
			 char *text, struct sealed_attachments *sa, uint8_t **out, size_t *out_len)
{
	Dx__Marking mk = DX__MARKING__INIT;
	Dx__Payload pl = DX__PAYLOAD__INIT;
	mk.handling = (Dx__HandlingCode)s->handling;
	mk.restrictions = (char *)(s->restrictions != NULL ? s->restrictions : "");
	mk.source_evaluation = (char *)s->source_eval;
	mk.information_evaluation = s->info_eval;
	mk.releasability =
		(char *)(s->releasability != NULL ? s->releasability : DEFAULT_RELEASABILITY);
	mk.classification = (char *)(s->classification != NULL ? s->classification : "");
	pl.type = 1;
	pl.case_id = (char *)(s->case_id != NULL ? s->case_id : "");
	pl.marking = &mk;
	pl.copy_number = 1;
	pl.copy_count = 1;
	pl.copy_for = (char *)recipient;
	pl.subject = (char *)(s->subject != NULL ? s->subject : "");
	pl.text = text != NULL ? text : (char *)"";
	pl.n_attachments = sa->n;
	pl.attachments = sa->ref_ptrs;
	int rc = proto_pack_alloc(&pl.base, out, out_len);
	if (rc == DX_OK && *out_len > ENVELOPE_BODY_MAX) {
		sodium_memzero(*out, *out_len);
		free(*out);
		rc = DX_ETOOBIG;
	}
	if (rc != DX_OK) {
		return cli_error(c, rc, "building the message payload");
	}
	return CLI_EXIT_OK;
}

static void print_sealed(struct out *o, const struct seal_opts *s, const struct keys *k,
			 const struct roster_entry *to, const uint8_t id[static ENVELOPE_ID_LEN],
			 uint64_t now, size_t size, const struct sealed_attachments *sa)
{
	out_hex(o, "envelope_id", "Envelope id", id, ENVELOPE_ID_LEN);
	out_str(o, "sender", "From", keys_state(k));
	out_str(o, "recipient", "To", to->state);
	out_u64(o, "sequence", "Sequence", s->sequence);
	out_time(o, "created", "Sealed at", now);
	out_str(o, "file", "Envelope file", s->out);
	out_u64(o, "size", "Size (bytes)", size);
	out_list_begin(o, "attachments", "Attachment streams");
	for (size_t i = 0; i < sa->n; i++) {
		out_item_begin(o);
		out_str(o, "file", "file", sa->paths[i]);
		out_text(o, "name", "name", sa->names[i], strlen(sa->names[i]));
		out_u64(o, "size", "size (bytes)", sa->meta[i].size);
		out_hex(o, "id", "id", sa->ids[i], ATTACH_ID_LEN);
		out_item_end(o);
	}
	out_list_end(o);
	out_note(o, "\nSend %s%s to %s.", s->out, sa->n > 0 ? " together with its .att files" : "",
		 to->state);
}

/* clang-format off */
static const char seal_usage[] =
	"usage: divex envelope seal --to ENTRYFILE (--file MSG | -) -o OUT [options]\n"
	"\n"
	"Seals a message to the State whose verified roster entry is ENTRYFILE:\n"
	"encrypted to its current prekey and static key, signed by this State.\n"
	"The marking travels inside the encryption. Each attachment is encrypted\n"
	"to OUT.att1, OUT.att2, ... beside the envelope.\n"
	"\n"
	"options:\n"
	"      --to ENTRYFILE        the recipient's roster entry (enrollment.dxe)\n"
	"      --file MSG            the message text; '-' reads standard input, as does\n"
	"                            a lone '-' argument\n"
	"  -o, --output OUT          the envelope file to write (never overwritten)\n"
	"      --subject TEXT        subject line\n"
	"      --case ID             the case this message belongs to\n"
	"      --sequence N          per-recipient sequence number, from 1 (default 1)\n"
	"      --handling H          H0 use only for the stated purpose (default);\n"
	"                            H1 not in judicial proceedings without permission;\n"
	"                            H2 no further dissemination without permission;\n"
	"                            H3 other restrictions (give --restrictions)\n"
	"      --restrictions TEXT   the restrictions, for H3\n"
	"      --evaluation XN       source A/B/C/X and information 1-4, e.g. B2\n"
	"      --releasability TEXT  who may see it (default: competent national\n"
	"                            authorities of the recipient State only)\n"
	"      --classification TEXT e.g. RESTRICTED\n"
	"      --attach FILE         attach a file (repeatable, up to 64)\n"
	CLI_HELP_PASSPHRASE CLI_HELP_COMMON;
/* clang-format on */

static int envelope_seal(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		CLI_LONGOPTS_PASSPHRASE,
		{ "to", required_argument, NULL, OPT_TO },
		{ "file", required_argument, NULL, OPT_FILE },
		{ "output", required_argument, NULL, 'o' },
		{ "subject", required_argument, NULL, OPT_SUBJECT },
		{ "case", required_argument, NULL, OPT_CASE },
		{ "sequence", required_argument, NULL, OPT_SEQUENCE },
		{ "handling", required_argument, NULL, OPT_HANDLING },
		{ "restrictions", required_argument, NULL, OPT_RESTRICTIONS },
		{ "evaluation", required_argument, NULL, OPT_EVALUATION },
		{ "releasability", required_argument, NULL, OPT_RELEASABILITY },
		{ "classification", required_argument, NULL, OPT_CLASSIFICATION },
		{ "attach", required_argument, NULL, OPT_ATTACH },
		{ NULL, 0, NULL, 0 },
	};
	struct seal_opts s = { .sequence = 1,
			       .handling = DX__HANDLING_CODE__H0_STATED_PURPOSE_ONLY };
	int opt, status = CLI_CONTINUE;

	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		status = seal_opt(c, v, &s, opt, argv);
	}
	if (status == CLI_CONTINUE) {
		status = seal_check(c, &s, argc, argv);
	}
	if (status != CLI_CONTINUE) {
		return status;
	}

	struct roster_entry *to = NULL;
	struct keys *k = NULL;
	struct sealed_attachments *sa = calloc(1, sizeof(*sa));
	char *text = NULL;
	size_t text_len = 0, body_len = 0, env_len = 0;
	uint8_t *body = NULL, *env = NULL, id[ENVELOPE_ID_LEN];
	if (sa == NULL) {
		return cli_error(c, DX_ENOMEM, "starting");
	}
	if ((status = cli_load_entry(c, s.to, &to)) != CLI_EXIT_OK ||
	    (s.text_path != NULL &&
	     (status = read_text(c, s.text_path, &text, &text_len)) != CLI_EXIT_OK) ||
	    (status = check_outputs(c, &s)) != CLI_EXIT_OK ||
	    (status = cli_load_keys(c, &k, NULL)) != CLI_EXIT_OK) {
		goto out;
	}
	if (strcmp(to->state, keys_state(k)) == 0) {
		status = cli_fail(c, CLI_EXIT_USAGE, "DX_EINVAL",
				  "%s is this State's own entry: an envelope goes to another State",
				  s.to);
		goto out;
	}
	uint64_t now = dx_now_ms();
	const struct roster_prekey *pk = roster_entry_current_prekey(to, now);
	if (pk == NULL) {
		status = cli_error(c, DX_EPREKEY_EXPIRED,
				   "%s has no prekey valid now: ask %s for a fresh enrollment file",
				   s.to, to->state);
		goto out;
	}
	if ((status = encrypt_attachments(c, &s, sa)) != CLI_EXIT_OK ||
	    (status = build_payload(c, &s, to->state, text, sa, &body, &body_len)) != CLI_EXIT_OK) {
		goto out;
	}
	struct seal_peer peer;
	memset(&peer, 0, sizeof(peer));
	memcpy(peer.state, to->state, sizeof(peer.state));
	memcpy(peer.identity_pk, to->identity_pk, KEYS_SIGN_PK_LEN);
	memcpy(peer.static_pk, to->static_pk, KEYS_DH_PK_LEN);
	memcpy(peer.prekey_pk, pk->pk, KEYS_DH_PK_LEN);
	struct seal_params sp = {
		.sender = k,
		.recipient = &peer,
		.sequence = s.sequence,
		.created_ms = now,
		.attachment_ids = (const uint8_t(*)[16])sa->ids,
		.n_attachment_ids = sa->n,
		.body = body,
		.body_len = body_len,
	};
	int rc = seal_envelope(&sp, &env, &env_len, id, NULL);
	if (rc != DX_OK) {
		status = cli_error(c, rc, "sealing the envelope to %s", to->state);
	} else if ((rc = dx_write_file_atomic(s.out, env, env_len, 0600, 0)) != DX_OK) {
		status = cli_error(c, rc, "writing the envelope %s", s.out);
	}
	if (status != CLI_EXIT_OK) {
		unlink_streams(sa);
		goto out;
	}
	struct out o;
	out_init(&o, c);
	print_sealed(&o, &s, k, to, id, now, env_len, sa);
	status = out_finish(&o, c);
out:
	if (body != NULL) {
		sodium_memzero(body, body_len);
		free(body);
	}
	free(env);
	if (text != NULL) {
		sodium_memzero(text, text_len);
		free(text);
	}
	sodium_free(sa->meta);
	free(sa);
	keys_free(k);
	roster_entry_free(to);
	return status;
}

static const struct cli_verb verbs[] = {
	{ "seal", envelope_seal, "seal a message (and attachments) to another State", seal_usage },
	{ "open", envelope_open, "verify, decrypt and show an envelope sealed to this State",
	  envelope_open_usage },
	{ "inspect", envelope_inspect, "show what anyone (the relay) sees of an envelope",
	  envelope_inspect_usage },
};

int cmd_envelope(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "envelope", verbs, sizeof(verbs) / sizeof(verbs[0]),
			    "Envelopes, offline: until the node daemon exists, files carry them.\n",
			    argc, argv);
}
