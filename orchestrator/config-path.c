/* orchestrator/config-path.c: paths on the daemon's machine as yunbakd.yaml writes them
 * (config-path.h). */
#include "orchestrator/config-path.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/macro.h"

/* base/path (just path when it is absolute or base is NULL), without empty or "." components
 * and without a trailing '/'. ".." is kept: only the kernel knows where it leads past a symlink.
 * NULL when out of memory. */
char *orch_config_path_resolve(const char *base, const char *path) {
        _cleanup_free_ char *joined = NULL;
        char *out;
        size_t o = 0;

        if (path[0] == '/' || !base)
                joined = strdup(path);
        else if (asprintf(&joined, "%s/%s", base, path) < 0)
                joined = NULL;
        if (!joined)
                return NULL;
        out = malloc(strlen(joined) + 2);
        if (!out)
                return NULL;
        if (joined[0] == '/')
                out[o++] = '/';
        for (const char *p = joined; *p;) {
                const char *end = strchrnul(p, '/');
                size_t len = (size_t) (end - p);

                if (len > 0 && !(len == 1 && p[0] == '.')) {
                        if (o > 0 && out[o - 1] != '/')
                                out[o++] = '/';
                        memcpy(out + o, p, len);
                        o += len;
                }
                p = *end ? end + 1 : end;
        }
        if (o == 0)
                out[o++] = '.';
        out[o] = 0;
        return out;
}

/* text, a path on the daemon's machine (the value of v), resolved against base_dir when it is
 * relative; an error when it is relative and there is no base_dir. */
bool orch_config_resolve_path(YbSchema *s, const YbYamlNode *v, const char *path,
                              const char *base_dir, const char *text, char **ret) {
        char buf[80];

        if (text[0] != '/' && !base_dir) {
                yb_schema_bad(s, v, "%s must be an absolute path, not %s", path,
                              yb_schema_describe(v, buf, sizeof(buf)));
                return false;
        }
        *ret = orch_config_path_resolve(base_dir, text);
        if (!*ret)
                s->oom = true;
        return *ret != NULL;
}

/* A path on the daemon's machine; relative ones are resolved against base_dir. */
bool orch_config_read_path(YbSchema *s, const YbYamlNode *v, const char *path, const char *base_dir,
                           char **ret) {
        _cleanup_free_ char *text = NULL;

        if (!yb_schema_read_text(s, v, path, 0, &text))
                return false;
        return orch_config_resolve_path(s, v, path, base_dir, text, ret);
}
