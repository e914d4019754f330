/*
 * test_node_config.c: a State node's configuration file
 * (daemon/node/node_config.c).
 *
 * Every default from a file with only the required keys; the full example
 * of docs/divexd.conf.md; relative paths resolved against the file's
 * directory; roles from names and uids, the highest winning; then a
 * catalogue of mistakes that must each be refused with the line and the key
 * in the message, leaving the output untouched. User names are ones every
 * Debian system has (root, daemon, bin, nobody).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "node_config.h"
#include "testlib.h"
#include "util.h"

#define KEY_HEX "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29"
#define REQUIRED                                                                                   \
	"[node]\nstate = FRA\n[relay]\nurl = tcp://127.0.0.1:7000\nname = test.divex/relay\n"      \
	"public_key = " KEY_HEX "\n"

static const char *write_conf(const char *name, const char *text)
{
	const char *path = test_path(test_tmpdir(), name);
	unlink(path);
	test_write_file(path, text, strlen(text));
	return path;
}

static void load_ok(const char *name, const char *text, struct node_config *c)
{
	char err[NODE_CONFIG_ERR_MAX] = "";
	int rc = node_config_load(write_conf(name, text), c, err);
	if (rc != 0) {
		fail_msg("%s: %s: %s", name, dx_errname(rc), err);
	}
}

static void test_defaults(void **state)
{
	struct node_config c;
	uint8_t key[32];
	load_ok("min.conf", REQUIRED, &c);
	assert_string_equal(c.state, "FRA");
	assert_string_equal(c.passphrase_file, "");
	assert_int_equal(c.log_level, NODE_LOG_INFO);
	assert_string_equal(c.relay_url, "tcp://127.0.0.1:7000");
	assert_string_equal(c.relay_name, "test.divex/relay");
	assert_dx_ok(dx_unhex(key, sizeof(key), KEY_HEX));
	assert_memory_equal(c.relay_public_key, key, sizeof(key));
	assert_string_equal(c.relay_ca_file, "");
	assert_string_equal(c.relay_server_name, "");
	assert_int_equal(c.relay_timeout_ms, 30000);
	assert_int_equal(c.poll_wait_ms, 20000);
	assert_int_equal(c.roster_sync_ms, 60000);
	assert_int_equal(c.retry_min_ms, 500);
	assert_int_equal(c.retry_max_ms, 300000);
	assert_int_equal(c.prekey_period_days, 7);
	assert_int_equal(c.prekey_grace_days, 30);
	assert_int_equal(c.n_officers, 0);
	assert_int_equal(c.n_pocs, 0);
	assert_int_equal(c.n_admins, 0);
	/* With no role given, nobody may use the control socket. */
	assert_int_equal(node_config_role(&c, 0), NODE_ROLE_NONE);
	assert_int_equal(node_config_role(&c, getuid()), NODE_ROLE_NONE);
	/* The error buffer is optional. */
	assert_dx_ok(node_config_load(write_conf("min2.conf", REQUIRED), &c, NULL));
}

static void test_full(void **state)
{
	struct node_config c;
	char want[2 * NODE_CONFIG_PATH_MAX];
	load_ok("full.conf",
		"# divexd configuration for FRA, written by 'divex init'.\n"
		"; another comment\r\n"
		"[node]\n"
		"state = FRA\n"
		"passphrase_file = /etc/divex/passphrase     ; optional: unlock unattended\n"
		"log_level = debug                           ; error|warn|info|debug\n"
		"\n"
		"[relay]\n"
		"url = tls+tcp://127.0.0.1:7443              ; or tcp://, ipc:// (tests)\n"
		"name = att-secretariat.divex/relay\n"
		"public_key = " KEY_HEX "\n"
		"ca_file = relay-cert.pem                    ; relative to the home\n"
		"server_name = relay.example.org\n"
		"timeout_ms = 45000\n"
		"poll_wait_ms = 0\n"
		"roster_sync_ms = 100\n"
		"\n"
		"[outbox]\n"
		"retry_min_ms = 10\n"
		"retry_max_ms = 86400000\n"
		"\n"
		"[prekeys]\n"
		"period_days = 90\n"
		"grace_days = 365\n"
		"\n"
		"[roles]\n"
		"administrator = root\n"
		"point_of_contact = daemon, 1001\n"
		"officer = bin,nobody ,  4242\n",
		&c);
	assert_string_equal(c.passphrase_file, "/etc/divex/passphrase");
	assert_int_equal(c.log_level, NODE_LOG_DEBUG);
	assert_string_equal(c.relay_url, "tls+tcp://127.0.0.1:7443");
	assert_string_equal(c.relay_name, "att-secretariat.divex/relay");
	snprintf(want, sizeof(want), "%s/relay-cert.pem", test_tmpdir());
	assert_string_equal(c.relay_ca_file, want);
	assert_string_equal(c.relay_server_name, "relay.example.org");
	assert_int_equal(c.relay_timeout_ms, 45000);
	assert_int_equal(c.poll_wait_ms, 0);
	assert_int_equal(c.roster_sync_ms, 100);
	assert_int_equal(c.retry_min_ms, 10);
	assert_int_equal(c.retry_max_ms, 86400000);
	assert_int_equal(c.prekey_period_days, 90);
	assert_int_equal(c.prekey_grace_days, 365);
	assert_int_equal(c.n_admins, 1);
	assert_int_equal(c.admins[0], 0);
	assert_int_equal(c.n_pocs, 2);
	assert_int_equal(c.pocs[0], 1);
	assert_int_equal(c.pocs[1], 1001);
	assert_int_equal(c.n_officers, 3);
	assert_int_equal(c.officers[0], 2);
	assert_int_equal(c.officers[1], 65534);
	assert_int_equal(c.officers[2], 4242);
}

