/* orchestrator/copies.c: tier 3 in yunbakd (orchestrator/copies.h): copy jobs queued on the
 * policy's tier3.schedule, on request and to resume an interrupted copy, held back while their
 * store is outside its windows; and what status and metrics say of each system's off-site copies.
 * A copy job runs in orchestrator/copy-job.c. */
#include "orchestrator/copies.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/jobs.h"

int yb_copies_queue(YbDaemon *d, const char *system, const char *snapshot, const char *trigger,
                    int64_t request, int64_t *ret_job) {
        YbSystem *s = yb_daemon_system(d, system);
        const YbConfigStore *to;
        int64_t now = yb_daemon_now(d), next_open = 0;
        YbJobAdd a = { .system = system,
                       .tier = 3,
                       .level = "copy",
                       .snapshot = snapshot,
                       .request = request,
                       .trigger = trigger,
                       .scheduled_usec = now };
        int r;

        if (!s)
                return -ENOENT;
        if (!s->policy->tier3_store)
                return -ENOTSUP;
        /* Outside the store's windows it is queued now and waits, not started, for the next. */
        to = yb_daemon_config_store(d->config, s->policy->tier3_store);
        if (to && !yb_store_windows_open(to->windows, to->n_windows, now, &next_open, NULL))
                a.not_before_usec = next_open;
        r = yb_jobs_add(d, &a, ret_job);
        if (r < 0)
                return r;
        s->status.tier3.paused_until = a.not_before_usec;
        if (a.not_before_usec > 0)
                log_info("System '%s': copy job %" PRId64 " to store '%s' waits for the store's "
                         "next window.",
                         system, *ret_job, to->name);
        return 0;
}
