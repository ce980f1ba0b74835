/* The yunbakd client (cli/http-client.c, cli/ctl.c): HTTP responses as a server really sends them
 * over a Unix socket (a thread in this test that writes scripted bytes, and libmicrohttpd itself),
 * and the parser fed in pieces of every size. */
#include <microhttpd.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "cli/ctl.h"
#include "cli/http-client.h"
#include "cli/output.h"
#include "core/base/exitcode.h"
#include "core/base/timeutil.h"
#include "orchestrator/httpd.h"
#include "tests/unit/test.h"

#define T_MS 10000 /* a generous deadline for answers that do come */

/* A server for one connection: reads the request (head and Content-Length body), writes
 * response in pieces of piece bytes (0: at once), then closes, or with hold waits for the client
 * to close first. */
typedef struct Server {
        TestTmpdir *dir;
        char *path;
        int fd;
        pthread_t thread;
        const char *response;
        size_t response_size, piece;
        bool hold, joined;
        YbBuf request;
} Server;

static void read_request(int fd, YbBuf *req) {
        char buf[4096];
        size_t want = SIZE_MAX;

        while (req->size < want) {
                ssize_t k = read(fd, buf, sizeof(buf));
                const char *end;

                if (k <= 0)
                        return;
                assert_true(yb_buf_append(req, buf, (size_t) k) >= 0);
                assert_true(yb_buf_append_u8(req, 0) >= 0); /* for strstr, not counted */
                req->size--;
                end = strstr((const char *) req->data, "\r\n\r\n");
                if (end && want == SIZE_MAX) {
                        const char *cl = strcasestr((const char *) req->data, "Content-Length:");

                        want = (size_t) (end + 4 - (const char *) req->data);
                        if (cl && cl < end)
                                want += strtoul(cl + 15, NULL, 10);
                }
        }
}

static void *serve(void *userdata) {
        Server *s = userdata;
        _cleanup_close_ int c = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
        size_t off = 0;

        if (c < 0)
                return NULL;
        read_request(c, &s->request);
        while (off < s->response_size) {
                size_t n =
                        s->piece ? MIN(s->piece, s->response_size - off) : s->response_size - off;
                ssize_t k = send(c, s->response + off, n, MSG_NOSIGNAL);

                if (k <= 0)
                        return NULL;
                off += (size_t) k;
        }
        if (s->hold) {
                char b;

                while (read(c, &b, 1) > 0)
                        ;
        }
        return NULL;
}

static Server *server_start(const char *response, size_t size, size_t piece, bool hold) {
        Server *s = new0(Server, 1);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        assert_non_null(s);
        s->dir = test_tmpdir_new();
        s->path = test_tmpdir_path(s->dir, "yunbakd.sock");
        s->response = response;
        s->response_size = size;
        s->piece = piece;
        s->hold = hold;
        strcpy(sa.sun_path, s->path);
        s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(s->fd >= 0);
        ASSERT_OK(bind(s->fd, (struct sockaddr *) &sa, sizeof(sa)));
        ASSERT_OK(listen(s->fd, 4));
        ASSERT_EQ(pthread_create(&s->thread, NULL, serve, s), 0);
        return s;
}

/* Waits for the server to finish its connection; its request is then complete. */
static const char *server_join(Server *s) {
        if (!s->joined) {
                /* Wakes an accept() that never got a client. */
                shutdown(s->fd, SHUT_RDWR);
                pthread_join(s->thread, NULL);
                s->joined = true;
        }
        return s->request.data ? (const char *) s->request.data : "";
}

static void server_stop(Server *s) {
        server_join(s);
        safe_close(s->fd);
        yb_buf_done(&s->request);
        free(s->path);
        test_tmpdir_free(s->dir);
        free(s);
}
DEFINE_FREEP(Server, server_stop);

#define SERVE(text, piece, hold) server_start((text), sizeof(text) - 1, (piece), (hold))

/* One GET against a scripted answer: the result of cli_http_request. */
static int get(Server *s, CliHttpResponse *resp, char why[CLI_HTTP_WHY_MAX]) {
        return cli_http_request(s->path, "GET", "/v1/status", NULL, 0, T_MS, resp, why);
}

