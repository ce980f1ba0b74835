/* core/store/s3-query.c: SigV4's URI encoding and canonical query strings (s3-query.h). Sorting
 * is by the encoded bytes, as the canonical request is compared byte for byte by the server. */
#include "core/store/s3-query.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static bool unreserved(unsigned char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '-' || c == '.' || c == '_' || c == '~';
}

int yb_s3_uri_encode(YbBuf *b, const char *s, bool keep_slash) {
        static const char hex[] = "0123456789ABCDEF";
        int r = 0;

        for (const unsigned char *p = (const unsigned char *) s; *p && r >= 0; p++) {
                if (unreserved(*p) || (keep_slash && *p == '/'))
                        r = yb_buf_append_u8(b, *p);
                else {
                        char e[3] = { '%', hex[*p >> 4], hex[*p & 15] };

                        r = yb_buf_append(b, e, 3);
                }
        }
        return r;
}

typedef struct Encoded {
        char *name, *value;
} Encoded;

static int compare(const void *a, const void *b) {
        const Encoded *x = a, *y = b;
        int c = strcmp(x->name, y->name);

        return c ? c : strcmp(x->value, y->value);
}

static char *encode(const char *s) {
        YbBuf b = YB_BUF_INIT;

        if (yb_s3_uri_encode(&b, s ? s : "", false) < 0 || yb_buf_append_u8(&b, 0) < 0) {
                yb_buf_done(&b);
                return NULL;
        }
        return (char *) yb_buf_steal(&b, NULL);
}

int yb_s3_query(const YbS3Param *p, size_t n, char **ret) {
        Encoded *e = calloc(n ? n : 1, sizeof(Encoded));
        YbBuf b = YB_BUF_INIT;
        size_t m = 0;
        int r = 0;

        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                if (!p[i].name)
                        continue;
                e[m].name = encode(p[i].name);
                e[m].value = encode(p[i].value);
                if (!e[m].name || !e[m].value) {
                        free(e[m].name);
                        free(e[m].value);
                        r = -ENOMEM;
                        break;
                }
                m++;
        }
        if (r >= 0)
                qsort(e, m, sizeof(Encoded), compare);
        for (size_t i = 0; i < m && r >= 0; i++)
                r = yb_buf_printf(&b, "%s%s=%s", i ? "&" : "", e[i].name, e[i].value);
        if (r >= 0)
                r = yb_buf_append_u8(&b, 0);
        for (size_t i = 0; i < m; i++) {
                free(e[i].name);
                free(e[i].value);
        }
        free(e);
        if (r < 0) {
                yb_buf_done(&b);
                return r;
        }
        *ret = (char *) yb_buf_steal(&b, NULL);
        return 0;
}
