/* core/store/s3-client.c: S3 requests on libcurl (s3-client.h). One multi handle per client holds
 * the connection cache, so every request of a store reuses the connections of those before it;
 * easy handles are kept in a pool and reset between requests. The transfers are driven by a thread
 * of the client's own (started with its first request, joined when it is freed): it runs
 * curl_multi_perform() and sleeps in curl_multi_poll(), so that bodies move while the callers
 * compute, and a caller only starts requests and waits for them to be done.
 * The hand-over: one mutex guards everything of the client, the requests' answers included (the
 * transfer callbacks run in the driver with it held). The multi handle and the easy handles are
 * touched only with the mutex held and the driver out of curl_multi_poll() (`polling` false): a
 * caller that needs them counts itself in `want`, wakes the poll (curl_multi_wakeup(), the one
 * call that is safe beside it) and waits until the driver is out; the driver does not poll again
 * while someone wants in. Requests done are announced on `done`.
 * A store whose request found the endpoint gone (refused, reset or timed out after its retries)
 * is lost, as an SFTP store whose connection broke: every later request fails at once with the
 * same error, unsent, and only the first failure is said at error level. */
#include "core/store/s3-client.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/store/dynlibs.h"
#include "core/store/s3-credentials.h"
#include "core/store/s3-query.h"
#include "core/store/s3-xml.h"

#define ATTEMPTS 4
/* A refused connection is tried once more only: nobody is listening, and waiting does not help
 * (a restarting radosgw is the operator's business, not worth 2 s per request). */
#define ATTEMPTS_REFUSED 2
#define BACKOFF_NS (100 * YB_NSEC_PER_MSEC) /* then x4 each time */
#define POOL_MAX 32

struct YbS3Client {
        pthread_mutex_t lock;
        pthread_cond_t done;  /* requests are done */
        pthread_cond_t out;   /* the driver left curl_multi_poll() */
        pthread_cond_t drive; /* for the driver: work came, or nobody wants in any more */
        pthread_t driver;
        bool driver_started, stop;
        bool announce;   /* requests were done since `done` was last signalled */
        bool polling;    /* the driver is in curl_multi_poll() (with the lock released) */
        int want;        /* callers waiting to touch the multi handle */
        size_t n_active; /* easy handles in the multi handle */
        CURLM *multi;
        CURL *pool[POOL_MAX];
        size_t n_pool;
        YbS3Request *retries; /* waiting for their next attempt */
        char *location, *endpoint, *bucket, *base_url, *sigv4, *access, *secret, *ca_file;
        int64_t timeout_ns;
        int lost;       /* -errno: the endpoint was found gone; every request fails with it */
        bool lost_said; /* a connection failure was logged at error level */
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
}

YbS3Client *yb_s3_client_free(YbS3Client *c) {
        if (!c)
                return NULL;
        if (c->driver_started) {
                pthread_mutex_lock(&c->lock);
                c->stop = true;
                pthread_cond_signal(&c->drive);
                if (c->polling)
                        curl_multi_wakeup(c->multi);
                pthread_mutex_unlock(&c->lock);
                pthread_join(c->driver, NULL);
        }
        for (size_t i = 0; i < c->n_pool; i++)
                curl_easy_cleanup(c->pool[i]);
        if (c->multi)
                curl_multi_cleanup(c->multi);
        if (c->secret) {
                sodium_memzero(c->secret, strlen(c->secret));
                free(c->secret);
        }
        free(c->location);
        free(c->endpoint);
        free(c->bucket);
        free(c->base_url);
        free(c->sigv4);
        free(c->access);
        free(c->ca_file);
        pthread_cond_destroy(&c->drive);
        pthread_cond_destroy(&c->out);
        pthread_cond_destroy(&c->done);
        pthread_mutex_destroy(&c->lock);
        free(c);
        return NULL;
}

