/* fuzz-signature: a librsync signature as a sigindex entry carries it (the agent loads it to
 * delta the next version of the file), then a delta of the fixed basis against it. */
#include "core/codec/delta.h"
#include "tests/fuzz/fuzz-common.h"

#define MAX_OUT (16ULL * 1024 * 1024)

static int count_write(void *userdata, const void *data, size_t n) {
        uint64_t *bytes = userdata;

        if (n > MAX_OUT - *bytes)
                return -EFBIG;
        *bytes += n;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static uint8_t basis[FUZZ_BASIS_SIZE];
        static bool basis_made = false;
        _cleanup_(yb_signature_freep) YbSignature *sig = NULL;
        _cleanup_(yb_delta_freep) YbDeltaJob *d = NULL;
        uint64_t bytes = 0;

        fuzz_init();
        if (!basis_made) {
                fuzz_basis(basis);
                basis_made = true;
        }
        if (yb_signature_load(data, size, &sig) < 0)
                return 0;
        if (yb_delta_new(sig, count_write, &bytes, &d) < 0)
                return 0;
        /* Fed in two uneven pieces, as the agent feeds what it reads. */
        if (yb_delta_feed(d, basis, 5000) >= 0 &&
            yb_delta_feed(d, basis + 5000, sizeof(basis) - 5000) >= 0)
                (void) yb_delta_finish(d);
        return 0;
}
