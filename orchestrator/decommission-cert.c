/* orchestrator/decommission-cert.c: the step "certificate" of a decommission
 * (docs/decommission.md, "Certificate"): the document filled from the decommission's row, its
 * steps' artifacts and its key copies, checked (core/evidence/certificate.h: an inconsistent
 * certificate is never signed), signed with yunbakd's key, kept in the catalog as the bytes of
 * its file, and the decommission certified. Every claim comes from what a step recorded: nothing
 * here says more than the steps did. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "catalog/keycopies.h"
#include "core/base/buf.h"
#include "core/base/log.h"
#include "core/evidence/certificate.h"
#include "core/evidence/signed.h"
#include "orchestrator/decommission-internal.h"

static json_t *date_json(int64_t usec) {
        char d[32];

        if (usec <= 0)
                return json_null();
        orch_decom_date(usec, d);
        return json_string(d);
}

static json_t *text_json(const char *s) {
        return s && *s ? json_string(s) : json_null();
}

/* The medium of an artifact as erase reported it; null when not known (the agent's state:
 * then no overwrite is claimed, and operator_must says what is left). */
static json_t *medium_or_null(json_t *m) {
        return json_is_object(m) ? json_incref(m) : json_null();
}

/* An artifact's methods, NIST category and claim: core/evidence's one rule
 * (yb_certificate_set_methods), from its kind, medium and whether the overwrite was made. */
static json_t *with_methods(json_t *o, bool overwritten) {
        if (o && yb_certificate_set_methods(o, overwritten) < 0)
                o = (json_decref(o), NULL);
        return o;
}

/* What the operator must still do where no effective overwrite is claimed: the medium's words,
 * or (a medium that says nothing) fallback. NULL where the overwrite reached the blocks. */
static json_t *must_json(json_t *m, bool overwritten, const char *fallback) {
        const char *s = json_string_value(json_object_get(m, "operator_must"));

        if (overwritten && json_is_true(json_object_get(m, "overwrite_effective")))
                return json_null();
        return json_string(s && *s ? s : fallback);
}

/* A store's repository of the system (the step's artifact: the erase report and the
 * catalog's counts). */
/* Whether the store step s deleted anything (a run again that found nothing keeps the first
 * run's report). */
static bool erased_any(const YbDecomStep *s) {
        json_t *a = json_loads(s->artifact ? s->artifact : "{}", 0, NULL);
        bool any = json_integer_value(json_object_get(json_object_get(a, "erase"), "files")) > 0;

        json_decref(a);
        return any;
}

static json_t *backups_artifact(const YbDecomStep *s, const char *verify_detail) {
        json_t *a = json_loads(s->artifact ? s->artifact : "{}", 0, NULL);
        json_t *erase = json_object_get(a, "erase"), *m = json_object_get(erase, "medium");
        bool ow = json_is_true(json_object_get(erase, "overwritten"));
        /* A store step run again after yunbakd was killed in it finds the repository gone:
         * its size is then the one the catalog knew. */
        int64_t size = json_integer_value(json_object_get(erase, "bytes"))
                               ?: json_integer_value(json_object_get(a, "bytes"));
        json_t *o = json_pack(
                "{s:s, s:s, s:O, s:O, s:I, s:I, s:o, s:{s:s, s:s, s:s}, s:o, s:o}", "kind",
                "backups", "name", s->target, "tiers", json_object_get(a, "tiers") ?: json_array(),
                "location", json_object_get(a, "location") ?: json_string(s->target), "size_bytes",
                (json_int_t) size, "files",
                (json_int_t) json_integer_value(json_object_get(erase, "files")), "medium",
                medium_or_null(m), "verification", "method", "store listed and probed", "result",
                "passed", "detail", verify_detail, "operator_must",
                must_json(m, ow, "destroy or purge the store's volume if it is reused"), "when",
                date_json(s->finished_usec));

        json_decref(a);
        return with_methods(o, ow);
}

/* What S3 Object Lock keeps of the system's repository in a store (an entry of the verify step's
 * "locked": each object with its date) as an artifact: crypto-erased, its deletion blocked until
 * its date: never "deleted", never "overwritten" (core/evidence's rule for "state": "locked"). */
