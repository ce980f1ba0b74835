/* core/base/macro.h: cleanup attributes, ownership helpers and small utility macros. */
#pragma once

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f) __attribute__((cleanup(f)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))
#define _likely_(x) __builtin_expect(!!(x), 1)
#define _unlikely_(x) __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define YB_CONCAT_(a, b) a##b
#define YB_CONCAT(a, b) YB_CONCAT_(a, b)
#define YB_UNIQ(x) YB_CONCAT(x, __COUNTER__)
#define YB_MIN_(a, b, ua, ub)                                                                      \
        ({                                                                                         \
                __typeof__(a) ua = (a);                                                            \
                __typeof__(b) ub = (b);                                                            \
                ua < ub ? ua : ub;                                                                 \
        })
#define YB_MAX_(a, b, ua, ub)                                                                      \
        ({                                                                                         \
                __typeof__(a) ua = (a);                                                            \
                __typeof__(b) ub = (b);                                                            \
                ua > ub ? ua : ub;                                                                 \
        })
#define MIN(a, b) YB_MIN_(a, b, YB_UNIQ(_min_a), YB_UNIQ(_min_b))
#define MAX(a, b) YB_MAX_(a, b, YB_UNIQ(_max_a), YB_UNIQ(_max_b))

/* Takes the value out of a variable, leaving NULL (or -EBADF for fds) so no cleanup frees it. */
#define TAKE_PTR(p)                                                                                \
        ({                                                                                         \
                __typeof__(p) _p = (p);                                                            \
                (p) = NULL;                                                                        \
                _p;                                                                                \
        })
#define TAKE_FD(fd)                                                                                \
        ({                                                                                         \
                int _fd = (fd);                                                                    \
                (fd) = -EBADF;                                                                     \
                _fd;                                                                               \
        })

#define new0(type, n) ((type *) calloc((n), sizeof(type)))

/* Defines name##p(type **) calling func on the pointee, for _cleanup_(). */
#define DEFINE_FREEP(type, func)                                                                   \
        static inline void func##p(type **p) {                                                     \
                if (*p)                                                                            \
                        func(*p);                                                                  \
        }

static inline void freep(void *p) {
        free(*(void **) p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline int safe_close(int fd) {
        if (fd >= 0) {
                int saved = errno;
                close(fd);
                errno = saved;
        }
        return -EBADF;
}
static inline void closep(int *fd) {
        safe_close(*fd);
}
#define _cleanup_close_ _cleanup_(closep)

/* Returns a negative errno from errno, never 0 (a failing call that forgot errno is -EIO). */
static inline int negative_errno(void) {
        return errno > 0 ? -errno : -EIO;
}

static inline int streq(const char *a, const char *b) {
        return strcmp(a, b) == 0;
}
