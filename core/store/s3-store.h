/* core/store/s3-store.h: what the files of the S3 backend share (not for other rooms): the open
 * store, its keys, and the versions of a key on a versioned bucket. store-s3.c opens the store
 * and does the path operations, s3-reader.c reads objects, s3-writer.c writes them (s3-upload.c:
 * multipart). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/store/s3-client.h"
#include "core/store/store.h"

/* The part size of multipart uploads and the largest object sent in one PUT; also the size of
 * each ranged GET of a reader (measured in docs/s3.md). */
#define YB_S3_PART_SIZE ((size_t) 8 << 20)
#define YB_S3_READ_CHUNK ((size_t) 4 << 20)

typedef struct YbS3Store {
        YbStore base;
        YbS3Client *client;
        char *prefix; /* "" or "city/hz/": prepended to every path */
        bool versioned;
        bool object_lock; /* the bucket has Object Lock enabled */
        YbObjectLockMode lock_mode;
        int64_t retention_sec;
        int parallel;
} YbS3Store;

#define S3STORE(s) ((YbS3Store *) (s))

/* The key of path (prefix + path), or NULL when out of memory. */
char *yb_s3_key(YbS3Store *s, const char *path);

/* One version of a key, from ListObjectVersions. */
typedef struct YbS3Version {
        char *version_id;
        uint64_t size;
        int64_t mtime;
        bool delete_marker;
} YbS3Version;

/* The versions of exactly key (newest first) in *ret (n in *ret_n; free with
 * yb_s3_versions_free()); *ret_dir tells whether some key lies under "key/". */
int yb_s3_versions(YbS3Store *s, const char *key, YbS3Version **ret, size_t *ret_n, bool *ret_dir);
void yb_s3_versions_free(YbS3Version *v, size_t n);
/* The version that is the object on a versioned bucket: the oldest version that is not a delete
 * marker (the first writer of a race: see s3-writer.c; yunbak never writes a marker, so a marker
 * is someone else's and hides nothing from yunbak); NULL when there is none. */
const YbS3Version *yb_s3_winner(const YbS3Version *v, size_t n);
/* Whether a key the bucket listed under "under" is one this store may act on: it starts with
 * under and has no empty, "." or ".." segment after it (a last empty one, "dir/", is allowed).
 * Otherwise warns naming the key, and the caller skips it. */
bool yb_s3_key_listed_ok(YbS3Store *s, const char *under, const char *key);
/* Called for each record of ListObjectVersions: a version or delete marker (marker) of key, or,
 * with version_id NULL, a common prefix. Returning < 0 stops the listing with that value. */
typedef int (*YbS3VersionFn)(void *ud, const char *key, const char *version_id, bool marker);
/* Every version and delete marker under prefix (with delimited: and each common prefix "x/"),
 * newest first per key, in key order, page by page. */
int yb_s3_versions_each(YbS3Store *s, const char *prefix, bool delimited, YbS3VersionFn fn,
                        void *ud);

/* The backend's file operations (s3-reader.c, s3-writer.c). */
int yb_s3_open_read(YbStore *s, const char *path, YbStoreFile **ret);
int yb_s3_create(YbStore *s, const char *path, unsigned flags, YbStoreFile **ret);
ssize_t yb_s3_read(YbStoreFile *f, void *data, size_t n);
ssize_t yb_s3_pread(YbStoreFile *f, void *data, size_t n, uint64_t off);
int yb_s3_write(YbStoreFile *f, const void *data, size_t n);
int yb_s3_sync(YbStoreFile *f);
/* DELETE key?name=value; an unexpected failure is logged (not 404, not 403). */
int yb_s3_delete_with(YbS3Store *s, const char *key, const char *name, const char *value);
/* Deletes one version of key (quietly: -EPERM when Object Lock keeps it). */
int yb_s3_delete_version(YbS3Store *s, const char *key, const char *version_id);
/* What every file of the backend starts with: whether it reads or writes. */
typedef struct YbS3FileHead {
        YbStoreFile base;
        bool reading;
} YbS3FileHead;
void yb_s3_reader_close(YbStoreFile *f);
void yb_s3_writer_close(YbStoreFile *f);
/* Marks a writer failed: closing it then publishes nothing and aborts its upload. */
void yb_s3_writer_abandon(YbStoreFile *f);
/* The version a reader reads ("" on a plain bucket). */
const char *yb_s3_reader_version(YbStoreFile *f);

/* Multipart uploads (s3-upload.c). */
/* Starts one for key with the extra headers (NULL-terminated, at most 4); its id in *ret. */
int yb_s3_upload_begin(YbS3Store *s, const char *key, const char *const *headers, char **ret);
/* Completes it from the parts' ETags (etags[0] is part 1); the new version in ret_version (160
 * bytes) on a versioned bucket. */
int yb_s3_upload_complete(YbS3Store *s, const char *key, const char *upload_id, char **etags,
                          size_t n, char *ret_version);
int yb_s3_upload_abort(YbS3Store *s, const char *key, const char *upload_id);
/* Aborts every pending upload of exactly key (exact) or of every key under key (!exact).
 * Returns the number aborted or -errno. */
int yb_s3_uploads_abort(YbS3Store *s, const char *key, bool exact);
