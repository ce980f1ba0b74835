/* orchestrator/api-keycopies.c: key copies over the control API (api-keycopies.h; docs/api.md,
 * "Key copies"). The rules: a copy is of the key yunbakd holds for the system (keys/ID.pub: the
 * same key id), so that a copy of another key (an old one, the handover key of a final export)
 * is never counted as one the decommission must destroy. A file copy is reported destroyed by
 * `yunbak key destroy`, which overwrote, unlinked and checked it (verified); an offline copy can
 * only be attested by its holder (never verified), and yunbakd signs the attestation so that
 * nobody can change it afterwards. Who did what is always the caller's authenticated user name,
 * never one taken from the body. */
#include "orchestrator/api-keycopies.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/decommissions.h"
#include "catalog/keycopies.h"
#include "core/base/timeutil.h"
#include "core/evidence/jsonwrite.h"
#include "core/evidence/signed.h"
#include "orchestrator/api-keycopy-util.h"

/* The longest texts taken, in bytes. */
#define NAME_MAX_BYTES 200
#define PATH_MAX_BYTES 4096
#define TEXT_MAX_BYTES 2000
#define EVIDENCE_MAX_BYTES 65536

const char *orch_key_iso(int64_t usec, char iso[32]) {
        yb_time_format_iso(yb_usec_to_ns(usec), iso);
        strcpy(iso + 19, "Z"); /* "YYYY-MM-DDTHH:MM:SS" is 19 bytes */
        return iso;
}

json_t *orch_key_time_json(int64_t usec) {
        char iso[32];

        return usec > 0 ? json_string(orch_key_iso(usec, iso)) : json_null();
}

static json_t *copy_json(const YbKeyCopy *k) {
        bool withdrawn = streq(k->state, YB_KEY_COPY_WITHDRAWN);
        json_t *evidence = NULL, *withdrawal, *o;

        if (k->evidence)
                evidence = json_loads(k->evidence, 0, NULL);
        /* A withdrawal asked (held) or confirmed (withdrawn); a withdrawn copy was never
         * destroyed, so it has no destroyed_by nor destroyed. */
        withdrawal = streq(k->state, YB_KEY_COPY_HELD) || withdrawn
                             ? json_object_get(evidence, "withdrawal")
                             : NULL;
        o = json_pack("{s:I, s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:b, s:s, s:o, s:o, "
                      "s:o}",
                      "id", (json_int_t) k->id, "system", k->system, "key_id",
                      orch_api_text_or_null(k->key_id), "kind", k->kind, "holder", k->holder,
                      "host", orch_api_text_or_null(k->host), "path",
                      orch_api_text_or_null(k->path), "note", orch_api_text_or_null(k->note),
                      "registered_by", orch_api_text_or_null(k->registered_by), "registered",
                      orch_key_time_json(k->registered_usec), "found", k->found, "state", k->state,
                      "destroyed_by", orch_api_text_or_null(withdrawn ? NULL : k->destroyed_by),
                      "destroyed", orch_key_time_json(withdrawn ? 0 : k->destroyed_usec),
                      "evidence", evidence ? json_incref(evidence) : json_null());
        if (o)
                json_object_set_new(o, "withdrawal",
                                    withdrawal ? json_incref(withdrawal) : json_null());
        json_decref(evidence);
        return o;
}

void orch_key_copy_where(const YbKeyCopy *k, char *buf, size_t size) {
        if (streq(k->kind, YB_KEY_COPY_OFFLINE))
                snprintf(buf, size, "offline (%s)", k->note ? k->note : "no note");
        else
                snprintf(buf, size, "%s:%s", k->host ? k->host : "?", k->path ? k->path : "?");
}

void orch_key_reply_copy(Call *c, int status, int64_t id, bool seen, bool registered) {
        YbKeyCopy k = {};
        json_t *o;
        int r = yb_key_copies_get(c->d->catalog, id, &k);

        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read key copy %" PRId64 " from the catalog: %s",
                              id, strerror(-r));
                return;
        }
        o = copy_json(&k);
        yb_key_copy_done(&k);
        if (seen)
                o = json_pack("{s:b, s:o}", "registered", registered, "copy", o);
        orch_api_reply(c, status, o);
}

