/* restore/drill-run.c: the drill's engine (restore/drill-run.h): the phases point, restore, verify,
 * postgresql (only with PostgreSQL checks) and check, in order, each on its stopwatch, stopping
 * at the first that fails (a point's PostgreSQL base backups are made to recover to its time
 * after verify, as `yunbak restore --at` does: at the start of phase postgresql, else of
 * check); then, whatever happened, the clusters stopped and the sandbox
 * removed unless kept. */
#include "restore/drill-run.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "restore/pg-restore.h"

const char *yb_drill_phase_name(YbDrillPhase p) {
        static const char *const names[_YB_DRILL_PHASE_MAX] = {
                [YB_DRILL_POINT] = "point",   [YB_DRILL_RESTORE] = "restore",
                [YB_DRILL_VERIFY] = "verify", [YB_DRILL_POSTGRESQL] = "postgresql",
                [YB_DRILL_CHECK] = "check",
        };

        return p >= 0 && p < _YB_DRILL_PHASE_MAX ? names[p] : "?";
}

typedef struct Run {
        const YbDrillPlan *plan;
        YbDrillResult *res;
        YbRestoreChain *chain;
        YbDrillPg *pg;
        YbStopwatch sw;
        YbDrillPhaseResult *cur;
} Run;

static bool stopped(const Run *run) {
        return run->plan->stop && *run->plan->stop;
}

static void begin(Run *run, YbDrillPhase p) {
        run->cur = &run->res->phases[run->res->n_phases++];
        *run->cur = (YbDrillPhaseResult){ .phase = p };
        yb_stopwatch_start(&run->sw);
}

/* Ends the phase in hand: ok, or failed with error (taken; NULL: out of memory). A stop that
 * came during the phase fails it as interrupted, whatever it did. Returns ok. */
static bool end(Run *run, bool ok, char *error) {
        YbDrillResult *res = run->res;

        run->cur->ms = yb_stopwatch_ms(&run->sw);
        if (ok && stopped(run)) {
                ok = false;
                free(error);
                error = NULL;
        }
        run->cur->ok = ok;
        if (ok) {
                free(error);
                return true;
        }
        res->failed_phase = (int) run->cur->phase;
        res->interrupted = stopped(run);
        if (res->interrupted) {
                char *e = NULL;

                if (asprintf(&e, "interrupted (by a signal) during the phase %s%s%s",
                             yb_drill_phase_name(run->cur->phase), error ? ": " : "",
                             error ? error : "") < 0)
                        e = NULL;
                free(error);
                error = e;
        }
        res->error = error ? error : strdup("out of memory");
        return false;
}

_printf_(1, 2) static char *text(const char *fmt, ...) {
        va_list ap;
        char *s;

        va_start(ap, fmt);
        if (vasprintf(&s, fmt, ap) < 0)
                s = NULL;
        va_end(ap);
        return s;
}

static const char *point_kind(const YbSnapshotHeader *h) {
        return h->level == YB_LEVEL_SEGMENT ? "segment" : "snapshot";
}

static bool phase_point(Run *run) {
        YbDrillResult *res = run->res;
        const YbSnapshotHeader *h;
        char *error = NULL;
        int r;

        begin(run, YB_DRILL_POINT);
        r = run->plan->pick(run->plan->pick_userdata, &run->chain, &error);
        if (r < 0)
                return end(run, false,
                           error ? error
                                 : text("no point of system '%s' can be restored: %s",
                                        run->plan->system, strerror(-r)));
        free(error);
        h = yb_restore_chain_point(run->chain);
        res->has_point = true;
        snprintf(res->point_id, sizeof(res->point_id), "%s", h->id);
        res->point_level = h->level;
        res->point_seq = h->seq;
        snprintf(res->point_root, sizeof(res->point_root), "%s",
                 yb_restore_chain_root(run->chain)->id);
        res->point_time_ns = h->finished_ns;
        res->point_partial = h->partial || yb_restore_chain_root(run->chain)->partial;
        return end(run, true, NULL);
}

typedef struct Reported {
        const YbDrillPlan *plan;
        uint64_t n;
} Reported;

static void report(void *userdata, const char *path, const char *problem) {
        Reported *rep = userdata;

        rep->n++;
        if (rep->plan->report)
                rep->plan->report(rep->plan->report_userdata, path, problem);
        else
                log_warning("Not restored in the drill's sandbox: '%s': %s", path, problem);
}

