/* The local-directory backend: every operation is relative to an fd of the store root.
 *
 * A test hook: in builds with YB_FAULT_INJECTION, YUNBAK_TEST_STORE_OBJECTS=1 makes it behave
 * as an object store (YB_STORE_OBJECTS, store.h), so that the repository's tests run in both
 * modes without an S3 server: no rename of a directory and no append (-EOPNOTSUPP); mkdir,
 * rmdir and sync_dir do nothing (create makes the parent directories itself, and a directory
 * left empty by unlink or rmdir goes, as a prefix without objects does); a created file is
 * written under a hidden name and appears at its own only when it is synced or closed (never
 * after a failed write), refusing to replace anything.
 *
 * The page cache: a store's files are written once, and read once by each restore, verify or
 * copy. Their pages are dropped once used (POSIX_FADV_DONTNEED), behind a reader every
 * DROP_STEP bytes and the whole file when a file read that far is closed, and after each
 * file's fsync, when they are clean. A backup or restore then does not push the host's own
 * working set (its databases, the files just restored) out of memory with volumes nobody
 * reads again soon, and the pages it does need are the ones it just freed: on a virtual
 * machine that hands freed memory back to its host, fresh pages cost a fault in the host each
 * (bench/README.md, "Issue 16: the page cache"). */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/store/store.h"

typedef struct LocalStore {
        YbStore base;
        int root_fd;
} LocalStore;

typedef struct LocalFile {
        YbStoreFile base;
        int fd;
        uint64_t read_end, dropped_end; /* what read() has returned, and dropped of it */
#ifdef YB_FAULT_INJECTION
        /* objects mode: the directory and the hidden name it is written under, until published */
        int dir_fd;
        char *name, *hidden;
        bool failed;
#endif
} LocalFile;

#ifdef YB_FAULT_INJECTION
extern const YbStoreOps yb_store_local_objects_ops;
#define HIDDEN_PREFIX ".yb-part-"
#endif

#define DROP_STEP (8u * 1024 * 1024)

#define LOCAL(s) ((LocalStore *) (s))
#define LFILE(f) ((LocalFile *) (f))

static void local_close(YbStore *s) {
        safe_close(LOCAL(s)->root_fd);
        free(s->location);
        free(s);
}

static int local_open(const char *location, const YbLocation *where, const YbStoreOptions *opts,
                      YbStore **ret, char *err, size_t err_size) {
        LocalStore *s;
        int fd;

        assert(where->kind == YB_LOCATION_LOCAL);
        (void) opts;
        fd = open(where->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                int r = negative_errno();

                snprintf(err, err_size, "cannot open the directory %s: %s", where->path,
                         strerror(-r));
                return r;
        }
        s = new0(LocalStore, 1);
        if (!s) {
                safe_close(fd);
                return -ENOMEM;
        }
        s->base.ops = &yb_store_local_ops;
#ifdef YB_FAULT_INJECTION
        if (streq(getenv("YUNBAK_TEST_STORE_OBJECTS") ?: "", "1"))
                s->base.ops = &yb_store_local_objects_ops;
#endif
        s->base.location = strdup(location);
        s->root_fd = fd;
        if (!s->base.location) {
                local_close(&s->base);
                return -ENOMEM;
        }
        *ret = &s->base;
        return 0;
}

/* Opens the directory holding path's last component, walking it one component at a time with
 * O_NOFOLLOW: a symlink planted anywhere inside the store can never redirect an operation (a
 * root agent writing or deleting) outside it. *ret_name points into path. */
static int open_parent(YbStore *s, const char *path, const char **ret_name) {
        const char *p = path, *slash;
        int fd = fcntl(LOCAL(s)->root_fd, F_DUPFD_CLOEXEC, 3);

        if (fd < 0)
                return negative_errno();
        while ((slash = strchr(p, '/'))) {
                char comp[NAME_MAX + 1];
                size_t n = (size_t) (slash - p);
                int next;

                if (n == 0 || n > NAME_MAX) {
                        safe_close(fd);
                        return -EINVAL;
                }
                memcpy(comp, p, n);
                comp[n] = 0;
                next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                safe_close(fd);
                if (next < 0)
                        return errno == ELOOP ? -ENOTDIR : negative_errno();
                fd = next;
                p = slash + 1;
        }
        *ret_name = p;
        return fd;
}

