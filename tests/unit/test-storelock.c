/* A policy's retention beside its stores' S3 Object Lock (policies/storelock.h): which stores of
 * yunbakd.yaml have a lock, and the warnings of `yunbak policy check --config`. */
#include <stdio.h>

#include "policies/storelock.h"
#include "tests/unit/test.h"

/* hr-portal's policy (policies/examples): keep_daily 14, keep_weekly 8, keep_monthly 12, so a
 * snapshot is kept at most 12 months (372 days as the rule counts them). */
static const char policy_text[] = "version: 1\n"
                                  "system:\n"
                                  "  id: hr-portal\n"
                                  "  name: HR portal\n"
                                  "  department: HR\n"
                                  "  contact: someone\n"
                                  "  classification: general\n"
                                  "sources:\n"
                                  "  host: web-03\n"
                                  "  paths: [/srv/hr-portal]\n"
                                  "tier1:\n"
                                  "  store: oss\n"
                                  "  full: Sun *-*-* 02:00 UTC\n"
                                  "  incremental: Mon..Sat *-*-* 02:00 UTC\n"
                                  "  %s\n"
                                  "  retention:\n"
                                  "    keep_daily: 14\n"
                                  "    keep_weekly: 8\n"
                                  "    keep_monthly: 12\n"
                                  "objectives:\n"
                                  "  rpo: 1d\n"
                                  "  rto: 8h\n"
                                  "drill:\n"
                                  "  every: 1y\n"
                                  "  check: 'true'\n";

static YbPolicy *policy(const char *extra) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 };
        _cleanup_free_ char *text = NULL;
        YbPolicy *p = NULL;
        int n = asprintf(&text, policy_text, extra);

        ASSERT_GT(n, 0);
        if (yb_policy_parse("hr.yaml", text, (size_t) n, &p, &diag) < 0)
                yb_diagnostics_print(&diag, stderr);
        ASSERT_TRUE(p);
        return p;
}

/* Loads a yunbakd.yaml whose store 'oss' has s3 (the lines given) into *ret. */
static void locks(const char *s3, YbStoreLocks *ret) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 };
        _cleanup_free_ char *text = NULL, *path = test_tmpdir_path(d, "yunbakd.yaml");
        int n = asprintf(&text,
                         "catalog: /var/lib/yunbak/catalog.db\n"
                         "stores:\n"
                         "  - name: nas-main\n"
                         "    location: /srv/backup\n"
                         "  - name: oss\n"
                         "    location: s3://yunbak-hz/city\n"
                         "    s3:\n"
                         "      endpoint: http://127.0.0.1:7480\n"
                         "%s",
                         s3);

        ASSERT_GT(n, 0);
        test_write_file(d->fd, "yunbakd.yaml", text, (size_t) n);
        ASSERT_OK(yb_store_locks_load(path, ret, &diag));
        ASSERT_EQ(diag.n, 0u);
}

static int64_t T(const char *iso) {
        int64_t ns;

        ASSERT_OK(yb_time_parse(iso, &ns));
        return yb_ns_to_usec(ns);
}

TEST(stores_without_a_lock_are_not_read_as_locked) {
        _cleanup_(yb_store_locks_done) YbStoreLocks l = { 0 };
        _cleanup_(yb_diagnostics_done) YbDiagnostics w = { 0 };
        _cleanup_(yb_policy_freep) YbPolicy *p = policy("");

        locks("      retention: 90d\n", &l); /* a retention without object_lock: no lock */
        ASSERT_EQ(l.n, 0u);
        ASSERT_EQ(yb_policy_lock_warnings(p, &l, T("2026-12-06T00:00:00Z"), &w), 0);
        ASSERT_EQ(w.n, 0u);
}

