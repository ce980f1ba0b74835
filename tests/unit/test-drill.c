/* A drill's check command (restore/drill-check.c) and its stopwatch (restore/drill-clock.c):
 * the exit status and the output kept (stdout and stderr in order, the last 4096 bytes and
 * whether more was said), the sandbox as the working directory with the variables given, the
 * timeout and the drill's stop ending the whole process group, the drill's own environment
 * (YUNBAK_*, YB_*, PG*) not passed on, and the test hook that makes every phase last exactly N
 * ms. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/timeutil.h"
#include "restore/drill-run.h"
#include "tests/unit/test.h"

static char *sandbox(void) {
        char tmpl[] = "/tmp/test-drill-XXXXXX";
        char *d = mkdtemp(tmpl);

        assert_non_null(d);
        return strdup(d);
}

TEST(check_exit_status_and_output) {
        _cleanup_free_ char *dir = sandbox();
        YbDrillCheckResult c;

        ASSERT_OK(yb_drill_check_run("echo out; echo err >&2; echo again; exit 3", dir, NULL,
                                     10 * YB_USEC_PER_SEC, NULL, &c));
        ASSERT_TRUE(c.ran);
        ASSERT_TRUE(c.exited);
        ASSERT_EQ(c.exit_code, 3);
        ASSERT_FALSE(c.timed_out);
        ASSERT_STREQ(c.output, "out\nerr\nagain\n");
        ASSERT_FALSE(c.output_truncated);
        yb_drill_check_result_done(&c);
        rmdir(dir);
}

TEST(check_runs_in_the_sandbox_with_its_variables) {
        _cleanup_free_ char *dir = sandbox();
        _cleanup_free_ char *want = NULL, *var = NULL;
        char *env[] = { NULL, (char *) "HOME=/nonexistent-drill-home", NULL };
        YbDrillCheckResult c;

        ASSERT_OK(asprintf(&var, "YUNBAK_DRILL_SANDBOX=%s", dir));
        env[0] = var;
        ASSERT_OK(asprintf(&want, "%s\n%s\n/nonexistent-drill-home\n", dir, dir));
        ASSERT_OK(yb_drill_check_run("pwd -P; echo \"$YUNBAK_DRILL_SANDBOX\"; echo \"$HOME\"; "
                                     "read x && echo stdin-had-something",
                                     dir, env, 10 * YB_USEC_PER_SEC, NULL, &c));
        ASSERT_STREQ(c.output, want);
        /* stdin is /dev/null: read fails, so the last command's status is the exit status */
        ASSERT_EQ(c.exit_code, 1);
        yb_drill_check_result_done(&c);
        rmdir(dir);
}

TEST(check_keeps_the_last_4096_bytes) {
        _cleanup_free_ char *dir = sandbox();
        YbDrillCheckResult c;
        size_t n;

        /* 10000 'a', then the end that must be kept */
        ASSERT_OK(yb_drill_check_run("i=0; while [ $i -lt 100 ]; do printf '%0100d' 0 | tr 0 a; "
                                     "i=$((i+1)); done; echo THE-END",
                                     dir, NULL, 10 * YB_USEC_PER_SEC, NULL, &c));
        ASSERT_EQ(c.exit_code, 0);
        ASSERT_TRUE(c.output_truncated);
        n = strlen(c.output);
        ASSERT_EQ(n, YB_DRILL_OUTPUT_MAX);
        ASSERT_STREQ(c.output + n - 8, "THE-END\n");
        ASSERT_EQ(c.output[0], 'a');
        yb_drill_check_result_done(&c);
        rmdir(dir);
}

TEST(check_timeout_stops_the_group) {
        _cleanup_free_ char *dir = sandbox();
        YbDrillCheckResult c;

        /* The background sleep holds the output pipe: only the group's end releases it. */
        ASSERT_OK(yb_drill_check_run("sleep 120 & echo started; sleep 120", dir, NULL,
                                     200 * YB_USEC_PER_MSEC, NULL, &c));
        ASSERT_TRUE(c.timed_out);
        ASSERT_FALSE(c.exited);
        ASSERT_EQ(c.signal, SIGTERM);
        ASSERT_STREQ(c.output, "started\n");
        yb_drill_check_result_done(&c);
        rmdir(dir);
}

TEST(check_stopped_by_the_drill) {
        _cleanup_free_ char *dir = sandbox();
        volatile sig_atomic_t stop = 1;
        YbDrillCheckResult c;

        ASSERT_OK(yb_drill_check_run("sleep 120", dir, NULL, 60 * YB_USEC_PER_SEC, &stop, &c));
        ASSERT_TRUE(c.stopped);
        ASSERT_FALSE(c.timed_out);
        ASSERT_FALSE(c.exited);
        yb_drill_check_result_done(&c);
        rmdir(dir);
}

TEST(check_in_a_missing_sandbox_does_not_start) {
        YbDrillCheckResult c = { 0 };

        ASSERT_ERR(yb_drill_check_run("true", "/nonexistent-drill-sandbox", NULL, YB_USEC_PER_SEC,
                                      NULL, &c),
                   ENOENT);
        ASSERT_FALSE(c.ran);
}

