/* orchestrator/replicator-lag.c: tier 2's lag in yunbakd's eyes (orchestrator/replicators.h):
 * the last reported lag_ms plus the time since that report came (yunbakd's monotonic clock);
 * unknown when the report says so, when no report came for 3 s + interval, or when no
 * replicator runs, and then a lower bound. Sampled once a second into the hour's p50/p99/max
 * (the catalog's replication_lag, catalog/lag.h), compared with max_lag (audited both ways), and
 * shown by status and metrics. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog/lag.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/replicator-internal.h"
#include "orchestrator/replicators.h"

bool orch_repl_reporting(const OrchRepl *rp, int64_t mono) {
        /* A report of an earlier run says nothing of this one. */
        return rp->running && rp->started && rp->have_report && rp->report_at >= rp->run_started &&
               mono - rp->report_at <= ORCH_REPL_STALE_USEC + rp->interval_usec;
}

void orch_repl_lag(const OrchRepl *rp, int64_t mono, bool *ret_known, int64_t *ret_usec) {
        int64_t since = rp->have_report ? MAX(mono - rp->report_at, (int64_t) 0) : 0;

        *ret_known = orch_repl_reporting(rp, mono) && rp->known;
        if (!rp->have_report)
                *ret_usec = 0; /* nothing reported yet: at least 0 */
        else if (!*ret_known && rp->known && rp->pending == 0)
                /* Nothing was pending at the last report: from here on the lag may be 0 or
                 * anything, and all we can say is that it is at least 0. */
                *ret_usec = 0;
        else
                *ret_usec = rp->lag_ms * YB_USEC_PER_MSEC + since;
}

static int cmp_u32(const void *a, const void *b) {
        uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;

        return x < y ? -1 : x > y;
}

/* The hour so far as a catalog row (the samples get sorted). */
static YbLagHour hour_row(OrchRepl *rp) {
        YbLagHour h = {
                .hour_usec = rp->hour_usec,
                .samples = (int64_t) rp->n_samples + rp->unknown_seconds,
                .unknown_seconds = rp->unknown_seconds,
                .p50_ms = -1,
                .p99_ms = -1,
                .max_ms = rp->unknown_seconds > 0 ? rp->max_lower_ms : -1,
        };

        if (rp->n_samples > 0) {
                size_t n = rp->n_samples;

                qsort(rp->samples, n, sizeof(uint32_t), cmp_u32);
                /* Nearest rank: the smallest sample with at least p% of them at or below it. */
                h.p50_ms = rp->samples[(n * 50 + 99) / 100 - 1];
                h.p99_ms = rp->samples[(n * 99 + 99) / 100 - 1];
                h.max_ms = MAX(h.max_ms, (int64_t) rp->samples[n - 1]);
        }
        return h;
}

void orch_repl_flush_hour(YbDaemon *d, OrchRepl *rp) {
        YbLagHour h;
        int r;

        if (rp->hour_usec == 0 || (rp->n_samples == 0 && rp->unknown_seconds == 0))
                return;
        h = hour_row(rp);
        r = yb_lag_hour_put(d->catalog, rp->system, &h);
        if (r < 0)
                log_error_errno(r,
                                "System '%s': cannot write its lag of the hour to the catalog %s: "
                                "%m. That hour is missing from its lag history.",
                                rp->system, d->config->catalog);
        rp->n_samples = 0;
        rp->unknown_seconds = 0;
        rp->max_lower_ms = 0;
}

static void format_lag(bool known, int64_t usec, char *buf, size_t size) {
        if (known)
                snprintf(buf, size, "%.1f s", (double) usec / YB_USEC_PER_SEC);
        else
                snprintf(buf, size, "unknown, at least %.1f s", (double) usec / YB_USEC_PER_SEC);
}

/* max_lag passed (the known lag, or the lower bound of an unknown one) or back under it. */
static void check_max_lag(YbDaemon *d, OrchRepl *rp, bool known, int64_t lag) {
        bool exceeded = lag > rp->max_lag_usec;
        char what[64], max[32], detail[256];

        if (exceeded == rp->exceeded)
                return;
        rp->exceeded = exceeded;
        format_lag(known, lag, what, sizeof(what));
        yb_duration_format(rp->max_lag_usec, max, sizeof(max));
        snprintf(detail, sizeof(detail), "lag %s, max_lag %s (store '%s')", what, max, rp->store);
        if (exceeded)
                log_error("System '%s': the tier-2 lag exceeds max_lag: %s.", rp->system, detail);
        else
                log_info("System '%s': the tier-2 lag is within max_lag again: %s.", rp->system,
                         detail);
        yb_daemon_audit(d, NULL, "tier2.max-lag", rp->system, exceeded ? "exceeded" : "ok", detail);
}

