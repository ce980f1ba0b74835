/* orchestrator/api-certificates.h: the control API's decommission certificates (docs/api.md,
 * "Certificates"): the list, and each certificate exactly as yunbakd issued it (the bytes of its
 * signed JSON file, for `yunbak certificate show|verify`). Implemented in api-certificates.c;
 * api.c routes to them under the daemon's lock. Who may read: the system's department,
 * operators and auditors (a department person asking for another department's certificate gets
 * 404, as for its systems). */
#pragma once

#include "orchestrator/api-call.h"

/* GET /v1/certificates[?system=ID]: {"certificates": [{"id", "system", "decommission",
 * "issued"}]}, newest first, those the caller may see. */
void orch_api_get_certificates(Call *c);
/* GET /v1/certificates/{id}: the certificate's file bytes (application/json). */
void orch_api_get_certificate(Call *c, const char *id);
