/* Tier-2 segments (core/repo/segment.h): the header's seq, deletion records, the writer's
 * segment commit, hour indexes, listing, lookup, verification, chain pruning, and how many store
 * operations each of those takes as a chain grows. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/timeutil.h"
#include "core/repo/repo.h"
#include "core/repo/segment.h"
#include "core/repo/verify.h"
#include "core/repo/writer.h"
#include "tests/unit/test.h"

#define SYSTEM "hr"
#define SEC YB_NSEC_PER_SEC
/* 2026-12-06T08:59:40Z: segments 2 s apart cross into 09 after ten of them. */
#define T0 (1796547580LL * SEC)

static int64_t now_ns = T0;

static int64_t fake_clock(void) {
        return now_ns;
}

/* Counts the store operations that the repository makes through it. */
typedef struct CountingStore {
        YbStore s;
        YbStore *inner;
        unsigned opens, lists, stats, other;
} CountingStore;

#define CS(s) ((CountingStore *) (s))

static int c_open_read(YbStore *s, const char *p, YbStoreFile **ret) {
        CS(s)->opens++;
        return yb_store_open_read(CS(s)->inner, p, ret);
}
static int c_create(YbStore *s, const char *p, unsigned flags, YbStoreFile **ret) {
        CS(s)->other++;
        return yb_store_create_ex(CS(s)->inner, p, flags, ret);
}
static int c_open_append(YbStore *s, const char *p, uint64_t *size, YbStoreFile **ret) {
        CS(s)->other++;
        return yb_store_open_append(CS(s)->inner, p, size, ret);
}
static int c_rename(YbStore *s, const char *a, const char *b) {
        CS(s)->other++;
        return yb_store_rename(CS(s)->inner, a, b);
}
static int c_unlink(YbStore *s, const char *p) {
        CS(s)->other++;
        return yb_store_unlink(CS(s)->inner, p);
}
static int c_mkdir(YbStore *s, const char *p) {
        CS(s)->other++;
        return yb_store_mkdir(CS(s)->inner, p);
}
static int c_rmdir(YbStore *s, const char *p) {
        CS(s)->other++;
        return yb_store_rmdir(CS(s)->inner, p);
}
static int c_stat(YbStore *s, const char *p, YbStoreStat *ret) {
        CS(s)->stats++;
        return yb_store_stat(CS(s)->inner, p, ret);
}
static int c_list(YbStore *s, const char *p, int (*fn)(void *, const char *), void *ud) {
        CS(s)->lists++;
        return yb_store_list(CS(s)->inner, p, fn, ud);
}
static int c_sync_dir(YbStore *s, const char *p) {
        CS(s)->other++;
        return yb_store_sync_dir(CS(s)->inner, p);
}
static int c_remove_tree(YbStore *s, const char *p) {
        CS(s)->other++;
        return yb_store_remove_tree(CS(s)->inner, p);
}

/* Files opened through the wrapper belong to the inner store, which serves their reads. */
#define COUNTING_OPS                                                                               \
        .kind = YB_LOCATION_LOCAL, .open_read = c_open_read, .create = c_create,                   \
        .open_append = c_open_append, .rename = c_rename, .unlink = c_unlink, .mkdir = c_mkdir,    \
        .rmdir = c_rmdir, .stat = c_stat, .list = c_list, .sync_dir = c_sync_dir,                  \
        .remove_tree = c_remove_tree
static const YbStoreOps counting_ops = { COUNTING_OPS };
/* The same over an object store (the local store's test hook). */
static const YbStoreOps counting_objects_ops = { .flags = YB_STORE_OBJECTS, COUNTING_OPS };

static unsigned reads_of(const CountingStore *c) {
        return c->opens + c->lists + c->stats;
}

typedef struct Fixture {
        TestTmpdir *d;
        YbStore *store;
        YbSecretKey *key;
        YbAgentIdentity *agent;
        YbRepo *repo;
        int zstd_level;
} Fixture;

static void fixture_free(Fixture *f) {
        yb_repo_free(f->repo);
        yb_agent_identity_free(f->agent);
        yb_secret_key_free(f->key);
        yb_store_close(f->store);
        test_tmpdir_free(f->d);
        free(f);
}
DEFINE_FREEP(Fixture, fixture_free);

static Fixture *fixture_new(void) {
        Fixture *f = new0(Fixture, 1);
        _cleanup_free_ char *root = NULL, *agent = NULL;

        ASSERT_TRUE(f);
        now_ns = T0;
        f->d = test_tmpdir_new();
        root = test_tmpdir_path(f->d, "store");
        agent = test_tmpdir_path(f->d, "agent");
        ASSERT_OK(mkdirat(f->d->fd, "store", 0700));
        ASSERT_OK(yb_store_open(root, &f->store));
        ASSERT_OK(yb_key_generate(SYSTEM, &f->key));
        ASSERT_OK(yb_agent_identity_load(agent, &f->agent));
        ASSERT_OK(yb_repo_open_or_create(f->store, &f->key->pub, &f->repo));
        ASSERT_OK(yb_repo_lock(f->repo));
        f->zstd_level = 1;
        return f;
}

