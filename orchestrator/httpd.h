/* orchestrator/httpd.h: a small HTTP server (libmicrohttpd) for the control API on a Unix socket,
 * where the kernel tells who the caller is (SO_PEERCRED), and for /metrics on TCP. One server
 * thread; handlers run in it, one request at a time. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "core/base/macro.h"

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

/* Serves on a new Unix socket at path (an old socket file there is replaced), with mode. */
int yb_httpd_start_unix(const char *path, mode_t mode, YbHttpHandler handler, void *userdata,
                        YbHttpd **ret);
/* Serves on TCP "host:port" ("127.0.0.1:9464", "[::1]:9464"). -EINVAL for a bad address. */
int yb_httpd_start_tcp(const char *listen, YbHttpHandler handler, void *userdata, YbHttpd **ret);
/* Stops serving (waiting for the request in progress) and frees. Accepts NULL. */
YbHttpd *yb_httpd_stop(YbHttpd *h);
DEFINE_FREEP(YbHttpd, yb_httpd_stop);
/* A query argument of the request, or NULL. */
const char *yb_http_query(const YbHttpRequest *req, const char *key);
/* Sets resp to a JSON error {"error": message} with status. */
void yb_http_error(YbHttpResponse *resp, int status, const char *fmt, ...) _printf_(3, 4);
