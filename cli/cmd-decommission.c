/* yunbak decommission request|approve|refuse|withdraw|export|confirm-export|waive-export|
 * execute|verify|list|show: a system's decommission through yunbakd (docs/decommission.md;
 * docs/api.md, "Decommissions"). execute and verify follow the steps until they end. */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <time.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/ident.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "policies/schema.h"

/* How often execute, verify and export --wait ask how it goes. */
#define POLL_MS 200

static void usage(FILE *f) {
        fputs("Usage: yunbak decommission request --system ID --reason TEXT [--not-before DATE]\n"
              "       yunbak decommission approve N [--note TEXT]\n"
              "       yunbak decommission refuse N --reason TEXT\n"
              "       yunbak decommission withdraw N [--reason TEXT]\n"
              "       yunbak decommission export N --store NAME --public-key FILE [--wait]\n"
              "       yunbak decommission confirm-export N [--note TEXT]\n"
              "       yunbak decommission waive-export N --reason TEXT\n"
              "       yunbak decommission execute N [--no-wait] [--timeout DURATION]\n"
              "       yunbak decommission verify N [--no-wait] [--timeout DURATION]\n"
              "       yunbak decommission attest-host N --host H --statement TEXT "
              "[--reference TICKET]\n"
              "       yunbak decommission list [--system ID]\n"
              "       yunbak decommission show N\n"
              "       (each also takes --socket PATH and --json)\n"
              "\n"
              "Takes a system out of service for good, through yunbakd: its department requests\n"
              "it, an operator who is not the requester approves or refuses it, the department\n"
              "gets a final export (a full backup into a store it names, sealed to a new key it\n"
              "made with 'yunbak key init --system ID --out DIR --no-register' elsewhere),\n"
              "restores and checks it and confirms it, or waives the export with a reason; then\n"
              "an operator executes it: every copy of the system and of its key is destroyed,\n"
              "verified, and a signed certificate is issued. Nothing is executed before\n"
              "--not-before or the policy's tier1.lock_until. The requester may withdraw it\n"
              "before execution. Every action is audited.\n"
              "\n"
              "execute and verify follow the steps, printing each as it changes, and exit 0\n"
              "only when the decommission is certified (1 otherwise, with what is left).\n"
              "\n"
              "attest-host (an operator) states, signed by yunbakd, that the system's host was\n"
              "destroyed on the cloud platform (its VM deleted, its volumes destroyed), when it\n"
              "cannot be reached or yunbak-agent wipe refuses its sources; execute it again\n"
              "then: what wipe did not clear is certified as attested, never as verified.\n"
              "\n"
              "Options:\n"
              "  --system ID         the system (as in its policy)\n"
              "  --reason TEXT       why (required to request, refuse and waive the export)\n"
              "  --not-before DATE   nothing is destroyed before then (YYYY-MM-DD[THH:MM],\n"
              "                      your local time unless it ends in Z or +HH:MM)\n"
              "  --note TEXT         a note for the approval or the confirmation\n"
              "  --store NAME        the store of yunbakd.yaml that takes the export\n"
              "  --public-key FILE   the .pub of the key pair made for the handover\n"
              "  --host H            attest-host: the system's host (as in its policy)\n"
              "  --statement TEXT    attest-host: what was destroyed, where and how\n"
              "  --reference TICKET  attest-host: the cloud platform's ticket or record\n"
              "  --wait              export: wait until the export is made (or failed)\n"
              "  --no-wait           execute, verify: return once started\n"
              "  --timeout DURATION  execute, verify, export --wait: give up waiting after it\n"
              "                      (the work goes on in yunbakd; default "
              "24h)\n" CLI_CTL_OPTIONS_HELP,
              f);
}

static void sleep_ms(int ms) {
        struct timespec ts = { .tv_sec = ms / YB_MSEC_PER_SEC,
                               .tv_nsec = (long) (ms % YB_MSEC_PER_SEC) * YB_NSEC_PER_MSEC };

        (void) nanosleep(&ts, NULL);
}

