/* yunbak backup now --system ID [--level LEVEL] [--wait]: a tier-1 backup through yunbakd. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

/* How long --wait keeps trying while yunbakd cannot be reached (a restart) before giving up. */
#define LOST_CONTACT_USEC (60 * YB_USEC_PER_SEC)

static void usage(FILE *f) {
        fputs("Usage: yunbak backup now --system ID [--level full|differential|incremental]\n"
              "                         [--wait] [--socket PATH] [--json]\n"
              "\n"
              "Asks yunbakd to run a tier-1 backup of system ID now, and prints the job's id.\n"
              "The default level is incremental (a full when the system has none yet). yunbakd\n"
              "refuses (exit 8) when a tier-1 job of the system is already queued or running.\n"
              "\n"
              "With --wait, follows the job until it ends (a progress line on a terminal) and\n"
              "exits with its outcome: 0 succeeded, 3 partial (some files were skipped), 1\n"
              "failed or cancelled. Ctrl-C stops the waiting, not the job: it goes on in\n"
              "yunbakd ('yunbak jobs cancel JOB' cancels it).\n"
              "\n"
              "Options:\n"
              "  --system ID     the system (as in its policy)\n"
              "  --level LEVEL   full, differential (changes since the last full) or incremental\n"
              "  --wait          wait for the job to end\n" CLI_CTL_OPTIONS_HELP,
              f);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
        interrupted = 1;
}

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / YB_MSEC_PER_SEC,
                               .tv_nsec = (long) (ms % YB_MSEC_PER_SEC) * YB_NSEC_PER_MSEC };

        /* Returns early on Ctrl-C (EINTR), which is what the loop wants. */
        (void) nanosleep(&ts, NULL);
}

/* The progress line on a terminal, rewritten in place: "job 18: running for 1 min, 12 MiB
 * read". */
static void progress(bool tty, int64_t id, json_t *job, int64_t waited_usec, size_t *shown) {
        const char *state = cli_json_str(job, "state") ?: "?";
        int64_t started, bytes;
        char line[160], d[32], b[32];
        size_t n;

        if (!tty)
                return;
        if (cli_json_int(job, "started_usec", &started))
                snprintf(line, sizeof(line), "job %" PRId64 ": %s for %s", id, state,
                         cli_format_duration(cli_now_usec() - started, d));
        else
                snprintf(line, sizeof(line), "job %" PRId64 ": %s (waiting %s)", id, state,
                         cli_format_duration(waited_usec, d));
        n = strlen(line);
        if (cli_json_int(job, "bytes_read", &bytes) && bytes >= 0)
                snprintf(line + n, sizeof(line) - n, ", %s read",
                         yb_format_bytes((uint64_t) bytes, b));
        n = strlen(line);
        /* Spaces cover what is left of a longer earlier line. */
        fprintf(stderr, "\r%s%*s", line, *shown > n ? (int) (*shown - n) : 0, "");
        fflush(stderr);
        *shown = n;
}

static void progress_clear(bool tty, size_t *shown) {
        if (!tty || *shown == 0)
                return;
        fprintf(stderr, "\r%*s\r", (int) *shown, "");
        fflush(stderr);
        *shown = 0;
}

/* A job that failed an attempt and will try again: said once per attempt, with the error and
 * when the next one starts, so that a wait that seems to stall explains itself. */
static void say_retry(bool tty, size_t *shown, int64_t id, json_t *job, int64_t *reported) {
        _cleanup_free_ char *error = NULL;
        const char *state = cli_json_str(job, "state");
        int64_t attempt, next;
        char t[32], d[32];
        size_t n;

        if (!cli_json_int(job, "attempt", &attempt) || attempt <= *reported)
                return;
        progress_clear(tty, shown);
        error = cli_sanitize(cli_json_str(job, "error") ?: "no reason recorded");
        n = error ? strlen(error) : 0;
        while (n > 0 && error[n - 1] == '.')
                error[--n] = 0;
        fprintf(stderr, "Job %" PRId64 ": attempt %" PRId64 " failed: %s.", id, attempt - 1,
                error ?: "?");
        if (state && streq(state, "queued") && cli_json_int(job, "next_retry_usec", &next))
                fprintf(stderr, " Attempt %" PRId64 " starts at %s UTC (in %s).\n", attempt,
                        cli_format_time(next, t), cli_format_duration(next - cli_now_usec(), d));
        else
                fprintf(stderr, " Attempt %" PRId64 " runs now.\n", attempt);
        *reported = attempt;
}