#define LOCKED_NAMED 20
static json_t *locked_artifact(json_t *l, const YbDecomStep *steps, size_t n_steps) {
        const char *store = json_string_value(json_object_get(l, "store")),
                   *location = json_string_value(json_object_get(l, "location")),
                   *until = json_string_value(json_object_get(l, "until"));
        json_t *objects = json_object_get(l, "objects"), *o, *a = NULL, *tiers, *m;
        _cleanup_(yb_buf_done) YbBuf detail = YB_BUF_INIT;
        _cleanup_free_ char *must = NULL;
        size_t i;

        if (!store || !location || !until)
                return NULL;
        for (i = 0; i < n_steps && !a; i++)
                if (streq(steps[i].step, "store") && streq(steps[i].target, store) &&
                    steps[i].artifact)
                        a = json_loads(steps[i].artifact, 0, NULL);
        tiers = json_object_get(a, "tiers");
        m = json_object_get(json_object_get(a, "erase"), "medium");
        (void) yb_buf_printf(&detail, "%zu object%s left, each under Object Lock: ",
                             json_array_size(objects), json_array_size(objects) == 1 ? "" : "s");
        json_array_foreach(objects, i, o) {
                if (i == LOCKED_NAMED) {
                        (void) yb_buf_printf(&detail, ", and %zu more (the verify step names each)",
                                             json_array_size(objects) - i);
                        break;
                }
                (void) yb_buf_printf(&detail, "%s%s until %s", i ? ", " : "",
                                     json_string_value(json_object_get(o, "path")),
                                     json_string_value(json_object_get(o, "until")));
        }
        if (yb_buf_append(&detail, "", 1) < 0 ||
            asprintf(&must,
                     "delete what is left at %s once Object Lock lets it, from %s (each object's "
                     "date is named in the verification; a lifecycle rule on the bucket can do "
                     "it); until then it is ciphertext whose key is destroyed",
                     location, until) < 0) {
                json_decref(a);
                return NULL;
        }
        o = json_pack("{s:s, s:s, s:O, s:s, s:I, s:I, s:o, s:s, s:s, s:{s:s, s:s, s:s}, s:s, "
                      "s:n}",
                      "kind", "backups", "name", store, "tiers", tiers ?: json_array(), "location",
                      location, "size_bytes",
                      (json_int_t) json_integer_value(json_object_get(l, "bytes")), "files",
                      (json_int_t) json_array_size(objects), "medium", medium_or_null(m), "state",
                      "locked", "locked_until", until, "verification", "method",
                      "each object left listed with its Object Lock retain-until date", "result",
                      "locked", "detail", (const char *) detail.data, "operator_must", must,
                      "when");
        json_decref(a);
        return with_methods(o, false);
}

/* Whether the verify step found something Object Lock keeps in store. */
static bool store_locked(json_t *verify_art, const char *store) {
        size_t i;
        json_t *l;

        json_array_foreach(json_object_get(verify_art, "locked"), i,
                           l) if (streq(json_string_value(json_object_get(l, "store")) ?: "",
                                        store)) return true;
        return false;
}

/* A source path the agent cleared (one of its result's "paths"). */
static json_t *source_artifact(const char *host, json_t *p, int64_t when) {
        json_t *m = json_object_get(p, "medium");
        bool ow = json_is_true(json_object_get(p, "overwritten"));
        const char *path = json_string_value(json_object_get(p, "path"));
        char location[1200];

        snprintf(location, sizeof(location), "%s:%s", host, path ? path : "?");
        return with_methods(
                json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:{s:s, s:s, s:s}, s:o, s:o}", "kind",
                          "source-path", "name", path ? path : "?", "location", location,
                          "size_bytes",
                          (json_int_t) json_integer_value(json_object_get(p, "bytes")), "files",
                          (json_int_t) json_integer_value(json_object_get(p, "files")), "medium",
                          medium_or_null(m), "verification", "method",
                          "the path was listed empty after clearing", "result",
                          json_is_true(json_object_get(p, "verified")) ? "passed" : "failed",
                          "detail", json_string_value(json_object_get(p, "result")) ?: "wiped",
                          "operator_must",
                          must_json(m, ow,
                                    "destroy or purge the volume that held this path: a "
                                    "deletion leaves the data on it until overwritten"),
                          "when", date_json(when)),
                ow);
}

