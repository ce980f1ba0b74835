/* orchestrator/api-drills.h: the drill routes of the control API (docs/api.md, "Drills"):
 * POST /v1/drills (begin), POST /v1/drills/{id}/result (report once), GET /v1/drills[?system=ID]
 * and GET /v1/drills/{id}. Called by api.c's router under the daemon's lock. */
#pragma once

#include "orchestrator/api-call.h"

/* Begins a drill: the caller may act on the system; 201 with what the drill needs. */
void orch_api_post_drill(Call *c);
/* Takes drill id_text's result from the person who began it, once; 200 with the signed
 * record. */
void orch_api_post_drill_result(Call *c, const char *id_text);
/* Lists the drills the caller may read, newest first. */
void orch_api_get_drills(Call *c);
/* One drill: its signed record as issued, or its state while it runs. */
void orch_api_get_drill(Call *c, const char *id_text);
