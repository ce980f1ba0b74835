/* orchestrator/replicator-prune.c: tier2.retention applied to the tier-2 store by whole chains
 * (orchestrator/replicators.h), in a thread of its own after each checkpoint and once a day.
 *
 * A chain is a root under snapshots/ (a full, or a checkpoint differential on it) and its
 * segments under segments/<root>/; it can restore any time from its root's to the next root's.
 * The rules are planned over the roots (policies/retention-apply.h). On top of them a chain stays
 * while the next root is newer than the start of keep_within (its segments still hold kept
 * times), the newest chain always stays, and a full stays while a kept checkpoint is built on it.
 * A chain that goes loses its segments first (yb_segments_detach_chain: one rename), then its
 * root (yb_repo_prune_many), under the repository's lock; the replicator takes that lock for each
 * commit, so a busy lock is tried again for a while. The detached segments (a day's chain is tens
 * of thousands of files) are removed after the lock is let go, so that the replicator never
 * waits for them. On an S3 store with Object Lock a chain whose newest segments are still
 * under it stays whole, with its root, and is audited as kept until its date (docs/s3.md). */
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/segment.h"
#include "orchestrator/job-snapshot.h"
#include "orchestrator/job-spec.h"
#include "orchestrator/replicator-internal.h"
#include "policies/retention-apply.h"

/* The replicator holds the lock for a commit: try again every LOCK_RETRY_MS, LOCK_TRIES times. */
#define LOCK_RETRY_MS 200
#define LOCK_TRIES 150

typedef struct Prune {
        OrchRepl *rp;
        YbJobSpec spec;
        YbRetention rules;
        int64_t lock_until_usec, now_usec;
        char why[32];
        /* Results, for the audit. */
        YbNames chains; /* roots whose chain went */
        YbNames locked; /* "<root> until <date>": chains Object Lock keeps */
        char error[512];
} Prune;

/* The roots the rules alone would not keep but that must stay: the newest, and any whose next
 * root is inside keep_within (the chain holds times in the window). */
typedef struct Aside {
        const YbSnapshotList *l;
        int64_t window_start_ns; /* INT64_MIN: no keep_within */
} Aside;

static bool set_aside(void *userdata, const YbSnapshotHeader *h) {
        const Aside *a = userdata;
        const YbSnapshotList *l = a->l;

        for (size_t i = 0; i < l->n; i++)
                if (l->items[i] == h)
                        return i + 1 == l->n || (a->window_start_ns != INT64_MIN &&
                                                 l->items[i + 1]->finished_ns > a->window_start_ns);
        return false;
}

static void pruned_root(void *userdata, const char *id, int error, const char *child) {
        Prune *p = userdata;

        /* Kept by Object Lock, itself or through its chain: not a failure. */
        if (error == -EPERM && child)
                yb_job_locked_add(&p->locked, id, child);
        else if (error == -ENOTEMPTY && child && streq(child, YB_PRUNE_NEEDED_BY_SEGMENTS) &&
                 yb_job_locked_has(&p->locked, id))
                return;
        else if (error < 0 && !p->error[0])
                snprintf(p->error, sizeof(p->error), "cannot prune root %s: %s%s%s", id,
                         strerror(-error), child ? ", needed by " : "", child ? child : "");
}

static int lock_patiently(YbRepo *repo) {
        int r;

        for (int i = 0;; i++) {
                r = yb_repo_lock(repo);
                if (r != -EBUSY || i + 1 >= LOCK_TRIES)
                        return r;
                (void) poll(NULL, 0, LOCK_RETRY_MS);
        }
}

static int prune_chains(Prune *p, YbRepo *repo) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList list = {};
        _cleanup_(yb_retention_outcome_done) YbRetentionOutcome out = {};
        Aside aside = { .l = &list, .window_start_ns = INT64_MIN };
        YbRetentionRun run = {
                .rules = &p->rules,
                .lock_until_usec = p->lock_until_usec,
                .now_usec = p->now_usec,
                .dry_run = true,
                .aside = set_aside,
                .aside_userdata = &aside,
                .report = pruned_root,
                .report_userdata = p,
        };
        int r;

        if (p->rules.keep_within_usec > 0)
                aside.window_start_ns = yb_usec_to_ns(p->now_usec - p->rules.keep_within_usec);
        r = yb_repo_list(repo, &list);
        if (r < 0 || list.n == 0)
                return r;
        /* The plan, then each chain it lets go loses its segments (the root's prune refuses
         * while they are there), then the same plan removes the roots. */
        r = yb_retention_apply(repo, &list, &run, &out);
        for (size_t i = 0; r >= 0 && i < list.n; i++) {
                const char *root = list.items[i]->id;

                if (out.reasons[i] != YB_KEEP_NOT)
                        continue;
                r = yb_segments_chain_exists(repo, root);
                if (r > 0)
                        r = yb_segments_detach_chain(repo, root);
                if (r == -EPERM) {
                        int64_t until = 0;
                        char date[YB_PRUNE_DATE_MAX];

                        r = yb_segments_chain_locked_until(repo, root, &until);
                        if (r < 0)
                                break;
                        yb_prune_format_date(until, date);
                        yb_job_locked_add(&p->locked, root, date);
                        continue;
                }
                if (r < 0)
                        snprintf(p->error, sizeof(p->error),
                                 "cannot prune the segments of chain %s: %s", root, strerror(-r));
                else if (yb_names_add(&p->chains, root) < 0)
                        r = -ENOMEM;
        }
        yb_retention_outcome_done(&out);
        if (r < 0)
                return r;
        run.dry_run = false;
        r = yb_retention_apply(repo, &list, &run, &out);
        /* A refusal of Object Lock is not an error: pruned_root kept the others. */
        return r < 0 ? r : p->error[0] ? out.error : 0;
}

