/* policies/schema.c: typed readers over yamltree.h, and the collection of problems. Checking
 * never stops at the first problem: each reader reports what is wrong with its value and the
 * caller goes on. Problems are collected with their positions and sorted before they are
 * formatted, because the YAML layer and the schema checks find them in different orders. */
#include "policies/schema.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/base/excerpt.h"
#include "core/base/timeutil.h"

/* ---- diagnostics ---- */

void yb_diagnostics_done(YbDiagnostics *d) {
        for (size_t i = 0; i < d->n; i++)
                free(d->lines[i]);
        free(d->lines);
        *d = (YbDiagnostics){ 0 };
}

void yb_diagnostics_print(const YbDiagnostics *d, FILE *f) {
        for (size_t i = 0; i < d->n; i++) {
                fputs(d->lines[i], f);
                fputc('\n', f);
        }
}

int yb_diagnostics_addf(YbDiagnostics *d, const char *fmt, ...) {
        char **a, *line;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&line, fmt, ap);
        va_end(ap);
        if (r < 0)
                return -ENOMEM;
        a = reallocarray(d->lines, d->n + 1, sizeof(char *));
        if (!a) {
                free(line);
                return -ENOMEM;
        }
        d->lines = a;
        a[d->n++] = line;
        return 0;
}

/* ---- problems ---- */

void yb_schema_done(YbSchema *s) {
        for (size_t i = 0; i < s->n_problems; i++)
                free(s->problems[i].message);
        free(s->problems);
        s->problems = NULL;
        s->n_problems = s->n_dropped = 0;
}

void yb_schema_problemv(YbSchema *s, unsigned line, unsigned column, const char *fmt, va_list ap) {
        YbSchemaProblem *a;
        char *m;

        if (s->n_problems >= YB_SCHEMA_MAX_ERRORS) {
                s->n_dropped++;
                return;
        }
        if (vasprintf(&m, fmt, ap) < 0) {
                s->oom = true;
                return;
        }
        a = reallocarray(s->problems, s->n_problems + 1, sizeof(YbSchemaProblem));
        if (!a) {
                free(m);
                s->oom = true;
                return;
        }
        s->problems = a;
        a[s->n_problems] = (YbSchemaProblem){
                .line = line, .column = column, .seq = s->n_problems, .message = m
        };
        s->n_problems++;
}

void yb_schema_problem(YbSchema *s, unsigned line, unsigned column, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        yb_schema_problemv(s, line, column, fmt, ap);
        va_end(ap);
}

void yb_schema_bad(YbSchema *s, const YbYamlNode *n, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        yb_schema_problemv(s, n ? n->line : 1, n ? n->column : 1, fmt, ap);
        va_end(ap);
}

void yb_schema_yaml_error(void *userdata, unsigned line, unsigned column, const char *message) {
        yb_schema_problem(userdata, line, column, "%s", message);
}