bool orch_key_body_text(Call *c, json_t *body, const char *name, size_t max, bool required,
                        const char *what, const char **ret) {
        json_t *v = json_object_get(body, name);
        const char *s = json_string_value(v);
        size_t n = s ? json_string_length(v) : 0;
        char problem[96] = "";
        bool ok = s && n > 0 && n <= max && strlen(s) == n &&
                  yb_json_string_check(s, n, problem, sizeof(problem)) >= 0;

        for (const char *p = s; ok && *p; p++)
                if ((unsigned char) *p < 0x20) {
                        snprintf(problem, sizeof(problem),
                                 "a control character (U+%04X) at byte %zu", (unsigned) *p,
                                 (size_t) (p - s));
                        ok = false;
                }
        if ((!v || json_is_null(v)) && !required) {
                *ret = NULL;
                return true;
        }
        if (!ok) {
                yb_http_error(c->resp, 400,
                              "%s must be a text of 1 to %zu bytes without control characters "
                              "(%s)%s%s%s",
                              name, max, what, required ? "; it is required" : "",
                              problem[0] ? "; it has " : "", problem);
                return false;
        }
        *ret = s;
        return true;
}

/* Whether path is absolute and in its one plain form ("/a/b.key": no "//", ".", ".." or trailing
 * "/"), as `yunbak key` sends the real path of a file: another spelling of the same file would
 * be registered as another copy, and `key destroy` would never find it. Answers 400 if not. */
static bool plain_path(Call *c, const char *path) {
        bool ok = path[0] == '/' && path[1] != 0 && path[strlen(path) - 1] != '/' &&
                  !strstr(path, "//") && !strstr(path, "/./") && !strstr(path, "/../");
        size_t n = strlen(path);

        ok = ok && !(n >= 2 && streq(path + n - 2, "/.")) &&
             !(n >= 3 && streq(path + n - 3, "/.."));
        if (!ok)
                yb_http_error(c->resp, 400,
                              "path must be the file's absolute path in its plain form (as "
                              "realpath gives it: no '//', '.' or '..', no trailing '/'), not "
                              "'%s'",
                              path);
        return ok;
}

/* Whether host names one host: not a name every machine answers to, which would make the
 * copies of two machines one. Answers 400 if not. */
static bool one_host(Call *c, const char *host) {
        if (!streq(host, "localhost") && !streq(host, "localhost.localdomain"))
                return true;
        yb_http_error(c->resp, 400,
                      "host must name the machine the file is on, not '%s' (every machine "
                      "answers to it): set the host's name ('hostnamectl hostname NAME')",
                      host);
        return false;
}

/* Whether holder is one of yunbakd.yaml's people who may act on system s (a person of its
 * department or an operator): the one who alone attests an offline copy destroyed, so never an
 * auditor (who changes nothing), a person of another department, or a name nobody logs in as
 * (the copy could then never be attested). Refuses (400, audited) if not. */
static bool holder_may_hold(Call *c, const YbSystem *s, const char *holder) {
        const YbConfigPerson *p = NULL;
        char msg[900];

        for (size_t i = 0; i < c->d->config->n_people; i++)
                if (streq(c->d->config->people[i].user, holder))
                        p = &c->d->config->people[i];
        if (p && (p->role == YB_ROLE_OPERATOR ||
                  (p->role == YB_ROLE_DEPARTMENT && streq(p->department, s->policy->department))))
                return true;
        if (!p)
                snprintf(msg, sizeof(msg),
                         "holder '%s' is not one of the people in yunbakd's configuration: name "
                         "a person of department %s or an operator by their user name (the "
                         "holder alone attests an offline copy destroyed)",
                         holder, s->policy->department);
        else
                snprintf(msg, sizeof(msg),
                         "holder '%s' is %s%s%s: a copy of the key of system '%s' is held by a "
                         "person of its department (%s) or an operator",
                         holder, p->role == YB_ROLE_DEPARTMENT ? "of another department (" : "an ",
                         p->role == YB_ROLE_DEPARTMENT ? p->department : yb_role_to_string(p->role),
                         p->role == YB_ROLE_DEPARTMENT ? ")" : "", s->policy->id,
                         s->policy->department);
        yb_daemon_audit(c->d, c->who, "key.register", s->policy->id, "denied", msg);
        yb_http_error(c->resp, 400, "%s", msg);
        return false;
}

