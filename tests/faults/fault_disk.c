/*
 * fault_disk.c: the disk fills up under the relay and under a node.
 *
 * A relay and two States (FRA, MEX) run as separate processes on loopback.
 * The relay's home, then FRA's, is moved onto a small tmpfs of its own
 * (mounted over the home's directory, so nothing else changes) and filled
 * with a filler file while messages flow. Then:
 *
 *   - new work is refused with an error that names the full disk: the
 *     relay answers DX_ENOSPC (seen in the sender's `divex outbox`) and
 *     says so in its log; on a full node, `divex send` fails with status 1
 *     and DX_ENOSPC, and the node's log says why mail waits;
 *   - no daemon crashes or exits;
 *   - every message receipted before the disk filled is delivered exactly
 *     once (sequence numbers 1..N, no gap), byte for byte (text and
 *     attachment);
 *   - after the filler is deleted, new work succeeds without restarting
 *     anything, and `divex audit check` proves every receipt in the relay's
 *     log; at the end the relay restarts on its own files (it refuses to
 *     start when its log disagrees with its last checkpoint).
 *
 * The disk also fills in the middle of an attachment: the filler leaves
 * less room than the attachment needs, so an upload to the relay, a
 * download by the node and an upload by the CLI to its own daemon each
 * stop part-way and must resume (or, for the CLI, be refused cleanly).
 *
 * Mounting needs root: without it, or when the kernel refuses the mount,
 * the program prints "SKIPPED: reason" and exits 77, which ctest counts as
 * skipped (SKIP_RETURN_CODE in tests/faults_env.cmake). The mounts live in
 * a mount namespace of the test's own (they go when its processes do, even
 * if it is killed), and are also undone in teardown and at exit. Bounded form: one
 * fill-and-free cycle per scenario; DIVEX_FAULTS_FULL=1 repeats the relay's
 * cycle DISK_FULL_CYCLES times. Figures go to standard output after "disk:".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "error.h"
#include "nodes.h"
#include "testlib.h"

#define SKIP_STATUS 77
#define MIB (1024 * 1024)
#define RELAY_DISK "24m"
#define NODE_DISK "24m"
/* Room left by a partial fill: less than the attachments below need. */
#define ROOM_MIB 1
#define ATTACH_SIZE (3 * MIB)
#define BEFORE 4 /* messages receipted before each fill */
#define DURING 3 /* messages sent while the disk is full */
#define DISK_FULL_CYCLES 5
/* Refused submissions of each message before the disk is freed. */
#define REFUSALS 3
/*
 * The relay's mailbox quota: above the most a mailbox holds here (7), below
 * that and the refused submissions together, so that counting a refused
 * envelope in the mailbox would show as DX_EQUOTA once the disk is freed.
 */
#define MAILBOX_MAX "12"

static struct tnet NET;
static const char *const STATES[] = { "FRA", "MEX" };
static int CYCLES = 1;

/* ---- mounts ---- */

#define MOUNTS_MAX 4
static char MOUNTS[MOUNTS_MAX][600];
static int N_MOUNTS;

static void unmount_one(int i)
{
	if (MOUNTS[i][0] == '\0') {
		return;
	}
	if (umount(MOUNTS[i]) != 0 && umount2(MOUNTS[i], MNT_DETACH) != 0) {
		fprintf(stderr, "fault_disk: cannot unmount %s: %s\n", MOUNTS[i], strerror(errno));
	}
	MOUNTS[i][0] = '\0';
}

/* At exit: the daemons first (they hold files there), then the mounts. */
static void unmount_all(void)
{
	struct proc *procs[TN_NODES_MAX + 1];
	int n = 0;
	if (NET.relay.running) {
		procs[n++] = &NET.relay.proc;
	}
	for (int i = 0; i < NET.n_nodes; i++) {
		if (NET.nodes[i].running) {
			procs[n++] = &NET.nodes[i].proc;
		}
	}
	for (int i = 0; i < n; i++) {
		kill(procs[i]->pid, SIGKILL);
		waitpid(procs[i]->pid, NULL, 0);
	}
	for (int i = 0; i < N_MOUNTS; i++) {
		unmount_one(i);
	}
}

