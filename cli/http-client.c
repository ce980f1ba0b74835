#include "cli/http-client.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include "core/base/buf.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

typedef enum ParserState {
        P_STATUS,      /* the status line */
        P_HEADER,      /* header lines until an empty one */
        P_BODY_LENGTH, /* Content-Length bytes */
        P_CHUNK_SIZE,  /* a chunk-size line */
        P_CHUNK_DATA,  /* a chunk's bytes */
        P_CHUNK_END,   /* the CRLF after a chunk's bytes */
        P_TRAILER,     /* trailer lines after the last chunk, until an empty one */
        P_BODY_EOF,    /* everything until the connection ends */
        P_DONE,
        P_ERROR,
} ParserState;

#define CHUNK_LINE_MAX 1024

struct CliHttpParser {
        ParserState state;
        int error;
        YbBuf line; /* the line being read (head, chunk size, trailer) */
        size_t head_size, trailer_size;
        uint64_t seen; /* bytes fed so far */
        YbBuf body;
        uint64_t remaining; /* of the Content-Length body or of the current chunk */
        uint64_t length;
        bool have_length, chunked;
        int status;
        char *content_type;
        char why[CLI_HTTP_WHY_MAX];
};

static int parser_fail(CliHttpParser *p, int error, const char *fmt, ...) _printf_(3, 4);
static int parser_fail(CliHttpParser *p, int error, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(p->why, sizeof(p->why), fmt, ap);
        va_end(ap);
        p->state = P_ERROR;
        p->error = -abs(error);
        return p->error;
}

CliHttpParser *cli_http_parser_new(size_t body_max) {
        CliHttpParser *p = new0(CliHttpParser, 1);

        if (!p)
                return NULL;
        p->body.cap = body_max;
        return p;
}

CliHttpParser *cli_http_parser_free(CliHttpParser *p) {
        if (!p)
                return NULL;
        yb_buf_done(&p->line);
        yb_buf_done(&p->body);
        free(p->content_type);
        free(p);
        return NULL;
}

const char *cli_http_parser_why(const CliHttpParser *p) {
        return p->why;
}

const char *cli_http_excerpt(const char *s, char buf[48]) {
        size_t i = 0;

        for (; s[i] && i < 40; i++)
                buf[i] = (unsigned char) s[i] < 0x20 || (unsigned char) s[i] >= 0x7f ? '?' : s[i];
        buf[i] = 0;
        if (s[i])
                strcpy(buf + i, "...");
        return buf;
}

static bool is_tchar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int parse_status_line(CliHttpParser *p, const char *l) {
        char ex[48];
        int s;

        /* HTTP-version SP 3DIGIT [SP reason-phrase] */
        if (strncmp(l, "HTTP/", 5) != 0 || l[5] < '0' || l[5] > '9' || l[6] != '.' || l[7] < '0' ||
            l[7] > '9' || l[8] != ' ')
                return parser_fail(p, EPROTO, "not an HTTP response (it starts with '%s')",
                                   cli_http_excerpt(l, ex));
        if (l[5] != '1')
                return parser_fail(p, EPROTO, "unsupported HTTP version in '%s'",
                                   cli_http_excerpt(l, ex));
        for (int i = 9; i < 12; i++)
                if (l[i] < '0' || l[i] > '9')
                        return parser_fail(p, EPROTO, "bad status code in '%s'",
                                           cli_http_excerpt(l, ex));
        if (l[12] && l[12] != ' ')
                return parser_fail(p, EPROTO, "bad status code in '%s'", cli_http_excerpt(l, ex));
        s = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
        if (s < 100 || s > 599)
                return parser_fail(p, EPROTO, "status code %d out of range", s);
        p->status = s;
        p->state = P_HEADER;
        return 0;
}

/* OWS around a header value. */
static char *trim(char *s) {
        char *e;

        while (*s == ' ' || *s == '\t')
                s++;
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
                *--e = 0;
        return s;
}

