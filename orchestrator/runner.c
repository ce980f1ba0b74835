/* orchestrator/runner.c: yb_run: checks its arguments, gives up before starting when already
 * cancelled, hands the command to a transport (runner-local.c or runner-ssh.c) and moves what
 * it collected into the result (run.c). */
#include "orchestrator/runner.h"

#include <poll.h>
#include <stdio.h>

#include "orchestrator/runner-local.h"
#include "orchestrator/runner-ssh.h"

static bool fd_readable(int fd) {
        struct pollfd p = { .fd = fd, .events = POLLIN };

        return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

/* NAME=VALUE, NAME of letters, digits and '_', not starting with a digit. */
static bool env_entry_valid(const char *e) {
        size_t n = strcspn(e, "=");

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

static int run_with(const YbRunTarget *t, char *const argv[], char *const env[],
                    int64_t timeout_usec, int cancel_fd, const YbRunStream *stream,
                    YbRunResult *r) {
        OrchRun run = {
                .stream = stream,
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
        run.grace = (t->kill_grace_usec > 0 ? t->kill_grace_usec : YB_RUN_KILL_GRACE_USEC_DEFAULT);

        if (!t->local) {
                const char *h = t->host ? t->host : "";

                snprintf(run.where, sizeof(run.where),
                         strchr(h, ':') ? "host [%s]:%d: " : "host %s:%d: ", h,
                         t->port > 0 ? t->port : 22);
                if (!t->host || !*t->host || !t->user || !*t->user || !t->key_file ||
                    !t->known_hosts)
                        return orch_run_fail(&run, EINVAL,
                                             "an SSH target needs a user, a host, a key file and a "
                                             "known hosts file");
                if (t->port < 0 || t->port > 65535)
                        return orch_run_fail(&run, EINVAL, "port %d is out of range", t->port);
        }
        if (!argv[0] || !*argv[0])
                return orch_run_fail(&run, EINVAL, "no command given");
        if (timeout_usec < 0)
                return orch_run_fail(&run, EINVAL, "negative timeout");
        for (size_t i = 0; env && env[i]; i++)
                if (!env_entry_valid(env[i]))
                        return orch_run_fail(&run, EINVAL,
                                             "environment entry '%s' is not NAME=VALUE (NAME of "
                                             "letters, digits and '_')",
                                             env[i]);
        if (!t->local && env && env[0] && strchr(argv[0], '='))
                /* `env` would take it for one more variable. */
                return orch_run_fail(&run, EINVAL, "program name '%s' contains '='", argv[0]);

        if (timeout_usec > 0)
                run.deadline = orch_add_sat(yb_monotonic_usec(), timeout_usec);
        if (cancel_fd >= 0 && fd_readable(cancel_fd)) {
                r->cancelled = true;
                return orch_run_fail(&run, ECANCELED,
                                     "'%s' was cancelled before it started; nothing was run",
                                     run.what);
        }
        run.chunk = malloc(ORCH_RUN_READ_CHUNK);
        if (!run.chunk)
                return orch_run_fail(&run, ENOMEM, "Out of memory");

        k = t->local ? orch_run_local(&run, argv, env) : orch_run_ssh(&run, t, argv, env);

        free(run.chunk);
        q = orch_run_finish_output(&run);
        yb_buf_done(&run.out);
        yb_buf_done(&run.err);
        if (q < 0 && k >= 0)
                return orch_run_fail(&run, q, "Out of memory");
        return k;
}

int yb_run(const YbRunTarget *t, char *const argv[], char *const env[], int64_t timeout_usec,
           int cancel_fd, YbRunResult *r) {
        return run_with(t, argv, env, timeout_usec, cancel_fd, NULL, r);
}

int yb_run_stream(const YbRunTarget *t, char *const argv[], char *const env[], const YbRunStream *s,
                  int cancel_fd, YbRunResult *r) {
        assert(s && s->on_output && s->input_fd >= 0);
        return run_with(t, argv, env, 0, cancel_fd, s, r);
}
