#include "core/codec/zstdio.h"
#include "tests/unit/test.h"

/* Call sizes for streaming code (STYLE.md, "Tests"); 0 means "everything at once". */
static const size_t chunkings[] = { 1, 2, 3, 7, 0 };

/* Half text-like (compressible), half random: exercises both block kinds. */
static uint8_t *make_input(size_t n) {
        uint8_t *p = malloc(MAX(n, (size_t) 1));

        ASSERT_TRUE(p);
        for (size_t i = 0; i < n / 2; i++)
                p[i] = (uint8_t) "the quick brown fox jumps over the lazy dog\n"[i % 44];
        test_fill_random(p + n / 2, n - n / 2, n);
        return p;
}

static int zstd_write_cb(void *z, const void *data, size_t n) {
        return yb_zstd_write(z, data, n);
}

static ssize_t zstd_read_cb(void *z, void *data, size_t n) {
        return yb_zstd_read(z, data, n);
}

static void compress(const void *data, size_t n, size_t write_chunk, int workers, YbBuf *out) {
        _cleanup_(yb_zstd_writer_freep) YbZstdWriter *z = NULL;
        size_t before = out->size;

        ASSERT_OK(yb_zstd_writer_new(3, workers, test_buf_write, out, &z));
        ASSERT_OK(test_feed(zstd_write_cb, z, data, n, write_chunk));
        ASSERT_OK(yb_zstd_finish(z));
        ASSERT_EQ(yb_zstd_writer_out_bytes(z), out->size - before);
}

/* Decompresses n bytes delivered src_chunk at a time, with reads of read_chunk bytes (0: large).
 * Returns 0 with the output appended to out, or the first error. */
static int decompress(const void *data, size_t n, size_t src_chunk, size_t read_chunk, YbBuf *out) {
        _cleanup_(yb_zstd_reader_freep) YbZstdReader *z = NULL;
        TestSource src = TEST_SOURCE(data, n, src_chunk);

        ASSERT_OK(yb_zstd_reader_new(test_source_read, &src, &z));
        return test_drain(zstd_read_cb, z, read_chunk ? read_chunk : 200000, out);
}

/* The same over a source that lends its bytes (yb_zstd_reader_new_peek), src_chunk at a time. */
static int decompress_lent(const void *data, size_t n, size_t src_chunk, YbBuf *out) {
        /* Declared first, freed last: the reader may hold its last loan until then. */
        _cleanup_(test_source_done) TestSource src = TEST_SOURCE(data, n, src_chunk);
        _cleanup_(yb_zstd_reader_freep) YbZstdReader *z = NULL;

        ASSERT_OK(yb_zstd_reader_new_peek(test_source_peek, &src, &z));
        return test_drain(zstd_read_cb, z, 100000, out);
}

static void assert_round_trip(const YbBuf *packed, const void *want, size_t n, size_t src,
                              size_t read) {
        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT, lent = YB_BUF_INIT;

        ASSERT_OK(decompress(packed->data, packed->size, src, read, &out));
        if (out.size != n)
                fail_msg("source chunk %zu, read %zu: %zu bytes, want %zu", src, read, out.size, n);
        ASSERT_MEMEQ(out.data, want, n);
        ASSERT_OK(decompress_lent(packed->data, packed->size, src, &lent));
        ASSERT_EQ(lent.size, n);
        ASSERT_MEMEQ(lent.data, want, n);
}

TEST(round_trip_odd_buffer_sizes) {
        const size_t n = 300000;
        _cleanup_free_ uint8_t *data = make_input(n);

        for (size_t w = 0; w < ELEMENTSOF(chunkings); w++) {
                _cleanup_(yb_buf_done) YbBuf packed = YB_BUF_INIT;

                compress(data, n, chunkings[w], 0, &packed);
                ASSERT_LT(packed.size, n); /* the text half compresses */
                for (size_t r = 0; r < ELEMENTSOF(chunkings); r++)
                        assert_round_trip(&packed, data, n,
                                          chunkings[(r + w) % ELEMENTSOF(chunkings)], chunkings[r]);
        }
}

TEST(round_trip_with_workers) {
        const size_t n = 3 * 1024 * 1024;
        _cleanup_free_ uint8_t *data = make_input(n);
        _cleanup_(yb_buf_done) YbBuf packed = YB_BUF_INIT;

        compress(data, n, 100000, 2, &packed);
        assert_round_trip(&packed, data, n, 0, 0);
}

