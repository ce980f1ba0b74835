#include <sodium.h>

#include "core/crypto/seal.h"
#include "tests/unit/test.h"

#define CTX "yunbak/1 hr 20261121T100000Z-abcdef manifest"
#define C ((size_t) YB_SEAL_CHUNK_SIZE)
#define ABYTES ((size_t) 17)                        /* secretstream's tag and MAC per chunk */
#define HEADER_SIZE (126 + strlen(CTX))             /* docs/format.md, "Sealed files" */
#define CHUNK(i) (HEADER_SIZE + (i) * (C + ABYTES)) /* offset of chunk i */

/* Call sizes for streaming code (STYLE.md, "Tests"); 0 means "everything at once". */
static const size_t chunkings[] = { 1, 2, 3, 7, 0 };

static YbSecretKey *new_key(void) {
        YbSecretKey *k = NULL;

        ASSERT_OK(yb_key_generate("hr", &k));
        return k;
}

static int seal_write_cb(void *w, const void *data, size_t n) {
        return yb_seal_write(w, data, n);
}

static ssize_t seal_read_cb(void *r, void *data, size_t n) {
        return yb_seal_read(r, data, n);
}

/* Seals n bytes of plain to pub, handing them to the writer write_chunk bytes at a time. */
static void seal(const YbPublicKey *pub, const char *ctx, const void *plain, size_t n,
                 size_t write_chunk, YbBuf *out) {
        _cleanup_(yb_seal_writer_freep) YbSealWriter *w = NULL;

        ASSERT_OK(yb_seal_writer_new(pub, ctx, test_buf_write, out, &w));
        ASSERT_OK(test_feed(seal_write_cb, w, plain, n, write_chunk));
        ASSERT_EQ(yb_seal_writer_plain_bytes(w), n);
        ASSERT_OK(yb_seal_finish(w));
}

/* unseal's read_chunk for reading in place (yb_seal_peek), not by copy. */
#define LENT SIZE_MAX

/* Opens n sealed bytes, delivered src_chunk bytes per read callback, with yb_seal_read calls of
 * read_chunk bytes (0: large; LENT: yb_seal_peek). Returns 0 with the plaintext appended to out,
 * or the first error of yb_seal_reader_new or the reads. */
static int unseal(const YbSecretKey *key, const char *ctx, const void *data, size_t n,
                  size_t src_chunk, size_t read_chunk, YbBuf *out) {
        _cleanup_(yb_seal_reader_freep) YbSealReader *r = NULL;
        TestSource src = TEST_SOURCE(data, n, src_chunk);
        int k;

        k = yb_seal_reader_new(key, ctx, test_source_read, &src, &r);
        if (k < 0)
                return k;
        if (read_chunk != LENT)
                return test_drain(seal_read_cb, r, read_chunk ? read_chunk : 100000, out);
        for (;;) {
                const void *p;
                ssize_t got = yb_seal_peek(r, &p);

                if (got <= 0)
                        return (int) got;
                if (yb_buf_append(out, p, (size_t) got) < 0)
                        return -ENOMEM;
        }
}

/* Unseals with defaults, by copy and in place, and asserts the result is err (0: success). */
static void assert_unseal(const YbSecretKey *key, const char *ctx, const void *data, size_t n,
                          int err) {
        static const size_t reads[] = { 0, LENT };

        for (size_t i = 0; i < ELEMENTSOF(reads); i++) {
                _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
                int r = unseal(key, ctx, data, n, 0, reads[i], &out);

                if (r != err)
                        fail_msg("unseal of %zu bytes (%s) returned %d, expected %d", n,
                                 i ? "in place" : "by copy", r, err);
        }
}

/* A sealed copy of n pseudo-random bytes, for the tampering cases. */
static void seal_random(const YbSecretKey *key, size_t n, YbBuf *out) {
        _cleanup_free_ uint8_t *plain = malloc(MAX(n, (size_t) 1));

        ASSERT_TRUE(plain);
        test_fill_random(plain, n, n);
        seal(&key->pub, CTX, plain, n, 0, out);
}

