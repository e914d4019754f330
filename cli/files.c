/*
 * files.c: the files the offline envelope commands leave on disk.
 *
 * Offline, attachment streams sit beside their envelope as <envelope>.att<N>
 * (N from 1); on a node they come from the daemon. Encrypted streams are
 * created O_EXCL, mode 0600; decrypted attachments, from either source, are
 * written to a temporary file in the output directory and linked to their
 * final name only after the whole stream has authenticated, so a refused
 * attachment never appears under its name. The name comes from the sender
 * and is reduced to a safe file name first.
 *
 * <home>/opened-ids lists, one lowercase hex id per line, every envelope this
 * home has accepted; an id found there is refused as a replay.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attach.h"
#include "cli.h"

/* About two million ids; a node keeps its history in its store instead. */
#define OPENED_IDS_MAX (64u * 1024 * 1024)
#define ID_HEX_LEN (2 * 16)

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash != NULL ? slash + 1 : path;
}

int cli_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			return dx_from_errno(errno);
		}
		p += w;
		len -= (size_t)w;
	}
	return DX_OK;
}

static int sync_close(int fd)
{
	int rc = fsync(fd) == 0 ? DX_OK : dx_from_errno(errno);
	if (close(fd) != 0 && rc == DX_OK) {
		rc = dx_from_errno(errno);
	}
	return rc;
}

int cli_attach_encrypt(struct cli *c, const char *in_path, const char *out_path,
		       struct attach_meta *meta)
{
	struct stat st;
	int in = open(in_path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		return cli_error(c, dx_from_errno(errno), "opening the attachment %s", in_path);
	}
	if (fstat(in, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(in);
		return cli_error(c, DX_EINVAL, "the attachment %s is not a regular file", in_path);
	}
	int out = open(out_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		int rc = dx_from_errno(errno);
		close(in);
		return cli_error(c, rc, "creating the attachment stream %s", out_path);
	}
	char label[96];
	struct cli_progress prog;
	snprintf(label, sizeof(label), "encrypting %.60s", base_name(in_path));
	cli_progress_init(c, &prog, label);
	int rc = attach_encrypt_fd(in, out, NULL, meta, cli_progress_cb, &prog);
	cli_progress_done(&prog);
	int rc2 = sync_close(out);
	close(in);
	if (rc == DX_OK) {
		rc = rc2;
	}
	if (rc != DX_OK) {
		unlink(out_path);
		sodium_memzero(meta, sizeof(*meta));
		return cli_error(c, rc, "encrypting the attachment %s", in_path);
	}
	return CLI_EXIT_OK;
}

/* A sender's file name, reduced to something safe to create in a directory. */
static void safe_name(char *out, size_t size, const char *name, size_t index)
{
	size_t o = 0;
	const char *b = base_name(name != NULL ? name : "");
	for (size_t i = 0; b[i] != '\0' && o + 1 < size && o < 200; i++) {
		unsigned char ch = (unsigned char)b[i];
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '+' ||
			 (ch == '.' && o > 0);
		out[o++] = ok ? (char)ch : '_';
	}
	out[o] = '\0';
	if (o == 0) {
		snprintf(out, size, "attachment-%zu", index);
	}
}

/* Links tmp to dir/name, or to dir/name.1, .2, ... if that exists. */
static int link_unique(const char *tmp, const char *dir, const char *name, char *saved,
		       size_t saved_size)
{
	for (int n = 0; n < 1000; n++) {
		int len = n == 0 ? snprintf(saved, saved_size, "%s/%s", dir, name)
				 : snprintf(saved, saved_size, "%s/%s.%d", dir, name, n);
		if (len < 0 || (size_t)len >= saved_size) {
			return DX_EINVAL;
		}
		if (link(tmp, saved) == 0) {
			return DX_OK;
		}
		if (errno != EEXIST) {
			return dx_from_errno(errno);
		}
	}
	return DX_EEXIST;
}

int cli_attach_save(struct cli *c, const char *dir, const char *name, size_t index,
		    cli_decrypt_fn fn, void *ctx, char *saved, size_t saved_size)
{
	char safe[CLI_MAX_ATTACHMENT_NAME + 1], tmp[4096], label[96];
	safe_name(safe, sizeof(safe), name, index);
	int n = snprintf(tmp, sizeof(tmp), "%s/.divex-%ld-%zu.part", dir, (long)getpid(), index);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		return cli_error(c, DX_EINVAL, "output directory path too long: %s", dir);
	}
	int out = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (out < 0) {
		return cli_error(c, dx_from_errno(errno), "creating a temporary file in %s", dir);
	}
	struct cli_progress prog;
	snprintf(label, sizeof(label), "decrypting %.60s", safe);
	cli_progress_init(c, &prog, label);
	int status = fn(c, ctx, out, index, safe, &prog);
	cli_progress_done(&prog);
	int rc = sync_close(out);
	if (status != CLI_EXIT_OK || rc != DX_OK) {
		unlink(tmp);
		return status != CLI_EXIT_OK
			       ? status
			       : cli_error(c, rc, "attachment %zu: writing %s", index, tmp);
	}
	rc = link_unique(tmp, dir, safe, saved, saved_size);
	unlink(tmp);
	if (rc == DX_OK) {
		rc = dx_fsync_dir(dir);
	}
	if (rc != DX_OK) {
		return cli_error(c, rc, "attachment %zu: saving %s in %s", index, safe, dir);
	}
	return CLI_EXIT_OK;
}

