/* orchestrator/wal-archive-watch.h: whether each physical PostgreSQL hook's WAL archive works, in
 * yunbakd's eyes (orchestrator/wal-archive-watch.c; docs/operations.md, "WAL archive watch").
 *
 * A system whose policy has a physical postgresql hook and no tier 2 relies on PostgreSQL's
 * archive_command (`yunbak-agent wal-archive`) for the WAL between its base backups. Every
 * period (a minute), a thread of its own reads each such system's tier-1 store (its snapshot
 * headers and the WAL archive chains of its newest bases, core/repo/walarchive.h) and tells, per
 * system and hook, the newest archived WAL file's time and chain root and a state: archiving,
 * late, none or unknown. A change to late or none (and back) is logged and audited
 * ("wal-archive.state"); status and metrics show it.
 *
 * Threads: every function here but yb_walwatch_stop is called under the daemon's lock. Under the
 * test clock (virtual time) nothing is checked. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "core/base/timeutil.h"
#include "orchestrator/daemon.h"

/* PostgreSQL's archive_timeout as `yunbak policy explain` sets it; a WAL file is late when the
 * newest was archived more than 2 x this + the check's period ago. */
#define YB_WALWATCH_ARCHIVE_TIMEOUT_USEC (60 * YB_USEC_PER_SEC)
#define YB_WALWATCH_PERIOD_USEC (60 * YB_USEC_PER_SEC)

typedef struct YbWalWatch YbWalWatch;

/* Makes the (empty) watch in d->walwatch; its first check runs at the first tick. The period is
 * YB_WALWATCH_PERIOD_USEC; built with YB_FAULT_INJECTION, YUNBAKD_TEST_WAL_CHECK_MS and
 * YUNBAKD_TEST_WAL_ARCHIVE_TIMEOUT_MS in the environment set it and the archive_timeout the
 * bound counts with, in ms (for tests). 0 or -ENOMEM. */
int yb_walwatch_new(YbDaemon *d);
/* yunbakd's main loop: takes in a finished check's results (logging and auditing changes) and
 * starts the next check when due. Returns when it wants to be called again (daemon time, usec;
 * a check that ends wakes the loop). Under lock. */
int64_t yb_walwatch_tick(YbDaemon *d, int64_t now);
/* At yunbakd's stop, not under lock: waits for a running check and frees the watch. */
void yb_walwatch_stop(YbDaemon *d);

/* Sets "wal_archive" of a system's /v1/status entry o (docs/api.md): null when its policy has
 * no physical hook or has tier 2, else an array with an object per physical hook. Under lock. */
void yb_walwatch_status_json(YbDaemon *d, const YbSystem *s, json_t *o);
/* Appends yunbak_wal_archive_last_timestamp_seconds and yunbak_wal_archive_state to b. Under
 * lock. */
void yb_walwatch_metrics(YbDaemon *d, YbBuf *b);
