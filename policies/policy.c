/* policies/policy.c: checks a policy's YAML tree against the schema of docs/policy.md and fills a
 * YbPolicy, with the typed readers of schema.h. Checking never stops at the first problem: each
 * reader reports what is wrong with its value and the checks go on, so that one run of "yunbak
 * policy check" lists everything, sorted by position. */
#include "policies/policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/excerpt.h"
#include "core/base/fileio.h"
#include "core/base/ident.h"
#include "policies/drill-checks.h"
#include "policies/hook.h"
#include "policies/schema.h"
#include "policies/yamltree.h"

#define RETENTION_MAX 1000000

const char *yb_grade_to_string(YbGrade g) {
        static const char *const names[_YB_GRADE_MAX] = {
                [YB_GRADE_GENERAL] = "general",
                [YB_GRADE_IMPORTANT] = "important",
                [YB_GRADE_CORE] = "core",
        };

        return (unsigned) g < _YB_GRADE_MAX ? names[g] : NULL;
}

/* ---- the schema ---- */

static const char *const top_keys[] = { "version", "system",     "sources", "tier1", "tier2",
                                        "tier3",   "objectives", "drill",   NULL };
static const char *const system_keys[] = { "id",      "name",           "department",
                                           "contact", "classification", NULL };
static const char *const sources_keys[] = { "host",  "paths",           "exclude",
                                            "hooks", "live_postgresql", NULL };
static const char *const live_postgresql_names[] = { "error", "warn", NULL };
static const char *const tier1_keys[] = { "store",       "full",      "differential",
                                          "incremental", "retention", "lock_until",
                                          NULL };
static const char *const tier2_keys[] = { "store",      "max_lag",   "interval",
                                          "checkpoint", "retention", NULL };
static const char *const tier3_keys[] = { "store",    "schedule",  "on_request",
                                          "approval", "retention", NULL };
static const char *const retention_keys[] = {
        "keep_last", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within", NULL
};
static const char *const objectives_keys[] = { "rpo", "rto", NULL };
static const char *const drill_keys[] = { "every", "check", "timeout", "postgresql", NULL };
static const char *const grade_names[] = { "general", "important", "core", NULL };
static const char *const approval_names[] = { "required", "automatic", NULL };

/* What the grade checks need to know, once the sections are read. */
typedef struct Seen {
        const YbYamlNode *classification; /* NULL unless it was read */
        const YbYamlPair *tier2, *tier3, *drill;
        const YbYamlNode *max_lag, *drill_every; /* NULL unless they were read */
        bool tier3_scheduled, tier3_ok;
} Seen;

static YbRetention retention_unset(void) {
        return (YbRetention){ -1, -1, -1, -1, -1, 0 };
}

static void read_retention(YbSchema *c, const YbYamlNode *tier, const char *tier_path,
                           YbRetention *ret) {
        static const char *const names[] = { "keep_last", "keep_daily", "keep_weekly",
                                             "keep_monthly", "keep_yearly" };
        const YbYamlPair *pair;
        const YbYamlNode *m =
                yb_schema_section(c, tier, "retention", tier_path, NULL, retention_keys, &pair);
        int *fields[] = { &ret->keep_last, &ret->keep_daily, &ret->keep_weekly, &ret->keep_monthly,
                          &ret->keep_yearly };
        YbSchemaPath parent, path;
        bool any = false;

        if (!m)
                return;
        yb_schema_join(parent, tier_path, "retention");
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const YbYamlPair *p = yb_schema_get(c, m, names[i], parent, NULL);

                if (p) {
                        any = true;
                        (void) yb_schema_read_uint(c, p->value,
                                                   yb_schema_join(path, parent, names[i]),
                                                   RETENTION_MAX, fields[i]);
                }
        }
        pair = yb_schema_get(c, m, "keep_within", parent, NULL);
        if (pair) {
                any = true;
                (void) yb_schema_read_duration(c, pair->value,
                                               yb_schema_join(path, parent, "keep_within"),
                                               &ret->keep_within_usec);
        }
        if (!any)
                yb_schema_bad(
                        c, m,
                        "%s has no rule: set keep_last, keep_daily, keep_weekly, keep_monthly, "
                        "keep_yearly or keep_within, or leave retention out to keep everything",
                        parent);
}

