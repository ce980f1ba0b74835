/* yunbak drill list|show|verify: the signed records of restore drills (docs/drills.md, "The
 * record"): listed and fetched from yunbakd, or read from their JSON or HTML file; the page
 * written; a file verified offline with yunbakd's public key (core/evidence/drill.h). The drill's
 * run itself is cli/cmd-drill.c's. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "cli/signed-doc.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/evidence/drill.h"
#include "core/evidence/signed.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak drill list [--system ID] [--json] [--socket PATH]\n"
              "       yunbak drill show ID|FILE [--json] [--html OUT] [--socket PATH]\n"
              "       yunbak drill verify FILE [--public-key yunbakd.pub]\n"
              "\n"
              "The records of restore drills, signed by yunbakd. 'list' shows yunbakd's drills\n"
              "(newest first): their state, RTO and RPO achieved and whether they met the\n"
              "policy's objectives. 'show' prints one record in short: by its id (asked of\n"
              "yunbakd), or from its file (the JSON, or the HTML page); --json prints the\n"
              "record's JSON file as issued, byte for byte; --html OUT writes its self-contained\n"
              "page. 'verify' checks a file offline: that its bytes are exactly what yunbak\n"
              "writes for the record it holds, and that yunbakd's key signed it. Without\n"
              "--public-key it checks against the key the record names, which proves it is\n"
              "intact, not who signed it. Exit 0 when it verifies, 1 (and why) when not.\n"
              "\n"
              "Options:\n"
              "  --system ID        list: only this system's drills\n"
              "  --json             list: yunbakd's answer; show: the record's JSON file\n"
              "  --html OUT         show: write the record's HTML page to OUT\n"
              "  --public-key FILE  verify: yunbakd's public key (<state>/yunbakd.pub)\n"
              "  --socket PATH      list, show ID: yunbakd's control socket (default:\n"
              "                     $YUNBAK_SOCKET, else " CLI_CTL_SOCKET_DEFAULT ")\n"
              "  --help             this text\n",
              f);
}

/* "10 min 24.7 s (met)", "—" when not achieved. */
static const char *figure(json_t *d, const char *key, const char *met_key, bool ms, char buf[64]) {
        json_t *v = json_object_get(d, key), *met = json_object_get(d, met_key);
        char t[32];

        if (!json_is_integer(v))
                return "—";
        snprintf(buf, 64, "%s (%s)",
                 ms ? yb_drill_format_ms(json_integer_value(v), t)
                    : yb_drill_format_seconds(json_integer_value(v), t),
                 json_is_true(met)    ? "met"
                 : json_is_false(met) ? "NOT met"
                                      : "not judged");
        return buf;
}

