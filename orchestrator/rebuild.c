/* orchestrator/rebuild.c: `yunbak catalog rebuild`: the catalog's systems and snapshots made
 * again from what the stores hold. Only the signed headers are read (no key is needed), and a
 * snapshot whose header does not check out is not recorded. Jobs, approvals and the audit log
 * are the daemon's own memory and are kept.
 *
 * A store that suddenly shows nothing is far more often an unmounted share than a store whose
 * every snapshot was deleted: what the catalog knew and a store no longer shows is kept, named
 * and audited, and forgotten only when the operator says so (--forget-missing). */
#include "orchestrator/rebuild.h"

#include <stdio.h>
#include <stdlib.h>

#include "core/base/buf.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/repo.h"
#include "core/store/store.h"
#include "orchestrator/daemon.h"
#include "orchestrator/job-snapshot.h"
#include "orchestrator/storage-usage.h"

static int list_name(void *ud, const char *name) {
        return yb_names_add(ud, name);
}

static bool is_broken(const YbSnapshotList *l, const char *id) {
        for (size_t i = 0; i < l->n_broken; i++)
                if (streq(l->broken[i].id, id))
                        return true;
        return false;
}

typedef struct Rebuild {
        YbDaemon *d;
        bool forget;
        YbRebuildSummary *sum;
} Rebuild;

/* The snapshots of system in store that the catalog knows and the store no longer shows:
 * forgotten (with forget) or kept, and either way listed and written to the audit log. */
static int handle_missing(Rebuild *rb, const char *system, const char *store_name,
                          const YbNames *gone) {
        YbBuf b = YB_BUF_INIT;
        int r = 0;

        if (gone->n == 0)
                return 0;
        for (size_t i = 0; r >= 0 && i < gone->n; i++) {
                _cleanup_free_ char *entry = NULL;

                if (rb->forget) {
                        r = yb_catalog_forget_snapshot(rb->d->catalog, system, store_name,
                                                       gone->v[i]);
                        rb->sum->removed++;
                } else if (asprintf(&entry, "%s\t%s\t%s", system, store_name, gone->v[i]) < 0 ||
                           yb_names_add(&rb->sum->missing, entry) < 0)
                        r = -ENOMEM;
                if (r >= 0)
                        r = yb_buf_printf(&b, "%s%s", i > 0 ? " " : "", gone->v[i]);
        }
        if (r >= 0)
                r = yb_buf_append(&b, "", 1);
        if (r >= 0) {
                _cleanup_free_ char *detail = NULL;

                if (asprintf(&detail, "store '%s': %zu snapshot%s gone from the store: %s%s",
                             store_name, gone->n, gone->n == 1 ? "" : "s", (char *) b.data,
                             rb->forget ? " (forgotten: --forget-missing)"
                                        : " (kept in the catalog)") < 0)
                        r = -ENOMEM;
                else {
                        if (rb->forget)
                                log_warning("System '%s': %s.", system, detail);
                        else
                                log_warning("System '%s': %s; is the store mounted? 'yunbak "
                                            "catalog rebuild --forget-missing' forgets them.",
                                            system, detail);
                        yb_daemon_audit(rb->d, NULL,
                                        rb->forget ? "snapshot.forget" : "snapshot.missing", system,
                                        rb->forget ? "ok" : "warning", detail);
                }
        }
        yb_buf_done(&b);
        return r;
}

