/*
 * attach.c: encrypted attachments. See attach.h and docs/PROTOCOL.md
 * section 6 for the stream layout.
 *
 * Both directions are small state machines over two fixed buffers, so memory
 * stays constant whatever the size of the attachment. The sealer holds back a
 * full plaintext chunk until it sees at least one more byte, because only then
 * does it know that the chunk is not the final one; this is what lets it
 * encrypt from a pipe of unknown length. The opener frames the stream by
 * ATTACH_CHUNK_CT_LEN, hands plaintext out only after a chunk authenticates,
 * and uses the sizes in the meta to refuse surplus input at once.
 *
 * The key, the secretstream state and the stream hash state live together in
 * one sodium_malloc block (struct stream_state), which sodium_free wipes. The
 * hash state is not secret; it sits there because sodium_malloc keeps the
 * 64-byte alignment that libsodium declares for it.
 */
#include "attach.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL
/* Read size of the fd helpers: one plaintext chunk. */
#define IO_LEN ATTACH_CHUNK_LEN

struct stream_state {
	crypto_generichash_state hash;
	crypto_secretstream_xchacha20poly1305_state st;
	uint8_t key[ATTACH_KEY_LEN];
};

/* sodium_malloc returns an address aligned for the type only when the size is
 * a multiple of that alignment. */
_Static_assert(sizeof(struct stream_state) % _Alignof(struct stream_state) == 0,
	       "struct stream_state alignment");

struct attach_sealer {
	struct stream_state *ss;
	uint8_t id[ATTACH_ID_LEN];
	uint64_t size;        /* plaintext bytes accepted so far */
	uint64_t stream_size; /* ciphertext bytes emitted so far */
	uint64_t chunks;      /* chunks emitted so far */
	int err;
	int started; /* header emitted */
	int done;    /* final chunk emitted */
	size_t pt_len;
	uint8_t pt[ATTACH_CHUNK_LEN];
	uint8_t ct[ATTACH_CHUNK_CT_LEN];
};

struct attach_opener {
	struct stream_state *ss;
	uint8_t id[ATTACH_ID_LEN];
	uint8_t hash[ATTACH_HASH_LEN];
	uint64_t size;        /* expected plaintext bytes */
	uint64_t stream_size; /* expected stream bytes */
	uint64_t fed;         /* stream bytes accepted so far */
	uint64_t pt_done;     /* plaintext bytes authenticated so far */
	uint64_t chunks;      /* chunks authenticated so far */
	int err;
	int started;  /* header consumed and stream state initialised */
	int done;     /* final chunk authenticated */
	int finished; /* finish() succeeded */
	size_t have;  /* bytes buffered in ct */
	uint8_t ct[ATTACH_CHUNK_CT_LEN];
	uint8_t pt[ATTACH_CHUNK_LEN];
};

uint64_t attach_stream_size(uint64_t size)
{
	uint64_t n_full = size / ATTACH_CHUNK_LEN;
	uint64_t last = size % ATTACH_CHUNK_LEN;

	/* A size that is an exact non-zero multiple ends with a full final chunk. */
	if (size != 0 && last == 0) {
		n_full--;
		last = ATTACH_CHUNK_LEN;
	}
	if (n_full > (UINT64_MAX - ATTACH_HEADER_LEN - ATTACH_CHUNK_CT_LEN) / ATTACH_CHUNK_CT_LEN) {
		return 0;
	}
	return ATTACH_HEADER_LEN + n_full * ATTACH_CHUNK_CT_LEN + last + ATTACH_ABYTES;
}

/* Keeps the first error so that every later call reports it again. */
static int sticky(int *err, int rc)
{
	if (*err == 0) {
		*err = rc;
	}
	return *err;
}

/* A sink's non-zero return becomes a DX_E* code. */
static int sink_code(int rc)
{
	if (rc == 0) {
		return DX_OK;
	}
	return rc < 0 ? rc : DX_EIO;
}

static int stream_state_new(struct stream_state **out)
{
	struct stream_state *ss;

	if (sodium_init() < 0) {
		return DX_ECRYPTO;
	}
	ss = sodium_malloc(sizeof(*ss));
	if (ss == NULL) {
		return DX_ENOMEM;
	}
	sodium_memzero(ss, sizeof(*ss));
	if (crypto_generichash_init(&ss->hash, NULL, 0, ATTACH_HASH_LEN) != 0) {
		sodium_free(ss);
		return DX_ECRYPTO;
	}
	crypto_generichash_update(&ss->hash, (const uint8_t *)ATTACH_HASH_LABEL,
				  ATTACH_HASH_LABEL_LEN);
	*out = ss;
	return DX_OK;
}

