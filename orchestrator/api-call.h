/* orchestrator/api-call.h: one control-API request as its handlers see it (Call), and what every
 * handler uses to answer it: replies, audited refusals, the systems a caller may touch, and JSON
 * from catalog rows. Implemented in api-call.c; used by api.c and the handler files. */
#pragma once

#include <jansson.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/base/macro.h"
#include "orchestrator/access.h"
#include "orchestrator/daemon.h"
#include "orchestrator/httpd.h"

/* One request being answered. */
typedef struct Call {
        YbDaemon *d;
        const YbHttpRequest *req;
        YbHttpResponse *resp;
        YbPerson person; /* valid when known */
        const YbPerson *who;
        char what[160]; /* "POST /v1/systems/x/backup", for the audit log */
} Call;

/* A time in usec, or null for 0 and INT64_MAX (never). */
json_t *orch_api_usec_or_null(int64_t v);
/* A string, or null for NULL and "". */
json_t *orch_api_text_or_null(const char *s);
/* Answers with status and body (taken; NULL: no body). */
void orch_api_reply(Call *c, int status, json_t *body);
/* Answers with an error, and audits the refusal: who tried what. */
void orch_api_deny(Call *c, int status, const char *fmt, ...) _printf_(3, 4);
/* Answers status with the reason, audited as action on object (NULL: "-"), with the result
 * "denied" (403, 404), "failed" (5xx) or "refused" (the rest). */
void orch_api_refuse(Call *c, const char *action, const char *object, int status, const char *fmt,
                     ...) _printf_(5, 6);
/* The system, if the caller may do access on it; otherwise answers (404 for a department
 * person who may not see it, so that other departments' systems stay unknown) and NULL. */
YbSystem *orch_api_system_for(Call *c, const char *id, YbAccess access);
/* Column i of a catalog row as JSON: text or null, integer or null. */
json_t *orch_api_col_text(struct sqlite3_stmt *row, int i);
json_t *orch_api_col_int(struct sqlite3_stmt *row, int i);
/* The request's body as a JSON object (an empty body is an empty object; the caller owns it), or
 * NULL having answered 400. */
json_t *orch_api_body_object(Call *c);
/* A decimal integer of a query or path in [min, max]. */
bool orch_api_parse_int(const char *s, int64_t min, int64_t max, int64_t *ret);
