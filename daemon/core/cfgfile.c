/*
 * cfgfile.c: see cfgfile.h. The checks mirror the way inih (as Debian builds
 * it: ';' and '#' start a comment line, " ;" an inline comment, '=' or ':'
 * separates key and value) reads a file, so that a line these helpers find
 * or refuse is the line inih would have used.
 */
#include "cfgfile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harden.h"
#include "util.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)
#define TIB (1024 * GIB)

static const char *const url_schemes[] = {
	"tls+tcp://", "tls+tcp4://", "tls+tcp6://", "tcp://", "tcp4://", "tcp6://", "ipc://",
};

int cfgfile_read_text(const char *path, size_t cap, char **text, size_t *len)
{
	uint8_t *data = NULL;
	size_t n = 0;
	int rc = dx_read_file(path, cap, &data, &n);
	if (rc != 0) {
		return rc;
	}
	/* dx_read_file() gives raw bytes; inih wants a C string. */
	char *s = malloc(n + 1);
	if (s == NULL) {
		free(data);
		return DX_ENOMEM;
	}
	memcpy(s, data, n);
	s[n] = '\0';
	free(data);
	*text = s;
	*len = n;
	return 0;
}

int cfgfile_dir_of(const char *path, char *dir, size_t n)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		return snprintf(dir, n, ".") < (int)n ? 0 : DX_EINVAL;
	}
	size_t len = slash == path ? 1 : (size_t)(slash - path);
	if (len >= n) {
		return DX_EINVAL;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';
	return 0;
}

int cfgfile_resolve_path(char *out, size_t outsz, const char *dir, const char *path)
{
	int n;
	if (path[0] == '/' || dir == NULL) {
		n = snprintf(out, outsz, "%s", path);
	} else if (strcmp(path, ".") == 0) {
		n = snprintf(out, outsz, "%s", dir);
	} else {
		n = snprintf(out, outsz, "%s/%s", dir, path);
	}
	return n >= 0 && (size_t)n < outsz ? 0 : DX_EINVAL;
}

int cfgfile_prescan(const char *text, size_t len, size_t line_max, const char **why)
{
	int line = 1;
	size_t start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && text[i] == '\0') {
			*why = "NUL byte";
			return line;
		}
		if (i < len && text[i] != '\n') {
			continue;
		}
		size_t n = i - start;
		if (n > 0 && text[start + n - 1] == '\r') {
			n--;
		}
		if (n > line_max) {
			*why = "line too long";
			return line;
		}
		if (n > 0 && (text[start] == ' ' || text[start] == '\t')) {
			size_t k = start;
			while (k < start + n && (text[k] == ' ' || text[k] == '\t')) {
				k++;
			}
			if (k < start + n) {
				*why = "indented line (continuation lines are not supported)";
				return line;
			}
		}
		start = i + 1;
		line++;
	}
	return 0;
}

/* The start of line number line (1-based) of text, or NULL past the end. */
static const char *line_start(const char *text, int line)
{
	const char *p = text;
	for (int l = 1; l < line && p != NULL; l++) {
		p = strchr(p, '\n');
		p = p != NULL ? p + 1 : NULL;
	}
	return p;
}

int cfgfile_line_has_value(const char *text, int line)
{
	const char *p = line_start(text, line);
	if (p == NULL) {
		return 0;
	}
	size_t n = strcspn(p, "\n");
	return p[0] != '[' && (memchr(p, '=', n) != NULL || memchr(p, ':', n) != NULL);
}

/* Whether the n bytes at p, less trailing blanks, are exactly word. */
static int span_is(const char *p, size_t n, const char *word)
{
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
		n--;
	}
	return n == strlen(word) && memcmp(p, word, n) == 0;
}

int cfgfile_line_of(const char *text, const char *section, const char *key)
{
	int found = 0, in_section = 0;
	const char *p = text;
	for (int line = 1; *p != '\0'; line++) {
		size_t n = strcspn(p, "\r\n");
		if (p[0] == '[') {
			const char *close = memchr(p, ']', n);
			in_section =
				close != NULL && span_is(p + 1, (size_t)(close - p - 1), section);
		} else if (in_section && p[0] != ';' && p[0] != '#') {
			size_t k = strcspn(p, "=:");
			if (k < n && span_is(p, k, key)) {
				found = line;
			}
		}
		p += strcspn(p, "\n");
		if (*p == '\n') {
			p++;
		}
	}
	return found;
}

void cfgfile_explain_unknown(char *msg, size_t n, const char *section, const char *key,
			     int section_known)
{
	char sec[64], k[64];
	dx_escape(sec, sizeof(sec), section, strlen(section));
	dx_escape(k, sizeof(k), key, strlen(key));
	if (section[0] == '\0') {
		snprintf(msg, n, "'%s' is outside any [section]", k);
	} else if (!section_known) {
		snprintf(msg, n, "unknown section [%s] (key '%s')", sec, k);
	} else {
		snprintf(msg, n, "unknown key '%s' in [%s]", k, sec);
	}
}

int cfgfile_token_valid(const char *s)
{
	if (*s == '\0') {
		return 0;
	}
	for (; *s != '\0'; s++) {
		if (*s <= 0x20 || *s >= 0x7f) {
			return 0;
		}
	}
	return 1;
}

size_t cfgfile_url_scheme_len(const char *url)
{
	for (size_t i = 0; i < sizeof(url_schemes) / sizeof(url_schemes[0]); i++) {
		size_t n = strlen(url_schemes[i]);
		if (strncmp(url, url_schemes[i], n) == 0) {
			return n;
		}
	}
	return 0;
}

int cfgfile_url_valid(const char *url, size_t max)
{
	if (strlen(url) > max || !cfgfile_token_valid(url)) {
		return 0;
	}
	size_t n = cfgfile_url_scheme_len(url);
	return n > 0 && url[n] != '\0';
}

int cfgfile_url_is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0;
}

int cfgfile_parse_u64(const char *v, int units, uint64_t *out)
{
	uint64_t n = 0, mult = 1;
	const char *p = v;
	if (*p < '0' || *p > '9') {
		return DX_EPARSE;
	}
	for (; *p >= '0' && *p <= '9'; p++) {
		uint64_t d = (uint64_t)(*p - '0');
		if (n > (UINT64_MAX - d) / 10) {
			return DX_EPARSE;
		}
		n = n * 10 + d;
	}
	if (units) {
		static const struct {
			const char *suffix;
			uint64_t mult;
		} table[] = {
			{ "", 1 }, { "KiB", KIB }, { "MiB", MIB }, { "GiB", GIB }, { "TiB", TIB }
		};
		size_t i = 0;
		while (*p == ' ') {
			p++;
		}
		while (i < sizeof(table) / sizeof(table[0]) && strcmp(p, table[i].suffix) != 0) {
			i++;
		}
		if (i == sizeof(table) / sizeof(table[0])) {
			return DX_EPARSE;
		}
		mult = table[i].mult;
		p += strlen(p);
	}
	if (*p != '\0' || (mult > 1 && n > UINT64_MAX / mult)) {
		return DX_EPARSE;
	}
	*out = n * mult;
	return 0;
}

int cfgfile_user_check(const char *key, const char *value, char *msg, size_t msglen)
{
	if (harden_user_name_valid(value)) {
		return DX_OK;
	}
	snprintf(msg, msglen, "'%s' must be a user name: 1 to %d letters, digits, '_', '.' or '-'",
		 key, HARDEN_USER_NAME_MAX);
	return DX_EPARSE;
}
