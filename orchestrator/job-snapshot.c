/* orchestrator/job-snapshot.c: the snapshot a job made (orchestrator/job-snapshot.h): its signed
 * header read from the store, retention after it, and what both come to in the catalog and the
 * audit log. */
#include "orchestrator/job-snapshot.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/store/store.h"
#include "policies/retention-apply.h"

void yb_job_snapshot_done(YbJobSnapshot *r) {
        yb_header_free(r->header);
        for (size_t i = 0; i < r->n_pruned; i++)
                free(r->pruned[i]);
        free(r->pruned);
        free(r->agent);
        free(r->quarantine);
        yb_names_done(&r->newly_quarantined);
        yb_names_done(&r->locked);
}

YbCatalogSnapshot yb_job_catalog_snapshot(const char *system, const char *store,
                                          const YbSnapshotHeader *h, const char *agent) {
        return (YbCatalogSnapshot){
                .system = system,
                .store = store,
                .id = h->id,
                .level = yb_level_to_string(h->level),
                .parent = *h->parent ? h->parent : NULL,
                .agent = agent,
                .started_usec = yb_ns_to_usec(h->started_ns),
                .finished_usec = yb_ns_to_usec(h->finished_ns),
                .files = h->counts.files,
                .bytes_source = h->bytes_source,
                .bytes_stored = h->bytes_stored,
                .partial = h->partial,
        };
}

int yb_job_snapshot_read(const YbJobSpec *s, const char *id, YbJobSnapshot *rec) {
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        int r;

        char why[1024];

        r = yb_job_spec_open_store(s, &store, why, sizeof(why));
        if (r < 0)
                log_debug("%s", why);
        if (r >= 0)
                r = yb_repo_open(store, s->system, &repo);
        if (r >= 0)
                r = yb_repo_load_header(repo, id, &rec->header);
        if (r < 0)
                return r;
        rec->agent = yb_job_agent_key_text(rec->header->agent_pk);
        rec->snap = yb_job_catalog_snapshot(s->system, s->store_name, rec->header, rec->agent);
        /* A snapshot of an agent that is not the pinned one is recorded (the store holds it) but
         * does not count as a good backup: no retention on its strength. */
        rec->agent_mismatch =
                s->has_agent_key && memcmp(rec->header->agent_pk, s->agent_key, 32) != 0;
        if (rec->agent_mismatch) {
                _cleanup_free_ char *pinned = yb_job_agent_key_text(s->agent_key);

                if (asprintf(&rec->quarantine,
                             "signed by agent %s, not by %s that hosts.%s.agent_key pins",
                             rec->agent ? rec->agent : "?", pinned ? pinned : "?", s->host) < 0)
                        return -ENOMEM;
                rec->snap.quarantine = rec->quarantine;
        }
        return 0;
}

/* yb_repo_prune_many's report: what was removed, and the first refusal or failure. */
static void pruned_one(void *userdata, const char *id, int error, const char *child) {
        YbJobSnapshot *rec = userdata;

        if (error == 0) {
                char *copy = strdup(id);

                if (copy)
                        rec->pruned[rec->n_pruned++] = copy;
                else
                        log_oom(); /* removed from the store; the catalog keeps it until rebuild */
        } else if (error == -EPERM && child) {
                /* Kept as the store was told to: not a failure. */
                yb_job_locked_add(&rec->locked, id, child);
                if (strcmp(child, rec->locked_until) > 0)
                        snprintf(rec->locked_until, sizeof(rec->locked_until), "%s", child);
        } else if (!rec->prune_error[0])
                snprintf(rec->prune_error, sizeof(rec->prune_error),
                         "cannot prune snapshot %s: %s%s%s", id, strerror(-error),
                         child ? ", needed by " : "", child ? child : "");
}

bool yb_job_locked_has(const YbNames *locked, const char *id) {
        size_t n = strlen(id);

        for (size_t i = 0; i < locked->n; i++)
                if (strncmp(locked->v[i], id, n) == 0 && locked->v[i][n] == ' ')
                        return true;
        return false;
}

void yb_job_locked_add(YbNames *locked, const char *id, const char *date) {
        _cleanup_free_ char *what = NULL;

        if (yb_job_locked_has(locked, id))
                return;
        if (asprintf(&what, "%s until %s", id, date) < 0 || yb_names_add(locked, what) < 0)
                log_oom(); /* kept all the same; only the audit lacks it */
}

