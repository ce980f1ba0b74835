/* orchestrator/runner-ssh.c: yb_run on another host, over SSH (libssh2, non-blocking): the
 * session (the connection, its handshake, the host key and publickey authentication:
 * core/store/ssh-session.h) worded as the runner's failures, the remote command under a wrapper
 * that stops its process group when we close the channel's stdin, and the loop that collects its
 * output until the channel closes.
 */
#include "orchestrator/runner-ssh.h"

#include <fcntl.h>
#include <libssh2.h>
#include <signal.h>
#include <stdio.h>

#include "core/base/log.h"
#include "core/base/shell.h"
#include "core/store/ssh-session.h"

/* Once we have asked the remote command to stop: how long beyond the grace we wait for the
 * channel to close before we give up on confirming its end. */
#define SSH_CLOSE_MARGIN_USEC (5 * YB_USEC_PER_SEC)
/* How often a stream's input is looked at (its commands are rare: a checkpoint, a stop). */
#define STREAM_INPUT_POLL_USEC (100 * YB_USEC_PER_MSEC)

typedef struct Ssh {
        OrchRun *run;
        const YbRunTarget *t;
        int port;
        YbSshSession ssh;
        LIBSSH2_CHANNEL *ch;
        bool closed; /* the channel closed in order */
        int64_t connect_deadline;
        int64_t connect_timeout_usec;
        /* A stream's input on its way to the channel: in[in_at..in_size) not yet sent; in_eof
         * once input_fd ended (the channel's EOF is then to be sent). */
        char in[4096];
        size_t in_at, in_size;
        bool in_open, in_eof;
} Ssh;

static const char *ssh_last_error(Ssh *x) {
        return yb_ssh_last_error(&x->ssh);
}

/* Waits as yb_ssh_wait does, until (monotonic usec). */
static int ssh_wait(Ssh *x, int64_t until, bool watch_cancel) {
        return yb_ssh_wait(&x->ssh, yb_usec_to_ns(until), watch_cancel);
}

/* A wait during connect, handshake, auth or channel setup ended without readiness: cancelled,
 * the run's timeout, or the connect timeout (the host is as good as unreachable). */
static int ssh_establish_fail(Ssh *x, int r, const char *phase) {
        OrchRun *run = x->run;
        char t[32];

        if (r == -ECANCELED) {
                run->r->cancelled = true;
                return orch_run_fail(run, ECANCELED, "cancelled while %s; nothing was run", phase);
        }
        if (r == -ETIMEDOUT && run->deadline <= x->connect_deadline) {
                run->r->timed_out = true;
                return orch_run_fail(run, ETIMEDOUT,
                                     "the timeout of %s passed while %s; nothing was run",
                                     orch_format_usec(run->timeout_usec, t), phase);
        }
        if (r == -ETIMEDOUT)
                return orch_run_fail(
                        run, EHOSTUNREACH,
                        "no answer within %s (the connect timeout) while %s; nothing was "
                        "run",
                        orch_format_usec(x->connect_timeout_usec, t), phase);
        return orch_run_fail(run, r, "Failed to wait for the connection while %s: %m", phase);
}

static int64_t ssh_setup_until(Ssh *x) {
        return MIN(x->connect_deadline, x->run->deadline);
}

/* A step of yb_ssh_* failed with r and why in msg: worded as the runner's failure. */
static int ssh_step_fail(Ssh *x, int r, const char *msg, const char *suffix) {
        if (r == -ETIMEDOUT || r == -ECANCELED)
                return ssh_establish_fail(x, r, msg);
        return orch_run_fail(x->run, r, "%s%s", msg, suffix);
}

/* The connection, the handshake, the host key and the login, in that order. */
static int ssh_establish(Ssh *x) {
        int64_t until = yb_usec_to_ns(ssh_setup_until(x));
        char msg[sizeof(x->run->r->error)];
        int r;

        r = yb_ssh_connect(&x->ssh, x->t->host, x->port, until, msg, sizeof(msg));
        if (r < 0)
                return ssh_step_fail(x, r, msg, "");
        r = yb_ssh_handshake(&x->ssh, until, msg, sizeof(msg));
        if (r < 0)
                return ssh_step_fail(x, r, msg, "");
        r = yb_ssh_check_host_key(&x->ssh, x->t->known_hosts, x->t->host, x->port, msg,
                                  sizeof(msg));
        if (r < 0)
                return ssh_step_fail(x, r, msg, "; nothing was run");
        r = yb_ssh_auth(&x->ssh, x->t->user, x->t->key_file, until, msg, sizeof(msg));
        if (r < 0)
                return ssh_step_fail(x, r, msg, "; nothing was run");
        return 0;
}

