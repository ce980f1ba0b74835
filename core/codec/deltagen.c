/* A delta and the new signature in one pass (deltagen.h). */
#include "core/codec/deltagen.h"

#include <sodium.h>
#include <string.h>

#include "core/codec/delta.h"
#include "core/codec/deltafmt.h"
#include "core/codec/sigsum.h"

#define OUT_SIZE (64 * 1024)
/* How much input the window keeps beyond a block, and the longest literal held before it is
 * written out (a file that changed throughout is all literal). */
#define WINDOW_CHUNK (1024 * 1024)

/* The old signature, indexed: its blocks sorted by weak sum, then strong sum, then index; a
 * table from each weak sum to its run; and a bitmap over the weak sums that answers most misses
 * of the rolling search with one load. */
typedef struct OldSig {
        const uint8_t *entries; /* the signature's, borrowed: stride bytes a block */
        size_t block, strong, stride;
        uint32_t n;
        uint32_t *sorted;    /* block indices */
        uint32_t *slot_weak; /* the table: weak sum, and run start + 1 (0: empty) */
        uint32_t *slot_run;
        uint32_t mask;
        uint64_t *bloom;
        unsigned bloom_shift;
} OldSig;

struct YbDeltaGen {
        OldSig old;
        YbDeltaGenPart part;
        size_t nblock, nstrong; /* the new signature's lengths */
        bool shared;            /* the old and new blocks are as long: one sum serves both */
        YbWriteFn write_fn;
        void *userdata;
        /* The window: the part's bytes [base, base + len) in buf. */
        uint8_t *buf;
        size_t cap, len;
        uint64_t base;
        /* The search: at p (part-relative), with the weak sum of [p, p + block) when have_weak,
         * and its strong sum when have_strong; the literal pending from lit. */
        uint64_t p, lit;
        uint32_t weak;
        bool have_weak, have_strong;
        bool tried; /* p was searched and the window ended: roll on when more comes */
        uint8_t strong[YB_SIG_STRONG_MAX];
        uint32_t mult; /* YB_SIG_RK_MULT to the block length, to roll a byte out */
        /* A copy pending, to be extended by the next block when it follows on. */
        uint64_t copy_start, copy_len;
        /* The new signature: its entries, and the next block to sum. */
        YbBuf sig;
        uint64_t sig_next;
        /* Output. */
        uint8_t out[OUT_SIZE];
        size_t out_n;
        uint64_t in_bytes, out_bytes;
        bool finished;
};

static int block_cmp(const void *a, const void *b, void *userdata) {
        const OldSig *o = userdata;
        uint32_t i = *(const uint32_t *) a, j = *(const uint32_t *) b;
        const uint8_t *x = o->entries + (size_t) i * o->stride,
                      *y = o->entries + (size_t) j * o->stride;
        int c = memcmp(x, y, o->stride); /* big-endian weak, then strong: ordered alike */

        return c != 0 ? c : (i > j) - (i < j);
}

static uint32_t weak_of(const OldSig *o, uint32_t i) {
        return yb_sig_be32(o->entries + (size_t) i * o->stride);
}

static uint32_t slot_of(uint32_t weak, uint32_t mask) {
        return (weak * 0x9E3779B1U) >> 7 & mask;
}

static bool bloom_has(const OldSig *o, uint32_t weak) {
        uint32_t h = weak * 0x85EBCA6BU >> o->bloom_shift;

        return o->bloom[h >> 6] >> (h & 63) & 1;
}

static void old_sig_done(OldSig *o) {
        free(o->sorted);
        free(o->slot_weak);
        free(o->slot_run);
        free(o->bloom);
        *o = (OldSig){ 0 };
}

