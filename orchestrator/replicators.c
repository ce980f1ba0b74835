/* orchestrator/replicators.c: supervising the replicators (orchestrator/replicators.h). One
 * thread per system with tier2 runs `yunbak-agent replicate` through yb_run_stream and reads its
 * JSON lines into the system's OrchRepl; between runs it waits out the backoff. The main loop
 * (yb_replicators_tick) matches the set to the policies, sends checkpoints and stops, and kills
 * a replicator that does not stop within STOP_BOUND_USEC. */
#include "orchestrator/replicators.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/job-spec.h"
#include "orchestrator/replicator-internal.h"
#include "orchestrator/runner.h"

/* Restarts wait 1 s, doubling up to 5 min; a run of 10 min or more starts the count afresh. */
#define BACKOFF_FIRST_USEC YB_USEC_PER_SEC
#define BACKOFF_MAX_USEC (5 * YB_USEC_PER_MINUTE)
#define BACKOFF_RESET_USEC (10 * YB_USEC_PER_MINUTE)
/* A replicator told to stop finishes the segment it writes; past this it is killed. */
#define STOP_BOUND_USEC (30 * YB_USEC_PER_SEC)
/* A line longer than this from a replicator is not one of its protocol's: dropped. */
#define LINE_MAX_BYTES ((size_t) 64 << 10)
/* Exit status 8: another replicator of the system runs (docs/replication.md). */
#define EXIT_BUSY 8

int yb_replicators_new(YbDaemon *d) {
        d->replicators = new0(YbReplicators, 1);
        return d->replicators ? 0 : -ENOMEM;
}

/* The replicator's stdin -------------------------------------------------------------------- */

static void send_command(OrchRepl *rp, const char *cmd) {
        char line[64];
        int n = snprintf(line, sizeof(line), "{\"cmd\":\"%s\"}\n", cmd);

        if (rp->input_w < 0)
                return;
        if (write(rp->input_w, line, (size_t) n) != n)
                log_warning("System '%s': cannot send the replicator the command '%s' (%s); it "
                            "is sent again when next due.",
                            rp->system, cmd,
                            errno == EAGAIN ? "its input is full" : strerror(errno));
}

static void eventfd_poke(int fd) {
        uint64_t one = 1;

        (void) !write(fd, &one, sizeof(one));
}

static void eventfd_drain(int fd) {
        uint64_t v;

        (void) !read(fd, &v, sizeof(v));
}

/* Asks the replicator to stop ({"cmd":"stop"}; killed past STOP_BOUND_USEC), then either ends
 * the thread (stop) or starts it again with the policy now in force (restart). */
static void request_stop(OrchRepl *rp, bool restart, const char *why) {
        if (restart)
                rp->restart = true;
        else {
                rp->stop = true;
                snprintf(rp->stop_why, sizeof(rp->stop_why), "%s", why);
        }
        send_command(rp, "stop");
        rp->kill_at = orch_add_sat(yb_monotonic_usec(), STOP_BOUND_USEC);
        eventfd_poke(rp->wake_fd);
}

/* The replicator's stdout: one JSON object a line ------------------------------------------- */

static const char *jstr(json_t *o, const char *key) {
        const char *s = json_string_value(json_object_get(o, key));

        return s ? s : "";
}

static int64_t jint(json_t *o, const char *key) {
        return json_integer_value(json_object_get(o, key));
}

