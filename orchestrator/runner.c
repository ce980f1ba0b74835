/* orchestrator/runner.c: yb_run, locally (posix_spawn, poll, pidfd) and over SSH (libssh2). */
#include "orchestrator/runner.h"

#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"

extern char **environ;

#define NSEC_PER_USEC 1000LL
#define NSEC_PER_MSEC 1000000LL
#define READ_CHUNK ((size_t) 64 << 10)
/* Over SSH, once we have asked the remote command to stop: how long beyond the grace we wait
 * for the channel to close before we give up on confirming its end. */
#define SSH_CLOSE_MARGIN_NS (5 * YB_NSEC_PER_SEC)
/* Without a pidfd (kernels before 5.3) the local loop looks for the child's exit this often. */
#define EXIT_POLL_NS (20 * NSEC_PER_MSEC)

typedef struct Run {
        YbRunResult *r;
        YbBuf out, err;
        uint8_t *chunk;   /* READ_CHUNK bytes to read into */
        int64_t deadline; /* CLOCK_MONOTONIC ns when the timeout stops the command; INT64_MAX */
        int64_t timeout_usec;
        int64_t grace; /* ns from SIGTERM to SIGKILL */
        int cancel_fd;
        int stop;         /* why we stop the command: 0, -ETIMEDOUT, -ECANCELED or -EMSGSIZE */
        char where[300];  /* "host h:22: " over SSH, else "" */
        const char *what; /* argv[0], for messages */
} Run;

static int64_t now_ns(void) {
        return yb_monotonic_ns();
}

static int64_t add_sat(int64_t a, int64_t b) {
        return b > INT64_MAX - a ? INT64_MAX : a + b;
}

static int64_t usec_to_ns(int64_t usec) {
        return usec > INT64_MAX / NSEC_PER_USEC ? INT64_MAX : usec * NSEC_PER_USEC;
}

