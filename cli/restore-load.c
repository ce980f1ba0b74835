/* yunbak restore --load: a database dump of a snapshot (the file _streams/NAME.pgdump that a
 * postgresql hook in mode dump writes, docs/postgresql.md "Dumps") loaded into a database, so
 * that nobody has to find the dump and run pg_restore by hand.
 *
 * Every database is checked first, with one query through psql: it must answer and be empty (a
 * load into a database that holds objects would fail half way, or mix the two). Then each dump
 * is restored, checked against its hash as any file, into a private directory inside the target
 * (on the target's file system: the dump may be large, and /tmp is often small or in memory),
 * and pg_restore loads it with --exit-on-error, its output kept in a log file beside it. The
 * directory goes once the load ends, also when a signal stops it. PostgreSQL's programs run as
 * children in a session of their own (core/base/spawn.h): no terminal, so they never stop to ask
 * for a password (-w: peer authentication, ~/.pgpass or PGPASSWORD), and a signal to yunbak
 * stops them first.
 *
 * A custom-format dump written to a pipe (as the agent reads pg_dump) has no data offsets in its
 * table of contents. pg_restore 15 still loads it in parallel from a regular file: each worker
 * finds its table's data by skipping from block to block through the file (tests/integration/
 * pg-load.sh shows the workers' items running at once), so --jobs is passed as asked. */
#include "cli/restore-load.h"

#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/spawn.h"
#include "core/base/timeutil.h"
#include "restore/pg-program.h"

#define DUMP_DIR "_streams/"
#define DUMP_SUFFIX ".pgdump"

/* One dump to load. */
typedef struct Load {
        char *name;           /* the hook's name: NAME of _streams/NAME.pgdump */
        const YbEntry *entry; /* its record in the snapshot's manifest */
        const char *conninfo; /* borrowed from the --load option */
        char *database;       /* current_database() once checked */
} Load;

typedef struct Loader {
        YbRestoreChain *chain;
        const YbSnapshotHeader *snap;
        const char *target;
        char *dir; /* the private directory in target */
        int jobs;
        YbManifest *manifest;
        Load *loads;
        size_t n_loads;
        bool json;           /* the summary as JSON on stdout, nothing else there */
        const Load *loading; /* the dump pg_restore is loading, until it has loaded it */
} Loader;

static volatile sig_atomic_t running_pgid, got_signal;
static const int stop_signals[] = { SIGTERM, SIGINT, SIGHUP };

/* The program that runs stops with us: the load ends at the step in hand, then the directory is
 * removed and the signal taken again (load_main). */
static void stop_handler(int sig) {
        pid_t p = running_pgid;

        got_signal = sig;
        if (p > 0)
                (void) kill(-p, SIGTERM);
}

/* The NAME of a manifest path "_streams/NAME.pgdump", or NULL (the caller frees it). */
static char *dump_name(const YbEntry *e) {
        const char *p = e->path;
        size_t n;

        if (e->type != YB_ENTRY_FILE || strncmp(p, DUMP_DIR, strlen(DUMP_DIR)) != 0)
                return NULL;
        p += strlen(DUMP_DIR);
        n = strlen(p);
        if (n <= strlen(DUMP_SUFFIX) || strchr(p, '/') ||
            !streq(p + n - strlen(DUMP_SUFFIX), DUMP_SUFFIX))
                return NULL;
        return strndup(p, n - strlen(DUMP_SUFFIX));
}

/* "a, b and c" of the snapshot's dumps, for messages; NULL when out of memory. */
static char *dump_names(const YbManifest *m) {
        char *s = strdup("");

        for (size_t i = 0; s && i < m->n; i++) {
                _cleanup_free_ char *name = dump_name(&m->entries[i]);
                char *t = NULL;

                if (!name)
                        continue;
                if (asprintf(&t, "%s%s'%s'", s, *s ? ", " : "", name) < 0)
                        t = NULL;
                free(s);
                s = t;
        }
        return s;
}

static size_t dump_count(const YbManifest *m) {
        size_t n = 0;

        for (size_t i = 0; i < m->n; i++) {
                _cleanup_free_ char *name = dump_name(&m->entries[i]);

                n += name != NULL;
        }
        return n;
}

/* The record of dump name, or NULL. */
static const YbEntry *dump_find(const YbManifest *m, const char *name) {
        _cleanup_free_ char *path = NULL;
        const YbEntry *e;

        if (asprintf(&path, DUMP_DIR "%s" DUMP_SUFFIX, name) < 0)
                return NULL;
        e = yb_manifest_find(m, path);
        return e && e->type == YB_ENTRY_FILE ? e : NULL;
}

