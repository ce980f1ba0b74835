/* Signed documents (signed.h). Part C of issue 13 replaces this placeholder. */
#include <errno.h>

#include "core/evidence/signed.h"

int yb_signed_canonical(const json_t *doc, char **ret) {
        (void) doc, (void) ret;
        return -ENOSYS;
}

int yb_signed_sign(json_t *doc, const YbAgentIdentity *key) {
        (void) doc, (void) key;
        return -ENOSYS;
}

int yb_signed_verify(const json_t *doc, const uint8_t pk[32], char *why, size_t why_size) {
        (void) doc, (void) pk, (void) why, (void) why_size;
        return -ENOSYS;
}

int yb_signed_dump(const json_t *doc, char **ret) {
        (void) doc, (void) ret;
        return -ENOSYS;
}

int yb_signed_read_public_key(const char *path, uint8_t pk[32], char *why, size_t why_size) {
        (void) path, (void) pk, (void) why, (void) why_size;
        return -ENOSYS;
}
