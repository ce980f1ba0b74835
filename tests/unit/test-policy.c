/* tests/unit/test-policy.c: policies/policy.c: the schema, every kind of error with its exact
 * position, the grade minimums, durations, and the example policies. */
#include <dirent.h>

#include "policies/policy.h"
#include "tests/unit/test.h"

/* A valid policy of a core system: the tests edit it. Line numbers matter. */
static const char base[] = "version: 1\n"                                        /*  1 */
                           "system:\n"                                           /*  2 */
                           "  id: hr-portal\n"                                   /*  3 */
                           "  name: 人事门户网站\n"                              /*  4 */
                           "  department: 市人力资源和社会保障局\n"              /*  5 */
                           "  contact: 王芳 <wangfang@example.gov.cn>\n"         /*  6 */
                           "  classification: core\n"                            /*  7 */
                           "sources:\n"                                          /*  8 */
                           "  host: web-03\n"                                    /*  9 */
                           "  paths: [/srv/hr-portal, /etc/nginx]\n"             /* 10 */
                           "  hooks:\n"                                          /* 11 */
                           "    - name: hr-db\n"                                 /* 12 */
                           "      type: postgresql\n"                            /* 13 */
                           "      database: hr\n"                                /* 14 */
                           "tier1:\n"                                            /* 15 */
                           "  store: nas-main\n"                                 /* 16 */
                           "  full: Sun *-*-* 01:00 Asia/Shanghai\n"             /* 17 */
                           "  incremental: Mon..Sat *-*-* 01:00 Asia/Shanghai\n" /* 18 */
                           "  retention:\n"                                      /* 19 */
                           "    keep_daily: 14\n"                                /* 20 */
                           "tier2:\n"                                            /* 21 */
                           "  store: dr-site\n"                                  /* 22 */
                           "  max_lag: 30s\n"                                    /* 23 */
                           "  checkpoint: daily\n"                               /* 24 */
                           "tier3:\n"                                            /* 25 */
                           "  store: offsite\n"                                  /* 26 */
                           "  schedule: weekly\n"                                /* 27 */
                           "objectives:\n"                                       /* 28 */
                           "  rpo: 1min\n"                                       /* 29 */
                           "  rto: 4h\n"                                         /* 30 */
                           "drill:\n"                                            /* 31 */
                           "  every: 90d\n";                                     /* 32 */

#define TIERS_2_3                                                                                  \
        "tier2:\n  store: dr-site\n  max_lag: 30s\n  checkpoint: daily\n"                          \
        "tier3:\n  store: offsite\n  schedule: weekly\n"

/* text with the one occurrence of old replaced by new; the caller frees it. */
static char *edit(const char *text, const char *old, const char *new) {
        const char *at = strstr(text, old);
        char *s;

        if (!at || strstr(at + 1, old))
                fail_msg("'%s' is not in the text exactly once", old);
        assert_true(asprintf(&s, "%.*s%s%s", (int) (at - text), text, new, at + strlen(old)) > 0);
        return s;
}

/* Two edits in a row. */
static char *edit2(const char *text, const char *old1, const char *new1, const char *old2,
                   const char *new2) {
        _cleanup_free_ char *once = edit(text, old1, new1);

        return edit(once, old2, new2);
}

/* Parses text as "t.yaml" and checks that exactly the expected lines (NULL-terminated, without
 * the "t.yaml:" prefix) come out, in that order. */
static void expect(const char *text, const char *const want[]) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        YbPolicy *p = NULL;
        size_t n = 0;
        int r;

        while (want[n])
                n++;
        r = yb_policy_parse("t.yaml", text, strlen(text), &p, &d);
        if (n == 0 && r != 0) {
                yb_diagnostics_print(&d, stderr);
                fail_msg("expected a valid policy, got %d", r);
        }
        if (n == 0) {
                yb_policy_free(p);
                return;
        }
        ASSERT_ERR(r, EINVAL);
        ASSERT_TRUE(p == NULL);
        for (size_t i = 0; i < MAX(n, d.n); i++) {
                char *got = i < d.n ? d.lines[i] : NULL;

                if (i >= n || !got || strncmp(got, "t.yaml:", 7) != 0 || !streq(got + 7, want[i])) {
                        yb_diagnostics_print(&d, stderr);
                        fail_msg("line %zu: got \"%s\", want \"t.yaml:%s\"", i,
                                 got ? got : "(none)", i < n ? want[i] : "(none)");
                }
        }
}

#define EXPECT(text, ...) expect((text), (const char *const[]){ __VA_ARGS__, NULL })
#define EXPECT_VALID(text) expect((text), (const char *const[]){ NULL })

/* Parses an edited base and checks the one error it must give. */
static void expect_edit(const char *old, const char *new, const char *error) {
        _cleanup_free_ char *text = edit(base, old, new);

        EXPECT(text, error);
}

static YbPolicy *parse_ok(const char *text) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        YbPolicy *p = NULL;
        int r = yb_policy_parse("t.yaml", text, strlen(text), &p, &d);

        if (r < 0) {
                yb_diagnostics_print(&d, stderr);
                fail_msg("the policy does not parse: %d", r);
        }
        ASSERT_EQ(d.n, 0);
        return p;
}

TEST(base_policy_reads_into_fields) {
        _cleanup_(yb_policy_freep) YbPolicy *p = parse_ok(base);
        int64_t next;

        ASSERT_STREQ(p->file, "t.yaml");
        ASSERT_EQ(p->version, 1);
        ASSERT_STREQ(p->id, "hr-portal");
        ASSERT_EQ(p->id_line, 3);
        ASSERT_EQ(p->id_column, 7);
        /* Chinese text comes back byte for byte. */
        ASSERT_STREQ(p->name, "人事门户网站");
        ASSERT_STREQ(p->department, "市人力资源和社会保障局");
        ASSERT_STREQ(p->contact, "王芳 <wangfang@example.gov.cn>");
        ASSERT_EQ(p->grade, YB_GRADE_CORE);
        ASSERT_STREQ(p->host, "web-03");
        ASSERT_EQ(p->n_paths, 2);
        ASSERT_STREQ(p->paths[0], "/srv/hr-portal");
        ASSERT_STREQ(p->paths[1], "/etc/nginx");
        ASSERT_EQ(p->n_excludes, 0);
        ASSERT_EQ(p->n_hooks, 1);
        ASSERT_STREQ(p->hooks[0].name, "hr-db");
        ASSERT_EQ(p->hooks[0].type, YB_HOOK_POSTGRESQL);
        ASSERT_STREQ(p->hooks[0].database, "hr");
        ASSERT_TRUE(p->hooks[0].run == NULL);
        /* Defaults: an hour, abort. */
        ASSERT_EQ(p->hooks[0].timeout_usec, YB_USEC_PER_HOUR);
        ASSERT_TRUE(p->hooks[0].abort_on_failure);
        ASSERT_STREQ(p->tier1_store, "nas-main");
        ASSERT_STREQ(p->full_text, "Sun *-*-* 01:00 Asia/Shanghai");
        ASSERT_STREQ(p->incremental_text, "Mon..Sat *-*-* 01:00 Asia/Shanghai");
        ASSERT_TRUE(p->differential == NULL && p->differential_text == NULL);
        /* 2026-11-21 is a Saturday: the next full is Sunday 01:00 in Shanghai, 17:00 UTC. */
        ASSERT_OK(yb_calendar_next(p->full, 1795262400LL * YB_USEC_PER_SEC, &next));
        ASSERT_EQ(next, 1795280400LL * YB_USEC_PER_SEC);
        ASSERT_EQ(p->tier1_retention.keep_daily, 14);
        ASSERT_EQ(p->tier1_retention.keep_last, -1);
        ASSERT_EQ(p->tier1_retention.keep_yearly, -1);
        ASSERT_EQ(p->tier1_retention.keep_within_usec, 0);
        ASSERT_EQ(p->lock_until_usec, 0);
        ASSERT_STREQ(p->tier2_store, "dr-site");
        ASSERT_EQ(p->tier2_max_lag_usec, 30 * YB_USEC_PER_SEC);
        ASSERT_STREQ(p->tier2_checkpoint_text, "daily");
        ASSERT_EQ(p->tier2_interval_usec, 2 * YB_USEC_PER_SEC); /* the default */
        ASSERT_TRUE(p->tier2_checkpoint != NULL);
        ASSERT_EQ(p->tier2_retention.keep_daily, -1);
        ASSERT_STREQ(p->tier3_store, "offsite");
        ASSERT_STREQ(p->tier3_schedule_text, "weekly");
        ASSERT_FALSE(p->tier3_on_request);
        ASSERT_TRUE(p->tier3_approval_required);
        ASSERT_EQ(p->rpo_usec, YB_USEC_PER_MINUTE);
        ASSERT_EQ(p->rto_usec, 4 * YB_USEC_PER_HOUR);
        ASSERT_EQ(p->drill_every_usec, 90 * YB_USEC_PER_DAY);
        ASSERT_TRUE(p->drill_check == NULL);
}

