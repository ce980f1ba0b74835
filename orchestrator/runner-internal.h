/* orchestrator/runner-internal.h: what the job runner's files share, and no one else: one run's
 * state (OrchRun), its failure and stop messages and output collection (runner-result.c), and
 * the two transports yb_run (runner.c) dispatches to: runner-local.c and runner-ssh.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "orchestrator/runner.h"

/* The transports read at most this much at a time, into OrchRun.chunk. */
#define ORCH_RUN_READ_CHUNK ((size_t) 64 << 10)

/* One call of yb_run, from its start to its result. */
typedef struct OrchRun {
        YbRunResult *r;
        YbBuf out, err;
        uint8_t *chunk;   /* ORCH_RUN_READ_CHUNK bytes to read into */
        int64_t deadline; /* CLOCK_MONOTONIC usec when the timeout stops the command; INT64_MAX */
        int64_t timeout_usec;
        int64_t grace; /* usec from SIGTERM to SIGKILL */
        int cancel_fd;
        int stop;         /* why we stop the command: 0, -ETIMEDOUT, -ECANCELED or -EMSGSIZE */
        char where[300];  /* "host h:22: " over SSH, else "" */
        const char *what; /* argv[0], for messages */
} OrchRun;

/* a + b for b >= 0, at most INT64_MAX (a deadline that never comes). */
static inline int64_t orch_add_sat(int64_t a, int64_t b) {
        return b > INT64_MAX - a ? INT64_MAX : a + b;
}

/* poll()'s timeout for an absolute deadline (monotonic usec; INT64_MAX: none): rounded up, so
 * that we never wake just before it, and at most a minute. */
static inline int orch_poll_ms(int64_t until) {
        if (until == INT64_MAX)
                return -1;
        return MIN(yb_usec_to_ms_ceil(until - yb_monotonic_usec()), (int) (60 * YB_MSEC_PER_SEC));
}

/* Writes a duration for people ("3600 s", "1.5 s") into buf and returns buf. */
const char *orch_format_usec(int64_t usec, char buf[32]);

/* Sets r->error to run->where followed by the message (%m is |err|) and returns -|err|. */
int orch_run_fail(OrchRun *run, int err, const char *fmt, ...) _printf_(3, 4);

/* Records why the command is to be stopped (-ETIMEDOUT, -ECANCELED, -EMSGSIZE); the first
 * reason stays. */
void orch_run_request_stop(OrchRun *run, int why);

/* Fails the run with the message for a command we stopped (run->stop), extra appended, and
 * sets r->timed_out or r->cancelled. Returns run->stop. */
int orch_run_stop_fail(OrchRun *run, const char *extra);

/* Takes n bytes of the command's stdout (is_err false) or stderr: stdout up to YB_RUN_OUT_MAX
 * (past it the run is to stop with -EMSGSIZE), the end of stderr. Returns 0, or -ENOMEM through
 * orch_run_fail. */
int orch_run_collect(OrchRun *run, bool is_err, const void *data, size_t n);

/* Moves the collected output into the result, NUL-terminated. Returns 0 or -ENOMEM. */
int orch_run_finish_output(OrchRun *run);

/* The transports: run argv to its end (env[] as in yb_run, already checked), filling run->r's
 * exit status and run->out and run->err. Return 0 when it ran to an end, else -errno through
 * orch_run_fail or orch_run_stop_fail. */
int orch_run_local(OrchRun *run, char *const argv[], char *const env[]);
int orch_run_ssh(OrchRun *run, const YbRunTarget *t, char *const argv[], char *const env[]);
