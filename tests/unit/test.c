#include "tests/unit/test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include "core/base/fileio.h"

/* Weak, so that tests of core/base need not link core/crypto: there it is NULL. Every test that
 * uses libsodium also calls into keys.c, which brings in the real one. */
int yb_crypto_init(void) __attribute__((weak));

static TestCase *cases;
static size_t ncases;

void test_register(TestCase *t) {
        t->next = cases;
        cases = t;
        ncases++;
}

TestTmpdir *test_tmpdir_new(void) {
        TestTmpdir *d = new0(TestTmpdir, 1);
        const char *base = getenv("TMPDIR");

        assert_non_null(d);
        assert_true(asprintf(&d->path, "%s/yb-test-XXXXXX", base ? base : "/tmp") > 0);
        assert_non_null(mkdtemp(d->path));
        d->fd = open(d->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(d->fd >= 0);
        return d;
}

void test_tmpdir_free(TestTmpdir *d) {
        safe_close(d->fd);
        (void) yb_rm_rf_at(AT_FDCWD, d->path);
        free(d->path);
        free(d);
}

char *test_tmpdir_path(const TestTmpdir *d, const char *name) {
        char *p;

        assert_true(asprintf(&p, "%s/%s", d->path, name) > 0);
        return p;
}

char *test_tz_push(const char *tz) {
        const char *old = getenv("TZ");
        char *saved = old ? strdup(old) : NULL;

        if (tz)
                setenv("TZ", tz, 1);
        else
                unsetenv("TZ");
        tzset();
        return saved;
}

void test_tz_pop(char *saved) {
        if (saved)
                setenv("TZ", saved, 1);
        else
                unsetenv("TZ");
        tzset();
        free(saved);
}

void test_fill_random(void *buf, size_t n, uint64_t seed) {
        uint8_t *p = buf;
        uint64_t x = seed * 0x9E3779B97F4A7C15ULL + 1;

        for (size_t i = 0; i < n; i++) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                p[i] = (uint8_t) (x >> 24);
        }
}

size_t test_first_difference(const void *a, const void *b, size_t n) {
        const uint8_t *x = a, *y = b;

        for (size_t i = 0; i < n; i++)
                if (x[i] != y[i])
                        return i;
        return n;
}

void test_write_file(int dir_fd, const char *path, const void *data, size_t n) {
        _cleanup_close_ int fd =
                openat(dir_fd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0)
                fail_msg("Failed to create '%s': %s", path, strerror(errno));
        ASSERT_OK(yb_write_all(fd, data, n));
}

void test_read_file(int dir_fd, const char *path, YbBuf *ret) {
        ASSERT_OK(yb_read_file_at(dir_fd, path, SIZE_MAX, ret));
}

void test_flip_byte(int dir_fd, const char *path, uint64_t off, uint8_t mask) {
        _cleanup_close_ int fd = openat(dir_fd, path, O_RDWR | O_CLOEXEC);
        uint8_t c;

        if (fd < 0)
                fail_msg("Failed to open '%s': %s", path, strerror(errno));
        ASSERT_EQ(pread(fd, &c, 1, (off_t) off), 1);
        c ^= mask;
        ASSERT_EQ(pwrite(fd, &c, 1, (off_t) off), 1);
}

