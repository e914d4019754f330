/*
 * fuzz_attach.c: libFuzzer harness for the attachment opener and sealer.
 *
 * Input: flags (1 byte), two piece-size bytes, then a body. The body is fed
 * in pieces whose sizes alternate between the two piece-size bytes, so that
 * every split of the stream is reachable.
 *
 *   flags & 0x02 clear: the body is a stream, opened under a fixed key and id
 *     (the seeds in corpus/attach are valid streams under them). The meta's
 *     sizes are derived from the body's length; with flags & 0x01 its hash is
 *     the body's real hash, so that a valid stream can open; otherwise a hash
 *     that cannot match. The opener must return one of its own codes, hand
 *     out no more than the announced plaintext, and succeed only when the
 *     hash was right.
 *   flags & 0x02 set: the body is plaintext, sealed in pieces and opened
 *     again; the round trip must give it back.
 *
 * Run with DIVEX_REGEN_CORPUS=DIR, the harness writes its seed corpus (valid
 * streams under its fixed key, a few broken ones, two plaintexts) into DIR
 * and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The key and id under which the seeds are valid streams. */
static void fixed_key_id(uint8_t key[ATTACH_KEY_LEN], uint8_t id[ATTACH_ID_LEN])
{
	for (size_t i = 0; i < ATTACH_KEY_LEN; i++) {
		key[i] = (uint8_t)i;
	}
	for (size_t i = 0; i < ATTACH_ID_LEN; i++) {
		id[i] = (uint8_t)(0xa0 + i);
	}
}

struct sink {
	uint8_t *p;
	size_t len, cap;
	uint64_t limit;
};

static int sink_fn(void *ctx, const uint8_t *data, size_t len)
{
	struct sink *s = ctx;
	if (len > s->limit - s->len) {
		abort(); /* more plaintext than the meta announced */
	}
	if (s->p != NULL) {
		if (s->len + len > s->cap) {
			abort();
		}
		memcpy(s->p + s->len, data, len);
	}
	s->len += len;
	return 0;
}

/* A plaintext size whose stream is as close to len bytes as the format allows. */
static uint64_t size_for_stream(size_t len)
{
	if (len < ATTACH_HEADER_LEN + ATTACH_ABYTES) {
		return 0;
	}
	uint64_t rem = len - ATTACH_HEADER_LEN;
	uint64_t n_full = (rem - 1) / ATTACH_CHUNK_CT_LEN;
	uint64_t last = rem - n_full * ATTACH_CHUNK_CT_LEN;
	if (last < ATTACH_ABYTES) {
		return n_full * ATTACH_CHUNK_LEN;
	}
	return n_full * ATTACH_CHUNK_LEN + last - ATTACH_ABYTES;
}

static size_t next_piece(size_t i, size_t p1, size_t p2)
{
	return i % 2 ? p2 : p1;
}

static int open_pieces(const struct attach_meta *m, const uint8_t *s, size_t len, size_t p1,
		       size_t p2, struct sink *out)
{
	struct attach_opener *o = NULL;
	int rc = attach_opener_new(m, &o);
	if (rc != 0) {
		return rc;
	}
	size_t off = 0;
	for (size_t i = 0; off < len && rc == 0; i++) {
		size_t n = next_piece(i, p1, p2);
		if (n > len - off) {
			n = len - off;
		}
		rc = attach_opener_feed(o, s + off, n, sink_fn, out);
		off += n;
	}
	if (rc == 0) {
		rc = attach_opener_finish(o, sink_fn, out);
	}
	attach_opener_free(o);
	return rc;
}

static void fuzz_open(uint8_t flags, const uint8_t *body, size_t len, size_t p1, size_t p2)
{
	struct attach_meta m;
	struct sink out = {NULL, 0, 0, 0};

	fixed_key_id(m.key, m.id);
	m.size = size_for_stream(len);
	m.stream_size = attach_stream_size(m.size);
	if (flags & 0x01) {
		crypto_generichash_state st;
		crypto_generichash_init(&st, NULL, 0, ATTACH_HASH_LEN);
		crypto_generichash_update(&st, (const uint8_t *)ATTACH_HASH_LABEL,
					  ATTACH_HASH_LABEL_LEN);
		crypto_generichash_update(&st, body, len);
		crypto_generichash_final(&st, m.hash, ATTACH_HASH_LEN);
	} else {
		memset(m.hash, 0x5a, sizeof(m.hash));
	}
	out.limit = m.size;
	int rc = open_pieces(&m, body, len, p1, p2, &out);
	switch (rc) {
	case DX_OK:
		if (!(flags & 0x01) || out.len != m.size || len != m.stream_size) {
			abort();
		}
		break;
	case DX_EATT_TRUNCATED:
	case DX_EATT_CORRUPT:
	case DX_EATT_TRAILING:
	case DX_EATT_HASH:
		break;
	default:
		abort();
	}
}