TEST(stopwatch_test_hook) {
        YbStopwatch s;

        ASSERT_OK(setenv("YUNBAK_TEST_STOPWATCH_MS", "1234", 1));
        yb_stopwatch_start(&s);
#ifdef YB_FAULT_INJECTION
        ASSERT_EQ(yb_stopwatch_ms(&s), 1234);
#else
        /* a release build: the person who runs a drill does not choose its figures */
        ASSERT_EQ(s.fixed_ms, -1);
        ASSERT_LT(yb_stopwatch_ms(&s), 1234);
#endif
        ASSERT_OK(unsetenv("YUNBAK_TEST_STOPWATCH_MS"));
        yb_stopwatch_start(&s);
        ASSERT_GE(yb_stopwatch_ms(&s), 0);
        ASSERT_LT(yb_stopwatch_ms(&s), 60 * 1000);
        /* rounded up: a phase that began is never 0 ms */
        ASSERT_GE(yb_stopwatch_ms(&s), 1);
}

TEST(text_clean_makes_record_text) {
        char s[64];

        /* an invalid byte, a cut character, ESC, CR LF, a lone CR, a C1 control (U+0085) */
        snprintf(s, sizeof(s), "a\xff b\xe4\xba \x1b[1m\r\nx\ry\xc2\x85z\tend\n");
        yb_drill_text_clean(s, sizeof(s));
        ASSERT_STREQ(s, "a? b?? ?[1m\nx?y?z\tend\n");
        /* cut at a character's start: 人 is 3 bytes */
        snprintf(s, sizeof(s), "ab人事");
        yb_drill_text_clean(s, 4);
        ASSERT_STREQ(s, "ab");
        yb_drill_text_clean(s, 0);
        ASSERT_STREQ(s, "");
}

TEST(check_output_is_text) {
        _cleanup_free_ char *dir = sandbox();
        YbDrillCheckResult c;

        ASSERT_OK(yb_drill_check_run("printf 'ok\\000\\033[31m人\\r\\n'", dir, NULL,
                                     10 * YB_USEC_PER_SEC, NULL, &c));
        ASSERT_STREQ(c.output, "ok??[31m人\n");
        yb_drill_check_result_done(&c);
        rmdir(dir);
}

TEST(check_inherits_no_yunbak_nor_pg_variables) {
        _cleanup_free_ char *dir = sandbox();
        char *env[] = { (char *) "YUNBAK_DRILL_SYSTEM=hr-portal", (char *) "PGPORT=5999", NULL };
        YbDrillCheckResult c;

        /* what the drill's own environment may hold: where the passphrase is, yunbakd's
         * socket, a password and a database of someone else's PostgreSQL */
        ASSERT_OK(setenv("YUNBAK_PASSPHRASE_FILE", "/etc/yunbak/hr.pass", 1));
        ASSERT_OK(setenv("YUNBAK_SOCKET", "/run/yunbak/yunbakd.sock", 1));
        ASSERT_OK(setenv("PGPASSWORD", "s3cret", 1));
        ASSERT_OK(setenv("PGDATABASE", "production", 1));
        ASSERT_OK(yb_drill_check_run("env | grep -E '^(YUNBAK|YB|PG)' | sort", dir, env,
                                     10 * YB_USEC_PER_SEC, NULL, &c));
        ASSERT_STREQ(c.output, "PGPORT=5999\nYUNBAK_DRILL_SYSTEM=hr-portal\n");
        yb_drill_check_result_done(&c);
        ASSERT_OK(unsetenv("YUNBAK_PASSPHRASE_FILE"));
        ASSERT_OK(unsetenv("YUNBAK_SOCKET"));
        ASSERT_OK(unsetenv("PGPASSWORD"));
        ASSERT_OK(unsetenv("PGDATABASE"));
        rmdir(dir);
}

TEST(check_leaves_no_daemon) {
        _cleanup_free_ char *dir = sandbox(), *pidfile = NULL;
        YbDrillCheckResult c;
        char buf[32] = "";
        FILE *f;
        pid_t pid;

        /* A daemon the usual way: forked twice, a session of its own (out of the check's
         * group), SIGTERM ignored, its output away from the check's pipe; the check ends as
         * soon as it runs. */
        ASSERT_OK(yb_drill_check_run(
                "( setsid sh -c 'trap \"\" TERM; echo $$ >daemon.pid.tmp; "
                "mv daemon.pid.tmp daemon.pid; exec sleep 300' </dev/null >/dev/null 2>&1 & ); "
                "i=0; while [ ! -s daemon.pid ] && [ $i -lt 1000 ]; do sleep 0.01; i=$((i+1)); "
                "done; "
                "cat daemon.pid",
                dir, NULL, 30 * YB_USEC_PER_SEC, NULL, &c));
        ASSERT_EQ(c.exit_code, 0);
        ASSERT_OK(asprintf(&pidfile, "%s/daemon.pid", dir));
        f = fopen(pidfile, "re");
        ASSERT_TRUE(f != NULL);
        ASSERT_TRUE(fgets(buf, sizeof(buf), f) != NULL);
        fclose(f);
        pid = (pid_t) atoi(buf);
        ASSERT_GT(pid, 1);
        if (kill(pid, 0) == 0) {
                (void) kill(pid, SIGKILL);
                fail_msg("the check's daemon %d outlived it", (int) pid);
        }
        ASSERT_EQ(errno, ESRCH);
        yb_drill_check_result_done(&c);
        unlink(pidfile);
        rmdir(dir);
}