void orch_repl_sample(YbDaemon *d, OrchRepl *rp, int64_t now, int64_t mono) {
        int64_t hour = now - now % YB_USEC_PER_HOUR, lag;
        bool known;

        if (d->test_clock)
                return;
        if (rp->hour_usec != hour) {
                orch_repl_flush_hour(d, rp);
                rp->hour_usec = hour;
        }
        orch_repl_lag(rp, mono, &known, &lag);
        if (known) {
                if (rp->n_samples == rp->alloc_samples) {
                        size_t n = rp->alloc_samples ? 2 * rp->alloc_samples : 4096;
                        uint32_t *v = realloc(rp->samples, n * sizeof(uint32_t));

                        if (!v)
                                return (void) log_oom();
                        rp->samples = v;
                        rp->alloc_samples = n;
                }
                rp->samples[rp->n_samples++] =
                        (uint32_t) MIN(lag / YB_USEC_PER_MSEC, (int64_t) UINT32_MAX);
        } else {
                rp->unknown_seconds++;
                rp->max_lower_ms = MAX(rp->max_lower_ms, lag / YB_USEC_PER_MSEC);
        }
        check_max_lag(d, rp, known, lag);
}

/* Status and metrics ------------------------------------------------------------------------ */

/* The state status shows: starting, running, rescanning, store-unreachable, not-reporting,
 * restarting, not-running. */
static const char *state_of(const OrchRepl *rp, int64_t mono) {
        if (!rp->wanted || !rp->thread_started || rp->stop)
                return "not-running";
        if (!rp->running)
                return "restarting";
        /* Before "starting": a replicator that cannot reach its store at start says so (and
         * why) before it has anything else to say. */
        if (rp->store_unreachable && rp->report_at >= rp->run_started)
                return "store-unreachable";
        if (!rp->started || !rp->have_report || rp->report_at < rp->run_started ||
            streq(rp->why, "starting") || (rp->root_running && rp->segments == 0))
                return "starting";
        if (!orch_repl_reporting(rp, mono))
                return "not-reporting";
        if (rp->store_unreachable || streq(rp->why, "store-unreachable"))
                return "store-unreachable";
        if (rp->scanning || streq(rp->why, "rescan"))
                return "rescanning";
        return "running";
}

static json_t *text_or_null(const char *s) {
        return s && *s ? json_string(s) : json_null();
}

static json_t *seconds(int64_t usec) {
        return json_real((double) usec / YB_USEC_PER_SEC);
}