static int problem_compare(const void *a, const void *b) {
        const YbSchemaProblem *x = a, *y = b;

        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        if (x->column != y->column)
                return x->column < y->column ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int yb_schema_flush(YbSchema *s, YbDiagnostics *d) {
        int r;

        if (s->oom)
                return -ENOMEM;
        if (s->n_problems == 0 && s->n_dropped == 0)
                return 0;
        if (s->n_problems > 0)
                qsort(s->problems, s->n_problems, sizeof(YbSchemaProblem), problem_compare);
        for (size_t i = 0; i < s->n_problems; i++) {
                r = yb_diagnostics_addf(d, "%s:%u:%u: %s", s->file, s->problems[i].line,
                                        s->problems[i].column, s->problems[i].message);
                if (r < 0)
                        return r;
        }
        if (s->n_dropped > 0) {
                r = yb_diagnostics_addf(d, "%s: %zu more error%s not shown", s->file, s->n_dropped,
                                        s->n_dropped == 1 ? "" : "s");
                if (r < 0)
                        return r;
        }
        return -EINVAL;
}

/* ---- durations ---- */

static const struct {
        const char *name;
        int64_t usec;
} duration_units[] = {
        { "s", YB_USEC_PER_SEC },
        { "sec", YB_USEC_PER_SEC },
        { "second", YB_USEC_PER_SEC },
        { "seconds", YB_USEC_PER_SEC },
        { "min", YB_USEC_PER_MINUTE },
        { "minute", YB_USEC_PER_MINUTE },
        { "minutes", YB_USEC_PER_MINUTE },
        { "h", YB_USEC_PER_HOUR },
        { "hour", YB_USEC_PER_HOUR },
        { "hours", YB_USEC_PER_HOUR },
        { "d", YB_USEC_PER_DAY },
        { "day", YB_USEC_PER_DAY },
        { "days", YB_USEC_PER_DAY },
        { "w", 7 * YB_USEC_PER_DAY },
        { "week", 7 * YB_USEC_PER_DAY },
        { "weeks", 7 * YB_USEC_PER_DAY },
        /* As systemd.time(7): a month is 30.44 days, a year 365.25 days. */
        { "month", 2629800 * YB_USEC_PER_SEC },
        { "months", 2629800 * YB_USEC_PER_SEC },
        { "y", 31557600 * YB_USEC_PER_SEC },
        { "year", 31557600 * YB_USEC_PER_SEC },
        { "years", 31557600 * YB_USEC_PER_SEC },
};

static bool is_digit(char ch) {
        return ch >= '0' && ch <= '9';
}

static bool is_alpha(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Parses a duration; on failure writes why into err (for people, without the input itself). */
static int duration_parse(const char *s, int64_t *ret_usec, char *err, size_t err_size) {
        int64_t total = 0;
        const char *p = s;

        while (*p == ' ')
                p++;
        if (!*p) {
                snprintf(err, err_size, "it is empty");
                return -EINVAL;
        }
        while (*p) {
                int64_t n = 0, unit = 0;
                const char *u;
                size_t ulen;

                if (!is_digit(*p)) {
                        snprintf(err, err_size, "expected a whole number at '%.16s'", p);
                        return -EINVAL;
                }
                for (; is_digit(*p); p++) {
                        if (n > YB_SCHEMA_DURATION_MAX_USEC / 10) {
                                snprintf(err, err_size, "it is too long (at most 100 years)");
                                return -EINVAL;
                        }
                        n = n * 10 + (*p - '0');
                }
                while (*p == ' ')
                        p++;
                for (u = p; is_alpha(*p); p++)
                        ;
                ulen = (size_t) (p - u);
                if (ulen == 0) {
                        snprintf(err, err_size,
                                 *p ? "unexpected '%.1s' after a number"
                                    : "a number needs a unit, as in 30s, 5min, 1h or 7d",
                                 p);
                        return -EINVAL;
                }
                if (ulen == 1 && (*u == 'm' || *u == 'M')) {
                        snprintf(err, err_size,
                                 "'%c' is ambiguous: write min for minutes or month for months",
                                 *u);
                        return -EINVAL;
                }
                for (size_t i = 0; i < ELEMENTSOF(duration_units); i++)
                        if (strlen(duration_units[i].name) == ulen &&
                            strncmp(duration_units[i].name, u, ulen) == 0)
                                unit = duration_units[i].usec;
                if (unit == 0) {
                        snprintf(err, err_size,
                                 "unknown unit '%.*s' (use s, min, h, d, w, month or y)",
                                 (int) MIN(ulen, (size_t) 16), u);
                        return -EINVAL;
                }
                if (n > (YB_SCHEMA_DURATION_MAX_USEC - total) / unit) {
                        snprintf(err, err_size, "it is too long (at most 100 years)");
                        return -EINVAL;
                }
                total += n * unit;
                while (*p == ' ')
                        p++;
        }
        *ret_usec = total;
        return 0;
}

int yb_duration_parse(const char *s, int64_t *ret_usec) {
        char err[128];

        return duration_parse(s, ret_usec, err, sizeof(err));
}

const char *yb_duration_format(int64_t usec, char *buf, size_t size) {
        static const struct {
                const char *name;
                int64_t usec;
        } parts[] = {
                { "d", YB_USEC_PER_DAY },
                { "h", YB_USEC_PER_HOUR },
                { "min", YB_USEC_PER_MINUTE },
                { "s", YB_USEC_PER_SEC },
        };
        size_t o = 0;

        assert(size > 0);
        buf[0] = 0;
        if (usec < YB_USEC_PER_SEC) {
                snprintf(buf, size, "0s");
                return buf;
        }
        /* Whole years and months as written ("1y", "6month"), since their lengths are not whole
         * days; anything else in days and below. */
        if (usec % (31557600 * YB_USEC_PER_SEC) == 0) {
                snprintf(buf, size, "%lldy", (long long) (usec / (31557600 * YB_USEC_PER_SEC)));
                return buf;
        }
        if (usec % (2629800 * YB_USEC_PER_SEC) == 0 && usec % YB_USEC_PER_DAY != 0) {
                snprintf(buf, size, "%lldmonth", (long long) (usec / (2629800 * YB_USEC_PER_SEC)));
                return buf;
        }
        for (size_t i = 0; i < ELEMENTSOF(parts) && o < size; i++) {
                int64_t n = usec / parts[i].usec;

                if (n == 0)
                        continue;
                usec -= n * parts[i].usec;
                int k = snprintf(buf + o, size - o, "%lld%s", (long long) n, parts[i].name);
                if (k < 0)
                        break;
                o += (size_t) k;
        }
        return buf;
}

/* ---- messages ---- */

const char *yb_schema_join(YbSchemaPath buf, const char *parent, const char *key) {
        size_t size = sizeof(YbSchemaPath), lp = strlen(parent), lk = strlen(key), dot = lp > 0;

        /* parent may be buf itself: move it first. Only paths built from names in the input
         * can be too long; they are cut, which only shortens a message. */
        lp = MIN(lp, size - 1);
        memmove(buf, parent, lp);
        if (dot && lp + 1 < size)
                buf[lp++] = '.';
        lk = MIN(lk, size - 1 - lp);
        memcpy(buf + lp, key, lk);
        buf[lp + lk] = 0;
        return buf;
}

const char *yb_schema_describe(const YbYamlNode *n, char *buf, size_t size) {
        char tmp[64];

        if (yb_yaml_is_empty(n))
                return "an empty value";
        if (n->kind != YB_YAML_SCALAR)
                return yb_yaml_kind_to_string(n->kind);
        snprintf(buf, size, "'%s'", yb_excerpt(n->value, tmp, sizeof(tmp)));
        return buf;
}

/* Short words only: keys and values offered are short. */
size_t yb_schema_edit_distance(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b), d[33][33];

        if (la > 32 || lb > 32)
                return SIZE_MAX;
        for (size_t i = 0; i <= la; i++)
                d[i][0] = i;
        for (size_t j = 0; j <= lb; j++)
                d[0][j] = j;
        for (size_t i = 1; i <= la; i++)
                for (size_t j = 1; j <= lb; j++) {
                        size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;

                        d[i][j] =
                                MIN(MIN(d[i - 1][j] + 1, d[i][j - 1] + 1), d[i - 1][j - 1] + cost);
                        if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                                d[i][j] = MIN(d[i][j], d[i - 2][j - 2] + 1);
                }
        return d[la][lb];
}

const char *yb_schema_closest(const char *word, const char *const known[]) {
        size_t len = strlen(word), best = SIZE_MAX, limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
        const char *found = NULL;

        size_t best_prefix = 0;

        for (size_t i = 0; known[i]; i++) {
                size_t d = yb_schema_edit_distance(word, known[i]), prefix = 0;

                while (word[prefix] && word[prefix] == known[i][prefix])
                        prefix++;
                /* On a tie, the one that starts the same way: keep_days is keep_daily. */
                if (d < best || (d == best && prefix > best_prefix)) {
                        best = d;
                        best_prefix = prefix;
                        found = known[i];
                }
        }
        return best <= limit ? found : NULL;
}

/* ---- readers ---- */

void yb_schema_check_keys(YbSchema *s, const YbYamlNode *map, const char *path,
                          const char *const known[]) {
        for (size_t i = 0; i < map->n_pairs; i++) {
                const YbYamlNode *k = map->pairs[i].key;
                const char *guess;
                char buf[64];
                bool ok = false;

                for (size_t j = 0; known[j] && !ok; j++)
                        ok = streq(k->value, known[j]);
                if (ok)
                        continue;
                guess = yb_schema_closest(k->value, known);
                yb_schema_bad(s, k, "unknown key '%s'%s%s%s%s%s",
                              yb_excerpt(k->value, buf, sizeof(buf)), *path ? " in " : "", path,
                              guess ? "; did you mean '" : "", guess ? guess : "",
                              guess ? "'?" : "");
        }
}

const YbYamlPair *yb_schema_get(YbSchema *s, const YbYamlNode *map, const char *key,
                                const char *path, const YbYamlNode *where) {
        for (size_t i = 0; i < map->n_pairs; i++)
                if (streq(map->pairs[i].key->value, key))
                        return &map->pairs[i];
        if (where)
                yb_schema_bad(s, where, "missing key '%s'%s%s", key, *path ? " in " : "", path);
        return NULL;
}

bool yb_schema_read_mapping(YbSchema *s, const YbYamlNode *v, const char *path) {
        char buf[80];

        if (v->kind == YB_YAML_MAPPING)
                return true;
        if (v->kind != YB_YAML_INVALID)
                yb_schema_bad(s, v, "%s must be a mapping, not %s", path,
                              yb_schema_describe(v, buf, sizeof(buf)));
        return false;
}

const YbYamlNode *yb_schema_section(YbSchema *s, const YbYamlNode *parent, const char *key,
                                    const char *parent_path, const YbYamlNode *where,
                                    const char *const known[], const YbYamlPair **ret_pair) {
        const YbYamlPair *pair = yb_schema_get(s, parent, key, parent_path, where);
        YbSchemaPath path;

        if (ret_pair)
                *ret_pair = pair;
        if (!pair ||
            !yb_schema_read_mapping(s, pair->value, yb_schema_join(path, parent_path, key)))
                return NULL;
        yb_schema_check_keys(s, pair->value, path, known);
        return pair->value;
}

bool yb_schema_read_text(YbSchema *s, const YbYamlNode *v, const char *path, int flags,
                         char **ret) {
        char buf[80];

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind != YB_YAML_SCALAR) {
                yb_schema_bad(s, v, "%s must be a string, not %s", path,
                              yb_schema_describe(v, buf, sizeof(buf)));
                return false;
        }
        if (v->length == 0) {
                yb_schema_bad(s, v, "%s is empty", path);
                return false;
        }
        for (const unsigned char *p = (const unsigned char *) v->value; *p; p++) {
                bool allowed = (flags & YB_SCHEMA_TEXT_MULTILINE) && (*p == '\n' || *p == '\t');

                if ((*p < 0x20 || *p == 0x7f) && !allowed) {
                        yb_schema_bad(s, v, "%s must be one line without control characters", path);
                        return false;
                }
                if ((flags & YB_SCHEMA_TEXT_NO_SPACE) && *p == ' ') {
                        yb_schema_bad(s, v, "%s must not contain spaces, not %s", path,
                                      yb_schema_describe(v, buf, sizeof(buf)));
                        return false;
                }
        }
        if (!ret)
                return true;
        *ret = strdup(v->value);
        if (!*ret)
                s->oom = true;
        return *ret != NULL;
}

