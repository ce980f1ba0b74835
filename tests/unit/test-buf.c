#include "core/base/buf.h"
#include "tests/unit/test.h"

static const struct {
        uint64_t v;
        size_t len; /* bytes of its LEB128 form */
} varints[] = {
        { 0, 1 },           { 1, 1 },           { 127, 1 },
        { 128, 2 },         { 16383, 2 },       { 16384, 3 },
        { UINT32_MAX, 5 },  { 1ULL << 32, 5 },  { (1ULL << 63) - 1, 9 },
        { 1ULL << 63, 10 }, { UINT64_MAX, 10 },
};

TEST(varint_round_trips_at_boundaries) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

        for (size_t i = 0; i < ELEMENTSOF(varints); i++) {
                size_t before = b.size;

                ASSERT_OK(yb_buf_append_varint(&b, varints[i].v));
                ASSERT_EQ(b.size - before, varints[i].len);
        }
        YbCursor c = yb_cursor(b.data, b.size);
        for (size_t i = 0; i < ELEMENTSOF(varints); i++) {
                uint64_t v = 0;

                ASSERT_OK(yb_cursor_varint(&c, &v));
                if (v != varints[i].v)
                        fail_msg("varint %zu: got %llu, want %llu", i, (unsigned long long) v,
                                 (unsigned long long) varints[i].v);
        }
        ASSERT_EQ(c.left, 0);
}

TEST(varint_is_leb128) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        static const uint8_t want[] = {
                0xac, 0x02, /* 300 */
                0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01
        };

        ASSERT_OK(yb_buf_append_varint(&b, 300));
        ASSERT_OK(yb_buf_append_varint(&b, UINT64_MAX));
        ASSERT_EQ(b.size, sizeof(want));
        ASSERT_MEMEQ(b.data, want, sizeof(want));
}

static int decode_one(const void *data, size_t n, uint64_t *ret) {
        YbCursor c = yb_cursor(data, n);

        return yb_cursor_varint(&c, ret);
}

TEST(varint_overlong_rejected) {
        /* Eleven bytes: more than any 64-bit value needs. */
        static const uint8_t eleven[] = { 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
                                          0x80, 0x80, 0x80, 0x80, 0x00 };
        /* Ten bytes whose last one carries bits beyond 2^64. */
        static const uint8_t overflow[] = { 0xff, 0xff, 0xff, 0xff, 0xff,
                                            0xff, 0xff, 0xff, 0xff, 0x02 };
        static const uint8_t overflow_cont[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                 0xff, 0xff, 0xff, 0x81, 0x00 };
        uint64_t v = 42;

        ASSERT_ERR(decode_one(eleven, sizeof(eleven), &v), EBADMSG);
        ASSERT_ERR(decode_one(overflow, sizeof(overflow), &v), EBADMSG);
        ASSERT_ERR(decode_one(overflow_cont, sizeof(overflow_cont), &v), EBADMSG);
        ASSERT_EQ(v, 42); /* out-parameters are written only on success */
}

TEST(varint_must_be_minimal) {
        /* 0 written in two bytes: one value has one encoding, so a rewritten record cannot hide
         * behind a different byte string with the same meaning. */
        static const uint8_t padded[] = { 0x80, 0x00 };
        static const uint8_t padded3[] = { 0x81, 0x80, 0x00 };
        uint64_t v = 42;

        ASSERT_ERR(decode_one(padded, sizeof(padded), &v), EBADMSG);
        ASSERT_ERR(decode_one(padded3, sizeof(padded3), &v), EBADMSG);
        ASSERT_EQ(v, 42);
}

TEST(varint_truncated_rejected) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        static const uint64_t values[] = { 128, 1ULL << 32, UINT64_MAX };

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                yb_buf_clear(&b);
                ASSERT_OK(yb_buf_append_varint(&b, values[i]));
                for (size_t n = 0; n < b.size; n++) {
                        uint64_t v = 42;

                        ASSERT_ERR(decode_one(b.data, n, &v), EBADMSG);
                        ASSERT_EQ(v, 42);
                }
        }
}

