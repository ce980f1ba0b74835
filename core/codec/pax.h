/* core/codec/pax.h: pax (POSIX.1-2001) archives through libarchive, over callbacks, for
 * volumes. Names are UTF-8 where they can be, raw bytes (hdrcharset=BINARY) where not; xattrs
 * travel as SCHILY.xattr records. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

#include "core/base/macro.h"
#include "core/base/stream.h"

typedef struct YbXattr {
        char *name;
        void *value;
        size_t size;
} YbXattr;

typedef struct YbPaxEntry {
        const char *name;
        uint32_t mode; /* permission bits; the entry is always a regular file */
        uint32_t uid, gid;
        const char *uname, *gname; /* may be NULL */
        int64_t mtime_sec;         /* seconds, may be negative (before 1970) */
        uint32_t mtime_nsec;       /* 0..999999999 */
        uint64_t size;
        const YbXattr *xattrs;
        size_t n_xattrs;
} YbPaxEntry;

typedef struct YbPaxWriter YbPaxWriter;

int yb_pax_writer_new(YbWriteFn write_fn, void *userdata, YbPaxWriter **ret);
/* Starts an entry; exactly e->size bytes of data must follow (yb_pax_end pads a shortfall with
 * zeros, for a file that shrank while it was read: the caller then records it as torn). */
int yb_pax_begin(YbPaxWriter *w, const YbPaxEntry *e);
int yb_pax_data(YbPaxWriter *w, const void *data, size_t n);
int yb_pax_end(YbPaxWriter *w);
/* Writes the end-of-archive marker and flushes. */
int yb_pax_finish(YbPaxWriter *w);
/* Archive bytes written so far. */
uint64_t yb_pax_bytes(const YbPaxWriter *w);
YbPaxWriter *yb_pax_writer_free(YbPaxWriter *w);
DEFINE_FREEP(YbPaxWriter, yb_pax_writer_free);

typedef struct YbPaxReader YbPaxReader;

int yb_pax_reader_new(YbReadFn read_fn, void *userdata, YbPaxReader **ret);
/* The same over a source that lends its bytes: data is then not copied on its way to the
 * archive's parser (yb_pax_read_block hands it on in place). */
int yb_pax_reader_new_peek(YbPeekFn peek_fn, void *userdata, YbPaxReader **ret);
/* Advances to the next entry: 1 and its name and size, 0 at the end, -EBADMSG if damaged.
 * The name lives until the next call. */
int yb_pax_next(YbPaxReader *r, const char **ret_name, uint64_t *ret_size);
/* Reads the current entry's data; 0 at its end. */
ssize_t yb_pax_read(YbPaxReader *r, void *data, size_t n);
/* The same without a copy: *ret points at the entry's next bytes, valid until the next call on
 * r. Returns their number, 0 at the entry's end, -EBADMSG if damaged (or not in order: a sparse
 * entry, which volumes never hold). An entry is read one way or the other, never both (a copy
 * takes more of libarchive's block than it returns). */
ssize_t yb_pax_read_block(YbPaxReader *r, const void **ret);
YbPaxReader *yb_pax_reader_free(YbPaxReader *r);
DEFINE_FREEP(YbPaxReader, yb_pax_reader_free);