static int parse_header(CliHttpParser *p, char *l) {
        char *colon, *v, ex[48];

        if (*l == ' ' || *l == '\t')
                return parser_fail(p, EPROTO, "folded header line '%s' (obsolete, refused)",
                                   cli_http_excerpt(l, ex));
        colon = strchr(l, ':');
        if (!colon || colon == l)
                return parser_fail(p, EPROTO, "malformed header line '%s'",
                                   cli_http_excerpt(l, ex));
        for (char *c = l; c < colon; c++)
                if (!is_tchar(*c))
                        return parser_fail(p, EPROTO, "malformed header name in '%s'",
                                           cli_http_excerpt(l, ex));
        *colon = 0;
        v = trim(colon + 1);
        if (strcasecmp(l, "Content-Length") == 0) {
                uint64_t n = 0;

                if (!*v)
                        return parser_fail(p, EPROTO, "empty Content-Length");
                for (const char *c = v; *c; c++) {
                        if (*c < '0' || *c > '9' || n > (UINT64_MAX - 9) / 10)
                                return parser_fail(p, EPROTO,
                                                   "Content-Length '%s' is not a byte count",
                                                   cli_http_excerpt(v, ex));
                        n = n * 10 + (uint64_t) (*c - '0');
                }
                if (p->have_length && n != p->length)
                        return parser_fail(p, EPROTO, "two different Content-Length headers");
                p->have_length = true;
                p->length = n;
        } else if (strcasecmp(l, "Transfer-Encoding") == 0) {
                /* Only "chunked" is ever sent to a client that asks for nothing else. */
                if (strcasecmp(v, "chunked") != 0 || p->chunked)
                        return parser_fail(p, EPROTO, "unsupported Transfer-Encoding '%s'",
                                           cli_http_excerpt(v, ex));
                p->chunked = true;
        } else if (strcasecmp(l, "Content-Type") == 0 && !p->content_type) {
                p->content_type = strdup(v);
                if (!p->content_type)
                        return parser_fail(p, ENOMEM, "out of memory");
        }
        return 0;
}

/* The empty line after the headers: how is the body delimited? */
static int end_of_head(CliHttpParser *p) {
        if (p->status >= 100 && p->status < 200) {
                /* An interim response (100 Continue): the real one follows. */
                p->status = 0;
                p->have_length = p->chunked = false;
                free(p->content_type);
                p->content_type = NULL;
                p->state = P_STATUS;
                return 0;
        }
        if (p->status == 204 || p->status == 304) {
                p->state = P_DONE;
                return 1;
        }
        if (p->chunked) {
                /* Transfer-Encoding overrides Content-Length (RFC 9112, 6.3). */
                p->state = P_CHUNK_SIZE;
                return 0;
        }
        if (p->have_length) {
                if (p->length > p->body.cap)
                        return parser_fail(p, ENOBUFS,
                                           "the answer is %" PRIu64
                                           " bytes, more than the %zu this client accepts",
                                           p->length, p->body.cap);
                p->remaining = p->length;
                p->state = p->length == 0 ? P_DONE : P_BODY_LENGTH;
                return p->state == P_DONE;
        }
        p->state = P_BODY_EOF;
        return 0;
}

