/*
 * cfgfile.h: the parts of a strict INI configuration reader that the relay
 * (daemon/relay/relay_config.c) and the State node (daemon/node/node_config.c)
 * share. Both hand the text to inih; these helpers do what inih does not:
 * read the file whole under a cap, refuse lines inih would misread, resolve
 * relative paths against the file's directory, and check the common value
 * types (printable tokens, URLs, decimal numbers with optional binary units).
 *
 * Nothing here keeps state; every function is thread-safe. Messages are
 * static strings or are written into buffers the caller owns.
 */
#ifndef DIVEX_CORE_CFGFILE_H
#define DIVEX_CORE_CFGFILE_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/*
 * Reads the file at path (at most cap bytes, else DX_ETOOBIG before anything
 * is read) into a new malloc'd, NUL-terminated buffer. *text and *len are
 * written only on success; DX_ENOENT, DX_EIO, DX_ENOMEM otherwise.
 */
int cfgfile_read_text(const char *path, size_t cap, char **text, size_t *len) DX_MUST_CHECK;

/*
 * The directory that holds path ("." when path has no slash, "/" for a file
 * at the root), into dir (n bytes); DX_EINVAL when it does not fit.
 */
int cfgfile_dir_of(const char *path, char *dir, size_t n) DX_MUST_CHECK;

/*
 * Joins dir and a relative path into out; an absolute path (or dir NULL) is
 * kept as it is, and "." stands for dir itself. DX_EINVAL when the result
 * does not fit in outsz bytes.
 */
int cfgfile_resolve_path(char *out, size_t outsz, const char *dir, const char *path) DX_MUST_CHECK;

/*
 * Refuses what inih would misread: a NUL byte, a line longer than line_max
 * bytes (end of line excluded), and an indented line, which inih would take
 * as the continuation of the previous value. Returns the 1-based number of
 * the first offending line with *why set to a static reason, or 0.
 */
int cfgfile_prescan(const char *text, size_t len, size_t line_max, const char **why);

/*
 * Whether line number line (1-based) of text is a "key = value" line, which
 * inih hands to the handler, rather than one it refuses as a syntax error.
 */
int cfgfile_line_has_value(const char *text, int line);

/*
 * The 1-based number of the line that sets key in [section] (the last one if
 * several do), or 0 when no line does. For messages about a value that is
 * wrong only in combination with another, found after inih has finished.
 */
int cfgfile_line_of(const char *text, const char *section, const char *key);

/*
 * Writes the message for a key inih reported that no option matches:
 * outside any section, in an unknown section, or unknown in a known one.
 * Section and key are escaped.
 */
void cfgfile_explain_unknown(char *msg, size_t n, const char *section, const char *key,
			     int section_known);

/* True when s is non-empty printable ASCII without spaces. */
int cfgfile_token_valid(const char *s);

/*
 * True when url is a token of at most max bytes starting with one of the
 * schemes nng dials that divex allows (tls+tcp, tls+tcp4, tls+tcp6, tcp,
 * tcp4, tcp6, ipc) followed by something.
 */
int cfgfile_url_valid(const char *url, size_t max);
/* The length of url's scheme and "://" when divex allows it (as above), else 0. */
size_t cfgfile_url_scheme_len(const char *url);
/* A `user =` value (harden.h): DX_OK, or DX_EPARSE with the sentence for key in msg. */
int cfgfile_user_check(const char *key, const char *value, char *msg, size_t msglen);

/* True when url's scheme uses TLS (tls+tcp://, tls+tcp4://, tls+tcp6://). */
int cfgfile_url_is_tls(const char *url);

/*
 * Parses a decimal number with no sign, no spaces around it and no overflow.
 * With units set it may be followed by KiB, MiB, GiB or TiB (powers of 1024,
 * optionally after spaces). DX_EPARSE otherwise; *out written only on success.
 */
int cfgfile_parse_u64(const char *v, int units, uint64_t *out) DX_MUST_CHECK;

#endif
