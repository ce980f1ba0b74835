/* restore/pointchain.c: a point and what it is made of (restore.h, YbRestoreChain). A snapshot's
 * manifest is complete, so a path's record as of a snapshot is a lookup in it; a segment's is
 * sparse, so a path's record as of segment k is its newest record in segments 1..k (pathindex.c),
 * or, when none of them mentions it, the root's. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "restore/restore-internal.h"

YbRestoreChain *yb_restore_chain_free(YbRestoreChain *c) {
        if (!c)
                return NULL;
        restore_segindex_free(c->segs);
        for (size_t i = 0; i < c->n; i++) {
                yb_manifest_free(c->levels[i].m);
                if (i > c->root) /* segments are the chain's own */
                        yb_header_free((YbSnapshotHeader *) c->levels[i].h);
        }
        free(c->levels);
        free(c);
        return NULL;
}

static int push_level(YbRestoreChain *c, const YbSnapshotHeader *h) {
        if (c->n == c->alloc) {
                size_t a = c->alloc ? c->alloc * 2 : 16;
                Chain *p = realloc(c->levels, a * sizeof(Chain));

                if (!p)
                        return -ENOMEM;
                c->levels = p;
                c->alloc = a;
        }
        c->levels[c->n++] = (Chain){ .h = h };
        return 0;
}

int yb_restore_chain_new(YbRepo *repo, const YbSnapshotList *list, const YbSnapshotHeader *root,
                         const YbSecretKey *key, YbRestoreChain **ret) {
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = new0(YbRestoreChain, 1);
        int k;

        if (!c)
                return -ENOMEM;
        c->repo = repo;
        c->key = key;
        /* The root, its parent, ... down to the full; then turned oldest first. */
        for (const YbSnapshotHeader *h = root; h;) {
                k = push_level(c, h);
                if (k < 0)
                        return k;
                if (h->level == YB_LEVEL_FULL)
                        break;
                h = yb_snapshot_list_find(list, h->parent);
                if (!h || c->n > list->n)
                        return -ENOLINK;
        }
        for (size_t i = 0; i < c->n / 2; i++) {
                Chain t = c->levels[i];

                c->levels[i] = c->levels[c->n - 1 - i];
                c->levels[c->n - 1 - i] = t;
        }
        c->root = c->n - 1;
        *ret = TAKE_PTR(c);
        return 0;
}

int yb_restore_chain_add(YbRestoreChain *c, YbSnapshotHeader *segment) {
        const YbSnapshotHeader *last = c->levels[c->n - 1].h;
        YbManifest *m = NULL;
        int k;

        if (segment->level != YB_LEVEL_SEGMENT ||
            segment->seq != yb_restore_chain_segments(c) + 1 || !streq(segment->parent, last->id) ||
            !streq(segment->base, c->levels[c->root].h->id)) {
                log_debug("Segment %s (seq %llu) does not follow %s in the chain of %s.",
                          segment->id, (unsigned long long) segment->seq, last->id,
                          c->levels[c->root].h->id);
                yb_header_free(segment);
                return -EINVAL;
        }
        if (!c->segs) {
                k = restore_segindex_new(&c->segs);
                if (k < 0) {
                        yb_header_free(segment);
                        return k;
                }
        }
        k = yb_repo_load_manifest(c->repo, segment, c->key, &m);
        if (k >= 0) {
                k = push_level(c, segment);
                if (k < 0)
                        yb_manifest_free(m);
        }
        if (k < 0) {
                yb_header_free(segment);
                return k;
        }
        c->levels[c->n - 1].m = m;
        k = restore_segindex_add(c->segs, m);
        if (k < 0) {
                /* the index holds part of m: the chain is unusable, but consistent to free */
                return k;
        }
        return 0;
}

int yb_restore_chain_pop(YbRestoreChain *c) {
        Chain *last = &c->levels[c->n - 1];

        if (c->n - 1 <= c->root)
                return -ENOENT;
        restore_segindex_pop(c->segs, last->m);
        last->m = yb_manifest_free(last->m);
        yb_header_free((YbSnapshotHeader *) last->h);
        c->n--;
        return 0;
}

const YbSnapshotHeader *yb_restore_chain_point(const YbRestoreChain *c) {
        return c->levels[c->n - 1].h;
}

const YbSnapshotHeader *yb_restore_chain_root(const YbRestoreChain *c) {
        return c->levels[c->root].h;
}

size_t yb_restore_chain_length(const YbRestoreChain *c) {
        return c->n;
}

const YbSnapshotHeader *yb_restore_chain_at(const YbRestoreChain *c, size_t i) {
        assert(i < c->n);
        return c->levels[i].h;
}

size_t yb_restore_chain_segments(const YbRestoreChain *c) {
        return c->n - 1 - c->root;
}

