/*
 * cmd_admin.c: what the node's administrator asks of the running daemon:
 * `divex admin rotate-prekey` (a new prekey now, written to the key file and
 * published in the roster) and `divex admin reload` (reread divexd.conf, as
 * SIGHUP does). Both need the administrator role on the control socket.
 *
 * While divexd runs it owns the key file: `divex keys rotate-prekey` rewrites
 * the file behind the daemon's back and is for a stopped node only.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "control.pb-c.h"

/* clang-format off */
static const char rotate_usage[] =
	"usage: divex admin rotate-prekey [options]\n"
	"\n"
	"Has the running daemon create a new prekey now, rewrite the key file and\n"
	"publish the State's new roster entry. The daemon also does this on its\n"
	"own when the current prekey has less than half its period left.\n"
	"Needs the administrator role.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
static const char reload_usage[] =
	"usage: divex admin reload [options]\n"
	"\n"
	"Has the running daemon reread divexd.conf, as SIGHUP does: roles, timings\n"
	"and the log level apply at once; [node] state and [relay] settings only\n"
	"after a restart (the answer says so). A file with an error is refused and\n"
	"the running configuration kept. Needs the administrator role.\n"
	"\n"
	"options:\n"
	CLI_HELP_COMMON;
/* clang-format on */

static int print_rotated(struct cli *c, struct out *o, const Dx__ControlResponse *resp)
{
	const Dx__RotatePrekeyResult *r = resp->rotate_prekey;
	out_json_hex(o, "prekey_id", r->prekey_id.data, r->prekey_id.len);
	if (!c->json) {
		char hex[2 * KEYS_ID_LEN + 1] = "";
		if (r->prekey_id.len == KEYS_ID_LEN) {
			dx_hex(hex, r->prekey_id.data, KEYS_ID_LEN);
		}
		out_str(o, NULL, "New prekey", hex);
	}
	out_ms(o, "valid_until_ms", "Valid until", r->valid_until_ms, NULL);
	out_note(o, "\nThe key file is rewritten and the new roster entry is being published.");
	return CLI_EXIT_OK;
}

static int admin_rotate(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	Dx__RotatePrekeyOp op = DX__ROTATE_PREKEY_OP__INIT;
	return cli_ctl_query(c, v, argc, argv, DX__CONTROL_REQUEST__OP_ROTATE_PREKEY, &op.base,
			     "rotating the prekey", print_rotated);
}

static int print_reloaded(struct cli *c, struct out *o, const Dx__ControlResponse *resp)
{
	(void)c;
	out_text(o, "message", "Reloaded", resp->message, strlen(resp->message));
	return CLI_EXIT_OK;
}

static int admin_reload(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	Dx__ReloadOp op = DX__RELOAD_OP__INIT;
	return cli_ctl_query(c, v, argc, argv, DX__CONTROL_REQUEST__OP_RELOAD, &op.base,
			     "reloading the configuration", print_reloaded);
}

static const struct cli_verb admin_verbs[] = {
	{ "rotate-prekey", admin_rotate, "rotating the prekey", rotate_usage },
	{ "reload", admin_reload, "reloading the configuration", reload_usage },
};

int cmd_admin(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "admin", admin_verbs, sizeof(admin_verbs) / sizeof(admin_verbs[0]),
			    "What the node's administrator asks of the running daemon.\n", argc,
			    argv);
}
