/* core/repo/verify.h: checks snapshots. Without a key: every stored file against the signed
 * header (size, BLAKE2b, sealed-file header, key id). With the key (deep): also decrypts every
 * file and checks each volume entry against the manifest's content hashes. */
#pragma once

#include "core/repo/repo.h"

/* Called once per problem found: snapshot id, file within it (or NULL), what is wrong. */
typedef void (*YbVerifyReportFn)(void *userdata, const char *snapshot, const char *file,
                                 const char *problem);

/* Verifies snapshot h. Returns the number of problems (0: sound) or -errno if verification
 * itself could not run (the store failed, out of memory). */
int yb_verify_snapshot(YbRepo *repo, const YbSnapshotHeader *h, const YbSnapshotList *all,
                       const YbSecretKey *key, YbVerifyReportFn report, void *userdata);
