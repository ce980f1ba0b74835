/* orchestrator/drill-record.c: a drill's result made into its signed record (drill-record.h).
 * Nothing the run says is taken on trust where yunbakd knows better: the point's time comes from
 * the catalog (tiers 1 and 3), the start and the time observed from yunbakd's own clock, met from
 * the policy yunbakd holds (a "met" in the result is ignored), and a result that claims more time
 * than yunbakd saw pass is refused. What is signed is a clean copy of the checked fields: nothing
 * else of the request gets in. */
#include "orchestrator/drill-record.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/evidence/jsonwrite.h"
#include "core/evidence/signed.h"
#include "orchestrator/drill-due.h"
#include "orchestrator/drill-terms.h"

const char *const yb_drill_phases[5] = { "point", "restore", "verify", "postgresql", "check" };

/* Bounds of what a result may say. */
#define PHASE_MS_MAX (7LL * 24 * 3600 * 1000)
#define OUTPUT_MAX 4096
#define ERROR_MAX 2000
#define COMMAND_MAX 4096
#define PG_CHECKS_MAX 16
#define PHASE_COUNTS_MAX 8
/* What the run may claim beyond what yunbakd observed: the two clocks' rounding and the
 * requests' way. */
#define SLACK_MS 1000

typedef struct Check {
        int64_t id;
        const char *system;
        int64_t now; /* when yunbakd received the result */
        char *why;
        size_t why_size;
} Check;

static int bad(Check *k, const char *fmt, ...) _printf_(2, 3);
static int bad(Check *k, const char *fmt, ...) {
        char msg[600];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        snprintf(k->why, k->why_size,
                 "the result of drill %" PRId64 " of system '%s' is refused: %s", k->id, k->system,
                 msg);
        return -EINVAL;
}

/* Member key of o as text of at most max bytes (NULL when missing or null); multiline allows \n
 * and \t. */
static int text(Check *k, json_t *o, const char *where, const char *key, size_t max, bool multiline,
                const char **ret) {
        json_t *v = json_object_get(o, key);
        char problem[200];
        const char *s;

        *ret = NULL;
        if (!v || json_is_null(v))
                return 0;
        if (!json_is_string(v))
                return bad(k, "%s%s must be a string or null", where, key);
        s = json_string_value(v);
        if (json_string_length(v) > max)
                return bad(k, "%s%s is %zu bytes long, more than the %zu allowed", where, key,
                           json_string_length(v), max);
        if (yb_json_string_check(s, json_string_length(v), problem, sizeof(problem)) < 0)
                return bad(k, "%s%s: %s", where, key, problem);
        if (!multiline && strpbrk(s, "\n\t"))
                return bad(k, "%s%s must be one line", where, key);
        *ret = s;
        return 0;
}

/* Member key of o, when a string, with each control character but \n and \t (C0, DEL, C1)
 * replaced by U+FFFD: a command's output and error messages are kept as words under the record's
 * rule (signed.h) rather than refused. -ENOMEM. */
static int clean_member(json_t *o, const char *key) {
        json_t *v = json_object_get(o, key);
        const unsigned char *t = (const unsigned char *) json_string_value(v);
        size_t n = json_string_length(v), j = 0;
        _cleanup_free_ char *out = NULL;

        if (!t)
                return 0;
        out = malloc(3 * n + 1);
        if (!out)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                bool c0 = (t[i] < 0x20 && t[i] != '\n' && t[i] != '\t') || t[i] == 0x7f;
                bool c1 = t[i] == 0xc2 && i + 1 < n && t[i + 1] >= 0x80 && t[i + 1] <= 0x9f;

                if (c0 || c1) {
                        memcpy(out + j, "\xef\xbf\xbd", 3);
                        j += 3;
                        i += c1;
                } else
                        out[j++] = (char) t[i];
        }
        return j == n ? 0 : json_object_set_new(o, key, json_stringn(out, j)) < 0 ? -ENOMEM : 0;
}

/* The check's output: cleaned, and beyond OUTPUT_MAX bytes its last OUTPUT_MAX (from a
 * character's start), marked truncated. */