static int file_new(YbStore *s, int fd, YbStoreFile **ret) {
        LocalFile *f = new0(LocalFile, 1);

        if (!f) {
                safe_close(fd);
                return -ENOMEM;
        }
        f->base.store = s;
        f->fd = fd;
#ifdef YB_FAULT_INJECTION
        f->dir_fd = -EBADF;
#endif
        *ret = &f->base;
        return 0;
}

/* Opens path inside the store (see open_parent) with openat flags; a symlink at the end is
 * refused too (a symlink where a directory is wanted reads as -ENOTDIR). */
static int open_beneath(YbStore *s, const char *path, int flags, mode_t mode) {
        const char *name;
        int dfd = open_parent(s, path, &name), fd;

        if (dfd < 0)
                return dfd;
        fd = openat(dfd, name, flags | O_CLOEXEC | O_NOFOLLOW, mode);
        safe_close(dfd);
        if (fd < 0)
                return errno == ELOOP && (flags & O_DIRECTORY) ? -ENOTDIR : negative_errno();
        return fd;
}

static int local_open_read(YbStore *s, const char *path, YbStoreFile **ret) {
        int fd = open_beneath(s, path, O_RDONLY | O_NOCTTY, 0);

        return fd < 0 ? fd : file_new(s, fd, ret);
}

static int local_create(YbStore *s, const char *path, unsigned flags, YbStoreFile **ret) {
        int fd;

        (void) flags; /* no retention on a directory */
        fd = open_beneath(s, path, O_WRONLY | O_CREAT | O_EXCL, 0640);
        return fd < 0 ? fd : file_new(s, fd, ret);
}

static int local_open_append(YbStore *s, const char *path, uint64_t *ret_size, YbStoreFile **ret) {
        struct stat st;
        int fd = open_beneath(s, path, O_WRONLY | O_APPEND | O_NOCTTY, 0), r;

        if (fd < 0)
                return fd;
        if (fstat(fd, &st) < 0) {
                r = negative_errno();
                safe_close(fd);
                return r;
        }
        if (!S_ISREG(st.st_mode)) {
                safe_close(fd);
                return -EISDIR;
        }
        r = file_new(s, fd, ret);
        if (r >= 0)
                *ret_size = (uint64_t) st.st_size;
        return r;
}

/* Drops what a sequential reader has passed, in steps: reads at the offset where the last one
 * ended count, others (random access) are left alone. */
static void read_behind(LocalFile *l, uint64_t off, ssize_t k) {
        if (k <= 0 || off != l->read_end)
                return;
        l->read_end += (uint64_t) k;
        if (l->read_end - l->dropped_end >= DROP_STEP) {
                /* Advice only: a file system without a page cache of its own ignores it. */
                (void) posix_fadvise(l->fd, (off_t) l->dropped_end,
                                     (off_t) (l->read_end - l->dropped_end), POSIX_FADV_DONTNEED);
                l->dropped_end = l->read_end;
        }
}

static ssize_t local_read(YbStoreFile *f, void *data, size_t n) {
        LocalFile *l = LFILE(f);
        ssize_t k = yb_read_all(l->fd, data, n);

        read_behind(l, l->read_end, k);
        return k;
}

static ssize_t local_pread(YbStoreFile *f, void *data, size_t n, uint64_t off) {
        LocalFile *l = LFILE(f);
        ssize_t k = yb_pread_all(l->fd, data, n, off);

        read_behind(l, off, k);
        return k;
}

static int local_write(YbStoreFile *f, const void *data, size_t n) {
        return yb_write_all(LFILE(f)->fd, data, n);
}

