#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/repo/repo.h"
#include "core/repo/segment.h"
#include "core/repo/verify.h"
#include "core/repo/writer.h"
#include "tests/unit/test.h"

#define SYSTEM "hr"

/* The files a test backup holds (made by fixture_new, freed by fixture_free). */
typedef struct Source {
        const char *path;
        size_t size;
        uint8_t *data;
} Source;

#define N_SOURCES 2
static Source sources[N_SOURCES] = { { "src/a.txt", 5000, NULL }, { "src/b.bin", 100000, NULL } };

static void make_sources(void) {
        for (size_t i = 0; i < N_SOURCES; i++) {
                free(sources[i].data);
                sources[i].data = malloc(sources[i].size);
                ASSERT_TRUE(sources[i].data);
                test_fill_random(sources[i].data, sources[i].size, i);
        }
}

static void free_sources(void) {
        for (size_t i = 0; i < N_SOURCES; i++) {
                free(sources[i].data);
                sources[i].data = NULL;
        }
}

/* A store in a scratch directory, the system's key, an agent, and the repository, locked. */
typedef struct Fixture {
        TestTmpdir *d;
        YbStore *store;
        YbSecretKey *key;
        YbAgentIdentity *agent;
        YbRepo *repo;
} Fixture;

static void fixture_free(Fixture *f) {
        yb_repo_free(f->repo);
        yb_agent_identity_free(f->agent);
        yb_secret_key_free(f->key);
        yb_store_close(f->store);
        test_tmpdir_free(f->d);
        free(f);
        free_sources();
}
DEFINE_FREEP(Fixture, fixture_free);

static Fixture *fixture_new(void) {
        Fixture *f = new0(Fixture, 1);
        _cleanup_free_ char *root = NULL, *agent = NULL;

        ASSERT_TRUE(f);
        f->d = test_tmpdir_new();
        root = test_tmpdir_path(f->d, "store");
        agent = test_tmpdir_path(f->d, "agent");
        ASSERT_OK(mkdirat(f->d->fd, "store", 0700));
        ASSERT_OK(yb_store_open(root, &f->store));
        ASSERT_OK(yb_key_generate(SYSTEM, &f->key));
        ASSERT_OK(yb_agent_identity_load(agent, &f->agent));
        ASSERT_OK(yb_repo_open_or_create(f->store, &f->key->pub, &f->repo));
        ASSERT_OK(yb_repo_lock(f->repo));
        make_sources();
        return f;
}

/* Stores one file whole and adds its manifest and signature-index records. */
static int store_file(YbSnapshotWriter *w, const Source *s, uint32_t entry_hint) {
        _cleanup_free_ char *name = NULL;
        YbEntry e = { .type = YB_ENTRY_FILE,
                      .path = (char *) s->path,
                      .mode = 0644,
                      .content = YB_CONTENT_WHOLE,
                      .size = s->size,
                      .stored = s->size };
        YbSigEntry se = {
                .path = (char *) s->path, .size = s->size, .ino = 100 + entry_hint, .dev = 1
        };
        YbPaxEntry pe = { .mode = 0644, .size = s->size };
        int r;

        if (asprintf(&name, "tree/%s", s->path) < 0)
                return -ENOMEM;
        pe.name = name;
        r = yb_snapshot_writer_begin_entry(w, &pe, &e.volume, &e.entry);
        if (r >= 0)
                r = yb_snapshot_writer_data(w, s->data, s->size);
        if (r >= 0)
                r = yb_snapshot_writer_end_entry(w);
        if (r < 0)
                return r;
        yb_hash_buf(s->data, s->size, e.hash);
        memcpy(se.hash, e.hash, YB_HASH_SIZE);
        r = yb_snapshot_writer_add(w, &e);
        if (r >= 0)
                r = yb_snapshot_writer_add_sig(w, &se);
        return r;
}

/* Writes and commits a snapshot of the sources (a directory, the files, a symlink). Returns 0
 * and the committed header, or the first error (the writer is freed either way). */
static int backup(Fixture *f, YbLevel level, const YbSnapshotHeader *parent,
                  const YbWriterOptions *opts, YbSnapshotHeader **ret) {
        _cleanup_(yb_snapshot_writer_freep) YbSnapshotWriter *w = NULL;
        static char *srcs[] = { (char *) "/srv/src" };
        YbSnapshotHeader h = {
                .counts = { .files = N_SOURCES, .dirs = 1, .symlinks = 1, .whole = N_SOURCES },
                .sources = srcs,
                .n_sources = 1
        };
        YbEntry dir = { .type = YB_ENTRY_DIR, .path = (char *) "src", .mode = 0755 };
        YbEntry link = { .type = YB_ENTRY_SYMLINK,
                         .path = (char *) "src/link",
                         .mode = 0777,
                         .target = (char *) "a.txt" };
        YbWriterOptions defaults = { .host = "app01" };
        int r;

        r = yb_snapshot_writer_new(f->repo, f->agent, level, parent, parent,
                                   opts ? opts : &defaults, &w);
        if (r >= 0)
                r = yb_snapshot_writer_add(w, &dir);
        for (size_t i = 0; i < N_SOURCES && r >= 0; i++)
                r = store_file(w, &sources[i], (uint32_t) i);
        if (r >= 0)
                r = yb_snapshot_writer_add(w, &link);
        if (r >= 0)
                r = yb_snapshot_writer_commit(w, &h, ret);
        return r;
}

