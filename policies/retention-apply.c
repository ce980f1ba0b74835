/* policies/retention-apply.c: retention applied to a repository (policies/retention-apply.h). */
#include "policies/retention-apply.h"

#include <stdlib.h>

#include "core/base/timeutil.h"
#include "core/repo/graph.h"

void yb_retention_outcome_done(YbRetentionOutcome *o) {
        free(o->reasons);
        free(o->missing);
        *o = (YbRetentionOutcome){};
}

/* What a snapshot set aside is built on stays with it, or it could not be restored: every
 * ancestor of one, through the whole listing, is kept as a chain. */
static int keep_aside_chains(const YbSnapshotList *l, const bool *aside, YbKeepReason *reasons) {
        _cleanup_(yb_graph_freep) YbGraph *g = NULL;
        _cleanup_free_ YbGraphPair *pairs = new0(YbGraphPair, l->n + 1);
        _cleanup_free_ bool *kept = new0(bool, l->n + 1);
        int r;

        if (!pairs || !kept)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++)
                pairs[i] = (YbGraphPair){ l->items[i]->id, l->items[i]->parent };
        r = yb_graph_new(pairs, l->n, &g);
        if (r < 0)
                return r;
        for (size_t i = 0; i < l->n; i++)
                if (aside[i] && yb_graph_parent(g, i) < l->n)
                        (void) yb_graph_mark_chain(g, yb_graph_parent(g, i), kept);
        for (size_t i = 0; i < l->n; i++)
                if (aside[i] || (kept[i] && reasons[i] == YB_KEEP_NOT))
                        reasons[i] = YB_KEEP_CHAIN;
        return 0;
}

int yb_retention_apply(YbRepo *repo, const YbSnapshotList *l, const YbRetentionRun *run,
                       YbRetentionOutcome *ret) {
        _cleanup_(yb_retention_outcome_done) YbRetentionOutcome o = {};
        _cleanup_free_ YbRetentionSnap *snaps = new0(YbRetentionSnap, l->n + 1);
        _cleanup_free_ YbKeepReason *reasons = new0(YbKeepReason, l->n + 1);
        _cleanup_free_ const char **missing = new0(const char *, l->n + 1);
        _cleanup_free_ const char **ids = new0(const char *, l->n + 1);
        _cleanup_free_ size_t *at = new0(size_t, l->n + 1); /* each planned one's listing index */
        _cleanup_free_ bool *aside = new0(bool, l->n + 1);
        size_t n_snaps = 0;
        bool any_aside = false;
        int r;

        o.reasons = new0(YbKeepReason, l->n + 1);
        o.missing = new0(const char *, l->n + 1);
        if (!snaps || !reasons || !missing || !ids || !at || !aside || !o.reasons || !o.missing)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                const YbSnapshotHeader *h = l->items[i];

                aside[i] = run->aside && run->aside(run->aside_userdata, h);
                any_aside |= aside[i];
                if (aside[i])
                        continue;
                at[n_snaps] = i;
                snaps[n_snaps++] = (YbRetentionSnap){
                        .id = h->id,
                        .parent = h->parent,
                        .level = (int) h->level,
                        .time_usec = yb_ns_to_usec(h->started_ns),
                        .partial = h->partial,
                };
        }
        r = yb_retention_plan(snaps, n_snaps, run->rules, run->lock_until_usec, run->now_usec,
                              run->tz, reasons);
        if (r < 0)
                return r;
        r = yb_retention_check_chains(snaps, n_snaps, missing);
        if (r < 0)
                return r;
        for (size_t k = 0; k < n_snaps; k++) {
                o.reasons[at[k]] = reasons[k];
                o.missing[at[k]] = missing[k];
        }
        if (any_aside) {
                r = keep_aside_chains(l, aside, o.reasons);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < l->n; i++)
                if (o.reasons[i] == YB_KEEP_NOT)
                        ids[o.n_prune++] = l->items[i]->id;
        /* One listing for all of them, children removed before their parents. */
        if (!run->dry_run && o.n_prune > 0)
                o.error =
                        yb_repo_prune_many(repo, ids, o.n_prune, run->report, run->report_userdata);
        *ret = o;
        o = (YbRetentionOutcome){};
        return 0;
}
