/* Prune on a store with S3 Object Lock (core/repo/prune.c; docs/s3.md, "Object Lock"): a snapshot
 * whose header's retain-until date is ahead is refused with that date and nothing of it is
 * touched, what it needs is kept with it, the rest goes; once the date has passed it prunes as
 * any other. The store is a real local one that calls itself an object store (as S3 is: only
 * there is a date read) and whose stat tells the retain-until dates a test sets (what an S3
 * store reads from x-amz-object-lock-retain-until-date), a legal hold on a file, and a delete it
 * refuses with no lock said (a bucket policy's). On an object store every object of a snapshot is
 * asked before anything of it goes, and a delete refused after its header went is said. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/timeutil.h"
#include "core/repo/repo.h"
#include "tests/unit/copy-fixture.h"
#include "tests/unit/test.h"

#define MAX_LOCKED 4

/* The headers a test locks, and the unlinks of snapshot files the store saw (in order). */
static struct {
        char id[YB_SNAPSHOT_ID_MAX + 1];
        const char *file; /* "header", or another file of the snapshot */
        int64_t until;
        bool held; /* a legal hold */
} locked[MAX_LOCKED];
static char refused[256]; /* a file whose delete the store refuses with no lock on it */
static char unlinked[8][256];
static size_t n_unlinked;
static YbStoreOps locking_ops;

static int locking_stat(YbStore *s, const char *path, YbStoreStat *ret) {
        int r = yb_store_local_ops.stat(s, path, ret);

        if (r < 0)
                return r;
        /* SYSTEM "/snapshots/<id>/header" of a locked id */
        if (strncmp(path, SYSTEM "/snapshots/", strlen(SYSTEM "/snapshots/")) != 0)
                return r;
        path += strlen(SYSTEM "/snapshots/");
        for (size_t i = 0; i < MAX_LOCKED; i++) {
                size_t n = strlen(locked[i].id);

                if (n > 0 && strncmp(path, locked[i].id, n) == 0 && path[n] == '/' &&
                    streq(path + n + 1, locked[i].file)) {
                        ret->retain_until = locked[i].until;
                        ret->legal_hold = locked[i].held;
                }
        }
        return r;
}

/* The store's own clock, ahead of ours: it refuses to delete a header until then. */
static int64_t store_now;

static int locking_unlink(YbStore *s, const char *path) {
        YbStoreStat st;

        if (strstr(path, "/snapshots/") && n_unlinked < ELEMENTSOF(unlinked))
                snprintf(unlinked[n_unlinked++], sizeof(unlinked[0]), "%s", path);
        if (store_now > 0 && locking_stat(s, path, &st) >= 0 && st.retain_until > store_now)
                return -EPERM;
        if (locking_stat(s, path, &st) >= 0 && st.legal_hold)
                return -EPERM;
        if (streq(path, refused))
                return -EPERM;
        return yb_store_local_ops.unlink(s, path);
}

/* Makes f's source store tell the dates of locked[], with flags added to its own. */
static void lock_store(CopyFixture *f, unsigned flags) {
        memset(locked, 0, sizeof(locked));
        n_unlinked = 0;
        store_now = 0;
        refused[0] = 0;
        locking_ops = yb_store_local_ops;
        locking_ops.stat = locking_stat;
        locking_ops.unlink = locking_unlink;
        locking_ops.flags |= flags;
        f->src->ops = &locking_ops;
}

static void lock_file(size_t i, const char *id, const char *file, int64_t until, bool held) {
        snprintf(locked[i].id, sizeof(locked[i].id), "%s", id);
        locked[i].file = file;
        locked[i].until = until;
        locked[i].held = held;
}

static void lock(size_t i, const char *id, int64_t until) {
        lock_file(i, id, "header", until, false);
}

/* What prune reported, per snapshot: the error and, for -EPERM, the date; for -EBUSY (a legal
 * hold) or a partial prune, what it said. */
