/* policies/policy.h: one information system's backup policy (docs/policy.md), parsed from YAML
 * with libyaml into checked, typed values. Errors carry file:line:col and every error of a file
 * is reported, not just the first. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/macro.h"
#include "policies/calendar.h"
#include "policies/schema.h" /* YbDiagnostics, durations */

typedef enum YbGrade {
        YB_GRADE_GENERAL,   /* 一般 */
        YB_GRADE_IMPORTANT, /* 重要 */
        YB_GRADE_CORE,      /* 核心 */
        _YB_GRADE_MAX,
} YbGrade;

typedef enum YbHookType {
        YB_HOOK_COMMAND,
        YB_HOOK_POSTGRESQL,
        _YB_HOOK_MAX,
} YbHookType;

/* How a postgresql hook backs the cluster up (docs/postgresql.md). */
typedef enum YbHookMode {
        YB_HOOK_MODE_DUMP,     /* pg_dump streamed into every tier-1 backup (the default) */
        YB_HOOK_MODE_PHYSICAL, /* a base backup: the data directory between pg_backup_start and
                                * pg_backup_stop, with its WAL */
        _YB_HOOK_MODE_MAX,
} YbHookMode;

typedef struct YbHook {
        char *name;
        YbHookType type;
        char *run;   /* command: the shell command, run before the backup */
        char *after; /* command, optional: run after the backup whatever its result, with
                      * YUNBAK_RESULT=ok, partial or failed in its environment */
        /* postgresql: the database (dump: whose pg_dump is streamed into the backup; physical:
         * the one connected to, "postgres" unless given), or a whole libpq connection string
         * (then host, port and user are NULL) */
        char *database;
        YbHookMode mode;          /* postgresql */
        char *host, *port, *user; /* postgresql, optional: libpq's settings of those names */
        int64_t timeout_usec;     /* default 1h */
        bool abort_on_failure;    /* on_failure: abort (true, the default) or continue */
} YbHook;

/* One of drill.postgresql: a query a restore drill runs against the PostgreSQL that a postgresql
 * hook backed up, loaded (dump) or recovered (physical) in a throwaway cluster
 * (docs/drills.md, "PostgreSQL in a drill"). */
typedef struct YbDrillPgSpec {
        char *hook;            /* the name of a postgresql hook of sources.hooks */
        char *mode;            /* its mode: "dump" or "physical" (from the hook) */
        char *database;        /* where the query runs: default the hook's database (dump), or
                                * "postgres" (physical) */
        char *query;           /* SQL that answers one integer */
        int64_t min;           /* the least value that passes (default 1) */
        unsigned line, column; /* where the item is written, for messages about it */
} YbDrillPgSpec;

/* Which snapshots to keep; with every rule unset (no retention in the policy), all of them. */
typedef struct YbRetention {
        int keep_last, keep_daily, keep_weekly, keep_monthly, keep_yearly; /* -1: not set */
        int64_t keep_within_usec;                                          /* 0: not set */
} YbRetention;

typedef struct YbPolicy {
        char *file; /* where it was read from */
        int version;
        char *id, *name, *department, *contact;
        unsigned id_line, id_column; /* where system.id is written, for messages about it */
        YbGrade grade;
        /* sources */
        char *host;
        unsigned host_line, host_column; /* where sources.host's value is written */
        char **paths, **excludes;
        size_t n_paths, n_excludes;
        YbHook *hooks;
        size_t n_hooks;
        /* sources.live_postgresql: warn (true) or error (false, the default): what the agent
         * does with a running cluster's data directory in a source that no physical hook has */
        bool live_postgresql_warn;
        /* tier 1 */
        char *tier1_store;
        unsigned tier1_store_line, tier1_store_column; /* where tier1.store's value is written */
        YbCalendar *full, *differential, *incremental; /* differential may be NULL */
        char *full_text, *differential_text, *incremental_text;
        YbRetention tier1_retention;
        int64_t lock_until_usec; /* nothing is pruned before this time; 0: none */
        /* tier 2 (NULL store: no tier 2) */
        char *tier2_store;
        unsigned tier2_store_line, tier2_store_column;
        int64_t tier2_max_lag_usec;
        int64_t tier2_interval_usec; /* a segment every this long (default 2 s) */
        YbCalendar *tier2_checkpoint;
        char *tier2_checkpoint_text;
        YbRetention tier2_retention;
        /* tier 3 (NULL store: no tier 3) */
        char *tier3_store;
        unsigned tier3_store_line, tier3_store_column;
        YbCalendar *tier3_schedule; /* NULL: on request only */
        char *tier3_schedule_text;
        bool tier3_on_request;
        bool tier3_approval_required; /* approval: required (true, the default) or automatic */
        YbRetention tier3_retention;
        /* objectives and drills */
        int64_t rpo_usec, rto_usec;
        int64_t drill_every_usec;
        char *drill_check;
        int64_t drill_timeout_usec; /* drill.timeout: bounds the check and each query (1h) */
        YbDrillPgSpec *drill_pg;    /* drill.postgresql, in the order written */
        size_t n_drill_pg;
} YbPolicy;

