/* restore/drill-pg.c: PostgreSQL in a restore drill (drill-pg.h; docs/drills.md, "PostgreSQL
 * in a drill"). The restore put the point in the sandbox: each dump at _streams/NAME.pgdump,
 * each base backup at _pg/NAME/data with its WAL and recovery settings (as yunbak restore lays
 * them out). The dumps are loaded into one new cluster (initdb), each into a database made for
 * it; each base backup is started as it is and recovers. Everything of the drill's own is in
 * SANDBOX/.yunbak-drill-pg: a directory per cluster (its sockets and settings, and the dumps'
 * data directory), removed when the clusters stop, and the logs, which stay with the sandbox.
 *
 * As root, each cluster runs as an unprivileged user: a base backup as the owner of its
 * restored data directory (also the database user the drill connects as, as initdb names the
 * first superuser after the user that ran it); the dumps' cluster as the user postgres, or
 * nobody when there is none. */
#include "restore/drill-pg.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/excerpt.h"
#include "core/base/fileio.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "restore/drill-pg-internal.h"
#include "restore/pg-program.h"
#include "restore/pg-restore.h"

#define DRILL_DIR ".yunbak-drill-pg"
#define DEFAULT_TIMEOUT_USEC YB_USEC_PER_HOUR
#define CONNECT_TIMEOUT_SECONDS "30"

struct YbDrillPg {
        char *sandbox; /* absolute */
        char *dir;     /* sandbox/.yunbak-drill-pg */
        int64_t timeout_usec;
        const volatile sig_atomic_t *stop; /* may be NULL */
        DrillCluster *clusters;
        size_t n_clusters;
};

static const char *timeout_text(const YbDrillPg *pg, char buf[32]) {
        snprintf(buf, 32, "%llds", (long long) (pg->timeout_usec / YB_USEC_PER_SEC));
        return buf;
}

/* A new cluster in pg (zeroed, its child null); NULL when out of memory. */
static DrillCluster *cluster_add(YbDrillPg *pg) {
        DrillCluster *c = &pg->clusters[pg->n_clusters++];

        *c = (DrillCluster){ .child = YB_CHILD_NULL,
                             .timeout_usec = pg->timeout_usec,
                             .stop = pg->stop };
        return c;
}

/* Who runs a cluster: as root, pw's user; else ourselves. */
static int cluster_user(DrillCluster *c, const struct passwd *pw) {
        c->uid = pw->pw_uid;
        c->gid = pw->pw_gid;
        c->switch_user = geteuid() == 0;
        c->user = strdup(pw->pw_name);
        return c->user ? 0 : -ENOMEM;
}

/* c's own directory, pg->dir/sub, made theirs and reachable. */
static int cluster_dir(YbDrillPg *pg, DrillCluster *c, const char *sub, const char *log,
                       char **ret_error) {
        int r;

        if (asprintf(&c->dir, "%s/%s", pg->dir, sub) < 0 ||
            asprintf(&c->log, "%s/%s", pg->dir, log) < 0)
                return -ENOMEM;
        r = restore_drill_pg_own_dir(c->dir, 0700, "a directory of the drill's own", ret_error);
        if (r < 0)
                return r;
        if (c->switch_user && chown(c->dir, c->uid, c->gid) < 0)
                return restore_drill_pg_fail(ret_error, -errno,
                                             "cannot give %s to the user %s for %s: %s", c->dir,
                                             c->user, c->label, strerror(errno));
        r = restore_drill_pg_reach(pg->sandbox, c->dir, c->uid, c->gid, ret_error);
        if (r < 0 && !*ret_error)
                return restore_drill_pg_fail(ret_error, r, "cannot let the user %s reach %s: %s",
                                             c->user, c->dir, strerror(-r));
        return r;
}

/* The remaining time until deadline, at least 1 usec. */
static int64_t left(int64_t deadline) {
        return MAX(deadline - yb_monotonic_usec(), (int64_t) 1);
}