TEST(content_length_body) {
        static const char text[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                   "content-length:  12 \r\n\r\n{\"ok\": true}";
        _cleanup_(server_stopp) Server *s = SERVE(text, 0, false);
        _cleanup_(cli_http_response_done) CliHttpResponse r = { 0 };
        const char *req;

        ASSERT_OK(get(s, &r, NULL));
        ASSERT_EQ(r.status, 200);
        ASSERT_STREQ(r.body, "{\"ok\": true}");
        ASSERT_EQ(r.body_size, 12);
        ASSERT_STREQ(r.content_type, "application/json");
        ASSERT_FALSE(r.chunked);
        req = server_join(s);
        if (strncmp(req, "GET /v1/status HTTP/1.1\r\n", 25) != 0 || strstr(req, "Content-Length") ||
            !strstr(req, "\r\nConnection: close\r\n") || !strstr(req, "\r\nHost: yunbakd\r\n"))
                fail_msg("unexpected request: %s", req);
}

TEST(post_sends_content_length) {
        static const char text[] = "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}";
        _cleanup_(server_stopp) Server *s1 = SERVE(text, 0, false);
        _cleanup_(server_stopp) Server *s2 = SERVE(text, 0, false);
        _cleanup_(cli_http_response_done) CliHttpResponse r1 = { 0 }, r2 = { 0 };
        const char *req;

        ASSERT_OK(cli_http_request(s1->path, "POST", "/v1/systems/hr-portal/backup",
                                   "{\"level\":\"full\"}", 16, T_MS, &r1, NULL));
        ASSERT_EQ(r1.status, 202);
        ASSERT_STREQ(r1.body, "{}");
        req = server_join(s1);
        if (strncmp(req, "POST /v1/systems/hr-portal/backup HTTP/1.1\r\n", 44) != 0 ||
            !strstr(req, "\r\nContent-Length: 16\r\n") ||
            !strstr(req, "\r\nContent-Type: application/json\r\n") ||
            !strstr(req, "\r\n\r\n{\"level\":\"full\"}"))
                fail_msg("unexpected request: %s", req);

        /* A POST without a body still says Content-Length: 0. */
        ASSERT_OK(cli_http_request(s2->path, "POST", "/v1/catalog/rebuild", NULL, 0, T_MS, &r2,
                                   NULL));
        req = server_join(s2);
        if (!strstr(req, "\r\nContent-Length: 0\r\n") || strstr(req, "Content-Type"))
                fail_msg("unexpected request: %s", req);
}

TEST(content_length_ends_the_body_not_the_close) {
        /* The server keeps the connection open: the client must stop at Content-Length. */
        static const char text[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        _cleanup_(server_stopp) Server *s = SERVE(text, 1, true);
        _cleanup_(cli_http_response_done) CliHttpResponse r = { 0 };

        ASSERT_OK(get(s, &r, NULL));
        ASSERT_STREQ(r.body, "hello");
}

TEST(chunked_body) {
        /* Extensions, upper-case hex, a chunk that holds CRLF, trailers, bare LF line ends;
         * written in pieces of 1, 2, 3, 7 bytes and at once. */
        static const char text[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                                   "Content-Type: application/json\r\n\r\n"
                                   "4\r\n{\"a\"\r\n"
                                   "A;name=value\r\n: \"\r\n\n12\"}\r\n"
                                   "1 \n\n\n"
                                   "0\r\nX-Trailer: yes\r\n\r\n";
        static const char want[] = "{\"a\": \"\r\n\n12\"}\n";
        static const size_t pieces[] = { 1, 2, 3, 7, 0 };

        for (size_t i = 0; i < ELEMENTSOF(pieces); i++) {
                _cleanup_(server_stopp) Server *s = SERVE(text, pieces[i], true);
                _cleanup_(cli_http_response_done) CliHttpResponse r = { 0 };

                ASSERT_OK(get(s, &r, NULL));
                ASSERT_EQ(r.status, 200);
                ASSERT_TRUE(r.chunked);
                ASSERT_EQ(r.body_size, sizeof(want) - 1);
                ASSERT_MEMEQ(r.body, want, sizeof(want));
        }
}

TEST(large_chunked_body) {
        static const size_t sizes[] = { 1, 2, 3, 7, 4096, 65536, 100000, 65535 };
        _cleanup_(yb_buf_done) YbBuf text = YB_BUF_INIT;
        _cleanup_free_ uint8_t *data = NULL;
        _cleanup_(server_stopp) Server *s = NULL;
        _cleanup_(cli_http_response_done) CliHttpResponse r = { 0 };
        size_t total = 0, off = 0;

        for (size_t i = 0; i < ELEMENTSOF(sizes); i++)
                total += sizes[i];
        data = malloc(total);
        assert_non_null(data);
        test_fill_random(data, total, 7);
        ASSERT_OK(yb_buf_printf(&text, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"));
        for (size_t i = 0; i < ELEMENTSOF(sizes); i++) {
                ASSERT_OK(yb_buf_printf(&text, "%zx\r\n", sizes[i]));
                ASSERT_OK(yb_buf_append(&text, data + off, sizes[i]));
                ASSERT_OK(yb_buf_printf(&text, "\r\n"));
                off += sizes[i];
        }
        ASSERT_OK(yb_buf_printf(&text, "0\r\n\r\n"));
        s = server_start((const char *) text.data, text.size, 0, false);
        ASSERT_OK(get(s, &r, NULL));
        ASSERT_EQ(r.body_size, total);
        ASSERT_MEMEQ(r.body, data, total);
        ASSERT_EQ(r.body[total], 0);
}

TEST(body_until_close) {
        static const char text[] = "HTTP/1.0 500 Internal Server Error\r\n\r\n{\"error\": \"x\"}";
        _cleanup_(server_stopp) Server *s = SERVE(text, 3, false);
        _cleanup_(cli_http_response_done) CliHttpResponse r = { 0 };

        ASSERT_OK(get(s, &r, NULL));
        ASSERT_EQ(r.status, 500);
        ASSERT_STREQ(r.body, "{\"error\": \"x\"}");
        ASSERT_TRUE(r.content_type == NULL);
}

TEST(interim_response_skipped_and_no_content) {
        static const char text[] = "HTTP/1.1 100 Continue\r\n\r\n"
                                   "HTTP/1.1 204 No Content\r\nContent-Type: text/plain\r\n\r\n";
        /* hold: a 204 ends at its head, without waiting for the close. */
        _cleanup_(server_stopp) Server *s = SERVE(text, 2, true);
        _cleanup_(cli_http_response_done) CliHttpResponse r = { 0 };

        ASSERT_OK(get(s, &r, NULL));
        ASSERT_EQ(r.status, 204);
        ASSERT_EQ(r.body_size, 0);
        ASSERT_STREQ(r.body, "");
        ASSERT_STREQ(r.content_type, "text/plain");
}

/* The error and the words of a GET against text, with why also checked for substring. */
static void expect_failure(const char *text, size_t size, int error, const char *substring) {
        _cleanup_(server_stopp) Server *s = server_start(text, size, 0, false);
        CliHttpResponse r = { 0 };
        char why[CLI_HTTP_WHY_MAX];
        int k = get(s, &r, why);

        if (k != -error || !strstr(why, substring))
                fail_msg("for %.60s: got %d (%s) '%s', expected -%d '%s'", text, k,
                         k < 0 ? strerror(-k) : "ok", why, error, substring);
        ASSERT_TRUE(r.body == NULL);
}
#define EXPECT_FAILURE(text, error, substring)                                                     \
        expect_failure((text), sizeof(text) - 1, (error), (substring))

TEST(truncated_answers) {
        EXPECT_FAILURE("", ECONNRESET, "without answering");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nContent-Le", ECONNRESET, "middle of the response head");
        EXPECT_FAILURE("HTTP/1.1 2", ECONNRESET, "middle of the response head");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello", ECONNRESET,
                       "after 5 of 100 body bytes");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
                       ECONNRESET, "middle of a chunked body (after 5 bytes)");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", ECONNRESET,
                       "chunked body");
        /* The last chunk without the empty line that ends the trailers. */
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", ECONNRESET,
                       "chunked body");
}

TEST(malformed_answers) {
        EXPECT_FAILURE("SSH-2.0-OpenSSH_9.2p1\r\n", EPROTO,
                       "not an HTTP response (it starts with 'SSH-2.0-OpenSSH_9.2p1')");
        EXPECT_FAILURE("\x1b[31mHTTP/1.1 200 OK\r\n", EPROTO, "starts with '?[31mHTTP");
        EXPECT_FAILURE("HTTP/2.0 200 OK\r\n\r\n", EPROTO, "unsupported HTTP version");
        EXPECT_FAILURE("HTTP/1.1 20 OK\r\n\r\n", EPROTO, "bad status code");
        EXPECT_FAILURE("HTTP/1.1 2000 OK\r\n\r\n", EPROTO, "bad status code");
        EXPECT_FAILURE("HTTP/1.1 099 Odd\r\n\r\n", EPROTO, "out of range");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", EPROTO,
                       "malformed header line 'No colon here'");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nBad name: x\r\n\r\n", EPROTO, "malformed header name");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\n: empty name\r\n\r\n", EPROTO, "malformed header line");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n", EPROTO, "folded header");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n", EPROTO,
                       "Content-Length '12x' is not a byte count");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", EPROTO,
                       "is not a byte count");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n", EPROTO,
                       "is not a byte count");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab",
                       EPROTO, "two different Content-Length");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", EPROTO,
                       "unsupported Transfer-Encoding 'gzip, chunked'");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", EPROTO,
                       "malformed chunk size line 'zz'");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", EPROTO,
                       "malformed chunk size line");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "fffffffffffffffff\r\n",
                       EPROTO, "too large");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n", EPROTO,
                       "longer than its size line says");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n", EPROTO, "NUL byte");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\0\r\n", EPROTO,
                       "NUL byte in a header or chunk line");
}

