/* core/evidence/html.h: self-contained HTML pages for documents people keep and print (the
 * decommission certificate; restore drill reports): one file, inline CSS, no script but an
 * embedded JSON document, no external reference of any kind (no http, no fonts fetched), A4
 * print rules, every text HTML-escaped. A page is a pure function of its input: the same calls
 * write the same bytes.
 *
 * The writer keeps its first error (sticky, as a stream's): calls after it do nothing, and
 * yb_html_finish returns it. */
#pragma once

#include <stddef.h>

#include "core/base/buf.h"
#include "core/base/macro.h"

typedef struct YbHtml {
        YbBuf buf;
        int error; /* the first error, 0 while none */
} YbHtml;

#define YB_HTML_INIT                                                                               \
        { YB_BUF_INIT, 0 }

/* Frees what h holds. */
void yb_html_done(YbHtml *h);

/* Starts the page: doctype, <html lang>, <head> with charset, title (escaped), the shared
 * stylesheet (fonts "Noto Sans CJK SC", sans-serif; tables; @page A4 and print rules; the
 * classes "must" (what someone must still do: highlighted), "result", "mono", "note"; "ok",
 * "bad", "neutral" (a judgement's colour, in text and in core/evidence/svg.h's charts)) and css
 * (more rules, trusted: written as they are; NULL for none), then <body>. */
void yb_html_begin(YbHtml *h, const char *lang, const char *title, const char *css);
/* Ends the body and the page. */
void yb_html_end(YbHtml *h);

/* Writes s as it is: markup the caller wrote (never text from a document). */
void yb_html_raw(YbHtml *h, const char *s);
/* Writes s HTML-escaped (& < > " '). NULL writes nothing. */
void yb_html_text(YbHtml *h, const char *s);
/* Formats, then writes the result escaped. */
void yb_html_textf(YbHtml *h, const char *fmt, ...) _printf_(2, 3);
/* <tag class="cls">text</tag>, the text escaped; cls NULL: no class. */
void yb_html_element(YbHtml *h, const char *tag, const char *cls, const char *text);
/* A table row of a two-column fact table: <tr><th>label</th><td>text</td></tr> (escaped). */
void yb_html_fact(YbHtml *h, const char *label, const char *text);
/* The same with the text formatted (then escaped). */
void yb_html_factf(YbHtml *h, const char *label, const char *fmt, ...) _printf_(3, 4);

/* <script type="application/json" id="id">bytes</script>, with bytes as they are except that
 * "</" is written "<\/" and "<!--" "<\u0021--" (both still JSON that reads the same, and
 * neither can then end or confuse the script element). bytes must not already hold "<\/" or
 * "<\u": text written by core/evidence/jsonwrite.h never does. */
void yb_html_json(YbHtml *h, const char *id, const char *bytes, size_t n);
/* The marker yb_html_json writes before the bytes, for finding them again: in ret (room for
 * 128 bytes). */
void yb_html_json_marker(const char *id, char ret[128]);
/* Undoes yb_html_json's escaping of n bytes at s into *ret (NUL-terminated, the caller frees
 * it; its length in *ret_size). 0 or -ENOMEM. */
int yb_html_json_unescape(const char *s, size_t n, char **ret, size_t *ret_size);

/* The page's bytes in *ret (NUL-terminated; the caller frees it): 0, or the first error of any
 * call (-ENOMEM). h is emptied either way. */
int yb_html_finish(YbHtml *h, char **ret);
