/* Calendar expressions: parsing, messages, the normal form and next elapses. Expected normal
 * forms and elapses were taken from systemd-analyze 252 (tests/integration/calendar-vs-systemd.sh
 * compares many more); the brute-force cases check the search against a minute-by-minute scan. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "core/base/timeutil.h"
#include "policies/calendar.h"
#include "tests/unit/test.h"

static int64_t usec_of(const char *iso) {
        int64_t ns;

        if (yb_time_parse(iso, &ns) < 0)
                fail_msg("bad time in test: %s", iso);
        return ns / 1000;
}

static char *iso_of(int64_t usec) {
        char buf[32];

        yb_time_format_iso(usec * 1000, buf);
        return strdup(buf);
}

static YbCalendar *parse_ok(const char *text) {
        YbCalendar *c = NULL;
        char err[256];

        if (yb_calendar_parse(text, &c, err, sizeof(err)) < 0)
                fail_msg("yb_calendar_parse(\"%s\") failed: %s", text, err);
        return c;
}

static void assert_normal_form(const char *text, const char *want) {
        _cleanup_(yb_calendar_freep) YbCalendar *c = parse_ok(text), *again = NULL;
        _cleanup_free_ char *s = yb_calendar_to_string(c), *s2 = NULL;

        if (!s || !streq(s, want))
                fail_msg("\"%s\" normalises to \"%s\", want \"%s\"", text, s, want);
        /* The normal form is itself an expression with the same normal form. */
        again = parse_ok(s);
        s2 = yb_calendar_to_string(again);
        ASSERT_STREQ(s2, want);
}

static void assert_refused(const char *text, const char *want) {
        YbCalendar *c = NULL;
        char err[256] = "unchanged";
        int r = yb_calendar_parse(text, &c, err, sizeof(err));

        if (r != -EINVAL)
                fail_msg("yb_calendar_parse(\"%s\") returned %d, want -EINVAL", text, r);
        ASSERT_TRUE(c == NULL); /* out-parameters are written only on success */
        if (!streq(err, want))
                fail_msg("\"%s\": message \"%s\", want \"%s\"", text, err, want);
}

/* The next n elapses after base, each from the one before (as a scheduler does). */
static void assert_elapses(const char *text, const char *base, const char *const *want, size_t n) {
        _cleanup_(yb_calendar_freep) YbCalendar *c = parse_ok(text);
        int64_t t = usec_of(base);

        for (size_t i = 0; i < n; i++) {
                int64_t next = -1;
                int r = yb_calendar_next(c, t, &next);

                if (r < 0)
                        fail_msg("\"%s\": elapse %zu after %s: %s", text, i + 1, base,
                                 strerror(-r));
                if (next != usec_of(want[i])) {
                        _cleanup_free_ char *got = iso_of(next);
                        fail_msg("\"%s\": elapse %zu after %s is %s, want %s", text, i + 1, base,
                                 got, want[i]);
                }
                ASSERT_GT(next, t);
                t = next;
        }
}
#define ELAPSES(text, base, ...)                                                                   \
        do {                                                                                       \
                static const char *const _want[] = { __VA_ARGS__ };                                \
                assert_elapses(text, base, _want, ELEMENTSOF(_want));                              \
        } while (0)

static void assert_never(const char *text, const char *base) {
        _cleanup_(yb_calendar_freep) YbCalendar *c = parse_ok(text);
        int64_t next = 42;

        ASSERT_ERR(yb_calendar_next(c, usec_of(base), &next), ENOENT);
        ASSERT_EQ(next, 42);
}

