/* fuzz-delta: a librsync delta (a volume's "delta/<path>" entry) applied to a fixed basis, as
 * restore does. The delta is read whole and again in small pieces: both must agree. */
#include <sys/mman.h>

#include "core/codec/delta.h"
#include "tests/fuzz/fuzz-common.h"

#define MAX_OUT (64ULL * 1024 * 1024)

typedef struct Sink {
        uint64_t bytes;
        crypto_generichash_state h;
} Sink;

static int sink_write(void *userdata, const void *data, size_t n) {
        Sink *s = userdata;

        if (n > MAX_OUT - s->bytes)
                return -EFBIG;
        s->bytes += n;
        crypto_generichash_update(&s->h, data, n);
        return 0;
}

static int patch(int basis_fd, const uint8_t *data, size_t size, size_t chunk, uint64_t *ret_bytes,
                 uint8_t ret_hash[32]) {
        FuzzMemReader m = { .p = data, .left = size, .chunk = chunk };
        Sink s = { 0 };
        int r;

        crypto_generichash_init(&s.h, NULL, 0, 32);
        r = yb_patch(basis_fd, fuzz_mem_read, &m, sink_write, &s);
        crypto_generichash_final(&s.h, ret_hash, 32);
        *ret_bytes = s.bytes;
        return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int basis_fd = -EBADF;
        uint8_t h1[32], h2[32];
        uint64_t n1, n2;
        size_t chunk = 1 + size % 61;
        int r1, r2;

        fuzz_init();
        if (basis_fd < 0) {
                static uint8_t basis[FUZZ_BASIS_SIZE];

                fuzz_basis(basis);
                basis_fd = memfd_create("fuzz-basis", MFD_CLOEXEC); /* kept open for the process */
                FUZZ_CHECK(basis_fd >= 0);
                FUZZ_CHECK(write(basis_fd, basis, sizeof(basis)) == (ssize_t) sizeof(basis));
        }
        r1 = patch(basis_fd, data, size, 0, &n1, h1);
        r2 = patch(basis_fd, data, size, chunk, &n2, h2);
        if (r1 < 0 && r2 < 0)
                return 0;
        if (r1 != r2 || n1 != n2 || memcmp(h1, h2, sizeof(h1)) != 0)
                fprintf(stderr, "whole: r=%d bytes=%llu; in %zu-byte pieces: r=%d bytes=%llu\n", r1,
                        (unsigned long long) n1, chunk, r2, (unsigned long long) n2);
        /* Where the delta is read in pieces must not change what it patches to. */
        if (r1 >= 0 && r2 >= 0)
                FUZZ_CHECK(n1 == n2 && memcmp(h1, h2, sizeof(h1)) == 0);
        /* Nor whether it is accepted (tests/fuzz/crashes/delta/trailing-after-end: bytes after
         * the END command once passed when read with it and failed when read later). */
        FUZZ_CHECK((r1 >= 0) == (r2 >= 0));
        return 0;
}
