/* Reading a drill record (drill.h): its fields checked and typed once, here, for the page, the
 * summary and the CLI, so that none of them reads the JSON by hand; the summary in words. Integers
 * the record leaves null are -1 in YbDrill, never 0: a figure nobody measured must not read as "0
 * ms". */
#include "core/evidence/drill.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/evidence/why.h"

/* The reader's state: the first problem wins; every getter after it does nothing. */
typedef struct Rd {
        char *why;
        size_t why_size;
        int r;
} Rd;

static void problem(Rd *rd, const char *where, const char *key, const char *what) {
        if (rd->r < 0)
                return;
        rd->r = yb_why(rd->why, rd->why_size, -EINVAL, "%s%s%s: %s", where, *where ? "." : "", key,
                       what);
}

static json_t *member(Rd *rd, json_t *o, const char *where, const char *key, bool nullable) {
        json_t *v = json_object_get(o, key);

        if (!v || (json_is_null(v) && !nullable)) {
                problem(rd, where, key, "missing");
                return NULL;
        }
        return json_is_null(v) ? NULL : v;
}

static const char *str(Rd *rd, json_t *o, const char *where, const char *key, bool nullable) {
        json_t *v = member(rd, o, where, key, nullable);

        if (v && !json_is_string(v))
                problem(rd, where, key, "not a string");
        return json_string_value(v);
}

/* An integer >= min; -1 when null (nullable only). */
static int64_t num(Rd *rd, json_t *o, const char *where, const char *key, bool nullable,
                   int64_t min) {
        json_t *v = member(rd, o, where, key, nullable);

        if (!v)
                return -1;
        if (!json_is_integer(v)) {
                problem(rd, where, key, "not an integer");
                return -1;
        }
        if (json_integer_value(v) < min) {
                char what[64];

                snprintf(what, sizeof(what), "%" JSON_INTEGER_FORMAT " is below %" PRId64,
                         json_integer_value(v), min);
                problem(rd, where, key, what);
                return -1;
        }
        return json_integer_value(v);
}

static YbDrillTri tri(Rd *rd, json_t *o, const char *where, const char *key, bool nullable) {
        json_t *v = member(rd, o, where, key, nullable);

        if (!v)
                return YB_DRILL_UNKNOWN;
        if (!json_is_boolean(v)) {
                problem(rd, where, key, "not true or false");
                return YB_DRILL_UNKNOWN;
        }
        return json_is_true(v) ? YB_DRILL_YES : YB_DRILL_NO;
}

static json_t *obj(Rd *rd, json_t *o, const char *where, const char *key, bool nullable) {
        json_t *v = member(rd, o, where, key, nullable);

        if (v && !json_is_object(v)) {
                problem(rd, where, key, "not an object");
                return NULL;
        }
        return v;
}

/* An array of at most max elements, each an object; absent or null reads as empty when
 * optional. */
static json_t *list(Rd *rd, json_t *o, const char *key, bool optional, size_t max) {
        json_t *v = json_object_get(o, key), *e;
        size_t i;

        if (optional && (!v || json_is_null(v)))
                return NULL;
        if (!v || !json_is_array(v)) {
                problem(rd, "", key, v ? "not a list" : "missing");
                return NULL;
        }
        if (json_array_size(v) > max) {
                char what[64];

                snprintf(what, sizeof(what), "%zu entries, more than the %zu a record holds",
                         json_array_size(v), max);
                problem(rd, "", key, what);
                return NULL;
        }
        json_array_foreach(v, i, e) {
                if (!json_is_object(e)) {
                        char where[32];

                        snprintf(where, sizeof(where), "%s[%zu]", key, i);
                        problem(rd, where, "", "not an object");
                        return NULL;
                }
        }
        return v;
}

