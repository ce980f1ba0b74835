/* fuzz-deltagen: the delta generator (core/codec/deltagen.h) checked against what it must agree
 * with. The input describes an old file (pseudo-random pages, zero pages, repeated pages, text)
 * and a new one made from it by edits (copies of the old from any offset, insertions, deletions,
 * zero runs, repeated blocks, truncation, the rest of the old appended), so that a short input
 * makes files of tens of KiB; then the old signature (yb_sig_builder's, or one built by hand with
 * other block and strong lengths), how the new bytes are fed, and where parts are cut. Checked:
 * yb_patch of the delta is the new file, the new signature is yb_sig_builder's, the parts joined
 * patch to the new file and join to the same signature, yb_delta_gen_out_bytes is what was
 * written, the delta does not depend on how the bytes were fed, and a delta yb_delta_in_place
 * accepts rebuilds the new file in place. */
#include <sys/mman.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/codec/delta.h"
#include "core/codec/deltagen.h"
#include "core/codec/inplace.h"
#include "core/codec/sigsum.h"
#include "tests/fuzz/fuzz-common.h"

#define MAX_OLD (96 * 1024)
#define MAX_NEW (5 * 1024 * 1024 / 2)
#define MAX_OPS 48

/* The input, read a field at a time; past its end every field is 0. */
typedef struct In {
        const uint8_t *p;
        size_t left;
} In;

static uint32_t in_u8(In *in) {
        if (in->left == 0)
                return 0;
        in->left--;
        return *in->p++;
}

static uint32_t in_u16(In *in) {
        uint32_t v = in_u8(in);

        return v << 8 | in_u8(in);
}

static uint32_t in_u32(In *in) {
        uint32_t v = in_u16(in);

        return v << 16 | in_u16(in);
}

static uint32_t xorshift(uint32_t *x) {
        *x ^= *x << 13;
        *x ^= *x >> 17;
        *x ^= *x << 5;
        return *x;
}

/* The old file: pages of kinds the input picks. */
static size_t make_old(In *in, uint8_t *old) {
        static const char text[] = "record 042: the quick brown fox jumps over the lazy dog\n";
        uint32_t shape = in_u8(in), x = in_u32(in) | 1;
        size_t n;

        if (shape % 16 == 15)
                n = in_u8(in); /* tiny, maybe empty */
        else
                n = 4096 * (1 + shape % 16) + in_u16(in) % 4096;
        n = MIN(n, (size_t) MAX_OLD);
        for (size_t pg = 0; pg * 4096 < n; pg++) {
                size_t at = pg * 4096, k = MIN((size_t) 4096, n - at);
                uint32_t kind = in_u8(in) % 8;

                if (kind == 0 || (kind == 1 && pg == 0))
                        memset(old + at, 0, k);
                else if (kind == 1)
                        memcpy(old + at, old, k); /* a repeat of the first page */
                else if (kind == 2)
                        for (size_t i = 0; i < k; i++)
                                old[at + i] = (uint8_t) text[(at + i) % (sizeof(text) - 1)];
                else if (kind == 3)
                        memset(old + at, (int) (x & 0xff), k);
                else
                        for (size_t i = 0; i < k; i++)
                                old[at + i] = (uint8_t) xorshift(&x);
        }
        return n;
}

/* The new file: the old one edited. */
static size_t make_new(In *in, const uint8_t *old, size_t old_n, size_t old_block, uint8_t *now) {
        uint32_t ops = in_u8(in) % (MAX_OPS + 1), x = 0x9e3779b9U;
        size_t n = 0, cur = 0;

        for (uint32_t i = 0; i < ops && in->left > 0; i++) {
                uint32_t op = in_u8(in) % 10, a = in_u16(in);
                size_t room = MAX_NEW - n, k;

                switch (op) {
                case 0: /* copy from the cursor */
                        k = MIN(MIN((size_t) a, old_n - cur), room);
                        memcpy(now + n, old + cur, k);
                        n += k;
                        cur += k;
                        break;
                case 1: /* move the cursor anywhere (copies from any offset) */
                        cur = old_n == 0 ? 0 : (size_t) in_u32(in) % (old_n + 1);
                        break;
                case 2: /* delete: skip old bytes */
                        cur += MIN((size_t) a, old_n - cur);
                        break;
                case 3: /* insert bytes of the input */
                        k = MIN(MIN((size_t) a % 128, in->left), room);
                        memcpy(now + n, in->p, k);
                        in->p += k;
                        in->left -= k;
                        n += k;
                        break;
                case 4: /* insert pseudo-random bytes */
                        k = MIN((size_t) a % 9000, room);
                        for (size_t j = 0; j < k; j++)
                                now[n + j] = (uint8_t) xorshift(&x);
                        n += k;
                        break;
                case 5: /* a zero run */
                        k = MIN((size_t) a, room);
                        memset(now + n, 0, k);
                        n += k;
                        break;
                case 6: /* an old block repeated */
                        if (old_n > 0) {
                                size_t at = (size_t) (a % (old_n / 4096 + 1)) * 4096;
                                size_t len = MIN((size_t) 4096, old_n - at);

                                for (uint32_t t = in_u8(in) % 8 + 1; t > 0 && len <= room; t--) {
                                        memcpy(now + n, old + at, len);
                                        n += len;
                                        room -= len;
                                }
                        }
                        break;
                case 7: /* truncate */
                        n = MIN(n, (size_t) in_u32(in) % (MAX_NEW + 1));
                        break;
                case 8: /* new bytes, a quarter of the time over 1 MiB: a literal longer
                         * than the generator holds, its window moved (slow: seldom) */
                        k = a < 0xc000 ? a : ((size_t) a % 16 + 17) * 65536;
                        if (old_block < 512) /* a copy a byte or so: too slow a test */
                                k = MIN(k, (size_t) 65536);
                        k = MIN(k, room);
                        for (size_t j = 0; j < k; j += 4) {
                                uint32_t v = xorshift(&x);

                                memcpy(now + n + j, &v, MIN((size_t) 4, k - j));
                        }
                        n += k;
                        break;
                default: /* the rest of the old file, appended */
                        k = MIN(old_n - cur, room);
                        memcpy(now + n, old + cur, k);
                        n += k;
                        cur += k;
                        break;
                }
        }
        return n;
}

