/* catalog/decommissions.c: a request recorded and read back, one live decommission per system,
 * every field written back, the states that stop a system's tiers, steps kept in their first
 * order when recorded again, and certificates kept as issued. */
#include "catalog/decommissions.h"
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

static int64_t request(YbCatalog *c, const char *system, int64_t at) {
        YbDecommission d = {
                .system = (char *) system, /* only read */
                .department = W("人社局"),
                .reason = W("迁出政务云"),
                .not_before_usec = at + 1000,
                .requested_by = W("zhang"),
                .requested_usec = at,
        };
        int64_t id = 0;

        ASSERT_OK(yb_decommissions_add(c, &d, &id));
        ASSERT_GT(id, 0);
        return id;
}

TEST(request_recorded_and_read_back) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbDecommission r = {};
        int64_t id = request(c, "hr", 100);

        ASSERT_OK(yb_decommissions_get(c, id, &r));
        ASSERT_EQ(r.id, id);
        ASSERT_STREQ(r.system, "hr");
        ASSERT_STREQ(r.department, "人社局");
        ASSERT_STREQ(r.state, YB_DECOM_REQUESTED);
        ASSERT_STREQ(r.reason, "迁出政务云");
        ASSERT_STREQ(r.requested_by, "zhang");
        ASSERT_EQ(r.requested_usec, 100);
        ASSERT_EQ(r.not_before_usec, 1100);
        ASSERT_EQ(r.updated_usec, 100);
        ASSERT_TRUE(r.decided_by == NULL);
        ASSERT_TRUE(r.export_store == NULL);
        ASSERT_EQ(r.export_job, 0);
        ASSERT_EQ(r.certificate, 0);
        yb_decommission_done(&r);
        ASSERT_ERR(yb_decommissions_get(c, id + 1, &r), ENOENT);
}

TEST(one_live_per_system) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbDecommission r = {}, again = { .system = W("hr"),
                                         .department = W("人社局"),
                                         .reason = W("x"),
                                         .requested_by = W("li"),
                                         .requested_usec = 300 };
        int64_t id = request(c, "hr", 100), other = 0, tax;

        ASSERT_ERR(yb_decommissions_add(c, &again, &other), EEXIST);
        ASSERT_EQ(other, id);
        tax = request(c, "tax", 200); /* another system is not concerned */
        ASSERT_NE(tax, id);
        ASSERT_OK(yb_decommissions_current(c, "hr", &r));
        ASSERT_EQ(r.id, id);

        /* Withdrawn: no longer live, and a new request may be made. */
        free(r.state);
        r.state = strdup(YB_DECOM_WITHDRAWN);
        ASSERT_OK(yb_decommissions_update(c, &r));
        yb_decommission_done(&r);
        ASSERT_ERR(yb_decommissions_current(c, "hr", &r), ENOENT);
        ASSERT_OK(yb_decommissions_add(c, &again, &other));
        ASSERT_GT(other, tax);
        ASSERT_OK(yb_decommissions_current(c, "hr", &r));
        ASSERT_EQ(r.id, other);
        ASSERT_EQ(r.not_before_usec, 0);
        yb_decommission_done(&r);
        ASSERT_ERR(yb_decommissions_current(c, "nobody", &r), ENOENT);
}

TEST(list_newest_first_by_system) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbDecommission *v = NULL;
        size_t n = 0;
        int64_t hr = request(c, "hr", 100), tax = request(c, "tax", 200);

        ASSERT_OK(yb_decommissions_list(c, NULL, &v, &n));
        ASSERT_EQ(n, 2);
        ASSERT_EQ(v[0].id, tax);
        ASSERT_EQ(v[1].id, hr);
        yb_decommissions_free(v, n);
        ASSERT_OK(yb_decommissions_list(c, "hr", &v, &n));
        ASSERT_EQ(n, 1);
        ASSERT_STREQ(v[0].system, "hr");
        yb_decommissions_free(v, n);
        ASSERT_OK(yb_decommissions_list(c, "nobody", &v, &n));
        ASSERT_EQ(n, 0);
        yb_decommissions_free(v, n);
}