TEST(normal_forms) {
        static const char *const cases[][2] = {
                { "Sun *-*-* 01:00 Asia/Shanghai", "Sun *-*-* 01:00:00 Asia/Shanghai" },
                { "Mon..Sat", "Mon..Sat *-*-* 00:00:00" },
                { "*-*-01..07", "*-*-01..07 00:00:00" },
                { "Mon,Wed..Fri 2024..2030-*-* 0/3:15/20:05,10",
                  "Mon,Wed..Fri 2024..2030-*-* 00/3:15/20:05,10" },
                { "Mon-Fri", "Mon..Fri *-*-* 00:00:00" },
                { "Monday..Wednesday,Sat", "Mon..Wed,Sat *-*-* 00:00:00" },
                { "Sat,Sun,Mon", "Mon,Sat,Sun *-*-* 00:00:00" },
                { "Mon,Tue,Wed", "Mon..Wed *-*-* 00:00:00" },
                { "Mon,Wed,Fri,Sat,Sun", "Mon,Wed,Fri..Sun *-*-* 00:00:00" },
                { "sat..sun", "Sat,Sun *-*-* 00:00:00" },
                { "Mon..Sun", "*-*-* 00:00:00" },
                { "Mon,Mon", "Mon *-*-* 00:00:00" },
                { "mon,", "Mon *-*-* 00:00:00" },
                { "Mon  10:00", "Mon *-*-* 10:00:00" },
                { "24..30-*-*", "2024..2030-*-* 00:00:00" },
                { "0-1-1", "2000-01-01 00:00:00" },
                { "99-1-1", "1999-01-01 00:00:00" },
                { "00010-1-1", "2010-01-01 00:00:00" },
                { "*-*-1..8/2", "*-*-01..07/2 00:00:00" },
                { "*-*-3/1", "*-*-03/1 00:00:00" },
                { "*-1..12/3-01", "*-01..10/3-01 00:00:00" },
                { "2024-1,3,2-1/10", "2024-01,02,03-01/10 00:00:00" },
                { "*-*-* 1,3,3,2:00", "*-*-* 01,02,03:00:00" },
                { "*-*-01,1 00:00", "*-*-01 00:00:00" },
                { "*-*-* 0..23/5:00", "*-*-* 00..20/5:00:00" },
                { "5..5:00", "*-*-* 05:00:00" },
                { "*:*:0/1", "*-*-* *:*:*" },
                { "*:*:*", "*-*-* *:*:*" },
                { "*:*:00..30", "*-*-* *:*:00..30" },
                { "*-*-* 00:00:0..59/1", "*-*-* 00:00:00..59" },
                { "*:0/1", "*-*-* *:00/1:00" },
                { "*-02-30", "*-02-30 00:00:00" },
                { "12:00 utc", "*-*-* 12:00:00 UTC" },
                { "*-*-* 10:00 Etc/UTC", "*-*-* 10:00:00 Etc/UTC" },
                { "daily Asia/Shanghai", "*-*-* 00:00:00 Asia/Shanghai" },
                /* Shorthands, as systemd expands them. */
                { "minutely", "*-*-* *:*:00" },
                { "hourly", "*-*-* *:00:00" },
                { "daily", "*-*-* 00:00:00" },
                { "DAILY", "*-*-* 00:00:00" },
                { "weekly", "Mon *-*-* 00:00:00" },
                { "monthly", "*-*-01 00:00:00" },
                { "yearly", "*-01-01 00:00:00" },
                { "annually", "*-01-01 00:00:00" },
                { "quarterly", "*-01,04,07,10-01 00:00:00" },
                { "semiannually", "*-01,07-01 00:00:00" },
                { "semi-annually", "*-01,07-01 00:00:00" },
                /* Blanks around and between parts are fine (systemd refuses some of them). */
                { "  daily  ", "*-*-* 00:00:00" },
                { "Mon\t10:00   Asia/Shanghai", "Mon *-*-* 10:00:00 Asia/Shanghai" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++)
                assert_normal_form(cases[i][0], cases[i][1]);
}

TEST(errors_for_people) {
        assert_refused("Mnday 10:00", "unknown weekday 'Mnday'");
        assert_refused("*-*-* 25:00", "hour 25 is out of range 0..23");
        assert_refused("daily Asia/Shangai", "unknown time zone 'Asia/Shangai'");
        assert_refused("*-*-* 10:00 /etc/localtime", "unknown time zone '/etc/localtime'");
        assert_refused("*-*-* 10:00 Asia/../../etc/passwd",
                       "unknown time zone 'Asia/../../etc/passwd'");
        assert_refused("*-*~01", "'~' (days from the end of the month) is not supported");
        assert_refused("2024-02~1", "'~' (days from the end of the month) is not supported");
        assert_refused("*-*-01~", "'~' (days from the end of the month) is not supported");
        assert_refused("*:60", "minute 60 is out of range 0..59");
        assert_refused("*:*:60", "second 60 is out of range 0..59");
        assert_refused("*-13-01", "month 13 is out of range 1..12");
        assert_refused("*-*-32", "day 32 is out of range 1..31");
        assert_refused("*-*-0", "day 0 is out of range 1..31");
        assert_refused("*-*-* 22..25:00", "hour 25 is out of range 0..23");
        assert_refused("1969-01-01", "year 1969 is out of range 1970..2199");
        assert_refused("2200-01-01", "year 2200 is out of range 1970..2199");
        assert_refused("100-01-01", "year 100 is out of range 1970..2199");
        assert_refused("*:*:1.5", "fractional seconds ('1.5') are not supported");
        assert_refused("Fri..Mon", "weekday range 'Fri..Mon' goes backwards (weeks start on "
                                   "Monday: write 'Fri..Sun,Mon')");
        assert_refused("Sat..Tue", "weekday range 'Sat..Tue' goes backwards (weeks start on "
                                   "Monday: write 'Sat..Sun,Mon..Tue')");
        assert_refused("Mon..Wed..Fri",
                       "a weekday range in 'Mon..Wed..Fri' has more than two ends");
        assert_refused("Mon..", "weekday range in 'Mon..' has no end");
        assert_refused("Mon.Fri", "unexpected '.' in 'Mon.Fri'");
        assert_refused("*:*/15", "'*/15' is not supported: give the step a start, such as "
                                 "'0/15' (or '1/15' for days and months)");
        assert_refused("*:50/20", "minute 50/20 never repeats: 70 is past 59");
        assert_refused("*-*-* 23/1:00", "hour 23/1 never repeats: 24 is past 23");
        assert_refused("*:0/0", "a step of 0 in '*:0/0' is not allowed");
        assert_refused("*:0/60", "minute step 60 is too large for 0..59");
        assert_refused("*-*-7..1", "day range 7..1 goes backwards");
        assert_refused("*:00:05..05", "second range 5..5 is empty");
        assert_refused("", "empty calendar expression");
        assert_refused(" \t ", "empty calendar expression");
        assert_refused("@1700000000", "'@' timestamps ('@1700000000') are not supported");
        assert_refused("dayly", "'dayly' is neither a weekday nor a shorthand (minutely, hourly, "
                                "daily, weekly, monthly, yearly, quarterly, semiannually)");
        assert_refused("Asia/Shanghai", "'Asia/Shanghai' is only a time zone: put it after a "
                                        "date or time, as in 'daily Asia/Shanghai'");
        assert_refused("10:00 Mon", "'Mon' at the end is not a time zone (weekdays come first, "
                                    "before the date and time)");
        assert_refused("10", "'10' is neither a date (such as *-*-01) nor a time (such as 10:00)");
        assert_refused("Mon 5 10:00",
                       "'5' is neither a date (such as *-*-01) nor a time (such as 10:00)");
        assert_refused("10:00:00:00", "unexpected ':' in '10:00:00:00'");
        assert_refused("10:00 11:00", "unexpected '11:00' after '10:00'");
        assert_refused("*-*-* x:00", "expected a number or '*' at 'x:00' in 'x:00'");
        assert_refused("1,:00", "expected a number or '*' at ':00' in '1,:00'");
        assert_refused("1234567890:00", "number '1234567890' is too large");
        assert_refused("*-*-* 10:00\x01", "unexpected byte 0x01 in '10:00\x01'");
}

TEST(error_buffer_is_optional_and_bounded) {
        _cleanup_free_ char *huge = malloc(5000);
        YbCalendar *c = NULL;
        char small[8];

        ASSERT_ERR(yb_calendar_parse("*-*-* 25:00", &c, NULL, 0), EINVAL);
        memset(small, 'x', sizeof(small));
        ASSERT_ERR(yb_calendar_parse("*-*-* 25:00", &c, small, sizeof(small)), EINVAL);
        ASSERT_STREQ(small, "hour 25"); /* truncated, terminated */

        assert_non_null(huge);
        memset(huge, '1', 4999);
        huge[4999] = 0;
        assert_refused(huge, "calendar expression is too long (more than 1024 characters)");
}

TEST(next_in_utc) {
        /* Weekdays, and strictly after: a base on an elapse gives the one after it. */
        ELAPSES("Mon..Fri 10:00 UTC", "2024-01-05T10:00:00Z", "2024-01-08T10:00:00Z",
                "2024-01-09T10:00:00Z", "2024-01-10T10:00:00Z", "2024-01-11T10:00:00Z",
                "2024-01-12T10:00:00Z", "2024-01-15T10:00:00Z");
        /* A fraction of a second past the base counts. */
        ELAPSES("*:*:* UTC", "2024-01-05T10:00:00.5Z", "2024-01-05T10:00:01Z",
                "2024-01-05T10:00:02Z");
        ELAPSES("*:*:* UTC", "2024-01-05T10:00:00.999999Z", "2024-01-05T10:00:01Z");
        /* A step without an end restarts from its start each hour; it does not carry over. */
        ELAPSES("*:0/25 UTC", "2024-01-05T10:51:00Z", "2024-01-05T11:00:00Z",
                "2024-01-05T11:25:00Z", "2024-01-05T11:50:00Z", "2024-01-05T12:00:00Z");
        ELAPSES("*-*-* 00/5:00:00 UTC", "2024-01-05T21:00:00Z", "2024-01-06T00:00:00Z",
                "2024-01-06T05:00:00Z");
        ELAPSES("*:*:10..50/20 UTC", "2024-01-05T10:00:45Z", "2024-01-05T10:00:50Z",
                "2024-01-05T10:01:10Z", "2024-01-05T10:01:30Z", "2024-01-05T10:01:50Z");
        /* Month ends: the 31st only in long months, the 29th of February in leap years. */
        ELAPSES("*-*-31 UTC", "2024-01-31T00:00:00Z", "2024-03-31T00:00:00Z",
                "2024-05-31T00:00:00Z", "2024-07-31T00:00:00Z", "2024-08-31T00:00:00Z",
                "2024-10-31T00:00:00Z", "2024-12-31T00:00:00Z");
        ELAPSES("*-*-29,30,31 23:00 UTC", "2023-01-31T23:00:00Z", "2023-03-29T23:00:00Z",
                "2023-03-30T23:00:00Z", "2023-03-31T23:00:00Z", "2023-04-29T23:00:00Z");
        ELAPSES("*-*-29,30,31 23:00 UTC", "2024-02-01T00:00:00Z", "2024-02-29T23:00:00Z",
                "2024-03-29T23:00:00Z");
        ELAPSES("*-02-29 12:00 UTC", "2024-03-01T00:00:00Z", "2028-02-29T12:00:00Z",
                "2032-02-29T12:00:00Z");
        ELAPSES("Mon *-02-29 UTC", "2016-03-01T00:00:00Z", "2044-02-29T00:00:00Z",
                "2072-02-29T00:00:00Z");
        ELAPSES("Fri *-*-13 UTC", "2024-01-01T00:00:00Z", "2024-09-13T00:00:00Z",
                "2024-12-13T00:00:00Z", "2025-06-13T00:00:00Z");
        ELAPSES("Mon *-*-01..07 09:00 UTC", "2024-01-01T09:00:00Z", "2024-02-05T09:00:00Z",
                "2024-03-04T09:00:00Z");
        ELAPSES("2025/2-01-01 UTC", "2024-06-01T00:00:00Z", "2025-01-01T00:00:00Z",
                "2027-01-01T00:00:00Z", "2029-01-01T00:00:00Z");
        ELAPSES("*-1/5-1 UTC", "2024-02-01T00:00:00Z", "2024-06-01T00:00:00Z",
                "2024-11-01T00:00:00Z", "2025-01-01T00:00:00Z");
        ELAPSES("2199-12-31 23:59:59 UTC", "2024-01-01T00:00:00Z", "2199-12-31T23:59:59Z");
        /* Shorthands. */
        ELAPSES("minutely UTC", "2024-01-05T10:00:00Z", "2024-01-05T10:01:00Z");
        ELAPSES("hourly UTC", "2024-01-05T10:00:00Z", "2024-01-05T11:00:00Z");
        ELAPSES("daily UTC", "2024-01-05T10:00:00Z", "2024-01-06T00:00:00Z");
        ELAPSES("weekly UTC", "2024-01-08T00:00:00Z", "2024-01-15T00:00:00Z",
                "2024-01-22T00:00:00Z");
        ELAPSES("monthly UTC", "2024-01-31T00:00:00Z", "2024-02-01T00:00:00Z",
                "2024-03-01T00:00:00Z");
        ELAPSES("quarterly UTC", "2024-01-01T00:00:00Z", "2024-04-01T00:00:00Z",
                "2024-07-01T00:00:00Z", "2024-10-01T00:00:00Z", "2025-01-01T00:00:00Z");
        ELAPSES("semiannually UTC", "2024-01-01T00:00:00Z", "2024-07-01T00:00:00Z",
                "2025-01-01T00:00:00Z");
        ELAPSES("yearly UTC", "2024-01-01T00:00:00Z", "2025-01-01T00:00:00Z");
}

TEST(never_again) {
        assert_never("*-02-30", "2024-01-01T00:00:00Z");
        assert_never("*-04-31 UTC", "2024-01-01T00:00:00Z");
        assert_never("2023-01-01", "2024-01-01T00:00:00Z");
        assert_never("2023-02-29 UTC", "2020-01-01T00:00:00Z");
        assert_never("2199-12-31 23:59:59 UTC", "2199-12-31T23:59:59Z");
        assert_never("daily UTC", "2250-01-01T00:00:00Z");
        assert_never("2024..2026-06-01 Asia/Shanghai", "2026-06-01T00:00:00Z");
}

TEST(next_in_asia_shanghai) {
        char *saved = test_tz_push("America/New_York"); /* the local zone must not matter */

        ELAPSES("Sun *-*-* 01:00 Asia/Shanghai", "2023-11-14T22:13:20Z", "2023-11-18T17:00:00Z",
                "2023-11-25T17:00:00Z", "2023-12-02T17:00:00Z");
        ELAPSES("Mon..Fri 09:00 Asia/Shanghai", "2024-01-05T02:00:00Z", "2024-01-08T01:00:00Z",
                "2024-01-09T01:00:00Z");
        ELAPSES("monthly Asia/Shanghai", "2024-01-31T16:00:00Z", "2024-02-29T16:00:00Z");
        ASSERT_STREQ(getenv("TZ"), "America/New_York");
        test_tz_pop(saved);
}

TEST(next_across_dst_in_europe_berlin) {
        /* 2024-03-31: 02:00 CET becomes 03:00 CEST, so 02:30 does not exist that day. */
        ELAPSES("*-*-* 02:30 Europe/Berlin", "2024-03-29T12:00:00Z", "2024-03-30T01:30:00Z",
                "2024-04-01T00:30:00Z", "2024-04-02T00:30:00Z");
        ELAPSES("*:30 Europe/Berlin", "2024-03-30T23:00:00Z", "2024-03-30T23:30:00Z",
                "2024-03-31T00:30:00Z", "2024-03-31T01:30:00Z");
        /* 2024-10-27: 03:00 CEST becomes 02:00 CET, so 02:xx happens twice: the first one fires,
         * and the second does not fire again... */
        ELAPSES("*:30 Europe/Berlin", "2024-10-26T22:00:00Z", "2024-10-26T22:30:00Z",
                "2024-10-26T23:30:00Z", "2024-10-27T00:30:00Z", "2024-10-27T02:30:00Z",
                "2024-10-27T03:30:00Z");
        ELAPSES("*-*-* 02:30 Europe/Berlin", "2024-10-26T22:00:00Z", "2024-10-27T00:30:00Z",
                "2024-10-28T01:30:00Z");
        /* ... unless the base is already inside the second one. */
        ELAPSES("*:30 Europe/Berlin", "2024-10-27T01:10:00Z", "2024-10-27T01:30:00Z",
                "2024-10-27T02:30:00Z");
        ELAPSES("Sun *-*-* 02:00 Europe/Berlin", "2024-03-25T00:00:00Z", "2024-04-07T00:00:00Z");
}

TEST(next_across_dst_in_america_new_york) {
        /* 2024-03-10: 02:00 EST becomes 03:00 EDT. */
        ELAPSES("*-*-* 02:30 America/New_York", "2024-03-09T12:00:00Z", "2024-03-11T06:30:00Z",
                "2024-03-12T06:30:00Z");
        /* 2024-11-03: 02:00 EDT becomes 01:00 EST. */
        ELAPSES("*-*-* 01:30 America/New_York", "2024-11-02T12:00:00Z", "2024-11-03T05:30:00Z",
                "2024-11-04T06:30:00Z");
        ELAPSES("*:00/30 America/New_York", "2024-11-03T05:00:00Z", "2024-11-03T05:30:00Z",
                "2024-11-03T07:00:00Z", "2024-11-03T07:30:00Z");
        /* Lord Howe Island moves by half an hour. */
        ELAPSES("*-*-* 01:45 Australia/Lord_Howe", "2024-04-06T12:00:00Z", "2024-04-06T14:45:00Z",
                "2024-04-07T15:15:00Z");
}

TEST(local_zone_is_tz) {
        char *saved = test_tz_push("Europe/Berlin");

        ELAPSES("*-*-* 02:30", "2024-03-29T12:00:00Z", "2024-03-30T01:30:00Z",
                "2024-04-01T00:30:00Z");
        ASSERT_STREQ(getenv("TZ"), "Europe/Berlin");
        setenv("TZ", "Asia/Shanghai", 1);
        tzset();
        ELAPSES("daily", "2024-01-01T00:00:00Z", "2024-01-01T16:00:00Z");
        test_tz_pop(saved);
}

TEST(zone_switch_restores_tz) {
        /* Zones no other case uses: reading a zone (once per process) is when TZ is switched. */
        _cleanup_(yb_calendar_freep) YbCalendar *c = parse_ok("daily America/Anchorage"),
                                                *c2 = parse_ok("daily Pacific/Honolulu");
        char *saved = test_tz_push("Asia/Tokyo");
        time_t t = 1700000000; /* 2023-11-14T22:13:20Z: 07:13 the next day in Tokyo */
        struct tm tm;
        int64_t next;

        ASSERT_OK(yb_calendar_next(c, usec_of("2024-01-01T00:00:00Z"), &next));
        ASSERT_EQ(next, usec_of("2024-01-01T09:00:00Z"));
        ASSERT_STREQ(getenv("TZ"), "Asia/Tokyo");
        localtime_r(&t, &tm);
        ASSERT_EQ(tm.tm_hour, 7);

        unsetenv("TZ");
        tzset();
        ASSERT_OK(yb_calendar_next(c2, usec_of("2024-01-01T00:00:00Z"), &next));
        ASSERT_EQ(next, usec_of("2024-01-01T10:00:00Z"));
        ASSERT_TRUE(getenv("TZ") == NULL);
        test_tz_pop(saved);
}

/* Brute force: the first minute after base (at most ~3 years on) for which match() holds. */
static int64_t scan(int64_t base_sec, bool (*match)(const struct tm *tm)) {
        for (int64_t t = base_sec / 60 * 60 + 60; t < base_sec + 3LL * 366 * 86400; t += 60) {
                time_t tt = (time_t) t;
                struct tm tm;

                gmtime_r(&tt, &tm);
                if (match(&tm))
                        return t;
        }
        return -1;
}

static bool match_a(const struct tm *tm) { /* Mon..Fri *-*-1..7 0/6:15,45 */
        return tm->tm_wday >= 1 && tm->tm_wday <= 5 && tm->tm_mday <= 7 && tm->tm_hour % 6 == 0 &&
               (tm->tm_min == 15 || tm->tm_min == 45);
}

static bool match_b(const struct tm *tm) { /* *-1/2-29..31 23:0/20 */
        return tm->tm_mon % 2 == 0 && tm->tm_mday >= 29 && tm->tm_hour == 23 &&
               tm->tm_min % 20 == 0;
}

static bool match_c(const struct tm *tm) { /* Sat,Sun *-02,03-* 1..13/4:07 */
        return (tm->tm_wday == 0 || tm->tm_wday == 6) && (tm->tm_mon == 1 || tm->tm_mon == 2) &&
               (tm->tm_hour == 1 || tm->tm_hour == 5 || tm->tm_hour == 9 || tm->tm_hour == 13) &&
               tm->tm_min == 7;
}

static bool match_d(const struct tm *tm) { /* Thu *-*-22..28 12:00 (fourth Thursday) */
        return tm->tm_wday == 4 && tm->tm_mday >= 22 && tm->tm_mday <= 28 && tm->tm_hour == 12 &&
               tm->tm_min == 0;
}

TEST(next_matches_a_minute_by_minute_scan) {
        static const struct {
                const char *expr;
                bool (*match)(const struct tm *tm);
        } cases[] = {
                { "Mon..Fri *-*-1..7 0/6:15,45 UTC", match_a },
                { "*-1/2-29..31 23:0/20 UTC", match_b },
                { "Sat,Sun *-02,03-* 1..13/4:07 UTC", match_c },
                { "Thu *-*-22..28 12:00 UTC", match_d },
        };
        uint64_t x = 88172645463325252ULL;

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_(yb_calendar_freep) YbCalendar *c = parse_ok(cases[i].expr);

                for (int k = 0; k < 12; k++) {
                        /* Bases spread over 2020..2027, some on whole minutes. */
                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        int64_t base = 1577836800 + (int64_t) (x % (8ULL * 365 * 86400));
                        int64_t next, want;

                        if (k % 3 == 0)
                                base -= base % 60;
                        want = scan(base, cases[i].match);
                        ASSERT_GT(want, 0);
                        ASSERT_OK(yb_calendar_next(c, base * 1000000, &next));
                        if (next != want * 1000000)
                                fail_msg("\"%s\" after @%lld: @%lld, want @%lld", cases[i].expr,
                                         (long long) base, (long long) (next / 1000000),
                                         (long long) want);
                }
        }
}