TEST(retention_shorter_than_the_lock_warns_with_both_durations) {
        _cleanup_(yb_store_locks_done) YbStoreLocks l = { 0 };
        _cleanup_(yb_diagnostics_done) YbDiagnostics w = { 0 };
        _cleanup_(yb_policy_freep) YbPolicy *p = policy("");

        locks("      object_lock: compliance\n      retention: 90d\n", &l);
        ASSERT_EQ(l.n, 1u);
        ASSERT_STREQ(l.v[0].name, "oss");
        ASSERT_EQ(l.v[0].retention_usec, 90 * YB_USEC_PER_DAY);
        ASSERT_EQ(yb_policy_lock_warnings(p, &l, T("2026-12-06T00:00:00Z"), &w), 1);
        ASSERT_TRUE(strstr(w.lines[0], "hr.yaml:12:10: warning: tier1.retention keeps only "
                                       "the snapshots its rules pick (no keep_within)"));
        ASSERT_TRUE(strstr(w.lines[0], "Object Lock for 90d"));
        ASSERT_TRUE(strstr(w.lines[0], "yunbakd.yaml:10:18"));
}

TEST(lock_longer_than_every_rule_keeps_every_snapshot) {
        _cleanup_(yb_store_locks_done) YbStoreLocks l = { 0 };
        _cleanup_(yb_diagnostics_done) YbDiagnostics w = { 0 };
        _cleanup_(yb_policy_freep) YbPolicy *p = policy("");

        locks("      object_lock: compliance\n      retention: 400d\n", &l);
        ASSERT_EQ(yb_policy_lock_warnings(p, &l, T("2026-12-06T00:00:00Z"), &w), 1);
        ASSERT_TRUE(strstr(w.lines[0], "keeps a snapshot 372d at most (keep_monthly)"));
        ASSERT_TRUE(strstr(w.lines[0], "every snapshot stays 400d"));
}

TEST(keep_within_as_long_as_the_lock_is_quiet) {
        _cleanup_(yb_store_locks_done) YbStoreLocks l = { 0 };
        _cleanup_(yb_diagnostics_done) YbDiagnostics w = { 0 };
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;

        /* keep_within: 90d besides: nothing goes younger than the lock. */
        p = policy("");
        p->tier1_retention.keep_within_usec = 90 * YB_USEC_PER_DAY;
        locks("      object_lock: compliance\n      retention: 90d\n", &l);
        ASSERT_EQ(yb_policy_lock_warnings(p, &l, T("2026-12-06T00:00:00Z"), &w), 0);
}

TEST(lock_until_beyond_the_stores_lock_says_what_it_means) {
        _cleanup_(yb_store_locks_done) YbStoreLocks l = { 0 };
        _cleanup_(yb_diagnostics_done) YbDiagnostics w = { 0 };
        _cleanup_(yb_policy_freep) YbPolicy *p = policy("lock_until: 2027-03-31T00:00:00Z");

        ASSERT_GT(p->lock_until_usec, 0);
        locks("      object_lock: compliance\n      retention: 30d\n", &l);
        ASSERT_EQ(yb_policy_lock_warnings(p, &l, T("2026-12-06T00:00:00Z"), &w), 2);
        ASSERT_TRUE(strstr(w.lines[1], "tier1.lock_until (2027-03-31T00:00:00Z) is later than "
                                       "store 'oss' keeps a backup written now under Object Lock "
                                       "(30d, until 2027-01-05T00:00:00Z)"));
        /* Written a day before lock_until, a backup is held by the store past it: no warning. */
        yb_diagnostics_done(&w);
        ASSERT_EQ(yb_policy_lock_warnings(p, &l, T("2027-03-30T00:00:00Z"), &w), 1);
}

TEST(unreadable_config_says_why) {
        _cleanup_(yb_store_locks_done) YbStoreLocks l = { 0 };
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 };

        ASSERT_ERR(yb_store_locks_load("/nonexistent/yunbakd.yaml", &l, &diag), ENOENT);
        ASSERT_EQ(diag.n, 1u);
        ASSERT_TRUE(strstr(diag.lines[0], "/nonexistent/yunbakd.yaml: cannot read"));
}
