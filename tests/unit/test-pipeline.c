/* tests/unit/test-pipeline.c: the block pipeline (core/base/pipeline.c): blocks in order, the
 * end function run once after the last block off the producer's thread, errors told back. */
#include <pthread.h>
#include <sched.h>

#include "core/base/pipeline.h"
#include "tests/unit/test.h"

typedef struct Sink {
        YbBuf got;
        int fail_at;  /* the block that fails with -EIO (1-based), or 0 */
        int end_with; /* what the end function returns */
        int blocks, ends;
        size_t got_at_end; /* bytes consumed when the end function ran */
        pthread_t end_thread;
} Sink;

static int sink_block(void *userdata, const void *data, size_t n) {
        Sink *s = userdata;

        if (++s->blocks == s->fail_at)
                return -EIO;
        return yb_buf_append(&s->got, data, n);
}

static int sink_end(void *userdata) {
        Sink *s = userdata;

        s->ends++;
        s->got_at_end = s->got.size;
        s->end_thread = pthread_self();
        return s->end_with;
}

static void fill(uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (i * 7 + i / 251);
}

TEST(end_runs_once_after_every_block) {
        _cleanup_(yb_buf_done) YbBuf want = YB_BUF_INIT;
        Sink s = { .got = YB_BUF_INIT };
        YbPipeline *p = NULL;
        uint8_t data[10000];

        fill(data, sizeof(data));
        ASSERT_OK(yb_pipeline_new(sink_block, &s, 4096, 2, &p));
        yb_pipeline_set_end(p, sink_end);
        for (size_t i = 0; i < 5; i++) {
                ASSERT_OK(yb_pipeline_write(p, data, sizeof(data)));
                ASSERT_OK(yb_buf_append(&want, data, sizeof(data)));
        }
        ASSERT_OK(yb_pipeline_close(p));
        ASSERT_OK(yb_pipeline_close(p)); /* twice is harmless */
        ASSERT_OK(yb_pipeline_finish(p));
        p = yb_pipeline_free(p);
        ASSERT_EQ(s.ends, 1);
        ASSERT_EQ(s.got_at_end, want.size);
        ASSERT_FALSE(pthread_equal(s.end_thread, pthread_self()));
        ASSERT_EQ(s.got.size, want.size);
        ASSERT_EQ(memcmp(s.got.data, want.data, want.size), 0);
        yb_buf_done(&s.got);
}

TEST(end_error_is_the_pipelines) {
        Sink s = { .got = YB_BUF_INIT, .end_with = -ENOSPC };
        YbPipeline *p = NULL;
        uint8_t data[100];

        fill(data, sizeof(data));
        ASSERT_OK(yb_pipeline_new(sink_block, &s, 64, 2, &p));
        yb_pipeline_set_end(p, sink_end);
        ASSERT_OK(yb_pipeline_write(p, data, sizeof(data)));
        ASSERT_ERR(yb_pipeline_finish(p), ENOSPC);
        p = yb_pipeline_free(p);
        ASSERT_EQ(s.ends, 1);
        yb_buf_done(&s.got);
}

TEST(block_error_skips_end) {
        Sink s = { .got = YB_BUF_INIT, .fail_at = 2 };
        YbPipeline *p = NULL;
        uint8_t data[1000];
        int r = 0;

        fill(data, sizeof(data));
        ASSERT_OK(yb_pipeline_new(sink_block, &s, 64, 2, &p));
        yb_pipeline_set_end(p, sink_end);
        for (size_t i = 0; i < 10 && r >= 0; i++)
                r = yb_pipeline_write(p, data, sizeof(data));
        ASSERT_ERR(yb_pipeline_finish(p), EIO);
        p = yb_pipeline_free(p);
        ASSERT_EQ(s.ends, 0);
        yb_buf_done(&s.got);
}

/* A producer that gives up after closing frees the pipeline without finishing it. */
TEST(free_after_close) {
        Sink s = { .got = YB_BUF_INIT };
        YbPipeline *p = NULL;
        uint8_t data[300];

        fill(data, sizeof(data));
        ASSERT_OK(yb_pipeline_new(sink_block, &s, 64, 2, &p));
        yb_pipeline_set_end(p, sink_end);
        ASSERT_OK(yb_pipeline_write(p, data, sizeof(data)));
        ASSERT_OK(yb_pipeline_close(p));
        p = yb_pipeline_free(p);
        ASSERT_LE(s.ends, 1);
        ASSERT_TRUE(s.got.size <= sizeof(data));
        yb_buf_done(&s.got);
}