TEST(every_optional_key) {
        _cleanup_free_ char *text = NULL;
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;

        text = edit2(base, "      database: hr\n",
                     "      database: hr\n"
                     "      timeout: 2h30min\n"
                     "      on_failure: continue\n"
                     "    - name: flush\n"
                     "      type: command\n"
                     "      run: |\n"
                     "        app-ctl flush\n"
                     "        sync\n"
                     "  exclude: ['*.tmp', /srv/hr-portal/cache]\n",
                     "    keep_daily: 14\n",
                     "    keep_daily: 14\n"
                     "    keep_last: 0\n"
                     "    keep_weekly: 8\n"
                     "    keep_monthly: 12\n"
                     "    keep_yearly: 1000000\n"
                     "    keep_within: 2w\n"
                     "  differential: Wed *-*-* 01:00\n"
                     "  lock_until: 2027-02-28T00:00:00+08:00\n");
        p = parse_ok(text);
        ASSERT_EQ(p->n_hooks, 2);
        ASSERT_EQ(p->hooks[0].timeout_usec, 150 * YB_USEC_PER_MINUTE);
        ASSERT_FALSE(p->hooks[0].abort_on_failure);
        ASSERT_EQ(p->hooks[1].type, YB_HOOK_COMMAND);
        ASSERT_STREQ(p->hooks[1].run, "app-ctl flush\nsync\n");
        ASSERT_EQ(p->n_excludes, 2);
        ASSERT_STREQ(p->excludes[0], "*.tmp");
        ASSERT_STREQ(p->excludes[1], "/srv/hr-portal/cache");
        ASSERT_EQ(p->tier1_retention.keep_last, 0);
        ASSERT_EQ(p->tier1_retention.keep_weekly, 8);
        ASSERT_EQ(p->tier1_retention.keep_monthly, 12);
        ASSERT_EQ(p->tier1_retention.keep_yearly, 1000000);
        ASSERT_EQ(p->tier1_retention.keep_within_usec, 14 * YB_USEC_PER_DAY);
        ASSERT_STREQ(p->differential_text, "Wed *-*-* 01:00");
        ASSERT_TRUE(p->differential != NULL);
        /* 2027-02-27T16:00:00Z */
        ASSERT_EQ(p->lock_until_usec, 1803744000LL * YB_USEC_PER_SEC);

        free(text);
        text = edit(base, "  schedule: weekly\n",
                    "  schedule: weekly\n  on_request: true\n  approval: automatic\n"
                    "  retention: {keep_monthly: 6}\n");
        yb_policy_free(p);
        p = parse_ok(text);
        ASSERT_TRUE(p->tier3_on_request);
        ASSERT_FALSE(p->tier3_approval_required);
        ASSERT_EQ(p->tier3_retention.keep_monthly, 6);
}

TEST(unknown_keys_suggest_the_closest) {
        expect_edit("    keep_daily: 14\n", "    keep_daily: 14\n  differental: Wed\n",
                    "21:3: unknown key 'differental' in tier1; did you mean 'differential'?");
        /* ...which also leaves incremental missing, reported at the section. */
        _cleanup_free_ char *t1 = edit(base, "  incremental:", "  incremantal:");
        EXPECT(t1, "15:1: missing key 'incremental' in tier1",
               "18:3: unknown key 'incremantal' in tier1; did you mean 'incremental'?");
        _cleanup_free_ char *t2 = edit(base, "drill:\n", "tier4:\n  store: x\ndrill:\n");
        EXPECT(t2, "31:1: unknown key 'tier4'; did you mean 'tier1'?");
        _cleanup_free_ char *t3 = edit(base, "  rto: 4h\n", "  rto: 4h\n  budget: 100\n");
        EXPECT(t3, "31:3: unknown key 'budget' in objectives");
        _cleanup_free_ char *t4 = edit(base, "    keep_daily: 14\n", "    keep_days: 14\n");
        EXPECT(t4, "20:5: unknown key 'keep_days' in tier1.retention; did you mean 'keep_daily'?",
               "20:5: tier1.retention has no rule: set keep_last, keep_daily, keep_weekly, "
               "keep_monthly, keep_yearly or keep_within, or leave retention out to keep "
               "everything");
        expect_edit("      database: hr\n", "      database: hr\n      when: before\n",
                    "15:7: unknown key 'when' in sources.hooks[0]");
}

TEST(missing_keys_at_their_section) {
        expect_edit("  host: web-03\n", "", "8:1: missing key 'host' in sources");
        expect_edit("  store: nas-main\n", "", "15:1: missing key 'store' in tier1");
        expect_edit("  store: dr-site\n", "", "21:1: missing key 'store' in tier2");
        expect_edit("  max_lag: 30s\n", "", "21:1: missing key 'max_lag' in tier2");
        expect_edit("  checkpoint: daily\n", "", "21:1: missing key 'checkpoint' in tier2");
        expect_edit("  store: offsite\n", "", "25:1: missing key 'store' in tier3");
        expect_edit("  rto: 4h\n", "", "28:1: missing key 'rto' in objectives");
        expect_edit("  every: 90d\n", "  check: true\n", "31:1: missing key 'every' in drill");
        /* A section left empty is not a mapping. */
        expect_edit("  every: 90d\n", "", "31:7: drill must be a mapping, not an empty value");
        expect_edit("      type: postgresql\n", "", "12:7: missing key 'type' in sources.hooks[0]");
        expect_edit("      database: hr\n", "",
                    "12:7: missing key 'database' in sources.hooks[0] (the database to dump)");
        expect_edit("version: 1\n", "", "1:1: missing key 'version'");
        /* Whole sections missing are reported at the top mapping. */
        _cleanup_free_ char *t = edit(base,
                                      "objectives:\n  rpo: 1min\n  rto: 4h\n"
                                      "drill:\n  every: 90d\n",
                                      "");
        EXPECT(t, "1:1: missing key 'objectives'",
               "1:1: missing key 'drill': every system needs a restore drill at least yearly "
               "(drill.every of at most 366d)");
        _cleanup_free_ char *s = edit(base,
                                      "system:\n  id: hr-portal\n  name: 人事门户网站\n"
                                      "  department: 市人力资源和社会保障局\n"
                                      "  contact: 王芳 <wangfang@example.gov.cn>\n"
                                      "  classification: core\n",
                                      "system:\n  id: hr-portal\n");
        EXPECT(s, "2:1: missing key 'name' in system", "2:1: missing key 'department' in system",
               "2:1: missing key 'contact' in system",
               "2:1: missing key 'classification' in system");
}

