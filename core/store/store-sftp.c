/* core/store/store-sftp.c: the SFTP backend (libssh2): its files and its path operations, on
 * the connection of core/store/sftp-conn.h. How each guarantee of store.h is kept over SFTP
 * (create, rename, durability, paths) and why: docs/format.md, "SFTP stores". */
#include <stdio.h>

#include "core/base/log.h"
#include "core/store/sftp-conn.h"
#include "core/store/store.h"

/* Reads ask libssh2 for this much at a time (it then keeps up to four times as much requested
 * ahead); writes keep this much sent but not yet acknowledged, OpenSSH's channel window, so that
 * the server always has requests to answer (measured in docs/format.md, "SFTP stores"). */
#define SFTP_BUF_SIZE ((size_t) 2 << 20)
#define SFTP_WRITE_BUF_SIZE (2 * SFTP_BUF_SIZE)

typedef struct SftpFile {
        YbStoreFile base;
        LIBSSH2_SFTP_HANDLE *h;
        uint8_t *buf; /* reading: bytes read ahead; writing: bytes not yet acknowledged */
        /* reading: buf[pos..len) is unread; writing: buf[pos..len) is not yet acknowledged by
         * the server (libssh2 has sent some of it, and is given all of it again each call) */
        size_t len, pos;
        uint64_t hpos;         /* where libssh2's handle reads next */
        uint64_t rpos;         /* reading: where the caller's next read() starts */
        int err;               /* a failed write, reported by every later write and sync */
        int64_t stalled_since; /* writing: since when nothing was acknowledged (monotonic ns) */
        bool writing;          /* buf holds writes, not bytes read ahead */
} SftpFile;

#define SFTP(s) ((YbSftpConn *) (s))
#define SFILE(f) ((SftpFile *) (f))

static int file_new(YbSftpConn *s, LIBSSH2_SFTP_HANDLE *h, YbStoreFile **ret) {
        SftpFile *f = new0(SftpFile, 1);

        if (!f) {
                if (!s->lost)
                        (void) YB_SFTP_RUN(s, libssh2_sftp_close_handle(h));
                return -ENOMEM;
        }
        f->base.store = &s->base;
        f->h = h;
        *ret = &f->base;
        return 0;
}

static int sftp_open_read(YbStore *base, const char *path, YbStoreFile **ret) {
        YbSftpConn *s = SFTP(base);
        LIBSSH2_SFTP_ATTRIBUTES a;
        LIBSSH2_SFTP_HANDLE *h;
        int r;

        r = yb_sftp_check_file(s, path, &a);
        if (r >= 0)
                r = yb_sftp_open_handle(s, path, LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE, &h);
        if (r < 0)
                return r;
        return file_new(s, h, ret);
}

static int sftp_create(YbStore *base, const char *path, YbStoreFile **ret) {
        YbSftpConn *s = SFTP(base);
        LIBSSH2_SFTP_HANDLE *h;
        int r;

        /* CREAT|EXCL: the server's open(2) fails on anything already there, a symlink too. */
        r = yb_sftp_check_parents(s, path);
        if (r >= 0)
                r = yb_sftp_open_handle(s, path,
                                        LIBSSH2_FXF_WRITE | LIBSSH2_FXF_CREAT | LIBSSH2_FXF_EXCL,
                                        0640, LIBSSH2_SFTP_OPENFILE, &h);
        if (r < 0)
                return r;
        return file_new(s, h, ret);
}

static int sftp_open_append(YbStore *base, const char *path, uint64_t *ret_size,
                            YbStoreFile **ret) {
        YbSftpConn *s = SFTP(base);
        LIBSSH2_SFTP_ATTRIBUTES a;
        LIBSSH2_SFTP_HANDLE *h;
        int r;

        r = yb_sftp_check_file(s, path, &a);
        if (r < 0)
                return r;
        if (!LIBSSH2_SFTP_S_ISREG(a.permissions) || !(a.flags & LIBSSH2_SFTP_ATTR_SIZE))
                return -EISDIR;
        /* Writes carry their offset in SFTP: start at the end rather than rely on the
         * server's O_APPEND. */
        r = yb_sftp_open_handle(s, path, LIBSSH2_FXF_WRITE, 0, LIBSSH2_SFTP_OPENFILE, &h);
        if (r < 0)
                return r;
        libssh2_sftp_seek64(h, a.filesize);
        r = file_new(s, h, ret);
        if (r >= 0)
                *ret_size = a.filesize;
        return r;
}

