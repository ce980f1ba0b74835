/* restore/drill-check.c: a drill's check command (docs/drills.md, "A drill's run"): `/bin/sh
 * -c COMMAND` in the sandbox, in a process group of its own, its output (stdout and stderr
 * together, one pipe, so that their order is kept) collected as it comes with only the last
 * YB_DRILL_OUTPUT_MAX bytes kept, bounded by the timeout and by the drill's stop flag: SIGTERM
 * to the group, SIGKILL 10 s later; once it has ended, what it left running, in its group or
 * out of it (a daemon in a session of its own), is killed: this process is a subreaper while
 * the command runs, so all of it comes to us. It inherits the environment but the drill's own
 * variables (YUNBAK_*, YB_*) and libpq's (PG*). */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/spawn.h"
#include "core/base/timeutil.h"
#include "restore/drill-run.h"

#define KILL_GRACE_USEC (10 * YB_USEC_PER_SEC)
/* How often the loop looks at the stop flag (and, without a pidfd, for the child's end). */
#define TICK_USEC (50 * YB_USEC_PER_MSEC)
/* After the command ended, how long something it left behind may hold the pipe open. */
#define LINGER_USEC (1 * YB_USEC_PER_SEC)

/* The last YB_DRILL_OUTPUT_MAX bytes of a stream, as a ring. */
typedef struct Tail {
        char buf[YB_DRILL_OUTPUT_MAX];
        size_t pos; /* next write */
        uint64_t total;
} Tail;

static void tail_add(Tail *t, const char *p, size_t n) {
        t->total += n;
        if (n >= sizeof(t->buf)) {
                memcpy(t->buf, p + n - sizeof(t->buf), sizeof(t->buf));
                t->pos = 0;
                return;
        }
        while (n > 0) {
                size_t k = MIN(n, sizeof(t->buf) - t->pos);

                memcpy(t->buf + t->pos, p, k);
                t->pos = (t->pos + k) % sizeof(t->buf);
                p += k;
                n -= k;
        }
}

/* The kept bytes in order, NUL-terminated (a NUL in the output becomes '?'). */
static char *tail_take(const Tail *t, bool *ret_truncated) {
        size_t n = t->total < sizeof(t->buf) ? (size_t) t->total : sizeof(t->buf);
        size_t start = t->total < sizeof(t->buf) ? 0 : t->pos;
        char *s = malloc(n + 1);

        if (!s)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                s[i] = t->buf[(start + i) % sizeof(t->buf)];
                if (s[i] == 0)
                        s[i] = '?';
        }
        s[n] = 0;
        *ret_truncated = t->total > sizeof(t->buf);
        return s;
}

/* Whether an inherited variable stays out of the check's environment: the drill's own (where
 * its passphrase is, yunbakd's socket, its test hooks and debugging) and libpq's (a password,
 * a service, a database of another PostgreSQL): the check reaches the drill's cluster through
 * the PG variables the drill gives, and nothing else of ours. */
static bool withheld(const char *e) {
        return strncmp(e, "YUNBAK_", 7) == 0 || strncmp(e, "YB_", 3) == 0 ||
               strncmp(e, "PG", 2) == 0;
}

static void drain(int *fd, Tail *t) {
        char chunk[8192];

        for (;;) {
                ssize_t n = read(*fd, chunk, sizeof(chunk));

                if (n > 0) {
                        tail_add(t, chunk, (size_t) n);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0 && errno == EAGAIN)
                        return;
                *fd = safe_close(*fd); /* EOF, or it cannot be read any more */
                return;
        }
}

/* The pids whose parent is this process (*ret_n of them in *ret), from /proc. Returns 0 or
 * -errno. */
static int children(pid_t **ret, size_t *ret_n) {
        DIR *d = opendir("/proc");
        pid_t self = getpid(), *v = NULL;
        size_t n = 0;
        struct dirent *de;

        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                char path[64], buf[512], *p;
                _cleanup_close_ int fd = -EBADF;
                long pid = strtol(de->d_name, &p, 10), ppid;
                ssize_t k;

                if (*p || pid <= 0)
                        continue;
                snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                        continue; /* gone meanwhile */
                k = read(fd, buf, sizeof(buf) - 1);
                if (k <= 0)
                        continue;
                buf[k] = 0;
                /* "pid (comm) state ppid ...": comm may hold anything, ')' too */
                p = strrchr(buf, ')');
                if (!p || sscanf(p + 1, " %*c %ld", &ppid) != 1 || ppid != (long) self)
                        continue;
                pid_t *w = reallocarray(v, n + 1, sizeof(pid_t));
                if (!w) {
                        free(v);
                        closedir(d);
                        return -ENOMEM;
                }
                v = w;
                v[n++] = (pid_t) pid;
        }
        closedir(d);
        *ret = v;
        *ret_n = n;
        return 0;
}

static bool among(pid_t pid, const pid_t *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (v[i] == pid)
                        return true;
        return false;
}

/* What the command left running out of its group (a daemon: forked twice, a session of its
 * own) came to us, the subreaper, when its parent ended: each child of ours that was not one
 * before the command started (before[]) is killed and reaped, until none is left (the children
 * of one killed come to us in turn). */
static void kill_leftovers(const pid_t *before, size_t n_before) {
        for (int round = 0; round < 1000; round++) {
                _cleanup_free_ pid_t *now = NULL;
                size_t n = 0, killed = 0;

                if (children(&now, &n) < 0)
                        return;
                for (size_t i = 0; i < n; i++) {
                        if (among(now[i], before, n_before))
                                continue;
                        (void) kill(now[i], SIGKILL);
                        (void) waitpid(now[i], NULL, 0);
                        killed++;
                }
                if (killed == 0)
                        return;
        }
        log_warning("The drill's check command left processes that kept forking: some may "
                    "still run (look for processes in the sandbox)");
}

