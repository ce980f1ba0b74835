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
        fputs("Usage: yunbak catalog rebuild [--forget-missing] [--socket PATH] [--json]\n"
              "\n"
              "Asks yunbakd (operators only) to read every store of yunbakd.yaml and recreate\n"
              "the catalog's systems and snapshots from what the stores hold (signed headers\n"
              "only; no key is needed). Jobs, approvals and the audit log are kept. Prints how\n"
              "many systems and snapshots the catalog now has, and how many snapshots were\n"
              "added and removed. Waits up to an hour for the answer. Exit 3 when some\n"
              "snapshots or stores could not be read (yunbakd's log names them).\n"
              "\n"
              "Snapshots the catalog knows but a store no longer shows (an unmounted share shows\n"
              "none) are kept and named, and the command exits 3; --forget-missing forgets them.\n"
              "\n"
              "Options:\n"
              "  --forget-missing\n"
              "                  forget the snapshots a readable store no longer "
              "shows\n" CLI_CTL_OPTIONS_HELP,
              f);
}

int cli_catalog(int argc, char **argv) {
        static const struct option opts[] = {
                { "forget-missing", no_argument, NULL, 'F' },
                CLI_CTL_OPTIONS,
                {},
        };
        _cleanup_(json_decrefp) json_t *answer = NULL, *body = NULL;
        json_t *missing, *e;
        bool forget = false;
        size_t i;
        const char *socket = NULL;
        int64_t systems = 0, snapshots = 0, added = 0, removed = 0, unreadable = 0;
        bool json = false;
        CliCtl ctl;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 'F':
                        forget = true;
                        break;
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
        if (forget) {
                body = json_pack("{s:b}", "forget_missing", 1);
                if (!body)
                        return log_oom(), YB_EXIT_FAILED;
        }
        r = cli_ctl_call(&ctl, "POST", "/v1/catalog/rebuild", body, &answer);
        if (r != 0)
                return r;
        (void) cli_json_int(answer, "unreadable", &unreadable);
        missing = json_object_get(answer, "missing");
        if (json) {
                cli_json_print(answer);
                return unreadable > 0 || json_array_size(missing) > 0 ? YB_EXIT_PARTIAL
                                                                      : YB_EXIT_OK;
        }
        (void) cli_json_int(answer, "systems", &systems);
        (void) cli_json_int(answer, "snapshots", &snapshots);
        (void) cli_json_int(answer, "added", &added);
        (void) cli_json_int(answer, "removed", &removed);
        printf("Catalog rebuilt from the stores: %" PRId64 " %s, %" PRId64 " %s (%" PRId64
               " added, %" PRId64 " removed).\n",
               systems, cli_plural(systems, "system", "systems"), snapshots,
               cli_plural(snapshots, "snapshot", "snapshots"), added, removed);
        json_array_foreach(missing, i, e) {
                if (i == 0)
                        printf("%zu snapshot%s the catalog knew %s not in %s store now, and %s "
                               "kept:\n",
                               json_array_size(missing), json_array_size(missing) == 1 ? "" : "s",
                               json_array_size(missing) == 1 ? "is" : "are",
                               json_array_size(missing) == 1 ? "its" : "their",
                               json_array_size(missing) == 1 ? "was" : "were");
                printf("  %s: snapshot %s in store '%s'\n",
                       json_string_value(json_object_get(e, "system")) ?: "?",
                       json_string_value(json_object_get(e, "snapshot")) ?: "?",
                       json_string_value(json_object_get(e, "store")) ?: "?");
        }
        if (json_array_size(missing) > 0)
                printf("Is each store mounted and reachable? If these snapshots are truly gone, "
                       "'yunbak catalog rebuild --forget-missing' forgets them.\n");
        if (unreadable > 0) {
                printf("%" PRId64 " %s, repositories or snapshots could not be read; yunbakd's "
                       "log names each. Run 'yunbak verify' on them.\n",
                       unreadable, unreadable == 1 ? "store" : "stores");
                return YB_EXIT_PARTIAL;
        }
        return json_array_size(missing) > 0 ? YB_EXIT_PARTIAL : YB_EXIT_OK;
}
