/* orchestrator/decommission-run.c: the execution of a decommission (decommission.h;
 * docs/decommission.md, "Execution"): starting it (the state and dates checked, the stores the
 * system used collected), its thread running the steps in order (decommission-steps.c: stop,
 * store, agent, keys; decommission-verify.c; decommission-cert.c), its end, the steps as the API
 * shows them, the restart rule and the stop at yunbakd's end. The thread holds the daemon's lock
 * only to read and record: never while it erases a store or runs the agent. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/store/store-options.h"
#include "orchestrator/decommission-internal.h"
#include "orchestrator/decommission.h"
#include "orchestrator/export-job.h"

struct YbDecommissions {
        OrchDecomRun *list;
        bool stopping; /* yunbakd stops: each execution ends at its next step boundary */
};

static OrchDecomRun *run_free(OrchDecomRun *x) {
        if (!x)
                return NULL;
        if (x->has_thread)
                pthread_join(x->thread, NULL);
        for (size_t i = 0; i < x->n_stores; i++) {
                free(x->stores[i].name);
                free(x->stores[i].url);
                free(x->stores[i].ssh_key);
                free(x->stores[i].known_hosts);
                yb_s3_options_done(&x->stores[i].s3);
        }
        free(x->stores);
        free(x->system);
        free(x->export_store);
        free(x->by_name);
        free(x->by_department);
        free(x);
        return NULL;
}
DEFINE_FREEP(OrchDecomRun, run_free);

static bool stopping(OrchDecomRun *x) {
        bool s;

        pthread_mutex_lock(&x->d->lock);
        s = x->d->decommissions->stopping;
        pthread_mutex_unlock(&x->d->lock);
        return s;
}

/* The execution ---------------------------------------------------------------------------- */

static void append(char *buf, size_t size, const char *what) {
        size_t n = strlen(buf);

        if (n < size)
                snprintf(buf + n, size - n, "%s%s", n ? "; " : "", what);
}

/* Ends x: the decommission executed (unless certified, or yunbakd stops under it) with what is
 * left in last_error. */
static void finish(OrchDecomRun *x, const char *problems, bool stopped) {
        YbDaemon *d = x->d;
        YbDecommission row = {};
        YbPerson by = { x->by_name, x->by_uid, x->by_role, x->by_department };
        char detail[2048];
        int r;

        pthread_mutex_lock(&d->lock);
        r = yb_decommissions_get(d->catalog, x->id, &row);
        if (r >= 0 && !streq(row.state, YB_DECOM_CERTIFIED)) {
                free(row.last_error);
                row.last_error = NULL;
                if (stopped)
                        row.last_error = strdup("yunbakd stopped during the execution: execute "
                                                "it again to finish");
                else {
                        free(row.state);
                        row.state = strdup(YB_DECOM_EXECUTED);
                        if (*problems)
                                row.last_error = strdup(problems);
                }
                row.updated_usec = yb_daemon_now(d);
                if (!x->verify_only && !stopped) /* a verification leaves the execution's times */
                        row.execute_finished_usec = row.updated_usec;
                r = yb_decommissions_update(d->catalog, &row);
                if (r < 0)
                        log_error_errno(r, "Decommission %" PRId64 ": cannot record its end: %m",
                                        x->id);
        }
        if (r >= 0 && row.state) {
                orch_decom_set_status(d, x->system, x->id, row.state, row.certificate);
                snprintf(detail, sizeof(detail), "decommission %" PRId64 ": %s%s%s", x->id,
                         row.state, row.last_error ? ": " : "",
                         row.last_error ? row.last_error : "");
                yb_daemon_audit(d, &by,
                                x->verify_only ? "decommission.verify" : "decommission.execute",
                                x->system, row.state, detail);
        }
        x->ended = true;
        pthread_mutex_unlock(&d->lock);
        yb_daemon_wake(d); /* under the test clock, time may move on again */
        if (r >= 0 && row.state)
                log_info("Decommission %" PRId64 " of %s: %s%s%s", x->id, x->system, row.state,
                         row.last_error ? ": " : ".", row.last_error ? row.last_error : "");
        yb_decommission_done(&row);
}

