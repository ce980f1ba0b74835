/* A big file's delta made in two halves by two threads (agents/delta-split.c): the first half's
 * delta without its END, then the second's without its magic, is a delta of the whole file that
 * restore's patch (yb_patch) and stock `rdiff patch` both apply to give the new file byte for
 * byte, wherever the changes are; a second half read differently from the bytes the main thread
 * hashed is caught by its weak sums; a worker that gives up gives the file up. */
#include <fcntl.h>
#include <librsync.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "agents/backup-internal.h"
#include "core/codec/delta.h"
#include "core/codec/sigreuse.h"
#include "tests/unit/test.h"

#define PAGE 4096
#define OLD_SIZE (512 * PAGE + 123)

/* How the main thread is handed its half (STYLE.md, "Tests"); 0: at once. */
static const size_t chunkings[] = { 7, 4096, 0 };

static uint32_t be32(const void *p) {
        const uint8_t *b = p;

        return (uint32_t) b[0] << 24 | (uint32_t) b[1] << 16 | (uint32_t) b[2] << 8 | b[3];
}

static int delta_feed_cb(void *d, const void *data, size_t n) {
        return yb_delta_feed(d, data, n);
}

static void signature_of(const void *data, size_t n, YbBuf *ret) {
        _cleanup_(yb_sig_builder_freep) YbSigBuilder *b = NULL;

        ASSERT_OK(yb_sig_builder_new(n, &b));
        ASSERT_OK(yb_sig_builder_feed(b, data, n));
        ASSERT_OK(yb_sig_builder_finish(b, ret));
}

/* Runs a shell command line; returns its exit status. */
static int run(const char *fmt, ...) _printf_(1, 2);
static int run(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        ASSERT_GT(r, 0);
        r = system(cmd);
        return r == -1 || !WIFEXITED(r) ? -1 : WEXITSTATUS(r);
}

typedef struct Split {
        uint64_t cut, probe, flip_at;
        size_t chunk;
        long touched;
        const uint8_t *seen; /* what the main thread reads, when not the file's bytes */
} Split;

/* Makes the delta of file "new" in d (nn bytes; the main thread reads sp->seen or the file's
 * own bytes now) against old as file-content.c does, into ret. Returns what
 * agent_delta_split_finish returned, or if 0, agent_delta_split_check's verdict. */
