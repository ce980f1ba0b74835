#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "tests/unit/test.h"

static void assert_file_is(int dir_fd, const char *path, const void *want, size_t n) {
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;

        test_read_file(dir_fd, path, &b);
        ASSERT_EQ(b.size, n);
        ASSERT_MEMEQ(b.data, want, n);
}

TEST(write_atomic_replaces_content) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        struct stat st;

        ASSERT_OK(yb_write_file_atomic_at(d->fd, "f", "old content", 11, 0600));
        assert_file_is(d->fd, "f", "old content", 11);
        ASSERT_OK(yb_write_file_atomic_at(d->fd, "f", "new", 3, 0600));
        assert_file_is(d->fd, "f", "new", 3);
        ASSERT_OK(fstatat(d->fd, "f", &st, 0));
        ASSERT_EQ(st.st_mode & 0777, 0600);
        ASSERT_EQ(test_count_entries(d->fd, "."), 1); /* no temporary file left behind */

        ASSERT_OK(yb_write_file_atomic_at(d->fd, "f", NULL, 0, 0600));
        assert_file_is(d->fd, "f", NULL, 0);
}

TEST(write_atomic_in_subdirectory) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();

        ASSERT_OK(yb_mkdir_p_at(d->fd, "a/b", 0700));
        ASSERT_OK(yb_write_file_atomic_at(d->fd, "a/b/f", "data", 4, 0644));
        assert_file_is(d->fd, "a/b/f", "data", 4);
        ASSERT_EQ(test_count_entries(d->fd, "a/b"), 1);
        ASSERT_ERR(yb_write_file_atomic_at(d->fd, "missing/f", "x", 1, 0644), ENOENT);
}

TEST(write_all_and_read_all_round_trip) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_free_ uint8_t *data = malloc(300000), *back = malloc(300001);
        _cleanup_close_ int fd = -EBADF;

        ASSERT_TRUE(data && back);
        test_fill_random(data, 300000, 2);
        fd = openat(d->fd, "f", O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        ASSERT_OK(fd);
        ASSERT_OK(yb_write_all(fd, data, 300000));
        ASSERT_OK(yb_pwrite_all(fd, "XY", 2, 1000));
        data[1000] = 'X';
        data[1001] = 'Y';
        ASSERT_OK(lseek(fd, 0, SEEK_SET));
        /* Asking for more than there is returns what there is. */
        ASSERT_EQ(yb_read_all(fd, back, 300001), 300000);
        ASSERT_MEMEQ(back, data, 300000);
        ASSERT_EQ(yb_read_all(fd, back, 10), 0);
        ASSERT_ERR(yb_write_all(-1, "x", 1), EBADF);
        ASSERT_ERR(yb_read_all(-1, back, 1), EBADF);
}

TEST(read_file_at_caps_size) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(yb_buf_done) YbBuf b = YB_BUF_INIT;
        _cleanup_free_ uint8_t *data = malloc(200000);

        ASSERT_TRUE(data);
        test_fill_random(data, 200000, 3);
        test_write_file(d->fd, "small", data, 100);
        test_write_file(d->fd, "large", data, 200000); /* more than one internal read */

        ASSERT_OK(yb_read_file_at(d->fd, "small", 100, &b));
        ASSERT_EQ(b.size, 100);
        yb_buf_clear(&b);
        ASSERT_ERR(yb_read_file_at(d->fd, "small", 99, &b), EFBIG);
        yb_buf_clear(&b);
        ASSERT_OK(yb_read_file_at(d->fd, "large", 200000, &b));
        ASSERT_EQ(b.size, 200000);
        ASSERT_MEMEQ(b.data, data, 200000);
        yb_buf_clear(&b);
        ASSERT_ERR(yb_read_file_at(d->fd, "large", 199999, &b), EFBIG);
        yb_buf_clear(&b);
        ASSERT_ERR(yb_read_file_at(d->fd, "missing", 100, &b), ENOENT);

        /* It appends to what the buffer holds. */
        yb_buf_clear(&b);
        ASSERT_OK(yb_buf_append(&b, "prefix", 6));
        ASSERT_OK(yb_read_file_at(d->fd, "small", 1000, &b));
        ASSERT_EQ(b.size, 106);
        ASSERT_MEMEQ(b.data + 6, data, 100);
}

