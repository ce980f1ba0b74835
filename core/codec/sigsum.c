/* The sums of one signature block (see sigsum.h). */
#include "core/codec/sigsum.h"

#include <errno.h>
#include <librsync.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>

#define RK_SEED 1U

void yb_sig_header(size_t block, size_t strong, uint8_t ret[static YB_SIG_HEADER_SIZE]) {
        for (int i = 0; i < 4; i++) {
                ret[i] = (uint8_t) (RS_RK_BLAKE2_SIG_MAGIC >> (24 - 8 * i));
                ret[4 + i] = (uint8_t) (block >> (24 - 8 * i));
                ret[8 + i] = (uint8_t) (strong >> (24 - 8 * i));
        }
}

int yb_sig_shape(const void *sig, size_t n, size_t *ret_block, uint64_t *ret_blocks) {
        const uint8_t *o = sig;
        size_t strong;

        if (!o || n < YB_SIG_HEADER_SIZE || yb_sig_be32(o) != RS_RK_BLAKE2_SIG_MAGIC ||
            yb_sig_be32(o + 4) == 0)
                return -EBADMSG;
        strong = yb_sig_be32(o + 8);
        if (strong == 0 || strong > YB_SIG_STRONG_MAX ||
            (n - YB_SIG_HEADER_SIZE) % (4 + strong) != 0)
                return -EBADMSG;
        *ret_block = yb_sig_be32(o + 4);
        *ret_blocks = (n - YB_SIG_HEADER_SIZE) / (4 + strong);
        return 0;
}

/* librsync's RabinKarp weak sum of x[0..n): SEED * M^n + sum of x[i] * M^(n-1-i), modulo 2^32.
 * Four bytes a step on any CPU; with AVX2, as a dot product of the bytes with a table of M's
 * powers, eight lanes at a time (about three times as fast), a block of up to RK_TABLE bytes a
 * step: h(AB) = h(A) * M^|B| + the sum over B. */
#define RK_TABLE 4096

static uint32_t rk_pow[RK_TABLE]; /* rk_pow[j] = M^(RK_TABLE - 1 - j) */
static bool rk_avx2;
static pthread_once_t rk_once = PTHREAD_ONCE_INIT;

static void rk_init(void) {
        uint32_t m = 1;

        for (size_t j = RK_TABLE; j-- > 0;) {
                rk_pow[j] = m;
                m *= YB_SIG_RK_MULT;
        }
        rk_avx2 = __builtin_cpu_supports("avx2");
}

uint32_t yb_sig_weak_scalar(const uint8_t *p, size_t n) {
        const uint32_t m2 = YB_SIG_RK_MULT * YB_SIG_RK_MULT, m3 = m2 * YB_SIG_RK_MULT,
                       m4 = m3 * YB_SIG_RK_MULT;
        uint32_t h = RK_SEED;
        size_t i = 0;

        for (; i + 4 <= n; i += 4)
                h = h * m4 + p[i] * m3 + p[i + 1] * m2 + p[i + 2] * YB_SIG_RK_MULT + p[i + 3];
        for (; i < n; i++)
                h = h * YB_SIG_RK_MULT + p[i];
        return h;
}

/* Vectorised whatever the build's optimisation level (RelWithDebInfo is -O2, where gcc would
 * not). */
#if defined(__clang__)
#define VECTOR_LOOP _Pragma("clang loop vectorize(enable) interleave(enable)")
#define OPTIMIZE_LOOPS
#else
#define VECTOR_LOOP
#define OPTIMIZE_LOOPS __attribute__((optimize("O3")))
#endif

__attribute__((target("avx2"))) OPTIMIZE_LOOPS static uint32_t
dot_avx2(const uint8_t *restrict p, const uint32_t *restrict t, size_t n) {
        uint32_t h = 0;

        VECTOR_LOOP
        for (size_t i = 0; i < n; i++)
                h += (uint32_t) p[i] * t[i];
        return h;
}

uint32_t yb_sig_weak(const uint8_t *p, size_t n) {
        uint32_t h = RK_SEED;

        (void) pthread_once(&rk_once, rk_init);
        if (!rk_avx2)
                return yb_sig_weak_scalar(p, n);
        while (n > 0) {
                size_t c = n < RK_TABLE ? n : RK_TABLE;

                /* rk_pow[RK_TABLE - c] is M^(c-1) */
                h = h * (rk_pow[RK_TABLE - c] * YB_SIG_RK_MULT) +
                    dot_avx2(p, rk_pow + RK_TABLE - c, c);
                p += c;
                n -= c;
        }
        return h;
}

void yb_sig_entry(const uint8_t *p, size_t n, uint32_t weak,
                  uint8_t ret[static 4 + YB_SIG_STRONG_MAX]) {
        ret[0] = (uint8_t) (weak >> 24);
        ret[1] = (uint8_t) (weak >> 16);
        ret[2] = (uint8_t) (weak >> 8);
        ret[3] = (uint8_t) weak;
        crypto_generichash(ret + 4, YB_SIG_STRONG_MAX, p, n, NULL, 0);
}
