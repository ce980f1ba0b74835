/* core/codec/deltagen.h: a changed file's delta against its old signature and its new signature,
 * made by one pass of our own (issue 16). The delta is in librsync's format (deltafmt.h), so
 * `rdiff patch` and yb_patch apply it; the signature is byte for byte what yb_sig_builder makes of
 * the same bytes. Where the new file's blocks lie where the old file's did (a database's pages, an
 * appended log) each block is summed once, for both: its weak sum finds the old block and its
 * strong sum both proves the match and is the new signature's entry. Between matches the search
 * rolls the weak sum a byte at a time, as librsync's does. Among old blocks with the same sums it
 * prefers the one that continues the last copy, then the one at the same offset, so that a delta
 * of pages changed in place is one restore applies in place (inplace.h).
 *
 * A file can be made in parts (a big file's second half on another thread): each part is a range
 * of the file starting at a multiple of both block lengths; the first writes the delta's magic
 * and the signature's header, the last the delta's END and the last, short block's entry. The
 * parts' outputs, concatenated in order, are the whole file's delta and signature. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/buf.h"
#include "core/base/stream.h"

typedef struct YbDeltaGen YbDeltaGen;

typedef struct YbDeltaGenPart {
        uint64_t start; /* the part's first byte in the file */
        bool head;      /* the first part: the delta's magic, the signature's header */
        bool tail;      /* the last: the delta's END, the signature's last (short) block */
} YbDeltaGenPart;

/* The whole file as one part. */
#define YB_DELTA_GEN_WHOLE ((YbDeltaGenPart){ .start = 0, .head = true, .tail = true })

/* Starts the delta against old_sig (a signature as yb_sig_builder_finish makes them) of a file
 * of size bytes (the whole file's size, which sets the new signature's block and strong
 * lengths), of which this part is given by part. The delta's bytes go to write_fn. -EBADMSG
 * when old_sig is not such a signature; -EINVAL when part->start is not on both blocks'
 * boundaries. */
int yb_delta_gen_new(const void *old_sig, size_t old_size, uint64_t size, YbDeltaGenPart part,
                     YbWriteFn write_fn, void *userdata, YbDeltaGen **ret);
/* Gives the part's next bytes. */
int yb_delta_gen_feed(YbDeltaGen *g, const void *data, size_t n);
/* Ends the part's delta and appends its part of the new signature to sig. A part other than
 * the last must end on a boundary of the new blocks (-EINVAL). */
int yb_delta_gen_finish(YbDeltaGen *g, YbBuf *sig);
/* Bytes given, and bytes of delta made so far (some may not have reached write_fn yet: the
 * literal the search has passed over counts). */
uint64_t yb_delta_gen_in_bytes(const YbDeltaGen *g);
uint64_t yb_delta_gen_out_bytes(const YbDeltaGen *g);
YbDeltaGen *yb_delta_gen_free(YbDeltaGen *g);
DEFINE_FREEP(YbDeltaGen, yb_delta_gen_free);
