/* orchestrator/api-drills.c: the drill routes (api-drills.h; docs/api.md, "Drills"). A drill is
 * begun by someone who may act on the system, and its result is taken once, from that same
 * person; drill-record.c checks, judges and signs it. Every begin and result is audited,
 * refusals too ("drill.begin", "drill.result"). Reading follows the systems': a department its
 * own systems' drills, operators and auditors all. A drill outlives its system's policy: its
 * department is then the one the catalog last knew. */
#include "orchestrator/api-drills.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/timeutil.h"
#include "core/evidence/jsonwrite.h"
#include "core/store/store-options.h"
#include "orchestrator/drill-due.h"
#include "orchestrator/drill-record.h"
#include "orchestrator/drill-terms.h"

#define SCENARIO_MAX_CHARS 100
#define SCENARIO_DEFAULT "restore drill"

static int dept_row(void *ud, sqlite3_stmt *row) {
        const char *t = (const char *) sqlite3_column_text(row, 0);

        snprintf(ud, 256, "%s", t ? t : "");
        return 0;
}

/* The department of system: its policy's, or (a policy no longer loaded) the catalog's. */
static const char *department_of(Call *c, const char *system, char buf[256]) {
        YbSystem *s = yb_daemon_system(c->d, system);

        if (s)
                return s->policy->department;
        buf[0] = 0;
        (void) yb_catalog_query(c->d->catalog, "SELECT department FROM systems WHERE id = ?1",
                                dept_row, buf, "t", system);
        return buf[0] ? buf : NULL;
}

/* The tiers system s's policy has, "1, 2 and 3" or "1 and 3", into buf. */
static const char *tiers_text(const YbPolicy *p, char buf[32]) {
        snprintf(buf, 32, "1%s%s%s", p->tier2_store && !p->tier3_store ? " and 2" : "",
                 p->tier2_store && p->tier3_store ? ", 2" : "", p->tier3_store ? " and 3" : "");
        return buf;
}

/* The begin's scenario: text of at most SCENARIO_MAX_CHARS characters, no control characters.
 * NULL and why when it is not. */
static const char *scenario_of(json_t *v, char *why, size_t why_size) {
        const char *s;
        size_t chars = 0;

        if (!v || json_is_null(v))
                return SCENARIO_DEFAULT;
        if (!json_is_string(v) || json_string_length(v) == 0) {
                snprintf(why, why_size, "scenario must be a text (or null: \"%s\")",
                         SCENARIO_DEFAULT);
                return NULL;
        }
        s = json_string_value(v);
        if (yb_json_string_check(s, json_string_length(v), why, why_size) < 0 ||
            strpbrk(s, "\n\t")) {
                snprintf(why, why_size, "scenario must be one line of plain text");
                return NULL;
        }
        for (const unsigned char *u = (const unsigned char *) s; *u; u++)
                chars += (*u & 0xc0) != 0x80;
        if (chars > SCENARIO_MAX_CHARS) {
                snprintf(why, why_size, "scenario has %zu characters; at most %d", chars,
                         SCENARIO_MAX_CHARS);
                return NULL;
        }
        return s;
}

/* When recent drills began on the monotonic clock, by id (a drill's slot is its id modulo the
 * size; under the daemon's lock). What yunbakd observed between a begin and its result is the
 * longer of its clock's difference and the real time that passed: under the held test clock
 * (YUNBAKD_TEST_HOLD) the first stands still, and a wall clock set back shortens it. A drill
 * begun before yunbakd started has its clock's difference only. */
#define BEGUN_SLOTS 256
static struct { int64_t id, monotonic_usec; } begun[BEGUN_SLOTS];

static void begun_note(int64_t id) {
        begun[id % BEGUN_SLOTS].id = id;
        begun[id % BEGUN_SLOTS].monotonic_usec = yb_monotonic_usec();
}

static int64_t observed_ms(const YbDrill *dr, int64_t now) {
        int64_t ms = MAX(now - dr->started_usec, 0) / YB_USEC_PER_MSEC;

        if (begun[dr->id % BEGUN_SLOTS].id == dr->id)
                ms = MAX(ms, (yb_monotonic_usec() - begun[dr->id % BEGUN_SLOTS].monotonic_usec) /
                                     YB_USEC_PER_MSEC);
        return ms;
}