static bool phase_restore(Run *run) {
        const YbSnapshotHeader *h = yb_restore_chain_point(run->chain);
        YbRestoreOptions ro = { .target = run->plan->sandbox, .stop = run->plan->stop };
        YbRestoreStats st = { 0 };
        Reported rep = { .plan = run->plan };
        int r;

        begin(run, YB_DRILL_RESTORE);
        r = yb_restore(run->chain, &ro, report, &rep, &st);
        run->cur->has_counts = true;
        run->cur->files = st.files;
        run->cur->bytes = st.bytes;
        run->res->restore_errors = st.errors;
        if (r == -EINTR && stopped(run))
                return end(run, false, NULL); /* said as interrupted */
        if (r < 0)
                return end(run, false,
                           text("%s %s cannot be restored into the sandbox '%s': %s", point_kind(h),
                                h->id, run->plan->sandbox,
                                r == -EBADMSG ? "a manifest of its chain is damaged or altered "
                                                "(run 'yunbak verify')"
                                              : strerror(-r)));
        return end(run, true, NULL);
}

static bool phase_verify(Run *run) {
        uint64_t files = 0, bytes = 0;
        char *error = NULL;
        int r;

        begin(run, YB_DRILL_VERIFY);
        r = yb_drill_verify(run->chain, run->plan->sandbox, run->plan->stop, &files, &bytes,
                            &error);
        run->cur->has_counts = true;
        run->cur->files = files;
        run->cur->bytes = bytes;
        if (r > 0 && error && run->res->restore_errors > 0) {
                /* Say why they are missing: the restore named each (a damaged store file). */
                char *e = text("%s; the restore could not write %llu %s of the point (each "
                               "named by it: the store's files are damaged or unreadable; run "
                               "'yunbak verify')",
                               error, (unsigned long long) run->res->restore_errors,
                               run->res->restore_errors == 1 ? "entry" : "entries");

                if (e) {
                        free(error);
                        error = e;
                }
        }
        if (r != 0)
                return end(run, false, error);
        return end(run, true, NULL);
}

static void pg_report(void *userdata, const char *path, const char *problem) {
        const char *hook = userdata;

        log_error("PostgreSQL hook '%s': '%s': %s", hook, path, problem);
}

/* Each PostgreSQL base backup the point holds (its chain's newest base of each hook), made to
 * recover to the point's time as `yunbak restore --at` makes it. NULL, or the failure. */
static char *pg_recover(Run *run) {
        const YbDrillStore *src = run->plan->store;
        const YbRestoreChain *c = run->chain;
        const char *sandbox = run->plan->sandbox;

        if (!src || !src->repo || !src->l)
                return NULL;
        for (size_t i = yb_restore_chain_length(c); i-- > 0;) {
                const YbSnapshotHeader *h = yb_restore_chain_at(c, i);

                for (size_t j = 0; j < h->n_pg; j++) {
                        const YbPgBackup *b = &h->pg[j];
                        _cleanup_free_ char *datadir = NULL, *waldir = NULL;
                        YbPgRecovery rc;
                        bool newer = false;
                        struct stat st;
                        int r;

                        /* a newer snapshot of the chain has a newer base of it */
                        for (size_t k = i + 1; k < yb_restore_chain_length(c) && !newer; k++)
                                newer = yb_pg_base_of(yb_restore_chain_at(c, k), b->name);
                        if (newer)
                                continue;
                        if (asprintf(&datadir, "%s/%s/%s/data", sandbox, YB_PG_DIR, b->name) < 0 ||
                            asprintf(&waldir, "%s/%s/%s/wal", sandbox, YB_PG_DIR, b->name) < 0)
                                return text("out of memory");
                        if (stat(datadir, &st) < 0)
                                continue; /* not restored: the PostgreSQL phase says so */
                        r = yb_pg_recover(src->repo, src->l, src->key, h, b, datadir, waldir,
                                          run->res->point_time_ns, pg_report, (void *) b->name,
                                          &rc);
                        if (rc.failed == YB_PG_RECOVER_GAP)
                                return text("the stored WAL of PostgreSQL hook '%s' after base "
                                            "backup %s has a gap (%s) before the point's time: "
                                            "its cluster cannot recover to the point; find the "
                                            "missing WAL (yunbak verify --deep)",
                                            b->name, h->id, rc.wal.gap);
                        if (rc.failed == YB_PG_RECOVER_GATHER)
                                return text("the WAL of PostgreSQL hook '%s' after base backup "
                                            "%s cannot be gathered into %s: %s (run 'yunbak "
                                            "verify --deep')",
                                            b->name, h->id, waldir,
                                            r == -EBADMSG ? "damaged or inconsistent (each "
                                                            "problem logged)"
                                                          : strerror(-r));
                        if (r < 0)
                                return text("the recovery settings of PostgreSQL hook '%s' "
                                            "cannot be written in %s: %s",
                                            b->name, datadir,
                                            r == -EINVAL ? "the sandbox's path holds a "
                                                           "character (quote, $, backslash, "
                                                           "newline) restore_command cannot "
                                                           "quote; give another --sandbox"
                                                         : strerror(-r));
                }
        }
        return NULL;
}

