/* core/store/store-s3.c: the S3 backend: a prefix of a bucket on radosgw or any S3 service,
 * through libcurl (s3-client.h). An object store (store.h's opening comment): no directories, no
 * append, a rename that is an exclusive copy and a delete. This file opens the store (options,
 * credentials, the bucket's versioning and Object Lock) and does the path operations; objects are
 * read in s3-reader.c and written in s3-writer.c. How each guarantee is kept: docs/s3.md. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/store/s3-credentials.h"
#include "core/store/s3-query.h"
#include "core/store/s3-store.h"
#include "core/store/s3-xml.h"

#define DELETES_IN_FLIGHT 16

static void s3_close(YbStore *base) {
        YbS3Store *s = S3STORE(base);

        yb_s3_client_free(s->client);
        free(s->prefix);
        free(s->base.location);
        free(s);
}

/* What the bucket is: one request that also proves the bucket exists and the credentials work. */
static int probe_bucket(YbS3Store *s, const YbS3Options *o, char *err, size_t err_size) {
        const char *b = yb_s3_client_bucket(s->client), *ep = yb_s3_client_endpoint(s->client);
        YbS3Request req = { .method = "GET", .query = "versioning=", .quiet = true };
        _cleanup_free_ char *status = NULL, *enabled = NULL, *mode = NULL, *days = NULL,
                            *years = NULL;
        int r;

        r = yb_s3_run(s->client, &req);
        if (r >= 0)
                r = yb_s3_xml_value((const char *) req.answer.data, req.answer.size,
                                    "VersioningConfiguration/Status", &status);
        if (r < 0) {
                if (streq(req.code, "NoSuchBucket"))
                        yb_s3_errf(err, err_size, -ENOENT,
                                   "bucket %s does not exist at %s: create it (with Object Lock "
                                   "enabled for object_lock), or correct the location",
                                   b, ep);
                else if (r == -EPERM || r == -EACCES)
                        yb_s3_errf(
                                err, err_size, r,
                                "%s refuses our credentials for bucket %s (HTTP %ld %s%s%s): check "
                                "the credentials file %s",
                                ep, b, req.status, req.code, *req.message ? ": " : "", req.message,
                                o->credentials);
                else if (r == -EPROTO)
                        yb_s3_errf(err, err_size, r,
                                   "%s's TLS certificate is not trusted (%s): give the CA that "
                                   "signed it as ca_file (--s3-ca FILE)",
                                   ep, req.message);
                else if (r == -ECONNABORTED)
                        yb_s3_errf(err, err_size, r,
                                   "no TLS handshake with %s (is it http://?): %s; check the "
                                   "endpoint's scheme and port",
                                   ep, req.message);
                else if (r == -EBADMSG && req.status == 0)
                        yb_s3_errf(err, err_size, r,
                                   "%s's answer to the versioning query of bucket %s: %s", ep, b,
                                   req.message);
                else if (r == -ECONNREFUSED || r == -ETIMEDOUT || r == -EHOSTUNREACH ||
                         r == -ECONNRESET)
                        yb_s3_errf(err, err_size, r,
                                   "%s cannot be reached (%s): check the endpoint", ep,
                                   req.message);
                else
                        yb_s3_errf(err, err_size, r, "%s answers bucket %s with HTTP %ld %s%s%s",
                                   ep, b, req.status, req.code, *req.message ? ": " : "",
                                   req.message);
                yb_s3_request_done(s->client, &req);
                return r == -ENOENT && !streq(req.code, "NoSuchBucket") ? -EIO : r;
        }
        s->versioned = status && streq(status, "Enabled");
        yb_s3_request_done(s->client, &req);

        req = (YbS3Request){ .method = "GET", .query = "object-lock=", .quiet = true };
        r = yb_s3_run(s->client, &req);
        if (r >= 0)
                r = yb_s3_xml_value((const char *) req.answer.data, req.answer.size,
                                    "ObjectLockConfiguration/ObjectLockEnabled", &enabled);
        if (r >= 0)
                r = yb_s3_xml_value((const char *) req.answer.data, req.answer.size,
                                    "ObjectLockConfiguration/Rule/DefaultRetention/Mode", &mode);
        if (r >= 0)
                r = yb_s3_xml_value((const char *) req.answer.data, req.answer.size,
                                    "ObjectLockConfiguration/Rule/DefaultRetention/Days", &days);
        if (r >= 0)
                r = yb_s3_xml_value((const char *) req.answer.data, req.answer.size,
                                    "ObjectLockConfiguration/Rule/DefaultRetention/Years", &years);
        else if (r == -ENOENT)
                r = 0; /* ObjectLockConfigurationNotFoundError */
        if (r < 0) {
                yb_s3_log_failure(s->client, &req);
                yb_s3_errf(err, err_size, r,
                           "%s answers the Object Lock query of bucket %s with HTTP "
                           "%ld %s",
                           ep, b, req.status, req.code);
        }
        yb_s3_request_done(s->client, &req);
        if (r < 0)
                return r;
        s->object_lock = enabled && streq(enabled, "Enabled");
        /* A default retention locks every object, the lock and config too: nothing could ever
         * take the repository's lock again until it ends. */
        if (s->object_lock && (mode || days || years))
                return yb_s3_errf(err, err_size, -EPROTONOSUPPORT,
                                  "bucket %s has a default retention (%s, %s %s%s): yunbak's lock "
                                  "and config must stay deletable; remove the bucket's default "
                                  "rule and declare object_lock: compliance with a retention "
                                  "instead",
                                  b, mode ? mode : "no mode",
                                  days    ? days
                                  : years ? years
                                          : "?",
                                  days ? "day" : "year",
                                  streq(days    ? days
                                        : years ? years
                                                : "",
                                        "1")
                                          ? ""
                                          : "s");
        if (o->object_lock == YB_OBJECT_LOCK_COMPLIANCE && !s->object_lock)
                return yb_s3_errf(
                        err, err_size, -EPROTONOSUPPORT,
                        "bucket %s has no Object Lock: create it with Object Lock enabled, "
                        "or drop object_lock",
                        b);
        return 0;
}

