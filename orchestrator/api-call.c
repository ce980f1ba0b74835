/* orchestrator/api-call.c: answering a control-API request: replies, audited refusals, the
 * systems a caller may touch, JSON from catalog rows (api-call.h). */
#include "orchestrator/api-call.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"

json_t *orch_api_usec_or_null(int64_t v) {
        return v > 0 && v != INT64_MAX ? json_integer(v) : json_null();
}

json_t *orch_api_text_or_null(const char *s) {
        return s && *s ? json_string(s) : json_null();
}

void orch_api_reply(Call *c, int status, json_t *body) {
        c->resp->status = status;
        c->resp->body = body ? json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (body && !c->resp->body)
                yb_http_error(c->resp, 500, "out of memory");
        json_decref(body);
}

/* Refusals are audited: who tried what. */
void orch_api_deny(Call *c, int status, const char *fmt, ...) {
        char msg[512];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        if (c->who)
                yb_daemon_audit(c->d, c->who, "api.denied", c->what, "denied", msg);
        else {
                YbPerson unknown = { .role = YB_ROLE_NONE };
                char name[32];

                snprintf(name, sizeof(name), "uid:%u", (unsigned) c->req->uid);
                unknown.name = name;
                yb_daemon_audit(c->d, &unknown, "api.denied", c->what, "denied", msg);
        }
        yb_http_error(c->resp, status, "%s", msg);
}

void orch_api_refuse(Call *c, const char *action, const char *object, int status, const char *fmt,
                     ...) {
        char why[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(why, sizeof(why), fmt, ap);
        va_end(ap);
        yb_daemon_audit(c->d, c->who, action, object ? object : "-",
                        status == 403 || status == 404 ? "denied"
                        : status >= 500                ? "failed"
                                                       : "refused",
                        why);
        yb_http_error(c->resp, status, "%s", why);
}

/* The system, if the caller may do access on it; otherwise answers (404 for a department
 * person who may not see it, so that other departments' systems stay unknown) and NULL. */
YbSystem *orch_api_system_for(Call *c, const char *id, YbAccess access) {
        YbSystem *s = yb_daemon_system(c->d, id);

        if (!s || !yb_access_sees(c->who, s->policy->department)) {
                if (s)
                        orch_api_deny(c, 404, "no system '%s'", id);
                else
                        yb_http_error(c->resp, 404, "no system '%s'", id);
                return NULL;
        }
        if (!yb_access_allowed(c->who, access, s->policy->department)) {
                orch_api_deny(c, 403, "%s '%s' may not %s system '%s'",
                              yb_role_to_string(c->who->role), c->who->name,
                              access == YB_ACCESS_ACT_SYSTEM ? "act on" : "read", id);
                return NULL;
        }
        return s;
}

json_t *orch_api_col_text(struct sqlite3_stmt *row, int i) {
        const char *t = (const char *) sqlite3_column_text(row, i);

        return t ? json_string(t) : json_null();
}

json_t *orch_api_col_int(struct sqlite3_stmt *row, int i) {
        return sqlite3_column_type(row, i) == SQLITE_NULL
                       ? json_null()
                       : json_integer(sqlite3_column_int64(row, i));
}

json_t *orch_api_body_object(Call *c) {
        json_error_t e;
        json_t *body;

        if (c->req->body_size == 0)
                return json_object();
        body = json_loadb(c->req->body, c->req->body_size, 0, &e);
        if (!json_is_object(body)) {
                yb_http_error(c->resp, 400, "the body must be a JSON object (%s)",
                              body ? "not an object" : e.text);
                json_decref(body);
                return NULL;
        }
        return body;
}

bool orch_api_parse_int(const char *s, int64_t min, int64_t max, int64_t *ret) {
        char *end;
        long long v;

        if (!s || !*s)
                return false;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end || v < min || v > max)
                return false;
        *ret = v;
        return true;
}
