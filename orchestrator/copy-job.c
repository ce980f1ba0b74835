/* orchestrator/copy-job.c: one tier-3 copy job (orchestrator/copy-job.h). The stores are opened
 * with what yunbakd.yaml says of them (ssh_key, known_hosts, s3, bandwidth, windows); the copy
 * engine (core/repo/copy.h) resumes what an earlier job left at the destination, so a job that was
 * killed, cut or paused costs only the bytes not yet sent. Retention off-site runs after a copy
 * that succeeded, and never removes the newest copy or anything it is built on. */
#include "orchestrator/copy-job.h"

#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/store/store-options.h"
#include "core/store/store.h"
#include "orchestrator/job-end.h"
#include "orchestrator/job-snapshot.h"
#include "orchestrator/job-spec.h"
#include "policies/retention-apply.h"

/* What the copy needs, copied under the lock so that a reload cannot pull it away. */
typedef struct Spec {
        char *from_name, *from_url, *from_key, *from_kh;
        char *to_name, *to_url, *to_key, *to_kh;
        YbS3Options from_s3, to_s3; /* an s3:// store's options (owned) */
        uint64_t rate_bps;
        YbStoreWindow *windows;
        size_t n_windows;
        YbRetention retention;
        int64_t lock_until_usec;
        YbNames quarantined; /* tier-1 snapshots the catalog sets aside: never copied as newest */
} Spec;

static void spec_done(Spec *s) {
        free(s->from_name);
        free(s->from_url);
        free(s->from_key);
        free(s->from_kh);
        free(s->to_name);
        free(s->to_url);
        free(s->to_key);
        free(s->to_kh);
        yb_s3_options_done(&s->from_s3);
        yb_s3_options_done(&s->to_s3);
        for (size_t i = 0; i < s->n_windows; i++)
                free(s->windows[i].zone);
        free(s->windows);
        yb_names_done(&s->quarantined);
}

static char *dup_or_null(const char *s, bool *oom) {
        char *c = s ? strdup(s) : NULL;

        if (s && !c)
                *oom = true;
        return c;
}

/* Under lock. -ENOENT with why in o->error when the system, its tier 3 or a store is gone. */
static int spec_make(YbDaemon *d, const char *system, Spec *s, YbCopyOutcome *o) {
        YbSystem *sys = yb_daemon_system(d, system);
        const YbConfigStore *from, *to;
        bool oom = false;
        int r;

        if (!sys) {
                snprintf(o->error, sizeof(o->error),
                         "system '%s' has no policy any more; nothing was copied", system);
                return -ENOENT;
        }
        if (!sys->policy->tier3_store) {
                snprintf(o->error, sizeof(o->error),
                         "the policy of system '%s' (%s) has no tier3 any more; nothing was copied",
                         system, sys->policy->file);
                return -ENOENT;
        }
        from = yb_daemon_config_store(d->config, sys->policy->tier1_store);
        to = yb_daemon_config_store(d->config, sys->policy->tier3_store);
        if (!from || !to) {
                snprintf(o->error, sizeof(o->error),
                         "store '%s' named by %s of %s is not in %s; nothing was copied",
                         from ? sys->policy->tier3_store : sys->policy->tier1_store,
                         from ? "tier3.store" : "tier1.store", sys->policy->file, d->config->file);
                return -ENOENT;
        }
        s->from_name = dup_or_null(from->name, &oom);
        s->from_url = dup_or_null(from->url, &oom);
        s->from_key = dup_or_null(from->ssh_key, &oom);
        s->from_kh = dup_or_null(from->known_hosts, &oom);
        s->to_name = dup_or_null(to->name, &oom);
        s->to_url = dup_or_null(to->url, &oom);
        s->to_key = dup_or_null(to->ssh_key, &oom);
        s->to_kh = dup_or_null(to->known_hosts, &oom);
        if (yb_s3_options_copy(&from->s3, &s->from_s3) < 0 ||
            yb_s3_options_copy(&to->s3, &s->to_s3) < 0)
                oom = true;
        s->rate_bps = to->rate_bps;
        s->retention = sys->policy->tier3_retention;
        s->lock_until_usec = sys->policy->lock_until_usec;
        if (to->n_windows > 0) {
                s->windows = new0(YbStoreWindow, to->n_windows);
                if (!s->windows)
                        return -ENOMEM;
                for (size_t i = 0; i < to->n_windows; i++) {
                        s->windows[i] = to->windows[i];
                        s->windows[i].zone = dup_or_null(to->windows[i].zone, &oom);
                        s->n_windows++;
                }
        }
        if (oom)
                return -ENOMEM;
        r = yb_catalog_query(d->catalog,
                             "SELECT id FROM snapshots WHERE system = ?1 AND store = ?2 AND "
                             "quarantine IS NOT NULL",
                             yb_names_row, &s->quarantined, "tt", system, s->from_name);
        if (r < 0)
                snprintf(o->error, sizeof(o->error),
                         "cannot read the catalog %s for system '%s': %s; nothing was copied",
                         d->config->catalog, system, strerror(-r));
        return r;
}

