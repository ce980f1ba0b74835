/* A big changed file's delta made by two threads (issue 16): librsync's delta search is the
 * backup's slowest step and runs on one core, so the file is cut at a block boundary in its
 * middle and a worker thread makes the delta of the second half from its own reads while the
 * main thread makes that of the first half (file-content.c).
 *
 * Why the two halves make one delta: a librsync delta (core/codec/deltafmt.h) is a 4-byte magic,
 * commands and an END byte (0), and its copy commands give absolute offsets into the old file. So
 * the first half's delta without its END, then the second half's without its magic, is a delta of
 * the whole new file: the very bytes `rdiff patch` and restore apply. The only cost is a match that
 * librsync would have carried across the cut.
 *
 * Why it is still one read of the file: the main thread reads every byte (the content hash and the
 * new signature need them all, in order) and the worker reads the second half again, both within
 * the one pass whose stat checks (file-read.c) catch a file that changed. A write within the same
 * clock tick can escape those checks, and then the delta would not rebuild the hashed content: a
 * silently broken backup. So the worker also takes the weak sum of every block it read, and they
 * must be those of the new signature, which the main thread's bytes made; a file where they
 * differ was changed while read and is read again. */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "agents/backup-internal.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/codec/deltafmt.h"
#include "core/codec/sigsum.h"

#define SPLIT_READ_SIZE AGENT_READ_BUF_SIZE

struct AgentDeltaSplit {
        /* Set before the worker starts; read-only while it runs. */
        int fd;
        uint64_t cut, size, probe, flip_at;
        size_t block;   /* the new signature's block length, for the weak sums */
        struct stat st; /* the file's, as the main thread's pass checks it */
        YbSignature *old;
        uint8_t *buf; /* SPLIT_READ_SIZE bytes */
        /* The main thread's: where the joined delta goes, and the first job's last byte. */
        YbWriteFn write_fn;
        void *userdata;
        uint8_t held;
        bool have_held;
        /* The worker's, read by the main thread once it is joined. */
        YbBuf out;      /* the second job's delta */
        uint32_t *weak; /* per block of [cut, size) */
        uint64_t n_weak;
        int result;
        /* Shared while the worker runs. */
        atomic_bool stop;   /* main thread to worker: give up */
        atomic_bool failed; /* worker to main thread: it gave up or failed (result < 0) */
        pthread_t thread;
        bool running;
};

uint64_t agent_delta_split_cut(uint64_t size, const void *old_sig, size_t old_size,
                               size_t *ret_block) {
        size_t old_block, new_block, strong, align;
        uint64_t n;

        if (size < AGENT_DELTA_SPLIT_MIN || yb_sig_shape(old_sig, old_size, &old_block, &n) < 0)
                return 0;
        yb_sig_params(size, &new_block, &strong);
        /* The cut lies on a boundary of the old blocks (so that the blocks after it are found
         * where they were) and of the new ones (so that the worker's weak sums are the new
         * signature's). Both lengths are powers of two in practice. */
        align = MAX(old_block, new_block);
        if (align % old_block != 0 || align % new_block != 0 || align > SPLIT_READ_SIZE)
                return 0;
        *ret_block = new_block;
        return size / 2 / align * align;
}

/* pread()s exactly n bytes at off: 0, -EAGAIN when the file ended first (it shrank), -errno. */
static int read_at(int fd, uint8_t *p, size_t n, uint64_t off) {
        ssize_t k = yb_pread_all(fd, p, n, off);

        if (k < 0)
                return (int) k;
        return (size_t) k < n ? -EAGAIN : 0;
}

static int worker_write(void *userdata, const void *data, size_t n) {
        AgentDeltaSplit *s = userdata;

        /* The deltas of changed databases are small: one this big is not worth waiting for. */
        if (s->out.size + n > AGENT_DELTA_SPLIT_OUT_MAX)
                return -ECANCELED;
        return yb_buf_append(&s->out, data, n);
}

static int worker_run(AgentDeltaSplit *s) {
        _cleanup_(yb_delta_freep) YbDeltaJob *job = NULL;
        size_t chunk = SPLIT_READ_SIZE / s->block * s->block;
        uint64_t off = s->cut;
        int r;

        r = yb_delta_new(s->old, worker_write, s, &job);
        if (r < 0)
                return r;
        while (off < s->size) {
                size_t n = (size_t) MIN((uint64_t) chunk, s->size - off);

                if (atomic_load_explicit(&s->stop, memory_order_relaxed))
                        return -ECANCELED;
                r = read_at(s->fd, s->buf, n, off);
                if (r < 0)
                        return r;
                if (s->flip_at >= off && s->flip_at - off < n)
                        s->buf[s->flip_at - off] ^= 0x01; /* test hook: a write only we saw */
                for (size_t i = 0; i < n; i += s->block)
                        s->weak[s->n_weak++] = yb_sig_weak(s->buf + i, MIN(s->block, n - i));
                r = yb_delta_feed(job, s->buf, n);
                if (r < 0)
                        return r;
                /* The main thread's give-up probe (file-content.c), for this half. */
                if (yb_delta_in_bytes(job) >= s->probe &&
                    yb_delta_out_bytes(job) > yb_delta_in_bytes(job) / 2)
                        return -ECANCELED;
                off += n;
        }
        return yb_delta_finish(job);
}

