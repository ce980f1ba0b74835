/* The repair engine (core/repo/copy.h, yb_repo_repair) between two real local stores: a copy made
 * by yb_repo_copy is the twin store, and the source is damaged in each way a file can be (a
 * flipped byte, truncated, missing, a damaged header); a damaged twin is refused and nothing of
 * it written; a crash between the two renames of a replacement is finished by the next repair. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "tests/unit/copy-fixture.h"
#include "tests/unit/test.h"

static char err[1024];

/* A full snapshot in "src", copied to "dst". */
static CopyFixture *twins(YbSnapshotHeader **ret) {
        CopyFixture *f = copy_fixture_new();

        *ret = copy_fixture_backup(f, NULL, 1);
        ASSERT_OK(yb_repo_copy(f->src, f->dst, SYSTEM, (*ret)->id, NULL, NULL, err, sizeof(err)));
        return f;
}

static const YbRepairFile *find(const YbRepairReport *rep, const char *name) {
        for (size_t i = 0; i < rep->n_files; i++)
                if (streq(rep->files[i].name, name))
                        return &rep->files[i];
        fail_msg("no %s in the report", name);
        return NULL;
}

/* Damages a file of the source, repairs it from the destination, and checks the result. */
static void repair_one(const char *name, void (*damage)(CopyFixture *f, const char *path)) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(copy_fixture_freep) CopyFixture *f = twins(&h);
        _cleanup_free_ char *path = copy_fixture_snapshot_file("src", h->id, name),
                            *tmp = copy_fixture_path("src", "tmp");
        _cleanup_(yb_repair_report_done) YbRepairReport rep = { 0 };

        damage(f, path);
        ASSERT_OK(yb_repo_repair(f->src, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)));
        ASSERT_EQ(rep.replaced, 1);
        ASSERT_EQ(rep.unrepaired, 0);
        ASSERT_EQ(rep.n_files, h->n_files + 1);
        ASSERT_EQ(find(&rep, name)->action, YB_REPAIR_REPLACED);
        ASSERT_GT(strlen(find(&rep, name)->why), 0);
        for (size_t i = 0; i < rep.n_files; i++)
                if (!streq(rep.files[i].name, name))
                        ASSERT_EQ(rep.files[i].action, YB_REPAIR_OK);
        ASSERT_EQ(copy_fixture_check_all(f->src, f->key), 1);
        copy_fixture_assert_same(f, h->id);
        ASSERT_EQ(test_count_leftovers(f->d->fd, tmp), 0); /* nothing left behind */

        /* Sound now: a second repair changes nothing. */
        yb_repair_report_done(&rep);
        ASSERT_OK(yb_repo_repair(f->src, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)));
        ASSERT_EQ(rep.replaced, 0);
}

static void flip(CopyFixture *f, const char *path) {
        test_flip_byte(f->d->fd, path, 1234567, 0x04);
}

static void flip_header(CopyFixture *f, const char *path) {
        test_flip_byte(f->d->fd, path, 30, 0x01);
}

static void cut(CopyFixture *f, const char *path) {
        _cleanup_free_ char *p = test_tmpdir_path(f->d, path);

        ASSERT_EQ(truncate(p, 1000), 0);
}

static void drop(CopyFixture *f, const char *path) {
        ASSERT_EQ(unlinkat(f->d->fd, path, 0), 0);
}

TEST(flipped_byte_in_a_volume_repaired) {
        repair_one("vol-000001", flip);
}

TEST(truncated_manifest_repaired) {
        repair_one("manifest", cut);
}

TEST(missing_sigindex_repaired) {
        repair_one("sigindex", drop);
}

TEST(damaged_header_repaired) {
        repair_one("header", flip_header);
}

TEST(missing_header_repaired) {
        repair_one("header", drop);
}

