/* orchestrator/api-reports.c: GET /v1/reports (api-reports.h). */
#include "orchestrator/api-reports.h"

#include <inttypes.h>
#include <stdio.h>

#include "orchestrator/report.h"

void orch_api_get_reports(Call *c) {
        const char *from_text = yb_http_query(c->req, "from_usec");
        const char *to_text = yb_http_query(c->req, "to_usec");
        const char *department = yb_http_query(c->req, "department");
        char why[512], object[160], detail[160];
        int64_t from, to;
        json_t *doc;
        int r;

        if (!yb_access_allowed(c->who, YB_ACCESS_READ_ALL, NULL)) {
                orch_api_deny(c, 403, "you may not read reports");
                return;
        }
        if (!from_text || !to_text) {
                yb_http_error(c->resp, 400,
                              "a report needs its period: from_usec and to_usec (microseconds "
                              "since 1970, UTC; the period is [from_usec, to_usec))");
                return;
        }
        if (!orch_api_parse_int(from_text, 0, INT64_MAX, &from) ||
            !orch_api_parse_int(to_text, 0, INT64_MAX, &to) || from >= to) {
                yb_http_error(c->resp, 400,
                              "the period from_usec=%s to_usec=%s is not a period: both must be "
                              "microseconds since 1970 (UTC), from_usec before to_usec",
                              from_text, to_text);
                return;
        }
        if (department && !*department)
                department = NULL;
        if (c->who->role == YB_ROLE_DEPARTMENT) {
                if (department && !streq(department, c->who->department)) {
                        orch_api_deny(c, 403,
                                      "you may read only your own department's report (%s); "
                                      "department '%s' is not yours",
                                      c->who->department, department);
                        return;
                }
                department = c->who->department;
        }
        r = orch_report_json(c->d, c->who, department, from, to, &doc, why, sizeof(why));
        snprintf(object, sizeof(object), "%s", department ?: "all departments");
        snprintf(detail, sizeof(detail), "period [%" PRId64 ", %" PRId64 ")", from, to);
        yb_daemon_audit(c->d, c->who, "report.read", object, r < 0 ? "failed" : "ok", detail);
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot make the report: %s",
                              why[0] ? why : strerror(-r));
                return;
        }
        orch_api_reply(c, 200, doc);
}