/* Adds a file stored whole with content text. */
static void add_file(YbSnapshotWriter *w, const char *path, const char *text) {
        _cleanup_free_ char *name = NULL;
        size_t n = strlen(text);
        YbEntry e = { .type = YB_ENTRY_FILE,
                      .path = (char *) path,
                      .mode = 0644,
                      .content = YB_CONTENT_WHOLE,
                      .size = n,
                      .stored = n };
        YbSigEntry se = { .path = (char *) path, .size = n, .ino = 7, .dev = 1 };
        YbPaxEntry pe = { .mode = 0644, .size = n };

        ASSERT_TRUE(asprintf(&name, "tree/%s", path) > 0);
        pe.name = name;
        ASSERT_OK(yb_snapshot_writer_begin_entry(w, &pe, &e.volume, &e.entry));
        ASSERT_OK(yb_snapshot_writer_data(w, text, n));
        ASSERT_OK(yb_snapshot_writer_end_entry(w));
        yb_hash_buf(text, n, e.hash);
        memcpy(se.hash, e.hash, YB_HASH_SIZE);
        ASSERT_OK(yb_snapshot_writer_add(w, &e));
        ASSERT_OK(yb_snapshot_writer_add_sig(w, &se));
}

static YbSnapshotHeader *commit(YbSnapshotWriter *w) {
        static char *srcs[] = { (char *) "/srv/hr" };
        YbSnapshotHeader h = { .counts = { .files = 1, .whole = 1 },
                               .sources = srcs,
                               .n_sources = 1 };
        YbSnapshotHeader *ret = NULL;

        ASSERT_OK(yb_snapshot_writer_commit(w, &h, &ret));
        yb_snapshot_writer_free(w);
        return ret;
}

/* A full (the chain's root) at the clock's time, taking a second. */
static YbSnapshotHeader *make_root(Fixture *f) {
        YbWriterOptions o = { .host = "app01",
                              .zstd_level = f->zstd_level,
                              .clock_ns = fake_clock };
        YbSnapshotWriter *w = NULL;

        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_FULL, NULL, NULL, &o, &w));
        add_file(w, "a.txt", "root");
        now_ns += SEC;
        return commit(w);
}

/* Segment seq of root's chain after prev: a.txt rewritten, gone.txt deleted. Starts at the
 * clock's time and finishes a second later; the clock then stands 2 s after the start. */
static YbSnapshotHeader *make_segment(Fixture *f, const YbSnapshotHeader *root,
                                      const YbSnapshotHeader *prev, uint64_t seq) {
        YbWriterOptions o = {
                .host = "app01", .zstd_level = f->zstd_level, .seq = seq, .clock_ns = fake_clock
        };
        YbEntry del = { .type = YB_ENTRY_DELETED, .path = (char *) "gone.txt" };
        YbSnapshotWriter *w = NULL;
        YbSnapshotHeader *h;
        char text[64];

        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_SEGMENT, prev, root, &o, &w));
        ASSERT_OK(yb_snapshot_writer_add(w, &del));
        snprintf(text, sizeof(text), "version %llu", (unsigned long long) seq);
        add_file(w, "a.txt", text);
        now_ns += SEC;
        h = commit(w);
        now_ns += SEC;
        return h;
}

/* A chain of n segments; the headers in segs[0..n-1] (segs may be NULL: freed). */
static void make_chain(Fixture *f, const YbSnapshotHeader *root, size_t n,
                       YbSnapshotHeader **segs) {
        YbSnapshotHeader *prev = NULL;

        for (size_t i = 0; i < n; i++) {
                YbSnapshotHeader *h = make_segment(f, root, prev ? prev : root, i + 1);

                if (prev && !segs)
                        yb_header_free(prev);
                prev = h;
                if (segs)
                        segs[i] = h;
        }
        if (!segs)
                yb_header_free(prev);
}

static void hour_of(const YbSnapshotHeader *h, char ret[YB_SEGMENT_HOUR_LEN + 1]) {
        memcpy(ret, h->id, YB_SEGMENT_HOUR_LEN);
        ret[YB_SEGMENT_HOUR_LEN] = 0;
}

/* Signs a header line as the agent does, to test what the parser accepts. */
static void sign_line(const YbAgentIdentity *a, const char *line, YbBuf *out) {
        _cleanup_free_ char *sig64 = NULL;
        uint8_t sig[64];

        yb_sign(a, line, strlen(line), sig);
        ASSERT_OK(yb_base64_encode(sig, sizeof(sig), &sig64));
        ASSERT_OK(yb_buf_printf(out, "%s\ned25519 %s\n", line, sig64));
}