static int clean_output(json_t *check) {
        const char *t;
        size_t n, from;
        int r = clean_member(check, "output");

        t = json_string_value(json_object_get(check, "output"));
        n = json_string_length(json_object_get(check, "output"));
        if (r < 0 || !t || n <= OUTPUT_MAX)
                return r;
        from = n - OUTPUT_MAX;
        while (from < n && ((unsigned char) t[from] & 0xc0) == 0x80)
                from++;
        if (json_object_set_new(check, "output", json_string(t + from)) < 0 ||
            json_object_set_new(check, "output_truncated", json_true()) < 0)
                return -ENOMEM;
        return 0;
}

/* Member key of o as an integer in [min, max]; null allowed (then *ret_null) when ret_null. */
static int integer(Check *k, json_t *o, const char *where, const char *key, int64_t min,
                   int64_t max, bool *ret_null, int64_t *ret) {
        json_t *v = json_object_get(o, key);

        if (ret_null && (!v || json_is_null(v))) {
                *ret_null = true;
                return 0;
        }
        if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
                return bad(k, "%s%s must be an integer from %" PRId64 " to %" PRId64, where, key,
                           min, max);
        if (ret_null)
                *ret_null = false;
        *ret = json_integer_value(v);
        return 0;
}

static int phase_index(const char *name) {
        for (int i = 0; i < (int) ELEMENTSOF(yb_drill_phases); i++)
                if (streq(name, yb_drill_phases[i]))
                        return i;
        return -1;
}

/* A phase's other members: counts (files, bytes, ...), non-negative integers. */
static int phase_counts(Check *k, json_t *p, const char *name, json_t *out) {
        const char *key;
        json_t *v;
        size_t n = 0;

        json_object_foreach(p, key, v) {
                if (streq(key, "name") || streq(key, "ms") || streq(key, "ok"))
                        continue;
                if (++n > PHASE_COUNTS_MAX || strlen(key) > 32 ||
                    strspn(key, "abcdefghijklmnopqrstuvwxyz_") != strlen(key) || !*key)
                        return bad(k,
                                   "phase %s: '%.40s' is not a count it may carry (at most %d, "
                                   "named in [a-z_])",
                                   name, key, PHASE_COUNTS_MAX);
                if (!json_is_integer(v) || json_integer_value(v) < 0)
                        return bad(k, "phase %s: %s must be a non-negative integer", name, key);
                json_object_set(out, key, v);
        }
        return 0;
}

/* The phases, checked (known names, in order, each once, ms in bounds), copied into *ret; their
 * sum in *ret_sum; the first that did not pass in *ret_first_failed (NULL: none). */
static int phases(Check *k, json_t *v, json_t **ret, int64_t *ret_sum,
                  const char **ret_first_failed) {
        json_t *out = json_array(), *p;
        int last = -1;
        size_t i;

        *ret_sum = 0;
        *ret_first_failed = NULL;
        if (!json_is_array(v) || json_array_size(v) == 0 ||
            json_array_size(v) > ELEMENTSOF(yb_drill_phases)) {
                json_decref(out);
                return bad(k, "phases must be a list of 1 to 5 phases");
        }
        json_array_foreach(v, i, p) {
                const char *name = json_string_value(json_object_get(p, "name"));
                int idx = name ? phase_index(name) : -1;
                json_t *ok = json_object_get(p, "ok"), *o;
                int64_t ms = 0;
                char where[40];
                int r;

                if (!json_is_object(p) || idx < 0) {
                        json_decref(out);
                        return bad(k,
                                   "phases[%zu]: name must be one of point, restore, verify, "
                                   "postgresql, check",
                                   i);
                }
                if (idx <= last) {
                        json_decref(out);
                        return bad(k,
                                   "phases[%zu]: %s comes after %s (the phases are point, "
                                   "restore, verify, postgresql, check, each once, in order)",
                                   i, name, yb_drill_phases[last]);
                }
                last = idx;
                snprintf(where, sizeof(where), "phase %s: ", name);
                r = integer(k, p, where, "ms", 0, PHASE_MS_MAX, NULL, &ms);
                if (r >= 0 && !json_is_boolean(ok))
                        r = bad(k, "phase %s: ok must be true or false", name);
                o = r >= 0 ? json_pack("{s:s, s:I, s:O}", "name", name, "ms", (json_int_t) ms, "ok",
                                       ok)
                           : NULL;
                if (r >= 0 && !o)
                        r = -ENOMEM;
                if (r >= 0)
                        r = phase_counts(k, p, name, o);
                if (r < 0) {
                        json_decref(o);
                        json_decref(out);
                        return r;
                }
                json_array_append_new(out, o);
                *ret_sum += ms;
                if (!json_is_true(ok) && !*ret_first_failed)
                        *ret_first_failed = yb_drill_phases[idx];
        }
        *ret = out;
        return 0;
}

