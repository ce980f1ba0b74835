/* cli/ctl.h: the daemon commands' client of yunbakd's control API (docs/api.md): JSON requests
 * over cli/http-client.h, with answers and failures turned into the messages and exit codes of
 * docs/cli.md, and the options every daemon command shares. */
#pragma once

#include <jansson.h>
#include <stdbool.h>

#define CLI_CTL_SOCKET_DEFAULT "/run/yunbak/yunbakd.sock"
#define CLI_CTL_TIMEOUT_MS 30000

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