/* Whether name is a keyword of a libpq connection string: "host=..." is a bare conninfo, not a
 * dump's name, whatever the snapshot holds. */
static bool conninfo_keyword(const char *name) {
        static const char *const words[] = {
                "host",
                "hostaddr",
                "port",
                "dbname",
                "user",
                "password",
                "passfile",
                "service",
                "sslmode",
                "connect_timeout",
                "options",
                "application_name",
                "channel_binding",
                "target_session_attrs",
        };

        for (size_t i = 0; i < ELEMENTSOF(words); i++)
                if (streq(name, words[i]))
                        return true;
        return false;
}

/* Adds the dump of spec ("NAME=CONNINFO" when NAME is a dump of the snapshot, else a bare
 * CONNINFO for its only dump). Returns an exit code. */
static int add_load(Loader *l, const char *spec) {
        const char *eq = strchr(spec, '='), *conninfo = spec;
        _cleanup_free_ char *name = NULL, *names = NULL;
        const YbEntry *e = NULL;
        Load *ld;

        if (eq) {
                name = strndup(spec, (size_t) (eq - spec));
                if (!name)
                        return log_oom(), YB_EXIT_FAILED;
                e = dump_find(l->manifest, name);
                if (e)
                        conninfo = eq + 1;
                else if (conninfo_keyword(name)) {
                        free(name);
                        name = NULL;
                }
        }
        if (!e) {
                size_t n = dump_count(l->manifest);

                names = dump_names(l->manifest);
                if (n != 1) {
                        log_error("Snapshot %s of system '%s' holds %zu database dumps (%s)%s%s%s: "
                                  "say which to load with --load NAME=CONNINFO, once for each.",
                                  l->snap->id, l->snap->system, n, names ? names : "?",
                                  name ? " and none named '" : "", name ? name : "",
                                  name ? "'" : "");
                        return YB_EXIT_USAGE;
                }
                free(name);
                name = NULL;
                for (size_t i = 0; i < l->manifest->n && !name; i++)
                        name = dump_name(&l->manifest->entries[i]);
                if (!name)
                        return log_oom(), YB_EXIT_FAILED;
                e = dump_find(l->manifest, name);
        }
        for (size_t i = 0; i < l->n_loads; i++)
                if (streq(l->loads[i].name, name)) {
                        log_error(
                                "The dump '%s' of snapshot %s is named by --load twice: give each "
                                "dump one database.",
                                e->path, l->snap->id);
                        return YB_EXIT_USAGE;
                }
        if (!*conninfo) {
                log_error("--load for the dump '%s' gives no connection string: give the database "
                          "as libpq takes it (such as \"dbname=hr_restored\" or "
                          "\"host=/run/postgresql dbname=hr_restored\").",
                          e->path);
                return YB_EXIT_USAGE;
        }
        ld = reallocarray(l->loads, l->n_loads + 1, sizeof(Load));
        if (!ld || !e)
                return log_oom(), YB_EXIT_FAILED;
        l->loads = ld;
        l->loads[l->n_loads++] = (Load){ .name = TAKE_PTR(name), .entry = e, .conninfo = conninfo };
        return YB_EXIT_OK;
}

/* Runs argv (a PostgreSQL program, looked up in PATH) with its output into out_fd; a signal to
 * us stops it (stop_handler). Returns as yb_pg_run. */
static int run_program(const char *const *argv, int out_fd, int *ret_status) {
        YbPgRun a = {
                .argv = argv, .out_fd = out_fd, .announce_pid = &running_pgid, .stop = &got_signal
        };

        return yb_pg_run(&a, ret_status, NULL);
}

/* A program that could not be started: says so for the dump. Returns an exit code. */
static int start_failed(const char *program, const Load *ld, int r) {
        if (r == -ENOENT)
                log_error("Cannot load the dump '%s': %s is not installed (Debian package "
                          "postgresql-client), or not in PATH.",
                          ld->entry->path, program);
        else
                log_error("Cannot load the dump '%s': cannot run %s: %s", ld->entry->path, program,
                          strerror(-r));
        return YB_EXIT_FAILED;
}

/* The query that tells whether a database is empty: what a new database made from template0
 * does not hold (relations, schemas, functions, types, large objects, extensions), counted, then
 * its name (last: a name may hold any character). */
static const char empty_query[] =
        "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'), "
        "(SELECT count(*) FROM pg_namespace WHERE nspname NOT IN ('public', "
        "'information_schema') AND nspname !~ '^pg_'), "
        "(SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
        "WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_'), "
        "(SELECT count(*) FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
        "WHERE n.nspname <> 'information_schema' AND n.nspname !~ '^pg_' AND t.typrelid = 0 "
        "AND t.typcategory <> 'A'), "
        "(SELECT count(*) FROM pg_largeobject_metadata), "
        "(SELECT count(*) FROM pg_extension WHERE extname <> 'plpgsql'), current_database()";

