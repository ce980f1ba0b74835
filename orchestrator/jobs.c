/* orchestrator/jobs.c: yunbakd's job queue and workers. A tier-1 job runs the system's hooks and
 * `yunbak-agent backup` on the system's host (a child process, or over SSH), reads the agent's
 * JSON summary, records the snapshot from its signed header, prunes by the policy's retention,
 * and retries failures with a doubling backoff. What a job needs is made in job-spec.c; the
 * snapshot it made is read, pruned after and recorded in job-snapshot.c. */
#include "orchestrator/jobs.h"

#include <assert.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/copy-job.h"
#include "orchestrator/daemon.h"
#include "orchestrator/job-snapshot.h"
#include "orchestrator/job-spec.h"
#include "orchestrator/runner.h"

struct YbJob {
        int64_t id;
        int tier; /* 1: a backup; 3: an off-site copy (copy-job.c) */
        char system[64];
        char level[16];
        char snapshot[64]; /* tier 3: the snapshot asked for; empty: the newest */
        int64_t request;   /* tier 3: the approved request it serves; 0: none */
        char *trigger;
        char *store, *key_json; /* tier 1: a decommission's export (export-job.h); else NULL */
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
        free(j->store);
        free(j->key_json);
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

/* The job of that id, or of that system and tier (tier 0: any tier). */
static YbJob *list_find(YbJob *head, int64_t id, const char *system, int tier) {
        for (YbJob *j = head; j; j = j->next)
                if ((id > 0 && j->id == id) ||
                    (system && streq(j->system, system) && (tier == 0 || j->tier == tier)))
                        return j;
        return NULL;
}

int yb_jobs_add(YbDaemon *d, const YbJobAdd *a, int64_t *ret_job) {
        YbSystem *s = yb_daemon_system(d, a->system);
        YbJob *j, *busy;
        int r;

        assert(a->tier == 1 || a->tier == 3);
        if (!s)
                return -ENOENT;
        /* From its decommission's execution on, nothing starts for the system. */
        if (yb_system_stopped(s))
                return -ESHUTDOWN;
        /* One job per system and tier: a system's copy may run while its backup runs. */
        busy = list_find(d->queue, 0, a->system, a->tier);
        if (!busy)
                busy = list_find(d->running, 0, a->system, a->tier);
        if (!busy)
                busy = list_find(d->delayed, 0, a->system, a->tier);
        if (busy) {
                *ret_job = busy->id;
                return -EBUSY;
        }
        j = new0(YbJob, 1);
        if (!j)
                return -ENOMEM;
        j->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        j->trigger = strdup(a->trigger);
        j->store = a->store ? strdup(a->store) : NULL;
        j->key_json = a->public_key_json ? strdup(a->public_key_json) : NULL;
        j->tier = a->tier;
        snprintf(j->system, sizeof(j->system), "%s", a->system);
        snprintf(j->level, sizeof(j->level), "%s", a->level);
        snprintf(j->snapshot, sizeof(j->snapshot), "%s", a->snapshot ? a->snapshot : "");
        j->request = a->request;
        j->scheduled_usec = a->scheduled_usec;
        j->attempt = 1;
        if (j->cancel_fd < 0 || !j->trigger || (a->store && !j->store) ||
            (a->public_key_json && !j->key_json)) {
                job_free(j);
                return -ENOMEM;
        }
        r = yb_catalog_job_add(d->catalog, a->system, a->tier, a->level, a->trigger,
                               a->scheduled_usec, &j->id);
        if (r < 0) {
                job_free(j);
                return r;
        }
        /* A copy's snapshot is in the catalog from the start, so that a copy cut short before
         * it runs (yunbakd stopped or killed) is resumed with it, not with the newest
         * (yb_copies_resume); and the request it serves follows it (its copy_state says how the
         * copy ends, also when this job resumes an earlier one). */
        if (a->snapshot)
                (void) yb_catalog_query(d->catalog, "UPDATE jobs SET snapshot = ?2 WHERE id = ?1",
                                        NULL, NULL, "It", j->id, a->snapshot);
        if (a->request > 0)
                (void) yb_catalog_query(d->catalog, "UPDATE approvals SET job = ?2 WHERE id = ?1",
                                        NULL, NULL, "II", a->request, j->id);
        if (a->not_before_usec > yb_daemon_now(d)) {
                /* Waits (a copy outside its store's windows): promoted when due. */
                j->not_before_usec = a->not_before_usec;
                list_append(&d->delayed, j);
                yb_daemon_wake(d);
        } else {
                list_append(&d->queue, j);
                d->n_queued++;
                pthread_cond_signal(&d->work);
        }
        if (a->tier == 1)
                s->status.running_job = j->id;
        else
                s->status.tier3.job = j->id;
        *ret_job = j->id;
        return 0;
}

int yb_jobs_queue(YbDaemon *d, const char *system, const char *level, const char *trigger,
                  int64_t scheduled_usec, int64_t *ret_job) {
        YbJobAdd a = { .system = system,
                       .tier = 1,
                       .level = level,
                       .trigger = trigger,
                       .scheduled_usec = scheduled_usec };

        return yb_jobs_add(d, &a, ret_job);
}

static void end_job_status(YbDaemon *d, YbJob *j) {
        YbSystem *s = yb_daemon_system(d, j->system);

        if (s && j->tier == 1 && s->status.running_job == j->id)
                s->status.running_job = 0;
        if (s && j->tier == 3 && s->status.tier3.job == j->id)
                s->status.tier3.job = 0;
}

int yb_jobs_cancel(YbDaemon *d, int64_t id) {
        YbJob *j;
        uint64_t one = 1;

        j = list_find(d->queue, id, NULL, 0);
        if (!j)
                j = list_find(d->delayed, id, NULL, 0);
        if (j) {
                if (!list_remove(&d->queue, j))
                        (void) list_remove(&d->delayed, j);
                else
                        d->n_queued--;
                yb_jobs_record_end(d, j->id, YB_JOB_CANCELLED, yb_daemon_now(d), 0, 0, NULL,
                                   "cancelled before it ran", NULL, NULL);
                end_job_status(d, j);
                job_free(j);
                pthread_cond_broadcast(&d->idle);
                yb_daemon_wake(d);
                return 0;
        }
        j = list_find(d->running, id, NULL, 0);
        if (!j)
                return -ENOENT;
        j->cancelled = true;
        (void) !write(j->cancel_fd, &one, sizeof(one));
        return 0;
}

int yb_jobs_cancel_system(YbDaemon *d, const char *system, int64_t *ret_job) {
        YbJob *j;
        int n = 0;

        while ((j = list_find(d->queue, 0, system, 0)) || (j = list_find(d->delayed, 0, system, 0)))
                (void) yb_jobs_cancel(d, j->id);
        for (j = d->running; j; j = j->next)
                if (streq(j->system, system)) {
                        if (!j->cancelled)
                                (void) yb_jobs_cancel(d, j->id);
                        if (n++ == 0)
                                *ret_job = j->id;
                }
        return n;
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

/* The agent's last line saying it makes a full backup instead of the level asked (no parent to
 * build on, or a damaged one), without the program's name; empty when there is none. */
static void full_instead_line(const char *text, size_t size, char *ret, size_t ret_size) {
        const char *p = text, *end = text + size;

        ret[0] = 0;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p)), *eol = nl ? nl : end;
                size_t n = (size_t) (eol - p);