typedef struct Run {
        YbDaemon *d;
        const YbCopyJob *j;
        const Spec *s;
} Run;

static int check(void *userdata) {
        const Run *run = userdata;
        struct pollfd p = { run->j->cancel_fd, POLLIN, 0 };

        if (poll(&p, 1, 0) > 0)
                return -ECANCELED;
        if (!yb_store_windows_open(run->s->windows, run->s->n_windows, yb_daemon_now(run->d), NULL,
                                   NULL))
                return -EAGAIN;
        return 0;
}

static void progress(void *userdata, const YbCopyProgress *p) {
        const Run *run = userdata;
        YbSystem *sys;

        pthread_mutex_lock(&run->d->lock);
        sys = yb_daemon_system(run->d, run->j->system);
        if (sys && sys->status.tier3.job == run->j->id) {
                sys->status.tier3.progress_sent = p->bytes_sent;
                sys->status.tier3.progress_reused = p->bytes_reused;
                sys->status.tier3.progress_total = p->bytes_total;
        }
        pthread_mutex_unlock(&run->d->lock);
}

static int open_store(const char *url, const char *key, const char *kh, const YbS3Options *s3,
                      const char *name, YbStore **ret, YbCopyOutcome *o) {
        YbStoreOptions opts = { .ssh_key = key, .known_hosts = kh, .s3 = *s3 };
        char err[1024] = "";
        int r = yb_store_open_ex(url, &opts, ret, err, sizeof(err));

        if (r < 0)
                snprintf(o->error, sizeof(o->error), "cannot open store '%s' (%s): %s", name, url,
                         err[0] ? err : strerror(-r));
        return r;
}

/* The ids of the system's committed tier-1 snapshots, oldest first, into *ret; and unless
 * o->snapshot is set, the newest that the catalog does not set aside into it. */
static int list_source(YbStore *from, const char *system, const Spec *s, YbNames *ret,
                       YbCopyOutcome *o) {
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList list = {};
        int r;

        r = yb_repo_open(from, system, &repo);
        if (r >= 0)
                r = yb_repo_list(repo, &list);
        if (r < 0) {
                snprintf(o->error, sizeof(o->error),
                         "cannot list the snapshots of system '%s' in its tier-1 store '%s': %s",
                         system, s->from_name, strerror(-r));
                return r;
        }
        for (size_t i = 0; i < list.n; i++)
                if (yb_names_add(ret, list.items[i]->id) < 0)
                        return -ENOMEM;
        if (o->snapshot[0])
                return 0;
        for (size_t i = list.n; i > 0; i--)
                if (!yb_names_contain(&s->quarantined, list.items[i - 1]->id)) {
                        snprintf(o->snapshot, sizeof(o->snapshot), "%s", list.items[i - 1]->id);
                        return 0;
                }
        snprintf(o->error, sizeof(o->error),
                 "system '%s' has no committed snapshot in its tier-1 store '%s' to copy yet",
                 system, s->from_name);
        return -ENOENT;
}