/* The system's key id (hex) into kid; false (answered 409) when yunbakd holds no key for it. */
static bool system_key_id(Call *c, const YbSystem *s, char kid[2 * YB_KEY_ID_SIZE + 1]) {
        if (!streq(s->pub.system, s->policy->id)) {
                yb_http_error(c->resp, 409,
                              "yunbakd holds no public key of system '%s' (its keys directory "
                              "lacks %s.pub): a copy of its key cannot be checked",
                              s->policy->id, s->policy->id);
                return false;
        }
        yb_key_id_hex(s->pub.id, kid);
        return true;
}

/* Refuses (400, audited as action "denied") a key id that is not the system's. */
static bool key_id_matches(Call *c, const YbSystem *s, const char *action, const char *key_id,
                           const char *where) {
        char kid[2 * YB_KEY_ID_SIZE + 1], msg[PATH_MAX_BYTES + 700];

        if (!system_key_id(c, s, kid))
                return false;
        if (streq(key_id, kid))
                return true;
        snprintf(msg, sizeof(msg),
                 "key id %s (%s) is not the key of system '%s' that yunbakd holds (key id %s, "
                 "keys/%s.pub): not a copy of the system's key",
                 key_id, where, s->policy->id, kid, s->policy->id);
        yb_daemon_audit(c->d, c->who, action, s->policy->id, "denied", msg);
        yb_http_error(c->resp, 400, "%s", msg);
        return false;
}

/* Whether system's decommission is executing, executed or certified (every copy of its key
 * should be gone, or is being accounted for): then the department it recorded into dept and
 * which decommission in what state into decom. */
static bool decommission_under_way(Call *c, const char *system, char dept[256], char decom[96]) {
        YbDecommission dc = {};
        bool under_way;

        if (yb_decommissions_current(c->d->catalog, system, &dc) < 0)
                return false;
        under_way = yb_decommission_state_stops(dc.state);
        if (under_way) {
                snprintf(dept, 256, "%s", dc.department);
                snprintf(decom, 96, "decommission %" PRId64 " is %s", dc.id, dc.state);
        }
        yb_decommission_done(&dc);
        return under_way;
}

bool orch_key_copy_department(Call *c, const char *system, char dept[256], char decom[96]) {
        YbSystem *s = yb_daemon_system(c->d, system);
        char ignored[96];

        if (!s)
                return decommission_under_way(c, system, dept, decom ? decom : ignored);
        snprintf(dept, 256, "%s", s->policy->department);
        return true;
}

void orch_key_decommission_state(Call *c, const char *system, char buf[96]) {
        char dept[256];

        buf[0] = 0;
        (void) decommission_under_way(c, system, dept, buf);
}

