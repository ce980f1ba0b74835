/* tests/unit/copy-fixture.c: the shared fixture of test-copy and test-repair (copy-fixture.h). */
#include "tests/unit/copy-fixture.h"

#include <stdio.h>
#include <sys/stat.h>

#include "core/repo/verify.h"
#include "core/repo/writer.h"
#include "tests/unit/test.h"

#define BIG (3 * 1024 * 1024 + 12345) /* random: a volume of more than three 1 MiB blocks */

CopyFixture *copy_fixture_new(void) {
        CopyFixture *f = new0(CopyFixture, 1);
        _cleanup_free_ char *src = NULL, *dst = NULL, *agent = NULL;

        ASSERT_TRUE(f);
        f->d = test_tmpdir_new();
        src = test_tmpdir_path(f->d, "src");
        dst = test_tmpdir_path(f->d, "dst");
        agent = test_tmpdir_path(f->d, "agent");
        ASSERT_OK(mkdirat(f->d->fd, "src", 0700));
        ASSERT_OK(mkdirat(f->d->fd, "dst", 0700));
        ASSERT_OK(yb_store_open(src, &f->src));
        ASSERT_OK(yb_store_open(dst, &f->dst));
        ASSERT_OK(yb_key_generate(SYSTEM, &f->key));
        ASSERT_OK(yb_agent_identity_load(agent, &f->agent));
        ASSERT_OK(yb_repo_open_or_create(f->src, &f->key->pub, &f->repo));
        return f;
}

void copy_fixture_free(CopyFixture *f) {
        yb_repo_free(f->repo);
        yb_agent_identity_free(f->agent);
        yb_secret_key_free(f->key);
        yb_store_close(f->src);
        yb_store_close(f->dst);
        test_tmpdir_free(f->d);
        free(f);
}

static int add_file(YbSnapshotWriter *w, const char *path, const uint8_t *data, size_t size,
                    uint32_t ino) {
        _cleanup_free_ char *name = NULL;
        YbEntry e = { .type = YB_ENTRY_FILE,
                      .path = (char *) path,
                      .mode = 0644,
                      .content = YB_CONTENT_WHOLE,
                      .size = size,
                      .stored = size };
        YbSigEntry se = { .path = (char *) path, .size = size, .ino = ino, .dev = 1 };
        YbPaxEntry pe = { .mode = 0644, .size = size };
        int r;

        if (asprintf(&name, "tree/%s", path) < 0)
                return -ENOMEM;
        pe.name = name;
        r = yb_snapshot_writer_begin_entry(w, &pe, &e.volume, &e.entry);
        if (r >= 0)
                r = yb_snapshot_writer_data(w, data, size);
        if (r >= 0)
                r = yb_snapshot_writer_end_entry(w);
        if (r < 0)
                return r;
        yb_hash_buf(data, size, e.hash);
        memcpy(se.hash, e.hash, YB_HASH_SIZE);
        r = yb_snapshot_writer_add(w, &e);
        if (r >= 0)
                r = yb_snapshot_writer_add_sig(w, &se);
        return r;
}

YbSnapshotHeader *copy_fixture_backup(CopyFixture *f, const YbSnapshotHeader *parent,
                                      uint64_t seed) {
        _cleanup_(yb_snapshot_writer_freep) YbSnapshotWriter *w = NULL;
        _cleanup_free_ uint8_t *big = malloc(BIG);
        static char *srcs[] = { (char *) "/srv/src" };
        YbSnapshotHeader h = { .counts = { .files = 2, .dirs = 1, .whole = 2 },
                               .sources = srcs,
                               .n_sources = 1 },
                         *ret = NULL;
        YbEntry dir = { .type = YB_ENTRY_DIR, .path = (char *) "src", .mode = 0755 };
        YbWriterOptions opts = { .host = "app01" };
        const YbSnapshotHeader *base = parent;
        YbSnapshotHeader *b = NULL;
        char small[100];

        ASSERT_TRUE(big);
        test_fill_random(big, BIG, seed);
        snprintf(small, sizeof(small), "snapshot %llu\n", (unsigned long long) seed);
        if (parent && parent->level != YB_LEVEL_FULL) {
                ASSERT_OK(yb_repo_load_header(f->repo, parent->base, &b));
                base = b;
        }
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent,
                                         parent ? YB_LEVEL_INCREMENTAL : YB_LEVEL_FULL, parent,
                                         base, &opts, &w));
        ASSERT_OK(yb_snapshot_writer_add(w, &dir));
        ASSERT_OK(add_file(w, "src/a.txt", (const uint8_t *) small, strlen(small), 100));
        ASSERT_OK(add_file(w, "src/big.bin", big, BIG, 101));
        ASSERT_OK(yb_snapshot_writer_commit(w, &h, &ret));
        yb_repo_unlock(f->repo);
        yb_header_free(b);
        return ret;
}

