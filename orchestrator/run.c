/* orchestrator/run.c: what one yb_run produces, whichever transport ran it: the
 * message of a failure or of a stop (into YbRunResult.error), and the command's stdout and
 * stderr, collected under their caps and moved into the result. */
#include "orchestrator/run.h"

#include <stdarg.h>
#include <stdio.h>

#include "core/base/log.h"

const char *orch_format_usec(int64_t usec, char buf[32]) {
        if (usec % YB_USEC_PER_SEC == 0)
                snprintf(buf, 32, "%lld s", (long long) (usec / YB_USEC_PER_SEC));
        else
                snprintf(buf, 32, "%.3g s", (double) usec / YB_USEC_PER_SEC);
        return buf;
}

int orch_run_fail(OrchRun *run, int err, const char *fmt, ...) {
        YbRunResult *r = run->r;
        size_t k = strlen(run->where);
        va_list ap;

        err = err < 0 ? -err : err;
        memcpy(r->error, run->where, MIN(k, sizeof(r->error) - 1));
        r->error[MIN(k, sizeof(r->error) - 1)] = '\0';
        k = strlen(r->error);
        errno = err;
        va_start(ap, fmt);
        vsnprintf(r->error + k, sizeof(r->error) - k, fmt, ap);
        va_end(ap);
        log_debug("yb_run: %s", r->error);
        return -err;
}

void orch_run_request_stop(OrchRun *run, int why) {
        if (run->stop == 0)
                run->stop = why;
}

int orch_run_stop_fail(OrchRun *run, const char *extra) {
        char t[32], g[32];

        orch_format_usec(run->timeout_usec, t);
        orch_format_usec(run->grace, g);
        switch (run->stop) {
        case -ETIMEDOUT:
                run->r->timed_out = true;
                return orch_run_fail(run, ETIMEDOUT,
                                     "'%s' did not end within the timeout of %s; it was stopped "
                                     "(SIGTERM, SIGKILL after %s)%s",
                                     run->what, t, g, extra);
        case -ECANCELED:
                run->r->cancelled = true;
                return orch_run_fail(
                        run, ECANCELED,
                        "'%s' was cancelled; it was stopped (SIGTERM, SIGKILL after %s)%s",
                        run->what, g, extra);
        default:
                assert(run->stop == -EMSGSIZE);
                return orch_run_fail(run, EMSGSIZE,
                                     "'%s' wrote more than %zu MiB to stdout; it was stopped%s",
                                     run->what, YB_RUN_OUT_MAX >> 20, extra);
        }
}

/* stdout: kept up to YB_RUN_OUT_MAX; past it -EMSGSIZE, and later bytes are dropped. */
static int collect_out(OrchRun *run, const void *data, size_t n) {
        size_t room = YB_RUN_OUT_MAX - run->out.size;
        int r;

        if (run->stop == -EMSGSIZE)
                return 0;
        r = yb_buf_append(&run->out, data, MIN(n, room));
        if (r < 0)
                return r;
        return n > room ? -EMSGSIZE : 0;
}

/* stderr: the last YB_RUN_ERR_KEEP bytes; the buffer grows to twice that between moves. */
static int collect_err(OrchRun *run, const void *data, size_t n) {
        YbBuf *b = &run->err;
        int r = yb_buf_append(b, data, n);

        if (r < 0)
                return r;
        if (b->size > 2 * YB_RUN_ERR_KEEP) {
                memmove(b->data, b->data + b->size - YB_RUN_ERR_KEEP, YB_RUN_ERR_KEEP);
                b->size = YB_RUN_ERR_KEEP;
                run->r->err_truncated = true;
        }
        return 0;
}

int orch_run_collect(OrchRun *run, bool is_err, const void *data, size_t n) {
        int r;

        if (run->stream) {
                run->stream->on_output(run->stream->userdata, is_err, data, n);
                return 0;
        }
        r = is_err ? collect_err(run, data, n) : collect_out(run, data, n);

        if (r == -EMSGSIZE) {
                orch_run_request_stop(run, -EMSGSIZE);
                return 0;
        }
        if (r < 0)
                return orch_run_fail(run, r, "Out of memory collecting the output of '%s'",
                                     run->what);
        return 0;
}

int orch_run_finish_output(OrchRun *run) {
        YbRunResult *r = run->r;
        YbBuf *e = &run->err;

        if (e->size > YB_RUN_ERR_KEEP) {
                memmove(e->data, e->data + e->size - YB_RUN_ERR_KEEP, YB_RUN_ERR_KEEP);
                e->size = YB_RUN_ERR_KEEP;
                r->err_truncated = true;
        }
        if (yb_buf_append_u8(&run->out, 0) < 0 || yb_buf_append_u8(e, 0) < 0)
                return -ENOMEM;
        r->out = (char *) yb_buf_steal(&run->out, &r->out_size);
        r->out_size--;
        r->err = (char *) yb_buf_steal(e, &r->err_size);
        r->err_size--;
        return 0;
}

void yb_run_result_done(YbRunResult *r) {
        if (!r)
                return;
        free(r->out);
        free(r->err);
        memset(r, 0, sizeof(*r));
}
