/* core/base/pipeline.h: hands a byte stream to a worker thread in blocks, so that the producer
 * (read, hash, delta) and the consumer (compress, seal, write) run on two cores. Bounded: at
 * most depth blocks are in flight, so memory stays at depth × block_size. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

#include "core/base/macro.h"

/* Runs in the worker thread for each block, in order. A negative return stops the pipeline;
 * the error is returned by the producer's next call. */
typedef int (*YbBlockFn)(void *userdata, const void *data, size_t n);

typedef struct YbPipeline YbPipeline;

int yb_pipeline_new(YbBlockFn fn, void *userdata, size_t block_size, size_t depth,
                    YbPipeline **ret);
/* Sets a function the worker runs once after the last block, unless an error came first (its
 * error is then the pipeline's): the end of the consumer's work (flush, fsync, close), done off
 * the producer's thread. Call before the first write. */
void yb_pipeline_set_end(YbPipeline *p, int (*end_fn)(void *userdata));
/* Copies data into the current block, handing full blocks to the worker. Returns 0, or the
 * worker's error. */
int yb_pipeline_write(YbPipeline *p, const void *data, size_t n);
/* Hands over the last block and lets the worker end (its end function included) without waiting
 * for it: the producer goes on with other work meanwhile. Returns 0 or the worker's error so far.
 * Nothing may be written after it; yb_pipeline_finish waits for the worker. */
int yb_pipeline_close(YbPipeline *p);
/* Hands over the last block (unless yb_pipeline_close did), waits until the worker has processed
 * everything (and run its end function) and stops it. Returns 0 or the first error. After it,
 * the worker's userdata may be used again. */
int yb_pipeline_finish(YbPipeline *p);
/* Stops the worker (discarding blocks not yet processed) and frees. Accepts NULL. */
YbPipeline *yb_pipeline_free(YbPipeline *p);
DEFINE_FREEP(YbPipeline, yb_pipeline_free);

/* The reverse: a worker thread reads ahead from a slow source (decrypt, decompress) while the
 * consumer takes the bytes in order. */
typedef ssize_t (*YbSourceFn)(void *userdata, void *data, size_t n);

typedef struct YbPrefetch YbPrefetch;

/* Starts a thread calling fn to fill blocks of block_size, at most depth ahead. */
int yb_prefetch_new(YbSourceFn fn, void *userdata, size_t block_size, size_t depth,
                    YbPrefetch **ret);
/* Returns up to n bytes, 0 at the source's end, or the source's error. */
ssize_t yb_prefetch_read(YbPrefetch *p, void *data, size_t n);
/* The same bytes without a copy: *ret points at the rest of the block being read (all of it is
 * taken), which stays valid until the next yb_prefetch_peek or yb_prefetch_read. Returns its
 * size, 0 at the source's end, or the source's error. */
ssize_t yb_prefetch_peek(YbPrefetch *p, const void **ret);
/* Stops the thread (it may be blocked in fn until fn returns) and frees. Accepts NULL. */
YbPrefetch *yb_prefetch_free(YbPrefetch *p);
DEFINE_FREEP(YbPrefetch, yb_prefetch_free);