TEST(mkdir_p_creates_parents) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        struct stat st;

        ASSERT_OK(yb_mkdir_p_at(d->fd, "a/b/c", 0700));
        ASSERT_OK(fstatat(d->fd, "a/b/c", &st, 0));
        ASSERT_TRUE(S_ISDIR(st.st_mode));
        ASSERT_OK(yb_mkdir_p_at(d->fd, "a/b/c", 0700)); /* existing directories are fine */
        ASSERT_OK(yb_mkdir_p_at(d->fd, "a/b/d/", 0700));
        ASSERT_OK(fstatat(d->fd, "a/b/d", &st, 0));
        ASSERT_TRUE(S_ISDIR(st.st_mode));

        test_write_file(d->fd, "file", "x", 1);
        ASSERT_ERR(yb_mkdir_p_at(d->fd, "file/sub", 0700), ENOTDIR);

        _cleanup_free_ char *abs = test_tmpdir_path(d, "x/y");
        ASSERT_OK(yb_mkdir_p_at(AT_FDCWD, abs, 0700));
        ASSERT_OK(fstatat(d->fd, "x/y", &st, 0));
        ASSERT_TRUE(S_ISDIR(st.st_mode));
}

/* An existing regular file where a directory is wanted is an error, not success. */
TEST(mkdir_p_refuses_existing_file) {
        TestTmpdir *d = test_tmpdir_new();
        int r;

        test_write_file(d->fd, "file", "x", 1);
        r = yb_mkdir_p_at(d->fd, "file", 0700);
        test_tmpdir_free(d); /* before the assertion, so that the failure leaks nothing */
        ASSERT_TRUE(r < 0);
}

TEST(rm_rf_does_not_follow_symlinks) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        _cleanup_(test_tmpdir_freep) TestTmpdir *outside = test_tmpdir_new();
        _cleanup_free_ char *outside_file = test_tmpdir_path(outside, "keep");

        test_write_file(outside->fd, "keep", "precious", 8);
        ASSERT_OK(yb_mkdir_p_at(outside->fd, "dir", 0700));
        test_write_file(outside->fd, "dir/keep2", "also", 4);

        ASSERT_OK(yb_mkdir_p_at(d->fd, "t/a/b/c", 0700));
        test_write_file(d->fd, "t/top", "1", 1);
        test_write_file(d->fd, "t/a/b/c/deep", "2", 1);
        ASSERT_OK(symlinkat(outside->path, d->fd, "t/a/to-dir"));
        ASSERT_OK(symlinkat(outside_file, d->fd, "t/a/b/to-file"));
        ASSERT_OK(symlinkat("/nonexistent/dangling", d->fd, "t/dangling"));

        ASSERT_OK(yb_rm_rf_at(d->fd, "t"));
        ASSERT_EQ(test_count_entries(d->fd, "t"), -ENOENT);
        assert_file_is(outside->fd, "keep", "precious", 8);
        assert_file_is(outside->fd, "dir/keep2", "also", 4);

        /* A symlink given as the top path is removed, not followed. */
        ASSERT_OK(symlinkat(outside->path, d->fd, "link"));
        ASSERT_OK(yb_rm_rf_at(d->fd, "link"));
        ASSERT_EQ(test_count_entries(d->fd, "."), 0);
        assert_file_is(outside->fd, "keep", "precious", 8);
}