                if (memmem(p, n, "making a full backup", 20)) {
                        const char *colon = memmem(p, n, ": ", 2);

                        if (colon && memmem(p, (size_t) (colon - p), "agent", 5)) {
                                n -= (size_t) (colon + 2 - p);
                                p = colon + 2;
                        }
                        if (n > 9 && memcmp(p, "warning: ", 9) == 0) {
                                n -= 9;
                                p += 9;
                        }
                        snprintf(ret, ret_size, "%.*s", (int) n, p);
                }
                p = eol + 1;
        }
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
        char error[2048];
        char snapshot[64];
        uint64_t bytes_read, bytes_stored;
        char level[16];       /* the level made, from the snapshot's signed header */
        char level_note[768]; /* why it is not the one asked */
        char agent_full[512]; /* the agent's own line on why it made a full instead */
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

static int run_hooks(YbDaemon *d, YbJob *j, const YbJobSpec *s, bool after, const char *result,
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

/* A partial backup's error: what was left out and why, from the agent's summary (a database
 * dump left out by on_failure: continue is named like a file that could not be read). */
static void partial_error(Outcome *o, json_t *summary, const char *tail) {
        json_t *skipped = json_object_get(summary, "skipped"), *e;
        long long n = (long long) json_integer_value(json_object_get(summary, "errors"));
        char list[1800] = ""; /* room for a stream's whole message */
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

static void run_agent(YbDaemon *d, YbJob *j, const YbJobSpec *s, Outcome *o) {
        _cleanup_(json_decrefp) json_t *summary = NULL;
        YbRunResult rr = {};
        json_error_t jerr;
        char tail[1600]; /* the agent's last line: a stream's whole message fits */
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
        full_instead_line(rr.err ? rr.err : "", rr.err_size, o->agent_full, sizeof(o->agent_full));
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

/* A job that failed in a way that may pass (a store or host unreachable, a lock held) waits
 * with a doubling backoff and runs again, up to config->retries times: then true, and j is in
 * the delayed list. Under lock, j out of the running list. */
static bool retry_later(YbDaemon *d, YbJob *j, bool retry, const char *error, int64_t now) {
        int64_t delay = d->config->retry_backoff_usec << MIN(j->attempt - 1, 20);
        char detail[3400];
        int r;

        if (!retry || j->cancelled || j->attempt > d->config->retries || d->stopping)
                return false;
        log_warning("Job %" PRId64 " (%s) attempt %d failed: %s. Retrying in %" PRId64 " s.", j->id,
                    j->system, j->attempt, error, (int64_t) (delay / YB_USEC_PER_SEC));
        j->attempt++;
        j->not_before_usec = now + delay;
        r = yb_catalog_job_retry(d->catalog, j->id, j->attempt, error, j->not_before_usec);
        if (r < 0) {
                /* The catalog still says running: say that it is degraded, and why. */
                d->catalog_error = r;
                log_error_errno(
                        r, "Cannot record that job %" PRId64 " waits to retry in the catalog: %m",
                        j->id);
        }
        list_append(&d->delayed, j);
        snprintf(detail, sizeof(detail), "attempt %d: %s", j->attempt - 1, error);
        yb_daemon_audit(d, NULL, "job.retry", j->system, "failed", detail);
        yb_daemon_wake(d);
        return true;
}

static void finish(YbDaemon *d, YbJob *j, const YbJobSpec *s, Outcome *o, YbJobSnapshot *rec,
                   int64_t started) {
        int64_t now = yb_daemon_now(d);
        YbSystem *sys = yb_daemon_system(d, j->system);
        char detail[3400];

        list_remove(&d->running, j);
        d->n_running--;
        if (retry_later(d, j, o->retry, o->error, now))
                return;
        yb_job_snapshot_record(d, s, rec);
        yb_jobs_record_end(d, j->id, o->state, now, o->bytes_read, o->bytes_stored,
                           o->snapshot[0] ? o->snapshot : NULL, o->error[0] ? o->error : NULL,
                           o->level[0] ? o->level : NULL, o->level_note[0] ? o->level_note : NULL);
        if (sys && !j->store) { /* an export is not the tier's */
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
        snprintf(detail, sizeof(detail), "job %" PRId64 " %s%s%s%s%s%s%s%s", j->id,
                 o->level[0] ? o->level : j->level, o->level_note[0] ? " (" : "", o->level_note,
                 o->level_note[0] ? ")" : "", o->snapshot[0] ? " snapshot " : "", o->snapshot,
                 o->error[0] ? ": " : "", o->error);
        yb_daemon_audit(d, NULL, "job.end", j->system, yb_job_state_to_string(o->state), detail);
        if (o->state == YB_JOB_SUCCEEDED)
                log_info("Job %" PRId64 " (%s): succeeded, %s snapshot %s%s%s%s.", j->id, j->system,
                         o->level, o->snapshot, o->level_note[0] ? " (" : "", o->level_note,
                         o->level_note[0] ? ")" : "");
        else
                log_warning("Job %" PRId64 " (%s): %s: %s", j->id, j->system,
                            yb_job_state_to_string(o->state), o->error);
        job_free(j);
        pthread_cond_broadcast(&d->idle);
        yb_daemon_wake(d);
}

/* The level the snapshot was made at, from its signed header, and why it is not the one asked:
 * the agent makes a full when it finds no parent to build on (the system's first backup, or a
 * damaged parent). */
static void made_level(const YbJobSpec *s, Outcome *o, const YbSnapshotHeader *h) {
        const char *made = yb_level_to_string(h->level);

        snprintf(o->level, sizeof(o->level), "%s", made ? made : "?");
        if (streq(o->level, s->level))
                return;
        if (h->level == YB_LEVEL_FULL)
                snprintf(
                        o->level_note, sizeof(o->level_note),
                        "asked as %s, made as full: there was no parent snapshot to build on%s%s%s",
                        s->level, o->agent_full[0] ? " (" : "", o->agent_full,
                        o->agent_full[0] ? ")" : "");
        else
                snprintf(o->level_note, sizeof(o->level_note), "asked as %s, made as %s", s->level,
                         o->level);
}

/* The snapshot the agent reported: new to the catalog, its signed header readable, and signed by
 * the pinned agent if the host pins one; otherwise the job fails. Without the lock. */
static void check_snapshot(YbDaemon *d, const YbJobSpec *s, Outcome *o, YbJobSnapshot *rec) {
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
        r = yb_job_snapshot_read(s, o->snapshot, rec);
        if (r >= 0)
                made_level(s, o, rec->header);
        if (r < 0) {
                o->state = YB_JOB_FAILED;
                outcome_error(o,
                              "the agent reported snapshot %s but its header cannot be read from "
                              "store '%s': %s",
                              o->snapshot, s->store_name, strerror(-r));
        } else if (rec->agent_mismatch) {
                _cleanup_free_ char *pinned = yb_job_agent_key_text(s->agent_key);

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
        _cleanup_(yb_job_spec_done) YbJobSpec s = {};
        _cleanup_(yb_job_snapshot_done) YbJobSnapshot rec = {};
        Outcome o = { .state = YB_JOB_FAILED };
        int64_t started;
        char detail[128];
        int r, unrecorded;

        pthread_mutex_lock(&d->lock);
        started = yb_daemon_now(d);
        r = yb_job_spec_make_to(d, j->system, j->level, j->store, j->key_json, &s, o.error,
                                sizeof(o.error));
        if (r == -ENOMEM)
                snprintf(o.error, sizeof(o.error), "out of memory");
        snprintf(detail, sizeof(detail), "job %" PRId64 " %s attempt %d (%s)", j->id, j->level,
                 j->attempt, j->trigger);
        /* A job whose start the catalog cannot record or audit does not run: it is retried. */
        unrecorded = yb_jobs_flush_pending(d) > 0 ? d->catalog_error : 0;
        if (unrecorded >= 0)
                unrecorded = yb_catalog_job_start(d->catalog, j->id, started);
        if (unrecorded >= 0)
                unrecorded = yb_daemon_audit(d, NULL, "job.start", j->system, "ok", detail);
        else
                d->catalog_error = unrecorded;
        if (unrecorded < 0 && r >= 0) {
                snprintf(o.error, sizeof(o.error),
                         "not run: its start cannot be recorded in the catalog %s (%s)",
                         d->config->catalog, strerror(-unrecorded));
                o.retry = true;
                r = unrecorded;
        }
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
        if (!j->store) /* an export store is the department's: nothing pruned there */
                yb_job_snapshot_prune(&s, yb_daemon_now(d), &rec);
        pthread_mutex_lock(&d->lock);
        finish(d, j, &s, &o, &rec, started);
        pthread_mutex_unlock(&d->lock);
}

/* A tier-3 job: the copy runs in copy-job.c, in this thread; here it ends, is retried, or, when
 * its store's window closed, ends as paused and a new job resumes it at the next opening. */
static void run_copy(YbDaemon *d, YbJob *j) {
        YbCopyJob cj = { .id = j->id,
                         .system = j->system,
                         .snapshot = j->snapshot[0] ? j->snapshot : NULL,
                         .trigger = j->trigger,
                         .request = j->request,
                         .attempt = j->attempt,
                         .cancel_fd = j->cancel_fd };
        YbCopyOutcome o = { .state = YB_JOB_FAILED };
        int64_t now, next;

        yb_copy_job_run(d, &cj, &o);
        pthread_mutex_lock(&d->lock);
        now = yb_daemon_now(d);
        list_remove(&d->running, j);
        d->n_running--;
        if (!retry_later(d, j, o.retry, o.error, now)) {
                yb_jobs_record_end(d, j->id, o.state, now, o.stats.bytes_verified,
                                   o.stats.bytes_sent, o.snapshot[0] ? o.snapshot : NULL,
                                   o.error[0] ? o.error : NULL, NULL, NULL);
                end_job_status(d, j);
                yb_copy_job_ended(d, &cj, &o, now);
                if (o.state == YB_JOB_PAUSED && !d->stopping) {
                        YbJobAdd a = { .system = j->system,
                                       .tier = 3,
                                       .level = j->level,
                                       .snapshot = o.snapshot[0] ? o.snapshot
                                                                 : NULL, /* the one begun */
                                       .request = j->request,
                                       .trigger = "resume",
                                       .scheduled_usec = o.resume_usec,
                                       .not_before_usec = o.resume_usec };
                        int r = yb_jobs_add(d, &a, &next);

                        if (r < 0)
                                log_error_errno(r,
                                                "System '%s': cannot queue the copy that resumes "
                                                "job %" PRId64 " at its store's next window: %m",
                                                j->system, j->id);
                }
                job_free(j);
                pthread_cond_broadcast(&d->idle);
                yb_daemon_wake(d);
        }
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
                if (j->tier == 3)
                        run_copy(d, j);
                else
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
                        yb_jobs_record_end(d, j->id, YB_JOB_CANCELLED, yb_daemon_now(d), 0, 0, NULL,
                                           "yunbakd stopped before the job ran", NULL, NULL);
                        job_free(j);
                }
        d->n_queued = 0;
        yb_jobs_drop_pending(d);
        pthread_mutex_unlock(&d->lock);
}