/* yb_repo_copy_cleanup's keep: a copy left unfinished is kept while its snapshot is in tier 1. */
static bool in_source(void *userdata, const char *id) {
        return yb_names_contain(userdata, id);
}

/* Whether an error of the engine or a store may pass on its own (retried). */
static bool transient(int r) {
        return r == -EBUSY || r == -ETIMEDOUT || r == -EHOSTUNREACH || r == -ECONNREFUSED ||
               r == -ECONNRESET || r == -ENETUNREACH || r == -EPIPE || r == -EIO || r == -ENOSPC ||
               r == -EDQUOT || r == -ECONNABORTED;
}

/* Retention off-site (yb_retention_apply's aside): the newest copy is set aside, and with it
 * everything it is built on, so that neither it nor its chain is ever pruned; so is the
 * snapshot a request asked for, by the copy that made it. */
typedef struct Aside {
        const char *newest;    /* NULL: the rules keep the newest anyway */
        const char *requested; /* NULL: a scheduled copy */
} Aside;

static bool set_aside(void *userdata, const YbSnapshotHeader *h) {
        const Aside *a = userdata;

        return (a->newest && streq(a->newest, h->id)) ||
               (a->requested && streq(a->requested, h->id));
}

typedef struct Pruned {
        YbNames ids;
        YbNames locked; /* kept by Object Lock: "<id> until <date>" */
        char *error;
        size_t error_size;
} Pruned;

static void pruned_one(void *userdata, const char *id, int error, const char *child) {
        Pruned *p = userdata;

        if (error == 0) {
                if (yb_names_add(&p->ids, id) < 0)
                        log_oom(); /* removed; the catalog keeps it until a rebuild */
        } else if (error == -EPERM && child)
                yb_job_locked_add(&p->locked, id, child); /* kept by the store: not a failure */
        else if (!p->error[0])
                snprintf(p->error, p->error_size, "cannot prune snapshot %s off-site: %s%s%s", id,
                         strerror(-error), child ? ", needed by " : "", child ? child : "");
}

/* Prunes the tier-3 repository by tier3's retention (after a copy), then lists what it holds
 * into *ret (for the catalog). */
static int prune_and_list(YbStore *to, const char *system, const Spec *s, int64_t now,
                          const char *requested, YbNames *source, YbSnapshotList *ret,
                          Pruned *pruned) {
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        _cleanup_(yb_retention_outcome_done) YbRetentionOutcome out = {};
        _cleanup_(yb_snapshot_list_done) YbSnapshotList list = {};
        int r;

        r = yb_repo_open(to, system, &repo);
        if (r < 0)
                return r;
        r = yb_repo_lock(repo);
        if (r < 0) {
                snprintf(pruned->error, pruned->error_size,
                         "cannot take the lock of the off-site repository to prune it: %s",
                         strerror(-r));
                return r;
        }
        r = yb_repo_list(repo, &list);
        if (r >= 0 && list.n > 0) {
                YbRetentionRun run = {
                        .rules = &s->retention,
                        .lock_until_usec = s->lock_until_usec,
                        .now_usec = now,
                        .dry_run = true,
                        .report = pruned_one,
                        .report_userdata = pruned,
                };

                /* The rules alone first: when they would let the newest copy go (keep_within
                 * only, and it is older), it is set aside, and its chain with it. Set aside from
                 * the start, it would not count for the rules (keep_last: 1 would keep one more).
                 * A requested snapshot the rules would let go stays until the next copy: the
                 * department asked for it, and the request reads done. */
                Aside aside = {};

                r = yb_retention_apply(repo, &list, &run, &out);
                if (r >= 0 && out.reasons[list.n - 1] == YB_KEEP_NOT)
                        aside.newest = list.items[list.n - 1]->id;
                /* Likewise the snapshot a request asked for, by the copy that made it. */
                for (size_t i = 0; r >= 0 && requested && i < list.n; i++)
                        if (streq(list.items[i]->id, requested) && out.reasons[i] == YB_KEEP_NOT)
                                aside.requested = requested;
                if (aside.newest || aside.requested) {
                        run.aside = set_aside;
                        run.aside_userdata = &aside;
                }
                yb_retention_outcome_done(&out);
                run.dry_run = false;
                if (r >= 0)
                        r = yb_retention_apply(repo, &list, &run, &out);
                if (r >= 0 && out.error != -EPERM)
                        r = out.error;
                if (r < 0 && !pruned->error[0])
                        snprintf(pruned->error, pruned->error_size,
                                 "cannot apply tier3's retention off-site: %s", strerror(-r));
        }
        /* Unfinished copies of snapshots that tier 1 no longer has will never be resumed. */
        r = yb_repo_copy_cleanup(repo, in_source, source);
        if (r < 0)
                log_warning("System '%s': cannot remove copies left unfinished in store '%s' of "
                            "snapshots pruned since: %s. The next copy tries again.",
                            system, s->to_name, strerror(-r));
        yb_snapshot_list_done(&list);
        r = yb_repo_list(repo, ret);
        yb_repo_unlock(repo);
        return r;
}

