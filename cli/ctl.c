#include "cli/ctl.h"

#include <inttypes.h>
#include <signal.h>

#include "cli/http-client.h"
#include "cli/output.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"

void cli_ctl_init(CliCtl *c, const char *socket_opt) {
        const char *e = getenv("YUNBAK_SOCKET");

        *c = (CliCtl){
                .socket = socket_opt ? socket_opt
                          : e && *e  ? e
                                     : CLI_CTL_SOCKET_DEFAULT,
                .timeout_ms = CLI_CTL_TIMEOUT_MS,
        };
}

int cli_ctl_exit_code(int status) {
        switch (status) {
        case 400:
        case 413:
                return YB_EXIT_USAGE; /* a value from the command line was refused */
        case 403:
                return YB_EXIT_KEY; /* not allowed: like a wrong key, who you are is the issue */
        case 409:
                return YB_EXIT_BUSY; /* a job of the system is already queued or running */
        default:
                return status >= 200 && status < 300 ? YB_EXIT_OK : YB_EXIT_FAILED;
        }
}

static const char *status_meaning(int status) {
        switch (status) {
        case 400:
                return "bad request";
        case 403:
                return "permission denied";
        case 404:
                return "not found";
        case 405:
                return "not supported by this yunbakd";
        case 409:
                return "conflict";
        case 413:
                return "request too large";
        case 500:
                return "yunbakd failed";
        case 503:
                return "yunbakd unavailable";
        default:
                return NULL;
        }
}

static const char *unreachable_hint(int r) {
        switch (r) {
        case -ENOENT:
        case -ECONNREFUSED:
        case -ENOTDIR:
                return " — is yunbakd running? (--socket PATH or YUNBAK_SOCKET name another "
                       "socket)";
        case -EACCES:
        case -EPERM:
                return " — the socket's permissions do not let you in; ask the operations unit "
                       "to add you to its group";
        case -ENAMETOOLONG:
                return " (give a shorter --socket PATH)";
        default:
                return "";
        }
}

int cli_ctl_request(const CliCtl *c, const char *method, const char *path, json_t *body,
                    int *ret_status, json_t **ret) {
        _cleanup_(cli_http_response_done) CliHttpResponse resp = { 0 };
        _cleanup_free_ char *text = NULL;
        char why[CLI_HTTP_WHY_MAX];
        json_error_t err;
        json_t *j;
        int r;

        if (body) {
                text = json_dumps(body, JSON_COMPACT);
                if (!text)
                        return log_oom(), YB_EXIT_FAILED;
        }
        r = cli_http_request(c->socket, method, path, text, text ? strlen(text) : 0, c->timeout_ms,
                             &resp, why);
        if (r == -EINTR)
                return 128 + SIGINT;
        if (r < 0) {
                bool reached = r == -EPROTO || r == -ENOBUFS || r == -ENOMEM || r == -EINVAL;

                if (c->quiet)
                        return reached ? YB_EXIT_FAILED : YB_EXIT_UNREACHABLE;
                switch (r) {
                case -EPROTO:
                        log_error("yunbakd at %s sent a malformed answer to %s %s: %s", c->socket,
                                  method, path, why);
                        return YB_EXIT_FAILED;
                case -ENOBUFS:
                        log_error("yunbakd at %s sent too large an answer to %s %s: %s", c->socket,
                                  method, path, why);
                        return YB_EXIT_FAILED;
                case -EINVAL:
                        log_error("Cannot send '%s %s' in an HTTP request line.", method, path);
                        return YB_EXIT_FAILED;
                case -ENOMEM:
                        log_oom();
                        return YB_EXIT_FAILED;
                case -ETIMEDOUT:
                case -ECONNRESET:
                        log_error("yunbakd at %s failed to answer %s %s: %s.", c->socket, method,
                                  path, why);
                        return YB_EXIT_UNREACHABLE;
                default:
                        log_error("Cannot reach yunbakd at %s: %s%s", c->socket,
                                  *why ? why : strerror(-r), unreachable_hint(r));
                        return YB_EXIT_UNREACHABLE;
                }
        }
        j = json_loadb(resp.body, resp.body_size, 0, &err);
        if (!j) {
                _cleanup_free_ char *s = NULL;
                char ex[48];

                /* Not ours: libmicrohttpd's own error pages, or another program on the
                 * socket. */
                s = cli_sanitize(resp.body);
                if (resp.status >= 300)
                        log_error("yunbakd at %s answered %s %s with HTTP %d%s%s: %s", c->socket,
                                  method, path, resp.status, status_meaning(resp.status) ? " " : "",
                                  status_meaning(resp.status) ?: "",
                                  s ? cli_http_excerpt(s, ex) : "");
                else
                        log_error("yunbakd at %s answered %s %s with something that is not JSON "
                                  "(%s at byte %d): '%s'",
                                  c->socket, method, path, err.text, err.position,
                                  s ? cli_http_excerpt(s, ex) : "");
                return resp.status >= 300 ? cli_ctl_exit_code(resp.status) : YB_EXIT_FAILED;
        }
        *ret_status = resp.status;
        *ret = j;
        return 0;
}

int cli_ctl_report_error(const CliCtl *c, const char *method, const char *path, int status,
                         json_t *answer) {
        _cleanup_free_ char *msg = cli_sanitize(cli_json_str(answer, "error") ?: "");
        const char *meaning = status_meaning(status);
        char what[32];

        if (!meaning) {
                snprintf(what, sizeof(what), "HTTP %d", status);
                meaning = what;
        }
        if (!msg || !*msg)
                log_error("%s: yunbakd answered %s %s with %d and no explanation.", meaning, method,
                          path, status);
        else if (status == 405)
                log_error("%s: %s (is yunbakd older than this yunbak, %s?)", meaning, msg,
                          YB_VERSION);
        else
                log_error("%s: %s", meaning, msg);
        return cli_ctl_exit_code(status);
}

int cli_ctl_call(const CliCtl *c, const char *method, const char *path, json_t *body,
                 json_t **ret) {
        json_t *j = NULL;
        int status, r;

        r = cli_ctl_request(c, method, path, body, &status, &j);
        if (r != 0)
                return r;
        if (status < 200 || status >= 300) {
                r = cli_ctl_report_error(c, method, path, status, j);
                json_decref(j);
                return r;
        }
        if (!json_is_object(j)) {
                log_error("yunbakd at %s answered %s %s with JSON that is not an object.",
                          c->socket, method, path);
                json_decref(j);
                return YB_EXIT_FAILED;
        }
        *ret = j;
        return 0;
}

char *cli_url_escape(const char *s) {
        static const char hex[] = "0123456789ABCDEF";
        char *out = malloc(3 * strlen(s) + 1), *o = out;

        if (!out)
                return NULL;
        for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
                if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                    (*c >= '0' && *c <= '9') || strchr("-._~", *c))
                        *o++ = (char) *c;
                else {
                        *o++ = '%';
                        *o++ = hex[*c >> 4];
                        *o++ = hex[*c & 15];
                }
        }
        *o = 0;
        return out;
}
