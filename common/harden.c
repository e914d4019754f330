/*
 * harden.c: see harden.h. Capabilities are read and set with the capget
 * and capset system calls directly (version 3: two 32-bit words per set),
 * since libcap is not among divex's dependencies and two calls is all that
 * is needed.
 */
#include "harden.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* getpwnam_r()'s scratch buffer; an entry that needs more is refused. */
#define PWBUF_MAX (64 * 1024)
/* Ports below this need privilege when /proc does not say otherwise. */
#define DEFAULT_UNPRIVILEGED_PORT_START 1024

int harden_process(unsigned flags)
{
	struct rlimit cur, no_core = { 0, 0 };
	/* Under systemd (LimitCORE=0) the limit is already 0, and setrlimit may be filtered out. */
	if (getrlimit(RLIMIT_CORE, &cur) != 0 || cur.rlim_cur != 0 || cur.rlim_max != 0) {
		if (setrlimit(RLIMIT_CORE, &no_core) != 0) {
			return DX_EIO;
		}
	}
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		return DX_EIO;
	}
	if ((flags & HARDEN_DAEMON) != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
		return DX_EIO;
	}
	/*
	 * Every connection costs a daemon a descriptor before it knows who is
	 * there (the relay holds an unfinished TLS handshake for as long as the
	 * other end keeps it: docs/RELIABILITY.md), so a daemon takes all the
	 * descriptors it is allowed. Under systemd (LimitNOFILE=) soft and hard
	 * are equal already; a refusal changes nothing and is not an error.
	 */
	if ((flags & HARDEN_DAEMON) != 0 && getrlimit(RLIMIT_NOFILE, &cur) == 0 &&
	    cur.rlim_cur < cur.rlim_max) {
		cur.rlim_cur = cur.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &cur);
	}
	return DX_OK;
}

int harden_user_name_valid(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > HARDEN_USER_NAME_MAX || name[0] == '-') {
		return 0;
	}
	for (const char *c = name; *c != '\0'; c++) {
		int ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
			 (*c >= '0' && *c <= '9') || *c == '_' || *c == '.' || *c == '-';
		if (!ok) {
			return 0;
		}
	}
	return 1;
}

void harden_user_name(uid_t uid, char *out, size_t outsz)
{
	struct passwd pw, *res = NULL;
	char *buf = malloc(PWBUF_MAX);
	if (buf != NULL && getpwuid_r(uid, &pw, buf, PWBUF_MAX, &res) == 0 && res != NULL) {
		snprintf(out, outsz, "%s", pw.pw_name);
	} else {
		snprintf(out, outsz, "uid %u", (unsigned)uid);
	}
	free(buf);
}

int harden_user_lookup(const char *name, struct harden_user *u, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	if (!harden_user_name_valid(name)) {
		snprintf(err, errlen, "'%s' is not a user name", name);
		return DX_EINVAL;
	}
	char *buf = malloc(PWBUF_MAX);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	int e = getpwnam_r(name, &pw, buf, PWBUF_MAX, &res);
	int rc = DX_OK;
	if (e != 0 && e != ENOENT && e != ESRCH) {
		snprintf(err, errlen, "cannot look up the user '%s': %s", name, strerror(e));
		rc = DX_EIO;
	} else if (res == NULL) {
		snprintf(err, errlen, "no such user '%s': create it first (useradd --system %s)",
			 name, name);
		rc = DX_EINVAL;
	} else if (pw.pw_uid == 0) {
		snprintf(err, errlen,
			 "user = %s is root, which would drop nothing: name an "
			 "unprivileged user",
			 name);
		rc = DX_EINVAL;
	} else {
		snprintf(u->name, sizeof(u->name), "%s", name);
		u->uid = pw.pw_uid;
		u->gid = pw.pw_gid;
	}
	free(buf);
	return rc;
}

