/*
 * test_attach.c: encrypted attachments (daemon/core/attach.c).
 *
 * Round trips at the chunk-size edges, through memory in odd piece sizes and
 * through files and pipes; a 100 MiB round trip that must stay in constant
 * memory; every refusal with its own code (truncation, reordering, splicing,
 * surplus bytes, tampering, wrong key, id or hash); and a committed
 * known-answer vector, which DIVEX_REGEN_VECTORS=1 writes anew into the
 * source tree.
 */
#include "testlib.h"

#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach.h"
#include "util.h"

#define CHUNK ATTACH_CHUNK_LEN
#define CT ATTACH_CHUNK_CT_LEN
#define HDR ATTACH_HEADER_LEN
#define MIB (1024 * 1024)
#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

/* A growable byte buffer; also the sink context of the memory helpers. */
struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_sink(void *ctx, const uint8_t *data, size_t len)
{
	struct buf *b = ctx;
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + len) {
			cap *= 2;
		}
		b->p = realloc(b->p, cap);
		assert_non_null(b->p);
		b->cap = cap;
	}
	if (len > 0) {
		memcpy(b->p + b->len, data, len);
	}
	b->len += len;
	return 0;
}

static void buf_free(struct buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static void assert_buf_equal(const struct buf *b, const uint8_t *p, size_t len)
{
	assert_int_equal(b->len, len);
	if (len > 0) {
		assert_memory_equal(b->p, p, len);
	}
}

/* xorshift64*: cheap, reproducible filler for large plaintexts. */
static void prng_fill(uint64_t *st, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if ((i & 7) == 0) {
			*st ^= *st >> 12;
			*st ^= *st << 25;
			*st ^= *st >> 27;
		}
		out[i] = (uint8_t)((*st * 0x2545F4914F6CDD1DULL) >> (8 * (i & 7)));
	}
}

static uint8_t *random_bytes(size_t len)
{
	uint8_t *p = malloc(len ? len : 1);
	assert_non_null(p);
	randombytes_buf(p, len);
	return p;
}

static void stream_hash(const uint8_t *stream, size_t len, uint8_t out[ATTACH_HASH_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, ATTACH_HASH_LEN);
	crypto_generichash_update(&st, (const uint8_t *)"divex/v1/attachment\0", 20);
	crypto_generichash_update(&st, stream, len);
	crypto_generichash_final(&st, out, ATTACH_HASH_LEN);
}

/* Seals pt through the incremental sealer, fed in pieces of at most piece. */
static void seal_mem(const uint8_t *pt, size_t len, size_t piece, struct attach_meta *meta,
		     struct buf *out)
{
	struct attach_sealer *s = NULL;
	assert_dx_ok(attach_sealer_new(NULL, &s));
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		assert_dx_ok(attach_sealer_feed(s, pt + off, n, buf_sink, out));
	}
	assert_dx_ok(attach_sealer_finish(s, buf_sink, out, meta));
	attach_sealer_free(s);
}

/* Opens a stream fed in pieces of at most piece; returns the first error. */
static int open_mem(const struct attach_meta *meta, const uint8_t *stream, size_t len,
		    size_t piece, struct buf *out)
{
	struct attach_opener *o = NULL;
	int rc = attach_opener_new(meta, &o);
	if (rc != 0) {
		return rc;
	}
	for (size_t off = 0; off < len && rc == 0; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		rc = attach_opener_feed(o, stream + off, n, buf_sink, out);
	}
	if (rc == 0) {
		rc = attach_opener_finish(o, buf_sink, out);
	}
	attach_opener_free(o);
	return rc;
}

/*
 * Builds a stream by hand under a given key and id, one chunk per entry of
 * lens/tags, so that tests can make streams the sealer never would.
 */
static void build_stream(const uint8_t *key, const uint8_t *id, const uint8_t *pt,
			 const size_t *lens, const unsigned char *tags, size_t n, struct buf *out)
{
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t header[HDR];
	static uint8_t ct[CT];
	unsigned long long clen;

	crypto_secretstream_xchacha20poly1305_init_push(&st, header, key);
	buf_sink(out, header, sizeof(header));
	for (size_t i = 0; i < n; i++) {
		crypto_secretstream_xchacha20poly1305_push(&st, ct, &clen, pt, lens[i], id,
							   ATTACH_ID_LEN, tags[i]);
		buf_sink(out, ct, (size_t)clen);
		pt += lens[i];
	}
}

