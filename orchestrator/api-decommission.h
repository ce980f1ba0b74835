/* orchestrator/api-decommission.h: the control API's decommissions (docs/api.md,
 * "Decommissions"; docs/decommission.md, "The flow"): a department person requests one for a
 * system of their department, an operator who is not the requester approves or refuses it, the
 * department names the final export (export-job.h) and confirms or waives it, the requester may
 * withdraw it before execution, and an operator executes and verifies it (orchestrator/
 * decommission.h does both). Implemented in api-decommission.c; api.c routes to them under the
 * daemon's lock. Every action, allowed or refused, is audited ("decommission.<action>"). */
#pragma once

#include "orchestrator/api-call.h"

/* POST /v1/decommissions */
void orch_api_post_decommission(Call *c);
/* GET /v1/decommissions[?system=ID]: those the caller may read, newest first. */
void orch_api_get_decommissions(Call *c);
/* GET /v1/decommissions/{id}: another department's is answered as one that does not exist. */
void orch_api_get_decommission(Call *c, const char *id_s);
/* POST /v1/decommissions/{id}/{action}: action "approve", "refuse", "withdraw", "export",
 * "confirm-export", "waive-export", "execute", "verify" or "attest-host" (404 for another). */
void orch_api_post_decommission_action(Call *c, const char *id_s, const char *action);
