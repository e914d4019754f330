/*
 * test_relay_config.c: the relay's configuration file
 * (daemon/relay/relay_config.c).
 *
 * Defaults, a file that sets every option, and a catalogue of mistakes that
 * must each be refused with the right line and key in the message; then a
 * default file written by relay_config_write_default() must load back to
 * exactly the defaults, and must never overwrite a file.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "relay_config.h"
#include "testlib.h"
#include "util.h"

#define KIB 1024ULL
#define MIB (1024 * KIB)
#define GIB (1024 * MIB)

static const char *write_conf(const char *name, const char *text)
{
	const char *path = test_path(test_tmpdir(), name);
	test_write_file(path, text, strlen(text));
	return path;
}

static void assert_limits_default(const struct relay_limits *l)
{
	assert_int_equal(l->max_message_bytes, MIB + 64 * KIB);
	assert_int_equal(l->mailbox_max_envelopes, 10000);
	assert_int_equal(l->mailbox_max_bytes, GIB);
	assert_int_equal(l->attachment_quota_bytes, 8 * GIB);
	assert_int_equal(l->attachment_retention_seconds, 7 * 86400);
	assert_int_equal(l->rate_per_second, 200);
	assert_int_equal(l->rate_burst, 400);
	assert_int_equal(l->request_window_seconds, 300);
	assert_int_equal(l->longpoll_max_ms, 30000);
	assert_int_equal(l->contexts, 64);
	assert_int_equal(l->group_commit_max, 256);
}

static void test_defaults(void **state)
{
	struct relay_config c;
	relay_config_defaults(&c, "/srv/relay");
	assert_string_equal(c.name, "att-secretariat.divex/relay");
	assert_string_equal(c.listen, "");
	assert_string_equal(c.admin_listen, "127.0.0.1:9464");
	assert_string_equal(c.data_dir, "/srv/relay");
	assert_string_equal(c.cert_file, "/srv/relay/tls-cert.pem");
	assert_string_equal(c.key_file, "/srv/relay/tls-key.pem");
	assert_int_equal(c.log_level, RELAY_LOG_INFO);
	assert_limits_default(&c.limits);
	assert_true(relay_config_url_is_tls("tls+tcp://a:1"));
	assert_false(relay_config_url_is_tls("tcp://a:1"));
	assert_string_equal(relay_config_log_level_name(RELAY_LOG_DEBUG), "debug");
}

static void test_minimal(void **state)
{
	struct relay_config c;
	char err[RELAY_CONFIG_ERR_MAX];
	const char *path = write_conf("min.conf", "[relay]\nlisten = tcp://127.0.0.1:7000\n");
	assert_dx_ok(relay_config_load(path, &c, err, sizeof(err)));
	assert_string_equal(c.listen, "tcp://127.0.0.1:7000");
	assert_string_equal(c.data_dir, test_tmpdir());
	assert_string_equal(c.name, RELAY_CONFIG_DEFAULT_NAME);
	assert_limits_default(&c.limits);
}

static void test_full(void **state)
{
	struct relay_config c;
	char err[RELAY_CONFIG_ERR_MAX], want[RELAY_CONFIG_PATH_MAX];
	const char *path = write_conf("full.conf", "; a comment\r\n"
						   "# another\n"
						   "[relay]\n"
						   "name = att.example/relay\n"
						   "listen = tls+tcp://relay.example.org:4433\n"
						   "admin_listen = [::1]:9999\n"
						   "data_dir = data\n"
						   "log_level = debug ; inline comment\n"
						   "\n"
						   "[tls]\n"
						   "cert_file = /etc/divex/cert.pem\n"
						   "key_file = keys/tls.pem\n"
						   "[limits]\n"
						   "max_message_bytes = 2 MiB\n"
						   "mailbox_max_envelopes = 500\n"
						   "mailbox_max_bytes = 3GiB\n"
						   "attachment_quota_bytes = 0\n"
						   "attachment_retention_seconds = 86400\n"
						   "rate_per_second = 10\n"
						   "rate_burst = 20\n"
						   "request_window_seconds = 60\n"
						   "longpoll_max_ms = 0\n"
						   "contexts = 8\n"
						   "group_commit_max = 1000\n");
	assert_dx_ok(relay_config_load(path, &c, err, sizeof(err)));
	assert_string_equal(c.name, "att.example/relay");
	assert_string_equal(c.listen, "tls+tcp://relay.example.org:4433");
	assert_string_equal(c.admin_listen, "[::1]:9999");
	snprintf(want, sizeof(want), "%s/data", test_tmpdir());
	assert_string_equal(c.data_dir, want);
	assert_int_equal(c.log_level, RELAY_LOG_DEBUG);
	assert_string_equal(c.cert_file, "/etc/divex/cert.pem");
	snprintf(want, sizeof(want), "%s/keys/tls.pem", test_tmpdir());
	assert_string_equal(c.key_file, want);
	assert_int_equal(c.limits.max_message_bytes, 2 * MIB);
	assert_int_equal(c.limits.mailbox_max_envelopes, 500);
	assert_int_equal(c.limits.mailbox_max_bytes, 3 * GIB);
	assert_int_equal(c.limits.attachment_quota_bytes, 0);
	assert_int_equal(c.limits.attachment_retention_seconds, 86400);
	assert_int_equal(c.limits.rate_per_second, 10);
	assert_int_equal(c.limits.rate_burst, 20);
	assert_int_equal(c.limits.request_window_seconds, 60);
	assert_int_equal(c.limits.longpoll_max_ms, 0);
	assert_int_equal(c.limits.contexts, 8);
	assert_int_equal(c.limits.group_commit_max, 1000);
}

struct bad_case {
	const char *text;
	const char *want; /* a part of the message */
};

