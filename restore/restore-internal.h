/* restore/restore-internal.h: the state of one restore, shared by its parts: pointchain.c (the
 * chain of snapshots and segments a point is made of, and a path's record as of any of them,
 * through pathindex.c), restore.c (the plan of operations per file, and the order of the whole),
 * content.c (file contents from the chain's volumes into staging files, each opened by
 * volume.c; early.c reads the in-place deltas ahead of their turn), place.c (entries into
 * the target, never through a link), and below them all state.c (reports and staging names).
 * changing.c reads the chain alone: which files of a point were read while being written. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "restore/restore.h"

#define BUF_SIZE (1024 * 1024)
#define STAGING_PREFIX ".yunbak-restore-"

typedef struct Chain {
        const YbSnapshotHeader *h;
        YbManifest *m; /* loaded on first use (a segment's when it is added) */
} Chain;

/* pathindex.c: every record of a chain's segment manifests by path, each path's newest first. */
typedef struct SegIndex SegIndex;
int restore_segindex_new(SegIndex **ret);
SegIndex *restore_segindex_free(SegIndex *x);
/* Indexes the records of the next segment's manifest m (borrowed: it must outlive the index). */
int restore_segindex_add(SegIndex *x, const YbManifest *m);
/* Takes the last segment's records (m, the manifest last added) out again. */
void restore_segindex_pop(SegIndex *x, const YbManifest *m);
/* The state of path as of segment upto (0 is the first segment): 1 when a segment up to it
 * records the path or deletes it (or an ancestor) after its last record: *ret is then the
 * newest record, or NULL if the path is gone, and *ret_seg the segment that says so; 0 when no
 * segment up to upto says anything about it (the chain's root does). */
int restore_segindex_find(const SegIndex *x, const char *path, size_t upto, const YbEntry **ret,
                          size_t *ret_seg);
/* Calls fn for each path any segment records (deleted ones included), once each. */
int restore_segindex_foreach(const SegIndex *x, int (*fn)(void *userdata, const char *path),
                             void *userdata);
/* The records indexed (all segments). */
size_t restore_segindex_records(const SegIndex *x);

/* pointchain.c: a point and what it is made of, oldest first: levels[0] is the full, then each
 * differential or incremental down to the chain's root levels[root], then the root's segments
 * in seq order; the point is the last level. */
struct YbRestoreChain {
        YbRepo *repo;
        const YbSecretKey *key;
        Chain *levels;
        size_t n, alloc;
        size_t root;
        SegIndex *segs; /* NULL until a segment is added */
};

/* The manifest of level (loaded on first use, owned by the chain). */
int restore_chain_manifest(YbRestoreChain *c, size_t level, YbManifest **ret);
/* Frees the manifests of the snapshots before the point, once a restore's plan has taken what it
 * needs from them (ops hold numbers, jobs the point's records), so that a long chain's manifests
 * do not stay in memory beside the volumes' buffers; restore_chain_manifest loads one again if
 * asked. Not in a chain with segments, whose point's state is built from them. */
void restore_chain_release(YbRestoreChain *c);
/* The record of path as it was at level: *ret and the level whose manifest holds it. -ENOENT
 * if the path did not exist then. */
int restore_chain_find(YbRestoreChain *c, size_t level, const char *path, const YbEntry **ret,
                       size_t *ret_level);
/* The whole state at the point, as a manifest of its own (the caller frees it) in tree order:
 * the root's records replaced and removed by its segments'. With no segment, the root's own
 * manifest is given (*ret_owned false: the chain keeps it). */
int restore_chain_state(YbRestoreChain *c, YbManifest **ret, bool *ret_owned);

/* One operation on a file's staging copy: its content from volume entry (vol, entry) of
 * levels[level], whole or as a delta. */
typedef struct Op {
        size_t level;
        uint32_t vol, entry;
        bool delta;
        bool early_done; /* applied early (early.c): skipped in its volume's turn */
        uint64_t stored;
        size_t job;
        size_t step; /* position in the job's op list */
} Op;

typedef struct Job {
        const YbEntry *e; /* in chain[0]'s manifest: content and metadata */
        const char *dest; /* where it goes: e->path, or a hard link's own name */
        size_t n_ops, done_ops;
        unsigned gen; /* staging file generation */
        bool failed;
        bool from_target; /* its basis is the target's own file (apply.c) */
        bool refetch;     /* ... which did not give the content: fetch it from the chain */
        bool placed;      /* written where it goes (Restore.direct), metadata and all */
        size_t early;     /* its first delta read early (early.c): index + 1 in Restore.early */
} Job;

/* A delta read early (early.c): ops[op]'s, whole; next is the job's next one (index + 1). */
typedef struct Early {
        size_t op;
        uint8_t *data;
        size_t n;
        size_t next;
} Early;