typedef struct Report {
        int n;
        char last_file[64];
} Report;

static void report(void *userdata, const char *snapshot, const char *file, const char *problem) {
        Report *rep = userdata;

        rep->n++;
        snprintf(rep->last_file, sizeof(rep->last_file), "%s", file ? file : "");
}

/* Lists the repository and verifies the snapshot h (deeply with key). Returns the problems. */
static int verify(Fixture *f, const YbSnapshotHeader *h, const YbSecretKey *key, Report *rep) {
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };

        *rep = (Report){ 0 };
        ASSERT_OK(yb_repo_list(f->repo, &l));
        return ASSERT_OK(yb_verify_snapshot(f->repo, h, &l, key, report, rep));
}

static bool exists(const Fixture *f, const char *path) {
        return faccessat(f->d->fd, path, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static char *snapshot_file(const YbSnapshotHeader *h, const char *file) {
        char *p;

        ASSERT_TRUE(asprintf(&p, "store/" SYSTEM "/snapshots/%s/%s", h->id, file) > 0);
        return p;
}

TEST(open_or_create_makes_config_once) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *other = NULL;
        _cleanup_(yb_repo_freep) YbRepo *again = NULL;
        _cleanup_(yb_buf_done) YbBuf cfg = YB_BUF_INIT;
        YbRepo *none = NULL;

        test_read_file(f->d->fd, "store/" SYSTEM "/config", &cfg);
        ASSERT_GT(cfg.size, 0);
        ASSERT_STREQ(f->repo->config.system, SYSTEM);
        ASSERT_MEMEQ(f->repo->config.pub.pk, f->key->pub.pk, 32);

        ASSERT_OK(yb_repo_open_or_create(f->store, &f->key->pub, &again));
        ASSERT_MEMEQ(again->config.pub.id, f->key->pub.id, YB_KEY_ID_SIZE);
        again = yb_repo_free(again);
        ASSERT_OK(yb_repo_open(f->store, SYSTEM, &again));

        ASSERT_OK(yb_key_generate(SYSTEM, &other));
        ASSERT_ERR(yb_repo_open_or_create(f->store, &other->pub, &none), EKEYREJECTED);
        ASSERT_ERR(yb_repo_open(f->store, "crm", &none), ENOENT);
        ASSERT_ERR(yb_repo_open(f->store, "HR", &none), EINVAL);
        ASSERT_TRUE(none == NULL);

        /* The config is unchanged by the refused attempt. */
        _cleanup_(yb_buf_done) YbBuf after = YB_BUF_INIT;
        test_read_file(f->d->fd, "store/" SYSTEM "/config", &after);
        ASSERT_EQ(after.size, cfg.size);
        ASSERT_MEMEQ(after.data, cfg.data, cfg.size);
}

TEST(foreign_or_damaged_config_refused) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_buf_done) YbBuf cfg = YB_BUF_INIT;
        YbRepo *r = NULL;

        /* hr's config copied into crm's place: it names another system. */
        test_read_file(f->d->fd, "store/" SYSTEM "/config", &cfg);
        ASSERT_OK(mkdirat(f->d->fd, "store/crm", 0700));
        test_write_file(f->d->fd, "store/crm/config", cfg.data, cfg.size);
        ASSERT_ERR(yb_repo_open(f->store, "crm", &r), EBADMSG);

        test_write_file(f->d->fd, "store/crm/config", "{ not json", 10);
        ASSERT_ERR(yb_repo_open(f->store, "crm", &r), EBADMSG);
        ASSERT_TRUE(r == NULL);
}

TEST(lock_is_exclusive) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_repo_freep) YbRepo *second = NULL;
        _cleanup_(yb_buf_done) YbBuf lock = YB_BUF_INIT;
        char host[128] = "", want[256];

        ASSERT_TRUE(f->repo->locked);
        ASSERT_OK(gethostname(host, sizeof(host) - 1));
        snprintf(want, sizeof(want), "%s %ld", host, (long) getpid());
        test_read_file(f->d->fd, "store/" SYSTEM "/lock", &lock);
        ASSERT_EQ(lock.size, strlen(want));
        ASSERT_MEMEQ(lock.data, want, lock.size);

        /* Our own process is alive: the lock is not stale. */
        ASSERT_OK(yb_repo_open(f->store, SYSTEM, &second));
        ASSERT_ERR(yb_repo_lock(second), EBUSY);
        ASSERT_FALSE(second->locked);
        ASSERT_STREQ(second->lock_owner, want);
        ASSERT_ERR(yb_repo_lock(f->repo), EBUSY); /* not reentrant either */

        yb_repo_unlock(f->repo);
        ASSERT_FALSE(f->repo->locked);
        ASSERT_FALSE(exists(f, "store/" SYSTEM "/lock"));
        ASSERT_OK(yb_repo_lock(second));
        ASSERT_ERR(yb_repo_lock(f->repo), EBUSY);
        second = yb_repo_free(second); /* freeing releases it */
        ASSERT_OK(yb_repo_lock(f->repo));
}