static const struct bad_case bad_cases[] = {
	{ "[relay]\nlisten = tcp://a:1\n\n[limits]\nbogus = 1\n",
	  ":5: unknown key 'bogus' in [limits]" },
	{ "[relay]\nlisten = tcp://a:1\n[extra]\nx = 1\n", ":4: unknown section [extra]" },
	{ "listen = tcp://a:1\n", ":1: 'listen' is outside any [section]" },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\ncontexts = 12x\n", ":4: 'contexts' must be" },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\ncontexts = 0\n", ":4: 'contexts' must be" },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\ncontexts = -5\n", ":4: 'contexts'" },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\ncontexts =\n", ":4: 'contexts'" },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\nmailbox_max_bytes = 99999999999999999999999\n",
	  ":4: 'mailbox_max_bytes' must be a byte number" },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\nmax_message_bytes = 1 MB\n", ":4: " },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\nmax_message_bytes = 16384 TiB\n", ":4: " },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\ncontexts = 1 KiB\n", ":4: 'contexts'" },
	{ "[relay]\nlisten = tcp://a:1\nlisten = tcp://b:1\n", ":3: 'listen' given twice" },
	{ "[relay]\nlisten = http://a:1\n", ":2: 'listen' must be a URL" },
	{ "[relay]\nlisten = tcp://\n", ":2: 'listen' must be a URL" },
	{ "[relay]\nlisten = tcp://a:1\nname = bad+name\n", ":3: 'name'" },
	{ "[relay]\nlisten = tcp://a:1\nadmin_listen = 9464\n", ":3: 'admin_listen'" },
	{ "[relay]\nlisten = tcp://a:1\nlog_level = loud\n", ":3: 'log_level'" },
	{ "[relay]\nlisten = tcp://a:1\ndata_dir = a dir\n", ":3: 'data_dir'" },
	{ "[relay]\nname = x\n", "listen is required" },
	{ "[relay]\nlisten = tcp://a:1\nthis line has no equals sign\nbogus = 1\n",
	  ":3: syntax error" },
	{ "[relay]\nlisten = tcp://a:1\n[limits\n", ":3: syntax error" },
	{ "[relay]\nlisten = tcp://a:1\n  name = indented\n", ":3: indented line" },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\nmax_message_bytes = 64 KiB\nmailbox_max_bytes = "
	  "64 KiB\n"
	  "max_message_bytes = 1 MiB\n",
	  ":6: 'max_message_bytes' given twice" },
	{ "[relay]\nlisten = tcp://a:1\n[limits]\nmax_message_bytes = 1 MiB\nmailbox_max_bytes = "
	  "64 KiB\n",
	  "mailbox_max_bytes is smaller than max_message_bytes" },
};

static void test_bad(void **state)
{
	struct relay_config c;
	char err[RELAY_CONFIG_ERR_MAX], name[32];
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		snprintf(name, sizeof(name), "bad%zu.conf", i);
		const char *path = write_conf(name, bad_cases[i].text);
		memset(&c, 0x5a, sizeof(c));
		err[0] = '\0';
		int rc = relay_config_load(path, &c, err, sizeof(err));
		if (rc != DX_EPARSE || strstr(err, bad_cases[i].want) == NULL) {
			fail_msg("case %zu: rc %s, message \"%s\", want \"%s\"", i, dx_errname(rc),
				 err, bad_cases[i].want);
		}
		/* The message names the file, and the output is untouched on failure. */
		assert_non_null(strstr(err, name));
		assert_int_equal((unsigned char)c.name[0], 0x5a);
	}
}

