/* tests/unit/test-restore-chain.c: restoring tier-2 points. Segments are written with the
 * repository's own writer (as the replicator writes them: sparse manifests, deletions, renames
 * as "unchanged" records with a base path, deltas on the path's previous content), then each
 * point is restored into a fresh directory and compared with what the tree was at that point. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/codec/delta.h"
#include "core/repo/segment.h"
#include "core/repo/writer.h"
#include "restore/restore-internal.h" /* the chain's manifests, released after the plan */
#include "restore/restore.h"
#include "tests/unit/test.h"

#define SYSTEM "hr"

typedef struct Fx {
        TestTmpdir *d;
        YbStore *store;
        YbSecretKey *key;
        YbAgentIdentity *agent;
        YbRepo *repo;
        bool hold_lock; /* between commits (a long chain written at once) */
} Fx;

/* in_memory: the scratch directory on /dev/shm when there is one (and TMPDIR does not say
 * otherwise), for a case that commits thousands of segments: each commit syncs its files, which
 * on a disk costs milliseconds that say nothing about the restore. */
static Fx *fx_new_at(bool in_memory) {
        Fx *f = new0(Fx, 1);
        _cleanup_free_ char *store = NULL, *agent = NULL;
        bool shm = in_memory && !getenv("TMPDIR") && access("/dev/shm", W_OK) == 0;

        ASSERT_TRUE(f);
        if (shm)
                ASSERT_OK(setenv("TMPDIR", "/dev/shm", 1));
        f->d = test_tmpdir_new();
        if (shm)
                ASSERT_OK(unsetenv("TMPDIR"));
        store = test_tmpdir_path(f->d, "store");
        agent = test_tmpdir_path(f->d, "agent");
        ASSERT_OK(mkdirat(f->d->fd, "store", 0700));
        ASSERT_OK(yb_store_open(store, &f->store));
        ASSERT_OK(yb_key_generate(SYSTEM, &f->key));
        ASSERT_OK(yb_agent_identity_load(agent, &f->agent));
        ASSERT_OK(yb_repo_open_or_create(f->store, &f->key->pub, &f->repo));
        return f;
}

static Fx *fx_new(void) {
        return fx_new_at(false);
}

static void fx_free(Fx *f) {
        yb_repo_free(f->repo);
        yb_agent_identity_free(f->agent);
        yb_secret_key_free(f->key);
        yb_store_close(f->store);
        test_tmpdir_free(f->d);
        free(f);
}
DEFINE_FREEP(Fx, fx_free);

/* A snapshot or segment being written. */
typedef struct W {
        Fx *f;
        YbSnapshotWriter *w;
} W;

/* The plaintext after which the snapshots begun next close a volume; 0: the writer's default. */
static uint64_t volume_size;

static W begin(Fx *f, YbLevel level, const YbSnapshotHeader *parent, const YbSnapshotHeader *root,
               uint64_t seq) {
        YbWriterOptions opts = { .host = "app01", .seq = seq, .volume_size = volume_size };
        W w = { .f = f };

        if (!f->repo->locked)
                ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, level, parent, root, &opts, &w.w));
        return w;
}

static YbSnapshotHeader *commit(W *w) {
        static char *srcs[] = { (char *) "/srv/src" };
        YbSnapshotHeader h = { .sources = srcs, .n_sources = 1 }, *ret = NULL;

        ASSERT_OK(yb_snapshot_writer_commit(w->w, &h, &ret));
        w->w = yb_snapshot_writer_free(w->w);
        if (!w->f->hold_lock)
                yb_repo_unlock(w->f->repo);
        return ret;
}

static void volume_entry(W *w, const char *prefix, const char *path, const void *data, size_t n,
                         YbEntry *e) {
        _cleanup_free_ char *name = NULL;
        YbPaxEntry pe = { .mode = 0644, .size = n };

        ASSERT_TRUE(asprintf(&name, "%s/%s", prefix, path) > 0);
        pe.name = name;
        ASSERT_OK(yb_snapshot_writer_begin_entry(w->w, &pe, &e->volume, &e->entry));
        ASSERT_OK(yb_snapshot_writer_data(w->w, data, n));
        ASSERT_OK(yb_snapshot_writer_end_entry(w->w));
        e->stored = n;
}

static void put_whole(W *w, const char *path, const void *data, size_t n) {
        YbEntry e = { .type = YB_ENTRY_FILE, .path = (char *) path, .mode = 0644, .size = n };

        e.content = n ? YB_CONTENT_WHOLE : YB_CONTENT_EMPTY;
        if (n)
                volume_entry(w, "tree", path, data, n, &e);
        yb_hash_buf(data, n, e.hash);
        ASSERT_OK(yb_snapshot_writer_add(w->w, &e));
}

/* path's new content as an rsync delta against old, base_path's content at the point before;
 * recorded with the hash of other content when wrong_hash. */
static void put_delta_ex(W *w, const char *path, const char *base_path, const void *old, size_t on,
                         const void *data, size_t n, bool wrong_hash) {
        YbEntry e = { .type = YB_ENTRY_FILE,
                      .path = (char *) path,
                      .mode = 0644,
                      .size = n,
                      .content = YB_CONTENT_DELTA,
                      .base_path = (char *) base_path };
        _cleanup_(yb_buf_done) YbBuf sig = YB_BUF_INIT, delta = YB_BUF_INIT;
        YbSigBuilder *b = NULL;
        YbSignature *s = NULL;
        YbDeltaJob *dj = NULL;

        ASSERT_OK(yb_sig_builder_new(on, &b));
        ASSERT_OK(yb_sig_builder_feed(b, old, on));
        ASSERT_OK(yb_sig_builder_finish(b, &sig));
        yb_sig_builder_free(b);
        ASSERT_OK(yb_signature_load(sig.data, sig.size, &s));
        ASSERT_OK(yb_delta_new(s, test_buf_write, &delta, &dj));
        ASSERT_OK(yb_delta_feed(dj, data, n));
        ASSERT_OK(yb_delta_finish(dj));
        yb_delta_free(dj);
        yb_signature_free(s);
        volume_entry(w, "delta", path, delta.data, delta.size, &e);
        yb_hash_buf(delta.data, delta.size, e.stored_hash);
        yb_hash_buf(wrong_hash ? "other" : data, wrong_hash ? 5 : n, e.hash);
        ASSERT_OK(yb_snapshot_writer_add(w->w, &e));
}

