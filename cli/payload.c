/*
 * payload.c: the content of a message envelope as the CLI shows it. The
 * provider's marking (handling code, evaluation, releasability) travels
 * inside the encryption and is printed before the content every time, in
 * words, so that no one reads the text without seeing its conditions. Every
 * string here came from the sender and is escaped on output.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "attach.h"
#include "canon.h"
#include "case_json.h"
#include "cli.h"
#include "envelope.h"
#include "wire.pb-c.h"

static const struct {
	const char *code;
	int value;
	const char *words;
} handling[] = {
	{ "H0", DX__HANDLING_CODE__H0_STATED_PURPOSE_ONLY, "H0: use only for the stated purpose" },
	{ "H1", DX__HANDLING_CODE__H1_NO_JUDICIAL_USE,
	  "H1: not for use in judicial proceedings without the provider's permission" },
	{ "H2", DX__HANDLING_CODE__H2_NO_DISSEMINATION,
	  "H2: no further dissemination without the provider's permission" },
	{ "H3", DX__HANDLING_CODE__H3_OTHER_RESTRICTIONS,
	  "H3: other restrictions, as stated below" },
};
#define N_HANDLING (sizeof(handling) / sizeof(handling[0]))

int cli_parse_handling(const char *s, int *out)
{
	for (size_t i = 0; i < N_HANDLING; i++) {
		if (strcasecmp(s, handling[i].code) == 0) {
			*out = handling[i].value;
			return DX_OK;
		}
	}
	return DX_EINVAL;
}

static const char *handling_words(int value)
{
	if (value == DX__HANDLING_CODE__HANDLING_UNSPECIFIED) {
		return "none set by the provider: ask before any use beyond reading";
	}
	for (size_t i = 0; i < N_HANDLING; i++) {
		if (handling[i].value == value) {
			return handling[i].words;
		}
	}
	return "unknown code (a newer divex): ask the provider before any use";
}

/* The 4x4 evaluation system: reliability of the source, then of the item. */
static const char *source_words(char s)
{
	switch (s) {
	case 'A':
		return "A (source reliable: no doubt of its authenticity and competence)";
	case 'B':
		return "B (source has mostly proved reliable)";
	case 'C':
		return "C (source has mostly proved unreliable)";
	case 'X':
		return "X (reliability of the source cannot be assessed)";
	default:
		return NULL;
	}
}

static const char *info_words(uint32_t i)
{
	static const char *const words[] = {
		NULL,
		"1 (known to be true without reservation)",
		"2 (known personally to the source, not to the official passing it on)",
		"3 (not known personally to the source, but corroborated)",
		"4 (not known personally to the source and not corroborated)",
	};
	return i < sizeof(words) / sizeof(words[0]) ? words[i] : NULL;
}

int cli_parse_evaluation(const char *s, char source[static 2], uint32_t *info)
{
	if (strlen(s) != 2) {
		return DX_EINVAL;
	}
	char src = (char)toupper((unsigned char)s[0]);
	if (source_words(src) == NULL || s[1] < '1' || s[1] > '4') {
		return DX_EINVAL;
	}
	source[0] = src;
	source[1] = '\0';
	*info = (uint32_t)(s[1] - '0');
	return DX_OK;
}

static int ref_complete(const Dx__AttachmentRef *r)
{
	return r->attachment_id.len == ATTACH_ID_LEN && r->key.len == ATTACH_KEY_LEN &&
	       r->ciphertext_hash.len == ATTACH_HASH_LEN && attach_stream_size(r->size) != 0 &&
	       r->stream_size == attach_stream_size(r->size);
}

int cli_check_payload_refs(const struct Dx__Payload *pl)
{
	for (size_t i = 0; i < pl->n_attachments; i++) {
		if (!ref_complete(pl->attachments[i])) {
			return DX_EPARSE;
		}
	}
	if (pl->in_reply_to.len != 0 && pl->in_reply_to.len != ENVELOPE_ID_LEN) {
		return DX_EPARSE;
	}
	return DX_OK;
}

int cli_check_payload(const struct Dx__Payload *pl, const struct envelope_info *info)
{
	/* The header lists the ids the relay gates downloads on; the sealed
	 * references must name exactly those, in the same order. */
	if (pl->n_attachments != info->n_attachments || cli_check_payload_refs(pl) != DX_OK) {
		return DX_EPARSE;
	}
	for (size_t i = 0; i < pl->n_attachments; i++) {
		if (memcmp(pl->attachments[i]->attachment_id.data, info->attachment_ids[i],
			   ATTACH_ID_LEN) != 0) {
			return DX_EPARSE;
		}
	}
	return DX_OK;
}

int cli_payload_decode(const uint8_t *buf, size_t len, struct Dx__Payload **out)
{
	ProtobufCMessage *msg = NULL;
	int rc = proto_unpack_strict(&dx__payload__descriptor, buf, len, ENVELOPE_BODY_MAX, &msg);
	if (rc != DX_OK) {
		return rc;
	}
	rc = cli_check_payload_refs((Dx__Payload *)msg);
	if (rc != DX_OK) {
		cli_payload_free((Dx__Payload *)msg);
		return rc;
	}
	*out = (Dx__Payload *)msg;
	return DX_OK;
}

