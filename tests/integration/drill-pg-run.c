/* tests/integration/drill-pg-run.c: yb-drill-pg, restore/drill-pg.c from the shell as a drill's
 * run calls it, for drill-pg.sh: starts the clusters a sandbox's checks need, runs a command
 * with the variables a drill's check gets, runs the queries, stops everything.
 *
 *   yb-drill-pg SANDBOX TIMEOUT_SECONDS COMMAND CHECK...
 *
 * CHECK is "NAME|MODE|DATABASE|MIN|QUERY". COMMAND runs under /bin/sh between the start and the
 * queries ("" for none). Prints "running: WHAT" (what started), then "value NAME VALUE" or
 * "failed NAME ERROR" per check. Exits 0
 * when all passed, 1 when the clusters did not start ("start: ERROR"), 2 when a check failed,
 * 3 when COMMAND failed, 64 on bad usage. SIGTERM stops it as a signal stops a drill. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "restore/drill-pg.h"

static volatile sig_atomic_t stop;

static void on_term(int sig) {
        (void) sig;
        stop = 1;
}

int main(int argc, char **argv) {
        struct sigaction sa = { .sa_handler = on_term };
        YbDrillPgCheck *checks;
        YbDrillPgResult *results;
        YbDrillPg *pg = NULL;
        char *error = NULL, **env = NULL;
        size_t n, n_env = 0;
        int r, code = 0;

        setvbuf(stdout, NULL, _IOLBF, 0);
        if (argc < 5) {
                fprintf(stderr, "usage: yb-drill-pg SANDBOX TIMEOUT_SECONDS COMMAND CHECK...\n");
                return 64;
        }
        n = (size_t) argc - 4;
        checks = calloc(n, sizeof(*checks));
        results = calloc(n, sizeof(*results));
        if (!checks || !results)
                return 1;
        for (size_t i = 0; i < n; i++) {
                char *f[5], *s = argv[4 + i];

                for (int k = 0; k < 4; k++) {
                        f[k] = s;
                        s = strchr(s, '|');
                        if (!s) {
                                fprintf(stderr, "bad check '%s'\n", argv[4 + i]);
                                return 64;
                        }
                        *s++ = 0;
                }
                f[4] = s;
                checks[i] = (YbDrillPgCheck){ .name = f[0],
                                              .mode = f[1],
                                              .database = f[2],
                                              .min = strtoll(f[3], NULL, 10),
                                              .query = f[4] };
        }
        (void) sigaction(SIGTERM, &sa, NULL); /* a drill's run stops its phase on a signal */
        r = yb_drill_pg_start_stoppable(argv[1], checks, n, strtoll(argv[2], NULL, 10) * 1000000LL,
                                        &stop, &pg, &error);
        if (r < 0) {
                printf("start: %s\n", error ? error : "?");
                free(error);
                free(checks);
                free(results);
                pg = yb_drill_pg_stop(pg);
                return 1;
        }
        if (yb_drill_pg_env(pg, &env, &n_env) < 0 || yb_drill_pg_describe(pg, &error) < 0)
                return 1;
        printf("running: %s\n", error);
        free(error);
        error = NULL;
        if (argv[3][0]) {
                pid_t pid = fork();
                int status;

                if (pid == 0) {
                        for (size_t i = 0; i < n_env; i++)
                                putenv(env[i]);
                        execl("/bin/sh", "sh", "-c", argv[3], (char *) NULL);
                        _exit(127);
                }
                if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
                    WEXITSTATUS(status) != 0)
                        code = 3;
        }
        r = yb_drill_pg_query(pg, checks, n, results, &error);
        if (r < 0) {
                printf("query: %s\n", error ? error : "?");
                code = 1;
        }
        for (size_t i = 0; r >= 0 && i < n; i++) {
                if (results[i].ok)
                        printf("value %s %lld\n", checks[i].name, (long long) results[i].value);
                else {
                        printf("failed %s %s\n", checks[i].name, results[i].error);
                        if (code == 0)
                                code = 2;
                }
                yb_drill_pg_result_done(&results[i]);
        }
        pg = yb_drill_pg_stop(pg);
        for (size_t i = 0; i < n_env; i++)
                free(env[i]);
        free(env);
        free(error);
        free(checks);
        free(results);
        return code;
}