TEST(oversized_answers) {
        _cleanup_(yb_buf_done) YbBuf big = YB_BUF_INIT;

        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nContent-Length: 67108865\r\n\r\n", ENOBUFS,
                       "is 67108865 bytes, more than the 67108864");
        EXPECT_FAILURE("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4000001\r\n", ENOBUFS,
                       "more than the 67108864 bytes");
        ASSERT_OK(yb_buf_printf(&big, "HTTP/1.1 200 OK\r\nX-Big: "));
        while (big.size <= CLI_HTTP_HEAD_MAX)
                ASSERT_OK(yb_buf_printf(&big, "0123456789abcdef"));
        ASSERT_OK(yb_buf_printf(&big, "\r\n\r\n"));
        expect_failure((const char *) big.data, big.size, ENOBUFS,
                       "headers are longer than 65536 bytes");
}

TEST(no_answer_times_out) {
        /* The server reads the request and says nothing until the client gives up. */
        _cleanup_(server_stopp) Server *s = server_start("", 0, 0, true);
        CliHttpResponse r = { 0 };
        char why[CLI_HTTP_WHY_MAX];
        int64_t t0 = yb_monotonic_ns();

        ASSERT_ERR(cli_http_request(s->path, "GET", "/v1/status", NULL, 0, 300, &r, why),
                   ETIMEDOUT);
        ASSERT_GE(yb_monotonic_ns() - t0, 300 * 1000000LL);
        ASSERT_STREQ(why, "it did not answer within 300 ms");
}

