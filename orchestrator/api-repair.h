/* orchestrator/api-repair.h: the control API's repairs (docs/api.md, "Repairs"): an operator asks
 * yunbakd to replace the files of a snapshot that fail key-less verify in one store with their
 * twins from another (orchestrator/repairs.h runs it), and follows it to its end. Implemented in
 * api-repair.c; api.c routes to them under the daemon's lock. */
#pragma once

#include "orchestrator/api-call.h"

/* POST /v1/repairs */
void orch_api_post_repair(Call *c);
/* GET /v1/repairs/{id} */
void orch_api_get_repair(Call *c, const char *id_s);
