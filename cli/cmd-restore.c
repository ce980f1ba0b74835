/* yunbak restore --store STORE --system ID --key ID.key [--snapshot ID | --at TIME | --latest]
 *                [--allow-older] --target DIR [PATH...]
 * On a tier-2 store (one with segment chains) the point restored is the newest segment or chain
 * root at or before TIME (or the newest of all), replayed from its root. A store that holds
 * PostgreSQL base backups gets each cluster restored to TIME as well (cmd-restore-pg.c). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"
#include "cli/follow.h"
#include "cli/restore-load.h"
#include "cli/restore-pg.h"
#include "cli/restore-point.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"
#include "core/repo/segment.h"
#include "policies/schema.h"
#include "restore/restore.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak restore --store STORE --system ID --key ID.key\n"
              "                      [--passphrase-file FILE]\n"
              "                      [--snapshot ID | --at TIME | --latest]\n"
              "                      [--allow-older] --target DIR [--sync] [--json] [PATH...]\n"
              "       yunbak restore --store STORE --system ID --key ID.key\n"
              "                      [--passphrase-file FILE] [--snapshot ID | --at TIME]\n"
              "                      --target DIR --load [NAME=]CONNINFO... [--jobs N]\n"
              "       yunbak restore --follow --store STORE --system ID --key ID.key\n"
              "                      [--passphrase-file FILE] --target DIR [--interval D]\n"
              "                      [--json]\n"
              "\n"
              "Restores the newest snapshot (or --snapshot ID, or the newest at or before --at\n"
              "TIME, ISO 8601 such as 2026-11-21T18:00:00+08:00) of system ID into DIR. With\n"
              "PATH... only those paths of the snapshot (and what is below them) are restored,\n"
              "reading only the volumes they need. Paths in a snapshot start with the source's\n"
              "name: a backup of /srv/app holds app/..., restored as DIR/app/....\n"
              "On a tier-2 store (continuous replication) the point restored is the newest\n"
              "segment (or chain root) finished at or before TIME, or the newest of all.\n"
              "When a snapshot or segment newer than the one chosen is damaged, nothing is\n"
              "restored unless --allow-older says to take the newest sound one before it.\n"
              "--follow keeps DIR a warm standby of a tier-2 store: the newest point is\n"
              "restored, then each new segment is applied as it lands (checked, renamed into\n"
              "place; DIR equals a committed point after each), and each new chain root is\n"
              "followed; a file changed in DIR by something else is reported and fetched\n"
              "again. It looks for new segments every --interval (default 1s) and stops on\n"
              "SIGTERM or SIGINT after the segment in hand; DIR/.yunbak-follow/ keeps its\n"
              "progress, so a new run takes up where the last one stopped.\n"
              "--trust-agent KEY (repeatable; from 'yunbak-agent identity') refuses snapshots\n"
              "whose chain holds one signed by any other agent.\n"
              "Every file is checked against its hash before it is put in place; nothing is\n"
              "written outside DIR. Owners are restored when run as root.\n"
              "When restore returns, the files are in the page cache, not yet on disk: --sync\n"
              "flushes DIR's filesystem (syncfs) before it reports success.\n"
              "A partial snapshot (entries left out at backup) is said to be, with what it lacks.\n"
              "--load CONNINFO loads the snapshot's database dump (_streams/NAME.pgdump) into\n"
              "the empty database CONNINFO (a libpq connection string) with pg_restore --jobs N\n"
              "(default: the CPUs, at most 4); with several dumps, --load NAME=CONNINFO for each\n"
              "to load. The dump is restored into a private directory in DIR, removed after;\n"
              "pg_restore's output is kept in DIR/NAME.pg_restore.log.\n"
              "A file the replicator read while it was being written (a busy database file)\n"
              "is named with the moments its content mixes.\n"
              "PostgreSQL (a store with base backups, mode: physical): each hook's cluster is\n"
              "written to DIR/_pg/NAME/data from the newest base consistent at TIME, with the\n"
              "WAL after it in DIR/_pg/NAME/wal and the recovery settings, so that\n"
              "'pg_ctl -D DIR/_pg/NAME/data start' brings it to exactly TIME; --latest takes\n"
              "the newest base and all the WAL stored; --snapshot ID (or no option) the base's\n"
              "own WAL only (consistent as of the end of that backup). The restored cluster\n"
              "does not archive (archive_mode = 'off' in its postgresql.auto.conf).\n"
              "Exit status: 0 done, 3 some entries not restored (each named), a partial\n"
              "snapshot or files read while being written (each named), 4 wrong key or\n"
              "passphrase, 5 damaged repository (each damaged file named).\n"
              "\n" CLI_STORE_OPTIONS_HELP,
              f);
}

typedef struct Report {
        json_t *problems;
        json_t *changing; /* the files restored as read while written */
        bool json;
} Report;

