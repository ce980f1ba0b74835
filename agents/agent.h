/* agents/agent.h: yunbak-agent internals. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "core/crypto/hash.h"
#include "core/store/store-options.h"

typedef struct AgentWalkEntry {
        int dir_fd;       /* the directory holding the entry */
        const char *name; /* its name in dir_fd */
        const char *path; /* its path in the snapshot: "<source basename>/<relative path>" */
        const char *abs;  /* its path on the host, for messages and exclude patterns */
        const struct stat *st;
        /* The same for the entries of one opening of dir_fd, not another; 0 for the source
         * itself (dir_fd is then the directory that holds it). */
        uint64_t dir_serial;
        /* For a directory, what the walk ahead found when it read it, before handing it over,
         * so that the backup need not ask again; false when not known (agent_walk's). */
        bool dir_no_xattrs;     /* it had no extended attributes */
        bool dir_no_pg_version; /* it held no PG_VERSION: no PostgreSQL data directory */
        /* Not statted: st holds only its type (from its directory's listing), and the caller
         * stats it (agent_walk_listed's defer said so). */
        bool unstatted;
} AgentWalkEntry;

/* Called for every entry, parents before children, siblings in byte order of their names.
 * Returns 0 to go on (into a directory too), 1 to skip a directory's contents, <0 to stop. */
typedef int (*AgentWalkFn)(void *userdata, const AgentWalkEntry *e);
/* Called for an entry that could not be examined (stat, open or read of a directory). */
typedef void (*AgentWalkErrorFn)(void *userdata, const char *abs, int error);

/* Walks source (a file or directory on the host), calling fn for it and for everything below.
 * Entries matching an exclude pattern are skipped with everything below them: a pattern with
 * no '/' matches names, one starting with '/' matches host paths, any other the snapshot path.
 * Works with dirfds and a stack of its own, holding at most 64 directories open, so depth is
 * limited neither by PATH_MAX nor by the program's stack nor by the limit on open files. */
int agent_walk(const char *source, const char *root_name, char *const *excludes, size_t n_excludes,
               AgentWalkFn fn, AgentWalkErrorFn err, void *userdata);
/* Called once a directory fn was given is open and read, before its entries: its descriptor
 * and its names, sorted. */
typedef void (*AgentWalkListedFn)(void *userdata, int fd, char *const *names, size_t n);
/* Asked for each entry its directory's listing says is not a directory: true to hand it to fn
 * unstatted (AgentWalkEntry.unstatted), for the caller to stat. */
typedef bool (*AgentWalkDeferFn)(void *userdata);
/* agent_walk, calling listed (if not NULL) for each directory it goes into, and defer (if not
 * NULL) for each entry it could leave to the caller to stat. */
int agent_walk_listed(const char *source, const char *root_name, char *const *excludes,
                      size_t n_excludes, AgentWalkFn fn, AgentWalkListedFn listed,
                      AgentWalkDeferFn defer, AgentWalkErrorFn err, void *userdata);

/* agent_walk with the walk on a thread of its own, started here and running ahead (a bounded
 * number of entries and of open directories) of agent_walk_ahead_finish, which calls fn and err
 * on the caller's thread, in agent_walk's order, and returns what agent_walk would. An entry
 * other than a directory that waited max_age_ns or longer is statted again before fn sees it;
 * fn never sees one unstatted (the walker may leave stats to the caller's thread, which does
 * them before fn). (agents/walk-ahead.c) */
typedef struct AgentWalkAhead AgentWalkAhead;
int agent_walk_ahead_start(const char *source, const char *root_name, char *const *excludes,
                           size_t n_excludes, int64_t max_age_ns, AgentWalkAhead **ret);
int agent_walk_ahead_finish(AgentWalkAhead *a, AgentWalkFn fn, AgentWalkErrorFn err,
                            void *userdata);
