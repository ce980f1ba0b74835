/* bench/limits/hashes.c: the hashes yunbak could use, in RAM, single thread: BLAKE2b-256 through
 * libsodium (what the format uses) and libb2 (what librsync uses), SHA-256 and BLAKE2b-512
 * through OpenSSL's EVP (SHA-NI and AVX-512 where the CPU has them). Each is fed TOTAL MiB of
 * pseudo-random bytes as one stream in 64 KiB updates ("stream64k"), and as one digest per
 * 64 KiB and per 4 KiB buffer ("oneshot64k", "oneshot4k": a stored chunk, a librsync block).
 * Prints: name, MiB/s (of CPU time).
 *   usage: hashes [TOTAL_MiB]     (default 1024)
 * Build (from the repository root): cc -O2 -I. -o hashes bench/limits/hashes.c -lsodium -lb2
 * -lcrypto */
#include <blake2.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench/limits/clock.h"

#define POOL (64u << 20)

static unsigned char *pool;
static size_t total;

/* One primitive: a stream (init, updates of n bytes, final) or one digest per n bytes. */
typedef enum { SODIUM_B2B, LIBB2_B2B, EVP_SHA256, EVP_B2B512, N_ALG } Alg;
static const char *ALG[N_ALG] = { "blake2b256_sodium", "blake2b256_libb2", "sha256_evp",
                                  "blake2b512_evp" };

static void run(Alg alg, size_t n, int oneshot) {
        crypto_generichash_state s;
        blake2b_state l;
        EVP_MD_CTX *e = EVP_MD_CTX_new();
        const EVP_MD *md = alg == EVP_SHA256 ? EVP_sha256() : EVP_blake2b512();
        unsigned char h[64];
        double t0 = pcpu();
        for (size_t off = 0; off < total; off += n) {
                const unsigned char *p = pool + off % POOL;
                int begin = oneshot || off == 0, end = oneshot || off + n >= total;
                switch (alg) {
                case SODIUM_B2B:
                        if (begin)
                                crypto_generichash_init(&s, NULL, 0, 32);
                        crypto_generichash_update(&s, p, n);
                        if (end)
                                crypto_generichash_final(&s, h, 32);
                        break;
                case LIBB2_B2B:
                        if (begin)
                                blake2b_init(&l, 32);
                        blake2b_update(&l, p, n);
                        if (end)
                                blake2b_final(&l, h, 32);
                        break;
                default:
                        if (begin)
                                EVP_DigestInit_ex(e, md, NULL);
                        EVP_DigestUpdate(e, p, n);
                        if (end)
                                EVP_DigestFinal_ex(e, h, NULL);
                }
        }
        printf("%s_%s%zuk\t%.1f\n", ALG[alg], oneshot ? "oneshot" : "stream", n >> 10,
               total / 1048576.0 / (pcpu() - t0));
        EVP_MD_CTX_free(e);
}

int main(int argc, char **argv) {
        if (sodium_init() < 0)
                return 1;
        total = (size_t) (argc > 1 ? atol(argv[1]) : 1024) << 20;
        pool = malloc(POOL);
        if (!pool)
                return 1;
        randombytes_buf(pool, POOL);
        for (Alg a = 0; a < N_ALG; a++) {
                run(a, 64 << 10, 0);
                run(a, 64 << 10, 1);
                run(a, 4 << 10, 1);
        }
        return 0;
}
