/* The fanotify half of the replicator's change capture: one mark per file system holding a
 * source (FAN_MARK_FILESYSTEM, which needs root), events reported with the file handle of their
 * directory and the entry's name (FAN_REPORT_DFID_NAME), and renames as one event naming both
 * ends where the kernel has FAN_RENAME. A directory handle is opened (open_by_handle_at) to learn
 * its path now; events below no source are dropped. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>

#include "agents/replicate.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

#ifndef FAN_RENAME
#define FAN_RENAME 0x10000000
#endif
#ifndef FAN_EVENT_INFO_TYPE_OLD_DFID_NAME
#define FAN_EVENT_INFO_TYPE_OLD_DFID_NAME 10
#define FAN_EVENT_INFO_TYPE_NEW_DFID_NAME 12
#endif

#define FANOTIFY_MASK                                                                              \
        (FAN_CREATE | FAN_DELETE | FAN_MOVED_FROM | FAN_MOVED_TO | FAN_MODIFY | FAN_ATTRIB |       \
         FAN_CLOSE_WRITE | FAN_DELETE_SELF | FAN_MOVE_SELF | FAN_ONDIR)

int agent_fanotify_open(const AgentSource *sources, size_t n) {
        _cleanup_close_ int fd = -EBADF;

        fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
                           O_RDONLY | O_LARGEFILE | O_CLOEXEC);
        if (fd < 0)
                return negative_errno();
        for (size_t i = 0; i < n; i++) {
                const unsigned flags = FAN_MARK_ADD | FAN_MARK_FILESYSTEM;

                /* FAN_RENAME (Linux 5.17) names both ends of a rename in one event. */
                if (fanotify_mark(fd, flags, FANOTIFY_MASK | FAN_RENAME, AT_FDCWD,
                                  sources[i].real) == 0)
                        continue;
                if (errno == EINVAL &&
                    fanotify_mark(fd, flags, FANOTIFY_MASK, AT_FDCWD, sources[i].real) == 0)
                        continue;
                if (errno == ENOENT || errno == ENOTDIR)
                        continue; /* the scan says it cannot be read */
                return log_debug_errno(errno, "Cannot mark the file system of '%s': %m",
                                       sources[i].real);
        }
        return TAKE_FD(fd);
}

/* The mount fd of the source whose file system has fsid, or -EBADF. The fsids are learnt once
 * (capture thread only). */
static int mount_fd_for(const int *mount_fds, size_t n, const __kernel_fsid_t *fsid) {
        static fsid_t *fsids;
        static size_t n_fsids;

        if (!fsids) {
                fsids = new0(fsid_t, n + 1);
                if (!fsids)
                        return -EBADF;
                for (size_t i = 0; i < n; i++) {
                        struct statfs sf;

                        if (mount_fds[i] >= 0 && fstatfs(mount_fds[i], &sf) == 0)
                                fsids[i] = sf.f_fsid;
                }
                n_fsids = n;
        }
        for (size_t i = 0; i < n && i < n_fsids; i++)
                if (mount_fds[i] >= 0 && memcmp(&fsids[i], fsid, sizeof(*fsid)) == 0)
                        return mount_fds[i];
        return -EBADF;
}

/* A file system mark sees every change of the file system, most of them outside the sources:
 * the path of each directory handle is remembered, so that an event outside costs a lookup and
 * not an open. Directory moves (which change paths) empty it. Direct-mapped; capture thread
 * only. */
#define DIR_CACHE_SIZE 4096
#define DIR_HANDLE_MAX 128

typedef struct DirCacheEntry {
        uint8_t handle[sizeof(struct file_handle) + DIR_HANDLE_MAX];
        size_t size; /* 0: empty */
        char *path;  /* NULL: not under a source (or gone) */
} DirCacheEntry;

static DirCacheEntry dir_cache[DIR_CACHE_SIZE];

static void dir_cache_clear(void) {
        for (size_t i = 0; i < DIR_CACHE_SIZE; i++) {
                free(dir_cache[i].path);
                dir_cache[i] = (DirCacheEntry){ .size = 0 };
        }
}

static size_t handle_hash(const uint8_t *h, size_t n) {
        uint64_t x = 0xcbf29ce484222325ULL;

        for (size_t i = 0; i < n; i++)
                x = (x ^ h[i]) * 0x100000001b3ULL;
        return (size_t) (x % DIR_CACHE_SIZE);
}