typedef struct Outcome {
        const char *ids[4];
        int error[4];
        char date[4][YB_PRUNE_DATE_MAX];
        char said[4][512];
        size_t n;
} Outcome;

static void on_pruned(void *userdata, const char *id, int error, const char *child) {
        Outcome *o = userdata;

        for (size_t i = 0; i < o->n; i++)
                if (streq(o->ids[i], id)) {
                        bool partly = child &&
                                      strncmp(child, YB_PRUNE_PARTLY, strlen(YB_PRUNE_PARTLY)) == 0;

                        o->error[i] = error;
                        if (error == -EPERM && !partly) {
                                ASSERT_TRUE(child);
                                snprintf(o->date[i], sizeof(o->date[i]), "%s", child);
                        } else if (child && error != -ENOTEMPTY)
                                snprintf(o->said[i], sizeof(o->said[i]), "%s", child);
                        return;
                }
        ASSERT_TRUE(false); /* a snapshot it was not asked to prune */
}

static bool header_exists(const CopyFixture *f, const char *id) {
        _cleanup_free_ char *p = copy_fixture_snapshot_file("src", id, "header");
        struct stat st;

        return fstatat(f->d->fd, p, &st, 0) == 0;
}

static int64_t now_sec(void) {
        return yb_now_ns() / 1000000000LL;
}

/* A full (a) and an incremental on it (b), and another full (c): b is locked, so b stays and so
 * does a (b needs it), until b's date; c goes. */
TEST(locked_snapshot_is_kept_with_what_it_needs) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *a = copy_fixture_backup(f, NULL, 1);
        _cleanup_(yb_header_freep) YbSnapshotHeader *b = copy_fixture_backup(f, a, 2);
        _cleanup_(yb_header_freep) YbSnapshotHeader *c = copy_fixture_backup(f, NULL, 3);
        Outcome o = { .ids = { a->id, b->id, c->id }, .error = { 1, 1, 1 }, .n = 3 };
        int64_t until = now_sec() + 3600;
        char want[YB_PRUNE_DATE_MAX];

        lock_store(f, YB_STORE_OBJECTS);
        lock(0, b->id, until);
        yb_prune_format_date(until, want);
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_ERR(yb_repo_prune_many(f->repo, o.ids, 3, on_pruned, &o), EPERM);
        ASSERT_EQ(o.error[2], 0);
        ASSERT_EQ(o.error[1], -EPERM);
        ASSERT_STREQ(o.date[1], want);
        ASSERT_EQ(o.error[0], -EPERM); /* kept by b's lock: prunable from the same date */
        ASSERT_STREQ(o.date[0], want);
        ASSERT_TRUE(header_exists(f, a->id));
        ASSERT_TRUE(header_exists(f, b->id));
        ASSERT_FALSE(header_exists(f, c->id));
        /* c's header went first, then its other files; nothing of a or b was touched. */
        ASSERT_GE(n_unlinked, 2u);
        ASSERT_TRUE(strstr(unlinked[0], c->id));
        ASSERT_TRUE(strstr(unlinked[0], "/header"));
        for (size_t i = 0; i < n_unlinked; i++)
                ASSERT_TRUE(strstr(unlinked[i], c->id));
        ASSERT_EQ(copy_fixture_check_all(f->src, f->key), 2u); /* whole, and nothing broken */
        yb_repo_unlock(f->repo);
}

/* A snapshot that another, not being pruned, needs is refused for that reason, not the lock's. */
TEST(lock_does_not_hide_a_child_that_stays) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *a = copy_fixture_backup(f, NULL, 1);
        _cleanup_(yb_header_freep) YbSnapshotHeader *b = copy_fixture_backup(f, a, 2);
        Outcome o = { .ids = { a->id }, .error = { 1 }, .n = 1 };

        lock_store(f, YB_STORE_OBJECTS);
        lock(0, b->id, now_sec() + 3600);
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_ERR(yb_repo_prune_many(f->repo, o.ids, 1, on_pruned, &o), ENOTEMPTY);
        ASSERT_EQ(o.error[0], -ENOTEMPTY);
        yb_repo_unlock(f->repo);
}

