/* catalog/requests.c: requests for off-site copies in the approvals table (requests.h). A
 * decision is one conditional UPDATE (WHERE decision IS NULL), so that two operators deciding at
 * once cannot both succeed. */
#include "catalog/requests.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define REQUEST_COLUMNS                                                                            \
        "a.id, a.system, a.snapshot, a.reason, a.requested_by, a.requested_usec, a.decision,"      \
        " a.decided_by, a.decided_usec, a.note, a.job, j.state, s.department"
#define REQUEST_FROM                                                                               \
        " FROM approvals a LEFT JOIN jobs j ON j.id = a.job LEFT JOIN systems s ON"                \
        " s.id = a.system WHERE a.kind = '" YB_REQUEST_KIND_OFFSITE "'"

void yb_request_done(YbRequest *r) {
        free(r->system);
        free(r->snapshot);
        free(r->reason);
        free(r->requested_by);
        free(r->decision);
        free(r->decided_by);
        free(r->decision_reason);
        free(r->job_state);
        free(r->department);
        *r = (YbRequest){};
}

static char *col_dup(sqlite3_stmt *row, int i) {
        const char *t = (const char *) sqlite3_column_text(row, i);

        return t ? strdup(t) : NULL;
}

/* Reads a row of REQUEST_COLUMNS; -ENOMEM if a string cannot be copied. */
static int request_from_row(sqlite3_stmt *row, YbRequest *ret) {
        YbRequest r = {
                .id = sqlite3_column_int64(row, 0),
                .system = col_dup(row, 1),
                .snapshot = col_dup(row, 2),
                .reason = col_dup(row, 3),
                .requested_by = col_dup(row, 4),
                .requested_usec = sqlite3_column_int64(row, 5),
                .decision = col_dup(row, 6),
                .decided_by = col_dup(row, 7),
                .decided_usec = sqlite3_column_int64(row, 8),
                .decision_reason = col_dup(row, 9),
                .job = sqlite3_column_int64(row, 10),
                .job_state = col_dup(row, 11),
                .department = col_dup(row, 12),
        };

        if (!r.system || !r.requested_by ||
            (sqlite3_column_type(row, 2) != SQLITE_NULL && !r.snapshot)) {
                yb_request_done(&r);
                return -ENOMEM;
        }
        *ret = r;
        return 0;
}

/* Binds and steps one writing statement; fmt: 't' text (NULL allowed), 'I' int64 (0 as NULL
 * when 'J'). Returns the rows changed, or -errno. */
static int write_row(YbCatalog *c, const char *sql, const char *fmt, ...) {
        sqlite3 *db = yb_catalog_db(c);
        sqlite3_stmt *st;
        va_list ap;
        int rc, i = 1;

        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return yb_catalog_sql_error(db, rc, sql);
        va_start(ap, fmt);
        for (const char *f = fmt; *f && rc == SQLITE_OK; f++, i++) {
                if (*f == 't') {
                        const char *s = va_arg(ap, const char *);

                        rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT)
                               : sqlite3_bind_null(st, i);
                } else {
                        int64_t v = va_arg(ap, int64_t);

                        rc = *f == 'J' && v == 0 ? sqlite3_bind_null(st, i)
                                                 : sqlite3_bind_int64(st, i, v);
                }
        }
        va_end(ap);
        if (rc == SQLITE_OK)
                rc = sqlite3_step(st);
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
                return yb_catalog_sql_error(db, rc, sql);
        return sqlite3_changes(db);
}

int yb_requests_add(YbCatalog *c, const char *system, const char *snapshot, const char *reason,
                    const char *requested_by, int64_t now_usec, int64_t *ret_id) {
        int r = write_row(c,
                          "INSERT INTO approvals (system, kind, requested_by, requested_usec,"
                          " snapshot, reason) VALUES (?1, '" YB_REQUEST_KIND_OFFSITE
                          "', ?2, ?3, ?4, ?5)",
                          "ttItt", system, requested_by, now_usec, snapshot, reason);

        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(yb_catalog_db(c));
        return 0;
}

