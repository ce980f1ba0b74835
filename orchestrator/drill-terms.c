/* orchestrator/drill-terms.c: a drill's terms (drill-terms.h): made from the policy at the begin,
 * kept as JSON with the drill, read back when its result comes, and the result's check and
 * PostgreSQL reports checked against them. */
#include "orchestrator/drill-terms.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "orchestrator/drill-due.h"

static int bad(char *why, size_t why_size, const char *fmt, ...) _printf_(3, 4);
static int bad(char *why, size_t why_size, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* The policy's drill.postgresql, as the run needs them. */
static json_t *pg_checks_json(const YbPolicy *p) {
        json_t *a = json_array();

        for (size_t i = 0; i < p->n_drill_pg; i++) {
                const YbDrillPgSpec *q = &p->drill_pg[i];

                json_array_append_new(
                        a,
                        json_pack("{s:s, s:s, s:o, s:s, s:I}", "name", q->hook, "mode", q->mode,
                                  "database", q->database ? json_string(q->database) : json_null(),
                                  "query", q->query, "min", (json_int_t) q->min));
        }
        return a;
}

json_t *orch_drill_terms_json(const YbPolicy *p) {
        return json_pack("{s:{s:I, s:I}, s:o, s:I, s:o}", "objectives", "rto_seconds",
                         (json_int_t) (p->rto_usec / YB_USEC_PER_SEC), "rpo_seconds",
                         (json_int_t) (p->rpo_usec / YB_USEC_PER_SEC), "check",
                         p->drill_check ? json_string(p->drill_check) : json_null(),
                         "check_timeout_seconds",
                         (json_int_t) (orch_drill_check_timeout_usec(p) / YB_USEC_PER_SEC),
                         "postgresql", pg_checks_json(p));
}

void orch_drill_terms_done(YbDrillTerms *t) {
        json_decref(t->doc);
        *t = (YbDrillTerms){};
}

int orch_drill_terms_of(const YbDrill *dr, const YbPolicy *p, YbDrillTerms *ret) {
        json_t *doc = dr->terms ? json_loads(dr->terms, 0, NULL) : orch_drill_terms_json(p);
        json_t *o = json_object_get(doc, "objectives"), *check = json_object_get(doc, "check");

        if (!doc)
                return dr->terms ? -EBADMSG : -ENOMEM;
        *ret = (YbDrillTerms){ .doc = doc,
                               .rto_seconds = json_integer_value(json_object_get(o, "rto_seconds")),
                               .rpo_seconds = json_integer_value(json_object_get(o, "rpo_seconds")),
                               .check = json_string_value(check),
                               .pg = json_object_get(doc, "postgresql"),
                               .at_known = json_object_get(doc, "at_usec") != NULL,
                               .at_usec = json_integer_value(json_object_get(doc, "at_usec")) };
        if (!json_is_integer(json_object_get(o, "rto_seconds")) ||
            !json_is_integer(json_object_get(o, "rpo_seconds")) ||
            !(json_is_null(check) || json_is_string(check)) || !json_is_array(ret->pg)) {
                orch_drill_terms_done(ret);
                return -EBADMSG;
        }
        return 0;
}

/* Whether text members key of a and b are equal (both null counts). */
static bool same_text(json_t *a, json_t *b, const char *key) {
        const char *x = json_string_value(json_object_get(a, key));
        const char *y = json_string_value(json_object_get(b, key));

        return x && y ? streq(x, y) : x == y;
}

int orch_drill_pg_against_terms(const YbDrillTerms *t, const char *file, json_t *phase_list,
                                json_t *pg, char *why, size_t why_size) {
        size_t n = json_array_size(t->pg), i;
        bool has_phase = false;
        json_t *ph;

        json_array_foreach(phase_list, i, ph) {
                if (streq(json_string_value(json_object_get(ph, "name")), "postgresql"))
                        has_phase = true;
        }
        if (n == 0)
                return has_phase ? bad(why, why_size,
                                       "it has a postgresql phase, but the drill was begun "
                                       "without PostgreSQL checks (the policy %s has no "
                                       "drill.postgresql)",
                                       file)
                                 : 0;
        if (!has_phase)
                return bad(why, why_size,
                           "it says passed without the phase postgresql, which the policy (%s) "
                           "asks for (drill.postgresql)",
                           file);
        if (json_array_size(pg) != n)
                return bad(why, why_size,
                           "it reports %zu PostgreSQL checks; the drill was begun with %zu "
                           "(drill.postgresql of %s)",
                           json_array_size(pg), n, file);
        for (i = 0; i < n; i++) {
                json_t *q = json_array_get(t->pg, i), *r = json_array_get(pg, i);
                json_t *v = json_object_get(r, "value");
                const char *hook = json_string_value(json_object_get(q, "name"));
                int64_t min = json_integer_value(json_object_get(q, "min"));

                if (!same_text(r, q, "name") || !same_text(r, q, "mode") ||
                    !same_text(r, q, "database") || !same_text(r, q, "query") ||
                    json_integer_value(json_object_get(r, "min")) != min)
                        return bad(why, why_size,
                                   "postgresql[%zu] is not check %zu the drill was begun with "
                                   "(hook %s, min %" PRId64 "; drill.postgresql of %s)",
                                   i, i, hook, min, file);
                if (!json_is_integer(v) || json_integer_value(v) < min ||
                    !json_is_true(json_object_get(r, "ok")))
                        return bad(why, why_size,
                                   "it says passed, but the PostgreSQL check of hook %s answered "
                                   "%s, under its min %" PRId64,
                                   hook, json_is_integer(v) ? "less" : "nothing", min);
        }
        return 0;
}

int orch_drill_check_against_terms(const YbDrillTerms *t, const char *file, json_t *check,
                                   bool passed, char *why, size_t why_size) {
        const char *command = json_string_value(json_object_get(check, "command"));
        json_t *code = json_object_get(check, "exit_code");

        if (command && !t->check)
                return bad(why, why_size,
                           "it reports the check command '%.80s', but the drill was begun "
                           "without one (the policy %s has no drill.check)",
                           command, file);
        if (command && !streq(command, t->check))
                return bad(why, why_size,
                           "check.command '%.80s' is not the drill.check the drill was begun "
                           "with ('%.80s', of %s)",
                           command, t->check, file);
        if (!passed || !t->check)
                return 0;
        if (!command)
                return bad(why, why_size,
                           "it says passed without the report of the check the drill was begun "
                           "with (drill.check of %s: '%.80s')",
                           file, t->check);
        if (!json_is_integer(code) || json_integer_value(code) != 0)
                return bad(why, why_size,
                           "it says passed, but the check exited %s (drill.check passes only "
                           "on exit 0)",
                           json_is_integer(code) ? "non-zero" : "without an exit code");
        return 0;
}