/* Whether the endpoint URL's host is an IP address (IPv4, or IPv6 in brackets). */
static bool endpoint_is_ip(const char *endpoint) {
        const char *h = strstr(endpoint, "://");
        char host[64];
        struct in_addr a;
        size_t n;

        h = h ? h + 3 : endpoint;
        if (*h == '[')
                return true;
        n = strcspn(h, ":/");
        if (n >= sizeof(host))
                return false;
        memcpy(host, h, n);
        host[n] = 0;
        return inet_pton(AF_INET, host, &a) == 1;
}

static int s3_open(const char *location, const YbLocation *where, const YbStoreOptions *opts,
                   YbStore **ret, char *err, size_t err_size) {
        const YbS3Options *o = &opts->s3;
        _cleanup_(yb_s3_credentials_done) YbS3Credentials cred = { 0 };
        YbS3Store *s;
        int r;

        if (!o->endpoint || !*o->endpoint)
                return yb_s3_errf(
                        err, err_size, -EINVAL,
                        "%s: no S3 endpoint: give --s3-endpoint URL (or YUNBAK_S3_ENDPOINT), "
                        "or `endpoint:` in the store's s3: block",
                        location);
        if (!o->credentials || !*o->credentials)
                return yb_s3_errf(
                        err, err_size, -EINVAL,
                        "%s: no S3 credentials: give --s3-credentials FILE (or "
                        "YUNBAK_S3_CREDENTIALS), or `credentials:` in the store's s3: block; "
                        "the file holds [default] with aws_access_key_id and "
                        "aws_secret_access_key",
                        location);
        if (o->object_lock == YB_OBJECT_LOCK_COMPLIANCE && o->retention_sec <= 0)
                return yb_s3_errf(
                        err, err_size, -EINVAL,
                        "%s: object_lock compliance needs a retention (retention: 90d, or "
                        "--s3-retention)",
                        location);
        if (o->style == YB_S3_STYLE_VIRTUAL && endpoint_is_ip(o->endpoint))
                return yb_s3_errf(err, err_size, -EINVAL,
                                  "%s: virtual-host style needs a DNS name for the endpoint "
                                  "(the bucket is reached as BUCKET.HOST), and %s is an IP "
                                  "address: use style: path (--s3-style path), or a host name",
                                  location, o->endpoint);
        r = yb_s3_credentials_load(o->credentials, &cred, err, err_size);
        if (r < 0)
                return r;

        s = new0(YbS3Store, 1);
        if (!s)
                return -ENOMEM;
        s->base.ops = &yb_store_s3_ops;
        s->base.location = strdup(location);
        if (*where->path)
                r = asprintf(&s->prefix, "%s/", where->path);
        else
                s->prefix = strdup("");
        if (!s->base.location || !s->prefix || r < 0) {
                s3_close(&s->base);
                return -ENOMEM;
        }
        s->lock_mode = o->object_lock;
        s->retention_sec = o->retention_sec;
        s->parallel = o->parallel > 0 ? MIN(o->parallel, 64) : 4;
        {
                YbS3ClientConfig cfg = { .location = location,
                                         .endpoint = o->endpoint,
                                         .region = o->region && *o->region ? o->region : "default",
                                         .bucket = where->bucket,
                                         .access_key = cred.access_key,
                                         .secret_key = cred.secret_key,
                                         .ca_file = o->ca_file,
                                         .style = o->style,
                                         .timeout_ns = opts->timeout_ns };

                r = yb_s3_client_new(&cfg, &s->client, err, err_size);
        }
        if (r >= 0)
                r = probe_bucket(s, o, err, err_size);
        if (r < 0) {
                s3_close(&s->base);
                return r;
        }
        log_debug("S3 store '%s': bucket '%s' at %s%s%s", location, where->bucket, o->endpoint,
                  s->versioned ? ", versioned" : "", s->object_lock ? ", with Object Lock" : "");
        *ret = &s->base;
        return 0;
}

