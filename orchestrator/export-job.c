/* orchestrator/export-job.c: a decommission's final export (export-job.h): the rules its store
 * and key follow, and the decommission's state when its job ends. The job itself is an ordinary
 * tier-1 full (jobs.c) with another store and key; its snapshot is recorded in the catalog with
 * that store like any other, which is how execution knows to leave it alone. */
#include "orchestrator/export-job.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"

/* Whether store names one of the policy's tier stores, or a store at the same place. */
static const char *tier_of(const YbDaemonConfig *c, const YbPolicy *p, const char *store,
                           const char *url) {
        const char *tiers[3] = { p->tier1_store, p->tier2_store, p->tier3_store };
        static const char *const names[3] = { "tier-1", "tier-2", "tier-3" };

        for (size_t i = 0; i < 3; i++) {
                const YbConfigStore *t = tiers[i] ? yb_daemon_config_store(c, tiers[i]) : NULL;

                if (tiers[i] && (streq(tiers[i], store) || (t && streq(t->url, url))))
                        return names[i];
        }
        return NULL;
}

static int count_row(void *ud, struct sqlite3_stmt *row) {
        *(int64_t *) ud = sqlite3_column_int64(row, 0);
        return 0;
}

int orch_export_check(YbDaemon *d, const YbSystem *s, const YbDecommission *dc, const char *store,
                      const YbPublicKey *key, char *why, size_t why_size) {
        const YbConfigStore *st = yb_daemon_config_store(d->config, store);
        const YbPolicy *p = s->policy;
        char own[2 * YB_KEY_ID_SIZE + 1];
        const char *tier;
        int64_t n = 0;
        int r;

        if (!st) {
                snprintf(why, why_size,
                         "store '%s' is not in %s: the export goes to a store yunbakd knows; name "
                         "one of its stores, or add one there and restart yunbakd",
                         store, d->config->file);
                return -ENOENT;
        }
        tier = tier_of(d->config, p, store, st->url);
        if (tier) {
                snprintf(why, why_size,
                         "store '%s' is (or is at the same place as) the %s store of system "
                         "'%s', whose repository there the decommission destroys: the export "
                         "must go to a store that holds nothing of the system",
                         store, tier, p->id);
                return -EPERM;
        }
        /* An earlier export's snapshots there are the department's own: a new export may join
         * them. */
        r = yb_catalog_query(d->catalog,
                             "SELECT count(*) FROM snapshots WHERE system = ?1 AND store = ?2",
                             count_row, &n, "tt", p->id, store);
        if (r < 0) {
                snprintf(why, why_size, "cannot read the catalog: %s", strerror(-r));
                return r;
        }
        if (n > 0 && !(dc->export_store && streq(dc->export_store, store))) {
                snprintf(why, why_size,
                         "store '%s' holds %" PRId64 " snapshot%s of system '%s' (the catalog "
                         "lists them: 'yunbak snapshots --system %s'), which the decommission "
                         "destroys: the export must go to a store that holds nothing of the system",
                         store, n, n == 1 ? "" : "s", p->id, p->id);
                return -EPERM;
        }
        if (!streq(key->system, p->id)) {
                snprintf(why, why_size,
                         "the public key is of system '%s', not of '%s': make the handover's key "
                         "with 'yunbak key init --system %s --out DIR --no-register' in a "
                         "directory of its own",
                         key->system, p->id, p->id);
                return -EPERM;
        }
        if (memcmp(key->id, s->pub.id, sizeof(key->id)) == 0) {
                yb_key_id_hex(key->id, own);
                snprintf(why, why_size,
                         "the public key is system '%s''s own key (key id %s), which the "
                         "decommission destroys: an export sealed to it could not be read "
                         "afterwards. Make a new key pair for the handover with 'yunbak key init "
                         "--system %s --out DIR --no-register' in a directory of its own, and name "
                         "its .pub",
                         p->id, own, p->id);
                return -EPERM;
        }
        return 0;
}

