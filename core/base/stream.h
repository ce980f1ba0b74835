/* core/base/stream.h: the two callback shapes that every streaming layer (sealing, zstd, librsync,
 * pax, stores) passes bytes through, so that a layer can be stacked on any other without knowing
 * it. */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/* Where bytes go: consumes all n bytes; returns 0, or -errno (the stream is then dead). */
typedef int (*YbWriteFn)(void *userdata, const void *data, size_t n);
/* Where bytes come from: returns the bytes read (at most n; 0 at EOF), or -errno. */
typedef ssize_t (*YbReadFn)(void *userdata, void *data, size_t n);
/* The same without a copy: *ret points at the next bytes, which stay valid until the next call;
 * returns their number (0 at EOF), or -errno. */
typedef ssize_t (*YbPeekFn)(void *userdata, const void **ret);
