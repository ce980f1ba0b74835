/* The snapshot graph (core/repo/graph.h): lookups by id, parents, whole and broken chains, and
 * walks that end on bad data (a parent that is gone, parents that loop, a snapshot that names
 * itself). */
#include "core/repo/graph.h"
#include "tests/unit/test.h"

#define N_OF(a) ELEMENTSOF(a)

static YbGraph *graph(const YbGraphPair *pairs, size_t n) {
        YbGraph *g = NULL;

        ASSERT_OK(yb_graph_new(pairs, n, &g));
        ASSERT_EQ(yb_graph_size(g), n);
        return g;
}

/* f <- d <- i1 <- i2, given newest first: every snapshot is found, each one's parent is the one
 * before it, every chain is whole, and a walk from the newest marks all four. */
TEST(a_chain) {
        static const YbGraphPair p[] = {
                { "i2", "i1" },
                { "i1", "d" },
                { "d", "f" },
                { "f", NULL },
        };
        _cleanup_(yb_graph_freep) YbGraph *g = graph(p, N_OF(p));
        const char *missing[N_OF(p)] = { "x", "x", "x", "x" };
        bool marked[N_OF(p)] = {};

        for (size_t i = 0; i < N_OF(p); i++)
                ASSERT_EQ(yb_graph_find(g, p[i].id), i);
        ASSERT_EQ(yb_graph_find(g, "i3"), YB_GRAPH_NONE);
        ASSERT_EQ(yb_graph_find(g, ""), YB_GRAPH_NONE);
        ASSERT_EQ(yb_graph_parent(g, 0), 1);
        ASSERT_EQ(yb_graph_parent(g, 1), 2);
        ASSERT_EQ(yb_graph_parent(g, 2), 3);
        ASSERT_EQ(yb_graph_parent(g, 3), YB_GRAPH_NONE);
        ASSERT_EQ(yb_graph_check_chains(g, missing), 0);
        for (size_t i = 0; i < N_OF(p); i++)
                ASSERT_TRUE(missing[i] == NULL);

        /* From d: d and f. Then from i2: only what is left, i2 and i1. */
        ASSERT_EQ(yb_graph_mark_chain(g, 2, marked), 2);
        ASSERT_FALSE(marked[0] || marked[1]);
        ASSERT_TRUE(marked[2] && marked[3]);
        ASSERT_EQ(yb_graph_mark_chain(g, 0, marked), 2);
        ASSERT_TRUE(marked[0] && marked[1]);
        ASSERT_EQ(yb_graph_mark_chain(g, 0, marked), 0);
}

/* i1's parent is gone: i1 and everything built on it is broken at "gone"; f's chain is whole. A
 * walk stops where the parent is missing. An empty parent is no parent. */
TEST(a_missing_parent) {
        static const YbGraphPair p[] = {
                { "f", "" },
                { "i1", "gone" },
                { "i2", "i1" },
                { "i3", "i2" },
        };
        _cleanup_(yb_graph_freep) YbGraph *g = graph(p, N_OF(p));
        const char *missing[N_OF(p)];
        bool marked[N_OF(p)] = {};

        ASSERT_EQ(yb_graph_parent(g, 0), YB_GRAPH_NONE);
        ASSERT_EQ(yb_graph_parent(g, 1), YB_GRAPH_MISSING);
        ASSERT_EQ(yb_graph_find(g, "gone"), YB_GRAPH_NONE);
        ASSERT_EQ(yb_graph_check_chains(g, missing), 3);
        ASSERT_TRUE(missing[0] == NULL);
        ASSERT_STREQ(missing[1], "gone");
        ASSERT_STREQ(missing[2], "gone");
        ASSERT_STREQ(missing[3], "gone");
        ASSERT_TRUE(missing[3] == p[1].parent); /* the caller's string, not a copy */
        ASSERT_EQ(yb_graph_mark_chain(g, 3, marked), 3);
        ASSERT_FALSE(marked[0]);
}