static int old_sig_load(OldSig *o, const uint8_t *sig, size_t n) {
        size_t slots = 16, bits;
        int r = -ENOMEM;

        if (n < YB_SIG_HEADER_SIZE)
                return -EBADMSG;
        {
                uint8_t head[YB_SIG_HEADER_SIZE];

                o->block = yb_sig_be32(sig + 4);
                o->strong = yb_sig_be32(sig + 8);
                if (o->block == 0 || o->block > YB_SIG_BLOCK_MAX || o->strong == 0 ||
                    o->strong > YB_SIG_STRONG_MAX)
                        return -EBADMSG;
                yb_sig_header(o->block, o->strong, head);
                if (memcmp(head, sig, 4) != 0)
                        return -EBADMSG; /* not RS_RK_BLAKE2_SIG_MAGIC */
        }
        o->stride = 4 + o->strong;
        if ((n - YB_SIG_HEADER_SIZE) % o->stride != 0 ||
            (n - YB_SIG_HEADER_SIZE) / o->stride >= UINT32_MAX / 4)
                return -EBADMSG;
        o->entries = sig + YB_SIG_HEADER_SIZE;
        o->n = (uint32_t) ((n - YB_SIG_HEADER_SIZE) / o->stride);
        while (slots < 2 * (size_t) o->n)
                slots *= 2;
        o->mask = (uint32_t) (slots - 1);
        /* At most 2^32 bits, all a weak sum has (more signature blocks than 2^28 made the shift
         * below negative). */
        for (bits = 0; bits < 32 && ((size_t) 1 << bits) < slots * 8; bits++)
                ;
        o->bloom_shift = (unsigned) (32 - bits);
        o->sorted = new0(uint32_t, MAX(o->n, 1U));
        o->slot_weak = new0(uint32_t, slots);
        o->slot_run = new0(uint32_t, slots);
        o->bloom = new0(uint64_t, MAX(((size_t) 1 << bits) / 64, (size_t) 1));
        if (!o->sorted || !o->slot_weak || !o->slot_run || !o->bloom)
                goto fail;
        for (uint32_t i = 0; i < o->n; i++)
                o->sorted[i] = i;
        qsort_r(o->sorted, o->n, sizeof(uint32_t), block_cmp, o);
        for (uint32_t k = 0; k < o->n; k++) {
                uint32_t w = weak_of(o, o->sorted[k]), s, h;

                if (k > 0 && weak_of(o, o->sorted[k - 1]) == w)
                        continue; /* the run's start is in the table already */
                for (s = slot_of(w, o->mask); o->slot_run[s] != 0; s = (s + 1) & o->mask)
                        ;
                o->slot_weak[s] = w;
                o->slot_run[s] = k + 1;
                h = w * 0x85EBCA6BU >> o->bloom_shift;
                o->bloom[h >> 6] |= (uint64_t) 1 << (h & 63);
        }
        return 0;
fail:
        old_sig_done(o);
        return r;
}

/* The first entry of the run of blocks whose weak sum is weak, or UINT32_MAX. */
static uint32_t old_sig_run(const OldSig *o, uint32_t weak) {
        if (!bloom_has(o, weak))
                return UINT32_MAX;
        for (uint32_t s = slot_of(weak, o->mask); o->slot_run[s] != 0; s = (s + 1) & o->mask)
                if (o->slot_weak[s] == weak)
                        return o->slot_run[s] - 1;
        return UINT32_MAX;
}

/* Where sorted entry k stands against key (a weak sum, big-endian, then a strong sum). */
static int entry_cmp(const OldSig *o, uint32_t k, const uint8_t *key) {
        return memcmp(o->entries + (size_t) o->sorted[k] * o->stride, key, o->stride);
}

/* The first sorted entry from lo on that is above key (past, or with past_equal at or past,
 * it): a gallop from lo, then a binary search in the last step, so that the usual run of one
 * block costs a compare or two and a group of thousands (a file's zero pages) a few dozen. */