TEST(round_trip_sizes_and_chunkings) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        size_t sizes[] = { 0, 1, C - 1, C, C + 1, 3 * C, 0 };
        uint32_t rnd;

        test_fill_random(&rnd, sizeof(rnd), 99);
        sizes[6] = 1 + rnd % (4 * C); /* deterministic "random" size */
        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                size_t n = sizes[s];
                _cleanup_free_ uint8_t *plain = malloc(MAX(n, (size_t) 1));

                ASSERT_TRUE(plain);
                test_fill_random(plain, n, s);
                for (size_t w = 0; w < ELEMENTSOF(chunkings); w++) {
                        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;

                        seal(&key->pub, CTX, plain, n, chunkings[w], &sealed);
                        for (size_t r = 0; r <= ELEMENTSOF(chunkings); r++) {
                                _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
                                size_t src = chunkings[(r + 2) % ELEMENTSOF(chunkings)];
                                size_t read = r < ELEMENTSOF(chunkings) ? chunkings[r] : LENT;

                                ASSERT_OK(unseal(key, CTX, sealed.data, sealed.size, src, read,
                                                 &out));
                                if (out.size != n)
                                        fail_msg("size %zu, write %zu, read %zu: got %zu bytes", n,
                                                 chunkings[w], read, out.size);
                                ASSERT_MEMEQ(out.data, plain, n);
                        }
                }
        }
}

TEST(sealed_size_is_header_plus_chunks) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        static const struct {
                size_t plain, chunks;
        } cases[] = {
                { 0, 1 }, { 1, 1 }, { C - 1, 1 }, { C, 1 }, { C + 1, 2 }, { 3 * C, 3 },
        };

        /* Every chunk but the last is full; the last (possibly empty, possibly full) is final. */
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;

                seal_random(key, cases[i].plain, &sealed);
                ASSERT_EQ(sealed.size, HEADER_SIZE + cases[i].plain + cases[i].chunks * ABYTES);
                ASSERT_MEMEQ(sealed.data, YB_SEAL_MAGIC, 6);
        }
}

TEST(same_plaintext_seals_differently) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        _cleanup_(yb_buf_done) YbBuf a = YB_BUF_INIT, b = YB_BUF_INIT;

        seal(&key->pub, CTX, "same", 4, 0, &a);
        seal(&key->pub, CTX, "same", 4, 0, &b);
        ASSERT_EQ(a.size, b.size);
        ASSERT_TRUE(memcmp(a.data, b.data, a.size) != 0); /* a fresh data key each time */
        ASSERT_TRUE(memmem(a.data, a.size, "same", 4) == NULL);
}

TEST(wrong_key_rejected) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key(), *other = new_key();
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;

        seal_random(key, 1000, &sealed);
        assert_unseal(other, CTX, sealed.data, sealed.size, -EKEYREJECTED);
        assert_unseal(other, NULL, sealed.data, sealed.size, -EKEYREJECTED);
        assert_unseal(key, CTX, sealed.data, sealed.size, 0);
}

TEST(key_id_forged_to_other_key_rejected) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key(), *other = new_key();
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;

        /* The header claims the other key, but the data key was sealed to the first one. */
        seal_random(key, 1000, &sealed);
        memcpy(sealed.data + 12, other->pub.id, YB_KEY_ID_SIZE);
        assert_unseal(other, CTX, sealed.data, sealed.size, -EKEYREJECTED);
        assert_unseal(key, CTX, sealed.data, sealed.size, -EKEYREJECTED);
}

TEST(wrong_context_rejected) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;

        seal_random(key, 1000, &sealed);
        assert_unseal(key, "yunbak/1 hr 20261121T100000Z-abcdef vol-000001", sealed.data,
                      sealed.size, -EBADMSG);
        assert_unseal(key, "", sealed.data, sealed.size, -EBADMSG);
        assert_unseal(key, CTX " ", sealed.data, sealed.size, -EBADMSG);
        assert_unseal(key, NULL, sealed.data, sealed.size, 0); /* no expectation: any context */
        assert_unseal(key, CTX, sealed.data, sealed.size, 0);
}

