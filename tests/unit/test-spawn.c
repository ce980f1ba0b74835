/* yb_spawn and the end of a child (core/base/spawn.c): output, exit status, a signal's death,
 * the stop of a whole process group with its grace, process groups and sessions, the parent
 * death signal, fds 0-2 from any fd (even when those are 0-2 themselves), no other fd
 * inherited, and a program that cannot run. */
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>

#include "core/base/spawn.h"
#include "core/base/timeutil.h"
#include "tests/unit/test.h"

static YbSpawnArgs sh_args(const char *script) {
        static char *argv[4] = { (char *) "sh", (char *) "-c", NULL, NULL };

        argv[2] = (char *) script;
        return (YbSpawnArgs){ .argv = argv, .fd = { YB_SPAWN_NULL, YB_SPAWN_PIPE, YB_SPAWN_PIPE } };
}

/* Appends what fd gives until end of file; fails the case after 30 s. */
static void read_to_eof(int fd, YbBuf *out) {
        int64_t until = yb_monotonic_ns() + 30 * YB_NSEC_PER_SEC;

        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                char buf[4096];
                ssize_t n;

                if (yb_monotonic_ns() > until)
                        fail_msg("fd %d did not reach its end within 30 s", fd);
                (void) poll(&p, 1, 1000);
                n = read(fd, buf, sizeof(buf));
                if (n == 0)
                        return;
                if (n < 0 && (errno == EAGAIN || errno == EINTR))
                        continue;
                ASSERT_GT(n, 0);
                ASSERT_OK(yb_buf_append(out, buf, (size_t) n));
        }
}

/* Reads one line (without its '\n') from fd. */
static void read_line(int fd, char *buf, size_t size) {
        size_t k = 0;

        while (k + 1 < size) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                ssize_t n;

                ASSERT_EQ(poll(&p, 1, 30000), 1);
                n = read(fd, buf + k, 1);
                if (n < 0 && errno == EAGAIN)
                        continue;
                ASSERT_EQ(n, 1);
                if (buf[k] == '\n')
                        break;
                k++;
        }
        buf[k] = '\0';
}

static void assert_no_children(void) {
        ASSERT_EQ(waitpid(-1, NULL, WNOHANG), -1);
        ASSERT_EQ(errno, ECHILD);
}

TEST(output_and_exit_status) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        YbSpawnArgs a = sh_args("printf out; printf err >&2; exit 7");
        YbBuf out = YB_BUF_INIT, err = YB_BUF_INIT;
        int status;

        ASSERT_OK(yb_spawn(&a, &c));
        ASSERT_GT(c.pid, 0);
        ASSERT_EQ(c.fd[0], -EBADF);
        ASSERT_EQ(c.pidfd, -EBADF);
        read_to_eof(c.fd[1], &out);
        read_to_eof(c.fd[2], &err);
        ASSERT_OK(yb_child_wait(&c, &status));
        ASSERT_EQ(c.pid, 0);
        ASSERT_TRUE(WIFEXITED(status));
        ASSERT_EQ(WEXITSTATUS(status), 7);
        ASSERT_EQ(out.size, 3);
        ASSERT_MEMEQ(out.data, "out", 3);
        ASSERT_EQ(err.size, 3);
        ASSERT_MEMEQ(err.data, "err", 3);
        yb_buf_done(&out);
        yb_buf_done(&err);
        assert_no_children();
}

TEST(stdin_pipe_environment_and_program) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        char *env[] = { (char *) "YB_SPAWN_TEST=a b", NULL };
        YbSpawnArgs a = sh_args("read x; printf '%s|%s' \"$x\" \"$YB_SPAWN_TEST\"");
        YbBuf out = YB_BUF_INIT;
        int status;

        a.program = "/bin/sh";
        a.env = env;
        a.fd[0] = YB_SPAWN_PIPE;
        ASSERT_OK(yb_spawn(&a, &c));
        ASSERT_EQ(write(c.fd[0], "hello\n", 6), 6);
        c.fd[0] = safe_close(c.fd[0]);
        read_to_eof(c.fd[1], &out);
        ASSERT_OK(yb_child_wait(&c, &status));
        ASSERT_EQ(status, 0);
        ASSERT_OK(yb_buf_append_u8(&out, 0));
        ASSERT_STREQ((char *) out.data, "hello|a b");
        yb_buf_done(&out);
}

