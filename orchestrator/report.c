/* orchestrator/report.c: the report of a period, per department and system (report.h). Each
 * figure is docs/reports.md's, "The numbers"; a figure that cannot be known is null with a
 * reason, never 0. What the report needs of the policies is copied under the daemon's lock;
 * the catalog reads run without it, on a connection of the caller's own. */
#include "orchestrator/report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/report-queries.h"
#include "core/base/timeutil.h"
#include "orchestrator/decommission-internal.h"
#include "orchestrator/drill-due.h"
#include "orchestrator/replicators.h"

/* The reason of a figure of a point in time for a period that starts after now: none is known
 * yet, and the figure as of now would not be the period's. */
#define NOT_BEGUN "the period has not begun"

/* A time as "2026-12-06T15:04:05Z". */
static json_t *iso(int64_t usec) {
        char buf[32];

        orch_decom_date(usec, buf);
        return json_string(buf);
}

static int64_t seconds_down(int64_t usec) {
        return yb_floor_div(usec, YB_USEC_PER_SEC);
}

static int64_t seconds_up(int64_t usec) {
        return -yb_floor_div(-usec, YB_USEC_PER_SEC);
}

/* What the report needs of one system, copied from its policy and status under the lock: a
 * reload may free the policy while the catalog is read. */
typedef struct Sys {
        char *id, *name, *department, *tier1_store, *tier2_store, *tier3_store;
        const char *grade; /* a constant string */
        int64_t rpo_usec, rto_usec, tier2_max_lag_usec, drill_every_usec, check_timeout_usec;
        bool stopped;
        bool have_running; /* running: tier 2's lag in the hour now running, from memory */
        YbLagHour running;
} Sys;

struct OrchReport {
        Sys *v;
        size_t n;
        int64_t from, to, now;
};

/* What a system's part of the report needs besides the system. */
typedef struct Ctx {
        YbCatalog *c;
        int64_t from, to, now, end; /* end: min(to, now) */
        char *why;
        size_t why_size;
} Ctx;

static int fail(Ctx *x, int r, const char *system, const char *what) {
        snprintf(x->why, x->why_size, "cannot read %s of system '%s' from the catalog: %s", what,
                 system, strerror(-r));
        return r;
}

static int jobs_json(Ctx *x, const Sys *p, json_t *o) {
        YbReportJobs j;
        int r = yb_report_jobs(x->c, p->id, 1, x->from, x->to, &j);

        if (r < 0)
                return fail(x, r, p->id, "the tier-1 jobs");
        json_object_set_new(o, "jobs",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "run",
                                      (json_int_t) (j.succeeded + j.partial + j.failed),
                                      "succeeded", (json_int_t) j.succeeded, "partial",
                                      (json_int_t) j.partial, "failed", (json_int_t) j.failed,
                                      "cancelled", (json_int_t) j.cancelled));
        return 0;
}

static json_t *null_with(json_t *o, const char *reason) {
        json_object_set_new(o, "reason", json_string(reason));
        return o;
}

/* The policy's versions first loaded within seen: the RPO met is judged against the objective
 * in force now, which the catalog cannot say was the one in force before (it keeps each text
 * once, with when it was first loaded), so a change is named rather than guessed at. */
static int changes_json(Ctx *x, const Sys *p, int64_t from, int64_t to, json_t *rpo) {
        _cleanup_free_ int64_t *v = NULL;
        json_t *list = json_array();
        size_t n = 0;
        int r;

        json_object_set_new(rpo, "policy_changes", list);
        r = yb_report_policy_changes(x->c, p->id, from, to, &v, &n);
        if (r < 0)
                return fail(x, r, p->id, "its policy's versions");
        for (size_t i = 0; i < n; i++)
                json_array_append_new(list, json_pack("{s:I, s:o}", "loaded_usec",
                                                      (json_int_t) v[i], "loaded", iso(v[i])));
        if (n > 0)
                json_object_set_new(rpo, "note",
                                    json_string("the policy changed in the period; the whole "
                                                "period is judged against the rpo in force "
                                                "now"));
        return 0;
}