TEST(truncation_rejected) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        static const size_t sizes[] = { 3 * C, 2 * C + 5 }; /* a full and a short final chunk */

        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;
                size_t cuts[] = {
                        HEADER_SIZE + 1,
                        HEADER_SIZE + ABYTES - 1,
                        HEADER_SIZE + ABYTES,
                        CHUNK(0) + C / 2,
                        CHUNK(1) - 1,
                        CHUNK(1),
                        CHUNK(1) + 1,
                        CHUNK(2) - 1,
                        CHUNK(2),
                        CHUNK(2) + ABYTES,
                        0,
                };

                seal_random(key, sizes[s], &sealed);
                cuts[ELEMENTSOF(cuts) - 1] = sealed.size - 1;
                /* Every length inside the header, and the header alone. */
                for (size_t n = 0; n <= HEADER_SIZE; n++)
                        assert_unseal(key, CTX, sealed.data, n, -EBADMSG);
                /* Inside chunks, and exactly at chunk boundaries before the final chunk. */
                for (size_t i = 0; i < ELEMENTSOF(cuts); i++) {
                        ASSERT_LT(cuts[i], sealed.size);
                        assert_unseal(key, CTX, sealed.data, cuts[i], -EBADMSG);
                }
                assert_unseal(key, CTX, sealed.data, sealed.size, 0);
        }
}

TEST(flipped_byte_anywhere_rejected) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;
        size_t tested = 0;

        seal_random(key, 2 * C + 1000, &sealed);
        for (size_t pos = 0; pos < sealed.size; pos++) {
                size_t in_chunk = (pos - HEADER_SIZE) % (C + ABYTES);
                bool edge = pos < HEADER_SIZE + 64 || in_chunk < 64 ||
                            in_chunk >= C + ABYTES - 64 || pos >= sealed.size - 64;

                /* Every header byte, both ends of every chunk, and a stride through the rest. */
                if (!edge && pos % 1021 != 0)
                        continue;
                for (unsigned mask = 0x01; mask <= 0x80; mask <<= 7) {
                        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
                        int r;

                        sealed.data[pos] ^= (uint8_t) mask;
                        r = unseal(key, NULL, sealed.data, sealed.size, 0, 0, &out);
                        sealed.data[pos] ^= (uint8_t) mask;
                        if (r >= 0)
                                fail_msg("byte %zu ^ 0x%02x of %zu went unnoticed", pos, mask,
                                         sealed.size);
                        tested++;
                }
        }
        ASSERT_GT(tested, 2 * HEADER_SIZE);
        assert_unseal(key, CTX, sealed.data, sealed.size, 0); /* restored: opens again */
}

TEST(appended_garbage_rejected) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        static const size_t sizes[] = { 10, C, 2 * C + 5 };

        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;
                size_t extra[] = { 1, ABYTES, C + ABYTES, 0 };
                size_t last = CHUNK((sizes[s] - 1) / C); /* offset of the final chunk */

                seal_random(key, sizes[s], &sealed);
                extra[3] = sealed.size - last; /* a second copy of the final chunk */
                for (size_t i = 0; i < ELEMENTSOF(extra); i++) {
                        _cleanup_(yb_buf_done) YbBuf longer = YB_BUF_INIT;
                        _cleanup_free_ uint8_t *tail = calloc(1, extra[i]);

                        ASSERT_TRUE(tail);
                        if (i == 3)
                                memcpy(tail, sealed.data + last, extra[i]);
                        ASSERT_OK(yb_buf_append(&longer, sealed.data, sealed.size));
                        ASSERT_OK(yb_buf_append(&longer, tail, extra[i]));
                        assert_unseal(key, CTX, longer.data, longer.size, -EBADMSG);
                }
        }
}

/* Copies sealed with its chunks in the order given (chunk indexes, all but the last full). */
static void rearrange(const YbBuf *sealed, const size_t *order, size_t n, YbBuf *out) {
        size_t nchunks = (sealed->size - HEADER_SIZE + C + ABYTES - 1) / (C + ABYTES);

        ASSERT_OK(yb_buf_append(out, sealed->data, HEADER_SIZE));
        for (size_t i = 0; i < n; i++) {
                size_t from = CHUNK(order[i]);
                size_t len = order[i] + 1 == nchunks ? sealed->size - from : C + ABYTES;

                ASSERT_LT(order[i], nchunks);
                ASSERT_OK(yb_buf_append(out, sealed->data + from, len));
        }
}

