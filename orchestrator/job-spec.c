/* orchestrator/job-spec.c: what a job needs (orchestrator/job-spec.h): the system's store, host,
 * hooks and retention copied out of the policy and yunbakd.yaml, the catalog's verdict on the
 * snapshots it could build on, and the agent's command line. */
#include "orchestrator/job-spec.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/buf.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/shell.h"
#include "core/base/timeutil.h"
#include "core/store/store-options.h"

void yb_job_spec_done(YbJobSpec *s) {
        free(s->system);
        free(s->level);
        free(s->store_name);
        free(s->store_url);
        free(s->key_json);
        free(s->agent);
        free(s->state_dir);
        free(s->host);
        free(s->user);
        free(s->address);
        free(s->ssh_key);
        free(s->known_hosts);
        free(s->store_ssh_key);
        free(s->store_known_hosts);
        yb_s3_options_done(&s->store_s3);
        for (size_t i = 0; i < s->argc; i++)
                free(s->argv[i]);
        free(s->argv);
        for (size_t i = 0; i < s->n_hooks; i++)
                yb_hook_done(&s->hooks[i]);
        free(s->hooks);
        yb_names_done(&s->quarantined);
        yb_names_done(&s->trusted);
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static int argv_add(YbJobSpec *s, const char *fmt, ...) _printf_(2, 3);
static int argv_add(YbJobSpec *s, const char *fmt, ...) {
        va_list ap;
        char *a;
        int n;

        if (s->argc + 2 > s->alloc) {
                size_t na = s->alloc ? 2 * s->alloc : 32;
                char **p = realloc(s->argv, na * sizeof(char *));

                if (!p)
                        return -ENOMEM;
                s->argv = p;
                s->alloc = na;
        }
        va_start(ap, fmt);
        n = vasprintf(&a, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        s->argv[s->argc++] = a;
        s->argv[s->argc] = NULL;
        return 0;
}

char *yb_job_agent_key_text(const uint8_t pk[32]) {
        char *b64 = NULL;

        return yb_base64_encode(pk, 32, &b64) < 0 ? NULL : b64;
}

/* Rows of (id, quarantine) into a spec's quarantined and trusted lists. */
static int snapshot_id_row(void *ud, struct sqlite3_stmt *row) {
        YbJobSpec *s = ud;
        const char *id = (const char *) sqlite3_column_text(row, 0);

        if (!id)
                return 0;
        return yb_names_add(
                sqlite3_column_type(row, 1) == SQLITE_NULL ? &s->trusted : &s->quarantined, id);
}

/* The agent to run on host, as yunbakd.yaml names it (default yunbak-agent). A bare name on this
 * machine is first looked for beside yunbakd's own executable (a build tree, or both installed
 * in one directory), then in PATH; on a remote host, in the PATH that its sshd gives. */
static char *agent_program(const YbConfigHost *host) {
        const char *name = host->agent ? host->agent : "yunbak-agent";
        char *beside = NULL;

        if (host->local && !strchr(name, '/') && yb_path_beside_self(name, &beside) >= 0)
                return beside;
        return strdup(name);
}

/* What every command of a system needs: the store (of the tier asked for), the host and how
 * to reach it, the public key. */
static int spec_fill(YbDaemon *d, const YbSystem *sys, const char *store_name, const char *level,
                     YbJobSpec *s, char *error, size_t error_size) {
        const YbPolicy *p = sys->policy;
        const YbConfigStore *store = yb_daemon_config_store(d->config, store_name);
        const YbConfigHost *host = yb_daemon_config_host(d->config, p->host);

        if (!store || !host) {
                snprintf(error, error_size, "the %s '%s' of the policy is not in %s",
                         !store ? "store" : "host", !store ? store_name : p->host, d->config->file);
                return -ENOENT;
        }
        s->system = strdup(p->id);
        s->level = strdup(level);
        s->store_name = strdup(store->name);
        s->store_url = strdup(store->url);
        s->store_ssh_key = dup_or_null(store->ssh_key);
        s->store_known_hosts = dup_or_null(store->known_hosts);
        if (yb_s3_options_copy(&store->s3, &s->store_s3) < 0)
                return -ENOMEM;
        s->host = strdup(host->name);
        s->agent = agent_program(host);
        s->state_dir = dup_or_null(host->state_dir);
        s->user = dup_or_null(host->user);
        s->address = dup_or_null(host->address);
        s->ssh_key = dup_or_null(host->ssh_key);
        s->known_hosts = dup_or_null(host->known_hosts);
        s->has_agent_key = host->has_agent_key;
        memcpy(s->agent_key, host->agent_key, sizeof(s->agent_key));
        if (!s->system || !s->level || !s->store_name || !s->store_url || !s->host || !s->agent ||
            yb_public_key_format(&sys->pub, &s->key_json) < 0)
                return -ENOMEM;
        s->target = (YbRunTarget){
                .local = host->local,
                .user = s->user,
                .host = s->address,
                .port = host->port,
                .key_file = s->ssh_key,
                .known_hosts = s->known_hosts,
        };
        return 0;
}

/* One --s3-NAME=VALUE of the agent's command line (yb_s3_options_to_args). */
static int argv_add_s3(void *ud, const char *name, const char *value) {
        return argv_add(ud, "--%s=%s", name, value);
}

/* The agent's first arguments: the program, the command, and the store with its SSH files or
 * its S3 options (the credentials file's path, never the keys). */
static int argv_start(YbJobSpec *s, const char *command) {
        int r = argv_add(s, "%s", s->agent);

        if (r >= 0)
                r = argv_add(s, "%s", command);
        if (r >= 0)
                r = argv_add(s, "--store=%s", s->store_url);
        /* Paths of this machine: an agent on another host needs the same files there. */
        if (r >= 0 && s->store_ssh_key)
                r = argv_add(s, "--ssh-key=%s", s->store_ssh_key);
        if (r >= 0 && s->store_known_hosts)
                r = argv_add(s, "--known-hosts=%s", s->store_known_hosts);
        if (r >= 0)
                r = yb_s3_options_to_args(&s->store_s3, argv_add_s3, s);
        if (r >= 0)
                r = argv_add(s, "--system=%s", s->system);
        if (r >= 0)
                r = argv_add(s, "--public-key-json=%s", s->key_json); /* no file on a remote host */
        if (r >= 0 && s->state_dir)
                r = argv_add(s, "--state-dir=%s", s->state_dir);
        return r;
}

/* "--", then the sources. */
static int argv_paths(YbJobSpec *s, const YbPolicy *p) {
        int r = argv_add(s, "--");

        for (size_t i = 0; r >= 0 && i < p->n_paths; i++)
                r = argv_add(s, "%s", p->paths[i]);
        return r;
}

int yb_job_spec_make(YbDaemon *d, const char *system, const char *level, YbJobSpec *s, char *error,
                     size_t error_size) {
        return yb_job_spec_make_to(d, system, level, NULL, NULL, s, error, error_size);
}

int yb_job_spec_make_to(YbDaemon *d, const char *system, const char *level, const char *store,
                        const char *key_json, YbJobSpec *s, char *error, size_t error_size) {
        YbSystem *sys = yb_daemon_system(d, system);
        const YbPolicy *p;
        int r = 0;

        if (!sys) {
                snprintf(error, error_size, "system '%s' has no policy any more", system);
                return -ENOENT;
        }
        p = sys->policy;
        r = spec_fill(d, sys, store ? store : p->tier1_store, level, s, error, error_size);
        if (r >= 0 && key_json) {
                free(s->key_json);
                s->key_json = strdup(key_json);
                r = s->key_json ? 0 : -ENOMEM;
        }
        if (r < 0)
                return r;
        r = yb_catalog_query(
                d->catalog, "SELECT id, quarantine FROM snapshots WHERE system = ?1 AND store = ?2",
                snapshot_id_row, s, "tt", p->id, s->store_name);
        if (r < 0) {
                snprintf(error, error_size, "cannot read the catalog: %s", strerror(-r));
                return r;
        }
        /* Another store (a decommission's export) is not the tier's: no retention runs there. */
        if (!store)
                s->retention = p->tier1_retention;
        s->lock_until_usec = p->lock_until_usec;
        s->timeout_usec = d->config->job_timeout_usec;
        if (p->n_hooks > 0) {
                s->hooks = new0(YbHook, p->n_hooks);
                if (!s->hooks)
                        return -ENOMEM;
                for (size_t i = 0; i < p->n_hooks; i++) {
                        if (yb_hook_copy(&p->hooks[i], &s->hooks[i]) < 0)
                                return -ENOMEM;
                        s->n_hooks++;
                }
        }
        r = argv_start(s, "backup");
        if (r >= 0)
                r = argv_add(s, "--json");
        if (r >= 0)
                r = argv_add(s, "--level=%s", s->level);
        for (size_t i = 0; r >= 0 && i < p->n_excludes; i++)
                r = argv_add(s, "--exclude=%s", p->excludes[i]);
        if (r >= 0 && s->has_agent_key) {
                _cleanup_free_ char *k = yb_job_agent_key_text(s->agent_key);

                r = k ? argv_add(s, "--parent-agent=%s", k) : -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < s->quarantined.n; i++)
                r = argv_add(s, "--skip-parent=%s", s->quarantined.v[i]);
        if (r >= 0)
                r = argv_add(s, "--live-postgresql=%s", p->live_postgresql_warn ? "warn" : "error");
        for (size_t i = 0; r >= 0 && i < p->n_hooks; i++)
                if (p->hooks[i].type == YB_HOOK_POSTGRESQL &&
                    p->hooks[i].mode == YB_HOOK_MODE_PHYSICAL) {
                        _cleanup_free_ char *conninfo = NULL;

                        r = yb_hook_conninfo(&p->hooks[i], &conninfo);
                        if (r >= 0)
                                r = argv_add(s, "--postgresql=%s=%s", p->hooks[i].name, conninfo);
                } else if (p->hooks[i].type == YB_HOOK_POSTGRESQL) {
                        const YbHook *h = &p->hooks[i];
                        int64_t secs = MAX(h->timeout_usec / YB_USEC_PER_SEC, (int64_t) 1);
                        _cleanup_free_ char *conninfo = NULL;
                        YbBuf q = YB_BUF_INIT;

                        /* The hook's timeout bounds pg_dump: coreutils' timeout, in the
                         * foreground so that pg_dump stays in the agent's process group (the
                         * agent stops the whole group when it is stopped); SIGTERM, then SIGKILL
                         * 10 s later. 124 is timeout's word for "stopped it". */
                        r = yb_hook_conninfo(h, &conninfo);
                        if (r >= 0)
                                r = yb_shell_quote(&q, conninfo);
                        if (r >= 0)
                                r = yb_buf_append(&q, "", 1);
                        if (r >= 0)
                                r = argv_add(
                                        s,
                                        "--stream%s=_streams/%s.pgdump=timeout --foreground -k 10 "
                                        "%" PRId64
                                        " pg_dump --format=custom --compress=0 --dbname=%s || "
                                        "{ st=$?; case $st in 124) echo \"pg_dump did not end "
                                        "within the hook's timeout of %" PRId64 " s and was "
                                        "stopped\" >&2 ;; 137) echo \"pg_dump was killed "
                                        "(SIGKILL): it ignored the stop at the hook's timeout of "
                                        "%" PRId64 " s, or something else killed it\" >&2 ;; "
                                        "esac; exit $st; }",
                                        h->abort_on_failure ? "" : "-optional", h->name, secs,
                                        (const char *) q.data, secs, secs);
                        yb_buf_done(&q);
                }
        if (r >= 0)
                r = argv_paths(s, p);
        return r;
}

int yb_replicate_spec_make(YbDaemon *d, const char *system, YbJobSpec *s, char *error,
                           size_t error_size) {
        YbSystem *sys = yb_daemon_system(d, system);
        const YbPolicy *p;
        char interval[32];
        int r;

        if (!sys || !sys->policy->tier2_store) {
                snprintf(error, error_size, "system '%s' has no %s any more", system,
                         sys ? "tier2 in its policy" : "policy");
                return -ENOENT;
        }
        p = sys->policy;
        r = spec_fill(d, sys, p->tier2_store, "segment", s, error, error_size);
        if (r >= 0)
                r = argv_start(s, "replicate");
        if (r >= 0)
                r = argv_add(
                        s, "--interval=%s",
                        yb_duration_format(p->tier2_interval_usec, interval, sizeof(interval)));
        for (size_t i = 0; r >= 0 && i < p->n_excludes; i++)
                r = argv_add(s, "--exclude=%s", p->excludes[i]);
        if (r >= 0)
                r = argv_add(s, "--live-postgresql=%s", p->live_postgresql_warn ? "warn" : "error");
        /* Each physical hook's WAL is streamed, and each chain root is its base backup. */
        for (size_t i = 0; r >= 0 && i < p->n_hooks; i++) {
                const YbHook *h = &p->hooks[i];
                _cleanup_free_ char *conninfo = NULL;

                if (h->type != YB_HOOK_POSTGRESQL || h->mode != YB_HOOK_MODE_PHYSICAL)
                        continue;
                r = yb_hook_conninfo(h, &conninfo);
                if (r >= 0)
                        r = argv_add(s, "--postgresql=%s=%s", h->name, conninfo);
        }
        if (r >= 0)
                r = argv_paths(s, p);
        return r;
}

int yb_job_spec_open_store(const YbJobSpec *s, YbStore **ret, char *error, size_t error_size) {
        const YbStoreOptions o = { .ssh_key = s->store_ssh_key,
                                   .known_hosts = s->store_known_hosts,
                                   .s3 = s->store_s3 };
        char why[1024];
        int r = yb_store_open_ex(s->store_url, &o, ret, why, sizeof(why));

        if (r < 0)
                snprintf(error, error_size, "cannot open the store '%s' (%s): %s", s->store_name,
                         s->store_url, why[0] ? why : strerror(-r));
        return r;
}