TEST(damaged_twin_refused_and_nothing_written) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(copy_fixture_freep) CopyFixture *f = twins(&h);
        _cleanup_free_ char *bad = copy_fixture_snapshot_file("src", h->id, "vol-000001"),
                            *twin = copy_fixture_snapshot_file("dst", h->id, "vol-000001");
        _cleanup_(yb_repair_report_done) YbRepairReport rep = { 0 };
        _cleanup_(yb_buf_done) YbBuf before = YB_BUF_INIT, after = YB_BUF_INIT;
        const YbRepairFile *v;

        test_flip_byte(f->d->fd, bad, 100, 0x01);
        test_flip_byte(f->d->fd, twin, 200, 0x01);
        test_read_file(f->d->fd, bad, &before);
        ASSERT_ERR(yb_repo_repair(f->src, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)), EBADMSG);
        v = find(&rep, "vol-000001");
        ASSERT_EQ(v->action, YB_REPAIR_BAD_TWIN);
        ASSERT_TRUE(strstr(v->why, "twin"));
        ASSERT_EQ(rep.unrepaired, 1);
        ASSERT_EQ(rep.replaced, 0);
        ASSERT_TRUE(strstr(err, "vol-000001"));
        ASSERT_TRUE(strstr(err, h->id));
        ASSERT_TRUE(strstr(err, yb_store_location(f->dst)));
        /* The damaged file is left as it was. */
        test_read_file(f->d->fd, bad, &after);
        ASSERT_EQ(after.size, before.size);
        ASSERT_MEMEQ(after.data, before.data, after.size);
}

TEST(twin_store_without_the_file) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(copy_fixture_freep) CopyFixture *f = twins(&h);
        _cleanup_free_ char *bad = copy_fixture_snapshot_file("src", h->id, "manifest"),
                            *twin = copy_fixture_snapshot_file("dst", h->id, "manifest"),
                            *vol = copy_fixture_snapshot_file("src", h->id, "vol-000001");
        _cleanup_(yb_repair_report_done) YbRepairReport rep = { 0 };

        test_flip_byte(f->d->fd, bad, 100, 0x01);
        test_flip_byte(f->d->fd, vol, 100, 0x01);
        ASSERT_EQ(unlinkat(f->d->fd, twin, 0), 0);
        ASSERT_ERR(yb_repo_repair(f->src, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)), EBADMSG);
        ASSERT_EQ(find(&rep, "manifest")->action, YB_REPAIR_NO_TWIN);
        /* what can be repaired is */
        ASSERT_EQ(find(&rep, "vol-000001")->action, YB_REPAIR_REPLACED);
        ASSERT_EQ(rep.replaced, 1);
        ASSERT_EQ(rep.unrepaired, 1);
        ASSERT_TRUE(strstr(err, "manifest"));
}

TEST(different_headers_are_not_twins) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(copy_fixture_freep) CopyFixture *f = twins(&h);
        _cleanup_(yb_repair_report_done) YbRepairReport rep = { 0 };
        _cleanup_free_ char *a = copy_fixture_snapshot_file("dst", h->id, "header"),
                            *vol = copy_fixture_snapshot_file("src", h->id, "vol-000001");
        _cleanup_(yb_buf_done) YbBuf hb = YB_BUF_INIT, before = YB_BUF_INIT, after = YB_BUF_INIT;

        /* The same id, validly signed, another content: not a twin, and nothing is touched. */
        snprintf(h->host, sizeof(h->host), "elsewhere");
        ASSERT_OK(yb_header_format(h, f->agent, &hb));
        test_write_file(f->d->fd, a, hb.data, hb.size);
        test_flip_byte(f->d->fd, vol, 100, 0x01);
        test_read_file(f->d->fd, vol, &before);
        ASSERT_ERR(yb_repo_repair(f->src, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)), EBADMSG);
        ASSERT_TRUE(strstr(err, "not twins"));
        test_read_file(f->d->fd, vol, &after);
        ASSERT_MEMEQ(after.data, before.data, after.size);

        /* Neither store has a snapshot of that id. */
        yb_repair_report_done(&rep);
        ASSERT_ERR(yb_repo_repair(f->src, f->dst, SYSTEM, "20200101T000000Z-000000", &rep, err,
                                  sizeof(err)),
                   ENOENT);
        ASSERT_TRUE(strstr(err, "20200101T000000Z-000000"));
}

