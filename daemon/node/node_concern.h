/*
 * node_concern.h: rule 15 concerns inside divexd (docs/casework.md), shared
 * by node_concern.c (the control operations, the received payloads, the
 * deadline book's rows), node_casework.c (the dispatcher of received
 * casework payloads) and node_ctl_notice.c (the deadline book). Loop thread
 * only, like everything in the node.
 */
#ifndef DIVEX_NODE_NODE_CONCERN_H
#define DIVEX_NODE_NODE_CONCERN_H

#include "node_notice.h"

/* Payload.type values of casework.proto. */
#define NODE_PAYLOAD_CONCERN 9
#define NODE_PAYLOAD_EXPLANATION 10

/* A received DisclosureConcern (type 9) or DisclosureExplanation (type 10). */
void node_concern_received(struct node *n, const struct node_store_opened *m, const Dx__Payload *p);
void node_concern_explanation_received(struct node *n, const struct node_store_opened *m,
				       const Dx__Payload *p);

/* The deadline book's rows: concerns awaiting an explanation (a ctl_due_source). */
int node_concern_due(struct ctl_call *c, struct ctl_due_book *b, const char *today);

#endif
