/* yb-seggen: commits tier-2 segment chains with the ordinary writer, on a clock of its own, for
 * segments.sh and bench/segments.sh (600,000 segments are 14 days of a replicator's life); and
 * the two calls the command line has no command of its own for, for the benchmark.
 *
 *   yb-seggen STORE SYSTEM PUBLIC_KEY STATE_DIR START HOURS PER_HOUR [MAX_CHAIN]
 *   yb-seggen find STORE SYSTEM AT      the point for time AT (seconds since the epoch) and the
 *                                       chain up to it: prints "<root> <segment id or -> <seq>
 *                                       <segments to replay>"
 *   yb-seggen find-point STORE SYSTEM AT   the lookup alone: "<root> <segment id or -> <seq>"
 *   yb-seggen prune-chain STORE SYSTEM ROOT   removes chain ROOT's segments, then its root
 *                                       unless a snapshot needs it (prints "root kept" then)
 *
 * START is a time in whole seconds since the epoch. Writes a full at START (the first chain's
 * root), then PER_HOUR segments in each of HOURS hours, evenly spread: each rewrites "a.txt"
 * (stored whole, zstd level 1) and every tenth deletes a path. Every MAX_CHAIN segments (default
 * 43200) a new chain starts from a differential root on the full. Each finished hour gets its
 * index, as the replicator writes them; the last hour is left open. Prints one line per chain
 * root ("root <id> <segments>") and exits 0, or names what failed and exits 1. With
 * YB_SEGGEN_DROP_INDEXED=1 in the environment, the directory of each hour is removed once its
 * index is written: a store of the indexes alone, for timing what reads only them (listing,
 * lookup) at a size the disk could not hold or the time allowed to write segment by segment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/timeutil.h"
#include "core/repo/segment.h"
#include "core/repo/writer.h"

#define SEC 1000000000LL

static int64_t now_ns;

static int64_t clock_ns(void) {
        return now_ns;
}

static int add_text(YbSnapshotWriter *w, const char *path, const char *text) {
        size_t n = strlen(text);
        char name[64];
        YbEntry e = { .type = YB_ENTRY_FILE,
                      .path = (char *) path,
                      .mode = 0644,
                      .uname = (char *) "",
                      .gname = (char *) "",
                      .mtime_sec = now_ns / SEC,
                      .content = YB_CONTENT_WHOLE,
                      .size = n,
                      .stored = n };
        YbSigEntry se = { .path = (char *) path, .size = n, .mtime_sec = now_ns / SEC };
        YbPaxEntry pe = { .mode = 0644, .size = n, .mtime_sec = now_ns / SEC };
        int r;

        snprintf(name, sizeof(name), "tree/%s", path);
        pe.name = name;
        r = yb_snapshot_writer_begin_entry(w, &pe, &e.volume, &e.entry);
        if (r >= 0)
                r = yb_snapshot_writer_data(w, text, n);
        if (r >= 0)
                r = yb_snapshot_writer_end_entry(w);
        yb_hash_buf(text, n, e.hash);
        memcpy(se.hash, e.hash, YB_HASH_SIZE);
        if (r >= 0)
                r = yb_snapshot_writer_add(w, &e);
        if (r >= 0)
                r = yb_snapshot_writer_add_sig(w, &se);
        return r;
}

/* One point: a root (seq 0; level full or differential) or a segment. */
static int point(YbRepo *repo, const YbAgentIdentity *agent, YbLevel level,
                 const YbSnapshotHeader *parent, const YbSnapshotHeader *base, uint64_t seq,
                 YbSnapshotHeader **ret) {
        static char *srcs[] = { (char *) "/srv/data" };
        YbWriterOptions o = { .zstd_level = 1, .host = "seggen", .seq = seq, .clock_ns = clock_ns };
        YbSnapshotHeader h = { .counts = { .files = 1, .whole = 1 },
                               .sources = srcs,
                               .n_sources = 1 };
        YbSnapshotWriter *w = NULL;
        char text[64];
        int r;

        r = yb_snapshot_writer_new(repo, agent, level, parent, base, &o, &w);
        if (r >= 0 && seq > 0 && seq % 10 == 0) {
                char gone[32];
                YbEntry del = { .type = YB_ENTRY_DELETED, .path = gone };

                snprintf(gone, sizeof(gone), "old/%llu", (unsigned long long) seq);
                r = yb_snapshot_writer_add(w, &del);
                h.counts.deleted = 1;
        }
        snprintf(text, sizeof(text), "a.txt at seq %llu\n", (unsigned long long) seq);
        if (r >= 0)
                r = add_text(w, "a.txt", text);
        if (r >= 0 && seq == 0)
                r = add_text(w, "b.txt", "the root's own file\n");
        now_ns += SEC / 5; /* a segment takes 0.2 s */
        if (r >= 0)
                r = yb_snapshot_writer_commit(w, &h, ret);
        yb_snapshot_writer_free(w);
        return r;
}

