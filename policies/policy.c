/* policies/policy.c: checks a policy's YAML tree against the schema of docs/policy.md and fills a
 * YbPolicy. Checking never stops at the first problem: each reader reports what is wrong with
 * its value and the checks go on, so that one run of "yunbak policy check" lists everything.
 * Problems are collected with their positions and sorted before they are formatted, because
 * the YAML layer and the schema checks find them in different orders. */
#include "policy.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/fileio.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "yamltree.h"

#define RETENTION_MAX 1000000
#define DURATION_MAX_USEC (100LL * 366 * YB_USEC_PER_DAY)

typedef struct Problem {
        unsigned line, column;
        size_t seq; /* order of discovery, to keep the sort stable */
        char *message;
} Problem;

typedef struct Ctx {
        const char *file;
        Problem *problems;
        size_t n_problems, n_dropped;
        bool oom;
} Ctx;

static void ctx_done(Ctx *c) {
        for (size_t i = 0; i < c->n_problems; i++)
                free(c->problems[i].message);
        free(c->problems);
}

_printf_(4, 0) static void vproblem(Ctx *c, unsigned line, unsigned column, const char *fmt,
                                    va_list ap) {
        Problem *a;
        char *m;

        if (c->n_problems >= YB_POLICY_MAX_ERRORS) {
                c->n_dropped++;
                return;
        }
        if (vasprintf(&m, fmt, ap) < 0) {
                c->oom = true;
                return;
        }
        a = reallocarray(c->problems, c->n_problems + 1, sizeof(Problem));
        if (!a) {
                free(m);
                c->oom = true;
                return;
        }
        c->problems = a;
        a[c->n_problems] =
                (Problem){ .line = line, .column = column, .seq = c->n_problems, .message = m };
        c->n_problems++;
}

_printf_(4, 5) static void problem(Ctx *c, unsigned line, unsigned column, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vproblem(c, line, column, fmt, ap);
        va_end(ap);
}

/* A problem at node n's position. */
_printf_(3, 4) static void bad(Ctx *c, const YbYamlNode *n, const char *fmt, ...) {
        va_list ap;

        va_start(ap, fmt);
        vproblem(c, n ? n->line : 1, n ? n->column : 1, fmt, ap);
        va_end(ap);
}

static void yaml_error(void *userdata, unsigned line, unsigned column, const char *message) {
        problem(userdata, line, column, "%s", message);
}