static uint32_t past_key(const OldSig *o, uint32_t lo, const uint8_t *key, bool past_equal) {
#define BEFORE(i) (past_equal ? entry_cmp(o, i, key) <= 0 : entry_cmp(o, i, key) < 0)
        uint32_t hi = o->n;

        if (lo >= o->n || !BEFORE(lo))
                return lo;
        for (uint64_t step = 1;; step *= 2) {
                if (lo + step >= o->n)
                        break;
                if (!BEFORE(lo + step)) {
                        hi = (uint32_t) (lo + step);
                        break;
                }
                lo = (uint32_t) (lo + step);
        }
        /* BEFORE(lo) holds, and not at hi (or hi is the end): the answer is in (lo, hi]. */
        for (lo++; lo < hi;) {
                uint32_t mid = lo + (hi - lo) / 2;

                if (BEFORE(mid))
                        lo = mid + 1;
                else
                        hi = mid;
        }
        return lo;
#undef BEFORE
}

/* Among the blocks of the run from k whose strong sum starts as strong does, the one to copy:
 * want1 if it is one, else want2, else the first; UINT32_MAX when none matches. Searches all
 * (past_key, then a binary search): a file of zeros has one group of all its blocks. */
static uint32_t old_sig_pick(const OldSig *o, uint32_t k, uint32_t weak, const uint8_t *strong,
                             uint64_t want1, uint64_t want2) {
        uint8_t key[4 + YB_SIG_STRONG_MAX];
        uint32_t lo, hi, end;

        key[0] = (uint8_t) (weak >> 24);
        key[1] = (uint8_t) (weak >> 16);
        key[2] = (uint8_t) (weak >> 8);
        key[3] = (uint8_t) weak;
        memcpy(key + 4, strong, o->strong);
        /* The group's start: the first entry not below the key (the run is ordered by strong
         * sum, and the runs by weak sum, so nothing before k is); its end, the first above. */
        k = past_key(o, k, key, false);
        if (k >= o->n || entry_cmp(o, k, key) != 0)
                return UINT32_MAX;
        end = past_key(o, k, key, true);
        /* In the group, ordered by index: a binary search for each wish. */
        for (int i = 0; i < 2; i++) {
                uint64_t want = i == 0 ? want1 : want2;

                if (want >= o->n)
                        continue;
                for (lo = k, hi = end; lo < hi;) {
                        uint32_t mid = lo + (hi - lo) / 2;

                        if (o->sorted[mid] < want)
                                lo = mid + 1;
                        else
                                hi = mid;
                }
                if (lo < end && o->sorted[lo] == want)
                        return (uint32_t) want;
        }
        return o->sorted[k];
}

static int flush_out(YbDeltaGen *g) {
        int r = 0;

        if (g->out_n > 0)
                r = g->write_fn(g->userdata, g->out, g->out_n);
        g->out_n = 0;
        return r;
}

static int emit(YbDeltaGen *g, const void *data, size_t n) {
        g->out_bytes += n;
        if (g->out_n + n > OUT_SIZE) {
                int r = flush_out(g);

                if (r < 0)
                        return r;
                if (n > OUT_SIZE / 2)
                        return g->write_fn(g->userdata, data, n);
        }
        memcpy(g->out + g->out_n, data, n);
        g->out_n += n;
        return 0;
}

/* The width index (0-3 for 1, 2, 4, 8 bytes) an unsigned value needs. */
static unsigned width_of(uint64_t v) {
        return v <= 0xff ? 0 : v <= 0xffff ? 1 : v <= 0xffffffffU ? 2 : 3;
}

static size_t put_be(uint8_t *p, uint64_t v, unsigned w) {
        size_t n = (size_t) 1 << w;

        for (size_t i = 0; i < n; i++)
                p[i] = (uint8_t) (v >> (8 * (n - 1 - i)));
        return n;
}

static int emit_copy(YbDeltaGen *g) {
        uint8_t cmd[17];
        unsigned ws, wl;
        size_t k = 1;

        if (g->copy_len == 0)
                return 0;
        ws = width_of(g->copy_start);
        wl = width_of(g->copy_len);
        cmd[0] = (uint8_t) (YB_DELTA_OP_COPY_N1_N1 + 4 * ws + wl);
        k += put_be(cmd + k, g->copy_start, ws);
        k += put_be(cmd + k, g->copy_len, wl);
        g->copy_len = 0;
        return emit(g, cmd, k);
}

