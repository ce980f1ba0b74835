#include "orchestrator/httpd.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

/* A connection on the Unix socket, from its accept to libmicrohttpd's "closed". */
typedef struct Conn {
        bool used, started, cut;
        int fd;
        uid_t uid;
        pid_t pid;
        int64_t deadline; /* monotonic usec; INT64_MAX while the handler works on its request */
} Conn;

/* A refused connection, answered and shut for writing, kept until the caller has read the
 * answer and closed (so that its request, sent before it read, does not fail with EPIPE), or
 * LINGER_USEC have passed. What it sends is thrown away unread. */
#define LINGER_MAX 32
#define LINGER_USEC YB_USEC_PER_SEC
typedef struct Lingering {
        int fd;
        int64_t deadline;
} Lingering;

/* Refused connections of one uid in one minute, reported together when the minute is over. */
#define REFUSALS_MAX 64
typedef struct Refusal {
        uid_t uid;
        int64_t minute_usec;
        unsigned count;
} Refusal;

struct YbHttpd {
        struct MHD_Daemon *mhd;
        YbHttpHandler handler;
        void *userdata;
        bool is_unix;
        char *unix_path;
        /* The Unix socket's accepting thread. */
        YbHttpGate gate;
        int listen_fd, stop_fd;
        bool has_thread, has_lock;
        pthread_t thread;
        pthread_mutex_t lock; /* conns: the accepting thread and the server thread */
        Conn conns[YB_HTTP_MAX_CONNECTIONS];
        Lingering lingering[LINGER_MAX]; /* the accepting thread's */
        size_t n_lingering;
        Refusal refusals[REFUSALS_MAX]; /* the accepting thread's */
        size_t n_refusals;
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

static void set_deadline(YbHttpd *h, Conn *c, int64_t deadline) {
        if (!c)
                return;
        pthread_mutex_lock(&h->lock);
        c->deadline = deadline;
        pthread_mutex_unlock(&h->lock);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        YbHttpd *h = cls;
        Upload *up = *con_cls;
        YbHttpRequest req = { .method = method, .path = url, .connection = conn };
        YbHttpResponse resp = { 0 };
        Conn *c = NULL;
        enum MHD_Result ret;

        if (h->is_unix) {
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

                c = ci ? ci->socket_context : NULL;
        }
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
        if (c) {
                req.has_peer = true;
                req.uid = c->uid;
                req.pid = c->pid;
        }
        set_deadline(h, c, INT64_MAX); /* the request is in: our own work is not the caller's */
        h->handler(h->userdata, &req, &resp);
send:
        ret = send_response(conn, &resp);
        free(resp.body);
        set_deadline(h, c, yb_monotonic_usec() + YB_HTTP_REQUEST_USEC);
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

/* Ties libmicrohttpd's connection to the Conn its fd was accepted into, and frees the Conn when
 * libmicrohttpd is done (before it closes the fd, so the fd is never cut after its reuse). */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        YbHttpd *h = cls;
        Conn *c = *socket_context;

        if (!h->is_unix)
                return;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

                pthread_mutex_lock(&h->lock);
                for (size_t i = 0; ci && i < YB_HTTP_MAX_CONNECTIONS; i++)
                        if (h->conns[i].used && !h->conns[i].started &&
                            h->conns[i].fd == ci->connect_fd) {
                                h->conns[i].started = true;
                                *socket_context = &h->conns[i];
                                break; /* accept_one keeps one Conn per fd */
                        }
                pthread_mutex_unlock(&h->lock);
        } else if (c) {
                pthread_mutex_lock(&h->lock);
                *c = (Conn){ .fd = -EBADF };
                pthread_mutex_unlock(&h->lock);
                *socket_context = NULL;
        }
}

static void report_refusals(YbHttpd *h, int64_t now_usec) {
        size_t k = 0;

        for (size_t i = 0; i < h->n_refusals; i++) {
                Refusal *f = &h->refusals[i];

                if (f->minute_usec + YB_USEC_PER_MINUTE <= now_usec) {
                        if (h->gate.refused)
                                h->gate.refused(h->gate.userdata, f->uid, f->count, f->minute_usec);
                } else
                        h->refusals[k++] = *f;
        }
        h->n_refusals = k;
}

