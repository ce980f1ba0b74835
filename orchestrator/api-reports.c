/* orchestrator/api-reports.c: GET /v1/reports (api-reports.h). */
#include "orchestrator/api-reports.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "orchestrator/report.h"

/* Whether some system of the policies loaded is of department. Under lock. */
static bool has_department(const YbDaemon *d, const char *department) {
        for (size_t i = 0; i < d->n_systems; i++)
                if (streq(d->systems[i].policy->department, department))
                        return true;
        return false;
}

/* The departments of the policies loaded, each once, as "A, B" (cut with "..." when too long
 * for buf). Under lock. */
static const char *departments_text(const YbDaemon *d, char *buf, size_t size) {
        size_t len = 0;

        buf[0] = 0;
        for (size_t i = 0; i < d->n_systems; i++) {
                const char *dep = d->systems[i].policy->department;
                bool seen = false;

                for (size_t k = 0; k < i && !seen; k++)
                        seen = streq(d->systems[k].policy->department, dep);
                if (seen)
                        continue;
                if (len + strlen(dep) + 6 >= size) {
                        snprintf(buf + len, size - len, "%s...", len ? ", " : "");
                        break;
                }
                len += (size_t) snprintf(buf + len, size - len, "%s%s", len ? ", " : "", dep);
        }
        return buf[0] ? buf : "none: no policy is loaded";
}

/* Called under lock; returns under lock. The catalog is read on a read-only connection of its
 * own without the daemon's lock (a year of many systems takes seconds, which the scheduler, the
 * jobs and the replicators must not wait for); on the daemon's own connection, under the lock,
 * only when that cannot be opened. */
static int make(YbDaemon *d, const OrchReport *rep, json_t **ret, char *why, size_t why_size) {
        _cleanup_(yb_catalog_closep) YbCatalog *own = NULL;
        _cleanup_free_ char *path = strdup(d->config->catalog);
        int r;

        if (!path)
                return -ENOMEM;
        pthread_mutex_unlock(&d->lock);
        r = yb_catalog_open_readonly(path, &own);
        if (r >= 0)
                r = orch_report_json(rep, own, ret, why, why_size);
        pthread_mutex_lock(&d->lock);
        if (!own)
                r = orch_report_json(rep, d->catalog, ret, why, why_size);
        return r;
}

void orch_api_get_reports(Call *c) {
        const char *from_text = yb_http_query(c->req, "from_usec");
        const char *to_text = yb_http_query(c->req, "to_usec");
        const char *department = yb_http_query(c->req, "department");
        _cleanup_(orch_report_freep) OrchReport *rep = NULL;
        char why[512], object[160], detail[160];
        int64_t from, to;
        json_t *doc = NULL;
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
        } else if (department && !has_department(c->d, department)) {
                /* Not an empty report, which would read as a department with nothing to say. */
                yb_daemon_audit(c->d, c->who, "report.read", department, "failed",
                                "no system of the policies belongs to this department");
                /* 400: a value of the command line, which names the departments there are. */
                yb_http_error(c->resp, 400,
                              "no department '%s' (departments: %s): no system of yunbakd's "
                              "policies belongs to it; write the name exactly as the policies' "
                              "system.department writes it",
                              department, departments_text(c->d, why, sizeof(why)));
                return;
        }
        snprintf(object, sizeof(object), "%s", department ?: "all departments");
        snprintf(detail, sizeof(detail), "period [%" PRId64 ", %" PRId64 ")", from, to);
        why[0] = 0;
        r = orch_report_prepare(c->d, c->who, department, from, to, &rep);
        if (r >= 0)
                r = make(c->d, rep, &doc, why, sizeof(why));
        yb_daemon_audit(c->d, c->who, "report.read", object, r < 0 ? "failed" : "ok", detail);
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot make the report: %s",
                              why[0] ? why : strerror(-r));
                return;
        }
        orch_api_reply(c, 200, doc);
}
