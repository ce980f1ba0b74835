/* The decommission certificate's fields and their rules (certificate.h; docs/decommission.md,
 * "Certificate"): yb_certificate_check, and the result in words that the page and
 * `yunbak certificate show` both print.
 *
 * The rules keep a certificate honest, not only well-formed: each artifact's methods, NIST SP
 * 800-88 category, claim and verification must agree with one another and with its medium (an
 * overwrite is claimed only where the medium made it effective; where it did not, the operator
 * is told what is left to do; an attested key copy is never "passed"), and the people and the
 * export must agree with the two-person flow. yunbakd signs nothing that fails them. */
#include "core/evidence/certificate.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/ident.h"
#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "core/crypto/keys.h"
#include "core/evidence/jsonwrite.h"

typedef struct Check {
        char *why;
        size_t why_size;
} Check;

static int bad(Check *c, const char *path, const char *key, const char *fmt, ...) _printf_(4, 5);
static int bad(Check *c, const char *path, const char *key, const char *fmt, ...) {
        char problem[384];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(problem, sizeof(problem), fmt, ap);
        va_end(ap);
        if (c->why && c->why_size > 0)
                snprintf(c->why, c->why_size, "%s%s%s: %s", path, *path && key ? "." : "",
                         key ?: "", problem);
        return -EINVAL;
}

/* "2026-12-06T15:04:05Z", with an optional fraction of a second: UTC, as the format says. */
static bool time_valid(const char *s) {
        static const char shape[] = "dddd-dd-ddTdd:dd:dd";
        size_t i, n = strlen(s);
        int64_t ns;

        if (n < sizeof(shape) || s[n - 1] != 'Z')
                return false;
        for (i = 0; i < sizeof(shape) - 1; i++)
                if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
                        return false;
        if (s[i] == '.') {
                size_t digits = strspn(s + i + 1, "0123456789");

                if (digits < 1 || digits > 9)
                        return false;
                i += 1 + digits;
        }
        return i == n - 1 && yb_time_parse(s, &ns) == 0;
}

static bool hex16(const char *s) {
        return strlen(s) == 16 && strspn(s, "0123456789abcdef") == 16;
}

enum {
        OPT = 1 << 0,   /* may be absent */
        NUL = 1 << 1,   /* may be null */
        EMPTY = 1 << 2, /* a string may be empty */
        TIME = 1 << 3,  /* a string is a time */
        HEX16 = 1 << 4, /* a string is a key id */
};

/* The string member key of o (path names o), or NULL (in *ret) when null or absent as flags
 * allow. */
static int str(Check *c, json_t *o, const char *path, const char *key, int flags,
               const char **ret) {
        json_t *v = json_object_get(o, key);
        char problem[128];
        const char *s;

        *ret = NULL;
        if (!v)
                return flags & OPT ? 0 : bad(c, path, key, "missing");
        if (json_is_null(v))
                return flags & (NUL | OPT) ? 0 : bad(c, path, key, "null, a string is required");
        s = json_string_value(v);
        if (!s)
                return bad(c, path, key, "not a string");
        if (yb_json_string_check(s, json_string_length(v), problem, sizeof(problem)) < 0)
                return bad(c, path, key, "%s", problem);
        if (!*s && !(flags & EMPTY))
                return bad(c, path, key, "empty");
        if ((flags & TIME) && !time_valid(s))
                return bad(c, path, key,
                           "\"%s\" is not a UTC time as the format writes it "
                           "(2026-12-06T15:04:05Z)",
                           s);
        if ((flags & HEX16) && !hex16(s))
                return bad(c, path, key, "\"%s\" is not a key id (16 lower-case hex digits)", s);
        *ret = s;
        return 0;
}

/* The integer member key of o, at least min (or null when NUL: then *ret is -1). */
static int integer(Check *c, json_t *o, const char *path, const char *key, int flags, int64_t min,
                   int64_t *ret) {
        json_t *v = json_object_get(o, key);

        *ret = -1;
        if (!v)
                return bad(c, path, key, "missing");
        if (json_is_null(v) && (flags & NUL))
                return 0;
        if (!json_is_integer(v))
                return bad(c, path, key, "not an integer");
        if (json_integer_value(v) < min)
                return bad(c, path, key, "%lld is less than %lld",
                           (long long) json_integer_value(v), (long long) min);
        *ret = json_integer_value(v);
        return 0;
}

