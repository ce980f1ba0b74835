/* catalog/drills.c: a drill begun is running, with the terms its begin gave; its result is kept
 * once (a second refused), with its figures and body; lists are per system, newest first; the
 * last passed and the last drill of a system; the history before a drill, oldest first and
 * bounded. */
#include "catalog/drills.h"
#include "tests/unit/test.h"

/* A writable string for the records' char * fields. */
#define W(s) ((char[]){ s })

static YbCatalog *open_catalog(const TestTmpdir *d) {
        _cleanup_free_ char *path = NULL;
        YbCatalog *c = NULL;

        assert_true(asprintf(&path, "%s/catalog.db", d->path) > 0);
        ASSERT_OK(yb_catalog_open(path, &c));
        return c;
}

static int64_t begin(YbCatalog *c, const char *system, int64_t at) {
        YbDrill d = {
                .system = (char *) system, /* only read */
                .tier = 1,
                .store = W("local-a"),
                .scenario = W("局部故障"),
                .run_by = W("alice"),
                .host = W("laptop"),
                .started_usec = at,
                .terms = W("{\"objectives\": {\"rto_seconds\": 7200, \"rpo_seconds\": 3600}}"),
        };
        int64_t id = 0;

        ASSERT_OK(yb_drills_begin(c, &d, &id));
        ASSERT_GT(id, 0);
        return id;
}

/* Finishes drill id as state, with figures (-1: not achieved). */
static int finish(YbCatalog *c, int64_t id, const char *state, int64_t rto_ms) {
        YbDrill d = {
                .id = id,
                .state = (char *) state,
                .reported_usec = 5000,
                .host = W("laptop-2"),
                .failed_phase = streq(state, YB_DRILL_FAILED) ? W("verify") : NULL,
                .error = streq(state, YB_DRILL_FAILED) ? W("data/a: another hash") : NULL,
                .point = W("20261206T081500Z-1a2b3c"),
                .point_usec = 900,
                .rto_ms = rto_ms,
                .rpo_seconds = rto_ms < 0 ? -1 : 42,
                .rto_met = rto_ms < 0 ? -1 : 1,
                .rpo_met = rto_ms < 0 ? -1 : 0,
                .body = W("{\"type\": \"yunbak-drill\"}\n"),
        };

        return yb_drills_finish(c, &d);
}

TEST(begun_is_running) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbDrill r = {}, bad = {
                .system = W("hr"), .tier = 4, .store = W("s"), .scenario = W("x"), .run_by = W("a")
        };
        int64_t id = begin(c, "hr", 1000), other;

        ASSERT_OK(yb_drills_get(c, id, &r));
        ASSERT_EQ(r.id, id);
        ASSERT_STREQ(r.system, "hr");
        ASSERT_EQ(r.tier, 1);
        ASSERT_STREQ(r.store, "local-a");
        ASSERT_STREQ(r.scenario, "局部故障");
        ASSERT_STREQ(r.run_by, "alice");
        ASSERT_STREQ(r.host, "laptop");
        ASSERT_STREQ(r.state, YB_DRILL_RUNNING);
        ASSERT_EQ(r.started_usec, 1000);
        ASSERT_EQ(r.reported_usec, 0);
        ASSERT_EQ(r.rto_ms, -1);
        ASSERT_EQ(r.rpo_seconds, -1);
        ASSERT_EQ(r.rto_met, -1);
        ASSERT_EQ(r.rpo_met, -1);
        ASSERT_TRUE(r.body == NULL);
        ASSERT_TRUE(r.point == NULL);
        /* The terms the begin gave, kept for the result's judgement. */
        ASSERT_STREQ(r.terms, "{\"objectives\": {\"rto_seconds\": 7200, \"rpo_seconds\": 3600}}");
        yb_drill_done(&r);
        ASSERT_ERR(yb_drills_get(c, id + 1, &r), ENOENT);
        ASSERT_ERR(yb_drills_begin(c, &bad, &other), EINVAL);
}

