/* Reading a signed document's file back, JSON or HTML (signed-file.h), with the byte-for-byte
 * rule: a file is accepted only if it is exactly what yunbak writes for the document it holds,
 * so that no byte of it (a space in the JSON, a word of the page's visible text) can change
 * unnoticed, although neither is covered by the signature itself.
 *
 * When the bytes differ, the signature (against the key the document names) tells which kind
 * of change it was, for the message: the signed content, or only the layout or the page around
 * it. It decides nothing: the file is refused either way. */
#include "core/evidence/signed-file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/base/macro.h"
#include "core/crypto/keys.h"
#include "core/evidence/html.h"
#include "core/evidence/signed.h"
#include "core/evidence/why.h"

#define SIGNED_FILE_MAX (16 * 1024 * 1024)

/* Line and column (1-based; columns count characters) of byte offset at of s. */
static void line_column(const char *s, size_t at, size_t *ret_line, size_t *ret_col) {
        size_t line = 1, col = 1;

        for (size_t i = 0; i < at; i++)
                if (s[i] == '\n')
                        line++, col = 1;
                else if (((unsigned char) s[i] & 0xc0) != 0x80)
                        col++;
        *ret_line = line;
        *ret_col = col;
}

/* The offset of the first byte where a and b differ (the shorter one's length if one is the
 * other's start), or SIZE_MAX when they are equal. */
static size_t first_difference(const char *a, size_t na, const char *b, size_t nb) {
        size_t i = 0;

        while (i < na && i < nb && a[i] == b[i])
                i++;
        return i == na && i == nb ? SIZE_MAX : i;
}

/* Whether the signature of doc, against the key it names, fails: its signed content changed. */
static bool signed_content_changed(const json_t *doc) {
        return yb_signed_verify(doc, NULL, NULL, 0) == -EBADMSG;
}

int yb_signed_file_load(const char *path, const YbSignedFileKind *k, json_t **ret_doc,
                        bool *ret_html, char *why, size_t why_size) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ char *embedded = NULL, *expected = NULL;
        _cleanup_(json_decrefp) json_t *doc = NULL;
        bool html;
        const char *file, *json, *type, *what, *noun = k->noun;
        size_t n, json_size, start = 0, end = 0, at, line, col;
        char problem[384], in_page[128];
        json_error_t err;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, SIGNED_FILE_MAX, &b);
        if (r == -EFBIG)
                return yb_why(why, why_size, -EINVAL, "%s is far too large to be a %s", path, noun);
        if (r < 0)
                return yb_why(why, why_size, r, "cannot read %s: %s", path, strerror(-r));
        if (yb_buf_append_u8(&b, 0) < 0)
                return -ENOMEM;
        file = (const char *) b.data;
        n = b.size - 1;
        if (memchr(file, 0, n))
                return yb_why(why, why_size, -EINVAL,
                              "%s is not a %s: it holds NUL bytes (a binary file)", path, noun);
        switch (file[strspn(file, " \t\r\n")]) {
        case '{':
                html = false;
                json = file;
                json_size = n;
                break;
        case '<': {
                char marker[128];
                const char *m, *e;

                html = true;
                yb_html_json_marker(k->script_id, marker);
                m = strstr(file, marker);
                if (!m)
                        return yb_why(why, why_size, -EINVAL,
                                      "%s is an HTML page without a yunbak %s in it (no "
                                      "script element \"%s\")",
                                      path, noun, k->script_id);
                start = (size_t) (m - file) + strlen(marker);
                e = strstr(file + start, "</script>");
                if (!e)
                        return yb_why(why, why_size, -EBADMSG,
                                      "%s: the %s embedded in the page has no end (no "
                                      "</script>): the page was cut short or changed",
                                      path, noun);
                end = (size_t) (e - file);
                r = yb_html_json_unescape(file + start, end - start, &embedded, &json_size);
                if (r < 0)
                        return r;
                json = embedded;
                break;
        }
        default:
                return yb_why(why, why_size, -EINVAL,
                              "%s is not a %s: neither JSON nor an HTML page", path, noun);
        }
        snprintf(in_page, sizeof(in_page), "the %s embedded in the page", noun);
        what = html ? in_page : "it";

        doc = json_loadb(json, json_size, JSON_REJECT_DUPLICATES, &err);
        if (!doc)
                return yb_why(why, why_size, html ? -EBADMSG : -EINVAL,
                              "%s: %s is not valid JSON (line %d, column %d of it: %s)%s%s%s", path,
                              what, err.line, err.column, err.text,
                              html ? ": the page was changed" : ": not a ", html ? "" : noun,
                              html ? "" : ", or a damaged one");
        type = json_string_value(json_object_get(doc, "type"));
        if (!json_is_object(doc) || !type || !streq(type, k->type))
                return yb_why(why, why_size, -EINVAL, "%s is not %s (its \"type\" is %s%s%s)", path,
                              k->what, type ? "\"" : "", type ?: "missing", type ? "\"" : "");
        r = k->check(doc, problem, sizeof(problem));
        if (r < 0) {
                if (signed_content_changed(doc))
                        return yb_why(why, why_size, -EBADMSG,
                                      "%s: %s was changed after it was signed (its signature does "
                                      "not check out), and it is no longer a valid %s: %s",
                                      path, what, noun, problem);
                return yb_why(why, why_size, -EINVAL, "%s is not a valid %s: %s", path, noun,
                              problem);
        }

        if (!html)
                r = yb_signed_dump(doc, &expected);
        else
                r = k->html(doc, &expected);
        if (r == -EINVAL)
                return yb_why(why, why_size, -EINVAL,
                              "%s holds a value yunbak never writes in a %s (a real "
                              "number, or a control character in a member it does not know)",
                              path, noun);
        if (r < 0)
                return r;
        at = first_difference(file, n, expected, strlen(expected));
        if (at != SIZE_MAX) {
                line_column(file, at, &line, &col);
                if (signed_content_changed(doc))
                        return yb_why(why, why_size, -EBADMSG,
                                      "%s: %s was changed after it was signed (its signature does "
                                      "not check out; the first byte that differs from what yunbak "
                                      "writes is at line %zu, column %zu)",
                                      path, what, line, col);
                if (!html)
                        return yb_why(why, why_size, -EBADMSG,
                                      "%s was changed at line %zu, column %zu: its bytes are not "
                                      "what yunbak writes for this %s (whitespace, order "
                                      "or escaping), although its signed content is intact",
                                      path, line, col, noun);
                if (at >= start && at < end)
                        return yb_why(why, why_size, -EBADMSG,
                                      "%s: the %s embedded in the page was changed at "
                                      "line %zu, column %zu: its bytes are not what yunbak writes "
                                      "for it (whitespace, order or escaping), although its signed "
                                      "content is intact",
                                      path, noun, line, col);
                return yb_why(why, why_size, -EBADMSG,
                              "%s: the page differs at line %zu, column %zu from what this "
                              "yunbak (" YB_VERSION ") writes for the %s it embeds, whose signed "
                              "content is intact: it was changed, or written by another version "
                              "of yunbak, so its visible text cannot be trusted; 'yunbak %s show "
                              "FILE --html NEW' writes the page anew from the signed content",
                              path, line, col, noun, k->command);
        }
        yb_why(why, why_size, 0, "%s", "");
        *ret_html = html;
        *ret_doc = TAKE_PTR(doc);
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
        "m = re.search(r\"%1$s.>(.*?)</script>\", t, re.S)\n"
        "d = json.loads(m.group(1) if m else t)\n"
        "s = d.pop(\"signature\")\n"
        "c = json.dumps(d, sort_keys=True, separators=(\",\", \":\"), ensure_ascii=False)\n"
        "open(\"%2$s.canonical\", \"wb\").write(c.encode())\n"
        "open(\"%2$s.sig\", \"wb\").write(base64.b64decode(s[\"value\"]))\n"
        "k = base64.b64decode(open(sys.argv[2]).read())\n"
        "open(\"yunbakd.der\", \"wb\").write(bytes.fromhex(\"302a300506032b6570032100\") + k)\n"
        "' FILE yunbakd.pub\n"
        "openssl pkeyutl -verify -pubin -keyform DER -inkey yunbakd.der -rawin \\\n"
        "        -in %2$s.canonical -sigfile %2$s.sig\n";