void orch_api_post_key_copy(Call *c, const char *system) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        const char *key_id, *kind, *host = NULL, *path = NULL, *note = NULL, *holder = NULL;
        char where[PATH_MAX_BYTES + 300], detail[PATH_MAX_BYTES + 700], decom[96];
        YbKeyCopy k = {}, old = {};
        int64_t id = 0;
        YbSystem *s;
        bool offline;
        int r;

        body = orch_api_body_object(c);
        if (!body)
                return;
        kind = json_string_value(json_object_get(body, "kind"));
        if (!kind || (!streq(kind, YB_KEY_COPY_FILE) && !streq(kind, YB_KEY_COPY_OFFLINE))) {
                yb_http_error(c->resp, 400, "kind must be \"file\" or \"offline\"");
                return;
        }
        offline = streq(kind, YB_KEY_COPY_OFFLINE);
        if (!orch_key_body_text(c, body, "key_id", 2 * YB_KEY_ID_SIZE, true,
                                "the key file's key id", &key_id) ||
            !orch_key_body_text(c, body, "holder", NAME_MAX_BYTES, false, "who holds the copy",
                                &holder) ||
            !orch_key_body_text(c, body, "host", NAME_MAX_BYTES, !offline,
                                "the host the file is on", &host) ||
            !orch_key_body_text(c, body, "path", PATH_MAX_BYTES, !offline,
                                "the file's absolute path", &path) ||
            !orch_key_body_text(c, body, "note", TEXT_MAX_BYTES, offline,
                                "what the copy is and where it is kept", &note))
                return;
        if (!offline && (!plain_path(c, path) || !one_host(c, host)))
                return;
        if (offline && (host || path)) {
                yb_http_error(c->resp, 400,
                              "an offline copy has no host or path: say where it is in note");
                return;
        }
        s = orch_api_system_for(c, system, YB_ACCESS_ACT_SYSTEM);
        if (!s)
                return;
        k = (YbKeyCopy){ .system = (char *) system,
                         .key_id = (char *) key_id,
                         .kind = (char *) kind,
                         .holder = (char *) (holder ?: c->who->name),
                         .host = (char *) host,
                         .path = (char *) path,
                         .note = (char *) note,
                         .registered_by = (char *) c->who->name };
        orch_key_copy_where(&k, where, sizeof(where));
        if (!key_id_matches(c, s, "key.register", key_id, where) ||
            !holder_may_hold(c, s, k.holder))
                return;
        orch_key_decommission_state(c, system, decom);
        if (!offline) {
                r = yb_key_copies_find_file(c->d->catalog, system, host, path, &old);
                if (r >= 0) {
                        /* Registered twice (key init, then key register): the same copy. */
                        snprintf(detail, sizeof(detail),
                                 "copy %" PRId64 " at %s was registered already (holder %s)",
                                 old.id, where, old.holder);
                        yb_daemon_audit(c->d, c->who, "key.register", system, "ok", detail);
                        orch_key_reply_copy(c, 200, old.id, false, false);
                        yb_key_copy_done(&old);
                        return;
                }
                if (r != -ENOENT) {
                        yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                        return;
                }
        }
        r = yb_key_copies_add(c->d->catalog, &k, yb_daemon_now(c->d), &id);
        if (r < 0) {
                yb_daemon_audit(c->d, c->who, "key.register", system, "failed", strerror(-r));
                yb_http_error(c->resp, 500, "cannot record the key copy in the catalog: %s",
                              strerror(-r));
                return;
        }
        snprintf(detail, sizeof(detail), "copy %" PRId64 ": %s, key id %s, holder %s%s%s%s", id,
                 where, key_id, k.holder, decom[0] ? "; " : "", decom,
                 decom[0] ? ", yet a copy of the system's key is registered now" : "");
        yb_daemon_audit(c->d, c->who, "key.register", system, decom[0] ? "warning" : "ok", detail);
        orch_key_reply_copy(c, 201, id, false, false);
}

void orch_api_get_key_copies(Call *c, const char *system) {
        YbKeyCopy *v = NULL;
        size_t n = 0;
        json_t *list;
        int r;

        if (!orch_api_system_for(c, system, YB_ACCESS_READ_SYSTEM))
                return;
        r = yb_key_copies_list(c->d->catalog, system, &v, &n);
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return;
        }
        list = json_array();
        for (size_t i = 0; i < n; i++)
                json_array_append_new(list, copy_json(&v[i]));
        yb_key_copies_free(v, n);
        orch_api_reply(c, 200, json_pack("{s:s, s:o}", "system", system, "copies", list));
}

/* For `seen` of a system yunbakd has no policy of any more: 1 when its decommission is under
 * way or done and the caller may act on its department (a key file of it is a copy that
 * survived: decom says which decommission), 0 when there is no such system for the caller (the
 * caller answers as for an unknown one), -1 when answered (another key id than keys/ID.pub's,
 * when that file is still there). */
static int gone_system(Call *c, const char *system, const char *key_id, const char *where,
                       char decom[96]) {
        _cleanup_free_ char *pub_path = NULL;
        char dept[256], kid[2 * YB_KEY_ID_SIZE + 1], msg[PATH_MAX_BYTES + 700];
        YbPublicKey pub;

        if (yb_daemon_system(c->d, system) || !orch_key_copy_department(c, system, dept, decom) ||
            !yb_access_sees(c->who, dept) || !yb_access_allowed(c->who, YB_ACCESS_ACT_SYSTEM, dept))
                return 0;
        if (asprintf(&pub_path, "%s/%s.pub", c->d->config->keys, system) < 0 ||
            yb_public_key_read(pub_path, &pub) < 0)
                return 1; /* its public key removed too: the copy is recorded all the same */
        yb_key_id_hex(pub.id, kid);
        if (streq(kid, key_id))
                return 1;
        snprintf(msg, sizeof(msg),
                 "key id %s (%s) is not the key of system '%s' that yunbakd held (key id %s, "
                 "keys/%s.pub): not a copy of the system's key",
                 key_id, where, system, kid, system);
        yb_daemon_audit(c->d, c->who, "key.seen", system, "denied", msg);
        yb_http_error(c->resp, 400, "%s", msg);
        return -1;
}

