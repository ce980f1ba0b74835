/* core/crypto/seal.h: sealed files. A clear header (magic, version, suite, key id, context, the
 * data key sealed to a public key), then libsodium secretstream chunks. Anyone with the public key
 * can write one; only the private key opens it. A truncated, reordered, extended or altered file
 * fails to open with -EBADMSG. Layout: docs/format.md, "Sealed files". */
#pragma once

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/stream.h"
#include "core/crypto/keys.h"

#define YB_SEAL_MAGIC "YBSEAL"
#define YB_SEAL_VERSION 1
#define YB_SEAL_SUITE_X25519_XCHACHA20 1
#define YB_SEAL_CHUNK_SIZE 65536
#define YB_SEAL_CONTEXT_MAX 255

typedef struct YbSealWriter YbSealWriter;

/* Starts a sealed stream to pub; context (≤ 255 bytes, ASCII) is stored in clear and
 * authenticated, so a reader can check that a file is the one it expected. Writes the header. */
int yb_seal_writer_new(const YbPublicKey *pub, const char *context, YbWriteFn write_fn,
                       void *userdata, YbSealWriter **ret);
/* Buffers and seals plaintext in chunks. */
int yb_seal_write(YbSealWriter *w, const void *data, size_t n);
/* Writes the final chunk. No writes after it. */
int yb_seal_finish(YbSealWriter *w);
/* Plaintext bytes written so far. */
uint64_t yb_seal_writer_plain_bytes(const YbSealWriter *w);
YbSealWriter *yb_seal_writer_free(YbSealWriter *w);
DEFINE_FREEP(YbSealWriter, yb_seal_writer_free);

/* The clear part of a sealed file's header, readable without any key. */
typedef struct YbSealInfo {
        uint8_t version;
        uint8_t suite;
        uint32_t chunk_size;
        uint8_t key_id[YB_KEY_ID_SIZE];
        char context[YB_SEAL_CONTEXT_MAX + 1];
        size_t header_size; /* bytes before the first chunk */
} YbSealInfo;

/* Parses the clear header from its first bytes. -EBADMSG if it is not a sealed file (or is cut
 * short), -EPROTONOSUPPORT for an unknown version or suite. */
int yb_seal_info_parse(const void *data, size_t n, YbSealInfo *ret);

typedef struct YbSealReader YbSealReader;

/* Opens a sealed stream with key. -EKEYREJECTED if it is sealed to another key (or the data key
 * does not open), -EBADMSG if damaged. With expect_context non-NULL, a different context is
 * -EBADMSG (a file moved from elsewhere). */
int yb_seal_reader_new(const YbSecretKey *key, const char *expect_context, YbReadFn read_fn,
                       void *userdata, YbSealReader **ret);
/* Reads up to n plaintext bytes; returns the count, 0 at the authenticated end, or -errno.
 * -EBADMSG for truncation, tampering, or bytes after the final chunk. */
ssize_t yb_seal_read(YbSealReader *r, void *data, size_t n);
/* The same bytes lent, not copied (a YbPeekFn): the rest of the chunk last opened, valid until
 * the next call. */
ssize_t yb_seal_peek(YbSealReader *r, const void **ret);
const YbSealInfo *yb_seal_reader_info(const YbSealReader *r);
YbSealReader *yb_seal_reader_free(YbSealReader *r);
DEFINE_FREEP(YbSealReader, yb_seal_reader_free);