static void *run_main(void *userdata) {
        OrchDecomRun *x = userdata;
        YbDecomStep *steps = NULL;
        size_t n_steps = 0;
        char problems[2048] = "", why[1024];
        bool all_done = true, first = true, stop = false;

        (void) orch_decom_steps(x, &steps, &n_steps);
        if (!x->verify_only) {
                if (orch_decom_step_stop(x, why, sizeof(why)) < 0) {
                        stop = stopping(x);
                        append(problems, sizeof(problems), why);
                        all_done = false;
                        goto end; /* nothing is erased while the system's jobs still run */
                }
                for (size_t i = 0; i < x->n_stores && !(stop = stopping(x)); i++) {
                        const char *st =
                                orch_decom_step_state(steps, n_steps, "store", x->stores[i].name);

                        if (st && streq(st, "done"))
                                continue;
                        if (orch_decom_step_store(x, &x->stores[i], steps, n_steps, &first) < 0) {
                                all_done = false;
                                append(problems, sizeof(problems), "a store step failed");
                        }
                }
                if (stop || (stop = stopping(x)))
                        goto end;
                if (orch_decom_step_agent(x, steps, n_steps) < 0) {
                        all_done = false;
                        append(problems, sizeof(problems), "the agent step failed");
                }
        }
        if (stop || (stop = stopping(x)))
                goto end;
        if (orch_decom_step_keys(x) < 0) {
                all_done = false;
                append(problems, sizeof(problems), "key copies are still held");
        }
        if (stop || (stop = stopping(x)))
                goto end;
        if (!all_done) {
                /* Say what each step left, as recorded. */
                yb_decom_steps_free(steps, n_steps);
                (void) orch_decom_steps(x, &steps, &n_steps);
                problems[0] = 0;
                for (size_t i = 0; i < n_steps; i++)
                        if (!streq(steps[i].state, "done") && !streq(steps[i].state, "attested") &&
                            steps[i].detail && !streq(steps[i].step, "verify") &&
                            !streq(steps[i].step, "certificate"))
                                append(problems, sizeof(problems), steps[i].detail);
                goto end;
        }
        if (!orch_decom_verify(x, why, sizeof(why))) {
                append(problems, sizeof(problems), why);
                goto end;
        }
        if (stop || (stop = stopping(x)))
                goto end;
        if (orch_decom_certify(x, why, sizeof(why)) < 0)
                append(problems, sizeof(problems), why);
end:
        yb_decom_steps_free(steps, n_steps);
        finish(x, problems, stop);
        return NULL;
}

/* The stores system has used, but the export store: its current policy's tiers, its earlier
 * policies' tiers, the catalog's snapshot rows, and the stores earlier runs erased. Under
 * lock. */
static int add_store(OrchDecomRun *x, const char *name, int tier, const char *export_store) {
        const YbConfigStore *c,
                *e = export_store ? yb_daemon_config_store(x->d->config, export_store) : NULL;
        OrchDecomStore *s = NULL, *v;

        if (!name || (export_store && streq(name, export_store)))
                return 0;
        /* The export's store under another name (an earlier policy named it so) is the
         * department's too: erasing the system's repository there would erase the export. */
        c = yb_daemon_config_store(x->d->config, name);
        if (e && c && orch_export_same_place(c, e))
                return 0;
        for (size_t i = 0; i < x->n_stores && !s; i++)
                if (streq(x->stores[i].name, name))
                        s = &x->stores[i];
        if (!s) {
                v = realloc(x->stores, (x->n_stores + 1) * sizeof(*v));
                if (!v)
                        return -ENOMEM;
                x->stores = v;
                s = &v[x->n_stores++];
                *s = (OrchDecomStore){ .name = strdup(name) };
                if (c) {
                        s->url = strdup(c->url);
                        s->ssh_key = c->ssh_key ? strdup(c->ssh_key) : NULL;
                        s->known_hosts = c->known_hosts ? strdup(c->known_hosts) : NULL;
                        if (yb_s3_options_copy(&c->s3, &s->s3) < 0)
                                return -ENOMEM;
                }
                if (!s->name || (c && !s->url))
                        return -ENOMEM;
        }
        if (tier >= 1 && tier <= 3)
                s->tiers[tier] = true;
        return 0;
}

static int add_policy_stores(OrchDecomRun *x, const YbPolicy *p, const char *export_store) {
        int r = add_store(x, p->tier1_store, 1, export_store);

        if (r >= 0)
                r = add_store(x, p->tier2_store, 2, export_store);
        if (r >= 0)
                r = add_store(x, p->tier3_store, 3, export_store);
        return r;
}

