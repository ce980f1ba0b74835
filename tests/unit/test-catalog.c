#include <sqlite3.h>

#include "catalog/audit.h"
#include "catalog/catalog.h"
#include "catalog/lag.h"
#include "tests/unit/test.h"

static YbCatalog *open_catalog(const TestTmpdir *d) {
        _cleanup_free_ char *path = NULL;
        YbCatalog *c = NULL;

        assert_true(asprintf(&path, "%s/catalog.db", d->path) > 0);
        ASSERT_OK(yb_catalog_open(path, &c));
        return c;
}

static void sql(YbCatalog *c, const char *stmt) {
        char *err = NULL;

        if (sqlite3_exec(yb_catalog_db(c), stmt, NULL, NULL, &err) != SQLITE_OK)
                fail_msg("%s: %s", stmt, err);
}

typedef struct Problems {
        int n;
        int64_t first_seq;
        char first[512];
} Problems;

static void collect(void *ud, int64_t seq, const char *problem) {
        Problems *p = ud;

        if (p->n++ == 0) {
                p->first_seq = seq;
                snprintf(p->first, sizeof(p->first), "%s", problem);
        }
}

static int verify(YbCatalog *c, const uint8_t *pk, Problems *p) {
        *p = (Problems){ 0 };
        return yb_audit_verify(c, pk, collect, p, NULL);
}

static void append_n(YbCatalog *c, int n) {
        for (int i = 0; i < n; i++) {
                char object[32];
                YbAuditRecord rec = { "li.wei", "operator", "api.backup-now", object, "ok", "" };

                snprintf(object, sizeof(object), "hr-portal-%d", i);
                ASSERT_GT(yb_audit_append(c, 1000 + i, &rec), 0);
        }
}

TEST(migrates_and_reopens) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);

        ASSERT_EQ(yb_catalog_schema_version(c), 10);
        ASSERT_OK(yb_catalog_integrity_check(c));
        c = yb_catalog_close(c);
        c = open_catalog(d);
        ASSERT_EQ(yb_catalog_schema_version(c), 10);
}

TEST(lag_hours_merge_and_read_back) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        _cleanup_free_ YbLagHour *v = NULL;
        const int64_t h0 = 1765000800LL * 1000000, h1 = h0 + 3600LL * 1000000;
        YbLagHour a = { h0, 100, 10, 2000, 4000, 9000 }, b = { h0, 300, 0, 1000, 3000, 5000 };
        YbLagHour none = { h1, 20, 20, -1, -1, 41000 };

        ASSERT_OK(yb_lag_hour_put(c, "hr", &a));
        /* yunbakd restarted within the hour: merged, the percentiles of the larger part. */
        ASSERT_OK(yb_lag_hour_put(c, "hr", &b));
        ASSERT_OK(yb_lag_hour_put(c, "hr", &none));
        ASSERT_EQ(yb_lag_hours_get(c, "hr", 0, 10, &v), 2);
        ASSERT_EQ(v[0].hour_usec, h0);
        ASSERT_EQ(v[0].samples, 400);
        ASSERT_EQ(v[0].unknown_seconds, 10);
        ASSERT_EQ(v[0].p50_ms, 1000);
        ASSERT_EQ(v[0].p99_ms, 3000);
        ASSERT_EQ(v[0].max_ms, 9000);
        ASSERT_EQ(v[1].p50_ms, -1); /* nothing known in that hour */
        ASSERT_EQ(v[1].max_ms, 41000);
        free(v);
        v = NULL;
        ASSERT_EQ(yb_lag_hours_get(c, "hr", 0, 1, &v), 1); /* the newest */
        ASSERT_EQ(v[0].hour_usec, h1);
        free(v);
        v = NULL;
        ASSERT_EQ(yb_lag_hours_get(c, "other", 0, 10, &v), 0);
}

TEST(newer_schema_refused) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        _cleanup_free_ char *path = NULL;
        YbCatalog *again = NULL;

        sql(c, "PRAGMA user_version = 99");
        c = yb_catalog_close(c);
        assert_true(asprintf(&path, "%s/catalog.db", d->path) > 0);
        ASSERT_ERR(yb_catalog_open(path, &again), EPROTONOSUPPORT);
        ASSERT_TRUE(again == NULL);
}

