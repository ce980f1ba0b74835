/* core/store/s3-upload.c: S3 multipart uploads (CreateMultipartUpload, CompleteMultipartUpload,
 * AbortMultipartUpload, ListMultipartUploads) for the writer of s3-writer.c and for cleaning up
 * after a writer that died: a pending upload holds space but is invisible to every listing of
 * objects, so the store aborts those of a key when the key is created again, and those under a
 * prefix when the tree is removed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/log.h"
#include "core/store/s3-query.h"
#include "core/store/s3-store.h"
#include "core/store/s3-xml.h"

int yb_s3_upload_begin(YbS3Store *s, const char *key, const char *const *headers, char **ret) {
        YbS3Request req = { .method = "POST", .key = key, .query = "uploads=" };
        char *id = NULL;
        int r;

        for (size_t i = 0; headers && headers[i] && i < 4; i++)
                req.headers[i] = headers[i];
        r = yb_s3_run(s->client, &req);
        if (r >= 0) {
                r = yb_s3_xml_value((const char *) req.answer.data, req.answer.size,
                                    "InitiateMultipartUploadResult/UploadId", &id);
                if (r >= 0 && (!id || !*id)) {
                        free(id);
                        id = NULL;
                        r = -EBADMSG;
                }
                if (r < 0)
                        log_error_errno(r,
                                        "S3 store '%s': the answer to CreateMultipartUpload of "
                                        "'%s' in bucket '%s' holds no upload id",
                                        s->base.location, key, yb_s3_client_bucket(s->client));
        }
        yb_s3_request_done(s->client, &req);
        if (r < 0)
                return r;
        *ret = id;
        return 0;
}

int yb_s3_upload_complete(YbS3Store *s, const char *key, const char *upload_id, char **etags,
                          size_t n, char *ret_version) {
        YbBuf body = YB_BUF_INIT;
        _cleanup_free_ char *query = NULL;
        YbS3Param p[] = { { "uploadId", upload_id } };
        YbS3Request req = { .method = "POST", .key = key };
        int r;

        r = yb_s3_query(p, ELEMENTSOF(p), &query);
        if (r >= 0)
                r = yb_buf_printf(&body, "<CompleteMultipartUpload>");
        /* ETags are quoted hex digests: nothing in them needs escaping. */
        for (size_t i = 0; i < n && r >= 0; i++)
                r = yb_buf_printf(&body, "<Part><PartNumber>%zu</PartNumber><ETag>%s</ETag></Part>",
                                  i + 1, etags[i]);
        if (r >= 0)
                r = yb_buf_printf(&body, "</CompleteMultipartUpload>");
        if (r < 0) {
                yb_buf_done(&body);
                return r;
        }
        req.query = query;
        req.body = body.data;
        req.body_size = body.size;
        r = yb_s3_run(s->client, &req);
        /* A 200 may still carry an error in its body (S3 says so for this call). */
        if (r >= 0 && req.answer.size > 0) {
                _cleanup_free_ char *code = NULL;

                if (yb_s3_xml_value((const char *) req.answer.data, req.answer.size, "Error/Code",
                                    &code) >= 0 &&
                    code) {
                        snprintf(req.code, sizeof(req.code), "%s", code);
                        req.r = r = -EIO;
                        yb_s3_log_failure(s->client, &req);
                }
        }
        if (r >= 0 && ret_version)
                snprintf(ret_version, 160, "%s", req.version_id);
        yb_s3_request_done(s->client, &req);
        yb_buf_done(&body);
        return r;
}

int yb_s3_upload_abort(YbS3Store *s, const char *key, const char *upload_id) {
        int r = yb_s3_delete_with(s, key, "uploadId", upload_id);

        if (r == -EACCES)
                return log_error_errno(r,
                                       "S3 store '%s': bucket '%s' refuses to abort the upload %s "
                                       "of '%s': %m",
                                       s->base.location, yb_s3_client_bucket(s->client), upload_id,
                                       key);
        return r == -ENOENT ? 0 : r; /* gone already: completed or aborted by someone else */
}