static int split_delta(TestTmpdir *d, const uint8_t *old, size_t on, const uint8_t *now, size_t nn,
                       const Split *sp, YbBuf *ret) {
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT, new_sig = YB_BUF_INIT;
        _cleanup_(yb_signature_freep) YbSignature *sig = NULL;
        _cleanup_(agent_delta_split_freep) AgentDeltaSplit *s = NULL;
        _cleanup_(yb_delta_freep) YbDeltaJob *job = NULL;
        _cleanup_close_ int fd = -EBADF;
        const uint8_t *seen = sp->seen ? sp->seen : now;
        AgentDeltaSplitArgs a;
        struct stat st;
        int r;

        test_write_file(d->fd, "new", now, nn);
        fd = openat(d->fd, "new", O_RDONLY | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(fstat(fd, &st));
        st.st_mtim.tv_nsec ^= sp->touched; /* as if it was written after the main thread's stat */
        signature_of(old, on, &old_sig);
        signature_of(seen, nn, &new_sig);
        a = (AgentDeltaSplitArgs){
                .fd = fd,
                .st = &st,
                .cut = sp->cut,
                .size = nn,
                .block = PAGE,
                .old_sig = old_sig.data,
                .old_size = old_sig.size,
                .probe = sp->probe ? sp->probe : UINT64_MAX,
                .flip_at = sp->flip_at ? sp->flip_at : UINT64_MAX,
                .write_fn = test_buf_write,
                .userdata = ret,
        };
        ASSERT_OK(yb_signature_load(old_sig.data, old_sig.size, &sig));
        ASSERT_OK(agent_delta_split_start(&a, &s));
        ASSERT_OK(yb_delta_new(sig, agent_delta_split_write, s, &job));
        ASSERT_OK(test_feed(delta_feed_cb, job, seen, sp->cut, sp->chunk));
        ASSERT_OK(yb_delta_finish(job));
        r = agent_delta_split_finish(s);
        if (r < 0)
                return r;
        return agent_delta_split_check(s, new_sig.data, new_sig.size);
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
        if (run("command -v rdiff >/dev/null") != 0)
                return;
        test_write_file(d->fd, "delta", delta->data, delta->size);
        (void) unlinkat(d->fd, "out", 0);
        ASSERT_EQ(run("cd '%s' && rdiff patch old delta out", d->path), 0);
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

/* Splits at every cut given, fed in every chunking, and checks the result patches to now. */
static void split_and_patch(const uint8_t *old, size_t on, const uint8_t *now, size_t nn) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        const uint64_t cuts[] = { nn / 2 / PAGE * PAGE, PAGE, (nn - 1) / PAGE * PAGE };

        for (size_t i = 0; i < ELEMENTSOF(cuts); i++)
                for (size_t c = 0; c < ELEMENTSOF(chunkings); c++) {
                        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT;
                        Split sp = { .cut = cuts[i], .chunk = chunkings[c] };

                        ASSERT_EQ(split_delta(d, old, on, now, nn, &sp, &delta), 0);
                        check_patch(d, old, on, now, nn, &delta);
                }
}

TEST(halves_join_into_one_delta) {
        _cleanup_free_ uint8_t *old = random_bytes(OLD_SIZE, 1);
        _cleanup_free_ uint8_t *now = malloc(OLD_SIZE + 9 * PAGE);
        const size_t mid = OLD_SIZE / 2 / PAGE * PAGE;

        ASSERT_TRUE(now);
        /* Unchanged. */
        split_and_patch(old, OLD_SIZE, old, OLD_SIZE);
        /* Pages changed in the first half only, in the second only, in both. */
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + 10 * PAGE, PAGE, 2);
        test_fill_random(now + 100 * PAGE + 17, 3 * PAGE, 3);
        split_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + 300 * PAGE, PAGE, 4);
        test_fill_random(now + OLD_SIZE - 50, 50, 5);
        split_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        test_fill_random(now + 20 * PAGE, 2 * PAGE, 6);
        split_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        /* Across the cut, and the page on each side of it. */
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + mid - 100, 200, 7);
        split_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + mid - PAGE, 2 * PAGE, 8);
        split_and_patch(old, OLD_SIZE, now, OLD_SIZE);
        /* Grown by a tail; cut short, in a block and on a block's end. */
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + OLD_SIZE, 9 * PAGE, 9);
        split_and_patch(old, OLD_SIZE, now, OLD_SIZE + 9 * PAGE);
        split_and_patch(old, OLD_SIZE, old, 400 * PAGE + 55);
        split_and_patch(old, OLD_SIZE, old, 300 * PAGE);
        /* Bytes inserted in the first half: the second half's blocks are found shifted. */
        memcpy(now, old, 50 * PAGE);
        memcpy(now + 50 * PAGE, "inserted", 8);
        memcpy(now + 50 * PAGE + 8, old + 50 * PAGE, OLD_SIZE - 50 * PAGE);
        split_and_patch(old, OLD_SIZE, now, OLD_SIZE + 8);
}

TEST(second_read_that_differs_is_caught) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *old = random_bytes(OLD_SIZE, 11);
        _cleanup_free_ uint8_t *now = malloc(OLD_SIZE), *seen = malloc(OLD_SIZE);
        const uint64_t mid = OLD_SIZE / 2 / PAGE * PAGE;

        ASSERT_TRUE(now && seen);
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + 400 * PAGE, PAGE, 12);
        /* The main thread hashed other bytes than the worker read: in a changed block, an
         * unchanged one, the partial last block. */
        const uint64_t at[] = { 400 * PAGE + 5, 300 * PAGE, mid, OLD_SIZE - 1 };
        for (size_t i = 0; i < ELEMENTSOF(at); i++) {
                _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT;
                Split sp = { .cut = mid, .seen = seen };

                memcpy(seen, now, OLD_SIZE);
                seen[at[i]] ^= 0x80;
                ASSERT_ERR(split_delta(d, old, OLD_SIZE, now, OLD_SIZE, &sp, &delta), EAGAIN);
        }
        /* A difference in the first half is not the worker's: it read that half not at all. */
        {
                _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT;
                Split sp = { .cut = mid, .seen = seen };

                memcpy(seen, now, OLD_SIZE);
                seen[10] ^= 0x80;
                ASSERT_EQ(split_delta(d, old, OLD_SIZE, now, OLD_SIZE, &sp, &delta), 0);
        }
        /* The test hook of file-content.c: the worker sees the first byte of its half changed. */
        {
                _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT;
                Split sp = { .cut = mid, .flip_at = mid };

                ASSERT_ERR(split_delta(d, old, OLD_SIZE, now, OLD_SIZE, &sp, &delta), EAGAIN);
        }
        /* The file's stat moved on by the time the worker was done (it may read after the
         * main thread's last check): the same bytes, but not to be trusted. */
        {
                _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT;
                Split sp = { .cut = mid, .touched = 1 };

                ASSERT_ERR(split_delta(d, old, OLD_SIZE, now, OLD_SIZE, &sp, &delta), EAGAIN);
        }
}

