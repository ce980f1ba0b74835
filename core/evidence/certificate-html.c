/* The certificate in words and as a page (certificate.h): yb_certificate_summary and
 * yb_certificate_html. Both read only the checked certificate, so the same certificate always
 * gives the same words and the same bytes; the page embeds the JSON file's bytes (yb_signed_dump),
 * which is what `yunbak certificate verify` reads back and compares the page against. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/crypto/keys.h"
#include "core/evidence/certificate.h"
#include "core/evidence/html.h"
#include "core/evidence/signed.h"

/* Member access for a certificate yb_certificate_check passed: present and of the right type. */
static const char *s_(json_t *o, const char *key) {
        return json_string_value(json_object_get(o, key));
}
static json_t *o_(json_t *o, const char *key) {
        return json_object_get(o, key);
}

/* "2026-12-06 15:04:05 UTC" for "2026-12-06T15:04:05Z" (the fraction of a second left out). */
static const char *when(const char *iso, char buf[32]) {
        if (!iso)
                return "-";
        snprintf(buf, 32, "%.10s %.8s UTC", iso, iso + 11);
        return buf;
}

static int bufprintf(YbBuf *b, const char *fmt, ...) _printf_(2, 3);
static int bufprintf(YbBuf *b, const char *fmt, ...) {
        _cleanup_free_ char *s = NULL;
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vasprintf(&s, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -ENOMEM;
        return yb_buf_append(b, s, (size_t) n);
}

/* The host of an artifact on a host: its location is "HOST:PATH". */
static bool same_host(const char *a, const char *b) {
        size_t n = strcspn(a, ":");

        return n == strcspn(b, ":") && strncmp(a, b, n) == 0;
}

int yb_certificate_summary(const json_t *cert_const, char **ret) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        json_t *cert = (json_t *) cert_const, *arts, *a, *h, *e;
        size_t i, stores = 0, hosts = 0, keys = 0, attested = 0, must = 0, on_word = 0,
                  hosts_attested = 0;
        bool verified;
        const char *name;
        int r;

        r = yb_certificate_check(cert, NULL, 0);
        if (r < 0)
                return r;
        arts = o_(cert, "artifacts");
        json_array_foreach(arts, i, a) {
                const char *kind = s_(a, "kind");

                if (!json_is_null(o_(a, "operator_must")))
                        must++;
                if (streq(kind, "backups"))
                        stores++;
                else if (streq(kind, "key-copy")) {
                        keys++;
                        attested += streq(s_(a, "state"), "attested");
                } else {
                        bool seen = false, word = false;

                        /* A host counts once: as attested when anything of it rests on the
                         * operator's attestation, else as destroyed and verified. */
                        for (size_t j = 0; j < json_array_size(arts); j++) {
                                json_t *x = json_array_get(arts, j);

                                if (streq(s_(x, "kind"), "backups") ||
                                    streq(s_(x, "kind"), "key-copy") ||
                                    !same_host(s_(x, "location"), s_(a, "location")))
                                        continue;
                                seen = seen || j < i;
                                word = word ||
                                       (s_(x, "state") && streq(s_(x, "state"), "attested"));
                        }
                        hosts += !seen && !word;
                        hosts_attested += !seen && word;
                        on_word += s_(a, "state") && streq(s_(a, "state"), "attested");
                }
        }
        name = s_(o_(cert, "system"), "name");
        r = bufprintf(&b, "Every copy of %s's data", name);
        if (r >= 0 && stores > 0)
                r = bufprintf(&b, " in %zu %s", stores, stores == 1 ? "store" : "stores");
        if (r >= 0 && stores > 0 && hosts > 0)
                r = bufprintf(&b, " and");
        if (r >= 0 && hosts > 0)
                r = bufprintf(&b, " on %zu %s", hosts, hosts == 1 ? "host" : "hosts");
        verified = stores > 0 || hosts > 0 || hosts_attested == 0;
        if (r >= 0 && verified)
                r = bufprintf(&b, " was destroyed and verified");
        if (r >= 0 && hosts_attested > 0)
                r = bufprintf(&b, "%s on %zu %s destroyed by the operator's word (attested)",
                              verified ? ", and" : "", hosts_attested,
                              hosts_attested == 1 ? "host" : "hosts");
        if (r >= 0)
                r = bufprintf(&b, "; ");
        if (r >= 0 && keys == 0)
                r = bufprintf(&b, "no copy of its key was registered.");
        else if (r >= 0)
                r = bufprintf(&b, "%zu key %s destroyed%s", keys, keys == 1 ? "copy" : "copies",
                              attested > 0 ? "" : ".");
        if (r >= 0 && keys > 0 && attested > 0)
                r = bufprintf(&b, " (%zu attested).", attested);
        if (r >= 0 && on_word > 0)
                r = bufprintf(&b,
                              " %zu of the %zu artifacts rest on the operator's attestation that "
                              "the host was destroyed, not on a check.",
                              on_word, json_array_size(arts));
        if (r >= 0 && must > 0)
                r = bufprintf(&b,
                              " The cloud operator must still act on %zu of the %zu artifacts "
                              "below, as each says.",
                              must, json_array_size(arts));
        h = o_(cert, "handed_over");
        e = o_(o_(cert, "decommission"), "export");
        if (r >= 0 && !json_is_null(h))
                r = bufprintf(&b,
                              " The final export stays with %s: store %s, snapshot %s, sealed to "
                              "its key %s.",
                              s_(o_(cert, "system"), "department"), s_(h, "store"),
                              s_(h, "snapshot") ?: "(none)", s_(h, "key_id"));
        else if (r >= 0)
                r = bufprintf(&b, " The department waived the final export: %s",
                              s_(e, "note") ?: "");
        if (r >= 0)
                r = yb_buf_append_u8(&b, 0);
        if (r < 0)
                return r;
        *ret = (char *) yb_buf_steal(&b, NULL);
        return 0;
}

