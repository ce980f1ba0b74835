/* core/base/ratelimit.c: the token bucket of ratelimit.h. Tokens grow at rate_bps with the clock
 * up to burst; a take that finds too few sleeps for exactly the missing tokens' time and looks
 * again (a sleep may end early, a clock may be coarse), so no byte goes before its time. */
#include "core/base/ratelimit.h"

#include <errno.h>
#include <time.h>

#include "core/base/macro.h"
#include "core/base/timeutil.h"

#define MIN_STEP 4096

static int64_t real_now(void *userdata) {
        return yb_monotonic_ns();
}

static void real_sleep(void *userdata, int64_t ns) {
        struct timespec ts = { .tv_sec = ns / YB_NSEC_PER_SEC, .tv_nsec = ns % YB_NSEC_PER_SEC };

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

void yb_rate_limit_init(YbRateLimit *l, uint64_t rate_bps, int64_t (*now_ns)(void *userdata),
                        void (*sleep_ns)(void *userdata, int64_t ns), void *userdata) {
        *l = (YbRateLimit){
                .rate_bps = rate_bps,
                .burst = MAX(rate_bps, (uint64_t) MIN_STEP),
                .now_ns = now_ns ? now_ns : real_now,
                .sleep_ns = sleep_ns ? sleep_ns : real_sleep,
                .userdata = userdata,
        };
        l->tokens = (double) l->burst;
        if (rate_bps > 0)
                l->last_ns = l->now_ns(l->userdata);
}

size_t yb_rate_limit_step(const YbRateLimit *l, size_t max) {
        if (l->rate_bps == 0)
                return max;
        return (size_t) MIN((uint64_t) max, l->burst);
}

static void refill(YbRateLimit *l) {
        int64_t now = l->now_ns(l->userdata);

        if (now > l->last_ns) {
                l->tokens += (double) (now - l->last_ns) * (double) l->rate_bps /
                             (double) YB_NSEC_PER_SEC;
                if (l->tokens > (double) l->burst)
                        l->tokens = (double) l->burst;
        }
        l->last_ns = now;
}

void yb_rate_limit_take(YbRateLimit *l, size_t n) {
        if (l->rate_bps == 0)
                return;
        assert(n <= l->burst);
        for (refill(l); l->tokens < (double) n; refill(l)) {
                double missing = (double) n - l->tokens;
                int64_t ns = (int64_t) (missing * (double) YB_NSEC_PER_SEC / (double) l->rate_bps);

                l->sleep_ns(l->userdata, MAX(ns, (int64_t) 1));
        }
        l->tokens -= (double) n;
}
