/* core/evidence/drill.h: what the drill record's page and summary say, as an auditor reads
 * them: a failed drill that found its point says its RTO and RPO were not achieved (not that
 * there was no point); durations and sizes are written with one formatter each, in the charts
 * as in the tables; a passed drill says what it tested and what it did not. */
#include <stdlib.h>
#include <string.h>

#include "core/evidence/drill.h"
#include "test.h"

static json_t *record(void) {
        json_error_t err;
        json_t *j = json_load_file(YB_TEST_DATA "/drill/unsigned.json", 0, &err);

        if (!j)
                fail_msg("fixture: %s at line %d", err.text, err.line);
        return j;
}

/* Sets o's member key (of o itself, or of its member named in, when in is not NULL; an index
 * when that is a list) to the JSON value. */
static void set(json_t *o, const char *in, const char *key, const char *value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);

        if (in)
                o = json_object_get(o, in);
        if (!v || !o ||
            (json_is_array(o) ? json_array_set_new(o, (size_t) atoi(key), v)
                              : json_object_set_new(o, key, v)) < 0)
                fail_msg("cannot set %s.%s to %s", in ?: "", key, value);
}

static void page_and_summary(json_t *rec, char **ret_page, char **ret_summary) {
        free(*ret_page);
        free(*ret_summary);
        ASSERT_OK(yb_drill_html(rec, ret_page));
        ASSERT_OK(yb_drill_summary(rec, ret_summary));
}

/* Failed at verify, the point found: not achieved, because the drill failed. */
static void fail_at_verify(json_t *rec) {
        set(rec, NULL, "result", "\"failed\"");
        set(rec, NULL, "failed_phase", "\"verify\"");
        set(rec, NULL, "error", "\"2 files differ from the snapshot: /srv/hr/a.db\"");
        set(rec, NULL, "phases",
            "[{\"name\": \"point\", \"ms\": 210, \"ok\": true}, "
            "{\"name\": \"restore\", \"ms\": 402113, \"ok\": true, \"files\": 3, \"bytes\": "
            "887112}, {\"name\": \"verify\", \"ms\": 90, \"ok\": false}]");
        set(rec, NULL, "check", "null");
        set(rec, NULL, "postgresql", "[]");
        set(rec, NULL, "achieved", "{\"rto_ms\": null, \"rpo_seconds\": null}");
        set(rec, NULL, "met", "{\"rto\": null, \"rpo\": null}");
}

TEST(drill_failed_with_its_point_says_not_achieved) {
        _cleanup_(json_decrefp) json_t *rec = record();
        _cleanup_free_ char *page = NULL, *sum = NULL;

        fail_at_verify(rec);
        page_and_summary(rec, &page, &sum);
        ASSERT_TRUE(strstr(sum, "Point restored: 20261206T081500Z-1a2b3c (incremental)"));
        ASSERT_TRUE(strstr(page, "<h2>The point restored</h2>"));
        ASSERT_TRUE(strstr(sum, "\nRTO not achieved (the drill failed); the target 2 h: not "
                                "judged.\n"));
        ASSERT_TRUE(strstr(sum, "\nRPO not achieved (the drill failed); the target 1 h: not "
                                "judged.\n"));
        ASSERT_TRUE(strstr(sum, "No check command ran: the drill stopped at phase verify.\n"));
        ASSERT_TRUE(strstr(page, "<td>not achieved (the drill failed)</td><td class=\"judged "
                                 "neutral\">not judged</td></tr>\n<tr><th>RPO (data that could "
                                 "be lost)</th><td>1 h</td><td>not achieved (the drill "
                                 "failed)</td>"));
        ASSERT_FALSE(strstr(page, "no point"));
        ASSERT_FALSE(strstr(sum, "no point"));
        ASSERT_FALSE(strstr(page, "nothing was recovered"));
        ASSERT_FALSE(strstr(sum, "nothing was recovered"));

        /* Failed at restore: the point was found, not restored. */
        set(rec, NULL, "failed_phase", "\"restore\"");
        set(rec, NULL, "phases",
            "[{\"name\": \"point\", \"ms\": 210, \"ok\": true}, "
            "{\"name\": \"restore\", \"ms\": 5, \"ok\": false}]");
        page_and_summary(rec, &page, &sum);
        ASSERT_TRUE(strstr(sum, "\nPoint found, not restored (the drill failed first): "
                                "20261206T081500Z-1a2b3c (incremental) of 2026-12-06 08:15:02 "
                                "UTC.\n"));
        ASSERT_TRUE(strstr(page, "<h2>The point found (not restored: the drill failed first)"));
        ASSERT_FALSE(strstr(page, "The point restored"));

        /* No point at all: that is what "no point" is for. */
        set(rec, NULL, "point", "null");
        set(rec, NULL, "failed_phase", "\"point\"");
        set(rec, NULL, "phases", "[{\"name\": \"point\", \"ms\": 12, \"ok\": false}]");
        page_and_summary(rec, &page, &sum);
        ASSERT_TRUE(strstr(sum, "No point was found to restore.\nRTO not achieved (the drill "
                                "failed); the target 2 h: not judged.\nRPO unknown (no point); "
                                "the target 1 h: not judged.\n"));
        ASSERT_TRUE(strstr(page, "<td>unknown (no point)</td>"));
}

