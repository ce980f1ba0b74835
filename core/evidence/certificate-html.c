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
#include <strings.h>

#include "core/base/buf.h"
#include "core/base/macro.h"
#include "core/crypto/keys.h"
#include "core/evidence/certificate.h"
#include "core/evidence/html.h"
#include "core/evidence/signed-file.h"
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
        size_t i, stores = 0, hosts = 0, keys = 0, attested = 0, withdrawn = 0, must = 0,
                  on_word = 0, hosts_attested = 0, locked_stores = 0;
        int64_t locked_objects = 0;
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
                if (streq(kind, "backups") && s_(a, "state") && streq(s_(a, "state"), "locked")) {
                        /* Object Lock keeps them: crypto-erased, not deleted. */
                        bool also = false;

                        for (size_t j = 0; j < json_array_size(arts) && !also; j++) {
                                json_t *x = json_array_get(arts, j);

                                also = streq(s_(x, "kind"), "backups") && !s_(x, "state") &&
                                       streq(s_(x, "name"), s_(a, "name"));
                        }
                        stores += !also; /* a store counts once */
                        locked_stores++;
                        locked_objects += json_integer_value(o_(a, "files"));
                } else if (streq(kind, "backups"))
                        stores++;
                else if (streq(kind, "key-copy") && streq(s_(a, "state"), "withdrawn"))
                        withdrawn++; /* never counted as destroyed */
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
                r = bufprintf(&b, " was destroyed and verified%s",
                              locked_stores > 0 ? ", except what Object Lock keeps (below)" : "");
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
        if (r >= 0 && withdrawn > 0)
                r = bufprintf(&b,
                              " %zu key %s registered by mistake %s withdrawn by two people "
                              "(not copies, nothing destroyed).",
                              withdrawn, withdrawn == 1 ? "copy" : "copies",
                              withdrawn == 1 ? "was" : "were");
        if (r >= 0 && locked_stores > 0)
                r = bufprintf(&b,
                              " In %zu %s, %lld %s kept by Object Lock (compliance) until %s at "
                              "the latest: crypto-erased (the key is destroyed), %s deletion "
                              "blocked until then.",
                              locked_stores, locked_stores == 1 ? "store" : "stores",
                              (long long) locked_objects,
                              locked_objects == 1 ? "object is" : "objects are",
                              s_(cert, "object_lock_until"), locked_objects == 1 ? "its" : "their");
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

/* The artifacts' table: six columns of fixed shares of the width, so that a long path or key
 * breaks inside its own column instead of squeezing the others into a letter a line; a row is
 * never split across printed pages (html.c's print rules). */
static const char CSS[] = "table.artifacts { font-size: 9pt; table-layout: fixed; }\n"
                          "table.artifacts td { white-space: pre-line; }\n"
                          "table.artifacts td.must { white-space: normal; }\n"
                          "table.artifacts col.what { width: 16%; }\n"
                          "table.artifacts col.where { width: 18%; }\n"
                          "table.artifacts col.medium { width: 22%; }\n"
                          "table.artifacts col.how { width: 16%; }\n"
                          "table.artifacts col.check { width: 14%; }\n"
                          "table.artifacts col.duty { width: 14%; }\n"
                          "td.nothing { color: #555; }\n"
                          ".nowrap { white-space: nowrap; }\n"
                          "ul.duties { margin: .3rem 0; padding: 0; list-style: none; }\n"
                          "ul.duties li { margin: .2rem 0; padding: .15rem .4rem; }\n"
                          "ul.duties .for { font-weight: normal; }\n"
                          "table.artifacts .mono { font-size: .95em; }\n"
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

/* An artifact's kind in words: "Backups in store", "Source path", ... */
static const char *kind_text(const char *kind) {
        return streq(kind, "backups")       ? "Backups in store"
               : streq(kind, "source-path") ? "Source path"
               : streq(kind, "agent-state") ? "Agent state"
               : streq(kind, "key-copy")    ? "Key copy"
                                            : kind;
}

static const char *nist_text(const char *category) {
        return streq(category, "purge") ? "Purge" : streq(category, "clear") ? "Clear" : "none";
}

static void strong(YbHtml *h, const char *text) {
        yb_html_raw(h, "<strong>");
        yb_html_text(h, text);
        yb_html_raw(h, "</strong>");
}

