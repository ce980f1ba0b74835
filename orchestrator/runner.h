/* orchestrator/runner.h: the job runner's transport. Runs one command (yunbak-agent, a hook) to
 * its end, on this machine as a child process or on another host over SSH (libssh2), with a
 * timeout and cancellation, and collects its stdout, stderr and exit status.
 *
 * Thread-safe: any number of threads may call yb_run at once, each with its own YbRunResult.
 * Local runs need two things of the rest of the process: SIGCHLD is not set to SIG_IGN, and no
 * thread reaps children it did not start (waitpid(-1, ...)). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "orchestrator/run.h"

/* Runs argv with stdin from /dev/null and the environment additions env[] ("K=V",
 * NULL-terminated, may be NULL), and fills *r (which it clears first; free it with
 * yb_run_result_done whatever yb_run returns).
 *
 * Locally argv[0] is looked up in this process's PATH and the command runs in its own process
 * group with no fds but 0, 1 and 2; when it exits, whatever it left running in its process
 * group is killed. Over SSH the host key is checked against t->known_hosts before anything else
 * (an unknown, mismatching or revoked key is refused and nothing is run), then the argv is
 * quoted for the remote shell (yb_shell_quote) with env[] as an `env K=V` prefix, and run
 * under a small sh wrapper that kills the command's process group when the channel's stdin
 * closes: when we stop it, and when the connection drops.
 *
 * Stops the command after timeout_usec (0: none), when cancel_fd (an eventfd or a pipe's read
 * end, never read from here; -1: none) becomes readable, or when it writes more than
 * YB_RUN_OUT_MAX to stdout: SIGTERM to its process group, SIGKILL after the grace. yb_run then
 * waits for it to end (over SSH: for the channel to close, at most the grace and 5 s more).
 *
 * Returns 0 when the command ran to an end, whatever its exit status; or -errno when it could
 * not run or was stopped: -ETIMEDOUT (r->timed_out), -ECANCELED (r->cancelled), -EMSGSIZE,
 * -ENOENT for a program not found locally, -EHOSTUNREACH/-ECONNREFUSED when the host cannot be
 * reached (also when it does not answer within the connect timeout), -EPERM for a refused host
 * key or authentication, -ECONNRESET for a connection lost while the command ran, -EINVAL for
 * bad arguments. r->error then says what happened. */
int yb_run(const YbRunTarget *t, char *const argv[], char *const env[], int64_t timeout_usec,
           int cancel_fd, YbRunResult *r);

/* Runs argv as yb_run does, without a timeout, for a command that runs until it is told to stop
 * and talks while it runs (the replicator, orchestrator/replicators.h): its stdin is
 * s->input_fd, its output goes to s->on_output as it comes (r->out and r->err stay empty).
 * Over SSH it runs without yb_run's wrapper, so that it reads the channel itself: the end of
 * input_fd, or a dropped connection, is its EOF, and that is how it learns to stop. cancel_fd
 * stops it as in yb_run (over SSH: its stdin is closed, and yb_run_stream waits for the channel
 * to close as long as the grace and 5 s more). Returns as yb_run does. */
int yb_run_stream(const YbRunTarget *t, char *const argv[], char *const env[], const YbRunStream *s,
                  int cancel_fd, YbRunResult *r);