void orch_api_post_key_copy_seen(Call *c, const char *system) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        const char *key_id, *host, *path;
        char where[PATH_MAX_BYTES + 300], detail[PATH_MAX_BYTES + 900], decom[96], gone[600] = "";
        YbKeyCopy k = {}, old = {};
        int64_t id = 0;
        YbSystem *s;
        int r;

        body = orch_api_body_object(c);
        if (!body ||
            !orch_key_body_text(c, body, "key_id", 2 * YB_KEY_ID_SIZE, true,
                                "the key file's key id", &key_id) ||
            !orch_key_body_text(c, body, "host", NAME_MAX_BYTES, true, "the host the file is on",
                                &host) ||
            !orch_key_body_text(c, body, "path", PATH_MAX_BYTES, true, "the file's absolute path",
                                &path))
                return;
        if (!plain_path(c, path) || !one_host(c, host))
                return;
        snprintf(where, sizeof(where), "%s:%s", host, path);
        decom[0] = 0;
        r = gone_system(c, system, key_id, where, decom);
        if (r < 0)
                return;
        if (r == 0) {
                s = orch_api_system_for(c, system, YB_ACCESS_ACT_SYSTEM);
                if (!s || !key_id_matches(c, s, "key.seen", key_id, where))
                        return;
                orch_key_decommission_state(c, system, decom);
        }
        r = yb_key_copies_find_file(c->d->catalog, system, host, path, &k);
        if (r >= 0) {
                id = k.id;
                snprintf(detail, sizeof(detail), "copy %" PRId64 " at %s presented%s%s%s", id,
                         where, decom[0] ? ": " : "", decom,
                         decom[0] ? ", yet a copy of the system's key is still held" : "");
                yb_daemon_audit(c->d, c->who, "key.seen", system, decom[0] ? "warning" : "ok",
                                detail);
                /* Its file exists: a withdrawal asked of it (it never existed) is void. */
                if (yb_key_copies_drop_withdrawal(c->d->catalog, id) > 0) {
                        snprintf(detail, sizeof(detail),
                                 "the withdrawal asked of copy %" PRId64 " is dropped: its key "
                                 "file was presented at %s, so the copy exists",
                                 id, where);
                        yb_daemon_audit(c->d, c->who, "key.withdraw", system, "warning", detail);
                }
                yb_key_copy_done(&k);
                orch_key_reply_copy(c, 200, id, true, true);
                return;
        }
        if (r != -ENOENT) {
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return;
        }
        /* A copy nobody registered: recorded, so that the decommission counts it too. */
        k = (YbKeyCopy){ .system = (char *) system,
                         .key_id = (char *) key_id,
                         .kind = (char *) YB_KEY_COPY_FILE,
                         .holder = (char *) c->who->name,
                         .host = (char *) host,
                         .path = (char *) path,
                         .registered_by = (char *) c->who->name,
                         .found = true };
        r = yb_key_copies_add(c->d->catalog, &k, yb_daemon_now(c->d), &id);
        if (r < 0) {
                yb_daemon_audit(c->d, c->who, "key.unregistered", system, "failed", strerror(-r));
                yb_http_error(c->resp, 500, "cannot record the key copy in the catalog: %s",
                              strerror(-r));
                return;
        }
        /* Where a copy was withdrawn as never having existed, a key file now is a warning. */
        if (yb_key_copies_find_withdrawn(c->d->catalog, system, host, path, &old) >= 0) {
                json_t *ev = old.evidence ? json_loads(old.evidence, 0, NULL) : NULL;
                const char *asker = json_string_value(
                        json_object_get(json_object_get(ev, "withdrawal"), "asked_by"));

                snprintf(gone, sizeof(gone),
                         "; copy %" PRId64 " at the same place was withdrawn as never having "
                         "existed (asked by %s, confirmed by %s): a key file is there",
                         old.id, asker ? asker : "?", old.destroyed_by ? old.destroyed_by : "?");
                json_decref(ev);
        }
        yb_key_copy_done(&old);
        snprintf(detail, sizeof(detail),
                 "a copy of the key of system '%s' (key id %s) at %s was not registered: recorded "
                 "as copy %" PRId64 " (found), presented by %s%s%s%s",
                 system, key_id, where, id, c->who->name, decom[0] ? "; " : "", decom, gone);
        yb_daemon_audit(c->d, c->who, "key.unregistered", system, "warning", detail);
        orch_key_reply_copy(c, 200, id, true, false);
}

