/* Which files of a point hold content a replicator kept while the file was being written (the
 * manifest's "changing" flag, docs/format.md "Segments"): such a file is complete only as of a
 * moment it was not being written, and whoever restores the point is told so. Only a segment's
 * newest record of a path says what the point holds: a later read replaces a flagged one. */
#include "core/base/pathutil.h"
#include "restore/restore-internal.h"

typedef struct Look {
        YbRestoreChain *c;
        char *const *paths;
        size_t n_paths;
        YbRestoreChangingFn fn;
        void *userdata;
        uint64_t n;
} Look;

/* Counts (and gives to fn) e, segment seg's record of path, if it is a flagged file. */
static void found(Look *l, const char *path, const YbEntry *e, size_t seg) {
        bool selected = l->n_paths == 0;

        for (size_t i = 0; i < l->n_paths && !selected; i++)
                selected = yb_path_startswith(path, l->paths[i]);
        if (!selected || !e || e->type != YB_ENTRY_FILE || !e->changing)
                return;
        l->n++;
        if (l->fn)
                l->fn(l->userdata, path, l->c->levels[l->c->root + 1 + seg].h, e->read_started_ns);
}

static int look(void *userdata, const char *path) {
        Look *l = userdata;
        const YbEntry *e;
        size_t seg;

        if (restore_segindex_find(l->c->segs, path, yb_restore_chain_segments(l->c) - 1, &e, &seg) >
            0)
                found(l, path, e, seg);
        return 0;
}

int yb_restore_changing(YbRestoreChain *c, bool point_only, char *const *paths, size_t n_paths,
                        YbRestoreChangingFn fn, void *userdata) {
        Look l = { c, paths, n_paths, fn, userdata, 0 };
        size_t n_segs = yb_restore_chain_segments(c);
        int r;

        if (!c->segs || n_segs == 0)
                return 0; /* a root alone: an ordinary backup never keeps a file so */
        if (point_only) {
                /* The point's own records are the newest of their paths. */
                const YbManifest *m = c->levels[c->n - 1].m;

                for (size_t i = 0; m && i < m->n; i++)
                        found(&l, m->entries[i].path, &m->entries[i], n_segs - 1);
        } else {
                r = restore_segindex_foreach(c->segs, look, &l);
                if (r < 0)
                        return r;
        }
        return (int) MIN(l.n, (uint64_t) INT32_MAX);
}
