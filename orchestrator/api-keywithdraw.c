/* orchestrator/api-keywithdraw.c: withdrawing a key copy registered by mistake (a wrong path, a
 * copy that never existed, the same copy under another host name), over the control API
 * (api-keycopies.h; docs/decommission.md, "Key copies"; docs/api.md).
 *
 * A withdrawal says that a copy never existed, which is exactly what someone keeping a live copy
 * would say: so it takes two people, as an off-site request does. The system's department, or
 * the operator who registered the copy, asks, with a reason; an operator who is neither the
 * asker nor the copy's holder (whose word is the one in question) confirms. Until then the copy
 * stays held, and a decommission waits for it. A copy yunbakd found (its key file was presented
 * to it) existed, and is never withdrawn: it is destroyed. The confirmed withdrawal is signed by
 * yunbakd and kept as the copy's evidence; the copy keeps its record, in state "withdrawn", and
 * the certificate names it as withdrawn, never as destroyed. Every step, refused ones too, is
 * audited: "key.withdraw" (the request) and "key.withdrawn" (the confirmation). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/keycopies.h"
#include "core/evidence/signed.h"
#include "orchestrator/api-keycopies.h"
#include "orchestrator/api-keycopy-util.h"

#define REASON_MAX_BYTES 2000

/* Refuses (status, audited as action with result "denied") what the caller asked of copy k. */
static void refuse(Call *c, const YbKeyCopy *k, const char *action, int status, const char *fmt,
                   ...) _printf_(5, 6);
static void refuse(Call *c, const YbKeyCopy *k, const char *action, int status, const char *fmt,
                   ...) {
        char msg[1500];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        yb_daemon_audit(c->d, c->who, action, k->system, "denied", msg);
        yb_http_error(c->resp, status, "%s", msg);
}

/* Whether copy k can still be withdrawn (held, not found); refuses (409) if not. */
static bool withdrawable(Call *c, const YbKeyCopy *k, const char *action, const char *where) {
        char when[32] = "?";

        if (!streq(k->state, YB_KEY_COPY_HELD)) {
                if (k->destroyed_usec > 0)
                        orch_key_iso(k->destroyed_usec, when);
                refuse(c, k, action, 409,
                       "key copy %" PRId64 " of system '%s' (%s) is %s already (by %s at %s): "
                       "only a copy still held can be withdrawn",
                       k->id, k->system, where, k->state, k->destroyed_by ?: "?", when);
                return false;
        }
        if (k->found) {
                orch_key_iso(k->registered_usec, when);
                refuse(c, k, action, 409,
                       "key copy %" PRId64 " of system '%s' was found: its key file was presented "
                       "to yunbakd at %s by %s at %s, so it existed and is not withdrawn; destroy "
                       "it with 'yunbak key destroy %s' on %s",
                       k->id, k->system, where, k->registered_by ?: "?", when, k->path ?: "FILE",
                       k->host ?: "its host");
                return false;
        }
        return true;
}

/* The withdrawal asked of held copy k ({"reason", "asked_by", "asked"}), borrowed from *ev (the
 * caller frees it); NULL when none was asked. */
static json_t *asked(const YbKeyCopy *k, json_t **ev) {
        *ev = k->evidence ? json_loads(k->evidence, 0, NULL) : NULL;
        return json_object_get(*ev, "withdrawal");
}