/* The agent's own state of the system (signature caches, replicator state, spools). */
static json_t *agent_state_artifact(const char *host, json_t *st, int64_t when) {
        char location[300];
        json_t *removed = json_object_get(st, "removed");

        snprintf(location, sizeof(location), "%s: the agent's state directory", host);
        return with_methods(
                json_pack("{s:s, s:s, s:s, s:I, s:I, s:o, s:{s:s, s:s, s:s}, s:s, s:o}", "kind",
                          "agent-state", "name", "agent state", "location", location, "size_bytes",
                          (json_int_t) json_integer_value(json_object_get(st, "bytes")), "files",
                          (json_int_t) json_array_size(removed), "medium", medium_or_null(NULL),
                          "verification", "method", "yunbak-agent wipe removed it", "result",
                          "passed", "detail",
                          "the agent's signature caches, replicator state and spools of the system",
                          "operator_must",
                          "destroy or purge the host's volume if it is reused: a deletion leaves "
                          "the data on it until overwritten",
                          "when", date_json(when)),
                false);
}

/* A key copy registered by mistake and withdrawn by two people (its signed withdrawal): named
 * as withdrawn, never as destroyed. */
static json_t *withdrawn_artifact(const YbKeyCopy *k, const char *location) {
        json_t *ev = k->evidence ? json_loads(k->evidence, 0, NULL) : NULL;
        json_t *w = json_object_get(ev, "withdrawal"), *o;
        char name[64], method[600];

        snprintf(name, sizeof(name), "key copy %" PRId64, k->id);
        snprintf(method, sizeof(method),
                 "withdrawn by two people: asked by %s, confirmed by %s (an operator); signed by "
                 "yunbakd",
                 json_string_value(json_object_get(w, "asked_by")) ?: "?",
                 json_string_value(json_object_get(w, "confirmed_by")) ?: "?");
        o = json_pack("{s:s, s:s, s:s, s:n, s:n, s:n, s:{s:s, s:s, s:O?}, s:n, s:s, s:s, s:o, "
                      "s:{s:O?, s:{s:O?, s:O?}, s:{s:O?, s:O?}}}",
                      "kind", "key-copy", "name", name, "location", location, "size_bytes", "files",
                      "medium", "verification", "method", method, "result", "withdrawn", "detail",
                      json_object_get(w, "reason"), "operator_must", "holder", k->holder, "state",
                      k->state, "when", date_json(k->destroyed_usec), "withdrawal", "reason",
                      json_object_get(w, "reason"), "asked", "by", json_object_get(w, "asked_by"),
                      "at", json_object_get(w, "asked"), "confirmed", "by",
                      json_object_get(w, "confirmed_by"), "at", json_object_get(w, "confirmed"));
        json_decref(ev);
        return with_methods(o, false);
}

/* Appends artifact o (NULL: it could not be made, and the certificate is not issued). */
static void add(json_t *arts, json_t *o, bool *ok) {
        if (!o || json_array_append_new(arts, o) < 0)
                *ok = false;
}

/* Something on host that wipe did not clear and that rests on the operator's attestation att
 * that the host was destroyed (decommission-attest.c): "attested", never verified. */
static json_t *host_attested(const char *kind, const char *name, const char *location, json_t *att,
                             const char *not_cleared) {
        const char *ref = json_string_value(json_object_get(att, "reference"));
        _cleanup_free_ char *detail = NULL;

        if (asprintf(&detail, "%s at %s: %s%s%s%s; not cleared by yunbak-agent wipe: %s",
                     json_string_value(json_object_get(att, "by")) ?: "?",
                     json_string_value(json_object_get(att, "at")) ?: "?",
                     json_string_value(json_object_get(att, "statement")) ?: "",
                     ref ? " (reference: " : "", ref ? ref : "", ref ? ")" : "",
                     not_cleared ? not_cleared : "-") < 0)
                return NULL;
        return with_methods(
                json_pack("{s:s, s:s, s:s, s:n, s:n, s:n, s:s, s:{s:s, s:s, s:s}, s:n, s:O}",
                          "kind", kind, "name", name, "location", location, "size_bytes", "files",
                          "medium", "state", "attested", "verification", "method",
                          "the operator's attestation that the host was destroyed, signed by "
                          "yunbakd",
                          "result", "attested", "detail", detail, "operator_must", "when",
                          json_object_get(att, "at") ?: json_null()),
                false);
}