static int mount_tmpfs(const char *dir, const char *size)
{
	char opts[64];
	snprintf(opts, sizeof(opts), "size=%s,mode=0700", size);
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0) {
		return -errno;
	}
	static int registered;
	if (!registered) {
		atexit(unmount_all); /* after test_tmpdir()'s: runs before its cleanup */
		registered = 1;
	}
	assert_true(N_MOUNTS < MOUNTS_MAX);
	snprintf(MOUNTS[N_MOUNTS++], sizeof(MOUNTS[0]), "%s", dir);
	return 0;
}

/*
 * Whether this process can mount a tmpfs; if not, why, in why. The mounts
 * go into a mount namespace of this process and its children when the
 * kernel allows it: they then vanish with the last of them, even when the
 * test is killed (a ctest timeout sends SIGKILL, and no atexit() runs).
 */
static int can_mount(char *why, size_t size)
{
	char dir[600];
	if (geteuid() != 0) {
		snprintf(why, size, "mounting a tmpfs needs root (euid %u)", (unsigned)geteuid());
		return 0;
	}
	if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0) {
		fprintf(stderr,
			"fault_disk: no mount namespace of its own (%s): the mounts are "
			"undone at exit only\n",
			strerror(errno));
	}
	snprintf(dir, sizeof(dir), "%s/probe", test_tmpdir());
	if (mkdir(dir, 0700) != 0) {
		snprintf(why, size, "cannot make a directory in %.120s: %s", test_tmpdir(),
			 strerror(errno));
		return 0;
	}
	if (mount("tmpfs", dir, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0700") != 0) {
		snprintf(why, size, "the kernel refused to mount a tmpfs: %s", strerror(errno));
		rmdir(dir);
		return 0;
	}
	umount(dir);
	rmdir(dir);
	return 1;
}

/*
 * Moves a stopped daemon's home onto a tmpfs of its own mounted over the
 * same path: its files are copied over, so the daemon finds everything
 * where it was.
 */
static void home_to_tmpfs(const char *home, const char *size)
{
	char old[700], src[720], log[720];
	snprintf(old, sizeof(old), "%s.disk", home);
	snprintf(src, sizeof(src), "%s/.", old);
	snprintf(log, sizeof(log), "%s.move.log", home);
	assert_int_equal(rename(home, old), 0);
	assert_int_equal(mkdir(home, 0700), 0);
	int rc = mount_tmpfs(home, size);
	if (rc != 0) {
		fail_msg("mounting a tmpfs on %s: %s", home, strerror(-rc));
	}
	char *cp[] = { "/bin/cp", "-a", src, (char *)home, NULL };
	assert_int_equal(proc_run(log, cp), 0);
	char *rm[] = { "/bin/rm", "-rf", old, NULL };
	assert_int_equal(proc_run(log, rm), 0);
}

static long long disk_avail(const char *dir)
{
	struct statvfs sv;
	assert_int_equal(statvfs(dir, &sv), 0);
	return (long long)sv.f_bavail * (long long)sv.f_frsize;
}

static void filler_path(const char *dir, char out[700])
{
	snprintf(out, 700, "%s/filler.bin", dir);
}

/*
 * Fills the file system of dir with a filler file until a write fails with
 * ENOSPC, then gives back `room` bytes. Returns the filler's size.
 */
static long long disk_fill(const char *dir, long long room)
{
	static char block[MIB];
	char path[700];
	long long size = 0;
	filler_path(dir, path);
	memset(block, 0x5a, sizeof(block));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	for (size_t chunk = sizeof(block); chunk >= 4096; chunk /= 4) {
		for (;;) {
			ssize_t w = write(fd, block, chunk);
			if (w > 0) {
				size += w;
				continue;
			}
			if (w < 0 && errno == EINTR) {
				continue;
			}
			if (w < 0 && errno != ENOSPC) {
				fail_msg("filling %s: %s", dir, strerror(errno));
			}
			break;
		}
	}
	if (room > 0) {
		size = size > room ? size - room : 0;
		assert_int_equal(ftruncate(fd, (off_t)size), 0);
	}
	close(fd);
	return size;
}

static void disk_free(const char *dir)
{
	char path[700];
	filler_path(dir, path);
	assert_int_equal(unlink(path), 0);
}

/* ---- the network ---- */