static bool job_ended(const char *state) {
        return state && !streq(state, "queued") && !streq(state, "running");
}

/* The outcome, said once, and its exit status. */
static int report(int64_t id, json_t *job, bool json) {
        const char *state = cli_json_str(job, "state") ?: "?",
                   *snap = cli_json_str(job, "snapshot");
        _cleanup_free_ char *error = cli_sanitize(cli_json_str(job, "error") ?: "");
        size_t n;
        int64_t started, finished, stored, attempts;
        char took[80] = "", d[32], b[32];

        if (json)
                cli_json_print(job);
        else {
                if (cli_json_int(job, "started_usec", &started) &&
                    cli_json_int(job, "finished_usec", &finished))
                        snprintf(took, sizeof(took), " after %s",
                                 cli_format_duration(finished - started, d));
                if (cli_json_int(job, "attempt", &attempts) && attempts > 1)
                        snprintf(took + strlen(took), sizeof(took) - strlen(took),
                                 " and %" PRId64 " attempts", attempts);
                printf("Job %" PRId64 " %s%s", id, state, took);
                if (snap) {
                        printf(": %s%ssnapshot %s", cli_json_str(job, "level") ?: "",
                               cli_json_str(job, "level") ? " " : "", snap);
                        if (cli_json_int(job, "bytes_stored", &stored) && stored >= 0)
                                printf(" (%s stored)", yb_format_bytes((uint64_t) stored, b));
                }
                if (error && *error) {
                        /* The error is a sentence: one full stop ends the line. */
                        n = strlen(error);
                        while (n > 0 && error[n - 1] == '.')
                                error[--n] = 0;
                        printf("%s %s", snap ? ";" : ":", error);
                }
                fputs(".\n", stdout);
                if (cli_json_str(job, "level_note")) {
                        _cleanup_free_ char *note = cli_sanitize(cli_json_str(job, "level_note"));

                        printf("Its level: %s.\n", note ?: "?");
                }
                if (streq(state, "partial") && !(error && *error))
                        printf("Some files were skipped; yunbakd's log names them.\n");
        }
        if (streq(state, "succeeded"))
                return YB_EXIT_OK;
        if (streq(state, "partial"))
                return YB_EXIT_PARTIAL;
        return YB_EXIT_FAILED; /* failed, cancelled, or a state this yunbak does not know */
}

static int wait_for(const CliCtl *ctl, int64_t id, bool json) {
        _cleanup_free_ char *path = NULL;
        bool tty = isatty(STDERR_FILENO);
        struct sigaction sa = { .sa_handler = on_sigint }, old;
        int64_t t0 = cli_now_usec(), lost_since = 0, reported = 1;
        CliCtl quiet = *ctl;
        size_t shown = 0;
        int r = YB_EXIT_FAILED;

        if (asprintf(&path, "/v1/jobs/%" PRId64, id) < 0)
                return log_oom(), YB_EXIT_FAILED;
        /* No SA_RESTART: Ctrl-C interrupts the sleep and the request at once. */
        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, &old);
        quiet.quiet = true;
        while (!interrupted) {
                _cleanup_(json_decrefp) json_t *job = NULL;
                int status = 0;

                r = cli_ctl_request(&quiet, "GET", path, NULL, &status, &job);
                if (interrupted)
                        break;
                if (r == YB_EXIT_UNREACHABLE) {
                        /* yunbakd restarting: keep trying for a while, silently. */
                        if (lost_since == 0)
                                lost_since = cli_now_usec();
                        if (cli_now_usec() - lost_since > LOST_CONTACT_USEC) {
                                progress_clear(tty, &shown);
                                (void) cli_ctl_request(ctl, "GET", path, NULL, &status, &job);
                                log_error("Lost contact with yunbakd while waiting for job %" PRId64
                                          "; it may still be running ('yunbak jobs').",
                                          id);
                                break;
                        }
                } else if (r != 0) {
                        progress_clear(tty, &shown);
                        (void) cli_ctl_request(ctl, "GET", path, NULL, &status, &job);
                        break;
                } else if (status < 200 || status >= 300) {
                        progress_clear(tty, &shown);
                        r = cli_ctl_report_error(ctl, "GET", path, status, job);
                        break;
                } else {
                        lost_since = 0;
                        if (!json)
                                say_retry(tty, &shown, id, job, &reported);
                        if (job_ended(cli_json_str(job, "state"))) {
                                progress_clear(tty, &shown);
                                r = report(id, job, json);
                                break;
                        }
                        progress(tty, id, job, cli_now_usec() - t0, &shown);
                }
                /* Quick at first, for short jobs; then every half second. */
                sleep_ms(cli_now_usec() - t0 < 10 * YB_USEC_PER_SEC ? 250 : 500);
        }
        (void) sigaction(SIGINT, &old, NULL);
        if (interrupted) {
                progress_clear(tty, &shown);
                fprintf(stderr,
                        "Stopped waiting. Job %" PRId64 " goes on in yunbakd: 'yunbak jobs' shows "
                        "it, 'yunbak jobs cancel %" PRId64 "' cancels it.\n",
                        id, id);
                return 128 + SIGINT;
        }
        return r;
}

