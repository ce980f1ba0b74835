/* orchestrator/export-job.h: a decommission's final export (docs/decommission.md, "The flow"):
 * a tier-1 full backup of the system into a store the department names, sealed to a public key
 * made for the handover (jobs.h's YbJobAdd store and public_key_json). This file says which store
 * and key may take it, and what the end of its job means for the decommission: exported with its
 * snapshot, or back to approved with why (orchestrator/export-job.c). Under the daemon's lock. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "catalog/decommissions.h"
#include "core/crypto/keys.h"
#include "orchestrator/daemon.h"

/* The trigger of an export's job in the jobs table (daemon.c's status leaves such jobs out). */
#define ORCH_EXPORT_TRIGGER "decommission-export"

/* Whether system s's export for dc may go to store, sealed to key: the store must be in
 * yunbakd.yaml (-ENOENT otherwise) and hold nothing of the system: not a store it has used (a
 * tier store of its policy or of an earlier version of it, a store of its catalog snapshots but
 * dc's earlier export's), by name or at the same place (the same directory by device and inode,
 * the same SFTP server, port and path; nor inside or around one), and, for a local store, no
 * directory of the system there but dc's earlier export's; the key must be of s's system id with
 * another key id than s's own key, which the decommission destroys (-EPERM otherwise). Why in why.
 * 0: it may. */
int orch_export_check(YbDaemon *d, const YbSystem *s, const YbDecommission *dc, const char *store,
                      const YbPublicKey *key, char *why, size_t why_size);

/* Whether stores a and b of yunbakd.yaml overlap: one place under two names (the same directory
 * by device and inode, the same directory of the same SFTP server and port), or one inside the
 * other. */
bool orch_export_same_place(const YbConfigStore *a, const YbConfigStore *b);

/* The store half of orch_export_check (the key aside): also what confirming an export checks
 * again, since a reload may since have made the export store a store of the system. */
int orch_export_check_store(YbDaemon *d, const YbSystem *s, const YbDecommission *dc,
                            const char *store, char *why, size_t why_size);

/* At the end of every job (job-end.c): when job is the export of a decommission that is
 * "exporting", moves it to "exported" with snapshot (a job that succeeded or made a partial
 * snapshot; a partial one says so in last_error) or back to "approved" with the job's error in
 * last_error; audited ("decommission.export"). Nothing for any other job. */
void orch_export_job_ended(YbDaemon *d, int64_t job, YbJobState state, const char *snapshot,
                           const char *error);

/* When dc is "exporting" but its job has ended in the catalog without yunbakd seeing it (yunbakd
 * was stopped or killed while it ran), does what orch_export_job_ended would have, and rereads
 * dc. 0, or the catalog's -errno. */
int orch_export_reconcile(YbDaemon *d, YbDecommission *dc);

/* How dc's export ended: "confirmed", "waived", or NULL (not yet, or not known), from its state
 * or, once execution started, from the stop step's artifact among steps (the JSON array of
 * yb_decommission_steps_json). A string of dc or steps. */
const char *orch_export_end_state(const YbDecommission *dc, json_t *steps);
