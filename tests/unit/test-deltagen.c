/* The delta and the new signature made in one pass (core/codec/deltagen.h): whatever the change
 * and however the bytes are handed over, librsync's patch rebuilds the new file from the delta,
 * the signature is byte for byte the one yb_sig_builder makes, and parts joined are the whole. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "core/codec/delta.h"
#include "core/codec/deltagen.h"
#include "core/codec/inplace.h"
#include "core/codec/sigsum.h"
#include "tests/unit/test.h"

#define PAGE 4096

static const size_t chunkings[] = { 1, 7, 4096, 65537, 0 };

static int gen_feed_cb(void *g, const void *data, size_t n) {
        return yb_delta_gen_feed(g, data, n);
}

static void signature_of(const void *data, size_t n, YbBuf *ret) {
        _cleanup_(yb_sig_builder_freep) YbSigBuilder *b = NULL;

        ASSERT_OK(yb_sig_builder_new(n, &b));
        ASSERT_OK(yb_sig_builder_feed(b, data, n));
        ASSERT_OK(yb_sig_builder_finish(b, ret));
}

/* A signature with the block and strong lengths given (yb_sig_builder picks them by size). */
static void signature_with(const uint8_t *data, size_t n, size_t block, size_t strong, YbBuf *ret) {
        uint8_t head[YB_SIG_HEADER_SIZE], e[4 + YB_SIG_STRONG_MAX];

        yb_sig_header(block, strong, head);
        ASSERT_OK(yb_buf_append(ret, head, sizeof(head)));
        for (size_t i = 0; i < n; i += block) {
                size_t k = MIN(block, n - i);

                yb_sig_entry(data + i, k, yb_sig_weak(data + i, k), e);
                ASSERT_OK(yb_buf_append(ret, e, 4 + strong));
        }
}

/* One part of data's delta against old_sig, chunk bytes a call (0: all at once). */
static void gen_part(const YbBuf *old_sig, const uint8_t *data, uint64_t size, YbDeltaGenPart part,
                     uint64_t end, size_t chunk, YbBuf *delta, YbBuf *sig) {
        _cleanup_(yb_delta_gen_freep) YbDeltaGen *g = NULL;
        size_t before = delta->size;

        ASSERT_OK(yb_delta_gen_new(old_sig->data, old_sig->size, size, part, test_buf_write, delta,
                                   &g));
        ASSERT_OK(test_feed(gen_feed_cb, g, data + part.start, (size_t) (end - part.start), chunk));
        ASSERT_OK(yb_delta_gen_finish(g, sig));
        ASSERT_EQ(yb_delta_gen_in_bytes(g), end - part.start);
        ASSERT_EQ(yb_delta_gen_out_bytes(g), delta->size - before);
}

static void gen_whole(const YbBuf *old_sig, const uint8_t *data, size_t n, size_t chunk,
                      YbBuf *delta, YbBuf *sig) {
        gen_part(old_sig, data, n, YB_DELTA_GEN_WHOLE, n, chunk, delta, sig);
}