typedef struct StoresCtx {
        OrchDecomRun *x;
        const char *export_store;
} StoresCtx;

static int version_row(void *ud, sqlite3_stmt *row) {
        StoresCtx *c = ud;
        const char *text = (const char *) sqlite3_column_text(row, 0);
        _cleanup_(yb_diagnostics_done) YbDiagnostics diag = {};
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;

        /* An earlier version that no longer parses names no store we can use. */
        if (!text || yb_policy_parse("policy_versions", text, strlen(text), &p, &diag) < 0)
                return 0;
        return add_policy_stores(c->x, p, c->export_store);
}

static int store_row(void *ud, sqlite3_stmt *row) {
        StoresCtx *c = ud;

        return add_store(c->x, (const char *) sqlite3_column_text(row, 0), 0, c->export_store);
}

static int collect_stores(OrchDecomRun *x, const char *export_store) {
        YbSystem *sys = yb_daemon_system(x->d, x->system);
        StoresCtx c = { x, export_store };
        int r = 0;

        if (sys)
                r = add_policy_stores(x, sys->policy, export_store);
        if (r >= 0)
                r = yb_catalog_query(x->d->catalog,
                                     "SELECT text FROM policy_versions WHERE system = ?"
                                     " ORDER BY loaded_usec",
                                     version_row, &c, "t", x->system);
        if (r >= 0)
                r = yb_catalog_query(x->d->catalog,
                                     "SELECT DISTINCT store FROM snapshots WHERE system = ?",
                                     store_row, &c, "t", x->system);
        if (r >= 0)
                r = yb_catalog_query(x->d->catalog,
                                     "SELECT target FROM decommission_steps WHERE decommission = ?"
                                     " AND step = 'store'",
                                     store_row, &c, "I", x->id);
        return r;
}

static OrchDecomRun *find_run(YbDaemon *d, int64_t id) {
        for (OrchDecomRun *x = d->decommissions ? d->decommissions->list : NULL; x; x = x->next)
                if (x->id == id)
                        return x;
        return NULL;
}

/* Joins and frees the runs that ended; under lock (their threads took the lock for the last
 * time when they set ended, so the join does not wait on us). */
static void reap(YbDaemon *d) {
        for (OrchDecomRun **p = d->decommissions ? &d->decommissions->list : NULL; p && *p;) {
                OrchDecomRun *x = *p;

                if (x->ended) {
                        *p = x->next;
                        run_free(x);
                        continue;
                }
                p = &x->next;
        }
}

/* How the export ended: the state before execution, or what the stop step recorded of it. */
static void export_state_of(YbDaemon *d, const YbDecommission *row, char ret[16]) {
        YbDecomStep *v = NULL;
        size_t n = 0;

        snprintf(ret, 16, "%s",
                 streq(row->state, YB_DECOM_EXPORT_CONFIRMED) ? "confirmed"
                 : streq(row->state, YB_DECOM_EXPORT_WAIVED)  ? "waived"
                                                              : "");
        if (*ret || yb_decom_steps_list(d->catalog, row->id, &v, &n) < 0)
                return;
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].step, "stop") && v[i].artifact) {
                        json_t *a = json_loads(v[i].artifact, 0, NULL);
                        const char *e = json_string_value(json_object_get(a, "export"));

                        snprintf(ret, 16, "%s", e ? e : "");
                        json_decref(a);
                }
        yb_decom_steps_free(v, n);
}

