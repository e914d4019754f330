/*
 * bridge_watch.h: keeps a server's tls+tcp listener accepting (bridge.c's
 * side of it; see bridge_watch.c for the defect it works around).
 */
#ifndef DIVEX_CORE_BRIDGE_WATCH_H
#define DIVEX_CORE_BRIDGE_WATCH_H

#include <stddef.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

struct bridge_watch;

/*
 * Starts watching listener l of sock, which listens on url, bound to port
 * (url may say 0), with the server TLS configuration tls (the watch
 * takes its own reference). Every pipe sock adds from now on is counted, so
 * this must be called before anyone else sets a pipe notifier on sock. The
 * watch owns l from here on: it may close it and listen again on the same
 * address and port.
 * Returns 0 or an nng error. *out is set whenever the socket holds a
 * reference to the watch (even on error): pass it to
 * bridge_watch_socket_closed() once the socket is closed.
 */
int bridge_watch_start(nng_socket sock, nng_listener l, const char *url, int port,
		       nng_tls_config *tls, size_t recv_max, struct bridge_watch **out);
/* Loop thread, before the socket closes: the watch stops (its thread ends on its own). */
void bridge_watch_stop(struct bridge_watch *w);
/* For tests: the watch closes its listener at its next round, and does not know. */
void bridge_watch_test_break(struct bridge_watch *w);
/* After nng_close() of the socket returned: no pipe notification can come any more. */
void bridge_watch_socket_closed(struct bridge_watch *w);

#endif
