/* The token bucket on a virtual clock: sleeping advances the clock, and nothing else does, so the
 * bounds are exact and do not depend on the machine. */
#include "core/base/ratelimit.h"
#include "core/base/timeutil.h"
#include "tests/unit/test.h"

typedef struct Clock {
        int64_t now, slept;
        unsigned sleeps;
} Clock;

static int64_t clock_now(void *userdata) {
        return ((Clock *) userdata)->now;
}

static void clock_sleep(void *userdata, int64_t ns) {
        Clock *c = userdata;

        ASSERT_GT(ns, 0);
        c->now += ns;
        c->slept += ns;
        c->sleeps++;
}

/* Sends n bytes in steps of at most max through a bucket of rate bps; returns the virtual time. */
static int64_t send(uint64_t bps, uint64_t n, size_t max, Clock *c) {
        YbRateLimit l;
        int64_t start = c->now;

        yb_rate_limit_init(&l, bps, clock_now, clock_sleep, c);
        while (n > 0) {
                size_t k = yb_rate_limit_step(&l, (size_t) MIN(n, (uint64_t) max));

                ASSERT_GT(k, 0);
                yb_rate_limit_take(&l, k);
                n -= k;
        }
        return c->now - start;
}

TEST(takes_at_least_n_over_r_minus_the_burst) {
        static const uint64_t rates[] = { 4096, 100000, 1 << 20, 20 << 20 };
        static const size_t steps[] = { 1, 7, 4096, 65536, 1 << 20, 4 << 20 };

        for (size_t i = 0; i < ELEMENTSOF(rates); i++)
                for (size_t j = 0; j < ELEMENTSOF(steps); j++) {
                        if (steps[j] < 4096 && rates[i] > 100000)
                                continue; /* millions of takes: slow, and no new case */
                        uint64_t n = rates[i] * 5 + 12345;
                        Clock c = { .now = 1000 };
                        int64_t t = send(rates[i], n, steps[j], &c);
                        /* the bucket starts full: one second of the rate (4 KiB at least) */
                        uint64_t burst = MAX(rates[i], (uint64_t) 4096);
                        double low = (double) (n - burst) / (double) rates[i],
                               secs = (double) t / (double) YB_NSEC_PER_SEC;

                        ASSERT_TRUE(secs >= low - 1e-9);
                        /* and not much longer: the limiter sleeps only for missing tokens */
                        ASSERT_TRUE(secs <= (double) n / (double) rates[i] + 0.01);
                }
}

TEST(steps_stay_within_a_second_of_the_rate) {
        YbRateLimit l;
        Clock c = { 0 };

        yb_rate_limit_init(&l, 10000, clock_now, clock_sleep, &c);
        ASSERT_EQ(yb_rate_limit_step(&l, 1 << 20), 10000);
        ASSERT_EQ(yb_rate_limit_step(&l, 100), 100);
        yb_rate_limit_init(&l, 10, clock_now, clock_sleep, &c);
        ASSERT_EQ(yb_rate_limit_step(&l, 1 << 20), 4096); /* the smallest step */
}

TEST(unlimited_never_sleeps) {
        Clock c = { 0 };

        ASSERT_EQ(send(0, 1ULL << 30, 1 << 20, &c), 0);
        ASSERT_EQ(c.sleeps, 0);
}

TEST(idle_time_refills_only_up_to_the_burst) {
        YbRateLimit l;
        Clock c = { 0 };

        yb_rate_limit_init(&l, 1000000, clock_now, clock_sleep, &c);
        yb_rate_limit_take(&l, 1000000); /* the initial burst */
        ASSERT_EQ(c.sleeps, 0);
        c.now += 60 * YB_NSEC_PER_SEC; /* a minute idle earns one second, not sixty */
        yb_rate_limit_take(&l, 1000000);
        ASSERT_EQ(c.sleeps, 0);
        yb_rate_limit_take(&l, 500000);
        ASSERT_GT(c.sleeps, 0);
        ASSERT_GE(c.slept, YB_NSEC_PER_SEC / 2);
}
