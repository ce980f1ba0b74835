/* core/repo/pointpath.c: where a point's files live: snapshots/<id>/ for a snapshot,
 * segments/<root>/<hour>/<id>/ for a segment (segment.h). Apart from segment.c so that every
 * reader of a point's files (repo.c, verify.c, the writer) can use it without calling into the
 * segment code, which calls them. */
#include <stdio.h>
#include <string.h>

#include "core/repo/segment.h"

char *yb_segment_path(const YbRepo *r, const YbSnapshotHeader *h, const char *file) {
        char *p;

        if (strlen(h->id) < YB_SEGMENT_HOUR_LEN || !*h->base)
                return NULL;
        if (asprintf(&p, "%s/segments/%s/%.*s/%s%s%s", r->system, h->base, YB_SEGMENT_HOUR_LEN,
                     h->id, h->id, file ? "/" : "", file ? file : "") < 0)
                return NULL;
        return p;
}

char *yb_repo_point_path(const YbRepo *r, const YbSnapshotHeader *h, const char *file) {
        char *p;

        if (h->level == YB_LEVEL_SEGMENT)
                return yb_segment_path(r, h, file);
        /* As yb_repo_snapshot_path (repo.c) writes it. */
        if (asprintf(&p, "%s/snapshots/%s%s%s", r->system, h->id, file ? "/" : "",
                     file ? file : "") < 0)
                return NULL;
        return p;
}
