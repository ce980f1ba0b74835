/* fuzz-daemon-config: yunbakd.yaml (orchestrator/config.c), through the YAML layer and the
 * typed readers of policies/schema.c, and the cross-check of a fixed policy against it. (The
 * name fuzz-config was taken by the repository's config.) */
#include "orchestrator/daemon-config.h"
#include "tests/fuzz/fuzz-common.h"

/* A valid policy naming host web-03 and stores nas-main, dr-site and offsite. */
static const char policy[] = "version: 1\n"
                             "system: {id: s, name: S, department: D, contact: C, "
                             "classification: important}\n"
                             "sources: {host: web-03, paths: [/srv]}\n"
                             "tier1: {store: nas-main, full: weekly, incremental: daily}\n"
                             "tier2: {store: dr-site, max_lag: 30s, checkpoint: daily}\n"
                             "tier3: {store: offsite, on_request: true}\n"
                             "objectives: {rpo: 1min, rto: 4h}\n"
                             "drill: {every: 90d}\n";

/* Absolute, and without empty or "." components or a trailing '/'. */
static bool path_clean(const char *p) {
        if (!p || p[0] != '/')
                return false;
        if (streq(p, "/"))
                return true;
        return !strstr(p, "//") && !strstr(p, "/./") && p[strlen(p) - 1] != '/' &&
               !(strlen(p) >= 2 && streq(p + strlen(p) - 2, "/."));
}

static bool name_ok(const char *n) {
        return n && *n && strlen(n) <= 63 && n[0] != '-' &&
               strspn(n, "abcdefghijklmnopqrstuvwxyz0123456789-") == strlen(n);
}

static void check_config(const YbDaemonConfig *c) {
        FUZZ_CHECK(streq(c->file, "fuzz"));
        FUZZ_CHECK(path_clean(c->catalog) && path_clean(c->policies) && path_clean(c->keys) &&
                   path_clean(c->socket) && path_clean(c->state));
        FUZZ_CHECK(c->socket_mode <= 0777);
        FUZZ_CHECK(c->max_jobs >= 1 && c->max_jobs <= YB_CONFIG_MAX_JOBS);
        FUZZ_CHECK(c->retries >= 0 && c->retries <= YB_CONFIG_MAX_RETRIES);
        FUZZ_CHECK(c->job_timeout_usec > 0 && c->retry_backoff_usec > 0 &&
                   c->seal_interval_usec > 0);
        for (size_t i = 0; i < c->n_stores; i++) {
                const YbConfigStore *s = &c->stores[i];

                FUZZ_CHECK(name_ok(s->name) && s->url && s->path && s->path[0] == '/');
                FUZZ_CHECK(yb_daemon_config_store(c, s->name) == s);
                if (s->kind == YB_CONFIG_STORE_LOCAL)
                        FUZZ_CHECK(path_clean(s->path) && streq(s->url, s->path) && !s->user &&
                                   !s->ssh_key && !s->known_hosts);
                else
                        FUZZ_CHECK(s->kind == YB_CONFIG_STORE_SFTP && s->user && s->address &&
                                   s->port >= 1 && s->port <= 65535 && path_clean(s->ssh_key) &&
                                   path_clean(s->known_hosts));
        }
        for (size_t i = 0; i < c->n_hosts; i++) {
                const YbConfigHost *h = &c->hosts[i];

                FUZZ_CHECK(name_ok(h->name) && h->agent);
                FUZZ_CHECK(yb_daemon_config_host(c, h->name) == h);
                FUZZ_CHECK(!h->state_dir || h->state_dir[0] == '/');
                if (h->local)
                        FUZZ_CHECK(!h->user && !h->address && !h->ssh_key && !h->known_hosts);
                else
                        FUZZ_CHECK(h->user && h->address && h->port >= 1 && h->port <= 65535 &&
                                   path_clean(h->ssh_key) && path_clean(h->known_hosts));
        }
        for (size_t i = 0; i < c->n_people; i++) {
                const YbConfigPerson *p = &c->people[i];

                FUZZ_CHECK(p->user && p->role > YB_ROLE_NONE && p->role < _YB_ROLE_MAX);
                FUZZ_CHECK((p->role == YB_ROLE_DEPARTMENT) == (p->department != NULL));
                for (size_t j = 0; j < i; j++)
                        FUZZ_CHECK(!streq(c->people[j].user, p->user) &&
                                   c->people[j].uid != p->uid);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static YbPolicy *p = NULL;
        _cleanup_(yb_daemon_config_freep) YbDaemonConfig *c = NULL;
        YbDiagnostics diag = { 0 }, again = { 0 }, cross = { 0 };
        int r;

        if (!p)
                FUZZ_CHECK(yb_policy_parse("p.yaml", policy, strlen(policy), &p, &diag) == 0);

        /* Either a configuration with no diagnostics, or -EINVAL with at least one, each naming
         * the file; the same input always gives the same diagnostics. */
        r = yb_daemon_config_parse("fuzz", (const char *) data, size, "/etc/yunbak", &c, &diag);
        FUZZ_CHECK(r == 0 || r == -EINVAL);
        FUZZ_CHECK((r == 0) == (diag.n == 0));
        for (size_t i = 0; i < diag.n; i++)
                FUZZ_CHECK(strncmp(diag.lines[i], "fuzz:", 5) == 0);
        if (r == 0) {
                check_config(c);
                /* The cross-check reports each unknown name of the policy, at its position. */
                r = yb_daemon_config_check_policy(c, p, &cross);
                FUZZ_CHECK(r == 0 || r == -EINVAL);
                FUZZ_CHECK((r == 0) == (cross.n == 0) && cross.n <= 4);
                for (size_t i = 0; i < cross.n; i++)
                        FUZZ_CHECK(strncmp(cross.lines[i], "p.yaml:", 7) == 0);
        } else {
                YbDaemonConfig *d = NULL;

                FUZZ_CHECK(yb_daemon_config_parse("fuzz", (const char *) data, size, "/etc/yunbak",
                                                  &d, &again) == r);
                FUZZ_CHECK(again.n == diag.n);
                for (size_t i = 0; i < diag.n; i++)
                        FUZZ_CHECK(streq(again.lines[i], diag.lines[i]));
        }
        yb_diagnostics_done(&diag);
        yb_diagnostics_done(&again);
        yb_diagnostics_done(&cross);
        return 0;
}
