/* core/store/s3-writer.c: creating an object. The writer buffers up to one part
 * (YB_S3_PART_SIZE); a file that fits is sent in one PUT when it is synced or closed, a larger one
 * goes up as a multipart upload with at most the store's `parallel` parts in flight, so a writer
 * holds at most (parallel + 1) parts in memory, and is completed at sync. Nothing is visible
 * before that; a writer that failed, or is closed after a failure, aborts its upload.
 *
 * Exclusive creation. On a plain bucket the PUT carries If-None-Match: * (radosgw answers 412
 * when the key exists, and exactly one of several racing PUTs wins); a multipart upload (large
 * files, whose names are unique anyway) checks with HEAD before it starts and before it
 * completes. On a versioned bucket (always so with Object Lock) radosgw ignores If-None-Match and
 * adds a version: after writing, the writer lists the key's versions; the object is the oldest
 * version newer than the newest delete marker (radosgw orders the versions of a key by the epoch
 * it gives each write, so every racer sees the same oldest one), the writer whose version that is
 * has won, and every other deletes its own version by its id and gets -EEXIST. Readers on a
 * versioned bucket read that same version (s3-reader.c), never a loser's. A PUT that was sent
 * again (its answer lost) knows its earlier versions by their bytes (settle_race). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/store/s3-query.h"
#include "core/store/s3-store.h"

typedef struct Part {
        YbS3Request req;
        uint8_t *data;
        size_t number; /* 1-based; 0: free */
        char *query;
} Part;

typedef struct S3Writer {
        YbS3FileHead head;
        char *key;
        unsigned flags;
        YbBuf buf; /* at most one part */
        char *upload_id;
        Part *slots;
        size_t n_slots;
        char **etags; /* etags[i]: part i + 1 */
        size_t n_parts;
        int err;
        bool finished; /* published (or failed for good) */
} S3Writer;

#define WRITER(f) ((S3Writer *) (f))

int yb_s3_create(YbStore *base, const char *path, unsigned flags, YbStoreFile **ret) {
        YbS3Store *s = S3STORE(base);
        S3Writer *w = new0(S3Writer, 1);

        if (!w)
                return -ENOMEM;
        w->head.base.store = base;
        w->key = yb_s3_key(s, path);
        w->n_slots = (size_t) s->parallel;
        w->slots = calloc(w->n_slots, sizeof(Part));
        w->etags = calloc(1, sizeof(char *));
        if (!w->key || !w->slots || !w->etags) {
                free(w->key);
                free(w->slots);
                free(w->etags);
                free(w);
                return -ENOMEM;
        }
        w->flags = flags;
        *ret = &w->head.base;
        return 0;
}

/* The Object Lock headers for a backup object on a locked store (into two lines of 96 bytes). */
static size_t lock_headers(YbS3Store *s, unsigned flags, char lines[2][96]) {
        char iso[32];
        int64_t until;

        if (!(flags & YB_STORE_RETAIN) || s->lock_mode != YB_OBJECT_LOCK_COMPLIANCE)
                return 0;
        /* S3 wants whole seconds: rounded up, so that an object is locked for at least the
         * retention asked (rounded down, a short retention could end before the request
         * arrived, and S3 refuses a date in the past). */
        until = (yb_now_ns() + YB_NSEC_PER_SEC - 1) / YB_NSEC_PER_SEC + s->retention_sec;
        yb_time_format_iso(until * YB_NSEC_PER_SEC, iso);
        /* "…T12:00:00.000000000Z" */
        snprintf(lines[0], 96, "x-amz-object-lock-mode: COMPLIANCE");
        snprintf(lines[1], 96, "x-amz-object-lock-retain-until-date: %.19sZ", iso);
        return 2;
}

/* Whether the object (on a versioned bucket: its version version) holds exactly the writer's
 * bytes. */
static bool holds_ours(S3Writer *w, const char *version) {
        YbS3Store *s = S3STORE(w->head.base.store);
        _cleanup_free_ char *query = NULL;
        uint8_t *got = malloc(w->buf.size + 1);
        YbS3Request req = { .method = "GET", .key = w->key, .into = got, .into_size = w->buf.size };
        bool same;

        if (!got)
                return false;
        if (version) {
                YbS3Param p[] = { { "versionId", version } };

                if (yb_s3_query(p, ELEMENTSOF(p), &query) < 0) {
                        free(got);
                        return false;
                }
                req.query = query;
        }
        same = yb_s3_run(s->client, &req) >= 0 && req.got == w->buf.size &&
               (w->buf.size == 0 || memcmp(got, w->buf.data, w->buf.size) == 0);
        yb_s3_request_done(s->client, &req);
        free(got);
        return same;
}

