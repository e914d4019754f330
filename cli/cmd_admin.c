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

static int call(struct cli *c, const struct cli_verb *v, int argc, char **argv,
		Dx__ControlRequest *req, Dx__ControlResponse **resp)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ NULL, 0, NULL, 0 },
	};
	int status = cli_opt_parse_common(c, v, argc, argv, longopts);
	if (status == CLI_CONTINUE && optind < argc) {
		status = cli_usage(c, "unexpected argument '%s'", argv[optind]);
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	return cli_ctl_call(c, req, resp, "%s", v->summary);
}

static int admin_rotate(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__RotatePrekeyOp op = DX__ROTATE_PREKEY_OP__INIT;
	Dx__ControlResponse *resp = NULL;
	req.op_case = DX__CONTROL_REQUEST__OP_ROTATE_PREKEY;
	req.rotate_prekey = &op;
	int status = call(c, v, argc, argv, &req, &resp);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	struct out o;
	out_init(&o, c);
	out_json_hex(&o, "prekey_id", resp->rotate_prekey->prekey_id.data,
		     resp->rotate_prekey->prekey_id.len);
	if (!c->json) {
		char hex[2 * KEYS_ID_LEN + 1] = "";
		if (resp->rotate_prekey->prekey_id.len == KEYS_ID_LEN) {
			dx_hex(hex, resp->rotate_prekey->prekey_id.data, KEYS_ID_LEN);
		}
		out_str(&o, NULL, "New prekey", hex);
	}
	out_ms(&o, "valid_until_ms", "Valid until", resp->rotate_prekey->valid_until_ms, NULL);
	out_note(&o, "\nThe key file is rewritten and the new roster entry is being published.");
	cli_ctl_free(resp);
	return out_finish(&o, c);
}

static int admin_reload(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	Dx__ControlRequest req = DX__CONTROL_REQUEST__INIT;
	Dx__ReloadOp op = DX__RELOAD_OP__INIT;
	Dx__ControlResponse *resp = NULL;
	req.op_case = DX__CONTROL_REQUEST__OP_RELOAD;
	req.reload = &op;
	int status = call(c, v, argc, argv, &req, &resp);
	if (status != CLI_EXIT_OK) {
		return status;
	}
	struct out o;
	out_init(&o, c);
	out_text(&o, "message", "Reloaded", resp->message, strlen(resp->message));
	cli_ctl_free(resp);
	return out_finish(&o, c);
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