static int problem_compare(const void *a, const void *b) {
        const Problem *x = a, *y = b;

        if (x->line != y->line)
                return x->line < y->line ? -1 : 1;
        if (x->column != y->column)
                return x->column < y->column ? -1 : 1;
        return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Moves the problems, sorted by position, into d as "file:line:col: message". */
static int flush_problems(Ctx *c, YbDiagnostics *d) {
        int r;

        qsort(c->problems, c->n_problems, sizeof(Problem), problem_compare);
        for (size_t i = 0; i < c->n_problems; i++) {
                r = yb_diagnostics_addf(d, "%s:%u:%u: %s", c->file, c->problems[i].line,
                                        c->problems[i].column, c->problems[i].message);
                if (r < 0)
                        return r;
        }
        if (c->n_dropped > 0)
                return yb_diagnostics_addf(d, "%s: %zu more error%s not shown", c->file,
                                           c->n_dropped, c->n_dropped == 1 ? "" : "s");
        return 0;
}

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

const char *yb_grade_to_string(YbGrade g) {
        static const char *const names[_YB_GRADE_MAX] = {
                [YB_GRADE_GENERAL] = "general",
                [YB_GRADE_IMPORTANT] = "important",
                [YB_GRADE_CORE] = "core",
        };

        return (unsigned) g < _YB_GRADE_MAX ? names[g] : NULL;
}

const char *yb_hook_type_to_string(YbHookType t) {
        static const char *const names[_YB_HOOK_MAX] = {
                [YB_HOOK_COMMAND] = "command",
                [YB_HOOK_POSTGRESQL] = "postgresql",
        };

        return (unsigned) t < _YB_HOOK_MAX ? names[t] : NULL;
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
                        if (n > DURATION_MAX_USEC / 10) {
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
                if (n > (DURATION_MAX_USEC - total) / unit) {
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

typedef char Path[192];

/* "parent.key", or "key" at the top. Returns buf. Paths are built from the schema's own keys
 * and list indexes, so they always fit. */
static const char *join(char *buf, const char *parent, const char *key) {
        size_t lp = strlen(parent), lk = strlen(key), dot = lp > 0;

        assert(lp + dot + lk < sizeof(Path));
        memmove(buf, parent, lp);
        if (dot)
                buf[lp] = '.';
        memcpy(buf + lp + dot, key, lk + 1);
        return buf;
}

/* How a value reads in a message: "'text'", "an empty value", "a list", "a mapping". */
static const char *describe(const YbYamlNode *n, char *buf, size_t size) {
        char tmp[64];

        if (yb_yaml_is_empty(n))
                return "an empty value";
        if (n->kind != YB_YAML_SCALAR)
                return yb_yaml_kind_to_string(n->kind);
        snprintf(buf, size, "'%s'", yb_yaml_excerpt(n->value, tmp, sizeof(tmp)));
        return buf;
}

/* Edit distance counting a swap of two neighbours as one edit ("hots" is one from "host"), for
 * "did you mean". Short words only: keys and values offered are short. */
static size_t edit_distance(const char *a, const char *b) {
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

/* The known word closest to word, if close enough to be a likely typo; else NULL. */
static const char *closest(const char *word, const char *const known[]) {
        size_t len = strlen(word), best = SIZE_MAX, limit = len <= 4 ? 1 : len <= 8 ? 2 : 3;
        const char *found = NULL;

        size_t best_prefix = 0;

        for (size_t i = 0; known[i]; i++) {
                size_t d = edit_distance(word, known[i]), prefix = 0;

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

/* ---- readers: each reports what is wrong with its value and returns false ---- */

/* Reports every key of map that is not in known (NULL-terminated). */
static void check_keys(Ctx *c, const YbYamlNode *map, const char *path, const char *const known[]) {
        for (size_t i = 0; i < map->n_pairs; i++) {
                const YbYamlNode *k = map->pairs[i].key;
                const char *guess;
                char buf[64];
                bool ok = false;

                for (size_t j = 0; known[j] && !ok; j++)
                        ok = streq(k->value, known[j]);
                if (ok)
                        continue;
                guess = closest(k->value, known);
                bad(c, k, "unknown key '%s'%s%s%s%s%s", yb_yaml_excerpt(k->value, buf, sizeof(buf)),
                    *path ? " in " : "", path, guess ? "; did you mean '" : "", guess ? guess : "",
                    guess ? "'?" : "");
        }
}

/* The pair of key in map, or NULL. A missing key is reported at where when where is not NULL
 * (a required key). */
static const YbYamlPair *get(Ctx *c, const YbYamlNode *map, const char *key, const char *path,
                             const YbYamlNode *where) {
        for (size_t i = 0; i < map->n_pairs; i++)
                if (streq(map->pairs[i].key->value, key))
                        return &map->pairs[i];
        if (where)
                bad(c, where, "missing key '%s'%s%s", key, *path ? " in " : "", path);
        return NULL;
}

static bool read_mapping(Ctx *c, const YbYamlNode *v, const char *path) {
        char buf[80];

        if (v->kind == YB_YAML_MAPPING)
                return true;
        if (v->kind != YB_YAML_INVALID)
                bad(c, v, "%s must be a mapping, not %s", path, describe(v, buf, sizeof(buf)));
        return false;
}

/* The mapping under key in parent (reporting a missing required one, a wrong type, and unknown
 * keys inside); NULL when there is no usable mapping. *ret_pair is the pair, even if unusable. */
static const YbYamlNode *section(Ctx *c, const YbYamlNode *parent, const char *key,
                                 const char *parent_path, const YbYamlNode *where,
                                 const char *const known[], const YbYamlPair **ret_pair) {
        const YbYamlPair *pair = get(c, parent, key, parent_path, where);
        Path path;

        if (ret_pair)
                *ret_pair = pair;
        if (!pair || !read_mapping(c, pair->value, join(path, parent_path, key)))
                return NULL;
        check_keys(c, pair->value, path, known);
        return pair->value;
}

enum {
        TEXT_MULTILINE = 1 << 0, /* newlines and tabs allowed (commands) */
        TEXT_NO_SPACE = 1 << 1,  /* names: no whitespace at all */
};

static bool read_text(Ctx *c, const YbYamlNode *v, const char *path, int flags, char **ret) {
        char buf[80];

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind != YB_YAML_SCALAR) {
                bad(c, v, "%s must be a string, not %s", path, describe(v, buf, sizeof(buf)));
                return false;
        }
        if (v->length == 0) {
                bad(c, v, "%s is empty", path);
                return false;
        }
        for (const unsigned char *s = (const unsigned char *) v->value; *s; s++) {
                bool allowed = (flags & TEXT_MULTILINE) && (*s == '\n' || *s == '\t');

                if ((*s < 0x20 || *s == 0x7f) && !allowed) {
                        bad(c, v, "%s must be one line without control characters", path);
                        return false;
                }
                if ((flags & TEXT_NO_SPACE) && *s == ' ') {
                        bad(c, v, "%s must not contain spaces, not %s", path,
                            describe(v, buf, sizeof(buf)));
                        return false;
                }
        }
        if (!ret)
                return true;
        *ret = strdup(v->value);
        if (!*ret)
                c->oom = true;
        return *ret != NULL;
}

static bool read_uint(Ctx *c, const YbYamlNode *v, const char *path, int max, int *ret) {
        char buf[80];
        long long n = 0;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind == YB_YAML_SCALAR && v->length > 0) {
                const char *s = v->value;

                for (; is_digit(*s) && n <= max; s++)
                        n = n * 10 + (*s - '0');
                if (!*s && n <= max) {
                        *ret = (int) n;
                        return true;
                }
        }
        bad(c, v, "%s must be a whole number from 0 to %d, not %s", path, max,
            describe(v, buf, sizeof(buf)));
        return false;
}

static bool read_bool(Ctx *c, const YbYamlNode *v, const char *path, bool *ret) {
        char buf[80];

        if (v->kind == YB_YAML_INVALID)
                return false;
        /* Only YAML 1.2's two words: "yes", "on" and "y" are not booleans here. */
        if (v->kind == YB_YAML_SCALAR && (streq(v->value, "true") || streq(v->value, "false"))) {
                *ret = streq(v->value, "true");
                return true;
        }
        bad(c, v, "%s must be true or false, not %s", path, describe(v, buf, sizeof(buf)));
        return false;
}

/* One of names (NULL-terminated); *ret is its index. */
static bool read_choice(Ctx *c, const YbYamlNode *v, const char *path, const char *const names[],
                        int *ret) {
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
                guess = closest(v->value, names);
        }
        while (names[n])
                n++;
        for (size_t i = 0; i < n; i++)
                snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
                         i == 0      ? ""
                         : i + 1 < n ? ", "
                                     : " or ",
                         names[i]);
        bad(c, v, "%s must be %s, not %s%s%s%s", path, list, describe(v, buf, sizeof(buf)),
            guess ? "; did you mean '" : "", guess ? guess : "", guess ? "'?" : "");
        return false;
}

/* A duration of more than zero. */
static bool read_duration(Ctx *c, const YbYamlNode *v, const char *path, int64_t *ret) {
        char buf[80], err[128];
        int64_t usec;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind != YB_YAML_SCALAR) {
                bad(c, v, "%s must be a duration such as 30s, 5min, 1h or 7d, not %s", path,
                    describe(v, buf, sizeof(buf)));
                return false;
        }
        if (v->length == 0) {
                bad(c, v, "%s is empty: write a duration such as 30s, 5min, 1h or 7d", path);
                return false;
        }
        if (duration_parse(v->value, &usec, err, sizeof(err)) < 0) {
                bad(c, v, "bad duration %s for %s: %s", describe(v, buf, sizeof(buf)), path, err);
                return false;
        }
        if (usec == 0) {
                bad(c, v, "%s must be longer than 0s", path);
                return false;
        }
        *ret = usec;
        return true;
}

static bool read_calendar(Ctx *c, const YbYamlNode *v, const char *path, YbCalendar **ret,
                          char **ret_text) {
        _cleanup_(yb_calendar_freep) YbCalendar *cal = NULL;
        char buf[80], err[256] = "";
        int r;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind != YB_YAML_SCALAR || v->length == 0) {
                bad(c, v, "%s must be a calendar expression such as 'Sun *-*-* 01:00', not %s",
                    path, describe(v, buf, sizeof(buf)));
                return false;
        }
        r = yb_calendar_parse(v->value, &cal, err, sizeof(err));
        if (r == -ENOMEM) {
                c->oom = true;
                return false;
        }
        if (r < 0) {
                bad(c, v, "bad calendar %s for %s: %s", describe(v, buf, sizeof(buf)), path,
                    *err ? err : "not a calendar expression");
                return false;
        }
        *ret_text = strdup(v->value);
        if (!*ret_text) {
                c->oom = true;
                return false;
        }
        *ret = TAKE_PTR(cal);
        return true;
}

/* "YYYY-MM-DD" (midnight, local time), or with a time and an optional offset as in
 * "2025-03-31T18:00:00+08:00". */
static bool read_date(Ctx *c, const YbYamlNode *v, const char *path, int64_t *ret_usec) {
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
                        *ret_usec = ns / 1000;
                        return true;
                }
        }
        bad(c, v, "bad date %s for %s: use YYYY-MM-DD, a real date from 1970 to 2199",
            describe(v, buf, sizeof(buf)), path);
        return false;
}

