/* bench/limits/stages.c: what each stage of yunbak's data path costs on the corpus, alone, with
 * the bytes it really gets. Every regular file under DIR is read into memory in batches of
 * 128 MiB (the read is not counted); each stage then runs over the batch, timed on its own (wall
 * and the process's CPU, which counts zstd's worker threads):
 *
 *   blake2b_sodium   BLAKE2b-256 of each file (libsodium crypto_generichash), 1 MiB updates
 *   blake2b_libb2    the same with libb2 (same digest; librsync's BLAKE2 implementation)
 *   sha256_evp       SHA-256 of each file through OpenSSL's EVP (SHA-NI where the CPU has it)
 *   rsync_sig        librsync signature of each file >= 64 KiB, yunbak's parameters
 *   libb2_4k         libb2 BLAKE2b-256 of every 4 KiB block of those files (the strong sums)
 *   zstd_l{1,3}_w{0,2}  one zstd stream over everything at level 1 or 3, nbWorkers 0 or 2
 *   seal             XChaCha20-Poly1305 secretstream, 64 KiB messages, over the level-2 output
 *   blake2b_stored   BLAKE2b-256 of the sealed bytes (the stored-file hash of key-less verify)
 *   open             secretstream pull of those messages
 *   zstd_d           zstd -d of the level-2 stream
 *   zstd_l2_w0       level 2, one thread: yunbak's default, whose output the four above take
 *   sig_sodium       the signature as yunbak makes it since issue 16 (core/codec/sigsum.c):
 *                    RabinKarp weak sum and libsodium BLAKE2b-256 of each 4 KiB block
 *
 * Prints one line per stage: name, bytes in, bytes out, wall seconds, CPU seconds.
 *   usage: stages DIR
 * Build (from the repository root): cc -O2 -I. -o stages bench/limits/stages.c -lsodium -lb2
 * -lcrypto -lrsync -lzstd */
#define _GNU_SOURCE
#include <blake2.h>
#include <fcntl.h>
#include <ftw.h>
#include <librsync.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "bench/limits/clock.h"

#define BATCH (128u << 20)
#define UPDATE (1u << 20)
#define MSG (64u << 10)
#define SIG_MIN (64u << 10)

typedef struct Piece {
        size_t off, len;
        unsigned long long fsize;
        int first, last;
} Piece;

enum {
        S_B2S,
        S_B2L,
        S_SHA,
        S_SIG,
        S_B4K,
        S_Z1W0,
        S_Z3W0,
        S_Z1W2,
        S_Z3W2,
        S_Z2W0,
        S_SEAL,
        S_B2STORED,
        S_OPEN,
        S_ZD,
        S_SIGS,
        S_N
};
static const char *NAMES[S_N] = { "blake2b_sodium", "blake2b_libb2", "sha256_evp", "rsync_sig",
                                  "libb2_4k",       "zstd_l1_w0",    "zstd_l3_w0", "zstd_l1_w2",
                                  "zstd_l3_w2",     "zstd_l2_w0",    "seal",       "blake2b_stored",
                                  "open",           "zstd_d",        "sig_sodium" };
static double wall[S_N], cpu[S_N];
static unsigned long long in[S_N], out[S_N];

static unsigned char *batch, *zbuf, *sbuf, *obuf;
static size_t fill, zfill, sfill;
static Piece *pieces;
static size_t n_pieces, alloc_pieces;

static void die(const char *what) {
        fprintf(stderr, "stages: %s failed\n", what);
        exit(1);
}

/* Per-stage state of the file being hashed: files are processed in order, one at a time. */
static crypto_generichash_state b2s;
static blake2b_state b2l;
static EVP_MD_CTX *sha;
static rs_job_t *sigjob;
static ZSTD_CCtx *zc[5];
static const int ZLEVEL[5] = { 1, 3, 1, 3, 2 }, ZWORKERS[5] = { 0, 0, 2, 2, 0 };
#define Z_STORED 4 /* the stream sealed, stored and read back: level 2 */
static ZSTD_DCtx *zd;
static crypto_secretstream_xchacha20poly1305_state push, pull;
static crypto_generichash_state stored;
static unsigned char scratch[256 << 10];

