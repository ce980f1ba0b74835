/* core/repo/segment.c: tier-2 segments, their layout and indexes (segment.h). */
#include "core/repo/segment.h"

#include <errno.h>
#include <stdlib.h>

void yb_segment_chain_list_done(YbSegmentChainList *l) {
        if (!l)
                return;
        for (size_t i = 0; i < l->n; i++) {
                for (size_t j = 0; j < l->items[i].n_hours; j++)
                        free(l->items[i].hours[j]);
                free(l->items[i].hours);
        }
        free(l->items);
        l->items = NULL;
        l->n = 0;
}

int yb_segments_list(YbRepo *r, YbSegmentChainList *ret) {
        (void) r;
        *ret = (YbSegmentChainList){ 0 };
        return -ENOSYS;
}

int yb_segments_load(YbRepo *r, const char *root, uint64_t from_seq, int64_t until_ns,
                     YbSnapshotList *ret, char **ret_bad) {
        (void) r, (void) root, (void) from_seq, (void) until_ns, (void) ret, (void) ret_bad;
        return -ENOSYS;
}

char *yb_segment_path(const YbRepo *r, const YbSnapshotHeader *h, const char *file) {
        (void) r, (void) h, (void) file;
        return NULL;
}

char *yb_repo_point_path(const YbRepo *r, const YbSnapshotHeader *h, const char *file) {
        if (h->level == YB_LEVEL_SEGMENT)
                return yb_segment_path(r, h, file);
        return yb_repo_snapshot_path(r, h->id, file);
}

int yb_segments_close_hours(YbRepo *r, const char *root, const char *open_hour) {
        (void) r, (void) root, (void) open_hour;
        return -ENOSYS;
}

int yb_segments_find(YbRepo *r, const YbSnapshotList *roots, int64_t at_ns,
                     const YbSnapshotHeader **ret_root, YbSnapshotList *ret_segments,
                     char **ret_bad) {
        (void) r, (void) roots, (void) at_ns, (void) ret_root, (void) ret_segments, (void) ret_bad;
        return -ENOSYS;
}

int yb_segments_prune_chain(YbRepo *r, const char *root) {
        (void) r, (void) root;
        return -ENOSYS;
}

int yb_segments_chain_exists(YbRepo *r, const char *root) {
        (void) r, (void) root;
        return -ENOSYS;
}

int yb_segments_verify(YbRepo *r, const char *root, uint64_t from_seq, YbSegmentReportFn report,
                       void *userdata, uint64_t *ret_last_seq) {
        (void) r, (void) root, (void) from_seq, (void) report, (void) userdata, (void) ret_last_seq;
        return -ENOSYS;
}
