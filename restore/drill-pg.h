/* restore/drill-pg.h: PostgreSQL in a restore drill (docs/drills.md, "PostgreSQL in a drill"):
 * a throwaway cluster in the sandbox, on a free port, that loads a restored dump or recovers a
 * restored base backup; the policy's queries run against it; it is stopped and removed after. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One of the policy's checks (drill.postgresql), as yunbakd's begin answer gives it. */
typedef struct YbDrillPgCheck {
        const char *name; /* the hook's name: _streams/NAME.pgdump (dump), _pg/NAME (physical) */
        const char *mode; /* "dump" or "physical" */
        const char *database; /* the database the query runs in */
        const char *query;    /* SQL whose answer is one integer (one row, one column) */
        int64_t min;          /* the least value that passes */
} YbDrillPgCheck;

/* What one check gave. */
typedef struct YbDrillPgResult {
        bool has_value;
        int64_t value;
        bool ok;     /* has_value and value >= min */
        char *error; /* why not (malloc'd; NULL when ok) */
} YbDrillPgResult;

/* The clusters a drill started. */
typedef struct YbDrillPg YbDrillPg;

/* Phase "postgresql": starts what the checks need in sandbox (which holds the restored point):
 * for the dumps, one new cluster that each dump is loaded into (its database created first);
 * for each physical base backup, its cluster recovered to the point. 0, or -errno with
 * *ret_error a sentence saying what failed and where (the caller frees it). Whatever was
 * started is in *ret either way (stop it with yb_drill_pg_stop). */
int yb_drill_pg_start(const char *sandbox, const YbDrillPgCheck *checks, size_t n, YbDrillPg **ret,
                      char **ret_error);
/* The same, bounded by timeout_usec (drill.timeout, check_timeout_seconds of the begin answer;
 * yb_drill_pg_start: 1 h), which also bounds each query of yb_drill_pg_query. */
int yb_drill_pg_start_within(const char *sandbox, const YbDrillPgCheck *checks, size_t n,
                             int64_t timeout_usec, YbDrillPg **ret, char **ret_error);
/* The same, and once *stop is set (by a signal handler; stop may be NULL) what runs for the
 * drill (initdb, pg_restore, a query) is stopped and the start fails (-EINTR) or a query left
 * fails, saying the drill was interrupted. pg keeps stop for yb_drill_pg_query. */
int yb_drill_pg_start_stoppable(const char *sandbox, const YbDrillPgCheck *checks, size_t n,
                                int64_t timeout_usec, const volatile sig_atomic_t *stop,
                                YbDrillPg **ret, char **ret_error);
/* Phase "check": runs each check's query; results[i] for checks[i]. Returns how many failed,
 * or -errno when none could run (*ret_error says why). */
int yb_drill_pg_query(YbDrillPg *pg, const YbDrillPgCheck *checks, size_t n,
                      YbDrillPgResult *results, char **ret_error);
/* The variables the check command gets to reach the first cluster: PGHOST, PGPORT,
 * YUNBAK_DRILL_PGHOST, YUNBAK_DRILL_PGPORT (and PGUSER, YUNBAK_DRILL_PGUSER: the database user
 * the drill connects as), as "NAME=VALUE" strings appended to *env (a NULL-terminated array,
 * grown with realloc). 0 or -ENOMEM; nothing is added when pg is NULL or started nothing. */
int yb_drill_pg_env(const YbDrillPg *pg, char ***env, size_t *n_env);
/* What runs, for the run to say: per cluster started, "the drill's cluster for the dumps:
 * PostgreSQL 15 (/usr/lib/postgresql/15/bin) as user postgres, on 127.0.0.1 port 41234 and a
 * socket in DIR", joined with "; ". 0 and *ret (the caller frees it; "" when nothing runs), or
 * -ENOMEM. */
int yb_drill_pg_describe(const YbDrillPg *pg, char **ret);
/* Stops every cluster pg started and removes its directories; NULL is fine. Returns NULL. */
YbDrillPg *yb_drill_pg_stop(YbDrillPg *pg);
void yb_drill_pg_result_done(YbDrillPgResult *r);
