/* catalog/requests.c: requests for off-site copies recorded, decided once only, listed by
 * system, department and state, and counted while pending. */
#include <sqlite3.h>

#include "catalog/requests.h"
#include "tests/unit/test.h"

static YbCatalog *open_catalog(const TestTmpdir *d) {
        _cleanup_free_ char *path = NULL;
        YbCatalog *c = NULL;
        YbCatalogSystem hr = { "hr", "HR", "人社局", "general", "hr.yaml", "h1" },
                        tax = { "tax", "Tax", "税务局", "general", "tax.yaml", "h2" };

        assert_true(asprintf(&path, "%s/catalog.db", d->path) > 0);
        ASSERT_OK(yb_catalog_open(path, &c));
        ASSERT_OK(yb_catalog_put_system(c, &hr, "", 1));
        ASSERT_OK(yb_catalog_put_system(c, &tax, "", 1));
        return c;
}

typedef struct Seen {
        int n;
        int64_t ids[8];
} Seen;

static int seen(void *ud, const YbRequest *r) {
        Seen *s = ud;

        if (s->n < 8)
                s->ids[s->n] = r->id;
        s->n++;
        return 0;
}

static void count(void *ud, const char *system, int64_t n) {
        if (streq(system, "hr"))
                *(int64_t *) ud = n;
}

TEST(request_recorded_and_read_back) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbRequest r = {};
        int64_t id = 0;

        ASSERT_OK(
                yb_requests_add(c, "hr", "20261121T020000Z-1a2b3c", "年度审计", "zhang", 100, &id));
        ASSERT_GT(id, 0);
        ASSERT_OK(yb_requests_get(c, id, &r));
        ASSERT_STREQ(r.system, "hr");
        ASSERT_STREQ(r.snapshot, "20261121T020000Z-1a2b3c");
        ASSERT_STREQ(r.reason, "年度审计");
        ASSERT_STREQ(r.requested_by, "zhang");
        ASSERT_STREQ(r.department, "人社局");
        ASSERT_EQ(r.requested_usec, 100);
        ASSERT_TRUE(r.decision == NULL);
        ASSERT_EQ(r.job, 0);
        yb_request_done(&r);
        ASSERT_EQ(yb_requests_get(c, id + 1, &r), -ENOENT);
}

TEST(decided_once_only) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbRequest r = {};
        int64_t id = 0, job = 0;

        ASSERT_OK(yb_requests_add(c, "hr", NULL, "why", "zhang", 100, &id));
        ASSERT_OK(yb_catalog_job_add(c, "hr", 3, "copy", "request", 200, &job));
        ASSERT_OK(yb_requests_decide(c, id, "approved", "li", 200, "ok", job));
        ASSERT_EQ(yb_requests_decide(c, id, "refused", "wang", 300, NULL, 0), -EALREADY);
        ASSERT_EQ(yb_requests_decide(c, id + 1, "refused", "wang", 300, NULL, 0), -ENOENT);
        ASSERT_OK(yb_requests_get(c, id, &r));
        ASSERT_STREQ(r.decision, "approved");
        ASSERT_STREQ(r.decided_by, "li");
        ASSERT_STREQ(r.decision_reason, "ok");
        ASSERT_EQ(r.decided_usec, 200);
        ASSERT_EQ(r.job, job);
        ASSERT_STREQ(r.job_state, "queued");
        ASSERT_TRUE(r.snapshot == NULL);
        yb_request_done(&r);
}

TEST(listed_by_system_department_and_state) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        int64_t a = 0, b = 0, t = 0, found = -1, pending = 0;
        Seen s = {};

        ASSERT_OK(yb_requests_add(c, "hr", NULL, "1", "zhang", 100, &a));
        ASSERT_OK(yb_requests_add(c, "hr", "20261121T020000Z-1a2b3c", "2", "zhang", 101, &b));
        ASSERT_OK(yb_requests_add(c, "tax", NULL, "3", "qian", 102, &t));
        ASSERT_OK(yb_requests_decide(c, a, "refused", "li", 200, NULL, 0));

        ASSERT_OK(yb_requests_list(c, NULL, NULL, false, 100, seen, &s));
        ASSERT_EQ(s.n, 3);
        ASSERT_EQ(s.ids[0], t); /* newest first */
        s = (Seen){};
        ASSERT_OK(yb_requests_list(c, NULL, "人社局", false, 100, seen, &s));
        ASSERT_EQ(s.n, 2);
        s = (Seen){};
        ASSERT_OK(yb_requests_list(c, "hr", NULL, true, 100, seen, &s));
        ASSERT_EQ(s.n, 1);
        ASSERT_EQ(s.ids[0], b);
        s = (Seen){};
        ASSERT_OK(yb_requests_list(c, NULL, NULL, false, 1, seen, &s));
        ASSERT_EQ(s.n, 1);

        ASSERT_OK(yb_requests_find_pending(c, "hr", "20261121T020000Z-1a2b3c", &found));
        ASSERT_EQ(found, b);
        ASSERT_OK(yb_requests_find_pending(c, "hr", NULL, &found));
        ASSERT_EQ(found, 0); /* a's is refused */
        ASSERT_OK(yb_requests_count_pending(c, count, &pending));
        ASSERT_EQ(pending, 1);
}
