/* Destroying one file (erase.h, yb_erase_file) and what every erase shares (eraser.h): the
 * overwrite of a regular file in place, its removal, the report.
 *
 * The overwrite writes random bytes over each data extent of the file (SEEK_DATA/SEEK_HOLE: a
 * hole has no blocks to overwrite), 1 MiB at a time, then fdatasyncs, and only then is the file
 * unlinked. The file is opened with O_NOFOLLOW relative to its directory's fd and checked to be
 * the very inode that was examined, so a symlink or another file swapped in is never written. A
 * file with other hard links is not overwritten: the other names may lie outside what we were
 * asked to erase; the report then says that not every file was overwritten. The size and the link
 * count are read again from the file as opened, not trusted from the walk's examination: a file
 * that gained a name elsewhere since is not overwritten, and one that grew (or grows while it is
 * overwritten) has its tail overwritten too, or is not counted as overwritten. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"
#include "core/erase/eraser.h"

#define BLOCK_SIZE ((size_t) 1 << 20)

void yb_erase_start(YbEraseReport *ret, char *err, size_t err_size) {
        memset(ret, 0, sizeof(*ret));
        if (err && err_size)
                err[0] = 0;
}

int yb_eraser_init(YbEraser *e, const char *path, YbOverwrite ow, YbEraseReport *report, char *err,
                   size_t err_size) {
        *e = (YbEraser){ .report = report, .err = err, .err_size = err_size };
        if (err && err_size)
                err[0] = 0;
        e->overwrite = ow == YB_OVERWRITE_ALWAYS ||
                       (ow == YB_OVERWRITE_IF_EFFECTIVE && report->medium.overwrite_effective);
        e->all_overwritten = e->overwrite;
        return yb_eraser_push(e, path) < 0 ? -ENOMEM : 0;
}

void yb_eraser_done(YbEraser *e) {
        free(e->block);
        free(e->path);
        e->block = NULL;
        e->path = NULL;
}

int yb_eraser_push(YbEraser *e, const char *name) {
        size_t len = e->path_len, n = strlen(name), sep = len > 0 && e->path[len - 1] != '/';

        if (len + sep + n + 1 > e->path_alloc) {
                size_t a = MAX(2 * e->path_alloc, len + sep + n + 1 + 64);
                char *p = realloc(e->path, a);

                if (!p)
                        return -ENOMEM;
                e->path = p;
                e->path_alloc = a;
        }
        if (sep)
                e->path[e->path_len++] = '/';
        memcpy(e->path + e->path_len, name, n + 1);
        e->path_len += n;
        return (int) MIN(len, (size_t) INT32_MAX);
}

void yb_eraser_pop(YbEraser *e, size_t len) {
        e->path_len = len;
        e->path[len] = 0;
}

void yb_eraser_left(YbEraser *e, const char *why) {
        YbEraseReport *rep = e->report;

        if (rep->left++ == 0) {
                _cleanup_free_ char *esc = yb_path_escape(e->path);

                snprintf(rep->left_first, sizeof(rep->left_first), "%s (%s)", esc ? esc : "?", why);
        }
}

int yb_eraser_fail(YbEraser *e, int r, const char *what) {
        yb_eraser_left(e, strerror(-r));
        if (e->error == 0) {
                _cleanup_free_ char *esc = yb_path_escape(e->path);

                e->error = r;
                if (e->err && e->err_size)
                        snprintf(e->err, e->err_size, "cannot %s '%s': %s", what, esc ? esc : "?",
                                 strerror(-r));
        }
        log_debug_errno(r, "Cannot %s '%s': %m", what, e->path);
        return r;
}

/* n random bytes into e->block. */
static int random_block(YbEraser *e, size_t n) {
        for (size_t k = 0; k < n;) {
                ssize_t got = getrandom(e->block + k, n - k, 0);

                if (got < 0 && errno != EINTR)
                        return -errno;
                if (got > 0)
                        k += (size_t) got;
        }
        return 0;
}