static int rpo_json(Ctx *x, const Sys *p, int64_t first_loaded, json_t *o) {
        _cleanup_free_ int64_t *times = NULL;
        int64_t from = MAX(x->from, first_loaded), to = x->end;
        json_t *rpo = json_object();
        size_t n = 0;
        YbRpoMet m;
        int r;

        json_object_set_new(o, "rpo", rpo);
        if (from >= to) {
                json_object_set_new(rpo, "met_per_mille", json_null());
                json_object_set_new(rpo, "met_seconds", json_null());
                null_with(rpo, first_loaded >= x->end
                                       ? "yunbakd had not loaded the system's policy by the "
                                         "period's end"
                                       : NOT_BEGUN);
                return 0;
        }
        /* A snapshot older than from - rpo covers nothing of seen: the read stays within the
         * period however long the catalog's history. */
        r = yb_report_good_times(x->c, p->id, p->tier1_store,
                                 from > INT64_MIN + p->rpo_usec ? from - p->rpo_usec : INT64_MIN,
                                 to, &times, &n);
        if (r < 0)
                return fail(x, r, p->id, "the tier-1 snapshots");
        yb_report_rpo_met(times, n, first_loaded, p->rpo_usec, from, to, &m);
        r = changes_json(x, p, from, to, rpo);
        if (r < 0)
                return r;
        json_object_set_new(rpo, "seen_from_usec", json_integer(from));
        json_object_set_new(rpo, "seen_from", iso(from));
        json_object_set_new(rpo, "seen_to_usec", json_integer(to));
        json_object_set_new(rpo, "seen_to", iso(to));
        json_object_set_new(rpo, "seen_seconds", json_integer(seconds_down(m.seen_usec)));
        json_object_set_new(rpo, "met_seconds", json_integer(seconds_down(m.met_usec)));
        json_object_set_new(
                rpo, "met_per_mille",
                json_integer((json_int_t) ((__int128) m.met_usec * 1000 / m.seen_usec)));
        json_object_set_new(rpo, "breach_seconds",
                            json_integer(seconds_up(m.seen_usec - m.met_usec)));
        json_object_set_new(rpo, "snapshots", json_integer(m.snapshots));
        json_object_set_new(rpo, "longest_breach",
                            m.longest_usec == 0
                                    ? json_null()
                                    : json_pack("{s:I, s:o, s:I}", "start_usec",
                                                (json_int_t) m.longest_start_usec, "start",
                                                iso(m.longest_start_usec), "seconds",
                                                (json_int_t) seconds_up(m.longest_usec)));
        return 0;
}

static json_t *text_or_null(const char *s) {
        return s ? json_string(s) : json_null();
}

static json_t *ms_or_null(int64_t v) {
        return v < 0 ? json_null() : json_integer(v);
}

static int lag_json(Ctx *x, const Sys *p, json_t *o) {
        _cleanup_free_ YbLagHour *hours = NULL;
        json_t *lag = json_object();
        size_t n = 0;
        YbReportLag l;
        int r;

        json_object_set_new(o, "lag", lag);
        if (!p->tier2_store) {
                json_object_set_new(lag, "state", json_string("no tier 2"));
                return 0;
        }
        json_object_set_new(lag, "max_lag_ms", json_integer(p->tier2_max_lag_usec / 1000));
        r = yb_lag_hours_between(x->c, p->id, x->from, x->to, &hours, &n);
        if (r < 0)
                return fail(x, r, p->id, "tier 2's lag hours");
        /* The hour running, so far, as yunbak status --lag-history shows it: its row is written
         * only when it ends. */
        if (p->have_running && p->running.hour_usec >= x->from && p->running.hour_usec < x->to) {
                YbLagHour *more = realloc(hours, (n + 1) * sizeof(*hours));

                if (!more)
                        return -ENOMEM;
                hours = more;
                hours[n++] = p->running;
                json_object_set_new(lag, "running_hour",
                                    json_pack("{s:I, s:o, s:I}", "hour_usec",
                                              (json_int_t) p->running.hour_usec, "hour",
                                              iso(p->running.hour_usec), "samples",
                                              (json_int_t) p->running.samples));
        }
        if (n == 0) {
                json_object_set_new(lag, "state", json_string("no samples"));
                null_with(lag, "yunbakd took no sample of tier 2's lag in the period");
                return 0;
        }
        yb_report_lag_summary(hours, n, &l);
        json_object_set_new(lag, "state", json_string("ok"));
        json_object_set_new(lag, "approximate", json_true());
        json_object_set_new(lag, "hours", json_integer(l.hours));
        json_object_set_new(lag, "samples", json_integer(l.samples));
        json_object_set_new(lag, "unknown_seconds", json_integer(l.unknown_seconds));
        json_object_set_new(lag, "p50_ms", ms_or_null(l.p50_ms));
        json_object_set_new(lag, "p99_ms", ms_or_null(l.p99_ms));
        json_object_set_new(lag, "max_ms", ms_or_null(l.max_ms));
        if (l.p50_ms < 0)
                null_with(lag, "the lag was unknown at every sample of the period");
        return 0;
}

