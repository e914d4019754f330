/*
 * util.c: encoding, time and file helpers. File writes follow the signify
 * discipline: O_EXCL|O_NOFOLLOW, explicit mode, fsync before rename.
 */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

void dx_put_be32(uint8_t out[static 4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

void dx_put_be64(uint8_t out[static 8], uint64_t v)
{
	dx_put_be32(out, (uint32_t)(v >> 32));
	dx_put_be32(out + 4, (uint32_t)v);
}

uint32_t dx_get_be32(const uint8_t in[static 4])
{
	return ((uint32_t)in[0] << 24) | ((uint32_t)in[1] << 16) | ((uint32_t)in[2] << 8) | in[3];
}

uint64_t dx_get_be64(const uint8_t in[static 8])
{
	return ((uint64_t)dx_get_be32(in) << 32) | dx_get_be32(in + 4);
}

void dx_hex(char *out, const uint8_t *in, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int nibble(char c)
{
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

int dx_unhex(uint8_t *out, size_t len, const char *hex)
{
	if (strlen(hex) != 2 * len) {
		return DX_EPARSE;
	}
	for (size_t i = 0; i < len; i++) {
		int hi = nibble(hex[2 * i]);
		int lo = nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			return DX_EPARSE;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return DX_OK;
}

int dx_state_valid(const char *s)
{
	if (s == NULL || strlen(s) != DX_STATE_LEN) {
		return 0;
	}
	for (size_t i = 0; i < DX_STATE_LEN; i++) {
		if (s[i] < 'A' || s[i] > 'Z') {
			return 0;
		}
	}
	return 1;
}

uint64_t dx_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/*
 * Reads fd to its end into a new buffer, refusing more than cap bytes with
 * DX_ETOOBIG. It reads one byte past the cap rather than trusting st_size, so
 * a file that grows while it is read cannot overflow the buffer.
 */
static int read_all(int fd, size_t cap, uint8_t **out, size_t *len)
{
	struct stat st;
	if (fstat(fd, &st) != 0) {
		return dx_from_errno(errno);
	}
	if (!S_ISREG(st.st_mode)) {
		return DX_EINVAL;
	}
	if ((uint64_t)st.st_size > cap) {
		return DX_ETOOBIG;
	}
	size_t want = (size_t)st.st_size + 1;
	uint8_t *buf = malloc(want);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	size_t got = 0;
	while (got < want) {
		ssize_t n = read(fd, buf + got, want - got);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			free(buf);
			return dx_from_errno(errno);
		}
		if (n == 0) {
			break;
		}
		got += (size_t)n;
	}
	if (got > cap || got == want) {
		free(buf);
		return DX_ETOOBIG;
	}
	*out = buf;
	*len = got;
	return DX_OK;
}

int dx_read_file(const char *path, size_t cap, uint8_t **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		return dx_from_errno(errno);
	}
	int rc = read_all(fd, cap, out, len);
	close(fd);
	return rc;
}

int dx_read_private_file(const char *path, size_t cap, uint8_t **out, size_t *len)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		return errno == ELOOP ? DX_EKEYFILE_PERM : dx_from_errno(errno);
	}
	int rc;
	if (fstat(fd, &st) != 0) {
		rc = dx_from_errno(errno);
	} else if (!S_ISREG(st.st_mode)) {
		rc = DX_EINVAL;
	} else if ((st.st_mode & 077) != 0 || st.st_uid != geteuid()) {
		rc = DX_EKEYFILE_PERM;
	} else {
		rc = read_all(fd, cap, out, len);
	}
	close(fd);
	return rc;
}

int dx_fsync_dir(const char *dir)
{
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		return dx_from_errno(errno);
	}
	int rc = fsync(dfd) == 0 ? DX_OK : dx_from_errno(errno);
	close(dfd);
	return rc;
}

static int fsync_dir_of(const char *path)
{
	char tmp[PATH_MAX];
	if (strlen(path) >= sizeof(tmp)) {
		return DX_EINVAL;
	}
	strcpy(tmp, path);
	return dx_fsync_dir(dirname(tmp));
}

int dx_write_file_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode,
			 int replace)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
		return DX_EINVAL;
	}
	if (!replace && access(path, F_OK) == 0) {
		return DX_EEXIST;
	}
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
	if (fd < 0) {
		return dx_from_errno(errno);
	}
	int rc = DX_OK;
	size_t off = 0;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0) {
			rc = dx_from_errno(errno);
			break;
		}
		off += (size_t)n;
	}
	if (rc == DX_OK && fchmod(fd, (mode_t)mode) != 0) {
		rc = dx_from_errno(errno);
	}
	if (rc == DX_OK && fsync(fd) != 0) {
		rc = dx_from_errno(errno);
	}
	if (close(fd) != 0 && rc == DX_OK) {
		rc = dx_from_errno(errno);
	}
	if (rc == DX_OK) {
		if (replace) {
			rc = rename(tmp, path) == 0 ? DX_OK : dx_from_errno(errno);
		} else {
			/* link() fails if path appeared meanwhile: never overwrite. */
			rc = link(tmp, path) == 0 ? DX_OK : dx_from_errno(errno);
			unlink(tmp);
		}
	}
	if (rc != DX_OK) {
		unlink(tmp);
		return rc;
	}
	return fsync_dir_of(path);
}

