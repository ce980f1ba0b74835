/* tests/unit/copy-fixture.h: what the copy and repair tests share: two real local stores in a
 * scratch directory (the source "src" and the destination "dst"), a system key, an agent, and
 * real snapshots written into the source as backups write them. */
#pragma once

#include "core/repo/copy.h"
#include "core/repo/repo.h"

#define SYSTEM "hr"

typedef struct CopyFixture {
        struct TestTmpdir *d;
        YbStore *src, *dst;
        YbSecretKey *key;
        YbAgentIdentity *agent;
        YbRepo *repo; /* the source's repository (not locked between backups) */
} CopyFixture;

CopyFixture *copy_fixture_new(void);
void copy_fixture_free(CopyFixture *f);
DEFINE_FREEP(CopyFixture, copy_fixture_free);

/* Writes and commits a snapshot in the source (a full when parent is NULL, else an incremental
 * of parent with parent's base), with a large random file (seed varies it) so that its volume
 * spans several of the copy's blocks. Fails the case on error; the caller frees the header. */
YbSnapshotHeader *copy_fixture_backup(CopyFixture *f, const YbSnapshotHeader *parent,
                                      uint64_t seed);

/* The bytes of the snapshot files of id in a store's repository ("src" or "dst"), all of
 * them: header included. */
uint64_t copy_fixture_snapshot_bytes(CopyFixture *f, const char *store, const char *id);

/* Lists the repository of system in store s and checks that every listed snapshot verifies
 * (key-less, and deep with key when key is non-NULL) and that nothing is broken. Returns the
 * number of snapshots listed. */
size_t copy_fixture_check_all(YbStore *s, const YbSecretKey *key);

/* Whether the files of snapshot id are byte-identical in the source and the destination. */
void copy_fixture_assert_same(CopyFixture *f, const char *id);

/* "<store>/hr/<rest>" below the scratch directory; the caller frees it. */
char *copy_fixture_path(const char *store, const char *rest);
char *copy_fixture_snapshot_file(const char *store, const char *id, const char *file);

/* A store that forwards to inner and fails its fail_at-th call (any operation, its files' ones
 * included) with -EIO: an interruption between any two store calls. Its location is "flaky". */
typedef struct Flaky {
        YbStore base;
        YbStore *inner;
        unsigned calls, fail_at;
        /* As Object Lock would keep it (an S3 store): unlink of this path is -EPERM, and its stat
         * says retain_until (seconds). NULL: none. */
        const char *locked;
        int64_t retain_until;
} Flaky;
extern const YbStoreOps copy_fixture_flaky_ops, copy_fixture_flaky_objects_ops;
#define FLAKY_INIT(in)                                                                             \
        ((Flaky){ .base = { .ops = yb_store_objects(in) ? &copy_fixture_flaky_objects_ops          \
                                                        : &copy_fixture_flaky_ops,                 \
                            .location = (char *) "flaky" },                                        \
                  .inner = (in) })