bool yb_schema_read_int_range(YbSchema *s, const YbYamlNode *v, const char *path, int min, int max,
                              int *ret) {
        char buf[80];
        long long n = 0;

        assert(0 <= min && min <= max);
        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind == YB_YAML_SCALAR && v->length > 0) {
                const char *p = v->value;

                for (; is_digit(*p) && n <= max; p++)
                        n = n * 10 + (*p - '0');
                if (!*p && n >= min && n <= max) {
                        *ret = (int) n;
                        return true;
                }
        }
        yb_schema_bad(s, v, "%s must be a whole number from %d to %d, not %s", path, min, max,
                      yb_schema_describe(v, buf, sizeof(buf)));
        return false;
}

bool yb_schema_read_uint(YbSchema *s, const YbYamlNode *v, const char *path, int max, int *ret) {
        return yb_schema_read_int_range(s, v, path, 0, max, ret);
}

bool yb_schema_read_bool(YbSchema *s, const YbYamlNode *v, const char *path, bool *ret) {
        char buf[80];

        if (v->kind == YB_YAML_INVALID)
                return false;
        /* Only YAML 1.2's two words: "yes", "on" and "y" are not booleans here. */
        if (v->kind == YB_YAML_SCALAR && (streq(v->value, "true") || streq(v->value, "false"))) {
                *ret = streq(v->value, "true");
                return true;
        }
        yb_schema_bad(s, v, "%s must be true or false, not %s", path,
                      yb_schema_describe(v, buf, sizeof(buf)));
        return false;
}