size_t yb_restore_chain_records(const YbRestoreChain *c) {
        return c->segs ? restore_segindex_records(c->segs) : 0;
}

int restore_chain_manifest(YbRestoreChain *c, size_t level, YbManifest **ret) {
        int k;

        if (!c->levels[level].m) {
                k = yb_repo_load_manifest(c->repo, c->levels[level].h, c->key, &c->levels[level].m);
                if (k < 0)
                        return k;
        }
        *ret = c->levels[level].m;
        return 0;
}

void restore_chain_release(YbRestoreChain *c) {
        if (yb_restore_chain_segments(c) > 0)
                return;
        for (size_t i = 0; i < c->root; i++) {
                yb_manifest_free(c->levels[i].m);
                c->levels[i].m = NULL;
        }
}

int restore_chain_find(YbRestoreChain *c, size_t level, const char *path, const YbEntry **ret,
                       size_t *ret_level) {
        const YbEntry *e;
        YbManifest *m;
        int k;

        if (level > c->root) {
                size_t seg;

                k = restore_segindex_find(c->segs, path, level - c->root - 1, &e, &seg);
                if (k > 0) {
                        if (!e)
                                return -ENOENT;
                        *ret = e;
                        *ret_level = c->root + 1 + seg;
                        return 0;
                }
                level = c->root;
        }
        k = restore_chain_manifest(c, level, &m);
        if (k < 0)
                return k;
        e = yb_manifest_find(m, path);
        if (!e)
                return -ENOENT;
        *ret = e;
        *ret_level = level;
        return 0;
}

/* Paths in tree order: '/' sorts before every other byte, so a directory's whole subtree
 * comes right after it, and a parent before its children. */
static int tree_cmp(const void *a, const void *b) {
        const unsigned char *x = (const unsigned char *) (*(const YbEntry *const *) a)->path;
        const unsigned char *y = (const unsigned char *) (*(const YbEntry *const *) b)->path;

        for (; *x && *x == *y; x++, y++)
                ;
        if (*x == *y)
                return 0;
        if (*x == '/')
                return *y ? -1 : 1;
        if (*y == '/')
                return *x ? 1 : -1;
        return *x < *y ? -1 : 1;
}

typedef struct Live {
        YbRestoreChain *c;
        const YbEntry **v;
        size_t n, alloc;
} Live;

static int live_push(Live *l, const YbEntry *e) {
        if (l->n == l->alloc) {
                size_t a = l->alloc ? l->alloc * 2 : 1024;
                const YbEntry **p = realloc(l->v, a * sizeof(*p));

                if (!p)
                        return -ENOMEM;
                l->v = p;
                l->alloc = a;
        }
        l->v[l->n++] = e;
        return 0;
}

/* Each path a segment records: its newest record if the path is there at the point. */
static int live_segment_path(void *userdata, const char *path) {
        Live *l = userdata;
        const YbEntry *e;
        size_t seg;

        if (restore_segindex_find(l->c->segs, path, yb_restore_chain_segments(l->c) - 1, &e, &seg) >
                    0 &&
            e)
                return live_push(l, e);
        return 0;
}

int restore_chain_state(YbRestoreChain *c, YbManifest **ret, bool *ret_owned) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        Live l = { .c = c };
        YbManifest *root;
        uint8_t end = 0;
        int k;

        k = restore_chain_manifest(c, c->root, &root);
        if (k < 0)
                return k;
        if (yb_restore_chain_segments(c) == 0) {
                *ret = root;
                *ret_owned = false;
                return 0;
        }
        /* The root's paths that no segment mentions, and each segment path's newest record. */
        for (size_t i = 0; i < root->n; i++) {
                const YbEntry *e;
                size_t seg;

                if (restore_segindex_find(c->segs, root->entries[i].path,
                                          yb_restore_chain_segments(c) - 1, &e, &seg) == 0) {
                        k = live_push(&l, &root->entries[i]);
                        if (k < 0)
                                goto out;
                }
        }
        k = restore_segindex_foreach(c->segs, live_segment_path, &l);
        if (k < 0)
                goto out;
        if (l.n > 1)
                qsort(l.v, l.n, sizeof(*l.v), tree_cmp);
        k = yb_buf_append(&b, YB_MANIFEST_MAGIC, 8);
        for (size_t i = 0; k >= 0 && i < l.n; i++)
                k = yb_manifest_encode_entry(l.v[i], &b);
        if (k >= 0)
                k = yb_buf_append(&b, &end, 1);
        if (k >= 0)
                k = yb_manifest_parse(b.data, b.size, ret);
        if (k >= 0)
                *ret_owned = true;
out:
        free(l.v);
        return k;
}