/* Appends ", N what" to s when n > 0. */
static void say_count(char *s, size_t size, unsigned long long n, const char *one,
                      const char *many) {
        size_t len = strlen(s);

        if (n > 0)
                snprintf(s + len, size - len, "%s%llu %s", len ? ", " : "", n, n == 1 ? one : many);
}

/* Connects to ld's database and checks that it is empty; ld->database gets its name. Returns an
 * exit code, having said what is wrong and what to do. */
static int check_database(Loader *l, Load *ld) {
        _cleanup_free_ char *dbarg = NULL, *out = NULL;
        _cleanup_close_ int fd = -EBADF;
        unsigned long long n[6];
        char what[512] = "", how[64];
        const char *p;
        int r, status;

        if (asprintf(&dbarg, "--dbname=%s", ld->conninfo) < 0)
                return log_oom(), YB_EXIT_FAILED;
        const char *argv[] = { "psql",      "-X", "-q",  "-A",
                               "-t",        "-w", "-v",  "ON_ERROR_STOP=1",
                               "-F",        "|",  dbarg, "-c",
                               empty_query, NULL };

        fd = open(l->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (fd < 0) {
                log_error_errno(errno, "Cannot make a file in '%s': %m", l->dir);
                return YB_EXIT_FAILED;
        }
        r = run_program(argv, fd, &status);
        if (r < 0)
                return start_failed("psql", ld, r);
        out = yb_pg_output_read(fd);
        if (!out) {
                log_error("Cannot read what psql said, in '%s'.", l->dir);
                return YB_EXIT_FAILED;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                log_error("Cannot load the dump '%s': the database given for it (--load) cannot "
                          "be queried; psql %s and said:\n%s\n"
                          "The database must exist and be empty: create it with 'createdb -T "
                          "template0 NAME' (as a role that may own it), and give a connection "
                          "string that reaches it as libpq takes it.",
                          ld->entry->path, yb_pg_status_text(status, how), out);
                return YB_EXIT_FAILED;
        }
        p = out;
        for (size_t i = 0; i < 6; i++) {
                char *end;

                errno = 0;
                n[i] = strtoull(p, &end, 10);
                if (errno || end == p || *end != '|')
                        break;
                p = end + 1;
                if (i == 5) {
                        ld->database = strdup(p);
                        if (!ld->database)
                                return log_oom(), YB_EXIT_FAILED;
                }
        }
        if (!ld->database) {
                log_error("Cannot load the dump '%s': psql answered the check of the database "
                          "with '%s', not the counts asked for.",
                          ld->entry->path, out);
                return YB_EXIT_FAILED;
        }
        say_count(what, sizeof(what), n[0], "relation",
                  "relations (tables, indexes, sequences, views)");
        say_count(what, sizeof(what), n[1], "schema", "schemas");
        say_count(what, sizeof(what), n[2], "function", "functions");
        say_count(what, sizeof(what), n[3], "type", "types");
        say_count(what, sizeof(what), n[4], "large object", "large objects");
        say_count(what, sizeof(what), n[5], "extension", "extensions");
        if (*what) {
                log_error("Cannot load the dump '%s' into database '%s': it is not empty (it holds "
                          "%s). A dump is loaded only into an empty database, so that the result "
                          "is exactly what was dumped: create one with 'createdb -T template0 "
                          "NAME' and give it to --load, or empty this one ('DROP DATABASE' and "
                          "'createdb -T template0' again).",
                          ld->entry->path, ld->database, what);
                return YB_EXIT_FAILED;
        }
        return YB_EXIT_OK;
}

static void report(void *userdata, const char *path, const char *problem) {
        log_error("Not restored: '%s': %s", path, problem);
}

/* Restores ld's dump into the private directory; *ret_path gets its path there. Returns an exit
 * code. */
static int restore_dump(Loader *l, const Load *ld, char **ret_path) {
        char *paths[] = { ld->entry->path };
        YbRestoreOptions ro = { .target = l->dir, .paths = paths, .n_paths = 1 };
        YbRestoreStats st = { 0 };
        int r;

        r = yb_restore(l->chain, &ro, report, NULL, &st);
        if (r != 0) {
                if (r < 0)
                        log_error("Cannot restore the dump '%s' of snapshot %s into '%s': %s",
                                  ld->entry->path, l->snap->id, l->dir,
                                  r == -EBADMSG ? "a manifest of its chain is damaged or altered; "
                                                  "run 'yunbak verify'"
                                                : strerror(-r));
                else
                        log_error(
                                "The dump '%s' of snapshot %s could not be restored (said above); "
                                "nothing was loaded into database '%s'.",
                                ld->entry->path, l->snap->id, ld->database);
                return st.damaged || r == -EBADMSG ? YB_EXIT_DAMAGED
                       : r < 0                     ? yb_exit_code_from_errno(r)
                                                   : YB_EXIT_FAILED;
        }
        if (asprintf(ret_path, "%s/%s", l->dir, ld->entry->path) < 0)
                return log_oom(), YB_EXIT_FAILED;
        return YB_EXIT_OK;
}

/* Loads one dump with pg_restore; its output goes to target/NAME.pg_restore.log. Returns an exit
 * code; o gets what was loaded. */
static int load_one(Loader *l, Load *ld, json_t *o) {
        _cleanup_free_ char *file = NULL, *log_path = NULL, *out = NULL;
        _cleanup_close_ int fd = -EBADF;
        char b[32], when[32], how[64];
        double seconds;
        int64_t t0;
        int r, status, code;

        yb_time_format_iso(ld->entry->mtime_sec * YB_NSEC_PER_SEC + ld->entry->mtime_nsec, when);
        if (!l->json) {
                printf("Loading the dump '%s' (%s, dumped at %s) into database '%s' with %d "
                       "pg_restore %s.\n",
                       ld->entry->path, yb_format_bytes(ld->entry->size, b), when, ld->database,
                       l->jobs, l->jobs == 1 ? "job" : "jobs");
                fflush(stdout);
        }
        code = restore_dump(l, ld, &file);
        if (code != YB_EXIT_OK)
                return code;
        if (got_signal)
                return YB_EXIT_FAILED; /* said by the caller */
        if (asprintf(&log_path, "%s/%s.pg_restore.log", l->target, ld->name) < 0)
                return log_oom(), YB_EXIT_FAILED;
        fd = open(log_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                log_error_errno(errno, "Cannot create the log file '%s': %m", log_path);
                return YB_EXIT_FAILED;
        }
        YbPgRun run = { .out_fd = fd, .announce_pid = &running_pgid, .stop = &got_signal };
        t0 = yb_monotonic_usec();
        l->loading = ld;
        r = yb_pg_restore_file(NULL, file, ld->conninfo, l->jobs, 0, &run, &status, NULL);
        (void) unlink(file); /* the plaintext dump goes as soon as it has served */
        if (r < 0) {
                l->loading = NULL;
                return start_failed("pg_restore", ld, r);
        }
        if (got_signal)
                return YB_EXIT_FAILED; /* said by the caller */
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                out = yb_pg_output_read(fd);
                log_error("pg_restore could not load the dump '%s' of snapshot %s into database "
                          "'%s': it %s and said:\n%s\n"
                          "The database holds what was loaded before the error: drop it and "
                          "create it again (createdb -T template0) before another try. "
                          "pg_restore's whole output is in '%s'.",
                          ld->entry->path, l->snap->id, ld->database,
                          yb_pg_status_text(status, how), out ? out : "(its output cannot be read)",
                          log_path);
                return YB_EXIT_FAILED;
        }
        l->loading = NULL;
        seconds = (double) (yb_monotonic_usec() - t0) / YB_USEC_PER_SEC;
        if (!l->json)
                printf("Loaded the dump '%s' (%s) of snapshot %s into database '%s' with %d "
                       "pg_restore "
                       "%s in %.2f s; pg_restore's output is in %s.\n",
                       ld->entry->path, yb_format_bytes(ld->entry->size, b), l->snap->id,
                       ld->database, l->jobs, l->jobs == 1 ? "job" : "jobs", seconds, log_path);
        json_array_append_new(o, json_pack("{s:s, s:s, s:I, s:i, s:f, s:s}", "dump",
                                           ld->entry->path, "database", ld->database, "bytes",
                                           (json_int_t) ld->entry->size, "jobs", l->jobs, "seconds",
                                           seconds, "log", log_path));
        return YB_EXIT_OK;
}

