/* restore/restore-internal.h: the state of one restore, shared by its parts: restore.c (the
 * chain, the plan of operations per file, and the order of the whole), content.c (file contents
 * from the chain's volumes into staging files), place.c (entries into the target, never through a
 * link), and below them all state.c (reports and staging names). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/macro.h"
#include "restore/restore.h"

#define BUF_SIZE (1024 * 1024)
#define STAGING_PREFIX ".yunbak-restore-"

typedef struct Chain {
        const YbSnapshotHeader *h; /* chain[0] is the snapshot restored, then its parents */
        YbManifest *m;             /* loaded on first use */
} Chain;

/* One operation on a file's staging copy: its content from volume entry (vol, entry) of
 * chain[level], whole or as a delta. */
typedef struct Op {
        size_t level;
        uint32_t vol, entry;
        bool delta;
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
} Job;

typedef struct PlaceCursor PlaceCursor; /* place.c: the directory it opened last */

typedef struct Restore {
        YbRepo *repo;
        const YbSecretKey *key;
        Chain *chain;
        size_t n_chain;
        Job *jobs;
        size_t n_jobs;
        Op *ops;
        size_t n_ops, ops_alloc;
        int target_fd, staging_fd;
        char staging[64];
        uint8_t *buf;
        YbRestoreReportFn report;
        void *userdata;
        YbRestoreStats stats;
        bool root;
        PlaceCursor *cursor; /* NULL until place.c first needs it */
} Restore;

/* state.c: reports an entry that could not be restored (counted in stats; damaged: the repository's
 * fault) with a message made from fmt. */
void restore_fail_entry(Restore *r, const char *path, bool damaged, const char *fmt, ...)
        _printf_(4, 5);
/* The name in the staging directory of generation gen of job's file. */
void restore_staging_name(const Restore *r, size_t job, unsigned gen, char ret[64]);

/* content.c: reads volume r->ops[first].vol of its snapshot once, applying ops first..end-1
 * (sorted by entry) to their staging files. A volume that cannot be read fails the entries that
 * needed it (reported) and returns 0; -ENOMEM and the like are returned. */
int restore_read_volume(Restore *r, size_t first, size_t end);

/* place.c: each puts one entry into the target through directory fds, never following a link;
 * each returns 0 or -errno (-ENOTDIR: a symlink or non-directory is in the way). */
/* Gives job j's finished staging file its metadata and renames it into place. */
int restore_finish_file(Restore *r, size_t j);
/* A symlink, FIFO or device node (entry i of manifest m), made in staging and renamed in. */
int restore_make_other(Restore *r, size_t i, const YbEntry *e, const YbManifest *m);
/* A hard link at path to the file job has put in place. */
int restore_link_to_job(Restore *r, const Job *job, const char *path);
/* A directory, made (or taken as it is) with owner and mode; its time comes later. */
int restore_make_dir(Restore *r, const YbEntry *e);
/* A directory's time, set once everything inside it is in place. */
void restore_finish_dir(Restore *r, const YbEntry *e);
/* Closes what place.c keeps open between entries. */
void restore_place_done(Restore *r);