/* The object member key of o (NULL in *ret when null and NUL allows it). */
static int object(Check *c, json_t *o, const char *path, const char *key, int flags, json_t **ret) {
        json_t *v = json_object_get(o, key);

        *ret = NULL;
        if (!v)
                return bad(c, path, key, "missing");
        if (json_is_null(v) && (flags & NUL))
                return 0;
        if (!json_is_object(v))
                return bad(c, path, key, "not an object");
        *ret = v;
        return 0;
}

static bool one_of(const char *s, const char *const *list) {
        for (; *list; list++)
                if (streq(s, *list))
                        return true;
        return false;
}

/* A person and a time: {"by", "at"} (time_key names the time). */
static int who_when(Check *c, json_t *o, const char *path, const char *time_key) {
        const char *s;
        int r;

        r = str(c, o, path, "by", 0, &s);
        if (r >= 0)
                r = str(c, o, path, time_key, TIME, &s);
        return r;
}

static int check_issuer(Check *c, json_t *cert) {
        json_t *o;
        const char *s;
        uint8_t pk[32];
        int r;

        r = object(c, cert, "", "issuer", 0, &o);
        if (r < 0)
                return r;
        r = str(c, o, "issuer", "tool", 0, &s);
        if (r < 0)
                return r;
        if (!streq(s, "yunbak"))
                return bad(c, "issuer", "tool", "\"%s\", not \"yunbak\"", s);
        r = str(c, o, "issuer", "version", 0, &s);
        if (r >= 0)
                r = str(c, o, "issuer", "host", 0, &s);
        if (r >= 0)
                r = str(c, o, "issuer", "ed25519", 0, &s);
        if (r < 0)
                return r;
        if (yb_base64_decode(s, pk, sizeof(pk)) < 0)
                return bad(c, "issuer", "ed25519", "not an Ed25519 public key in base64");
        return 0;
}

static int check_system(Check *c, json_t *cert) {
        json_t *o;
        const char *s;
        int r;

        r = object(c, cert, "", "system", 0, &o);
        if (r < 0)
                return r;
        r = str(c, o, "system", "id", 0, &s);
        if (r < 0)
                return r;
        if (!yb_system_id_valid(s))
                return bad(c, "system", "id", "\"%s\" is not a system id", s);
        r = str(c, o, "system", "name", 0, &s);
        if (r >= 0)
                r = str(c, o, "system", "department", 0, &s);
        if (r >= 0)
                r = str(c, o, "system", "classification", EMPTY, &s);
        if (r >= 0)
                r = str(c, o, "system", "key_id", HEX16, &s);
        return r;
}

/* The export: confirmed (handed over, named) or waived (with the department's reason), never
 * sealed to the system's own key, which is destroyed; handed_over repeats what it names. */
static int check_export(Check *c, json_t *cert, json_t *d) {
        static const char *const states[] = { "confirmed", "waived", NULL };
        const char *state, *note, *store, *snapshot, *key_id, *system_key;
        json_t *e, *h;
        int r;

        r = object(c, d, "decommission", "export", 0, &e);
        if (r < 0)
                return r;
        r = str(c, e, "decommission.export", "state", 0, &state);
        if (r >= 0 && !one_of(state, states))
                r = bad(c, "decommission.export", "state", "\"%s\", not confirmed or waived",
                        state);
        if (r >= 0)
                r = who_when(c, e, "decommission.export", "at");
        if (r >= 0)
                r = str(c, e, "decommission.export", "note", NUL | OPT | EMPTY, &note);
        if (r >= 0)
                r = str(c, e, "decommission.export", "store", NUL, &store);
        if (r >= 0)
                r = str(c, e, "decommission.export", "snapshot", NUL, &snapshot);
        if (r >= 0)
                r = str(c, e, "decommission.export", "key_id", NUL | HEX16, &key_id);
        if (r >= 0)
                r = object(c, cert, "", "handed_over", NUL, &h);
        if (r < 0)
                return r;
        if (streq(state, "confirmed") && (!store || !snapshot || !key_id))
                return bad(c, "decommission", "export",
                           "confirmed, but its store, snapshot or key_id is null");
        if (streq(state, "waived") && (!note || !*note))
                return bad(c, "decommission.export", "note",
                           "an export is waived only with the department's reason");
        if (store && !key_id)
                return bad(c, "decommission.export", "key_id",
                           "null, but the export names store \"%s\"", store);
        system_key = json_string_value(json_object_get(json_object_get(cert, "system"), "key_id"));
        if (key_id && system_key && streq(key_id, system_key))
                return bad(c, "decommission.export", "key_id",
                           "the system's own key (%s), which the decommission destroys: the "
                           "export must be sealed to the department's new key",
                           key_id);
        if (store && !h)
                return bad(c, "", "handed_over", "null, but the export names store \"%s\"", store);
        if (!store && h)
                return bad(c, "", "handed_over", "set, but the export names no store");
        if (h) {
                const char *hs, *hsnap, *hkey;

                r = str(c, h, "handed_over", "store", 0, &hs);
                if (r >= 0)
                        r = str(c, h, "handed_over", "snapshot", NUL, &hsnap);
                if (r >= 0)
                        r = str(c, h, "handed_over", "key_id", HEX16, &hkey);
                if (r < 0)
                        return r;
                if (!streq(hs, store) || !streq(hkey, key_id) || !hsnap != !snapshot ||
                    (hsnap && !streq(hsnap, snapshot)))
                        return bad(c, "", "handed_over",
                                   "does not name the export's store, snapshot and key id");
        }
        return 0;
}

