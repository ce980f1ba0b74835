/* core/repo/segfind.c: the point of a tier-2 store for a time (segment.h, yb_segments_find):
 * the newest root at or before it, then in that root's chain the hour of the time (and the hour
 * before, when the time sits at an hour's start). */
#include <errno.h>
#include <stdlib.h>

#include "core/base/timeutil.h"
#include "core/repo/segment-internal.h"

/* The root with the greatest finished_ns at or before at_ns, or NULL. */
static const YbSnapshotHeader *root_at(const YbSnapshotList *roots, int64_t at_ns) {
        const YbSnapshotHeader *best = NULL;

        for (size_t i = 0; i < roots->n; i++) {
                const YbSnapshotHeader *h = roots->items[i];

                if (h->finished_ns <= at_ns && (!best || h->finished_ns > best->finished_ns))
                        best = h;
        }
        return best;
}

int yb_segments_find_point(YbRepo *r, const YbSnapshotList *roots, int64_t at_ns,
                           const YbSnapshotHeader **ret_root, YbSnapshotHeader **ret_point) {
        _cleanup_(yb_seg_hours_done) YbSegHours hours = { 0 };
        const YbSnapshotHeader *root = root_at(roots, at_ns);
        char at[17];
        int k;

        *ret_point = NULL;
        if (!root)
                return -ENOENT;
        *ret_root = root;
        k = yb_seg_chain_hours(r, root->id, &hours, NULL);
        if (k == -ENOENT)
                return 0; /* a root without segments yet */
        if (k < 0)
                return k;
        /* A segment finished at or before at_ns started before it too: its hour (its id's) is
         * at or before at_ns's. The newest such segment is in the last such hour that has one
         * finished by then: at an hour's start, the one before. */
        yb_time_format_compact(at_ns, at);
        at[YB_SEGMENT_HOUR_LEN] = 0;
        for (size_t i = hours.n; i-- > 0;) {
                YbSegHourSegs s = { 0 };

                if (strcmp(hours.v[i].name, at) > 0)
                        continue;
                k = yb_seg_load_hour(r, root->id, &hours.v[i], &s);
                for (size_t j = s.n; k >= 0 && j-- > 0;)
                        if (s.items[j].h->finished_ns <= at_ns) {
                                *ret_point = TAKE_PTR(s.items[j].h);
                                break;
                        }
                yb_seg_hour_segs_done(&s);
                if (k < 0 || *ret_point)
                        return k;
        }
        return 0;
}

int yb_segments_find(YbRepo *r, const YbSnapshotList *roots, int64_t at_ns,
                     const YbSnapshotHeader **ret_root, YbSnapshotList *ret_segments,
                     char **ret_bad) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *point = NULL;
        const YbSnapshotHeader *root = NULL;
        int k;

        *ret_segments = (YbSnapshotList){ 0 };
        if (ret_bad)
                *ret_bad = NULL;
        k = yb_segments_find_point(r, roots, at_ns, &root, &point);
        if (k < 0)
                return k;
        *ret_root = root;
        if (!point)
                return 0;
        /* The chain up to the point: a restore replays them all. */
        k = yb_segments_load(r, root->id, 1, point->finished_ns, ret_segments, ret_bad);
        if (k < 0)
                return k;
        /* A chain cut before the point says why (yb_segments_load set *ret_bad); one that goes
         * on past it would be a chain whose times go back. */
        while (ret_segments->n > 0 && ret_segments->items[ret_segments->n - 1]->seq > point->seq)
                yb_header_free(ret_segments->items[--ret_segments->n]);
        return 0;
}
