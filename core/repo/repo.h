/* core/repo/repo.h: a system's repository in a store: its config, its snapshots' signed headers,
 * sealed reading and writing, and the writer lock. */
#pragma once

#include "core/crypto/keys.h"
#include "core/crypto/seal.h"
#include "core/repo/format.h"
#include "core/repo/pg.h"
#include "core/store/store.h"

/* The clear config at <system>/config. */
typedef struct YbRepoConfig {
        int format;
        char system[YB_SYSTEM_ID_MAX + 1];
        YbPublicKey pub;
        int64_t created_ns;
} YbRepoConfig;

/* A file of a snapshot as its header records it. */
typedef struct YbFileRef {
        char name[32];
        uint64_t size;
        uint8_t hash[YB_HASH_SIZE]; /* BLAKE2b-256 of the file's bytes as stored */
} YbFileRef;

typedef struct YbSnapshotCounts {
        uint64_t files, dirs, symlinks, hardlinks, special;
        uint64_t whole, delta, unchanged, empty; /* how regular files were stored */
        uint64_t deleted, renamed, errors;
        /* Files kept as read while they were being written (a segment's manifest flags them);
         * in the header only when not 0. */
        uint64_t changing;
} YbSnapshotCounts;

typedef struct YbSnapshotHeader {
        char id[YB_SNAPSHOT_ID_MAX + 1];
        char system[YB_SYSTEM_ID_MAX + 1];
        YbLevel level;
        uint64_t seq; /* a segment's number in its chain (1, 2, ...); 0 for other levels */
        char parent[YB_SNAPSHOT_ID_MAX + 1]; /* "" for a full */
        char base[YB_SNAPSHOT_ID_MAX + 1];   /* the full this chain starts from ("" for a full) */
        int64_t started_ns, finished_ns;
        char host[256];
        uint8_t agent_pk[32];
        uint8_t key_id[YB_KEY_ID_SIZE];       /* the system key the manifest and volumes use */
        uint8_t state_key_id[YB_KEY_ID_SIZE]; /* the agent key the sigindex uses */
        YbSnapshotCounts counts;
        uint64_t bytes_source, bytes_read, bytes_stored;
        bool partial; /* some files could not be read */
        YbFileRef *files;
        size_t n_files;
        char **sources;
        size_t n_sources;
        /* The PostgreSQL base backups the snapshot holds, one per physical hook (pg.h); in the
         * header's JSON only when there is one. */
        YbPgBackup *pg;
        size_t n_pg;
} YbSnapshotHeader;

YbSnapshotHeader *yb_header_free(YbSnapshotHeader *h);
DEFINE_FREEP(YbSnapshotHeader, yb_header_free);
/* Appends the header's JSON line and the agent's signature line to out. */
int yb_header_format(const YbSnapshotHeader *h, const YbAgentIdentity *agent, YbBuf *out);
/* Parses a header and checks its signature against the agent key it names. -EBADMSG if the
 * signature or the syntax fails, -EPROTONOSUPPORT for another format version. */
int yb_header_parse(const void *data, size_t n, YbSnapshotHeader **ret);
/* Formats the header as a JSON object for `--json` listings; the caller frees it. */
char *yb_header_to_json(const YbSnapshotHeader *h);
const YbFileRef *yb_header_find_file(const YbSnapshotHeader *h, const char *name);
/* Makes a new snapshot id from a time: "20261121T182212Z-3fa9c2". */
void yb_snapshot_id_new(int64_t now_ns, char ret[YB_SNAPSHOT_ID_MAX + 1]);
bool yb_snapshot_id_valid(const char *id);
/* The time (ns, whole seconds) that a snapshot id names in its first 16 characters
 * ("20261121T182212Z"): 0, or -EINVAL if it names none. The id of a snapshot whose header is
 * damaged is all that tells when it was taken. */
int yb_snapshot_id_time(const char *id, int64_t *ret);

typedef struct YbRepo {
        YbStore *store; /* borrowed */
        char *system;
        YbRepoConfig config;
        bool locked;
        char lock_owner[256];
} YbRepo;

YbRepo *yb_repo_free(YbRepo *r);
DEFINE_FREEP(YbRepo, yb_repo_free);
/* Opens system's repository. -ENOENT if the store has none for system, -EBADMSG if its config is
 * damaged, -EPROTONOSUPPORT for an unknown format version. */