static int s3_open_append(YbStore *s, const char *path, uint64_t *ret_size, YbStoreFile **ret) {
        return -EOPNOTSUPP;
}

static void s3_file_close(YbStoreFile *f) {
        if (((YbS3FileHead *) f)->reading)
                yb_s3_reader_close(f);
        else
                yb_s3_writer_close(f);
}

/* yb_store_file_abort: a file being written publishes nothing (its upload is aborted). */
static void s3_file_abort(YbStoreFile *f) {
        if (!((YbS3FileHead *) f)->reading)
                yb_s3_writer_abandon(f);
        s3_file_close(f);
}

static int nothing(YbStore *s, const char *path) {
        return 0; /* no directories on objects */
}

/* Whether anything lies under "key/". */
static int has_children(YbS3Store *s, const char *key) {
        _cleanup_free_ char *under = NULL, *query = NULL, *count = NULL;
        YbS3Request req = { .method = "GET" };
        int r;

        if (asprintf(&under, "%s/", key) < 0)
                return -ENOMEM;
        {
                YbS3Param p[] = { { "list-type", "2" }, { "prefix", under }, { "max-keys", "1" } };

                r = yb_s3_query(p, ELEMENTSOF(p), &query);
        }
        if (r < 0)
                return r;
        req.query = query;
        r = yb_s3_run(s->client, &req);
        if (r >= 0)
                r = yb_s3_xml_value((const char *) req.answer.data, req.answer.size,
                                    "ListBucketResult/KeyCount", &count);
        yb_s3_request_done(s->client, &req);
        if (r < 0)
                return r;
        return count && strtoull(count, NULL, 10) > 0;
}

