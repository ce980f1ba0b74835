/* A changed file's new signature borrowed from the old one where the delta copied whole blocks:
 * byte for byte librsync's own signature of the new content, whatever the change and block
 * length, or refused (0) when the delta does not prove the borrowed sums. */
#include <librsync.h>

#include "core/codec/delta.h"
#include "core/codec/sigreuse.h"
#include "tests/unit/test.h"

#define PAGE 4096
#define SIZE (64 * PAGE + 1000)

static const size_t chunkings[] = { 1, 7, 4096, 65536, 0 };

/* librsync's own signature of data. */
static void rs_signature(const void *data, size_t n, size_t block, size_t strong, YbBuf *ret) {
        rs_job_t *job = rs_sig_begin(block, strong, RS_RK_BLAKE2_SIG_MAGIC);
        uint8_t out[4096];
        rs_buffers_t b = { .next_in = (char *) data, .avail_in = n, .eof_in = 1 };
        rs_result res;

        ASSERT_TRUE(job);
        do {
                b.next_out = (char *) out;
                b.avail_out = sizeof(out);
                res = rs_job_iter(job, &b);
                ASSERT_OK(yb_buf_append(ret, out, sizeof(out) - b.avail_out));
        } while (res == RS_BLOCKED);
        ASSERT_EQ(res, RS_DONE);
        rs_job_free(job);
}

static int delta_feed_cb(void *d, const void *data, size_t n) {
        return yb_delta_feed(d, data, n);
}

static int reuse_feed_cb(void *s, const void *data, size_t n) {
        return yb_sig_reuse_feed(s, data, n);
}

static int reuse_delta_cb(void *s, const void *data, size_t n) {
        yb_sig_reuse_delta(s, data, n);
        return 0;
}

/* Borrows the signature of now from that of old; 1 (having checked it is librsync's own) or 0. */
static int borrow(const uint8_t *old, size_t on, const uint8_t *now, size_t nn, size_t block,
                  size_t strong, size_t chunk) {
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT, new_sig = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, got = YB_BUF_INIT;
        _cleanup_(yb_signature_freep) YbSignature *s = NULL;
        _cleanup_(yb_delta_freep) YbDeltaJob *d = NULL;
        _cleanup_(yb_sig_reuse_freep) YbSigReuse *r = NULL;
        int k;

        rs_signature(old, on, block, strong, &old_sig);
        rs_signature(now, nn, block, strong, &new_sig);
        ASSERT_OK(yb_signature_load(old_sig.data, old_sig.size, &s));
        ASSERT_OK(yb_delta_new(s, test_buf_write, &delta, &d));
        ASSERT_OK(test_feed(delta_feed_cb, d, now, nn, chunk));
        ASSERT_OK(yb_delta_finish(d));

        ASSERT_OK(yb_sig_reuse_new_params(old_sig.data, old_sig.size, nn, block, strong, &r));
        ASSERT_TRUE(r);
        ASSERT_OK(test_feed(reuse_feed_cb, r, now, nn, chunk));
        ASSERT_OK(test_feed(reuse_delta_cb, r, delta.data, delta.size, chunk));
        k = yb_sig_reuse_finish(r, &got);
        ASSERT_OK(k);
        if (k == 1) {
                ASSERT_EQ(got.size, new_sig.size);
                ASSERT_MEMEQ(got.data, new_sig.data, got.size);
        } else {
                ASSERT_EQ(got.size, 0);
        }
        return k;
}

static uint8_t *random_bytes(size_t n, uint64_t seed) {
        uint8_t *p = malloc(n);

        ASSERT_TRUE(p);
        test_fill_random(p, n, seed);
        return p;
}

