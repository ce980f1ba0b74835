/* tests/unit/test.h: TEST() cases on cmocka, with ASSERT_* macros that print both values. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/base/buf.h"
#include "core/base/macro.h"

typedef struct TestCase {
        const char *name;
        void (*fn)(void **state);
        struct TestCase *next;
} TestCase;

void test_register(TestCase *t);

#define TEST(n)                                                                                    \
        static void test_##n(void **state);                                                        \
        static TestCase test_case_##n = { #n, test_##n, NULL };                                    \
        __attribute__((constructor)) static void test_register_##n(void) {                         \
                test_register(&test_case_##n);                                                     \
        }                                                                                          \
        static void test_##n(void **state _unused_)

#define ASSERT_OK(expr)                                                                            \
        ({                                                                                         \
                long long _r = (long long) (expr);                                                 \
                if (_r < 0)                                                                        \
                        fail_msg("%s failed: %s (%lld)", #expr, strerror((int) -_r), _r);          \
                _r;                                                                                \
        })
#define ASSERT_ERR(expr, err)                                                                      \
        do {                                                                                       \
                long long _r = (long long) (expr);                                                 \
                if (_r != -(err))                                                                  \
                        fail_msg("%s returned %lld (%s), expected -%s", #expr, _r,                 \
                                 _r < 0 ? strerror((int) -_r) : "success", #err);                  \
        } while (0)
#define ASSERT_CMP(a, op, b)                                                                       \
        do {                                                                                       \
                long long _a = (long long) (a), _b = (long long) (b);                              \
                if (!(_a op _b))                                                                   \
                        fail_msg("%s %s %s: %lld vs %lld", #a, #op, #b, _a, _b);                   \
        } while (0)
#define ASSERT_EQ(a, b) ASSERT_CMP(a, ==, b)
#define ASSERT_NE(a, b) ASSERT_CMP(a, !=, b)
#define ASSERT_GT(a, b) ASSERT_CMP(a, >, b)
#define ASSERT_GE(a, b) ASSERT_CMP(a, >=, b)
#define ASSERT_LT(a, b) ASSERT_CMP(a, <, b)
#define ASSERT_LE(a, b) ASSERT_CMP(a, <=, b)
#define ASSERT_TRUE(x) ASSERT_CMP(!!(x), ==, 1)
#define ASSERT_FALSE(x) ASSERT_CMP(!!(x), ==, 0)
#define ASSERT_STREQ(a, b)                                                                         \
        do {                                                                                       \
                const char *_a = (a), *_b = (b);                                                   \
                if (!_a || !_b || strcmp(_a, _b) != 0)                                             \
                        fail_msg("%s == %s: \"%s\" vs \"%s\"", #a, #b, _a ? _a : "(null)",         \
                                 _b ? _b : "(null)");                                              \
        } while (0)
#define ASSERT_MEMEQ(a, b, n)                                                                      \
        do {                                                                                       \
                size_t _n = (size_t) (n), _at = test_first_difference((a), (b), _n);               \
                if (_at != _n)                                                                     \
                        fail_msg("%s and %s differ at byte %zu of %zu", #a, #b, _at, _n);          \
        } while (0)

/* The offset of the first byte where a and b differ, or n (NULL is fine when n is 0). */
size_t test_first_difference(const void *a, const void *b, size_t n);

/* A scratch directory removed at the end of the case. */
typedef struct TestTmpdir {
        char *path;
        int fd;
} TestTmpdir;

TestTmpdir *test_tmpdir_new(void);
void test_tmpdir_free(TestTmpdir *d);
DEFINE_FREEP(TestTmpdir, test_tmpdir_free);
/* "<d->path>/<name>"; the caller frees it. */
char *test_tmpdir_path(const TestTmpdir *d, const char *name);

/* Sets TZ (NULL: unsets it) for one case, with tzset(), and returns the old value for
 * test_tz_pop(), which puts it back and frees it. */
char *test_tz_push(const char *tz);
void test_tz_pop(char *saved);

