#include <fcntl.h>
#include <librsync.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "core/codec/delta.h"
#include "core/codec/sigsum.h"
#include "tests/unit/test.h"

#define MIB (1024 * 1024)
#define PAGE 4096

/* Call sizes for streaming code (STYLE.md, "Tests"); 0 means "everything at once". */
static const size_t chunkings[] = { 1, 2, 3, 7, 0 };

static int sig_feed_cb(void *b, const void *data, size_t n) {
        return yb_sig_builder_feed(b, data, n);
}

static int delta_feed_cb(void *d, const void *data, size_t n) {
        return yb_delta_feed(d, data, n);
}

static void signature_of(const void *data, size_t n, size_t chunk, YbBuf *ret) {
        _cleanup_(yb_sig_builder_freep) YbSigBuilder *b = NULL;

        ASSERT_OK(yb_sig_builder_new(n, &b));
        ASSERT_OK(test_feed(sig_feed_cb, b, data, n, chunk));
        ASSERT_OK(yb_sig_builder_finish(b, ret));
}

/* The delta that turns the file whose signature is sig into data. */
static void delta_of(const YbBuf *sig, const void *data, size_t n, size_t chunk, YbBuf *ret) {
        _cleanup_(yb_signature_freep) YbSignature *s = NULL;
        _cleanup_(yb_delta_freep) YbDeltaJob *d = NULL;
        size_t before = ret->size;

        ASSERT_OK(yb_signature_load(sig->data, sig->size, &s));
        ASSERT_OK(yb_delta_new(s, test_buf_write, ret, &d));
        ASSERT_OK(test_feed(delta_feed_cb, d, data, n, chunk));
        ASSERT_OK(yb_delta_finish(d));
        ASSERT_EQ(yb_delta_in_bytes(d), n);
        ASSERT_EQ(yb_delta_out_bytes(d), ret->size - before);
}

/* Applies delta (handed out src_chunk bytes at a time) to basis. Returns yb_patch's result. */
static int patch(const TestTmpdir *d, const void *basis, size_t basis_size, const YbBuf *delta,
                 size_t src_chunk, YbBuf *ret) {
        _cleanup_close_ int fd = -EBADF;
        TestSource src = TEST_SOURCE(delta->data, delta->size, src_chunk);

        test_write_file(d->fd, "basis", basis, basis_size);
        fd = openat(d->fd, "basis", O_RDONLY | O_CLOEXEC);
        ASSERT_OK(fd);
        return yb_patch(fd, test_source_read, &src, test_buf_write, ret);
}

static uint8_t *random_bytes(size_t n, uint64_t seed) {
        uint8_t *p = malloc(MAX(n, (size_t) 1));

        ASSERT_TRUE(p);
        test_fill_random(p, n, seed);
        return p;
}

TEST(sig_params_scale_with_size) {
        size_t block, strong, small_block;

        yb_sig_params(64 * 1024, &small_block, &strong);
        ASSERT_EQ(small_block, PAGE);
        yb_sig_params(256ULL * MIB, &block, &strong);
        ASSERT_EQ(block, PAGE); /* a database page */
        ASSERT_GE(strong, 8);
        ASSERT_LE(strong, 32);
        yb_sig_params(1024ULL * MIB, &block, &strong);
        ASSERT_EQ(block, PAGE);
        yb_sig_params(8192ULL * MIB, &block, &strong);
        ASSERT_GT(block, PAGE);
        ASSERT_LE(8192ULL * MIB / block, 256 * 1024); /* the signature stays under 256 Ki blocks */
        ASSERT_GE(strong, 8);
        ASSERT_LE(strong, 32);
}