static void read_system(YbSchema *c, const YbYamlNode *root, YbPolicy *p, Seen *seen) {
        const YbYamlPair *sp, *pair;
        const YbYamlNode *m = yb_schema_section(c, root, "system", "", root, system_keys, &sp);
        int g;

        if (!m)
                return;
        pair = yb_schema_get(c, m, "id", "system", sp->key);
        if (pair && yb_schema_read_text(c, pair->value, "system.id", 0, &p->id)) {
                char buf[80];

                p->id_line = pair->value->line;
                p->id_column = pair->value->column;
                if (!yb_system_id_valid(p->id))
                        yb_schema_bad(c, pair->value,
                                      "system.id %s is not valid: " YB_SYSTEM_ID_RULE,
                                      yb_schema_describe(pair->value, buf, sizeof(buf)));
        }
        pair = yb_schema_get(c, m, "name", "system", sp->key);
        if (pair)
                (void) yb_schema_read_text(c, pair->value, "system.name", 0, &p->name);
        pair = yb_schema_get(c, m, "department", "system", sp->key);
        if (pair)
                (void) yb_schema_read_text(c, pair->value, "system.department", 0, &p->department);
        pair = yb_schema_get(c, m, "contact", "system", sp->key);
        if (pair)
                (void) yb_schema_read_text(c, pair->value, "system.contact", 0, &p->contact);
        pair = yb_schema_get(c, m, "classification", "system", sp->key);
        if (pair &&
            yb_schema_read_choice(c, pair->value, "system.classification", grade_names, &g)) {
                p->grade = (YbGrade) g;
                seen->classification = pair->value;
        }
}

/* The name a source gets in a snapshot: its last component (see docs/cli.md). */
static const char *source_name(const char *path, size_t *ret_len) {
        size_t n = strlen(path);
        const char *s;

        while (n > 1 && path[n - 1] == '/')
                n--;
        for (s = path + n; s > path && s[-1] != '/'; s--)
                ;
        *ret_len = (size_t) (path + n - s);
        return s;
}

static void read_sources(YbSchema *c, const YbYamlNode *root, YbPolicy *p) {
        const YbYamlPair *sp, *pair;
        int live;
        const YbYamlNode *m = yb_schema_section(c, root, "sources", "", root, sources_keys, &sp);

        if (!m)
                return;
        pair = yb_schema_get(c, m, "host", "sources", sp->key);
        if (pair) {
                p->host_line = pair->value->line;
                p->host_column = pair->value->column;
                (void) yb_schema_read_text(c, pair->value, "sources.host", YB_SCHEMA_TEXT_NO_SPACE,
                                           &p->host);
        }
        pair = yb_schema_get(c, m, "paths", "sources", sp->key);
        if (pair && yb_schema_read_text_list(c, pair->value, "sources.paths", true, true, &p->paths,
                                             &p->n_paths)) {
                /* The agent stores each source under its last component and refuses two of the
                 * same name: say so now rather than at the first backup. */
                for (size_t i = 1; i < p->n_paths; i++)
                        for (size_t j = 0; j < i; j++) {
                                size_t li, lj;
                                const char *ni = source_name(p->paths[i], &li);
                                const char *nj = source_name(p->paths[j], &lj);
                                char a[64], b[64];

                                if (li != lj || memcmp(ni, nj, li) != 0)
                                        continue;
                                yb_schema_bad(
                                        c, pair->value->items[i],
                                        "sources.paths[%zu] '%s' has the same last component as "
                                        "sources.paths[%zu] '%s': each source is stored under its "
                                        "name, so they would collide",
                                        i, yb_excerpt(p->paths[i], a, sizeof(a)), j,
                                        yb_excerpt(p->paths[j], b, sizeof(b)));
                                break;
                        }
        }
        pair = yb_schema_get(c, m, "exclude", "sources", NULL);
        if (pair)
                (void) yb_schema_read_text_list(c, pair->value, "sources.exclude", false, false,
                                                &p->excludes, &p->n_excludes);
        pair = yb_schema_get(c, m, "hooks", "sources", NULL);
        if (pair)
                yb_policy_read_hooks(c, pair->value, p);
        pair = yb_schema_get(c, m, "live_postgresql", "sources", NULL);
        if (pair && yb_schema_read_choice(c, pair->value, "sources.live_postgresql",
                                          live_postgresql_names, &live))
                p->live_postgresql_warn = live == 1;
}

