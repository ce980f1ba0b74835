/* orchestrator/repairs.h: repairs of a snapshot in one store from its byte-identical twins in
 * another (yb_repo_repair, core/repo/copy.h), run by yunbakd for the control API
 * (orchestrator/api-repair.c; docs/api.md, "Repairs"). Each runs in a thread of its own, so that
 * the API goes on answering while it reads and writes the stores; its outcome is kept in memory
 * (the last YB_REPAIRS_KEPT) until yunbakd stops, and written to the audit log ("repair": when it
 * starts, and when it ends with every file replaced and every file that could not be). */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "orchestrator/daemon.h"

/* How many ended repairs are kept for GET /v1/repairs/{id}. */
#define YB_REPAIRS_KEPT 64

/* Starts the repair of snapshot of system in store `to` (the damaged one) from store `from` (its
 * twins), both names of yunbakd.yaml's stores, asked by `by`; under lock. Returns 0 and its id in
 * *ret_id; -ENOENT when a store is not in yunbakd.yaml; -errno when the thread cannot start.
 * The repair audits its start and its end itself. */
int yb_repairs_start(YbDaemon *d, const YbPerson *by, const char *system, const char *snapshot,
                     const char *from, const char *to, int64_t *ret_id);

/* Repair id as JSON (docs/api.md, "Repairs"), or NULL when yunbakd knows no such repair (never
 * started, or forgotten: ended before the last YB_REPAIRS_KEPT, or before yunbakd restarted);
 * under lock. The caller owns it. */
json_t *yb_repairs_json(YbDaemon *d, int64_t id);

/* Waits for the repairs still running to end (a repair is not interrupted: it ends within one
 * snapshot's files) and frees them all. Without the lock; once the API is stopped. */
void yb_repairs_stop(YbDaemon *d);