static int start(YbDaemon *d, const YbPerson *by, int64_t id, bool verify_only, char *why,
                 size_t why_size) {
        _cleanup_(run_freep) OrchDecomRun *x = NULL;
        _cleanup_(yb_decommission_done) YbDecommission row = {};
        YbSystem *sys;
        int64_t now = yb_daemon_now(d);
        int r;

        if (!d->decommissions && !(d->decommissions = new0(YbDecommissions, 1)))
                return -ENOMEM;
        reap(d);
        if (d->decommissions->stopping) {
                snprintf(why, why_size, "yunbakd is stopping: try again once it runs");
                return -EBUSY;
        }
        r = yb_decommissions_get(d->catalog, id, &row);
        if (r < 0) {
                snprintf(why, why_size, "there is no decommission %" PRId64, id);
                return r;
        }
        if (find_run(d, id)) {
                snprintf(why, why_size,
                         "decommission %" PRId64 " of %s is running now: wait for it to end "
                         "('yunbak decommission show %" PRId64 "')",
                         id, row.system, id);
                return -EBUSY;
        }
        if (verify_only && !streq(row.state, YB_DECOM_EXECUTED)) {
                snprintf(why, why_size,
                         "decommission %" PRId64 " of %s is %s: only an executed decommission "
                         "is verified%s",
                         id, row.system, row.state,
                         streq(row.state, YB_DECOM_CERTIFIED)   ? " (this one is certified already)"
                         : streq(row.state, YB_DECOM_EXECUTING) ? ": execute it again to finish"
                                                                : ": execute it first");
                return -EPERM;
        }
        if (!verify_only && !streq(row.state, YB_DECOM_EXPORT_CONFIRMED) &&
            !streq(row.state, YB_DECOM_EXPORT_WAIVED) && !streq(row.state, YB_DECOM_EXECUTING) &&
            !streq(row.state, YB_DECOM_EXECUTED)) {
                snprintf(why, why_size,
                         "decommission %" PRId64 " of %s is %s: it is executed once its export is "
                         "confirmed or waived by the department%s",
                         id, row.system, row.state,
                         streq(row.state, YB_DECOM_CERTIFIED) ? " (this one is certified already)"
                                                              : "");
                return -EPERM;
        }
        sys = yb_daemon_system(d, row.system);
        if (!verify_only && (r = orch_decom_check_dates(d, &row, now, why, why_size)) < 0)
                return r;

        x = new0(OrchDecomRun, 1);
        if (!x)
                return -ENOMEM;
        *x = (OrchDecomRun){
                .d = d,
                .id = id,
                .verify_only = verify_only,
                .system = strdup(row.system),
                .by_name = strdup(by->name),
                .by_department = by->department ? strdup(by->department) : NULL,
                .by_uid = by->uid,
                .by_role = by->role,
                .stopping = &d->decommissions->stopping,
        };
        if (!x->system || !x->by_name || (by->department && !x->by_department))
                return -ENOMEM;
        x->lock_until_usec = yb_decommission_lock_until(d, row.system);
        if (sys)
                yb_key_id_hex(sys->pub.id, x->key_id);
        else {
                _cleanup_free_ char *path = NULL;
                YbPublicKey pub;

                if (asprintf(&path, "%s/%s.pub", d->config->keys, row.system) >= 0 &&
                    yb_public_key_read(path, &pub) >= 0)
                        yb_key_id_hex(pub.id, x->key_id);
        }
        if (row.export_store && !(x->export_store = strdup(row.export_store)))
                return -ENOMEM;
        export_state_of(d, &row, x->export_state);
        /* A reload since the confirmation may have made the export's store a tier's. */
        if (!verify_only &&
            (r = orch_decom_check_export_store(d, &row, streq(x->export_state, "confirmed"), why,
                                               why_size)) < 0)
                return r;
        r = collect_stores(x, row.export_store);
        if (r < 0) {
                snprintf(why, why_size, "cannot read the stores of %s from the catalog: %s",
                         row.system, strerror(-r));
                return r;
        }
        if (!verify_only) {
                if (!streq(row.state, YB_DECOM_EXECUTING)) {
                        free(row.state);
                        row.state = strdup(YB_DECOM_EXECUTING);
                }
                free(row.executed_by);
                row.executed_by = strdup(by->name);
                if (row.execute_started_usec == 0)
                        row.execute_started_usec = now;
                row.execute_finished_usec = 0;
                free(row.last_error);
                row.last_error = NULL;
                row.updated_usec = now;
                if (!row.state || !row.executed_by)
                        return -ENOMEM;
                r = yb_decommissions_update(d->catalog, &row);
                if (r < 0) {
                        snprintf(why, why_size, "the catalog did not take the new state: %s",
                                 strerror(-r));
                        return r;
                }
                /* From here the system's tiers are stopped (yb_system_stopped). */
                orch_decom_set_status(d, row.system, id, YB_DECOM_EXECUTING, 0);
        }
        r = -pthread_create(&x->thread, NULL, run_main, x);
        if (r < 0) {
                snprintf(why, why_size, "cannot start a thread: %s", strerror(-r));
                return r;
        }
        x->has_thread = true;
        x->next = d->decommissions->list;
        d->decommissions->list = TAKE_PTR(x);
        return 0;
}

