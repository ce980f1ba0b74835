/* agents/backup-internal.h: the parts of one tier-1 backup (agent_backup, agents/backup.c) and the
 * state they share. Private to the backup; the rest of yunbak-agent needs only agents/agent.h.
 *
 * From the bottom up: the metadata of a record (meta.c), extended attributes (xattrs.c), files
 * with several names (hardlinks.c), a file's hash and signature (digest.c), reporting
 * (backup-report.c), reading a file that may change (file-read.c), storing a file's or a
 * stream's content whole or as a delta (file-content.c; a big file's delta on a worker thread:
 * delta-worker.c), deciding how to back up a regular file
 * (file.c), the local cache of signature indexes (sigcache.c); then the steps agent_backup takes in
 * order: opening the repository (backup-open.c), choosing the parent (backup-parent.c), the streams
 * (stream-backup.c), the PostgreSQL base backups (pg-physical.c, on a libpq session of
 * pg-session.c), the walk (backup-walk.c, which refuses a running cluster's files: pg-live.c)
 * and the commit (backup-commit.c). Lower parts never
 * call higher ones. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "agents/agent.h"
#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/base/pipeline.h"
#include "core/codec/delta.h"
#include "core/codec/deltagen.h"
#include "core/codec/sigsum.h"
#include "core/crypto/hash.h"
#include "core/repo/sigdelta.h"
#include "core/repo/writer.h"

/* The size of the backup's read buffer (AgentBackup.buf), and of the digest helper's blocks. */
#define AGENT_READ_BUF_SIZE (1024 * 1024)
/* agent_read_pass's code for "the source file could not be read" (AgentBackup.read_error says
 * why), so that it is told apart from a failure to write the store: the first skips a file, the
 * second stops the backup. */
#define AGENT_E_SOURCE_READ 10000

/* User and group names by id, each looked up once (agents/meta.c). Zero-initialised is empty. */
typedef struct AgentOwners {
        struct AgentIdName *users, *groups;
        size_t n_users, n_groups;
} AgentOwners;

/* Frees the names; the strings the two functions below handed out go with them. */
void agent_owners_done(AgentOwners *o);
/* Fills the metadata every record carries from a walked entry's stat. ret borrows its strings:
 * the path from e, the owner and group names from o (they are not freed with the entry). */
void agent_meta_from_stat(AgentOwners *o, const AgentWalkEntry *e, YbEntry *ret);
/* The same for what the agent makes itself (streams and their directories): the agent's own
 * owner and group, mode 0700, mtime ns (wall clock, in nanoseconds). */
void agent_meta_own(AgentOwners *o, const char *path, int64_t ns, YbEntry *ret);

/* Files with several names already stored, by (dev, ino) (agents/hardlinks.c). Zero-initialised
 * is empty. */
typedef struct AgentLinks {
        struct AgentLinkSeen *slots; /* open addressing; the table stays at most half full */
        size_t n, size;
} AgentLinks;

/* The path under which the file (dev, ino) was first stored, or NULL. It lives as long as l. */
const char *agent_links_find(const AgentLinks *l, uint64_t dev, uint64_t ino);
/* Remembers path (copied) as the first name of (dev, ino); keeps an earlier one. 0 or -ENOMEM. */
int agent_links_add(AgentLinks *l, uint64_t dev, uint64_t ino, const char *path);
void agent_links_done(AgentLinks *l);

/* A file's content hash and librsync signature, computed as its bytes go by (agents/digest.c). */
typedef struct AgentDigest {
        YbHash hash;
        YbSigBuilder *sig; /* NULL when the file is too small to delta later, or a delta's */
        YbPipeline *pipe;  /* the helper thread of a big file, or NULL */
} AgentDigest;

/* Starts a digest of a file of size bytes. On failure d holds nothing. */
int agent_digest_begin(AgentDigest *d, uint64_t size);
/* The same for a file about to be stored as a delta, whose signature the delta makes: the hash
 * alone (under the test hook YUNBAK_TEST_SIG_CHECK, also the signature, to check the delta's with
 * agent_digest_check_sig). */
int agent_digest_begin_hash(AgentDigest *d, uint64_t size);
/* Under the test hook, check (agent_digest_end's signature of a digest begun with
 * agent_digest_begin_hash) is not empty and must equal sig: -EIO when it does not. */
