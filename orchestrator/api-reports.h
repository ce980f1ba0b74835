/* orchestrator/api-reports.h: the control API's report (docs/api.md, "Reports"; the numbers are
 * docs/reports.md's). Implemented in api-reports.c; api.c routes to it under the daemon's lock,
 * which it lets go while it reads the catalog (on a connection of its own).
 * A department person reads their own department's report; operators and auditors read all,
 * or one department. Every read is audited ("report.read"), and so is every refusal. */
#pragma once

#include "orchestrator/api-call.h"

/* GET /v1/reports?from_usec=A&to_usec=B[&department=D]: the report of [A, B). */
void orch_api_get_reports(Call *c);