static int parse_chunk_size(CliHttpParser *p, const char *l) {
        uint64_t n = 0;
        const char *c = l;
        char ex[48];

        for (; (*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f') || (*c >= 'A' && *c <= 'F');
             c++) {
                if (n >> 60)
                        return parser_fail(p, EPROTO, "chunk size '%s' too large",
                                           cli_http_excerpt(l, ex));
                n = n * 16 + (uint64_t) (*c <= '9' ? *c - '0' : (*c | 0x20) - 'a' + 10);
        }
        /* Then nothing, or chunk extensions (";name=value"), perhaps after whitespace. */
        while (*c == ' ' || *c == '\t')
                c++;
        if (c == l || (*c && *c != ';'))
                return parser_fail(p, EPROTO, "malformed chunk size line '%s'",
                                   cli_http_excerpt(l, ex));
        if (n == 0) {
                p->state = P_TRAILER;
                return 0;
        }
        if (n > p->body.cap - p->body.size)
                return parser_fail(p, ENOBUFS,
                                   "the answer is more than the %zu bytes this "
                                   "client accepts",
                                   p->body.cap);
        p->remaining = n;
        p->state = P_CHUNK_DATA;
        return 0;
}

/* A complete line (without its LF and any CR before it) in the current state. */
static int parse_line(CliHttpParser *p, char *l) {
        switch (p->state) {
        case P_STATUS:
                return parse_status_line(p, l);
        case P_HEADER:
                return *l ? parse_header(p, l) : end_of_head(p);
        case P_CHUNK_SIZE:
                return parse_chunk_size(p, l);
        case P_CHUNK_END:
                if (*l)
                        return parser_fail(p, EPROTO, "a chunk is longer than its size line says");
                p->state = P_CHUNK_SIZE;
                return 0;
        case P_TRAILER:
                if (!*l) {
                        p->state = P_DONE;
                        return 1;
                }
                return 0; /* trailer fields carry nothing we use */
        default:
                assert(false);
                return -EINVAL;
        }
}

/* Takes bytes of a line; when the line is complete, parses it. Returns bytes used or -errno. */
static int64_t feed_line(CliHttpParser *p, const uint8_t *d, size_t n) {
        const uint8_t *nl = memchr(d, '\n', n);
        size_t take = nl ? (size_t) (nl - d) + 1 : n;
        bool head = p->state == P_STATUS || p->state == P_HEADER, trailer = p->state == P_TRAILER;
        /* What the cap has left: the head and the trailers as a whole, a chunk line alone. */
        size_t used = head      ? p->head_size
                      : trailer ? p->trailer_size
                                : p->line.size,
               max = head || trailer ? CLI_HTTP_HEAD_MAX : CHUNK_LINE_MAX, allowed = max - used;
        char *l;
        int r;

        /* NULs within the cap first, so that the answer does not depend on how the bytes
         * were split. */
        if (memchr(d, 0, MIN(take, allowed)))
                return parser_fail(p, EPROTO, "a NUL byte in a header or chunk line");
        if (take > allowed)
                return parser_fail(p, ENOBUFS,
                                   head      ? "the response headers are longer than %zu bytes"
                                   : trailer ? "the trailers are longer than %zu bytes"
                                             : "a chunk size line is longer than %zu bytes",
                                   max);
        if (p->state == P_STATUS || p->state == P_HEADER)
                p->head_size += take;
        else if (p->state == P_TRAILER)
                p->trailer_size += take;
        r = yb_buf_append(&p->line, d, take);
        if (r < 0)
                return parser_fail(p, r, "out of memory");
        if (!nl)
                return (int64_t) take;
        /* A whole line: drop LF and a CR before it; NUL-terminate in place of the LF. */
        l = (char *) p->line.data;
        l[--p->line.size] = 0;
        if (p->line.size > 0 && l[p->line.size - 1] == '\r')
                l[--p->line.size] = 0;
        r = parse_line(p, l);
        yb_buf_clear(&p->line);
        if (r < 0)
                return r;
        return (int64_t) take;
}

static int64_t feed_body(CliHttpParser *p, const uint8_t *d, size_t n, bool counted) {
        size_t take = counted ? (size_t) MIN((uint64_t) n, p->remaining) : n;
        int r;

        r = yb_buf_append(&p->body, d, take);
        if (r == -ENOBUFS)
                return parser_fail(p, r,
                                   "the answer is more than the %zu bytes this client "
                                   "accepts",
                                   p->body.cap);
        if (r < 0)
                return parser_fail(p, r, "out of memory");
        if (counted)
                p->remaining -= take;
        return (int64_t) take;
}

int cli_http_parser_feed(CliHttpParser *p, const void *data, size_t n) {
        const uint8_t *d = data;

        while (n > 0 && p->state != P_DONE && p->state != P_ERROR) {
                int64_t k;

                switch (p->state) {
                case P_BODY_LENGTH:
                        k = feed_body(p, d, n, true);
                        if (k >= 0 && p->remaining == 0)
                                p->state = P_DONE;
                        break;
                case P_CHUNK_DATA:
                        k = feed_body(p, d, n, true);
                        if (k >= 0 && p->remaining == 0)
                                p->state = P_CHUNK_END;
                        break;
                case P_BODY_EOF:
                        k = feed_body(p, d, n, false);
                        break;
                default:
                        k = feed_line(p, d, n);
                        break;
                }
                if (k < 0)
                        return p->error;
                p->seen += (uint64_t) k;
                d += k;
                n -= (size_t) k;
        }
        if (p->state == P_ERROR)
                return p->error;
        return p->state == P_DONE;
}

int cli_http_parser_eof(CliHttpParser *p) {
        switch (p->state) {
        case P_DONE:
                return 1;
        case P_ERROR:
                return p->error;
        case P_BODY_EOF:
                p->state = P_DONE;
                return 1;
        case P_STATUS:
                if (p->seen == 0)
                        return parser_fail(p, ECONNRESET,
                                           "it closed the connection without answering");
                __attribute__((fallthrough));
        case P_HEADER:
                return parser_fail(p, ECONNRESET,
                                   "it closed the connection in the middle of the response "
                                   "headers");
        case P_BODY_LENGTH:
                return parser_fail(p, ECONNRESET,
                                   "it closed the connection after %zu of %" PRIu64 " body bytes",
                                   p->body.size, p->length);
        default:
                return parser_fail(p, ECONNRESET,
                                   "it closed the connection in the middle of a chunked body "
                                   "(after %zu bytes)",
                                   p->body.size);
        }
}

int cli_http_parser_take(CliHttpParser *p, CliHttpResponse *ret) {
        if (p->state != P_DONE)
                return -EINVAL;
        /* Room for the NUL is allowed past the cap: the cap is about what the peer sends. */
        p->body.cap = 0;
        if (yb_buf_append_u8(&p->body, 0) < 0)
                return -ENOMEM;
        *ret = (CliHttpResponse){
                .status = p->status,
                .content_type = TAKE_PTR(p->content_type),
                .chunked = p->chunked,
        };
        ret->body = (char *) yb_buf_steal(&p->body, &ret->body_size);
        ret->body_size--;
        return 0;
}

void cli_http_response_done(CliHttpResponse *r) {
        free(r->content_type);
        free(r->body);
        *r = (CliHttpResponse){ 0 };
}

/* ---- one request over a Unix socket ---- */

static int remaining_ms(int64_t deadline_usec) {
        return yb_usec_to_ms_ceil(deadline_usec - yb_monotonic_usec());
}

/* Waits for events on fd until the deadline: 0, -ETIMEDOUT, -EINTR or -errno. */
static int wait_fd(int fd, short events, int64_t deadline_usec) {
        struct pollfd pfd = { .fd = fd, .events = events };
        int ms = remaining_ms(deadline_usec), k;

        if (ms == 0)
                return -ETIMEDOUT;
        k = poll(&pfd, 1, ms);
        if (k < 0)
                return negative_errno(); /* -EINTR: a signal handler ran (Ctrl-C in --wait) */
        if (k == 0)
                return -ETIMEDOUT;
        return 0;
}

static void set_why(char *why, const char *fmt, ...) _printf_(2, 3);
static void set_why(char *why, const char *fmt, ...) {
        va_list ap;

        if (!why)
                return;
        va_start(ap, fmt);
        vsnprintf(why, CLI_HTTP_WHY_MAX, fmt, ap);
        va_end(ap);
}

static const char *fmt_ms(int ms, char buf[32]) {
        if (ms % YB_MSEC_PER_SEC == 0)
                snprintf(buf, 32, "%d s", (int) (ms / YB_MSEC_PER_SEC));
        else
                snprintf(buf, 32, "%d ms", ms);
        return buf;
}

static int connect_unix(const char *path, int64_t deadline_usec, char *why) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = -EBADF;
        int ms = remaining_ms(deadline_usec);
        struct timeval tv = { .tv_sec = ms / YB_MSEC_PER_SEC,
                              .tv_usec = (ms % YB_MSEC_PER_SEC) * YB_USEC_PER_MSEC };

        if (strlen(path) >= sizeof(sa.sun_path)) {
                set_why(why, "the path is longer than the %zu bytes a socket address holds",
                        sizeof(sa.sun_path) - 1);
                return -ENAMETOOLONG;
        }
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        /* A blocking connect to a Unix socket waits while the listener's backlog is full; the
         * send timeout bounds that wait (EAGAIN). */
        (void) setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0) {
                int r = negative_errno();

                if (r == -EINTR)
                        return r;
                if (r == -EAGAIN) {
                        set_why(why, "its listen queue stayed full");
                        return -ETIMEDOUT;
                }
                set_why(why, "%s", strerror(-r));
                return r;
        }
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
                return negative_errno();
        return TAKE_FD(fd);
}

