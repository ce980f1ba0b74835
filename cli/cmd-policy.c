/* yunbak policy check FILE|DIR...
 * yunbak policy explain FILE [--next N] [--from TIME] [--json] */
#include <dirent.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/policy-archive.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "policies/policy.h"
#include "policies/storelock.h"

#define NEXT_DEFAULT 5
#define NEXT_MAX 1000

static void usage(FILE *f) {
        fputs("Usage: yunbak policy check [--config YUNBAKD.YAML] FILE|DIR...\n"
              "       yunbak policy explain FILE [--next N] [--from TIME] [--json]\n"
              "\n"
              "check reads each policy file (each *.yaml and *.yml of a directory) and prints\n"
              "every error of every file as 'file:line:col: message' on standard error, plus\n"
              "system ids used by more than one file. Exit status 0 when all are valid, 78\n"
              "otherwise. With --config, also warns (without changing the exit status) where a\n"
              "tier's store has S3 Object Lock: when its retention lets snapshots go sooner\n"
              "than the store keeps them, and when tier1.lock_until is later than the store's\n"
              "lock holds what is written now (docs/s3.md, \"Object Lock\").\n"
              "\n"
              "explain prints what a valid policy makes yunbakd do: the grade minimums and how\n"
              "they are met, the sources and hooks, and for every tier its store, retention and\n"
              "the next N runs of each calendar (default 5, at most 1000) after TIME (default\n"
              "now; 'YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM]', local time without an offset). Times are\n"
              "ISO 8601 with their offset, in the calendar's time zone. With --json, one object:\n"
              "{\"tier1\": {\"full\": [...], \"incremental\": [...]}, \"tier2\": ..., ...}.\n"
              "The schema is in docs/policy.md.\n",
              f);
}

/* ---- check ---- */

typedef struct Checked {
        char *file;
        char *id; /* NULL if the policy is invalid */
        unsigned line, column;
} Checked;

static int yaml_file_filter(const struct dirent *d) {
        size_t n = strlen(d->d_name);

        if (d->d_name[0] == '.')
                return 0;
        return (n > 5 && streq(d->d_name + n - 5, ".yaml")) ||
               (n > 4 && streq(d->d_name + n - 4, ".yml"));
}

/* Appends path, or the policy files of the directory path in name order. */
static int add_paths(const char *path, char ***files, size_t *n) {
        struct dirent **entries = NULL;
        struct stat st;
        int k;

        if (stat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
                char **a = reallocarray(*files, *n + 1, sizeof(char *));

                if (!a)
                        return -ENOMEM;
                *files = a;
                a[*n] = strdup(path);
                if (!a[*n])
                        return -ENOMEM;
                (*n)++;
                return 0;
        }
        k = scandir(path, &entries, yaml_file_filter, alphasort);
        if (k < 0)
                return negative_errno();
        int r = 0;
        for (int i = 0; i < k; i++) {
                char **a = r == 0 ? reallocarray(*files, *n + 1, sizeof(char *)) : NULL;

                if (a) {
                        *files = a;
                        if (asprintf(&a[*n], "%s%s%s", path,
                                     path[strlen(path) - 1] == '/' ? "" : "/",
                                     entries[i]->d_name) < 0)
                                r = -ENOMEM;
                        else
                                (*n)++;
                } else
                        r = -ENOMEM;
                free(entries[i]);
        }
        free(entries);
        return r;
}

