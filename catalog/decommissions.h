/* catalog/decommissions.h: decommissions (docs/decommission.md, "The flow"), their steps, and the
 * certificates yunbakd issued: what was asked, decided, exported, executed and verified, by whom
 * and when. The control API (orchestrator/api-decommission.c) enforces the rules and the order;
 * this file only records them.
 *
 * States, in order: requested -> approved (or refused: the end) -> exporting (the final full is
 * being made) -> exported -> export-confirmed or export-waived -> executing -> executed (every
 * step done; verification found something left, or key copies are still held: last_error names
 * it) -> certified (verification passed, certificate issued). withdrawn: the requester took it
 * back before execution. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "core/base/macro.h"

#define YB_DECOM_REQUESTED "requested"
#define YB_DECOM_REFUSED "refused"
#define YB_DECOM_WITHDRAWN "withdrawn"
#define YB_DECOM_APPROVED "approved"
#define YB_DECOM_EXPORTING "exporting"
#define YB_DECOM_EXPORTED "exported"
#define YB_DECOM_EXPORT_CONFIRMED "export-confirmed"
#define YB_DECOM_EXPORT_WAIVED "export-waived"
#define YB_DECOM_EXECUTING "executing"
#define YB_DECOM_EXECUTED "executed"
#define YB_DECOM_CERTIFIED "certified"

/* One decommission. Strings owned, NULL when not (yet) set; times 0 when not set. */
typedef struct YbDecommission {
        int64_t id;
        char *system, *department, *state, *reason;
        int64_t not_before_usec;
        char *requested_by;
        int64_t requested_usec;
        char *decided_by;
        int64_t decided_usec;
        char *decision_note;
        char *export_store, *export_key_id;
        int64_t export_job;
        char *export_snapshot;
        char *export_by; /* who confirmed or waived */
        int64_t export_usec;
        char *export_note; /* the confirmation's note, or the waiver's reason */
        char *executed_by;
        int64_t execute_started_usec, execute_finished_usec, verified_usec;
        int64_t certificate; /* 0: none */
        char *last_error;
        int64_t updated_usec;
} YbDecommission;

void yb_decommission_done(YbDecommission *d);

/* Records a new request (state requested) from d's system, department, reason,
 * not_before_usec, requested_by, requested_usec. -EEXIST when the system has a decommission
 * that is neither refused nor withdrawn (then *ret_id is that one). */
int yb_decommissions_add(YbCatalog *c, const YbDecommission *d, int64_t *ret_id);
int yb_decommissions_get(YbCatalog *c, int64_t id, YbDecommission *ret); /* -ENOENT */
/* The system's live decommission (neither refused nor withdrawn), newest; -ENOENT if none. */
int yb_decommissions_current(YbCatalog *c, const char *system, YbDecommission *ret);
/* All (system NULL) or one system's, newest first. */
int yb_decommissions_list(YbCatalog *c, const char *system, YbDecommission **ret, size_t *ret_n);
void yb_decommissions_free(YbDecommission *v, size_t n);
/* Writes back every field of d (by d->id), updated_usec included. -ENOENT. */
int yb_decommissions_update(YbCatalog *c, const YbDecommission *d);
/* Whether a decommission in state stops its system's tiers for good: executing, executed or
 * certified. The one rule; yunbakd applies it to the state it keeps in memory. */
bool yb_decommission_state_stops(const char *state);
/* Whether the system's tiers must stay stopped: its live decommission's state stops them. */
bool yb_decommissions_stopped(YbCatalog *c, const char *system);

/* One step of an execution (docs/decommission.md, "Execution"): step is "stop", "store",
 * "agent", "catalog", "keys", "verify" or "certificate"; target what it acts on (a store name, a
 * host, "-"); state "pending", "running", "done", "waiting" (cannot finish yet: detail says on
 * what) or "failed" (detail says why); artifact the JSON text of what it destroyed, for the
 * certificate. */
typedef struct YbDecomStep {
        int64_t seq; /* order of first recording */
        char *step, *target, *state;
        int64_t started_usec, finished_usec;
        char *detail;
        char *artifact;
} YbDecomStep;

void yb_decom_step_done(YbDecomStep *s);
/* Inserts or replaces step (step, target) of decommission id (seq kept when it exists). */
int yb_decom_steps_put(YbCatalog *c, int64_t id, const YbDecomStep *s);
int yb_decom_steps_list(YbCatalog *c, int64_t id, YbDecomStep **ret, size_t *ret_n);
void yb_decom_steps_free(YbDecomStep *v, size_t n);

/* Keeps a certificate (body: the signed JSON file's bytes). */
int yb_certificates_add(YbCatalog *c, const char *system, int64_t decommission, int64_t issued_usec,
                        const char *body, int64_t *ret_id);
/* Certificate id's system and body (owned). -ENOENT. */
int yb_certificates_get(YbCatalog *c, int64_t id, char **ret_system, char **ret_body);