static void hash_sodium(const Piece *p) {
        const unsigned char *d = batch + p->off;
        unsigned char h[32];
        if (p->first)
                crypto_generichash_init(&b2s, NULL, 0, 32);
        for (size_t o = 0; o < p->len; o += UPDATE)
                crypto_generichash_update(&b2s, d + o, p->len - o < UPDATE ? p->len - o : UPDATE);
        if (p->last)
                crypto_generichash_final(&b2s, h, 32);
}
static void hash_libb2(const Piece *p) {
        const unsigned char *d = batch + p->off;
        unsigned char h[32];
        if (p->first)
                blake2b_init(&b2l, 32);
        for (size_t o = 0; o < p->len; o += UPDATE)
                blake2b_update(&b2l, d + o, p->len - o < UPDATE ? p->len - o : UPDATE);
        if (p->last)
                blake2b_final(&b2l, h, 32);
}
static void hash_sha(const Piece *p) {
        const unsigned char *d = batch + p->off;
        unsigned char h[32];
        if (p->first && !EVP_DigestInit_ex(sha, EVP_sha256(), NULL))
                die("EVP_DigestInit_ex");
        for (size_t o = 0; o < p->len; o += UPDATE)
                EVP_DigestUpdate(sha, d + o, p->len - o < UPDATE ? p->len - o : UPDATE);
        if (p->last)
                EVP_DigestFinal_ex(sha, h, NULL);
}
/* As core/codec/delta.c's yb_sig_params. */
static void sig_params(unsigned long long size, size_t *block, size_t *strong) {
        rs_magic_number magic = RS_RK_BLAKE2_SIG_MAGIC;
        *block = 4096;
        *strong = (size_t) -1;
        while (size / *block > 256 * 1024 && *block < 1024 * 1024)
                *block *= 2;
        (void) rs_sig_args((rs_long_t) size, &magic, block, strong);
}
static int sig(const Piece *p) {
        if (p->fsize < SIG_MIN)
                return 0;
        if (p->first) {
                size_t block, strong;
                sig_params(p->fsize, &block, &strong);
                sigjob = rs_sig_begin(block, strong, RS_RK_BLAKE2_SIG_MAGIC);
        }
        rs_buffers_t b = { .next_in = (char *) batch + p->off,
                           .avail_in = p->len,
                           .eof_in = p->last };
        for (;;) {
                b.next_out = (char *) scratch;
                b.avail_out = sizeof scratch;
                rs_result r = rs_job_iter(sigjob, &b);
                out[S_SIG] += sizeof scratch - b.avail_out;
                if (r == RS_DONE)
                        break;
                if (r != RS_BLOCKED)
                        die("rs_job_iter");
                if (b.avail_in == 0 && !p->last && b.avail_out > 0)
                        break;
        }
        if (p->last) {
                rs_job_free(sigjob);
                sigjob = NULL;
        }
        return 1;
}
/* librsync's strong sums: a one-shot BLAKE2b of each block (the tail block too). */
static int blocks4k(const Piece *p) {
        unsigned char h[32];
        if (p->fsize < SIG_MIN)
                return 0;
        /* A file cut by a batch's end gets one short block more than librsync would: a few in
         * 1.5 GiB. */
        for (size_t o = 0; o < p->len; o += 4096)
                blake2b(h, batch + p->off + o, NULL, 32, p->len - o < 4096 ? p->len - o : 4096, 0);
        return 1;
}
/* The signature as yunbak makes it (core/codec/sigsum.c): weak and strong sums of each 4 KiB
 * block (the tail block too), the strong one with libsodium, the weak one as a dot product of
 * the bytes with the multiplier's powers (AVX2 where the CPU has it, as sigsum.c). */