struct ctbuf {
	uint8_t *p;
	size_t len, cap;
};

static int ct_sink(void *ctx, const uint8_t *data, size_t len)
{
	struct ctbuf *b = ctx;
	if (len > b->cap - b->len) {
		abort();
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

static void fuzz_roundtrip(const uint8_t *body, size_t len, size_t p1, size_t p2)
{
	uint8_t id[ATTACH_ID_LEN], key[ATTACH_KEY_LEN];
	struct attach_sealer *s = NULL;
	struct attach_meta m;
	struct ctbuf ct;

	fixed_key_id(key, id);
	ct.cap = attach_stream_size(len);
	ct.len = 0;
	ct.p = malloc(ct.cap);
	if (ct.p == NULL || attach_sealer_new(id, &s) != 0) {
		abort();
	}
	size_t off = 0;
	for (size_t i = 0; off < len; i++) {
		size_t n = next_piece(i, p1, p2);
		if (n > len - off) {
			n = len - off;
		}
		if (attach_sealer_feed(s, body + off, n, ct_sink, &ct) != 0) {
			abort();
		}
		off += n;
	}
	if (attach_sealer_finish(s, ct_sink, &ct, &m) != 0 || ct.len != ct.cap || m.size != len ||
	    memcmp(m.id, id, sizeof(id)) != 0) {
		abort();
	}
	attach_sealer_free(s);

	struct sink out = {malloc(len + 1), 0, len + 1, m.size};
	if (out.p == NULL || open_pieces(&m, ct.p, ct.len, p2, p1, &out) != 0 || out.len != len ||
	    (len > 0 && memcmp(out.p, body, len) != 0)) {
		abort();
	}
	sodium_memzero(&m, sizeof(m));
	free(out.p);
	free(ct.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3) {
		return 0;
	}
	uint8_t flags = data[0];
	size_t p1 = (size_t)data[1] + 1;
	size_t p2 = (size_t)data[2] * 257 + 1;
	if (flags & 0x02) {
		fuzz_roundtrip(data + 3, size - 3, p1, p2);
	} else {
		fuzz_open(flags, data + 3, size - 3, p1, p2);
	}
	return 0;
}

/* Writes one seed: flags, two piece-size bytes, then the body. */
static void write_seed(const char *dir, const char *name, uint8_t flags, uint8_t p1,
		       const uint8_t *body, size_t len)
{
	char path[4096];
	uint8_t head[3] = {flags, p1, (uint8_t)(len % 3)};
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	if (f == NULL || fwrite(head, 1, sizeof(head), f) != sizeof(head) ||
	    fwrite(body, 1, len, f) != len || fclose(f) != 0) {
		abort();
	}
}

static void regen_corpus(const char *dir)
{
	static const size_t lens[] = {0, 1, 100, 1000};
	uint8_t key[ATTACH_KEY_LEN], id[ATTACH_ID_LEN], pt[1000];
	static uint8_t s[1000 + ATTACH_HEADER_LEN + ATTACH_ABYTES];
	unsigned long long clen;

	fixed_key_id(key, id);
	for (size_t i = 0; i < sizeof(pt); i++) {
		pt[i] = (uint8_t)(i * 7 + 3);
	}
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		crypto_secretstream_xchacha20poly1305_state st;
		char name[64];
		crypto_secretstream_xchacha20poly1305_init_push(&st, s, key);
		crypto_secretstream_xchacha20poly1305_push(
			&st, s + ATTACH_HEADER_LEN, &clen, pt, lens[i], id, ATTACH_ID_LEN,
			crypto_secretstream_xchacha20poly1305_TAG_FINAL);
		size_t len = ATTACH_HEADER_LEN + (size_t)clen;
		snprintf(name, sizeof(name), "valid-%zu", lens[i]);
		write_seed(dir, name, 0x01, (uint8_t)(i * 13), s, len);
		if (lens[i] == 100) {
			write_seed(dir, "truncated-100", 0x01, 0, s, len - 5);
			s[len - 1] ^= 1;
			write_seed(dir, "tampered-100", 0x01, 0, s, len);
		}
	}
	write_seed(dir, "seal-1000", 0x02, 16, pt, sizeof(pt));
	write_seed(dir, "seal-empty", 0x02, 0, pt, 0);
	write_seed(dir, "empty", 0x01, 0, pt, 0);
	write_seed(dir, "header-only", 0x01, 0, pt, ATTACH_HEADER_LEN);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("DIVEX_REGEN_CORPUS");

	(void)argc;
	(void)argv;
	if (sodium_init() < 0) {
		abort();
	}
	if (dir != NULL) {
		regen_corpus(dir);
		exit(0);
	}
	return 0;
}
