/* orchestrator/rebuild.h: the catalog's systems and snapshots made again from what the stores hold
 * (orchestrator/rebuild.c; `yunbak catalog rebuild`). */
#pragma once

#include "orchestrator/daemon.h"

/* What a rebuild found: counts, ready for JSON. */
typedef struct YbRebuildSummary {
        int systems, snapshots, added, removed, errors;
} YbRebuildSummary;

/* Recreates the catalog's systems and snapshots from the stores in one transaction; counts in
 * *ret (zeroed first, filled as far as it got). Under lock. Returns 0, or -errno (the catalog's,
 * or -ENOMEM) with the catalog rolled back; a store or snapshot that cannot be read is logged and
 * counted in errors, and is no failure. */
int yb_catalog_rebuild(YbDaemon *d, YbRebuildSummary *ret);