/* Writes the literal [lit, to) of the window, after the pending copy. */
static int emit_literal(YbDeltaGen *g, uint64_t to) {
        uint64_t n = to - g->lit;
        uint8_t cmd[9];
        size_t k = 1;
        int r;

        if (n == 0)
                return 0;
        r = emit_copy(g);
        if (r < 0)
                return r;
        if (n <= YB_DELTA_OP_LITERAL_MAX)
                cmd[0] = (uint8_t) n;
        else {
                unsigned w = width_of(n);

                cmd[0] = (uint8_t) (YB_DELTA_OP_LITERAL_N1 + w);
                k += put_be(cmd + k, n, w);
        }
        r = emit(g, cmd, k);
        if (r >= 0)
                r = emit(g, g->buf + (g->lit - g->base), (size_t) n);
        g->lit = to;
        return r;
}

static int add_copy(YbDeltaGen *g, uint64_t start, uint64_t len) {
        int r;

        if (g->copy_len > 0 && g->copy_start + g->copy_len == start) {
                g->copy_len += len;
                return 0;
        }
        r = emit_copy(g);
        g->copy_start = start;
        g->copy_len = len;
        return r;
}

/* Sums the new block k (part-relative) into the signature; its strong sum into ret_strong. */
static int sig_block(YbDeltaGen *g, uint64_t k, size_t n, uint32_t weak,
                     uint8_t ret_strong[YB_SIG_STRONG_MAX]) {
        uint8_t e[4 + YB_SIG_STRONG_MAX];

        yb_sig_entry(g->buf + (k * g->nblock - g->base), n, weak, e);
        if (ret_strong)
                memcpy(ret_strong, e + 4, YB_SIG_STRONG_MAX);
        return yb_buf_append(&g->sig, e, 4 + g->nstrong);
}

/* Sums the new blocks that start before the search's position and are whole in the window (or
 * end the part, at its end). */
static int sig_catch_up(YbDeltaGen *g, uint64_t upto, bool at_end) {
        uint64_t end = g->base + g->len;

        while (g->sig_next * g->nblock < upto) {
                uint64_t from = g->sig_next * g->nblock;
                size_t n = (size_t) MIN((uint64_t) g->nblock, end - from);
                int r;

                if (n < g->nblock && !at_end)
                        break;
                r = sig_block(g, g->sig_next, n, yb_sig_weak(g->buf + (from - g->base), n), NULL);
                if (r < 0)
                        return r;
                g->sig_next++;
        }
        return 0;
}

/* Looks for the old block at p. 1 and a copy made when found. */
static int try_match(YbDeltaGen *g, size_t wlen) {
        const OldSig *o = &g->old;
        uint64_t abs = g->part.start + g->p, want1 = UINT64_MAX;
        uint32_t k = old_sig_run(o, g->weak), j;
        int r;

        if (k == UINT32_MAX)
                return 0;
        if (!g->have_strong) {
                crypto_generichash(g->strong, YB_SIG_STRONG_MAX, g->buf + (g->p - g->base), wlen,
                                   NULL, 0);
                g->have_strong = true;
        }
        if (g->copy_len > 0 && g->lit == g->p)
                want1 = (g->copy_start + g->copy_len) / o->block;
        j = old_sig_pick(o, k, g->weak, g->strong, want1,
                         abs % o->block == 0 ? abs / o->block : UINT64_MAX);
        if (j == UINT32_MAX)
                return 0;
        /* A block shorter than the old one matches only the old file's last, as short. */
        if (wlen < o->block && j != o->n - 1)
                return 0;
        r = emit_literal(g, g->p);
        if (r >= 0)
                r = add_copy(g, (uint64_t) j * o->block, wlen);
        return r < 0 ? r : 1;
}