static void read_tier1(YbSchema *c, const YbYamlNode *root, YbPolicy *p) {
        const YbYamlPair *tp, *pair;
        const YbYamlNode *m = yb_schema_section(c, root, "tier1", "", root, tier1_keys, &tp);

        if (!m)
                return;
        pair = yb_schema_get(c, m, "store", "tier1", tp->key);
        if (pair) {
                p->tier1_store_line = pair->value->line;
                p->tier1_store_column = pair->value->column;
                (void) yb_schema_read_text(c, pair->value, "tier1.store", YB_SCHEMA_TEXT_NO_SPACE,
                                           &p->tier1_store);
        }
        pair = yb_schema_get(c, m, "full", "tier1", tp->key);
        if (pair)
                (void) yb_schema_read_calendar(c, pair->value, "tier1.full", &p->full,
                                               &p->full_text);
        pair = yb_schema_get(c, m, "differential", "tier1", NULL);
        if (pair)
                (void) yb_schema_read_calendar(c, pair->value, "tier1.differential",
                                               &p->differential, &p->differential_text);
        pair = yb_schema_get(c, m, "incremental", "tier1", tp->key);
        if (pair)
                (void) yb_schema_read_calendar(c, pair->value, "tier1.incremental", &p->incremental,
                                               &p->incremental_text);
        read_retention(c, m, "tier1", &p->tier1_retention);
        pair = yb_schema_get(c, m, "lock_until", "tier1", NULL);
        if (pair)
                (void) yb_schema_read_date(c, pair->value, "tier1.lock_until", &p->lock_until_usec);
}

static void read_tier2(YbSchema *c, const YbYamlNode *root, YbPolicy *p, Seen *seen) {
        const YbYamlPair *pair;
        const YbYamlNode *m =
                yb_schema_section(c, root, "tier2", "", NULL, tier2_keys, &seen->tier2);
        int64_t interval;

        if (!m)
                return;
        pair = yb_schema_get(c, m, "store", "tier2", seen->tier2->key);
        if (pair) {
                p->tier2_store_line = pair->value->line;
                p->tier2_store_column = pair->value->column;
                (void) yb_schema_read_text(c, pair->value, "tier2.store", YB_SCHEMA_TEXT_NO_SPACE,
                                           &p->tier2_store);
        }
        pair = yb_schema_get(c, m, "max_lag", "tier2", seen->tier2->key);
        if (pair &&
            yb_schema_read_duration(c, pair->value, "tier2.max_lag", &p->tier2_max_lag_usec))
                seen->max_lag = pair->value;
        p->tier2_interval_usec = YB_TIER2_INTERVAL_DEFAULT_USEC;
        pair = yb_schema_get(c, m, "interval", "tier2", NULL);
        if (pair && yb_schema_read_duration(c, pair->value, "tier2.interval", &interval)) {
                char have[32], lag[32];

                if (interval < YB_TIER2_INTERVAL_MIN_USEC)
                        yb_schema_bad(c, pair->value, "tier2.interval must be at least 1s, not %s",
                                      yb_duration_format(interval, have, sizeof(have)));
                else if (seen->max_lag && interval >= p->tier2_max_lag_usec)
                        yb_schema_bad(c, pair->value,
                                      "tier2.interval (%s) must be shorter than tier2.max_lag "
                                      "(%s): a segment every interval is how the lag stays "
                                      "under max_lag",
                                      yb_duration_format(interval, have, sizeof(have)),
                                      yb_duration_format(p->tier2_max_lag_usec, lag, sizeof(lag)));
                else
                        p->tier2_interval_usec = interval;
        }
        pair = yb_schema_get(c, m, "checkpoint", "tier2", seen->tier2->key);
        if (pair)
                (void) yb_schema_read_calendar(c, pair->value, "tier2.checkpoint",
                                               &p->tier2_checkpoint, &p->tier2_checkpoint_text);
        read_retention(c, m, "tier2", &p->tier2_retention);
}

static void read_tier3(YbSchema *c, const YbYamlNode *root, YbPolicy *p, Seen *seen) {
        const YbYamlPair *pair, *sched, *req;
        const YbYamlNode *m =
                yb_schema_section(c, root, "tier3", "", NULL, tier3_keys, &seen->tier3);
        bool ok = true;
        int a;

        if (!m)
                return;
        pair = yb_schema_get(c, m, "store", "tier3", seen->tier3->key);
        if (pair) {
                p->tier3_store_line = pair->value->line;
                p->tier3_store_column = pair->value->column;
                ok &= yb_schema_read_text(c, pair->value, "tier3.store", YB_SCHEMA_TEXT_NO_SPACE,
                                          &p->tier3_store);
        }
        sched = yb_schema_get(c, m, "schedule", "tier3", NULL);
        if (sched) {
                seen->tier3_scheduled =
                        yb_schema_read_calendar(c, sched->value, "tier3.schedule",
                                                &p->tier3_schedule, &p->tier3_schedule_text);
                ok &= seen->tier3_scheduled;
        }
        req = yb_schema_get(c, m, "on_request", "tier3", NULL);
        if (req)
                ok &= yb_schema_read_bool(c, req->value, "tier3.on_request", &p->tier3_on_request);
        if (!sched && (!req || (ok && !p->tier3_on_request))) {
                yb_schema_bad(
                        c, seen->tier3->key,
                        "tier3 needs a schedule, on_request: true, or both (copies are made on a "
                        "calendar or when a department asks)");
                ok = false;
        }
        p->tier3_approval_required = true;
        pair = yb_schema_get(c, m, "approval", "tier3", NULL);
        if (pair) {
                if (yb_schema_read_choice(c, pair->value, "tier3.approval", approval_names, &a))
                        p->tier3_approval_required = a == 0;
                else
                        ok = false;
        }
        read_retention(c, m, "tier3", &p->tier3_retention);
        seen->tier3_ok = ok;
}

