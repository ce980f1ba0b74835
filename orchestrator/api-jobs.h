/* orchestrator/api-jobs.h: the control API's jobs (docs/api.md, "Jobs", "backup"):
 * listing them, one job, cancelling one, and asking for a backup now. Implemented in api-jobs.c;
 * api.c routes to them. Each answers under the daemon's lock, as api.c holds it. */
#pragma once

#include "orchestrator/api-call.h"

/* GET /v1/jobs */
void orch_api_get_jobs(Call *c);
/* GET /v1/jobs/{id}: another department's job is answered as one that does not exist. */
void orch_api_get_job(Call *c, const char *id_s);
/* POST /v1/jobs/{id}/cancel */
void orch_api_post_cancel(Call *c, const char *id_s);
/* POST /v1/systems/{id}/backup */
void orch_api_post_backup(Call *c, const char *id);
