/* core/store/s3-xml.c: the XML reader of s3-xml.h. One pass over the bytes with a stack of open
 * element names kept as one path string; text is collected per element and decoded as it is
 * read. No recursion, so depth costs no stack. */
#include "core/store/s3-xml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/buf.h"

typedef struct Parser {
        const char *p, *end;
        char path[YB_S3_XML_DEPTH * 128 + 1];
        size_t path_len;
        size_t starts[YB_S3_XML_DEPTH]; /* where each open element's name starts in path */
        size_t depth;
        YbBuf text;
        bool had_child[YB_S3_XML_DEPTH];
        bool root_done;
} Parser;

static bool name_char(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '-' || c == '.' || c == ':';
}

static bool blank(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int put_utf8(YbBuf *b, uint32_t c) {
        uint8_t u[4];
        size_t n;

        if (c == 0 || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
                return -EBADMSG;
        if (c < 0x80) {
                u[0] = (uint8_t) c;
                n = 1;
        } else if (c < 0x800) {
                u[0] = (uint8_t) (0xC0 | (c >> 6));
                u[1] = (uint8_t) (0x80 | (c & 0x3F));
                n = 2;
        } else if (c < 0x10000) {
                u[0] = (uint8_t) (0xE0 | (c >> 12));
                u[1] = (uint8_t) (0x80 | ((c >> 6) & 0x3F));
                u[2] = (uint8_t) (0x80 | (c & 0x3F));
                n = 3;
        } else {
                u[0] = (uint8_t) (0xF0 | (c >> 18));
                u[1] = (uint8_t) (0x80 | ((c >> 12) & 0x3F));
                u[2] = (uint8_t) (0x80 | ((c >> 6) & 0x3F));
                u[3] = (uint8_t) (0x80 | (c & 0x3F));
                n = 4;
        }
        return yb_buf_append(b, u, n);
}

/* An entity at x->p (just after '&'), appended to text decoded. */
static int entity(Parser *x) {
        static const struct {
                const char *name;
                char c;
        } named[] = {
                { "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' }, { "quot;", '"' }, { "apos;", '\'' }
        };
        const char *semi = memchr(x->p, ';', (size_t) MIN(x->end - x->p, 12));

        if (!semi)
                return -EBADMSG;
        if (*x->p == '#') {
                const char *q = x->p + 1;
                uint32_t c = 0;
                int base = 10;

                if (q < semi && *q == 'x') {
                        base = 16;
                        q++;
                }
                if (q == semi)
                        return -EBADMSG;
                for (; q < semi; q++) {
                        int d;

                        if (*q >= '0' && *q <= '9')
                                d = *q - '0';
                        else if (base == 16 && *q >= 'a' && *q <= 'f')
                                d = *q - 'a' + 10;
                        else if (base == 16 && *q >= 'A' && *q <= 'F')
                                d = *q - 'A' + 10;
                        else
                                return -EBADMSG;
                        c = c * (uint32_t) base + (uint32_t) d;
                        if (c > 0x10FFFF)
                                return -EBADMSG;
                }
                x->p = semi + 1;
                return put_utf8(&x->text, c);
        }
        for (size_t i = 0; i < ELEMENTSOF(named); i++) {
                size_t l = strlen(named[i].name);

                if ((size_t) (semi + 1 - x->p) == l && memcmp(x->p, named[i].name, l) == 0) {
                        x->p = semi + 1;
                        return yb_buf_append_u8(&x->text, (uint8_t) named[i].c);
                }
        }
        return -EBADMSG;
}

/* Skips past the first occurrence of s; -EBADMSG if there is none. */
static int skip_past(Parser *x, const char *s) {
        size_t l = strlen(s);

        for (const char *q = x->p; q + l <= x->end; q++)
                if (memcmp(q, s, l) == 0) {
                        x->p = q + l;
                        return 0;
                }
        return -EBADMSG;
}

/* Reads a name at x->p; its local part (after any prefix) in [*b, *e). */
static int read_name(Parser *x, const char **b, const char **e) {
        const char *s = x->p, *local;

        while (x->p < x->end && name_char(*x->p))
                x->p++;
        if (x->p == s)
                return -EBADMSG;
        local = memrchr(s, ':', (size_t) (x->p - s));
        *b = local ? local + 1 : s;
        *e = x->p;
        return *b < *e ? 0 : -EBADMSG;
}

static int open_tag(Parser *x) {
        const char *b, *e;
        size_t l;
        int r;

        if (x->root_done)
                return -EBADMSG;
        r = read_name(x, &b, &e);
        if (r < 0)
                return r;
        /* Attributes: name="value" or name='value', skipped. */
        for (;;) {
                const char *ab, *ae;

                while (x->p < x->end && blank(*x->p))
                        x->p++;
                if (x->p >= x->end)
                        return -EBADMSG;
                if (*x->p == '>' || *x->p == '/')
                        break;
                r = read_name(x, &ab, &ae);
                if (r < 0)
                        return r;
                if (x->p + 1 >= x->end || *x->p != '=' || (x->p[1] != '"' && x->p[1] != '\''))
                        return -EBADMSG;
                {
                        const char *close = memchr(x->p + 2, x->p[1], (size_t) (x->end - x->p - 2));

                        if (!close)
                                return -EBADMSG;
                        x->p = close + 1;
                }
        }
        if (x->depth == YB_S3_XML_DEPTH)
                return -E2BIG;
        if (x->depth > 0) {
                /* Text before a child is only layout. */
                x->had_child[x->depth - 1] = true;
        }
        l = (size_t) (e - b);
        if (x->path_len + 1 + l >= sizeof(x->path))
                return -E2BIG;
        if (x->depth > 0)
                x->path[x->path_len++] = '/';
        x->starts[x->depth] = x->path_len;
        memcpy(x->path + x->path_len, b, l);
        x->path_len += l;
        x->path[x->path_len] = 0;
        x->had_child[x->depth] = false;
        x->depth++;
        yb_buf_clear(&x->text);
        if (*x->p == '/') {
                if (x->p + 1 >= x->end || x->p[1] != '>')
                        return -EBADMSG;
                x->p += 2;
                return 1; /* empty element: closes at once */
        }
        x->p++;
        return 0;
}

static int close_element(Parser *x, YbS3XmlFn fn, void *ud) {
        size_t d = x->depth - 1;
        const char *text = "";
        size_t len = 0;
        int r;

        if (!x->had_child[d]) {
                r = yb_buf_append_u8(&x->text, 0);
                if (r < 0)
                        return r;
                text = (const char *) x->text.data;
                len = x->text.size - 1;
        }
        r = fn(ud, x->path, text, len);
        if (r < 0)
                return r;
        yb_buf_clear(&x->text);
        x->path_len = d > 0 ? x->starts[d] - 1 : 0;
        x->path[x->path_len] = 0;
        x->depth = d;
        if (d == 0)
                x->root_done = true;
        return 0;
}

int yb_s3_xml_parse(const char *data, size_t n, YbS3XmlFn fn, void *ud) {
        Parser *x;
        int r = 0;

        if (n > YB_S3_XML_MAX)
                return -E2BIG;
        x = calloc(1, sizeof(Parser));
        if (!x)
                return -ENOMEM;
        x->p = data;
        x->end = data + n;
        x->text.cap = YB_S3_XML_TEXT + 1;
        /* An XML declaration, only at the very start. */
        if (n >= 5 && memcmp(data, "<?xml", 5) == 0)
                r = skip_past(x, "?>");
        while (r >= 0 && x->p < x->end) {
                char c = *x->p;

                if (c == '<') {
                        x->p++;
                        if (x->p >= x->end) {
                                r = -EBADMSG;
                        } else if (x->end - x->p >= 3 && memcmp(x->p, "!--", 3) == 0) {
                                r = skip_past(x, "-->");
                        } else if (*x->p == '/') {
                                const char *b, *e;
                                size_t d;

                                x->p++;
                                if (x->depth == 0) {
                                        r = -EBADMSG;
                                        break;
                                }
                                r = read_name(x, &b, &e);
                                if (r < 0)
                                        break;
                                d = x->depth - 1;
                                if ((size_t) (e - b) != x->path_len - x->starts[d] ||
                                    memcmp(b, x->path + x->starts[d], (size_t) (e - b)) != 0) {
                                        r = -EBADMSG;
                                        break;
                                }
                                while (x->p < x->end && blank(*x->p))
                                        x->p++;
                                if (x->p >= x->end || *x->p != '>') {
                                        r = -EBADMSG;
                                        break;
                                }
                                x->p++;
                                r = close_element(x, fn, ud);
                        } else if (name_char(*x->p)) {
                                r = open_tag(x);
                                if (r == 1)
                                        r = close_element(x, fn, ud);
                        } else {
                                r = -EBADMSG; /* DOCTYPE, CDATA, processing instructions */
                        }
                } else if (c == '&') {
                        x->p++;
                        r = x->depth == 0 ? -EBADMSG : entity(x);
                } else {
                        if (x->depth == 0) {
                                if (!blank(c))
                                        r = -EBADMSG;
                        } else {
                                r = yb_buf_append_u8(&x->text, (uint8_t) c);
                        }
                        x->p++;
                }
                if (r == -ENOBUFS)
                        r = -E2BIG;
        }
        if (r >= 0 && (x->depth > 0 || !x->root_done))
                r = -EBADMSG;
        yb_buf_done(&x->text);
        free(x);
        return r;
}

typedef struct ValueCtx {
        const char *path;
        char *value;
} ValueCtx;

static int value_fn(void *ud, const char *path, const char *text, size_t len) {
        ValueCtx *c = ud;

        if (c->value || strcmp(path, c->path) != 0)
                return 0;
        c->value = strndup(text, len);
        return c->value ? 0 : -ENOMEM;
}

int yb_s3_xml_value(const char *data, size_t n, const char *path, char **ret) {
        ValueCtx c = { .path = path };
        int r = yb_s3_xml_parse(data, n, value_fn, &c);

        if (r < 0) {
                free(c.value);
                return r;
        }
        *ret = c.value;
        return 0;
}

typedef struct RecordCtx {
        const char *record;
        size_t record_len;
        const char *const *fields;
        size_t n_fields;
        char *values[8];
        int (*fn)(void *ud, char **values);
        void *ud;
} RecordCtx;

static void clear_values(RecordCtx *c) {
        for (size_t i = 0; i < c->n_fields; i++) {
                free(c->values[i]);
                c->values[i] = NULL;
        }
}

static int record_fn(void *ud, const char *path, const char *text, size_t len) {
        RecordCtx *c = ud;
        int r;

        if (strncmp(path, c->record, c->record_len) != 0)
                return 0;
        if (path[c->record_len] == 0) {
                r = c->fn(c->ud, c->values);
                clear_values(c);
                return r;
        }
        if (path[c->record_len] != '/')
                return 0;
        for (size_t i = 0; i < c->n_fields; i++)
                if (strcmp(path + c->record_len + 1, c->fields[i]) == 0) {
                        if (c->values[i])
                                return -EBADMSG; /* twice in one record */
                        c->values[i] = strndup(text, len);
                        return c->values[i] ? 0 : -ENOMEM;
                }
        return 0;
}

int yb_s3_xml_records(const char *data, size_t n, const char *record, const char *const *fields,
                      size_t n_fields, int (*fn)(void *ud, char **values), void *ud) {
        RecordCtx c = { .record = record,
                        .record_len = strlen(record),
                        .fields = fields,
                        .n_fields = n_fields,
                        .fn = fn,
                        .ud = ud };
        int r;

        if (n_fields > ELEMENTSOF(c.values))
                return -EINVAL;
        r = yb_s3_xml_parse(data, n, record_fn, &c);
        clear_values(&c);
        return r;
}