int yb_repo_open(YbStore *store, const char *system, YbRepo **ret);
/* Opens the repository, creating it (config included) if the store has none. -EKEYREJECTED if it
 * exists with another public key. */
int yb_repo_open_or_create(YbStore *store, const YbPublicKey *pub, YbRepo **ret);
/* "<system>/<rest>": the caller frees it. */
char *yb_repo_path(const YbRepo *r, const char *rest);
char *yb_repo_snapshot_path(const YbRepo *r, const char *id, const char *file);

/* Takes the writer lock (<system>/lock, created exclusively). -EBUSY if another live writer holds
 * it; a lock left by a dead process on this host is broken. */
int yb_repo_lock(YbRepo *r);
void yb_repo_unlock(YbRepo *r);
/* Removes leftovers of interrupted backups and prunes under tmp/ (a detached segment chain's
 * tmp/prune-seg-<root> too, even while yb_segments_remove_detached removes it), but not
 * tmp/copy-* (a copy in progress, which the next one resumes: copy.h) nor tmp/repair-<id> while
 * snapshot id exists (a repair's checked twins, which the next repair uses); then, on an object
 * store, yb_repo_cleanup_incomplete. Needs the lock. (core/repo/leftovers.c) */
int yb_repo_cleanup_tmp(YbRepo *r);
/* On an object store: removes the incomplete snapshots (snapshots/<id>/ without a header) but
 * those a copy or a repair is finishing (tmp/copy-<id>, tmp/repair-<id>), and the incomplete
 * segments of every hour without an index. Elsewhere does nothing. Needs the lock. */
int yb_repo_cleanup_incomplete(YbRepo *r);
/* Whether the point (snapshot or segment) directory dir is incomplete: on an object store, its
 * header is missing (1); elsewhere, or with a header, 0; or the store's -errno. */
int yb_repo_point_incomplete(YbRepo *r, const char *dir);
/* Removes directory dir, a leftover (what, "The incomplete snapshot", names it for people):
 * what Object Lock keeps (-EPERM) is named with its retain-until date in a warning and left,
 * which is not an error. 0 or the store's -errno. */
int yb_repo_remove_leftover(YbRepo *r, const char *dir, const char *what);

/* Pruning (core/repo/prune.c; docs/format.md, "Pruning"). Both need the lock (yb_repo_lock).
 * A snapshot is removed so that a crash never leaves part of it in snapshots/: snapshots/<id> is
 * renamed to tmp/prune-<id> (which yb_repo_cleanup_tmp clears), both directories are synced,
 * then its files are removed and tmp/ is synced. A snapshot that a remaining one names as its
 * parent or base (the unverified header of a damaged one included) is never removed. A base
 * backup's WAL archive chain (walarchive.h) is removed with it: detached first, then the base,
 * then the chain's files. */

/* Called once per id: error 0 (removed), -ENOTEMPTY (child names a remaining snapshot that needs
 * it, or is YB_PRUNE_NEEDED_BY_SEGMENTS when the snapshot is the root of a tier-2 segment chain
 * that still exists, or of a chain that cannot be told whole: segment.h,
 * yb_segments_prune_chain), -EPERM (S3 Object Lock keeps it: child is the date it can be
 * pruned from, as yb_prune_format_date writes it; nothing of it was touched), -EBUSY (an S3 legal
 * hold keeps it: child is the held object's key; nothing of it was touched), -ENOENT (no such
 * snapshot), or the store's -errno: then child, when it starts with YB_PRUNE_PARTLY, says that
 * the snapshot was partly pruned on an object store ("its header and N objects are deleted; KEY
 * is kept by ...; the next backup or prune removes the rest once ..."); NULL there says that
 * nothing of it was deleted. */
#define YB_PRUNE_PARTLY "its header and "
#define YB_PRUNE_NEEDED_BY_SEGMENTS "its segment chain (segments/)"
typedef void (*YbPruneFn)(void *userdata, const char *id, int error, const char *child);
/* Removes the snapshots ids, children before their parents, checked against one listing.
 * Refused ones are skipped (and reported through fn, if non-NULL); a failure of the store stops
 * it. Returns 0 if all were removed, else the first -errno: -ENOTEMPTY, -ENOENT, -EINVAL (an id
 * that is not a snapshot id), the store's -errno, or -EIO/-EACCES... from reading a header, when
 * it cannot tell what needs what (then nothing is removed). */
