/* core/base/buf.h: a growable byte buffer with an optional size cap for untrusted input. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/base/macro.h"

typedef struct YbBuf {
        uint8_t *data;
        size_t size;
        size_t alloc;
        size_t cap; /* 0: unlimited; otherwise appends beyond cap fail with -ENOBUFS */
} YbBuf;

#define YB_BUF_INIT                                                                                \
        { NULL, 0, 0, 0 }

/* Makes room for n more bytes. Returns 0, -ENOMEM, or -ENOBUFS past the cap. */
int yb_buf_reserve(YbBuf *b, size_t n);
int yb_buf_append(YbBuf *b, const void *data, size_t n);
int yb_buf_append_u8(YbBuf *b, uint8_t v);
/* Little-endian fixed-width and LEB128 variable-length integers. */
int yb_buf_append_le32(YbBuf *b, uint32_t v);
int yb_buf_append_le64(YbBuf *b, uint64_t v);
int yb_buf_append_varint(YbBuf *b, uint64_t v);
/* A varint length followed by the bytes. */
int yb_buf_append_bytes(YbBuf *b, const void *data, size_t n);
int yb_buf_printf(YbBuf *b, const char *fmt, ...) _printf_(2, 3);
/* Drops the contents, keeps the allocation. */
void yb_buf_clear(YbBuf *b);
/* Frees the contents (wiping them first when wipe is true). */
void yb_buf_done(YbBuf *b);
/* Moves the bytes out; the caller frees them. The buffer is left empty. */
uint8_t *yb_buf_steal(YbBuf *b, size_t *ret_size);

/* Formats a byte count for people: "512 B", "1.5 GiB". Returns buf (32 bytes). */
const char *yb_format_bytes(uint64_t n, char buf[32]);

/* A read cursor over borrowed bytes; every read is bounds-checked and fails with -EBADMSG. */
typedef struct YbCursor {
        const uint8_t *p;
        size_t left;
} YbCursor;

static inline YbCursor yb_cursor(const void *data, size_t size) {
        return (YbCursor){ .p = data, .left = size };
}
int yb_cursor_u8(YbCursor *c, uint8_t *ret);
int yb_cursor_le32(YbCursor *c, uint32_t *ret);
int yb_cursor_le64(YbCursor *c, uint64_t *ret);
int yb_cursor_varint(YbCursor *c, uint64_t *ret);
/* Points *ret at n bytes inside the cursor's memory (no copy). */
int yb_cursor_raw(YbCursor *c, size_t n, const uint8_t **ret);
/* A varint length, at most max, then that many bytes (borrowed). */
int yb_cursor_bytes(YbCursor *c, size_t max, const uint8_t **ret, size_t *ret_size);