static void test_paths(void **state)
{
	struct node_config c;
	char want[2 * NODE_CONFIG_PATH_MAX], cwd[NODE_CONFIG_PATH_MAX], old[NODE_CONFIG_PATH_MAX];
	char err[NODE_CONFIG_ERR_MAX];
	load_ok("paths.conf",
		REQUIRED "[node]\npassphrase_file = keys/pass\n[relay]\nca_file = /abs/cert.pem\n",
		&c);
	snprintf(want, sizeof(want), "%s/keys/pass", test_tmpdir());
	assert_string_equal(c.passphrase_file, want);
	assert_string_equal(c.relay_ca_file, "/abs/cert.pem");
	/*
	 * A file named relative to the working directory still gives absolute
	 * paths, so that they stay right if the daemon changes directory.
	 */
	assert_non_null(getcwd(old, sizeof(old)));
	assert_int_equal(chdir(test_tmpdir()), 0);
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_dx_ok(node_config_load("paths.conf", &c, err));
	snprintf(want, sizeof(want), "%s/keys/pass", cwd);
	assert_string_equal(c.passphrase_file, want);
	assert_int_equal(chdir(old), 0);
}

static void test_roles(void **state)
{
	struct node_config c;
	load_ok("roles.conf",
		REQUIRED "[roles]\nofficer = 1001, 1002, daemon, 1003\npoint_of_contact = 1002, "
			 "daemon\nadministrator = 1003\n",
		&c);
	/* The highest role a uid holds wins, whatever order the lines come in. */
	assert_int_equal(node_config_role(&c, 1001), NODE_ROLE_OFFICER);
	assert_int_equal(node_config_role(&c, 1002), NODE_ROLE_POC);
	assert_int_equal(node_config_role(&c, 1), NODE_ROLE_POC);
	assert_int_equal(node_config_role(&c, 1003), NODE_ROLE_ADMIN);
	assert_int_equal(node_config_role(&c, 1004), NODE_ROLE_NONE);
	assert_int_equal(node_config_role(&c, 0), NODE_ROLE_NONE);
	assert_int_equal(node_config_role(&c, (uid_t)-1), NODE_ROLE_NONE);
	/* A user named twice in one role is held once; empty roles are allowed. */
	load_ok("roles2.conf",
		REQUIRED "[roles]\nofficer = root, 0\npoint_of_contact =\nadministrator = ; none\n",
		&c);
	assert_int_equal(c.n_officers, 1);
	assert_int_equal(c.n_pocs, 0);
	assert_int_equal(c.n_admins, 0);
	assert_int_equal(node_config_role(&c, 0), NODE_ROLE_OFFICER);
	assert_string_equal(node_role_name(NODE_ROLE_NONE), "none");
	assert_string_equal(node_role_name(NODE_ROLE_OFFICER), "officer");
	assert_string_equal(node_role_name(NODE_ROLE_POC), "point_of_contact");
	assert_string_equal(node_role_name(NODE_ROLE_ADMIN), "administrator");
	assert_string_equal(node_role_name((enum node_role)9), "unknown");
}

struct bad_case {
	const char *text;
	const char *want; /* a part of the message */
};

