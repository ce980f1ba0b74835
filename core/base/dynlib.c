/* Shared libraries loaded when first needed (core/base/dynlib.h). */
#include "core/base/dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* pthread_once's functions take no argument: the library being loaded, per thread. */
static _Thread_local YbDynLib *loading;

static void load_once(void) {
        YbDynLib *l = loading;
        const char *why;

        l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
        if (l->handle)
                return;
        why = dlerror();
        snprintf(l->error, sizeof(l->error),
                 "cannot load %s (Debian's package %s), which %s need: %s", l->soname, l->package,
                 l->needed_for, why ? why : "no reason given");
}

int yb_dynlib_load(YbDynLib *l) {
        loading = l;
        pthread_once(&l->once, load_once);
        loading = NULL;
        return l->handle ? 0 : -ELIBACC;
}

const char *yb_dynlib_error(const YbDynLib *l) {
        return l->handle ? "" : l->error;
}

void *yb_dynlib_sym(YbDynLib *l, const char *name) {
        void *p;

        if (yb_dynlib_load(l) < 0) {
                fprintf(stderr, "yunbak: %s.\n", l->error);
                abort();
        }
        p = dlsym(l->handle, name);
        if (!p) {
                fprintf(stderr, "yunbak: %s has no function %s (%s): not the version built for.\n",
                        l->soname, name, l->package);
                abort();
        }
        return p;
}
