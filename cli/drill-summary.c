/* cli/drill-summary.c: what yunbak drill prints of a drill (docs/cli.md, "yunbak drill"): the
 * point and its age, each phase's time and counts, the failure, the check's output, and RTO and
 * RPO against their targets as yunbakd's signed record judges them; or, for a drill run with
 * --no-record, what was measured and that nothing was recorded or judged. */
#include "cli/drill-summary.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/drill-duration.h"
#include "cli/output.h"
#include "core/base/buf.h"
#include "core/base/timeutil.h"

/* recorded: yunbakd gave the policy's check (else it is unknown, and none ran). */
static void print_phases(const YbDrillResult *res, bool recorded) {
        for (size_t i = 0; i < res->n_phases; i++) {
                const YbDrillPhaseResult *p = &res->phases[i];
                char bytes[32];

                printf("  %-10s %9lld ms  %s", yb_drill_phase_name(p->phase), (long long) p->ms,
                       p->ok ? "ok" : "FAILED");
                if (p->has_counts)
                        printf("  %llu %s, %s", (unsigned long long) p->files,
                               cli_plural((int64_t) p->files, "file", "files"),
                               yb_format_bytes(p->bytes, bytes));
                if (p->phase == YB_DRILL_CHECK && p->ok && !res->check.ran && res->n_pg == 0)
                        printf(recorded ? "  (the policy has no drill.check: nothing was run)"
                                        : "  (nothing was run: without yunbakd the policy's "
                                          "checks are unknown)");
                if (p->phase == YB_DRILL_RESTORE && res->restore_errors > 0)
                        printf("; %llu NOT restored (named above)",
                               (unsigned long long) res->restore_errors);
                putchar('\n');
        }
}

/* requested: the time --at asked for as given or recorded, or NULL. */
static void print_point(const YbDrillResult *res, int64_t started_usec, const char *requested) {
        char when[32], age[32], what[128];

        if (!res->has_point)
                return;
        yb_drill_time_text(res->point_time_ns, when);
        if (res->point_level == YB_LEVEL_SEGMENT)
                snprintf(what, sizeof(what), "seq %llu of chain %s",
                         (unsigned long long) res->point_seq, res->point_root);
        else
                snprintf(what, sizeof(what), "%s", yb_level_to_string(res->point_level));
        printf("Point: %s %s (%s), finished %s, %s old at the drill's start%s.\n",
               res->point_level == YB_LEVEL_SEGMENT ? "segment" : "snapshot", res->point_id, what,
               when,
               cli_drill_seconds(
                       (started_usec - yb_ns_to_usec(res->point_time_ns)) / YB_USEC_PER_SEC, age),
               res->point_partial ? "; PARTIAL (entries were left out at backup)" : "");
        if (requested)
                printf("  the newest point at or before %s, the time asked for (--at)\n",
                       requested);
}

static void print_check(const YbDrillResult *res) {
        if (!res->check.ran || (res->passed && !*res->check.output))
                return;
        printf("The check's output%s:\n%s%s",
               res->check.output_truncated ? " (its last 4096 bytes)" : "", res->check.output,
               *res->check.output && res->check.output[strlen(res->check.output) - 1] != '\n' ? "\n"
                                                                                              : "");
}

/* The point, the phases, the failure and the check's output. */
static void print_body(const YbDrillResult *res, int64_t started_usec, bool recorded,
                       const char *requested) {
        print_point(res, started_usec, requested);
        print_phases(res, recorded);
        if (!res->passed)
                printf("Failed at the phase %s: %s%s\n",
                       res->failed_phase >= 0 ? yb_drill_phase_name(res->failed_phase) : "(none)",
                       res->error ? res->error : "?",
                       res->error && *res->error && res->error[strlen(res->error) - 1] == '.'
                               ? ""
                               : ".");
        print_check(res);
}

/* "met", "NOT met", or "not judged" for the record's met.{what}. */
static const char *met_text(json_t *record, const char *what) {
        json_t *v = json_object_get(json_object_get(record, "met"), what);

        return json_is_true(v) ? "met" : json_is_false(v) ? "NOT met" : "not judged";
}

/* An achieved figure, n of unit (ms or s), printed once and exactly: under a minute as it is
 * ("28 ms", "45 s"), else in words (cli_drill_seconds: "1 min 15 s"), followed by
 * the exact figure only when the words round it ("1 h 5 min (3903 s)", "1 min 15 s (75234
 * ms)"). Returns buf. */
