#include "core/base/pathutil.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool yb_path_is_safe(const char *path, size_t n) {
        size_t i = 0;

        if (n == 0 || path[0] == '/' || memchr(path, 0, n))
                return false;
        while (i <= n) {
                size_t j = i;

                while (j < n && path[j] != '/')
                        j++;
                if (j == i)
                        return false;
                if (j - i == 1 && path[i] == '.')
                        return false;
                if (j - i == 2 && path[i] == '.' && path[i + 1] == '.')
                        return false;
                i = j + 1;
        }
        return true;
}

bool yb_path_startswith(const char *path, const char *prefix) {
        size_t n = strlen(prefix);

        while (n > 0 && prefix[n - 1] == '/')
                n--;
        if (strncmp(path, prefix, n) != 0)
                return false;
        return path[n] == 0 || path[n] == '/';
}

/* A byte's rank in the walk's order: the end first, then "/", then every other byte. */
static int walk_rank(unsigned char c) {
        return c == 0 ? 0 : c == '/' ? 1 : c + 1;
}

int yb_path_walk_cmp(const char *a, const char *b) {
        for (; *a == *b; a++, b++)
                if (*a == 0)
                        return 0;
        return walk_rank((unsigned char) *a) - walk_rank((unsigned char) *b);
}

char *yb_path_escape(const char *path) {
        size_t n = strlen(path);
        char *out = malloc(4 * n + 1), *o = out;

        if (!out)
                return NULL;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) path[i];

                if (c >= 0x20 && c < 0x7f && c != '\\')
                        *o++ = (char) c;
                else
                        o += sprintf(o, "\\x%02x", c);
        }
        *o = 0;
        return out;
}

int yb_path_beside_self(const char *name, char **ret) {
        char self[PATH_MAX];
        char *slash, *path;
        ssize_t n;

        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
                return -errno;
        self[n] = 0;
        slash = strrchr(self, '/');
        if (!slash)
                return -ENOENT;
        *slash = 0;
        if (asprintf(&path, "%s/%s", self, name) < 0)
                return -ENOMEM;
        if (access(path, X_OK) < 0) {
                int r = -errno;

                free(path);
                return r;
        }
        *ret = path;
        return 0;
}
