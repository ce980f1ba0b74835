/* orchestrator/jobs.c: yunbakd's job queue and workers. A tier-1 job runs the system's hooks and
 * `yunbak-agent backup` on the system's host (a child process, or over SSH), reads the agent's
 * JSON summary, records the snapshot from its signed header, prunes by the policy's retention,
 * and retries failures with a doubling backoff. What a job needs is made in job-spec.c; the
 * snapshot it made is read, pruned after and recorded in job-snapshot.c. */
#include "orchestrator/jobs.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/daemon.h"
#include "orchestrator/job-snapshot.h"
#include "orchestrator/job-spec.h"
#include "orchestrator/runner.h"

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

/* The end of a job, kept in memory until the catalog takes it. */
struct YbPendingEnd {
        int64_t id, finished_usec;
        YbJobState state;
        uint64_t bytes_read, bytes_stored;
        char snapshot[64];
        char level[16]; /* made; empty: the one asked stands */
        char *error, *level_note;
        struct YbPendingEnd *next;
};

static int write_end(YbDaemon *d, const struct YbPendingEnd *e) {
        int r = yb_catalog_job_finish(d->catalog, e->id, e->state, e->finished_usec, e->bytes_read,
                                      e->bytes_stored, e->snapshot[0] ? e->snapshot : NULL,
                                      e->error, e->level[0] ? e->level : NULL, e->level_note);

        d->catalog_error = r < 0 ? r : 0;
        return r;
}

static void pending_end_free(struct YbPendingEnd *e) {
        free(e->error);
        free(e->level_note);
        free(e);
}

int yb_jobs_flush_pending(YbDaemon *d) {
        int n = 0;

        for (struct YbPendingEnd **p = &d->pending_ends; *p;) {
                struct YbPendingEnd *e = *p;

                if (write_end(d, e) < 0) {
                        n++;
                        p = &e->next;
                        continue;
                }
                log_info("Job %" PRId64 ": its end (%s) is now written to the catalog.", e->id,
                         yb_job_state_to_string(e->state));
                *p = e->next;
                pending_end_free(e);
                d->n_pending_ends--;
        }
        return n;
}

void yb_jobs_overlay_pending(YbDaemon *d, int64_t id, json_t *o) {
        for (struct YbPendingEnd *e = d->pending_ends; e; e = e->next)
                if (e->id == id) {
                        json_object_set_new(o, "state",
                                            json_string(yb_job_state_to_string(e->state)));
                        json_object_set_new(o, "finished_usec", json_integer(e->finished_usec));
                        json_object_set_new(o, "bytes_read",
                                            json_integer((json_int_t) e->bytes_read));
                        json_object_set_new(o, "bytes_stored",
                                            json_integer((json_int_t) e->bytes_stored));
                        json_object_set_new(o, "snapshot",
                                            e->snapshot[0] ? json_string(e->snapshot)
                                                           : json_null());
                        json_object_set_new(o, "error",
                                            e->error ? json_string(e->error) : json_null());
                        if (e->level[0])
                                json_object_set_new(o, "level", json_string(e->level));
                        json_object_set_new(o, "level_note",
                                            e->level_note ? json_string(e->level_note)
                                                          : json_null());
                        json_object_set_new(o, "recorded", json_false());
                }
}

/* Records a job's end, or keeps it until the catalog takes it: a job's recorded state must
 * never contradict what happened (a success read back later as "cancelled" or "queued"). */