TEST(systems_snapshots_jobs) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        YbCatalogSystem s = { "hr-portal", "人事门户", "人社局", "important", "/etc/p.yaml", "h1" };
        YbCatalogSnapshot snap = { .system = "hr-portal",
                                   .store = "local",
                                   .id = "s1",
                                   .level = "full",
                                   .started_usec = 1,
                                   .finished_usec = 2 };
        int64_t job;

        ASSERT_OK(yb_catalog_put_system(c, &s, "version: 1", 10));
        s.policy_hash = "h2";
        ASSERT_OK(yb_catalog_put_system(c, &s, "version: 1 # changed", 20));
        ASSERT_OK(yb_catalog_put_snapshot(c, &snap));
        ASSERT_OK(yb_catalog_put_snapshot(c, &snap)); /* recording twice is not an error */
        snap.id = "s2";
        ASSERT_OK(yb_catalog_put_snapshot(c, &snap));
        ASSERT_EQ(yb_catalog_count_snapshots(c, "hr-portal"), 2);
        ASSERT_OK(yb_catalog_forget_snapshot(c, "hr-portal", "local", "s1"));
        ASSERT_EQ(yb_catalog_count_snapshots(c, "hr-portal"), 1);

        ASSERT_OK(yb_catalog_job_add(c, "hr-portal", 1, "full", "schedule", 100, &job));
        ASSERT_GT(job, 0);
        ASSERT_OK(yb_catalog_job_start(c, job, 110));
        /* A daemon that died leaves it running: the next start marks it failed. */
        ASSERT_EQ(yb_catalog_jobs_interrupted(c, 200), 1);
        ASSERT_EQ(yb_catalog_jobs_interrupted(c, 201), 0);
        ASSERT_OK(
                yb_catalog_job_finish(c, job, YB_JOB_SUCCEEDED, 300, 5, 6, "s2", NULL, NULL, NULL));
}

static int count_row(void *ud, struct sqlite3_stmt *row) {
        (*(int *) ud)++;
        return 0;
}

TEST(queued_jobs_cancelled_at_start_and_retry) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        int64_t a, b;
        int n = 0;

        ASSERT_OK(yb_catalog_job_add(c, "hr-portal", 1, "full", "schedule", 100, &a));
        ASSERT_OK(yb_catalog_job_add(c, "hr-portal", 1, "full", "api:li", 100, &b));
        ASSERT_OK(yb_catalog_job_start(c, a, 110));
        ASSERT_OK(yb_catalog_job_retry(c, a, 2, "exit 6", 170));
        ASSERT_OK(yb_catalog_query(c,
                                   "SELECT id FROM jobs WHERE state = 'queued' AND attempt = ?1"
                                   " AND retry_usec = 170",
                                   count_row, &n, "I", (int64_t) 2));
        ASSERT_EQ(n, 1);
        /* The second attempt keeps the first one's start, and is no longer waiting. */
        ASSERT_OK(yb_catalog_job_start(c, a, 180));
        n = 0;
        ASSERT_OK(yb_catalog_query(c,
                                   "SELECT id FROM jobs WHERE started_usec = 110 AND"
                                   " retry_usec IS NULL",
                                   count_row, &n, ""));
        ASSERT_EQ(n, 1);
        /* a was running again, b still queued: failed and cancelled. */
        ASSERT_EQ(yb_catalog_jobs_interrupted(c, 200), 2);
        n = 0;
        ASSERT_OK(yb_catalog_query(c, "SELECT id FROM jobs WHERE state = 'cancelled'", count_row,
                                   &n, ""));
        ASSERT_EQ(n, 1);
        n = 0;
        ASSERT_OK(yb_catalog_query(c, "SELECT id FROM jobs WHERE state = 'failed'", count_row, &n,
                                   ""));
        ASSERT_EQ(n, 1);
}

TEST(schedule_state) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        int64_t t = -1;

        ASSERT_OK(yb_catalog_schedule_get(c, "hr-portal", "full", &t));
        ASSERT_EQ(t, 0);
        ASSERT_OK(yb_catalog_schedule_set(c, "hr-portal", "full", 1234));
        ASSERT_OK(yb_catalog_schedule_set(c, "hr-portal", "incremental", 99));
        ASSERT_OK(yb_catalog_schedule_set(c, "hr-portal", "full", 5678));
        ASSERT_OK(yb_catalog_schedule_get(c, "hr-portal", "full", &t));
        ASSERT_EQ(t, 5678);
        ASSERT_OK(yb_catalog_schedule_get(c, "hr-portal", "incremental", &t));
        ASSERT_EQ(t, 99);
}