TEST(stale_lock_broken_only_when_owner_is_gone) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        char host[128] = "", stale[256];

        yb_repo_unlock(f->repo);
        ASSERT_OK(gethostname(host, sizeof(host) - 1));

        /* A pid above any pid_max: that process cannot exist. */
        snprintf(stale, sizeof(stale), "%s %ld", host, 2147483647L);
        test_write_file(f->d->fd, "store/" SYSTEM "/lock", stale, strlen(stale));
        ASSERT_OK(yb_repo_lock(f->repo));
        yb_repo_unlock(f->repo);

        /* Another host's lock, or one we cannot read, is respected. */
        static const char *const held[] = { "otherhost.invalid 1", "garbage", "" };
        for (size_t i = 0; i < ELEMENTSOF(held); i++) {
                test_write_file(f->d->fd, "store/" SYSTEM "/lock", held[i], strlen(held[i]));
                ASSERT_ERR(yb_repo_lock(f->repo), EBUSY);
        }
        ASSERT_EQ(unlinkat(f->d->fd, "store/" SYSTEM "/lock", 0), 0);
        ASSERT_OK(yb_repo_lock(f->repo));
}

TEST(snapshot_written_committed_listed_and_verified) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL, *loaded = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
        _cleanup_(yb_sigindex_freep) YbSigIndex *x = NULL;
        _cleanup_free_ char *vol = NULL;
        Report rep;

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &h));
        ASSERT_TRUE(yb_snapshot_id_valid(h->id));
        ASSERT_EQ(h->level, YB_LEVEL_FULL);
        ASSERT_STREQ(h->host, "app01");
        ASSERT_MEMEQ(h->key_id, f->key->pub.id, YB_KEY_ID_SIZE);
        ASSERT_MEMEQ(h->state_key_id, f->agent->state.pub.id, YB_KEY_ID_SIZE);
        ASSERT_MEMEQ(h->agent_pk, f->agent->sign_pk, 32);
        ASSERT_EQ(h->n_files, 3);
        ASSERT_TRUE(yb_header_find_file(h, "vol-000001"));
        ASSERT_TRUE(yb_header_find_file(h, "manifest"));
        ASSERT_TRUE(yb_header_find_file(h, "sigindex"));
        ASSERT_EQ(h->n_sources, 1);
        ASSERT_EQ(h->counts.files, N_SOURCES);

        /* Committed: nothing left under tmp/, the snapshot directory holds what the header says. */
        ASSERT_EQ(test_count_leftovers(f->d->fd, "store/" SYSTEM "/tmp"), 0);
        ASSERT_EQ(test_count_entries(f->d->fd, "store/" SYSTEM "/snapshots"), 1);
        _cleanup_free_ char *dir = snapshot_file(h, "");
        ASSERT_EQ(test_count_entries(f->d->fd, dir), 4);

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n, 1);
        ASSERT_EQ(l.n_broken, 0);
        ASSERT_STREQ(l.items[0]->id, h->id);
        ASSERT_TRUE(yb_snapshot_list_find(&l, h->id) == l.items[0]);
        ASSERT_OK(yb_repo_load_header(f->repo, h->id, &loaded));
        ASSERT_EQ(loaded->n_files, 3);

        ASSERT_OK(yb_repo_load_manifest(f->repo, h, f->key, &m));
        ASSERT_EQ(m->n, 2 + N_SOURCES);
        for (size_t i = 0; i < N_SOURCES; i++) {
                const YbEntry *e = yb_manifest_find(m, sources[i].path);
                uint8_t hash[YB_HASH_SIZE];

                ASSERT_TRUE(e);
                ASSERT_EQ(e->size, sources[i].size);
                ASSERT_EQ(e->volume, 1);
                ASSERT_EQ(e->entry, i);
                yb_hash_buf(sources[i].data, sources[i].size, hash);
                ASSERT_MEMEQ(e->hash, hash, YB_HASH_SIZE);
        }
        ASSERT_STREQ(yb_manifest_find(m, "src/link")->target, "a.txt");
        ASSERT_OK(yb_repo_load_sigindex(f->repo, h, &f->agent->state, &x));
        ASSERT_EQ(x->n, N_SOURCES);
        ASSERT_TRUE(yb_sigindex_find(x, "src/b.bin"));
        ASSERT_TRUE(yb_sigindex_find_inode(x, 1, 100));

        ASSERT_EQ(verify(f, h, f->key, &rep), 0);
        ASSERT_EQ(rep.n, 0);
        ASSERT_EQ(verify(f, h, NULL, &rep), 0);

        /* One flipped byte in the volume: key-less and deep verification both see it. */
        vol = snapshot_file(h, "vol-000001");
        test_flip_byte(f->d->fd, vol, 5000, 0x01);
        ASSERT_GT(verify(f, h, NULL, &rep), 0);
        ASSERT_STREQ(rep.last_file, "vol-000001");
        ASSERT_GT(verify(f, h, f->key, &rep), 0);
}

