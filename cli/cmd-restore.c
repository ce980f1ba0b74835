/* yunbak restore --store STORE --system ID --key ID.key [--snapshot ID | --at TIME]
 *                [--allow-older] --target DIR [PATH...] */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"
#include "restore/restore.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak restore --store STORE --system ID --key ID.key\n"
              "                      [--passphrase-file FILE] [--snapshot ID | --at TIME]\n"
              "                      [--allow-older] --target DIR [--json] [PATH...]\n"
              "\n"
              "Restores the newest snapshot (or --snapshot ID, or the newest at or before --at\n"
              "TIME, ISO 8601 such as 2026-11-21T18:00:00+08:00) of system ID into DIR. With\n"
              "PATH... only those paths of the snapshot (and what is below them) are restored,\n"
              "reading only the volumes they need. Paths in a snapshot start with the source's\n"
              "name: a backup of /srv/app holds app/..., restored as DIR/app/....\n"
              "When a snapshot newer than the one chosen is damaged, nothing is restored unless\n"
              "--allow-older says to take the newest sound one before it.\n"
              "--trust-agent KEY (repeatable; from 'yunbak-agent identity') refuses snapshots\n"
              "whose chain holds one signed by any other agent.\n"
              "Every file is checked against its hash before it is put in place; nothing is\n"
              "written outside DIR. Owners are restored when run as root.\n"
              "A partial snapshot (entries left out at backup) is said to be, with what it lacks.\n"
              "Exit status: 0 done, 3 some entries not restored (each named) or a partial\n"
              "snapshot, 4 wrong key or passphrase, 5 damaged repository (each damaged file\n"
              "named).\n"
              "\n" CLI_STORE_OPTIONS_HELP,
              f);
}

typedef struct Report {
        json_t *problems;
        bool json;
} Report;

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