static const char *achieved_text(int64_t n, int64_t unit_usec, char buf[64]) {
        bool ms = unit_usec == YB_USEC_PER_MSEC;
        int64_t s = ms ? n / 1000 : n;
        char d[32];
        /* the words say s in full under an hour, and whole hours and minutes
         * under two days */
        bool exact = (!ms || n % 1000 == 0) &&
                     (s < 3600 || (s < 2 * 86400 && s % 60 == 0) || s % 3600 == 0);

        if (n * unit_usec < YB_USEC_PER_MINUTE)
                snprintf(buf, 64, "%lld %s", (long long) n, ms ? "ms" : "s");
        else if (exact)
                snprintf(buf, 64, "%s", cli_drill_seconds(s, d));
        else
                snprintf(buf, 64, "%s (%lld %s)", cli_drill_seconds(s, d), (long long) n,
                         ms ? "ms" : "s");
        return buf;
}

static void print_objective(json_t *record, const char *what, const char *achieved_key,
                            int64_t unit_usec, const char *target_key) {
        int64_t achieved, target;
        char a[64], t[32];
        bool has_a = cli_json_int(json_object_get(record, "achieved"), achieved_key, &achieved);
        bool has_t = cli_json_int(json_object_get(record, "objectives"), target_key, &target);

        printf("%s: %s, target %s: %s.\n", what,
               has_a ? achieved_text(achieved, unit_usec, a) : "not achieved",
               has_t ? cli_drill_seconds(target, t) : "none in the policy",
               met_text(record, !strcmp(what, "RTO") ? "rto" : "rpo"));
}

void cli_drill_print_recorded(json_t *record, const YbDrillResult *res) {
        _cleanup_free_ char *name = NULL;
        json_t *system = json_object_get(record, "system");
        int64_t id = 0, started = 0;

        (void) cli_json_int(record, "id", &id);
        (void) cli_json_int(record, "started_usec", &started);
        name = cli_sanitize(cli_json_str(system, "name") ?: "?");
        printf("Drill %lld of system '%s' (%s), tier %lld, scenario '%s': %s\n", (long long) id,
               cli_json_str(system, "id") ?: "?", name ?: "?",
               (long long) json_integer_value(json_object_get(record, "tier")),
               cli_json_str(record, "scenario") ?: "?", res->passed ? "PASSED" : "FAILED");
        print_body(res, started, true,
                   cli_json_str(json_object_get(record, "point"), "requested_at"));
        print_objective(record, "RTO", "rto_ms", YB_USEC_PER_MSEC, "rto_seconds");
        print_objective(record, "RPO", "rpo_seconds", YB_USEC_PER_SEC, "rpo_seconds");
        printf("Recorded and signed by yunbakd as drill %lld. Its page: yunbak drill show %lld "
               "--html FILE\n",
               (long long) id, (long long) id);
}

void cli_drill_print_unrecorded(const char *system, int tier, const char *location, const char *at,
                                int64_t at_usec, const YbDrillResult *res, int64_t started_usec) {
        int64_t rto = 0;
        char d[64];

        printf("Drill of system '%s' (tier %d, store %s), not recorded: %s\n", system, tier,
               location, res->passed ? "PASSED" : "FAILED");
        print_body(res, started_usec, false, at);
        for (size_t i = 0; i < res->n_phases; i++)
                rto += res->phases[i].ms;
        if (res->passed)
                printf("RTO achieved: %s.\n", achieved_text(rto, YB_USEC_PER_MSEC, d));
        else
                printf("RTO: not achieved (the drill failed).\n");
        /* what an outage at the drill's start, or at the time --at asked for, would lose */
        if (at && at_usec < started_usec)
                started_usec = at_usec;
        if (res->has_point)
                printf("RPO achieved: %s: the point's age at %s, on this host's clock.\n",
                       achieved_text((started_usec - yb_ns_to_usec(res->point_time_ns)) /
                                             YB_USEC_PER_SEC,
                                     YB_USEC_PER_SEC, d),
                       at ? "the time asked for (--at)" : "the start");
        printf("Nothing was recorded (--no-record): without yunbakd the objectives are unknown, "
               "so RTO and RPO were not judged, and no signed record exists.\n");
}