static int local_sync(YbStoreFile *f) {
        int r = yb_fsync(LFILE(f)->fd);

        if (r >= 0) /* clean now: its pages can go */
                (void) posix_fadvise(LFILE(f)->fd, 0, 0, POSIX_FADV_DONTNEED);
        return r;
}

static void local_file_close(YbStoreFile *f) {
        LocalFile *l = LFILE(f);

        /* A file read in steps: what the reader's read-ahead brought in beyond its last step. */
        if (l->dropped_end > 0)
                (void) posix_fadvise(l->fd, 0, 0, POSIX_FADV_DONTNEED);
        safe_close(l->fd);
        free(f);
}

static int local_rename(YbStore *s, const char *from, const char *to) {
        const char *fname, *tname;
        int ffd, tfd, r = 0;

        ffd = open_parent(s, from, &fname);
        if (ffd < 0)
                return ffd;
        tfd = open_parent(s, to, &tname);
        if (tfd < 0) {
                safe_close(ffd);
                return tfd;
        }
        if (renameat2(ffd, fname, tfd, tname, RENAME_NOREPLACE) < 0)
                r = negative_errno();
        safe_close(ffd);
        safe_close(tfd);
        return r;
}

/* Runs one *at() call on path's parent directory. */
#define AT_PARENT(s, path, call)                                                                   \
        ({                                                                                         \
                const char *name;                                                                  \
                int _dfd = open_parent((s), (path), &name), _r;                                    \
                                                                                                   \
                if (_dfd < 0)                                                                      \
                        _r = _dfd;                                                                 \
                else {                                                                             \
                        _r = (call) < 0 ? negative_errno() : 0;                                    \
                        safe_close(_dfd);                                                          \
                }                                                                                  \
                _r;                                                                                \
        })

static int local_unlink(YbStore *s, const char *path) {
        return AT_PARENT(s, path, unlinkat(_dfd, name, 0));
}

static int local_rmdir(YbStore *s, const char *path) {
        return AT_PARENT(s, path, unlinkat(_dfd, name, AT_REMOVEDIR));
}