/* The old signature: yb_sig_builder's, or one of other lengths built by hand. Its block length
 * in *ret_block. */
static void make_old_sig(In *in, const uint8_t *old, size_t n, YbBuf *ret, size_t *ret_block) {
        static const size_t blocks[] = {
                1, 7, 100, 512, 1000, 2048, 4096, 4096, 6144, 8192, 16384
        };
        uint32_t how = in_u8(in);

        if (how % 3 != 0) {
                _cleanup_(yb_sig_builder_freep) YbSigBuilder *b = NULL;
                size_t strong;

                FUZZ_CHECK(yb_sig_builder_new(n, &b) >= 0);
                FUZZ_CHECK(yb_sig_builder_feed(b, old, n) >= 0);
                FUZZ_CHECK(yb_sig_builder_finish(b, ret) >= 0);
                yb_sig_params(n, ret_block, &strong);
        } else {
                size_t block = blocks[in_u8(in) % ELEMENTSOF(blocks)];
                /* 4 bytes and up: with the weak sum, no collision by chance */
                size_t strong = 4 + in_u8(in) % (YB_SIG_STRONG_MAX - 3);
                uint8_t head[YB_SIG_HEADER_SIZE], e[4 + YB_SIG_STRONG_MAX];

                yb_sig_header(block, strong, head);
                FUZZ_CHECK(yb_buf_append(ret, head, sizeof(head)) >= 0);
                for (size_t i = 0; i < n; i += block) {
                        size_t k = MIN(block, n - i);

                        yb_sig_entry(old + i, k, yb_sig_weak(old + i, k), e);
                        FUZZ_CHECK(yb_buf_append(ret, e, 4 + strong) >= 0);
                }
                *ret_block = block;
        }
}

static int buf_write(void *userdata, const void *data, size_t n) {
        return yb_buf_append(userdata, data, n);
}

/* One part [start, end) of now's delta, fed chunk bytes a call (0: at once). */
static void gen_part(const YbBuf *old_sig, const uint8_t *now, size_t n, YbDeltaGenPart part,
                     size_t end, size_t chunk, YbBuf *delta, YbBuf *sig) {
        _cleanup_(yb_delta_gen_freep) YbDeltaGen *g = NULL;
        size_t before = delta->size;

        FUZZ_CHECK(yb_delta_gen_new(old_sig->data, old_sig->size, n, part, buf_write, delta, &g) >=
                   0);
        for (size_t at = part.start; at < end;) {
                size_t k = chunk == 0 ? end - at : MIN(chunk, end - at);

                FUZZ_CHECK(yb_delta_gen_feed(g, now + at, k) >= 0);
                at += k;
        }
        FUZZ_CHECK(yb_delta_gen_finish(g, sig) >= 0);
        FUZZ_CHECK(yb_delta_gen_in_bytes(g) == end - part.start);
        FUZZ_CHECK(yb_delta_gen_out_bytes(g) == delta->size - before);
}

static int fd_with(const uint8_t *data, size_t n) {
        int fd = memfd_create("fuzz-deltagen", MFD_CLOEXEC);

        FUZZ_CHECK(fd >= 0);
        FUZZ_CHECK(n == 0 || write(fd, data, n) == (ssize_t) n);
        return fd;
}

