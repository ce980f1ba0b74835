/* catalog/report-queries.c: the reports' reads of the catalog over a period, and the RPO-met and
 * lag computations over what they read (catalog/report-queries.h; the rules are docs/reports.md's).
 */
#include "catalog/report-queries.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/macro.h"

static int jobs_row(void *ud, sqlite3_stmt *row) {
        YbReportJobs *j = ud;
        const char *state = (const char *) sqlite3_column_text(row, 0);
        int64_t n = sqlite3_column_int64(row, 1);

        if (!state)
                return 0;
        if (streq(state, "succeeded"))
                j->succeeded = n;
        else if (streq(state, "partial"))
                j->partial = n;
        else if (streq(state, "failed"))
                j->failed = n;
        else if (streq(state, "cancelled"))
                j->cancelled = n;
        return 0;
}

int yb_report_jobs(YbCatalog *c, const char *system, int tier, int64_t from, int64_t to,
                   YbReportJobs *ret) {
        YbReportJobs j = { 0 };
        int r;

        r = yb_catalog_query(c,
                             "SELECT state, count(*) FROM jobs WHERE system = ?1 AND tier = ?2"
                             " AND finished_usec >= ?3 AND finished_usec < ?4 GROUP BY state",
                             jobs_row, &j, "tIII", system, (int64_t) tier, from, to);
        if (r < 0)
                return r;
        *ret = j;
        return 0;
}

typedef struct One {
        bool found;
        int64_t v;
        char text[64];
} One;

static int one_row(void *ud, sqlite3_stmt *row) {
        One *o = ud;

        if (sqlite3_column_type(row, 0) == SQLITE_NULL)
                return 0;
        o->found = true;
        o->v = sqlite3_column_int64(row, 0);
        if (sqlite3_column_count(row) > 1 && sqlite3_column_text(row, 1))
                snprintf(o->text, sizeof(o->text), "%s", sqlite3_column_text(row, 1));
        return 0;
}

int yb_report_first_loaded(YbCatalog *c, const char *system, int64_t *ret) {
        One o = { 0 };
        int r = yb_catalog_query(c,
                                 "SELECT min(loaded_usec) FROM policy_versions WHERE system = ?1",
                                 one_row, &o, "t", system);

        if (r < 0)
                return r;
        if (!o.found)
                return -ENOENT;
        *ret = o.v;
        return 0;
}

/* Makes room in *v (n items of size bytes, room for *alloc) for one more: 0 or -ENOMEM. */
static int grow(void **v, size_t n, size_t *alloc, size_t size) {
        size_t more;
        void *w;

        if (n < *alloc)
                return 0;
        more = *alloc ? *alloc * 2 : 64;
        w = reallocarray(*v, more, size);
        if (!w)
                return -ENOMEM;
        *v = w;
        *alloc = more;
        return 0;
}

typedef struct Times {
        int64_t *v;
        size_t n, alloc;
} Times;

static int time_row(void *ud, sqlite3_stmt *row) {
        Times *t = ud;

        if (grow((void **) &t->v, t->n, &t->alloc, sizeof(*t->v)) < 0)
                return -ENOMEM;
        t->v[t->n++] = sqlite3_column_int64(row, 0);
        return 0;
}

int yb_report_policy_changes(YbCatalog *c, const char *system, int64_t from, int64_t to,
                             int64_t **ret, size_t *ret_n) {
        Times t = { 0 };
        int r;

        r = yb_catalog_query(c,
                             "SELECT loaded_usec FROM policy_versions WHERE system = ?1 AND"
                             " loaded_usec > ?2 AND loaded_usec < ?3 ORDER BY 1",
                             time_row, &t, "tII", system, from, to);
        if (r < 0) {
                free(t.v);
                return r;
        }
        *ret = t.v;
        *ret_n = t.n;
        return 0;
}