/* Reads up to n bytes at the handle's position, fewer only at the end of the file. */
static ssize_t read_handle(SftpFile *f, uint8_t *data, size_t n) {
        YbSftpConn *s = SFTP(f->base.store);
        size_t got = 0;

        while (got < n) {
                ssize_t k;

                if (s->lost)
                        return s->lost;
                k = YB_SFTP_RUN(s, libssh2_sftp_read(f->h, (char *) data + got, n - got));
                if (k < 0)
                        return yb_sftp_map_rc(s, (int) k, "read", "a file");
                if (k == 0)
                        break;
                got += (size_t) k;
                f->hpos += (uint64_t) k;
        }
        return (ssize_t) got;
}

static void seek_handle(SftpFile *f, uint64_t off) {
        if (f->hpos != off) {
                libssh2_sftp_seek64(f->h, off);
                f->hpos = off;
        }
}

static ssize_t sftp_read(YbStoreFile *base, void *data, size_t n) {
        SftpFile *f = SFILE(base);
        uint8_t *out = data;
        size_t got = 0;

        while (got < n) {
                size_t k;

                if (f->pos == f->len) {
                        ssize_t r;

                        seek_handle(f, f->rpos);
                        /* A large request straight into the caller's buffer; small ones
                         * through ours, so that libssh2 asks for much at once either way. */
                        if (n - got >= SFTP_BUF_SIZE) {
                                r = read_handle(f, out + got, n - got);
                                if (r < 0)
                                        return r;
                                got += (size_t) r;
                                f->rpos += (uint64_t) r;
                                break;
                        }
                        if (!f->buf && !(f->buf = malloc(SFTP_BUF_SIZE)))
                                return -ENOMEM;
                        r = read_handle(f, f->buf, SFTP_BUF_SIZE);
                        if (r < 0)
                                return r;
                        f->pos = 0;
                        f->len = (size_t) r;
                        if (r == 0)
                                break;
                }
                k = MIN(n - got, f->len - f->pos);
                memcpy(out + got, f->buf + f->pos, k);
                f->pos += k;
                got += k;
                f->rpos += k;
        }
        return (ssize_t) got;
}

static ssize_t sftp_pread(YbStoreFile *base, void *data, size_t n, uint64_t off) {
        SftpFile *f = SFILE(base);

        seek_handle(f, off);
        return read_handle(f, data, n);
}

/* One libssh2_sftp_write of everything not yet acknowledged: libssh2 sends, as requests of
 * 30000 bytes, what it has not sent yet, and returns what the server has acknowledged since
 * (waiting for at least some); that part is dropped from the buffer. */
static int pump(SftpFile *f) {
        YbSftpConn *s = SFTP(f->base.store);
        ssize_t k;

        if (s->lost)
                return f->err = s->lost;
        k = YB_SFTP_RUN(s,
                        libssh2_sftp_write(f->h, (const char *) f->buf + f->pos, f->len - f->pos));
        /* libssh2 may also answer 0: nothing acknowledged yet. The store's timeout bounds how
         * long that may last, across calls. */
        if (k == 0) {
                if (f->stalled_since == 0)
                        f->stalled_since = yb_monotonic_ns();
                k = yb_sftp_wait(s, f->stalled_since + s->timeout_ns);
        } else if (k > 0)
                f->stalled_since = 0;
        if (k < 0)
                return f->err = yb_sftp_map_rc(s, (int) k, "write", "a file");
        f->pos += (size_t) k;
        if (f->pos == f->len)
                f->pos = f->len = 0;
        return 0;
}

/* Waits until the server has acknowledged everything written. A file only read has nothing to
 * flush: what its buffer holds was read ahead, not written. */
static int flush(SftpFile *f) {
        while (f->writing && !f->err && f->pos < f->len)
                (void) pump(f);
        return f->err;
}

