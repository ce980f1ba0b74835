/* restore/pg-program.h: running PostgreSQL's programs (pg_restore, psql, initdb) as children,
 * for yunbak restore --load (cli/restore-load.c) and for restore drills (drill-pg.c): each in a
 * session of its own (core/base/spawn.h: no terminal, so it never stops to ask for a password,
 * and a signal reaches all it started), its output into a file, bounded in time if asked. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* One program to run. */
typedef struct YbPgRun {
        const char *const *argv; /* argv[0]: a path, or a name looked up in PATH */
        char *const *env;        /* the whole environment; NULL: ours */
        int out_fd;              /* its standard output and error; its input is /dev/null */
        int err_fd;              /* > 0: its standard error goes here instead */
        /* Non-NULL: holds its pid (its session's id) while it runs, for a signal handler that
         * stops it (then 0 again before it is reaped) */
        volatile sig_atomic_t *announce_pid;
        /* Non-NULL and set (a signal came): it is stopped (SIGTERM to its session, SIGKILL 5 s
         * later), also when set while it runs */
        const volatile sig_atomic_t *stop;
        int64_t timeout_usec; /* > 0: SIGTERM to its session after that long, SIGKILL 5 s later */
} YbPgRun;

/* Runs a->argv and waits for it. Returns 0 with its wait status in *ret_status and whether it
 * outlived its timeout in *ret_timed_out (may be NULL; false when it was stopped by *stop), or
 * -errno when it could not be started (-ENOENT: no such program). */
int yb_pg_run(const YbPgRun *a, int *ret_status, bool *ret_timed_out);

/* What a program wrote into fd from its start (at most 64 KiB), its final newlines trimmed;
 * "(nothing)" when it said nothing. The caller frees it; NULL when fd cannot be read. */
char *yb_pg_output_read(int fd);

/* "exited with status 1", "was killed by signal 9 (Killed)" into buf; returns buf. */
const char *yb_pg_status_text(int status, char buf[64]);

/* pg_restore's parallel jobs when not told: the CPUs, at most 4. */
int yb_pg_restore_jobs_default(void);

enum {
        /* --no-owner --no-privileges: into a cluster that lacks the dumped cluster's roles */
        YB_PG_RESTORE_NO_OWNER = 1 << 0,
};

/* Loads the plaintext custom-format dump file into the database conninfo names with pg_restore
 * (program: its path, or NULL for "pg_restore" from PATH) --exit-on-error --no-password and
 * jobs parallel jobs; flags as above. run gives out_fd (its log), announce_pid, stop and
 * timeout_usec (its argv and env are ignored). Returns as yb_pg_run. */
int yb_pg_restore_file(const char *program, const char *file, const char *conninfo, int jobs,
                       unsigned flags, const YbPgRun *run, int *ret_status, bool *ret_timed_out);
