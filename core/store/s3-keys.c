/* core/store/s3-keys.c: keys and versions, shared by the files of the S3 backend: the key of a
 * path, the versions of a key on a versioned bucket (ListObjectVersions, in the server's order)
 * and which of them is the object, and the delete of one version. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/store/s3-query.h"
#include "core/store/s3-store.h"
#include "core/store/s3-xml.h"

char *yb_s3_key(YbS3Store *s, const char *path) {
        char *k = NULL;

        if (asprintf(&k, "%s%s", s->prefix, path) < 0)
                return NULL;
        return k;
}

void yb_s3_versions_free(YbS3Version *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i].version_id);
        free(v);
}

typedef struct Versions {
        const char *key;
        YbS3Version *v;
        size_t n;
        bool dir;
        bool marker; /* the record is a DeleteMarker */
} Versions;

static int version_add(void *ud, char **f) {
        Versions *x = ud;
        YbS3Version *nv;
        size_t kl = strlen(x->key);

        if (!f[0] || !f[1])
                return -EBADMSG;
        if (strcmp(f[0], x->key) != 0) {
                if (strncmp(f[0], x->key, kl) == 0 && f[0][kl] == '/')
                        x->dir = true;
                return 0;
        }
        nv = realloc(x->v, (x->n + 1) * sizeof(YbS3Version));
        if (!nv)
                return -ENOMEM;
        x->v = nv;
        nv[x->n] = (YbS3Version){ .version_id = strdup(f[1]),
                                  .size = f[2] ? strtoull(f[2], NULL, 10) : 0,
                                  .delete_marker = x->marker };
        if (!nv[x->n].version_id)
                return -ENOMEM;
        x->n++;
        return 0;
}

/* The order of a listing's Version and DeleteMarker records matters (newest first): both are
 * collected in one pass over "ListVersionsResult" and its children in document order. */
typedef struct Ordered {
        Versions *x;
        char *f[3];
} Ordered;

static int ordered_fn(void *ud, const char *path, const char *text, size_t len) {
        static const char *const names[] = { "Key", "VersionId", "Size" };
        Ordered *o = ud;
        const char *rec;
        int r = 0;

        if (strncmp(path, "ListVersionsResult/", 19) != 0)
                return 0;
        rec = path + 19;
        if (strcmp(rec, "Version") == 0 || strcmp(rec, "DeleteMarker") == 0) {
                o->x->marker = rec[0] == 'D';
                r = version_add(o->x, o->f);
                for (size_t i = 0; i < 3; i++) {
                        free(o->f[i]);
                        o->f[i] = NULL;
                }
                return r;
        }
        for (size_t i = 0; i < 3; i++) {
                size_t l = strlen(names[i]);

                if ((strncmp(rec, "Version/", 8) == 0 && strcmp(rec + 8, names[i]) == 0) ||
                    (strncmp(rec, "DeleteMarker/", 13) == 0 && strcmp(rec + 13, names[i]) == 0)) {
                        (void) l;
                        free(o->f[i]);
                        o->f[i] = strndup(text, len);
                        return o->f[i] ? 0 : -ENOMEM;
                }
        }
        return 0;
}

int yb_s3_versions(YbS3Store *s, const char *key, YbS3Version **ret, size_t *ret_n, bool *ret_dir) {
        _cleanup_free_ char *query = NULL;
        /* The versions of key sort before those of "key/..." and "keyX": one page of 1000 holds
         * them unless a key has more than about 1000 versions, which this store never makes. */
        YbS3Param p[] = { { "versions", NULL }, { "prefix", key }, { "max-keys", "1000" } };
        YbS3Request req = { .method = "GET" };
        Versions x = { .key = key };
        Ordered o = { .x = &x };
        int r;

        r = yb_s3_query(p, ELEMENTSOF(p), &query);
        if (r < 0)
                return r;
        req.query = query;
        r = yb_s3_run(s->client, &req);
        if (r >= 0)
                r = yb_s3_xml_parse((const char *) req.answer.data, req.answer.size, ordered_fn,
                                    &o);
        for (size_t i = 0; i < 3; i++)
                free(o.f[i]);
        yb_s3_request_done(s->client, &req);
        if (r < 0) {
                yb_s3_versions_free(x.v, x.n);
                return r;
        }
        *ret = x.v;
        *ret_n = x.n;
        *ret_dir = x.dir;
        return 0;
}

const YbS3Version *yb_s3_winner(const YbS3Version *v, size_t n) {
        /* yunbak never writes a delete marker: a marker is someone else's and ends nothing. */
        for (size_t i = n; i > 0; i--)
                if (!v[i - 1].delete_marker)
                        return &v[i - 1];
        return NULL;
}