static int s3_stat(YbStore *base, const char *path, YbStoreStat *ret) {
        YbS3Store *s = S3STORE(base);
        _cleanup_free_ char *key = yb_s3_key(s, path), *query = NULL;
        YbS3Request req = { .method = "HEAD" };
        int r;

        if (!key)
                return -ENOMEM;
        req.key = key;
        if (s->versioned) {
                YbS3Version *v = NULL;
                const YbS3Version *win;
                size_t n = 0;
                bool dir;

                r = yb_s3_versions(s, key, &v, &n, &dir);
                if (r < 0)
                        return r;
                win = yb_s3_winner(v, n);
                if (win) {
                        YbS3Param p[] = { { "versionId", win->version_id } };

                        r = yb_s3_query(p, 1, &query);
                }
                yb_s3_versions_free(v, n);
                if (r < 0)
                        return r;
                if (!win) {
                        if (!dir)
                                return -ENOENT;
                        *ret = (YbStoreStat){ .is_dir = true };
                        return 0;
                }
                req.query = query;
        }
        r = yb_s3_run(s->client, &req);
        if (r >= 0)
                *ret = (YbStoreStat){ .size = req.length,
                                      .mtime = req.mtime,
                                      .retain_until = req.retain_until,
                                      .legal_hold = req.legal_hold };
        yb_s3_request_done(s->client, &req);
        if (r != -ENOENT || s->versioned)
                return r;
        r = has_children(s, key);
        if (r < 0)
                return r;
        if (!r)
                return -ENOENT;
        *ret = (YbStoreStat){ .is_dir = true };
        return 0;
}

typedef struct ListCtx {
        YbS3Store *s;
        const char *under;
        int (*fn)(void *ud, const char *name);
        void *ud;
        size_t n;
        char *last; /* the name given last (a versioned listing repeats a key per version) */
} ListCtx;

static int list_entry(void *ud, char **f) {
        ListCtx *l = ud;
        const char *k = f[0];
        char *name;
        size_t len;

        if (!k)
                return -EBADMSG;
        if (!yb_s3_key_listed_ok(l->s, l->under, k))
                return 0;
        k += strlen(l->under);
        len = strlen(k);
        if (len > 0 && k[len - 1] == '/')
                len--; /* a common prefix: a "directory" */
        if (len == 0)
                return 0; /* "dir/" itself, made by some other tool */
        if (l->last && strlen(l->last) == len && strncmp(l->last, k, len) == 0)
                return 0;
        name = strndup(k, len);
        if (!name)
                return -ENOMEM;
        free(l->last);
        l->last = name;
        l->n++;
        return l->fn(l->ud, name);
}

/* A versioned bucket's listing: every name with a version, whether or not a delete marker is its
 * newest entry (ListObjectsV2 hides those), and every common prefix. */
static int list_version(void *ud, const char *key, const char *version_id, bool marker) {
        char *f[1] = { (char *) key };

        return marker ? 0 : list_entry(ud, f);
}

/* ListObjectsV2 of everything under prefix, page by page: fn gets each key (Contents/Key) and,
 * with a delimiter, each common prefix (CommonPrefixes/Prefix), as values[0]. */
static int list_v2(YbS3Store *s, const char *prefix, bool delimited,
                   int (*fn)(void *ud, char **values), void *ud) {
        static const char *const key_field[] = { "Key" };
        static const char *const prefix_field[] = { "Prefix" };
        _cleanup_free_ char *token = NULL;
        int r = 0;

        for (;;) {
                _cleanup_free_ char *query = NULL, *truncated = NULL;
                YbS3Param p[] = { { "list-type", "2" },
                                  { "prefix", prefix },
                                  { delimited ? "delimiter" : NULL, "/" },
                                  { token ? "continuation-token" : NULL, token } };
                YbS3Request req = { .method = "GET" };
                const char *a;

                r = yb_s3_query(p, ELEMENTSOF(p), &query);
                if (r < 0)
                        return r;
                req.query = query;
                r = yb_s3_run(s->client, &req);
                a = (const char *) req.answer.data;
                if (r >= 0)
                        r = yb_s3_xml_records(a, req.answer.size, "ListBucketResult/Contents",
                                              key_field, 1, fn, ud);
                if (r >= 0 && delimited)
                        r = yb_s3_xml_records(a, req.answer.size, "ListBucketResult/CommonPrefixes",
                                              prefix_field, 1, fn, ud);
                if (r >= 0)
                        r = yb_s3_xml_value(a, req.answer.size, "ListBucketResult/IsTruncated",
                                            &truncated);
                free(token);
                token = NULL;
                if (r >= 0 && truncated && streq(truncated, "true")) {
                        r = yb_s3_xml_value(a, req.answer.size,
                                            "ListBucketResult/NextContinuationToken", &token);
                        if (r >= 0 && !token)
                                r = -EBADMSG;
                }
                yb_s3_request_done(s->client, &req);
                if (r < 0 || !token)
                        return r;
        }
}

