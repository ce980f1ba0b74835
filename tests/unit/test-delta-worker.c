/* A big file's delta made on a worker thread (agents/delta-worker.c), handed the bytes the main
 * thread reads: one delta of the whole file that restore's patch (yb_patch) and stock `rdiff
 * patch` both apply to give the new file byte for byte, wherever the changes are, and the
 * signature yb_sig_builder makes of the whole file; a worker that gives up gives the file up. */
#include <fcntl.h>
#include <librsync.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "agents/backup-internal.h"
#include "core/codec/delta.h"
#include "core/codec/deltagen.h"
#include "tests/unit/test.h"

#define PAGE 4096
#define OLD_SIZE (512 * PAGE + 123)

/* How the two threads are handed their parts (STYLE.md, "Tests"); 0: at once. */
static const size_t chunkings[] = { 7, 4096, 0 };

static uint32_t be32(const void *p) {
        const uint8_t *b = p;

        return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
}

static int worker_feed_cb(void *w, const void *data, size_t n) {
        return agent_delta_worker_feed(w, data, n);
}

static void signature_of(const void *data, size_t n, YbBuf *ret) {
        _cleanup_(yb_sig_builder_freep) YbSigBuilder *b = NULL;

        ASSERT_OK(yb_sig_builder_new(n, &b));
        ASSERT_OK(yb_sig_builder_feed(b, data, n));
        ASSERT_OK(yb_sig_builder_finish(b, ret));
}

/* Makes the delta and signature of now (nn bytes) against old as file-content.c does, into ret
 * and ret_sig. Returns what agent_delta_worker_feed or _finish returned. */
static int worker_delta(const uint8_t *old, size_t on, const uint8_t *now, size_t nn, size_t chunk,
                        uint64_t probe, YbBuf *ret, YbBuf *ret_sig) {
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT;
        _cleanup_(agent_delta_worker_freep) AgentDeltaWorker *w = NULL;
        int r;

        signature_of(old, on, &old_sig);
        ASSERT_OK(agent_delta_worker_start(old_sig.data, old_sig.size, nn, probe, &w));
        r = test_feed(worker_feed_cb, w, now, nn, chunk);
        if (r < 0)
                return r;
        return agent_delta_worker_finish(w, test_buf_write, ret, ret_sig);
}

/* The delta applied to old, by yb_patch and by rdiff (where installed), gives now. */
static void check_patch(TestTmpdir *d, const uint8_t *old, size_t on, const uint8_t *now, size_t nn,
                        const YbBuf *delta) {
        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT, theirs = YB_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        TestSource src = TEST_SOURCE(delta->data, delta->size, 0);

        ASSERT_EQ(be32(delta->data), RS_DELTA_MAGIC);
        test_write_file(d->fd, "old", old, on);
        fd = openat(d->fd, "old", O_RDONLY | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(yb_patch(fd, test_source_read, &src, test_buf_write, &out));
        ASSERT_EQ(out.size, nn);
        ASSERT_MEMEQ(out.data, now, nn);
        if (test_run("command -v rdiff >/dev/null") != 0)
                return;
        test_write_file(d->fd, "delta", delta->data, delta->size);
        (void) unlinkat(d->fd, "out", 0);
        ASSERT_EQ(test_run("cd '%s' && rdiff patch old delta out", d->path), 0);
        test_read_file(d->fd, "out", &theirs);
        ASSERT_EQ(theirs.size, nn);
        ASSERT_MEMEQ(theirs.data, now, nn);
}

static uint8_t *random_bytes(size_t n, uint64_t seed) {
        uint8_t *p = malloc(n);

        ASSERT_TRUE(p);
        test_fill_random(p, n, seed);
        return p;
}

/* Fed in every chunking: the result patches to now and the signature is the whole file's. */
static void delta_and_patch(const uint8_t *old, size_t on, const uint8_t *now, size_t nn) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_buf_done) YbBuf want_sig = YB_BUF_INIT;

        signature_of(now, nn, &want_sig);
        for (size_t c = 0; c < ELEMENTSOF(chunkings); c++) {
                _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT;

                ASSERT_OK(worker_delta(old, on, now, nn, chunkings[c], UINT64_MAX, &delta, &sig));
                check_patch(d, old, on, now, nn, &delta);
                ASSERT_EQ(sig.size, want_sig.size);
                ASSERT_MEMEQ(sig.data, want_sig.data, sig.size);
        }
}

