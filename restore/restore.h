/* restore/restore.h: restores a point (a snapshot, or a tier-2 segment with the chain it ends)
 * or chosen paths of it into a target directory. */
#pragma once

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/repo/repo.h"

typedef struct YbRestoreOptions {
        const char *target; /* created if missing */
        char *const *paths; /* snapshot paths (and everything below them); NULL: everything */
        size_t n_paths;
        char *const *skip; /* snapshot paths (and what is below them) left out; NULL: none */
        size_t n_skip;
        /* Set (by a signal handler) to stop the restore before the next volume it reads:
         * yb_restore then returns -EINTR. NULL: never. */
        volatile sig_atomic_t *stop;
        /* Flush the target's filesystem (syncfs) before returning: without it, what was written
         * is in the page cache and a crash may lose it. */
        bool sync;
} YbRestoreOptions;

typedef struct YbRestoreStats {
        uint64_t files, dirs, symlinks, hardlinks, special;
        uint64_t bytes;        /* content bytes written */
        uint64_t volumes_read; /* volumes read in their turn, across the chain */
        /* Volumes opened before their turn, to read in-place deltas early (restore/early.c):
         * read again, in their turn, and counted in volumes_read too. */
        uint64_t volumes_read_early;
        uint64_t deltas;   /* deltas applied (and their result checked, for a last one) */
        uint64_t in_place; /* of those: applied to the generation before in place */
        uint64_t early;    /* in-place deltas read before their volume's turn, and handed on
                            * right after the generation they patch (restore/early.c) */
        uint64_t errors;   /* entries not restored (each reported) */
        uint64_t damaged;  /* of those: the repository's fault (hash or format) */
} YbRestoreStats;

/* Adds each count of from to to's (where restores are summed: a field added to
 * YbRestoreStats is added here, or the build says so). */
void yb_restore_stats_add(YbRestoreStats *to, const YbRestoreStats *from);

/* Called for each entry that could not be restored: its path, and why. */
typedef void (*YbRestoreReportFn)(void *userdata, const char *path, const char *problem);

/* A point to restore and everything it is made of: a snapshot and its parents down to the
 * full, then (tier 2) the segments of its chain in seq order. Memory grows with the records of
 * the segments' manifests, not with segments x tree. */
typedef struct YbRestoreChain YbRestoreChain;

/* Starts a chain at snapshot root, whose parents down to the full are in list (borrowed, as
 * root: both must outlive the chain). -ENOLINK if a parent is missing from list. */
int yb_restore_chain_new(YbRepo *repo, const YbSnapshotList *list, const YbSnapshotHeader *root,
                         const YbSecretKey *key, YbRestoreChain **ret);
/* Adds the next segment of the chain (its seq follows the last one's, its parent is the last
 * point, its base the root) and reads its manifest; the chain takes segment (freed with it,
 * also on failure). -EINVAL if it does not follow, -EBADMSG if its manifest is damaged. */
int yb_restore_chain_add(YbRestoreChain *c, YbSnapshotHeader *segment);
/* Takes the last segment out of the chain again (one that could not be applied yet), so that
 * the point is the one before it. -ENOENT if the chain has no segment. */
int yb_restore_chain_pop(YbRestoreChain *c);
/* The point: the last segment added, or the root. */
const YbSnapshotHeader *yb_restore_chain_point(const YbRestoreChain *c);
/* The root of the chain (the snapshot it was started at). */
const YbSnapshotHeader *yb_restore_chain_root(const YbRestoreChain *c);
/* The chain's snapshots and segments, oldest first: i from 0 to yb_restore_chain_length() - 1
 * (the full first, the point last). */
size_t yb_restore_chain_length(const YbRestoreChain *c);
const YbSnapshotHeader *yb_restore_chain_at(const YbRestoreChain *c, size_t i);
/* Segments added / records in their manifests (what the memory grows with). */
size_t yb_restore_chain_segments(const YbRestoreChain *c);
size_t yb_restore_chain_records(const YbRestoreChain *c);
YbRestoreChain *yb_restore_chain_free(YbRestoreChain *c);
DEFINE_FREEP(YbRestoreChain, yb_restore_chain_free);

