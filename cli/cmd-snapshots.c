/* yunbak snapshots --store STORE --system ID [--json] */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "base/exitcode.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "cli.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak snapshots --store STORE --system ID [--json]\n"
              "\n"
              "Lists the committed snapshots of system ID in STORE, oldest first: id, level,\n"
              "parent, start time (UTC), files, bytes in the sources, bytes stored. Snapshots\n"
              "whose signed header does not check out are named on stderr and make the exit\n"
              "status 5. No key is needed.\n",
              f);
}

int cli_snapshots(int argc, char **argv) {
        static const struct option opts[] = {
                { "store", required_argument, NULL, 's' },
                { "system", required_argument, NULL, 'S' },
                { "json", no_argument, NULL, 'j' },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        const char *location = NULL, *system = NULL;
        YbSnapshotList l = { 0 };
        bool json = false;
        int c, r;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        location = optarg;
                        break;
                case 'S':
                        system = optarg;
                        break;
                case 'j':
                        json = true;
                        break;
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        return cli_usage_error("snapshots");
                }
        }
        if (!location || !system || optind != argc) {
                log_error("snapshots needs --store STORE and --system ID.");
                return cli_usage_error("snapshots");
        }
        r = cli_open_repo(location, system, &store, &repo);
        if (r != 0)
                return r;
        r = yb_repo_list(repo, &l);
        if (r < 0) {
                log_error("Cannot list the snapshots of system '%s': %s", system, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        if (json) {
                json_t *arr = json_array();

                for (size_t i = 0; i < l.n; i++) {
                        _cleanup_free_ char *s = yb_header_to_json(l.items[i]);
                        json_error_t err;

                        json_array_append_new(arr, s ? json_loads(s, 0, &err) : json_null());
                }
                json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(arr);
        } else {
                printf("%-24s %-12s %-24s %-20s %9s %10s %10s\n", "ID", "LEVEL", "PARENT",
                       "STARTED (UTC)", "FILES", "SIZE", "STORED");
                for (size_t i = 0; i < l.n; i++) {
                        const YbSnapshotHeader *h = l.items[i];
                        char t[32], b1[32], b2[32];

                        yb_time_format_iso(h->started_ns, t);
                        t[19] = 0;
                        t[10] = ' ';
                        printf("%-24s %-12s %-24s %-20s %9llu %10s %10s%s\n", h->id,
                               yb_level_to_string(h->level), *h->parent ? h->parent : "-", t,
                               (unsigned long long) h->counts.files,
                               yb_format_bytes(h->bytes_source, b1),
                               yb_format_bytes(h->bytes_stored, b2),
                               h->partial ? "  (partial)" : "");
                }
                if (l.n == 0)
                        printf("(no snapshots)\n");
        }
        for (size_t i = 0; i < l.n_broken; i++)
                log_error("Snapshot %s is damaged: its header %s. Run 'yunbak verify'.",
                          l.broken[i].id,
                          l.broken[i].error == -ENOENT    ? "is missing"
                          : l.broken[i].error == -EBADMSG ? "does not check out"
                                                          : strerror(-l.broken[i].error));
        r = l.n_broken > 0 ? YB_EXIT_DAMAGED : YB_EXIT_OK;
        yb_snapshot_list_done(&l);
        return r;
}
