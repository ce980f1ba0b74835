#include <stdio.h>

#include "orchestrator/scheduler.h"
#include "policies/calendar.h"
#include "tests/unit/test.h"

#define USEC_PER_SEC 1000000LL
#define HOUR (3600 * USEC_PER_SEC)
#define DAY (24 * HOUR)
/* 2026-11-01T00:00:00Z, a Sunday */
#define START (1793491200LL * USEC_PER_SEC)

typedef struct Count {
        int full, differential, incremental, catch_up;
        int64_t last_due;
} Count;

static int count(void *ud, const YbDue *d) {
        Count *c = ud;

        if (streq(d->kind, "full"))
                c->full++;
        else if (streq(d->kind, "differential"))
                c->differential++;
        else if (streq(d->kind, "incremental"))
                c->incremental++;
        c->catch_up += d->catch_up;
        c->last_due = d->due_usec;
        return 0;
}

static YbCalendar *cal(const char *text) {
        YbCalendar *c = NULL;
        char err[256] = "";

        if (yb_calendar_parse(text, &c, err, sizeof(err)) < 0)
                fail_msg("'%s': %s", text, err);
        return c;
}

/* Runs a simulated clock from start to end, waking at each next due time, as yunbakd's loop
 * does. */
static void simulate(YbScheduler *s, int64_t start, int64_t end, Count *c) {
        int64_t now = start;

        for (;;) {
                int64_t next;

                ASSERT_OK(yb_scheduler_run_due(s, now, count, c));
                next = yb_scheduler_next_wakeup(s);
                if (next > end)
                        break;
                ASSERT_GT(next, now);
                now = next;
        }
}

TEST(month_of_weekly_full_daily_incremental) {
        _cleanup_(yb_scheduler_freep) YbScheduler *s = NULL;
        _cleanup_(yb_calendar_freep) YbCalendar *full = cal("Sun *-*-* 01:00 UTC");
        _cleanup_(yb_calendar_freep) YbCalendar *incr = cal("*-*-* 01:00 UTC");
        Count c = { 0 };

        ASSERT_OK(yb_scheduler_new(&s));
        ASSERT_OK(yb_scheduler_add(s, "hr-portal", "full", full, 0, START));
        ASSERT_OK(yb_scheduler_add(s, "hr-portal", "incremental", incr, 0, START));
        /* November 2026: 30 days, Sundays on the 1st, 8th, 15th, 22nd, 29th. */
        simulate(s, START, START + 30 * DAY - 1, &c);
        ASSERT_EQ(c.full, 5);
        ASSERT_EQ(c.incremental, 25); /* the full covers the incremental on Sundays */
        ASSERT_EQ(c.catch_up, 0);
}

TEST(down_three_days_catches_up_once) {
        _cleanup_(yb_scheduler_freep) YbScheduler *s = NULL;
        _cleanup_(yb_calendar_freep) YbCalendar *incr = cal("*-*-* 02:00 UTC");
        Count c = { 0 };
        int64_t last = START + 2 * HOUR;               /* ran on the 1st at 02:00 */
        int64_t restart = START + 3 * DAY + 12 * HOUR; /* back on the 4th at noon */

        ASSERT_OK(yb_scheduler_new(&s));
        ASSERT_OK(yb_scheduler_add(s, "payroll", "incremental", incr, last, restart));
        ASSERT_OK(yb_scheduler_run_due(s, restart, count, &c));
        ASSERT_EQ(c.incremental, 1); /* three missed runs, one catch-up */
        ASSERT_EQ(c.catch_up, 1);
        ASSERT_EQ(c.last_due, START + DAY + 2 * HOUR); /* the first missed one */
        /* Then the normal rhythm: the 5th at 02:00 is next. */
        ASSERT_EQ(yb_scheduler_next_wakeup(s), START + 4 * DAY + 2 * HOUR);
        ASSERT_OK(yb_scheduler_run_due(s, restart + HOUR, count, &c));
        ASSERT_EQ(c.incremental, 1);
}

TEST(nothing_missed_no_catch_up) {
        _cleanup_(yb_scheduler_freep) YbScheduler *s = NULL;
        _cleanup_(yb_calendar_freep) YbCalendar *incr = cal("daily");
        Count c = { 0 };

        ASSERT_OK(yb_scheduler_new(&s));
        /* Last ran at midnight; restarted before the next midnight. */
        ASSERT_OK(yb_scheduler_add(s, "x", "incremental", incr, START, START + 5 * HOUR));
        ASSERT_OK(yb_scheduler_run_due(s, START + 5 * HOUR, count, &c));
        ASSERT_EQ(c.incremental, 0);
}

TEST(full_covers_differential_and_incremental) {
        _cleanup_(yb_scheduler_freep) YbScheduler *s = NULL;
        _cleanup_(yb_calendar_freep) YbCalendar *full = cal("*-*-01 03:00 UTC");
        _cleanup_(yb_calendar_freep) YbCalendar *diff = cal("Sun *-*-* 03:00 UTC");
        _cleanup_(yb_calendar_freep) YbCalendar *incr = cal("*-*-* 03:00 UTC");
        Count c = { 0 };

        ASSERT_OK(yb_scheduler_new(&s));
        ASSERT_OK(yb_scheduler_add(s, "a", "full", full, 0, START));
        ASSERT_OK(yb_scheduler_add(s, "a", "differential", diff, 0, START));
        ASSERT_OK(yb_scheduler_add(s, "a", "incremental", incr, 0, START));
        /* Another system's schedule is independent. */
        ASSERT_OK(yb_scheduler_add(s, "b", "incremental", incr, 0, START));
        simulate(s, START, START + 30 * DAY - 1, &c);
        ASSERT_EQ(c.full, 1);              /* Nov 1 (a Sunday too) */
        ASSERT_EQ(c.differential, 4);      /* the 8th, 15th, 22nd, 29th */
        ASSERT_EQ(c.incremental, 25 + 30); /* a: the other 25 days; b: all 30 */
}
