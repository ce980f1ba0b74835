/* yunbak catalog rebuild: yunbakd recreates its catalog's systems and snapshots from the stores. */
#include <getopt.h>
#include <inttypes.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

/* Reading every store's headers can take long: far longer than an ordinary request. */
#define REBUILD_TIMEOUT_MS (60 * 60 * YB_MSEC_PER_SEC)

static void usage(FILE *f) {
        fputs("Usage: yunbak catalog rebuild [--socket PATH] [--json]\n"
              "\n"
              "Asks yunbakd (operators only) to read every store of yunbakd.yaml and recreate\n"
              "the catalog's systems and snapshots from what the stores hold (signed headers\n"
              "only; no key is needed). Jobs, approvals and the audit log are kept. Prints how\n"
              "many systems and snapshots the catalog now has, and how many snapshots were\n"
              "added and removed. Waits up to an hour for the answer. Exit 3 when some\n"
              "snapshots or stores could not be read (yunbakd's log names them).\n"
              "\n"
              "Options:\n" CLI_CTL_OPTIONS_HELP,
              f);
}

int cli_catalog(int argc, char **argv) {
        static const struct option opts[] = {
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *answer = NULL;
        const char *socket = NULL;
        int64_t systems = 0, snapshots = 0, added = 0, removed = 0, unreadable = 0;
        bool json = false;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                default:
                        r = cli_ctl_option(c, &socket, &json, usage, "catalog rebuild");
                        if (r >= 0)
                                return r;
                }
        }
        if (optind + 1 != argc || !streq(argv[optind], "rebuild")) {
                log_error("catalog takes one subcommand: rebuild.");
                return cli_usage_error("catalog rebuild");
        }
        cli_ctl_init(&ctl, socket);
        ctl.timeout_ms = REBUILD_TIMEOUT_MS;
        r = cli_ctl_call(&ctl, "POST", "/v1/catalog/rebuild", NULL, &answer);
        if (r != 0)
                return r;
        (void) cli_json_int(answer, "unreadable", &unreadable);
        if (json) {
                cli_json_print(answer);
                return unreadable > 0 ? YB_EXIT_PARTIAL : YB_EXIT_OK;
        }
        (void) cli_json_int(answer, "systems", &systems);
        (void) cli_json_int(answer, "snapshots", &snapshots);
        (void) cli_json_int(answer, "added", &added);
        (void) cli_json_int(answer, "removed", &removed);
        printf("Catalog rebuilt from the stores: %" PRId64 " %s, %" PRId64 " %s (%" PRId64
               " added, %" PRId64 " removed).\n",
               systems, cli_plural(systems, "system", "systems"), snapshots,
               cli_plural(snapshots, "snapshot", "snapshots"), added, removed);
        if (unreadable > 0) {
                printf("%" PRId64 " %s, repositories or snapshots could not be read; yunbakd's "
                       "log names each. Run 'yunbak verify' on them.\n",
                       unreadable, unreadable == 1 ? "store" : "stores");
                return YB_EXIT_PARTIAL;
        }
        return YB_EXIT_OK;
}
