/* yunbak audit verify [--catalog FILE --daemon-key FILE]; yunbak audit log [--after SEQ]
 * [--limit N] */
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak audit verify [--socket PATH] [--json]\n"
              "       yunbak audit verify --catalog FILE --daemon-key FILE [--json]\n"
              "       yunbak audit log [--after SEQ] [--limit N] [--socket PATH] [--json]\n"
              "\n"
              "'verify' checks yunbakd's audit log: every record's hash and link to the one\n"
              "before, and every seal's signature by the daemon's key. It prints each problem\n"
              "with the record where it shows, then a summary. Exit 0 when the log is intact,\n"
              "5 when anything is wrong. By default yunbakd runs the check (operators and\n"
              "auditors); with --catalog it runs here, on the SQLite file itself (a copy will\n"
              "do), against the daemon's public key from --daemon-key (the file\n"
              "<state>/yunbakd.pub that yunbakd writes: its Ed25519 key in base64), so that a\n"
              "log rewritten and resealed with another key is caught too.\n"
              "\n"
              "'log' prints audit records in order: sequence number, time (UTC), who, their\n"
              "role, what, on what, the result, and details.\n"
              "\n"
              "Options:\n"
              "  --catalog FILE     verify this catalog file here instead of asking yunbakd\n"
              "  --daemon-key FILE  the daemon's public key (needed with --catalog)\n"
              "  --after SEQ        log: records after sequence number SEQ (default 0)\n"
              "  --limit N          log: at most N records (1-1000; default "
              "100)\n" CLI_CTL_OPTIONS_HELP,
              f);
}

/* The check of a catalog file needs SQLite, which yunbak does not link: yunbak-catalog does it,
 * with the same options and output. */
static int verify_offline(const char *catalog, const char *key_file, bool json) {
        char *argv[] = { (char *) "yunbak-catalog",
                         (char *) "audit-verify",
                         (char *) "--catalog",
                         (char *) catalog,
                         (char *) "--daemon-key",
                         (char *) key_file,
                         json ? (char *) "--json" : NULL,
                         NULL };

        return cli_exec_helper("yunbak-catalog", argv);
}

static int verify_online(const CliCtl *ctl, bool json) {
        _cleanup_(json_decrefp) json_t *v = NULL;
        json_t *problems, *p, *ok;
        int64_t records = 0, seals = 0, last_sealed = 0, seq;
        bool intact;
        size_t i;
        int r;

        r = cli_ctl_call(ctl, "GET", "/v1/audit/verify", NULL, &v);
        if (r != 0)
                return r;
        problems = json_object_get(v, "problems");
        ok = json_object_get(v, "ok");
        /* Intact only when yunbakd says so and lists nothing: either alone is not enough. */
        intact = json_is_true(ok) && json_array_size(problems) == 0;
        if (json) {
                cli_json_print(v);
                return intact ? YB_EXIT_OK : YB_EXIT_DAMAGED;
        }
        json_array_foreach(problems, i, p) {
                _cleanup_free_ char *clean = cli_sanitize(cli_json_str(p, "problem") ?: "?");

                if (cli_json_int(p, "seq", &seq))
                        printf("record %" PRId64 ": %s\n", seq, clean ?: "?");
                else
                        printf("%s\n", clean ?: "?");
        }
        (void) cli_json_int(v, "records", &records);
        (void) cli_json_int(v, "seals", &seals);
        (void) cli_json_int(v, "last_sealed_seq", &last_sealed);
        if (!json_is_boolean(ok))
                log_error("yunbakd's answer does not say whether the log is intact; taking it as "
                          "not.");
        cli_audit_summary(intact, records, seals, last_sealed, json_array_size(problems));
        return intact ? YB_EXIT_OK : YB_EXIT_DAMAGED;
}

