/* The replicator's protocol output (docs/replication.md, "Protocol"): one JSON object per line on
 * standard output, flushed at once, each starting with "event" and "time_ns" (this host's wall
 * clock). A thread of its own prints the lag once a second, whatever the loop is busy with: the
 * lag is now minus the time the oldest change not yet committed was noticed, among the pending
 * paths and those of the segment being written; while a rescan, a root or an unreachable store
 * keeps it from being known, it says so and gives a lower bound. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "agents/replicate.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

int agent_out_init(AgentOut *o, AgentDirty *dirty) {
        *o = (AgentOut){ .dirty = dirty, .why = "starting" };
        pthread_mutex_init(&o->lock, NULL);
        pthread_cond_init(&o->cond, NULL);
        return 0;
}

void agent_out_emit(AgentOut *o, const char *event, json_t *obj) {
        json_t *line = json_pack("{s:s, s:I}", "event", event, "time_ns", (json_int_t) yb_now_ns());
        char *text;

        if (!line || !obj) {
                json_decref(line);
                json_decref(obj);
                return;
        }
        json_object_update(line, obj);
        json_decref(obj);
        text = json_dumps(line, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(line);
        if (!text)
                return;
        pthread_mutex_lock(&o->lock);
        fputs(text, stdout);
        fputc('\n', stdout);
        fflush(stdout);
        pthread_mutex_unlock(&o->lock);
        free(text);
}

void agent_out_error(AgentOut *o, const char *fmt, ...) {
        char msg[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_error("%s", msg);
        agent_out_emit(o, "error", json_pack("{s:s}", "message", msg));
}

void agent_out_lag(AgentOut *o) {
        int64_t now = yb_now_ns(), oldest, dirty_oldest, lag;
        size_t n, dirty_n;
        const char *why;
        json_t *pg, *obj;

        agent_dirty_stats(o->dirty, &dirty_n, &dirty_oldest);
        pthread_mutex_lock(&o->lock);
        n = dirty_n + o->inflight_n;
        oldest = o->inflight_oldest_ns;
        if (dirty_oldest && (!oldest || dirty_oldest < oldest))
                oldest = dirty_oldest;
        /* WAL not yet committed is pending from the moment it was first seen. */
        if (o->pg_oldest_ns && (!oldest || o->pg_oldest_ns < oldest))
                oldest = o->pg_oldest_ns;
        pg = o->pg ? json_deep_copy(o->pg) : NULL;
        why = o->why;
        lag = oldest ? now - oldest : 0;
        /* A rescan may find changes made any time since the last commit began. */
        if (why && streq(why, "rescan") && o->last_commit_started_ns &&
            now - o->last_commit_started_ns > lag)
                lag = now - o->last_commit_started_ns;
        pthread_mutex_unlock(&o->lock);
        if (lag < 0)
                lag = 0;
        obj = json_pack("{s:b, s:I, s:I, s:o, s:o}", "known", why == NULL, "lag_ms",
                        (json_int_t) (lag / YB_NSEC_PER_MSEC), "pending", (json_int_t) n,
                        "oldest_pending_ns", oldest ? json_integer(oldest) : json_null(), "why",
                        why ? json_string(why) : json_null());
        if (obj && pg)
                json_object_set_new(obj, "postgresql", pg);
        else
                json_decref(pg);
        agent_out_emit(o, "lag", obj);
}

void agent_out_set_pg(AgentOut *o, json_t *pg, int64_t oldest_ns) {
        json_t *old;

        pthread_mutex_lock(&o->lock);
        old = o->pg;
        o->pg = pg;
        o->pg_oldest_ns = oldest_ns;
        pthread_mutex_unlock(&o->lock);
        json_decref(old);
}

void agent_out_set_why(AgentOut *o, const char *why) {
        bool changed;

        pthread_mutex_lock(&o->lock);
        changed = o->why != why;
        o->why = why;
        pthread_mutex_unlock(&o->lock);
        if (changed)
                agent_out_lag(o);
}

void agent_out_set_inflight(AgentOut *o, size_t n, int64_t oldest_ns) {
        pthread_mutex_lock(&o->lock);
        o->inflight_n = n;
        o->inflight_oldest_ns = oldest_ns;
        pthread_mutex_unlock(&o->lock);
}

static void *ticker(void *userdata) {
        AgentOut *o = userdata;
        struct timespec next;

        clock_gettime(CLOCK_MONOTONIC, &next);
        pthread_mutex_lock(&o->lock);
        while (!o->stopping) {
                pthread_mutex_unlock(&o->lock);
                agent_out_lag(o);
                pthread_mutex_lock(&o->lock);
                next.tv_sec++;
                while (!o->stopping &&
                       pthread_cond_timedwait(&o->cond, &o->lock, &next) != ETIMEDOUT)
                        ;
        }
        pthread_mutex_unlock(&o->lock);
        return NULL;
}

int agent_out_start_ticker(AgentOut *o) {
        pthread_condattr_t a;
        int r;

        /* The cond waits on the monotonic clock, so that a step of the wall clock does not
         * stop the reports. */
        pthread_cond_destroy(&o->cond);
        pthread_condattr_init(&a);
        pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
        pthread_cond_init(&o->cond, &a);
        pthread_condattr_destroy(&a);
        r = pthread_create(&o->ticker, NULL, ticker, o);
        if (r != 0)
                return -r;
        o->ticker_running = true;
        return 0;
}

void agent_out_stop_ticker(AgentOut *o) {
        if (o->ticker_running) {
                pthread_mutex_lock(&o->lock);
                o->stopping = true;
                pthread_cond_signal(&o->cond);
                pthread_mutex_unlock(&o->lock);
                pthread_join(o->ticker, NULL);
                o->ticker_running = false;
        }
}

void agent_out_done(AgentOut *o) {
        agent_out_stop_ticker(o);
        json_decref(o->pg);
        o->pg = NULL;
        pthread_cond_destroy(&o->cond);
        pthread_mutex_destroy(&o->lock);
}