TEST(reordered_dropped_or_replayed_chunks_rejected) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;
        static const struct {
                size_t order[5], n;
        } cases[] = {
                { { 0, 2, 1, 3 }, 4 }, /* two full chunks swapped */
                { { 1, 0, 2, 3 }, 4 }, /* the first chunk (which authenticates the header) moved */
                { { 0, 1, 3 }, 3 },    /* a middle chunk dropped */
                { { 0, 1, 1, 2, 3 }, 5 }, /* a chunk replayed */
                { { 0, 1, 2 }, 3 },       /* the final chunk dropped */
                { { 0, 1, 2, 3 }, 4 },    /* control: the original order */
        };

        seal_random(key, 3 * C + 100, &sealed);
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(yb_buf_done) YbBuf changed = YB_BUF_INIT;

                rearrange(&sealed, cases[i].order, cases[i].n, &changed);
                assert_unseal(key, CTX, changed.data, changed.size,
                              i + 1 == ELEMENTSOF(cases) ? 0 : -EBADMSG);
        }
}

TEST(info_parse_reads_clear_header_without_key) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT, empty_ctx = YB_BUF_INIT;
        YbSealInfo info;

        seal_random(key, 1000, &sealed);
        ASSERT_OK(yb_seal_info_parse(sealed.data, HEADER_SIZE, &info));
        ASSERT_EQ(info.version, YB_SEAL_VERSION);
        ASSERT_EQ(info.suite, YB_SEAL_SUITE_X25519_XCHACHA20);
        ASSERT_EQ(info.chunk_size, C);
        ASSERT_MEMEQ(info.key_id, key->pub.id, YB_KEY_ID_SIZE);
        ASSERT_STREQ(info.context, CTX);
        ASSERT_EQ(info.header_size, HEADER_SIZE);

        memset(&info, 0, sizeof(info));
        ASSERT_OK(yb_seal_info_parse(sealed.data, sealed.size, &info)); /* more bytes: fine */
        ASSERT_EQ(info.header_size, HEADER_SIZE);
        ASSERT_STREQ(info.context, CTX);

        for (size_t n = 0; n < HEADER_SIZE; n++)
                ASSERT_ERR(yb_seal_info_parse(sealed.data, n, &info), EBADMSG);
        uint8_t text[200];
        memset(text, 'x', sizeof(text));
        ASSERT_ERR(yb_seal_info_parse(text, sizeof(text), &info), EBADMSG);

        seal(&key->pub, "", "x", 1, 0, &empty_ctx);
        ASSERT_OK(yb_seal_info_parse(empty_ctx.data, empty_ctx.size, &info));
        ASSERT_EQ(info.header_size, 126);
        ASSERT_STREQ(info.context, "");
}

TEST(reader_info_matches_header) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;
        _cleanup_(yb_seal_reader_freep) YbSealReader *r = NULL;
        TestSource src;

        seal_random(key, 10, &sealed);
        src = TEST_SOURCE(sealed.data, sealed.size, 0);
        ASSERT_OK(yb_seal_reader_new(key, NULL, test_source_read, &src, &r));
        ASSERT_STREQ(yb_seal_reader_info(r)->context, CTX);
        ASSERT_MEMEQ(yb_seal_reader_info(r)->key_id, key->pub.id, YB_KEY_ID_SIZE);
        ASSERT_EQ(src.pos, HEADER_SIZE); /* opening reads the header and nothing more */
}

