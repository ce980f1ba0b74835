/* A big changed file's delta made on a thread of its own (issue 16). The main thread reads the
 * file once and hands every byte both to the content hash's thread (digest.c) and to this worker,
 * which makes the delta and the new signature in one pass (core/codec/deltagen.h): the delta, the
 * heaviest work, then no longer waits on the reads and the copies, and the main thread no longer
 * waits on it. The worker is handed the very bytes the main thread hashes, through a pipeline (a
 * copy, bounded in memory), so the delta always rebuilds the content whose hash the manifest
 * records, however the file changed while it was read.
 *
 * It replaced a delta made in two parts, the second on a worker, which saved nothing on two
 * cores: the worker got the second part's bytes only once the main thread had made the first
 * part's delta (docs/design.md, "What issue 16 has taught so far"). */
#include "agents/backup-internal.h"
#include "core/base/log.h"
#include "core/base/pipeline.h"
#include "core/codec/deltagen.h"

#define WORKER_DEPTH 4

struct AgentDeltaWorker {
        YbDeltaGen *gen; /* the worker's while the pipeline runs */
        YbPipeline *pipe;
        uint64_t probe;
        YbBuf out; /* the delta */
        YbBuf sig; /* the new signature */
};

static int worker_write(void *userdata, const void *data, size_t n) {
        AgentDeltaWorker *w = userdata;

        /* The deltas of changed databases are small: one this big is not worth holding. */
        if (w->out.size + n > AGENT_DELTA_WORKER_OUT_MAX)
                return -ECANCELED;
        return yb_buf_append(&w->out, data, n);
}

static int worker_block(void *userdata, const void *data, size_t n) {
        AgentDeltaWorker *w = userdata;

        return agent_delta_feed(w->gen, w->probe, data, n);
}

static int worker_end(void *userdata) {
        AgentDeltaWorker *w = userdata;

        return yb_delta_gen_finish(w->gen, &w->sig);
}

AgentDeltaWorker *agent_delta_worker_free(AgentDeltaWorker *w) {
        if (!w)
                return NULL;
        yb_pipeline_free(w->pipe); /* first: its thread uses the rest */
        yb_delta_gen_free(w->gen);
        yb_buf_done(&w->out);
        yb_buf_done(&w->sig);
        free(w);
        return NULL;
}

int agent_delta_worker_start(const void *old_sig, size_t old_size, uint64_t size, uint64_t probe,
                             AgentDeltaWorker **ret) {
        _cleanup_(agent_delta_worker_freep) AgentDeltaWorker *w = new0(AgentDeltaWorker, 1);
        int r;

        if (!w)
                return -ENOMEM;
        w->probe = probe;
        r = yb_delta_gen_new(old_sig, old_size, size, YB_DELTA_GEN_WHOLE, worker_write, w, &w->gen);
        if (r < 0)
                return r;
        r = yb_pipeline_new(worker_block, w, AGENT_READ_BUF_SIZE, WORKER_DEPTH, &w->pipe);
        if (r < 0)
                return r;
        yb_pipeline_set_end(w->pipe, worker_end);
        *ret = TAKE_PTR(w);
        return 0;
}

/* Whatever stopped the worker (its probe, a delta too big, no memory), the file is stored whole. */
static int gave_up(int r) {
        if (r >= 0)
                return r;
        log_debug_errno(r, "The delta's worker gave up: %m");
        return -ECANCELED;
}

int agent_delta_worker_feed(AgentDeltaWorker *w, const void *data, size_t n) {
        return gave_up(yb_pipeline_write(w->pipe, data, n));
}

int agent_delta_worker_finish(AgentDeltaWorker *w, YbWriteFn write_fn, void *userdata, YbBuf *sig) {
        int r = gave_up(yb_pipeline_finish(w->pipe));

        if (r < 0)
                return r;
        if (w->out.size > 0) {
                r = write_fn(userdata, w->out.data, w->out.size);
                if (r < 0)
                        return r;
        }
        return yb_buf_append(sig, w->sig.data, w->sig.size);
}