TEST(signal_death) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        YbSpawnArgs a = sh_args("kill -USR1 $$");
        int status;

        ASSERT_OK(yb_spawn(&a, &c));
        ASSERT_OK(yb_child_wait(&c, &status));
        ASSERT_TRUE(WIFSIGNALED(status));
        ASSERT_EQ(WTERMSIG(status), SIGUSR1);
}

/* SIGTERM reaches the grandchild too: once it is gone, nothing holds the output open. */
TEST(stop_kills_the_whole_group) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        YbSpawnArgs a = sh_args("sleep 1000 & echo $!; wait");
        YbBuf rest = YB_BUF_INIT;
        char line[32];
        int status;

        a.pidfd = true;
        ASSERT_OK(yb_spawn(&a, &c));
        read_line(c.fd[1], line, sizeof(line));
        ASSERT_GT(atoi(line), 0);
        ASSERT_EQ(yb_child_ended(&c), 0);
        ASSERT_OK(yb_child_stop(&c, 10 * YB_NSEC_PER_SEC, &status));
        ASSERT_TRUE(WIFSIGNALED(status));
        ASSERT_EQ(WTERMSIG(status), SIGTERM);
        read_to_eof(c.fd[1], &rest); /* the grandchild's copy of the pipe closed: it is gone */
        ASSERT_EQ(rest.size, 0);
        yb_buf_done(&rest);
}

/* Whether pid is alive: it exists and is not a zombie (an orphan's zombie waits for init). */
static bool alive(pid_t pid) {
        char path[64], buf[512];
        const char *end;
        char state = 0;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
        f = fopen(path, "re");
        if (!f)
                return false;
        if (fgets(buf, sizeof(buf), f) && (end = strrchr(buf, ')')))
                (void) sscanf(end + 1, " %c", &state);
        fclose(f);
        return state != 0 && state != 'Z' && state != 'X';
}

/* A process the child left in its group when it ended (an orphan, now init's, as PostgreSQL's
 * startup process leaves its restore_command) is dead when yb_child_stop returns, not merely
 * sent SIGKILL. */
TEST(stop_waits_for_orphans_of_the_group) {
        for (int round = 0; round < 20; round++) {
                _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
                YbSpawnArgs a = sh_args("sleep 1000 </dev/null >/dev/null 2>&1 & echo $!");
                char line[32];
                pid_t orphan;

                ASSERT_OK(yb_spawn(&a, &c));
                read_line(c.fd[1], line, sizeof(line));
                orphan = (pid_t) atoi(line);
                ASSERT_GT(orphan, 0);
                ASSERT_EQ(yb_child_wait_ended(&c), 1); /* the leader ended; the orphan runs */
                ASSERT_TRUE(alive(orphan));
                ASSERT_OK(yb_child_stop(&c, 0, NULL));
                ASSERT_FALSE(alive(orphan));
        }
}

/* SIGTERM ignored: SIGKILL after the grace, with and without a pidfd. */
TEST(stop_kills_after_the_grace) {
        for (int with_pidfd = 0; with_pidfd < 2; with_pidfd++) {
                _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
                YbSpawnArgs a = sh_args("trap '' TERM; echo ready; while :; do sleep 0.05; done");
                char line[32];
                int64_t start;
                int status;

                a.pidfd = with_pidfd;
                ASSERT_OK(yb_spawn(&a, &c));
                read_line(c.fd[1], line, sizeof(line));
                ASSERT_STREQ(line, "ready");
                start = yb_monotonic_ns();
                ASSERT_OK(yb_child_stop(&c, 300 * 1000000LL, &status));
                ASSERT_GE(yb_monotonic_ns() - start, 300 * 1000000LL);
                ASSERT_TRUE(WIFSIGNALED(status));
                ASSERT_EQ(WTERMSIG(status), SIGKILL);
        }
}