static ssize_t pax_read_cb(void *r, void *data, size_t n) {
        return yb_pax_read(r, data, n);
}

TEST(volume_reads_back_through_the_seal) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(yb_sealed_in_freep) YbSealedIn *in = NULL;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *pax = NULL;
        _cleanup_free_ char *path = NULL;
        char ctx[256];

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &h));
        path = yb_repo_snapshot_path(f->repo, h->id, "vol-000001");
        ASSERT_TRUE(path);
        yb_seal_context(SYSTEM, h->id, "vol-000001", ctx);
        ASSERT_OK(yb_sealed_in_open(f->store, path, yb_header_find_file(h, "vol-000001"), f->key,
                                    ctx, true, &in));
        ASSERT_OK(yb_pax_reader_new(yb_sealed_in_read_cb, in, &pax));
        for (size_t i = 0; i < N_SOURCES; i++) {
                _cleanup_(yb_buf_done) YbBuf data = YB_BUF_INIT;
                _cleanup_free_ char *want = NULL;
                const char *name;
                uint64_t size;

                ASSERT_EQ(yb_pax_next(pax, &name, &size), 1);
                ASSERT_TRUE(asprintf(&want, "tree/%s", sources[i].path) > 0);
                ASSERT_STREQ(name, want);
                ASSERT_EQ(size, sources[i].size);
                ASSERT_OK(test_drain(pax_read_cb, pax, 4096, &data));
                ASSERT_EQ(data.size, sources[i].size);
                ASSERT_MEMEQ(data.data, sources[i].data, data.size);
        }
        ASSERT_EQ(yb_pax_next(pax, &(const char *){ NULL }, &(uint64_t){ 0 }), 0);
}

TEST(wrong_keys_do_not_open_snapshot_files) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(yb_secret_key_freep) YbSecretKey *other = NULL;
        YbManifest *m = NULL;
        YbSigIndex *x = NULL;
        Report rep;

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &h));
        ASSERT_OK(yb_key_generate(SYSTEM, &other));
        ASSERT_ERR(yb_repo_load_manifest(f->repo, h, other, &m), EKEYREJECTED);
        ASSERT_ERR(yb_repo_load_sigindex(f->repo, h, f->key, &x),
                   EKEYREJECTED); /* not the agent's */
        ASSERT_ERR(yb_repo_load_manifest(f->repo, h, &f->agent->state, &m), EKEYREJECTED);
        ASSERT_TRUE(m == NULL && x == NULL);
        ASSERT_GT(verify(f, h, other, &rep), 0); /* deep verification with a wrong key */
        ASSERT_STREQ(rep.last_file, "manifest");
}

TEST(every_stored_file_is_checked) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        static const char *const files[] = { "manifest", "sigindex", "vol-000001" };
        Report rep;

        for (size_t i = 0; i < ELEMENTSOF(files); i++) {
                _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
                _cleanup_free_ char *path = NULL;

                ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &h));
                path = snapshot_file(h, files[i]);
                test_flip_byte(f->d->fd, path, 200, 0x80); /* past the clear header */
                ASSERT_GT(verify(f, h, NULL, &rep), 0);
                ASSERT_STREQ(rep.last_file, files[i]);
                test_flip_byte(f->d->fd, path, 200, 0x80);
                ASSERT_EQ(verify(f, h, f->key, &rep), 0); /* restored */

                ASSERT_EQ(unlinkat(f->d->fd, path, 0), 0);
                ASSERT_GT(verify(f, h, NULL, &rep), 0);
                ASSERT_STREQ(rep.last_file, files[i]);
        }
}

/* Anyone with the public key can seal a file, so a validly sealed replacement (here: an empty
 * manifest, sealed for the right snapshot and file) must still be refused: only the signed
 * header's hash ties the file to the snapshot. */
