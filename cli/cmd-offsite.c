/* yunbak offsite request|approve|refuse|list|show: requests for off-site copies (tier 3) through
 * yunbakd (docs/api.md, "Off-site requests"). */
#include <getopt.h>
#include <inttypes.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/repo/repo.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak offsite request --system ID [--snapshot ID] --reason TEXT\n"
              "       yunbak offsite approve REQUEST [--reason TEXT]\n"
              "       yunbak offsite refuse REQUEST [--reason TEXT]\n"
              "       yunbak offsite list [--system ID] [--pending] [--limit N]\n"
              "       yunbak offsite show REQUEST\n"
              "       (each also takes --socket PATH and --json)\n"
              "\n"
              "Asks yunbakd for a copy of a system's snapshot (the newest committed one when\n"
              "the copy runs, without --snapshot) to its off-site store (tier 3), and decides\n"
              "such requests. A department asks for its own systems; the policy must say\n"
              "tier3.on_request: true. With tier3.approval: required (the default) an operator\n"
              "who is not the requester approves or refuses; with approval: automatic yunbakd\n"
              "queues the copy at once. An approved request queues a copy job ('yunbak jobs').\n"
              "'list' shows the requests the caller may see, newest first, with their state:\n"
              "pending, refused, or approved and the state of its copy job.\n"
              "\n"
              "Options:\n"
              "  --system ID     the system (as in its policy)\n"
              "  --snapshot ID   the snapshot to copy (default: the newest committed one)\n"
              "  --reason TEXT   why (required for a request; recorded and audited)\n"
              "  --pending       list only the requests awaiting a decision\n"
              "  --limit N       list at most N requests (1-1000; default "
              "100)\n" CLI_CTL_OPTIONS_HELP,
              f);
}

/* "approved, copy job 12 running" and the like. */
static const char *state_text(json_t *req, char *buf, size_t size) {
        const char *state = cli_json_str(req, "state") ?: "?",
                   *copy = cli_json_str(req, "copy_state");
        int64_t job;

        if (cli_json_int(req, "job", &job))
                snprintf(buf, size, "%s, copy job %" PRId64 " %s", state, job, copy ?: "?");
        else
                snprintf(buf, size, "%s", state);
        return buf;
}

static int add_request(CliTable *t, json_t *req) {
        int64_t id = 0, asked, decided;
        char sid[24], when[32], dwhen[32], state[96], who[160];
        const char *by = cli_json_str(req, "decided_by");

        (void) cli_json_int(req, "id", &id);
        snprintf(sid, sizeof(sid), "%" PRId64, id);
        if (cli_json_int(req, "requested_usec", &asked))
                cli_format_time(asked, when);
        else
                strcpy(when, "-");
        if (by && cli_json_int(req, "decided_usec", &decided))
                snprintf(who, sizeof(who), "%s at %s", by, cli_format_time(decided, dwhen));
        else
                strcpy(who, "-");
        return cli_table_add(
                t, sid, cli_json_str(req, "system"), cli_json_str(req, "snapshot") ?: "newest",
                state_text(req, state, sizeof(state)), cli_json_str(req, "requested_by"), when, who,
                cli_json_str(req, "reason"));
}

/* One request, as 'show' and the decisions print it. */
static void print_request(json_t *req) {
        _cleanup_free_ char *reason = cli_sanitize(cli_json_str(req, "reason") ?: ""),
                            *dreason = cli_sanitize(cli_json_str(req, "decision_reason") ?: ""),
                            *note = cli_sanitize(cli_json_str(req, "note") ?: "");
        int64_t id = 0, t;
        char state[96], when[32];

        (void) cli_json_int(req, "id", &id);
        printf("Request %" PRId64 ": copy of %s, snapshot %s, off-site: %s.\n", id,
               cli_json_str(req, "system") ?: "?", cli_json_str(req, "snapshot") ?: "newest",
               state_text(req, state, sizeof(state)));
        printf("  asked by %s", cli_json_str(req, "requested_by") ?: "?");
        if (cli_json_int(req, "requested_usec", &t))
                printf(" at %s UTC", cli_format_time(t, when));
        printf(": %s\n", reason ?: "");
        if (cli_json_str(req, "decided_by")) {
                printf("  %s by %s", cli_json_str(req, "state") ?: "decided",
                       cli_json_str(req, "decided_by"));
                if (cli_json_int(req, "decided_usec", &t))
                        printf(" at %s UTC", cli_format_time(t, when));
                printf("%s%s\n", dreason && *dreason ? ": " : "", dreason ?: "");
        }
        if (note && *note)
                printf("  Not queued: %s\n", note);
}

/* Prints the answer: JSON as it is, or the request. */
static int print_answer(json_t *answer, bool json) {
        if (json)
                cli_json_print(answer);
        else
                print_request(answer);
        return YB_EXIT_OK;
}

static int request(const CliCtl *ctl, const char *system, const char *snapshot, const char *reason,
                   bool json) {
        _cleanup_(json_decrefp) json_t *body = NULL, *answer = NULL;
        int r;

        if (cli_need_options("offsite request", "--system ID", system, "--reason TEXT", reason,
                             NULL) != 0)
                return YB_EXIT_USAGE;
        if (cli_check_system_id(system) != 0)
                return YB_EXIT_USAGE;
        if (snapshot && !yb_snapshot_id_valid(snapshot)) {
                log_error("'%s' is not a snapshot id ('yunbak snapshots --system %s' lists them).",
                          snapshot, system);
                return YB_EXIT_USAGE;
        }
        body = json_pack("{s:s, s:s?, s:s}", "system", system, "snapshot", snapshot, "reason",
                         reason);
        if (!body)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(ctl, "POST", "/v1/offsite/requests", body, &answer);
        if (r != 0)
                return r;
        if (!json && streq(cli_json_str(answer, "state") ?: "", "pending") &&
            !cli_json_str(answer, "note"))
                printf("Recorded; an operator other than you approves or refuses it ('yunbak "
                       "offsite list --pending').\n");
        return print_answer(answer, json);
}