char *copy_fixture_path(const char *store, const char *rest) {
        char *p;

        ASSERT_TRUE(asprintf(&p, "%s/" SYSTEM "/%s", store, rest) > 0);
        return p;
}

char *copy_fixture_snapshot_file(const char *store, const char *id, const char *file) {
        char *p;

        ASSERT_TRUE(asprintf(&p, "%s/" SYSTEM "/snapshots/%s/%s", store, id, file) > 0);
        return p;
}

uint64_t copy_fixture_snapshot_bytes(CopyFixture *f, const char *store, const char *id) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_free_ char *hp = copy_fixture_snapshot_file(store, id, "header");
        _cleanup_(yb_repo_freep) YbRepo *r = NULL;
        struct stat st;
        uint64_t n;

        ASSERT_OK(yb_repo_open(streq(store, "src") ? f->src : f->dst, SYSTEM, &r));
        ASSERT_OK(yb_repo_load_header(r, id, &h));
        ASSERT_OK(fstatat(f->d->fd, hp, &st, 0));
        n = (uint64_t) st.st_size;
        for (size_t i = 0; i < h->n_files; i++)
                n += h->files[i].size;
        return n;
}

static void report(void *userdata, const char *snapshot, const char *file, const char *problem) {
        fprintf(stderr, "verify: %s %s: %s\n", snapshot, file ? file : "", problem);
        (*(int *) userdata)++;
}

size_t copy_fixture_check_all(YbStore *s, const YbSecretKey *key) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_repo_freep) YbRepo *r = NULL;
        int k = yb_repo_open(s, SYSTEM, &r);

        if (k == -ENOENT)
                return 0;
        ASSERT_OK(k);
        ASSERT_OK(yb_repo_list(r, &l));
        ASSERT_EQ(l.n_broken, 0);
        for (size_t i = 0; i < l.n; i++) {
                int problems = 0;

                ASSERT_EQ(yb_verify_snapshot(r, l.items[i], &l, NULL, report, &problems), 0);
                if (key)
                        ASSERT_EQ(yb_verify_snapshot(r, l.items[i], &l, key, report, &problems), 0);
                ASSERT_EQ(problems, 0);
        }
        return l.n;
}

void copy_fixture_assert_same(CopyFixture *f, const char *id) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;

        ASSERT_OK(yb_repo_load_header(f->repo, id, &h));
        for (size_t i = 0; i <= h->n_files; i++) {
                const char *name = i < h->n_files ? h->files[i].name : "header";
                _cleanup_free_ char *a = copy_fixture_snapshot_file("src", id, name),
                                    *b = copy_fixture_snapshot_file("dst", id, name);
                _cleanup_(yb_buf_done) YbBuf x = YB_BUF_INIT, y = YB_BUF_INIT;

                test_read_file(f->d->fd, a, &x);
                test_read_file(f->d->fd, b, &y);
                ASSERT_EQ(x.size, y.size);
                ASSERT_MEMEQ(x.data, y.data, x.size);
        }
}

/* The flaky store (copy-fixture.h). */

typedef struct FlakyFile {
        YbStoreFile base;
        YbStoreFile *inner;
        /* An object store's new file whose write or sync failed here: as on S3, it must not
         * appear (the inner one, which saw no failure, would publish it when closed). */
        char *created;
        bool failed;
} FlakyFile;

#define FLAKY(s) ((Flaky *) (s))
#define INNER(f) (((FlakyFile *) (f))->inner)

static bool flaky_fails(YbStore *s) {
        Flaky *k = FLAKY(s);

        return ++k->calls == k->fail_at;
}

static int flaky_wrap(YbStore *s, YbStoreFile *inner, YbStoreFile **ret) {
        FlakyFile *f = new0(FlakyFile, 1);

        if (!f) {
                yb_store_file_close(inner);
                return -ENOMEM;
        }
        f->base.store = s;
        f->base.written = inner->written;
        f->inner = inner;
        *ret = &f->base;
        return 0;
}

#define FLAKY_OPEN(call)                                                                           \
        ({                                                                                         \
                YbStoreFile *_in = NULL;                                                           \
                int _r = flaky_fails(s) ? -EIO : (call);                                           \
                _r < 0 ? _r : flaky_wrap(s, _in, ret);                                             \
        })

