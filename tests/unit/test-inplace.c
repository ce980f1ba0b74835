/* core/codec/inplace.c: which librsync deltas apply in place, and that applying one in place
 * gives what librsync's own patch gives, byte for byte, with every byte of the result passed on
 * in order. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/codec/delta.h"
#include "core/codec/inplace.h"
#include "tests/unit/test.h"

#define PAGE 4096
#define SIZE (64 * PAGE)

static uint8_t *random_bytes(size_t n, uint64_t seed) {
        uint8_t *p = malloc(MAX(n, (size_t) 1));

        ASSERT_TRUE(p);
        test_fill_random(p, n, seed);
        return p;
}

static int sig_feed_cb(void *b, const void *data, size_t n) {
        return yb_sig_builder_feed(b, data, n);
}

/* librsync's delta from old to new. */
static void delta_of(const uint8_t *old, size_t old_n, const uint8_t *new, size_t new_n,
                     YbBuf *ret) {
        _cleanup_(yb_sig_builder_freep) YbSigBuilder *b = NULL;
        _cleanup_(yb_signature_freep) YbSignature *s = NULL;
        _cleanup_(yb_delta_freep) YbDeltaJob *d = NULL;
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT;

        ASSERT_OK(yb_sig_builder_new(old_n, &b));
        ASSERT_OK(test_feed(sig_feed_cb, b, old, old_n, 0));
        ASSERT_OK(yb_sig_builder_finish(b, &sig));
        ASSERT_OK(yb_signature_load(sig.data, sig.size, &s));
        ASSERT_OK(yb_delta_new(s, test_buf_write, ret, &d));
        ASSERT_OK(yb_delta_feed(d, new, new_n));
        ASSERT_OK(yb_delta_finish(d));
}

/* Applies delta to a file holding old, in place, 7 bytes of buffer at a time (so that kept runs
 * are read back in many pieces); checks the file and the bytes passed on are new. */