/* Stops the walker, if it runs, and frees what it found: for a walk not finished. */
AgentWalkAhead *agent_walk_ahead_free(AgentWalkAhead *a);

/* A stream: the standard output of a command, stored as a regular file at a snapshot path. */
typedef struct AgentStream {
        const char *name;    /* its path in the snapshot ("_streams/hr-db.pgdump") */
        const char *command; /* run with /bin/sh -c */
        bool optional;       /* a failing command leaves the stream out (the snapshot is partial)
                              * instead of failing the backup: on_failure: continue */
} AgentStream;

/* An encrypted spool: holds a stream of unknown size on disk until its size is known, as
 * crypto_secretstream chunks under a random key that lives only in this process's memory. The
 * file is unnamed (O_TMPFILE, or unlinked at once), so the disk only ever holds ciphertext under
 * a key that dies with the process, and a crash leaves nothing behind. */
typedef struct AgentSpool AgentSpool;

/* Creates a spool in dir. chunk is the plaintext chunk size (0: 1 MiB). */
int agent_spool_new(const char *dir, size_t chunk, AgentSpool **ret);
AgentSpool *agent_spool_free(AgentSpool *s); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(AgentSpool, agent_spool_free);
/* Appends plaintext; encryption and writing run in a thread of their own. -ENOSPC when
 * the file system is full or would keep less free than the host needs (see agent_spool_reserve). */
int agent_spool_write(AgentSpool *s, const void *data, size_t n);
/* Ends writing: returns the plaintext size and its BLAKE2b-256 hash. */
int agent_spool_finish(AgentSpool *s, uint64_t *ret_size, uint8_t ret_hash[YB_HASH_SIZE]);
/* After agent_spool_finish, decrypts the spool from its start, giving each chunk to fn in
 * order. -EBADMSG if the file does not authenticate or is cut short; fn's error as it is. */
int agent_spool_replay(AgentSpool *s, int (*fn)(void *userdata, const void *data, size_t n),
                       void *userdata);
/* The free space a spool leaves on its file system for the host (2% of it, at most 1 GiB), and
 * the bytes it holds on disk. */
uint64_t agent_spool_reserve(const AgentSpool *s);
uint64_t agent_spool_disk_bytes(const AgentSpool *s);

typedef struct AgentStreamResult {
        int64_t started_ns, finished_ns; /* wall clock: the command's start and end */
        int status;                      /* waitpid() status of the shell */
        uint64_t size;                   /* bytes of standard output */
        uint8_t hash[YB_HASH_SIZE];      /* their BLAKE2b-256 */
        /* Its standard error, its lines joined by " | " ("... | " first when the oldest did
         * not fit), or "" */
        char message[1024];
} AgentStreamResult;

/* Runs stream->command with /bin/sh -c, its standard input /dev/null, its standard output into
 * spool (which it finishes), its standard error to ours, each line prefixed with the stream's
 * name. Returns 0 once the command has ended, however it ended (ret->status says); -errno when
 * it could not be started or its output could not be spooled (the command is then killed). */
int agent_stream_run(const AgentStream *stream, AgentSpool *spool, AgentStreamResult *ret);
/* Describes how a command ended ("exited with status 3", "was killed by signal 9 (Killed)"). */
void agent_stream_status_text(int status, char *buf, size_t size);

/* The pid of the PostgreSQL server whose data directory is name (relative to dir_fd): the first
 * line of its postmaster.pid when it has a PG_VERSION and that process is alive (kill(pid, 0)
 * succeeds, or fails with EPERM: it exists, as another user's); else 0 (agents/pg-live.c). */
long agent_pg_live_pid(int dir_fd, const char *name);

/* A PostgreSQL cluster backed up physically (--postgresql NAME=CONNINFO): between
 * pg_backup_start and pg_backup_stop on a session to CONNINFO, its data directory and tablespaces
 * are walked into the snapshot under "_pg/NAME/" (core/repo/pg.h, agents/pg-physical.c). */
