/* agents/agent.h: yunbak-agent internals. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "base/macro.h"

typedef struct AgentWalkEntry {
        int dir_fd;       /* the directory holding the entry */
        const char *name; /* its name in dir_fd */
        const char *path; /* its path in the snapshot: "<source basename>/<relative path>" */
        const char *abs;  /* its path on the host, for messages and exclude patterns */
        const struct stat *st;
} AgentWalkEntry;

/* Called for every entry, parents before children, siblings in byte order of their names.
 * Returns 0 to go on (into a directory too), 1 to skip a directory's contents, <0 to stop. */
typedef int (*AgentWalkFn)(void *userdata, const AgentWalkEntry *e);
/* Called for an entry that could not be examined (stat, open or read of a directory). */
typedef void (*AgentWalkErrorFn)(void *userdata, const char *abs, int error);

/* Walks source (a file or directory on the host), calling fn for it and for everything below.
 * Entries matching an exclude pattern are skipped with everything below them: a pattern with
 * no '/' matches names, one starting with '/' matches host paths, any other the snapshot path.
 * Works with dirfds, so depth is unlimited by PATH_MAX. */
int agent_walk(const char *source, const char *root_name, char *const *excludes, size_t n_excludes,
               AgentWalkFn fn, AgentWalkErrorFn err, void *userdata);

typedef struct AgentBackupArgs {
        const char *store;
        const char *system;
        const char *public_key;
        int level; /* YbLevel */
        char **excludes;
        size_t n_excludes;
        char **paths;
        size_t n_paths;
        const char *state_dir;
        int zstd_level;
        int threads;
        bool json;
} AgentBackupArgs;

/* Runs one backup; returns an exit code (YB_EXIT_*), having printed the summary. */
int agent_backup(const AgentBackupArgs *args);