/* A meta that matches a hand-built stream of plaintext size size. */
static void meta_for(struct attach_meta *m, const uint8_t *key, const uint8_t *id, uint64_t size,
		     const struct buf *stream)
{
	memcpy(m->key, key, ATTACH_KEY_LEN);
	memcpy(m->id, id, ATTACH_ID_LEN);
	m->size = size;
	m->stream_size = attach_stream_size(size);
	stream_hash(stream->p, stream->len, m->hash);
}

static void test_stream_size(void **state)
{
	(void)state;
	assert_int_equal(attach_stream_size(0), HDR + 17);
	assert_int_equal(attach_stream_size(1), HDR + 18);
	assert_int_equal(attach_stream_size(CHUNK - 1), HDR + CT - 1);
	assert_int_equal(attach_stream_size(CHUNK), HDR + CT);
	assert_int_equal(attach_stream_size(CHUNK + 1), HDR + CT + 18);
	assert_int_equal(attach_stream_size(3 * CHUNK), HDR + 3 * CT);
	assert_int_equal(attach_stream_size(UINT64_MAX), 0);
	assert_int_equal(attach_stream_size(UINT64_MAX - UINT64_MAX / 10000), 0);
	/* The largest size that fits: n_full chunks plus a full final one. */
	uint64_t n_full = (UINT64_MAX - HDR - CT) / CT;
	assert_int_not_equal(attach_stream_size((n_full + 1) * CHUNK), 0);
	assert_int_equal(attach_stream_size((n_full + 1) * CHUNK + 1), 0);
}

/* Checks the layout by hand: full MESSAGE chunks, then one FINAL chunk. */
static void check_layout(const struct attach_meta *m, const uint8_t *pt, const struct buf *s)
{
	crypto_secretstream_xchacha20poly1305_state st;
	static uint8_t out[CHUNK];
	unsigned long long mlen;
	unsigned char tag;
	uint8_t h[ATTACH_HASH_LEN];
	size_t off = HDR;

	assert_int_equal(s->len, m->stream_size);
	assert_int_equal(m->stream_size, attach_stream_size(m->size));
	stream_hash(s->p, s->len, h);
	assert_memory_equal(h, m->hash, sizeof(h));
	assert_int_equal(crypto_secretstream_xchacha20poly1305_init_pull(&st, s->p, m->key), 0);
	for (;;) {
		size_t clen = s->len - off < CT ? s->len - off : CT;
		assert_int_equal(crypto_secretstream_xchacha20poly1305_pull(
					 &st, out, &mlen, &tag, s->p + off, clen, m->id, ATTACH_ID_LEN),
				 0);
		assert_memory_equal(out, pt + (off - HDR) / CT * CHUNK, mlen);
		off += clen;
		if (off == s->len) {
			assert_int_equal(tag, TAG_FINAL);
			break;
		}
		assert_int_equal(tag, TAG_MESSAGE);
		assert_int_equal(mlen, CHUNK);
	}
}

static const size_t sizes[] = {0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * MIB + 12345};

static void test_roundtrip_mem(void **state)
{
	static const size_t pieces[] = {1, 1000, MIB, SIZE_MAX};
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *pt = random_bytes(sizes[i]);
		struct attach_meta m;
		struct buf s = {0};
		seal_mem(pt, sizes[i], i % 2 ? 777 : SIZE_MAX, &m, &s);
		assert_int_equal(m.size, sizes[i]);
		check_layout(&m, pt, &s);
		for (size_t j = 0; j < sizeof(pieces) / sizeof(pieces[0]); j++) {
			struct buf out = {0};
			assert_dx_ok(open_mem(&m, s.p, s.len, pieces[j], &out));
			assert_buf_equal(&out, pt, sizes[i]);
			buf_free(&out);
		}
		buf_free(&s);
		free(pt);
	}
}