static int check_decommission(Check *c, json_t *cert) {
        json_t *d, *o;
        const char *s, *requester, *approver, *started, *finished;
        int64_t id, a, b;
        int r;

        r = object(c, cert, "", "decommission", 0, &d);
        if (r >= 0)
                r = integer(c, d, "decommission", "id", 0, 1, &id);
        if (r >= 0)
                r = str(c, d, "decommission", "reason", 0, &s);
        if (r >= 0)
                r = str(c, d, "decommission", "not_before", NUL | TIME, &s);
        if (r >= 0)
                r = str(c, d, "decommission", "lock_until", NUL | TIME, &s);
        if (r >= 0)
                r = object(c, d, "decommission", "requested", 0, &o);
        if (r >= 0)
                r = who_when(c, o, "decommission.requested", "at");
        if (r < 0)
                return r;
        requester = json_string_value(json_object_get(o, "by"));
        r = object(c, d, "decommission", "approved", 0, &o);
        if (r >= 0)
                r = who_when(c, o, "decommission.approved", "at");
        if (r >= 0)
                r = str(c, o, "decommission.approved", "note", NUL | OPT | EMPTY, &s);
        if (r < 0)
                return r;
        approver = json_string_value(json_object_get(o, "by"));
        if (streq(requester, approver))
                return bad(c, "decommission.approved", "by",
                           "\"%s\" requested the decommission too: it takes two people", approver);
        r = check_export(c, cert, d);
        if (r >= 0)
                r = object(c, d, "decommission", "executed", 0, &o);
        if (r >= 0)
                r = str(c, o, "decommission.executed", "by", 0, &s);
        if (r >= 0)
                r = str(c, o, "decommission.executed", "started", TIME, &started);
        if (r >= 0)
                r = str(c, o, "decommission.executed", "finished", TIME, &finished);
        if (r < 0)
                return r;
        if (yb_time_parse(started, &a) < 0 || yb_time_parse(finished, &b) < 0 || a > b)
                return bad(c, "decommission.executed", "finished", "before it started");
        r = object(c, d, "decommission", "verified", 0, &o);
        if (r >= 0)
                r = str(c, o, "decommission.verified", "at", TIME, &s);
        if (r >= 0)
                r = str(c, o, "decommission.verified", "method", 0, &s);
        if (r >= 0)
                r = str(c, o, "decommission.verified", "result", 0, &s);
        if (r >= 0 && !streq(s, "passed"))
                r = bad(c, "decommission.verified", "result",
                        "\"%s\": a certificate is issued only when verification passed", s);
        return r;
}

/* The medium: where the overwrite does (or does not) reach. */
static int check_medium(Check *c, json_t *m, const char *path) {
        const char *s;
        int r;

        r = str(c, m, path, "filesystem", 0, &s);
        if (r >= 0)
                r = str(c, m, path, "device", NUL | EMPTY, &s);
        if (r >= 0)
                r = str(c, m, path, "kind", 0, &s);
        if (r >= 0)
                r = str(c, m, path, "why", 0, &s);
        if (r < 0)
                return r;
        if (!json_is_boolean(json_object_get(m, "overwrite_effective")))
                return bad(c, path, "overwrite_effective", "missing or not true/false");
        if (!json_is_boolean(json_object_get(m, "encrypted")))
                return bad(c, path, "encrypted", "missing or not true/false");
        return 0;
}

