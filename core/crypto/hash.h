/* core/crypto/hash.h: BLAKE2b-256, the hash of every file and every content in the format. */
#pragma once

#include <sodium.h>
#include <stddef.h>
#include <stdint.h>

#define YB_HASH_SIZE 32

typedef struct YbHash {
        crypto_generichash_state st;
} YbHash;

void yb_hash_init(YbHash *h);
void yb_hash_update(YbHash *h, const void *data, size_t n);
void yb_hash_final(YbHash *h, uint8_t ret[YB_HASH_SIZE]);
void yb_hash_buf(const void *data, size_t n, uint8_t ret[YB_HASH_SIZE]);
