/* core/base/excerpt.h: untrusted text (a YAML value, a command-line argument) made safe to quote
 * in a message: one line, valid UTF-8, bounded length. */
#pragma once

#include <stddef.h>

/* Copies s into buf (size >= 8) for quoting in a message: control characters and backslashes
 * escaped (\n, \xNN), cut at a character boundary with "..." when too long. Returns buf. */
const char *yb_excerpt(const char *s, char *buf, size_t size);