int yb_s3_client_new(const YbS3ClientConfig *cfg, YbS3Client **ret, char *err, size_t err_size) {
        _cleanup_(yb_s3_client_freep) YbS3Client *c = NULL;
        const char *rest, *hostport;
        size_t scheme_len, n;

        if (yb_dynlib_load(&yb_libcurl) < 0)
                return yb_s3_errf(err, err_size, -ELIBACC, "%s", yb_dynlib_error(&yb_libcurl));
        if (yb_dynlib_load(&yb_libcrypto) < 0)
                return yb_s3_errf(err, err_size, -ELIBACC, "%s", yb_dynlib_error(&yb_libcrypto));
        pthread_once(&global_once, global_init);
        if (strncmp(cfg->endpoint, "http://", 7) == 0)
                scheme_len = 7;
        else if (strncmp(cfg->endpoint, "https://", 8) == 0)
                scheme_len = 8;
        else
                return yb_s3_errf(err, err_size, -EINVAL,
                                  "the S3 endpoint '%s' is not a URL: write http(s)://host[:port]",
                                  cfg->endpoint);
        hostport = cfg->endpoint + scheme_len;
        n = strcspn(hostport, "/?#@");
        rest = hostport + n;
        if (n == 0 || (*rest && strcmp(rest, "/") != 0))
                return yb_s3_errf(
                        err, err_size, -EINVAL,
                        "the S3 endpoint '%s' must be http(s)://host[:port] and nothing more "
                        "(the bucket and prefix go into the s3:// location)",
                        cfg->endpoint);

        c = new0(YbS3Client, 1);
        if (!c)
                return -ENOMEM;
        pthread_mutex_init(&c->lock, NULL);
        pthread_cond_init(&c->done, NULL);
        pthread_cond_init(&c->drive, NULL);
        pthread_cond_init(&c->out, NULL);
        c->multi = curl_multi_init();
        if (!c->multi)
                return -ENOMEM;
        c->location = strdup(cfg->location);
        c->endpoint = strndup(cfg->endpoint, scheme_len + n);
        c->bucket = strdup(cfg->bucket);
        c->access = strdup(cfg->access_key);
        c->secret = strdup(cfg->secret_key);
        c->ca_file = cfg->ca_file ? strdup(cfg->ca_file) : NULL;
        if (!c->location || !c->endpoint || !c->bucket || !c->access || !c->secret ||
            (cfg->ca_file && !c->ca_file))
                return -ENOMEM;
        if (asprintf(&c->sigv4, "aws:amz:%s:s3", cfg->region) < 0)
                return -ENOMEM;
        if (cfg->style == YB_S3_STYLE_VIRTUAL) {
                if (asprintf(&c->base_url, "%.*s%s.%.*s", (int) scheme_len, cfg->endpoint,
                             cfg->bucket, (int) n, hostport) < 0)
                        return -ENOMEM;
        } else if (asprintf(&c->base_url, "%s/%s", c->endpoint, cfg->bucket) < 0)
                return -ENOMEM;
        c->timeout_ns = cfg->timeout_ns > 0 ? cfg->timeout_ns : 30 * YB_NSEC_PER_SEC;
        curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 16L);
        *ret = TAKE_PTR(c);
        return 0;
}

const char *yb_s3_client_bucket(const YbS3Client *c) {
        return c->bucket;
}

const char *yb_s3_client_endpoint(const YbS3Client *c) {
        return c->endpoint;
}

void yb_s3_request_reset(YbS3Request *req) {
        yb_buf_done(&req->answer);
        req->status = 0;
        req->got = 0;
        req->etag[0] = req->version_id[0] = req->code[0] = req->message[0] = 0;
        req->length = 0;
        req->mtime = req->retain_until = 0;
        req->delete_marker = false;
        req->r = 0;
        req->sent = 0;
}

/* Copies v into dst whole, or leaves dst empty when it does not fit (never a cut one). */
static void keep(char *dst, size_t size, const char *v) {
        size_t n = strlen(v);

        if (n >= size)
                n = 0;
        memcpy(dst, v, n);
        dst[n] = 0;
}