/* Whether path p of a wipe result was cleared: wiped (or absent already), nothing left. */
static bool cleared(json_t *p) {
        const char *r = json_string_value(json_object_get(p, "result"));

        return r && (streq(r, "wiped") || streq(r, "already-absent")) &&
               json_integer_value(json_object_get(p, "left")) == 0;
}

/* The artifacts of an agent step that ended "attested": the paths wipe cleared as they were,
 * every other source (all of them when the host was not reached) and the agent's state unless
 * wipe removed it, on the operator's word. */
static void attested_step(const YbDecomStep *s, json_t *arts, bool *ok) {
        json_t *a = json_loads(s->artifact, 0, NULL), *att = json_object_get(a, "attestation");
        json_t *paths = json_object_get(a, "paths"), *st = json_object_get(a, "state"), *p, *q;
        const char *why = json_string_value(json_object_get(a, "not_cleared"));
        char location[1200];
        size_t i, k;

        if (!json_is_object(att)) {
                *ok = false;
                json_decref(a);
                return;
        }
        json_array_foreach(paths, i, p) {
                const char *path = json_string_value(json_object_get(p, "path")) ?: "?";

                snprintf(location, sizeof(location), "%s:%s", s->target, path);
                add(arts,
                    cleared(p) ? source_artifact(s->target, p, s->finished_usec)
                               : host_attested("source-path", path, location, att, why),
                    ok);
        }
        json_array_foreach(json_object_get(a, "sources"), i, q) {
                bool listed = false;

                json_array_foreach(paths, k, p) listed =
                        listed || json_equal(json_object_get(p, "path"), q);
                if (listed || !json_is_string(q))
                        continue;
                snprintf(location, sizeof(location), "%s:%s", s->target, json_string_value(q));
                add(arts, host_attested("source-path", json_string_value(q), location, att, why),
                    ok);
        }
        snprintf(location, sizeof(location), "%s: the agent's state directory", s->target);
        if (json_is_true(json_object_get(a, "touched")) && json_is_object(st) &&
            json_is_null(json_object_get(st, "error")))
                add(arts, agent_state_artifact(s->target, st, s->finished_usec), ok);
        else
                add(arts, host_attested("agent-state", "agent state", location, att, why), ok);
        json_decref(a);
}

/* How a key file's destruction was checked, from its evidence (what `yunbak key destroy`
 * reported: its method and the checks it made and passed), never a fixed sentence: *method and
 * *detail are set (the caller frees them). */
static void key_file_check(json_t *ev, char **method, char **detail) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        const char *m = json_string_value(json_object_get(ev, "method"));
        json_t *checks = json_object_get(ev, "checks"), *c;
        size_t i;

        if (asprintf(method, "yunbak key destroy on its host (%s%s)", m ? m : "method not reported",
                     json_is_true(json_object_get(ev, "overwritten"))
                             ? ": overwritten in place before the unlink"
                             : ": not overwritten, deleted only") < 0)
                *method = NULL;
        json_array_foreach(checks, i, c) {
                if (json_is_string(c))
                        (void) yb_buf_printf(&b, "%s%s",
                                             b.size ? "; " : "checks made: ", json_string_value(c));
        }
        if (b.size == 0)
                (void) yb_buf_printf(&b, "no checks were reported with the destruction");
        (void) yb_buf_append(&b, "", 1);
        *detail = strdup((const char *) b.data);
}

/* A key copy: a file destroyed by `yunbak key destroy` (its evidence), an offline copy
 * attested by its holder (never verified), or one withdrawn (withdrawn_artifact). */