/* A list of one-line strings; with absolute, each must start with '/'. */
static bool read_text_list(Ctx *c, const YbYamlNode *v, const char *path, bool absolute,
                           bool need_one, char ***ret, size_t *ret_n) {
        char buf[80];
        bool ok = true;

        if (v->kind == YB_YAML_INVALID)
                return false;
        if (v->kind != YB_YAML_SEQUENCE) {
                bad(c, v, "%s must be a list, not %s", path, describe(v, buf, sizeof(buf)));
                return false;
        }
        if (need_one && v->n_items == 0) {
                bad(c, v, "%s is empty: name at least one", path);
                return false;
        }
        *ret = new0(char *, v->n_items + 1);
        if (!*ret) {
                c->oom = true;
                return false;
        }
        *ret_n = 0;
        for (size_t i = 0; i < v->n_items; i++) {
                const YbYamlNode *item = v->items[i];
                char item_path[sizeof(Path) + 24];
                char *s;

                snprintf(item_path, sizeof(item_path), "%s[%zu]", path, i);
                if (!read_text(c, item, item_path, 0, &s)) {
                        ok = false;
                        continue;
                }
                if (absolute && s[0] != '/') {
                        bad(c, item, "%s must be an absolute path, not %s", item_path,
                            describe(item, buf, sizeof(buf)));
                        free(s);
                        ok = false;
                        continue;
                }
                (*ret)[(*ret_n)++] = s;
        }
        return ok;
}