typedef struct Pending {
        char **keys, **ids;
        size_t n, alloc;
        const char *exact;
} Pending;

static int pending_add(void *ud, char **v) {
        Pending *p = ud;

        if (!v[0] || !v[1])
                return -EBADMSG;
        if (p->exact && strcmp(v[0], p->exact) != 0)
                return 0;
        if (p->n == p->alloc) {
                size_t a = p->alloc ? 2 * p->alloc : 16;
                char **k = realloc(p->keys, a * sizeof(char *));

                if (!k)
                        return -ENOMEM;
                p->keys = k;
                k = realloc(p->ids, a * sizeof(char *));
                if (!k)
                        return -ENOMEM;
                p->ids = k;
                p->alloc = a;
        }
        p->keys[p->n] = strdup(v[0]);
        p->ids[p->n] = strdup(v[1]);
        if (!p->keys[p->n] || !p->ids[p->n]) {
                free(p->keys[p->n]);
                free(p->ids[p->n]);
                return -ENOMEM;
        }
        p->n++;
        return 0;
}

int yb_s3_uploads_abort(YbS3Store *s, const char *key, bool exact) {
        static const char *const fields[] = { "Key", "UploadId" };
        _cleanup_free_ char *key_marker = NULL, *id_marker = NULL, *under = NULL;
        Pending p = { .exact = exact ? key : NULL };
        int r = 0, aborted = 0;

        if (!exact && asprintf(&under, "%s/", key) < 0)
                return -ENOMEM;
        /* Collect first, then abort: the listing's markers stay valid either way, but aborting
         * while paging through would be harder to reason about. */
        for (;;) {
                _cleanup_free_ char *query = NULL, *truncated = NULL;
                YbS3Param q[] = { { "uploads", NULL },
                                  { "prefix", exact ? key : under },
                                  { key_marker ? "key-marker" : NULL, key_marker },
                                  { id_marker ? "upload-id-marker" : NULL, id_marker } };
                YbS3Request req = { .method = "GET" };
                const char *a;

                r = yb_s3_query(q, ELEMENTSOF(q), &query);
                if (r < 0)
                        break;
                req.query = query;
                r = yb_s3_run(s->client, &req);
                a = (const char *) req.answer.data;
                if (r >= 0)
                        r = yb_s3_xml_records(a, req.answer.size,
                                              "ListMultipartUploadsResult/Upload", fields, 2,
                                              pending_add, &p);
                if (r >= 0)
                        r = yb_s3_xml_value(a, req.answer.size,
                                            "ListMultipartUploadsResult/IsTruncated", &truncated);
                free(key_marker);
                free(id_marker);
                key_marker = id_marker = NULL;
                if (r >= 0 && truncated && strcmp(truncated, "true") == 0) {
                        r = yb_s3_xml_value(a, req.answer.size,
                                            "ListMultipartUploadsResult/NextKeyMarker",
                                            &key_marker);
                        if (r >= 0)
                                r = yb_s3_xml_value(a, req.answer.size,
                                                    "ListMultipartUploadsResult/NextUploadIdMarker",
                                                    &id_marker);
                }
                yb_s3_request_done(s->client, &req);
                if (r < 0 || !key_marker)
                        break;
        }
        for (size_t i = 0; i < p.n; i++) {
                if (r >= 0) {
                        r = yb_s3_upload_abort(s, p.keys[i], p.ids[i]);
                        if (r >= 0) {
                                aborted++;
                                log_debug("S3 store '%s': aborted the pending upload %s of '%s'",
                                          s->base.location, p.ids[i], p.keys[i]);
                        }
                }
                free(p.keys[i]);
                free(p.ids[i]);
        }
        free(p.keys);
        free(p.ids);
        return r < 0 ? r : aborted;
}
