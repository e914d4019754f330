/*
 * fake_divexd.h: a stand-in for the State daemon's control socket, for
 * testing the divex command without a daemon, a relay or keys.
 *
 * A thread of the test process listens on ipc://<home>/control.sock (nng
 * REP), decodes every request strictly, records it, and answers: attachment
 * pieces are kept and served by the fake itself (put_attachment appends at
 * the offset it holds, get_attachment reads back), everything else goes to
 * the handler the test installed, which returns a packed ControlResponse.
 * The divex binary runs as a child process (fake_run) with its standard
 * output and error in files.
 *
 * The test thread installs handlers and reads the record only while no
 * child is running; a mutex guards the rest. Handlers run with that mutex
 * held: they may use fake_stream*() but not fake_request().
 */
#ifndef DIVEX_TESTS_FAKE_DIVEXD_H
#define DIVEX_TESTS_FAKE_DIVEXD_H

#include <stddef.h>
#include <stdint.h>

#include "control.pb-c.h"

#define FAKE_MAX_REQUESTS 256
#define FAKE_MAX_STREAMS 8

/* Answers one request: *out is a malloc'd serialized ControlResponse. */
typedef void (*fake_handler_fn)(void *ctx, const Dx__ControlRequest *req, uint8_t **out,
				size_t *out_len);

struct fake_stream {
	uint8_t id[16];
	uint8_t *data;
	size_t len;
};

struct fake;

/* Starts listening in home (created if missing). */
struct fake *fake_start(const char *home);
void fake_stop(struct fake *f);
/* Installs the handler and forgets the requests recorded so far. */
void fake_set(struct fake *f, fake_handler_fn fn, void *ctx);
size_t fake_count(struct fake *f);
/* The i-th request received since fake_set(), decoded; owned by the fake. */
const Dx__ControlRequest *fake_request(struct fake *f, size_t i);
/* Attachment streams held (put by a test or by divex). */
struct fake_stream *fake_stream(struct fake *f, const uint8_t id[16]);
struct fake_stream *fake_stream_add(struct fake *f, const uint8_t id[16], const uint8_t *data,
				    size_t len);
/* Drops every stream. */
void fake_streams_clear(struct fake *f);

/* Packs resp for a handler to return. */
void fake_pack(const Dx__ControlResponse *resp, uint8_t **out, size_t *out_len);
/* Packs a read result: pl (a dx.Payload) serialized into r's payload. */
void fake_pack_read(Dx__ReadResult *r, const ProtobufCMessage *pl, uint8_t **out, size_t *out_len);
/* A refusal: error code and message. */
void fake_refuse(int err, const char *message, uint8_t **out, size_t *out_len);

/*
 * Runs `divex --home HOME ARGS...` (args NULL-terminated) with its standard
 * output in out_path, its standard error in err_path and, when in_path is
 * not NULL, its standard input from in_path; returns its exit status.
 */
int fake_run(const char *home, const char *in_path, const char *out_path, const char *err_path,
	     const char *const *args);
/*
 * The fixture both test programs use, as cmocka group setup and teardown: a
 * fake listening in <tmp>/node, divex's output going to <tmp>/out and
 * <tmp>/err, DIVEX_HOME unset and the control timeout at 20 s.
 */
extern struct fake *fx;
extern char fx_home[4096], fx_out[4096], fx_err[4096];
int fake_setup(void **state);
int fake_teardown(void **state);
/* fake_run() in fx_home with the fixture's output files. */
int fake_cmd(const char *in_path, const char *const *args);
#define RUN(...) fake_cmd(NULL, (const char *const[]){ __VA_ARGS__, NULL })
#define OUT() fake_slurp(fx_out)
#define ERR() fake_slurp(fx_err)
/* Fails the test, showing hay, unless hay contains needle. */
void fake_contains(const char *hay, const char *needle);

/* The peak resident set size of the last child run, in KiB. */
long fake_last_rss_kib(void);
/* A file's content, NUL-terminated (valid until the fourth call after). */
const char *fake_slurp(const char *path);

#endif