TEST(one_delta_of_the_whole_file) {
        _cleanup_free_ uint8_t *old = random_bytes(OLD_SIZE, 1);
        _cleanup_free_ uint8_t *now = malloc(OLD_SIZE + 9 * PAGE);
        const size_t mid = OLD_SIZE / 2 / PAGE * PAGE;

        ASSERT_TRUE(now);
        /* Unchanged. */
        delta_and_patch(old, OLD_SIZE, old, OLD_SIZE);
        /* Pages changed in the first half only, in the second only, in both. */
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + 10 * PAGE, PAGE, 2);
        test_fill_random(now + 100 * PAGE + 17, 3 * PAGE, 3);
        delta_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + 300 * PAGE, PAGE, 4);
        test_fill_random(now + OLD_SIZE - 50, 50, 5);
        delta_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        test_fill_random(now + 20 * PAGE, 2 * PAGE, 6);
        delta_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        /* Across the middle, and the page on each side of it. */
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + mid - 100, 200, 7);
        delta_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + mid - PAGE, 2 * PAGE, 8);
        delta_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        /* Grown by a tail; cut short, in a block and on a block's end. */
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + OLD_SIZE, 9 * PAGE, 9);
        delta_and_patch(old, OLD_SIZE, now, OLD_SIZE + 9 * PAGE);
        delta_and_patch(old, OLD_SIZE, old, 400 * PAGE + 55);
        delta_and_patch(old, OLD_SIZE, old, 300 * PAGE);
        /* Bytes inserted in the first half: the second half's blocks are found shifted. */
        memcpy(now, old, 50 * PAGE);
        memcpy(now + 50 * PAGE, "inserted", 8);
        memcpy(now + 50 * PAGE + 8, old + 50 * PAGE, OLD_SIZE - 50 * PAGE);
        delta_and_patch(old, OLD_SIZE, now, OLD_SIZE + 8);
}

TEST(worker_gives_up) {
        const size_t big = AGENT_DELTA_WORKER_OUT_MAX + 64 * PAGE;
        _cleanup_free_ uint8_t *old = random_bytes(OLD_SIZE, 21), *now = malloc(2 * big);
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, delta2 = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, sig2 = YB_BUF_INIT;

        ASSERT_TRUE(now);
        /* Changed throughout: the give-up probe fires. */
        test_fill_random(now, OLD_SIZE, 22);
        ASSERT_ERR(worker_delta(old, OLD_SIZE, now, OLD_SIZE, 0, 16 * PAGE, &delta, &sig),
                   ECANCELED);
        /* Its delta outgrows what it may hold in memory. */
        test_fill_random(now, 2 * big, 23);
        ASSERT_ERR(worker_delta(old, OLD_SIZE, now, 2 * big, 0, UINT64_MAX, &delta2, &sig2),
                   ECANCELED);
}

/* Freed while the worker works, or before it was handed anything: stopped and joined (ASan sees
 * no leak); an old signature that is none refuses to start. */
TEST(freed_while_running_and_refused_signatures) {
        _cleanup_free_ uint8_t *old = random_bytes(OLD_SIZE, 31);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT;
        _cleanup_(agent_delta_worker_freep) AgentDeltaWorker *w = NULL;

        signature_of(old, OLD_SIZE, &sig);
        ASSERT_OK(agent_delta_worker_start(sig.data, sig.size, OLD_SIZE, UINT64_MAX, &w));
        ASSERT_OK(agent_delta_worker_feed(w, old, 100 * PAGE));
        w = agent_delta_worker_free(w);
        ASSERT_OK(agent_delta_worker_start(sig.data, sig.size, OLD_SIZE, UINT64_MAX, &w));
        w = agent_delta_worker_free(w);
        ASSERT_ERR(agent_delta_worker_start("junk", 4, OLD_SIZE, UINT64_MAX, &w), EBADMSG);
        ASSERT_TRUE(w == NULL);
}
