/* Reasons in words (why.h). */
#include "core/evidence/why.h"

#include <stdarg.h>
#include <stdio.h>

int yb_why(char *why, size_t why_size, int r, const char *fmt, ...) {
        va_list ap;

        if (why && why_size > 0) {
                va_start(ap, fmt);
                vsnprintf(why, why_size, fmt, ap);
                va_end(ap);
        }
        return r;
}