/* Writes random bytes over [off, end) of fd. */
static int overwrite_range(YbEraser *e, int fd, uint64_t off, uint64_t end) {
        while (off < end) {
                size_t n = (size_t) MIN((uint64_t) BLOCK_SIZE, end - off);
                int r = random_block(e, n);

                if (r >= 0)
                        r = yb_pwrite_all(fd, e->block, n, off);
                if (r < 0)
                        return r;
                off += n;
        }
        return 0;
}

/* Overwrites every data extent of fd in [off, size) in place and fdatasyncs it. */
static int overwrite_fd(YbEraser *e, int fd, uint64_t off, uint64_t size) {

        if (!e->block) {
                e->block = malloc(BLOCK_SIZE);
                if (!e->block)
                        return -ENOMEM;
        }
        while (off < size) {
                off_t data = lseek(fd, (off_t) off, SEEK_DATA), hole;
                int r;

                if (data < 0 && errno == ENXIO)
                        break;  /* only a hole is left */
                if (data < 0) { /* no SEEK_DATA here: all of it */
                        r = overwrite_range(e, fd, off, size);
                        if (r < 0)
                                return r;
                        break;
                }
                hole = lseek(fd, data, SEEK_HOLE);
                if (hole < 0)
                        hole = (off_t) size;
                r = overwrite_range(e, fd, (uint64_t) data, MIN((uint64_t) hole, size));
                if (r < 0)
                        return r;
                off = (uint64_t) hole;
        }
        return fdatasync(fd) < 0 ? -errno : 0;
}

/* Opens the regular file name of dir_fd for writing, the very inode st describes; a file of ours
 * without write permission is given it (it is about to go). *now is the inode as opened: its size
 * and link count are the ones that count, not those of st (the file may have grown, or gained a
 * name elsewhere, since it was examined). */
static int open_for_overwrite(int dir_fd, const char *name, const struct stat *st,
                              struct stat *now) {
        int flags = O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
        _cleanup_close_ int fd = openat(dir_fd, name, flags);

        if (fd < 0 && errno == EACCES && st->st_uid == geteuid() &&
            fchmodat(dir_fd, name, (st->st_mode & 07777) | S_IWUSR, AT_SYMLINK_NOFOLLOW) >= 0)
                fd = openat(dir_fd, name, flags);
        if (fd < 0)
                return -errno;
        if (fstat(fd, now) < 0)
                return -errno;
        if (!S_ISREG(now->st_mode) || now->st_dev != st->st_dev || now->st_ino != st->st_ino)
                return -ESTALE; /* replaced since it was examined */
        if (now->st_nlink > 1)
                return -EMLINK; /* linked elsewhere since it was examined */
        return TAKE_FD(fd);
}

/* Overwrites the regular file fd (now: as opened) until what was overwritten covers its whole
 * size: a file that grows while it is overwritten has its new tail overwritten too, a few rounds
 * at most; one that still grows is not counted as overwritten (-EAGAIN). *size: the size that
 * was overwritten. */
static int overwrite_all(YbEraser *e, int fd, const struct stat *now, uint64_t *size) {
        uint64_t done = 0, want = (uint64_t) now->st_size;

        for (int round = 0; round < 4; round++) {
                struct stat st;
                int r = overwrite_fd(e, fd, done, want);

                if (r < 0)
                        return r;
                if (fstat(fd, &st) < 0)
                        return -errno;
                done = want;
                *size = done;
                if ((uint64_t) st.st_size <= done)
                        return 0;
                want = (uint64_t) st.st_size;
        }
        return -EAGAIN;
}