/* Deletes our version of w's key that is not the object: quietly when the object is ours too
 * (won), else with a warning when it stays. */
static void delete_ours(S3Writer *w, const char *version, bool won) {
        YbS3Store *s = S3STORE(w->head.base.store);
        int r = yb_s3_delete_version(s, w->key, version);

        if (r >= 0 || r == -ENOENT)
                return;
        if (won)
                log_debug_errno(r,
                                "S3 store '%s': the duplicate version %s of '%s' stays (newer than "
                                "the object, never read): %m",
                                s->base.location, version, w->key);
        else
                log_warning_errno(r,
                                  "S3 store '%s': '%s' existed, and our version %s of it could not "
                                  "be deleted: %m",
                                  s->base.location, w->key, version);
}

/* On a versioned bucket, after our version was written: did we win? retried: the PUT of the
 * writer's buffer was sent more than once, so an earlier attempt may have been written with its
 * answer lost: a winner holding exactly our bytes is then ours, and our later version is the
 * duplicate to delete. */
static int settle_race(S3Writer *w, const char *version, bool retried) {
        YbS3Store *s = S3STORE(w->head.base.store);
        YbS3Version *v = NULL;
        const YbS3Version *win;
        size_t n = 0;
        bool dir;
        int r;

        if (!s->versioned)
                return 0;
        if (!*version)
                return log_error_errno(EPROTO,
                                       "S3 store '%s': bucket '%s' is versioned but the write of "
                                       "'%s' got no version id",
                                       s->base.location, yb_s3_client_bucket(s->client), w->key);
        r = yb_s3_versions(s, w->key, &v, &n, &dir);
        if (r < 0)
                return r;
        win = yb_s3_winner(v, n);
        if (!win)
                r = log_error_errno(EPROTO,
                                    "S3 store '%s': '%s' was written (version %s) but bucket '%s' "
                                    "does not list it",
                                    s->base.location, w->key, version,
                                    yb_s3_client_bucket(s->client));
        else if (strcmp(win->version_id, version) != 0) {
                bool won = retried && holds_ours(w, win->version_id);

                log_debug("S3 store '%s': '%s' was created first by version %s (%s): deleting "
                          "ours, %s",
                          s->base.location, w->key, win->version_id,
                          won ? "an earlier attempt of ours, its answer lost" : "another writer",
                          version);
                delete_ours(w, version, won);
                /* Sent more than once: the versions after the object holding exactly our bytes
                 * are our earlier attempts (a racer's bytes differ, or it is a loser too). */
                for (const YbS3Version *x = v; retried && x < win; x++)
                        if (!x->delete_marker && strcmp(x->version_id, version) != 0 &&
                            holds_ours(w, x->version_id))
                                delete_ours(w, x->version_id, won);
                r = won ? 0 : -EEXIST;
        }
        yb_s3_versions_free(v, n);
        return r;
}

/* Whether key exists (plain bucket, before and around a multipart upload): exists_start() sends
 * the HEAD, exists_end() waits for its answer (1: it exists, 0: not) and releases it. */
static int exists_start(YbS3Store *s, const char *key, YbS3Request *req) {
        *req = (YbS3Request){ .method = "HEAD", .key = key };
        return yb_s3_start(s->client, req);
}

static int exists_end(YbS3Store *s, YbS3Request *req) {
        int r = yb_s3_wait(s->client, req);

        yb_s3_request_done(s->client, req);
        if (r == -ENOENT)
                return 0;
        return r < 0 ? r : 1;
}

static int part_finish(S3Writer *w, Part *p) {
        int r = p->req.r;

        if (r >= 0 && !*p->req.etag)
                r = -EPROTO;
        if (r >= 0) {
                w->etags[p->number - 1] = strdup(p->req.etag);
                if (!w->etags[p->number - 1])
                        r = -ENOMEM;
        }
        yb_s3_request_done(S3STORE(w->head.base.store)->client, &p->req);
        free(p->query);
        p->query = NULL;
        p->number = 0;
        return r;
}

/* Returns a free slot, or the failure of a part: the parts done meanwhile are collected first (so
 * that a failed one is seen at the next part, not only at sync), and the writer waits only when
 * all slots are still in flight. */