static int policy_check(int argc, char **argv) {
        static const struct option opts[] = {
                { "config", required_argument, NULL, 'c' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 }, warnings = { 0 };
        _cleanup_(yb_store_locks_done) YbStoreLocks locks = { 0 };
        const char *config = NULL;
        Checked *checked = NULL;
        char **files = NULL;
        size_t n_files = 0, n_bad = 0;
        int c, r, ret = YB_EXIT_OK;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        config = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        return cli_usage_error("policy");
                }
        }
        if (optind >= argc) {
                log_error("policy check needs at least one FILE or DIR.");
                return cli_usage_error("policy");
        }
        if (config) {
                r = yb_store_locks_load(config, &locks, &diag);
                if (r == -ENOMEM)
                        return log_oom(), YB_EXIT_FAILED;
                if (r < 0) {
                        yb_diagnostics_print(&diag, stderr);
                        log_error("Cannot read yunbakd's configuration '%s' (--config); nothing "
                                  "was checked.",
                                  config);
                        return YB_EXIT_CONFIG;
                }
        }
        for (int i = optind; i < argc; i++) {
                r = add_paths(argv[i], &files, &n_files);
                if (r == -ENOMEM) {
                        (void) log_oom();
                        ret = YB_EXIT_FAILED;
                        goto finish;
                }
                if (r < 0) {
                        (void) yb_diagnostics_addf(&diag, "%s: cannot read the directory: %s",
                                                   argv[i], strerror(-r));
                        n_bad++;
                }
        }
        checked = new0(Checked, n_files + 1);
        if (!checked) {
                (void) log_oom();
                ret = YB_EXIT_FAILED;
                goto finish;
        }
        for (size_t i = 0; i < n_files; i++) {
                _cleanup_(yb_policy_freep) YbPolicy *p = NULL;

                checked[i].file = files[i];
                r = yb_policy_load(files[i], &p, &diag);
                if (r == -ENOMEM) {
                        (void) log_oom();
                        ret = YB_EXIT_FAILED;
                        goto finish;
                }
                if (r < 0) {
                        n_bad++;
                        continue;
                }
                if (yb_policy_lock_warnings(p, &locks, yb_now_usec(), &warnings) < 0) {
                        (void) log_oom();
                        ret = YB_EXIT_FAILED;
                        goto finish;
                }
                checked[i].id = TAKE_PTR(p->id);
                checked[i].line = p->id_line;
                checked[i].column = p->id_column;
        }
        /* yunbakd loads a directory of policies: one system, one file. */
        for (size_t i = 0; i < n_files; i++)
                for (size_t j = 0; checked[i].id && j < i; j++)
                        if (checked[j].id && streq(checked[i].id, checked[j].id)) {
                                (void) yb_diagnostics_addf(
                                        &diag,
                                        "%s:%u:%u: system.id '%s' is also the id of %s:%u:%u",
                                        checked[i].file, checked[i].line, checked[i].column,
                                        checked[i].id, checked[j].file, checked[j].line,
                                        checked[j].column);
                                n_bad++;
                                break;
                        }
        yb_diagnostics_print(&diag, stderr);
        yb_diagnostics_print(&warnings, stderr);
        if (n_bad > 0) {
                fprintf(stderr, "%zu error%s in %zu file%s checked.\n", diag.n,
                        diag.n == 1 ? "" : "s", n_files, n_files == 1 ? "" : "s");
                ret = YB_EXIT_CONFIG;
        } else
                printf("%zu polic%s valid.\n", n_files, n_files == 1 ? "y" : "ies");
finish:
        for (size_t i = 0; i < n_files; i++) {
                if (checked)
                        free(checked[i].id);
                free(files[i]);
        }
        free(files);
        free(checked);
        return ret;
}

/* ---- explain ---- */

/* The IANA zone at the end of a normalised calendar expression, or NULL (local time). */
static char *calendar_zone(const YbCalendar *cal) {
        _cleanup_free_ char *s = yb_calendar_to_string(cal);
        const char *z;

        if (!s)
                return NULL;
        z = strrchr(s, ' ');
        z = z ? z + 1 : s;
        if (!streq(z, "UTC") && !strchr(z, '/'))
                return NULL;
        for (const char *q = z; *q; q++)
                if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/_+-",
                            *q))
                        return NULL;
        return strdup(z);
}

/* usec as ISO 8601 with the UTC offset, in zone (NULL: local time). The CLI is single-threaded,
 * so switching TZ for the conversion is safe. */
static void format_time(int64_t usec, const char *zone, char ret[40]) {
        _cleanup_free_ char *saved = NULL;
        const char *old = getenv("TZ");
        time_t t = (time_t) (usec / YB_USEC_PER_SEC);
        struct tm tm;
        char date[32];
        long off;

        if (zone) {
                saved = old ? strdup(old) : NULL;
                setenv("TZ", zone, 1);
                tzset();
        }
        localtime_r(&t, &tm);
        if (zone) {
                if (old && saved)
                        setenv("TZ", saved, 1);
                else
                        unsetenv("TZ");
                tzset();
        }
        strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
        off = labs(tm.tm_gmtoff) % 86400; /* offsets are within a day */
        snprintf(ret, 40, "%s%c%02d:%02d", date, tm.tm_gmtoff < 0 ? '-' : '+', (int) (off / 3600),
                 (int) (off % 3600 / 60));
}