int yb_eraser_remove(YbEraser *e, int dir_fd, const char *name, const struct stat *st) {
        YbEraseReport *rep = e->report;
        bool reg = S_ISREG(st->st_mode);
        uint64_t size = reg ? (uint64_t) st->st_size : 0;

        if (e->dry_run) {
                if (reg && st->st_nlink > 1)
                        e->all_overwritten = false;
                goto counted;
        }
        if (reg && e->overwrite) {
                struct stat now;
                int r = st->st_nlink > 1 ? -EMLINK : open_for_overwrite(dir_fd, name, st, &now);

                if (r >= 0) {
                        _cleanup_close_ int fd = r;

                        r = overwrite_all(e, fd, &now, &size);
                }
                if (r < 0) {
                        /* Removed all the same, and said: not every file was overwritten. */
                        e->all_overwritten = false;
                        if (e->not_overwritten++ == 0) {
                                _cleanup_free_ char *esc = yb_path_escape(e->path);

                                snprintf(e->not_overwritten_first, sizeof(e->not_overwritten_first),
                                         "%s (%s)", esc ? esc : "?",
                                         r == -EMLINK   ? "it has other hard links: its data lives "
                                                          "on under them"
                                         : r == -EAGAIN ? "it kept growing"
                                                        : strerror(-r));
                        }
                        log_debug_errno(r, "Not overwritten before removal: '%s': %m", e->path);
                }
        }
        if (unlinkat(dir_fd, name, 0) < 0) {
                if (errno == ENOENT)
                        return 0;
                return yb_eraser_fail(e, -errno, "remove");
        }
counted:
        if (reg && st->st_nlink > 1 && rep->linked++ == 0) {
                _cleanup_free_ char *esc = yb_path_escape(e->path);

                snprintf(rep->linked_first, sizeof(rep->linked_first),
                         "%s (inode %ju on device %u:%u, %ju other name%s: find them with find "
                         "-xdev -inum %ju)",
                         esc ? esc : "?", (uintmax_t) st->st_ino, major(st->st_dev),
                         minor(st->st_dev), (uintmax_t) st->st_nlink - 1,
                         st->st_nlink == 2 ? "" : "s", (uintmax_t) st->st_ino);
        }
        if (reg) {
                rep->files++;
                rep->bytes += size;
        } else
                rep->others++;
        return 1;
}

void yb_eraser_finish(YbEraser *e) {
        YbMedium *m = &e->report->medium;

        e->report->overwritten = e->all_overwritten && e->report->files > 0;
        /* Where the overwrite counts, a file it missed is what the operator must still see to:
         * said with the medium, so that no claim rests on the medium alone. */
        if (e->not_overwritten > 0 && m->overwrite_effective && !*m->operator_must &&
            snprintf(m->operator_must, sizeof(m->operator_must),
                     "overwrite the filesystem's free space%s%s, or destroy the disk: %" PRIu64
                     " file%s could not be overwritten before deletion, and what %s held may "
                     "still be there (the first: %s)",
                     *m->device ? " on " : "", m->device, e->not_overwritten,
                     e->not_overwritten == 1 ? "" : "s", e->not_overwritten == 1 ? "it" : "they",
                     e->not_overwritten_first) >= (int) sizeof(m->operator_must))
                log_debug("What the operator must do was cut at %zu bytes.",
                          sizeof(m->operator_must) - 1);
}

int yb_erase_split(const char *path, char **ret_dir, char **ret_base) {
        _cleanup_free_ char *p = strdup(path), *dir = NULL, *base = NULL;
        size_t n;
        char *slash;

        if (!p)
                return -ENOMEM;
        n = strlen(p);
        while (n > 1 && p[n - 1] == '/')
                p[--n] = 0;
        slash = strrchr(p, '/');
        base = strdup(slash ? slash + 1 : p);
        if (!base)
                return -ENOMEM;
        if (!*base || streq(base, ".") || streq(base, ".."))
                return -EINVAL;
        if (!slash)
                dir = strdup(".");
        else if (slash == p)
                dir = strdup("/");
        else {
                *slash = 0;
                dir = strdup(p);
        }
        if (!dir)
                return -ENOMEM;
        *ret_dir = TAKE_PTR(dir);
        *ret_base = TAKE_PTR(base);
        return 0;
}