/* Moves dc on by its export job's end, writes it back and audits it. */
static int apply_end(YbDaemon *d, YbDecommission *dc, YbJobState state, const char *snapshot,
                     const char *error) {
        bool made = (state == YB_JOB_SUCCEEDED || state == YB_JOB_PARTIAL) && snapshot && *snapshot;
        _cleanup_free_ char *last = NULL, *snap = NULL, *new_state = NULL;
        char detail[2600];
        int r;

        if (made && state == YB_JOB_PARTIAL &&
            asprintf(&last,
                     "export snapshot %s is partial: %s. Check what it lacks before confirming it, "
                     "or name another export",
                     snapshot, error ? error : "entries were left out") < 0)
                return -ENOMEM;
        if (!made && asprintf(&last,
                              "export job %" PRId64 " ended %s%s%s: no export was made. Name the "
                              "export again (yunbak decommission export %" PRId64 "), or waive it "
                              "with a reason",
                              dc->export_job, yb_job_state_to_string(state), error ? ": " : "",
                              error ? error : "", dc->id) < 0)
                return -ENOMEM;
        new_state = strdup(made ? YB_DECOM_EXPORTED : YB_DECOM_APPROVED);
        snap = made ? strdup(snapshot) : NULL;
        if (!new_state || (made && !snap))
                return -ENOMEM;
        free(dc->state);
        dc->state = TAKE_PTR(new_state);
        free(dc->export_snapshot);
        dc->export_snapshot = TAKE_PTR(snap);
        free(dc->last_error);
        dc->last_error = TAKE_PTR(last);
        dc->updated_usec = yb_daemon_now(d);
        r = yb_decommissions_update(d->catalog, dc);
        (void) yb_daemon_load_decommissions(d);
        snprintf(detail, sizeof(detail),
                 "decommission %" PRId64 ": export job %" PRId64 " ended %s; %s%s%s%s%s", dc->id,
                 dc->export_job, yb_job_state_to_string(state), made ? "snapshot " : "",
                 made ? snapshot : "", made ? " in store " : "", made ? dc->export_store : "",
                 dc->last_error ? dc->last_error : "");
        if (r < 0) {
                log_error_errno(r, "Cannot record the end of decommission %" PRId64 "'s export: %m",
                                dc->id);
                return r;
        }
        (void) yb_daemon_audit(d, NULL, "decommission.export", dc->system,
                               !made                     ? "failed"
                               : state == YB_JOB_PARTIAL ? "partial"
                                                         : "ok",
                               detail);
        return 0;
}

void orch_export_job_ended(YbDaemon *d, int64_t job, YbJobState state, const char *snapshot,
                           const char *error) {
        YbDecommission dc = {};
        int64_t id = 0;
        int r;

        r = yb_catalog_query(d->catalog,
                             "SELECT id FROM decommissions WHERE export_job = ?1 AND state = "
                             "'" YB_DECOM_EXPORTING "'",
                             count_row, &id, "I", job);
        if (r < 0 || id == 0)
                return;
        r = yb_decommissions_get(d->catalog, id, &dc);
        if (r >= 0)
                (void) apply_end(d, &dc, state, snapshot, error);
        yb_decommission_done(&dc);
}

typedef struct JobRow {
        char state[16], snapshot[64], error[1024];
} JobRow;

static int job_row(void *ud, struct sqlite3_stmt *row) {
        JobRow *j = ud;
        const char *t;

        snprintf(j->state, sizeof(j->state), "%s", sqlite3_column_text(row, 0));
        t = (const char *) sqlite3_column_text(row, 1);
        snprintf(j->snapshot, sizeof(j->snapshot), "%s", t ? t : "");
        t = (const char *) sqlite3_column_text(row, 2);
        snprintf(j->error, sizeof(j->error), "%s", t ? t : "");
        return 0;
}

int orch_export_reconcile(YbDaemon *d, YbDecommission *dc) {
        JobRow j = {};
        YbDecommission again = {};
        int r, state = -1;

        if (!streq(dc->state, YB_DECOM_EXPORTING) || dc->export_job <= 0)
                return 0;
        r = yb_catalog_query(d->catalog, "SELECT state, snapshot, error FROM jobs WHERE id = ?1",
                             job_row, &j, "I", dc->export_job);
        if (r < 0)
                return r;
        for (int s = YB_JOB_SUCCEEDED; s < _YB_JOB_STATE_MAX; s++)
                if (streq(j.state, yb_job_state_to_string(s)))
                        state = s;
        /* Queued or running (or waiting to retry): not ended. A job the catalog lost ends. */
        if (state < 0 && j.state[0])
                return 0;
        r = apply_end(d, dc, state < 0 ? YB_JOB_FAILED : state, j.snapshot,
                      state < 0    ? "the catalog has no record of it"
                      : j.error[0] ? j.error
                                   : NULL);
        if (r < 0)
                return r;
        r = yb_decommissions_get(d->catalog, dc->id, &again);
        if (r < 0)
                return r;
        yb_decommission_done(dc);
        *dc = again;
        return 0;
}
