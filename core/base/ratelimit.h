/* core/base/ratelimit.h: a token bucket that keeps a byte stream to a rate, with at most about
 * one second of burst. Its clock and its sleep can be replaced (tests run it on a virtual clock),
 * so what it promises is exact: n bytes through a bucket of rate R take at least n / R - burst / R
 * seconds of its clock. */
#pragma once

#include <stddef.h>
#include <stdint.h>

typedef struct YbRateLimit {
        uint64_t rate_bps; /* bytes per second; 0: no limit */
        uint64_t burst;    /* the bucket's size in bytes: max(rate_bps, the largest step) */
        double tokens;     /* bytes that may go now */
        int64_t last_ns;   /* the clock when tokens was last brought up to date */
        int64_t (*now_ns)(void *userdata);            /* monotonic ns; NULL: yb_monotonic_ns() */
        void (*sleep_ns)(void *userdata, int64_t ns); /* NULL: nanosleep() */
        void *userdata;
} YbRateLimit;

/* Starts a bucket of rate_bps (0: unlimited) that is full: the first burst bytes go at once.
 * step is the most a caller takes at a time (yb_rate_limit_step says how much that should be);
 * now_ns, sleep_ns and userdata may be NULL (the real clock and sleep). */
void yb_rate_limit_init(YbRateLimit *l, uint64_t rate_bps, int64_t (*now_ns)(void *userdata),
                        void (*sleep_ns)(void *userdata, int64_t ns), void *userdata);
/* The largest piece to take at once, at most max: small enough that the bucket holds about a
 * second, so that a slow rate is kept in steps and not in bursts of max. */
size_t yb_rate_limit_step(const YbRateLimit *l, size_t max);
/* Waits (through sleep_ns) until n bytes (n <= the step) may go, and takes them. */
void yb_rate_limit_take(YbRateLimit *l, size_t n);
