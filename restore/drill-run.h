/* restore/drill-run.h: a restore drill's run (docs/drills.md, "A drill's run"): a plan in (the
 * system, the tier, the sandbox, the check, the PostgreSQL checks, and how to pick the point),
 * the phases out, each timed on a monotonic stopwatch. The engine knows no policy and no
 * catalog: the caller builds the plan from yunbakd's answer to the drill's begin. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "restore/drill-pg.h"
#include "restore/restore.h"

/* The phases, in the order they run. */
typedef enum YbDrillPhase {
        YB_DRILL_POINT,
        YB_DRILL_RESTORE,
        YB_DRILL_VERIFY,
        YB_DRILL_POSTGRESQL,
        YB_DRILL_CHECK,
        _YB_DRILL_PHASE_MAX,
} YbDrillPhase;

/* "point", "restore", "verify", "postgresql", "check". */
const char *yb_drill_phase_name(YbDrillPhase p);

/* restore/drill-clock.c: a phase's stopwatch. CLOCK_MONOTONIC; with YUNBAK_TEST_STOPWATCH_MS=N
 * in the environment (a test hook, in test builds only: YB_FAULT_INJECTION) every measure is
 * exactly N ms. */
typedef struct YbStopwatch {
        int64_t start_ns;
        int64_t fixed_ms; /* -1: the clock's */
} YbStopwatch;
void yb_stopwatch_start(YbStopwatch *s);
/* Milliseconds since yb_stopwatch_start, rounded up (the hook's N with the hook). */
int64_t yb_stopwatch_ms(const YbStopwatch *s);

/* Phase "point": the caller picks the point as `yunbak restore` does and gives its chain (the
 * engine owns it then). 0, or -errno with *ret_error a sentence saying what failed and where
 * (malloc'd). */
typedef int (*YbDrillPickFn)(void *userdata, YbRestoreChain **ret, char **ret_error);

/* The store the point was picked from, as the pick left it (all NULL until then): what a point
 * with PostgreSQL base backups needs to gather the WAL after each base (yb_pg_recover). */
typedef struct YbDrillStore {
        YbRepo *repo;
        const YbSnapshotList *l;
        const YbSecretKey *key;
} YbDrillStore;

typedef struct YbDrillPlan {
        const char *system;
        int tier;            /* 1, 2 or 3: said to the check command */
        const char *sandbox; /* an empty directory, absolute */
        bool keep;           /* the sandbox stays after the run (else it is removed) */
        YbDrillPickFn pick;
        void *pick_userdata;
        /* Filled by pick. Each PostgreSQL base backup of the point is then made to recover to
         * the point's time as `yunbak restore --at` makes it (its WAL at _pg/NAME/wal and the
         * recovery settings), after verify and before its cluster starts. NULL: not done. */
        const YbDrillStore *store;
        const char *check;          /* the check command, or NULL */
        int64_t check_timeout_usec; /* the check's and each query's bound */
        const YbDrillPgCheck *pg;   /* the PostgreSQL checks (n_pg 0: no phase postgresql) */
        size_t n_pg;
        /* Each entry the restore could not write (NULL: logged as a warning). */
        YbRestoreReportFn report;
        void *report_userdata;
        /* Set (by a signal handler) to stop the drill: the phase in hand stops as soon as it
         * can and fails "interrupted". NULL: never. */
        volatile sig_atomic_t *stop;
} YbDrillPlan;

typedef struct YbDrillPhaseResult {
        YbDrillPhase phase;
        int64_t ms;
        bool ok;
        bool has_counts; /* restore and verify: files and bytes */
        uint64_t files, bytes;
} YbDrillPhaseResult;

/* What the check command did. */
typedef struct YbDrillCheckResult {
        bool ran;       /* it started */
        bool exited;    /* exit_code is its exit status; else signal ended it */
        int exit_code;  /* valid when exited */
        int signal;     /* valid when !exited */
        bool timed_out; /* it outlived its timeout and was stopped */
        bool stopped;   /* the drill was interrupted while it ran */
        char *output;   /* its standard output and error, the last YB_DRILL_OUTPUT_MAX bytes, made
                         * text (yb_drill_text_clean) */
        bool output_truncated;
} YbDrillCheckResult;

