/* Removing a tree (erase.h, yb_erase_tree) without ever leaving it.
 *
 * The walk works with directory fds only: every entry is examined with statx(AT_SYMLINK_NOFOLLOW)
 * relative to its directory's fd, a directory is entered with O_NOFOLLOW and checked to be the
 * inode examined, so a symlink (one swapped in while we work too) is removed, never followed,
 * and a rename above us cannot move the walk elsewhere. Nothing on another mount is touched: not
 * a different st_dev, nor a bind mount of the same filesystem (its mount id differs): such an
 * entry is counted in left and named (where statx does not tell the mount id, before Linux 5.8,
 * each directory's is read from /proc/self/fdinfo once it is open, before it is entered). Each
 * directory's names are read in full before it is worked on (removing while reading would skip
 * entries), and at most 64 directory fds stay open:
 * an ancestor whose fd was closed is reopened through ".." of its child and checked to be the
 * same inode, so depth is limited by neither the stack nor the open-file limit.
 *
 * Durability: a directory that stays (the top with keep_top, one with something left in it) is
 * fsync'd when it changed, and so is the directory above the top when the top is removed. A
 * directory removed is not: its entries went with it, and its removal is made durable by the
 * fsync of the directory that stays above it. */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/erase/eraser.h"

#define MAX_OPEN_DIRS 64

typedef struct Frame {
        int fd; /* -EBADF while closed, to stay within MAX_OPEN_DIRS */
        dev_t dev;
        ino_t ino;
        char **names;
        size_t n, i;
        size_t path_len; /* of e->path at this directory */
        bool changed;
        uint64_t left_before; /* report->left when it was entered */
} Frame;

typedef struct Walk {
        YbEraser e;
        Frame *frames;
        size_t depth, alloc;
        dev_t dev;       /* the top's filesystem */
        uint64_t mnt_id; /* and its mount, when the kernel tells (statx STATX_MNT_ID) */
        bool have_mnt_id;
        bool fdinfo_mnt_id; /* mnt_id is fdinfo's: statx does not tell it */
} Walk;

static void frame_done(Frame *f) {
        for (size_t i = 0; i < f->n; i++)
                free(f->names[i]);
        free(f->names);
        f->names = NULL;
        f->n = f->i = 0;
        if (f->fd >= 0)
                close(f->fd);
        f->fd = -EBADF;
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Reads every name of directory fd (not "." or ".."), sorted so that runs are reproducible. */
static int read_names(int fd, char ***ret, size_t *ret_n) {
        char **names = NULL;
        size_t n = 0, alloc = 0;
        int dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), r = 0;
        DIR *d;
        struct dirent *de;

        if (dfd < 0)
                return -errno;
        d = fdopendir(dfd);
        if (!d) {
                r = -errno;
                close(dfd);
                return r;
        }
        while ((errno = 0, de = readdir(d))) {
                if (streq(de->d_name, ".") || streq(de->d_name, ".."))
                        continue;
                if (n == alloc) {
                        char **p = realloc(names, (alloc = alloc ? 2 * alloc : 16) * sizeof(*p));

                        if (!p) {
                                r = -ENOMEM;
                                break;
                        }
                        names = p;
                }
                names[n] = strdup(de->d_name);
                if (!names[n]) {
                        r = -ENOMEM;
                        break;
                }
                n++;
        }
        if (r == 0 && errno != 0)
                r = -errno;
        closedir(d);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free(names[i]);
                free(names);
                return r;
        }
        if (n > 1)
                qsort(names, n, sizeof(*names), name_cmp);
        *ret = names;
        *ret_n = n;
        return 0;
}