int test_count_entries(int dir_fd, const char *path) {
        int fd = openat(dir_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;
        int n = 0;
        DIR *d;

        if (fd < 0)
                return -errno;
        d = fdopendir(fd);
        assert_non_null(d);
        while ((de = readdir(d)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        n++;
        closedir(d);
        return n;
}

bool test_store_objects(void) {
        const char *e = getenv("YUNBAK_TEST_STORE_OBJECTS");

        return e && streq(e, "1");
}

int test_count_leftovers(int dir_fd, const char *path) {
        int n = test_count_entries(dir_fd, path);

        return n == -ENOENT && test_store_objects() ? 0 : n;
}

int test_buf_write(void *userdata, const void *data, size_t n) {
        return yb_buf_append(userdata, data, n);
}

ssize_t test_source_read(void *userdata, void *data, size_t n) {
        TestSource *s = userdata;
        size_t k = MIN(n, s->size - s->pos);

        if (s->chunk > 0)
                k = MIN(k, s->chunk);
        if (k > 0)
                memcpy(data, s->data + s->pos, k);
        s->pos += k;
        return (ssize_t) k;
}

ssize_t test_source_peek(void *userdata, const void **ret) {
        TestSource *s = userdata;
        size_t k = s->size - s->pos;

        if (s->chunk > 0)
                k = MIN(k, s->chunk);
        free(s->lent);
        s->lent = malloc(MAX(k, (size_t) 1));
        if (!s->lent)
                return -ENOMEM;
        if (k > 0)
                memcpy(s->lent, s->data + s->pos, k);
        *ret = s->lent;
        s->pos += k;
        return (ssize_t) k;
}

void test_source_done(TestSource *s) {
        free(s->lent);
        s->lent = NULL;
}

int test_write_enospc(void *userdata, const void *data, size_t n) {
        TestFault *f = userdata;

        if (f && ++f->calls < f->fail_at)
                return 0;
        return -ENOSPC;
}

ssize_t test_read_eio(void *userdata, void *data, size_t n) {
        return -EIO;
}

int test_feed(int (*write_fn)(void *userdata, const void *data, size_t n), void *userdata,
              const void *data, size_t n, size_t chunk) {
        const uint8_t *p = data;
        size_t step = chunk ? chunk : MAX(n, (size_t) 1);

        for (size_t off = 0; off < n; off += step) {
                int r = write_fn(userdata, p + off, MIN(step, n - off));

                if (r < 0)
                        return r;
        }
        return 0;
}

int test_drain(ssize_t (*read_fn)(void *userdata, void *data, size_t n), void *userdata,
               size_t step, YbBuf *out) {
        for (;;) {
                ssize_t k;

                ASSERT_OK(yb_buf_reserve(out, step));
                k = read_fn(userdata, out->data + out->size, step);
                if (k <= 0)
                        return (int) k;
                if ((size_t) k > step)
                        fail_msg("a read of %zu bytes returned %zd", step, k);
                out->size += (size_t) k;
        }
}

int test_run(const char *fmt, ...) {
        _cleanup_free_ char *cmd = NULL;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = vasprintf(&cmd, fmt, ap);
        va_end(ap);
        ASSERT_GT(r, 0);
        r = system(cmd);
        return r == -1 || !WIFEXITED(r) ? -1 : WEXITSTATUS(r);
}

int test_run_forked(int (*fn)(void *userdata), void *userdata) {
        int status;
        pid_t pid;

        fflush(stdout);
        fflush(stderr);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
                _exit(fn(userdata)); /* no atexit handlers: the parent owns cmocka and the heap */
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (WIFSIGNALED(status))
                return 128 + WTERMSIG(status);
        assert_true(WIFEXITED(status));
        return WEXITSTATUS(status);
}

/* Runs every case, or only the one named on the command line. */
int main(int argc, char **argv) {
        struct CMUnitTest *tests = calloc(ncases, sizeof(*tests));
        size_t n = 0;
        int r;

        assert_non_null(tests);
        if (yb_crypto_init && yb_crypto_init() < 0)
                return 1;
        /* Fault injection is armed only by the cases that want it, in forked children. */
        unsetenv("YB_FAULT");
        /* Registration order is reversed by the list; run in source order. */
        for (TestCase *t = cases; t; t = t->next)
                n++;
        for (TestCase *t = cases; t; t = t->next) {
                n--;
                tests[n] = (struct CMUnitTest){ .name = t->name, .test_func = t->fn };
        }
        if (argc > 1)
                cmocka_set_test_filter(argv[1]);
        r = _cmocka_run_group_tests(argv[0], tests, ncases, NULL, NULL);
        free(tests);
        return r;
}