TEST(drill_durations_and_sizes_read_the_same_everywhere) {
        _cleanup_(json_decrefp) json_t *rec = record();
        _cleanup_free_ char *page = NULL, *sum = NULL;

        /* Earlier drills of 18 ms and 90 ms: the chart's words are the table's. */
        set(rec, NULL, "history",
            "[{\"id\": 3, \"started\": \"2026-01-05T02:00:00Z\", \"result\": \"passed\", "
            "\"rto_ms\": 18, \"rpo_seconds\": 30}, {\"id\": 4, \"started\": "
            "\"2026-01-06T02:00:00Z\", \"result\": \"passed\", \"rto_ms\": 90, \"rpo_seconds\": "
            "30}, {\"id\": 5, \"started\": \"2026-01-07T02:00:00Z\", \"result\": \"failed\", "
            "\"rto_ms\": null, \"rpo_seconds\": null}]");
        set(rec, "phases", "1",
            "{\"name\": \"restore\", \"ms\": 402113, \"ok\": true, "
            "\"files\": 50592, \"bytes\": 887112}");
        page_and_summary(rec, &page, &sum);
        ASSERT_TRUE(strstr(page, "font-size=\"10\">18 ms</text>"));
        ASSERT_TRUE(strstr(page, "font-size=\"10\">90 ms</text>"));
        ASSERT_TRUE(strstr(page, "<td class=\"ok\">passed</td><td>18 ms</td><td>30 s</td>"));
        ASSERT_TRUE(strstr(page, "<td class=\"bad\">failed</td><td>not achieved (failed)</td>"
                                 "<td>not achieved (failed)</td>"));
        ASSERT_FALSE(strstr(page, "0.0 s"));
        /* Bytes: the summary's words in the table, never the raw count. */
        ASSERT_TRUE(strstr(page, "<td>50592</td><td>866.3 KiB</td>"));
        ASSERT_FALSE(strstr(page, "887112<"));
        ASSERT_TRUE(strstr(sum, ", restore 6 min 42 s (50592 files, 866.3 KiB), verify 2 min "
                                "(50592 files, 1.0 GiB),"));
}

TEST(drill_says_what_it_tested) {
        _cleanup_(json_decrefp) json_t *rec = record();
        _cleanup_free_ char *page = NULL, *sum = NULL;

        page_and_summary(rec, &page, &sum);
        ASSERT_TRUE(strstr(page, "Restored from tier 1; every phase passed: point, restore, "
                                 "verify, postgresql, check.</span>"));
        ASSERT_FALSE(strstr(page, "proved working"));
        ASSERT_TRUE(strstr(sum, "\nRTO achieved: 10 min 24 s against the target 2 h: met.\n"
                                "RPO achieved: 44 min 58 s against the target 1 h: met.\n"));
        ASSERT_TRUE(strstr(sum, "\nPostgreSQL check hr-db (dump, database hr): 1234, at least "
                                "1000 wanted: passed.\n"));
        ASSERT_TRUE(strstr(sum, "\nCheck command test -s \"$YUNBAK_DRILL_SANDBOX\"/hr-portal/"
                                "index.html && echo '<ok> 人事': exited 0 (success).\n"));

        /* A partial point: what it means, no more than the record holds. */
        set(rec, "point", "partial", "true");
        page_and_summary(rec, &page, &sum);
        ASSERT_TRUE(strstr(page, "incremental (partial: its backup left out part of what it was "
                                 "to hold)"));
        ASSERT_TRUE(strstr(sum, "(incremental, partial) of 2026-12-06 08:15:02 UTC.\n"));
        /* A point asked for: said in the summary as on the page. */
        set(rec, "point", "requested_at", "\"2026-12-06T08:30:00Z\"");
        page_and_summary(rec, &page, &sum);
        ASSERT_TRUE(strstr(sum, "of 2026-12-06 08:15:02 UTC (asked for: at or before 2026-12-06 "
                                "08:30:00 UTC).\n"));
        ASSERT_TRUE(
                strstr(page, "<th>Asked for</th><td>at or before 2026-12-06 08:30:00 UTC</td>"));

        /* Nothing but the files: said, on the page and in the summary. */
        set(rec, NULL, "check", "null");
        set(rec, NULL, "postgresql", "[]");
        set(rec, NULL, "host", "null");
        set(rec, "objectives", "rpo_seconds", "null");
        set(rec, "met", "rpo", "null");
        page_and_summary(rec, &page, &sum);
        ASSERT_TRUE(strstr(page, "No check command or PostgreSQL query ran (the policy has none): "
                                 "the files were restored, the service itself was not tested."));
        ASSERT_TRUE(strstr(sum, "No check command ran: the policy has none.\n"));
        ASSERT_TRUE(strstr(sum, "run by alice on an unnamed host,"));
        ASSERT_TRUE(strstr(sum, "RPO achieved: 44 min 58 s against no target set: not judged."));

        /* Failed at its check, which printed: its exit code. */
        set(rec, NULL, "result", "\"failed\"");
        set(rec, NULL, "failed_phase", "\"check\"");
        set(rec, NULL, "error", "\"the check command exited 3\"");
        set(rec, "phases", "4", "{\"name\": \"check\", \"ms\": 40, \"ok\": false}");
        set(rec, NULL, "check",
            "{\"command\": \"curl -fs localhost:8080\", \"exit_code\": 3, \"output\": \"refused\","
            " \"output_truncated\": false}");
        set(rec, NULL, "achieved", "{\"rto_ms\": null, \"rpo_seconds\": null}");
        set(rec, NULL, "met", "{\"rto\": null, \"rpo\": null}");
        page_and_summary(rec, &page, &sum);
        ASSERT_TRUE(strstr(sum, "FAILED at phase check: the check command exited 3.\n"));
        ASSERT_TRUE(strstr(sum, "Check command curl -fs localhost:8080: exited 3 (failure).\n"));
        ASSERT_TRUE(strstr(sum, ", check 40 ms (failed).\n"));
        ASSERT_TRUE(strstr(page, "<pre class=\"mono\">refused</pre>"));
}