/* ---- the schema ---- */

static const char *const top_keys[] = { "version", "system",     "sources", "tier1", "tier2",
                                        "tier3",   "objectives", "drill",   NULL };
static const char *const system_keys[] = { "id",      "name",           "department",
                                           "contact", "classification", NULL };
static const char *const sources_keys[] = { "host", "paths", "exclude", "hooks", NULL };
static const char *const hook_keys[] = { "name",    "type",       "run", "database",
                                         "timeout", "on_failure", NULL };
static const char *const tier1_keys[] = { "store",       "full",      "differential",
                                          "incremental", "retention", "lock_until",
                                          NULL };
static const char *const tier2_keys[] = { "store", "max_lag", "checkpoint", "retention", NULL };
static const char *const tier3_keys[] = { "store",    "schedule",  "on_request",
                                          "approval", "retention", NULL };
static const char *const retention_keys[] = {
        "keep_last", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within", NULL
};
static const char *const objectives_keys[] = { "rpo", "rto", NULL };
static const char *const drill_keys[] = { "every", "check", NULL };
static const char *const grade_names[] = { "general", "important", "core", NULL };
static const char *const hook_type_names[] = { "command", "postgresql", NULL };
static const char *const on_failure_names[] = { "abort", "continue", NULL };
static const char *const approval_names[] = { "required", "automatic", NULL };

/* What the grade checks need to know, once the sections are read. */
typedef struct Seen {
        const YbYamlNode *classification; /* NULL unless it was read */
        const YbYamlPair *tier2, *tier3, *drill;
        const YbYamlNode *max_lag, *drill_every; /* NULL unless they were read */
        bool tier3_scheduled, tier3_ok;
} Seen;

static YbRetention retention_unset(void) {
        return (YbRetention){ -1, -1, -1, -1, -1, 0 };
}

static void read_retention(Ctx *c, const YbYamlNode *tier, const char *tier_path,
                           YbRetention *ret) {
        static const char *const names[] = { "keep_last", "keep_daily", "keep_weekly",
                                             "keep_monthly", "keep_yearly" };
        const YbYamlPair *pair;
        const YbYamlNode *m = section(c, tier, "retention", tier_path, NULL, retention_keys, &pair);
        int *fields[] = { &ret->keep_last, &ret->keep_daily, &ret->keep_weekly, &ret->keep_monthly,
                          &ret->keep_yearly };
        Path parent, path;
        bool any = false;

        if (!m)
                return;
        join(parent, tier_path, "retention");
        for (size_t i = 0; i < ELEMENTSOF(names); i++) {
                const YbYamlPair *p = get(c, m, names[i], parent, NULL);

                if (p) {
                        any = true;
                        (void) read_uint(c, p->value, join(path, parent, names[i]), RETENTION_MAX,
                                         fields[i]);
                }
        }
        pair = get(c, m, "keep_within", parent, NULL);
        if (pair) {
                any = true;
                (void) read_duration(c, pair->value, join(path, parent, "keep_within"),
                                     &ret->keep_within_usec);
        }
        if (!any)
                bad(c, m,
                    "%s has no rule: set keep_last, keep_daily, keep_weekly, keep_monthly, "
                    "keep_yearly or keep_within, or leave retention out to keep everything",
                    parent);
}