TEST(connect_failures) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *missing = test_tmpdir_path(d, "missing.sock");
        _cleanup_free_ char *dead = test_tmpdir_path(d, "dead.sock");
        _cleanup_free_ char *file = test_tmpdir_path(d, "file");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        CliHttpResponse r = { 0 };
        char why[CLI_HTTP_WHY_MAX], long_path[200];
        int fd;

        ASSERT_ERR(cli_http_request(missing, "GET", "/", NULL, 0, T_MS, &r, why), ENOENT);
        ASSERT_STREQ(why, strerror(ENOENT));
        /* A socket file nobody listens on (a daemon that died), and a file that is none. */
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(fd >= 0);
        strcpy(sa.sun_path, dead);
        ASSERT_OK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)));
        safe_close(fd);
        ASSERT_ERR(cli_http_request(dead, "GET", "/", NULL, 0, T_MS, &r, why), ECONNREFUSED);
        test_write_file(d->fd, "file", "x", 1);
        ASSERT_ERR(cli_http_request(file, "GET", "/", NULL, 0, T_MS, &r, why), ECONNREFUSED);
        memset(long_path, 'a', sizeof(long_path) - 1);
        long_path[0] = '/';
        long_path[sizeof(long_path) - 1] = 0;
        ASSERT_ERR(cli_http_request(long_path, "GET", "/", NULL, 0, T_MS, &r, why), ENAMETOOLONG);
        if (!strstr(why, "longer than the 107 bytes"))
                fail_msg("why: %s", why);
        /* Nothing can be smuggled into the request line. */
        ASSERT_ERR(cli_http_request(missing, "GET", "/x HTTP/1.1\r\nX-Evil: 1", NULL, 0, T_MS, &r,
                                    why),
                   EINVAL);
        ASSERT_ERR(cli_http_request(missing, "GET /", "/", NULL, 0, T_MS, &r, why), EINVAL);
        ASSERT_ERR(cli_http_request(missing, "GET", "v1/status", NULL, 0, T_MS, &r, why), EINVAL);
        ASSERT_TRUE(r.body == NULL);
}