static json_t *key_artifact(const YbKeyCopy *k) {
        bool offline = streq(k->kind, YB_KEY_COPY_OFFLINE);
        json_t *ev = k->evidence ? json_loads(k->evidence, 0, NULL) : NULL;
        json_t *m = json_object_get(ev, "medium");
        bool ow = !offline && json_is_true(json_object_get(ev, "overwritten"));
        _cleanup_free_ char *method = NULL, *detail = NULL;
        char name[64], location[1200];
        json_t *o;

        snprintf(name, sizeof(name), "key copy %" PRId64, k->id);
        if (offline)
                snprintf(location, sizeof(location), "offline: %s", k->note ? k->note : "");
        else {
                snprintf(location, sizeof(location), "%s:%s", k->host ? k->host : "?",
                         k->path ? k->path : "?");
                if (!streq(k->state, YB_KEY_COPY_WITHDRAWN)) {
                        key_file_check(ev, &method, &detail);
                        if (!method || !detail)
                                return json_decref(ev), NULL;
                }
        }
        if (streq(k->state, YB_KEY_COPY_WITHDRAWN)) {
                json_decref(ev);
                return withdrawn_artifact(k, location);
        }
        /* A paper or removable copy's size is not known: null, not 0. */
        o = json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:o}", "kind", "key-copy",
                      "name", name, "location", location, "size_bytes",
                      offline ? json_null()
                              : json_integer(json_integer_value(json_object_get(ev, "bytes"))),
                      "files", offline ? json_null() : json_integer(1), "medium",
                      offline ? json_null() : medium_or_null(m), "verification",
                      offline ? json_pack("{s:s, s:s, s:s?}", "method",
                                          "the holder's attestation, signed by yunbakd", "result",
                                          "attested", "detail",
                                          json_string_value(json_object_get(ev, "statement")))
                              : json_pack("{s:s, s:s, s:s}", "method", method, "result", "passed",
                                          "detail", detail),
                      "operator_must",
                      offline ? json_null()
                              : must_json(m, ow,
                                          "destroy or purge the volume the key file was on: its "
                                          "deletion leaves the bytes there until overwritten"),
                      "holder", k->holder, "state", k->state, "when", date_json(k->destroyed_usec));
        json_decref(ev);
        return with_methods(o, ow);
}

static json_t *col(sqlite3_stmt *row, int i) {
        const char *t = (const char *) sqlite3_column_text(row, i);

        return json_string(t ? t : "");
}

static int sys_row(void *ud, sqlite3_stmt *row) {
        json_t *s = ud;

        json_object_set_new(s, "name", col(row, 0));
        json_object_set_new(s, "department", col(row, 1));
        json_object_set_new(s, "classification", col(row, 2));
        return 0;
}

static int seq_row(void *ud, sqlite3_stmt *row) {
        *(int64_t *) ud = sqlite3_column_int64(row, 0);
        return 0;
}

/* The document, unsigned; under lock. NULL when some part of it could not be read or made:
 * a certificate that leaves out an artifact is never issued. */