static void read_objectives(YbSchema *c, const YbYamlNode *root, YbPolicy *p) {
        const YbYamlPair *op, *pair;
        const YbYamlNode *m =
                yb_schema_section(c, root, "objectives", "", root, objectives_keys, &op);

        if (!m)
                return;
        pair = yb_schema_get(c, m, "rpo", "objectives", op->key);
        if (pair)
                (void) yb_schema_read_duration(c, pair->value, "objectives.rpo", &p->rpo_usec);
        pair = yb_schema_get(c, m, "rto", "objectives", op->key);
        if (pair)
                (void) yb_schema_read_duration(c, pair->value, "objectives.rto", &p->rto_usec);
}

static void read_drill(YbSchema *c, const YbYamlNode *root, YbPolicy *p, Seen *seen) {
        const YbYamlPair *pair;
        const YbYamlNode *m =
                yb_schema_section(c, root, "drill", "", NULL, drill_keys, &seen->drill);

        if (!m)
                return;
        pair = yb_schema_get(c, m, "every", "drill", seen->drill->key);
        if (pair && yb_schema_read_duration(c, pair->value, "drill.every", &p->drill_every_usec))
                seen->drill_every = pair->value;
        pair = yb_schema_get(c, m, "check", "drill", NULL);
        if (pair)
                (void) yb_schema_read_text(c, pair->value, "drill.check", YB_SCHEMA_TEXT_MULTILINE,
                                           &p->drill_check);
        pair = yb_schema_get(c, m, "timeout", "drill", NULL);
        if (pair)
                (void) yb_schema_read_duration(c, pair->value, "drill.timeout",
                                               &p->drill_timeout_usec);
        pair = yb_schema_get(c, m, "postgresql", "drill", NULL);
        if (pair)
                yb_policy_read_drill_pg(c, pair->value, p);
}

/* The grade minimums. Each is checked only when what it looks at was read without error, so
 * that one mistake gives one message. */
static void check_grade(YbSchema *c, const YbYamlNode *root, const YbPolicy *p, const Seen *s) {
        char have[32], limit[32];

        if (!s->drill)
                yb_schema_bad(c, root,
                              "missing key 'drill': every system needs a restore drill at least "
                              "yearly (drill.every of at most 366d)");
        else if (s->drill_every && p->drill_every_usec > YB_DRILL_MAX_EVERY_USEC)
                yb_schema_bad(
                        c, s->drill_every,
                        "drill.every must be at most 366d: every system needs a restore drill at "
                        "least yearly, not every %s",
                        yb_duration_format(p->drill_every_usec, have, sizeof(have)));
        if (!s->classification || p->grade == YB_GRADE_GENERAL)
                return;
        const char *g = yb_grade_to_string(p->grade);

        yb_duration_format(YB_GRADE_MAX_LAG_USEC, limit, sizeof(limit));
        if (!s->tier2)
                yb_schema_bad(c, s->classification,
                              "a%s %s system needs tier2 (continuous replication to the intra-city "
                              "store, "
                              "max_lag at most %s)",
                              p->grade == YB_GRADE_IMPORTANT ? "n" : "", g, limit);
        else if (s->max_lag && p->tier2_max_lag_usec > YB_GRADE_MAX_LAG_USEC)
                yb_schema_bad(c, s->max_lag,
                              "tier2.max_lag must be at most %s for a%s %s system, not %s", limit,
                              p->grade == YB_GRADE_IMPORTANT ? "n" : "", g,
                              yb_duration_format(p->tier2_max_lag_usec, have, sizeof(have)));
        if (!s->tier3)
                yb_schema_bad(c, s->classification,
                              "a%s %s system needs tier3 (copies to the off-site store)%s",
                              p->grade == YB_GRADE_IMPORTANT ? "n" : "", g,
                              p->grade == YB_GRADE_CORE ? " on a schedule" : "");
        else if (p->grade == YB_GRADE_CORE && s->tier3_ok && !s->tier3_scheduled)
                yb_schema_bad(
                        c, s->tier3->key,
                        "a core system needs a scheduled tier3: add tier3.schedule (on_request "
                        "alone is not enough)");
}

