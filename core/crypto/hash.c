#include "core/crypto/hash.h"

void yb_hash_init(YbHash *h) {
        crypto_generichash_init(&h->st, NULL, 0, YB_HASH_SIZE);
}

void yb_hash_update(YbHash *h, const void *data, size_t n) {
        crypto_generichash_update(&h->st, data, n);
}

void yb_hash_final(YbHash *h, uint8_t ret[YB_HASH_SIZE]) {
        crypto_generichash_final(&h->st, ret, YB_HASH_SIZE);
}

void yb_hash_buf(const void *data, size_t n, uint8_t ret[YB_HASH_SIZE]) {
        crypto_generichash(ret, YB_HASH_SIZE, data, n, NULL, 0);
}