TEST(wrong_types) {
        expect_edit("tier1:\n  store: nas-main\n  full: Sun *-*-* 01:00 Asia/Shanghai\n"
                    "  incremental: Mon..Sat *-*-* 01:00 Asia/Shanghai\n  retention:\n"
                    "    keep_daily: 14\n",
                    "tier1: weekly\n", "15:8: tier1 must be a mapping, not 'weekly'");
        expect_edit("  name: 人事门户网站\n", "  name: [人事, 门户]\n",
                    "4:9: system.name must be a string, not a list");
        expect_edit("  name: 人事门户网站\n", "  name:\n", "4:8: system.name is empty");
        expect_edit("  name: 人事门户网站\n", "  name: \"\"\n", "4:9: system.name is empty");
        expect_edit("  name: 人事门户网站\n", "  name: \"人事\\n门户\"\n",
                    "4:9: system.name must be one line without control characters");
        expect_edit("  host: web-03\n", "  host: {name: web-03}\n",
                    "9:9: sources.host must be a string, not a mapping");
        expect_edit("  paths: [/srv/hr-portal, /etc/nginx]\n", "  paths: /srv/hr-portal\n",
                    "10:10: sources.paths must be a list, not '/srv/hr-portal'");
        expect_edit("  paths: [/srv/hr-portal, /etc/nginx]\n", "  paths: []\n",
                    "10:10: sources.paths is empty: name at least one");
        expect_edit("  paths: [/srv/hr-portal, /etc/nginx]\n", "  paths: [/srv/hr-portal, etc]\n",
                    "10:27: sources.paths[1] must be an absolute path, not 'etc'");
        expect_edit("  paths: [/srv/hr-portal, /etc/nginx]\n",
                    "  paths: [/srv/hr-portal, [/etc]]\n",
                    "10:27: sources.paths[1] must be a string, not a list");
        expect_edit("  hooks:\n    - name: hr-db\n      type: postgresql\n      database: hr\n",
                    "  hooks: pg_dump\n", "11:10: sources.hooks must be a list, not 'pg_dump'");
        expect_edit("    keep_daily: 14\n", "    keep_daily: seven\n",
                    "20:17: tier1.retention.keep_daily must be a whole number from 0 to 1000000, "
                    "not 'seven'");
        expect_edit("    keep_daily: 14\n", "    keep_daily: -1\n",
                    "20:17: tier1.retention.keep_daily must be a whole number from 0 to 1000000, "
                    "not '-1'");
        expect_edit("    keep_daily: 14\n", "    keep_daily: 1000001\n",
                    "20:17: tier1.retention.keep_daily must be a whole number from 0 to 1000000, "
                    "not '1000001'");
        expect_edit("    keep_daily: 14\n", "    keep_daily: 1.5\n",
                    "20:17: tier1.retention.keep_daily must be a whole number from 0 to 1000000, "
                    "not '1.5'");
        expect_edit("  classification: core\n", "  classification: critical\n",
                    "7:19: system.classification must be general, important or core, not "
                    "'critical'");
        expect_edit("  classification: core\n", "  classification: Core\n",
                    "7:19: system.classification must be general, important or core, not "
                    "'Core'; did you mean 'core'?");
        expect_edit("      type: postgresql\n", "      type: postgres\n",
                    "13:13: sources.hooks[0].type must be command or postgresql, not "
                    "'postgres'; did you mean 'postgresql'?");
        expect_edit("      database: hr\n", "      database: hr\n      on_failure: ignore\n",
                    "15:19: sources.hooks[0].on_failure must be abort or continue, not 'ignore'");
        expect_edit("  schedule: weekly\n", "  schedule: weekly\n  approval: maybe\n",
                    "28:13: tier3.approval must be required or automatic, not 'maybe'");
        expect_edit("version: 1\n", "version: 2\n",
                    "1:10: unsupported version 2: this yunbak reads version 1");
        expect_edit("version: 1\n", "version: one\n",
                    "1:10: version must be a whole number from 0 to 1000000, not 'one'");
        expect_edit("  id: hr-portal\n", "  id: HR_Portal\n",
                    "3:7: system.id 'HR_Portal' is not valid: use 1 to 63 of a-z, 0-9 and '-', "
                    "not starting with '-'");
        expect_edit("  id: hr-portal\n", "  id: -hr\n",
                    "3:7: system.id '-hr' is not valid: use 1 to 63 of a-z, 0-9 and '-', not "
                    "starting with '-'");
        expect_edit("  store: nas-main\n", "  store: nas main\n",
                    "16:10: tier1.store must not contain spaces, not 'nas main'");
}

TEST(system_id_length) {
        char id[80], line[100];
        _cleanup_free_ char *ok = NULL, *bad = NULL;

        memset(id, 'a', 63);
        id[63] = 0;
        snprintf(line, sizeof(line), "  id: %s\n", id);
        ok = edit(base, "  id: hr-portal\n", line);
        EXPECT_VALID(ok);
        snprintf(line, sizeof(line), "  id: %sa\n", id);
        bad = edit(base, "  id: hr-portal\n", line);
        ASSERT_TRUE(strstr(bad, "aaaa") != NULL);
        {
                _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
                YbPolicy *p = NULL;

                ASSERT_ERR(yb_policy_parse("t.yaml", bad, strlen(bad), &p, &d), EINVAL);
                ASSERT_EQ(d.n, 1);
                ASSERT_TRUE(strncmp(d.lines[0], "t.yaml:3:7: system.id 'aaa", 26) == 0);
        }
}

TEST(yaml_1_1_booleans_are_not_booleans) {
        static const char *const words[] = { "yes", "no", "on", "off", "y", "True", "1" };
        char line[64], want[128];

        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                snprintf(line, sizeof(line), "  schedule: weekly\n  on_request: %s\n", words[i]);
                snprintf(want, sizeof(want),
                         "28:15: tier3.on_request must be true or false, not '%s'", words[i]);
                expect_edit("  schedule: weekly\n", line, want);
        }
        /* A quoted "true" is the same text, so it is fine. */
        _cleanup_free_ char *t =
                edit(base, "  schedule: weekly\n", "  schedule: weekly\n  on_request: \"true\"\n");
        EXPECT_VALID(t);
        /* And a value YAML 1.1 reads as a number stays text. */
        _cleanup_free_ char *u = edit(base, "  id: hr-portal\n", "  id: 0755\n");
        _cleanup_(yb_policy_freep) YbPolicy *p = parse_ok(u);
        ASSERT_STREQ(p->id, "0755");
}

TEST(bad_durations) {
        expect_edit("  max_lag: 30s\n", "  max_lag: 30\n",
                    "23:12: bad duration '30' for tier2.max_lag: a number needs a unit, as in "
                    "30s, 5min, 1h or 7d");
        expect_edit("  max_lag: 30s\n", "  max_lag: 30 secs\n",
                    "23:12: bad duration '30 secs' for tier2.max_lag: unknown unit 'secs' (use s, "
                    "min, h, d, w, month or y)");
        expect_edit("  max_lag: 30s\n", "  max_lag: 1m\n",
                    "23:12: bad duration '1m' for tier2.max_lag: 'm' is ambiguous: write min for "
                    "minutes or month for months");
        expect_edit("  max_lag: 30s\n", "  max_lag: 0s\n",
                    "23:12: tier2.max_lag must be longer "
                    "than 0s");
        expect_edit("  max_lag: 30s\n", "  max_lag: -5s\n",
                    "23:12: bad duration '-5s' for tier2.max_lag: expected a whole number at "
                    "'-5s'");
        expect_edit("  max_lag: 30s\n", "  max_lag: 1.5min\n",
                    "23:12: bad duration '1.5min' for tier2.max_lag: unexpected '.' after a "
                    "number");
        expect_edit("  rpo: 1min\n", "  rpo: [1min]\n",
                    "29:8: objectives.rpo must be a duration such as 30s, 5min, 1h or 7d, not a "
                    "list");
        expect_edit("  rto: 4h\n", "  rto: 999999999999999999999d\n",
                    "30:8: bad duration '999999999999999999999d' for objectives.rto: it is too "
                    "long (at most 100 years)");
        expect_edit("      database: hr\n", "      database: hr\n      timeout: soon\n",
                    "15:16: bad duration 'soon' for sources.hooks[0].timeout: expected a whole "
                    "number at 'soon'");
        expect_edit("  max_lag: 30s\n", "  max_lag:\n",
                    "23:11: tier2.max_lag is empty: write a duration such as 30s, 5min, 1h or 7d");
}