/* ---- Sealing ---------------------------------------------------------- */

int attach_sealer_new(const uint8_t *fixed_id, struct attach_sealer **out)
{
	struct attach_sealer *s;
	int rc;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		return DX_ENOMEM;
	}
	rc = stream_state_new(&s->ss);
	if (rc != 0) {
		free(s);
		return rc;
	}
	crypto_secretstream_xchacha20poly1305_keygen(s->ss->key);
	if (fixed_id != NULL) {
		memcpy(s->id, fixed_id, ATTACH_ID_LEN);
	} else {
		randombytes_buf(s->id, ATTACH_ID_LEN);
	}
	*out = s;
	return DX_OK;
}

void attach_sealer_free(struct attach_sealer *s)
{
	if (s == NULL) {
		return;
	}
	sodium_free(s->ss);
	sodium_memzero(s, sizeof(*s));
	free(s);
}

/* Emits the header before the first chunk. */
static int sealer_start(struct attach_sealer *s, attach_sink_fn sink, void *sctx)
{
	uint8_t header[ATTACH_HEADER_LEN];

	if (s->started) {
		return DX_OK;
	}
	if (crypto_secretstream_xchacha20poly1305_init_push(&s->ss->st, header, s->ss->key) != 0) {
		return DX_ECRYPTO;
	}
	crypto_generichash_update(&s->ss->hash, header, sizeof(header));
	s->started = 1;
	s->stream_size = ATTACH_HEADER_LEN;
	return sink_code(sink(sctx, header, sizeof(header)));
}

/* Encrypts the buffered plaintext as one chunk with the given tag. */
static int sealer_push(struct attach_sealer *s, unsigned char tag, attach_sink_fn sink, void *sctx)
{
	unsigned long long clen = 0;

	if (crypto_secretstream_xchacha20poly1305_push(&s->ss->st, s->ct, &clen, s->pt, s->pt_len,
						       s->id, ATTACH_ID_LEN, tag) != 0) {
		return DX_ECRYPTO;
	}
	crypto_generichash_update(&s->ss->hash, s->ct, clen);
	s->stream_size += clen;
	s->chunks++;
	s->pt_len = 0;
	return sink_code(sink(sctx, s->ct, (size_t)clen));
}

int attach_sealer_feed(struct attach_sealer *s, const uint8_t *pt, size_t len,
		       attach_sink_fn sink, void *sctx)
{
	int rc;

	if (s->err != 0) {
		return s->err;
	}
	if (s->done) {
		return DX_EINVAL;
	}
	if (len > UINT64_MAX - s->size || attach_stream_size(s->size + len) == 0) {
		return sticky(&s->err, DX_ETOOBIG);
	}
	rc = sealer_start(s, sink, sctx);
	if (rc != 0) {
		return sticky(&s->err, rc);
	}
	while (len > 0) {
		/* More plaintext follows, so a full buffer is not the final chunk. */
		if (s->pt_len == ATTACH_CHUNK_LEN) {
			rc = sealer_push(s, TAG_MESSAGE, sink, sctx);
			if (rc != 0) {
				return sticky(&s->err, rc);
			}
		}
		size_t n = ATTACH_CHUNK_LEN - s->pt_len;
		if (n > len) {
			n = len;
		}
		memcpy(s->pt + s->pt_len, pt, n);
		s->pt_len += n;
		s->size += n;
		pt += n;
		len -= n;
	}
	return DX_OK;
}

int attach_sealer_finish(struct attach_sealer *s, attach_sink_fn sink, void *sctx,
			 struct attach_meta *meta)
{
	int rc;

	if (s->err != 0) {
		return s->err;
	}
	if (s->done) {
		return DX_EINVAL;
	}
	rc = sealer_start(s, sink, sctx);
	if (rc == 0) {
		rc = sealer_push(s, TAG_FINAL, sink, sctx);
	}
	if (rc != 0) {
		return sticky(&s->err, rc);
	}
	s->done = 1;
	memcpy(meta->id, s->id, ATTACH_ID_LEN);
	memcpy(meta->key, s->ss->key, ATTACH_KEY_LEN);
	crypto_generichash_final(&s->ss->hash, meta->hash, ATTACH_HASH_LEN);
	meta->size = s->size;
	meta->stream_size = s->stream_size;
	return DX_OK;
}