void orch_api_post_drill(Call *c) {
        static const char *const action = "drill.begin";
        _cleanup_(json_decrefp) json_t *body = NULL, *terms = NULL;
        _cleanup_free_ char *terms_text = NULL;
        json_t *tier_v, *at_v, *host_v, *answer;
        const char *system, *scenario, *store_name, *host = NULL;
        const YbConfigStore *store;
        char why[300], tiers[32], detail[400], started[32];
        YbDrill dr = {};
        int64_t id = 0, tier = 1, now;
        YbSystem *s;
        int r;

        body = orch_api_body_object(c);
        if (!body) {
                yb_daemon_audit(c->d, c->who, action, "-", "refused",
                                "the body is not a JSON object");
                return;
        }
        system = json_string_value(json_object_get(body, "system"));
        if (!system) {
                orch_api_refuse(c, action, NULL, 400,
                                "system must be the id of the system to drill");
                return;
        }
        s = yb_daemon_system(c->d, system);
        if (!s || !yb_access_sees(c->who, s->policy->department)) {
                orch_api_refuse(c, action, system, 404, "no system '%s'", system);
                return;
        }
        if (!yb_access_allowed(c->who, YB_ACCESS_ACT_SYSTEM, s->policy->department)) {
                orch_api_refuse(c, action, system, 403,
                                "%s '%s' may not begin a drill of system '%s': its department's "
                                "people (%s) "
                                "do",
                                yb_role_to_string(c->who->role), c->who->name, system,
                                s->policy->department);
                return;
        }
        if (yb_system_stopped(s)) {
                yb_system_stopped_why(s, why, sizeof(why));
                orch_api_refuse(c, action, system, 409, "%s: there is nothing left to drill", why);
                return;
        }
        tier_v = json_object_get(body, "tier");
        if (tier_v && !json_is_null(tier_v) &&
            (!json_is_integer(tier_v) || json_integer_value(tier_v) < 1 ||
             json_integer_value(tier_v) > 3)) {
                orch_api_refuse(c, action, system, 400, "tier must be 1, 2 or 3");
                return;
        }
        if (json_is_integer(tier_v))
                tier = json_integer_value(tier_v);
        store_name = tier == 1   ? s->policy->tier1_store
                     : tier == 2 ? s->policy->tier2_store
                                 : s->policy->tier3_store;
        if (!store_name) {
                orch_api_refuse(c, action, system, 409,
                                "the policy of system '%s' (%s) has no tier %" PRId64
                                "; it has tier %s: drill one of those",
                                system, s->policy->file, tier, tiers_text(s->policy, tiers));
                return;
        }
        scenario = scenario_of(json_object_get(body, "scenario"), why, sizeof(why));
        if (!scenario) {
                orch_api_refuse(c, action, system, 400, "%s", why);
                return;
        }
        at_v = json_object_get(body, "at_usec");
        if (at_v && !json_is_null(at_v) &&
            (!json_is_integer(at_v) || json_integer_value(at_v) <= 0)) {
                orch_api_refuse(c, action, system, 400,
                                "at_usec must be the point's time (usec since the epoch) or null");
                return;
        }
        host_v = json_object_get(body, "host");
        if (host_v && !json_is_null(host_v)) {
                host = json_string_value(host_v);
                if (!host || json_string_length(host_v) > 255 ||
                    yb_json_string_check(host, json_string_length(host_v), NULL, 0) < 0 ||
                    strpbrk(host, "\n\t")) {
                        orch_api_refuse(
                                c, action, system, 400,
                                "host must be the name of the host the drill runs on (one line, "
                                "at most 255 bytes) or null");
                        return;
                }
        }
        store = yb_daemon_config_store(c->d->config, store_name);
        now = yb_daemon_now(c->d);
        terms = orch_drill_terms_json(s->policy);
        if (terms) /* the point asked for: the record's requested_at, whatever the run says */
                json_object_set_new(terms, "at_usec",
                                    json_is_integer(at_v) ? json_integer(json_integer_value(at_v))
                                                          : json_null());
        terms_text = terms ? json_dumps(terms, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!terms_text) {
                orch_api_refuse(c, action, system, 500, "out of memory");
                return;
        }
        dr = (YbDrill){ .system = (char *) system,
                        .tier = (int) tier,
                        .store = (char *) store_name,
                        .scenario = (char *) scenario,
                        .run_by = (char *) c->who->name,
                        .host = (char *) host,
                        .started_usec = now,
                        .state = (char *) YB_DRILL_RUNNING,
                        .terms = terms_text };
        r = yb_drills_begin(c->d->catalog, &dr, &id);
        if (r < 0) {
                orch_api_refuse(c, action, system, 500,
                                "cannot record the drill of system '%s' in the catalog: %s; see "
                                "docs/operations.md, \"The catalog\"",
                                system, strerror(-r));
                return;
        }
        dr.id = id;
        begun_note(id);
        orch_drill_due_note(s, &dr);
        snprintf(detail, sizeof(detail), "drill %" PRId64 ": tier %" PRId64 ", store %s, %s", id,
                 tier, store_name, scenario);
        yb_daemon_audit(c->d, c->who, action, system, "ok", detail);
        orch_drill_date(now, started);
        answer = json_pack("{s:I, s:I, s:s, s:{s:s, s:s, s:s, s:s}, s:I, s:{s:s, s:s}}", "id",
                           (json_int_t) id, "started_usec", (json_int_t) now, "started", started,
                           "system", "id", system, "name", s->policy->name, "department",
                           s->policy->department, "grade", yb_grade_to_string(s->policy->grade),
                           "tier", (json_int_t) tier, "store", "name", store_name, "location",
                           store ? store->url : store_name);
        /* An S3 store: where it is, for the drill to open it with the person's own credentials
         * (never the daemon's file). */
        if (answer && store && store->kind == YB_CONFIG_STORE_S3)
                json_object_set_new(json_object_get(answer, "store"), "s3",
                                    json_pack("{s:s, s:s, s:s?, s:s?}", "endpoint",
                                              store->s3.endpoint, "style",
                                              yb_s3_style_to_string(store->s3.style), "region",
                                              store->s3.region, "ca_file", store->s3.ca_file));
        if (answer)
                json_object_update(answer, terms);
        orch_api_reply(c, 201, answer);
}