/* The parser on its own, fed in every piece size: the same response each time. */
static void parse_in_pieces(const char *text, size_t size, const char *want_body, int want_status) {
        static const size_t pieces[] = { 1, 2, 3, 7, 64, SIZE_MAX };

        for (size_t i = 0; i < ELEMENTSOF(pieces); i++) {
                _cleanup_(cli_http_parser_freep) CliHttpParser *p = cli_http_parser_new(1024);
                _cleanup_(cli_http_response_done) CliHttpResponse r = { 0 };
                size_t off = 0;
                int k = 0;

                assert_non_null(p);
                while (off < size && k == 0) {
                        size_t n = MIN(pieces[i], size - off);

                        k = cli_http_parser_feed(p, text + off, n);
                        off += n;
                }
                if (k == 0)
                        k = cli_http_parser_eof(p);
                if (k != 1)
                        fail_msg("piece %zu: %d %s", pieces[i], k, cli_http_parser_why(p));
                ASSERT_OK(cli_http_parser_take(p, &r));
                ASSERT_EQ(r.status, want_status);
                ASSERT_STREQ(r.body, want_body);
        }
}
#define PARSE_IN_PIECES(text, body, status)                                                        \
        parse_in_pieces((text), sizeof(text) - 1, (body), (status))

TEST(parser_pieces) {
        PARSE_IN_PIECES("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world", "hello world",
                        200);
        PARSE_IN_PIECES("HTTP/1.1 404 Not Found\nTransfer-Encoding: chunked\n\n"
                        "3\nabc\n2;x=y\nde\n0\n\n",
                        "abcde", 404);
        /* Transfer-Encoding wins over Content-Length. */
        PARSE_IN_PIECES("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: Chunked"
                        "\r\n\r\n1\r\nx\r\n0\r\n\r\n",
                        "x", 200);
        PARSE_IN_PIECES("HTTP/1.0 200 OK\r\n\r\nuntil the end", "until the end", 200);
        PARSE_IN_PIECES("HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\n\r\n", "", 409);
}