int dx_mkdir_p(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp)) {
		return DX_EINVAL;
	}
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (tmp[i] != '/' && tmp[i] != '\0') {
			continue;
		}
		char c = tmp[i];
		tmp[i] = '\0';
		if (mkdir(tmp, 0700) != 0 && errno != EEXIST) {
			return dx_from_errno(errno);
		}
		tmp[i] = c;
	}
	return DX_OK;
}

void dx_malloc_for_messages(void)
{
#if defined(M_MMAP_THRESHOLD) && defined(M_TRIM_THRESHOLD)
	/* Fixed values also turn off glibc's own adjustment of the threshold. */
	(void)mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	(void)mallopt(M_TRIM_THRESHOLD, 16 * 1024 * 1024);
#endif
}

int dx_pwrite_all(int fd, const uint8_t *data, size_t len, uint64_t offset)
{
	for (size_t done = 0; done < len;) {
		ssize_t w = pwrite(fd, data + done, len - done, (off_t)(offset + done));
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w <= 0) {
			return w < 0 && (errno == ENOSPC || errno == EDQUOT) ? DX_ENOSPC : DX_EIO;
		}
		done += (size_t)w;
	}
	return DX_OK;
}

int dx_pread_all(int fd, uint8_t *buf, size_t len, uint64_t offset)
{
	for (size_t done = 0; done < len;) {
		ssize_t r = pread(fd, buf + done, len - done, (off_t)(offset + done));
		if (r < 0 && errno == EINTR) {
			continue;
		}
		if (r <= 0) {
			return DX_EIO;
		}
		done += (size_t)r;
	}
	return DX_OK;
}

int dx_same_bytes(int fd, uint64_t offset, const uint8_t *data, size_t len)
{
	uint8_t buf[64 * 1024];
	for (size_t done = 0; done < len;) {
		size_t want = len - done < sizeof(buf) ? len - done : sizeof(buf);
		if (dx_pread_all(fd, buf, want, offset + done) != DX_OK ||
		    memcmp(buf, data + done, want) != 0) {
			return DX_EINVAL;
		}
		done += want;
	}
	return DX_OK;
}

void dx_escape(char *out, size_t outsz, const char *in, size_t inlen)
{
	static const char digits[] = "0123456789abcdef";
	size_t o = 0;
	if (outsz == 0) {
		return;
	}
	for (size_t i = 0; i < inlen; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= outsz) {
				break;
			}
			out[o++] = (char)c;
		} else {
			if (o + 4 >= outsz) {
				break;
			}
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = digits[c >> 4];
			out[o++] = digits[c & 0xf];
		}
	}
	out[o] = '\0';
}

/* Length of the well-formed UTF-8 sequence at in (2 to 4), its code point in *cp; 0 if none. */
static size_t utf8_seq(const unsigned char *in, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t v, min;
	if (in[0] >= 0xc2 && in[0] <= 0xdf) {
		n = 2, v = in[0] & 0x1f, min = 0x80;
	} else if (in[0] >= 0xe0 && in[0] <= 0xef) {
		n = 3, v = in[0] & 0x0f, min = 0x800;
	} else if (in[0] >= 0xf0 && in[0] <= 0xf4) {
		n = 4, v = in[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n > len) {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((in[i] & 0xc0) != 0x80) {
			return 0;
		}
		v = (v << 6) | (in[i] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) {
		return 0;
	}
	*cp = v;
	return n;
}

static int shown_as_is(uint32_t cp)
{
	if (cp < 0xa0) {
		return 0; /* C1 controls */
	}
	if (cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
	    (cp >= 0x2066 && cp <= 0x2069) || cp == 0x061c || cp == 0xfeff) {
		return 0; /* bidirectional formatting, byte-order mark */
	}
	return 1;
}

void dx_escape_text(char *out, size_t outsz, const char *in, size_t inlen)
{
	const unsigned char *u = (const unsigned char *)in;
	size_t o = 0, i = 0;
	if (outsz == 0) {
		return;
	}
	while (i < inlen) {
		uint32_t cp;
		size_t n = u[i] >= 0x80 ? utf8_seq(u + i, inlen - i, &cp) : 0;
		if (n > 0 && shown_as_is(cp)) {
			if (o + n >= outsz) {
				break;
			}
			memcpy(out + o, in + i, n);
			o += n;
			i += n;
			continue;
		}
		char one[5];
		dx_escape(one, sizeof(one), in + i, 1);
		size_t k = strlen(one);
		if (o + k >= outsz) {
			break;
		}
		memcpy(out + o, one, k);
		o += k;
		i++;
	}
	out[o] = '\0';
}
