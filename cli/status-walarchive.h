/* cli/status-walarchive.h: what `yunbak status` says of the WAL archives (cli/status-walarchive.c):
 * a row per physical PostgreSQL hook of a system without tier 2 (its archive_command's WAL, as
 * yunbakd last checked it in the tier-1 store: archiving, late, none or unknown). */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/output.h"
#include "core/base/buf.h"

/* The WAL archive table's columns, for cli_table_new. */
#define CLI_WALARCHIVE_COLUMNS                                                                     \
        5, "SYSTEM", "HOOK", "WAL ARCHIVE", "NEWEST WAL ARCHIVED", "IN CHAIN OF"

/* Adds system s's rows to t (nothing when its status has no wal_archive), with a note for each
 * hook that needs attention. Returns whether one does: its state is late, none or unknown. */
bool cli_status_walarchive_add(CliTable *t, json_t *s, int64_t now, YbBuf *notes);
/* Whether the status entry s needs attention for its WAL archives (as above), for --json. */
bool cli_status_walarchive_attention(json_t *s);