TEST(parser_ignores_bytes_after_the_response_and_sticks_to_errors) {
        _cleanup_(cli_http_parser_freep) CliHttpParser *p = cli_http_parser_new(1024);
        _cleanup_(cli_http_parser_freep) CliHttpParser *q = cli_http_parser_new(4);
        static const char two[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 500";
        CliHttpResponse r = { 0 };

        ASSERT_EQ(cli_http_parser_feed(p, two, sizeof(two) - 1), 1);
        ASSERT_EQ(cli_http_parser_eof(p), 1);
        ASSERT_OK(cli_http_parser_take(p, &r));
        ASSERT_STREQ(r.body, "ok");
        cli_http_response_done(&r);

        /* A 4-byte cap: a 5-byte body that arrives without a length is refused as it comes. */
        ASSERT_EQ(cli_http_parser_feed(q, "HTTP/1.1 200 OK\r\n\r\nabc", 22), 0);
        ASSERT_ERR(cli_http_parser_feed(q, "de", 2), ENOBUFS);
        ASSERT_ERR(cli_http_parser_feed(q, "HTTP", 4), ENOBUFS);
        ASSERT_ERR(cli_http_parser_eof(q), ENOBUFS);
        ASSERT_ERR(cli_http_parser_take(q, &r), EINVAL);
}

/* yunbakd's own HTTP server (libmicrohttpd through orchestrator/httpd.c). */
static void api(void *userdata, const YbHttpRequest *req, YbHttpResponse *resp) {
        if (streq(req->path, "/v1/denied")) {
                yb_http_error(resp, 403, "uid %u is not a person of yunbakd.yaml",
                              (unsigned) req->uid);
                return;
        }
        if (streq(req->path, "/v1/busy")) {
                resp->status = 409;
                resp->body = strdup("{\"error\": \"a job is running\", \"job\": 17}");
                return;
        }
        if (streq(req->path, "/v1/text")) {
                resp->body = strdup("plain words");
                resp->content_type = "text/plain";
                return;
        }
        if (streq(req->path, "/v1/array")) {
                resp->body = strdup("[1, 2]");
                return;
        }
        if (streq(req->path, "/v1/big")) {
                /* Larger than any one read: 3 MiB of JSON. */
                size_t n = 3 * 1024 * 1024;
                char *b = malloc(n + 16);

                assert_non_null(b);
                strcpy(b, "{\"s\": \"");
                memset(b + 7, 'x', n);
                strcpy(b + 7 + n, "\"}");
                resp->body = b;
                return;
        }
        json_t *o = json_pack("{s:s, s:I, s:s}", "method", req->method, "uid",
                              (json_int_t) req->uid, "body", req->body);

        assert_non_null(o);
        resp->body = json_dumps(o, JSON_COMPACT);
        json_decref(o);
}

TEST(against_yunbakd_httpd) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *sock = test_tmpdir_path(d, "yunbakd.sock");
        _cleanup_(yb_httpd_stopp) YbHttpd *h = NULL;
        CliCtl c;
        json_t *j = NULL, *body = json_pack("{s:s}", "level", "full");
        int status;
        int64_t uid = -1;

        ASSERT_OK(yb_httpd_start_unix(sock, 0600, (gid_t) -1, NULL, api, NULL, &h));
        cli_ctl_init(&c, sock);
        ASSERT_EQ(cli_ctl_call(&c, "POST", "/v1/echo", body, &j), 0);
        ASSERT_STREQ(cli_json_str(j, "method"), "POST");
        ASSERT_STREQ(cli_json_str(j, "body"), "{\"level\":\"full\"}");
        ASSERT_TRUE(cli_json_int(j, "uid", &uid));
        ASSERT_EQ(uid, getuid());
        ASSERT_TRUE(cli_json_str(j, "missing") == NULL);
        ASSERT_FALSE(cli_json_int(j, "method", &uid)); /* a string, not an integer */
        json_decref(j);
        json_decref(body);

        ASSERT_EQ(cli_ctl_call(&c, "GET", "/v1/big", NULL, &j), 0);
        ASSERT_EQ(strlen(cli_json_str(j, "s")), 3 * 1024 * 1024);
        json_decref(j);

        /* Errors: the exit codes of docs/cli.md. */
        ASSERT_EQ(cli_ctl_call(&c, "GET", "/v1/denied", NULL, &j), YB_EXIT_KEY);
        ASSERT_EQ(cli_ctl_call(&c, "POST", "/v1/busy", NULL, &j), YB_EXIT_BUSY);
        ASSERT_EQ(cli_ctl_call(&c, "GET", "/v1/text", NULL, &j), YB_EXIT_FAILED);
        ASSERT_EQ(cli_ctl_call(&c, "GET", "/v1/array", NULL, &j), YB_EXIT_FAILED);
        /* cli_ctl_request hands over the JSON of an error, for callers that use it. */
        ASSERT_EQ(cli_ctl_request(&c, "POST", "/v1/busy", NULL, &status, &j), 0);
        ASSERT_EQ(status, 409);
        ASSERT_TRUE(cli_json_int(j, "job", &uid));
        ASSERT_EQ(uid, 17);
        json_decref(j);

        h = yb_httpd_stop(h); /* removes the socket: the daemon is gone */
        ASSERT_EQ(cli_ctl_call(&c, "GET", "/v1/status", NULL, &j), YB_EXIT_UNREACHABLE);
        c.quiet = true;
        ASSERT_EQ(cli_ctl_call(&c, "GET", "/v1/status", NULL, &j), YB_EXIT_UNREACHABLE);
}