/* Appends lines to the [limits] section, which relay.conf ends with. */
static void relay_conf_append(const char *text)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/relay.conf", NET.relay.home);
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Fails the test if a daemon of the network has exited. */
static void assert_all_running(const char *when)
{
	struct {
		const char *name;
		struct proc *p;
	} all[TN_NODES_MAX + 1];
	int n = 0;
	all[n].name = "the relay";
	all[n++].p = &NET.relay.proc;
	for (int i = 0; i < NET.n_nodes; i++) {
		all[n].name = NET.nodes[i].state;
		all[n++].p = &NET.nodes[i].proc;
	}
	for (int i = 0; i < n; i++) {
		int status = 0;
		if (waitpid(all[i].p->pid, &status, WNOHANG) == all[i].p->pid) {
			TN_FAIL(&NET, "%s: %s exited (status %d)", when, all[i].name, status);
		}
	}
}

static int setup(void **state)
{
	(void)state;
	tnet_setup(&NET, "disk", 0, STATES, 2);
	/* The relay's home onto its own small disk: stopped, moved, started again. */
	int rc = trelay_stop(&NET.relay, SIGTERM);
	assert_int_equal(rc, 0);
	relay_conf_append("mailbox_max_envelopes = " MAILBOX_MAX "\n");
	home_to_tmpfs(NET.relay.home, RELAY_DISK);
	trelay_start(&NET.relay);
	return 0;
}

/* After each test, even a failed one: no filler left to fail the next. */
static int free_fillers(void **state)
{
	char path[700];
	(void)state;
	filler_path(NET.relay.home, path);
	unlink(path);
	for (int i = 0; i < NET.n_nodes; i++) {
		filler_path(NET.nodes[i].home, path);
		unlink(path);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tnet_teardown(&NET);
	for (int i = 0; i < N_MOUNTS; i++) {
		unmount_one(i);
	}
	return 0;
}

/* ---- messages ---- */

struct sent {
	char id[33];
	char subject[64];
	char text[128];
	char attach[700]; /* "" when none */
};

static void send_one(const struct tnode *from, const char *to, struct sent *s, const char *tag,
		     int i, size_t attach_size)
{
	snprintf(s->subject, sizeof(s->subject), "%s %d.", tag, i);
	snprintf(s->text, sizeof(s->text), "Message %d of \"%s\" from %s, byte for byte.", i, tag,
		 from->state);
	s->attach[0] = '\0';
	const char *attach[2] = { NULL, NULL };
	if (attach_size > 0) {
		snprintf(s->attach, sizeof(s->attach), "%s/%s-%d.bin", NET.dir, tag, i);
		for (char *c = strrchr(s->attach, '/') + 1; *c != '\0'; c++) {
			*c = *c == ' ' ? '-' : *c;
		}
		tfile_random(s->attach, attach_size, (unsigned)(1000 + i));
		attach[0] = s->attach;
	}
	tnode_send(&NET, from, to, s->subject, s->text, attach, s->id);
}

/* Waits until the relay has refused id with `code` at least `tries` times. */
static void wait_refused(const struct tnode *n, const char *id, int code, int tries)
{
	long end = tn_now_ms() + TN_DELIVER_MS;
	long long last = 0, attempts = 0;
	do {
		json_t *it = tnet_outbox_item(&NET, n, id);
		last = it != NULL ? tj_int(it, "last_error") : 0;
		attempts = it != NULL ? tj_int(it, "attempts") : 0;
		const char *st = it != NULL ? tj_str(it, "state") : "absent";
		if (strcmp(st, "receipted") == 0) {
			json_decref(it);
			TN_FAIL(&NET, "%s: message %s was receipted while the disk was full",
				n->state, id);
		}
		json_decref(it);
		if (last == code && attempts >= tries) {
			return;
		}
		tn_pause();
	} while (tn_now_ms() < end);
	TN_FAIL(&NET, "%s: message %s: last error %s after %lld attempts, want %s (%d tries)",
		n->state, id, dx_errname((int)last), attempts, dx_errname(code), tries);
}

/* The inbox items from sender whose summary holds subject. */
static int inbox_count(json_t *inbox, const char *sender, const char *subject, json_t **item)
{
	json_t *items = json_object_get(inbox, "items");
	int count = 0;
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		if (strcmp(tj_str(it, "sender"), sender) == 0 &&
		    strstr(tj_str(it, "summary"), subject) != NULL) {
			count++;
			*item = it;
		}
	}
	return count;
}

