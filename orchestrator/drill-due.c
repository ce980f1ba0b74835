/* orchestrator/drill-due.c: overdue drills (drill-due.h). The figures live in each system's
 * status, read from the catalog at each status load and kept up to date by the drill routes, so
 * that status and the metrics judge without reading the catalog. */
#include "orchestrator/drill-due.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "catalog/decommissions.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

void yb_drill_due_judge(int64_t every_usec, int64_t last_passed_usec, int64_t policy_since_usec,
                        bool decommissioned, int64_t now, int64_t *ret_due, bool *ret_overdue) {
        int64_t from = last_passed_usec > 0 ? last_passed_usec : policy_since_usec;

        *ret_due = 0;
        *ret_overdue = false;
        if (decommissioned || from <= 0 || every_usec <= 0)
                return;
        *ret_due = from > INT64_MAX - every_usec ? INT64_MAX : from + every_usec;
        *ret_overdue = now > *ret_due;
}

bool yb_drill_abandoned(int64_t started_usec, int64_t check_timeout_usec, int64_t now) {
        return now - started_usec > YB_DRILL_ABANDON_USEC + check_timeout_usec;
}

const char *yb_drill_shown_state(const YbDrill *dr, int64_t check_timeout_usec, int64_t now) {
        if (dr->state && streq(dr->state, YB_DRILL_RUNNING) &&
            yb_drill_abandoned(dr->started_usec, check_timeout_usec, now))
                return "abandoned";
        return dr->state;
}

int64_t orch_drill_check_timeout_usec(const YbPolicy *p) {
        return p->drill_timeout_usec > 0 ? p->drill_timeout_usec : YB_USEC_PER_HOUR;
}

void orch_drill_due(const YbSystem *s, int64_t now, YbDrillDue *ret) {
        const YbSystemStatus *st = &s->status;
        YbDrillDue r = {
                .every_usec = s->policy->drill_every_usec,
                .last_passed_usec = st->drill_last_passed_usec,
                .last_passed_tier = st->drill_last_passed_tier,
                .last_drill_usec = st->drill_last_usec,
                .last_result = st->drill_last_state[0] ? st->drill_last_state : NULL,
                .decommissioned = yb_decommission_state_stops(st->decommission_state),
        };

        if (r.last_result && streq(r.last_result, YB_DRILL_RUNNING) &&
            yb_drill_abandoned(r.last_drill_usec, orch_drill_check_timeout_usec(s->policy), now))
                r.last_result = "abandoned";
        yb_drill_due_judge(r.every_usec, r.last_passed_usec, st->drill_policy_since_usec,
                           r.decommissioned, now, &r.due_usec, &r.overdue);
        *ret = r;
}

void orch_drill_due_refresh(YbSystem *s, int64_t now) {
        YbDrillDue due;

        orch_drill_due(s, now, &due);
        s->status.drill_overdue = due.overdue;
        s->status.drill_abandoned = due.last_result && streq(due.last_result, "abandoned");
}

void orch_drill_date(int64_t usec, char ret[32]) {
        yb_time_format_iso(yb_usec_to_ns(usec), ret);
        if (strlen(ret) > 19) { /* to the second */
                ret[19] = 'Z';
                ret[20] = 0;
        }
}

json_t *orch_drill_date_json(int64_t usec) {
        char d[32];

        if (usec <= 0 || usec == INT64_MAX)
                return json_null();
        orch_drill_date(usec, d);
        return json_string(d);
}

static json_t *usec_or_null(int64_t usec) {
        return usec > 0 && usec != INT64_MAX ? json_integer(usec) : json_null();
}

