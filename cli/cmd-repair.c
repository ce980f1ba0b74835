/* yunbak repair --system ID --snapshot ID --from STORE --to STORE: yunbakd replaces the files of a
 * snapshot that fail key-less verify in one store with their twins from another (docs/api.md,
 * "Repairs"), and this waits for the end and prints what was done to each file and why. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/repo.h"

/* How long the wait keeps trying while yunbakd cannot be reached before giving up. */
#define LOST_CONTACT_USEC (60 * YB_USEC_PER_SEC)

static void usage(FILE *f) {
        fputs("Usage: yunbak repair --system ID --snapshot ID --from STORE --to STORE\n"
              "                     [--socket PATH] [--json]\n"
              "\n"
              "Asks yunbakd (operators) to check every file of the snapshot in store --to\n"
              "against its signed header, and to replace each file that fails with its\n"
              "byte-identical twin from store --from, after checking the twin against the same\n"
              "header. STORE is a store name of yunbakd.yaml: --to is the store to repair, --from\n"
              "the one holding the twins (an off-site copy, say). No key is needed. Waits for\n"
              "the end and prints, per file, what was done and why.\n"
              "\n"
              "Exit 0 when the snapshot is sound at the end (nothing replaced, or every damaged\n"
              "file replaced), 5 when some file could not be repaired (its twin is missing or\n"
              "damaged too: nothing of it was changed), 1 when the repair could not run.\n"
              "\n"
              "Options:\n"
              "  --system ID     the system\n"
              "  --snapshot ID   the snapshot to repair\n"
              "  --from STORE    the store holding the twins\n"
              "  --to STORE      the store to repair\n" CLI_CTL_OPTIONS_HELP,
              f);
}

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
        interrupted = 1;
}

/* Asks for repair path until it has ended: 0 with *ret, or an exit code having said why. */
static int wait_end(const CliCtl *ctl, const char *path, int64_t id, json_t **ret) {
        struct sigaction sa = { .sa_handler = on_sigint }, old;
        int64_t t0 = cli_now_usec(), lost_since = 0;
        CliCtl quiet = *ctl;
        int r = YB_EXIT_FAILED;

        sigemptyset(&sa.sa_mask);
        (void) sigaction(SIGINT, &sa, &old);
        quiet.quiet = true;
        while (!interrupted) {
                json_t *rep = NULL;
                int status = 0;
                struct timespec ts = { 0, cli_now_usec() - t0 < 10 * YB_USEC_PER_SEC
                                                  ? 250 * YB_NSEC_PER_MSEC
                                                  : 500 * YB_NSEC_PER_MSEC };

                r = cli_ctl_request(&quiet, "GET", path, NULL, &status, &rep);
                if (r == YB_EXIT_UNREACHABLE && !interrupted) {
                        lost_since = lost_since ?: cli_now_usec();
                        if (cli_now_usec() - lost_since > LOST_CONTACT_USEC) {
                                log_error("Lost contact with yunbakd while waiting for repair "
                                          "%" PRId64 "; 'yunbak audit log' will have its outcome.",
                                          id);
                                break;
                        }
                } else if (r != 0) {
                        break;
                } else if (status < 200 || status >= 300) {
                        r = cli_ctl_report_error(ctl, "GET", path, status, rep);
                        json_decref(rep);
                        break;
                } else if (!streq(cli_json_str(rep, "state") ?: "", "running")) {
                        *ret = rep;
                        r = 0;
                        break;
                } else
                        lost_since = 0;
                json_decref(rep);
                (void) nanosleep(&ts, NULL); /* Ctrl-C cuts it short */
        }
        (void) sigaction(SIGINT, &old, NULL);
        if (interrupted) {
                fprintf(stderr,
                        "Stopped waiting. Repair %" PRId64 " goes on in yunbakd; the "
                        "audit log will have its outcome ('yunbak audit log').\n",
                        id);
                return 128 + SIGINT;
        }
        return r;
}