TEST(ctl_exit_codes_and_socket_choice) {
        CliCtl c;

        ASSERT_EQ(cli_ctl_exit_code(200), 0);
        ASSERT_EQ(cli_ctl_exit_code(202), 0);
        ASSERT_EQ(cli_ctl_exit_code(400), YB_EXIT_USAGE);
        ASSERT_EQ(cli_ctl_exit_code(403), YB_EXIT_KEY);
        ASSERT_EQ(cli_ctl_exit_code(404), YB_EXIT_FAILED);
        ASSERT_EQ(cli_ctl_exit_code(409), YB_EXIT_BUSY);
        ASSERT_EQ(cli_ctl_exit_code(500), YB_EXIT_FAILED);

        ASSERT_OK(setenv("YUNBAK_SOCKET", "/tmp/env.sock", 1));
        cli_ctl_init(&c, NULL);
        ASSERT_STREQ(c.socket, "/tmp/env.sock");
        cli_ctl_init(&c, "/tmp/opt.sock");
        ASSERT_STREQ(c.socket, "/tmp/opt.sock");
        ASSERT_OK(unsetenv("YUNBAK_SOCKET"));
        cli_ctl_init(&c, NULL);
        ASSERT_STREQ(c.socket, "/run/yunbak/yunbakd.sock");
        ASSERT_EQ(c.timeout_ms, CLI_CTL_TIMEOUT_MS);
}

/* libmicrohttpd with a response of unknown length, sent in chunks of 3 bytes. */
static ssize_t produce(void *cls, uint64_t pos, char *buf, size_t max) {
        static const char text[] = "{\"n\": 123456789}";

        if (pos >= sizeof(text) - 1)
                return MHD_CONTENT_READER_END_OF_STREAM;
        /* Three bytes at a time: many chunks. */
        max = MIN(max, MIN((size_t) 3, sizeof(text) - 1 - (size_t) pos));
        memcpy(buf, text + pos, max);
        return (ssize_t) max;
}

static enum MHD_Result on_stream(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
        struct MHD_Response *r;
        enum MHD_Result ret;

        if (!*con_cls) {
                *con_cls = conn;
                return MHD_YES;
        }
        r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16, produce, NULL, NULL);
        ret = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        return ret;
}

TEST(libmicrohttpd_stream_of_unknown_length) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *sock = test_tmpdir_path(d, "mhd.sock");
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        CliHttpResponse r = { 0 };
        struct MHD_Daemon *mhd;
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        strcpy(sa.sun_path, sock);
        ASSERT_OK(bind(fd, (struct sockaddr *) &sa, sizeof(sa)));
        ASSERT_OK(listen(fd, 4));
        mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL, 0, NULL, NULL,
                               on_stream, NULL, MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_END);
        assert_non_null(mhd);
        ASSERT_OK(cli_http_request(sock, "GET", "/stream", NULL, 0, T_MS, &r, NULL));
        MHD_stop_daemon(mhd);
        ASSERT_EQ(r.status, 200);
        ASSERT_STREQ(r.body, "{\"n\": 123456789}");
        /* libmicrohttpd 0.9.75 chunks a body of unknown length even for "Connection: close":
         * this is the chunked path against the real library. */
        ASSERT_TRUE(r.chunked);
        cli_http_response_done(&r);
}