static bool phase_postgresql(Run *run) {
        char *error = NULL;
        int r;

        begin(run, YB_DRILL_POSTGRESQL);
        error = pg_recover(run);
        if (error)
                return end(run, false, error);
        r = yb_drill_pg_start_within(run->plan->sandbox, run->plan->pg, run->plan->n_pg,
                                     run->plan->check_timeout_usec, &run->pg, &error);
        if (r < 0)
                return end(run, false,
                           error ? error
                                 : text("PostgreSQL cannot be started in the sandbox '%s': %s",
                                        run->plan->sandbox, strerror(-r)));
        free(error);
        return end(run, true, NULL);
}

/* "NAME=VALUE" appended to *v (NULL-terminated). */
_printf_(3, 4) static int env_add(char ***v, size_t *n, const char *fmt, ...) {
        char **p = reallocarray(*v, *n + 2, sizeof(char *));
        va_list ap;
        int k;

        if (!p)
                return -ENOMEM;
        *v = p;
        va_start(ap, fmt);
        k = vasprintf(&p[*n], fmt, ap);
        va_end(ap);
        if (k < 0)
                return -ENOMEM;
        p[++*n] = NULL;
        return 0;
}

static void env_free(char **v) {
        for (size_t i = 0; v && v[i]; i++)
                free(v[i]);
        free(v);
}

/* The PostgreSQL queries: a failed one fails the phase, naming it. */
static char *pg_queries(Run *run) {
        const YbDrillPlan *p = run->plan;
        char *error = NULL;
        int r;

        run->res->pg = calloc(p->n_pg, sizeof(YbDrillPgResult));
        if (!run->res->pg)
                return text("out of memory");
        run->res->n_pg = p->n_pg;
        r = yb_drill_pg_query(run->pg, p->pg, p->n_pg, run->res->pg, &error);
        if (r < 0)
                return error ? error
                             : text("the PostgreSQL checks could not run: %s", strerror(-r));
        free(error);
        for (size_t i = 0; i < p->n_pg && r > 0; i++) {
                const YbDrillPgResult *q = &run->res->pg[i];

                if (q->ok)
                        continue;
                if (q->has_value)
                        return text("the PostgreSQL check '%s' (database '%s': %s) answered "
                                    "%lld, under its minimum %lld",
                                    p->pg[i].name, p->pg[i].database, p->pg[i].query,
                                    (long long) q->value, (long long) p->pg[i].min);
                return text("the PostgreSQL check '%s' (database '%s': %s) failed: %s",
                            p->pg[i].name, p->pg[i].database, p->pg[i].query,
                            q->error ? q->error : "no value");
        }
        return NULL;
}

/* The check command's variables (docs/drills.md), and PostgreSQL's. */
static int check_env(Run *run, char ***ret) {
        char **v = NULL, when[32];
        size_t n = 0;
        int r;

        yb_drill_time_text(run->res->point_time_ns, when);
        r = env_add(&v, &n, "YUNBAK_DRILL_SANDBOX=%s", run->plan->sandbox);
        if (r >= 0)
                r = env_add(&v, &n, "YUNBAK_DRILL_SYSTEM=%s", run->plan->system);
        if (r >= 0)
                r = env_add(&v, &n, "YUNBAK_DRILL_TIER=%d", run->plan->tier);
        if (r >= 0)
                r = env_add(&v, &n, "YUNBAK_DRILL_POINT=%s", run->res->point_id);
        if (r >= 0)
                r = env_add(&v, &n, "YUNBAK_DRILL_POINT_TIME=%s", when);
        if (r >= 0)
                r = env_add(&v, &n, "YUNBAK_DRILL_POINT_EPOCH=%lld",
                            (long long) (run->res->point_time_ns / YB_NSEC_PER_SEC));
        if (r >= 0 && run->pg)
                r = yb_drill_pg_env(run->pg, &v, &n);
        if (r < 0) {
                env_free(v);
                return r;
        }
        *ret = v;
        return 0;
}

