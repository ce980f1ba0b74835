/* orchestrator/decommission-policy.c: what a decommission's execution reads of the system's
 * policy (docs/decommission.md, "Execution"): the policy in force, or, when its file has been
 * removed, the last version the catalog holds (the one last put in force, else the newest
 * loaded), so that removing a policy file lifts neither its tier1.lock_until nor what the
 * execution must know of its stores; the dates that hold execution back; and whether the
 * confirmed export's store has since become one of the system's stores. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "orchestrator/decommission-internal.h"
#include "orchestrator/decommission.h"
#include "orchestrator/export-job.h"

static int text_row(void *ud, sqlite3_stmt *row) {
        char **text = ud;
        const char *t = (const char *) sqlite3_column_text(row, 0);

        if (!*text && t && !(*text = strdup(t)))
                return -ENOMEM;
        return 0;
}

int orch_decom_last_policy(YbDaemon *d, const char *system, YbPolicy **ret) {
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = {};
        _cleanup_free_ char *text = NULL;
        int r;

        /* The version last put in force (systems.policy_hash; a version loaded again keeps its
         * first loaded_usec), else the newest loaded. */
        r = yb_catalog_query(d->catalog,
                             "SELECT v.text FROM policy_versions v LEFT JOIN systems s"
                             " ON s.id = v.system WHERE v.system = ?1"
                             " ORDER BY (v.hash = s.policy_hash) DESC, v.loaded_usec DESC LIMIT 1",
                             text_row, &text, "t", system);
        if (r < 0)
                return r;
        if (!text)
                return -ENOENT;
        return yb_policy_parse("policy_versions", text, strlen(text), ret, &diag);
}

int64_t yb_decommission_lock_until(YbDaemon *d, const char *system) {
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;
        const YbSystem *s = yb_daemon_system(d, system);

        if (s)
                return s->policy->lock_until_usec;
        return orch_decom_last_policy(d, system, &p) >= 0 ? p->lock_until_usec : 0;
}

int orch_decom_check_dates(YbDaemon *d, const YbDecommission *row, int64_t now, char *why,
                           size_t why_size) {
        int64_t lock = yb_decommission_lock_until(d, row->system), nb = row->not_before_usec;
        const char *lock_what = yb_daemon_system(d, row->system)
                                        ? "the policy's tier1.lock_until"
                                        : "tier1.lock_until of its last policy, whose file is "
                                          "removed";
        char a[32], b[32];

        if (lock > now && nb > now) {
                orch_decom_date(MAX(lock, nb), a);
                orch_decom_date(MIN(lock, nb), b);
                snprintf(why, why_size,
                         "decommission %" PRId64 " of %s may not be executed before %s (%s), the "
                         "later of its two dates: %s is %s too",
                         row->id, row->system, a,
                         lock >= nb ? lock_what : "its not_before: the migration fallback",
                         lock >= nb ? "its not_before (the migration fallback)" : lock_what, b);
                return -EPERM;
        }
        if (nb > now || lock > now) {
                orch_decom_date(nb > now ? nb : lock, a);
                snprintf(why, why_size,
                         "decommission %" PRId64 " of %s may not be executed before %s (%s)",
                         row->id, row->system, a,
                         nb > now ? "its not_before: the migration fallback" : lock_what);
                return -EPERM;
        }
        return 0;
}

int orch_decom_check_export_store(YbDaemon *d, const YbDecommission *row, bool confirmed, char *why,
                                  size_t why_size) {
        _cleanup_(yb_policy_freep) YbPolicy *last = NULL;
        const YbSystem *s = yb_daemon_system(d, row->system);
        const YbPolicy *p = s ? s->policy : NULL;
        const YbConfigStore *e, *t;
        const char *tiers[3];

        if (!confirmed || !row->export_store)
                return 0; /* no export handed over: every store of the system is erased */
        e = yb_daemon_config_store(d->config, row->export_store);
        if (!p && orch_decom_last_policy(d, row->system, &last) >= 0)
                p = last;
        if (!p)
                return 0; /* no policy known: no tier store to compare with */
        tiers[0] = p->tier1_store;
        tiers[1] = p->tier2_store;
        tiers[2] = p->tier3_store;
        for (int i = 0; i < 3; i++) {
                if (!tiers[i])
                        continue;
                t = yb_daemon_config_store(d->config, tiers[i]);
                if (!streq(tiers[i], row->export_store) &&
                    !(e && t && orch_export_same_place(e, t)))
                        continue;
                snprintf(why, why_size,
                         "decommission %" PRId64 " of %s cannot be executed: its confirmed "
                         "export's store '%s' is now %sthe tier-%d store of its %s ('%s'), so "
                         "execution would either erase the export or leave the system's tier-%d "
                         "backups there as the department's. The operator puts that tier back "
                         "in a store of its own, reloads yunbakd and executes again",
                         row->id, row->system, row->export_store,
                         streq(tiers[i], row->export_store) ? "" : "at the same place as ", i + 1,
                         s ? "policy" : "last policy (its file is removed)", tiers[i], i + 1);
                return -EPERM;
        }
        return 0;
}