typedef struct PlaceCursor PlaceCursor; /* place.c: the directory it opened last */
typedef struct FileWriter FileWriter;   /* filewriter.c: the thread that writes files */

typedef struct Restore {
        YbRepo *repo;
        const YbSecretKey *key;
        YbRestoreChain *chain;
        Job *jobs;
        size_t n_jobs;
        Op *ops;
        size_t n_ops, ops_alloc;
        int target_fd, staging_fd;
        char staging[64];
        uint8_t *buf;
        YbBuf delta; /* a delta read whole, to be applied in place (content.c) */
        YbRestoreReportFn report;
        void *userdata;
        YbRestoreStats stats;
        bool root;
        PlaceCursor *cursor;         /* NULL until place.c first needs it */
        volatile sig_atomic_t *stop; /* YbRestoreOptions.stop (NULL: never) */
        /* A fresh restore (not an apply): a file whose content is one whole entry is written
         * straight into the target when nothing has its name there, then checked; one whose
         * check fails is removed again. */
        bool direct;
        mode_t umask; /* the process's, as read at the start (0777 when unknown) */
        uid_t euid;
        gid_t egid;
        FileWriter *writer;   /* NULL unless whole contents are being written on its thread */
        pthread_mutex_t lock; /* restore_fail_entry's, called from both threads */
        Early *early;         /* the in-place deltas read before their turn (early.c) */
        size_t n_early;
} Restore;

/* A delta no larger than this is read whole first: when it only writes over the generation
 * before (core/codec/inplace.h), it is applied to it in place, by the thread that wrote it
 * (filewriter.c). */
#define IN_PLACE_DELTA_MAX (16 * 1024 * 1024)

/* restore.c: the steps a restore and an apply (apply.c) share. */
/* Appends the ops that rebuild path as of levels[level] to job's plan. -EBADMSG if the chain
 * does not hold what its manifests promise. */
int restore_plan_file(Restore *r, size_t job, size_t level, const char *path);
/* A restore of c's point with nothing open yet. */
Restore restore_init(YbRestoreChain *c, YbRestoreReportFn report, void *userdata);
/* Appends op to the plan. */
int restore_add_op(Restore *r, const Op *op);
/* Opens (making it if needed) the target and a private staging directory inside it. */
int restore_open_target(Restore *r, const char *target);
/* Reads every volume the planned ops need, once each, oldest first, into staging files; -EINTR
 * when r->stop is set before the next one. */
int restore_run_ops(Restore *r);
/* Closes what the restore opened, removes the staging directory, frees jobs and ops. */
void restore_close(Restore *r);
/* A problem of placing an entry in words. */
const char *restore_problem_text(int k);

/* state.c: reports an entry that could not be restored (counted in stats; damaged: the repository's
 * fault) with a message made from fmt. */
void restore_fail_entry(Restore *r, const char *path, bool damaged, const char *fmt, ...)
        _printf_(4, 5);
/* The name in the staging directory of generation gen of job's file. */
void restore_staging_name(const Restore *r, size_t job, unsigned gen, char ret[64]);

/* filewriter.c: writes content to a file as it comes, hashing it, leaving holes for all-zero
 * blocks when sparse (the thread's, and content.c's for deltas). */
typedef struct Sink {
        int fd;
        uint64_t off;
        bool sparse;
        bool checked; /* the job's last step: hashed, to be checked against the manifest */
        YbHash hash;
} Sink;
int restore_sink_write(void *userdata, const void *data, size_t n);

/* content.c: reads volume r->ops[first].vol of its snapshot once, applying ops first..end-1
 * (sorted by entry) to their staging files; from opened when given (restore_open_volume; taken
 * over, freed), else opened here. A volume that cannot be read fails the entries that needed it
 * (reported) and returns 0; -ENOMEM and the like are returned. */
int restore_read_volume_in(Restore *r, size_t first, size_t end, YbSealedIn *opened);
/* volume.c: opens the volume of r->ops[first] with its prefetch threads started: they read,
 * check, decrypt and decompress ahead, so that a volume opened while the one before is being
 * restored is decoded on the other core meanwhile. */
int restore_open_volume(Restore *r, size_t first, YbSealedIn **ret);
/* The end of the ops from i on that read the same volume (the ops in order). */
size_t restore_volume_end(const Restore *r, size_t i);
/* The signed header's record of r->ops[first]'s volume (NULL: none), named in name. */
const YbFileRef *restore_volume_ref(const Restore *r, size_t first, char name[32]);
/* Reads the current entry's next n bytes into buf: -EBADMSG if it ends before. */
int restore_read_entry(YbPaxReader *pax, uint8_t *buf, size_t n);

/* filewriter.c: whole contents are handed to a thread of their own, which writes, hashes and
 * checks each file while the next is decoded. The thread starts with the first content and
 * runs until restore_writer_drain. */
