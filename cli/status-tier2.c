/* cli/status-tier2.c: tier 2 in `yunbak status` (cli/status-tier2.h). */
#include "cli/status-tier2.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

static bool json_num(json_t *o, const char *key, double *ret) {
        json_t *v = json_object_get(o, key);

        if (!json_is_number(v))
                return false;
        *ret = json_number_value(v);
        return true;
}

/* "3.2 s", or for a long one the usual "12 min". */
static const char *seconds_text(double s, char buf[32]) {
        if (s < 100)
                snprintf(buf, 32, "%.1f s", s);
        else
                cli_format_duration((int64_t) (s * YB_USEC_PER_SEC), buf);
        return buf;
}

/* Why the lag is unknown, in words. */
static const char *lag_why_text(const char *why, const char *state) {
        if (why && streq(why, "rescan"))
                return "a rescan runs";
        if (why && streq(why, "store-unreachable"))
                return "the store is unreachable";
        if (why && streq(why, "root"))
                return "a new chain root is made";
        if (why && streq(why, "starting"))
                return "the replicator is starting";
        if (why && streq(why, "postgresql-unreachable"))
                return "a PostgreSQL server's WAL position cannot be read";
        if (state && streq(state, "not-reporting"))
                return "no report from the replicator";
        if (state && (streq(state, "restarting") || streq(state, "not-running")))
                return "no replicator runs";
        return "not reported yet";
}

bool cli_status_tier2_attention(json_t *s) {
        json_t *t2 = json_object_get(s, "tier2");
        const char *state = cli_json_str(t2, "state");

        return json_is_object(t2) && (json_is_true(json_object_get(t2, "max_lag_exceeded")) ||
                                      (state && streq(state, "restarting")));
}

/* A row per PostgreSQL hook under its system's: the WAL positions the replicator reported. */
static void add_wal_rows(CliTable *t, json_t *pg) {
        const char *hook;
        json_t *h;

        json_object_foreach(pg, hook, h) {
                const char *slot = cli_json_str(h, "slot");
                char name[96], st[64], lag[160];

                snprintf(name, sizeof(name), "  WAL of %s", hook);
                snprintf(st, sizeof(st), "slot %s", slot ?: "unknown");
                snprintf(lag, sizeof(lag), "shipped %s, server %s, received %s",
                         cli_json_str(h, "shipped_lsn") ?: "none",
                         cli_json_str(h, "server_lsn") ?: "unknown",
                         cli_json_str(h, "received_lsn") ?: "unknown");
                if (cli_table_add(t, name, "", st, lag, "", "") < 0)
                        log_oom();
        }
}