static int local_mkdir(YbStore *s, const char *path) {
        struct stat st;
        int r = AT_PARENT(s, path, mkdirat(_dfd, name, 0750));

        if (r != -EEXIST)
                return r;
        /* An existing directory is fine; a file or a symlink in its place is not. */
        r = AT_PARENT(s, path, fstatat(_dfd, name, &st, AT_SYMLINK_NOFOLLOW));
        if (r < 0)
                return r;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int local_stat(YbStore *s, const char *path, YbStoreStat *ret) {
        struct stat st;
        int r = AT_PARENT(s, path, fstatat(_dfd, name, &st, AT_SYMLINK_NOFOLLOW));

        if (r < 0)
                return r;
        *ret = (YbStoreStat){
                .size = (uint64_t) st.st_size,
                .is_dir = S_ISDIR(st.st_mode),
                .mtime = st.st_mtim.tv_sec,
        };
        return 0;
}

/* Opens a directory of the store without following any symlink on the way. */
static int open_dir(YbStore *s, const char *path) {
        return open_beneath(s, path, O_RDONLY | O_DIRECTORY, 0);
}

static int local_list(YbStore *s, const char *path, int (*fn)(void *ud, const char *name),
                      void *ud) {
        int fd = *path ? open_dir(s, path) : fcntl(LOCAL(s)->root_fd, F_DUPFD_CLOEXEC, 3);
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (fd < 0)
                return *path ? fd : negative_errno();
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        while ((de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                r = fn(ud, de->d_name);
                if (r < 0)
                        break;
        }
        closedir(d);
        return r;
}

static int local_sync_dir(YbStore *s, const char *path) {
        _cleanup_close_ int fd = open_dir(s, path);

        if (fd < 0)
                return fd;
        return yb_fsync(fd);
}

/* Removes a tree through directory fds only (yb_rm_rf_at never follows a symlink). */
static int local_remove_tree(YbStore *s, const char *path) {
        const char *name;
        int dfd = open_parent(s, path, &name), r;

        if (dfd < 0)
                return dfd == -ENOENT ? 0 : dfd;
        r = yb_rm_rf_at(dfd, name);
        safe_close(dfd);
        return r;
}

const YbStoreOps yb_store_local_ops = {
        .kind = YB_LOCATION_LOCAL,
        .open = local_open,
        .close = local_close,
        .open_read = local_open_read,
        .create = local_create,
        .open_append = local_open_append,
        .read = local_read,
        .pread = local_pread,
        .write = local_write,
        .sync = local_sync,
        .file_close = local_file_close,
        .rename = local_rename,
        .unlink = local_unlink,
        .mkdir = local_mkdir,
        .rmdir = local_rmdir,
        .stat = local_stat,
        .list = local_list,
        .sync_dir = local_sync_dir,
        .remove_tree = local_remove_tree,
};

#ifdef YB_FAULT_INJECTION
/* The objects mode (the test hook at the top). */

/* Makes the directories above path's last component: on an object store a file can be created
 * anywhere. */
static int make_parents(YbStore *s, const char *path) {
        const char *p = path, *slash;
        _cleanup_close_ int fd = fcntl(LOCAL(s)->root_fd, F_DUPFD_CLOEXEC, 3);

        if (fd < 0)
                return negative_errno();
        while ((slash = strchr(p, '/'))) {
                char comp[NAME_MAX + 1];
                size_t n = (size_t) (slash - p);
                int next;

                if (n == 0 || n > NAME_MAX)
                        return -EINVAL;
                memcpy(comp, p, n);
                comp[n] = 0;
                if (mkdirat(fd, comp, 0750) < 0 && errno != EEXIST)
                        return negative_errno();
                next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0)
                        return errno == ELOOP ? -ENOTDIR : negative_errno();
                safe_close(fd);
                fd = next;
                p = slash + 1;
        }
        return 0;
}

/* Removes the directories above path that are left empty: a prefix without objects is not
 * there. */
static void drop_empty_parents(YbStore *s, const char *path) {
        _cleanup_free_ char *p = strdup(path);
        char *slash;

        while (p && (slash = strrchr(p, '/'))) {
                *slash = 0;
                if (AT_PARENT(s, p, unlinkat(_dfd, name, AT_REMOVEDIR)) < 0)
                        break;
        }
}

static int objects_create(YbStore *s, const char *path, unsigned flags, YbStoreFile **ret) {
        static unsigned counter;
        _cleanup_free_ char *hidden = NULL, *base = NULL;
        const char *name = NULL;
        struct stat st;
        LocalFile *f;
        int dfd = -ENOENT, fd, r;

        (void) flags;
        /* A parent left empty by another process's unlink may go between the two steps. */
        for (int attempt = 0; attempt < 5 && dfd == -ENOENT; attempt++) {
                r = make_parents(s, path);
                if (r < 0)
                        return r;
                dfd = open_parent(s, path, &name);
        }
        if (dfd < 0)
                return dfd;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
                safe_close(dfd);
                return -EEXIST;
        }
        base = strdup(name);
        if (!base || asprintf(&hidden, HIDDEN_PREFIX "%ld-%u-%s", (long) getpid(),
                              __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED), name) < 0) {
                hidden = NULL;
                safe_close(dfd);
                return -ENOMEM;
        }
        fd = openat(dfd, hidden, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);
        if (fd < 0) {
                r = negative_errno();
                safe_close(dfd);
                return r;
        }
        r = file_new(s, fd, ret);
        if (r < 0) {
                (void) unlinkat(dfd, hidden, 0);
                safe_close(dfd);
                return r;
        }
        f = LFILE(*ret);
        f->dir_fd = dfd;
        f->name = TAKE_PTR(base);
        f->hidden = TAKE_PTR(hidden);
        return 0;
}

static int objects_write(YbStoreFile *f, const void *data, size_t n) {
        int r = local_write(f, data, n);

        if (r < 0)
                LFILE(f)->failed = true;
        return r;
}