TEST(tier2_interval) {
        _cleanup_free_ char *u = edit(base, "  max_lag: 30s\n", "  max_lag: 30s\n  interval: 5s\n");
        _cleanup_(yb_policy_freep) YbPolicy *p = parse_ok(u);

        ASSERT_EQ(p->tier2_interval_usec, 5 * YB_USEC_PER_SEC);
        expect_edit("  max_lag: 30s\n", "  max_lag: 30s\n  interval: 30s\n",
                    "24:13: tier2.interval (30s) must be shorter than tier2.max_lag (30s): a "
                    "segment every interval is how the lag stays under max_lag");
        expect_edit("  max_lag: 30s\n", "  max_lag: 30s\n  interval: 0s\n",
                    "24:13: tier2.interval must be longer than 0s");
        expect_edit("  max_lag: 30s\n", "  max_lag: 30s\n  interval: soon\n",
                    "24:13: bad duration 'soon' for tier2.interval: expected a whole number at "
                    "'soon'");
}

TEST(bad_dates) {
        static const char *const dates[] = { "2027-02-30", "2027-13-01", "27-02-28", "tomorrow",
                                             "2027-02-28junk", "1969-12-31", "20270228T000000Z",
                                             /* beyond 64-bit nanoseconds (fuzz-policy) */
                                             "2200-01-01", "9999-12-31" };
        char line[64], want[160];

        for (size_t i = 0; i < ELEMENTSOF(dates); i++) {
                snprintf(line, sizeof(line), "    keep_daily: 14\n  lock_until: %s\n", dates[i]);
                snprintf(want, sizeof(want),
                         "21:15: bad date '%s' for tier1.lock_until: use YYYY-MM-DD, a real date "
                         "from 1970 to 2199",
                         dates[i]);
                expect_edit("    keep_daily: 14\n", line, want);
        }
        _cleanup_free_ char *t = edit(base, "    keep_daily: 14\n",
                                      "    keep_daily: 14\n  lock_until: 2028-02-29\n");
        EXPECT_VALID(t);
}

TEST(bad_calendars_use_the_calendar_message) {
        static const char *const exprs[] = { "Mnday *-*-* 01:00", "*-*-* 25:00", "Sun 01:99",
                                             "whenever", "*-*-* 01:00 Mars/Olympus" };
        char line[96], want[512], err[256];

        for (size_t i = 0; i < ELEMENTSOF(exprs); i++) {
                YbCalendar *cal = NULL;

                err[0] = 0;
                ASSERT_ERR(yb_calendar_parse(exprs[i], &cal, err, sizeof(err)), EINVAL);
                ASSERT_TRUE(err[0] != 0);
                snprintf(line, sizeof(line), "  full: \"%s\"\n", exprs[i]);
                snprintf(want, sizeof(want), "17:9: bad calendar '%s' for tier1.full: %s", exprs[i],
                         err);
                expect_edit("  full: Sun *-*-* 01:00 Asia/Shanghai\n", line, want);
        }
        expect_edit("  checkpoint: daily\n", "  checkpoint: [daily]\n",
                    "24:15: tier2.checkpoint must be a calendar expression such as 'Sun *-*-* "
                    "01:00', not a list");
        expect_edit("  schedule: weekly\n", "  schedule:\n",
                    "27:12: tier3.schedule must be a calendar expression such as 'Sun *-*-* "
                    "01:00', not an empty value");
}

TEST(duplicate_keys_and_syntax_errors) {
        expect_edit("  full: Sun *-*-* 01:00 Asia/Shanghai\n",
                    "  full: Sun *-*-* 01:00 Asia/Shanghai\n  full: daily\n",
                    "18:3: duplicate key 'full' (first at 17:3)");
        expect_edit("  name: 人事门户网站\n", "  name: 人事门户网站\n   oops: 1\n",
                    "5:8: syntax error: mapping values are not allowed in this context");
        expect_edit("  checkpoint: daily\n", "  checkpoint: *-*-* 00:00\n",
                    "24:17: syntax error: did not find expected alphabetic or numeric character "
                    "(while scanning an alias at 24:15); quote a value that starts with '*', as "
                    "in \"*-*-* 01:00\"");
        expect_edit("version: 1\n", "version: &v 1\n", "1:10: anchors ('&v') are not allowed");
}

TEST(every_error_is_reported) {
        _cleanup_free_ char *t = NULL;
        const char *steps[][2] = {
                { "version: 1\n", "version: 3\n" },
                { "  id: hr-portal\n", "  id: HR\n" },
                { "  host: web-03\n", "  hots: web-03\n" },
                { "    keep_daily: 14\n", "    keep_daily: x\n" },
                { "  max_lag: 30s\n", "  max_lag: 30\n" },
                { "  schedule: weekly\n", "  schedule: weekly\n  schedule: daily\n" },
                { "  every: 90d\n", "  every: 90d\n  check: [a]\n" },
        };

        t = strdup(base);
        assert_non_null(t);
        for (size_t i = 0; i < ELEMENTSOF(steps); i++) {
                char *n = edit(t, steps[i][0], steps[i][1]);

                free(t);
                t = n;
        }
        /* Sorted by position, whatever found them. */
        EXPECT(t, "1:10: unsupported version 3: this yunbak reads version 1",
               "3:7: system.id 'HR' is not valid: use 1 to 63 of a-z, 0-9 and '-', not starting "
               "with '-'",
               "8:1: missing key 'host' in sources",
               "9:3: unknown key 'hots' in sources; did you mean 'host'?",
               "20:17: tier1.retention.keep_daily must be a whole number from 0 to 1000000, not "
               "'x'",
               "23:12: bad duration '30' for tier2.max_lag: a number needs a unit, as in 30s, "
               "5min, 1h or 7d",
               "28:3: duplicate key 'schedule' (first at 27:3)",
               "34:10: drill.check must be a string, not a list");
}

TEST(errors_are_capped) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        YbPolicy *p = NULL;

        ASSERT_OK(yb_buf_append(&b, base, strlen(base)));
        for (int i = 0; i < 500; i++)
                ASSERT_OK(yb_buf_printf(&b, "extra%d: 1\n", i));
        ASSERT_ERR(yb_policy_parse("t.yaml", (const char *) b.data, b.size, &p, &d), EINVAL);
        ASSERT_EQ(d.n, YB_POLICY_MAX_ERRORS + 1);
        ASSERT_STREQ(d.lines[0], "t.yaml:33:1: unknown key 'extra0'");
        ASSERT_STREQ(d.lines[YB_POLICY_MAX_ERRORS], "t.yaml: 300 more errors not shown");
}

TEST(grade_important_needs_tier2_and_tier3) {
        _cleanup_free_ char *imp =
                edit(base, "  classification: core\n", "  classification: important\n");
        _cleanup_free_ char *none = edit(imp, TIERS_2_3, "");
        _cleanup_free_ char *no3 = edit(imp, "tier3:\n  store: offsite\n  schedule: weekly\n", "");
        _cleanup_free_ char *req = edit(imp, "  schedule: weekly\n", "  on_request: true\n");

        EXPECT_VALID(imp);
        /* An important system may copy off-site on request only. */
        EXPECT_VALID(req);
        EXPECT(none,
               "7:19: an important system needs tier2 (continuous replication to the intra-city "
               "store, max_lag at most 1min)",
               "7:19: an important system needs tier3 (copies to the off-site store)");
        EXPECT(no3, "7:19: an important system needs tier3 (copies to the off-site store)");
}