struct progress {
	uint64_t calls, last, total;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
	struct progress *p = ctx;
	assert_true(done >= p->last);
	p->calls++;
	p->last = done;
	p->total = total;
}

static int open_file(const char *name, int flags)
{
	int fd = open(test_path(test_tmpdir(), name), flags | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	return fd;
}

/* Encrypts or decrypts between two files in the temporary directory. */
static int crypt_file(const char *from, const char *to, int encrypt, const uint8_t *fixed,
		      struct attach_meta *m, struct progress *pr)
{
	int in = open_file(from, O_RDONLY);
	int out = open_file(to, O_WRONLY | O_CREAT | O_TRUNC);
	int rc = encrypt ? attach_encrypt_fd(in, out, fixed, m, on_progress, pr)
			 : attach_decrypt_fd(in, out, m, on_progress, pr);
	close(in);
	close(out);
	return rc;
}

static struct buf read_back(const char *name)
{
	struct buf b = {0};
	assert_dx_ok(dx_read_file(test_path(test_tmpdir(), name), 64 * MIB, &b.p, &b.len));
	b.cap = b.len;
	return b;
}

static uint64_t n_chunks(uint64_t size)
{
	return size == 0 ? 1 : (size + CHUNK - 1) / CHUNK;
}

/* Encrypts from a pipe fed by a child in odd-sized writes: size unknown. */
static void encrypt_from_pipe(const uint8_t *pt, size_t len, int out_fd, struct attach_meta *m)
{
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		for (size_t off = 0; off < len;) {
			size_t n = len - off < 4099 ? len - off : 4099;
			ssize_t w = write(p[1], pt + off, n);
			if (w <= 0) {
				_exit(1);
			}
			off += (size_t)w;
		}
		_exit(0);
	}
	close(p[1]);
	struct progress pr = {0};
	assert_dx_ok(attach_encrypt_fd(p[0], out_fd, NULL, m, on_progress, &pr));
	close(p[0]);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(pr.total, 0);
	assert_int_equal(pr.last, len);
}

static void test_roundtrip_fd(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		uint8_t *pt = random_bytes(sizes[i]);
		struct attach_meta m, m2;
		struct progress pe = {0}, pd = {0};
		uint8_t fixed[ATTACH_ID_LEN];
		randombytes_buf(fixed, sizeof(fixed));
		test_write_file(test_path(test_tmpdir(), "pt"), pt, sizes[i]);

		assert_dx_ok(crypt_file("pt", "ct", 1, fixed, &m, &pe));
		assert_memory_equal(m.id, fixed, sizeof(fixed));
		assert_int_equal(m.size, sizes[i]);
		assert_true(pe.calls >= 1 && pe.calls <= n_chunks(sizes[i]));
		assert_int_equal(pe.last, sizes[i]);
		assert_int_equal(pe.total, sizes[i]);
		struct buf s = read_back("ct");
		check_layout(&m, pt, &s);
		buf_free(&s);

		assert_dx_ok(crypt_file("ct", "out", 0, NULL, &m, &pd));
		assert_int_equal(pd.calls, n_chunks(sizes[i]));
		assert_int_equal(pd.last, sizes[i]);
		s = read_back("out");
		assert_buf_equal(&s, pt, sizes[i]);
		buf_free(&s);

		/* The same plaintext through a pipe, then opened from memory. */
		int ct = open_file("ct2", O_WRONLY | O_CREAT | O_TRUNC);
		encrypt_from_pipe(pt, sizes[i], ct, &m2);
		close(ct);
		assert_memory_not_equal(m2.key, m.key, ATTACH_KEY_LEN);
		assert_memory_not_equal(m2.id, m.id, ATTACH_ID_LEN);
		struct buf s2 = read_back("ct2"), out2 = {0};
		assert_dx_ok(open_mem(&m2, s2.p, s2.len, 4093, &out2));
		assert_buf_equal(&out2, pt, sizes[i]);
		buf_free(&out2);
		buf_free(&s2);
		free(pt);
	}
}

