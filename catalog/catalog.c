#include "catalog/catalog.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/log.h"

struct YbCatalog {
        sqlite3 *db;
        int version;
};

/* Each migration takes the schema from version i to i + 1; applied in order, each in its own
 * transaction, and never edited once released (add a new one instead). */
static const char *const migrations[] = {
        /* 1: the first schema */
        "CREATE TABLE systems ("
        "  id TEXT PRIMARY KEY, name TEXT NOT NULL, department TEXT NOT NULL,"
        "  grade TEXT NOT NULL, policy_file TEXT NOT NULL, policy_hash TEXT NOT NULL,"
        "  updated_usec INTEGER NOT NULL);"
        "CREATE TABLE policy_versions ("
        "  system TEXT NOT NULL, hash TEXT NOT NULL, loaded_usec INTEGER NOT NULL,"
        "  text TEXT NOT NULL, PRIMARY KEY (system, hash));"
        "CREATE TABLE snapshots ("
        "  system TEXT NOT NULL, store TEXT NOT NULL, id TEXT NOT NULL, level TEXT NOT NULL,"
        "  parent TEXT, agent TEXT, started_usec INTEGER NOT NULL,"
        "  finished_usec INTEGER NOT NULL, files INTEGER NOT NULL,"
        "  bytes_source INTEGER NOT NULL, bytes_stored INTEGER NOT NULL,"
        "  partial INTEGER NOT NULL, PRIMARY KEY (system, store, id));"
        "CREATE TABLE jobs ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT, system TEXT NOT NULL, tier INTEGER NOT NULL,"
        "  level TEXT NOT NULL, trigger TEXT NOT NULL, state TEXT NOT NULL,"
        "  scheduled_usec INTEGER NOT NULL, started_usec INTEGER, finished_usec INTEGER,"
        "  bytes_read INTEGER, bytes_stored INTEGER, snapshot TEXT, error TEXT);"
        "CREATE INDEX jobs_by_system ON jobs (system, scheduled_usec);"
        "CREATE TABLE approvals ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT, system TEXT NOT NULL, kind TEXT NOT NULL,"
        "  requested_by TEXT NOT NULL, requested_usec INTEGER NOT NULL,"
        "  decided_by TEXT, decided_usec INTEGER, decision TEXT, note TEXT);"
        "CREATE TABLE key_copies ("
        "  id INTEGER PRIMARY KEY AUTOINCREMENT, system TEXT NOT NULL, holder TEXT NOT NULL,"
        "  location TEXT NOT NULL, registered_usec INTEGER NOT NULL, destroyed_usec INTEGER);"
        "CREATE TABLE audit ("
        "  seq INTEGER PRIMARY KEY, time_usec INTEGER NOT NULL, actor TEXT NOT NULL,"
        "  role TEXT NOT NULL, action TEXT NOT NULL, object TEXT NOT NULL,"
        "  result TEXT NOT NULL, detail TEXT NOT NULL, prev_hash BLOB NOT NULL,"
        "  hash BLOB NOT NULL);"
        "CREATE TABLE audit_seals ("
        "  seq INTEGER PRIMARY KEY, head_hash BLOB NOT NULL, time_usec INTEGER NOT NULL,"
        "  key TEXT NOT NULL, signature BLOB NOT NULL);",
        /* 2: yunbakd's scheduler state, job attempts */
        "CREATE TABLE schedule ("
        "  system TEXT NOT NULL, kind TEXT NOT NULL, last_due_usec INTEGER NOT NULL,"
        "  PRIMARY KEY (system, kind));"
        "ALTER TABLE jobs ADD COLUMN attempt INTEGER NOT NULL DEFAULT 1;"
        "CREATE INDEX jobs_by_state ON jobs (state);",
        /* 3: snapshots set aside (signed by an agent other than the host's pinned one) */
        "ALTER TABLE snapshots ADD COLUMN quarantine TEXT;",
        /* 4: the level a job was asked for beside the one it made (level), and why they differ */
        ("ALTER TABLE jobs ADD COLUMN requested_level TEXT;"
         "ALTER TABLE jobs ADD COLUMN level_note TEXT;"),
        /* 5: when a job waiting to retry is due again */
        "ALTER TABLE jobs ADD COLUMN retry_usec INTEGER;",
        /* 6: requests for off-site copies (catalog/requests.c): the snapshot asked for (NULL:
         * the newest), why, and the copy job an approval queued; note holds the decision's
         * reason */
        ("ALTER TABLE approvals ADD COLUMN snapshot TEXT;"
         "ALTER TABLE approvals ADD COLUMN reason TEXT;"
         "ALTER TABLE approvals ADD COLUMN job INTEGER;"
         "CREATE INDEX approvals_by_system ON approvals (system, decision);"),
        /* 7: tier 2's replication lag per system and hour (catalog/lag.c); the ms columns are
         * NULL when no sample of the hour was known */
        "CREATE TABLE replication_lag ("
        "  system TEXT NOT NULL, hour_usec INTEGER NOT NULL, samples INTEGER NOT NULL,"
        "  unknown_seconds INTEGER NOT NULL, p50_ms INTEGER, p99_ms INTEGER, max_ms INTEGER,"
        "  PRIMARY KEY (system, hour_usec));",
        /* 8: decommission (docs/decommission.md): key copies made real (catalog/keycopies.h),
         * the decommissions and their steps (catalog/decommissions.h), and the certificates
         * yunbakd signed (the JSON exactly as issued) */
        ("ALTER TABLE key_copies ADD COLUMN key_id TEXT;"
         "ALTER TABLE key_copies ADD COLUMN kind TEXT NOT NULL DEFAULT 'file';"
         "ALTER TABLE key_copies ADD COLUMN host TEXT;"
         "ALTER TABLE key_copies ADD COLUMN path TEXT;"
         "ALTER TABLE key_copies ADD COLUMN note TEXT;"
         "ALTER TABLE key_copies ADD COLUMN registered_by TEXT;"
         "ALTER TABLE key_copies ADD COLUMN found INTEGER NOT NULL DEFAULT 0;"
         "ALTER TABLE key_copies ADD COLUMN state TEXT NOT NULL DEFAULT 'held';"
         "ALTER TABLE key_copies ADD COLUMN destroyed_by TEXT;"
         "ALTER TABLE key_copies ADD COLUMN evidence TEXT;"
         "CREATE INDEX key_copies_by_system ON key_copies (system);"
         "CREATE TABLE decommissions ("
         "  id INTEGER PRIMARY KEY AUTOINCREMENT, system TEXT NOT NULL,"
         "  department TEXT NOT NULL, state TEXT NOT NULL, reason TEXT NOT NULL,"
         "  not_before_usec INTEGER, requested_by TEXT NOT NULL,"
         "  requested_usec INTEGER NOT NULL, decided_by TEXT, decided_usec INTEGER,"
         "  decision_note TEXT, export_store TEXT, export_key_id TEXT, export_job INTEGER,"
         "  export_snapshot TEXT, export_by TEXT, export_usec INTEGER, export_note TEXT,"
         "  executed_by TEXT, execute_started_usec INTEGER, execute_finished_usec INTEGER,"
         "  verified_usec INTEGER, certificate INTEGER, last_error TEXT,"
         "  updated_usec INTEGER NOT NULL);"
         "CREATE INDEX decommissions_by_system ON decommissions (system, state);"
         "CREATE TABLE decommission_steps ("
         "  decommission INTEGER NOT NULL, seq INTEGER NOT NULL, step TEXT NOT NULL,"
         "  target TEXT NOT NULL, state TEXT NOT NULL, started_usec INTEGER,"
         "  finished_usec INTEGER, detail TEXT, artifact TEXT,"
         "  PRIMARY KEY (decommission, step, target));"
         "CREATE TABLE certificates ("
         "  id INTEGER PRIMARY KEY AUTOINCREMENT, system TEXT NOT NULL,"
         "  decommission INTEGER NOT NULL, issued_usec INTEGER NOT NULL, body TEXT NOT NULL);"),
        /* 9: restore drills (docs/drills.md; catalog/drills.h): each drill begun, its state, the
         * figures lists and reports need, and the signed record exactly as issued; and each
         * day's storage used per system and store, which the reports' growth needs
         * (docs/reports.md) */
        ("CREATE TABLE drills ("
         "  id INTEGER PRIMARY KEY AUTOINCREMENT, system TEXT NOT NULL, tier INTEGER NOT NULL,"
         "  store TEXT NOT NULL, scenario TEXT NOT NULL, run_by TEXT NOT NULL, host TEXT,"
         "  started_usec INTEGER NOT NULL, reported_usec INTEGER, state TEXT NOT NULL,"
         "  failed_phase TEXT, error TEXT, point TEXT, point_usec INTEGER, rto_ms INTEGER,"
         "  rpo_seconds INTEGER, rto_met INTEGER, rpo_met INTEGER, body TEXT);"
         "CREATE INDEX drills_by_system ON drills (system, started_usec);"
         "CREATE TABLE storage_usage ("
         "  system TEXT NOT NULL, tier INTEGER NOT NULL, store TEXT NOT NULL,"
         "  day_usec INTEGER NOT NULL, bytes INTEGER NOT NULL, snapshots INTEGER NOT NULL,"
         "  PRIMARY KEY (system, store, day_usec));"),
        /* 10: what a drill's begin told the run (objectives, check, PostgreSQL checks), which its
         * result is judged against whatever the policy says by then */
        "ALTER TABLE drills ADD COLUMN terms TEXT;",
};

