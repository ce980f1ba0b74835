/* Self-contained HTML pages (html.h). Nothing here may name anything outside the page: the
 * stylesheet uses the fonts installed where the page is read ("Noto Sans CJK SC" renders Chinese
 * text; any sans-serif else), so the page reads the same offline, in ten years, and in print. */
#include "core/evidence/html.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_SCRIPT_FORMAT "<script type=\"application/json\" id=\"%s\">"

/* Long words (paths, keys, URLs) break only where nothing else fits ("break-word", which unlike
 * "anywhere" leaves a table's columns their natural widths); .mono text (paths, keys, base64)
 * may break anywhere, and is sized relative to the text around it. In print, a table row, a
 * fact table, the result and a highlighted duty are never split across pages, and the
 * highlighting is printed. */
static const char STYLE[] =
        "@page { size: A4; margin: 16mm 14mm; }\n"
        "html { font-family: \"Noto Sans CJK SC\", \"Noto Sans SC\", \"Source Han Sans SC\", "
        "sans-serif; color: #1a1a1a; background: #fff; }\n"
        "body { max-width: 64rem; margin: 2rem auto; padding: 0 1rem; font-size: 11pt; "
        "line-height: 1.45; }\n"
        "h1 { font-size: 18pt; margin: 0 0 .2rem; }\n"
        "h2 { font-size: 13pt; margin: 1.4rem 0 .4rem; border-bottom: 1px solid #999; }\n"
        "p.sub { margin: 0; color: #444; }\n"
        "table { border-collapse: collapse; width: 100%; margin: .3rem 0; }\n"
        "th, td { border: 1px solid #bbb; padding: .25rem .4rem; text-align: left; "
        "vertical-align: top; }\n"
        "th { background: #eee; font-weight: 600; }\n"
        "table.facts th { width: 12rem; }\n"
        "td, .note { white-space: pre-wrap; overflow-wrap: break-word; }\n"
        ".mono { font-family: \"Noto Sans Mono CJK SC\", monospace; font-size: .88em; "
        "overflow-wrap: anywhere; }\n"
        ".result { border: 2px solid #2d6a2d; background: #eef6ee; padding: .5rem .8rem; "
        "font-size: 12pt; }\n"
        ".must { background: #fff1b8; border: 2px solid #b58900; font-weight: 600; }\n"
        "pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f6f6f6; "
        "padding: .4rem; font-size: 9pt; }\n"
        "code { font-family: \"Noto Sans Mono CJK SC\", monospace; font-size: .9em; }\n"
        ".ok { color: #1e6b1e; }\n"
        ".bad { color: #b00020; }\n"
        ".neutral { color: #555; }\n"
        "figure.chart { margin: .4rem 0; break-inside: avoid; }\n"
        "figure.chart svg { display: block; max-width: 44rem; }\n"
        "figure.chart figcaption { font-size: 9pt; color: #444; }\n"
        "svg text { fill: #1a1a1a; }\n"
        "svg text.bad { fill: #b00020; }\n"
        "svg rect.ok { fill: #2e8b3e; }\n"
        "svg rect.bad { fill: #c62828; }\n"
        "svg rect.neutral { fill: #8a8f98; }\n"
        "svg line.target { stroke: #1f4e9c; }\n"
        "svg line.axis { stroke: #999; }\n"
        "@media print {\n"
        "  body { margin: 0; max-width: none; font-size: 9pt; }\n"
        "  .result { font-size: 10pt; }\n"
        "  h2 { break-after: avoid; }\n"
        "  tr, pre, .result, .must, table.facts { break-inside: avoid; }\n"
        "  thead { display: table-header-group; }\n"
        "  .result, .must, th { -webkit-print-color-adjust: exact; print-color-adjust: exact; }\n"
        "}\n";

void yb_html_done(YbHtml *h) {
        yb_buf_done(&h->buf);
        h->error = 0;
}

static void put(YbHtml *h, const char *s, size_t n) {
        int r;

        if (h->error)
                return;
        r = yb_buf_append(&h->buf, s, n);
        if (r < 0)
                h->error = r;
}

void yb_html_raw(YbHtml *h, const char *s) {
        put(h, s, strlen(s));
}

void yb_html_text(YbHtml *h, const char *s) {
        const char *start = s;

        if (!s)
                return;
        for (; *s; s++) {
                const char *esc = *s == '&'    ? "&amp;"
                                  : *s == '<'  ? "&lt;"
                                  : *s == '>'  ? "&gt;"
                                  : *s == '"'  ? "&quot;"
                                  : *s == '\'' ? "&#39;"
                                               : NULL;

                if (!esc)
                        continue;
                put(h, start, (size_t) (s - start));
                yb_html_raw(h, esc);
                start = s + 1;
        }
        put(h, start, (size_t) (s - start));
}