static int flaky_open_read(YbStore *s, const char *path, YbStoreFile **ret) {
        return FLAKY_OPEN(yb_store_open_read(FLAKY(s)->inner, path, &_in));
}
static int flaky_create(YbStore *s, const char *path, unsigned flags, YbStoreFile **ret) {
        int r = FLAKY_OPEN(yb_store_create_ex(FLAKY(s)->inner, path, flags, &_in));

        if (r >= 0 && yb_store_objects(s) && !(((FlakyFile *) *ret)->created = strdup(path)))
                return -ENOMEM;
        return r;
}
static int flaky_open_append(YbStore *s, const char *path, uint64_t *size, YbStoreFile **ret) {
        return FLAKY_OPEN(yb_store_open_append(FLAKY(s)->inner, path, size, &_in));
}
static ssize_t flaky_read(YbStoreFile *f, void *data, size_t n) {
        return flaky_fails(f->store) ? -EIO : yb_store_read(INNER(f), data, n);
}
static ssize_t flaky_pread(YbStoreFile *f, void *data, size_t n, uint64_t off) {
        return flaky_fails(f->store) ? -EIO : yb_store_pread(INNER(f), data, n, off);
}
static int flaky_write(YbStoreFile *f, const void *data, size_t n) {
        bool fails = flaky_fails(f->store);

        ((FlakyFile *) f)->failed |= fails;
        return fails ? -EIO : yb_store_write(INNER(f), data, n);
}
static int flaky_sync(YbStoreFile *f) {
        bool fails = flaky_fails(f->store);

        ((FlakyFile *) f)->failed |= fails;
        return fails ? -EIO : yb_store_sync(INNER(f));
}
static void flaky_file_close(YbStoreFile *f) {
        FlakyFile *ff = (FlakyFile *) f;
        YbStore *inner = FLAKY(f->store)->inner;
        YbStoreStat st;

        /* Not synced before the failure: the inner file is not there yet, and never will be. */
        if (ff->created && ff->failed && yb_store_stat(inner, ff->created, &st) == -ENOENT) {
                yb_store_file_close(INNER(f));
                (void) yb_store_unlink(inner, ff->created);
        } else if (INNER(f))
                yb_store_file_close(INNER(f));
        free(ff->created);
        free(f);
}
static int flaky_rename(YbStore *s, const char *from, const char *to) {
        return flaky_fails(s) ? -EIO : yb_store_rename(FLAKY(s)->inner, from, to);
}
static int flaky_unlink(YbStore *s, const char *path) {
        if (FLAKY(s)->locked && streq(path, FLAKY(s)->locked))
                return -EPERM;
        return flaky_fails(s) ? -EIO : yb_store_unlink(FLAKY(s)->inner, path);
}
static int flaky_mkdir(YbStore *s, const char *path) {
        return flaky_fails(s) ? -EIO : yb_store_mkdir(FLAKY(s)->inner, path);
}
static int flaky_rmdir(YbStore *s, const char *path) {
        return flaky_fails(s) ? -EIO : yb_store_rmdir(FLAKY(s)->inner, path);
}
static int flaky_stat(YbStore *s, const char *path, YbStoreStat *ret) {
        int r = flaky_fails(s) ? -EIO : yb_store_stat(FLAKY(s)->inner, path, ret);

        if (r >= 0 && FLAKY(s)->locked && streq(path, FLAKY(s)->locked))
                ret->retain_until = FLAKY(s)->retain_until;
        return r;
}
static int flaky_list(YbStore *s, const char *path, int (*fn)(void *, const char *), void *ud) {
        return flaky_fails(s) ? -EIO : yb_store_list(FLAKY(s)->inner, path, fn, ud);
}
static int flaky_sync_dir(YbStore *s, const char *path) {
        return flaky_fails(s) ? -EIO : yb_store_sync_dir(FLAKY(s)->inner, path);
}

static void flaky_file_abort(YbStoreFile *f) {
        ((FlakyFile *) f)->inner = yb_store_file_abort(INNER(f));
        flaky_file_close(f);
}

#define FLAKY_OPS                                                                                  \
        .open_read = flaky_open_read, .create = flaky_create, .open_append = flaky_open_append,    \
        .read = flaky_read, .pread = flaky_pread, .write = flaky_write, .sync = flaky_sync,        \
        .file_close = flaky_file_close, .rename = flaky_rename, .unlink = flaky_unlink,            \
        .mkdir = flaky_mkdir, .rmdir = flaky_rmdir, .stat = flaky_stat, .list = flaky_list,        \
        .sync_dir = flaky_sync_dir, .file_abort = flaky_file_abort

/* The same over an object store (the local store's test hook). */
const YbStoreOps copy_fixture_flaky_objects_ops = { .flags = YB_STORE_OBJECTS, FLAKY_OPS };

const YbStoreOps copy_fixture_flaky_ops = {
        .open_read = flaky_open_read,
        .create = flaky_create,
        .open_append = flaky_open_append,
        .read = flaky_read,
        .pread = flaky_pread,
        .write = flaky_write,
        .sync = flaky_sync,
        .file_close = flaky_file_close,
        .rename = flaky_rename,
        .unlink = flaky_unlink,
        .mkdir = flaky_mkdir,
        .rmdir = flaky_rmdir,
        .stat = flaky_stat,
        .list = flaky_list,
        .sync_dir = flaky_sync_dir,
};
