/*
 * cmd_relay.c: `divex relay`: what an operator asks of the Secretariat's
 * relay from the command line. `status` reads the relay's health summary from
 * its admin HTTP address (the same figures as /status and /metrics), so it
 * works from any account that can reach that address, without the relay's
 * files.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"

#define DEFAULT_ADMIN "127.0.0.1:9464"
#define REPLY_MAX (4 * 1024 * 1024)

/* clang-format off */
static const char status_usage[] =
	"usage: divex relay status [--admin HOST:PORT] [--json]\n"
	"\n"
	"Prints the relay's health summary: per State last seen and backlog,\n"
	"recent error rates, throughput, audit log size. The relay serves it on its\n"
	"admin address (default " DEFAULT_ADMIN ", set by admin_listen in relay.conf).\n"
	"\n"
	"options:\n"
	"      --admin HOST:PORT     the relay's admin address\n"
	CLI_HELP_COMMON;
/* clang-format on */

/* Connects to host:port (numeric or "localhost"), with a 10 s timeout. */
static int dial(const char *addr, int *fd_out)
{
	char host[256];
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || colon == addr || (size_t)(colon - addr) >= sizeof(host)) {
		return DX_EINVAL;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = '\0';
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0) {
		return DX_EINVAL;
	}
	int rc = DX_EUNREACHABLE;
	for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
		int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			continue;
		}
		struct timeval tv = { 10, 0 };
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
			*fd_out = fd;
			rc = DX_OK;
			break;
		}
		close(fd);
	}
	freeaddrinfo(res);
	return rc;
}

/* GET path; returns the body of a 200 answer in a new buffer. */
static int http_get(const char *addr, const char *path, char **body)
{
	int fd, rc = dial(addr, &fd);
	if (rc != DX_OK) {
		return rc;
	}
	char req[512];
	int n = snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, addr);
	if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
		close(fd);
		return DX_EIO;
	}
	char *buf = malloc(REPLY_MAX + 1);
	size_t len = 0;
	ssize_t got;
	while (buf != NULL && len < REPLY_MAX && (got = read(fd, buf + len, REPLY_MAX - len)) > 0) {
		len += (size_t)got;
	}
	close(fd);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	buf[len] = '\0';
	char *start = strstr(buf, "\r\n\r\n");
	if (strncmp(buf, "HTTP/1.", 7) != 0 || start == NULL || strncmp(buf + 8, " 200", 4) != 0) {
		free(buf);
		return DX_EPARSE;
	}
	memmove(buf, start + 4, len - (size_t)(start + 4 - buf) + 1);
	*body = buf;
	return DX_OK;
}

enum { OPT_ADMIN = CLI_OPT_FIRST_VERB };

static int relay_status(struct cli *c, const struct cli_verb *v, int argc, char **argv)
{
	static const struct option longopts[] = {
		CLI_LONGOPTS_COMMON,
		{ "admin", required_argument, NULL, OPT_ADMIN },
		{ NULL, 0, NULL, 0 },
	};
	const char *admin = DEFAULT_ADMIN;
	int opt, status = CLI_CONTINUE;

	cli_opt_begin();
	while (status == CLI_CONTINUE &&
	       (opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		if (opt == OPT_ADMIN) {
			admin = optarg;
		} else {
			status = cli_opt_common(c, v, opt, argv);
		}
	}
	if (status != CLI_CONTINUE) {
		return status;
	}
	if (argc != optind) {
		return cli_usage(c, "relay status takes no arguments");
	}
	char *body = NULL;
	int rc = http_get(admin, c->json ? "/status.json" : "/status.txt", &body);
	if (rc != DX_OK) {
		return cli_error(c, rc, "cannot read the relay's status from %s (is divex-relay running,"
					" and is this its admin_listen address?)",
				 admin);
	}
	fputs(body, stdout);
	if (body[0] != '\0' && body[strlen(body) - 1] != '\n') {
		putchar('\n');
	}
	free(body);
	return CLI_EXIT_OK;
}

static const struct cli_verb verbs[] = {
	{ "status", relay_status, "the relay's health summary", status_usage },
};

int cmd_relay(struct cli *c, int argc, char **argv)
{
	return cli_dispatch(c, "relay", verbs, sizeof(verbs) / sizeof(verbs[0]),
			    "The Secretariat's relay, as its operator sees it.\n", argc, argv);
}
