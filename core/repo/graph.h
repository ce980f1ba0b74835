/* core/repo/graph.h: the snapshot graph: a snapshot by id, its parent, its chain of ancestors and
 * whether that chain is whole. Built from (id, parent) pairs that the caller gives, and pure: no
 * store, no header, nothing read or written. Pruning (core/repo/prune.c), retention
 * (policies/retention.c) and the prune flow that sets snapshots aside with what they are built
 * on (policies/retention-apply.c) all ask it.
 *
 * A snapshot's index is that of its pair. The pairs come from stores, so they may be bad: a parent
 * that is not in the graph, a snapshot that names itself, parents that loop. Every walk here
 * ends on such data, and visits each snapshot at most once. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/macro.h"

/* Not a snapshot of the graph: an id not found, or the parent of a snapshot that names none. */
#define YB_GRAPH_NONE SIZE_MAX
/* The parent of a snapshot that names one the graph does not hold. */
#define YB_GRAPH_MISSING (SIZE_MAX - 1)

/* One snapshot of the graph. The strings are borrowed. */
typedef struct YbGraphPair {
        const char *id;     /* not NULL, not empty, unique in the graph */
        const char *parent; /* NULL or "": none (a full) */
} YbGraphPair;

typedef struct YbGraph YbGraph;

/* Builds the graph of the n snapshots of pairs: index i is pairs[i]. The strings are borrowed and
 * must outlive the graph; the array need not. Returns 0, -EINVAL (pairs NULL with n > 0, a NULL
 * or empty id, two snapshots with the same id) or -ENOMEM. On success the caller owns *ret. */
int yb_graph_new(const YbGraphPair *pairs, size_t n, YbGraph **ret);
YbGraph *yb_graph_free(YbGraph *g); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(YbGraph, yb_graph_free);

/* How many snapshots the graph holds. */
size_t yb_graph_size(const YbGraph *g);
/* The index of the snapshot with this id, or YB_GRAPH_NONE. */
size_t yb_graph_find(const YbGraph *g, const char *id);
/* The index of snapshot i's parent; YB_GRAPH_NONE if it names none, YB_GRAPH_MISSING if the
 * graph does not hold the one it names, i itself if it names itself. */
size_t yb_graph_parent(const YbGraph *g, size_t i);

/* Finds the snapshots whose chain is broken: ret_missing[i] (one per snapshot) is NULL when
 * snapshot i's chain of ancestors ends at a snapshot without a parent; else the id of the first
 * ancestor the graph does not hold (the parent string of the pair that names it), or, for parents
 * that loop, the id of the snapshot where the loop closes. Returns how many chains are broken
 * (>= 0), or -ENOMEM with ret_missing untouched. */
int yb_graph_check_chains(const YbGraph *g, const char **ret_missing);

/* Marks snapshot i and its ancestors in marked (one per snapshot), parent after parent, up to a
 * snapshot without a parent, one the graph does not hold, or one already marked: walks from many
 * snapshots mark each snapshot once, and a loop of parents ends. Returns how many it marked. */
size_t yb_graph_mark_chain(const YbGraph *g, size_t i, bool *marked);
