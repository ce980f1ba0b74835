#include "core/codec/zstdio.h"

#include <stdbool.h>
#include <stdlib.h>
#include <zstd.h>

#include "core/base/log.h"

struct YbZstdWriter {
        ZSTD_CCtx *cctx;
        YbWriteFn write_fn;
        void *userdata;
        void *out;
        size_t out_size;
        uint64_t out_bytes;
};

YbZstdWriter *yb_zstd_writer_free(YbZstdWriter *z) {
        if (!z)
                return NULL;
        ZSTD_freeCCtx(z->cctx);
        free(z->out);
        free(z);
        return NULL;
}

int yb_zstd_writer_new(int level, int workers, YbWriteFn write_fn, void *userdata,
                       YbZstdWriter **ret) {
        _cleanup_(yb_zstd_writer_freep) YbZstdWriter *z = new0(YbZstdWriter, 1);

        if (!z)
                return -ENOMEM;
        z->cctx = ZSTD_createCCtx();
        z->out_size = ZSTD_CStreamOutSize();
        z->out = malloc(z->out_size);
        if (!z->cctx || !z->out)
                return -ENOMEM;
        if (ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_compressionLevel, level)) ||
            ZSTD_isError(ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_checksumFlag, 1)))
                return -EINVAL;
        /* A libzstd built without threads refuses workers; then we just run single-threaded. */
        if (workers > 0)
                (void) ZSTD_CCtx_setParameter(z->cctx, ZSTD_c_nbWorkers, workers);
        z->write_fn = write_fn;
        z->userdata = userdata;
        *ret = TAKE_PTR(z);
        return 0;
}

static int pump(YbZstdWriter *z, ZSTD_inBuffer *in, ZSTD_EndDirective mode) {
        for (;;) {
                ZSTD_outBuffer out = { z->out, z->out_size, 0 };
                size_t left = ZSTD_compressStream2(z->cctx, &out, in, mode);

                if (ZSTD_isError(left))
                        return log_debug_errno(EIO, "zstd: %s", ZSTD_getErrorName(left));
                if (out.pos > 0) {
                        int r = z->write_fn(z->userdata, z->out, out.pos);

                        if (r < 0)
                                return r;
                        z->out_bytes += out.pos;
                }
                if (mode == ZSTD_e_continue ? in->pos == in->size : left == 0)
                        return 0;
        }
}

int yb_zstd_write(YbZstdWriter *z, const void *data, size_t n) {
        ZSTD_inBuffer in = { data, n, 0 };

        return pump(z, &in, ZSTD_e_continue);
}

int yb_zstd_finish(YbZstdWriter *z) {
        ZSTD_inBuffer in = { NULL, 0, 0 };

        return pump(z, &in, ZSTD_e_end);
}

uint64_t yb_zstd_writer_out_bytes(const YbZstdWriter *z) {
        return z->out_bytes;
}

struct YbZstdReader {
        ZSTD_DCtx *dctx;
        YbReadFn read_fn;
        YbPeekFn peek_fn; /* instead of read_fn: no input buffer of our own */
        void *userdata;
        void *in;
        size_t in_size;
        ZSTD_inBuffer ib;
        size_t frame_left; /* ZSTD_decompressStream's hint: 0 at a frame boundary */
        bool eof, started;
};

YbZstdReader *yb_zstd_reader_free(YbZstdReader *z) {
        if (!z)
                return NULL;
        ZSTD_freeDCtx(z->dctx);
        free(z->in);
        free(z);
        return NULL;
}

static int reader_new(YbReadFn read_fn, YbPeekFn peek_fn, void *userdata, YbZstdReader **ret) {
        _cleanup_(yb_zstd_reader_freep) YbZstdReader *z = new0(YbZstdReader, 1);

        if (!z)
                return -ENOMEM;
        z->dctx = ZSTD_createDCtx();
        if (!z->dctx)
                return -ENOMEM;
        if (!peek_fn) {
                z->in_size = ZSTD_DStreamInSize();
                z->in = malloc(z->in_size);
                if (!z->in)
                        return -ENOMEM;
        }
        /* Bound the window so that a hostile frame cannot ask for gigabytes. */
        (void) ZSTD_DCtx_setParameter(z->dctx, ZSTD_d_windowLogMax, 27);
        z->read_fn = read_fn;
        z->peek_fn = peek_fn;
        z->userdata = userdata;
        z->ib = (ZSTD_inBuffer){ z->in, 0, 0 };
        *ret = TAKE_PTR(z);
        return 0;
}

int yb_zstd_reader_new(YbReadFn read_fn, void *userdata, YbZstdReader **ret) {
        return reader_new(read_fn, NULL, userdata, ret);
}

int yb_zstd_reader_new_peek(YbPeekFn peek_fn, void *userdata, YbZstdReader **ret) {
        return reader_new(NULL, peek_fn, userdata, ret);
}

ssize_t yb_zstd_read(YbZstdReader *z, void *data, size_t n) {
        ZSTD_outBuffer out = { data, n, 0 };

        while (out.pos < out.size) {
                size_t hint;

                if (z->ib.pos == z->ib.size && !z->eof) {
                        const void *in = z->in;
                        ssize_t k = z->peek_fn ? z->peek_fn(z->userdata, &in)
                                               : z->read_fn(z->userdata, z->in, z->in_size);

                        if (k < 0)
                                return k;
                        if (k == 0)
                                z->eof = true;
                        z->ib = (ZSTD_inBuffer){ in, (size_t) k, 0 };
                }
                if (z->ib.pos == z->ib.size && z->eof) {
                        /* Input ended: fine at a frame boundary, damage inside a frame. */
                        if (z->started && z->frame_left != 0)
                                return -EBADMSG;
                        if (!z->started)
                                return -EBADMSG; /* not even one frame */
                        break;
                }
                hint = ZSTD_decompressStream(z->dctx, &out, &z->ib);
                if (ZSTD_isError(hint))
                        return log_debug_errno(EBADMSG, "zstd: %s", ZSTD_getErrorName(hint));
                z->started = true;
                z->frame_left = hint;
        }
        return (ssize_t) out.pos;
}
