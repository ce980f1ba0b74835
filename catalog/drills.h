/* catalog/drills.h: the restore drills yunbakd has begun and recorded (docs/drills.md, "The
 * record"; the table drills of schema 9, and its column terms of schema 10). A drill is begun
 * (state running) and finished once (passed or failed, with the figures lists and reports need and
 * the signed record's bytes). The control API (orchestrator/api-drills.c) checks who may do what
 * and what a result may claim; this file only keeps what it was given. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"

#define YB_DRILL_RUNNING "running"
#define YB_DRILL_PASSED "passed"
#define YB_DRILL_FAILED "failed"

/* At most this many earlier drills are carried in a record's history. */
#define YB_DRILL_HISTORY_MAX 12

/* One drill. Strings owned, NULL when not (yet) set. Times are usec since the epoch, 0 when not
 * set; rto_ms and rpo_seconds are -1 when not achieved; rto_met and rpo_met are -1 when not
 * judged, else 0 or 1. */
typedef struct YbDrill {
        int64_t id;
        char *system;
        int tier;
        char *store; /* the store's name in yunbakd.yaml */
        char *scenario, *run_by, *host;
        int64_t started_usec, reported_usec;
        char *state; /* YB_DRILL_RUNNING, _PASSED or _FAILED */
        char *failed_phase, *error;
        char *point; /* the restored point's id */
        int64_t point_usec;
        int64_t rto_ms, rpo_seconds;
        int rto_met, rpo_met;
        char *body;  /* the signed record's file bytes; NULL while running, and in lists */
        char *terms; /* what the begin told the run, as JSON (objectives, check,
                      * check_timeout_seconds, postgresql); NULL for a drill begun before
                      * schema 10, and in lists */
} YbDrill;

/* Frees d's strings and clears it. */
void yb_drill_done(YbDrill *d);
void yb_drills_free(YbDrill *v, size_t n);

/* Records a new drill in state running from d's system, tier, store, scenario, run_by, host,
 * started_usec and terms (the other fields are ignored). Its id in *ret_id. -EINVAL when a required
 * field is missing. */
int yb_drills_begin(YbCatalog *c, const YbDrill *d, int64_t *ret_id);
/* Finishes drill d->id once: state (passed or failed), reported_usec, host, failed_phase, error,
 * point, point_usec, rto_ms, rpo_seconds, rto_met, rpo_met and body. -ENOENT when there is no
 * such drill, -EALREADY when it is not running any more (a second result), -EINVAL for another
 * state or no body. */
int yb_drills_finish(YbCatalog *c, const YbDrill *d);
/* Drill id, body included, in *ret. -ENOENT. */
int yb_drills_get(YbCatalog *c, int64_t id, YbDrill *ret);
/* All drills (system NULL) or one system's, newest first (by start, then id), without bodies. */
int yb_drills_list(YbCatalog *c, const char *system, YbDrill **ret, size_t *ret_n);
/* The system's drill that passed last (by start), without body; -ENOENT when none has. */
int yb_drills_last_passed(YbCatalog *c, const char *system, YbDrill *ret);
/* The system's newest drill whatever its state, without body; -ENOENT when it has none. */
int yb_drills_last(YbCatalog *c, const char *system, YbDrill *ret);
/* The system's drills begun before drill `before` (by start, then id; running ones left out), at
 * most max of them, the newest max, oldest first, without bodies: a record's history. */
int yb_drills_history(YbCatalog *c, const char *system, int64_t before, size_t max, YbDrill **ret,
                      size_t *ret_n);
