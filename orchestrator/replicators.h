/* orchestrator/replicators.h: tier 2 in yunbakd. For each system whose policy has tier2, a
 * replicator (`yunbak-agent replicate`, docs/replication.md) runs on the system's host, locally
 * or over SSH as tier-1 jobs do, supervised by a thread of its own (orchestrator/replicators.c):
 * started, its JSON lines read as they come, restarted with backoff when it exits, stopped when
 * the policy loses tier2 or changes it (then started again with the new one) and at yunbakd's
 * stop, and told to make a checkpoint on tier2.checkpoint's calendar. What it reports becomes
 * the system's lag (orchestrator/replicator-lag.c): sampled once a second, kept per hour in the
 * catalog, shown by status and metrics, audited when it passes max_lag and when it comes back;
 * and after each checkpoint (and daily) tier2.retention is applied to the tier-2 store
 * (orchestrator/replicator-prune.c).
 *
 * Threads: every function here but yb_replicators_stop is called under the daemon's lock. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog/lag.h"
#include "core/base/buf.h"
#include "orchestrator/daemon.h"

typedef struct YbReplicators YbReplicators;

/* Makes the (empty) set of replicators in d->replicators. 0 or -ENOMEM. */
int yb_replicators_new(YbDaemon *d);

/* yunbakd's main loop, once a second and whenever woken: after a policy load starts, restarts
 * and stops replicators to match the policies; joins the threads of stopped ones; sends due
 * checkpoints; samples each system's lag (and writes an hour's row when it ends); audits
 * max_lag. Returns when it wants to be called again (daemon time, usec). Under lock. */
int64_t yb_replicators_tick(YbDaemon *d, int64_t now);

/* Whether the replicator of system still runs (its thread has not ended); under lock. A
 * decommission's stop step waits for this to be false. */
bool yb_replicators_alive(YbDaemon *d, const char *system);

/* At yunbakd's stop, not under lock: tells every replicator to stop, waits for them (SIGTERM
 * after a bound), and writes each system's unfinished hour of lag to the catalog. Then frees
 * the set. */
void yb_replicators_stop(YbDaemon *d);

/* Sets "tier2" of a system's /v1/status entry o (docs/api.md): null when its policy has no
 * tier2 and no replicator was stopped for it. Under lock. */
void yb_replicators_status_json(YbDaemon *d, const YbSystem *s, json_t *o);
/* Whether yunbakd has had a replicator for system since it started. Under lock. */
bool yb_replicators_known(YbDaemon *d, const char *system);
/* Whether system's replicator runs and reports (yunbak_tier_running{tier="2"}). Under lock. */
bool yb_replicators_running(YbDaemon *d, const char *system);
/* Appends the yunbak_replication_* metrics to b. Under lock. */
void yb_replicators_metrics(YbDaemon *d, YbBuf *b);
/* The system's lag per hour as JSON (docs/api.md, "GET /v1/systems/ID/lag"): the catalog's
 * rows of the last `hours` hours, oldest first, and the hour now running from memory. Under
 * lock; -errno (the catalog's) on failure. */
int yb_replicators_lag_history_json(YbDaemon *d, const char *system, int hours, json_t **ret);
/* The hour now running of system's lag, from memory, as a catalog row (its part written before
 * a restart is in the catalog apart): 1 and *ret, 0 when yunbakd took no sample of it yet, or
 * -ENOMEM. Under lock. */
int yb_replicators_running_hour(YbDaemon *d, const char *system, YbLagHour *ret);