static uint32_t rk_pow[4096]; /* rk_pow[j] = M^(4095 - j) */
__attribute__((target("avx2"), optimize("O3"))) static uint32_t
dot_avx2(const unsigned char *restrict p, const uint32_t *restrict t, size_t n) {
        uint32_t h = 0;
        for (size_t i = 0; i < n; i++)
                h += (uint32_t) p[i] * t[i];
        return h;
}
static int sig_sodium(const Piece *p) {
        unsigned char h[32];
        const uint32_t m = 0x08104225U, m2 = m * m, m3 = m2 * m, m4 = m3 * m;
        static volatile uint32_t sink;
        static int avx2 = -1;
        if (avx2 < 0) {
                uint32_t x = 1;
                for (int j = 4095; j >= 0; j--, x *= m)
                        rk_pow[j] = x;
                avx2 = __builtin_cpu_supports("avx2");
        }
        if (p->fsize < SIG_MIN)
                return 0;
        for (size_t o = 0; o < p->len; o += 4096) {
                const unsigned char *b = batch + p->off + o;
                size_t n = p->len - o < 4096 ? p->len - o : 4096, i = 0;
                uint32_t w = 1;
                if (avx2)
                        w = rk_pow[4096 - n] * m + dot_avx2(b, rk_pow + 4096 - n, n);
                else {
                        for (; i + 4 <= n; i += 4)
                                w = w * m4 + b[i] * m3 + b[i + 1] * m2 + b[i + 2] * m + b[i + 3];
                        for (; i < n; i++)
                                w = w * m + b[i];
                }
                sink = w;
                crypto_generichash(h, 32, b, n, NULL, 0);
        }
        return 1;
}
static void zfeed(int i, const unsigned char *d, size_t n, ZSTD_EndDirective how,
                  unsigned char *dst, size_t *dst_fill) {
        ZSTD_inBuffer ib = { d, n, 0 };
        for (;;) {
                ZSTD_outBuffer ob = { scratch, sizeof scratch, 0 };
                size_t rem = ZSTD_compressStream2(zc[i], &ob, &ib, how);
                if (ZSTD_isError(rem))
                        die("ZSTD_compressStream2");
                if (dst) {
                        memcpy(dst + *dst_fill, scratch, ob.pos);
                        *dst_fill += ob.pos;
                }
                out[S_Z1W0 + i] += ob.pos;
                if (how == ZSTD_e_continue ? ib.pos == ib.size : rem == 0)
                        break;
        }
}

#define TIMED(s, ...)                                                                              \
        do {                                                                                       \
                double w0_ = mono(), c0_ = pcpu();                                                 \
                __VA_ARGS__;                                                                       \
                wall[s] += mono() - w0_;                                                           \
                cpu[s] += pcpu() - c0_;                                                            \
        } while (0)

static void run_batch(int final) {
        static const unsigned char key[crypto_secretstream_xchacha20poly1305_KEYBYTES] = { 1 };
        static int started;
        size_t i;

        if (!started) {
                unsigned char hdr[crypto_secretstream_xchacha20poly1305_HEADERBYTES];
                crypto_secretstream_xchacha20poly1305_init_push(&push, hdr, key);
                crypto_secretstream_xchacha20poly1305_init_pull(&pull, hdr, key);
                crypto_generichash_init(&stored, NULL, 0, 32);
                started = 1;
        }
        TIMED(S_B2S, for (i = 0; i < n_pieces; i++) hash_sodium(&pieces[i]));
        TIMED(S_B2L, for (i = 0; i < n_pieces; i++) hash_libb2(&pieces[i]));
        TIMED(S_SHA, for (i = 0; i < n_pieces; i++) hash_sha(&pieces[i]));
        for (int s = S_B2S; s <= S_SHA; s++)
                in[s] += fill;
        TIMED(S_SIG,
              for (i = 0; i < n_pieces; i++) if (sig(&pieces[i])) in[S_SIG] += pieces[i].len);
        TIMED(S_B4K,
              for (i = 0; i < n_pieces; i++) if (blocks4k(&pieces[i])) in[S_B4K] += pieces[i].len);
        TIMED(S_SIGS, for (i = 0; i < n_pieces; i++) if (sig_sodium(&pieces[i])) in[S_SIGS] +=
                      pieces[i].len);
        /* zstd: the level-2 single-thread stream's output is what gets sealed and stored. A flush
         * at the end of each batch waits for the workers, so their time is not lost. */
        zfill = 0;
        for (int z = 0; z < 5; z++) {
                ZSTD_EndDirective how = final ? ZSTD_e_end : ZSTD_e_flush;
                unsigned char *keep = z == Z_STORED ? zbuf : NULL;
                TIMED(S_Z1W0 + z, zfeed(z, batch, fill, ZSTD_e_continue, keep, &zfill);
                      zfeed(z, NULL, 0, how, keep, &zfill));
                in[S_Z1W0 + z] += fill;
        }
        /* seal: 64 KiB messages, as core/crypto/seal.c */
        sfill = 0;
        TIMED(
                S_SEAL, for (size_t o = 0; o < zfill; o += MSG) {
                        unsigned long long clen;
                        size_t n = zfill - o < MSG ? zfill - o : MSG;
                        crypto_secretstream_xchacha20poly1305_push(&push, sbuf + sfill, &clen,
                                                                   zbuf + o, n, NULL, 0, 0);
                        sfill += clen;
                });
        in[S_SEAL] += zfill;
        out[S_SEAL] += sfill;
        TIMED(S_B2STORED, crypto_generichash_update(&stored, sbuf, sfill));
        in[S_B2STORED] += sfill;
        size_t ofill = 0;
        TIMED(
                S_OPEN, for (size_t o = 0; o < sfill;) {
                        unsigned long long mlen;
                        size_t n = sfill - o < MSG + crypto_secretstream_xchacha20poly1305_ABYTES
                                           ? sfill - o
                                           : MSG + crypto_secretstream_xchacha20poly1305_ABYTES;
                        if (crypto_secretstream_xchacha20poly1305_pull(&pull, obuf + ofill, &mlen,
                                                                       NULL, sbuf + o, n, NULL, 0))
                                die("secretstream pull");
                        ofill += mlen;
                        o += n;
                });
        in[S_OPEN] += sfill;
        out[S_OPEN] += ofill;
        TIMED(S_ZD, {
                ZSTD_inBuffer ib = { obuf, ofill, 0 };
                while (ib.pos < ib.size) {
                        ZSTD_outBuffer ob = { batch, BATCH, 0 };
                        size_t r = ZSTD_decompressStream(zd, &ob, &ib);
                        if (ZSTD_isError(r))
                                die("ZSTD_decompressStream");
                        out[S_ZD] += ob.pos;
                }
        });
        in[S_ZD] += ofill;
        fill = 0;
        n_pieces = 0;
}

