/* restore/drill-text.c: text as a drill's record takes it (restore/drill-run.h): times to the
 * second, and outputs and errors made valid UTF-8 without control characters, within bounds. */
#include <string.h>

#include "core/base/macro.h"
#include "core/base/timeutil.h"
#include "restore/drill-run.h"

void yb_drill_time_text(int64_t ns, char ret[32]) {
        yb_time_format_iso(ns, ret);
        ret[19] = 'Z'; /* in place of the fraction's '.' */
        ret[20] = 0;
}

/* The length of the valid UTF-8 character at s (n bytes left) and its code point; 0 if none. */
static size_t utf8_char(const unsigned char *s, size_t n, uint32_t *ret) {
        static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
        size_t len = s[0] < 0x80             ? 1
                     : (s[0] & 0xe0) == 0xc0 ? 2
                     : (s[0] & 0xf0) == 0xe0 ? 3
                     : (s[0] & 0xf8) == 0xf0 ? 4
                                             : 0;
        uint32_t c;

        if (len == 0 || len > n)
                return 0;
        c = len == 1 ? s[0] : s[0] & (0x7f >> len);
        for (size_t i = 1; i < len; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = c << 6 | (s[i] & 0x3f);
        }
        if (c < min[len] || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *ret = c;
        return len;
}

void yb_drill_text_clean(char *s, size_t max) {
        unsigned char *u = (unsigned char *) s;
        size_t n = strlen(s), i = 0, o = 0;

        while (i < n) {
                uint32_t c = 0;
                size_t len = utf8_char(u + i, n - i, &c), out = len;
                const unsigned char *from = u + i;

                if (c == '\r' && i + 1 < n && u[i + 1] == '\n') {
                        i++;
                        continue;
                }
                if (len == 0 || (c < 0x20 && c != '\n' && c != '\t') || (c >= 0x7f && c <= 0x9f)) {
                        len = MAX(len, (size_t) 1);
                        from = (const unsigned char *) "?";
                        out = 1;
                }
                if (o + out > max)
                        break;
                memmove(u + o, from, out);
                o += out;
                i += len;
        }
        u[o] = 0;
}
