/* tests/unit/test.h: TEST() cases on cmocka, with ASSERT_* macros that print both values. */
#pragma once

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
/* cmocka.h needs the four above first */
#include <cmocka.h>
#include <stdio.h>

#include "base/macro.h"

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
                if (memcmp((a), (b), (n)) != 0)                                                    \
                        fail_msg("%s and %s differ in their first %zu bytes", #a, #b,              \
                                 (size_t) (n));                                                    \
        } while (0)

/* A scratch directory removed at the end of the case. */
typedef struct TestTmpdir {
        char *path;
        int fd;
} TestTmpdir;

TestTmpdir *test_tmpdir_new(void);
void test_tmpdir_free(TestTmpdir *d);
DEFINE_FREEP(TestTmpdir, test_tmpdir_free);
/* Fills buf with deterministic pseudo-random bytes from seed. */
void test_fill_random(void *buf, size_t n, uint64_t seed);
