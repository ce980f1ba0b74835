#include "base/pathutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
