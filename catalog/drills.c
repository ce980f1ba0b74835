/* catalog/drills.c: the table drills (drills.h). A drill is finished by one UPDATE that matches
 * only while it is running, so that two results at once cannot both be kept. Nullable integers
 * are stored as NULL and read back as drills.h says (0, or -1 where 0 is a value). */
#include "catalog/drills.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/macro.h"

/* The columns every read selects; body and terms last, replaced by NULL where they are not
 * wanted. */
#define DRILL_COLUMNS                                                                              \
        "id, system, tier, store, scenario, run_by, host, started_usec,"                           \
        " coalesce(reported_usec, 0), state, failed_phase, error, point,"                          \
        " coalesce(point_usec, 0), coalesce(rto_ms, -1), coalesce(rpo_seconds, -1),"               \
        " coalesce(rto_met, -1), coalesce(rpo_met, -1)"

void yb_drill_done(YbDrill *d) {
        free(d->system);
        free(d->store);
        free(d->scenario);
        free(d->run_by);
        free(d->host);
        free(d->state);
        free(d->failed_phase);
        free(d->error);
        free(d->point);
        free(d->body);
        free(d->terms);
        *d = (YbDrill){};
}

void yb_drills_free(YbDrill *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                yb_drill_done(&v[i]);
        free(v);
}

/* Copies text column i into *ret (NULL stays NULL); -ENOMEM. */
static int col_text(sqlite3_stmt *row, int i, char **ret) {
        const char *t = (const char *) sqlite3_column_text(row, i);

        *ret = NULL;
        if (!t)
                return 0;
        *ret = strdup(t);
        return *ret ? 0 : -ENOMEM;
}

static int drill_from_row(sqlite3_stmt *row, YbDrill *ret) {
        YbDrill d = {
                .id = sqlite3_column_int64(row, 0),
                .tier = sqlite3_column_int(row, 2),
                .started_usec = sqlite3_column_int64(row, 7),
                .reported_usec = sqlite3_column_int64(row, 8),
                .point_usec = sqlite3_column_int64(row, 13),
                .rto_ms = sqlite3_column_int64(row, 14),
                .rpo_seconds = sqlite3_column_int64(row, 15),
                .rto_met = sqlite3_column_int(row, 16),
                .rpo_met = sqlite3_column_int(row, 17),
        };
        struct {
                int col;
                char **dst;
        } texts[] = {
                { 1, &d.system }, { 3, &d.store }, { 4, &d.scenario },      { 5, &d.run_by },
                { 6, &d.host },   { 9, &d.state }, { 10, &d.failed_phase }, { 11, &d.error },
                { 12, &d.point }, { 18, &d.body }, { 19, &d.terms },
        };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                if (col_text(row, texts[i].col, texts[i].dst) < 0) {
                        yb_drill_done(&d);
                        return -ENOMEM;
                }
        *ret = d;
        return 0;
}

static int no_row(void *ud, sqlite3_stmt *row) {
        (void) ud;
        (void) row;
        return 0;
}

int yb_drills_begin(YbCatalog *c, const YbDrill *d, int64_t *ret_id) {
        int r;

        if (!d->system || !d->store || !d->scenario || !d->run_by || d->tier < 1 || d->tier > 3)
                return -EINVAL;
        r = yb_catalog_query(c,
                             "INSERT INTO drills (system, tier, store, scenario, run_by, host,"
                             " started_usec, state, terms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, "
                             "'" YB_DRILL_RUNNING "', ?8)",
                             no_row, NULL, "tIttttIt", d->system, (int64_t) d->tier, d->store,
                             d->scenario, d->run_by, d->host, d->started_usec, d->terms);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(yb_catalog_db(c));
        return 0;
}

static int state_row(void *ud, sqlite3_stmt *row) {
        return col_text(row, 0, ud);
}

int yb_drills_finish(YbCatalog *c, const YbDrill *d) {
        _cleanup_free_ char *state = NULL;
        int r;

        if (!d->state || !d->body ||
            (strcmp(d->state, YB_DRILL_PASSED) != 0 && strcmp(d->state, YB_DRILL_FAILED) != 0))
                return -EINVAL;
        /* nullif(x, -1): the figures drills.h reads back as -1 are stored as NULL. */
        r = yb_catalog_query(
                c,
                "UPDATE drills SET state = ?2, reported_usec = nullif(?3, 0), host = ?4,"
                " failed_phase = ?5, error = ?6, point = ?7, point_usec = nullif(?8, 0),"
                " rto_ms = nullif(?9, -1), rpo_seconds = nullif(?10, -1), rto_met = nullif(?11, "
                "-1),"
                " rpo_met = nullif(?12, -1), body = ?13 WHERE id = ?1 AND state = "
                "'" YB_DRILL_RUNNING "'",
                no_row, NULL, "ItIttttIIIIIt", d->id, d->state, d->reported_usec, d->host,
                d->failed_phase, d->error, d->point, d->point_usec, d->rto_ms, d->rpo_seconds,
                (int64_t) d->rto_met, (int64_t) d->rpo_met, d->body);
        if (r < 0)
                return r;
        if (sqlite3_changes(yb_catalog_db(c)) == 1)
                return 0;
        r = yb_catalog_query(c, "SELECT state FROM drills WHERE id = ?1", state_row, &state, "I",
                             d->id);
        if (r < 0)
                return r;
        return state ? -EALREADY : -ENOENT;
}