/* The claim, NIST category and verification result the methods of an artifact of kind imply;
 * NULL claim for methods the kind cannot have. */
typedef struct Implied {
        const char *claim, *nist, *result;
} Implied;

static Implied implied(const char *kind, bool crypto, bool overwrite, bool del, bool attested,
                       bool withdrawn, bool locked) {
        /* Backups Object Lock keeps: the key is destroyed, the bytes are still there. The claim
         * goes on with the date (check_artifact). */
        if (locked)
                return streq(kind, "backups") && crypto && !overwrite && !del && !attested &&
                                       !withdrawn
                               ? (Implied){ YB_CERTIFICATE_LOCKED_CLAIM, "purge", "locked" }
                               : (Implied){ 0 };
        if (withdrawn)
                return streq(kind, "key-copy") && !crypto && !overwrite && !del && !attested
                               ? (Implied){ YB_CERTIFICATE_WITHDRAWN_CLAIM, "none", "withdrawn" }
                               : (Implied){ 0 };
        if (attested && (crypto || overwrite || del))
                return (Implied){ 0 };
        if (attested)
                return streq(kind, "key-copy") ? (Implied){ "destruction attested by its holder",
                                                            "none", "attested" }
                       : streq(kind, "source-path") || streq(kind, "agent-state")
                               ? (Implied){ YB_CERTIFICATE_HOST_ATTESTED, "none", "attested" }
                               : (Implied){ 0 };
        if (!del)
                return (Implied){ 0 };
        if (streq(kind, "backups"))
                return !crypto ? (Implied){ 0 }
                       : overwrite
                               ? (Implied){ "cryptographic erase + overwrite + deletion", "purge",
                                            "passed" }
                               : (Implied){ "cryptographic erase + deletion", "purge", "passed" };
        if (crypto)
                return (Implied){ 0 };
        return overwrite ? (Implied){ "overwrite + deletion", "clear", "passed" }
                         : (Implied){ "deletion only", "none", "passed" };
}

int yb_certificate_set_methods(json_t *a, bool overwritten) {
        const char *kind = json_string_value(json_object_get(a, "kind")),
                   *state = json_string_value(json_object_get(a, "state"));
        /* A key copy its holder attested, or what the operator's attestation that the host
         * was destroyed covers (a source path, the agent's state). */
        bool attested = kind && !streq(kind, "backups") && state && streq(state, "attested"),
             withdrawn = kind && streq(kind, "key-copy") && state && streq(state, "withdrawn"),
             crypto = kind && streq(kind, "backups"),
             locked = crypto && state && streq(state, "locked"),
             ow = overwritten && !attested && !withdrawn && !locked &&
                  json_is_true(
                          json_object_get(json_object_get(a, "medium"), "overwrite_effective"));
        const char *until = json_string_value(json_object_get(a, "locked_until"));
        _cleanup_free_ char *claim = NULL;
        Implied want;
        json_t *m;

        if (!kind || (locked && !until))
                return -EINVAL;
        want = implied(kind, crypto, ow, !attested && !withdrawn && !locked, attested, withdrawn,
                       locked);
        if (locked) {
                if (asprintf(&claim, "%s until %s", want.claim, until) < 0)
                        return -ENOMEM;
                want.claim = claim;
        }
        if (!want.claim || (!crypto && !streq(kind, "key-copy") && !streq(kind, "source-path") &&
                            !streq(kind, "agent-state")))
                return -EINVAL;
        m = withdrawn  ? json_pack("[s]", "withdrawn")
            : attested ? json_pack("[s]", "attested")
            : locked   ? json_pack("[s]", "cryptographic-erase")
            : crypto   ? (ow ? json_pack("[s, s, s]", "cryptographic-erase", "overwrite", "delete")
                             : json_pack("[s, s]", "cryptographic-erase", "delete"))
            : ow       ? json_pack("[s, s]", "overwrite", "delete")
                       : json_pack("[s]", "delete");
        /* json_object_set_new takes m, even when it fails. */
        if (!m || json_object_set_new(a, "methods", m) < 0 ||
            json_object_set_new(a, "nist_category", json_string(want.nist)) < 0 ||
            json_object_set_new(a, "claim", json_string(want.claim)) < 0)
                return -ENOMEM;
        return 0;
}