static int show_log(const CliCtl *ctl, int64_t after, int64_t limit, bool json) {
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_(cli_table_freep) CliTable *t = NULL;
        _cleanup_free_ char *path = NULL;
        json_t *records, *rec;
        int64_t last = after, last_seq;
        size_t i;
        int r;

        if (asprintf(&path, "/v1/audit?after=%" PRId64 "&limit=%" PRId64, after, limit) < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(ctl, "GET", path, NULL, &answer);
        if (r != 0)
                return r;
        if (json) {
                cli_json_print(answer);
                return YB_EXIT_OK;
        }
        records = json_object_get(answer, "records");
        if (json_array_size(records) == 0) {
                printf("No audit records after %" PRId64 ".\n", after);
                return YB_EXIT_OK;
        }
        t = cli_table_new(8, "SEQ", "TIME (UTC)", "ACTOR", "ROLE", "ACTION", "OBJECT", "RESULT",
                          "DETAIL");
        if (!t)
                return log_oom(), YB_EXIT_FAILED;
        json_array_foreach(records, i, rec) {
                int64_t seq = 0, time = -1;
                char sseq[24], when[32];

                (void) cli_json_int(rec, "seq", &seq);
                (void) cli_json_int(rec, "time_usec", &time);
                snprintf(sseq, sizeof(sseq), "%" PRId64, seq);
                last = MAX(last, seq);
                if (cli_table_add(t, sseq, cli_format_time(time, when), cli_json_str(rec, "actor"),
                                  cli_json_str(rec, "role"), cli_json_str(rec, "action"),
                                  cli_json_str(rec, "object"), cli_json_str(rec, "result"),
                                  cli_json_str(rec, "detail")) < 0)
                        return log_oom(), YB_EXIT_FAILED;
        }
        cli_table_print(t, stdout);
        if (cli_json_int(answer, "last_seq", &last_seq) && last_seq > last)
                printf("Records %" PRId64 " to %" PRId64 " follow: yunbak audit log --after "
                       "%" PRId64 "\n",
                       last + 1, last_seq, last);
        else if ((int64_t) json_array_size(records) == limit)
                /* A full page: there may be more. */
                printf("More may follow: yunbak audit log --after %" PRId64 "\n", last);
        return YB_EXIT_OK;
}

int cli_audit(int argc, char **argv) {
        static const struct option opts[] = {
                { "catalog", required_argument, NULL, 'c' },
                { "daemon-key", required_argument, NULL, 'k' },
                { "after", required_argument, NULL, 'a' },
                { "limit", required_argument, NULL, 'n' },
                CLI_CTL_OPTIONS,
                {},
        };
        const char *socket = NULL, *catalog = NULL, *key = NULL, *after_s = NULL, *limit_s = NULL,
                   *sub;
        int64_t after = 0, limit = 100;
        bool json = false;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        catalog = optarg;
                        break;
                case 'k':
                        key = optarg;
                        break;
                case 'a':
                        after_s = optarg;
                        break;
                case 'n':
                        limit_s = optarg;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "audit");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind + 1 != argc) {
                log_error("audit takes one subcommand: verify or log.");
                return cli_usage_error("audit");
        }
        sub = argv[optind];
        cli_ctl_init(&ctl, socket);
        if (streq(sub, "verify")) {
                if (after_s || limit_s) {
                        log_error("--after and --limit are for 'audit log'.");
                        return cli_usage_error("audit");
                }
                if (!catalog != !key) {
                        log_error("--catalog FILE and --daemon-key FILE go together: the check "
                                  "of a catalog file needs the key that sealed it.");
                        return cli_usage_error("audit");
                }
                if (catalog && socket) {
                        log_error("--catalog checks a file here; --socket asks yunbakd. Give "
                                  "one of them.");
                        return cli_usage_error("audit");
                }
                return catalog ? verify_offline(catalog, key, json) : verify_online(&ctl, json);
        }
        if (streq(sub, "log")) {
                if (catalog || key) {
                        log_error("--catalog and --daemon-key are for 'audit verify'.");
                        return cli_usage_error("audit");
                }
                if (after_s && cli_parse_int(after_s, 0, INT64_MAX, &after) < 0) {
                        log_error("--after '%s' is not a sequence number (0 or more).", after_s);
                        return YB_EXIT_USAGE;
                }
                if (limit_s && cli_parse_int(limit_s, 1, 1000, &limit) < 0) {
                        log_error("--limit '%s' is not a number from 1 to 1000.", limit_s);
                        return YB_EXIT_USAGE;
                }
                return show_log(&ctl, after, limit, json);
        }
        log_error("Unknown audit subcommand '%s': use verify or log.", sub);
        return cli_usage_error("audit");
}