/* An artifact's name after its kind: "Key copy 5" for the name "key copy 5", "Backups in store
 * local", "Agent state: signature caches". */
static void artifact_name(YbHtml *h, const char *label, const char *kind, const char *name) {
        size_t n = strlen(label);

        if (strncasecmp(name, label, n) == 0)
                yb_html_textf(h, "%s%s", label, name + n);
        else
                yb_html_textf(h, "%s%s%s", label, streq(kind, "agent-state") ? ": " : " ", name);
}

/* The first cell: what it is ("Key copy 5" for the name "key copy 5"; "Backups in store local"),
 * its tiers, its holder, when it was destroyed. */
static void what_cell(YbHtml *h, json_t *a) {
        const char *label = kind_text(s_(a, "kind")), *name = s_(a, "name");
        char t[32];
        size_t i;
        json_t *x;

        yb_html_raw(h, "<td><strong>");
        artifact_name(h, label, s_(a, "kind"), name);
        yb_html_raw(h, "</strong>");
        json_array_foreach(o_(a, "tiers"), i, x) yb_html_textf(
                h, "%s%lld", i == 0 ? "\ntier " : ", ", (long long) json_integer_value(x));
        if (s_(a, "holder"))
                yb_html_textf(h, "\nheld by %s, %s", s_(a, "holder"), s_(a, "state"));
        if (s_(a, "when")) {
                /* Broken only between the date and the time, never inside the date. */
                when(s_(a, "when"), t);
                t[10] = '\0';
                yb_html_text(h, s_(a, "holder") ? "\n" : "\ndestroyed ");
                yb_html_raw(h, "<span class=\"nowrap\">");
                yb_html_text(h, t);
                yb_html_raw(h, "</span> <span class=\"nowrap\">");
                yb_html_text(h, t + 11);
                yb_html_raw(h, "</span>");
        }
        yb_html_raw(h, "</td>");
}

/* The place (a path or URL, which may break anywhere) and what was there. */
static void where_cell(YbHtml *h, json_t *a) {
        json_t *size = o_(a, "size_bytes"), *files = o_(a, "files");
        char num[32];

        yb_html_raw(h, "<td><span class=\"mono\">");
        yb_html_text(h, s_(a, "location"));
        yb_html_raw(h, "</span>");
        if (json_is_integer(size))
                yb_html_textf(h, "\n%s (%lld bytes)",
                              yb_format_bytes((uint64_t) json_integer_value(size), num),
                              (long long) json_integer_value(size));
        else
                yb_html_text(h, "\nsize not known");
        if (json_is_integer(files))
                yb_html_textf(h, ", %lld %s", (long long) json_integer_value(files),
                              json_integer_value(files) == 1 ? "file" : "files");
        yb_html_raw(h, "</td>");
}

/* The medium and what an overwrite achieves on it (docs/decommission.md, "Honest methods"). */
static void medium_cell(YbHtml *h, json_t *a) {
        json_t *m = o_(a, "medium");
        const char *dev;

        yb_html_raw(h, "<td>");
        if (!json_is_object(m)) {
                const char *state = s_(a, "state");

                yb_html_text(h, state && streq(state, "withdrawn") ? "none (withdrawn: not a copy)"
                                : !state || !streq(state, "attested")
                                        ? "not known: no overwrite is claimed"
                                : streq(s_(a, "kind"), "key-copy")
                                        ? "none (an offline copy)"
                                        : "not reached: the host's destruction is attested");
                yb_html_raw(h, "</td>");
                return;
        }
        dev = s_(m, "device");
        yb_html_raw(h, "<strong>");
        yb_html_textf(h, "%s%s%s (%s)", s_(m, "filesystem"), dev && *dev ? " on " : "",
                      dev && *dev ? dev : "", s_(m, "kind"));
        yb_html_raw(h, "</strong>");
        yb_html_textf(h, "\noverwrite %s: %s",
                      json_is_true(o_(m, "overwrite_effective")) ? "effective" : "not effective",
                      s_(m, "why"));
        if (json_is_true(o_(m, "encrypted")))
                yb_html_text(h, "\nencrypted (dm-crypt/LUKS): erasing its key slots is the real "
                                "purge");
        yb_html_raw(h, "</td>");
}

