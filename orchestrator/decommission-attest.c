/* orchestrator/decommission-attest.c: an operator's attestation that a decommissioned system's
 * host was destroyed (docs/decommission.md, "Execution": `yunbak decommission attest-host`).
 * When the host cannot be reached (a cloud VM is often deleted first) or `yunbak-agent wipe`
 * refuses its source paths, the agent step cannot clear them; the operator's signed word that
 * the host's volumes were destroyed (or the VM deleted) on the cloud platform is then what the
 * certificate rests on for what was not cleared, said as such ("attested"), never "verified".
 * The attestation is kept as the step "attest-host" of the decommission (target: the host), its
 * artifact the signed document; the agent step reads it (decommission-steps.c). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/evidence/signed.h"
#include "orchestrator/decommission-internal.h"
#include "orchestrator/decommission.h"

/* The system's host: of its policy in force or last (orch_decom_last_policy), else of an agent
 * step recorded. "" when none is known. */
static void host_of(YbDaemon *d, const char *system, const YbDecomStep *v, size_t n,
                    char ret[256]) {
        _cleanup_(yb_policy_freep) YbPolicy *last = NULL;
        const YbSystem *s = yb_daemon_system(d, system);

        *ret = 0;
        if (s)
                snprintf(ret, 256, "%s", s->policy->host);
        else if (orch_decom_last_policy(d, system, &last) >= 0)
                snprintf(ret, 256, "%s", last->host);
        for (size_t i = 0; i < n && !*ret; i++)
                if (streq(v[i].step, "agent"))
                        snprintf(ret, 256, "%s", v[i].target);
}

int yb_decommission_attest_host(YbDaemon *d, const YbPerson *by, int64_t id, const char *host,
                                const char *statement, const char *reference, char *why,
                                size_t why_size) {
        _cleanup_(yb_decommission_done) YbDecommission row = {};
        _cleanup_(json_decrefp) json_t *doc = NULL, *earlier = NULL;
        _cleanup_free_ char *artifact = NULL, *detail = NULL;
        YbDecomStep *v = NULL;
        size_t n = 0;
        char own[256], at[32];
        const char *agent;
        bool agent_done;
        int64_t now = yb_daemon_now(d);
        int r;

        r = yb_decommissions_get(d->catalog, id, &row);
        if (r < 0) {
                snprintf(why, why_size, "there is no decommission %" PRId64, id);
                return r;
        }
        if (!streq(row.state, YB_DECOM_EXPORT_CONFIRMED) &&
            !streq(row.state, YB_DECOM_EXPORT_WAIVED) && !streq(row.state, YB_DECOM_EXECUTING) &&
            !streq(row.state, YB_DECOM_EXECUTED)) {
                snprintf(why, why_size,
                         "decommission %" PRId64 " of %s is %s: a host is attested destroyed "
                         "once the export is confirmed or waived, until the certificate",
                         id, row.system, row.state);
                return -EPERM;
        }
        if (yb_decommission_running(d, id)) {
                snprintf(why, why_size,
                         "decommission %" PRId64 " of %s is running now: attest the host once it "
                         "has ended ('yunbak decommission show %" PRId64 "'), then execute again",
                         id, row.system, id);
                return -EPERM;
        }
        r = yb_decom_steps_list(d->catalog, id, &v, &n);
        if (r < 0) {
                snprintf(why, why_size, "cannot read the steps of decommission %" PRId64 ": %s", id,
                         strerror(-r));
                return r;
        }
        host_of(d, row.system, v, n, own);
        agent = orch_decom_step_state(v, n, "agent", host);
        agent_done = agent && streq(agent, "done");
        earlier = orch_decom_attestation(v, n, host);
        yb_decom_steps_free(v, n);
        if (!*own || !streq(own, host)) {
                snprintf(why, why_size,
                         "host '%s' is not the host of system '%s'%s%s%s: attest the host its "
                         "policy names",
                         host, row.system, *own ? " (that is '" : "", own, *own ? "')" : "");
                return -EINVAL;
        }
        if (agent_done) {
                snprintf(why, why_size,
                         "the agent step of decommission %" PRId64 " on host %s is done: "
                         "yunbak-agent wipe cleared it, and nothing there rests on an attestation",
                         id, host);
                return -EPERM;
        }
        if (earlier) {
                snprintf(why, why_size,
                         "host %s of decommission %" PRId64 " was attested destroyed already, by "
                         "%s at %s: the first attestation stays",
                         host, id, json_string_value(json_object_get(earlier, "by")) ?: "?",
                         json_string_value(json_object_get(earlier, "at")) ?: "?");
                return -EALREADY;
        }
        orch_decom_date(now, at);
        doc = json_pack("{s:s, s:I, s:s, s:s, s:s, s:o, s:s, s:s}", "type",
                        "yunbak-host-attestation", "decommission", (json_int_t) id, "system",
                        row.system, "host", host, "statement", statement, "reference",
                        reference ? json_string(reference) : json_null(), "by", by->name, "at", at);
        r = doc ? yb_signed_sign(doc, d->key) : -ENOMEM;
        if (r >= 0 && !(artifact = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS)))
                r = -ENOMEM;
        if (r < 0) {
                snprintf(why, why_size, "yunbakd cannot sign the attestation: %s", strerror(-r));
                return r;
        }
        if (asprintf(&detail, "%s attested that host %s was destroyed: %s%s%s%s", by->name, host,
                     statement, reference ? " (reference: " : "", reference ? reference : "",
                     reference ? ")" : "") < 0)
                return -ENOMEM;
        YbDecomStep s = { .step = (char *) "attest-host",
                          .target = (char *) host,
                          .state = (char *) "done",
                          .started_usec = now,
                          .finished_usec = now,
                          .detail = detail,
                          .artifact = artifact };
        r = yb_decom_steps_put(d->catalog, id, &s);
        if (r < 0)
                snprintf(why, why_size, "the catalog did not record the attestation: %s",
                         strerror(-r));
        return r;
}