int yb_decommission_execute(YbDaemon *d, const YbPerson *by, int64_t id, char *why,
                            size_t why_size) {
        return start(d, by, id, false, why, why_size);
}

int yb_decommission_verify(YbDaemon *d, const YbPerson *by, int64_t id, char *why,
                           size_t why_size) {
        return start(d, by, id, true, why, why_size);
}

bool yb_decommission_running(YbDaemon *d, int64_t id) {
        const OrchDecomRun *x = find_run(d, id);

        return x && !x->ended;
}

bool yb_decommissions_busy(YbDaemon *d) {
        for (OrchDecomRun *x = d->decommissions ? d->decommissions->list : NULL; x; x = x->next)
                if (!x->ended)
                        return true;
        return false;
}

static json_t *date_or_null(int64_t usec) {
        char date[32];

        if (usec <= 0)
                return json_null();
        orch_decom_date(usec, date);
        return json_string(date);
}

json_t *yb_decommission_steps_json(YbDaemon *d, int64_t id) {
        YbDecomStep *v = NULL;
        size_t n = 0;
        json_t *a;

        if (yb_decom_steps_list(d->catalog, id, &v, &n) < 0)
                return NULL;
        a = json_array();
        for (size_t i = 0; a && i < n; i++) {
                json_t *art = v[i].artifact ? json_loads(v[i].artifact, 0, NULL) : NULL;

                json_array_append_new(
                        a, json_pack("{s:s, s:s, s:s, s:o, s:o, s:s?, s:o}", "step", v[i].step,
                                     "target", v[i].target, "state", v[i].state, "started",
                                     date_or_null(v[i].started_usec), "finished",
                                     date_or_null(v[i].finished_usec), "detail", v[i].detail,
                                     "artifact", art ? art : json_null()));
        }
        yb_decom_steps_free(v, n);
        return a;
}

int yb_decommissions_interrupted(YbDaemon *d) {
        YbDecommission *v = NULL;
        size_t n = 0, marked = 0;
        int r = yb_decommissions_list(d->catalog, NULL, &v, &n);

        for (size_t i = 0; r >= 0 && i < n; i++) {
                YbDecomStep *s = NULL;
                size_t ns = 0;

                if (!streq(v[i].state, YB_DECOM_EXECUTING) && !streq(v[i].state, YB_DECOM_EXECUTED))
                        continue;
                if (yb_decom_steps_list(d->catalog, v[i].id, &s, &ns) < 0)
                        continue;
                for (size_t k = 0; k < ns; k++) {
                        char detail[512];

                        if (!streq(s[k].state, "running"))
                                continue;
                        free(s[k].state);
                        s[k].state = strdup("interrupted");
                        free(s[k].detail);
                        s[k].detail = strdup("yunbakd ended during this step: execute the "
                                             "decommission again to finish it");
                        s[k].finished_usec = yb_daemon_now(d);
                        if (!s[k].state || yb_decom_steps_put(d->catalog, v[i].id, &s[k]) < 0)
                                continue;
                        marked++;
                        snprintf(detail, sizeof(detail),
                                 "decommission %" PRId64 ", step %s, target %s: left running "
                                 "by the last yunbakd; marked interrupted",
                                 v[i].id, s[k].step, s[k].target);
                        yb_daemon_audit(d, NULL, "decommission.step", v[i].system, "interrupted",
                                        detail);
                        log_warning("Decommission %" PRId64 " of %s: step %s (%s) was left "
                                    "running by the last yunbakd: marked interrupted; execute "
                                    "it again to finish.",
                                    v[i].id, v[i].system, s[k].step, s[k].target);
                }
                yb_decom_steps_free(s, ns);
        }
        yb_decommissions_free(v, n);
        return r < 0 ? r : (int) marked;
}

void yb_decommissions_stop(YbDaemon *d) {
        YbDecommissions *ds = d->decommissions;

        if (!ds)
                return;
        pthread_mutex_lock(&d->lock);
        ds->stopping = true;
        pthread_cond_broadcast(&d->idle);
        pthread_mutex_unlock(&d->lock);
        /* Without the lock: each thread takes it to record its steps and its end. */
        while (ds->list) {
                OrchDecomRun *x = ds->list;

                ds->list = x->next;
                run_free(x);
        }
        free(ds);
        d->decommissions = NULL;
}
