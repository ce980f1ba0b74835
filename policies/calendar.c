/* policies/calendar.c: parsing and normalising calendar expressions (calendar.h); the search for
 * the next elapse is calendar-search.c.
 *
 * The grammar and the normal form follow systemd 252.38's src/shared/calendarspec.c, with its
 * normalisation of two-digit years, ranges and steps; the messages are ours, for people.
 * tests/integration/calendar-vs-systemd.sh checks the result against systemd-analyze. */
#include "policies/calendar.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <strings.h>

#include "core/base/buf.h"
#include "policies/calendar-internal.h"
#include "policies/tz.h"

#define CAL_MAX_TEXT 1024 /* longer expressions are refused */
#define CAL_MAX_ITEMS 240 /* list items per field, as systemd's CALENDARSPEC_COMPONENTS_MAX */

static const struct {
        const char *name;
        int min, max;
        int width; /* digits in the normal form */
} field_info[_FIELD_MAX] = {
        [FIELD_YEAR] = { "year", CAL_MIN_YEAR, CAL_MAX_YEAR, 4 },
        [FIELD_MONTH] = { "month", 1, 12, 2 },
        [FIELD_DAY] = { "day", 1, 31, 2 },
        [FIELD_HOUR] = { "hour", 0, 23, 2 },
        [FIELD_MINUTE] = { "minute", 0, 59, 2 },
        [FIELD_SECOND] = { "second", 0, 59, 2 },
};

static const char *const weekday_names[7][2] = {
        { "Mon", "Monday" }, { "Tue", "Tuesday" },  { "Wed", "Wednesday" }, { "Thu", "Thursday" },
        { "Fri", "Friday" }, { "Sat", "Saturday" }, { "Sun", "Sunday" },
};

/* systemd's shorthands, as the expressions they stand for. */
static const struct {
        const char *name;
        const char *expansion;
} shorthands[] = {
        { "minutely", "*-*-* *:*:00" },
        { "hourly", "*-*-* *:00:00" },
        { "daily", "*-*-* 00:00:00" },
        { "weekly", "Mon *-*-* 00:00:00" },
        { "monthly", "*-*-01 00:00:00" },
        { "yearly", "*-01-01 00:00:00" },
        { "annually", "*-01-01 00:00:00" },
        { "anually", "*-01-01 00:00:00" }, /* systemd keeps this misspelling for compatibility */
        { "quarterly", "*-01,04,07,10-01 00:00:00" },
        { "semiannually", "*-01,07-01 00:00:00" },
        { "semi-annually", "*-01,07-01 00:00:00" },
        { "biannually", "*-01,07-01 00:00:00" },
        { "bi-annually", "*-01,07-01 00:00:00" },
};

static void chain_done(Chain *c) {
        free(c->items);
        *c = (Chain){ NULL, 0 };
}

YbCalendar *yb_calendar_free(YbCalendar *c) {
        if (!c)
                return NULL;
        for (size_t i = 0; i < _FIELD_MAX; i++)
                chain_done(&c->chains[i]);
        free(c->zone);
        free(c);
        return NULL;
}

/* ---- Parsing ---- */

typedef struct Parser {
        const char *p;    /* the cursor */
        const char *word; /* start of the space-separated word being parsed, for messages */
        char *err;
        size_t err_size;
} Parser;

static int fail(Parser *ps, const char *fmt, ...) _printf_(2, 3);
static int fail(Parser *ps, const char *fmt, ...) {
        va_list ap;

        if (ps->err && ps->err_size > 0) {
                va_start(ap, fmt);
                vsnprintf(ps->err, ps->err_size, fmt, ap);
                va_end(ap);
        }
        return -EINVAL;
}

static int word_len(const char *w) {
        return (int) strcspn(w, " ");
}

static int fail_unexpected(Parser *ps) {
        unsigned char ch = (unsigned char) *ps->p;

        if (ch == ' ')
                return fail(ps, "unexpected '%s' after '%.*s'", ps->p + 1, (int) (ps->p - ps->word),
                            ps->word);
        if (!isprint(ch))
                return fail(ps, "unexpected byte 0x%02x in '%.*s'", ch, word_len(ps->word),
                            ps->word);
        return fail(ps, "unexpected '%c' in '%.*s'", ch, word_len(ps->word), ps->word);
}

