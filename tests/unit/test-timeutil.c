#include <stdlib.h>
#include <time.h>

#include "core/base/timeutil.h"
#include "tests/unit/test.h"

#define NS(sec) ((int64_t) (sec) *YB_NSEC_PER_SEC)
#define T_2026_11_21_10Z 1795255200LL /* 2026-11-21T10:00:00Z */

static void assert_parses(const char *s, int64_t want) {
        int64_t got = -1;
        int r = yb_time_parse(s, &got);

        if (r < 0)
                fail_msg("yb_time_parse(\"%s\") failed: %d", s, r);
        if (got != want)
                fail_msg("yb_time_parse(\"%s\") = %lld, want %lld", s, (long long) got,
                         (long long) want);
}

static void assert_rejected(const char *s) {
        int64_t got = 42;
        int r = yb_time_parse(s, &got);

        if (r != -EINVAL)
                fail_msg("yb_time_parse(\"%s\") returned %d (%lld), want -EINVAL", s, r,
                         (long long) got);
        ASSERT_EQ(got, 42); /* out-parameters are written only on success */
}

TEST(parse_zones_and_forms) {
        assert_parses("2026-11-21T10:00:00Z", NS(T_2026_11_21_10Z));
        assert_parses("2026-11-21T18:00:00+08:00", NS(T_2026_11_21_10Z));
        assert_parses("2026-11-21T05:00:00-05:00", NS(T_2026_11_21_10Z));
        assert_parses("2026-11-21T10:00:00+00:00", NS(T_2026_11_21_10Z));
        assert_parses("2026-11-21T15:30:00+05:30", NS(T_2026_11_21_10Z));
        assert_parses("2026-11-21 10:00:00Z", NS(T_2026_11_21_10Z));
        assert_parses("2026-11-21T10:00Z", NS(T_2026_11_21_10Z));
        assert_parses("20261121T100000Z", NS(T_2026_11_21_10Z));
        assert_parses("2026-11-22T01:00:00+15:00", NS(T_2026_11_21_10Z)); /* crosses a day */
        assert_parses("1970-01-01T00:00:00Z", 0);
        assert_parses("2000-03-01T00:00:00Z", NS(951868800)); /* after a leap day */
}

TEST(parse_fractional_seconds) {
        assert_parses("2026-11-21T10:00:00.5Z", NS(T_2026_11_21_10Z) + 500000000);
        assert_parses("2026-11-21T10:00:00.123456789Z", NS(T_2026_11_21_10Z) + 123456789);
        assert_parses("2026-11-21T10:00:00.000000001Z", NS(T_2026_11_21_10Z) + 1);
        assert_parses("2026-11-21T18:00:00.25+08:00", NS(T_2026_11_21_10Z) + 250000000);
        /* Digits past nanoseconds are dropped, not rounded or overflowed. */
        assert_parses("2026-11-21T10:00:00.1234567891234Z", NS(T_2026_11_21_10Z) + 123456789);
}

TEST(parse_without_zone_is_local_time) {
        _cleanup_free_ char *saved = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

        setenv("TZ", "CST-8", 1); /* POSIX form of UTC+8, no zoneinfo needed */
        tzset();
        assert_parses("2026-11-21T18:00:00", NS(T_2026_11_21_10Z));
        assert_parses("2026-11-21", NS(T_2026_11_21_10Z - 18 * 3600)); /* 16:00Z the day before */
        setenv("TZ", "UTC", 1);
        tzset();
        assert_parses("2026-11-21T10:00:00.5", NS(T_2026_11_21_10Z) + 500000000);
        if (saved)
                setenv("TZ", saved, 1);
        else
                unsetenv("TZ");
        tzset();
}

TEST(parse_rejects_garbage) {
        static const char *const bad[] = {
                "",
                "garbage",
                "2026",
                "2026-11",
                "2026-11-21T",
                "2026-11-21T10",
                "2026-11-21T10:",
                "2026-11-21T10:00:",
                "2026-11-21X10:00:00Z",
                "2026-11-21T10:00:00Zjunk",
                "2026-11-21T10:00:00 Z",
                "2026-11-21T10:00:00+08",
                "2026-11-21T10:00:00+08:00junk",
                "2026-11-21T10:00:00Q",
                "2026-13-01T00:00:00Z",
                "2026-00-01T00:00:00Z",
                "2026-11-32T00:00:00Z",
                "2026-11-00T00:00:00Z",
                "2026-11-21T24:00:00Z",
                "2026-11-21T10:60:00Z",
                "2026-11-21T10:00:61Z",
                "1969-12-31T23:59:59Z",
                "20261121T100000",
                "20261121T100000Zx",
                "20261121100000Z",
        };

        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_rejected(bad[i]);
}

/* The compact form is range-checked like the ISO form: no month 13, day 99 or hour 25. */
TEST(parse_compact_checks_ranges) {
        assert_rejected("20261321T100000Z");
        assert_rejected("20261199T100000Z");
        assert_rejected("20261121T250000Z");
        assert_rejected("19691231T235959Z");
}

