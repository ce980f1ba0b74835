/* tests/unit/test-tz.c: policies/tz.c and tzrule.c, time zones read from TZif files: offsets and
 * day starts at DST gaps and folds, zones without DST, UTC, unknown names, the local zone from TZ,
 * damaged and truncated files, the cache noticing a changed file, and glibc's own answers as the
 * reference. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#include "core/base/timeutil.h"
#include "policies/tz.h"
#include "tests/unit/test.h"

#define DAY 86400

/* Seconds since the epoch of "YYYY-MM-DDTHH:MM:SSZ". */
static int64_t at(const char *iso) {
        int y, mo, d, h, mi, sec;

        ASSERT_EQ(sscanf(iso, "%d-%d-%dT%d:%d:%dZ", &y, &mo, &d, &h, &mi, &sec), 6);
        return yb_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + sec;
}

static int64_t day_of(const char *date) {
        int y, m, d;

        ASSERT_EQ(sscanf(date, "%d-%d-%d", &y, &m, &d), 3);
        return yb_days_from_civil(y, m, d);
}

static YbTz *get(const char *name) {
        YbTz *z = NULL;
        int r = yb_tz_get(name, &z);

        if (r < 0)
                fail_msg("yb_tz_get(\"%s\"): %s", name, strerror(-r));
        return z;
}

static void assert_span(const YbTz *z, const char *iso, const char *start, const char *end,
                        int gmtoff, bool isdst) {
        YbTzSpan s;

        yb_tz_span(z, at(iso), &s);
        ASSERT_EQ(s.gmtoff, gmtoff);
        ASSERT_EQ(s.isdst, isdst);
        ASSERT_EQ(s.start, at(start));
        ASSERT_EQ(s.end, at(end));
}

static void assert_day_start(const YbTz *z, const char *date, const char *want) {
        int64_t t = 42;

        ASSERT_OK(yb_tz_day_start(z, day_of(date), &t));
        if (t != at(want))
                fail_msg("%s starts at @%lld, not %s", date, (long long) t, want);
}

TEST(europe_berlin_gap_and_fold) {
        _cleanup_(yb_tz_unrefp) YbTz *z = get("Europe/Berlin");

        /* 2024-03-31 02:00 CET becomes 03:00 CEST; 2024-10-27 03:00 CEST becomes 02:00 CET. */
        assert_span(z, "2024-03-31T00:59:59Z", "2023-10-29T01:00:00Z", "2024-03-31T01:00:00Z", 3600,
                    false);
        assert_span(z, "2024-03-31T01:00:00Z", "2024-03-31T01:00:00Z", "2024-10-27T01:00:00Z", 7200,
                    true);
        assert_span(z, "2024-10-27T01:00:00Z", "2024-10-27T01:00:00Z", "2025-03-30T01:00:00Z", 3600,
                    false);
        /* The changes of both days are away from midnight: the days start at midnight. */
        assert_day_start(z, "2024-03-31", "2024-03-30T23:00:00Z");
        assert_day_start(z, "2024-04-01", "2024-03-31T22:00:00Z");
        assert_day_start(z, "2024-10-27", "2024-10-26T22:00:00Z");
        assert_day_start(z, "2024-10-28", "2024-10-27T23:00:00Z");
        /* After 2037 the file has no transitions: the footer's rule (CET-1CEST,M3.5.0,M10.5.0/3)
         * goes on. Its spans stop at the turn of each UTC year. */
        assert_span(z, "2100-03-28T00:59:59Z", "2100-01-01T00:00:00Z", "2100-03-28T01:00:00Z", 3600,
                    false);
        assert_span(z, "2100-06-01T00:00:00Z", "2100-03-28T01:00:00Z", "2100-10-31T01:00:00Z", 7200,
                    true);
        assert_span(z, "2100-12-31T23:59:59Z", "2100-10-31T01:00:00Z", "2101-01-01T00:00:00Z", 3600,
                    false);
}