/* Replaces the first from in s by to; the caller frees the result. */
static char *replace(const char *s, const char *from, const char *to) {
        const char *p = strstr(s, from);
        char *r = NULL;

        ASSERT_TRUE(p);
        ASSERT_TRUE(asprintf(&r, "%.*s%s%s", (int) (p - s), s, to, p + strlen(from)) > 0);
        return r;
}

static int parse_line(const YbAgentIdentity *a, const char *line) {
        YbSnapshotHeader *h = NULL;
        YbBuf b = YB_BUF_INIT;
        int r;

        sign_line(a, line, &b);
        r = yb_header_parse(b.data, b.size, &h);
        yb_header_free(h);
        yb_buf_done(&b);
        return r;
}

static void count_report(void *userdata, const char *segment, const char *file,
                         const char *problem) {
        (void) segment, (void) file, (void) problem;
        (*(int *) userdata)++;
}

TEST(header_seq_is_a_segments_alone) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        _cleanup_(yb_header_freep) YbSnapshotHeader *seg = make_segment(f, root, root, 1);
        _cleanup_free_ char *noseq = NULL, *zero = NULL, *nobase = NULL, *fullseq = NULL,
                            *rootline = yb_header_to_json(root);
        _cleanup_free_ char *segline = yb_header_to_json(seg);
        char want[64];

        ASSERT_TRUE(rootline && segline);
        ASSERT_EQ(seg->seq, 1);
        ASSERT_EQ(root->seq, 0);
        ASSERT_TRUE(strstr(rootline, "\"seq\"") == NULL);
        snprintf(want, sizeof(want), "\"base\":\"%s\",\"seq\":1,", root->id);
        ASSERT_TRUE(strstr(segline, want) != NULL);
        ASSERT_OK(parse_line(f->agent, segline));
        /* A segment needs seq >= 1 and base; nothing else may have a seq. */
        noseq = replace(segline, "\"seq\":1,", "");
        ASSERT_ERR(parse_line(f->agent, noseq), EBADMSG);
        zero = replace(segline, "\"seq\":1,", "\"seq\":0,");
        ASSERT_ERR(parse_line(f->agent, zero), EBADMSG);
        snprintf(want, sizeof(want), "\"base\":\"%s\"", root->id);
        nobase = replace(segline, want, "\"base\":null");
        ASSERT_ERR(parse_line(f->agent, nobase), EBADMSG);
        fullseq = replace(rootline, "\"base\":null,", "\"base\":null,\"seq\":3,");
        ASSERT_ERR(parse_line(f->agent, fullseq), EBADMSG);
        ASSERT_OK(parse_line(f->agent, rootline));
}

TEST(deleted_record_is_its_path) {
        YbEntry e = {
                .type = YB_ENTRY_DELETED, .path = (char *) "dir/gone", .mode = 0644, .uid = 5
        };
        static const uint8_t want[] = { 8, 8, 'd', 'i', 'r', '/', 'g', 'o', 'n', 'e' };
        YbEntry got = { 0 };
        YbBuf b = YB_BUF_INIT;
        YbCursor c;

        ASSERT_OK(yb_manifest_encode_entry(&e, &b));
        ASSERT_EQ(b.size, sizeof(want));
        ASSERT_MEMEQ(b.data, want, sizeof(want));
        ASSERT_OK(yb_buf_append_u8(&b, 0));
        c = yb_cursor(b.data, b.size);
        ASSERT_EQ(yb_manifest_decode_entry(&c, &got), 1);
        ASSERT_EQ(got.type, YB_ENTRY_DELETED);
        ASSERT_STREQ(got.path, "dir/gone");
        ASSERT_EQ(got.mode, 0);
        ASSERT_EQ(got.uid, 0);
        ASSERT_EQ(yb_manifest_decode_entry(&c, &e), 0);
        yb_entry_clear(&got);
        yb_buf_done(&b);
}