/* Applies delta to basis with librsync's patch (yb_patch). */
static void patch(const TestTmpdir *d, const void *basis, size_t basis_size, const YbBuf *delta,
                  YbBuf *ret) {
        _cleanup_close_ int fd = -EBADF;
        TestSource src = TEST_SOURCE(delta->data, delta->size, 0);

        test_write_file(d->fd, "basis", basis, basis_size);
        fd = openat(d->fd, "basis", O_RDONLY | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(yb_patch(fd, test_source_read, &src, test_buf_write, ret));
}

/* The delta patched onto old gives now (m bytes), into out; sig is want_sig. */
static void check_result(const TestTmpdir *d, const uint8_t *old, size_t n, const uint8_t *now,
                         size_t m, const YbBuf *delta, YbBuf *out, const YbBuf *sig,
                         const YbBuf *want_sig) {
        patch(d, old, n, delta, out);
        ASSERT_EQ(out->size, m);
        ASSERT_MEMEQ(out->data, now, m);
        ASSERT_EQ(sig->size, want_sig->size);
        ASSERT_MEMEQ(sig->data, want_sig->data, sig->size);
}

/* Random pages with some all-zero and some repeated ones, as a database file has. */
static uint8_t *old_file(size_t n, uint64_t seed) {
        uint8_t *p = malloc(MAX(n, (size_t) 1));

        ASSERT_TRUE(p);
        test_fill_random(p, n, seed);
        for (size_t pg = 0; pg * PAGE < n; pg++) {
                size_t k = MIN((size_t) PAGE, n - pg * PAGE);

                if (pg % 7 == 3)
                        memset(p + pg * PAGE, 0, k);
                else if (pg % 11 == 5 && pg > 0)
                        memcpy(p + pg * PAGE, p, k);
        }
        return p;
}

typedef enum {
        SAME,
        PAGES,
        INSERT,
        REMOVE,
        APPEND,
        TRUNCATE,
        SWAP,
        ZEROS_MOVED,
        ALL_NEW,
        TINY,
        _PATTERN_MAX,
} Pattern;

static const char *const pattern_names[] = { "same",    "pages",    "insert", "remove",
                                             "append",  "truncate", "swap",   "zeros-moved",
                                             "all-new", "tiny" };

/* The new content after change pattern pt of old (n bytes); its size in *ret_n. */
static uint8_t *changed(const uint8_t *old, size_t n, Pattern pt, size_t *ret_n) {
        size_t m = n + 20000;
        uint8_t *p = malloc(m);

        ASSERT_TRUE(p);
        memcpy(p, old, n);
        m = n;
        switch (pt) {
        case SAME:
                break;
        case PAGES:
                for (size_t pg = 2; pg * PAGE + PAGE <= n; pg += 9)
                        test_fill_random(p + pg * PAGE + 100, 300, pg);
                break;
        case INSERT: /* 100 bytes in at 5000: everything after moves */
                memmove(p + 5100, old + 5000, n - 5000);
                test_fill_random(p + 5000, 100, 3);
                m = n + 100;
                break;
        case REMOVE:
                memmove(p + 9000, old + 9777, n - 9777);
                m = n - 777;
                break;
        case APPEND:
                test_fill_random(p + n, 10001, 4);
                m = n + 10001;
                break;
        case TRUNCATE:
                m = n / 2 + 333;
                break;
        case SWAP:
                memcpy(p + PAGE, old + 5 * PAGE, PAGE);
                memcpy(p + 5 * PAGE, old + PAGE, PAGE);
                break;
        case ZEROS_MOVED:
                memset(p + 2 * PAGE, 0, PAGE);
                memcpy(p + 3 * PAGE, old + 2 * PAGE, PAGE);
                break;
        case ALL_NEW:
                test_fill_random(p, n, 99);
                break;
        case TINY:
                m = 100;
                break;
        default:
                abort();
        }
        *ret_n = m;
        return p;
}

TEST(patch_rebuilds_every_change_and_the_signature_is_the_builders) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        static const size_t sizes[] = { 64 * PAGE + 1234, 80 * PAGE };

        for (size_t si = 0; si < ELEMENTSOF(sizes); si++) {
                size_t n = sizes[si];
                _cleanup_free_ uint8_t *old = old_file(n, si + 1);
                _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT;

                signature_of(old, n, &old_sig);
                for (Pattern pt = 0; pt < _PATTERN_MAX; pt++) {
                        size_t m;
                        _cleanup_free_ uint8_t *now = changed(old, n, pt, &m);
                        _cleanup_(yb_buf_done) YbBuf want_sig = YB_BUF_INIT;

                        signature_of(now, m, &want_sig);
                        for (size_t c = 0; c < ELEMENTSOF(chunkings); c++) {
                                _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT;
                                _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;

                                print_message("size %zu, %s, chunks of %zu\n", n, pattern_names[pt],
                                              chunkings[c]);
                                gen_whole(&old_sig, now, m, chunkings[c], &delta, &sig);
                                check_result(d, old, n, now, m, &delta, &out, &sig, &want_sig);
                        }
                }
        }
}