static int sftp_write(YbStoreFile *base, const void *data, size_t n) {
        SftpFile *f = SFILE(base);
        const uint8_t *p = data;
        int r;

        if (f->err)
                return f->err;
        if (!f->buf && !(f->buf = malloc(SFTP_WRITE_BUF_SIZE)))
                return -ENOMEM;
        f->writing = true;
        while (n > 0) {
                size_t k;

                if (f->len == SFTP_WRITE_BUF_SIZE) {
                        /* libssh2 has copied what it sent: the unacknowledged tail may move. */
                        assert(f->pos > 0);
                        memmove(f->buf, f->buf + f->pos, f->len - f->pos);
                        f->len -= f->pos;
                        f->pos = 0;
                }
                k = MIN(n, SFTP_WRITE_BUF_SIZE - f->len);
                memcpy(f->buf + f->len, p, k);
                f->len += k;
                p += k;
                n -= k;
                /* Keep a window's worth in flight, no more. */
                while (f->len - f->pos >= SFTP_BUF_SIZE) {
                        r = pump(f);
                        if (r < 0)
                                return r;
                }
        }
        return 0;
}

static int sftp_sync(YbStoreFile *base) {
        SftpFile *f = SFILE(base);
        int r = flush(f);

        if (r < 0)
                return r;
        return yb_sftp_fsync_handle(SFTP(f->base.store), f->h, "a file");
}

static void sftp_file_close(YbStoreFile *base) {
        SftpFile *f = SFILE(base);
        YbSftpConn *s = SFTP(f->base.store);

        /* Unsynced data is not promised to anyone (a writer syncs before it counts on it);
         * send it anyway, as close(2) would keep it. */
        if (!s->lost && flush(f) < 0)
                log_debug("SFTP store '%s': a write failed on close", s->base.location);
        if (!s->lost)
                (void) YB_SFTP_RUN(s, libssh2_sftp_close_handle(f->h));
        /* After a lost connection the handle stays with libssh2, freed with the session. */
        free(f->buf);
        free(f);
}

static int sftp_rename(YbStore *base, const char *from, const char *to) {
        YbSftpConn *s = SFTP(base);
        _cleanup_free_ char *pf = yb_sftp_full_path(s, from), *pt = yb_sftp_full_path(s, to);
        LIBSSH2_SFTP_ATTRIBUTES a;
        int rc, r;

        if (!pf || !pt)
                return -ENOMEM;
        r = yb_sftp_check_parents(s, from);
        if (r >= 0)
                r = yb_sftp_check_parents(s, to);
        if (r < 0)
                return r;
        /* SSH_FXP_RENAME, which SFTP version 3 defines as failing when the target exists; a
         * server of a later version gets no OVERWRITE flag. */
        rc = (int) YB_SFTP_RUN(
                s, libssh2_sftp_rename_ex(s->sftp, pf, (unsigned) strlen(pf), pt,
                                          (unsigned) strlen(pt),
                                          LIBSSH2_SFTP_RENAME_ATOMIC | LIBSSH2_SFTP_RENAME_NATIVE));
        if (rc < 0) {
                r = yb_sftp_map_rc(s, rc, "rename", pf);
                if (r == -EIO && yb_sftp_stat(s, to, LIBSSH2_SFTP_LSTAT, &a) >= 0)
                        return -EEXIST;
                return r;
        }
        yb_sftp_dir_forget(s, from);
        return 0;
}

/* Runs one path operation of libssh2 on path's server path after checking its parents. */
#define PATH_OP(s, path, what, call)                                                               \
        ({                                                                                         \
                _cleanup_free_ char *_p = yb_sftp_full_path((s), (path));                          \
                int _r = _p ? yb_sftp_check_parents((s), (path)) : -ENOMEM;                        \
                                                                                                   \
                if (_r >= 0 && (s)->lost)                                                          \
                        _r = (s)->lost;                                                            \
                if (_r >= 0) {                                                                     \
                        int _res = (int) YB_SFTP_RUN((s), (call));                                 \
                        if (_res < 0)                                                              \
                                _r = yb_sftp_map_rc((s), _res, (what), _p);                        \
                }                                                                                  \
                _r;                                                                                \
        })