static int chain_add(Parser *ps, Chain *c, Item it) {
        Item *n;

        if (c->n >= CAL_MAX_ITEMS)
                return fail(ps, "too many list items in '%.*s' (at most %d)", word_len(ps->word),
                            ps->word, CAL_MAX_ITEMS);
        n = realloc(c->items, (c->n + 1) * sizeof(Item));
        if (!n)
                return -ENOMEM;
        c->items = n;
        c->items[c->n++] = it;
        return 0;
}

static int chain_const(Chain *c, int value) {
        assert(c->n == 0);
        c->items = new0(Item, 1);
        if (!c->items)
                return -ENOMEM;
        c->items[0] = (Item){ .start = value, .stop = -1, .repeat = 0, .written_stop = -1 };
        c->n = 1;
        return 0;
}

static int parse_number(Parser *ps, bool seconds, int *ret) {
        const char *s = ps->p;
        size_t n = strspn(s, "0123456789");

        if (n == 0)
                return fail(ps, "expected a number or '*' at '%.*s' in '%.*s'", word_len(s), s,
                            word_len(ps->word), ps->word);
        if (n > 9)
                return fail(ps, "number '%.*s' is too large", (int) n, s);
        if (seconds && s[n] == '.' && s[n + 1] != '.')
                return fail(ps, "fractional seconds ('%.*s') are not supported", word_len(s), s);
        *ret = atoi(s);
        ps->p += n;
        return 0;
}

/* Parses "*" or a comma-separated list of items at ps->p, up to the first character that is not
 * part of it. In the seconds field "*" is kept as "0/1", as systemd does (the same set). */
static int parse_chain(Parser *ps, bool seconds, Chain *ret) {
        _cleanup_(chain_done) Chain c = { NULL, 0 };
        int r;

        if (*ps->p == '*') {
                ps->p++;
                if (*ps->p == '/')
                        return fail(ps,
                                    "'*/%.*s' is not supported: give the step a start, such as "
                                    "'0/%.*s' (or '1/%.*s' for days and months)",
                                    word_len(ps->p + 1), ps->p + 1, word_len(ps->p + 1), ps->p + 1,
                                    word_len(ps->p + 1), ps->p + 1);
                if (seconds) {
                        r = chain_add(
                                ps, &c,
                                (Item){ .start = 0, .stop = -1, .repeat = 1, .written_stop = -1 });
                        if (r < 0)
                                return r;
                }
                *ret = c;
                c = (Chain){ NULL, 0 };
                return 0;
        }

        for (;;) {
                Item it = { .stop = -1, .repeat = 0, .written_stop = -1 };

                r = parse_number(ps, seconds, &it.start);
                if (r < 0)
                        return r;
                if (ps->p[0] == '.' && ps->p[1] == '.') {
                        ps->p += 2;
                        r = parse_number(ps, seconds, &it.stop);
                        if (r < 0)
                                return r;
                        it.written_stop = it.stop;
                        it.repeat = 1;
                }
                if (*ps->p == '/') {
                        ps->p++;
                        r = parse_number(ps, seconds, &it.repeat);
                        if (r < 0)
                                return r;
                        if (it.repeat == 0)
                                return fail(ps, "a step of 0 in '%.*s' is not allowed",
                                            word_len(ps->word), ps->word);
                } else if (seconds && it.stop >= 0 && it.start + 1 > it.stop)
                        /* systemd refuses a seconds range shorter than its implied 1 s step. */
                        return fail(ps, "second range %d..%d is empty", it.start, it.stop);
                if (!strchr(" ,-~:", *ps->p)) /* also matches the terminating NUL */
                        return fail_unexpected(ps);
                r = chain_add(ps, &c, it);
                if (r < 0)
                        return r;
                if (*ps->p != ',')
                        break;
                ps->p++;
        }

        *ret = c;
        c = (Chain){ NULL, 0 };
        return 0;
}

static int weekday_lookup(const char *s, size_t n) {
        for (int d = 0; d < 7; d++)
                for (size_t k = 0; k < 2; k++)
                        if (strlen(weekday_names[d][k]) == n &&
                            strncasecmp(s, weekday_names[d][k], n) == 0)
                                return d;
        return -1;
}

static size_t letters(const char *s) {
        size_t n = 0;

        while (isalpha((unsigned char) s[n]))
                n++;
        return n;
}