TEST(segment_is_committed_under_segments) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        _cleanup_(yb_header_freep) YbSnapshotHeader *seg = make_segment(f, root, root, 1);
        _cleanup_(yb_header_freep) YbSnapshotHeader *other = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        _cleanup_free_ char *path = yb_repo_point_path(f->repo, seg, "header"), *want = NULL;
        _cleanup_free_ char *rootpath = yb_repo_point_path(f->repo, root, NULL);
        const YbEntry *e;
        int reported = 0;

        ASSERT_EQ(seg->level, YB_LEVEL_SEGMENT);
        ASSERT_STREQ(seg->parent, root->id);
        ASSERT_STREQ(seg->base, root->id);
        ASSERT_TRUE(asprintf(&want, SYSTEM "/segments/%s/%.11s/%s/header", root->id, seg->id,
                             seg->id) > 0);
        ASSERT_STREQ(path, want);
        free(want);
        ASSERT_TRUE(asprintf(&want, SYSTEM "/snapshots/%s", root->id) > 0);
        ASSERT_STREQ(rootpath, want);
        /* The listing of snapshots does not see it; its own files are read from its place. */
        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n, 1);
        ASSERT_EQ(l.n_broken, 0);
        ASSERT_STREQ(l.items[0]->id, root->id);
        ASSERT_ERR(yb_repo_load_header(f->repo, seg->id, &other), ENOENT);
        ASSERT_OK(yb_repo_load_manifest(f->repo, seg, f->key, &m));
        ASSERT_EQ(m->n, 2);
        ASSERT_EQ(m->entries[0].type, YB_ENTRY_DELETED);
        ASSERT_STREQ(m->entries[0].path, "gone.txt");
        e = yb_manifest_find(m, "a.txt");
        ASSERT_TRUE(e && e->type == YB_ENTRY_FILE);
        ASSERT_OK(yb_repo_load_sigindex(f->repo, seg, &f->agent->state, &x));
        ASSERT_EQ(x->n, 1);
        ASSERT_EQ(yb_verify_snapshot(f->repo, seg, NULL, f->key, count_report, &reported), 0);
        ASSERT_EQ(reported, 0);
        ASSERT_EQ(yb_segments_chain_exists(f->repo, root->id), 1);
        ASSERT_EQ(yb_segments_chain_exists(f->repo, seg->id), 0);
}

TEST(deleted_records_are_refused_outside_segments) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
        YbWriterOptions o = { .host = "app01", .zstd_level = 1 };
        YbEntry del = { .type = YB_ENTRY_DELETED, .path = (char *) "gone.txt" };
        YbSnapshotWriter *w = NULL;
        _cleanup_(yb_header_freep) YbSnapshotHeader *full = NULL;

        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_FULL, NULL, NULL, &o, &w));
        ASSERT_OK(yb_snapshot_writer_add(w, &del));
        full = commit(w);
        ASSERT_ERR(yb_repo_load_manifest(f->repo, full, f->key, &m), EBADMSG);
}

TEST(writer_wants_seq_for_segments_only) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        YbWriterOptions o = { .zstd_level = 1 };
        YbSnapshotWriter *w = NULL;

        ASSERT_ERR(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_SEGMENT, root, root, &o, &w),
                   EINVAL);
        ASSERT_ERR(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_SEGMENT, NULL, NULL, &o, &w),
                   EINVAL);
        o.seq = 3;
        ASSERT_ERR(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_DIFFERENTIAL, root, root, &o,
                                          &w),
                   EINVAL);
        ASSERT_ERR(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_FULL, NULL, NULL, &o, &w),
                   EINVAL);
}

static void free_segs(YbSnapshotHeader **segs, size_t n) {
        for (size_t i = 0; i < n; i++)
                yb_header_free(segs[i]);
}

TEST(load_and_find_across_hours) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        YbSnapshotHeader *segs[16];
        YbSnapshotList roots = { .items = &root, .n = 1 };
        char h0[12], h1[12];

        make_chain(f, root, 16, segs);
        hour_of(segs[0], h0);
        hour_of(segs[15], h1);
        ASSERT_STREQ(h0, "20261206T08");
        ASSERT_STREQ(h1, "20261206T09");
        ASSERT_OK(yb_segments_close_hours(f->repo, root->id, h1));
        for (int closed = 0; closed < 2; closed++) {
                _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
                _cleanup_(yb_snapshot_list_done) YbSnapshotList part = { 0 };
                _cleanup_(yb_snapshot_list_done) YbSnapshotList found = { 0 };
                _cleanup_(yb_header_freep) YbSnapshotHeader *point = NULL;
                const YbSnapshotHeader *r = NULL;
                char *bad = NULL;
                size_t first9 = 0;

                ASSERT_OK(yb_segments_load(f->repo, root->id, 1, INT64_MAX, &l, &bad));
                ASSERT_TRUE(bad == NULL);
                ASSERT_EQ(l.n, 16);
                for (size_t i = 0; i < l.n; i++) {
                        ASSERT_STREQ(l.items[i]->id, segs[i]->id);
                        ASSERT_EQ(l.items[i]->seq, i + 1);
                }
                ASSERT_OK(
                        yb_segments_load(f->repo, root->id, 5, segs[11]->finished_ns, &part, &bad));
                ASSERT_TRUE(bad == NULL);
                ASSERT_EQ(part.n, 8);
                ASSERT_EQ(part.items[0]->seq, 5);
                ASSERT_EQ(part.items[7]->seq, 12);
                /* Before the root: nothing. At the root's end: the root alone. */
                ASSERT_ERR(
                        yb_segments_find(f->repo, &roots, root->finished_ns - 1, &r, &found, &bad),
                        ENOENT);
                ASSERT_OK(yb_segments_find(f->repo, &roots, root->finished_ns, &r, &found, &bad));
                ASSERT_TRUE(r == root);
                ASSERT_EQ(found.n, 0);
                yb_snapshot_list_done(&found);
                /* Between two segments: the older. */
                ASSERT_OK(yb_segments_find(f->repo, &roots, segs[6]->finished_ns + SEC / 2, &r,
                                           &found, &bad));
                ASSERT_EQ(found.n, 7);
                ASSERT_STREQ(found.items[6]->id, segs[6]->id);
                yb_snapshot_list_done(&found);
                /* At the start of hour 09, before its first segment finished: the last of 08. */
                while (strncmp(segs[first9]->id, h1, 11) != 0)
                        first9++;
                ASSERT_GT(first9, 0);
                ASSERT_OK(yb_segments_find_point(f->repo, &roots, segs[first9]->finished_ns - 1, &r,
                                                 &point));
                ASSERT_TRUE(point != NULL);
                ASSERT_STREQ(point->id, segs[first9 - 1]->id);
                ASSERT_OK(yb_segments_find(f->repo, &roots, INT64_MAX, &r, &found, &bad));
                ASSERT_EQ(found.n, 16);
                ASSERT_TRUE(bad == NULL);
                /* Once more with every hour indexed. */
                ASSERT_OK(yb_segments_close_hours(f->repo, root->id, NULL));
        }
        free_segs(segs, 16);
}