static void count_refusal(YbHttpd *h, uid_t uid) {
        int64_t now = yb_now_usec(), minute = now - now % YB_USEC_PER_MINUTE;

        for (size_t i = 0; i < h->n_refusals; i++)
                if (h->refusals[i].uid == uid && h->refusals[i].minute_usec == minute) {
                        h->refusals[i].count++;
                        return;
                }
        if (h->n_refusals == REFUSALS_MAX) {
                /* More uids refused in a minute than we keep: the oldest is reported early. */
                if (h->gate.refused)
                        h->gate.refused(h->gate.userdata, h->refusals[0].uid, h->refusals[0].count,
                                        h->refusals[0].minute_usec);
                memmove(h->refusals, h->refusals + 1, sizeof(Refusal) * (REFUSALS_MAX - 1));
                h->n_refusals--;
        }
        h->refusals[h->n_refusals++] = (Refusal){ uid, minute, 1 };
}

/* Answers a connection that is not served with status and an error, without reading it. */
static void refuse(YbHttpd *h, int fd, int status, const char *fmt, ...) _printf_(4, 5);
static void refuse(YbHttpd *h, int fd, int status, const char *fmt, ...) {
        YbHttpResponse resp = { 0 };
        char msg[512], head[256];
        va_list ap;
        int n;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        yb_http_error(&resp, status, "%s", msg);
        n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n",
                     status, status == 403 ? "Forbidden" : "Service Unavailable",
                     resp.body ? strlen(resp.body) : 0);
        /* A fresh socket's buffer takes this whole; if not, the caller gets less, never more. */
        if (send(fd, head, (size_t) n, MSG_NOSIGNAL | MSG_DONTWAIT) == n && resp.body)
                (void) send(fd, resp.body, strlen(resp.body), MSG_NOSIGNAL | MSG_DONTWAIT);
        free(resp.body);
        (void) shutdown(fd, SHUT_WR);
        if (h->n_lingering == LINGER_MAX) {
                safe_close(fd);
                return;
        }
        h->lingering[h->n_lingering++] = (Lingering){ fd, yb_monotonic_usec() + LINGER_USEC };
}

/* Throws away what refused callers sent; closes those that closed, or whose time is up. */
static void linger(YbHttpd *h, const struct pollfd *pfd, int64_t now) {
        size_t k = 0;

        for (size_t i = 0; i < h->n_lingering; i++) {
                Lingering *l = &h->lingering[i];
                bool done = l->deadline <= now;

                if (!done && pfd[i].revents) {
                        char buf[4096];
                        ssize_t got = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);

                        done = got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR);
                }
                if (done)
                        safe_close(l->fd);
                else
                        h->lingering[k++] = *l;
        }
        h->n_lingering = k;
}

/* Cuts off connections whose request is overdue: the server thread then sees them end. */
static void cut_overdue(YbHttpd *h, int64_t now) {
        pthread_mutex_lock(&h->lock);
        for (size_t i = 0; i < YB_HTTP_MAX_CONNECTIONS; i++) {
                Conn *c = &h->conns[i];

                if (c->used && !c->started && c->deadline <= now) {
                        /* libmicrohttpd never took it up (it closes a connection it cannot set
                         * up without telling us): its fd is not ours to cut any more. */
                        log_debug("Forgot a connection from uid %u (pid %d) that was never "
                                  "served.",
                                  (unsigned) c->uid, (int) c->pid);
                        *c = (Conn){ .fd = -EBADF };
                } else if (c->used && !c->cut && c->deadline <= now) {
                        log_warning("Closed a connection to %s from uid %u (pid %d): its request "
                                    "did not arrive in full within %lld s.",
                                    h->unix_path, (unsigned) c->uid, (int) c->pid,
                                    YB_HTTP_REQUEST_USEC / YB_USEC_PER_SEC);
                        (void) shutdown(c->fd, SHUT_RDWR);
                        c->cut = true;
                }
        }
        pthread_mutex_unlock(&h->lock);
}