/* Searches in different zones at once must each see their own zone. */
typedef struct Worker {
        const char *expr;
        int64_t base, want;
        int bad;
} Worker;

static void *worker(void *p) {
        Worker *w = p;
        YbCalendar *c = NULL;

        if (yb_calendar_parse(w->expr, &c, NULL, 0) < 0) {
                w->bad = -1;
                return NULL;
        }
        for (int i = 0; i < 300; i++) {
                int64_t next;

                if (yb_calendar_next(c, w->base, &next) < 0 || next != w->want)
                        w->bad++;
        }
        yb_calendar_free(c);
        return NULL;
}

TEST(threads_see_their_own_zone) {
        Worker w[] = {
                { "daily Asia/Shanghai", usec_of("2024-01-01T00:00:00Z"),
                  usec_of("2024-01-01T16:00:00Z"), 0 },
                { "daily America/New_York", usec_of("2024-01-01T00:00:00Z"),
                  usec_of("2024-01-01T05:00:00Z"), 0 },
                { "daily Europe/Berlin", usec_of("2024-01-01T00:00:00Z"),
                  usec_of("2024-01-01T23:00:00Z"), 0 },
                { "daily UTC", usec_of("2024-01-01T00:00:00Z"), usec_of("2024-01-02T00:00:00Z"),
                  0 },
        };
        pthread_t th[ELEMENTSOF(w)];

        for (size_t i = 0; i < ELEMENTSOF(w); i++)
                ASSERT_EQ(pthread_create(&th[i], NULL, worker, &w[i]), 0);
        for (size_t i = 0; i < ELEMENTSOF(w); i++) {
                ASSERT_EQ(pthread_join(th[i], NULL), 0);
                if (w[i].bad != 0)
                        fail_msg("%s: %d wrong answers", w[i].expr, w[i].bad);
        }
}