static const char CSS[] = "table.artifacts { font-size: 9pt; }\n"
                          "table.artifacts td { white-space: normal; }\n"
                          "@media print { table.artifacts { font-size: 7.5pt; } }\n";

/* "alice, 2026-11-02 09:15:00 UTC" and the note after a colon. */
static void person(YbHtml *h, const char *label, json_t *o, const char *time_key,
                   const char *note) {
        char t[32];

        yb_html_raw(h, "<tr><th>");
        yb_html_text(h, label);
        yb_html_raw(h, "</th><td>");
        yb_html_textf(h, "%s, %s", s_(o, "by"), when(s_(o, time_key), t));
        if (note && *note)
                yb_html_textf(h, ": %s", note);
        yb_html_raw(h, "</td></tr>\n");
}

static void people(YbHtml *h, json_t *cert) {
        json_t *d = o_(cert, "decommission"), *e = o_(d, "export"), *x = o_(d, "executed"),
               *v = o_(d, "verified");
        char t1[32], t2[32];

        yb_html_raw(h, "<h2>People and dates</h2>\n<table class=\"facts\">\n");
        yb_html_raw(h, "<tr><th>Decommission</th><td>");
        yb_html_textf(h, "%lld", (long long) json_integer_value(o_(d, "id")));
        yb_html_raw(h, "</td></tr>\n");
        person(h, "Requested by", o_(d, "requested"), "at", s_(d, "reason"));
        person(h, "Approved by", o_(d, "approved"), "at", s_(o_(d, "approved"), "note"));
        if (s_(d, "not_before"))
                yb_html_fact(h, "Not before", when(s_(d, "not_before"), t1));
        if (s_(d, "lock_until"))
                yb_html_fact(h, "Locked until", when(s_(d, "lock_until"), t1));
        person(h, streq(s_(e, "state"), "confirmed") ? "Export confirmed by" : "Export waived by",
               e, "at", s_(e, "note"));
        yb_html_raw(h, "<tr><th>Executed by</th><td>");
        yb_html_textf(h, "%s, from %s to %s", s_(x, "by"), when(s_(x, "started"), t1),
                      when(s_(x, "finished"), t2));
        yb_html_raw(h, "</td></tr>\n<tr><th>Verified</th><td>");
        yb_html_textf(h, "%s: %s (%s)", when(s_(v, "at"), t1), s_(v, "result"), s_(v, "method"));
        yb_html_raw(h, "</td></tr>\n</table>\n");
}