/* One request: read (verb NULL), or decided (verb "approve" or "refuse", with reason). */
static int one(const CliCtl *ctl, const char *verb, const char *arg, const char *reason,
               bool json) {
        _cleanup_(json_decrefp) json_t *body = NULL, *answer = NULL;
        _cleanup_free_ char *path = NULL;
        int64_t id;
        int r;

        if (cli_parse_int(arg, 1, INT64_MAX, &id) < 0) {
                log_error("'%s' is not a request id (a number, as 'yunbak offsite list' shows).",
                          arg);
                return cli_usage_error("offsite");
        }
        if (verb) {
                body = json_pack("{s:s?}", "reason", reason);
                if (!body)
                        return log_oom(), YB_EXIT_FAILED;
        }
        if (asprintf(&path, "/v1/offsite/requests/%" PRId64 "%s%s", id, verb ? "/" : "",
                     verb ?: "") < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(ctl, verb ? "POST" : "GET", path, body, &answer);
        if (r != 0)
                return r;
        return print_answer(answer, json);
}

static int list(const CliCtl *ctl, const char *system, bool pending, const char *limit, bool json) {
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_(cli_table_freep) CliTable *t = NULL;
        _cleanup_(yb_buf_done) YbBuf path = YB_BUF_INIT;
        json_t *reqs, *req;
        int64_t n = 0;
        size_t i;
        int r;

        if (system && cli_check_system_id(system) != 0)
                return YB_EXIT_USAGE;
        if (limit && cli_parse_int(limit, 1, 1000, &n) < 0) {
                log_error("--limit '%s' is not a number from 1 to 1000.", limit);
                return YB_EXIT_USAGE;
        }
        /* The values are checked above: nothing in them needs escaping. */
        r = yb_buf_printf(&path, "/v1/offsite/requests?limit=%" PRId64, limit ? n : 100);
        if (r >= 0 && system)
                r = yb_buf_printf(&path, "&system=%s", system);
        if (r >= 0 && pending)
                r = yb_buf_printf(&path, "&state=pending");
        if (r < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(ctl, "GET", (const char *) path.data, NULL, &answer);
        if (r != 0)
                return r;
        if (json) {
                cli_json_print(answer);
                return YB_EXIT_OK;
        }
        reqs = json_object_get(answer, "requests");
        if (json_array_size(reqs) == 0) {
                printf("No off-site requests%s.\n", system || pending ? " match" : "");
                return YB_EXIT_OK;
        }
        t = cli_table_new(8, "ID", "SYSTEM", "SNAPSHOT", "STATE", "ASKED BY", "ASKED (UTC)",
                          "DECIDED BY", "REASON");
        if (!t)
                return log_oom(), YB_EXIT_FAILED;
        json_array_foreach(reqs, i, req) {
                if (add_request(t, req) < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        cli_table_print(t, stdout);
        return YB_EXIT_OK;
}

int cli_offsite(int argc, char **argv) {
        static const struct option opts[] = {
                { "system", required_argument, NULL, 'S' },
                { "snapshot", required_argument, NULL, 's' },
                { "reason", required_argument, NULL, 'r' },
                { "pending", no_argument, NULL, 'p' },
                { "limit", required_argument, NULL, 'n' },
                CLI_CTL_OPTIONS,
                {},
        };
        const char *socket = NULL, *system = NULL, *snapshot = NULL, *reason = NULL, *limit = NULL,
                   *verb;
        bool json = false, pending = false;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'S':
                        system = optarg;
                        break;
                case 's':
                        snapshot = optarg;
                        break;
                case 'r':
                        reason = optarg;
                        break;
                case 'p':
                        pending = true;
                        break;
                case 'n':
                        limit = optarg;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "offsite");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind == argc) {
                log_error("offsite takes a subcommand: request, approve, refuse, list or show.");
                return cli_usage_error("offsite");
        }
        verb = argv[optind];
        cli_ctl_init(&ctl, socket);
        if (streq(verb, "request") && optind + 1 == argc && !pending && !limit)
                return request(&ctl, system, snapshot, reason, json);
        if ((streq(verb, "approve") || streq(verb, "refuse")) && optind + 2 == argc && !system &&
            !snapshot && !pending && !limit)
                return one(&ctl, verb, argv[optind + 1], reason, json);
        if (streq(verb, "list") && optind + 1 == argc && !snapshot && !reason)
                return list(&ctl, system, pending, limit, json);
        if (streq(verb, "show") && optind + 2 == argc && !system && !snapshot && !reason &&
            !pending && !limit)
                return one(&ctl, NULL, argv[optind + 1], NULL, json);
        log_error("'offsite %s' does not take these arguments: request takes --system, "
                  "--snapshot and --reason; approve and refuse a request id and --reason; list "
                  "--system, --pending and --limit; show a request id.",
                  verb);
        return cli_usage_error("offsite");
}