/* A header of the answer: the ones the stores use are kept. */
static size_t on_header(char *data, size_t size, size_t n, void *ud) {
        YbS3Request *req = ud;
        size_t len = size * n, nl;
        const char *colon, *v;
        char value[256];

        if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {
                /* A new answer (after 100 Continue, or a redirect): forget the last one's. */
                req->etag[0] = req->version_id[0] = 0;
                req->length = 0;
                req->mtime = req->retain_until = 0;
                req->delete_marker = req->legal_hold = false;
                return len;
        }
        colon = memchr(data, ':', len);
        if (!colon)
                return len;
        nl = (size_t) (colon - data);
        v = colon + 1;
        while (v < data + len && (*v == ' ' || *v == '\t'))
                v++;
        {
                size_t vl = (size_t) (data + len - v);

                while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
                        vl--;
                if (vl >= sizeof(value))
                        return len;
                memcpy(value, v, vl);
                value[vl] = 0;
        }
#define IS(name) (nl == strlen(name) && strncasecmp(data, name, nl) == 0)
        if (IS("etag"))
                keep(req->etag, sizeof(req->etag), value);
        else if (IS("x-amz-version-id"))
                keep(req->version_id, sizeof(req->version_id), value);
        else if (IS("content-length") && !req->length)
                req->length = strtoull(value, NULL, 10);
        else if (IS("content-range")) {
                const char *slash = strrchr(value, '/');

                if (slash && slash[1] != '*')
                        req->length = strtoull(slash + 1, NULL, 10);
        } else if (IS("last-modified")) {
                time_t t = curl_getdate(value, NULL);

                if (t > 0)
                        req->mtime = t;
        } else if (IS("x-amz-object-lock-retain-until-date")) {
                int64_t ns;

                if (yb_time_parse(value, &ns) >= 0)
                        req->retain_until = ns / YB_NSEC_PER_SEC;
        } else if (IS("x-amz-delete-marker"))
                req->delete_marker = strcasecmp(value, "true") == 0;
        else if (IS("x-amz-object-lock-legal-hold"))
                req->legal_hold = strcasecmp(value, "ON") == 0;
#undef IS
        return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud) {
        YbS3Request *req = ud;
        size_t len = size * n;
        long status = 0;

        curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
        if (req->into && status >= 200 && status < 300) {
                if (len > req->into_size - req->got)
                        return 0; /* more than asked for: fails the transfer */
                memcpy((uint8_t *) req->into + req->got, data, len);
                req->got += len;
                return len;
        }
        return yb_buf_append(&req->answer, data, len) < 0 ? 0 : len;
}

static size_t on_read(char *data, size_t size, size_t n, void *ud) {
        YbS3Request *req = ud;
        size_t k = MIN(size * n, req->body_size - req->sent);

        if (k == 0)
                return 0;
        memcpy(data, (const uint8_t *) req->body + req->sent, k);
        req->sent += k;
        return k;
}

/* The URL and the headers of req, its body's SHA-256 among them: without the lock (only the
 * client's settings are read), so that hashing a part does not hold up the transfers. Kept until
 * yb_s3_request_done() (a retry sends them again). */
