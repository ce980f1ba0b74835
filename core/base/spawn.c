/* core/base/spawn.c: yb_spawn and the end of a child. fork() and exec, with a pipe that carries
 * a failure of the child's setup or exec back to us (as posix_spawn does), so that a missing
 * program is an error here and not an exit status 127. posix_spawn itself cannot set a parent
 * death signal, nor say which standard fd an fd of ours becomes when the numbers overlap. */
#include "core/base/spawn.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"

extern char **environ;

#define NSEC_PER_MSEC 1000000LL
/* Without a pidfd, yb_child_stop looks for the child's end this often. */
#define EXIT_POLL_NS (20 * NSEC_PER_MSEC)
/* How long yb_child_stop waits for the rest of a SIGKILLed group to die (a process in
 * uninterruptible sleep, on a hung mount, may take longer: it is then logged). */
#define GROUP_DRAIN_NS (5000 * NSEC_PER_MSEC)
#define GROUP_POLL_NS (2 * NSEC_PER_MSEC)

/* All the child needs, made before fork(): in a threaded process the child may only call
 * async-signal-safe functions until it execs (no malloc, no getenv, no stdio). */
typedef struct Plan {
        const YbSpawnArgs *a;
        char **paths;     /* the files to try, in order; NULL-terminated */
        bool search;      /* from PATH: a file that is missing or not ours to run is skipped */
        char *const *env; /* never NULL */
        int src[3];       /* what becomes 0, 1 and 2 */
        int status_fd;    /* the write end of the status pipe, above 2 */
        long max_fd;      /* for closing fds where close_range() is missing */
        pid_t parent;
} Plan;

static void strv_freep(char ***p) {
        for (char **s = *p; s && *s; s++)
                free(*s);
        free(*p);
}

/* The files to try for program: itself when it has a '/', else each PATH entry's (an empty
 * entry is the current directory, as for execvp). */
static int plan_paths(const char *program, char ***ret, bool *ret_search) {
        _cleanup_(strv_freep) char **v = NULL;
        const char *path, *p;
        size_t n = 1, k = 0;

        if (strchr(program, '/')) {
                v = new0(char *, 2);
                if (!v || !(v[0] = strdup(program)))
                        return -ENOMEM;
                *ret = TAKE_PTR(v);
                *ret_search = false;
                return 0;
        }
        if (!*program)
                return -ENOENT;
        path = getenv("PATH") ?: "/bin:/usr/bin";
        for (p = path; *p; p++)
                n += *p == ':';
        v = new0(char *, n + 1);
        if (!v)
                return -ENOMEM;
        for (p = path;; p++) {
                size_t len = strcspn(p, ":");

                if (asprintf(&v[k], "%.*s%s%s", (int) len, p, len ? "/" : "", program) < 0) {
                        v[k] = NULL;
                        return -ENOMEM;
                }
                k++;
                p += len;
                if (!*p)
                        break;
        }
        *ret = TAKE_PTR(v);
        *ret_search = true;
        return 0;
}

/* Every fd above 2 but keep is closed or O_CLOEXEC: an fd another library opened without
 * O_CLOEXEC must not reach the child either. */
static void close_others(int keep, long max_fd) {
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
                return; /* keep is O_CLOEXEC already: it closes at exec */
        for (long fd = 3; fd < max_fd; fd++)
                if (fd != keep)
                        (void) close((int) fd);
}

/* Tries each file; returns the errno to report. */
static int exec_plan(const Plan *p) {
        bool eacces = false;

        for (char **f = p->paths; *f; f++) {
                (void) execve(*f, p->a->argv, p->env);
                if (!p->search)
                        return errno;
                switch (errno) {
                case EACCES:
                        eacces = true;
                        break;
                case ENOENT:
                case ENOTDIR:
                case ESTALE:
                case ENODEV:
                case ETIMEDOUT:
                        break;
                default:
                        return errno;
                }
        }
        return eacces ? EACCES : ENOENT;
}

/* In the child, between fork() and exec: async-signal-safe calls only. It starts with every
 * signal blocked, so that no handler of ours runs here. */