static void say_changing(void *userdata, const char *path, const YbSnapshotHeader *segment,
                         int64_t read_started_ns) {
        Report *rep = userdata;

        cli_say_changing(path, segment, read_started_ns, rep->json ? rep->changing : NULL);
}

static void report(void *userdata, const char *path, const char *problem) {
        Report *rep = userdata;

        if (rep->json)
                json_array_append_new(rep->problems,
                                      json_pack("{s:s, s:s}", "path", path, "problem", problem));
        log_error("Not restored: '%s': %s", path, problem);
}

/* "1 file", "2 files" into buf; returns buf. */
static const char *count(char buf[48], uint64_t n, const char *one, const char *many) {
        snprintf(buf, 48, "%llu %s", (unsigned long long) n, cli_plural((int64_t) n, one, many));
        return buf;
}

/* "segment <id> (seq N of chain <root>), finished <time>" or "snapshot <id>" into buf. */
static const char *point_text(const YbRestoreChain *c, char *buf, size_t size) {
        const YbSnapshotHeader *h = yb_restore_chain_point(c);
        char when[32];

        if (h->level != YB_LEVEL_SEGMENT) {
                snprintf(buf, size, "snapshot %s", h->id);
                return buf;
        }
        yb_time_format_iso(h->finished_ns, when);
        snprintf(buf, size, "segment %s (seq %llu of chain %s), finished %s", h->id,
                 (unsigned long long) h->seq, yb_restore_chain_root(c)->id, when);
        return buf;
}

/* --interval: a duration as policies write it ("2s", "1min"), or milliseconds ("500ms"). */
static int parse_interval(const char *s, int64_t *ret_usec) {
        size_t n = strlen(s);
        char *end;
        long long ms;

        if (n > 2 && streq(s + n - 2, "ms")) {
                errno = 0;
                ms = strtoll(s, &end, 10);
                if (errno || end != s + n - 2 || ms <= 0 || ms > 3600 * 1000)
                        return -EINVAL;
                *ret_usec = ms * 1000;
                return 0;
        }
        return yb_duration_parse(s, ret_usec);
}