/* The check's report: null, or {command, exit_code, output, output_truncated}. */
static int check_report(Check *k, json_t *v, json_t **ret) {
        const char *command, *output;
        json_t *trunc = json_object_get(v, "output_truncated");
        int64_t code = 0;
        bool code_null = true;
        int r;

        if (!v || json_is_null(v)) {
                *ret = json_null();
                return 0;
        }
        if (!json_is_object(v))
                return bad(k, "check must be an object or null");
        r = text(k, v, "check.", "command", COMMAND_MAX, true, &command);
        if (r >= 0)
                r = integer(k, v, "check.", "exit_code", -255, 255, &code_null, &code);
        if (r >= 0)
                r = text(k, v, "check.", "output", OUTPUT_MAX, true, &output);
        if (r >= 0 && trunc && !json_is_boolean(trunc))
                r = bad(k, "check.output_truncated must be true or false");
        if (r < 0)
                return r;
        *ret = json_pack("{s:o, s:o, s:s, s:b}", "command",
                         command ? json_string(command) : json_null(), "exit_code",
                         code_null ? json_null() : json_integer(code), "output",
                         output ? output : "", "output_truncated", json_is_true(trunc));
        return *ret ? 0 : -ENOMEM;
}

/* The PostgreSQL checks' reports. */
static int pg_reports(Check *k, json_t *v, json_t **ret) {
        json_t *out, *q;
        size_t i;

        if (!v || json_is_null(v)) {
                *ret = json_array();
                return 0;
        }
        if (!json_is_array(v) || json_array_size(v) > PG_CHECKS_MAX)
                return bad(k, "postgresql must be a list of at most %d checks", PG_CHECKS_MAX);
        out = json_array();
        json_array_foreach(v, i, q) {
                const char *name, *mode, *database, *query, *error;
                int64_t min = 0, value = 0;
                bool value_null = false;
                char where[40];
                int r;

                snprintf(where, sizeof(where), "postgresql[%zu].", i);
                r = json_is_object(q) ? 0 : bad(k, "postgresql[%zu] must be an object", i);
                if (r >= 0)
                        r = text(k, q, where, "name", 64, false, &name);
                if (r >= 0)
                        r = text(k, q, where, "mode", 16, false, &mode);
                if (r >= 0 && (!mode || (!streq(mode, "dump") && !streq(mode, "physical"))))
                        r = bad(k, "%smode must be dump or physical", where);
                if (r >= 0)
                        r = text(k, q, where, "database", 1024, false, &database);
                if (r >= 0)
                        r = text(k, q, where, "query", COMMAND_MAX, true, &query);
                if (r >= 0)
                        r = integer(k, q, where, "min", INT64_MIN, INT64_MAX, NULL, &min);
                if (r >= 0)
                        r = integer(k, q, where, "value", INT64_MIN, INT64_MAX, &value_null,
                                    &value);
                if (r >= 0 && !json_is_boolean(json_object_get(q, "ok")))
                        r = bad(k, "%sok must be true or false", where);
                if (r >= 0)
                        r = text(k, q, where, "error", ERROR_MAX, true, &error);
                if (r >= 0 && (!name || !query))
                        r = bad(k, "%sname and query are required", where);
                if (r < 0) {
                        json_decref(out);
                        return r;
                }
                json_array_append_new(out,
                                      json_pack("{s:s, s:s, s:o, s:s, s:I, s:o, s:O, s:o}", "name",
                                                name, "mode", mode, "database",
                                                database ? json_string(database) : json_null(),
                                                "query", query, "min", (json_int_t) min, "value",
                                                value_null ? json_null() : json_integer(value),
                                                "ok", json_object_get(q, "ok"), "error",
                                                error ? json_string(error) : json_null()));
        }
        *ret = out;
        return 0;
}

typedef struct SnapRow {
        bool found;
        int64_t finished_usec;
        char level[32];
        bool partial;
        char quarantine[200]; /* why it was set aside; empty: it was not */
} SnapRow;