TEST(crash_between_the_renames_finished_by_the_next_repair) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(copy_fixture_freep) CopyFixture *f = twins(&h);
        _cleanup_(yb_repair_report_done) YbRepairReport rep = { 0 };
        _cleanup_free_ char *file = copy_fixture_snapshot_file("src", h->id, "vol-000001"),
                            *dir = NULL, *left = NULL, *empty = test_tmpdir_path(f->d, "empty");
        _cleanup_(yb_store_closep) YbStore *none = NULL;
        _cleanup_(yb_repo_freep) YbRepo *r = NULL;

        /* The state a crash after "move aside" and before "move in" leaves: the file is not in
         * the snapshot, its checked twin is in tmp/repair-<id>/. */
        ASSERT_TRUE(asprintf(&dir, "src/" SYSTEM "/tmp/repair-%s", h->id) > 0);
        ASSERT_TRUE(asprintf(&left, "%s/vol-000001", dir) > 0);
        (void) mkdirat(f->d->fd, "src/" SYSTEM "/tmp", 0700); /* the backups made it */
        ASSERT_OK(mkdirat(f->d->fd, dir, 0700));
        ASSERT_OK(renameat(f->d->fd, file, f->d->fd, left));

        /* A backup's cleanup in between keeps it. */
        ASSERT_OK(yb_repo_open(f->src, SYSTEM, &r));
        ASSERT_OK(yb_repo_lock(r));
        ASSERT_OK(mkdirat(f->d->fd, "src/" SYSTEM "/tmp/repair-20200101T000000Z-000000", 0700));
        ASSERT_OK(yb_repo_cleanup_tmp(r));
        r = yb_repo_free(r);
        ASSERT_EQ(test_count_entries(f->d->fd, dir), 1);
        /* but that of a snapshot that is gone (pruned) is useless, and removed */
        ASSERT_EQ(test_count_entries(f->d->fd, "src/" SYSTEM "/tmp"), 1);

        /* The twin store is now an empty one: the leftover is all there is. */
        ASSERT_OK(mkdirat(f->d->fd, "empty", 0700));
        ASSERT_OK(yb_store_open(empty, &none));
        ASSERT_OK(yb_repo_repair(f->src, none, SYSTEM, h->id, &rep, err, sizeof(err)));
        ASSERT_EQ(find(&rep, "vol-000001")->action, YB_REPAIR_REPLACED);
        ASSERT_EQ(copy_fixture_check_all(f->src, f->key), 1);
        ASSERT_NE(faccessat(f->d->fd, dir, F_OK, 0), 0);

        /* A leftover that does not check out is not used. */
        yb_repair_report_done(&rep);
        ASSERT_OK(yb_mkdir_p_at(f->d->fd, dir, 0700)); /* an object store's tmp/ went, emptied */
        ASSERT_OK(renameat(f->d->fd, file, f->d->fd, left));
        test_flip_byte(f->d->fd, left, 10, 0x01);
        ASSERT_ERR(yb_repo_repair(f->src, none, SYSTEM, h->id, &rep, err, sizeof(err)), EBADMSG);
        ASSERT_EQ(find(&rep, "vol-000001")->action, YB_REPAIR_NO_TWIN);
        yb_repair_report_done(&rep);
        ASSERT_OK(yb_repo_repair(f->src, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)));
        ASSERT_EQ(copy_fixture_check_all(f->src, f->key), 1);
}