int agent_digest_check_sig(const YbBuf *check, const YbBuf *sig);
/* Gives the next bytes; the helper's error if it has failed. */
int agent_digest_feed(AgentDigest *d, const void *data, size_t n);
/* Waits for the helper, then gives the hash and (appended to sig, which it clears first) the
 * signature; sig stays empty for a file too small to delta. Frees what d holds either way. */
int agent_digest_end(AgentDigest *d, uint8_t ret_hash[YB_HASH_SIZE], YbBuf *sig);
/* Frees what d holds (the helper first: its thread uses the rest). Safe to call twice. */
void agent_digest_done(AgentDigest *d);

/* One backup, shared by its steps. agent_backup owns it and everything it points to. */
typedef struct AgentBackup {
        const AgentBackupArgs *args;
        char **roots;  /* per source, the name the snapshot keeps it under (points into args) */
        YbLevel level; /* as asked; a full backup when there is no parent */
        const AgentWalkEntry *cur; /* the file being read */
        int read_error;            /* errno of the last source read that failed */
        bool no_proc;              /* /proc is not mounted: extended attributes cannot be read */
        /* The entry being backed up has no extended attributes, known: read, or its parent's
         * index entry says it had none and its ctime (which every change of them moves) stayed;
         * its index entry says so (YbSigEntry.no_xattrs). */
        bool xattrs_none;
        const YbSigEntry *prev_hint; /* index entry of the entry being backed up, or NULL */
        size_t index_next;  /* the index entry after the last one found (the walk's order) */
        unsigned mutations; /* test hook: times the file was changed under us */
        YbStore *store;
        YbRepo *repo;
        YbAgentIdentity *agent;
        YbSnapshotList list;                   /* the snapshots; parent and base point into it */
        const YbSnapshotHeader *parent, *base; /* NULL for a full backup */
        char host[256]; /* this host's name, which the writer records at the commit */
        YbSnapshotWriter *w;
        YbSnapshotHeader hdr;  /* counts and byte totals as they grow */
        YbSigIndex *index;     /* the parent's, or NULL */
        char **sig_chain;      /* the snapshots index was resolved from, its own first */
        bool sig_delta;        /* this snapshot's index is a delta against index */
        uint8_t *seen;         /* per index entry: still present */
        AgentWalkAhead *ahead; /* the first source's walk, begun before the parent loaded */
        AgentLinks links;
        AgentOwners owners;
        uint8_t *buf; /* AGENT_READ_BUF_SIZE bytes */
        json_t *errors;
        json_t *streams;     /* what each stream stored, for the summary */
        bool *stream_stored; /* per stream: it (and the directories above it) is in the snapshot */
        /* The replicator's hooks (NULL in a backup): where a file's previous version is found,
         * by path or by (dev, ino), instead of index; and a call for every regular file
         * recorded with its content (not a hard link), to keep its new signature. */
        const YbSigEntry *(*find_prev)(void *userdata, const char *path);
        const YbSigEntry *(*find_prev_inode)(void *userdata, uint64_t dev, uint64_t ino);
        int (*recorded)(void *userdata, const YbEntry *me, const YbSigEntry *se);
        void *hook_userdata;
        /* The replicator's choice: a file that changed while read on every attempt is stored
         * as the last attempt read it, flagged "changing", instead of left out (file.c). */
        bool keep_changing;
        /* For agent_read_pass: read to the end even when the file changes (finish_changed),
         * then say whether it did (pass_changed) and when the pass began (wall clock). */
        bool finish_changed, pass_changed;
        int64_t pass_started_ns;
        /* The replicator: a file found by its inode with size, mtime and ctime unchanged moved
         * with its directory and is recorded unchanged without being read; so a file whose ctime
         * (not only mtime) is less than a second old when read is not vouched for. */
        bool trust_moves;
        /* Walking a PostgreSQL cluster between pg_backup_start and pg_backup_stop: a file that
         * changes while read is kept as read (WAL replay repairs it), neither read again nor
         * reported, and counted in pg_changed; the index does not vouch for it. */
        bool pg_keep_as_read;
        uint64_t pg_changed;
        json_t *pg; /* what each base backup did, for the summary */
        /* The walk was stopped by a check that has said why (a running cluster's files). */
        bool walk_stopped_said;
} AgentBackup;

