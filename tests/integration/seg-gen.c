/* yb-seggen: commits tier-2 segment chains with the ordinary writer, on a clock of its own, for
 * segments.sh and bench/segments.sh (600,000 segments are 14 days of a replicator's life).
 *
 *   yb-seggen STORE SYSTEM PUBLIC_KEY STATE_DIR START HOURS PER_HOUR [MAX_CHAIN]
 *
 * START is a time in whole seconds since the epoch. Writes a full at START (the first chain's
 * root), then PER_HOUR segments in each of HOURS hours, evenly spread: each rewrites "a.txt"
 * (stored whole, zstd level 1) and every tenth deletes a path. Every MAX_CHAIN segments (default
 * 43200) a new chain starts from a differential root on the full. Each finished hour gets its
 * index, as the replicator writes them; the last hour is left open. Prints one line per chain
 * root ("root <id> <segments>") and exits 0, or names what failed and exits 1. */
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

static int fail(const char *what, int r) {
        fprintf(stderr, "yb-seggen: %s: %s\n", what, strerror(-r));
        return 1;
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
                                if ((r = yb_segments_close_hours(repo, root->id, NULL)) < 0)
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
                                snprintf(hour, sizeof(hour), "%s", s->id);
                                if ((r = yb_segments_close_hours(repo, root->id, hour)) < 0)
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
