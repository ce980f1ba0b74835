/* tests/unit/test-restore-write.c: how a restore writes files. Contents go through the writer
 * thread and, in a fresh target, straight to where they go: a content whose hash is wrong is
 * still caught among many (and never left in place), a name that something already holds in
 * the target (a symlink or a hard link to a file outside) is replaced, never written through,
 * and modes come out exact whatever the umask. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/repo/writer.h"
#include "restore/restore.h"
#include "tests/unit/test.h"

#define SYSTEM "hr"
#define N_FILES 400
#define BAD 237 /* the file recorded with a wrong hash */

typedef struct Fx {
        TestTmpdir *d;
        YbStore *store;
        YbSecretKey *key;
        YbAgentIdentity *agent;
        YbRepo *repo;
        YbSnapshotWriter *w;
} Fx;

static void fx_init(Fx *f) {
        _cleanup_free_ char *store = NULL, *agent = NULL;
        YbWriterOptions opts = { .host = "app01" };

        f->d = test_tmpdir_new();
        store = test_tmpdir_path(f->d, "store");
        agent = test_tmpdir_path(f->d, "agent");
        ASSERT_OK(mkdirat(f->d->fd, "store", 0700));
        ASSERT_OK(yb_store_open(store, &f->store));
        ASSERT_OK(yb_key_generate(SYSTEM, &f->key));
        ASSERT_OK(yb_agent_identity_load(agent, &f->agent));
        ASSERT_OK(yb_repo_open_or_create(f->store, &f->key->pub, &f->repo));
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_OK(
                yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_FULL, NULL, NULL, &opts, &f->w));
}

static void fx_done(Fx *f) {
        yb_snapshot_writer_free(f->w);
        yb_repo_free(f->repo);
        yb_agent_identity_free(f->agent);
        yb_secret_key_free(f->key);
        yb_store_close(f->store);
        test_tmpdir_free(f->d);
}

static void put_dir(Fx *f, const char *path) {
        YbEntry e = { .type = YB_ENTRY_DIR, .path = (char *) path, .mode = 0755 };

        ASSERT_OK(yb_snapshot_writer_add(f->w, &e));
}

/* A file of mode mode; recorded with the hash of other content when wrong_hash. */
static void put_file(Fx *f, const char *path, const void *data, size_t n, uint32_t mode,
                     bool wrong_hash) {
        YbEntry e = { .type = YB_ENTRY_FILE, .path = (char *) path, .mode = mode, .size = n };
        YbPaxEntry pe = { .name = (char *) path, .mode = mode, .size = n };

        e.content = n ? YB_CONTENT_WHOLE : YB_CONTENT_EMPTY;
        if (n) {
                ASSERT_OK(yb_snapshot_writer_begin_entry(f->w, &pe, &e.volume, &e.entry));
                ASSERT_OK(yb_snapshot_writer_data(f->w, data, n));
                ASSERT_OK(yb_snapshot_writer_end_entry(f->w));
                e.stored = n;
        }
        yb_hash_buf(wrong_hash ? "other" : data, wrong_hash ? 5 : n, e.hash);
        e.mtime_sec = 1700000000;
        e.mtime_nsec = 123456789;
        ASSERT_OK(yb_snapshot_writer_add(f->w, &e));
}

static YbSnapshotHeader *commit(Fx *f) {
        static char *srcs[] = { (char *) "/srv/src" };
        YbSnapshotHeader h = { .sources = srcs, .n_sources = 1 }, *ret = NULL;

        ASSERT_OK(yb_snapshot_writer_commit(f->w, &h, &ret));
        f->w = yb_snapshot_writer_free(f->w);
        yb_repo_unlock(f->repo);
        return ret;
}

typedef struct Reports {
        int n;
        char last[1024];
} Reports;

static void report(void *userdata, const char *path, const char *problem) {
        Reports *r = userdata;

        r->n++;
        snprintf(r->last, sizeof(r->last), "%s: %s", path, problem);
}

/* Restores h into out; returns what yb_restore returned. */
static int restore_to(Fx *f, const YbSnapshotHeader *h, const char *out, Reports *rep,
                      YbRestoreStats *st) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_free_ char *target = test_tmpdir_path(f->d, out);
        YbRestoreOptions o = { .target = target, .sync = true };

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_OK(yb_restore_chain_new(f->repo, &l, h, f->key, &c));
        return yb_restore(c, &o, report, rep, st);
}

static uint8_t *content(size_t i, size_t *ret_n) {
        /* every tenth file spans several of the writer's blocks */
        size_t n = i % 10 == 3 ? 300000 + i : i % 7 == 0 ? 0 : 100 + i;
        uint8_t *p = malloc(n + 1);

        ASSERT_TRUE(p);
        test_fill_random(p, n, i + 1);
        *ret_n = n;
        return p;
}

/* Many files, one recorded with a wrong hash: that one alone is reported, naming the path and
 * the snapshot, and is not in the target; every other one is, whole, with its metadata. */
