/*
 * crash_campaign.h: the pieces of the crash campaign (fault_crash.c).
 *
 * The campaign plans its messages from one seed: who sends each to whom, its
 * text and its attachment, all regenerated from the seed when the received
 * copies are checked, so nothing but the plan is kept in memory. Sends run
 * as concurrent `divex send` processes that the campaign starts and reaps
 * without waiting, so that the load goes on while daemons are killed and
 * restarted. Once everything is up again, the accounting compares every
 * sender's outbox with every recipient's inbox and the bytes each copy
 * holds, and the audit pieces check the relay's log offline against every
 * checkpoint the relay and the nodes kept.
 *
 * The campaign owns every structure here; everything runs on the test's one
 * thread, and failures end the cmocka test after the network's logs are
 * printed.
 */
#ifndef DIVEX_TESTS_FAULTS_CRASH_CAMPAIGN_H
#define DIVEX_TESTS_FAULTS_CRASH_CAMPAIGN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nodes.h"

/* The network: nodes 0 and 1 send, nodes 2 and 3 receive. */
#define CRASH_SENDERS 2
#define CRASH_RECEIVERS 2
#define CRASH_NODES (CRASH_SENDERS + CRASH_RECEIVERS)
/* The subject of message i is "crash-msg <i>"; summaries end with it. */
#define CRASH_SUBJECT "crash-msg "
/* A `divex` command still running after this is killed and counted as failed. */
#define CRASH_CLI_DEADLINE_MS 180000

enum crash_send_state {
	CRASH_PLANNED,	   /* not started yet */
	CRASH_RUNNING,	   /* `divex send` is running */
	CRASH_CONFIRMED,   /* divex answered with a message id: it is queued */
	CRASH_UNCONFIRMED, /* divex failed (its daemon died): queued or not */
};

struct crash_msg {
	int sender, recipient; /* node indices */
	uint32_t seed;	       /* of its text and attachment */
	size_t text_len;
	size_t att_len; /* 0: no attachment */
	enum crash_send_state state;
	pid_t pid;
	long started_ms;
	int cli_status;
	char id[33]; /* the message id divex answered with */
	/* Found by the accounting. */
	int in_outbox;	/* the confirmed id is in the sender's outbox */
	int receipted;	/* ... and that copy is receipted */
	int copies_in;	/* copies in the recipient's inbox, by subject */
	int corrupted;	/* a copy's subject, text or attachment differs */
	int unreadable; /* `divex read --save` refused a copy (e.g. no attachment yet) */
	char envelope_id[129];
};

struct crash_run {
	struct tnet *net;
	char dir[600]; /* the campaign's working files */
	uint64_t seed;
	struct crash_msg *msgs;
	int n_msgs;
	int running; /* sends in flight */
	/* Why sends failed, for the report: exit statuses seen. */
	int failed_status[256];
};

/* The figures the accounting ends with. */
struct crash_tally {
	int confirmed, unconfirmed, unconfirmed_delivered;
	int outbox_items, receipted, delivered_once;
	int lost, duplicated, corrupted, unreadable, spurious, stuck;
	int sequence_errors, gaps;
	/* Copies the relay holds acknowledged but whose recipient holds no ack receipt. */
	int acks_unrecorded;
	/* Copies acknowledged neither at the relay nor by their recipient. */
	int unacked;
	int contents_checked, attachments_checked;
};

/* ---- crash_load.c: the plan and the sends ---- */

/* A 64-bit pseudo-random number (splitmix64) advancing *state. */
uint64_t crash_rand(uint64_t *state);
/* Plans n messages from the seed; attachments of up to att_max bytes on about one in att_every. */
void crash_plan(struct crash_run *c, int n, size_t att_max, int att_every);
/* The text of message i (malloc'd, NUL-terminated). */
char *crash_text(const struct crash_run *c, int i);
/* The attachment's file name of message i. */
void crash_att_name(int i, char name[32]);
/* Writes message i's attachment into dir under its name; its path in path. */
void crash_att_write(const struct crash_run *c, int i, const char *dir, char path[700]);
/* Starts `divex send` for message i from its sender's home. */
void crash_send_start(struct crash_run *c, int i);
/* Reaps every finished send (killing any past its deadline); how many finished. */
int crash_send_reap(struct crash_run *c);
/* Kills every send still running (teardown). */
void crash_send_kill_all(struct crash_run *c);

/*
 * Starts `divex --home HOME --json ARGS...` for node n in the background,
 * its output in DIR/<tag>.out and .err; crash_cli_collect() waits for it.
 */
pid_t crash_cli_start(const struct crash_run *c, const struct tnode *n, char *const args[],
		      const char *tag);
void crash_cli_collect(const struct crash_run *c, pid_t pid, const char *tag, struct tcli *r);

/* ---- crash_check.c: the accounting once everything is up ---- */

/*
 * Waits (up to deadline_ms) until every sender's outbox is receipted and
 * every receipted copy is in its recipient's inbox and acknowledged, by the
 * recipient or at the relay; returns 0, or -1 at the deadline (the
 * accounting then says what is missing).
 */
int crash_wait_settled(struct crash_run *c, int deadline_ms);
/* Compares outboxes, inboxes, sequence numbers and every copy's bytes. */
void crash_account(struct crash_run *c, struct crash_tally *t);

/* ---- crash_audit.c: the audit log ---- */

/*
 * The envelope ids (lowercase hex) the relay holds as acknowledged by their
 * recipient, read from its database (the relay may be running): a set, as
 * a JSON object whose keys are the ids.
 */
json_t *crash_relay_acked(struct crash_run *c);

struct crash_audit {
	uint64_t leaves;
	int relay_checkpoints, node_checkpoints;
	int conflicts; /* rows in the nodes' conflict tables */
	int alarms;    /* ALARM lines in the nodes' logs */
	int refused;   /* envelopes a node refused */
	int receipts_checked;
	int check_failed; /* `divex audit check` that did not pass */
};

/* `divex audit check` and `divex status` on every node, and their logs. */
void crash_audit_nodes(struct crash_run *c, struct crash_audit *a);
/*
 * With every daemon stopped: rebuilds the relay's Merkle tree from the
 * leaves in its database and checks every checkpoint the relay stored and
 * every one a node kept against it (signature, size, root).
 */
void crash_audit_offline(struct crash_run *c, struct crash_audit *a);

#endif