static void on_event(OrchRepl *rp, json_t *o) {
        const char *event = jstr(o, "event");

        if (streq(event, "started")) {
                rp->started = true;
                rp->pid = (int) jint(o, "pid");
                snprintf(rp->capture, sizeof(rp->capture), "%s", jstr(o, "capture"));
                rp->watches = jint(o, "watches");
                log_info("System '%s': the replicator runs on host %s (pid %d, %s, %" PRId64
                         " watches), a segment every %" PRId64 " ms to store '%s'.",
                         rp->system, rp->host, rp->pid, rp->capture, rp->watches,
                         jint(o, "interval_ms"), rp->store);
        } else if (streq(event, "lag")) {
                json_t *why = json_object_get(o, "why");

                rp->have_report = true;
                rp->report_at = yb_monotonic_usec();
                rp->known = json_is_true(json_object_get(o, "known"));
                rp->lag_ms = MAX(jint(o, "lag_ms"), (int64_t) 0);
                rp->pending = jint(o, "pending");
                snprintf(rp->why, sizeof(rp->why), "%s",
                         json_is_string(why) ? json_string_value(why) : "");
                json_decref(rp->postgresql);
                rp->postgresql = json_is_object(json_object_get(o, "postgresql"))
                                         ? json_deep_copy(json_object_get(o, "postgresql"))
                                         : NULL;
        } else if (streq(event, "scan"))
                rp->scanning = streq(jstr(o, "state"), "running");
        else if (streq(event, "root")) {
                const char *state = jstr(o, "state");

                rp->root_running = streq(state, "running");
                if (streq(state, "done")) {
                        snprintf(rp->last_root, sizeof(rp->last_root), "%s", jstr(o, "id"));
                        log_info("System '%s': the replicator made chain root %s (%s, %s) in "
                                 "store '%s'.",
                                 rp->system, rp->last_root, jstr(o, "level"), jstr(o, "reason"),
                                 rp->store);
                }
                /* A new chain: an older one may go by tier2.retention now. */
                if (streq(state, "done") && !streq(jstr(o, "reason"), "start"))
                        rp->prune_due = true;
                if (streq(state, "failed"))
                        log_error("System '%s': the replicator could not make a new chain root "
                                  "(%s, %s) in store '%s': %s",
                                  rp->system, jstr(o, "level"), jstr(o, "reason"), rp->store,
                                  jstr(o, "message"));
        } else if (streq(event, "segment")) {
                rp->segments++;
                snprintf(rp->last_segment, sizeof(rp->last_segment), "%s", jstr(o, "id"));
                rp->last_segment_ns = jint(o, "finished_ns");
        } else if (streq(event, "store")) {
                bool down = !json_is_true(json_object_get(o, "reachable"));

                if (down != rp->store_unreachable) {
                        if (down)
                                log_warning("System '%s': the replicator cannot reach store "
                                            "'%s': %s. Changes wait on host %s; the lag shows it.",
                                            rp->system, rp->store, jstr(o, "message"), rp->host);
                        else
                                log_info("System '%s': the replicator reaches store '%s' again.",
                                         rp->system, rp->store);
                }
                rp->store_unreachable = down;
                snprintf(rp->store_message, sizeof(rp->store_message), "%s",
                         down ? jstr(o, "message") : "");
        } else if (streq(event, "error")) {
                log_warning("System '%s': the replicator on host %s: %s", rp->system, rp->host,
                            jstr(o, "message"));
                snprintf(rp->last_error, sizeof(rp->last_error), "%s", jstr(o, "message"));
        } else if (streq(event, "stopped"))
                log_info("System '%s': the replicator stopped (%s, status %" PRId64 ").",
                         rp->system, jstr(o, "reason"), jint(o, "status"));
}

static void on_line(OrchRepl *rp, bool is_err, const char *line) {
        YbDaemon *d = rp->d;

        if (!*line)
                return;
        if (is_err) {
                /* Its log, in ours with the system's name. */
                log_info("System '%s' replicator: %s", rp->system, line);
                pthread_mutex_lock(&d->lock);
                snprintf(rp->last_stderr, sizeof(rp->last_stderr), "%s", line);
                pthread_mutex_unlock(&d->lock);
                return;
        }
        json_error_t e;
        json_t *o = json_loads(line, 0, &e);

        if (!json_is_object(o)) {
                log_warning("System '%s': the replicator wrote a line that is not a JSON object "
                            "(%s): %.200s",
                            rp->system, e.text, line);
                json_decref(o);
                return;
        }
        pthread_mutex_lock(&d->lock);
        on_event(rp, o);
        pthread_mutex_unlock(&d->lock);
        json_decref(o);
}

/* yb_run_stream's output callback, on the thread: whole lines go on, the rest waits. */
static void on_output(void *userdata, bool is_err, const char *data, size_t n) {
        OrchRepl *rp = userdata;
        YbBuf *b = is_err ? &rp->line_err : &rp->line_out;

        for (size_t i = 0; i < n; i++) {
                if (data[i] != '\n') {
                        if (b->size < LINE_MAX_BYTES)
                                (void) yb_buf_append_u8(b, (uint8_t) data[i]);
                        continue;
                }
                if (yb_buf_append_u8(b, 0) >= 0 && b->size <= LINE_MAX_BYTES)
                        on_line(rp, is_err, (const char *) b->data);
                b->size = 0;
        }
}