/* BLAKE2b of a whole file, read in small pieces. */
static void hash_file(int fd, uint8_t out[32])
{
	static uint8_t b[CHUNK];
	crypto_generichash_state st;
	ssize_t r;
	crypto_generichash_init(&st, NULL, 0, 32);
	while ((r = read(fd, b, sizeof(b))) > 0) {
		crypto_generichash_update(&st, b, (size_t)r);
	}
	assert_int_equal(r, 0);
	crypto_generichash_final(&st, out, 32);
}

static void test_roundtrip_100mib(void **state)
{
	static uint8_t b[CHUNK];
	const uint64_t size = 100ULL * MIB + 4321;
	uint8_t h_in[32], h_out[32];
	crypto_generichash_state st;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct attach_meta m;
	struct progress pe = {0}, pd = {0};
	(void)state;

	int fd = open_file("big", O_WRONLY | O_CREAT | O_TRUNC);
	crypto_generichash_init(&st, NULL, 0, 32);
	for (uint64_t off = 0; off < size; off += sizeof(b)) {
		size_t n = size - off < sizeof(b) ? (size_t)(size - off) : sizeof(b);
		prng_fill(&seed, b, n);
		crypto_generichash_update(&st, b, n);
		assert_int_equal(write(fd, b, n), (ssize_t)n);
	}
	crypto_generichash_final(&st, h_in, 32);
	close(fd);

	/* Reset the peak so that earlier tests' buffers do not hide growth. */
	int cr = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);
	if (cr >= 0) {
		assert_int_equal(write(cr, "5", 1), 1);
		close(cr);
	}
	long before = test_peak_rss_kib();
	assert_true(before > 0);

	assert_dx_ok(crypt_file("big", "big.ct", 1, NULL, &m, &pe));
	assert_int_equal(m.size, size);
	unlink(test_path(test_tmpdir(), "big"));
	assert_dx_ok(crypt_file("big.ct", "big.out", 0, NULL, &m, &pd));
	unlink(test_path(test_tmpdir(), "big.ct"));
	long after = test_peak_rss_kib();

	int in = open_file("big.out", O_RDONLY);
	hash_file(in, h_out);
	close(in);
	unlink(test_path(test_tmpdir(), "big.out"));
	assert_memory_equal(h_in, h_out, 32);
	assert_int_equal(pd.calls, n_chunks(size));
	print_message("peak RSS %ld KiB -> %ld KiB\n", before, after);
	assert_true(after - before < 16 * 1024);
}

/* A 4-chunk stream (three full, one of 100 bytes) for the refusal tests. */
struct fixture {
	uint8_t *pt;
	size_t len;
	struct attach_meta m;
	struct buf s;
};

static int fixture_setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	f->len = 3 * CHUNK + 100;
	f->pt = random_bytes(f->len);
	seal_mem(f->pt, f->len, SIZE_MAX, &f->m, &f->s);
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	buf_free(&f->s);
	free(f->pt);
	free(f);
	return 0;
}

/* Opens a modified stream with the fixture's meta in two piece sizes. */
static void expect(const struct attach_meta *m, const uint8_t *s, size_t len, int want)
{
	static const size_t pieces[] = {SIZE_MAX, 1000, 1};
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		struct buf out = {0};
		assert_dx_err(open_mem(m, s, len, pieces[i], &out), want);
		buf_free(&out);
	}
}

static void test_truncated(void **state)
{
	struct fixture *f = *state;
	/* At every chunk boundary, just after it and in the middle of a chunk. */
	for (size_t k = 0; k <= 4; k++) {
		size_t cuts[] = {HDR + k * CT, HDR + k * CT + 1, HDR + k * CT + CT / 2};
		for (size_t i = 0; i < 3; i++) {
			if (cuts[i] < f->s.len) {
				expect(&f->m, f->s.p, cuts[i], DX_EATT_TRUNCATED);
			}
		}
	}
	expect(&f->m, f->s.p, 0, DX_EATT_TRUNCATED);
	expect(&f->m, f->s.p, 10, DX_EATT_TRUNCATED);
	expect(&f->m, f->s.p, f->s.len - 1, DX_EATT_TRUNCATED);
	expect(&f->m, f->s.p, f->s.len - ATTACH_ABYTES, DX_EATT_TRUNCATED);
}