TEST(delta_of_small_change_is_small) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *basis = random_bytes(MIB, 1), *now = malloc(MIB);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT, out = YB_BUF_INIT;
        static const size_t pages[] = { 17, 101, 200 }; /* 3 of 256 pages: just over 1% */
        const size_t changed = ELEMENTSOF(pages) * PAGE;

        ASSERT_TRUE(now);
        memcpy(now, basis, MIB);
        for (size_t i = 0; i < ELEMENTSOF(pages); i++)
                test_fill_random(now + pages[i] * PAGE, PAGE, 1000 + i);

        signature_of(basis, MIB, 0, &sig);
        ASSERT_LT(sig.size, MIB / 50); /* a few dozen bytes per 4 KiB block */
        delta_of(&sig, now, MIB, 65536, &delta);
        ASSERT_LT(delta.size, 3 * changed);
        ASSERT_GE(delta.size, changed); /* the new pages are random: stored literally */

        ASSERT_OK(patch(d, basis, MIB, &delta, 0, &out));
        ASSERT_EQ(out.size, MIB);
        ASSERT_MEMEQ(out.data, now, MIB);
}

TEST(delta_of_unchanged_file_is_tiny) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *basis = random_bytes(MIB, 2);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT, out = YB_BUF_INIT;

        signature_of(basis, MIB, 0, &sig);
        delta_of(&sig, basis, MIB, 0, &delta);
        ASSERT_LT(delta.size, 64);
        ASSERT_OK(patch(d, basis, MIB, &delta, 0, &out));
        ASSERT_EQ(out.size, MIB);
        ASSERT_MEMEQ(out.data, basis, MIB);
}

TEST(streaming_with_odd_buffer_sizes) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        const size_t n = 96 * 1024 + 123;
        _cleanup_free_ uint8_t *basis = random_bytes(n, 3), *now = malloc(n + 5000);
        _cleanup_(yb_buf_done) YbBuf first_sig = YB_BUF_INIT;

        /* The new version: a page rewritten, bytes inserted (shifting the rest), a grown tail. */
        ASSERT_TRUE(now);
        memcpy(now, basis, 10000);
        memcpy(now + 10000, "inserted", 8);
        memcpy(now + 10008, basis + 10000, n - 10000);
        test_fill_random(now + 50000, PAGE, 4);
        test_fill_random(now + n + 8, 5000 - 8, 5);

        for (size_t i = 0; i < ELEMENTSOF(chunkings); i++) {
                _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT;
                _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;

                signature_of(basis, n, chunkings[i], &sig);
                if (i == 0)
                        ASSERT_OK(yb_buf_append(&first_sig, sig.data, sig.size));
                ASSERT_EQ(sig.size, first_sig.size); /* the same however it was fed */
                ASSERT_MEMEQ(sig.data, first_sig.data, sig.size);
                delta_of(&sig, now, n + 5000, chunkings[i], &delta);
                ASSERT_LT(delta.size, (n + 5000) / 4); /* most blocks still match */
                ASSERT_OK(patch(d, basis, n, &delta, chunkings[(i + 3) % ELEMENTSOF(chunkings)],
                                &out));
                ASSERT_EQ(out.size, n + 5000);
                ASSERT_MEMEQ(out.data, now, n + 5000);
        }
}

TEST(empty_and_tiny_files) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        static const struct {
                const char *basis, *now;
        } cases[] = { { "", "" }, { "", "new" }, { "old", "" }, { "abc", "abcd" } };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT;
                _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
                size_t nb = strlen(cases[i].basis), nn = strlen(cases[i].now);

                signature_of(cases[i].basis, nb, 0, &sig);
                delta_of(&sig, cases[i].now, nn, 0, &delta);
                ASSERT_OK(patch(d, cases[i].basis, nb, &delta, 0, &out));
                ASSERT_EQ(out.size, nn);
                ASSERT_MEMEQ(out.data, cases[i].now, nn);
        }
}