/* Prints what was done to each file, and the outcome; returns the exit code. */
static int report(json_t *rep) {
        _cleanup_(cli_table_freep) CliTable *t = NULL;
        _cleanup_free_ char *error = cli_sanitize(cli_json_str(rep, "error") ?: "");
        const char *snap = cli_json_str(rep, "snapshot") ?: "?",
                   *to = cli_json_str(rep, "to") ?: "?", *from = cli_json_str(rep, "from") ?: "?";
        json_t *files = json_object_get(rep, "files"), *f;
        int64_t replaced = 0, unrepaired = 0;
        size_t i;

        (void) cli_json_int(rep, "replaced", &replaced);
        (void) cli_json_int(rep, "unrepaired", &unrepaired);
        if (json_array_size(files) > 0) {
                t = cli_table_new(3, "FILE", "DONE", "WHY");
                if (!t)
                        return log_oom(), YB_EXIT_FAILED;
                json_array_foreach(files, i, f) {
                        const char *a = cli_json_str(f, "action") ?: "?";

                        if (cli_table_add(t, cli_json_str(f, "name"),
                                          streq(a, "ok")         ? "left alone (sound)"
                                          : streq(a, "replaced") ? "replaced by its twin"
                                          : streq(a, "no-twin")  ? "NOT repaired: no twin"
                                          : streq(a, "bad-twin") ? "NOT repaired: twin damaged"
                                          : streq(a, "locked")   ? "NOT repaired: Object Lock"
                                                                 : a,
                                          cli_json_str(f, "why") ?: "") < 0)
                                return log_oom(), YB_EXIT_FAILED;
                }
                cli_table_print(t, stdout);
        }
        if (streq(cli_json_str(rep, "state") ?: "", "done")) {
                printf("Snapshot %s of %s in store '%s' is sound: %s from store '%s'.\n", snap,
                       cli_json_str(rep, "system") ?: "?", to,
                       replaced == 0 ? "nothing needed replacing" : "damaged files replaced", from);
                return YB_EXIT_OK;
        }
        if (unrepaired > 0) {
                log_error("%" PRId64 " file%s of snapshot %s in store '%s' could not be repaired "
                          "from store '%s' and %s left as %s (%s). Find a sound copy elsewhere.",
                          unrepaired, unrepaired == 1 ? "" : "s", snap, to, from,
                          unrepaired == 1 ? "was" : "were",
                          unrepaired == 1 ? "it was" : "they were",
                          error && *error ? error : "see above");
                return YB_EXIT_DAMAGED;
        }
        log_error("The repair of snapshot %s in store '%s' from store '%s' failed: %s", snap, to,
                  from, error && *error ? error : "no reason given");
        return YB_EXIT_FAILED;
}

int cli_repair(int argc, char **argv) {
        static const struct option opts[] = {
                { "system", required_argument, NULL, 'S' },
                { "snapshot", required_argument, NULL, 's' },
                { "from", required_argument, NULL, 'f' },
                { "to", required_argument, NULL, 't' },
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *body = NULL, *answer = NULL, *end = NULL;
        _cleanup_free_ char *path = NULL;
        const char *socket = NULL, *system = NULL, *snap = NULL, *from = NULL, *to = NULL;
        bool json = false;
        int64_t id = 0;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'S':
                        system = optarg;
                        break;
                case 's':
                        snap = optarg;
                        break;
                case 'f':
                        from = optarg;
                        break;
                case 't':
                        to = optarg;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "repair");
                        if (r >= 0)
                                return r;
                }
        }
        if (cli_need_options("repair", "--system ID", system, "--snapshot ID", snap, "--from STORE",
                             from, "--to STORE", to, NULL) != 0)
                return YB_EXIT_USAGE;
        if (optind != argc) {
                log_error("repair takes no arguments besides its options ('%s').", argv[optind]);
                return cli_usage_error("repair");
        }
        if (!yb_system_id_valid(system) || !yb_snapshot_id_valid(snap)) {
                log_error("'%s' is not a system id or '%s' not a snapshot id ('yunbak snapshots "
                          "--system ID' lists them).",
                          system, snap);
                return YB_EXIT_USAGE;
        }
        cli_ctl_init(&ctl, socket);
        body = json_pack("{s:s, s:s, s:s, s:s}", "system", system, "snapshot", snap, "from", from,
                         "to", to);
        if (!body)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(&ctl, "POST", "/v1/repairs", body, &answer);
        if (r != 0)
                return r;
        if (!cli_json_int(answer, "id", &id) || asprintf(&path, "/v1/repairs/%" PRId64, id) < 0) {
                log_error("yunbakd started the repair but did not say its id.");
                return YB_EXIT_FAILED;
        }
        if (!json) {
                printf("Repair %" PRId64 ": checking snapshot %s of %s in store '%s' against its "
                       "signed header, with the twins of store '%s'.\n",
                       id, snap, system, to, from);
                fflush(stdout);
        }
        r = wait_end(&ctl, path, id, &end);
        if (r != 0)
                return r;
        if (json) {
                cli_json_print(end);
                return streq(cli_json_str(end, "state") ?: "", "done") ? YB_EXIT_OK
                       : cli_json_int(end, "unrepaired", &id) && id > 0 ? YB_EXIT_DAMAGED
                                                                        : YB_EXIT_FAILED;
        }
        return report(end);
}
