#include "core/codec/pax.h"

#include <archive.h>
#include <archive_entry.h>
#include <limits.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "core/base/log.h"
#include "core/codec/archive-lib.h"

struct YbPaxWriter {
        struct archive *a;
        YbWriteFn write_fn;
        void *userdata;
        int error;
        uint64_t bytes;
        uint64_t entry_left;
        bool in_entry;
};

static la_ssize_t pax_write_cb(struct archive *a, void *ud, const void *data, size_t n) {
        YbPaxWriter *w = ud;
        int r = w->write_fn(w->userdata, data, n);

        if (r < 0) {
                w->error = r;
                archive_set_error(a, -r, "write failed");
                return -1;
        }
        w->bytes += n;
        return (la_ssize_t) n;
}

/* libarchive is loaded by the first volume written or read (archive-lib.c): one that cannot be
 * loaded is said, with why, before the caller says what it could not do. */
static int load_libarchive(void) {
        if (yb_dynlib_load(&yb_libarchive) >= 0)
                return 0;
        log_error("Missing library: %s.", yb_dynlib_error(&yb_libarchive));
        return -ELIBACC;
}

YbPaxWriter *yb_pax_writer_free(YbPaxWriter *w) {
        if (!w)
                return NULL;
        /* After a failed write libarchive is in its FATAL state and archive_write_free() would
         * skip closing, leaking the output filter: close explicitly (its result is moot). */
        if (w->a && w->error < 0)
                (void) archive_write_close(w->a);
        if (w->a)
                archive_write_free(w->a);
        free(w);
        return NULL;
}

static int writer_error(YbPaxWriter *w) {
        if (w->error < 0)
                return w->error;
        log_debug("libarchive: %s", archive_error_string(w->a));
        return -EIO;
}

int yb_pax_writer_new(YbWriteFn write_fn, void *userdata, YbPaxWriter **ret) {
        _cleanup_(yb_pax_writer_freep) YbPaxWriter *w = NULL;
        int r = load_libarchive();

        if (r < 0)
                return r;
        w = new0(YbPaxWriter, 1);
        if (!w)
                return -ENOMEM;
        w->write_fn = write_fn;
        w->userdata = userdata;
        w->a = archive_write_new();
        if (!w->a)
                return -ENOMEM;
        if (archive_write_set_format_pax(w->a) != ARCHIVE_OK ||
            archive_write_set_bytes_per_block(w->a, 0) != ARCHIVE_OK ||
            archive_write_open(w->a, w, NULL, pax_write_cb, NULL) != ARCHIVE_OK)
                return writer_error(w);
        *ret = TAKE_PTR(w);
        return 0;
}

int yb_pax_begin(YbPaxWriter *w, const YbPaxEntry *e) {
        struct archive_entry *ae = archive_entry_new();
        int r = 0;

        if (!ae)
                return -ENOMEM;
        archive_entry_copy_pathname(ae, e->name);
        archive_entry_set_filetype(ae, AE_IFREG);
        archive_entry_set_perm(ae, e->mode & 07777);
        archive_entry_set_uid(ae, e->uid);
        archive_entry_set_gid(ae, e->gid);
        if (e->uname)
                archive_entry_copy_uname(ae, e->uname);
        if (e->gname)
                archive_entry_copy_gname(ae, e->gname);
        archive_entry_set_mtime(ae, (time_t) e->mtime_sec, e->mtime_nsec);
        archive_entry_set_size(ae, (la_int64_t) e->size);
        for (size_t i = 0; i < e->n_xattrs; i++)
                archive_entry_xattr_add_entry(ae, e->xattrs[i].name, e->xattrs[i].value,
                                              e->xattrs[i].size);
        /* ARCHIVE_WARN: a name that is not valid in the locale's charset, written as raw bytes
         * with hdrcharset=BINARY. That is what we want. */
        if (archive_write_header(w->a, ae) < ARCHIVE_WARN)
                r = writer_error(w);
        archive_entry_free(ae);
        if (r < 0)
                return r;
        w->in_entry = true;
        w->entry_left = e->size;
        return 0;
}

int yb_pax_data(YbPaxWriter *w, const void *data, size_t n) {
        const uint8_t *p = data;

        if (n > w->entry_left)
                return -EFBIG; /* the file grew: the caller re-reads or reports it */
        while (n > 0) {
                la_ssize_t k = archive_write_data(w->a, p, n);

                if (k <= 0)
                        return writer_error(w);
                p += k;
                n -= (size_t) k;
                w->entry_left -= (uint64_t) k;
        }
        return 0;
}

int yb_pax_end(YbPaxWriter *w) {
        w->in_entry = false;
        /* libarchive pads a short entry with zeros, keeping the archive well-formed. */
        if (archive_write_finish_entry(w->a) != ARCHIVE_OK)
                return writer_error(w);
        return 0;
}

