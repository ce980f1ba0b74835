/* agents/replicate.h: the replicator (yunbak-agent replicate, docs/replication.md), its parts and
 * the state they share. Private to the replicator.
 *
 * From the bottom up: the dirty set, paths to look at again with the time each was first noticed
 * (replicate-dirty.c); the state, what the replica holds at its newest point
 * (replicate-state.c); the protocol's output and the lag (replicate-out.c); change capture with
 * inotify or fanotify (replicate-capture.c, replicate-fanotify.c); the reconciliation scan
 * (replicate-scan.c); writing one segment (replicate-segment.c); making a chain's root
 * (replicate-root.c); and the loop that drives them (replicate.c), with its command line
 * (replicate-args.c). Lower parts never call higher ones. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "agents/backup-internal.h"
#include "core/repo/segment.h"

typedef enum AgentCaptureKind {
        AGENT_CAPTURE_AUTO,
        AGENT_CAPTURE_FANOTIFY,
        AGENT_CAPTURE_INOTIFY,
} AgentCaptureKind;

typedef struct AgentReplicateArgs {
        AgentBackupArgs backup; /* store, keys, system, excludes, paths, state dir, compression */
        /* --postgresql: the hooks whose WAL is streamed (agents/replicate-wal.c); each root is
         * their base backup. Not in backup: the segments walk no cluster. */
        const AgentPgHook *pg;
        size_t n_pg;
        int64_t interval_usec;
        uint64_t max_chain;
        AgentCaptureKind capture;
        uint64_t memory_budget;
        int64_t start_timeout_usec;
} AgentReplicateArgs;

/* Runs the replicator until it is stopped; returns its exit status (docs/replication.md). */
int agent_replicate(AgentReplicateArgs *args);

/* The dirty set (agents/replicate-dirty.c): snapshot paths to look at again, each with the
 * wall-clock time it was first noticed and flags. Thread-safe: capture adds while the loop takes.
 * Bounded: past its budget of bytes, paths collapse into their directories, marked for a rescan. */
#define AGENT_DIRTY_RESCAN 1u  /* a directory: compare everything below it with the state */
#define AGENT_DIRTY_FORCE 2u   /* record it even if the state says it is unchanged */
#define AGENT_DIRTY_SCANNED 4u /* met by a scan already: not to be scanned again */

typedef struct AgentDirtyItem {
        char *path;
        int64_t noticed_ns;
        unsigned flags;
        int error;      /* the segment's lstat: 0, or -errno (-ENOENT: gone) */
        struct stat st; /* the segment's lstat when error is 0 */
} AgentDirtyItem;

typedef struct AgentDirty AgentDirty;

/* budget: bytes, 0 for no limit. */
int agent_dirty_new(uint64_t budget, AgentDirty **ret);
AgentDirty *agent_dirty_free(AgentDirty *d); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(AgentDirty, agent_dirty_free);
/* Adds path (copied) noticed at noticed_ns with flags; a path already there keeps the earlier
 * time and gains the flags. 0 or -ENOMEM. */
int agent_dirty_add(AgentDirty *d, const char *path, int64_t noticed_ns, unsigned flags);
/* Moves everything from d into into (which must be empty), leaving d empty. */
void agent_dirty_move(AgentDirty *d, AgentDirty *into);
/* Adds every item of from to d (as agent_dirty_add), for a batch that could not be shipped. */
int agent_dirty_merge(AgentDirty *d, const AgentDirty *from);
/* The number of paths and the oldest noticed time (0 when empty). */
void agent_dirty_stats(AgentDirty *d, size_t *ret_n, int64_t *ret_oldest_ns);
/* True once since the set last collapsed paths into directories (the flag is cleared). */
bool agent_dirty_take_collapsed(AgentDirty *d);
/* Items, by index (stable while only adding; agent_dirty_sort reorders them). Not locked: for a
 * set that only one thread uses. */
size_t agent_dirty_count(const AgentDirty *d);
AgentDirtyItem *agent_dirty_item(AgentDirty *d, size_t i);
/* The index of path, or -1. */
ssize_t agent_dirty_find(const AgentDirty *d, const char *path);
/* Sorts the items in walk order: parents before children, siblings in byte order. */
void agent_dirty_sort(AgentDirty *d);
/* Compares two snapshot paths in walk order (as agent_dirty_sort). */
int agent_path_cmp(const char *a, const char *b);