TEST(patch_with_wrong_basis_fails) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *basis = random_bytes(256 * 1024, 6), *now = malloc(256 * 1024);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT, out = YB_BUF_INIT;

        ASSERT_TRUE(now);
        memcpy(now, basis, 256 * 1024);
        test_fill_random(now + 8 * PAGE, PAGE, 7);
        signature_of(basis, 256 * 1024, 0, &sig);
        delta_of(&sig, now, 256 * 1024, 0, &delta);

        /* The delta copies from the whole basis; half of it is not there. */
        ASSERT_ERR(patch(d, basis, 128 * 1024, &delta, 0, &out), EBADMSG);
        yb_buf_clear(&out);
        ASSERT_ERR(patch(d, basis, 0, &delta, 0, &out), EBADMSG);
}

TEST(damaged_delta_rejected) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *basis = random_bytes(64 * 1024, 8), *now = malloc(64 * 1024);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT;

        ASSERT_TRUE(now);
        memcpy(now, basis, 64 * 1024);
        test_fill_random(now + 3 * PAGE, PAGE, 9);
        signature_of(basis, 64 * 1024, 0, &sig);
        delta_of(&sig, now, 64 * 1024, 0, &delta);

        /* Cut short anywhere: in the magic, in a command, in literal data, before the end. */
        size_t cuts[] = { 0, 2, 4, 5, delta.size / 3, delta.size / 2, delta.size - 1 };
        for (size_t i = 0; i < ELEMENTSOF(cuts); i++) {
                _cleanup_(yb_buf_done) YbBuf cut = YB_BUF_INIT, out = YB_BUF_INIT;

                ASSERT_OK(yb_buf_append(&cut, delta.data, cuts[i]));
                ASSERT_ERR(patch(d, basis, 64 * 1024, &cut, 0, &out), EBADMSG);
        }

        _cleanup_(yb_buf_done) YbBuf junk = YB_BUF_INIT, out = YB_BUF_INIT;
        ASSERT_OK(yb_buf_append(&junk, "this is not a librsync delta", 28));
        ASSERT_ERR(patch(d, basis, 64 * 1024, &junk, 0, &out), EBADMSG);
}

TEST(signature_load_rejects_garbage) {
        _cleanup_free_ uint8_t *basis = random_bytes(64 * 1024, 10);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT;
        YbSignature *s = NULL;

        ASSERT_ERR(yb_signature_load("not a signature", 15, &s), EBADMSG);
        ASSERT_ERR(yb_signature_load("", 0, &s), EBADMSG);
        signature_of(basis, 64 * 1024, 0, &sig);
        ASSERT_ERR(yb_signature_load(sig.data, 3, &s), EBADMSG);  /* inside the magic */
        ASSERT_ERR(yb_signature_load(sig.data, 10, &s), EBADMSG); /* inside the header */
        ASSERT_TRUE(s == NULL);
}

/* Our signatures and deltas are librsync's own format: stock rdiff reads them. */
TEST(interoperates_with_rdiff) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *basis = random_bytes(200000, 11), *now = malloc(200000);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT, theirs = YB_BUF_INIT;

        if (test_run("command -v rdiff >/dev/null") != 0)
                skip();
        ASSERT_TRUE(now);
        memcpy(now, basis, 200000);
        test_fill_random(now + 12345, 3000, 12);
        signature_of(basis, 200000, 0, &sig);
        delta_of(&sig, now, 200000, 0, &delta);
        test_write_file(d->fd, "old", basis, 200000);
        test_write_file(d->fd, "new", now, 200000);
        test_write_file(d->fd, "sig", sig.data, sig.size);
        test_write_file(d->fd, "delta", delta.data, delta.size);

        /* rdiff applies our delta ... */
        ASSERT_EQ(test_run("cd '%s' && rdiff patch old delta out", d->path), 0);
        test_read_file(d->fd, "out", &out);
        ASSERT_EQ(out.size, 200000);
        ASSERT_MEMEQ(out.data, now, 200000);

        /* ... and makes a delta from our signature that we apply. */
        ASSERT_EQ(test_run("cd '%s' && rdiff delta sig new theirs", d->path), 0);
        test_read_file(d->fd, "theirs", &theirs);
        yb_buf_clear(&out);
        ASSERT_OK(patch(d, basis, 200000, &theirs, 0, &out));
        ASSERT_EQ(out.size, 200000);
        ASSERT_MEMEQ(out.data, now, 200000);
}