/* The next n elapses of cal after from, formatted, as a JSON array. */
static json_t *next_runs(const YbCalendar *cal, int64_t from, unsigned n) {
        _cleanup_free_ char *zone = calendar_zone(cal);
        json_t *a = json_array();
        int64_t t = from;

        for (unsigned i = 0; a && i < n; i++) {
                char buf[40];

                if (yb_calendar_next(cal, t, &t) < 0)
                        break;
                format_time(t, zone, buf);
                json_array_append_new(a, json_string(buf));
        }
        return a;
}

static json_t *duration_json(int64_t usec) {
        char buf[48];

        return json_string(yb_duration_format(usec, buf, sizeof(buf)));
}

static json_t *retention_json(const YbRetention *r) {
        json_t *o = json_object();

        if (r->keep_last >= 0)
                json_object_set_new(o, "keep_last", json_integer(r->keep_last));
        if (r->keep_daily >= 0)
                json_object_set_new(o, "keep_daily", json_integer(r->keep_daily));
        if (r->keep_weekly >= 0)
                json_object_set_new(o, "keep_weekly", json_integer(r->keep_weekly));
        if (r->keep_monthly >= 0)
                json_object_set_new(o, "keep_monthly", json_integer(r->keep_monthly));
        if (r->keep_yearly >= 0)
                json_object_set_new(o, "keep_yearly", json_integer(r->keep_yearly));
        if (r->keep_within_usec > 0)
                json_object_set_new(o, "keep_within", duration_json(r->keep_within_usec));
        return o;
}

static json_t *calendar_json(const YbCalendar *cal) {
        _cleanup_free_ char *s = yb_calendar_to_string(cal);

        return s ? json_string(s) : json_null();
}

/* Everything explain shows, as one JSON object; the text output is printed from it too, so the
 * two cannot disagree. */
