/* core/repo/writer.h: writes one snapshot into tmp/<id>/ and commits it by one rename; on an
 * object store (YB_STORE_OBJECTS), straight into its final place, committed by its header
 * written last. */
#pragma once

#include "core/repo/repo.h"

typedef struct YbWriterOptions {
        int zstd_level;            /* 1..19; 3 if 0 */
        int zstd_workers;          /* extra compression threads for volumes */
        uint64_t volume_size;      /* plaintext bytes after which a volume is closed */
        const char *host;          /* recorded in the header */
        uint64_t seq;              /* YB_LEVEL_SEGMENT: the segment's number in its chain (from 1);
                                    * it is committed under segments/<base>/<hour>/ (segment.h) */
        int64_t (*clock_ns)(void); /* the time of started_ns, finished_ns and the id; NULL: the
                                    * wall clock (tests and benchmarks set their own) */
        /* Draws an id (yb_snapshot_id_new, header.h); NULL: that one (tests set their own, to
         * draw one that is taken) */
        void (*id_new)(int64_t now_ns, char ret[YB_SNAPSHOT_ID_MAX + 1]);
} YbWriterOptions;

typedef struct YbSnapshotWriter YbSnapshotWriter;

/* Starts a snapshot of level on repo, which must be locked. parent is NULL for a full; base is
 * the full the chain starts from. The agent signs the header; its state key seals the sigindex. */
int yb_snapshot_writer_new(YbRepo *repo, const YbAgentIdentity *agent, YbLevel level,
                           const YbSnapshotHeader *parent, const YbSnapshotHeader *base,
                           const YbWriterOptions *opts, YbSnapshotWriter **ret);
const char *yb_snapshot_writer_id(const YbSnapshotWriter *w);
/* Starts a volume entry; returns its volume and entry numbers for the manifest. */
int yb_snapshot_writer_begin_entry(YbSnapshotWriter *w, const YbPaxEntry *e, uint32_t *ret_volume,
                                   uint32_t *ret_entry);
int yb_snapshot_writer_data(YbSnapshotWriter *w, const void *data, size_t n);
int yb_snapshot_writer_end_entry(YbSnapshotWriter *w);
/* Adds a manifest record / a signature index record. */
int yb_snapshot_writer_add(YbSnapshotWriter *w, const YbEntry *e);
int yb_snapshot_writer_add_sig(YbSnapshotWriter *w, const YbSigEntry *e);
/* Writes the signature index as a delta against parent, the index of the snapshot's parent
 * (docs/format.md, "Signature index"), which must outlive the writer's commit. Only before the
 * first yb_snapshot_writer_add_sig, and only for a snapshot with a parent. */
int yb_snapshot_writer_sig_parent(YbSnapshotWriter *w, YbSigIndex *parent);
/* Records an entry left out of the snapshot: its path (as the agent shows it) and why. At the
 * commit the list goes into the snapshot's file "skipped", sealed to the system key (a partial
 * snapshot lists what it lacks; docs/format.md). 0 or -ENOMEM. */
int yb_snapshot_writer_add_skipped(YbSnapshotWriter *w, const char *path, const char *why);
/* Plaintext bytes of volume data written so far. */
uint64_t yb_snapshot_writer_bytes(const YbSnapshotWriter *w);
/* Finishes every file, writes and signs the header (counts and sources from h), syncs, and
 * renames the snapshot into place (on an object store: the header, written last, commits it). Once
 * the rename is done *ret (if non-NULL) is the committed header, even if the fsync of the snapshots
 * directory after it fails: then the snapshot exists but may not survive a crash, and -errno is
 * returned. */
int yb_snapshot_writer_commit(YbSnapshotWriter *w, const YbSnapshotHeader *h,
                              YbSnapshotHeader **ret);
/* Frees; an uncommitted snapshot's files are removed. */
YbSnapshotWriter *yb_snapshot_writer_free(YbSnapshotWriter *w);
DEFINE_FREEP(YbSnapshotWriter, yb_snapshot_writer_free);
