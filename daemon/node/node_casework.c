/*
 * node_casework.c: what a received casework payload means to this node.
 *
 * node_inbox.c calls node_casework_received() once an envelope is opened
 * and stored, with its decoded payload. Each casework module that keeps
 * state about what arrives (a notice to answer, a reply to a notice, ...)
 * has a row in the table below, by Payload.type (casework.proto). Handlers
 * log their own failures: the message is already safe in the inbox, and
 * nothing here may refuse it. Loop thread only.
 */
#include <stddef.h>

#include "node.h"
#include "node_concern.h"
#include "node_consent.h"
#include "node_notice.h"
#include "node_request.h"

typedef void (*casework_fn)(struct node *n, const struct node_store_opened *m,
			    const Dx__Payload *p);

static const struct {
	uint32_t type;
	casework_fn fn;
} HANDLERS[] = {
	{ NODE_PAYLOAD_NOTICE, node_notice_received },
	{ NODE_PAYLOAD_NOTICE_REPLY, node_notice_reply_received },
	{ PAYLOAD_TYPE_CONSENT_REQUEST, node_consent_received },
	{ PAYLOAD_TYPE_CONSENT_DECISION, node_consent_received },
	{ NODE_PAYLOAD_CONCERN, node_concern_received },
	{ NODE_PAYLOAD_EXPLANATION, node_concern_explanation_received },
	{ NODE_PAYLOAD_REQUEST, node_request_received },
	{ NODE_PAYLOAD_RESPONSE, node_request_response_received },
};

void node_casework_received(struct node *n, const struct node_store_opened *m,
			    const Dx__Payload *p)
{
	for (size_t i = 0; i < sizeof(HANDLERS) / sizeof(HANDLERS[0]); i++) {
		if (HANDLERS[i].type == p->type) {
			HANDLERS[i].fn(n, m, p);
			return;
		}
	}
}