/* Streams the sealer never makes, each with a meta that matches it. */
static void test_missing_final(void **state)
{
	static const struct {
		size_t lens[2];
		unsigned char tags[2];
		uint64_t size; /* the plaintext size whose stream is as long */
		int want;
	} cases[] = {
		/* No final chunk at all. */
		{{CHUNK, CHUNK}, {TAG_MESSAGE, TAG_MESSAGE}, 2 * CHUNK, DX_EATT_TRUNCATED},
		/* A short last chunk tagged MESSAGE is a short non-final chunk. */
		{{CHUNK, 100}, {TAG_MESSAGE, TAG_MESSAGE}, CHUNK + 100, DX_EATT_CORRUPT},
		/* A short chunk before the final one. */
		{{100, 50}, {TAG_MESSAGE, TAG_FINAL}, 100 + 50 + ATTACH_ABYTES, DX_EATT_CORRUPT},
		/* PUSH and REKEY are not part of the format, final or not. */
		{{CHUNK, 100}, {crypto_secretstream_xchacha20poly1305_TAG_PUSH, TAG_FINAL},
		 CHUNK + 100, DX_EATT_CORRUPT},
		{{CHUNK, 100}, {crypto_secretstream_xchacha20poly1305_TAG_REKEY, TAG_FINAL},
		 CHUNK + 100, DX_EATT_CORRUPT},
		{{CHUNK, 100}, {TAG_MESSAGE, crypto_secretstream_xchacha20poly1305_TAG_PUSH},
		 CHUNK + 100, DX_EATT_CORRUPT},
	};
	struct fixture *f = *state;
	uint8_t key[ATTACH_KEY_LEN], id[ATTACH_ID_LEN];
	randombytes_buf(key, sizeof(key));
	randombytes_buf(id, sizeof(id));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct attach_meta m;
		struct buf s = {0};
		build_stream(key, id, f->pt, cases[i].lens, cases[i].tags, 2, &s);
		assert_int_equal(s.len, attach_stream_size(cases[i].size));
		meta_for(&m, key, id, cases[i].size, &s);
		expect(&m, s.p, s.len, cases[i].want);
		buf_free(&s);
	}
}

static void test_reorder_and_splice(void **state)
{
	struct fixture *f = *state;
	uint8_t *t = malloc(f->s.len + CT);
	assert_non_null(t);

	/* Chunks 1 and 2 swapped. */
	memcpy(t, f->s.p, f->s.len);
	memcpy(t + HDR, f->s.p + HDR + CT, CT);
	memcpy(t + HDR + CT, f->s.p + HDR, CT);
	expect(&f->m, t, f->s.len, DX_EATT_CORRUPT);

	/* The first chunk repeated. */
	memcpy(t, f->s.p, f->s.len);
	memcpy(t + HDR + CT, f->s.p + HDR, CT);
	expect(&f->m, t, f->s.len, DX_EATT_CORRUPT);

	/* Another stream under the same key and id, different content. */
	uint8_t *pt2 = random_bytes(f->len);
	static const size_t lens[] = {CHUNK, CHUNK, CHUNK, 100};
	static const unsigned char tags[] = {TAG_MESSAGE, TAG_MESSAGE, TAG_MESSAGE, TAG_FINAL};
	struct buf other = {0};
	build_stream(f->m.key, f->m.id, pt2, lens, tags, 4, &other);
	assert_int_equal(other.len, f->s.len);

	/* Its second chunk replacing ours, then inserted before ours. */
	memcpy(t, f->s.p, f->s.len);
	memcpy(t + HDR + CT, other.p + HDR + CT, CT);
	expect(&f->m, t, f->s.len, DX_EATT_CORRUPT);
	memcpy(t, f->s.p, HDR + CT);
	memcpy(t + HDR + CT, other.p + HDR + CT, CT);
	memcpy(t + HDR + 2 * CT, f->s.p + HDR + CT, f->s.len - HDR - CT);
	expect(&f->m, t, f->s.len + CT, DX_EATT_CORRUPT);
	/* Its header with our chunks. */
	memcpy(t, f->s.p, f->s.len);
	memcpy(t, other.p, HDR);
	expect(&f->m, t, f->s.len, DX_EATT_CORRUPT);
	/* The whole other stream: it authenticates but its hash is not ours. */
	expect(&f->m, other.p, other.len, DX_EATT_HASH);

	buf_free(&other);
	free(pt2);
	free(t);
}