/* ---- Opening ---------------------------------------------------------- */

int attach_opener_new(const struct attach_meta *meta, struct attach_opener **out)
{
	struct attach_opener *o;
	int rc;

	if (meta->stream_size == 0 || meta->stream_size != attach_stream_size(meta->size)) {
		return DX_EINVAL;
	}
	o = calloc(1, sizeof(*o));
	if (o == NULL) {
		return DX_ENOMEM;
	}
	rc = stream_state_new(&o->ss);
	if (rc != 0) {
		free(o);
		return rc;
	}
	memcpy(o->ss->key, meta->key, ATTACH_KEY_LEN);
	memcpy(o->id, meta->id, ATTACH_ID_LEN);
	memcpy(o->hash, meta->hash, ATTACH_HASH_LEN);
	o->size = meta->size;
	o->stream_size = meta->stream_size;
	*out = o;
	return DX_OK;
}

void attach_opener_free(struct attach_opener *o)
{
	if (o == NULL) {
		return;
	}
	sodium_free(o->ss);
	sodium_memzero(o, sizeof(*o));
	free(o);
}

/* The header is complete: start the stream state; the key is needed no more. */
static int opener_header(struct attach_opener *o)
{
	crypto_generichash_update(&o->ss->hash, o->ct, ATTACH_HEADER_LEN);
	if (crypto_secretstream_xchacha20poly1305_init_pull(&o->ss->st, o->ct, o->ss->key) != 0) {
		return DX_EATT_CORRUPT;
	}
	sodium_memzero(o->ss->key, ATTACH_KEY_LEN);
	o->started = 1;
	o->have = 0;
	return DX_OK;
}

/*
 * Authenticates and decrypts the buffered chunk. Only a chunk that
 * authenticates, carries TAG_MESSAGE at full length or TAG_FINAL at any
 * length, reaches the sink.
 */
static int opener_chunk(struct attach_opener *o, attach_sink_fn sink, void *sctx)
{
	unsigned long long mlen = 0;
	unsigned char tag = 0;
	size_t clen = o->have;

	crypto_generichash_update(&o->ss->hash, o->ct, clen);
	if (crypto_secretstream_xchacha20poly1305_pull(&o->ss->st, o->pt, &mlen, &tag, o->ct, clen,
						       o->id, ATTACH_ID_LEN) != 0) {
		return DX_EATT_CORRUPT;
	}
	if (tag == TAG_FINAL) {
		o->done = 1;
	} else if (tag != TAG_MESSAGE || clen != ATTACH_CHUNK_CT_LEN) {
		return DX_EATT_CORRUPT;
	}
	o->have = 0;
	o->chunks++;
	o->pt_done += mlen;
	return sink_code(sink(sctx, o->pt, (size_t)mlen));
}

int attach_opener_feed(struct attach_opener *o, const uint8_t *data, size_t len,
		       attach_sink_fn sink, void *sctx)
{
	int rc;

	if (o->err != 0) {
		return o->err;
	}
	while (len > 0) {
		/* Errors come in stream order: the bytes up to the expected end
		 * are checked first, then the first surplus byte is refused. */
		if (o->done || o->fed == o->stream_size) {
			return sticky(&o->err, DX_EATT_TRAILING);
		}
		size_t want = o->started ? ATTACH_CHUNK_CT_LEN : ATTACH_HEADER_LEN;
		size_t n = want - o->have;
		if (n > len) {
			n = len;
		}
		if (n > o->stream_size - o->fed) {
			n = (size_t)(o->stream_size - o->fed);
		}
		memcpy(o->ct + o->have, data, n);
		o->have += n;
		o->fed += n;
		data += n;
		len -= n;
		if (o->have == want) {
			rc = o->started ? opener_chunk(o, sink, sctx) : opener_header(o);
			if (rc != 0) {
				return sticky(&o->err, rc);
			}
		}
	}
	return DX_OK;
}

