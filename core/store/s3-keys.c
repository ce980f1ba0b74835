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
        const YbS3Version *win = NULL;

        for (size_t i = 0; i < n && !v[i].delete_marker; i++)
                win = &v[i];
        return win;
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
