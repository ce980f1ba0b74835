/* yunbak status [--system ID [--lag-history [--hours N]]] [--socket PATH] [--json]: the daemon
 * and every system the caller may see (tier 2's part is cli/status-tier2.c). */
#include <getopt.h>
#include <inttypes.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "cli/status-tier2.h"
#include "cli/status-walarchive.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak status [--system ID] [--socket PATH] [--json]\n"
              "       yunbak status --system ID --lag-history [--hours N] [--json]\n"
              "\n"
              "Asks yunbakd how things stand: its version, policies and jobs, any problems of\n"
              "the last policy reload, and per system: grade, the last tier-1 job and how long\n"
              "ago it ended, the last snapshot, the next run, and whether the last successful\n"
              "backup is older than the policy's RPO ('RPO EXCEEDED'). Times are yunbakd's.\n"
              "Systems with tier 2 get a table of their replication: the replicator's state\n"
              "(starting, running, rescanning, store-unreachable, restarting after exit N,\n"
              "not-running and why), the lag ('3.2 s', or 'unknown (a rescan runs), at least\n"
              "41 s'; MAX_LAG EXCEEDED beyond the policy's max_lag), max_lag, and the last\n"
              "segment and its age. Systems with tier 3 get one of their off-site copies: the\n"
              "store and state (idle, queued, running, paused until its store's next window,\n"
              "failing; BEHIND when a scheduled copy is more than one schedule period late),\n"
              "the newest off-site snapshot and its age, the last copy and the next one.\n"
              "Systems with a physical PostgreSQL hook and no tier 2 get one of their WAL\n"
              "archives (archive_command), per hook: archiving, late (the newest WAL file is\n"
              "older than 2 x archive_timeout + yunbakd's check period), none (no WAL since\n"
              "the newest base) or unknown (the store could not be read), the newest WAL\n"
              "file's time and the base whose chain holds it. Then a line per system on its\n"
              "restore drills: the last that passed, when the next is due, and OVERDUE when\n"
              "the last passing drill started more than the policy's drill.every ago.\n"
              "\n"
              "  --system ID     only this system\n"
              "  --lag-history   the system's tier-2 lag per hour instead (samples, seconds\n"
              "                  unknown, p50, p99, max), from yunbakd's catalog\n"
              "  --hours N       with --lag-history: the last N hours (default 24)\n"
              "\n"
              "Exit status: 0 when all is well; 3 when something needs attention: a system's\n"
              "RPO is exceeded, it has no successful backup yet, or its last tier-1 job failed\n"
              "or was partial, its tier-2 lag exceeds max_lag or its replicator is restarting,\n"
              "its off-site copy is failing or behind, its WAL archive is not archiving, its\n"
              "drill is overdue, or the last policy reload failed.\n"
              "6: yunbakd cannot be reached.\n"
              "\n"
              "Options:\n" CLI_CTL_OPTIONS_HELP,
              f);
}

/* The daemon line, and the problems of a failed reload in full. Returns whether there were. */
static bool print_daemon(json_t *d, int64_t now) {
        _cleanup_free_ char *version = cli_sanitize(cli_json_str(d, "version") ?: "?");
        json_t *errors = json_object_get(d, "policy_errors");
        int64_t pid = 0, started, policies = 0, running = 0, queued = 0, max_jobs = 0;
        char age[32];
        size_t i;
        json_t *e;

        (void) cli_json_int(d, "pid", &pid);
        (void) cli_json_int(d, "policies", &policies);
        (void) cli_json_int(d, "jobs_running", &running);
        (void) cli_json_int(d, "jobs_queued", &queued);
        (void) cli_json_int(d, "max_jobs", &max_jobs);
        printf("yunbakd %s (pid %" PRId64, version ?: "?", pid);
        if (cli_json_int(d, "started_usec", &started))
                printf(", up %s", cli_format_duration(now - started, age));
        printf("): %" PRId64 " %s in force; jobs: %" PRId64 " running, %" PRId64 " queued",
               policies, policies == 1 ? "policy" : "policies", running, queued);
        if (max_jobs > 0)
                printf(" (at most %" PRId64 " at once)", max_jobs);
        fputs(".\n", stdout);
        if (!json_is_array(errors) || json_array_size(errors) == 0)
                return false;
        printf("The last policy reload FAILED; the policies loaded before it stay in force. "
               "Problems:\n");
        json_array_foreach(errors, i, e) {
                _cleanup_free_ char *s =
                        cli_sanitize(json_is_string(e) ? json_string_value(e) : "(not a string)");

                printf("  %s\n", s ?: "?");
        }
        return true;
}