static int sftp_unlink(YbStore *base, const char *path) {
        YbSftpConn *s = SFTP(base);

        return PATH_OP(s, path, "unlink",
                       libssh2_sftp_unlink_ex(s->sftp, _p, (unsigned) strlen(_p)));
}

static int sftp_rmdir(YbStore *base, const char *path) {
        YbSftpConn *s = SFTP(base);
        int r = PATH_OP(s, path, "rmdir",
                        libssh2_sftp_rmdir_ex(s->sftp, _p, (unsigned) strlen(_p)));

        if (r >= 0)
                yb_sftp_dir_forget(s, path);
        return r;
}

static int sftp_mkdir(YbStore *base, const char *path) {
        YbSftpConn *s = SFTP(base);
        LIBSSH2_SFTP_ATTRIBUTES a;
        int r = PATH_OP(s, path, "mkdir",
                        libssh2_sftp_mkdir_ex(s->sftp, _p, (unsigned) strlen(_p), 0750));

        if (r < 0 && r != -EIO && r != -EEXIST)
                return r;
        /* OpenSSH answers FAILURE for EEXIST: an existing directory is fine; a file or a
         * symlink in its place is not. */
        if (r < 0) {
                int k = yb_sftp_stat(s, path, LIBSSH2_SFTP_LSTAT, &a);

                if (k < 0)
                        return k == -ENOENT ? r : k;
                if (!LIBSSH2_SFTP_S_ISDIR(a.permissions))
                        return -ENOTDIR;
        }
        return 0;
}

static int sftp_stat(YbStore *base, const char *path, YbStoreStat *ret) {
        YbSftpConn *s = SFTP(base);
        LIBSSH2_SFTP_ATTRIBUTES a;
        int r = yb_sftp_check_parents(s, path);

        if (r >= 0)
                r = yb_sftp_stat(s, path, LIBSSH2_SFTP_LSTAT, &a);
        if (r < 0)
                return r;
        *ret = (YbStoreStat){
                .size = (a.flags & LIBSSH2_SFTP_ATTR_SIZE) ? a.filesize : 0,
                .is_dir = LIBSSH2_SFTP_S_ISDIR(a.permissions),
                .mtime = (a.flags & LIBSSH2_SFTP_ATTR_ACMODTIME) ? (int64_t) a.mtime : 0,
        };
        return 0;
}

static int sftp_list(YbStore *base, const char *path, int (*fn)(void *ud, const char *name),
                     void *ud) {
        YbSftpConn *s = SFTP(base);
        LIBSSH2_SFTP_HANDLE *h;
        char name[512];
        int r;

        r = yb_sftp_check_dir(s, path, strlen(path));
        if (r >= 0)
                r = yb_sftp_open_handle(s, path, 0, 0, LIBSSH2_SFTP_OPENDIR, &h);
        if (r < 0)
                return r;
        for (;;) {
                LIBSSH2_SFTP_ATTRIBUTES a;
                int k = (int) YB_SFTP_RUN(
                        s, libssh2_sftp_readdir_ex(h, name, sizeof(name), NULL, 0, &a));

                if (k == 0)
                        break;
                if (k < 0) {
                        r = yb_sftp_map_rc(s, k, "list", path);
                        break;
                }
                if (streq(name, ".") || streq(name, ".."))
                        continue;
                r = fn(ud, name);
                if (r < 0)
                        break;
        }
        if (!s->lost)
                (void) YB_SFTP_RUN(s, libssh2_sftp_close_handle(h));
        return r;
}

static int sftp_sync_dir(YbStore *base, const char *path) {
        YbSftpConn *s = SFTP(base);
        LIBSSH2_SFTP_HANDLE *h;
        int r;

        r = yb_sftp_check_dir(s, path, strlen(path));
        if (r < 0 || !s->dir_sync)
                return r;
        r = yb_sftp_open_handle(s, path, LIBSSH2_FXF_READ, 0, LIBSSH2_SFTP_OPENFILE, &h);
        if (r >= 0) {
                r = yb_sftp_fsync_handle(s, h, path);
                if (!s->lost)
                        (void) YB_SFTP_RUN(s, libssh2_sftp_close_handle(h));
        }
        return r;
}