static bool id_valid(const char *id) {
        size_t n = strlen(id);

        if (n == 0 || n > 63 || id[0] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((id[i] >= 'a' && id[i] <= 'z') || is_digit(id[i]) || id[i] == '-'))
                        return false;
        return true;
}

static void read_system(Ctx *c, const YbYamlNode *root, YbPolicy *p, Seen *seen) {
        const YbYamlPair *sp, *pair;
        const YbYamlNode *m = section(c, root, "system", "", root, system_keys, &sp);
        int g;

        if (!m)
                return;
        pair = get(c, m, "id", "system", sp->key);
        if (pair && read_text(c, pair->value, "system.id", 0, &p->id)) {
                char buf[80];

                p->id_line = pair->value->line;
                p->id_column = pair->value->column;
                if (!id_valid(p->id))
                        bad(c, pair->value,
                            "system.id %s is not valid: use 1 to 63 of a-z, 0-9 and '-', not "
                            "starting with '-'",
                            describe(pair->value, buf, sizeof(buf)));
        }
        pair = get(c, m, "name", "system", sp->key);
        if (pair)
                (void) read_text(c, pair->value, "system.name", 0, &p->name);
        pair = get(c, m, "department", "system", sp->key);
        if (pair)
                (void) read_text(c, pair->value, "system.department", 0, &p->department);
        pair = get(c, m, "contact", "system", sp->key);
        if (pair)
                (void) read_text(c, pair->value, "system.contact", 0, &p->contact);
        pair = get(c, m, "classification", "system", sp->key);
        if (pair && read_choice(c, pair->value, "system.classification", grade_names, &g)) {
                p->grade = (YbGrade) g;
                seen->classification = pair->value;
        }
}

/* The name a source gets in a snapshot: its last component (see docs/cli.md). */
static const char *source_name(const char *path, size_t *ret_len) {
        size_t n = strlen(path);
        const char *s;

        while (n > 1 && path[n - 1] == '/')
                n--;
        for (s = path + n; s > path && s[-1] != '/'; s--)
                ;
        *ret_len = (size_t) (path + n - s);
        return s;
}

static void read_hooks(Ctx *c, const YbYamlNode *v, YbPolicy *p) {
        char buf[80];

        if (v->kind == YB_YAML_INVALID)
                return;
        if (v->kind != YB_YAML_SEQUENCE) {
                bad(c, v, "sources.hooks must be a list, not %s", describe(v, buf, sizeof(buf)));
                return;
        }
        p->hooks = new0(YbHook, v->n_items + 1);
        if (!p->hooks) {
                c->oom = true;
                return;
        }
        for (size_t i = 0; i < v->n_items; i++) {
                const YbYamlNode *h = v->items[i];
                const YbYamlPair *pair, *run, *db;
                YbHook *hook = &p->hooks[p->n_hooks];
                Path hp, path;
                int t = -1, f;

                snprintf(hp, sizeof(hp), "sources.hooks[%zu]", i);
                if (!read_mapping(c, h, hp))
                        continue;
                check_keys(c, h, hp, hook_keys);
                *hook = (YbHook){ .timeout_usec = YB_USEC_PER_HOUR, .abort_on_failure = true };
                p->n_hooks++;
                pair = get(c, h, "name", hp, h);
                if (pair && read_text(c, pair->value, join(path, hp, "name"), 0, &hook->name))
                        for (size_t j = 0; j + 1 < p->n_hooks; j++)
                                if (p->hooks[j].name && streq(p->hooks[j].name, hook->name)) {
                                        bad(c, pair->value,
                                            "%s: a hook named %s is already defined above", path,
                                            describe(pair->value, buf, sizeof(buf)));
                                        break;
                                }
                pair = get(c, h, "type", hp, h);
                if (pair &&
                    read_choice(c, pair->value, join(path, hp, "type"), hook_type_names, &t))
                        hook->type = (YbHookType) t;
                run = get(c, h, "run", hp, NULL);
                db = get(c, h, "database", hp, NULL);
                if (run && t == YB_HOOK_POSTGRESQL)
                        bad(c, run->key,
                            "%s.run is for command hooks; a postgresql hook names "
                            "its database",
                            hp);
                if (db && t == YB_HOOK_COMMAND)
                        bad(c, db->key,
                            "%s.database is for postgresql hooks; a command hook has "
                            "run",
                            hp);
                if (t == YB_HOOK_COMMAND && !run)
                        bad(c, h, "missing key 'run' in %s (the command to run)", hp);
                if (t == YB_HOOK_POSTGRESQL && !db)
                        bad(c, h, "missing key 'database' in %s (the database to dump)", hp);
                if (run)
                        (void) read_text(c, run->value, join(path, hp, "run"), TEXT_MULTILINE,
                                         &hook->run);
                if (db)
                        (void) read_text(c, db->value, join(path, hp, "database"), 0,
                                         &hook->database);
                pair = get(c, h, "timeout", hp, NULL);
                if (pair)
                        (void) read_duration(c, pair->value, join(path, hp, "timeout"),
                                             &hook->timeout_usec);
                pair = get(c, h, "on_failure", hp, NULL);
                if (pair &&
                    read_choice(c, pair->value, join(path, hp, "on_failure"), on_failure_names, &f))
                        hook->abort_on_failure = f == 0;
        }
}

