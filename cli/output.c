#include "cli/output.h"

#include <inttypes.h>
#include <stdarg.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"

void cli_json_print(json_t *j) {
        json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        fputc('\n', stdout);
}

const char *cli_json_str(json_t *o, const char *key) {
        json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

        return json_is_string(v) ? json_string_value(v) : NULL;
}

bool cli_json_int(json_t *o, const char *key, int64_t *ret) {
        json_t *v = json_is_object(o) ? json_object_get(o, key) : NULL;

        if (!json_is_integer(v))
                return false;
        *ret = (int64_t) json_integer_value(v);
        return true;
}

/* ---- output ---- */

char *cli_sanitize(const char *s) {
        char *out = strdup(s);

        if (!out)
                return NULL;
        for (unsigned char *c = (unsigned char *) out; *c; c++) {
                if (*c < 0x20 || *c == 0x7f)
                        *c = '?';
                else if (c[0] == 0xc2 && c[1] >= 0x80 && c[1] <= 0x9f) {
                        /* U+0080..U+009F, the C1 controls (CSI among them): two bytes, two '?' */
                        c[0] = c[1] = '?';
                        c++;
                }
        }
        return out;
}

/* East Asian wide and fullwidth ranges (a subset of Unicode's EastAsianWidth W and F). */
static bool is_wide(uint32_t cp) {
        return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) ||
               (cp >= 0x3041 && cp <= 0x33ff) || (cp >= 0x3400 && cp <= 0x4dbf) ||
               (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
               (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
               (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
               (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd);
}

size_t cli_display_width(const char *s) {
        const unsigned char *c = (const unsigned char *) s;
        size_t w = 0;

        while (*c) {
                uint32_t cp;
                int n;

                if (*c < 0x80) {
                        cp = *c;
                        n = 1;
                } else if ((*c & 0xe0) == 0xc0) {
                        cp = *c & 0x1f;
                        n = 2;
                } else if ((*c & 0xf0) == 0xe0) {
                        cp = *c & 0x0f;
                        n = 3;
                } else if ((*c & 0xf8) == 0xf0) {
                        cp = *c & 0x07;
                        n = 4;
                } else {
                        c++; /* a stray continuation byte: shown as one replacement */
                        w++;
                        continue;
                }
                for (int i = 1; i < n; i++) {
                        if ((c[i] & 0xc0) != 0x80) {
                                n = i; /* truncated sequence */
                                break;
                        }
                        cp = (cp << 6) | (c[i] & 0x3f);
                }
                c += n;
                w += is_wide(cp) ? 2 : 1;
        }
        return w;
}

const char *cli_format_duration(int64_t usec, char buf[32]) {
        int64_t s = usec < 0 ? 0 : usec / YB_USEC_PER_SEC;

        if (s < 90)
                snprintf(buf, 32, "%" PRId64 " s", s);
        else if (s < 90 * 60)
                snprintf(buf, 32, "%" PRId64 " min", (s + 30) / 60);
        else if (s < 48 * 3600)
                snprintf(buf, 32, "%" PRId64 " h", (s + 1800) / 3600);
        else
                snprintf(buf, 32, "%" PRId64 " d", (s + 43200) / 86400);
        return buf;
}

const char *cli_format_time(int64_t usec, char buf[32]) {
        /* Up to the year 9999; beyond, or before 1970, the value is nonsense. */
        if (usec < 0 || usec > INT64_C(253402300799) * YB_USEC_PER_SEC) {
                strcpy(buf, "?");
                return buf;
        }
        yb_time_format_iso(yb_usec_to_ns(usec), buf);
        buf[19] = 0;
        buf[10] = ' ';
        return buf;
}

int64_t cli_now_usec(void) {
        return yb_now_usec();
}

struct CliTable {
        size_t n_cols, n_cells, alloc;
        char **cells; /* row-major, the titles first */
};

CliTable *cli_table_free(CliTable *t) {
        if (!t)
                return NULL;
        for (size_t i = 0; i < t->n_cells; i++)
                free(t->cells[i]);
        free(t->cells);
        free(t);
        return NULL;
}

static int table_add_va(CliTable *t, va_list ap) {
        if (t->n_cells + t->n_cols > t->alloc) {
                size_t a = MAX(2 * t->alloc, t->n_cells + t->n_cols);
                char **c = realloc(t->cells, a * sizeof(char *));

                if (!c)
                        return -ENOMEM;
                t->cells = c;
                t->alloc = a;
        }
        for (size_t i = 0; i < t->n_cols; i++) {
                const char *s = va_arg(ap, const char *);
                char *c = cli_sanitize(s && *s ? s : "-");

                if (!c) {
                        while (i-- > 0)
                                free(t->cells[--t->n_cells]);
                        return -ENOMEM;
                }
                t->cells[t->n_cells++] = c;
        }
        return 0;
}

CliTable *cli_table_new(size_t n_cols, ...) {
        CliTable *t = new0(CliTable, 1);
        va_list ap;
        int r;

        assert(n_cols > 0);
        if (!t)
                return NULL;
        t->n_cols = n_cols;
        va_start(ap, n_cols);
        r = table_add_va(t, ap);
        va_end(ap);
        return r < 0 ? cli_table_free(t) : t;
}

int cli_table_add(CliTable *t, ...) {
        va_list ap;
        int r;

        va_start(ap, t);
        r = table_add_va(t, ap);
        va_end(ap);
        return r;
}

size_t cli_table_rows(const CliTable *t) {
        return t->n_cells / t->n_cols - 1;
}

void cli_table_print(const CliTable *t, FILE *f) {
        _cleanup_free_ size_t *w = new0(size_t, t->n_cols);

        if (!w)
                return;
        for (size_t i = 0; i < t->n_cells; i++)
                w[i % t->n_cols] = MAX(w[i % t->n_cols], cli_display_width(t->cells[i]));
        for (size_t i = 0; i < t->n_cells; i++) {
                size_t col = i % t->n_cols;

                fputs(t->cells[i], f);
                if (col + 1 == t->n_cols)
                        fputc('\n', f);
                else
                        fprintf(f, "%*s", (int) (w[col] - cli_display_width(t->cells[i]) + 2), "");
        }
}

int cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *ret) {
        char *end;
        long long v;

        if (!(*s >= '0' && *s <= '9') && *s != '-')
                return -EINVAL; /* strtoll would take spaces and '+' */
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno != 0 || end == s || *end || v < min || v > max)
                return -EINVAL;
        *ret = v;
        return 0;
}
