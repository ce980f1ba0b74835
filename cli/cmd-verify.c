/* yunbak verify --store STORE --system ID [--snapshot ID] [--deep --key ID.key] [--json], and
 * on a tier-2 store the segment chains ([--chain ROOT [--since-seq N]]). */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/repo/segment.h"
#include "core/repo/verify.h"

static void usage(FILE *f) {
        fputs("Usage: yunbak verify --store STORE --system ID [--snapshot ID]\n"
              "                     [--deep --key ID.key [--passphrase-file FILE]] [--json]\n"
              "       yunbak verify --store STORE --system ID --chain ROOT [--since-seq N]\n"
              "\n"
              "Without a key, checks every file of every snapshot (or of one) against its signed\n"
              "header: size, BLAKE2b hash, sealed-file header, key id, and the chain to its\n"
              "parent. A snapshot built on a damaged one is reported as one that cannot be\n"
              "restored, naming it. The operations unit can run it; it reads no data.\n"
              "With --trust-agent KEY (repeatable; from 'yunbak-agent identity'), a snapshot\n"
              "signed by any other agent is reported as damaged.\n"
              "With --deep and the system's private key, also decrypts every file and checks\n"
              "every stored file content or delta against the manifest's hashes.\n"
              "On a tier-2 store, also checks every segment of every chain the same way (without\n"
              "the key), that seq follows seq and parent follows parent, and that each hour's\n"
              "index names exactly the hour's segments. --chain ROOT checks only that chain (and\n"
              "no snapshot), --since-seq N only its segments from seq N on (the new ones).\n"
              "Exit status 0 only when everything is sound; 5 names each damaged snapshot,\n"
              "segment and file.\n"
              "\n" CLI_STORE_OPTIONS_HELP,
              f);
}

typedef struct Report {
        bool json;
        json_t *problems;
        json_t *incomplete, *incomplete_segments; /* ids: not damaged, and not counted */
} Report;

/* An object store's snapshot or segment written in place without its header yet: named on a
 * line of its own, and no problem. */
static void report_incomplete(Report *rep, const char *what, const char *id) {
        json_t **a = streq(what, "segment") ? &rep->incomplete_segments : &rep->incomplete;

        if (!rep->json) {
                printf("note     %s%s  %s\n", streq(what, "segment") ? "segment " : "", id,
                       YB_INCOMPLETE_TEXT);
                return;
        }
        if (!*a)
                *a = json_array();
        json_array_append_new(*a, json_string(id));
}

static void report_done(Report *rep) {
        json_decref(rep->problems);
        json_decref(rep->incomplete);
        json_decref(rep->incomplete_segments);
        rep->problems = rep->incomplete = rep->incomplete_segments = NULL;
}

/* Adds the incomplete ones to a --json result. */
static void report_json(const Report *rep, json_t *o) {
        if (rep->incomplete)
                json_object_set(o, "incomplete", rep->incomplete);
        if (rep->incomplete_segments)
                json_object_set(o, "incomplete_segments", rep->incomplete_segments);
}

static void report(void *userdata, const char *snapshot, const char *file, const char *problem) {
        Report *rep = userdata;

        if (rep->json)
                json_array_append_new(rep->problems,
                                      json_pack("{s:s, s:s?, s:s}", "snapshot", snapshot, "file",
                                                file, "problem", problem));
        else
                printf("DAMAGED  %s%s%s: %s\n", snapshot, file ? "/" : "", file ? file : "",
                       problem);
}

static void quiet(void *userdata, const char *snapshot, const char *file, const char *problem) {
}

/* A segment's problem (segment NULL: an hour's index or the chain's root, named by file). */
static void report_segment(void *userdata, const char *segment, const char *file,
                           const char *problem) {
        Report *rep = userdata;

        if (segment && streq(problem, YB_INCOMPLETE_TEXT))
                report_incomplete(rep, "segment", segment);
        else if (rep->json)
                json_array_append_new(rep->problems,
                                      json_pack("{s:s?, s:s?, s:s}", "segment", segment, "file",
                                                file, "problem", problem));
        else if (segment)
                printf("DAMAGED  segment %s%s%s: %s\n", segment, file ? "/" : "", file ? file : "",
                       problem);
        else
                printf("DAMAGED  %s: %s\n", file ? file : "?", problem);
}

