/* orchestrator/config-path.h: paths on the daemon's machine as yunbakd.yaml writes them: a
 * relative one is taken from the directory of the file (orchestrator/config-path.c), for
 * daemon-config.c and the readers of its sections. */
#pragma once

#include <stdbool.h>

#include "policies/schema.h"
#include "policies/yamltree.h"

/* base/path (just path when it is absolute or base is NULL), without empty or "." components
 * and without a trailing '/'; ".." is kept. The caller frees it; NULL when out of memory. */
char *orch_config_path_resolve(const char *base, const char *path);

/* text, the value of v (at path, for messages), resolved against base_dir into *ret (the caller
 * frees it) when it is relative; a problem in s when it is relative and base_dir is NULL. */
bool orch_config_resolve_path(YbSchema *s, const YbYamlNode *v, const char *path,
                              const char *base_dir, const char *text, char **ret);

/* Reads the text of v as such a path into *ret (the caller frees it); false after a problem. */
bool orch_config_read_path(YbSchema *s, const YbYamlNode *v, const char *path, const char *base_dir,
                           char **ret);
