/*
 * node_ctl_case.c: the control operations on cases (docs/casework.md):
 * case_new, case_list, case_show, case_search, case_close, case_share and
 * case_import, over the node's case store (case_store.h).
 *
 * A case note arrives from the CLI already serialized; it is decoded
 * strictly and checked (case id, title) before it is filed. Sharing builds a
 * dx.Payload of type 2 around the stored note, with the officer's marking,
 * and queues it exactly as `send` does (ctl_queue_payload): one numbered
 * copy per recipient, all or none. Loop thread only, like every operation.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "canon.h"
#include "casework.pb-c.h"
#include "node_control.h"
#include "wire.pb-c.h"

/* Payload.type of a case note (casework.proto). */
#define PAYLOAD_TYPE_CASE_NOTE 2

static Dx__CaseSummary *summary(struct ctl_call *c, const struct case_info *info)
{
	Dx__CaseSummary *s = ctl_alloc(c, sizeof(*s));
	if (s == NULL) {
		return NULL;
	}
	dx__case_summary__init(s);
	s->case_id = ctl_strdup(c, info->case_id);
	s->title = ctl_strdup(c, info->title);
	s->open = info->open;
	s->created_ms = info->created_ms;
	s->updated_ms = info->updated_ms;
	if (s->case_id == NULL || s->title == NULL) {
		return NULL;
	}
	return s;
}

/* Answers with one case's summary (and its note when note != NULL). */
static int answer_case(struct ctl_call *c, Dx__ControlResponse__ResultCase rcase,
		       const struct case_info *info, const uint8_t *note, size_t note_len)
{
	Dx__CaseResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__case_result__init(res);
	if ((res->summary = summary(c, info)) == NULL) {
		return DX_ENOMEM;
	}
	if (note != NULL) {
		res->note = ctl_bin(c, note, note_len);
		if (res->note.len != note_len) {
			return DX_ENOMEM;
		}
	}
	c->out.result_case = rcase;
	switch (rcase) {
	case DX__CONTROL_RESPONSE__RESULT_CASE_NEW:
		c->out.case_new = res;
		break;
	case DX__CONTROL_RESPONSE__RESULT_CASE_SHOW:
		c->out.case_show = res;
		break;
	case DX__CONTROL_RESPONSE__RESULT_CASE_CLOSE:
		c->out.case_close = res;
		break;
	default:
		c->out.case_import = res;
		break;
	}
	return DX_OK;
}

static int bad_id(struct ctl_call *c, const char *id)
{
	return ctl_fail(c, DX_EINVAL,
			"'%.80s' is not a case id: 1 to %d letters, digits, '.', '_' or '-', "
			"e.g. FRA-2025-017",
			id, CASE_ID_MAX);
}

static int not_found(struct ctl_call *c, const char *id)
{
	return ctl_fail(c, DX_ENOENT, "no case %s on this node: see 'divex case list --all'", id);
}