/* Reports an entry that is left out of the snapshot, once, and marks the snapshot partial
 * (agents/backup-report.c). error is a negative errno, or 0 when why says it all. */
void agent_backup_error(AgentBackup *b, const char *abs, int error, const char *why);
/* Logs the message as an error and returns the exit code (YB_EXIT_*) for the negative errno r. */
int agent_fail(int r, const char *fmt, ...) _printf_(2, 3);
/* Says that the backup failed and nothing was committed, because of r (-ENOSPC: the store is
 * full); returns the exit code for r. */
int agent_backup_failed(const AgentBackup *b, int r);

/* Reads every extended attribute of e (POSIX ACLs included) into me->xattrs (agents/xattrs.c).
 * When they cannot be read, says so and goes on without them; returns 0, or -ENOMEM to stop. */
int agent_xattrs_read(AgentBackup *b, const AgentWalkEntry *e, YbEntry *me);
/* Whether regular file e is known to have no extended attributes without asking: its parent's
 * index entry says it had none and its stat fields (ctime among them) are as then. Sets
 * b->xattrs_none (agents/file.c). */
bool agent_xattrs_known_none(AgentBackup *b, const AgentWalkEntry *e);
/* Frees what agent_xattrs_read gave. */
void agent_xattrs_free(YbXattr *x, size_t n);
/* Checks that /proc is mounted, which reading extended attributes needs; if not, says so once
 * and marks the snapshot partial. */
void agent_xattrs_check(AgentBackup *b);

/* Opens the regular file the walk found (b->cur, agents/file-read.c) without ever blocking: a
 * FIFO or device swapped in for it is not waited on. Returns the fd with *ret_st, or -1 when it
 * is gone (said nothing) or cannot be read or was replaced (reported, the snapshot partial). */
int agent_open_source(AgentBackup *b, const AgentWalkEntry *e, struct stat *ret_st);
/* Given each chunk of a file by agent_read_pass; a negative return stops the pass with it. */
typedef int (*AgentReadFn)(AgentBackup *b, void *userdata, const void *data, size_t n);
/* Reads the file fd (whose stat is st) once from its start, giving every chunk to fn
 * (agents/file-read.c). 0; -EAGAIN if the file changed while it was read (size or times moved,
 * or it grew past its size); -AGENT_E_SOURCE_READ if it could not be read (b->read_error says
 * why); fn's error as it is. With b->finish_changed, a file that changed but did not shrink is
 * read to st's size all the same: 0, with b->pass_changed set. */
int agent_read_pass(AgentBackup *b, int fd, const struct stat *st, AgentReadFn fn, void *userdata);
/* Whether two stats of a source file say it is as it was: size, times and inode. */
static inline bool agent_stat_same(const struct stat *a, const struct stat *b) {
        return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
               a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
               a->st_ctim.tv_nsec == b->st_ctim.tv_nsec && a->st_ino == b->st_ino;
}

/* A big file's delta made on a worker thread (agents/delta-worker.c): the main thread hands it
 * the bytes it reads and hashes, and it makes the delta and the new signature of the whole file
 * (core/codec/deltagen.h). */
typedef struct AgentDeltaWorker AgentDeltaWorker;
/* Feeds the delta g the file's next bytes, on whichever thread makes it; -ECANCELED once, probe
 * bytes in, over half of what it was given is new: a file that changed throughout finds nothing
 * to match, and is stored whole. */
static inline int agent_delta_feed(YbDeltaGen *g, uint64_t probe, const void *data, size_t n) {
        int r = yb_delta_gen_feed(g, data, n);

        if (r >= 0 && yb_delta_gen_in_bytes(g) >= probe &&
            yb_delta_gen_out_bytes(g) > yb_delta_gen_in_bytes(g) / 2)
                r = -ECANCELED;
        return r;
}
/* Files from this size up have their delta made by a worker (agent_store_delta). */
#define AGENT_DELTA_WORKER_MIN ((uint64_t) 4 << 20)
/* The most the worker holds of its delta in memory before it gives up (the file is then stored
 * whole). */