/* The state (agents/replicate-state.c): every entry the replica holds at its newest point, by
 * path, with the stat it had then; for a regular file also its hash and signature (the base of
 * the next delta), kept as a signature index entry. */
typedef struct AgentStateEntry {
        struct AgentStateEntry *next_path, *next_ino; /* hash chains */
        YbSigEntry se; /* path (owned), size, times, dev, ino (0: not to be trusted), hash, sig */
        uint32_t mode, uid, gid;
        uint32_t seen; /* the generation of the last scan that met it */
        bool has_sig;  /* se's hash (and sig) describe the content the replica holds */
        bool learned;  /* known from a walk only, not from a committed point */
} AgentStateEntry;

typedef struct AgentState AgentState;

int agent_state_new(AgentState **ret);
AgentState *agent_state_free(AgentState *s); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(AgentState, agent_state_free);
size_t agent_state_count(const AgentState *s);
AgentStateEntry *agent_state_find(const AgentState *s, const char *path);
/* Sets path's entry from st; se (may be NULL) gives the file's hash and signature (copied).
 * Returns the entry, or NULL when out of memory. */
AgentStateEntry *agent_state_put(AgentState *s, const char *path, const struct stat *st,
                                 const YbSigEntry *se, bool learned);
/* Removes path and everything below it. */
void agent_state_remove_tree(AgentState *s, const char *path);
/* Takes every entry of x (a chain root's signature index) as a file of the state; x is left
 * empty. Entries whose ctime is at or after racy_after_ns (a second before the root began) are
 * not vouched for (inode 0: read again when next dirty). 0 or -ENOMEM. */
int agent_state_take_sigindex(AgentState *s, YbSigIndex *x, int64_t racy_after_ns);
/* Calls fn for every entry of the state (fn must not change the state). */
void agent_state_foreach(AgentState *s, void (*fn)(void *userdata, AgentStateEntry *e),
                         void *userdata);
/* Calls fn for every regular file of the state with this (dev, ino). */
void agent_state_foreach_inode(AgentState *s, uint64_t dev, uint64_t ino,
                               void (*fn)(void *userdata, AgentStateEntry *e), void *userdata);
/* Whether st differs from what e holds (for a file: size, times, inode; for the others: type,
 * mode, owner, times). */
bool agent_state_changed(const AgentStateEntry *e, const struct stat *st);
/* A file's previous version in the state, by path or by (dev, ino), for a delta or a rename;
 * NULL when the state holds no content for it. */
const YbSigEntry *agent_state_find_prev(AgentState *s, const char *path);
const YbSigEntry *agent_state_find_prev_inode(AgentState *s, uint64_t dev, uint64_t ino);

/* The protocol's output (agents/replicate-out.c): one JSON object per line on standard output,
 * flushed at once, each with "event" and "time_ns"; and the lag, which a thread of its own
 * reports once a second. */
typedef struct AgentOut {
        pthread_mutex_t lock;
        AgentDirty *dirty;          /* the pending paths (borrowed) */
        size_t inflight_n;          /* paths of the segment being written */
        int64_t inflight_oldest_ns; /* the oldest of them, or 0 */
        const char *why;            /* NULL: the lag is known; else why not */
        int64_t last_commit_started_ns;
        json_t *pg;           /* the hooks' WAL positions for the lag's "postgresql", or NULL */
        int64_t pg_oldest_ns; /* the oldest WAL not yet committed was first seen then, or 0 */
        pthread_t ticker;
        bool ticker_running, stopping;
        pthread_cond_t cond;
} AgentOut;

int agent_out_init(AgentOut *o, AgentDirty *dirty);
/* Starts the thread that prints the lag once a second. */
int agent_out_start_ticker(AgentOut *o);
/* Stops the thread, if it runs (so that nothing is printed after the last line). */
void agent_out_stop_ticker(AgentOut *o);
/* Stops the thread (if it runs) and frees what o holds. */
void agent_out_done(AgentOut *o);
/* Prints obj (taken) with "event": event and "time_ns" first. */
void agent_out_emit(AgentOut *o, const char *event, json_t *obj);
/* Prints an "error" event and logs it. */
void agent_out_error(AgentOut *o, const char *fmt, ...) _printf_(2, 3);
/* Sets why the lag is unknown (NULL: it is known again), and prints the lag at once. */
void agent_out_set_why(AgentOut *o, const char *why);
/* The segment being written: its paths and their oldest time (0, 0 once it is done). */
void agent_out_set_inflight(AgentOut *o, size_t n, int64_t oldest_ns);
/* Prints a lag event now. */
void agent_out_lag(AgentOut *o);
/* Sets the hooks' WAL positions (pg, taken; NULL: none) and when the oldest WAL not yet committed
 * was first seen (0: none pending), both part of the lag from now on. */
