/* orchestrator/storage-usage.c: the daily storage samples (storage-usage.h). */
#include "orchestrator/storage-usage.h"

#include <string.h>

#include "catalog/report-queries.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

#define DAY_USEC (24 * 3600 * YB_USEC_PER_SEC)
#define HOUR_USEC (3600 * YB_USEC_PER_SEC)

/* The schedule, guarded by the daemon's lock. */
static int64_t next_usec;           /* 0: at the next tick (start) */
static uint64_t sampled_generation; /* the policies last sampled */

/* The samples of every system's stores for the UTC day of now: 0, or the first failure. */
static int sample_all(YbDaemon *d, int64_t day) {
        int first = 0;

        for (size_t i = 0; i < d->n_systems; i++) {
                const YbPolicy *p = d->systems[i].policy;
                const char *stores[3] = { p->tier1_store, p->tier2_store, p->tier3_store };

                for (int tier = 1; tier <= 3; tier++) {
                        int r;

                        if (!stores[tier - 1])
                                continue;
                        r = yb_report_storage_measure(d->catalog, p->id, tier, stores[tier - 1],
                                                      day, tier == 2);
                        if (r < 0 && first == 0) {
                                log_error_errno(r,
                                                "System '%s': cannot record the storage used in "
                                                "store '%s' (tier %d) in the catalog: %m. "
                                                "yunbakd tries again within the hour; the "
                                                "reports say \"no sample\" for a day without one.",
                                                p->id, stores[tier - 1], tier);
                                first = r;
                        }
                }
        }
        return first;
}

void yb_storage_usage_stale(void) {
        next_usec = 0;
}

int64_t yb_storage_usage_tick(YbDaemon *d, int64_t now) {
        int64_t day = yb_floor_div(now, DAY_USEC) * DAY_USEC;

        if (now < next_usec && sampled_generation == d->policy_generation)
                return next_usec;
        sampled_generation = d->policy_generation;
        if (sample_all(d, day) < 0)
                next_usec = MIN(now + HOUR_USEC, day + DAY_USEC);
        else
                next_usec = day + DAY_USEC;
        return next_usec;
}