bool cli_status_tier2_add(CliTable *t, json_t *s, int64_t now, YbBuf *notes) {
        json_t *t2 = json_object_get(s, "tier2"), *last = json_object_get(t2, "last_segment");
        const char *id = cli_json_str(s, "id") ?: "?", *state = cli_json_str(t2, "state"),
                   *why = cli_json_str(t2, "why");
        char st[600], lag[160], max[32] = "-", seg[160] = "-", b1[32], b2[32];
        bool exceeded = json_is_true(json_object_get(t2, "max_lag_exceeded"));
        int64_t retry = 0;
        double v;

        if (!json_is_object(t2))
                return false;
        if (state && streq(state, "restarting")) {
                snprintf(st, sizeof(st), "restarting %s", why ?: "");
                if (cli_json_int(t2, "retry_usec", &retry))
                        snprintf(st + strlen(st), sizeof(st) - strlen(st), " (next try in %s)",
                                 cli_format_duration(retry - now, b1));
        } else if (state && why &&
                   (streq(state, "not-running") || streq(state, "store-unreachable")))
                snprintf(st, sizeof(st), "%s: %s", state, why);
        else
                snprintf(st, sizeof(st), "%s", state ?: "?");
        if (json_is_true(json_object_get(t2, "lag_known")) && json_num(t2, "lag_seconds", &v))
                snprintf(lag, sizeof(lag), "%s", seconds_text(v, b1));
        else {
                double at_least = 0;

                (void) json_num(t2, "lag_at_least_seconds", &at_least);
                snprintf(lag, sizeof(lag), "unknown (%s), at least %s",
                         lag_why_text(cli_json_str(t2, "lag_why"), state),
                         seconds_text(at_least, b1));
        }
        if (exceeded)
                snprintf(lag + strlen(lag), sizeof(lag) - strlen(lag), ", MAX_LAG EXCEEDED");
        if (json_num(t2, "max_lag_seconds", &v))
                seconds_text(v, max);
        if (json_is_object(last) && json_num(last, "age_seconds", &v))
                snprintf(seg, sizeof(seg), "%s (%s ago)", cli_json_str(last, "id") ?: "?",
                         seconds_text(v, b2));
        if (cli_table_add(t, id, cli_json_str(t2, "store"), st, lag, max, seg) < 0)
                log_oom();
        add_wal_rows(t, json_object_get(t2, "postgresql"));
        if (exceeded)
                (void) yb_buf_printf(notes,
                                     "%s: the tier-2 lag (%s) exceeds max_lag (%s): changes are "
                                     "not reaching store '%s' in time\n",
                                     id, lag, max, cli_json_str(t2, "store") ?: "?");
        return cli_status_tier2_attention(s);
}

static void hour_num(json_t *h, const char *key, char buf[32]) {
        double v;

        if (!json_num(h, key, &v))
                snprintf(buf, 32, "-");
        else
                snprintf(buf, 32, "%.1f s", v);
}

int cli_status_lag_history(const CliCtl *ctl, const char *system, int64_t hours, bool json) {
        _cleanup_(cli_table_freep) CliTable *t = NULL;
        _cleanup_(json_decrefp) json_t *o = NULL;
        _cleanup_free_ char *esc = cli_url_escape(system), *path = NULL;
        json_t *h;
        size_t i;
        int r;

        if (!esc || asprintf(&path, "/v1/systems/%s/lag?hours=%" PRId64, esc, hours) < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(ctl, "GET", path, NULL, &o);
        if (r != 0)
                return r;
        if (json) {
                cli_json_print(o);
                return YB_EXIT_OK;
        }
        t = cli_table_new(7, "HOUR (UTC)", "SAMPLES", "UNKNOWN", "P50", "P99", "MAX", "");
        if (!t)
                return log_oom(), YB_EXIT_FAILED;
        json_array_foreach(json_object_get(o, "hours"), i, h) {
                char when[32], n[32], unk[32], p50[32], p99[32], max[32];
                int64_t v = 0;

                (void) cli_json_int(h, "hour_usec", &v);
                cli_format_time(v, when);
                when[16] = 0; /* "2026-11-21 18:00" */
                (void) cli_json_int(h, "samples", &v);
                snprintf(n, sizeof(n), "%" PRId64, v);
                v = 0;
                (void) cli_json_int(h, "unknown_seconds", &v);
                snprintf(unk, sizeof(unk), "%" PRId64 " s", v);
                hour_num(h, "p50_seconds", p50);
                hour_num(h, "p99_seconds", p99);
                hour_num(h, "max_seconds", max);
                if (cli_table_add(t, when, n, unk, p50, p99, max,
                                  json_is_true(json_object_get(h, "running"))
                                          ? "(this hour, so far)"
                                          : "") < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        if (cli_table_rows(t) == 0) {
                printf("No lag samples of system '%s' in the last %" PRId64
                       " h: its policy has no tier2, or yunbakd did not run it then.\n",
                       system, hours);
                return YB_EXIT_OK;
        }
        printf("Tier-2 lag of system '%s' per hour (sampled once a second; p50 and p99 of the "
               "known samples, max of all):\n\n",
               system);
        cli_table_print(t, stdout);
        return YB_EXIT_OK;
}