/* The start of op's content (a whole one, of h's volume); the bytes follow with
 * restore_writer_data and end with restore_writer_end. Errors returned are the restore's
 * (-ENOMEM); a file's own are reported by the thread. */
int restore_writer_begin(Restore *r, const Op *op, const YbSnapshotHeader *h);
int restore_writer_data(Restore *r, const void *data, size_t n);
/* The end of the content; err (< 0) when it could not be read whole: the file is dropped and
 * reported as apply_op would. */
int restore_writer_end(Restore *r, int err);
/* Hands over a delta op whose delta (whole, in r->delta) only writes over the generation
 * before (core/codec/inplace.h): the thread, which wrote that generation, patches it in place
 * into the next one, checking it against the manifest when it is the job's last. */
int restore_writer_patch(Restore *r, const Op *op, const YbSnapshotHeader *h);
/* The same with the delta in data (n bytes) rather than r->delta. */
int restore_writer_patch_data(Restore *r, const Op *op, const YbSnapshotHeader *h,
                              const uint8_t *data, size_t n);
/* Waits until every file handed over is written and stops the thread (none running: 0). After
 * it the jobs may be read again. */
int restore_writer_drain(Restore *r);
/* Stops the thread, discarding what it has not written (restore_close). */
void restore_writer_free(Restore *r);

/* early.c: before the volumes are read in turn, reads the deltas that only write over the
 * generation before, within a memory budget, so that each goes to the writer thread right
 * after the generation it patches (restore_early_send, from content.c) and its file's check
 * runs beside the rest of the restore. -ENOMEM; a volume that cannot be read is left to its
 * turn. */
int restore_early_read(Restore *r);
/* Takes data (n bytes, malloc'd; freed once sent) as ops[op]'s delta, read early. */
int restore_early_add(Restore *r, size_t op, uint8_t *data, size_t n);
/* Job j's first generation is handed over: its deltas read early follow it to the writer. */
int restore_early_send(Restore *r, size_t j);
/* Frees what was read early and not sent. */
void restore_early_free(Restore *r);

/* place.c: each puts one entry into the target through directory fds, never following a link;
 * each returns 0 or -errno (-ENOTDIR: a symlink or non-directory is in the way). */
/* Gives job j's finished staging file its metadata and renames it into place. */
int restore_finish_file(Restore *r, size_t j);
/* A symlink, FIFO or device node (entry i of manifest m), made in staging and renamed in; a
 * hard link (its target checked in m, unless m is NULL). */
int restore_make_other(Restore *r, size_t i, const YbEntry *e, const YbManifest *m);
/* A hard link at path to the file job has put in place. */
int restore_link_to_job(Restore *r, const Job *job, const char *path);
/* A directory, made (or taken as it is) with owner and mode; its time comes later. */
int restore_make_dir(Restore *r, const YbEntry *e);
/* A directory's time, set once everything inside it is in place. */
void restore_finish_dir(Restore *r, const YbEntry *e);
/* Removes path and everything below it from the target (nothing if it is not there). */
int restore_remove(Restore *r, const char *path);
/* lstat of path in the target; -ENOENT if it or a directory on its way is not there. */
int restore_stat(Restore *r, const char *path, struct stat *ret);
/* Opens the regular file at path in the target for reading (the caller owns the fd); -ENOENT
 * when there is none (a symlink, a directory or nothing). */
int restore_open_file(Restore *r, const char *path);
/* Makes stage_name in the staging directory a hard link to the regular file at path in the
 * target (read as a basis, never written; or, sole, the file itself moving to a new name);
 * -ENOENT when there is no such file, -EMLINK (sole) when it has other names. */
int restore_link_basis(Restore *r, const char *path, const char *stage_name, bool sole);
/* Calls fn with the name of each entry of directory path in the target ("" for the target
 * itself); -ENOENT if it is not a directory there. */
int restore_list_dir(Restore *r, const char *path, int (*fn)(void *userdata, const char *name),
                     void *userdata);
/* Gives the file at e->path in the target e's owner, mode, xattrs and time. */
int restore_meta_in_place(Restore *r, const YbEntry *e);
/* Creates job's file where it goes, with its mode less the umask, when nothing has its name
 * there (-EEXIST otherwise, a symlink included); the caller owns the fd, and *ret_name (its
 * last component) names it for restore_unlink_created until the next placing call. */
int restore_create_file(Restore *r, const Job *job, const char **ret_name);
/* Removes the file restore_create_file made, by name in the directory it made it in. */
int restore_unlink_created(Restore *r, const char *name);
/* Gives a file restore_create_file made e's owner (when not ours), xattrs, mode (when the open
 * did not give it) and time. */
void restore_meta_created(Restore *r, int fd, const YbEntry *e);
/* Closes what place.c keeps open between entries. */
void restore_place_done(Restore *r);
