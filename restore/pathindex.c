/* restore/pathindex.c: a per-path index over the manifests of a chain's segments, so that "this
 * path's record as of segment j" is a lookup, not a replay: a chain of tens of thousands of
 * segments, each listing a few changes, costs memory in proportion to its records, never
 * segments x tree. Each path keeps its records newest first, and apart from them its deletions
 * (a directory's deletion takes every path below it, so a lookup checks the deletions of each
 * ancestor: those lists are short, where a directory's records are as many as the segments
 * that touched its mtime). */
#include <stdlib.h>
#include <string.h>

#include "restore/restore-internal.h"

typedef struct Rec {
        const YbEntry *e;
        size_t seg, pos; /* (segment from 0, position in its manifest): the order of changes */
        size_t next;     /* the next older record of the path (index + 1), 0 at the end */
} Rec;

typedef struct Node {
        const char *path; /* borrowed from the first record's entry */
        size_t head;      /* newest record (index + 1) */
        size_t del_head;  /* newest YB_ENTRY_DELETED record (index + 1) */
} Node;

struct SegIndex {
        Rec *recs;
        size_t n_recs, recs_alloc;
        Rec *dels; /* the deletion records, chained through next like recs */
        size_t n_dels, dels_alloc;
        Node *nodes;
        size_t n_nodes, nodes_alloc;
        size_t *table; /* node index + 1, open addressing */
        size_t table_size;
        size_t n_segs;
};

static size_t path_hash(const char *s, size_t n) {
        uint64_t h = 1469598103934665603ULL;

        for (size_t i = 0; i < n; i++)
                h = (h ^ (uint8_t) s[i]) * 1099511628211ULL;
        return (size_t) h;
}

/* The slot of path[0..n) in the table: holding its node, or the empty slot where it goes. */
static size_t slot(const SegIndex *x, const char *path, size_t n) {
        size_t h = path_hash(path, n) & (x->table_size - 1);

        while (x->table[h] != 0) {
                const char *p = x->nodes[x->table[h] - 1].path;

                if (strncmp(p, path, n) == 0 && p[n] == 0)
                        break;
                h = (h + 1) & (x->table_size - 1);
        }
        return h;
}

static const Node *lookup(const SegIndex *x, const char *path, size_t n) {
        size_t h;

        if (!x->table)
                return NULL;
        h = slot(x, path, n);
        return x->table[h] ? &x->nodes[x->table[h] - 1] : NULL;
}

static int grow_table(SegIndex *x) {
        size_t size = x->table_size ? x->table_size * 2 : 1024;
        size_t *old = x->table, old_size = x->table_size;

        x->table = new0(size_t, size);
        if (!x->table) {
                x->table = old;
                return -ENOMEM;
        }
        x->table_size = size;
        for (size_t i = 0; i < old_size; i++)
                if (old[i]) {
                        const char *p = x->nodes[old[i] - 1].path;

                        x->table[slot(x, p, strlen(p))] = old[i];
                }
        free(old);
        return 0;
}

static int push(Rec **v, size_t *n, size_t *alloc, const Rec *r) {
        if (*n == *alloc) {
                size_t a = *alloc ? *alloc * 2 : 256;
                Rec *p = realloc(*v, a * sizeof(Rec));

                if (!p)
                        return -ENOMEM;
                *v = p;
                *alloc = a;
        }
        (*v)[(*n)++] = *r;
        return 0;
}

SegIndex *restore_segindex_free(SegIndex *x) {
        if (!x)
                return NULL;
        free(x->recs);
        free(x->dels);
        free(x->nodes);
        free(x->table);
        free(x);
        return NULL;
}

int restore_segindex_new(SegIndex **ret) {
        SegIndex *x = new0(SegIndex, 1);

        if (!x)
                return -ENOMEM;
        *ret = x;
        return 0;
}

size_t restore_segindex_records(const SegIndex *x) {
        return x->n_recs;
}

int restore_segindex_add(SegIndex *x, const YbManifest *m) {
        size_t seg = x->n_segs;
        int k;

        for (size_t i = 0; i < m->n; i++) {
                const YbEntry *e = &m->entries[i];
                size_t h, len = strlen(e->path);
                Node *node;
                Rec rec = { .e = e, .seg = seg, .pos = i };

                if ((x->n_nodes + 1) * 2 > x->table_size) {
                        k = grow_table(x);
                        if (k < 0)
                                return k;
                }
                h = slot(x, e->path, len);
                if (x->table[h] == 0) {
                        if (x->n_nodes == x->nodes_alloc) {
                                size_t a = x->nodes_alloc ? x->nodes_alloc * 2 : 256;
                                Node *p = realloc(x->nodes, a * sizeof(Node));

                                if (!p)
                                        return -ENOMEM;
                                x->nodes = p;
                                x->nodes_alloc = a;
                        }
                        x->nodes[x->n_nodes] = (Node){ .path = e->path };
                        x->table[h] = ++x->n_nodes;
                }
                node = &x->nodes[x->table[h] - 1];
                rec.next = node->head;
                k = push(&x->recs, &x->n_recs, &x->recs_alloc, &rec);
                if (k < 0)
                        return k;
                node->head = x->n_recs;
                if (e->type == YB_ENTRY_DELETED) {
                        rec.next = node->del_head;
                        k = push(&x->dels, &x->n_dels, &x->dels_alloc, &rec);
                        if (k < 0)
                                return k;
                        node->del_head = x->n_dels;
                }
        }
        x->n_segs++;
        return 0;
}

static bool newer(const Rec *a, size_t seg, size_t pos) {
        return a->seg > seg || (a->seg == seg && a->pos > pos);
}

int restore_segindex_find(const SegIndex *x, const char *path, size_t upto, const YbEntry **ret,
                          size_t *ret_seg) {
        const Node *node = lookup(x, path, strlen(path));
        const Rec *found = NULL;

        if (node)
                for (size_t i = node->head; i; i = x->recs[i - 1].next)
                        if (x->recs[i - 1].seg <= upto) {
                                found = &x->recs[i - 1];
                                break;
                        }
        /* A deletion of an ancestor after the path's newest record takes it too. */
        for (size_t n = strlen(path); n > 0; n--) {
                const Node *a;

                if (path[n - 1] != '/')
                        continue;
                a = lookup(x, path, n - 1);
                if (!a)
                        continue;
                for (size_t i = a->del_head; i; i = x->dels[i - 1].next) {
                        const Rec *d = &x->dels[i - 1];

                        if (found && !newer(d, found->seg, found->pos))
                                break;
                        if (d->seg <= upto) {
                                *ret = NULL;
                                *ret_seg = d->seg;
                                return 1;
                        }
                }
        }
        if (!found)
                return 0;
        *ret = found->e->type == YB_ENTRY_DELETED ? NULL : found->e;
        *ret_seg = found->seg;
        return 1;
}

int restore_segindex_foreach(const SegIndex *x, int (*fn)(void *userdata, const char *path),
                             void *userdata) {
        for (size_t i = 0; i < x->n_nodes; i++) {
                int k = fn(userdata, x->nodes[i].path);

                if (k < 0)
                        return k;
        }
        return 0;
}