static int prepare(const YbS3Client *c, YbS3Request *req) {
        YbBuf url = YB_BUF_INIT;
        unsigned char hash[EVP_MAX_MD_SIZE];
        unsigned hash_len = 0;
        char hex[2 * 32 + 1], line[128]; /* SHA-256: 32 bytes */
        int r;

        r = yb_buf_printf(&url, "%s/", c->base_url);
        if (r >= 0 && req->key)
                r = yb_s3_uri_encode(&url, req->key, true);
        if (r >= 0 && req->query && *req->query)
                r = yb_buf_printf(&url, "?%s", req->query);
        if (r >= 0)
                r = yb_buf_append_u8(&url, 0);
        if (r < 0) {
                yb_buf_done(&url);
                return r;
        }
        /* Path style signs "/bucket" for the bucket itself: drop the slash after it. */
        if (!req->key && url.size >= 2 && url.data[url.size - 2] == '/')
                url.data[url.size - 2] = 0;
        else if (!req->key) {
                char *q = strstr((char *) url.data, "/?");

                if (q)
                        memmove(q, q + 1, strlen(q + 1) + 1);
        }
        free(req->url);
        req->url = (char *) yb_buf_steal(&url, NULL);

        /* Every body is signed with its real SHA-256 (OpenSSL's, which uses the CPU's SHA
         * instructions: well over 1 GB/s where libsodium's portable code ran at 130 MB/s), so
         * radosgw checks every byte it receives against it and refuses a body that differs
         * (400 XAmzContentSHA256Mismatch). YB_STORE_VERIFIES_BODIES in store.h rests on it. */
        if (!EVP_Digest(req->body ? req->body : (const void *) "", req->body_size, hash, &hash_len,
                        EVP_sha256(), NULL))
                return -ENOMEM;
        sodium_bin2hex(hex, sizeof(hex), hash, hash_len);
        snprintf(line, sizeof(line), "x-amz-content-sha256: %s", hex);
        curl_slist_free_all(req->slist);
        req->slist = NULL;
        {
                /* No "Expect:" to turn 100-continue off: libcurl would sign it while leaving
                 * it out. 100-continue lets a refused PUT (412) stop before its body. */
                struct curl_slist *l = curl_slist_append(NULL, line);

                for (size_t i = 0; l && i < ELEMENTSOF(req->headers) && req->headers[i]; i++)
                        l = curl_slist_append(l, req->headers[i]);
                if (!l)
                        return -ENOMEM;
                req->slist = l;
        }
        return 0;
}

/* Gives req an easy handle set up from what prepare() made (the lock held). */
static int build(YbS3Client *c, YbS3Request *req) {
        CURL *e;

        if (c->n_pool > 0)
                e = c->pool[--c->n_pool];
        else
                e = curl_easy_init();
        if (!e)
                return -ENOMEM;
        req->easy = e;
        curl_easy_setopt(e, CURLOPT_URL, req->url);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_PATH_AS_IS,
                         1L); /* a key travels as written: no dot-segment removal */
        curl_easy_setopt(e, CURLOPT_AWS_SIGV4, c->sigv4);
        curl_easy_setopt(e, CURLOPT_USERNAME, c->access);
        curl_easy_setopt(e, CURLOPT_PASSWORD, c->secret);
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, req->slist);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long) (c->timeout_ns / YB_NSEC_PER_MSEC));
        /* No byte moving for the timeout: the request fails (each wait is bounded, not the
         * whole transfer, which may be large). */
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                         (long) ((c->timeout_ns + YB_NSEC_PER_SEC - 1) / YB_NSEC_PER_SEC));
        if (c->ca_file)
                curl_easy_setopt(e, CURLOPT_CAINFO, c->ca_file);
        curl_easy_setopt(e, CURLOPT_PRIVATE, req);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, req);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, req);
        if (strcmp(req->method, "HEAD") == 0)
                curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
        else if (strcmp(req->method, "PUT") == 0) {
                curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
                curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
                curl_easy_setopt(e, CURLOPT_READDATA, req);
                curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t) req->body_size);
        } else if (strcmp(req->method, "POST") == 0) {
                curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) req->body_size);
                curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        } else if (strcmp(req->method, "GET") != 0)
                curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, req->method);
        return 0;
}

static void release_easy(YbS3Client *c, YbS3Request *req) {
        if (!req->easy)
                return;
        if (req->active) {
                curl_multi_remove_handle(c->multi, req->easy);
                c->n_active--;
        }
        req->active = false;
        if (c->n_pool < POOL_MAX) {
                curl_easy_reset(req->easy);
                c->pool[c->n_pool++] = req->easy;
        } else
                curl_easy_cleanup(req->easy);
        req->easy = NULL;
}

static bool expected(const YbS3Request *req);
static int log_failure(YbS3Client *c, const YbS3Request *req);

static int launch(YbS3Client *c, YbS3Request *req) {
        int r;

        if (c->lost) {
                req->status = 0;
                req->r = c->lost;
                snprintf(req->message, sizeof(req->message),
                         "not sent: an earlier request of this store found %s gone", c->endpoint);
                req->done = true;
                if (!expected(req))
                        (void) log_failure(c, req);
                return req->r;
        }
        req->answer.cap = YB_S3_XML_MAX;
        r = build(c, req);
        if (r < 0)
                return r;
        if (curl_multi_add_handle(c->multi, req->easy) != CURLM_OK) {
                release_easy(c, req);
                return -ENOMEM;
        }
        req->active = true;
        c->n_active++;
        req->attempts++;
        return 0;
}

