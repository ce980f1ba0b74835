/* tests/fuzz/fuzz-common.h: helpers shared by the libFuzzer targets and the seed generator:
 * one-time crypto setup, a memory read callback, the fixed secret key fuzz-seal opens with and
 * the fixed basis fuzz-delta patches. Everything is deterministic, so that committed seeds made
 * by yb-fuzz-seedgen stay valid. */
#pragma once

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "core/base/macro.h"
#include "core/crypto/keys.h"

/* libFuzzer's entry point: declared here so -Wmissing-prototypes is satisfied. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A target's invariant failed: stop so that libFuzzer keeps the input. */
#define FUZZ_CHECK(expr)                                                                           \
        do {                                                                                       \
                if (!(expr)) {                                                                     \
                        fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);   \
                        abort();                                                                   \
                }                                                                                  \
        } while (0)

static inline void fuzz_init(void) {
        static bool done = false;

        if (done)
                return;
        FUZZ_CHECK(yb_crypto_init() >= 0);
        done = true;
}

/* Serves bytes from memory, at most chunk bytes per call (0: as many as asked for). */
typedef struct FuzzMemReader {
        const uint8_t *p;
        size_t left;
        size_t chunk;
} FuzzMemReader;

static inline ssize_t fuzz_mem_read(void *userdata, void *data, size_t n) {
        FuzzMemReader *m = userdata;

        if (m->chunk > 0 && n > m->chunk)
                n = m->chunk;
        if (n > m->left)
                n = m->left;
        if (n > 0)
                memcpy(data, m->p, n);
        m->p += n;
        m->left -= n;
        return (ssize_t) n;
}

/* The fixed key pair that fuzz-seal's seeds are sealed to. */
#define FUZZ_KEY_SYSTEM "fuzz"
#define FUZZ_KEY_SEED "yunbak fuzz key, not a secret..." /* 32 bytes */

/* Makes the fixed secret key in sodium_malloc() memory; free it with yb_secret_key_free(). The
 * key id is computed as core/crypto/keys.c does: the first bytes of BLAKE2b-256(pk). */
static inline YbSecretKey *fuzz_key_new(void) {
        _Static_assert(sizeof(FUZZ_KEY_SEED) - 1 == crypto_box_SEEDBYTES, "seed size");
        YbSecretKey *k = sodium_malloc(sizeof(YbSecretKey));
        uint8_t h[32];

        if (!k)
                return NULL;
        memset(k, 0, sizeof(*k));
        strcpy(k->pub.system, FUZZ_KEY_SYSTEM);
        FUZZ_CHECK(crypto_box_seed_keypair(k->pub.pk, k->sk,
                                           (const unsigned char *) FUZZ_KEY_SEED) == 0);
        crypto_generichash(h, sizeof(h), k->pub.pk, sizeof(k->pub.pk), NULL, 0);
        memcpy(k->pub.id, h, YB_KEY_ID_SIZE);
        return k;
}

/* The fixed basis file of fuzz-delta: 12 KiB, three 4 KiB blocks of different kinds (text,
 * pseudo-random bytes, a repeated pattern) so that deltas against it have copies and literals. */
#define FUZZ_BASIS_SIZE (12 * 1024)

static inline void fuzz_basis(uint8_t ret[FUZZ_BASIS_SIZE]) {
        static const char text[] = "The quick brown fox jumps over the lazy dog. 0123456789\n";
        uint32_t x = 2463534242U;

        for (size_t i = 0; i < 4096; i++)
                ret[i] = (uint8_t) text[i % (sizeof(text) - 1)];
        for (size_t i = 4096; i < 8192; i++) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                ret[i] = (uint8_t) x;
        }
        for (size_t i = 8192; i < FUZZ_BASIS_SIZE; i++)
                ret[i] = (uint8_t) (i * 7 + i / 256);
}