bool orch_key_copy_for(Call *c, const char *id_s, bool holder_ok, YbKeyCopy *ret) {
        YbKeyCopy k = {};
        char dept[256];
        int64_t id;
        bool holder, sees;
        int r;

        if (!orch_api_parse_int(id_s, 1, INT64_MAX, &id)) {
                yb_http_error(c->resp, 404, "no key copy '%s'", id_s);
                return false;
        }
        r = yb_key_copies_get(c->d->catalog, id, &k);
        if (r == -ENOENT) {
                yb_http_error(c->resp, 404, "no key copy %" PRId64, id);
                return false;
        }
        if (r < 0) {
                yb_http_error(c->resp, 500, "cannot read the catalog: %s", strerror(-r));
                return false;
        }
        holder = holder_ok && streq(k.holder, c->who->name);
        /* A system without a policy now nor a decommission under way: operators and auditors
         * see it. */
        sees = orch_key_copy_department(c, k.system, dept, NULL)
                       ? yb_access_sees(c->who, dept)
                       : yb_access_allowed(c->who, YB_ACCESS_READ_AUDIT, NULL);
        if (!sees && !holder) {
                orch_api_deny(c, 404, "no key copy %" PRId64, id);
                yb_key_copy_done(&k);
                return false;
        }
        *ret = k;
        return true;
}

/* Refuses (409, audited) to record copy k destroyed again. */
static void already(Call *c, const YbKeyCopy *k, const char *action) {
        char when[32] = "?", msg[600];

        if (k->destroyed_usec > 0)
                orch_key_iso(k->destroyed_usec, when);
        snprintf(msg, sizeof(msg),
                 "key copy %" PRId64 " of system '%s' is %s already (by %s at %s)", k->id,
                 k->system, k->state, k->destroyed_by ? k->destroyed_by : "?", when);
        yb_daemon_audit(c->d, c->who, action, k->system, "denied", msg);
        yb_http_error(c->resp, 409, "%s", msg);
}

/* Whether ev is evidence about copy k's own file (its "host" and "path" are the copy's: a report
 * of another file cannot close this copy) that the certificate can carry (integers, no reals;
 * texts of UTF-8 without control characters). Refuses (400, audited) if not. */
static bool evidence_fits(Call *c, const YbKeyCopy *k, const json_t *ev) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        const char *host = json_string_value(json_object_get(ev, "host"));
        const char *path = json_string_value(json_object_get(ev, "path"));
        char why[300] = "", msg[2 * PATH_MAX_BYTES + 900];
        int r = yb_json_write(ev, -1, NULL, &b, why, sizeof(why));

        if (r == -ENOMEM) {
                yb_http_error(c->resp, 500, "out of memory");
                return false;
        }
        if (r < 0)
                snprintf(msg, sizeof(msg),
                         "the evidence for key copy %" PRId64 " cannot be kept: %s (integers and "
                         "texts without control characters only, as the certificate carries them)",
                         k->id, why);
        else if (!host || !path || !streq(host, k->host ? k->host : "") ||
                 !streq(path, k->path ? k->path : ""))
                snprintf(msg, sizeof(msg),
                         "the evidence is of the file %s:%s, not of key copy %" PRId64 " of system "
                         "'%s' (%s:%s): a report of one file cannot close another copy; run "
                         "'yunbak key destroy %s' on %s",
                         host ? host : "(no host)", path ? path : "(no path)", k->id, k->system,
                         k->host ? k->host : "?", k->path ? k->path : "?",
                         k->path ? k->path : "FILE", k->host ? k->host : "its host");
        else
                return true;
        yb_daemon_audit(c->d, c->who, "key.destroyed", k->system, "denied", msg);
        yb_http_error(c->resp, 400, "%s", msg);
        return false;
}