static void put_delta(W *w, const char *path, const char *base_path, const void *old, size_t on,
                      const void *data, size_t n) {
        put_delta_ex(w, path, base_path, old, on, data, n, false);
}

/* path has base_path's content at the point before (a rename, or a metadata change). */
static void put_unchanged(W *w, const char *path, const char *base_path, const void *data, size_t n,
                          uint32_t mode) {
        YbEntry e = { .type = YB_ENTRY_FILE,
                      .path = (char *) path,
                      .mode = mode,
                      .size = n,
                      .content = YB_CONTENT_UNCHANGED,
                      .base_path = (char *) base_path };

        yb_hash_buf(data, n, e.hash);
        ASSERT_OK(yb_snapshot_writer_add(w->w, &e));
}

static void put_other(W *w, YbEntryType type, const char *path, const char *target) {
        YbEntry e = { .type = type,
                      .path = (char *) path,
                      .mode = type == YB_ENTRY_DELETED ? 0 : 0755,
                      .target = (char *) target };

        ASSERT_OK(yb_snapshot_writer_add(w->w, &e));
}

/* The chain of root up to its segment n (0: the root itself), its segments read back from the
 * store as a restore reads them. */
static YbRestoreChain *chain_of(Fx *f, YbSnapshotList *l, const YbSnapshotHeader *root, size_t n) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        _cleanup_free_ char *bad = NULL;
        YbRestoreChain *c = NULL;

        ASSERT_OK(yb_segments_load(f->repo, root->id, 1, INT64_MAX, &segs, &bad));
        ASSERT_TRUE(bad == NULL);
        ASSERT_GE(segs.n, n);
        ASSERT_OK(yb_restore_chain_new(f->repo, l, root, f->key, &c));
        for (size_t i = 0; i < n; i++)
                ASSERT_OK(yb_restore_chain_add(c, TAKE_PTR(segs.items[i])));
        return c;
}

static void fail_report(void *userdata, const char *path, const char *problem) {
        fail_msg("not restored: %s: %s", path, problem);
}

static void restore_into(Fx *f, YbRestoreChain *c, const char *out) {
        _cleanup_free_ char *target = test_tmpdir_path(f->d, out);
        YbRestoreOptions o = { .target = target };
        YbRestoreStats st = { 0 };

        ASSERT_EQ(yb_restore(c, &o, fail_report, NULL, &st), 0);
        ASSERT_EQ(st.errors, 0);
}

static void assert_file(Fx *f, const char *path, const void *data, size_t n) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

        test_read_file(f->d->fd, path, &b);
        ASSERT_EQ(b.size, n);
        ASSERT_MEMEQ(b.data, data, n);
}