/* Once the date has passed, the snapshot prunes as any other. */
TEST(passed_lock_prunes_normally) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *a = copy_fixture_backup(f, NULL, 1);
        _cleanup_(yb_header_freep) YbSnapshotHeader *b = copy_fixture_backup(f, a, 2);
        Outcome o = { .ids = { a->id, b->id }, .error = { 1, 1 }, .n = 2 };
        int64_t until = 0;

        lock_store(f, YB_STORE_OBJECTS);
        lock(0, b->id, now_sec() - 1);
        ASSERT_OK(yb_repo_locked_until(f->repo, b->id, &until));
        ASSERT_EQ(until, locked[0].until);
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_OK(yb_repo_prune_many(f->repo, o.ids, 2, on_pruned, &o));
        ASSERT_EQ(o.error[0], 0);
        ASSERT_EQ(o.error[1], 0);
        ASSERT_FALSE(header_exists(f, a->id));
        ASSERT_FALSE(header_exists(f, b->id));
        yb_repo_unlock(f->repo);
}

/* A store whose clock is ahead of ours refuses the header our clock says is free: the snapshot
 * is kept as locked, untouched, and so is what it needs; the rest goes. */
TEST(store_clock_ahead_keeps_it_locked) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *a = copy_fixture_backup(f, NULL, 1);
        _cleanup_(yb_header_freep) YbSnapshotHeader *b = copy_fixture_backup(f, a, 2);
        _cleanup_(yb_header_freep) YbSnapshotHeader *c = copy_fixture_backup(f, NULL, 3);
        Outcome o = { .ids = { a->id, b->id, c->id }, .error = { 1, 1, 1 }, .n = 3 };

        lock_store(f, YB_STORE_OBJECTS);
        lock(0, b->id, now_sec() - 5);
        store_now = now_sec() - 10;
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_ERR(yb_repo_prune_many(f->repo, o.ids, 3, on_pruned, &o), EPERM);
        ASSERT_EQ(o.error[2], 0);
        ASSERT_EQ(o.error[1], -EPERM);
        ASSERT_EQ(o.error[0], -EPERM);
        ASSERT_STREQ(o.date[0], o.date[1]);
        ASSERT_TRUE(header_exists(f, a->id));
        ASSERT_TRUE(header_exists(f, b->id));
        ASSERT_FALSE(header_exists(f, c->id));
        ASSERT_EQ(copy_fixture_check_all(f->src, f->key), 2u);
        yb_repo_unlock(f->repo);
}

/* On an object store (no rename of directories) the header goes first, then the rest: nothing
 * of the snapshot is left. */
TEST(object_store_removes_the_header_first) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *a = copy_fixture_backup(f, NULL, 1);
        _cleanup_free_ char *dir = copy_fixture_snapshot_file("src", a->id, ".");
        _cleanup_free_ char *header = NULL;
        struct stat st;

        lock_store(f, YB_STORE_OBJECTS);
        ASSERT_TRUE(asprintf(&header, SYSTEM "/snapshots/%s/header", a->id) > 0);
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_OK(yb_repo_prune(f->repo, a->id));
        ASSERT_GE(n_unlinked, 1u);
        ASSERT_STREQ(unlinked[0], header);
        ASSERT_ERR(fstatat(f->d->fd, dir, &st, 0) < 0 ? -errno : 0, ENOENT);
        yb_repo_unlock(f->repo);
}

/* An early object locked longer than the header (each is locked from its own writing): the
 * snapshot is kept whole until that object's date, which is the date said. */