void orch_api_post_key_copy_destroyed(Call *c, const char *id_s) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_free_ char *evidence = NULL;
        char where[PATH_MAX_BYTES + 300], detail[PATH_MAX_BYTES + 700], dept[256];
        YbKeyCopy k = {};
        json_t *ev;
        int r;

        body = orch_api_body_object(c);
        if (!body)
                return;
        ev = json_object_get(body, "evidence");
        evidence = json_is_object(ev) ? json_dumps(ev, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        if (!evidence || strlen(evidence) > EVIDENCE_MAX_BYTES) {
                yb_http_error(c->resp, 400,
                              "evidence must be a JSON object of at most %d bytes: what `yunbak "
                              "key destroy` did and checked",
                              EVIDENCE_MAX_BYTES);
                return;
        }
        if (!orch_key_copy_for(c, id_s, false, &k))
                return;
        orch_key_copy_where(&k, where, sizeof(where));
        if (!yb_access_allowed(c->who, YB_ACCESS_ACT_SYSTEM,
                               orch_key_copy_department(c, k.system, dept, NULL) ? dept : NULL)) {
                orch_api_deny(c, 403,
                              "%s '%s' may not report key copy %" PRId64 " of system '%s' "
                              "destroyed: its department or an operator does",
                              yb_role_to_string(c->who->role), c->who->name, k.id, k.system);
                goto out;
        }
        if (streq(k.kind, YB_KEY_COPY_OFFLINE)) {
                snprintf(detail, sizeof(detail),
                         "key copy %" PRId64 " of system '%s' is an offline copy (%s): its holder "
                         "%s attests its destruction ('yunbak key attest-destroyed --copy %" PRId64
                         "')",
                         k.id, k.system, k.note ? k.note : "no note", k.holder, k.id);
                yb_daemon_audit(c->d, c->who, "key.destroyed", k.system, "denied", detail);
                yb_http_error(c->resp, 409, "%s", detail);
                goto out;
        }
        if (!streq(k.state, YB_KEY_COPY_HELD)) {
                already(c, &k, "key.destroyed");
                goto out;
        }
        if (!evidence_fits(c, &k, ev))
                goto out;
        r = yb_key_copies_destroyed(c->d->catalog, k.id, YB_KEY_COPY_DESTROYED, c->who->name,
                                    yb_daemon_now(c->d), evidence);
        if (r == -EALREADY) {
                /* Reported by someone else since it was read: say by whom. */
                int64_t id = k.id;

                yb_key_copy_done(&k);
                if (yb_key_copies_get(c->d->catalog, id, &k) >= 0)
                        already(c, &k, "key.destroyed");
                else
                        yb_http_error(c->resp, 409, "key copy %" PRId64 " is not held any more",
                                      id);
                goto out;
        }
        if (r < 0) {
                yb_daemon_audit(c->d, c->who, "key.destroyed", k.system, "failed", strerror(-r));
                yb_http_error(c->resp, 500, "cannot record the destruction in the catalog: %s",
                              strerror(-r));
                goto out;
        }
        snprintf(detail, sizeof(detail), "copy %" PRId64 " at %s destroyed: %s", k.id, where,
                 evidence);
        yb_daemon_audit(c->d, c->who, "key.destroyed", k.system, "ok", detail);
        orch_key_reply_copy(c, 200, k.id, false, false);
out:
        yb_key_copy_done(&k);
}

/* The signed attestation of copy k's destruction, as JSON text in *ret; answers and false when
 * it cannot be made. */
static bool attestation(Call *c, const YbKeyCopy *k, const char *statement, const char *method,
                        const char *witness, char **ret) {
        _cleanup_(json_decrefp) json_t *doc = NULL;
        json_t *at = orch_key_time_json(yb_daemon_now(c->d));
        int r;

        doc = json_pack("{s:s, s:s, s:o, s:s, s:o, s:I, s:s, s:s}", "statement", statement,
                        "method", method, "witness", orch_api_text_or_null(witness), "holder",
                        c->who->name, "at", at, "copy", (json_int_t) k->id, "system", k->system,
                        "key_id", k->key_id ? k->key_id : "");
        r = doc ? yb_signed_sign(doc, c->d->key) : -ENOMEM;
        if (r < 0) {
                yb_daemon_audit(c->d, c->who, "key.attested", k->system, "failed",
                                "yunbakd could not sign the attestation");
                yb_http_error(c->resp, 500,
                              "yunbakd cannot sign the attestation of key copy %" PRId64 ": %s; "
                              "nothing was recorded, try again once it can",
                              k->id,
                              r == -ENOSYS ? "signing documents is not built into this yunbakd"
                                           : strerror(-r));
                return false;
        }
        *ret = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        if (!*ret) {
                yb_http_error(c->resp, 500, "out of memory");
                return false;
        }
        return true;
}