static int one_row(void *ud, sqlite3_stmt *row) {
        YbDrill *d = ud;

        if (d->id != 0) /* the first row only */
                return 0;
        return drill_from_row(row, d);
}

/* Runs a query of DRILL_COLUMNS and a body column that answers at most one drill. */
static int get_one(YbCatalog *c, const char *sql, YbDrill *ret, const char *fmt, const char *t,
                   int64_t i) {
        YbDrill d = {};
        int r;

        r = fmt[0] == 't' ? yb_catalog_query(c, sql, one_row, &d, fmt, t)
                          : yb_catalog_query(c, sql, one_row, &d, fmt, i);
        if (r < 0) {
                yb_drill_done(&d);
                return r;
        }
        if (d.id == 0)
                return -ENOENT;
        *ret = d;
        return 0;
}

int yb_drills_get(YbCatalog *c, int64_t id, YbDrill *ret) {
        return get_one(c, "SELECT " DRILL_COLUMNS ", body, terms FROM drills WHERE id = ?1", ret,
                       "I", NULL, id);
}

int yb_drills_last_passed(YbCatalog *c, const char *system, YbDrill *ret) {
        return get_one(c,
                       "SELECT " DRILL_COLUMNS
                       ", NULL, NULL FROM drills WHERE system = ?1 AND state = '" YB_DRILL_PASSED
                       "' ORDER BY started_usec DESC, id DESC LIMIT 1",
                       ret, "t", system, 0);
}

int yb_drills_last(YbCatalog *c, const char *system, YbDrill *ret) {
        return get_one(c,
                       "SELECT " DRILL_COLUMNS ", NULL, NULL FROM drills WHERE system = ?1"
                       " ORDER BY started_usec DESC, id DESC LIMIT 1",
                       ret, "t", system, 0);
}

typedef struct ListWalk {
        YbDrill *v;
        size_t n, cap;
} ListWalk;

static int list_row(void *ud, sqlite3_stmt *row) {
        ListWalk *w = ud;
        int r;

        if (w->n == w->cap) {
                size_t cap = w->cap ? w->cap * 2 : 8;
                YbDrill *v = realloc(w->v, cap * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                w->v = v;
                w->cap = cap;
        }
        r = drill_from_row(row, &w->v[w->n]);
        if (r < 0)
                return r;
        w->n++;
        return 0;
}

/* Runs a listing query; the drills it answered in *ret, *ret_n. */
static int list_query(YbCatalog *c, const char *sql, YbDrill **ret, size_t *ret_n, const char *fmt,
                      const char *t, int64_t i, int64_t j) {
        ListWalk w = {};
        int r;

        r = yb_catalog_query(c, sql, list_row, &w, fmt, t, i, j);
        if (r < 0) {
                yb_drills_free(w.v, w.n);
                return r;
        }
        *ret = w.v;
        *ret_n = w.n;
        return 0;
}

int yb_drills_list(YbCatalog *c, const char *system, YbDrill **ret, size_t *ret_n) {
        return list_query(c,
                          "SELECT " DRILL_COLUMNS
                          ", NULL, NULL FROM drills WHERE ?1 IS NULL OR system = ?1"
                          " ORDER BY started_usec DESC, id DESC",
                          ret, ret_n, "t", system, 0, 0);
}

int yb_drills_history(YbCatalog *c, const char *system, int64_t before, size_t max, YbDrill **ret,
                      size_t *ret_n) {
        return list_query(
                c,
                "SELECT * FROM (SELECT " DRILL_COLUMNS
                ", NULL, NULL, id AS k, started_usec AS s FROM drills"
                " WHERE system = ?1 AND state != '" YB_DRILL_RUNNING "' AND id != ?2 AND"
                " (started_usec, id) < (SELECT started_usec, id FROM drills WHERE id = ?2)"
                " ORDER BY started_usec DESC, id DESC LIMIT ?3) ORDER BY s, k",
                ret, ret_n, "tII", system, before, (int64_t) max);
}