int yb_catalog_sql_error(struct sqlite3 *db, int rc, const char *what) {
        int sys = sqlite3_system_errno(db);

        log_debug("sqlite: %s: %s (errno %d)", what, sqlite3_errmsg(db), sys);
        switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
                return -EBUSY;
        case SQLITE_NOMEM:
                return -ENOMEM;
        case SQLITE_CORRUPT:
        case SQLITE_NOTADB:
                return -EBADMSG;
        case SQLITE_FULL:
                return -ENOSPC;
        case SQLITE_CANTOPEN:
                return -ENOENT;
        case SQLITE_READONLY:
        case SQLITE_PERM:
                return -EACCES;
        case SQLITE_CONSTRAINT:
                return -EEXIST;
        case SQLITE_IOERR:
                /* The system's own reason where it gave one: a full disk is ENOSPC, not EIO. */
                return sys > 0 ? -sys : -EIO;
        default:
                return -EIO;
        }
}

static int sql_error(sqlite3 *db, int rc, const char *what) {
        return yb_catalog_sql_error(db, rc, what);
}

static int exec(sqlite3 *db, const char *sql) {
        int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);

        return rc == SQLITE_OK ? 0 : sql_error(db, rc, sql);
}

static int user_version(sqlite3 *db, int *ret) {
        sqlite3_stmt *st;
        int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);

        if (rc != SQLITE_OK)
                return sql_error(db, rc, "user_version");
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW)
                *ret = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return rc == SQLITE_ROW ? 0 : sql_error(db, rc, "user_version");
}

