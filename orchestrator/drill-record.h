/* orchestrator/drill-record.h: a drill's result checked, judged and signed (docs/drills.md, "The
 * record"): what yunbakd makes of POST /v1/drills/{id}/result before it keeps it. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "catalog/drills.h"
#include "orchestrator/daemon.h"

/* The phases of a drill, in their order. */
extern const char *const yb_drill_phases[5];

/* Checks result (the request's body) for drill dr of system s as reported at now (yunbakd's
 * clock), observed_ms after its begin as yunbakd saw it: its fields, sizes and phases, the point
 * against the catalog (tiers 1 and 3), and that it claims no more time than observed_ms; then
 * judges it against the terms dr was begun with (for a drill begun before they were kept, s's
 * policy), adds the system's history and signs the record with d->key. On
 * success 0, *ret (dr's figures, state and body filled; the caller owns it) ready for
 * yb_drills_finish. On failure -errno, with the HTTP status to answer in *ret_status and the
 * reason, naming the drill and what to do, in why. Under the daemon's lock. */
int orch_drill_record(YbDaemon *d, const YbSystem *s, const YbDrill *dr, json_t *result,
                      int64_t now, int64_t observed_ms, YbDrill *ret, int *ret_status, char *why,
                      size_t why_size);