TEST(skipped_hour_in_a_zone_whose_winter_is_dst) {
        /* Europe/Dublin marks winter (GMT) as its DST, so glibc reads the skipped 01:xx of
         * 2024-03-31 as 00:xx, before the base: systemd then retries an hour later, keeping the
         * tm_isdst it found, and lands after the gap. */
        ELAPSES("*:44 Europe/Dublin", "2024-03-31T00:46:40Z", "2024-03-31T01:44:00Z",
                "2024-03-31T02:44:00Z");
        ELAPSES("*-*-* 01:30 Europe/Dublin", "2024-03-30T12:00:00Z", "2024-04-01T00:30:00Z",
                "2024-04-02T00:30:00Z");
        ELAPSES("*-*-* 01:30 Europe/Dublin", "2024-10-26T12:00:00Z", "2024-10-27T00:30:00Z",
                "2024-10-28T01:30:00Z");
        /* And where the skipped 01:00 is read backwards the rest of that day is skipped too:
         * 13:00 IST on 2024-03-31 does not fire (as in systemd). */
        ELAPSES("*-*-* 1,13:00 Europe/Dublin", "2024-03-30T22:00:00Z", "2024-04-01T00:00:00Z",
                "2024-04-01T12:00:00Z");
}

TEST(systemd_quirks_are_kept) {
        /* Months 1, 11 and 8 with day 31: from November, "1/10" gives 21, which normalises into
         * the next September; in UTC systemd's search recovers (January)... */
        ELAPSES("*-01/10,08-31 08:00 UTC", "2023-11-14T22:13:20Z", "2024-01-31T08:00:00Z",
                "2024-08-31T08:00:00Z");
        /* ... in a DST zone it goes round in circles and gives up (systemd-analyze: "Resource
         * deadlock avoided"); so do we, as "never". */
        assert_never("*-01/10,08-31 08:00 Europe/Berlin", "2023-11-14T22:13:20Z");
        assert_refused("daily right/UTC", "time zones with leap seconds ('right/UTC') are not "
                                          "supported");
}