/* Searches the window up to where a whole block still fits (or to its end, at the end). */
static int search(YbDeltaGen *g, bool at_end) {
        const size_t B = g->old.block;
        uint64_t end = g->base + g->len;
        int r;

        while (g->p + B <= end) {
                const uint8_t *w = g->buf + (g->p - g->base);

                if (g->tried)
                        goto roll;
                r = sig_catch_up(g, g->p, false);
                if (r < 0)
                        return r;
                if (!g->have_weak) {
                        g->have_strong = false;
                        if (g->shared && g->p == g->sig_next * g->nblock) {
                                /* One sum for both: the new signature's block is the window. */
                                g->weak = yb_sig_weak(w, B);
                                r = sig_block(g, g->sig_next++, B, g->weak, g->strong);
                                if (r < 0)
                                        return r;
                                g->have_strong = true;
                        } else
                                g->weak = yb_sig_weak(w, B);
                        g->have_weak = true;
                }
                r = try_match(g, B);
                if (r < 0)
                        return r;
                if (r > 0) {
                        g->p += B;
                        g->lit = g->p;
                        g->have_weak = false;
                        continue;
                }
                /* Roll on while nothing can match: most bytes of a changed region take only
                 * this loop. It stops where the signature wants a block summed, at a weak sum
                 * the old file may have, and where the literal grows long. */
        roll:
                g->have_strong = false;
                g->tried = false;
                if (g->p + B >= end && !at_end) {
                        /* The byte to roll in is not here yet: keep the sum (summing the next
                         * window afresh at each feed cost a block's length a feed). */
                        g->tried = true;
                        break;
                }
                if (g->p + B >= end) {
                        g->have_weak = false;
                        g->p++;
                } else {
                        uint64_t stop = MIN(end - B, g->lit + WINDOW_CHUNK);
                        uint32_t weak = g->weak;
                        uint64_t p = g->p;

                        if (g->shared)
                                stop = MIN(stop, g->sig_next * g->nblock);
                        w = g->buf + (p - g->base);
                        do {
                                weak = weak * YB_SIG_RK_MULT + w[B] -
                                       g->mult * (w[0] + YB_SIG_RK_MULT - 1);
                                w++;
                                p++;
                        } while (p < stop && !bloom_has(&g->old, weak));
                        g->weak = weak;
                        g->p = p;
                }
                if (g->p - g->lit >= WINDOW_CHUNK) {
                        r = emit_literal(g, g->p);
                        if (r < 0)
                                return r;
                }
                if (g->shared && g->p == g->sig_next * g->nblock)
                        g->have_weak = false; /* to sum the block here for the signature too */
        }
        if (!at_end)
                return 0;
        /* The part's last bytes, shorter than a block: the old file's last block if they are
         * it, else a literal. */
        if (g->part.tail && g->p < end) {
                size_t n = (size_t) (end - g->p);

                g->weak = yb_sig_weak(g->buf + (g->p - g->base), n);
                g->have_strong = false;
                r = try_match(g, n);
                if (r < 0)
                        return r;
                if (r > 0)
                        g->lit = g->p = end;
        }
        g->p = end;
        return emit_literal(g, end);
}

/* Makes room for n more bytes, dropping what the search, the literal and the signature are done
 * with. */
static int window_make_room(YbDeltaGen *g, size_t n) {
        uint64_t keep = MIN(MIN(g->p, g->lit), g->sig_next * g->nblock);
        size_t drop, need;

        keep = MAX(keep, g->base);
        drop = (size_t) (keep - g->base);
        if (drop > 0 && g->len + n > g->cap) {
                memmove(g->buf, g->buf + drop, g->len - drop);
                g->len -= drop;
                g->base = keep;
        }
        need = g->len + n;
        if (need > g->cap) {
                size_t cap = MAX(need, g->cap * 2);
                uint8_t *b = realloc(g->buf, cap);

                if (!b)
                        return -ENOMEM;
                g->buf = b;
                g->cap = cap;
        }
        return 0;
}

YbDeltaGen *yb_delta_gen_free(YbDeltaGen *g) {
        if (!g)
                return NULL;
        old_sig_done(&g->old);
        free(g->buf);
        yb_buf_done(&g->sig);
        free(g);
        return NULL;
}