static json_t *explain_json(const YbPolicy *p, int64_t from, unsigned n) {
        const char *g = yb_grade_to_string(p->grade);
        json_t *o, *t1, *cal, *hooks, *rules, *a, *wa;
        char ts[40];

        format_time(from, NULL, ts);
        o = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:b}", "file", p->file, "from", ts,
                      "system", "id", p->id, "name", p->name, "department", p->department,
                      "contact", p->contact, "classification", g, "sealed", true);
        if (!o)
                return NULL;

        hooks = json_array();
        for (size_t i = 0; i < p->n_hooks; i++) {
                const YbHook *h = &p->hooks[i];
                json_t *jh = json_pack("{s:s, s:s}", "name", h->name, "type",
                                       yb_hook_type_to_string(h->type));

                if (h->run)
                        json_object_set_new(jh, "run", json_string(h->run));
                if (h->after)
                        json_object_set_new(jh, "after", json_string(h->after));
                if (h->database)
                        json_object_set_new(jh, "database", json_string(h->database));
                if (h->type == YB_HOOK_POSTGRESQL)
                        json_object_set_new(jh, "mode",
                                            json_string(yb_hook_mode_to_string(h->mode)));
                if (h->host)
                        json_object_set_new(jh, "host", json_string(h->host));
                if (h->port)
                        json_object_set_new(jh, "port", json_string(h->port));
                if (h->user)
                        json_object_set_new(jh, "user", json_string(h->user));
                if (h->type != YB_HOOK_POSTGRESQL || h->mode == YB_HOOK_MODE_DUMP) {
                        json_object_set_new(jh, "timeout", duration_json(h->timeout_usec));
                        json_object_set_new(
                                jh, "on_failure",
                                json_string(h->abort_on_failure ? "abort" : "continue"));
                }
                wa = cli_archive_settings(p, h);
                if (wa)
                        json_object_set_new(jh, "wal_archive", wa);
                json_array_append_new(hooks, jh);
        }
        a = json_array();
        for (size_t i = 0; i < p->n_paths; i++)
                json_array_append_new(a, json_string(p->paths[i]));
        json_t *ex = json_array();
        for (size_t i = 0; i < p->n_excludes; i++)
                json_array_append_new(ex, json_string(p->excludes[i]));
        json_object_set_new(o, "sources",
                            json_pack("{s:s, s:o, s:o, s:o, s:s}", "host", p->host, "paths", a,
                                      "exclude", ex, "hooks", hooks, "live_postgresql",
                                      p->live_postgresql_warn ? "warn" : "error"));

        /* The grade minimums: a policy that loaded meets each that applies. */
        rules = json_array();
        char lag[32], drill[40];
        yb_duration_format(YB_GRADE_MAX_LAG_USEC, lag, sizeof(lag));
        snprintf(drill, sizeof(drill), "every ");
        yb_duration_format(p->drill_every_usec, drill + 6, sizeof(drill) - 6);
        json_array_append_new(rules, json_pack("{s:s, s:b, s:s}", "rule",
                                               "backups are sealed (encrypted and signed)",
                                               "applies", true, "how", "always"));
        json_array_append_new(rules, json_pack("{s:s, s:b, s:s}", "rule",
                                               "a restore drill at least yearly", "applies", true,
                                               "how", drill));
        if (p->grade >= YB_GRADE_IMPORTANT) {
                char have[32], how[80];

                snprintf(how, sizeof(how), "max_lag %s",
                         yb_duration_format(p->tier2_max_lag_usec, have, sizeof(have)));
                char rule[64];
                snprintf(rule, sizeof(rule), "tier2 with max_lag at most %s", lag);
                /* The policy asks for it; whether replication runs and keeps the lag is
                 * yunbakd's to say (yunbak status), not the policy's. */
                json_array_append_new(rules,
                                      json_pack("{s:s, s:b, s:s, s:s}", "rule", rule, "applies",
                                                true, "how", how, "status", "asked"));
        } else {
                char rule[64];

                snprintf(rule, sizeof(rule), "tier2 with max_lag at most %s", lag);
                json_array_append_new(rules,
                                      json_pack("{s:s, s:b}", "rule", rule, "applies", false));
        }
        json_array_append_new(
                rules, json_pack("{s:s, s:b, s:s?}", "rule", "tier3 (off-site copies)", "applies",
                                 p->grade >= YB_GRADE_IMPORTANT, "how",
                                 p->tier3_store ? (p->tier3_schedule ? "scheduled" : "on request")
                                                : NULL));
        json_array_append_new(rules, json_pack("{s:s, s:b, s:s?}", "rule", "a scheduled tier3",
                                               "applies", p->grade == YB_GRADE_CORE, "how",
                                               p->tier3_schedule ? "scheduled" : NULL));
        json_object_set_new(o, "grade_minimums", rules);

        t1 = json_pack("{s:s}", "store", p->tier1_store);
        cal = json_object();
        json_object_set_new(t1, "full", next_runs(p->full, from, n));
        json_object_set_new(cal, "full", calendar_json(p->full));
        if (p->differential) {
                json_object_set_new(t1, "differential", next_runs(p->differential, from, n));
                json_object_set_new(cal, "differential", calendar_json(p->differential));
        }
        json_object_set_new(t1, "incremental", next_runs(p->incremental, from, n));
        json_object_set_new(cal, "incremental", calendar_json(p->incremental));
        json_object_set_new(t1, "calendars", cal);
        json_object_set_new(t1, "retention", retention_json(&p->tier1_retention));
        if (p->lock_until_usec > 0) {
                format_time(p->lock_until_usec, NULL, ts);
                json_object_set_new(t1, "lock_until", json_string(ts));
        } else
                json_object_set_new(t1, "lock_until", json_null());
        json_object_set_new(o, "tier1", t1);

        if (p->tier2_store) {
                json_t *t2 = json_pack(
                        "{s:s, s:o, s:I, s:o, s:I}", "store", p->tier2_store, "max_lag",
                        duration_json(p->tier2_max_lag_usec), "max_lag_seconds",
                        (json_int_t) (p->tier2_max_lag_usec / YB_USEC_PER_SEC), "interval",
                        duration_json(p->tier2_interval_usec), "interval_seconds",
                        (json_int_t) (p->tier2_interval_usec / YB_USEC_PER_SEC));

                json_object_set_new(t2, "checkpoint", next_runs(p->tier2_checkpoint, from, n));
                json_object_set_new(
                        t2, "calendars",
                        json_pack("{s:o}", "checkpoint", calendar_json(p->tier2_checkpoint)));
                json_object_set_new(t2, "retention", retention_json(&p->tier2_retention));
                json_object_set_new(o, "tier2", t2);
        } else
                json_object_set_new(o, "tier2", json_null());

        if (p->tier3_store) {
                json_t *t3 = json_pack("{s:s, s:b, s:s}", "store", p->tier3_store, "on_request",
                                       p->tier3_on_request, "approval",
                                       p->tier3_approval_required ? "required" : "automatic");

                json_object_set_new(t3, "schedule",
                                    p->tier3_schedule ? next_runs(p->tier3_schedule, from, n)
                                                      : json_array());
                json_object_set_new(t3, "calendars",
                                    json_pack("{s:o}", "schedule",
                                              p->tier3_schedule ? calendar_json(p->tier3_schedule)
                                                                : json_null()));
                json_object_set_new(t3, "retention", retention_json(&p->tier3_retention));
                json_object_set_new(o, "tier3", t3);
        } else
                json_object_set_new(o, "tier3", json_null());

        json_object_set_new(o, "objectives",
                            json_pack("{s:o, s:I, s:o, s:I}", "rpo", duration_json(p->rpo_usec),
                                      "rpo_seconds", (json_int_t) (p->rpo_usec / YB_USEC_PER_SEC),
                                      "rto", duration_json(p->rto_usec), "rto_seconds",
                                      (json_int_t) (p->rto_usec / YB_USEC_PER_SEC)));
        json_t *pg = json_array();
        for (size_t i = 0; i < p->n_drill_pg; i++) {
                const YbDrillPgSpec *d = &p->drill_pg[i];

                json_array_append_new(pg, json_pack("{s:s, s:s, s:s, s:s, s:I}", "hook", d->hook,
                                                    "mode", d->mode, "database", d->database,
                                                    "query", d->query, "min", (json_int_t) d->min));
        }
        json_object_set_new(o, "drill",
                            json_pack("{s:o, s:I, s:s?, s:o, s:I, s:o}", "every",
                                      duration_json(p->drill_every_usec), "every_seconds",
                                      (json_int_t) (p->drill_every_usec / YB_USEC_PER_SEC), "check",
                                      p->drill_check, "timeout",
                                      duration_json(p->drill_timeout_usec), "timeout_seconds",
                                      (json_int_t) (p->drill_timeout_usec / YB_USEC_PER_SEC),
                                      "postgresql", pg));
        return o;
}

