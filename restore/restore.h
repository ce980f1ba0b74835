/* restore/restore.h: restores a snapshot (or chosen paths of it) into a target directory. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/repo/repo.h"

typedef struct YbRestoreOptions {
        const char *target; /* created if missing */
        char *const *paths; /* snapshot paths (and everything below them); NULL: everything */
        size_t n_paths;
} YbRestoreOptions;

typedef struct YbRestoreStats {
        uint64_t files, dirs, symlinks, hardlinks, special;
        uint64_t bytes;        /* content bytes written */
        uint64_t volumes_read; /* volumes opened, across the chain */
        uint64_t errors;       /* entries not restored (each reported) */
        uint64_t damaged;      /* of those: the repository's fault (hash or format) */
} YbRestoreStats;

/* Called for each entry that could not be restored: its path, and why. */
typedef void (*YbRestoreReportFn)(void *userdata, const char *path, const char *problem);

/* Restores snap (whose chain of parents is in list) with key. Every file's content is checked
 * against its hash before it is put in place; nothing is written outside opts->target (paths
 * through a symlink in the target are refused). Returns 0 when all entries were restored,
 * a positive count of entries that were not (each reported), or -errno if the restore could
 * not run at all (a requested path is not in the snapshot: -ENOENT). */
int yb_restore(YbRepo *repo, const YbSnapshotList *list, const YbSnapshotHeader *snap,
               const YbSecretKey *key, const YbRestoreOptions *opts, YbRestoreReportFn report,
               void *userdata, YbRestoreStats *ret);