/* A withdrawn key copy's "withdrawal": why, who asked and when, who confirmed and when; two
 * people (docs/decommission.md, "Key copies"). */
static int check_withdrawal(Check *c, json_t *a, const char *path) {
        const char *s, *asker = NULL, *confirmer = NULL;
        json_t *w, *asked, *confirmed;
        char sub[96], part[112];
        int r;

        snprintf(sub, sizeof(sub), "%s.withdrawal", path);
        r = object(c, a, path, "withdrawal", 0, &w);
        if (r >= 0)
                r = str(c, w, sub, "reason", 0, &s);
        if (r >= 0)
                r = object(c, w, sub, "asked", 0, &asked);
        snprintf(part, sizeof(part), "%s.asked", sub);
        if (r >= 0)
                r = str(c, asked, part, "by", 0, &asker);
        if (r >= 0)
                r = str(c, asked, part, "at", TIME, &s);
        if (r >= 0)
                r = object(c, w, sub, "confirmed", 0, &confirmed);
        snprintf(part, sizeof(part), "%s.confirmed", sub);
        if (r >= 0)
                r = str(c, confirmed, part, "by", 0, &confirmer);
        if (r >= 0)
                r = str(c, confirmed, part, "at", TIME, &s);
        if (r >= 0 && streq(asker, confirmer))
                r = bad(c, part, "by",
                        "\"%s\" asked for the withdrawal too: a withdrawal takes two people",
                        confirmer);
        return r;
}