/* The remote command: sshd has made the login shell a session leader, so the process group
 * ($$'s, kill 0) holds the command and all it starts. The command runs in the background with
 * stdin from /dev/null; a watcher holds the channel's stdin (fd 3) and, when it reads EOF,
 * sends SIGTERM to the group, waits up to the grace while the command lives, then SIGKILL.
 * The channel's stdin closes when we send EOF (stop), when the connection drops, and when the
 * wrapper exits (sshd then closes it), which also kills what the command left behind. The
 * watcher's stdout and stderr go to /dev/null, so it never holds the channel open. A command
 * killed by signal N is reported as killed by N (the shell's 128+N re-raised). */
#define WRAPPER_FMT                                                                                \
        "exec 3<&0 </dev/null; \"$@\" 3<&- & c=$!; "                                               \
        "{ trap \"\" TERM; read -r x <&3; kill -TERM 0; i=0; "                                     \
        "while [ $i -lt %d ] && kill -0 $c; do sleep 1; i=$((i+1)); done; kill -KILL 0; } "        \
        ">/dev/null 2>&1 & exec 3<&-; wait $c 2>/dev/null; s=$?; "                                 \
        "if [ $s -gt 128 ] && [ $s -lt 160 ]; then ulimit -c 0; trap - $((s-128)); "               \
        "kill -$((s-128)) $$; fi; exit $s"

/* A stream's command reads the channel itself (its EOF is how it learns to stop), so it runs
 * without the wrapper: sshd ends its stdin when the connection drops. */
#define STREAM_SCRIPT "exec \"$@\""

static int build_remote_command(char *const argv[], char *const env[], int grace_sec, bool stream,
                                char **ret) {
        char script[sizeof(WRAPPER_FMT) + 16];
        YbBuf b = YB_BUF_INIT;
        size_t size;
        int r;

        snprintf(script, sizeof(script), "%s", stream ? STREAM_SCRIPT : WRAPPER_FMT);
        if (!stream)
                snprintf(script, sizeof(script), WRAPPER_FMT, grace_sec);
        r = yb_buf_printf(&b, "exec /bin/sh -c ");
        if (r >= 0)
                r = yb_shell_quote(&b, script);
        if (r >= 0)
                r = yb_buf_printf(&b, " yunbak-run");
        if (r >= 0 && env && env[0])
                r = yb_buf_printf(&b, " env");
        for (size_t i = 0; r >= 0 && env && env[i]; i++) {
                r = yb_buf_append_u8(&b, ' ');
                if (r >= 0)
                        r = yb_shell_quote(&b, env[i]);
        }
        for (size_t i = 0; r >= 0 && argv[i]; i++) {
                r = yb_buf_append_u8(&b, ' ');
                if (r >= 0)
                        r = yb_shell_quote(&b, argv[i]);
        }
        if (r >= 0)
                r = yb_buf_append_u8(&b, 0);
        if (r < 0) {
                yb_buf_done(&b);
                return r;
        }
        *ret = (char *) yb_buf_steal(&b, &size);
        return 0;
}

static int ssh_start(Ssh *x, char *const argv[], char *const env[]) {
        _cleanup_free_ char *cmd = NULL;
        /* Whole seconds for the wrapper's sleep 1 loop: at least 1, at most a day. */
        int64_t grace_sec = MIN(MAX((x->run->grace + YB_USEC_PER_SEC - 1) / YB_USEC_PER_SEC, 1LL),
                                YB_SEC_PER_DAY);
        int rc, r;

        r = build_remote_command(argv, env, (int) grace_sec, x->run->stream != NULL, &cmd);
        if (r < 0)
                return orch_run_fail(x->run, r, "Out of memory");
        while (!(x->ch = libssh2_channel_open_session(x->ssh.s))) {
                rc = libssh2_session_last_errno(x->ssh.s);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        return orch_run_fail(
                                x->run, yb_ssh_rc_is_socket(rc) ? ECONNRESET : EPROTO,
                                "cannot open an SSH session channel: %s; nothing was run",
                                ssh_last_error(x));
                r = ssh_wait(x, ssh_setup_until(x), true);
                if (r < 0)
                        return ssh_establish_fail(x, r, "opening a session");
        }
        while ((rc = libssh2_channel_exec(x->ch, cmd)) == LIBSSH2_ERROR_EAGAIN) {
                r = ssh_wait(x, ssh_setup_until(x), true);
                if (r < 0)
                        return ssh_establish_fail(x, r, "starting the command");
        }
        if (rc == LIBSSH2_ERROR_CHANNEL_REQUEST_DENIED)
                return orch_run_fail(
                        x->run, EPERM,
                        "the host refused to run a command for user '%s'; nothing was run",
                        x->t->user);
        if (rc < 0)
                return orch_run_fail(x->run, yb_ssh_rc_is_socket(rc) ? ECONNRESET : EPROTO,
                                     "cannot start the command: %s", ssh_last_error(x));
        return 0;
}