bool yb_schema_read_choice(YbSchema *s, const YbYamlNode *v, const char *path,
                           const char *const names[], int *ret) {
        char buf[80], list[128] = "";
        const char *guess = NULL;
        size_t n = 0;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind == YB_YAML_SCALAR) {
                for (int i = 0; names[i]; i++)
                        if (streq(v->value, names[i])) {
                                *ret = i;
                                return true;
                        }
                guess = yb_schema_closest(v->value, names);
        }
        while (names[n])
                n++;
        for (size_t i = 0; i < n; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                         i == 0      ? ""
                         : i + 1 < n ? ", "
                                     : " or ",
                         names[i]);
        yb_schema_bad(s, v, "%s must be %s, not %s%s%s%s", path, list,
                      yb_schema_describe(v, buf, sizeof(buf)), guess ? "; did you mean '" : "",
                      guess ? guess : "", guess ? "'?" : "");
        return false;
}

bool yb_schema_read_duration(YbSchema *s, const YbYamlNode *v, const char *path, int64_t *ret) {
        char buf[80], err[128];
        int64_t usec;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind != YB_YAML_SCALAR) {
                yb_schema_bad(s, v, "%s must be a duration such as 30s, 5min, 1h or 7d, not %s",
                              path, yb_schema_describe(v, buf, sizeof(buf)));
                return false;
        }
        if (v->length == 0) {
                yb_schema_bad(s, v, "%s is empty: write a duration such as 30s, 5min, 1h or 7d",
                              path);
                return false;
        }
        if (duration_parse(v->value, &usec, err, sizeof(err)) < 0) {
                yb_schema_bad(s, v, "bad duration %s for %s: %s",
                              yb_schema_describe(v, buf, sizeof(buf)), path, err);
                return false;
        }
        if (usec == 0) {
                yb_schema_bad(s, v, "%s must be longer than 0s", path);
                return false;
        }
        *ret = usec;
        return true;
}

