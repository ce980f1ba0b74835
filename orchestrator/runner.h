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

#include "core/base/buf.h"
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

/* Appends s quoted for a POSIX shell: as it is when it holds only [A-Za-z0-9_./:@%+,-] (and is
 * not empty), else in single quotes. Returns 0 or -ENOMEM. */
int yb_shell_quote(YbBuf *out, const char *s);
