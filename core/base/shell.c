#include "core/base/shell.h"

#include <stdbool.h>
#include <string.h>

int yb_shell_quote(YbBuf *out, const char *s) {
        static const char safe[] = "_./:@%+,-";
        bool plain = *s != '\0';
        int r;

        for (const char *p = s; *p && plain; p++)
                plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                        (*p >= '0' && *p <= '9') || strchr(safe, *p);
        if (plain)
                return yb_buf_append(out, s, strlen(s));
        r = yb_buf_append_u8(out, '\'');
        for (const char *p = s; r >= 0 && *p; p++)
                r = *p == '\'' ? yb_buf_append(out, "'\\''", 4)
                               : yb_buf_append_u8(out, (uint8_t) *p);
        if (r >= 0)
                r = yb_buf_append_u8(out, '\'');
        return r;
}