void agent_out_set_pg(AgentOut *o, json_t *pg, int64_t oldest_ns);

/* A source as the replicator sees it: its real path on the host and its name in snapshots. */
typedef struct AgentSource {
        char *real; /* realpath of the source */
        const char *name;
} AgentSource;

/* The snapshot path of host path abs (which must be absolute), or NULL when it is not under a
 * source (agents/replicate-source.c). The caller frees it. */
char *agent_source_snapshot_path(const AgentSource *sources, size_t n, const char *abs);
/* The host path of snapshot path path, or NULL. The caller frees it. */
char *agent_source_host_path(const AgentSource *sources, size_t n, const char *path);

/* Change capture (agents/replicate-capture.c): a thread that turns events into dirty paths. */
typedef struct AgentCapture AgentCapture;

/* Sets up capture of changes below the sources into dirty: fanotify or inotify as kind asks
 * (auto: fanotify when it can). Once it returns, every later change is noticed. Says what it
 * could not watch. 0, or -errno (said) when it cannot capture at all. */
int agent_capture_start(AgentCaptureKind kind, const AgentSource *sources, size_t n,
                        char *const *excludes, size_t n_excludes, AgentDirty *dirty, AgentOut *out,
                        AgentCapture **ret);
AgentCapture *agent_capture_free(AgentCapture *c); /* Stops the thread; accepts NULL. */
DEFINE_FREEP(AgentCapture, agent_capture_free);
const char *agent_capture_name(const AgentCapture *c); /* "fanotify" or "inotify" */
size_t agent_capture_watches(const AgentCapture *c);
/* True once after an event queue overflowed (the flag is cleared). */
bool agent_capture_take_overflow(AgentCapture *c);

/* The fanotify half of capture (agents/replicate-fanotify.c): the fanotify fd marking the file
 * systems of the sources, or -errno (-EPERM: not root). */
int agent_fanotify_open(const AgentSource *sources, size_t n);
/* Turns one buffer of fanotify events into dirty paths (each with its directory); sets
 * *ret_overflow on a queue overflow. mount_fds: per source, an fd on its file system. */
void agent_fanotify_handle(const void *buf, size_t len, const int *mount_fds,
                           const AgentSource *sources, size_t n, char *const *excludes,
                           size_t n_excludes, AgentDirty *dirty, bool *ret_overflow);
/* Whether --exclude patterns exclude the entry at snapshot path path (host path abs), or an entry
 * above it, as agent_walk would (agents/replicate-source.c). */
bool agent_path_excluded(char *const *excludes, size_t n_excludes, const char *path,
                         const char *abs);
/* Marks path dirty with the directory holding it, unless excluded (both capture methods). */
void agent_capture_mark(const AgentSource *sources, size_t n, char *const *excludes,
                        size_t n_excludes, AgentDirty *dirty, const char *abs, int64_t now_ns,
                        unsigned flags);

/* The replicator as a whole, shared by the loop and its steps. */
typedef struct AgentReplicator {
        AgentReplicateArgs *args;
        AgentBackup b; /* the store, the repository, the identity; the segment being written */
        AgentSource *sources;
        size_t n_sources;
        AgentState *state;
        AgentDirty *dirty;
        AgentCapture *capture;
        AgentOut out;
        YbSnapshotHeader *root; /* the chain's root, or NULL before the first */
        YbSnapshotHeader *last; /* the chain's newest point: the root or its last segment */
        uint64_t seq;           /* the last segment's seq in the chain (0: none yet) */
        char hour[YB_SEGMENT_HOUR_LEN + 1]; /* the hour of the last segment ("" none) */
        uint32_t scan_gen;
        bool store_down;
        struct Seg *seg; /* the segment being written (agents/replicate-segment.c), or NULL */
        int sig_fd;      /* a signalfd for SIGTERM and SIGINT */
        YbBuf in;        /* standard input not yet read as a whole line */
        bool in_eof;
        int64_t next_schedule_usec; /* monotonic: the next scheduled reconciliation scan */
        bool budget_scan;           /* the dirty set collapsed; its rescan has not shipped yet */
        uint64_t scanned;           /* entries the last segment walked to rescan directories */
        bool overflow_pending;      /* events were lost; the overflow scan has not run yet */
        int64_t overflow_not_before_usec; /* monotonic: the next overflow scan's earliest time */
        struct AgentWal *wal;             /* the --postgresql hooks' WAL, or NULL without any */
        bool wal_root_due;                /* a slot lost WAL: a new root is due ("wal-lost") */
} AgentReplicator;

