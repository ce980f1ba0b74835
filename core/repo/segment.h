/* core/repo/segment.h: tier-2 segments (docs/format.md, "Segments").
 *
 * A segment is a small snapshot in the ordinary format (signed header, sealed manifest and
 * volumes, sigindex) that the replicator (yunbak-agent replicate) commits every tier2.interval.
 * It is sparse: its manifest holds only the entries that changed since the previous point of its
 * chain, and a YB_ENTRY_DELETED record for each path that went (a directory's takes everything
 * below it). Its header has level "segment", "parent" the previous point (the chain root for
 * seq 1), "base" the chain root, and "seq" its number in the chain (1, 2, ...).
 *
 * A chain starts at a root: a full or a checkpoint (a differential on the full) under
 * snapshots/<root>/, written by an ordinary backup. Its segments live apart, so that listing the
 * store's snapshots never meets hundreds of thousands of them:
 *
 *   <system>/segments/<root>/<hour>/<id>/header|manifest|vol-NNNNNN|sigindex
 *   <system>/segments/<root>/<hour>.index        every header of a finished hour, concatenated
 *
 * <hour> is the first 11 characters of the segment's id ("20261206T08"). A segment is committed
 * as a snapshot is (tmp/<id>/ written, header last, one rename that never replaces) into its
 * hour's directory. Once an hour is over, the writer writes <hour>.index: the line
 * "YBSEGIX1 <count> <first seq> <last seq> <first finished_ns> <last finished_ns>", then the
 * exact bytes of each of the hour's segment headers in seq order, so that a reader reads one file
 * per hour instead of one per segment. Each header in an index keeps its own signature; an
 * index is only a faster way to read what the hour's directories hold, and verify checks the two
 * agree. */
#pragma once

#include "core/repo/repo.h"

#define YB_SEGMENT_INDEX_MAGIC "YBSEGIX1"
#define YB_SEGMENT_HOUR_LEN 11 /* "20261206T08" */

/* A chain as a listing sees it, without reading every segment header. */
typedef struct YbSegmentChain {
        char root[YB_SNAPSHOT_ID_MAX + 1]; /* the root's id (under snapshots/) */
        uint64_t n_segments;          /* committed segments, as indexes and the open hour tell */
        uint64_t first_seq, last_seq; /* 0 when the chain has no segment yet */
        int64_t first_ns, last_ns;    /* finished_ns of the first and last segment, or 0 */
        char last_id[YB_SNAPSHOT_ID_MAX + 1];
        char **hours; /* the hour directory names, oldest first */
        size_t n_hours;
        bool damaged; /* an index or a header of the open hour did not check out (listing goes on)
                       */
} YbSegmentChain;

typedef struct YbSegmentChainList {
        YbSegmentChain *items; /* by root id, oldest first */
        size_t n;
} YbSegmentChainList;

void yb_segment_chain_list_done(YbSegmentChainList *l);
/* Lists the chains under segments/ (none: n = 0, and 0 is returned). Reads one index line per
 * finished hour and the headers of unfinished hours only. */
int yb_segments_list(YbRepo *r, YbSegmentChainList *ret);

/* Loads the headers of chain root's segments, signatures checked, in seq order: those with
 * from_seq <= seq and finished_ns <= until_ns (INT64_MAX: all). A gap in seq or a header that
 * does not check out ends the list before it: *ret_bad (if non-NULL) is then set to a
 * description ("segment 20261206T081502Z-3fa9c2 (seq 42): bad signature"), which the caller
 * frees, and 0 is returned with what came before (a restore may use the chain up to there, and
 * must say so). -ENOENT if there is no such chain. */
int yb_segments_load(YbRepo *r, const char *root, uint64_t from_seq, int64_t until_ns,
                     YbSnapshotList *ret, char **ret_bad);

/* "<system>/segments/<root>/<hour>/<id>[/<file>]" for segment h (file NULL: its directory). The
 * caller frees it. Every reader of a segment's files goes through this (yb_repo_snapshot_path
 * is for snapshots/ only). */
char *yb_segment_path(const YbRepo *r, const YbSnapshotHeader *h, const char *file);
/* The directory of h's files wherever it lives: yb_segment_path for a segment, else
 * yb_repo_snapshot_path. The caller frees it. */
char *yb_repo_point_path(const YbRepo *r, const YbSnapshotHeader *h, const char *file);

