/* The replicator's view of its sources: host paths and snapshot paths turned into each other,
 * the --exclude patterns applied to a single path (as agent_walk applies them while walking), and
 * a changed path marked dirty with the directory holding it, which both capture methods do. */
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/replicate.h"

/* p with the prefix a source has on one side (to_host: its name; else its real path) replaced by
 * the other side's, or NULL when p is below no source. */
static char *map_path(const AgentSource *sources, size_t n, const char *p, bool to_host) {
        for (size_t i = 0; i < n; i++) {
                const char *from = to_host ? sources[i].name : sources[i].real;
                const char *to = to_host ? sources[i].real : sources[i].name;
                size_t k = strlen(from);
                char *ret = NULL;

                if (strncmp(p, from, k) != 0 || (p[k] != '/' && p[k] != 0))
                        continue;
                if (asprintf(&ret, "%s%s", to, p + k) < 0)
                        return NULL;
                return ret;
        }
        return NULL;
}

char *agent_source_snapshot_path(const AgentSource *sources, size_t n, const char *abs) {
        return map_path(sources, n, abs, false);
}

char *agent_source_host_path(const AgentSource *sources, size_t n, const char *path) {
        return map_path(sources, n, path, true);
}

/* As agent_walk excludes: a pattern with no '/' matches any name on the way, one starting with
 * '/' the host path (or a directory above it), any other the snapshot path (or one above). */
static bool excluded(char *const *excludes, size_t n, const char *path, const char *abs) {
        for (size_t i = 0; i < n; i++) {
                const char *p = excludes[i];
                const char *subject = p[0] == '/' ? abs : path;
                _cleanup_free_ char *copy = strdup(subject);

                if (!copy)
                        return false;
                /* Each prefix ending at a '/' names an entry above, whose exclusion covers it. */
                for (char *end = copy + strlen(copy);;) {
                        char *slash, *name;

                        *end = 0;
                        slash = strrchr(copy, '/');
                        name = slash ? slash + 1 : copy;
                        if (fnmatch(p, strchr(p, '/') ? copy : name, 0) == 0)
                                return true;
                        if (!slash || slash == copy)
                                break;
                        end = slash;
                }
        }
        return false;
}

bool agent_path_excluded(char *const *excludes, size_t n_excludes, const char *path,
                         const char *abs) {
        return n_excludes > 0 && excluded(excludes, n_excludes, path, abs);
}

void agent_capture_mark(const AgentSource *sources, size_t n, char *const *excludes,
                        size_t n_excludes, AgentDirty *dirty, const char *abs, int64_t now_ns,
                        unsigned flags) {
        _cleanup_free_ char *path = agent_source_snapshot_path(sources, n, abs);
        char *slash;

        if (!path || agent_path_excluded(excludes, n_excludes, path, abs))
                return;
        if (agent_dirty_add(dirty, path, now_ns, flags) < 0)
                return;
        /* The directory's mtime moved with it. */
        slash = strrchr(path, '/');
        if (slash) {
                *slash = 0;
                (void) agent_dirty_add(dirty, path, now_ns, 0);
        }
}
