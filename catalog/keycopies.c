/* catalog/keycopies.c: the copies of each system's private key in the key_copies table
 * (keycopies.h). The first schema's columns holder and location stay filled (location says
 * "host:path" or "offline: note") so that an older reader still sees where each copy is. A copy
 * leaves "held" by one conditional UPDATE (WHERE state = 'held'), so that two reports at once
 * cannot both succeed. A withdrawal asked and not yet confirmed is kept in the held copy's
 * evidence column (empty otherwise while held): the copy stays held, and counted, until another
 * person confirms it; a destruction reported meanwhile replaces it. */
#include "catalog/keycopies.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COPY_COLUMNS                                                                               \
        "id, system, key_id, kind, holder, host, path, note, registered_by, registered_usec,"      \
        " found, state, destroyed_by, destroyed_usec, evidence"

void yb_key_copy_done(YbKeyCopy *k) {
        free(k->system);
        free(k->key_id);
        free(k->kind);
        free(k->holder);
        free(k->host);
        free(k->path);
        free(k->note);
        free(k->registered_by);
        free(k->state);
        free(k->destroyed_by);
        free(k->evidence);
        *k = (YbKeyCopy){};
}

void yb_key_copies_free(YbKeyCopy *v, size_t n) {
        for (size_t i = 0; v && i < n; i++)
                yb_key_copy_done(&v[i]);
        free(v);
}

/* Copies column i: NULL for NULL; false when a string could not be copied. */
static bool col_dup(sqlite3_stmt *row, int i, char **ret) {
        const char *t = (const char *) sqlite3_column_text(row, i);

        *ret = t ? strdup(t) : NULL;
        return !t || *ret;
}

/* Reads a row of COPY_COLUMNS into *ret; -ENOMEM if a string cannot be copied. */
static int copy_from_row(sqlite3_stmt *row, YbKeyCopy *ret) {
        YbKeyCopy k = {
                .id = sqlite3_column_int64(row, 0),
                .registered_usec = sqlite3_column_int64(row, 9),
                .found = sqlite3_column_int(row, 10) != 0,
                .destroyed_usec = sqlite3_column_int64(row, 13),
        };
        struct {
                int col;
                char **field;
        } texts[] = {
                { 1, &k.system },        { 2, &k.key_id },        { 3, &k.kind },
                { 4, &k.holder },        { 5, &k.host },          { 6, &k.path },
                { 7, &k.note },          { 8, &k.registered_by }, { 11, &k.state },
                { 12, &k.destroyed_by }, { 14, &k.evidence },
        };
        bool ok = true;

        /* Every column is read, so that a failure leaves nothing unset to free. */
        for (size_t i = 0; i < ELEMENTSOF(texts); i++)
                if (!col_dup(row, texts[i].col, texts[i].field))
                        ok = false;
        if (!ok) {
                yb_key_copy_done(&k);
                return -ENOMEM;
        }
        *ret = k;
        return 0;
}

static int no_rows(void *ud, sqlite3_stmt *row) {
        return 0;
}

int yb_key_copies_add(YbCatalog *c, const YbKeyCopy *k, int64_t now_usec, int64_t *ret_id) {
        bool offline = k->kind && strcmp(k->kind, YB_KEY_COPY_OFFLINE) == 0;
        _cleanup_free_ char *location = NULL;
        int r;

        if (!k->system || !k->key_id || !k->kind || !k->holder ||
            (!offline && (!k->host || !k->path)))
                return -EINVAL;
        if (offline ? asprintf(&location, "offline: %s", k->note ? k->note : "") < 0
                    : asprintf(&location, "%s:%s", k->host, k->path) < 0)
                return -ENOMEM;
        r = yb_catalog_query(
                c,
                "INSERT INTO key_copies (system, holder, location, registered_usec,"
                " key_id, kind, host, path, note, registered_by, found, state)"
                " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, '" YB_KEY_COPY_HELD "')",
                no_rows, NULL, "tttIttttttI", k->system, k->holder, location, now_usec, k->key_id,
                k->kind, k->host, k->path, k->note, k->registered_by, (int64_t) k->found);
        if (r < 0)
                return r;
        *ret_id = sqlite3_last_insert_rowid(yb_catalog_db(c));
        return 0;
}

static int one_row(void *ud, sqlite3_stmt *row) {
        return copy_from_row(row, ud);
}

/* The copy one_row read (k, taken) into *ret after a query that returned r; -ENOENT if none. */
static int found_one(int r, YbKeyCopy *k, YbKeyCopy *ret) {
        if (r < 0) {
                yb_key_copy_done(k);
                return r;
        }
        if (k->id == 0)
                return -ENOENT;
        *ret = *k;
        return 0;
}

int yb_key_copies_get(YbCatalog *c, int64_t id, YbKeyCopy *ret) {
        YbKeyCopy k = {};
        int r;

        r = yb_catalog_query(c, "SELECT " COPY_COLUMNS " FROM key_copies WHERE id = ?1", one_row,
                             &k, "I", id);
        return found_one(r, &k, ret);
}

/* The file copy of system at host and path in state: the oldest held one (a file registered
 * twice is one copy, the first), or the newest of another state. */