/* Walks dir (a snapshot path; "" for every source) and compares what it finds with the state:
 * whatever differs, and whatever the state has below dir that the walk did not meet, is added
 * to into with noticed_ns. learn: entries unknown to the state (other than regular files) are
 * taken into it as learned instead. Returns the number of entries walked, or -errno. */
int64_t agent_scan(AgentReplicator *rp, const char *dir, AgentDirty *into, int64_t noticed_ns,
                   bool learn);
/* A full reconciliation scan of every source, reported as "scan" events with reason. */
int agent_scan_all(AgentReplicator *rp, const char *reason, bool learn);

/* PostgreSQL WAL streamed to tier 2 (agents/replicate-wal.c; its lower parts are in
 * agents/replicate-wal.h). Each hook has a pg_receivewal child on its slot filling its spool,
 * and a cursor: the next byte of WAL its chain lacks. */

/* Sets up the hooks of rp->args (none: rp->wal stays NULL) and starts what can be started: the
 * session with each server, the slot, pg_receivewal; what cannot is said and tried again at
 * every tick. 0 or -ENOMEM. */
int agent_wal_start(AgentReplicator *rp);
/* Stops every pg_receivewal and frees rp->wal. */
void agent_wal_free(AgentReplicator *rp);
/* Every interval, and while a root is made: restarts a pg_receivewal that ended (saying how it
 * ended), reads the servers' positions, and sets the lag's "postgresql". Returns true when a
 * slot lost WAL (said; the slot is made again): the caller makes a new root ("wal-lost"). */
bool agent_wal_tick(AgentReplicator *rp);
/* After a new root rp->root: each hook's cursor is the start of the WAL file of the root's
 * stop LSN (its header's "postgresql"), so that the chain holds every byte from the root on. */
void agent_wal_chain_start(AgentReplicator *rp);
/* Whether a hook has WAL that its chain lacks and that can be shipped now. */
bool agent_wal_pending(AgentReplicator *rp);
/* Adds each hook's unshipped WAL to the segment being written, as pieces
 * "_pg/<hook>/wal/<WAL>.<OFFSET>". Returns the records added, or -errno. */
int64_t agent_wal_write(AgentReplicator *rp);
/* The segment ended: committed (its WAL is shipped; completed WAL files whose every byte the
 * chain holds leave the spool, but the newest) or not (its WAL waits for the next). Returns the
 * WAL bytes it held. */
uint64_t agent_wal_segment_end(AgentReplicator *rp, bool committed);

/* Takes the repository lock (agents/replicate-segment.c); a lock of our own left when the
 * store was lost is removed first. 0, -EBUSY, or the store's -errno. */
int agent_replicate_lock(AgentReplicator *rp);
/* Writes the dirty paths as the chain's next segment (agents/replicate-segment.c). 0 when it
 * is committed or there was nothing to write; -EBUSY when the repository is locked (the paths
 * wait for the next interval); other -errno when the store failed (the paths wait too). */
int agent_segment_write(AgentReplicator *rp);

/* Makes a new chain root with a child 'yunbak-agent backup' (agents/replicate-root.c), then
 * loads its signature index as the state and walks the sources. reason: "start", "checkpoint"
 * or "max-chain". 0; 1 when it was stopped by a command or signal (*ret_stop says why); or
 * -errno when the root failed (said). */
int agent_root_make(AgentReplicator *rp, const char *reason, char **ret_stop);

/* Waits for usec (monotonic) while answering commands (agents/replicate-input.c). Returns why
 * to stop, or NULL. */
const char *agent_replicate_wait(AgentReplicator *rp, int64_t usec, bool *ret_checkpoint);
/* The loop's commands and signals, polled also while a root is made (agents/replicate-input.c).
 * Returns NULL, or why to stop ("stdin closed", "stop command", "SIGTERM"...); sets
 * *ret_checkpoint on a checkpoint command. */
const char *agent_replicate_poll(AgentReplicator *rp, int extra_fd, int timeout_ms,
                                 bool *ret_checkpoint);