static YbStore *drop_store;

/* An "<hour>.index" of chain dir: its hour's directory goes. */
static int drop_one(void *ud, const char *name) {
        const char *dir = ud;
        char *p = NULL;
        int r;

        if (strlen(name) != YB_SEGMENT_HOUR_LEN + 6 || !strstr(name, ".index"))
                return 0;
        if (asprintf(&p, "%s/%.*s", dir, YB_SEGMENT_HOUR_LEN, name) < 0)
                return -ENOMEM;
        r = yb_store_remove_tree(drop_store, p);
        free(p);
        return r;
}

/* YB_SEGGEN_DROP_INDEXED: removes the directories of root's indexed hours. */
static int drop_indexed(YbRepo *repo, const char *root) {
        char *dir = NULL;
        int r;

        if (!getenv("YB_SEGGEN_DROP_INDEXED"))
                return 0;
        if (asprintf(&dir, "%s/segments/%s", repo->system, root) < 0)
                return -ENOMEM;
        r = yb_store_list(repo->store, dir, drop_one, (void *) dir);
        free(dir);
        return r;
}

static int fail(const char *what, int r) {
        fprintf(stderr, "yb-seggen: %s: %s\n", what, strerror(-r));
        return 1;
}

static int open_repo(const char *location, const char *system, YbStore **store, YbRepo **repo) {
        int r = yb_store_open(location, store);

        if (r >= 0)
                r = yb_repo_open(*store, system, repo);
        return r;
}

static int find(int argc, char **argv) {
        YbSnapshotList roots = { 0 }, segs = { 0 };
        const YbSnapshotHeader *root = NULL;
        YbStore *store = NULL;
        YbRepo *repo = NULL;
        char *bad = NULL;
        int r;

        if (argc != 5)
                return fail("find STORE SYSTEM AT", -EINVAL);
        if ((r = open_repo(argv[2], argv[3], &store, &repo)) < 0 ||
            (r = yb_repo_list(repo, &roots)) < 0)
                return fail(argv[2], r);
        if (streq(argv[1], "find-point")) {
                YbSnapshotHeader *point = NULL;

                r = yb_segments_find_point(repo, &roots, strtoll(argv[4], NULL, 10) * SEC, &root,
                                           &point);
                if (r < 0)
                        return fail("find-point", r);
                printf("%s %s %llu\n", root->id, point ? point->id : "-",
                       (unsigned long long) (point ? point->seq : 0));
                yb_header_free(point);
                return 0;
        }
        r = yb_segments_find(repo, &roots, strtoll(argv[4], NULL, 10) * SEC, &root, &segs, &bad);
        if (r < 0)
                return fail("find", r);
        printf("%s %s %llu %zu%s%s\n", root->id, segs.n ? segs.items[segs.n - 1]->id : "-",
               (unsigned long long) (segs.n ? segs.items[segs.n - 1]->seq : 0), segs.n,
               bad ? " BROKEN: " : "", bad ? bad : "");
        free(bad);
        yb_snapshot_list_done(&segs);
        yb_snapshot_list_done(&roots);
        yb_repo_free(repo);
        yb_store_close(store);
        return 0;
}

static int prune_chain(int argc, char **argv) {
        YbStore *store = NULL;
        YbRepo *repo = NULL;
        int r;

        if (argc != 5)
                return fail("prune-chain STORE SYSTEM ROOT", -EINVAL);
        if ((r = open_repo(argv[2], argv[3], &store, &repo)) < 0 || (r = yb_repo_lock(repo)) < 0)
                return fail(argv[2], r);
        r = yb_segments_prune_chain(repo, argv[4]);
        if (r >= 0) {
                r = yb_repo_prune(repo, argv[4]);
                if (r == -ENOTEMPTY) {
                        printf("root kept\n");
                        r = 0;
                }
        }
        yb_repo_free(repo);
        yb_store_close(store);
        return r < 0 ? fail("prune-chain", r) : 0;
}