static int rebuild_system(Rebuild *rb, YbStore *store, const char *store_name, const char *id) {
        YbDaemon *d = rb->d;
        YbRebuildSummary *sum = rb->sum;
        _cleanup_(yb_names_done) YbNames gone = {};
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList list = {};
        _cleanup_(yb_names_done) YbNames known = {};
        YbSystem *sys;
        const YbConfigHost *pin = NULL; /* the system's host, when it pins its agent */
        int r;

        r = yb_repo_open(store, id, &repo);
        if (r == -ENOENT)
                return 0; /* not a repository */
        if (r < 0) {
                log_error_errno(r, "Store '%s', system '%s': cannot open the repository: %m",
                                store_name, id);
                sum->errors++;
                return 0;
        }
        r = yb_repo_list(repo, &list);
        if (r < 0) {
                log_error_errno(r, "Store '%s', system '%s': cannot list snapshots: %m", store_name,
                                id);
                sum->errors++;
                return 0;
        }
        sum->systems++;
        sys = yb_daemon_system(d, id);
        if (sys) {
                const YbConfigHost *host = yb_daemon_config_host(d->config, sys->policy->host);

                pin = host && host->has_agent_key ? host : NULL;
        } else {
                /* A system with snapshots but no policy now: recorded with what the store
                 * says, so that its snapshots stay findable. */
                YbCatalogSystem cs = { id, id, "", "", "", "" };

                r = yb_catalog_put_system(d->catalog, &cs, NULL, yb_daemon_now(d));
                if (r < 0)
                        return r;
        }
        r = yb_catalog_query(d->catalog,
                             "SELECT id FROM snapshots WHERE system = ?1 AND store = ?2",
                             yb_names_row, &known, "tt", id, store_name);
        if (r < 0)
                return r;
        for (size_t i = 0; i < list.n; i++) {
                const YbSnapshotHeader *h = list.items[i];
                _cleanup_free_ char *agent = NULL;
                YbCatalogSnapshot s;

                if (yb_base64_encode(h->agent_pk, sizeof(h->agent_pk), &agent) < 0)
                        return -ENOMEM;
                s = yb_job_catalog_snapshot(id, store_name, h, agent);
                /* New to the catalog and signed by another agent than the host's pinned one:
                 * quarantined, as a job would have done (a known one keeps its mark). */
                if (pin && memcmp(h->agent_pk, pin->agent_key, 32) != 0 &&
                    !yb_names_contain(&known, h->id)) {
                        s.quarantine = "signed by an agent other than the one agent_key pins "
                                       "(found by catalog rebuild)";
                        log_warning("Store '%s', system '%s': snapshot %s is signed by agent %s, "
                                    "not the one hosts.%s.agent_key pins: quarantined.",
                                    store_name, id, h->id, agent, pin->name);
                }
                r = yb_catalog_put_snapshot(d->catalog, &s);
                if (r < 0)
                        return r;
                sum->snapshots++;
                if (!yb_names_contain(&known, h->id))
                        sum->added++;
        }
        for (size_t i = 0; i < list.n_broken; i++) {
                log_warning("Store '%s', system '%s': snapshot %s is not recorded: %s.", store_name,
                            id, list.broken[i].id, strerror(-list.broken[i].error));
                sum->errors++;
        }
        for (size_t i = 0; i < known.n; i++)
                if (!yb_snapshot_list_find(&list, known.v[i]) &&
                    !is_broken(&list, known.v[i]) && /* unreadable now is not gone */
                    yb_names_add(&gone, known.v[i]) < 0)
                        return -ENOMEM;
        return handle_missing(rb, id, store_name, &gone);
}

static int rebuild_tx(YbCatalog *c, void *ud) {
        Rebuild *rb = ud;
        YbDaemon *d = rb->d;
        YbRebuildSummary *sum = rb->sum;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < d->config->n_stores; i++) {
                const YbConfigStore *cs = &d->config->stores[i];
                _cleanup_(yb_store_closep) YbStore *store = NULL;
                _cleanup_(yb_names_done) YbNames systems = {};
                _cleanup_(yb_names_done) YbNames stale = {};
                const YbStoreOptions o = { .ssh_key = cs->ssh_key,
                                           .known_hosts = cs->known_hosts,
                                           .s3 = cs->s3 };
                char why[1024] = "";
                int e = yb_store_open_ex(cs->url, &o, &store, why, sizeof(why));

                if (e >= 0)
                        e = yb_store_list(store, "", list_name, &systems);
                if (e < 0) {
                        log_error("Store '%s' (%s) cannot be read (%s); its snapshots in the "
                                  "catalog are left as they were.",
                                  cs->name, cs->url, why[0] ? why : strerror(-e));
                        sum->errors++;
                        continue;
                }
                for (size_t k = 0; r >= 0 && k < systems.n; k++)
                        if (yb_system_id_valid(systems.v[k]))
                                r = rebuild_system(rb, store, cs->name, systems.v[k]);
                /* Systems the catalog has in this store but the store does not. */
                if (r >= 0)
                        r = yb_catalog_query(c,
                                             "SELECT DISTINCT system FROM snapshots WHERE"
                                             " store = ?1",
                                             yb_names_row, &stale, "t", cs->name);
                for (size_t k = 0; r >= 0 && k < stale.n; k++) {
                        _cleanup_(yb_names_done) YbNames gone = {};

                        if (yb_names_contain(&systems, stale.v[k]))
                                continue;
                        r = yb_catalog_query(c,
                                             "SELECT id FROM snapshots WHERE system = ?1 AND"
                                             " store = ?2 ORDER BY id",
                                             yb_names_row, &gone, "tt", stale.v[k], cs->name);
                        if (r >= 0)
                                r = handle_missing(rb, stale.v[k], cs->name, &gone);
                }
        }
        return r;
}

void yb_rebuild_summary_done(YbRebuildSummary *s) {
        yb_names_done(&s->missing);
}

int yb_catalog_rebuild(YbDaemon *d, bool forget_missing, YbRebuildSummary *ret) {
        Rebuild rb = { d, forget_missing, ret };
        int r;

        *ret = (YbRebuildSummary){};
        r = yb_catalog_transaction(d->catalog, rebuild_tx, &rb);
        if (r >= 0) {
                /* The catalog now lists what the stores hold (tier 2's too): sampled anew. */
                yb_storage_usage_stale();
                yb_daemon_wake(d);
        }
        return r;
}