static int free_slot(S3Writer *w, Part **ret) {
        YbS3Client *c = S3STORE(w->head.base.store)->client;
        YbS3Request *busy[64];
        size_t idx[64], n = 0;
        Part *slot = NULL;
        int r;

        for (size_t i = 0; i < w->n_slots; i++) {
                Part *p = &w->slots[i];

                if (p->number && yb_s3_done(c, &p->req)) {
                        r = part_finish(w, p);
                        if (r < 0)
                                return r;
                }
                if (!p->number) {
                        slot = slot ? slot : p;
                        continue;
                }
                busy[n] = &p->req;
                idx[n++] = i;
        }
        if (!slot) {
                slot = &w->slots[idx[yb_s3_wait_any(c, busy, n)]];
                r = part_finish(w, slot);
                if (r < 0)
                        return r;
        }
        *ret = slot;
        return 0;
}

static int begin_upload(S3Writer *w) {
        YbS3Store *s = S3STORE(w->head.base.store);
        YbS3Request head;
        char lines[2][96];
        const char *headers[3] = { NULL };
        size_t n = lock_headers(s, w->flags, lines);
        int r;

        /* The HEAD and the listing of pending uploads go out together: one round trip less. */
        if (!s->versioned) {
                r = exists_start(s, w->key, &head);
                if (r < 0)
                        return r;
        }
        /* A writer killed before completing left its upload: nobody will finish it. */
        r = yb_s3_uploads_abort(s, w->key, true);
        if (!s->versioned) {
                int k = exists_end(s, &head);

                if (r >= 0 && k != 0)
                        r = k > 0 ? -EEXIST : k;
        }
        if (r < 0)
                return r;
        for (size_t i = 0; i < n; i++)
                headers[i] = lines[i];
        return yb_s3_upload_begin(s, w->key, headers, &w->upload_id);
}

/* Sends the buffer as the next part. */
static int send_part(S3Writer *w) {
        YbS3Store *s = S3STORE(w->head.base.store);
        char number[24];
        Part *p;
        int r;

        if (!w->upload_id) {
                r = begin_upload(w);
                if (r < 0)
                        return r;
        }
        r = free_slot(w, &p);
        if (r < 0)
                return r;
        {
                char **e = realloc(w->etags, (w->n_parts + 1) * sizeof(char *));

                if (!e)
                        return -ENOMEM;
                w->etags = e;
                e[w->n_parts] = NULL;
        }
        snprintf(number, sizeof(number), "%zu", w->n_parts + 1);
        {
                YbS3Param q[] = { { "partNumber", number }, { "uploadId", w->upload_id } };

                r = yb_s3_query(q, ELEMENTSOF(q), &p->query);
                if (r < 0)
                        return r;
        }
        /* The slot takes the buffer (until the part is sent); the writer starts a new one. */
        free(p->data);
        p->data = w->buf.data;
        p->req = (YbS3Request){ .method = "PUT",
                                .key = w->key,
                                .query = p->query,
                                .body = w->buf.data,
                                .body_size = w->buf.size };
        w->buf = (YbBuf) YB_BUF_INIT;
        p->number = ++w->n_parts;
        return yb_s3_start(s->client, &p->req);
}

int yb_s3_write(YbStoreFile *f, const void *data, size_t n) {
        S3Writer *w = WRITER(f);
        const uint8_t *d = data;
        int r;

        if (w->err)
                return w->err;
        if (w->finished)
                return -EBADF;
        while (n > 0) {
                size_t k = MIN(n, YB_S3_PART_SIZE - w->buf.size);

                if (w->buf.alloc < YB_S3_PART_SIZE && w->buf.size + k > w->buf.alloc) {
                        /* Grow in big steps, but never past one part. */
                        size_t want = MAX(w->buf.size + k, MIN(2 * w->buf.alloc, YB_S3_PART_SIZE));

                        r = yb_buf_reserve(&w->buf, want - w->buf.size);
                        if (r < 0)
                                return w->err = r;
                }
                r = yb_buf_append(&w->buf, d, k);
                if (r < 0)
                        return w->err = r;
                d += k;
                n -= k;
                if (w->buf.size == YB_S3_PART_SIZE) {
                        r = send_part(w);
                        if (r < 0)
                                return w->err = r;
                }
        }
        return 0;
}