TEST(format_known_values) {
        char iso[32], compact[17];

        yb_time_format_iso(0, iso);
        ASSERT_STREQ(iso, "1970-01-01T00:00:00.000000000Z");
        yb_time_format_iso(NS(T_2026_11_21_10Z) + 123456789, iso);
        ASSERT_STREQ(iso, "2026-11-21T10:00:00.123456789Z");
        yb_time_format_compact(NS(T_2026_11_21_10Z) + 999999999, compact);
        ASSERT_STREQ(compact, "20261121T100000Z");
        /* Before the epoch the fraction still counts forwards from the whole second below. */
        yb_time_format_iso(-1, iso);
        ASSERT_STREQ(iso, "1969-12-31T23:59:59.999999999Z");
}

TEST(format_parse_round_trip) {
        static const int64_t values[] = {
                0,
                1,
                999999999,
                NS(T_2026_11_21_10Z),
                NS(T_2026_11_21_10Z) + 123456789,
                NS(4102444799) + 999999999, /* 2099-12-31T23:59:59.999999999Z */
        };

        for (size_t i = 0; i < ELEMENTSOF(values); i++) {
                char iso[32], compact[17];
                int64_t back;

                yb_time_format_iso(values[i], iso);
                ASSERT_OK(yb_time_parse(iso, &back));
                ASSERT_EQ(back, values[i]);
                yb_time_format_compact(values[i], compact);
                ASSERT_OK(yb_time_parse(compact, &back));
                ASSERT_EQ(back, values[i] - values[i] % YB_NSEC_PER_SEC);
        }
}

TEST(clocks_are_sane) {
        int64_t a = yb_monotonic_ns(), b = yb_monotonic_ns();

        ASSERT_GE(b, a);
        ASSERT_GT(yb_now_ns(), NS(1577836800)); /* after 2020-01-01 */
}

TEST(parse_refuses_years_past_int64_nanoseconds) {
        /* 2262-04-11 is where nanoseconds since 1970 leave an int64 (found by fuzz-policy). */
        assert_rejected("2262-05-01T00:00:00Z");
        assert_rejected("40541231T000000Z");
}

TEST(civil_days_both_ways) {
        int64_t y;
        int m, d;

        ASSERT_EQ(yb_days_from_civil(1970, 1, 1), 0);
        ASSERT_EQ(yb_days_from_civil(2000, 3, 1), 11017);
        ASSERT_EQ(yb_days_from_civil(1969, 12, 31), -1);
        ASSERT_EQ(yb_floor_div(-1, 86400), -1);
        ASSERT_EQ(yb_floor_div(86400, 86400), 1);
        /* Every day from 1600 to 2400 comes back as the date it was made from. */
        for (int64_t day = yb_days_from_civil(1600, 1, 1); day < yb_days_from_civil(2400, 1, 1);
             day++) {
                yb_civil_from_days(day, &y, &m, &d);
                ASSERT_EQ(yb_days_from_civil(y, m, d), day);
                ASSERT_TRUE(m >= 1 && m <= 12 && d >= 1 && d <= 31);
        }
        yb_civil_from_days(yb_days_from_civil(2024, 2, 29), &y, &m, &d);
        ASSERT_TRUE(y == 2024 && m == 2 && d == 29);
}

TEST(unit_conversions) {
        ASSERT_EQ(yb_ns_to_usec(1999), 1);
        ASSERT_EQ(yb_ns_to_usec(-1999), -1);
        ASSERT_EQ(yb_ns_to_usec(1764990000123456789LL), 1764990000123456LL);
        ASSERT_EQ(yb_usec_to_ns(1764990000123456LL), 1764990000123456000LL);
        ASSERT_EQ(yb_usec_to_ns(INT64_MAX / 1000 + 1), INT64_MAX);
        ASSERT_EQ(yb_usec_to_ns(INT64_MIN / 1000 - 1), INT64_MIN);
        /* A wait rounds up, never to 0 for a positive time, and fits poll()'s int. */
        ASSERT_EQ(yb_usec_to_ms_ceil(0), 0);
        ASSERT_EQ(yb_usec_to_ms_ceil(-5), 0);
        ASSERT_EQ(yb_usec_to_ms_ceil(1), 1);
        ASSERT_EQ(yb_usec_to_ms_ceil(1000), 1);
        ASSERT_EQ(yb_usec_to_ms_ceil(1001), 2);
        ASSERT_EQ(yb_usec_to_ms_ceil(INT64_MAX), INT32_MAX);
        ASSERT_EQ(YB_USEC_PER_DAY, 86400LL * 1000000);
        /* The two clocks agree with their nanosecond forms. */
        ASSERT_TRUE(yb_now_usec() <= yb_ns_to_usec(yb_now_ns()));
        ASSERT_TRUE(yb_monotonic_usec() <= yb_ns_to_usec(yb_monotonic_ns()));
}