json_t *orch_drill_due_json(const YbSystem *s, int64_t now) {
        YbDrillDue due;

        orch_drill_due(s, now, &due);
        return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b}", "every_seconds",
                         (json_int_t) (due.every_usec / YB_USEC_PER_SEC), "last_passed_usec",
                         usec_or_null(due.last_passed_usec), "last_passed",
                         orch_drill_date_json(due.last_passed_usec), "last_passed_tier",
                         due.last_passed_usec > 0 ? json_integer(due.last_passed_tier)
                                                  : json_null(),
                         "last_drill_usec", usec_or_null(due.last_drill_usec), "last_result",
                         due.last_result ? json_string(due.last_result) : json_null(), "due_usec",
                         usec_or_null(due.due_usec), "due", orch_drill_date_json(due.due_usec),
                         "overdue", due.overdue, "decommissioned", due.decommissioned);
}

void orch_drill_due_metrics(const YbSystem *systems, size_t n, int64_t now, YbBuf *b) {
        YbDrillDue due;

        yb_buf_printf(b, "# HELP yunbak_drill_last_success_timestamp_seconds The start of the "
                         "system's last passing restore drill; 0 when it never passed one (not "
                         "a time).\n"
                         "# TYPE yunbak_drill_last_success_timestamp_seconds gauge\n");
        for (size_t i = 0; i < n; i++)
                yb_buf_printf(
                        b, "yunbak_drill_last_success_timestamp_seconds{system=\"%s\"} %lld\n",
                        systems[i].policy->id,
                        (long long) (systems[i].status.drill_last_passed_usec / YB_USEC_PER_SEC));
        yb_buf_printf(b, "# HELP yunbak_drill_overdue 1 when the system's last passing drill "
                         "started more than drill.every ago (never drilled: drill.every since its "
                         "policy was first loaded), else 0; 0 for a decommissioned system.\n"
                         "# TYPE yunbak_drill_overdue gauge\n");
        for (size_t i = 0; i < n; i++) {
                orch_drill_due(&systems[i], now, &due);
                yb_buf_printf(b, "yunbak_drill_overdue{system=\"%s\"} %d\n", systems[i].policy->id,
                              due.overdue);
        }
}

void orch_drill_due_note(YbSystem *s, const YbDrill *dr) {
        YbSystemStatus *st = &s->status;

        if (dr->started_usec >= st->drill_last_usec) {
                st->drill_last_usec = dr->started_usec;
                snprintf(st->drill_last_state, sizeof(st->drill_last_state), "%s", dr->state);
        }
        if (streq(dr->state, YB_DRILL_PASSED) && dr->started_usec >= st->drill_last_passed_usec) {
                st->drill_last_passed_usec = dr->started_usec;
                st->drill_last_passed_tier = dr->tier;
        }
}

static int since_row(void *ud, sqlite3_stmt *row) {
        *(int64_t *) ud = sqlite3_column_int64(row, 0);
        return 0;
}

int orch_drill_due_load(YbCatalog *c, YbSystem *systems, size_t n) {
        for (size_t i = 0; i < n; i++) {
                YbSystemStatus *st = &systems[i].status;
                const char *id = systems[i].policy->id;
                YbDrill dr = {};
                int r;

                st->drill_last_passed_usec = st->drill_last_usec = 0;
                st->drill_last_passed_tier = 0;
                st->drill_last_state[0] = 0;
                r = yb_catalog_query(
                        c, "SELECT min(loaded_usec) FROM policy_versions WHERE system = ?1",
                        since_row, &st->drill_policy_since_usec, "t", id);
                if (r >= 0 && (r = yb_drills_last(c, id, &dr)) >= 0) {
                        orch_drill_due_note(&systems[i], &dr);
                        yb_drill_done(&dr);
                        r = yb_drills_last_passed(c, id, &dr);
                        if (r >= 0) {
                                orch_drill_due_note(&systems[i], &dr);
                                yb_drill_done(&dr);
                        }
                }
                if (r < 0 && r != -ENOENT)
                        return log_error_errno(
                                r, "Cannot read the drills of system '%s' from the catalog: %m",
                                id);
        }
        return 0;
}
