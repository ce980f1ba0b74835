/* restore/drill-verify.c: a drill's phase "verify": the sandbox read back against the point
 * (the chain's whole state, restore_chain_state). Every entry must be there with its type;
 * every regular file is read in full and must have the recorded size and BLAKE2b hash; a
 * symlink its target; a hard link the inode of its first name. Nothing is followed through a
 * link, at any level of a path: a directory of the sandbox that became a symlink (to / or
 * /etc) is found as such, and what lies behind it is never looked at nor read. What does not
 * match is named: the first few paths and the count. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/buf.h"
#include "core/base/fileio.h"
#include "core/crypto/hash.h"
#include "restore/drill-run.h"
#include "restore/restore-internal.h"

#define NAMED_MAX 3
#define READ_SIZE (1024 * 1024)

typedef struct Verify {
        int dir_fd;
        uint8_t *buf;
        uint64_t files, bytes, bad;
        YbBuf named; /* "path (why), path (why)" for the first NAMED_MAX */
} Verify;

static int add_bad(Verify *v, const char *path, const char *why) {
        int r = 0;

        if (v->bad++ < NAMED_MAX) {
                if (v->named.size > 0)
                        r = yb_buf_append(&v->named, ", ", 2);
                if (r >= 0)
                        r = yb_buf_printf(&v->named, "%s (%s)", path, why);
        }
        return r < 0 ? r : 0;
}

static const char *type_text(mode_t m) {
        return S_ISREG(m)    ? "a file"
               : S_ISDIR(m)  ? "a directory"
               : S_ISLNK(m)  ? "a symlink"
               : S_ISFIFO(m) ? "a FIFO"
               : S_ISCHR(m)  ? "a character device"
               : S_ISBLK(m)  ? "a block device"
                             : "something else";
}

static mode_t entry_mode(YbEntryType t) {
        switch (t) {
        case YB_ENTRY_FILE:
        case YB_ENTRY_HARDLINK:
                return S_IFREG;
        case YB_ENTRY_DIR:
                return S_IFDIR;
        case YB_ENTRY_SYMLINK:
                return S_IFLNK;
        case YB_ENTRY_FIFO:
                return S_IFIFO;
        case YB_ENTRY_CHARDEV:
                return S_IFCHR;
        case YB_ENTRY_BLOCKDEV:
                return S_IFBLK;
        default:
                return 0;
        }
}

/* Why an entry could not be opened, in a few words. */
static const char *open_failure(int r, char why[96]) {
        if (r == -ELOOP)
                snprintf(why, 96, "behind a symlink in the sandbox: not looked at");
        else if (r == -EXDEV)
                snprintf(why, 96, "behind a mount point in the sandbox: not looked at");
        else if (r == -ENOENT || r == -ENOTDIR)
                snprintf(why, 96, "missing");
        else
                snprintf(why, 96, "cannot be looked at: %s", strerror(-r));
        return why;
}

/* Reads the regular file at e->path in full and compares size and hash. */
static int check_content(Verify *v, const YbEntry *e) {
        _cleanup_close_ int fd = -EBADF;
        uint8_t h[YB_HASH_SIZE];
        uint64_t total = 0;
        struct stat st;
        YbHash hash;
        char why[96];

        fd = yb_open_beneath(v->dir_fd, e->path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
        if (fd < 0)
                return add_bad(v, e->path, open_failure(fd, why));
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
                return add_bad(v, e->path, "no longer a file");
        yb_hash_init(&hash);
        for (;;) {
                ssize_t n = read(fd, v->buf, READ_SIZE);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        snprintf(why, sizeof(why), "cannot be read: %s", strerror(errno));
                        return add_bad(v, e->path, why);
                }
                if (n == 0)
                        break;
                yb_hash_update(&hash, v->buf, (size_t) n);
                total += (uint64_t) n;
        }
        yb_hash_final(&hash, h);
        v->files++;
        v->bytes += total;
        if (total != e->size) {
                snprintf(why, sizeof(why), "%llu bytes, not the %llu recorded",
                         (unsigned long long) total, (unsigned long long) e->size);
                return add_bad(v, e->path, why);
        }
        if (memcmp(h, e->hash, YB_HASH_SIZE) != 0)
                return add_bad(v, e->path, "its hash differs");
        return 0;
}