TEST(grade_max_lag_at_most_a_minute) {
        static const struct {
                const char *lag;
                bool ok;
        } cases[] = {
                { "1s", true },   { "59s", true },     { "60s", true },   { "1min", true },
                { "61s", false }, { "1min1s", false }, { "2min", false }, { "1h", false },
        };

        for (int grade = 0; grade < 3; grade++)
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        char line[64], want[160];
                        _cleanup_free_ char *g = edit(base, "  classification: core\n",
                                                      grade == 0   ? "  classification: general\n"
                                                      : grade == 1 ? "  classification: important\n"
                                                                   : "  classification: core\n");
                        _cleanup_free_ char *t = NULL;
                        int64_t usec;

                        snprintf(line, sizeof(line), "  max_lag: %s\n", cases[i].lag);
                        t = edit(g, "  max_lag: 30s\n", line);
                        /* A general system needs no tier2, so any max_lag will do. */
                        if (cases[i].ok || grade == 0) {
                                EXPECT_VALID(t);
                                continue;
                        }
                        ASSERT_OK(yb_duration_parse(cases[i].lag, &usec));
                        char have[32];
                        snprintf(want, sizeof(want),
                                 "23:12: tier2.max_lag must be at most 1min for a%s %s system, "
                                 "not %s",
                                 grade == 1 ? "n" : "", grade == 1 ? "important" : "core",
                                 yb_duration_format(usec, have, sizeof(have)));
                        EXPECT(t, want);
                }
}

TEST(grade_core_needs_a_scheduled_tier3) {
        _cleanup_free_ char *req = edit(base, "  schedule: weekly\n", "  on_request: true\n");
        _cleanup_free_ char *both =
                edit(base, "  schedule: weekly\n", "  schedule: weekly\n  on_request: true\n");
        _cleanup_free_ char *none = edit(base, TIERS_2_3, "");

        EXPECT(req, "25:1: a core system needs a scheduled tier3: add tier3.schedule (on_request "
                    "alone is not enough)");
        EXPECT_VALID(both);
        EXPECT(none,
               "7:19: a core system needs tier2 (continuous replication to the intra-city "
               "store, max_lag at most 1min)",
               "7:19: a core system needs tier3 (copies to the off-site store) on a schedule");
}

TEST(grade_general_needs_neither) {
        _cleanup_free_ char *g = edit2(base, "  classification: core\n",
                                       "  classification: general\n", TIERS_2_3, "");
        _cleanup_(yb_policy_freep) YbPolicy *p = parse_ok(g);

        ASSERT_EQ(p->grade, YB_GRADE_GENERAL);
        ASSERT_TRUE(p->tier2_store == NULL && p->tier3_store == NULL);
        ASSERT_TRUE(p->tier2_checkpoint == NULL && p->tier3_schedule == NULL);
}

TEST(grade_every_system_drills_yearly) {
        static const struct {
                const char *every;
                const char *error;
        } cases[] = {
                { "1d", NULL },
                { "365d", NULL },
                { "366d", NULL },
                { "1y", NULL },
                { "12month", NULL },
                { "52w", NULL },
                { "367d", "32:10: drill.every must be at most 366d: every system needs a "
                          "restore drill at least yearly, not every 367d" },
                { "2y", "32:10: drill.every must be at most 366d: every system needs a restore "
                        "drill at least yearly, not every 2y" },
                { "53w", "32:10: drill.every must be at most 366d: every system needs a restore "
                         "drill at least yearly, not every 371d" },
        };

        for (int general = 0; general < 2; general++)
                for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                        char line[32];
                        _cleanup_free_ char *g =
                                general ? edit2(base, "  classification: core\n",
                                                "  classification: general\n", TIERS_2_3, "")
                                        : strdup(base);
                        _cleanup_free_ char *t = NULL;

                        snprintf(line, sizeof(line), "  every: %s\n", cases[i].every);
                        t = edit(g, "  every: 90d\n", line);
                        if (!cases[i].error) {
                                EXPECT_VALID(t);
                                continue;
                        }
                        if (!general) {
                                EXPECT(t, cases[i].error);
                                continue;
                        }
                        /* Without tiers 2 and 3 the drill is 7 lines higher. */
                        char want[200];
                        snprintf(want, sizeof(want), "25%s", cases[i].error + 2);
                        EXPECT(t, want);
                }
        _cleanup_free_ char *none = edit(base, "drill:\n  every: 90d\n", "");
        EXPECT(none, "1:1: missing key 'drill': every system needs a restore drill at least "
                     "yearly (drill.every of at most 366d)");
}

TEST(tier3_needs_schedule_or_request) {
        _cleanup_free_ char *imp =
                edit(base, "  classification: core\n", "  classification: important\n");

        expect_edit("  schedule: weekly\n", "  on_request: false\n",
                    "25:1: tier3 needs a schedule, on_request: true, or both (copies are made on "
                    "a calendar or when a department asks)");
        _cleanup_free_ char *t = edit(imp, "  schedule: weekly\n", "");
        EXPECT(t, "25:1: tier3 needs a schedule, on_request: true, or both (copies are made on a "
                  "calendar or when a department asks)");
}

TEST(hooks_are_checked) {
        expect_edit("      database: hr\n", "      database: hr\n      run: pg_dump hr\n",
                    "15:7: sources.hooks[0].run is for command hooks; a postgresql hook names its "
                    "database");
        _cleanup_free_ char *c = edit(base, "      type: postgresql\n      database: hr\n",
                                      "      type: command\n      database: hr\n");
        EXPECT(c, "12:7: missing key 'run' in sources.hooks[0] (the command to run)",
               "14:7: sources.hooks[0].database is for postgresql hooks; a command hook has run");
        _cleanup_free_ char *t =
                edit(base, "      type: postgresql\n      database: hr\n", "      type: command\n");
        EXPECT(t, "12:7: missing key 'run' in sources.hooks[0] (the command to run)");
        expect_edit("      database: hr\n",
                    "      database: hr\n    - name: hr-db\n      type: command\n      run: x\n",
                    "15:13: sources.hooks[1].name: a hook named 'hr-db' is already defined above");
        expect_edit("    - name: hr-db\n", "    - name: hr=db\n",
                    "12:13: sources.hooks[0].name must not hold '/' or '=' nor be '.' or '..', "
                    "not 'hr=db' (a postgresql hook's name becomes the file "
                    "_streams/NAME.pgdump)");
        expect_edit("    - name: hr-db\n", "    - name: ..\n",
                    "12:13: sources.hooks[0].name must not hold '/' or '=' nor be '.' or '..', "
                    "not '..' (a postgresql hook's name becomes the file _streams/NAME.pgdump)");
        expect_edit("      database: hr\n", "      database: hr\n    - just-a-string\n",
                    "15:7: sources.hooks[1] must be a mapping, not 'just-a-string'");
}

/* A command hook's optional `after`: read as a command; refused in a postgresql hook, where it
 * would never run. */
TEST(hook_after) {
        _cleanup_free_ char *text = edit(base, "      database: hr\n",
                                         "      database: hr\n"
                                         "    - name: pause\n"
                                         "      type: command\n"
                                         "      run: app-ctl pause\n"
                                         "      after: |\n"
                                         "        app-ctl resume\n"
                                         "        logger \"backup $YUNBAK_RESULT\"\n");
        _cleanup_(yb_policy_freep) YbPolicy *p = parse_ok(text);

        ASSERT_EQ(p->n_hooks, 2);
        ASSERT_TRUE(p->hooks[0].after == NULL);
        ASSERT_STREQ(p->hooks[1].run, "app-ctl pause");
        ASSERT_STREQ(p->hooks[1].after, "app-ctl resume\nlogger \"backup $YUNBAK_RESULT\"\n");

        expect_edit("      database: hr\n", "      database: hr\n      after: echo done\n",
                    "15:7: sources.hooks[0].after is for command hooks; to run a command after "
                    "the backup, add a hook of type command");
        _cleanup_free_ char *c = edit(base, "      type: postgresql\n      database: hr\n",
                                      "      type: command\n      run: x\n      aftr: y\n");
        EXPECT(c, "15:7: unknown key 'aftr' in sources.hooks[0]; did you mean 'after'?");
        _cleanup_free_ char *e = edit(base, "      type: postgresql\n      database: hr\n",
                                      "      type: command\n      run: x\n      after: [a, b]\n");
        EXPECT(e, "15:14: sources.hooks[0].after must be a string, not a list");
        _cleanup_free_ char *empty = edit(base, "      type: postgresql\n      database: hr\n",
                                          "      type: command\n      run: x\n      after: \"\"\n");
        EXPECT(empty, "15:14: sources.hooks[0].after is empty");
}

