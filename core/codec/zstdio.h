/* core/codec/zstdio.h: zstd compression and decompression as streams between callbacks. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "core/base/macro.h"
#include "core/base/stream.h"

typedef struct YbZstdWriter YbZstdWriter;

/* Compresses into write_fn at level, with workers extra threads (0: in the caller's thread). */
int yb_zstd_writer_new(int level, int workers, YbWriteFn write_fn, void *userdata,
                       YbZstdWriter **ret);
int yb_zstd_write(YbZstdWriter *z, const void *data, size_t n);
/* Ends the frame and flushes everything. */
int yb_zstd_finish(YbZstdWriter *z);
uint64_t yb_zstd_writer_out_bytes(const YbZstdWriter *z);
YbZstdWriter *yb_zstd_writer_free(YbZstdWriter *z);
DEFINE_FREEP(YbZstdWriter, yb_zstd_writer_free);

typedef struct YbZstdReader YbZstdReader;

int yb_zstd_reader_new(YbReadFn read_fn, void *userdata, YbZstdReader **ret);
/* The same over a source that lends its bytes: they are decompressed where they are. */
int yb_zstd_reader_new_peek(YbPeekFn peek_fn, void *userdata, YbZstdReader **ret);
/* Returns decompressed bytes, 0 at the end of the last frame, -EBADMSG if the data is corrupt
 * or ends inside a frame. */
ssize_t yb_zstd_read(YbZstdReader *z, void *data, size_t n);
YbZstdReader *yb_zstd_reader_free(YbZstdReader *z);
DEFINE_FREEP(YbZstdReader, yb_zstd_reader_free);