TEST(america_new_york_gap_and_fold) {
        _cleanup_(yb_tz_unrefp) YbTz *z = get("America/New_York");

        /* 2024-03-10 02:00 EST becomes 03:00 EDT; 2024-11-03 02:00 EDT becomes 01:00 EST. */
        assert_span(z, "2024-03-10T06:59:59Z", "2023-11-05T06:00:00Z", "2024-03-10T07:00:00Z",
                    -18000, false);
        assert_span(z, "2024-03-10T07:00:00Z", "2024-03-10T07:00:00Z", "2024-11-03T06:00:00Z",
                    -14400, true);
        assert_span(z, "2024-11-03T06:00:00Z", "2024-11-03T06:00:00Z", "2025-03-09T07:00:00Z",
                    -18000, false);
        assert_day_start(z, "2024-03-10", "2024-03-10T05:00:00Z");
        assert_day_start(z, "2024-11-03", "2024-11-03T04:00:00Z");
        assert_day_start(z, "2024-11-04", "2024-11-04T05:00:00Z");
}

TEST(midnight_skipped) {
        _cleanup_(yb_tz_unrefp) YbTz *santiago = get("America/Santiago"),
                                     *apia = get("Pacific/Apia"), *lima = get("America/Lima"),
                                     *bissau = get("Africa/Bissau");
        int64_t t = 42;

        /* 2022-09-11 00:00 -04 becomes 01:00 -03: the day starts at 01:00. */
        assert_day_start(santiago, "2022-09-11", "2022-09-11T04:00:00Z");
        assert_day_start(santiago, "2022-09-12", "2022-09-12T03:00:00Z");
        /* Samoa skipped 2011-12-30 altogether, from the 29th to the 31st. */
        ASSERT_ERR(yb_tz_day_start(apia, day_of("2011-12-30"), &t), ENOENT);
        ASSERT_EQ(t, 42);
        assert_day_start(apia, "2011-12-29", "2011-12-29T10:00:00Z");
        assert_day_start(apia, "2011-12-31", "2011-12-30T10:00:00Z");
        /* New Year's midnight skipped: the year starts at 01:00. (systemd's calendar search
         * finds no "1986-01-01 *:*:* America/Lima", nor the two days after it.) */
        assert_day_start(lima, "1986-01-01", "1986-01-01T05:00:00Z");
        assert_day_start(lima, "1986-01-02", "1986-01-02T04:00:00Z");
        assert_day_start(bissau, "1975-01-01", "1975-01-01T01:00:00Z");
}

TEST(midnight_repeated) {
        /* Daylight time ending at 00:30 sends the clock back to 23:30 of the day before: the last
         * Sunday of October starts at its first midnight, and days do not overlap. */
        char *saved = test_tz_push("AAA-1BBB-2,M3.5.0/0,M10.5.0/0:30");
        _cleanup_(yb_tz_unrefp) YbTz *z = NULL;
        YbTzSpan s;

        ASSERT_OK(yb_tz_get_local(&z));
        yb_tz_span(z, at("2024-10-26T22:29:59Z"), &s);
        ASSERT_EQ(s.gmtoff, 7200);
        ASSERT_EQ(s.end, at("2024-10-26T22:30:00Z"));
        assert_day_start(z, "2024-10-27", "2024-10-26T22:00:00Z");
        assert_day_start(z, "2024-10-28", "2024-10-27T23:00:00Z");
        test_tz_pop(saved);
}

TEST(asia_shanghai) {
        _cleanup_(yb_tz_unrefp) YbTz *z = get("Asia/Shanghai");
        YbTzSpan s;

        /* +8 since 1991 with nothing after: one span to the end of time. */
        yb_tz_span(z, at("2024-06-01T00:00:00Z"), &s);
        ASSERT_EQ(s.gmtoff, 8 * 3600);
        ASSERT_FALSE(s.isdst);
        ASSERT_EQ(s.end, INT64_MAX);
        assert_day_start(z, "2024-01-01", "2023-12-31T16:00:00Z");
        assert_day_start(z, "2199-12-31", "2199-12-30T16:00:00Z");
        /* Daylight time from 1986 to 1991. */
        assert_span(z, "1988-06-01T00:00:00Z", "1988-04-16T18:00:00Z", "1988-09-10T17:00:00Z",
                    9 * 3600, true);
}