/* A big file's parts, made separately and joined, are the whole file's delta and signature. */
TEST(parts_joined_are_the_whole) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        size_t n = 96 * PAGE + 77;
        _cleanup_free_ uint8_t *old = old_file(n, 5);
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT;

        signature_of(old, n, &old_sig);
        for (Pattern pt = 0; pt < _PATTERN_MAX; pt++) {
                size_t m;
                _cleanup_free_ uint8_t *now = changed(old, n, pt, &m);
                _cleanup_(yb_buf_done) YbBuf want_sig = YB_BUF_INIT;

                if (m <= 40 * PAGE)
                        continue; /* the cut below would be past the end */
                signature_of(now, m, &want_sig);
                for (uint64_t cut = PAGE; cut <= 40 * PAGE; cut += 13 * PAGE) {
                        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT;
                        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
                        YbDeltaGenPart first = { .start = 0, .head = true };
                        YbDeltaGenPart second = { .start = cut, .tail = true };

                        print_message("%s, cut at %" PRIu64 "\n", pattern_names[pt], cut);
                        gen_part(&old_sig, now, m, first, cut, 65536, &delta, &sig);
                        gen_part(&old_sig, now, m, second, m, 7000, &delta, &sig);
                        check_result(d, old, n, now, m, &delta, &out, &sig, &want_sig);
                }
        }
}

/* What it finds: moved bytes after an insertion, the old file's short last block, and pages
 * changed where they are as a delta restore applies in place, zero pages included. */
TEST(finds_what_librsync_would_and_keeps_offsets) {
        size_t n = 256 * PAGE + 999, m;
        _cleanup_free_ uint8_t *old = old_file(n, 7);
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT;
        static const Pattern in_place[] = { SAME, PAGES, APPEND, TRUNCATE };

        signature_of(old, n, &old_sig);
        {
                _cleanup_free_ uint8_t *now = changed(old, n, INSERT, &m);
                _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT;

                gen_whole(&old_sig, now, m, 0, &delta, &sig);
                /* the 100 bytes, the block they broke and the short tail, little more */
                ASSERT_LT(delta.size, 100 + 2 * PAGE + 999 + 200);
        }
        {
                _cleanup_free_ uint8_t *now = changed(old, n, SAME, &m);
                _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT;

                gen_whole(&old_sig, now, m, 3000, &delta, &sig);
                /* magic, one copy of the whole file (the short last block too), END */
                ASSERT_EQ(delta.size, 4 + 1 + 1 + 4 + 1);
        }
        for (size_t i = 0; i < ELEMENTSOF(in_place); i++) {
                _cleanup_free_ uint8_t *now = changed(old, n, in_place[i], &m);
                _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT;
                uint64_t size = 0;

                print_message("%s\n", pattern_names[in_place[i]]);
                gen_whole(&old_sig, now, m, 65536, &delta, &sig);
                ASSERT_EQ(yb_delta_in_place(delta.data, delta.size, &size), 1);
                ASSERT_EQ(size, m);
        }
}

/* Old and new blocks of other lengths (a file that grew past 1 GiB): still right, found by
 * the old blocks and summed by the new. */
TEST(old_blocks_of_another_length) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        size_t n = 64 * PAGE + 5, m;
        _cleanup_free_ uint8_t *old = old_file(n, 9);
        _cleanup_free_ uint8_t *now = changed(old, n, PAGES, &m);
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT, want_sig = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT, out = YB_BUF_INIT;

        signature_with(old, n, 2 * PAGE, 12, &old_sig);
        signature_of(now, m, &want_sig);
        gen_whole(&old_sig, now, m, 5000, &delta, &sig);
        check_result(d, old, n, now, m, &delta, &out, &sig, &want_sig);
        ASSERT_LT(delta.size, m / 2); /* it found the unchanged blocks */
}

