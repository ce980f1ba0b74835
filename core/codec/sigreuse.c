/* A changed file's new librsync signature borrowed from the old one (see sigreuse.h). Two sides
 * fill it: the new content as it is read (yb_sig_reuse_feed: the weak sum of every block, the
 * strong sum only of blocks that differ from the old block at the same offset) and the delta as
 * librsync writes it (yb_sig_reuse_delta: which new blocks it copied whole from which old
 * block). A borrowed block is proven only by the delta's copy, so the weak sum alone never
 * decides. The delta's format: deltafmt.h. */
#include "core/codec/sigreuse.h"

#include <assert.h>
#include <librsync.h>
#include <stdbool.h>
#include <string.h>

#include "core/codec/delta.h"
#include "core/codec/deltafmt.h"
#include "core/codec/sigsum.h"

#define SIG_HEADER YB_SIG_HEADER_SIZE
static_assert(YB_DELTA_MAGIC == RS_DELTA_MAGIC, "deltafmt.h names librsync's magic");
#define STRONG_MAX YB_SIG_STRONG_MAX

struct YbSigReuse {
        /* The old signature's entries: read by both sides, never written. */
        const uint8_t *old;
        size_t old_n, old_stride, block, strong;
        /* The content's side. */
        uint8_t *carry;
        size_t carry_n;
        uint64_t blocks;
        YbBuf entries;
        YbBuf borrowed; /* uint32_t block numbers */
        bool failed;
        /* The delta's side. */
        uint8_t *confirmed; /* per new block: 1 when proven to have the sums it borrowed */
        size_t confirmed_n;
        uint64_t pos;       /* new bytes the delta has accounted for */
        uint64_t zero_from; /* where the run of bytes proven zero that ends at pos began */
        uint8_t zero[4 + STRONG_MAX]; /* the sums of a block of zeros */
        uint8_t head[4], param[16];
        size_t head_n, param_n, param_need;
        uint64_t skip;         /* literal bytes still to pass over */
        uint64_t literal_from; /* where the literal being passed over begins */
        bool literal_zero;     /* and all of the literal's bytes so far were zero */
        uint8_t op;
        bool ended, broken;
};

static uint32_t be32(const uint8_t *p) {
        return (uint32_t) p[0] << 24 | (uint32_t) p[1] << 16 | (uint32_t) p[2] << 8 | p[3];
}

static uint64_t be_n(const uint8_t *p, size_t n) {
        uint64_t v = 0;

        for (size_t i = 0; i < n; i++)
                v = v << 8 | p[i];
        return v;
}

YbSigReuse *yb_sig_reuse_free(YbSigReuse *s) {
        if (!s)
                return NULL;
        free(s->carry);
        yb_buf_done(&s->entries);
        yb_buf_done(&s->borrowed);
        free(s->confirmed);
        free(s);
        return NULL;
}

int yb_sig_reuse_new(const void *old, size_t old_size, uint64_t size, YbSigReuse **ret) {
        size_t block, strong;

        yb_sig_params(size, &block, &strong);
        return yb_sig_reuse_new_params(old, old_size, size, block, strong, ret);
}

int yb_sig_reuse_new_params(const void *old, size_t old_size, uint64_t size, size_t block,
                            size_t strong, YbSigReuse **ret) {
        _cleanup_(yb_sig_reuse_freep) YbSigReuse *s = NULL;
        const uint8_t *o = old;
        size_t old_strong;

        *ret = NULL;
        if (block == 0 || strong == 0 || strong > STRONG_MAX || !o || old_size < SIG_HEADER ||
            be32(o) != RS_RK_BLAKE2_SIG_MAGIC || be32(o + 4) != block)
                return 0;
        old_strong = be32(o + 8);
        if (old_strong < strong || old_strong > STRONG_MAX ||
            (old_size - SIG_HEADER) % (4 + old_strong) != 0)
                return 0;
        s = new0(YbSigReuse, 1);
        if (!s)
                return -ENOMEM;
        s->old = o + SIG_HEADER;
        s->old_stride = 4 + old_strong;
        s->old_n = (old_size - SIG_HEADER) / s->old_stride;
        s->block = block;
        s->strong = strong;
        s->zero_from = UINT64_MAX;
        s->carry = calloc(1, block);
        if (!s->carry || yb_buf_reserve(&s->entries, (size / block + 1) * (4 + strong)) < 0)
                return -ENOMEM;
        yb_sig_entry(s->carry, block, yb_sig_weak(s->carry, block), s->zero);
        *ret = TAKE_PTR(s);
        return 0;
}

