/* core/evidence/why.h: the reasons core/evidence gives, as words in the caller's buffer (every
 * check here says why it failed: a person reads it, from `yunbak certificate verify`). */
#pragma once

#include <stddef.h>

#include "core/base/macro.h"

/* Formats the reason into why (why_size bytes, terminated; nothing when why is NULL or
 * why_size 0) and returns r, so that a failure takes one line: return yb_why(why, n, -EINVAL,
 * "..."). */
int yb_why(char *why, size_t why_size, int r, const char *fmt, ...) _printf_(4, 5);