TEST(every_object_is_asked_for_its_date) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *a = copy_fixture_backup(f, NULL, 1);
        Outcome o = { .ids = { a->id }, .error = { 1 }, .n = 1 };
        int64_t until = now_sec() + 7200;
        char want[YB_PRUNE_DATE_MAX];

        lock_store(f, YB_STORE_OBJECTS);
        lock(0, a->id, now_sec() + 60);
        lock_file(1, a->id, "manifest", until, false);
        yb_prune_format_date(until, want);
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_ERR(yb_repo_prune_many(f->repo, o.ids, 1, on_pruned, &o), EPERM);
        ASSERT_EQ(o.error[0], -EPERM);
        ASSERT_STREQ(o.date[0], want);
        ASSERT_EQ(n_unlinked, 0u);
        yb_repo_unlock(f->repo);
}

/* A legal hold on one file (no date): nothing of the snapshot is touched, the held key is named;
 * what it needs stays, the rest goes. */
TEST(legal_hold_keeps_it_whole) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *a = copy_fixture_backup(f, NULL, 1);
        _cleanup_(yb_header_freep) YbSnapshotHeader *b = copy_fixture_backup(f, a, 2);
        _cleanup_(yb_header_freep) YbSnapshotHeader *c = copy_fixture_backup(f, NULL, 3);
        Outcome o = { .ids = { a->id, b->id, c->id }, .error = { 1, 1, 1 }, .n = 3 };
        _cleanup_free_ char *key = NULL;

        lock_store(f, YB_STORE_OBJECTS);
        lock_file(0, b->id, "manifest", 0, true);
        ASSERT_TRUE(asprintf(&key, SYSTEM "/snapshots/%s/manifest", b->id) > 0);
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_ERR(yb_repo_prune_many(f->repo, o.ids, 3, on_pruned, &o), ENOTEMPTY);
        ASSERT_EQ(o.error[2], 0);
        ASSERT_EQ(o.error[1], -EBUSY);
        ASSERT_STREQ(o.said[1], key);
        ASSERT_EQ(o.error[0], -ENOTEMPTY); /* b, which stays, needs it */
        ASSERT_TRUE(header_exists(f, a->id));
        ASSERT_TRUE(header_exists(f, b->id));
        for (size_t i = 0; i < n_unlinked; i++)
                ASSERT_TRUE(strstr(unlinked[i], c->id));
        ASSERT_EQ(copy_fixture_check_all(f->src, f->key), 2u);
        yb_repo_unlock(f->repo);
}

/* A delete refused after the header went (no lock said it would be): the report says what went
 * and what is kept, and the next prune's cleanup can finish it. */
TEST(refused_delete_is_a_partial_prune) {
        _cleanup_(copy_fixture_freep) CopyFixture *f = copy_fixture_new();
        _cleanup_(yb_header_freep) YbSnapshotHeader *a = copy_fixture_backup(f, NULL, 1);
        Outcome o = { .ids = { a->id }, .error = { 1 }, .n = 1 };
        _cleanup_free_ char *want = NULL;

        lock_store(f, YB_STORE_OBJECTS);
        snprintf(refused, sizeof(refused), SYSTEM "/snapshots/%s/manifest", a->id);
        ASSERT_OK(yb_repo_lock(f->repo));
        ASSERT_ERR(yb_repo_prune_many(f->repo, o.ids, 1, on_pruned, &o), EPERM);
        ASSERT_EQ(o.error[0], -EPERM);
        ASSERT_TRUE(asprintf(&want,
                             "; %s is kept by the store, which refused the delete with no Object "
                             "Lock on it",
                             refused) > 0);
        ASSERT_TRUE(strncmp(o.said[0], YB_PRUNE_PARTLY, strlen(YB_PRUNE_PARTLY)) == 0);
        ASSERT_TRUE(strstr(o.said[0], want));
        ASSERT_TRUE(strstr(o.said[0], "the next backup or prune removes the rest once the store "
                                      "allows it"));
        ASSERT_FALSE(header_exists(f, a->id));
        yb_repo_unlock(f->repo);
}

/* The date as prunes and certificates print it. */
TEST(dates_are_utc_seconds) {
        char d[YB_PRUNE_DATE_MAX];

        yb_prune_format_date(1796219430, d);
        ASSERT_STREQ(d, "2026-12-02T13:50:30Z");
}