TEST(utc) {
        _cleanup_(yb_tz_unrefp) YbTz *z = get("UTC"), *etc = get("Etc/UTC");
        YbTzSpan s;

        yb_tz_span(z, 0, &s);
        ASSERT_EQ(s.gmtoff, 0);
        ASSERT_EQ(s.start, INT64_MIN);
        ASSERT_EQ(s.end, INT64_MAX);
        yb_tz_span(etc, at("2150-07-01T12:00:00Z"), &s);
        ASSERT_EQ(s.gmtoff, 0);
        assert_day_start(z, "2024-02-29", "2024-02-29T00:00:00Z");
        assert_day_start(etc, "1970-01-01", "1970-01-01T00:00:00Z");
}

TEST(unknown_zones) {
        static const char *const bad_names[] = { "",      "/etc/localtime", "../etc/passwd",
                                                 "Asia/", "Asia//Shanghai", "zone.tab",
                                                 "a b" };
        YbTz *z = NULL;

        ASSERT_ERR(yb_tz_get("Asia/Shangai", &z), ENOENT);
        ASSERT_ERR(yb_tz_get("America", &z), ENOENT); /* a directory of the database */
        ASSERT_FALSE(yb_tz_exists("Asia/Shangai"));
        ASSERT_FALSE(yb_tz_exists("America"));
        for (size_t i = 0; i < ELEMENTSOF(bad_names); i++) {
                ASSERT_ERR(yb_tz_get(bad_names[i], &z), EINVAL);
                ASSERT_FALSE(yb_tz_exists(bad_names[i]));
        }
        ASSERT_TRUE(z == NULL);
        ASSERT_TRUE(yb_tz_exists("Asia/Shanghai"));
        /* Leap seconds: the system clock does not count them. */
        if (yb_tz_exists("right/UTC"))
                ASSERT_ERR(yb_tz_get("right/UTC", &z), EPROTONOSUPPORT);
}

TEST(local_zone_as_glibc_finds_it) {
        static const struct {
                const char *tz; /* NULL: unset */
                int32_t gmtoff; /* on 2024-01-01 */
        } cases[] = {
                { "Asia/Tokyo", 9 * 3600 },
                { ":Asia/Tokyo", 9 * 3600 },
                { "/usr/share/zoneinfo/Asia/Tokyo", 9 * 3600 },
                { "", 0 },
                { ":", 0 },
                { "CST-8", 8 * 3600 },                   /* a POSIX TZ string */
                { "<+0530>-5:30", 5 * 3600 + 30 * 60 },  /* with a quoted name */
                { "EST5EDT,M3.2.0,M11.1.0", -5 * 3600 }, /* with rules */
                { "Nowhere/Zone", 0 },                   /* neither: UTC, as glibc */
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                char *saved = test_tz_push(cases[i].tz);
                _cleanup_(yb_tz_unrefp) YbTz *z = NULL;
                YbTzSpan s;

                ASSERT_OK(yb_tz_get_local(&z));
                yb_tz_span(z, at("2024-01-01T00:00:00Z"), &s);
                if (s.gmtoff != cases[i].gmtoff)
                        fail_msg("TZ=%s: offset %d, not %d", cases[i].tz, s.gmtoff,
                                 cases[i].gmtoff);
                test_tz_pop(saved);
        }
}

static void assert_libc_says(const char *tz, const YbTz *z, int64_t t) {
        time_t tt = (time_t) t;
        struct tm tm;
        YbTzSpan s;

        assert_non_null(localtime_r(&tt, &tm));
        yb_tz_span(z, t, &s);
        if (s.gmtoff != tm.tm_gmtoff || s.isdst != (tm.tm_isdst > 0))
                fail_msg("TZ=%s at @%lld: %d%s, libc says %ld%s", tz, (long long) t, s.gmtoff,
                         s.isdst ? " dst" : "", tm.tm_gmtoff, tm.tm_isdst > 0 ? " dst" : "");
        ASSERT_TRUE(s.start <= t && t < s.end);
}

/* Our answers against localtime_r() with TZ set: around every change from 1900 to 2300, and
 * at pseudo-random times. */