static void test_trailing(void **state)
{
	struct fixture *f = *state;
	/* The valid stream twice over, cut at several points past its end. */
	uint8_t *t = malloc(2 * f->s.len);
	assert_non_null(t);
	memcpy(t, f->s.p, f->s.len);
	memcpy(t + f->s.len, f->s.p, f->s.len);
	expect(&f->m, t, f->s.len + 1, DX_EATT_TRAILING);
	expect(&f->m, t, f->s.len + 2 * CT, DX_EATT_TRAILING);
	expect(&f->m, t, 2 * f->s.len, DX_EATT_TRAILING);
	free(t);

	/* A full final chunk, then more: refused at the first surplus byte. */
	struct attach_meta m;
	struct buf s = {0};
	seal_mem(f->pt, 2 * CHUNK, SIZE_MAX, &m, &s);
	buf_sink(&s, (const uint8_t *)"x", 1);
	expect(&m, s.p, s.len, DX_EATT_TRAILING);
	buf_free(&s);

	/* A final chunk earlier than the meta announces, then more bytes. */
	static const size_t lens[] = {CHUNK, CHUNK};
	static const unsigned char tags[] = {TAG_FINAL, TAG_MESSAGE};
	build_stream(f->m.key, f->m.id, f->pt, lens, tags, 2, &s);
	meta_for(&m, f->m.key, f->m.id, 2 * CHUNK, &s);
	expect(&m, s.p, s.len, DX_EATT_TRAILING);
	/* The same stream cut after its final chunk: complete, but too short. */
	expect(&m, s.p, HDR + CT, DX_EATT_HASH);
	buf_free(&s);
}

static void test_tampered(void **state)
{
	struct fixture *f = *state;
	uint8_t *t = malloc(f->s.len);
	assert_non_null(t);
	size_t spots[] = {0, HDR - 1, HDR, HDR + CT / 2, HDR + CT - 1, HDR + 2 * CT + 7,
			  HDR + 3 * CT, f->s.len - 1};
	for (size_t i = 0; i < sizeof(spots) / sizeof(spots[0]); i++) {
		memcpy(t, f->s.p, f->s.len);
		t[spots[i]] ^= 0x01;
		expect(&f->m, t, f->s.len, DX_EATT_CORRUPT);
	}
	free(t);
}

static void test_wrong_meta(void **state)
{
	struct fixture *f = *state;
	struct attach_meta m = f->m;
	struct attach_opener *o = NULL;

	m.key[5] ^= 0x80;
	expect(&m, f->s.p, f->s.len, DX_EATT_CORRUPT);
	m = f->m;
	m.id[15] ^= 0x01;
	expect(&m, f->s.p, f->s.len, DX_EATT_CORRUPT);
	m = f->m;
	m.hash[31] ^= 0x01;
	expect(&m, f->s.p, f->s.len, DX_EATT_HASH);
	/* A meta whose sizes disagree with each other cannot be satisfied. */
	m = f->m;
	m.size++;
	assert_dx_err(attach_opener_new(&m, &o), DX_EINVAL);
	m = f->m;
	m.stream_size = 0;
	m.size = UINT64_MAX;
	assert_dx_err(attach_opener_new(&m, &o), DX_EINVAL);
	/* A larger consistent size: the real stream is short of it. */
	m = f->m;
	m.size += CHUNK;
	m.stream_size = attach_stream_size(m.size);
	expect(&m, f->s.p, f->s.len, DX_EATT_TRUNCATED);
	/* A smaller one: the stream runs past it. */
	m = f->m;
	m.size -= CHUNK;
	m.stream_size = attach_stream_size(m.size);
	expect(&m, f->s.p, f->s.len, DX_EATT_TRAILING);
}

static int failing_sink(void *ctx, const uint8_t *data, size_t len)
{
	(void)data;
	(void)len;
	return --*(int *)ctx > 0 ? 0 : DX_EIO;
}

