/* core/base/spawn.h: starting a child process and ending it. The child gets its argv and
 * environment, fds 0, 1 and 2 as the caller says (an fd of ours, a new pipe, /dev/null) and no
 * other fd of ours, default signal dispositions and an empty signal mask, and a process group
 * of its own (or a session, or ours), so that one signal reaches everything it starts.
 *
 * Thread-safe: threads may start and wait for children at once, each for its own. The caller
 * must not let SIGCHLD be SIG_IGN, nor reap children it did not start (waitpid(-1, ...)). */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/macro.h"

/* In YbSpawnArgs.fd: a new pipe (we get the other end in YbChild.fd), or /dev/null. */
#define YB_SPAWN_PIPE (-1000)
#define YB_SPAWN_NULL (-1001)

typedef enum YbSpawnGroup {
        /* A process group of its own, in our session: yb_child_kill reaches all it starts. */
        YB_SPAWN_GROUP_NEW,
        /* A session of its own (setsid): its own group as above, and no controlling terminal,
         * so that nothing it runs can stop to ask on ours. */
        YB_SPAWN_SESSION_NEW,
        /* Our process group: yb_child_kill reaches the child alone. */
        YB_SPAWN_GROUP_INHERIT,
        _YB_SPAWN_GROUP_MAX,
} YbSpawnGroup;

typedef struct YbSpawnArgs {
        char *const *argv; /* argv[0] non-NULL */
        /* The program: with a '/', that file; without, looked up in this process's PATH (unset:
         * /bin:/usr/bin), as execvp() does. NULL: argv[0]. */
        const char *program;
        char *const *env; /* the child's whole environment; NULL: this process's */
        /* What becomes its fd 0, 1 and 2: an fd of ours (borrowed: any number, even 0-2 or
         * one another's), YB_SPAWN_PIPE or YB_SPAWN_NULL. */
        int fd[3];
        YbSpawnGroup group;
        bool pidfd; /* open a pidfd for it (YbChild.pidfd) */
        /* Non-zero: the signal the child gets when the thread that started it ends
         * (PR_SET_PDEATHSIG). Only for a thread that lives as long as the child should. */
        int parent_death_signal;
        /* Non-NULL: set to the child's pid the moment it exists, before yb_spawn returns (which
         * it does only once the program runs), and back to 0 when it could not run; for a signal
         * handler that must stop the child's group even while yb_spawn still waits. */
        volatile sig_atomic_t *announce_pid;
        /* Non-NULL: the child's working directory (a failure to enter it is yb_spawn's
         * -errno); NULL: ours. */
        const char *cwd;
} YbSpawnArgs;

/* A started child. Fill with YB_CHILD_NULL before yb_spawn, end with yb_child_done. */
typedef struct YbChild {
        pid_t pid; /* 0 once reaped */
        /* Readable once the child has ended; -EBADF when not asked for or the kernel has no
         * pidfds (then look with yb_child_ended). Closed when it is reaped. */
        int pidfd;
        /* Our end of each YB_SPAWN_PIPE (fd[0] for writing, fd[1] and fd[2] for reading),
         * O_NONBLOCK and O_CLOEXEC; -EBADF for the others. The caller may close them (and set
         * -EBADF) at any time. */
        int fd[3];
        YbSpawnGroup group;
} YbChild;

#define YB_CHILD_NULL ((YbChild){ .pid = 0, .pidfd = -EBADF, .fd = { -EBADF, -EBADF, -EBADF } })

/* Starts the child and returns once it runs the program (it has its process group or
 * session by then), filling *ret. Returns 0, or -errno when nothing runs: the program was not
 * found (-ENOENT) or cannot be run (-EACCES, -ENOEXEC, ...), or an fd, a pipe or the process
 * could not be made (-EMFILE, -EAGAIN, ...); no child is then left behind. */
int yb_spawn(const YbSpawnArgs *a, YbChild *ret);
/* An environment for a child (YbSpawnArgs.env): this process's, without the variables for
 * which withheld (NULL: none) is true, with add[] (NULL-terminated "NAME=VALUE" strings) set
 * over it, the last of a name winning. The strings are borrowed; the array is the caller's to
 * free(). NULL on OOM. */
char **yb_spawn_env(char *const *add, bool (*withheld)(const char *e));

/* Sends sig to the child's process group (YB_SPAWN_GROUP_NEW, YB_SPAWN_SESSION_NEW: it and
 * all it started there, even when it has ended but is not yet reaped), or to the child alone
 * (YB_SPAWN_GROUP_INHERIT). Returns 0, -ESRCH when it is reaped or the group is gone, or
 * -errno. */
int yb_child_kill(const YbChild *c, int sig);

/* Returns 1 when the child has ended (it is not reaped: a group kill still reaches what it
 * left), 0 while it runs, -errno when it cannot be waited for (-ECHILD: reaped by someone else). */
int yb_child_ended(const YbChild *c);

/* Waits for the child to end and reaps it (closing the pidfd). Returns 0 and its waitpid()
 * status in *ret_status (may be NULL), or -errno. */
int yb_child_wait(YbChild *c, int *ret_status);

/* Waits for the child to end without reaping it: its pid (and group) stays its own, so a
 * signal handler may still signal it, until yb_child_wait reaps it. Returns 1 once it has ended,
 * or -errno (-ECHILD: reaped already). */
int yb_child_wait_ended(const YbChild *c);

/* Stops the child: SIGTERM to its group, and when it has not ended grace_ns later, SIGKILL
 * (grace_ns 0: SIGKILL at once, no SIGTERM; INT64_MAX: never SIGKILL, wait as long as it
 * takes); then, for a child in a group or session of its own, waits (up to 5 s, logged past
 * that) until no process of that group is alive, orphans too; then reaps it as yb_child_wait. */
int yb_child_stop(YbChild *c, int64_t grace_ns, int *ret_status);

/* Closes our ends of the pipes; a child not yet reaped is killed (SIGKILL to its group) and
 * reaped, so that none is left behind. Leaves *c as YB_CHILD_NULL. For _cleanup_(). */
void yb_child_done(YbChild *c);