TEST(hour_index_holds_the_hours_headers) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        YbSnapshotHeader *segs[12];
        _cleanup_free_ char *index = NULL;
        YbBuf b = YB_BUF_INIT, want = YB_BUF_INIT;
        char h0[12], line[160];
        size_t n0 = 0;

        make_chain(f, root, 12, segs);
        hour_of(segs[0], h0);
        while (n0 < 12 && strncmp(segs[n0]->id, h0, 11) == 0)
                n0++;
        ASSERT_OK(yb_segments_close_hours(f->repo, root->id, "20261206T09"));
        ASSERT_TRUE(asprintf(&index, "store/" SYSTEM "/segments/%s/%s.index", root->id, h0) > 0);
        test_read_file(f->d->fd, index, &b);
        snprintf(line, sizeof(line), "YBSEGIX1 %zu 1 %zu %lld %lld\n", n0, n0,
                 (long long) segs[0]->finished_ns, (long long) segs[n0 - 1]->finished_ns);
        ASSERT_OK(yb_buf_append(&want, line, strlen(line)));
        for (size_t i = 0; i < n0; i++) {
                _cleanup_free_ char *p = yb_repo_point_path(f->repo, segs[i], "header"), *q = NULL;

                ASSERT_TRUE(asprintf(&q, "store/%s", p) > 0);
                test_read_file(f->d->fd, q, &want);
        }
        ASSERT_EQ(b.size, want.size);
        ASSERT_MEMEQ(b.data, want.data, b.size);
        /* A segment that would go into a closed hour is refused. */
        {
                _cleanup_(yb_header_freep) YbSnapshotHeader *late = NULL;
                YbWriterOptions o = { .zstd_level = 1, .seq = 13, .clock_ns = fake_clock };
                YbSnapshotWriter *w = NULL;
                static char *srcs[] = { (char *) "/srv/hr" };
                YbSnapshotHeader h = { .sources = srcs, .n_sources = 1 };

                now_ns = segs[0]->started_ns;
                /* On an object store, where it would write in place, before a byte of it. */
                if (test_store_objects())
                        ASSERT_ERR(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_SEGMENT,
                                                          segs[11], root, &o, &w),
                                   ESTALE);
                else {
                        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_SEGMENT,
                                                         segs[11], root, &o, &w));
                        ASSERT_ERR(yb_snapshot_writer_commit(w, &h, &late), ESTALE);
                        yb_snapshot_writer_free(w);
                }
        }
        yb_buf_done(&b);
        yb_buf_done(&want);
        free_segs(segs, 12);
}