TEST(fixed_width_integers_are_little_endian) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        static const uint8_t want[] = { 0x04, 0x03, 0x02, 0x01, 0x08, 0x07, 0x06,
                                        0x05, 0x04, 0x03, 0x02, 0x01, 0xab };
        uint32_t x;
        uint64_t y;
        uint8_t z;

        ASSERT_OK(yb_buf_append_le32(&b, 0x01020304));
        ASSERT_OK(yb_buf_append_le64(&b, 0x0102030405060708ULL));
        ASSERT_OK(yb_buf_append_u8(&b, 0xab));
        ASSERT_EQ(b.size, sizeof(want));
        ASSERT_MEMEQ(b.data, want, sizeof(want));

        YbCursor c = yb_cursor(b.data, b.size);
        ASSERT_OK(yb_cursor_le32(&c, &x));
        ASSERT_OK(yb_cursor_le64(&c, &y));
        ASSERT_OK(yb_cursor_u8(&c, &z));
        ASSERT_EQ(x, 0x01020304);
        ASSERT_TRUE(y == 0x0102030405060708ULL);
        ASSERT_EQ(z, 0xab);
        ASSERT_EQ(c.left, 0);
}

TEST(cursor_reads_stop_at_bounds) {
        static const uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
        const uint8_t *p = NULL;
        uint32_t x = 42;
        uint64_t y = 42;
        uint8_t z = 42;

        YbCursor c = yb_cursor(data, 3);
        ASSERT_ERR(yb_cursor_le32(&c, &x), EBADMSG);
        ASSERT_EQ(x, 42);
        ASSERT_EQ(c.left, 3); /* a failed read consumes nothing */
        ASSERT_TRUE(c.p == data);

        c = yb_cursor(data, 7);
        ASSERT_ERR(yb_cursor_le64(&c, &y), EBADMSG);
        ASSERT_EQ(y, 42);

        c = yb_cursor(data, 0);
        ASSERT_ERR(yb_cursor_u8(&c, &z), EBADMSG);
        ASSERT_EQ(z, 42);

        c = yb_cursor(data, sizeof(data));
        ASSERT_ERR(yb_cursor_raw(&c, 9, &p), EBADMSG);
        ASSERT_TRUE(p == NULL);
        ASSERT_ERR(yb_cursor_raw(&c, SIZE_MAX, &p), EBADMSG);
        ASSERT_OK(yb_cursor_raw(&c, 5, &p));
        ASSERT_TRUE(p == data);
        ASSERT_EQ(c.left, 3);
        ASSERT_OK(yb_cursor_raw(&c, 3, &p));
        ASSERT_TRUE(p == data + 5);
        ASSERT_EQ(c.left, 0);
        ASSERT_OK(yb_cursor_raw(&c, 0, &p)); /* an empty read at the end is fine */
        ASSERT_ERR(yb_cursor_u8(&c, &z), EBADMSG);
}

TEST(cursor_bytes_checks_length) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        const uint8_t *p;
        size_t n = 42;

        ASSERT_OK(yb_buf_append_bytes(&b, "0123456789", 10));
        ASSERT_EQ(b.size, 11);

        YbCursor c = yb_cursor(b.data, b.size);
        ASSERT_ERR(yb_cursor_bytes(&c, 9, &p, &n), EBADMSG); /* longer than max */
        ASSERT_EQ(n, 42);

        c = yb_cursor(b.data, b.size - 1); /* the length promises one byte more than there is */
        ASSERT_ERR(yb_cursor_bytes(&c, 10, &p, &n), EBADMSG);
        ASSERT_EQ(n, 42);

        c = yb_cursor(b.data, b.size);
        ASSERT_OK(yb_cursor_bytes(&c, 10, &p, &n));
        ASSERT_EQ(n, 10);
        ASSERT_MEMEQ(p, "0123456789", 10);
        ASSERT_EQ(c.left, 0);

        /* A huge length must not wrap the bounds check. */
        yb_buf_clear(&b);
        ASSERT_OK(yb_buf_append_varint(&b, UINT64_MAX));
        ASSERT_OK(yb_buf_append(&b, "x", 1));
        c = yb_cursor(b.data, b.size);
        ASSERT_ERR(yb_cursor_bytes(&c, SIZE_MAX, &p, &n), EBADMSG);
}

