/* policies/schema.h: typed readers for configuration files parsed by yamltree.h, shared by the
 * policy language (policy.c) and yunbakd's configuration (orchestrator/config.c).
 *
 * A YbSchema collects problems with their positions while the readers check a YAML tree: each
 * reader reports what is wrong with its value (at the value's line:column, in words a person
 * understands, with "did you mean" for near misses) and returns false, and the caller goes on,
 * so that one run lists every problem of a file. yb_schema_flush() sorts them by position and
 * formats them as "file:line:col: message" into a YbDiagnostics. Out of memory is remembered in
 * the context (oom) rather than reported, and the caller returns -ENOMEM. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "policies/calendar.h"
#include "policies/yamltree.h"

/* Collects errors as "file:line:col: message" lines. */
typedef struct YbDiagnostics {
        char **lines;
        size_t n;
} YbDiagnostics;

/* Frees every line and empties d (for _cleanup_). */
void yb_diagnostics_done(YbDiagnostics *d);
/* Prints every line to f. */
void yb_diagnostics_print(const YbDiagnostics *d, FILE *f);
/* Appends one formatted line (without newline). Returns 0 or -ENOMEM. */
int yb_diagnostics_addf(YbDiagnostics *d, const char *fmt, ...) _printf_(2, 3);

/* The longest duration a file may give: 100 years. */
#define YB_SCHEMA_DURATION_MAX_USEC (100LL * 366 * YB_USEC_PER_DAY)

/* Durations: "30s", "5min", "1h", "7d", "2w", combinations "1h30min" (units in docs/policy.md;
 * a unit is required). 0 or -EINVAL. */
int yb_duration_parse(const char *s, int64_t *ret_usec);
/* Formats usec for people and policies: "1h30min", "7d", "0s" (what yb_duration_parse reads
 * back to the same value, to the second; less than a second shows as "0s"). Returns buf. */
const char *yb_duration_format(int64_t usec, char *buf, size_t size);

/* At most this many problems are kept per file; the rest are counted in one last line. */
#define YB_SCHEMA_MAX_ERRORS 200

typedef struct YbSchemaProblem {
        unsigned line, column;
        size_t seq; /* order of discovery, to keep the sort stable */
        char *message;
} YbSchemaProblem;

/* The checking context of one file. Initialise with YB_SCHEMA_INIT(file) (file is borrowed and
 * must outlive the context) and release with yb_schema_done(). */
typedef struct YbSchema {
        const char *file;
        YbSchemaProblem *problems;
        size_t n_problems, n_dropped;
        bool oom; /* memory ran out while reporting or reading: the caller returns -ENOMEM */
} YbSchema;

#define YB_SCHEMA_INIT(f) ((YbSchema){ .file = (f) })

/* Frees the collected problems (for _cleanup_). */
void yb_schema_done(YbSchema *s);
/* Records a problem at line:column (1-based). */
void yb_schema_problem(YbSchema *s, unsigned line, unsigned column, const char *fmt, ...)
        _printf_(4, 5);
void yb_schema_problemv(YbSchema *s, unsigned line, unsigned column, const char *fmt, va_list ap)
        _printf_(4, 0);
/* Records a problem at node n's position (1:1 when n is NULL). */
void yb_schema_bad(YbSchema *s, const YbYamlNode *n, const char *fmt, ...) _printf_(3, 4);
/* A YbYamlErrorFn for yb_yaml_parse(): pass the YbSchema as userdata. */
void yb_schema_yaml_error(void *userdata, unsigned line, unsigned column, const char *message);
/* Ends a check: moves the problems, sorted by position (stable), into d as
 * "file:line:col: message", plus "file: N more errors not shown" when some were dropped.
 * Returns 0 when there were none, -EINVAL when there were, -ENOMEM when memory ran out (while
 * checking, s->oom, or while moving them). */
int yb_schema_flush(YbSchema *s, YbDiagnostics *d);

/* A dotted key path for messages ("tier1.retention.keep_daily", "sources.hooks[0]"). */
typedef char YbSchemaPath[192];

/* Writes "parent.key", or "key" when parent is "", into buf and returns buf. Too long a result
 * is cut (the paths built from a schema's own keys always fit). */