static void read_point(Rd *rd, json_t *p, YbDrill *d) {
        d->has_point = p != NULL;
        if (!p)
                return;
        d->point_id = str(rd, p, "point", "id", false);
        d->point_level = str(rd, p, "point", "level", true);
        d->point_time = str(rd, p, "point", "time", false);
        d->point_time_usec = num(rd, p, "point", "time_usec", false, 0);
        d->point_requested_at = json_object_get(p, "requested_at")
                                        ? str(rd, p, "point", "requested_at", true)
                                        : NULL;
        d->point_partial = tri(rd, p, "point", "partial", false) == YB_DRILL_YES;
        d->point_time_from =
                json_object_get(p, "time_from") ? str(rd, p, "point", "time_from", true) : NULL;
}

static void read_lists(Rd *rd, json_t *rec, YbDrill *d) {
        json_t *a, *e;
        char where[48];
        size_t i;

        a = list(rd, rec, "phases", false, YB_DRILL_PHASES_MAX);
        json_array_foreach(a, i, e) {
                YbDrillPhase *p = &d->phases[d->n_phases++];

                snprintf(where, sizeof(where), "phases[%zu]", i);
                p->name = str(rd, e, where, "name", false);
                p->ms = num(rd, e, where, "ms", false, 0);
                p->ok = tri(rd, e, where, "ok", false) == YB_DRILL_YES;
                p->files = json_object_get(e, "files") ? num(rd, e, where, "files", true, 0) : -1;
                p->bytes = json_object_get(e, "bytes") ? num(rd, e, where, "bytes", true, 0) : -1;
        }
        a = list(rd, rec, "postgresql", true, YB_DRILL_PG_MAX);
        json_array_foreach(a, i, e) {
                YbDrillPg *p = &d->pg[d->n_pg++];

                snprintf(where, sizeof(where), "postgresql[%zu]", i);
                p->name = str(rd, e, where, "name", false);
                p->mode = str(rd, e, where, "mode", false);
                p->database = str(rd, e, where, "database", false);
                p->query = str(rd, e, where, "query", true);
                p->min = num(rd, e, where, "min", false, INT64_MIN);
                p->has_value = json_is_integer(json_object_get(e, "value"));
                p->value = num(rd, e, where, "value", true, INT64_MIN);
                p->ok = tri(rd, e, where, "ok", false) == YB_DRILL_YES;
                p->error = json_object_get(e, "error") ? str(rd, e, where, "error", true) : NULL;
        }
        a = list(rd, rec, "history", true, YB_DRILL_HISTORY_MAX);
        json_array_foreach(a, i, e) {
                YbDrillEarlier *h = &d->history[d->n_history++];
                const char *result;

                snprintf(where, sizeof(where), "history[%zu]", i);
                h->id = num(rd, e, where, "id", false, 1);
                h->started = str(rd, e, where, "started", false);
                result = str(rd, e, where, "result", false);
                h->passed = result && streq(result, "passed");
                h->rto_ms = num(rd, e, where, "rto_ms", true, 0);
                h->rpo_seconds = num(rd, e, where, "rpo_seconds", true, INT64_MIN);
        }
}

/* What makes a record say what it says: passed only with every phase passed and an RTO; failed
 * with the phase and the error. */
static void read_result(Rd *rd, json_t *rec, YbDrill *d) {
        const char *result = str(rd, rec, "", "result", false);

        d->passed = result && streq(result, "passed");
        if (result && !d->passed && !streq(result, "failed"))
                problem(rd, "", "result", "neither \"passed\" nor \"failed\"");
        d->failed_phase = str(rd, rec, "", "failed_phase", d->passed);
        d->error = str(rd, rec, "", "error", d->passed);
        if (!d->passed)
                return;
        if (d->failed_phase || d->error)
                problem(rd, "", "result", "\"passed\" with a failed phase or an error");
        for (size_t i = 0; i < d->n_phases; i++)
                if (!d->phases[i].ok)
                        problem(rd, "", "result", "\"passed\" although a phase failed");
        if (d->rto_ms < 0)
                problem(rd, "achieved", "rto_ms", "null in a drill that passed");
}