/* Prints "  label: value\n" with value made safe, when value is set. */
static void line(const char *label, const char *value) {
        _cleanup_free_ char *v = value ? cli_sanitize(value) : NULL;

        if (v && *v)
                printf("  %s: %s\n", label, v);
}

/* "by alice at 2026-12-06T15:04:05Z" into buf, from o's by and at members. */
static const char *by_at(json_t *o, const char *by, const char *at, char *buf, size_t size) {
        snprintf(buf, size, "by %s%s%s", cli_json_str(o, by) ?: "?",
                 cli_json_str(o, at) ? " at " : "", cli_json_str(o, at) ?: "");
        return buf;
}

/* One step as it prints: "  store local: done (erased 12 files)". */
static void print_step(json_t *s) {
        _cleanup_free_ char *detail = cli_sanitize(cli_json_str(s, "detail") ?: ""),
                            *step = cli_sanitize(cli_json_str(s, "step") ?: "?"),
                            *target = cli_sanitize(cli_json_str(s, "target") ?: "-");

        printf("  %-11s %-16s %s%s%s\n", step ?: "?", target ?: "-",
               cli_json_str(s, "state") ?: "?", detail && *detail ? ": " : "", detail ?: "");
}

/* A decommission as 'show' and every action print it. */
static void print_decommission(json_t *o) {
        json_t *exp = json_object_get(o, "export"), *steps = json_object_get(o, "steps"), *s;
        const char *state = cli_json_str(o, "state") ?: "?";
        char buf[400];
        int64_t id = 0, job, cert;
        size_t i;

        (void) cli_json_int(o, "id", &id);
        printf("Decommission %" PRId64 " of %s: %s\n", id, cli_json_str(o, "system") ?: "?", state);
        line("department", cli_json_str(o, "department"));
        line("reason", cli_json_str(o, "reason"));
        line("requested", by_at(o, "requested_by", "requested", buf, sizeof(buf)));
        line("not before", cli_json_str(o, "not_before"));
        line("policy lock_until", cli_json_str(o, "lock_until"));
        if (cli_json_str(o, "decided_by")) {
                snprintf(buf, sizeof(buf), "%s by %s%s%s",
                         streq(state, "refused") ? "refused" : "approved",
                         cli_json_str(o, "decided_by"), cli_json_str(o, "decided") ? " at " : "",
                         cli_json_str(o, "decided") ?: "");
                line("decision", buf);
                line("decision note", cli_json_str(o, "decision_note"));
        }
        if (cli_json_str(exp, "store")) {
                int n = snprintf(buf, sizeof(buf), "store '%s', key %s", cli_json_str(exp, "store"),
                                 cli_json_str(exp, "key_id") ?: "?");

                if (cli_json_int(exp, "job", &job) && n > 0 && (size_t) n < sizeof(buf))
                        n += snprintf(buf + n, sizeof(buf) - (size_t) n, ", job %" PRId64 " (%s)",
                                      job, cli_json_str(exp, "job_state") ?: "?");
                if (cli_json_str(exp, "snapshot") && n > 0 && (size_t) n < sizeof(buf))
                        snprintf(buf + n, sizeof(buf) - (size_t) n, ", snapshot %s",
                                 cli_json_str(exp, "snapshot"));
                line("export", buf);
        }
        if (cli_json_str(exp, "by")) {
                const char *end = cli_json_str(exp, "state") ?: "";

                line(streq(end, "waived")      ? "export waived"
                     : streq(end, "confirmed") ? "export confirmed"
                                               : "export confirmed or waived",
                     by_at(exp, "by", "at", buf, sizeof(buf)));
                line("export note", cli_json_str(exp, "note"));
        }
        if (cli_json_str(o, "executed_by")) {
                snprintf(buf, sizeof(buf), "by %s, started %s, finished %s",
                         cli_json_str(o, "executed_by"), cli_json_str(o, "execute_started") ?: "?",
                         cli_json_str(o, "execute_finished") ?: "not yet");
                line("executed", buf);
        }
        line("verified", cli_json_str(o, "verified"));
        if (cli_json_int(o, "certificate", &cert)) {
                snprintf(buf, sizeof(buf), "%" PRId64 " (yunbak certificate show %" PRId64 ")",
                         cert, cert);
                line("certificate", buf);
        }
        line("last error", cli_json_str(o, "last_error"));
        line("next", cli_json_str(o, "next"));
        if (json_array_size(steps) > 0) {
                printf("  steps:\n");
                json_array_foreach(steps, i, s) {
                        print_step(s);
                }
        }
}

