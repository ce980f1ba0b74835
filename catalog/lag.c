/* catalog/lag.c: tier 2's hourly lag rows (catalog/lag.h), one UPSERT per hour and system. */
#include "catalog/lag.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>

#include "core/base/macro.h"

static int no_rows(void *ud, sqlite3_stmt *row) {
        (void) ud;
        (void) row;
        return 0;
}

int yb_lag_hour_put(YbCatalog *c, const char *system, const YbLagHour *h) {
        int64_t known = h->samples - h->unknown_seconds;

        /* -1 is stored as NULL: no known sample. The percentiles of the part with more known
         * samples win a merge. */
        return yb_catalog_query(
                c,
                "INSERT INTO replication_lag (system, hour_usec, samples, unknown_seconds, "
                "p50_ms, p99_ms, max_ms) VALUES (?1, ?2, ?3, ?4, nullif(?5, -1), nullif(?6, -1), "
                "nullif(?7, -1)) ON CONFLICT (system, hour_usec) DO UPDATE SET "
                "p50_ms = CASE WHEN ?8 > samples - unknown_seconds THEN excluded.p50_ms ELSE "
                "p50_ms END, "
                "p99_ms = CASE WHEN ?8 > samples - unknown_seconds THEN excluded.p99_ms ELSE "
                "p99_ms END, "
                "max_ms = CASE WHEN max_ms IS NULL OR excluded.max_ms > max_ms THEN "
                "excluded.max_ms ELSE max_ms END, "
                "samples = samples + excluded.samples, "
                "unknown_seconds = unknown_seconds + excluded.unknown_seconds",
                no_rows, NULL, "tIIIIIII", system, h->hour_usec, h->samples, h->unknown_seconds,
                h->p50_ms, h->p99_ms, h->max_ms, known);
}

/* The rows read: v grows as they come, up to max of them (-1: no bound). */
typedef struct Rows {
        YbLagHour *v;
        size_t n, alloc;
        int64_t max;
} Rows;

static int64_t col_or_minus1(sqlite3_stmt *row, int i) {
        return sqlite3_column_type(row, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(row, i);
}

static int hour_row(void *ud, sqlite3_stmt *row) {
        Rows *r = ud;

        if (r->max >= 0 && r->n >= (size_t) r->max)
                return 0;
        if (r->n == r->alloc) {
                size_t a = r->alloc ? r->alloc * 2 : 32;
                YbLagHour *v = realloc(r->v, a * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                r->v = v;
                r->alloc = a;
        }
        r->v[r->n++] = (YbLagHour){
                .hour_usec = sqlite3_column_int64(row, 0),
                .samples = sqlite3_column_int64(row, 1),
                .unknown_seconds = sqlite3_column_int64(row, 2),
                .p50_ms = col_or_minus1(row, 3),
                .p99_ms = col_or_minus1(row, 4),
                .max_ms = col_or_minus1(row, 5),
        };
        return 0;
}

int yb_lag_hours_get(YbCatalog *c, const char *system, int64_t since_usec, int max_rows,
                     YbLagHour **ret) {
        Rows r = { .max = MAX(max_rows, 0) };
        int k;

        /* The newest max_rows, then turned around to oldest first. */
        k = yb_catalog_query(c,
                             "SELECT hour_usec, samples, unknown_seconds, p50_ms, p99_ms, "
                             "max_ms FROM replication_lag WHERE system = ?1 AND hour_usec >= ?2 "
                             "ORDER BY hour_usec DESC LIMIT ?3",
                             hour_row, &r, "tII", system, since_usec, (int64_t) r.max);
        if (k < 0) {
                free(r.v);
                return k;
        }
        for (size_t i = 0; i < r.n / 2; i++) {
                YbLagHour t = r.v[i];

                r.v[i] = r.v[r.n - 1 - i];
                r.v[r.n - 1 - i] = t;
        }
        if (!r.v) {
                r.v = new0(YbLagHour, 1); /* none: still the caller's to free */
                if (!r.v)
                        return -ENOMEM;
        }
        *ret = r.v;
        return (int) r.n;
}

int yb_lag_hours_between(YbCatalog *c, const char *system, int64_t from, int64_t to,
                         YbLagHour **ret, size_t *ret_n) {
        Rows r = { .max = -1 };
        int k;

        k = yb_catalog_query(c,
                             "SELECT hour_usec, samples, unknown_seconds, p50_ms, p99_ms, max_ms"
                             " FROM replication_lag WHERE system = ?1 AND hour_usec >= ?2 AND"
                             " hour_usec < ?3 ORDER BY hour_usec",
                             hour_row, &r, "tII", system, from, to);
        if (k < 0) {
                free(r.v);
                return k;
        }
        *ret = r.v;
        *ret_n = r.n;
        return 0;
}