void yb_job_locked_audit(YbDaemon *d, const char *action, const char *system, const char *what,
                         const char *store, const YbNames *locked) {
        for (size_t i = 0; i < locked->n; i++) {
                const char *until = strstr(locked->v[i], " until ");
                _cleanup_free_ char *detail = NULL;

                if (!until || asprintf(&detail,
                                       "%s %.*s in %s is under Object Lock (compliance) until %s: "
                                       "it can be pruned from then",
                                       what, (int) (until - locked->v[i]), locked->v[i], store,
                                       until + strlen(" until ")) < 0)
                        continue;
                yb_daemon_audit(d, NULL, action, system, "kept", detail);
                log_notice("System '%s': %s.", system, detail);
        }
}

/* What set_aside() needs: the job's spec, and where to note what it quarantines now. */
typedef struct Pruning {
        const YbJobSpec *s;
        YbJobSnapshot *rec;
} Pruning;

/* Whether retention must leave snapshot h alone (a YbRetentionAsideFn): the catalog quarantines
 * it, or the host is pinned and another agent signed it without the catalog holding it as trusted
 * (a snapshot an agent committed while its job failed, one the catalog lost): that one is
 * quarantined now, in rec. */
static bool set_aside(void *userdata, const YbSnapshotHeader *h) {
        const Pruning *p = userdata;
        const YbJobSpec *s = p->s;

        if (yb_names_contain(&s->quarantined, h->id))
                return true;
        if (!s->has_agent_key || memcmp(h->agent_pk, s->agent_key, 32) == 0 ||
            yb_names_contain(&s->trusted, h->id))
                return false;
        if (!yb_names_contain(&p->rec->newly_quarantined, h->id) &&
            yb_names_add(&p->rec->newly_quarantined, h->id) < 0)
                log_oom(); /* it is still left alone this time */
        return true;
}

/* Quarantined snapshots are left out of the plan: kept, never counted, and what they are built on
 * stays with them (policies/retention-apply.h). */
static int prune(const YbJobSpec *s, YbRepo *repo, int64_t now, YbJobSnapshot *rec) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList list = {};
        _cleanup_(yb_retention_outcome_done) YbRetentionOutcome out = {};
        Pruning p = { s, rec };
        YbRetentionRun run = {
                .rules = &s->retention,
                .lock_until_usec = s->lock_until_usec,
                .now_usec = now,
                .aside = set_aside,
                .aside_userdata = &p,
                .report = pruned_one,
                .report_userdata = rec,
        };
        int r;

        r = yb_repo_lock(repo);
        if (r < 0) {
                snprintf(rec->prune_error, sizeof(rec->prune_error),
                         "cannot take the repository lock to prune: %s", strerror(-r));
                return r;
        }
        r = yb_repo_list(repo, &list);
        if (r >= 0 && list.n > 0) {
                rec->pruned = new0(char *, list.n);
                if (!rec->pruned)
                        r = -ENOMEM;
        }
        if (r >= 0)
                r = yb_retention_apply(repo, &list, &run, &out);
        if (r >= 0 && out.error != -EPERM)
                r = out.error;
        if (r < 0 && !rec->prune_error[0])
                snprintf(rec->prune_error, sizeof(rec->prune_error),
                         "cannot apply the retention: %s", strerror(-r));
        yb_repo_unlock(repo);
        return r;
}

void yb_job_snapshot_prune(const YbJobSpec *s, int64_t now, YbJobSnapshot *rec) {
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        int r;

        if (!rec->header || rec->agent_mismatch)
                return;
        r = yb_job_spec_open_store(s, &store, rec->prune_error, sizeof(rec->prune_error));
        if (r < 0)
                return;
        r = yb_repo_open(store, s->system, &repo);
        if (r < 0) {
                snprintf(rec->prune_error, sizeof(rec->prune_error),
                         "cannot open the repository to prune: %s", strerror(-r));
                return;
        }
        (void) prune(s, repo, now, rec);
}

/* Under lock, before the snapshot is recorded: an agent key the system's snapshots have not been
 * signed by so far is audited (agent.new), and warned about when there were others. Without a
 * pin (hosts.NAME.agent_key) this is how a replaced agent shows. */
