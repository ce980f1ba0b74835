/* orchestrator/decommission.h: yunbakd's execution and verification of an approved
 * decommission (docs/decommission.md, "Execution", "Verification", "Certificate";
 * orchestrator/decommission-run.c, decommission-verify.c, decommission-cert.c). The request,
 * decision and export steps are the control API's (orchestrator/api-decommission.c).
 *
 * Execution runs in a thread of its own, step by step, each step recorded in the catalog
 * (catalog/decommissions.h) before and after it acts, each one safe to run again: a crash or a
 * refused step leaves the decommission "executing" with its steps saying what is done, and
 * executing it again finishes what is left. When every step is done it verifies, and when
 * verification finds nothing left it issues the signed certificate. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "orchestrator/daemon.h"

/* Starts (or resumes) the execution of decommission id by `by`; under lock. The caller checked
 * the roles; this checks the state (export confirmed or waived, or executing/executed: resumed)
 * the dates (not before not_before and the lock_until of the policy in force or last) and that a
 * confirmed export's store is none of the system's tier stores: -EPERM with why, -EBUSY when it
 * is running now, -ENOENT. 0: started. */
int yb_decommission_execute(YbDaemon *d, const YbPerson *by, int64_t id, char *why,
                            size_t why_size);
/* Starts verification (and the certificate when it passes) of an executed decommission; under
 * lock. Same returns. */
int yb_decommission_verify(YbDaemon *d, const YbPerson *by, int64_t id, char *why, size_t why_size);
/* Records an operator's (by's: the caller checked the role) attestation that host, the
 * system's host, was destroyed (its volumes, or its VM, on the cloud platform): statement and
 * reference (a ticket; may be NULL) signed by yunbakd's key and kept as the step "attest-host"
 * of decommission id. The agent step that cannot clear the host's sources then ends
 * "attested" (decommission-attest.c). Under lock. -EPERM (the state, running now, or the agent
 * step done already), -EINVAL (not the system's host), -EALREADY (attested already), -ENOENT,
 * with why. */
int yb_decommission_attest_host(YbDaemon *d, const YbPerson *by, int64_t id, const char *host,
                                const char *statement, const char *reference, char *why,
                                size_t why_size);
/* The tier1.lock_until that holds back the execution of system's decommission: its policy's in
 * force, or, when its policy file is removed, its last policy's in the catalog (a removed policy
 * does not lift the lock). 0: none. Under lock. */
int64_t yb_decommission_lock_until(YbDaemon *d, const char *system);
/* Whether an execution or verification of id is running now; under lock. */
bool yb_decommission_running(YbDaemon *d, int64_t id);
/* The steps of id as the JSON array docs/api.md shows ("steps"); under lock. NULL: none. */
json_t *yb_decommission_steps_json(YbDaemon *d, int64_t id);
/* Whether any execution or verification runs now (the test clock does not jump under one);
 * under lock. */
bool yb_decommissions_busy(YbDaemon *d);
/* At start: marks the steps a yunbakd that died left "running" as "interrupted" (each audited);
 * the decommission stays executing, and executing it again finishes it. Under lock. Returns how
 * many, or -errno. */
int yb_decommissions_interrupted(YbDaemon *d);
/* Waits for running executions to end at a step boundary and frees them. Without the lock. */
void yb_decommissions_stop(YbDaemon *d);