static void vtextf(YbHtml *h, const char *fmt, va_list ap) _printf_(2, 0);
static void vtextf(YbHtml *h, const char *fmt, va_list ap) {
        char *s = NULL;

        if (h->error)
                return;
        if (vasprintf(&s, fmt, ap) < 0) {
                h->error = -ENOMEM;
                return;
        }
        yb_html_text(h, s);
        free(s);
}

void yb_html_textf(YbHtml *h, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vtextf(h, fmt, ap);
        va_end(ap);
}

void yb_html_element(YbHtml *h, const char *tag, const char *cls, const char *text) {
        yb_html_raw(h, "<");
        yb_html_raw(h, tag);
        if (cls) {
                yb_html_raw(h, " class=\"");
                yb_html_text(h, cls);
                yb_html_raw(h, "\"");
        }
        yb_html_raw(h, ">");
        yb_html_text(h, text);
        yb_html_raw(h, "</");
        yb_html_raw(h, tag);
        yb_html_raw(h, ">\n");
}

void yb_html_fact(YbHtml *h, const char *label, const char *text) {
        yb_html_raw(h, "<tr><th>");
        yb_html_text(h, label);
        yb_html_raw(h, "</th><td>");
        yb_html_text(h, text);
        yb_html_raw(h, "</td></tr>\n");
}

void yb_html_factf(YbHtml *h, const char *label, const char *fmt, ...) {
        va_list ap;

        yb_html_raw(h, "<tr><th>");
        yb_html_text(h, label);
        yb_html_raw(h, "</th><td>");
        va_start(ap, fmt);
        vtextf(h, fmt, ap);
        va_end(ap);
        yb_html_raw(h, "</td></tr>\n");
}

void yb_html_begin(YbHtml *h, const char *lang, const char *title, const char *css) {
        yb_html_raw(h, "<!DOCTYPE html>\n<html lang=\"");
        yb_html_text(h, lang);
        yb_html_raw(h,
                    "\">\n<head>\n<meta charset=\"utf-8\">\n"
                    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
        yb_html_element(h, "title", NULL, title);
        yb_html_raw(h, "<style>\n");
        yb_html_raw(h, STYLE);
        if (css)
                yb_html_raw(h, css);
        yb_html_raw(h, "</style>\n</head>\n<body>\n");
}

void yb_html_end(YbHtml *h) {
        yb_html_raw(h, "</body>\n</html>\n");
}

void yb_html_json_marker(const char *id, char ret[128]) {
        snprintf(ret, 128, JSON_SCRIPT_FORMAT, id);
}

void yb_html_json(YbHtml *h, const char *id, const char *bytes, size_t n) {
        char marker[128];
        size_t start = 0;

        yb_html_json_marker(id, marker);
        yb_html_raw(h, marker);
        for (size_t i = 0; i < n; i++) {
                const char *esc = NULL;
                size_t skip = 0;

                if (bytes[i] != '<')
                        continue;
                if (i + 1 < n && bytes[i + 1] == '/')
                        esc = "<\\/", skip = 2;
                else if (i + 3 < n && memcmp(bytes + i, "<!--", 4) == 0)
                        esc = "<\\u0021--", skip = 4;
                if (!esc)
                        continue;
                put(h, bytes + start, i - start);
                yb_html_raw(h, esc);
                start = i + skip;
                i += skip - 1;
        }
        put(h, bytes + start, n - start);
        yb_html_raw(h, "</script>\n");
}

int yb_html_json_unescape(const char *s, size_t n, char **ret, size_t *ret_size) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        size_t start = 0;
        int r = 0;

        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *plain = NULL;
                size_t skip = 0;

                if (s[i] != '<')
                        continue;
                if (i + 2 < n && memcmp(s + i, "<\\/", 3) == 0)
                        plain = "</", skip = 3;
                else if (i + 8 < n && memcmp(s + i, "<\\u0021--", 9) == 0)
                        plain = "<!--", skip = 9;
                if (!plain)
                        continue;
                r = yb_buf_append(&b, s + start, i - start);
                if (r >= 0)
                        r = yb_buf_append(&b, plain, strlen(plain));
                start = i + skip;
                i += skip - 1;
        }
        if (r >= 0)
                r = yb_buf_append(&b, s + start, n - start);
        if (r >= 0)
                r = yb_buf_append_u8(&b, 0);
        if (r < 0)
                return r;
        *ret_size = b.size - 1;
        *ret = (char *) yb_buf_steal(&b, NULL);
        return 0;
}

int yb_html_finish(YbHtml *h, char **ret) {
        int r = h->error;

        if (r >= 0)
                r = yb_buf_append_u8(&h->buf, 0);
        if (r < 0) {
                yb_html_done(h);
                return r;
        }
        *ret = (char *) yb_buf_steal(&h->buf, NULL);
        yb_html_done(h);
        return 0;
}