static int poll_ms(int64_t until, int64_t now) {
        return until == INT64_MAX ? -1 : yb_usec_to_ms_ceil(until - now);
}

int yb_drill_check_run(const char *command, const char *sandbox, char *const *env,
                       int64_t timeout_usec, volatile sig_atomic_t *stop, YbDrillCheckResult *ret) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        _cleanup_free_ char **envp = yb_spawn_env(env, withheld);
        _cleanup_close_ int out_fd = -EBADF;
        int pipe_fds[2];
        char *argv[] = { (char *) "/bin/sh", (char *) "-c", (char *) command, NULL };
        YbSpawnArgs a = {
                .argv = argv,
                .env = envp,
                .fd = { YB_SPAWN_NULL, -EBADF, -EBADF }, /* the pipe's write end, below */
                .group = YB_SPAWN_GROUP_NEW,
                .pidfd = true,
                .cwd = sandbox,
        };
        YbDrillCheckResult res = { 0 };
        int64_t deadline, kill_at = INT64_MAX, linger_until = INT64_MAX;
        _cleanup_free_ pid_t *before = NULL;
        size_t n_before = 0;
        Tail *t;
        bool termed = false;
        int r, status = 0, was_subreaper = 0;

        if (!envp)
                return -ENOMEM;
        /* Whatever the command leaves running comes to us when its parent ends, even out of
         * its group, so that none outlives the check (kill_leftovers). */
        r = children(&before, &n_before);
        if (r < 0)
                return r;
        if (prctl(PR_GET_CHILD_SUBREAPER, &was_subreaper) < 0 ||
            prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
                return -errno;
        t = calloc(1, sizeof(Tail));
        if (!t) {
                r = -ENOMEM;
                goto fail;
        }
        /* Non-blocking on our end only: the command's own writes block as usual. */
        if (pipe2(pipe_fds, O_CLOEXEC) < 0) {
                r = -errno;
                goto fail;
        }
        out_fd = pipe_fds[0];
        if (fcntl(out_fd, F_SETFL, O_NONBLOCK) < 0) {
                r = -errno;
                (void) close(pipe_fds[1]);
                goto fail;
        }
        a.fd[STDOUT_FILENO] = a.fd[STDERR_FILENO] = pipe_fds[1];
        r = yb_spawn(&a, &c);
        (void) close(pipe_fds[1]); /* the child has it: EOF once it and its own have gone */
        if (r < 0)
                goto fail;
        res.ran = true;
        deadline = timeout_usec > 0 && timeout_usec < INT64_MAX - yb_monotonic_usec()
                           ? yb_monotonic_usec() + timeout_usec
                           : INT64_MAX;
        for (;;) {
                struct pollfd p[2];
                int64_t now = yb_monotonic_usec(), until = INT64_MAX;
                bool reaped = c.pid == 0;
                nfds_t n = 0;
                int i_out = -1;

                if (reaped && (out_fd < 0 || now >= linger_until))
                        break;
                if (!reaped && !termed && (now >= deadline || (stop && *stop))) {
                        res.timed_out = now >= deadline;
                        res.stopped = !res.timed_out;
                        (void) yb_child_kill(&c, SIGTERM);
                        termed = true;
                        kill_at = now + KILL_GRACE_USEC;
                }
                if (!reaped && now >= kill_at) {
                        (void) yb_child_kill(&c, SIGKILL);
                        kill_at = INT64_MAX;
                }
                if (!reaped) {
                        r = yb_child_ended(&c);
                        if (r < 0)
                                goto fail;
                        if (r > 0) {
                                /* Not reaped yet, so its group is still its own: what it left
                                 * running there ends with it. */
                                (void) yb_child_kill(&c, SIGKILL);
                                r = yb_child_wait(&c, &status);
                                if (r < 0)
                                        goto fail;
                                kill_leftovers(before, n_before);
                                linger_until = now + LINGER_USEC;
                                continue;
                        }
                }
                if (out_fd >= 0) {
                        i_out = (int) n;
                        p[n++] = (struct pollfd){ .fd = out_fd, .events = POLLIN };
                }
                if (!reaped && c.pidfd >= 0)
                        p[n++] = (struct pollfd){ .fd = c.pidfd, .events = POLLIN };
                if (reaped)
                        until = linger_until;
                else {
                        until = MIN(termed ? kill_at : deadline, now + TICK_USEC);
                }
                if (poll(p, n, poll_ms(until, now)) < 0 && errno != EINTR) {
                        r = -errno;
                        goto fail;
                }
                if (i_out >= 0 && p[i_out].revents)
                        drain(&out_fd, t);
        }
        if (WIFEXITED(status)) {
                res.exited = true;
                res.exit_code = WEXITSTATUS(status);
        } else
                res.signal = WTERMSIG(status);
        res.output = tail_take(t, &res.output_truncated);
        free(t);
        if (!was_subreaper)
                (void) prctl(PR_SET_CHILD_SUBREAPER, 0);
        if (!res.output)
                return -ENOMEM;
        yb_drill_text_clean(res.output, YB_DRILL_OUTPUT_MAX);
        *ret = res;
        return 0;
fail:
        free(t);
        yb_child_done(&c);
        kill_leftovers(before, n_before);
        if (!was_subreaper)
                (void) prctl(PR_SET_CHILD_SUBREAPER, 0);
        return r;
}

void yb_drill_check_result_done(YbDrillCheckResult *r) {
        free(r->output);
        *r = (YbDrillCheckResult){ 0 };
}
