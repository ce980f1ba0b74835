/* orchestrator/runner-ssh.c: yb_run on another host, over SSH (libssh2, non-blocking): the
 * connection, its handshake, the host key (orchestrator/known-hosts), publickey
 * authentication, the remote command under a wrapper that stops its process group when we
 * close the channel's stdin, and the loop that collects its output until the channel closes.
 */
#include "orchestrator/runner-ssh.h"

#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>

#include "core/base/log.h"
#include "core/base/shell.h"
#include "orchestrator/known-hosts.h"

/* Once we have asked the remote command to stop: how long beyond the grace we wait for the
 * channel to close before we give up on confirming its end. */
#define SSH_CLOSE_MARGIN_USEC (5 * YB_USEC_PER_SEC)

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;

static void ssh_init(void) {
        ssh_init_rc = libssh2_init(0);
}

typedef struct Ssh {
        OrchRun *run;
        const YbRunTarget *t;
        int port;
        int fd;
        LIBSSH2_SESSION *s;
        LIBSSH2_CHANNEL *ch;
        bool closed; /* the channel closed in order */
        int64_t connect_deadline;
        int64_t connect_timeout_usec;
} Ssh;

static const char *ssh_last_error(Ssh *x) {
        char *msg = NULL;

        if (!x->s)
                return "";
        libssh2_session_last_error(x->s, &msg, NULL, 0);
        return msg ? msg : "";
}

static bool ssh_rc_is_socket(int rc) {
        return rc == LIBSSH2_ERROR_SOCKET_DISCONNECT || rc == LIBSSH2_ERROR_SOCKET_SEND ||
               rc == LIBSSH2_ERROR_SOCKET_RECV || rc == LIBSSH2_ERROR_SOCKET_TIMEOUT ||
               rc == LIBSSH2_ERROR_TIMEOUT;
}

/* Waits until the socket is ready for what libssh2 waits for, until (monotonic usec), or the
 * cancel fd (when watch_cancel). Returns 0, -ETIMEDOUT or -ECANCELED. */
static int ssh_wait(Ssh *x, int64_t until, bool watch_cancel) {
        int dir = x->s ? libssh2_session_block_directions(x->s) : LIBSSH2_SESSION_BLOCK_OUTBOUND;
        struct pollfd p[2];
        nfds_t n = 1;

        p[0] = (struct pollfd){ .fd = x->fd, .events = 0 };
        if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
                p[0].events |= POLLIN;
        if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
                p[0].events |= POLLOUT;
        if (p[0].events == 0)
                p[0].events = POLLIN;
        if (watch_cancel && x->run->cancel_fd >= 0)
                p[n++] = (struct pollfd){ .fd = x->run->cancel_fd, .events = POLLIN };
        for (;;) {
                int k;

                if (until != INT64_MAX && yb_monotonic_usec() >= until)
                        return -ETIMEDOUT;
                k = poll(p, n, orch_poll_ms(until));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return negative_errno();
                if (n > 1 && p[1].revents)
                        return -ECANCELED;
                if (k > 0)
                        return 0;
        }
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

static void ssh_tune_socket(int fd) {
        int one = 1, idle = 60, intvl = 15, cnt = 4;
        unsigned timeout_ms = 150000;

        /* A dead host or a NAT that forgot us shows up within minutes, even while a long
         * backup prints nothing. */
        (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        (void) setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
        (void) setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout_ms, sizeof(timeout_ms));
}

static int ssh_connect(Ssh *x) {
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
        struct addrinfo *ai = NULL;
        int last = EHOSTUNREACH, r;
        char port[16];

        snprintf(port, sizeof(port), "%d", x->port);
        r = getaddrinfo(x->t->host, port, &hints, &ai);
        if (r != 0)
                return orch_run_fail(x->run, EHOSTUNREACH, "cannot resolve the host name: %s",
                                     r == EAI_SYSTEM ? strerror(errno) : gai_strerror(r));
        for (struct addrinfo *a = ai; a; a = a->ai_next) {
                int fd = socket(a->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
                                a->ai_protocol);
                socklen_t len = sizeof(last);
                int soerr = 0;

                if (fd < 0) {
                        last = errno;
                        continue;
                }
                x->fd = fd;
                if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno != EINPROGRESS) {
                        last = errno;
                        x->fd = safe_close(x->fd);
                        continue;
                }
                r = ssh_wait(x, ssh_setup_until(x), true);
                if (r < 0) {
                        freeaddrinfo(ai);
                        return ssh_establish_fail(x, r, "connecting");
                }
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
                        soerr = errno;
                if (soerr != 0) {
                        last = soerr;
                        x->fd = safe_close(x->fd);
                        continue;
                }
                freeaddrinfo(ai);
                ssh_tune_socket(fd);
                return 0;
        }
        freeaddrinfo(ai);
        if (last == ECONNREFUSED)
                return orch_run_fail(
                        x->run, ECONNREFUSED,
                        "connection refused (is sshd running and listening on port %d?)", x->port);
        return orch_run_fail(x->run, EHOSTUNREACH, "cannot connect: %s", strerror(last));
}

static int ssh_handshake(Ssh *x) {
        int rc;

        x->s = libssh2_session_init_ex(NULL, NULL, NULL, NULL);
        if (!x->s)
                return orch_run_fail(x->run, ENOMEM, "Out of memory starting an SSH session");
        libssh2_session_set_blocking(x->s, 0);
        while ((rc = libssh2_session_handshake(x->s, x->fd)) == LIBSSH2_ERROR_EAGAIN) {
                int r = ssh_wait(x, ssh_setup_until(x), true);

                if (r < 0)
                        return ssh_establish_fail(x, r, "in the SSH handshake");
        }
        if (rc == 0)
                return 0;
        if (ssh_rc_is_socket(rc) || rc == LIBSSH2_ERROR_BANNER_RECV)
                return orch_run_fail(x->run, ECONNREFUSED,
                                     "the connection was closed in the SSH handshake (%s): is this "
                                     "an SSH server?",
                                     ssh_last_error(x));
        return orch_run_fail(x->run, EPROTO, "the SSH handshake failed: %s", ssh_last_error(x));
}