TEST(output_is_standard_zstd_with_checksum) {
        _cleanup_free_ uint8_t *data = make_input(1000);
        _cleanup_(yb_buf_done) YbBuf packed = YB_BUF_INIT;
        static const uint8_t magic[] = { 0x28, 0xb5, 0x2f, 0xfd };

        compress(data, 1000, 0, 0, &packed);
        ASSERT_GT(packed.size, 4);
        ASSERT_MEMEQ(packed.data, magic, 4);
        ASSERT_TRUE(packed.data[4] & 0x04); /* Content_Checksum_flag of the frame header */
}

TEST(empty_input) {
        _cleanup_(yb_buf_done) YbBuf packed = YB_BUF_INIT, out = YB_BUF_INIT;

        compress(NULL, 0, 0, 0, &packed);
        ASSERT_GT(packed.size, 0); /* still a frame */
        for (size_t r = 0; r < ELEMENTSOF(chunkings); r++)
                assert_round_trip(&packed, NULL, 0, chunkings[r], chunkings[r]);

        /* No bytes at all is not a zstd stream. */
        ASSERT_ERR(decompress(NULL, 0, 0, 0, &out), EBADMSG);
}

TEST(truncated_stream_rejected) {
        _cleanup_free_ uint8_t *small = make_input(200), *large = make_input(400000);
        _cleanup_(yb_buf_done) YbBuf a = YB_BUF_INIT, b = YB_BUF_INIT;

        compress(small, 200, 0, 0, &a);
        for (size_t n = 0; n < a.size; n++) {
                _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;

                ASSERT_ERR(decompress(a.data, n, 0, 0, &out), EBADMSG);
        }
        compress(large, 400000, 0, 0, &b);
        for (size_t n = 1; n < b.size; n += b.size / 37) {
                _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;

                ASSERT_ERR(decompress(b.data, n, 7, 4096, &out), EBADMSG);
                yb_buf_clear(&out);
                ASSERT_ERR(decompress_lent(b.data, n, 7, &out), EBADMSG);
        }
        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
        ASSERT_ERR(decompress(b.data, b.size - 1, 0, 0, &out), EBADMSG); /* checksum cut */
}

TEST(corrupt_stream_rejected) {
        _cleanup_free_ uint8_t *data = make_input(100000);
        _cleanup_(yb_buf_done) YbBuf packed = YB_BUF_INIT;

        compress(data, 100000, 0, 0, &packed);
        /* The frame's checksum (or the decoder) notices any change after the frame header. */
        for (size_t pos = 6; pos < packed.size; pos += 97) {
                _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
                int r;

                packed.data[pos] ^= 0x10;
                r = decompress(packed.data, packed.size, 0, 0, &out);
                packed.data[pos] ^= 0x10;
                if (r >= 0)
                        fail_msg("flipped byte %zu of %zu went unnoticed", pos, packed.size);
        }
}

TEST(concatenated_frames_and_trailing_garbage) {
        _cleanup_free_ uint8_t *data = make_input(5000);
        _cleanup_(yb_buf_done) YbBuf packed = YB_BUF_INIT, out = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf bad = YB_BUF_INIT;

        compress(data, 3000, 0, 0, &packed);
        compress(data + 3000, 2000, 0, 0, &packed);
        ASSERT_OK(decompress(packed.data, packed.size, 3, 7, &out));
        ASSERT_EQ(out.size, 5000);
        ASSERT_MEMEQ(out.data, data, 5000);

        ASSERT_OK(yb_buf_append(&bad, packed.data, packed.size));
        ASSERT_OK(yb_buf_append(&bad, "garbage!", 8));
        yb_buf_clear(&out);
        ASSERT_ERR(decompress(bad.data, bad.size, 0, 0, &out), EBADMSG);
}

TEST(callback_errors_propagate) {
        _cleanup_(yb_zstd_writer_freep) YbZstdWriter *w = NULL;
        _cleanup_(yb_zstd_reader_freep) YbZstdReader *r = NULL;
        uint8_t buf[16];

        ASSERT_OK(yb_zstd_writer_new(3, 0, test_write_enospc, NULL, &w));
        ASSERT_ERR(yb_zstd_finish(w), ENOSPC);
        ASSERT_OK(yb_zstd_reader_new(test_read_eio, NULL, &r));
        ASSERT_ERR(yb_zstd_read(r, buf, sizeof(buf)), EIO);
}
