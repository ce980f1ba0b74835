/* A big changed file's delta made by two threads (issue 16): the delta search and the block sums
 * are the incremental's heaviest work and a file's run on one core, so a big file is cut at a
 * block boundary in its middle; the main thread makes the first part's delta and signature while
 * a worker makes the second's (core/codec/deltagen.h, whose parts join into the whole file's).
 *
 * The worker is handed the very bytes the main thread reads and hashes, through a pipeline (a
 * copy, bounded in memory): the file is read once, and the delta always rebuilds the content
 * whose hash the manifest records, however the file changed while it was read. */
#include "agents/backup-internal.h"
#include "core/base/log.h"
#include "core/base/pipeline.h"
#include "core/codec/deltagen.h"

#define SPLIT_DEPTH 4

struct AgentDeltaSplit {
        YbDeltaGen *gen; /* the worker's while the pipeline runs */
        YbPipeline *pipe;
        uint64_t probe;
        YbBuf out; /* the second part's delta */
        YbBuf sig; /* its signature entries */
};

uint64_t agent_delta_split_cut(uint64_t size, const void *old_sig, size_t old_size) {
        size_t old_block, new_block, strong, align;
        uint64_t n;

        if (size < AGENT_DELTA_SPLIT_MIN || yb_sig_shape(old_sig, old_size, &old_block, &n) < 0)
                return 0;
        yb_sig_params(size, &new_block, &strong);
        /* The cut lies on a boundary of the old blocks (so that the blocks after it are found
         * where they were) and of the new ones (so that the two parts' signatures join). Both
         * lengths are powers of two in practice. */
        align = MAX(old_block, new_block);
        if (align % old_block != 0 || align % new_block != 0)
                return 0;
        return size / 2 / align * align;
}

static int worker_write(void *userdata, const void *data, size_t n) {
        AgentDeltaSplit *s = userdata;

        /* The deltas of changed databases are small: one this big is not worth holding. */
        if (s->out.size + n > AGENT_DELTA_SPLIT_OUT_MAX)
                return -ECANCELED;
        return yb_buf_append(&s->out, data, n);
}

/* The worker: one block of the second part. */
static int worker_block(void *userdata, const void *data, size_t n) {
        AgentDeltaSplit *s = userdata;
        int r = yb_delta_gen_feed(s->gen, data, n);

        if (r < 0)
                return r;
        /* The main thread's give-up probe (file-content.c), for this part. */
        if (yb_delta_gen_in_bytes(s->gen) >= s->probe &&
            yb_delta_gen_out_bytes(s->gen) > yb_delta_gen_in_bytes(s->gen) / 2)
                return -ECANCELED;
        return 0;
}

static int worker_end(void *userdata) {
        AgentDeltaSplit *s = userdata;

        return yb_delta_gen_finish(s->gen, &s->sig);
}

AgentDeltaSplit *agent_delta_split_free(AgentDeltaSplit *s) {
        if (!s)
                return NULL;
        yb_pipeline_free(s->pipe); /* first: its thread uses the rest */
        yb_delta_gen_free(s->gen);
        yb_buf_done(&s->out);
        yb_buf_done(&s->sig);
        free(s);
        return NULL;
}

int agent_delta_split_start(const void *old_sig, size_t old_size, uint64_t size, uint64_t cut,
                            uint64_t probe, AgentDeltaSplit **ret) {
        _cleanup_(agent_delta_split_freep) AgentDeltaSplit *s = new0(AgentDeltaSplit, 1);
        YbDeltaGenPart part = { .start = cut, .tail = true };
        int r;

        if (!s)
                return -ENOMEM;
        assert(cut > 0 && cut < size);
        s->probe = probe;
        r = yb_delta_gen_new(old_sig, old_size, size, part, worker_write, s, &s->gen);
        if (r < 0)
                return r;
        r = yb_pipeline_new(worker_block, s, AGENT_READ_BUF_SIZE, SPLIT_DEPTH, &s->pipe);
        if (r < 0)
                return r;
        yb_pipeline_set_end(s->pipe, worker_end);
        *ret = TAKE_PTR(s);
        return 0;
}

/* Whatever stopped the worker (its probe, a delta too big, no memory), the file is stored whole. */
static int gave_up(int r) {
        if (r >= 0)
                return r;
        log_debug_errno(r, "The second part's delta gave up: %m");
        return -ECANCELED;
}

int agent_delta_split_feed(AgentDeltaSplit *s, const void *data, size_t n) {
        return gave_up(yb_pipeline_write(s->pipe, data, n));
}

int agent_delta_split_finish(AgentDeltaSplit *s, YbWriteFn write_fn, void *userdata, YbBuf *sig) {
        int r = gave_up(yb_pipeline_finish(s->pipe));

        if (r < 0)
                return r;
        if (s->out.size > 0) {
                r = write_fn(userdata, s->out.data, s->out.size);
                if (r < 0)
                        return r;
        }
        return yb_buf_append(sig, s->sig.data, s->sig.size);
}