/* Runs one of c's programs, its output in log (appended); on failure says what, with the log's
 * last lines. */
static int run_logged(YbDrillPg *pg, const DrillCluster *c, const char *name,
                      const char *const *args, const char *log, int64_t deadline, const char *what,
                      char **ret_error) {
        _cleanup_close_ int fd = open(
                log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
        _cleanup_free_ char *tail = NULL;
        bool timed_out = false;
        char how[64], t[32];
        int r, status;

        if (fd < 0)
                return restore_drill_pg_fail(ret_error, -errno, "cannot create the log %s: %s", log,
                                             strerror(errno));
        r = restore_drill_pg_program(c, name, args, fd, -1, NULL, left(deadline), &status,
                                     &timed_out);
        if (r < 0)
                return restore_drill_pg_fail(ret_error, r, "%s: cannot run %s/%s: %s", what,
                                             c->bindir, name, strerror(-r));
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !timed_out)
                return 0;
        tail = restore_drill_pg_tail(log);
        if (timed_out)
                return restore_drill_pg_fail(
                        ret_error, -ETIMEDOUT,
                        "%s: %s did not end within drill.timeout (%s) and was stopped; its "
                        "output ends: %s (its log: %s)",
                        what, name, timeout_text(pg, t), tail ? tail : "?", log);
        return restore_drill_pg_fail(ret_error, -EIO, "%s: %s %s and said: %s (its log: %s)", what,
                                     name, yb_pg_status_text(status, how), tail ? tail : "?", log);
}

/* Whether checks[i] loads what an earlier check loaded (the same dump into the same database). */
static bool loaded_before(const YbDrillPgCheck *checks, size_t i) {
        for (size_t j = 0; j < i; j++)
                if (streq(checks[j].mode, "dump") && streq(checks[j].name, checks[i].name) &&
                    streq(checks[j].database, checks[i].database))
                        return true;
        return false;
}