static const struct bad_case bad_cases[] = {
	/* Structure. */
	{ REQUIRED "[outbox]\nbogus = 1\n", ":8: unknown key 'bogus' in [outbox]" },
	{ REQUIRED "[extra]\nx = 1\n", ":8: unknown section [extra] (key 'x')" },
	{ "state = FRA\n" REQUIRED, ":1: 'state' is outside any [section]" },
	{ REQUIRED "[node]\nstate = MEX\n", ":8: 'state' given twice in [node]" },
	{ REQUIRED "this line has no equals sign\n", ":7: syntax error" },
	{ REQUIRED "[roles\n", ":7: syntax error" },
	{ REQUIRED "  log_level = debug\n", ":7: indented line" },
	/* [node] */
	{ "[node]\nstate = fra\n", ":2: 'state' must be a State code" },
	{ "[node]\nstate = FRAN\n", ":2: 'state' must be a State code" },
	{ "[node]\nstate = FRA # not a comment\n", ":2: 'state' must be a State code" },
	{ "[node]\nstate =\n", ":2: 'state' must be a State code" },
	{ REQUIRED "[node]\npassphrase_file = a file\n", ":8: 'passphrase_file' must be a path" },
	{ REQUIRED "[node]\npassphrase_file =\n", ":8: 'passphrase_file' must be a path" },
	{ REQUIRED "[node]\nlog_level = loud\n", ":8: 'log_level' must be error, warn" },
	/* [relay] */
	{ "[relay]\nurl = http://a:1\n", ":2: 'url' must be a URL" },
	{ "[relay]\nurl = tcp://\n", ":2: 'url' must be a URL" },
	{ "[relay]\nname = bad+name\n", ":2: 'name' must be 1 to 255" },
	{ "[relay]\nname = two words\n", ":2: 'name' must be 1 to 255" },
	{ "[relay]\npublic_key = " KEY_HEX "00\n", ":2: 'public_key' must be 64 lowercase hex" },
	{ "[relay]\npublic_key = "
	  "3B6A27BCCEB6A42D62A3A8D02A6F0D73653215771DE243A63AC048A18B59DA29\n",
	  ":2: 'public_key' must be 64 lowercase hex" },
	{ "[relay]\npublic_key = "
	  "3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da2g\n",
	  ":2: 'public_key' must be 64 lowercase hex" },
	{ REQUIRED "server_name = a b\n", ":7: 'server_name' must be 1 to 255" },
	{ REQUIRED "timeout_ms = 999\n", ":7: 'timeout_ms' must be a number from 1000 to 600000" },
	{ REQUIRED "timeout_ms = 600001\n", ":7: 'timeout_ms' must be a number" },
	{ REQUIRED "timeout_ms = 30s\n", ":7: 'timeout_ms' must be a number" },
	{ REQUIRED "timeout_ms = -1\n", ":7: 'timeout_ms' must be a number" },
	{ REQUIRED "timeout_ms = 99999999999999999999999\n", ":7: 'timeout_ms' must be a number" },
	{ REQUIRED "poll_wait_ms = 60001\n",
	  ":7: 'poll_wait_ms' must be a number from 0 to 60000" },
	{ REQUIRED "roster_sync_ms = 99\n", ":7: 'roster_sync_ms' must be a number from 100" },
	{ REQUIRED "roster_sync_ms = 86400001\n", ":7: 'roster_sync_ms' must be a number" },
	/* [outbox] and [prekeys] */
	{ REQUIRED "[outbox]\nretry_min_ms = 9\n", ":8: 'retry_min_ms' must be a number from 10" },
	{ REQUIRED "[outbox]\nretry_min_ms = 3600001\n", ":8: 'retry_min_ms' must be a number" },
	{ REQUIRED "[outbox]\nretry_max_ms = 86400001\n", ":8: 'retry_max_ms' must be a number" },
	{ REQUIRED "[prekeys]\nperiod_days = 0\n",
	  ":8: 'period_days' must be a number from 1 to 90" },
	{ REQUIRED "[prekeys]\nperiod_days = 91\n", ":8: 'period_days' must be a number" },
	{ REQUIRED "[prekeys]\ngrace_days = 0\n",
	  ":8: 'grace_days' must be a number from 1 to 365" },
	{ REQUIRED "[prekeys]\ngrace_days = 366\n", ":8: 'grace_days' must be a number" },
	/* [roles] */
	{ REQUIRED "[roles]\nofficer = root, no-such-user-x7\n",
	  ":8: 'officer': no such user 'no-such-user-x7'" },
	{ REQUIRED "[roles]\nadministrator = alice bob\n",
	  ":8: 'administrator': 'alice bob' is not a user name" },
	{ REQUIRED "[roles]\npoint_of_contact = root,,daemon\n",
	  ":8: 'point_of_contact' has an empty entry" },
	{ REQUIRED "[roles]\nofficer = root,\n", ":8: 'officer' has an empty entry" },
	{ REQUIRED "[roles]\nofficer = 4294967295\n",
	  ":8: 'officer': '4294967295' is not a valid" },
	{ REQUIRED "[roles]\nofficer = 12ab\n", ":8: 'officer': '12ab' is not a valid uid" },
	{ REQUIRED "[roles]\nsecretary = root\n", ":8: unknown key 'secretary' in [roles]" },
	/* Required options, and options that must agree. */
	{ "[relay]\nurl = tcp://a:1\nname = n\npublic_key = " KEY_HEX "\n",
	  "[node] state is required" },
	{ "[node]\nstate = FRA\n[relay]\nname = n\npublic_key = " KEY_HEX "\n",
	  "[relay] url is required" },
	{ "[node]\nstate = FRA\n[relay]\nurl = tcp://a:1\npublic_key = " KEY_HEX "\n",
	  "[relay] name is required" },
	{ "[node]\nstate = FRA\n[relay]\nurl = tcp://a:1\nname = n\n",
	  "[relay] public_key is required" },
	{ "[node]\nstate = FRA\n[relay]\nurl = tls+tcp://a:1\nname = n\npublic_key = " KEY_HEX "\n",
	  ":4: 'url' uses TLS: [relay] ca_file (the relay's certificate) is required" },
	{ REQUIRED "timeout_ms = 20000\n",
	  ":7: 'poll_wait_ms' (20000) must be less than [relay] timeout_ms (20000)" },
	{ REQUIRED "timeout_ms = 5000\npoll_wait_ms = 5000\n",
	  ":8: 'poll_wait_ms' (5000) must be less than [relay] timeout_ms (5000)" },
	{ REQUIRED "[outbox]\nretry_max_ms = 100\nretry_min_ms = 200\n",
	  ":8: 'retry_max_ms' (100) must be at least [outbox] retry_min_ms (200)" },
	{ REQUIRED "[outbox]\nretry_min_ms = 400000\n",
	  ":8: 'retry_max_ms' (300000) must be at least [outbox] retry_min_ms (400000)" },
};