static int snap_row(void *ud, sqlite3_stmt *row) {
        SnapRow *s = ud;
        const char *level = (const char *) sqlite3_column_text(row, 1);

        s->found = true;
        s->finished_usec = sqlite3_column_int64(row, 0);
        snprintf(s->level, sizeof(s->level), "%s", level ? level : "");
        s->partial = sqlite3_column_int(row, 2) != 0;
        /* The end, on yunbakd's clock, of the job that made it: the header's time is the
         * agent's clock, which a host set ahead would make look fresher. */
        if (sqlite3_column_type(row, 4) != SQLITE_NULL)
                s->finished_usec = MIN(s->finished_usec, sqlite3_column_int64(row, 4));
        snprintf(s->quarantine, sizeof(s->quarantine), "%s",
                 sqlite3_column_text(row, 3) ? (const char *) sqlite3_column_text(row, 3) : "");
        return 0;
}

/* The point: null, or checked and (tiers 1 and 3) its time (the snapshot's, or the end of the job
 * that made it when earlier), level and partial from the catalog; a point dated after the result
 * is refused; requested_at is the begin's at_usec (terms), where known. Its time in *ret_usec (0
 * for null). */
static int point_report(Check *k, YbDaemon *d, const YbDrill *dr, const YbDrillTerms *terms,
                        json_t *v, int *ret_status, json_t **ret, int64_t *ret_usec) {
        const char *id, *level;
        int64_t t = 0, at = 0;
        bool at_null = true;
        json_t *partial = json_object_get(v, "partial");
        SnapRow snap = {};
        int r;

        *ret_usec = 0;
        if (!v || json_is_null(v)) {
                *ret = json_null();
                return 0;
        }
        if (!json_is_object(v))
                return bad(k, "point must be an object or null");
        r = text(k, v, "point.", "id", 128, false, &id);
        if (r >= 0 && !id)
                r = bad(k, "point.id is required");
        if (r >= 0)
                r = text(k, v, "point.", "level", 32, false, &level);
        if (r >= 0)
                r = integer(k, v, "point.", "time_usec", 1, INT64_MAX, NULL, &t);
        if (r >= 0)
                r = integer(k, v, "point.", "requested_at_usec", 1, INT64_MAX, &at_null, &at);
        if (r >= 0 && partial && !json_is_boolean(partial))
                r = bad(k, "point.partial must be true or false");
        if (r < 0)
                return r;
        if (terms->at_known) { /* the begin's, not the run's word */
                at = terms->at_usec;
                at_null = at == 0;
        }
        if (dr->tier != 2) {
                r = yb_catalog_query(
                        d->catalog,
                        "SELECT s.finished_usec, s.level, s.partial, s.quarantine,"
                        " (SELECT min(j.finished_usec) FROM jobs j WHERE j.system = s.system"
                        " AND j.snapshot = s.id) FROM snapshots s WHERE"
                        " s.system = ?1 AND s.store = ?2 AND s.id = ?3",
                        snap_row, &snap, "ttt", dr->system, dr->store, id);
                if (r < 0) {
                        *ret_status = 500;
                        snprintf(k->why, k->why_size,
                                 "cannot look up snapshot %s of system '%s' in the catalog: %s", id,
                                 dr->system, strerror(-r));
                        return r;
                }
                if (!snap.found) {
                        *ret_status = 409;
                        bad(k,
                            "the point %s is not a snapshot of system '%s' in store '%s' as the "
                            "catalog knows it (tier %d); a drill restores a point the catalog "
                            "lists ('yunbak snapshots --system %s')",
                            id, dr->system, dr->store, dr->tier, dr->system);
                        return -ENOENT;
                }
                if (snap.quarantine[0]) {
                        /* Set aside as another agent's: its age would make any RPO. */
                        *ret_status = 409;
                        return bad(k,
                                   "the point %s is a quarantined snapshot (%s): a drill restores "
                                   "a point yunbakd trusts; drill another (--at), or have an "
                                   "operator release it if it is sound",
                                   id, snap.quarantine);
                }
                t = snap.finished_usec;
                level = snap.level;
        }
        if (t > k->now) {
                /* Impossible: a clock ahead (the replicator's host for tier 2, whose segments
                 * the catalog does not list; the agent's for a snapshot no job of yunbakd's
                 * made). */
                char when[32], received[32];

                orch_drill_date(t, when);
                orch_drill_date(k->now, received);
                *ret_status = 409;
                return bad(k,
                           "point %s is dated %s, after yunbakd received the result (%s): a "
                           "drill cannot restore a point from the future (is the clock of the "
                           "host that made it ahead?)",
                           id, when, received);
        }
        *ret = json_pack("{s:s, s:o, s:o, s:I, s:o, s:b, s:s}", "id", id, "level",
                         level ? json_string(level) : json_null(), "time", orch_drill_date_json(t),
                         "time_usec", (json_int_t) t, "requested_at",
                         at_null ? json_null() : orch_drill_date_json(at), "partial",
                         dr->tier != 2 ? snap.partial : json_is_true(partial), "time_from",
                         dr->tier != 2 ? "catalog" : "drill");
        *ret_usec = t;
        return *ret ? 0 : -ENOMEM;
}