/* Loads the dump of checks[i] into its database of c. */
static int load_dump(YbDrillPg *pg, DrillCluster *c, const YbDrillPgCheck *checks, size_t i,
                     int64_t deadline, char **ret_error) {
        const YbDrillPgCheck *k = &checks[i];
        _cleanup_free_ char *file = NULL, *log = NULL, *conninfo = NULL, *port = NULL, *what = NULL,
                            *tail = NULL, *restore = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        bool timed_out = false;
        char how[64], t[32];
        int r, status;

        for (size_t j = 0; j < i; j++)
                if (streq(checks[j].mode, "dump") && streq(checks[j].database, k->database) &&
                    !streq(checks[j].name, k->name))
                        return restore_drill_pg_fail(
                                ret_error, -EINVAL,
                                "the dumps _streams/%s.pgdump and _streams/%s.pgdump would "
                                "both be loaded into database %s of the drill's cluster: "
                                "give one of their checks another database "
                                "(drill.postgresql's database)",
                                checks[j].name, k->name, k->database);
        if (asprintf(&file, "%s/_streams/%s.pgdump", pg->sandbox, k->name) < 0 ||
            asprintf(&log, "%s/%s.%zu.pg_restore.log", pg->dir, k->name, i) < 0 ||
            asprintf(&port, "%d", c->port) < 0 ||
            asprintf(&restore, "%s/pg_restore", c->bindir) < 0 ||
            asprintf(&what,
                     "the database %s for the dump _streams/%s.pgdump could not be made in "
                     "the drill's cluster",
                     k->database, k->name) < 0)
                return -ENOMEM;
        r = restore_drill_pg_in_sandbox(pg->sandbox, file + strlen(pg->sandbox) + 1, ret_error);
        if (r < 0)
                return r;
        if (stat(file, &st) < 0 || !S_ISREG(st.st_mode))
                return restore_drill_pg_fail(
                        ret_error, -ENOENT,
                        "the restored point has no dump _streams/%s.pgdump (%s): the hook's "
                        "dump is not in this backup, or it failed (the point is then "
                        "partial); drill a point whose backup has it",
                        k->name, file);
        if (!streq(k->database, "postgres")) {
                const char *args[] = {
                        "--no-password", "-h", c->dir,      "-p", port,        "-U",
                        c->user,         "-T", "template0", "--", k->database, NULL
                };

                r = run_logged(pg, c, "createdb", args, log, deadline, what, ret_error);
                if (r < 0)
                        return r;
        }
        conninfo = restore_drill_pg_conninfo(c, k->database);
        if (!conninfo)
                return -ENOMEM;
        fd = open(log, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
        if (fd < 0)
                return restore_drill_pg_fail(ret_error, -errno, "cannot create the log %s: %s", log,
                                             strerror(errno));
        YbPgRun run = { .out_fd = fd, .stop = c->stop, .timeout_usec = left(deadline) };
        r = yb_pg_restore_file(restore, file, conninfo, yb_pg_restore_jobs_default(),
                               YB_PG_RESTORE_NO_OWNER, &run, &status, &timed_out);
        if (r < 0)
                return restore_drill_pg_fail(
                        ret_error, r,
                        "the dump _streams/%s.pgdump could not be loaded into database %s "
                        "of the drill's cluster: cannot run %s: %s",
                        k->name, k->database, restore, strerror(-r));
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && !timed_out)
                return 0;
        tail = restore_drill_pg_tail(log);
        if (timed_out)
                return restore_drill_pg_fail(
                        ret_error, -ETIMEDOUT,
                        "the dump _streams/%s.pgdump was not loaded into database %s of the "
                        "drill's cluster within drill.timeout (%s): pg_restore was stopped "
                        "(its log: %s)",
                        k->name, k->database, timeout_text(pg, t), log);
        return restore_drill_pg_fail(
                ret_error, -EIO,
                "the dump _streams/%s.pgdump could not be loaded into database %s of the "
                "drill's cluster: pg_restore %s: %s (its log: %s)",
                k->name, k->database, yb_pg_status_text(status, how), tail ? tail : "?", log);
}

