/*
 * cmd_keys.c: `divex keys`: creating this State's keys, showing their public
 * facts, and rotating the prekey. The key file holds every private key,
 * sealed under a passphrase; the enrollment file beside it is the State's
 * self-signed roster entry, the public half it hands to the Secretariat.
 * Creating them is shared with `divex init` (cli_keys_create); `keys verify`,
 * which goes through the daemon, lives in cmd_node.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "wire.pb-c.h"

enum {
	OPT_GRACE = CLI_OPT_FIRST_VERB,
};

int cli_key_paths(struct cli *c, struct cli_key_paths *p)
{
	const char *home = cli_home(c);
	int status = cli_path(c, p->key, sizeof(p->key), home, CLI_KEY_FILE);
	if (status == CLI_EXIT_OK) {
		status = cli_path(c, p->enrollment, sizeof(p->enrollment), home,
				  CLI_ENROLLMENT_FILE);
	}
	return status;
}

/* Contacts copied from a previous entry, in roster_entry_build's form. */
struct kept_contacts {
	struct roster_contact list[ROSTER_MAX_CONTACTS];
	size_t n;
};

/*
 * Rebuilds the enrollment file from k. The display name and the contacts of
 * the previous file are kept when that file is this State's own entry, so
 * that a prekey rotation does not drop what the Secretariat already holds.
 */
static int write_enrollment(struct cli *c, const struct keys *k, const char *path, const char *name,
			    uint64_t now_ms)
{
	struct roster_entry *old = NULL;
	struct kept_contacts kc = { .n = 0 };
	uint8_t *buf = NULL, *prev = NULL, id[KEYS_ID_LEN];
	size_t len = 0, prev_len = 0;

	if (dx_read_file(path, ROSTER_ENTRY_MAX, &prev, &prev_len) == DX_OK &&
	    roster_entry_verify(prev, prev_len, &old) == DX_OK) {
		keys_identity_id(k, id);
		if (sodium_memcmp(id, old->identity_id, KEYS_ID_LEN) == 0) {
			kc.n = roster_entry_contacts(old, kc.list, ROSTER_MAX_CONTACTS);
			if (name == NULL && old->name != NULL && old->name[0] != '\0') {
				name = old->name;
			}
		}
	}
	if (name == NULL) {
		name = keys_state(k);
	}
	int rc = roster_entry_build(k, name, kc.list, kc.n, now_ms, &buf, &len);
	int status = CLI_EXIT_OK;
	if (rc != DX_OK) {
		status = cli_error(c, rc, "building the enrollment entry");
	} else if ((rc = dx_write_file_atomic(path, buf, len, 0644, 1)) != DX_OK) {
		status = cli_error(c, rc,
				   "writing the enrollment file %s (the key file is saved; "
				   "'divex keys rotate-prekey' writes it again)",
				   path);
	}
	free(buf);
	roster_entry_free(old);
	free(prev);
	return status;
}

static int parse_days(struct cli *c, const char *opt, const char *arg, uint64_t min, uint64_t max,
		      uint64_t *ms)
{
	uint64_t days;
	if (cli_parse_u64(arg, min, max, &days) != DX_OK) {
		return cli_usage(c, "%s takes a whole number of days from %llu to %llu, not '%s'",
				 opt, (unsigned long long)min, (unsigned long long)max, arg);
	}
	*ms = days * KEYS_DAY_MS;
	return CLI_CONTINUE;
}

static int parse_kdf(struct cli *c, const char *arg, struct keyfile_kdf *kdf)
{
	if (keyfile_kdf_parse(arg, kdf) != DX_OK) {
		return cli_usage(c, "--kdf is interactive, moderate or sensitive, not '%s'", arg);
	}
	return CLI_CONTINUE;
}

static int check_name(struct cli *c, const char *name)
{
	if (name != NULL && (name[0] == '\0' || strlen(name) > ROSTER_TEXT_MAX)) {
		return cli_usage(c, "--name must be 1 to %d bytes", ROSTER_TEXT_MAX);
	}
	return CLI_CONTINUE;
}

