/* yunbak snapshots --store STORE --system ID [--segments ROOT] [--json]: read from a store (a
 * tier-2 store's segment chains and WAL archive chains too); yunbak snapshots --system ID [--socket
 * PATH] [--json]: from yunbakd's catalog. */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/ctl.h"
#include "cli/output.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/pg.h"
#include "core/repo/segment.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak snapshots --store STORE --system ID [--json]\n"
              "       yunbak snapshots --store STORE --system ID --segments ROOT [--json]\n"
              "       yunbak snapshots --system ID [--socket PATH] [--json]\n"
              "\n"
              "Lists the committed snapshots of system ID in STORE, oldest first: id, level,\n"
              "parent, start time (UTC), files, bytes in the sources, bytes stored. Snapshots\n"
              "whose signed header does not check out are named on stderr and make the exit\n"
              "status 5. No key is needed. On a store with segment chains (tier 2, or the WAL\n"
              "archive of a system without it), then one line per chain: its root, how many\n"
              "segments, the first and the last segment's time.\n"
              "With --segments ROOT, lists the segments of chain ROOT instead: id, seq, time\n"
              "(UTC, when it finished: the point it restores), entries changed and deleted,\n"
              "bytes stored, and how many files it read while they were being written.\n"
              "\n"
              "Under a PostgreSQL base backup, one line per cluster: 'pg NAME START..STOP',\n"
              "its LSNs, its timeline, and the server's time from which it is consistent.\n"
              "\n"
              "Without --store, asks yunbakd for the snapshots its catalog knows, in every\n"
              "store (the STORE column names yunbakd's store); --json prints its answer.\n"
              "\n"
              "  --socket PATH   yunbakd's control socket (default: $YUNBAK_SOCKET, else\n"
              "                  " CLI_CTL_SOCKET_DEFAULT ")\n"
              "\n" CLI_STORE_OPTIONS_HELP,
              f);
}

/* The catalog's snapshots, from yunbakd: the store mode's table with a STORE column. */
static int from_catalog(const char *socket, const char *system, bool json) {
        _cleanup_(json_decrefp) json_t *answer = NULL;
        _cleanup_free_ char *path = NULL;
        json_t *snaps, *s;
        CliCtl ctl;
        size_t i;
        int r;

        cli_ctl_init(&ctl, socket);
        if (asprintf(&path, "/v1/systems/%s/snapshots", system) < 0)
                return log_oom(), YB_EXIT_FAILED;
        r = cli_ctl_call(&ctl, "GET", path, NULL, &answer);
        if (r != 0)
                return r;
        if (json) {
                cli_json_print(answer);
                return YB_EXIT_OK;
        }
        snaps = json_object_get(answer, "snapshots");
        printf("%-12s %-24s %-12s %-24s %-20s %9s %10s %10s\n", "STORE", "ID", "LEVEL", "PARENT",
               "STARTED (UTC)", "FILES", "SIZE", "STORED");
        json_array_foreach(snaps, i, s) {
                _cleanup_free_ char *store = cli_sanitize(cli_json_str(s, "store") ?: "-");
                _cleanup_free_ char *id = cli_sanitize(cli_json_str(s, "id") ?: "-");
                _cleanup_free_ char *level = cli_sanitize(cli_json_str(s, "level") ?: "-");
                _cleanup_free_ char *parent = cli_sanitize(cli_json_str(s, "parent") ?: "-");
                int64_t started = -1, files = 0, source = 0, stored = 0;
                char t[32], b1[32], b2[32];

                if (!store || !id || !level || !parent)
                        return log_oom(), YB_EXIT_FAILED;
                (void) cli_json_int(s, "started_usec", &started);
                (void) cli_json_int(s, "files", &files);
                (void) cli_json_int(s, "bytes_source", &source);
                (void) cli_json_int(s, "bytes_stored", &stored);
                printf("%-12s %-24s %-12s %-24s %-20s %9" PRId64 " %10s %10s%s\n", store, id, level,
                       parent, cli_format_time(started, t), files,
                       yb_format_bytes((uint64_t) MAX(source, (int64_t) 0), b1),
                       yb_format_bytes((uint64_t) MAX(stored, (int64_t) 0), b2),
                       json_is_true(json_object_get(s, "partial")) ? "  (partial)" : "");
                if (cli_json_str(s, "quarantine")) {
                        _cleanup_free_ char *why = cli_sanitize(cli_json_str(s, "quarantine"));

                        printf("%-12s   QUARANTINED: %s\n", "", why ? why : "?");
                }
        }
        if (json_array_size(snaps) == 0)
                printf("(no snapshots)\n");
        return YB_EXIT_OK;
}

/* "2026-12-06 08:00:01.234" */
static const char *point_time(int64_t ns, char t[40]) {
        yb_time_format_iso(ns, t);
        t[10] = ' ';
        t[23] = 0;
        return t;
}

/* Under a base backup's row, one line per cluster (h->pg): the hook, the LSNs from
 * pg_backup_start to pg_backup_stop, the timeline, and the server's time at pg_backup_stop, from
 * which the copy is consistent (a restore to T needs a base from before T). */
