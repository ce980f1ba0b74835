/* cli/status-tier2.h: what `yunbak status` says of tier 2 (cli/status-tier2.c): a row per system
 * with a replicator (its state, its lag against max_lag, its last segment), and
 * `yunbak status --system ID --lag-history`, the system's lag per hour. */
#pragma once

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "cli/ctl.h"
#include "cli/output.h"
#include "core/base/buf.h"

/* The tier-2 table's columns, for cli_table_new. */
#define CLI_TIER2_COLUMNS 6, "SYSTEM", "TIER 2", "STATE", "LAG", "MAX_LAG", "LAST SEGMENT"

/* Adds system s's tier-2 row to t (nothing when its status has no tier2), with a note for one
 * that needs attention. Returns whether it does: its lag exceeds max_lag, or its replicator
 * ended and is being restarted. */
bool cli_status_tier2_add(CliTable *t, json_t *s, int64_t now, YbBuf *notes);
/* Whether the status entry s needs attention for tier 2 (as above), for --json. */
bool cli_status_tier2_attention(json_t *s);

/* Prints the system's lag per hour over the last `hours` (GET /v1/systems/ID/lag), as a table
 * or (json) as yunbakd answered. Returns an exit code. */
int cli_status_lag_history(const CliCtl *ctl, const char *system, int64_t hours, bool json);
