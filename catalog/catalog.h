/* catalog/catalog.h: yunbakd's catalog in SQLite (WAL, busy timeout, versioned migrations):
 * systems, policy versions, snapshots per store, jobs, approvals, key copies, and the audit log.
 * The repository stays the source of truth; the catalog is an index of it plus what only the
 * daemon knows (jobs, approvals, audit). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/macro.h"

typedef struct YbCatalog YbCatalog;

/* Opens (creating if needed) the catalog at path and migrates it to the newest schema. A new
 * catalog is made 0600 whatever the umask (its -wal and -shm files take its mode), and an older
 * one readable by others loses that. -EPROTONOSUPPORT if it was written by a newer yunbakd,
 * -EBUSY if locked past the timeout, -EBADMSG if the file is not a database. */
int yb_catalog_open(const char *path, YbCatalog **ret);
/* Opens an existing catalog read-only, never migrating or writing it (offline audit checks).
 * -EBADMSG if it is not a catalog, -EPROTONOSUPPORT if a newer yunbakd wrote it. */
int yb_catalog_open_readonly(const char *path, YbCatalog **ret);
YbCatalog *yb_catalog_close(YbCatalog *c);
DEFINE_FREEP(YbCatalog, yb_catalog_close);
/* The schema version after migration. */
int yb_catalog_schema_version(YbCatalog *c);
/* The SQLite handle, for the modules that own their tables (audit.c). */
struct sqlite3 *yb_catalog_db(YbCatalog *c);
/* PRAGMA integrity_check: 0 if "ok", -EBADMSG otherwise. */
int yb_catalog_integrity_check(YbCatalog *c);

/* PRAGMA quick_check: 0 if "ok"; -EBADMSG (or the -errno that stopped the check) otherwise,
 * with SQLite's first complaint in *ret_problem (malloc'ed; the caller frees it) if asked. */
int yb_catalog_quick_check(YbCatalog *c, char **ret_problem);
/* Maps an SQLite result code to -errno, once, for the modules that use the handle themselves:
 * SQLITE_FULL and an I/O error on a full disk are -ENOSPC, corruption -EBADMSG, a lock -EBUSY. */
struct sqlite3;
int yb_catalog_sql_error(struct sqlite3 *db, int rc, const char *what);

/* Runs fn inside one IMMEDIATE transaction; rolls back if fn fails. */
int yb_catalog_transaction(YbCatalog *c, int (*fn)(YbCatalog *c, void *ud), void *ud);

typedef struct YbCatalogSystem {
        const char *id, *name, *department, *grade, *policy_file, *policy_hash;
} YbCatalogSystem;

/* Records a system and its current policy (by hash; the policy text is kept per version). */
int yb_catalog_put_system(YbCatalog *c, const YbCatalogSystem *s, const char *policy_text,
                          int64_t now_usec);

typedef struct YbCatalogSnapshot {
        const char *system, *store, *id, *level, *parent, *agent;
        int64_t started_usec, finished_usec;
        uint64_t files, bytes_source, bytes_stored;
        bool partial;
        const char *quarantine; /* NULL, or why the snapshot is set aside (kept, never built on,
                                 * never counted or pruned by retention) */
} YbCatalogSnapshot;

/* Records a snapshot as present in a store (replacing an earlier record of it, except that a
 * quarantine stays once set). */
int yb_catalog_put_snapshot(YbCatalog *c, const YbCatalogSnapshot *s);
/* Quarantines a snapshot (why: the reason) or, with why NULL, releases it. -ENOENT if the catalog
 * does not list it. */
int yb_catalog_set_quarantine(YbCatalog *c, const char *system, const char *store, const char *id,
                              const char *why);
/* Forgets a snapshot that was pruned or found missing. */
int yb_catalog_forget_snapshot(YbCatalog *c, const char *system, const char *store, const char *id);
/* Number of snapshots of system (in any store); -errno on failure. */
int64_t yb_catalog_count_snapshots(YbCatalog *c, const char *system);

typedef enum YbJobState {
        YB_JOB_QUEUED,
        YB_JOB_RUNNING,
        YB_JOB_SUCCEEDED,
        YB_JOB_PARTIAL,
        YB_JOB_FAILED,
        YB_JOB_CANCELLED,
        YB_JOB_PAUSED, /* a copy that stopped at its store's window closing; a later job resumes */
        _YB_JOB_STATE_MAX,
} YbJobState;

const char *yb_job_state_to_string(YbJobState s);

/* Adds a job (queued); returns its id in *ret. trigger: "schedule", "catch-up", "api:<user>".
 * level is the one asked for: it stays as requested_level, and level becomes the one made when
 * the job ends. */
int yb_catalog_job_add(YbCatalog *c, const char *system, int tier, const char *level,
                       const char *trigger, int64_t scheduled_usec, int64_t *ret);
/* Marks a job running. Its started_usec stays that of its first attempt, so that a job's
 * duration counts its retries too. */
int yb_catalog_job_start(YbCatalog *c, int64_t job, int64_t now_usec);
/* Ends a job; snapshot and error may be NULL. level: the level of the snapshot made (from its
 * signed header), or NULL to keep the one asked; level_note: why it differs from the one asked,
 * or NULL. */
int yb_catalog_job_finish(YbCatalog *c, int64_t job, YbJobState state, int64_t now_usec,
                          uint64_t bytes_read, uint64_t bytes_stored, const char *snapshot,
                          const char *error, const char *level, const char *level_note);
/* Marks jobs left running by a daemon that died as failed ("interrupted"), and jobs left queued
 * as cancelled (a scheduled run is caught up anyway). Returns how many. */
int yb_catalog_jobs_interrupted(YbCatalog *c, int64_t now_usec);
/* Puts a failed job back in the queue for another attempt, due at retry_usec; error says why the
 * last one failed. */
int yb_catalog_job_retry(YbCatalog *c, int64_t job, int attempt, const char *error,
                         int64_t retry_usec);

/* The scheduler's memory: when (system, kind) last came due; 0 if never. */
int yb_catalog_schedule_get(YbCatalog *c, const char *system, const char *kind, int64_t *ret_usec);
int yb_catalog_schedule_set(YbCatalog *c, const char *system, const char *kind,
                            int64_t last_due_usec);

/* A list of names (snapshot ids, agent keys) read from the catalog. */
typedef struct YbNames {
        char **v;
        size_t n;
} YbNames;

void yb_names_done(YbNames *n);
int yb_names_add(YbNames *n, const char *name);
bool yb_names_contain(const YbNames *n, const char *name);
/* A yb_catalog_query() row function: adds column 0 of each row (NULLs skipped) to the YbNames. */
struct sqlite3_stmt;
int yb_names_row(void *names, struct sqlite3_stmt *row);

/* Runs sql with arguments bound from fmt ('t' text, NULL allowed; 'I' int64) and calls fn for
 * each row; fn's negative return stops and is returned. For the daemon's read queries. */
struct sqlite3_stmt;
int yb_catalog_query(YbCatalog *c, const char *sql, int (*fn)(void *ud, struct sqlite3_stmt *row),
                     void *ud, const char *fmt, ...);