static void read_sources(Ctx *c, const YbYamlNode *root, YbPolicy *p) {
        const YbYamlPair *sp, *pair;
        const YbYamlNode *m = section(c, root, "sources", "", root, sources_keys, &sp);

        if (!m)
                return;
        pair = get(c, m, "host", "sources", sp->key);
        if (pair)
                (void) read_text(c, pair->value, "sources.host", TEXT_NO_SPACE, &p->host);
        pair = get(c, m, "paths", "sources", sp->key);
        if (pair &&
            read_text_list(c, pair->value, "sources.paths", true, true, &p->paths, &p->n_paths)) {
                /* The agent stores each source under its last component and refuses two of the
                 * same name: say so now rather than at the first backup. */
                for (size_t i = 1; i < p->n_paths; i++)
                        for (size_t j = 0; j < i; j++) {
                                size_t li, lj;
                                const char *ni = source_name(p->paths[i], &li);
                                const char *nj = source_name(p->paths[j], &lj);
                                char a[64], b[64];

                                if (li != lj || memcmp(ni, nj, li) != 0)
                                        continue;
                                bad(c, pair->value->items[i],
                                    "sources.paths[%zu] '%s' has the same last component as "
                                    "sources.paths[%zu] '%s': each source is stored under its "
                                    "name, so they would collide",
                                    i, yb_yaml_excerpt(p->paths[i], a, sizeof(a)), j,
                                    yb_yaml_excerpt(p->paths[j], b, sizeof(b)));
                                break;
                        }
        }
        pair = get(c, m, "exclude", "sources", NULL);
        if (pair)
                (void) read_text_list(c, pair->value, "sources.exclude", false, false, &p->excludes,
                                      &p->n_excludes);
        pair = get(c, m, "hooks", "sources", NULL);
        if (pair)
                read_hooks(c, pair->value, p);
}

static void read_tier1(Ctx *c, const YbYamlNode *root, YbPolicy *p) {
        const YbYamlPair *tp, *pair;
        const YbYamlNode *m = section(c, root, "tier1", "", root, tier1_keys, &tp);

        if (!m)
                return;
        pair = get(c, m, "store", "tier1", tp->key);
        if (pair)
                (void) read_text(c, pair->value, "tier1.store", TEXT_NO_SPACE, &p->tier1_store);
        pair = get(c, m, "full", "tier1", tp->key);
        if (pair)
                (void) read_calendar(c, pair->value, "tier1.full", &p->full, &p->full_text);
        pair = get(c, m, "differential", "tier1", NULL);
        if (pair)
                (void) read_calendar(c, pair->value, "tier1.differential", &p->differential,
                                     &p->differential_text);
        pair = get(c, m, "incremental", "tier1", tp->key);
        if (pair)
                (void) read_calendar(c, pair->value, "tier1.incremental", &p->incremental,
                                     &p->incremental_text);
        read_retention(c, m, "tier1", &p->tier1_retention);
        pair = get(c, m, "lock_until", "tier1", NULL);
        if (pair)
                (void) read_date(c, pair->value, "tier1.lock_until", &p->lock_until_usec);
}

static void read_tier2(Ctx *c, const YbYamlNode *root, YbPolicy *p, Seen *seen) {
        const YbYamlPair *pair;
        const YbYamlNode *m = section(c, root, "tier2", "", NULL, tier2_keys, &seen->tier2);

        if (!m)
                return;
        pair = get(c, m, "store", "tier2", seen->tier2->key);
        if (pair)
                (void) read_text(c, pair->value, "tier2.store", TEXT_NO_SPACE, &p->tier2_store);
        pair = get(c, m, "max_lag", "tier2", seen->tier2->key);
        if (pair && read_duration(c, pair->value, "tier2.max_lag", &p->tier2_max_lag_usec))
                seen->max_lag = pair->value;
        pair = get(c, m, "checkpoint", "tier2", seen->tier2->key);
        if (pair)
                (void) read_calendar(c, pair->value, "tier2.checkpoint", &p->tier2_checkpoint,
                                     &p->tier2_checkpoint_text);
        read_retention(c, m, "tier2", &p->tier2_retention);
}