static int signal_from_name(const char *name) {
        static const struct {
                const char *name;
                int sig;
        } table[] = {
                { "ABRT", SIGABRT }, { "ALRM", SIGALRM }, { "BUS", SIGBUS },   { "FPE", SIGFPE },
                { "HUP", SIGHUP },   { "ILL", SIGILL },   { "INT", SIGINT },   { "KILL", SIGKILL },
                { "PIPE", SIGPIPE }, { "QUIT", SIGQUIT }, { "SEGV", SIGSEGV }, { "TERM", SIGTERM },
                { "USR1", SIGUSR1 }, { "USR2", SIGUSR2 }, { "TRAP", SIGTRAP }, { "SYS", SIGSYS },
                { "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ },
        };

        for (size_t i = 0; i < ELEMENTSOF(table); i++)
                if (streq(name, table[i].name))
                        return table[i].sig;
        return -1;
}

/* The connection failed while the command ran (rc from libssh2). */
static int ssh_lost(Ssh *x, int rc) {
        if (x->run->stop)
                return orch_run_stop_fail(
                        x->run, "; the connection closed before the host confirmed its end");
        return orch_run_fail(x->run, ECONNRESET,
                             "the connection was lost while '%s' ran (%s); sshd stops it when it "
                             "notices",
                             x->run->what, ssh_last_error(x));
}

/* A stream's input: what input_fd has, sent on the channel as far as it takes it, and the
 * channel's EOF once input_fd ends. Returns 0, or -errno through ssh_lost. */
static int ssh_forward_input(Ssh *x) {
        for (;;) {
                ssize_t n;

                if (x->in_at < x->in_size) {
                        n = libssh2_channel_write(x->ch, x->in + x->in_at, x->in_size - x->in_at);
                        if (n == LIBSSH2_ERROR_EAGAIN)
                                return 0;
                        if (n < 0)
                                return ssh_lost(x, (int) n);
                        x->in_at += (size_t) n;
                        continue;
                }
                if (x->in_eof) {
                        int rc = libssh2_channel_send_eof(x->ch);

                        if (rc == LIBSSH2_ERROR_EAGAIN)
                                return 0;
                        if (rc < 0)
                                return ssh_lost(x, rc);
                        x->in_open = false; /* done with the input */
                        return 0;
                }
                n = read(x->run->stream->input_fd, x->in, sizeof(x->in));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return 0;
                if (n <= 0)
                        x->in_eof = true; /* an error reading our own pipe ends it too */
                else {
                        x->in_at = 0;
                        x->in_size = (size_t) n;
                }
        }
}

static int ssh_loop(Ssh *x) {
        OrchRun *run = x->run;
        int64_t give_up = INT64_MAX;
        bool eof_sent = false;
        char *sig = NULL;
        size_t siglen = 0;

        for (;;) {
                bool progress;
                int64_t now;
                int r;

                /* Everything libssh2 has for us on both streams, until it would block. */
                do {
                        ssize_t n;

                        progress = false;
                        n = libssh2_channel_read(x->ch, (char *) run->chunk, ORCH_RUN_READ_CHUNK);
                        if (n > 0) {
                                r = orch_run_collect(run, false, run->chunk, (size_t) n);
                                if (r < 0)
                                        return r;
                                progress = true;
                        } else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
                                return ssh_lost(x, (int) n);
                        n = libssh2_channel_read_stderr(x->ch, (char *) run->chunk,
                                                        ORCH_RUN_READ_CHUNK);
                        if (n > 0) {
                                r = orch_run_collect(run, true, run->chunk, (size_t) n);
                                if (r < 0)
                                        return r;
                                progress = true;
                        } else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
                                return ssh_lost(x, (int) n);
                } while (progress);

                if (libssh2_channel_eof(x->ch)) {
                        /* The output is closed; the end is the channel's close, after which the
                         * exit status is known. */
                        int rc = libssh2_channel_wait_closed(x->ch);

                        if (rc == 0)
                                break;
                        if (rc != LIBSSH2_ERROR_EAGAIN)
                                return ssh_lost(x, rc);
                }
                if (x->in_open && !run->stop) {
                        r = ssh_forward_input(x);
                        if (r < 0)
                                return r;
                }
                now = yb_monotonic_usec();
                if (!run->stop && now >= run->deadline)
                        orch_run_request_stop(run, -ETIMEDOUT);
                if (run->stop) {
                        if (give_up == INT64_MAX)
                                give_up = orch_add_sat(orch_add_sat(now, run->grace),
                                                       SSH_CLOSE_MARGIN_USEC);
                        if (!eof_sent) {
                                int rc = libssh2_channel_send_eof(x->ch);

                                if (rc == 0)
                                        eof_sent = true;
                                else if (rc != LIBSSH2_ERROR_EAGAIN)
                                        return ssh_lost(x, rc);
                        }
                        if (now >= give_up)
                                return orch_run_stop_fail(run,
                                                          "; the host did not confirm its end in "
                                                          "time: check that it is gone");
                }
                /* A stream's input is looked at every STREAM_INPUT_POLL_USEC: the channel's
                 * socket is all libssh2 lets us wait for. */
                r = ssh_wait(x,
                             MIN(run->stop ? give_up : run->deadline,
                                 x->in_open && !run->stop
                                         ? orch_add_sat(now, STREAM_INPUT_POLL_USEC)
                                         : INT64_MAX),
                             !run->stop);
                if (r == -ECANCELED)
                        orch_run_request_stop(run, -ECANCELED);
                else if (r < 0 && r != -ETIMEDOUT)
                        return orch_run_fail(run, r, "Failed to wait for the connection: %m");
        }

        x->closed = true;
        libssh2_channel_get_exit_signal(x->ch, &sig, &siglen, NULL, NULL, NULL, NULL);
        if (sig) {
                run->r->exit_status = -1;
                run->r->signal = signal_from_name(sig);
                libssh2_free(x->ssh.s, sig);
        } else {
                run->r->exit_status = libssh2_channel_get_exit_status(x->ch);
                run->r->signal = 0;
        }
        if (run->stop)
                return orch_run_stop_fail(run, "");
        return 0;
}

static void ssh_close(Ssh *x) {
        if (x->ssh.s && x->closed) {
                /* Both sides are done: a polite goodbye costs nothing. */
                libssh2_session_set_blocking(x->ssh.s, 1);
                libssh2_session_set_timeout(x->ssh.s, 1000);
                libssh2_channel_free(x->ch);
        }
        yb_ssh_close(&x->ssh, x->closed);
}

int orch_run_ssh(OrchRun *run, const YbRunTarget *t, char *const argv[], char *const env[]) {
        Ssh x = {
                .run = run,
                .t = t,
                .port = t->port > 0 ? t->port : 22,
                .ssh = YB_SSH_SESSION_INIT,
        };
        char init_err[640];
        int r;

        x.ssh.cancel_fd = run->cancel_fd;
        x.in_open = run->stream != NULL;
        /* We read the input here, between reads of the channel: never waiting for it. */
        if (x.in_open && fcntl(run->stream->input_fd, F_SETFL,
                               fcntl(run->stream->input_fd, F_GETFL) | O_NONBLOCK) < 0)
                return orch_run_fail(run, errno, "Failed to read the command's input: %m");
        r = yb_ssh_global_init(init_err, sizeof(init_err));
        if (r < 0)
                return orch_run_fail(run, -r, "%s", init_err);
        x.connect_timeout_usec = t->connect_timeout_usec > 0 ? t->connect_timeout_usec
                                                             : YB_RUN_CONNECT_TIMEOUT_USEC_DEFAULT;
        x.connect_deadline = orch_add_sat(yb_monotonic_usec(), x.connect_timeout_usec);

        r = ssh_establish(&x);
        if (r >= 0)
                r = ssh_start(&x, argv, env);
        if (r >= 0)
                r = ssh_loop(&x);
        ssh_close(&x);
        return r;
}
