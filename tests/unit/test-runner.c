/* yb_run on this machine (orchestrator/runner.c): exit status, signals, output capture and its
 * caps, timeout, cancellation, environment, fds, zombies, threads; yb_shell_quote through a
 * real sh. The SSH side is tested against a real sshd by tests/integration/ssh-runner.sh. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <time.h>

#include "core/base/shell.h"
#include "core/base/timeutil.h"
#include "orchestrator/runner.h"
#include "tests/unit/test.h"

#define SEC 1000000LL

static const YbRunTarget local = { .local = true };

static int run_sh(const YbRunTarget *t, const char *script, int64_t timeout, int cancel_fd,
                  YbRunResult *r) {
        char *argv[] = { (char *) "sh", (char *) "-c", (char *) script, NULL };

        return yb_run(t, argv, NULL, timeout, cancel_fd, r);
}

static int count_fds(void) {
        int n = test_count_entries(AT_FDCWD, "/proc/self/fd");

        ASSERT_GT(n, 0);
        return n;
}

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 };

        nanosleep(&ts, NULL);
}

/* Waits (bounded) for path to exist and hold a number; returns it. */
static pid_t wait_pid_file(const char *path) {
        for (int i = 0; i < 3000; i++) {
                FILE *f = fopen(path, "re");
                int pid = 0;

                if (f) {
                        int k = fscanf(f, "%d", &pid);

                        fclose(f);
                        if (k == 1 && pid > 0)
                                return pid;
                }
                sleep_ms(10);
        }
        fail_msg("'%s' did not appear within 30 s", path);
        return -1;
}

/* True once pid is gone or a zombie (dead, waiting for init to reap it); waits up to 10 s. */
static bool process_gone(pid_t pid) {
        for (int i = 0; i < 1000; i++) {
                char path[64], buf[512];
                FILE *f;

                snprintf(path, sizeof(path), "/proc/%d/stat", (int) pid);
                f = fopen(path, "re");
                if (!f)
                        return true;
                if (fgets(buf, sizeof(buf), f)) {
                        const char *p = strrchr(buf, ')');

                        if (p && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X')) {
                                fclose(f);
                                return true;
                        }
                }
                fclose(f);
                sleep_ms(10);
        }
        return false;
}

TEST(exit_status_and_both_streams) {
        YbRunResult r;

        ASSERT_OK(run_sh(&local, "printf 'to stdout'; printf 'to stderr' >&2; exit 7", 0, -1, &r));
        ASSERT_EQ(r.exit_status, 7);
        ASSERT_EQ(r.signal, 0);
        ASSERT_FALSE(r.timed_out);
        ASSERT_FALSE(r.cancelled);
        ASSERT_STREQ(r.out, "to stdout");
        ASSERT_EQ(r.out_size, 9);
        ASSERT_STREQ(r.err, "to stderr");
        ASSERT_FALSE(r.err_truncated);
        yb_run_result_done(&r);

        ASSERT_OK(run_sh(&local, "exit 0", 0, -1, &r));
        ASSERT_EQ(r.exit_status, 0);
        ASSERT_EQ(r.out_size, 0);
        ASSERT_STREQ(r.out, "");
        yb_run_result_done(&r);
}

TEST(signal_is_reported) {
        YbRunResult r;

        ASSERT_OK(run_sh(&local, "kill -USR1 $$", 0, -1, &r));
        ASSERT_EQ(r.signal, SIGUSR1);
        ASSERT_EQ(r.exit_status, -1);
        yb_run_result_done(&r);
}

TEST(binary_output_kept_exactly) {
        YbRunResult r;

        ASSERT_OK(run_sh(&local, "printf 'a\\000b\\377'", 0, -1, &r));
        ASSERT_EQ(r.out_size, 4);
        ASSERT_MEMEQ(r.out, "a\0b\377", 4);
        yb_run_result_done(&r);
}

static char *seq_text(int from, int to, size_t *ret_size) {
        YbBuf b = YB_BUF_INIT;

        for (int i = from; i <= to; i++)
                ASSERT_OK(yb_buf_printf(&b, "%d\n", i));
        return (char *) yb_buf_steal(&b, ret_size);
}

/* Both pipes fill (far beyond 64 KiB) at the same time: no deadlock, nothing lost, and stderr
 * keeps its end. */