/* Drill id_text, if the caller may read its system; otherwise answers 404 (as for none: ids are
 * sequential), audited under action, and false. */
static bool drill_for(Call *c, const char *action, const char *id_text, YbDrill *ret) {
        char dept[256];
        int64_t id;
        int r;

        if (!orch_api_parse_int(id_text, 1, INT64_MAX, &id)) {
                orch_api_refuse(c, action, id_text, 400,
                                "'%s' is not a drill id (a positive integer)", id_text);
                return false;
        }
        r = yb_drills_get(c->d->catalog, id, ret);
        if (r == -ENOENT) {
                /* A read of nothing is no action; a result for no drill is one refused. */
                if (streq(action, "drill.read"))
                        yb_http_error(c->resp, 404, "there is no drill %" PRId64, id);
                else
                        orch_api_refuse(c, action, id_text, 404, "there is no drill %" PRId64, id);
                return false;
        }
        if (r < 0) {
                orch_api_refuse(c, action, id_text, 500,
                                "cannot read drill %" PRId64 " from the catalog: %s", id,
                                strerror(-r));
                return false;
        }
        if (!yb_access_allowed(c->who, YB_ACCESS_READ_SYSTEM,
                               department_of(c, ret->system, dept))) {
                orch_api_refuse(c, action, ret->system, 404, "there is no drill %" PRId64, id);
                yb_drill_done(ret);
                return false;
        }
        return true;
}

/* The timeout of the check of a drill of system (its policy's, or the default). */
static int64_t check_timeout(Call *c, const char *system) {
        YbSystem *s = yb_daemon_system(c->d, system);

        return s ? orch_drill_check_timeout_usec(s->policy) : YB_USEC_PER_HOUR;
}

void orch_api_post_drill_result(Call *c, const char *id_text) {
        static const char *const action = "drill.result";
        _cleanup_(yb_drill_done) YbDrill dr = {}, done = {};
        _cleanup_(json_decrefp) json_t *body = NULL;
        char when[32], why[800], detail[400];
        int64_t now = yb_daemon_now(c->d);
        int status, r;
        YbSystem *s;

        if (!drill_for(c, action, id_text, &dr))
                return;
        s = yb_daemon_system(c->d, dr.system);
        if (!streq(dr.run_by, c->who->name)) {
                orch_api_refuse(c, action, dr.system, 403,
                                "drill %" PRId64
                                " of system '%s' was begun by %s: only they report its "
                                "result, not %s",
                                dr.id, dr.system, dr.run_by, c->who->name);
                return;
        }
        if (!streq(dr.state, YB_DRILL_RUNNING)) {
                orch_drill_date(dr.reported_usec, when);
                orch_api_refuse(c, action, dr.system, 409,
                                "drill %" PRId64
                                " of system '%s' was already reported (%s, at %s): a "
                                "drill is reported once; begin a new one to drill again",
                                dr.id, dr.system, dr.state, when);
                return;
        }
        if (yb_drill_abandoned(dr.started_usec, check_timeout(c, dr.system), now)) {
                orch_drill_date(dr.started_usec, when);
                orch_api_refuse(c, action, dr.system, 409,
                                "drill %" PRId64
                                " of system '%s' began at %s and was abandoned (no result "
                                "within 24 h and its check's timeout): begin a new one",
                                dr.id, dr.system, when);
                return;
        }
        if (!s) {
                orch_api_refuse(c, action, dr.system, 409,
                                "the policy of system '%s' is no longer loaded: drill %" PRId64
                                " cannot be judged against it",
                                dr.system, dr.id);
                return;
        }
        body = orch_api_body_object(c);
        if (!body) {
                yb_daemon_audit(c->d, c->who, action, dr.system, "refused",
                                "the body is not a JSON object");
                return;
        }
        r = orch_drill_record(c->d, s, &dr, body, now, observed_ms(&dr, now), &done, &status, why,
                              sizeof(why));
        if (r < 0) {
                orch_api_refuse(c, action, dr.system, status, "%s", why);
                return;
        }
        r = yb_drills_finish(c->d->catalog, &done);
        if (r < 0) {
                orch_api_refuse(c, action, dr.system, r == -EALREADY ? 409 : 500,
                                r == -EALREADY ? "drill %" PRId64 " of system '%s' was reported "
                                                 "meanwhile: a drill is reported once"
                                               : "cannot keep the record of drill %" PRId64
                                                 " of system '%s' in the catalog: %s; see "
                                                 "docs/operations.md, \"The catalog\"",
                                dr.id, dr.system, strerror(-r));
                return;
        }
        orch_drill_due_note(s, &done);
        snprintf(detail, sizeof(detail), "drill %" PRId64 ": %s%s%s", dr.id, done.state,
                 done.failed_phase ? " at " : "", done.failed_phase ? done.failed_phase : "");
        yb_daemon_audit(c->d, c->who, action, dr.system,
                        streq(done.state, YB_DRILL_PASSED) ? "ok" : "failed", detail);
        c->resp->status = 200;
        c->resp->content_type = "application/json";
        c->resp->body = TAKE_PTR(done.body);
}