static void check_policy(YbSchema *c, const YbYamlNode *root, YbPolicy *p) {
        const YbYamlPair *pair;
        Seen seen = { 0 };
        char buf[80];

        if (root->kind != YB_YAML_MAPPING) {
                if (root->kind != YB_YAML_INVALID)
                        yb_schema_bad(c, root,
                                      "a policy must be a mapping of version, system, sources, "
                                      "tier1, ..., "
                                      "not %s",
                                      yb_schema_describe(root, buf, sizeof(buf)));
                return;
        }
        yb_schema_check_keys(c, root, "", top_keys);
        pair = yb_schema_get(c, root, "version", "", root);
        if (pair && yb_schema_read_uint(c, pair->value, "version", RETENTION_MAX, &p->version) &&
            p->version != 1)
                yb_schema_bad(c, pair->value, "unsupported version %d: this yunbak reads version 1",
                              p->version);
        read_system(c, root, p, &seen);
        read_sources(c, root, p);
        read_tier1(c, root, p);
        read_tier2(c, root, p, &seen);
        read_tier3(c, root, p, &seen);
        read_objectives(c, root, p);
        read_drill(c, root, p, &seen);
        check_grade(c, root, p, &seen);
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

YbPolicy *yb_policy_free(YbPolicy *p) {
        if (!p)
                return NULL;
        free(p->file);
        free(p->id);
        free(p->name);
        free(p->department);
        free(p->contact);
        free(p->host);
        strv_free(p->paths, p->n_paths);
        strv_free(p->excludes, p->n_excludes);
        for (size_t i = 0; i < p->n_hooks; i++)
                yb_hook_done(&p->hooks[i]);
        free(p->hooks);
        free(p->tier1_store);
        yb_calendar_free(p->full);
        yb_calendar_free(p->differential);
        yb_calendar_free(p->incremental);
        free(p->full_text);
        free(p->differential_text);
        free(p->incremental_text);
        free(p->tier2_store);
        yb_calendar_free(p->tier2_checkpoint);
        free(p->tier2_checkpoint_text);
        free(p->tier3_store);
        yb_calendar_free(p->tier3_schedule);
        free(p->tier3_schedule_text);
        free(p->drill_check);
        for (size_t i = 0; i < p->n_drill_pg; i++)
                yb_drill_pg_spec_done(&p->drill_pg[i]);
        free(p->drill_pg);
        free(p);
        return NULL;
}

int yb_policy_parse(const char *name, const char *text, size_t size, YbPolicy **ret,
                    YbDiagnostics *diag) {
        _cleanup_(yb_schema_done) YbSchema c = YB_SCHEMA_INIT(name);
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;
        int r;

        assert(name && diag);
        p = new0(YbPolicy, 1);
        if (!p)
                return -ENOMEM;
        p->file = strdup(name);
        if (!p->file)
                return -ENOMEM;
        p->tier1_retention = p->tier2_retention = p->tier3_retention = retention_unset();
        p->drill_timeout_usec = YB_DRILL_TIMEOUT_DEFAULT_USEC;
        r = yb_yaml_parse(text, size, yb_schema_yaml_error, &c, &root);
        if (r < 0)
                return r;
        if (root)
                check_policy(&c, root, p);
        else if (r == 0)
                yb_schema_problem(
                        &c, 1, 1,
                        "the file is empty: a policy needs version, system, sources, tier1, "
                        "objectives and drill");
        r = yb_schema_flush(&c, diag);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(p);
        return 0;
}

int yb_policy_load(const char *path, YbPolicy **ret, YbDiagnostics *diag) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, YB_YAML_MAX_SIZE, &b);
        if (r == -EFBIG) {
                r = yb_diagnostics_addf(diag, "%s:1:1: the file is larger than %d KiB", path,
                                        YB_YAML_MAX_SIZE / 1024);
                return r < 0 ? r : -EINVAL;
        }
        if (r < 0) {
                int k = yb_diagnostics_addf(diag, "%s: cannot read: %s", path, strerror(-r));

                return k < 0 ? k : r;
        }
        return yb_policy_parse(path, b.data ? (const char *) b.data : "", b.size, ret, diag);
}
