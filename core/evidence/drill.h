/* core/evidence/drill.h: the restore drill's record (docs/drills.md, "The record"), a signed
 * document (signed.h) yunbakd issues: reading it (from its JSON file or from its page, which
 * embeds it), its fields typed for the page and the CLI, and the page itself (drill-html.c).
 *
 * The page is a pure function of the signed JSON: yb_drill_html always writes the same bytes for
 * the same record and embeds the JSON file's bytes in <script type="application/json"
 * id="yunbak-drill">, so a page verifies when the JSON it embeds verifies and the page is byte
 * for byte yb_drill_html of that JSON. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The document's "type" and "version". */
#define YB_DRILL_TYPE "yunbak-drill"
#define YB_DRILL_VERSION 1
/* The most of each list a record may hold: its phases (five are known), its PostgreSQL checks,
 * its history (yunbakd writes at most 12). */
#define YB_DRILL_PHASES_MAX 8
#define YB_DRILL_PG_MAX 32
#define YB_DRILL_HISTORY_MAX 12

/* A yes/no that may be unknown (null in the record). */
typedef enum YbDrillTri {
        YB_DRILL_UNKNOWN = -1,
        YB_DRILL_NO = 0,
        YB_DRILL_YES = 1,
} YbDrillTri;

/* Integers the record may leave null are -1 here ("unknown", never 0). Strings point into the
 * record's JSON and live as long as it; NULL where the record has null. */
typedef struct YbDrillPhase {
        const char *name;
        int64_t ms;
        bool ok;
        int64_t files, bytes; /* -1: not counted */
} YbDrillPhase;

typedef struct YbDrillPg {
        const char *name, *mode, *database, *query;
        int64_t min;
        int64_t value; /* -1 with has_value false: no value (error says why) */
        bool has_value, ok;
        const char *error;
} YbDrillPg;

typedef struct YbDrillEarlier {
        int64_t id;
        const char *started;
        bool passed;
        int64_t rto_ms, rpo_seconds; /* -1: not achieved */
} YbDrillEarlier;

typedef struct YbDrill {
        int64_t id;
        const char *system_id, *system_name, *department, *grade;
        const char *scenario;
        int64_t tier;
        const char *store_name, *store_location;
        const char *run_by, *host;
        const char *started, *reported;
        int64_t started_usec, reported_usec, observed_ms;

        bool has_point; /* false: no point was found (the drill failed at "point") */
        const char *point_id, *point_level, *point_time, *point_requested_at, *point_time_from;
        int64_t point_time_usec;
        bool point_partial;

        YbDrillPhase phases[YB_DRILL_PHASES_MAX];
        size_t n_phases;

        bool passed;
        const char *failed_phase, *error;

        bool has_check;                           /* false: the policy has no check command */
        const char *check_command, *check_output; /* NULL: none given */
        bool check_exited;                        /* false: no exit code (killed, or never run) */
        int64_t check_exit_code;                  /* when check_exited */
        bool check_output_truncated;

        YbDrillPg pg[YB_DRILL_PG_MAX];
        size_t n_pg;

        int64_t rto_target_seconds, rpo_target_seconds; /* -1: no objective */
        int64_t rto_ms, rpo_seconds;                    /* -1: not achieved */
        YbDrillTri rto_met, rpo_met;

        YbDrillEarlier history[YB_DRILL_HISTORY_MAX];
        size_t n_history;

        const char *signature_key; /* base64, NULL when unsigned */
} YbDrill;

/* Reads record into *ret (its strings borrowed from record), checking that every field the
 * format requires is there and of its type (not the signature). 0, or -EINVAL with the first
 * problem ("phases[2].ms: missing or not an integer") in why. */
int yb_drill_read(const json_t *record, YbDrill *ret, char *why, size_t why_size);
/* yb_drill_read's checks alone (the check signed-file.h's reader takes). */
int yb_drill_check(const json_t *record, char *why, size_t why_size);

/* "4 min 12.3 s", "2 h 5 min", "850 ms": a duration in ms as people read it, in buf. */
const char *yb_drill_format_ms(int64_t ms, char buf[32]);
/* The same for whole seconds ("1 h", "45 min 3 s"). */
const char *yb_drill_format_seconds(int64_t s, char buf[32]);
/* "2026-12-06 09:00:00 UTC" for the record's "2026-12-06T09:00:00Z" (the fraction of a second
 * left out); "unknown" for NULL; anything shorter as it is. */
const char *yb_drill_format_time(const char *iso, char buf[40]);

/* The RTO and RPO achieved as the page and the summary say them: the figure, else why there is
 * none: "not achieved (the drill failed)", or for the RPO "unknown (no point)" when no point was
 * found. In buf or a constant. */
const char *yb_drill_achieved_rto(const YbDrill *d, char buf[32]);
const char *yb_drill_achieved_rpo(const YbDrill *d, char buf[32]);

/* Whether the drill reached phase ("check"): it is among the phases run, or the drill passed
 * (every phase it needed ran). */
bool yb_drill_reached(const YbDrill *d, const char *phase);

/* Whether the drill ran phase ("restore") and it passed. */
bool yb_drill_phase_passed(const YbDrill *d, const char *phase);

/* The record in words, a few lines (`yunbak drill show`): who, what, the result (a failed drill
 * names its phase and error), RTO and RPO against their targets, the phases. In *ret (the
 * caller frees it). 0, -EINVAL (as yb_drill_read), -ENOMEM. */
int yb_drill_summary(const json_t *record, char **ret);
/* The HTML page of a (signed) record in *ret (the caller frees it). 0, -EINVAL (as
 * yb_drill_read), -ENOMEM. */
int yb_drill_html(const json_t *record, char **ret);

/* Reads a record's file, JSON or HTML, into *ret (the caller owns it), and whether it was the
 * page in *ret_html: signed-file.h's reader and rule (-EBADMSG when its bytes are not what
 * yunbak writes for it). 0, -ENOENT, -EINVAL (not a drill record: why), -EBADMSG, -ENOMEM. */
int yb_drill_load(const char *path, json_t **ret, bool *ret_html, char *why, size_t why_size);
