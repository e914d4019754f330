/*
 * peer_uid_client: sends one request to an ipc:// URL and waits for the
 * answer; exits 0 on success. test_peer_uid runs it as another user (nng
 * cannot be used in a forked child, so the child execs this).
 */
#include <stdlib.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

int main(int argc, char **argv)
{
	nng_socket s;
	void *r;
	size_t n;
	if (argc != 2 || nng_req0_open(&s) != 0 || nng_dial(s, argv[1], NULL, 0) != 0) {
		return 2;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	if (nng_send(s, "who", 3, 0) != 0 || nng_recv(s, &r, &n, NNG_FLAG_ALLOC) != 0) {
		return 1;
	}
	nng_free(r, n);
	nng_close(s);
	return 0;
}
