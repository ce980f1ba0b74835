/* orchestrator/drill-due.h: when a system's next drill is due, and whether it is overdue
 * (docs/drills.md, "yunbakd's part"): the one rule that status, the metrics and the reports
 * apply. A system is overdue when its last passing drill started more than drill.every ago, or,
 * never drilled, when drill.every has passed since yunbakd first loaded its policy; a
 * decommissioned system (its tiers stopped) is never overdue. A drill left running for longer
 * than YB_DRILL_ABANDON_USEC plus its check timeout is abandoned: never a pass. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "catalog/catalog.h"
#include "catalog/drills.h"
#include "core/base/buf.h"
#include "orchestrator/daemon.h"

/* How long a drill may run, beyond its check timeout, before it counts as abandoned. */
#define YB_DRILL_ABANDON_USEC (24 * YB_USEC_PER_HOUR)

/* A system's drills as status, the metrics and the reports say them. */
typedef struct YbDrillDue {
        int64_t every_usec;
        int64_t last_passed_usec; /* the start of the last passing drill; 0: never */
        int last_passed_tier;
        int64_t last_drill_usec; /* the start of the newest drill; 0: none */
        const char *last_result; /* "passed", "failed", "running", "abandoned"; NULL: none */
        int64_t due_usec;        /* 0: not known (when the policy was first loaded is not) */
        bool overdue;
        bool decommissioned; /* then never overdue, and due_usec 0 */
} YbDrillDue;

/* The rule, from the figures alone (for the reports, which read them from the catalog as of a
 * time): the due time in *ret_due (0 when neither a pass nor the policy's first load is known,
 * or when decommissioned) and whether now is past it. */
void yb_drill_due_judge(int64_t every_usec, int64_t last_passed_usec, int64_t policy_since_usec,
                        bool decommissioned, int64_t now, int64_t *ret_due, bool *ret_overdue);
/* Whether a drill that started at started_usec, still running at now, is abandoned. */
bool yb_drill_abandoned(int64_t started_usec, int64_t check_timeout_usec, int64_t now);
/* The state a drill is shown in: its state, or "abandoned" for one running past the bound. */
const char *yb_drill_shown_state(const YbDrill *dr, int64_t check_timeout_usec, int64_t now);
/* The bound of a drill's check (drill.timeout of the policy). */
int64_t orch_drill_check_timeout_usec(const YbPolicy *p);

/* System s's drills at now, from its status (no catalog read). */
void orch_drill_due(const YbSystem *s, int64_t now, YbDrillDue *ret);
/* Judges s at now into its status' drill_overdue and drill_abandoned (status remakes its JSON
 * when they change). */
void orch_drill_due_refresh(YbSystem *s, int64_t now);
/* The "drill" member of a system in GET /v1/status (docs/api.md). NULL when out of memory. */
json_t *orch_drill_due_json(const YbSystem *s, int64_t now);
/* The families yunbak_drill_last_success_timestamp_seconds and yunbak_drill_overdue. */
void orch_drill_due_metrics(const YbSystem *systems, size_t n, int64_t now, YbBuf *b);

/* Reads the drill figures of n systems from the catalog into their status. A failure is logged
 * and returned as -errno. */
int orch_drill_due_load(YbCatalog *c, YbSystem *systems, size_t n);
/* Puts drill dr (just begun or finished) into s's status. */
void orch_drill_due_note(YbSystem *s, const YbDrill *dr);

/* "2026-12-06T09:00:00Z": a time to the second, as the records and status write it (ret needs
 * 32 bytes). */
void orch_drill_date(int64_t usec, char ret[32]);
/* The same as a JSON string, or null for 0 (not set) and INT64_MAX (never). */
json_t *orch_drill_date_json(int64_t usec);