/* A postgresql hook's mode and libpq settings; the connection string yunbakd gives libpq. */
TEST(hook_postgresql_modes_and_connection) {
        _cleanup_(yb_policy_freep) YbPolicy *p = parse_ok(base);
        _cleanup_free_ char *ci = NULL, *ci2 = NULL, *ci3 = NULL, *ci4 = NULL;

        /* The default: a dump of database hr, connected as libpq's defaults say. */
        ASSERT_EQ(p->hooks[0].mode, YB_HOOK_MODE_DUMP);
        ASSERT_FALSE(p->live_postgresql_warn);
        ASSERT_OK(yb_hook_conninfo(&p->hooks[0], &ci));
        ASSERT_STREQ(ci, "dbname='hr'");
        ASSERT_STREQ(yb_hook_mode_to_string(YB_HOOK_MODE_PHYSICAL), "physical");

        /* Physical, peer authentication over the Unix socket: database defaults to postgres;
         * values with a quote or a backslash are escaped as libpq wants. */
        _cleanup_free_ char *phys = edit(base, "      database: hr\n",
                                         "      mode: physical\n"
                                         "      host: /var/run/postgresql\n"
                                         "      port: \"5433\"\n"
                                         "      user: o'brien\\x\n"
                                         "  live_postgresql: warn\n");
        _cleanup_(yb_policy_freep) YbPolicy *q = parse_ok(phys);
        ASSERT_EQ(q->hooks[0].mode, YB_HOOK_MODE_PHYSICAL);
        ASSERT_TRUE(q->live_postgresql_warn);
        ASSERT_STREQ(q->hooks[0].database, "postgres");
        ASSERT_OK(yb_hook_conninfo(&q->hooks[0], &ci2));
        ASSERT_STREQ(ci2, "dbname='postgres' host='/var/run/postgresql' port='5433' "
                          "user='o\\'brien\\\\x'");

        /* A whole connection string is given as is. */
        _cleanup_free_ char *whole =
                edit(base, "      database: hr\n",
                     "      mode: physical\n      database: host=/run/pg dbname=hr user=yb\n");
        _cleanup_(yb_policy_freep) YbPolicy *w = parse_ok(whole);
        ASSERT_OK(yb_hook_conninfo(&w->hooks[0], &ci3));
        ASSERT_STREQ(ci3, "host=/run/pg dbname=hr user=yb");
        _cleanup_free_ char *uri = edit(base, "      database: hr\n",
                                        "      database: postgresql:///hr?host=/run/pg\n");
        _cleanup_(yb_policy_freep) YbPolicy *u = parse_ok(uri);
        ASSERT_OK(yb_hook_conninfo(&u->hooks[0], &ci4));
        ASSERT_STREQ(ci4, "postgresql:///hr?host=/run/pg");

        /* A copy owns its strings. */
        YbHook copy;
        ASSERT_OK(yb_hook_copy(&q->hooks[0], &copy));
        ASSERT_STREQ(copy.user, "o'brien\\x");
        ASSERT_TRUE(copy.user != q->hooks[0].user);
        yb_hook_done(&copy);

        /* A command hook has no connection string. */
        YbHook cmd = { .type = YB_HOOK_COMMAND, .run = (char *) "true" };
        char *none = NULL;
        ASSERT_EQ(yb_hook_conninfo(&cmd, &none), -EINVAL);
}

/* A password in a hook's connection string would be on the agent's command line: refused, in
 * each form libpq takes, and only there. */
TEST(hook_postgresql_password) {
        static const char *const with[] = {
                "host=/run/pg dbname=hr password=s3cret",
                "dbname=hr  password = 's3 cret'",
                "postgresql://yb:s3cret@db.example/hr",
                "postgres://yb@db.example/hr?sslmode=require&password=s3cret",
        };
        static const char *const without[] = {
                "host=/run/pg dbname=hr user=yb",
                "dbname='password=x' host=/run/pg",
                "postgresql://yb@db.example/hr?sslmode=require",
                "postgresql:///hr?host=/run/pg",
        };
        char line[256];

        for (size_t i = 0; i < ELEMENTSOF(with); i++) {
                _cleanup_free_ char *text = NULL;

                snprintf(line, sizeof(line), "      database: \"%s\"\n", with[i]);
                text = edit(base, "      database: hr\n", line);
                EXPECT(text, "14:17: sources.hooks[0].database gives a password: the connection "
                             "string is on the agent's command line, which any user of the host "
                             "sees (ps). Leave it out, and give the password in the agent's "
                             "~/.pgpass, or use peer authentication (docs/policy.md, "
                             "\"Connecting\")");
        }
        for (size_t i = 0; i < ELEMENTSOF(without); i++) {
                _cleanup_free_ char *text = NULL;

                snprintf(line, sizeof(line), "      database: \"%s\"\n", without[i]);
                text = edit(base, "      database: hr\n", line);
                EXPECT_VALID(text);
        }
}

TEST(hook_postgresql_errors) {
        expect_edit("      database: hr\n", "      mode: logical\n      database: hr\n",
                    "14:13: sources.hooks[0].mode must be dump or physical, not 'logical'");
        expect_edit("      database: hr\n", "      mode: physical\n      timeout: 1h\n",
                    "15:7: sources.hooks[0].timeout bounds a dump; a physical backup is bounded "
                    "by the job's timeout (yunbakd.yaml)");
        expect_edit("      database: hr\n", "      mode: physical\n      on_failure: continue\n",
                    "15:7: sources.hooks[0].on_failure is for dumps; a physical backup that fails "
                    "fails the whole backup (nothing is committed)");
        expect_edit("      database: hr\n",
                    "      database: host=/run/pg dbname=hr\n      user: yb\n",
                    "15:7: sources.hooks[0].user: the database is a whole connection string; "
                    "give user in it, or give database as a name");
        expect_edit("      database: hr\n", "      database: hr\n      port: fifty\n",
                    "15:13: sources.hooks[0].port must be a port number (or several, "
                    "comma-separated, as libpq takes them), not 'fifty'");
        _cleanup_free_ char *nodb = edit(base, "      database: hr\n", "      host: /a b\n");
        EXPECT(nodb, "12:7: missing key 'database' in sources.hooks[0] (the database to dump)",
               "14:13: sources.hooks[0].host must not contain spaces, not '/a b'");
        expect_edit("    - name: hr-db\n      type: postgresql\n      database: hr\n",
                    "    - name: hr db\n      type: postgresql\n      mode: physical\n",
                    "12:13: sources.hooks[0].name of a physical hook must be 1 to 63 of A-Z, "
                    "a-z, 0-9, '_', '.' and '-', not starting with '.', not 'hr db' (it names "
                    "the directory _pg/NAME of the snapshot)");
        expect_edit("    - name: hr-db\n      type: postgresql\n      database: hr\n",
                    "    - name: .hr-db\n      type: postgresql\n      mode: physical\n",
                    "12:13: sources.hooks[0].name of a physical hook must be 1 to 63 of A-Z, "
                    "a-z, 0-9, '_', '.' and '-', not starting with '.', not '.hr-db' (it names "
                    "the directory _pg/NAME of the snapshot)");
        _cleanup_free_ char *c = edit(base, "      type: postgresql\n      database: hr\n",
                                      "      type: command\n      run: x\n      mode: physical\n"
                                      "      host: h\n");
        EXPECT(c, "15:7: sources.hooks[0].mode is for postgresql hooks; a command hook has run",
               "16:7: sources.hooks[0].host is for postgresql hooks; a command hook has run");
        expect_edit("  hooks:\n", "  live_postgresql: maybe\n  hooks:\n",
                    "11:20: sources.live_postgresql must be error or warn, not 'maybe'");
}