/* Only authenticated plaintext reaches the sink, and errors are sticky. */
static void test_sink_and_sticky(void **state)
{
	struct fixture *f = *state;
	struct attach_opener *o = NULL;
	struct buf out = {0};
	uint8_t *t = malloc(f->s.len);
	assert_non_null(t);
	memcpy(t, f->s.p, f->s.len);
	t[HDR + CT + 5] ^= 0x20;

	assert_dx_ok(attach_opener_new(&f->m, &o));
	assert_dx_err(attach_opener_feed(o, t, HDR + 2 * CT, buf_sink, &out),
		      DX_EATT_CORRUPT);
	assert_int_equal(out.len, CHUNK);
	assert_memory_equal(out.p, f->pt, CHUNK);
	assert_dx_err(attach_opener_feed(o, t, 1, buf_sink, &out), DX_EATT_CORRUPT);
	assert_dx_err(attach_opener_finish(o, buf_sink, &out), DX_EATT_CORRUPT);
	attach_opener_free(o);
	buf_free(&out);

	/* A sink's error aborts at once and stays. */
	int budget = 2;
	assert_dx_ok(attach_opener_new(&f->m, &o));
	assert_dx_err(attach_opener_feed(o, f->s.p, f->s.len, failing_sink, &budget), DX_EIO);
	assert_dx_err(attach_opener_finish(o, failing_sink, &budget), DX_EIO);
	attach_opener_free(o);

	/* After a successful finish, nothing more is accepted. */
	assert_dx_ok(attach_opener_new(&f->m, &o));
	assert_dx_ok(attach_opener_feed(o, f->s.p, f->s.len, buf_sink, &out));
	assert_dx_ok(attach_opener_finish(o, buf_sink, &out));
	assert_dx_err(attach_opener_finish(o, buf_sink, &out), DX_EINVAL);
	assert_dx_err(attach_opener_feed(o, f->s.p, 1, buf_sink, &out), DX_EATT_TRAILING);
	attach_opener_free(o);
	buf_free(&out);

	/* The sealer too. */
	struct attach_sealer *s = NULL;
	struct attach_meta m;
	budget = 1;
	assert_dx_ok(attach_sealer_new(NULL, &s));
	assert_dx_err(attach_sealer_feed(s, f->pt, 10, failing_sink, &budget), DX_EIO);
	assert_dx_err(attach_sealer_finish(s, buf_sink, &out, &m), DX_EIO);
	attach_sealer_free(s);
	free(t);
}

/* ---- Known-answer vector ---------------------------------------------- */

#define VEC_SIZE 70000

static const char *vector_path(void)
{
	return test_path(test_source_dir(), "tests/vectors/attachment.json");
}

static void put_hex(json_t *o, const char *name, const uint8_t *p, size_t len)
{
	char *h = malloc(2 * len + 1);
	assert_non_null(h);
	dx_hex(h, p, len);
	assert_int_equal(json_object_set_new(o, name, json_string(h)), 0);
	free(h);
}

static void regen_vector(void)
{
	uint8_t key[ATTACH_KEY_LEN], id[ATTACH_ID_LEN];
	uint8_t *pt = malloc(VEC_SIZE);
	struct attach_meta m;
	struct buf s = {0};
	static const size_t lens[] = {CHUNK, VEC_SIZE - CHUNK};
	static const unsigned char tags[] = {TAG_MESSAGE, TAG_FINAL};
	uint64_t seed = 42;

	assert_non_null(pt);
	for (size_t i = 0; i < sizeof(key); i++) {
		key[i] = (uint8_t)i;
		id[i % sizeof(id)] = (uint8_t)(0xa0 + i % sizeof(id));
	}
	prng_fill(&seed, pt, VEC_SIZE);
	build_stream(key, id, pt, lens, tags, 2, &s);
	meta_for(&m, key, id, VEC_SIZE, &s);
	assert_int_equal(s.len, m.stream_size);

	json_t *o = json_object();
	json_object_set_new(o, "description",
			    json_string("divex attachment stream: two chunks (65536 + 4464 bytes), "
					"hash = BLAKE2b-256(\"divex/v1/attachment\\0\" || stream)"));
	put_hex(o, "key", key, sizeof(key));
	put_hex(o, "id", id, sizeof(id));
	json_object_set_new(o, "size", json_integer(VEC_SIZE));
	json_object_set_new(o, "stream_size", json_integer((json_int_t)m.stream_size));
	put_hex(o, "hash", m.hash, sizeof(m.hash));
	put_hex(o, "plaintext", pt, VEC_SIZE);
	put_hex(o, "stream", s.p, s.len);
	assert_int_equal(json_dump_file(o, vector_path(), JSON_INDENT(2) | JSON_SORT_KEYS), 0);
	json_decref(o);
	buf_free(&s);
	free(pt);
}