static int offsite_json(Ctx *x, const Sys *p, json_t *o) {
        json_t *off = json_object();
        YbReportJobs j;
        char id[64];
        int64_t t;
        int r;

        json_object_set_new(o, "offsite", off);
        if (!p->tier3_store) {
                json_object_set_new(off, "state", json_string("no tier 3"));
                return 0;
        }
        json_object_set_new(off, "state", json_string("ok"));
        json_object_set_new(off, "store", json_string(p->tier3_store));
        r = yb_report_jobs(x->c, p->id, 3, x->from, x->to, &j);
        if (r < 0)
                return fail(x, r, p->id, "the tier-3 copies");
        json_object_set_new(off, "copies", json_integer(j.succeeded));
        json_object_set_new(off, "copies_failed", json_integer(j.failed));
        if (x->from >= x->now) {
                json_object_set_new(off, "newest", json_null());
                null_with(off, NOT_BEGUN);
                return 0;
        }
        r = yb_report_newest_copy(x->c, p->id, p->tier3_store, x->end, id, &t);
        if (r == -ENOENT) {
                json_object_set_new(off, "newest", json_null());
                null_with(off, "there was no off-site copy by the period's end");
                return 0;
        }
        if (r < 0)
                return fail(x, r, p->id, "the newest off-site copy");
        json_object_set_new(off, "newest",
                            json_pack("{s:s, s:I, s:o, s:I}", "id", id, "time_usec", (json_int_t) t,
                                      "time", iso(t), "age_seconds",
                                      (json_int_t) seconds_down(x->end - t)));
        return 0;
}

static json_t *met_or_null(int v) {
        return v < 0 ? json_null() : json_boolean(v);
}

/* Overdue at end, by the one rule (drill-due.h) over the catalog's figures as of end: the last
 * passing drill that started before it. */
static void overdue_json(Ctx *x, const Sys *p, int64_t first_loaded, const YbDrill *v, size_t n,
                         json_t *dr) {
        int64_t last = 0, due;
        bool overdue;

        for (size_t i = 0; i < n; i++)
                if (streq(v[i].state, YB_DRILL_PASSED) && v[i].started_usec < x->end)
                        last = MAX(last, v[i].started_usec);
        json_object_set_new(dr, "last_passed_usec", last ? json_integer(last) : json_null());
        json_object_set_new(dr, "every_seconds",
                            p->drill_every_usec > 0
                                    ? json_integer(seconds_down(p->drill_every_usec))
                                    : json_null());
        if (p->drill_every_usec <= 0 || x->from >= x->now) {
                json_object_set_new(dr, "overdue", json_null());
                json_object_set_new(dr, "overdue_reason",
                                    json_string(p->drill_every_usec <= 0
                                                        ? "the policy sets no drill.every"
                                                        : NOT_BEGUN));
                return;
        }
        yb_drill_due_judge(p->drill_every_usec, last, first_loaded, p->stopped, x->end, &due,
                           &overdue);
        json_object_set_new(dr, "overdue", json_boolean(overdue));
}

static int drills_json(Ctx *x, const Sys *s, int64_t first_loaded, json_t *o) {
        int64_t timeout = s->check_timeout_usec;
        int64_t passed = 0, missed = 0, failed = 0, running = 0, abandoned = 0;
        json_t *list = json_array(), *dr;
        YbDrill *v = NULL;
        size_t n = 0;
        int r;

        dr = json_pack("{s:o}", "list", list);
        json_object_set_new(o, "drills", dr);
        r = yb_drills_list(x->c, s->id, &v, &n);
        if (r < 0)
                return fail(x, r, s->id, "the drills");
        /* The list is newest first; the report's, oldest first. */
        for (size_t i = n; i-- > 0;) {
                const YbDrill *d = &v[i];
                const char *state = yb_drill_shown_state(d, timeout, x->now);

                if (d->started_usec < x->from || d->started_usec >= x->to)
                        continue;
                passed += streq(state, YB_DRILL_PASSED);
                /* Passed (restored and checked) yet slower or older than the objectives. */
                missed += streq(state, YB_DRILL_PASSED) && (d->rto_met == 0 || d->rpo_met == 0);
                failed += streq(state, YB_DRILL_FAILED);
                running += streq(state, YB_DRILL_RUNNING);
                abandoned += streq(state, "abandoned");
                json_array_append_new(
                        list,
                        json_pack("{s:I, s:I, s:o, s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "id",
                                  (json_int_t) d->id, "started_usec", (json_int_t) d->started_usec,
                                  "started", iso(d->started_usec), "tier", d->tier, "scenario",
                                  d->scenario ?: "", "state", state, "failed_phase",
                                  text_or_null(d->failed_phase), "rto_ms", ms_or_null(d->rto_ms),
                                  "rpo_seconds", ms_or_null(d->rpo_seconds), "rto_met",
                                  met_or_null(d->rto_met), "rpo_met", met_or_null(d->rpo_met)));
        }
        json_object_set_new(dr, "passed", json_integer(passed));
        json_object_set_new(dr, "objectives_missed", json_integer(missed));
        json_object_set_new(dr, "failed", json_integer(failed));
        json_object_set_new(dr, "running", json_integer(running));
        json_object_set_new(dr, "abandoned", json_integer(abandoned));
        overdue_json(x, s, first_loaded, v, n, dr);
        yb_drills_free(v, n);
        return 0;
}

