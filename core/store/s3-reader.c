/* core/store/s3-reader.c: reading an object with ranged GETs. A sequential reader keeps the
 * store's `parallel` chunks of YB_S3_READ_CHUNK requested ahead of where it reads, so a restore
 * streams at what the connection gives rather than one round trip per chunk; pread asks for
 * exactly what it is given. On a versioned bucket the reader reads the version that is the
 * object (yb_s3_winner(), see s3-writer.c), by its id. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/store/s3-query.h"
#include "core/store/s3-store.h"

typedef struct Chunk {
        YbS3Request req;
        uint8_t *data;
        uint64_t off;
        size_t len;
        bool started;
        char range[64];
} Chunk;

typedef struct S3Reader {
        YbS3FileHead head;
        char *key;
        char version[160];
        char *query; /* "versionId=..." or NULL */
        uint64_t size, pos;
        Chunk *chunks;
        size_t n_chunks;
        int err;
} S3Reader;

#define READER(f) ((S3Reader *) (f))

const char *yb_s3_reader_version(YbStoreFile *f) {
        return READER(f)->version;
}

int yb_s3_open_read(YbStore *base, const char *path, YbStoreFile **ret) {
        YbS3Store *s = S3STORE(base);
        S3Reader *f = new0(S3Reader, 1);
        int r = 0;

        if (!f)
                return -ENOMEM;
        f->head.base.store = base;
        f->head.reading = true;
        f->key = yb_s3_key(s, path);
        f->n_chunks = (size_t) s->parallel;
        f->chunks = calloc(f->n_chunks, sizeof(Chunk));
        if (!f->key || !f->chunks)
                r = -ENOMEM;
        if (r >= 0 && s->versioned) {
                YbS3Version *v = NULL;
                const YbS3Version *win;
                size_t n = 0;
                bool dir;

                r = yb_s3_versions(s, f->key, &v, &n, &dir);
                if (r >= 0) {
                        win = yb_s3_winner(v, n);
                        if (!win)
                                r = dir ? -EISDIR : -ENOENT;
                        else {
                                YbS3Param p[] = { { "versionId", win->version_id } };

                                snprintf(f->version, sizeof(f->version), "%s", win->version_id);
                                f->size = win->size;
                                r = yb_s3_query(p, 1, &f->query);
                        }
                }
                yb_s3_versions_free(v, n);
        } else if (r >= 0) {
                YbS3Request req = { .method = "HEAD", .key = f->key };

                r = yb_s3_run(s->client, &req);
                f->size = req.length;
                yb_s3_request_done(s->client, &req);
        }
        if (r < 0) {
                yb_s3_reader_close(&f->head.base);
                return r;
        }
        *ret = &f->head.base;
        return 0;
}

static int start_chunk(S3Reader *f, Chunk *c, uint64_t off) {
        YbS3Store *s = S3STORE(f->head.base.store);

        c->off = off;
        c->len = (size_t) MIN((uint64_t) YB_S3_READ_CHUNK, f->size - off);
        if (!c->data) {
                c->data = malloc(YB_S3_READ_CHUNK);
                if (!c->data)
                        return -ENOMEM;
        }
        snprintf(c->range, sizeof(c->range), "Range: bytes=%llu-%llu", (unsigned long long) off,
                 (unsigned long long) (off + c->len - 1));
        c->req = (YbS3Request){ .method = "GET",
                                .key = f->key,
                                .query = f->query,
                                .into = c->data,
                                .into_size = c->len };
        c->req.headers[0] = c->range;
        c->started = true;
        return yb_s3_start(s->client, &c->req);
}

static void stop_chunk(S3Reader *f, Chunk *c) {
        if (c->started)
                yb_s3_request_done(S3STORE(f->head.base.store)->client, &c->req);
        c->started = false;
}

