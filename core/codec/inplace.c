/* Applying a librsync delta in place (see inplace.h; the format in deltafmt.h). */
#include "core/codec/inplace.h"

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/base/macro.h"
#include "core/codec/deltafmt.h"

typedef enum { CMD_END, CMD_LITERAL, CMD_COPY } CmdKind;

typedef struct Cmd {
        CmdKind kind;
        uint64_t start, len;    /* a copy's old offset; a literal's or a copy's length */
        const uint8_t *literal; /* a literal's bytes, inside the delta */
} Cmd;

typedef struct Cursor {
        const uint8_t *p, *end;
} Cursor;

static bool take(Cursor *c, size_t width, uint64_t *ret) {
        uint64_t v = 0;

        if ((size_t) (c->end - c->p) < width)
                return false;
        for (size_t i = 0; i < width; i++)
                v = v << 8 | *c->p++;
        *ret = v;
        return true;
}

/* The next command; false when the delta is damaged or ends without its end command. */
static bool next_cmd(Cursor *c, Cmd *ret) {
        uint64_t op;
        size_t w1, w2;

        if (!take(c, 1, &op))
                return false;
        *ret = (Cmd){ .kind = CMD_LITERAL };
        switch (yb_delta_op((uint8_t) op, &w1, &w2)) {
        case YB_DELTA_END:
                ret->kind = CMD_END;
                return c->p == c->end; /* nothing may follow */
        case YB_DELTA_COPY:
                ret->kind = CMD_COPY;
                return take(c, w1, &ret->start) && take(c, w2, &ret->len) &&
                       ret->start <= UINT64_MAX - ret->len;
        case YB_DELTA_LITERAL:
                if (w1 == 0)
                        ret->len = op;
                else if (!take(c, w1, &ret->len))
                        return false;
                break;
        default:
                return false;
        }
        if ((uint64_t) (c->end - c->p) < ret->len)
                return false;
        ret->literal = c->p;
        c->p += ret->len;
        return true;
}

static bool open_delta(const uint8_t *delta, size_t n, Cursor *ret) {
        *ret = (Cursor){ delta, delta + n };
        uint64_t magic;

        return take(ret, YB_DELTA_MAGIC_SIZE, &magic) && magic == YB_DELTA_MAGIC;
}

int yb_delta_in_place(const uint8_t *delta, size_t n, uint64_t *ret_size) {
        uint64_t pos = 0;
        bool moves = false;
        Cursor c;
        Cmd cmd;

        if (!open_delta(delta, n, &c))
                return -EBADMSG;
        for (;;) {
                if (!next_cmd(&c, &cmd))
                        return -EBADMSG;
                if (cmd.kind == CMD_END)
                        break;
                if (cmd.kind == CMD_COPY && cmd.start != pos)
                        moves = true; /* read on: a damaged delta is still told apart */
                if (pos > UINT64_MAX - cmd.len)
                        return -EBADMSG;
                pos += cmd.len;
        }
        if (moves)
                return 0;
        *ret_size = pos;
        return 1;
}

/* Passes fd's bytes [off, off + len) to fn, through buf. */
static int pass_kept(int fd, uint64_t off, uint64_t len, YbWriteFn fn, void *userdata, uint8_t *buf,
                     size_t buf_size) {
        while (len > 0) {
                size_t want = (size_t) MIN((uint64_t) buf_size, len);
                ssize_t k = yb_pread_all(fd, buf, want, off);
                int r;

                if (k < 0)
                        return (int) k;
                if ((size_t) k < want)
                        return -EBADMSG; /* the basis changed under us */
                r = fn(userdata, buf, want);
                if (r < 0)
                        return r;
                off += want;
                len -= want;
        }
        return 0;
}

int yb_patch_in_place(int fd, const uint8_t *delta, size_t n, YbWriteFn fn, void *userdata,
                      uint8_t *buf, size_t buf_size) {
        uint64_t size, pos = 0;
        struct stat st;
        Cursor c;
        Cmd cmd;
        int r;

        if (fn && buf_size == 0)
                return -EINVAL;
        r = yb_delta_in_place(delta, n, &size);
        if (r <= 0)
                return -EBADMSG;
        if (fstat(fd, &st) < 0)
                return negative_errno();
        open_delta(delta, n, &c);
        while (next_cmd(&c, &cmd) && cmd.kind != CMD_END) {
                if (cmd.kind == CMD_COPY) {
                        /* Its old bytes are still there: every literal before it was
                         * written below pos, which is its start. */
                        if (cmd.start + cmd.len > (uint64_t) st.st_size)
                                return -EBADMSG;
                        r = fn ? pass_kept(fd, cmd.start, cmd.len, fn, userdata, buf, buf_size) : 0;
                } else {
                        r = yb_pwrite_all(fd, cmd.literal, (size_t) cmd.len, pos);
                        if (r >= 0 && fn)
                                r = fn(userdata, cmd.literal, (size_t) cmd.len);
                }
                if (r < 0)
                        return r;
                pos += cmd.len;
        }
        if (ftruncate(fd, (off_t) size) < 0)
                return negative_errno();
        return 0;
}