/* Under lock: each snapshot the tier-3 store holds, and each one pruned, in the catalog. */
static void record(YbDaemon *d, const char *system, const Spec *s, const YbSnapshotList *l,
                   const Pruned *pruned, YbCopyOutcome *o) {
        for (size_t i = 0; i < l->n; i++) {
                const YbSnapshotHeader *h = l->items[i];
                _cleanup_free_ char *agent = yb_job_agent_key_text(h->agent_pk);
                YbCatalogSnapshot snap = yb_job_catalog_snapshot(system, s->to_name, h, agent);
                int r = yb_catalog_put_snapshot(d->catalog, &snap);

                if (r < 0)
                        log_error_errno(r,
                                        "System '%s': cannot record snapshot %s of store '%s' in "
                                        "the catalog: %m",
                                        system, h->id, s->to_name);
                else
                        o->n_recorded++;
        }
        for (size_t i = 0; i < pruned->ids.n; i++) {
                char detail[256];

                (void) yb_catalog_forget_snapshot(d->catalog, system, s->to_name, pruned->ids.v[i]);
                snprintf(detail, sizeof(detail), "%s from store %s (tier3 retention)",
                         pruned->ids.v[i], s->to_name);
                yb_daemon_audit(d, NULL, "snapshot.prune", system, "ok", detail);
                log_info("System '%s': pruned off-site snapshot %s from store '%s' by tier3's "
                         "retention.",
                         system, pruned->ids.v[i], s->to_name);
                o->n_pruned++;
        }
        yb_job_locked_audit(d, "snapshot.prune", system, "off-site snapshot", s->to_name,
                            &pruned->locked);
        if (o->prune_error[0]) {
                log_error("System '%s': store '%s': %s.", system, s->to_name, o->prune_error);
                yb_daemon_audit(d, NULL, "snapshot.prune", system, "failed", o->prune_error);
        }
        if (l->n > 0) {
                YbSystem *sys = yb_daemon_system(d, system);

                if (sys) {
                        const YbSnapshotHeader *h = l->items[l->n - 1];

                        snprintf(sys->status.tier3.newest, sizeof(sys->status.tier3.newest), "%s",
                                 h->id);
                        sys->status.tier3.newest_usec = yb_ns_to_usec(h->finished_ns);
                }
        }
}

/* Under lock: the job's start in the catalog and the audit log; a start that cannot be recorded
 * does not run (it is retried). */
