/* Reading a source file that may change while it is read: one pass from its start, each chunk
 * given to a callback, then a check that the file is as it was (no byte past its size, the same
 * size, times and inode). A file that moved is read again by the caller, with a limit. */
#include <fcntl.h>

#include "agents/backup-internal.h"

static bool stat_same(const struct stat *a, const struct stat *b) {
        return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
               a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
               a->st_ctim.tv_nsec == b->st_ctim.tv_nsec && a->st_ino == b->st_ino;
}

#ifdef YB_FAULT_INJECTION
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
static void test_mutate(AgentBackup *b) {
}
#endif

int agent_read_pass(AgentBackup *b, int fd, const struct stat *st, AgentReadFn fn, void *userdata) {
        uint64_t left = (uint64_t) st->st_size;
        struct stat after;
        uint8_t extra;
        ssize_t k;
        int r;

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
        }
        k = read(fd, &extra, 1);
        if (k > 0)
                return -EAGAIN; /* grew */
        if (fstat(fd, &after) < 0)
                return negative_errno();
        if (!stat_same(st, &after))
                return -EAGAIN;
        return 0;
}