void yb_replicators_status_json(YbDaemon *d, const YbSystem *s, json_t *o) {
        const YbPolicy *p = s->policy;
        OrchRepl *rp = orch_repl_find(d, p->id);
        int64_t mono = yb_monotonic_usec(), now = yb_daemon_now(d), lag = 0;
        const char *state;
        bool known = false;
        json_t *t, *why = json_null(), *last = json_null(), *exit = json_null();

        if (!p->tier2_store && (!rp || !rp->stop_why[0])) {
                json_object_set_new(o, "tier2", json_null());
                return;
        }
        if (!rp) {
                /* The policy loaded this very moment: the main loop starts it within a second. */
                json_object_set_new(o, "tier2",
                                    json_pack("{s:s, s:s, s:s}", "store", p->tier2_store, "state",
                                              "starting", "why", "yunbakd is starting it"));
                return;
        }
        state = state_of(rp, mono);
        orch_repl_lag(rp, mono, &known, &lag);
        if (streq(state, "not-running"))
                why = text_or_null(rp->stop_why[0] ? rp->stop_why : "it is not started");
        else if (streq(state, "restarting")) {
                char w[768];
                int k;

                if (rp->last_signal > 0)
                        k = snprintf(w, sizeof(w), "after signal %d", rp->last_signal);
                else if (rp->last_exit >= 0)
                        k = snprintf(w, sizeof(w), "after exit %d%s", rp->last_exit,
                                     rp->last_exit == 8 ? " (another replicator of the system runs)"
                                                        : "");
                else
                        k = snprintf(w, sizeof(w), "it could not be started");
                if (rp->last_error[0] && k >= 0 && (size_t) k < sizeof(w))
                        snprintf(w + k, sizeof(w) - (size_t) k, ": %s", rp->last_error);
                why = json_string(w);
        } else if (streq(state, "store-unreachable"))
                why = text_or_null(rp->store_message);
        else if (streq(state, "not-reporting"))
                why = json_string("the replicator runs but has not reported for longer than "
                                  "3 s + interval");
        if (rp->last_segment[0])
                last = json_pack("{s:s, s:I, s:o}", "id", rp->last_segment, "finished_usec",
                                 (json_int_t) (rp->last_segment_ns / 1000), "age_seconds",
                                 seconds(now - rp->last_segment_ns / 1000));
        if (rp->last_exit >= 0 || rp->last_signal > 0 || rp->restarts > 0)
                exit = json_pack("{s:o, s:o, s:o}", "status",
                                 rp->last_exit >= 0 ? json_integer(rp->last_exit) : json_null(),
                                 "signal",
                                 rp->last_signal > 0 ? json_integer(rp->last_signal) : json_null(),
                                 "message", text_or_null(rp->last_error));
        t = json_pack(
                "{s:s, s:s, s:o, s:s, s:o, s:b, s:o, s:o, s:o, s:b, s:o, s:o, s:I, s:I, "
                "s:o, s:o, s:o, s:o}",
                "store", rp->store, "host", rp->host ? rp->host : p->host, "pid",
                rp->running && rp->pid > 0 ? json_integer(rp->pid) : json_null(), "state", state,
                "why", why, "lag_known", known, "lag_seconds", known ? seconds(lag) : json_null(),
                "lag_at_least_seconds", known ? json_null() : seconds(lag), "lag_why",
                !known && rp->why[0] ? json_string(rp->why) : json_null(), "max_lag_exceeded",
                rp->exceeded, "max_lag_seconds", seconds(rp->max_lag_usec), "interval_seconds",
                seconds(rp->interval_usec), "segments", (json_int_t) rp->segments, "restarts",
                (json_int_t) rp->restarts, "last_segment", last, "last_exit", exit, "retry_usec",
                streq(state, "restarting") && rp->restart_at > 0 ? json_integer(rp->restart_at_wall)
                                                                 : json_null(),
                "capture", text_or_null(rp->running ? rp->capture : NULL));
        /* The WAL positions of its PostgreSQL hooks, as last reported (of this run only). */
        if (t)
                json_object_set_new(t, "postgresql",
                                    rp->postgresql && orch_repl_reporting(rp, mono)
                                            ? json_deep_copy(rp->postgresql)
                                            : json_null());
        json_object_set_new(o, "tier2", t);
}

bool yb_replicators_known(YbDaemon *d, const char *system) {
        return orch_repl_find(d, system) != NULL;
}

bool yb_replicators_running(YbDaemon *d, const char *system) {
        OrchRepl *rp = orch_repl_find(d, system);

        return rp && rp->wanted && orch_repl_reporting(rp, yb_monotonic_usec());
}

/* A sample per system of yunbak_replication_lag_seconds, or (known) of
 * yunbak_replication_lag_known. */
static void lag_samples(YbBuf *b, const OrchRepl *list, int64_t mono, bool known_family) {
        for (const OrchRepl *rp = list; rp; rp = rp->next) {
                bool known;
                int64_t lag;

                if (!rp->wanted)
                        continue;
                orch_repl_lag(rp, mono, &known, &lag);
                if (known_family)
                        yb_buf_printf(b, "yunbak_replication_lag_known{system=\"%s\"} %d\n",
                                      rp->system, known);
                else
                        yb_buf_printf(b, "yunbak_replication_lag_seconds{system=\"%s\"} %.3f\n",
                                      rp->system, (double) lag / YB_USEC_PER_SEC);
        }
}