int cli_restore(int argc, char **argv) {
        static const struct option opts[] = {
                { "store", required_argument, NULL, 's' },
                { "system", required_argument, NULL, 'S' },
                { "key", required_argument, NULL, 'k' },
                { "passphrase-file", required_argument, NULL, 'p' },
                { "snapshot", required_argument, NULL, 'i' },
                { "at", required_argument, NULL, 'a' },
                { "target", required_argument, NULL, 't' },
                { "json", no_argument, NULL, 'j' },
                { "allow-older", no_argument, NULL, 'o' },
                { "trust-agent", required_argument, NULL, 'T' },
                { "help", no_argument, NULL, 'h' },
                CLI_STORE_OPTIONS,
                {},
        };
        _cleanup_(cli_trust_done) CliTrust trust = { 0 };
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = NULL;
        const char *location = NULL, *system = NULL, *keyfile = NULL, *pass = NULL, *id = NULL,
                   *at = NULL, *target = NULL;
        const YbSnapshotHeader *snap;
        YbSnapshotList l = { 0 };
        YbRestoreOptions ro = { 0 };
        YbRestoreStats st = { 0 };
        Report rep = { 0 };
        json_t *lacks = NULL;
        bool allow_older = false, partial;
        int64_t t0;
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
        if (id && at) {
                log_error("Give --snapshot or --at, not both.");
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
        if (memcmp(key->pub.pk, repo->config.pub.pk, 32) != 0) {
                char a[2 * YB_KEY_ID_SIZE + 1], b[2 * YB_KEY_ID_SIZE + 1];

                yb_key_id_hex(key->pub.id, a);
                yb_key_id_hex(repo->config.pub.id, b);
                log_error("Key '%s' (system '%s', key id %s) is not the key of system '%s' in "
                          "this store (key id %s).",
                          keyfile, key->pub.system, a, system, b);
                return YB_EXIT_KEY;
        }
        r = yb_repo_list(repo, &l);
        if (r < 0) {
                log_error("Cannot list the snapshots of system '%s': %s", system, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        r = cli_pick_snapshot(&l, system, id, at, allow_older, &snap);
        if (r != 0) {
                yb_snapshot_list_done(&l);
                return r;
        }
        /* Every snapshot the restore reads from must come from a trusted agent. */
        for (const YbSnapshotHeader *h = snap; h;
             h = h->level == YB_LEVEL_FULL ? NULL : yb_snapshot_list_find(&l, h->parent))
                if (!cli_trust_allows(&trust, h->agent_pk)) {
                        log_error("Snapshot %s (host %s) is signed by an agent that is not "
                                  "trusted; nothing was restored.",
                                  h->id, h->host);
                        yb_snapshot_list_done(&l);
                        return YB_EXIT_DAMAGED;
                }
        if (!rep.json) {
                _cleanup_free_ char *pk = NULL;

                (void) yb_base64_encode(snap->agent_pk, 32, &pk);
                printf("Restoring snapshot %s, written by the agent on host '%s' (key %s).\n",
                       snap->id, snap->host, pk ? pk : "?");
        }
        ro.target = target;
        ro.paths = argv + optind;
        ro.n_paths = (size_t) (argc - optind);
        rep.problems = json_array();
        lacks = json_array();
        r = cli_say_partial(repo, snap, key, lacks);
        if (r != 0) {
                yb_snapshot_list_done(&l);
                json_decref(rep.problems);
                json_decref(lacks);
                return r;
        }
        t0 = yb_monotonic_usec();
        r = yb_restore(repo, &l, snap, key, &ro, report, &rep, &st);
        if (r < 0) {
                if (r == -ENOLINK)
                        log_error("Snapshot %s cannot be restored: a snapshot of its chain is "
                                  "missing or damaged. Run 'yunbak verify'.",
                                  snap->id);
                else if (r == -EBADMSG)
                        log_error("Snapshot %s cannot be restored: its manifest is damaged or "
                                  "altered.",
                                  snap->id);
                else if (r != -ENOENT)
                        log_error("Restore of snapshot %s failed: %s", snap->id, strerror(-r));
                yb_snapshot_list_done(&l);
                json_decref(rep.problems);
                json_decref(lacks);
                return r == -ENOLINK  ? YB_EXIT_DAMAGED
                       : r == -ENOENT ? YB_EXIT_FAILED
                                      : yb_exit_code_from_errno(r);
        }
        if (rep.json) {
                json_t *o = json_pack(
                        "{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                        "s:f, s:O, s:b, s:O}",
                        "snapshot", snap->id, "level", yb_level_to_string(snap->level), "target",
                        target, "files", (json_int_t) st.files, "dirs", (json_int_t) st.dirs,
                        "symlinks", (json_int_t) st.symlinks, "hardlinks",
                        (json_int_t) st.hardlinks, "special", (json_int_t) st.special, "bytes",
                        (json_int_t) st.bytes, "volumes_read", (json_int_t) st.volumes_read,
                        "errors", (json_int_t) st.errors, "seconds",
                        (double) (yb_monotonic_usec() - t0) / YB_USEC_PER_SEC, "problems",
                        rep.problems, "partial", snap->partial, "lacks", lacks);

                json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(o);
        } else {
                char b[32], n[6][48];

                printf("Restored snapshot %s (%s) of system '%s' into %s:\n", snap->id,
                       yb_level_to_string(snap->level), system, target);
                printf("  %s (%s), %s, %s, %s, %s; %s read; %.2f s\n",
                       count(n[0], st.files, "file", "files"), yb_format_bytes(st.bytes, b),
                       count(n[1], st.dirs, "directory", "directories"),
                       count(n[2], st.symlinks, "symlink", "symlinks"),
                       count(n[3], st.hardlinks, "hard link", "hard links"),
                       count(n[4], st.special, "special file", "special files"),
                       count(n[5], st.volumes_read, "volume", "volumes"),
                       (double) (yb_monotonic_usec() - t0) / YB_USEC_PER_SEC);
                if (st.errors)
                        printf("  %llu %s NOT restored (named above)%s.\n",
                               (unsigned long long) st.errors,
                               cli_plural((int64_t) st.errors, "entry", "entries"),
                               st.damaged ? ", because the repository is damaged" : "");
                if (snap->partial)
                        printf("  PARTIAL snapshot: %llu entries were left out at backup "
                               "(named above).\n",
                               (unsigned long long) snap->counts.errors);
        }
        partial = snap->partial;
        json_decref(rep.problems);
        json_decref(lacks);
        yb_snapshot_list_done(&l);
        if (st.damaged)
                return YB_EXIT_DAMAGED;
        return st.errors || partial ? YB_EXIT_PARTIAL : YB_EXIT_OK;
}
