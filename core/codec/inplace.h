/* core/codec/inplace.h: applying a librsync delta to its basis file in place. A delta whose
 * every copy takes old bytes from the offset they keep in the new file (a database with pages
 * changed where they are, a log appended to, a file cut short) needs only its literals written
 * over the old file: the rest is already there. Restore uses it on its own staging files, never
 * on a file anyone else can see. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "core/base/stream.h"

/* Whether the delta (whole, n bytes) is one of those: 1, with the new file's size in *ret_size;
 * 0 when a copy moves bytes (it is applied the usual way, yb_patch); -EBADMSG when it is not a
 * complete, well-formed delta. */
int yb_delta_in_place(const uint8_t *delta, size_t n, uint64_t *ret_size);

/* Applies such a delta to fd, open for reading and writing on its basis: writes the literals
 * where they go and sets the new size. When fn is given, it is passed every byte of the new
 * content in order, the kept ones read back from fd through buf (to hash the result). -EBADMSG
 * when the delta is not an in-place one or a copy reaches past the basis's end. */
int yb_patch_in_place(int fd, const uint8_t *delta, size_t n, YbWriteFn fn, void *userdata,
                      uint8_t *buf, size_t buf_size);