TEST(finished_once) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbDrill r = {};
        int64_t id = begin(c, "hr", 1000);

        ASSERT_ERR(finish(c, id, YB_DRILL_RUNNING, 10), EINVAL);
        ASSERT_OK(finish(c, id, YB_DRILL_PASSED, 624743));
        ASSERT_ERR(finish(c, id, YB_DRILL_FAILED, -1), EALREADY);
        ASSERT_ERR(finish(c, id + 1, YB_DRILL_PASSED, 1), ENOENT);
        ASSERT_OK(yb_drills_get(c, id, &r));
        ASSERT_STREQ(r.state, YB_DRILL_PASSED);
        ASSERT_EQ(r.reported_usec, 5000);
        ASSERT_STREQ(r.host, "laptop-2");
        ASSERT_STREQ(r.point, "20261206T081500Z-1a2b3c");
        ASSERT_EQ(r.point_usec, 900);
        ASSERT_EQ(r.rto_ms, 624743);
        ASSERT_EQ(r.rpo_seconds, 42);
        ASSERT_EQ(r.rto_met, 1);
        ASSERT_EQ(r.rpo_met, 0);
        ASSERT_TRUE(r.failed_phase == NULL);
        ASSERT_STREQ(r.body, "{\"type\": \"yunbak-drill\"}\n");
        yb_drill_done(&r);

        /* A failed one keeps its phase and error, and no figures. */
        id = begin(c, "hr", 2000);
        ASSERT_OK(finish(c, id, YB_DRILL_FAILED, -1));
        ASSERT_OK(yb_drills_get(c, id, &r));
        ASSERT_STREQ(r.state, YB_DRILL_FAILED);
        ASSERT_STREQ(r.failed_phase, "verify");
        ASSERT_STREQ(r.error, "data/a: another hash");
        ASSERT_EQ(r.rto_ms, -1);
        ASSERT_EQ(r.rto_met, -1);
        yb_drill_done(&r);
}

TEST(listed_newest_first_per_system) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        int64_t a = begin(c, "hr", 1000), b = begin(c, "tax", 2000), e = begin(c, "hr", 3000);
        YbDrill *v = NULL;
        size_t n = 0;

        ASSERT_OK(yb_drills_list(c, "hr", &v, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(v[0].id, e);
        ASSERT_EQ(v[1].id, a);
        ASSERT_TRUE(v[0].body == NULL);
        yb_drills_free(v, n);
        ASSERT_OK(yb_drills_list(c, NULL, &v, &n));
        ASSERT_EQ(n, 3);
        ASSERT_EQ(v[0].id, e);
        ASSERT_EQ(v[1].id, b);
        ASSERT_EQ(v[2].id, a);
        yb_drills_free(v, n);
        ASSERT_OK(yb_drills_list(c, "nobody", &v, &n));
        ASSERT_EQ(n, 0);
        yb_drills_free(v, n);
}

TEST(last_passed_and_last) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbDrill r = {};
        int64_t a, b;

        ASSERT_ERR(yb_drills_last_passed(c, "hr", &r), ENOENT);
        ASSERT_ERR(yb_drills_last(c, "hr", &r), ENOENT);
        a = begin(c, "hr", 1000);
        ASSERT_ERR(yb_drills_last_passed(c, "hr", &r), ENOENT); /* running is no pass */
        ASSERT_OK(finish(c, a, YB_DRILL_PASSED, 10));
        b = begin(c, "hr", 2000);
        ASSERT_OK(finish(c, b, YB_DRILL_FAILED, -1));
        (void) begin(c, "tax", 3000);
        ASSERT_OK(yb_drills_last_passed(c, "hr", &r));
        ASSERT_EQ(r.id, a);
        ASSERT_TRUE(r.body == NULL);
        yb_drill_done(&r);
        ASSERT_OK(yb_drills_last(c, "hr", &r));
        ASSERT_EQ(r.id, b);
        ASSERT_STREQ(r.state, YB_DRILL_FAILED);
        yb_drill_done(&r);
}

TEST(history_before_a_drill) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        int64_t ids[15], running, now;
        YbDrill *v = NULL;
        size_t n = 0;

        for (int i = 0; i < 15; i++) {
                ids[i] = begin(c, "hr", 1000 * (i + 1));
                ASSERT_OK(finish(c, ids[i], i % 3 ? YB_DRILL_PASSED : YB_DRILL_FAILED,
                                 i % 3 ? 100 * i : -1));
        }
        (void) begin(c, "tax", 15500);   /* another system's */
        running = begin(c, "hr", 15600); /* never finished: not history */
        now = begin(c, "hr", 16000);

        ASSERT_OK(yb_drills_history(c, "hr", now, YB_DRILL_HISTORY_MAX, &v, &n));
        ASSERT_EQ(n, YB_DRILL_HISTORY_MAX);
        for (size_t i = 0; i < n; i++) /* the newest 12, oldest first */
                ASSERT_EQ(v[i].id, ids[3 + i]);
        ASSERT_EQ(v[1].rto_ms, 400);
        ASSERT_EQ(v[0].rto_ms, -1); /* ids[3]: failed */
        yb_drills_free(v, n);
        ASSERT_NE(running, 0);

        /* Before the first: nothing. Before the third: the first two. */
        ASSERT_OK(yb_drills_history(c, "hr", ids[0], YB_DRILL_HISTORY_MAX, &v, &n));
        ASSERT_EQ(n, 0);
        yb_drills_free(v, n);
        ASSERT_OK(yb_drills_history(c, "hr", ids[2], YB_DRILL_HISTORY_MAX, &v, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(v[0].id, ids[0]);
        ASSERT_EQ(v[1].id, ids[1]);
        yb_drills_free(v, n);
}