static void apply_in_place(const uint8_t *old, size_t old_n, const uint8_t *new, size_t new_n,
                           const YbBuf *delta) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_buf_done) YbBuf passed = YB_BUF_INIT, file = YB_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        uint8_t buf[7];
        uint64_t size = 0;

        ASSERT_EQ(yb_delta_in_place(delta->data, delta->size, &size), 1);
        ASSERT_EQ(size, new_n);
        test_write_file(d->fd, "f", old, old_n);
        fd = openat(d->fd, "f", O_RDWR | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(yb_patch_in_place(fd, delta->data, delta->size, test_buf_write, &passed, buf,
                                    sizeof(buf)));
        ASSERT_EQ(passed.size, new_n);
        ASSERT_MEMEQ(passed.data, new, new_n);
        test_read_file(d->fd, "f", &file);
        ASSERT_EQ(file.size, new_n);
        ASSERT_MEMEQ(file.data, new, new_n);

        /* Without a callback: the same file, nothing read back. */
        test_write_file(d->fd, "g", old, old_n);
        safe_close(fd);
        fd = openat(d->fd, "g", O_RDWR | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(yb_patch_in_place(fd, delta->data, delta->size, NULL, NULL, buf, sizeof(buf)));
        yb_buf_clear(&file);
        test_read_file(d->fd, "g", &file);
        ASSERT_EQ(file.size, new_n);
        ASSERT_MEMEQ(file.data, new, new_n);
}

TEST(pages_changed_where_they_are) {
        _cleanup_free_ uint8_t *old = random_bytes(SIZE, 1), *new = malloc(SIZE);
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT;

        memcpy(new, old, SIZE);
        test_fill_random(new, 100, 2);                  /* the first page */
        test_fill_random(new + 10 * PAGE + 5, PAGE, 3); /* across two pages */
        test_fill_random(new + SIZE - 10, 10, 4);       /* the last page */
        delta_of(old, SIZE, new, SIZE, &delta);
        apply_in_place(old, SIZE, new, SIZE, &delta);
}

TEST(unchanged_appended_and_cut_short) {
        _cleanup_free_ uint8_t *old = random_bytes(SIZE, 5), *longer = malloc(SIZE + 3 * PAGE + 17);
        _cleanup_(yb_buf_done) YbBuf same = YB_BUF_INIT, grown = YB_BUF_INIT, cut = YB_BUF_INIT;

        delta_of(old, SIZE, old, SIZE, &same);
        apply_in_place(old, SIZE, old, SIZE, &same);

        memcpy(longer, old, SIZE);
        test_fill_random(longer + SIZE, 3 * PAGE + 17, 6);
        delta_of(old, SIZE, longer, SIZE + 3 * PAGE + 17, &grown);
        apply_in_place(old, SIZE, longer, SIZE + 3 * PAGE + 17, &grown);

        delta_of(old, SIZE, old, 20 * PAGE + 1, &cut);
        apply_in_place(old, SIZE, old, 20 * PAGE + 1, &cut);
}

TEST(moved_bytes_are_not_in_place) {
        _cleanup_free_ uint8_t *old = random_bytes(SIZE, 7), *new = malloc(SIZE + 100);
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT;
        uint64_t size = 0;

        /* 100 bytes inserted at the front: every old block moves. */
        test_fill_random(new, 100, 8);
        memcpy(new + 100, old, SIZE);
        delta_of(old, SIZE, new, SIZE + 100, &delta);
        ASSERT_EQ(yb_delta_in_place(delta.data, delta.size, &size), 0);

        /* Applying it anyway is refused, and the file is left as it was. */
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_buf_done) YbBuf file = YB_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        uint8_t buf[64];

        test_write_file(d->fd, "f", old, SIZE);
        fd = openat(d->fd, "f", O_RDWR | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_ERR(yb_patch_in_place(fd, delta.data, delta.size, NULL, NULL, buf, sizeof(buf)),
                   EBADMSG);
        test_read_file(d->fd, "f", &file);
        ASSERT_EQ(file.size, SIZE);
        ASSERT_MEMEQ(file.data, old, SIZE);
}

TEST(damaged_deltas_are_refused) {
        _cleanup_free_ uint8_t *old = random_bytes(SIZE, 9), *new = malloc(SIZE);
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, bad = YB_BUF_INIT;
        uint64_t size;

        memcpy(new, old, SIZE);
        test_fill_random(new + 3 * PAGE, PAGE, 10);
        delta_of(old, SIZE, new, SIZE, &delta);
        ASSERT_EQ(yb_delta_in_place(delta.data, delta.size, &size), 1);

        /* Cut anywhere: never taken for a whole delta. */
        for (size_t n = 0; n < delta.size; n++)
                ASSERT_ERR(yb_delta_in_place(delta.data, n, &size), EBADMSG);
        /* A byte after the end command. */
        ASSERT_OK(yb_buf_append(&bad, delta.data, delta.size));
        ASSERT_OK(yb_buf_append_u8(&bad, 0));
        ASSERT_ERR(yb_delta_in_place(bad.data, bad.size, &size), EBADMSG);
        /* A wrong magic, and a reserved opcode. */
        yb_buf_clear(&bad);
        ASSERT_OK(yb_buf_append(&bad, delta.data, delta.size));
        bad.data[0] ^= 1;
        ASSERT_ERR(yb_delta_in_place(bad.data, bad.size, &size), EBADMSG);
        static const uint8_t reserved[] = { 0x72, 0x73, 0x02, 0x36, 0x55, 0x00 };
        ASSERT_ERR(yb_delta_in_place(reserved, sizeof(reserved), &size), EBADMSG);
}

TEST(a_copy_past_the_basis_is_refused) {
        /* magic; copy 0..8192 (start and length one and two bytes wide: 0x46); end */
        static const uint8_t delta[] = { 0x72, 0x73, 0x02, 0x36, 0x46, 0x00, 0x20, 0x00, 0x00 };
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *old = random_bytes(PAGE, 11);
        _cleanup_(yb_buf_done) YbBuf passed = YB_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        uint64_t size = 0;
        uint8_t buf[64];
        struct stat st;

        ASSERT_EQ(yb_delta_in_place(delta, sizeof(delta), &size), 1);
        ASSERT_EQ(size, 2 * PAGE);
        test_write_file(d->fd, "f", old, PAGE); /* one page: the copy wants two */
        fd = openat(d->fd, "f", O_RDWR | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_ERR(yb_patch_in_place(fd, delta, sizeof(delta), test_buf_write, &passed, buf,
                                     sizeof(buf)),
                   EBADMSG);
        ASSERT_EQ(passed.size, 0);
        ASSERT_OK(fstat(fd, &st));
        ASSERT_EQ(st.st_size, PAGE);
}
