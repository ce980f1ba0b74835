/* orchestrator/jobs.c: yunbakd's job queue and workers. A tier-1 job runs the system's hooks and
 * `yunbak-agent backup` on the system's host (a child process, or over SSH), reads the agent's
 * JSON summary, records the snapshot from its signed header, prunes by the policy's retention,
 * and retries failures with a doubling backoff. */
#include "orchestrator/jobs.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/repo/repo.h"
#include "core/store/store.h"
#include "orchestrator/daemon.h"
#include "orchestrator/runner.h"
#include "policies/retention-apply.h"

struct YbJob {
        int64_t id;
        char system[64];
        char level[16];
        char *trigger;
        int64_t scheduled_usec, not_before_usec;
        int attempt;
        int cancel_fd; /* eventfd, readable once cancelled */
        bool cancelled;
        YbJob *next;
};

static YbJob *job_free(YbJob *j) {
        if (!j)
                return NULL;
        if (j->cancel_fd >= 0)
                close(j->cancel_fd);
        free(j->trigger);
        free(j);
        return NULL;
}

static void list_append(YbJob **head, YbJob *j) {
        YbJob **p = head;

        while (*p)
                p = &(*p)->next;
        j->next = NULL;
        *p = j;
}

static bool list_remove(YbJob **head, YbJob *j) {
        for (YbJob **p = head; *p; p = &(*p)->next)
                if (*p == j) {
                        *p = j->next;
                        j->next = NULL;
                        return true;
                }
        return false;
}

static YbJob *list_find(YbJob *head, int64_t id, const char *system) {
        for (YbJob *j = head; j; j = j->next)
                if ((id > 0 && j->id == id) || (system && streq(j->system, system)))
                        return j;
        return NULL;
}

int yb_jobs_queue(YbDaemon *d, const char *system, const char *level, const char *trigger,
                  int64_t scheduled_usec, int64_t *ret_job) {
        YbSystem *s = yb_daemon_system(d, system);
        YbJob *j, *busy;
        int r;

        if (!s)
                return -ENOENT;
        busy = list_find(d->queue, 0, system);
        if (!busy)
                busy = list_find(d->running, 0, system);
        if (!busy)
                busy = list_find(d->delayed, 0, system);
        if (busy) {
                *ret_job = busy->id;
                return -EBUSY;
        }
        j = new0(YbJob, 1);
        if (!j)
                return -ENOMEM;
        j->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        j->trigger = strdup(trigger);
        snprintf(j->system, sizeof(j->system), "%s", system);
        snprintf(j->level, sizeof(j->level), "%s", level);
        j->scheduled_usec = scheduled_usec;
        j->attempt = 1;
        if (j->cancel_fd < 0 || !j->trigger) {
                job_free(j);
                return -ENOMEM;
        }
        r = yb_catalog_job_add(d->catalog, system, 1, level, trigger, scheduled_usec, &j->id);
        if (r < 0) {
                job_free(j);
                return r;
        }
        list_append(&d->queue, j);
        d->n_queued++;
        s->status.running_job = j->id;
        *ret_job = j->id;
        pthread_cond_signal(&d->work);
        return 0;
}

static void end_job_status(YbDaemon *d, YbJob *j) {
        YbSystem *s = yb_daemon_system(d, j->system);

        if (s && s->status.running_job == j->id)
                s->status.running_job = 0;
}

int yb_jobs_cancel(YbDaemon *d, int64_t id) {
        YbJob *j;
        uint64_t one = 1;

        j = list_find(d->queue, id, NULL);
        if (!j)
                j = list_find(d->delayed, id, NULL);
        if (j) {
                if (!list_remove(&d->queue, j))
                        (void) list_remove(&d->delayed, j);
                else
                        d->n_queued--;
                (void) yb_catalog_job_finish(d->catalog, j->id, YB_JOB_CANCELLED, yb_daemon_now(d),
                                             0, 0, NULL, "cancelled before it ran");
                end_job_status(d, j);
                job_free(j);
                pthread_cond_broadcast(&d->idle);
                yb_daemon_wake(d);
                return 0;
        }
        j = list_find(d->running, id, NULL);
        if (!j)
                return -ENOENT;
        j->cancelled = true;
        (void) !write(j->cancel_fd, &one, sizeof(one));
        return 0;
}

