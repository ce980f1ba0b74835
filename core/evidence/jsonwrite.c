/* JSON written as Python's json.dumps(sort_keys=True, ensure_ascii=False) writes it (jsonwrite.h).
 *
 * Our own writer rather than jansson's json_dumps: the bytes of a signed document must not
 * depend on the jansson version (its escaping of '/', of control characters in upper or lower
 * case hex, and its indented separators have changed over time), and the writer must refuse,
 * with where, what another tool would write differently. */
#include "core/evidence/jsonwrite.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/macro.h"

/* Where the writer is in the document, for messages: "artifacts[2].medium.why". */
typedef struct Where {
        const struct Where *up;
        const char *key; /* a member's name, or NULL for an array element */
        size_t index;
} Where;

static void where_format(const Where *w, char *buf, size_t size, size_t *pos) {
        int n;

        if (!w || !w->up) /* the document itself */
                return;
        where_format(w->up, buf, size, pos);
        if (w->key)
                n = snprintf(buf + *pos, size - *pos, "%s%s", *pos > 0 ? "." : "", w->key);
        else
                n = snprintf(buf + *pos, size - *pos, "[%zu]", w->index);
        if (n > 0)
                *pos = MIN(*pos + (size_t) n, size - 1);
}

static int refuse(const Where *w, char *why, size_t why_size, const char *problem) {
        char path[256];
        size_t pos = 0;

        path[0] = 0;
        where_format(w, path, sizeof(path), &pos);
        if (why && why_size > 0)
                snprintf(why, why_size, "%s%s%s", path, *path ? ": " : "", problem);
        return -EINVAL;
}