/* Each message arrived once, acknowledged, with the bytes sent. */
static void check_delivered(const struct tnode *from, const struct tnode *to, struct sent *s, int n)
{
	char save[700], got[800];
	for (int i = 0; i < n; i++) {
		json_decref(tnode_wait_outbox(&NET, from, s[i].id, "receipted", TN_DELIVER_MS));
		json_decref(
			tnode_wait_inbox(&NET, to, from->state, s[i].subject, 1, TN_DELIVER_MS));
	}
	json_t *inbox = tnode_inbox(&NET, to);
	for (int i = 0; i < n; i++) {
		json_t *it = NULL;
		int count = inbox_count(inbox, from->state, s[i].subject, &it);
		if (count != 1) {
			TN_FAIL(&NET, "%s: \"%s\" from %s is in the inbox %d times", to->state,
				s[i].subject, from->state, count);
		}
		const char *env = tj_str(it, "envelope_id");
		json_t *p = NULL;
		json_t *r = tnode_read(&NET, to, env, &p);
		if (strcmp(tj_str(p, "text"), s[i].text) != 0) {
			TN_FAIL(&NET, "%s: \"%s\" arrived with another text: %.200s", to->state,
				s[i].subject, tj_str(p, "text"));
		}
		json_decref(r);
		if (s[i].attach[0] == '\0') {
			continue;
		}
		snprintf(save, sizeof(save), "%s/saved-%s", NET.dir, env);
		assert_int_equal(mkdir(save, 0700), 0);
		json_decref(TN_CLI_OK(&NET, to, "read", (char *)env, "--save", save));
		snprintf(got, sizeof(got), "%s/%s", save, strrchr(s[i].attach, '/') + 1);
		if (!tfile_same(s[i].attach, got)) {
			TN_FAIL(&NET, "%s: the attachment of \"%s\" did not arrive byte for byte",
				to->state, s[i].subject);
		}
	}
	json_decref(inbox);
}

/* The sender's sequence numbers in the recipient's inbox: 1..count, each once, no gap. */
static void check_sequences(const struct tnode *n, const char *sender)
{
	char seen[512] = { 0 };
	json_t *j = tnode_inbox(&NET, n);
	json_t *items = json_object_get(j, "items");
	long long count = 0, max = 0;
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		if (strcmp(tj_str(it, "sender"), sender) != 0) {
			continue;
		}
		long long s = tj_int(it, "sequence");
		if (s < 1 || s >= (long long)sizeof(seen) || seen[s]) {
			TN_FAIL(&NET, "%s: sequence %lld from %s is out of range or there twice",
				n->state, s, sender);
		}
		seen[s] = 1;
		count++;
		max = s > max ? s : max;
	}
	if (count != max) {
		TN_FAIL(&NET, "%s: %lld messages from %s but sequences up to %lld", n->state, count,
			sender, max);
	}
	if (json_array_size(json_object_get(j, "gaps")) != 0) {
		TN_FAIL(&NET, "%s: the inbox reports a sequence gap", n->state);
	}
	json_decref(j);
}

/* `divex audit check` on every node: every receipt proved, no alarm. */
static void check_audit(const char *when)
{
	for (int i = 0; i < NET.n_nodes; i++) {
		struct tcli r;
		tnode_cli_argv(&NET.nodes[i], (uid_t)-1, &r, TN_ARGS("audit", "check"));
		if (r.status != 0 || tj_int(r.json, "receipts_failed") != 0 ||
		    tj_int(r.json, "alarms") != 0) {
			TN_FAIL(&NET, "%s: divex audit check on %s: status %d, %.300s %.300s", when,
				NET.nodes[i].state, r.status, r.out, r.err);
		}
		fprintf(stdout, "disk: %s audit check after %s: %lld receipts proved\n",
			NET.nodes[i].state, when, tj_int(r.json, "receipts_checked"));
		tcli_free(&r);
	}
}

/* ---- the relay's disk ---- */

/*
 * One cycle: messages receipted while the recipient is away, the relay's
 * disk filled, the recipient back (it cannot fetch: a fetch is logged),
 * more messages sent (refused with DX_ENOSPC), the filler deleted, and
 * everything delivered without a restart.
 */