TEST(large_output_on_both_streams) {
        _cleanup_free_ char *out = NULL, *err = NULL;
        size_t out_n, err_n;
        YbRunResult r;

        out = seq_text(1, 700000, &out_n);
        err = seq_text(1, 300000, &err_n);
        ASSERT_OK(run_sh(&local, "seq 1 300000 >&2 & seq 1 700000; wait", 0, -1, &r));
        ASSERT_EQ(r.exit_status, 0);
        ASSERT_EQ(r.out_size, out_n);
        ASSERT_MEMEQ(r.out, out, out_n);
        ASSERT_TRUE(r.err_truncated);
        ASSERT_EQ(r.err_size, YB_RUN_ERR_KEEP);
        ASSERT_MEMEQ(r.err, err + err_n - YB_RUN_ERR_KEEP, YB_RUN_ERR_KEEP);
        ASSERT_EQ(r.err[r.err_size], '\0');
        yb_run_result_done(&r);
}

TEST(stdout_cap) {
        char script[128];
        YbRunResult r;

        /* Exactly the cap is fine. */
        snprintf(script, sizeof(script), "head -c %zu /dev/zero", YB_RUN_OUT_MAX);
        ASSERT_OK(run_sh(&local, script, 0, -1, &r));
        ASSERT_EQ(r.exit_status, 0);
        ASSERT_EQ(r.out_size, YB_RUN_OUT_MAX);
        yb_run_result_done(&r);

        /* One byte more is an error. */
        snprintf(script, sizeof(script), "head -c %zu /dev/zero", YB_RUN_OUT_MAX + 1);
        ASSERT_ERR(run_sh(&local, script, 0, -1, &r), EMSGSIZE);
        ASSERT_EQ(r.out_size, YB_RUN_OUT_MAX);
        ASSERT_TRUE(strstr(r.error, "more than 16 MiB") != NULL);
        yb_run_result_done(&r);

        /* And a command that would never stop writing is stopped. */
        ASSERT_ERR(run_sh(&local, "yes", 0, -1, &r), EMSGSIZE);
        ASSERT_EQ(r.out_size, YB_RUN_OUT_MAX);
        ASSERT_TRUE(r.signal == SIGTERM || r.signal == SIGPIPE);
        yb_run_result_done(&r);
}

TEST(timeout_stops_the_command_and_its_children) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *script = NULL, *kid = test_tmpdir_path(d, "kid"),
                            *main_pid = test_tmpdir_path(d, "main");
        int64_t start = yb_monotonic_ns();
        YbRunResult r;

        ASSERT_GT(asprintf(&script, "sleep 1000 & echo $! >%s; echo $$ >%s; wait", kid, main_pid),
                  0);
        ASSERT_ERR(run_sh(&local, script, 2 * SEC, -1, &r), ETIMEDOUT);
        ASSERT_GE(yb_monotonic_ns() - start, 2 * YB_NSEC_PER_SEC);
        ASSERT_TRUE(r.timed_out);
        ASSERT_FALSE(r.cancelled);
        ASSERT_EQ(r.signal, SIGTERM);
        ASSERT_TRUE(strstr(r.error, "'sh' did not end within the timeout of 2 s") != NULL);
        ASSERT_TRUE(process_gone(wait_pid_file(main_pid)));
        ASSERT_TRUE(process_gone(wait_pid_file(kid)));
        yb_run_result_done(&r);
}

typedef struct Canceller {
        const char *wait_for; /* a file the command writes once it is ready */
        int fd;               /* the eventfd to signal */
} Canceller;

static void *cancel_when_ready(void *p) {
        Canceller *c = p;

        (void) wait_pid_file(c->wait_for);
        ASSERT_EQ(eventfd_write(c->fd, 1), 0);
        return NULL;
}

TEST(cancel_fd_stops_the_command) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *script = NULL, *kid = test_tmpdir_path(d, "kid");
        _cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC);
        Canceller c = { .wait_for = kid, .fd = efd };
        YbRunResult r;
        pthread_t th;

        ASSERT_GE(efd, 0);
        ASSERT_GT(asprintf(&script, "sleep 1000 & echo $! >%s; wait", kid), 0);
        ASSERT_EQ(pthread_create(&th, NULL, cancel_when_ready, &c), 0);
        ASSERT_ERR(run_sh(&local, script, 600 * SEC, efd, &r), ECANCELED);
        ASSERT_EQ(pthread_join(th, NULL), 0);
        ASSERT_TRUE(r.cancelled);
        ASSERT_FALSE(r.timed_out);
        ASSERT_TRUE(strstr(r.error, "cancelled") != NULL);
        ASSERT_TRUE(process_gone(wait_pid_file(kid)));
        yb_run_result_done(&r);
}