TEST(twin_with_another_key_refused) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_secret_key_freep) YbSecretKey *other = NULL;
        _cleanup_(yb_repo_freep) YbRepo *theirs = NULL;
        _cleanup_(yb_repair_report_done) YbRepairReport rep = { 0 };

        h = copy_fixture_backup(f, NULL, 1);
        ASSERT_OK(yb_key_generate(SYSTEM, &other));
        ASSERT_OK(yb_repo_open_or_create(f->dst, &other->pub, &theirs));
        ASSERT_ERR(yb_repo_repair(f->src, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)),
                   EKEYREJECTED);
        ASSERT_TRUE(strstr(err, "different keys"));
}

/* The snapshot's files as they should be (from the twin) and as the damage left them. */
typedef struct Versions {
        const char *name;
        YbBuf good, bad; /* bad.data NULL: the file was missing */
} Versions;

static void load_file(CopyFixture *f, const char *store, const char *id, const char *name,
                      YbBuf *ret) {
        _cleanup_free_ char *p = copy_fixture_snapshot_file(store, id, name);

        if (faccessat(f->d->fd, p, F_OK, 0) == 0)
                test_read_file(f->d->fd, p, ret);
}

static bool same(const YbBuf *a, const YbBuf *b) {
        return a->size == b->size && (a->size == 0 || memcmp(a->data, b->data, a->size) == 0);
}

/* Puts the source's snapshot back to its damaged state: twin copies, then the damage. */
static void redamage(CopyFixture *f, const char *id) {
        _cleanup_free_ char *root = test_tmpdir_path(f->d, "");
        char cmd[8192];

        snprintf(cmd, sizeof(cmd),
                 "cd '%s' && rm -rf src/" SYSTEM "/tmp src/" SYSTEM "/snapshots/%s && "
                 "cp -a dst/" SYSTEM "/snapshots/%s src/" SYSTEM "/snapshots/%s",
                 root, id, id, id);
        ASSERT_EQ(system(cmd), 0);
        _cleanup_free_ char *vol = copy_fixture_snapshot_file("src", id, "vol-000001"),
                            *man = copy_fixture_snapshot_file("src", id, "manifest"),
                            *hdr = copy_fixture_snapshot_file("src", id, "header");
        flip(f, vol);
        cut(f, man);
        flip_header(f, hdr);
}

/* A store call of the damaged store fails, at every point of a repair in turn: each file of the
 * snapshot is then as it was, or repaired, or (only a damaged one, between the two renames)
 * missing with its checked twin in tmp/repair-<id>/; and the next repair finishes the job. */
TEST(failed_store_call_at_every_point_never_makes_it_worse) {
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(copy_fixture_freep) CopyFixture *f = twins(&h);
        Flaky k = FLAKY_INIT(f->src);
        Versions v[8] = { { 0 } };
        size_t n = 0;
        unsigned failed = 0;

        for (size_t i = 0; i <= h->n_files; i++)
                v[n++].name = i < h->n_files ? h->files[i].name : "header";
        redamage(f, h->id);
        for (size_t i = 0; i < n; i++) {
                load_file(f, "dst", h->id, v[i].name, &v[i].good);
                load_file(f, "src", h->id, v[i].name, &v[i].bad);
        }
        for (k.fail_at = 1;; k.fail_at++) {
                _cleanup_(yb_repair_report_done) YbRepairReport rep = { 0 };
                int r;

                redamage(f, h->id);
                k.calls = 0;
                r = yb_repo_repair(&k.base, f->dst, SYSTEM, h->id, &rep, err, sizeof(err));
                if (k.calls < k.fail_at) {
                        ASSERT_OK(r);
                        break;
                }
                if (r < 0)
                        failed++;
                for (size_t i = 0; i < n; i++) {
                        _cleanup_(yb_buf_done) YbBuf now = YB_BUF_INIT, left = YB_BUF_INIT;
                        _cleanup_free_ char *p = copy_fixture_snapshot_file("src", h->id,
                                                                            v[i].name),
                                            *t = NULL;

                        if (faccessat(f->d->fd, p, F_OK, 0) == 0) {
                                test_read_file(f->d->fd, p, &now);
                                ASSERT_TRUE(same(&now, &v[i].good) || same(&now, &v[i].bad));
                                continue;
                        }
                        ASSERT_FALSE(same(&v[i].bad, &v[i].good)); /* a sound one stays */
                        ASSERT_TRUE(asprintf(&t, "src/" SYSTEM "/tmp/repair-%s/%s", h->id,
                                             v[i].name) > 0);
                        test_read_file(f->d->fd, t, &left);
                        ASSERT_TRUE(same(&left, &v[i].good));
                }
                /* A failure while unlocking leaves our own (live) lock: as after a restart. */
                (void) unlinkat(f->d->fd, "src/" SYSTEM "/lock", 0);
                yb_repair_report_done(&rep);
                ASSERT_OK(yb_repo_repair(f->src, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)));
                ASSERT_EQ(copy_fixture_check_all(f->src, f->key), 1);
        }
        ASSERT_GT(failed, 20);
        for (size_t i = 0; i < n; i++) {
                yb_buf_done(&v[i].good);
                yb_buf_done(&v[i].bad);
        }
}