static int s3_list(YbStore *base, const char *path, int (*fn)(void *ud, const char *name),
                   void *ud) {
        YbS3Store *s = S3STORE(base);
        _cleanup_free_ char *under = NULL;
        ListCtx l = { .s = s, .fn = fn, .ud = ud };
        int r;

        if (asprintf(&under, "%s%s%s", s->prefix, path, *path ? "/" : "") < 0)
                return -ENOMEM;
        l.under = under;
        if (s->versioned)
                r = yb_s3_versions_each(s, under, true, list_version, &l);
        else
                r = list_v2(s, under, true, list_entry, &l);
        free(l.last);
        if (r < 0)
                return r;
        /* A directory exists while something lies under it; the store's top always exists. */
        return l.n == 0 && *path ? -ENOENT : 0;
}

/* Keeps the first failure, -EPERM (Object Lock kept something) giving way to any other. */
static void first_failure(int *result, int r) {
        if (r < 0 && r != -ENOENT && (*result == 0 || *result == -EPERM))
                *result = r;
}

/* Deletes the versions (and delete markers) of keys[i] given by versions[i] (a versioned bucket),
 * or keys[0..n) (a plain one), DELETES_IN_FLIGHT at a time. Returns 0, -EPERM when Object Lock
 * kept some version (after deleting what it could), or the first other failure. */
static int delete_keys_versions(YbS3Store *s, char **keys, char **versions, size_t n) {
        int result = 0;

        for (size_t i = 0; i < n; i += DELETES_IN_FLIGHT) {
                YbS3Request req[DELETES_IN_FLIGHT];
                char *query[DELETES_IN_FLIGHT] = { NULL };
                size_t m = MIN((size_t) DELETES_IN_FLIGHT, n - i);

                for (size_t j = 0; j < m; j++) {
                        req[j] = (YbS3Request){ .method = "DELETE",
                                                .key = keys[i + j],
                                                .quiet = true };
                        if (versions) {
                                YbS3Param p[] = { { "versionId", versions[i + j] } };

                                if (yb_s3_query(p, 1, &query[j]) < 0 && result == 0)
                                        result = -ENOMEM;
                                req[j].query = query[j];
                        }
                        if (yb_s3_start(s->client, &req[j]) < 0 && result == 0)
                                result = -ENOMEM;
                }
                for (size_t j = 0; j < m; j++) {
                        int r = yb_s3_wait(s->client, &req[j]);

                        if (r == -EACCES)
                                r = -EPERM;
                        else if (r < 0 && r != -ENOENT)
                                yb_s3_log_failure(s->client, &req[j]);
                        first_failure(&result, r);
                        yb_s3_request_done(s->client, &req[j]);
                        free(query[j]);
                }
        }
        return result;
}

/* Deletes one key on a versioned bucket: its winner, every version older than the winner and
 * every delete marker, never a version newer than the winner (a racer's: it removes itself as a
 * loser, or has just won after the winner went). -ENOENT when the key had no version. */