/* The soonest run of the tier: "incremental in 5 h". */
static void next_run(json_t *next, int64_t now, char *buf, size_t size) {
        const char *key, *best = NULL;
        int64_t when = INT64_MAX;
        char d[32];
        json_t *v;

        json_object_foreach(next, key, v) {
                if (json_is_integer(v) && json_integer_value(v) < when) {
                        when = json_integer_value(v);
                        best = key;
                }
        }
        if (!best)
                snprintf(buf, size, "-");
        else if (when <= now)
                snprintf(buf, size, "%s due now", best);
        else
                snprintf(buf, size, "%s in %s", best, cli_format_duration(when - now, d));
}

/* Whether a system needs attention (the exit status 3): its last tier-1 job failed or was
 * partial, it has an RPO and no successful backup yet, or the last one is older than the RPO. */
static bool needs_attention(json_t *s, int64_t now) {
        json_t *tier1 = json_object_get(s, "tier1");

        if (cli_json_str(s, "stopped"))
                return false; /* decommissioned: nothing is due */
        const char *status = cli_json_str(tier1, "last_status");
        int64_t last = 0, rpo = 0;
        bool has_last = cli_json_int(tier1, "last_success_usec", &last);

        if (status && (streq(status, "failed") || streq(status, "partial")))
                return true;
        return cli_json_int(s, "rpo_usec", &rpo) && rpo > 0 && (!has_last || now - last > rpo);
}

/* One system's row; a failed or partial last job also gets a note under the table. */
static void add_system(const CliCtl *ctl, CliTable *t, json_t *s, int64_t now, YbBuf *notes) {
        json_t *tier1 = json_object_get(s, "tier1");
        const char *id = cli_json_str(s, "id") ?: "?", *status = cli_json_str(tier1, "last_status");
        int64_t last_success = 0, rpo = 0, last_job = 0, running = 0, finished = 0;
        bool has_success = cli_json_int(tier1, "last_success_usec", &last_success),
             has_rpo = cli_json_int(s, "rpo_usec", &rpo) && rpo > 0;
        char last[160], next[64], rpo_text[64], d1[32], d2[32];
        _cleanup_free_ char *error = NULL;

        if (cli_json_str(s, "stopped")) {
                /* Its decommission stopped its tiers: neither ok nor late, and nothing next. */
                if (cli_table_add(t, id, cli_json_str(s, "classification"),
                                  cli_json_str(s, "stopped"), "-", "-", "-") < 0)
                        log_oom();
                return;
        }
        (void) cli_json_int(tier1, "last_job", &last_job);
        if (status && !streq(status, "succeeded") && last_job > 0) {
                /* The status says how the last job ended, not when or why: the job does. */
                _cleanup_free_ char *path = NULL;
                json_t *job = NULL;
                CliCtl quiet = *ctl;
                int code = 0;

                /* Best effort: without it, the row shows the state alone. */
                quiet.quiet = true;
                if (asprintf(&path, "/v1/jobs/%" PRId64, last_job) >= 0 &&
                    cli_ctl_request(&quiet, "GET", path, NULL, &code, &job) == 0 && code == 200) {
                        (void) cli_json_int(job, "finished_usec", &finished);
                        if (cli_json_str(job, "error"))
                                error = strdup(cli_json_str(job, "error"));
                }
                json_decref(job);
        }
        if (!status)
                snprintf(last, sizeof(last), "no job yet");
        else if (streq(status, "succeeded") && has_success)
                snprintf(last, sizeof(last), "succeeded %s ago",
                         cli_format_duration(now - last_success, d1));
        else if (finished > 0)
                snprintf(last, sizeof(last), "%s %s ago", status,
                         cli_format_duration(now - finished, d1));
        else
                snprintf(last, sizeof(last), "%s", status);
        if (cli_json_int(tier1, "running_job", &running))
                snprintf(last + strlen(last), sizeof(last) - strlen(last),
                         ", job %" PRId64 " running", running);
        if (status && (streq(status, "failed") || streq(status, "partial"))) {
                _cleanup_free_ char *line = NULL, *clean = NULL;

                if (asprintf(&line, "%s: job %" PRId64 " %s%s%s", id, last_job, status,
                             error ? ": " : "", error ?: "") >= 0)
                        clean = cli_sanitize(line);
                if (clean)
                        (void) yb_buf_printf(notes, "%s\n", clean);
        }
        if (json_is_object(json_object_get(tier1, "kept_by_object_lock"))) {
                /* Not an error: retention would have pruned them; the store keeps them. */
                json_t *k = json_object_get(tier1, "kept_by_object_lock");
                int64_t n = 0;

                (void) cli_json_int(k, "snapshots", &n);
                (void) yb_buf_printf(notes,
                                     "%s: retention: %" PRId64 " %s kept by Object Lock until %s "
                                     "(pruned from then)\n",
                                     id, n, n == 1 ? "snapshot" : "snapshots",
                                     cli_json_str(k, "until") ?: "?");
        }
        next_run(json_object_get(tier1, "next"), now, next, sizeof(next));
        if (!has_rpo)
                snprintf(rpo_text, sizeof(rpo_text), "-");
        else if (!has_success) {
                snprintf(rpo_text, sizeof(rpo_text), "NO BACKUP YET (%s)",
                         cli_format_duration(rpo, d1));
        } else if (now - last_success > rpo) {
                snprintf(rpo_text, sizeof(rpo_text), "RPO EXCEEDED (%s > %s)",
                         cli_format_duration(now - last_success, d2), cli_format_duration(rpo, d1));
        } else
                snprintf(rpo_text, sizeof(rpo_text), "ok (%s)", cli_format_duration(rpo, d1));
        if (cli_table_add(t, id, cli_json_str(s, "classification"), last,
                          cli_json_str(tier1, "last_snapshot"), next, rpo_text) < 0)
                log_oom();
}

