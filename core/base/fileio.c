#include "core/base/fileio.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/base/log.h"

#ifdef YB_FAULT_INJECTION
#include <signal.h>

/* YB_FAULT="write:N" fails the Nth write with ENOSPC, "fsync:N" the Nth fsync with EIO, and
 * "kill:N" kills the process with SIGKILL at the Nth write or fsync, whichever comes first.
 * Writes come from several threads (a volume is written beside its compression): the counters
 * are atomic, so exactly one write is the Nth. */
static int fault_check(const char *op) {
        static _Atomic long writes, fsyncs, both;
        const char *spec = getenv("YB_FAULT");
        size_t n;

        if (!spec)
                return 0;
        if (strncmp(spec, "kill:", 5) == 0) {
                if (++both == atol(spec + 5))
                        raise(SIGKILL);
                return 0;
        }
        n = strlen(op);
        if (strncmp(spec, op, n) != 0 || spec[n] != ':')
                return 0;
        _Atomic long *counter = streq(op, "write") ? &writes : &fsyncs;
        if (++*counter == atol(spec + n + 1))
                return streq(op, "write") ? -ENOSPC : -EIO;
        return 0;
}
#else
static int fault_check(const char *op) {
        return 0;
}
#endif

int yb_write_all(int fd, const void *data, size_t n) {
        const uint8_t *p = data;
        int r = fault_check("write");

        if (r < 0)
                return r;
        while (n > 0) {
                ssize_t k = write(fd, p, n);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

int yb_pwrite_all(int fd, const void *data, size_t n, uint64_t off) {
        const uint8_t *p = data;
        int r = fault_check("write");

        if (r < 0)
                return r;
        while (n > 0) {
                ssize_t k = pwrite(fd, p, n, (off_t) off);

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        return -EIO;
                p += k;
                n -= (size_t) k;
                off += (uint64_t) k;
        }
        return 0;
}

/* Reads until n bytes or end of file, at the file position (off < 0) or at off. */
static ssize_t read_loop(int fd, void *data, size_t n, int64_t off) {
        size_t got = 0;

        while (got < n) {
                ssize_t k = off < 0 ? read(fd, (uint8_t *) data + got, n - got)
                                    : pread(fd, (uint8_t *) data + got, n - got,
                                            (off_t) ((uint64_t) off + got));

                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        return negative_errno();
                }
                if (k == 0)
                        break;
                got += (size_t) k;
        }
        return (ssize_t) got;
}

ssize_t yb_read_all(int fd, void *data, size_t n) {
        return read_loop(fd, data, n, -1);
}

ssize_t yb_pread_all(int fd, void *data, size_t n, uint64_t off) {
        return read_loop(fd, data, n, (int64_t) off);
}

int yb_fsync(int fd) {
        int r = fault_check("fsync");

        if (r < 0)
                return r;
        if (fsync(fd) < 0)
                return negative_errno();
        return 0;
}

int yb_read_file_at(int dir_fd, const char *path, size_t max, YbBuf *ret) {
        _cleanup_close_ int fd = -EBADF;
        uint8_t tmp[65536];

        fd = openat(dir_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return negative_errno();
        for (;;) {
                ssize_t k = yb_read_all(fd, tmp, sizeof(tmp));
                int r;

                if (k < 0)
                        return (int) k;
                if (k == 0)
                        break;
                if (ret->size + (size_t) k > max)
                        return -EFBIG;
                r = yb_buf_append(ret, tmp, (size_t) k);
                if (r < 0)
                        return r;
                if ((size_t) k < sizeof(tmp))
                        break;
        }
        return 0;
}

int yb_fsync_dir_at(int dir_fd, const char *path) {
        _cleanup_close_ int fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0)
                return negative_errno();
        return yb_fsync(fd);
}

static int dirname_of(const char *path, char **ret) {
        const char *slash = strrchr(path, '/');
        char *d;

        if (!slash)
                d = strdup(".");
        else if (slash == path)
                d = strdup("/");
        else
                d = strndup(path, (size_t) (slash - path));
        if (!d)
                return -ENOMEM;
        *ret = d;
        return 0;
}

int yb_write_file_atomic_at(int dir_fd, const char *path, const void *data, size_t n, mode_t mode) {
        _cleanup_free_ char *tmp = NULL, *dir = NULL;
        _cleanup_close_ int fd = -EBADF;
        int r;

        if (asprintf(&tmp, "%s.tmp-%ld", path, (long) getpid()) < 0)
                return -ENOMEM;
        r = dirname_of(path, &dir);
        if (r < 0)
                return r;
        fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode);
        if (fd < 0)
                return negative_errno();
        r = yb_write_all(fd, data, n);
        if (r >= 0)
                r = yb_fsync(fd);
        if (r >= 0 && renameat(dir_fd, tmp, dir_fd, path) < 0)
                r = negative_errno();
        if (r < 0) {
                (void) unlinkat(dir_fd, tmp, 0);
                return r;
        }
        return yb_fsync_dir_at(dir_fd, dir);
}