static int append_sums(YbSigReuse *s, const uint8_t *p, size_t n, uint32_t weak) {
        uint8_t e[4 + STRONG_MAX];

        yb_sig_entry(p, n, weak, e);
        return yb_buf_append(&s->entries, e, 4 + s->strong);
}

static int one_block(YbSigReuse *s, const uint8_t *p) {
        uint32_t weak = yb_sig_weak(p, s->block), k;
        int r;

        if (s->blocks >= UINT32_MAX)
                return -EFBIG;
        k = (uint32_t) s->blocks++;
        if (k >= s->old_n || be32(s->old + k * s->old_stride) != weak)
                return append_sums(s, p, s->block, weak);
        r = yb_buf_append(&s->entries, s->old + k * s->old_stride, 4 + s->strong);
        return r < 0 ? r : yb_buf_append(&s->borrowed, &k, sizeof(k));
}

int yb_sig_reuse_feed(YbSigReuse *s, const void *data, size_t n) {
        const uint8_t *p = data;
        int r = 0;

        while (n > 0 && r >= 0) {
                if (s->carry_n > 0 || n < s->block) {
                        size_t take = MIN(s->block - s->carry_n, n);

                        memcpy(s->carry + s->carry_n, p, take);
                        s->carry_n += take;
                        p += take;
                        n -= take;
                        if (s->carry_n == s->block) {
                                r = one_block(s, s->carry);
                                s->carry_n = 0;
                        }
                        continue;
                }
                r = one_block(s, p);
                p += s->block;
                n -= s->block;
        }
        if (r < 0)
                s->failed = true;
        return r;
}

static bool entry_is(const YbSigReuse *s, uint64_t j, const uint8_t *entry) {
        return j < s->old_n && memcmp(s->old + j * s->old_stride, entry, 4 + s->strong) == 0;
}

/* Whether old bytes [start, start + len) lie in blocks whose sums are a zero block's. */
static bool old_zero(const YbSigReuse *s, uint64_t start, uint64_t len) {
        for (uint64_t j = start / s->block; j * s->block < start + len; j++)
                if (!entry_is(s, j, s->zero))
                        return false;
        return true;
}

/* Makes room to mark the new blocks that end by new offset end. */
static bool confirmed_reserve(YbSigReuse *s, uint64_t end) {
        size_t want = (size_t) (end / s->block) + 1024;
        uint8_t *c;

        if (end / s->block < s->confirmed_n)
                return true;
        c = realloc(s->confirmed, want);
        if (!c)
                return false;
        memset(c + s->confirmed_n, 0, want - s->confirmed_n);
        s->confirmed = c;
        s->confirmed_n = want;
        return true;
}

/* New bytes [a, e) are proven zero: so are the blocks in the run of zeros they end. Zero blocks
 * all look alike, so librsync may copy them from off their boundaries. */
static void zero_piece(YbSigReuse *s, uint64_t a, uint64_t e) {
        uint64_t b = s->block, k;

        if (s->zero_from == UINT64_MAX)
                s->zero_from = a;
        for (k = MAX((s->zero_from + b - 1) / b, a / b); (k + 1) * b <= e; k++)
                if (entry_is(s, k, s->zero))
                        s->confirmed[k] = 1;
}

/* The delta copies new bytes [pos, pos + len) from old bytes [start, start + len). */
static void delta_copy(YbSigReuse *s, uint64_t start, uint64_t len) {
        uint64_t b = s->block, k = (s->pos + b - 1) / b, end = s->pos + len;

        if (end < s->pos || start + len < start) {
                s->broken = true;
                return;
        }
        if (!confirmed_reserve(s, end)) {
                s->broken = true;
                return;
        }
        /* From block boundaries: new block k is old block j; it borrowed old block k's sums. */
        if (start % b == s->pos % b)
                for (; (k + 1) * b <= end; k++)
                        if (k < s->old_n &&
                            entry_is(s, (start + k * b - s->pos) / b, s->old + k * s->old_stride))
                                s->confirmed[k] = 1;
        if (old_zero(s, start, len))
                zero_piece(s, s->pos, end);
        else
                s->zero_from = UINT64_MAX;
        s->pos = end;
}