static void record_end(YbDaemon *d, int64_t id, YbJobState state, int64_t now, uint64_t read,
                       uint64_t stored, const char *snapshot, const char *error, const char *level,
                       const char *level_note) {
        struct YbPendingEnd *e = new0(struct YbPendingEnd, 1), **p;
        int r;

        if (!e) {
                log_oom();
                return;
        }
        *e = (struct YbPendingEnd){ .id = id,
                                    .finished_usec = now,
                                    .state = state,
                                    .bytes_read = read,
                                    .bytes_stored = stored };
        snprintf(e->snapshot, sizeof(e->snapshot), "%s", snapshot ? snapshot : "");
        snprintf(e->level, sizeof(e->level), "%s", level ? level : "");
        e->error = error ? strdup(error) : NULL;
        e->level_note = level_note ? strdup(level_note) : NULL;
        /* Behind the ones still waiting, so that the catalog takes them in order. */
        r = d->pending_ends ? -EAGAIN : write_end(d, e);
        if (r >= 0) {
                pending_end_free(e);
                return;
        }
        if (r != -EAGAIN)
                log_error_errno(r,
                                "Job %" PRId64 " ended %s%s%s, but the catalog %s cannot record "
                                "it: %m. yunbakd keeps it in memory and tries again every "
                                "second; status shows the catalog as degraded until then.",
                                id, yb_job_state_to_string(state), snapshot ? ", snapshot " : "",
                                snapshot ? snapshot : "", d->config->catalog);
        for (p = &d->pending_ends; *p; p = &(*p)->next)
                ;
        *p = e;
        d->n_pending_ends++;
}

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
                record_end(d, j->id, YB_JOB_CANCELLED, yb_daemon_now(d), 0, 0, NULL,
                           "cancelled before it ran", NULL, NULL);
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

static void finish(YbDaemon *d, YbJob *j, const YbJobSpec *s, Outcome *o, YbJobSnapshot *rec,
                   int64_t started) {
        int64_t now = yb_daemon_now(d);
        YbSystem *sys = yb_daemon_system(d, j->system);
        char detail[3400];

        list_remove(&d->running, j);
        d->n_running--;
        if (o->retry && !j->cancelled && j->attempt <= d->config->retries && !d->stopping) {
                int64_t delay = d->config->retry_backoff_usec << MIN(j->attempt - 1, 20);
                int r;

                log_warning("Job %" PRId64 " (%s) attempt %d failed: %s. Retrying in %" PRId64
                            " s.",
                            j->id, j->system, j->attempt, o->error,
                            (int64_t) (delay / YB_USEC_PER_SEC));
                j->attempt++;
                j->not_before_usec = now + delay;
                r = yb_catalog_job_retry(d->catalog, j->id, j->attempt, o->error,
                                         j->not_before_usec);
                if (r < 0) {
                        /* The catalog still says running: say that it is degraded, and why. */
                        d->catalog_error = r;
                        log_error_errno(r,
                                        "Cannot record that job %" PRId64
                                        " waits to retry in the catalog: %m",
                                        j->id);
                }
                list_append(&d->delayed, j);
                snprintf(detail, sizeof(detail), "attempt %d: %s", j->attempt - 1, o->error);
                yb_daemon_audit(d, NULL, "job.retry", j->system, "failed", detail);
                yb_daemon_wake(d);
                return;
        }
        yb_job_snapshot_record(d, s, rec);
        record_end(d, j->id, o->state, now, o->bytes_read, o->bytes_stored,
                   o->snapshot[0] ? o->snapshot : NULL, o->error[0] ? o->error : NULL,
                   o->level[0] ? o->level : NULL, o->level_note[0] ? o->level_note : NULL);
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
        r = yb_job_spec_make(d, j->system, j->level, &s, o.error, sizeof(o.error));
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
        yb_job_snapshot_prune(&s, yb_daemon_now(d), &rec);
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
                        record_end(d, j->id, YB_JOB_CANCELLED, yb_daemon_now(d), 0, 0, NULL,
                                   "yunbakd stopped before the job ran", NULL, NULL);
                        job_free(j);
                }
        d->n_queued = 0;
        if (yb_jobs_flush_pending(d) > 0)
                for (struct YbPendingEnd *e = d->pending_ends; e; e = e->next)
                        log_error("Job %" PRId64 " ended %s%s%s%s%s, but the catalog %s could not "
                                  "record it before yunbakd stopped: this line is its record.",
                                  e->id, yb_job_state_to_string(e->state),
                                  e->snapshot[0] ? ", snapshot " : "", e->snapshot,
                                  e->error ? ": " : "", e->error ? e->error : "",
                                  d->config->catalog);
        while (d->pending_ends) {
                struct YbPendingEnd *e = d->pending_ends;

                d->pending_ends = e->next;
                pending_end_free(e);
        }
        d->n_pending_ends = 0;
        pthread_mutex_unlock(&d->lock);
}