static int put_whole(S3Writer *w) {
        YbS3Store *s = S3STORE(w->head.base.store);
        char lines[2][96], version[160];
        YbS3Request req = {
                .method = "PUT", .key = w->key, .body = w->buf.data, .body_size = w->buf.size
        };
        size_t h = 0, n = lock_headers(s, w->flags, lines);
        bool retried;
        int r;

        if (!s->versioned)
                req.headers[h++] = "If-None-Match: *";
        for (size_t i = 0; i < n; i++)
                req.headers[h++] = lines[i];
        r = yb_s3_run(s->client, &req);
        snprintf(version, sizeof(version), "%s", req.version_id);
        if (r == -EEXIST && req.attempts > 1 && holds_ours(w, NULL))
                r = 0; /* our first attempt was written, its answer lost: the 412 is ours */
        retried = req.attempts > 1;
        yb_s3_request_done(s->client, &req);
        if (r < 0)
                return r;
        return settle_race(w, version, retried);
}

/* radosgw 16 ignores the Object Lock headers of CreateMultipartUpload: a completed upload gets
 * its retention from PutObjectRetention on the version it made. */
static int put_retention(S3Writer *w, const char *version) {
        YbS3Store *s = S3STORE(w->head.base.store);
        _cleanup_free_ char *query = NULL;
        YbS3Param p[] = { { "retention", NULL }, { *version ? "versionId" : NULL, version } };
        YbS3Request req = { .method = "PUT", .key = w->key };
        char lines[2][96], body[256];
        int r;

        if (lock_headers(s, w->flags, lines) == 0)
                return 0;
        r = yb_s3_query(p, ELEMENTSOF(p), &query);
        if (r < 0)
                return r;
        snprintf(body, sizeof(body),
                 "<Retention xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Mode>COMPLIANCE"
                 "</Mode><RetainUntilDate>%s</RetainUntilDate></Retention>",
                 strchr(lines[1], ' ') + 1);
        req.query = query;
        req.body = body;
        req.body_size = strlen(body);
        r = yb_s3_run(s->client, &req);
        yb_s3_request_done(s->client, &req);
        return r;
}

static int complete_upload(S3Writer *w) {
        YbS3Store *s = S3STORE(w->head.base.store);
        YbS3Request head;
        char version[160] = "";
        int r = 0;

        if (w->buf.size > 0) {
                r = send_part(w);
                if (r < 0)
                        return r;
        }
        /* The check before completing goes out while the last parts are sent. */
        if (!s->versioned) {
                r = exists_start(s, w->key, &head);
                if (r < 0)
                        return r;
        }
        for (size_t i = 0; i < w->n_slots; i++)
                if (w->slots[i].number) {
                        yb_s3_wait(s->client, &w->slots[i].req);
                        r = part_finish(w, &w->slots[i]);
                        if (r < 0)
                                break;
                }
        if (!s->versioned) {
                int k = exists_end(s, &head);

                if (r >= 0 && k != 0)
                        r = k > 0 ? -EEXIST : k;
        }
        if (r < 0)
                return r;
        r = yb_s3_upload_complete(s, w->key, w->upload_id, w->etags, w->n_parts, version);
        if (r < 0)
                return r;
        free(w->upload_id);
        w->upload_id = NULL; /* complete: nothing to abort */
        r = settle_race(w, version, false);
        if (r < 0)
                return r;
        return put_retention(w, version);
}

int yb_s3_sync(YbStoreFile *f) {
        S3Writer *w = WRITER(f);
        int r;

        if (w->err)
                return w->err;
        if (w->finished)
                return 0;
        r = w->upload_id || w->n_parts ? complete_upload(w) : put_whole(w);
        if (r < 0)
                return w->err = r;
        w->finished = true;
        yb_buf_done(&w->buf);
        return 0;
}

void yb_s3_writer_abandon(YbStoreFile *f) {
        if (!WRITER(f)->err)
                WRITER(f)->err = -ECANCELED;
}

void yb_s3_writer_close(YbStoreFile *f) {
        S3Writer *w = WRITER(f);
        YbS3Store *s = S3STORE(f->store);

        if (!w->err && !w->finished)
                (void) yb_s3_sync(f);
        for (size_t i = 0; i < w->n_slots; i++) {
                if (w->slots[i].number)
                        yb_s3_request_done(s->client, &w->slots[i].req);
                free(w->slots[i].data);
                free(w->slots[i].query);
        }
        if (w->upload_id)
                (void) yb_s3_upload_abort(s, w->key, w->upload_id);
        for (size_t i = 0; i < w->n_parts; i++)
                free(w->etags[i]);
        free(w->etags);
        free(w->slots);
        free(w->upload_id);
        free(w->key);
        yb_buf_done(&w->buf);
        free(w);
}