static void cell(YbHtml *h, const char *cls, const char *text) {
        yb_html_raw(h, cls ? "<td class=\"" : "<td>");
        if (cls) {
                yb_html_text(h, cls);
                yb_html_raw(h, "\">");
        }
        yb_html_text(h, text);
        yb_html_raw(h, "</td>");
}

static const char *nist_text(const char *category) {
        return streq(category, "purge") ? "Purge" : streq(category, "clear") ? "Clear" : "none";
}

static int artifact_row(YbHtml *h, json_t *a) {
        _cleanup_(yb_buf_done) YbBuf what = YB_BUF_INIT, size = YB_BUF_INIT, medium = YB_BUF_INIT,
                                     methods = YB_BUF_INIT, check = YB_BUF_INIT;
        json_t *m = o_(a, "medium"), *v = o_(a, "verification"), *list, *x;
        const char *must = s_(a, "operator_must");
        char num[32], t[32];
        size_t i;
        int r;

        r = bufprintf(&what, "%s: %s", s_(a, "kind"), s_(a, "name"));
        list = o_(a, "tiers");
        json_array_foreach(list, i, x) if (r >= 0) r = bufprintf(
                &what, "%s%lld", i == 0 ? "\ntier " : ", ", (long long) json_integer_value(x));
        if (r >= 0 && s_(a, "holder"))
                r = bufprintf(&what, "\nheld by %s, %s", s_(a, "holder"), s_(a, "state"));
        if (r >= 0 && s_(a, "when"))
                r = bufprintf(&what, "\n%s", when(s_(a, "when"), t));
        if (r >= 0 && json_is_integer(o_(a, "size_bytes")))
                r = bufprintf(
                        &size, "%s (%lld bytes)",
                        yb_format_bytes((uint64_t) json_integer_value(o_(a, "size_bytes")), num),
                        (long long) json_integer_value(o_(a, "size_bytes")));
        else if (r >= 0)
                r = bufprintf(&size, "unknown");
        if (r >= 0 && json_is_integer(o_(a, "files")))
                r = bufprintf(&size, ", %lld %s", (long long) json_integer_value(o_(a, "files")),
                              json_integer_value(o_(a, "files")) == 1 ? "file" : "files");
        if (r >= 0 && json_is_object(m)) {
                const char *dev = s_(m, "device");

                r = bufprintf(&medium, "%s%s%s (%s); overwrite %s: %s%s", s_(m, "filesystem"),
                              dev && *dev ? " on " : "", dev && *dev ? dev : "", s_(m, "kind"),
                              json_is_true(o_(m, "overwrite_effective")) ? "effective"
                                                                         : "not effective",
                              s_(m, "why"),
                              json_is_true(o_(m, "encrypted"))
                                      ? "; encrypted (dm-crypt/LUKS): erasing its key slots "
                                        "is the real purge"
                                      : "");
        } else if (r >= 0)
                r = bufprintf(&medium, "%s",
                              !s_(a, "state") || !streq(s_(a, "state"), "attested")
                                      ? "not known: no overwrite is claimed"
                              : streq(s_(a, "kind"), "key-copy")
                                      ? "none (an offline copy)"
                                      : "not reached: the host's destruction is attested");
        json_array_foreach(o_(a, "methods"), i, x) if (r >= 0) r =
                bufprintf(&methods, "%s%s", i > 0 ? ", " : "", json_string_value(x));
        if (r >= 0)
                r = bufprintf(&check, "%s: %s", s_(v, "result"), s_(v, "method"));
        if (r >= 0 && s_(v, "detail") && *s_(v, "detail"))
                r = bufprintf(&check, " (%s)", s_(v, "detail"));
        if (r >= 0)
                r = yb_buf_append_u8(&what, 0);
        if (r >= 0)
                r = yb_buf_append_u8(&size, 0);
        if (r >= 0)
                r = yb_buf_append_u8(&medium, 0);
        if (r >= 0)
                r = yb_buf_append_u8(&methods, 0);
        if (r >= 0)
                r = yb_buf_append_u8(&check, 0);
        if (r < 0)
                return r;
        yb_html_raw(h, "<tr>");
        cell(h, NULL, (char *) what.data);
        cell(h, "mono", s_(a, "location"));
        cell(h, NULL, (char *) size.data);
        cell(h, NULL, (char *) medium.data);
        cell(h, NULL, (char *) methods.data);
        cell(h, NULL, nist_text(s_(a, "nist_category")));
        cell(h, NULL, s_(a, "claim"));
        cell(h, NULL, (char *) check.data);
        cell(h, must ? "must" : NULL, must ?: "nothing");
        yb_html_raw(h, "</tr>\n");
        return 0;
}