bool yb_schema_read_calendar(YbSchema *s, const YbYamlNode *v, const char *path, YbCalendar **ret,
                             char **ret_text) {
        _cleanup_(yb_calendar_freep) YbCalendar *cal = NULL;
        char buf[80], err[256] = "";
        int r;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind != YB_YAML_SCALAR || v->length == 0) {
                yb_schema_bad(s, v,
                              "%s must be a calendar expression such as 'Sun *-*-* 01:00', not %s",
                              path, yb_schema_describe(v, buf, sizeof(buf)));
                return false;
        }
        r = yb_calendar_parse(v->value, &cal, err, sizeof(err));
        if (r == -ENOMEM) {
                s->oom = true;
                return false;
        }
        if (r < 0) {
                yb_schema_bad(s, v, "bad calendar %s for %s: %s",
                              yb_schema_describe(v, buf, sizeof(buf)), path,
                              *err ? err : "not a calendar expression");
                return false;
        }
        *ret_text = strdup(v->value);
        if (!*ret_text) {
                s->oom = true;
                return false;
        }
        *ret = TAKE_PTR(cal);
        return true;
}

bool yb_schema_read_date(YbSchema *s, const YbYamlNode *v, const char *path, int64_t *ret_usec) {
        static const char pattern[] = "dddd-dd-dd";
        char buf[80];
        int64_t ns;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind == YB_YAML_SCALAR && v->length >= 10) {
                bool shape = true;

                for (size_t i = 0; i < 10 && shape; i++)
                        shape = pattern[i] == 'd' ? is_digit(v->value[i]) : v->value[i] == '-';
                /* Up to 2199: yb_time_parse() counts nanoseconds in 64 bits (until 2262). */
                if (shape && (v->length == 10 || v->value[10] == 'T' || v->value[10] == ' ') &&
                    strncmp(v->value, "2200", 4) < 0 && yb_time_parse(v->value, &ns) >= 0) {
                        *ret_usec = yb_ns_to_usec(ns);
                        return true;
                }
        }
        yb_schema_bad(s, v, "bad date %s for %s: use YYYY-MM-DD, a real date from 1970 to 2199",
                      yb_schema_describe(v, buf, sizeof(buf)), path);
        return false;
}

bool yb_schema_read_text_list(YbSchema *s, const YbYamlNode *v, const char *path, bool absolute,
                              bool need_one, char ***ret, size_t *ret_n) {
        char buf[80];
        bool ok = true;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind != YB_YAML_SEQUENCE) {
                yb_schema_bad(s, v, "%s must be a list, not %s", path,
                              yb_schema_describe(v, buf, sizeof(buf)));
                return false;
        }
        if (need_one && v->n_items == 0) {
                yb_schema_bad(s, v, "%s is empty: name at least one", path);
                return false;
        }
        *ret = new0(char *, v->n_items + 1);
        if (!*ret) {
                s->oom = true;
                return false;
        }
        *ret_n = 0;
        for (size_t i = 0; i < v->n_items; i++) {
                const YbYamlNode *item = v->items[i];
                char item_path[sizeof(YbSchemaPath) + 24];
                char *t;

                snprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
                if (!yb_schema_read_text(s, item, item_path, 0, &t)) {
                        ok = false;
                        continue;
                }
                if (absolute && t[0] != '/') {
                        yb_schema_bad(s, item, "%s must be an absolute path, not %s", item_path,
                                      yb_schema_describe(item, buf, sizeof(buf)));
                        free(t);
                        ok = false;
                        continue;
                }
                (*ret)[(*ret_n)++] = t;
        }
        return ok;
}