/* Everything after the signal handlers are in place; the private directory is removed by the
 * caller. */
static int load_main(Loader *l, YbRepo *repo, const YbSecretKey *key, const CliLoad *lo,
                     json_t *loaded) {
        const YbSnapshotHeader *root = yb_restore_chain_root(l->chain);
        _cleanup_free_ char *tmpl = NULL;
        int r, code;

        /* Streams are in the chain's root: a tier-2 segment never holds one. */
        r = yb_repo_load_manifest(repo, root, key, &l->manifest);
        if (r < 0) {
                log_error("Cannot read the manifest of snapshot %s: %s. Run 'yunbak verify'.",
                          root->id, r == -EBADMSG ? "it is damaged or altered" : strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        /* A dump whose command failed under on_failure: continue is among what it lacks. */
        code = cli_say_partial(repo, root, key, NULL);
        if (code != 0)
                return code;
        if (dump_count(l->manifest) == 0) {
                log_error(
                        "Snapshot %s of system '%s' holds no database dump (_streams/NAME.pgdump, "
                        "from a postgresql hook in mode dump): there is nothing to load. "
                        "Restore it without --load, or give --snapshot of a backup that ran "
                        "the hook.",
                        root->id, root->system);
                return YB_EXIT_FAILED;
        }
        for (size_t i = 0; i < lo->n_specs; i++) {
                code = add_load(l, lo->specs[i]);
                if (code != YB_EXIT_OK)
                        return code;
        }
        r = yb_mkdir_p_at(AT_FDCWD, l->target, 0700);
        if (r < 0) {
                log_error_errno(r, "Cannot create the target directory '%s': %m", l->target);
                return yb_exit_code_from_errno(r);
        }
        if (asprintf(&tmpl, "%s/.yunbak-load-XXXXXX", l->target) < 0)
                return log_oom(), YB_EXIT_FAILED;
        l->dir = mkdtemp(tmpl);
        if (!l->dir) {
                r = negative_errno();
                log_error_errno(r, "Cannot create a private directory in '%s': %m", l->target);
                return yb_exit_code_from_errno(r);
        }
        tmpl = NULL; /* now l->dir */
        /* Every database first: nothing is loaded when one of them is not ready. */
        for (size_t i = 0; i < l->n_loads && !got_signal; i++) {
                code = check_database(l, &l->loads[i]);
                if (code != YB_EXIT_OK)
                        return code;
        }
        for (size_t i = 0; i < l->n_loads && !got_signal; i++) {
                code = load_one(l, &l->loads[i], loaded);
                if (code != YB_EXIT_OK)
                        return code;
        }
        return YB_EXIT_OK;
}

int cli_restore_load(YbRepo *repo, YbRestoreChain *chain, const YbSecretKey *key,
                     const char *target, const CliLoad *lo, bool json) {
        Loader l = { .chain = chain,
                     .snap = yb_restore_chain_root(chain),
                     .target = target,
                     .jobs = lo->jobs > 0 ? lo->jobs : yb_pg_restore_jobs_default(),
                     .json = json };
        struct sigaction stop = { .sa_handler = stop_handler, .sa_flags = SA_RESTART },
                         old[ELEMENTSOF(stop_signals)];
        json_t *loaded = json_array();
        int code, sig;

        if (!loaded)
                return log_oom(), YB_EXIT_FAILED;
        got_signal = 0;
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                (void) sigaction(stop_signals[i], &stop, &old[i]);
        code = load_main(&l, repo, key, lo, loaded);
        if (l.dir) {
                int r = yb_rm_rf_at(AT_FDCWD, l.dir);

                if (r < 0)
                        log_error_errno(r,
                                        "Cannot remove the private directory '%s', which may "
                                        "hold a dump in the clear: %m. Remove it by hand.",
                                        l.dir);
        }
        sig = got_signal;
        for (size_t i = 0; i < ELEMENTSOF(stop_signals); i++)
                (void) sigaction(stop_signals[i], &old[i], NULL);
        if (sig)
                log_error("Stopped by signal %d (%s): %s%s%s The private directory in '%s' was "
                          "removed.",
                          sig, strsignal(sig),
                          l.loading ? "pg_restore was stopped; database '"
                                    : "the load stopped before pg_restore ran for the next dump.",
                          l.loading ? l.loading->database : "",
                          l.loading ? "' holds part of its dump: drop it and create it again "
                                      "(createdb -T template0) before another try."
                                    : "",
                          target);
        if (code == YB_EXIT_OK && json) {
                json_t *o = json_pack("{s:s, s:s, s:O}", "snapshot", l.snap->id, "target", target,
                                      "loaded", loaded);

                json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(o);
        }
        json_decref(loaded);
        for (size_t i = 0; i < l.n_loads; i++) {
                free(l.loads[i].name);
                free(l.loads[i].database);
        }
        free(l.loads);
        free(l.dir);
        yb_manifest_free(l.manifest);
        if (sig) {
                (void) signal(sig, SIG_DFL);
                (void) raise(sig);
                return YB_EXIT_FAILED;
        }
        return code;
}
