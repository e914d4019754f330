/*
 * node_files.c: attachment streams in the node's home.
 *
 * outgoing/ holds the encrypted streams officers put through the control
 * socket before sending; incoming/ the streams downloaded from the relay for
 * received messages. Both hold ciphertext only: the key of each stream is
 * inside the sealed payload that references it, which the store keeps sealed
 * at rest. A stream grows in <hex id>.part, appended in order, and becomes
 * <hex id> only once complete and fsync'd, so a crash leaves either a
 * complete stream or a part that the next piece resumes.
 *
 * Loop thread only. The files are small enough per piece (512 KiB) that
 * writing them on the loop is cheaper than a round trip to the thread pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "node.h"

int node_files_init(struct node *n)
{
	char path[NODE_CONFIG_PATH_MAX + 32];
	const char *dirs[] = { NODE_OUTGOING_DIR, NODE_INCOMING_DIR };
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", n->home, dirs[i]);
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			return DX_EIO;
		}
	}
	return DX_OK;
}

void node_files_path(const struct node *n, const char *dir, const uint8_t id[static 16],
		     const char *suffix, char *out, size_t size)
{
	char hex[33];
	dx_hex(hex, id, 16);
	snprintf(out, size, "%s/%s/%s%s", n->home, dir, hex, suffix);
}

int node_files_complete(const struct node *n, const char *dir, const uint8_t id[static 16],
			uint64_t *size)
{
	char path[NODE_CONFIG_PATH_MAX + 64];
	struct stat st;
	node_files_path(n, dir, id, "", path, sizeof(path));
	if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
		return DX_ENOENT;
	}
	*size = (uint64_t)st.st_size;
	return DX_OK;
}

int node_files_held(const struct node *n, const char *dir, const uint8_t id[static 16],
		    uint64_t *held, int *complete)
{
	char path[NODE_CONFIG_PATH_MAX + 64];
	struct stat st;
	if (node_files_complete(n, dir, id, held) == DX_OK) {
		*complete = 1;
		return DX_OK;
	}
	*complete = 0;
	node_files_path(n, dir, id, ".part", path, sizeof(path));
	if (lstat(path, &st) != 0) {
		*held = 0;
		return errno == ENOENT ? DX_OK : DX_EIO;
	}
	if (!S_ISREG(st.st_mode)) {
		return DX_EIO;
	}
	*held = (uint64_t)st.st_size;
	return DX_OK;
}

void node_files_remove(const struct node *n, const char *dir, const uint8_t id[static 16])
{
	char path[NODE_CONFIG_PATH_MAX + 64];
	node_files_path(n, dir, id, "", path, sizeof(path));
	unlink(path);
	node_files_path(n, dir, id, ".part", path, sizeof(path));
	unlink(path);
}

/* An identical resend of bytes already held is accepted (the CLI or the relay retried). */
int node_files_put(const struct node *n, const char *dir, const uint8_t id[static 16],
		   uint64_t offset, const uint8_t *data, size_t len, uint64_t total,
		   uint64_t *held)
{
	char part[NODE_CONFIG_PATH_MAX + 64], done_path[NODE_CONFIG_PATH_MAX + 64];
	struct stat st;
	uint64_t have;
	int rc = DX_OK;

	if (total == 0 || offset > total || len > total - offset) {
		return DX_EINVAL;
	}
	if (node_files_complete(n, dir, id, &have) == DX_OK) {
		/* Already complete: a resend of any piece is answered with the whole. */
		if (have != total) {
			return DX_EINVAL;
		}
		node_files_path(n, dir, id, "", done_path, sizeof(done_path));
		int fd = open(done_path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			return DX_EIO;
		}
		rc = dx_same_bytes(fd, offset, data, len);
		close(fd);
		if (rc == DX_OK) {
			*held = total;
		}
		return rc;
	}
	node_files_path(n, dir, id, ".part", part, sizeof(part));
	node_files_path(n, dir, id, "", done_path, sizeof(done_path));
	int fd = open(part, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		return errno == ENOSPC || errno == EDQUOT ? DX_ENOSPC : DX_EIO;
	}
	if (fstat(fd, &st) != 0) {
		rc = DX_EIO;
		goto out;
	}
	have = (uint64_t)st.st_size;
	if (have > total) {
		rc = DX_EINVAL;
		goto out;
	}
	if (offset < have) {
		if (offset + len > have) {
			rc = DX_EINVAL;
		} else {
			rc = dx_same_bytes(fd, offset, data, len);
		}
		goto out;
	}
	if (offset != have) {
		rc = DX_EINVAL;
		goto out;
	}
	/* A full disk is said as such (DX_ENOSPC): the officer can act on it. */
	if ((rc = dx_pwrite_all(fd, data, len, offset)) != DX_OK) {
		/* Cut back what was half written, so the piece can come again. */
		if (ftruncate(fd, (off_t)offset) != 0) {
			node_log((struct node *)n, NODE_LOG_ERROR, "cannot truncate %s", part);
		}
		goto out;
	}
	have = offset + len;
	if (have == total) {
		if (fsync(fd) != 0 || rename(part, done_path) != 0) {
			rc = errno == ENOSPC || errno == EDQUOT ? DX_ENOSPC : DX_EIO;
			goto out;
		}
	}
out:
	close(fd);
	if (rc == DX_OK) {
		*held = have;
	}
	return rc;
}

int node_files_read(const struct node *n, const char *dir, const uint8_t id[static 16],
		    uint64_t offset, size_t max, uint8_t *buf, size_t *got, uint64_t *total)
{
	char path[NODE_CONFIG_PATH_MAX + 64];
	struct stat st;
	int rc = DX_OK;
	node_files_path(n, dir, id, "", path, sizeof(path));
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return errno == ENOENT ? DX_ENOENT : DX_EIO;
	}
	if (fstat(fd, &st) != 0) {
		rc = DX_EIO;
		goto out;
	}
	*total = (uint64_t)st.st_size;
	if (offset > *total) {
		rc = DX_EINVAL;
		goto out;
	}
	size_t want = *total - offset < max ? (size_t)(*total - offset) : max;
	if ((rc = dx_pread_all(fd, buf, want, offset)) == DX_OK) {
		*got = want;
	}
out:
	close(fd);
	return rc;
}

int node_files_hash(const struct node *n, const char *dir, const uint8_t id[static 16],
		    uint8_t hash[static 32])
{
	char path[NODE_CONFIG_PATH_MAX + 64];
	uint8_t buf[64 * 1024];
	crypto_generichash_state h;
	int rc = DX_OK;
	node_files_path(n, dir, id, "", path, sizeof(path));
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return errno == ENOENT ? DX_ENOENT : DX_EIO;
	}
	crypto_generichash_init(&h, NULL, 0, 32);
	crypto_generichash_update(&h, (const uint8_t *)ATTACH_HASH_LABEL, ATTACH_HASH_LABEL_LEN);
	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r < 0) {
			rc = DX_EIO;
			break;
		}
		if (r == 0) {
			break;
		}
		crypto_generichash_update(&h, buf, (size_t)r);
	}
	close(fd);
	if (rc == DX_OK) {
		crypto_generichash_final(&h, hash, 32);
	}
	return rc;
}