int yb_drill_read(const json_t *record, YbDrill *ret, char *why, size_t why_size) {
        json_t *rec = (json_t *) record, *o;
        Rd rd = { why, why_size, 0 };
        YbDrill d = {};
        const char *type;

        if (!json_is_object(rec))
                return yb_why(why, why_size, -EINVAL, "not a JSON object");
        type = str(&rd, rec, "", "type", false);
        if (type && !streq(type, YB_DRILL_TYPE))
                problem(&rd, "", "type", "not \"" YB_DRILL_TYPE "\"");
        if (num(&rd, rec, "", "version", false, 0) != YB_DRILL_VERSION && rd.r >= 0)
                return yb_why(why, why_size, -EINVAL,
                              "version: not %d (a record from another yunbak version)",
                              YB_DRILL_VERSION);
        d.id = num(&rd, rec, "", "id", false, 1);
        o = obj(&rd, rec, "", "system", false);
        d.system_id = str(&rd, o, "system", "id", false);
        d.system_name = str(&rd, o, "system", "name", false);
        d.department = str(&rd, o, "system", "department", true);
        d.grade = str(&rd, o, "system", "grade", true);
        d.scenario = str(&rd, rec, "", "scenario", false);
        d.tier = num(&rd, rec, "", "tier", false, 1);
        if (d.tier > 3)
                problem(&rd, "", "tier", "not 1, 2 or 3");
        o = obj(&rd, rec, "", "store", false);
        d.store_name = str(&rd, o, "store", "name", false);
        d.store_location = str(&rd, o, "store", "location", true);
        d.run_by = str(&rd, rec, "", "run_by", false);
        d.host = str(&rd, rec, "", "host", true);
        d.started = str(&rd, rec, "", "started", false);
        d.started_usec = num(&rd, rec, "", "started_usec", false, 0);
        d.reported = str(&rd, rec, "", "reported", false);
        d.reported_usec = num(&rd, rec, "", "reported_usec", false, 0);
        d.observed_ms = num(&rd, rec, "", "observed_ms", true, 0);
        read_point(&rd, obj(&rd, rec, "", "point", true), &d);
        read_lists(&rd, rec, &d);
        o = obj(&rd, rec, "", "check", true);
        d.has_check = o != NULL;
        if (o) {
                d.check_command = str(&rd, o, "check", "command", true);
                d.check_exited = json_is_integer(json_object_get(o, "exit_code"));
                d.check_exit_code = num(&rd, o, "check", "exit_code", true, INT64_MIN);
                d.check_output = str(&rd, o, "check", "output", true);
                d.check_output_truncated =
                        tri(&rd, o, "check", "output_truncated", false) == YB_DRILL_YES;
        }
        o = obj(&rd, rec, "", "objectives", false);
        d.rto_target_seconds = num(&rd, o, "objectives", "rto_seconds", true, 0);
        d.rpo_target_seconds = num(&rd, o, "objectives", "rpo_seconds", true, 0);
        o = obj(&rd, rec, "", "achieved", false);
        d.rto_ms = num(&rd, o, "achieved", "rto_ms", true, 0);
        d.rpo_seconds = num(&rd, o, "achieved", "rpo_seconds", true, INT64_MIN);
        o = obj(&rd, rec, "", "met", false);
        d.rto_met = tri(&rd, o, "met", "rto", true);
        d.rpo_met = tri(&rd, o, "met", "rpo", true);
        read_result(&rd, rec, &d);
        o = json_object_get(rec, "signature");
        d.signature_key = json_string_value(json_object_get(o, "key"));
        if (rd.r < 0)
                return rd.r;
        yb_why(why, why_size, 0, "%s", "");
        *ret = d;
        return 0;
}

int yb_drill_check(const json_t *record, char *why, size_t why_size) {
        YbDrill d;

        return yb_drill_read(record, &d, why, why_size);
}

const char *yb_drill_format_ms(int64_t ms, char buf[32]) {
        if (ms < 0)
                snprintf(buf, 32, "unknown");
        else if (ms < 1000)
                snprintf(buf, 32, "%" PRId64 " ms", ms);
        else if (ms < 60000)
                snprintf(buf, 32, "%" PRId64 ".%" PRId64 " s", ms / 1000, ms % 1000 / 100);
        else
                return yb_drill_format_seconds(ms / 1000, buf);
        return buf;
}