static void test_bad(void **state)
{
	struct node_config c;
	char err[NODE_CONFIG_ERR_MAX], name[32];
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		snprintf(name, sizeof(name), "bad%zu.conf", i);
		const char *path = write_conf(name, bad_cases[i].text);
		memset(&c, 0x5a, sizeof(c));
		err[0] = '\0';
		int rc = node_config_load(path, &c, err);
		if (rc != DX_EPARSE || strstr(err, bad_cases[i].want) == NULL) {
			fail_msg("case %zu: rc %s, message \"%s\", want \"%s\"", i, dx_errname(rc),
				 err, bad_cases[i].want);
		}
		/* The message names the file, and the output is untouched on failure. */
		assert_non_null(strstr(err, name));
		assert_int_equal((unsigned char)c.state[0], 0x5a);
		assert_int_equal((unsigned char)c.relay_url[0], 0x5a);
	}
}

static void test_file_problems(void **state)
{
	struct node_config c;
	char err[NODE_CONFIG_ERR_MAX], text[512];
	assert_dx_err(node_config_load(test_path(test_tmpdir(), "absent.conf"), &c, err),
		      DX_ENOENT);
	assert_non_null(strstr(err, "absent.conf: "));
	/* A line longer than inih reads in one piece. */
	snprintf(text, sizeof(text), REQUIRED "[node]\npassphrase_file = /%0200d\n", 7);
	assert_dx_err(node_config_load(write_conf("long.conf", text), &c, err), DX_EPARSE);
	assert_non_null(strstr(err, "long.conf:8: line too long"));
	/* A NUL byte. */
	const char nul[] = "[node]\nstate = FRA\0\n";
	const char *path = test_path(test_tmpdir(), "nul.conf");
	test_write_file(path, nul, sizeof(nul) - 1);
	assert_dx_err(node_config_load(path, &c, err), DX_EPARSE);
	assert_non_null(strstr(err, ":2: NUL byte"));
	/* Over the size cap, refused before parsing. */
	static char big[NODE_CONFIG_FILE_MAX + 2];
	memset(big, '\n', sizeof(big) - 1);
	assert_dx_err(node_config_load(write_conf("big.conf", big), &c, err), DX_ETOOBIG);
	/* A refusal with no error buffer is still a refusal. */
	assert_dx_err(node_config_load(write_conf("nobuf.conf", "[x]\n"), &c, NULL), DX_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults), cmocka_unit_test(test_full),
		cmocka_unit_test(test_paths),	 cmocka_unit_test(test_roles),
		cmocka_unit_test(test_bad),	 cmocka_unit_test(test_file_problems),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