int yb_report_good_times(YbCatalog *c, const char *system, const char *store, int64_t since,
                         int64_t until, int64_t **ret, size_t *ret_n) {
        Times t = { 0 };
        int r;

        /* A pruned snapshot was good when it was made: its job's end stands for it, also when
         * its off-site copy outlives it (the tier-1 store is asked, not any store). */
        r = yb_catalog_query(
                c,
                "SELECT finished_usec FROM snapshots WHERE system = ?1 AND store = ?2 AND"
                " partial = 0 AND quarantine IS NULL AND finished_usec >= ?4 AND"
                " finished_usec < ?3"
                " UNION ALL SELECT finished_usec FROM jobs j WHERE system = ?1 AND tier = 1 AND"
                " state = 'succeeded' AND snapshot IS NOT NULL AND finished_usec >= ?4 AND"
                " finished_usec < ?3 AND"
                " NOT EXISTS (SELECT 1 FROM snapshots s WHERE s.system = ?1 AND s.store = ?2 AND"
                " s.id = j.snapshot)"
                " ORDER BY 1",
                time_row, &t, "ttII", system, store, until, since);
        if (r < 0) {
                free(t.v);
                return r;
        }
        *ret = t.v;
        *ret_n = t.n;
        return 0;
}

void yb_report_rpo_met(const int64_t *times, size_t n, int64_t charge_usec, int64_t rpo_usec,
                       int64_t from, int64_t to, YbRpoMet *ret) {
        YbRpoMet m = { 0 };
        int64_t covered = INT64_MIN; /* the union of [t, t + rpo] so far ends here */
        bool charge = charge_usec != INT64_MIN;

        if (from >= to) {
                *ret = m;
                return;
        }
        m.seen_usec = to - from;
        m.met_usec = m.seen_usec;
        for (size_t i = 0;;) {
                /* The next time, of the snapshots' or yunbakd's taking charge (which covers
                 * like one and is not counted as one). */
                bool is_charge = charge && (i >= n || charge_usec <= times[i]);
                /* Past the last time before to, the breach (if any) runs to the end of seen. */
                bool last = !is_charge && (i >= n || times[i] >= to);
                int64_t t = last ? to : is_charge ? MIN(charge_usec, to) : times[i];
                int64_t start = MAX(covered, from), end = MIN(t, to);

                if (end > start) {
                        m.met_usec -= end - start;
                        if (end - start > m.longest_usec) {
                                m.longest_usec = end - start;
                                m.longest_start_usec = start;
                        }
                }
                if (last)
                        break;
                if (is_charge)
                        charge = false;
                else if (i++, t >= from)
                        m.snapshots++;
                covered = MAX(covered, t > INT64_MAX - rpo_usec ? INT64_MAX : t + rpo_usec);
        }
        *ret = m;
}

typedef struct Weighted {
        int64_t value, weight;
} Weighted;

static int weighted_cmp(const void *a, const void *b) {
        const Weighted *x = a, *y = b;

        return (x->value > y->value) - (x->value < y->value);
}

/* The smallest value at which the weights at or under it reach percent % of all; -1: none. */
static int64_t weighted_quantile(Weighted *w, size_t n, int percent) {
        int64_t total = 0, sum = 0;

        for (size_t i = 0; i < n; i++)
                total += w[i].weight;
        if (total <= 0)
                return -1;
        qsort(w, n, sizeof(*w), weighted_cmp);
        for (size_t i = 0; i < n; i++) {
                sum += w[i].weight;
                /* sum / total >= percent / 100, in integers */
                if ((__int128) sum * 100 >= (__int128) total * percent)
                        return w[i].value;
        }
        return w[n - 1].value;
}