static void print_pg(const YbSnapshotHeader *h) {
        for (size_t i = 0; i < h->n_pg; i++) {
                const YbPgBackup *b = &h->pg[i];
                _cleanup_free_ char *name = cli_sanitize(b->name);
                char start[YB_PG_LSN_MAX + 1], stop[YB_PG_LSN_MAX + 1], t[40];

                yb_pg_lsn_format(b->start_lsn, start);
                yb_pg_lsn_format(b->stop_lsn, stop);
                printf("  pg %s %s..%s timeline %" PRIu32 ", consistent from %s\n",
                       name ? name : "?", start, stop, b->timeline, point_time(b->stopped_ns, t));
        }
}

static json_t *chain_json(const YbSegmentChain *c, bool root_missing) {
        char t1[40], t2[40];

        if (c->n_segments > 0) {
                yb_time_format_iso(c->first_ns, t1);
                yb_time_format_iso(c->last_ns, t2);
        }
        return json_pack("{s:s, s:s, s:I, s:I, s:I, s:s?, s:s?, s:I, s:I, s:s?, s:I, s:b, s:b}",
                         "type", "yunbak-segment-chain", "root", c->root, "segments",
                         (json_int_t) c->n_segments, "first_seq", (json_int_t) c->first_seq,
                         "last_seq", (json_int_t) c->last_seq, "first", c->n_segments ? t1 : NULL,
                         "last", c->n_segments ? t2 : NULL, "first_ns", (json_int_t) c->first_ns,
                         "last_ns", (json_int_t) c->last_ns, "last_id",
                         *c->last_id ? c->last_id : NULL, "hours", (json_int_t) c->n_hours,
                         "damaged", c->damaged, "root_missing", root_missing);
}

static void print_chains(const YbSegmentChainList *chains) {
        printf("\n%-24s %9s %-23s %s\n", "CHAIN ROOT", "SEGMENTS", "FIRST (UTC)", "LAST (UTC)");
        for (size_t i = 0; i < chains->n; i++) {
                const YbSegmentChain *c = &chains->items[i];
                char t1[40] = "-", t2[40] = "-";

                if (c->n_segments > 0) {
                        point_time(c->first_ns, t1);
                        point_time(c->last_ns, t2);
                }
                printf("%-24s %9llu %-23s %s%s\n", c->root, (unsigned long long) c->n_segments, t1,
                       t2, c->damaged ? "  (damaged: run 'yunbak verify')" : "");
        }
}

/* The segment chains of the store (a tier-2 store's, or WAL archive chains; none on another). 0,
 * or an exit status. */