static char *check_failure(const YbDrillPlan *p, const YbDrillCheckResult *c) {
        long long secs = p->check_timeout_usec / YB_USEC_PER_SEC;

        if (c->timed_out)
                return text("the check command outlived its timeout of %lld s and was stopped "
                            "(in the sandbox '%s')",
                            secs, p->sandbox);
        if (!c->exited)
                return text("the check command was killed by signal %d (%s) (in the sandbox "
                            "'%s')",
                            c->signal, strsignal(c->signal), p->sandbox);
        return text("the check command exited with status %d (in the sandbox '%s'); its output "
                    "is in the record",
                    c->exit_code, p->sandbox);
}

static bool phase_check(Run *run) {
        const YbDrillPlan *p = run->plan;
        char **env = NULL, *error = NULL;
        struct stat before, after;
        bool gone;
        int r;

        begin(run, YB_DRILL_CHECK);
        if (p->n_pg == 0) {
                /* no cluster started: the check command may start one, recovered as restored */
                error = pg_recover(run);
                if (error)
                        return end(run, false, error);
        }
        if (p->n_pg > 0) {
                error = pg_queries(run);
                if (error)
                        return end(run, false, error);
        }
        if (!p->check)
                return end(run, true, NULL);
        if (lstat(p->sandbox, &before) < 0)
                return end(
                        run, false,
                        text("the drill's sandbox '%s' is gone before the check: %m", p->sandbox));
        r = check_env(run, &env);
        if (r < 0)
                return end(run, false, NULL);
        r = yb_drill_check_run(p->check, p->sandbox, env, p->check_timeout_usec, p->stop,
                               &run->res->check);
        env_free(env);
        if (r < 0)
                return end(run, false,
                           text("the check command cannot be started in the sandbox '%s': %s",
                                p->sandbox, strerror(-r)));
        if (!run->res->check.exited || run->res->check.exit_code != 0)
                return end(run, false, check_failure(p, &run->res->check));
        /* A check that removed what it was to prove proved nothing, whatever it exited with. */
        gone = lstat(p->sandbox, &after) < 0;
        if (gone || after.st_dev != before.st_dev || after.st_ino != before.st_ino)
                return end(run, false,
                           text("the check command removed the sandbox '%s'%s, though it "
                                "exited 0: a check must prove that the restored data works and "
                                "leave it in place; correct drill.check in the policy (it may "
                                "work in the sandbox, never remove or replace it)",
                                p->sandbox, gone ? "" : " and put another in its place"));
        return end(run, true, NULL);
}

int yb_drill_run(const YbDrillPlan *plan, YbDrillResult *ret) {
        Run run = { .plan = plan, .res = ret };
        bool ok;
        int r;

        *ret = (YbDrillResult){ .failed_phase = -1 };
        ok = phase_point(&run);
        ok = ok && phase_restore(&run);
        ok = ok && phase_verify(&run);
        ok = ok && (plan->n_pg == 0 || phase_postgresql(&run));
        ok = ok && phase_check(&run);
        ret->passed = ok;
        if (ret->error)
                yb_drill_text_clean(ret->error, YB_DRILL_ERROR_MAX);
        run.pg = yb_drill_pg_stop(run.pg);
        yb_restore_chain_free(run.chain);
        ret->sandbox_kept = true;
        if (!plan->keep) {
                r = yb_rm_rf_at(AT_FDCWD, plan->sandbox);
                if (r == -EXDEV)
                        log_error("Cannot remove the drill's sandbox '%s' in full: a file system "
                                  "is mounted in it, and nothing behind a mount point is removed. "
                                  "It holds the restored data in the clear: unmount what is "
                                  "mounted there (findmnt -R '%s') and remove it by hand.",
                                  plan->sandbox, plan->sandbox);
                else if (r < 0)
                        log_error_errno(r,
                                        "Cannot remove the drill's sandbox '%s': %m. It holds "
                                        "the restored data in the clear: remove it by hand.",
                                        plan->sandbox);
                else
                        ret->sandbox_kept = false;
        }
        return 0;
}

void yb_drill_result_done(YbDrillResult *r) {
        free(r->error);
        yb_drill_check_result_done(&r->check);
        for (size_t i = 0; r->pg && i < r->n_pg; i++)
                yb_drill_pg_result_done(&r->pg[i]);
        free(r->pg);
        *r = (YbDrillResult){ .failed_phase = -1 };
}