/* The cluster for the dumps: initdb, start, each dump into its database. */
static int start_dumps(YbDrillPg *pg, const YbDrillPgCheck *checks, size_t n, int64_t deadline,
                       char **ret_error) {
        DrillCluster *c = cluster_add(pg);
        const struct passwd *pw;
        _cleanup_free_ char *userarg = NULL, *initdb_log = NULL;
        int r;

        c->label = strdup("the drill's cluster for the dumps");
        if (!c->label)
                return -ENOMEM;
        pw = geteuid() == 0 ? getpwnam("postgres") : getpwuid(geteuid());
        if (!pw && geteuid() == 0)
                pw = getpwnam("nobody");
        if (!pw)
                return restore_drill_pg_fail(
                        ret_error, -ENOENT,
                        "%s needs a user to run as (PostgreSQL refuses root): there is "
                        "neither a user postgres nor nobody",
                        c->label);
        r = cluster_user(c, pw);
        if (r < 0)
                return r;
        r = restore_drill_pg_bindir(NULL, c->label, &c->bindir, &c->major, ret_error);
        if (r < 0)
                return r;
        r = cluster_dir(pg, c, "dumps", "dumps.log", ret_error);
        if (r < 0)
                return r;
        if (asprintf(&c->datadir, "%s/data", c->dir) < 0 ||
            asprintf(&userarg, "--username=%s", c->user) < 0 ||
            asprintf(&initdb_log, "%s/dumps.initdb.log", pg->dir) < 0)
                return -ENOMEM;
        const char *args[] = {
                "-D",        c->datadir, "--auth=trust", userarg, "--encoding=UTF8", "--locale=C",
                "--no-sync", NULL
        };
        r = run_logged(pg, c, "initdb", args, initdb_log, deadline,
                       "initdb could not make the drill's cluster for the dumps", ret_error);
        if (r < 0)
                return r;
        r = restore_drill_pg_cluster_start(c, deadline, ret_error);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++) {
                if (!streq(checks[i].mode, "dump") || loaded_before(checks, i))
                        continue;
                r = load_dump(pg, c, checks, i, deadline, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The cluster of the base backup of hook name, recovering as the restore prepared it. */
static int start_physical(YbDrillPg *pg, const char *name, size_t index, int64_t deadline,
                          char **ret_error) {
        DrillCluster *c = cluster_add(pg);
        _cleanup_(yb_buf_done) YbBuf version = YB_BUF_INIT;
        _cleanup_free_ char *pgv = NULL, *why = NULL, *conf = NULL, *sub = NULL, *log = NULL,
                            *hookdir = NULL, *tsroot = NULL;
        const struct passwd *pw;
        struct stat st;
        int r;

        c->hook = strdup(name);
        if (!c->hook || asprintf(&c->label, "the cluster of base backup _pg/%s", name) < 0 ||
            asprintf(&c->datadir, "%s/_pg/%s/data", pg->sandbox, name) < 0 ||
            asprintf(&pgv, "%s/PG_VERSION", c->datadir) < 0 ||
            asprintf(&why, "the base backup _pg/%s (its PG_VERSION)", name) < 0 ||
            asprintf(&sub, "pg%zu", index) < 0 || asprintf(&log, "pg-%s.log", name) < 0)
                return -ENOMEM;
        r = restore_drill_pg_in_sandbox(pg->sandbox, c->datadir + strlen(pg->sandbox) + 1,
                                        ret_error);
        if (r < 0)
                return r;
        if (stat(c->datadir, &st) < 0 || !S_ISDIR(st.st_mode))
                return restore_drill_pg_fail(
                        ret_error, -ENOENT,
                        "the restored point has no base backup of PostgreSQL hook %s (no "
                        "directory %s): drill a point whose backup holds one (the hook "
                        "in mode physical)",
                        name, c->datadir);
        r = yb_read_file_at(AT_FDCWD, pgv, 64, &version);
        if (r < 0 || version.size == 0)
                return restore_drill_pg_fail(
                        ret_error, r < 0 ? r : -EBADMSG,
                        "the base backup _pg/%s has no readable PG_VERSION (%s): %s", name, pgv,
                        r < 0 ? strerror(-r) : "it is empty");
        while (version.size > 0 &&
               (version.data[version.size - 1] == '\n' || version.data[version.size - 1] == '\r'))
                version.size--;
        if (yb_buf_append(&version, "", 1) < 0)
                return -ENOMEM;
        r = restore_drill_pg_bindir((const char *) version.data, why, &c->bindir, &c->major,
                                    ret_error);
        if (r < 0)
                return r;
        if (geteuid() == 0 && st.st_uid == 0)
                return restore_drill_pg_fail(
                        ret_error, -EPERM,
                        "the restored data directory %s is owned by root, and PostgreSQL "
                        "refuses to run as root: the base backup recorded root as its "
                        "owner; give it to the cluster's user (chown -R) in a kept sandbox "
                        "to start it by hand",
                        c->datadir);
        if (geteuid() != 0 && st.st_uid != geteuid())
                return restore_drill_pg_fail(
                        ret_error, -EPERM,
                        "the restored data directory %s is owned by uid %u, not by the "
                        "user the drill runs as (uid %u): PostgreSQL runs only as the "
                        "owner of its data directory; run the drill as that user or as "
                        "root",
                        c->datadir, (unsigned) st.st_uid, (unsigned) geteuid());
        pw = getpwuid(st.st_uid);
        if (!pw)
                return restore_drill_pg_fail(
                        ret_error, -ENOENT,
                        "the restored data directory %s is owned by uid %u, which has no "
                        "user name here: the drill connects as the user of that name",
                        c->datadir, (unsigned) st.st_uid);
        r = cluster_user(c, pw);
        if (r < 0)
                return r;
        /* As yunbak restore does (cli/cmd-restore-pg.c): its tablespaces are the restored
         * ones, never the production cluster's directories, and its user reaches them. */
        if (asprintf(&hookdir, "%s/_pg/%s", pg->sandbox, name) < 0 ||
            asprintf(&tsroot, "%s/tablespaces", hookdir) < 0)
                return -ENOMEM;
        r = yb_pg_tablespace_map_rewrite(c->datadir, tsroot);
        if (r < 0)
                return restore_drill_pg_fail(
                        ret_error, r,
                        "the tablespace_map of base backup _pg/%s cannot be pointed at its "
                        "restored tablespaces in %s: %s",
                        name, tsroot,
                        r == -EBADMSG ? "a line is not '<oid> <path>'" : strerror(-r));
        r = restore_drill_pg_datadir_checked(pg->sandbox, c, ret_error);
        if (r < 0)
                return r;
        r = yb_pg_chown_like(c->datadir, hookdir);
        if (r < 0)
                return restore_drill_pg_fail(ret_error, r, "cannot give %s to the user %s: %s",
                                             hookdir, c->user, strerror(-r));
        r = cluster_dir(pg, c, sub, log, ret_error);
        if (r < 0)
                return r;
        r = restore_drill_pg_reach(pg->sandbox, c->datadir, c->uid, c->gid, ret_error);
        if (r < 0)
                return *ret_error ? r
                                  : restore_drill_pg_fail(ret_error, r,
                                                          "cannot let the user %s reach %s: %s",
                                                          c->user, c->datadir, strerror(-r));
        if (asprintf(&conf, "%s/postgresql.conf", c->datadir) < 0)
                return -ENOMEM;
        if (access(conf, F_OK) < 0) {
                /* Debian keeps it in /etc/postgresql, out of the data directory: none of its
                 * settings is needed to recover. */
                static const char empty[] = "# yunbak drill: the base backup has no "
                                            "postgresql.conf; the drill's settings are given "
                                            "on the command line\n";

                if (asprintf(&c->config_file, "%s/postgresql.conf", c->dir) < 0)
                        return -ENOMEM;
                r = yb_write_file_atomic_at(AT_FDCWD, c->config_file, empty, strlen(empty), 0644);
                if (r < 0)
                        return restore_drill_pg_fail(ret_error, r, "cannot write %s: %s",
                                                     c->config_file, strerror(-r));
        }
        return restore_drill_pg_cluster_start(c, deadline, ret_error);
}

/* Whether a check names what the drill can find: a known mode, a name that is one path
 * component, a database and a query. */
static int check_valid(const YbDrillPgCheck *k, size_t i, char **ret_error) {
        if (!k->name || !*k->name || strchr(k->name, '/') || streq(k->name, ".") ||
            streq(k->name, ".."))
                return restore_drill_pg_fail(
                        ret_error, -EINVAL,
                        "PostgreSQL check %zu names no hook that can be found in a point "
                        "('%s')",
                        i + 1, k->name ? k->name : "");
        if (!k->mode || (!streq(k->mode, "dump") && !streq(k->mode, "physical")))
                return restore_drill_pg_fail(
                        ret_error, -EINVAL,
                        "PostgreSQL check %zu (hook %s) has mode '%s': it must be dump or "
                        "physical",
                        i + 1, k->name, k->mode ? k->mode : "");
        if (!k->database || !*k->database || !k->query || !*k->query)
                return restore_drill_pg_fail(
                        ret_error, -EINVAL, "PostgreSQL check %zu (hook %s) has no %s", i + 1,
                        k->name, !k->database || !*k->database ? "database" : "query");
        return 0;
}

static int start_all(YbDrillPg *pg, const YbDrillPgCheck *checks, size_t n, char **ret_error) {
        int64_t deadline = yb_monotonic_usec() + pg->timeout_usec;
        bool dumps = false;
        size_t physical = 0;
        int r;

        for (size_t i = 0; i < n; i++) {
                r = check_valid(&checks[i], i, ret_error);
                if (r < 0)
                        return r;
                dumps |= streq(checks[i].mode, "dump");
        }
        r = restore_drill_pg_drill_dir(pg->dir, ret_error);
        if (r < 0)
                return r;
        if (dumps) {
                r = start_dumps(pg, checks, n, deadline, ret_error);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < n; i++) {
                bool seen = false;

                if (!streq(checks[i].mode, "physical"))
                        continue;
                for (size_t j = 0; j < i && !seen; j++)
                        seen = streq(checks[j].mode, "physical") &&
                               streq(checks[j].name, checks[i].name);
                if (seen)
                        continue;
                r = start_physical(pg, checks[i].name, ++physical, deadline, ret_error);
                if (r < 0)
                        return r;
        }
        return 0;
}

int yb_drill_pg_start_within(const char *sandbox, const YbDrillPgCheck *checks, size_t n,
                             int64_t timeout_usec, YbDrillPg **ret, char **ret_error) {
        return yb_drill_pg_start_stoppable(sandbox, checks, n, timeout_usec, NULL, ret, ret_error);
}

int yb_drill_pg_start_stoppable(const char *sandbox, const YbDrillPgCheck *checks, size_t n,
                                int64_t timeout_usec, const volatile sig_atomic_t *stop,
                                YbDrillPg **ret, char **ret_error) {
        YbDrillPg *pg;
        char abs[PATH_MAX];
        int r;

        *ret = NULL;
        *ret_error = NULL;
        if (!realpath(sandbox, abs))
                return restore_drill_pg_fail(ret_error, -errno,
                                             "the sandbox %s cannot be found: %s", sandbox,
                                             strerror(errno));
        pg = new0(YbDrillPg, 1);
        if (!pg)
                return -ENOMEM;
        *ret = pg;
        pg->timeout_usec = timeout_usec > 0 ? timeout_usec : DEFAULT_TIMEOUT_USEC;
        pg->stop = stop;
        pg->sandbox = strdup(abs);
        pg->clusters = new0(DrillCluster, n + 1);
        if (!pg->sandbox || !pg->clusters || asprintf(&pg->dir, "%s/" DRILL_DIR, abs) < 0)
                return restore_drill_pg_fail(ret_error, -ENOMEM, "out of memory");
        r = start_all(pg, checks, n, ret_error);
        if (r == -ENOMEM && !*ret_error)
                return restore_drill_pg_fail(ret_error, r, "out of memory");
        if (r < 0 && !*ret_error)
                return restore_drill_pg_fail(
                        ret_error, r, "the drill's PostgreSQL could not start: %s", strerror(-r));
        return r;
}

int yb_drill_pg_start(const char *sandbox, const YbDrillPgCheck *checks, size_t n, YbDrillPg **ret,
                      char **ret_error) {
        return yb_drill_pg_start_within(sandbox, checks, n, DEFAULT_TIMEOUT_USEC, ret, ret_error);
}

/* The cluster where check k runs, or NULL. */
static DrillCluster *cluster_of(YbDrillPg *pg, const YbDrillPgCheck *k) {
        for (size_t i = 0; i < pg->n_clusters; i++) {
                DrillCluster *c = &pg->clusters[i];

                if (streq(k->mode, "dump") ? !c->hook : c->hook && streq(c->hook, k->name))
                        return c;
        }
        return NULL;
}

/* "'text'" of a program's answer, made one line and cut for a message, into buf. */
static const char *quoted(const char *s, char *buf, size_t size) {
        char e[512];

        snprintf(buf, size, "'%s'", yb_excerpt(s, e, sizeof(e)));
        return buf;
}

/* Runs check k's query once; fills r. */
static int query_one(YbDrillPg *pg, const YbDrillPgCheck *k, YbDrillPgResult *res) {
        _cleanup_free_ char *conninfo = NULL, *dbarg = NULL, *options = NULL, *out = NULL,
                            *err = NULL;
        _cleanup_close_ int out_fd = -EBADF, err_fd = -EBADF;
        DrillCluster *c = cluster_of(pg, k);
        bool timed_out = false;
        char how[64], t[32], shown[600];
        int r, status;
        long long v;
        char *end;

        *res = (YbDrillPgResult){ 0 };
        if (!c || c->child.pid <= 0)
                return restore_drill_pg_fail(
                        &res->error, -ESRCH,
                        "the query of hook %s could not run: its cluster was not started", k->name);
        conninfo = restore_drill_pg_conninfo(c, k->database);
        out_fd = memfd_create("psql-out", MFD_CLOEXEC);
        err_fd = memfd_create("psql-err", MFD_CLOEXEC);
        if (!conninfo || out_fd < 0 || err_fd < 0 ||
            asprintf(&dbarg, "--dbname=%s", conninfo) < 0 ||
            asprintf(&options, "PGOPTIONS=-c statement_timeout=%lld",
                     (long long) (pg->timeout_usec / 1000)) < 0)
                return -ENOMEM;
        const char *args[] = { "-X",  "-q", "-A",     "-t", "-w", "-v", "ON_ERROR_STOP=1",
                               dbarg, "-c", k->query, NULL };
        static char connect_timeout[] = "PGCONNECT_TIMEOUT=" CONNECT_TIMEOUT_SECONDS,
                    path[] = "PATH=/usr/bin:/bin", lc_all[] = "LC_ALL=C.UTF-8";
        char *env[] = { options, connect_timeout, path, lc_all, NULL };
        r = restore_drill_pg_program(c, "psql", args, out_fd, err_fd, env,
                                     pg->timeout_usec + YB_USEC_PER_SEC, &status, &timed_out);
        if (r < 0)
                return restore_drill_pg_fail(&res->error, r,
                                             "the query of hook %s could not run: psql: %s",
                                             k->name, strerror(-r));
        out = yb_pg_output_read(out_fd);
        err = yb_pg_output_read(err_fd);
        if (!out || !err)
                return -ENOMEM;
        if (timed_out)
                return restore_drill_pg_fail(
                        &res->error, -ETIMEDOUT,
                        "the query of hook %s in database %s did not answer within "
                        "drill.timeout (%s)",
                        k->name, k->database, timeout_text(pg, t));
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return restore_drill_pg_fail(
                        &res->error, -EIO,
                        "the query of hook %s in database %s of %s failed: psql %s and said: "
                        "%s",
                        k->name, k->database, c->label, yb_pg_status_text(status, how),
                        quoted(streq(err, "(nothing)") ? out : err, shown, sizeof(shown)));
        errno = 0;
        v = strtoll(out, &end, 10);
        if (streq(out, "(nothing)"))
                return restore_drill_pg_fail(
                        &res->error, -EBADMSG,
                        "the query of hook %s in database %s answered nothing (no row, or "
                        "NULL), not one integer",
                        k->name, k->database);
        if (errno != 0 || end == out || *end || strspn(out, "-0123456789") != strlen(out))
                return restore_drill_pg_fail(
                        &res->error, -EBADMSG,
                        "the query of hook %s in database %s answered %s, not one integer "
                        "(one row, one column)",
                        k->name, k->database, quoted(out, shown, sizeof(shown)));
        res->has_value = true;
        res->value = v;
        res->ok = v >= k->min;
        if (!res->ok)
                return restore_drill_pg_fail(
                        &res->error, 0,
                        "the query of hook %s in database %s answered %lld, less than its "
                        "min %lld",
                        k->name, k->database, v, (long long) k->min);
        return 0;
}

int yb_drill_pg_query(YbDrillPg *pg, const YbDrillPgCheck *checks, size_t n,
                      YbDrillPgResult *results, char **ret_error) {
        int failed = 0;

        *ret_error = NULL;
        if (!pg || pg->n_clusters == 0)
                return restore_drill_pg_fail(
                        ret_error, -ESRCH,
                        "no PostgreSQL cluster of the drill runs: the queries cannot run");
        for (size_t i = 0; i < n; i++) {
                int r;

                if (pg->stop && *pg->stop) {
                        (void) restore_drill_pg_fail(
                                &results[i].error, -EINTR,
                                "the query of hook %s did not run: the drill was interrupted",
                                checks[i].name);
                        failed++;
                        continue;
                }
                r = query_one(pg, &checks[i], &results[i]);

                if (r == -ENOMEM && !results[i].error)
                        return restore_drill_pg_fail(ret_error, r, "out of memory");
                failed += !results[i].ok;
        }
        return failed;
}

int yb_drill_pg_env(const YbDrillPg *pg, char ***env, size_t *n_env) {
        const DrillCluster *c;
        char *add[6] = { 0 };
        char **e;
        int r = 0;

        if (!pg || pg->n_clusters == 0 || pg->clusters[0].child.pid <= 0)
                return 0;
        c = &pg->clusters[0];
        if (asprintf(&add[0], "PGHOST=%s", c->dir) < 0 ||
            asprintf(&add[1], "PGPORT=%d", c->port) < 0 ||
            asprintf(&add[2], "PGUSER=%s", c->user) < 0 ||
            asprintf(&add[3], "YUNBAK_DRILL_PGHOST=%s", c->dir) < 0 ||
            asprintf(&add[4], "YUNBAK_DRILL_PGPORT=%d", c->port) < 0 ||
            asprintf(&add[5], "YUNBAK_DRILL_PGUSER=%s", c->user) < 0)
                r = -ENOMEM;
        e = r < 0 ? NULL : reallocarray(*env, *n_env + ELEMENTSOF(add) + 1, sizeof(char *));
        if (!e) {
                for (size_t i = 0; i < ELEMENTSOF(add); i++)
                        free(add[i]);
                return -ENOMEM;
        }
        for (size_t i = 0; i < ELEMENTSOF(add); i++)
                e[(*n_env)++] = add[i];
        e[*n_env] = NULL;
        *env = e;
        return 0;
}

int yb_drill_pg_describe(const YbDrillPg *pg, char **ret) {
        YbBuf b = YB_BUF_INIT;
        int r = 0;

        for (size_t i = 0; pg && r >= 0 && i < pg->n_clusters; i++) {
                const DrillCluster *c = &pg->clusters[i];

                if (c->child.pid <= 0)
                        continue;
                r = yb_buf_printf(&b,
                                  "%s%s: PostgreSQL %s (%s) as user %s, on 127.0.0.1 port %d and "
                                  "a socket in %s",
                                  b.size ? "; " : "", c->label, c->major, c->bindir, c->user,
                                  c->port, c->dir);
        }
        if (r >= 0)
                r = yb_buf_append(&b, "", 1);
        if (r < 0) {
                yb_buf_done(&b);
                return -ENOMEM;
        }
        *ret = (char *) b.data;
        return 0;
}

YbDrillPg *yb_drill_pg_stop(YbDrillPg *pg) {
        if (!pg)
                return NULL;
        for (size_t i = 0; i < pg->n_clusters; i++) {
                DrillCluster *c = &pg->clusters[i];

                restore_drill_pg_cluster_stop(c);
                /* its sockets, settings and (for the dumps) data directory; the logs stay */
                if (c->dir)
                        (void) yb_rm_rf_at(AT_FDCWD, c->dir);
                restore_drill_pg_cluster_done(c);
        }
        free(pg->clusters);
        free(pg->sandbox);
        free(pg->dir);
        free(pg);
        return NULL;
}

void yb_drill_pg_result_done(YbDrillPgResult *r) {
        free(r->error);
        r->error = NULL;
}