/* The shell commands that check the signature without yunbak: Python writes the canonical form
 * (the rule of core/evidence/signed.h), OpenSSL checks Ed25519 over it with the public key made
 * DER by its fixed 12-byte prefix. tests/integration/certificate-verify.sh runs them as the page
 * prints them. */
static const char OPENSSL_STEPS[] =
        "python3 -c '\n"
        "import base64, json, re, sys\n"
        "t = open(sys.argv[1], encoding=\"utf-8\").read()\n"
        "m = re.search(r\"yunbak-certificate.>(.*?)</script>\", t, re.S)\n"
        "d = json.loads(m.group(1) if m else t)\n"
        "s = d.pop(\"signature\")\n"
        "c = json.dumps(d, sort_keys=True, separators=(\",\", \":\"), ensure_ascii=False)\n"
        "open(\"cert.canonical\", \"wb\").write(c.encode())\n"
        "open(\"cert.sig\", \"wb\").write(base64.b64decode(s[\"value\"]))\n"
        "k = base64.b64decode(open(sys.argv[2]).read())\n"
        "open(\"yunbakd.der\", \"wb\").write(bytes.fromhex(\"302a300506032b6570032100\") + k)\n"
        "' FILE yunbakd.pub\n"
        "openssl pkeyutl -verify -pubin -keyform DER -inkey yunbakd.der -rawin \\\n"
        "        -in cert.canonical -sigfile cert.sig\n";

static void signature(YbHtml *h, json_t *cert) {
        json_t *s = o_(cert, "signature");
        char fp[YB_SIGNED_FINGERPRINT_MAX];
        uint8_t pk[32];

        yb_html_raw(h, "<h2>Signature</h2>\n");
        if (!s || !s_(s, "key") || !s_(s, "value") ||
            yb_base64_decode(s_(s, "key"), pk, sizeof(pk)) < 0) {
                yb_html_element(h, "p", "must", "This certificate is not signed.");
                return;
        }
        yb_signed_fingerprint(pk, fp);
        yb_html_raw(h, "<table class=\"facts\">\n");
        yb_html_fact(h, "Algorithm", s_(s, "alg"));
        yb_html_raw(h, "<tr><th>yunbakd&#39;s key</th><td class=\"mono\">");
        yb_html_textf(h, "%s\n%s", s_(s, "key"), fp);
        yb_html_raw(h, "</td></tr>\n<tr><th>Signature</th><td class=\"mono\">");
        yb_html_text(h, s_(s, "value"));
        yb_html_raw(h, "</td></tr>\n</table>\n");
        yb_html_element(h, "p", NULL,
                        "The signature is Ed25519 over the certificate's canonical form: its "
                        "JSON without \"signature\", keys sorted, no whitespace, UTF-8 as it is. "
                        "Check it with yunbakd's public key (the file yunbakd.pub in its state "
                        "directory; compare its fingerprint above), this page or the JSON file "
                        "as FILE:");
        yb_html_element(h, "pre", NULL, "yunbak certificate verify FILE --public-key yunbakd.pub");
        yb_html_element(h, "p", NULL,
                        "or without yunbak, with Python 3 and OpenSSL 3, which prints "
                        "\"Signature Verified Successfully\":");
        yb_html_raw(h, "<pre id=\"verify-openssl\">");
        yb_html_text(h, OPENSSL_STEPS);
        yb_html_raw(h, "</pre>\n");
        yb_html_element(h, "p", NULL,
                        "The certificate's JSON file is embedded below, byte for byte, in the "
                        "script element \"yunbak-certificate\" (with \"</\" written \"<\\/\" and "
                        "\"<!--\" \"<\\u0021--\", which JSON reads the same). The page verifies "
                        "only if it is exactly what yunbak writes for that certificate.");
}