static int check_artifact(Check *c, json_t *a, size_t i) {
        static const char *const kinds[] = { "backups", "key-copy", "source-path", "agent-state",
                                             NULL };
        static const char *const methods[] = {
                "cryptographic-erase", "overwrite", "delete", "attested", "withdrawn", NULL
        };
        bool has[5] = { false };
        const char *kind, *s, *claim, *nist, *result, *must, *state = NULL, *locked_until = NULL;
        _cleanup_free_ char *locked_claim = NULL;
        json_t *m, *list, *v, *medium;
        char path[64], sub[96];
        int64_t n;
        size_t k;
        int r;

        snprintf(path, sizeof(path), "artifacts[%zu]", i);
        if (!json_is_object(a))
                return bad(c, path, NULL, "not an object");
        r = str(c, a, path, "kind", 0, &kind);
        if (r >= 0 && !one_of(kind, kinds))
                r = bad(c, path, "kind",
                        "\"%s\" is not one of backups, key-copy, source-path, "
                        "agent-state",
                        kind);
        if (r >= 0)
                r = str(c, a, path, "name", 0, &s);
        if (r >= 0)
                r = str(c, a, path, "location", 0, &s);
        if (r >= 0)
                r = integer(c, a, path, "size_bytes", NUL, 0, &n);
        if (r >= 0)
                r = integer(c, a, path, "files", NUL, 0, &n);
        if (r >= 0)
                r = str(c, a, path, "when", streq(kind, "key-copy") ? TIME : TIME | NUL | OPT, &s);
        if (r >= 0)
                r = str(c, a, path, "operator_must", NUL, &must);
        if (r < 0)
                return r;
        list = json_object_get(a, "tiers");
        if (list || streq(kind, "backups")) {
                if (!json_is_array(list))
                        return bad(c, path, "tiers", "missing or not an array");
                json_array_foreach(list, k,
                                   v) if (!json_is_integer(v) || json_integer_value(v) < 1 ||
                                          json_integer_value(v) >
                                                  3) return bad(c, path, "tiers",
                                                                "holds something not a tier (1-3)");
        }
        if (streq(kind, "key-copy")) {
                r = str(c, a, path, "holder", 0, &s);
                if (r >= 0)
                        r = str(c, a, path, "state", 0, &state);
                if (r >= 0 && !streq(state, "destroyed") && !streq(state, "attested") &&
                    !streq(state, "withdrawn"))
                        r = bad(c, path, "state", "\"%s\", not destroyed, attested or withdrawn",
                                state);
                if (r >= 0 && streq(state, "withdrawn"))
                        r = check_withdrawal(c, a, path);
                if (r < 0)
                        return r;
        } else if (streq(kind, "backups")) {
                /* "locked" when S3 Object Lock keeps them, with the date it does until. */
                r = str(c, a, path, "state", OPT, &state);
                if (r >= 0 && state && !streq(state, "locked"))
                        r = bad(c, path, "state", "\"%s\": only \"locked\" is written here", state);
                if (r >= 0)
                        r = str(c, a, path, "locked_until", state ? TIME : TIME | OPT | NUL,
                                &locked_until);
                if (r >= 0 && !state && locked_until)
                        r = bad(c, path, "locked_until",
                                "given, but the artifact's state is not \"locked\"");
                if (r < 0)
                        return r;
        } else if (!streq(kind, "backups")) {
                /* On a host: "attested" when it rests on the operator's attestation. */
                r = str(c, a, path, "state", OPT, &state);
                if (r >= 0 && state && !streq(state, "attested"))
                        r = bad(c, path, "state", "\"%s\": only \"attested\" is written here",
                                state);
                if (r < 0)
                        return r;
        }

        list = json_object_get(a, "methods");
        if (!json_is_array(list) || json_array_size(list) == 0)
                return bad(c, path, "methods", "missing, empty or not an array");
        json_array_foreach(list, k, v) {
                size_t j;

                for (j = 0; methods[j]; j++)
                        if (json_is_string(v) && streq(json_string_value(v), methods[j]))
                                break;
                if (!methods[j])
                        return bad(c, path, "methods",
                                   "item %zu is not one of cryptographic-erase, overwrite, "
                                   "delete, attested, withdrawn",
                                   k);
                if (has[j])
                        return bad(c, path, "methods", "\"%s\" twice", methods[j]);
                has[j] = true;
        }
        r = str(c, a, path, "nist_category", 0, &nist);
        if (r >= 0)
                r = str(c, a, path, "claim", 0, &claim);
        if (r >= 0)
                r = object(c, a, path, "verification", 0, &v);
        snprintf(sub, sizeof(sub), "%s.verification", path);
        if (r >= 0)
                r = str(c, v, sub, "method", 0, &s);
        if (r >= 0)
                r = str(c, v, sub, "result", 0, &result);
        if (r >= 0)
                r = str(c, v, sub, "detail", NUL | OPT | EMPTY, &s);
        if (r >= 0)
                r = object(c, a, path, "medium", NUL, &medium);
        snprintf(sub, sizeof(sub), "%s.medium", path);
        if (r >= 0 && medium)
                r = check_medium(c, medium, sub);
        if (r < 0)
                return r;

        bool locked = state && streq(state, "locked");
        Implied want = implied(kind, has[0], has[1], has[2], has[3], has[4], locked);
        if (!want.claim)
                return bad(c, path, "methods",
                           "inconsistent for a %s artifact (backups: cryptographic-erase and "
                           "delete, overwrite where effective; source paths, agent state and "
                           "key copy files: delete, overwrite where effective; an offline key "
                           "copy, or what a host attested destroyed held: attested alone; a "
                           "withdrawn key copy: withdrawn alone; backups Object Lock keeps: "
                           "cryptographic-erase alone)",
                           kind);
        if (locked) {
                if (asprintf(&locked_claim, "%s until %s", want.claim, locked_until) < 0)
                        return bad(c, path, "claim", "out of memory");
                want.claim = locked_claim;
        }
        if (state && streq(state, "withdrawn") != has[4])
                return bad(c, path, "methods",
                           "inconsistent with the key copy's state \"%s\" (withdrawn copies: "
                           "\"withdrawn\" alone, never a destruction)",
                           state);
        if ((state && streq(state, "attested")) != has[3])
                return bad(c, path, "methods",
                           "inconsistent with its state \"%s\" (attested: "
                           "\"attested\" alone)",
                           state);
        /* No medium: not known (or an offline copy), so no overwrite is known to mean
         * anything there either. */
        m = medium ? json_object_get(medium, "overwrite_effective") : NULL;
        if (has[1] && !json_is_true(m))
                return bad(c, path, "methods",
                           "claim an overwrite, but %s: an overwrite that proves nothing is "
                           "never claimed",
                           medium ? "the medium says an overwrite is not effective there"
                                  : "the medium is not known");
        if (!has[3] && !has[4] && !has[1] && (!must || !*must))
                return bad(c, path, "operator_must",
                           "null, but no effective overwrite is claimed: say what the operator "
                           "must still do (destroy the volume)");
        if (!streq(claim, want.claim))
                return bad(c, path, "claim", "\"%s\", but its methods make it \"%s\"", claim,
                           want.claim);
        if (!streq(nist, want.nist))
                return bad(c, path, "nist_category", "\"%s\", but its methods make it \"%s\"", nist,
                           want.nist);
        if (!streq(result, want.result))
                return bad(c, path, "verification.result",
                           "\"%s\", but it must be \"%s\" (an attested copy is never verified, "
                           "a withdrawn one never destroyed, backups Object Lock keeps are "
                           "locked; everything else passed, or there is no certificate)",
                           result, want.result);
        return 0;
}