void cli_print_files(struct out *o, const struct cli_key_paths *p, const char *config,
		     const char *relay_cert)
{
	out_obj_begin(o, "files", "Files");
	out_str(o, "key_file", "key file", p->key);
	out_str(o, "enrollment_file", "enrollment file", p->enrollment);
	if (config != NULL) {
		out_str(o, "config_file", "daemon configuration", config);
	}
	if (relay_cert != NULL) {
		out_str(o, "relay_cert_file", "relay certificate", relay_cert);
	}
	out_obj_end(o);
}

void cli_keys_opts_init(struct cli_keys_opts *ko)
{
	memset(ko, 0, sizeof(*ko));
	ko->kdf = KEYFILE_KDF_MODERATE;
	ko->period_ms = KEYS_PREKEY_PERIOD_MS;
}

int cli_keys_opt(struct cli *c, const struct cli_verb *v, struct cli_keys_opts *ko, int opt,
		 char **argv)
{
	switch (opt) {
	case CLI_OPT_STATE:
		ko->state = optarg;
		return CLI_CONTINUE;
	case CLI_OPT_NAME:
		ko->name = optarg;
		return check_name(c, optarg);
	case CLI_OPT_KDF:
		return parse_kdf(c, optarg, &ko->kdf);
	case CLI_OPT_PERIOD:
		return parse_days(c, "--period-days", optarg, 1, 365, &ko->period_ms);
	default:
		return cli_opt_common(c, v, opt, argv);
	}
}

int cli_keys_check(struct cli *c, const struct cli_keys_opts *ko)
{
	if (ko->state == NULL) {
		return cli_usage(c,
				 "--state CODE is required (the State's ISO 3166-1 alpha-3 code)");
	}
	if (!dx_state_valid(ko->state)) {
		return cli_error(c, DX_ESTATE_CODE, "--state '%s'", ko->state);
	}
	return CLI_CONTINUE;
}

int cli_keys_create(struct cli *c, const struct cli_keys_opts *ko, const struct cli_key_paths *p,
		    struct keys **out, uint64_t *now_ms)
{
	struct stat st;
	/* Checked before asking for a passphrase; keyfile_write checks again. */
	if (lstat(p->key, &st) == 0) {
		/* Not dx_strerror's advice to remove it: that would destroy keys. */
		return cli_fail(c, CLI_EXIT_FAILED, "DX_EEXIST",
				"%s already exists: this home already holds a State's keys, and "
				"they were left unchanged; see them with 'divex keys show', or "
				"choose another --home",
				p->key);
	}
	int rc = dx_mkdir_p(cli_home(c));
	if (rc != DX_OK) {
		return cli_error(c, rc, "creating the home directory %s", cli_home(c));
	}

	struct passphrase pass = { NULL, 0 };
	struct keys *k = NULL;
	char prompt[128];
	snprintf(prompt, sizeof(prompt), "New passphrase for the key file of %s: ", ko->state);
	int status = cli_passphrase(c, prompt, 1, &pass);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	uint64_t now = dx_now_ms();
	rc = keys_generate(ko->state, now, ko->period_ms, NULL, &k);
	if (rc != DX_OK) {
		status = cli_error(c, rc, "generating the keys of %s", ko->state);
	} else if ((rc = keyfile_write(p->key, k, pass.buf, pass.len, &ko->kdf, 0)) != DX_OK) {
		status = cli_error(c, rc, "writing the key file %s", p->key);
	} else {
		status = write_enrollment(c, k, p->enrollment, ko->name, now);
	}
	passphrase_free(&pass);
	if (status != CLI_EXIT_OK) {
		keys_free(k);
		return status;
	}
	*out = k;
	*now_ms = now;
	return CLI_EXIT_OK;
}

/* clang-format off */
static const char init_usage[] =
	"usage: divex keys init --state CODE [options]\n"
	"\n"
	"Creates this State's keys in the home directory: an Ed25519 identity key,\n"
	"an X25519 static key and a first signed prekey, sealed in state.key under a\n"
	"passphrase (Argon2id), and enrollment.dxe, the self-signed roster entry you\n"
	"hand to the Secretariat. An existing key file is never overwritten.\n"
	"\n"
	"options:\n"
	CLI_HELP_KEYS
	CLI_HELP_PASSPHRASE CLI_HELP_COMMON;
/* clang-format on */

