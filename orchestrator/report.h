/* orchestrator/report.h: the monthly, quarterly and annual report (docs/reports.md): per
 * department and system, the numbers of a period [from, to) from the catalog (catalog/report.h)
 * beside the policies in force (objectives, which store is which tier, max_lag, drill.every).
 * Implemented in report.c; the API (api-reports.c) serves it. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "orchestrator/daemon.h"

/* The report of [from, to) (usec, from < to) as docs/reports.md's JSON, for the systems who may
 * see (orchestrator/access.h), of department only when it is not NULL. Under lock. Returns 0 and
 * *ret (the caller owns it), or -errno from the catalog with what failed in why (why_size
 * bytes). */
int orch_report_json(YbDaemon *d, const YbPerson *who, const char *department, int64_t from,
                     int64_t to, json_t **ret, char *why, size_t why_size);