const char *yb_drill_format_seconds(int64_t s, char buf[32]) {
        if (s < 0)
                snprintf(buf, 32, "unknown");
        else if (s < 60)
                snprintf(buf, 32, "%" PRId64 " s", s);
        else if (s < 3600)
                snprintf(buf, 32, s % 60 ? "%" PRId64 " min %" PRId64 " s" : "%" PRId64 " min",
                         s / 60, s % 60);
        else if (s < 86400 * 2)
                snprintf(buf, 32, s / 60 % 60 ? "%" PRId64 " h %" PRId64 " min" : "%" PRId64 " h",
                         s / 3600, s / 60 % 60);
        else
                snprintf(buf, 32, "%" PRId64 " d %" PRId64 " h", s / 86400, s / 3600 % 24);
        return buf;
}

const char *yb_drill_format_time(const char *iso, char buf[40]) {
        if (!iso)
                return "unknown";
        if (strlen(iso) < 19)
                return iso;
        snprintf(buf, 40, "%.10s %.8s UTC", iso, iso + 11);
        return buf;
}

const char *yb_drill_achieved_rto(const YbDrill *d, char buf[32]) {
        if (d->rto_ms >= 0)
                return yb_drill_format_ms(d->rto_ms, buf);
        return d->passed ? "unknown" : "not achieved (the drill failed)";
}

const char *yb_drill_achieved_rpo(const YbDrill *d, char buf[32]) {
        if (d->rpo_seconds >= 0)
                return yb_drill_format_seconds(d->rpo_seconds, buf);
        if (!d->has_point)
                return "unknown (no point)";
        return d->passed ? "unknown" : "not achieved (the drill failed)";
}

static const char *met_word(YbDrillTri t) {
        return t == YB_DRILL_YES ? "met" : t == YB_DRILL_NO ? "NOT met" : "not judged";
}

bool yb_drill_reached(const YbDrill *d, const char *phase) {
        for (size_t i = 0; i < d->n_phases; i++)
                if (streq(d->phases[i].name, phase))
                        return true;
        return d->passed;
}

bool yb_drill_phase_passed(const YbDrill *d, const char *phase) {
        for (size_t i = 0; i < d->n_phases; i++)
                if (streq(d->phases[i].name, phase))
                        return d->phases[i].ok;
        return false;
}

/* ", restore 6 min 42 s (50592 files, 1.0 GiB)", "verify 3 s (failed)". */
static int phase_words(YbBuf *b, size_t i, const YbDrillPhase *p) {
        char t[32], size[32];
        int r;

        r = yb_buf_printf(b, "%s %s %s", i ? "," : "", p->name, yb_drill_format_ms(p->ms, t));
        if (r >= 0 && p->files >= 0)
                r = yb_buf_printf(b, " (%" PRId64 " %s%s%s)", p->files,
                                  p->files == 1 ? "file" : "files", p->bytes >= 0 ? ", " : "",
                                  p->bytes >= 0 ? yb_format_bytes((uint64_t) p->bytes, size) : "");
        else if (r >= 0 && p->bytes >= 0)
                r = yb_buf_printf(b, " (%s)", yb_format_bytes((uint64_t) p->bytes, size));
        if (r >= 0 && !p->ok)
                r = yb_buf_printf(b, " (failed)");
        return r;
}

/* "PostgreSQL check hr-db (dump, database hr): 1234, at least 1000 wanted: passed." */
static int pg_line(YbBuf *b, const YbDrillPg *p) {
        char value[32] = "no value";

        if (p->has_value)
                snprintf(value, sizeof(value), "%" PRId64, p->value);
        return yb_buf_printf(b,
                             "PostgreSQL check %s (%s, database %s): %s, at least %" PRId64
                             " wanted: %s%s%s.\n",
                             p->name, p->mode, p->database, value, p->min,
                             p->ok ? "passed" : "FAILED", p->error ? ": " : "", p->error ?: "");
}