/* poll()'s timeout for an absolute deadline: rounded up, so that we never wake just before it. */
static int poll_ms(int64_t until) {
        int64_t left = until - now_ns();

        if (until == INT64_MAX)
                return -1;
        if (left <= 0)
                return 0;
        return (int) MIN((left + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC, (int64_t) 60000);
}

/* "3600 s", "1.5 s" */
static const char *format_usec(int64_t usec, char buf[32]) {
        if (usec % 1000000 == 0)
                snprintf(buf, 32, "%lld s", (long long) (usec / 1000000));
        else
                snprintf(buf, 32, "%.3g s", (double) usec / 1e6);
        return buf;
}

/* Sets r->error to run->where followed by the message (%m is |err|) and returns -|err|. */
_printf_(3, 4) static int run_fail(Run *run, int err, const char *fmt, ...) {
        YbRunResult *r = run->r;
        size_t k = strlen(run->where);
        va_list ap;

        err = err < 0 ? -err : err;
        memcpy(r->error, run->where, MIN(k, sizeof(r->error) - 1));
        r->error[MIN(k, sizeof(r->error) - 1)] = '\0';
        k = strlen(r->error);
        errno = err;
        va_start(ap, fmt);
        vsnprintf(r->error + k, sizeof(r->error) - k, fmt, ap);
        va_end(ap);
        log_debug("yb_run: %s", r->error);
        return -err;
}

static bool fd_readable(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

static void request_stop(Run *run, int why) {
        if (run->stop == 0)
                run->stop = why;
}

/* The message for a command we stopped; returns run->stop. */
static int stop_fail(Run *run, const char *extra) {
        char t[32], g[32];

        format_usec(run->timeout_usec, t);
        format_usec(run->grace / NSEC_PER_USEC, g);
        switch (run->stop) {
        case -ETIMEDOUT:
                run->r->timed_out = true;
                return run_fail(run, ETIMEDOUT,
                                "'%s' did not end within the timeout of %s; it was stopped "
                                "(SIGTERM, SIGKILL after %s)%s",
                                run->what, t, g, extra);
        case -ECANCELED:
                run->r->cancelled = true;
                return run_fail(run, ECANCELED,
                                "'%s' was cancelled; it was stopped (SIGTERM, SIGKILL after %s)%s",
                                run->what, g, extra);
        default:
                assert(run->stop == -EMSGSIZE);
                return run_fail(run, EMSGSIZE,
                                "'%s' wrote more than %zu MiB to stdout; it was stopped%s",
                                run->what, YB_RUN_OUT_MAX >> 20, extra);
        }
}

/* stdout: kept up to YB_RUN_OUT_MAX; past it -EMSGSIZE, and later bytes are dropped. */
static int collect_out(Run *run, const void *data, size_t n) {
        size_t room = YB_RUN_OUT_MAX - run->out.size;
        int r;

        if (run->stop == -EMSGSIZE)
                return 0;
        r = yb_buf_append(&run->out, data, MIN(n, room));
        if (r < 0)
                return r;
        return n > room ? -EMSGSIZE : 0;
}

/* stderr: the last YB_RUN_ERR_KEEP bytes; the buffer grows to twice that between moves. */
static int collect_err(Run *run, const void *data, size_t n) {
        YbBuf *b = &run->err;
        int r = yb_buf_append(b, data, n);

        if (r < 0)
                return r;
        if (b->size > 2 * YB_RUN_ERR_KEEP) {
                memmove(b->data, b->data + b->size - YB_RUN_ERR_KEEP, YB_RUN_ERR_KEEP);
                b->size = YB_RUN_ERR_KEEP;
                run->r->err_truncated = true;
        }
        return 0;
}

static int collect(Run *run, bool is_err, const void *data, size_t n) {
        int r = is_err ? collect_err(run, data, n) : collect_out(run, data, n);

        if (r == -EMSGSIZE) {
                request_stop(run, -EMSGSIZE);
                return 0;
        }
        if (r < 0)
                return run_fail(run, r, "Out of memory collecting the output of '%s'", run->what);
        return 0;
}

/* Moves the collected output into the result, NUL-terminated. */
static int run_finish_output(Run *run) {
        YbRunResult *r = run->r;
        YbBuf *e = &run->err;

        if (e->size > YB_RUN_ERR_KEEP) {
                memmove(e->data, e->data + e->size - YB_RUN_ERR_KEEP, YB_RUN_ERR_KEEP);
                e->size = YB_RUN_ERR_KEEP;
                r->err_truncated = true;
        }
        if (yb_buf_append_u8(&run->out, 0) < 0 || yb_buf_append_u8(e, 0) < 0)
                return -ENOMEM;
        r->out = (char *) yb_buf_steal(&run->out, &r->out_size);
        r->out_size--;
        r->err = (char *) yb_buf_steal(e, &r->err_size);
        r->err_size--;
        return 0;
}

/* ---- Local ---- */

static int move_above_stdio(int *fd) {
        int n;

        if (*fd > STDERR_FILENO)
                return 0;
        /* With 0, 1 or 2 closed in this process a pipe could land there, and the dup2 onto the
         * same number in the child would keep O_CLOEXEC: move it out of the way. */
        n = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
        if (n < 0)
                return negative_errno();
        close(*fd);
        *fd = n;
        return 0;
}

/* A pipe whose read end (ours) is non-blocking; both ends O_CLOEXEC and above 2. */
static int make_pipe(int *ret_read, int *ret_write) {
        _cleanup_close_ int rd = -EBADF, wr = -EBADF;
        int p[2], r;

        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        rd = p[0];
        wr = p[1];
        r = move_above_stdio(&rd);
        if (r < 0)
                return r;
        r = move_above_stdio(&wr);
        if (r < 0)
                return r;
        if (fcntl(rd, F_SETFL, O_NONBLOCK) < 0)
                return negative_errno();
        *ret_read = TAKE_FD(rd);
        *ret_write = TAKE_FD(wr);
        return 0;
}

static size_t env_name_len(const char *e) {
        const char *eq = strchr(e, '=');

        return eq ? (size_t) (eq - e) : strlen(e);
}

static bool env_entry_valid(const char *e) {
        size_t n = env_name_len(e);

        if (n == 0 || e[n] != '=' || (e[0] >= '0' && e[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = e[i];

                if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '_'))
                        return false;
        }
        return true;
}

static bool env_has_name(char *const list[], size_t from, const char *e) {
        size_t n = env_name_len(e);

        for (size_t i = from; list && list[i]; i++)
                if (env_name_len(list[i]) == n && strncmp(list[i], e, n) == 0)
                        return true;
        return false;
}

/* environ with add[] applied (the strings are borrowed; the array is the caller's to free). */
static char **build_env(char *const add[]) {
        size_t n = 0, k = 0;
        char **v;

        for (char **e = environ; e && *e; e++)
                n++;
        for (size_t i = 0; add && add[i]; i++)
                n++;
        v = new0(char *, n + 1);
        if (!v)
                return NULL;
        for (char **e = environ; e && *e; e++)
                if (!env_has_name(add, 0, *e))
                        v[k++] = *e;
        for (size_t i = 0; add && add[i]; i++)
                if (!env_has_name(add, i + 1, add[i])) /* the last of a name wins */
                        v[k++] = add[i];
        return v;
}

static void set_exit(YbRunResult *r, const siginfo_t *si) {
        if (si->si_code == CLD_EXITED) {
                r->exit_status = si->si_status;
                r->signal = 0;
        } else {
                r->exit_status = -1;
                r->signal = si->si_status;
        }
}

/* Once a stop is requested: SIGTERM to the process group, once, and SIGKILL after the grace. */
static void local_signal_stop(Run *run, pid_t pid, bool *termed, int64_t *kill_at) {
        if (!run->stop || *termed)
                return;
        *termed = true;
        (void) kill(-pid, SIGTERM);
        *kill_at = add_sat(now_ns(), run->grace);
}

/* Reads what fd has (until it would block). Closes it at EOF. */
static int local_drain(Run *run, int *fd, bool is_err) {
        for (;;) {
                ssize_t n = read(*fd, run->chunk, READ_CHUNK);
                int r;

                if (n > 0) {
                        r = collect(run, is_err, run->chunk, (size_t) n);
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

/* Runs until the child has ended and been reaped (*reaped), or fails (then the caller kills
 * and reaps it). */
static int local_loop(Run *run, pid_t pid, int pidfd, int *out_fd, int *err_fd, bool *reaped) {
        int64_t kill_at = INT64_MAX, linger_until = INT64_MAX;
        bool termed = false;

        for (;;) {
                struct pollfd p[4];
                int i_out = -1, i_err = -1, i_cancel = -1, r;
                int64_t now = now_ns(), until = INT64_MAX;
                nfds_t n = 0;

                if (*reaped && *out_fd < 0 && *err_fd < 0)
                        return 0;
                if (*reaped && now >= linger_until) {
                        /* Something that left the process group still holds the pipes. */
                        log_debug("yb_run: '%s' ended; its output is still open, not waiting",
                                  run->what);
                        return 0;
                }
                if (!*reaped && now >= run->deadline)
                        request_stop(run, -ETIMEDOUT);
                if (!*reaped)
                        local_signal_stop(run, pid, &termed, &kill_at);
                if (!*reaped && now >= kill_at) {
                        (void) kill(-pid, SIGKILL);
                        kill_at = INT64_MAX;
                }
                if (!*reaped) {
                        siginfo_t si = { 0 };

                        if (waitid(P_PID, (id_t) pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                                return run_fail(run, errno,
                                                "Failed to wait for '%s' (pid %d): %m (did "
                                                "something else in this process reap it?)",
                                                run->what, (int) pid);
                        if (si.si_pid == pid) {
                                /* Not reaped yet, so the process group's id cannot be reused:
                                 * kill what the command left running in it, then reap. */
                                (void) kill(-pid, SIGKILL);
                                while (waitid(P_PID, (id_t) pid, &si, WEXITED) < 0)
                                        if (errno != EINTR)
                                                return run_fail(run, errno,
                                                                "Failed to reap '%s': %m",
                                                                run->what);
                                set_exit(run->r, &si);
                                *reaped = true;
                                linger_until = add_sat(now, run->grace);
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
                if (run->cancel_fd >= 0 && !run->stop && !*reaped) {
                        i_cancel = (int) n;
                        p[n++] = (struct pollfd){ .fd = run->cancel_fd, .events = POLLIN };
                }
                if (!*reaped && pidfd >= 0)
                        p[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };

                if (*reaped)
                        until = linger_until;
                else {
                        if (!run->stop)
                                until = run->deadline;
                        until = MIN(until, kill_at);
                        if (pidfd < 0)
                                until = MIN(until, add_sat(now, EXIT_POLL_NS));
                }
                if (poll(p, n, poll_ms(until)) < 0) {
                        if (errno == EINTR)
                                continue;
                        return run_fail(run, errno, "Failed to wait for '%s': %m", run->what);
                }
                if (i_cancel >= 0 && p[i_cancel].revents)
                        request_stop(run, -ECANCELED);
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

static int run_local(Run *run, char *const argv[], char *const env[]) {
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF,
                            pidfd = -EBADF;
        _cleanup_free_ char **envp = NULL;
        posix_spawn_file_actions_t fa;
        posix_spawnattr_t attr;
        sigset_t none, all;
        bool reaped = false;
        pid_t pid;
        int r;

        r = make_pipe(&out_r, &out_w);
        if (r >= 0)
                r = make_pipe(&err_r, &err_w);
        if (r < 0)
                return run_fail(run, r, "Failed to create a pipe for '%s': %m", run->what);
        envp = build_env(env);
        if (!envp)
                return run_fail(run, ENOMEM, "Out of memory starting '%s'", run->what);

        sigemptyset(&none);
        sigfillset(&all);
        r = posix_spawn_file_actions_init(&fa);
        if (r != 0)
                return run_fail(run, r, "Failed to start '%s': %m", run->what);
        r = posix_spawnattr_init(&attr);
        if (r != 0) {
                posix_spawn_file_actions_destroy(&fa);
                return run_fail(run, r, "Failed to start '%s': %m", run->what);
        }
        /* Its own process group (so that a stop reaches its children), default signal
         * dispositions and an empty mask whatever this daemon uses, stdin from /dev/null, and
         * no fd of ours but the two pipes, even one another library opened without O_CLOEXEC. */
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                                    POSIX_SPAWN_SETSIGDEF);
        if (r == 0)
                r = posix_spawnattr_setpgroup(&attr, 0);
        if (r == 0)
                r = posix_spawnattr_setsigmask(&attr, &none);
        if (r == 0)
                r = posix_spawnattr_setsigdefault(&attr, &all);
        if (r == 0)
                r = posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, out_w, STDOUT_FILENO);
        if (r == 0)
                r = posix_spawn_file_actions_adddup2(&fa, err_w, STDERR_FILENO);
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
        if (r == 0)
                r = posix_spawn_file_actions_addclosefrom_np(&fa, STDERR_FILENO + 1);
#endif
        if (r == 0)
                r = posix_spawnp(&pid, argv[0], &fa, &attr, argv, envp);
        posix_spawn_file_actions_destroy(&fa);
        posix_spawnattr_destroy(&attr);
        if (r == ENOENT && !strchr(argv[0], '/'))
                return run_fail(run, ENOENT, "program '%s' not found in PATH (%s)", argv[0],
                                getenv("PATH") ?: "unset");
        if (r != 0)
                return run_fail(run, r, "Failed to start '%s': %m", argv[0]);
        out_w = safe_close(out_w);
        err_w = safe_close(err_w);

        pidfd = pidfd_open(pid, 0);
        if (pidfd < 0) {
                log_debug_errno(errno, "yb_run: no pidfd (%m), looking for the exit every %lld ms",
                                EXIT_POLL_NS / NSEC_PER_MSEC);
                pidfd = -EBADF;
        }
        r = local_loop(run, pid, pidfd, &out_r, &err_r, &reaped);
        if (!reaped) {
                siginfo_t si;

                /* Never leave a child behind, whatever failed. */
                (void) kill(-pid, SIGKILL);
                while (waitid(P_PID, (id_t) pid, &si, WEXITED) < 0 && errno == EINTR)
                        ;
        }
        if (r < 0)
                return r;
        if (run->stop)
                return stop_fail(run, "");
        return 0;
}

/* ---- SSH ---- */

static pthread_once_t ssh_once = PTHREAD_ONCE_INIT;
static int ssh_init_rc;

static void ssh_init(void) {
        ssh_init_rc = libssh2_init(0);
}

typedef struct Ssh {
        Run *run;
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

/* Waits until the socket is ready for what libssh2 waits for, until (monotonic ns), or the
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

                if (until != INT64_MAX && now_ns() >= until)
                        return -ETIMEDOUT;
                k = poll(p, n, poll_ms(until));
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
        Run *run = x->run;
        char t[32];

        if (r == -ECANCELED) {
                run->r->cancelled = true;
                return run_fail(run, ECANCELED, "cancelled while %s; nothing was run", phase);
        }
        if (r == -ETIMEDOUT && run->deadline <= x->connect_deadline) {
                run->r->timed_out = true;
                return run_fail(run, ETIMEDOUT,
                                "the timeout of %s passed while %s; nothing was run",
                                format_usec(run->timeout_usec, t), phase);
        }
        if (r == -ETIMEDOUT)
                return run_fail(run, EHOSTUNREACH,
                                "no answer within %s (the connect timeout) while %s; nothing was "
                                "run",
                                format_usec(x->connect_timeout_usec, t), phase);
        return run_fail(run, r, "Failed to wait for the connection while %s: %m", phase);
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
                return run_fail(x->run, EHOSTUNREACH, "cannot resolve the host name: %s",
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
                return run_fail(x->run, ECONNREFUSED,
                                "connection refused (is sshd running and listening on port %d?)",
                                x->port);
        return run_fail(x->run, EHOSTUNREACH, "cannot connect: %s", strerror(last));
}

static int ssh_handshake(Ssh *x) {
        int rc;

        x->s = libssh2_session_init_ex(NULL, NULL, NULL, NULL);
        if (!x->s)
                return run_fail(x->run, ENOMEM, "Out of memory starting an SSH session");
        libssh2_session_set_blocking(x->s, 0);
        while ((rc = libssh2_session_handshake(x->s, x->fd)) == LIBSSH2_ERROR_EAGAIN) {
                int r = ssh_wait(x, ssh_setup_until(x), true);

                if (r < 0)
                        return ssh_establish_fail(x, r, "in the SSH handshake");
        }
        if (rc == 0)
                return 0;
        if (ssh_rc_is_socket(rc) || rc == LIBSSH2_ERROR_BANNER_RECV)
                return run_fail(x->run, ECONNREFUSED,
                                "the connection was closed in the SSH handshake (%s): is this "
                                "an SSH server?",
                                ssh_last_error(x));
        return run_fail(x->run, EPROTO, "the SSH handshake failed: %s", ssh_last_error(x));
}

static const char *hostkey_name(int type, int *ret_knownhost_bit) {
        switch (type) {
        case LIBSSH2_HOSTKEY_TYPE_RSA:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_SSHRSA;
                return "ssh-rsa";
        case LIBSSH2_HOSTKEY_TYPE_DSS:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_SSHDSS;
                return "ssh-dss";
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_256:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
                return "ecdsa-sha2-nistp256";
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_384:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
                return "ecdsa-sha2-nistp384";
        case LIBSSH2_HOSTKEY_TYPE_ECDSA_521:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
                return "ecdsa-sha2-nistp521";
        case LIBSSH2_HOSTKEY_TYPE_ED25519:
                *ret_knownhost_bit = LIBSSH2_KNOWNHOST_KEY_ED25519;
                return "ssh-ed25519";
        default:
                *ret_knownhost_bit = 0;
                return "unknown";
        }
}

typedef struct KnownLine {
        struct libssh2_knownhost *entry;
        unsigned line;
} KnownLine;

/* The n-th whitespace-separated field of line (0-based), NUL-terminated in place; NULL if
 * there are fewer. */
static char *field(char *line, unsigned n) {
        char *save = NULL, *f = strtok_r(line, " \t\r\n", &save);

        while (f && n-- > 0)
                f = strtok_r(NULL, " \t\r\n", &save);
        return f;
}

/* Reads known_hosts line by line so that a match can be named by its line, @revoked lines are
 * honoured (libssh2 does not know markers), and lines libssh2 cannot read (certificates, key
 * types it lacks) are skipped rather than failing the whole file: they can only fail to match.
 * Sets *ret_revoked to the line revoking key_b64, if any. */
static int ssh_read_known_hosts(Ssh *x, LIBSSH2_KNOWNHOSTS *kh, const char *key_b64,
                                KnownLine **ret_lines, size_t *ret_n, unsigned *ret_revoked) {
        const char *path = x->t->known_hosts;
        _cleanup_free_ KnownLine *lines = NULL;
        _cleanup_free_ char *buf = NULL;
        struct libssh2_knownhost *last = NULL, *e;
        size_t n = 0, alloc = 0, bufsize = 0;
        unsigned lineno = 0;
        ssize_t len;
        FILE *f;

        f = fopen(path, "re");
        if (!f)
                return run_fail(x->run, errno,
                                "cannot read the known hosts file '%s': %m; nothing was run", path);
        while ((len = getline(&buf, &bufsize, f)) >= 0) {
                char *s = buf;

                lineno++;
                while (*s == ' ' || *s == '\t')
                        s++;
                if (*s == '\0' || *s == '\n' || *s == '#')
                        continue;
                if (*s == '@') {
                        _cleanup_free_ char *copy = strdup(s), *copy2 = strdup(s);
                        const char *marker, *key;

                        if (!copy || !copy2) {
                                fclose(f);
                                return run_fail(x->run, ENOMEM, "Out of memory");
                        }
                        marker = field(copy, 0);
                        key = field(copy2, 3);
                        if (marker && streq(marker, "@revoked") && key && streq(key, key_b64))
                                *ret_revoked = lineno;
                        else
                                log_debug("yb_run: %s:%u: %s lines are not used", path, lineno,
                                          marker ? marker : "@");
                        continue;
                }
                if (libssh2_knownhost_readline(kh, s, strlen(s), LIBSSH2_KNOWNHOST_FILE_OPENSSH) <
                    0) {
                        log_debug("yb_run: %s:%u: skipped, libssh2 cannot read it (%s)", path,
                                  lineno, ssh_last_error(x));
                        continue;
                }
                while (libssh2_knownhost_get(kh, &e, last) == 0) {
                        if (n == alloc) {
                                size_t na = alloc ? alloc * 2 : 16;
                                KnownLine *nl = realloc(lines, na * sizeof(*nl));

                                if (!nl) {
                                        fclose(f);
                                        return run_fail(x->run, ENOMEM, "Out of memory");
                                }
                                lines = nl;
                                alloc = na;
                        }
                        lines[n++] = (KnownLine){ .entry = e, .line = lineno };
                        last = e;
                }
        }
        if (ferror(f)) {
                int err = errno;

                fclose(f);
                return run_fail(x->run, err, "cannot read the known hosts file '%s': %m", path);
        }
        fclose(f);
        *ret_lines = TAKE_PTR(lines);
        *ret_n = n;
        return 0;
}

static int ssh_check_host_key(Ssh *x) {
        const char *path = x->t->known_hosts, *tname;
        _cleanup_free_ KnownLine *lines = NULL;
        _cleanup_free_ char *key_b64 = NULL;
        struct libssh2_knownhost *found = NULL;
        LIBSSH2_KNOWNHOSTS *kh;
        const unsigned char *sha;
        unsigned revoked = 0;
        size_t len = 0, n = 0, b64len;
        const char *key;
        char fp[64];
        int type = 0, kbit, rc, r;

        key = libssh2_session_hostkey(x->s, &len, &type);
        sha = (const unsigned char *) libssh2_hostkey_hash(x->s, LIBSSH2_HOSTKEY_HASH_SHA256);
        if (!key || len == 0 || !sha)
                return run_fail(x->run, EPROTO, "the server sent no host key; nothing was run");
        strcpy(fp, "SHA256:");
        sodium_bin2base64(fp + 7, sizeof(fp) - 7, sha, 32,
                          sodium_base64_VARIANT_ORIGINAL_NO_PADDING);
        tname = hostkey_name(type, &kbit);
        if (kbit == 0)
                return run_fail(x->run, EPERM,
                                "the host key is of a type libssh2 cannot check (%s); nothing "
                                "was run",
                                fp);
        b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
        key_b64 = malloc(b64len);
        if (!key_b64)
                return run_fail(x->run, ENOMEM, "Out of memory");
        sodium_bin2base64(key_b64, b64len, (const unsigned char *) key, len,
                          sodium_base64_VARIANT_ORIGINAL);

        kh = libssh2_knownhost_init(x->s);
        if (!kh)
                return run_fail(x->run, ENOMEM, "Out of memory");
        r = ssh_read_known_hosts(x, kh, key_b64, &lines, &n, &revoked);
        if (r < 0) {
                libssh2_knownhost_free(kh);
                return r;
        }
        rc = libssh2_knownhost_checkp(
                kh, x->t->host, x->port, key, len,
                LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | kbit, &found);
        if (revoked) {
                libssh2_knownhost_free(kh);
                return run_fail(x->run, EPERM,
                                "the host key (%s %s) is revoked in %s:%u; nothing was run", tname,
                                fp, path, revoked);
        }
        if (rc == LIBSSH2_KNOWNHOST_CHECK_MATCH) {
                libssh2_knownhost_free(kh);
                return 0;
        }
        if (rc == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
                unsigned line = 0;

                for (size_t i = 0; i < n; i++)
                        if (lines[i].entry == found)
                                line = lines[i].line;
                libssh2_knownhost_free(kh);
                return run_fail(x->run, EPERM,
                                "host key (%s %s) does not match %s:%u: the host was reinstalled "
                                "or someone is in the way; check the fingerprint with its "
                                "administrators before changing that line; nothing was run",
                                tname, fp, path, line);
        }
        libssh2_knownhost_free(kh);
        if (rc == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND)
                return run_fail(x->run, EPERM,
                                "host key not in %s (%s %s); add it once its fingerprint is "
                                "confirmed (docs/operations.md, \"Remote hosts (SSH)\"); nothing "
                                "was run",
                                path, tname, fp);
        return run_fail(x->run, EPERM, "cannot check the host key (%s %s) against %s: %s", tname,
                        fp, path, ssh_last_error(x));
}

static int ssh_auth(Ssh *x) {
        const char *user = x->t->user, *key = x->t->key_file;
        _cleanup_close_ int fd = -EBADF;
        int rc;

        /* libssh2 says only "Unable to open private key file": ask the file system first. */
        fd = open(key, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return run_fail(x->run, errno, "cannot read the SSH key '%s': %m; nothing was run",
                                key);
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
                return run_fail(x->run, EPERM,
                                "the host refused user '%s' with the key '%s' (is its public key "
                                "in that account's authorized_keys?); nothing was run",
                                user, key);
        case LIBSSH2_ERROR_FILE:
        case LIBSSH2_ERROR_METHOD_NOT_SUPPORTED:
                return run_fail(x->run, EINVAL,
                                "cannot use the SSH key '%s' (%s): it must be an unencrypted "
                                "private key in OpenSSH format; nothing was run",
                                key, ssh_last_error(x));
        default:
                if (ssh_rc_is_socket(rc))
                        return run_fail(x->run, ECONNRESET,
                                        "the connection was lost while authenticating (%s); "
                                        "nothing was run",
                                        ssh_last_error(x));
                return run_fail(x->run, EPROTO, "authentication failed: %s; nothing was run",
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
        int64_t grace_sec =
                MIN(MAX((x->run->grace + YB_NSEC_PER_SEC - 1) / YB_NSEC_PER_SEC, 1LL), 86400LL);
        int rc, r;

        r = build_remote_command(argv, env, (int) grace_sec, &cmd);
        if (r < 0)
                return run_fail(x->run, r, "Out of memory");
        while (!(x->ch = libssh2_channel_open_session(x->s))) {
                rc = libssh2_session_last_errno(x->s);
                if (rc != LIBSSH2_ERROR_EAGAIN)
                        return run_fail(x->run, ssh_rc_is_socket(rc) ? ECONNRESET : EPROTO,
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
                return run_fail(x->run, EPERM,
                                "the host refused to run a command for user '%s'; nothing was run",
                                x->t->user);
        if (rc < 0)
                return run_fail(x->run, ssh_rc_is_socket(rc) ? ECONNRESET : EPROTO,
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
                return stop_fail(x->run,
                                 "; the connection closed before the host confirmed its end");
        return run_fail(x->run, ECONNRESET,
                        "the connection was lost while '%s' ran (%s); sshd stops it when it "
                        "notices",
                        x->run->what, ssh_last_error(x));
}

static int ssh_loop(Ssh *x) {
        Run *run = x->run;
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
                        n = libssh2_channel_read(x->ch, (char *) run->chunk, READ_CHUNK);
                        if (n > 0) {
                                r = collect(run, false, run->chunk, (size_t) n);
                                if (r < 0)
                                        return r;
                                progress = true;
                        } else if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
                                return ssh_lost(x, (int) n);
                        n = libssh2_channel_read_stderr(x->ch, (char *) run->chunk, READ_CHUNK);
                        if (n > 0) {
                                r = collect(run, true, run->chunk, (size_t) n);
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
                now = now_ns();
                if (!run->stop && now >= run->deadline)
                        request_stop(run, -ETIMEDOUT);
                if (run->stop) {
                        if (give_up == INT64_MAX)
                                give_up = add_sat(add_sat(now, run->grace), SSH_CLOSE_MARGIN_NS);
                        if (!eof_sent) {
                                int rc = libssh2_channel_send_eof(x->ch);

                                if (rc == 0)
                                        eof_sent = true;
                                else if (rc != LIBSSH2_ERROR_EAGAIN)
                                        return ssh_lost(x, rc);
                        }
                        if (now >= give_up)
                                return stop_fail(run, "; the host did not confirm its end in "
                                                      "time: check that it is gone");
                }
                r = ssh_wait(x, run->stop ? give_up : run->deadline, !run->stop);
                if (r == -ECANCELED)
                        request_stop(run, -ECANCELED);
                else if (r < 0 && r != -ETIMEDOUT)
                        return run_fail(run, r, "Failed to wait for the connection: %m");
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
                return stop_fail(run, "");
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

static int run_ssh(Run *run, const YbRunTarget *t, char *const argv[], char *const env[]) {
        Ssh x = {
                .run = run,
                .t = t,
                .port = t->port > 0 ? t->port : 22,
                .fd = -EBADF,
        };
        int r;

        pthread_once(&ssh_once, ssh_init);
        if (ssh_init_rc != 0)
                return run_fail(run, EIO, "libssh2 failed to initialise (%d)", ssh_init_rc);
        x.connect_timeout_usec = t->connect_timeout_usec > 0 ? t->connect_timeout_usec
                                                             : YB_RUN_CONNECT_TIMEOUT_USEC_DEFAULT;
        x.connect_deadline = add_sat(now_ns(), usec_to_ns(x.connect_timeout_usec));

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

/* ---- Both ---- */

void yb_run_result_done(YbRunResult *r) {
        if (!r)
                return;
        free(r->out);
        free(r->err);
        memset(r, 0, sizeof(*r));
}

int yb_run(const YbRunTarget *t, char *const argv[], char *const env[], int64_t timeout_usec,
           int cancel_fd, YbRunResult *r) {
        Run run = {
                .r = r,
                .out = YB_BUF_INIT,
                .err = YB_BUF_INIT,
                .deadline = INT64_MAX,
                .timeout_usec = timeout_usec,
                .cancel_fd = cancel_fd,
        };
        int k, q;

        assert(t);
        assert(argv);
        assert(r);
        memset(r, 0, sizeof(*r));
        r->exit_status = -1;
        run.what = argv[0] ? argv[0] : "";
        run.grace = usec_to_ns(t->kill_grace_usec > 0 ? t->kill_grace_usec
                                                      : YB_RUN_KILL_GRACE_USEC_DEFAULT);

        if (!t->local) {
                const char *h = t->host ? t->host : "";

                snprintf(run.where, sizeof(run.where),
                         strchr(h, ':') ? "host [%s]:%d: " : "host %s:%d: ", h,
                         t->port > 0 ? t->port : 22);
                if (!t->host || !*t->host || !t->user || !*t->user || !t->key_file ||
                    !t->known_hosts)
                        return run_fail(&run, EINVAL,
                                        "an SSH target needs a user, a host, a key file and a "
                                        "known hosts file");
                if (t->port < 0 || t->port > 65535)
                        return run_fail(&run, EINVAL, "port %d is out of range", t->port);
        }
        if (!argv[0] || !*argv[0])
                return run_fail(&run, EINVAL, "no command given");
        if (timeout_usec < 0)
                return run_fail(&run, EINVAL, "negative timeout");
        for (size_t i = 0; env && env[i]; i++)
                if (!env_entry_valid(env[i]))
                        return run_fail(&run, EINVAL,
                                        "environment entry '%s' is not NAME=VALUE (NAME of "
                                        "letters, digits and '_')",
                                        env[i]);
        if (!t->local && env && env[0] && strchr(argv[0], '='))
                /* `env` would take it for one more variable. */
                return run_fail(&run, EINVAL, "program name '%s' contains '='", argv[0]);

        if (timeout_usec > 0)
                run.deadline = add_sat(now_ns(), usec_to_ns(timeout_usec));
        if (cancel_fd >= 0 && fd_readable(cancel_fd)) {
                r->cancelled = true;
                return run_fail(&run, ECANCELED,
                                "'%s' was cancelled before it started; nothing was run", run.what);
        }
        run.chunk = malloc(READ_CHUNK);
        if (!run.chunk)
                return run_fail(&run, ENOMEM, "Out of memory");

        k = t->local ? run_local(&run, argv, env) : run_ssh(&run, t, argv, env);

        free(run.chunk);
        q = run_finish_output(&run);
        yb_buf_done(&run.out);
        yb_buf_done(&run.err);
        if (q < 0 && k >= 0)
                return run_fail(&run, q, "Out of memory");
        return k;
}

int yb_shell_quote(YbBuf *out, const char *s) {
        static const char safe[] = "_./:@%+,-";
        bool plain = *s != '\0';
        int r;

        for (const char *p = s; *p && plain; p++)
                plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                        (*p >= '0' && *p <= '9') || strchr(safe, *p);
        if (plain)
                return yb_buf_append(out, s, strlen(s));
        r = yb_buf_append_u8(out, '\'');
        for (const char *p = s; r >= 0 && *p; p++)
                r = *p == '\'' ? yb_buf_append(out, "'\\''", 4)
                               : yb_buf_append_u8(out, (uint8_t) *p);
        if (r >= 0)
                r = yb_buf_append_u8(out, '\'');
        return r;
}
