/*
 * home.c: the files of a State's home directory as the CLI uses them: the
 * key file (state.key), the passphrase that unlocks it, roster entry files,
 * and the report of a State's own key facts.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

int cli_passphrase(struct cli *c, const char *prompt, int confirm, struct passphrase *out)
{
	int rc = passphrase_read(c->pass_file, c->pass_fd, prompt, confirm, out);
	int status;
	if (rc == DX_OK) {
		return CLI_EXIT_OK;
	}
	if (c->pass_file != NULL) {
		status = cli_error(c, rc, "reading the passphrase file %s", c->pass_file);
	} else if (c->pass_fd >= 0) {
		status = cli_error(c, rc, "reading the passphrase from file descriptor %d",
				   c->pass_fd);
	} else if (rc == DX_EINVAL && confirm) {
		return cli_fail(c, CLI_EXIT_KEYFILE, "DX_EINVAL",
				"the passphrases typed did not match; nothing was written");
	} else {
		status = cli_error(c, rc, "reading the passphrase");
	}
	/* A missing file is "not found"; any other bad passphrase source is status 5. */
	if (rc == DX_ENOENT || status == CLI_EXIT_FAILED) {
		return status;
	}
	return CLI_EXIT_KEYFILE;
}

int cli_load_keys(struct cli *c, struct keys **out, struct passphrase *keep)
{
	char path[4096], prompt[4200];
	struct stat st;
	const char *home = cli_home(c);
	int status = cli_path(c, path, sizeof(path), home, CLI_KEY_FILE);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	if (lstat(path, &st) != 0) {
		if (errno == ENOENT) {
			return cli_fail(c, CLI_EXIT_NOTSETUP, "DX_ENOENT",
					"no key file at %s: this home holds no State keys yet; run "
					"'divex keys init --state CODE' first, or point --home (or "
					"DIVEX_HOME) at the right directory",
					path);
		}
		return cli_error(c, dx_from_errno(errno), "checking the key file %s", path);
	}

	struct passphrase pass = { NULL, 0 };
	snprintf(prompt, sizeof(prompt), "Passphrase for %s: ", path);
	status = cli_passphrase(c, prompt, 0, &pass);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	int rc = keyfile_read(path, pass.buf, pass.len, out);
	if (rc != DX_OK) {
		passphrase_free(&pass);
		status = cli_error(c, rc, "loading the key file %s", path);
		/* A directory or other odd object where the key file belongs. */
		return rc == DX_EINVAL ? CLI_EXIT_KEYFILE : status;
	}
	if (keep != NULL) {
		*keep = pass;
	} else {
		passphrase_free(&pass);
	}
	return CLI_EXIT_OK;
}

int cli_load_entry(struct cli *c, const char *path, struct roster_entry **out)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = dx_read_file(path, ROSTER_ENTRY_MAX, &buf, &len);
	if (rc != DX_OK) {
		return cli_error(c, rc, "reading the roster entry %s", path);
	}
	rc = roster_entry_verify(buf, len, out);
	free(buf);
	if (rc != DX_OK) {
		int status = cli_error(c, rc, "the roster entry %s failed verification", path);
		return status == CLI_EXIT_FAILED ? status : CLI_EXIT_REFUSED;
	}
	return CLI_EXIT_OK;
}

static const char *prekey_status(const struct keys_prekey *p, uint64_t now_ms)
{
	if (p->erased_ms != 0) {
		return "erased";
	}
	if (now_ms < p->valid_from_ms) {
		return "not yet valid";
	}
	if (now_ms >= p->valid_until_ms) {
		return "expired (private half kept for late mail)";
	}
	return "valid";
}

void cli_print_keys(struct out *o, const struct keys *k, uint64_t now_ms)
{
	uint8_t pk[KEYS_SIGN_PK_LEN], id[KEYS_ID_LEN];
	char fp[KEYS_FP_STR_LEN];

	keys_identity_pk(k, pk);
	keys_fingerprint(fp, keys_state(k), pk);
	out_str(o, "state", "State", keys_state(k));
	out_str(o, "fingerprint", "Fingerprint", fp);
	keys_identity_id(k, id);
	out_hex(o, "identity_key_id", "Identity key id", id, sizeof(id));
	out_hex(o, "identity_key", "Identity key", pk, sizeof(pk));
	keys_static_id(k, id);
	out_hex(o, "static_key_id", "Static key id", id, sizeof(id));
	out_time(o, "created", "Created", keys_created_ms(k));

	const struct keys_prekey *cur = keys_prekey_current(k, now_ms);
	out_list_begin(o, "prekeys", "Prekeys");
	for (size_t i = 0; i < keys_prekey_count(k); i++) {
		const struct keys_prekey *p = keys_prekey_at(k, i);
		out_item_begin(o);
		out_hex(o, "id", "id", p->id, sizeof(p->id));
		out_time(o, "valid_from", "valid from", p->valid_from_ms);
		out_time(o, "valid_until", "valid until", p->valid_until_ms);
		out_str(o, "status", "status", prekey_status(p, now_ms));
		out_bool(o, "current", "current", p == cur);
		out_bool(o, "erased", "erased", p->erased_ms != 0);
		if (p->erased_ms != 0) {
			out_time(o, "erased_at", "erased at", p->erased_ms);
		}
		out_item_end(o);
	}
	out_list_end(o);
}
