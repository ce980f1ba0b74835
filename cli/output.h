/* cli/output.h: what yunbak prints: JSON answers read leniently, text made safe and measured for
 * a terminal, times and durations, aligned tables; and the parsing of numeric options. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/base/macro.h"

/* Prints j on stdout, indented, followed by a newline (--json). */
void cli_json_print(json_t *j);
/* Typed access to a member of a JSON object, tolerant of a daemon that lacks it: the string, or
 * NULL when absent, null or not a string. */
const char *cli_json_str(json_t *o, const char *key);
/* Sets *ret to the integer member key; returns false (leaving *ret) when it is absent, null or
 * not an integer. */
bool cli_json_int(json_t *o, const char *key, int64_t *ret);

/* Copies s for a terminal: control characters (escape sequences from data in the catalog)
 * become '?'. The caller frees it; NULL on OOM. */
char *cli_sanitize(const char *s);
/* The columns a UTF-8 string takes on a terminal (CJK characters take two). */
size_t cli_display_width(const char *s);

/* "45 s", "12 min", "3 h", "2 d" for a duration in microseconds (negative ones as 0). Returns
 * buf (32 bytes). */
const char *cli_format_duration(int64_t usec, char buf[32]);
/* "2026-11-21 18:22:12" (UTC) for microseconds since the epoch, "?" for values out of range.
 * Returns buf (32 bytes). */
const char *cli_format_time(int64_t usec, char buf[32]);
/* Microseconds since the epoch now (the client's clock). */
int64_t cli_now_usec(void);

/* A table printed with columns as wide as their widest cell, two spaces apart; the last column
 * is not padded. Cells are copied and sanitised (cli_sanitize). */
typedef struct CliTable CliTable;

/* A table with n_cols columns titled by the strings that follow (n_cols of them). */
CliTable *cli_table_new(size_t n_cols, ...);
CliTable *cli_table_free(CliTable *t); /* Accepts NULL; returns NULL. */
DEFINE_FREEP(CliTable, cli_table_free);
/* Adds a row of n_cols cells (NULL and empty cells print "-"). Returns 0 or -ENOMEM. */
int cli_table_add(CliTable *t, ...);
/* Rows added so far (without the title row). */
size_t cli_table_rows(const CliTable *t);
void cli_table_print(const CliTable *t, FILE *f);

/* Parses a decimal integer in [min, max] (an option's value). Returns 0 or -EINVAL. */
int cli_parse_int(const char *s, int64_t min, int64_t max, int64_t *ret);