static json_t *sample_json(const YbStorageSample *s) {
        return json_pack("{s:I, s:o, s:I, s:I}", "day_usec", (json_int_t) s->day_usec, "day",
                         iso(s->day_usec), "bytes", (json_int_t) s->bytes, "snapshots",
                         (json_int_t) s->snapshots);
}

static int storage_json(Ctx *x, const Sys *p, json_t *o) {
        const char *stores[3] = { p->tier1_store, p->tier2_store, p->tier3_store };
        json_t *list = json_array();

        json_object_set_new(o, "storage", list);
        for (int tier = 1; tier <= 3; tier++) {
                YbStorageSample a, b;
                json_t *t;
                int ra, rb;

                if (!stores[tier - 1])
                        continue;
                if (x->from >= x->now) {
                        json_array_append_new(list, json_pack("{s:I, s:s, s:n, s:n, s:n, s:n, s:s}",
                                                              "tier", (json_int_t) tier, "store",
                                                              stores[tier - 1], "start", "end",
                                                              "growth_bytes", "growth_snapshots",
                                                              "reason", NOT_BEGUN));
                        continue;
                }
                ra = yb_report_storage_at(x->c, p->id, stores[tier - 1], x->from, &a);
                rb = yb_report_storage_at(x->c, p->id, stores[tier - 1], x->to, &b);
                if ((ra < 0 && ra != -ENOENT) || (rb < 0 && rb != -ENOENT))
                        return fail(x, ra < 0 && ra != -ENOENT ? ra : rb, p->id,
                                    "the storage samples");
                t = json_pack("{s:I, s:s, s:o, s:o}", "tier", (json_int_t) tier, "store",
                              stores[tier - 1], "start", ra < 0 ? json_null() : sample_json(&a),
                              "end", rb < 0 ? json_null() : sample_json(&b));
                if (ra < 0 || rb < 0) {
                        json_object_set_new(t, "growth_bytes", json_null());
                        json_object_set_new(t, "growth_snapshots", json_null());
                        json_object_set_new(t, "reason", json_string("no sample"));
                } else {
                        json_object_set_new(t, "growth_bytes", json_integer(b.bytes - a.bytes));
                        json_object_set_new(t, "growth_snapshots",
                                            json_integer(b.snapshots - a.snapshots));
                }
                json_array_append_new(list, t);
        }
        return 0;
}

static int system_json(Ctx *x, const Sys *p, json_t **ret) {
        int64_t first_loaded = x->end;
        json_t *o;
        int r;

        r = yb_report_first_loaded(x->c, p->id, &first_loaded);
        if (r < 0 && r != -ENOENT)
                return fail(x, r, p->id, "when its policy was first loaded");
        o = json_pack("{s:s, s:s, s:s, s:o, s:{s:I, s:I}, s:{s:s, s:o, s:o}}", "id", p->id, "name",
                      p->name, "grade", p->grade, "first_loaded_usec",
                      r < 0 ? json_null() : json_integer(first_loaded), "objectives", "rpo_seconds",
                      (json_int_t) seconds_down(p->rpo_usec), "rto_seconds",
                      (json_int_t) seconds_down(p->rto_usec), "stores", "tier1", p->tier1_store,
                      "tier2", text_or_null(p->tier2_store), "tier3", text_or_null(p->tier3_store));
        if (!o)
                return -ENOMEM;
        if ((r = jobs_json(x, p, o)) < 0 || (r = rpo_json(x, p, first_loaded, o)) < 0 ||
            (r = lag_json(x, p, o)) < 0 || (r = offsite_json(x, p, o)) < 0 ||
            (r = drills_json(x, p, first_loaded, o)) < 0 || (r = storage_json(x, p, o)) < 0) {
                json_decref(o);
                return r;
        }
        *ret = o;
        return 0;
}