/* A hex field as a buffer; want_len, if not 0, is the length it must have. */
static struct buf get_hex(json_t *o, const char *name, size_t want_len)
{
	const char *h = json_string_value(json_object_get(o, name));
	assert_non_null(h);
	struct buf b = {malloc(strlen(h) / 2 + 1), strlen(h) / 2, strlen(h) / 2};
	assert_non_null(b.p);
	assert_dx_ok(dx_unhex(b.p, b.len, h));
	assert_true(want_len == 0 || b.len == want_len);
	return b;
}

static void get_fixed(json_t *o, const char *name, uint8_t *out, size_t len)
{
	struct buf b = get_hex(o, name, len);
	memcpy(out, b.p, len);
	buf_free(&b);
}

static void test_vector(void **state)
{
	json_error_t err;
	struct attach_meta m;
	(void)state;

	if (getenv("DIVEX_REGEN_VECTORS") != NULL && strcmp(getenv("DIVEX_REGEN_VECTORS"), "1") == 0) {
		regen_vector();
	}
	json_t *o = json_load_file(vector_path(), 0, &err);
	if (o == NULL) {
		fail_msg("%s: %s", vector_path(), err.text);
	}
	get_fixed(o, "key", m.key, ATTACH_KEY_LEN);
	get_fixed(o, "id", m.id, ATTACH_ID_LEN);
	get_fixed(o, "hash", m.hash, ATTACH_HASH_LEN);
	m.size = (uint64_t)json_integer_value(json_object_get(o, "size"));
	m.stream_size = (uint64_t)json_integer_value(json_object_get(o, "stream_size"));
	assert_int_equal(m.size, VEC_SIZE);
	assert_int_equal(m.stream_size, attach_stream_size(VEC_SIZE));
	struct buf sb = get_hex(o, "stream", m.stream_size), pt = get_hex(o, "plaintext", m.size);
	uint8_t *s = sb.p;

	uint8_t h[ATTACH_HASH_LEN];
	stream_hash(sb.p, sb.len, h);
	assert_memory_equal(h, m.hash, sizeof(h));
	check_layout(&m, pt.p, &sb);
	struct buf out = {0};
	assert_dx_ok(open_mem(&m, sb.p, sb.len, 333, &out));
	assert_buf_equal(&out, pt.p, pt.len);
	buf_free(&out);
	s[HDR + CT] ^= 0x04;
	expect(&m, s, sb.len, DX_EATT_CORRUPT);
	s[HDR + CT] ^= 0x04;
	expect(&m, s, sb.len - 1, DX_EATT_TRUNCATED);
	buf_free(&sb);
	buf_free(&pt);
	json_decref(o);
}

#define FIXTURE_TEST(t) cmocka_unit_test_setup_teardown(t, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_size),
		cmocka_unit_test(test_vector),
		cmocka_unit_test(test_roundtrip_mem),
		cmocka_unit_test(test_roundtrip_fd),
		cmocka_unit_test(test_roundtrip_100mib),
		FIXTURE_TEST(test_truncated),
		FIXTURE_TEST(test_missing_final),
		FIXTURE_TEST(test_reorder_and_splice),
		FIXTURE_TEST(test_trailing),
		FIXTURE_TEST(test_tampered),
		FIXTURE_TEST(test_wrong_meta),
		FIXTURE_TEST(test_sink_and_sticky),
	};
	if (sodium_init() < 0) {
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