#define AGENT_DELTA_WORKER_OUT_MAX ((size_t) 16 << 20)
/* Starts the worker for a file of size bytes, against old_sig (borrowed until
 * agent_delta_worker_free); it gives up when, probe bytes in, its delta is over half of them. 0
 * with *ret; -EBADMSG or -EINVAL when old_sig is not usable (as yb_delta_gen_new); other -errno
 * when it could not start (then make the delta on the main thread). */
int agent_delta_worker_start(const void *old_sig, size_t old_size, uint64_t size, uint64_t probe,
                             AgentDeltaWorker **ret);
/* Hands the worker the file's next bytes. 0; -ECANCELED when it gave up or failed (store the
 * file whole). */
int agent_delta_worker_feed(AgentDeltaWorker *w, const void *data, size_t n);
/* Once every byte is handed on: waits for the worker, then passes its delta to write_fn and
 * appends the new signature to sig. 0; -ECANCELED when it gave up or failed: store the file
 * whole; write_fn's error as it is. */
int agent_delta_worker_finish(AgentDeltaWorker *w, YbWriteFn write_fn, void *userdata, YbBuf *sig);
/* Stops the worker if it still runs, waits for it and frees. Accepts NULL. */
AgentDeltaWorker *agent_delta_worker_free(AgentDeltaWorker *w);
DEFINE_FREEP(AgentDeltaWorker, agent_delta_worker_free);

/* A pax header for record me stored under name with size bytes of data (agents/file-content.c).
 * ret borrows name and me's strings. */
void agent_pax_from(const YbEntry *me, const char *name, uint64_t size, YbPaxEntry *ret);
/* The content agent_store_* store, size bytes: the source file fd (whose stat is st), read by
 * agent_read_pass, or when spool is set, a stream's finished spool replayed (its failure to read
 * back is -AGENT_E_SOURCE_READ, b->read_error saying why: EBADMSG when it was altered). All
 * borrowed. */
typedef struct AgentContent {
        int fd;
        const struct stat *st;
        AgentSpool *spool;
        uint64_t size;
} AgentContent;
/* Stores src whole as "tree/<path>", filling me's content fields and se's hash and putting its
 * signature in sig. 0; -EAGAIN: it changed while read (the entry is left torn, padded); other
 * errors as agent_read_pass's or the store's. */
int agent_store_whole(AgentBackup *b, const AgentContent *src, YbEntry *me, YbSigEntry *se,
                      YbBuf *sig);
/* Stores src as "delta/<path>", a librsync delta against prev's signature. 1: stored; 0: not
 * worth it (store it whole instead); -EAGAIN: it changed while read; other errors as
 * agent_store_whole's. */
int agent_store_delta(AgentBackup *b, const AgentContent *src, const YbSigEntry *prev, YbEntry *me,
                      YbSigEntry *se, YbBuf *sig);
/* Stores src as a delta against prev (which may be NULL) when prev has a signature, src is big
 * enough and the delta is smaller, else whole. 0, or errors as agent_store_whole's. */
int agent_store_content(AgentBackup *b, const AgentContent *src, const YbSigEntry *prev,
                        YbEntry *me, YbSigEntry *se, YbBuf *sig);

/* The previous version of path (the parent's signature index entry, or the replicator's), or
 * NULL; marked as seen, so that it is not counted as deleted (agents/file.c). */
const YbSigEntry *agent_find_prev(AgentBackup *b, const char *path);
/* Backs up the regular file e, whose metadata (and extended attributes) me holds already
 * (agents/file.c). A file that cannot be read is reported and left out; returns <0 only for
 * failures that must stop the backup. */
int agent_backup_file(AgentBackup *b, const AgentWalkEntry *e, YbEntry *me);

/* Loads the signature index of snapshot parent into b->index (and the snapshots it was resolved
 * from into b->sig_chain: a delta index needs its parent's), each from the agent's local cache or
 * else from the store, then cached (agents/sigcache.c). 0 or -errno (-EKEYREJECTED: another
 * agent made it). */
int agent_sigcache_load(AgentBackup *b, const YbSnapshotHeader *parent);
/* Has the writer store the new snapshot's signature index as a delta against b->index when
 * there is one and its chain is not too long yet (sets b->sig_delta). */
