/* orchestrator/rebuild.h: the catalog's systems and snapshots made again from what the stores hold
 * (orchestrator/rebuild.c; `yunbak catalog rebuild`). */
#pragma once

#include "orchestrator/daemon.h"

/* What a rebuild found: counts, ready for JSON, and the snapshots the catalog knew that a
 * readable store no longer shows, as "system<TAB>store<TAB>snapshot" (kept unless forget_missing).
 */
typedef struct YbRebuildSummary {
        int systems, snapshots, added, removed, errors;
        YbNames missing;
} YbRebuildSummary;

void yb_rebuild_summary_done(YbRebuildSummary *s);

/* Recreates the catalog's systems and snapshots from the stores in one transaction; counts in
 * *ret (zeroed first, filled as far as it got; the caller calls yb_rebuild_summary_done). Under
 * lock. Snapshots a store no longer shows (an unmounted share shows none) are forgotten only
 * with forget_missing; otherwise they are kept and listed in missing. Either way each system's
 * are written to the audit log as a warning (snapshot.missing) or as forgotten
 * (snapshot.forget). Returns 0, or -errno (the catalog's, or -ENOMEM) with the catalog rolled
 * back; a store or snapshot that cannot be read is logged and counted in errors, and is no
 * failure. */
int yb_catalog_rebuild(YbDaemon *d, bool forget_missing, YbRebuildSummary *ret);