int yb_requests_decide(YbCatalog *c, int64_t id, const char *decision, const char *decided_by,
                       int64_t now_usec, const char *reason, int64_t job) {
        YbRequest req = {};
        int r;

        r = write_row(c,
                      "UPDATE approvals SET decision = ?2, decided_by = ?3, decided_usec = ?4,"
                      " note = ?5, job = ?6 WHERE id = ?1 AND kind = '" YB_REQUEST_KIND_OFFSITE
                      "' AND decision IS NULL",
                      "IttItJ", id, decision, decided_by, now_usec, reason, job);
        if (r != 0)
                return r < 0 ? r : 0;
        /* Nothing changed: no such request, or one decided already. */
        r = yb_requests_get(c, id, &req);
        yb_request_done(&req);
        return r < 0 ? r : -EALREADY;
}

static int one_row(void *ud, sqlite3_stmt *row) {
        return request_from_row(row, ud);
}

int yb_requests_get(YbCatalog *c, int64_t id, YbRequest *ret) {
        YbRequest r = { .id = 0 };
        int k;

        k = yb_catalog_query(c, "SELECT " REQUEST_COLUMNS REQUEST_FROM " AND a.id = ?1", one_row,
                             &r, "I", id);
        if (k < 0) {
                yb_request_done(&r);
                return k;
        }
        if (r.id == 0)
                return -ENOENT;
        *ret = r;
        return 0;
}

typedef struct ListWalk {
        int (*fn)(void *ud, const YbRequest *r);
        void *ud;
} ListWalk;

static int list_row(void *ud, sqlite3_stmt *row) {
        ListWalk *w = ud;
        YbRequest r;
        int k = request_from_row(row, &r);

        if (k < 0)
                return k;
        k = w->fn(w->ud, &r);
        yb_request_done(&r);
        return k;
}

int yb_requests_list(YbCatalog *c, const char *system, const char *department, bool pending_only,
                     int64_t limit, int (*fn)(void *ud, const YbRequest *r), void *ud) {
        ListWalk w = { fn, ud };

        return yb_catalog_query(c,
                                "SELECT " REQUEST_COLUMNS REQUEST_FROM
                                " AND (?1 IS NULL OR a.system = ?1) AND (?2 IS NULL OR"
                                " s.department = ?2) AND (?3 = 0 OR a.decision IS NULL)"
                                " ORDER BY a.id DESC LIMIT ?4",
                                list_row, &w, "ttII", system, department, (int64_t) pending_only,
                                limit);
}

static int id_row(void *ud, sqlite3_stmt *row) {
        *(int64_t *) ud = sqlite3_column_int64(row, 0);
        return 0;
}

int yb_requests_find_pending(YbCatalog *c, const char *system, const char *snapshot,
                             int64_t *ret_id) {
        int64_t id = 0;
        int r;

        r = yb_catalog_query(c,
                             "SELECT id FROM approvals WHERE kind = '" YB_REQUEST_KIND_OFFSITE
                             "' AND system = ?1 AND snapshot IS ?2 AND decision IS NULL"
                             " ORDER BY id LIMIT 1",
                             id_row, &id, "tt", system, snapshot);
        if (r < 0)
                return r;
        *ret_id = id;
        return 0;
}

typedef struct CountWalk {
        void (*fn)(void *ud, const char *system, int64_t n);
        void *ud;
} CountWalk;

static int count_row(void *ud, sqlite3_stmt *row) {
        CountWalk *w = ud;

        w->fn(w->ud, (const char *) sqlite3_column_text(row, 0), sqlite3_column_int64(row, 1));
        return 0;
}

int yb_requests_count_pending(YbCatalog *c, void (*fn)(void *ud, const char *system, int64_t n),
                              void *ud) {
        CountWalk w = { fn, ud };

        return yb_catalog_query(
                c,
                "SELECT system, count(*) FROM approvals WHERE kind = '" YB_REQUEST_KIND_OFFSITE
                "' AND decision IS NULL GROUP BY system",
                count_row, &w, "");
}