TEST(every_field_written_back) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbDecommission r = {}, w = {};
        int64_t id = request(c, "hr", 100);

        ASSERT_OK(yb_decommissions_get(c, id, &w));
        ASSERT_FALSE(yb_decommissions_stopped(c, "hr"));
        free(w.state);
        w.state = strdup(YB_DECOM_EXECUTING);
        w.decided_by = strdup("li");
        w.decided_usec = 200;
        w.decision_note = strdup("同意");
        w.export_store = strdup("handover");
        w.export_key_id = strdup("00112233aabbccdd");
        w.export_job = 9;
        w.export_snapshot = strdup("20261206T020000Z-1a2b3c");
        w.export_by = strdup("zhang");
        w.export_usec = 300;
        w.export_note = strdup("restored and checked");
        w.executed_by = strdup("li");
        w.execute_started_usec = 400;
        w.execute_finished_usec = 500;
        w.verified_usec = 600;
        w.certificate = 3;
        w.last_error = strdup("key copy 2 is still held");
        w.updated_usec = 700;
        ASSERT_OK(yb_decommissions_update(c, &w));
        ASSERT_OK(yb_decommissions_get(c, id, &r));
        ASSERT_STREQ(r.state, YB_DECOM_EXECUTING);
        ASSERT_STREQ(r.decided_by, "li");
        ASSERT_EQ(r.decided_usec, 200);
        ASSERT_STREQ(r.decision_note, "同意");
        ASSERT_STREQ(r.export_store, "handover");
        ASSERT_STREQ(r.export_key_id, "00112233aabbccdd");
        ASSERT_EQ(r.export_job, 9);
        ASSERT_STREQ(r.export_snapshot, "20261206T020000Z-1a2b3c");
        ASSERT_STREQ(r.export_by, "zhang");
        ASSERT_EQ(r.export_usec, 300);
        ASSERT_STREQ(r.export_note, "restored and checked");
        ASSERT_STREQ(r.executed_by, "li");
        ASSERT_EQ(r.execute_started_usec, 400);
        ASSERT_EQ(r.execute_finished_usec, 500);
        ASSERT_EQ(r.verified_usec, 600);
        ASSERT_EQ(r.certificate, 3);
        ASSERT_STREQ(r.last_error, "key copy 2 is still held");
        ASSERT_EQ(r.updated_usec, 700);
        ASSERT_TRUE(yb_decommissions_stopped(c, "hr"));
        ASSERT_FALSE(yb_decommissions_stopped(c, "tax"));
        yb_decommission_done(&r);

        /* Cleared fields come back unset. */
        free(w.last_error);
        w.last_error = NULL;
        w.export_job = 0;
        ASSERT_OK(yb_decommissions_update(c, &w));
        ASSERT_OK(yb_decommissions_get(c, id, &r));
        ASSERT_TRUE(r.last_error == NULL);
        ASSERT_EQ(r.export_job, 0);
        yb_decommission_done(&r);

        w.id = id + 100;
        ASSERT_ERR(yb_decommissions_update(c, &w), ENOENT);
        yb_decommission_done(&w);
}

TEST(steps_keep_their_order) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbDecomStep *v = NULL;
        size_t n = 0;
        int64_t id = request(c, "hr", 100);
        YbDecomStep stop = { .step = W("stop"),
                             .target = W("-"),
                             .state = W("running"),
                             .started_usec = 10 },
                    store = { .step = W("store"),
                              .target = W("local"),
                              .state = W("running"),
                              .started_usec = 20 };

        ASSERT_OK(yb_decom_steps_put(c, id, &stop));
        ASSERT_OK(yb_decom_steps_put(c, id, &store));
        stop.state = W("done");
        stop.finished_usec = 15;
        stop.detail = W("tiers stopped");
        stop.artifact = W("{\"kind\":\"none\"}");
        ASSERT_OK(yb_decom_steps_put(c, id, &stop));
        ASSERT_OK(yb_decom_steps_list(c, id, &v, &n));
        ASSERT_EQ(n, 2);
        ASSERT_STREQ(v[0].step, "stop");
        ASSERT_STREQ(v[0].state, "done");
        ASSERT_EQ(v[0].started_usec, 10);
        ASSERT_EQ(v[0].finished_usec, 15);
        ASSERT_STREQ(v[0].detail, "tiers stopped");
        ASSERT_STREQ(v[0].artifact, "{\"kind\":\"none\"}");
        ASSERT_LT(v[0].seq, v[1].seq);
        ASSERT_STREQ(v[1].target, "local");
        ASSERT_EQ(v[1].finished_usec, 0);
        ASSERT_TRUE(v[1].detail == NULL);
        yb_decom_steps_free(v, n);
        ASSERT_OK(yb_decom_steps_list(c, id + 1, &v, &n));
        ASSERT_EQ(n, 0);
        yb_decom_steps_free(v, n);
}

TEST(certificate_kept_as_issued) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        _cleanup_free_ char *system = NULL, *body = NULL;
        const char *doc = "{\"type\": \"yunbak-decommission-certificate\", \"id\": 1}\n";
        int64_t cert = 0;

        ASSERT_OK(yb_certificates_add(c, "hr", 7, 900, doc, &cert));
        ASSERT_GT(cert, 0);
        ASSERT_OK(yb_certificates_get(c, cert, &system, &body));
        ASSERT_STREQ(system, "hr");
        ASSERT_STREQ(body, doc);
        ASSERT_ERR(yb_certificates_get(c, cert + 1, &system, &body), ENOENT);
}