/* On an object store, a damaged file that Object Lock keeps cannot be deleted, so it cannot be
 * replaced: the repair says so with the date the lock ends, keeps the checked twin where it says,
 * and touches nothing else of the snapshot. */
TEST(locked_damaged_file_reported_with_its_date) {
        bool was = test_store_objects();
        _cleanup_(yb_header_freep) YbSnapshotHeader *h = NULL;
        _cleanup_(copy_fixture_freep) CopyFixture *f = NULL;
        _cleanup_(yb_repair_report_done) YbRepairReport rep = { 0 };
        _cleanup_free_ char *path = NULL, *key = NULL, *twin = NULL;
        const YbRepairFile *v;
        Flaky k;

        ASSERT_OK(setenv("YUNBAK_TEST_STORE_OBJECTS", "1", 1));
        f = twins(&h);
        if (!was)
                ASSERT_OK(unsetenv("YUNBAK_TEST_STORE_OBJECTS"));
        ASSERT_TRUE(yb_store_objects(f->src));
        path = copy_fixture_snapshot_file("src", h->id, "vol-000001");
        flip(f, path);
        ASSERT_TRUE(asprintf(&key, SYSTEM "/snapshots/%s/vol-000001", h->id) > 0);
        k = FLAKY_INIT(f->src);
        k.locked = key;
        k.retain_until = 1893456000; /* 2030-01-01T00:00:00Z */
        ASSERT_ERR(yb_repo_repair(&k.base, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)), EBADMSG);
        v = find(&rep, "vol-000001");
        ASSERT_EQ(v->action, YB_REPAIR_LOCKED);
        ASSERT_STREQ(yb_repair_action_to_string(v->action), "locked");
        ASSERT_TRUE(strstr(v->why, "Object Lock keeps it until 2030-01-01T00:00:00"));
        ASSERT_TRUE(strstr(v->why, "tmp/repair-"));
        ASSERT_TRUE(strstr(err, "vol-000001"));
        ASSERT_EQ(rep.unrepaired, 1);
        ASSERT_EQ(rep.replaced, 0);
        /* The twin waits, checked; the damaged file is as it was. */
        ASSERT_TRUE(asprintf(&twin, "src/" SYSTEM "/tmp/repair-%s/vol-000001", h->id) > 0);
        ASSERT_OK(faccessat(f->d->fd, twin, F_OK, 0));
        ASSERT_OK(faccessat(f->d->fd, path, F_OK, 0));

        /* Once the lock is over, the next repair puts the waiting twin in. */
        yb_repair_report_done(&rep);
        ASSERT_OK(yb_repo_repair(f->src, f->dst, SYSTEM, h->id, &rep, err, sizeof(err)));
        ASSERT_EQ(find(&rep, "vol-000001")->action, YB_REPAIR_REPLACED);
        ASSERT_EQ(copy_fixture_check_all(f->src, f->key), 1);
}