static void read_tier3(Ctx *c, const YbYamlNode *root, YbPolicy *p, Seen *seen) {
        const YbYamlPair *pair, *sched, *req;
        const YbYamlNode *m = section(c, root, "tier3", "", NULL, tier3_keys, &seen->tier3);
        bool ok = true;
        int a;

        if (!m)
                return;
        pair = get(c, m, "store", "tier3", seen->tier3->key);
        if (pair)
                ok &= read_text(c, pair->value, "tier3.store", TEXT_NO_SPACE, &p->tier3_store);
        sched = get(c, m, "schedule", "tier3", NULL);
        if (sched) {
                seen->tier3_scheduled = read_calendar(c, sched->value, "tier3.schedule",
                                                      &p->tier3_schedule, &p->tier3_schedule_text);
                ok &= seen->tier3_scheduled;
        }
        req = get(c, m, "on_request", "tier3", NULL);
        if (req)
                ok &= read_bool(c, req->value, "tier3.on_request", &p->tier3_on_request);
        if (!sched && (!req || (ok && !p->tier3_on_request))) {
                bad(c, seen->tier3->key,
                    "tier3 needs a schedule, on_request: true, or both (copies are made on a "
                    "calendar or when a department asks)");
                ok = false;
        }
        p->tier3_approval_required = true;
        pair = get(c, m, "approval", "tier3", NULL);
        if (pair) {
                if (read_choice(c, pair->value, "tier3.approval", approval_names, &a))
                        p->tier3_approval_required = a == 0;
                else
                        ok = false;
        }
        read_retention(c, m, "tier3", &p->tier3_retention);
        seen->tier3_ok = ok;
}

static void read_objectives(Ctx *c, const YbYamlNode *root, YbPolicy *p) {
        const YbYamlPair *op, *pair;
        const YbYamlNode *m = section(c, root, "objectives", "", root, objectives_keys, &op);

        if (!m)
                return;
        pair = get(c, m, "rpo", "objectives", op->key);
        if (pair)
                (void) read_duration(c, pair->value, "objectives.rpo", &p->rpo_usec);
        pair = get(c, m, "rto", "objectives", op->key);
        if (pair)
                (void) read_duration(c, pair->value, "objectives.rto", &p->rto_usec);
}

static void read_drill(Ctx *c, const YbYamlNode *root, YbPolicy *p, Seen *seen) {
        const YbYamlPair *pair;
        const YbYamlNode *m = section(c, root, "drill", "", NULL, drill_keys, &seen->drill);

        if (!m)
                return;
        pair = get(c, m, "every", "drill", seen->drill->key);
        if (pair && read_duration(c, pair->value, "drill.every", &p->drill_every_usec))
                seen->drill_every = pair->value;
        pair = get(c, m, "check", "drill", NULL);
        if (pair)
                (void) read_text(c, pair->value, "drill.check", TEXT_MULTILINE, &p->drill_check);
}

/* The grade minimums. Each is checked only when what it looks at was read without error, so
 * that one mistake gives one message. */
static void check_grade(Ctx *c, const YbYamlNode *root, const YbPolicy *p, const Seen *s) {
        char have[32], limit[32];

        if (!s->drill)
                bad(c, root,
                    "missing key 'drill': every system needs a restore drill at least "
                    "yearly (drill.every of at most 366d)");
        else if (s->drill_every && p->drill_every_usec > YB_DRILL_MAX_EVERY_USEC)
                bad(c, s->drill_every,
                    "drill.every must be at most 366d: every system needs a restore drill at "
                    "least yearly, not every %s",
                    yb_duration_format(p->drill_every_usec, have, sizeof(have)));
        if (!s->classification || p->grade == YB_GRADE_GENERAL)
                return;
        const char *g = yb_grade_to_string(p->grade);

        yb_duration_format(YB_GRADE_MAX_LAG_USEC, limit, sizeof(limit));
        if (!s->tier2)
                bad(c, s->classification,
                    "a%s %s system needs tier2 (continuous replication to the intra-city store, "
                    "max_lag at most %s)",
                    p->grade == YB_GRADE_IMPORTANT ? "n" : "", g, limit);
        else if (s->max_lag && p->tier2_max_lag_usec > YB_GRADE_MAX_LAG_USEC)
                bad(c, s->max_lag, "tier2.max_lag must be at most %s for a%s %s system, not %s",
                    limit, p->grade == YB_GRADE_IMPORTANT ? "n" : "", g,
                    yb_duration_format(p->tier2_max_lag_usec, have, sizeof(have)));
        if (!s->tier3)
                bad(c, s->classification,
                    "a%s %s system needs tier3 (copies to the off-site store)%s",
                    p->grade == YB_GRADE_IMPORTANT ? "n" : "", g,
                    p->grade == YB_GRADE_CORE ? " on a schedule" : "");
        else if (p->grade == YB_GRADE_CORE && s->tier3_ok && !s->tier3_scheduled)
                bad(c, s->tier3->key,
                    "a core system needs a scheduled tier3: add tier3.schedule (on_request "
                    "alone is not enough)");
}