int yb_certificate_check(const json_t *cert_const, char *why, size_t why_size) {
        json_t *cert = (json_t *) cert_const, *list, *a, *sig;
        Check c = { .why = why, .why_size = why_size };
        const char *type, *s;
        size_t i, withdrawn = 0, gone = 0;
        const char *latest = NULL;
        int64_t n, latest_ns = 0;
        int r;

        if (why && why_size > 0)
                why[0] = 0;
        if (!json_is_object(cert))
                return bad(&c, "", NULL, "the certificate is not a JSON object");
        r = str(&c, cert, "", "type", 0, &type);
        if (r < 0)
                return r;
        if (!streq(type, YB_CERTIFICATE_TYPE))
                return bad(&c, "", "type", "\"%s\", not \"%s\"", type, YB_CERTIFICATE_TYPE);
        if (!json_is_integer(json_object_get(cert, "version")))
                return bad(&c, "", "version", "missing or not an integer");
        n = json_integer_value(json_object_get(cert, "version"));
        if (n != YB_CERTIFICATE_VERSION)
                return bad(&c, "", "version", "%lld; this yunbak reads version %d", (long long) n,
                           YB_CERTIFICATE_VERSION);
        r = integer(&c, cert, "", "id", 0, 1, &n);
        if (r >= 0)
                r = str(&c, cert, "", "issued", TIME, &s);
        if (r >= 0)
                r = check_issuer(&c, cert);
        if (r >= 0)
                r = check_system(&c, cert);
        if (r >= 0)
                r = check_decommission(&c, cert);
        if (r < 0)
                return r;
        list = json_object_get(cert, "artifacts");
        if (!json_is_array(list) || json_array_size(list) == 0)
                return bad(&c, "", "artifacts", "missing, empty or not an array");
        json_array_foreach(list, i, a) {
                r = check_artifact(&c, a, i);
                if (r < 0)
                        return r;
                s = json_string_value(json_object_get(a, "locked_until"));
                if (s) {
                        int64_t ns = 0;

                        (void) yb_time_parse(s, &ns); /* a time: check_artifact saw to it */
                        if (!latest || ns > latest_ns) {
                                latest = s;
                                latest_ns = ns;
                        }
                }
                if (streq(json_string_value(json_object_get(a, "kind")), "key-copy")) {
                        bool w = streq(json_string_value(json_object_get(a, "state")), "withdrawn");

                        withdrawn += w;
                        gone += !w;
                }
        }
        /* The latest date Object Lock keeps anything until, said once for the whole. */
        r = str(&c, cert, "", "object_lock_until", latest ? TIME : TIME | OPT | NUL, &s);
        if (r < 0)
                return r;
        if (latest && !streq(s, latest))
                return bad(&c, "", "object_lock_until",
                           "\"%s\", but the latest locked_until of the artifacts is \"%s\"", s,
                           latest);
        if (!latest && s)
                return bad(&c, "", "object_lock_until",
                           "given, but no artifact is kept by Object Lock");
        if (withdrawn > 0 && gone == 0)
                return bad(&c, "", "artifacts",
                           "every key copy is withdrawn: nothing shows that a copy of the key was "
                           "destroyed, so there is no cryptographic erase to certify");
        sig = json_object_get(cert, "signature");
        if (sig && !json_is_object(sig))
                return bad(&c, "", "signature", "not an object");
        s = json_string_value(json_object_get(sig, "key"));
        if (s && !streq(s, json_string_value(
                                   json_object_get(json_object_get(cert, "issuer"), "ed25519"))))
                return bad(&c, "signature", "key",
                           "not the issuer's key (issuer.ed25519): yunbakd signs with its own");
        return 0;
}