static json_t *int_or_null(int64_t v) {
        return v >= 0 ? json_integer(v) : json_null();
}

static json_t *met_or_null(int v) {
        return v >= 0 ? json_boolean(v) : json_null();
}

void orch_api_get_drills(Call *c) {
        const char *system = yb_http_query(c->req, "system");
        int64_t now = yb_daemon_now(c->d);
        YbDrill *v = NULL;
        json_t *list;
        size_t n = 0;
        char dept[256];
        int r;

        if (!yb_access_allowed(c->who, YB_ACCESS_READ_ALL, NULL)) {
                orch_api_deny(c, 403, "you may not read drills");
                return;
        }
        r = yb_drills_list(c->d->catalog, system, &v, &n);
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read the drills from the catalog: %s",
                              strerror(-r));
                return;
        }
        list = json_array();
        for (size_t i = 0; i < n; i++) {
                if (!yb_access_sees(c->who, department_of(c, v[i].system, dept)))
                        continue;
                json_array_append_new(
                        list,
                        json_pack("{s:I, s:s, s:i, s:s, s:s, s:s, s:o, s:I, s:s, s:o, s:o, s:o, "
                                  "s:o, s:o, s:o}",
                                  "id", (json_int_t) v[i].id, "system", v[i].system, "tier",
                                  v[i].tier, "store", v[i].store, "scenario", v[i].scenario,
                                  "run_by", v[i].run_by, "started",
                                  orch_drill_date_json(v[i].started_usec), "started_usec",
                                  (json_int_t) v[i].started_usec, "state",
                                  yb_drill_shown_state(&v[i], check_timeout(c, v[i].system), now),
                                  "failed_phase", orch_api_text_or_null(v[i].failed_phase), "point",
                                  orch_api_text_or_null(v[i].point), "rto_ms",
                                  int_or_null(v[i].rto_ms), "rpo_seconds",
                                  int_or_null(v[i].rpo_seconds), "rto_met",
                                  met_or_null(v[i].rto_met), "rpo_met", met_or_null(v[i].rpo_met)));
        }
        yb_drills_free(v, n);
        orch_api_reply(c, 200, json_pack("{s:o}", "drills", list));
}

void orch_api_get_drill(Call *c, const char *id_text) {
        _cleanup_(yb_drill_done) YbDrill dr = {};

        if (!drill_for(c, "drill.read", id_text, &dr))
                return;
        if (dr.body) {
                c->resp->status = 200;
                c->resp->content_type = "application/json";
                c->resp->body = TAKE_PTR(dr.body);
                return;
        }
        orch_api_reply(c, 200,
                       json_pack("{s:I, s:s, s:s, s:i, s:s, s:s, s:s, s:o, s:o, s:I}", "id",
                                 (json_int_t) dr.id, "state",
                                 yb_drill_shown_state(&dr, check_timeout(c, dr.system),
                                                      yb_daemon_now(c->d)),
                                 "system", dr.system, "tier", dr.tier, "store", dr.store,
                                 "scenario", dr.scenario, "run_by", dr.run_by, "host",
                                 orch_api_text_or_null(dr.host), "started",
                                 orch_drill_date_json(dr.started_usec), "started_usec",
                                 (json_int_t) dr.started_usec));
}