static int backup_now(int argc, char **argv) {
        static const struct option opts[] = {
                { "system", required_argument, NULL, 'S' },
                { "level", required_argument, NULL, 'l' },
                { "wait", no_argument, NULL, 'w' },
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *body = NULL, *answer = NULL;
        _cleanup_free_ char *path = NULL;
        const char *socket = NULL, *system = NULL, *level = NULL;
        bool json = false, wait = false;
        int64_t id = 0, other;
        CliCtl ctl;
        int c, r, status;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'S':
                        system = optarg;
                        break;
                case 'l':
                        level = optarg;
                        break;
                case 'w':
                        wait = true;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "backup now");
                        if (r >= 0)
                                return r;
                }
        }
        if (!system || optind != argc) {
                log_error("backup now needs --system ID (and no other arguments).");
                return cli_usage_error("backup now");
        }
        if (cli_check_system_id(system) != 0)
                return YB_EXIT_USAGE;
        if (level && !streq(level, "full") && !streq(level, "differential") &&
            !streq(level, "incremental")) {
                log_error("--level '%s' is not a level: use full, differential or incremental.",
                          level);
                return YB_EXIT_USAGE;
        }
        cli_ctl_init(&ctl, socket);
        body = level ? json_pack("{s:s}", "level", level) : NULL;
        if ((level && !body) || asprintf(&path, "/v1/systems/%s/backup", system) < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_request(&ctl, "POST", path, body, &status, &answer);
        if (r != 0)
                return r;
        if (status == 409 && cli_json_int(answer, "job", &other)) {
                _cleanup_free_ char *msg = cli_sanitize(cli_json_str(answer, "error") ?: "");

                log_error("conflict: %s: job %" PRId64 " ('yunbak jobs --system %s' shows it).",
                          msg ?: "", other, system);
                return cli_ctl_exit_code(status);
        }
        if (status < 200 || status >= 300)
                return cli_ctl_report_error(&ctl, "POST", path, status, answer);
        if (!cli_json_int(answer, "job", &id)) {
                log_error("yunbakd queued the backup of '%s' but did not say the job's id.",
                          system);
                return YB_EXIT_FAILED;
        }
        if (!wait) {
                if (json)
                        cli_json_print(answer);
                else
                        printf("Queued job %" PRId64 ": %s backup of %s.\n", id,
                               cli_json_str(answer, "level") ?: level ?: "incremental", system);
                return YB_EXIT_OK;
        }
        if (!json)
                printf("Queued job %" PRId64 ": %s backup of %s. Waiting for it to end (Ctrl-C "
                       "stops waiting, not the job).\n",
                       id, cli_json_str(answer, "level") ?: level ?: "incremental", system);
        fflush(stdout);
        return wait_for(&ctl, id, json);
}

int cli_backup(int argc, char **argv) {
        if (argc >= 2 && streq(argv[1], "now"))
                return backup_now(argc - 1, argv + 1);
        if (argc >= 2 && (streq(argv[1], "--help") || streq(argv[1], "-h"))) {
                usage(stdout);
                return YB_EXIT_OK;
        }
        log_error("backup takes a subcommand: 'yunbak backup now --system ID' (backups on a "
                  "schedule are yunbakd's; 'yunbak-agent backup' writes one directly).");
        return cli_usage_error("backup now");
}
