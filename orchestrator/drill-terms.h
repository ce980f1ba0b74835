/* orchestrator/drill-terms.h: what a drill is begun with and its result judged against
 * (docs/drills.md, "yunbakd's part"): the objectives, the check command and the PostgreSQL checks
 * of the policy in force at the begin, and the point it asked for, kept with the drill (the
 * catalog's drills.terms), so that a reload while the drill runs changes neither what it must
 * report nor what it is judged by. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "catalog/drills.h"
#include "policies/policy.h"

/* A drill's terms, read. */
typedef struct YbDrillTerms {
        json_t *doc; /* owns what the other members point into */
        int64_t rto_seconds, rpo_seconds;
        const char *check; /* the drill.check command; NULL: none */
        json_t *pg;        /* the PostgreSQL checks: [{name, mode, database, query, min}] */
        bool at_known;     /* whether the begin's at_usec is known (kept since schema 10) */
        int64_t at_usec;   /* the point the begin asked for; 0: the newest */
} YbDrillTerms;

/* The terms of a drill of policy p begun now, as the begin answers them (docs/api.md, "Drills":
 * objectives, check, check_timeout_seconds, postgresql): a new object, NULL when out of memory. */
json_t *orch_drill_terms_json(const YbPolicy *p);
/* The terms drill dr was begun with (dr->terms; for a drill begun before they were kept, p's now)
 * into *ret, to be released with orch_drill_terms_done. -EBADMSG when the kept ones are not what
 * a begin writes, -ENOMEM. */
int orch_drill_terms_of(const YbDrill *dr, const YbPolicy *p, YbDrillTerms *ret);
void orch_drill_terms_done(YbDrillTerms *t);

/* Checks a result's check report (check: {command, exit_code, ...} or null) against t: a command
 * it names is t's (a record never names another), and a passed drill begun with a check ran it
 * and saw it exit 0. file: the policy's, for the message. 0, or -EINVAL with the problem in why. */
int orch_drill_check_against_terms(const YbDrillTerms *t, const char *file, json_t *check,
                                   bool passed, char *why, size_t why_size);
/* Checks a passed result's phases and PostgreSQL reports against t: begun with PostgreSQL checks,
 * it has the phase postgresql and ran each check as t gives it, each answering at least its min;
 * begun without, it has no postgresql phase. 0, or -EINVAL with the problem in why. */
int orch_drill_pg_against_terms(const YbDrillTerms *t, const char *file, json_t *phase_list,
                                json_t *pg, char *why, size_t why_size);