TEST(audit_chain_intact) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *key = NULL;
        YbAuditSummary sum;
        Problems p;

        ASSERT_OK(yb_agent_identity_load(d->path, &key));
        ASSERT_EQ(verify(c, NULL, &p), 0); /* empty */
        ASSERT_EQ(yb_audit_seal(c, key, 1), 0);
        append_n(c, 10);
        ASSERT_EQ(yb_audit_seal(c, key, 2000), 10);
        ASSERT_EQ(yb_audit_seal(c, key, 2001), 10); /* already sealed: no new seal */
        append_n(c, 5);
        ASSERT_EQ(yb_audit_verify(c, key->sign_pk, collect, &p, &sum), 0);
        ASSERT_EQ(sum.records, 15);
        ASSERT_EQ(sum.seals, 1);
        ASSERT_EQ(sum.last_sealed_seq, 10);
}

/* Each tampering is done the way someone with the SQLite file would, and must be reported. */
static void tamper_detected(const char *stmt, int64_t want_seq) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *key = NULL;
        Problems p;

        ASSERT_OK(yb_agent_identity_load(d->path, &key));
        append_n(c, 10);
        ASSERT_EQ(yb_audit_seal(c, key, 5000), 10);
        append_n(c, 2);
        ASSERT_EQ(verify(c, key->sign_pk, &p), 0);
        sql(c, stmt);
        ASSERT_GT(verify(c, key->sign_pk, &p), 0);
        if (want_seq > 0 && p.first_seq != want_seq)
                fail_msg("'%s': first problem at %lld (%s), expected at %lld", stmt,
                         (long long) p.first_seq, p.first, (long long) want_seq);
}

TEST(audit_edit_detected) {
        tamper_detected("UPDATE audit SET result = 'denied' WHERE seq = 4", 4);
        tamper_detected("UPDATE audit SET actor = 'someone' WHERE seq = 11", 11);
        tamper_detected("UPDATE audit SET time_usec = time_usec + 1 WHERE seq = 1", 1);
}

TEST(audit_delete_detected) {
        tamper_detected("DELETE FROM audit WHERE seq = 5", 6);
        tamper_detected("DELETE FROM audit WHERE seq = 1", 2);
        /* Cutting off the tail past the last seal is caught by the seal. */
        tamper_detected("DELETE FROM audit WHERE seq >= 10", 10);
}

TEST(audit_insert_detected) {
        /* Make room by renumbering, then insert a record copied from another. */
        tamper_detected("UPDATE audit SET seq = seq + 100 WHERE seq > 6;"
                        "UPDATE audit SET seq = seq - 99 WHERE seq > 100;"
                        "INSERT INTO audit SELECT 7, time_usec, actor, role, action, 'x', result,"
                        " detail, prev_hash, hash FROM audit WHERE seq = 6",
                        7);
}

TEST(audit_swap_detected) {
        tamper_detected("UPDATE audit SET seq = -1 WHERE seq = 3;"
                        "UPDATE audit SET seq = 3 WHERE seq = 4;"
                        "UPDATE audit SET seq = 4 WHERE seq = -1",
                        3);
}

TEST(audit_rewritten_chain_caught_by_seal) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_catalog_closep) YbCatalog *c = open_catalog(d);
        _cleanup_(yb_agent_identity_freep) YbAgentIdentity *key = NULL, *other = NULL;
        _cleanup_(test_tmpdir_freep) TestTmpdir *d2 = test_tmpdir_new();
        Problems p;

        ASSERT_OK(yb_agent_identity_load(d->path, &key));
        ASSERT_OK(yb_agent_identity_load(d2->path, &other));
        append_n(c, 5);
        ASSERT_EQ(yb_audit_seal(c, key, 9000), 5);
        /* Someone without the daemon's key rebuilds a consistent chain from scratch and seals it
         * with their own key: the seals no longer match, and a foreign key is named. */
        sql(c, "DELETE FROM audit; DELETE FROM audit_seals");
        append_n(c, 5);
        ASSERT_EQ(yb_audit_seal(c, other, 9001), 5);
        ASSERT_GT(verify(c, key->sign_pk, &p), 0);
        ASSERT_TRUE(strstr(p.first, "not this daemon's") != NULL);
        /* Without pinning the daemon's key the forgery is self-consistent: say so in docs. */
        ASSERT_EQ(verify(c, NULL, &p), 0);
}
