/* Removing snapshots (docs/format.md, "Pruning"). A base backup's WAL archive chain
 * (walarchive.h) goes with it: detached first, then the base, then the detached chain removed. A
 * replicator's chain (tier 2) is pruned by whole chains by its own flow: its root is refused
 * while the chain exists. A snapshot under S3 Object Lock (its header's retain-until date, the
 * latest of its objects', is still ahead) is refused before anything of it is touched; on an
 * object store every object of it is checked (a retain-until date ahead, a legal hold) first
 * (prune-objects.c; docs/s3.md, "Object Lock"). */
#include <jansson.h>
#include <stdio.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/graph.h"
#include "core/repo/prune-objects.h"
#include "core/repo/repo.h"
#include "core/repo/segment.h"
#include "core/repo/walarchive.h"

#define NONE YB_GRAPH_NONE

/* A snapshot directory of the listing and the snapshots it needs. */
typedef struct Node {
        const char *id;
        char parent[YB_SNAPSHOT_ID_MAX + 1], base[YB_SNAPSHOT_ID_MAX + 1];
        size_t needs[2]; /* parent and base, as indexes (NONE: none, or not in the listing) */
        size_t refs;     /* how many remaining snapshots need it */
        bool pending, queued, removed;
        bool chained;     /* a tier-2 chain root whose segments/<id> exists: not removed */
        bool wal_archive; /* the root of a WAL archive chain, which goes with it */
        /* Object Lock keeps it until then (seconds), or keeps every remaining snapshot that
         * needs it (then the latest of their dates); 0: neither */
        int64_t locked_until;
        char *held;         /* an object of it under a legal hold (its key), or NULL */
        size_t locked_refs; /* how many of refs are kept by Object Lock */
        int64_t locked_max; /* the latest of their dates */
} Node;

/* The listing's snapshots, and the snapshot graph (core/repo/graph.h) of their parents. */
typedef struct Graph {
        Node *nodes;
        size_t n;
        YbGraph *graph;
} Graph;

static void graph_done(Graph *g) {
        for (size_t i = 0; g->nodes && i < g->n; i++)
                free(g->nodes[i].held);
        free(g->nodes);
        yb_graph_free(g->graph);
}

/* What a damaged snapshot's header claims it needs, read without checking its signature: a
 * snapshot whose header was damaged may yet be repaired (from its off-site twin), so what it
 * names is kept too. Nothing if the header cannot be read as JSON. */
static void read_claims(YbRepo *r, Node *node) {
        _cleanup_free_ char *path = yb_repo_snapshot_path(r, node->id, "header");
        YbBuf b = YB_BUF_INIT;
        json_t *j = NULL;
        json_error_t err;

        if (path && yb_store_read_file(r->store, path, YB_HEADER_MAX_BYTES, &b) >= 0 &&
            b.size > 0) {
                const char *nl = memchr(b.data, '\n', b.size);

                j = json_loadb((const char *) b.data, nl ? (size_t) (nl - (char *) b.data) : b.size,
                               0, &err);
        }
        if (json_is_object(j)) {
                const char *p = json_string_value(json_object_get(j, "parent"));
                const char *s = json_string_value(json_object_get(j, "base"));

                if (p && yb_snapshot_id_valid(p))
                        snprintf(node->parent, sizeof(node->parent), "%s", p);
                if (s && yb_snapshot_id_valid(s))
                        snprintf(node->base, sizeof(node->base), "%s", s);
        }
        json_decref(j);
        yb_buf_done(&b);
}