/* statx of name in dir_fd without following it, as a struct stat plus its mount id. */
static int examine(int dir_fd, const char *name, int flags, struct stat *st, uint64_t *ret_mnt_id,
                   bool *ret_have_mnt_id) {
        struct statx sx;

        if (statx(dir_fd, name, flags | AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS | STATX_MNT_ID,
                  &sx) < 0)
                return -errno;
        *st = (struct stat){
                .st_dev = makedev(sx.stx_dev_major, sx.stx_dev_minor),
                .st_ino = sx.stx_ino,
                .st_mode = sx.stx_mode,
                .st_nlink = sx.stx_nlink,
                .st_uid = sx.stx_uid,
                .st_size = (off_t) sx.stx_size,
        };
        *ret_have_mnt_id = (sx.stx_mask & STATX_MNT_ID) != 0;
#ifdef YB_FAULT_INJECTION
        if (getenv("YB_ERASE_NO_STATX_MNT_ID")) /* a kernel before 5.8, for tests */
                *ret_have_mnt_id = false;
#endif
        *ret_mnt_id = sx.stx_mnt_id;
        return 0;
}

/* The mount id of the open fd from /proc/self/fdinfo (Linux 3.15), for kernels whose statx does
 * not tell it (before 5.8): without it a bind mount of the same filesystem could not be told
 * from a directory. 0 or -errno. */
static int fdinfo_mnt_id(int fd, uint64_t *ret) {
        char path[64], line[256];
        int r = -ENODATA;
        FILE *f;

        snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
        f = fopen(path, "re");
        if (!f)
                return -errno;
        while (r < 0 && fgets(line, sizeof(line), f)) {
                unsigned long long id;

                if (sscanf(line, "mnt_id: %llu", &id) == 1) {
                        *ret = id;
                        r = 0;
                }
        }
        fclose(f);
        return r;
}

/* Enters directory fd (e->path), described by st: pushes its frame. Takes fd. */
static int push_frame(Walk *w, int fd, const struct stat *st) {
        Frame f = { .fd = fd, .dev = st->st_dev, .ino = st->st_ino };
        int r;

        if (w->depth == w->alloc) {
                size_t a = w->alloc ? 2 * w->alloc : 16;
                Frame *p = realloc(w->frames, a * sizeof(*p));

                if (!p) {
                        close(fd);
                        return -ENOMEM;
                }
                w->frames = p;
                w->alloc = a;
        }
        r = read_names(fd, &f.names, &f.n);
        if (r < 0) {
                close(fd);
                return r;
        }
        f.path_len = w->e.path_len;
        f.left_before = w->e.report->left;
        w->frames[w->depth++] = f;
        if (w->depth > MAX_OPEN_DIRS) {
                Frame *old = &w->frames[w->depth - 1 - MAX_OPEN_DIRS];

                if (old->fd >= 0)
                        old->fd = safe_close(old->fd);
        }
        return 0;
}

/* Leaves the frame on top (its names all handled): reopens its parent if needed, syncs it if it
 * stays, and removes it from its parent. A failure to reopen the parent stops the walk. */