static void relay_cycle(int cycle)
{
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	struct sent before[BEFORE], during[DURING];
	char tag[32];
	assert_int_equal(tnode_stop(mex, SIGTERM), 0);
	snprintf(tag, sizeof(tag), "before fill %d", cycle);
	for (int i = 0; i < BEFORE; i++) {
		send_one(fra, "MEX", &before[i], tag, i, i == 0 ? 64 * 1024 : 0);
	}
	for (int i = 0; i < BEFORE; i++) {
		json_decref(tnode_wait_outbox(&NET, fra, before[i].id, "receipted", TN_DELIVER_MS));
	}
	int refusals = proc_log_count(&NET.relay.proc, "DX_ENOSPC");
	int lows = proc_log_count(&NET.relay.proc, "under 5%");
	int highs = proc_log_count(&NET.relay.proc, "back above 5%");
	long long filler = disk_fill(NET.relay.home, 0);
	tnode_start(&NET, mex);
	snprintf(tag, sizeof(tag), "during fill %d", cycle);
	for (int i = 0; i < DURING; i++) {
		send_one(fra, "MEX", &during[i], tag, i, 0);
	}
	for (int i = 0; i < DURING; i++) {
		wait_refused(fra, during[i].id, DX_ENOSPC, REFUSALS);
	}
	/* The relay says why in its log; FRA's log names the full disk. */
	if (proc_log_count(&NET.relay.proc, "DX_ENOSPC") <= refusals) {
		TN_FAIL(&NET, "the relay's log does not name DX_ENOSPC for the refusals");
	}
	if (tnode_wait_log(fra, dx_strerror(DX_ENOSPC), 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "FRA's log does not say that the relay's disk is full");
	}
	assert_all_running("the relay's disk full");
	/* The operator was warned before (here: as) the disk filled, and the
	 * gauge the alert rules read says so. */
	if (proc_wait_log(&NET.relay.proc, "under 5%", lows + 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "the relay did not log that its disk is under 5%% free");
	}
	/* Nothing went through while the disk was full. */
	json_t *inbox = tnode_inbox(&NET, mex);
	json_t *it = NULL;
	for (int i = 0; i < DURING; i++) {
		assert_int_equal(inbox_count(inbox, "FRA", during[i].subject, &it), 0);
	}
	json_decref(inbox);
	/* Restarted on its full disk, the relay comes up on what it holds
	 * (its log checked against its checkpoint) and goes on refusing. */
	assert_int_equal(trelay_stop(&NET.relay, SIGTERM), 0);
	refusals = proc_log_count(&NET.relay.proc, "DX_ENOSPC");
	trelay_start(&NET.relay);
	if (proc_wait_log(&NET.relay.proc, "DX_ENOSPC", refusals + 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "the relay, restarted on its full disk, refuses nothing");
	}
	assert_all_running("the relay restarted on its full disk");
	disk_free(NET.relay.home);
	if (proc_wait_log(&NET.relay.proc, "back above 5%", highs + 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "the relay did not log that its free space is back above 5%%");
	}
	fprintf(stdout,
		"disk: relay cycle %d: filler %lld bytes, %d refusals logged by the relay\n", cycle,
		filler, proc_log_count(&NET.relay.proc, "DX_ENOSPC") - refusals);
	check_delivered(fra, mex, before, BEFORE);
	check_delivered(fra, mex, during, DURING);
}

static void test_relay_disk_full(void **state)
{
	(void)state;
	for (int c = 0; c < CYCLES; c++) {
		relay_cycle(c);
	}
	check_sequences(tnet_node(&NET, "MEX"), "FRA");
	assert_all_running("the relay's disk freed");
	check_audit("the relay's disk filled");
}

/* The relay's disk fills while an attachment is being uploaded to it. */
static void test_relay_disk_full_mid_upload(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	struct sent big;
	long long filler = disk_fill(NET.relay.home, ROOM_MIB * MIB);
	long long room = disk_avail(NET.relay.home);
	send_one(fra, "MEX", &big, "upload into a full disk", 0, ATTACH_SIZE);
	wait_refused(fra, big.id, DX_ENOSPC, 2);
	assert_all_running("the relay's disk full mid-upload");
	disk_free(NET.relay.home);
	fprintf(stdout,
		"disk: relay mid-upload: %d MiB attachment, %lld bytes free when it started "
		"(filler %lld)\n",
		ATTACH_SIZE / MIB, room, filler);
	check_delivered(fra, mex, &big, 1);
	check_sequences(mex, "FRA");
	check_audit("an upload into the relay's full disk");
}