/* The grade minimums (docs/policy.md, "Grade minimums"): important and core systems need tier2
 * with max_lag at most YB_GRADE_MAX_LAG_USEC and a tier3, core systems a scheduled tier3, and
 * every system a drill every YB_DRILL_MAX_EVERY_USEC at most (a year, leap years included). */
#define YB_GRADE_MAX_LAG_USEC YB_USEC_PER_MINUTE
/* tier2.interval: its default and its least value. */
#define YB_TIER2_INTERVAL_DEFAULT_USEC (2 * YB_USEC_PER_SEC)
#define YB_TIER2_INTERVAL_MIN_USEC YB_USEC_PER_SEC
#define YB_DRILL_MAX_EVERY_USEC (366 * YB_USEC_PER_DAY)
/* drill.timeout when not given. */
#define YB_DRILL_TIMEOUT_DEFAULT_USEC YB_USEC_PER_HOUR
/* At most this many errors are kept per file; the rest are counted in one last line. */
#define YB_POLICY_MAX_ERRORS YB_SCHEMA_MAX_ERRORS

/* Parses and validates one policy file: syntax, types, unknown/missing/duplicate keys, values,
 * calendars, and the minimums of the system's grade. On success returns 0 and the caller owns
 * *ret. On any error returns -EINVAL with every problem appended to diag (which the caller
 * owns; lines of earlier calls stay) sorted by position, and *ret untouched. A file that cannot
 * be read gives its -errno and one line "path: cannot read: reason"; -ENOMEM adds nothing. */
int yb_policy_load(const char *path, YbPolicy **ret, YbDiagnostics *diag);
/* The same from memory; name is used in messages. */
int yb_policy_parse(const char *name, const char *text, size_t size, YbPolicy **ret,
                    YbDiagnostics *diag);
YbPolicy *yb_policy_free(YbPolicy *p); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(YbPolicy, yb_policy_free);

/* "general", "important", "core" (the values of system.classification); NULL if out of range. */
const char *yb_grade_to_string(YbGrade g);
/* "command", "postgresql"; NULL if out of range. */
const char *yb_hook_type_to_string(YbHookType t);
/* "dump", "physical"; NULL if out of range. */
const char *yb_hook_mode_to_string(YbHookMode m);

/* The libpq connection string of postgresql hook h (policies/hook.c), which yunbakd gives the
 * agent for both modes (pg_dump's --dbname, --postgresql NAME=CONNINFO): its database as is when
 * that is a whole connection string, else "dbname='...'" and each of host, port and user that is
 * set, each value quoted as libpq wants (single quotes; a quote or backslash in it
 * backslash-escaped). 0 and *ret (the caller frees it), -EINVAL for a command hook, -ENOMEM. */
int yb_hook_conninfo(const YbHook *h, char **ret);
/* Whether a postgresql hook's database is a whole connection string, as libpq tells one from a
 * database name: it holds '=' or starts with postgresql:// or postgres://. */
bool yb_hook_database_is_conninfo(const char *database);
/* A deep copy of h into *ret. 0 or -ENOMEM (then *ret holds nothing). */
int yb_hook_copy(const YbHook *h, YbHook *ret);
/* Frees the strings of h (not h). */
void yb_hook_done(YbHook *h);
/* Frees the strings of s (not s) and zeroes it. */
void yb_drill_pg_spec_done(YbDrillPgSpec *s);