TEST(refuses_what_is_not_a_signature_or_a_part) {
        uint8_t data[PAGE * 3] = { 0 };
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT, out = YB_BUF_INIT;
        _cleanup_(yb_delta_gen_freep) YbDeltaGen *g = NULL;
        YbDeltaGenPart odd = { .start = 100, .tail = true }, head = { .head = true };

        signature_of(data, sizeof(data), &sig);
        ASSERT_ERR(yb_delta_gen_new("junk", 4, 10, YB_DELTA_GEN_WHOLE, test_buf_write, &delta, &g),
                   EBADMSG);
        ASSERT_ERR(yb_delta_gen_new(sig.data, YB_SIG_HEADER_SIZE - 1, 10, YB_DELTA_GEN_WHOLE,
                                    test_buf_write, &delta, &g),
                   EBADMSG);
        ASSERT_ERR(yb_delta_gen_new(sig.data, sig.size - 1, 10, YB_DELTA_GEN_WHOLE, test_buf_write,
                                    &delta, &g),
                   EBADMSG);
        sig.data[0] ^= 1; /* another magic (librsync's MD4 or BLAKE2 without RabinKarp) */
        ASSERT_ERR(yb_delta_gen_new(sig.data, sig.size, 10, YB_DELTA_GEN_WHOLE, test_buf_write,
                                    &delta, &g),
                   EBADMSG);
        sig.data[0] ^= 1;
        ASSERT_ERR(
                yb_delta_gen_new(sig.data, sig.size, sizeof(data), odd, test_buf_write, &delta, &g),
                EINVAL);
        ASSERT_TRUE(g == NULL);
        /* A first part must end on a block's boundary. */
        ASSERT_OK(yb_delta_gen_new(sig.data, sig.size, sizeof(data), head, test_buf_write, &delta,
                                   &g));
        ASSERT_OK(yb_delta_gen_feed(g, data, PAGE + 1));
        ASSERT_ERR(yb_delta_gen_finish(g, &out), EINVAL);
}

/* Stock rdiff applies our deltas, moved bytes and all. */
TEST(rdiff_applies_it) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        size_t n = 100 * PAGE + 3, m;
        _cleanup_free_ uint8_t *old = old_file(n, 13);
        _cleanup_free_ uint8_t *now = changed(old, n, INSERT, &m);
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT, delta = YB_BUF_INIT, sig = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;

        if (test_run("command -v rdiff >/dev/null") != 0)
                skip();
        signature_of(old, n, &old_sig);
        gen_whole(&old_sig, now, m, 0, &delta, &sig);
        test_write_file(d->fd, "old", old, n);
        test_write_file(d->fd, "delta", delta.data, delta.size);
        ASSERT_EQ(test_run("cd '%s' && rdiff patch old delta out", d->path), 0);
        test_read_file(d->fd, "out", &out);
        ASSERT_EQ(out.size, m);
        ASSERT_MEMEQ(out.data, now, m);
}

/* A file of zeros: every old block is in one group of equal sums. Each match used to walk the
 * whole group to find its end (a 1 GiB zero file's 256 Ki blocks: 2^36 compares, hours); the
 * groups are searched in halves now. 4 MiB of zeros in 16-byte blocks is 256 Ki blocks. It is
 * one copy, the blocks taken in order. */
TEST(zeros_are_one_copy_however_many_blocks) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        size_t n = 4 << 20;
        _cleanup_free_ uint8_t *zeros = calloc(n, 1);
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT, want_sig = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT, out = YB_BUF_INIT;
        /* the magic; COPY (1-byte start, 4-byte length) of 4 MiB from 0; END */
        static const uint8_t one_copy[] = { 0x72, 0x73, 0x02, 0x36, 0x47, 0x00,
                                            0x00, 0x40, 0x00, 0x00, 0x00 };

        ASSERT_TRUE(zeros);
        signature_with(zeros, n, 16, 8, &old_sig);
        signature_of(zeros, n, &want_sig);
        gen_whole(&old_sig, zeros, n, 65536, &delta, &sig);
        ASSERT_EQ(delta.size, sizeof(one_copy));
        ASSERT_MEMEQ(delta.data, one_copy, sizeof(one_copy));
        ASSERT_EQ(sig.size, want_sig.size);
        ASSERT_MEMEQ(sig.data, want_sig.data, sig.size);
        patch(d, zeros, n, &delta, &out);
        ASSERT_EQ(out.size, n);
        ASSERT_MEMEQ(out.data, zeros, n);
}

