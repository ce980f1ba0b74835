/* restore/drill-clock.c: the stopwatch a drill's phases are timed on: CLOCK_MONOTONIC, so that
 * a change of the wall clock during a drill changes no figure, in milliseconds rounded up, so
 * that no phase is said shorter than it lasted. YUNBAK_TEST_STOPWATCH_MS=N (a test hook,
 * docs/cli.md "Environment") makes every measure exactly N ms, so that tests check RTO figures
 * exactly; only test builds (YB_FAULT_INJECTION) have it: elsewhere the person who runs a
 * drill could set the RTO that yunbakd signs. */
#include <errno.h>
#include <stdlib.h>

#include "core/base/timeutil.h"
#include "restore/drill-run.h"

void yb_stopwatch_start(YbStopwatch *s) {
        const char *e = getenv("YUNBAK_TEST_STOPWATCH_MS");
        char *end;
        long long n;

        s->fixed_ms = -1;
#ifndef YB_FAULT_INJECTION
        e = NULL;
#endif
        if (e && *e) {
                errno = 0;
                n = strtoll(e, &end, 10);
                if (!errno && !*end && n >= 0)
                        s->fixed_ms = n;
        }
        s->start_ns = yb_monotonic_ns();
}

int64_t yb_stopwatch_ms(const YbStopwatch *s) {
        if (s->fixed_ms >= 0)
                return s->fixed_ms;
        return (yb_monotonic_ns() - s->start_ns + YB_NSEC_PER_MSEC - 1) / YB_NSEC_PER_MSEC;
}
