/* core/codec/sigreuse.h: a changed file's new librsync signature, borrowed from the old one where
 * the delta against the old signature copied whole blocks. Byte for byte the signature librsync
 * would compute over the whole new content (yb_sig_builder_*). */
#pragma once

#include <stdint.h>

#include "core/base/buf.h"

typedef struct YbSigReuse YbSigReuse;

/* Starts the signature of new content of size bytes that may borrow from old (a signature as
 * yb_sig_builder_finish makes them). 0 with *ret NULL when old cannot lend (another block or
 * a shorter strong length, or not a signature of ours): then build it in full. */
int yb_sig_reuse_new(const void *old, size_t old_size, uint64_t size, YbSigReuse **ret);
/* The same with the block and strong lengths given rather than yb_sig_params(size)'s (so that a
 * test can try other block lengths on small contents); size only sizes the first allocation. */
int yb_sig_reuse_new_params(const void *old, size_t old_size, uint64_t size, size_t block,
                            size_t strong, YbSigReuse **ret);
/* Gives the next bytes of the new content. Each whole block whose weak sum is the old block's at
 * the same offset borrows that block's sums, to be confirmed by the delta; the others (and the
 * last, partial block) are summed here. */
int yb_sig_reuse_feed(YbSigReuse *s, const void *data, size_t n);
/* Gives the next bytes of the delta (librsync's format) made against old from the same content.
 * May run on another thread than yb_sig_reuse_feed: the two share nothing but old. */
void yb_sig_reuse_delta(YbSigReuse *s, const void *data, size_t n);
/* Ends the signature: 1 with it appended to out when the delta copied every borrowed block
 * whole from an old block with the same sums; 0 (out untouched) when it did not, so the
 * borrowed sums are unproven and the signature is to be computed in full; -errno. */
int yb_sig_reuse_finish(YbSigReuse *s, YbBuf *out);
YbSigReuse *yb_sig_reuse_free(YbSigReuse *s);
DEFINE_FREEP(YbSigReuse, yb_sig_reuse_free);

/* The block length of signature sig (as yb_sig_builder_finish makes them) and how many blocks it
 * sums: 0, or -EBADMSG when sig is not one of ours. */
int yb_sig_shape(const void *sig, size_t n, size_t *ret_block, uint64_t *ret_blocks);
/* The weak sum signature sig records for block k; sig is one yb_sig_shape accepts, with more
 * than k blocks. */
uint32_t yb_sig_weak_at(const void *sig, size_t n, uint64_t k);