static int print_answer(json_t *answer, bool json) {
        if (json)
                cli_json_print(answer);
        else
                print_decommission(answer);
        return YB_EXIT_OK;
}

/* The id argument, or a usage error (printed). */
static int parse_id(const char *arg, int64_t *ret) {
        if (cli_parse_int(arg, 1, INT64_MAX, ret) >= 0)
                return 0;
        log_error("'%s' is not a decommission id (a number, as 'yunbak decommission list' shows).",
                  arg);
        return cli_usage_error("decommission");
}

static int get(const CliCtl *ctl, int64_t id, json_t **ret) {
        _cleanup_free_ char *path = NULL;

        if (asprintf(&path, "/v1/decommissions/%" PRId64, id) < 0)
                return log_oom(), YB_EXIT_FAILED;
        return cli_ctl_call(ctl, "GET", path, NULL, ret);
}

/* POSTs body (taken) to the decommission's action. */
static int post(const CliCtl *ctl, int64_t id, const char *action, json_t *body, json_t **ret) {
        _cleanup_(json_decrefp) json_t *b = body;
        _cleanup_free_ char *path = NULL;

        if (!b || asprintf(&path, "/v1/decommissions/%" PRId64 "/%s", id, action) < 0)
                return log_oom(), YB_EXIT_FAILED;
        return cli_ctl_call(ctl, "POST", path, b, ret);
}

static int request(const CliCtl *ctl, const char *system, const char *reason,
                   const char *not_before, bool json) {
        _cleanup_(json_decrefp) json_t *body = NULL, *answer = NULL;
        char utc[32];
        int64_t ns;
        int r;

        if (cli_need_options("decommission request", "--system ID", system, "--reason TEXT", reason,
                             NULL) != 0)
                return YB_EXIT_USAGE;
        if (cli_check_system_id(system) != 0)
                return YB_EXIT_USAGE;
        if (not_before && yb_time_parse(not_before, &ns) < 0) {
                log_error("--not-before '%s' is not a date: write YYYY-MM-DD, or with a time "
                          "YYYY-MM-DDTHH:MM[:SS][Z|+HH:MM] (no zone: this machine's local time), "
                          "a real date of the years 1970 to 2261.",
                          not_before);
                return YB_EXIT_USAGE;
        }
        /* A date without a zone is the requester's local time: yunbakd gets it in UTC, so that
         * its own zone does not move it. */
        if (not_before) {
                yb_time_format_iso(ns, utc);
                memcpy(utc + 19, "Z", 2);
        }
        body = json_pack("{s:s, s:s, s:s?}", "system", system, "reason", reason, "not_before",
                         not_before ? utc : NULL);
        if (!body)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(ctl, "POST", "/v1/decommissions", body, &answer);
        if (r != 0)
                return r;
        return print_answer(answer, json);
}

/* Reads the .pub file into a JSON object. Returns 0 or an exit code (printed). */
static int read_public_key(const char *file, json_t **ret) {
        _cleanup_(yb_buf_done) YbBuf text = YB_BUF_INIT;
        json_error_t e;
        json_t *o;
        int r = yb_read_file_at(AT_FDCWD, file, 64 * 1024, &text);

        if (r < 0) {
                log_error("Cannot read the public key '%s': %s.", file, strerror(-r));
                return YB_EXIT_FAILED;
        }
        o = json_loadb((const char *) text.data, text.size, 0, &e);
        if (!json_is_object(o)) {
                json_decref(o);
                log_error("'%s' is not a public key file (the ID.pub 'yunbak key init' writes): "
                          "%s.",
                          file, e.text[0] ? e.text : "not a JSON object");
                return YB_EXIT_USAGE;
        }
        *ret = o;
        return 0;
}

