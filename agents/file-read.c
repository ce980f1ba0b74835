/* Reading a source file that may change while it is read: opened without blocking and checked
 * to be the regular file the walk saw, then one pass from its start, each chunk given to a
 * callback, then a check that the file is as it was (no byte past its size, the same size,
 * times and inode). A file that moved is read again by the caller, with a limit; the
 * replicator's last attempt reads such a file to the end and is told it moved. */
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "agents/backup-internal.h"
#include "core/base/timeutil.h"

/* How often a long read looks whether the file changed meanwhile. */
#define CHANGE_CHECK_BYTES (16 * 1024 * 1024)

#ifdef YB_FAULT_INJECTION
/* Test hook: YB_TEST_MUTATE="fifo:NAME" replaces a file named NAME by a FIFO between the walk's
 * stat and the open, as someone could; nobody ever writes to it. "xattr:NAME" gives the file
 * named NAME the extended attribute user.raced there instead (after the walk read its
 * attributes). */
static void test_swap(const AgentWalkEntry *e) {
        const char *spec = getenv("YB_TEST_MUTATE");

        if (spec && strncmp(spec, "xattr:", 6) == 0 && streq(spec + 6, e->name)) {
                _cleanup_close_ int fd =
                        openat(e->dir_fd, e->name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

                if (fd >= 0)
                        (void) fsetxattr(fd, "user.raced", "1", 1, 0);
                return;
        }
        if (!spec || strncmp(spec, "fifo:", 5) != 0 || !streq(spec + 5, e->name))
                return;
        if (unlinkat(e->dir_fd, e->name, 0) == 0)
                (void) mkfifoat(e->dir_fd, e->name, 0600);
}

/* Test hook: YB_TEST_MUTATE="grow:NAME" appends to a file named NAME while it is being read, on
 * every attempt; "grow-once:NAME" only on the first. Stands in for a busy writer, without races. */
static void test_mutate(AgentBackup *b) {
        const char *spec = getenv("YB_TEST_MUTATE"), *name;
        bool once;
        int fd;

        if (!spec || !b->cur)
                return;
        once = strncmp(spec, "grow-once:", 10) == 0;
        if (!once && strncmp(spec, "grow:", 5) != 0)
                return;
        name = spec + (once ? 10 : 5);
        if (!streq(name, b->cur->name) || (once && b->mutations > 0))
                return;
        fd = openat(b->cur->dir_fd, b->cur->name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
                if (write(fd, "more", 4) == 4)
                        b->mutations++;
                close(fd);
        }
}
#else
static void test_swap(const AgentWalkEntry *e) {
}
static void test_mutate(AgentBackup *b) {
}
#endif

int agent_open_source(AgentBackup *b, const AgentWalkEntry *e, struct stat *ret_st) {
        /* O_NONBLOCK: opening a FIFO (or some devices) swapped in since the walk's stat would
         * otherwise wait for a writer forever, holding the repository's lock. */
        const int flags = O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
        _cleanup_close_ int fd = -EBADF;

        test_swap(e);
        fd = openat(e->dir_fd, e->name, flags | O_NOATIME);
        if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
                fd = openat(e->dir_fd, e->name, flags);
        if (fd < 0) {
                if (errno != ENOENT)
                        agent_backup_error(b, e->abs, negative_errno(), "cannot read it");
                return -1;
        }
        if (fstat(fd, ret_st) < 0 || !S_ISREG(ret_st->st_mode) || ret_st->st_ino != e->st->st_ino ||
            ret_st->st_dev != e->st->st_dev) {
                agent_backup_error(b, e->abs, 0, "it was replaced while being read");
                return -1;
        }
        /* The regular file the walk saw: reads may block (on a network file system) again. */
        if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
                agent_backup_error(b, e->abs, negative_errno(), "cannot read it");
                return -1;
        }
        return TAKE_FD(fd);
}

int agent_read_pass(AgentBackup *b, int fd, const struct stat *st, AgentReadFn fn, void *userdata) {
        uint64_t left = (uint64_t) st->st_size, since_check = 0;
        struct stat after;
        uint8_t extra;
        ssize_t k;
        int r;

        b->pass_changed = false;
        b->pass_started_ns = yb_now_ns();
        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        while (left > 0) {
                k = read(fd, b->buf, (size_t) MIN(left, (uint64_t) AGENT_READ_BUF_SIZE));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        b->read_error = errno;
                        return -AGENT_E_SOURCE_READ;
                }
                if (k == 0)
                        return -EAGAIN; /* shrank */
                r = fn(b, userdata, b->buf, (size_t) k);
                if (r < 0)
                        return r;
                if (left == (uint64_t) st->st_size)
                        test_mutate(b);
                left -= (uint64_t) k;
                b->hdr.bytes_read += (uint64_t) k;
                /* A big file that changes under us is given up as soon as that is seen, not
                 * after reading the rest: the next attempt starts sooner and costs less. */
                since_check += (uint64_t) k;
                if (since_check >= CHANGE_CHECK_BYTES && left > 0 && !b->finish_changed) {
                        since_check = 0;
                        if (fstat(fd, &after) < 0)
                                return negative_errno();
                        if (!agent_stat_same(st, &after))
                                return -EAGAIN;
                }
        }
        k = read(fd, &extra, 1);
        if (fstat(fd, &after) < 0)
                return negative_errno();
        /* Grew past its size, or written meanwhile. */
        b->pass_changed = k > 0 || !agent_stat_same(st, &after);
        return b->pass_changed && !b->finish_changed ? -EAGAIN : 0;
}
