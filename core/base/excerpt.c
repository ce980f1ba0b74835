/* core/base/excerpt.c: quoting untrusted text in messages (excerpt.h). */
#include "core/base/excerpt.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t utf8_sequence(const unsigned char *s) {
        size_t n;
        uint32_t cp;

        if (s[0] < 0x80)
                return 1;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1f;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0f;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07;
        else
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = (cp << 6) | (s[i] & 0x3f);
        }
        if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
                return 0;
        return n;
}

const char *yb_excerpt(const char *s, char *buf, size_t size) {
        const unsigned char *p = (const unsigned char *) s;
        size_t o = 0;

        assert(size >= 8);
        while (*p) {
                char tmp[8];
                size_t n = utf8_sequence(p), t;

                if (n == 1 && (*p < 0x20 || *p == 0x7f || *p == '\\')) {
                        if (*p == '\n')
                                t = (size_t) snprintf(tmp, sizeof(tmp), "\\n");
                        else if (*p == '\t')
                                t = (size_t) snprintf(tmp, sizeof(tmp), "\\t");
                        else if (*p == '\\')
                                t = (size_t) snprintf(tmp, sizeof(tmp), "\\\\");
                        else
                                t = (size_t) snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
                } else if (n == 0) {
                        t = (size_t) snprintf(tmp, sizeof(tmp), "\\x%02x", *p);
                        n = 1;
                } else {
                        memcpy(tmp, p, n);
                        t = n;
                }
                /* Keep room for "..." and the NUL after whatever follows. */
                if (o + t + 4 > size) {
                        memcpy(buf + o, "...", 4);
                        return buf;
                }
                memcpy(buf + o, tmp, t);
                o += t;
                p += n;
        }
        buf[o] = 0;
        return buf;
}
