/* core/repo/dirnames.c: a store directory's names in a list (dirnames.h). */
#include "core/repo/dirnames.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void yb_dirnames_done(YbDirNames *l) {
        for (size_t i = 0; i < l->n; i++)
                free(l->v[i]);
        free(l->v);
        *l = (YbDirNames){ 0 };
}

int yb_dirnames_add(void *userdata, const char *name) {
        YbDirNames *l = userdata;

        if (l->n == l->alloc) {
                size_t a = l->alloc ? 2 * l->alloc : 32;
                char **p = realloc(l->v, a * sizeof(char *));

                if (!p)
                        return -ENOMEM;
                l->v = p;
                l->alloc = a;
        }
        l->v[l->n] = strdup(name);
        if (!l->v[l->n])
                return -ENOMEM;
        l->n++;
        return 0;
}

static int name_cmp(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

int yb_dirnames_list_sorted(YbStore *s, const char *path, YbDirNames *l) {
        int k = yb_store_list(s, path, yb_dirnames_add, l);

        if (k < 0) {
                yb_dirnames_done(l);
                return k;
        }
        if (l->n > 1)
                qsort(l->v, l->n, sizeof(char *), name_cmp);
        return 0;
}
