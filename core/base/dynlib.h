/* core/base/dynlib.h: a shared library loaded when it is first needed, not at the program's
 * start. libcurl, libpq, libssh2 and libarchive bring some forty libraries with them
 * (Kerberos, LDAP, GnuTLS, libxml2, ICU, ...): loading them all made every start of a program
 * 7 ms slower with them cached and 80 ms from a cold disk, for stores, hooks and volumes many
 * runs never touch (docs/design.md, "Libraries loaded when needed").
 *
 * The functions a program calls are defined under their own names by YB_DYNLIB_FN (one file
 * per library), checked by the compiler against the library's own header, and call through to
 * the library, which is loaded with its first call. Where a program starts to use a library, it
 * calls yb_dynlib_load() first, which says clearly when the library cannot be loaded; a
 * function called before that loads it then, and a library that cannot be loaded there is a
 * program error (it aborts, saying why). */
#pragma once

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

typedef struct YbDynLib {
        const char *soname;     /* "libcurl.so.4" */
        const char *package;    /* Debian's package that has it: "libcurl4" */
        const char *needed_for; /* "S3 stores" */
        pthread_once_t once;
        void *handle; /* NULL until loaded, or when it cannot be */
        char error[512];
} YbDynLib;

#define YB_DYNLIB_INIT(so, pkg, what)                                                              \
        { .soname = (so), .package = (pkg), .needed_for = (what), .once = PTHREAD_ONCE_INIT }

/* Loads l, once: 0, or -ELIBACC when it cannot be (yb_dynlib_error() says why). */
int yb_dynlib_load(YbDynLib *l);
/* Why l could not be loaded: "cannot load libcurl.so.4 (Debian's package libcurl4), which S3
 * stores need: <the loader's error>". */
const char *yb_dynlib_error(const YbDynLib *l);
/* The address of l's function name, l loaded if it was not. Aborts, saying why, when l cannot
 * be loaded or has no such function. */
void *yb_dynlib_sym(YbDynLib *l, const char *name);

/* The body of a wrapper: the library's function name, looked up once. */
#define YB_DYNLIB_CALLEE(lib, name)                                                                \
        static _Atomic(__typeof__(&name)) yb_fn_;                                                  \
        __typeof__(&name) f = atomic_load_explicit(&yb_fn_, memory_order_acquire);                 \
        if (!f) {                                                                                  \
                void *p_ = yb_dynlib_sym(&(lib), #name);                                           \
                memcpy(&f, &p_, sizeof(f));                                                        \
                atomic_store_explicit(&yb_fn_, f, memory_order_release);                           \
        }

/* Defines function name of library lib: ret name params, calling the library's with args. The
 * name is in parentheses so that a header's macro of that name is not expanded. */
#define YB_DYNLIB_FN(lib, ret, name, params, args)                                                 \
        ret(name) params {                                                                         \
                YB_DYNLIB_CALLEE(lib, name)                                                        \
                return f args;                                                                     \
        }
#define YB_DYNLIB_VOID_FN(lib, name, params, args)                                                 \
        void(name) params {                                                                        \
                YB_DYNLIB_CALLEE(lib, name)                                                        \
                f args;                                                                            \
        }
