/*
 * util.h: small helpers every layer uses: big-endian encoding into fixed
 * buffers, hex, State codes, wall-clock time, and careful file I/O.
 *
 * Nothing here allocates except dx_read_file(), whose caller states a cap.
 * All functions are thread-safe.
 */
#ifndef DIVEX_COMMON_UTIL_H
#define DIVEX_COMMON_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* A State is named by its ISO 3166-1 alpha-3 code: exactly three of A-Z. */
#define DX_STATE_LEN 3

void dx_put_be32(uint8_t out[static 4], uint32_t v);
void dx_put_be64(uint8_t out[static 8], uint64_t v);
uint32_t dx_get_be32(const uint8_t in[static 4]);
uint64_t dx_get_be64(const uint8_t in[static 8]);

/* Writes 2*len lowercase hex digits and a NUL into out (size 2*len+1). */
void dx_hex(char *out, const uint8_t *in, size_t len);
/* Parses exactly 2*len hex digits; returns DX_EPARSE otherwise. */
int dx_unhex(uint8_t *out, size_t len, const char *hex) DX_MUST_CHECK;

/* True when s is a well-formed State code (three capital letters). */
int dx_state_valid(const char *s);

/* Milliseconds since the Unix epoch, from CLOCK_REALTIME. */
uint64_t dx_now_ms(void);

/*
 * Reads a whole file of at most cap bytes into a new malloc'd buffer. A larger
 * file is refused with DX_ETOOBIG before anything is allocated. Symbolic links
 * are followed: this is for public files; key files have their own reader. *out and *len
 * are written only on success.
 */
int dx_read_file(const char *path, size_t cap, uint8_t **out, size_t *len) DX_MUST_CHECK;

/*
 * Reads a file that holds a secret: refused with DX_EKEYFILE_PERM when it is
 * a symbolic link (whoever controls the link would choose what we load), has
 * any permission bit for group or others, or belongs to another user;
 * DX_EINVAL when it is not a regular file; DX_ETOOBIG over cap.
 */
int dx_read_private_file(const char *path, size_t cap, uint8_t **out, size_t *len) DX_MUST_CHECK;

/*
 * Writes data to path atomically and durably: a new temporary file beside it
 * opened O_CREAT|O_EXCL|O_NOFOLLOW with the given mode, written, fsync'd,
 * renamed over path, then the directory fsync'd. With replace == 0 an existing
 * path is refused with DX_EEXIST and left untouched.
 */
int dx_write_file_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode,
			 int replace) DX_MUST_CHECK;

/* fsync(2) of a directory, so that the names it holds are durable. */
int dx_fsync_dir(const char *dir) DX_MUST_CHECK;

/* Creates a directory (mode 0700) and its parents if missing. */
int dx_mkdir_p(const char *path) DX_MUST_CHECK;

/*
 * Serves blocks of up to 4 MiB from the heap rather than a fresh mapping
 * each, for processes that move messages of up to about 1 MiB (attachment
 * pieces, copied a few times on their way). glibc maps every block above
 * a threshold (128 KiB at first) and unmaps it on free, so the kernel
 * faults in and zeroes every page of every such message again. Freed heap
 * memory goes back to the system once 16 MiB of it is free at the top.
 * Call once, first thing in main().
 */
void dx_malloc_for_messages(void);

/*
 * Positioned I/O on a whole buffer, through short counts and EINTR.
 * dx_pwrite_all: DX_ENOSPC for a full disk or quota, else DX_EIO.
 * dx_pread_all: DX_EIO if the file ends before len bytes.
 * dx_same_bytes: DX_OK if the file holds exactly data at offset, else
 * DX_EINVAL (a short file included).
 */
int dx_pwrite_all(int fd, const uint8_t *data, size_t len, uint64_t offset) DX_MUST_CHECK;
int dx_pread_all(int fd, uint8_t *buf, size_t len, uint64_t offset) DX_MUST_CHECK;
int dx_same_bytes(int fd, uint64_t offset, const uint8_t *data, size_t len) DX_MUST_CHECK;

/*
 * Escapes peer-supplied text for a terminal or a log line: printable ASCII is
 * kept, anything else becomes \xNN. Writes at most outsz-1 chars and a NUL.
 */
void dx_escape(char *out, size_t outsz, const char *in, size_t inlen);
/*
 * The same for text shown to a person: well-formed UTF-8 letters are kept too
 * (names such as "Secretaría" read as written), but not the C1 controls, the
 * bidirectional formatting characters (which can make text display in another
 * order than it is stored) or a byte-order mark; those and every byte of
 * malformed UTF-8 become \xNN.
 */
void dx_escape_text(char *out, size_t outsz, const char *in, size_t inlen);

#endif