/* The request: the system's department, or the operator who registered the copy. */
static void ask(Call *c, YbKeyCopy *k, const char *reason, const char *where) {
        _cleanup_(json_decrefp) json_t *req = NULL, *ev = NULL;
        _cleanup_free_ char *text = NULL;
        char dept[256], decom[96] = "", detail[5000];
        bool of_dept, registrant;
        json_t *w;
        int r;

        of_dept = orch_key_copy_department(c, k->system, dept, decom) &&
                  c->who->role == YB_ROLE_DEPARTMENT && c->who->department &&
                  streq(c->who->department, dept);
        registrant = c->who->role == YB_ROLE_OPERATOR && k->registered_by &&
                     streq(k->registered_by, c->who->name);
        if (!of_dept && !registrant) {
                refuse(c, k, "key.withdraw", 403,
                       "%s '%s' may not ask to withdraw key copy %" PRId64 " of system '%s': a "
                       "person of its department, or the operator who registered it (%s), asks",
                       yb_role_to_string(c->who->role), c->who->name, k->id, k->system,
                       k->registered_by ?: "?");
                return;
        }
        if (!withdrawable(c, k, "key.withdraw", where))
                return;
        w = asked(k, &ev);
        if (w) {
                refuse(c, k, "key.withdraw", 409,
                       "the withdrawal of key copy %" PRId64 " of system '%s' (%s) was asked "
                       "already, by %s at %s: an operator who neither asked for it nor holds the "
                       "copy (held by %s) confirms it ('yunbak key withdraw --copy %" PRId64
                       " --confirm')",
                       k->id, k->system, where,
                       json_string_value(json_object_get(w, "asked_by")) ?: "?",
                       json_string_value(json_object_get(w, "asked")) ?: "?", k->holder, k->id);
                return;
        }
        req = json_pack("{s:{s:s, s:s, s:o}}", "withdrawal", "reason", reason, "asked_by",
                        c->who->name, "asked", orch_key_time_json(yb_daemon_now(c->d)));
        text = req ? json_dumps(req, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!text) {
                yb_http_error(c->resp, 500, "out of memory");
                return;
        }
        r = yb_key_copies_ask_withdrawal(c->d->catalog, k->id, text);
        if (r < 0) {
                yb_daemon_audit(c->d, c->who, "key.withdraw", k->system, "failed", strerror(-r));
                yb_http_error(c->resp, r == -EALREADY || r == -EBUSY ? 409 : 500,
                              "cannot record the withdrawal asked of key copy %" PRId64 ": %s",
                              k->id,
                              r == -EALREADY ? "it is not held any more"
                              : r == -EBUSY  ? "a withdrawal of it was asked meanwhile"
                                             : strerror(-r));
                return;
        }
        snprintf(detail, sizeof(detail),
                 "withdrawal of copy %" PRId64 " (%s, holder %s) asked: %s; an operator other "
                 "than %s must confirm it%s%s",
                 k->id, where, k->holder, reason, c->who->name, decom[0] ? "; " : "", decom);
        yb_daemon_audit(c->d, c->who, "key.withdraw", k->system, "ok", detail);
        orch_key_reply_copy(c, 202, k->id, false, false);
}