static int by_department_then_id(const void *a, const void *b) {
        const Sys *x = a, *y = b;
        int c = strcmp(x->department, y->department);

        return c ? c : strcmp(x->id, y->id);
}

static void sys_done(Sys *s) {
        free(s->id);
        free(s->name);
        free(s->department);
        free(s->tier1_store);
        free(s->tier2_store);
        free(s->tier3_store);
}

OrchReport *orch_report_free(OrchReport *r) {
        if (r) {
                for (size_t i = 0; i < r->n; i++)
                        sys_done(&r->v[i]);
                free(r->v);
                free(r);
        }
        return NULL;
}

/* strdup of s, NULL for NULL; *oom set when a copy failed. */
static char *dup_or_null(const char *s, bool *oom) {
        char *c = s ? strdup(s) : NULL;

        *oom |= s && !c;
        return c;
}

int orch_report_prepare(YbDaemon *d, const YbPerson *who, const char *department, int64_t from,
                        int64_t to, OrchReport **ret) {
        _cleanup_(orch_report_freep) OrchReport *r = calloc(1, sizeof(*r));
        bool oom = false;

        if (!r || !(r->v = calloc(d->n_systems + 1, sizeof(*r->v))))
                return -ENOMEM;
        r->from = from;
        r->to = to;
        r->now = yb_daemon_now(d);
        for (size_t i = 0; i < d->n_systems; i++) {
                const YbSystem *s = &d->systems[i];
                const YbPolicy *p = s->policy;

                if (!yb_access_sees(who, p->department) ||
                    (department && !streq(department, p->department)))
                        continue;
                r->v[r->n++] = (Sys){
                        .id = dup_or_null(p->id, &oom),
                        .name = dup_or_null(p->name, &oom),
                        .department = dup_or_null(p->department, &oom),
                        .tier1_store = dup_or_null(p->tier1_store, &oom),
                        .tier2_store = dup_or_null(p->tier2_store, &oom),
                        .tier3_store = dup_or_null(p->tier3_store, &oom),
                        .grade = yb_grade_to_string(p->grade),
                        .rpo_usec = p->rpo_usec,
                        .rto_usec = p->rto_usec,
                        .tier2_max_lag_usec = p->tier2_max_lag_usec,
                        .drill_every_usec = p->drill_every_usec,
                        .check_timeout_usec = orch_drill_check_timeout_usec(p),
                        .stopped = yb_system_stopped(s),
                };
                if (oom)
                        return -ENOMEM;
                if (p->tier2_store) {
                        int k = yb_replicators_running_hour(d, p->id, &r->v[r->n - 1].running);

                        if (k < 0)
                                return k;
                        r->v[r->n - 1].have_running = k > 0;
                }
        }
        qsort(r->v, r->n, sizeof(*r->v), by_department_then_id);
        *ret = TAKE_PTR(r);
        return 0;
}

int orch_report_json(const OrchReport *rep, YbCatalog *c, json_t **ret, char *why,
                     size_t why_size) {
        Ctx x = { c, rep->from, rep->to, rep->now, MIN(rep->to, rep->now), why, why_size };
        json_t *doc, *departments = json_array(), *dep = NULL;
        int r = 0;

        if (!departments)
                return -ENOMEM;
        doc = json_pack("{s:s, s:i, s:{s:I, s:o, s:I, s:o, s:I, s:o}, s:o}", "type",
                        "yunbak-report", "version", 1, "period", "from_usec",
                        (json_int_t) rep->from, "from", iso(rep->from), "to_usec",
                        (json_int_t) rep->to, "to", iso(rep->to), "now_usec", (json_int_t) rep->now,
                        "now", iso(rep->now), "departments", departments);
        if (!doc)
                return -ENOMEM;
        /* One read transaction: every figure from the same state of the catalog. */
        r = yb_catalog_query(c, "BEGIN", NULL, NULL, "");
        if (r < 0)
                snprintf(why, why_size, "cannot begin reading the catalog: %s", strerror(-r));
        for (size_t i = 0; r >= 0 && i < rep->n; i++) {
                const Sys *s = &rep->v[i];
                json_t *sys;

                if (!dep ||
                    !streq(json_string_value(json_object_get(dep, "name")), s->department)) {
                        dep = json_pack("{s:s, s:[]}", "name", s->department, "systems");
                        json_array_append_new(departments, dep);
                }
                r = system_json(&x, s, &sys);
                if (r >= 0)
                        json_array_append_new(json_object_get(dep, "systems"), sys);
        }
        (void) yb_catalog_query(c, "COMMIT", NULL, NULL, "");
        if (r < 0) {
                json_decref(doc);
                return r;
        }
        *ret = doc;
        return 0;
}
