#include "core/base/buf.h"

#include <stdarg.h>
#include <stdio.h>

int yb_buf_reserve(YbBuf *b, size_t n) {
        size_t need, a;
        uint8_t *p;

        if (n > SIZE_MAX - b->size)
                return -ENOMEM;
        need = b->size + n;
        if (b->cap > 0 && need > b->cap)
                return -ENOBUFS;
        if (need <= b->alloc)
                return 0;
        a = b->alloc ? b->alloc : 64;
        while (a < need)
                a = a > SIZE_MAX / 2 ? need : a * 2;
        p = realloc(b->data, a);
        if (!p)
                return -ENOMEM;
        b->data = p;
        b->alloc = a;
        return 0;
}

int yb_buf_append(YbBuf *b, const void *data, size_t n) {
        int r;

        if (n == 0)
                return 0;
        r = yb_buf_reserve(b, n);
        if (r < 0)
                return r;
        memcpy(b->data + b->size, data, n);
        b->size += n;
        return 0;
}

int yb_buf_append_u8(YbBuf *b, uint8_t v) {
        return yb_buf_append(b, &v, 1);
}

int yb_buf_append_le32(YbBuf *b, uint32_t v) {
        uint8_t x[4];

        for (int i = 0; i < 4; i++)
                x[i] = (uint8_t) (v >> (8 * i));
        return yb_buf_append(b, x, sizeof(x));
}

int yb_buf_append_le64(YbBuf *b, uint64_t v) {
        uint8_t x[8];

        for (int i = 0; i < 8; i++)
                x[i] = (uint8_t) (v >> (8 * i));
        return yb_buf_append(b, x, sizeof(x));
}

int yb_buf_append_varint(YbBuf *b, uint64_t v) {
        uint8_t x[10];
        size_t n = 0;

        do {
                x[n] = v & 0x7f;
                v >>= 7;
                if (v)
                        x[n] |= 0x80;
                n++;
        } while (v);
        return yb_buf_append(b, x, n);
}

int yb_buf_append_bytes(YbBuf *b, const void *data, size_t n) {
        int r = yb_buf_append_varint(b, n);

        if (r < 0)
                return r;
        return yb_buf_append(b, data, n);
}

int yb_buf_printf(YbBuf *b, const char *fmt, ...) {
        va_list ap;
        size_t cap = b->cap;
        int n, r;

        va_start(ap, fmt);
        n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
                return -EINVAL;
        if (cap > 0 && b->size + (size_t) n > cap)
                return -ENOBUFS;
        /* Room for vsnprintf's NUL, which is not part of the contents: it may pass the cap. */
        b->cap = 0;
        r = yb_buf_reserve(b, (size_t) n + 1);
        b->cap = cap;
        if (r < 0)
                return r;
        va_start(ap, fmt);
        vsnprintf((char *) b->data + b->size, (size_t) n + 1, fmt, ap);
        va_end(ap);
        b->size += (size_t) n;
        return 0;
}

void yb_buf_clear(YbBuf *b) {
        b->size = 0;
}

void yb_buf_done(YbBuf *b) {
        free(b->data);
        b->data = NULL;
        b->size = b->alloc = 0;
}

uint8_t *yb_buf_steal(YbBuf *b, size_t *ret_size) {
        uint8_t *p = b->data;

        if (ret_size)
                *ret_size = b->size;
        b->data = NULL;
        b->size = b->alloc = 0;
        return p;
}

int yb_cursor_raw(YbCursor *c, size_t n, const uint8_t **ret) {
        if (n > c->left)
                return -EBADMSG;
        *ret = c->p;
        c->p += n;
        c->left -= n;
        return 0;
}

int yb_cursor_u8(YbCursor *c, uint8_t *ret) {
        const uint8_t *p;
        int r = yb_cursor_raw(c, 1, &p);

        if (r < 0)
                return r;
        *ret = p[0];
        return 0;
}

int yb_cursor_le32(YbCursor *c, uint32_t *ret) {
        const uint8_t *p;
        uint32_t v = 0;
        int r = yb_cursor_raw(c, 4, &p);

        if (r < 0)
                return r;
        for (int i = 0; i < 4; i++)
                v |= (uint32_t) p[i] << (8 * i);
        *ret = v;
        return 0;
}

int yb_cursor_le64(YbCursor *c, uint64_t *ret) {
        const uint8_t *p;
        uint64_t v = 0;
        int r = yb_cursor_raw(c, 8, &p);

        if (r < 0)
                return r;
        for (int i = 0; i < 8; i++)
                v |= (uint64_t) p[i] << (8 * i);
        *ret = v;
        return 0;
}

int yb_cursor_varint(YbCursor *c, uint64_t *ret) {
        uint64_t v = 0;

        for (unsigned shift = 0; shift < 64; shift += 7) {
                uint8_t x;
                int r = yb_cursor_u8(c, &x);

                if (r < 0)
                        return r;
                if (shift == 63 && x > 1)
                        return -EBADMSG; /* would overflow 64 bits */
                v |= (uint64_t) (x & 0x7f) << shift;
                if (!(x & 0x80)) {
                        if (x == 0 && shift > 0)
                                return -EBADMSG; /* not minimal: one value, one encoding */
                        *ret = v;
                        return 0;
                }
        }
        return -EBADMSG;
}

int yb_cursor_bytes(YbCursor *c, size_t max, const uint8_t **ret, size_t *ret_size) {
        uint64_t n;
        int r = yb_cursor_varint(c, &n);

        if (r < 0)
                return r;
        if (n > max)
                return -EBADMSG;
        r = yb_cursor_raw(c, (size_t) n, ret);
        if (r < 0)
                return r;
        *ret_size = (size_t) n;
        return 0;
}

const char *yb_format_bytes(uint64_t n, char buf[32]) {
        static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
        double v = (double) n;
        size_t u = 0;

        while (v >= 1024 && u + 1 < ELEMENTSOF(units)) {
                v /= 1024;
                u++;
        }
        snprintf(buf, 32, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
        return buf;
}