static int record_start(YbDaemon *d, const YbCopyJob *j, const Spec *s, YbCopyOutcome *o) {
        char detail[512];
        int r = yb_jobs_flush_pending(d) > 0 ? d->catalog_error : 0;
        YbSystem *sys = yb_daemon_system(d, j->system);

        if (r >= 0)
                r = yb_catalog_job_start(d->catalog, j->id, yb_daemon_now(d));
        snprintf(detail, sizeof(detail), "job %" PRId64 " %s to store %s attempt %d (%s)", j->id,
                 j->snapshot ? j->snapshot : "newest snapshot", s->to_name, j->attempt, j->trigger);
        if (r >= 0)
                r = yb_daemon_audit(d, NULL, "copy.start", j->system, "ok", detail);
        else
                d->catalog_error = r;
        if (r < 0) {
                snprintf(o->error, sizeof(o->error),
                         "not run: its start cannot be recorded in the catalog %s (%s)",
                         d->config->catalog, strerror(-r));
                o->retry = true;
                return r;
        }
        if (sys) {
                sys->status.tier3.running = true;
                sys->status.tier3.paused_until = 0;
                sys->status.tier3.progress_sent = sys->status.tier3.progress_reused = 0;
                sys->status.tier3.progress_total = 0;
        }
        return 0;
}

void yb_copy_job_run(YbDaemon *d, const YbCopyJob *j, YbCopyOutcome *o) {
        _cleanup_(spec_done) Spec s = {};
        _cleanup_(yb_store_closep) YbStore *from = NULL, *to = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList held = {};
        _cleanup_(yb_names_done) YbNames source = {};
        Pruned pruned = { .error = o->prune_error, .error_size = sizeof(o->prune_error) };
        Run run = { d, j, &s };
        YbCopyOptions opts = { .check = check, .progress = progress, .userdata = &run };
        char err[1536] = "";
        int64_t next_open = INT64_MAX;
        int r;

        o->state = YB_JOB_FAILED;
        /* The snapshot asked for, from the start: a copy that ends paused before it began (its
         * window closed while it waited to run or to retry) is resumed with this one, not the
         * newest (jobs.c). */
        if (j->snapshot)
                snprintf(o->snapshot, sizeof(o->snapshot), "%s", j->snapshot);
        pthread_mutex_lock(&d->lock);
        r = spec_make(d, j->system, &s, o);
        if (r == -ENOMEM)
                snprintf(o->error, sizeof(o->error), "out of memory");
        if (r >= 0 &&
            !yb_store_windows_open(s.windows, s.n_windows, yb_daemon_now(d), &next_open, NULL)) {
                /* Not started: it waits for the next window. */
                pthread_mutex_unlock(&d->lock);
                o->state = YB_JOB_PAUSED;
                o->resume_usec = next_open;
                snprintf(o->error, sizeof(o->error),
                         "not started: store '%s' is outside its windows; the copy waits for the "
                         "next one",
                         s.to_name);
                return;
        }
        if (r >= 0)
                r = record_start(d, j, &s, o);
        pthread_mutex_unlock(&d->lock);
        if (r < 0)
                return;
        opts.rate_bps = s.rate_bps;
        r = open_store(s.from_url, s.from_key, s.from_kh, &s.from_s3, s.from_name, &from, o);
        if (r >= 0)
                r = open_store(s.to_url, s.to_key, s.to_kh, &s.to_s3, s.to_name, &to, o);
        if (r < 0) {
                o->retry = transient(r) || r == -ENOENT;
                return;
        }
        r = list_source(from, j->system, &s, &source, o);
        if (r < 0) {
                o->retry = transient(r);
                return;
        }
        /* Named in the job at once: a copy cut short is resumed with the same snapshot, not a
         * newer one (yb_copies_resume). */
        pthread_mutex_lock(&d->lock);
        (void) yb_catalog_query(d->catalog, "UPDATE jobs SET snapshot = ?2 WHERE id = ?1", NULL,
                                NULL, "It", j->id, o->snapshot);
        pthread_mutex_unlock(&d->lock);

        log_info("Job %" PRId64 ": copying snapshot %s of '%s' from store '%s' to store '%s' "
                 "(attempt %d).",
                 j->id, o->snapshot, j->system, s.from_name, s.to_name, j->attempt);
        r = yb_repo_copy(from, to, j->system, o->snapshot, &opts, &o->stats, err, sizeof(err));
        if (r == -EAGAIN) {
                (void) yb_store_windows_open(s.windows, s.n_windows, yb_daemon_now(d), &next_open,
                                             NULL);
                o->state = YB_JOB_PAUSED;
                o->resume_usec = next_open;
                snprintf(o->error, sizeof(o->error),
                         "paused: the window of store '%s' closed during the copy of snapshot %s; "
                         "the next window resumes it where it stopped",
                         s.to_name, o->snapshot);
                return;
        }
        if (r == -ECANCELED) {
                bool stopping;

                pthread_mutex_lock(&d->lock);
                stopping = d->stopping;
                pthread_mutex_unlock(&d->lock);
                o->state = YB_JOB_CANCELLED;
                snprintf(o->error, sizeof(o->error),
                         "%s during the copy of snapshot %s to store "
                         "'%s'; what was sent stays there and the next copy resumes it",
                         stopping ? "yunbakd stopped" : "cancelled", o->snapshot, s.to_name);
                return;
        }
        if (r < 0) {
                o->retry = transient(r);
                snprintf(o->error, sizeof(o->error),
                         "cannot copy snapshot %s of system '%s' from store '%s' to store '%s': "
                         "%s",
                         o->snapshot, j->system, s.from_name, s.to_name,
                         err[0] ? err : strerror(-r));
                return;
        }
        o->state = YB_JOB_SUCCEEDED;
        r = prune_and_list(to, j->system, &s, yb_daemon_now(d), j->request > 0 ? o->snapshot : NULL,
                           &source, &held, &pruned);
        if (r < 0 && !o->prune_error[0])
                snprintf(o->prune_error, sizeof(o->prune_error),
                         "cannot list the off-site repository after the copy: %s", strerror(-r));
        pthread_mutex_lock(&d->lock);
        record(d, j->system, &s, &held, &pruned, o);
        pthread_mutex_unlock(&d->lock);
        yb_names_done(&pruned.ids);
        yb_names_done(&pruned.locked);
}