/* The thread ---------------------------------------------------------------------------------- */

static void clear_run(OrchRepl *rp) {
        rp->started = false;
        rp->pid = 0;
        rp->scanning = rp->root_running = rp->store_unreachable = false;
        rp->store_message[0] = 0;
        rp->last_stderr[0] = 0;
        rp->last_error[0] = 0;
}

/* Records how the run ended and logs it. Under lock. */
static void run_ended(OrchRepl *rp, int r, const YbRunResult *res, int64_t ran_usec) {
        char how[64];

        rp->last_exit = r < 0 ? -1 : res->exit_status;
        rp->last_signal = r < 0 ? 0 : res->signal;
        if (r < 0)
                snprintf(rp->last_error, sizeof(rp->last_error), "%s", res->error);
        else if (!rp->last_error[0] && rp->last_stderr[0] && res->signal == 0 &&
                 res->exit_status != 0)
                /* What it said last before it failed: the reason, as a rule. */
                snprintf(rp->last_error, sizeof(rp->last_error), "%s", rp->last_stderr);
        if (rp->stop || rp->restart)
                return;
        if (r < 0)
                snprintf(how, sizeof(how), "could not run");
        else if (res->signal)
                snprintf(how, sizeof(how), "was killed by signal %d", res->signal);
        else
                snprintf(how, sizeof(how), "exited with status %d", res->exit_status);
        rp->backoff_usec = ran_usec >= BACKOFF_RESET_USEC || rp->backoff_usec == 0
                                   ? BACKOFF_FIRST_USEC
                                   : MIN(2 * rp->backoff_usec, BACKOFF_MAX_USEC);
        if (r >= 0 && res->exit_status == EXIT_BUSY)
                log_error("System '%s': another replicator of the system already runs on host %s "
                          "(%s); this one is tried again in %" PRId64 " s. Stop the other one "
                          "(yunbakd runs one per system).",
                          rp->system, rp->host, rp->last_error[0] ? rp->last_error : "exit 8",
                          (int64_t) (rp->backoff_usec / YB_USEC_PER_SEC));
        else
                log_error("System '%s': the replicator on host %s %s%s%s; restarting in %" PRId64
                          " s.",
                          rp->system, rp->host, how, rp->last_error[0] ? ": " : "", rp->last_error,
                          (int64_t) (rp->backoff_usec / YB_USEC_PER_SEC));
}

/* One run: the command line from the policy in force, the replicator until it ends. */
static void run_once(OrchRepl *rp) {
        YbDaemon *d = rp->d;
        _cleanup_(yb_job_spec_done) YbJobSpec spec = {};
        YbRunStream stream = { .on_output = on_output, .userdata = rp };
        YbRunResult res = {};
        char error[512] = "";
        int p[2] = { -1, -1 }, r;
        int64_t t0;

        pthread_mutex_lock(&d->lock);
        if (rp->stop) {
                /* Told to stop before it started. */
                pthread_mutex_unlock(&d->lock);
                return;
        }
        r = yb_replicate_spec_make(d, rp->system, &spec, error, sizeof(error));
        if (r >= 0 && pipe2(p, O_CLOEXEC) < 0)
                r = -errno;
        if (r >= 0 && fcntl(p[1], F_SETFL, O_NONBLOCK) < 0)
                r = -errno;
        if (r < 0) {
                if (!error[0])
                        snprintf(error, sizeof(error), "%s", strerror(-r));
                if (p[0] >= 0)
                        close(p[0]);
                if (p[1] >= 0)
                        close(p[1]);
                pthread_mutex_unlock(&d->lock);
                yb_run_result_done(&res);
                res.exit_status = -1;
                snprintf(res.error, sizeof(res.error), "%s", error);
                pthread_mutex_lock(&d->lock);
                run_ended(rp, -EINVAL, &res, 0);
                pthread_mutex_unlock(&d->lock);
                return;
        }
        clear_run(rp);
        rp->input_w = p[1];
        rp->running = true;
        rp->restart_at = 0;
        rp->run_started = t0 = yb_monotonic_usec();
        eventfd_drain(rp->cancel_fd);
        rp->cancelled = false;
        pthread_mutex_unlock(&d->lock);

        stream.input_fd = p[0];
        r = yb_run_stream(&spec.target, spec.argv, NULL, &stream, rp->cancel_fd, &res);
        close(p[0]);

        pthread_mutex_lock(&d->lock);
        if (rp->input_w >= 0)
                rp->input_w = safe_close(rp->input_w);
        rp->running = false;
        rp->started = false;
        run_ended(rp, r, &res, yb_monotonic_usec() - t0);
        pthread_mutex_unlock(&d->lock);
        rp->line_out.size = rp->line_err.size = 0;
        yb_run_result_done(&res);
}

