/* cli/restore-load.h: yunbak restore --load, the database dumps of a snapshot loaded into
 * databases with pg_restore (restore-load.c); cmd-restore.c parses the options and hands them
 * over once it has the point to restore. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "core/repo/repo.h"
#include "restore/restore.h"

typedef struct CliLoad {
        /* Each --load as given: "CONNINFO" (the snapshot's one dump) or "NAME=CONNINFO" (the
         * dump _streams/NAME.pgdump); borrowed. */
        char *const *specs;
        size_t n_specs;
        int jobs; /* --jobs: pg_restore's parallel jobs; 0: the CPUs, at most 4 */
} CliLoad;

/* Loads the dumps that lo names from chain's point into their databases: checks first that each
 * database can be reached and is empty, then for each dump restores it into a private directory
 * in target (removed after, also when a signal stops the load) and runs pg_restore
 * --exit-on-error on it, its output kept in target/NAME.pg_restore.log. Says what it did, or why
 * it could not (PostgreSQL's messages whole), and returns an exit code. repo, chain and key are
 * borrowed. */
int cli_restore_load(YbRepo *repo, YbRestoreChain *chain, const YbSecretKey *key,
                     const char *target, const CliLoad *lo, bool json);
