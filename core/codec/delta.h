/* core/codec/delta.h: librsync signatures, deltas and patches as streams. Deltas are in
 * librsync's own format, so `rdiff patch` applies them. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "core/base/buf.h"
#include "core/base/stream.h"

/* Files smaller than this are always stored whole: a delta would save too little. */
#define YB_DELTA_MIN_FILE_SIZE (64 * 1024)

/* The block length and strong-sum length for a file of size bytes. 4 KiB blocks (a database
 * page) up to 1 GiB, then larger so that a signature stays under ~256 Ki blocks. */
void yb_sig_params(uint64_t size, size_t *ret_block_len, size_t *ret_strong_len);

typedef struct YbSigBuilder YbSigBuilder;

/* Starts a signature of a file expected to be size bytes long. */
int yb_sig_builder_new(uint64_t size, YbSigBuilder **ret);
int yb_sig_builder_feed(YbSigBuilder *b, const void *data, size_t n);
/* Ends the signature and appends it to out. */
int yb_sig_builder_finish(YbSigBuilder *b, YbBuf *out);
YbSigBuilder *yb_sig_builder_free(YbSigBuilder *b);
DEFINE_FREEP(YbSigBuilder, yb_sig_builder_free);

typedef struct YbSignature YbSignature;

/* Loads and indexes a signature. -EBADMSG if it is not one. */
int yb_signature_load(const void *data, size_t n, YbSignature **ret);
YbSignature *yb_signature_free(YbSignature *s);
DEFINE_FREEP(YbSignature, yb_signature_free);

typedef struct YbDeltaJob YbDeltaJob;

/* Starts a delta of new data against sig, written to write_fn. */
int yb_delta_new(YbSignature *sig, YbWriteFn write_fn, void *userdata, YbDeltaJob **ret);
int yb_delta_feed(YbDeltaJob *d, const void *data, size_t n);
int yb_delta_finish(YbDeltaJob *d);
uint64_t yb_delta_in_bytes(const YbDeltaJob *d);
uint64_t yb_delta_out_bytes(const YbDeltaJob *d);
YbDeltaJob *yb_delta_free(YbDeltaJob *d);
DEFINE_FREEP(YbDeltaJob, yb_delta_free);

/* Applies a delta read from read_fn to the basis file basis_fd, writing the result to write_fn.
 * -EBADMSG if the delta is damaged or refers outside the basis. */
int yb_patch(int basis_fd, YbReadFn read_fn, void *read_ud, YbWriteFn write_fn, void *write_ud);