/* ---- a node's disk ---- */

static void test_node_disk_full(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	struct sent early[BEFORE], during[DURING], after;
	assert_int_equal(tnode_stop(fra, SIGTERM), 0);
	home_to_tmpfs(fra->home, NODE_DISK);
	tnode_start(&NET, fra);
	/* FRA sends and receives as usual on its new disk. */
	for (int i = 0; i < BEFORE; i++) {
		send_one(fra, "MEX", &early[i], "from FRA's small disk", i, 0);
	}
	check_delivered(fra, mex, early, BEFORE);
	/* Full: FRA's officer is refused, mail for FRA waits at the relay. */
	int warned = proc_log_count(&fra->proc, dx_strerror(DX_ENOSPC));
	long long filler = disk_fill(fra->home, 0);
	for (int i = 0; i < DURING; i++) {
		send_one(mex, "FRA", &during[i], "to FRA's full disk", i, 0);
	}
	for (int i = 0; i < DURING; i++) {
		json_decref(tnode_wait_outbox(&NET, mex, during[i].id, "receipted", TN_DELIVER_MS));
	}
	struct tcli r;
	char msg[700];
	snprintf(msg, sizeof(msg), "%s/refused.txt", NET.dir);
	test_write_file(msg, "Refused.", 8);
	tnode_cli_argv(fra, (uid_t)-1, &r,
		       TN_ARGS("send", "--to", "MEX", "--subject", "refused", "--file", msg));
	if (r.status != 1 || strstr(r.err, "DX_ENOSPC") == NULL ||
	    strstr(r.err, "no space left") == NULL) {
		TN_FAIL(&NET, "divex send on a full disk: status %d, %.500s (want 1, DX_ENOSPC)",
			r.status, r.err);
	}
	json_t *e = json_loads(r.err, 0, NULL);
	fprintf(stdout, "disk: node full: divex send exits %d, %s: %s\n", r.status,
		tj_str(e, "error"), tj_str(e, "message"));
	json_decref(e);
	tcli_free(&r);
	if (tnode_wait_log(fra, dx_strerror(DX_ENOSPC), warned + 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "FRA's log does not say that its disk is full");
	}
	assert_all_running("FRA's disk full");
	/* Restarted on the full disk (a reboot, an upgrade): it comes up, shows
	 * what it holds, says why it takes nothing new, and refuses sends. */
	assert_int_equal(tnode_stop(fra, SIGTERM), 0);
	warned = proc_log_count(&fra->proc, dx_strerror(DX_ENOSPC));
	tnode_start(&NET, fra);
	tnode_cli_argv(fra, (uid_t)-1, &r, TN_ARGS("inbox"));
	if (r.status != 0) {
		TN_FAIL(&NET, "divex inbox after a restart on a full disk: status %d, %.500s",
			r.status, r.err);
	}
	tcli_free(&r);
	if (tnode_wait_log(fra, dx_strerror(DX_ENOSPC), warned + 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "FRA, restarted on its full disk, does not say that it is full");
	}
	tnode_cli_argv(fra, (uid_t)-1, &r,
		       TN_ARGS("send", "--to", "MEX", "--subject", "refused", "--file", msg));
	if (r.status != 1 || strstr(r.err, "DX_ENOSPC") == NULL) {
		TN_FAIL(&NET, "divex send after a restart on a full disk: status %d, %.500s",
			r.status, r.err);
	}
	tcli_free(&r);
	fprintf(stdout, "disk: node restarted on its full disk: it runs, reads, refuses sends\n");
	disk_free(fra->home);
	/* Room again: everything flows, nothing restarted. */
	check_delivered(mex, fra, during, DURING);
	send_one(fra, "MEX", &after, "after FRA's disk was freed", 0, 0);
	check_delivered(fra, mex, &after, 1);
	fprintf(stdout, "disk: node cycle: filler %lld bytes, %d log lines name the full disk\n",
		filler, proc_log_count(&fra->proc, dx_strerror(DX_ENOSPC)) - warned);
	check_sequences(fra, "MEX");
	check_sequences(mex, "FRA");
	assert_all_running("FRA's disk freed");
}