int yb_delta_gen_new(const void *old_sig, size_t old_size, uint64_t size, YbDeltaGenPart part,
                     YbWriteFn write_fn, void *userdata, YbDeltaGen **ret) {
        _cleanup_(yb_delta_gen_freep) YbDeltaGen *g = new0(YbDeltaGen, 1);
        int r;

        if (!g)
                return -ENOMEM;
        r = old_sig_load(&g->old, old_sig, old_size);
        if (r < 0)
                return r;
        yb_sig_params(size, &g->nblock, &g->nstrong);
        if (g->nstrong > YB_SIG_STRONG_MAX || part.start % g->nblock != 0 ||
            part.start % g->old.block != 0)
                return -EINVAL;
        g->part = part;
        g->shared = g->nblock == g->old.block;
        g->write_fn = write_fn;
        g->userdata = userdata;
        g->base = g->p = g->lit = 0;
        /* YB_SIG_RK_MULT to the block length, by squaring: blocks may be 1 GiB long. */
        g->mult = 1;
        for (uint32_t m = YB_SIG_RK_MULT, e = (uint32_t) g->old.block; e > 0; m *= m, e >>= 1)
                if (e & 1)
                        g->mult *= m;
        /* The window grows as it must (window_make_room): an old block of up to 1 GiB is not
         * allocated twice over before a byte is given. */
        g->cap = WINDOW_CHUNK + 2 * MAX(MIN(g->old.block, (size_t) WINDOW_CHUNK), g->nblock);
        g->buf = malloc(g->cap);
        if (!g->buf)
                return -ENOMEM;
        if (part.head) {
                uint8_t magic[YB_DELTA_MAGIC_SIZE] = { (uint8_t) (YB_DELTA_MAGIC >> 24),
                                                       (uint8_t) (YB_DELTA_MAGIC >> 16),
                                                       (uint8_t) (YB_DELTA_MAGIC >> 8),
                                                       (uint8_t) YB_DELTA_MAGIC };

                r = emit(g, magic, sizeof(magic));
                if (r < 0)
                        return r;
        }
        *ret = TAKE_PTR(g);
        return 0;
}

int yb_delta_gen_feed(YbDeltaGen *g, const void *data, size_t n) {
        const uint8_t *p = data;

        g->in_bytes += n;
        while (n > 0) {
                size_t take = MIN(n, (size_t) WINDOW_CHUNK);
                int r = window_make_room(g, take);

                if (r < 0)
                        return r;
                memcpy(g->buf + g->len, p, take);
                g->len += take;
                p += take;
                n -= take;
                r = search(g, false);
                if (r < 0)
                        return r;
        }
        return 0;
}

int yb_delta_gen_finish(YbDeltaGen *g, YbBuf *sig) {
        uint64_t end = g->base + g->len;
        int r;

        if (g->finished)
                return -EINVAL;
        g->finished = true;
        if (!g->part.tail && end % g->nblock != 0)
                return -EINVAL;
        r = search(g, true);
        if (r >= 0)
                r = emit_copy(g);
        if (r >= 0)
                r = sig_catch_up(g, end, true);
        if (r >= 0 && g->part.tail) {
                uint8_t e = YB_DELTA_OP_END;

                r = emit(g, &e, 1);
        }
        if (r >= 0)
                r = flush_out(g);
        if (r < 0)
                return r;
        if (g->part.head) {
                uint8_t head[YB_SIG_HEADER_SIZE];

                yb_sig_header(g->nblock, g->nstrong, head);
                r = yb_buf_append(sig, head, sizeof(head));
                if (r < 0)
                        return r;
        }
        return yb_buf_append(sig, g->sig.data, g->sig.size);
}

uint64_t yb_delta_gen_in_bytes(const YbDeltaGen *g) {
        return g->in_bytes;
}

uint64_t yb_delta_gen_out_bytes(const YbDeltaGen *g) {
        return g->out_bytes + (g->p - g->lit); /* the literal pending is as good as made */
}