/* Files a serialized note; rcase names the answer. */
static int file_note(struct ctl_call *c, Dx__ControlResponse__ResultCase rcase, const uint8_t *note,
		     size_t len)
{
	ProtobufCMessage *m = NULL;
	struct case_info info;
	int rc = case_store_check_note(note, len, &m);
	if (rc == DX_EINVAL) {
		return ctl_fail(c, rc,
				"the case note needs a case id (1 to %d letters, digits, "
				"'.', '_' or '-') and a title of 1 to %d bytes",
				CASE_ID_MAX, CASE_TITLE_MAX);
	}
	if (rc != DX_OK) {
		return ctl_fail(c, rc, "the case note could not be decoded: %s", dx_strerror(rc));
	}
	const Dx__CaseNote *n = (const Dx__CaseNote *)m;
	rc = case_store_add(c->n->cases, note, len);
	if (rc == DX_EEXIST) {
		rc = ctl_fail(c, rc,
			      "case %s exists already on this node (see 'divex case show "
			      "%s'); choose another id",
			      n->case_id, n->case_id);
	}
	if (rc == DX_OK) {
		rc = case_store_get(c->n->cases, n->case_id, &info, NULL, NULL);
	}
	if (rc == DX_OK) {
		node_log(c->n, NODE_LOG_INFO, "case %s filed", n->case_id);
		rc = answer_case(c, rcase, &info, NULL, 0);
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return rc;
}

int ctl_case_new(struct ctl_call *c)
{
	const Dx__CaseNewOp *op = c->in->case_new;
	return file_note(c, DX__CONTROL_RESPONSE__RESULT_CASE_NEW, op->note.data, op->note.len);
}

/* ---- listings ---- */

struct case_list_ctx {
	struct ctl_call *c;
	Dx__CaseSummary **items;
	size_t n, cap;
};

static int list_item(void *ctx, const struct case_info *info)
{
	struct case_list_ctx *l = ctx;
	if (ctl_grow(l->c, (void ***)&l->items, l->n, &l->cap) != DX_OK) {
		return DX_ENOMEM;
	}
	if ((l->items[l->n] = summary(l->c, info)) == NULL) {
		return DX_ENOMEM;
	}
	l->n++;
	return 0;
}

static int answer_list(struct ctl_call *c, Dx__ControlResponse__ResultCase rcase,
		       struct case_list_ctx *l)
{
	Dx__CaseListResult *res = ctl_alloc(c, sizeof(*res));
	if (res == NULL) {
		return DX_ENOMEM;
	}
	dx__case_list_result__init(res);
	res->cases = l->items;
	res->n_cases = l->n;
	c->out.result_case = rcase;
	if (rcase == DX__CONTROL_RESPONSE__RESULT_CASE_SEARCH) {
		c->out.case_search = res;
	} else {
		c->out.case_list = res;
	}
	return DX_OK;
}

int ctl_case_list(struct ctl_call *c)
{
	const char *which = c->in->case_list->which;
	struct case_list_ctx l = { .c = c };
	enum case_store_which w;
	if (which[0] == '\0' || strcmp(which, "open") == 0) {
		w = CASE_STORE_OPEN;
	} else if (strcmp(which, "closed") == 0) {
		w = CASE_STORE_CLOSED;
	} else if (strcmp(which, "all") == 0) {
		w = CASE_STORE_ALL;
	} else {
		return ctl_fail(c, DX_EINVAL, "list 'open', 'closed' or 'all' cases, not '%.40s'",
				which);
	}
	int rc = case_store_list(c->n->cases, w, list_item, &l);
	return rc != DX_OK ? rc : answer_list(c, DX__CONTROL_RESPONSE__RESULT_CASE_LIST, &l);
}

int ctl_case_search(struct ctl_call *c)
{
	const char *text = c->in->case_search->text;
	struct case_list_ctx l = { .c = c };
	size_t len = strlen(text);
	if (len == 0 || len > CASE_SEARCH_MAX) {
		return ctl_fail(c, DX_EINVAL, "search for 1 to %d bytes of text", CASE_SEARCH_MAX);
	}
	int rc = case_store_search(c->n->cases, text, list_item, &l);
	return rc != DX_OK ? rc : answer_list(c, DX__CONTROL_RESPONSE__RESULT_CASE_SEARCH, &l);
}

/* ---- one case ---- */

int ctl_case_show(struct ctl_call *c)
{
	const char *id = c->in->case_show->case_id;
	struct case_info info;
	uint8_t *note = NULL;
	size_t len = 0;
	if (!case_store_id_valid(id)) {
		return bad_id(c, id);
	}
	int rc = case_store_get(c->n->cases, id, &info, &note, &len);
	if (rc == DX_ENOENT) {
		return not_found(c, id);
	}
	if (rc != DX_OK) {
		return rc;
	}
	rc = answer_case(c, DX__CONTROL_RESPONSE__RESULT_CASE_SHOW, &info, note, len);
	sodium_memzero(note, len);
	free(note);
	return rc;
}

int ctl_case_close(struct ctl_call *c)
{
	const char *id = c->in->case_close->case_id;
	struct case_info info;
	if (!case_store_id_valid(id)) {
		return bad_id(c, id);
	}
	int rc = case_store_set_closed(c->n->cases, id);
	if (rc == DX_OK) {
		rc = case_store_get(c->n->cases, id, &info, NULL, NULL);
	}
	if (rc == DX_ENOENT) {
		return not_found(c, id);
	}
	if (rc != DX_OK) {
		return rc;
	}
	node_log(c->n, NODE_LOG_INFO, "case %s closed", id);
	return answer_case(c, DX__CONTROL_RESPONSE__RESULT_CASE_CLOSE, &info, NULL, 0);
}

/* The provider's marking must say something a recipient can act on. */
static int check_marking(struct ctl_call *c, const Dx__Marking *m)
{
	const char *src = m->source_evaluation;
	if (m->handling < DX__HANDLING_CODE__H0_STATED_PURPOSE_ONLY ||
	    m->handling > DX__HANDLING_CODE__H3_OTHER_RESTRICTIONS) {
		return ctl_fail(c, DX_EINVAL, "a shared case needs a handling code, H0 to H3");
	}
	if (m->handling == DX__HANDLING_CODE__H3_OTHER_RESTRICTIONS && m->restrictions[0] == '\0') {
		return ctl_fail(c, DX_EINVAL, "handling H3 needs the restrictions spelled out");
	}
	if ((src[0] != '\0' && (src[1] != '\0' || strchr("ABCX", src[0]) == NULL)) ||
	    m->information_evaluation > 4) {
		return ctl_fail(c, DX_EINVAL,
				"the evaluation is a source grade A, B, C or X and "
				"an information grade 1 to 4");
	}
	return DX_OK;
}

int ctl_case_share(struct ctl_call *c)
{
	const Dx__CaseShareOp *op = c->in->case_share;
	struct case_info info;
	Dx__SendResult *res = NULL;
	uint8_t *note = NULL;
	size_t len = 0;
	if (!case_store_id_valid(op->case_id)) {
		return bad_id(c, op->case_id);
	}
	if (op->marking == NULL) {
		return ctl_fail(c, DX_EINVAL, "a shared case needs the provider's marking");
	}
	int rc = check_marking(c, op->marking);
	if (rc != DX_OK) {
		return rc;
	}
	rc = case_store_get(c->n->cases, op->case_id, &info, &note, &len);
	if (rc == DX_ENOENT) {
		return not_found(c, op->case_id);
	}
	if (rc != DX_OK) {
		return rc;
	}
	Dx__Payload p = DX__PAYLOAD__INIT;
	p.type = PAYLOAD_TYPE_CASE_NOTE;
	p.case_id = info.case_id;
	p.subject = info.title;
	p.marking = op->marking;
	p.content = (ProtobufCBinaryData){ len, note };
	rc = ctl_queue_payload(c, op->to, op->n_to, &p, &res);
	sodium_memzero(note, len);
	free(note);
	if (rc != DX_OK) {
		return rc;
	}
	node_log(c->n, NODE_LOG_INFO, "case %s shared with %zu State(s)", info.case_id, op->n_to);
	c->out.result_case = DX__CONTROL_RESPONSE__RESULT_CASE_SHARE;
	c->out.case_share = res;
	return DX_OK;
}

/* ---- import ---- */

/* The case note a received message carries, under its own id or as_id. */
static int received_note(struct ctl_call *c, const uint8_t *body, size_t len, const char *as_id,
			 uint8_t **out, size_t *out_len)
{
	ProtobufCMessage *pm = NULL, *nm = NULL;
	int rc = proto_unpack_strict(&dx__payload__descriptor, body, len, ENVELOPE_BODY_MAX, &pm);
	if (rc != DX_OK) {
		return rc;
	}
	const Dx__Payload *p = (const Dx__Payload *)pm;
	if (p->type != PAYLOAD_TYPE_CASE_NOTE) {
		rc = ctl_fail(c, DX_EINVAL, "that message carries no case note (type %u)", p->type);
		goto out;
	}
	rc = proto_unpack_strict(&dx__case_note__descriptor, p->content.data, p->content.len,
				 CASE_NOTE_MAX, &nm);
	if (rc != DX_OK) {
		rc = ctl_fail(c, rc, "the case note in that message does not decode: %s",
			      dx_strerror(rc));
		goto out;
	}
	Dx__CaseNote *n = (Dx__CaseNote *)nm;
	char *given = n->case_id;
	if (as_id[0] != '\0') {
		n->case_id = (char *)as_id;
	}
	rc = proto_pack_alloc(nm, out, out_len);
	n->case_id = given;
out:
	if (nm != NULL) {
		protobuf_c_message_free_unpacked(nm, NULL);
	}
	protobuf_c_message_free_unpacked(pm, NULL);
	return rc;
}

int ctl_case_import(struct ctl_call *c)
{
	const Dx__CaseImportOp *op = c->in->case_import;
	struct ctl_msg msg;
	uint8_t *body = NULL, *note = NULL;
	size_t len = 0, note_len = 0;
	if (op->as_case_id[0] != '\0' && !case_store_id_valid(op->as_case_id)) {
		return bad_id(c, op->as_case_id);
	}
	int rc = ctl_resolve(c, op->id, &msg);
	if (rc != DX_OK) {
		return rc;
	}
	if (!msg.received) {
		return ctl_fail(c, DX_EINVAL,
				"%s is a message this State sent: import a case "
				"note it received",
				op->id);
	}
	if ((rc = node_store_inbox_read(c->n->store, msg.digest, &body, &len)) != DX_OK) {
		return rc;
	}
	rc = received_note(c, body, len, op->as_case_id, &note, &note_len);
	sodium_memzero(body, len);
	free(body);
	if (rc == DX_OK) {
		rc = file_note(c, DX__CONTROL_RESPONSE__RESULT_CASE_IMPORT, note, note_len);
		sodium_memzero(note, note_len);
		free(note);
	}
	return rc;
}
