/* core/repo/format.h: repository format version 1, in brief. docs/format.md is the full text.
 *
 *   <store>/<system>/config                        clear JSON: format, system, public key
 *   <store>/<system>/snapshots/<id>/header         clear JSON line + Ed25519 signature line
 *   <store>/<system>/snapshots/<id>/manifest       sealed to the system key: zstd(binary records)
 *   <store>/<system>/snapshots/<id>/vol-NNNNNN     sealed to the system key: zstd(pax archive)
 *   <store>/<system>/snapshots/<id>/sigindex       sealed to the agent's state key: zstd(records)
 *   <store>/<system>/snapshots/<id>/skipped        if partial: sealed to the system key: zstd(JSON)
 *   <store>/<system>/tmp/<id>/                     a snapshot being written (not a snapshot)
 *   <store>/<system>/lock                          held by the one writer
 *   <store>/<system>/segments/<root>/<hour>/<id>/  a tier-2 segment (segment.h)
 *
 * A snapshot exists once its directory is renamed from tmp/ into snapshots/ and its header's
 * signature and file hashes check out. Volume entries are named "tree/<path>" (the file's whole
 * content) or "delta/<path>" (a librsync delta against the parent's version). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "core/codec/pax.h"
#include "core/crypto/hash.h"

#define YB_FORMAT_VERSION 1
#define YB_SNAPSHOT_ID_MAX 40
#define YB_MANIFEST_MAGIC "YBMANIF1"
#define YB_SIGINDEX_MAGIC "YBSIGIX1"
#define YB_VOLUME_TARGET_SIZE (64ULL * 1024 * 1024) /* plaintext bytes per volume, roughly */

/* Caps on what a reader accepts from repository bytes. */
#define YB_PATH_MAX_BYTES (64 * 1024)
#define YB_XATTR_MAX_COUNT 1024
#define YB_XATTR_MAX_BYTES (64 * 1024)
#define YB_HEADER_MAX_BYTES (16 * 1024 * 1024)
#define YB_SIG_MAX_BYTES (256 * 1024 * 1024)

typedef enum YbLevel {
        YB_LEVEL_FULL,
        YB_LEVEL_DIFFERENTIAL,
        YB_LEVEL_INCREMENTAL,
        YB_LEVEL_SEGMENT, /* tier 2: a sparse snapshot chained every few seconds (segment.h) */
        _YB_LEVEL_MAX,
} YbLevel;

const char *yb_level_to_string(YbLevel l);
int yb_level_from_string(const char *s); /* a YbLevel, or -EINVAL */

typedef enum YbEntryType {
        YB_ENTRY_FILE = 1,
        YB_ENTRY_DIR = 2,
        YB_ENTRY_SYMLINK = 3,
        YB_ENTRY_HARDLINK = 4, /* another name of an earlier file of this manifest */
        YB_ENTRY_FIFO = 5,
        YB_ENTRY_CHARDEV = 6,
        YB_ENTRY_BLOCKDEV = 7,
        YB_ENTRY_DELETED = 8, /* segments only: the path (and all below it) is gone */
        _YB_ENTRY_MAX,
} YbEntryType;

typedef enum YbContentKind {
        YB_CONTENT_EMPTY = 0,     /* a file of size 0: nothing stored */
        YB_CONTENT_WHOLE = 1,     /* volume entry "tree/<path>" holds the content */
        YB_CONTENT_DELTA = 2,     /* volume entry "delta/<path>" patches the parent's base_path */
        YB_CONTENT_UNCHANGED = 3, /* identical to the parent's base_path */
        _YB_CONTENT_MAX,
} YbContentKind;

/* One manifest record. Strings are NUL-terminated copies owned by the record. */
typedef struct YbEntry {
        YbEntryType type;
        char *path;
        uint32_t mode; /* permission bits, 07777 */
        uint32_t uid, gid;
        char *uname, *gname; /* "" when unknown */
        int64_t mtime_sec;
        uint32_t mtime_nsec;
        YbXattr *xattrs;
        size_t n_xattrs;
        /* YB_ENTRY_FILE */
        uint64_t size;
        YbContentKind content;
        uint8_t hash[YB_HASH_SIZE];        /* BLAKE2b-256 of the file's content */
        uint32_t volume;                   /* WHOLE, DELTA: vol-NNNNNN */
        uint32_t entry;                    /* WHOLE, DELTA: entry index in that volume, from 0 */
        uint64_t stored;                   /* WHOLE, DELTA: bytes of the volume entry */
        uint8_t stored_hash[YB_HASH_SIZE]; /* DELTA: BLAKE2b-256 of the delta */
        char *base_path;                   /* DELTA, UNCHANGED: the path in the parent snapshot */
        bool sparse;                       /* restore may leave holes for zero blocks */
        /* Written while it was read (a replicator's segment only): the content holds every write
         * completed before read_started_ns (wall clock) and some of those made during the read. */
        bool changing;
        int64_t read_started_ns;
        /* YB_ENTRY_SYMLINK: target; YB_ENTRY_HARDLINK: path of the first name */
        char *target;
        /* YB_ENTRY_CHARDEV, YB_ENTRY_BLOCKDEV */
        uint64_t rdev;
} YbEntry;

