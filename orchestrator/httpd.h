/* orchestrator/httpd.h: a small HTTP server (libmicrohttpd) for the control API on a Unix socket,
 * where the kernel tells who the caller is (SO_PEERCRED), and for /metrics on TCP. One server
 * thread; handlers run in it, one request at a time.
 *
 * On the Unix socket, a thread of our own accepts: it asks the gate whether the caller's uid may
 * connect at all before a byte is read, refuses a uid that already holds YB_HTTP_MAX_PER_UID
 * connections, and closes a connection whose request has not arrived in full within
 * YB_HTTP_REQUEST_USEC (the whole request, not each pause: a caller trickling bytes is cut off
 * all the same). So no caller can keep the others out for longer than that. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/base/macro.h"
#include "core/base/timeutil.h"

typedef struct YbHttpRequest {
        const char *method; /* "GET", "POST", "DELETE", ... */
        const char *path;   /* without the query: "/v1/systems/hr-portal" */
        const char *body;   /* the request body, NUL-terminated ("" if none) */
        size_t body_size;
        bool has_peer; /* a Unix-socket caller: uid and pid are the kernel's word */
        uid_t uid;
        pid_t pid;
        void *connection; /* for yb_http_query */
} YbHttpRequest;

typedef struct YbHttpResponse {
        int status;               /* 200 when left 0 */
        char *body;               /* owned: freed after sending */
        const char *content_type; /* "application/json" when NULL */
} YbHttpResponse;

typedef void (*YbHttpHandler)(void *userdata, const YbHttpRequest *req, YbHttpResponse *resp);

typedef struct YbHttpd YbHttpd;

#define YB_HTTP_BODY_MAX (1024 * 1024)
#define YB_HTTP_MAX_CONNECTIONS 128 /* open on the Unix socket at a time, all callers */
#define YB_HTTP_MAX_PER_UID 8       /* open on the Unix socket at a time, one uid */
/* A request must arrive in full within this of the connection, or of the previous answer on it. */
#define YB_HTTP_REQUEST_USEC (10 * YB_USEC_PER_SEC)

/* Who may connect to the Unix socket. Both callbacks run in the accepting thread. */
typedef struct YbHttpGate {
        /* Whether a caller with uid may connect. A refused caller gets a 403 and is closed
         * without a byte of its request being read. */
        bool (*admit)(void *userdata, uid_t uid);
        /* Reports refused connections: count of them from uid in the minute that began at
         * minute_usec (wall clock), once that minute is over, and at stop for what is left. May
         * be NULL. */
        void (*refused)(void *userdata, uid_t uid, unsigned count, int64_t minute_usec);
        void *userdata;
} YbHttpGate;

/* Serves on a new Unix socket at path (an old socket file there is replaced), with mode and,
 * unless group is (gid_t) -1, that group. gate may be NULL: everyone may connect. */
int yb_httpd_start_unix(const char *path, mode_t mode, gid_t group, const YbHttpGate *gate,
                        YbHttpHandler handler, void *userdata, YbHttpd **ret);
/* Serves on TCP "host:port" ("127.0.0.1:9464", "[::1]:9464"). -EINVAL for a bad address. */
int yb_httpd_start_tcp(const char *listen, YbHttpHandler handler, void *userdata, YbHttpd **ret);
/* Stops serving (waiting for the request in progress) and frees. Accepts NULL. */
YbHttpd *yb_httpd_stop(YbHttpd *h);
DEFINE_FREEP(YbHttpd, yb_httpd_stop);
/* A query argument of the request, or NULL. */
const char *yb_http_query(const YbHttpRequest *req, const char *key);
/* Sets resp to a JSON error {"error": message} with status. */
void yb_http_error(YbHttpResponse *resp, int status, const char *fmt, ...) _printf_(3, 4);