/* Writes <hour>.index for every finished hour of chain root that has none: every hour
 * directory but the one of open_hour (the hour the writer commits into now; NULL: every hour is
 * finished). Needs the lock. Written as <hour>.index.tmp-<pid>, synced, renamed without
 * replacing; built from the hour's directory (headers checked), so it is right after a crash. */
int yb_segments_close_hours(YbRepo *r, const char *root, const char *open_hour);

/* The point of the tier-2 store to restore for time at_ns: the newest segment or root whose
 * finished_ns is at or before at_ns. *ret_root is its chain's root header, *ret_segments the
 * segments of that chain up to it (n = 0: the root itself is the point). -ENOENT if nothing is
 * that old. *ret_bad as for yb_segments_load. */
int yb_segments_find(YbRepo *r, const YbSnapshotList *roots, int64_t at_ns,
                     const YbSnapshotHeader **ret_root, YbSnapshotList *ret_segments,
                     char **ret_bad);

/* The lookup of yb_segments_find alone, without loading the chain up to the point: the root (as
 * there) and *ret_point, the newest segment of its chain finished at or before at_ns (NULL: the
 * root itself is the point; the caller frees it). Reads one listing of the chain and one hour
 * (two when at_ns sits at the start of an hour). -ENOENT if nothing is that old. */
int yb_segments_find_point(YbRepo *r, const YbSnapshotList *roots, int64_t at_ns,
                           const YbSnapshotHeader **ret_root, YbSnapshotHeader **ret_point);

/* Removes chain root's segments (the whole segments/<root>/, renamed to tmp/prune-seg-<root>
 * first, so that a crash leaves the chain whole or gone). The root snapshot stays (prune it with
 * yb_repo_prune, which refuses while segments/<root> exists). Needs the lock. */
int yb_segments_prune_chain(YbRepo *r, const char *root);
/* yb_segments_prune_chain in two steps, so that the lock need be held for the first only: a
 * day's chain is some 200,000 files, whose removal takes most of a minute on a local disk, and
 * no segment can be committed while the lock is held. yb_segments_detach_chain (needs the lock)
 * takes the chain away in one rename to tmp/prune-seg-<root> (from then on it does not exist);
 * yb_segments_remove_detached (no lock needed) removes that directory. A crash between them
 * leaves tmp/prune-seg-<root>, which the next yb_repo_cleanup_tmp removes. -ENOENT: no such
 * chain (detach) / nothing to remove is not an error (remove). */
int yb_segments_detach_chain(YbRepo *r, const char *root);
/* Both refuse a chain that S3 Object Lock still keeps with -EPERM, touching nothing: the date is
 * yb_segments_chain_locked_until's. On an object store, which cannot rename a directory,
 * detach removes the chain itself (every object under segments/<root>/) and remove_detached
 * has nothing left to do. */
int yb_segments_remove_detached(YbRepo *r, const char *root);

/* Until when (seconds since the epoch) S3 Object Lock keeps chain root's segments: the
 * retain-until date of its newest segment's header (written last, with the latest date); 0 when
 * none (every store but a locked S3 one: nothing read there), or when there is no such chain. */
int yb_segments_chain_locked_until(YbRepo *r, const char *root, int64_t *ret);

/* True (1) when segments/<root> exists, 0 if not, -errno. */
int yb_segments_chain_exists(YbRepo *r, const char *root);

/* Key-less verification of chain root's segments from seq from_seq on, as yb_verify_snapshot
 * checks a snapshot (signature, every file's size and hash, sealed headers, nothing else in the
 * directory) and that seq follows seq and parent follows parent; each problem goes to report
 * (verify.h). *ret_last_seq is the last seq that checked out with everything before it, so that
 * the next call starts after it. 0 when all checked out, 1 when something did not, -errno when
 * the store failed. */
typedef void (*YbSegmentReportFn)(void *userdata, const char *segment, const char *file,
                                  const char *problem);
/* (segment is NULL for a problem of no one segment: an hour's index, file then being
 * "segments/<root>/<hour>.index", or the chain's root, "snapshots/<root>".) On an object store,
 * a segment directory without a header is reported with file NULL and problem
 * YB_INCOMPLETE_TEXT (repo.h), and is no problem: it does not count in the result. */
int yb_segments_verify(YbRepo *r, const char *root, uint64_t from_seq, YbSegmentReportFn report,
                       void *userdata, uint64_t *ret_last_seq);
