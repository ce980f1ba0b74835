/* restore/place.c: entries into the target. Every path is walked one directory fd at a time
 * with O_NOFOLLOW, files are renamed in from the private staging directory, and symlinks, FIFOs
 * and device nodes are made in staging too: nothing is ever done by name to an entry in the
 * target, where someone could swap in a symlink between two calls. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "restore/restore-internal.h"

/* Opens the directory that will hold path inside the target, creating missing directories
 * and refusing to pass through anything that is not a real directory. *ret_name points into
 * path (its last component). */
static int open_parent(Restore *r, const char *path, const char **ret_name) {
        _cleanup_free_ char *copy = strdup(path);
        int fd, k;
        char *p, *slash;

        if (!copy)
                return -ENOMEM;
        fd = fcntl(r->target_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        for (p = copy; (slash = strchr(p, '/')); p = slash + 1) {
                int next;

                *slash = 0;
                next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOENT) {
                        if (mkdirat(fd, p, 0700) < 0 && errno != EEXIST) {
                                k = negative_errno();
                                safe_close(fd);
                                return k;
                        }
                        next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (next < 0) {
                        k = errno == ELOOP || errno == ENOTDIR ? -ENOTDIR : negative_errno();
                        safe_close(fd);
                        return k; /* a symlink or a file where a directory must be */
                }
                safe_close(fd);
                fd = next;
        }
        *ret_name = path + (p - copy);
        return fd;
}

static void apply_xattrs(Restore *r, int fd, const YbEntry *e) {
        for (size_t i = 0; i < e->n_xattrs; i++)
                if (fsetxattr(fd, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].size, 0) <
                            0 &&
                    (r->root || strncmp(e->xattrs[i].name, "user.", 5) == 0 ||
                     strncmp(e->xattrs[i].name, "system.posix_acl", 16) == 0))
                        log_warning("Cannot restore extended attribute '%s' of '%s': %s",
                                    e->xattrs[i].name, e->path, strerror(errno));
}

/* Owner, mode, xattrs, mtime of an open file or directory. Ownership first: chown clears
 * setuid and setgid bits, so the mode comes after it. */
static void apply_meta_fd(Restore *r, int fd, const YbEntry *e) {
        struct timespec ts[2] = { { 0, UTIME_OMIT }, { e->mtime_sec, e->mtime_nsec } };

        if (r->root && fchown(fd, e->uid, e->gid) < 0)
                log_warning("Cannot set the owner of '%s': %s", e->path, strerror(errno));
        apply_xattrs(r, fd, e);
        if (fchmod(fd, e->mode & 07777) < 0)
                log_warning("Cannot set the mode of '%s': %s", e->path, strerror(errno));
        if (futimens(fd, ts) < 0)
                log_warning("Cannot set the time of '%s': %s", e->path, strerror(errno));
}

static int place(Restore *r, const char *stage_name, const char *dest) {
        const char *name;
        int dfd, k = 0;

        dfd = open_parent(r, dest, &name);
        if (dfd < 0)
                return dfd;
        if (renameat(r->staging_fd, stage_name, dfd, name) < 0)
                k = errno == EISDIR ? -EEXIST : negative_errno();
        safe_close(dfd);
        return k;
}