typedef struct AgentPgHook {
        const char *name;     /* the policy hook's name: [A-Za-z0-9_.-], at most 63 */
        const char *conninfo; /* a libpq connection string (never echoed: it may hold a password) */
} AgentPgHook;

typedef struct AgentBackupArgs {
        const char *store;
        /* an sftp:// store: --ssh-key and --known-hosts (NULL: the defaults, store.h) */
        const char *ssh_key, *known_hosts;
        int64_t store_timeout_usec; /* sftp:// and s3://: the longest network wait (0: 30 s) */
        YbS3Options s3;         /* an s3:// store: --s3-* (strings borrowed from argv or environ) */
        int64_t lock_wait_usec; /* how long to wait for the repository's lock (0: no wait) */
        const char *system;
        const char *public_key;      /* a path to ID.pub, or NULL when public_key_json */
        const char *public_key_json; /* ID.pub's text itself (yunbakd passes it to a remote host) */
        bool has_parent_agent;       /* --parent-agent: build only on snapshots that agent signed */
        uint8_t parent_agent[32];
        char **skip_parents; /* --skip-parent: snapshots never to build on (quarantined ones) */
        size_t n_skip_parents;
        int level; /* YbLevel */
        char **excludes;
        size_t n_excludes;
        char **paths;
        size_t n_paths;
        const AgentStream *streams; /* stored before the paths are walked */
        size_t n_streams;
        const AgentPgHook *pg; /* base backups, made after the streams, before the paths */
        size_t n_pg;
        /* --live-postgresql warn: a running cluster's data directory met in a source (and not
         * a --postgresql's) is backed up as files with a warning, instead of failing the
         * backup. */
        bool live_postgresql_warn;
        const char *state_dir;
        int zstd_level;
        int threads;
        bool json;
} AgentBackupArgs;

/* How long a backup waits for the lock by default (--lock-wait): long enough for a WAL file's
 * archiving, short enough that a backup still running is reported as such. */
#define AGENT_BACKUP_LOCK_WAIT_USEC (60 * YB_USEC_PER_SEC)

/* The agent's state directory when --state-dir is not given: $YUNBAK_AGENT_STATE_DIR,
 * /var/lib/yunbak-agent as root, else under $XDG_STATE_HOME or ~/.local/state. The caller frees
 * it; NULL when out of memory (agents/main.c). */
char *agent_default_state_dir(void);
/* 'yunbak-agent replicate ARGS' (agents/replicate-args.c); returns its exit status. */
int agent_replicate_main(int argc, char **argv);
/* A duration as the agent's options take it: "2s", "500ms", "1min", "1h", "90d"
 * (agents/agent-args.c), at most 100 years: usec, or -EINVAL. */
int agent_parse_duration(const char *s, int64_t *ret);
/* The store options that backup, replicate and wal-archive share (getopt_long's table entries),
 * and their handling by getopt code: 1 when c is one of them (set in a), 0 when not, -EINVAL
 * when its value is wrong (said). The --s3-* options have codes AGENT_OPT_S3 + YB_S3_OPT_*. */
#define AGENT_OPT_S3 0x1100
/* clang-format off */
#define AGENT_STORE_OPTIONS                                                                        \
        { "store", required_argument, NULL, 's' },                                                 \
        { "ssh-key", required_argument, NULL, 'I' },                                               \
        { "known-hosts", required_argument, NULL, 'H' },                                           \
        { "store-timeout", required_argument, NULL, 'w' },                                         \
        YB_S3_GETOPT_OPTIONS(AGENT_OPT_S3),                                                        \
        { "system", required_argument, NULL, 'S' },                                                \
        { "public-key", required_argument, NULL, 'k' }
