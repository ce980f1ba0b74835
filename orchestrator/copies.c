/* orchestrator/copies.c: tier 3 in yunbakd (orchestrator/copies.h): copy jobs queued on the
 * policy's tier3.schedule, on request and to resume an interrupted copy, held back while their
 * store is outside its windows; and what status and metrics say of each system's off-site copies.
 * A copy job runs in orchestrator/copy-job.c. */
#include "orchestrator/copies.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/jobs.h"
#include "orchestrator/replicators.h"

int yb_copies_queue(YbDaemon *d, const char *system, const char *snapshot, const char *trigger,
                    int64_t request, int64_t *ret_job) {
        YbSystem *s = yb_daemon_system(d, system);
        const YbConfigStore *to;
        int64_t now = yb_daemon_now(d), next_open = 0;
        YbJobAdd a = { .system = system,
                       .tier = 3,
                       .level = "copy",
                       .snapshot = snapshot,
                       .request = request,
                       .trigger = trigger,
                       .scheduled_usec = now };
        int r;

        if (!s)
                return -ENOENT;
        if (!s->policy->tier3_store)
                return -ENOTSUP;
        /* Outside the store's windows it is queued now and waits, not started, for the next. */
        to = yb_daemon_config_store(d->config, s->policy->tier3_store);
        if (to && !yb_store_windows_open(to->windows, to->n_windows, now, &next_open, NULL))
                a.not_before_usec = next_open;
        r = yb_jobs_add(d, &a, ret_job);
        if (r < 0)
                return r;
        s->status.tier3.paused_until = a.not_before_usec;
        if (a.not_before_usec > 0)
                log_info("System '%s': copy job %" PRId64 " to store '%s' waits for the store's "
                         "next window.",
                         system, *ret_job, to->name);
        return 0;
}

int yb_copies_on_due(YbDaemon *d, const YbDue *due) {
        YbSystem *s = yb_daemon_system(d, due->system);
        int64_t job, after;
        int r;

        if (!s || !s->policy->tier3_store || !s->policy->tier3_schedule)
                return 0;
        (void) yb_catalog_schedule_set(d->catalog, due->system, "tier3", yb_daemon_now(d));
        /* Behind: this scheduled copy is still not done when the next one comes due. */
        if (s->status.tier3.missed_due_usec == 0 &&
            yb_calendar_next(s->policy->tier3_schedule, due->due_usec, &after) >= 0) {
                s->status.tier3.missed_due_usec = due->due_usec;
                s->status.tier3.period_usec = after - due->due_usec;
        }
        r = yb_copies_queue(d, due->system, NULL, due->catch_up ? "catch-up" : "schedule", 0, &job);
        if (r == -EBUSY)
                log_warning("System '%s': the off-site copy due now is skipped: copy job %" PRId64
                            " of the system has not ended yet.",
                            due->system, job);
        else if (r < 0)
                log_error_errno(r, "System '%s': cannot queue the off-site copy: %m", due->system);
        return 0;
}

static int resume_row(void *ud, sqlite3_stmt *row) {
        YbDaemon *d = ud;
        const char *system = (const char *) sqlite3_column_text(row, 0),
                   *snapshot = (const char *) sqlite3_column_text(row, 1);
        int64_t request = sqlite3_column_int64(row, 2), job;
        int r;

        if (!system || !yb_daemon_system(d, system))
                return 0;
        r = yb_copies_queue(d, system, snapshot, "resume", request, &job);
        if (r == -ENOTSUP)
                log_warning("System '%s': its last copy did not end, and its policy has no tier3 "
                            "any more: nothing resumes it. What it left in the tier-3 store is "
                            "not a snapshot there; remove <system>/tmp/copy-* by hand if unwanted.",
                            system);
        else if (r < 0 && r != -EBUSY && r != -ESHUTDOWN)
                log_error_errno(r,
                                "System '%s': cannot queue the copy that resumes the one the last "
                                "yunbakd left unfinished: %m. The next scheduled copy resumes it.",
                                system);
        else if (r >= 0)
                log_info("System '%s': copy job %" PRId64 " resumes the copy%s%s that the last "
                         "yunbakd left unfinished.",
                         system, job, snapshot ? " of snapshot " : "", snapshot ? snapshot : "");
        return 0;
}

void yb_copies_resume(YbDaemon *d) {
        int r;

        /* The last copy job of each system, when it did not end: running when yunbakd died
         * (failed, "interrupted") or stopped, or queued or running when it was stopped. */
        r = yb_catalog_query(d->catalog,
                             "SELECT system, snapshot, (SELECT max(a.id) FROM approvals a "
                             "WHERE a.job = j.id) FROM jobs j WHERE tier = 3 AND id = "
                             "(SELECT max(id) FROM jobs WHERE tier = 3 AND system = j.system) AND "
                             "((state = 'failed' AND error LIKE 'interrupted%') OR "
                             "(state = 'cancelled' AND error LIKE 'yunbakd stopped%'))",
                             resume_row, d, "");
        if (r < 0)
                log_error_errno(r,
                                "Cannot read from the catalog %s which copies the last yunbakd "
                                "left unfinished: %m. The next scheduled copies resume them.",
                                d->config->catalog);
}