bool yb_s3_key_listed_ok(YbS3Store *s, const char *under, const char *key) {
        size_t ul = strlen(under);
        const char *p;

        if (strncmp(key, under, ul) != 0)
                goto bad;
        for (p = key + ul;;) {
                const char *slash = strchr(p, '/');
                size_t l = slash ? (size_t) (slash - p) : strlen(p);

                /* An empty last segment is a "directory" ("dir/"); elsewhere none is allowed. */
                if ((l == 0 && (slash || p == key + ul)) || (l == 1 && p[0] == '.') ||
                    (l == 2 && p[0] == '.' && p[1] == '.'))
                        goto bad;
                if (!slash)
                        return true;
                p = slash + 1;
        }
bad:
        log_warning("S3 store '%s': bucket %s lists the key '%s' under '%s', which is not a key "
                    "this store writes (outside the prefix, or with an empty, '.' or '..' "
                    "segment): skipped, not read or deleted; remove it with another S3 client if "
                    "it does not belong there",
                    s->base.location, yb_s3_client_bucket(s->client), key, under);
        return false;
}

typedef struct Each {
        YbS3VersionFn fn;
        void *ud;
        char *key, *version_id;
} Each;

static int each_fn(void *ud, const char *path, const char *text, size_t len) {
        Each *e = ud;
        const char *rec;
        char **slot = NULL;
        int r = 0;

        if (strncmp(path, "ListVersionsResult/", 19) != 0)
                return 0;
        rec = path + 19;
        if (strcmp(rec, "Version") == 0 || strcmp(rec, "DeleteMarker") == 0) {
                if (!e->key || !e->version_id)
                        r = -EBADMSG;
                else
                        r = e->fn(e->ud, e->key, e->version_id, rec[0] == 'D');
        } else if (strcmp(rec, "CommonPrefixes/Prefix") == 0) {
                _cleanup_free_ char *prefix = strndup(text, len);

                return prefix ? e->fn(e->ud, prefix, NULL, false) : -ENOMEM;
        } else if (strcmp(rec, "Version/Key") == 0 || strcmp(rec, "DeleteMarker/Key") == 0)
                slot = &e->key;
        else if (strcmp(rec, "Version/VersionId") == 0 ||
                 strcmp(rec, "DeleteMarker/VersionId") == 0)
                slot = &e->version_id;
        if (slot) {
                free(*slot);
                *slot = strndup(text, len);
                return *slot ? 0 : -ENOMEM;
        }
        if (strcmp(rec, "Version") == 0 || strcmp(rec, "DeleteMarker") == 0) {
                free(e->key);
                free(e->version_id);
                e->key = e->version_id = NULL;
        }
        return r;
}

int yb_s3_versions_each(YbS3Store *s, const char *prefix, bool delimited, YbS3VersionFn fn,
                        void *ud) {
        _cleanup_free_ char *key_marker = NULL, *vid_marker = NULL;
        int r;

        for (;;) {
                _cleanup_free_ char *query = NULL, *truncated = NULL;
                YbS3Param p[] = { { "versions", NULL },
                                  { "prefix", prefix },
                                  { delimited ? "delimiter" : NULL, "/" },
                                  { key_marker ? "key-marker" : NULL, key_marker },
                                  { vid_marker ? "version-id-marker" : NULL, vid_marker } };
                YbS3Request req = { .method = "GET" };
                Each e = { .fn = fn, .ud = ud };
                const char *a;

                r = yb_s3_query(p, ELEMENTSOF(p), &query);
                if (r < 0)
                        return r;
                req.query = query;
                r = yb_s3_run(s->client, &req);
                a = (const char *) req.answer.data;
                if (r >= 0)
                        r = yb_s3_xml_parse(a, req.answer.size, each_fn, &e);
                free(e.key);
                free(e.version_id);
                if (r >= 0)
                        r = yb_s3_xml_value(a, req.answer.size, "ListVersionsResult/IsTruncated",
                                            &truncated);
                free(key_marker);
                free(vid_marker);
                key_marker = vid_marker = NULL;
                if (r >= 0 && truncated && streq(truncated, "true")) {
                        r = yb_s3_xml_value(a, req.answer.size, "ListVersionsResult/NextKeyMarker",
                                            &key_marker);
                        if (r >= 0)
                                r = yb_s3_xml_value(a, req.answer.size,
                                                    "ListVersionsResult/NextVersionIdMarker",
                                                    &vid_marker);
                        if (r >= 0 && !key_marker)
                                r = -EBADMSG;
                }
                yb_s3_request_done(s->client, &req);
                if (r < 0 || !key_marker)
                        return r;
        }
}

int yb_s3_delete_with(YbS3Store *s, const char *key, const char *name, const char *value) {
        _cleanup_free_ char *query = NULL;
        YbS3Param p[] = { { name, value } };
        YbS3Request req = { .method = "DELETE", .key = key, .quiet = true };
        int r;

        r = yb_s3_query(p, ELEMENTSOF(p), &query);
        if (r < 0)
                return r;
        req.query = query;
        r = yb_s3_run(s->client, &req);
        if (r < 0 && r != -ENOENT && r != -EACCES)
                yb_s3_log_failure(s->client, &req);
        yb_s3_request_done(s->client, &req);
        return r;
}

int yb_s3_delete_version(YbS3Store *s, const char *key, const char *version_id) {
        int r = yb_s3_delete_with(s, key, "versionId", version_id);

        return r == -EACCES ? -EPERM : r; /* Object Lock keeps it */
}