int yb_pax_finish(YbPaxWriter *w) {
        if (archive_write_close(w->a) != ARCHIVE_OK)
                return writer_error(w);
        return 0;
}

uint64_t yb_pax_bytes(const YbPaxWriter *w) {
        return w->bytes;
}

struct YbPaxReader {
        struct archive *a;
        YbReadFn read_fn;
        YbPeekFn peek_fn; /* instead of read_fn: no buffer of our own */
        void *userdata;
        int error;
        uint8_t *buf;
        uint64_t offset; /* of the current entry's next byte */
        uint64_t size;   /* the current entry's */
};

#define READ_BUF (128 * 1024)

static la_ssize_t pax_read_cb(struct archive *a, void *ud, const void **ret) {
        YbPaxReader *r = ud;
        ssize_t k;

        if (r->peek_fn)
                k = r->peek_fn(r->userdata, ret);
        else {
                k = r->read_fn(r->userdata, r->buf, READ_BUF);
                *ret = r->buf;
        }
        if (k < 0) {
                r->error = (int) k;
                archive_set_error(a, (int) -k, "read failed");
                return -1;
        }
        return k;
}

YbPaxReader *yb_pax_reader_free(YbPaxReader *r) {
        if (!r)
                return NULL;
        if (r->a)
                archive_read_free(r->a);
        free(r->buf);
        free(r);
        return NULL;
}

static int reader_error(YbPaxReader *r) {
        if (r->error < 0)
                return r->error;
        log_debug("libarchive: %s", archive_error_string(r->a));
        return -EBADMSG;
}

static int reader_new(YbReadFn read_fn, YbPeekFn peek_fn, void *userdata, YbPaxReader **ret) {
        _cleanup_(yb_pax_reader_freep) YbPaxReader *r = NULL;
        int k = load_libarchive();

        if (k < 0)
                return k;
        r = new0(YbPaxReader, 1);
        if (!r)
                return -ENOMEM;
        r->read_fn = read_fn;
        r->peek_fn = peek_fn;
        r->userdata = userdata;
        if (!peek_fn) {
                r->buf = malloc(READ_BUF);
                if (!r->buf)
                        return -ENOMEM;
        }
        r->a = archive_read_new();
        if (!r->a)
                return -ENOMEM;
        if (archive_read_support_format_tar(r->a) != ARCHIVE_OK)
                return reader_error(r);
        if (archive_read_open(r->a, r, NULL, pax_read_cb, NULL) != ARCHIVE_OK)
                return reader_error(r);
        *ret = TAKE_PTR(r);
        return 0;
}

int yb_pax_reader_new(YbReadFn read_fn, void *userdata, YbPaxReader **ret) {
        return reader_new(read_fn, NULL, userdata, ret);
}

int yb_pax_reader_new_peek(YbPeekFn peek_fn, void *userdata, YbPaxReader **ret) {
        return reader_new(NULL, peek_fn, userdata, ret);
}

int yb_pax_next(YbPaxReader *r, const char **ret_name, uint64_t *ret_size) {
        struct archive_entry *ae;
        int k = archive_read_next_header(r->a, &ae);

        if (k == ARCHIVE_EOF)
                return 0;
        if (k != ARCHIVE_OK && k != ARCHIVE_WARN)
                return reader_error(r);
        if (archive_entry_filetype(ae) != AE_IFREG || !archive_entry_pathname(ae) ||
            archive_entry_size(ae) < 0)
                return -EBADMSG;
        *ret_name = archive_entry_pathname(ae);
        *ret_size = (uint64_t) archive_entry_size(ae);
        r->offset = 0;
        r->size = *ret_size;
        return 1;
}

ssize_t yb_pax_read(YbPaxReader *r, void *data, size_t n) {
        la_ssize_t k = archive_read_data(r->a, data, n);

        if (k < 0)
                return reader_error(r);
        r->offset += (uint64_t) k;
        return (ssize_t) k;
}

ssize_t yb_pax_read_block(YbPaxReader *r, const void **ret) {
        size_t n;
        la_int64_t offset;
        int k = archive_read_data_block(r->a, ret, &n, &offset);

        /* The end only once every byte the header declares came (a trailing hole would not). */
        if (k == ARCHIVE_EOF)
                return r->offset == r->size ? 0 : -EBADMSG;
        if (k != ARCHIVE_OK && k != ARCHIVE_WARN)
                return reader_error(r);
        /* A hole would come as a jump: volumes never have any. */
        if (offset < 0 || (uint64_t) offset != r->offset || n > SSIZE_MAX)
                return -EBADMSG;
        r->offset += n;
        return (ssize_t) n;
}