/* Verifies the segment chains (only chain, if non-NULL, from seq since on). Adds to *checked and
 * *damaged (segments), and to chains_json. 0, or an exit status when the store failed. */
/* With --trust-agent: the segments of root from seq from on that another agent signed. Adds
 * them to *bad (0 or an exit status when the store failed). */
static int check_trust(YbRepo *repo, const char *root, uint64_t from, const CliTrust *trust,
                       Report *rep, size_t *bad) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *broken = NULL;
        int r;

        if (trust->n == 0)
                return 0;
        r = yb_segments_load(repo, root, from, INT64_MAX, &l, &broken);
        if (r < 0 && r != -ENOENT) {
                log_error("Cannot read the segment headers of chain %s: %s", root, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        for (size_t i = 0; i < l.n; i++) {
                const YbSnapshotHeader *h = l.items[i];
                _cleanup_free_ char *pk = NULL, *msg = NULL;

                if (cli_trust_allows(trust, h->agent_pk))
                        continue;
                (void) yb_base64_encode(h->agent_pk, 32, &pk);
                if (asprintf(&msg, "signed by agent %s (host %s), which is not trusted",
                             pk ? pk : "?", h->host) < 0)
                        msg = NULL;
                report_segment(rep, h->id, "header", msg ? msg : "signed by an untrusted agent");
                (*bad)++;
        }
        return 0;
}

static int verify_chains(YbRepo *repo, const char *system, Report *rep, const char *chain,
                         uint64_t since, const CliTrust *trust, size_t *checked, size_t *damaged,
                         json_t *chains_json) {
        _cleanup_(yb_segment_chain_list_done) YbSegmentChainList l = { 0 };
        int r = yb_segments_list(repo, &l), k;

        if (r < 0) {
                log_error("Cannot list the segment chains of system '%s' in '%s': %s", system,
                          yb_store_location(repo->store), strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        if (chain && !yb_segments_chain_exists(repo, chain)) {
                log_error("System '%s' in '%s' has no segment chain %s ('yunbak snapshots' lists "
                          "the chains).",
                          system, yb_store_location(repo->store), chain);
                return YB_EXIT_FAILED;
        }
        for (size_t i = 0; i < l.n; i++) {
                const YbSegmentChain *c = &l.items[i];
                uint64_t from = chain ? MAX(since, (uint64_t) 1) : 1, last = 0;

                if (chain && !streq(chain, c->root))
                        continue;
                size_t untrusted = 0;

                r = yb_segments_verify(repo, c->root, from, report_segment, rep, &last);
                if (r < 0) {
                        log_error("Cannot verify segment chain %s of system '%s' in '%s': %s",
                                  c->root, system, yb_store_location(repo->store), strerror(-r));
                        return yb_exit_code_from_errno(r);
                }
                k = check_trust(repo, c->root, from, trust, rep, &untrusted);
                if (k != 0)
                        return k;
                if (untrusted > 0) {
                        *damaged += untrusted;
                        r = r > 0 ? r : 2; /* damaged, but its seq run says nothing of it */
                }
                if (c->last_seq >= from)
                        *checked += (size_t) (c->last_seq - from + 1);
                if (r == 1)
                        *damaged += (size_t) (c->last_seq > last ? c->last_seq - last : 1);
                json_array_append_new(chains_json,
                                      json_pack("{s:s, s:I, s:I, s:I, s:b}", "root", c->root,
                                                "from_seq", (json_int_t) from, "last_seq",
                                                (json_int_t) c->last_seq, "sound_through_seq",
                                                (json_int_t) last, "damaged", r > 0));
                if (rep->json)
                        continue;
                if (r == 0 && c->last_seq >= from)
                        printf("ok       chain %s  segments %llu..%llu checked\n", c->root,
                               (unsigned long long) from, (unsigned long long) c->last_seq);
                else if (r == 0)
                        printf("ok       chain %s  no segment from seq %llu on\n", c->root,
                               (unsigned long long) from);
                else if (r == 1)
                        printf("DAMAGED  chain %s  sound through seq %llu only: the points after "
                               "it cannot be restored\n",
                               c->root, (unsigned long long) last);
                else
                        printf("DAMAGED  chain %s  %zu segment%s signed by an untrusted agent\n",
                               c->root, untrusted, untrusted == 1 ? "" : "s");
        }
        return 0;
}

/* Whether snapshot id of l is built on h (h is in its chain of ancestors). */
static bool needed_by(const YbSnapshotList *l, const char *id, const YbSnapshotHeader *h) {
        const YbSnapshotHeader *s = yb_snapshot_list_find(l, id);

        for (size_t steps = 0; s && s->level != YB_LEVEL_FULL && steps < l->n; steps++) {
                s = yb_snapshot_list_find(l, s->parent);
                if (s == h)
                        return true;
        }
        return false;
}

/* Verifies h without reporting: > 0 when it is damaged (or from an untrusted agent). */
static int check_quietly(YbRepo *repo, const YbSnapshotList *l, const YbSnapshotHeader *h,
                         const YbSecretKey *key, const CliTrust *trust) {
        if (!cli_trust_allows(trust, h->agent_pk))
                return 1;
        return yb_verify_snapshot(repo, h, l, key, quiet, NULL);
}

/* yunbak verify --chain ROOT [--since-seq N]: that chain alone. */
static int verify_chain_only(YbRepo *repo, const char *system, Report *rep, const char *chain,
                             uint64_t since, const CliTrust *trust, json_t *chains) {
        size_t checked = 0, damaged = 0;
        int r = verify_chains(repo, system, rep, chain, since, trust, &checked, &damaged, chains);

        if (r != 0) {
                report_done(rep);
                return r;
        }
        if (rep->json) {
                json_t *o =
                        json_pack("{s:s, s:I, s:I, s:O, s:O}", "system", system, "segments_checked",
                                  (json_int_t) checked, "segments_damaged", (json_int_t) damaged,
                                  "problems", rep->problems, "chains", chains);

                report_json(rep, o);
                json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(o);
        } else
                printf("%zu segment%s checked, %zu damaged.\n", checked, checked == 1 ? "" : "s",
                       damaged);
        report_done(rep);
        return damaged > 0 ? YB_EXIT_DAMAGED : YB_EXIT_OK;
}

int cli_verify(int argc, char **argv) {
        static const struct option opts[] = {
                { "store", required_argument, NULL, 's' },
                { "system", required_argument, NULL, 'S' },
                { "snapshot", required_argument, NULL, 'i' },
                { "deep", no_argument, NULL, 'd' },
                { "key", required_argument, NULL, 'k' },
                { "passphrase-file", required_argument, NULL, 'p' },
                { "json", no_argument, NULL, 'j' },
                { "trust-agent", required_argument, NULL, 'T' },
                { "chain", required_argument, NULL, 'C' },
                { "since-seq", required_argument, NULL, 'N' },
                { "help", no_argument, NULL, 'h' },
                CLI_STORE_OPTIONS,
                {},
        };
        _cleanup_(cli_trust_done) CliTrust trust = { 0 };
        _cleanup_(yb_store_closep) YbStore *store = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        _cleanup_(yb_secret_key_freep) YbSecretKey *key = NULL;
        const char *location = NULL, *system = NULL, *id = NULL, *keyfile = NULL, *pass = NULL,
                   *chain = NULL;
        _cleanup_(json_decrefp) json_t *chains = json_array();
        size_t seg_checked = 0, seg_damaged = 0;
        uint64_t since = 0;
        Report rep = { 0 };
        YbSnapshotList l = { 0 };
        json_t *partial = NULL;          /* ids of the sound snapshots that are partial */
        _cleanup_free_ bool *bad = NULL; /* per snapshot of l: its own files are damaged */
        bool deep = false;
        size_t checked = 0, damaged = 0;
        int c, r, fail = 0;

        optind = 1;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        location = optarg;
                        break;
                case 'S':
                        system = optarg;
                        break;
                case 'i':
                        id = optarg;
                        break;
                case 'd':
                        deep = true;
                        break;
                case 'k':
                        keyfile = optarg;
                        break;
                case 'p':
                        pass = optarg;
                        break;
                case 'j':
                        rep.json = true;
                        break;
                case 'C':
                        chain = optarg;
                        break;
                case 'N': {
                        char *end = NULL;

                        errno = 0;
                        since = strtoull(optarg, &end, 10);
                        if (errno != 0 || !end || *end || optarg[0] < '1' || optarg[0] > '9') {
                                log_error("--since-seq wants a segment number (1, 2, ...), not "
                                          "'%s'.",
                                          optarg);
                                return YB_EXIT_USAGE;
                        }
                        break;
                }
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
                        return cli_usage_error("verify");
                }
        }
        if (!location || !system || optind != argc) {
                log_error("verify needs --store STORE and --system ID.");
                return cli_usage_error("verify");
        }
        if (since && !chain) {
                log_error("--since-seq N goes with --chain ROOT: the numbers are a chain's.");
                return cli_usage_error("verify");
        }
        if (chain && (id || deep)) {
                log_error("--chain verifies a segment chain, without the key: not with --snapshot "
                          "or --deep.");
                return cli_usage_error("verify");
        }
        if (chain && !yb_snapshot_id_valid(chain)) {
                log_error("--chain wants a chain's root snapshot id, not '%s'.", chain);
                return YB_EXIT_USAGE;
        }
        if (deep != (keyfile != NULL)) {
                log_error("--deep and --key go together: deep verification decrypts with the "
                          "system's private key.");
                return cli_usage_error("verify");
        }
        r = cli_open_repo(location, system, &store, &repo);
        if (r != 0)
                return r;
        if (keyfile) {
                r = cli_load_secret_key(keyfile, pass, &key);
                if (r != 0)
                        return r;
                if (memcmp(key->pub.pk, repo->config.pub.pk, 32) != 0) {
                        log_error("Key '%s' is not the key of system '%s' in this store.", keyfile,
                                  system);
                        return YB_EXIT_KEY;
                }
        }
        rep.problems = json_array();
        if (chain)
                return verify_chain_only(repo, system, &rep, chain, since, &trust, chains);
        r = yb_repo_list(repo, &l);
        if (r < 0) {
                report_done(&rep);
                log_error("Cannot list the snapshots of system '%s': %s", system, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        partial = json_array();
        for (size_t i = 0; i < l.n_incomplete; i++)
                if (!id || streq(id, l.incomplete[i]))
                        report_incomplete(&rep, "snapshot", l.incomplete[i]);
        for (size_t i = 0; i < l.n_broken; i++) {
                char why[YB_REPO_KEY_TEXT_MAX];

                if (id && !streq(id, l.broken[i].id))
                        continue;
                if (l.broken[i].error == -EBADMSG &&
                    yb_repo_header_key_replaced(repo, l.broken[i].id, why) > 0)
                        report(&rep, l.broken[i].id, "header", why);
                else
                        report(&rep, l.broken[i].id, "header",
                               l.broken[i].error == -ENOENT ? "missing: the snapshot is unusable"
                               : l.broken[i].error == -EPROTONOSUPPORT
                                       ? "of an unknown format version"
                                       : "signature or content does not check out: the snapshot "
                                         "is unusable");
                damaged++;
                checked++;
        }
        bad = new0(bool, l.n + 1);
        if (!bad) {
                yb_snapshot_list_done(&l);
                report_done(&rep);
                return log_oom(), YB_EXIT_FAILED;
        }
        for (size_t i = 0; i < l.n; i++) {
                const YbSnapshotHeader *h = l.items[i];
                const char *ancestor;

                if (id && !streq(id, h->id)) {
                        /* Checked without a word when the one asked for is built on it. */
                        r = needed_by(&l, id, h) ? check_quietly(repo, &l, h, key, &trust) : 0;
                        if (r < 0) {
                                log_error("Cannot verify snapshot %s: %s", h->id, strerror(-r));
                                fail = yb_exit_code_from_errno(r);
                                break;
                        }
                        bad[i] = r > 0;
                        continue;
                }
                checked++;
                if (!cli_trust_allows(&trust, h->agent_pk)) {
                        _cleanup_free_ char *pk = NULL, *msg = NULL;

                        (void) yb_base64_encode(h->agent_pk, 32, &pk);
                        if (asprintf(&msg, "signed by agent %s (host %s), which is not trusted",
                                     pk ? pk : "?", h->host) < 0)
                                msg = NULL;
                        report(&rep, h->id, "header", msg ? msg : "signed by an untrusted agent");
                        damaged++;
                        bad[i] = true;
                        continue;
                }
                if (h->level != YB_LEVEL_FULL) {
                        const YbSnapshotHeader *parent = yb_snapshot_list_find(&l, h->parent);

                        if (parent && memcmp(parent->agent_pk, h->agent_pk, 32) != 0 && !rep.json)
                                printf("note     %s  was written by another agent than its parent "
                                       "%s (host %s, then %s)\n",
                                       h->id, parent->id, parent->host, h->host);
                }
                r = yb_verify_snapshot(repo, h, &l, key, report, &rep);
                if (r < 0) {
                        log_error("Cannot verify snapshot %s: %s", h->id, strerror(-r));
                        fail = yb_exit_code_from_errno(r);
                        break;
                }
                bad[i] = r > 0;
                /* Its own files may be sound while a snapshot it is built on is not: then it
                 * cannot be restored either. */
                ancestor = r == 0 ? yb_verify_damaged_ancestor(&l, bad, h) : NULL;
                if (ancestor) {
                        _cleanup_free_ char *msg = NULL;

                        if (asprintf(&msg,
                                     "cannot be restored: snapshot %s, which it is built on, is "
                                     "%s",
                                     ancestor,
                                     yb_snapshot_list_find(&l, ancestor)
                                             ? "damaged"
                                             : "missing or damaged") < 0)
                                msg = NULL;
                        report(&rep, h->id, NULL,
                               msg ? msg : "cannot be restored: its chain is damaged");
                        r = 1;
                }
                if (r > 0)
                        damaged++;
                else if (!rep.json)
                        printf("ok       %s  %s, header and %zu %s checked%s%s\n", h->id,
                               yb_level_to_string(h->level), h->n_files,
                               cli_plural((int64_t) h->n_files, "file", "files"),
                               key ? ", contents decrypted and checked" : "",
                               h->partial ? "; PARTIAL: entries were left out at backup" : "");
                if (r == 0 && h->partial) {
                        if (rep.json)
                                json_array_append_new(partial, json_string(h->id));
                        fail = cli_say_partial(repo, h, key, NULL);
                        if (fail != 0)
                                break;
                }
        }
        /* A tier-2 store's segments, when the whole store is verified. */
        if (fail == 0 && !id)
                fail = verify_chains(repo, system, &rep, NULL, 0, &trust, &seg_checked,
                                     &seg_damaged, chains);
        if (fail != 0) {
                yb_snapshot_list_done(&l);
                report_done(&rep);
                json_decref(partial);
                return fail;
        }
        yb_snapshot_list_done(&l);
        if (id && checked == 0) {
                report_done(&rep);
                json_decref(partial);
                log_error("System '%s' has no snapshot %s.", system, id);
                return YB_EXIT_FAILED;
        }
        if (rep.json) {
                json_t *o = json_pack("{s:s, s:I, s:I, s:b, s:O, s:O}", "system", system, "checked",
                                      (json_int_t) checked, "damaged", (json_int_t) damaged, "deep",
                                      key != NULL, "problems", rep.problems, "partial", partial);

                if (json_array_size(chains) > 0) {
                        json_object_set_new(o, "segments_checked",
                                            json_integer((json_int_t) seg_checked));
                        json_object_set_new(o, "segments_damaged",
                                            json_integer((json_int_t) seg_damaged));
                        json_object_set(o, "chains", chains);
                }

                report_json(&rep, o);

                json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                fputc('\n', stdout);
                json_decref(o);
        } else {
                printf("%zu snapshot%s checked, %zu damaged.\n", checked, checked == 1 ? "" : "s",
                       damaged);
                if (json_array_size(chains) > 0)
                        printf("%zu segment%s checked in %zu chain%s, %zu damaged.\n", seg_checked,
                               seg_checked == 1 ? "" : "s", json_array_size(chains),
                               json_array_size(chains) == 1 ? "" : "s", seg_damaged);
        }
        report_done(&rep);
        json_decref(partial);
        return damaged > 0 || seg_damaged > 0 ? YB_EXIT_DAMAGED : YB_EXIT_OK;
}