/* [WEEKDAYS]: "Mon", "Mon,Wed", "Mon..Fri" (or systemd's older "Mon-Fri"), lists of those. A
 * range's end is kept until the next ',' so that "Mon..Wed..Fri" is refused, as in systemd. */
static int parse_weekdays(Parser *ps, unsigned *bits) {
        int from = -1;

        ps->word = ps->p;
        if (!isalpha((unsigned char) *ps->p))
                return 0;
        for (;;) {
                size_t n = letters(ps->p);
                int d;

                if (n == 0)
                        return fail(ps, "expected a weekday at '%.*s' in '%.*s'", word_len(ps->p),
                                    ps->p, word_len(ps->word), ps->word);
                d = weekday_lookup(ps->p, n);
                if (d < 0)
                        return fail(ps, "unknown weekday '%.*s'", (int) n, ps->p);
                if (from >= 0) {
                        if (from > d)
                                return fail(ps,
                                            "weekday range '%s..%s' goes backwards (weeks start "
                                            "on Monday: write '%s..Sun,Mon%s%s')",
                                            weekday_names[from][0], weekday_names[d][0],
                                            weekday_names[from][0], d > 0 ? ".." : "",
                                            d > 0 ? weekday_names[d][0] : "");
                        for (int j = from; j <= d; j++)
                                *bits |= 1U << j;
                } else
                        *bits |= 1U << d;
                ps->p += n;

                if (*ps->p == 0 || *ps->p == ' ')
                        break;
                if ((ps->p[0] == '.' && ps->p[1] == '.') || ps->p[0] == '-') {
                        if (from >= 0)
                                return fail(ps, "a weekday range in '%.*s' has more than two ends",
                                            word_len(ps->word), ps->word);
                        from = d;
                        ps->p += ps->p[0] == '-' ? 1 : 2;
                } else if (*ps->p == ',') {
                        from = -1;
                        ps->p++;
                } else
                        return fail_unexpected(ps);
                if (*ps->p == 0 || *ps->p == ' ') {
                        /* A trailing comma is fine (systemd accepts it), an open range is not. */
                        if (from >= 0)
                                return fail(ps, "weekday range in '%.*s' has no end",
                                            word_len(ps->word), ps->word);
                        break;
                }
        }
        ps->p += strspn(ps->p, " ");
        return 0;
}

/* [[YEAR-]MONTH-DAY]. A first part followed by ':' or the end is the time, not a date. */
static int parse_date(Parser *ps, YbCalendar *c) {
        _cleanup_(chain_done) Chain a = { NULL, 0 }, b = { NULL, 0 }, d = { NULL, 0 };
        const char *start = ps->p;
        int r;

        if (*ps->p == 0)
                return 0;
        ps->word = ps->p;
        if (*ps->p == '@')
                return fail(ps, "'@' timestamps ('%.*s') are not supported", word_len(ps->p),
                            ps->p);

        r = parse_chain(ps, false, &a);
        if (r < 0)
                return r;
        if (*ps->p == 0 || *ps->p == ':') {
                ps->p = start;
                return 0;
        }
        if (*ps->p == '~')
                return fail(ps, "'~' (days from the end of the month) is not supported");
        if (*ps->p == ' ')
                return fail(ps,
                            "'%.*s' is neither a date (such as *-*-01) nor a time (such as 10:00)",
                            word_len(ps->word), ps->word);
        if (*ps->p != '-')
                return fail_unexpected(ps);
        ps->p++;

        r = parse_chain(ps, false, &b);
        if (r < 0)
                return r;
        if (*ps->p == 0 || *ps->p == ' ') {
                c->chains[FIELD_MONTH] = a;
                c->chains[FIELD_DAY] = b;
                a = b = (Chain){ NULL, 0 };
                ps->p += strspn(ps->p, " ");
                return 0;
        }
        if (*ps->p == '~')
                return fail(ps, "'~' (days from the end of the month) is not supported");
        if (*ps->p != '-')
                return fail_unexpected(ps);
        ps->p++;

        r = parse_chain(ps, false, &d);
        if (r < 0)
                return r;
        if (*ps->p != 0 && *ps->p != ' ')
                return *ps->p == '~' ? fail(ps, "'~' (days from the end of the month) is not "
                                                "supported")
                                     : fail_unexpected(ps);
        c->chains[FIELD_YEAR] = a;
        c->chains[FIELD_MONTH] = b;
        c->chains[FIELD_DAY] = d;
        a = b = d = (Chain){ NULL, 0 };
        ps->p += strspn(ps->p, " ");
        return 0;
}

