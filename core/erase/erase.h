/* core/erase/erase.h: destroying files and telling honestly what that achieved
 * (docs/decommission.md, "Honest methods"). Used by `yunbak key destroy` (a key file), yunbakd's
 * decommission (the repository of a system in each store) and `yunbak-agent wipe` (a system's
 * source paths and the agent's state for it).
 *
 * An overwrite in place proves something only where the next write of a file's blocks reaches
 * the same physical blocks: a plain filesystem (ext2/3/4 without data=journal, XFS without
 * reflinks) on a local spinning disk that is neither thin, loop, network nor virtual. Everywhere
 * else (copy-on-write and log-structured filesystems, a journaled-data mount, a thin, loop,
 * virtual or network volume, flash, a remote SFTP store) it proves nothing: the medium says so,
 * and what the cloud operator must still do (destroy the volume). dm-crypt/LUKS beneath is named:
 * erasing its key slots is the real purge there. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/store/store.h"

/* What was found beneath a path, for people and for the certificate. Strings are terminated. */
typedef struct YbMedium {
        char fstype[32]; /* "ext4", "btrfs", "xfs", "tmpfs", "nfs4", ...; "sftp", "s3": a remote
                          * store */
        char device[64]; /* the block device's kernel name ("vda", "loop0", "dm-2"), or "" */
        char kind[48];   /* "disk", "solid-state disk", "virtual disk", "loop device",
                          * "thin volume", "network filesystem", "memory", "remote SFTP server",
                          * "S3 object store" */
        bool overwrite_effective; /* an overwrite in place reaches the blocks that held the data */
        bool encrypted;           /* dm-crypt/LUKS beneath */
        char why[512];            /* why the overwrite is (or is not) effective, one sentence */
        char operator_must[512];  /* what the operator must still do to purge the medium; "" if
                                   * nothing */
} YbMedium;

/* The facts the judgement rests on, as read from statfs, /proc/self/mountinfo and /sys/dev/block
 * (yb_medium_probe), or made up by a unit test. */
typedef struct YbMediumFacts {
        char fstype[32];
        char mount_options[256]; /* the superblock options of mountinfo ("rw,data=journal") */
        bool xfs_reflink;        /* XFS formatted with reflink=1 */
        char device[64];         /* kernel name of the block device, "" when none */
        bool rotational;         /* /sys/block/<disk>/queue/rotational */
        bool loop, thin, virtual_disk, dm_crypt, network, memory;
        char slaves[128]; /* what a device-mapper device sits on, for messages */
        /* Added by part E of issue 13, for messages: */
        char disk[64];          /* the disk at the bottom of the stack ("vda", "loop0") */
        char backing_file[256]; /* a loop device's backing file */
        char source[128];       /* the mount's source ("/dev/vda1", "server:/export") */
} YbMediumFacts;

/* Judges facts into *ret (pure; unit-tested). */
void yb_medium_judge(const YbMediumFacts *facts, YbMedium *ret);
/* Reads the facts for the filesystem holding path (which must exist) and judges them. 0 or
 * -errno. */
int yb_medium_probe(const char *path, YbMedium *ret);
/* Only reads those facts (core/erase/medium-probe.c), for tests and messages. 0 or -errno. */
int yb_medium_read_facts(const char *path, YbMediumFacts *ret);
/* The medium of a remote store at location, SFTP or S3 (for messages): overwrite never
 * effective. */
void yb_medium_remote(const char *location, YbMedium *ret);

/* What an erase did. */
typedef struct YbEraseReport {
        YbMedium medium;
        bool overwritten; /* regular files were removed and every one was overwritten first */
        uint64_t files, dirs, others; /* regular files, directories, other entries removed */
        uint64_t bytes;               /* sizes of the regular files removed */
        uint64_t left;        /* entries not removed: another filesystem mounted below, or one that
                               * could not be removed (then the erase also fails) */
        char left_first[512]; /* the first of them, "<path> (<why>)" */
        uint64_t linked;      /* regular files removed that had other hard links: their data
                               * lives on under those names, which may lie outside */
        char linked_first[512]; /* the first of them, "<path> (inode <n> on <maj>:<min>, <k>
                                 * other names: find them with find -xdev -inum <n>)" */
        /* On an S3 store with Object Lock: the objects the lock kept (not counted in files and
         * bytes, which are what was deleted), the latest of their retain-until dates (seconds
         * since the epoch) and the first of them, "<path> (until <date>)". */
        uint64_t locked, locked_bytes;
        int64_t locked_until;
        char locked_first[512];
} YbEraseReport;

/* How to erase. */
typedef enum YbOverwrite {
        YB_OVERWRITE_IF_EFFECTIVE, /* overwrite only where the medium makes it mean something */
        YB_OVERWRITE_ALWAYS,       /* overwrite anyway (a key file: cheap), say what it proves */
        YB_OVERWRITE_NEVER,
} YbOverwrite;

/* Destroys one regular file: overwrites it in place (random bytes, as ow says), fsyncs, unlinks,
 * fsyncs the directory, and checks it can no longer be opened. Never follows a symlink. 0 with
 * *ret filled, -ENOENT if there is no such file, other -errno with why in err. */
int yb_erase_file(const char *path, YbOverwrite ow, YbEraseReport *ret, char *err, size_t err_size);

/* Removes path and everything below it (keep_top: all below, keeping the directory itself, for a
 * mount point), never following a symlink and never entering another filesystem (named in
 * report->left), overwriting regular files first as ow says; fsyncs each directory it changed.
 * Nothing there: 0 with files == dirs == 0 (an erase run again is not an error). -errno with why
 * in err (what was removed so far is counted in *ret). */
int yb_erase_tree(const char *path, bool keep_top, YbOverwrite ow, YbEraseReport *ret, char *err,
                  size_t err_size);

/* What yb_erase_tree would remove, counted into *ret without removing or writing anything (a dry
 * run): the same walk, the same mounts left, overwritten as it would be. Same returns. */
int yb_erase_tree_survey(const char *path, bool keep_top, YbOverwrite ow, YbEraseReport *ret,
                         char *err, size_t err_size);

/* As yb_erase_tree with keep_top, below the directory dir_fd already open (path names it, for
 * messages and the medium): what was checked is what is erased, whatever is renamed or replaced
 * on the way to path meanwhile. dry_run: as yb_erase_tree_survey. dir_fd stays the caller's.
 * Same returns. */
int yb_erase_below_fd(int dir_fd, const char *path, YbOverwrite ow, bool dry_run,
                      YbEraseReport *ret, char *err, size_t err_size);

/* Erases directory path of store s (a system's repository): a local store as yb_erase_tree, a
 * remote one with the store's own removal, its medium yb_medium_remote. Same returns. On an S3
 * store with Object Lock what the lock keeps stays (named in locked..., not an error: every
 * other object is deleted); anything else left is an error, as on every store. */
int yb_erase_store_tree(YbStore *s, const char *path, YbOverwrite ow, YbEraseReport *ret, char *err,
                        size_t err_size);

/* Calls fn for every file below directory path of store s (each with its stat: on an S3 store
 * its retain_until), depth first; fn's negative return stops the walk and is returned. -ENOENT
 * when path does not exist. */
int yb_erase_store_each(YbStore *s, const char *path,
                        int (*fn)(void *ud, const char *path, const YbStoreStat *st), void *ud);

/* The medium and a report as JSON objects for results and the certificate
 * (docs/decommission.md, "Certificate"); NULL when out of memory. The caller owns them. */
json_t *yb_medium_json(const YbMedium *m);
json_t *yb_erase_report_json(const YbEraseReport *r);