static void *thread_main(void *userdata) {
        OrchRepl *rp = userdata;
        YbDaemon *d = rp->d;

        for (;;) {
                struct pollfd p = { .fd = rp->wake_fd, .events = POLLIN };
                int64_t wait;

                run_once(rp);
                pthread_mutex_lock(&d->lock);
                if (rp->stop)
                        break;
                if (rp->restart) {
                        rp->restart = false;
                        pthread_mutex_unlock(&d->lock);
                        continue;
                }
                rp->restarts++;
                rp->restart_at = orch_add_sat(yb_monotonic_usec(), rp->backoff_usec);
                rp->restart_at_wall = yb_daemon_now(d) + rp->backoff_usec;
                wait = rp->backoff_usec;
                pthread_mutex_unlock(&d->lock);
                eventfd_drain(rp->wake_fd);
                (void) poll(&p, 1, yb_usec_to_ms_ceil(wait));
                pthread_mutex_lock(&d->lock);
                if (rp->stop)
                        break;
                rp->restart = false;
                pthread_mutex_unlock(&d->lock);
        }
        rp->thread_done = true;
        rp->restart_at = 0;
        pthread_mutex_unlock(&d->lock);
        yb_daemon_wake(d);
        return NULL;
}

/* Matching the policies -------------------------------------------------------------------- */

static OrchRepl *repl_free(OrchRepl *rp) {
        if (!rp)
                return NULL;
        safe_close(rp->cancel_fd);
        safe_close(rp->wake_fd);
        safe_close(rp->input_w);
        free(rp->system);
        free(rp->store);
        free(rp->host);
        free(rp->config);
        free(rp->samples);
        json_decref(rp->postgresql);
        yb_buf_done(&rp->line_out);
        yb_buf_done(&rp->line_err);
        free(rp);
        return NULL;
}

static const char *strempty(const char *s) {
        return s ? s : "";
}

/* The command line and target of system's replicator as the policy in force makes them, joined
 * into one string: when it changes, the replicator is restarted. NULL when it cannot be made
 * (*error says why) or out of memory. */
static char *config_of(YbDaemon *d, const char *system, char *error, size_t error_size) {
        _cleanup_(yb_job_spec_done) YbJobSpec s = {};
        YbBuf b = YB_BUF_INIT;
        size_t size;
        int r;

        r = yb_replicate_spec_make(d, system, &s, error, error_size);
        if (r < 0)
                return NULL;
        r = yb_buf_printf(&b, "%d\n%s\n%s\n%d\n%s\n%s\n", s.target.local, strempty(s.target.user),
                          strempty(s.target.host), s.target.port, strempty(s.target.key_file),
                          strempty(s.target.known_hosts));
        for (size_t i = 0; r >= 0 && i < s.argc; i++)
                r = yb_buf_printf(&b, "%s\n", s.argv[i]);
        if (r >= 0)
                r = yb_buf_append_u8(&b, 0);
        if (r < 0) {
                yb_buf_done(&b);
                return NULL;
        }
        return (char *) yb_buf_steal(&b, &size);
}

/* Takes what status says of the policy: store, host, interval, max_lag, checkpoint. */
static int take_policy(YbDaemon *d, OrchRepl *rp, const YbPolicy *p, int64_t now) {
        char *store = strdup(p->tier2_store), *host = strdup(p->host);

        if (!store || !host) {
                free(store);
                free(host);
                return -ENOMEM;
        }
        free(rp->store);
        free(rp->host);
        rp->store = store;
        rp->host = host;
        rp->interval_usec = p->tier2_interval_usec;
        rp->max_lag_usec = p->tier2_max_lag_usec;
        if (!p->tier2_checkpoint ||
            yb_calendar_next(p->tier2_checkpoint, now, &rp->next_checkpoint_usec) < 0)
                rp->next_checkpoint_usec = INT64_MAX;
        if (rp->next_prune_usec == 0)
                rp->next_prune_usec = now + YB_USEC_PER_DAY;
        (void) d;
        return 0;
}