/* The confirmation: an operator who neither asked nor holds the copy. */
static void confirm(Call *c, YbKeyCopy *k, const char *where) {
        _cleanup_(json_decrefp) json_t *ev = NULL, *doc = NULL;
        _cleanup_free_ char *text = NULL;
        const char *asker, *reason;
        char decom[96] = "", detail[5000];
        json_t *w;
        int r;

        if (c->who->role != YB_ROLE_OPERATOR) {
                refuse(c, k, "key.withdrawn", 403,
                       "%s '%s' may not confirm the withdrawal of key copy %" PRId64 " of system "
                       "'%s': an operator who neither asked for it nor holds the copy confirms",
                       yb_role_to_string(c->who->role), c->who->name, k->id, k->system);
                return;
        }
        if (!withdrawable(c, k, "key.withdrawn", where))
                return;
        w = asked(k, &ev);
        asker = json_string_value(json_object_get(w, "asked_by"));
        reason = json_string_value(json_object_get(w, "reason"));
        if (!w || !asker || !reason) {
                refuse(c, k, "key.withdrawn", 409,
                       "no withdrawal of key copy %" PRId64 " of system '%s' (%s) was asked: its "
                       "department, or the operator who registered it, asks first ('yunbak key "
                       "withdraw --copy %" PRId64 " --reason TEXT')",
                       k->id, k->system, where, k->id);
                return;
        }
        if (streq(asker, c->who->name)) {
                refuse(c, k, "key.withdrawn", 403,
                       "%s asked to withdraw key copy %" PRId64 " of system '%s' and may not also "
                       "confirm it: another operator confirms (a withdrawal takes two people)",
                       c->who->name, k->id, k->system);
                return;
        }
        if (streq(k->holder, c->who->name)) {
                refuse(c, k, "key.withdrawn", 403,
                       "%s holds key copy %" PRId64 " of system '%s' and may not confirm that it "
                       "never existed: an operator who does not hold it confirms",
                       c->who->name, k->id, k->system);
                return;
        }
        doc = json_pack("{s:I, s:s, s:s, s:s, s:s, s:s?, s:s?, s:s?, s:{s:s, s:s, s:O, s:s, "
                        "s:o}}",
                        "copy", (json_int_t) k->id, "system", k->system, "key_id", k->key_id ?: "",
                        "kind", k->kind, "holder", k->holder, "host", k->host, "path", k->path,
                        "note", k->note, "withdrawal", "reason", reason, "asked_by", asker, "asked",
                        json_object_get(w, "asked") ?: json_null(), "confirmed_by", c->who->name,
                        "confirmed", orch_key_time_json(yb_daemon_now(c->d)));
        r = doc ? yb_signed_sign(doc, c->d->key) : -ENOMEM;
        text = r >= 0 ? json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (r < 0 || !text) {
                yb_daemon_audit(c->d, c->who, "key.withdrawn", k->system, "failed",
                                "yunbakd could not sign the withdrawal");
                yb_http_error(c->resp, 500,
                              "yunbakd cannot sign the withdrawal of key copy %" PRId64 ": %s; "
                              "nothing was recorded, try again once it can",
                              k->id, r < 0 ? strerror(-r) : "out of memory");
                return;
        }
        r = yb_key_copies_destroyed(c->d->catalog, k->id, YB_KEY_COPY_WITHDRAWN, c->who->name,
                                    yb_daemon_now(c->d), text);
        if (r < 0) {
                yb_daemon_audit(c->d, c->who, "key.withdrawn", k->system, "failed", strerror(-r));
                yb_http_error(c->resp, r == -EALREADY || r == -ENOMSG ? 409 : 500,
                              "cannot record the withdrawal of key copy %" PRId64 ": %s", k->id,
                              r == -EALREADY ? "it is not held any more"
                              : r == -ENOMSG ? "its withdrawal was dropped meanwhile"
                                             : strerror(-r));
                return;
        }
        orch_key_decommission_state(c, k->system, decom);
        snprintf(detail, sizeof(detail),
                 "copy %" PRId64 " (%s, holder %s) withdrawn as never having existed: %s; asked "
                 "by %s, confirmed by %s%s%s",
                 k->id, where, k->holder, reason, asker, c->who->name, decom[0] ? "; " : "", decom);
        yb_daemon_audit(c->d, c->who, "key.withdrawn", k->system, "ok", detail);
        orch_key_reply_copy(c, 200, k->id, false, false);
}

void orch_api_post_key_copy_withdraw(Call *c, const char *id_s) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        char where[4500];
        const char *reason = NULL;
        YbKeyCopy k = {};
        json_t *conf;

        body = orch_api_body_object(c);
        if (!body)
                return;
        conf = json_object_get(body, "confirm");
        if (conf && !json_is_boolean(conf)) {
                yb_http_error(c->resp, 400, "confirm must be true or false");
                return;
        }
        if (json_is_true(conf) && json_object_get(body, "reason")) {
                yb_http_error(c->resp, 400,
                              "give either a reason (to ask for the withdrawal) or confirm: true "
                              "(to confirm one another person asked), not both");
                return;
        }
        if (!json_is_true(conf) &&
            !orch_key_body_text(c, body, "reason", REASON_MAX_BYTES, true,
                                "why the copy was registered by mistake and never existed",
                                &reason))
                return;
        if (!orch_key_copy_for(c, id_s, false, &k))
                return;
        orch_key_copy_where(&k, where, sizeof(where));
        if (c->who->role == YB_ROLE_AUDITOR)
                refuse(c, &k, json_is_true(conf) ? "key.withdrawn" : "key.withdraw", 403,
                       "auditor '%s' may not %s the withdrawal of key copy %" PRId64 " of system "
                       "'%s': an auditor reads and changes nothing",
                       c->who->name, json_is_true(conf) ? "confirm" : "ask for", k.id, k.system);
        else if (json_is_true(conf))
                confirm(c, &k, where);
        else
                ask(c, &k, reason, where);
        yb_key_copy_done(&k);
}