/* One artifact: six cells, the last highlighted when the operator must still act. */
static void artifact_row(YbHtml *h, json_t *a) {
        json_t *v = o_(a, "verification"), *x;
        const char *must = s_(a, "operator_must");
        size_t i;

        yb_html_raw(h, "<tr>");
        what_cell(h, a);
        where_cell(h, a);
        medium_cell(h, a);
        yb_html_raw(h, "<td>");
        strong(h, s_(a, "claim"));
        yb_html_textf(h, "\nNIST SP 800-88: %s\nmethods: ", nist_text(s_(a, "nist_category")));
        json_array_foreach(o_(a, "methods"), i, x)
                yb_html_textf(h, "%s%s", i > 0 ? ", " : "", json_string_value(x));
        yb_html_raw(h, "</td><td>");
        strong(h, s_(v, "result"));
        yb_html_textf(h, ": %s", s_(v, "method"));
        if (s_(v, "detail") && *s_(v, "detail"))
                yb_html_textf(h, " (%s)", s_(v, "detail"));
        yb_html_raw(h, "</td>");
        yb_html_raw(h, must ? "<td class=\"must\">" : "<td class=\"nothing\">");
        yb_html_text(h, must ?: "nothing");
        yb_html_raw(h, "</td></tr>\n");
}

/* What the cloud operator must still do, each duty once with the artifacts it concerns, in the
 * artifacts' order: the table says it per row, this list where nobody can miss it. */
static void duties(YbHtml *h, json_t *cert) {
        json_t *arts = o_(cert, "artifacts"), *a, *b;
        bool any = false;
        size_t i, j;

        json_array_foreach(arts, i, a) {
                const char *must = s_(a, "operator_must");
                bool first = true, earlier = false;

                for (j = 0; must && j < i && !earlier; j++)
                        earlier = s_(json_array_get(arts, j), "operator_must") &&
                                  streq(s_(json_array_get(arts, j), "operator_must"), must);
                if (!must || earlier)
                        continue;
                if (!any)
                        yb_html_raw(h, "<h2>What the cloud operator must still do</h2>\n"
                                       "<ul class=\"duties\">\n");
                any = true;
                yb_html_raw(h, "<li class=\"must\">");
                yb_html_text(h, must);
                yb_html_raw(h, "<br><span class=\"for\">for ");
                json_array_foreach(arts, j, b) {
                        const char *m = s_(b, "operator_must");
                        const char *label = kind_text(s_(b, "kind")), *name = s_(b, "name");

                        if (j < i || !m || !streq(m, must))
                                continue;
                        yb_html_text(h, first ? "" : "; ");
                        first = false;
                        artifact_name(h, label, s_(b, "kind"), name);
                        yb_html_textf(h, " (%s)", s_(b, "location"));
                }
                yb_html_raw(h, "</span></li>\n");
        }
        if (any)
                yb_html_raw(h, "</ul>\n");
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
        duties(&h, cert);

        yb_html_raw(&h, "<h2>System</h2>\n<table class=\"facts\">\n");
        yb_html_fact(&h, "System", s_(sys, "id"));
        yb_html_fact(&h, "Name", s_(sys, "name"));
        yb_html_fact(&h, "Department", s_(sys, "department"));
        yb_html_fact(&h, "Classification", s_(sys, "classification"));
        yb_html_fact(&h, "Key id (destroyed)", s_(sys, "key_id"));
        yb_html_raw(&h, "</table>\n");
        people(&h, cert);

        yb_html_raw(&h, "<h2>What was destroyed</h2>\n<table class=\"artifacts\">\n<colgroup>"
                        "<col class=\"what\"><col class=\"where\"><col class=\"medium\">"
                        "<col class=\"how\"><col class=\"check\"><col class=\"duty\">"
                        "</colgroup>\n<thead><tr><th>Artifact</th><th>Location and size</th>"
                        "<th>Medium</th><th>Sanitization</th><th>Verification</th>"
                        "<th>The operator must still</th></tr></thead>\n<tbody>\n");
        json_array_foreach(o_(cert, "artifacts"), i, a) artifact_row(&h, a);
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
        yb_signed_html_signature(&h, cert, "certificate", "yunbak-certificate", "certificate",
                                 "cert");
        yb_html_json(&h, "yunbak-certificate", file, strlen(file));
        yb_html_end(&h);
        return yb_html_finish(&h, ret);
}