static void audit_agent(YbDaemon *d, const YbJobSpec *s, const YbJobSnapshot *rec) {
        _cleanup_(yb_names_done) YbNames known = {};
        _cleanup_free_ char *others = NULL;
        YbBuf b = YB_BUF_INIT;
        char detail[1024];

        if (!rec->agent ||
            yb_catalog_query(d->catalog,
                             "SELECT DISTINCT agent FROM snapshots WHERE system = ?1 AND agent IS "
                             "NOT NULL ORDER BY agent",
                             yb_names_row, &known, "t", s->system) < 0 ||
            yb_names_contain(&known, rec->agent))
                return;
        for (size_t i = 0; i < known.n; i++)
                if (yb_buf_printf(&b, "%s%s", i > 0 ? ", " : "", known.v[i]) < 0)
                        break;
        others = yb_buf_append_u8(&b, 0) < 0 ? NULL : (char *) TAKE_PTR(b.data);
        yb_buf_done(&b);
        if (known.n > 0) {
                snprintf(detail, sizeof(detail),
                         "snapshot %s from host %s is signed by agent key %s; the system's "
                         "snapshots so far were signed by %s",
                         rec->snap.id, s->host, rec->agent, others ? others : "?");
                if (!rec->agent_mismatch)
                        log_warning("System '%s': %s. If the host was not reinstalled, find out "
                                    "who wrote it; pin hosts.%s.agent_key to refuse other agents.",
                                    s->system, detail, s->host);
        } else
                snprintf(detail, sizeof(detail),
                         "snapshot %s from host %s is signed by agent key %s, the system's first",
                         rec->snap.id, s->host, rec->agent);
        yb_daemon_audit(d, NULL, "agent.new", s->system,
                        rec->agent_mismatch ? "refused"
                        : known.n > 0       ? "warning"
                                            : "ok",
                        detail);
}

void yb_job_snapshot_record(YbDaemon *d, const YbJobSpec *s, const YbJobSnapshot *rec) {
        if (rec->header) {
                int r;

                audit_agent(d, s, rec);
                r = yb_catalog_put_snapshot(d->catalog, &rec->snap);

                if (r < 0)
                        log_error_errno(r, "Cannot record snapshot %s in the catalog: %m",
                                        rec->snap.id);
        }
        for (size_t i = 0; i < rec->newly_quarantined.n; i++) {
                _cleanup_free_ char *why = NULL;

                if (asprintf(&why, "signed by an agent other than the one hosts.%s.agent_key pins",
                             s->host) < 0)
                        continue;
                (void) yb_catalog_set_quarantine(d->catalog, s->system, s->store_name,
                                                 rec->newly_quarantined.v[i], why);
                yb_daemon_audit(d, NULL, "snapshot.quarantine", s->system, "ok",
                                rec->newly_quarantined.v[i]);
                log_warning("System '%s': snapshot %s is %s: quarantined (kept, never counted or "
                            "pruned).",
                            s->system, rec->newly_quarantined.v[i], why);
        }
        for (size_t i = 0; i < rec->n_pruned; i++) {
                (void) yb_catalog_forget_snapshot(d->catalog, s->system, s->store_name,
                                                  rec->pruned[i]);
                yb_daemon_audit(d, NULL, "snapshot.prune", s->system, "ok", rec->pruned[i]);
                log_info("System '%s': pruned snapshot %s by the policy's retention.", s->system,
                         rec->pruned[i]);
        }
        yb_job_locked_audit(d, "snapshot.prune", s->system, "snapshot", s->store_name,
                            &rec->locked);
        /* What the last retention that ran through found: a later one that the lock no longer
         * stops clears it. */
        if (rec->header && !rec->agent_mismatch && (!rec->prune_error[0] || rec->locked.n > 0)) {
                YbSystem *sys = yb_daemon_system(d, s->system);

                if (sys) {
                        sys->status.prune_locked = (int64_t) rec->locked.n;
                        snprintf(sys->status.prune_locked_until,
                                 sizeof(sys->status.prune_locked_until), "%s", rec->locked_until);
                }
        }
        if (rec->prune_error[0]) {
                log_error("System '%s': %s.", s->system, rec->prune_error);
                yb_daemon_audit(d, NULL, "snapshot.prune", s->system, "failed", rec->prune_error);
        }
}