static int check_entry(Verify *v, const YbEntry *e) {
        _cleanup_close_ int fd = -EBADF;
        struct stat st, first;
        char why[96];
        mode_t want = entry_mode(e->type);

        if (want == 0)
                return 0; /* a deletion record: not in the state */
        fd = yb_open_beneath(v->dir_fd, e->path, O_PATH);
        if (fd < 0)
                return add_bad(v, e->path, open_failure(fd, why));
        if (fstat(fd, &st) < 0) {
                snprintf(why, sizeof(why), "cannot be looked at: %s", strerror(errno));
                return add_bad(v, e->path, why);
        }
        if ((st.st_mode & S_IFMT) != want) {
                snprintf(why, sizeof(why), "%s, not %s as recorded", type_text(st.st_mode),
                         type_text(want));
                return add_bad(v, e->path, why);
        }
        switch (e->type) {
        case YB_ENTRY_FILE:
                return check_content(v, e);
        case YB_ENTRY_HARDLINK:
                safe_close(fd);
                fd = e->target ? yb_open_beneath(v->dir_fd, e->target, O_PATH) : -ENOENT;
                if (fd < 0 || fstat(fd, &first) < 0 || first.st_ino != st.st_ino ||
                    first.st_dev != st.st_dev) {
                        snprintf(why, sizeof(why), "not a hard link to %s",
                                 e->target ? e->target : "its first name");
                        return add_bad(v, e->path, why);
                }
                return 0;
        case YB_ENTRY_SYMLINK: {
                char buf[4096];
                ssize_t n = readlinkat(fd, "", buf, sizeof(buf) - 1);

                if (n < 0 || !e->target || (size_t) n != strlen(e->target) ||
                    memcmp(buf, e->target, (size_t) n) != 0)
                        return add_bad(v, e->path, "its target differs");
                return 0;
        }
        default:
                return 0;
        }
}

int yb_drill_verify(YbRestoreChain *c, const char *sandbox, volatile sig_atomic_t *stop,
                    uint64_t *ret_files, uint64_t *ret_bytes, char **ret_error) {
        Verify v = { .dir_fd = -EBADF, .named = YB_BUF_INIT };
        const YbSnapshotHeader *h = yb_restore_chain_point(c);
        YbManifest *m = NULL;
        bool owned = false;
        int r;

        *ret_error = NULL;
        r = restore_chain_state(c, &m, &owned);
        if (r < 0) {
                if (asprintf(ret_error,
                             "the manifest of %s %s cannot be read to check the sandbox against "
                             "it: %s",
                             h->level == YB_LEVEL_SEGMENT ? "segment" : "snapshot", h->id,
                             r == -EBADMSG ? "it is damaged or altered (run 'yunbak verify')"
                                           : strerror(-r)) < 0)
                        *ret_error = NULL;
                return r;
        }
        v.dir_fd = open(sandbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        v.buf = malloc(READ_SIZE);
        if (v.dir_fd < 0 || !v.buf) {
                r = v.dir_fd < 0 ? -errno : -ENOMEM;
                if (asprintf(ret_error, "the sandbox '%s' cannot be opened: %s", sandbox,
                             strerror(-r)) < 0)
                        *ret_error = NULL;
                goto out;
        }
        r = 0;
        for (size_t i = 0; i < m->n && r >= 0; i++) {
                if (stop && *stop) {
                        r = -EINTR;
                        if (asprintf(ret_error, "interrupted while checking the sandbox '%s'",
                                     sandbox) < 0)
                                *ret_error = NULL;
                        goto out;
                }
                r = check_entry(&v, &m->entries[i]);
        }
        if (r < 0) {
                if (asprintf(ret_error, "the sandbox '%s' cannot be checked: %s", sandbox,
                             strerror(-r)) < 0)
                        *ret_error = NULL;
                goto out;
        }
        *ret_files = v.files;
        *ret_bytes = v.bytes;
        if (v.bad > 0) {
                r = yb_buf_append(&v.named, "", 1);
                if (r < 0 ||
                    asprintf(ret_error, "%llu %s of the sandbox %s not match %s %s: %s%s",
                             (unsigned long long) v.bad, v.bad == 1 ? "entry" : "entries",
                             v.bad == 1 ? "does" : "do",
                             h->level == YB_LEVEL_SEGMENT ? "segment" : "snapshot", h->id,
                             (char *) v.named.data, v.bad > NAMED_MAX ? ", ..." : "") < 0) {
                        *ret_error = NULL;
                        r = -ENOMEM;
                        goto out;
                }
                r = (int) MIN(v.bad, (uint64_t) INT32_MAX);
        }
out:
        if (owned)
                yb_manifest_free(m);
        free(v.buf);
        safe_close(v.dir_fd);
        yb_buf_done(&v.named);
        return r;
}