/* The time until something is due, in usec; INT64_MAX for nothing. */
static int64_t next_due(YbHttpd *h, int64_t now, int64_t now_wall) {
        int64_t due = INT64_MAX;

        pthread_mutex_lock(&h->lock);
        for (size_t i = 0; i < YB_HTTP_MAX_CONNECTIONS; i++)
                if (h->conns[i].used && !h->conns[i].cut && h->conns[i].deadline != INT64_MAX)
                        due = MIN(due, h->conns[i].deadline - now);
        pthread_mutex_unlock(&h->lock);
        for (size_t i = 0; i < h->n_lingering; i++)
                due = MIN(due, h->lingering[i].deadline - now);
        for (size_t i = 0; i < h->n_refusals; i++)
                due = MIN(due, h->refusals[i].minute_usec + YB_USEC_PER_MINUTE - now_wall);
        return MAX(due, 0);
}

static void accept_one(YbHttpd *h, int fd) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        struct ucred cred;
        socklen_t len = sizeof(cred);
        size_t of_uid = 0;
        Conn *c = NULL;

        /* A Conn still holding this fd number is stale: libmicrohttpd closed its connection
         * without telling us. It must not count against its uid, nor lend its uid to this one. */
        pthread_mutex_lock(&h->lock);
        for (size_t i = 0; i < YB_HTTP_MAX_CONNECTIONS; i++)
                if (h->conns[i].used && h->conns[i].fd == fd)
                        h->conns[i] = (Conn){ .fd = -EBADF };
        pthread_mutex_unlock(&h->lock);
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
                log_warning_errno(errno, "Failed to learn the caller's uid on %s: %m",
                                  h->unix_path);
                safe_close(fd);
                return;
        }
        if (h->gate.admit && !h->gate.admit(h->gate.userdata, cred.uid)) {
                count_refusal(h, cred.uid);
                refuse(h, fd, 403,
                       "uid %u is not one of the people in yunbakd's configuration; ask the "
                       "operations unit to add you",
                       (unsigned) cred.uid);
                return;
        }
        pthread_mutex_lock(&h->lock);
        for (size_t i = 0; i < YB_HTTP_MAX_CONNECTIONS; i++) {
                if (!h->conns[i].used && !c)
                        c = &h->conns[i];
                else if (h->conns[i].used && h->conns[i].uid == cred.uid)
                        of_uid++;
        }
        if (of_uid < YB_HTTP_MAX_PER_UID && c)
                *c = (Conn){ .used = true,
                             .fd = fd,
                             .uid = cred.uid,
                             .pid = cred.pid,
                             .deadline = yb_monotonic_usec() + YB_HTTP_REQUEST_USEC };
        pthread_mutex_unlock(&h->lock);
        if (of_uid >= YB_HTTP_MAX_PER_UID) {
                refuse(h, fd, 503,
                       "uid %u already has %d connections open to yunbakd, as many as one user "
                       "may; let one finish and try again",
                       (unsigned) cred.uid, YB_HTTP_MAX_PER_UID);
                return;
        }
        if (!c) {
                refuse(h, fd, 503,
                       "yunbakd has %d connections open, as many as it takes; try again shortly",
                       YB_HTTP_MAX_CONNECTIONS);
                return;
        }
        if (MHD_add_connection(h->mhd, fd, (struct sockaddr *) &sa, sizeof(sa)) != MHD_YES) {
                /* libmicrohttpd closed the fd; the Conn is ours to free unless it started. */
                log_warning_errno(errno, "Failed to serve a connection on %s: %m", h->unix_path);
                pthread_mutex_lock(&h->lock);
                if (c->used && !c->started && c->fd == fd)
                        *c = (Conn){ .fd = -EBADF };
                pthread_mutex_unlock(&h->lock);
        }
}