TEST(rm_rf_a_tree_deeper_than_the_fds_it_may_open) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        struct rlimit old, low;
        int fd = dup(d->fd), r;

        /* 500 levels, each with a file; the removal may hold 100 fds at most */
        ASSERT_GE(fd, 0);
        ASSERT_OK(mkdirat(d->fd, "t", 0700));
        for (int i = 0; i < 500; i++) {
                int next;

                if (i > 0)
                        ASSERT_OK(mkdirat(fd, "d", 0700));
                next = openat(fd, i == 0 ? "t" : "d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                ASSERT_GE(next, 0);
                close(fd);
                fd = next;
                test_write_file(fd, "f", "x", 1);
        }
        close(fd);
        ASSERT_OK(getrlimit(RLIMIT_NOFILE, &old));
        low = old;
        low.rlim_cur = 100;
        ASSERT_OK(setrlimit(RLIMIT_NOFILE, &low));
        r = yb_rm_rf_at(d->fd, "t");
        ASSERT_OK(setrlimit(RLIMIT_NOFILE, &old));
        ASSERT_OK(r);
        ASSERT_EQ(test_count_entries(d->fd, "."), 0);
}

TEST(rm_rf_never_crosses_a_mount_point) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        int status;
        pid_t pid;

        if (geteuid() != 0) {
                print_message("not root: no mount point to try\n");
                return;
        }
        ASSERT_OK(yb_mkdir_p_at(d->fd, "t/a/m", 0700));
        test_write_file(d->fd, "t/a/f", "x", 1);
        pid = fork();
        ASSERT_GE(pid, 0);
        if (pid == 0) {
                /* in a mount namespace of its own: a tmpfs on t/a/m with a file (the
                 * directory opened anew: d->fd is of the namespace it was opened in) */
                char *m = test_tmpdir_path(d, "t/a/m");
                int k, fd;

                if (unshare(CLONE_NEWNS) < 0 ||
                    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
                    mount("tmpfs", m, "tmpfs", 0, "size=1m") < 0)
                        _exit(77);
                fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0)
                        _exit(4);
                test_write_file(fd, "t/a/m/precious", "y", 1);
                k = yb_rm_rf_at(fd, "t");
                if (k != -EXDEV) {
                        fprintf(stderr, "yb_rm_rf_at: %d\n", k);
                        _exit(1);
                }
                if (faccessat(fd, "t/a/m/precious", F_OK, 0) < 0)
                        _exit(2);
                if (faccessat(fd, "t/a/f", F_OK, 0) == 0)
                        _exit(3); /* what is not behind the mount point is removed */
                (void) umount(m);
                _exit(0);
        }
        ASSERT_EQ(waitpid(pid, &status, 0), pid);
        ASSERT_TRUE(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77) {
                print_message("no mount namespace here: no mount point to try\n");
                return;
        }
        ASSERT_EQ(WEXITSTATUS(status), 0);
}

TEST(rm_rf_files_and_missing_paths) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();

        test_write_file(d->fd, "f", "x", 1);
        ASSERT_OK(yb_rm_rf_at(d->fd, "f"));
        ASSERT_OK(yb_rm_rf_at(d->fd, "f")); /* no error if it does not exist */
        ASSERT_OK(yb_rm_rf_at(d->fd, "never/was"));
        ASSERT_EQ(test_count_entries(d->fd, "."), 0);
}

TEST(read_secret_file_takes_first_line) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        static const struct {
                const char *content, *want;
        } cases[] = {
                { "secret\nsecond line\n", "secret" },
                { "secret\r\n", "secret" },
                { "no newline", "no newline" },
                { "", "" },
                { "\n", "" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *path = test_tmpdir_path(d, "pass"), *s = NULL;

                test_write_file(d->fd, "pass", cases[i].content, strlen(cases[i].content));
                ASSERT_OK(yb_read_secret_file(path, &s));
                ASSERT_STREQ(s, cases[i].want);
        }

        _cleanup_free_ char *missing = test_tmpdir_path(d, "missing");
        char *s = NULL;
        ASSERT_ERR(yb_read_secret_file(missing, &s), ENOENT);
        ASSERT_TRUE(s == NULL);
}

TEST(fsync_dir_at) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();

        ASSERT_OK(yb_fsync_dir_at(d->fd, "."));
        ASSERT_ERR(yb_fsync_dir_at(d->fd, "missing"), ENOENT);
        test_write_file(d->fd, "f", "x", 1);
        ASSERT_ERR(yb_fsync_dir_at(d->fd, "f"), ENOTDIR);
}