#define YB_DRILL_OUTPUT_MAX 4096
#define YB_DRILL_ERROR_MAX 2000 /* the longest error a record takes, in bytes */

/* What a run did. Phases that did not run are not in phases[]. */
typedef struct YbDrillResult {
        YbDrillPhaseResult phases[_YB_DRILL_PHASE_MAX];
        size_t n_phases;
        bool passed;
        int failed_phase; /* a YbDrillPhase, or -1 */
        char *error;      /* the first failure in a sentence, or NULL */
        bool interrupted;
        /* the point (has_point false when none was picked) */
        bool has_point;
        char point_id[YB_SNAPSHOT_ID_MAX + 1];
        YbLevel point_level;
        uint64_t point_seq;                      /* a segment's number in its chain, else 0 */
        char point_root[YB_SNAPSHOT_ID_MAX + 1]; /* the chain's root (a segment's) */
        int64_t point_time_ns;                   /* its finished time */
        bool point_partial;
        uint64_t restore_errors;  /* entries the restore could not write (each reported) */
        YbDrillCheckResult check; /* check.ran false: no command ran */
        YbDrillPgResult *pg;      /* n_pg results, when the queries ran; else NULL */
        size_t n_pg;
        bool sandbox_kept; /* the sandbox is still there */
} YbDrillResult;

/* "2026-12-06T08:15:02Z": ns to the second (rounded down), as the record writes times. */
void yb_drill_time_text(int64_t ns, char ret[32]);

/* Makes s (in place) text a signed record takes: valid UTF-8 without control characters but
 * \n and \t ("\r\n" becomes "\n"; any other control character, and each byte that is not
 * part of a valid UTF-8 character, becomes '?'), at most max bytes (cut at a character's
 * start). */
void yb_drill_text_clean(char *s, size_t max);

/* Runs the plan: the phases in order, stopping at the first that fails. Whatever happens, the
 * PostgreSQL clusters are stopped and (unless keep) the sandbox removed. Returns 0 whenever the
 * drill ran (passed or not: see ret), or -errno when it could not be run at all (-ENOMEM). */
int yb_drill_run(const YbDrillPlan *plan, YbDrillResult *ret);
void yb_drill_result_done(YbDrillResult *r);

/* restore/drill-verify.c: phase "verify". Checks the sandbox against the chain's point: every
 * entry exists with its type (a symlink's target, a hard link's inode), every regular file has
 * the recorded size and hash (read back in full). Returns how many entries do not match (0:
 * all), with *ret_error naming the first few and the count, or -errno when the check could not
 * run (*ret_error says why). *ret_files and *ret_bytes count the regular files read. */
int yb_drill_verify(YbRestoreChain *c, const char *sandbox, volatile sig_atomic_t *stop,
                    uint64_t *ret_files, uint64_t *ret_bytes, char **ret_error);

/* restore/drill-check.c: phase "check"'s command: `/bin/sh -c command` with the sandbox as its
 * working directory, env added to this process's environment (NULL-terminated "NAME=VALUE"),
 * stdin /dev/null, stdout and stderr into one pipe (the last YB_DRILL_OUTPUT_MAX bytes kept),
 * in a process group of its own. When it outlives timeout_usec, or *stop is set, its group
 * gets SIGTERM, then SIGKILL 10 s later; when it has ended, whatever it left running (in its
 * group or out of it: this process is a child subreaper meanwhile) is killed. Withheld from
 * this process's environment: YUNBAK_*, YB_* and PG*. Returns 0 when it ran to an end (see ret), or
 * -errno when it could not be started. */
int yb_drill_check_run(const char *command, const char *sandbox, char *const *env,
                       int64_t timeout_usec, volatile sig_atomic_t *stop, YbDrillCheckResult *ret);
void yb_drill_check_result_done(YbDrillCheckResult *r);