static int newest_row(void *ud, sqlite3_stmt *row) {
        YbTier3Status *t = ud;
        const char *id = (const char *) sqlite3_column_text(row, 0);

        snprintf(t->newest, sizeof(t->newest), "%s", id ? id : "");
        t->newest_usec = sqlite3_column_int64(row, 1);
        return 0;
}

static int last_row(void *ud, sqlite3_stmt *row) {
        YbTier3Status *t = ud;
        const char *state = (const char *) sqlite3_column_text(row, 0),
                   *error = (const char *) sqlite3_column_text(row, 4);

        t->has_last = false;
        for (int i = 0; i < _YB_JOB_STATE_MAX; i++)
                if (state && streq(state, yb_job_state_to_string(i))) {
                        t->has_last = true;
                        t->last_state = i;
                }
        t->last_end_usec = sqlite3_column_int64(row, 1);
        t->last_verified = (uint64_t) sqlite3_column_int64(row, 2);
        t->last_sent = (uint64_t) sqlite3_column_int64(row, 3);
        t->last_reused = UINT64_MAX; /* the catalog does not keep it: unknown, not 0 */
        snprintf(t->last_error, sizeof(t->last_error), "%s", error ? error : "");
        return 0;
}

int yb_copies_load_status(YbDaemon *d) {
        int r = 0;

        for (size_t i = 0; i < d->n_systems && r >= 0; i++) {
                YbSystem *s = &d->systems[i];

                if (!s->policy->tier3_store)
                        continue;
                r = yb_catalog_query(d->catalog,
                                     "SELECT id, finished_usec FROM snapshots WHERE system = ?1 "
                                     "AND store = ?2 ORDER BY finished_usec DESC LIMIT 1",
                                     newest_row, &s->status.tier3, "tt", s->policy->id,
                                     s->policy->tier3_store);
                if (r >= 0)
                        r = yb_catalog_query(d->catalog,
                                             "SELECT state, finished_usec, coalesce(bytes_read, "
                                             "0), coalesce(bytes_stored, 0), error FROM jobs "
                                             "WHERE tier = 3 AND system = ?1 AND finished_usec "
                                             "IS NOT NULL ORDER BY id DESC LIMIT 1",
                                             last_row, &s->status.tier3, "t", s->policy->id);
        }
        if (r < 0)
                log_error_errno(r, "Cannot read the off-site copies from the catalog: %m");
        return r;
}

/* The state of a system's tier 3 as status says it: running, paused-until, queued, failing or
 * idle. */
static const char *tier3_state(const YbTier3Status *t, int64_t now) {
        if (t->job > 0 && t->running)
                return "running";
        if (t->job > 0 && t->paused_until > now)
                return "paused-until";
        if (t->job > 0)
                return "queued";
        if (t->has_last && t->last_state == YB_JOB_FAILED)
                return "failing";
        return "idle";
}

bool yb_copies_behind(const YbSystem *s, int64_t now) {
        const YbTier3Status *t = &s->status.tier3;

        return t->missed_due_usec > 0 && t->period_usec > 0 &&
               now - t->missed_due_usec > t->period_usec;
}

static json_t *usec_or_null(int64_t usec) {
        return usec > 0 && usec != INT64_MAX ? json_integer(usec) : json_null();
}

/* The store's bandwidth and windows, as yunbakd.yaml says them. */
static void limits_json(const YbConfigStore *st, json_t *o) {
        json_t *w = json_array();
        char buf[256]; /* a zone name is at most a path component or two */

        json_object_set_new(o, "bandwidth",
                            st && st->rate_bps > 0 ? json_string(yb_bandwidth_format(
                                                             st->rate_bps, buf, sizeof(buf)))
                                                   : json_null());
        for (size_t i = 0; st && i < st->n_windows; i++) {
                const YbStoreWindow *x = &st->windows[i];

                snprintf(buf, sizeof(buf), "%02d:%02d-%02d:%02d %s", x->start_min / 60,
                         x->start_min % 60, x->end_min / 60, x->end_min % 60, x->zone);
                json_array_append_new(w, json_string(buf));
        }
        json_object_set_new(o, "windows", w);
}