TEST(unknown_version_or_suite_unsupported) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;
        static const struct {
                size_t offset;
                uint8_t value;
        } changes[] = { { 6, 2 }, { 6, 0 }, { 6, 0xff }, { 7, 2 }, { 7, 0 } };
        YbSealInfo info;

        seal_random(key, 100, &sealed);
        for (size_t i = 0; i < ELEMENTSOF(changes); i++) {
                uint8_t saved = sealed.data[changes[i].offset];

                sealed.data[changes[i].offset] = changes[i].value;
                ASSERT_ERR(yb_seal_info_parse(sealed.data, sealed.size, &info), EPROTONOSUPPORT);
                assert_unseal(key, CTX, sealed.data, sealed.size, -EPROTONOSUPPORT);
                sealed.data[changes[i].offset] = saved;
        }
        assert_unseal(key, CTX, sealed.data, sealed.size, 0);
}

TEST(writer_misuse_refused) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT;
        _cleanup_(yb_seal_writer_freep) YbSealWriter *w = NULL;
        char ctx[YB_SEAL_CONTEXT_MAX + 2];
        YbSealWriter *w2 = NULL;

        memset(ctx, 'c', sizeof(ctx) - 1);
        ctx[sizeof(ctx) - 1] = 0;
        ASSERT_ERR(yb_seal_writer_new(&key->pub, ctx, test_buf_write, &sealed, &w2), EINVAL);
        ASSERT_TRUE(w2 == NULL);
        ASSERT_EQ(sealed.size, 0); /* nothing written */

        ctx[YB_SEAL_CONTEXT_MAX] = 0; /* 255 characters: the longest allowed */
        ASSERT_OK(yb_seal_writer_new(&key->pub, ctx, test_buf_write, &sealed, &w));
        ASSERT_OK(yb_seal_write(w, "abc", 0));
        ASSERT_OK(yb_seal_write(w, "abc", 3));
        ASSERT_OK(yb_seal_finish(w));
        ASSERT_ERR(yb_seal_write(w, "d", 1), EINVAL);
        ASSERT_ERR(yb_seal_finish(w), EINVAL);
        ASSERT_EQ(sealed.size, 126 + YB_SEAL_CONTEXT_MAX + 3 + ABYTES);

        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
        ASSERT_OK(unseal(key, ctx, sealed.data, sealed.size, 0, 0, &out));
        ASSERT_EQ(out.size, 3);
        ASSERT_MEMEQ(out.data, "abc", 3);
}

TEST(callback_errors_propagate) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        _cleanup_(yb_seal_writer_freep) YbSealWriter *w = NULL;
        _cleanup_free_ uint8_t *big = calloc(1, 2 * C);
        TestFault header = { .fail_at = 1 }, chunk = { .fail_at = 2 };
        YbSealWriter *none = NULL;
        YbSealReader *reader = NULL;

        ASSERT_TRUE(big);
        ASSERT_ERR(yb_seal_writer_new(&key->pub, CTX, test_write_enospc, &header, &none), ENOSPC);
        ASSERT_TRUE(none == NULL);

        ASSERT_OK(yb_seal_writer_new(&key->pub, CTX, test_write_enospc, &chunk, &w));
        ASSERT_ERR(yb_seal_write(w, big, 2 * C), ENOSPC); /* the first full chunk's write */

        ASSERT_ERR(yb_seal_reader_new(key, CTX, test_read_eio, NULL, &reader), EIO);
        ASSERT_TRUE(reader == NULL);
}

/* Sealed files built by docs/format.md ("Sealed files") with libsodium alone, so that the reader
 * is checked against the specification rather than against our writer. */

typedef struct Chunk {
        size_t len;
        uint8_t tag;
} Chunk;

#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

/* Chunk i holds chunks[i].len pseudo-random bytes (also appended to plain) and carries
 * chunks[i].tag; the first chunk takes the clear header as associated data when with_ad. */
