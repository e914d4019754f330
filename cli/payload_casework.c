/*
 * payload_casework.c: how `divex read` shows the casework messages other
 * than case notes (proto/casework.proto): requests for information and
 * their responses, rule 12 notices and replies, consent requests and
 * decisions, disclosure concerns and explanations. Everything in them came
 * from another State and is printed escaped, under the marking that
 * cli_print_payload() has already shown. A content that does not decode
 * strictly is said to be so, never half shown.
 */
#include <stdio.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "cli.h"

#define CASEWORK_CONTENT_MAX (256 * 1024)

static const char *const TYPE_NAMES[] = {
	[1] = "message",	     [2] = "case_note",		 [3] = "information_request",
	[4] = "information_response", [5] = "notice",		 [6] = "notice_reply",
	[7] = "consent_request",     [8] = "consent_decision",	 [9] = "disclosure_concern",
	[10] = "disclosure_explanation",
};

const char *cli_payload_type_name(uint32_t type)
{
	if (type < sizeof(TYPE_NAMES) / sizeof(TYPE_NAMES[0]) && TYPE_NAMES[type] != NULL) {
		return TYPE_NAMES[type];
	}
	return NULL;
}

static void text(struct out *o, const char *key, const char *label, const char *s)
{
	if (s != NULL && s[0] != '\0') {
		out_text(o, key, label, s, strlen(s));
	}
}

static void block(struct out *o, const char *key, const char *label, const char *s)
{
	if (s != NULL && s[0] != '\0') {
		out_block(o, key, label, s, strlen(s));
	}
}

static void id16(struct out *o, const char *key, const char *label, const ProtobufCBinaryData *b)
{
	if (b->len == 16) {
		out_hex(o, key, label, b->data, b->len);
	}
}

static const char *purpose_name(int p)
{
	static const char *const names[] = { "unspecified", "operational use",
					     "disclosure to a named body", "attributable briefing",
					     "further dissemination" };
	return p >= 0 && (size_t)p < sizeof(names) / sizeof(names[0]) ? names[p] : "unknown";
}

static const char *outcome_name(int v)
{
	static const char *const names[] = { "unspecified", "granted", "granted with conditions",
					     "refused", "revoked" };
	return v >= 0 && (size_t)v < sizeof(names) / sizeof(names[0]) ? names[v] : "unknown";
}

static void print_request(struct out *o, const Dx__InformationRequest *r)
{
	static const char *const kinds[] = {
		"unspecified",	   "end-user file",  "brokers",	     "shipping company",
		"addresses",	   "national database records", "price, cost, commission, taxes",
		"routes",	   "common procedures", "transfers acknowledged", "other",
	};
	out_list_begin(o, "kinds", "information asked for");
	for (size_t i = 0; i < r->n_kinds; i++) {
		size_t k = (size_t)r->kinds[i];
		out_item_begin(o);
		out_str(o, "kind", "kind", k < sizeof(kinds) / sizeof(kinds[0]) ? kinds[k] : "unknown");
		out_item_end(o);
	}
	out_list_end(o);
	block(o, "details", "details", r->details);
	text(o, "respond_by", "respond by", r->respond_by);
}

static void print_consent_decision(struct out *o, const Dx__ConsentDecision *d)
{
	ProtobufCMessage *m = NULL;
	if (proto_unpack_strict(&dx__consent_statement__descriptor, d->statement.data,
				d->statement.len, CASEWORK_CONTENT_MAX, &m) != DX_OK) {
		out_str(o, "statement", "statement", "(does not decode)");
		return;
	}
	const Dx__ConsentStatement *s = (const Dx__ConsentStatement *)m;
	text(o, "provider", "provider", s->provider);
	text(o, "recipient", "given to", s->recipient);
	out_str(o, "outcome", "decision", outcome_name(s->outcome));
	out_str(o, "purpose", "purpose", purpose_name(s->purpose));
	text(o, "body", "body", s->body);
	block(o, "conditions", "conditions", s->conditions);
	out_u64(o, "items", "items covered", s->n_item_hashes);
	out_ms(o, "decided_ms", "decided", s->decided_ms, NULL);
	out_note(o, "(signed by the provider's identity key; divexd verified it against the "
		    "pinned roster entry before keeping it: see 'divex consent list')");
	protobuf_c_message_free_unpacked(m, NULL);
}