int yb_repo_prune_many(YbRepo *r, const char *const *ids, size_t n, YbPruneFn fn, void *userdata);
/* Until when (seconds since the epoch) S3 Object Lock keeps snapshot id: its header's
 * retain-until date (the header is written last, so it holds the latest date of its objects);
 * 0 when it has none (every store but a locked S3 one: nothing is read there) or no header. */
int yb_repo_locked_until(YbRepo *r, const char *id, int64_t *ret);
/* A lock date (seconds) as "2026-12-06T20:10:30Z" (UTC), as prunes and certificates print it. */
#define YB_PRUNE_DATE_MAX 21
void yb_prune_format_date(int64_t sec, char ret[YB_PRUNE_DATE_MAX]);
/* Removes one snapshot: -ENOTEMPTY (logged at debug, naming the child) if a remaining snapshot
 * needs it; otherwise as yb_repo_prune_many. */
int yb_repo_prune(YbRepo *r, const char *id);

/* What list and verify say of an incomplete snapshot or segment (an object store's point written
 * in place, without its header yet). */
#define YB_INCOMPLETE_TEXT "incomplete (no header): being written, or left by an interrupted backup"

/* A snapshot directory whose header is missing (but on an object store) or does not check out. */
typedef struct YbBrokenSnapshot {
        char *id;
        int error;
} YbBrokenSnapshot;

typedef struct YbSnapshotList {
        YbSnapshotHeader **items; /* oldest first */
        size_t n;
        YbBrokenSnapshot *broken;
        size_t n_broken;
        /* On an object store, the ids of snapshots/<id>/ without a header: being written, or
         * left by an interrupted writer. Neither snapshots nor damaged (docs/format.md, "S3
         * stores"). Sorted. */
        char **incomplete;
        size_t n_incomplete;
} YbSnapshotList;

void yb_snapshot_list_done(YbSnapshotList *l);
/* Lists the committed snapshots with valid headers, oldest first; others go into broken, but on
 * an object store those without a header into incomplete. */
int yb_repo_list(YbRepo *r, YbSnapshotList *ret);
/* Loads and checks one snapshot's header: -ENOENT if it has none, -EBADMSG if it does not check
 * out (its signature, or another snapshot's, system's or key's header, or a segment's). */
int yb_repo_load_header(YbRepo *r, const char *id, YbSnapshotHeader **ret);
/* The same, also giving the header's exact bytes in *ret_bytes (the caller frees them with
 * yb_buf_done; written only on success), as copies and repairs compare them byte for byte. */
int yb_repo_load_header_bytes(YbRepo *r, const char *id, YbBuf *ret_bytes, YbSnapshotHeader **ret);
/* Parses a point's header bytes (a snapshot's or a segment's, read from wherever it lives) and
 * checks that it is point id's, of this repository's system and key: -EBADMSG if not. */
/* Why point id's header did not check out, when the reason is that the repository's config was
 * replaced: the header parses and is id's, of this system, but was written for another key. Then
 * 1 and ret says "the repository's config was replaced (it names key X; snapshot ID was written
 * for key Z)"; 0 for any other reason (or none). Nothing is trusted from the header but the key
 * id it names. */
#define YB_REPO_KEY_TEXT_MAX 256
int yb_repo_header_key_replaced(YbRepo *r, const char *id, char ret[YB_REPO_KEY_TEXT_MAX]);
int yb_repo_header_check(YbRepo *r, const void *data, size_t n, const char *id,
                         YbSnapshotHeader **ret);
/* The snapshot in list with this id, or NULL. */
const YbSnapshotHeader *yb_snapshot_list_find(const YbSnapshotList *l, const char *id);
/* The newest damaged snapshot of l (by the time its id names) that may be newer than h (NULL:
 * than none) and is not later than until_ns, or NULL. A damaged one from h's second counts as
 * newer unless a snapshot no newer than h names it as its parent or base: the id tells only
 * the second. Restores use it so that they never take an older snapshot in silence. */
const YbBrokenSnapshot *yb_snapshot_list_damaged_after(const YbSnapshotList *l,
                                                       const YbSnapshotHeader *h, int64_t until_ns);

/* Sealed output: store file <- BLAKE2b and size <- seal <- (zstd when level > 0). With
 * threads > 0, compression, sealing and writing run in a thread of their own, fed in 4 MiB
 * blocks, while the caller goes on producing; with threads > 1 (and zstd), sealing, hashing and
 * writing run in a second thread, fed by the first. threads = YB_SEALED_OUT_SIDE: one thread fed
 * in 512 KiB blocks, for a stream written beside other work (a snapshot's manifest, beside the
 * walk), so that little of it is left to compress when that work ends. */
