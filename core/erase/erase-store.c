/* Erasing a directory of a store (erase.h, yb_erase_store_tree): a system's repository.
 *
 * A local store is a directory on this host (its location says which: core/store/location.h), so
 * the repository is erased as any tree is, overwritten first where the medium makes that mean
 * something. A remote (SFTP) store offers no overwrite that proves anything about the server's
 * disk: what is there is counted (list and stat through the store), removed with the store's own
 * removal, and the medium says so (yb_medium_remote). Either way the directory must be gone
 * afterwards, or the erase fails; but on an S3 store with Object Lock (docs/s3.md, "Object
 * Lock"), where what the lock keeps stays, each object left is counted as locked, with the
 * latest of their dates, and anything left that the lock does not keep fails it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"
#include "core/erase/eraser.h"

typedef struct Walk {
        YbStore *s;
        const char *dir;
        int (*fn)(void *ud, const char *path, const YbStoreStat *st);
        void *ud;
        uint64_t *dirs; /* counts the directories below, or NULL */
        int depth;
} Walk;

static int walk_entry(void *ud, const char *name);

static int walk_dir(const Walk *w) {
        if (w->depth > 64)
                return -ELOOP;
        return yb_store_list(w->s, w->dir, walk_entry, (void *) w);
}

static int walk_entry(void *ud, const char *name) {
        const Walk *w = ud;
        _cleanup_free_ char *path = NULL;
        YbStoreStat st;
        int r;

        if (asprintf(&path, "%s/%s", w->dir, name) < 0)
                return -ENOMEM;
        r = yb_store_stat(w->s, path, &st);
        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return r;
        if (st.is_dir) {
                Walk sub = *w;

                if (w->dirs)
                        (*w->dirs)++;
                sub.dir = path;
                sub.depth++;
                return walk_dir(&sub);
        }
        return w->fn(w->ud, path, &st);
}

static int walk(YbStore *s, const char *path, uint64_t *dirs,
                int (*fn)(void *ud, const char *path, const YbStoreStat *st), void *ud) {
        Walk w = { s, path, fn, ud, dirs, 0 };

        return walk_dir(&w);
}

int yb_erase_store_each(YbStore *s, const char *path,
                        int (*fn)(void *ud, const char *path, const YbStoreStat *st), void *ud) {
        YbStoreStat st;
        int r = yb_store_stat(s, path, &st);

        if (r < 0)
                return r;
        if (!st.is_dir)
                return fn(ud, path, &st);
        return walk(s, path, NULL, fn, ud);
}

static int count_file(void *ud, const char *path, const YbStoreStat *st) {
        YbEraseReport *rep = ud;

        rep->files++;
        rep->bytes += st->size;
        return 0;
}

/* An object Object Lock kept: counted apart from what was deleted. One that nothing keeps any
 * more (its date has passed, or it had none) should have gone: -ENOTEMPTY, named. */
static int count_locked(void *ud, const char *path, const YbStoreStat *st) {
        YbEraseReport *rep = ud;
        int64_t now = yb_now_ns() / 1000000000LL;
        char date[32];

        if (st->retain_until <= now) {
                snprintf(rep->left_first, sizeof(rep->left_first), "%s (not under Object Lock)",
                         path);
                return -ENOTEMPTY;
        }
        yb_time_format_iso(st->retain_until * 1000000000LL, date);
        if (rep->locked++ == 0)
                snprintf(rep->locked_first, sizeof(rep->locked_first),
                         "%s (Object Lock until %.19sZ)", path, date);
        rep->locked_bytes += st->size;
        rep->locked_until = MAX(rep->locked_until, st->retain_until);
        return 0;
}

/* The remote store's way: count, remove, check it is gone (on an object store with Object
 * Lock: that what is left is what the lock keeps). */
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
                r = walk(s, path, &rep.dirs, count_file, &rep);
        } else if (r >= 0) {
                rep.files = 1;
                rep.bytes = st.size;
        }
        if (r >= 0)
                r = yb_store_remove_tree(s, path);
        if (r == -EPERM && yb_store_objects(s)) {
                /* Deleted what the lock allows: the rest must be what it keeps. */
                r = yb_erase_store_each(s, path, count_locked, &rep);
                if (r == -ENOENT)
                        r = 0;
                rep.files -= MIN(rep.files, rep.locked);
                rep.bytes -= MIN(rep.bytes, rep.locked_bytes);
        }
        if (r >= 0 && rep.locked == 0) {
                r = yb_store_stat(s, path, &st);
                r = r == -ENOENT ? 0 : r >= 0 ? -ENOTEMPTY : r;
        }
        if (r < 0) {
                rep.left = 1;
                if (!*rep.left_first)
                        snprintf(rep.left_first, sizeof(rep.left_first), "%s (%s)", path,
                                 strerror(-r));
                snprintf(err, err_size, "cannot remove '%s' from the store %s: %s", rep.left_first,
                         where, strerror(-r));
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
