/* orchestrator/metrics.c: /metrics in the Prometheus text format 0.0.4 (docs/api.md,
 * "Metrics"). Rendered from the daemon's memory under its lock: no catalog read. */
#include "orchestrator/metrics.h"

#include <stdio.h>
#include <stdlib.h>

#include "catalog/decommissions.h"
#include "core/base/buf.h"
#include "core/base/timeutil.h"
#include "orchestrator/copies.h"
#include "orchestrator/daemon.h"
#include "orchestrator/drill-due.h"
#include "orchestrator/replicators.h"
#include "orchestrator/wal-archive-watch.h"

/* Label values are system ids ([a-z0-9-]) and fixed words: nothing to escape. */
static void family(YbBuf *b, const char *name, const char *type, const char *help) {
        yb_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* yunbak_decommission_state: the state of each system's live decommission. A stopped system's
 * tier-1 results are left out above (no stale success), and yunbak_tier_running says 0. */
static void decommission_metrics(YbDaemon *d, YbBuf *b) {
        static const char *const states[] = {
                YB_DECOM_REQUESTED, YB_DECOM_APPROVED,         YB_DECOM_EXPORTING,
                YB_DECOM_EXPORTED,  YB_DECOM_EXPORT_CONFIRMED, YB_DECOM_EXPORT_WAIVED,
                YB_DECOM_EXECUTING, YB_DECOM_EXECUTED,         YB_DECOM_CERTIFIED,
        };

        family(b, "yunbak_decommission_state", "gauge",
               "1 for the state of the system's live decommission, 0 for the others; no sample "
               "for a system without one.");
        for (size_t i = 0; i < d->n_systems; i++) {
                const YbSystemStatus *st = &d->systems[i].status;

                if (st->decommission <= 0)
                        continue;
                for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++)
                        yb_buf_printf(b,
                                      "yunbak_decommission_state{system=\"%s\",state=\"%s\"} %d\n",
                                      d->systems[i].policy->id, states[k],
                                      streq(st->decommission_state, states[k]));
        }
}

