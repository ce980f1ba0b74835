/* core/store/store.h: where repositories live. One interface, several backends: a local
 * directory ("/path" or "file:///path"), an SFTP server ("sftp://user@host[:port]/path") and an
 * S3 bucket ("s3://bucket[/prefix]", on libcurl; the locations: location.h). Paths are relative
 * to the store root, '/'-separated, never absolute and never containing "..".
 *
 * An object store (YB_STORE_OBJECTS: S3) has no directories and no rename of directories, and no
 * append: a file it creates appears whole, or not at all, when its writer is synced or closed.
 * mkdir, rmdir and sync_dir succeed and do nothing there; a directory "exists" while some object
 * lies under it; rename of a file is a copy that never replaces, then a delete. The repository
 * (core/repo) commits a snapshot on such a store by writing its header object last, in place. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/store/location.h"

typedef struct YbStore YbStore;
typedef struct YbStoreFile YbStoreFile;

typedef struct YbStoreStat {
        uint64_t size;
        bool is_dir;
        int64_t mtime; /* seconds since the epoch */
        /* An object under S3 Object Lock: the time (seconds since the epoch) before which nobody
         * can delete or overwrite it; 0 when it has none. Always 0 on other stores. */
        int64_t retain_until;
        /* An object under an S3 legal hold (no date: nobody can delete it until the hold is
         * lifted); always false on other stores. */
        bool legal_hold;
} YbStoreStat;

typedef enum YbS3Style {
        YB_S3_STYLE_PATH,    /* http(s)://endpoint/bucket/key (radosgw's default) */
        YB_S3_STYLE_VIRTUAL, /* http(s)://bucket.endpoint/key */
} YbS3Style;

typedef enum YbObjectLockMode {
        YB_OBJECT_LOCK_NONE,
        YB_OBJECT_LOCK_COMPLIANCE, /* nobody, the bucket's owner included, can shorten it */
} YbObjectLockMode;

/* How to reach an S3 store: yunbakd.yaml's `stores` entry (`s3:`) or the command line
 * (--s3-endpoint, --s3-region, --s3-credentials, --s3-style, --s3-ca). Strings are borrowed. */
typedef struct YbS3Options {
        const char *endpoint;    /* "http[s]://host[:port]"; required */
        const char *region;      /* the SigV4 region; NULL: "default" (radosgw's zonegroup) */
        const char *credentials; /* a file: "[default]" with aws_access_key_id and
                                  * aws_secret_access_key (AWS's format); required, and never
                                  * readable by others */
        YbS3Style style;
        const char *ca_file; /* TLS: the PEM certificates to trust; NULL: the system's */
        /* Object Lock: every backup object (YB_STORE_RETAIN) is written with this mode and a
         * retain-until date retention_sec from its writing. The bucket must have Object Lock
         * enabled (the store refuses to open otherwise). */
        YbObjectLockMode object_lock;
        int64_t retention_sec;
        int parallel; /* requests in flight per open file; 0: 4 */
} YbS3Options;

/* How to reach a store: what yunbakd.yaml's `stores` entry or the command line says. */
typedef struct YbStoreOptions {
        /* sftp: the private key to log in with (unencrypted, OpenSSH format) and the known_hosts
         * file that must hold the server's host key. NULL: ~/.ssh/id_ed25519 (then id_ecdsa,
         * id_rsa), and ~/.ssh/known_hosts. */
        const char *ssh_key;
        const char *known_hosts;
        /* sftp and s3: the longest any network wait may take (connect, each request); 0: 30 s. */
        int64_t timeout_ns;
        YbS3Options s3;
} YbStoreOptions;

enum {
        YB_STORE_OBJECTS = 1 << 0, /* YbStoreOps.flags: an object store (see the top) */
        /* YbStoreOps.flags: the store checks every byte it receives against a digest the client
         * computed from the bytes it sent, and refuses a file whose bytes differ, before the file
         * appears (S3: the SHA-256 of every request body in x-amz-content-sha256, checked by the
         * server). A copy does not read such a store's files back (docs/format.md, "Copies"). */
        YB_STORE_VERIFIES_BODIES = 1 << 1,
};

