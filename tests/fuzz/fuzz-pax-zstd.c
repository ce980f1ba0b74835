/* fuzz-pax-zstd: the restore read path of a volume's plaintext: zstd stream -> pax archive ->
 * entries and their data. Output is bounded so that a decompression bomb cannot time out.
 *
 * libzstd and libarchive are not instrumented, so coverage cannot steer mutations through the
 * compression into the archive. A custom mutator does: it usually decompresses the input, mutates
 * the archive and compresses it again (as the agent would, with a checksum); sometimes it mutates
 * the compressed bytes themselves. */
#include <zstd.h>

#include "core/codec/pax.h"
#include "core/codec/zstdio.h"
#include "tests/fuzz/fuzz-common.h"

#define MAX_BYTES (64ULL * 1024 * 1024)
#define PLAIN_MAX (1024 * 1024)

size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
        static uint8_t plain[PLAIN_MAX], out[PLAIN_MAX];
        static ZSTD_CCtx *cctx = NULL; /* kept for the life of the process */
        size_t n, c;

        if (seed % 4 == 0)
                return LLVMFuzzerMutate(data, size, max_size);
        n = ZSTD_decompress(plain, sizeof(plain), data, size);
        if (ZSTD_isError(n))
                return LLVMFuzzerMutate(data, size, max_size);
        n = LLVMFuzzerMutate(plain, n, sizeof(plain));
        if (!cctx) {
                cctx = ZSTD_createCCtx();
                FUZZ_CHECK(cctx);
                FUZZ_CHECK(!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)));
        }
        FUZZ_CHECK(!ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, 1)));
        c = ZSTD_compress2(cctx, out, sizeof(out), plain, n);
        if (ZSTD_isError(c) || c > max_size)
                return LLVMFuzzerMutate(data, size, max_size);
        memcpy(data, out, c);
        return c;
}

typedef struct Source {
        YbZstdReader *zstd;
        uint64_t bytes; /* decompressed bytes handed to libarchive */
} Source;

static ssize_t zstd_source(void *userdata, void *data, size_t n) {
        Source *s = userdata;
        ssize_t k;

        if (s->bytes >= MAX_BYTES)
                return -EFBIG;
        k = yb_zstd_read(s->zstd, data, n);
        if (k > 0)
                s->bytes += (uint64_t) k;
        return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        _cleanup_(yb_zstd_reader_freep) YbZstdReader *zstd = NULL;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *pax = NULL;
        FuzzMemReader m = { .p = data, .left = size };
        Source src = { 0 };
        static uint8_t buf[64 * 1024];
        uint64_t out = 0;

        fuzz_init();
        if (yb_zstd_reader_new(fuzz_mem_read, &m, &zstd) < 0)
                return 0;
        src.zstd = zstd;
        if (yb_pax_reader_new(zstd_source, &src, &pax) < 0)
                return 0;
        while (out < MAX_BYTES) {
                const char *name;
                uint64_t esize;
                int r = yb_pax_next(pax, &name, &esize);

                if (r <= 0)
                        break;
                FUZZ_CHECK(name);
                (void) strlen(name);
                /* Sparse entries can expand past their stored bytes: count what comes out. */
                while (out < MAX_BYTES) {
                        ssize_t k = yb_pax_read(pax, buf, sizeof(buf));

                        if (k <= 0)
                                break;
                        out += (uint64_t) k;
                }
        }
        return 0;
}