static int graph_build(YbRepo *r, const YbSnapshotList *l, Graph *g) {
        _cleanup_free_ YbGraphPair *pairs = NULL;
        int k;

        g->n = l->n + l->n_broken;
        g->nodes = new0(Node, g->n + 1);
        if (!g->nodes)
                return -ENOMEM;
        for (size_t i = 0; i < l->n; i++) {
                Node *node = &g->nodes[i];

                node->id = l->items[i]->id;
                snprintf(node->parent, sizeof(node->parent), "%s", l->items[i]->parent);
                snprintf(node->base, sizeof(node->base), "%s", l->items[i]->base);
        }
        for (size_t i = 0; i < l->n_broken; i++) {
                const YbBrokenSnapshot *b = &l->broken[i];
                Node *node = &g->nodes[l->n + i];

                /* A header that could not be judged (an I/O error, no permission) might need
                 * anything: then prune nothing. */
                if (b->error != -EBADMSG && b->error != -ENOENT && b->error != -ENOTDIR &&
                    b->error != -EPROTONOSUPPORT)
                        return log_debug_errno(b->error, "Cannot read the header of %s: %m", b->id);
                node->id = b->id;
                read_claims(r, node);
        }
        pairs = new0(YbGraphPair, g->n + 1);
        if (!pairs)
                return -ENOMEM;
        for (size_t i = 0; i < g->n; i++)
                pairs[i] = (YbGraphPair){ g->nodes[i].id, g->nodes[i].parent };
        k = yb_graph_new(pairs, g->n, &g->graph);
        if (k < 0)
                return k;
        for (size_t i = 0; i < g->n; i++) {
                Node *node = &g->nodes[i];
                size_t parent = yb_graph_parent(g->graph, i);

                /* Not in the listing, or names itself: not a reason to keep anything. */
                node->needs[0] = parent < g->n && parent != i ? parent : NONE;
                node->needs[1] = *node->base ? yb_graph_find(g->graph, node->base) : NONE;
                if (node->needs[1] == i || node->needs[1] == node->needs[0])
                        node->needs[1] = NONE;
                for (int j = 0; j < 2; j++)
                        if (node->needs[j] != NONE)
                                g->nodes[node->needs[j]].refs++;
        }
        return 0;
}

int yb_repo_locked_until(YbRepo *r, const char *id, int64_t *ret) {
        _cleanup_free_ char *path = yb_repo_snapshot_path(r, id, "header");
        YbStoreStat st;
        int k;

        if (!path)
                return -ENOMEM;
        /* Only S3 has Object Lock: elsewhere no date to read, and no store operation spent. */
        if (!yb_store_objects(r->store)) {
                *ret = 0;
                return 0;
        }
        k = yb_store_stat(r->store, path, &st);
        if (k == -ENOENT)
                st.retain_until = 0; /* a damaged snapshot without its header: nothing keeps it */
        else if (k < 0)
                return k;
        *ret = st.retain_until;
        return 0;
}

/* Until when Object Lock keeps node (seconds), 0 when it no longer does: its header's date and,
 * for a base with a WAL archive chain, the chain's (written after it). */
static int node_locked_until(YbRepo *r, Node *node, int64_t now_sec, int64_t *ret) {
        int64_t until = 0, chain = 0, objects = 0;
        int k;

        k = yb_repo_locked_until(r, node->id, &until);
        if (k >= 0 && node->wal_archive)
                k = yb_segments_chain_locked_until(r, node->id, &chain);
        /* Each object is locked from its own writing, and a legal hold has no date: every one is
         * asked before anything of the snapshot goes. */
        if (k >= 0 && yb_store_objects(r->store))
                k = yb_prune_objects_check(r, node->id, now_sec, &objects, &node->held);
        if (k < 0)
                return k;
        until = MAX(MAX(until, chain), objects);
        *ret = until > now_sec ? until : 0;
        return 0;
}

/* Takes one snapshot out of snapshots/ in one rename, then deletes it where no reader looks. On
 * an object store, which cannot rename a directory, the header goes first (from then on the
 * snapshot is not one: an incomplete one that the next lock holder removes), then the rest;
 * *partly says what a refused delete left (prune-objects.h). */