enum {
        /* yb_store_create_ex: the file is a backup (a snapshot's or segment's): on a store with
         * Object Lock it is written with the store's retention. Ignored elsewhere. */
        YB_STORE_RETAIN = 1 << 0,
};

/* A backend's operations; every function returns 0 (or a count) or -errno. */
typedef struct YbStoreOps {
        YbLocationKind kind; /* the locations it serves */
        unsigned flags;      /* YB_STORE_OBJECTS, YB_STORE_VERIFIES_BODIES */
        /* Opens the store at where, parsed from location (which it keeps for messages), with
         * opts (never NULL); on failure may write why into err (err_size bytes, terminated). */
        int (*open)(const char *location, const YbLocation *where,
                    const struct YbStoreOptions *opts, YbStore **ret, char *err, size_t err_size);
        void (*close)(YbStore *s);
        int (*open_read)(YbStore *s, const char *path, YbStoreFile **ret);
        /* Creates a new file; fails with -EEXIST if it exists (on an object store, possibly only
         * when it is synced or closed: another writer may have won meanwhile). flags:
         * YB_STORE_RETAIN. */
        int (*create)(YbStore *s, const char *path, unsigned flags, YbStoreFile **ret);
        /* Opens an existing regular file for writing at its end (a resumed copy); its size so far
         * in *ret_size. -ENOENT if it does not exist. */
        int (*open_append)(YbStore *s, const char *path, uint64_t *ret_size, YbStoreFile **ret);
        ssize_t (*read)(YbStoreFile *f, void *data, size_t n);
        ssize_t (*pread)(YbStoreFile *f, void *data, size_t n, uint64_t off);
        int (*write)(YbStoreFile *f, const void *data, size_t n);
        int (*sync)(YbStoreFile *f);
        void (*file_close)(YbStoreFile *f);
        /* Atomic; fails with -EEXIST if to exists (never replaces a committed snapshot). */
        int (*rename)(YbStore *s, const char *from, const char *to);
        /* Removes a file. On a versioned bucket the version that is the file, every older one
         * and every delete marker of it, never a newer version (a racing creator's, which may
         * just have won: see docs/s3.md); -EPERM (and nothing said at error level) when Object
         * Lock keeps a version: stat tells until when. */
        int (*unlink)(YbStore *s, const char *path);
        int (*mkdir)(YbStore *s, const char *path);
        int (*rmdir)(YbStore *s, const char *path);
        int (*stat)(YbStore *s, const char *path, YbStoreStat *ret);
        /* Calls fn for each entry name of a directory (not "." or ".."), in no particular order. */
        int (*list)(YbStore *s, const char *path, int (*fn)(void *ud, const char *name), void *ud);
        /* Makes a directory's entries durable. */
        int (*sync_dir)(YbStore *s, const char *path);
        /* Optional: removes a tree (a backend that can do it safely in one go). */
        int (*remove_tree)(YbStore *s, const char *path);
        /* Optional: closes a file without making what it got appear, when it is being created
         * on an object store and is not yet synced (an upload abandoned: nothing is published,
         * no pending upload is left). NULL: file_close. */
        void (*file_abort)(YbStoreFile *f);
} YbStoreOps;

struct YbStore {
        const YbStoreOps *ops;
        char *location; /* as the user gave it, for messages */
};

struct YbStoreFile {
        YbStore *store;
        uint64_t written;
};

/* Opens a store from a location (location.h): an absolute or relative directory path or file://
 * URL, or an sftp:// URL with the default options. -EPROTONOSUPPORT for a scheme without a backend,
 * -EINVAL for a malformed location (logged at debug level), -ENOENT if the directory does not
 * exist. */
