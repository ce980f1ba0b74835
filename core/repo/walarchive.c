/* core/repo/walarchive.c: which base a WAL file goes with, and telling WAL archive chains from
 * the replicator's without the key (walarchive.h). */
#include "core/repo/walarchive.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/repo/segment-internal.h"

const YbSnapshotHeader *yb_walarchive_root(const YbSnapshotList *l, const char *hook,
                                           const char *wal_name, uint64_t system_identifier) {
        for (size_t i = l->n; i-- > 0;) {
                const YbSnapshotHeader *h = l->items[i];

                for (size_t j = 0; j < h->n_pg; j++) {
                        const YbPgBackup *b = &h->pg[j];
                        uint32_t timeline;
                        uint64_t segno;

                        if (!streq(b->name, hook) ||
                            (system_identifier != 0 && b->system_identifier != system_identifier))
                                continue;
                        /* The base's segment size names the segment: a WAL file of another size
                         * is of another cluster, whose name may not even parse here. */
                        if (yb_pg_wal_name_parse(wal_name, b->wal_segment_size, &timeline, &segno) <
                            0)
                                continue;
                        if (timeline >= b->timeline && segno >= b->start_lsn / b->wal_segment_size)
                                return h;
                }
        }
        return NULL;
}

const YbSnapshotHeader *yb_walarchive_root_history(const YbSnapshotList *l, const char *hook,
                                                   uint32_t timeline) {
        for (size_t i = l->n; i-- > 0;) {
                const YbSnapshotHeader *h = l->items[i];

                for (size_t j = 0; j < h->n_pg; j++)
                        if (streq(h->pg[j].name, hook) && h->pg[j].timeline <= timeline)
                                return h;
        }
        return NULL;
}

bool yb_walarchive_is_archive_segment(const YbSnapshotHeader *h,
                                      char ret_hook[YB_PG_NAME_MAX + 1]) {
        const char *s, *hook, *slash;
        size_t n;

        if (h->level != YB_LEVEL_SEGMENT || h->n_sources != 1)
                return false;
        s = h->sources[0];
        if (strncmp(s, YB_PG_DIR "/", strlen(YB_PG_DIR) + 1) != 0)
                return false;
        hook = s + strlen(YB_PG_DIR) + 1;
        slash = strchr(hook, '/');
        n = slash ? (size_t) (slash - hook) : 0;
        if (n == 0 || n > YB_PG_NAME_MAX || !streq(slash, "/wal"))
                return false;
        if (ret_hook) {
                memcpy(ret_hook, hook, n);
                ret_hook[n] = 0;
        }
        return true;
}

int yb_walarchive_last_segment(YbRepo *r, const char *root, YbSnapshotHeader **ret,
                               char **ret_bad) {
        _cleanup_(yb_seg_hours_done) YbSegHours hours = { 0 };
        int k;

        if (ret_bad)
                *ret_bad = NULL;
        if (!yb_snapshot_id_valid(root))
                return -EINVAL;
        k = yb_seg_chain_hours(r, root, &hours, NULL);
        if (k == -ENOENT) {
                *ret = NULL;
                return 0;
        }
        if (k < 0)
                return k;
        /* An hour's directory is made before its first segment is renamed into it: a crash in
         * between leaves it empty, so the newest hour may hold nothing. */
        for (size_t i = hours.n; i-- > 0;) {
                _cleanup_(yb_seg_hour_segs_done) YbSegHourSegs s = { 0 };

                k = yb_seg_load_hour(r, root, &hours.v[i], &s);
                if (k < 0)
                        return k;
                if (s.n_broken > 0) {
                        if (ret_bad && asprintf(ret_bad, "segment %s: %s", s.broken[0].id,
                                                s.broken[0].why) < 0)
                                *ret_bad = NULL;
                        return log_debug_errno(EBADMSG, "Chain %s: segment %s: %s", root,
                                               s.broken[0].id, s.broken[0].why);
                }
                if (s.n == 0)
                        continue;
                yb_seg_hour_segs_sort(&s);
                *ret = TAKE_PTR(s.items[s.n - 1].h);
                return 0;
        }
        *ret = NULL;
        return 0;
}

int yb_walarchive_chain_is_archive(YbRepo *r, const char *root) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *bad = NULL;
        char first[YB_PG_NAME_MAX + 1] = "", hook[YB_PG_NAME_MAX + 1];
        int k;

        k = yb_segments_load(r, root, 1, INT64_MAX, &l, &bad);
        if (k < 0)
                return k;
        if (bad) {
                log_debug("Chain %s cannot be told whole (%s): not taken for a WAL archive chain.",
                          root, bad);
                return 0;
        }
        for (size_t i = 0; i < l.n; i++) {
                if (!yb_walarchive_is_archive_segment(l.items[i], hook))
                        return 0;
                if (i == 0)
                        strcpy(first, hook);
                else if (!streq(first, hook))
                        return 0;
        }
        /* No segment at all: a directory left by a crash before the first commit; nothing in it
         * to lose. */
        return 1;
}