static int owner_error(const char *what, const char *path, const char *entry, uid_t owner,
		       const struct harden_user *u, char *err, size_t errlen)
{
	char name[64];
	harden_user_name(owner, name, sizeof(name));
	if (entry != NULL) {
		snprintf(err, errlen,
			 "%s/%s, in the %s, is owned by %s, not by %s; run: chown -R %s: %s", path,
			 entry, what, name, u->name, u->name, path);
	} else {
		snprintf(err, errlen, "%s %s is owned by %s, not by %s; run: chown -R %s: %s", what,
			 path, name, u->name, u->name, path);
	}
	return DX_EINVAL;
}

int harden_check_owner(const char *path, const char *what, const struct harden_user *u, char *err,
		       size_t errlen)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return dx_from_errno(errno);
	}
	if (st.st_uid != u->uid) {
		return owner_error(what, path, NULL, st.st_uid, u, err, errlen);
	}
	if (!S_ISDIR(st.st_mode)) {
		return DX_OK;
	}
	/* One level: files the daemon opens by name sit directly in its home. */
	DIR *d = opendir(path);
	if (d == NULL) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return dx_from_errno(errno);
	}
	int rc = DX_OK;
	struct dirent *e;
	while (rc == DX_OK && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
			continue;
		}
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		    S_ISLNK(st.st_mode)) {
			continue; /* gone meanwhile, or a link whose owner means nothing */
		}
		if (st.st_uid != u->uid) {
			rc = owner_error(what, path, e->d_name, st.st_uid, u, err, errlen);
		}
	}
	closedir(d);
	return rc;
}

static int caps_get(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	/* Zeroed first: tools that model capget() may see only the first word written. */
	memset(data, 0, 2 * sizeof(*data));
	return syscall(SYS_capget, &h, data) == 0 ? DX_OK : DX_EIO;
}

/* Sets this thread's permitted and effective sets to {cap} (or to nothing for cap < 0). */
static int caps_set_only(int cap)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	if (cap >= 0) {
		data[cap / 32].permitted = data[cap / 32].effective = 1u << (cap % 32);
	}
	return syscall(SYS_capset, &h, data) == 0 ? DX_OK : DX_EIO;
}

/* Whether every thread of the process has empty permitted and effective sets. */
static int no_thread_has_caps(char *err, size_t errlen)
{
	DIR *d = opendir("/proc/self/task");
	char path[64], line[128];
	if (d == NULL) {
		/* Without /proc, this thread is all that can be checked (done by the caller). */
		return DX_OK;
	}
	int rc = DX_OK;
	struct dirent *e;
	while (rc == DX_OK && (e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9') {
			continue;
		}
		snprintf(path, sizeof(path), "/proc/self/task/%.16s/status", e->d_name);
		FILE *f = fopen(path, "re");
		if (f == NULL) {
			continue; /* the thread ended */
		}
		while (fgets(line, sizeof(line), f) != NULL) {
			if ((strncmp(line, "CapPrm:", 7) == 0 ||
			     strncmp(line, "CapEff:", 7) == 0) &&
			    strtoull(line + 7, NULL, 16) != 0) {
				snprintf(err, errlen, "thread %s still holds capabilities (%.40s)",
					 e->d_name, line);
				rc = DX_EIO;
				break;
			}
		}
		fclose(f);
	}
	closedir(d);
	return rc;
}

/* The drop is real: every id is u's, root cannot be regained, no capability is left. */
static int verify(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	struct __user_cap_data_struct data[2];
	if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0 || r != uid || e != uid ||
	    s != uid || rg != gid || eg != gid || sg != gid) {
		snprintf(err, errlen, "the user and group ids did not all change");
		return DX_EIO;
	}
	if (setuid(0) == 0 || setgid(0) == 0 || seteuid(0) == 0) {
		snprintf(err, errlen, "root could be regained after dropping privileges");
		return DX_EIO;
	}
	if (caps_get(data) != DX_OK || data[0].permitted != 0 || data[1].permitted != 0 ||
	    data[0].effective != 0 || data[1].effective != 0) {
		snprintf(err, errlen, "capabilities are left after dropping privileges");
		return DX_EIO;
	}
	return no_thread_has_caps(err, errlen);
}

