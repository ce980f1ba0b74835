/* yb-calendar-next: prints a calendar expression's normal form and its next elapses, for
 * calendar-vs-systemd.sh to compare with `systemd-analyze calendar`.
 *
 *   yb-calendar-next [--iterations N] [--base-time EPOCH] EXPRESSION...
 *
 * For each expression: "Normalized form: ...", then one line per elapse, ISO 8601 in UTC
 * ("2026-11-22T01:00:00Z"), each one searched from the one before (the first from the base time,
 * default now), as systemd-analyze's iterations are; then an empty line. Exits 1 if an
 * expression does not parse (with the message on stderr). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "policies/calendar.h"

static int usage(void) {
        fprintf(stderr, "usage: yb-calendar-next [--iterations N] [--base-time EPOCH] EXPR...\n");
        return 2;
}

int main(int argc, char **argv) {
        long iterations = 1;
        int64_t base = (int64_t) time(NULL) * 1000000;
        int i = 1, ret = 0;

        for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
                char *end;

                if (streq(argv[i], "--"))
                        break;
                if (i + 1 >= argc)
                        return usage();
                if (streq(argv[i], "--iterations")) {
                        iterations = strtol(argv[++i], &end, 10);
                        if (*end || iterations < 1)
                                return usage();
                } else if (streq(argv[i], "--base-time")) {
                        const char *s = argv[++i];

                        base = strtoll(s[0] == '@' ? s + 1 : s, &end, 10) * 1000000;
                        if (*end)
                                return usage();
                } else
                        return usage();
        }
        if (i < argc && streq(argv[i], "--"))
                i++;
        if (i >= argc)
                return usage();

        for (; i < argc; i++) {
                _cleanup_(yb_calendar_freep) YbCalendar *c = NULL;
                _cleanup_free_ char *norm = NULL;
                char err[256];
                int64_t t = base;

                if (yb_calendar_parse(argv[i], &c, err, sizeof(err)) < 0) {
                        fprintf(stderr, "yb-calendar-next: '%s': %s\n", argv[i], err);
                        ret = 1;
                        continue;
                }
                norm = yb_calendar_to_string(c);
                if (!norm)
                        return 1;
                printf("Normalized form: %s\n", norm);
                for (long k = 0; k < iterations; k++) {
                        char buf[32];
                        struct tm tm;
                        time_t sec;

                        if (yb_calendar_next(c, t, &t) < 0)
                                break;
                        sec = (time_t) (t / 1000000);
                        gmtime_r(&sec, &tm);
                        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
                        printf("%s\n", buf);
                }
                printf("\n");
        }
        return ret;
}