/* Makes the file appear at its name, never replacing one there. */
static int publish(LocalFile *f) {
        int r = 0;

        if (!f->hidden)
                return 0;
        if (f->failed)
                r = -EIO;
        else if (renameat2(f->dir_fd, f->hidden, f->dir_fd, f->name, RENAME_NOREPLACE) < 0)
                r = negative_errno();
        if (r < 0) {
                f->failed = true;
                (void) unlinkat(f->dir_fd, f->hidden, 0);
        }
        free(f->hidden);
        f->hidden = NULL;
        return r;
}

static int objects_sync(YbStoreFile *f) {
        int r = LFILE(f)->hidden && !LFILE(f)->failed ? local_sync(f) : 0;

        if (r < 0)
                LFILE(f)->failed = true;
        return publish(LFILE(f)) < 0 ? (r < 0 ? r : -EIO) : r;
}

static void objects_file_close(YbStoreFile *f) {
        LocalFile *lf = LFILE(f);

        (void) publish(lf);
        safe_close(lf->dir_fd);
        free(lf->name);
        local_file_close(f);
}

static void objects_file_abort(YbStoreFile *f) {
        LFILE(f)->failed = true; /* publish() drops it */
        objects_file_close(f);
}

static int objects_open_append(YbStore *s, const char *path, uint64_t *ret_size,
                               YbStoreFile **ret) {
        return -EOPNOTSUPP;
}

static int objects_rename(YbStore *s, const char *from, const char *to) {
        struct stat st;
        int r = AT_PARENT(s, from, fstatat(_dfd, name, &st, AT_SYMLINK_NOFOLLOW));

        if (r < 0)
                return r;
        if (S_ISDIR(st.st_mode))
                return -EOPNOTSUPP;
        r = make_parents(s, to);
        if (r >= 0)
                r = local_rename(s, from, to);
        if (r >= 0)
                drop_empty_parents(s, from);
        return r;
}

static int objects_unlink(YbStore *s, const char *path) {
        int r = local_unlink(s, path);

        if (r >= 0)
                drop_empty_parents(s, path);
        return r;
}

static int objects_nothing(YbStore *s, const char *path) {
        return 0;
}

static int objects_rmdir(YbStore *s, const char *path) {
        int r = local_rmdir(s, path);

        if (r >= 0)
                drop_empty_parents(s, path);
        return r == -ENOTEMPTY || r == -EEXIST || r == -ENOENT ? 0 : r;
}

typedef struct ListFilter {
        int (*fn)(void *ud, const char *name);
        void *ud;
} ListFilter;

static int skip_hidden(void *ud, const char *name) {
        ListFilter *lf = ud;

        return strncmp(name, HIDDEN_PREFIX, strlen(HIDDEN_PREFIX)) == 0 ? 0 : lf->fn(lf->ud, name);
}

static int objects_list(YbStore *s, const char *path, int (*fn)(void *ud, const char *name),
                        void *ud) {
        ListFilter lf = { fn, ud };

        return local_list(s, path, skip_hidden, &lf);
}

static int objects_remove_tree(YbStore *s, const char *path) {
        int r = local_remove_tree(s, path);

        if (r >= 0)
                drop_empty_parents(s, path);
        return r;
}

const YbStoreOps yb_store_local_objects_ops = {
        .kind = YB_LOCATION_LOCAL,
        .flags = YB_STORE_OBJECTS,
        .open = local_open,
        .close = local_close,
        .open_read = local_open_read,
        .create = objects_create,
        .open_append = objects_open_append,
        .read = local_read,
        .pread = local_pread,
        .write = objects_write,
        .sync = objects_sync,
        .file_close = objects_file_close,
        .file_abort = objects_file_abort,
        .rename = objects_rename,
        .unlink = objects_unlink,
        .mkdir = objects_nothing,
        .rmdir = objects_rmdir,
        .stat = local_stat,
        .list = objects_list,
        .sync_dir = objects_nothing,
        .remove_tree = objects_remove_tree,
};
#endif
