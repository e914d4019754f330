/*
 * client.h: a blocking relay client for tests: signs a request as a State,
 * sends it over a plain nng REQ socket and decodes the answer strictly.
 */
#ifndef DIVEX_TESTS_RELAY_CLIENT_H
#define DIVEX_TESTS_RELAY_CLIENT_H

#include <nng/nng.h>

#include "relay_wire.h"

struct tclient {
	nng_socket sock;
	const struct keys *k;
};

/* tls_ca: PEM file of the relay's certificate for tls+tcp://, else NULL. */
int tclient_open(struct tclient *c, const char *url, const struct keys *k, const char *tls_ca);
void tclient_close(struct tclient *c);
/* Signs body as c->k and returns the decoded answer (free with
 * dx__relay_response__free_unpacked). */
int tclient_call(struct tclient *c, Dx__RequestBody *body, Dx__RelayResponse **out);
/* Sends bytes as they are (for forged or replayed requests). */
int tclient_call_raw(struct tclient *c, const uint8_t *req, size_t len, Dx__RelayResponse **out);
/* Signs a request without sending it. */
int tclient_sign(struct tclient *c, Dx__RequestBody *body, uint8_t **out, size_t *len);

#endif