int yb_erase_file(const char *path, YbOverwrite ow, YbEraseReport *ret, char *err,
                  size_t err_size) {
        _cleanup_free_ char *dir = NULL, *base = NULL;
        _cleanup_close_ int dfd = -EBADF, again = -EBADF;
        YbEraseReport rep = { 0 };
        YbEraser e;
        struct stat st;
        int r;

        yb_erase_start(ret, err, err_size);
        r = yb_erase_split(path, &dir, &base);
        if (r < 0) {
                snprintf(err, err_size, "'%s' does not name a file", path);
                return r;
        }
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                r = -errno;
                snprintf(err, err_size, "cannot find '%s': %s", path, strerror(-r));
                return r;
        }
        if (S_ISLNK(st.st_mode)) {
                snprintf(err, err_size,
                         "'%s' is a symbolic link: give the file itself, the link is not followed",
                         path);
                return -ELOOP;
        }
        if (!S_ISREG(st.st_mode)) {
                snprintf(err, err_size, "'%s' is not a regular file", path);
                return -EINVAL;
        }
        if (yb_medium_probe(path, &rep.medium) < 0)
                yb_medium_judge(&(YbMediumFacts){ 0 }, &rep.medium);
        r = yb_eraser_init(&e, path, ow, &rep, err, err_size);
        if (r >= 0)
                r = yb_eraser_remove(&e, dfd, base, &st);
        yb_eraser_finish(&e);
        yb_eraser_done(&e);
        if (r < 0)
                return r;
        r = yb_fsync(dfd);
        if (r < 0) {
                snprintf(err, err_size, "cannot sync the directory of '%s': %s", path,
                         strerror(-r));
                return r;
        }
        /* The proof asked for: the name opens no more, by its directory or by its path. */
        again = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (again < 0 && errno == ENOENT)
                again = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (again >= 0 || errno != ENOENT) {
                r = again >= 0 ? -EEXIST : -errno;
                snprintf(err, err_size,
                         "'%s' was unlinked but opening it again %s: something recreated it; "
                         "erase it again",
                         path, again >= 0 ? "succeeded" : strerror(-r));
                return r;
        }
        *ret = rep;
        return 0;
}

json_t *yb_erase_report_json(const YbEraseReport *r) {
        json_t *medium = yb_medium_json(&r->medium);

        if (!medium)
                return NULL;
        json_t *o = json_pack("{s:I, s:I, s:I, s:I, s:b, s:I, s:o, s:I, s:o, s:o}", "files",
                              (json_int_t) r->files, "dirs", (json_int_t) r->dirs, "others",
                              (json_int_t) r->others, "bytes", (json_int_t) r->bytes, "overwritten",
                              r->overwritten, "left", (json_int_t) r->left, "left_first",
                              *r->left_first ? json_string(r->left_first) : json_null(), "linked",
                              (json_int_t) r->linked, "linked_first",
                              *r->linked_first ? json_string(r->linked_first) : json_null(),
                              "medium", medium);

        /* Only where Object Lock kept something: every other report stays as it was. */
        if (o && r->locked > 0) {
                char date[32];

                yb_time_format_iso(r->locked_until * 1000000000LL, date);
                date[19] = 'Z';
                date[20] = 0;
                if (json_object_set_new(o, "locked", json_integer((json_int_t) r->locked)) < 0 ||
                    json_object_set_new(o, "locked_bytes",
                                        json_integer((json_int_t) r->locked_bytes)) < 0 ||
                    json_object_set_new(o, "locked_until", json_string(date)) < 0 ||
                    json_object_set_new(o, "locked_first", json_string(r->locked_first)) < 0)
                        o = (json_decref(o), NULL);
        }
        return o;
}