TEST(list_reads_indexes_and_open_hours) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        _cleanup_(yb_header_freep) YbSnapshotHeader *root2 = NULL;
        _cleanup_(yb_segment_chain_list_done) YbSegmentChainList l = { 0 };
        YbSnapshotHeader *segs[14];

        ASSERT_OK(yb_segments_list(f->repo, &l));
        ASSERT_EQ(l.n, 0);
        make_chain(f, root, 14, segs);
        root2 = make_root(f);
        make_chain(f, root2, 3, NULL);
        for (int closed = 0; closed < 2; closed++) {
                ASSERT_OK(yb_segments_list(f->repo, &l));
                ASSERT_EQ(l.n, 2);
                ASSERT_STREQ(l.items[0].root, root->id);
                ASSERT_EQ(l.items[0].n_segments, 14);
                ASSERT_EQ(l.items[0].first_seq, 1);
                ASSERT_EQ(l.items[0].last_seq, 14);
                ASSERT_EQ(l.items[0].first_ns, segs[0]->finished_ns);
                ASSERT_EQ(l.items[0].last_ns, segs[13]->finished_ns);
                ASSERT_STREQ(l.items[0].last_id, segs[13]->id);
                ASSERT_EQ(l.items[0].n_hours, 2);
                ASSERT_STREQ(l.items[0].hours[0], "20261206T08");
                ASSERT_FALSE(l.items[0].damaged);
                ASSERT_STREQ(l.items[1].root, root2->id);
                ASSERT_EQ(l.items[1].n_segments, 3);
                ASSERT_FALSE(l.items[1].damaged);
                yb_segment_chain_list_done(&l);
                ASSERT_OK(yb_segments_close_hours(f->repo, root->id, NULL));
                ASSERT_OK(yb_segments_close_hours(f->repo, root2->id, NULL));
        }
        free_segs(segs, 14);
}

typedef struct Problems {
        char text[16][512];
        size_t n;
} Problems;

static void collect_report(void *userdata, const char *segment, const char *file,
                           const char *problem) {
        Problems *p = userdata;

        if (p->n < 16)
                snprintf(p->text[p->n], sizeof(p->text[0]), "%s|%s|%s", segment ?: "-", file ?: "-",
                         problem);
        p->n++;
}

static bool has_problem(const Problems *p, const char *a, const char *b) {
        for (size_t i = 0; i < p->n && i < 16; i++)
                if (strstr(p->text[i], a) && (!b || strstr(p->text[i], b)))
                        return true;
        return false;
}

static void store_path(const YbRepo *r, const YbSnapshotHeader *h, const char *file, char **ret) {
        _cleanup_free_ char *p = yb_repo_point_path(r, h, file);

        ASSERT_TRUE(p && asprintf(ret, "store/%s", p) > 0);
}

TEST(verify_checks_segments_and_the_chain) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        _cleanup_free_ char *vol = NULL, *dir = NULL;
        YbSnapshotHeader *segs[14];
        Problems p = { 0 };
        uint64_t last = 0;

        make_chain(f, root, 14, segs);
        ASSERT_OK(yb_segments_close_hours(f->repo, root->id, "20261206T09"));
        ASSERT_EQ(yb_segments_verify(f->repo, root->id, 1, collect_report, &p, &last), 0);
        ASSERT_EQ(p.n, 0);
        ASSERT_EQ(last, 14);
        ASSERT_EQ(yb_segments_verify(f->repo, root->id, 15, collect_report, &p, &last), 0);
        ASSERT_EQ(last, 14);
        /* A damaged volume of seq 12 (open hour): named; the last good one is 11. */
        store_path(f->repo, segs[11], "vol-000001", &vol);
        test_flip_byte(f->d->fd, vol, 100, 0x01);
        ASSERT_EQ(yb_segments_verify(f->repo, root->id, 9, collect_report, &p, &last), 1);
        ASSERT_EQ(last, 11);
        ASSERT_TRUE(has_problem(&p, segs[11]->id, "vol-000001|"));
        /* seq 3 gone from an indexed hour: the index names it, the chain has a gap. */
        p.n = 0;
        dir = yb_repo_point_path(f->repo, segs[2], NULL);
        ASSERT_TRUE(dir);
        ASSERT_OK(yb_store_remove_tree(f->store, dir));
        ASSERT_EQ(yb_segments_verify(f->repo, root->id, 1, collect_report, &p, &last), 1);
        ASSERT_EQ(last, 2);
        ASSERT_TRUE(has_problem(&p, segs[2]->id, "directory is missing"));
        free_segs(segs, 14);
}

/* An index that does not check out: readers go to the hour's directory, verify names it. */
TEST(damaged_index_is_read_around_and_reported) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *index = NULL, *bad = NULL;
        YbSnapshotHeader *segs[14];
        Problems p = { 0 };
        uint64_t last = 0;

        make_chain(f, root, 14, segs);
        ASSERT_OK(yb_segments_close_hours(f->repo, root->id, NULL));
        ASSERT_TRUE(asprintf(&index, "store/" SYSTEM "/segments/%s/20261206T08.index", root->id) >
                    0);
        test_flip_byte(f->d->fd, index, 300, 0x01);
        ASSERT_OK(yb_segments_load(f->repo, root->id, 1, INT64_MAX, &l, &bad));
        ASSERT_TRUE(bad == NULL);
        ASSERT_EQ(l.n, 14);
        ASSERT_EQ(yb_segments_verify(f->repo, root->id, 1, collect_report, &p, &last), 1);
        ASSERT_EQ(last, 14); /* the segments themselves are sound */
        ASSERT_TRUE(
                has_problem(&p, "-|segments/", "20261206T08.index|the hour's index is damaged"));
        free_segs(segs, 14);
}

