/* cli/follow.h: yunbak restore --follow, a warm standby kept from a tier-2 store
 * (cmd-restore-follow.c); cmd-restore.c parses the options and hands them over. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "cli/cli.h"

typedef struct CliFollow {
        YbRepo *repo;       /* borrowed, opened on the tier-2 store */
        const char *system; /* for messages */
        const YbSecretKey *key;
        const CliTrust *trust; /* agents whose points are accepted */
        const char *target;
        int64_t interval_usec; /* how often to look for new segments */
        bool json;             /* a JSON line per event on stdout */
} CliFollow;

/* Restores the newest point into f->target (or takes up where an earlier run left it, from
 * f->target/.yunbak-follow/), then applies each new segment as it lands, and the root of each
 * new chain, until SIGTERM or SIGINT (after the segment in hand). Returns an exit code. */
int cli_follow(const CliFollow *f);