void yb_copy_job_ended(YbDaemon *d, const YbCopyJob *j, const YbCopyOutcome *o, int64_t now) {
        YbSystem *sys = yb_daemon_system(d, j->system);
        char detail[3000];

        snprintf(detail, sizeof(detail),
                 "job %" PRId64 " snapshot %s: %llu bytes sent, %llu reused, %llu verified%s%s",
                 j->id, o->snapshot[0] ? o->snapshot : "?",
                 (unsigned long long) o->stats.bytes_sent,
                 (unsigned long long) o->stats.bytes_reused,
                 (unsigned long long) o->stats.bytes_verified, o->error[0] ? ": " : "", o->error);
        if (o->state == YB_JOB_SUCCEEDED) {
                yb_daemon_audit(d, NULL, "copy.done", j->system, "ok", detail);
                log_info("Job %" PRId64 " (%s): copied snapshot %s off-site (%s).", j->id,
                         j->system, o->snapshot, detail);
        } else if (o->state == YB_JOB_PAUSED) {
                yb_daemon_audit(d, NULL, "copy.paused", j->system, "paused", detail);
                log_info("Job %" PRId64 " (%s): %s.", j->id, j->system, o->error);
        } else {
                yb_daemon_audit(d, NULL, "copy.failed", j->system, yb_job_state_to_string(o->state),
                                detail);
                log_warning("Job %" PRId64 " (%s): copy %s: %s", j->id, j->system,
                            yb_job_state_to_string(o->state), o->error);
        }
        if (!sys)
                return;
        YbTier3Status *t = &sys->status.tier3;
        t->running = false;
        t->has_last = true;
        t->last_state = (int) o->state;
        t->last_end_usec = now;
        t->last_sent = o->stats.bytes_sent;
        t->last_reused = o->stats.bytes_reused;
        t->last_verified = o->stats.bytes_verified;
        t->sent_total += o->stats.bytes_sent;
        t->progress_sent = t->progress_reused = t->progress_total = 0;
        snprintf(t->last_error, sizeof(t->last_error), "%.511s", o->error); /* the start */
        t->paused_until = o->state == YB_JOB_PAUSED ? o->resume_usec : 0;
        if (o->state == YB_JOB_SUCCEEDED)
                t->missed_due_usec = 0;
}