int yb_certificate_html(const json_t *cert_const, char **ret) {
        _cleanup_(yb_html_done) YbHtml h = YB_HTML_INIT;
        _cleanup_free_ char *file = NULL, *summary = NULL, *title = NULL;
        json_t *cert = (json_t *) cert_const, *sys, *ho, *a;
        char t[32];
        size_t i;
        int r;

        r = yb_certificate_summary(cert, &summary);
        if (r < 0)
                return r;
        r = yb_signed_dump(cert, &file);
        if (r < 0)
                return r;
        sys = o_(cert, "system");
        if (asprintf(&title, "Decommission certificate %lld: %s (%s)",
                     (long long) json_integer_value(o_(cert, "id")), s_(sys, "name"),
                     s_(sys, "id")) < 0)
                return -ENOMEM;
        yb_html_begin(&h, "en", title, CSS);
        yb_html_raw(&h, "<header>\n");
        yb_html_element(&h, "h1", NULL, title);
        yb_html_raw(&h, "<p class=\"sub\">");
        yb_html_textf(&h,
                      "Issued %s by %s %s on %s, after NIST SP 800-88 Rev. 1 (media sanitization)",
                      when(s_(cert, "issued"), t), s_(o_(cert, "issuer"), "tool"),
                      s_(o_(cert, "issuer"), "version"), s_(o_(cert, "issuer"), "host"));
        yb_html_raw(&h, "</p>\n</header>\n");
        yb_html_element(&h, "p", "result", summary);

        yb_html_raw(&h, "<h2>System</h2>\n<table class=\"facts\">\n");
        yb_html_fact(&h, "System", s_(sys, "id"));
        yb_html_fact(&h, "Name", s_(sys, "name"));
        yb_html_fact(&h, "Department", s_(sys, "department"));
        yb_html_fact(&h, "Classification", s_(sys, "classification"));
        yb_html_fact(&h, "Key id (destroyed)", s_(sys, "key_id"));
        yb_html_raw(&h, "</table>\n");
        people(&h, cert);

        yb_html_raw(&h, "<h2>What was destroyed</h2>\n<table class=\"artifacts\">\n<thead><tr>"
                        "<th>Artifact</th><th>Location</th><th>Size</th><th>Medium</th>"
                        "<th>Methods</th><th>NIST SP 800-88</th><th>Claim</th>"
                        "<th>Verification</th><th>The operator must still</th></tr></thead>\n"
                        "<tbody>\n");
        json_array_foreach(o_(cert, "artifacts"), i, a) {
                r = artifact_row(&h, a);
                if (r < 0)
                        return r;
        }
        yb_html_raw(&h, "</tbody>\n</table>\n");

        yb_html_raw(&h, "<h2>Handed over</h2>\n");
        ho = o_(cert, "handed_over");
        if (!json_is_null(ho)) {
                yb_html_raw(&h, "<table class=\"facts\">\n");
                yb_html_fact(&h, "Store", s_(ho, "store"));
                yb_html_fact(&h, "Snapshot", s_(ho, "snapshot") ?: "(none)");
                yb_html_fact(&h, "Sealed to the department's key", s_(ho, "key_id"));
                yb_html_raw(&h, "</table>\n");
                yb_html_element(&h, "p", NULL,
                                "This repository is the department's: the decommission left it "
                                "alone.");
        } else {
                _cleanup_free_ char *w = NULL;

                if (asprintf(&w, "No export was handed over: the department waived it (%s).",
                             s_(o_(o_(cert, "decommission"), "export"), "note") ?: "") < 0)
                        return -ENOMEM;
                yb_html_element(&h, "p", NULL, w);
        }
        signature(&h, cert);
        yb_html_json(&h, "yunbak-certificate", file, strlen(file));
        yb_html_end(&h);
        return yb_html_finish(&h, ret);
}
