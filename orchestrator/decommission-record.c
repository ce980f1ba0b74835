/* orchestrator/decommission-record.c: what the files of a decommission's execution share
 * (decommission-internal.h): recording a step and reading the steps back, opening a store the
 * system used, the status it shows, dates as the API and the certificate write them, and the
 * test hook that kills yunbakd in the middle of a step. */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/decommission-internal.h"

int orch_decom_step(OrchDecomRun *x, const char *step, const char *target, const char *state,
                    int64_t started_usec, const char *detail, const char *artifact) {
        YbDaemon *d = x->d;
        int64_t now;
        char *audit = NULL;
        int r;

        pthread_mutex_lock(&d->lock);
        now = yb_daemon_now(d);
        YbDecomStep s = {
                .step = (char *) step,
                .target = (char *) target,
                .state = (char *) state,
                .started_usec = started_usec > 0 ? started_usec : now,
                .finished_usec = streq(state, "running") ? 0 : now,
                .detail = (char *) detail,
                .artifact = (char *) artifact,
        };
        r = yb_decom_steps_put(d->catalog, x->id, &s);
        if (r < 0)
                log_error_errno(r,
                                "Decommission %" PRId64 " of %s: cannot record step %s (%s) as %s "
                                "in the catalog: %m",
                                x->id, x->system, step, target, state);
        if (!streq(state, "running")) {
                YbPerson by = { x->by_name, x->by_uid, x->by_role, x->by_department };

                if (asprintf(&audit, "decommission %" PRId64 ", step %s, target %s: %s", x->id,
                             step, target, detail ? detail : state) < 0)
                        audit = NULL;
                yb_daemon_audit(d, &by, "decommission.step", x->system, state,
                                audit ? audit : step);
                free(audit);
        }
        pthread_mutex_unlock(&d->lock);
        return r;
}

int orch_decom_steps(OrchDecomRun *x, YbDecomStep **ret, size_t *ret_n) {
        int r;

        pthread_mutex_lock(&x->d->lock);
        r = yb_decom_steps_list(x->d->catalog, x->id, ret, ret_n);
        pthread_mutex_unlock(&x->d->lock);
        if (r < 0) {
                *ret = NULL;
                *ret_n = 0;
        }
        return r;
}

const char *orch_decom_step_state(const YbDecomStep *v, size_t n, const char *step,
                                  const char *target) {
        for (size_t i = 0; i < n; i++)
                if (streq(v[i].step, step) && streq(v[i].target, target))
                        return v[i].state;
        return NULL;
}

int orch_decom_open_store(const OrchDecomStore *s, YbStore **ret, char *why, size_t why_size) {
        YbStoreOptions opts = { .ssh_key = s->ssh_key, .known_hosts = s->known_hosts, .s3 = s->s3 };
        char err[512] = "";
        int r;

        if (!s->url) {
                snprintf(why, why_size,
                         "store '%s' held the system's backups but is not in yunbakd.yaml any "
                         "more: add it back (stores.%s) so that its repository of the system can "
                         "be erased and checked, then run again",
                         s->name, s->name);
                return -ENOENT;
        }
        r = yb_store_open_ex(s->url, &opts, ret, err, sizeof(err));
        if (r < 0)
                snprintf(why, why_size,
                         "cannot reach store '%s' (%s): %s; make it reachable and run again",
                         s->name, s->url, *err ? err : strerror(-r));
        return r;
}

void orch_decom_kill_hook(const char *step) {
        const char *k = getenv("YUNBAKD_TEST_DECOMMISSION_KILL");

        if (k && streq(k, step)) {
                log_warning("YUNBAKD_TEST_DECOMMISSION_KILL=%s: killing yunbakd in the middle of "
                            "the step (a test hook).",
                            step);
                raise(SIGKILL);
        }
}

void orch_decom_set_status(YbDaemon *d, const char *system, int64_t id, const char *state,
                           int64_t certificate) {
        YbSystem *s = yb_daemon_system(d, system);

        if (!s)
                return;
        s->status.decommission = id;
        snprintf(s->status.decommission_state, sizeof(s->status.decommission_state), "%s", state);
        s->status.decommission_certificate = certificate;
}

void orch_decom_date(int64_t usec, char ret[32]) {
        yb_time_format_iso(yb_usec_to_ns(usec), ret);
        /* to the second: "2026-12-06T15:04:05Z" */
        if (strlen(ret) > 19) {
                ret[19] = 'Z';
                ret[20] = 0;
        }
}