void yb_replicators_metrics(YbDaemon *d, YbBuf *b) {
        int64_t mono = yb_monotonic_usec();
        OrchRepl *list = d->replicators ? d->replicators->list : NULL;

        yb_buf_printf(b, "# HELP yunbak_replication_lag_seconds Tier 2: the age of the oldest "
                         "change not yet committed at the replica; while it is unknown, a lower "
                         "bound (see yunbak_replication_lag_known).\n"
                         "# TYPE yunbak_replication_lag_seconds gauge\n");
        lag_samples(b, list, mono, false);
        yb_buf_printf(b, "# HELP yunbak_replication_lag_known 1 while the tier-2 lag is known, "
                         "0 while it is unknown (a rescan, the store unreachable, no report, no "
                         "replicator).\n# TYPE yunbak_replication_lag_known gauge\n");
        lag_samples(b, list, mono, true);
        yb_buf_printf(b, "# HELP yunbak_replication_max_lag_exceeded 1 while the tier-2 lag (or "
                         "its lower bound) exceeds the policy's max_lag.\n"
                         "# TYPE yunbak_replication_max_lag_exceeded gauge\n");
        for (OrchRepl *rp = list; rp; rp = rp->next)
                if (rp->wanted)
                        yb_buf_printf(b, "yunbak_replication_max_lag_exceeded{system=\"%s\"} %d\n",
                                      rp->system, rp->exceeded);
        yb_buf_printf(b, "# HELP yunbak_replication_segments_total Tier-2 segments the "
                         "replicator committed since yunbakd started.\n"
                         "# TYPE yunbak_replication_segments_total counter\n");
        for (OrchRepl *rp = list; rp; rp = rp->next)
                if (rp->wanted)
                        yb_buf_printf(
                                b, "yunbak_replication_segments_total{system=\"%s\"} %" PRIu64 "\n",
                                rp->system, rp->segments);
        yb_buf_printf(b, "# HELP yunbak_replication_last_segment_timestamp_seconds The "
                         "point in time of the newest tier-2 segment (its finished_ns).\n"
                         "# TYPE yunbak_replication_last_segment_timestamp_seconds gauge\n");
        for (OrchRepl *rp = list; rp; rp = rp->next)
                if (rp->wanted && rp->last_segment[0])
                        yb_buf_printf(b,
                                      "yunbak_replication_last_segment_timestamp_seconds{system="
                                      "\"%s\"} %.3f\n",
                                      rp->system, (double) rp->last_segment_ns / 1e9);
}

static json_t *ms_or_null(int64_t ms) {
        return ms >= 0 ? json_real((double) ms / YB_MSEC_PER_SEC) : json_null();
}

int yb_replicators_running_hour(YbDaemon *d, const char *system, YbLagHour *ret) {
        OrchRepl *rp = orch_repl_find(d, system), tmp;
        uint32_t *copy;

        if (!rp || rp->hour_usec == 0 || (rp->n_samples == 0 && rp->unknown_seconds == 0))
                return 0;
        /* hour_row() sorts the samples: on a copy, so that the sampler's order is kept. */
        copy = malloc(MAX(rp->n_samples, (size_t) 1) * sizeof(uint32_t));
        if (!copy)
                return -ENOMEM;
        if (rp->n_samples > 0)
                memcpy(copy, rp->samples, rp->n_samples * sizeof(uint32_t));
        tmp = *rp;
        tmp.samples = copy;
        *ret = hour_row(&tmp);
        free(copy);
        return 1;
}

static json_t *hour_json(const YbLagHour *h, bool running) {
        return json_pack("{s:I, s:I, s:I, s:o, s:o, s:o, s:b}", "hour_usec",
                         (json_int_t) h->hour_usec, "samples", (json_int_t) h->samples,
                         "unknown_seconds", (json_int_t) h->unknown_seconds, "p50_seconds",
                         ms_or_null(h->p50_ms), "p99_seconds", ms_or_null(h->p99_ms), "max_seconds",
                         ms_or_null(h->max_ms), "running", running);
}

int yb_replicators_lag_history_json(YbDaemon *d, const char *system, int hours, json_t **ret) {
        _cleanup_free_ YbLagHour *v = NULL;
        OrchRepl *rp = orch_repl_find(d, system);
        int64_t now = yb_daemon_now(d);
        int64_t since = now - now % YB_USEC_PER_HOUR - (int64_t) hours * YB_USEC_PER_HOUR;
        json_t *a = json_array();
        YbLagHour h;
        int n, r;

        n = yb_lag_hours_get(d->catalog, system, since, hours + 1, &v);
        if (n < 0) {
                json_decref(a);
                return n;
        }
        for (int i = 0; i < n; i++)
                if (!rp || v[i].hour_usec != rp->hour_usec)
                        json_array_append_new(a, hour_json(&v[i], false));
        r = yb_replicators_running_hour(d, system, &h);
        if (r < 0) {
                json_decref(a);
                return r;
        }
        if (r > 0) {
                /* Merged with its row when yunbakd already wrote part of it before a restart:
                 * the catalog's part comes first. */
                for (int i = 0; i < n; i++)
                        if (v[i].hour_usec == h.hour_usec)
                                json_array_append_new(a, hour_json(&v[i], false));
                json_array_append_new(a, hour_json(&h, true));
        }
        *ret = json_pack("{s:s, s:o}", "system", system, "hours", a);
        return *ret ? 0 : -ENOMEM;
}