static int pop_frame(Walk *w) {
        Frame *f = &w->frames[w->depth - 1], *p = &w->frames[w->depth - 2];
        bool left_inside = w->e.report->left > f->left_before;
        struct stat st;

        if (p->fd < 0) {
                p->fd = openat(f->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (p->fd < 0 || fstat(p->fd, &st) < 0 || st.st_dev != p->dev ||
                    st.st_ino != p->ino) {
                        yb_eraser_pop(&w->e, p->path_len);
                        return yb_eraser_fail(&w->e, p->fd < 0 ? -errno : -ESTALE,
                                              "find again (it was moved while being erased; run "
                                              "the erase again)");
                }
        }
        if (f->changed && left_inside)
                (void) yb_fsync(f->fd);
        frame_done(f);
        w->depth--;
        if (left_inside) {
                /* It cannot go; what is left inside is counted and named already. */
        } else if (w->e.dry_run || unlinkat(p->fd, p->names[p->i], AT_REMOVEDIR) == 0) {
                w->e.report->dirs++;
                p->changed = !w->e.dry_run;
        } else if (errno != ENOENT)
                yb_eraser_fail(&w->e, -errno, "remove the directory");
        yb_eraser_pop(&w->e, p->path_len);
        p->i++;
        return 0;
}

/* Handles the next name of the frame on top. */
static int step(Walk *w) {
        Frame *f = &w->frames[w->depth - 1];
        const char *name = f->names[f->i];
        uint64_t mnt_id;
        bool have_mnt_id;
        struct stat st, now;
        int r, fd;

        r = yb_eraser_push(&w->e, name);
        if (r < 0)
                return r;
        r = examine(f->fd, name, 0, &st, &mnt_id, &have_mnt_id);
        if (r == -ENOENT)
                goto next;
        if (r < 0) {
                yb_eraser_fail(&w->e, r, "examine");
                goto next;
        }
        if (have_mnt_id && w->have_mnt_id && mnt_id == w->mnt_id && st.st_dev != w->dev) {
                /* The same mount, a device of its own: a btrfs subvolume. */
                yb_eraser_left(&w->e, "a subvolume with a device of its own: not entered; "
                                      "delete it with its filesystem's tools (btrfs subvolume "
                                      "delete)");
                goto next;
        }
        if (st.st_dev != w->dev || (have_mnt_id && w->have_mnt_id && mnt_id != w->mnt_id)) {
                yb_eraser_left(&w->e, "another filesystem is mounted there: not entered");
                goto next;
        }
        if (!S_ISDIR(st.st_mode)) {
                if (yb_eraser_remove(&w->e, f->fd, name, &st) > 0)
                        f->changed = true;
                goto next;
        }
        fd = openat(f->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                if (errno != ENOENT)
                        yb_eraser_fail(&w->e, -errno, "open the directory");
                goto next;
        }
        if (fstat(fd, &now) < 0 || now.st_dev != st.st_dev || now.st_ino != st.st_ino) {
                close(fd);
                yb_eraser_fail(&w->e, -ESTALE, "enter (it was replaced while being erased)");
                goto next;
        }
        if (w->fdinfo_mnt_id && (fdinfo_mnt_id(fd, &mnt_id) < 0 || mnt_id != w->mnt_id)) {
                close(fd);
                yb_eraser_left(&w->e, "another filesystem is mounted there: not entered");
                goto next;
        }
        r = push_frame(w, fd, &st);
        f = &w->frames[w->depth - 1]; /* the frames may have moved */
        if (r == -ENOMEM)
                return r;
        if (r < 0)
                yb_eraser_fail(&w->e, r, "list the directory");
        else
                return 0; /* its names come next; f->i moves on when it is left */
next:
        yb_eraser_pop(&w->e, f->path_len);
        f->i++;
        return 0;
}

/* Removes everything below the directory top_fd (w->e.path), which st describes. */
static int walk(Walk *w, int top_fd, const struct stat *st) {
        int r = push_frame(w, top_fd, st);

        if (r < 0)
                return yb_eraser_fail(&w->e, r, "list the directory");
        while (w->depth > 0) {
                Frame *f = &w->frames[w->depth - 1];

                if (f->i < f->n)
                        r = step(w);
                else if (w->depth > 1)
                        r = pop_frame(w);
                else
                        break;
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The medium of path, or of the directory that would hold it when it is absent. */
static void probe(const char *path, const char *dir, YbMedium *ret) {
        if (yb_medium_probe(path, ret) < 0 && yb_medium_probe(dir, ret) < 0)
                yb_medium_judge(&(YbMediumFacts){ 0 }, ret);
}

/* Erases path (keep_top: below it); given_fd >= 0: the directory path, already open. */
static int erase_tree(int given_fd, const char *path, bool keep_top, YbOverwrite ow, bool dry_run,
                      YbEraseReport *ret, char *err, size_t err_size) {
        _cleanup_free_ char *dir = NULL, *base = NULL;
        _cleanup_close_ int top_fd = -EBADF, parent_fd = -EBADF;
        Walk w = { .frames = NULL };
        struct stat st;
        int r;

        yb_erase_start(ret, err, err_size);
        r = yb_erase_split(path, &dir, &base);
        if (r < 0) {
                snprintf(err, err_size, "'%s' cannot be erased: %s", path,
                         r == -EINVAL ? "name a directory below /" : strerror(-r));
                return r;
        }
        probe(path, dir, &ret->medium);
        r = yb_eraser_init(&w.e, path, ow, ret, err, err_size);
        if (r < 0)
                return r;
        w.e.dry_run = dry_run;
        if (given_fd >= 0)
                top_fd = fcntl(given_fd, F_DUPFD_CLOEXEC, 3);
        else
                top_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (top_fd < 0 && errno == ENOENT && given_fd < 0) {
                r = 0; /* nothing there: erased already */
                goto finish;
        }
        if (top_fd < 0 && (errno == ENOTDIR || errno == ELOOP) && !keep_top) {
                /* A file or a symlink where a tree was expected: removed itself, unfollowed. */
                parent_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (parent_fd < 0 || fstatat(parent_fd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = yb_eraser_fail(&w.e, -errno, "examine");
                        goto finish;
                }
                if (yb_eraser_remove(&w.e, parent_fd, base, &st) > 0) {
                        r = yb_fsync(parent_fd);
                        if (r < 0)
                                yb_eraser_fail(&w.e, r, "sync the directory above");
                }
                goto finish;
        }
        if (top_fd < 0) {
                r = yb_eraser_fail(&w.e, -errno, "open the directory");
                goto finish;
        }
        if (fstat(top_fd, &st) < 0) {
                r = yb_eraser_fail(&w.e, -errno, "examine");
                goto finish;
        }
        {
                struct stat top;

                r = examine(top_fd, "", AT_EMPTY_PATH, &top, &w.mnt_id, &w.have_mnt_id);
                if (r < 0) {
                        r = yb_eraser_fail(&w.e, r, "examine");
                        goto finish;
                }
                if (!w.have_mnt_id) {
                        r = fdinfo_mnt_id(top_fd, &w.mnt_id);
                        if (r < 0) {
                                r = yb_eraser_fail(&w.e, r,
                                                   "tell the mounts below apart (neither statx "
                                                   "nor /proc/self/fdinfo gives a mount id: "
                                                   "mount /proc) in");
                                goto finish;
                        }
                        w.fdinfo_mnt_id = true;
                }
        }
        w.dev = st.st_dev;
        r = walk(&w, TAKE_FD(top_fd), &st);
        if (r < 0) {
                if (w.e.error == 0)
                        yb_eraser_fail(&w.e, r, "erase");
                goto finish;
        }
        assert(w.depth == 1);
        if (keep_top || w.e.report->left > 0) {
                if (w.frames[0].changed && (r = yb_fsync(w.frames[0].fd)) < 0)
                        yb_eraser_fail(&w.e, r, "sync the directory");
                goto finish;
        }
        frame_done(&w.frames[0]);
        yb_eraser_pop(&w.e, w.frames[0].path_len);
        if (dry_run) {
                w.e.report->dirs++;
                goto finish;
        }
        parent_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (parent_fd < 0 || unlinkat(parent_fd, base, AT_REMOVEDIR) < 0) {
                if (errno != ENOENT)
                        yb_eraser_fail(&w.e, -errno, "remove the directory");
        } else {
                w.e.report->dirs++;
                r = yb_fsync(parent_fd);
                if (r < 0)
                        yb_eraser_fail(&w.e, r, "sync the directory above");
        }
finish:
        while (w.depth > 0)
                frame_done(&w.frames[--w.depth]);
        free(w.frames);
        yb_eraser_finish(&w.e);
        r = w.e.error;
        yb_eraser_done(&w.e);
        return r;
}

int yb_erase_tree(const char *path, bool keep_top, YbOverwrite ow, YbEraseReport *ret, char *err,
                  size_t err_size) {
        return erase_tree(-EBADF, path, keep_top, ow, false, ret, err, err_size);
}

int yb_erase_tree_survey(const char *path, bool keep_top, YbOverwrite ow, YbEraseReport *ret,
                         char *err, size_t err_size) {
        return erase_tree(-EBADF, path, keep_top, ow, true, ret, err, err_size);
}

int yb_erase_below_fd(int dir_fd, const char *path, YbOverwrite ow, bool dry_run,
                      YbEraseReport *ret, char *err, size_t err_size) {
        assert(dir_fd >= 0);
        return erase_tree(dir_fd, path, true, ow, dry_run, ret, err, err_size);
}