TEST(worker_gives_up) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        const size_t big = AGENT_DELTA_SPLIT_OUT_MAX + 64 * PAGE;
        _cleanup_free_ uint8_t *old = random_bytes(OLD_SIZE, 21), *now = malloc(2 * big);
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, delta2 = YB_BUF_INIT;
        Split sp = { .cut = OLD_SIZE / 2 / PAGE * PAGE, .probe = 16 * PAGE };

        ASSERT_TRUE(now);
        /* Its half changed throughout: the give-up probe fires. */
        memcpy(now, old, OLD_SIZE);
        test_fill_random(now + sp.cut, OLD_SIZE - sp.cut, 22);
        ASSERT_ERR(split_delta(d, old, OLD_SIZE, now, OLD_SIZE, &sp, &delta), ECANCELED);
        /* Its delta outgrows what it may hold in memory. */
        test_fill_random(now, 2 * big, 23);
        sp = (Split){ .cut = big };
        ASSERT_ERR(split_delta(d, old, OLD_SIZE, now, 2 * big, &sp, &delta2), ECANCELED);
}

TEST(file_shorter_than_said_gives_up) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *old = random_bytes(OLD_SIZE, 31);
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, out = YB_BUF_INIT;
        _cleanup_(agent_delta_split_freep) AgentDeltaSplit *s = NULL;
        _cleanup_close_ int fd = -EBADF;
        AgentDeltaSplitArgs a;
        struct stat st;

        test_write_file(d->fd, "new", old, OLD_SIZE - 3 * PAGE);
        fd = openat(d->fd, "new", O_RDONLY | O_CLOEXEC);
        ASSERT_OK(fd);
        ASSERT_OK(fstat(fd, &st));
        signature_of(old, OLD_SIZE, &sig);
        a = (AgentDeltaSplitArgs){
                .fd = fd,
                .st = &st,
                .cut = 200 * PAGE,
                .size = OLD_SIZE, /* as the main thread's stat said */
                .block = PAGE,
                .old_sig = sig.data,
                .old_size = sig.size,
                .probe = UINT64_MAX,
                .flip_at = UINT64_MAX,
                .write_fn = test_buf_write,
                .userdata = &out,
        };
        ASSERT_OK(agent_delta_split_start(&a, &s));
        /* A first half whose delta does not end with END is refused too. */
        ASSERT_OK(agent_delta_split_write(s, "rs\x02\x36\x01", 5));
        ASSERT_ERR(agent_delta_split_finish(s), EBADMSG);
        s = agent_delta_split_free(s);
        ASSERT_OK(agent_delta_split_start(&a, &s));
        ASSERT_OK(agent_delta_split_write(s, "rs\x02\x36", 5)); /* with its NUL: END */
        ASSERT_ERR(agent_delta_split_finish(s), ECANCELED);
        ASSERT_TRUE(agent_delta_split_failed(s));
        /* Freed while the worker runs: stopped and joined (ASan sees no leak). */
        s = agent_delta_split_free(s);
        ASSERT_OK(agent_delta_split_start(&a, &s));
        s = agent_delta_split_free(s);
}

TEST(cut_on_both_block_boundaries_below_the_middle) {
        uint8_t sig[12] = { 0x72, 0x73, 0x01, 0x47, 0, 0, 0x10, 0, 0, 0, 0, 8 }; /* 4 KiB */
        const uint64_t mib = 1024 * 1024;
        size_t block = 0;

        ASSERT_EQ(be32(sig), RS_RK_BLAKE2_SIG_MAGIC);
        ASSERT_EQ(agent_delta_split_cut(64 * mib - 1, sig, sizeof(sig), &block), 0);
        ASSERT_EQ(agent_delta_split_cut(96 * mib, sig, sizeof(sig), &block), 48 * mib);
        ASSERT_EQ(block, PAGE);
        ASSERT_EQ(agent_delta_split_cut(100 * mib + 12345, sig, sizeof(sig), &block),
                  (100 * mib + 12345) / 2 / PAGE * PAGE);
        /* The old file's blocks were 8 KiB: the cut is on theirs, which are also new ones. */
        sig[6] = 0x20;
        ASSERT_EQ(agent_delta_split_cut(100 * mib + 12345, sig, sizeof(sig), &block),
                  (100 * mib + 12345) / 2 / (2 * PAGE) * (2 * PAGE));
        ASSERT_EQ(block, PAGE);
        /* 6 KiB blocks (no signature of ours) are not both: no cut. Nor is junk. */
        sig[6] = 0x18;
        ASSERT_EQ(agent_delta_split_cut(100 * mib, sig, sizeof(sig), &block), 0);
        ASSERT_EQ(agent_delta_split_cut(100 * mib, "junk", 4, &block), 0);
}