TEST(callback_errors_propagate) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *data = random_bytes(100000, 13);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT, out = YB_BUF_INIT;
        _cleanup_(yb_signature_freep) YbSignature *s = NULL;
        _cleanup_(yb_delta_freep) YbDeltaJob *job = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        signature_of(data, 100000, 0, &sig);
        ASSERT_OK(yb_signature_load(sig.data, sig.size, &s));
        ASSERT_OK(yb_delta_new(s, test_write_enospc, NULL, &job));
        r = yb_delta_feed(job, data, 100000);
        if (r >= 0)
                r = yb_delta_finish(job);
        ASSERT_ERR(r, ENOSPC);

        test_write_file(d->fd, "basis", data, 100000);
        fd = openat(d->fd, "basis", O_RDONLY | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_ERR(yb_patch(fd, test_read_eio, NULL, test_buf_write, &out), EIO);
        delta_of(&sig, data, 100000, 0, &delta);
        TestSource src = TEST_SOURCE(delta.data, delta.size, 0);
        ASSERT_ERR(yb_patch(fd, test_source_read, &src, test_write_enospc, NULL), ENOSPC);
}

/* librsync's own signature of data (rs_sig_file), with the block and strong lengths ours use. */
static void librsync_signature(const void *data, size_t n, YbBuf *ret) {
        FILE *in = tmpfile(), *out = tmpfile();
        size_t block, strong;
        char buf[4096];
        size_t k;

        ASSERT_TRUE(in && out);
        ASSERT_EQ(fwrite(data, 1, n, in), n);
        rewind(in);
        yb_sig_params(n, &block, &strong);
        ASSERT_EQ(rs_sig_file(in, out, block, strong, RS_RK_BLAKE2_SIG_MAGIC, NULL), RS_DONE);
        rewind(out);
        while ((k = fread(buf, 1, sizeof(buf), out)) > 0)
                ASSERT_OK(yb_buf_append(ret, buf, k));
        fclose(in);
        fclose(out);
}

TEST(signature_is_librsyncs_byte_for_byte) {
        static const size_t sizes[] = { 0, 1, 4095, 4096, 4097, 3 * 4096 + 17, MIB + 5 };
        _cleanup_free_ uint8_t *data = random_bytes(MIB + 5, 21);

        for (size_t s = 0; s < ELEMENTSOF(sizes); s++) {
                _cleanup_(yb_buf_done) YbBuf theirs = YB_BUF_INIT;

                librsync_signature(data, sizes[s], &theirs);
                ASSERT_GE(theirs.size, 12);
                for (size_t c = 0; c < ELEMENTSOF(chunkings); c++) {
                        _cleanup_(yb_buf_done) YbBuf ours = YB_BUF_INIT;

                        signature_of(data, sizes[s], chunkings[c], &ours);
                        ASSERT_EQ(ours.size, theirs.size);
                        ASSERT_MEMEQ(ours.data, theirs.data, ours.size);
                }
        }
}

/* The weak sum (core/codec/sigsum.c, a dot product with AVX2) is librsync's RabinKarp sum at every
 * length: blocks longer than its table of powers too (files of 1 GiB and more). */
TEST(weak_sum_is_rabinkarp) {
        static const size_t sizes[] = { 0, 1, 7, 8, 9, 31, 4095, 4096, 4097, 8192, 12345, 65536 };
        _cleanup_free_ uint8_t *p = random_bytes(65536 + 3, 41);

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                uint32_t h = 1; /* librsync's RABINKARP_SEED, multiplier RABINKARP_MULT */

                for (size_t k = 0; k < sizes[i]; k++)
                        h = h * 0x08104225U + p[3 + k];
                ASSERT_EQ(yb_sig_weak(p + 3, sizes[i]), h);
                ASSERT_EQ(yb_sig_weak_scalar(p + 3, sizes[i]), h);
        }
}