TEST(resealed_replacement_refused) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(yb_sealed_out_freep) YbSealedOut *o = NULL;
        _cleanup_free_ char *path = NULL, *forged = NULL;
        YbManifest *m = NULL;
        YbFileRef ref;
        Report rep;
        char ctx[256];

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &h));
        path = yb_repo_snapshot_path(f->repo, h->id, "manifest");
        forged = yb_repo_snapshot_path(f->repo, h->id, "forged");
        ASSERT_TRUE(path && forged);
        yb_seal_context(SYSTEM, h->id, "manifest", ctx);
        ASSERT_OK(yb_sealed_out_new(f->store, forged, "manifest", &f->key->pub, ctx, 3, 0, &o));
        ASSERT_OK(yb_sealed_out_write(o, YB_MANIFEST_MAGIC "\0", 9));
        ASSERT_OK(yb_sealed_out_finish(o, &ref));
        ASSERT_OK(yb_store_unlink(f->store, path));
        ASSERT_OK(yb_store_rename(f->store, forged, path));

        ASSERT_ERR(yb_repo_load_manifest(f->repo, h, f->key, &m), EBADMSG);
        ASSERT_TRUE(m == NULL);
        ASSERT_GT(verify(f, h, NULL, &rep), 0);
        ASSERT_STREQ(rep.last_file, "manifest");
}

TEST(foreign_file_in_snapshot_reported) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_free_ char *extra = NULL;
        Report rep;

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &h));
        extra = snapshot_file(h, "vol-000002");
        test_write_file(f->d->fd, extra, "planted", 7);
        ASSERT_EQ(verify(f, h, NULL, &rep), 1);
        ASSERT_STREQ(rep.last_file, "vol-000002");
}

TEST(damaged_header_makes_snapshot_broken) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL, *h2 = NULL, *loaded = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *header = NULL, *from = NULL, *to = NULL;
        char moved[YB_SNAPSHOT_ID_MAX + 1];

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &h));
        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &h2));
        header = snapshot_file(h, "header");
        test_flip_byte(f->d->fd, header, 30, 0x01);
        ASSERT_ERR(yb_repo_load_header(f->repo, h->id, &loaded), EBADMSG);

        /* A valid snapshot moved under another id: its header names the old one. */
        yb_snapshot_id_new(0, moved);
        from = snapshot_file(h2, "");
        ASSERT_TRUE(asprintf(&to, "store/" SYSTEM "/snapshots/%s", moved) > 0);
        ASSERT_OK(renameat(f->d->fd, from, f->d->fd, to)); /* as someone else would */
        ASSERT_ERR(yb_repo_load_header(f->repo, moved, &loaded), EBADMSG);

        /* And a directory that is not a snapshot at all. */
        ASSERT_OK(mkdirat(f->d->fd, "store/" SYSTEM "/snapshots/not-an-id!", 0700));

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n, 0);
        ASSERT_EQ(l.n_broken, 3);
        ASSERT_ERR(yb_repo_load_header(f->repo, "../../x", &loaded), EINVAL);
        ASSERT_TRUE(loaded == NULL);
}

TEST(uncommitted_writer_leaves_nothing) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        YbSnapshotWriter *w = NULL;
        YbWriterOptions opts = { .host = "app01" };

        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_FULL, NULL, NULL, &opts, &w));
        ASSERT_OK(store_file(w, &sources[1], 0));
        ASSERT_GT(yb_snapshot_writer_bytes(w), 0);
        if (test_store_objects()) {
                /* Written in place, without its header yet: incomplete, not damaged. */
                ASSERT_OK(yb_repo_list(f->repo, &l));
                ASSERT_EQ(l.n + l.n_broken, 0);
                ASSERT_EQ(l.n_incomplete, 1);
                ASSERT_STREQ(l.incomplete[0], yb_snapshot_writer_id(w));
                yb_snapshot_list_done(&l);
        } else
                ASSERT_GE(test_count_entries(f->d->fd, "store/" SYSTEM "/tmp"), 1); /* writing */
        yb_snapshot_writer_free(w);

        ASSERT_EQ(test_count_leftovers(f->d->fd, "store/" SYSTEM "/tmp"), 0);
        ASSERT_TRUE(test_count_entries(f->d->fd, "store/" SYSTEM "/snapshots") <= 0);
        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n + l.n_broken + l.n_incomplete, 0);
}

/* An id drawer that repeats itself: the first two draws give the same id, the next ones others. */
static unsigned draws;

static void id_new_repeating(int64_t now_ns, char ret[YB_SNAPSHOT_ID_MAX + 1]) {
        (void) now_ns;
        snprintf(ret, YB_SNAPSHOT_ID_MAX + 1, "20261207T080000Z-%06x",
                 draws < 2 ? 0xaaaaaa : draws);
        draws++;
}

/* Two snapshots started in the same second that draw the same id: the second draws again, and
 * both commit; on an object store, where a writer writes in place, an uncommitted one's id is
 * taken too. */
