/*
 * attach.h: encrypted attachments (docs/PROTOCOL.md section 6).
 *
 * An attachment is encrypted once with crypto_secretstream_xchacha20poly1305
 * under a fresh random key, in fixed ATTACH_CHUNK_LEN plaintext chunks, and
 * referenced by any number of envelopes; its key and the hash of its stream
 * travel inside each recipient's sealed payload. The stream is:
 *
 *   header (24) || chunk_1 || ... || chunk_n
 *
 * where every chunk but the last holds exactly ATTACH_CHUNK_LEN plaintext
 * bytes (ATTACH_CHUNK_CT_LEN on the wire) with TAG_MESSAGE, and the last holds
 * 0..ATTACH_CHUNK_LEN bytes with TAG_FINAL. Every chunk's associated data is
 * the 16-byte attachment id. Memory use is constant (two chunk buffers per
 * sealer or opener, one more read buffer in the fd helpers) whatever the
 * size. Truncation, reordering, splicing, a missing final tag and data after
 * it are each detected with their own code.
 *
 * The sealer and opener are incremental so that the network layer can feed
 * transfer messages of any size; the fd helpers drive them over files. Their
 * keys and stream states live in sodium_malloc memory and are wiped when the
 * object is freed. A struct attach_meta holds a raw key: whoever fills one
 * wipes it with sodium_memzero once done. Each sealer and opener belongs to
 * one thread at a time; the functions hold no global state.
 */
#ifndef DIVEX_CORE_ATTACH_H
#define DIVEX_CORE_ATTACH_H

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define ATTACH_ID_LEN 16
#define ATTACH_KEY_LEN crypto_secretstream_xchacha20poly1305_KEYBYTES      /* 32 */
#define ATTACH_HEADER_LEN crypto_secretstream_xchacha20poly1305_HEADERBYTES /* 24 */
#define ATTACH_ABYTES crypto_secretstream_xchacha20poly1305_ABYTES          /* 17 */
#define ATTACH_HASH_LEN 32
#define ATTACH_CHUNK_LEN (64 * 1024)
#define ATTACH_CHUNK_CT_LEN (ATTACH_CHUNK_LEN + ATTACH_ABYTES)
/* Domain label of the stream hash, including its terminating 0x00 byte. */
#define ATTACH_HASH_LABEL "divex/v1/attachment"
#define ATTACH_HASH_LABEL_LEN (sizeof(ATTACH_HASH_LABEL)) /* 20, with the NUL */

/* What a recipient needs to fetch, check and decrypt an attachment. */
struct attach_meta {
	uint8_t id[ATTACH_ID_LEN];
	uint8_t key[ATTACH_KEY_LEN];
	uint8_t hash[ATTACH_HASH_LEN]; /* BLAKE2b-256("divex/v1/attachment\0" || stream) */
	uint64_t size;                 /* plaintext bytes */
	uint64_t stream_size;          /* ciphertext bytes, header included */
};

/* Stream size for a plaintext size; 0 on overflow. */
uint64_t attach_stream_size(uint64_t size);

/* Progress callback: bytes done so far of total (total may be 0 if unknown).
 * Called at most once per chunk. */
typedef void (*attach_progress_fn)(void *ctx, uint64_t done, uint64_t total);

/*
 * Sink for bytes a sealer or opener produces: ciphertext from a sealer,
 * authenticated plaintext from an opener. A non-zero return aborts the
 * operation with that code, which is returned from then on.
 */
typedef int (*attach_sink_fn)(void *ctx, const uint8_t *data, size_t len);

/*
 * Encrypts everything readable from in_fd to out_fd. Fills meta (a fresh
 * random id unless fixed_id is given, a fresh random key) only on success.
 * Works on pipes: the size need not be known in advance. Constant memory.
 */
int attach_encrypt_fd(int in_fd, int out_fd, const uint8_t *fixed_id, struct attach_meta *meta,
		      attach_progress_fn progress, void *pctx) DX_MUST_CHECK;
/*
 * Checks and decrypts a stream from in_fd to out_fd. Plaintext is written as
 * chunks authenticate; on any error the caller must discard what was written
 * (the CLI writes to a temporary file and renames only on success).
 */
int attach_decrypt_fd(int in_fd, int out_fd, const struct attach_meta *meta,
		      attach_progress_fn progress, void *pctx) DX_MUST_CHECK;

/*
 * Incremental encryption, for plaintext that arrives in pieces of any size.
 * The sink receives the header, then each chunk as soon as it is known not to
 * be the last; finish() seals the final chunk and fills meta. Any error is
 * sticky: later calls return it again.
 */
struct attach_sealer;
int attach_sealer_new(const uint8_t *fixed_id, struct attach_sealer **out) DX_MUST_CHECK;
int attach_sealer_feed(struct attach_sealer *s, const uint8_t *pt, size_t len,
		       attach_sink_fn sink, void *sctx) DX_MUST_CHECK;
int attach_sealer_finish(struct attach_sealer *s, attach_sink_fn sink, void *sctx,
			 struct attach_meta *meta) DX_MUST_CHECK;
void attach_sealer_free(struct attach_sealer *s);

/*
 * Incremental decryption, for a stream that arrives in pieces of any size.
 * The sink is called once per authenticated chunk (with len 0 for an empty
 * final chunk), never with unauthenticated bytes. meta must be consistent
 * (stream_size == attach_stream_size(size)), else DX_EINVAL. Errors are
 * reported in stream order and are sticky: a chunk that fails authentication
 * or carries a wrong tag gives DX_EATT_CORRUPT, and a byte past the final
 * chunk or past meta->stream_size gives DX_EATT_TRAILING, at once.
 */
struct attach_opener;
int attach_opener_new(const struct attach_meta *meta, struct attach_opener **out) DX_MUST_CHECK;
int attach_opener_feed(struct attach_opener *o, const uint8_t *data, size_t len,
		       attach_sink_fn sink, void *sctx) DX_MUST_CHECK;
/* Call at end of input: DX_EATT_TRUNCATED without a final chunk, DX_EATT_HASH
 * on a hash or size mismatch. */
int attach_opener_finish(struct attach_opener *o, attach_sink_fn sink, void *sctx) DX_MUST_CHECK;
void attach_opener_free(struct attach_opener *o);

#endif
