/* core/evidence/report-html.h: the monthly, quarterly or annual report (docs/reports.md) as a
 * self-contained page (core/evidence/html.h: inline CSS, no network, A4 when printed): per
 * department, SVG charts (core/evidence/svg.h) of the RPO met per system, tier 2's lag p99
 * against max_lag, the storage per tier with its growth, and the drills; then a table of every
 * number; the report's JSON embedded as it came. A figure the report gives as null is written as
 * its reason, never as 0. The page is a pure function of the report: the same report, the same
 * bytes. */
#pragma once

#include <jansson.h>

/* The page of report (yunbakd's GET /v1/reports answer; values of unexpected types are shown
 * as unknown) titled with period (the period as the reader named it: "2026-11", "2026-Q4";
 * NULL: the bounds). Returns 0 and the page in *ret (NUL-terminated; the caller frees it), or
 * -EINVAL with why (why_size bytes) when the report holds a value JSON text cannot carry alike
 * (core/evidence/jsonwrite.h), or -ENOMEM. */
int yb_report_html(const json_t *report, const char *period, char **ret, char *why,
                   size_t why_size);