static _noreturn_ void child(const Plan *p) {
        struct sigaction dfl = { .sa_handler = SIG_DFL };
        int tmp[3], err;
        sigset_t none;
        ssize_t k;

        for (int sig = 1; sig < NSIG; sig++)
                if (sig != SIGKILL && sig != SIGSTOP)
                        (void) sigaction(sig, &dfl, NULL); /* glibc's own signals say EINVAL */
        sigemptyset(&none);
        if (sigprocmask(SIG_SETMASK, &none, NULL) < 0)
                goto fail;
        if ((p->a->group == YB_SPAWN_GROUP_NEW && setpgid(0, 0) < 0) ||
            (p->a->group == YB_SPAWN_SESSION_NEW && setsid() < 0))
                goto fail;
        if (p->a->parent_death_signal != 0) {
                if (prctl(PR_SET_PDEATHSIG, p->a->parent_death_signal) < 0)
                        goto fail;
                if (getppid() != p->parent) {
                        errno = ESRCH; /* that thread is gone already */
                        goto fail;
                }
        }
        /* Every source above 2 first: a source may be 0, 1 or 2 itself, or another's target,
         * and dup2() onto its own number would keep its O_CLOEXEC. */
        for (int i = 0; i < 3; i++) {
                tmp[i] = fcntl(p->src[i], F_DUPFD, 3);
                if (tmp[i] < 0)
                        goto fail;
        }
        for (int i = 0; i < 3; i++)
                if (dup2(tmp[i], i) < 0)
                        goto fail;
        close_others(p->status_fd, p->max_fd);
        if (p->a->cwd && chdir(p->a->cwd) < 0)
                goto fail;
        errno = exec_plan(p);
fail:
        err = errno;
        k = write(p->status_fd, &err, sizeof(err));
        (void) k;
        _exit(127);
}

static void close_three(int (*fds)[3]) {
        for (int i = 0; i < 3; i++)
                (*fds)[i] = safe_close((*fds)[i]);
}

/* A pipe for fd i of the child: src is its end, ours the other (non-blocking). */
static int make_pipe(int i, int *ret_src, int *ret_ours) {
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
                return negative_errno();
        *ret_src = p[i == 0 ? 0 : 1];
        *ret_ours = p[i == 0 ? 1 : 0];
        if (fcntl(*ret_ours, F_SETFL, O_NONBLOCK) < 0)
                return negative_errno();
        return 0;
}

/* The status pipe's write end must survive the dup2() onto 0-2 in the child. */
static int fd_above_stdio(int *fd) {
        int k;

        if (*fd > STDERR_FILENO)
                return 0;
        k = fcntl(*fd, F_DUPFD_CLOEXEC, 3);
        if (k < 0)
                return negative_errno();
        safe_close(*fd);
        *fd = k;
        return 0;
}

static int wait_status(YbChild *c, int *ret_status) {
        int status;

        while (waitpid(c->pid, &status, 0) < 0)
                if (errno != EINTR) {
                        int r = negative_errno();

                        if (r == -ECHILD)
                                c->pid = 0; /* not ours any more: never signal that group */
                        return r;
                }
        c->pid = 0;
        c->pidfd = safe_close(c->pidfd);
        if (ret_status)
                *ret_status = status;
        return 0;
}

