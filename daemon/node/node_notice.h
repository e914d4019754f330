/*
 * node_notice.h: rule 12 notices inside divexd (docs/casework.md), shared
 * by node_notice.c (receiving notices and replies, the daily reminders),
 * node_ctl_notice.c (the control operations) and node_casework.c (the
 * dispatcher of received casework payloads).
 *
 * The deadline book (`due`) gathers what waits on a date from every
 * casework module: each module contributes through a ctl_due_source in the
 * table of node_ctl_notice.c and adds its entries with ctl_due_add().
 *
 * Loop thread only, like everything in the node.
 */
#ifndef DIVEX_NODE_NODE_NOTICE_H
#define DIVEX_NODE_NODE_NOTICE_H

#include "node_control.h"
#include "notice_store.h"
#include "wire.pb-c.h"

/* Payload.type values of casework.proto. */
#define NODE_PAYLOAD_NOTICE 5
#define NODE_PAYLOAD_NOTICE_REPLY 6
/* Reminders: a respond-by date this many days away, or past, is logged. */
#define NODE_NOTICE_REMIND_DAYS 3
#define NODE_NOTICE_REMIND_MS (24ULL * 3600 * 1000)
/* Texts an officer gives, in bytes. */
#define NODE_NOTICE_NAME_MAX 256
#define NODE_NOTICE_SUMMARY_MAX (32 * 1024)
#define NODE_NOTICE_REASON_MAX 2048

/* node_notice.c: a received Notice (type 5) or NoticeReply (type 6). */
void node_notice_received(struct node *n, const struct node_store_opened *m, const Dx__Payload *p);
void node_notice_reply_received(struct node *n, const struct node_store_opened *m,
				const Dx__Payload *p);

/* "awaiting", "replied" or "overdue" (awaiting past respond_by) for a row, as of today. */
const char *node_notice_state(const struct notice_row *r, const char *today);

/* The deadline book being built for one `due` call (node_ctl_notice.c). */
struct ctl_due_book;
/*
 * Adds one entry: the date it is due (YYYY-MM-DD), its kind (a word such as
 * "notice_to_answer"), the other State, the case, the id an officer acts
 * on, one line for people, and whether the date is past. Strings are copied.
 */
int ctl_due_add(struct ctl_due_book *b, const char *date, const char *kind, const char *state,
		const char *case_id, const uint8_t *id, size_t id_len, const char *what,
		int overdue) DX_MUST_CHECK;
/* One module's contribution to the book. */
typedef int (*ctl_due_source)(struct ctl_call *c, struct ctl_due_book *b, const char *today);

#endif