/* Asks for the decommission every POLL_MS until done(o) says it is, or timeout_usec passed
 * (then YB_EXIT_FAILED, having said so). on_change(o) is called for every answer. */
static int follow(const CliCtl *ctl, int64_t id, int64_t timeout_usec, bool (*done)(json_t *o),
                  void (*on_change)(json_t *o, void *ud), void *ud, json_t **ret) {
        int64_t start = yb_monotonic_usec();
        char d[32];

        for (;;) {
                json_t *o = NULL;
                int r = get(ctl, id, &o);

                if (r != 0)
                        return r;
                if (on_change)
                        on_change(o, ud);
                if (done(o)) {
                        *ret = o;
                        return 0;
                }
                json_decref(o);
                if (yb_monotonic_usec() - start > timeout_usec) {
                        log_error("Decommission %" PRId64 " is still under way after %s; it goes "
                                  "on in yunbakd: follow it with 'yunbak decommission show "
                                  "%" PRId64 "'.",
                                  id, cli_format_duration(timeout_usec, d), id);
                        return YB_EXIT_FAILED;
                }
                sleep_ms(POLL_MS);
        }
}

static bool export_done(json_t *o) {
        return !streq(cli_json_str(o, "state") ?: "", "exporting");
}

static bool run_done(json_t *o) {
        return !json_is_true(json_object_get(o, "running"));
}

/* Prints the steps whose state or detail changed since the last answer; ud: a JSON object of
 * "step target" -> "state detail" as last printed. */
static void print_changed_steps(json_t *o, void *ud) {
        json_t *seen = ud, *s;
        size_t i;

        json_array_foreach(json_object_get(o, "steps"), i, s) {
                _cleanup_free_ char *key = NULL, *now = NULL;
                const char *before;

                if (asprintf(&key, "%s %s", cli_json_str(s, "step") ?: "?",
                             cli_json_str(s, "target") ?: "-") < 0 ||
                    asprintf(&now, "%s %s", cli_json_str(s, "state") ?: "?",
                             cli_json_str(s, "detail") ?: "") < 0)
                        continue;
                before = json_string_value(json_object_get(seen, key));
                if (before && streq(before, now))
                        continue;
                json_object_set_new(seen, key, json_string(now));
                print_step(s);
                fflush(stdout);
        }
}

static int export(const CliCtl *ctl, int64_t id, const char *store, const char *public_key,
                  bool wait, int64_t timeout_usec, bool json) {
        _cleanup_(json_decrefp) json_t *key = NULL, *answer = NULL, *end = NULL;
        const char *state;
        int r;

        if (cli_need_options("decommission export", "--store NAME", store, "--public-key FILE",
                             public_key, NULL) != 0)
                return YB_EXIT_USAGE;
        r = read_public_key(public_key, &key);
        if (r != 0)
                return r;
        r = post(ctl, id, "export", json_pack("{s:s, s:O}", "store", store, "public_key", key),
                 &answer);
        if (r != 0)
                return r;
        if (!wait)
                return print_answer(answer, json);
        if (!json)
                printf("Export job %" PRId64 " queued; waiting for it.\n",
                       (int64_t) json_integer_value(json_object_get(answer, "job")));
        r = follow(ctl, id, timeout_usec, export_done, NULL, NULL, &end);
        if (r != 0)
                return r;
        print_answer(end, json);
        state = cli_json_str(end, "state") ?: "";
        return streq(state, "exported") ? YB_EXIT_OK : YB_EXIT_FAILED;
}