void yb_signed_html_signature(YbHtml *h, const json_t *doc, const char *noun, const char *script_id,
                              const char *command, const char *stem) {
        json_t *s = json_object_get(doc, "signature");
        const char *key = json_string_value(json_object_get(s, "key")),
                   *value = json_string_value(json_object_get(s, "value"));
        char fp[YB_SIGNED_FINGERPRINT_MAX];
        uint8_t pk[32];

        yb_html_raw(h, "<h2>Signature</h2>\n");
        if (!key || !value || yb_base64_decode(key, pk, sizeof(pk)) < 0) {
                yb_html_raw(h, "<p class=\"must\">");
                yb_html_textf(h, "This %s is not signed.", noun);
                yb_html_raw(h, "</p>\n");
                return;
        }
        yb_signed_fingerprint(pk, fp);
        yb_html_raw(h, "<table class=\"facts\">\n");
        yb_html_fact(h, "Algorithm", json_string_value(json_object_get(s, "alg")));
        yb_html_raw(h, "<tr><th>yunbakd&#39;s key</th><td class=\"mono\">");
        yb_html_textf(h, "%s\n%s", key, fp);
        yb_html_raw(h, "</td></tr>\n<tr><th>Signature</th><td class=\"mono\">");
        yb_html_text(h, value);
        yb_html_raw(h, "</td></tr>\n</table>\n<p>");
        yb_html_textf(h,
                      "The signature is Ed25519 over the %s's canonical form: its "
                      "JSON without \"signature\", keys sorted, no whitespace, UTF-8 as it is. "
                      "Check it with yunbakd's public key (the file yunbakd.pub in its state "
                      "directory; compare its fingerprint above), this page or the JSON file "
                      "as FILE:",
                      noun);
        yb_html_raw(h, "</p>\n<pre>");
        yb_html_textf(h, "yunbak %s verify FILE --public-key yunbakd.pub", command);
        yb_html_raw(h, "</pre>\n");
        yb_html_element(h, "p", NULL,
                        "or without yunbak, with Python 3 and OpenSSL 3, which prints "
                        "\"Signature Verified Successfully\":");
        yb_html_raw(h, "<pre id=\"verify-openssl\">");
        yb_html_textf(h, OPENSSL_STEPS, script_id, stem);
        yb_html_raw(h, "</pre>\n<p>The ");
        yb_html_raw(h, noun); /* the caller's words, never a document's */
        yb_html_raw(h, "'s JSON file is embedded in this page, byte for byte, in the script "
                       "element <code>");
        yb_html_text(h, script_id);
        yb_html_raw(h, "</code> (with <code>&lt;/</code> written <code>&lt;\\/</code> and "
                       "<code>&lt;!--</code> written <code>&lt;\\u0021--</code>, which JSON "
                       "reads the same). The page verifies only if it is exactly what yunbak "
                       "writes for that ");
        yb_html_raw(h, noun);
        yb_html_raw(h, ".</p>\n");
}