/* mkdirat that accepts an existing directory, and only a directory. */
static int mkdir_one(int dir_fd, const char *path, mode_t mode) {
        struct stat st;

        if (mkdirat(dir_fd, path, mode) == 0)
                return 0;
        if (errno != EEXIST)
                return negative_errno();
        if (fstatat(dir_fd, path, &st, 0) < 0)
                return negative_errno();
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

int yb_mkdir_p_at(int dir_fd, const char *path, mode_t mode) {
        _cleanup_free_ char *p = strdup(path);
        char *s;
        int r;

        if (!p)
                return -ENOMEM;
        for (s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = 0;
                r = mkdir_one(dir_fd, p, mode);
                if (r < 0)
                        return r;
                *s = '/';
        }
        return mkdir_one(dir_fd, p, mode);
}

/* How deep yb_rm_rf_at goes holding a directory fd per level; a directory deeper is moved up
 * into the top (the same file system: no mount point is crossed on the way) and removed from
 * there, so that a tree of any depth is removed with at most this many fds. */
#define RM_DEPTH_MAX 32

/* The mount a file is on: its mount id, or (a kernel without it) its device. */
static int mount_of(int fd, uint64_t *ret) {
        struct statx sx;

        if (statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MNT_ID, &sx) < 0)
                return negative_errno();
        *ret = sx.stx_mask & STATX_MNT_ID ? sx.stx_mnt_id
                                          : ((uint64_t) sx.stx_dev_major << 32 | sx.stx_dev_minor);
        return 0;
}

/* A subdirectory of dir_fd by name, on the same mount (-EXDEV when it is a mount point, a bind
 * mount too), no symlink followed. */
static int open_subdir(int dir_fd, const char *name) {
        int fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        uint64_t parent, self;
        int r;

        if (fd < 0)
                return negative_errno();
        r = mount_of(dir_fd, &parent);
        if (r >= 0)
                r = mount_of(fd, &self);
        if (r >= 0 && parent != self)
                r = -EXDEV;
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        return fd;
}

/* Removes what fd (a directory, taken) holds; *moved counts the directories moved up into
 * top_fd, which the caller removes in another pass. */
static int rm_children(int top_fd, int fd, int depth, unsigned *moved) {
        DIR *d = fdopendir(fd);
        struct dirent *de;
        int r = 0;

        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (unlinkat(dirfd(d), de->d_name, 0) == 0 || errno == ENOENT)
                        continue;
                if (errno != EISDIR && errno != EPERM) {
                        r = negative_errno();
                        continue;
                }
                if (depth >= RM_DEPTH_MAX) {
                        int k = -EEXIST;

                        for (unsigned i = 0; k == -EEXIST && i < 1000; i++) {
                                char tmp[32];

                                snprintf(tmp, sizeof(tmp), ".yb-rm-%u", (*moved)++);
                                k = renameat2(dirfd(d), de->d_name, top_fd, tmp,
                                              RENAME_NOREPLACE) == 0
                                            ? 0
                                            : negative_errno();
                        }
                        if (k < 0)
                                r = k;
                        continue;
                }
                int sub = open_subdir(dirfd(d), de->d_name);
                if (sub < 0) {
                        if (sub != -ENOENT)
                                r = sub;
                        continue;
                }
                int k = rm_children(top_fd, sub, depth + 1, moved);
                if (k < 0)
                        r = k;
                else if (unlinkat(dirfd(d), de->d_name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                        r = negative_errno();
        }
        closedir(d);
        return r;
}

int yb_rm_rf_at(int dir_fd, const char *path) {
        int fd, top, r;
        unsigned moved = 0, before;

        if (unlinkat(dir_fd, path, 0) == 0 || errno == ENOENT)
                return 0;
        fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        top = fcntl(fd, F_DUPFD_CLOEXEC, 3);
        if (top < 0) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        /* A pass moves what lies deeper than RM_DEPTH_MAX up into the top: another pass
         * removes it (each pass a fresh listing of the top). */
        do {
                before = moved;
                r = rm_children(top, fd, 0, &moved);
                fd = -EBADF;
                if (r < 0 || moved == before)
                        break;
                fd = openat(top, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        r = negative_errno();
        } while (fd >= 0);
        safe_close(top);
        if (r < 0)
                return r;
        if (unlinkat(dir_fd, path, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return negative_errno();
        return 0;
}

int yb_read_secret_file(const char *path, char **ret) {
        YbBuf b = YB_BUF_INIT;
        char *nl;
        int r;

        r = yb_read_file_at(AT_FDCWD, path, 4096, &b);
        if (r >= 0)
                r = yb_buf_append_u8(&b, 0);
        if (r < 0) {
                yb_buf_done(&b);
                return r;
        }
        nl = strpbrk((char *) b.data, "\r\n");
        if (nl)
                *nl = 0;
        *ret = (char *) yb_buf_steal(&b, NULL);
        return 0;
}

int yb_open_beneath(int dir_fd, const char *path, int flags) {
        struct open_how how = {
                .flags = (uint64_t) (flags | O_NOFOLLOW | O_CLOEXEC),
                .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
                           RESOLVE_NO_XDEV,
        };
        _cleanup_free_ char *p = NULL;
        int fd = (int) syscall(SYS_openat2, dir_fd, path, &how, sizeof(how));
        char *s, *slash;

        if (fd >= 0)
                return fd;
        if (errno != ENOSYS && errno != EPERM)
                return -errno;
        p = strdup(path);
        if (!p)
                return -ENOMEM;
        fd = fcntl(dir_fd, F_DUPFD_CLOEXEC, 3);
        for (s = p; fd >= 0 && (slash = strchr(s, '/')); s = slash + 1) {
                int next;

                *slash = 0;
                next = openat(fd, s, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOTDIR) {
                        struct stat st;

                        if (fstatat(fd, s, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                                errno = ELOOP;
                }
                safe_close(fd);
                fd = next;
        }
        if (fd < 0)
                return -errno;
        int r = openat(fd, s, flags | O_NOFOLLOW | O_CLOEXEC);

        if (r < 0)
                r = -errno;
        safe_close(fd);
        return r;
}