TEST(load_stops_at_a_broken_chain) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *hdr = NULL, *bad = NULL;
        YbSnapshotHeader *segs[6];

        make_chain(f, root, 6, segs);
        store_path(f->repo, segs[3], "header", &hdr);
        test_flip_byte(f->d->fd, hdr, 20, 0x01);
        ASSERT_OK(yb_segments_load(f->repo, root->id, 1, INT64_MAX, &l, &bad));
        ASSERT_EQ(l.n, 3);
        ASSERT_TRUE(bad != NULL);
        ASSERT_TRUE(strstr(bad, segs[3]->id) != NULL);
        free_segs(segs, 6);
}

TEST(prune_chain_then_root) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *aside = NULL;

        make_chain(f, root, 4, NULL);
        ASSERT_ERR(yb_repo_prune(f->repo, root->id), ENOTEMPTY);
        ASSERT_EQ(yb_segments_chain_exists(f->repo, root->id), 1);
        ASSERT_OK(yb_segments_prune_chain(f->repo, root->id));
        ASSERT_EQ(yb_segments_chain_exists(f->repo, root->id), 0);
        ASSERT_ERR(yb_segments_load(f->repo, root->id, 1, INT64_MAX, &l, NULL), ENOENT);
        ASSERT_ERR(yb_segments_prune_chain(f->repo, root->id), ENOENT);
        ASSERT_OK(yb_repo_prune(f->repo, root->id));
        /* An object store cannot detach a chain by a rename: it is removed in place (segprune.c,
         * and its own cases). */
        if (test_store_objects())
                return;
        /* In two steps, the lock held for the first only; what is left between them is cleaned. */
        {
                _cleanup_(yb_header_freep) YbSnapshotHeader *r2 = make_root(f);
                _cleanup_free_ char *left = NULL;

                make_chain(f, r2, 2, NULL);
                ASSERT_OK(yb_segments_detach_chain(f->repo, r2->id));
                ASSERT_EQ(yb_segments_chain_exists(f->repo, r2->id), 0);
                yb_repo_unlock(f->repo);
                ASSERT_TRUE(asprintf(&left, "store/" SYSTEM "/tmp/prune-seg-%s", r2->id) > 0);
                ASSERT_OK(faccessat(f->d->fd, left, F_OK, 0));
                ASSERT_OK(yb_segments_remove_detached(f->repo, r2->id));
                ASSERT_TRUE(faccessat(f->d->fd, left, F_OK, 0) < 0 && errno == ENOENT);
                ASSERT_OK(yb_segments_remove_detached(f->repo, r2->id));
                ASSERT_OK(yb_repo_lock(f->repo));
        }
        /* A prune cut short leaves tmp/prune-seg-<root>, which the next cleanup removes. */
        ASSERT_TRUE(asprintf(&aside, "store/" SYSTEM "/tmp/prune-seg-%s", root->id) > 0);
        ASSERT_OK(mkdirat(f->d->fd, aside, 0700));
        ASSERT_OK(yb_repo_cleanup_tmp(f->repo));
        ASSERT_TRUE(faccessat(f->d->fd, aside, F_OK, 0) < 0 && errno == ENOENT);
}

/* What each call reads of a chain of per_hour segments in each of 5 hours. */
typedef struct OpCounts {
        unsigned list, find, verify_new, prune;
} OpCounts;