TEST(cancelled_before_it_starts_runs_nothing) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *script = NULL, *marker = test_tmpdir_path(d, "ran");
        _cleanup_close_ int efd = eventfd(1, EFD_CLOEXEC);
        YbRunResult r;

        ASSERT_GT(asprintf(&script, "touch %s", marker), 0);
        ASSERT_ERR(run_sh(&local, script, 0, efd, &r), ECANCELED);
        ASSERT_TRUE(r.cancelled);
        ASSERT_EQ(access(marker, F_OK), -1);
        yb_run_result_done(&r);
}

/* SIGTERM ignored: SIGKILL follows after the grace. */
TEST(sigkill_after_the_grace) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *script = NULL, *ready = test_tmpdir_path(d, "ready");
        _cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC);
        YbRunTarget t = { .local = true, .kill_grace_usec = SEC };
        Canceller c = { .wait_for = ready, .fd = efd };
        int64_t start;
        YbRunResult r;
        pthread_t th;

        ASSERT_GT(asprintf(&script, "trap '' TERM; echo $$ >%s; exec sleep 1000", ready), 0);
        ASSERT_EQ(pthread_create(&th, NULL, cancel_when_ready, &c), 0);
        start = yb_monotonic_ns();
        ASSERT_ERR(run_sh(&t, script, 0, efd, &r), ECANCELED);
        ASSERT_EQ(pthread_join(th, NULL), 0);
        ASSERT_EQ(r.signal, SIGKILL);
        ASSERT_GE(yb_monotonic_ns() - start, YB_NSEC_PER_SEC);
        yb_run_result_done(&r);
}

/* What the command leaves running in its process group dies with it, so that nothing holds
 * the output open; what escapes the group (setsid) is waited for no longer than the grace. */
TEST(leftovers_are_killed) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *script = NULL, *kid = test_tmpdir_path(d, "kid");
        YbRunTarget t = { .local = true, .kill_grace_usec = SEC };
        int64_t start;
        YbRunResult r;
        pid_t pid;

        ASSERT_GT(asprintf(&script, "sleep 1000 & echo $! >%s; echo done", kid), 0);
        ASSERT_OK(run_sh(&t, script, 600 * SEC, -1, &r));
        ASSERT_EQ(r.exit_status, 0);
        ASSERT_STREQ(r.out, "done\n");
        ASSERT_TRUE(process_gone(wait_pid_file(kid)));
        yb_run_result_done(&r);
        ASSERT_OK(unlink(kid));

        free(script);
        /* The command waits until its child has left the group, so that the kill at its end
         * cannot come first. */
        ASSERT_GT(asprintf(&script,
                           "setsid sh -c 'echo $$ >%s; exec sleep 1000' & "
                           "until [ -s %s ]; do sleep 0.01; done; echo done",
                           kid, kid),
                  0);
        start = yb_monotonic_ns();
        ASSERT_OK(run_sh(&t, script, 600 * SEC, -1, &r));
        ASSERT_GE(yb_monotonic_ns() - start, YB_NSEC_PER_SEC); /* it waited the grace */
        ASSERT_EQ(r.exit_status, 0);
        ASSERT_STREQ(r.out, "done\n");
        pid = wait_pid_file(kid);
        ASSERT_EQ(kill(pid, 0), 0);       /* still running: it left the group */
        ASSERT_EQ(kill(pid, SIGKILL), 0); /* ours to clean up: it left the group */
        yb_run_result_done(&r);
}