/* The path of the directory a handle names, if under a source; NULL otherwise or when gone. */
static const char *dir_path(int mount_fd, struct file_handle *fh, const AgentSource *sources,
                            size_t n) {
        size_t size = sizeof(*fh) + fh->handle_bytes;
        DirCacheEntry *c = &dir_cache[handle_hash((const uint8_t *) fh, size)];
        char link[64], target[PATH_MAX + 1];
        _cleanup_close_ int fd = -EBADF;
        ssize_t k;

        if (c->size == size && memcmp(c->handle, fh, size) == 0)
                return c->path;
        fd = open_by_handle_at(mount_fd, fh, O_PATH | O_CLOEXEC);
        if (fd < 0)
                return NULL; /* gone: its deletion was reported by its parent */
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        k = readlink(link, target, PATH_MAX);
        if (k <= 0)
                return NULL;
        target[k] = 0;
        if (strstr(target, " (deleted)"))
                return NULL;
        if (size > sizeof(c->handle))
                return NULL;
        free(c->path);
        memcpy(c->handle, fh, size);
        c->size = size;
        /* A directory is kept when it is a source, below one, or holds one (a file source). */
        c->path = NULL;
        for (size_t i = 0; i < n && !c->path; i++) {
                size_t kt = strlen(target), ks = strlen(sources[i].real);

                if ((strncmp(sources[i].real, target, kt) == 0 &&
                     (sources[i].real[kt] == '/' || sources[i].real[kt] == 0 || kt == 1)) ||
                    (strncmp(target, sources[i].real, ks) == 0 &&
                     (target[ks] == '/' || target[ks] == 0)))
                        c->path = strdup(target);
        }
        return c->path;
}

/* The path of the entry name in the directory of handle fh ("" or "." for the directory
 * itself), or NULL when it is not under a source or is gone. */
static char *handle_path(int mount_fd, struct file_handle *fh, const char *name,
                         const AgentSource *sources, size_t n) {
        const char *dir = dir_path(mount_fd, fh, sources, n);
        char *p = NULL;

        if (!dir)
                return NULL;
        if (!name || !*name || streq(name, "."))
                return strdup(dir);
        if (asprintf(&p, "%s%s%s", dir, streq(dir, "/") ? "" : "/", name) < 0)
                return NULL;
        return p;
}

void agent_fanotify_handle(const void *buf, size_t len, const int *mount_fds,
                           const AgentSource *sources, size_t n, char *const *excludes,
                           size_t n_excludes, AgentDirty *dirty, bool *ret_overflow) {
        int64_t now = yb_now_ns();
        const uint8_t *p = buf;

        /* Events are packed without padding: each is copied out before it is read. */
        for (size_t off = 0; off + sizeof(struct fanotify_event_metadata) <= len;) {
                struct fanotify_event_metadata m;
                const uint8_t *info, *end;

                memcpy(&m, p + off, sizeof(m));
                if (m.event_len < sizeof(m) || off + m.event_len > len)
                        break;
                info = p + off + m.metadata_len;
                end = p + off + m.event_len;
                off += m.event_len;
                if (m.vers != FANOTIFY_METADATA_VERSION)
                        continue;
                if (m.mask & FAN_Q_OVERFLOW) {
                        *ret_overflow = true;
                        continue;
                }
                if (m.fd >= 0)
                        close(m.fd);
                /* A directory moved: paths of cached handles may have changed. */
                if ((m.mask & FAN_ONDIR) && (m.mask & (FAN_MOVED_FROM | FAN_MOVED_TO | FAN_RENAME)))
                        dir_cache_clear();
                while (info + sizeof(struct fanotify_event_info_header) <= end) {
                        struct fanotify_event_info_fid fid;
                        _cleanup_free_ struct file_handle *fh = NULL;
                        struct file_handle fh_head;
                        const uint8_t *handle;
                        const char *name = NULL;
                        _cleanup_free_ char *abs = NULL;
                        unsigned flags = 0;
                        int mfd;

                        memcpy(&fid, info, sizeof(fid));
                        if (fid.hdr.len < sizeof(fid) + sizeof(fh_head) || info + fid.hdr.len > end)
                                break;
                        handle = info + sizeof(fid);
                        info += fid.hdr.len;
                        if (fid.hdr.info_type != FAN_EVENT_INFO_TYPE_DFID_NAME &&
                            fid.hdr.info_type != FAN_EVENT_INFO_TYPE_DFID &&
                            fid.hdr.info_type != FAN_EVENT_INFO_TYPE_OLD_DFID_NAME &&
                            fid.hdr.info_type != FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
                                continue;
                        memcpy(&fh_head, handle, sizeof(fh_head));
                        if (handle + sizeof(fh_head) + fh_head.handle_bytes > info)
                                continue;
                        fh = malloc(sizeof(fh_head) + fh_head.handle_bytes);
                        if (!fh)
                                continue;
                        memcpy(fh, handle, sizeof(fh_head) + fh_head.handle_bytes);
                        if (fid.hdr.info_type != FAN_EVENT_INFO_TYPE_DFID)
                                name = (const char *) handle + sizeof(fh_head) +
                                       fh_head.handle_bytes;
                        mfd = mount_fd_for(mount_fds, n, &fid.fsid);
                        if (mfd < 0)
                                continue;
                        abs = handle_path(mfd, fh, name, sources, n);
                        if (!abs)
                                continue;
                        /* A directory made or moved in: what is below it is found by a rescan. */
                        if ((m.mask & FAN_ONDIR) &&
                            (m.mask & (FAN_CREATE | FAN_MOVED_TO | FAN_RENAME)) &&
                            fid.hdr.info_type != FAN_EVENT_INFO_TYPE_OLD_DFID_NAME)
                                flags = AGENT_DIRTY_RESCAN;
                        agent_capture_mark(sources, n, excludes, n_excludes, dirty, abs, now,
                                           flags);
                }
        }
}
