/* core/repo/verify.h: checks snapshots. Without a key: every stored file against the signed
 * header (size, BLAKE2b, sealed-file header, key id). With the key (deep): also decrypts every
 * file and checks each volume entry against the manifest's content hashes. */
#pragma once

#include "core/repo/repo.h"

/* Called once per problem found: snapshot id, file within it (or NULL), what is wrong. */
typedef void (*YbVerifyReportFn)(void *userdata, const char *snapshot, const char *file,
                                 const char *problem);

/* Verifies snapshot h (or segment: then its chain is not checked here, and all may be NULL;
 * yb_segments_verify checks it). Returns the number of problems (0: sound) or -errno if
 * verification itself could not run (the store failed, out of memory). */
int yb_verify_snapshot(YbRepo *repo, const YbSnapshotHeader *h, const YbSnapshotList *all,
                       const YbSecretKey *key, YbVerifyReportFn report, void *userdata);

/* Checks that every file h's header lists exists with the size the header signs (a cheap check,
 * without reading them). 0; -ENOENT (missing) or -EBADMSG (another size) with *ret_file naming
 * the first such file (it lives as long as h); the store's -errno. */
int yb_verify_sizes(YbRepo *repo, const YbSnapshotHeader *h, const char **ret_file);

/* The first snapshot of h's chain of ancestors (its parent, that one's parent, ... to a full)
 * that all does not hold or that damaged (one flag per item of all, NULL: none) marks: its id,
 * or NULL when the chain is sound. A loop of parents ends the walk. */
const char *yb_verify_damaged_ancestor(const YbSnapshotList *all, const bool *damaged,
                                       const YbSnapshotHeader *h);
