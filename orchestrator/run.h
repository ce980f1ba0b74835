/* orchestrator/run.h: one run of a command by the job runner (runner.h): what it is given
 * (YbRunTarget), what it gives back (YbRunResult), and, for the transports only
 * (runner-local.c, runner-ssh.c), the state they share while it runs (OrchRun) with its failure
 * and stop messages and its output collection. Implemented in run.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"

/* stdout is collected up to this size; a command that writes more is stopped (-EMSGSIZE). */
#define YB_RUN_OUT_MAX ((size_t) 16 << 20)
/* Of stderr, the last this many bytes are kept. */
#define YB_RUN_ERR_KEEP ((size_t) 64 << 10)
/* Defaults for the fields of YbRunTarget that are 0. */
#define YB_RUN_CONNECT_TIMEOUT_USEC_DEFAULT (15 * YB_USEC_PER_SEC)
#define YB_RUN_KILL_GRACE_USEC_DEFAULT (5 * YB_USEC_PER_SEC)

typedef struct YbRunTarget {
        bool local; /* run here as a child process; the ssh fields are ignored */
        /* ssh: the remote account, host (a name or address, as written in known_hosts) and port
         * (0: 22). The account's login shell must be a POSIX shell. */
        const char *user, *host;
        int port;
        const char *key_file; /* private key for publickey auth (OpenSSH format, unencrypted) */
        const char
                *known_hosts; /* OpenSSH known_hosts file: the host key MUST match, else refuse */
        /* ssh: the TCP connection, SSH handshake and authentication together must not take
         * longer than this (0: YB_RUN_CONNECT_TIMEOUT_USEC_DEFAULT). */
        int64_t connect_timeout_usec;
        /* When the command is stopped: how long after SIGTERM SIGKILL follows (0:
         * YB_RUN_KILL_GRACE_USEC_DEFAULT; over SSH rounded up to whole seconds). */
        int64_t kill_grace_usec;
} YbRunTarget;

/* A command that runs for long and talks while it runs (yb_run_stream): what it reads and what
 * is done with what it writes. */
typedef struct YbRunStream {
        /* The command's stdin: the read end of a pipe whose write end the caller keeps (over
         * SSH it is made non-blocking); closing that end is the command's EOF. Locally the command
         * gets this fd itself; over SSH what it yields is sent on the channel, and its EOF is the
         * channel's. */
        int input_fd;
        /* Called with each piece of the command's stdout (is_err false) or stderr as it comes,
         * from the thread that runs yb_run_stream; nothing of it is collected in the result. */
        void (*on_output)(void *userdata, bool is_err, const char *data, size_t n);
        void *userdata;
} YbRunStream;

typedef struct YbRunResult {
        int exit_status; /* 0..255 when the command exited, else -1 */
        int signal;      /* the signal that ended it, or 0 (-1: a remote signal of unknown name) */
        bool timed_out, cancelled;
        char *out; /* stdout, NUL-terminated (not counted in out_size), capped at YB_RUN_OUT_MAX */
        size_t out_size;
        char *err; /* the last YB_RUN_ERR_KEEP bytes of stderr, NUL-terminated */
        size_t err_size;
        bool err_truncated; /* stderr was longer; err holds its end */
        /* When yb_run fails: what went wrong, for people, naming the program or the host:
         * "host 10.0.0.5:22: host key not in /etc/yunbak/known_hosts (ssh-ed25519 SHA256:...)". */
        char error[512];
} YbRunResult;

/* Frees out and err and clears *r. Accepts a result yb_run never filled (all zero). */
void yb_run_result_done(YbRunResult *r);

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
        const YbRunStream *stream; /* yb_run_stream: stdin and output as they come; else NULL */
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
 * (past it the run is to stop with -EMSGSIZE), the end of stderr; for a stream, hands them to
 * its on_output. Returns 0, or -ENOMEM through
 * orch_run_fail. */
int orch_run_collect(OrchRun *run, bool is_err, const void *data, size_t n);

/* Moves the collected output into the result, NUL-terminated. Returns 0 or -ENOMEM. */
int orch_run_finish_output(OrchRun *run);