/* An old signature of 1 MiB blocks (the longest accepted: YB_SIG_BLOCK_MAX; longer ones are
 * refused) against a small file: its one block is the old file's last, short one, found only at
 * the new file's end. The window grows as it must, and the weak sum's multiplier is raised to
 * the block length by squaring. */
TEST(old_blocks_of_the_longest_length) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        size_t n = 6 * PAGE + 5, m;
        _cleanup_free_ uint8_t *old = old_file(n, 21);
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT;

        signature_with(old, n, YB_SIG_BLOCK_MAX, 16, &old_sig);
        for (Pattern pt = 0; pt < _PATTERN_MAX; pt++) {
                _cleanup_free_ uint8_t *now = changed(old, n, pt, &m);
                _cleanup_(yb_buf_done) YbBuf want_sig = YB_BUF_INIT, delta = YB_BUF_INIT;
                _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, out = YB_BUF_INIT;

                print_message("%s\n", pattern_names[pt]);
                signature_of(now, m, &want_sig);
                gen_whole(&old_sig, now, m, 1000, &delta, &sig);
                check_result(d, old, n, now, m, &delta, &out, &sig, &want_sig);
                if (pt == SAME)
                        ASSERT_EQ(delta.size, 4 + 1 + 1 + 2 + 1); /* one copy of it all */
        }
}

typedef struct Failing {
        YbBuf buf;
        size_t budget; /* bytes it takes before it fails */
        unsigned calls_after;
} Failing;

static int failing_write(void *userdata, const void *data, size_t n) {
        Failing *f = userdata;

        if (f->budget < n) {
                f->calls_after++;
                return -EIO;
        }
        f->budget -= n;
        return yb_buf_append(&f->buf, data, n);
}

/* The delta's writer failing at any point: the failure comes back from the feed or the finish
 * it happened in, whatever the generator was doing (a literal, a copy, the magic, the END). */
TEST(a_failing_writer_fails_the_delta) {
        size_t n = 40 * PAGE + 77, m;
        _cleanup_free_ uint8_t *old = old_file(n, 31);
        _cleanup_free_ uint8_t *now = changed(old, n, ALL_NEW, &m);
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT, whole = YB_BUF_INIT, sig = YB_BUF_INIT;
        size_t budgets[] = { 0, 3, 4, 5, 6, 100, 65535, 65536, 0, 0, 0 };

        signature_of(old, n, &old_sig);
        gen_whole(&old_sig, now, m, 0, &whole, &sig);
        ASSERT_GT(whole.size, 65536 + 100); /* literals past the output buffer */
        budgets[ELEMENTSOF(budgets) - 3] = whole.size / 2;
        budgets[ELEMENTSOF(budgets) - 2] = whole.size - 2;
        budgets[ELEMENTSOF(budgets) - 1] = whole.size - 1;
        for (size_t i = 0; i < ELEMENTSOF(budgets); i++) {
                _cleanup_(yb_delta_gen_freep) YbDeltaGen *g = NULL;
                _cleanup_(yb_buf_done) YbBuf s = YB_BUF_INIT;
                Failing f = { .buf = YB_BUF_INIT, .budget = budgets[i] };
                int r = yb_delta_gen_new(old_sig.data, old_sig.size, m, YB_DELTA_GEN_WHOLE,
                                         failing_write, &f, &g);

                print_message("fails after %zu bytes\n", budgets[i]);
                ASSERT_OK(r);
                for (size_t at = 0; r >= 0 && at < m; at += 3000)
                        r = yb_delta_gen_feed(g, now + at, MIN((size_t) 3000, m - at));
                if (r >= 0)
                        r = yb_delta_gen_finish(g, &s);
                ASSERT_ERR(r, EIO);
                ASSERT_EQ(f.calls_after, 1U);
                ASSERT_LE(f.buf.size, budgets[i]);
                ASSERT_MEMEQ(f.buf.data, whole.data, f.buf.size); /* what got out was right */
                yb_buf_done(&f.buf);
        }
}