/* Fills buf with deterministic pseudo-random bytes from seed. */
void test_fill_random(void *buf, size_t n, uint64_t seed);

/* Small file helpers below dir_fd; each fails the case on error. test_write_file creates or
 * replaces path (mode 0644); test_read_file appends the whole file to ret. */
void test_write_file(int dir_fd, const char *path, const void *data, size_t n);
void test_read_file(int dir_fd, const char *path, YbBuf *ret);
/* XORs the byte at off in path with mask (an in-place, same-size corruption). */
void test_flip_byte(int dir_fd, const char *path, uint64_t off, uint8_t mask);
/* Number of entries in a directory (without "." and ".."), or -errno. */
int test_count_entries(int dir_fd, const char *path);
/* Whether the local stores of this run behave as object stores (YUNBAK_TEST_STORE_OBJECTS=1, the
 * test hook of core/store/store-local.c). */
bool test_store_objects(void);
/* test_count_entries of a store's directory that holds leftovers (tmp/): on an object store,
 * where an empty directory does not exist, a missing one counts as empty (0). */
int test_count_leftovers(int dir_fd, const char *path);

/* Memory streams with the YbWriteFn / YbReadFn signatures. test_buf_write appends to the YbBuf in
 * userdata. A TestSource hands out at most chunk bytes per call (0: as many as asked), so that
 * readers see short reads of sizes 1, 2, 3, 7 ... */
int test_buf_write(void *userdata, const void *data, size_t n);
typedef struct TestSource {
        const uint8_t *data;
        size_t size, pos, chunk;
        uint8_t *lent; /* test_source_peek's last loan, freed at the next call */
} TestSource;
#define TEST_SOURCE(d, n, c)                                                                       \
        ((TestSource){ .data = (const uint8_t *) (d), .size = (n), .pos = 0, .chunk = (c) })
ssize_t test_source_read(void *userdata, void *data, size_t n);
/* The same bytes lent (a YbPeekFn), chunk bytes at a time (0: all that is left): each loan a
 * copy freed at the next call, so that AddressSanitizer catches a loan used after it ended;
 * test_source_done frees the last one. */
ssize_t test_source_peek(void *userdata, const void **ret);
void test_source_done(TestSource *s);
/* Streams that fail: test_write_enospc always fails with -ENOSPC when userdata is NULL, else
 * from the TestFault's fail_at-th call on; test_read_eio always fails with -EIO. */
typedef struct TestFault {
        size_t calls, fail_at;
} TestFault;
int test_write_enospc(void *userdata, const void *data, size_t n);
ssize_t test_read_eio(void *userdata, void *data, size_t n);
/* Streaming in odd sizes (STYLE.md, "Tests"). test_feed hands n bytes of data to write_fn in
 * calls of chunk bytes (0: one call) and returns the first error. test_drain calls read_fn with
 * step bytes at a time, appending what it gets to out, until it returns 0 (then 0) or an error
 * (returned). */
int test_feed(int (*write_fn)(void *userdata, const void *data, size_t n), void *userdata,
              const void *data, size_t n, size_t chunk);
int test_drain(ssize_t (*read_fn)(void *userdata, void *data, size_t n), void *userdata,
               size_t step, YbBuf *out);

/* Runs a shell command line made from fmt; returns its exit status (-1 when it did not exit). */
int test_run(const char *fmt, ...) _printf_(1, 2);

/* Runs fn(userdata) in a forked child and returns its exit status (128 + N if signal N killed
 * it, as the shell reports it). cmocka cannot report from a child, so fn uses CHILD_CHECK (never
 * ASSERT_*), which prints the failed condition and returns 1. Used for YB_FAULT, whose counters
 * are process-global: each child starts from zero. */
int test_run_forked(int (*fn)(void *userdata), void *userdata);
#define CHILD_CHECK(cond)                                                                          \
        do {                                                                                       \
                if (!(cond)) {                                                                     \
                        fprintf(stderr, "%s:%d: child check failed: %s\n", __FILE__, __LINE__,     \
                                #cond);                                                            \
                        return 1;                                                                  \
                }                                                                                  \
        } while (0)