static void *drive(void *ud);

/* With the lock held: waits until the driver is out of curl_multi_poll(); the caller may then
 * touch the multi handle and the easy handles until leave(). enter() takes the lock first. */
static void enter_locked(YbS3Client *c) {
        c->want++;
        while (c->polling) {
                curl_multi_wakeup(c->multi);
                pthread_cond_wait(&c->out, &c->lock);
        }
}

static void enter(YbS3Client *c) {
        pthread_mutex_lock(&c->lock);
        enter_locked(c);
}

static void leave(YbS3Client *c) {
        if (--c->want == 0)
                pthread_cond_signal(&c->drive); /* the driver may poll again, or has work */
        pthread_mutex_unlock(&c->lock);
}

int yb_s3_start(YbS3Client *c, YbS3Request *req) {
        int r = 0;

        r = prepare(c, req);
        if (r < 0)
                return r;
        enter(c);
        if (!c->driver_started) {
                r = -pthread_create(&c->driver, NULL, drive, c);
                if (r < 0)
                        log_error_errno(r,
                                        "S3 store '%s': cannot start the thread that drives its "
                                        "transfers: %m",
                                        c->location);
                else
                        c->driver_started = true;
        }
        if (r >= 0) {
                req->done = false;
                req->attempts = 0;
                r = launch(c, req);
                if (r < 0 && req->done)
                        r = 0; /* failed unsent on a lost store: yb_s3_wait() gives req->r */
        }
        leave(c);
        return r;
}

static int map_curl(CURLcode e) {
        switch (e) {
        case CURLE_COULDNT_CONNECT:
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return -ETIMEDOUT;
        case CURLE_SEND_ERROR:
        case CURLE_RECV_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_PARTIAL_FILE:
                return -ECONNRESET;
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return -EHOSTUNREACH;
        case CURLE_OUT_OF_MEMORY:
                return -ENOMEM;
        case CURLE_SSL_CONNECT_ERROR:
                return -ECONNABORTED; /* no TLS handshake: often a plain HTTP port */
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
                return -EPROTO;
        default:
                return -EIO;
        }
}

static bool retryable(CURLcode e, long status, int attempts) {
        if (e == CURLE_OK)
                return status >= 500 && attempts < ATTEMPTS;
        if (e == CURLE_COULDNT_CONNECT)
                return attempts < ATTEMPTS_REFUSED;
        return (e == CURLE_SEND_ERROR || e == CURLE_RECV_ERROR || e == CURLE_GOT_NOTHING ||
                e == CURLE_PARTIAL_FILE) &&
               attempts < ATTEMPTS;
}

/* A failure that says the endpoint is gone (no answer came): the store is lost after it. */
static bool connection_lost(const YbS3Request *req) {
        return req->status == 0 &&
               (req->r == -ECONNREFUSED || req->r == -ECONNRESET || req->r == -ETIMEDOUT);
}

static int map_status(YbS3Request *req) {
        const char *code = req->code;

        if (req->status >= 200 && req->status < 300)
                return 0;
        if (streq(code, "SignatureDoesNotMatch") || streq(code, "InvalidAccessKeyId"))
                return -EPERM;
        if (streq(code, "QuotaExceeded"))
                return -ENOSPC;
        switch (req->status) {
        case 404:
                return -ENOENT;
        case 412:
                return -EEXIST;
        case 403:
                return -EACCES;
        case 416:
                return -ERANGE;
        case 409:
                return -EBUSY;
        default:
                return -EIO;
        }
}

static bool expected(const YbS3Request *req) {
        return req->quiet || req->r == -ENOENT || req->r == -EEXIST;
}