static int remove_snapshot(YbRepo *r, const char *id, char **partly) {
        _cleanup_free_ char *dir = yb_repo_snapshot_path(r, id, NULL),
                            *snapshots = yb_repo_path(r, "snapshots"),
                            *tmp = yb_repo_path(r, "tmp"), *aside = NULL;
        int k;

        if (yb_store_objects(r->store))
                return yb_prune_objects_remove(r, id, partly);
        if (!dir || !snapshots || !tmp || asprintf(&aside, "%s/prune-%s", tmp, id) < 0)
                return -ENOMEM;
        k = yb_store_mkdir(r->store, tmp);
        if (k < 0)
                return k;
        /* A leftover of an earlier prune of the same id, if a crash came before the cleanup of
         * tmp/: the rename below never replaces anything. */
        k = yb_store_remove_tree(r->store, aside);
        if (k < 0)
                return k;
        k = yb_store_rename(r->store, dir, aside);
        if (k < 0)
                return k;
        /* The rename is durable before any file of the snapshot goes, so that a crash can never
         * bring back snapshots/<id> with files missing. */
        k = yb_store_sync_dir(r->store, snapshots);
        if (k >= 0)
                k = yb_store_sync_dir(r->store, tmp);
        if (k < 0)
                return k;
        k = yb_store_remove_tree(r->store, aside);
        if (k < 0)
                return k;
        return yb_store_sync_dir(r->store, tmp);
}

/* A base with a WAL archive chain: the chain is taken away first (one rename: from then on it
 * does not exist), then the base, then the detached chain's files. A crash in between leaves a
 * base without its chain, planned to go anyway, or a leftover under tmp/ that the next cleanup
 * removes; never a chain without its base. */
static int remove_with_chain(YbRepo *r, const Node *node, char **partly) {
        int k;

        if (node->wal_archive) {
                k = yb_segments_detach_chain(r, node->id);
                if (k < 0 && k != -ENOENT)
                        return k;
        }
        k = remove_snapshot(r, node->id, partly);
        if (k >= 0 && node->wal_archive)
                k = yb_segments_remove_detached(r, node->id);
        return k;
}

/* A pending snapshot whose every remaining child Object Lock keeps is kept by the lock too, until
 * the latest of their dates: what the lock keeps, from the locked snapshots down to the full. */
static void propagate_locks(Graph *g, size_t *queue) {
        size_t head = 0, tail = 0;

        for (size_t i = 0; i < g->n; i++)
                if (g->nodes[i].pending && g->nodes[i].locked_until)
                        queue[tail++] = i;
        while (head < tail) {
                const Node *node = &g->nodes[queue[head++]];

                for (int j = 0; j < 2; j++) {
                        Node *need;

                        if (node->needs[j] == NONE)
                                continue;
                        need = &g->nodes[node->needs[j]];
                        need->locked_refs++;
                        need->locked_max = MAX(need->locked_max, node->locked_until);
                        if (need->pending && !need->removed && !need->chained &&
                            !need->locked_until && need->locked_refs == need->refs) {
                                need->locked_until = need->locked_max;
                                queue[tail++] = node->needs[j];
                        }
                }
        }
}

static void report(YbPruneFn fn, void *userdata, const char *id, int error, const char *child) {
        if (fn)
                fn(userdata, id, error, child);
}