int restore_finish_file(Restore *r, size_t j) {
        Job *job = &r->jobs[j];
        const YbEntry *e = job->e;
        char name[64];
        _cleanup_close_ int fd = -EBADF;

        restore_staging_name(r, j, job->gen, name);
        if (job->n_ops == 0) /* empty file */
                fd = openat(r->staging_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        else
                fd = openat(r->staging_fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        apply_meta_fd(r, fd, e);
        return place(r, name, job->dest);
}

/* Symlinks, FIFOs and device nodes are made in the private staging directory, given their
 * owner, mode and time there, and renamed into place: nothing is ever done by name to an entry
 * in the target, where someone could swap in a symlink between two calls. */
int restore_make_other(Restore *r, size_t i, const YbEntry *e, const YbManifest *m) {
        struct timespec ts[2] = { { 0, UTIME_OMIT }, { e->mtime_sec, e->mtime_nsec } };
        char stage[64];
        const char *name;
        int dfd, k = 0;

        if ((e->type == YB_ENTRY_CHARDEV || e->type == YB_ENTRY_BLOCKDEV) && !r->root)
                return -EPERM;
        dfd = open_parent(r, e->path, &name);
        if (dfd < 0)
                return dfd;
        snprintf(stage, sizeof(stage), "o%zu", i);
        switch (e->type) {
        case YB_ENTRY_SYMLINK:
        case YB_ENTRY_FIFO:
        case YB_ENTRY_CHARDEV:
        case YB_ENTRY_BLOCKDEV:
                if (e->type == YB_ENTRY_SYMLINK)
                        k = symlinkat(e->target, r->staging_fd, stage) < 0 ? negative_errno() : 0;
                else {
                        mode_t type = e->type == YB_ENTRY_FIFO      ? S_IFIFO
                                      : e->type == YB_ENTRY_CHARDEV ? S_IFCHR
                                                                    : S_IFBLK;

                        k = mknodat(r->staging_fd, stage, type | (e->mode & 07777),
                                    (dev_t) e->rdev) < 0
                                    ? negative_errno()
                                    : 0;
                }
                if (k < 0)
                        break;
                if (r->root &&
                    fchownat(r->staging_fd, stage, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                        log_warning("Cannot set the owner of '%s': %s", e->path, strerror(errno));
                /* mknod applied the umask; the recorded mode wins (symlinks have none). The
                 * staging directory is ours alone, so following the name is safe here. */
                if (e->type != YB_ENTRY_SYMLINK &&
                    fchmodat(r->staging_fd, stage, e->mode & 07777, 0) < 0)
                        log_warning("Cannot set the mode of '%s': %s", e->path, strerror(errno));
                (void) utimensat(r->staging_fd, stage, ts, AT_SYMLINK_NOFOLLOW);
                if (renameat(r->staging_fd, stage, dfd, name) < 0) {
                        k = errno == EISDIR ? -EEXIST : negative_errno();
                        (void) unlinkat(r->staging_fd, stage, 0);
                        break;
                }
                if (e->type == YB_ENTRY_SYMLINK)
                        r->stats.symlinks++;
                else
                        r->stats.special++;
                break;
        case YB_ENTRY_HARDLINK: {
                const char *tname;
                const YbEntry *t = yb_manifest_find(m, e->target);
                int tfd;

                if (!t) {
                        k = -EBADMSG;
                        break;
                }
                tfd = open_parent(r, e->target, &tname);
                if (tfd < 0) {
                        k = tfd;
                        break;
                }
                (void) unlinkat(dfd, name, 0); /* linkat does not replace */
                if (linkat(tfd, tname, dfd, name, 0) < 0)
                        k = negative_errno();
                else
                        r->stats.hardlinks++;
                safe_close(tfd);
                break;
        }
        default:
                k = -EBADMSG;
        }
        safe_close(dfd);
        return k;
}

/* Links path to the file a job restored. */
int restore_link_to_job(Restore *r, const Job *job, const char *path) {
        const char *name, *tname;
        int dfd, tfd, k = 0;

        if (job->failed)
                return -ENOENT;
        tfd = open_parent(r, job->dest, &tname);
        if (tfd < 0)
                return tfd;
        dfd = open_parent(r, path, &name);
        if (dfd < 0) {
                safe_close(tfd);
                return dfd;
        }
        (void) unlinkat(dfd, name, 0); /* linkat does not replace */
        if (linkat(tfd, tname, dfd, name, 0) < 0)
                k = negative_errno();
        else
                r->stats.hardlinks++;
        safe_close(dfd);
        safe_close(tfd);
        return k;
}

int restore_make_dir(Restore *r, const YbEntry *e) {
        const char *name;
        int dfd, fd, k = 0;

        dfd = open_parent(r, e->path, &name);
        if (dfd < 0)
                return dfd;
        if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
                k = negative_errno();
        if (k >= 0) {
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        k = errno == ELOOP || errno == ENOTDIR ? -ENOTDIR : negative_errno();
                else
                        safe_close(fd);
        }
        safe_close(dfd);
        return k;
}

/* Directory metadata last, deepest first, so that restoring children does not disturb mtimes
 * and a read-only directory does not block its own contents. */
void restore_finish_dir(Restore *r, const YbEntry *e) {
        const char *name;
        int dfd, fd;

        dfd = open_parent(r, e->path, &name);
        if (dfd < 0)
                return;
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                apply_meta_fd(r, fd, e);
                safe_close(fd);
        }
        safe_close(dfd);
}