/* How many partial streams FRA's outgoing/ holds. */
static int outgoing_parts(const struct tnode *n)
{
	char dir[700];
	snprintf(dir, sizeof(dir), "%s/outgoing", n->home);
	DIR *d = opendir(dir);
	int count = 0;
	assert_non_null(d);
	for (struct dirent *e = readdir(d); e != NULL; e = readdir(d)) {
		size_t len = strlen(e->d_name);
		count += len > 5 && strcmp(e->d_name + len - 5, ".part") == 0;
	}
	closedir(d);
	return count;
}

/* FRA's disk fills while its CLI hands it an attachment, then while it downloads one. */
static void test_node_disk_full_mid_attachment(void **state)
{
	(void)state;
	struct tnode *fra = tnet_node(&NET, "FRA"), *mex = tnet_node(&NET, "MEX");
	struct sent in, out;
	char big[700], msg[700];
	struct tcli r;
	/* The CLI's upload to its own daemon stops part-way: refused, not queued. */
	long long filler = disk_fill(fra->home, ROOM_MIB * MIB);
	snprintf(big, sizeof(big), "%s/too-big-for-the-disk.bin", NET.dir);
	tfile_random(big, ATTACH_SIZE, 99);
	snprintf(msg, sizeof(msg), "%s/refused-upload.txt", NET.dir);
	test_write_file(msg, "Refused.", 8);
	tnode_cli_argv(fra, (uid_t)-1, &r,
		       TN_ARGS("send", "--to", "MEX", "--subject", "refused upload", "--file", msg,
			       "--attach", big));
	if (r.status != 1 || strstr(r.err, "DX_ENOSPC") == NULL) {
		TN_FAIL(&NET,
			"divex send --attach on a full disk: status %d, %.500s (want 1, "
			"DX_ENOSPC)",
			r.status, r.err);
	}
	tcli_free(&r);
	/* What was handed over is given back, not left to hold the space. */
	assert_int_equal(outgoing_parts(fra), 0);
	disk_free(fra->home);
	fprintf(stdout,
		"disk: node mid-upload (CLI to divexd): %d MiB attachment, filler %lld "
		"bytes\n",
		ATTACH_SIZE / MIB, filler);
	/* A download stops part-way on the full disk and resumes once there is room. */
	int warned = proc_log_count(&fra->proc, dx_strerror(DX_ENOSPC));
	filler = disk_fill(fra->home, ROOM_MIB * MIB);
	send_one(mex, "FRA", &in, "download into a full disk", 0, ATTACH_SIZE);
	if (tnode_wait_log(fra, dx_strerror(DX_ENOSPC), warned + 1, TN_DELIVER_MS) != 0) {
		TN_FAIL(&NET, "FRA's log does not say that a download stopped on a full disk");
	}
	assert_all_running("FRA's disk full mid-download");
	disk_free(fra->home);
	fprintf(stdout, "disk: node mid-download: %d MiB attachment, filler %lld bytes\n",
		ATTACH_SIZE / MIB, filler);
	check_delivered(mex, fra, &in, 1);
	/* The refused send, now that there is room, goes through. */
	send_one(fra, "MEX", &out, "upload after the disk was freed", 0, ATTACH_SIZE);
	check_delivered(fra, mex, &out, 1);
	check_sequences(fra, "MEX");
	check_sequences(mex, "FRA");
	check_audit("FRA's disk filled");
	/* The relay starts again on its own files: its log agrees with its checkpoint. */
	assert_int_equal(trelay_stop(&NET.relay, SIGTERM), 0);
	trelay_start(&NET.relay);
	check_audit("the relay restarted");
}

int main(void)
{
	char why[256];
	test_find_build_tree();
	/* Figures on standard output must not wait behind a buffer when a test fails. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *full = getenv("DIVEX_FAULTS_FULL");
	if (full != NULL && strcmp(full, "1") == 0) {
		CYCLES = DISK_FULL_CYCLES;
	}
	if (!can_mount(why, sizeof(why))) {
		printf("SKIPPED: %s\n", why);
		return SKIP_STATUS;
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_relay_disk_full, free_fillers),
		cmocka_unit_test_teardown(test_relay_disk_full_mid_upload, free_fillers),
		cmocka_unit_test_teardown(test_node_disk_full, free_fillers),
		cmocka_unit_test_teardown(test_node_disk_full_mid_attachment, free_fillers),
	};
	return cmocka_run_group_tests_name("disk full", tests, setup, teardown);
}