/* Noon in each zone, found by scanning libc's localtime() minute by minute: checks the offsets
 * that calendar.c reads once and keeps, in zones with odd offsets and DST rules. */
TEST(zone_offsets_match_libc) {
        static const char *const zones[] = {
                "Asia/Shanghai",   "Europe/Berlin",     "America/New_York", "Australia/Lord_Howe",
                "Europe/Dublin",   "Africa/Casablanca", "America/Santiago", "Asia/Kathmandu",
                "Pacific/Chatham", "Pacific/Apia",      "Antarctica/Troll", "America/St_Johns",
                "Asia/Tehran",     "Europe/Moscow",     "America/Havana",   "Pacific/Kiritimati",
        };
        uint64_t x = 0x9e3779b97f4a7c15ULL;

        for (size_t i = 0; i < ELEMENTSOF(zones); i++) {
                _cleanup_free_ char *expr = NULL;
                _cleanup_(yb_calendar_freep) YbCalendar *c = NULL;

                assert_true(asprintf(&expr, "12:00 %s", zones[i]) > 0);
                c = parse_ok(expr);
                for (int k = 0; k < 12; k++) {
                        char *saved;
                        int64_t base, want = -1, next;

                        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                        base = 1104537600 + (int64_t) (x % (30ULL * 365 * 86400)); /* 2005.. */
                        saved = test_tz_push(zones[i]);
                        for (int64_t t = base / 60 * 60 + 60; t < base + 3 * 86400; t += 60) {
                                time_t tt = (time_t) t;
                                struct tm tm;

                                localtime_r(&tt, &tm);
                                if (tm.tm_hour == 12 && tm.tm_min == 0 && tm.tm_sec == 0) {
                                        want = t;
                                        break;
                                }
                        }
                        test_tz_pop(saved);
                        ASSERT_GT(want, 0);
                        ASSERT_OK(yb_calendar_next(c, base * 1000000, &next));
                        if (next != want * 1000000)
                                fail_msg("\"%s\" after @%lld: @%lld, libc says @%lld", expr,
                                         (long long) base, (long long) (next / 1000000),
                                         (long long) want);
                }
        }
}

TEST(zone_file_change_is_noticed) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *path = test_tmpdir_path(d, "localtime");
        YbBuf shanghai = YB_BUF_INIT, new_york = YB_BUF_INIT;
        char *saved;

        test_read_file(AT_FDCWD, "/usr/share/zoneinfo/Asia/Shanghai", &shanghai);
        test_read_file(AT_FDCWD, "/usr/share/zoneinfo/America/New_York", &new_york);
        test_write_file(d->fd, "localtime", shanghai.data, shanghai.size);
        saved = test_tz_push(path); /* TZ=/path/to/file: the local zone is that file */
        ELAPSES("daily", "2024-01-01T00:00:00Z", "2024-01-01T16:00:00Z");
        /* As when tzdata is upgraded, or the administrator changes the local zone. */
        test_write_file(d->fd, "localtime", new_york.data, new_york.size);
        ELAPSES("daily", "2024-01-01T00:00:00Z", "2024-01-01T05:00:00Z");
        test_tz_pop(saved);
        yb_buf_done(&shanghai);
        yb_buf_done(&new_york);
}
