/* The local-directory backend: every operation is relative to an fd of the store root. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "base/fileio.h"
#include "base/log.h"
#include "store/store.h"

typedef struct LocalStore {
        YbStore base;
        int root_fd;
} LocalStore;

typedef struct LocalFile {
        YbStoreFile base;
        int fd;
} LocalFile;

#define LOCAL(s) ((LocalStore *) (s))
#define LFILE(f) ((LocalFile *) (f))

static void local_close(YbStore *s) {
        safe_close(LOCAL(s)->root_fd);
        free(s->location);
        free(s);
}

static int local_open(const char *location, YbStore **ret) {
        const char *path = location;
        LocalStore *s;
        int fd;

        if (strncmp(location, "file://", 7) == 0) {
                path = location + 7;
                if (*path != '/')
                        return -EINVAL; /* file://host/... is not ours to reach */
        }
        if (!*path)
                return -EINVAL;
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        s = new0(LocalStore, 1);
        if (!s) {
                safe_close(fd);
                return -ENOMEM;
        }
        s->base.ops = &yb_store_local_ops;
        s->base.location = strdup(location);
        s->root_fd = fd;
        if (!s->base.location) {
                local_close(&s->base);
                return -ENOMEM;
        }
        *ret = &s->base;
        return 0;
}

static int file_new(YbStore *s, int fd, YbStoreFile **ret) {
        LocalFile *f = new0(LocalFile, 1);

        if (!f) {
                safe_close(fd);
                return -ENOMEM;
        }
        f->base.store = s;
        f->fd = fd;
        *ret = &f->base;
        return 0;
}

static int local_open_read(YbStore *s, const char *path, YbStoreFile **ret) {
        int fd = openat(LOCAL(s)->root_fd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);

        if (fd < 0)
                return negative_errno();
        return file_new(s, fd, ret);
}

static int local_create(YbStore *s, const char *path, YbStoreFile **ret) {
        int fd = openat(LOCAL(s)->root_fd, path,
                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0640);

        if (fd < 0)
                return negative_errno();
        return file_new(s, fd, ret);
}

static ssize_t local_read(YbStoreFile *f, void *data, size_t n) {
        return yb_read_all(LFILE(f)->fd, data, n);
}

static ssize_t local_pread(YbStoreFile *f, void *data, size_t n, uint64_t off) {
        return yb_pread_all(LFILE(f)->fd, data, n, off);
}

static int local_write(YbStoreFile *f, const void *data, size_t n) {
        return yb_write_all(LFILE(f)->fd, data, n);
}

static int local_sync(YbStoreFile *f) {
        return yb_fsync(LFILE(f)->fd);
}

static void local_file_close(YbStoreFile *f) {
        safe_close(LFILE(f)->fd);
        free(f);
}

static int local_rename(YbStore *s, const char *from, const char *to) {
        int fd = LOCAL(s)->root_fd;

        if (renameat2(fd, from, fd, to, RENAME_NOREPLACE) < 0)
                return negative_errno();
        return 0;
}

static int local_unlink(YbStore *s, const char *path) {
        if (unlinkat(LOCAL(s)->root_fd, path, 0) < 0)
                return negative_errno();
        return 0;
}

static int local_mkdir(YbStore *s, const char *path) {
        struct stat st;

        if (mkdirat(LOCAL(s)->root_fd, path, 0750) == 0)
                return 0;
        if (errno != EEXIST)
                return negative_errno();
        /* An existing directory is fine; a file in its place is not. */
        if (fstatat(LOCAL(s)->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int local_rmdir(YbStore *s, const char *path) {
        if (unlinkat(LOCAL(s)->root_fd, path, AT_REMOVEDIR) < 0)
                return negative_errno();
        return 0;
}

static int local_stat(YbStore *s, const char *path, YbStoreStat *ret) {
        struct stat st;

        if (fstatat(LOCAL(s)->root_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return negative_errno();
        *ret = (YbStoreStat){
                .size = (uint64_t) st.st_size,
                .is_dir = S_ISDIR(st.st_mode),
                .mtime = st.st_mtim.tv_sec,
        };
        return 0;
}

static int local_list(YbStore *s, const char *path, int (*fn)(void *ud, const char *name),
                      void *ud) {
        int fd = openat(LOCAL(s)->root_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (fd < 0)
                return negative_errno();
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
        return yb_fsync_dir_at(LOCAL(s)->root_fd, path);
}

const YbStoreOps yb_store_local_ops = {
        .scheme = "file",
        .open = local_open,
        .close = local_close,
        .open_read = local_open_read,
        .create = local_create,
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
};