/* [HOUR:MINUTE[:SECOND]]; nothing means 00:00:00. */
static int parse_time(Parser *ps, YbCalendar *c) {
        int r;

        if (*ps->p == 0) {
                r = chain_const(&c->chains[FIELD_HOUR], 0);
                if (r >= 0)
                        r = chain_const(&c->chains[FIELD_MINUTE], 0);
                if (r >= 0)
                        r = chain_const(&c->chains[FIELD_SECOND], 0);
                return r;
        }
        ps->word = ps->p;
        r = parse_chain(ps, false, &c->chains[FIELD_HOUR]);
        if (r < 0)
                return r;
        if (*ps->p == 0)
                return fail(ps,
                            "'%.*s' is neither a date (such as *-*-01) nor a time (such as 10:00)",
                            word_len(ps->word), ps->word);
        if (*ps->p != ':')
                return fail_unexpected(ps);
        ps->p++;
        r = parse_chain(ps, false, &c->chains[FIELD_MINUTE]);
        if (r < 0)
                return r;
        if (*ps->p == 0)
                return chain_const(&c->chains[FIELD_SECOND], 0);
        if (*ps->p != ':')
                return fail_unexpected(ps);
        ps->p++;
        r = parse_chain(ps, true, &c->chains[FIELD_SECOND]);
        if (r < 0)
                return r;
        if (*ps->p != 0)
                return fail_unexpected(ps);
        return 0;
}

static int item_compare(const void *a, const void *b) {
        const Item *x = a, *y = b;

        if (x->start != y->start)
                return x->start < y->start ? -1 : 1;
        if (x->stop != y->stop)
                return x->stop < y->stop ? -1 : 1;
        if (x->repeat != y->repeat)
                return x->repeat < y->repeat ? -1 : 1;
        return 0;
}

/* systemd's normalisation: two-digit years, a range's end trimmed to its last step, steps that
 * never fire dropped, items sorted and deduplicated. */
static void chain_normalize(Chain *c, Field f) {
        size_t k = 0;

        for (size_t i = 0; i < c->n; i++) {
                Item *it = &c->items[i];

                if (f == FIELD_YEAR) { /* 12 -> 2012, 89 -> 1989 */
                        if (it->start >= 0 && it->start < 100)
                                it->start += it->start < 70 ? 2000 : 1900;
                        if (it->stop >= 0 && it->stop < 100)
                                it->stop += it->stop < 70 ? 2000 : 1900;
                        it->written_stop = it->stop;
                }
                if (it->stop > it->start && it->repeat > 0)
                        it->stop -= (it->stop - it->start) % it->repeat;
                if ((it->stop > it->start && it->repeat > 0 && it->start + it->repeat > it->stop) ||
                    it->start == it->stop) {
                        it->repeat = 0;
                        it->stop = -1;
                }
        }
        if (c->n > 1)
                qsort(c->items, c->n, sizeof(Item), item_compare);
        for (size_t i = 0; i < c->n; i++)
                if (k == 0 || item_compare(&c->items[k - 1], &c->items[i]) != 0)
                        c->items[k++] = c->items[i];
        c->n = k;
}

static int chain_validate(Parser *ps, const Chain *c, Field f) {
        const char *name = field_info[f].name;
        int min = field_info[f].min, max = field_info[f].max;

        for (size_t i = 0; i < c->n; i++) {
                const Item *it = &c->items[i];

                if (it->start < min || it->start > max)
                        return fail(ps, "%s %d is out of range %d..%d", name, it->start, min, max);
                if (it->repeat > max - min)
                        return fail(ps, "%s step %d is too large for %d..%d", name, it->repeat, min,
                                    max);
                if (it->stop >= 0) {
                        if (it->stop < min || it->stop > max)
                                return fail(ps, "%s %d is out of range %d..%d", name,
                                            it->written_stop, min, max);
                        if (it->start + it->repeat > it->stop)
                                return fail(ps, "%s range %d..%d goes backwards", name, it->start,
                                            it->written_stop);
                } else if (it->repeat > 0 && it->start + it->repeat > max)
                        return fail(ps, "%s %d/%d never repeats: %d is past %d", name, it->start,
                                    it->repeat, it->start + it->repeat, max);
        }
        return 0;
}

