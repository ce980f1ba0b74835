/* core/repo/graph.c: the snapshot graph (core/repo/graph.h): the pairs, an index sorted by id for
 * lookups, and each snapshot's parent found once, when the graph is built. */
#include "core/repo/graph.h"

#include <stdlib.h>
#include <string.h>

struct YbGraph {
        YbGraphPair *pairs;
        size_t n;
        size_t *by_id;  /* indexes sorted by id */
        size_t *parent; /* each one's parent: an index, YB_GRAPH_NONE or YB_GRAPH_MISSING */
};

YbGraph *yb_graph_free(YbGraph *g) {
        if (!g)
                return NULL;
        free(g->pairs);
        free(g->by_id);
        free(g->parent);
        free(g);
        return NULL;
}

static int by_id_cmp(const void *a, const void *b, void *ud) {
        const YbGraphPair *pairs = ud;

        return strcmp(pairs[*(const size_t *) a].id, pairs[*(const size_t *) b].id);
}

size_t yb_graph_find(const YbGraph *g, const char *id) {
        size_t lo = 0, hi = g->n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                int c = strcmp(g->pairs[g->by_id[mid]].id, id);

                if (c == 0)
                        return g->by_id[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return YB_GRAPH_NONE;
}

int yb_graph_new(const YbGraphPair *pairs, size_t n, YbGraph **ret) {
        _cleanup_(yb_graph_freep) YbGraph *g = NULL;

        if (n > 0 && !pairs)
                return -EINVAL;
        for (size_t i = 0; i < n; i++)
                if (!pairs[i].id || !*pairs[i].id)
                        return -EINVAL;
        g = new0(YbGraph, 1);
        if (!g)
                return -ENOMEM;
        g->n = n;
        g->pairs = new0(YbGraphPair, n + 1);
        g->by_id = new0(size_t, n + 1);
        g->parent = new0(size_t, n + 1);
        if (!g->pairs || !g->by_id || !g->parent)
                return -ENOMEM;
        if (n > 0)
                memcpy(g->pairs, pairs, n * sizeof(YbGraphPair));
        for (size_t i = 0; i < n; i++)
                g->by_id[i] = i;
        qsort_r(g->by_id, n, sizeof(size_t), by_id_cmp, g->pairs);
        for (size_t i = 1; i < n; i++)
                if (strcmp(g->pairs[g->by_id[i - 1]].id, g->pairs[g->by_id[i]].id) == 0)
                        return -EINVAL;
        for (size_t i = 0; i < n; i++) {
                const char *p = g->pairs[i].parent;
                size_t k = !p || !*p ? YB_GRAPH_NONE : yb_graph_find(g, p);

                g->parent[i] = k == YB_GRAPH_NONE && p && *p ? YB_GRAPH_MISSING : k;
        }
        *ret = TAKE_PTR(g);
        return 0;
}

size_t yb_graph_size(const YbGraph *g) {
        return g->n;
}

size_t yb_graph_parent(const YbGraph *g, size_t i) {
        assert(i < g->n);
        return g->parent[i];
}

int yb_graph_check_chains(const YbGraph *g, const char **ret_missing) {
        _cleanup_free_ uint8_t *state = new0(uint8_t, g->n + 1); /* 1: on this walk, 2: done */
        _cleanup_free_ size_t *stack = new0(size_t, g->n + 1);
        _cleanup_free_ const char **missing = new0(const char *, g->n + 1);
        size_t broken = 0;

        if (!state || !stack || !missing)
                return -ENOMEM;
        /* Each walk goes up until it meets the end of a chain, a snapshot an earlier walk settled,
         * or one of its own (a loop); then everything it passed shares that answer. */
        for (size_t i = 0; i < g->n; i++) {
                const char *res;
                size_t k = 0, cur = i;

                for (;;) {
                        size_t p;

                        if (state[cur] == 2) {
                                res = missing[cur];
                                break;
                        }
                        if (state[cur] == 1) {
                                res = g->pairs[cur].id;
                                break;
                        }
                        state[cur] = 1;
                        stack[k++] = cur;
                        p = g->parent[cur];
                        if (p == YB_GRAPH_NONE) {
                                res = NULL;
                                break;
                        }
                        if (p == YB_GRAPH_MISSING) {
                                res = g->pairs[cur].parent;
                                break;
                        }
                        cur = p;
                }
                while (k > 0) {
                        size_t c = stack[--k];

                        missing[c] = res;
                        state[c] = 2;
                        broken += res != NULL;
                }
        }
        if (g->n > 0)
                memcpy(ret_missing, missing, g->n * sizeof(const char *));
        return (int) MIN(broken, (size_t) INT32_MAX);
}

size_t yb_graph_mark_chain(const YbGraph *g, size_t i, bool *marked) {
        size_t n = 0;

        /* YB_GRAPH_NONE and YB_GRAPH_MISSING are beyond every index. */
        for (size_t cur = i; cur < g->n && !marked[cur]; cur = g->parent[cur]) {
                marked[cur] = true;
                n++;
        }
        return n;
}