int yb_store_open(const char *location, YbStore **ret);
/* The same with options (NULL: the defaults) and, on failure, why for people in err (err_size
 * bytes, always terminated; may be NULL): for an SFTP store the host, the known_hosts file and
 * the key's SHA256 fingerprint when the host key is refused. -EHOSTUNREACH, -ECONNREFUSED,
 * -ETIMEDOUT when the server cannot be reached; -EPERM when its host key or our login is refused;
 * -EPROTONOSUPPORT when it lacks what the store needs (fsync@openssh.com); -ECONNRESET when the
 * connection drops (then, and on -ETIMEDOUT, also from every later operation). */
int yb_store_open_ex(const char *location, const YbStoreOptions *opts, YbStore **ret, char *err,
                     size_t err_size);
YbStore *yb_store_close(YbStore *s);
DEFINE_FREEP(YbStore, yb_store_close);
const char *yb_store_location(const YbStore *s);

int yb_store_open_read(YbStore *s, const char *path, YbStoreFile **ret);
int yb_store_create(YbStore *s, const char *path, YbStoreFile **ret);
int yb_store_create_ex(YbStore *s, const char *path, unsigned flags, YbStoreFile **ret);
/* Whether s is an object store (YB_STORE_OBJECTS). */
bool yb_store_objects(const YbStore *s);
/* Whether s checks every byte it receives against the client's digest (YB_STORE_VERIFIES_BODIES).
 */
bool yb_store_verifies_bodies(const YbStore *s);
int yb_store_open_append(YbStore *s, const char *path, uint64_t *ret_size, YbStoreFile **ret);
ssize_t yb_store_read(YbStoreFile *f, void *data, size_t n);
ssize_t yb_store_pread(YbStoreFile *f, void *data, size_t n, uint64_t off);
int yb_store_write(YbStoreFile *f, const void *data, size_t n);
int yb_store_sync(YbStoreFile *f);
YbStoreFile *yb_store_file_close(YbStoreFile *f);
DEFINE_FREEP(YbStoreFile, yb_store_file_close);
/* Closes f as yb_store_file_close does, but a file being created on an object store that is not
 * synced yet does not appear (a copy cut in the middle of a file must never publish its first
 * bytes, which Object Lock would then keep). Elsewhere the same as yb_store_file_close: what was
 * written stays. Accepts NULL; returns NULL. */
YbStoreFile *yb_store_file_abort(YbStoreFile *f);
DEFINE_FREEP(YbStoreFile, yb_store_file_abort);
int yb_store_rename(YbStore *s, const char *from, const char *to);
int yb_store_unlink(YbStore *s, const char *path);
int yb_store_mkdir(YbStore *s, const char *path); /* an existing directory is not an error */
int yb_store_rmdir(YbStore *s, const char *path);
int yb_store_stat(YbStore *s, const char *path, YbStoreStat *ret);
/* Calls fn for each name in directory path ("": the store's top level). */
int yb_store_list(YbStore *s, const char *path, int (*fn)(void *ud, const char *name), void *ud);
int yb_store_sync_dir(YbStore *s, const char *path);
/* Removes a directory and everything below it. */
int yb_store_remove_tree(YbStore *s, const char *path);
/* Reads a whole store file into *ret (appending), failing with -EFBIG above max bytes. */
int yb_store_read_file(YbStore *s, const char *path, size_t max, YbBuf *ret);
/* Writes a new file with data and syncs it. */
int yb_store_write_file(YbStore *s, const char *path, const void *data, size_t n);

/* Adapters for YbReadFn / YbWriteFn (userdata is the YbStoreFile). */
ssize_t yb_store_read_cb(void *userdata, void *data, size_t n);
int yb_store_write_cb(void *userdata, const void *data, size_t n);

extern const YbStoreOps yb_store_local_ops;
extern const YbStoreOps yb_store_sftp_ops;
extern const YbStoreOps yb_store_s3_ops;
