/*
 * harden.h: process hardening for divex-relay, divexd and divex, in one
 * place.
 *
 * harden_process() is the first thing main() does. It sets RLIMIT_CORE to
 * 0 and clears the dumpable flag (PR_SET_DUMPABLE 0), so that a crash
 * leaves no core file, not even through a core_pattern pipe, and no other
 * process of the same user can ptrace the process or read its
 * /proc/PID/mem, maps, environ or fd. Only root (CAP_SYS_PTRACE) still can:
 * debugging a running daemon needs root. The daemons also set
 * PR_SET_NO_NEW_PRIVS: they never run another program, and nothing they
 * could be made to run gains privileges through a set-user-ID bit or file
 * capabilities. The daemons raise their soft descriptor limit to the hard
 * one. The kernel resets the dumpable flag whenever the process's
 * user or group ids change, so the functions below that change them clear
 * it again.
 *
 * The privilege drop: a daemon started by root with `user = NAME` in its
 * configuration becomes that user before it reads its keys or opens its
 * database, so that every file it creates later (SQLite's journal files,
 * attachments, the sockets) belongs to NAME. harden_drop() does it at once
 * and for good. The relay may have to listen on a port below 1024; for
 * that, harden_drop_begin() makes NAME the real and effective user while
 * root stays the saved user and the capabilities shrink to
 * CAP_NET_BIND_SERVICE alone, and harden_drop_finish(), called once every
 * listener is bound, makes the drop final. glibc applies that last change
 * to every thread, and the kernel clears every thread's capabilities with
 * it. Both ends verify the result: all three user and group ids are NAME's,
 * setuid(0) and setgid(0) fail, and no thread holds a capability.
 *
 * Secrets (docs/THREAT-MODEL.md): private keys, store keys and message keys
 * live in sodium_malloc() memory, which libsodium locks (mlock: never
 * swapped) and marks MADV_DONTDUMP, between guard pages, and wipes when it
 * is freed. mlockall() is not used: it would put SQLite's page cache, the
 * relay's mailboxes and the attachment buffers under RLIMIT_MEMLOCK (8 MiB
 * by default for a user) and turn memory pressure into failed allocations.
 * What it would protect beyond the keys is ciphertext on the relay, and on
 * a node the text of messages and cases: the systemd units keep the whole
 * service out of swap instead (MemorySwapMax=0).
 *
 * Everything here runs on the main thread during start-up; nothing is kept.
 */
#ifndef DIVEX_COMMON_HARDEN_H
#define DIVEX_COMMON_HARDEN_H

#include <stddef.h>
#include <sys/types.h>

#include "error.h"

/* A user name in a configuration file: 1 to 32 of [A-Za-z0-9_.-], not starting with '-'. */
#define HARDEN_USER_NAME_MAX 32
/* harden_process() flag: a daemon, which never executes another program. */
#define HARDEN_DAEMON 1u
/* A message from the functions below always fits in this many bytes. */
#define HARDEN_ERR_MAX 768

struct harden_user {
	char name[HARDEN_USER_NAME_MAX + 1];
	uid_t uid;
	gid_t gid;
};

/*
 * No core dumps, not dumpable; with HARDEN_DAEMON also no new privileges.
 * DX_EIO (with errno set) if the kernel refused one of them.
 */
int harden_process(unsigned flags) DX_MUST_CHECK;

/* True when name is acceptable as `user = name`. */
int harden_user_name_valid(const char *name);

/*
 * Looks name up in the user database. DX_EINVAL, with a sentence in err, for
 * an unknown user or for root itself (switching to root drops nothing).
 */
int harden_user_lookup(const char *name, struct harden_user *u, char *err,
		       size_t errlen) DX_MUST_CHECK;

/*
 * Checks that path belongs to u and, when path is a directory, that each
 * entry directly in it does too (symbolic links aside). DX_EINVAL with a
 * sentence that gives the fix ("home /x is owned by root; run: chown -R
 * divex: /x"); what names the path in that sentence ("home", "data_dir").
 */
int harden_check_owner(const char *path, const char *what, const struct harden_user *u, char *err,
		       size_t errlen) DX_MUST_CHECK;

/* Becomes u for good (root only), then verifies it. DX_EIO with a sentence on failure. */
int harden_drop(const struct harden_user *u, char *err, size_t errlen) DX_MUST_CHECK;

/*
 * The first half of a drop for a process that still has to bind a port
 * below 1024: real and effective ids become u's, the saved user id stays 0,
 * and the only capability left is CAP_NET_BIND_SERVICE. Call it while the
 * process has a single thread, so that every thread started later inherits
 * no more than that.
 */
int harden_drop_begin(const struct harden_user *u, char *err, size_t errlen) DX_MUST_CHECK;

/*
 * The second half: when harden_drop_begin() ran, sets all three ids to the
 * effective ones (in every thread) and verifies the result; *done tells
 * whether there was anything to finish. Otherwise it does nothing.
 */
int harden_drop_finish(int *done, char *err, size_t errlen) DX_MUST_CHECK;

/* Whether binding port needs privilege (below net.ipv4.ip_unprivileged_port_start). */
int harden_port_privileged(unsigned port);

/* The name of uid for messages ("root", "divex", or the number). */
void harden_user_name(uid_t uid, char *out, size_t outsz);

#endif