static void measure(size_t per_hour, OpCounts *ret) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        _cleanup_(yb_segment_chain_list_done) YbSegmentChainList cl = { 0 };
        _cleanup_(yb_header_freep) YbSnapshotHeader *point = NULL;
        _cleanup_(yb_repo_freep) YbRepo *repo = NULL;
        YbSnapshotList roots = { .items = &root, .n = 1 };
        CountingStore cs = { .s = { .ops = yb_store_objects(f->store) ? &counting_objects_ops
                                                                      : &counting_ops,
                                    .location = (char *) "counting" },
                             .inner = f->store };
        YbSnapshotHeader *prev = NULL;
        const YbSnapshotHeader *r = NULL;
        int64_t hour0 = T0 + 20 * SEC, mid = 0;
        uint64_t seq = 0, last = 0;
        Problems p = { 0 };

        /* Five hours from 09:00, per_hour segments spread over each. */
        for (int h = 0; h < 5; h++)
                for (size_t i = 0; i < per_hour; i++) {
                        YbSnapshotHeader *s;

                        now_ns = hour0 + h * 3600 * SEC + (int64_t) (i * (3500 * SEC / per_hour));
                        s = make_segment(f, root, prev ? prev : root, ++seq);
                        yb_header_free(prev);
                        prev = s;
                        if (h == 2 && i == per_hour / 2)
                                mid = s->finished_ns;
                }
        yb_header_free(prev);
        ASSERT_OK(yb_segments_close_hours(f->repo, root->id, "20261206T13"));
        yb_repo_unlock(f->repo);
        ASSERT_OK(yb_repo_open(&cs.s, SYSTEM, &repo));
        ASSERT_OK(yb_repo_lock(repo));

        cs.opens = cs.lists = cs.stats = 0;
        ASSERT_OK(yb_segments_list(repo, &cl));
        ASSERT_EQ(cl.items[0].n_segments, 5 * per_hour);
        ret->list = reads_of(&cs);

        cs.opens = cs.lists = cs.stats = 0;
        ASSERT_OK(yb_segments_find_point(repo, &roots, mid, &r, &point));
        ASSERT_TRUE(point && point->finished_ns == mid);
        ret->find = reads_of(&cs);

        /* The last 3 of the open hour, and none else, are new. */
        cs.opens = cs.lists = cs.stats = 0;
        ASSERT_EQ(yb_segments_verify(repo, root->id, seq - 2, collect_report, &p, &last), 0);
        ASSERT_EQ(last, seq);
        ret->verify_new = reads_of(&cs);

        cs.opens = cs.lists = cs.stats = cs.other = 0;
        ASSERT_OK(yb_segments_prune_chain(repo, root->id));
        ret->prune = reads_of(&cs) + cs.other;
        yb_repo_unlock(repo);
}

/* Ten times the segments take no more store operations to list, find, verify the new ones of,
 * or prune. */
TEST(store_operations_do_not_grow_with_segments) {
        OpCounts few, many;

        measure(60, &few);
        measure(600, &many);
        fprintf(stderr,
                "store operations (60/600 per hour): list %u/%u, find %u/%u, verify-new %u/%u, "
                "prune %u/%u\n",
                few.list, many.list, few.find, many.find, few.verify_new, many.verify_new,
                few.prune, many.prune);
        ASSERT_EQ(many.list, few.list);
        ASSERT_EQ(many.find, few.find);
        ASSERT_EQ(many.verify_new, few.verify_new);
        ASSERT_EQ(many.prune, few.prune);
        ASSERT_LE(few.list, 20);
        ASSERT_LE(few.find, 6);
}

/* On a store with S3 Object Lock (a local one here that calls itself an object store, as S3 is,
 * and tells the retain-until date of one segment's header, as S3's stat does): a chain whose
 * newest segment is still locked is refused whole, untouched, and so is its root; once the date
 * has passed the chain and then its root go (docs/s3.md, "Object Lock"). */
static char locked_header[256];
static int64_t locked_until;
static YbStoreOps locking_ops;

static int locking_stat(YbStore *s, const char *path, YbStoreStat *ret) {
        int r = yb_store_local_ops.stat(s, path, ret);

        if (r >= 0 && streq(path, locked_header))
                ret->retain_until = locked_until;
        return r;
}

TEST(locked_chain_is_refused_whole) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *root = make_root(f);
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *hdr = NULL;
        YbSnapshotHeader *segs[3];
        int64_t until = 0;

        make_chain(f, root, 3, segs);
        store_path(f->repo, segs[2], "header", &hdr);
        /* store_path is below the scratch directory: the store's own path drops "store/". */
        snprintf(locked_header, sizeof(locked_header), "%s", hdr + strlen("store/"));
        locked_until = yb_now_ns() / 1000000000LL + 3600;
        locking_ops = yb_store_local_ops;
        locking_ops.stat = locking_stat;
        locking_ops.flags |= YB_STORE_OBJECTS;
        f->store->ops = &locking_ops;

        ASSERT_OK(yb_segments_chain_locked_until(f->repo, root->id, &until));
        ASSERT_EQ(until, locked_until);
        ASSERT_ERR(yb_segments_prune_chain(f->repo, root->id), EPERM);
        ASSERT_OK(yb_segments_load(f->repo, root->id, 1, INT64_MAX, &l, NULL));
        ASSERT_EQ(l.n, 3); /* untouched */
        ASSERT_ERR(yb_repo_prune(f->repo, root->id), ENOTEMPTY);

        locked_until = yb_now_ns() / 1000000000LL - 1;
        ASSERT_OK(yb_segments_prune_chain(f->repo, root->id));
        ASSERT_EQ(yb_segments_chain_exists(f->repo, root->id), 0);
        ASSERT_OK(yb_segments_remove_detached(f->repo, root->id)); /* nothing left to do */
        ASSERT_OK(yb_repo_prune(f->repo, root->id));
        free_segs(segs, 3);
}