static int start_thread(YbDaemon *d, OrchRepl *rp) {
        int r;

        rp->stop = rp->restart = rp->thread_done = false;
        rp->stop_why[0] = 0;
        rp->backoff_usec = 0;
        r = -pthread_create(&rp->thread, NULL, thread_main, rp);
        if (r < 0)
                return log_error_errno(
                        r, "System '%s': cannot start a thread for its replicator: %m", rp->system);
        rp->thread_started = true;
        (void) d;
        return 0;
}

static OrchRepl *repl_new(YbDaemon *d, const char *system) {
        OrchRepl *rp = new0(OrchRepl, 1);

        if (!rp)
                return NULL;
        rp->d = d;
        rp->input_w = -1;
        rp->last_exit = -1;
        rp->line_out = (YbBuf) YB_BUF_INIT;
        rp->line_err = (YbBuf) YB_BUF_INIT;
        rp->system = strdup(system);
        rp->cancel_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        rp->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (!rp->system || rp->cancel_fd < 0 || rp->wake_fd < 0)
                return repl_free(rp);
        rp->next = d->replicators->list;
        d->replicators->list = rp;
        return rp;
}

/* One system of the policies in force: its replicator started, restarted for a changed
 * policy, or left as it is. */
static void sync_system(YbDaemon *d, const YbSystem *s, int64_t now) {
        OrchRepl *rp = orch_repl_find(d, s->policy->id);
        _cleanup_free_ char *config = NULL;
        char error[512] = "";

        if (!s->policy->tier2_store || yb_system_stopped(s)) {
                char why[256] = "the policy has no tier2 any more; its replicator was stopped at "
                                "the policy reload";

                if (s->policy->tier2_store)
                        yb_system_stopped_why(s, why, sizeof(why));
                if (rp && rp->wanted) {
                        rp->wanted = false;
                        if (rp->thread_started && !rp->stop)
                                request_stop(rp, false, why);
                        log_info("System '%s': %s: stopping its replicator.", s->policy->id,
                                 s->policy->tier2_store ? why : "its policy has no tier2 any more");
                }
                return;
        }
        if (!rp)
                rp = repl_new(d, s->policy->id);
        if (!rp || take_policy(d, rp, s->policy, now) < 0) {
                log_oom();
                return;
        }
        rp->wanted = true;
        config = config_of(d, s->policy->id, error, sizeof(error));
        if (!config && error[0])
                log_error("System '%s': its replicator cannot run: %s.", s->policy->id, error);
        if (d->test_clock) {
                snprintf(rp->stop_why, sizeof(rp->stop_why),
                         "yunbakd runs on the test clock (YUNBAKD_TEST_CLOCK): no replicator is "
                         "started");
                return;
        }
        if (rp->thread_started && !rp->stop && rp->config && config && !streq(rp->config, config)) {
                log_info("System '%s': its tier2 or sources changed: restarting its replicator "
                         "with the new policy.",
                         rp->system);
                request_stop(rp, true, "");
        }
        free(rp->config);
        rp->config = TAKE_PTR(config);
        if (!rp->thread_started)
                (void) start_thread(d, rp);
        else if (rp->stop && !rp->thread_done) {
                /* Stopped for a policy without tier2, and tier2 is back before it ended: it
                 * goes on as a restart. */
                rp->stop = false;
                rp->restart = true;
                rp->stop_why[0] = 0;
        }
}

static void sync_policies(YbDaemon *d, int64_t now) {
        for (size_t i = 0; i < d->n_systems; i++)
                sync_system(d, &d->systems[i], now);
        /* A system whose policy went: as one without tier2. */
        for (OrchRepl *rp = d->replicators->list; rp; rp = rp->next)
                if (rp->wanted && !yb_daemon_system(d, rp->system)) {
                        rp->wanted = false;
                        if (rp->thread_started && !rp->stop)
                                request_stop(rp, false,
                                             "the system has no policy any more; its replicator "
                                             "was stopped at the policy reload");
                }
}

