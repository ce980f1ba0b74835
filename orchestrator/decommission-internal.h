/* orchestrator/decommission-internal.h: what the three files of a decommission's execution share
 * (decommission-run.c runs the steps, decommission-verify.c verifies, decommission-cert.c fills
 * and signs the certificate): one execution (OrchDecomRun), the stores the system has used, and
 * the recording of a step. Not for other files: they use orchestrator/decommission.h. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "catalog/decommissions.h"
#include "core/base/buf.h"
#include "core/store/store.h"
#include "orchestrator/daemon.h"

/* A store the system has used: its name, and where and how to reach it (copied from
 * yunbakd.yaml; url NULL when yunbakd.yaml no longer names it). */
typedef struct OrchDecomStore {
        char *name, *url, *ssh_key, *known_hosts;
        YbS3Options s3; /* an s3:// store's options (owned) */
        bool tiers[4];  /* tiers[1..3]: a tier of the system's policies named it */
} OrchDecomStore;

/* One execution (or verification) of a decommission, in its own thread. Everything but `ended`
 * is set before the thread starts and read-only while it runs. */
typedef struct OrchDecomRun {
        struct OrchDecomRun *next;
        YbDaemon *d;
        int64_t id;
        bool verify_only; /* POST .../verify: keys, verify and certificate only */
        char *system;
        char *export_store; /* the department's handover: left alone, NULL: none */
        char key_id[17];    /* the system's key id (keys/ID.pub), "" if unknown */
        char *by_name, *by_department;
        uid_t by_uid;
        YbRole by_role;
        /* "confirmed" or "waived": how the export ended, as the state said when execution
         * first started (kept in the stop step's artifact for a resumed execution) */
        char export_state[16];
        int64_t lock_until_usec; /* the policy's tier1.lock_until; 0: none */
        OrchDecomStore *stores;
        size_t n_stores;
        pthread_t thread;
        bool has_thread;
        bool ended;     /* under the daemon's lock */
        bool *stopping; /* yunbakd stops (under the daemon's lock) */
} OrchDecomRun;

/* Records step (step, target) of x as state, with detail and artifact (JSON text; both may be
 * NULL), started at started_usec (0: now), finished now unless state is "running"; audits each
 * outcome ("decommission.step"). Takes the lock. */
int orch_decom_step(OrchDecomRun *x, const char *step, const char *target, const char *state,
                    int64_t started_usec, const char *detail, const char *artifact);
/* The recorded steps of x (yb_decom_steps_list); takes the lock. */
int orch_decom_steps(OrchDecomRun *x, YbDecomStep **ret, size_t *ret_n);
/* The state of step (step, target) among v, or NULL when not recorded. */
const char *orch_decom_step_state(const YbDecomStep *v, size_t n, const char *step,
                                  const char *target);
/* Opens store s as copy jobs do (its yunbakd.yaml options). On failure why names the store and
 * says what to do. */
int orch_decom_open_store(const OrchDecomStore *s, YbStore **ret, char *why, size_t why_size);
/* Updates the system's status to the decommission's state; under lock. */
void orch_decom_set_status(YbDaemon *d, const char *system, int64_t id, const char *state,
                           int64_t certificate);
/* usec as "2026-12-06T15:04:05Z" (UTC, to the second). */
void orch_decom_date(int64_t usec, char ret[32]);

/* The policy system had last (decommission-policy.c): the last version of it in the catalog's
 * policy_versions (the one last put in force, else the newest loaded), for a system whose policy
 * file is removed. The caller owns *ret. -ENOENT when the catalog has none, -EINVAL when it no
 * longer parses. */
int orch_decom_last_policy(YbDaemon *d, const char *system, YbPolicy **ret);
/* Whether row may be executed at now: neither its not_before nor the tier1.lock_until of the
 * policy in force (or last: orch_decom_last_policy) is still ahead; when both are, why names the
 * later and the other. 0, or -EPERM with why. */
int orch_decom_check_dates(YbDaemon *d, const YbDecommission *row, int64_t now, char *why,
                           size_t why_size);
/* Whether row's confirmed export's store is still none of the system's tier stores (of its
 * policy in force or last), by name or at the same place: else execution would erase the export
 * or leave the tier's backups. confirmed: the export was confirmed (not waived). 0, or -EPERM
 * with why. */
int orch_decom_check_export_store(YbDaemon *d, const YbDecommission *row, bool confirmed, char *why,
                                  size_t why_size);

/* The operator's signed attestation that host was destroyed, recorded among steps (the step
 * "attest-host" that decommission-attest.c records; decommission-steps.c), or NULL. The caller owns
 * it. */
json_t *orch_decom_attestation(const YbDecomStep *v, size_t n, const char *host);

/* Raises SIGKILL when YUNBAKD_TEST_DECOMMISSION_KILL names step (docs/operations.md: a test
 * hook). */
void orch_decom_kill_hook(const char *step);

/* The acting steps (decommission-steps.c), each recorded: "stop" (why says what failed),
 * "store" for one store (first: the first target of this execution, for the kill hook),
 * "agent" (skipped when steps says it is done or attested; without the host's
 * attestation, "waiting" when the host cannot be reached or wipe refused a path; with it,
 * "attested" and 0), "keys" (-EAGAIN: copies still held). 0 when
 * done, -errno. */
int orch_decom_step_stop(OrchDecomRun *x, char *why, size_t why_size);
int orch_decom_step_store(OrchDecomRun *x, const OrchDecomStore *s, const YbDecomStep *steps,
                          size_t n_steps, bool *first);
int orch_decom_step_agent(OrchDecomRun *x, const YbDecomStep *steps, size_t n_steps);
int orch_decom_step_keys(OrchDecomRun *x);

/* The step "verify": probes every store and the catalog and the key copies, records what it
 * found; true when nothing of the system is left (decommission-verify.c). */
bool orch_decom_verify(OrchDecomRun *x, char *why, size_t why_size);
/* The step "certificate": fills, checks, signs and keeps the certificate, and sets the
 * decommission certified (decommission-cert.c). 0, or -errno with why. */
int orch_decom_certify(OrchDecomRun *x, char *why, size_t why_size);
