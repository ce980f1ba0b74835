#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "orchestrator/httpd.h"
#include "tests/unit/test.h"

static void echo(void *ud, const YbHttpRequest *req, YbHttpResponse *resp) {
        int *calls = ud;

        (*calls)++;
        if (streq(req->path, "/fail")) {
                yb_http_error(resp, 403, "no access for uid %u", (unsigned) req->uid);
                return;
        }
        assert_true(asprintf(&resp->body,
                             "{\"method\":\"%s\",\"path\":\"%s\",\"uid\":%d,"
                             "\"peer\":%s,\"body\":%zu,\"q\":\"%s\"}",
                             req->method, req->path, (int) req->uid,
                             req->has_peer ? "true" : "false", req->body_size,
                             yb_http_query(req, "q") ?: "") > 0);
}

/* Sends one raw HTTP/1.0 request on the Unix socket and returns the whole response. */
static char *request(const char *sock, const char *raw, size_t raw_size) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        YbBuf out = YB_BUF_INIT;
        char buf[4096];
        ssize_t k;

        assert_true(fd >= 0);
        strcpy(sa.sun_path, sock);
        ASSERT_OK(connect(fd, (struct sockaddr *) &sa, sizeof(sa)));
        assert_true(write(fd, raw, raw_size) == (ssize_t) raw_size);
        while ((k = read(fd, buf, sizeof(buf))) > 0)
                ASSERT_OK(yb_buf_append(&out, buf, (size_t) k));
        ASSERT_OK(yb_buf_append_u8(&out, 0));
        return (char *) yb_buf_steal(&out, NULL);
}

TEST(unix_socket_gives_peer_uid) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_httpd_stopp) YbHttpd *h = NULL;
        _cleanup_free_ char *sock = NULL, *resp = NULL, *want = NULL;
        int calls = 0;

        assert_true(asprintf(&sock, "%s/api.sock", d->path) > 0);
        ASSERT_OK(yb_httpd_start_unix(sock, 0666, (gid_t) -1, NULL, echo, &calls, &h));
        resp = request(sock, "GET /v1/status?q=x HTTP/1.0\r\n\r\n", 31);
        assert_true(asprintf(&want, "\"uid\":%d,\"peer\":true", (int) getuid()) > 0);
        if (!strstr(resp, "200 OK") || !strstr(resp, want) || !strstr(resp, "\"q\":\"x\"") ||
            !strstr(resp, "\"path\":\"/v1/status\""))
                fail_msg("unexpected response: %s", resp);
        ASSERT_EQ(calls, 1);
}

TEST(post_body_and_errors) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_httpd_stopp) YbHttpd *h = NULL;
        _cleanup_free_ char *sock = NULL, *r1 = NULL, *r2 = NULL;
        static const char post[] = "POST /v1/backup HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello";
        static const char fail[] = "GET /fail HTTP/1.0\r\n\r\n";
        int calls = 0;

        assert_true(asprintf(&sock, "%s/api.sock", d->path) > 0);
        ASSERT_OK(yb_httpd_start_unix(sock, 0600, (gid_t) -1, NULL, echo, &calls, &h));
        r1 = request(sock, post, sizeof(post) - 1);
        if (!strstr(r1, "\"body\":5") || !strstr(r1, "\"method\":\"POST\""))
                fail_msg("unexpected response: %s", r1);
        r2 = request(sock, fail, sizeof(fail) - 1);
        if (!strstr(r2, "403") || !strstr(r2, "{\"error\":\"no access for uid") ||
            !strstr(r2, "application/json"))
                fail_msg("unexpected response: %s", r2);
}