/* One system's drill line (docs/drills.md, "yunbakd's part") into drills: "drill: last passed
 * 2026-06-02 (tier 1), due 2026-12-01" and ": OVERDUE", or "never drilled, due ...", or
 * "decommissioned". Returns whether the drill is overdue. */
static bool add_drill(json_t *s, YbBuf *drills) {
        json_t *dr = json_object_get(s, "drill");
        const char *id = cli_json_str(s, "id") ?: "?", *passed = cli_json_str(dr, "last_passed"),
                   *due = cli_json_str(dr, "due"), *last = cli_json_str(dr, "last_result");
        bool overdue = json_is_true(json_object_get(dr, "overdue"));
        int64_t tier = 0;

        if (!json_is_object(dr))
                return false;
        if (json_is_true(json_object_get(dr, "decommissioned"))) {
                (void) yb_buf_printf(drills, "%s: drill: decommissioned, none due\n", id);
                return false;
        }
        (void) cli_json_int(dr, "last_passed_tier", &tier);
        if (passed)
                (void) yb_buf_printf(drills, "%s: drill: last passed %.10s (tier %" PRId64 ")", id,
                                     passed, tier);
        else
                (void) yb_buf_printf(drills, "%s: drill: %s", id,
                                     last ? "never passed one" : "never drilled");
        if (due)
                (void) yb_buf_printf(drills, ", due %.10s", due);
        else
                (void) yb_buf_printf(drills, ", due: unknown (when its policy was first loaded is "
                                             "not known)");
        if (last && !streq(last, "passed"))
                (void) yb_buf_printf(drills, "; the last drill %s",
                                     streq(last, "running") ? "is running" : last);
        (void) yb_buf_printf(drills, "%s\n", overdue ? ": OVERDUE" : "");
        return overdue;
}

/* One system's off-site row (tier 3), if its policy has one; a copy that is behind its schedule
 * or failing gets a note. Returns whether it needs attention. */