static int send_all(int fd, const char *data, size_t n, int64_t deadline_usec) {
        while (n > 0) {
                ssize_t k = send(fd, data, n, MSG_NOSIGNAL);

                if (k < 0) {
                        int r = negative_errno();

                        if (r == -EAGAIN) {
                                r = wait_fd(fd, POLLOUT, deadline_usec);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                        return r;
                }
                data += k;
                n -= (size_t) k;
        }
        return 0;
}

int cli_http_request(const char *socket_path, const char *method, const char *target,
                     const char *body, size_t body_size, int timeout_ms, CliHttpResponse *ret,
                     char why[CLI_HTTP_WHY_MAX]) {
        _cleanup_(cli_http_parser_freep) CliHttpParser *p = NULL;
        _cleanup_close_ int fd = -EBADF;
        int64_t deadline = yb_monotonic_usec() + (int64_t) timeout_ms * YB_USEC_PER_MSEC;
        _cleanup_(yb_buf_done) YbBuf head = YB_BUF_INIT;
        bool send_failed = false;
        char buf[65536], t[32];
        int r;

        if (why)
                *why = 0;
        /* Both go into the request line as they are: no room for a space or a line break. */
        for (const char *s = method; *s; s++)
                if (!is_tchar(*s))
                        return -EINVAL;
        for (const unsigned char *s = (const unsigned char *) target; *s; s++)
                if (*s <= ' ' || *s >= 0x7f)
                        return -EINVAL;
        if (!*method || *target != '/')
                return -EINVAL;
        p = cli_http_parser_new(CLI_HTTP_BODY_MAX);
        if (!p)
                return -ENOMEM;
        fd = connect_unix(socket_path, deadline, why);
        if (fd < 0)
                return fd;
        /* Connection: close: one request per connection, so a body without a length still
         * ends, and nothing is left half-read on a kept-alive connection. */
        r = yb_buf_printf(&head,
                          "%s %s HTTP/1.1\r\nHost: yunbakd\r\nUser-Agent: yunbak/" YB_VERSION
                          "\r\nAccept: application/json\r\nConnection: close\r\n",
                          method, target);
        if (r >= 0 && body)
                r = yb_buf_printf(&head, "Content-Type: application/json\r\n");
        if (r >= 0 && (body || !streq(method, "GET")))
                r = yb_buf_printf(&head, "Content-Length: %zu\r\n", body ? body_size : 0);
        if (r >= 0)
                r = yb_buf_printf(&head, "\r\n");
        if (r < 0)
                return r;
        r = send_all(fd, (const char *) head.data, head.size, deadline);
        if (r >= 0 && body && body_size > 0)
                r = send_all(fd, body, body_size, deadline);
        if (r == -EPIPE || r == -ECONNRESET)
                /* The daemon may have answered (413) and closed before taking it all: read
                 * what it said. */
                send_failed = true;
        else if (r == -ETIMEDOUT) {
                set_why(why, "it did not take the request within %s", fmt_ms(timeout_ms, t));
                return r;
        } else if (r < 0) {
                set_why(why, "sending the request failed: %s", strerror(-r));
                return r;
        }
        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));

                if (k < 0 && errno == EAGAIN) {
                        r = wait_fd(fd, POLLIN, deadline);
                        if (r == -ETIMEDOUT) {
                                set_why(why, "it did not answer within %s", fmt_ms(timeout_ms, t));
                                return r;
                        }
                        if (r < 0)
                                return r;
                        continue;
                }
                if (k < 0 && errno == EINTR)
                        return -EINTR;
                if (k < 0) {
                        r = negative_errno();
                        if (r != -ECONNRESET) {
                                set_why(why, "reading the answer failed: %s", strerror(-r));
                                return r;
                        }
                        k = 0; /* a reset ends the stream as a close does */
                }
                if (k == 0)
                        r = cli_http_parser_eof(p);
                else
                        r = cli_http_parser_feed(p, buf, (size_t) k);
                if (r < 0) {
                        if (send_failed && r == -ECONNRESET && p->seen == 0)
                                set_why(why, "it closed the connection while the request was "
                                             "being sent");
                        else
                                set_why(why, "%s", cli_http_parser_why(p));
                        return r;
                }
                if (r > 0)
                        break;
        }
        return cli_http_parser_take(p, ret);
}