static int list_chains(YbRepo *repo, const char *system, const YbSnapshotList *l, json_t *arr) {
        _cleanup_(yb_segment_chain_list_done) YbSegmentChainList chains = { 0 };
        int r = yb_segments_list(repo, &chains), status = YB_EXIT_OK;

        if (r < 0) {
                log_error("Cannot list the segment chains of system '%s' in '%s': %s", system,
                          yb_store_location(repo->store), strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        if (chains.n == 0)
                return YB_EXIT_OK;
        for (size_t i = 0; i < chains.n; i++) {
                const YbSegmentChain *c = &chains.items[i];
                bool missing = !yb_snapshot_list_find(l, c->root);

                if (arr) {
                        json_t *j = chain_json(c, missing);

                        if (!j)
                                return log_oom(), YB_EXIT_FAILED;
                        /* On its root's object, or alone when the root is missing. */
                        for (size_t k = 0; k < json_array_size(arr) && !missing; k++) {
                                json_t *o = json_array_get(arr, k);
                                const char *id = json_string_value(json_object_get(o, "id"));

                                if (id && streq(id, c->root)) {
                                        json_object_set_new(o, "chain", j);
                                        j = NULL;
                                }
                        }
                        if (j)
                                json_array_append_new(arr, j);
                }
                if (missing) {
                        log_error(
                                "Segment chain %s has no root: snapshot %s is missing or damaged, "
                                "so none of its %llu segments can be restored. Run 'yunbak "
                                "verify'.",
                                c->root, c->root, (unsigned long long) c->n_segments);
                        status = YB_EXIT_DAMAGED;
                }
                if (c->damaged)
                        status = YB_EXIT_DAMAGED;
        }
        if (!arr)
                print_chains(&chains);
        return status;
}

/* yunbak snapshots --segments ROOT. */
static int list_segments(YbRepo *repo, const char *system, const char *root, bool json) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *bad = NULL;
        int r;

        if (!yb_snapshot_id_valid(root)) {
                log_error("'%s' is not a snapshot id.", root);
                return YB_EXIT_USAGE;
        }
        r = yb_segments_load(repo, root, 1, INT64_MAX, &l, &bad);
        if (r == -ENOENT) {
                log_error("System '%s' in '%s' has no segment chain %s ('yunbak snapshots' lists "
                          "the chains).",
                          system, yb_store_location(repo->store), root);
                return YB_EXIT_FAILED;
        }
        if (r < 0) {
                log_error("Cannot list the segments of chain %s of system '%s' in '%s': %s", root,
                          system, yb_store_location(repo->store), strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        if (json) {
                json_t *arr = json_array();

                for (size_t i = 0; i < l.n; i++) {
                        _cleanup_free_ char *s = yb_header_to_json(l.items[i]);

                        json_array_append_new(arr, s ? json_loads(s, 0, NULL) : json_null());
                }
                json_dumpf(arr, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(arr);
        } else {
                printf("%-24s %8s %-23s %8s %8s %10s\n", "ID", "SEQ", "POINT (UTC)", "CHANGED",
                       "DELETED", "STORED");
                for (size_t i = 0; i < l.n; i++) {
                        const YbSnapshotHeader *h = l.items[i];
                        const YbSnapshotCounts *n = &h->counts;
                        char t[40], b[32], busy[48] = "";

                        /* Files kept as read while they were being written. */
                        if (n->changing > 0)
                                snprintf(busy, sizeof(busy), "  (%llu read while written)",
                                         (unsigned long long) n->changing);
                        printf("%-24s %8llu %-23s %8llu %8llu %10s%s%s\n", h->id,
                               (unsigned long long) h->seq, point_time(h->finished_ns, t),
                               (unsigned long long) (n->files + n->dirs + n->symlinks +
                                                     n->hardlinks + n->special),
                               (unsigned long long) n->deleted, yb_format_bytes(h->bytes_stored, b),
                               h->partial ? "  (partial)" : "", busy);
                }
                if (l.n == 0)
                        printf("(no segments)\n");
        }
        if (bad) {
                log_error("Segment chain %s breaks after seq %llu: %s. The segments after it "
                          "cannot be restored; run 'yunbak verify --chain %s'.",
                          root, (unsigned long long) (l.n ? l.items[l.n - 1]->seq : 0), bad, root);
                return YB_EXIT_DAMAGED;
        }
        return YB_EXIT_OK;
}

int cli_snapshots(int argc, char **argv) {
        static const struct option opts[] = {
                { "store", required_argument, NULL, 's' },
                { "system", required_argument, NULL, 'S' },
                { "segments", required_argument, NULL, 'G' },
                CLI_CTL_OPTIONS,
                CLI_STORE_OPTIONS,
                {},
        };
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        const char *location = NULL, *system = NULL, *socket = NULL, *chain = NULL;
        YbSnapshotList l = { 0 };
        bool json = false;
        int c, r, status;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        location = optarg;
                        break;
                case 'S':
                        system = optarg;
                        break;
                case 'G':
                        chain = optarg;
                        break;
                default:
                        if (cli_store_option(c, optarg) > 0)
                                break;
                        r = cli_ctl_option(c, &socket, &json, usage, "snapshots");
                        if (r >= 0)
                                return r;
                }
        }
        if (!system || optind != argc) {
                log_error("snapshots needs --system ID (and --store STORE to read a store "
                          "directly).");
                return cli_usage_error("snapshots");
        }
        if (location && socket) {
                log_error("--store reads a store here; --socket asks yunbakd. Give one of them.");
                return cli_usage_error("snapshots");
        }
        if (chain && !location) {
                log_error("--segments reads a tier-2 store: give --store STORE.");
                return cli_usage_error("snapshots");
        }
        if (!location) {
                if (cli_check_system_id(system) != 0)
                        return YB_EXIT_USAGE;
                return from_catalog(socket, system, json);
        }
        r = cli_open_repo(location, system, &store, &repo);
        if (r != 0)
                return r;
        if (chain)
                return list_segments(repo, system, chain, json);
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
                status = list_chains(repo, system, &l, arr);
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
                        print_pg(h);
                }
                if (l.n == 0)
                        printf("(no snapshots)\n");
                status = list_chains(repo, system, &l, NULL);
        }
        /* An object store's snapshots written in place, without their header yet: not
         * snapshots, not damaged either (the exit status says nothing of them). */
        for (size_t i = 0; i < l.n_incomplete; i++) {
                if (json)
                        log_info("Snapshot %s is %s.", l.incomplete[i], YB_INCOMPLETE_TEXT);
                else
                        printf("%-24s %s\n", l.incomplete[i], YB_INCOMPLETE_TEXT);
        }
        for (size_t i = 0; i < l.n_broken; i++) {
                char why[YB_REPO_KEY_TEXT_MAX];

                if (l.broken[i].error == -EBADMSG &&
                    yb_repo_header_key_replaced(repo, l.broken[i].id, why) > 0)
                        log_error("Snapshot %s cannot be read: %s. Give the config that names "
                                  "that key back to the repository (from a copy of it), or "
                                  "restore with that key.",
                                  l.broken[i].id, why);
                else
                        log_error("Snapshot %s is damaged: its header %s. Run 'yunbak verify'.",
                                  l.broken[i].id,
                                  l.broken[i].error == -ENOENT    ? "is missing"
                                  : l.broken[i].error == -EBADMSG ? "does not check out"
                                                                  : strerror(-l.broken[i].error));
        }
        r = l.n_broken > 0 ? YB_EXIT_DAMAGED : status;
        yb_snapshot_list_done(&l);
        return r;
}