/* A child that is done with yb_child_done is killed and reaped, whatever it was doing. */
TEST(done_leaves_no_child) {
        YbChild c = YB_CHILD_NULL;
        YbSpawnArgs a = sh_args("exec sleep 1000");

        ASSERT_OK(yb_spawn(&a, &c));
        yb_child_done(&c);
        ASSERT_EQ(c.pid, 0);
        ASSERT_EQ(c.fd[1], -EBADF);
        assert_no_children();
        yb_child_done(&c); /* twice is fine */
}

TEST(groups_and_sessions) {
        for (int g = 0; g < _YB_SPAWN_GROUP_MAX; g++) {
                _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
                YbSpawnArgs a = sh_args("cat");
                int status;

                a.fd[0] = YB_SPAWN_PIPE;
                a.group = (YbSpawnGroup) g;
                ASSERT_OK(yb_spawn(&a, &c));
                /* yb_spawn returns once the child has its group: no race with a kill. */
                switch (a.group) {
                case YB_SPAWN_GROUP_NEW:
                        ASSERT_EQ(getpgid(c.pid), c.pid);
                        ASSERT_EQ(getsid(c.pid), getsid(0));
                        break;
                case YB_SPAWN_SESSION_NEW:
                        ASSERT_EQ(getpgid(c.pid), c.pid);
                        ASSERT_EQ(getsid(c.pid), c.pid);
                        break;
                default:
                        ASSERT_EQ(getpgid(c.pid), getpgrp());
                        break;
                }
                c.fd[0] = safe_close(c.fd[0]);
                ASSERT_OK(yb_child_wait(&c, &status));
                ASSERT_EQ(status, 0);
                ASSERT_ERR(yb_child_kill(&c, SIGTERM), ESRCH);
        }
}

static void *spawn_in_thread(void *p) {
        YbChild *c = p;
        YbSpawnArgs a = sh_args("exec sleep 1000");

        a.parent_death_signal = SIGTERM;
        ASSERT_OK(yb_spawn(&a, c));
        return NULL;
}

/* The thread that started it ends: the child gets its parent death signal. */
TEST(parent_death_signal) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        pthread_t th;
        int status;

        ASSERT_EQ(pthread_create(&th, NULL, spawn_in_thread, &c), 0);
        ASSERT_EQ(pthread_join(th, NULL), 0);
        ASSERT_OK(yb_child_wait(&c, &status));
        ASSERT_TRUE(WIFSIGNALED(status));
        ASSERT_EQ(WTERMSIG(status), SIGTERM);
}

/* In a process with 0, 1 and 2 closed, the pipes land on them: the child's stdin comes from
 * fd 2, its stdout goes to fd 0 and its stderr to fd 1, each O_CLOEXEC. No order of dup2()
 * calls alone would get that right. */
static int stdio_from_stdio(void *userdata) {
        YbChild c = YB_CHILD_NULL;
        YbSpawnArgs a = sh_args("read x; echo \"out:$x\"; echo \"err:$x\" >&2");
        int in[2], out[2], err[2], status;
        char buf[64];
        ssize_t n;

        CHILD_CHECK(pipe2(in, O_CLOEXEC) == 0 && pipe2(out, O_CLOEXEC) == 0 &&
                    pipe2(err, O_CLOEXEC) == 0);
        for (int i = 0; i < 3; i++)
                close(i);
        CHILD_CHECK(dup3(in[0], 2, O_CLOEXEC) == 2);
        CHILD_CHECK(dup3(out[1], 0, O_CLOEXEC) == 0);
        CHILD_CHECK(dup3(err[1], 1, O_CLOEXEC) == 1);
        close(in[0]);
        close(out[1]);
        close(err[1]);
        a.fd[0] = 2;
        a.fd[1] = 0;
        a.fd[2] = 1;
        CHILD_CHECK(yb_spawn(&a, &c) == 0);
        for (int i = 0; i < 3; i++)
                close(i); /* the child's copies only, now */
        CHILD_CHECK(write(in[1], "hi\n", 3) == 3);
        close(in[1]);
        CHILD_CHECK(yb_child_wait(&c, &status) == 0 && status == 0);
        n = read(out[0], buf, sizeof(buf));
        CHILD_CHECK(n == 7 && memcmp(buf, "out:hi\n", 7) == 0);
        n = read(err[0], buf, sizeof(buf));
        CHILD_CHECK(n == 7 && memcmp(buf, "err:hi\n", 7) == 0);
        return 0;
}