#define YB_SEALED_OUT_SIDE (-1)
typedef struct YbSealedOut YbSealedOut;
int yb_sealed_out_new(YbStore *s, const char *path, const char *name, const YbPublicKey *pub,
                      const char *context, int zstd_level, int threads, YbSealedOut **ret);
int yb_sealed_out_write(YbSealedOut *o, const void *data, size_t n);
int yb_sealed_out_write_cb(void *userdata, const void *data, size_t n);
/* Ends the streams, fsyncs and closes, in the background when o has a thread: the caller may
 * go on with other work (another file) meanwhile. Nothing may be written after it. Returns 0 or
 * an error already known; yb_sealed_out_finish waits and tells the rest. */
int yb_sealed_out_finish_start(YbSealedOut *o);
/* Ends the streams, fsyncs, closes (or waits for yb_sealed_out_finish_start to have done so),
 * and describes the file. */
int yb_sealed_out_finish(YbSealedOut *o, YbFileRef *ret);
YbSealedOut *yb_sealed_out_free(YbSealedOut *o);
DEFINE_FREEP(YbSealedOut, yb_sealed_out_free);

/* Writes a new file of a snapshot (a header: the file whose appearance commits it on an object
 * store) with data, created with YB_STORE_RETAIN, and syncs it. -EEXIST if it exists. */
int yb_repo_write_backup_file(YbStore *s, const char *path, const void *data, size_t n);

/* Sealed input: store file (checked against ref's size and hash at the end) -> open seal ->
 * (zstd). A mismatch anywhere is -EBADMSG. */
typedef struct YbSealedIn YbSealedIn;
int yb_sealed_in_open(YbStore *s, const char *path, const YbFileRef *ref, const YbSecretKey *key,
                      const char *context, bool zstd, YbSealedIn **ret);
ssize_t yb_sealed_in_read(YbSealedIn *i, void *data, size_t n);
/* From now on, reading, authenticating and decompressing run ahead in a thread of their own. */
int yb_sealed_in_prefetch(YbSealedIn *i);
ssize_t yb_sealed_in_read_cb(void *userdata, void *data, size_t n);
/* The same bytes lent, not copied (a YbPeekFn): from the prefetch thread's block when it runs. */
ssize_t yb_sealed_in_peek(YbSealedIn *i, const void **ret);
ssize_t yb_sealed_in_peek_cb(void *userdata, const void **ret);
YbSealedIn *yb_sealed_in_free(YbSealedIn *i);
DEFINE_FREEP(YbSealedIn, yb_sealed_in_free);
/* Reads a whole sealed file into out (at most max bytes; -EFBIG past them), which has no cap. */
int yb_sealed_read_all(YbStore *s, const char *path, const YbFileRef *ref, const YbSecretKey *key,
                       const char *context, bool zstd, size_t max, YbBuf *out);
/* The context string sealed into a snapshot's file: "yunbak/1 <system> <id> <file>". */
void yb_seal_context(const char *system, const char *id, const char *file, char ret[256]);

/* Loads a point's manifest (with key) / signature index (with the agent's state key), a
 * snapshot's or a segment's (yb_repo_point_path). A manifest with a YB_ENTRY_DELETED record is
 * -EBADMSG unless it is a segment's. */
int yb_repo_load_manifest(YbRepo *r, const YbSnapshotHeader *h, const YbSecretKey *key,
                          YbManifest **ret);
/* A signature index that is a delta against its parent's is -EBADMSG here: the agent resolves
 * those through their chain (core/repo/sigdelta.h). */
int yb_repo_load_sigindex(YbRepo *r, const YbSnapshotHeader *h, const YbSecretKey *state_key,
                          YbSigIndex **ret);

/* The entries a partial snapshot lacks, from its sealed file "skipped": *ret is an array of n
 * strings "<path>: <why>" (the caller frees each and the array). A snapshot without the file
 * gives none (n = 0). -EBADMSG if the file is damaged. */
int yb_repo_load_skipped(YbRepo *r, const YbSnapshotHeader *h, const YbSecretKey *key, char ***ret,
                         size_t *ret_n);

/* The config file's JSON (docs/format.md, "Config"). */
int yb_repo_config_format(const YbRepoConfig *c, char **ret);
int yb_repo_config_parse(const void *data, size_t n, YbRepoConfig *ret);