static int list(const char *socket, const char *system, bool json) {
        _cleanup_(cli_table_freep) CliTable *t = NULL;
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ char *path = NULL, *esc = NULL;
        json_t *d;
        CliCtl ctl;
        size_t i;
        int r;

        cli_ctl_init(&ctl, socket);
        if (system) {
                esc = cli_url_escape(system);
                if (!esc || asprintf(&path, "/v1/drills?system=%s", esc) < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        r = cli_ctl_call(&ctl, "GET", path ?: "/v1/drills", NULL, &answer);
        if (r != 0)
                return r;
        if (json) {
                cli_json_print(answer);
                return YB_EXIT_OK;
        }
        if (!json_is_array(json_object_get(answer, "drills"))) {
                log_error("yunbakd at %s answered GET /v1/drills without a list of drills.",
                          ctl.socket);
                return YB_EXIT_FAILED;
        }
        t = cli_table_new(8, "ID", "SYSTEM", "TIER", "STARTED", "SCENARIO", "STATE", "RTO", "RPO");
        if (!t)
                return log_oom(), YB_EXIT_FAILED;
        json_array_foreach(json_object_get(answer, "drills"), i, d) {
                _cleanup_free_ char *id = NULL, *tier = NULL, *state = NULL;
                const char *failed = cli_json_str(d, "failed_phase");
                char when[32], rto[64], rpo[64];
                int64_t usec;

                if (asprintf(&id, "%" JSON_INTEGER_FORMAT,
                             json_integer_value(json_object_get(d, "id"))) < 0 ||
                    asprintf(&tier, "%" JSON_INTEGER_FORMAT,
                             json_integer_value(json_object_get(d, "tier"))) < 0 ||
                    asprintf(&state, "%s%s%s", cli_json_str(d, "state") ?: "?",
                             failed ? " at " : "", failed ?: "") < 0)
                        return log_oom(), YB_EXIT_FAILED;
                if (cli_table_add(t, id, cli_json_str(d, "system"), tier,
                                  cli_json_int(d, "started_usec", &usec)
                                          ? cli_format_time(usec, when)
                                          : cli_json_str(d, "started"),
                                  cli_json_str(d, "scenario"), state,
                                  figure(d, "rto_ms", "rto_met", true, rto),
                                  figure(d, "rpo_seconds", "rpo_met", false, rpo)) < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        if (cli_table_rows(t) == 0) {
                printf(system ? "No drill of %s on record.\n" : "No drill on record.\n", system);
                return YB_EXIT_OK;
        }
        cli_table_print(t, stdout);
        return YB_EXIT_OK;
}

/* A drill still running has no record yet: said. */
static bool running(json_t *answer, const char *id) {
        const char *state = cli_json_str(answer, "state");

        if (!state || !streq(state, "running"))
                return false;
        log_error("Drill %s is still running: it has no record until its run reports the result "
                  "('yunbak drill list' shows its state).",
                  id);
        return true;
}

static void print_summary(json_t *rec) {
        _cleanup_free_ char *summary = NULL;

        if (yb_drill_summary(rec, &summary) >= 0)
                for (char *line = strtok(summary, "\n"); line; line = strtok(NULL, "\n")) {
                        _cleanup_free_ char *clean = cli_sanitize(line);

                        printf("%s\n", clean ?: "");
                }
        cli_signed_print_signer(rec, "drill");
}

static int load(const char *path, json_t **ret, char *why, size_t why_size) {
        bool was_html;

        return yb_drill_load(path, ret, &was_html, why, why_size);
}

static const CliSignedKind DRILL = {
        .noun = "drill record",
        .command = "drill",
        .route = "/v1/drills/",
        .load = load,
        .check = yb_drill_check,
        .page = yb_drill_html,
        .summary = print_summary,
        .not_yet = running,
};

static int verify(const char *file, const char *key_file) {
        _cleanup_(json_decrefp) json_t *rec = NULL;
        char why[1024], fp[YB_SIGNED_FINGERPRINT_MAX], t1[40], t2[40];
        YbDrill d;
        int r;

        r = load(file, &rec, why, sizeof(why));
        if (r < 0) {
                log_error("invalid: %s", why);
                return YB_EXIT_FAILED;
        }
        r = cli_signed_verify(file, rec, key_file, "drill record", fp);
        if (r != 0)
                return r;
        if (yb_drill_read(rec, &d, why, sizeof(why)) < 0)
                return log_error("invalid: %s: %s", file, why), YB_EXIT_FAILED;
        printf("valid: drill %" PRId64
               " of %s (%s%s), started %s, signed by yunbakd key %s on %s\n",
               d.id, d.system_id, d.passed ? "passed" : "failed at ",
               d.passed ? "" : d.failed_phase, yb_drill_format_time(d.started, t1), fp,
               yb_drill_format_time(d.reported, t2));
        if (!key_file)
                cli_signed_note_no_key("drill record", fp);
        return YB_EXIT_OK;
}

int cmd_drill_admin(int argc, char **argv) {
        static const struct option opts[] = {
                { "system", required_argument, NULL, 's' },
                { "html", required_argument, NULL, 'H' },
                { "public-key", required_argument, NULL, 'k' },
                CLI_CTL_OPTIONS,
                {},
        };
        const char *socket = NULL, *html = NULL, *key = NULL, *system = NULL, *verb;
        bool json = false;
        int c, r;

        /* argv is the drill command's ("drill", "show", ...); the verb first works too. */
        if (argc > 0 && streq(argv[0], "drill"))
                argc--, argv++;
        if (argc == 0) {
                log_error("drill list|show|verify takes a subcommand.");
                return cli_usage_error("drill");
        }
        verb = argv[0];
        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        system = optarg;
                        break;
                case 'H':
                        html = optarg;
                        break;
                case 'k':
                        key = optarg;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "drill");
                        if (r >= 0)
                                return r;
                }
        }
        if (streq(verb, "list") && optind == argc && !html && !key)
                return list(socket, system, json);
        if (streq(verb, "show") && optind + 1 == argc && !key && !system)
                return cli_signed_show(&DRILL, argv[optind], socket, json, html);
        if (streq(verb, "verify") && optind + 1 == argc && !socket && !json && !html && !system)
                return verify(argv[optind], key);
        log_error("'drill %s' does not take these arguments: list takes --system ID, --json and "
                  "--socket; show takes a drill id or file, --json, --html OUT and --socket; "
                  "verify takes a file and --public-key FILE.",
                  verb);
        return cli_usage_error("drill");
}
