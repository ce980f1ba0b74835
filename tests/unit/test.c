#include "test.h"

#include <fcntl.h>
#include <stdlib.h>

#include "base/fileio.h"
#include "crypto/keys.h"

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

/* Runs every case, or only the one named on the command line. */
int main(int argc, char **argv) {
        struct CMUnitTest *tests = calloc(ncases, sizeof(*tests));
        size_t n = 0;
        int r;

        assert_non_null(tests);
        if (yb_crypto_init() < 0)
                return 1;
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