int main(int argc, char **argv) {
        YbSnapshotHeader *full = NULL, *root = NULL, *prev = NULL;
        YbAgentIdentity *agent = NULL;
        YbStore *store = NULL;
        YbRepo *repo = NULL;
        YbPublicKey pub;
        uint64_t hours, per_hour, max_chain = 43200, seq = 0, chain_n = 0;
        int64_t start;
        char hour[YB_SEGMENT_HOUR_LEN + 1] = "";
        int r;

        if (argc > 1 && (streq(argv[1], "find") || streq(argv[1], "find-point")))
                return find(argc, argv);
        if (argc > 1 && streq(argv[1], "prune-chain"))
                return prune_chain(argc, argv);
        if (argc < 8 || argc > 9) {
                fprintf(stderr, "Usage: yb-seggen STORE SYSTEM PUBLIC_KEY STATE_DIR START HOURS "
                                "PER_HOUR [MAX_CHAIN]\n");
                return 2;
        }
        start = strtoll(argv[5], NULL, 10);
        hours = strtoull(argv[6], NULL, 10);
        per_hour = strtoull(argv[7], NULL, 10);
        if (argc == 9)
                max_chain = strtoull(argv[8], NULL, 10);
        if (start <= 0 || per_hour == 0 || per_hour > 3600 || max_chain == 0)
                return fail("bad arguments", -EINVAL);
        if (yb_crypto_init() < 0)
                return fail("libsodium", -EIO);
        if ((r = yb_public_key_read(argv[3], &pub)) < 0)
                return fail(argv[3], r);
        if (!streq(pub.system, argv[2]))
                return fail("the public key is another system's", -EINVAL);
        if ((r = yb_agent_identity_load(argv[4], &agent)) < 0)
                return fail(argv[4], r);
        if ((r = yb_store_open(argv[1], &store)) < 0)
                return fail(argv[1], r);
        drop_store = store;
        if ((r = yb_repo_open_or_create(store, &pub, &repo)) < 0 || (r = yb_repo_lock(repo)) < 0)
                return fail("the repository", r);
        now_ns = start * SEC;
        if ((r = point(repo, agent, YB_LEVEL_FULL, NULL, NULL, 0, &full)) < 0)
                return fail("the full", r);
        root = full;
        for (uint64_t h = 0; h < hours; h++)
                for (uint64_t i = 0; i < per_hour; i++) {
                        YbSnapshotHeader *s = NULL;

                        /* Spread over the hour, from one second after its start. */
                        now_ns = (start + 1 + (int64_t) (h * 3600 + i * 3600 / per_hour)) * SEC;
                        if (chain_n == max_chain) {
                                /* A checkpoint: the old chain's hours all close. */
                                if ((r = yb_segments_close_hours(repo, root->id, NULL)) < 0 ||
                                    (r = drop_indexed(repo, root->id)) < 0)
                                        return fail("closing the chain's hours", r);
                                printf("root %s %llu\n", root->id, (unsigned long long) chain_n);
                                if (root != full)
                                        yb_header_free(root);
                                r = point(repo, agent, YB_LEVEL_DIFFERENTIAL, full, full, 0, &root);
                                if (r < 0)
                                        return fail("a checkpoint root", r);
                                yb_header_free(prev);
                                prev = NULL;
                                chain_n = 0;
                                seq = 0;
                                now_ns += SEC;
                        }
                        r = point(repo, agent, YB_LEVEL_SEGMENT, prev ? prev : root, root, ++seq,
                                  &s);
                        if (r < 0)
                                return fail("a segment", r);
                        yb_header_free(prev);
                        prev = s;
                        chain_n++;
                        if (strncmp(hour, s->id, YB_SEGMENT_HOUR_LEN) != 0) {
                                memcpy(hour, s->id, YB_SEGMENT_HOUR_LEN);
                                if ((r = yb_segments_close_hours(repo, root->id, hour)) < 0 ||
                                    (r = drop_indexed(repo, root->id)) < 0)
                                        return fail("an hour's index", r);
                        }
                }
        printf("root %s %llu\n", root->id, (unsigned long long) chain_n);
        yb_header_free(prev);
        if (root != full)
                yb_header_free(root);
        yb_header_free(full);
        yb_repo_free(repo);
        yb_store_close(store);
        yb_agent_identity_free(agent);
        return 0;
}