/* execute or verify: started, then followed until it ends; 0 only when certified. */
static int run(const CliCtl *ctl, int64_t id, const char *action, bool wait, int64_t timeout_usec,
               bool json) {
        _cleanup_(json_decrefp) json_t *answer = NULL, *end = NULL, *seen = json_object();
        const char *error;
        int r;

        r = post(ctl, id, action, json_object(), &answer);
        if (r != 0)
                return r;
        if (!wait)
                return print_answer(answer, json);
        if (!json)
                printf("Decommission %" PRId64 ": %s started; its steps:\n", id,
                       streq(action, "execute") ? "execution" : "verification");
        r = follow(ctl, id, timeout_usec, run_done, json ? NULL : print_changed_steps, seen, &end);
        if (r != 0)
                return r;
        if (json)
                cli_json_print(end);
        if (streq(cli_json_str(end, "state") ?: "", "certified")) {
                int64_t cert = 0;

                (void) cli_json_int(end, "certificate", &cert);
                if (!json)
                        printf("Decommission %" PRId64 " is certified: certificate %" PRId64
                               " ('yunbak certificate show %" PRId64 "').\n",
                               id, cert, cert);
                return YB_EXIT_OK;
        }
        error = cli_json_str(end, "last_error");
        if (!json) {
                _cleanup_free_ char *e = cli_sanitize(error ?: "no reason recorded");

                log_error("Decommission %" PRId64 " is %s, not certified: %s", id,
                          cli_json_str(end, "state") ?: "?", e ?: "?");
                if (cli_json_str(end, "next"))
                        printf("Next: %s\n", cli_json_str(end, "next"));
        }
        return YB_EXIT_FAILED;
}

