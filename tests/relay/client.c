/*
 * client.c: see client.h.
 */
#include "client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "canon.h"

int tclient_open(struct tclient *c, const char *url, const struct keys *k, const char *tls_ca)
{
	nng_dialer d;
	int rc;
	memset(c, 0, sizeof(*c));
	c->k = k;
	if ((rc = nng_req0_open(&c->sock)) != 0) {
		return rc;
	}
	/* A send blocks while no connection is up: bound it too, so that a test
	 * whose relay died fails instead of hanging. */
	nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, 20000);
	nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, 20000);
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, 5000);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, RELAY_RESPONSE_MAX);
	if ((rc = nng_dialer_create(&d, c->sock, url)) != 0) {
		return rc;
	}
	if (tls_ca != NULL) {
		nng_tls_config *cfg;
		if ((rc = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0 ||
		    (rc = nng_tls_config_ca_file(cfg, tls_ca)) != 0 ||
		    (rc = nng_tls_config_server_name(cfg, "127.0.0.1")) != 0 ||
		    (rc = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
		    (rc = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, cfg)) != 0) {
			return rc;
		}
		nng_tls_config_free(cfg);
	}
	return nng_dialer_start(d, NNG_FLAG_NONBLOCK);
}

void tclient_close(struct tclient *c)
{
	nng_close(c->sock);
}

int tclient_sign(struct tclient *c, Dx__RequestBody *body, uint8_t **out, size_t *len)
{
	return relay_request_sign(c->k, body, out, len);
}

int tclient_call_raw(struct tclient *c, const uint8_t *req, size_t len, Dx__RelayResponse **out)
{
	void *reply = NULL;
	size_t rlen;
	int rc = nng_send(c->sock, (void *)req, len, 0);
	if (rc != 0) {
		return rc == NNG_ETIMEDOUT ? DX_ETIMEDOUT : DX_EIO;
	}
	if ((rc = nng_recv(c->sock, &reply, &rlen, NNG_FLAG_ALLOC)) != 0) {
		return DX_ETIMEDOUT;
	}
	ProtobufCMessage *m = NULL;
	rc = proto_unpack_strict(&dx__relay_response__descriptor, reply, rlen, RELAY_RESPONSE_MAX, &m);
	nng_free(reply, rlen);
	if (rc == DX_OK) {
		*out = (Dx__RelayResponse *)m;
	}
	return rc;
}

int tclient_call(struct tclient *c, Dx__RequestBody *body, Dx__RelayResponse **out)
{
	uint8_t *req = NULL;
	size_t len;
	int rc = tclient_sign(c, body, &req, &len);
	if (rc != DX_OK) {
		return rc;
	}
	rc = tclient_call_raw(c, req, len, out);
	free(req);
	return rc;
}