int agent_sigcache_delta(AgentBackup *b);
/* Keeps a copy of snapshot h's signature index in the local cache, and only what it needs: the
 * ones of its chain when it is a delta. Failures only cost the next backup a read from the
 * store; they are logged at debug level. */
void agent_sigcache_save(AgentBackup *b, const YbSnapshotHeader *h);

/* The steps of agent_backup, in order. Each returns an exit code (YB_EXIT_OK to go on), having
 * said what went wrong. */

/* Names each source in b->roots (allocated by the caller): its last component, trailing slashes
 * dropped (in args->paths itself). Two sources of the same name would clash. Returns an exit
 * code (agents/backup.c). */
int agent_backup_name_sources(AgentBackup *b);
/* Reads and checks the public key, loads the agent's identity, opens the store and the
 * repository, and locks it (agents/backup-open.c). */
int agent_backup_open(AgentBackup *b);
/* Takes the repository lock, waiting while another writer holds it: polls every 200 ms for at
 * most timeout_usec (0: one try). The first time it has to wait it says so once, at info level,
 * as "<what> waits for the repository lock of system S in store U, held by OWNER". Returns 0,
 * -EBUSY when the lock stayed held (repo->lock_owner names who holds it), or the store's -errno.
 * A WAL archiver holds the lock for a second per WAL file, a backup for its whole run. */
int agent_repo_lock_wait(YbRepo *repo, const char *store, int64_t timeout_usec, const char *what);
/* Its first half, for a writer that opens and locks the repository its own way (wal-archive):
 * the public key (into *ret_pub), the agent's identity (b->agent, unless the caller loaded it
 * already) and the store (b->store).
 * Returns an exit code, having said what went wrong. */
int agent_backup_open_store(AgentBackup *b, YbPublicKey *ret_pub);
/* Chooses the parent and base snapshots for b->level (falling back to a full backup when there
 * is none) and loads the parent's signature index (agents/backup-parent.c). */
int agent_backup_choose_parent(AgentBackup *b);
/* Checks that each stream's name is a safe snapshot path clear of the sources' names (roots)
 * and of the other streams (agents/stream-backup.c). */
int agent_streams_check_names(const AgentBackupArgs *args, char *const *roots);
/* Runs stream i, spooled, and stores its output as a regular file of the snapshot. */
int agent_backup_stream(AgentBackup *b, size_t i);
/* Records one walked entry of any kind, with its metadata and extended attributes (an
 * AgentWalkFn; userdata is the AgentBackup). */
int agent_backup_entry(void *userdata, const AgentWalkEntry *e);
/* Checks the --postgresql hooks' names: valid, each once, and "_pg" taken by no source or stream
 * (agents/pg-physical.c). Returns an exit code. */
int agent_pg_check_names(const AgentBackupArgs *args, char *const *roots);
/* Makes the base backup of hook i into the snapshot: connects and checks, then between
 * pg_backup_start and pg_backup_stop walks the data directory and the tablespaces, then adds
 * backup_label, tablespace_map and the WAL from start to stop, and records it in b->hdr.pg.
 * Returns an exit code; on failure the session is ended and the server's backup with it. */
int agent_backup_pg(AgentBackup *b, size_t i);
/* Looks whether the directory the walk of a source met is a running PostgreSQL cluster's data
 * directory (PG_VERSION, and a postmaster.pid of a live process) (agents/pg-live.c). 0: go on
 * (not one; or one backed up as files, warned of, with --live-postgresql warn); 1: one that a
 * --postgresql of this backup has in the snapshot already, to be left out; -ECANCELED: refused,
 * said, b->walk_stopped_said set. */
int agent_pg_live_check(AgentBackup *b, const AgentWalkEntry *e);
/* Starts the walk of the first source on a thread of its own, so that it runs while the
 * parent's index loads (agents/walk-ahead.c); agent_backup_walk takes it over. */
int agent_backup_walk_begin(AgentBackup *b);
/* Walks every source into the snapshot, then counts what the parent had and the walk did not
 * see (agents/backup-walk.c). */
int agent_backup_walk(AgentBackup *b);
/* Commits the snapshot, caches its signature index and prints the summary, timed from t0
 * (monotonic, in nanoseconds) (agents/backup-commit.c). YB_EXIT_PARTIAL for a partial one. */
int agent_backup_commit(AgentBackup *b, int64_t t0);