void cli_ref_meta(const struct Dx__AttachmentRef *r, struct attach_meta *m)
{
	memcpy(m->id, r->attachment_id.data, ATTACH_ID_LEN);
	memcpy(m->key, r->key.data, ATTACH_KEY_LEN);
	memcpy(m->hash, r->ciphertext_hash.data, ATTACH_HASH_LEN);
	m->size = r->size;
	m->stream_size = r->stream_size;
}

void cli_payload_free(struct Dx__Payload *pl)
{
	if (pl == NULL) {
		return;
	}
	for (size_t i = 0; i < pl->n_attachments; i++) {
		sodium_memzero(pl->attachments[i]->key.data, pl->attachments[i]->key.len);
	}
	protobuf_c_message_free_unpacked(&pl->base, NULL);
}

static void text_field(struct out *o, const char *key, const char *label, const char *s)
{
	if (s != NULL && s[0] != '\0') {
		out_text(o, key, label, s, strlen(s));
	}
}

static void print_marking(struct out *o, const Dx__Marking *m)
{
	out_obj_begin(o, "marking", "MARKING (set by the provider; applies to all content below)");
	if (m == NULL) {
		out_str(o, "handling", "handling", handling_words(0));
		out_obj_end(o);
		return;
	}
	out_str(o, "handling", "handling", handling_words((int)m->handling));
	if (o->json) {
		for (size_t i = 0; i < N_HANDLING; i++) {
			if (handling[i].value == (int)m->handling) {
				out_str(o, "handling_code", "", handling[i].code);
			}
		}
	}
	text_field(o, "restrictions", "restrictions", m->restrictions);
	const char *sw = NULL;
	if (m->source_evaluation != NULL && strlen(m->source_evaluation) == 1) {
		sw = source_words(m->source_evaluation[0]);
	}
	const char *iw = info_words(m->information_evaluation);
	if (sw != NULL || iw != NULL) {
		out_str(o, "source_evaluation", "source", sw != NULL ? sw : "not given");
		out_str(o, "information_evaluation", "information", iw != NULL ? iw : "not given");
	} else {
		text_field(o, "source_evaluation", "source", m->source_evaluation);
		out_str(o, "evaluation", "evaluation", "none given");
	}
	if (m->releasability != NULL && m->releasability[0] != '\0') {
		text_field(o, "releasability", "releasability", m->releasability);
	} else {
		out_str(o, "releasability", "releasability", "not stated: ask the provider");
	}
	text_field(o, "classification", "classification", m->classification);
	out_obj_end(o);
}

static void print_attachments(struct out *o, const Dx__Payload *pl, char *const *saved)
{
	out_list_begin(o, "attachments", "Attachments");
	for (size_t i = 0; i < pl->n_attachments; i++) {
		const Dx__AttachmentRef *r = pl->attachments[i];
		out_item_begin(o);
		if (r->name != NULL && r->name[0] != '\0') {
			out_text(o, "name", "name", r->name, strlen(r->name));
		} else {
			out_str(o, "name", "name", "(none given)");
		}
		out_u64(o, "size", "size (bytes)", r->size);
		out_hex(o, "id", "id", r->attachment_id.data, r->attachment_id.len);
		text_field(o, "media_type", "media type", r->media_type);
		if (saved != NULL && saved[i] != NULL) {
			out_str(o, "saved_to", "saved to", saved[i]);
		}
		out_item_end(o);
	}
	out_list_end(o);
}

void cli_print_payload(struct out *o, const struct Dx__Payload *pl, char *const *saved)
{
	out_note(o, "%s", "");
	print_marking(o, pl->marking);
	out_note(o, "%s", "");
	const char *type_name = cli_payload_type_name(pl->type);
	if (type_name != NULL) {
		out_str(o, "type", "Payload type", type_name);
	} else {
		out_u64(o, "type", "Payload type", pl->type);
		out_note(o, "(a payload type this version does not know: only its common fields "
			    "are shown)");
	}
	if (pl->copy_count > 0) {
		char copy[96], forwhom[4 * DX_STATE_LEN + 1];
		const char *cf = pl->copy_for != NULL ? pl->copy_for : "";
		dx_escape(forwhom, sizeof(forwhom), cf, strlen(cf));
		snprintf(copy, sizeof(copy), "%u of %u, for %s", pl->copy_number, pl->copy_count,
			 forwhom);
		out_str(o, "copy", "Copy", copy);
	}
	text_field(o, "case_id", "Case", pl->case_id);
	if (pl->in_reply_to.len == ENVELOPE_ID_LEN) {
		out_hex(o, "in_reply_to", "In reply to", pl->in_reply_to.data, ENVELOPE_ID_LEN);
	}
	text_field(o, "subject", "Subject", pl->subject);
	if (pl->text != NULL && pl->text[0] != '\0') {
		out_block(o, "text", "Text", pl->text, strlen(pl->text));
	}
	if (pl->type == CLI_PAYLOAD_CASE_NOTE) {
		/* Every field of the template, under the marking printed above. */
		cli_print_case_note(o, "case_note", pl->content.data, pl->content.len);
	} else if (pl->type > 2 && pl->content.len > 0) {
		cli_print_casework(o, pl->type, pl->content.data, pl->content.len);
	}
	print_attachments(o, pl, saved);
}
