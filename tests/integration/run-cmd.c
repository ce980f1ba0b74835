/* yb-run: runs one command through yb_run (orchestrator/runner.c) and prints the result as
 * JSON, for ssh-runner.sh.
 *
 *   yb-run [--ssh USER@HOST[:PORT]] [--key FILE] [--known-hosts FILE] [--timeout SEC]
 *          [--connect-timeout SEC] [--grace SEC] [--env NAME=VALUE]... [--sizes-only]
 *          -- PROGRAM [ARG...]
 *
 * Without --ssh the command runs here. SIGUSR1 cancels the run (through yb_run's cancel_fd).
 * Prints {"ret", "errno", "error", "exit_status", "signal", "timed_out", "cancelled",
 * "stdout", "stdout_size", "stderr", "stderr_size", "stderr_truncated", "elapsed_ms"} (with
 * --sizes-only, or when not UTF-8, "stdout" and "stderr" are null). Exits 0 when yb_run
 * returned 0, 1 when it failed (its error also on stderr), 2 on a bad command line. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "orchestrator/runner.h"

static int cancel_write_fd = -1;

static void on_usr1(int sig) {
        int saved = errno;

        (void) !write(cancel_write_fd, "x", 1);
        errno = saved;
}

static int usage(void) {
        fprintf(stderr, "usage: yb-run [--ssh USER@HOST[:PORT]] [--key FILE] [--known-hosts FILE]\n"
                        "              [--timeout SEC] [--connect-timeout SEC] [--grace SEC]\n"
                        "              [--env NAME=VALUE]... [--sizes-only] -- PROGRAM [ARG...]\n");
        return 2;
}

static int parse_seconds(const char *s, int64_t *ret) {
        char *end;
        double d = strtod(s, &end);

        if (*end || d < 0 || d > 1e9)
                return -EINVAL;
        *ret = (int64_t) (d * 1e6);
        return 0;
}

/* USER@HOST[:PORT], HOST possibly "[v6]". Points into s (modified). */
static int parse_ssh(char *s, YbRunTarget *t) {
        char *at = strchr(s, '@'), *host, *colon;

        if (!at || at == s)
                return -EINVAL;
        *at = '\0';
        t->user = s;
        host = at + 1;
        if (*host == '[') {
                char *close = strchr(host, ']');

                if (!close)
                        return -EINVAL;
                *close = '\0';
                t->host = host + 1;
                colon = close[1] == ':' ? close + 1 : NULL;
        } else {
                t->host = host;
                colon = strchr(host, ':');
        }
        if (colon) {
                *colon = '\0';
                t->port = atoi(colon + 1);
        }
        return *t->host ? 0 : -EINVAL;
}

static json_t *text_or_null(const char *s, size_t n, int sizes_only) {
        json_t *j = sizes_only ? NULL : json_stringn(s, n);

        return j ? j : json_null();
}

int main(int argc, char **argv) {
        YbRunTarget t = { .local = true };
        YbRunResult res = { 0 };
        int64_t timeout = 0, start;
        char **env = calloc((size_t) argc + 1, sizeof(char *));
        size_t n_env = 0;
        int sizes_only = 0, p[2], i, r;
        json_t *o;

        if (!env)
                return 1;
        for (i = 1; i < argc; i++) {
                const char *a = argv[i];

                if (streq(a, "--")) {
                        i++;
                        break;
                }
                if (streq(a, "--sizes-only")) {
                        sizes_only = 1;
                        continue;
                }
                if (i + 1 >= argc)
                        return usage();
                if (streq(a, "--ssh")) {
                        t.local = false;
                        if (parse_ssh(argv[++i], &t) < 0)
                                return usage();
                } else if (streq(a, "--key"))
                        t.key_file = argv[++i];
                else if (streq(a, "--known-hosts"))
                        t.known_hosts = argv[++i];
                else if (streq(a, "--env"))
                        env[n_env++] = argv[++i];
                else if (streq(a, "--timeout")) {
                        if (parse_seconds(argv[++i], &timeout) < 0)
                                return usage();
                } else if (streq(a, "--connect-timeout")) {
                        if (parse_seconds(argv[++i], &t.connect_timeout_usec) < 0)
                                return usage();
                } else if (streq(a, "--grace")) {
                        if (parse_seconds(argv[++i], &t.kill_grace_usec) < 0)
                                return usage();
                } else
                        return usage();
        }
        if (i >= argc)
                return usage();

        if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
                return 1;
        cancel_write_fd = p[1];
        signal(SIGUSR1, on_usr1);

        yb_log_parse_env();
        start = yb_monotonic_ns();
        r = yb_run(&t, argv + i, n_env ? env : NULL, timeout, p[0], &res);
        o = json_pack("{s:i, s:o, s:o, s:i, s:i, s:b, s:b, s:o, s:I, s:o, s:I, s:b, s:I}", "ret", r,
                      "errno", r < 0 ? json_string(strerrorname_np(-r)) : json_null(), "error",
                      r < 0 ? json_string(res.error) : json_null(), "exit_status", res.exit_status,
                      "signal", res.signal, "timed_out", res.timed_out, "cancelled", res.cancelled,
                      "stdout", text_or_null(res.out, res.out_size, sizes_only), "stdout_size",
                      (json_int_t) res.out_size, "stderr",
                      text_or_null(res.err, res.err_size, sizes_only), "stderr_size",
                      (json_int_t) res.err_size, "stderr_truncated", res.err_truncated,
                      "elapsed_ms", (json_int_t) ((yb_monotonic_ns() - start) / 1000000));
        if (!o)
                return 1;
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
        json_decref(o);
        if (r < 0)
                fprintf(stderr, "yb-run: %s\n", res.error);
        yb_run_result_done(&res);
        free(env);
        return r < 0 ? 1 : 0;
}
