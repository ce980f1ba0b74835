/* libarchive, which pax volumes are written and read with (pax.c), loaded by the first volume
 * (core/base/dynlib.h): a backup with nothing changed, and every program that writes or reads
 * none, starts without it and the ten libraries it brings (libxml2 and ICU among them). Each
 * function pax.c calls, under its own name. */
#include "core/codec/archive-lib.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdarg.h>
#include <stdio.h>

YbDynLib yb_libarchive = YB_DYNLIB_INIT("libarchive.so.13", "libarchive13", "pax volumes");

YB_DYNLIB_FN(yb_libarchive, struct archive_entry *, archive_entry_new, (void), ())
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_free, (struct archive_entry * e), (e))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_copy_pathname,
                  (struct archive_entry * e, const char *s), (e, s))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_copy_uname,
                  (struct archive_entry * e, const char *s), (e, s))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_copy_gname,
                  (struct archive_entry * e, const char *s), (e, s))
YB_DYNLIB_FN(yb_libarchive, __LA_MODE_T, archive_entry_filetype, (struct archive_entry * e), (e))
YB_DYNLIB_FN(yb_libarchive, const char *, archive_entry_pathname, (struct archive_entry * e), (e))
YB_DYNLIB_FN(yb_libarchive, la_int64_t, archive_entry_size, (struct archive_entry * e), (e))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_set_filetype,
                  (struct archive_entry * e, unsigned int type), (e, type))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_set_perm, (struct archive_entry * e, __LA_MODE_T m),
                  (e, m))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_set_uid, (struct archive_entry * e, la_int64_t id),
                  (e, id))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_set_gid, (struct archive_entry * e, la_int64_t id),
                  (e, id))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_set_size, (struct archive_entry * e, la_int64_t n),
                  (e, n))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_set_mtime,
                  (struct archive_entry * e, time_t sec, long nsec), (e, sec, nsec))
YB_DYNLIB_VOID_FN(yb_libarchive, archive_entry_xattr_add_entry,
                  (struct archive_entry * e, const char *name, const void *value, size_t size),
                  (e, name, value, size))

YB_DYNLIB_FN(yb_libarchive, const char *, archive_error_string, (struct archive * a), (a))

YB_DYNLIB_FN(yb_libarchive, struct archive *, archive_write_new, (void), ())
YB_DYNLIB_FN(yb_libarchive, int, archive_write_set_format_pax, (struct archive * a), (a))
YB_DYNLIB_FN(yb_libarchive, int, archive_write_set_bytes_per_block,
             (struct archive * a, int bytes_per_block), (a, bytes_per_block))
YB_DYNLIB_FN(yb_libarchive, int, archive_write_open,
             (struct archive * a, void *client_data, archive_open_callback *open,
              archive_write_callback *write, archive_close_callback *close),
             (a, client_data, open, write, close))
YB_DYNLIB_FN(yb_libarchive, int, archive_write_header,
             (struct archive * a, struct archive_entry *e), (a, e))
YB_DYNLIB_FN(yb_libarchive, la_ssize_t, archive_write_data,
             (struct archive * a, const void *data, size_t n), (a, data, n))
YB_DYNLIB_FN(yb_libarchive, int, archive_write_finish_entry, (struct archive * a), (a))
YB_DYNLIB_FN(yb_libarchive, int, archive_write_close, (struct archive * a), (a))
YB_DYNLIB_FN(yb_libarchive, int, archive_write_free, (struct archive * a), (a))

YB_DYNLIB_FN(yb_libarchive, struct archive *, archive_read_new, (void), ())
YB_DYNLIB_FN(yb_libarchive, int, archive_read_support_format_tar, (struct archive * a), (a))
YB_DYNLIB_FN(yb_libarchive, int, archive_read_open,
             (struct archive * a, void *client_data, archive_open_callback *open,
              archive_read_callback *read, archive_close_callback *close),
             (a, client_data, open, read, close))
YB_DYNLIB_FN(yb_libarchive, int, archive_read_next_header,
             (struct archive * a, struct archive_entry **e), (a, e))
YB_DYNLIB_FN(yb_libarchive, la_ssize_t, archive_read_data,
             (struct archive * a, void *data, size_t n), (a, data, n))
YB_DYNLIB_FN(yb_libarchive, int, archive_read_data_block,
             (struct archive * a, const void **data, size_t *size, la_int64_t *offset),
             (a, data, size, offset))
YB_DYNLIB_FN(yb_libarchive, int, archive_read_free, (struct archive * a), (a))

/* Formatted here: a variadic call cannot be passed on as it is. */
void(archive_set_error)(struct archive *a, int error, const char *fmt, ...) {
        YB_DYNLIB_CALLEE(yb_libarchive, archive_set_error)
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        f(a, error, "%s", msg);
}
