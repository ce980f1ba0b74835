/* restore/place.c: entries into the target. Every path is walked one directory fd at a time
 * with O_NOFOLLOW, files are renamed in from the private staging directory, and symlinks, FIFOs
 * and device nodes are made in staging too: nothing is ever done by name to an entry in the
 * target, where someone could swap in a symlink between two calls. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "restore/restore-internal.h"

/* The directory open_parent opened last, kept open with the identity of each directory on the
 * way to it from the target. Entries come in tree order, so the next parent is nearly always
 * this one, a child of it or an ancestor: reaching it costs the levels between the two, not the
 * whole depth, and a restore opens directories in time linear in its entries however deep the
 * tree (a walk from the target for each entry made it quadratic in the depth). */
typedef struct Level {
        size_t end; /* where this directory's name ends in PlaceCursor.path */
        dev_t dev;
        ino_t ino;
        uid_t uid; /* its owner, group and mode when it was opened */
        gid_t gid;
        mode_t mode;
} Level;

struct PlaceCursor {
        int fd;     /* the directory at path */
        char *path; /* relative to the target, "" for the target itself; not NUL-terminated */
        size_t len, path_alloc;
        Level *levels; /* levels[0] is the target, levels[i] the directory i names deep */
        size_t depth, levels_alloc;
};

void restore_place_done(Restore *r) {
        if (!r->cursor)
                return;
        safe_close(r->cursor->fd);
        free(r->cursor->path);
        free(r->cursor->levels);
        free(r->cursor);
        r->cursor = NULL;
}

static Level level_of(size_t end, const struct stat *st) {
        return (Level){ end, st->st_dev, st->st_ino, st->st_uid, st->st_gid, st->st_mode };
}

/* Records the directory now held (fd) as one level deeper, named path[0..end). */
static int cursor_push(PlaceCursor *c, const char *path, size_t end) {
        struct stat st;

        if (fstat(c->fd, &st) < 0)
                return negative_errno();
        if (c->depth + 1 >= c->levels_alloc) {
                size_t a = c->levels_alloc ? c->levels_alloc * 2 : 64;
                Level *l = realloc(c->levels, a * sizeof(Level));

                if (!l)
                        return -ENOMEM;
                c->levels = l;
                c->levels_alloc = a;
        }
        if (end > c->path_alloc) {
                size_t a = MAX(end, c->path_alloc * 2);
                char *p = realloc(c->path, a);

                if (!p)
                        return -ENOMEM;
                c->path = p;
                c->path_alloc = a;
        }
        memcpy(c->path + c->len, path + c->len, end - c->len);
        c->len = end;
        c->levels[++c->depth] = level_of(end, &st);
        return 0;
}

/* Back to the target itself. */
static int cursor_reset(Restore *r, PlaceCursor *c) {
        struct stat st;

        c->fd = safe_close(c->fd);
        c->depth = 0;
        c->len = 0;
        if (fstat(r->target_fd, &st) < 0)
                return negative_errno();
        c->fd = fcntl(r->target_fd, F_DUPFD_CLOEXEC, 3);
        if (c->fd < 0)
                return negative_errno();
        c->levels[0] = level_of(0, &st);
        return 0;
}

/* Up to the ancestor `depth` levels deep, through "..": taken only when it is the very directory
 * recorded on the way down (never a link: ".." is none), else from the target again. */