int yb_repo_prune_many(YbRepo *r, const char *const *ids, size_t n, YbPruneFn fn, void *userdata) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(graph_done) Graph g = { 0 };
        _cleanup_free_ size_t *queue = NULL;
        size_t head = 0, tail = 0;
        int64_t now_sec = yb_now_ns() / 1000000000LL;
        int k, first = 0;

        assert(r->locked);
        k = yb_repo_list(r, &l);
        if (k < 0)
                return k;
        k = graph_build(r, &l, &g);
        if (k < 0)
                return k;
        queue = new0(size_t, g.n + 1);
        if (!queue)
                return -ENOMEM;

        for (size_t i = 0; i < n; i++) {
                size_t x;

                if (!yb_snapshot_id_valid(ids[i])) {
                        report(fn, userdata, ids[i], -EINVAL, NULL);
                        first = first ?: -EINVAL;
                        continue;
                }
                x = yb_graph_find(g.graph, ids[i]);
                if (x == NONE) {
                        report(fn, userdata, ids[i], -ENOENT, NULL);
                        first = first ?: -ENOENT;
                        continue;
                }
                g.nodes[x].pending = true;
                /* A chain root goes after its segments (yb_segments_prune_chain), never before:
                 * they would be left without the state they build on. */
                k = yb_segments_chain_exists(r, ids[i]);
                /* ... unless the chain is the base's archived WAL, which goes with it. */
                if (k > 0)
                        k = yb_walarchive_chain_is_archive(r, ids[i]) > 0 ? 2 : 1;
                if (k < 0)
                        return k;
                g.nodes[x].chained = k == 1;
                g.nodes[x].wal_archive = k == 2;
                k = node_locked_until(r, &g.nodes[x], now_sec, &g.nodes[x].locked_until);
                if (k < 0)
                        return k;
        }
        /* Kahn's order: a snapshot goes once nothing that remains needs it. */
        for (size_t i = 0; i < g.n; i++)
                if (g.nodes[i].pending && g.nodes[i].refs == 0 && !g.nodes[i].chained &&
                    !g.nodes[i].locked_until && !g.nodes[i].held) {
                        g.nodes[i].queued = true;
                        queue[tail++] = i;
                }
        while (head < tail) {
                Node *node = &g.nodes[queue[head++]];
                _cleanup_free_ char *partly = NULL;

                k = remove_with_chain(r, node, &partly);
                if (k == -EPERM && !partly && yb_store_objects(r->store) &&
                    yb_repo_locked_until(r, node->id, &node->locked_until) >= 0 &&
                    node->locked_until > 0) {
                        /* The store's clock is ahead of ours: its lock refused the header, the
                         * first object deleted, so nothing of the snapshot was touched. Kept
                         * (and reported) as any snapshot under the lock. */
                        node->locked_until = MAX(node->locked_until, now_sec + 1);
                        continue;
                }
                report(fn, userdata, node->id, k, partly);
                if (k < 0)
                        return log_debug_errno(k, "Failed to prune snapshot %s: %m%s%s", node->id,
                                               partly ? "; partly pruned: " : "", partly ?: "");
                log_debug("Pruned snapshot %s.", node->id);
                node->removed = true;
                for (int j = 0; j < 2; j++) {
                        Node *need;

                        if (node->needs[j] == NONE)
                                continue;
                        need = &g.nodes[node->needs[j]];
                        assert(need->refs > 0);
                        if (--need->refs == 0 && need->pending && !need->queued && !need->chained &&
                            !need->locked_until && !need->held) {
                                need->queued = true;
                                queue[tail++] = node->needs[j];
                        }
                }
        }
        propagate_locks(&g, queue);
        for (size_t i = 0; i < g.n; i++) {
                const char *child = NULL;

                if (!g.nodes[i].pending || g.nodes[i].removed)
                        continue;
                if (g.nodes[i].held) {
                        log_debug("Not pruning snapshot %s: a legal hold on %s keeps it.",
                                  g.nodes[i].id, g.nodes[i].held);
                        report(fn, userdata, g.nodes[i].id, -EBUSY, g.nodes[i].held);
                        first = first ?: -EPERM;
                        continue;
                }
                if (g.nodes[i].locked_until) {
                        char date[YB_PRUNE_DATE_MAX];

                        yb_prune_format_date(g.nodes[i].locked_until, date);
                        log_debug("Not pruning snapshot %s: Object Lock keeps it until %s.",
                                  g.nodes[i].id, date);
                        report(fn, userdata, g.nodes[i].id, -EPERM, date);
                        first = first ?: -EPERM;
                        continue;
                }
                if (g.nodes[i].chained)
                        child = YB_PRUNE_NEEDED_BY_SEGMENTS;
                for (size_t j = 0; j < g.n && !child; j++)
                        if (!g.nodes[j].removed &&
                            (g.nodes[j].needs[0] == i || g.nodes[j].needs[1] == i))
                                child = g.nodes[j].id;
                log_debug("Not pruning snapshot %s: snapshot %s needs it.", g.nodes[i].id,
                          child ? child : "?");
                report(fn, userdata, g.nodes[i].id, -ENOTEMPTY, child);
                first = first ?: -ENOTEMPTY;
        }
        return first;
}

int yb_repo_prune(YbRepo *r, const char *id) {
        return yb_repo_prune_many(r, &id, 1, NULL, NULL);
}
