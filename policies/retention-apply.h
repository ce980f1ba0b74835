/* policies/retention-apply.h: retention applied to a repository: the one prune flow of yunbakd
 * (after each job) and `yunbak prune`. Over the snapshots the caller has listed it leaves out
 * those the caller sets aside (yunbakd: the ones its catalog quarantines) together with every
 * snapshot they are built on, plans the others with yb_retention_plan() (policies/retention.h),
 * and removes what the plan does not keep with yb_repo_prune_many() (core/repo/repo.h), children
 * before their parents, reporting each removal or refusal to the caller. Locking the repository,
 * messages, audit records and output are the caller's. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/repo/repo.h"
#include "policies/policy.h"
#include "policies/retention.h"

/* Whether the caller sets snapshot h aside: kept whatever the rules say, never counted against
 * them, and so is every snapshot it is built on. Called once per snapshot of the listing, in its
 * order, before anything is planned. */
typedef bool (*YbRetentionAsideFn)(void *userdata, const YbSnapshotHeader *h);

/* How to apply retention. Pointers are borrowed. */
typedef struct YbRetentionRun {
        const YbRetention *rules;
        int64_t lock_until_usec; /* 0: none; as yb_retention_plan */
        int64_t now_usec;
        const char *tz;           /* as yb_retention_plan: NULL for the local zone */
        bool dry_run;             /* plan only: remove nothing (then no lock is needed) */
        YbRetentionAsideFn aside; /* NULL: nothing is set aside */
        void *aside_userdata;
        YbPruneFn report; /* yb_repo_prune_many's report of each removal or refusal; may be NULL */
        void *report_userdata;
} YbRetentionRun;

/* The plan, per snapshot of the listing (l->items[i]), and how the removal went. */
typedef struct YbRetentionOutcome {
        YbKeepReason *reasons; /* why it is kept; YB_KEEP_NOT: the plan lets it go. YB_KEEP_CHAIN
                                * for a snapshot set aside, and for one it is built on that no
                                * rule keeps. */
        const char **missing;  /* NULL, or where its chain breaks (as yb_retention_check_chains,
                                * among the snapshots not set aside; pointing into l); NULL for
                                * one set aside */
        size_t n_prune;        /* how many the plan lets go */
        int error; /* 0, or yb_repo_prune_many's first -errno: not all that was to go has gone */
} YbRetentionOutcome;

/* Frees what yb_retention_apply put in o and zeroes it. */
void yb_retention_outcome_done(YbRetentionOutcome *o);

/* Plans retention over l, the listing of repo (yb_repo_list), and unless run->dry_run removes
 * what the plan does not keep; then repo must be locked (yb_repo_lock). Snapshots whose header is
 * damaged (l->broken) are neither planned nor removed. Returns 0 once the plan is made, with the
 * plan and the removal's result in *ret (each removal and refusal also went to run->report);
 * or, with nothing removed and *ret untouched, -EINVAL (rules or time zone, as
 * yb_retention_plan) or -ENOMEM. *ret points into l, which must outlive it; the caller frees it
 * with yb_retention_outcome_done. */
int yb_retention_apply(YbRepo *repo, const YbSnapshotList *l, const YbRetentionRun *run,
                       YbRetentionOutcome *ret);