static int find_at(YbCatalog *c, const char *system, const char *host, const char *path,
                   const char *state, YbKeyCopy *ret) {
        YbKeyCopy k = {};
        int r;

        r = yb_catalog_query(c,
                             "SELECT " COPY_COLUMNS " FROM key_copies WHERE system = ?1 AND"
                             " kind = '" YB_KEY_COPY_FILE "' AND host = ?2 AND path = ?3 AND"
                             " state = ?4 ORDER BY CASE WHEN state = '" YB_KEY_COPY_HELD "'"
                             " THEN id ELSE -id END LIMIT 1",
                             one_row, &k, "tttt", system, host, path, state);
        return found_one(r, &k, ret);
}

int yb_key_copies_find_withdrawn(YbCatalog *c, const char *system, const char *host,
                                 const char *path, YbKeyCopy *ret) {
        return find_at(c, system, host, path, YB_KEY_COPY_WITHDRAWN, ret);
}

/* -ENOENT when copy id does not exist, else -EALREADY when it is not held, else alt. */
static int why_unchanged(YbCatalog *c, int64_t id, int alt) {
        YbKeyCopy k = {};
        int r = yb_key_copies_get(c, id, &k);

        if (r >= 0)
                r = streq(k.state, YB_KEY_COPY_HELD) ? alt : -EALREADY;
        yb_key_copy_done(&k);
        return r;
}

int yb_key_copies_ask_withdrawal(YbCatalog *c, int64_t id, const char *request) {
        int r;

        if (!request)
                return -EINVAL;
        r = yb_catalog_query(c,
                             "UPDATE key_copies SET evidence = ?2 WHERE id = ?1 AND"
                             " state = '" YB_KEY_COPY_HELD "' AND evidence IS NULL",
                             no_rows, NULL, "It", id, request);
        if (r < 0)
                return r;
        return sqlite3_changes(yb_catalog_db(c)) > 0 ? 0 : why_unchanged(c, id, -EBUSY);
}

int yb_key_copies_drop_withdrawal(YbCatalog *c, int64_t id) {
        int r;

        r = yb_catalog_query(c,
                             "UPDATE key_copies SET evidence = NULL WHERE id = ?1 AND"
                             " state = '" YB_KEY_COPY_HELD "' AND evidence IS NOT NULL",
                             no_rows, NULL, "I", id);
        if (r < 0)
                return r;
        return sqlite3_changes(yb_catalog_db(c)) > 0 ? 1 : 0;
}

int yb_key_copies_find_file(YbCatalog *c, const char *system, const char *host, const char *path,
                            YbKeyCopy *ret) {
        return find_at(c, system, host, path, YB_KEY_COPY_HELD, ret);
}

typedef struct Rows {
        YbKeyCopy *v;
        size_t n, max;
} Rows;

static int list_row(void *ud, sqlite3_stmt *row) {
        Rows *rows = ud;

        if (rows->n == rows->max) {
                size_t max = rows->max ? 2 * rows->max : 8;
                YbKeyCopy *v = reallocarray(rows->v, max, sizeof(*v));

                if (!v)
                        return -ENOMEM;
                rows->v = v;
                rows->max = max;
        }
        int r = copy_from_row(row, &rows->v[rows->n]);

        if (r < 0)
                return r;
        rows->n++;
        return 0;
}

int yb_key_copies_list(YbCatalog *c, const char *system, YbKeyCopy **ret, size_t *ret_n) {
        Rows rows = {};
        int r;

        r = yb_catalog_query(c,
                             "SELECT " COPY_COLUMNS " FROM key_copies WHERE ?1 IS NULL OR"
                             " system = ?1 ORDER BY id",
                             list_row, &rows, "t", system);
        if (r < 0) {
                yb_key_copies_free(rows.v, rows.n);
                return r;
        }
        *ret = rows.v;
        *ret_n = rows.n;
        return 0;
}

int yb_key_copies_destroyed(YbCatalog *c, int64_t id, const char *state, const char *by,
                            int64_t now_usec, const char *evidence) {
        bool withdrawn = state && streq(state, YB_KEY_COPY_WITHDRAWN);
        int r;

        if (!state || (!streq(state, YB_KEY_COPY_DESTROYED) &&
                       !streq(state, YB_KEY_COPY_ATTESTED) && !withdrawn))
                return -EINVAL;
        /* A withdrawal is confirmed only where one was asked (held, its request kept). */
        r = yb_catalog_query(c,
                             "UPDATE key_copies SET state = ?2, destroyed_by = ?3,"
                             " destroyed_usec = ?4, evidence = ?5 WHERE id = ?1 AND"
                             " state = '" YB_KEY_COPY_HELD "' AND (?6 = 0 OR evidence IS NOT NULL)",
                             no_rows, NULL, "IttItI", id, state, by, now_usec, evidence,
                             (int64_t) withdrawn);
        if (r < 0)
                return r;
        if (sqlite3_changes(yb_catalog_db(c)) > 0)
                return 0;
        /* Nothing changed: no such copy, one no longer held, or no withdrawal asked of it. */
        return why_unchanged(c, id, -ENOMSG);
}