static int ssh_check_host_key(Ssh *x) {
        char msg[sizeof(x->run->r->error)];
        int r = orch_known_hosts_check(x->s, x->t->known_hosts, x->t->host, x->port, msg,
                                       sizeof(msg));

        if (r < 0)
                return orch_run_fail(x->run, r, "%s", msg);
        return 0;
}

static int ssh_auth(Ssh *x) {
        const char *user = x->t->user, *key = x->t->key_file;
        _cleanup_close_ int fd = -EBADF;
        int rc;

        /* libssh2 says only "Unable to open private key file": ask the file system first. */
        fd = open(key, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return orch_run_fail(x->run, errno,
                                     "cannot read the SSH key '%s': %m; nothing was run", key);
        while ((rc = libssh2_userauth_publickey_fromfile_ex(x->s, user, (unsigned) strlen(user),
                                                            NULL, key, NULL)) ==
               LIBSSH2_ERROR_EAGAIN) {
                int r = ssh_wait(x, ssh_setup_until(x), true);

                if (r < 0)
                        return ssh_establish_fail(x, r, "authenticating");
        }
        switch (rc) {
        case 0:
                return 0;
        case LIBSSH2_ERROR_AUTHENTICATION_FAILED:
        case LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED:
                return orch_run_fail(
                        x->run, EPERM,
                        "the host refused user '%s' with the key '%s' (is its public key "
                        "in that account's authorized_keys?); nothing was run",
                        user, key);
        case LIBSSH2_ERROR_FILE:
        case LIBSSH2_ERROR_METHOD_NOT_SUPPORTED:
                return orch_run_fail(x->run, EINVAL,
                                     "cannot use the SSH key '%s' (%s): it must be an unencrypted "
                                     "private key in OpenSSH format; nothing was run",
                                     key, ssh_last_error(x));
        default:
                if (ssh_rc_is_socket(rc))
                        return orch_run_fail(x->run, ECONNRESET,
                                             "the connection was lost while authenticating (%s); "
                                             "nothing was run",
                                             ssh_last_error(x));
                return orch_run_fail(x->run, EPROTO, "authentication failed: %s; nothing was run",
                                     ssh_last_error(x));
        }
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

static int build_remote_command(char *const argv[], char *const env[], int grace_sec, char **ret) {
        char script[sizeof(WRAPPER_FMT) + 16];
        YbBuf b = YB_BUF_INIT;
        size_t size;
        int r;

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

        r = build_remote_command(argv, env, (int) grace_sec, &cmd);
        if (r < 0)
                return orch_run_fail(x->run, r, "Out of memory");
        while (!(x->ch = libssh2_channel_open_session(x->s))) {
                rc = libssh2_session_last_errno(x->s);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        return orch_run_fail(
                                x->run, ssh_rc_is_socket(rc) ? ECONNRESET : EPROTO,
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
                return orch_run_fail(x->run, ssh_rc_is_socket(rc) ? ECONNRESET : EPROTO,
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
                r = ssh_wait(x, run->stop ? give_up : run->deadline, !run->stop);
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
                libssh2_free(x->s, sig);
        } else {
                run->r->exit_status = libssh2_channel_get_exit_status(x->ch);
                run->r->signal = 0;
        }
        if (run->stop)
                return orch_run_stop_fail(run, "");
        return 0;
}

static void ssh_close(Ssh *x) {
        if (x->s) {
                libssh2_session_set_blocking(x->s, 1);
                libssh2_session_set_timeout(x->s, 1000);
                if (x->closed) {
                        /* Both sides are done: a polite goodbye costs nothing. */
                        libssh2_channel_free(x->ch);
                        libssh2_session_disconnect(x->s, "yunbak: done");
                } else if (x->fd >= 0)
                        /* Otherwise libssh2 would wait for a peer that may never answer (and
                         * give up without freeing): make every send and receive fail now. */
                        (void) shutdown(x->fd, SHUT_RDWR);
                libssh2_session_free(x->s);
                x->s = NULL;
        }
        x->fd = safe_close(x->fd);
}

int orch_run_ssh(OrchRun *run, const YbRunTarget *t, char *const argv[], char *const env[]) {
        Ssh x = {
                .run = run,
                .t = t,
                .port = t->port > 0 ? t->port : 22,
                .fd = -EBADF,
        };
        int r;

        pthread_once(&ssh_once, ssh_init);
        if (ssh_init_rc != 0)
                return orch_run_fail(run, EIO, "libssh2 failed to initialise (%d)", ssh_init_rc);
        x.connect_timeout_usec = t->connect_timeout_usec > 0 ? t->connect_timeout_usec
                                                             : YB_RUN_CONNECT_TIMEOUT_USEC_DEFAULT;
        x.connect_deadline = orch_add_sat(yb_monotonic_usec(), x.connect_timeout_usec);

        r = ssh_connect(&x);
        if (r >= 0)
                r = ssh_handshake(&x);
        if (r >= 0)
                r = ssh_check_host_key(&x);
        if (r >= 0)
                r = ssh_auth(&x);
        if (r >= 0)
                r = ssh_start(&x, argv, env);
        if (r >= 0)
                r = ssh_loop(&x);
        ssh_close(&x);
        return r;
}
