/* restore/drill-pg-internal.h: one throwaway PostgreSQL cluster of a drill (drill-pg-cluster.c),
 * for drill-pg.c, which decides what clusters a drill needs and what runs in them. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/macro.h"
#include "core/base/spawn.h"

/* One cluster: its data directory, the PostgreSQL that runs it and the user it runs as. */
typedef struct DrillCluster {
        char *hook;        /* physical: the hook's name (_pg/NAME); NULL: the dumps' cluster */
        char *label;       /* for messages: "the drill's cluster for the dumps", "the cluster of
                            * base backup _pg/si-db" */
        char *datadir;     /* absolute */
        char *bindir;      /* /usr/lib/postgresql/<major>/bin */
        char *major;       /* "15" */
        char *dir;         /* its own directory in the drill's (sockets, settings), absolute */
        char *log;         /* the server's log, beside dir */
        char *config_file; /* NULL: datadir's postgresql.conf */
        uid_t uid;
        gid_t gid;
        char *user;       /* the OS user it runs as, also the database user the drill connects as */
        bool switch_user; /* we are root: its programs run as uid:gid */
        int port;
        int64_t timeout_usec; /* drill.timeout, for messages */
        /* Set by a signal handler: what runs for the cluster stops, and starting it fails */
        const volatile sig_atomic_t *stop;
        YbChild child; /* the postmaster */
} DrillCluster;

/* Puts the formatted sentence into *ret_error (freeing what it held) and returns r; -ENOMEM
 * when it cannot. */
int restore_drill_pg_fail(char **ret_error, int r, const char *fmt, ...) _printf_(3, 4);

/* The PostgreSQL binaries: of major (its PG_VERSION, "15") when not NULL, else the newest
 * installed, in /usr/lib/postgresql/<major>/bin. 0 and *ret_bindir, *ret_major; else -ENOENT
 * with *ret_error saying what is missing and what to install. */
int restore_drill_pg_bindir(const char *major, const char *why, char **ret_bindir, char **ret_major,
                            char **ret_error);

/* Lets uid:gid reach path (absolute): every directory above it must let them search it; those
 * at or under sandbox that do not get search permission for others (o+x), and one above the
 * sandbox that does not is an error (*ret_error names it). 0 or -errno. */
int restore_drill_pg_reach(const char *sandbox, const char *path, uid_t uid, gid_t gid,
                           char **ret_error);

/* restore/drill-pg-sandbox.c: 0 when rel (a path in sandbox) is reached without a symlink or a
 * mount point on the way (missing is the caller's to say); else -ELOOP or -EXDEV with
 * *ret_error naming it. */
int restore_drill_pg_in_sandbox(const char *sandbox, const char *rel, char **ret_error);
/* Makes path (mode), a directory of the drill's own (which: what it is, for the error); one the
 * restored point holds there is refused (-EEXIST with *ret_error). */
int restore_drill_pg_own_dir(const char *path, mode_t mode, const char *which, char **ret_error);
/* Makes the drill's directory dir (SANDBOX/.yunbak-drill-pg), or takes one an earlier start in
 * the sandbox made (ours, mode 0711); anything else there is refused. */
int restore_drill_pg_drill_dir(const char *dir, char **ret_error);
/* 0 when c's restored data directory holds no symlink out of sandbox (but the pg_tblspc links
 * the tablespace_map makes anew) and no device node; else -EPERM with *ret_error naming the
 * first. */
int restore_drill_pg_datadir_checked(const char *sandbox, const DrillCluster *c, char **ret_error);

/* Runs one of c's programs (bindir/NAME, as c's user, from c->dir) with args (NULL-terminated),
 * its output into out_fd, for at most timeout_usec, stopped once *c->stop is set. Returns as
 * yb_pg_run. */
int restore_drill_pg_program(const DrillCluster *c, const char *name, const char *const *args,
                             int out_fd, int err_fd, char *const *env, int64_t timeout_usec,
                             int *ret_status, bool *ret_timed_out);

/* Starts c's postmaster on a free port of 127.0.0.1 and a socket in c->dir, with the drill's
 * settings, and waits until it accepts connections with its recovery ended, until deadline
 * (monotonic usec) or *c->stop is set (-EINTR). 0, or -errno with *ret_error (what, where, the
 * log's last lines). */
int restore_drill_pg_cluster_start(DrillCluster *c, int64_t deadline, char **ret_error);

/* Stops c's postmaster: fast shutdown, then immediate, then SIGKILL to all its processes;
 * reaps it. Safe on a cluster never started. */
void restore_drill_pg_cluster_stop(DrillCluster *c);

/* Frees c's strings (not c). */
void restore_drill_pg_cluster_done(DrillCluster *c);

/* The libpq connection string of database in c: host (its socket directory), port, user, dbname
 * quoted as libpq wants. NULL when out of memory. */
char *restore_drill_pg_conninfo(const DrillCluster *c, const char *database);

/* The last lines of file (at most about 1,500 bytes), for messages; "(empty)" when it has none.
 * The caller frees it; NULL when out of memory. */
char *restore_drill_pg_tail(const char *file);