/* The system's drills before dr, as the record's history. */
static int history_json(YbDaemon *d, const YbDrill *dr, json_t **ret) {
        YbDrill *v = NULL;
        size_t n = 0;
        json_t *out;
        int r;

        r = yb_drills_history(d->catalog, dr->system, dr->id, YB_DRILL_HISTORY_MAX, &v, &n);
        if (r < 0)
                return r;
        out = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(
                        out, json_pack("{s:I, s:o, s:s, s:o, s:o}", "id", (json_int_t) v[i].id,
                                       "started", orch_drill_date_json(v[i].started_usec), "result",
                                       v[i].state, "rto_ms",
                                       v[i].rto_ms >= 0 ? json_integer(v[i].rto_ms) : json_null(),
                                       "rpo_seconds",
                                       v[i].rpo_seconds >= 0 ? json_integer(v[i].rpo_seconds)
                                                             : json_null()));
        yb_drills_free(v, n);
        *ret = out;
        return 0;
}

/* The check's and the PostgreSQL checks' reports against the terms (drill-terms.h). */
static int against_terms(Check *k, const YbDrillTerms *t, const char *file, json_t *check,
                         bool passed, json_t *phase_list, json_t *pg) {
        char problem[500];

        if (orch_drill_check_against_terms(t, file, check, passed, problem, sizeof(problem)) < 0 ||
            (passed &&
             orch_drill_pg_against_terms(t, file, phase_list, pg, problem, sizeof(problem)) < 0))
                return bad(k, "%s", problem);
        return 0;
}

static json_t *met_json(int met) {
        return met < 0 ? json_null() : json_boolean(met);
}

/* The result's own fields checked: result, failed_phase and error against the phases. */
static int outcome(Check *k, json_t *result, const char *first_failed, json_t *phase_list,
                   bool *ret_passed, const char **ret_failed_phase, const char **ret_error) {
        const char *res = json_string_value(json_object_get(result, "result"));
        bool seen[5] = {};
        json_t *p;
        size_t i;
        int r;

        json_array_foreach(phase_list, i, p)
                seen[phase_index(json_string_value(json_object_get(p, "name")))] = true;
        if (!res || (!streq(res, "passed") && !streq(res, "failed")))
                return bad(k, "result must be \"passed\" or \"failed\"");
        r = text(k, result, "", "failed_phase", 16, false, ret_failed_phase);
        if (r >= 0)
                r = text(k, result, "", "error", ERROR_MAX, true, ret_error);
        if (r < 0)
                return r;
        *ret_passed = streq(res, "passed");
        if (*ret_passed) {
                if (first_failed)
                        return bad(k, "it says passed, but phase %s did not pass", first_failed);
                if (*ret_failed_phase || *ret_error)
                        return bad(k, "it says passed, with a failed_phase or an error");
                for (int j = 0; j < (int) ELEMENTSOF(yb_drill_phases); j++)
                        if (!seen[j] && !streq(yb_drill_phases[j], "postgresql"))
                                return bad(k, "it says passed without the phase %s",
                                           yb_drill_phases[j]);
                return 0;
        }
        if (!*ret_failed_phase || phase_index(*ret_failed_phase) < 0)
                return bad(k, "a failed drill names its failed_phase (point, restore, verify, "
                              "postgresql or check)");
        if (!*ret_error)
                return bad(k, "a failed drill says its error");
        if (first_failed && !streq(first_failed, *ret_failed_phase))
                return bad(k, "failed_phase is %s, but the first phase that did not pass is %s",
                           *ret_failed_phase, first_failed);
        /* With no listed phase failed, the failed one is the first that did not finish: one not
         * listed, never one the list says passed (the record would contradict itself). */
        if (!first_failed && seen[phase_index(*ret_failed_phase)])
                return bad(k, "failed_phase is %s, but its phases say %s passed", *ret_failed_phase,
                           *ret_failed_phase);
        return 0;
}