static void assert_agrees_with_libc(const char *tz, const YbTz *z) {
        char *saved = test_tz_push(tz);
        int64_t from = at("1900-01-01T00:00:00Z"), to = at("2300-01-01T00:00:00Z");
        uint64_t x = 0x9e3779b97f4a7c15ULL;
        YbTzSpan s;

        for (int64_t t = from; t < to; t = s.end) {
                yb_tz_span(z, t, &s);
                assert_libc_says(tz, z, t);
                if (s.end >= to)
                        break;
                assert_libc_says(tz, z, s.end - 1);
                assert_libc_says(tz, z, s.end);
        }
        for (int k = 0; k < 2000; k++) {
                x ^= x << 13, x ^= x >> 7, x ^= x << 17;
                assert_libc_says(tz, z, from + (int64_t) (x % (uint64_t) (to - from)));
        }
        test_tz_pop(saved);
}

TEST(agrees_with_libc) {
        static const char *const zones[] = {
                "Europe/Berlin", "America/New_York",    "Asia/Shanghai",
                "UTC",           "Australia/Lord_Howe", "America/Santiago",
                "Pacific/Apia",  "Europe/Dublin",       "Africa/Casablanca",
                "Asia/Kolkata",  "Pacific/Kiritimati",  "America/Sao_Paulo",
        };
        /* POSIX TZ strings: southern hemisphere, Julian days, negative and 25-hour change times. */
        static const char *const rules[] = {
                "NZST-12NZDT,M9.5.0,M4.1.0/3", "AAA3BBB,J60/1,J300/-2",
                "AAA-5BBB-6,0/0,365/25",       "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
                "IST-2IDT,M3.4.4/26,M10.5.0",
        };

        for (size_t i = 0; i < ELEMENTSOF(zones); i++) {
                _cleanup_(yb_tz_unrefp) YbTz *z = get(zones[i]);

                assert_agrees_with_libc(zones[i], z);
        }
        for (size_t i = 0; i < ELEMENTSOF(rules); i++) {
                char *saved = test_tz_push(rules[i]);
                _cleanup_(yb_tz_unrefp) YbTz *z = NULL;

                ASSERT_OK(yb_tz_get_local(&z));
                test_tz_pop(saved);
                assert_agrees_with_libc(rules[i], z);
        }
}

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

/* Writes data (n bytes) with the byte at off set to value as a new file in d (a new name each
 * time: the cache knows a file by its name, inode, size and mtime, and rewriting one in place
 * within a clock tick could look unchanged), and reads it as a zone. */
static int read_variant(TestTmpdir *d, const uint8_t *data, size_t n, size_t off, int value,
                        YbTz **ret) {
        static unsigned counter;
        _cleanup_free_ char *name = NULL, *path = NULL;

        ASSERT_TRUE(asprintf(&name, "zone-%u", counter++) > 0);
        path = test_tmpdir_path(d, name);
        test_write_file(d->fd, name, data, n);
        if (value >= 0)
                test_flip_byte(d->fd, name, off, (uint8_t) (data[off] ^ value));
        return yb_tz_get_file(path, ret);
}