TEST(stdio_from_fds_that_are_stdio) {
        ASSERT_EQ(test_run_forked(stdio_from_stdio, NULL), 0);
}

/* The child has 0, 1 and 2 only: not an fd opened without O_CLOEXEC, nor our pipes' ends. */
TEST(no_other_fd_is_inherited) {
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        _cleanup_close_ int leak = -EBADF;
        /* [ -e ]: the fd the glob read the directory with is closed by then. */
        YbSpawnArgs a = sh_args(
                "for f in /proc/$$/fd/*; do [ -e \"$f\" ] && echo \"${f##*/}\"; done; true");
        int nul = open("/dev/null", O_RDONLY), status; /* no O_CLOEXEC on purpose */
        YbBuf out = YB_BUF_INIT;

        ASSERT_GE(nul, 0);
        leak = dup2(nul, 50);
        close(nul);
        ASSERT_EQ(leak, 50);
        a.fd[0] = YB_SPAWN_PIPE;
        ASSERT_OK(yb_spawn(&a, &c));
        read_to_eof(c.fd[1], &out);
        ASSERT_OK(yb_child_wait(&c, &status));
        ASSERT_EQ(status, 0);
        ASSERT_OK(yb_buf_append_u8(&out, 0));
        ASSERT_STREQ((char *) out.data, "0\n1\n2\n");
        yb_buf_done(&out);
}

/* Nothing runs, and nothing is left: no child, no fd. */
TEST(program_that_cannot_run) {
        char *argv[] = { (char *) "yb-no-such-program", NULL };
        YbSpawnArgs a = { .argv = argv, .fd = { YB_SPAWN_NULL, YB_SPAWN_PIPE, YB_SPAWN_PIPE } };
        int fds = test_count_entries(AT_FDCWD, "/proc/self/fd");
        YbChild c = YB_CHILD_NULL;

        ASSERT_ERR(yb_spawn(&a, &c), ENOENT);
        ASSERT_EQ(c.pid, 0);
        a.program = "/nonexistent/yb-no-such-program";
        ASSERT_ERR(yb_spawn(&a, &c), ENOENT);
        a.program = "/etc/passwd";
        ASSERT_ERR(yb_spawn(&a, &c), EACCES);
        ASSERT_EQ(test_count_entries(AT_FDCWD, "/proc/self/fd"), fds);
        assert_no_children();
}

/* A signal handler learns the child's pid from the fork on, before yb_spawn returns: the child
 * signals us at once, quite possibly while yb_spawn still waits for its exec to be confirmed. */
static volatile sig_atomic_t announced, seen_in_handler = -1;

static void record_announced(int sig) {
        seen_in_handler = announced;
}

TEST(pid_announced_before_spawn_returns) {
        struct sigaction sa = { .sa_handler = record_announced }, old;
        _cleanup_(yb_child_done) YbChild c = YB_CHILD_NULL;
        YbSpawnArgs a = sh_args("kill -USR1 $PPID");
        sigset_t usr1;
        int status;

        sigemptyset(&usr1);
        sigaddset(&usr1, SIGUSR1);
        ASSERT_OK(sigaction(SIGUSR1, &sa, &old));
        a.announce_pid = &announced;
        ASSERT_OK(yb_spawn(&a, &c));
        ASSERT_EQ(announced, c.pid);
        ASSERT_OK(yb_child_wait(&c, &status));
        ASSERT_EQ(status, 0);
        /* The kill has happened: the handler has run, in yb_spawn or since. */
        ASSERT_GT(seen_in_handler, 0);
        ASSERT_EQ(seen_in_handler, announced);
        ASSERT_OK(sigaction(SIGUSR1, &old, NULL));
        /* A program that cannot run leaves no pid announced. */
        a.program = "/nonexistent/yb-no-such-program";
        ASSERT_ERR(yb_spawn(&a, &c), ENOENT);
        ASSERT_EQ(announced, 0);
}