TEST(taken_id_drawn_again) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h1 = NULL, *h2 = NULL, *loaded = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        YbWriterOptions opts = { .host = "app01", .id_new = id_new_repeating };
        YbSnapshotWriter *w = NULL;
        Report rep;

        draws = 0;
        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, &opts, &h1));
        ASSERT_STREQ(h1->id, "20261207T080000Z-aaaaaa");
        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, &opts, &h2));
        ASSERT_STREQ(h2->id, "20261207T080000Z-000002");
        ASSERT_EQ(draws, 3u);
        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n, 2);
        ASSERT_EQ(l.n_broken + l.n_incomplete, 0);
        ASSERT_EQ(verify(f, h1, NULL, &rep), 0);
        ASSERT_EQ(verify(f, h2, NULL, &rep), 0);

        if (test_store_objects()) {
                draws = 0;
                ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_FULL, NULL, NULL,
                                                 &opts, &w));
                ASSERT_STREQ(yb_snapshot_writer_id(w), "20261207T080000Z-000003"); /* 2 taken */
                ASSERT_OK(store_file(w, &sources[1], 0));
                draws = 3;
                ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, &opts, &loaded));
                ASSERT_STREQ(loaded->id, "20261207T080000Z-000004");
                yb_snapshot_writer_free(w);
        }
}

/* On an object store (the local store's test hook), what a writer killed before its header
 * leaves in place, a snapshot's and a segment's, is incomplete: listed as such, never as a
 * snapshot or as damaged, left alone while a copy finishes it, and removed by the next lock
 * holder; the next backup then commits as usual. */
TEST(incomplete_snapshot_on_objects_listed_then_cleaned) {
#ifndef YB_FAULT_INJECTION
        skip(); /* the local store acts as an object store only through a test hook */
#endif
        bool was = test_store_objects();
        _cleanup_(fixture_freep) Fixture *f = NULL;
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL, *h2 = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 }, segs = { 0 };
        const char *left = SYSTEM "/snapshots/20261121T100000Z-aaaaaa/vol-000001",
                   *copying = SYSTEM "/snapshots/20261121T100001Z-bbbbbb";
        _cleanup_free_ char *seg = NULL, *bad = NULL;

        ASSERT_OK(setenv("YUNBAK_TEST_STORE_OBJECTS", "1", 1));
        f = fixture_new();
        if (!was)
                ASSERT_OK(unsetenv("YUNBAK_TEST_STORE_OBJECTS"));
        ASSERT_TRUE(yb_store_objects(f->store));
        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &h));
        /* What a killed writer leaves: files in place, no header. */
        ASSERT_OK(yb_store_write_file(f->store, left, "x", 1));
        ASSERT_OK(yb_store_write_file(f->store, "hr/snapshots/20261121T100001Z-bbbbbb/manifest",
                                      "y", 1));
        ASSERT_OK(yb_store_write_file(f->store, "hr/tmp/copy-20261121T100001Z-bbbbbb/in-place",
                                      copying, strlen(copying)));
        ASSERT_TRUE(asprintf(&seg, "hr/segments/%s/20261121T10/20261121T100002Z-cccccc/manifest",
                             h->id) > 0);
        ASSERT_OK(yb_store_write_file(f->store, seg, "z", 1));

        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n, 1);
        ASSERT_EQ(l.n_broken, 0);
        ASSERT_EQ(l.n_incomplete, 2);
        ASSERT_STREQ(l.incomplete[0], "20261121T100000Z-aaaaaa");
        ASSERT_OK(yb_segments_load(f->repo, h->id, 1, INT64_MAX, &segs, &bad));
        ASSERT_EQ(segs.n, 0);
        ASSERT_TRUE(bad == NULL); /* no segment, and nothing damaged */
        yb_snapshot_list_done(&l);

        /* The next lock holder: the interrupted writer's go, the copy's stays for it. */
        ASSERT_OK(yb_repo_cleanup_tmp(f->repo));
        ASSERT_EQ(
                test_count_entries(f->d->fd, "store/" SYSTEM "/snapshots/20261121T100000Z-aaaaaa"),
                -ENOENT);
        ASSERT_EQ(test_count_entries(f->d->fd, "store/" SYSTEM "/segments"), -ENOENT);
        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n_incomplete, 1);
        ASSERT_STREQ(l.incomplete[0], "20261121T100001Z-bbbbbb");
        yb_snapshot_list_done(&l);

        ASSERT_OK(backup(f, YB_LEVEL_INCREMENTAL, h, NULL, &h2));
        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n, 2);
        ASSERT_EQ(l.n_broken, 0);
}

TEST(cleanup_tmp_removes_leftovers) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();

        ASSERT_OK(yb_repo_cleanup_tmp(f->repo)); /* no tmp/ at all: fine */
        ASSERT_OK(yb_mkdir_p_at(f->d->fd, "store/" SYSTEM "/tmp/20261121T100000Z-aaaaaa/x", 0700));
        test_write_file(f->d->fd, "store/" SYSTEM "/tmp/20261121T100000Z-aaaaaa/x/f", "1", 1);
        test_write_file(f->d->fd, "store/" SYSTEM "/tmp/stray", "1", 1);
        ASSERT_OK(yb_repo_cleanup_tmp(f->repo));
        ASSERT_EQ(test_count_leftovers(f->d->fd, "store/" SYSTEM "/tmp"), 0);
}

