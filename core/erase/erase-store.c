/* Erasing a directory of a store (erase.h, yb_erase_store_tree): a system's repository.
 *
 * A local store is a directory on this host (its location says which: core/store/location.h), so
 * the repository is erased as any tree is, overwritten first where the medium makes that mean
 * something. A remote (SFTP) store offers no overwrite that proves anything about the server's
 * disk: what is there is counted (list and stat through the store), removed with the store's own
 * removal, and the medium says so (yb_medium_remote). Either way the directory must be gone
 * afterwards, or the erase fails. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/erase/eraser.h"

typedef struct Count {
        YbStore *s;
        const char *dir;
        YbEraseReport *report;
        int depth;
} Count;

static int count_entry(void *ud, const char *name);

/* Adds what lies below store directory dir to the report's counts. */
static int count_dir(YbStore *s, const char *dir, YbEraseReport *report, int depth) {
        Count c = { s, dir, report, depth };

        if (depth > 64)
                return -ELOOP;
        return yb_store_list(s, dir, count_entry, &c);
}

static int count_entry(void *ud, const char *name) {
        Count *c = ud;
        _cleanup_free_ char *path = NULL;
        YbStoreStat st;
        int r;

        if (asprintf(&path, "%s/%s", c->dir, name) < 0)
                return -ENOMEM;
        r = yb_store_stat(c->s, path, &st);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (st.is_dir) {
                c->report->dirs++;
                return count_dir(c->s, path, c->report, c->depth + 1);
        }
        c->report->files++;
        c->report->bytes += st.size;
        return 0;
}

/* The remote store's way: count, remove, check it is gone. */
static int erase_remote(YbStore *s, const char *path, YbEraseReport *ret, char *err,
                        size_t err_size) {
        const char *where = yb_store_location(s);
        YbEraseReport rep = { 0 };
        YbStoreStat st;
        int r;

        yb_medium_remote(where, &rep.medium);
        r = yb_store_stat(s, path, &st);
        if (r == -ENOENT) {
                *ret = rep; /* erased already */
                return 0;
        }
        if (r >= 0 && st.is_dir) {
                rep.dirs = 1;
                r = count_dir(s, path, &rep, 0);
        } else if (r >= 0) {
                rep.files = 1;
                rep.bytes = st.size;
        }
        if (r >= 0)
                r = yb_store_remove_tree(s, path);
        if (r >= 0) {
                r = yb_store_stat(s, path, &st);
                r = r == -ENOENT ? 0 : r >= 0 ? -ENOTEMPTY : r;
        }
        if (r < 0) {
                rep.left = 1;
                snprintf(rep.left_first, sizeof(rep.left_first), "%s (%s)", path, strerror(-r));
                snprintf(err, err_size, "cannot remove '%s' from the store %s: %s", path, where,
                         strerror(-r));
        }
        *ret = rep;
        return r;
}

int yb_erase_store_tree(YbStore *s, const char *path, YbOverwrite ow, YbEraseReport *ret, char *err,
                        size_t err_size) {
        _cleanup_free_ char *full = NULL;
        YbLocation loc = { 0 };
        int r;

        yb_erase_start(ret, err, err_size);
        if (!yb_path_is_safe(path, strlen(path))) {
                snprintf(err, err_size,
                         "'%s' is not a path inside a store (relative, without '.' or '..')", path);
                return -EINVAL;
        }
        if (s->ops->kind != YB_LOCATION_LOCAL)
                return erase_remote(s, path, ret, err, err_size);
        r = yb_location_parse(yb_store_location(s), &loc, err, err_size);
        if (r < 0)
                return r;
        if (asprintf(&full, "%s/%s", loc.path, path) < 0)
                full = NULL;
        yb_location_done(&loc);
        if (!full)
                return -ENOMEM;
        return yb_erase_tree(full, false, ow, ret, err, err_size);
}