struct stream_file {
	const char *path;
	const struct attach_meta *meta;
};

static int decrypt_stream_file(struct cli *c, void *ctx, int fd, size_t index,
			       const char *safe_name, struct cli_progress *prog)
{
	const struct stream_file *sf = ctx;
	int in = open(sf->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (in < 0) {
		return cli_error(c, dx_from_errno(errno),
				 "attachment %zu: reading its stream %s (streams travel beside "
				 "the envelope, named <envelope>.att<N>)",
				 index, sf->path);
	}
	int rc = attach_decrypt_fd(in, fd, sf->meta, cli_progress_cb, prog);
	close(in);
	if (rc != DX_OK) {
		return cli_error(c, rc, "attachment %zu (%s): decrypting %s; nothing was saved",
				 index, safe_name, sf->path);
	}
	return CLI_EXIT_OK;
}

int cli_attach_decrypt(struct cli *c, const char *stream_path, const char *dir, const char *name,
		       size_t index, const struct attach_meta *meta, char *saved, size_t saved_size)
{
	struct stream_file sf = { stream_path, meta };
	return cli_attach_save(c, dir, name, index, decrypt_stream_file, &sf, saved, saved_size);
}

int cli_opened_seen(const char *path, const uint8_t id[static 16])
{
	char hex[ID_HEX_LEN + 1];
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = dx_read_file(path, OPENED_IDS_MAX, &buf, &len);
	if (rc == DX_ENOENT) {
		return 0;
	}
	if (rc != DX_OK) {
		return rc;
	}
	dx_hex(hex, id, 16);
	int seen = 0;
	size_t start = 0;
	while (start < len && !seen) {
		const uint8_t *nl = memchr(buf + start, '\n', len - start);
		size_t end = nl != NULL ? (size_t)(nl - buf) : len;
		seen = end - start == ID_HEX_LEN && memcmp(buf + start, hex, ID_HEX_LEN) == 0;
		start = end + 1;
	}
	free(buf);
	return seen;
}

int cli_opened_record(const char *path, const uint8_t id[static 16])
{
	char line[ID_HEX_LEN + 2], dir[4096];
	dx_hex(line, id, 16);
	line[ID_HEX_LEN] = '\n';
	line[ID_HEX_LEN + 1] = '\0';
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		return dx_from_errno(errno);
	}
	int rc = cli_write_all(fd, line, sizeof(line) - 1);
	int rc2 = sync_close(fd);
	if (rc != DX_OK || rc2 != DX_OK) {
		return rc != DX_OK ? rc : rc2;
	}
	/* The first record creates the file: make its directory entry durable. */
	size_t dlen = (size_t)(base_name(path) - path);
	if (dlen == 0) {
		return dx_fsync_dir(".");
	}
	if (dlen >= sizeof(dir)) {
		return DX_EINVAL;
	}
	memcpy(dir, path, dlen);
	dir[dlen] = '\0';
	return dx_fsync_dir(dir);
}