static void print_runs(const char *label, json_t *tier, const char *key) {
        json_t *runs = json_object_get(tier, key), *v;
        const char *cal =
                json_string_value(json_object_get(json_object_get(tier, "calendars"), key));
        size_t i;

        printf("  %-13s%s\n", label, cal ? cal : "(on request only)");
        json_array_foreach(runs, i, v) printf("  %13s%s\n", "", json_string_value(v));
        if (cal && json_array_size(runs) == 0)
                printf("  %13s(never again)\n", "");
}

static void print_retention(json_t *tier) {
        json_t *r = json_object_get(tier, "retention"), *v;
        const char *k;
        bool first = true;

        printf("  %-13s", "retention");
        if (json_object_size(r) == 0)
                fputs("none: every snapshot is kept", stdout);
        json_object_foreach(r, k, v) {
                printf("%s%s ", first ? "" : ", ", k);
                if (json_is_integer(v))
                        printf("%lld", (long long) json_integer_value(v));
                else
                        fputs(json_string_value(v), stdout);
                first = false;
        }
        putchar('\n');
}

/* What a physical postgresql hook does, in a few lines (docs/postgresql.md, "Physical backups"). */
static void print_physical_hook(json_t *v) {
        const char *host = json_string_value(json_object_get(v, "host"));
        const char *port = json_string_value(json_object_get(v, "port"));
        const char *user = json_string_value(json_object_get(v, "user"));

        printf("  %-13s%s: a physical base backup of PostgreSQL (database '%s'%s%s%s%s%s%s) in "
               "every tier-1 backup:\n",
               "hook", json_string_value(json_object_get(v, "name")),
               json_string_value(json_object_get(v, "database")), host ? ", host " : "",
               host ? host : "", port ? ", port " : "", port ? port : "", user ? ", user " : "",
               user ? user : "");
        printf("  %-13sbetween pg_backup_start (fast checkpoint) and pg_backup_stop the data\n"
               "  %-13sdirectory and tablespaces go in as _pg/%s/ (changed pages as deltas), with\n"
               "  %-13sbackup_label, tablespace_map and the WAL that makes the copy consistent; a\n"
               "  %-13sfailure fails the backup\n",
               "", "", json_string_value(json_object_get(v, "name")), "", "");
}