int yb_spawn(const YbSpawnArgs *a, YbChild *ret) {
        _cleanup_(close_three) int src_pipe[3] = { -EBADF, -EBADF, -EBADF };
        _cleanup_(close_three) int ours[3] = { -EBADF, -EBADF, -EBADF };
        _cleanup_(close_three) int nul[3] = { -EBADF, -EBADF, -EBADF };
        _cleanup_close_ int status_r = -EBADF, status_w = -EBADF;
        _cleanup_(strv_freep) char **paths = NULL;
        const char *program;
        Plan p = { .a = a, .env = a->env ? a->env : environ };
        YbChild c = YB_CHILD_NULL;
        sigset_t all, old;
        int sp[2], err = 0, r;
        ssize_t n;

        assert(a->argv && a->argv[0]);
        assert(a->group >= 0 && a->group < _YB_SPAWN_GROUP_MAX);
        program = a->program ? a->program : a->argv[0];

        for (int i = 0; i < 3; i++) {
                if (a->fd[i] == YB_SPAWN_PIPE) {
                        r = make_pipe(i, &src_pipe[i], &ours[i]);
                        if (r < 0)
                                return log_debug_errno(r, "Failed to create a pipe for '%s': %m",
                                                       program);
                        p.src[i] = src_pipe[i];
                } else if (a->fd[i] == YB_SPAWN_NULL) {
                        nul[i] = open("/dev/null",
                                      (i == 0 ? O_RDONLY : O_WRONLY) | O_CLOEXEC | O_NOCTTY);
                        if (nul[i] < 0)
                                return log_debug_errno(errno, "Failed to open /dev/null: %m");
                        p.src[i] = nul[i];
                } else {
                        assert(a->fd[i] >= 0);
                        p.src[i] = a->fd[i];
                }
        }
        r = plan_paths(program, &paths, &p.search);
        if (r < 0)
                return log_debug_errno(r, "Failed to look for '%s': %m", program);
        p.paths = paths;
        if (pipe2(sp, O_CLOEXEC) < 0)
                return log_debug_errno(errno, "Failed to create a pipe for '%s': %m", program);
        status_r = sp[0];
        status_w = sp[1];
        r = fd_above_stdio(&status_w);
        if (r < 0)
                return log_debug_errno(r, "Failed to move a pipe for '%s': %m", program);
        p.status_fd = status_w;
        p.max_fd = sysconf(_SC_OPEN_MAX);
        if (p.max_fd < 0)
                p.max_fd = 65536;
        p.parent = getpid();

        sigfillset(&all);
        (void) pthread_sigmask(SIG_SETMASK, &all, &old);
        c.pid = fork();
        if (c.pid == 0)
                child(&p);
        err = errno;
        if (c.pid > 0 && a->announce_pid)
                *a->announce_pid = c.pid; /* before any signal of ours can be handled */
        (void) pthread_sigmask(SIG_SETMASK, &old, NULL);
        if (c.pid < 0)
                return log_debug_errno(err, "Failed to fork for '%s': %m", program);
        status_w = safe_close(status_w);
        close_three(&src_pipe);

        /* End of file: the exec closed its end. Else the child tells why it could not. */
        do
                n = read(status_r, &err, sizeof(err));
        while (n < 0 && errno == EINTR);
        if (n == sizeof(err)) {
                if (a->announce_pid)
                        *a->announce_pid = 0;
                (void) wait_status(&c, NULL);
                return log_debug_errno(err, "Failed to run '%s': %m", program);
        }

        if (a->pidfd) {
                c.pidfd = pidfd_open(c.pid, 0);
                if (c.pidfd < 0) {
                        log_debug_errno(errno, "No pidfd for '%s' (pid %d): %m", program,
                                        (int) c.pid);
                        c.pidfd = -EBADF;
                }
        }
        c.group = a->group;
        for (int i = 0; i < 3; i++)
                c.fd[i] = TAKE_FD(ours[i]);
        *ret = c;
        return 0;
}

int yb_child_kill(const YbChild *c, int sig) {
        if (c->pid <= 0)
                return -ESRCH;
        if (kill(c->group == YB_SPAWN_GROUP_INHERIT ? c->pid : -c->pid, sig) < 0)
                return negative_errno();
        return 0;
}