/* The delta applied to old, both ways it can be. */
static void check_patch(const uint8_t *old, size_t old_n, const YbBuf *delta, const uint8_t *now,
                        size_t n) {
        _cleanup_(yb_buf_done) YbBuf out = YB_BUF_INIT;
        _cleanup_close_ int fd = fd_with(old, old_n);
        FuzzMemReader m = { .p = delta->data, .left = delta->size };
        uint64_t size = 0;
        int r;

        FUZZ_CHECK(yb_patch(fd, fuzz_mem_read, &m, buf_write, &out) >= 0);
        FUZZ_CHECK(out.size == n && (n == 0 || memcmp(out.data, now, n) == 0));
        r = yb_delta_in_place(delta->data, delta->size, &size);
        FUZZ_CHECK(r >= 0);
        if (r == 1) {
                _cleanup_close_ int ifd = fd_with(old, old_n);
                static uint8_t back[MAX_NEW];

                FUZZ_CHECK(size == n);
                FUZZ_CHECK(yb_patch_in_place(ifd, delta->data, delta->size, NULL, NULL, NULL, 0) >=
                           0);
                FUZZ_CHECK(lseek(ifd, 0, SEEK_END) == (off_t) n);
                FUZZ_CHECK(pread(ifd, back, n, 0) == (ssize_t) n);
                FUZZ_CHECK(n == 0 || memcmp(back, now, n) == 0);
        }
}

static size_t lcm(size_t a, size_t b) {
        size_t x = a, y = b;

        while (y != 0) {
                size_t t = x % y;

                x = y;
                y = t;
        }
        return a / x * b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t old[MAX_OLD], now[MAX_NEW];
        _cleanup_(yb_buf_done) YbBuf old_sig = YB_BUF_INIT, want_sig = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf delta = YB_BUF_INIT, sig = YB_BUF_INIT;
        _cleanup_(yb_buf_done) YbBuf delta1 = YB_BUF_INIT, sig1 = YB_BUF_INIT;
        In in = { .p = data, .left = size };
        size_t old_n, n, old_block, nblock, nstrong, chunk;
        uint32_t cuts;

        fuzz_init();
        old_n = make_old(&in, old);
        make_old_sig(&in, old, old_n, &old_sig, &old_block);
        chunk = 1 + in_u32(&in) % 70000;
        cuts = in_u8(&in);
        n = make_new(&in, old, old_n, old_block, now);
        if (in_u8(&in) % 2 == 1 && n == 0 && old_n > 0) { /* nothing made: the old file, edited */
                n = old_n;
                memcpy(now, old, n);
                now[n / 2] ^= 0x5a;
        }
        yb_sig_params(n, &nblock, &nstrong);

        /* The whole file, fed in chunks, against what the builder and patch make of it. */
        {
                _cleanup_(yb_sig_builder_freep) YbSigBuilder *b = NULL;

                FUZZ_CHECK(yb_sig_builder_new(n, &b) >= 0);
                FUZZ_CHECK(yb_sig_builder_feed(b, now, n) >= 0);
                FUZZ_CHECK(yb_sig_builder_finish(b, &want_sig) >= 0);
        }
        gen_part(&old_sig, now, n, YB_DELTA_GEN_WHOLE, n, chunk, &delta, &sig);
        FUZZ_CHECK(sig.size == want_sig.size && memcmp(sig.data, want_sig.data, sig.size) == 0);
        check_patch(old, old_n, &delta, now, n);

        /* Fed at once: the same delta (where the feeds end must not change what it finds). */
        gen_part(&old_sig, now, n, YB_DELTA_GEN_WHOLE, n, 0, &delta1, &sig1);
        FUZZ_CHECK(delta1.size == delta.size && memcmp(delta1.data, delta.data, delta.size) == 0);
        FUZZ_CHECK(sig1.size == sig.size && memcmp(sig1.data, sig.data, sig.size) == 0);

        /* In up to three parts, cut on both blocks' boundaries. */
        if (cuts % 4 != 0) {
                size_t unit = lcm(old_block, nblock), at[5] = { 0 }, k = 1;
                _cleanup_(yb_buf_done) YbBuf pdelta = YB_BUF_INIT, psig = YB_BUF_INIT;

                for (uint32_t i = 0; i < cuts % 4; i++) {
                        size_t c = (size_t) (in_u16(&in) % (n / unit + 1)) * unit;

                        if (c > at[k - 1] && c < n)
                                at[k++] = c;
                }
                at[k] = n;
                for (size_t i = 0; i < k; i++) {
                        YbDeltaGenPart part = { .start = at[i],
                                                .head = i == 0,
                                                .tail = i == k - 1 };

                        gen_part(&old_sig, now, n, part, at[i + 1], chunk, &pdelta, &psig);
                }
                FUZZ_CHECK(psig.size == sig.size && memcmp(psig.data, sig.data, sig.size) == 0);
                check_patch(old, old_n, &pdelta, now, n);
        }
        return 0;
}