/* yb_s3_log_failure() with the lock held. */
static int log_failure(YbS3Client *c, const YbS3Request *req) {
        int level = YB_LOG_ERR;

        if (connection_lost(req)) {
                /* The first says it; the later ones (unsent, or in flight with it) at debug. */
                if (c->lost_said)
                        level = YB_LOG_DEBUG;
                c->lost_said = true;
        }
        if (req->status)
                return yb_log_full_errno(level, req->r,
                                         "S3 store '%s': %s %s in bucket '%s' at %s failed: HTTP "
                                         "%ld%s%s%s%s: %m",
                                         c->location, req->method,
                                         req->key ? req->key : "(the bucket)", c->bucket,
                                         c->endpoint, req->status, *req->code ? ", " : "",
                                         req->code, *req->message ? ": " : "", req->message);
        return yb_log_full_errno(level, req->r,
                                 "S3 store '%s': %s %s in bucket '%s' at %s failed%s%s: %m",
                                 c->location, req->method, req->key ? req->key : "(the bucket)",
                                 c->bucket, c->endpoint, *req->message ? ": " : "", req->message);
}

int yb_s3_log_failure(YbS3Client *c, const YbS3Request *req) {
        int r;

        pthread_mutex_lock(&c->lock);
        r = log_failure(c, req);
        pthread_mutex_unlock(&c->lock);
        return r;
}

static void finish(YbS3Client *c, YbS3Request *req, CURLcode e) {
        long status = 0;

        if (e == CURLE_OK)
                curl_easy_getinfo(req->easy, CURLINFO_RESPONSE_CODE, &status);
        else
                snprintf(req->message, sizeof(req->message), "%s", curl_easy_strerror(e));
        release_easy(c, req);
        if (retryable(e, status, req->attempts) && !c->lost) {
                int64_t backoff = BACKOFF_NS;

                for (int i = 1; i < req->attempts; i++)
                        backoff *= 4;
                log_debug("S3 store '%s': %s %s: %s (HTTP %ld), attempt %d of %d again in "
                          "%lld ms",
                          c->location, req->method, req->key ? req->key : "(the bucket)",
                          e ? curl_easy_strerror(e) : "server error", status, req->attempts,
                          e == CURLE_COULDNT_CONNECT ? ATTEMPTS_REFUSED : ATTEMPTS,
                          (long long) (backoff / YB_NSEC_PER_MSEC));
                yb_buf_clear(&req->answer);
                req->got = 0;
                req->sent = 0;
                req->message[0] = 0;
                req->not_before = yb_monotonic_ns() + backoff;
                req->next_retry = c->retries;
                c->retries = req;
                return;
        }
        req->status = status;
        if (e == CURLE_WRITE_ERROR && !req->into && req->answer.cap &&
            req->answer.size + CURL_MAX_WRITE_SIZE >= req->answer.cap) {
                req->r = -EBADMSG; /* the answer went past its cap */
                snprintf(req->message, sizeof(req->message),
                         "the answer is over %zu MiB: not an S3 service, or a broken one",
                         req->answer.cap >> 20);
        } else if (e != CURLE_OK)
                req->r = map_curl(e);
        else {
                if ((status < 200 || status >= 300) && req->answer.size > 0) {
                        char *code = NULL, *msg = NULL;

                        if (yb_s3_xml_value((const char *) req->answer.data, req->answer.size,
                                            "Error/Code", &code) >= 0 &&
                            code) {
                                snprintf(req->code, sizeof(req->code), "%s", code);
                                if (yb_s3_xml_value((const char *) req->answer.data,
                                                    req->answer.size, "Error/Message", &msg) >= 0 &&
                                    msg)
                                        snprintf(req->message, sizeof(req->message), "%s", msg);
                        }
                        free(code);
                        free(msg);
                }
                req->r = map_status(req);
        }
        req->done = true;
        c->announce = true;
        if (connection_lost(req) && !c->lost) {
                c->lost = req->r;
                log_debug("S3 store '%s': %s is gone (%s): every later request of this store "
                          "fails at once",
                          c->location, c->endpoint, req->message);
        }
        if (req->r < 0 && !expected(req))
                (void) log_failure(c, req);
}

