/* cli/restore-pg.h: the PostgreSQL part of yunbak restore (cmd-restore-pg.c): for each hook
 * whose cluster the store holds as a base backup, its data directory, the WAL it needs and the
 * recovery settings, so that `pg_ctl start` reaches the time asked for; cmd-restore.c parses
 * the options, restores everything else and hands over. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"

typedef enum CliPgMode {
        CLI_PG_OWN,    /* --snapshot, or the plain newest: the base's own WAL, crash recovery */
        CLI_PG_LATEST, /* --latest: the newest base and all the WAL stored */
        CLI_PG_AT,     /* --at: the newest base consistent by then, and the WAL to reach it */
} CliPgMode;

typedef struct CliPgRestore {
        YbRepo *repo;            /* borrowed, as the rest */
        const YbSnapshotList *l; /* the store's snapshots */
        const YbSecretKey *key;
        const char *system;
        const char *target;
        CliPgMode mode;
        const YbSnapshotHeader *snapshot; /* --snapshot: the base of each hook it holds */
        int64_t at_ns;                    /* CLI_PG_AT */
        const char *at;                   /* as given, for messages */
        bool json;
        /* Set by cli_pg_plan: each hook and its base. */
        char **hooks;
        size_t n_hooks;
        const YbSnapshotHeader **base_snap;
        const YbPgBackup **base;
} CliPgRestore;

/* Picks each hook's base. Returns 0 (n_hooks 0: nothing of PostgreSQL to restore), or an exit
 * code once it has said why not (a time older than every base names the oldest base's
 * consistent-from time). */
int cli_pg_plan(CliPgRestore *p);
/* Restores each planned hook into p->target/_pg/<hook>/ and says what it wrote, on stdout, or
 * as objects appended to out with --json. Returns an exit code. */
int cli_pg_restore(CliPgRestore *p, json_t *out);
void cli_pg_done(CliPgRestore *p);
