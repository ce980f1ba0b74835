/* core/store/s3-client.h: the request machinery of an S3 store, on libcurl: one multi handle and a
 * pool of easy handles per open store, so that connections are reused and several requests can
 * be in flight at once (the parts of a multipart upload, reads ahead). Each request is signed by
 * libcurl (CURLOPT_AWS_SIGV4) with x-amz-content-sha256 sent by us: the real SHA-256 of its body,
 * or UNSIGNED-PAYLOAD for a body of 1 MiB or more (a part); its URL is built here in SigV4's
 * canonical form (s3-query.h), path or virtual-host style. Failures of the connection and 5xx
 * answers are retried (4 attempts, backoff 0.1, 0.4, 1.6 s); each wait for the server lasts at most
 * the store's timeout. Thread-safe: one lock per client; the transfers run on a thread of the
 * client's own, so they move while the callers do something else. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/store/store.h"

typedef struct YbS3Client YbS3Client;

typedef struct YbS3ClientConfig {
        const char *location; /* the store, for messages */
        const char *endpoint; /* "http[s]://host[:port]" */
        const char *region;
        const char *bucket;
        const char *access_key, *secret_key;
        const char *ca_file; /* NULL: the system's */
        YbS3Style style;
        int64_t timeout_ns;
} YbS3ClientConfig;

/* Makes a client (the strings are copied). Returns 0, -EINVAL for an endpoint that is not
 * http(s)://host[:port] (why in err), or -ENOMEM. */
int yb_s3_client_new(const YbS3ClientConfig *c, YbS3Client **ret, char *err, size_t err_size);
YbS3Client *yb_s3_client_free(YbS3Client *c); /* Accepts NULL; always returns NULL. */
DEFINE_FREEP(YbS3Client, yb_s3_client_free);

/* One request. The caller fills the first block, the client the rest; a request lives in the
 * caller's memory from yb_s3_start() until it is done (yb_s3_wait()), then is released with
 * yb_s3_request_done(). */
typedef struct YbS3Request {
        const char *method;     /* "GET", "PUT", ... */
        const char *key;        /* the object's key (not encoded); NULL: the bucket */
        const char *query;      /* canonical (yb_s3_query()); NULL: none */
        const char *headers[6]; /* extra "Name: value" lines, NULL-terminated */
        const void *body;       /* sent, with its SHA-256; borrowed until done */
        size_t body_size;
        void *into; /* GET: the body is written here, at most into_size bytes */
        size_t into_size;
        bool quiet; /* the caller expects and handles failures: nothing at error level */

        /* The answer. */
        long status;  /* HTTP status; 0 when none came */
        YbBuf answer; /* the body (of an error, or when into is NULL), at most YB_S3_XML_MAX */
        size_t got;   /* bytes written into into */
        char etag[80];
        char version_id[160];
        uint64_t length;      /* Content-Length, or the total of a Content-Range */
        int64_t mtime;        /* Last-Modified, seconds since the epoch */
        int64_t retain_until; /* x-amz-object-lock-retain-until-date, seconds; 0: none */
        bool delete_marker;   /* x-amz-delete-marker: true */
        bool legal_hold;      /* x-amz-object-lock-legal-hold: ON */
        char code[64];        /* S3's error code ("NoSuchKey"), "" when none */
        char message[256];    /* S3's error message */
        int r;                /* 0, or the failure as -errno (yb_s3_wait()'s value) */

        /* The client's. */
        void *easy;
        struct curl_slist *slist;
        char *url;
        size_t sent;
        int attempts;
        int64_t not_before;
        struct YbS3Request *next_retry;
        bool active, done;
} YbS3Request;

/* Hands req to the client's thread, which sends it at once (the caller does not wait). Returns 0 or
 * -ENOMEM. On a lost client (an earlier request found the endpoint gone) req is not sent: it is
 * done at once, failed with the same error, which yb_s3_wait() gives. */
int yb_s3_start(YbS3Client *c, YbS3Request *req);
/* Waits until req is done. Returns req->r: 0 for a 2xx answer, else
 * -ENOENT (404), -EEXIST (412), -EACCES (403 AccessDenied), -EPERM (a refused signature or
 * access key), -ENOSPC (QuotaExceeded), -ECONNREFUSED (after one more try), -ECONNRESET (a
 * connection broken, after retries), -ETIMEDOUT, -EHOSTUNREACH, -EIO (5xx after retries, or
 * anything else). The first -ECONNREFUSED, -ECONNRESET or -ETIMEDOUT makes the client lost: every
 * later request fails at once with it. An unexpected failure (not 404 or 412, and not
 * req->quiet) is logged at error level once, with the store, bucket, key, method, HTTP status
 * and S3's code and message; of the failures a lost client gives, only the first. */
int yb_s3_wait(YbS3Client *c, YbS3Request *req);
/* Whether req is done (without waiting). */
bool yb_s3_done(YbS3Client *c, YbS3Request *req);
/* Waits until any of the n requests is done; returns its index. */
size_t yb_s3_wait_any(YbS3Client *c, YbS3Request **reqs, size_t n);
/* yb_s3_start() then yb_s3_wait(). */
int yb_s3_run(YbS3Client *c, YbS3Request *req);
/* Cancels req if it is still running and frees what the client gave it; it may be started again
 * after the caller resets its answer fields with yb_s3_request_reset(). */
void yb_s3_request_done(YbS3Client *c, YbS3Request *req);
/* Clears the answer part of req (the caller's part stays). */
void yb_s3_request_reset(YbS3Request *req);

/* Logs req's failure at error level as yb_s3_wait() does (for a caller that set quiet and then
 * found the failure unexpected after all), at debug level when it is a lost client's failure and
 * an earlier one was said; returns req->r. */
int yb_s3_log_failure(YbS3Client *c, const YbS3Request *req);
/* The bucket and the endpoint, for messages. */
const char *yb_s3_client_bucket(const YbS3Client *c);
const char *yb_s3_client_endpoint(const YbS3Client *c);