static int migrate(YbCatalog *c) {
        int v = 0, r;

        r = user_version(c->db, &v);
        if (r < 0)
                return r;
        if (v > (int) ELEMENTSOF(migrations))
                return -EPROTONOSUPPORT; /* made by a newer yunbakd: never downgrade it */
        for (; v < (int) ELEMENTSOF(migrations); v++) {
                char set[64];

                r = exec(c->db, "BEGIN IMMEDIATE");
                if (r < 0)
                        return r;
                snprintf(set, sizeof(set), "PRAGMA user_version = %d", v + 1);
                r = exec(c->db, migrations[v]);
                if (r >= 0)
                        r = exec(c->db, set);
                if (r >= 0)
                        r = exec(c->db, "COMMIT");
                if (r < 0) {
                        (void) exec(c->db, "ROLLBACK");
                        return r;
                }
                log_debug("Catalog migrated to schema version %d.", v + 1);
        }
        c->version = v;
        return 0;
}

YbCatalog *yb_catalog_close(YbCatalog *c) {
        if (!c)
                return NULL;
        sqlite3_close_v2(c->db);
        free(c);
        return NULL;
}

/* The catalog holds the audit log and who did what: readable by its owner only (SQLite would
 * create it 0666 less the umask, and gives its -wal and -shm files the catalog's own mode). */
