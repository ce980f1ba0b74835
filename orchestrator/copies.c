/* orchestrator/copies.c: tier-3 copy jobs. Being built (issue 10): nothing is queued yet. */
#include "orchestrator/copies.h"

int yb_copies_queue(YbDaemon *d, const char *system, const char *snapshot, const char *trigger,
                    int64_t request, int64_t *ret_job) {
        (void) d, (void) system, (void) snapshot, (void) trigger, (void) request, (void) ret_job;
        return -ENOTSUP;
}