static void print_explain(json_t *o) {
        json_t *sys = json_object_get(o, "system"), *src = json_object_get(o, "sources");
        json_t *t1 = json_object_get(o, "tier1"), *t2 = json_object_get(o, "tier2");
        json_t *t3 = json_object_get(o, "tier3"), *v;
        size_t i;

#define S(obj, key) json_string_value(json_object_get((obj), (key)))
        printf("%s: %s\n", S(sys, "id"), S(sys, "name"));
        printf("  department   %s\n", S(sys, "department"));
        printf("  contact      %s\n", S(sys, "contact"));
        printf("  grade        %s\n", S(sys, "classification"));
        printf("  policy file  %s\n", S(o, "file"));
        printf("\nGrade minimums (for %s %s system):\n",
               streq(S(sys, "classification"), "important") ? "an" : "a", S(sys, "classification"));
        json_array_foreach(json_object_get(o, "grade_minimums"), i, v) {
                bool applies = json_is_true(json_object_get(v, "applies"));

                bool asked = S(v, "status") && streq(S(v, "status"), "asked");

                printf("  %-13s%s%s%s%s%s\n",
                       !applies ? "not required"
                       : asked  ? "asked"
                                : "met",
                       S(v, "rule"), S(v, "how") ? " (" : "", S(v, "how") ? S(v, "how") : "",
                       S(v, "how") ? ")" : "",
                       asked ? ": whether it runs is for `yunbak status` to say" : "");
        }
        printf("\nSources on host %s:\n", S(src, "host"));
        json_array_foreach(json_object_get(src, "paths"), i, v)
                printf("  %-13s%s\n", "path", json_string_value(v));
        json_array_foreach(json_object_get(src, "exclude"), i, v)
                printf("  %-13s%s\n", "exclude", json_string_value(v));
        json_array_foreach(json_object_get(src, "hooks"), i, v) {
                if (S(v, "mode") && streq(S(v, "mode"), "physical")) {
                        print_physical_hook(v);
                        if (json_object_get(v, "wal_archive"))
                                cli_archive_settings_print(json_object_get(v, "wal_archive"));
                        continue;
                }
                if (S(v, "database"))
                        printf("  %-13s%s: pg_dump of database '%s' streamed into the backup",
                               "hook", S(v, "name"), S(v, "database"));
                else
                        printf("  %-13s%s: runs '%s'", "hook", S(v, "name"), S(v, "run"));
                if (S(v, "after"))
                        printf(", and '%s' after the backup", S(v, "after"));
                printf("; timeout %s, %s on failure%s\n", S(v, "timeout"), S(v, "on_failure"),
                       S(v, "database") && streq(S(v, "on_failure"), "continue")
                               ? " (a failed dump is left out; the backup is partial)"
                               : "");
        }
        printf("  %-13ssources.live_postgresql: %s: a running PostgreSQL data directory met in "
               "a path (without a physical hook) %s\n",
               "live cluster", S(src, "live_postgresql"),
               streq(S(src, "live_postgresql"), "warn")
                       ? "is backed up as files, with a warning (not consistent)"
                       : "fails the backup");
        printf("\nNext runs after %s:\n", S(o, "from"));
        printf("Tier 1, store %s:\n", S(t1, "store"));
        print_runs("full", t1, "full");
        if (json_object_get(t1, "differential"))
                print_runs("differential", t1, "differential");
        print_runs("incremental", t1, "incremental");
        print_retention(t1);
        if (S(t1, "lock_until"))
                printf("  %-13s%s: nothing of this system is pruned before\n", "lock_until",
                       S(t1, "lock_until"));
        if (json_is_object(t2)) {
                printf("Tier 2, store %s, max_lag %s, a segment every %s:\n", S(t2, "store"),
                       S(t2, "max_lag"), S(t2, "interval"));
                print_runs("checkpoint", t2, "checkpoint");
                print_retention(t2);
        } else
                printf("Tier 2: none\n");
        if (json_is_object(t3)) {
                printf("Tier 3, store %s, approval %s%s:\n", S(t3, "store"), S(t3, "approval"),
                       json_is_true(json_object_get(t3, "on_request")) ? ", also on request" : "");
                print_runs("schedule", t3, "schedule");
                print_retention(t3);
        } else
                printf("Tier 3: none\n");
        printf("\nObjectives: RPO %s, RTO %s\n", S(json_object_get(o, "objectives"), "rpo"),
               S(json_object_get(o, "objectives"), "rto"));
        json_t *drill = json_object_get(o, "drill");
        printf("Drill: every %s", S(drill, "every"));
        if (S(drill, "check"))
                printf("; check, run in the restored sandbox: %s", S(drill, "check"));
        else
                printf("; no check command");
        if (S(drill, "check") || json_array_size(json_object_get(drill, "postgresql")) > 0)
                printf("; each check within %s", S(drill, "timeout"));
        printf("\n");
        json_array_foreach(json_object_get(drill, "postgresql"), i, v) printf(
                "  %-13s%s (%s): in database '%s', %s must answer at least %" JSON_INTEGER_FORMAT
                "\n",
                "postgresql", S(v, "hook"), S(v, "mode"), S(v, "database"), S(v, "query"),
                json_integer_value(json_object_get(v, "min")));
#undef S
}

