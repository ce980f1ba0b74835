/* bench/limits/clock.h: the two clocks the limits programs time with: wall (monotonic) and the
 * process's CPU time (every thread's, zstd's workers included), in seconds. */
#pragma once
#include <time.h>

/* Wall-clock seconds since an arbitrary start. */
static inline double mono(void) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return t.tv_sec + t.tv_nsec / 1e9;
}

/* CPU seconds this process has used, all its threads. */
static inline double pcpu(void) {
        struct timespec t;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return t.tv_sec + t.tv_nsec / 1e9;
}
