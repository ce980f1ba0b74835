/* tests/unit/test-store-limits.c: orchestrator/store-limits.c: bandwidths and windows as
 * yunbakd.yaml writes them, their errors at their position in the file, and when a window is
 * open and opens next, across midnight and in a zone other than UTC. */
#include "orchestrator/daemon-config.h"
#include "orchestrator/store-limits.h"
#include "tests/unit/test.h"

static int64_t at(const char *iso) {
        int64_t ns;

        ASSERT_OK(yb_time_parse(iso, &ns));
        return yb_ns_to_usec(ns);
}

TEST(bandwidths) {
        static const struct {
                const char *text;
                uint64_t bps;
        } ok[] = {
                { "20MiB/s", 20 * 1024 * 1024 },
                { "512KiB/s", 512 * 1024 },
                { "1GiB/s", 1024ULL * 1024 * 1024 },
                { "8Mbit/s", 1000 * 1000 },
                { "100 kbit/s", 12500 },
                { "1.5MiB/s", 1536 * 1024 },
                { "300B/s", 300 },
                { "0", 0 },
                { "2MiB", 2 * 1024 * 1024 },
        };
        const char *bad[] = { "fast", "20", "20MB/s", "-1MiB/s", "20MiB/h", "0.1B/s", "" };
        char err[300], buf[32];
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                ASSERT_OK(yb_bandwidth_parse(ok[i].text, &v, err, sizeof(err)));
                ASSERT_EQ(v, ok[i].bps);
        }
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                ASSERT_ERR(yb_bandwidth_parse(bad[i], &v, err, sizeof(err)), EINVAL);
        ASSERT_STREQ(yb_bandwidth_format(20 * 1024 * 1024, buf, sizeof(buf)), "20MiB/s");
        ASSERT_STREQ(yb_bandwidth_format(0, buf, sizeof(buf)), "unlimited");
}

TEST(window_across_midnight_in_shanghai) {
        YbStoreWindow w;
        char err[300];
        int64_t next = 0, close = 0;

        ASSERT_OK(yb_store_window_parse("22:00-06:00 Asia/Shanghai", &w, err, sizeof(err)));
        /* 23:00 and 05:59 in Shanghai (UTC+8) are inside; 06:00 and noon are not. */
        ASSERT_TRUE(yb_store_windows_open(&w, 1, at("2026-12-06T23:00:00+08:00"), &next, &close));
        ASSERT_EQ(close, at("2026-12-07T06:00:00+08:00"));
        ASSERT_TRUE(yb_store_windows_open(&w, 1, at("2026-12-07T05:59:59+08:00"), &next, &close));
        ASSERT_EQ(close, at("2026-12-07T06:00:00+08:00"));
        ASSERT_FALSE(yb_store_windows_open(&w, 1, at("2026-12-07T06:00:00+08:00"), &next, NULL));
        ASSERT_EQ(next, at("2026-12-07T22:00:00+08:00"));
        ASSERT_FALSE(yb_store_windows_open(&w, 1, at("2026-12-07T12:00:00Z"), &next, NULL));
        ASSERT_EQ(next, at("2026-12-07T22:00:00+08:00"));
        /* No window: always open. */
        ASSERT_TRUE(yb_store_windows_open(NULL, 0, at("2026-12-07T12:00:00Z"), NULL, &close));
        ASSERT_EQ(close, INT64_MAX);
        free(w.zone);
}

TEST(windows_are_checked_in_the_file) {
        static const char text[] = "catalog: /c.db\n"                              /* 1 */
                                   "policies: /p\n"                                /* 2 */
                                   "keys: /k\n"                                    /* 3 */
                                   "stores:\n"                                     /* 4 */
                                   "  off:\n"                                      /* 5 */
                                   "    url: /srv/off\n"                           /* 6 */
                                   "    bandwidth: 20MB/s\n"                       /* 7 */
                                   "    windows: [\"22:00-06:00 Asia/Shangai\",\n" /* 8 */
                                   "              \"25:00-06:00 UTC\", \"01:00-02:00 UTC\"]\n";
        static const char good[] = "catalog: /c.db\npolicies: /p\nkeys: /k\nstores:\n  off:\n"
                                   "    url: /srv/off\n    bandwidth: 8Mbit/s\n"
                                   "    windows: [\"22:00-06:00 Asia/Shanghai\"]\n";
        _cleanup_(yb_diagnostics_done) YbDiagnostics d = { 0 };
        _cleanup_(yb_diagnostics_done) YbDiagnostics d2 = { 0 };
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = NULL;

        ASSERT_ERR(yb_daemon_config_parse("y.yaml", text, strlen(text), "/", &c, &d), EINVAL);
        ASSERT_EQ(d.n, 3);
        ASSERT_TRUE(strstr(d.lines[0], "y.yaml:7:16: stores.off.bandwidth: unknown unit 'MB'"));
        ASSERT_TRUE(strstr(d.lines[1], "y.yaml:8:15: stores.off.windows: unknown time zone "
                                       "'Asia/Shangai'"));
        ASSERT_TRUE(strstr(d.lines[2], "y.yaml:9:15: stores.off.windows: '25:00-06:00 UTC' is "
                                       "not a window"));
        ASSERT_OK(yb_daemon_config_parse("y.yaml", good, strlen(good), "/", &c, &d2));
        ASSERT_EQ(c->stores[0].rate_bps, 1000 * 1000);
        ASSERT_EQ(c->stores[0].n_windows, 1);
        ASSERT_EQ(c->stores[0].windows[0].start_min, 22 * 60);
        ASSERT_EQ(c->stores[0].windows[0].end_min, 6 * 60);
        ASSERT_STREQ(c->stores[0].windows[0].zone, "Asia/Shanghai");
}