static bool add_offsite(CliTable *t, json_t *s, int64_t now, YbBuf *notes) {
        json_t *tier3 = json_object_get(s, "tier3"), *last = json_object_get(tier3, "last_copy");
        const char *id = cli_json_str(s, "id") ?: "?", *state = cli_json_str(tier3, "state");
        char st[96] = "-", store[128], newest[128] = "-", lastc[128] = "-", next[64] = "-", d1[32],
             d2[32];
        int64_t v = 0, age = 0, sent = 0;
        bool behind = json_is_true(json_object_get(tier3, "behind"));

        if (!json_is_object(tier3))
                return false;
        {
                if (state && streq(state, "paused-until") &&
                    cli_json_int(tier3, "paused_until_usec", &v))
                        snprintf(st, sizeof(st), "paused until %s", cli_format_time(v, d1));
                else
                        snprintf(st, sizeof(st), "%s", state ?: "?");
                if (behind)
                        snprintf(st + strlen(st), sizeof(st) - strlen(st), ", BEHIND");
                if (cli_json_str(tier3, "newest_snapshot") &&
                    cli_json_int(tier3, "newest_age_usec", &age))
                        snprintf(newest, sizeof(newest), "%s (%s old)",
                                 cli_json_str(tier3, "newest_snapshot"),
                                 cli_format_duration(age, d1));
                if (json_is_object(last) && cli_json_int(last, "finished_usec", &v)) {
                        (void) cli_json_int(last, "bytes_sent", &sent);
                        snprintf(lastc, sizeof(lastc), "%s %s ago, %s sent",
                                 cli_json_str(last, "state") ?: "?",
                                 cli_format_duration(now - v, d1),
                                 yb_format_bytes((uint64_t) sent, d2));
                }
                if (cli_json_int(tier3, "next_usec", &v))
                        snprintf(next, sizeof(next), "%s",
                                 v <= now ? "due now" : cli_format_duration(v - now, d1));
                if (state && streq(state, "failing") && json_is_object(last)) {
                        _cleanup_free_ char *line = NULL, *clean = NULL;

                        if (asprintf(&line, "%s: off-site copy to %s failed: %s", id,
                                     cli_json_str(tier3, "store") ?: "?",
                                     cli_json_str(last, "error") ?: "?") >= 0)
                                clean = cli_sanitize(line);
                        if (clean)
                                (void) yb_buf_printf(notes, "%s\n", clean);
                }
                if (behind)
                        (void) yb_buf_printf(notes,
                                             "%s: a scheduled off-site copy is more than one "
                                             "schedule period late\n",
                                             id);
                if (cli_json_int(s, "offsite_requests_pending", &v) && v > 0)
                        (void) yb_buf_printf(notes,
                                             "%s: %" PRId64 " %s for off-site copies await%s an "
                                             "operator's decision ('yunbak offsite list "
                                             "--pending')\n",
                                             id, v, v == 1 ? "request" : "requests",
                                             v == 1 ? "s" : "");
        }
        if (cli_json_str(tier3, "bandwidth"))
                snprintf(store, sizeof(store), "%s (%s)", cli_json_str(tier3, "store") ?: "?",
                         cli_json_str(tier3, "bandwidth"));
        else
                snprintf(store, sizeof(store), "%s", cli_json_str(tier3, "store") ?: "-");
        if (cli_table_add(t, id, store, st, newest, lastc, next) < 0)
                log_oom();
        return behind || (state && streq(state, "failing"));
}