TEST(damaged_and_truncated_files) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        YbBuf berlin = YB_BUF_INIT;
        const uint8_t *b;
        size_t v2, data, timecnt, typecnt;
        YbTz *z = NULL;

        test_read_file(AT_FDCWD, "/usr/share/zoneinfo/Europe/Berlin", &berlin);
        b = berlin.data;
        ASSERT_TRUE(berlin.size > 44 && memcmp(b, "TZif2", 5) == 0);
        ASSERT_OK(read_variant(d, b, berlin.size, 0, -1, &z));
        z = yb_tz_unref(z);

        /* Every truncation fails, the empty file too. */
        for (size_t n = 0; n < berlin.size; n++)
                if (read_variant(d, b, n, 0, -1, &z) != -EBADMSG)
                        fail_msg("Europe/Berlin cut to %zu of %zu bytes was read", n, berlin.size);

        /* Damage where it matters. The 64-bit data: its header after the 32-bit data, then
         * the transition times, their types, and the types (offset, isdst, name index). */
        v2 = 44 + be32(b + 32) * 5 + be32(b + 36) * 6 + be32(b + 40) + be32(b + 28) * 8 +
             be32(b + 24) + be32(b + 20);
        ASSERT_EQ(memcmp(b + v2, "TZif", 4), 0);
        timecnt = be32(b + v2 + 32);
        typecnt = be32(b + v2 + 36);
        data = v2 + 44;
        ASSERT_GT(timecnt, (size_t) 2);
        {
                const struct {
                        const char *what;
                        size_t off;
                        int value;
                } damage[] = {
                        { "magic", 0, 't' },
                        { "the second header's magic", v2, 't' },
                        { "no types", v2 + 39, 0 },
                        { "a transition before the one before it", data + 8, 0x80 },
                        { "a type that does not exist", data + timecnt * 8 + 1, (int) typecnt },
                        { "an offset of days", data + timecnt * 9 + 1, 0x7f },
                        { "isdst 2", data + timecnt * 9 + 4, 2 },
                        { "the footer's rule", berlin.size - 3, 'o' },
                        { "the footer's last newline", berlin.size - 1, 'x' },
                };

                for (size_t i = 0; i < ELEMENTSOF(damage); i++)
                        if (read_variant(d, b, berlin.size, damage[i].off, damage[i].value, &z) !=
                            -EBADMSG)
                                fail_msg("a zone file with %s was read", damage[i].what);
        }
        /* Any byte changed anywhere: an answer or an error, never a crash (ASan watches). */
        for (size_t off = 0; off < berlin.size; off++)
                for (int bit = 0; bit < 8; bit += 3)
                        if (read_variant(d, b, berlin.size, off, b[off] ^ (1 << bit), &z) >= 0) {
                                int64_t t;
                                YbTzSpan s;

                                yb_tz_span(z, at("2024-06-01T00:00:00Z"), &s);
                                (void) yb_tz_day_start(z, day_of("2024-03-31"), &t);
                                z = yb_tz_unref(z);
                        }
        yb_buf_done(&berlin);
}

TEST(damaged_zone_in_tzdir) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        const char *old = getenv("TZDIR");
        char *saved = old ? strdup(old) : NULL;
        static const char header[] = "TZif2 and then nothing that makes sense";
        YbTz *z = NULL;

        ASSERT_EQ(mkdirat(d->fd, "Test", 0755), 0);
        test_write_file(d->fd, "Test/Damaged", header, sizeof(header) - 1);
        setenv("TZDIR", d->path, 1);
        ASSERT_TRUE(yb_tz_exists("Test/Damaged"));          /* it starts like a zone file ... */
        ASSERT_ERR(yb_tz_get("Test/Damaged", &z), EBADMSG); /* ... and is not one */
        ASSERT_ERR(yb_tz_get("Europe/Berlin", &z), ENOENT); /* $TZDIR is the database */
        if (saved)
                setenv("TZDIR", saved, 1);
        else
                unsetenv("TZDIR");
        free(saved);
}

TEST(changed_file_is_read_again) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *path = test_tmpdir_path(d, "localtime");
        _cleanup_(yb_tz_unrefp) YbTz *first = NULL, *again = NULL, *second = NULL;
        YbBuf shanghai = YB_BUF_INIT, new_york = YB_BUF_INIT;
        int64_t t = at("2024-01-01T00:00:00Z");
        YbTzSpan s;

        test_read_file(AT_FDCWD, "/usr/share/zoneinfo/Asia/Shanghai", &shanghai);
        test_read_file(AT_FDCWD, "/usr/share/zoneinfo/America/New_York", &new_york);
        test_write_file(d->fd, "localtime", shanghai.data, shanghai.size);
        ASSERT_OK(yb_tz_get_file(path, &first));
        ASSERT_OK(yb_tz_get_file(path, &again));
        ASSERT_TRUE(first == again); /* from the cache */
        /* As when tzdata is upgraded or the administrator changes the local zone. */
        test_write_file(d->fd, "localtime", new_york.data, new_york.size);
        ASSERT_OK(yb_tz_get_file(path, &second));
        yb_tz_span(second, t, &s);
        ASSERT_EQ(s.gmtoff, -5 * 3600);
        /* Who holds the old zone keeps it, unchanged. */
        yb_tz_span(first, t, &s);
        ASSERT_EQ(s.gmtoff, 8 * 3600);
        yb_buf_done(&shanghai);
        yb_buf_done(&new_york);
}