static int keys_init(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		CLI_LONGOPTS_PASSPHRASE,
		CLI_LONGOPTS_KEYS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli_keys_opts ko;
	int opt, status = CLI_CONTINUE;

	cli_keys_opts_init(&ko);
	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		status = cli_keys_opt(c, v, &ko, opt, argv);
	}
	if (status == CLI_CONTINUE && optind < argc) {
		status = cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	if (status == CLI_CONTINUE) {
		status = cli_keys_check(c, &ko);
	}
	if (status != CLI_CONTINUE) {
		return status;
	}

	struct cli_key_paths p;
	struct keys *k = NULL;
	uint64_t now = 0;
	if ((status = cli_key_paths(c, &p)) != CLI_EXIT_OK ||
	    (status = cli_keys_create(c, &ko, &p, &k, &now)) != CLI_EXIT_OK) {
		return status;
	}
	struct out o;
	out_init(&o, c);
	out_note(&o, "Created the keys of %s.", ko.state);
	cli_print_keys(&o, k, now);
	cli_print_files(&o, &p, NULL, NULL);
	out_note(&o,
		 "\nHand %s to the Secretariat. Give the fingerprint above to the\n"
		 "other States by a separate channel (a diplomatic note, a meeting) so\n"
		 "that they can check it. Keep the passphrase, and a backup of the key\n"
		 "file, safe.",
		 p.enrollment);
	status = out_finish(&o, c);
	keys_free(k);
	return status;
}

/* clang-format off */
static const char show_usage[] =
	"usage: divex keys show [options]\n"
	"\n"
	"Unlocks the key file and prints this State's public key facts: fingerprint,\n"
	"key ids and prekeys (erased ones are marked).\n"
	"\n"
	"options:\n"
	CLI_HELP_PASSPHRASE CLI_HELP_COMMON;
/* clang-format on */

static int keys_show(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		CLI_LONGOPTS_PASSPHRASE,
		{ NULL, 0, NULL, 0 },
	};
	int status = cli_opt_parse_common(c, v, argc, argv, longopts);
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (optind < argc) {
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	struct cli_key_paths p;
	struct keys *k = NULL;
	if ((status = cli_key_paths(c, &p)) != CLI_EXIT_OK ||
	    (status = cli_load_keys(c, &k, NULL)) != CLI_EXIT_OK) {
		return status;
	}
	struct out o;
	out_init(&o, c);
	cli_print_keys(&o, k, dx_now_ms());
	cli_print_files(&o, &p, NULL, NULL);
	status = out_finish(&o, c);
	keys_free(k);
	return status;
}

/*
 * The Argon2id cost of an existing key file, from its header (PROTOCOL.md 8:
 * magic, version, kdf byte, then opslimit and memlimit as big-endian 64-bit
 * numbers), so that rewriting the file keeps the cost its owner chose.
 */
#define KEYFILE_COST_OFF 10
static int key_file_cost(const char *path, struct keyfile_kdf *kdf)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = dx_read_file(path, KEYFILE_MAX, &buf, &len);
	if (rc != DX_OK) {
		return rc;
	}
	if (len < KEYFILE_COST_OFF + 16 || memcmp(buf, "divexkey", 8) != 0) {
		rc = DX_EKEYFILE_CORRUPT;
	} else {
		kdf->opslimit = dx_get_be64(buf + KEYFILE_COST_OFF);
		kdf->memlimit = (size_t)dx_get_be64(buf + KEYFILE_COST_OFF + 8);
	}
	free(buf);
	return rc;
}

/* clang-format off */
static const char rotate_usage[] =
	"usage: divex keys rotate-prekey [options]\n"
	"\n"
	"Adds a new signed prekey, erases the private half of every prekey that\n"
	"expired more than the grace period ago (forward secrecy), rewrites the key\n"
	"file and enrollment.dxe. Hand the new enrollment file to the Secretariat.\n"
	"\n"
	"options:\n"
	"      --period-days N       validity of the new prekey in days (default 7)\n"
	"      --grace-days N        keep expired prekeys this many days (default 30)\n"
	"      --kdf PROFILE         rewrite the key file with this Argon2id cost\n"
	"                            (default: keep the file's current cost)\n"
	"      --name NAME           change the display name in the enrollment file\n"
	CLI_HELP_PASSPHRASE CLI_HELP_COMMON;