int orch_drill_record(YbDaemon *d, const YbSystem *s, const YbDrill *dr, json_t *result,
                      int64_t now, int64_t observed_ms, YbDrill *ret, int *ret_status, char *why,
                      size_t why_size) {
        const YbPolicy *p = s->policy;
        const YbConfigStore *store = yb_daemon_config_store(d->config, dr->store);
        Check k = { dr->id, dr->system, now, why, why_size };
        _cleanup_(json_decrefp) json_t *phase_list = NULL, *check = NULL, *pg = NULL, *point = NULL,
                                       *history = NULL, *doc = NULL;
        const char *host, *location, *first_failed, *failed_phase, *error;
        int64_t sum, point_usec, disaster_usec;
        int64_t rto_ms = -1, rpo_s = -1;
        int rto_met = -1, rpo_met = -1;
        _cleanup_(orch_drill_terms_done) YbDrillTerms t = {};
        char *body = NULL;
        bool passed = false;
        int r;

        r = orch_drill_terms_of(dr, p, &t);
        if (r < 0) {
                *ret_status = 500;
                snprintf(why, why_size,
                         "the terms drill %" PRId64 " of system '%s' was begun with cannot be "
                         "read from the catalog: %s",
                         dr->id, dr->system, strerror(-r));
                return r;
        }
        *ret_status = 400;
        r = clean_member(result, "error");
        if (r >= 0 && json_is_object(json_object_get(result, "check")))
                r = clean_output(json_object_get(result, "check"));
        for (size_t i = 0; r >= 0 && i < json_array_size(json_object_get(result, "postgresql"));
             i++)
                r = clean_member(json_array_get(json_object_get(result, "postgresql"), i), "error");
        if (r < 0) {
                *ret_status = 500;
                snprintf(why, why_size, "out of memory");
                return r;
        }
        r = text(&k, result, "", "host", 255, false, &host);
        if (r >= 0)
                r = text(&k, result, "", "location", 4096, false, &location);
        if (r >= 0)
                r = phases(&k, json_object_get(result, "phases"), &phase_list, &sum, &first_failed);
        if (r >= 0)
                r = outcome(&k, result, first_failed, phase_list, &passed, &failed_phase, &error);
        if (r >= 0)
                r = check_report(&k, json_object_get(result, "check"), &check);
        if (r >= 0)
                r = pg_reports(&k, json_object_get(result, "postgresql"), &pg);
        if (r >= 0)
                r = against_terms(&k, &t, p->file, check, passed, phase_list, pg);
        if (r < 0)
                return r;
        if (sum > observed_ms + SLACK_MS) {
                *ret_status = 409;
                return bad(&k,
                           "its phases add up to %" PRId64 " ms, but yunbakd saw only %" PRId64
                           " ms pass between the drill's begin and its result: it cannot be",
                           sum, observed_ms);
        }
        r = point_report(&k, d, dr, &t, json_object_get(result, "point"), ret_status, &point,
                         &point_usec);
        if (r < 0)
                return r;
        if (passed && point_usec == 0)
                return bad(&k, "it says passed without the point it restored");
        /* The moment of the outage the drill plays: its start, or the time it asked for with
         * --at (a drill of last week's point measures what an outage then would have lost). */
        disaster_usec =
                t.at_known && t.at_usec > 0 ? MIN(t.at_usec, dr->started_usec) : dr->started_usec;
        if (point_usec > disaster_usec && t.at_known && t.at_usec > 0) {
                char at[32], pt[32];

                *ret_status = 409;
                yb_time_format_iso(yb_usec_to_ns(t.at_usec), at);
                yb_time_format_iso(yb_usec_to_ns(point_usec), pt);
                return bad(&k,
                           "the point it restored (%s) is after the time the drill asked for "
                           "(%s): a point at or before that time was to be restored",
                           pt, at);
        }
        if (passed) {
                rto_ms = sum;
                rpo_s = disaster_usec > point_usec ? (disaster_usec - point_usec) / YB_USEC_PER_SEC
                                                   : 0;
                rto_met = rto_ms <= t.rto_seconds * 1000;
                /* On the point's exact age, not on rpo_seconds, which is rounded down: a point
                 * 3600.9 s old does not meet an RPO of 3600 s. */
                rpo_met = disaster_usec - point_usec <= t.rpo_seconds * YB_USEC_PER_SEC;
        }
        r = history_json(d, dr, &history);
        if (r < 0) {
                *ret_status = 500;
                snprintf(why, why_size,
                         "cannot read the drills of system '%s' from the catalog: %s", dr->system,
                         strerror(-r));
                return r;
        }

        doc = json_object();
        json_object_set_new(doc, "type", json_string("yunbak-drill"));
        json_object_set_new(doc, "version", json_integer(1));
        json_object_set_new(doc, "id", json_integer(dr->id));
        json_object_set_new(doc, "system",
                            json_pack("{s:s, s:s, s:s, s:s}", "id", p->id, "name", p->name,
                                      "department", p->department, "grade",
                                      yb_grade_to_string(p->grade)));
        json_object_set_new(doc, "scenario", json_string(dr->scenario));
        json_object_set_new(doc, "tier", json_integer(dr->tier));
        json_object_set_new(doc, "store",
                            json_pack("{s:s, s:s}", "name", dr->store, "location",
                                      location ? location
                                      : store  ? store->url
                                               : "?"));
        json_object_set_new(doc, "run_by", json_string(dr->run_by));
        json_object_set_new(doc, "host",
                            host       ? json_string(host)
                            : dr->host ? json_string(dr->host)
                                       : json_null());
        json_object_set_new(doc, "started", orch_drill_date_json(dr->started_usec));
        json_object_set_new(doc, "started_usec", json_integer(dr->started_usec));
        json_object_set_new(doc, "reported", orch_drill_date_json(now));
        json_object_set_new(doc, "reported_usec", json_integer(now));
        json_object_set_new(doc, "observed_ms", json_integer(observed_ms));
        json_object_set(doc, "point", point);
        json_object_set(doc, "phases", phase_list);
        json_object_set_new(doc, "result", json_string(passed ? "passed" : "failed"));
        json_object_set_new(doc, "failed_phase",
                            failed_phase ? json_string(failed_phase) : json_null());
        json_object_set_new(doc, "error", error ? json_string(error) : json_null());
        json_object_set(doc, "check", check);
        json_object_set(doc, "postgresql", pg);
        json_object_set(doc, "objectives", json_object_get(t.doc, "objectives"));
        json_object_set_new(
                doc, "achieved",
                json_pack("{s:o, s:o}", "rto_ms", rto_ms >= 0 ? json_integer(rto_ms) : json_null(),
                          "rpo_seconds", rpo_s >= 0 ? json_integer(rpo_s) : json_null()));
        json_object_set_new(
                doc, "met",
                json_pack("{s:o, s:o}", "rto", met_json(rto_met), "rpo", met_json(rpo_met)));
        json_object_set(doc, "history", history);

        *ret_status = 500;
        r = yb_signed_sign(doc, d->key);
        if (r < 0) {
                snprintf(why, why_size, "cannot sign the record of drill %" PRId64 ": %s", dr->id,
                         strerror(-r));
                return r;
        }
        r = yb_signed_dump(doc, &body);
        if (r < 0) {
                snprintf(why, why_size, "cannot write the record of drill %" PRId64 ": %s", dr->id,
                         strerror(-r));
                return r;
        }
        *ret = (YbDrill){
                .id = dr->id,
                .system = strdup(dr->system),
                .tier = dr->tier,
                .started_usec = dr->started_usec,
                .reported_usec = now,
                .state = strdup(passed ? YB_DRILL_PASSED : YB_DRILL_FAILED),
                .host = host       ? strdup(host)
                        : dr->host ? strdup(dr->host)
                                   : NULL,
                .failed_phase = failed_phase ? strdup(failed_phase) : NULL,
                .error = error ? strdup(error) : NULL,
                .point =
                        point_usec ? strdup(json_string_value(json_object_get(point, "id"))) : NULL,
                .point_usec = point_usec,
                .rto_ms = rto_ms,
                .rpo_seconds = rpo_s,
                .rto_met = rto_met,
                .rpo_met = rpo_met,
                .body = body,
        };
        if (!ret->system || !ret->state) {
                yb_drill_done(ret);
                snprintf(why, why_size, "out of memory");
                return -ENOMEM;
        }
        return 0;
}