TEST(too_big_body_refused) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_httpd_stopp) YbHttpd *h = NULL;
        _cleanup_free_ char *sock = NULL, *raw = NULL, *resp = NULL;
        size_t n = YB_HTTP_BODY_MAX + 10, head;
        int calls = 0;

        assert_true(asprintf(&sock, "%s/api.sock", d->path) > 0);
        ASSERT_OK(yb_httpd_start_unix(sock, 0600, (gid_t) -1, NULL, echo, &calls, &h));
        raw = malloc(n + 128);
        assert_non_null(raw);
        head = (size_t) sprintf(raw, "POST /x HTTP/1.0\r\nContent-Length: %zu\r\n\r\n", n);
        memset(raw + head, 'a', n);
        resp = request(sock, raw, head + n);
        if (!strstr(resp, "413"))
                fail_msg("unexpected response: %.200s", resp);
        ASSERT_EQ(calls, 0);
}

typedef struct Gate {
        bool admit;
        unsigned refused, reports;
} Gate;

static bool gate_admit(void *ud, uid_t uid) {
        return ((Gate *) ud)->admit;
}

static void gate_refused(void *ud, uid_t uid, unsigned count, int64_t minute_usec) {
        Gate *g = ud;

        ASSERT_EQ(uid, getuid());
        ASSERT_EQ(minute_usec % (60 * 1000000LL), 0);
        g->refused += count;
        g->reports++;
}

static int connect_to(const char *sock) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        strcpy(sa.sun_path, sock);
        ASSERT_OK(connect(fd, (struct sockaddr *) &sa, sizeof(sa)));
        return fd;
}

/* A uid the gate does not admit is answered 403 without its request reaching the handler, and
 * its refusals are reported as a count, at stop at the latest. */
TEST(unknown_uid_refused_and_counted) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ char *sock = NULL, *r1 = NULL, *r2 = NULL;
        Gate g = { .admit = false };
        YbHttpGate gate = { gate_admit, gate_refused, &g };
        YbHttpd *h = NULL;
        int calls = 0;

        assert_true(asprintf(&sock, "%s/api.sock", d->path) > 0);
        ASSERT_OK(yb_httpd_start_unix(sock, 0600, (gid_t) -1, &gate, echo, &calls, &h));
        r1 = request(sock, "GET /v1/status HTTP/1.0\r\n\r\n", 28);
        r2 = request(sock, "GET /v1/status HTTP/1.0\r\n\r\n", 28);
        if (!strstr(r1, "403") || !strstr(r1, "is not one of the people") || !strstr(r2, "403"))
                fail_msg("unexpected responses: %s / %s", r1, r2);
        ASSERT_EQ(calls, 0);
        h = yb_httpd_stop(h);
        ASSERT_EQ(g.refused, 2);
        assert_true(g.reports >= 1 && g.reports <= 2); /* 2 if a minute began in between */
}

/* One uid holds at most YB_HTTP_MAX_PER_UID connections: the next is answered 503 at once. */
TEST(connections_per_uid_bounded) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_httpd_stopp) YbHttpd *h = NULL;
        _cleanup_free_ char *sock = NULL, *resp = NULL;
        int fds[YB_HTTP_MAX_PER_UID], calls = 0;
        Gate g = { .admit = true };
        YbHttpGate gate = { gate_admit, gate_refused, &g };

        assert_true(asprintf(&sock, "%s/api.sock", d->path) > 0);
        ASSERT_OK(yb_httpd_start_unix(sock, 0600, (gid_t) -1, &gate, echo, &calls, &h));
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                fds[i] = connect_to(sock); /* and send nothing */
        resp = request(sock, "GET /v1/status HTTP/1.0\r\n\r\n", 28);
        if (!strstr(resp, "503") || !strstr(resp, "already has 8 connections open"))
                fail_msg("unexpected response: %s", resp);
        ASSERT_EQ(calls, 0);
        for (size_t i = 0; i < ELEMENTSOF(fds); i++)
                safe_close(fds[i]);
}

TEST(tcp_address_checked) {
        YbHttpd *h = NULL;
        int calls = 0;

        ASSERT_ERR(yb_httpd_start_tcp("nonsense", echo, &calls, &h), EINVAL);
        ASSERT_ERR(yb_httpd_start_tcp("localhost:99999", echo, &calls, &h), EINVAL);
        ASSERT_OK(yb_httpd_start_tcp("127.0.0.1:0", echo, &calls, &h));
        yb_httpd_stop(h);
}
