/*
 * node_request.h: requests for information (Model ToR) and their responses
 * inside divexd (docs/casework.md), shared by node_request.c (the control
 * operations, the received payloads, the deadline book's rows, the
 * reminders), node_casework.c (the dispatcher of received casework
 * payloads), node_ctl_notice.c (the deadline book) and node_notice.c (the
 * daily reminders). Loop thread only, like everything in the node.
 */
#ifndef DIVEX_NODE_NODE_REQUEST_H
#define DIVEX_NODE_NODE_REQUEST_H

#include "node_notice.h"
#include "request_store.h"

/* Payload.type values of casework.proto. */
#define NODE_PAYLOAD_REQUEST 3
#define NODE_PAYLOAD_RESPONSE 4
/* dx.InformationKind values an officer may ask for: 1..NODE_REQUEST_KIND_MAX. */
#define NODE_REQUEST_KIND_MAX 10
/* The request's details, in bytes. */
#define NODE_REQUEST_DETAILS_MAX (32 * 1024)

/* A received InformationRequest (type 3) or InformationResponse (type 4). */
void node_request_received(struct node *n, const struct node_store_opened *m, const Dx__Payload *p);
void node_request_response_received(struct node *n, const struct node_store_opened *m,
				    const Dx__Payload *p);

/* "awaiting", "answered" or "overdue" (awaiting past respond_by) for a row, as of today. */
const char *node_request_state(const struct request_row *r, const char *today);

/* The deadline book's rows: requests awaiting an answer (a ctl_due_source). */
int node_request_due(struct ctl_call *c, struct ctl_due_book *b, const char *today);

/* Logs a reminder for every request awaiting an answer due within days, or past. */
void node_request_remind(struct node *n, const char *today, int64_t days);

#endif