TEST(wrong_hash_caught_among_many) {
        Fx f = { 0 };
        YbRestoreStats st = { 0 };
        Reports rep = { 0 };
        YbSnapshotHeader *h;
        char path[64], want[256];

        fx_init(&f);
        put_dir(&f, "src");
        put_dir(&f, "src/sub");
        for (size_t i = 0; i < N_FILES; i++) {
                size_t n;
                _cleanup_free_ uint8_t *p = content(i, &n);

                snprintf(path, sizeof(path), "src/%sf%03zu", i % 2 ? "sub/" : "", i);
                put_file(&f, path, p, n, 0640, i == BAD);
        }
        h = commit(&f);
        ASSERT_EQ(restore_to(&f, h, "out", &rep, &st), 1);
        ASSERT_EQ(rep.n, 1);
        ASSERT_EQ(st.errors, 1);
        ASSERT_EQ(st.damaged, 1);
        ASSERT_EQ(st.files, N_FILES - 1);
        snprintf(want, sizeof(want),
                 "src/sub/f%03d: content does not match its hash in snapshot %s", BAD, h->id);
        ASSERT_TRUE(strstr(rep.last, want) != NULL);
        for (size_t i = 0; i < N_FILES; i++) {
                _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
                struct stat s;
                size_t n;
                _cleanup_free_ uint8_t *p = content(i, &n);

                snprintf(path, sizeof(path), "out/src/%sf%03zu", i % 2 ? "sub/" : "", i);
                if (i == BAD) {
                        ASSERT_EQ(fstatat(f.d->fd, path, &s, AT_SYMLINK_NOFOLLOW) < 0 ? errno : 0,
                                  ENOENT);
                        continue;
                }
                test_read_file(f.d->fd, path, &b);
                ASSERT_EQ(b.size, n);
                ASSERT_MEMEQ(b.data, p, n);
                ASSERT_OK(fstatat(f.d->fd, path, &s, AT_SYMLINK_NOFOLLOW));
                ASSERT_EQ(s.st_mode & 07777, 0640);
                ASSERT_EQ(s.st_mtim.tv_sec, 1700000000);
                ASSERT_EQ(s.st_mtim.tv_nsec, 123456789);
        }
        ASSERT_EQ(test_count_entries(f.d->fd, "out"), 1); /* src alone: no staging left */
        yb_header_free(h);
        fx_done(&f);
}

/* Restored over a tree that holds, where files go, a symlink and a hard link to files outside
 * the target, and a file of other content: each is replaced, nothing outside changes. Modes
 * the umask would narrow (and a setuid one) come out as recorded. */
TEST(existing_names_are_replaced_not_written_through) {
        Fx f = { 0 };
        YbRestoreStats st = { 0 };
        Reports rep = { 0 };
        YbSnapshotHeader *h;
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        struct stat s;
        mode_t old_umask;

        fx_init(&f);
        put_dir(&f, "src");
        put_file(&f, "src/a", "new a", 5, 0644, false);
        put_file(&f, "src/b", "new b", 5, 0644, false);
        put_file(&f, "src/c", "new c", 5, 0644, false);
        put_file(&f, "src/e", "", 0, 0644, false);
        put_file(&f, "src/open", "o", 1, 0777, false);
        put_file(&f, "src/ro", "r", 1, 0444, false);
        put_file(&f, "src/suid", "s", 1, 04755, false);
        h = commit(&f);

        test_write_file(f.d->fd, "victim-a", "precious", 8);
        test_write_file(f.d->fd, "victim-b", "precious", 8);
        test_write_file(f.d->fd, "victim-e", "precious", 8);
        ASSERT_OK(mkdirat(f.d->fd, "out", 0755));
        ASSERT_OK(mkdirat(f.d->fd, "out/src", 0755));
        ASSERT_OK(symlinkat("../../victim-a", f.d->fd, "out/src/a"));
        ASSERT_OK(linkat(f.d->fd, "victim-b", f.d->fd, "out/src/b", 0));
        test_write_file(f.d->fd, "out/src/c", "old c, longer", 13);
        ASSERT_OK(symlinkat("../../victim-e", f.d->fd, "out/src/e"));

        old_umask = umask(022);
        ASSERT_EQ(restore_to(&f, h, "out", &rep, &st), 0);
        umask(old_umask);
        ASSERT_EQ(rep.n, 0);
        ASSERT_EQ(st.files, 7);
        for (const char *const *v =
                     (const char *const[]){ "victim-a", "victim-b", "victim-e", NULL };
             *v; v++) {
                yb_buf_done(&b);
                test_read_file(f.d->fd, *v, &b);
                ASSERT_EQ(b.size, 8);
                ASSERT_MEMEQ(b.data, "precious", 8);
        }
        ASSERT_OK(fstatat(f.d->fd, "victim-b", &s, 0));
        ASSERT_EQ(s.st_nlink, 1); /* the target's name was replaced, not written */
        for (const char *const *v = (const char *const[]){ "a", "b", "c", NULL }; *v; v++) {
                _cleanup_free_ char *p = NULL;

                ASSERT_TRUE(asprintf(&p, "out/src/%s", *v) > 0);
                yb_buf_done(&b);
                ASSERT_OK(fstatat(f.d->fd, p, &s, AT_SYMLINK_NOFOLLOW));
                ASSERT_TRUE(S_ISREG(s.st_mode));
                test_read_file(f.d->fd, p, &b);
                ASSERT_EQ(b.size, 5);
                ASSERT_EQ(b.data[4], (uint8_t) (*v)[0]);
        }
        ASSERT_OK(fstatat(f.d->fd, "out/src/e", &s, AT_SYMLINK_NOFOLLOW));
        ASSERT_TRUE(S_ISREG(s.st_mode));
        ASSERT_EQ(s.st_size, 0);
        ASSERT_OK(fstatat(f.d->fd, "out/src/open", &s, 0));
        ASSERT_EQ(s.st_mode & 07777, 0777);
        ASSERT_OK(fstatat(f.d->fd, "out/src/ro", &s, 0));
        ASSERT_EQ(s.st_mode & 07777, 0444);
        ASSERT_OK(fstatat(f.d->fd, "out/src/suid", &s, 0));
        ASSERT_EQ(s.st_mode & 07777, 04755);
        yb_header_free(h);
        fx_done(&f);
}