void yb_entry_clear(YbEntry *e); /* frees the strings and xattrs, zeroes the struct */
int yb_entry_copy(const YbEntry *src, YbEntry *ret);

/* Appends the binary form of e to out. */
int yb_manifest_encode_entry(const YbEntry *e, YbBuf *out);
/* Decodes one record. 1 and the record, 0 at the end marker, -EBADMSG if damaged. */
int yb_manifest_decode_entry(YbCursor *c, YbEntry *ret);

/* One slot of a table of records by path (open addressing). */
typedef struct YbPathSlot {
        uint32_t tag;  /* the path's hash, its high bits: most mismatches compare no string */
        uint32_t item; /* the record's number + 1, 0 = empty */
} YbPathSlot;

/* A whole manifest in memory, sorted as written (walk order), with a path index. */
typedef struct YbManifest {
        YbEntry *entries;
        size_t n;
        size_t alloc;
        YbPathSlot *index;
        size_t index_size;
} YbManifest;

YbManifest *yb_manifest_free(YbManifest *m);
DEFINE_FREEP(YbManifest, yb_manifest_free);
/* Parses a manifest's plaintext (magic, records, end marker). */
int yb_manifest_parse(const void *data, size_t n, YbManifest **ret);
/* Finds a record by path, or NULL. */
const YbEntry *yb_manifest_find(const YbManifest *m, const char *path);

/* The agent's record of one regular file, kept in the signature index. */
typedef struct YbSigEntry {
        char *path;
        uint64_t size;
        int64_t mtime_sec, ctime_sec;
        uint32_t mtime_nsec, ctime_nsec;
        uint64_t ino, dev;
        uint8_t hash[YB_HASH_SIZE];
        uint8_t *sig; /* librsync signature, NULL for small files */
        size_t sig_size;
        /* Known to have had no extended attributes (a form 2 index says so, docs/format.md):
         * while its ctime stays, it has none, and they need not be read. */
        bool no_xattrs;
} YbSigEntry;

/* The signature index in memory. Its tables, by path and by (dev, ino) for renames, are built on
 * the first lookup that needs them: a walk that meets the files in the index's own order needs
 * none (yb_sigindex_find_next). An index is used by one thread at a time. */
typedef struct YbSigIndex {
        YbSigEntry *entries;
        size_t n, alloc;
        YbPathSlot *index; /* NULL until built, and again after yb_sigindex_add */
        size_t index_size;
        size_t *ino_index;
} YbSigIndex;

YbSigIndex *yb_sigindex_free(YbSigIndex *x);
DEFINE_FREEP(YbSigIndex, yb_sigindex_free);
int yb_sigindex_encode_entry(const YbSigEntry *e, YbBuf *out);
int yb_sigindex_parse(const void *data, size_t n, YbSigIndex **ret);
/* Decodes one record (after its type byte, 1) as yb_sigindex_encode_entry wrote it; -EBADMSG if
 * damaged. */
int yb_sigindex_decode_entry(YbCursor *c, YbSigEntry *ret);
/* Decodes a path field as records hold it (length + bytes, a safe relative path). */
int yb_sigindex_decode_path(YbCursor *c, char **ret);
/* Appends e to x, which takes its path and signature (e is zeroed). */
int yb_sigindex_add(YbSigIndex *x, YbSigEntry *e);
/* The entry for path, or NULL. Without memory for the tables, the entries are read through. */
const YbSigEntry *yb_sigindex_find(YbSigIndex *x, const char *path);
/* yb_sigindex_find for a caller that asks in (mostly) the index's own order, as a walk of the
 * same tree does: the entry after the last one found (*cursor, 0 at first) is tried first, one
 * comparison instead of a hash of the path and a probe. */
const YbSigEntry *yb_sigindex_find_next(YbSigIndex *x, const char *path, size_t *cursor);
const YbSigEntry *yb_sigindex_find_inode(YbSigIndex *x, uint64_t dev, uint64_t ino);