int64_t yb_jobs_promote_delayed(YbDaemon *d, int64_t now_usec) {
        int64_t next = INT64_MAX;

        for (YbJob *j = d->delayed, *n; j; j = n) {
                n = j->next;
                if (j->not_before_usec <= now_usec) {
                        list_remove(&d->delayed, j);
                        list_append(&d->queue, j);
                        d->n_queued++;
                        pthread_cond_signal(&d->work);
                } else
                        next = MIN(next, j->not_before_usec);
        }
        return next;
}

/* What a job needs, copied under the lock so that a reload cannot pull it away. */
typedef struct Spec {
        char *system, *level, *store_name, *store_url, *key_json, *agent, *state_dir, *host;
        YbRunTarget target;
        char *user, *address, *ssh_key, *known_hosts;
        bool has_agent_key; /* hosts.NAME.agent_key pins the agent's identity */
        uint8_t agent_key[32];
        YbNames quarantined; /* the system's snapshots in the store that the catalog quarantines */
        YbNames trusted;     /* ... and those it holds unquarantined */
        char **argv;         /* the agent's command line */
        size_t argc, alloc;
        YbHook *hooks; /* shallow: strings are strdup'ed below */
        size_t n_hooks;
        YbRetention retention;
        int64_t lock_until_usec, timeout_usec;
} Spec;

static void spec_done(Spec *s) {
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
        for (size_t i = 0; i < s->argc; i++)
                free(s->argv[i]);
        free(s->argv);
        for (size_t i = 0; i < s->n_hooks; i++) {
                free(s->hooks[i].name);
                free(s->hooks[i].run);
                free(s->hooks[i].after);
                free(s->hooks[i].database);
        }
        free(s->hooks);
        yb_names_done(&s->quarantined);
        yb_names_done(&s->trusted);
}

static char *dup_or_null(const char *s) {
        return s ? strdup(s) : NULL;
}