static json_t *fill(OrchDecomRun *x, const YbDecommission *row, int64_t id, int64_t now) {
        YbDecomStep *steps = NULL;
        YbKeyCopy *keys = NULL;
        size_t n_steps = 0, n_keys = 0, i;
        json_t *sys, *arts = json_array(), *doc, *export, *handed = json_null();
        const char *verify_detail = "", *verify_method = "";
        char host[256] = "", *pk = NULL;
        bool confirmed = streq(x->export_state, "confirmed");
        json_t *verify_art = NULL, *l;
        const char *latest = NULL;
        bool ok = true;

        (void) gethostname(host, sizeof(host) - 1);
        (void) yb_base64_encode(x->d->key->sign_pk, 32, &pk);
        sys = json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", x->system, "name", x->system,
                        "department", row->department, "classification", "", "key_id", x->key_id);
        (void) yb_catalog_query(x->d->catalog,
                                "SELECT name, department, grade FROM systems WHERE id = ?", sys_row,
                                sys, "t", x->system);
        if (yb_decom_steps_list(x->d->catalog, x->id, &steps, &n_steps) < 0)
                ok = false;
        for (i = 0; i < n_steps; i++)
                if (streq(steps[i].step, "verify") && steps[i].detail) {
                        verify_detail = steps[i].detail;
                        verify_art =
                                steps[i].artifact ? json_loads(steps[i].artifact, 0, NULL) : NULL;
                        verify_method =
                                json_string_value(json_object_get(verify_art, "method")) ?: "";
                }
        for (i = 0; i < n_steps; i++) {
                json_t *a;

                if (streq(steps[i].step, "agent") && streq(steps[i].state, "attested") &&
                    steps[i].artifact) {
                        attested_step(&steps[i], arts, &ok);
                        continue;
                }
                if (!streq(steps[i].state, "done"))
                        continue;
                /* A store where Object Lock kept everything: nothing was deleted there. */
                if (streq(steps[i].step, "store") &&
                    !(store_locked(verify_art, steps[i].target) && !erased_any(&steps[i])))
                        add(arts, backups_artifact(&steps[i], verify_detail), &ok);
                if (!streq(steps[i].step, "agent") || !steps[i].artifact)
                        continue;
                a = json_loads(steps[i].artifact, 0, NULL);
                for (size_t k = 0; k < json_array_size(json_object_get(a, "paths")); k++)
                        add(arts,
                            source_artifact(steps[i].target,
                                            json_array_get(json_object_get(a, "paths"), k),
                                            steps[i].finished_usec),
                            &ok);
                add(arts,
                    agent_state_artifact(steps[i].target, json_object_get(a, "state"),
                                         steps[i].finished_usec),
                    &ok);
                json_decref(a);
        }
        json_array_foreach(json_object_get(verify_art, "locked"), i, l) {
                const char *until = json_string_value(json_object_get(l, "until"));

                add(arts, locked_artifact(l, steps, n_steps), &ok);
                if (until && (!latest || strcmp(until, latest) > 0))
                        latest = until;
        }
        n_keys = 0;
        if (yb_key_copies_list(x->d->catalog, x->system, &keys, &n_keys) < 0)
                ok = false;
        for (i = 0; i < n_keys; i++)
                add(arts, key_artifact(&keys[i]), &ok);
        export = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o}", "state",
                           confirmed ? "confirmed" : "waived", "by", text_json(row->export_by),
                           "at", date_json(row->export_usec), "note", text_json(row->export_note),
                           "store", text_json(confirmed ? row->export_store : NULL), "snapshot",
                           text_json(confirmed ? row->export_snapshot : NULL), "key_id",
                           text_json(confirmed ? row->export_key_id : NULL));
        if (confirmed && row->export_store && row->export_snapshot)
                handed = json_pack("{s:s, s:s, s:o}", "store", row->export_store, "snapshot",
                                   row->export_snapshot, "key_id", text_json(row->export_key_id));
        doc = json_pack(
                "{s:s, s:i, s:I, s:o, s:{s:s, s:s, s:s, s:s}, s:o, "
                "s:{s:I, s:s, s:o, s:o, s:{s:s, s:o}, s:{s:o, s:o, s:o}, s:o, "
                "s:{s:o, s:o, s:o}, s:{s:o, s:s, s:s}}, s:o, s:o}",
                "type", YB_CERTIFICATE_TYPE, "version", YB_CERTIFICATE_VERSION, "id",
                (json_int_t) id, "issued", date_json(now), "issuer", "tool", "yunbak", "version",
                YB_VERSION, "host", host, "ed25519", pk ? pk : "", "system", sys, "decommission",
                "id", (json_int_t) x->id, "reason", row->reason, "not_before",
                date_json(row->not_before_usec), "lock_until", date_json(x->lock_until_usec),
                "requested", "by", row->requested_by, "at", date_json(row->requested_usec),
                "approved", "by", text_json(row->decided_by), "at", date_json(row->decided_usec),
                "note", text_json(row->decision_note), "export", export, "executed", "by",
                text_json(row->executed_by), "started", date_json(row->execute_started_usec),
                "finished",
                date_json(row->execute_finished_usec > 0 ? row->execute_finished_usec : now),
                "verified", "at", date_json(row->verified_usec > 0 ? row->verified_usec : now),
                "method", verify_method, "result", "passed", "artifacts", arts, "handed_over",
                handed);
        /* The latest date Object Lock keeps anything of the system until, once for the whole. */
        if (doc && latest && json_object_set_new(doc, "object_lock_until", json_string(latest)) < 0)
                ok = false;
        json_decref(verify_art);
        yb_decom_steps_free(steps, n_steps);
        yb_key_copies_free(keys, n_keys);
        free(pk);
        if (!ok)
                doc = (json_decref(doc), NULL);
        return doc;
}