/* A copy from past 4 GiB in the old file: its start takes 8 bytes (COPY_N8_N4). The old file is
 * sparse but for its 4097th 1 MiB block, which the new file begins with; the signature's other
 * entries are made up (nothing matches them). */
TEST(copies_from_past_4_gib) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        const size_t block = (size_t) 1 << 20, m = block + 10;
        const uint64_t at = (uint64_t) 4096 * block; /* 2^32 */
        _cleanup_free_ uint8_t *now = malloc(m);
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT, want_sig = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT, out = YB_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        uint8_t head[YB_SIG_HEADER_SIZE], e[4 + YB_SIG_STRONG_MAX] = { 0 };
        uint8_t want[] = { 0x53, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x10, 0, 0 };
        TestSource src;

        ASSERT_TRUE(now);
        test_fill_random(now, m, 41);
        yb_sig_header(block, 16, head);
        ASSERT_OK(yb_buf_append(&old_sig, head, sizeof(head)));
        for (uint32_t i = 0; i < 4096; i++) {
                uint32_t w = i * 2654435761U + 12345;

                memcpy(e, &w, sizeof(w));
                ASSERT_OK(yb_buf_append(&old_sig, e, 4 + 16));
        }
        yb_sig_entry(now, block, yb_sig_weak(now, block), e);
        ASSERT_OK(yb_buf_append(&old_sig, e, 4 + 16));
        signature_of(now, m, &want_sig);
        gen_whole(&old_sig, now, m, 100000, &delta, &sig);
        ASSERT_EQ(delta.size, 4 + sizeof(want) + 1 + 10 + 1);
        ASSERT_MEMEQ(delta.data + 4, want, sizeof(want));
        ASSERT_MEMEQ(delta.data + 4 + sizeof(want) + 1, now + block, 10);
        ASSERT_EQ(sig.size, want_sig.size);
        ASSERT_MEMEQ(sig.data, want_sig.data, sig.size);
        fd = openat(d->fd, "old", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        ASSERT_OK(fd);
        ASSERT_EQ(pwrite(fd, now, block, (off_t) at), (ssize_t) block);
        src = TEST_SOURCE(delta.data, delta.size, 0);
        ASSERT_OK(yb_patch(fd, test_source_read, &src, test_buf_write, &out));
        ASSERT_EQ(out.size, m);
        ASSERT_MEMEQ(out.data, now, m);
}

/* Fed a byte at a time against 1 MiB old blocks: where the window ended on a block that matched
 * nothing, the next feed summed the block after it afresh (a block's length of work a feed:
 * 2^20 a byte here, days); now the sum rolls on. The delta is the one fed at once: the new
 * bytes, then the old file whole. */
TEST(fed_a_byte_at_a_time_against_long_blocks) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        const size_t block = (size_t) 1 << 20, n = block, m = 2 * block;
        _cleanup_free_ uint8_t *old = malloc(n), *now = malloc(m);
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT, want = YB_BUF_INIT, sig = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, want_sig = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;

        ASSERT_TRUE(old && now);
        test_fill_random(old, n, 51);
        test_fill_random(now, block, 52);
        memcpy(now + block, old, n);
        signature_with(old, n, block, 16, &old_sig);
        gen_whole(&old_sig, now, m, 0, &want, &want_sig);
        ASSERT_LT(want.size, block + 100); /* it found the old block */
        gen_whole(&old_sig, now, m, 1, &delta, &sig);
        ASSERT_EQ(delta.size, want.size);
        ASSERT_MEMEQ(delta.data, want.data, want.size);
        ASSERT_EQ(sig.size, want_sig.size);
        ASSERT_MEMEQ(sig.data, want_sig.data, sig.size);
        patch(d, old, n, &delta, &out);
        ASSERT_EQ(out.size, m);
        ASSERT_MEMEQ(out.data, now, m);
}