/* Acts on the command whose opcode and parameters have been read. */
static void delta_command(YbSigReuse *s) {
        size_t w1, w2;
        uint64_t len;

        if (yb_delta_op(s->op, &w1, &w2) == YB_DELTA_COPY) {
                delta_copy(s, be_n(s->param, w1), be_n(s->param + w1, w2));
                return;
        }
        len = w1 == 0 ? s->op : be_n(s->param, w1);
        if (s->pos + len < s->pos || !confirmed_reserve(s, s->pos + len)) {
                s->broken = true;
                return;
        }
        s->skip = len;
        s->literal_zero = true;
        s->literal_from = s->pos;
        s->pos += len;
        if (len == 0)
                s->zero_from = UINT64_MAX;
}

void yb_sig_reuse_delta(YbSigReuse *s, const void *data, size_t n) {
        const uint8_t *p = data;

        while (n > 0 && !s->broken) {
                if (s->skip > 0) {
                        /* Literal bytes: a run of zeros goes on through them if they are. */
                        size_t take = (size_t) MIN(s->skip, (uint64_t) n);

                        for (size_t i = 0; i < take && s->literal_zero; i++)
                                s->literal_zero = p[i] == 0;
                        s->skip -= take;
                        p += take;
                        n -= take;
                        if (s->skip == 0 && s->literal_zero)
                                zero_piece(s, s->literal_from, s->pos);
                        else if (s->skip == 0)
                                s->zero_from = UINT64_MAX;
                } else if (s->head_n < sizeof(s->head)) {
                        s->head[s->head_n++] = *p++;
                        n--;
                        if (s->head_n == sizeof(s->head) && be32(s->head) != YB_DELTA_MAGIC)
                                s->broken = true;
                } else if (s->ended) {
                        s->broken = true; /* nothing follows the end */
                } else if (s->param_need == 0) {
                        size_t w1, w2;
                        YbDeltaOp kind;

                        s->op = *p++;
                        n--;
                        s->param_n = 0;
                        kind = yb_delta_op(s->op, &w1, &w2);
                        if (kind == YB_DELTA_END)
                                s->ended = true;
                        else if (kind == YB_DELTA_BAD)
                                s->broken = true;
                        else if (w1 + w2 == 0)
                                delta_command(s); /* a literal whose length is its opcode */
                        else
                                s->param_need = w1 + w2;
                } else {
                        s->param[s->param_n++] = *p++;
                        n--;
                        if (s->param_n == s->param_need) {
                                s->param_need = 0;
                                delta_command(s);
                        }
                }
        }
}

int yb_sig_shape(const void *sig, size_t n, size_t *ret_block, uint64_t *ret_blocks) {
        const uint8_t *o = sig;
        size_t strong;

        if (!o || n < SIG_HEADER || be32(o) != RS_RK_BLAKE2_SIG_MAGIC || be32(o + 4) == 0)
                return -EBADMSG;
        strong = be32(o + 8);
        if (strong == 0 || strong > STRONG_MAX || (n - SIG_HEADER) % (4 + strong) != 0)
                return -EBADMSG;
        *ret_block = be32(o + 4);
        *ret_blocks = (n - SIG_HEADER) / (4 + strong);
        return 0;
}

uint32_t yb_sig_weak_at(const void *sig, size_t n, uint64_t k) {
        const uint8_t *o = sig;
        size_t stride = 4 + be32(o + 8);

        assert(n >= SIG_HEADER + (k + 1) * stride);
        return be32(o + SIG_HEADER + k * stride);
}

int yb_sig_reuse_finish(YbSigReuse *s, YbBuf *out) {
        const uint32_t *borrowed = (const uint32_t *) s->borrowed.data;
        uint64_t total = s->blocks * s->block + s->carry_n;
        uint8_t head[SIG_HEADER];
        int r;

        if (s->failed)
                return -EINVAL;
        /* A delta that is not whole, or not of as many bytes, proves nothing. */
        if (s->broken || !s->ended || s->pos != total)
                return 0;
        for (size_t i = 0; i < s->borrowed.size / sizeof(uint32_t); i++)
                if (borrowed[i] >= s->confirmed_n || !s->confirmed[borrowed[i]])
                        return 0;
        if (s->carry_n > 0) {
                r = append_sums(s, s->carry, s->carry_n, yb_sig_weak(s->carry, s->carry_n));
                if (r < 0)
                        return r;
                s->carry_n = 0;
        }
        yb_sig_header(s->block, s->strong, head);
        r = yb_buf_append(out, head, sizeof(head));
        if (r >= 0)
                r = yb_buf_append(out, s->entries.data, s->entries.size);
        return r < 0 ? r : 1;
}
