/*
 * compose.c: see compose.h. The options, checks and payload here are the
 * same whether the message is sealed offline or handed to the daemon, so that
 * a marking means the same thing on both paths.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "canon.h"
#include "compose.h"

#define DEFAULT_RELEASABILITY "competent national authorities of the recipient State only"
#define DEFAULT_MEDIA_TYPE "application/octet-stream"

void cli_compose_init(struct cli_compose *m)
{
	memset(m, 0, sizeof(*m));
	m->handling = DX__HANDLING_CODE__H0_STATED_PURPOSE_ONLY;
}

int cli_compose_opt(struct cli *c, const struct cli_verb *v, struct cli_compose *m, int opt,
		    char **argv)
{
	switch (opt) {
	case CLI_OPT_FILE:
		m->text_path = optarg;
		return CLI_CONTINUE;
	case CLI_OPT_SUBJECT:
		m->subject = optarg;
		return CLI_CONTINUE;
	case CLI_OPT_CASE:
		m->case_id = optarg;
		return CLI_CONTINUE;
	case CLI_OPT_RESTRICTIONS:
		m->restrictions = optarg;
		m->marking_given = 1;
		return CLI_CONTINUE;
	case CLI_OPT_RELEASABILITY:
		m->releasability = optarg;
		m->marking_given = 1;
		return CLI_CONTINUE;
	case CLI_OPT_CLASSIFICATION:
		m->classification = optarg;
		m->marking_given = 1;
		return CLI_CONTINUE;
	case CLI_OPT_HANDLING:
		m->marking_given = 1;
		if (cli_parse_handling(optarg, &m->handling) != DX_OK) {
			return cli_usage(c, "--handling is H0, H1, H2 or H3, not '%s'", optarg);
		}
		return CLI_CONTINUE;
	case CLI_OPT_EVALUATION:
		m->marking_given = 1;
		if (cli_parse_evaluation(optarg, m->source_eval, &m->info_eval) != DX_OK) {
			return cli_usage(c,
					 "--evaluation is a source grade A, B, C or X and an "
					 "information grade 1 to 4, e.g. B2, not '%s'",
					 optarg);
		}
		return CLI_CONTINUE;
	case CLI_OPT_ATTACH:
		if (m->n_attach == ENVELOPE_MAX_ATTACHMENTS) {
			return cli_usage(c, "at most %d attachments per message",
					 ENVELOPE_MAX_ATTACHMENTS);
		}
		m->attach[m->n_attach++] = optarg;
		return CLI_CONTINUE;
	default:
		return cli_opt_common(c, v, opt, argv);
	}
}

int cli_compose_check(struct cli *c, struct cli_compose *m, int n, char **args)
{
	if (n > 0) {
		if (n > 1 || strcmp(args[0], "-") != 0 || m->text_path != NULL) {
			return cli_usage(c, "unexpected argument '%s'", args[n > 1 ? 1 : 0]);
		}
		m->text_path = "-";
	}
	if (m->text_path == NULL && m->n_attach == 0) {
		return cli_usage(c,
				 "the message is empty: give its text with --file FILE (or - for "
				 "standard input), or an --attach FILE");
	}
	if (m->handling == DX__HANDLING_CODE__H3_OTHER_RESTRICTIONS &&
	    (m->restrictions == NULL || m->restrictions[0] == '\0')) {
		return cli_usage(c, "--handling H3 needs --restrictions TEXT spelling them out");
	}
	return CLI_CONTINUE;
}

static int read_stdin(uint8_t *buf, size_t cap, size_t *len)
{
	while (*len <= cap) {
		ssize_t n = read(STDIN_FILENO, buf + *len, cap + 1 - *len);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			return dx_from_errno(errno);
		}
		if (n == 0) {
			return DX_OK;
		}
		*len += (size_t)n;
	}
	return DX_ETOOBIG;
}

int cli_compose_text(struct cli *c, const char *path, char **out, size_t *out_len)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc;
	if (strcmp(path, "-") != 0) {
		rc = dx_read_file(path, ENVELOPE_BODY_MAX, &buf, &len);
	} else if ((buf = malloc(ENVELOPE_BODY_MAX + 1)) == NULL) {
		rc = DX_ENOMEM;
	} else {
		rc = read_stdin(buf, ENVELOPE_BODY_MAX, &len);
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

int cli_attachments_new(struct cli *c, struct cli_attachments **out)
{
	struct cli_attachments *sa = calloc(1, sizeof(*sa));
	if (sa != NULL) {
		sa->meta = sodium_malloc(sizeof(struct attach_meta) * ENVELOPE_MAX_ATTACHMENTS);
	}
	if (sa == NULL || sa->meta == NULL) {
		free(sa);
		return cli_error(c, DX_ENOMEM, "allocating attachment keys");
	}
	*out = sa;
	return CLI_EXIT_OK;
}

void cli_attachments_add(struct cli_attachments *sa, const char *path)
{
	size_t i = sa->n++;
	const struct attach_meta *m = &sa->meta[i];
	const char *slash = strrchr(path, '/');
	snprintf(sa->names[i], sizeof(sa->names[i]), "%s", slash != NULL ? slash + 1 : path);
	Dx__AttachmentRef *r = &sa->refs[i];
	dx__attachment_ref__init(r);
	memcpy(sa->ids[i], m->id, ATTACH_ID_LEN);
	r->attachment_id = (ProtobufCBinaryData){ ATTACH_ID_LEN, sa->ids[i] };
	r->key = (ProtobufCBinaryData){ ATTACH_KEY_LEN, (uint8_t *)m->key };
	r->ciphertext_hash = (ProtobufCBinaryData){ ATTACH_HASH_LEN, (uint8_t *)m->hash };
	r->size = m->size;
	r->stream_size = m->stream_size;
	r->name = sa->names[i];
	r->media_type = (char *)DEFAULT_MEDIA_TYPE;
	sa->ref_ptrs[i] = r;
}

void cli_attachments_free(struct cli_attachments *sa)
{
	if (sa != NULL) {
		sodium_free(sa->meta); /* wipes the keys */
		free(sa);
	}
}

