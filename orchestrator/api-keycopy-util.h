/* orchestrator/api-keycopy-util.h: what the key copies' handlers share (implemented in
 * api-keycopies.c, used by it and by api-keywithdraw.c): reading a copy the caller may act on,
 * the copy's JSON answer, texts of a request's body, and how times and places are said. Every
 * function runs under the daemon's lock, as the handlers do. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/keycopies.h"
#include "orchestrator/api-call.h"

/* "2026-12-06T15:04:05Z" for usec since the epoch: whole seconds, as the certificate says
 * times. Returns iso. */
const char *orch_key_iso(int64_t usec, char iso[32]);
/* orch_key_iso as JSON, or null for 0. */
json_t *orch_key_time_json(int64_t usec);
/* Where a copy is, for people: "host:path" or "offline (note)", in buf. */
void orch_key_copy_where(const YbKeyCopy *k, char *buf, size_t size);
/* Answers with copy id as the catalog now has it, and wraps it as {"registered", "copy"} when
 * seen. */
void orch_key_reply_copy(Call *c, int status, int64_t id, bool seen, bool registered);
/* A text member of body: absent or null is NULL (false, answered 400, when required); else 1
 * to max bytes of UTF-8 without control characters (C0, DEL, C1: the certificate and the signed
 * documents carry these texts, and refuse them). what says what the text is, in the refusal. */
bool orch_key_body_text(Call *c, json_t *body, const char *name, size_t max, bool required,
                        const char *what, const char **ret);
/* The copy id_s into *ret (the caller frees it with yb_key_copy_done), if the caller may act on
 * it (the system's department or an operator; with holder_ok, also its holder); otherwise
 * answers (404 as for no copy when it is of a system the caller may not see: ids are
 * sequential) and false. */
bool orch_key_copy_for(Call *c, const char *id_s, bool holder_ok, YbKeyCopy *ret);
/* The department of system for a copy of its key: its policy's, or, once yunbakd has no policy
 * of it any more, the one its decommission under way or done recorded (the copies of its key
 * are still to be accounted for), into dept (with which decommission in decom, when given).
 * false when neither is known. */
bool orch_key_copy_department(Call *c, const char *system, char dept[256], char decom[96]);
/* Why a key of system registered or presented now is a warning: its decommission is executing,
 * executed or certified ("decommission 7 is executing"); "" if not. */
void orch_key_decommission_state(Call *c, const char *system, char buf[96]);
