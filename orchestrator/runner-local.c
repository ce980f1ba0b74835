/* orchestrator/runner-local.c: yb_run on this machine. The command is a child process
 * (core/base/spawn) in its own process group, with stdin from /dev/null and our environment
 * plus the run's additions; this loop collects its output, watches the timeout, the cancel fd
 * and its end (through a pidfd where the kernel has them), and stops the whole group. */
#include "orchestrator/runner-local.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "core/base/log.h"
#include "core/base/spawn.h"

/* Without a pidfd (kernels before 5.3) the loop looks for the child's exit this often. */
#define EXIT_POLL_USEC (20 * YB_USEC_PER_MSEC)

static void set_exit(YbRunResult *r, int status) {
        if (WIFEXITED(status)) {
                r->exit_status = WEXITSTATUS(status);
                r->signal = 0;
        } else {
                r->exit_status = -1;
                r->signal = WTERMSIG(status);
        }
}

/* Once a stop is requested: SIGTERM to the process group, once, and SIGKILL after the grace. */
static void local_signal_stop(OrchRun *run, const YbChild *c, bool *termed, int64_t *kill_at) {
        if (!run->stop || *termed)
                return;
        *termed = true;
        (void) yb_child_kill(c, SIGTERM);
        *kill_at = orch_add_sat(yb_monotonic_usec(), run->grace);
}

/* Reads what fd has (until it would block). Closes it at EOF. */
static int local_drain(OrchRun *run, int *fd, bool is_err) {
        for (;;) {
                ssize_t n = read(*fd, run->chunk, ORCH_RUN_READ_CHUNK);
                int r;

                if (n > 0) {
                        r = orch_run_collect(run, is_err, run->chunk, (size_t) n);
                        if (r < 0)
                                return r;
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n < 0)
                        log_debug_errno(errno, "yb_run: reading the output of '%s': %m", run->what);
                *fd = safe_close(*fd);
                return 0;
        }
}

/* Runs until the child has ended and been reaped (c->pid is 0 then), or fails (then the
 * caller's yb_child_done kills and reaps it). */
static int local_loop(OrchRun *run, YbChild *c) {
        int64_t kill_at = INT64_MAX, linger_until = INT64_MAX;
        int *out_fd = &c->fd[STDOUT_FILENO], *err_fd = &c->fd[STDERR_FILENO];
        bool termed = false;

        for (;;) {
                struct pollfd p[4];
                int i_out = -1, i_err = -1, i_cancel = -1, r;
                int64_t now = yb_monotonic_usec(), until = INT64_MAX;
                bool reaped = c->pid == 0;
                nfds_t n = 0;

                if (reaped && *out_fd < 0 && *err_fd < 0)
                        return 0;
                if (reaped && now >= linger_until) {
                        /* Something that left the process group still holds the pipes. */
                        log_debug("yb_run: '%s' ended; its output is still open, not waiting",
                                  run->what);
                        return 0;
                }
                if (!reaped && now >= run->deadline)
                        orch_run_request_stop(run, -ETIMEDOUT);
                if (!reaped)
                        local_signal_stop(run, c, &termed, &kill_at);
                if (!reaped && now >= kill_at) {
                        (void) yb_child_kill(c, SIGKILL);
                        kill_at = INT64_MAX;
                }
                if (!reaped) {
                        int status;

                        r = yb_child_ended(c);
                        if (r < 0)
                                return orch_run_fail(run, r,
                                                     "Failed to wait for '%s' (pid %d): %m (did "
                                                     "something else in this process reap it?)",
                                                     run->what, (int) c->pid);
                        if (r > 0) {
                                /* Not reaped yet, so the process group's id cannot be reused:
                                 * kill what the command left running in it, then reap. */
                                (void) yb_child_kill(c, SIGKILL);
                                r = yb_child_wait(c, &status);
                                if (r < 0)
                                        return orch_run_fail(run, r, "Failed to reap '%s': %m",
                                                             run->what);
                                set_exit(run->r, status);
                                linger_until = orch_add_sat(now, run->grace);
                                continue;
                        }
                }

                if (*out_fd >= 0) {
                        i_out = (int) n;
                        p[n++] = (struct pollfd){ .fd = *out_fd, .events = POLLIN };
                }
                if (*err_fd >= 0) {
                        i_err = (int) n;
                        p[n++] = (struct pollfd){ .fd = *err_fd, .events = POLLIN };
                }
                if (run->cancel_fd >= 0 && !run->stop && !reaped) {
                        i_cancel = (int) n;
                        p[n++] = (struct pollfd){ .fd = run->cancel_fd, .events = POLLIN };
                }
                if (!reaped && c->pidfd >= 0)
                        p[n++] = (struct pollfd){ .fd = c->pidfd, .events = POLLIN };

                if (reaped)
                        until = linger_until;
                else {
                        if (!run->stop)
                                until = run->deadline;
                        until = MIN(until, kill_at);
                        if (c->pidfd < 0)
                                until = MIN(until, orch_add_sat(now, EXIT_POLL_USEC));
                }
                if (poll(p, n, orch_poll_ms(until)) < 0) {
                        if (errno == EINTR)
                                continue;
                        return orch_run_fail(run, errno, "Failed to wait for '%s': %m", run->what);
                }
                if (i_cancel >= 0 && p[i_cancel].revents)
                        orch_run_request_stop(run, -ECANCELED);
                if (i_out >= 0 && p[i_out].revents) {
                        r = local_drain(run, out_fd, false);
                        if (r < 0)
                                return r;
                }
                if (i_err >= 0 && p[i_err].revents) {
                        r = local_drain(run, err_fd, true);
                        if (r < 0)
                                return r;
                }
        }
}

int orch_run_local(OrchRun *run, char *const argv[], char *const env[]) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        _cleanup_free_ char **envp = yb_spawn_env(env, NULL);
        /* Its own process group (so that a stop reaches its children), and stdin from
         * /dev/null or the stream's input. */
        YbSpawnArgs a = {
                .argv = argv,
                .env = envp,
                .fd = { run->stream ? run->stream->input_fd : YB_SPAWN_NULL, YB_SPAWN_PIPE,
                        YB_SPAWN_PIPE },
                .group = YB_SPAWN_GROUP_NEW,
                .pidfd = true,
        };
        int r;

        if (!envp)
                return orch_run_fail(run, ENOMEM, "Out of memory starting '%s'", run->what);
        r = yb_spawn(&a, &c);
        if (r == -ENOENT && !strchr(argv[0], '/'))
                return orch_run_fail(run, ENOENT, "program '%s' not found in PATH (%s)", argv[0],
                                     getenv("PATH") ?: "unset");
        if (r < 0)
                return orch_run_fail(run, r, "Failed to start '%s': %m", argv[0]);
        if (c.pidfd < 0)
                log_debug("yb_run: no pidfd, looking for the exit every %lld ms",
                          EXIT_POLL_USEC / YB_USEC_PER_MSEC);

        /* Whatever fails, yb_child_done leaves no child behind. */
        r = local_loop(run, &c);
        if (r < 0)
                return r;
        if (run->stop)
                return orch_run_stop_fail(run, "");
        return 0;
}