const char *yb_schema_join(YbSchemaPath buf, const char *parent, const char *key);
/* How a value reads in a message: "'text'" (escaped and cut, see yb_excerpt), "an empty
 * value", "a list", "a mapping". Returns buf or a constant string. */
const char *yb_schema_describe(const YbYamlNode *n, char *buf, size_t size);
/* Edit distance counting a swap of two neighbours as one edit; SIZE_MAX for words longer than
 * 32 bytes. */
size_t yb_schema_edit_distance(const char *a, const char *b);
/* The word of known (NULL-terminated) closest to word, if close enough to be a likely typo (on
 * a tie, the one sharing the longest prefix); else NULL. */
const char *yb_schema_closest(const char *word, const char *const known[]);

/* ---- readers: each reports what is wrong with its value and returns false. Values of kind
 * YB_YAML_INVALID were reported by the YAML layer already and fail silently. ---- */

/* Reports every key of map (a mapping) that is not in known (NULL-terminated), with "did you
 * mean"; path names the mapping ("" at the top). */
void yb_schema_check_keys(YbSchema *s, const YbYamlNode *map, const char *path,
                          const char *const known[]);
/* The pair of key in map (a mapping), or NULL. A missing key is reported at where unless where
 * is NULL (an optional key). */
const YbYamlPair *yb_schema_get(YbSchema *s, const YbYamlNode *map, const char *key,
                                const char *path, const YbYamlNode *where);
/* Whether v is a mapping; reports it otherwise. */
bool yb_schema_read_mapping(YbSchema *s, const YbYamlNode *v, const char *path);
/* The mapping under key in parent: reports a missing one (when where is not NULL), one that is
 * not a mapping, and unknown keys inside (known). NULL when there is no usable mapping;
 * *ret_pair (if not NULL) is the pair, even if unusable. */
const YbYamlNode *yb_schema_section(YbSchema *s, const YbYamlNode *parent, const char *key,
                                    const char *parent_path, const YbYamlNode *where,
                                    const char *const known[], const YbYamlPair **ret_pair);

enum {
        YB_SCHEMA_TEXT_MULTILINE = 1 << 0, /* newlines and tabs allowed (commands) */
        YB_SCHEMA_TEXT_NO_SPACE = 1 << 1,  /* names: no spaces */
};

/* A non-empty string without control characters (see the flags). With ret not NULL, a copy is
 * returned in *ret, which the caller frees. */
bool yb_schema_read_text(YbSchema *s, const YbYamlNode *v, const char *path, int flags, char **ret);
/* A whole number from 0 to max (decimal digits only). */
bool yb_schema_read_uint(YbSchema *s, const YbYamlNode *v, const char *path, int max, int *ret);
/* A whole number from min to max (0 <= min <= max). */
bool yb_schema_read_int_range(YbSchema *s, const YbYamlNode *v, const char *path, int min, int max,
                              int *ret);
/* true or false (YAML 1.2: "yes", "on" and "y" are not booleans here). */
bool yb_schema_read_bool(YbSchema *s, const YbYamlNode *v, const char *path, bool *ret);
/* One of names (NULL-terminated); *ret is its index. */
bool yb_schema_read_choice(YbSchema *s, const YbYamlNode *v, const char *path,
                           const char *const names[], int *ret);
/* A duration of more than zero (yb_duration_parse). */
bool yb_schema_read_duration(YbSchema *s, const YbYamlNode *v, const char *path, int64_t *ret);
/* A calendar expression (calendar.h); the caller owns *ret and *ret_text (the text as written). */
bool yb_schema_read_calendar(YbSchema *s, const YbYamlNode *v, const char *path, YbCalendar **ret,
                             char **ret_text);
/* "YYYY-MM-DD" (midnight, local time), or with a time and an optional offset as in
 * "2025-03-31T18:00:00+08:00"; a real date from 1970 to 2199. */
bool yb_schema_read_date(YbSchema *s, const YbYamlNode *v, const char *path, int64_t *ret_usec);
/* A list of one-line strings; with absolute, each must start with '/'; with need_one, the list
 * must not be empty. *ret (NULL-terminated, *ret_n entries) is the caller's even when false is
 * returned after some items were read (then it holds the good ones); free each and the array. */
bool yb_schema_read_text_list(YbSchema *s, const YbYamlNode *v, const char *path, bool absolute,
                              bool need_one, char ***ret, size_t *ret_n);