/* drill.timeout and drill.postgresql: the defaults, the hook's mode and database. */
TEST(drill_postgresql_reads_into_fields) {
        _cleanup_(yb_policy_freep) YbPolicy *dflt = parse_ok(base);
        _cleanup_free_ char *text =
                edit(base, "  every: 90d\n",
                     "  every: 90d\n  timeout: 30min\n  postgresql:\n"
                     "    - hook: hr-db\n      query: SELECT count(*) FROM employees\n"
                     "      min: 1000\n"
                     "    - hook: hr-db\n      database: postgres\n"
                     "      query: |\n        SELECT 1\n"
                     "    - hook: hr-base\n      query: SELECT -2\n      min: -5\n");
        _cleanup_free_ char *text2 =
                edit(text, "      database: hr\n",
                     "      database: hr\n    - name: hr-base\n      type: postgresql\n"
                     "      mode: physical\n");
        _cleanup_(yb_policy_freep) YbPolicy *p = parse_ok(text2);

        ASSERT_EQ(dflt->drill_timeout_usec, YB_USEC_PER_HOUR);
        ASSERT_EQ(dflt->n_drill_pg, 0);
        ASSERT_EQ(p->drill_timeout_usec, 30 * YB_USEC_PER_MINUTE);
        ASSERT_EQ(p->n_drill_pg, 3);
        ASSERT_STREQ(p->drill_pg[0].hook, "hr-db");
        ASSERT_STREQ(p->drill_pg[0].mode, "dump");
        ASSERT_STREQ(p->drill_pg[0].database, "hr");
        ASSERT_STREQ(p->drill_pg[0].query, "SELECT count(*) FROM employees");
        ASSERT_EQ(p->drill_pg[0].min, 1000);
        ASSERT_EQ(p->drill_pg[0].line, 38);
        ASSERT_EQ(p->drill_pg[0].column, 7);
        ASSERT_STREQ(p->drill_pg[1].database, "postgres");
        ASSERT_STREQ(p->drill_pg[1].query, "SELECT 1\n");
        ASSERT_EQ(p->drill_pg[1].min, 1);
        ASSERT_STREQ(p->drill_pg[2].mode, "physical");
        ASSERT_STREQ(p->drill_pg[2].database, "postgres");
        ASSERT_EQ(p->drill_pg[2].min, -5);
}

/* Each mistake in drill.postgresql, at its position. */
TEST(drill_postgresql_errors) {
#define PG(item) "  every: 90d\n  postgresql:\n    - hook: hr-db\n" item
        expect_edit("  every: 90d\n", "  every: 90d\n  timeout: soon\n",
                    "33:12: bad duration 'soon' for drill.timeout: expected a whole number at "
                    "'soon'");
        expect_edit("  every: 90d\n", PG("      query: SELECT 1\n      min: 1k\n"),
                    "36:12: drill.postgresql[0].min must be a whole number (an integer such as "
                    "1000), not '1k'");
        expect_edit("  every: 90d\n", PG("      query: SELECT 1\n      min: 1.5\n"),
                    "36:12: drill.postgresql[0].min must be a whole number (an integer such as "
                    "1000), not '1.5'");
        expect_edit("  every: 90d\n",
                    PG("      query: SELECT 1\n      min: 99999999999999999999\n"),
                    "36:12: drill.postgresql[0].min is out of range: '99999999999999999999' (at "
                    "most 9223372036854775807 either way)");
        expect_edit("  every: 90d\n", PG("      query: ''\n"),
                    "35:14: drill.postgresql[0].query is empty");
        expect_edit("  every: 90d\n", PG(""), "34:7: missing key 'query' in drill.postgresql[0]");
        expect_edit("  every: 90d\n", PG("      query: SELECT 1\n      mim: 2\n"),
                    "36:7: unknown key 'mim' in drill.postgresql[0]; did you mean 'min'?");
        expect_edit("  every: 90d\n",
                    "  every: 90d\n  postgresql:\n    - hook: hr-dbb\n      query: SELECT 1\n",
                    "34:13: drill.postgresql[0].hook: no postgresql hook named 'hr-dbb' in "
                    "sources.hooks; did you mean 'hr-db'?");
        expect_edit("  every: 90d\n",
                    "  every: 90d\n  postgresql:\n    - hook: payroll\n      query: SELECT 1\n",
                    "34:13: drill.postgresql[0].hook: no postgresql hook named 'payroll' in "
                    "sources.hooks (its postgresql hooks: 'hr-db'): name one of them");
        expect_edit("  every: 90d\n", "  every: 90d\n  postgresql: SELECT 1\n",
                    "33:15: drill.postgresql must be a list of {hook, database, query, min}, not "
                    "'SELECT 1'");
        expect_edit("  every: 90d\n", "  every: 90d\n  postgresql: []\n",
                    "33:15: drill.postgresql is empty: name at least one check, or leave the key "
                    "out");
        expect_edit("  every: 90d\n",
                    PG("      query: SELECT 1\n    - database: hr\n      hook: hr-db\n"
                       "      query: SELECT 1\n"),
                    "36:7: drill.postgresql[1] repeats the check at line 34 (the same hook, "
                    "database and query): remove one");
        _cleanup_free_ char *cmd = edit2(base, "      type: postgresql\n      database: hr\n",
                                         "      type: command\n      run: x\n", "  every: 90d\n",
                                         PG("      query: SELECT 1\n"));
        EXPECT(cmd, "34:13: drill.postgresql[0].hook: hook 'hr-db' is a command hook; "
                    "drill.postgresql names hooks of type postgresql (a dump or a physical "
                    "backup)");
        _cleanup_free_ char *conn =
                edit2(base, "      database: hr\n", "      database: host=/run/pg dbname=hr\n",
                      "  every: 90d\n", PG("      query: SELECT 1\n"));
        EXPECT(conn, "34:7: missing key 'database' in drill.postgresql[0]: hook 'hr-db' gives a "
                     "whole connection string, so say which database of the drill's cluster "
                     "the query runs in (the one its dump is loaded into)");
#undef PG
}

/* Where the names of the host and the stores are written, for yunbakd's cross-check. */
TEST(positions_of_host_and_stores) {
        _cleanup_(yb_policy_freep) YbPolicy *p = parse_ok(base);

        ASSERT_EQ(p->host_line, 9);
        ASSERT_EQ(p->host_column, 9);
        ASSERT_EQ(p->tier1_store_line, 16);
        ASSERT_EQ(p->tier1_store_column, 10);
        ASSERT_EQ(p->tier2_store_line, 22);
        ASSERT_EQ(p->tier2_store_column, 10);
        ASSERT_EQ(p->tier3_store_line, 26);
        ASSERT_EQ(p->tier3_store_column, 10);
}

TEST(sources_with_the_same_name_collide) {
        expect_edit("  paths: [/srv/hr-portal, /etc/nginx]\n",
                    "  paths: [/srv/hr-portal, /etc/nginx, /backup/hr-portal/]\n",
                    "10:39: sources.paths[2] '/backup/hr-portal/' has the same last component as "
                    "sources.paths[0] '/srv/hr-portal': each source is stored under its name, so "
                    "they would collide");
}