static int sftp_open(const char *location, const YbLocation *where, const YbStoreOptions *opts,
                     YbStore **ret, char *err, size_t err_size) {
        return yb_sftp_conn_open(location, where, opts, &yb_store_sftp_ops, ret, err, err_size);
}

/* Every operation under the connection's lock (sftp-conn.h): one session, several threads. */
#define LOCKED(s, call)                                                                            \
        ({                                                                                         \
                YbSftpConn *_s = (s);                                                              \
                pthread_mutex_lock(&_s->lock);                                                     \
                __typeof__(call) _v = (call);                                                      \
                pthread_mutex_unlock(&_s->lock);                                                   \
                _v;                                                                                \
        })
#define FILE_CONN(f) SFTP((f)->store)

static int locked_open_read(YbStore *b, const char *path, YbStoreFile **ret) {
        return LOCKED(SFTP(b), sftp_open_read(b, path, ret));
}
static int locked_create(YbStore *b, const char *path, unsigned flags, YbStoreFile **ret) {
        (void) flags; /* no retention on an SFTP server */
        return LOCKED(SFTP(b), sftp_create(b, path, ret));
}
static int locked_open_append(YbStore *b, const char *path, uint64_t *ret_size, YbStoreFile **ret) {
        return LOCKED(SFTP(b), sftp_open_append(b, path, ret_size, ret));
}
static ssize_t locked_read(YbStoreFile *f, void *data, size_t n) {
        return LOCKED(FILE_CONN(f), sftp_read(f, data, n));
}
static ssize_t locked_pread(YbStoreFile *f, void *data, size_t n, uint64_t off) {
        return LOCKED(FILE_CONN(f), sftp_pread(f, data, n, off));
}
static int locked_write(YbStoreFile *f, const void *data, size_t n) {
        return LOCKED(FILE_CONN(f), sftp_write(f, data, n));
}
static int locked_sync(YbStoreFile *f) {
        return LOCKED(FILE_CONN(f), sftp_sync(f));
}
static void locked_file_close(YbStoreFile *f) {
        YbSftpConn *s = FILE_CONN(f);

        pthread_mutex_lock(&s->lock);
        sftp_file_close(f);
        pthread_mutex_unlock(&s->lock);
}
static int locked_rename(YbStore *b, const char *from, const char *to) {
        return LOCKED(SFTP(b), sftp_rename(b, from, to));
}
static int locked_unlink(YbStore *b, const char *path) {
        return LOCKED(SFTP(b), sftp_unlink(b, path));
}
static int locked_mkdir(YbStore *b, const char *path) {
        return LOCKED(SFTP(b), sftp_mkdir(b, path));
}
static int locked_rmdir(YbStore *b, const char *path) {
        return LOCKED(SFTP(b), sftp_rmdir(b, path));
}
static int locked_stat(YbStore *b, const char *path, YbStoreStat *ret) {
        return LOCKED(SFTP(b), sftp_stat(b, path, ret));
}
static int locked_list(YbStore *b, const char *path, int (*fn)(void *ud, const char *name),
                       void *ud) {
        return LOCKED(SFTP(b), sftp_list(b, path, fn, ud));
}
static int locked_sync_dir(YbStore *b, const char *path) {
        return LOCKED(SFTP(b), sftp_sync_dir(b, path));
}

const YbStoreOps yb_store_sftp_ops = {
        .kind = YB_LOCATION_SFTP,
        .open = sftp_open,
        .close = yb_sftp_conn_close,
        .open_read = locked_open_read,
        .create = locked_create,
        .open_append = locked_open_append,
        .read = locked_read,
        .pread = locked_pread,
        .write = locked_write,
        .sync = locked_sync,
        .file_close = locked_file_close,
        .rename = locked_rename,
        .unlink = locked_unlink,
        .mkdir = locked_mkdir,
        .rmdir = locked_rmdir,
        .stat = locked_stat,
        .list = locked_list,
        .sync_dir = locked_sync_dir,
};
