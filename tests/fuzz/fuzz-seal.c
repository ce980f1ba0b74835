/* fuzz-seal: a sealed file's clear header, then the whole stream opened with a fixed key (the
 * seeds are sealed to it, see fuzz-common.h) and read to its authenticated end. */
#include "core/crypto/seal.h"
#include "tests/fuzz/fuzz-common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static YbSecretKey *key = NULL;
        _cleanup_(yb_seal_reader_freep) YbSealReader *rd = NULL;
        FuzzMemReader m = { .p = data, .left = size };
        uint8_t buf[16 * 1024];
        YbSealInfo info;
        int r;

        fuzz_init();
        if (!key) {
                key = fuzz_key_new(); /* kept for the life of the process */
                FUZZ_CHECK(key);
        }
        (void) yb_seal_info_parse(data, size, &info);
        /* Odd read sizes exercise the chunk boundaries of both the source and the reader. */
        m.chunk = size > 0 ? 1 + data[size - 1] % 97 * 131 : 0;
        r = yb_seal_reader_new(key, NULL, fuzz_mem_read, &m, &rd);
        if (r < 0)
                return 0;
        FUZZ_CHECK(yb_seal_reader_info(rd)->header_size <= size);
        for (;;) {
                ssize_t k = yb_seal_read(rd, buf, sizeof(buf));

                if (k <= 0)
                        break;
        }
        return 0;
}