static int delete_versioned_key(YbS3Store *s, const char *key, bool *ret_dir) {
        YbS3Version *v = NULL;
        const YbS3Version *win;
        size_t nv = 0;
        bool dir = false;
        int result = 0, r = yb_s3_versions(s, key, &v, &nv, &dir);

        if (r < 0)
                return r;
        win = yb_s3_winner(v, nv);
        if (win)
                first_failure(&result, yb_s3_delete_version(s, key, win->version_id));
        for (size_t j = 0; j < nv; j++)
                if (&v[j] != win && (v[j].delete_marker || (win && &v[j] > win)))
                        first_failure(&result, yb_s3_delete_version(s, key, v[j].version_id));
        yb_s3_versions_free(v, nv);
        if (ret_dir)
                *ret_dir = dir;
        return result < 0 ? result : win ? 0 : -ENOENT;
}

/* Deletes keys[0..n) (each: its winner and what is older, and markers, on a versioned bucket).
 * Returns as delete_keys_versions(). */
static int delete_keys(YbS3Store *s, char **keys, size_t n) {
        int result = 0;

        if (!s->versioned)
                return delete_keys_versions(s, keys, NULL, n);
        for (size_t i = 0; i < n; i++)
                first_failure(&result, delete_versioned_key(s, keys[i], NULL));
        return result;
}

static int s3_unlink(YbStore *base, const char *path) {
        YbS3Store *s = S3STORE(base);
        _cleanup_free_ char *key = yb_s3_key(s, path);
        YbStoreStat st;
        int r;

        if (!key)
                return -ENOMEM;
        if (s->versioned) {
                bool dir = false;

                r = delete_versioned_key(s, key, &dir);
                return r == -ENOENT && dir ? -EISDIR : r;
        }
        r = s3_stat(base, path, &st);
        if (r < 0)
                return r;
        if (st.is_dir)
                return -EISDIR;
        return delete_keys(s, &key, 1);
}

typedef struct KeyList {
        YbS3Store *s;
        const char *under; /* NULL: a key of our own, not listed */
        char **keys, **versions;
        size_t n, alloc;
} KeyList;

/* Adds key (and its version, on a versioned bucket) to the list of what to delete. */
static int key_add(KeyList *l, const char *key, const char *version_id) {
        if (l->under && !yb_s3_key_listed_ok(l->s, l->under, key))
                return 0;
        if (l->n == l->alloc) {
                size_t a = l->alloc ? 2 * l->alloc : 64;
                char **k = realloc(l->keys, a * sizeof(char *));

                if (!k)
                        return -ENOMEM;
                l->keys = k;
                k = realloc(l->versions, a * sizeof(char *));
                if (!k)
                        return -ENOMEM;
                l->versions = k;
                l->alloc = a;
        }
        l->keys[l->n] = strdup(key);
        l->versions[l->n] = version_id ? strdup(version_id) : NULL;
        if (!l->keys[l->n] || (version_id && !l->versions[l->n])) {
                free(l->keys[l->n]);
                free(l->versions[l->n]);
                return -ENOMEM;
        }
        l->n++;
        return 0;
}

static int key_collect(void *ud, char **f) {
        return f[0] ? key_add(ud, f[0], NULL) : -EBADMSG;
}

static int version_collect(void *ud, const char *key, const char *version_id, bool marker) {
        return version_id ? key_add(ud, key, version_id) : 0;
}

