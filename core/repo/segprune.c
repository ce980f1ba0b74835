/* core/repo/segprune.c: removing a whole segment chain (segment.h, yb_segments_prune_chain, in
 * one call or two), and telling whether a root has one. A chain that S3 Object Lock keeps is
 * refused whole, at the granularity of its newest segments (docs/s3.md, "Object Lock"). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/segment-internal.h"

int yb_segments_chain_exists(YbRepo *r, const char *root) {
        _cleanup_free_ char *dir = NULL;
        YbStoreStat st;
        int k;

        if (!yb_snapshot_id_valid(root))
                return -EINVAL;
        dir = yb_seg_chain_path(r, root, NULL);
        if (!dir)
                return -ENOMEM;
        k = yb_store_stat(r->store, dir, &st);
        if (k == -ENOENT)
                return 0;
        return k < 0 ? k : 1;
}

int yb_segments_chain_locked_until(YbRepo *r, const char *root, int64_t *ret) {
        _cleanup_(yb_seg_hours_done) YbSegHours hours = { 0 };
        _cleanup_(yb_dirnames_done) YbDirNames ids = { 0 };
        _cleanup_free_ char *hour = NULL;
        int64_t until = 0;
        size_t i;
        int k;

        /* Only S3 has Object Lock: elsewhere no date to read, and no store operation spent. */
        if (!yb_store_objects(r->store)) {
                *ret = 0;
                return 0;
        }
        k = yb_seg_chain_hours(r, root, &hours, NULL);
        if (k == -ENOENT) {
                *ret = 0;
                return 0;
        }
        if (k < 0)
                return k;
        for (i = hours.n; i > 0 && !hours.v[i - 1].has_dir; i--)
                ;
        if (i == 0) {
                *ret = 0;
                return 0;
        }
        hour = yb_seg_chain_path(r, root, hours.v[i - 1].name);
        if (!hour)
                return -ENOMEM;
        k = yb_dirnames_list_sorted(r->store, hour, &ids);
        if (k < 0 && k != -ENOENT)
                return k;
        /* Segment ids begin with their time: the last one written is the last by name, and its
         * header (written last) holds the latest date. One stat, however long the chain. */
        for (size_t j = ids.n; j > 0 && until == 0; j--) {
                _cleanup_free_ char *header = NULL;
                YbStoreStat st;

                if (asprintf(&header, "%s/%s/header", hour, ids.v[j - 1]) < 0)
                        return -ENOMEM;
                k = yb_store_stat(r->store, header, &st);
                if (k == -ENOENT || k == -ENOTDIR)
                        continue; /* being written, or a leftover: the one before it */
                if (k < 0)
                        return k;
                until = st.retain_until;
                if (until == 0)
                        break;
        }
        *ret = until;
        return 0;
}

/* -EPERM when Object Lock still keeps the chain (nothing of it may be touched). */
static int refuse_locked(YbRepo *r, const char *root) {
        int64_t until;
        int k = yb_segments_chain_locked_until(r, root, &until);

        if (k < 0)
                return k;
        if (until > yb_now_ns() / 1000000000LL)
                return log_debug_errno(-EPERM, "The segment chain of %s is under Object Lock.",
                                       root);
        return 0;
}

/* "<system>/tmp/prune-seg-<root>" */
static char *aside_path(YbRepo *r, const char *root) {
        char *p;

        if (asprintf(&p, "%s/tmp/prune-seg-%s", r->system, root) < 0)
                return NULL;
        return p;
}

int yb_segments_detach_chain(YbRepo *r, const char *root) {
        _cleanup_free_ char *dir = NULL, *segments = yb_repo_path(r, "segments"),
                            *tmp = yb_repo_path(r, "tmp"), *aside = NULL;
        int k;

        assert(r->locked);
        if (!yb_snapshot_id_valid(root))
                return -EINVAL;
        dir = yb_seg_chain_path(r, root, NULL);
        aside = aside_path(r, root);
        if (!dir || !segments || !tmp || !aside)
                return -ENOMEM;
        k = refuse_locked(r, root);
        if (k < 0)
                return k;
        /* An object store cannot rename the chain away: it goes in place (a reader may see part
         * of it meanwhile, as it may see a chain being written). */
        if (yb_store_objects(r->store)) {
                k = yb_segments_chain_exists(r, root);
                if (k == 0)
                        return -ENOENT;
                return k < 0 ? k : yb_store_remove_tree(r->store, dir);
        }
        k = yb_store_mkdir(r->store, tmp);
        if (k < 0)
                return k;
        /* A leftover of an earlier prune of this chain, if a crash came before tmp/ was cleaned:
         * the rename below never replaces anything. */
        k = yb_store_remove_tree(r->store, aside);
        if (k < 0 && k != -ENOENT)
                return k;
        /* One rename takes the whole chain away: a reader sees it whole or not at all. */
        k = yb_store_rename(r->store, dir, aside);
        if (k < 0)
                return k;
        k = yb_store_sync_dir(r->store, segments);
        if (k >= 0)
                k = yb_store_sync_dir(r->store, tmp);
        if (k >= 0)
                log_debug("Detached the segment chain of %s.", root);
        return k;
}

int yb_segments_remove_detached(YbRepo *r, const char *root) {
        _cleanup_free_ char *tmp = yb_repo_path(r, "tmp"), *aside = NULL;
        int k;

        if (!yb_snapshot_id_valid(root))
                return -EINVAL;
        aside = aside_path(r, root);
        if (!tmp || !aside)
                return -ENOMEM;
        if (yb_store_objects(r->store))
                return 0; /* detach removed it in place */
        /* Without the lock, a cleanup of tmp/ may remove it at the same time: what the other
         * remover took first is gone, not an error (each pass takes what is left). */
        k = -ENOENT;
        for (int pass = 0; pass < 100 && k == -ENOENT; pass++)
                k = yb_store_remove_tree(r->store, aside);
        if (k < 0)
                return k;
        return yb_store_sync_dir(r->store, tmp);
}

int yb_segments_prune_chain(YbRepo *r, const char *root) {
        int k = yb_segments_detach_chain(r, root);

        if (k >= 0)
                k = yb_segments_remove_detached(r, root);
        return k;
}