TEST(writer_checks_level_and_parent) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *full = NULL;
        YbWriterOptions opts = { 0 };
        YbSnapshotWriter *w = NULL;

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &full));
        ASSERT_ERR(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_FULL, full, full, &opts, &w),
                   EINVAL);
        ASSERT_ERR(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_INCREMENTAL, NULL, NULL,
                                          &opts, &w),
                   EINVAL);
        ASSERT_ERR(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_INCREMENTAL, full, NULL,
                                          &opts, &w),
                   EINVAL);
        ASSERT_TRUE(w == NULL);
}

TEST(incremental_chain_needs_its_parent) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *full = NULL, *incr = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
        _cleanup_free_ char *full_dir = NULL;
        Report rep;

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &full));
        ASSERT_OK(backup(f, YB_LEVEL_INCREMENTAL, full, NULL, &incr));
        ASSERT_STREQ(incr->parent, full->id);
        ASSERT_STREQ(incr->base, full->id);
        ASSERT_OK(yb_repo_list(f->repo, &l));
        ASSERT_EQ(l.n, 2);
        ASSERT_STREQ(l.items[0]->id, full->id); /* oldest first */
        ASSERT_STREQ(l.items[1]->id, incr->id);
        ASSERT_EQ(verify(f, incr, f->key, &rep), 0);

        full_dir = yb_repo_snapshot_path(f->repo, full->id, NULL);
        ASSERT_OK(yb_store_remove_tree(f->store, full_dir));
        ASSERT_EQ(verify(f, incr, NULL, &rep), 2); /* parent and base missing */
}

TEST(small_volumes_split_entries) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
        YbWriterOptions opts = { .volume_size = 4096, .zstd_level = 1, .zstd_workers = 1 };
        Report rep;

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, &opts, &h));
        ASSERT_EQ(h->n_files, 4); /* a volume per file, manifest, sigindex */
        ASSERT_TRUE(yb_header_find_file(h, "vol-000002"));
        ASSERT_OK(yb_repo_load_manifest(f->repo, h, f->key, &m));
        for (size_t i = 0; i < N_SOURCES; i++) {
                const YbEntry *e = yb_manifest_find(m, sources[i].path);

                ASSERT_EQ(e->volume, i + 1);
                ASSERT_EQ(e->entry, 0);
        }
        ASSERT_EQ(verify(f, h, f->key, &rep), 0);
}

/* With two threads a volume is compressed in one and sealed, hashed and written in the other;
 * each volume's end runs in its threads while the next volume is written. */
TEST(two_threads_per_volume) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(yb_manifest_freep) YbManifest *m = NULL;
        YbWriterOptions opts = { .volume_size = 4096, .zstd_workers = 2 };
        Report rep;

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, &opts, &h));
        ASSERT_EQ(h->n_files, 4);
        ASSERT_STREQ(h->files[0].name, "vol-000001");
        ASSERT_STREQ(h->files[1].name, "vol-000002");
        ASSERT_OK(yb_repo_load_manifest(f->repo, h, f->key, &m));
        ASSERT_EQ(verify(f, h, f->key, &rep), 0);
}

/* Deep verify also goes the other way: a manifest record pointing at a volume entry (or a
 * volume) that does not exist is a problem. */
TEST(verify_finds_manifest_records_without_data) {
        Fixture *f = fixture_new();
        YbSnapshotHeader *h = NULL;
        YbSnapshotWriter *w = NULL;
        YbWriterOptions opts = { 0 };
        YbSnapshotHeader in = { 0 };
        YbEntry ghost = { .type = YB_ENTRY_FILE,
                          .path = (char *) "src/ghost",
                          .mode = 0644,
                          .content = YB_CONTENT_WHOLE,
                          .size = 10,
                          .stored = 10,
                          .volume = 1,
                          .entry = 7 };
        Report rep;
        int problems;

        ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_FULL, NULL, NULL, &opts, &w));
        ASSERT_OK(store_file(w, &sources[0], 0)); /* vol-000001 holds entry 0 only */
        ASSERT_OK(yb_snapshot_writer_add(w, &ghost));
        ASSERT_OK(yb_snapshot_writer_commit(w, &in, &h));
        yb_snapshot_writer_free(w);
        problems = verify(f, h, f->key, &rep);
        yb_header_free(h);
        fixture_free(f);
        ASSERT_GT(problems, 0);
}

/* An incremental whose "unchanged" record names a file its parent does not have cannot be
 * restored: deep verify says so. A correct reference passes. */