/* Joins a thread that ended, and kills a replicator that does not stop in time. */
static void reap(OrchRepl *rp, int64_t mono) {
        if (!rp->thread_started)
                return;
        if (rp->thread_done) {
                pthread_join(rp->thread, NULL);
                rp->thread_started = false;
                return;
        }
        if ((rp->stop || rp->restart) && rp->running && !rp->cancelled && mono >= rp->kill_at) {
                log_warning("System '%s': the replicator on host %s did not stop within %" PRId64
                            " s of being told to: stopping it with SIGTERM.",
                            rp->system, rp->host, (int64_t) (STOP_BOUND_USEC / YB_USEC_PER_SEC));
                rp->cancelled = true;
                eventfd_poke(rp->cancel_fd);
        }
}

int64_t yb_replicators_tick(YbDaemon *d, int64_t now) {
        YbReplicators *set = d->replicators;
        int64_t mono = yb_monotonic_usec();

        if (!set)
                return INT64_MAX;
        if (set->generation != d->policy_generation) {
                set->generation = d->policy_generation;
                sync_policies(d, now);
        }
        for (OrchRepl *rp = set->list; rp; rp = rp->next) {
                reap(rp, mono);
                orch_repl_prune_reap(rp);
                if (rp->wanted && !d->test_clock && !rp->prune_running &&
                    (rp->prune_due || now >= rp->next_prune_usec)) {
                        (void) orch_repl_prune_start(d, rp,
                                                     rp->prune_due ? "a checkpoint" : "a day");
                        rp->prune_due = false;
                        rp->next_prune_usec = now + YB_USEC_PER_DAY;
                }
                if (rp->wanted && rp->running && !rp->stop && !rp->restart &&
                    now >= rp->next_checkpoint_usec) {
                        YbSystem *s = yb_daemon_system(d, rp->system);

                        log_info("System '%s': tier2.checkpoint is due: the replicator makes a "
                                 "new chain root.",
                                 rp->system);
                        send_command(rp, "checkpoint");
                        if (!s || !s->policy->tier2_checkpoint ||
                            yb_calendar_next(s->policy->tier2_checkpoint, now,
                                             &rp->next_checkpoint_usec) < 0)
                                rp->next_checkpoint_usec = INT64_MAX;
                }
                if (rp->wanted)
                        orch_repl_sample(d, rp, now, mono);
        }
        /* Once a second, on the second; never under the test clock, where no replicator runs and
         * time jumps from event to event. */
        if (d->test_clock || !set->list)
                return INT64_MAX;
        return now - now % YB_USEC_PER_SEC + YB_USEC_PER_SEC;
}

bool yb_replicators_alive(YbDaemon *d, const char *system) {
        const OrchRepl *rp = d->replicators ? orch_repl_find(d, system) : NULL;

        return rp && rp->thread_started && !rp->thread_done;
}

void yb_replicators_stop(YbDaemon *d) {
        YbReplicators *set;
        bool left;

        pthread_mutex_lock(&d->lock);
        set = d->replicators;
        if (!set) {
                pthread_mutex_unlock(&d->lock);
                return;
        }
        for (OrchRepl *rp = set->list; rp; rp = rp->next)
                if (rp->thread_started && !rp->stop)
                        request_stop(rp, false, "yunbakd stopped");
        do {
                int64_t mono = yb_monotonic_usec();

                left = false;
                for (OrchRepl *rp = set->list; rp; rp = rp->next) {
                        reap(rp, mono);
                        orch_repl_prune_reap(rp);
                        left |= rp->thread_started || rp->prune_running;
                }
                pthread_mutex_unlock(&d->lock);
                if (left)
                        (void) poll(NULL, 0, 50);
                pthread_mutex_lock(&d->lock);
        } while (left);
        for (OrchRepl *rp = set->list; rp; rp = rp->next)
                orch_repl_flush_hour(d, rp);
        d->replicators = NULL;
        pthread_mutex_unlock(&d->lock);
        while (set->list) {
                OrchRepl *rp = set->list;

                set->list = rp->next;
                repl_free(rp);
        }
        free(set);
}