static int policy_explain(int argc, char **argv) {
        static const struct option opts[] = {
                { "next", required_argument, NULL, 'n' },
                { "from", required_argument, NULL, 'f' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = { 0 };
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;
        unsigned next = NEXT_DEFAULT;
        int64_t from_usec = yb_now_usec();
        bool json = false;
        json_t *o;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'n': {
                        char *end;
                        unsigned long v;

                        errno = 0;
                        v = strtoul(optarg, &end, 10);
                        if (errno != 0 || end == optarg || *end || optarg[0] == '-' || v < 1 ||
                            v > NEXT_MAX) {
                                log_error("--next must be a number from 1 to %d, not '%s'.",
                                          NEXT_MAX, optarg);
                                return cli_usage_error("policy");
                        }
                        next = (unsigned) v;
                        break;
                }
                case 'f': {
                        int64_t from_ns;

                        /* Years past 2199 would overflow yb_time_parse()'s nanoseconds. */
                        if (strncmp(optarg, "2200", 4) >= 0 ||
                            yb_time_parse(optarg, &from_ns) < 0) {
                                log_error(
                                        "--from must be a time such as 2025-01-01T08:00:00+08:00, "
                                        "not '%s'.",
                                        optarg);
                                return cli_usage_error("policy");
                        }
                        from_usec = yb_ns_to_usec(from_ns);
                        break;
                }
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        return cli_usage_error("policy");
                }
        }
        if (optind + 1 != argc) {
                log_error("policy explain needs exactly one FILE.");
                return cli_usage_error("policy");
        }
        r = yb_policy_load(argv[optind], &p, &diag);
        if (r == -ENOMEM) {
                (void) log_oom();
                return YB_EXIT_FAILED;
        }
        if (r < 0) {
                yb_diagnostics_print(&diag, stderr);
                return YB_EXIT_CONFIG;
        }
        o = explain_json(p, from_usec, next);
        if (!o) {
                (void) log_oom();
                return YB_EXIT_FAILED;
        }
        if (json) {
                json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
        } else
                print_explain(o);
        json_decref(o);
        return YB_EXIT_OK;
}

int cli_policy(int argc, char **argv) {
        if (argc >= 2 && streq(argv[1], "check"))
                return policy_check(argc - 1, argv + 1);
        if (argc >= 2 && streq(argv[1], "explain"))
                return policy_explain(argc - 1, argv + 1);
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                usage(stdout);
                return YB_EXIT_OK;
        }
        log_error("policy needs a subcommand: check or explain.");
        return cli_usage_error("policy");
}