static int s3_remove_tree(YbStore *base, const char *path) {
        YbS3Store *s = S3STORE(base);
        _cleanup_free_ char *key = yb_s3_key(s, path), *under = NULL;
        KeyList l = { .s = s };
        int r, q;

        if (!key || asprintf(&under, "%s/", key) < 0)
                return -ENOMEM;
        l.under = under;
        /* The whole listing first (without a delimiter: every key below; on a versioned bucket
         * every version and delete marker), then the deletes. */
        if (s->versioned) {
                r = yb_s3_versions_each(s, under, false, version_collect, &l);
                if (r >= 0) {
                        /* Every version and marker of a key of that name, too. */
                        YbS3Version *v = NULL;
                        size_t nv = 0;
                        bool dir;

                        l.under = NULL;
                        r = yb_s3_versions(s, key, &v, &nv, &dir);
                        for (size_t j = 0; r >= 0 && j < nv; j++)
                                r = key_add(&l, key, v[j].version_id);
                        yb_s3_versions_free(v, nv);
                }
                if (r >= 0)
                        r = delete_keys_versions(s, l.keys, l.versions, l.n);
        } else
                r = list_v2(s, under, false, key_collect, &l);
        if (r >= 0 && !s->versioned) {
                /* A file of that name, too (remove_tree of a file removes it). */
                YbStoreStat st;

                l.under = NULL;
                q = s3_stat(base, path, &st);
                if (q >= 0 && !st.is_dir)
                        r = key_add(&l, key, NULL);
                else if (q < 0 && q != -ENOENT)
                        r = q;
                if (r >= 0)
                        r = delete_keys_versions(s, l.keys, NULL, l.n);
        }
        for (size_t i = 0; i < l.n; i++) {
                free(l.keys[i]);
                free(l.versions[i]);
        }
        free(l.keys);
        free(l.versions);
        q = yb_s3_uploads_abort(s, key, false);
        if (q < 0 && r >= 0)
                r = q;
        return r < 0 ? r : 0;
}

/* Rename of a file: an exclusive create of the target from the source's bytes, then a delete of
 * the source (on a versioned bucket, of exactly the version read). */
static int copy_to(YbStore *base, YbStoreFile *in, const char *to) {
        _cleanup_free_ uint8_t *buf = malloc(YB_S3_PART_SIZE);
        YbStoreFile *out = NULL;
        int r;

        if (!buf)
                return -ENOMEM;
        r = yb_s3_create(base, to, 0, &out);
        if (r < 0)
                return r;
        for (;;) {
                ssize_t k = yb_s3_read(in, buf, YB_S3_PART_SIZE);

                if (k <= 0) {
                        r = (int) k;
                        break;
                }
                r = yb_s3_write(out, buf, (size_t) k);
                if (r < 0)
                        break;
        }
        if (r >= 0)
                r = yb_s3_sync(out);
        else
                yb_s3_writer_abandon(out); /* a failed copy publishes nothing */
        yb_s3_writer_close(out);
        return r;
}

static int s3_rename(YbStore *base, const char *from, const char *to) {
        YbS3Store *s = S3STORE(base);
        _cleanup_free_ char *from_key = yb_s3_key(s, from), *version = NULL;
        YbStoreFile *in = NULL;
        int r;

        if (!from_key)
                return -ENOMEM;
        r = yb_s3_open_read(base, from, &in);
        if (r == -EISDIR || (r == -ENOENT && has_children(s, from_key) > 0))
                return -EOPNOTSUPP; /* no rename of a directory on objects */
        if (r < 0)
                return r;
        version = strdup(yb_s3_reader_version(in));
        r = version ? copy_to(base, in, to) : -ENOMEM;
        yb_s3_reader_close(in);
        if (r < 0)
                return r;
        if (s->versioned && *version)
                return yb_s3_delete_version(s, from_key, version);
        return delete_keys(s, &from_key, 1);
}

const YbStoreOps yb_store_s3_ops = {
        .kind = YB_LOCATION_S3,
        .flags = YB_STORE_OBJECTS | YB_STORE_VERIFIES_BODIES,
        .open = s3_open,
        .close = s3_close,
        .open_read = yb_s3_open_read,
        .create = yb_s3_create,
        .open_append = s3_open_append,
        .read = yb_s3_read,
        .pread = yb_s3_pread,
        .write = yb_s3_write,
        .sync = yb_s3_sync,
        .file_close = s3_file_close,
        .file_abort = s3_file_abort,
        .rename = s3_rename,
        .unlink = s3_unlink,
        .mkdir = nothing,
        .rmdir = nothing,
        .stat = s3_stat,
        .list = s3_list,
        .sync_dir = nothing,
        .remove_tree = s3_remove_tree,
};