static void *worker(void *userdata) {
        AgentDeltaSplit *s = userdata;

        s->result = worker_run(s);
        if (s->result < 0)
                atomic_store(&s->failed, true);
        return NULL;
}

/* Stops the worker if it runs and waits for it. */
static void worker_join(AgentDeltaSplit *s) {
        if (!s->running)
                return;
        atomic_store(&s->stop, true);
        (void) pthread_join(s->thread, NULL);
        s->running = false;
}

AgentDeltaSplit *agent_delta_split_free(AgentDeltaSplit *s) {
        if (!s)
                return NULL;
        worker_join(s);
        yb_signature_free(s->old);
        free(s->buf);
        free(s->weak);
        yb_buf_done(&s->out);
        free(s);
        return NULL;
}

int agent_delta_split_start(const AgentDeltaSplitArgs *a, AgentDeltaSplit **ret) {
        _cleanup_(agent_delta_split_freep) AgentDeltaSplit *s = NULL;
        uint64_t blocks;
        int r;

        assert(a->block > 0 && a->block <= SPLIT_READ_SIZE);
        assert(a->cut % a->block == 0 && a->cut < a->size);
        blocks = (a->size - a->cut + a->block - 1) / a->block;
        s = new0(AgentDeltaSplit, 1);
        if (!s)
                return -ENOMEM;
        *s = (AgentDeltaSplit){
                .fd = a->fd,
                .cut = a->cut,
                .size = a->size,
                .probe = a->probe,
                .flip_at = a->flip_at,
                .block = a->block,
                .st = *a->st,
                .write_fn = a->write_fn,
                .userdata = a->userdata,
        };
        /* Everything the worker needs, allocated here so that a shortage falls back to one
         * thread. A signature of its own: librsync's keeps counters as it is searched. */
        r = yb_signature_load(a->old_sig, a->old_size, &s->old);
        if (r < 0)
                return r;
        s->buf = malloc(SPLIT_READ_SIZE);
        s->weak = new0(uint32_t, blocks);
        if (!s->buf || !s->weak)
                return -ENOMEM;
        r = -pthread_create(&s->thread, NULL, worker, s);
        if (r < 0)
                return r;
        s->running = true;
        *ret = TAKE_PTR(s);
        return 0;
}

int agent_delta_split_write(void *userdata, const void *data, size_t n) {
        AgentDeltaSplit *s = userdata;
        const uint8_t *p = data;
        int r;

        if (n == 0)
                return 0;
        if (s->have_held) {
                r = s->write_fn(s->userdata, &s->held, 1);
                if (r < 0)
                        return r;
        }
        if (n > 1) {
                r = s->write_fn(s->userdata, p, n - 1);
                if (r < 0)
                        return r;
        }
        s->held = p[n - 1];
        s->have_held = true;
        return 0;
}

bool agent_delta_split_failed(const AgentDeltaSplit *s) {
        return atomic_load_explicit(&s->failed, memory_order_relaxed);
}

int agent_delta_split_finish(AgentDeltaSplit *s) {
        static const uint8_t magic[YB_DELTA_MAGIC_SIZE] = { (uint8_t) (YB_DELTA_MAGIC >> 24),
                                                            (uint8_t) (YB_DELTA_MAGIC >> 16),
                                                            (uint8_t) (YB_DELTA_MAGIC >> 8),
                                                            (uint8_t) YB_DELTA_MAGIC };
        struct stat after;

        if (!s->have_held || s->held != YB_DELTA_OP_END)
                return log_debug_errno(EBADMSG, "The first half's delta does not end with END.");
        if (s->running) {
                (void) pthread_join(s->thread, NULL);
                s->running = false;
        }
        /* The worker may have read after the main thread's pass made its last check. */
        if (fstat(s->fd, &after) < 0)
                return negative_errno();
        if (!agent_stat_same(&s->st, &after))
                return log_debug_errno(EAGAIN, "The file changed while the worker read it.");
        if (s->result < 0) {
                /* Whatever it was (its probe, a short read, no memory), the file is stored whole:
                 * that reads it once more and says what is wrong with it. */
                log_debug_errno(s->result, "The second half's delta gave up: %m");
                return -ECANCELED;
        }
        if (s->out.size <= YB_DELTA_MAGIC_SIZE || memcmp(s->out.data, magic, sizeof(magic)) != 0 ||
            s->out.data[s->out.size - 1] != YB_DELTA_OP_END)
                return log_debug_errno(EBADMSG, "The second half's delta is not one.");
        return s->write_fn(s->userdata, s->out.data + YB_DELTA_MAGIC_SIZE,
                           s->out.size - YB_DELTA_MAGIC_SIZE);
}

int agent_delta_split_check(const AgentDeltaSplit *s, const void *sig, size_t sig_size) {
        uint64_t first = s->cut / s->block, blocks;
        size_t block;

        assert(!s->running);
        if (yb_sig_shape(sig, sig_size, &block, &blocks) < 0 || block != s->block ||
            blocks != first + s->n_weak)
                return log_debug_errno(EBADMSG, "The new signature does not match the halves.");
        for (uint64_t k = 0; k < s->n_weak; k++)
                if (yb_sig_weak_at(sig, sig_size, first + k) != s->weak[k])
                        return log_debug_errno(EAGAIN,
                                               "Block %" PRIu64 " read differently by the two "
                                               "threads: the file changed while read.",
                                               first + k);
        return 0;
}
