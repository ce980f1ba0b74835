/* cli/ctl.h: yunbak's client of yunbakd's control API (docs/api.md): HTTP/1.1 over a Unix
 * socket with JSON bodies, and the output helpers the daemon commands share.
 *
 * Three layers: a response parser that takes bytes in any pieces (so that a reply split
 * anywhere parses the same), cli_http_request() that speaks one request over a fresh
 * connection with a deadline, and cli_ctl_*() that turn answers and failures into the
 * messages and exit codes of docs/cli.md. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/macro.h"

#define CLI_CTL_SOCKET_DEFAULT "/run/yunbak/yunbakd.sock"
#define CLI_CTL_TIMEOUT_MS 30000
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

/* Where and how the daemon commands reach yunbakd. */
typedef struct CliCtl {
        const char *socket; /* --socket, else $YUNBAK_SOCKET, else CLI_CTL_SOCKET_DEFAULT */
        int timeout_ms;     /* per request */
        bool quiet;         /* failures to reach yunbakd are not printed (a retrying caller) */
} CliCtl;

/* Sets up c for --socket's value (borrowed; NULL when not given) and the default timeout. */
void cli_ctl_init(CliCtl *c, const char *socket_opt);

/* Sends method path (with its query, already escaped) and body (borrowed JSON; NULL: none) and
 * parses the answer. Returns 0 with *ret_status and *ret (JSON; the caller owns it) whenever
 * yunbakd answered with JSON, whatever the status. Otherwise prints why (unless c->quiet) and
 * returns an exit code: YB_EXIT_UNREACHABLE when yunbakd cannot be reached, does not answer in
 * time or hangs up, YB_EXIT_FAILED for an answer that is not HTTP or not JSON, 130 for -EINTR. */
int cli_ctl_request(const CliCtl *c, const char *method, const char *path, json_t *body,
                    int *ret_status, json_t **ret);
/* Prints the error of a non-2xx answer, "permission denied: <yunbakd's sentence>", and returns
 * cli_ctl_exit_code(status). */
int cli_ctl_report_error(const CliCtl *c, const char *method, const char *path, int status,
                         json_t *answer);
/* cli_ctl_request, then cli_ctl_report_error for any non-2xx status. Returns 0 with *ret (a JSON
 * object, the caller owns it), or an exit code having printed why. */
int cli_ctl_call(const CliCtl *c, const char *method, const char *path, json_t *body, json_t **ret);
/* The exit code for an HTTP error status (docs/cli.md, "Exit codes"): 400 → 2, 403 → 4,
 * 409 → 8, 404 and the rest → 1. */
int cli_ctl_exit_code(int status);

/* A URL query or path component with everything but [A-Za-z0-9-._~] percent-encoded. The caller
 * frees it; NULL on OOM. */
char *cli_url_escape(const char *s);

/* Prints j on stdout, indented, followed by a newline (--json). */
void cli_json_print(json_t *j);
/* Typed access to a member of a JSON object, tolerant of a daemon that lacks it: the string, or
 * NULL when absent, null or not a string. */
const char *cli_json_str(json_t *o, const char *key);
/* Sets *ret to the integer member key; returns false (leaving *ret) when it is absent, null or
 * not an integer. */
bool cli_json_int(json_t *o, const char *key, int64_t *ret);

/* Copies s for a terminal: control characters (escape sequences from data in the catalog)
 * become '?'. The caller frees it; NULL on OOM. */
char *cli_sanitize(const char *s);
/* The columns a UTF-8 string takes on a terminal (CJK characters take two). */
size_t cli_display_width(const char *s);

/* "45 s", "12 min", "3 h", "2 d" for a duration in microseconds (negative ones as 0). Returns
 * buf (32 bytes). */
const char *cli_format_duration(int64_t usec, char buf[32]);
/* "2026-11-21 18:22:12" (UTC) for microseconds since the epoch, "?" for values out of range.
 * Returns buf (32 bytes). */
const char *cli_format_time(int64_t usec, char buf[32]);
/* Microseconds since the epoch now (the client's clock). */
int64_t cli_now_usec(void);

/* A table printed with columns as wide as their widest cell, two spaces apart; the last column
 * is not padded. Cells are copied and sanitised (cli_sanitize). */
typedef struct CliTable CliTable;

/* A table with n_cols columns titled by the strings that follow (n_cols of them). */
CliTable *cli_table_new(size_t n_cols, ...);
CliTable *cli_table_free(CliTable *t); /* Accepts NULL; returns NULL. */
DEFINE_FREEP(CliTable, cli_table_free);
/* Adds a row of n_cols cells (NULL and empty cells print "-"). Returns 0 or -ENOMEM. */
int cli_table_add(CliTable *t, ...);
/* Rows added so far (without the title row). */
size_t cli_table_rows(const CliTable *t);
void cli_table_print(const CliTable *t, FILE *f);

/* Parses a decimal integer in [min, max] (an option's value). Returns 0 or -EINVAL. */
int cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *ret);

/* The options every daemon command takes, for getopt_long tables: --socket (value 'U'),
 * --json ('j') and --help ('h'). */
#define CLI_CTL_OPTIONS                                                                            \
        { "socket", required_argument, NULL, 'U' }, { "json", no_argument, NULL, 'j' }, {          \
                "help", no_argument, NULL, 'h'                                                     \
        }
/* Their lines in a command's --help. */
#define CLI_CTL_OPTIONS_HELP                                                                       \
        "  --socket PATH   yunbakd's control socket (default: $YUNBAK_SOCKET, else\n"              \
        "                  " CLI_CTL_SOCKET_DEFAULT ")\n"                                          \
        "  --json          print yunbakd's JSON answer as it is (indented)\n"                      \
        "  --help          this text\n"