void orch_api_post_key_copy_attest(Call *c, const char *id_s) {
        _cleanup_(json_decrefp) json_t *body = NULL;
        _cleanup_free_ char *evidence = NULL, *made = NULL;
        const char *statement, *method, *witness;
        char detail[TEXT_MAX_BYTES * 2 + 400];
        YbKeyCopy k = {};
        int r;

        body = orch_api_body_object(c);
        if (!body ||
            !orch_key_body_text(c, body, "method", TEXT_MAX_BYTES, true,
                                "how the copy was destroyed: shredded, burnt, the medium crushed",
                                &method) ||
            !orch_key_body_text(c, body, "witness", NAME_MAX_BYTES, false, "who saw it",
                                &witness) ||
            !orch_key_body_text(c, body, "statement", TEXT_MAX_BYTES, false,
                                "the holder's statement", &statement))
                return;
        if (!orch_key_copy_for(c, id_s, true, &k))
                return;
        if (!streq(k.holder, c->who->name)) {
                orch_api_deny(c, 403,
                              "only the holder of key copy %" PRId64 " of system '%s' (%s) may "
                              "attest its destruction, not %s",
                              k.id, k.system, k.holder, c->who->name);
                goto out;
        }
        if (!streq(k.kind, YB_KEY_COPY_OFFLINE)) {
                snprintf(detail, sizeof(detail),
                         "key copy %" PRId64 " of system '%s' is a file at %s:%s: run 'yunbak key "
                         "destroy %s' on %s, which overwrites, deletes and checks it; an "
                         "attestation proves less and is taken for offline copies only",
                         k.id, k.system, k.host ? k.host : "?", k.path ? k.path : "?",
                         k.path ? k.path : "FILE", k.host ? k.host : "its host");
                yb_daemon_audit(c->d, c->who, "key.attested", k.system, "denied", detail);
                yb_http_error(c->resp, 409, "%s", detail);
                goto out;
        }
        if (!streq(k.state, YB_KEY_COPY_HELD)) {
                already(c, &k, "key.attested");
                goto out;
        }
        if (!statement) {
                if (asprintf(&made,
                             "I, %s, destroyed copy %" PRId64 " of the private key of system "
                             "'%s' (key id %s), kept offline as: %s. Method: %s.%s%s",
                             c->who->name, k.id, k.system, k.key_id ? k.key_id : "?",
                             k.note ? k.note : "-", method, witness ? " Witness: " : "",
                             witness ? witness : "") < 0) {
                        yb_http_error(c->resp, 500, "out of memory");
                        goto out;
                }
                statement = made;
        }
        if (!attestation(c, &k, statement, method, witness, &evidence))
                goto out;
        r = yb_key_copies_destroyed(c->d->catalog, k.id, YB_KEY_COPY_ATTESTED, c->who->name,
                                    yb_daemon_now(c->d), evidence);
        if (r < 0) {
                yb_daemon_audit(c->d, c->who, "key.attested", k.system, "failed", strerror(-r));
                yb_http_error(c->resp, r == -EALREADY ? 409 : 500,
                              "cannot record the attestation of key copy %" PRId64 ": %s", k.id,
                              r == -EALREADY ? "it is not held any more" : strerror(-r));
                goto out;
        }
        snprintf(detail, sizeof(detail), "copy %" PRId64 " (offline: %s) attested destroyed: %s",
                 k.id, k.note ? k.note : "-", statement);
        yb_daemon_audit(c->d, c->who, "key.attested", k.system, "ok", detail);
        orch_key_reply_copy(c, 200, k.id, false, false);
out:
        yb_key_copy_done(&k);
}