static void marking_from_options(const struct cli_compose *m, Dx__Marking *mk)
{
	dx__marking__init(mk);
	mk->handling = (Dx__HandlingCode)m->handling;
	mk->restrictions = (char *)(m->restrictions != NULL ? m->restrictions : "");
	mk->source_evaluation = (char *)m->source_eval;
	mk->information_evaluation = m->info_eval;
	mk->releasability =
		(char *)(m->releasability != NULL ? m->releasability : DEFAULT_RELEASABILITY);
	mk->classification = (char *)(m->classification != NULL ? m->classification : "");
}

void cli_compose_marking(const struct cli_compose *m, Dx__Marking *mk)
{
	marking_from_options(m, mk);
}

int cli_compose_payload(struct cli *c, const struct cli_compose *m,
			const struct cli_payload_frame *f, const char *text,
			const struct cli_attachments *sa, uint8_t **out, size_t *out_len)
{
	Dx__Marking mk;
	Dx__Payload pl = DX__PAYLOAD__INIT;
	marking_from_options(m, &mk);
	const char *case_id = f->case_id != NULL ? f->case_id : m->case_id;
	const char *subject = f->subject != NULL ? f->subject : m->subject;
	pl.type = 1;
	pl.case_id = (char *)(case_id != NULL ? case_id : "");
	pl.marking = (Dx__Marking *)(f->marking != NULL ? f->marking : &mk);
	if (f->copy_for != NULL) {
		pl.copy_number = 1;
		pl.copy_count = 1;
		pl.copy_for = (char *)f->copy_for;
	}
	if (f->in_reply_to != NULL) {
		pl.in_reply_to =
			(ProtobufCBinaryData){ ENVELOPE_ID_LEN, (uint8_t *)f->in_reply_to };
	}
	pl.subject = (char *)(subject != NULL ? subject : "");
	pl.text = (char *)(text != NULL ? text : "");
	pl.n_attachments = sa->n;
	pl.attachments = (Dx__AttachmentRef **)sa->ref_ptrs;
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

void cli_recipients_add(struct cli_recipients *r, const char *code)
{
	memcpy(r->to[r->n], code, DX_STATE_LEN + 1);
	r->ptrs[r->n] = r->to[r->n];
	r->n++;
}

int cli_parse_recipients(struct cli *c, struct cli_recipients *r, const char *arg)
{
	for (const char *p = arg;;) {
		const char *comma = strchr(p, ',');
		size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		char code[DX_STATE_LEN + 1] = "";
		if (len == DX_STATE_LEN) {
			memcpy(code, p, len);
		}
		if (!dx_state_valid(code)) {
			return cli_error(c, DX_ESTATE_CODE, "--to '%s'", arg);
		}
		for (size_t i = 0; i < r->n; i++) {
			if (strcmp(r->to[i], code) == 0) {
				return cli_usage(c, "%s is named twice in --to", code);
			}
		}
		if (r->n == CLI_MAX_RECIPIENTS) {
			return cli_usage(c, "at most %d recipients per message", CLI_MAX_RECIPIENTS);
		}
		cli_recipients_add(r, code);
		if (comma == NULL) {
			return CLI_CONTINUE;
		}
		p = comma + 1;
	}
}