static void *prune_main(void *userdata) {
        Prune *p = userdata;
        OrchRepl *rp = p->rp;
        YbDaemon *d = rp->d;
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        int r;

        r = yb_job_spec_open_store(&p->spec, &store, p->error, sizeof(p->error));
        if (r >= 0) {
                r = yb_repo_open(store, p->spec.system, &repo);
                if (r == -ENOENT)
                        r = 0; /* nothing replicated yet: nothing to prune */
                else if (r < 0)
                        snprintf(p->error, sizeof(p->error),
                                 "cannot open the repository of system '%s' in store '%s': %s",
                                 p->spec.system, p->spec.store_name, strerror(-r));
        }
        if (repo) {
                r = lock_patiently(repo);
                if (r < 0)
                        snprintf(p->error, sizeof(p->error),
                                 "cannot take the lock of the tier-2 repository in store '%s' "
                                 "(%s)%s; the next checkpoint or the next day tries again",
                                 p->spec.store_name, strerror(-r),
                                 r == -EBUSY ? ": the replicator or another writer held it" : "");
                else {
                        r = prune_chains(p, repo);
                        if (r < 0 && !p->error[0])
                                snprintf(p->error, sizeof(p->error),
                                         "cannot apply tier2's retention: %s", strerror(-r));
                        yb_repo_unlock(repo);
                }
                for (size_t i = 0; i < p->chains.n; i++) {
                        int k = yb_segments_remove_detached(repo, p->chains.v[i]);

                        if (k < 0)
                                log_warning("System '%s': the detached segments of chain %s in "
                                            "store '%s' could not all be removed (%s); the "
                                            "replicator's next start clears them from tmp/.",
                                            rp->system, p->chains.v[i], p->spec.store_name,
                                            strerror(-k));
                }
        }

        pthread_mutex_lock(&d->lock);
        for (size_t i = 0; i < p->chains.n; i++) {
                char detail[256];

                snprintf(detail, sizeof(detail),
                         "chain %s (its segments, then its root) from store %s (tier2 retention, "
                         "after %s)",
                         p->chains.v[i], p->spec.store_name, p->why);
                yb_daemon_audit(d, NULL, "tier2.prune", rp->system, "ok", detail);
                log_info("System '%s': pruned tier-2 %s.", rp->system, detail);
        }
        yb_job_locked_audit(d, "tier2.prune", rp->system, "chain", p->spec.store_name, &p->locked);
        if (p->error[0]) {
                log_error("System '%s': store '%s': %s.", rp->system, p->spec.store_name, p->error);
                yb_daemon_audit(d, NULL, "tier2.prune", rp->system, "failed", p->error);
        }
        rp->prune_done = true;
        pthread_mutex_unlock(&d->lock);
        yb_daemon_wake(d);
        yb_job_spec_done(&p->spec);
        yb_names_done(&p->chains);
        yb_names_done(&p->locked);
        free(p);
        return NULL;
}

/* Whether the rules keep everything (none set): then there is nothing to do. */
static bool keeps_all(const YbRetention *k) {
        return k->keep_last < 0 && k->keep_daily < 0 && k->keep_weekly < 0 && k->keep_monthly < 0 &&
               k->keep_yearly < 0 && k->keep_within_usec == 0;
}

int orch_repl_prune_start(YbDaemon *d, OrchRepl *rp, const char *why) {
        YbSystem *s = yb_daemon_system(d, rp->system);
        char error[512] = "";
        Prune *p;
        int r;

        if (rp->prune_running || !s || !s->policy->tier2_store ||
            keeps_all(&s->policy->tier2_retention))
                return 0;
        p = new0(Prune, 1);
        if (!p)
                return log_oom();
        p->rp = rp;
        p->rules = s->policy->tier2_retention;
        p->lock_until_usec = s->policy->lock_until_usec;
        p->now_usec = yb_daemon_now(d);
        snprintf(p->why, sizeof(p->why), "%s", why);
        r = yb_replicate_spec_make(d, rp->system, &p->spec, error, sizeof(error));
        if (r >= 0)
                r = -pthread_create(&rp->prune_thread, NULL, prune_main, p);
        if (r < 0) {
                log_error("System '%s': cannot apply tier2's retention now: %s.", rp->system,
                          error[0] ? error : strerror(-r));
                yb_job_spec_done(&p->spec);
                free(p);
                return r;
        }
        rp->prune_running = true;
        rp->prune_done = false;
        return 0;
}

void orch_repl_prune_reap(OrchRepl *rp) {
        if (rp->prune_running && rp->prune_done) {
                pthread_join(rp->prune_thread, NULL);
                rp->prune_running = false;
        }
}
