/* yunbak key withdraw: a key copy registered by mistake (a wrong path, a copy that never
 * existed, the same copy under another host name) withdrawn by two people (docs/cli.md,
 * "yunbak key"; docs/decommission.md, "Key copies"): the system's department, or the operator
 * who registered it, asks with a reason; an operator who neither asked nor holds the copy
 * confirms. yunbakd keeps the copy's record, in state "withdrawn". */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/key-copies.h"
#include "cli/output.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"

static void usage_withdraw(FILE *f) {
        fputs("Usage: yunbak key withdraw --copy ID --reason TEXT [--socket PATH] [--json]\n"
              "       yunbak key withdraw --copy ID --confirm [--socket PATH] [--json]\n"
              "\n"
              "Withdraws a key copy registered by mistake: a wrong path, a copy that never\n"
              "existed, the same copy registered twice under another host name. A withdrawal\n"
              "says the copy never existed, so it takes two people: the system's department,\n"
              "or the operator who registered the copy, asks with --reason; then an operator\n"
              "who neither asked nor holds the copy confirms with --confirm. Until then the\n"
              "copy stays held, and a decommission waits for it. A copy that exists is\n"
              "destroyed instead ('yunbak key destroy FILE', 'yunbak key attest-destroyed').\n"
              "A withdrawn copy keeps its record ('yunbak key list'), and a decommission's\n"
              "certificate names it as withdrawn, never as destroyed.\n"
              "\n"
              "Options:\n"
              "  --copy ID       the copy ('yunbak key list --system ID')\n"
              "  --reason TEXT   why it was registered by mistake (asks for the withdrawal)\n"
              "  --confirm       confirms the withdrawal another person asked "
              "for\n" CLI_CTL_OPTIONS_HELP,
              f);
}

int cli_key_withdraw(int argc, char **argv) {
        static const struct option opts[] = {
                { "copy", required_argument, NULL, 'c' },
                { "reason", required_argument, NULL, 'r' },
                { "confirm", no_argument, NULL, 'C' },
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *body = NULL, *copy = NULL;
        _cleanup_free_ char *api = NULL;
        const char *socket = NULL, *copy_s = NULL, *reason = NULL;
        bool json = false, confirm = false;
        char why[1600], where[4500];
        json_t *w;
        int64_t id;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'c':
                        copy_s = optarg;
                        break;
                case 'r':
                        reason = optarg;
                        break;
                case 'C':
                        confirm = true;
                        break;
                default:
                        r = cli_ctl_option(c, &socket, &json, usage_withdraw, "key");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind != argc) {
                log_error("key withdraw takes options only: '%s' is one too many.", argv[optind]);
                return cli_usage_error("key");
        }
        if (cli_need_options("key withdraw", "--copy ID", copy_s, NULL) != 0)
                return YB_EXIT_USAGE;
        if (!confirm == !reason) {
                log_error("key withdraw needs either --reason TEXT (to ask for the withdrawal of "
                          "a copy registered by mistake) or --confirm (to confirm one another "
                          "person asked for), not %s.",
                          confirm ? "both" : "neither");
                return YB_EXIT_USAGE;
        }
        if (cli_parse_int(copy_s, 1, INT64_MAX, &id) < 0) {
                log_error("--copy '%s' is not a key copy id (a number, as 'yunbak key list "
                          "--system ID' shows).",
                          copy_s);
                return YB_EXIT_USAGE;
        }
        body = confirm ? json_pack("{s:b}", "confirm", true) : json_pack("{s:s}", "reason", reason);
        if (!body || asprintf(&api, "/v1/key-copies/%" PRId64 "/withdraw", id) < 0)
                return log_oom(), YB_EXIT_FAILED;
        cli_ctl_init(&ctl, socket);
        r = cli_key_post(&ctl, api, body, &copy, why, sizeof(why));
        if (r != 0) {
                log_error("Key copy %" PRId64 " is not %s: %s", id,
                          confirm ? "withdrawn" : "asked to be withdrawn", why);
                return r;
        }
        if (json) {
                cli_json_print(copy);
                return YB_EXIT_OK;
        }
        w = json_object_get(copy, "withdrawal");
        cli_key_copy_where(copy, where, sizeof(where));
        if (confirm)
                printf("Key copy %" PRId64 " of system '%s' (%s) is withdrawn: registered by "
                       "mistake, asked by %s, confirmed by you. Its record stays; a certificate "
                       "names it as withdrawn, not destroyed.\n",
                       id, cli_json_str(copy, "system") ?: "?", where,
                       cli_json_str(w, "asked_by") ?: "?");
        else
                printf("The withdrawal of key copy %" PRId64 " of system '%s' (%s) is asked. It "
                       "stays held until an operator who neither asked nor holds it (held by %s) "
                       "confirms: 'yunbak key withdraw --copy %" PRId64 " --confirm'.\n",
                       id, cli_json_str(copy, "system") ?: "?", where,
                       cli_json_str(copy, "holder") ?: "?", id);
        return YB_EXIT_OK;
}