static void craft(const YbPublicKey *pub, const Chunk *chunks, size_t n, bool with_ad, YbBuf *out,
                  YbBuf *plain) {
        uint8_t key[crypto_secretstream_xchacha20poly1305_KEYBYTES];
        uint8_t sealed[crypto_box_SEALBYTES + sizeof(key)];
        uint8_t ssh[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
        crypto_secretstream_xchacha20poly1305_state st;
        size_t clen = strlen(CTX), header_size;
        _cleanup_(yb_buf_done) YbBuf header = YB_BUF_INIT;

        crypto_secretstream_xchacha20poly1305_keygen(key);
        ASSERT_OK(crypto_box_seal(sealed, key, sizeof(key), pub->pk));
        ASSERT_OK(crypto_secretstream_xchacha20poly1305_init_push(&st, ssh, key));
        ASSERT_OK(yb_buf_append(&header, "YBSEAL", 6));
        ASSERT_OK(yb_buf_append_u8(&header, 1)); /* version */
        ASSERT_OK(yb_buf_append_u8(&header, 1)); /* suite */
        ASSERT_OK(yb_buf_append_le32(&header, (uint32_t) C));
        ASSERT_OK(yb_buf_append(&header, pub->id, YB_KEY_ID_SIZE));
        ASSERT_OK(yb_buf_append_u8(&header, (uint8_t) clen));
        ASSERT_OK(yb_buf_append_u8(&header, 0));
        ASSERT_OK(yb_buf_append(&header, CTX, clen));
        ASSERT_OK(yb_buf_append(&header, sealed, sizeof(sealed)));
        ASSERT_OK(yb_buf_append(&header, ssh, sizeof(ssh)));
        header_size = header.size;
        ASSERT_EQ(header_size, HEADER_SIZE);
        ASSERT_OK(yb_buf_append(out, header.data, header.size));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ uint8_t *p = malloc(chunks[i].len + 1), *c = NULL;
                bool ad = i == 0 && with_ad;

                c = malloc(chunks[i].len + ABYTES);
                ASSERT_TRUE(p && c);
                test_fill_random(p, chunks[i].len, i);
                ASSERT_OK(crypto_secretstream_xchacha20poly1305_push(
                        &st, c, NULL, p, chunks[i].len, ad ? header.data : NULL,
                        ad ? header_size : 0, chunks[i].tag));
                ASSERT_OK(yb_buf_append(out, c, chunks[i].len + ABYTES));
                ASSERT_OK(yb_buf_append(plain, p, chunks[i].len));
        }
}

static void assert_crafted(const YbSecretKey *key, const Chunk *chunks, size_t n, bool with_ad,
                           int err) {
        _cleanup_(yb_buf_done) YbBuf sealed = YB_BUF_INIT, plain = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;

        craft(&key->pub, chunks, n, with_ad, &sealed, &plain);
        ASSERT_EQ(unseal(key, CTX, sealed.data, sealed.size, 0, 0, &out), err);
        if (err == 0) {
                ASSERT_EQ(out.size, plain.size);
                ASSERT_MEMEQ(out.data, plain.data, plain.size);
        }
}

TEST(file_built_by_the_specification_opens) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        static const Chunk three[] = { { C, 0 }, { C, 0 }, { 100, TAG_FINAL } };
        static const Chunk empty[] = { { 0, TAG_FINAL } };
        static const Chunk full_final[] = { { C, TAG_FINAL } };

        assert_crafted(key, three, ELEMENTSOF(three), true, 0);
        assert_crafted(key, empty, ELEMENTSOF(empty), true, 0);
        assert_crafted(key, full_final, ELEMENTSOF(full_final), true, 0);
}

TEST(specification_violations_rejected) {
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = new_key();
        static const Chunk short_middle[] = { { 100, 0 }, { 100, TAG_FINAL } };
        static const Chunk after_final[] = { { 100, TAG_FINAL }, { 100, 0 } };
        static const Chunk no_final[] = { { C, 0 }, { C, 0 } };
        static const Chunk one[] = { { 100, TAG_FINAL } };

        /* Every chunk but the last holds exactly C bytes. */
        assert_crafted(key, short_middle, ELEMENTSOF(short_middle), true, -EBADMSG);
        /* Nothing follows the final chunk, not even an authentic chunk. */
        assert_crafted(key, after_final, ELEMENTSOF(after_final), true, -EBADMSG);
        /* A stream without a final chunk is truncated. */
        assert_crafted(key, no_final, ELEMENTSOF(no_final), true, -EBADMSG);
        /* The first chunk authenticates the clear header. */
        assert_crafted(key, one, ELEMENTSOF(one), false, -EBADMSG);
}
