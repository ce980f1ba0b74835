/* cli/http-client.h: yunbak's HTTP/1.1 client for yunbakd's Unix socket: a response parser that
 * takes bytes in any pieces (so that a reply split anywhere parses the same), and
 * cli_http_request(), which speaks one request over a fresh connection with a deadline. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/base/macro.h"

/* Caps for what the daemon sends: the head (status line and headers) and the body. */
#define CLI_HTTP_HEAD_MAX (64 * 1024)
#define CLI_HTTP_BODY_MAX (64 * 1024 * 1024)
/* Room for a failure's description ("closed the connection after 10 of 20 body bytes"). */
#define CLI_HTTP_WHY_MAX 256

/* One HTTP response. body is NUL-terminated (body_size excludes the NUL) and never NULL after a
 * successful parse. */
typedef struct CliHttpResponse {
        int status;
        char *content_type; /* NULL when the response has none */
        bool chunked;       /* the body came with Transfer-Encoding: chunked */
        char *body;
        size_t body_size;
} CliHttpResponse;

/* Frees what r holds and zeroes it. */
void cli_http_response_done(CliHttpResponse *r);

/* An incremental parser of one HTTP/1.x response: status line, headers, then a body delimited
 * by Content-Length, by chunked transfer coding (trailers are skipped), or by the end of the
 * connection. Interim 1xx responses are skipped; 204 and 304 have no body. Lines may end in
 * CRLF or LF. */
typedef struct CliHttpParser CliHttpParser;

/* A parser that accepts bodies of at most body_max bytes (-ENOBUFS beyond). NULL on OOM. */
CliHttpParser *cli_http_parser_new(size_t body_max);
CliHttpParser *cli_http_parser_free(CliHttpParser *p); /* Accepts NULL; returns NULL. */
DEFINE_FREEP(CliHttpParser, cli_http_parser_free);
/* Feeds n bytes of the connection. Returns 1 when the response is complete (bytes after it are
 * ignored), 0 when more are needed, or: -EPROTO for a malformed response, -ENOBUFS when the head
 * or body is larger than allowed. After an error every call returns the same error. */
int cli_http_parser_feed(CliHttpParser *p, const void *data, size_t n);
/* The peer closed the connection. Returns 1 when that completes the response (a body read until
 * the end), or -ECONNRESET when it was cut short (or the error already found). */
int cli_http_parser_eof(CliHttpParser *p);
/* What went wrong, in words ("" if nothing did). Lives as long as p. */
const char *cli_http_parser_why(const CliHttpParser *p);
/* Moves a complete response to *ret. -EINVAL if the response is not complete. */
int cli_http_parser_take(CliHttpParser *p, CliHttpResponse *ret);

/* Connects to the Unix socket at socket_path, sends "method target HTTP/1.1" with body (NULL: no
 * body; a POST always carries a Content-Length) and reads the whole response, all within
 * timeout_ms. Returns 0 with *ret filled, whatever the status; or -errno: a connect() error
 * (-ENOENT, -ECONNREFUSED, -EACCES, ...), -ENAMETOOLONG for a path too long for a socket,
 * -ETIMEDOUT, -ECONNRESET when the daemon closed the connection early, -EPROTO or -ENOBUFS (see
 * cli_http_parser_feed), -EINTR when a signal handler ran while waiting, or -EINVAL for a method
 * or target that cannot go into a request line (spaces, control characters). On failure, why
 * (when not NULL) describes it in words. */
int cli_http_request(const char *socket_path, const char *method, const char *target,
                     const char *body, size_t body_size, int timeout_ms, CliHttpResponse *ret,
                     char why[CLI_HTTP_WHY_MAX]);

/* A short printable excerpt of untrusted text (at most 40 bytes, control characters as '?'), for
 * error messages. Returns buf. */
const char *cli_http_excerpt(const char *s, char buf[48]);