/* A source of total bytes (fill's pattern), in pieces of 1, 2, ... 997 bytes; -EIO after them
 * when fail. */
typedef struct Source {
        const uint8_t *data;
        size_t total, pos, piece;
        bool fail;
} Source;

static ssize_t source_fn(void *userdata, void *data, size_t n) {
        Source *s = userdata;
        size_t k = MIN(MIN(n, s->total - s->pos), s->piece % 997 + 1);

        if (k == 0)
                return s->fail ? -EIO : 0;
        memcpy(data, s->data + s->pos, k);
        __atomic_store_n(&s->pos, s->pos + k, __ATOMIC_RELEASE); /* read by the test's thread */
        s->piece++;
        return (ssize_t) k;
}

/* Takes everything from p, lent and copied in turn, into out: the first error, or 0. */
static ssize_t take_all(YbPrefetch *p, YbBuf *out) {
        uint8_t buf[700];

        for (unsigned i = 0;; i++) {
                const void *lent = buf;
                ssize_t k = i % 2 ? yb_prefetch_peek(p, &lent)
                                  : yb_prefetch_read(p, buf, 1 + i % sizeof(buf));

                if (k <= 0)
                        return k;
                if (yb_buf_append(out, lent, (size_t) k) < 0)
                        return -ENOMEM;
        }
}

/* What the thread reads ahead comes out in order, whether lent in place or copied out. */
TEST(prefetch_peek_and_read_in_order) {
        static uint8_t data[100000];
        Source src = { .data = data, .total = sizeof(data) };
        _cleanup_(yb_buf_done) YbBuf got = YB_BUF_INIT;
        _cleanup_(yb_prefetch_freep) YbPrefetch *p = NULL;

        fill(data, sizeof(data));
        ASSERT_OK(yb_prefetch_new(source_fn, &src, 4096, 2, &p));
        ASSERT_EQ(take_all(p, &got), 0);
        ASSERT_EQ(got.size, sizeof(data));
        ASSERT_MEMEQ(got.data, data, sizeof(data));
        ASSERT_EQ(take_all(p, &got), 0); /* the end stays the end */
}

/* A source's error comes after every byte it gave before it. */
TEST(prefetch_error_after_the_bytes) {
        static uint8_t data[10000];
        Source src = { .data = data, .total = sizeof(data), .fail = true };
        _cleanup_(yb_buf_done) YbBuf got = YB_BUF_INIT;
        _cleanup_(yb_prefetch_freep) YbPrefetch *p = NULL;

        fill(data, sizeof(data));
        ASSERT_OK(yb_prefetch_new(source_fn, &src, 4096, 2, &p));
        ASSERT_EQ(take_all(p, &got), -EIO);
        ASSERT_EQ(got.size, sizeof(data));
        ASSERT_MEMEQ(got.data, data, sizeof(data));
}

/* A loan stays whole until the next call, however far the thread reads ahead meanwhile: the
 * thread fills the one block it has spare (then waits for the loan to come back), and the loan
 * is compared once it has; a loan given back early would be refilled with the third block. */
TEST(prefetch_loan_kept_until_the_next_call) {
        static uint8_t data[3 * 4096];
        Source src = { .data = data, .total = sizeof(data) };
        _cleanup_(yb_prefetch_freep) YbPrefetch *p = NULL;
        const void *lent;
        uint8_t copy[4096];

        fill(data, sizeof(data));
        ASSERT_OK(yb_prefetch_new(source_fn, &src, 4096, 2, &p));
        ASSERT_EQ(yb_prefetch_peek(p, &lent), 4096);
        memcpy(copy, lent, sizeof(copy));
        /* The second block is read in any case; a third only into a block given back early. */
        while (__atomic_load_n(&src.pos, __ATOMIC_ACQUIRE) < 2 * 4096)
                sched_yield();
        for (int i = 0; i < 10000 && __atomic_load_n(&src.pos, __ATOMIC_ACQUIRE) < sizeof(data);
             i++)
                sched_yield();
        ASSERT_MEMEQ(lent, copy, sizeof(copy));
        ASSERT_MEMEQ(lent, data, sizeof(copy));
        ASSERT_EQ(yb_prefetch_peek(p, &lent), 4096);
        ASSERT_MEMEQ(lent, data + 4096, 4096);
}