void yb_report_lag_summary(const YbLagHour *hours, size_t n, YbReportLag *ret) {
        YbReportLag l = { .p50_ms = -1, .p99_ms = -1, .max_ms = -1 };
        _cleanup_free_ Weighted *w50 = n ? calloc(n, sizeof(Weighted)) : NULL;
        _cleanup_free_ Weighted *w99 = n ? calloc(n, sizeof(Weighted)) : NULL;
        size_t n50 = 0, n99 = 0;

        for (size_t i = 0; i < n; i++) {
                const YbLagHour *h = &hours[i];
                int64_t known = h->samples - h->unknown_seconds;

                l.hours++;
                l.samples += h->samples;
                l.unknown_seconds += h->unknown_seconds;
                if (h->max_ms >= 0 && h->max_ms > l.max_ms)
                        l.max_ms = h->max_ms;
                if (known <= 0)
                        continue;
                l.known += known;
                if (w50 && h->p50_ms >= 0)
                        w50[n50++] = (Weighted){ h->p50_ms, known };
                if (w99 && h->p99_ms >= 0)
                        w99[n99++] = (Weighted){ h->p99_ms, known };
        }
        if (n50)
                l.p50_ms = weighted_quantile(w50, n50, 50);
        if (n99)
                l.p99_ms = weighted_quantile(w99, n99, 99);
        *ret = l;
}

int yb_report_newest_copy(YbCatalog *c, const char *system, const char *store, int64_t end,
                          char ret_id[64], int64_t *ret_usec) {
        One o = { 0 };
        int r;

        r = yb_catalog_query(
                c,
                "SELECT s.finished_usec, s.id FROM snapshots s LEFT JOIN (SELECT snapshot,"
                " min(finished_usec) AS copied FROM jobs WHERE system = ?1 AND tier = 3 AND"
                " state = 'succeeded' AND snapshot IS NOT NULL GROUP BY snapshot) j ON"
                " j.snapshot = s.id WHERE s.system = ?1 AND s.store = ?2 AND s.partial = 0 AND"
                " s.quarantine IS NULL AND coalesce(j.copied, s.finished_usec) <= ?3"
                " ORDER BY s.finished_usec DESC, s.id DESC LIMIT 1",
                one_row, &o, "ttI", system, store, end);
        if (r < 0)
                return r;
        if (!o.found)
                return -ENOENT;
        snprintf(ret_id, 64, "%s", o.text);
        *ret_usec = o.v;
        return 0;
}

static int sample_row(void *ud, sqlite3_stmt *row) {
        YbStorageSample *s = ud;

        *s = (YbStorageSample){ sqlite3_column_int64(row, 0), sqlite3_column_int64(row, 1),
                                sqlite3_column_int64(row, 2) };
        return 0;
}

int yb_report_storage_at(YbCatalog *c, const char *system, const char *store, int64_t at,
                         YbStorageSample *ret) {
        YbStorageSample s = { .day_usec = -1 };
        int r;

        r = yb_catalog_query(c,
                             "SELECT day_usec, bytes, snapshots FROM storage_usage WHERE"
                             " system = ?1 AND store = ?2 AND day_usec <= ?3"
                             " ORDER BY day_usec DESC LIMIT 1",
                             sample_row, &s, "ttI", system, store, at);
        if (r < 0)
                return r;
        if (s.day_usec < 0)
                return -ENOENT;
        *ret = s;
        return 0;
}

static int no_rows(void *ud, sqlite3_stmt *row) {
        (void) ud;
        (void) row;
        return 0;
}

int yb_report_storage_measure(YbCatalog *c, const char *system, int tier, const char *store,
                              int64_t day_usec, bool only_if_listed) {
        return yb_catalog_query(
                c,
                "INSERT OR REPLACE INTO storage_usage (system, tier, store, day_usec, bytes,"
                " snapshots) SELECT ?1, ?2, ?3, ?4, coalesce(sum(bytes_stored), 0), count(*)"
                " FROM snapshots WHERE system = ?1 AND store = ?3 HAVING count(*) > 0 OR ?5 = 0",
                no_rows, NULL, "tItII", system, (int64_t) tier, store, day_usec,
                (int64_t) only_if_listed);
}