void yb_copies_status_json(YbDaemon *d, const YbSystem *s, int64_t now, json_t *o) {
        const YbPolicy *p = s->policy;
        const YbTier3Status *t = &s->status.tier3;
        json_t *last = json_null(), *tier3;

        if (!p->tier3_store) {
                json_object_set_new(o, "tier3", json_null());
                return;
        }
        if (t->has_last)
                last = json_pack("{s:s, s:I, s:I, s:o, s:I, s:o}", "state",
                                 yb_job_state_to_string(t->last_state), "finished_usec",
                                 (json_int_t) t->last_end_usec, "bytes_sent",
                                 (json_int_t) t->last_sent, "bytes_reused",
                                 t->last_reused == UINT64_MAX
                                         ? json_null()
                                         : json_integer((json_int_t) t->last_reused),
                                 "bytes_verified", (json_int_t) t->last_verified, "error",
                                 t->last_error[0] ? json_string(t->last_error) : json_null());
        tier3 = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:b}", "store", p->tier3_store,
                          "state", tier3_state(t, now), "job",
                          t->job > 0 ? json_integer(t->job) : json_null(), "paused_until_usec",
                          usec_or_null(t->job > 0 ? t->paused_until : 0), "newest_snapshot",
                          t->newest[0] ? json_string(t->newest) : json_null(), "newest_age_usec",
                          t->newest[0] ? json_integer(now - t->newest_usec) : json_null(),
                          "last_copy", last, "next_usec", usec_or_null(t->next_usec), "behind",
                          yb_copies_behind(s, now));
        if (tier3 && t->running)
                json_object_set_new(tier3, "progress",
                                    json_pack("{s:I, s:I, s:I}", "bytes_sent",
                                              (json_int_t) t->progress_sent, "bytes_reused",
                                              (json_int_t) t->progress_reused, "bytes_total",
                                              (json_int_t) t->progress_total));
        if (tier3)
                limits_json(yb_daemon_config_store(d->config, p->tier3_store), tier3);
        json_object_set_new(o, "tier3", tier3);
}

void yb_copies_metrics(YbDaemon *d, YbBuf *b, int64_t now) {
        yb_buf_printf(b, "# HELP yunbak_tier_running 1 for a tier of a system's policy that "
                         "yunbakd runs; tier 2 only while its replicator runs and reports.\n"
                         "# TYPE yunbak_tier_running gauge\n");
        for (size_t i = 0; i < d->n_systems; i++) {
                const YbPolicy *p = d->systems[i].policy;
                int on = !yb_system_stopped(&d->systems[i]); /* 0: its decommission stopped it */

                yb_buf_printf(b, "yunbak_tier_running{system=\"%s\",tier=\"1\"} %d\n", p->id, on);
                if (p->tier2_store)
                        yb_buf_printf(b, "yunbak_tier_running{system=\"%s\",tier=\"2\"} %d\n",
                                      p->id, on && yb_replicators_running(d, p->id));
                if (p->tier3_store)
                        yb_buf_printf(b, "yunbak_tier_running{system=\"%s\",tier=\"3\"} %d\n",
                                      p->id, on);
        }
        yb_buf_printf(b, "# HELP yunbak_offsite_age_seconds Age of the newest off-site copy "
                         "(tier 3), from the time its snapshot was made.\n"
                         "# TYPE yunbak_offsite_age_seconds gauge\n");
        for (size_t i = 0; i < d->n_systems; i++) {
                const YbTier3Status *t = &d->systems[i].status.tier3;

                if (d->systems[i].policy->tier3_store && t->newest[0])
                        yb_buf_printf(b, "yunbak_offsite_age_seconds{system=\"%s\"} %.3f\n",
                                      d->systems[i].policy->id,
                                      (double) (now - t->newest_usec) / YB_USEC_PER_SEC);
        }
        yb_buf_printf(b, "# HELP yunbak_offsite_bytes_copied_total Bytes written to the system's "
                         "tier-3 store by copy jobs since yunbakd started.\n"
                         "# TYPE yunbak_offsite_bytes_copied_total counter\n");
        for (size_t i = 0; i < d->n_systems; i++)
                if (d->systems[i].policy->tier3_store)
                        yb_buf_printf(b, "yunbak_offsite_bytes_copied_total{system=\"%s\"} %llu\n",
                                      d->systems[i].policy->id,
                                      (unsigned long long) d->systems[i].status.tier3.sent_total);
        yb_buf_printf(b, "# HELP yunbak_offsite_behind 1 while a scheduled off-site copy is more "
                         "than one schedule period late, else 0.\n"
                         "# TYPE yunbak_offsite_behind gauge\n");
        for (size_t i = 0; i < d->n_systems; i++)
                if (d->systems[i].policy->tier3_store)
                        yb_buf_printf(b, "yunbak_offsite_behind{system=\"%s\"} %d\n",
                                      d->systems[i].policy->id,
                                      !yb_system_stopped(&d->systems[i]) &&
                                              yb_copies_behind(&d->systems[i], now));
}