void cli_print_casework(struct out *o, uint32_t type, const uint8_t *content, size_t len)
{
	static const ProtobufCMessageDescriptor *const descs[] = {
		[3] = &dx__information_request__descriptor, [4] = &dx__information_response__descriptor,
		[5] = &dx__notice__descriptor,		     [6] = &dx__notice_reply__descriptor,
		[7] = &dx__consent_request__descriptor,	     [8] = &dx__consent_decision__descriptor,
		[9] = &dx__disclosure_concern__descriptor,   [10] = &dx__disclosure_explanation__descriptor,
	};
	ProtobufCMessage *m = NULL;
	const char *name = cli_payload_type_name(type);
	if (type >= sizeof(descs) / sizeof(descs[0]) || descs[type] == NULL || name == NULL) {
		return;
	}
	if (proto_unpack_strict(descs[type], content, len, CASEWORK_CONTENT_MAX, &m) != DX_OK) {
		out_str(o, name, "Content", "(does not decode: the sender's software may be newer)");
		return;
	}
	out_obj_begin(o, name, "CONTENT");
	switch (type) {
	case 3:
		print_request(o, (const Dx__InformationRequest *)m);
		break;
	case 4: {
		const Dx__InformationResponse *r = (const Dx__InformationResponse *)m;
		id16(o, "request_envelope_id", "answers request", &r->request_envelope_id);
		block(o, "answer", "answer", r->answer);
		break;
	}
	case 5: {
		const Dx__Notice *n = (const Dx__Notice *)m;
		text(o, "meeting_name", "meeting", n->meeting_name);
		text(o, "meeting_date", "meeting date", n->meeting_date);
		text(o, "respond_by", "respond by", n->respond_by);
		text(o, "sent_date", "sent on", n->sent_date);
		block(o, "summary", "what will be presented", n->summary);
		block(o, "late_reason", "sent late, because", n->late_reason);
		break;
	}
	case 6: {
		const Dx__NoticeReply *r = (const Dx__NoticeReply *)m;
		id16(o, "notice_envelope_id", "answers notice", &r->notice_envelope_id);
		block(o, "response", "response", r->response);
		break;
	}
	case 7: {
		const Dx__ConsentRequest *r = (const Dx__ConsentRequest *)m;
		out_str(o, "purpose", "purpose", purpose_name(r->purpose));
		text(o, "body", "body", r->body);
		block(o, "reason", "reason", r->reason);
		out_list_begin(o, "item_envelope_ids", "items (envelope ids)");
		for (size_t i = 0; i < r->n_item_envelope_ids; i++) {
			id16(o, NULL, "item", &r->item_envelope_ids[i]);
		}
		out_list_end(o);
		break;
	}
	case 8:
		print_consent_decision(o, (const Dx__ConsentDecision *)m);
		break;
	case 9: {
		const Dx__DisclosureConcern *c = (const Dx__DisclosureConcern *)m;
		id16(o, "envelope_id", "about envelope", &c->envelope_id);
		block(o, "description", "description", c->description);
		break;
	}
	case 10: {
		const Dx__DisclosureExplanation *e = (const Dx__DisclosureExplanation *)m;
		id16(o, "concern_envelope_id", "answers concern", &e->concern_envelope_id);
		block(o, "explanation", "explanation", e->explanation);
		block(o, "remedial_measures", "remedial measures", e->remedial_measures);
		break;
	}
	default:
		break;
	}
	out_obj_end(o);
	protobuf_c_message_free_unpacked(m, NULL);
}