/* Launches the retries that are due; the time until the next one in *ret_ms (or leaves it). */
static void launch_retries(YbS3Client *c, long *ret_ms) {
        int64_t now = yb_monotonic_ns();

        for (YbS3Request **p = &c->retries; *p;) {
                YbS3Request *req = *p;

                if (req->not_before <= now || c->lost) { /* lost: they fail now */
                        *p = req->next_retry;
                        req->next_retry = NULL;
                        req->r = launch(c, req);
                        if (req->r < 0) {
                                req->done = true;
                                c->announce = true;
                        }
                        continue;
                }
                *ret_ms = MIN(*ret_ms, (long) ((req->not_before - now) / YB_NSEC_PER_MSEC) + 1);
                p = &req->next_retry;
        }
}

/* The driver: progresses every transfer, finishes those done (announced on c->done), and sleeps
 * in curl_multi_poll() with the lock released while transfers run, on its condition while none
 * does; woken by curl_multi_wakeup() or the condition when a caller wants in or there is work. */
static void *drive(void *ud) {
        YbS3Client *c = ud;

        pthread_mutex_lock(&c->lock);
        while (!c->stop) {
                long wait_ms = 1000;
                CURLMsg *m;
                int running, left;

                if (c->want > 0 || (c->n_active == 0 && !c->retries)) {
                        pthread_cond_wait(&c->drive, &c->lock);
                        continue;
                }
                launch_retries(c, &wait_ms);
                curl_multi_perform(c->multi, &running);
                while ((m = curl_multi_info_read(c->multi, &left)))
                        if (m->msg == CURLMSG_DONE) {
                                YbS3Request *req = NULL;

                                curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **) &req);
                                finish(c, req, m->data.result);
                        }
                if (c->announce) { /* also those launch_retries() failed at once */
                        c->announce = false;
                        pthread_cond_broadcast(&c->done);
                }
                if (c->want > 0 || (c->n_active == 0 && !c->retries))
                        continue;
                c->polling = true;
                pthread_mutex_unlock(&c->lock);
                curl_multi_poll(c->multi, NULL, 0, (int) wait_ms, NULL);
                pthread_mutex_lock(&c->lock);
                c->polling = false;
                if (c->want > 0)
                        pthread_cond_broadcast(&c->out);
        }
        pthread_mutex_unlock(&c->lock);
        return NULL;
}

int yb_s3_wait(YbS3Client *c, YbS3Request *req) {
        int r;

        pthread_mutex_lock(&c->lock);
        while (!req->done)
                pthread_cond_wait(&c->done, &c->lock);
        r = req->r;
        pthread_mutex_unlock(&c->lock);
        return r;
}

bool yb_s3_done(YbS3Client *c, YbS3Request *req) {
        bool done;

        pthread_mutex_lock(&c->lock);
        done = req->done;
        pthread_mutex_unlock(&c->lock);
        return done;
}

size_t yb_s3_wait_any(YbS3Client *c, YbS3Request **reqs, size_t n) {
        pthread_mutex_lock(&c->lock);
        for (;;) {
                for (size_t i = 0; i < n; i++)
                        if (reqs[i]->done) {
                                pthread_mutex_unlock(&c->lock);
                                return i;
                        }
                pthread_cond_wait(&c->done, &c->lock);
        }
}

int yb_s3_run(YbS3Client *c, YbS3Request *req) {
        int r = yb_s3_start(c, req);

        if (r < 0)
                return r;
        return yb_s3_wait(c, req);
}

void yb_s3_request_done(YbS3Client *c, YbS3Request *req) {
        bool in_multi;

        pthread_mutex_lock(&c->lock);
        in_multi = req->easy != NULL; /* a request done or never started holds none */
        if (in_multi)
                enter_locked(c);
        release_easy(c, req);
        for (YbS3Request **p = &c->retries; *p; p = &(*p)->next_retry)
                if (*p == req) {
                        *p = req->next_retry;
                        break;
                }
        req->next_retry = NULL;
        req->done = true;
        if (in_multi)
                leave(c);
        else
                pthread_mutex_unlock(&c->lock);
        curl_slist_free_all(req->slist);
        req->slist = NULL;
        free(req->url);
        req->url = NULL;
        yb_buf_done(&req->answer);
}