static void *accept_loop(void *userdata) {
        YbHttpd *h = userdata;

        for (;;) {
                struct pollfd pfd[2 + LINGER_MAX] = {
                        { .fd = h->stop_fd, .events = POLLIN },
                        { .fd = h->listen_fd, .events = POLLIN },
                };
                int64_t due = next_due(h, yb_monotonic_usec(), yb_now_usec()), now;

                for (size_t i = 0; i < h->n_lingering; i++)
                        pfd[2 + i] = (struct pollfd){ .fd = h->lingering[i].fd, .events = POLLIN };
                if (poll(pfd, 2 + h->n_lingering, due == INT64_MAX ? -1 : yb_usec_to_ms_ceil(due)) <
                    0) {
                        if (errno == EINTR)
                                continue;
                        log_error_errno(errno, "Failed to wait for callers on %s: %m",
                                        h->unix_path);
                        break;
                }
                if (pfd[0].revents)
                        break;
                now = yb_monotonic_usec();
                cut_overdue(h, now);
                linger(h, pfd + 2, now);
                report_refusals(h, yb_now_usec());
                /* A bounded batch, so that deadlines are kept under a flood of callers. */
                for (int i = 0; i < 64 && (pfd[1].revents & POLLIN); i++) {
                        int fd = accept4(h->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

                        if (fd >= 0)
                                accept_one(h, fd);
                        else if (errno == EAGAIN || errno == EWOULDBLOCK)
                                break;
                        else if (errno != EINTR && errno != ECONNABORTED) {
                                log_warning_errno(errno, "Failed to accept a caller on %s: %m",
                                                  h->unix_path);
                                break;
                        }
                }
        }
        return NULL;
}

YbHttpd *yb_httpd_stop(YbHttpd *h) {
        if (!h)
                return NULL;
        if (h->has_thread) {
                (void) eventfd_write(h->stop_fd, 1);
                pthread_join(h->thread, NULL);
        }
        if (h->mhd)
                MHD_stop_daemon(h->mhd);
        for (size_t i = 0; i < h->n_lingering; i++)
                safe_close(h->lingering[i].fd);
        report_refusals(h, INT64_MAX);
        safe_close(h->listen_fd);
        safe_close(h->stop_fd);
        if (h->has_lock)
                pthread_mutex_destroy(&h->lock);
        if (h->unix_path)
                (void) unlink(h->unix_path);
        free(h->unix_path);
        free(h);
        return NULL;
}

static YbHttpd *httpd_new(YbHttpHandler handler, void *userdata) {
        YbHttpd *h = new0(YbHttpd, 1);

        if (!h)
                return NULL;
        h->handler = handler;
        h->userdata = userdata;
        h->listen_fd = h->stop_fd = -EBADF;
        if (pthread_mutex_init(&h->lock, NULL) != 0) {
                free(h);
                return NULL;
        }
        h->has_lock = true;
        for (size_t i = 0; i < YB_HTTP_MAX_CONNECTIONS; i++)
                h->conns[i].fd = -EBADF;
        return h;
}

/* On TCP, libmicrohttpd listens on fd itself; on the Unix socket our thread accepts. */
static int start(YbHttpd *h, int fd) {
        unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;

        if (h->is_unix)
                flags |= MHD_USE_ITC | MHD_USE_NO_LISTEN_SOCKET;
        /* On the Unix socket, no listening socket is given: MHD_OPTION_LISTEN_SOCKET is then
         * the end of the list (MHD_OPTION_END), and libmicrohttpd refuses one with this flag. */
        h->mhd = MHD_start_daemon(
                flags, 0, NULL, NULL, on_request, h, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_CONNECTION_TIMEOUT,
                (unsigned) (YB_HTTP_REQUEST_USEC / YB_USEC_PER_SEC), MHD_OPTION_CONNECTION_LIMIT,
                (unsigned) (h->is_unix ? YB_HTTP_MAX_CONNECTIONS : 64),
                h->is_unix ? MHD_OPTION_END : MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_END);
        if (!h->mhd) {
                safe_close(fd);
                return -EIO;
        }
        if (!h->is_unix)
                return 0;
        h->listen_fd = fd;
        h->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (h->stop_fd < 0)
                return negative_errno();
        if (pthread_create(&h->thread, NULL, accept_loop, h) != 0)
                return -EAGAIN;
        h->has_thread = true;
        return 0;
}

int yb_httpd_start_unix(const char *path, mode_t mode, gid_t group, const YbHttpGate *gate,
                        YbHttpHandler handler, void *userdata, YbHttpd **ret) {
        _cleanup_(yb_httpd_stopp) YbHttpd *h = httpd_new(handler, userdata);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd, r;

        if (!h)
                return -ENOMEM;
        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        h->is_unix = true;
        if (gate)
                h->gate = *gate;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
                return negative_errno();
        (void) unlink(path); /* a socket left by an earlier run */
        /* Owner and mode are set before listen(): until then nobody can connect. */
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 ||
            (group != (gid_t) -1 && chown(path, (uid_t) -1, group) < 0) || chmod(path, mode) < 0 ||
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
        _cleanup_(yb_httpd_stopp) YbHttpd *h = httpd_new(handler, userdata);
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