static void assert_gone(Fx *f, const char *path) {
        struct stat st;

        ASSERT_EQ(fstatat(f->d->fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0, ENOENT);
}

static ino_t inode(Fx *f, const char *path) {
        struct stat st;

        ASSERT_OK(fstatat(f->d->fd, path, &st, AT_SYMLINK_NOFOLLOW));
        return st.st_ino;
}

#define BIG (200 * 1024)

TEST(deletes_renames_deltas_and_hard_links) {
        _cleanup_(fx_freep) Fx *f = fx_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ uint8_t *big0 = malloc(BIG), *big1 = malloc(BIG), *big2 = malloc(BIG);
        YbSnapshotHeader *root, *s[3];
        W w;

        ASSERT_TRUE(big0 && big1 && big2);
        test_fill_random(big0, BIG, 1);
        memcpy(big1, big0, BIG);
        memcpy(big2, big0, BIG);
        memset(big1 + 4096, 'x', 100);
        memset(big2 + 4096, 'x', 100); /* the second delta is on the first one's result */
        memset(big2 + 150000, 'y', 5000);

        w = begin(f, YB_LEVEL_FULL, NULL, NULL, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_whole(&w, "src/a", "A1", 2);
        put_whole(&w, "src/big", big0, BIG);
        put_other(&w, YB_ENTRY_DIR, "src/d", NULL);
        put_whole(&w, "src/d/x", "X1", 2);
        put_other(&w, YB_ENTRY_DIR, "src/d/e", NULL);
        put_whole(&w, "src/d/e/y", "Y1", 2);
        put_whole(&w, "src/h1", "H1", 2);
        put_other(&w, YB_ENTRY_HARDLINK, "src/h2", "src/h1");
        root = commit(&w);

        /* 1: the directory d goes, its x moves to d2/x, big changes. */
        w = begin(f, YB_LEVEL_SEGMENT, root, root, 1);
        put_other(&w, YB_ENTRY_DELETED, "src/d", NULL);
        put_other(&w, YB_ENTRY_DIR, "src/d2", NULL);
        put_unchanged(&w, "src/d2/x", "src/d/x", "X1", 2, 0600);
        put_delta(&w, "src/big", "src/big", big0, BIG, big1, BIG);
        s[0] = commit(&w);

        /* 2: a delta on the delta, a renamed to b, a third name for h1's file. */
        w = begin(f, YB_LEVEL_SEGMENT, s[0], root, 2);
        put_other(&w, YB_ENTRY_DELETED, "src/a", NULL);
        put_unchanged(&w, "src/b", "src/a", "A1", 2, 0644);
        put_delta(&w, "src/big", "src/big", big1, BIG, big2, BIG);
        put_other(&w, YB_ENTRY_HARDLINK, "src/h3", "src/h1");
        s[1] = commit(&w);

        /* 3: d comes back with new content (its old x and e/ stay gone), b is rewritten. */
        w = begin(f, YB_LEVEL_SEGMENT, s[1], root, 3);
        put_other(&w, YB_ENTRY_DIR, "src/d", NULL);
        put_whole(&w, "src/d/new", "N3", 2);
        put_whole(&w, "src/b", "B3", 2);
        s[2] = commit(&w);

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n, 1); /* segments are not snapshots */

        for (size_t k = 0; k <= 3; k++) {
                _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = chain_of(f, &l, root, k);
                char out[16], p[64];

                snprintf(out, sizeof(out), "out%zu", k);
                restore_into(f, c, out);
#define P(x) (snprintf(p, sizeof(p), "%s/src/%s", out, x), p)
                assert_file(f, P("big"), k == 0 ? big0 : k == 1 ? big1 : big2, BIG);
                assert_file(f, P("h1"), "H1", 2);
                assert_file(f, P("h2"), "H1", 2);
                if (k == 0) {
                        assert_file(f, P("a"), "A1", 2);
                        assert_file(f, P("d/x"), "X1", 2);
                        assert_file(f, P("d/e/y"), "Y1", 2);
                        assert_gone(f, P("d2"));
                } else {
                        struct stat st;

                        assert_file(f, P("d2/x"), "X1", 2);
                        ASSERT_OK(fstatat(f->d->fd, P("d2/x"), &st, 0));
                        ASSERT_EQ(st.st_mode & 07777, 0600);
                        assert_gone(f, P("d/x"));
                        assert_gone(f, P("d/e"));
                }
                if (k >= 2) {
                        ino_t i1 = inode(f, P("h1"));

                        assert_gone(f, P("a"));
                        assert_file(f, P("b"), k == 2 ? "A1" : "B3", 2);
                        assert_file(f, P("h3"), "H1", 2);
                        ASSERT_EQ(inode(f, P("h3")), i1);
                        ASSERT_EQ(inode(f, P("h2")), i1);
                }
                if (k == 1 || k == 2)
                        assert_gone(f, P("d"));
                if (k == 3) {
                        assert_file(f, P("d/new"), "N3", 2);
                        snprintf(p, sizeof(p), "%s/src/d", out);
                        ASSERT_EQ(test_count_entries(f->d->fd, p), 1);
                }
                snprintf(p, sizeof(p), "%s/src", out);
                ASSERT_EQ(test_count_entries(f->d->fd, p), k <= 1 ? 5 : k == 2 ? 6 : 7);
#undef P
        }
        for (size_t k = 0; k < 3; k++)
                yb_header_free(s[k]);
        yb_header_free(root);
}

/* A file as a segment kept it while it was being written (flag "changing", read from t). */
static void put_changing(W *w, const char *path, const void *data, size_t n, int64_t t) {
        YbEntry e = { .type = YB_ENTRY_FILE,
                      .path = (char *) path,
                      .mode = 0644,
                      .size = n,
                      .content = YB_CONTENT_WHOLE,
                      .changing = true,
                      .read_started_ns = t };

        volume_entry(w, "tree", path, data, n, &e);
        yb_hash_buf(data, n, e.hash);
        ASSERT_OK(yb_snapshot_writer_add(w->w, &e));
}

typedef struct Seen {
        char paths[4][32];
        char segments[4][YB_SNAPSHOT_ID_MAX + 1];
        int64_t started[4];
        size_t n;
} Seen;

static void seen_changing(void *userdata, const char *path, const YbSnapshotHeader *segment,
                          int64_t read_started_ns) {
        Seen *x = userdata;

        ASSERT_LT(x->n, 4);
        snprintf(x->paths[x->n], sizeof(x->paths[0]), "%s", path);
        snprintf(x->segments[x->n], sizeof(x->segments[0]), "%s", segment->id);
        x->started[x->n++] = read_started_ns;
}

/* Which files of a point a segment kept while they were being written: only a path's newest
 * record counts (a later read without the flag ends it), chosen paths narrow it, and point_only
 * names what the point's own segment brought. The content restores as stored. */
TEST(files_read_while_written) {
        _cleanup_(fx_freep) Fx *f = fx_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        static const int64_t t1 = 1796544001000000001LL, t2 = 1796544002000000002LL;
        YbSnapshotHeader *root, *s[3];
        char *only_b[] = { (char *) "src/b" };
        W w;

        w = begin(f, YB_LEVEL_FULL, NULL, NULL, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_whole(&w, "src/a", "A0", 2);
        put_whole(&w, "src/b", "B0", 2);
        root = commit(&w);
        w = begin(f, YB_LEVEL_SEGMENT, root, root, 1);
        put_changing(&w, "src/a", "A1", 2, t1);
        s[0] = commit(&w);
        w = begin(f, YB_LEVEL_SEGMENT, s[0], root, 2);
        put_changing(&w, "src/b", "B2", 2, t2);
        s[1] = commit(&w);
        w = begin(f, YB_LEVEL_SEGMENT, s[1], root, 3);
        put_whole(&w, "src/a", "A3", 2); /* read still: the flag is gone */
        s[2] = commit(&w);
        ASSERT_OK(yb_repo_list(f->repo, &l));

        for (size_t k = 0; k <= 3; k++) {
                _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = chain_of(f, &l, root, k);
                Seen all = { 0 }, own = { 0 }, b = { 0 };
                char out[16];

                ASSERT_EQ(yb_restore_changing(c, false, NULL, 0, seen_changing, &all),
                          k == 0   ? 0
                          : k == 3 ? 1
                                   : (int) k);
                ASSERT_EQ(yb_restore_changing(c, true, NULL, 0, seen_changing, &own),
                          k == 1 || k == 2 ? 1 : 0);
                ASSERT_EQ(yb_restore_changing(c, false, only_b, 1, seen_changing, &b),
                          k >= 2 ? 1 : 0);
                ASSERT_EQ(yb_restore_changing(c, false, NULL, 0, NULL, NULL), (int) all.n);
                for (size_t i = 0; i < all.n; i++) {
                        bool is_a = streq(all.paths[i], "src/a");

                        ASSERT_TRUE(is_a || streq(all.paths[i], "src/b"));
                        ASSERT_FALSE(is_a && k == 3);
                        ASSERT_STREQ(all.segments[i], is_a ? s[0]->id : s[1]->id);
                        ASSERT_EQ(all.started[i], is_a ? t1 : t2);
                }
                if (own.n == 1)
                        ASSERT_STREQ(own.segments[0], s[k - 1]->id);
                snprintf(out, sizeof(out), "out%zu", k);
                restore_into(f, c, out);
                snprintf(out, sizeof(out), "out%zu/src/a", k);
                assert_file(f, out, k == 0 ? "A0" : k == 3 ? "A3" : "A1", 2);
                snprintf(out, sizeof(out), "out%zu/src/b", k);
                assert_file(f, out, k >= 2 ? "B2" : "B0", 2);
        }
        for (size_t k = 0; k < 3; k++)
                yb_header_free(s[k]);
        yb_header_free(root);
}

/* A long chain: one file rewritten by a delta in every segment, one new file in every tenth
 * and the one before it deleted, a directory deleted and made again every hundred. Memory is
 * the records (counted), and each volume is read once: volumes read = the segments whose
 * content the point needs, not segments x files. */
#define LONG_CHAIN 2000
#define DB (32 * 1024)

TEST(long_chain) {
        _cleanup_(fx_freep) Fx *f = fx_new_at(true);
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_free_ uint8_t *cur = malloc(DB), *next = malloc(DB);
        _cleanup_free_ char *target = NULL;
        const YbSnapshotHeader *point_root = NULL;
        YbSnapshotHeader *root, *prev;
        YbRestoreOptions o = { 0 };
        YbRestoreStats st = { 0 };
        _cleanup_free_ char *bad = NULL;
        size_t records = 0;
        char p[64];
        W w;

        ASSERT_TRUE(cur && next);
        test_fill_random(cur, DB, 7);
        w = begin(f, YB_LEVEL_FULL, NULL, NULL, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_whole(&w, "src/db", cur, DB);
        put_other(&w, YB_ENTRY_DIR, "src/tmp", NULL);
        root = commit(&w);
        prev = root;
        f->hold_lock = true;
        for (uint64_t seq = 1; seq <= LONG_CHAIN; seq++) {
                YbSnapshotHeader *h;

                memcpy(next, cur, DB);
                snprintf((char *) next + (seq * 4096) % (DB - 64), 64, "page %llu",
                         (unsigned long long) seq);
                w = begin(f, YB_LEVEL_SEGMENT, prev, root, seq);
                put_delta(&w, "src/db", "src/db", cur, DB, next, DB);
                records++;
                if (seq % 10 == 0) {
                        snprintf(p, sizeof(p), "src/f%llu", (unsigned long long) seq);
                        put_whole(&w, p, p, strlen(p));
                        records++;
                        if (seq > 10) {
                                snprintf(p, sizeof(p), "src/f%llu", (unsigned long long) seq - 10);
                                put_other(&w, YB_ENTRY_DELETED, p, NULL);
                                records++;
                        }
                }
                if (seq % 100 == 0) {
                        put_other(&w, YB_ENTRY_DELETED, "src/tmp", NULL);
                        put_other(&w, YB_ENTRY_DIR, "src/tmp", NULL);
                        snprintf(p, sizeof(p), "src/tmp/t%llu", (unsigned long long) seq);
                        put_whole(&w, p, "t", 1);
                        records += 3;
                }
                h = commit(&w);
                if (prev != root)
                        yb_header_free(prev);
                prev = h;
                memcpy(cur, next, DB);
        }
        yb_header_free(prev);
        f->hold_lock = false;
        yb_repo_unlock(f->repo);

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_OK(yb_segments_find(f->repo, &l, INT64_MAX, &point_root, &segs, &bad));
        ASSERT_TRUE(bad == NULL);
        ASSERT_STREQ(point_root->id, root->id);
        ASSERT_EQ(segs.n, LONG_CHAIN);
        ASSERT_OK(yb_restore_chain_new(f->repo, &l, point_root, f->key, &c));
        for (size_t i = 0; i < segs.n; i++)
                ASSERT_OK(yb_restore_chain_add(c, TAKE_PTR(segs.items[i])));
        ASSERT_EQ(yb_restore_chain_segments(c), LONG_CHAIN);
        ASSERT_EQ(yb_restore_chain_records(c), records);

        target = test_tmpdir_path(f->d, "out");
        o.target = target;
        ASSERT_EQ(yb_restore(c, &o, fail_report, NULL, &st), 0);
        /* the root's volume and one per segment for the db's deltas; the last new file and the
         * last tmp file are in segments that hold a delta too */
        ASSERT_EQ(st.volumes_read, 1 + LONG_CHAIN);
        ASSERT_EQ(st.files, 3);
        assert_file(f, "out/src/db", cur, DB);
        snprintf(p, sizeof(p), "out/src/f%d", LONG_CHAIN);
        assert_file(f, p, p + 4, strlen(p + 4));
        ASSERT_EQ(test_count_entries(f->d->fd, "out/src"), 3);
        ASSERT_EQ(test_count_entries(f->d->fd, "out/src/tmp"), 1);
        yb_header_free(root);
}

/* Entries of the top of dir whose name starts with a dot (a standby's own state). */
static int count_dots(Fx *f, const char *dir) {
        _cleanup_close_ int fd = openat(f->d->fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(TAKE_FD(fd)) : NULL;
        struct dirent *de;
        int n = 0;

        ASSERT_TRUE(d);
        while ((de = readdir(d)))
                if (de->d_name[0] == '.' && !streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

/* Whether the trees under a and b (relative to the scratch directory) are the same: names,
 * types, modes, sizes, contents, modification times, symlink targets. Dot-directories at the
 * top of the standby (its own state) are left out. */
static void assert_same_tree(Fx *f, const char *a, const char *b, bool top) {
        _cleanup_close_ int fa = openat(f->d->fd, a, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        size_t na = 0;

        ASSERT_OK(fa);
        d = fdopendir(dup(fa));
        ASSERT_TRUE(d);
        while ((de = readdir(d))) {
                _cleanup_free_ char *pa = NULL, *pb = NULL;
                struct stat sa, sb;

                if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
                    (top && de->d_name[0] == '.'))
                        continue;
                na++;
                ASSERT_TRUE(asprintf(&pa, "%s/%s", a, de->d_name) > 0);
                ASSERT_TRUE(asprintf(&pb, "%s/%s", b, de->d_name) > 0);
                ASSERT_OK(fstatat(f->d->fd, pa, &sa, AT_SYMLINK_NOFOLLOW));
                if (fstatat(f->d->fd, pb, &sb, AT_SYMLINK_NOFOLLOW) < 0)
                        fail_msg("%s is missing", pb);
                ASSERT_EQ(sa.st_mode, sb.st_mode);
                if (S_ISDIR(sa.st_mode))
                        assert_same_tree(f, pa, pb, false);
                else {
                        _cleanup_(yb_buf_done) YbBuf x = YB_BUF_INIT, y = YB_BUF_INIT;

                        ASSERT_EQ(sa.st_size, sb.st_size);
                        test_read_file(f->d->fd, pa, &x);
                        test_read_file(f->d->fd, pb, &y);
                        ASSERT_MEMEQ(x.data, y.data, x.size);
                }
                ASSERT_EQ(sa.st_mtim.tv_sec, sb.st_mtim.tv_sec);
                ASSERT_EQ(sa.st_mtim.tv_nsec, sb.st_mtim.tv_nsec);
        }
        closedir(d);
        /* and nothing more in b */
        ASSERT_EQ(test_count_entries(f->d->fd, b) - (top ? count_dots(f, b) : 0), na);
}

static void counting_report(void *userdata, const char *path, const char *problem) {
        fprintf(stderr, "reported: %s: %s\n", path, problem);
        (*(int *) userdata)++;
}

/* Three segments (as in the first case) applied one by one to a standby: after each, the
 * standby equals a fresh restore of that point; a file changed by hand in the standby is
 * reported and fetched again when a delta needs it, and by a check otherwise (which also
 * removes what was added by hand and puts back what changed type); applying a segment again
 * over itself (a run cut after the step) leaves the point as it is. */
TEST(apply_segments_to_a_standby) {
        _cleanup_(fx_freep) Fx *f = fx_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_free_ uint8_t *big0 = malloc(BIG), *big1 = malloc(BIG), *big2 = malloc(BIG);
        _cleanup_free_ char *standby = NULL, *bad = NULL;
        YbRestoreOptions o = { 0 };
        YbRestoreStats rs = { 0 };
        YbSnapshotHeader *root, *s;
        int reported = 0;
        W w;

        ASSERT_TRUE(big0 && big1 && big2);
        test_fill_random(big0, BIG, 3);
        memcpy(big1, big0, BIG);
        memset(big1 + 8192, 'x', 100);
        memcpy(big2, big1, BIG);
        memset(big2 + 100000, 'y', 100);

        w = begin(f, YB_LEVEL_FULL, NULL, NULL, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_whole(&w, "src/big", big0, BIG);
        put_other(&w, YB_ENTRY_DIR, "src/d", NULL);
        put_whole(&w, "src/d/x", "X1", 2);
        put_whole(&w, "src/keep", "K", 1);
        put_whole(&w, "src/meta", "M", 1);
        put_whole(&w, "src/h1", "H1", 2);
        put_other(&w, YB_ENTRY_HARDLINK, "src/h2", "src/h1");
        put_other(&w, YB_ENTRY_SYMLINK, "src/ln", "d/x");
        root = commit(&w);

        w = begin(f, YB_LEVEL_SEGMENT, root, root, 1);
        put_other(&w, YB_ENTRY_DELETED, "src/d", NULL);
        put_other(&w, YB_ENTRY_DIR, "src/e", NULL);
        put_unchanged(&w, "src/e/x", "src/d/x", "X1", 2, 0600);
        put_delta(&w, "src/big", "src/big", big0, BIG, big1, BIG);
        put_other(&w, YB_ENTRY_SYMLINK, "src/ln", "e/x");
        s = commit(&w);

        w = begin(f, YB_LEVEL_SEGMENT, s, root, 2);
        put_delta(&w, "src/big", "src/big", big1, BIG, big2, BIG);
        put_whole(&w, "src/h1", "H2", 2);
        put_other(&w, YB_ENTRY_HARDLINK, "src/h2", "src/h1");
        put_unchanged(&w, "src/meta", "src/meta", "M", 1, 0640); /* chmod alone */
        yb_header_free(s);
        s = commit(&w);
        yb_header_free(s);

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_OK(yb_segments_load(f->repo, root->id, 1, INT64_MAX, &segs, &bad));
        ASSERT_EQ(segs.n, 2);
        ASSERT_OK(yb_restore_chain_new(f->repo, &l, root, f->key, &c));
        standby = test_tmpdir_path(f->d, "standby");
        o.target = standby;
        ASSERT_EQ(yb_restore(c, &o, fail_report, NULL, &rs), 0);

        /* 1, with the standby's copy of big changed by hand first (same size, new time) */
        test_flip_byte(f->d->fd, "standby/src/big", 5, 0x55);
        {
                YbApplyStats st = { 0 };
                _cleanup_(yb_restore_chain_freep) YbRestoreChain *fresh = chain_of(f, &l, root, 1);

                ASSERT_OK(yb_restore_chain_add(c, TAKE_PTR(segs.items[0])));
                ASSERT_EQ(yb_restore_apply_segment(c, standby, false, counting_report, &reported,
                                                   &st),
                          0);
                ASSERT_EQ(reported, 1);
                ASSERT_EQ(st.refetched, 1);
                ASSERT_EQ(st.deleted, 1);
                restore_into(f, fresh, "fresh1");
                assert_same_tree(f, "fresh1", "standby", true);
                assert_gone(f, "standby/src/d");

                /* cut after the step and applied again: nothing changes, nothing reported */
                memset(&st, 0, sizeof(st));
                ASSERT_EQ(
                        yb_restore_apply_segment(c, standby, true, counting_report, &reported, &st),
                        0);
                ASSERT_EQ(reported, 1);
                assert_same_tree(f, "fresh1", "standby", true);
        }
        /* 2, with keep changed by hand: no segment needs it, the check finds it */
        test_write_file(f->d->fd, "standby/src/keep", "hand", 4);
        {
                YbApplyStats st = { 0 };
                _cleanup_(yb_restore_chain_freep) YbRestoreChain *fresh = chain_of(f, &l, root, 2);
                ino_t i1, meta = inode(f, "standby/src/meta");

                ASSERT_OK(yb_restore_chain_add(c, TAKE_PTR(segs.items[1])));
                ASSERT_EQ(yb_restore_apply_segment(c, standby, false, fail_report, NULL, &st), 0);
                ASSERT_EQ(inode(f, "standby/src/meta"), meta); /* kept, not copied */
                ASSERT_EQ(st.refetched, 0);
                memset(&st, 0, sizeof(st));
                /* and more by hand: a file and a directory added, a file made a directory */
                test_write_file(f->d->fd, "standby/src/extra", "x", 1);
                ASSERT_OK(mkdirat(f->d->fd, "standby/src/e/more", 0755));
                test_write_file(f->d->fd, "standby/src/e/more/y", "y", 1);
                ASSERT_OK(unlinkat(f->d->fd, "standby/src/e/x", 0));
                ASSERT_OK(mkdirat(f->d->fd, "standby/src/e/x", 0755));
                ASSERT_EQ(yb_restore_check(c, standby, counting_report, &reported, &st), 4);
                ASSERT_EQ(reported, 5);
                ASSERT_EQ(st.refetched, 2);
                ASSERT_EQ(st.deleted, 2);
                restore_into(f, fresh, "fresh2");
                assert_same_tree(f, "fresh2", "standby", true);
                i1 = inode(f, "standby/src/h1");
                ASSERT_EQ(inode(f, "standby/src/h2"), i1);
                memset(&st, 0, sizeof(st));
                ASSERT_EQ(yb_restore_check(c, standby, fail_report, NULL, &st), 0);
        }
        yb_header_free(root);
}

/* A segment whose volume is damaged cannot be applied: each file is named, and the standby is
 * left exactly at the point before (nothing removed, nothing put in place); taken out of the
 * chain again, the point is the one before. */
TEST(apply_that_cannot_be_built_changes_nothing) {
        _cleanup_(fx_freep) Fx *f = fx_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_free_ char *standby = NULL, *bad = NULL, *vol = NULL, *rel = NULL;
        YbRestoreOptions o = { 0 };
        YbRestoreStats rs = { 0 };
        YbApplyStats st = { 0 };
        YbSnapshotHeader *root, *s;
        int reported = 0;
        W w;

        w = begin(f, YB_LEVEL_FULL, NULL, NULL, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_whole(&w, "src/a", "A1", 2);
        put_whole(&w, "src/gone", "G", 1);
        root = commit(&w);
        w = begin(f, YB_LEVEL_SEGMENT, root, root, 1);
        put_other(&w, YB_ENTRY_DELETED, "src/gone", NULL);
        put_whole(&w, "src/a", "A2", 2);
        put_whole(&w, "src/new", "N", 1);
        s = commit(&w);
        ASSERT_EQ(s->n_files > 0, 1);
        for (size_t i = 0; i < s->n_files; i++)
                if (strncmp(s->files[i].name, "vol-", 4) == 0)
                        rel = yb_repo_point_path(f->repo, s, s->files[i].name);
        ASSERT_TRUE(rel);
        ASSERT_TRUE(asprintf(&vol, "store/%s", rel) > 0);
        test_flip_byte(f->d->fd, vol, 40, 0x01);

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_OK(yb_segments_load(f->repo, root->id, 1, INT64_MAX, &segs, &bad));
        ASSERT_OK(yb_restore_chain_new(f->repo, &l, root, f->key, &c));
        standby = test_tmpdir_path(f->d, "standby");
        o.target = standby;
        ASSERT_EQ(yb_restore(c, &o, fail_report, NULL, &rs), 0);
        restore_into(f, c, "before");

        ASSERT_OK(yb_restore_chain_add(c, TAKE_PTR(segs.items[0])));
        ASSERT_EQ(yb_restore_apply_segment(c, standby, false, counting_report, &reported, &st), 2);
        ASSERT_EQ(reported, 2);
        ASSERT_FALSE(st.applied);
        assert_same_tree(f, "before", "standby", true);
        assert_file(f, "standby/src/gone", "G", 1);
        ASSERT_EQ(test_count_entries(f->d->fd, "standby"), 1); /* no staging left */

        ASSERT_OK(yb_restore_chain_pop(c));
        ASSERT_STREQ(yb_restore_chain_point(c)->id, root->id);
        ASSERT_EQ(yb_restore_chain_records(c), 0);
        ASSERT_EQ(yb_restore_check(c, standby, fail_report, NULL, &st), 0);
        yb_header_free(s);
        yb_header_free(root);
}

typedef struct Reports {
        int n;
        char last[1024];
} Reports;

static void keep_report(void *userdata, const char *path, const char *problem) {
        Reports *r = userdata;

        r->n++;
        snprintf(r->last, sizeof(r->last), "%s: %s", path, problem);
}

/* Deltas that only write over the old file where it changed are applied in place, beside one
 * that moves bytes; every result is checked against its hash, so one recorded with a wrong hash
 * is reported as damaged and never placed, while the others restore exactly. */
TEST(deltas_in_place_are_checked) {
        _cleanup_(fx_freep) Fx *f = fx_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_free_ uint8_t *old = malloc(BIG), *paged = malloc(BIG), *grown = malloc(BIG + 777),
                               *moved = malloc(BIG + 100);
        _cleanup_free_ char *target = NULL, *want = NULL;
        YbSnapshotHeader *root, *incr;
        YbRestoreOptions o = { 0 };
        YbRestoreStats st = { 0 };
        Reports rep = { 0 };
        W w;

        ASSERT_TRUE(old && paged && grown && moved);
        test_fill_random(old, BIG, 11);
        memcpy(paged, old, BIG);
        memset(paged + 3 * 4096 + 10, 'p', 5000);
        memcpy(grown, old, BIG);
        test_fill_random(grown + BIG, 777, 12);
        test_fill_random(moved, 100, 13);
        memcpy(moved + 100, old, BIG);

        w = begin(f, YB_LEVEL_FULL, NULL, NULL, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_whole(&w, "src/paged", old, BIG);
        put_whole(&w, "src/grown", old, BIG);
        put_whole(&w, "src/moved", old, BIG);
        put_whole(&w, "src/bad", old, BIG);
        root = commit(&w);
        w = begin(f, YB_LEVEL_INCREMENTAL, root, root, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_delta(&w, "src/paged", "src/paged", old, BIG, paged, BIG);
        put_delta(&w, "src/grown", "src/grown", old, BIG, grown, BIG + 777);
        put_delta(&w, "src/moved", "src/moved", old, BIG, moved, BIG + 100);
        put_delta_ex(&w, "src/bad", "src/bad", old, BIG, paged, BIG, true);
        incr = commit(&w);

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_OK(yb_restore_chain_new(f->repo, &l, incr, f->key, &c));
        target = test_tmpdir_path(f->d, "out");
        o.target = target;
        ASSERT_EQ(yb_restore(c, &o, keep_report, &rep, &st), 1);
        ASSERT_EQ(st.deltas, 3);             /* bad's failed its check: not counted */
        ASSERT_EQ(st.in_place, 2);           /* paged and grown; moved's copies move bytes */
        ASSERT_EQ(st.early, 3);              /* paged, grown and bad went right after their full */
        ASSERT_EQ(st.volumes_read_early, 1); /* the incremental's, where they are */
        ASSERT_EQ(st.errors, 1);
        ASSERT_EQ(st.damaged, 1);
        ASSERT_EQ(rep.n, 1);
        ASSERT_TRUE(asprintf(&want, "src/bad: content does not match its hash in snapshot %s",
                             incr->id) > 0);
        ASSERT_TRUE(strstr(rep.last, want) != NULL);
        assert_file(f, "out/src/paged", paged, BIG);
        assert_file(f, "out/src/grown", grown, BIG + 777);
        assert_file(f, "out/src/moved", moved, BIG + 100);
        assert_gone(f, "out/src/bad");
        yb_header_free(incr);
        yb_header_free(root);
}

/* In-place deltas are read before their volume's turn and applied right after the generation
 * they patch, a chain of them in order: a file changed in place in two incrementals, one
 * whose first delta moves bytes (so its second waits for its turn), one whose second does
 * (after its first, early). Every file restores exactly, whatever came early. */
TEST(deltas_read_early_in_order) {
        _cleanup_(fx_freep) Fx *f = fx_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_free_ uint8_t *v0 = malloc(BIG), *v1 = malloc(BIG), *v2 = malloc(BIG),
                               *m1 = malloc(BIG + 100), *m2 = malloc(BIG + 100),
                               *n2 = malloc(BIG + 200);
        _cleanup_free_ char *target = NULL;
        YbSnapshotHeader *root, *i1, *i2;
        YbRestoreOptions o = { 0 };
        YbRestoreStats st = { 0 };
        W w;

        ASSERT_TRUE(v0 && v1 && v2 && m1 && m2 && n2);
        test_fill_random(v0, BIG, 31);
        memcpy(v1, v0, BIG);
        memset(v1 + 2 * 4096 + 7, '1', 3000);
        memcpy(v2, v1, BIG);
        memset(v2 + 9 * 4096 + 3, '2', 5000);
        test_fill_random(m1, 100, 32); /* v0 moved by 100 bytes: not in place */
        memcpy(m1 + 100, v0, BIG);
        memcpy(m2, m1, BIG + 100);
        memset(m2 + 4 * 4096, 'm', 2000); /* then changed in place */
        test_fill_random(n2, 200, 33);    /* v1 moved by 200 bytes */
        memcpy(n2 + 200, v1, BIG);

        w = begin(f, YB_LEVEL_FULL, NULL, NULL, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_whole(&w, "src/twice", v0, BIG);
        put_whole(&w, "src/moved-first", v0, BIG);
        put_whole(&w, "src/moved-second", v0, BIG);
        root = commit(&w);
        w = begin(f, YB_LEVEL_INCREMENTAL, root, root, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_delta(&w, "src/twice", "src/twice", v0, BIG, v1, BIG);
        put_delta(&w, "src/moved-first", "src/moved-first", v0, BIG, m1, BIG + 100);
        put_delta(&w, "src/moved-second", "src/moved-second", v0, BIG, v1, BIG);
        i1 = commit(&w);
        w = begin(f, YB_LEVEL_INCREMENTAL, i1, i1, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_delta(&w, "src/twice", "src/twice", v1, BIG, v2, BIG);
        put_delta(&w, "src/moved-first", "src/moved-first", m1, BIG + 100, m2, BIG + 100);
        put_delta(&w, "src/moved-second", "src/moved-second", v1, BIG, n2, BIG + 200);
        i2 = commit(&w);

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_OK(yb_restore_chain_new(f->repo, &l, i2, f->key, &c));
        target = test_tmpdir_path(f->d, "out");
        o.target = target;
        ASSERT_EQ(yb_restore(c, &o, fail_report, NULL, &st), 0);
        assert_file(f, "out/src/twice", v2, BIG);
        assert_file(f, "out/src/moved-first", m2, BIG + 100);
        assert_file(f, "out/src/moved-second", n2, BIG + 200);
        ASSERT_EQ(st.deltas, 6);
        ASSERT_EQ(st.in_place, 4);           /* all but the two that move bytes */
        ASSERT_EQ(st.early, 3);              /* twice's two, moved-second's first */
        ASSERT_EQ(st.volumes_read_early, 2); /* i1's and i2's */
        ASSERT_EQ(st.errors, 0);
        yb_header_free(i2);
        yb_header_free(i1);
        yb_header_free(root);
}

/* A full in a volume per file and an incremental whose deltas (two in place, one that moves
 * bytes) and new file are in one volume: everything restores exactly, each volume read once in
 * its turn (the incremental's also before, up to its deltas in place).
 * When the incremental's volume is damaged, the files it holds fail (reported as damaged, none
 * placed) and the full's files it does not touch restore. */
static void several_volumes_case(bool damage) {
        _cleanup_(fx_freep) Fx *f = fx_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_free_ uint8_t *old = malloc(BIG), *paged = malloc(BIG), *moved = malloc(BIG + 100);
        _cleanup_free_ char *target = NULL, *target2 = NULL, *vol = NULL, *want = NULL;
        YbSnapshotHeader *root, *incr;
        YbRestoreOptions o = { 0 };
        YbRestoreStats st = { 0 };
        Reports rep = { 0 };
        W w;

        ASSERT_TRUE(old && paged && moved);
        test_fill_random(old, BIG, 21);
        memcpy(paged, old, BIG);
        memset(paged + 5 * 4096 + 10, 'p', 3000);
        test_fill_random(moved, 100, 22);
        memcpy(moved + 100, old, BIG);

        volume_size = BIG / 2; /* a volume for each file */
        w = begin(f, YB_LEVEL_FULL, NULL, NULL, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_whole(&w, "src/a", old, BIG);
        put_whole(&w, "src/b", old, BIG);
        put_whole(&w, "src/c", old, BIG);
        put_whole(&w, "src/d", old, BIG);
        put_whole(&w, "src/keep", old, BIG);
        root = commit(&w);
        volume_size = 0;
        w = begin(f, YB_LEVEL_INCREMENTAL, root, root, 0);
        put_other(&w, YB_ENTRY_DIR, "src", NULL);
        put_delta(&w, "src/a", "src/a", old, BIG, paged, BIG);
        put_whole(&w, "src/new", "new", 3);
        put_delta(&w, "src/b", "src/b", old, BIG, moved, BIG + 100);
        put_delta(&w, "src/d", "src/d", old, BIG, paged, BIG);
        put_unchanged(&w, "src/c", "src/c", old, BIG, 0644);
        put_unchanged(&w, "src/keep", "src/keep", old, BIG, 0644);
        incr = commit(&w);
        ASSERT_TRUE(yb_header_find_file(root, "vol-000005") != NULL);
        ASSERT_TRUE(yb_header_find_file(incr, "vol-000001") != NULL);
        ASSERT_TRUE(yb_header_find_file(incr, "vol-000002") == NULL);
        if (damage) {
                ASSERT_TRUE(asprintf(&vol, "store/%s/snapshots/%s/vol-000001", SYSTEM, incr->id) >
                            0);
                test_flip_byte(f->d->fd, vol, 200, 0x01);
        }

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_OK(yb_restore_chain_new(f->repo, &l, incr, f->key, &c));
        target = test_tmpdir_path(f->d, "out");
        o.target = target;
        ASSERT_EQ(yb_restore(c, &o, keep_report, &rep, &st), damage ? 4 : 0);
        ASSERT_EQ(st.volumes_read, 6);       /* 5 + 1, each once in its turn */
        ASSERT_EQ(st.volumes_read_early, 1); /* and the incremental's for its two in place */
        assert_file(f, "out/src/c", old, BIG);
        assert_file(f, "out/src/keep", old, BIG);
        if (damage) {
                ASSERT_EQ(st.damaged, 4);
                ASSERT_TRUE(asprintf(&want, "vol-000001 of snapshot %s cannot be read: damaged",
                                     incr->id) > 0);
                ASSERT_TRUE(strstr(rep.last, want) != NULL);
                assert_gone(f, "out/src/a");
                assert_gone(f, "out/src/b");
                assert_gone(f, "out/src/d");
                assert_gone(f, "out/src/new");
        } else {
                ASSERT_EQ(st.deltas, 3);
                ASSERT_EQ(st.in_place, 2); /* a and d; b's copies move bytes */
                assert_file(f, "out/src/a", paged, BIG);
                assert_file(f, "out/src/b", moved, BIG + 100);
                assert_file(f, "out/src/d", paged, BIG);
                assert_file(f, "out/src/new", "new", 3);
                /* The full's manifest was let go once the plan had what it needed; the same
                 * chain restores again, loading it again. */
                ASSERT_TRUE(c->levels[0].m == NULL);
                ASSERT_TRUE(c->levels[1].m != NULL);
                o.target = target2 = test_tmpdir_path(f->d, "out2");
                ASSERT_EQ(yb_restore(c, &o, keep_report, &rep, &st), 0);
                assert_file(f, "out2/src/a", paged, BIG);
                assert_file(f, "out2/src/b", moved, BIG + 100);
                assert_file(f, "out2/src/keep", old, BIG);
        }
        yb_header_free(incr);
        yb_header_free(root);
}

TEST(several_volumes) {
        several_volumes_case(false);
}

TEST(several_volumes_later_one_damaged) {
        several_volumes_case(true);
}

/* Restores summed (a tier-2 apply adds its restore's counts to its own): every count adds. */
TEST(stats_add_adds_every_count) {
        YbRestoreStats to = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
        const YbRestoreStats from = { .files = 2,
                                      .dirs = 3,
                                      .symlinks = 4,
                                      .hardlinks = 5,
                                      .special = 6,
                                      .bytes = 7,
                                      .volumes_read = 8,
                                      .volumes_read_early = 9,
                                      .deltas = 10,
                                      .in_place = 11,
                                      .early = 12,
                                      .errors = 13,
                                      .damaged = 14 };

        yb_restore_stats_add(&to, &from);
        ASSERT_EQ(to.files, 3);
        ASSERT_EQ(to.dirs, 4);
        ASSERT_EQ(to.symlinks, 5);
        ASSERT_EQ(to.hardlinks, 6);
        ASSERT_EQ(to.special, 7);
        ASSERT_EQ(to.bytes, 8);
        ASSERT_EQ(to.volumes_read, 9);
        ASSERT_EQ(to.volumes_read_early, 10);
        ASSERT_EQ(to.deltas, 11);
        ASSERT_EQ(to.in_place, 12);
        ASSERT_EQ(to.early, 13);
        ASSERT_EQ(to.errors, 14);
        ASSERT_EQ(to.damaged, 15);
}