static int argv_add(Spec *s, const char *fmt, ...) _printf_(2, 3);
static int argv_add(Spec *s, const char *fmt, ...) {
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

static char *agent_key_text(const uint8_t pk[32]) {
        char *b64 = NULL;

        return yb_base64_encode(pk, 32, &b64) < 0 ? NULL : b64;
}

/* Rows of (id, quarantine) into a Spec's quarantined and trusted lists. */
static int snapshot_id_row(void *ud, struct sqlite3_stmt *row) {
        Spec *s = ud;
        const char *id = (const char *) sqlite3_column_text(row, 0);

        if (!id)
                return 0;
        return yb_names_add(
                sqlite3_column_type(row, 1) == SQLITE_NULL ? &s->trusted : &s->quarantined, id);
}

/* Under lock. */
static int spec_make(YbDaemon *d, const YbJob *j, Spec *s, char *error, size_t error_size) {
        YbSystem *sys = yb_daemon_system(d, j->system);
        const YbConfigStore *store;
        const YbConfigHost *host;
        const YbPolicy *p;
        int r = 0;

        if (!sys) {
                snprintf(error, error_size, "system '%s' has no policy any more", j->system);
                return -ENOENT;
        }
        p = sys->policy;
        store = yb_daemon_config_store(d->config, p->tier1_store);
        host = yb_daemon_config_host(d->config, p->host);
        if (!store || !host) {
                snprintf(error, error_size, "the %s '%s' of the policy is not in %s",
                         !store ? "store" : "host", !store ? p->tier1_store : p->host,
                         d->config->file);
                return -ENOENT;
        }
        s->system = strdup(p->id);
        s->level = strdup(j->level);
        s->store_name = strdup(store->name);
        s->store_url = strdup(store->url);
        s->host = strdup(host->name);
        s->agent = strdup(host->agent ? host->agent : "yunbak-agent");
        s->state_dir = dup_or_null(host->state_dir);
        s->user = dup_or_null(host->user);
        s->address = dup_or_null(host->address);
        s->ssh_key = dup_or_null(host->ssh_key);
        s->known_hosts = dup_or_null(host->known_hosts);
        s->has_agent_key = host->has_agent_key;
        memcpy(s->agent_key, host->agent_key, sizeof(s->agent_key));
        r = yb_catalog_query(
                d->catalog, "SELECT id, quarantine FROM snapshots WHERE system = ?1 AND store = ?2",
                snapshot_id_row, s, "tt", p->id, store->name);
        if (r < 0) {
                snprintf(error, error_size, "cannot read the catalog: %s", strerror(-r));
                return r;
        }
        s->retention = p->tier1_retention;
        s->lock_until_usec = p->lock_until_usec;
        s->timeout_usec = d->config->job_timeout_usec;
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
        if (p->n_hooks > 0) {
                s->hooks = new0(YbHook, p->n_hooks);
                if (!s->hooks)
                        return -ENOMEM;
                for (size_t i = 0; i < p->n_hooks; i++) {
                        s->hooks[i] = p->hooks[i];
                        s->hooks[i].name = dup_or_null(p->hooks[i].name);
                        s->hooks[i].run = dup_or_null(p->hooks[i].run);
                        s->hooks[i].after = dup_or_null(p->hooks[i].after);
                        s->hooks[i].database = dup_or_null(p->hooks[i].database);
                        s->n_hooks++;
                }
        }
        r = argv_add(s, "%s", s->agent);
        if (r >= 0)
                r = argv_add(s, "backup");
        if (r >= 0)
                r = argv_add(s, "--json");
        if (r >= 0)
                r = argv_add(s, "--store=%s", s->store_url);
        if (r >= 0)
                r = argv_add(s, "--system=%s", s->system);
        if (r >= 0)
                r = argv_add(s, "--public-key-json=%s", s->key_json); /* no file on a remote host */
        if (r >= 0)
                r = argv_add(s, "--level=%s", s->level);
        if (r >= 0 && s->state_dir)
                r = argv_add(s, "--state-dir=%s", s->state_dir);
        for (size_t i = 0; r >= 0 && i < p->n_excludes; i++)
                r = argv_add(s, "--exclude=%s", p->excludes[i]);
        if (r >= 0 && s->has_agent_key) {
                _cleanup_free_ char *k = agent_key_text(s->agent_key);

                r = k ? argv_add(s, "--parent-agent=%s", k) : -ENOMEM;
        }
        for (size_t i = 0; r >= 0 && i < s->quarantined.n; i++)
                r = argv_add(s, "--skip-parent=%s", s->quarantined.v[i]);
        for (size_t i = 0; r >= 0 && i < p->n_hooks; i++)
                if (p->hooks[i].type == YB_HOOK_POSTGRESQL) {
                        const YbHook *h = &p->hooks[i];
                        int64_t secs = MAX(h->timeout_usec / 1000000, (int64_t) 1);
                        YbBuf q = YB_BUF_INIT;

                        /* The hook's timeout bounds pg_dump: coreutils' timeout, in the
                         * foreground so that pg_dump stays in the agent's process group (the
                         * agent stops the whole group when it is stopped); SIGTERM, then SIGKILL
                         * 10 s later. 124 is timeout's word for "stopped it". */
                        r = yb_shell_quote(&q, h->database);
                        if (r >= 0)
                                r = yb_buf_append(&q, "", 1);
                        if (r >= 0)
                                r = argv_add(
                                        s,
                                        "--stream%s=_streams/%s.pgdump=timeout --foreground -k 10 "
                                        "%" PRId64 " pg_dump --format=custom --dbname=%s || "
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
                r = argv_add(s, "--");
        for (size_t i = 0; r >= 0 && i < p->n_paths; i++)
                r = argv_add(s, "%s", p->paths[i]);
        return r;
}

/* The last non-empty line of text, for one-line error summaries. */
static void last_line(const char *text, size_t size, char *ret, size_t ret_size) {
        size_t end = size, start;

        while (end > 0 && (text[end - 1] == '\n' || text[end - 1] == ' '))
                end--;
        start = end;
        while (start > 0 && text[start - 1] != '\n')
                start--;
        snprintf(ret, ret_size, "%.*s", (int) (end - start), text + start);
}

typedef struct Outcome {
        YbJobState state;
        bool retry;
        char error[1024];
        char snapshot[64];
        uint64_t bytes_read, bytes_stored;
} Outcome;

static void outcome_error(Outcome *o, const char *fmt, ...) _printf_(2, 3);
static void outcome_error(Outcome *o, const char *fmt, ...) {
        size_t n = strlen(o->error);
        va_list ap;

        if (n > 0 && n + 2 < sizeof(o->error)) {
                memcpy(o->error + n, "; ", 3);
                n += 2;
        }
        va_start(ap, fmt);
        vsnprintf(o->error + n, sizeof(o->error) - n, fmt, ap);
        va_end(ap);
}

static const char *exit_meaning(int status) {
        switch (status) {
        case YB_EXIT_USAGE:
                return "the agent did not accept its command line (is it the same version?)";
        case YB_EXIT_KEY:
                return "wrong key";
        case YB_EXIT_DAMAGED:
                return "the repository is damaged";
        case YB_EXIT_UNREACHABLE:
                return "the store cannot be reached";
        case YB_EXIT_NOSPACE:
                return "the store is out of space or a write failed";
        case YB_EXIT_BUSY:
                return "another backup holds the repository lock";
        case YB_EXIT_CONFIG:
                return "bad configuration";
        case 126:
        case 127:
                return "the agent could not be started (is yunbak-agent installed on the host?)";
        default:
                return "failed";
        }
}

static int run_hooks(YbDaemon *d, YbJob *j, const Spec *s, bool after, const char *result,
                     Outcome *o) {
        for (size_t i = 0; i < s->n_hooks; i++) {
                const YbHook *h = &s->hooks[i];
                const char *cmd = after ? h->after : h->run;
                char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) cmd, NULL };
                char env_result[64], env_system[128], line[512];
                char *env[] = { env_result, env_system, NULL };
                YbRunResult rr = {};
                int r;

                if (h->type != YB_HOOK_COMMAND || !cmd)
                        continue;
                snprintf(env_result, sizeof(env_result), "YUNBAK_RESULT=%s", result);
                snprintf(env_system, sizeof(env_system), "YUNBAK_SYSTEM=%s", s->system);
                log_info("Job %" PRId64 ": hook '%s' (%s) on %s.", j->id, h->name,
                         after ? "after" : "before", s->host);
                r = yb_run(&s->target, argv, env, h->timeout_usec, j->cancel_fd, &rr);
                if (r >= 0 && rr.exit_status == 0 && rr.signal == 0) {
                        yb_run_result_done(&rr);
                        continue;
                }
                if (r == -ECANCELED) {
                        yb_run_result_done(&rr);
                        return r;
                }
                if (r < 0)
                        snprintf(line, sizeof(line), "%s", rr.error[0] ? rr.error : strerror(-r));
                else {
                        char tail[400];

                        last_line(rr.err ? rr.err : "", rr.err_size, tail, sizeof(tail));
                        snprintf(line, sizeof(line), "exit status %d%s%s",
                                 rr.signal ? 128 + rr.signal : rr.exit_status, *tail ? ": " : "",
                                 tail);
                }
                yb_run_result_done(&rr);
                if (!after && h->abort_on_failure) {
                        outcome_error(o, "hook '%s' failed (%s); the backup was not run", h->name,
                                      line);
                        return -EPERM;
                }
                outcome_error(o, "hook '%s'%s failed (%s); continued as the policy says", h->name,
                              after ? " (after)" : "", line);
        }
        return 0;
}

/* Reads the new snapshot's signed header from the store, so the catalog records what the store
 * holds, not what the agent said; then prunes by the policy. Without the lock. */
typedef struct Recorded {
        YbCatalogSnapshot snap;
        YbSnapshotHeader *header;
        char **pruned;
        size_t n_pruned;
        char *agent;
        bool agent_mismatch;       /* signed by another agent than hosts.NAME.agent_key pins */
        char *quarantine;          /* why, when agent_mismatch */
        YbNames newly_quarantined; /* other snapshots retention found signed by another agent */
        char prune_error[512];
} Recorded;

static void recorded_done(Recorded *r) {
        yb_header_free(r->header);
        for (size_t i = 0; i < r->n_pruned; i++)
                free(r->pruned[i]);
        free(r->pruned);
        free(r->agent);
        free(r->quarantine);
        yb_names_done(&r->newly_quarantined);
}

/* yb_repo_prune_many's report: what was removed, and the first refusal or failure. */
static void pruned_one(void *userdata, const char *id, int error, const char *child) {
        Recorded *rec = userdata;

        if (error == 0) {
                char *copy = strdup(id);

                if (copy)
                        rec->pruned[rec->n_pruned++] = copy;
                else
                        log_oom(); /* removed from the store; the catalog keeps it until rebuild */
        } else if (!rec->prune_error[0])
                snprintf(rec->prune_error, sizeof(rec->prune_error),
                         "cannot prune snapshot %s: %s%s%s", id, strerror(-error),
                         child ? ", needed by " : "", child ? child : "");
}

/* What set_aside() needs: the job's spec, and where to note what it quarantines now. */
typedef struct Pruning {
        const Spec *s;
        Recorded *rec;
} Pruning;

/* Whether retention must leave snapshot h alone (a YbRetentionAsideFn): the catalog quarantines
 * it, or the host is pinned and another agent signed it without the catalog holding it as trusted
 * (a snapshot an agent committed while its job failed, one the catalog lost): that one is
 * quarantined now, in rec. */
static bool set_aside(void *userdata, const YbSnapshotHeader *h) {
        const Pruning *p = userdata;
        const Spec *s = p->s;

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
static int prune(const Spec *s, YbRepo *repo, int64_t now, Recorded *rec) {
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
        if (r >= 0)
                r = out.error;
        if (r < 0 && !rec->prune_error[0])
                snprintf(rec->prune_error, sizeof(rec->prune_error),
                         "cannot apply the retention: %s", strerror(-r));
        yb_repo_unlock(repo);
        return r;
}

static int record_snapshot(const Spec *s, const char *id, Recorded *rec) {
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        int r;

        r = yb_store_open(s->store_url, &store);
        if (r >= 0)
                r = yb_repo_open(store, s->system, &repo);
        if (r >= 0)
                r = yb_repo_load_header(repo, id, &rec->header);
        if (r < 0)
                return r;
        rec->agent = agent_key_text(rec->header->agent_pk);
        rec->snap = (YbCatalogSnapshot){
                .system = s->system,
                .store = s->store_name,
                .id = rec->header->id,
                .level = yb_level_to_string(rec->header->level),
                .parent = *rec->header->parent ? rec->header->parent : NULL,
                .agent = rec->agent,
                .started_usec = rec->header->started_ns / 1000,
                .finished_usec = rec->header->finished_ns / 1000,
                .files = rec->header->counts.files,
                .bytes_source = rec->header->bytes_source,
                .bytes_stored = rec->header->bytes_stored,
                .partial = rec->header->partial,
        };
        /* A snapshot of an agent that is not the pinned one is recorded (the store holds it) but
         * does not count as a good backup: no retention on its strength. */
        rec->agent_mismatch =
                s->has_agent_key && memcmp(rec->header->agent_pk, s->agent_key, 32) != 0;
        if (rec->agent_mismatch) {
                _cleanup_free_ char *pinned = agent_key_text(s->agent_key);

                if (asprintf(&rec->quarantine,
                             "signed by agent %s, not by %s that hosts.%s.agent_key pins",
                             rec->agent ? rec->agent : "?", pinned ? pinned : "?", s->host) < 0)
                        return -ENOMEM;
                rec->snap.quarantine = rec->quarantine;
        }
        return 0;
}

/* Retention after a recorded snapshot (never on the strength of a quarantined one). */
static void apply_retention(const Spec *s, int64_t now, Recorded *rec) {
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        int r;

        if (!rec->header || rec->agent_mismatch)
                return;
        r = yb_store_open(s->store_url, &store);
        if (r >= 0)
                r = yb_repo_open(store, s->system, &repo);
        if (r < 0) {
                snprintf(rec->prune_error, sizeof(rec->prune_error),
                         "cannot open the repository to prune: %s", strerror(-r));
                return;
        }
        (void) prune(s, repo, now, rec);
}

/* A partial backup's error: what was left out and why, from the agent's summary (a database
 * dump left out by on_failure: continue is named like a file that could not be read). */
static void partial_error(Outcome *o, json_t *summary, const char *tail) {
        json_t *skipped = json_object_get(summary, "skipped"), *e;
        long long n = (long long) json_integer_value(json_object_get(summary, "errors"));
        char list[700] = "";
        size_t i, len = 0;

        json_array_foreach(skipped, i, e) {
                const char *path = json_string_value(json_object_get(e, "path"));
                const char *why = json_string_value(json_object_get(e, "error"));

                if (i == 3 || len >= sizeof(list) - 1)
                        break;
                len += (size_t) snprintf(list + len, sizeof(list) - len, "%s'%s' (%s)",
                                         i > 0 ? "; " : "", path ? path : "?", why ? why : "?");
        }
        len = MIN(len, sizeof(list) - 1);
        if (!*list) /* an older agent's summary: its last message will do */
                outcome_error(o, "%lld entries could not be backed up and were left out%s%s", n,
                              *tail ? ": " : "", tail);
        else if ((size_t) n > i)
                outcome_error(o,
                              "%lld entries were left out: %s; and %lld more (the agent's log "
                              "names each)",
                              n, list, n - (long long) i);
        else
                outcome_error(o, "%lld entr%s left out: %s", n, n == 1 ? "y was" : "ies were",
                              list);
}

static void run_agent(YbDaemon *d, YbJob *j, const Spec *s, Outcome *o) {
        _cleanup_(json_decrefp) json_t *summary = NULL;
        YbRunResult rr = {};
        json_error_t jerr;
        char tail[600];
        int r;

        log_info("Job %" PRId64 ": %s backup of '%s' on %s into store '%s' (attempt %d).", j->id,
                 s->level, s->system, s->host, s->store_name, j->attempt);
        r = yb_run(&s->target, s->argv, NULL, s->timeout_usec, j->cancel_fd, &rr);
        if (r == -ECANCELED) {
                o->state = YB_JOB_CANCELLED;
                outcome_error(o, "cancelled while the agent ran; nothing was committed");
                goto out;
        }
        if (r == -ETIMEDOUT) {
                char b[32];

                o->state = YB_JOB_FAILED;
                o->retry = true;
                outcome_error(o, "the agent ran longer than job_timeout (%s) and was stopped",
                              yb_duration_format(s->timeout_usec, b, sizeof(b)));
                goto out;
        }
        if (r < 0) {
                o->state = YB_JOB_FAILED;
                o->retry = true;
                outcome_error(o, "cannot run the agent on %s: %s", s->host,
                              rr.error[0] ? rr.error : strerror(-r));
                goto out;
        }
        last_line(rr.err ? rr.err : "", rr.err_size, tail, sizeof(tail));
        if (rr.signal != 0) {
                o->state = YB_JOB_FAILED;
                o->retry = true;
                outcome_error(o, "the agent was killed by signal %d (%s)%s%s", rr.signal,
                              strsignal(rr.signal), *tail ? ": " : "", tail);
                goto out;
        }
        if (rr.exit_status != YB_EXIT_OK && rr.exit_status != YB_EXIT_PARTIAL) {
                o->state = YB_JOB_FAILED;
                /* Worth another try: the store or host may come back, the lock may be freed. */
                o->retry = rr.exit_status == YB_EXIT_UNREACHABLE ||
                           rr.exit_status == YB_EXIT_BUSY || rr.exit_status == YB_EXIT_NOSPACE ||
                           rr.exit_status == YB_EXIT_FAILED;
                outcome_error(o, "agent exit status %d, %s%s%s", rr.exit_status,
                              exit_meaning(rr.exit_status), *tail ? ": " : "", tail);
                goto out;
        }
        summary = json_loadb(rr.out ? rr.out : "", rr.out_size, 0, &jerr);
        if (!summary || !json_is_string(json_object_get(summary, "snapshot"))) {
                o->state = YB_JOB_FAILED;
                outcome_error(o, "the agent's summary is not the JSON expected (%s at line %d)",
                              summary ? "no snapshot" : jerr.text, jerr.line);
                goto out;
        }
        snprintf(o->snapshot, sizeof(o->snapshot), "%s",
                 json_string_value(json_object_get(summary, "snapshot")));
        o->bytes_read = (uint64_t) json_integer_value(json_object_get(summary, "bytes_read"));
        o->bytes_stored = (uint64_t) json_integer_value(json_object_get(summary, "bytes_stored"));
        o->state = rr.exit_status == YB_EXIT_PARTIAL ? YB_JOB_PARTIAL : YB_JOB_SUCCEEDED;
        if (o->state == YB_JOB_PARTIAL)
                partial_error(o, summary, tail);
out:
        yb_run_result_done(&rr);
}

static int count_row(void *ud, struct sqlite3_stmt *row) {
        (void) row;
        (*(int64_t *) ud)++;
        return 0;
}

/* Under lock, before the snapshot is recorded: an agent key the system's snapshots have not been
 * signed by so far is audited (agent.new), and warned about when there were others. Without a
 * pin (hosts.NAME.agent_key) this is how a replaced agent shows. */
static void audit_agent(YbDaemon *d, const Spec *s, const Recorded *rec) {
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

static void finish(YbDaemon *d, YbJob *j, const Spec *s, Outcome *o, Recorded *rec,
                   int64_t started) {
        int64_t now = yb_daemon_now(d);
        YbSystem *sys = yb_daemon_system(d, j->system);
        char detail[1400];

        list_remove(&d->running, j);
        d->n_running--;
        if (o->retry && !j->cancelled && j->attempt <= d->config->retries && !d->stopping) {
                int64_t delay = d->config->retry_backoff_usec << MIN(j->attempt - 1, 20);

                log_warning("Job %" PRId64 " (%s) attempt %d failed: %s. Retrying in %" PRId64
                            " s.",
                            j->id, j->system, j->attempt, o->error, delay / 1000000);
                j->attempt++;
                j->not_before_usec = now + delay;
                (void) yb_catalog_job_retry(d->catalog, j->id, j->attempt, o->error);
                list_append(&d->delayed, j);
                snprintf(detail, sizeof(detail), "attempt %d: %s", j->attempt - 1, o->error);
                yb_daemon_audit(d, NULL, "job.retry", j->system, "failed", detail);
                yb_daemon_wake(d);
                return;
        }
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
        if (rec->prune_error[0]) {
                log_error("System '%s': %s.", s->system, rec->prune_error);
                yb_daemon_audit(d, NULL, "snapshot.prune", s->system, "failed", rec->prune_error);
        }
        (void) yb_catalog_job_finish(d->catalog, j->id, o->state, now, o->bytes_read,
                                     o->bytes_stored, o->snapshot[0] ? o->snapshot : NULL,
                                     o->error[0] ? o->error : NULL);
        if (sys) {
                sys->status.last_job = j->id;
                sys->status.last_state = (int) o->state;
                sys->status.last_duration_usec = now - started;
                sys->status.last_bytes_stored = o->bytes_stored;
                if (o->state == YB_JOB_SUCCEEDED || o->state == YB_JOB_PARTIAL) {
                        sys->status.last_success_usec = now;
                        snprintf(sys->status.last_snapshot, sizeof(sys->status.last_snapshot), "%s",
                                 o->snapshot);
                }
                if (rec->header)
                        sys->status.snapshots++;
                sys->status.snapshots -= (int64_t) rec->n_pruned;
                if (sys->status.snapshots < 0)
                        sys->status.snapshots = 0;
        }
        end_job_status(d, j);
        snprintf(detail, sizeof(detail), "job %" PRId64 " %s%s%s%s%s", j->id, s ? s->level : "",
                 o->snapshot[0] ? " snapshot " : "", o->snapshot, o->error[0] ? ": " : "",
                 o->error);
        yb_daemon_audit(d, NULL, "job.end", j->system, yb_job_state_to_string(o->state), detail);
        if (o->state == YB_JOB_SUCCEEDED)
                log_info("Job %" PRId64 " (%s): succeeded, snapshot %s.", j->id, j->system,
                         o->snapshot);
        else
                log_warning("Job %" PRId64 " (%s): %s: %s", j->id, j->system,
                            yb_job_state_to_string(o->state), o->error);
        job_free(j);
        pthread_cond_broadcast(&d->idle);
        yb_daemon_wake(d);
}

/* The snapshot the agent reported: new to the catalog, its signed header readable, and signed by
 * the pinned agent if the host pins one; otherwise the job fails. Without the lock. */
static void check_snapshot(YbDaemon *d, const Spec *s, Outcome *o, Recorded *rec) {
        int64_t known = 0;
        int r;

        if (!o->snapshot[0])
                return;
        pthread_mutex_lock(&d->lock);
        r = yb_catalog_query(d->catalog,
                             "SELECT 1 FROM snapshots WHERE system = ?1 AND store = ?2 AND id = ?3",
                             count_row, &known, "ttt", s->system, s->store_name, o->snapshot);
        pthread_mutex_unlock(&d->lock);
        if (r < 0 || known > 0) {
                /* Nothing new was made: never count an old snapshot as this job's. */
                o->state = YB_JOB_FAILED;
                if (r < 0)
                        outcome_error(o, "cannot read the catalog to record snapshot %s: %s",
                                      o->snapshot, strerror(-r));
                else
                        outcome_error(o,
                                      "the agent reported snapshot %s, which the catalog already "
                                      "had: it made no new snapshot",
                                      o->snapshot);
                o->snapshot[0] = 0;
                return;
        }
        r = record_snapshot(s, o->snapshot, rec);
        if (r < 0) {
                o->state = YB_JOB_FAILED;
                outcome_error(o,
                              "the agent reported snapshot %s but its header cannot be read from "
                              "store '%s': %s",
                              o->snapshot, s->store_name, strerror(-r));
        } else if (rec->agent_mismatch) {
                _cleanup_free_ char *pinned = agent_key_text(s->agent_key);

                o->state = YB_JOB_FAILED;
                outcome_error(o,
                              "snapshot %s is signed by agent key %s, but hosts.%s.agent_key pins "
                              "%s: another agent answered on %s (was the host reinstalled, its "
                              "agent state lost, or is another machine answering?). The snapshot "
                              "is quarantined: kept, but never built on, counted or pruned; check "
                              "the host, then release it or remove it ('yunbak prune "
                              "--snapshot'), and update agent_key if the new agent is legitimate",
                              o->snapshot, rec->agent ? rec->agent : "?", s->host,
                              pinned ? pinned : "?", s->host);
        }
}

static void run_job(YbDaemon *d, YbJob *j) {
        _cleanup_(spec_done) Spec s = {};
        _cleanup_(recorded_done) Recorded rec = {};
        Outcome o = { .state = YB_JOB_FAILED };
        int64_t started;
        char detail[128];
        int r;

        pthread_mutex_lock(&d->lock);
        started = yb_daemon_now(d);
        r = spec_make(d, j, &s, o.error, sizeof(o.error));
        if (r == -ENOMEM)
                snprintf(o.error, sizeof(o.error), "out of memory");
        (void) yb_catalog_job_start(d->catalog, j->id, started);
        snprintf(detail, sizeof(detail), "job %" PRId64 " %s attempt %d (%s)", j->id, j->level,
                 j->attempt, j->trigger);
        yb_daemon_audit(d, NULL, "job.start", j->system, "ok", detail);
        pthread_mutex_unlock(&d->lock);

        if (r >= 0) {
                r = run_hooks(d, j, &s, false, "", &o);
                if (r == -ECANCELED) {
                        o.state = YB_JOB_CANCELLED;
                        outcome_error(&o, "cancelled while a hook ran");
                } else if (r >= 0) {
                        run_agent(d, j, &s, &o);
                        check_snapshot(d, &s, &o,
                                       &rec); /* before the after-hooks hear how it went */
                }
                if (r != -ECANCELED && !j->cancelled)
                        (void) run_hooks(d, j, &s, true,
                                         o.state == YB_JOB_SUCCEEDED ? "ok"
                                         : o.state == YB_JOB_PARTIAL ? "partial"
                                                                     : "failed",
                                         &o);
        }
        apply_retention(&s, yb_daemon_now(d), &rec);
        pthread_mutex_lock(&d->lock);
        finish(d, j, &s, &o, &rec, started);
        pthread_mutex_unlock(&d->lock);
}

static void *worker(void *userdata) {
        YbDaemon *d = userdata;

        pthread_mutex_lock(&d->lock);
        for (;;) {
                YbJob *j;

                while (!d->stopping && !d->queue)
                        pthread_cond_wait(&d->work, &d->lock);
                if (d->stopping)
                        break;
                j = d->queue;
                list_remove(&d->queue, j);
                d->n_queued--;
                list_append(&d->running, j);
                d->n_running++;
                pthread_mutex_unlock(&d->lock);
                run_job(d, j);
                pthread_mutex_lock(&d->lock);
        }
        pthread_mutex_unlock(&d->lock);
        return NULL;
}

int yb_jobs_start(YbDaemon *d) {
        d->workers = new0(pthread_t, d->config->max_jobs);
        if (!d->workers)
                return -ENOMEM;
        for (int i = 0; i < d->config->max_jobs; i++) {
                int r = pthread_create(&d->workers[i], NULL, worker, d);

                if (r != 0) {
                        yb_jobs_stop(d);
                        return log_error_errno(-r, "Cannot start a job worker: %m");
                }
                d->n_workers++;
        }
        return 0;
}

void yb_jobs_stop(YbDaemon *d) {
        uint64_t one = 1;

        pthread_mutex_lock(&d->lock);
        d->stopping = true;
        for (YbJob *j = d->running; j; j = j->next) {
                j->cancelled = true;
                (void) !write(j->cancel_fd, &one, sizeof(one));
        }
        pthread_cond_broadcast(&d->work);
        pthread_mutex_unlock(&d->lock);
        for (int i = 0; i < d->n_workers; i++)
                pthread_join(d->workers[i], NULL);
        d->n_workers = 0;
        free(d->workers);
        d->workers = NULL;
        /* What never ran: cancelled, and said so. */
        pthread_mutex_lock(&d->lock);
        for (YbJob **l = &d->queue; l; l = l == &d->queue ? &d->delayed : NULL)
                while (*l) {
                        YbJob *j = *l;

                        *l = j->next;
                        (void) yb_catalog_job_finish(d->catalog, j->id, YB_JOB_CANCELLED,
                                                     yb_daemon_now(d), 0, 0, NULL,
                                                     "yunbakd stopped before the job ran");
                        job_free(j);
                }
        d->n_queued = 0;
        pthread_mutex_unlock(&d->lock);
}