static int list(const CliCtl *ctl, const char *system, bool json) {
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_(cli_table_freep) CliTable *t = NULL;
        _cleanup_free_ char *path = NULL;
        json_t *all, *o;
        size_t i;
        int r;

        if (system && cli_check_system_id(system) != 0)
                return YB_EXIT_USAGE;
        /* A valid system id needs no escaping. */
        if (asprintf(&path, "/v1/decommissions%s%s", system ? "?system=" : "", system ?: "") < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(ctl, "GET", path, NULL, &answer);
        if (r != 0)
                return r;
        if (json) {
                cli_json_print(answer);
                return YB_EXIT_OK;
        }
        all = json_object_get(answer, "decommissions");
        if (json_array_size(all) == 0) {
                printf("No decommissions%s.\n", system ? " of this system" : "");
                return YB_EXIT_OK;
        }
        t = cli_table_new(6, "ID", "SYSTEM", "STATE", "REQUESTED BY", "REQUESTED (UTC)", "REASON");
        if (!t)
                return log_oom(), YB_EXIT_FAILED;
        json_array_foreach(all, i, o) {
                int64_t id = 0;
                char sid[24];

                (void) cli_json_int(o, "id", &id);
                snprintf(sid, sizeof(sid), "%" PRId64, id);
                if (cli_table_add(t, sid, cli_json_str(o, "system"), cli_json_str(o, "state"),
                                  cli_json_str(o, "requested_by"), cli_json_str(o, "requested"),
                                  cli_json_str(o, "reason")) < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        cli_table_print(t, stdout);
        return YB_EXIT_OK;
}

typedef struct Args {
        const char *system, *reason, *not_before, *note, *store, *public_key, *timeout;
        const char *host, *statement, *reference;
        bool wait, no_wait;
} Args;

/* The subcommand verb with its arguments. */
static int dispatch(const CliCtl *ctl, const char *verb, int n, char **rest, const Args *a,
                    bool json) {
        _cleanup_(json_decrefp) json_t *answer = NULL;
        int64_t id, timeout_usec = 24 * 3600 * YB_USEC_PER_SEC;
        bool one = n == 1;
        int r;

        if (streq(verb, "request") && n == 0)
                return request(ctl, a->system, a->reason, a->not_before, json);
        if (streq(verb, "list") && n == 0)
                return list(ctl, a->system, json);
        if (!one || a->system || a->not_before) {
                log_error("'decommission %s' takes a decommission id%s.", verb,
                          streq(verb, "request") || streq(verb, "list")
                                  ? " only for the other subcommands: request takes --system, "
                                    "--reason and --not-before; list --system"
                                  : " and no --system or --not-before");
                return cli_usage_error("decommission");
        }
        r = parse_id(rest[0], &id);
        if (r != 0)
                return r;
        if (a->timeout && (yb_duration_parse(a->timeout, &timeout_usec) < 0 || timeout_usec <= 0)) {
                log_error("--timeout '%s' is not a duration (30s, 10min, 2h).", a->timeout);
                return YB_EXIT_USAGE;
        }
        if (streq(verb, "show"))
                r = get(ctl, id, &answer);
        else if (streq(verb, "approve") || streq(verb, "confirm-export"))
                r = post(ctl, id, verb, json_pack("{s:s?}", "note", a->note), &answer);
        else if (streq(verb, "refuse") || streq(verb, "waive-export")) {
                if (cli_need_options(streq(verb, "refuse") ? "decommission refuse"
                                                           : "decommission waive-export",
                                     "--reason TEXT", a->reason, NULL) != 0)
                        return YB_EXIT_USAGE;
                r = post(ctl, id, verb, json_pack("{s:s}", "reason", a->reason), &answer);
        } else if (streq(verb, "withdraw"))
                r = post(ctl, id, verb, json_pack("{s:s?}", "reason", a->reason), &answer);
        else if (streq(verb, "export"))
                return export(ctl, id, a->store, a->public_key, a->wait, timeout_usec, json);
        else if (streq(verb, "attest-host")) {
                if (cli_need_options("decommission attest-host", "--host H", a->host,
                                     "--statement TEXT", a->statement, NULL) != 0)
                        return YB_EXIT_USAGE;
                r = post(ctl, id, verb,
                         json_pack("{s:s, s:s, s:s?}", "host", a->host, "statement", a->statement,
                                   "reference", a->reference),
                         &answer);
                if (r == 0 && !json)
                        printf("Host %s of decommission %" PRId64 " is attested destroyed (signed "
                               "by yunbakd): execute it again ('yunbak decommission execute "
                               "%" PRId64 "') to finish.\n",
                               a->host, id, id);
        } else if (streq(verb, "execute") || streq(verb, "verify"))
                return run(ctl, id, verb, !a->no_wait, timeout_usec, json);
        else {
                log_error("decommission has no subcommand '%s': request, approve, refuse, "
                          "withdraw, export, confirm-export, waive-export, execute, verify, "
                          "attest-host, list or show.",
                          verb);
                return cli_usage_error("decommission");
        }
        if (r != 0)
                return r;
        return print_answer(answer, json);
}

int cli_decommission(int argc, char **argv) {
        static const struct option opts[] = {
                { "system", required_argument, NULL, 'S' },
                { "reason", required_argument, NULL, 'r' },
                { "not-before", required_argument, NULL, 'b' },
                { "note", required_argument, NULL, 'n' },
                { "store", required_argument, NULL, 's' },
                { "public-key", required_argument, NULL, 'k' },
                { "wait", no_argument, NULL, 'w' },
                { "no-wait", no_argument, NULL, 'W' },
                { "timeout", required_argument, NULL, 't' },
                { "host", required_argument, NULL, 'H' },
                { "statement", required_argument, NULL, 'T' },
                { "reference", required_argument, NULL, 'R' },
                CLI_CTL_OPTIONS,
                {},
        };
        const char *socket = NULL;
        bool json = false;
        Args a = {};
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'S':
                        a.system = optarg;
                        break;
                case 'r':
                        a.reason = optarg;
                        break;
                case 'b':
                        a.not_before = optarg;
                        break;
                case 'n':
                        a.note = optarg;
                        break;
                case 's':
                        a.store = optarg;
                        break;
                case 'k':
                        a.public_key = optarg;
                        break;
                case 'w':
                        a.wait = true;
                        break;
                case 'W':
                        a.no_wait = true;
                        break;
                case 't':
                        a.timeout = optarg;
                        break;
                case 'H':
                        a.host = optarg;
                        break;
                case 'T':
                        a.statement = optarg;
                        break;
                case 'R':
                        a.reference = optarg;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "decommission");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind == argc) {
                log_error("decommission takes a subcommand: request, approve, refuse, withdraw, "
                          "export, confirm-export, waive-export, execute, verify, attest-host, "
                          "list or show.");
                return cli_usage_error("decommission");
        }
        cli_ctl_init(&ctl, socket);
        return dispatch(&ctl, argv[optind], argc - optind - 1, argv + optind + 1, &a, json);
}