/* Bad data: a and b name each other, c names itself, d is built on the loop. Nothing loops:
 * every chain is broken where its loop closes, and walks stop after each snapshot once. */
TEST(a_cycle_in_bad_data_ends) {
        static const YbGraphPair p[] = {
                { "a", "b" }, { "b", "a" }, { "c", "c" }, { "d", "a" }, { "f", NULL },
        };
        _cleanup_(yb_graph_freep) YbGraph *g = graph(p, N_OF(p));
        const char *missing[N_OF(p)];
        bool marked[N_OF(p)] = {};

        ASSERT_EQ(yb_graph_parent(g, 0), 1);
        ASSERT_EQ(yb_graph_parent(g, 1), 0);
        ASSERT_EQ(yb_graph_parent(g, 2), 2); /* names itself */
        ASSERT_EQ(yb_graph_check_chains(g, missing), 4);
        ASSERT_STREQ(missing[0], "a"); /* the walk from a closes the loop at a */
        ASSERT_STREQ(missing[1], "a");
        ASSERT_STREQ(missing[2], "c");
        ASSERT_STREQ(missing[3], "a");
        ASSERT_TRUE(missing[4] == NULL);
        ASSERT_EQ(yb_graph_mark_chain(g, 3, marked), 3); /* d, a, b; then a again: stop */
        ASSERT_TRUE(marked[0] && marked[1] && marked[3]);
        ASSERT_EQ(yb_graph_mark_chain(g, 2, marked), 1);
        ASSERT_FALSE(marked[4]);
}

/* Three fulls, each with its own chain, in any order: chains never cross, and each walk marks
 * its own chain only. */
TEST(many_roots) {
        static const YbGraphPair p[] = {
                { "f1", NULL },  { "f2", NULL },   { "i2a", "f2" }, { "f3", "" },
                { "i1a", "f1" }, { "i1b", "i1a" }, { "i3a", "f3" },
        };
        _cleanup_(yb_graph_freep) YbGraph *g = graph(p, N_OF(p));
        const char *missing[N_OF(p)];
        bool marked[N_OF(p)] = {};

        ASSERT_EQ(yb_graph_check_chains(g, missing), 0);
        ASSERT_EQ(yb_graph_parent(g, 5), 4);
        ASSERT_EQ(yb_graph_parent(g, 4), 0);
        ASSERT_EQ(yb_graph_parent(g, 2), 1);
        ASSERT_EQ(yb_graph_parent(g, 6), 3);
        ASSERT_EQ(yb_graph_mark_chain(g, 5, marked), 3);
        ASSERT_TRUE(marked[0] && marked[4] && marked[5]);
        ASSERT_FALSE(marked[1] || marked[2] || marked[3] || marked[6]);
        ASSERT_EQ(yb_graph_mark_chain(g, 2, marked), 2);
        ASSERT_EQ(yb_graph_mark_chain(g, 6, marked), 2);
        for (size_t i = 0; i < N_OF(p); i++)
                ASSERT_TRUE(marked[i]);
}

TEST(an_empty_graph) {
        _cleanup_(yb_graph_freep) YbGraph *g = graph(NULL, 0);

        ASSERT_EQ(yb_graph_find(g, "a"), YB_GRAPH_NONE);
        ASSERT_EQ(yb_graph_check_chains(g, NULL), 0);
}

TEST(bad_input_is_refused) {
        YbGraphPair p[] = { { "a", NULL }, { "a", "b" } };
        YbGraph *g = NULL;

        ASSERT_ERR(yb_graph_new(p, 2, &g), EINVAL); /* the same id twice */
        p[1].id = "";
        ASSERT_ERR(yb_graph_new(p, 2, &g), EINVAL);
        p[1].id = NULL;
        ASSERT_ERR(yb_graph_new(p, 2, &g), EINVAL);
        ASSERT_ERR(yb_graph_new(NULL, 2, &g), EINVAL);
        ASSERT_TRUE(g == NULL);
        ASSERT_TRUE(yb_graph_free(NULL) == NULL);
}