int cli_restore(int argc, char **argv) {
        static const struct option opts[] = {
                { "store", required_argument, NULL, 's' },
                { "system", required_argument, NULL, 'S' },
                { "key", required_argument, NULL, 'k' },
                { "passphrase-file", required_argument, NULL, 'p' },
                { "snapshot", required_argument, NULL, 'i' },
                { "at", required_argument, NULL, 'a' },
                { "latest", no_argument, NULL, 'l' },
                { "target", required_argument, NULL, 't' },
                { "json", no_argument, NULL, 'j' },
                { "allow-older", no_argument, NULL, 'o' },
                { "trust-agent", required_argument, NULL, 'T' },
                { "follow", no_argument, NULL, 'F' },
                { "sync", no_argument, NULL, 'Y' },
                { "interval", required_argument, NULL, 'I' },
                { "load", required_argument, NULL, 'L' },
                { "jobs", required_argument, NULL, 'J' },
                { "help", no_argument, NULL, 'h' },
                CLI_STORE_OPTIONS,
                {},
        };
        _cleanup_(cli_trust_done) CliTrust trust = { 0 };
        _cleanup_free_ char **load_specs = NULL;
        CliLoad load = { 0 };
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = NULL;
        const char *location = NULL, *system = NULL, *keyfile = NULL, *pass = NULL, *id = NULL,
                   *at = NULL, *target = NULL;
        const YbSnapshotHeader *snap;
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *chain = NULL;
        YbSegmentChainList chains = { 0 };
        YbSnapshotList l = { 0 };
        char what[256];
        YbRestoreOptions ro = { 0 };
        YbRestoreStats st = { 0 };
        Report rep = { 0 };
        json_t *lacks = NULL;
        bool allow_older = false, partial = false, follow = false, latest = false;
        _cleanup_(cli_pg_done) CliPgRestore pg = { 0 };
        json_t *pg_out = NULL;
        char *skip[1] = { (char *) YB_PG_DIR };
        int changing = 0;
        int64_t interval = YB_USEC_PER_SEC;
        int64_t t0 = 0;
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
                case 'k':
                        keyfile = optarg;
                        break;
                case 'p':
                        pass = optarg;
                        break;
                case 'i':
                        id = optarg;
                        break;
                case 'a':
                        at = optarg;
                        break;
                case 'l':
                        latest = true;
                        break;
                case 't':
                        target = optarg;
                        break;
                case 'j':
                        rep.json = true;
                        break;
                case 'o':
                        allow_older = true;
                        break;
                case 'T':
                        r = cli_trust_add(&trust, optarg);
                        if (r != 0)
                                return r;
                        break;
                case 'Y':
                        ro.sync = true;
                        break;
                case 'F':
                        follow = true;
                        break;
                case 'I':
                        if (parse_interval(optarg, &interval) < 0 || interval < 100000) {
                                log_error("--interval '%s' is not a duration of at least 100ms "
                                          "(such as 1s or 500ms).",
                                          optarg);
                                return YB_EXIT_USAGE;
                        }
                        break;
                case 'L': {
                        char **v = reallocarray(load_specs, load.n_specs + 1, sizeof(char *));

                        if (!v)
                                return log_oom(), YB_EXIT_FAILED;
                        load_specs = v;
                        load_specs[load.n_specs++] = optarg;
                        load.specs = load_specs;
                        break;
                }
                case 'J': {
                        char *end;

                        errno = 0;
                        load.jobs = (int) strtol(optarg, &end, 10);
                        if (errno || *end || end == optarg || load.jobs < 1 || load.jobs > 256) {
                                log_error("--jobs '%s' is not a number of pg_restore jobs from 1 "
                                          "to 256.",
                                          optarg);
                                return YB_EXIT_USAGE;
                        }
                        break;
                }
                case 'h':
                        usage(stdout);
                        return YB_EXIT_OK;
                default:
                        if (cli_store_option(c, optarg) > 0)
                                break;
                        return cli_usage_error("restore");
                }
        }
        r = cli_need_options("restore", "--store STORE", location, "--system ID", system,
                             "--key FILE", keyfile, "--target DIR", target, NULL);
        if (r != 0)
                return r;
        if (!!id + !!at + latest > 1) {
                log_error("Give one of --snapshot, --at and --latest.");
                return cli_usage_error("restore");
        }
        if ((load.jobs > 0 && load.n_specs == 0) ||
            (load.n_specs > 0 && (follow || optind < argc))) {
                log_error("--load loads the snapshot's database dumps and takes no paths or "
                          "--follow; --jobs goes with --load.");
                return cli_usage_error("restore");
        }
        if (follow && (id || at || latest || optind < argc || allow_older || ro.sync)) {
                log_error("--follow keeps the whole tree at the newest point: it takes no "
                          "--snapshot, --at, --latest, --allow-older, --sync or paths "
                          "('sync -f DIR' flushes a standby).");
                return cli_usage_error("restore");
        }
        /* Paths are snapshot paths: relative, no '.' or '..' components. */
        for (int i = optind; i < argc; i++) {
                size_t n = strlen(argv[i]);

                while (n > 1 && argv[i][n - 1] == '/')
                        argv[i][--n] = 0;
                if (!yb_path_is_safe(argv[i], n)) {
                        log_error("'%s' is not a path in a snapshot: paths are relative (such as "
                                  "app/etc/config.yaml) with no '.' or '..' parts.",
                                  argv[i]);
                        return YB_EXIT_USAGE;
                }
        }
        r = cli_open_repo(location, system, &store, &repo);
        if (r != 0)
                return r;
        r = cli_load_secret_key(keyfile, pass, &key);
        if (r != 0)
                return r;
        r = cli_check_repo_key(repo, key, keyfile, system);
        if (r != 0)
                return r;
        if (follow) {
                CliFollow fo = { .repo = repo,
                                 .system = system,
                                 .key = key,
                                 .trust = &trust,
                                 .target = target,
                                 .interval_usec = interval,
                                 .json = rep.json };

                return cli_follow(&fo);
        }
        r = yb_repo_list(repo, &l);
        if (r < 0) {
                log_error("Cannot list the snapshots of system '%s': %s", system, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        r = yb_segments_list(repo, &chains);
        if (r < 0) {
                log_error("Cannot list the segment chains of system '%s' in store '%s': %s", system,
                          location, strerror(-r));
                r = yb_exit_code_from_errno(r);
                goto done;
        }
        /* The damage rule for snapshots holds on every store; on a tier-2 one the point is then
         * the newest segment or root at or before --at. */
        /* PostgreSQL clusters with a whole restore: a time older than every base is said
         * before anything is written. */
        pg = (CliPgRestore){ .repo = repo,
                             .l = &l,
                             .key = key,
                             .system = system,
                             .target = target,
                             .mode = at       ? CLI_PG_AT
                                     : latest ? CLI_PG_LATEST
                                              : CLI_PG_OWN,
                             .at = at,
                             .json = rep.json };
        if (at && yb_time_parse(at, &pg.at_ns) < 0) {
                log_error("--at '%s' is not a time; use ISO 8601, such as "
                          "2026-11-21T18:00:00+08:00.",
                          at);
                r = YB_EXIT_USAGE;
                goto done;
        }
        if (id)
                pg.snapshot = yb_snapshot_list_find(&l, id);
        if (optind == argc && (r = cli_pg_plan(&pg)) != 0)
                goto done;
        r = cli_restore_point(repo, &l, chains.n > 0, system, key, id, at, allow_older, &chain);
        if (r != 0)
                goto done;
        snap = yb_restore_chain_point(chain);
        /* Every snapshot and segment the restore reads from must come from a trusted agent. */
        for (size_t i = 0; i < yb_restore_chain_length(chain); i++) {
                const YbSnapshotHeader *h = yb_restore_chain_at(chain, i);

                if (!cli_trust_allows(&trust, h->agent_pk)) {
                        log_error("%s %s (host %s) is signed by an agent that is not trusted; "
                                  "nothing was restored.",
                                  h->level == YB_LEVEL_SEGMENT ? "Segment" : "Snapshot", h->id,
                                  h->host);
                        r = YB_EXIT_DAMAGED;
                        goto done;
                }
        }
        if (load.n_specs > 0) {
                r = cli_restore_load(repo, chain, key, target, &load, rep.json);
                goto done;
        }
        if (!rep.json) {
                _cleanup_free_ char *pk = NULL;

                (void) yb_base64_encode(snap->agent_pk, 32, &pk);
                printf("Restoring %s, written by the agent on host '%s' (key %s).\n",
                       point_text(chain, what, sizeof(what)), snap->host, pk ? pk : "?");
        }
        ro.target = target;
        ro.paths = argv + optind;
        ro.n_paths = (size_t) (argc - optind);
        if (pg.n_hooks > 0) {
                /* each cluster comes from its own base below, not from the point */
                ro.skip = skip;
                ro.n_skip = 1;
        }
        rep.problems = json_array();
        lacks = json_array();
        /* The root, and a segment restored that left entries out (they were not read then). */
        r = cli_say_partial(repo, yb_restore_chain_root(chain), key, lacks);
        if (r == 0 && snap != yb_restore_chain_root(chain))
                r = cli_say_partial(repo, snap, key, lacks);
        if (r != 0)
                goto done;
        partial = yb_restore_chain_root(chain)->partial || snap->partial;
        t0 = yb_monotonic_usec();
        r = yb_restore(chain, &ro, report, &rep, &st);
        if (r < 0) {
                if (r == -EBADMSG)
                        log_error("%s cannot be restored: a manifest of its chain is damaged or "
                                  "altered. Run 'yunbak verify'.",
                                  point_text(chain, what, sizeof(what)));
                else if (r != -ENOENT)
                        log_error("Restore of %s failed: %s", point_text(chain, what, sizeof(what)),
                                  strerror(-r));
                r = r == -EBADMSG  ? YB_EXIT_DAMAGED
                    : r == -ENOENT ? YB_EXIT_FAILED
                                   : yb_exit_code_from_errno(r);
                goto done;
        }
        /* Files a segment kept as read while they were being written: each named. */
        rep.changing = json_array();
        changing = yb_restore_changing(chain, false, ro.paths, ro.n_paths, say_changing, &rep);
        if (changing < 0) {
                log_error("Cannot tell which files of %s were read while being written: %s",
                          point_text(chain, what, sizeof(what)), strerror(-changing));
                r = yb_exit_code_from_errno(changing);
                goto done;
        }
        pg_out = json_array();
        if (pg.n_hooks > 0 && rep.json && (r = cli_pg_restore(&pg, pg_out)) != 0)
                goto done;
        if (rep.json) {
                json_t *o = json_pack(
                        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                        "s:I, s:f, s:O, s:b, s:O}",
                        "snapshot", snap->id, "level", yb_level_to_string(snap->level), "target",
                        target, "files", (json_int_t) st.files, "dirs", (json_int_t) st.dirs,
                        "symlinks", (json_int_t) st.symlinks, "hardlinks",
                        (json_int_t) st.hardlinks, "special", (json_int_t) st.special, "bytes",
                        (json_int_t) st.bytes, "volumes_read", (json_int_t) st.volumes_read,
                        "volumes_read_early", (json_int_t) st.volumes_read_early, "deltas_applied",
                        (json_int_t) st.deltas, "deltas_in_place", (json_int_t) st.in_place,
                        "errors", (json_int_t) st.errors, "seconds",
                        (double) (yb_monotonic_usec() - t0) / YB_USEC_PER_SEC, "problems",
                        rep.problems, "partial", partial, "lacks", lacks);

                json_object_set(o, "changing", rep.changing);
                if (pg.n_hooks > 0)
                        json_object_set(o, "postgresql", pg_out);
                if (snap->level == YB_LEVEL_SEGMENT) {
                        char when[32];

                        yb_time_format_iso(snap->finished_ns, when);
                        json_object_set_new(o, "seq", json_integer((json_int_t) snap->seq));
                        json_object_set_new(o, "root",
                                            json_string(yb_restore_chain_root(chain)->id));
                        json_object_set_new(o, "finished", json_string(when));
                        json_object_set_new(o, "finished_ns",
                                            json_integer((json_int_t) snap->finished_ns));
                }
                json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(o);
        } else {
                char b[32], n[6][48], early[96] = "";

                if (snap->level == YB_LEVEL_SEGMENT)
                        printf("Restored %s of system '%s' into %s:\n",
                               point_text(chain, what, sizeof(what)), system, target);
                else
                        printf("Restored %s (%s) of system '%s' into %s:\n",
                               point_text(chain, what, sizeof(what)),
                               yb_level_to_string(snap->level), system, target);
                if (st.volumes_read_early > 0)
                        snprintf(early, sizeof(early),
                                 " (%llu of them also earlier, in part, for in-place deltas)",
                                 (unsigned long long) st.volumes_read_early);
                printf("  %s (%s), %s, %s, %s, %s; %s read%s; %.2f s\n",
                       count(n[0], st.files, "file", "files"), yb_format_bytes(st.bytes, b),
                       count(n[1], st.dirs, "directory", "directories"),
                       count(n[2], st.symlinks, "symlink", "symlinks"),
                       count(n[3], st.hardlinks, "hard link", "hard links"),
                       count(n[4], st.special, "special file", "special files"),
                       count(n[5], st.volumes_read, "volume", "volumes"), early,
                       (double) (yb_monotonic_usec() - t0) / YB_USEC_PER_SEC);
                if (st.errors)
                        printf("  %llu %s NOT restored (named above)%s.\n",
                               (unsigned long long) st.errors,
                               cli_plural((int64_t) st.errors, "entry", "entries"),
                               st.damaged ? ", because the repository is damaged" : "");
                if (partial)
                        printf("  PARTIAL snapshot: %llu entries were left out at backup "
                               "(named above).\n",
                               (unsigned long long) (yb_restore_chain_root(chain)->counts.errors +
                                                     (snap != yb_restore_chain_root(chain)
                                                              ? snap->counts.errors
                                                              : 0)));
                if (changing > 0)
                        printf("  %d %s restored as read while being written (named above): "
                               "complete only as of a point where %s not being written.\n",
                               changing, cli_plural(changing, "file", "files"),
                               changing == 1 ? "it was" : "they were");
        }
        if (pg.n_hooks > 0 && !rep.json && (r = cli_pg_restore(&pg, pg_out)) != 0)
                goto done;
        r = st.damaged                             ? YB_EXIT_DAMAGED
            : st.errors || partial || changing > 0 ? YB_EXIT_PARTIAL
                                                   : YB_EXIT_OK;
done:
        json_decref(rep.problems);
        json_decref(rep.changing);
        json_decref(lacks);
        json_decref(pg_out);
        yb_segment_chain_list_done(&chains);
        yb_snapshot_list_done(&l);
        return r;
}
