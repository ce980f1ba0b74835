/* orchestrator/api-offsite.h: the control API's requests for off-site copies (docs/api.md,
 * "Off-site requests"): a department asks for a copy of one of its systems to its tier-3 store,
 * an operator who is not the requester approves (queuing the copy with yb_copies_queue,
 * orchestrator/copies.h) or refuses, and everyone who may read the system reads them.
 * Implemented in api-offsite.c; api.c routes to them under the daemon's lock. Every step and
 * every refusal is audited (offsite.request, offsite.approve, offsite.refuse). */
#pragma once

#include <stdbool.h>

#include "orchestrator/api-call.h"

/* POST /v1/offsite/requests */
void orch_api_post_offsite_request(Call *c);
/* GET /v1/offsite/requests */
void orch_api_get_offsite_requests(Call *c);
/* GET /v1/offsite/requests/{id}: another department's request is answered as one that does not
 * exist. */
void orch_api_get_offsite_request(Call *c, const char *id_s);
/* POST /v1/offsite/requests/{id}/approve (approve true) and .../refuse (false). */
void orch_api_post_offsite_decide(Call *c, const char *id_s, bool approve);
