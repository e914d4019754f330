/*
 * cmd_envelope.c: `divex envelope`: sealing a message to another State,
 * opening one sealed to this State, and inspecting any envelope without keys,
 * all offline, with files standing in for the relay (`divex send` goes
 * through the node's daemon instead): an envelope is one file, its attachment
 * streams sit beside it as <envelope>.att<N>, and this home's
 * <home>/opened-ids refuses replays. The message itself is composed as for
 * `divex send` (compose.h).
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
#include "compose.h"
#include "seal.h"
#include "wire.pb-c.h"

enum {
	OPT_TO = CLI_OPT_FIRST_VERB,
	OPT_SEQUENCE,
};

struct seal_opts {
	struct cli_compose m;
	const char *to, *out;
	uint64_t sequence;
};

static int seal_opt(struct cli *c, const struct cli_verb *v, struct seal_opts *s, int opt,
		    char **argv)
{
	switch (opt) {
	case OPT_TO:
		s->to = optarg;
		return CLI_CONTINUE;
	case 'o':
		s->out = optarg;
		return CLI_CONTINUE;
	case OPT_SEQUENCE:
		if (cli_parse_u64(optarg, 1, UINT64_MAX, &s->sequence) != DX_OK) {
			return cli_usage(c, "--sequence takes a number from 1, not '%s'", optarg);
		}
		return CLI_CONTINUE;
	default:
		return cli_compose_opt(c, v, &s->m, opt, argv);
	}
}

/* Output files must not exist: an envelope is never silently replaced. */
static int check_outputs(struct cli *c, const struct seal_opts *s)
{
	char path[4096];
	struct stat st;
	for (size_t i = 0; i <= s->m.n_attach; i++) {
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

/* Where each attachment's stream was written: OUT.att1, OUT.att2, ... */
struct stream_files {
	char paths[ENVELOPE_MAX_ATTACHMENTS][4096];
	size_t n;
};

static void unlink_streams(struct stream_files *sf)
{
	for (size_t i = 0; i < sf->n; i++) {
		unlink(sf->paths[i]);
	}
}

static int encrypt_attachments(struct cli *c, const struct seal_opts *s, struct cli_attachments *sa,
			       struct stream_files *sf)
{
	for (size_t i = 0; i < s->m.n_attach; i++) {
		snprintf(sf->paths[i], sizeof(sf->paths[i]), "%s.att%zu", s->out, i + 1);
		int status = cli_attach_encrypt(c, s->m.attach[i], sf->paths[i], &sa->meta[sa->n]);
		if (status != CLI_EXIT_OK) {
			unlink_streams(sf);
			return status;
		}
		sf->n++;
		cli_attachments_add(sa, s->m.attach[i]);
	}
	return CLI_EXIT_OK;
}

static void print_sealed(struct out *o, const struct seal_opts *s, const struct keys *k,
			 const struct roster_entry *to, const uint8_t id[static ENVELOPE_ID_LEN],
			 uint64_t now, size_t size, const struct cli_attachments *sa,
			 const struct stream_files *sf)
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
		out_str(o, "file", "file", sf->paths[i]);
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
	CLI_HELP_COMPOSE_TEXT
	"  -o, --output OUT          the envelope file to write (never overwritten)\n"
	"      --sequence N          per-recipient sequence number, from 1 (default 1)\n"
	CLI_HELP_COMPOSE_MARKING
	CLI_HELP_PASSPHRASE CLI_HELP_COMMON;
/* clang-format on */

static int envelope_seal(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		CLI_LONGOPTS_PASSPHRASE,
		CLI_LONGOPTS_COMPOSE,
		{ "to", required_argument, NULL, OPT_TO },
		{ "output", required_argument, NULL, 'o' },
		{ "sequence", required_argument, NULL, OPT_SEQUENCE },
		{ NULL, 0, NULL, 0 },
	};
	struct seal_opts s = { .sequence = 1 };
	int opt, status = CLI_CONTINUE;

	cli_compose_init(&s.m);
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
		status = seal_opt(c, v, &s, opt, argv);
	}
	if (status == CLI_CONTINUE && (s.to == NULL || s.out == NULL)) {
		status = cli_usage(c, "--to ENTRYFILE and -o OUT are required");
	}
	if (status == CLI_CONTINUE) {
		status = cli_compose_check(c, &s.m, argc - optind, argv + optind);
	}
	if (status != CLI_CONTINUE) {
		return status;
	}

	struct roster_entry *to = NULL;
	struct keys *k = NULL;
	struct cli_attachments *sa = NULL;
	struct stream_files *sf = calloc(1, sizeof(*sf));
	char *text = NULL;
	size_t text_len = 0, body_len = 0, env_len = 0;
	uint8_t *body = NULL, *env = NULL, id[ENVELOPE_ID_LEN];
	if (sf == NULL) {
		return cli_error(c, DX_ENOMEM, "starting");
	}
	if ((status = cli_attachments_new(c, &sa)) != CLI_EXIT_OK ||
	    (status = cli_load_entry(c, s.to, &to)) != CLI_EXIT_OK ||
	    (s.m.text_path != NULL &&
	     (status = cli_compose_text(c, s.m.text_path, &text, &text_len)) != CLI_EXIT_OK) ||
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
	struct cli_payload_frame frame = { .copy_for = to->state };
	if ((status = encrypt_attachments(c, &s, sa, sf)) != CLI_EXIT_OK ||
	    (status = cli_compose_payload(c, &s.m, &frame, text, sa, &body, &body_len)) !=
		    CLI_EXIT_OK) {
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
		.attachment_ids = (const uint8_t(*)[ATTACH_ID_LEN])sa->ids,
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
		unlink_streams(sf);
		goto out;
	}
	struct out o;
	out_init(&o, c);
	print_sealed(&o, &s, k, to, id, now, env_len, sa, sf);
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
	cli_attachments_free(sa);
	free(sf);
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
			    "Envelopes, offline: files carry them ('divex send' uses the daemon).\n",
			    argc, argv);
}
