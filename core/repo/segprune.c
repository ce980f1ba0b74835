/* core/repo/segprune.c: removing a whole segment chain (segment.h, yb_segments_prune_chain, in
 * one call or two), and telling whether a root has one. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
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