TEST(cap_gives_enobufs) {
        _cleanup_(yb_buf_done) YbBuf b = { .cap = 8 };

        ASSERT_OK(yb_buf_append(&b, "12345678", 8));
        ASSERT_ERR(yb_buf_append(&b, "9", 1), ENOBUFS);
        ASSERT_ERR(yb_buf_append_u8(&b, 9), ENOBUFS);
        ASSERT_ERR(yb_buf_append_varint(&b, 0), ENOBUFS);
        ASSERT_ERR(yb_buf_append_le32(&b, 0), ENOBUFS);
        ASSERT_ERR(yb_buf_printf(&b, "%d", 1), ENOBUFS);
        ASSERT_ERR(yb_buf_reserve(&b, 1), ENOBUFS);
        ASSERT_EQ(b.size, 8); /* a refused append leaves the contents alone */
        ASSERT_MEMEQ(b.data, "12345678", 8);
        ASSERT_OK(yb_buf_append(&b, NULL, 0));

        yb_buf_clear(&b); /* clearing frees room under the cap again */
        ASSERT_EQ(b.size, 0);
        ASSERT_OK(yb_buf_append(&b, "abc", 3));
        ASSERT_ERR(yb_buf_reserve(&b, SIZE_MAX), ENOMEM); /* would overflow size_t */
}

/* Text that exactly fills the cap fits: the NUL that vsnprintf writes is not contents. */
TEST(printf_fills_cap_exactly) {
        _cleanup_(yb_buf_done) YbBuf b = { .cap = 5 };

        ASSERT_OK(yb_buf_printf(&b, "%s", "abcde"));
        ASSERT_EQ(b.size, 5);
}

TEST(printf_appends_without_nul) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

        ASSERT_OK(yb_buf_append(&b, "x=", 2));
        ASSERT_OK(yb_buf_printf(&b, "%d/%s", 42, "y"));
        ASSERT_EQ(b.size, 6);
        ASSERT_MEMEQ(b.data, "x=42/y", 6);
        ASSERT_OK(yb_buf_printf(&b, "%s", ""));
        ASSERT_EQ(b.size, 6);
}

TEST(growth_keeps_contents) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ uint8_t *want = malloc(100000);

        ASSERT_TRUE(want);
        test_fill_random(want, 100000, 1);
        for (size_t off = 0; off < 100000; off += 777)
                ASSERT_OK(yb_buf_append(&b, want + off, MIN((size_t) 777, 100000 - off)));
        ASSERT_EQ(b.size, 100000);
        ASSERT_GE(b.alloc, b.size);
        ASSERT_MEMEQ(b.data, want, 100000);
}

TEST(steal_moves_ownership) {
        YbBuf b = YB_BUF_INIT;
        _cleanup_free_ uint8_t *p = NULL;
        size_t n = 0;

        ASSERT_OK(yb_buf_append(&b, "hello", 5));
        p = yb_buf_steal(&b, &n);
        ASSERT_EQ(n, 5);
        ASSERT_MEMEQ(p, "hello", 5);
        ASSERT_TRUE(b.data == NULL);
        ASSERT_EQ(b.size, 0);
        ASSERT_EQ(b.alloc, 0);
        yb_buf_done(&b); /* harmless on an emptied buffer */
}