TEST(environment_additions) {
        char *env[] = { (char *) "YB_RUN_TEST=a b", (char *) "HOME=/nonexistent-yb", NULL };
        char *argv[] = { (char *) "sh", (char *) "-c",
                         (char *) "printf '%s|%s|%s' \"$YB_RUN_TEST\" \"$HOME\" "
                                  "\"$YB_RUN_INHERITED\"",
                         NULL };
        char *bad[] = { (char *) "NOEQUALS", NULL };
        YbRunResult r;

        ASSERT_OK(setenv("YB_RUN_INHERITED", "inherited", 1));
        ASSERT_OK(setenv("HOME", "/root-before", 1));
        ASSERT_OK(yb_run(&local, argv, env, 0, -1, &r));
        ASSERT_STREQ(r.out, "a b|/nonexistent-yb|inherited");
        yb_run_result_done(&r);

        ASSERT_ERR(yb_run(&local, argv, bad, 0, -1, &r), EINVAL);
        ASSERT_TRUE(strstr(r.error, "'NOEQUALS' is not NAME=VALUE") != NULL);
        yb_run_result_done(&r);
}

TEST(missing_program_is_a_clear_error) {
        char *argv[] = { (char *) "yb-no-such-program", (char *) "--json", NULL };
        int fds = count_fds();
        YbRunResult r;

        ASSERT_ERR(yb_run(&local, argv, NULL, 0, -1, &r), ENOENT);
        ASSERT_TRUE(strstr(r.error, "program 'yb-no-such-program' not found in PATH") != NULL);
        ASSERT_EQ(count_fds(), fds);
        ASSERT_EQ(waitpid(-1, NULL, WNOHANG), -1);
        ASSERT_EQ(errno, ECHILD);
        yb_run_result_done(&r);
}

TEST(stdin_is_dev_null) {
        YbRunResult r;

        ASSERT_OK(run_sh(&local, "cat; readlink /proc/self/fd/0", 10 * SEC, -1, &r));
        ASSERT_STREQ(r.out, "/dev/null\n");
        yb_run_result_done(&r);
}

/* The child gets 0, 1 and 2 only, even an fd this process opened without O_CLOEXEC; and
 * yb_run leaves no fd behind here. */
TEST(no_fd_leaks) {
        _cleanup_close_ int leak = -EBADF;
        int fds, nul = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
        YbRunResult r;

        ASSERT_GE(nul, 0);
        leak = dup2(nul, 50);
        close(nul);
        ASSERT_EQ(leak, 50);
        fds = count_fds();
        ASSERT_OK(run_sh(&local,
                         "for f in /proc/$$/fd/*; do [ -e \"$f\" ] && echo \"${f##*/}\"; done", 0,
                         -1, &r));
        ASSERT_TRUE(strstr(r.out, "0\n1\n") == r.out);
        ASSERT_TRUE(strstr(r.out, "\n2\n") != NULL);
        ASSERT_TRUE(strstr(r.out, "\n50\n") == NULL);
        for (int f = 3; f <= 9; f++) {
                char s[8];

                snprintf(s, sizeof(s), "\n%d\n", f);
                if (strstr(r.out, s))
                        fail_msg("fd %d reached the child: %s", f, r.out);
        }
        yb_run_result_done(&r);
        ASSERT_EQ(count_fds(), fds);
}

typedef struct Worker {
        int id, failures;
} Worker;

static void *worker(void *p) {
        Worker *w = p;

        for (int i = 0; i < 8; i++) {
                size_t n = (size_t) (w->id * 100000 + i * 7919 + 1);
                char script[160];
                YbRunResult r;
                int k;

                snprintf(script, sizeof(script),
                         "head -c %zu /dev/zero | tr '\\0' x; echo worker %d >&2; exit %d", n,
                         w->id, w->id * 10 + i);
                k = run_sh(&local, script, 120 * SEC, -1, &r);
                if (k < 0 || r.exit_status != w->id * 10 + i || r.out_size != n ||
                    r.out[0] != 'x' || r.out[n - 1] != 'x' || r.err_size != 9 ||
                    strncmp(r.err, "worker ", 7) != 0 || r.err[7] != '0' + w->id) {
                        fprintf(stderr, "worker %d run %d: k=%d status=%d size=%zu err=%s\n", w->id,
                                i, k, r.exit_status, r.out_size, r.err ? r.err : "");
                        w->failures++;
                }
                yb_run_result_done(&r);
        }
        return NULL;
}