int attach_opener_finish(struct attach_opener *o, attach_sink_fn sink, void *sctx)
{
	uint8_t got[ATTACH_HASH_LEN];
	int rc;

	if (o->err != 0) {
		return o->err;
	}
	if (o->finished) {
		return DX_EINVAL;
	}
	if (!o->done) {
		/* A stream cut anywhere, mid-chunk included, is short of the size
		 * the sender announced; one of that size without a final chunk is
		 * truncated too. A short last chunk is only known complete here. */
		if (o->fed < o->stream_size || !o->started || o->have == 0) {
			return sticky(&o->err, DX_EATT_TRUNCATED);
		}
		rc = opener_chunk(o, sink, sctx);
		if (rc != 0) {
			return sticky(&o->err, rc);
		}
	}
	crypto_generichash_final(&o->ss->hash, got, sizeof(got));
	if (crypto_verify_32(got, o->hash) != 0 || o->fed != o->stream_size ||
	    o->pt_done != o->size) {
		return sticky(&o->err, DX_EATT_HASH);
	}
	o->finished = 1;
	return DX_OK;
}

/* ---- File descriptors ------------------------------------------------- */

/* One read(2), retried on EINTR: bytes read, 0 at end of file, or an error. */
static ssize_t read_some(int fd, uint8_t *buf, size_t len)
{
	for (;;) {
		ssize_t r = read(fd, buf, len);
		if (r >= 0 || errno != EINTR) {
			return r < 0 ? dx_from_errno(errno) : r;
		}
	}
}

/* Sink that writes everything to the fd in ctx, through short writes. */
static int write_sink(void *ctx, const uint8_t *data, size_t len)
{
	int fd = *(const int *)ctx;

	while (len > 0) {
		ssize_t w = write(fd, data, len);
		if (w < 0 && errno == EINTR) {
			continue;
		}
		if (w < 0) {
			return dx_from_errno(errno);
		}
		if (w == 0) {
			return DX_EIO;
		}
		data += w;
		len -= (size_t)w;
	}
	return DX_OK;
}

int attach_encrypt_fd(int in_fd, int out_fd, const uint8_t *fixed_id, struct attach_meta *meta,
		      attach_progress_fn progress, void *pctx)
{
	struct attach_sealer *s = NULL;
	uint8_t *buf = NULL;
	uint64_t total = 0, before;
	struct stat sb;
	int rc;

	if (fstat(in_fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
		total = (uint64_t)sb.st_size;
	}
	buf = malloc(IO_LEN);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	rc = attach_sealer_new(fixed_id, &s);
	if (rc != 0) {
		goto out;
	}
	for (;;) {
		ssize_t r = read_some(in_fd, buf, IO_LEN);
		if (r < 0) {
			rc = (int)r;
			goto out;
		}
		if (r == 0) {
			break;
		}
		before = s->chunks;
		rc = attach_sealer_feed(s, buf, (size_t)r, write_sink, &out_fd);
		if (rc != 0) {
			goto out;
		}
		/* A read of at most one chunk completes at most one chunk. */
		if (progress != NULL && s->chunks != before) {
			progress(pctx, s->size - s->pt_len, total);
		}
	}
	rc = attach_sealer_finish(s, write_sink, &out_fd, meta);
	if (rc == 0 && progress != NULL) {
		progress(pctx, s->size, total);
	}
out:
	attach_sealer_free(s);
	sodium_memzero(buf, IO_LEN);
	free(buf);
	return rc;
}

int attach_decrypt_fd(int in_fd, int out_fd, const struct attach_meta *meta,
		      attach_progress_fn progress, void *pctx)
{
	struct attach_opener *o = NULL;
	uint8_t *buf = NULL;
	uint64_t before;
	int rc;

	buf = malloc(IO_LEN);
	if (buf == NULL) {
		return DX_ENOMEM;
	}
	rc = attach_opener_new(meta, &o);
	if (rc != 0) {
		goto out;
	}
	for (;;) {
		ssize_t r = read_some(in_fd, buf, IO_LEN);
		if (r < 0) {
			rc = (int)r;
			goto out;
		}
		if (r == 0) {
			break;
		}
		before = o->chunks;
		rc = attach_opener_feed(o, buf, (size_t)r, write_sink, &out_fd);
		if (rc != 0) {
			goto out;
		}
		/* Chunks on the wire are longer than one read, so a read
		 * completes at most one of them. */
		if (progress != NULL && o->chunks != before) {
			progress(pctx, o->pt_done, o->size);
		}
	}
	before = o->chunks;
	rc = attach_opener_finish(o, write_sink, &out_fd);
	if (rc == 0 && progress != NULL && o->chunks != before) {
		progress(pctx, o->pt_done, o->size);
	}
out:
	attach_opener_free(o);
	free(buf);
	return rc;
}