/* The set of values a chain allows within its field's range, as a bit mask (months and days). */
static uint64_t chain_mask(const Chain *c, Field f) {
        int min = field_info[f].min, max = field_info[f].max;
        uint64_t m = 0;

        if (c->n == 0)
                for (int v = min; v <= max; v++)
                        m |= UINT64_C(1) << v;
        for (size_t i = 0; i < c->n; i++) {
                const Item *it = &c->items[i];
                int last = it->repeat == 0 ? it->start : it->stop >= 0 ? it->stop : max;

                for (int v = it->start; v <= last; v += it->repeat > 0 ? it->repeat : 1)
                        m |= UINT64_C(1) << v;
        }
        return m;
}

static bool calendar_never(const YbCalendar *c) {
        static const int days_in_month[13] = { 0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
        uint64_t months = chain_mask(&c->chains[FIELD_MONTH], FIELD_MONTH);
        uint64_t days = chain_mask(&c->chains[FIELD_DAY], FIELD_DAY);

        for (int m = 1; m <= 12; m++)
                if ((months & (UINT64_C(1) << m)) &&
                    (days & ((UINT64_C(1) << (days_in_month[m] + 1)) - 1)))
                        return false;
        return true;
}

/* Everything but the zone. */
static int parse_body(Parser *ps, const char *text, YbCalendar *c) {
        size_t n;
        int r;

        for (size_t i = 0; i < ELEMENTSOF(shorthands); i++)
                if (strcasecmp(text, shorthands[i].name) == 0)
                        text = shorthands[i].expansion;

        ps->p = ps->word = text;
        if (!strchr(text, ' ') && (strcasecmp(text, "UTC") == 0 || yb_tz_exists(text)))
                return fail(ps,
                            "'%s' is only a time zone: put it after a date or time, as in "
                            "'daily %s'",
                            text, text);
        n = letters(text);
        if (text[strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-")] == 0 &&
            weekday_lookup(text, n) < 0)
                return fail(ps,
                            "'%s' is neither a weekday nor a shorthand (minutely, hourly, daily, "
                            "weekly, monthly, yearly, quarterly, semiannually)",
                            text);

        r = parse_weekdays(ps, &c->weekdays);
        if (r < 0)
                return r;
        r = parse_date(ps, c);
        if (r < 0)
                return r;
        r = parse_time(ps, c);
        if (r < 0)
                return r;
        assert(*ps->p == 0);
        return 0;
}

int yb_calendar_parse(const char *text, YbCalendar **ret, char *err, size_t err_size) {
        _cleanup_(yb_calendar_freep) YbCalendar *c = NULL;
        _cleanup_free_ char *buf = NULL;
        Parser ps = { .err = err, .err_size = err_size };
        char *s, *e, *last;
        size_t len;
        int r;

        assert(text);
        assert(ret);

        if (err && err_size > 0)
                err[0] = 0;
        len = strnlen(text, CAL_MAX_TEXT + 1);
        if (len > CAL_MAX_TEXT)
                return fail(&ps, "calendar expression is too long (more than %d characters)",
                            CAL_MAX_TEXT);
        buf = strndup(text, len);
        c = new0(YbCalendar, 1);
        if (!buf || !c)
                return -ENOMEM;

        /* Unlike systemd, blanks around the expression and runs of them inside are fine. */
        for (s = buf; *s; s++)
                if (*s == '\t' || *s == '\n' || *s == '\r')
                        *s = ' ';
        s = buf + strspn(buf, " ");
        e = s + strlen(s);
        while (e > s && e[-1] == ' ')
                *--e = 0;
        if (!*s)
                return fail(&ps, "empty calendar expression");

        /* The last word is the zone if it is "UTC" or names a zone. Any other last word made of
         * the characters of zone names, with a letter, is a misspelt zone: weekdays come first,
         * shorthands stand alone, and dates and times have no letters. */
        last = strrchr(s, ' ');
        if (last) {
                const char *z = last + 1;

                if (strcasecmp(z, "UTC") == 0)
                        c->zone_kind = ZONE_UTC;
                else if (strncmp(z, "right/", 6) == 0 && yb_tz_exists(z))
                        /* Their time_t counts leap seconds, which the system clock does not:
                         * systemd's answers with them are 27 s off. */
                        return fail(&ps, "time zones with leap seconds ('%s') are not supported",
                                    z);
                else if (yb_tz_exists(z)) {
                        c->zone_kind = ZONE_NAMED;
                        c->zone = strdup(z);
                        if (!c->zone)
                                return -ENOMEM;
                } else if (weekday_lookup(z, letters(z)) >= 0)
                        return fail(&ps,
                                    "'%s' at the end is not a time zone (weekdays come first, "
                                    "before the date and time)",
                                    z);
                else if (strpbrk(z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
                         z[strspn(z, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789_+-/.")] == 0)
                        return fail(&ps, "unknown time zone '%s'", z);
                if (c->zone_kind != ZONE_LOCAL) {
                        *last = 0;
                        while (last > s && last[-1] == ' ')
                                *--last = 0;
                }
        }

        r = parse_body(&ps, s, c);
        if (r < 0)
                return r;

        if (c->weekdays == 0x7f)
                c->weekdays = 0;
        for (size_t f = 0; f < _FIELD_MAX; f++) {
                chain_normalize(&c->chains[f], f);
                r = chain_validate(&ps, &c->chains[f], f);
                if (r < 0)
                        return r;
        }
        c->never = calendar_never(c);

        *ret = TAKE_PTR(c);
        return 0;
}

/* ---- The normal form ---- */

static void format_weekdays(YbBuf *b, unsigned bits, int *r) {
        bool first = true;

        for (int d = 0; d < 7; d++) {
                int e = d;

                if (!(bits & (1U << d)))
                        continue;
                while (e + 1 < 7 && (bits & (1U << (e + 1))))
                        e++;
                /* Runs of three or more are ranges, shorter ones lists, as in systemd. */
                *r |= yb_buf_printf(b, "%s%s", first ? "" : ",", weekday_names[d][0]);
                if (e > d)
                        *r |= yb_buf_printf(b, "%s%s", e > d + 1 ? ".." : ",", weekday_names[e][0]);
                first = false;
                d = e;
        }
        *r |= yb_buf_printf(b, " ");
}

static void format_chain(YbBuf *b, const Chain *c, Field f, int *r) {
        int w = field_info[f].width;

        if (c->n == 0 || (f == FIELD_SECOND && c->n == 1 && c->items[0].start == 0 &&
                          c->items[0].stop < 0 && c->items[0].repeat == 1)) {
                *r |= yb_buf_printf(b, "*");
                return;
        }
        for (size_t i = 0; i < c->n; i++) {
                const Item *it = &c->items[i];

                *r |= yb_buf_printf(b, "%s%0*d", i > 0 ? "," : "", w, it->start);
                if (it->stop > 0)
                        *r |= yb_buf_printf(b, "..%0*d", w, it->stop);
                if (it->repeat > 0 && !(it->stop > 0 && it->repeat == 1))
                        *r |= yb_buf_printf(b, "/%d", it->repeat);
        }
}

char *yb_calendar_to_string(const YbCalendar *c) {
        YbBuf b = YB_BUF_INIT;
        int r = 0;

        assert(c);

        if (c->weekdays != 0)
                format_weekdays(&b, c->weekdays, &r);
        format_chain(&b, &c->chains[FIELD_YEAR], FIELD_YEAR, &r);
        r |= yb_buf_printf(&b, "-");
        format_chain(&b, &c->chains[FIELD_MONTH], FIELD_MONTH, &r);
        r |= yb_buf_printf(&b, "-");
        format_chain(&b, &c->chains[FIELD_DAY], FIELD_DAY, &r);
        r |= yb_buf_printf(&b, " ");
        format_chain(&b, &c->chains[FIELD_HOUR], FIELD_HOUR, &r);
        r |= yb_buf_printf(&b, ":");
        format_chain(&b, &c->chains[FIELD_MINUTE], FIELD_MINUTE, &r);
        r |= yb_buf_printf(&b, ":");
        format_chain(&b, &c->chains[FIELD_SECOND], FIELD_SECOND, &r);
        if (c->zone_kind == ZONE_UTC)
                r |= yb_buf_printf(&b, " UTC");
        else if (c->zone_kind == ZONE_NAMED)
                r |= yb_buf_printf(&b, " %s", c->zone);
        r |= yb_buf_append_u8(&b, 0);
        if (r < 0) {
                yb_buf_done(&b);
                return NULL;
        }
        return (char *) yb_buf_steal(&b, NULL);
}