static void test_file_problems(void **state)
{
	struct relay_config c;
	char err[RELAY_CONFIG_ERR_MAX], text[512];
	assert_dx_err(
		relay_config_load(test_path(test_tmpdir(), "absent.conf"), &c, err, sizeof(err)),
		DX_ENOENT);
	/* A line longer than inih reads in one piece. */
	snprintf(text, sizeof(text), "[relay]\nlisten = tcp://a:1\ndata_dir = /%0200d\n", 7);
	assert_dx_err(relay_config_load(write_conf("long.conf", text), &c, err, sizeof(err)),
		      DX_EPARSE);
	assert_non_null(strstr(err, ":3: line too long"));
	/* A NUL byte. */
	const char nul[] = "[relay]\nlisten = tcp://a:1\0\n";
	const char *path = test_path(test_tmpdir(), "nul.conf");
	test_write_file(path, nul, sizeof(nul) - 1);
	assert_dx_err(relay_config_load(path, &c, err, sizeof(err)), DX_EPARSE);
	assert_non_null(strstr(err, ":2: NUL byte"));
	/* Over the size cap, refused before parsing. */
	static char big[RELAY_CONFIG_FILE_MAX + 2];
	memset(big, '\n', sizeof(big) - 1);
	assert_dx_err(relay_config_load(write_conf("big.conf", big), &c, err, sizeof(err)),
		      DX_ETOOBIG);
	/* A short error buffer is still terminated. */
	char tiny[8];
	assert_dx_err(relay_config_load(write_conf("tiny.conf", "[x]\n"), &c, tiny, sizeof(tiny)),
		      DX_EPARSE);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
}

static void test_write_default(void **state)
{
	struct relay_config c, d;
	char err[RELAY_CONFIG_ERR_MAX];
	struct stat st;
	const char *dir = test_tmpdir();
	const char *path = test_path(dir, "relay.conf");
	/* Zeroed so that padding compares equal below. */
	memset(&c, 0, sizeof(c));
	assert_dx_ok(relay_config_write_default(path, "tcp://127.0.0.1:7000", NULL, NULL));
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_dx_ok(relay_config_load(path, &c, err, sizeof(err)));
	relay_config_defaults(&d, dir);
	snprintf(d.listen, sizeof(d.listen), "tcp://127.0.0.1:7000");
	assert_memory_equal(&c, &d, sizeof(c));
	/* Never overwritten. */
	assert_dx_err(relay_config_write_default(path, "tcp://127.0.0.1:8000", NULL, NULL),
		      DX_EEXIST);
	assert_dx_ok(relay_config_load(path, &c, err, sizeof(err)));
	assert_string_equal(c.listen, "tcp://127.0.0.1:7000");

	/* With TLS, the [tls] paths are written live, and everything else given. */
	const char *tls = test_path(dir, "tls.conf");
	assert_dx_ok(relay_config_write_default(tls, "tls+tcp://relay.example.org:4433",
						"127.0.0.1:0", "att.example/relay"));
	uint8_t *text = NULL;
	size_t len = 0;
	assert_dx_ok(dx_read_file(tls, RELAY_CONFIG_FILE_MAX, &text, &len));
	assert_non_null(memmem(text, len, "\ncert_file = tls-cert.pem\n", 26));
	assert_non_null(memmem(text, len, "\n;contexts = 64\n", 16));
	assert_non_null(memmem(text, len, "\n;max_message_bytes = 1088 KiB\n", 31));
	free(text);
	assert_dx_ok(relay_config_load(tls, &c, err, sizeof(err)));
	assert_string_equal(c.name, "att.example/relay");
	assert_string_equal(c.admin_listen, "127.0.0.1:0");
	assert_limits_default(&c.limits);

	/* Values that would not load back, or would smuggle in lines, are refused. */
	const char *bad = test_path(dir, "bad.conf");
	assert_dx_err(
		relay_config_write_default(bad, "tcp://a:1\n[limits]\ncontexts = 1", NULL, NULL),
		DX_EINVAL);
	assert_dx_err(relay_config_write_default(bad, "http://a:1", NULL, NULL), DX_EINVAL);
	assert_dx_err(relay_config_write_default(bad, "tcp://a:1", "nope", NULL), DX_EINVAL);
	assert_dx_err(relay_config_write_default(bad, "tcp://a:1", NULL, "two words"), DX_EINVAL);
	assert_dx_err(relay_config_write_default(bad, NULL, NULL, NULL), DX_EINVAL);
	assert_int_equal(stat(bad, &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),      cmocka_unit_test(test_minimal),
		cmocka_unit_test(test_full),	      cmocka_unit_test(test_bad),
		cmocka_unit_test(test_file_problems), cmocka_unit_test(test_write_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