TEST(concurrent_runs_from_four_threads) {
        Worker w[4];
        pthread_t th[4];
        int fds = count_fds();

        for (int i = 0; i < 4; i++) {
                w[i] = (Worker){ .id = i + 1 };
                ASSERT_EQ(pthread_create(&th[i], NULL, worker, &w[i]), 0);
        }
        for (int i = 0; i < 4; i++) {
                ASSERT_EQ(pthread_join(th[i], NULL), 0);
                ASSERT_EQ(w[i].failures, 0);
        }
        ASSERT_EQ(count_fds(), fds);
        /* Every child was reaped: none is left, not even a zombie. */
        ASSERT_EQ(waitpid(-1, NULL, WNOHANG), -1);
        ASSERT_EQ(errno, ECHILD);
}

TEST(bad_arguments) {
        char *empty[] = { NULL };
        YbRunTarget ssh = { .host = "example.org" };
        char *argv[] = { (char *) "true", NULL };
        YbRunResult r;

        ASSERT_ERR(yb_run(&local, empty, NULL, 0, -1, &r), EINVAL);
        yb_run_result_done(&r);
        ASSERT_ERR(yb_run(&ssh, argv, NULL, 0, -1, &r), EINVAL);
        ASSERT_TRUE(strstr(r.error, "host example.org:22: an SSH target needs") == r.error);
        yb_run_result_done(&r);
}

static char *quoted(const char *s) {
        YbBuf b = YB_BUF_INIT;
        size_t n;

        ASSERT_OK(yb_shell_quote(&b, s));
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        return (char *) yb_buf_steal(&b, &n);
}

/* Every string comes back unchanged through a real sh. */
TEST(shell_quote_round_trip) {
        static const char *const words[] = {
                "plain",       "",          "a b",   "it's", "''",       "$HOME", "`id`",
                "$(id)",       "\\",        "*",     "~",    "#comment", "-n",    "a=b",
                "line\nbreak", "tab\there", "Grüße", "\"",   "!x",       "a;b",   "x|y&z",
                "{a,b}",       "[ab]",      "%s",    ">out", "\001\177",
        };
        YbBuf script = YB_BUF_INIT, want = YB_BUF_INIT;
        _cleanup_free_ char *plain = quoted("abc-1.2/x:y@z%,+_"), *empty = quoted(""),
                            *q = quoted("it's");
        YbRunResult r;

        ASSERT_STREQ(plain, "abc-1.2/x:y@z%,+_");
        ASSERT_STREQ(empty, "''");
        ASSERT_STREQ(q, "'it'\\''s'");
        ASSERT_OK(yb_buf_printf(&script, "printf '%%s\\n'"));
        for (size_t i = 0; i < ELEMENTSOF(words); i++) {
                _cleanup_free_ char *w = quoted(words[i]);

                ASSERT_OK(yb_buf_printf(&script, " %s", w));
                ASSERT_OK(yb_buf_printf(&want, "%s\n", words[i]));
        }
        ASSERT_OK(yb_buf_append_u8(&script, 0));
        ASSERT_OK(run_sh(&local, (const char *) script.data, 0, -1, &r));
        ASSERT_EQ(r.exit_status, 0);
        ASSERT_EQ(r.out_size, want.size);
        ASSERT_MEMEQ(r.out, want.data, want.size);
        yb_run_result_done(&r);
        yb_buf_done(&script);
        yb_buf_done(&want);
}

static void collect_stream(void *ud, bool is_err, const char *data, size_t n) {
        YbBuf *b = ud;

        if (!is_err)
                ASSERT_OK(yb_buf_append(b, data, n));
}

/* yb_run_stream: the command reads what we write while it runs, its output comes as it writes
 * it, and closing our end is its EOF. */
TEST(stream_input_output_and_eof) {
        char *argv[] = { (char *) "sh", (char *) "-c",
                         (char *) "read a; echo got:$a; read b || echo eof; exit 3", NULL };
        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
        YbRunStream s = { .on_output = collect_stream, .userdata = &out };
        YbRunResult r;
        int p[2];

        ASSERT_OK(pipe2(p, O_CLOEXEC));
        s.input_fd = p[0];
        ASSERT_EQ(write(p[1], "hello\n", 6), 6);
        close(p[1]);
        ASSERT_OK(yb_run_stream(&local, argv, NULL, &s, -1, &r));
        ASSERT_EQ(r.exit_status, 3);
        ASSERT_OK(yb_buf_append_u8(&out, 0));
        ASSERT_STREQ((const char *) out.data, "got:hello\neof\n");
        ASSERT_EQ(r.out_size, 0u);
        yb_run_result_done(&r);
        close(p[0]);
}