TEST(not_a_policy) {
        static const struct {
                const char *text, *error;
        } cases[] = {
                { "", "1:1: the file is empty: a policy needs version, system, sources, tier1, "
                      "objectives and drill" },
                { "# nothing\n", "1:1: the file is empty: a policy needs version, system, "
                                 "sources, tier1, objectives and drill" },
                { "- a\n- b\n", "1:1: a policy must be a mapping of version, system, sources, "
                                "tier1, ..., not a list" },
                { "just text\n", "1:1: a policy must be a mapping of version, system, sources, "
                                 "tier1, ..., not 'just text'" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                EXPECT(cases[i].text, cases[i].error);
}

TEST(diagnostics_accumulate_across_files) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        _cleanup_free_ char *bad = edit(base, "version: 1\n", "version: 2\n");
        YbPolicy *p = NULL;

        ASSERT_ERR(yb_policy_parse("a.yaml", bad, strlen(bad), &p, &d), EINVAL);
        ASSERT_ERR(yb_policy_parse("b.yaml", "", 0, &p, &d), EINVAL);
        ASSERT_OK(yb_policy_parse("c.yaml", base, strlen(base), &p, &d));
        p = yb_policy_free(p);
        ASSERT_EQ(d.n, 2);
        ASSERT_TRUE(strncmp(d.lines[0], "a.yaml:1:10: ", 13) == 0);
        ASSERT_TRUE(strncmp(d.lines[1], "b.yaml:1:1: ", 12) == 0);
}

TEST(load_from_files) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *dir = test_tmpdir_new();
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        _cleanup_free_ char *good = test_tmpdir_path(dir, "good.yaml");
        _cleanup_free_ char *missing = test_tmpdir_path(dir, "missing.yaml");
        _cleanup_free_ char *big = test_tmpdir_path(dir, "big.yaml");
        _cleanup_free_ char *want = NULL;
        _cleanup_free_ char *filler = malloc(1024 * 1024 + 1);
        YbPolicy *p = NULL;

        test_write_file(dir->fd, "good.yaml", base, strlen(base));
        ASSERT_OK(yb_policy_load(good, &p, &d));
        ASSERT_STREQ(p->file, good);
        ASSERT_STREQ(p->name, "人事门户网站");
        p = yb_policy_free(p);
        ASSERT_EQ(d.n, 0);

        ASSERT_ERR(yb_policy_load(missing, &p, &d), ENOENT);
        ASSERT_TRUE(p == NULL);
        ASSERT_EQ(d.n, 1);
        assert_true(asprintf(&want, "%s: cannot read: %s", missing, strerror(ENOENT)) > 0);
        ASSERT_STREQ(d.lines[0], want);

        assert_non_null(filler);
        memset(filler, '#', 1024 * 1024 + 1);
        test_write_file(dir->fd, "big.yaml", filler, 1024 * 1024 + 1);
        ASSERT_ERR(yb_policy_load(big, &p, &d), EINVAL);
        ASSERT_EQ(d.n, 2);
        free(want);
        assert_true(asprintf(&want, "%s:1:1: the file is larger than 1024 KiB", big) > 0);
        ASSERT_STREQ(d.lines[1], want);
}

TEST(durations) {
        static const struct {
                const char *text;
                int64_t usec;
        } good[] = {
                { "30s", 30 * YB_USEC_PER_SEC },
                { "5min", 5 * YB_USEC_PER_MINUTE },
                { "1h", YB_USEC_PER_HOUR },
                { "7d", 7 * YB_USEC_PER_DAY },
                { "2w", 14 * YB_USEC_PER_DAY },
                { "1h30min", 90 * YB_USEC_PER_MINUTE },
                { "1h 30min", 90 * YB_USEC_PER_MINUTE },
                { "5 min", 5 * YB_USEC_PER_MINUTE },
                { "2 hours 3 seconds", 2 * YB_USEC_PER_HOUR + 3 * YB_USEC_PER_SEC },
                { "1y", 31557600 * YB_USEC_PER_SEC },
                { "6month", 6 * 2629800 * YB_USEC_PER_SEC },
                { "0s", 0 },
                { "90sec", 90 * YB_USEC_PER_SEC },
        };
        static const char *const bad[] = { "",    "30",   "1m",   "1M",    "5 minuts", "h",
                                           "-1s", "1.5h", "1h30", "1 h x", "1d-2h",    "１h" };

        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                int64_t usec = -1, back = -1;
                char buf[48];

                if (yb_duration_parse(good[i].text, &usec) < 0 || usec != good[i].usec)
                        fail_msg("'%s' should be %lld us, got %lld", good[i].text,
                                 (long long) good[i].usec, (long long) usec);
                ASSERT_OK(yb_duration_parse(yb_duration_format(usec, buf, sizeof(buf)), &back));
                ASSERT_EQ(back, usec);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int64_t usec = 42;

                if (yb_duration_parse(bad[i], &usec) != -EINVAL)
                        fail_msg("'%s' should be refused", bad[i]);
                ASSERT_EQ(usec, 42);
        }
}

TEST(duration_format) {
        static const struct {
                int64_t usec;
                const char *text;
        } cases[] = {
                { 0, "0s" },
                { 999999, "0s" },
                { 30 * YB_USEC_PER_SEC, "30s" },
                { 90 * YB_USEC_PER_MINUTE, "1h30min" },
                { YB_USEC_PER_DAY + 1 * YB_USEC_PER_SEC, "1d1s" },
                { 14 * YB_USEC_PER_DAY, "14d" },
                { 31557600 * YB_USEC_PER_SEC, "1y" },
                { 6 * 2629800 * YB_USEC_PER_SEC, "6month" },
                { 366 * YB_USEC_PER_DAY, "366d" },
        };
        char buf[48];

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                ASSERT_STREQ(yb_duration_format(cases[i].usec, buf, sizeof(buf)), cases[i].text);
        ASSERT_STREQ(yb_grade_to_string(YB_GRADE_IMPORTANT), "important");
        ASSERT_TRUE(yb_grade_to_string(_YB_GRADE_MAX) == NULL);
        ASSERT_STREQ(yb_hook_type_to_string(YB_HOOK_POSTGRESQL), "postgresql");
}

/* The source tree's root, from this file's path (CMake compiles it by absolute path). */
static char *source_path(const char *rel) {
        const char *me = __FILE__, *tail = strstr(me, "tests/unit/test-policy.c");
        char *s;

        if (!tail || tail == me)
                return NULL;
        assert_true(asprintf(&s, "%.*s%s", (int) (tail - me), me, rel) > 0);
        return s;
}

TEST(examples_are_valid) {
        _cleanup_free_ char *dir = source_path("policies/examples");
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        struct dirent **entries = NULL;
        bool grades[_YB_GRADE_MAX] = { false };
        size_t n_pg = 0, n_checked = 0;
        int n;

        if (!dir)
                skip();
        n = scandir(dir, &entries, NULL, alphasort);
        ASSERT_GE(n, 0);
        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL;
                YbPolicy *p = NULL;
                size_t len = strlen(entries[i]->d_name);

                if (len > 5 && streq(entries[i]->d_name + len - 5, ".yaml")) {
                        assert_true(asprintf(&path, "%s/%s", dir, entries[i]->d_name) > 0);
                        if (yb_policy_load(path, &p, &d) < 0) {
                                yb_diagnostics_print(&d, stderr);
                                fail_msg("example %s is not valid", path);
                        }
                        grades[p->grade] = true;
                        for (size_t h = 0; h < p->n_hooks; h++)
                                n_pg += p->hooks[h].type == YB_HOOK_POSTGRESQL;
                        /* Each file is named after its system. */
                        ASSERT_EQ(strncmp(entries[i]->d_name, p->id, len - 5), 0);
                        ASSERT_EQ(strlen(p->id), len - 5);
                        n_checked++;
                        yb_policy_free(p);
                }
                free(entries[i]);
        }
        free(entries);
        ASSERT_GE(n_checked, 3);
        ASSERT_TRUE(grades[YB_GRADE_GENERAL] && grades[YB_GRADE_IMPORTANT] &&
                    grades[YB_GRADE_CORE]);
        ASSERT_GE(n_pg, 1);
}
