/* catalog/decommissions.c: the decommissions, decommission_steps and certificates tables
 * (decommissions.h). A new request checks for a live one and inserts in one IMMEDIATE
 * transaction, so that two requests at once cannot both become the system's live one. Times of 0
 * are stored as NULL (not set). */
#include "catalog/decommissions.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/* The states in which a decommission is no longer live. */
#define NOT_LIVE "('" YB_DECOM_REFUSED "', '" YB_DECOM_WITHDRAWN "')"

#define DECOM_COLUMNS                                                                              \
        "id, system, department, state, reason, not_before_usec, requested_by, requested_usec,"    \
        " decided_by, decided_usec, decision_note, export_store, export_key_id, export_job,"       \
        " export_snapshot, export_by, export_usec, export_note, executed_by,"                      \
        " execute_started_usec, execute_finished_usec, verified_usec, certificate, last_error,"    \
        " updated_usec"

void yb_decommission_done(YbDecommission *d) {
        free(d->system);
        free(d->department);
        free(d->state);
        free(d->reason);
        free(d->requested_by);
        free(d->decided_by);
        free(d->decision_note);
        free(d->export_store);
        free(d->export_key_id);
        free(d->export_snapshot);
        free(d->export_by);
        free(d->export_note);
        free(d->executed_by);
        free(d->last_error);
        *d = (YbDecommission){};
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

static int decom_from_row(sqlite3_stmt *row, YbDecommission *ret) {
        YbDecommission d = {
                .id = sqlite3_column_int64(row, 0),
                .not_before_usec = sqlite3_column_int64(row, 5),
                .requested_usec = sqlite3_column_int64(row, 7),
                .decided_usec = sqlite3_column_int64(row, 9),
                .export_job = sqlite3_column_int64(row, 13),
                .export_usec = sqlite3_column_int64(row, 16),
                .execute_started_usec = sqlite3_column_int64(row, 19),
                .execute_finished_usec = sqlite3_column_int64(row, 20),
                .verified_usec = sqlite3_column_int64(row, 21),
                .certificate = sqlite3_column_int64(row, 22),
                .updated_usec = sqlite3_column_int64(row, 24),
        };
        struct {
                int col;
                char **dst;
        } texts[] = {
                { 1, &d.system },           { 2, &d.department },    { 3, &d.state },
                { 4, &d.reason },           { 6, &d.requested_by },  { 8, &d.decided_by },
                { 10, &d.decision_note },   { 11, &d.export_store }, { 12, &d.export_key_id },
                { 14, &d.export_snapshot }, { 15, &d.export_by },    { 17, &d.export_note },
                { 18, &d.executed_by },     { 23, &d.last_error },
        };

        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                if (col_text(row, texts[i].col, texts[i].dst) < 0) {
                        yb_decommission_done(&d);
                        return -ENOMEM;
                }
        *ret = d;
        return 0;
}

static int one_row(void *ud, sqlite3_stmt *row) {
        YbDecommission *d = ud;

        if (d->id != 0) /* the first row only */
                return 0;
        return decom_from_row(row, d);
}

static int no_row(void *ud, sqlite3_stmt *row) {
        (void) ud;
        (void) row;
        return 0;
}

static int id_row(void *ud, sqlite3_stmt *row) {
        *(int64_t *) ud = sqlite3_column_int64(row, 0);
        return 0;
}

/* The system's live decommission's id in *ret (0: none). */
static int live_id(YbCatalog *c, const char *system, int64_t *ret) {
        *ret = 0;
        return yb_catalog_query(
                c,
                "SELECT id FROM decommissions WHERE system = ?1 AND state NOT IN " NOT_LIVE
                " ORDER BY id DESC LIMIT 1",
                id_row, ret, "t", system);
}

typedef struct AddTx {
        const YbDecommission *d;
        int64_t id;
} AddTx;

static int add_tx(YbCatalog *c, void *ud) {
        AddTx *a = ud;
        const YbDecommission *d = a->d;
        int r;

        r = live_id(c, d->system, &a->id);
        if (r < 0)
                return r;
        if (a->id != 0)
                return -EEXIST;
        r = yb_catalog_query(c,
                             "INSERT INTO decommissions (system, department, state, reason,"
                             " not_before_usec, requested_by, requested_usec, updated_usec)"
                             " VALUES (?1, ?2, '" YB_DECOM_REQUESTED
                             "', ?3, nullif(?4, 0), ?5, ?6, ?6)",
                             no_row, NULL, "tttItI", d->system, d->department, d->reason,
                             d->not_before_usec, d->requested_by, d->requested_usec);
        if (r < 0)
                return r;
        a->id = sqlite3_last_insert_rowid(yb_catalog_db(c));
        return 0;
}

int yb_decommissions_add(YbCatalog *c, const YbDecommission *d, int64_t *ret_id) {
        AddTx a = { .d = d };
        int r;

        if (!d->system || !d->department || !d->reason || !d->requested_by)
                return -EINVAL;
        r = yb_catalog_transaction(c, add_tx, &a);
        if (r < 0 && !(r == -EEXIST && a.id != 0))
                return r;
        *ret_id = a.id; /* on -EEXIST: the live one */
        return r;
}

int yb_decommissions_get(YbCatalog *c, int64_t id, YbDecommission *ret) {
        YbDecommission d = {};
        int r;

        r = yb_catalog_query(c, "SELECT " DECOM_COLUMNS " FROM decommissions WHERE id = ?1",
                             one_row, &d, "I", id);
        if (r < 0) {
                yb_decommission_done(&d);
                return r;
        }
        if (d.id == 0)
                return -ENOENT;
        *ret = d;
        return 0;
}

int yb_decommissions_current(YbCatalog *c, const char *system, YbDecommission *ret) {
        int64_t id;
        int r;

        r = live_id(c, system, &id);
        if (r < 0)
                return r;
        if (id == 0)
                return -ENOENT;
        return yb_decommissions_get(c, id, ret);
}

/* Makes room for one more element of size in *v (n used of *cap). */
static int grow(void **v, size_t *cap, size_t n, size_t size) {
        void *p;

        if (n < *cap)
                return 0;
        p = realloc(*v, (*cap ? *cap * 2 : 8) * size);
        if (!p)
                return -ENOMEM;
        *v = p;
        *cap = *cap ? *cap * 2 : 8;
        return 0;
}

typedef struct ListWalk {
        YbDecommission *v;
        size_t n, cap;
} ListWalk;

static int list_row(void *ud, sqlite3_stmt *row) {
        ListWalk *w = ud;
        int r;

        if (grow((void **) &w->v, &w->cap, w->n, sizeof *w->v) < 0)
                return -ENOMEM;
        r = decom_from_row(row, &w->v[w->n]);
        if (r < 0)
                return r;
        w->n++;
        return 0;
}

int yb_decommissions_list(YbCatalog *c, const char *system, YbDecommission **ret, size_t *ret_n) {
        ListWalk w = {};
        int r;

        r = yb_catalog_query(c,
                             "SELECT " DECOM_COLUMNS " FROM decommissions WHERE ?1 IS NULL OR"
                             " system = ?1 ORDER BY id DESC",
                             list_row, &w, "t", system);
        if (r < 0) {
                yb_decommissions_free(w.v, w.n);
                return r;
        }
        *ret = w.v;
        *ret_n = w.n;
        return 0;
}

void yb_decommissions_free(YbDecommission *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                yb_decommission_done(&v[i]);
        free(v);
}

int yb_decommissions_update(YbCatalog *c, const YbDecommission *d) {
        int r;

        r = yb_catalog_query(
                c,
                "UPDATE decommissions SET system = ?2, department = ?3, state = ?4, reason = ?5,"
                " not_before_usec = nullif(?6, 0), requested_by = ?7, requested_usec = ?8,"
                " decided_by = ?9, decided_usec = nullif(?10, 0), decision_note = ?11,"
                " export_store = ?12, export_key_id = ?13, export_job = nullif(?14, 0),"
                " export_snapshot = ?15, export_by = ?16, export_usec = nullif(?17, 0),"
                " export_note = ?18, executed_by = ?19,"
                " execute_started_usec = nullif(?20, 0), execute_finished_usec = nullif(?21, 0),"
                " verified_usec = nullif(?22, 0), certificate = nullif(?23, 0), last_error = ?24,"
                " updated_usec = ?25 WHERE id = ?1",
                no_row, NULL, "IttttItItItttIttIttIIIItI", d->id, d->system, d->department,
                d->state, d->reason, d->not_before_usec, d->requested_by, d->requested_usec,
                d->decided_by, d->decided_usec, d->decision_note, d->export_store, d->export_key_id,
                d->export_job, d->export_snapshot, d->export_by, d->export_usec, d->export_note,
                d->executed_by, d->execute_started_usec, d->execute_finished_usec, d->verified_usec,
                d->certificate, d->last_error, d->updated_usec);
        if (r < 0)
                return r;
        return sqlite3_changes(yb_catalog_db(c)) > 0 ? 0 : -ENOENT;
}

bool yb_decommission_state_stops(const char *state) {
        return state && (streq(state, YB_DECOM_EXECUTING) || streq(state, YB_DECOM_EXECUTED) ||
                         streq(state, YB_DECOM_CERTIFIED));
}

bool yb_decommissions_stopped(YbCatalog *c, const char *system) {
        YbDecommission dc = {};
        bool stops;

        /* A catalog that cannot answer: not known to be decommissioned (the caller's next
         * question will meet the same error and report it). */
        if (yb_decommissions_current(c, system, &dc) < 0)
                return false;
        stops = yb_decommission_state_stops(dc.state);
        yb_decommission_done(&dc);
        return stops;
}

void yb_decom_step_done(YbDecomStep *s) {
        free(s->step);
        free(s->target);
        free(s->state);
        free(s->detail);
        free(s->artifact);
        *s = (YbDecomStep){};
}

int yb_decom_steps_put(YbCatalog *c, int64_t id, const YbDecomStep *s) {
        if (!s->step || !s->target || !s->state)
                return -EINVAL;
        /* The seq of a step recorded before stays; a new one comes after every other. */
        return yb_catalog_query(
                c,
                "INSERT INTO decommission_steps (decommission, seq, step, target, state,"
                " started_usec, finished_usec, detail, artifact) VALUES (?1, (SELECT"
                " coalesce(max(seq), 0) + 1 FROM decommission_steps WHERE decommission = ?1), ?2,"
                " ?3, ?4, nullif(?5, 0), nullif(?6, 0), ?7, ?8) ON CONFLICT (decommission, step,"
                " target) DO UPDATE SET state = excluded.state, started_usec ="
                " excluded.started_usec, finished_usec = excluded.finished_usec, detail ="
                " excluded.detail, artifact = excluded.artifact",
                no_row, NULL, "ItttIItt", id, s->step, s->target, s->state, s->started_usec,
                s->finished_usec, s->detail, s->artifact);
}

typedef struct StepWalk {
        YbDecomStep *v;
        size_t n, cap;
} StepWalk;

static int step_row(void *ud, sqlite3_stmt *row) {
        StepWalk *w = ud;
        YbDecomStep s = {
                .seq = sqlite3_column_int64(row, 0),
                .started_usec = sqlite3_column_int64(row, 4),
                .finished_usec = sqlite3_column_int64(row, 5),
        };

        if (grow((void **) &w->v, &w->cap, w->n, sizeof *w->v) < 0)
                return -ENOMEM;
        if (col_text(row, 1, &s.step) < 0 || col_text(row, 2, &s.target) < 0 ||
            col_text(row, 3, &s.state) < 0 || col_text(row, 6, &s.detail) < 0 ||
            col_text(row, 7, &s.artifact) < 0) {
                yb_decom_step_done(&s);
                return -ENOMEM;
        }
        w->v[w->n++] = s;
        return 0;
}

int yb_decom_steps_list(YbCatalog *c, int64_t id, YbDecomStep **ret, size_t *ret_n) {
        StepWalk w = {};
        int r;

        r = yb_catalog_query(
                c,
                "SELECT seq, step, target, state, started_usec, finished_usec, detail,"
                " artifact FROM decommission_steps WHERE decommission = ?1 ORDER BY seq",
                step_row, &w, "I", id);
        if (r < 0) {
                yb_decom_steps_free(w.v, w.n);
                return r;
        }
        *ret = w.v;
        *ret_n = w.n;
        return 0;
}

void yb_decom_steps_free(YbDecomStep *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                yb_decom_step_done(&v[i]);
        free(v);
}

int yb_certificates_add(YbCatalog *c, const char *system, int64_t decommission, int64_t issued_usec,
                        const char *body, int64_t *ret_id) {
        int r;

        if (!system || !body)
                return -EINVAL;
        r = yb_catalog_query(c,
                             "INSERT INTO certificates (system, decommission, issued_usec, body)"
                             " VALUES (?1, ?2, ?3, ?4)",
                             no_row, NULL, "tIIt", system, decommission, issued_usec, body);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(yb_catalog_db(c));
        return 0;
}

typedef struct CertRow {
        bool found;
        char *system, *body;
} CertRow;

static int cert_row(void *ud, sqlite3_stmt *row) {
        CertRow *cr = ud;

        cr->found = true;
        if (col_text(row, 0, &cr->system) < 0 || col_text(row, 1, &cr->body) < 0)
                return -ENOMEM;
        return 0;
}

int yb_certificates_get(YbCatalog *c, int64_t id, char **ret_system, char **ret_body) {
        CertRow cr = {};
        int r;

        r = yb_catalog_query(c, "SELECT system, body FROM certificates WHERE id = ?1", cert_row,
                             &cr, "I", id);
        if (r >= 0 && !cr.found)
                r = -ENOENT;
        if (r < 0) {
                free(cr.system);
                free(cr.body);
                return r;
        }
        *ret_system = cr.system;
        *ret_body = cr.body;
        return 0;
}
