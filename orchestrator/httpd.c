#include "orchestrator/httpd.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "core/base/buf.h"
#include "core/base/log.h"

struct YbHttpd {
        struct MHD_Daemon *mhd;
        YbHttpHandler handler;
        void *userdata;
        bool is_unix;
        char *unix_path;
};

/* Per request: the body as it arrives. */
typedef struct Upload {
        YbBuf body;
        bool too_big;
} Upload;

void yb_http_error(YbHttpResponse *resp, int status, const char *fmt, ...) {
        char msg[1024];
        json_t *o;
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        o = json_pack("{s:s}", "error", msg);
        free(resp->body);
        resp->body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        resp->status = status;
        resp->content_type = "application/json";
}

const char *yb_http_query(const YbHttpRequest *req, const char *key) {
        return MHD_lookup_connection_value(req->connection, MHD_GET_ARGUMENT_KIND, key);
}

static enum MHD_Result send_response(struct MHD_Connection *conn, YbHttpResponse *resp) {
        const char *body = resp->body ? resp->body : "";
        struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(body), (void *) body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (!r)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : "application/json");
        ret = MHD_queue_response(conn, resp->status ? (unsigned) resp->status : 200, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        YbHttpd *h = cls;
        Upload *up = *con_cls;
        YbHttpRequest req = { .method = method, .path = url, .connection = conn };
        YbHttpResponse resp = { 0 };
        enum MHD_Result ret;

        if (!up) {
                up = new0(Upload, 1);
                if (!up)
                        return MHD_NO;
                up->body.cap = YB_HTTP_BODY_MAX;
                *con_cls = up;
                return MHD_YES; /* the first call only announces the request */
        }
        if (*upload_data_size > 0) {
                if (yb_buf_append(&up->body, upload_data, *upload_data_size) < 0)
                        up->too_big = true;
                *upload_data_size = 0;
                return MHD_YES;
        }
        if (up->too_big) {
                yb_http_error(&resp, 413, "request body larger than %d bytes", YB_HTTP_BODY_MAX);
                goto send;
        }
        if (yb_buf_append_u8(&up->body, 0) < 0) {
                yb_http_error(&resp, 500, "out of memory");
                goto send;
        }
        req.body = (const char *) up->body.data;
        req.body_size = up->body.size - 1;
        if (h->is_unix) {
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                struct ucred cred;
                socklen_t len = sizeof(cred);

                if (ci && getsockopt(ci->connect_fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
                        req.has_peer = true;
                        req.uid = cred.uid;
                        req.pid = cred.pid;
                }
        }
        h->handler(h->userdata, &req, &resp);
send:
        ret = send_response(conn, &resp);
        free(resp.body);
        return ret;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        Upload *up = *con_cls;

        if (up) {
                yb_buf_done(&up->body);
                free(up);
                *con_cls = NULL;
        }
}

YbHttpd *yb_httpd_stop(YbHttpd *h) {
        if (!h)
                return NULL;
        if (h->mhd)
                MHD_stop_daemon(h->mhd);
        if (h->unix_path)
                (void) unlink(h->unix_path);
        free(h->unix_path);
        free(h);
        return NULL;
}

static int start(YbHttpd *h, int fd) {
        h->mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
                                  on_request, h, MHD_OPTION_LISTEN_SOCKET, fd,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned) 64, MHD_OPTION_END);
        if (!h->mhd) {
                safe_close(fd);
                return -EIO;
        }
        return 0;
}

int yb_httpd_start_unix(const char *path, mode_t mode, YbHttpHandler handler, void *userdata,
                        YbHttpd **ret) {
        _cleanup_(yb_httpd_stopp) YbHttpd *h = new0(YbHttpd, 1);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, r;

        if (!h)
                return -ENOMEM;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        h->handler = handler;
        h->userdata = userdata;
        h->is_unix = true;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        (void) unlink(path); /* a socket left by an earlier run */
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || chmod(path, mode) < 0 ||
            listen(fd, 64) < 0) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        h->unix_path = strdup(path);
        if (!h->unix_path) {
                safe_close(fd);
                return -ENOMEM;
        }
        r = start(h, fd);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}

int yb_httpd_start_tcp(const char *listen_addr, YbHttpHandler handler, void *userdata,
                       YbHttpd **ret) {
        _cleanup_(yb_httpd_stopp) YbHttpd *h = new0(YbHttpd, 1);
        _cleanup_free_ char *host = NULL;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICHOST };
        struct addrinfo *ai = NULL;
        const char *colon = strrchr(listen_addr, ':');
        int fd, r, one = 1;

        if (!h)
                return -ENOMEM;
        if (!colon || colon == listen_addr || !colon[1])
                return -EINVAL;
        if (listen_addr[0] == '[' && colon[-1] == ']')
                host = strndup(listen_addr + 1, (size_t) (colon - listen_addr - 2));
        else
                host = strndup(listen_addr, (size_t) (colon - listen_addr));
        if (!host)
                return -ENOMEM;
        if (getaddrinfo(host, colon + 1, &hints, &ai) != 0 || !ai)
                return -EINVAL;
        h->handler = handler;
        h->userdata = userdata;
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = negative_errno();
                freeaddrinfo(ai);
                return r;
        }
        (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 64) < 0) {
                r = negative_errno();
                freeaddrinfo(ai);
                safe_close(fd);
                return r;
        }
        freeaddrinfo(ai);
        r = start(h, fd);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(h);
        return 0;
}