int yb_child_ended(const YbChild *c) {
        siginfo_t si = { 0 };

        if (c->pid <= 0)
                return -ECHILD;
        if (waitid(P_PID, (id_t) c->pid, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
                return negative_errno();
        return si.si_pid == c->pid;
}

int yb_child_wait(YbChild *c, int *ret_status) {
        if (c->pid <= 0)
                return -ECHILD;
        return wait_status(c, ret_status);
}

/* Returns 1 once the child has ended (not reaped), 0 when until (monotonic ns) came first. */
static int wait_ended(const YbChild *c, int64_t until) {
        if (until == INT64_MAX) {
                siginfo_t si;

                while (waitid(P_PID, (id_t) c->pid, &si, WEXITED | WNOWAIT) < 0)
                        if (errno != EINTR)
                                return negative_errno();
                return 1;
        }
        for (;;) {
                int64_t left;
                int k = yb_child_ended(c);

                if (k != 0)
                        return k;
                left = until - yb_monotonic_ns();
                if (left <= 0)
                        return 0;
                if (c->pidfd >= 0) {
                        struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

                        (void) poll(&p, 1,
                                    (int) MIN((left + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC,
                                              (int64_t) 60000));
                } else {
                        int64_t ns = MIN(left, EXIT_POLL_NS);
                        struct timespec ts = { .tv_sec = 0, .tv_nsec = (long) ns };

                        (void) nanosleep(&ts, NULL);
                }
        }
}

int yb_child_wait_ended(const YbChild *c) {
        if (c->pid <= 0)
                return -ECHILD;
        return wait_ended(c, INT64_MAX);
}

/* Whether a process of group pgid other than a zombie is left: /proc/PID/stat's third field is
 * the state, its fifth the group, after the name in parentheses (which may hold anything). A
 * process that ends between the listing and the read is not counted. */
static bool group_has_live(pid_t pgid) {
        struct dirent *e;
        bool live = false;
        DIR *d;

        if (kill(-pgid, 0) < 0 && errno == ESRCH)
                return false;
        d = opendir("/proc");
        if (!d)
                return true; /* cannot tell: kill(0) said something is there */
        while (!live && (e = readdir(d))) {
                char path[64], buf[512], state;
                const char *end;
                char *rest;
                long group, pid;
                ssize_t n;
                int fd;

                pid = strtol(e->d_name, &rest, 10);
                if (pid <= 0 || *rest != '\0')
                        continue;
                snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue;
                n = read(fd, buf, sizeof(buf) - 1);
                (void) close(fd);
                if (n <= 0)
                        continue;
                buf[n] = '\0';
                end = strrchr(buf, ')');
                if (!end || sscanf(end + 1, " %c %*d %ld", &state, &group) != 2)
                        continue;
                live = group == (long) pgid && state != 'Z' && state != 'X';
        }
        (void) closedir(d);
        return live;
}

/* After a SIGKILL to the group: waits until no process of it is left alive (orphans that were
 * given to init or a subreaper are SIGKILLed but may not have died yet when kill() returns),
 * so that "stopped" means gone. Bounded by GROUP_DRAIN_NS. */
static void group_drain(const YbChild *c) {
        int64_t until = yb_monotonic_ns() + GROUP_DRAIN_NS;

        if (c->group == YB_SPAWN_GROUP_INHERIT)
                return;
        while (group_has_live(c->pid)) {
                struct timespec ts = { .tv_sec = 0, .tv_nsec = GROUP_POLL_NS };

                if (yb_monotonic_ns() >= until) {
                        log_warning("Process group %d still has processes alive %lld ms after "
                                    "SIGKILL (in uninterruptible sleep?); not waiting longer",
                                    (int) c->pid, (long long) (GROUP_DRAIN_NS / NSEC_PER_MSEC));
                        return;
                }
                (void) kill(-c->pid, SIGKILL); /* one that forked after the first */
                (void) nanosleep(&ts, NULL);
        }
}

int yb_child_stop(YbChild *c, int64_t grace_ns, int *ret_status) {
        if (c->pid <= 0)
                return -ECHILD;
        if (grace_ns > 0) {
                int64_t now = yb_monotonic_ns();

                (void) yb_child_kill(c, SIGTERM);
                if (wait_ended(c, grace_ns > INT64_MAX - now ? INT64_MAX : now + grace_ns) < 0)
                        return wait_status(c, ret_status); /* says why; forgets a lost child */
        }
        /* Not reaped yet, so the group's id cannot have been reused: what is left of it goes,
         * and is gone before we return. */
        (void) yb_child_kill(c, SIGKILL);
        group_drain(c);
        return wait_status(c, ret_status);
}

void yb_child_done(YbChild *c) {
        if (c->pid > 0)
                (void) yb_child_stop(c, 0, NULL);
        close_three(&c->fd);
        c->pidfd = safe_close(c->pidfd);
        *c = YB_CHILD_NULL;
}

static bool env_has_name(char *const list[], size_t from, const char *e) {
        size_t n = strcspn(e, "=");

        for (size_t i = from; list && list[i]; i++)
                if (strcspn(list[i], "=") == n && strncmp(list[i], e, n) == 0)
                        return true;
        return false;
}

char **yb_spawn_env(char *const *add, bool (*withheld)(const char *e)) {
        size_t n = 0, k = 0;
        char **v;

        for (char **e = environ; e && *e; e++)
                n++;
        for (size_t i = 0; add && add[i]; i++)
                n++;
        v = calloc(n + 1, sizeof(char *));
        if (!v)
                return NULL;
        for (char **e = environ; e && *e; e++)
                if (!(withheld && withheld(*e)) && !env_has_name(add, 0, *e))
                        v[k++] = *e;
        for (size_t i = 0; add && add[i]; i++)
                if (!env_has_name(add, i + 1, add[i])) /* the last of a name wins */
                        v[k++] = add[i];
        return v;
}