/* Decodes one UTF-8 sequence of s (n > 0 bytes left) into *ret; its length, or 0 if it is not
 * well-formed (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *ret) {
        uint32_t c = s[0], min;
        size_t len;

        if (c < 0x80) {
                *ret = c;
                return 1;
        }
        if ((c & 0xe0) == 0xc0)
                len = 2, c &= 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
                len = 3, c &= 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
                len = 4, c &= 0x07, min = 0x10000;
        else
                return 0;
        if (n < len)
                return 0;
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *ret = c;
        return len;
}

int yb_json_string_check(const char *s, size_t n, char *why, size_t why_size) {
        const unsigned char *u = (const unsigned char *) s;

        for (size_t i = 0; i < n;) {
                uint32_t c;
                size_t len = utf8_next(u + i, n - i, &c);

                if (len == 0) {
                        if (why && why_size > 0)
                                snprintf(why, why_size, "not UTF-8 at byte %zu", i);
                        return -EINVAL;
                }
                if ((c < 0x20 && c != '\n' && c != '\t') || (c >= 0x7f && c <= 0x9f)) {
                        if (why && why_size > 0)
                                snprintf(why, why_size,
                                         "a control character (U+%04" PRIX32 ") at byte %zu", c, i);
                        return -EINVAL;
                }
                i += len;
        }
        return 0;
}

static int write_string(const char *s, size_t n, const Where *w, YbBuf *out, char *why,
                        size_t why_size) {
        char problem[96];
        size_t start = 0;
        int r;

        if (yb_json_string_check(s, n, problem, sizeof(problem)) < 0)
                return refuse(w, why, why_size, problem);
        r = yb_buf_append_u8(out, '"');
        for (size_t i = 0; r >= 0 && i < n; i++) {
                const char *esc = s[i] == '"'    ? "\\\""
                                  : s[i] == '\\' ? "\\\\"
                                  : s[i] == '\n' ? "\\n"
                                  : s[i] == '\t' ? "\\t"
                                                 : NULL;

                if (!esc)
                        continue;
                r = yb_buf_append(out, s + start, i - start);
                if (r >= 0)
                        r = yb_buf_append(out, esc, 2);
                start = i + 1;
        }
        if (r >= 0)
                r = yb_buf_append(out, s + start, n - start);
        if (r >= 0)
                r = yb_buf_append_u8(out, '"');
        return r < 0 ? r : 0;
}

static int newline(YbBuf *out, int indent, int depth) {
        int r = 0;

        if (indent < 0)
                return 0;
        r = yb_buf_append_u8(out, '\n');
        for (int i = 0; r >= 0 && i < indent * depth; i++)
                r = yb_buf_append_u8(out, ' ');
        return r;
}

typedef struct Member {
        const char *key;
        size_t len;
        json_t *value;
} Member;

static int member_compare(const void *a, const void *b) {
        const Member *x = a, *y = b;
        int c = memcmp(x->key, y->key, MIN(x->len, y->len));

        return c != 0 ? c : x->len < y->len ? -1 : x->len > y->len;
}

static int write_value(const json_t *v, int indent, int depth, const char *skip, const Where *w,
                       YbBuf *out, char *why, size_t why_size);

static int write_object(const json_t *v, int indent, int depth, const char *skip, const Where *w,
                        YbBuf *out, char *why, size_t why_size) {
        _cleanup_free_ Member *m = NULL;
        const char *key;
        size_t n = 0, key_len;
        json_t *value;
        int r;

        m = new0(Member, json_object_size(v) + 1);
        if (!m)
                return -ENOMEM;
        json_object_keylen_foreach((json_t *) v, key, key_len, value) {
                if (skip && strlen(skip) == key_len && memcmp(skip, key, key_len) == 0)
                        continue;
                m[n++] = (Member){ .key = key, .len = key_len, .value = value };
        }
        qsort(m, n, sizeof(Member), member_compare);
        r = yb_buf_append_u8(out, '{');
        for (size_t i = 0; r >= 0 && i < n; i++) {
                Where here = { .up = w, .key = m[i].key };

                if (i > 0)
                        r = yb_buf_append_u8(out, ',');
                if (r >= 0)
                        r = newline(out, indent, depth + 1);
                if (r < 0)
                        break;
                if (strlen(m[i].key) != m[i].len)
                        return refuse(w, why, why_size, "a member name holds a NUL byte");
                r = write_string(m[i].key, m[i].len, &here, out, why, why_size);
                if (r >= 0)
                        r = yb_buf_append(out, indent < 0 ? ":" : ": ", indent < 0 ? 1 : 2);
                if (r >= 0)
                        r = write_value(m[i].value, indent, depth + 1, NULL, &here, out, why,
                                        why_size);
        }
        if (r >= 0 && n > 0)
                r = newline(out, indent, depth);
        if (r >= 0)
                r = yb_buf_append_u8(out, '}');
        return r < 0 ? r : 0;
}

static int write_array(const json_t *v, int indent, int depth, const Where *w, YbBuf *out,
                       char *why, size_t why_size) {
        size_t n = json_array_size(v);
        int r;

        r = yb_buf_append_u8(out, '[');
        for (size_t i = 0; r >= 0 && i < n; i++) {
                Where here = { .up = w, .index = i };

                if (i > 0)
                        r = yb_buf_append_u8(out, ',');
                if (r >= 0)
                        r = newline(out, indent, depth + 1);
                if (r >= 0)
                        r = write_value(json_array_get(v, i), indent, depth + 1, NULL, &here, out,
                                        why, why_size);
        }
        if (r >= 0 && n > 0)
                r = newline(out, indent, depth);
        if (r >= 0)
                r = yb_buf_append_u8(out, ']');
        return r < 0 ? r : 0;
}

static int write_value(const json_t *v, int indent, int depth, const char *skip, const Where *w,
                       YbBuf *out, char *why, size_t why_size) {
        switch (json_typeof(v)) {
        case JSON_OBJECT:
                return write_object(v, indent, depth, skip, w, out, why, why_size);
        case JSON_ARRAY:
                return write_array(v, indent, depth, w, out, why, why_size);
        case JSON_STRING:
                return write_string(json_string_value(v), json_string_length(v), w, out, why,
                                    why_size);
        case JSON_INTEGER:
                return yb_buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)) < 0
                               ? -ENOMEM
                               : 0;
        case JSON_REAL:
                return refuse(w, why, why_size,
                              "a real number (only integers are allowed: tools write the digits "
                              "of reals differently)");
        case JSON_TRUE:
                return yb_buf_append(out, "true", 4);
        case JSON_FALSE:
                return yb_buf_append(out, "false", 5);
        case JSON_NULL:
                return yb_buf_append(out, "null", 4);
        }
        return refuse(w, why, why_size, "an unknown JSON value");
}

int yb_json_write(const json_t *v, int indent, const char *skip, YbBuf *out, char *why,
                  size_t why_size) {
        Where top = { 0 };

        if (why && why_size > 0)
                why[0] = 0;
        if (!v)
                return refuse(&top, why, why_size, "no value");
        return write_value(v, indent, 0, json_is_object(v) ? skip : NULL, &top, out, why, why_size);
}