void yb_metrics_handle(void *userdata, const YbHttpRequest *req, YbHttpResponse *resp) {
        YbDaemon *d = userdata;
        YbBuf b = YB_BUF_INIT;
        size_t n_errors = 0;

        if (!streq(req->path, "/metrics")) {
                yb_http_error(resp, 404, "metrics are at /metrics");
                return;
        }
        if (!streq(req->method, "GET") && !streq(req->method, "HEAD")) {
                yb_http_error(resp, 405, "use GET");
                return;
        }
        pthread_mutex_lock(&d->lock);
        for (char **e = d->policy_errors; e && *e; e++)
                n_errors++;
        family(&b, "yunbak_up", "gauge", "1 while yunbakd runs.");
        yb_buf_printf(&b, "yunbak_up 1\n");
        family(&b, "yunbak_policies", "gauge", "Policies in force.");
        yb_buf_printf(&b, "yunbak_policies %zu\n", d->n_systems);
        family(&b, "yunbak_policy_load_errors", "gauge",
               "Problems found by the last policy load (0 when every file loaded).");
        family(&b, "yunbak_catalog_degraded", "gauge",
               "1 while the catalog cannot be written (the last write failed, or job ends wait "
               "in memory), else 0.");
        yb_buf_printf(&b, "yunbak_catalog_degraded %d\n",
                      d->catalog_error < 0 || d->n_pending_ends > 0);
        family(&b, "yunbak_catalog_unrecorded_job_ends", "gauge",
               "Jobs that ended and wait in memory for the catalog to record them.");
        yb_buf_printf(&b, "yunbak_catalog_unrecorded_job_ends %d\n", d->n_pending_ends);
        yb_buf_printf(&b, "yunbak_policy_load_errors %zu\n", n_errors);
        family(&b, "yunbak_policy_files_broken", "gauge",
               "Policy files the last load left out (their last good version stays in force).");
        yb_buf_printf(&b, "yunbak_policy_files_broken %zu\n", d->policy_files_broken);
        family(&b, "yunbak_jobs_running", "gauge", "Jobs running now.");
        yb_buf_printf(&b, "yunbak_jobs_running %d\n", d->n_running);
        family(&b, "yunbak_jobs_queued", "gauge", "Jobs waiting for a slot.");
        yb_buf_printf(&b, "yunbak_jobs_queued %d\n", d->n_queued);

        family(&b, "yunbak_last_success_timestamp_seconds", "gauge",
               "End of the last successful job, per system and tier.");
        for (size_t i = 0; i < d->n_systems; i++)
                if (d->systems[i].status.last_success_usec > 0 &&
                    !yb_system_stopped(&d->systems[i]))
                        yb_buf_printf(&b,
                                      "yunbak_last_success_timestamp_seconds{system=\"%s\","
                                      "tier=\"1\"} %.3f\n",
                                      d->systems[i].policy->id,
                                      (double) d->systems[i].status.last_success_usec /
                                              YB_USEC_PER_SEC);
        family(&b, "yunbak_last_status", "gauge",
               "1 for the state the last job ended in, 0 for the others.");
        for (size_t i = 0; i < d->n_systems; i++) {
                const YbSystemStatus *st = &d->systems[i].status;

                if (st->last_state < 0 || yb_system_stopped(&d->systems[i]))
                        continue;
                for (int s = YB_JOB_SUCCEEDED; s < _YB_JOB_STATE_MAX; s++)
                        yb_buf_printf(&b,
                                      "yunbak_last_status{system=\"%s\",tier=\"1\","
                                      "status=\"%s\"} %d\n",
                                      d->systems[i].policy->id, yb_job_state_to_string(s),
                                      st->last_state == s);
        }
        family(&b, "yunbak_last_duration_seconds", "gauge", "How long the last job ran.");
        for (size_t i = 0; i < d->n_systems; i++)
                if (d->systems[i].status.last_state >= 0)
                        yb_buf_printf(&b,
                                      "yunbak_last_duration_seconds{system=\"%s\",tier=\"1\"} "
                                      "%.3f\n",
                                      d->systems[i].policy->id,
                                      (double) d->systems[i].status.last_duration_usec /
                                              YB_USEC_PER_SEC);
        family(&b, "yunbak_last_bytes_stored", "gauge", "Bytes the last job wrote to the store.");
        for (size_t i = 0; i < d->n_systems; i++)
                if (d->systems[i].status.last_state >= 0)
                        yb_buf_printf(&b,
                                      "yunbak_last_bytes_stored{system=\"%s\",tier=\"1\"} %llu\n",
                                      d->systems[i].policy->id,
                                      (unsigned long long) d->systems[i].status.last_bytes_stored);
        family(&b, "yunbak_rpo_seconds", "gauge", "The recovery point objective of the policy.");
        for (size_t i = 0; i < d->n_systems; i++)
                yb_buf_printf(&b, "yunbak_rpo_seconds{system=\"%s\"} %lld\n",
                              d->systems[i].policy->id,
                              (long long) (d->systems[i].policy->rpo_usec / YB_USEC_PER_SEC));
        family(&b, "yunbak_rto_seconds", "gauge", "The recovery time objective of the policy.");
        for (size_t i = 0; i < d->n_systems; i++)
                yb_buf_printf(&b, "yunbak_rto_seconds{system=\"%s\"} %lld\n",
                              d->systems[i].policy->id,
                              (long long) (d->systems[i].policy->rto_usec / YB_USEC_PER_SEC));
        decommission_metrics(d, &b);
        orch_drill_due_metrics(d->systems, d->n_systems, yb_daemon_now(d), &b);
        yb_copies_metrics(d, &b, yb_daemon_now(d));
        yb_replicators_metrics(d, &b);
        yb_walwatch_metrics(d, &b);
        family(&b, "yunbak_offsite_requests_pending", "gauge",
               "Requests for off-site copies awaiting an operator's decision.");
        for (size_t i = 0; i < d->n_systems; i++)
                if (d->systems[i].policy->tier3_store)
                        yb_buf_printf(&b, "yunbak_offsite_requests_pending{system=\"%s\"} %lld\n",
                                      d->systems[i].policy->id,
                                      (long long) d->systems[i].status.offsite_requests_pending);
        pthread_mutex_unlock(&d->lock);

        if (yb_buf_append(&b, "", 1) < 0) {
                yb_buf_done(&b);
                yb_http_error(resp, 500, "out of memory");
                return;
        }
        resp->status = 200;
        resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
        resp->body = (char *) b.data; /* malloc'ed, NUL-terminated */
}