/* Reads from one chunk: at most up to its end. */
static ssize_t read_some(YbStoreFile *base, void *data, size_t n) {
        S3Reader *f = READER(base);
        YbS3Client *client = S3STORE(base->store)->client;
        uint64_t k;
        Chunk *c;
        size_t take;
        int r;

        if (f->err)
                return f->err;
        if (f->pos >= f->size || n == 0)
                return 0;
        k = f->pos / YB_S3_READ_CHUNK;
        c = &f->chunks[k % f->n_chunks];
        if (!c->started || c->off != k * YB_S3_READ_CHUNK) {
                /* The first read (or one after a pread elsewhere): request this chunk and the
                 * ones after it. */
                for (size_t i = 0; i < f->n_chunks; i++) {
                        uint64_t off = (k + i) * YB_S3_READ_CHUNK;
                        Chunk *ci = &f->chunks[(k + i) % f->n_chunks];

                        stop_chunk(f, ci);
                        if (off >= f->size)
                                continue;
                        r = start_chunk(f, ci, off);
                        if (r < 0)
                                return f->err = r;
                }
        }
        r = yb_s3_wait(client, &c->req);
        if (r >= 0 && c->req.got != c->len)
                r = log_error_errno(EIO,
                                    "S3 store '%s': GET of '%s' in bucket '%s' gave %zu bytes at "
                                    "%llu, not %zu: the object changed under the reader",
                                    base->store->location, f->key, yb_s3_client_bucket(client),
                                    c->req.got, (unsigned long long) c->off, c->len);
        if (r < 0)
                return f->err = r;
        take = (size_t) MIN((uint64_t) n, c->off + c->len - f->pos);
        memcpy(data, c->data + (f->pos - c->off), take);
        f->pos += take;
        if (f->pos == c->off + c->len) {
                uint64_t next = c->off + (uint64_t) f->n_chunks * YB_S3_READ_CHUNK;

                stop_chunk(f, c);
                if (next < f->size) {
                        r = start_chunk(f, c, next);
                        if (r < 0)
                                return f->err = r;
                }
        }
        return (ssize_t) take;
}

ssize_t yb_s3_pread(YbStoreFile *base, void *data, size_t n, uint64_t off) {
        S3Reader *f = READER(base);
        YbS3Client *client = S3STORE(base->store)->client;
        YbS3Request req = { .method = "GET", .key = f->key, .query = f->query, .into = data };
        char range[64];
        int r;

        if (off >= f->size || n == 0)
                return 0;
        n = (size_t) MIN((uint64_t) n, f->size - off);
        snprintf(range, sizeof(range), "Range: bytes=%llu-%llu", (unsigned long long) off,
                 (unsigned long long) (off + n - 1));
        req.headers[0] = range;
        req.into_size = n;
        r = yb_s3_run(client, &req);
        if (r >= 0 && req.got != n)
                r = log_error_errno(EIO,
                                    "S3 store '%s': GET of '%s' in bucket '%s' gave %zu bytes at "
                                    "%llu, not %zu",
                                    base->store->location, f->key, yb_s3_client_bucket(client),
                                    req.got, (unsigned long long) off, n);
        yb_s3_request_done(client, &req);
        return r < 0 ? r : (ssize_t) n;
}

/* Fills data whole but at the end of the object, as the other stores' reads do. */
ssize_t yb_s3_read(YbStoreFile *base, void *data, size_t n) {
        size_t got = 0;

        while (got < n) {
                ssize_t k = read_some(base, (uint8_t *) data + got, n - got);

                if (k < 0)
                        return k;
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        return (ssize_t) got;
}

void yb_s3_reader_close(YbStoreFile *base) {
        S3Reader *f = READER(base);

        for (size_t i = 0; f->chunks && i < f->n_chunks; i++) {
                stop_chunk(f, &f->chunks[i]);
                free(f->chunks[i].data);
        }
        free(f->chunks);
        free(f->query);
        free(f->key);
        free(f);
}
