/* orchestrator/job-snapshot.h: the snapshot a job made, and retention after it
 * (orchestrator/job-snapshot.c). The catalog records what the store holds, not what the agent
 * said: the snapshot's signed header is read back from the store. A snapshot signed by another
 * agent than the one its host pins is quarantined: recorded, but never built on, counted or
 * pruned, and no retention runs on its strength. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "core/repo/repo.h"
#include "orchestrator/daemon.h"
#include "orchestrator/job-spec.h"

/* What a job's snapshot and its retention came to, filled without the lock and recorded under
 * it. Start zeroed; free with yb_job_snapshot_done. */
typedef struct YbJobSnapshot {
        YbCatalogSnapshot snap;
        YbSnapshotHeader *header;
        char **pruned;
        size_t n_pruned;
        char *agent;
        bool agent_mismatch;       /* signed by another agent than hosts.NAME.agent_key pins */
        char *quarantine;          /* why, when agent_mismatch */
        YbNames newly_quarantined; /* other snapshots retention found signed by another agent */
        /* The snapshots retention would have pruned but S3 Object Lock keeps: "<id> until
         * <date>" each, and the latest of the dates (docs/s3.md, "Object Lock"). */
        YbNames locked;
        char locked_until[YB_PRUNE_DATE_MAX];
        char prune_error[512];
} YbJobSnapshot;

/* Frees what *r holds. */
void yb_job_snapshot_done(YbJobSnapshot *r);

/* The catalog's record of snapshot h in store (no quarantine); strings borrowed from the
 * arguments. agent: its signing key as yb_job_agent_key_text writes it, or NULL. */
YbCatalogSnapshot yb_job_catalog_snapshot(const char *system, const char *store,
                                          const YbSnapshotHeader *h, const char *agent);

/* Reads snapshot id's signed header from the job's store into rec (header, snap, agent), and
 * whether another agent than the pinned one signed it (agent_mismatch, with why in quarantine).
 * Without the lock. Returns 0, or -errno from the store or the header (-EBADMSG: it does not check
 * out), or -ENOMEM. */
int yb_job_snapshot_read(const YbJobSpec *s, const char *id, YbJobSnapshot *rec);

/* After a snapshot was read and is not quarantined: applies the policy's retention to the job's
 * repository (policies/retention-apply.h), leaving out the snapshots the catalog quarantines and
 * those another agent signed without the catalog trusting them (those go to newly_quarantined).
 * What was removed goes to pruned, the first problem to prune_error. Nothing when no snapshot was
 * read or it is quarantined. Without the lock; takes the repository's. */
void yb_job_snapshot_prune(const YbJobSpec *s, int64_t now, YbJobSnapshot *rec);

/* Retention that S3 Object Lock stopped (docs/s3.md, "Object Lock"): notes that it keeps id until
 * date (as yb_repo_prune_many reports it) in locked, as "<id> until <date>", once per id. */
void yb_job_locked_add(YbNames *locked, const char *id, const char *date);
/* Whether locked holds id. */
bool yb_job_locked_has(const YbNames *locked, const char *id);
/* Under lock: audits (action, result "kept") and logs each of locked: "<what> <id> in <store> is
 * under Object Lock (compliance) until <date>: it can be pruned from then". */
void yb_job_locked_audit(YbDaemon *d, const char *action, const char *system, const char *what,
                         const char *store, const YbNames *locked);

/* Records rec in the catalog and the audit log; under lock: a new agent key (agent.new), the
 * snapshot, the snapshots quarantined now (snapshot.quarantine), those pruned (snapshot.prune)
 * and those Object Lock kept (snapshot.prune, result "kept"; also in the system's status) and
 * a prune that failed, each also logged. */
void yb_job_snapshot_record(YbDaemon *d, const YbJobSpec *s, const YbJobSnapshot *rec);