TEST(verify_resolves_references_to_the_parent) {
        Fixture *f = fixture_new();
        YbSnapshotHeader *full = NULL, *good = NULL, *bad = NULL;
        YbWriterOptions opts = { 0 };
        YbSnapshotHeader in = { 0 };
        YbEntry kept = { .type = YB_ENTRY_FILE,
                         .path = (char *) "src/a.txt",
                         .mode = 0644,
                         .content = YB_CONTENT_UNCHANGED,
                         .size = sources[0].size,
                         .base_path = (char *) "src/a.txt" };
        Report rep;
        int ok_problems, bad_problems;

        ASSERT_OK(backup(f, YB_LEVEL_FULL, NULL, NULL, &full));
        yb_hash_buf(sources[0].data, sources[0].size, kept.hash);
        for (int i = 0; i < 2; i++) {
                YbSnapshotWriter *w = NULL;

                if (i == 1)
                        kept.base_path = (char *) "src/gone.txt";
                ASSERT_OK(yb_snapshot_writer_new(f->repo, f->agent, YB_LEVEL_INCREMENTAL, full,
                                                 full, &opts, &w));
                ASSERT_OK(yb_snapshot_writer_add(w, &kept));
                ASSERT_OK(yb_snapshot_writer_commit(w, &in, i == 0 ? &good : &bad));
                yb_snapshot_writer_free(w);
        }
        ok_problems = verify(f, good, f->key, &rep);
        bad_problems = verify(f, bad, f->key, &rep);
        yb_header_free(full);
        yb_header_free(good);
        yb_header_free(bad);
        fixture_free(f);
        ASSERT_EQ(ok_problems, 0);
        ASSERT_GT(bad_problems, 0);
}

/* Fault injection: every write (and every fsync) of a backup fails in turn, or the process is
 * killed there, each in a fresh forked child (YB_FAULT's counters are process-global). Whatever
 * happens, no snapshot is half-made: tmp/ is empty (after yb_repo_cleanup_tmp, for a kill), and
 * snapshots/ holds nothing or a snapshot that verifies (after the commit's rename, only the
 * fsync of snapshots/ can still fail). A failed write or fsync is reported as such. */

typedef struct FaultRun {
        Fixture *f;
        char spec[32];
        int expect; /* the error a failing backup must return */
} FaultRun;

static int child_backup(void *userdata) {
        FaultRun *run = userdata;
        YbSnapshotHeader *h = NULL;
        int r;

        CHILD_CHECK(setenv("YB_FAULT", run->spec, 1) == 0);
        r = backup(run->f, YB_LEVEL_FULL, NULL, NULL, &h);
        yb_header_free(h);
        if (r >= 0)
                return 0;
        CHILD_CHECK(r == run->expect);
        return 2; /* failed as injected */
}

static void run_faults(const char *op, int expect, int expect_status) {
        _cleanup_(fixture_freep) Fixture *f = fixture_new();
        bool succeeded = false;
        int n;

        for (n = 1; n < 1000 && !succeeded; n++) {
                _cleanup_(yb_snapshot_list_done) YbSnapshotList l = { 0 };
                FaultRun run = { .f = f, .expect = expect };
                int status;

                snprintf(run.spec, sizeof(run.spec), "%s:%d", op, n);
                status = test_run_forked(child_backup, &run);
                if (status != 0 && status != expect_status)
                        fail_msg("%s: the child ended with status %d", run.spec, status);
                succeeded = status == 0;
                ASSERT_OK(yb_repo_cleanup_tmp(f->repo));
                ASSERT_EQ(test_count_leftovers(f->d->fd, "store/" SYSTEM "/tmp"), 0);
                ASSERT_OK(yb_repo_list(f->repo, &l));
                ASSERT_EQ(l.n_broken, 0);
                if (succeeded)
                        ASSERT_EQ(l.n, 1);
                for (size_t i = 0; i < l.n; i++) {
                        _cleanup_free_ char *dir = NULL;
                        Report rep = { 0 };

                        ASSERT_EQ(yb_verify_snapshot(f->repo, l.items[i], &l, f->key, report, &rep),
                                  0);
                        dir = yb_repo_snapshot_path(f->repo, l.items[i]->id, NULL);
                        ASSERT_OK(yb_store_remove_tree(f->store, dir));
                }
        }
        ASSERT_TRUE(succeeded);
        ASSERT_GT(n, 5); /* a backup does several writes and fsyncs: the faults did fire */
}

TEST(failed_write_never_leaves_a_snapshot) {
#ifndef YB_FAULT_INJECTION
        skip();
#endif
        run_faults("write", -ENOSPC, 2);
}

TEST(failed_fsync_never_leaves_a_snapshot) {
#ifndef YB_FAULT_INJECTION
        skip();
#endif
        run_faults("fsync", -EIO, 2);
}

TEST(kill_at_any_write_never_leaves_a_snapshot) {
#ifndef YB_FAULT_INJECTION
        skip();
#endif
        run_faults("kill", 0, 128 + SIGKILL);
}