/* clang-format on */

static int keys_rotate(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		CLI_LONGOPTS_PASSPHRASE,
		{ "period-days", required_argument, NULL, CLI_OPT_PERIOD },
		{ "grace-days", required_argument, NULL, OPT_GRACE },
		{ "kdf", required_argument, NULL, CLI_OPT_KDF },
		{ "name", required_argument, NULL, CLI_OPT_NAME },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t period = KEYS_PREKEY_PERIOD_MS, grace = KEYS_PREKEY_GRACE_MS;
	struct keyfile_kdf kdf = KEYFILE_KDF_MODERATE;
	int opt, status = CLI_CONTINUE, kdf_given = 0;
	const char *name = NULL;

	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (opt) {
		case CLI_OPT_PERIOD:
			status = parse_days(c, "--period-days", optarg, 1, 365, &period);
			break;
		case OPT_GRACE:
			status = parse_days(c, "--grace-days", optarg, 0, 3650, &grace);
			break;
		case CLI_OPT_KDF:
			kdf_given = 1;
			status = parse_kdf(c, optarg, &kdf);
			break;
		case CLI_OPT_NAME:
			name = optarg;
			status = check_name(c, name);
			break;
		default:
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (optind < argc) {
		return cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}

	struct cli_key_paths p;
	struct keys *k = NULL;
	struct passphrase pass = { NULL, 0 };
	if ((status = cli_key_paths(c, &p)) != CLI_EXIT_OK ||
	    (status = cli_load_keys(c, &k, &pass)) != CLI_EXIT_OK) {
		return status;
	}
	if (!kdf_given && key_file_cost(p.key, &kdf) != DX_OK) {
		kdf = KEYFILE_KDF_MODERATE;
	}
	uint64_t now = dx_now_ms();
	int rc = keys_rotate_prekey(k, now, period);
	if (rc != DX_OK) {
		status = cli_error(c, rc, "adding a prekey");
		goto out;
	}
	int erased = keys_erase_expired_prekeys(k, now, grace);
	if (erased < 0) {
		status = cli_error(c, erased, "erasing expired prekeys");
		goto out;
	}
	rc = keyfile_write(p.key, k, pass.buf, pass.len, &kdf, 1);
	if (rc != DX_OK) {
		status = cli_error(c, rc, "rewriting the key file %s (it was left as it was)",
				   p.key);
		goto out;
	}
	if ((status = write_enrollment(c, k, p.enrollment, name, now)) != CLI_EXIT_OK) {
		goto out;
	}

	const struct keys_prekey *np = keys_prekey_at(k, keys_prekey_count(k) - 1);
	struct out o;
	out_init(&o, c);
	out_obj_begin(&o, "new_prekey", "New prekey");
	out_hex(&o, "id", "id", np->id, sizeof(np->id));
	out_time(&o, "valid_from", "valid from", np->valid_from_ms);
	out_time(&o, "valid_until", "valid until", np->valid_until_ms);
	out_obj_end(&o);
	out_u64(&o, "erased", "Prekeys erased now", (uint64_t)erased);
	cli_print_keys(&o, k, now);
	cli_print_files(&o, &p, NULL, NULL);
	out_note(&o, "\nHand the new %s to the Secretariat so that senders use the new prekey.",
		 p.enrollment);
	status = out_finish(&o, c);
out:
	keys_free(k);
	passphrase_free(&pass);
	return status;
}

static const struct cli_verb verbs[] = {
	{ "init", keys_init, "create this State's keys and enrollment file", init_usage },
	{ "show", keys_show, "print this State's fingerprint, key ids and prekeys", show_usage },
	{ "rotate-prekey", keys_rotate, "add a new prekey and erase expired ones", rotate_usage },
	{ "verify", keys_verify, "check another State's key against its fingerprint (daemon)",
	  keys_verify_usage },
};

int cmd_keys(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "keys", verbs, sizeof(verbs) / sizeof(verbs[0]),
			    "This State's own keys: the key file (state.key) and the enrollment\n"
			    "file (enrollment.dxe) in the home directory; and, through the\n"
			    "daemon, verifying another State's key ('keys verify').\n",
			    argc, argv);
}