/* What the check command did, or that there was none (the page has its output). */
static int check_line(YbBuf *b, const YbDrill *d) {
        if (d->has_check && d->check_exited)
                return yb_buf_printf(b, "Check command %s: exited %" PRId64 "%s.\n",
                                     d->check_command ?: "(not given)", d->check_exit_code,
                                     d->check_exit_code == 0 ? " (success)" : " (failure)");
        if (d->has_check)
                return yb_buf_printf(b,
                                     "Check command %s: no exit code (it did not exit by "
                                     "itself: killed, or never run).\n",
                                     d->check_command ?: "(not given)");
        if (yb_drill_reached(d, "check"))
                return yb_buf_printf(b, "No check command ran: the policy has none.\n");
        return yb_buf_printf(b, "No check command ran: the drill stopped at phase %s.\n",
                             d->failed_phase);
}

/* "RTO achieved: 10 min 24 s against the target 2 h: met." or "RTO not achieved (the drill
 * failed); the target 2 h: not judged." */
static int objective_line(YbBuf *b, const char *name, bool achieved, const char *figure,
                          int64_t target_seconds, YbDrillTri met) {
        char t[32], target[48] = "no target set";

        if (target_seconds >= 0)
                snprintf(target, sizeof(target), "the target %s",
                         yb_drill_format_seconds(target_seconds, t));
        return yb_buf_printf(b, "%s %s%s%s%s: %s.\n", name, achieved ? "achieved: " : "", figure,
                             achieved ? " against " : "; ", target, met_word(met));
}

int yb_drill_summary(const json_t *record, char **ret) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        char t1[40], t2[40];
        YbDrill d;
        int r;

        r = yb_drill_read(record, &d, NULL, 0);
        if (r < 0)
                return r;
        r = yb_buf_printf(&b, "Drill %" PRId64 " of %s (%s)%s%s: %s", d.id, d.system_id,
                          d.system_name, d.department ? ", " : "", d.department ?: "",
                          d.passed ? "PASSED" : "FAILED");
        if (r >= 0 && !d.passed)
                r = yb_buf_printf(&b, " at phase %s: %s", d.failed_phase, d.error);
        if (r >= 0)
                r = yb_buf_printf(&b,
                                  ".\nScenario \"%s\", tier %" PRId64
                                  " from store %s, run by %s on %s, started %s.\n",
                                  d.scenario, d.tier, d.store_name, d.run_by,
                                  d.host ?: "an unnamed host", yb_drill_format_time(d.started, t1));
        if (r >= 0 && d.has_point)
                r = yb_buf_printf(
                        &b, "Point %s: %s (%s%s) of %s%s%s%s.\n",
                        yb_drill_phase_passed(&d, "restore")
                                ? "restored"
                                : "found, not restored (the drill failed first)",
                        d.point_id, d.point_level ?: "level unknown",
                        d.point_partial ? ", partial" : "", yb_drill_format_time(d.point_time, t1),
                        d.point_requested_at ? " (asked for: at or before " : "",
                        d.point_requested_at ? yb_drill_format_time(d.point_requested_at, t2) : "",
                        d.point_requested_at ? ")" : "");
        else if (r >= 0)
                r = yb_buf_printf(&b, "No point was found to restore.\n");
        if (r >= 0)
                r = objective_line(&b, "RTO", d.rto_ms >= 0, yb_drill_achieved_rto(&d, t1),
                                   d.rto_target_seconds, d.rto_met);
        if (r >= 0)
                r = objective_line(&b, "RPO", d.rpo_seconds >= 0, yb_drill_achieved_rpo(&d, t1),
                                   d.rpo_target_seconds, d.rpo_met);
        if (r >= 0)
                r = yb_buf_printf(&b, "Phases:");
        for (size_t i = 0; r >= 0 && i < d.n_phases; i++)
                r = phase_words(&b, i, &d.phases[i]);
        if (r >= 0)
                r = yb_buf_printf(&b, "%s\n", d.n_phases ? "." : " none ran.");
        for (size_t i = 0; r >= 0 && i < d.n_pg; i++)
                r = pg_line(&b, &d.pg[i]);
        if (r >= 0)
                r = check_line(&b, &d);
        if (r >= 0)
                r = yb_buf_append_u8(&b, 0);
        if (r < 0)
                return r;
        *ret = (char *) yb_buf_steal(&b, NULL);
        return 0;
}