int orch_decom_certify(OrchDecomRun *x, char *why, size_t why_size) {
        YbDaemon *d = x->d;
        YbDecommission row = {};
        _cleanup_free_ char *body = NULL;
        int64_t start, next = 0, id = 0;
        char detail[256], cwhy[512] = "";
        json_t *doc = NULL;
        int r;

        pthread_mutex_lock(&d->lock);
        start = yb_daemon_now(d);
        pthread_mutex_unlock(&d->lock);
        (void) orch_decom_step(x, "certificate", "-", "running", start, NULL, NULL);
        orch_decom_kill_hook("certificate");

        pthread_mutex_lock(&d->lock);
        r = yb_decommissions_get(d->catalog, x->id, &row);
        /* The id it will get, for the document it is in: taken and used under one lock. */
        if (r >= 0)
                r = yb_catalog_query(d->catalog,
                                     "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE"
                                     " name = 'certificates'",
                                     seq_row, &next, "");
        if (r >= 0 && !(doc = fill(x, &row, next + 1, start))) {
                r = -EIO;
                snprintf(why, why_size,
                         "the certificate of decommission %" PRId64 " could not be filled (a "
                         "step's record or the key copies could not be read from the catalog, "
                         "or memory ran out): it is not issued; verify again",
                         x->id);
        }
        if (r >= 0 && yb_certificate_check(doc, cwhy, sizeof(cwhy)) < 0) {
                r = -EINVAL;
                snprintf(why, why_size,
                         "the certificate of decommission %" PRId64 " would not be consistent "
                         "(%s): it is not signed; report this as a bug",
                         x->id, cwhy);
        }
        if (r >= 0 && (r = yb_signed_sign(doc, d->key)) < 0)
                snprintf(why, why_size, "cannot sign the certificate: %s", strerror(-r));
        if (r >= 0 && (r = yb_signed_dump(doc, &body)) < 0)
                snprintf(why, why_size, "cannot write the certificate: %s", strerror(-r));
        if (r >= 0) {
                r = yb_certificates_add(d->catalog, x->system, x->id, start, body, &id);
                if (r >= 0 && id != next + 1)
                        r = -ESTALE;
                if (r < 0)
                        snprintf(why, why_size, "the catalog did not keep the certificate: %s",
                                 strerror(-r));
        }
        if (r >= 0) {
                free(row.state);
                row.state = strdup(YB_DECOM_CERTIFIED);
                row.certificate = id;
                row.execute_finished_usec = row.execute_finished_usec ?: start;
                free(row.last_error);
                row.last_error = NULL;
                row.updated_usec = start;
                r = row.state ? yb_decommissions_update(d->catalog, &row) : -ENOMEM;
                if (r < 0)
                        snprintf(why, why_size, "the catalog did not take the state certified: %s",
                                 strerror(-r));
        }
        if (r >= 0) {
                YbPerson by = { x->by_name, x->by_uid, x->by_role, x->by_department };

                orch_decom_set_status(d, x->system, x->id, YB_DECOM_CERTIFIED, id);
                snprintf(detail, sizeof(detail),
                         "decommission %" PRId64 ": certificate %" PRId64 " issued, signed by "
                         "yunbakd",
                         x->id, id);
                yb_daemon_audit(d, &by, "decommission.certificate", x->system, "ok", detail);
        } else if (!*why)
                snprintf(why, why_size, "cannot issue the certificate: %s", strerror(-r));
        pthread_mutex_unlock(&d->lock);
        json_decref(doc);
        yb_decommission_done(&row);
        if (r >= 0) {
                snprintf(detail, sizeof(detail), "certificate %" PRId64 " issued", id);
                (void) orch_decom_step(x, "certificate", "-", "done", start, detail, NULL);
        } else
                (void) orch_decom_step(x, "certificate", "-", "failed", start, why, NULL);
        return r;
}