/* Restores the chain's point with its key. Every file's content is checked against its hash
 * before it is put in place; nothing is written outside opts->target (paths through a symlink
 * in the target are refused). Returns 0 when all entries were restored, a positive count of
 * entries that were not (each reported), or -errno if the restore could not run at all (a
 * requested path is not at the point: -ENOENT; a snapshot's manifest is damaged: -EBADMSG). */
int yb_restore(YbRestoreChain *c, const YbRestoreOptions *opts, YbRestoreReportFn report,
               void *userdata, YbRestoreStats *ret);

/* Called for each file whose content at the point is what a segment read while the file was
 * being written (flagged "changing"): its path, that segment, and when its read began (wall
 * clock): the content holds every write completed before then, and some made until the
 * segment's finished_ns. */
typedef void (*YbRestoreChangingFn)(void *userdata, const char *path,
                                    const YbSnapshotHeader *segment, int64_t read_started_ns);
/* Calls fn (which may be NULL) for each such file of c's point among paths (and what is below
 * them; all when n_paths is 0); with point_only, only those the point's own segment read (what
 * applying it brought). Returns how many, or -errno (restore/changing.c). */
int yb_restore_changing(YbRestoreChain *c, bool point_only, char *const *paths, size_t n_paths,
                        YbRestoreChangingFn fn, void *userdata);

/* Removes the staging directories that restores cut short (killed) left in target. Only for a
 * caller that knows no other restore writes into target now. */
int yb_restore_clean_staging(const char *target);

/* Keeping a warm standby (yunbak restore --follow): a target that holds one point is brought
 * to the next by changing only what differs. Each changed file's content is built in a
 * staging directory inside the target and checked against its hash, then renamed into place;
 * after each call the target equals the new point. */
typedef struct YbApplyStats {
        YbRestoreStats restore; /* what was written */
        uint64_t changed;       /* entries put in place */
        uint64_t deleted;       /* paths removed (each with what was below it) */
        uint64_t refetched;     /* files whose copy in the target was not what had been put
                                 * there (each reported): fetched from the chain instead */
        bool applied;           /* false: a content could not be built, and nothing in the
                                 * target was changed (it holds the point before) */
} YbApplyStats;

/* Brings target, which holds the point before c's last segment, to c's point: a delta is
 * applied to the target's own copy of the file, a renamed file is moved (or copied when its old
 * name stays), new metadata alone is set in place; a copy that does not give
 * the recorded content is reported and fetched from the chain. With resume, the target may
 * hold part of this step already (an apply that was cut): files that have their new content
 * are kept and a copy already moved away is fetched from the chain, neither reported. When a
 * file's new content cannot be built (the store failed, a volume is damaged: each reported),
 * nothing in the target is changed (ret->applied is false). Adds to *ret; returns as
 * yb_restore. */
int yb_restore_apply_segment(YbRestoreChain *c, const char *target, bool resume,
                             YbRestoreReportFn report, void *userdata, YbApplyStats *ret);
/* Brings target, which holds from's point, to to's point (a new chain's root or any point of
 * it): what differs is fetched from to's chain and put in place, what went is removed. */
int yb_restore_apply_switch(YbRestoreChain *from, YbRestoreChain *to, const char *target,
                            YbRestoreReportFn report, void *userdata, YbApplyStats *ret);
/* Compares target with c's point: an entry that is missing or of another type, a regular file
 * whose size or modification time is not the recorded one, is reported and put right from the
 * chain; an entry the point does not have (added by something else; at the target's top, the
 * names starting with ".yunbak-" are the standby's own) is reported and removed. Returns how
 * many were found, or -errno. */
int yb_restore_check(YbRestoreChain *c, const char *target, YbRestoreReportFn report,
                     void *userdata, YbApplyStats *ret);