TEST(borrowed_signature_is_librsyncs_own) {
        static const struct {
                size_t block, strong;
        } params[] = { { PAGE, 8 }, { 2 * PAGE, 12 }, { 4 * PAGE, 32 } };
        _cleanup_free_ uint8_t *old = random_bytes(SIZE, 1), *now = malloc(2 * SIZE);
        uint64_t seed = 100;

        ASSERT_TRUE(now);
        for (size_t p = 0; p < ELEMENTSOF(params); p++)
                for (size_t c = 0; c < ELEMENTSOF(chunkings); c++) {
                        size_t b = params[p].block, st = params[p].strong, ch = chunkings[c];

                        /* Unchanged. */
                        ASSERT_EQ(borrow(old, SIZE, old, SIZE, b, st, ch), 1);
                        /* Pages rewritten in place, the last partial block too. */
                        memcpy(now, old, SIZE);
                        test_fill_random(now + 3 * PAGE, PAGE, seed++);
                        test_fill_random(now + 20 * PAGE + 100, 3 * PAGE, seed++);
                        test_fill_random(now + SIZE - 10, 10, seed++);
                        ASSERT_EQ(borrow(old, SIZE, now, SIZE, b, st, ch), 1);
                        /* Grown by a tail. */
                        memcpy(now, old, SIZE);
                        test_fill_random(now + SIZE, 3 * PAGE + 5, seed++);
                        ASSERT_EQ(borrow(old, SIZE, now, SIZE + 3 * PAGE + 5, b, st, ch), 1);
                        /* Cut short, in the middle of a block and on a block's end. */
                        ASSERT_EQ(borrow(old, SIZE, old, 30 * PAGE + 77, b, st, ch), 1);
                        ASSERT_EQ(borrow(old, SIZE, old, 32 * PAGE, b, st, ch), 1);
                        /* Bytes inserted, shifting the rest by less than a block, then by
                         * exactly one. */
                        memcpy(now, old, 5 * PAGE);
                        memcpy(now + 5 * PAGE, "inserted", 8);
                        memcpy(now + 5 * PAGE + 8, old + 5 * PAGE, SIZE - 5 * PAGE);
                        ASSERT_EQ(borrow(old, SIZE, now, SIZE + 8, b, st, ch), 1);
                        test_fill_random(now + 5 * PAGE, b, seed++);
                        memcpy(now + 5 * PAGE + b, old + 5 * PAGE, SIZE - 5 * PAGE);
                        ASSERT_EQ(borrow(old, SIZE, now, SIZE + b, b, st, ch), 1);
                        /* Bytes removed. */
                        memcpy(now, old, 7 * PAGE);
                        memcpy(now + 7 * PAGE, old + 7 * PAGE + 300, SIZE - 7 * PAGE - 300);
                        ASSERT_EQ(borrow(old, SIZE, now, SIZE - 300, b, st, ch), 1);
                }
}

TEST(repeated_blocks_are_borrowed_only_when_proven) {
        /* Zero pages all look alike: a rewritten page ending in zeros lets librsync copy the
         * following zero pages from off their boundaries, and end the run with a literal of
         * zeros. The run is followed through; a signature given is librsync's own (borrow
         * checks it). */
        _cleanup_free_ uint8_t *old = calloc(1, SIZE), *now = calloc(1, SIZE);
        int proven = 0;

        ASSERT_TRUE(old && now);
        test_fill_random(old + 2 * PAGE, PAGE, 7);
        test_fill_random(old + 40 * PAGE, PAGE, 8);
        memcpy(now, old, SIZE);
        test_fill_random(now + 10 * PAGE, PAGE - 100, 9); /* its last 100 bytes zero */
        for (size_t c = 0; c < ELEMENTSOF(chunkings); c++)
                proven += borrow(old, SIZE, now, SIZE, PAGE, 8, chunkings[c]);
        ASSERT_EQ(proven, (int) ELEMENTSOF(chunkings)); /* zero runs are followed through */
        /* All zeros: every block is alike. */
        memset(now, 0, SIZE);
        for (size_t c = 0; c < ELEMENTSOF(chunkings); c++)
                ASSERT_EQ(borrow(now, SIZE, now, SIZE - 5 * PAGE - 3, PAGE, 8, chunkings[c]), 1);
}

TEST(unproven_or_unlike_signatures_refused) {
        _cleanup_free_ uint8_t *old = random_bytes(SIZE, 3);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, got = YB_BUF_INIT;
        _cleanup_(yb_sig_reuse_freep) YbSigReuse *r = NULL;
        uint8_t bad[] = { 'r', 's', 0x02, 0x36, 0x99 };

        rs_signature(old, SIZE, PAGE, 8, &sig);
        /* Another block length or a longer strong sum cannot be borrowed from. */
        ASSERT_OK(yb_sig_reuse_new_params(sig.data, sig.size, SIZE, 2 * PAGE, 8, &r));
        ASSERT_FALSE(r);
        ASSERT_OK(yb_sig_reuse_new_params(sig.data, sig.size, SIZE, PAGE, 9, &r));
        ASSERT_FALSE(r);
        ASSERT_OK(yb_sig_reuse_new_params("junk", 4, SIZE, PAGE, 8, &r));
        ASSERT_FALSE(r);
        /* yb_sig_params's own lengths: as long as they stay the same. */
        ASSERT_OK(yb_sig_reuse_new(sig.data, sig.size, 8192ULL * 1024 * 1024, &r));
        ASSERT_FALSE(r);

        /* No delta, or a damaged one, proves nothing. */
        ASSERT_OK(yb_sig_reuse_new_params(sig.data, sig.size, SIZE, PAGE, 8, &r));
        ASSERT_TRUE(r);
        ASSERT_OK(yb_sig_reuse_feed(r, old, SIZE));
        ASSERT_EQ(yb_sig_reuse_finish(r, &got), 0);
        r = yb_sig_reuse_free(r);
        ASSERT_OK(yb_sig_reuse_new_params(sig.data, sig.size, SIZE, PAGE, 8, &r));
        ASSERT_OK(yb_sig_reuse_feed(r, old, SIZE));
        yb_sig_reuse_delta(r, bad, sizeof(bad));
        ASSERT_EQ(yb_sig_reuse_finish(r, &got), 0);
        ASSERT_EQ(got.size, 0);
}
