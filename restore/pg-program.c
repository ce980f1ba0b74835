/* restore/pg-program.c: PostgreSQL's programs as children (pg-program.h). A child is waited for
 * without being reaped until it has ended, so that a signal handler holding its pid never
 * signals a number that is already someone else's. */
#include "restore/pg-program.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/base/macro.h"
#include "core/base/spawn.h"
#include "core/base/timeutil.h"

#define OUTPUT_SHOWN_MAX (64 * 1024)
#define JOBS_DEFAULT_MAX 4
#define KILL_GRACE_USEC (5 * YB_USEC_PER_SEC)

/* Waits until c has ended, deadline (monotonic usec; 0: none) has passed or *stop is set
 * (stop may be NULL). 1: ended, 0: not. */
static int wait_until(const YbChild *c, int64_t deadline, const volatile sig_atomic_t *stop) {
        for (;;) {
                int64_t left = deadline ? deadline - yb_monotonic_usec() : -1;
                int k = yb_child_ended(c);
                int ms;

                if (k != 0)
                        return k < 0 ? k : 1;
                if ((deadline && left <= 0) || (stop && *stop))
                        return 0;
                /* a second at most: a signal that sets *stop just before poll is seen soon */
                ms = left < 0 ? (stop ? 1000 : -1) : (int) MIN(left / 1000 + 1, 1000);
                if (c->pidfd >= 0) {
                        struct pollfd p = { .fd = c->pidfd, .events = POLLIN };

                        (void) poll(&p, 1, ms);
                } else {
                        struct timespec ts = { 0, 20 * 1000 * 1000 };

                        (void) nanosleep(&ts, NULL);
                }
        }
}

int yb_pg_run(const YbPgRun *a, int *ret_status, bool *ret_timed_out) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        YbSpawnArgs s = {
                .argv = (char *const *) a->argv,
                .env = a->env,
                .fd = { YB_SPAWN_NULL, a->out_fd, a->err_fd > 0 ? a->err_fd : a->out_fd },
                .group = YB_SPAWN_SESSION_NEW,
                .pidfd = true,
                .announce_pid = a->announce_pid,
        };
        bool timed_out = false;
        int r;

        r = yb_spawn(&s, &c);
        if (r < 0)
                return r;
        if (a->stop && *a->stop) /* came before the child was announced */
                (void) yb_child_kill(&c, SIGTERM);
        if (a->timeout_usec > 0 || a->stop) {
                r = wait_until(&c, a->timeout_usec > 0 ? yb_monotonic_usec() + a->timeout_usec : 0,
                               a->stop);
                if (r == 0) {
                        timed_out = !(a->stop && *a->stop);
                        (void) yb_child_kill(&c, SIGTERM);
                        if (wait_until(&c, yb_monotonic_usec() + KILL_GRACE_USEC, NULL) == 0)
                                (void) yb_child_kill(&c, SIGKILL);
                }
        }
        (void) yb_child_wait_ended(&c);
        if (a->announce_pid)
                *a->announce_pid = 0;
        r = yb_child_wait(&c, ret_status);
        if (r < 0)
                return r;
        if (ret_timed_out)
                *ret_timed_out = timed_out;
        return 0;
}

char *yb_pg_output_read(int fd) {
        _cleanup_free_ char *s = malloc(OUTPUT_SHOWN_MAX + 1);
        ssize_t k;

        if (!s)
                return NULL;
        k = yb_pread_all(fd, s, OUTPUT_SHOWN_MAX, 0);
        if (k < 0)
                return NULL;
        while (k > 0 && (s[k - 1] == '\n' || s[k - 1] == '\r'))
                k--;
        s[k] = 0;
        return k > 0 ? TAKE_PTR(s) : strdup("(nothing)");
}

const char *yb_pg_status_text(int status, char buf[64]) {
        if (WIFEXITED(status))
                snprintf(buf, 64, "exited with status %d", WEXITSTATUS(status));
        else if (WIFSIGNALED(status))
                snprintf(buf, 64, "was killed by signal %d (%s)", WTERMSIG(status),
                         strsignal(WTERMSIG(status)));
        else
                snprintf(buf, 64, "ended with wait status %d", status);
        return buf;
}

int yb_pg_restore_jobs_default(void) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);

        return n < 1 ? 1 : (int) MIN(n, (long) JOBS_DEFAULT_MAX);
}

int yb_pg_restore_file(const char *program, const char *file, const char *conninfo, int jobs,
                       unsigned flags, const YbPgRun *run, int *ret_status, bool *ret_timed_out) {
        _cleanup_free_ char *dbarg = NULL, *jobsarg = NULL;
        const char *argv[10];
        size_t n = 0;
        YbPgRun a = *run;

        if (asprintf(&dbarg, "--dbname=%s", conninfo) < 0 ||
            asprintf(&jobsarg, "--jobs=%d", jobs) < 0)
                return -ENOMEM;
        argv[n++] = program ? program : "pg_restore";
        argv[n++] = "--exit-on-error";
        argv[n++] = "--no-password";
        if (flags & YB_PG_RESTORE_NO_OWNER) {
                argv[n++] = "--no-owner";
                argv[n++] = "--no-privileges";
        }
        argv[n++] = jobsarg;
        argv[n++] = dbarg;
        argv[n++] = file;
        argv[n] = NULL;
        a.argv = argv;
        a.env = NULL;
        return yb_pg_run(&a, ret_status, ret_timed_out);
}