int cli_status(int argc, char **argv) {
        static const struct option opts[] = {
                CLI_CTL_OPTIONS,
                { "system", required_argument, NULL, 's' },
                { "lag-history", no_argument, NULL, 'L' },
                { "hours", required_argument, NULL, 'H' },
                {},
        };
        _cleanup_(cli_table_freep) CliTable *t = NULL, *off = NULL, *t2 = NULL, *wal = NULL;
        const char *socket = NULL, *only = NULL;
        bool history = false;
        int64_t hours = 24;
        _cleanup_(json_decrefp) json_t *st = NULL;
        json_t *systems, *s;
        bool json = false, attention = false;
        _cleanup_(yb_buf_done) YbBuf notes = YB_BUF_INIT, drills = YB_BUF_INIT;
        int64_t now;
        size_t i;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        only = optarg;
                        break;
                case 'L':
                        history = true;
                        break;
                case 'H':
                        if (cli_parse_int(optarg, 1, 8784, &hours) < 0) {
                                log_error("--hours must be a number from 1 to 8784 (a year), not "
                                          "'%s'.",
                                          optarg);
                                return cli_usage_error("status");
                        }
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "status");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind != argc) {
                log_error("status takes no arguments ('%s').", argv[optind]);
                return cli_usage_error("status");
        }
        if (history && !only) {
                log_error("--lag-history needs --system ID: the lag history is per system.");
                return cli_usage_error("status");
        }
        cli_ctl_init(&ctl, socket);
        if (history)
                return cli_status_lag_history(&ctl, only, hours, json);
        r = cli_ctl_call(&ctl, "GET", "/v1/status", NULL, &st);
        if (r != 0)
                return r;
        if (!cli_json_int(json_object_get(st, "daemon"), "now_usec", &now))
                now = cli_now_usec();
        systems = json_object_get(st, "systems");
        if (only) {
                /* Only that system: the others leave the answer. */
                json_t *keep = json_array();

                json_array_foreach(systems, i, s) if (streq(cli_json_str(s, "id") ?: "", only))
                        json_array_append(keep, s);
                if (json_array_size(keep) == 0) {
                        json_decref(keep);
                        log_error("yunbakd has no system '%s' (or you may not see it): 'yunbak "
                                  "status' lists those you may see.",
                                  only);
                        return YB_EXIT_FAILED;
                }
                json_object_set_new(st, "systems", keep);
                systems = keep;
        }
        if (!json) {
                attention = print_daemon(json_object_get(st, "daemon"), now);
                t = cli_table_new(6, "SYSTEM", "GRADE", "LAST TIER-1 JOB", "LAST SNAPSHOT",
                                  "NEXT RUN", "RPO");
                if (!t)
                        return log_oom(), YB_EXIT_FAILED;
        } else {
                json_t *errors = json_object_get(json_object_get(st, "daemon"), "policy_errors");

                attention = json_is_array(errors) && json_array_size(errors) > 0;
        }
        json_array_foreach(systems, i, s) {
                if (!json)
                        add_system(&ctl, t, s, now, &notes);
                if (needs_attention(s, now))
                        attention = true;
                if (add_drill(s, &drills))
                        attention = true;
                if (cli_json_str(s, "stopped"))
                        continue; /* decommissioned: no tier-2, WAL or off-site rows */
                if (!json && !off) {
                        off = cli_table_new(6, "SYSTEM", "TIER 3", "STATE", "NEWEST OFF-SITE",
                                            "LAST COPY", "NEXT COPY");
                        t2 = cli_table_new(CLI_TIER2_COLUMNS);
                        if (!off || !t2)
                                return log_oom(), YB_EXIT_FAILED;
                }
                if (!json && cli_status_tier2_add(t2, s, now, &notes))
                        attention = true;
                else if (json && cli_status_tier2_attention(s))
                        attention = true;
                if (!json && !wal && !(wal = cli_table_new(CLI_WALARCHIVE_COLUMNS)))
                        return log_oom(), YB_EXIT_FAILED;
                if (json ? cli_status_walarchive_attention(s)
                         : cli_status_walarchive_add(wal, s, now, &notes))
                        attention = true;
                if (!json && add_offsite(off, s, now, &notes))
                        attention = true;
                else if (json &&
                         json_is_true(json_object_get(json_object_get(s, "tier3"), "behind")))
                        attention = true;
        }
        if (json)
                cli_json_print(st);
        else if (json_array_size(systems) == 0)
                printf("\nNo systems (none that you may see).\n");
        else {
                fputc('\n', stdout);
                cli_table_print(t, stdout);
                if (t2 && cli_table_rows(t2) > 0) {
                        fputc('\n', stdout);
                        cli_table_print(t2, stdout);
                }
                if (wal && cli_table_rows(wal) > 0) {
                        fputc('\n', stdout);
                        cli_table_print(wal, stdout);
                }
                if (off && cli_table_rows(off) > 0) {
                        fputc('\n', stdout);
                        cli_table_print(off, stdout);
                }
                if (drills.size > 0) {
                        fputc('\n', stdout);
                        fwrite(drills.data, 1, drills.size, stdout);
                }
                if (notes.size > 0) {
                        fputc('\n', stdout);
                        fwrite(notes.data, 1, notes.size, stdout);
                }
        }
        return attention ? YB_EXIT_PARTIAL : YB_EXIT_OK;
}