static void add_piece(size_t len, unsigned long long fsize, int first, int last) {
        if (n_pieces == alloc_pieces) {
                alloc_pieces = alloc_pieces ? 2 * alloc_pieces : 4096;
                pieces = realloc(pieces, alloc_pieces * sizeof *pieces);
                if (!pieces)
                        die("realloc");
        }
        pieces[n_pieces++] = (Piece){ fill, len, fsize, first, last };
        fill += len;
}

static unsigned long long files, bytes;

static int visit(const char *path, const struct stat *st, int type, struct FTW *f) {
        unsigned long long left = (unsigned long long) st->st_size;
        int first = 1, fd;
        (void) f;
        if (type != FTW_F || !S_ISREG(st->st_mode))
                return 0;
        fd = open(path, O_RDONLY | O_NOATIME | O_CLOEXEC);
        if (fd < 0)
                die(path);
        files++;
        do {
                size_t room = BATCH - fill, want = left < room ? (size_t) left : room;
                ssize_t k = 0;
                for (size_t got = 0; got < want; got += (size_t) k)
                        if ((k = read(fd, batch + fill + got, want - got)) <= 0)
                                die(path);
                left -= want;
                bytes += want;
                add_piece(want, (unsigned long long) st->st_size, first, left == 0);
                first = 0;
                if (fill == BATCH)
                        run_batch(0);
        } while (left > 0);
        close(fd);
        return 0;
}

int main(int argc, char **argv) {
        if (argc != 2) {
                fprintf(stderr, "usage: stages DIR\n");
                return 2;
        }
        if (sodium_init() < 0)
                die("sodium_init");
        batch = malloc(BATCH);
        zbuf = malloc(ZSTD_compressBound(BATCH) + sizeof scratch);
        sbuf = malloc(ZSTD_compressBound(BATCH) * 2);
        obuf = malloc(ZSTD_compressBound(BATCH) + sizeof scratch);
        sha = EVP_MD_CTX_new();
        zd = ZSTD_createDCtx();
        if (!batch || !zbuf || !sbuf || !obuf || !sha || !zd)
                die("malloc");
        for (int z = 0; z < 5; z++) {
                zc[z] = ZSTD_createCCtx();
                if (!zc[z] ||
                    ZSTD_isError(
                            ZSTD_CCtx_setParameter(zc[z], ZSTD_c_compressionLevel, ZLEVEL[z])) ||
                    ZSTD_isError(ZSTD_CCtx_setParameter(zc[z], ZSTD_c_nbWorkers, ZWORKERS[z])))
                        die("zstd parameters");
        }
        if (nftw(argv[1], visit, 64, FTW_PHYS) != 0)
                die("nftw");
        run_batch(1);
        for (int s = 0; s < S_N; s++)
                printf("%s\t%llu\t%llu\t%.3f\t%.3f\n", NAMES[s], in[s], out[s], wall[s], cpu[s]);
        fprintf(stderr, "stages: %llu files, %llu bytes\n", files, bytes);
        return 0;
}