static int create_private(const char *path) {
        struct stat st;
        int fd;

        if (streq(path, ":memory:"))
                return 0;
        fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
                int r = fchmod(fd, 0600) < 0 ? -errno : 0; /* whatever the umask took away */

                close(fd);
                return r;
        }
        if (errno != EEXIST)
                return -errno;
        /* One made before, world-readable: no longer. */
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0037) != 0 &&
            chmod(path, st.st_mode & 0740) < 0)
                return -errno;
        return 0;
}

int yb_catalog_open(const char *path, YbCatalog **ret) {
        _cleanup_(yb_catalog_closep) YbCatalog *c = new0(YbCatalog, 1);
        int rc, r;

        if (!c)
                return -ENOMEM;
        r = create_private(path);
        if (r < 0)
                return r;
        rc = sqlite3_open_v2(path, &c->db,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                             NULL);
        if (rc != SQLITE_OK)
                return c->db ? sql_error(c->db, rc, path) : -ENOMEM;
        sqlite3_busy_timeout(c->db, 5000);
        /* WAL: readers do not block the writer; synchronous=FULL: a committed job or audit
         * record survives a power loss. */
        r = exec(c->db, "PRAGMA journal_mode = WAL");
        if (r >= 0)
                r = exec(c->db, "PRAGMA synchronous = FULL");
        if (r >= 0)
                r = exec(c->db, "PRAGMA foreign_keys = ON");
        if (r >= 0)
                r = migrate(c);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

/* Read-only: for auditors, who must not change what they check (no migration, no WAL set-up).
 * A copy in a directory they cannot write, without its -wal file, is opened as immutable (SQLite
 * could not create the -shm it wants); with a -wal file beside it, that file is needed. */
int yb_catalog_open_readonly(const char *path, YbCatalog **ret) {
        _cleanup_(yb_catalog_closep) YbCatalog *c = NULL;
        _cleanup_free_ char *wal = NULL, *uri = NULL;
        int rc, r, v = 0;

        for (int attempt = 0; attempt < 2; attempt++) {
                c = yb_catalog_close(c);
                c = new0(YbCatalog, 1);
                if (!c)
                        return -ENOMEM;
                if (attempt == 0)
                        rc = sqlite3_open_v2(path, &c->db,
                                             SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
                else {
                        sqlite3_str *u = sqlite3_str_new(NULL);

                        /* A URI path: '%', '?' and '#' escaped. */
                        sqlite3_str_appendall(u, "file:");
                        for (const char *p = path; *p; p++)
                                if (*p == '%' || *p == '?' || *p == '#')
                                        sqlite3_str_appendf(u, "%%%02X", (unsigned char) *p);
                                else
                                        sqlite3_str_appendchar(u, 1, *p);
                        sqlite3_str_appendall(u, "?immutable=1");
                        uri = sqlite3_str_finish(u);
                        if (!uri)
                                return -ENOMEM;
                        rc = sqlite3_open_v2(
                                uri, &c->db,
                                SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, NULL);
                        sqlite3_free(uri);
                        uri = NULL;
                }
                if (rc != SQLITE_OK)
                        return c->db ? sql_error(c->db, rc, path) : -ENOMEM;
                sqlite3_busy_timeout(c->db, 5000);
                r = user_version(c->db, &v);
                if (attempt > 0 || (r != -ENOENT && r != -EACCES))
                        break;
                if (asprintf(&wal, "%s-wal", path) < 0)
                        return -ENOMEM;
                if (access(wal, F_OK) == 0)
                        break; /* immutable would ignore what the -wal file holds */
        }
        if (r < 0)
                return r;
        if (v > (int) ELEMENTSOF(migrations))
                return -EPROTONOSUPPORT;
        if (v == 0)
                return -EBADMSG; /* an empty database, not a catalog */
        c->version = v;
        *ret = TAKE_PTR(c);
        return 0;
}

void yb_names_done(YbNames *n) {
        for (size_t i = 0; i < n->n; i++)
                free(n->v[i]);
        free(n->v);
        *n = (YbNames){};
}

int yb_names_add(YbNames *n, const char *name) {
        char **v = realloc(n->v, (n->n + 1) * sizeof(char *));

        if (!v)
                return -ENOMEM;
        n->v = v;
        if (!(v[n->n] = strdup(name)))
                return -ENOMEM;
        n->n++;
        return 0;
}

bool yb_names_contain(const YbNames *n, const char *name) {
        for (size_t i = 0; i < n->n; i++)
                if (streq(n->v[i], name))
                        return true;
        return false;
}

int yb_names_row(void *names, struct sqlite3_stmt *row) {
        const char *name = (const char *) sqlite3_column_text(row, 0);

        return name ? yb_names_add(names, name) : 0;
}

int yb_catalog_schema_version(YbCatalog *c) {
        return c->version;
}

struct sqlite3 *yb_catalog_db(YbCatalog *c) {
        return c->db;
}

int yb_catalog_integrity_check(YbCatalog *c) {
        sqlite3_stmt *st;
        int rc, r = -EBADMSG;

        rc = sqlite3_prepare_v2(c->db, "PRAGMA integrity_check", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sql_error(c->db, rc, "integrity_check");
        if (sqlite3_step(st) == SQLITE_ROW &&
            streq((const char *) sqlite3_column_text(st, 0) ?: "", "ok"))
                r = 0;
        sqlite3_finalize(st);
        return r;
}

int yb_catalog_quick_check(YbCatalog *c, char **ret_problem) {
        sqlite3_stmt *st;
        const char *first;
        int rc, r = -EBADMSG;

        rc = sqlite3_prepare_v2(c->db, "PRAGMA quick_check(1)", -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sql_error(c->db, rc, "quick_check");
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
                r = sql_error(c->db, rc, "quick_check");
                first = sqlite3_errmsg(c->db);
        } else
                first = (const char *) sqlite3_column_text(st, 0) ?: "";
        if (rc == SQLITE_ROW && streq(first, "ok"))
                r = 0;
        else if (ret_problem)
                *ret_problem = strdup(first);
        sqlite3_finalize(st);
        return r;
}

int yb_catalog_transaction(YbCatalog *c, int (*fn)(YbCatalog *c, void *ud), void *ud) {
        int r = exec(c->db, "BEGIN IMMEDIATE");

        if (r < 0)
                return r;
        r = fn(c, ud);
        if (r >= 0)
                r = exec(c->db, "COMMIT");
        if (r < 0)
                (void) exec(c->db, "ROLLBACK");
        return r;
}

/* Prepares sql and binds its arguments from fmt: 't' text (NULL allowed), anything else int64. */
static int prepare(sqlite3 *db, sqlite3_stmt **ret, const char *sql, const char *fmt, va_list ap) {
        sqlite3_stmt *st;
        int rc, i = 1;

        rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
        if (rc != SQLITE_OK)
                return sql_error(db, rc, sql);
        for (const char *f = fmt; *f; f++, i++) {
                if (*f == 't') {
                        const char *s = va_arg(ap, const char *);

                        rc = s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT)
                               : sqlite3_bind_null(st, i);
                } else
                        rc = sqlite3_bind_int64(st, i, va_arg(ap, int64_t));
                if (rc != SQLITE_OK) {
                        sqlite3_finalize(st);
                        return sql_error(db, rc, sql);
                }
        }
        *ret = st;
        return 0;
}

/* Binds and steps one statement. fmt as for prepare(). */
static int run(sqlite3 *db, const char *sql, const char *fmt, ...) {
        sqlite3_stmt *st;
        va_list ap;
        int rc, r;

        va_start(ap, fmt);
        r = prepare(db, &st, sql, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        rc = sqlite3_step(st);
        sqlite3_finalize(st);
        return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sql_error(db, rc, sql);
}

int yb_catalog_put_system(YbCatalog *c, const YbCatalogSystem *s, const char *policy_text,
                          int64_t now_usec) {
        int r;

        r = run(c->db,
                "INSERT INTO systems (id, name, department, grade, policy_file, policy_hash,"
                " updated_usec) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                " ON CONFLICT (id) DO UPDATE SET name = ?2, department = ?3, grade = ?4,"
                " policy_file = ?5, policy_hash = ?6, updated_usec = ?7",
                "ttttttI", s->id, s->name, s->department, s->grade, s->policy_file, s->policy_hash,
                now_usec);
        if (r < 0)
                return r;
        return run(c->db,
                   "INSERT OR IGNORE INTO policy_versions (system, hash, loaded_usec, text)"
                   " VALUES (?1, ?2, ?3, ?4)",
                   "ttIt", s->id, s->policy_hash, now_usec, policy_text ? policy_text : "");
}

int yb_catalog_put_snapshot(YbCatalog *c, const YbCatalogSnapshot *s) {
        /* A quarantine, once set, stays (a rebuild from the stores cannot know of it). */
        return run(c->db,
                   "INSERT INTO snapshots (system, store, id, level, parent, agent,"
                   " started_usec, finished_usec, files, bytes_source, bytes_stored, partial,"
                   " quarantine) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
                   " ON CONFLICT (system, store, id) DO UPDATE SET level = excluded.level,"
                   " parent = excluded.parent, agent = excluded.agent,"
                   " started_usec = excluded.started_usec, finished_usec = excluded.finished_usec,"
                   " files = excluded.files, bytes_source = excluded.bytes_source,"
                   " bytes_stored = excluded.bytes_stored, partial = excluded.partial,"
                   " quarantine = coalesce(excluded.quarantine, snapshots.quarantine)",
                   "ttttttIIIIIIt", s->system, s->store, s->id, s->level, s->parent, s->agent,
                   s->started_usec, s->finished_usec, (int64_t) s->files, (int64_t) s->bytes_source,
                   (int64_t) s->bytes_stored, (int64_t) s->partial, s->quarantine);
}

int yb_catalog_set_quarantine(YbCatalog *c, const char *system, const char *store, const char *id,
                              const char *why) {
        int r = run(c->db,
                    "UPDATE snapshots SET quarantine = ?4 WHERE system = ?1 AND store = ?2 AND "
                    "id = ?3",
                    "tttt", system, store, id, why);

        return r < 0 ? r : sqlite3_changes(c->db) > 0 ? 0 : -ENOENT;
}

int yb_catalog_forget_snapshot(YbCatalog *c, const char *system, const char *store,
                               const char *id) {
        return run(c->db, "DELETE FROM snapshots WHERE system = ?1 AND store = ?2 AND id = ?3",
                   "ttt", system, store, id);
}

int64_t yb_catalog_count_snapshots(YbCatalog *c, const char *system) {
        sqlite3_stmt *st;
        int64_t n = -EIO;
        int rc;

        rc = sqlite3_prepare_v2(c->db, "SELECT count(*) FROM snapshots WHERE system = ?1", -1, &st,
                                NULL);
        if (rc != SQLITE_OK)
                return sql_error(c->db, rc, "count snapshots");
        sqlite3_bind_text(st, 1, system, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        return n;
}

static const char *const job_states[_YB_JOB_STATE_MAX] = {
        [YB_JOB_QUEUED] = "queued",       [YB_JOB_RUNNING] = "running",
        [YB_JOB_SUCCEEDED] = "succeeded", [YB_JOB_PARTIAL] = "partial",
        [YB_JOB_FAILED] = "failed",       [YB_JOB_CANCELLED] = "cancelled",
        [YB_JOB_PAUSED] = "paused",
};

const char *yb_job_state_to_string(YbJobState s) {
        return s >= 0 && s < _YB_JOB_STATE_MAX ? job_states[s] : NULL;
}

int yb_catalog_job_add(YbCatalog *c, const char *system, int tier, const char *level,
                       const char *trigger, int64_t scheduled_usec, int64_t *ret) {
        int r = run(c->db,
                    "INSERT INTO jobs (system, tier, level, requested_level, trigger, state,"
                    " scheduled_usec) VALUES (?1, ?2, ?3, ?3, ?4, 'queued', ?5)",
                    "tIttI", system, (int64_t) tier, level, trigger, scheduled_usec);

        if (r < 0)
                return r;
        *ret = sqlite3_last_insert_rowid(c->db);
        return 0;
}

int yb_catalog_job_start(YbCatalog *c, int64_t job, int64_t now_usec) {
        return run(c->db,
                   "UPDATE jobs SET state = 'running', started_usec = coalesce(started_usec, ?2),"
                   " retry_usec = NULL WHERE id = ?1",
                   "II", job, now_usec);
}

int yb_catalog_job_finish(YbCatalog *c, int64_t job, YbJobState state, int64_t now_usec,
                          uint64_t bytes_read, uint64_t bytes_stored, const char *snapshot,
                          const char *error, const char *level, const char *level_note) {
        const char *s = yb_job_state_to_string(state);

        if (!s)
                return -EINVAL;
        return run(c->db,
                   "UPDATE jobs SET state = ?2, finished_usec = ?3, bytes_read = ?4,"
                   " bytes_stored = ?5, snapshot = ?6, error = ?7, level = coalesce(?8, level),"
                   " level_note = ?9 WHERE id = ?1",
                   "ItIIItttt", job, s, now_usec, (int64_t) bytes_read, (int64_t) bytes_stored,
                   snapshot, error, level, level_note);
}

int yb_catalog_jobs_interrupted(YbCatalog *c, int64_t now_usec) {
        int r, n;

        r = run(c->db,
                "UPDATE jobs SET state = 'failed', finished_usec = ?1,"
                " error = 'interrupted: yunbakd stopped while the job ran'"
                " WHERE state = 'running'",
                "I", now_usec);
        if (r < 0)
                return r;
        n = sqlite3_changes(c->db);
        r = run(c->db,
                "UPDATE jobs SET state = 'cancelled', finished_usec = ?1,"
                " error = 'yunbakd stopped before the job ran'"
                " WHERE state = 'queued'",
                "I", now_usec);
        return r < 0 ? r : n + sqlite3_changes(c->db);
}

int yb_catalog_job_retry(YbCatalog *c, int64_t job, int attempt, const char *error,
                         int64_t retry_usec) {
        return run(c->db,
                   "UPDATE jobs SET state = 'queued', attempt = ?2, error = ?3, retry_usec = ?4"
                   " WHERE id = ?1",
                   "IItI", job, (int64_t) attempt, error, retry_usec);
}

int yb_catalog_schedule_get(YbCatalog *c, const char *system, const char *kind, int64_t *ret_usec) {
        sqlite3_stmt *st;
        int rc;

        rc = sqlite3_prepare_v2(
                c->db, "SELECT last_due_usec FROM schedule WHERE system = ?1 AND kind = ?2", -1,
                &st, NULL);
        if (rc != SQLITE_OK)
                return sql_error(c->db, rc, "schedule get");
        sqlite3_bind_text(st, 1, system, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, kind, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        *ret_usec = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        sqlite3_finalize(st);
        return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_error(c->db, rc, "schedule get");
}

int yb_catalog_schedule_set(YbCatalog *c, const char *system, const char *kind,
                            int64_t last_due_usec) {
        return run(c->db,
                   "INSERT INTO schedule (system, kind, last_due_usec) VALUES (?1, ?2, ?3)"
                   " ON CONFLICT (system, kind) DO UPDATE SET last_due_usec = ?3",
                   "ttI", system, kind, last_due_usec);
}

/* Runs a query and calls fn for each row. fmt as for run(). */
int yb_catalog_query(YbCatalog *c, const char *sql, int (*fn)(void *ud, sqlite3_stmt *row),
                     void *ud, const char *fmt, ...) {
        sqlite3_stmt *st;
        va_list ap;
        int rc, r;

        va_start(ap, fmt);
        r = prepare(c->db, &st, sql, fmt, ap);
        va_end(ap);
        if (r < 0)
                return r;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                r = fn(ud, st);
                if (r < 0)
                        break;
        }
        sqlite3_finalize(st);
        if (r < 0)
                return r;
        return rc == SQLITE_DONE ? 0 : sql_error(c->db, rc, sql);
}