static int cursor_up(Restore *r, PlaceCursor *c, size_t depth) {
        /* Walking down from the target is cheaper than climbing that far. */
        if (c->depth - depth > depth)
                return cursor_reset(r, c);
        while (c->depth > depth) {
                const Level *up = &c->levels[c->depth - 1];
                int fd = openat(c->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                struct stat st;

                if (fd < 0 || fstat(fd, &st) < 0 || st.st_dev != up->dev || st.st_ino != up->ino) {
                        safe_close(fd);
                        return cursor_reset(r, c);
                }
                safe_close(c->fd);
                c->fd = fd;
                c->depth--;
                c->len = up->end;
        }
        return 0;
}

/* Moves the cursor to the directory path[0..dirlen) inside the target, creating missing
 * directories when create is true, and refusing to pass through anything that is not a real
 * directory. Returns the cursor's fd, borrowed: valid until the cursor moves. */
static int cursor_to(Restore *r, const char *path, size_t dirlen, bool create) {
        size_t same = 0, depth;
        PlaceCursor *c = r->cursor;
        int k;

        if (!c) {
                c = r->cursor = new0(PlaceCursor, 1);
                if (!c)
                        return -ENOMEM;
                c->fd = -EBADF;
                c->levels = new0(Level, 64);
                if (!c->levels)
                        return -ENOMEM;
                c->levels_alloc = 64;
                k = cursor_reset(r, c);
                if (k < 0)
                        return k;
        }
        /* The deepest directory held that is an ancestor of (or is) path's parent. */
        while (same < c->len && same < dirlen && c->path[same] == path[same])
                same++;
        for (depth = c->depth; depth > 0; depth--) {
                size_t end = c->levels[depth].end;

                if (end <= same && (end == dirlen || path[end] == '/'))
                        break;
        }
        k = cursor_up(r, c, depth);
        /* Down the rest, one component at a time, never following a link. */
        while (k >= 0 && c->len < dirlen) {
                size_t start = c->len == 0 ? 0 : c->len + 1;
                const char *slash = memchr(path + start, '/', dirlen - start);
                size_t end = slash ? (size_t) (slash - path) : dirlen;
                _cleanup_free_ char *name = strndup(path + start, end - start);
                int next;

                if (!name) {
                        k = -ENOMEM;
                        break;
                }
                /* Made first, then opened: one open, whether it was there or not. */
                if (create && mkdirat(c->fd, name, 0700) < 0 && errno != EEXIST) {
                        k = negative_errno();
                        break;
                }
                next = openat(c->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0) {
                        /* a symlink or a file where a directory must be */
                        k = errno == ELOOP || errno == ENOTDIR ? -ENOTDIR : negative_errno();
                        break;
                }
                safe_close(c->fd);
                c->fd = next;
                k = cursor_push(c, path, end);
        }
        if (k < 0) {
                (void) cursor_reset(r, c);
                return k;
        }
        return c->fd;
}

/* As cursor_to, but the caller owns the fd returned. */
static int open_dir(Restore *r, const char *path, size_t dirlen, bool create) {
        int k = cursor_to(r, path, dirlen, create);

        if (k < 0)
                return k;
        k = fcntl(k, F_DUPFD_CLOEXEC, 3);
        return k < 0 ? negative_errno() : k;
}

/* Opens the directory that will hold path inside the target, creating missing directories.
 * *ret_name points into path (its last component). */
static int open_parent(Restore *r, const char *path, const char **ret_name) {
        const char *last = strrchr(path, '/');
        int fd = open_dir(r, path, last ? (size_t) (last - path) : 0, true);

        if (fd >= 0)
                *ret_name = last ? last + 1 : path;
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

/* The directory that will hold path, made if missing, borrowed from the cursor (valid until it
 * moves). *ret_name points into path (its last component). */
static int cursor_to_parent(Restore *r, const char *path, const char **ret_name) {
        const char *last = strrchr(path, '/');
        int fd = cursor_to(r, path, last ? (size_t) (last - path) : 0, true);

        if (fd >= 0)
                *ret_name = last ? last + 1 : path;
        return fd;
}

static int place(Restore *r, const char *stage_name, const char *dest) {
        const char *name;
        int dfd = cursor_to_parent(r, dest, &name);

        if (dfd < 0)
                return dfd;
        if (renameat(r->staging_fd, stage_name, dfd, name) < 0)
                return errno == EISDIR ? -EEXIST : negative_errno();
        return 0;
}

int restore_create_file(Restore *r, const Job *job, const char **ret_name) {
        int dfd = cursor_to_parent(r, job->dest, ret_name), fd;

        if (dfd < 0)
                return dfd;
        /* O_EXCL refuses any name that is there, a symlink included: nothing is followed. */
        fd = openat(dfd, *ret_name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                    job->e->mode & 0777);
        return fd < 0 ? negative_errno() : fd;
}

int restore_unlink_created(Restore *r, const char *name) {
        if (!r->cursor || r->cursor->fd < 0 || unlinkat(r->cursor->fd, name, 0) < 0)
                return r->cursor ? negative_errno() : -EBADF;
        return 0;
}

void restore_meta_created(Restore *r, int fd, const YbEntry *e) {
        struct timespec ts[2] = { { 0, UTIME_OMIT }, { e->mtime_sec, e->mtime_nsec } };
        const Level *dir = &r->cursor->levels[r->cursor->depth];
        mode_t made = e->mode & 0777 & ~r->umask;
        bool chowned = false;

        /* Made by us in the cursor's directory: our user, and our group unless the directory
         * is setgid (then its own). */
        if (r->root &&
            (e->uid != r->euid || e->gid != (dir->mode & S_ISGID ? dir->gid : r->egid))) {
                if (fchown(fd, e->uid, e->gid) < 0)
                        log_warning("Cannot set the owner of '%s': %s", e->path, strerror(errno));
                chowned = true;
        }
        apply_xattrs(r, fd, e);
        /* The open gave the mode less the umask; chown cleared setuid and setgid. */
        if (((e->mode & 07777) != made || (chowned && (e->mode & 06000))) &&
            fchmod(fd, e->mode & 07777) < 0)
                log_warning("Cannot set the mode of '%s': %s", e->path, strerror(errno));
        if (futimens(fd, ts) < 0)
                log_warning("Cannot set the time of '%s': %s", e->path, strerror(errno));
}

int restore_finish_file(Restore *r, size_t j) {
        Job *job = &r->jobs[j];
        const YbEntry *e = job->e;
        char name[64];
        _cleanup_close_ int fd = -EBADF;

        if (job->placed)
                return 0;
        if (job->n_ops == 0 && r->direct) { /* an empty file, made where it goes */
                const char *dname;

                fd = restore_create_file(r, job, &dname);
                if (fd >= 0) {
                        restore_meta_created(r, fd, e);
                        return 0;
                }
                if (fd != -EEXIST)
                        return fd;
        }
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
                const YbEntry *t = m ? yb_manifest_find(m, e->target) : e;
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
        int fd = cursor_to(r, e->path, strlen(e->path), true);

        return fd < 0 ? fd : 0;
}

/* Directory metadata last, deepest first, so that restoring children does not disturb mtimes
 * and a read-only directory does not block its own contents. */
void restore_finish_dir(Restore *r, const YbEntry *e) {
        struct timespec ts[2] = { { 0, UTIME_OMIT }, { e->mtime_sec, e->mtime_nsec } };
        int fd = cursor_to(r, e->path, strlen(e->path), false);
        const Level *dir;
        bool chowned = false;

        if (fd < 0)
                return;
        /* As apply_meta_fd, but owner and mode only where they differ from what the directory
         * had when the cursor opened it (nothing here changes them since). */
        dir = &r->cursor->levels[r->cursor->depth];
        if (r->root && (e->uid != dir->uid || e->gid != dir->gid)) {
                if (fchown(fd, e->uid, e->gid) < 0)
                        log_warning("Cannot set the owner of '%s': %s", e->path, strerror(errno));
                chowned = true;
        }
        apply_xattrs(r, fd, e);
        if (((e->mode & 07777) != (dir->mode & 07777) || chowned) &&
            fchmod(fd, e->mode & 07777) < 0)
                log_warning("Cannot set the mode of '%s': %s", e->path, strerror(errno));
        if (futimens(fd, ts) < 0)
                log_warning("Cannot set the time of '%s': %s", e->path, strerror(errno));
}

/* The directory holding path, if it is there (nothing is made): -ENOENT if not. */
static int open_existing_parent(Restore *r, const char *path, const char **ret_name) {
        const char *last = strrchr(path, '/');
        int fd = open_dir(r, path, last ? (size_t) (last - path) : 0, false);

        if (fd >= 0)
                *ret_name = last ? last + 1 : path;
        return fd == -ENOTDIR ? -ENOENT : fd;
}

int restore_remove(Restore *r, const char *path) {
        const char *name;
        int dfd = open_existing_parent(r, path, &name), k;

        if (dfd == -ENOENT)
                return 0; /* gone with its parent already */
        if (dfd < 0)
                return dfd;
        k = yb_rm_rf_at(dfd, name);
        safe_close(dfd);
        return k;
}

int restore_stat(Restore *r, const char *path, struct stat *ret) {
        const char *name;
        int dfd = open_existing_parent(r, path, &name), k = 0;

        if (dfd < 0)
                return dfd;
        if (fstatat(dfd, name, ret, AT_SYMLINK_NOFOLLOW) < 0)
                k = negative_errno();
        safe_close(dfd);
        return k;
}

int restore_open_file(Restore *r, const char *path) {
        const char *name;
        int dfd = open_existing_parent(r, path, &name), fd;
        struct stat st;

        if (dfd < 0)
                return dfd;
        fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                fd = errno == ELOOP ? -ENOENT : negative_errno();
        safe_close(dfd);
        if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
                safe_close(fd);
                return -ENOENT; /* not a regular file: not what was put there */
        }
        return fd;
}

int restore_link_basis(Restore *r, const char *path, const char *stage_name, bool sole) {
        const char *name;
        int dfd = open_existing_parent(r, path, &name), k = 0;
        struct stat st;

        if (dfd < 0)
                return dfd;
        /* linkat without AT_SYMLINK_FOLLOW links a symlink itself, which the patch then refuses
         * to open (O_NOFOLLOW): never a file outside the target. */
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                k = negative_errno();
        else if (!S_ISREG(st.st_mode))
                k = -ENOENT;
        else if (sole && st.st_nlink != 1)
                k = -EMLINK;
        else if (linkat(dfd, name, r->staging_fd, stage_name, 0) < 0)
                k = negative_errno();
        safe_close(dfd);
        return k;
}

int restore_meta_in_place(Restore *r, const YbEntry *e) {
        int fd = restore_open_file(r, e->path);

        if (fd < 0)
                return fd;
        apply_meta_fd(r, fd, e);
        safe_close(fd);
        return 0;
}

int restore_list_dir(Restore *r, const char *path, int (*fn)(void *userdata, const char *name),
                     void *userdata) {
        int fd = open_dir(r, path, strlen(path), false), k = 0;
        struct dirent *de;
        DIR *d;

        if (fd < 0)
                return fd == -ENOTDIR ? -ENOENT : fd;
        d = fdopendir(fd);
        if (!d) {
                safe_close(fd);
                return negative_errno();
        }
        while (k >= 0 && (de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        k = fn(userdata, de->d_name);
        closedir(d);
        return k;
}
