/* orchestrator/report.h: the monthly, quarterly and annual report (docs/reports.md): per
 * department and system, the numbers of a period [from, to) from the catalog
 * (catalog/report-queries.h) beside the policies in force (objectives, which store is which tier,
 * max_lag, drill.every). Implemented in report.c; the API (api-reports.c) serves it. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "orchestrator/daemon.h"

/* What the report of a period needs of the policies in force, for the systems one person may
 * see: copied under the daemon's lock, so that the catalog is read without it. */
typedef struct OrchReport OrchReport;

/* Under lock: the systems who may see (orchestrator/access.h), of department only when it is
 * not NULL, with what their part of the report needs, for [from, to) (usec, from < to) as of
 * yunbakd's clock now. 0 and *ret (free it with orch_report_free), or -ENOMEM. */
int orch_report_prepare(YbDaemon *d, const YbPerson *who, const char *department, int64_t from,
                        int64_t to, OrchReport **ret);
/* Frees r; returns NULL. */
OrchReport *orch_report_free(OrchReport *r);
DEFINE_FREEP(OrchReport, orch_report_free);

/* The report as docs/reports.md's JSON, read from catalog c in one read transaction. Needs no
 * lock when c is a connection of the caller's own; the daemon's connection needs the daemon's
 * lock. Returns 0 and *ret (the caller owns it), or -errno from the catalog with what failed in
 * why (why_size bytes). */
int orch_report_json(const OrchReport *r, YbCatalog *c, json_t **ret, char *why, size_t why_size);