/* Fault injection: YB_FAULT's counters are process-global, so each scenario runs in a fresh
 * forked child where they start from zero. */

typedef struct FaultCase {
        const char *spec; /* "write:N" or "fsync:N" */
        int dir_fd;
} FaultCase;

/* The Nth write fails with ENOSPC; the ones before and after it pass. */
static int child_write_fault(void *userdata) {
        const FaultCase *c = userdata;
        _cleanup_close_ int fd = openat(c->dir_fd, "w", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        long n = atol(c->spec + strlen("write:"));

        CHILD_CHECK(fd >= 0);
        CHILD_CHECK(setenv("YB_FAULT", c->spec, 1) == 0);
        for (long i = 1; i < n; i++)
                CHILD_CHECK(yb_write_all(fd, "a", 1) == 0);
        CHILD_CHECK(yb_write_all(fd, "b", 1) == -ENOSPC);
        CHILD_CHECK(yb_pwrite_all(fd, "c", 1, 0) == 0); /* pwrite shares the counter */
        CHILD_CHECK(yb_write_all(fd, "d", 1) == 0);
        CHILD_CHECK(yb_fsync(fd) == 0); /* a write fault does not touch fsync */
        return 0;
}

static int child_fsync_fault(void *userdata) {
        const FaultCase *c = userdata;
        _cleanup_close_ int fd = openat(c->dir_fd, "w", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

        CHILD_CHECK(fd >= 0);
        CHILD_CHECK(setenv("YB_FAULT", c->spec, 1) == 0);
        CHILD_CHECK(yb_write_all(fd, "a", 1) == 0);
        CHILD_CHECK(yb_fsync(fd) == -EIO);
        CHILD_CHECK(yb_fsync(fd) == 0);
        return 0;
}

/* An atomic replacement that fails must leave the old file and no temporary. */
static int child_atomic_fault(void *userdata) {
        const FaultCase *c = userdata;
        uint8_t buf[16];
        ssize_t k;

        CHILD_CHECK(setenv("YB_FAULT", c->spec, 1) == 0);
        int r = yb_write_file_atomic_at(c->dir_fd, "f", "new content", 11, 0600);
        CHILD_CHECK(r == (strncmp(c->spec, "write", 5) == 0 ? -ENOSPC : -EIO));
        _cleanup_close_ int fd = openat(c->dir_fd, "f", O_RDONLY | O_CLOEXEC);
        CHILD_CHECK(fd >= 0);
        k = yb_read_all(fd, buf, sizeof(buf));
        CHILD_CHECK(k == 3 && memcmp(buf, "old", 3) == 0);
        return 0;
}

static void skip_without_fault_injection(void) {
#ifndef YB_FAULT_INJECTION
        skip(); /* a build without -DYB_FAULT_INJECTION=ON ignores YB_FAULT */
#endif
}

TEST(fault_write_fails_with_enospc) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        static const char *const specs[] = { "write:1", "write:3" };

        skip_without_fault_injection();
        for (size_t i = 0; i < ELEMENTSOF(specs); i++) {
                FaultCase c = { specs[i], d->fd };

                ASSERT_EQ(test_run_forked(child_write_fault, &c), 0);
        }
}

TEST(fault_fsync_fails_with_eio) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        FaultCase c = { "fsync:1", d->fd };

        skip_without_fault_injection();
        ASSERT_EQ(test_run_forked(child_fsync_fault, &c), 0);
}

TEST(fault_keeps_old_file_on_atomic_write) {
        _cleanup_(test_tmpdir_freep) TestTmpdir *d = test_tmpdir_new();
        static const char *const specs[] = { "write:1", "fsync:1" };

        skip_without_fault_injection();
        for (size_t i = 0; i < ELEMENTSOF(specs); i++) {
                FaultCase c = { specs[i], d->fd };

                ASSERT_OK(yb_write_file_atomic_at(d->fd, "f", "old", 3, 0600));
                ASSERT_EQ(test_run_forked(child_atomic_fault, &c), 0);
                ASSERT_EQ(test_count_entries(d->fd, "."), 1); /* the temporary was removed */
        }
}