/* Supplementary groups and all three group ids; still root afterwards. */
static int drop_groups(const struct harden_user *u, char *err, size_t errlen)
{
	if (initgroups(u->name, u->gid) != 0 || setresgid(u->gid, u->gid, u->gid) != 0) {
		snprintf(err, errlen, "cannot take the groups of %s: %s", u->name, strerror(errno));
		return DX_EIO;
	}
	return DX_OK;
}

/* Changing ids sets the dumpable flag from fs.suid_dumpable: clear it again. */
static int undumpable(char *err, size_t errlen)
{
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
		snprintf(err, errlen, "cannot clear the dumpable flag: %s", strerror(errno));
		return DX_EIO;
	}
	return DX_OK;
}

/* Root becomes u: its groups, and u as real and effective user, saved as given. */
static int become(const struct harden_user *u, uid_t saved, char *err, size_t errlen)
{
	int rc;
	if (geteuid() != 0) {
		snprintf(err, errlen, "only root can become %s", u->name);
		return DX_EINVAL;
	}
	if ((rc = drop_groups(u, err, errlen)) != DX_OK) {
		return rc;
	}
	if (setresuid(u->uid, u->uid, saved) != 0) {
		snprintf(err, errlen, "cannot become %s: %s", u->name, strerror(errno));
		return DX_EIO;
	}
	return DX_OK;
}

int harden_drop(const struct harden_user *u, char *err, size_t errlen)
{
	int rc;
	if ((rc = become(u, u->uid, err, errlen)) != DX_OK ||
	    (rc = undumpable(err, errlen)) != DX_OK) {
		return rc;
	}
	return verify(u->uid, u->gid, err, errlen);
}

int harden_drop_begin(const struct harden_user *u, char *err, size_t errlen)
{
	/*
	 * Root stays the saved user id, so the kernel keeps the permitted set
	 * (the effective set empties with the effective id); it is cut down to
	 * the one capability at once.
	 */
	int rc = become(u, 0, err, errlen);
	if (rc != DX_OK) {
		return rc;
	}
	if (caps_set_only(CAP_NET_BIND_SERVICE) != DX_OK) {
		snprintf(err, errlen, "cannot keep only CAP_NET_BIND_SERVICE: %s", strerror(errno));
		return DX_EIO;
	}
	return undumpable(err, errlen);
}

int harden_drop_finish(int *done, char *err, size_t errlen)
{
	uid_t r, e, s;
	gid_t rg, eg, sg;
	*done = 0;
	if (getresuid(&r, &e, &s) != 0 || getresgid(&rg, &eg, &sg) != 0) {
		snprintf(err, errlen, "cannot read the user ids: %s", strerror(errno));
		return DX_EIO;
	}
	if (e == 0 || s != 0) {
		return DX_OK; /* nothing begun: root throughout, or never root */
	}
	/* glibc makes every thread take the new ids; the kernel then empties their capabilities. */
	if (setresuid(e, e, e) != 0) {
		snprintf(err, errlen, "cannot give up the saved root id: %s", strerror(errno));
		return DX_EIO;
	}
	int rc = undumpable(err, errlen);
	if (rc != DX_OK) {
		return rc;
	}
	*done = 1;
	return verify(e, eg, err, errlen);
}

int harden_port_privileged(unsigned port)
{
	unsigned start = DEFAULT_UNPRIVILEGED_PORT_START;
	FILE *f = fopen("/proc/sys/net/ipv4/ip_unprivileged_port_start", "re");
	if (f != NULL) {
		if (fscanf(f, "%u", &start) != 1) {
			start = DEFAULT_UNPRIVILEGED_PORT_START;
		}
		fclose(f);
	}
	return port > 0 && port < start;
}