static void check_policy(Ctx *c, const YbYamlNode *root, YbPolicy *p) {
        const YbYamlPair *pair;
        Seen seen = { 0 };
        char buf[80];

        if (root->kind != YB_YAML_MAPPING) {
                if (root->kind != YB_YAML_INVALID)
                        bad(c, root,
                            "a policy must be a mapping of version, system, sources, tier1, ..., "
                            "not %s",
                            describe(root, buf, sizeof(buf)));
                return;
        }
        check_keys(c, root, "", top_keys);
        pair = get(c, root, "version", "", root);
        if (pair && read_uint(c, pair->value, "version", RETENTION_MAX, &p->version) &&
            p->version != 1)
                bad(c, pair->value, "unsupported version %d: this yunbak reads version 1",
                    p->version);
        read_system(c, root, p, &seen);
        read_sources(c, root, p);
        read_tier1(c, root, p);
        read_tier2(c, root, p, &seen);
        read_tier3(c, root, p, &seen);
        read_objectives(c, root, p);
        read_drill(c, root, p, &seen);
        check_grade(c, root, p, &seen);
}

static void strv_free(char **v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i]);
        free(v);
}

YbPolicy *yb_policy_free(YbPolicy *p) {
        if (!p)
                return NULL;
        free(p->file);
        free(p->id);
        free(p->name);
        free(p->department);
        free(p->contact);
        free(p->host);
        strv_free(p->paths, p->n_paths);
        strv_free(p->excludes, p->n_excludes);
        for (size_t i = 0; i < p->n_hooks; i++) {
                free(p->hooks[i].name);
                free(p->hooks[i].run);
                free(p->hooks[i].database);
        }
        free(p->hooks);
        free(p->tier1_store);
        yb_calendar_free(p->full);
        yb_calendar_free(p->differential);
        yb_calendar_free(p->incremental);
        free(p->full_text);
        free(p->differential_text);
        free(p->incremental_text);
        free(p->tier2_store);
        yb_calendar_free(p->tier2_checkpoint);
        free(p->tier2_checkpoint_text);
        free(p->tier3_store);
        yb_calendar_free(p->tier3_schedule);
        free(p->tier3_schedule_text);
        free(p->drill_check);
        free(p);
        return NULL;
}

int yb_policy_parse(const char *name, const char *text, size_t size, YbPolicy **ret,
                    YbDiagnostics *diag) {
        _cleanup_(ctx_done) Ctx c = { .file = name };
        _cleanup_(yb_yaml_node_freep) YbYamlNode *root = NULL;
        _cleanup_(yb_policy_freep) YbPolicy *p = NULL;
        int r;

        assert(name && diag);
        p = new0(YbPolicy, 1);
        if (!p)
                return -ENOMEM;
        p->file = strdup(name);
        if (!p->file)
                return -ENOMEM;
        p->tier1_retention = p->tier2_retention = p->tier3_retention = retention_unset();
        r = yb_yaml_parse(text, size, yaml_error, &c, &root);
        if (r < 0)
                return r;
        if (root)
                check_policy(&c, root, p);
        else if (r == 0)
                problem(&c, 1, 1,
                        "the file is empty: a policy needs version, system, sources, tier1, "
                        "objectives and drill");
        if (c.oom)
                return -ENOMEM;
        if (c.n_problems > 0) {
                r = flush_problems(&c, diag);
                return r < 0 ? r : -EINVAL;
        }
        *ret = TAKE_PTR(p);
        return 0;
}

int yb_policy_load(const char *path, YbPolicy **ret, YbDiagnostics *diag) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, YB_YAML_MAX_SIZE, &b);
        if (r == -EFBIG) {
                r = yb_diagnostics_addf(diag, "%s:1:1: the file is larger than %d KiB", path,
                                        YB_YAML_MAX_SIZE / 1024);
                return r < 0 ? r : -EINVAL;
        }
        if (r < 0) {
                int k = yb_diagnostics_addf(diag, "%s: cannot read: %s", path, strerror(-r));

                return k < 0 ? k : r;
        }
        return yb_policy_parse(path, b.data ? (const char *) b.data : "", b.size, ret, diag);
}