TEST(helpers) {
        _cleanup_free_ char *e = cli_url_escape("hr portal/ä?&=~-._");
        _cleanup_free_ char *s = cli_sanitize("a\x1b[2Jb\n\xc2\x9b"
                                              "c\xe4\xba\xba");
        char b[32];

        ASSERT_STREQ(e, "hr%20portal%2F%C3%A4%3F%26%3D~-._");
        ASSERT_STREQ(s, "a?[2Jb???c\xe4\xba\xba");
        ASSERT_EQ(cli_display_width("hr-portal"), 9);
        ASSERT_EQ(cli_display_width("人力资源门户"), 12);
        ASSERT_EQ(cli_display_width("ä"), 1);
        ASSERT_EQ(cli_display_width("\xff\xe4"), 2); /* broken UTF-8 still counts */
        ASSERT_STREQ(cli_format_duration(-5, b), "0 s");
        ASSERT_STREQ(cli_format_duration(89 * 1000000LL, b), "89 s");
        ASSERT_STREQ(cli_format_duration(90 * 1000000LL, b), "2 min");
        ASSERT_STREQ(cli_format_duration(3 * 3600 * 1000000LL, b), "3 h");
        ASSERT_STREQ(cli_format_duration(47 * 3600 * 1000000LL, b), "47 h");
        ASSERT_STREQ(cli_format_duration(72 * 3600 * 1000000LL, b), "3 d");
        ASSERT_STREQ(cli_format_time(1795000000000000LL, b), "2026-11-18 11:06:40");
        ASSERT_STREQ(cli_format_time(-1, b), "?");
        ASSERT_STREQ(cli_format_time(INT64_MAX, b), "?");
}

TEST(table_aligns_wide_characters) {
        _cleanup_(cli_table_freep) CliTable *t = cli_table_new(3, "ID", "NAME", "LAST");
        _cleanup_free_ char *out = NULL;
        size_t n = 0;
        FILE *f = open_memstream(&out, &n);

        assert_non_null(t);
        assert_non_null(f);
        ASSERT_OK(cli_table_add(t, "hr-portal", "人力资源门户", "ok"));
        ASSERT_OK(cli_table_add(t, "x", NULL, "evil\x1b]0;title\x07"));
        ASSERT_EQ(cli_table_rows(t), 2);
        cli_table_print(t, f);
        fclose(f);
        ASSERT_STREQ(out, "ID         NAME          LAST\n"
                          "hr-portal  人力资源门户  ok\n"
                          "x          -             evil?]0;title?\n");
}

/* The head cap counts every byte once, however the head arrives: a head of exactly
 * CLI_HTTP_HEAD_MAX bytes is taken, one more byte is refused. */
TEST(head_cap_is_exact_in_any_pieces) {
        static const size_t pieces[] = { 1, 7, 4096, SIZE_MAX };

        for (size_t extra = 0; extra <= 1; extra++)
                for (size_t i = 0; i < ELEMENTSOF(pieces); i++) {
                        _cleanup_(cli_http_parser_freep) CliHttpParser *p = cli_http_parser_new(16);
                        _cleanup_(yb_buf_done) YbBuf t = YB_BUF_INIT;
                        size_t off = 0, head;
                        int k = 0;

                        ASSERT_OK(yb_buf_printf(&t, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX: "));
                        head = CLI_HTTP_HEAD_MAX + extra - 4; /* the value ends "\r\n\r\n" */
                        while (t.size < head)
                                ASSERT_OK(yb_buf_append_u8(&t, 'v'));
                        ASSERT_OK(yb_buf_printf(&t, "\r\n\r\nok"));
                        while (off < t.size && k == 0) {
                                size_t n = MIN(pieces[i], t.size - off);

                                k = cli_http_parser_feed(p, t.data + off, n);
                                off += n;
                        }
                        if (extra == 0 && k != 1)
                                fail_msg("piece %zu: %d %s", pieces[i], k, cli_http_parser_why(p));
                        if (extra == 1 && k != -ENOBUFS)
                                fail_msg("piece %zu: %d, expected -ENOBUFS", pieces[i], k);
                }
}