/* The lines of the store options in a command's --help. */
#define AGENT_STORE_OPTIONS_HELP                                                                   \
        "  --ssh-key FILE          an sftp:// store: the private key to log in with\n"              \
        "                          (default: ~/.ssh/id_ed25519, then id_ecdsa, id_rsa)\n"           \
        "  --known-hosts FILE      an sftp:// store: the known_hosts file that must hold\n"         \
        "                          the server's host key (default: ~/.ssh/known_hosts)\n"           \
        "  --store-timeout D       sftp:// and s3://: the longest network wait (default 30s)\n"     \
        "  --s3-endpoint URL       an s3:// store: where the S3 service answers,\n"                 \
        "                          https://HOST[:PORT] (default: $YUNBAK_S3_ENDPOINT)\n"            \
        "  --s3-credentials FILE   an s3:// store: the file with the bucket's keys, AWS's\n"        \
        "                          format, closed to others (default: $YUNBAK_S3_CREDENTIALS)\n"    \
        "  --s3-region R           the SigV4 region (default: $YUNBAK_S3_REGION, else default)\n"   \
        "  --s3-style path|virtual\n"                                                            \
        "                          how the bucket is addressed (default path)\n"                  \
        "  --s3-ca FILE            PEM certificates to trust for https (default: the system's)\n"  \
        "  --s3-object-lock compliance\n"                                                        \
        "                          the bucket has Object Lock: every backup is written\n"          \
        "                          undeletable for --s3-retention D (such as 90d)\n"              \
        "  --s3-parallel N         requests in flight per file, 1 to 64 (default 4)\n"
/* clang-format on */
int agent_store_option(AgentBackupArgs *a, int c, const char *arg);
/* After the options: takes what the --s3-* options left unset from the environment
 * (core/store/store-options.h) and checks that an s3:// store has what it needs, checks the
 * system id, and sets the state directory to the default when none was given (*ret_state then
 * holds it, for the caller to free). Returns YB_EXIT_OK, or the exit code having said what is
 * wrong. */
int agent_args_finish(AgentBackupArgs *a, char **ret_state);
/* The options to open a's store with (strings borrowed from a). */
YbStoreOptions agent_store_options(const AgentBackupArgs *a);
/* a's store options but --store as an agent's command-line arguments ("--ssh-key=FILE",
 * "--s3-endpoint=URL", ...): what a child 'yunbak-agent backup' needs to open the same store.
 * NULL-terminated, at most AGENT_STORE_ARGV_MAX entries; the caller frees each and the array.
 * NULL when out of memory. */
#define AGENT_STORE_ARGV_MAX (3 + _YB_S3_OPT_MAX)
char **agent_store_argv(const AgentBackupArgs *a);
/* 'yunbak-agent wal-archive ARGS' (agents/wal-archive.c): PostgreSQL's archive_command; returns
 * its exit status. */
int agent_wal_archive_main(int argc, char **argv);

/* 'yunbak-agent wipe ARGS' (agents/wipe.c): clears what a decommissioned system leaves on this
 * host; returns its exit status. */
int agent_wipe_main(int argc, char **argv);
/* A PATH of 'yunbak-agent wipe' as its check found it. */
typedef struct AgentWipeTarget {
        char *clean; /* without repeated or trailing slashes */
        char *real;  /* resolved through symlinks; NULL when the path does not exist */
        dev_t dev;   /* the directory checked (real) */
        ino_t ino;
        uint64_t mnt_id; /* its mount (statx STATX_MNT_ID), 0 when the kernel does not tell */
} AgentWipeTarget;
/* Checks a PATH of 'yunbak-agent wipe' before anything is touched (agents/wipe-check.c): 0 when
 * it may be cleared, 1 when it does not exist (already absent), both with *ret filled (the caller
 * frees its strings); -errno when it is refused, with why for people in why (size why_size). */
int agent_wipe_check(const char *path, const char *state_dir, AgentWipeTarget *ret, char *why,
                     size_t why_size);

/* Runs one backup; returns an exit code (YB_EXIT_*), having printed the summary. */
int agent_backup(const AgentBackupArgs *args);
