/* cli/policy-archive.h: what `yunbak policy explain` says about a PostgreSQL hook's WAL archive
 * (cli/policy-archive.c). */
#pragma once

#include <jansson.h>

#include "policies/policy.h"

/* The postgresql.conf settings that archive hook h's WAL into the tier-1 store, when p has no
 * tier 2 and h is a physical postgresql hook (docs/postgresql.md, "WAL archive without tier
 * 2"): {"hook", "archive_mode", "archive_command", "archive_timeout", "lines", "placeholders",
 * "why"}. NULL when h needs none (or out of memory). */
json_t *cli_archive_settings(const YbPolicy *p, const YbHook *h);

/* Prints them (an element of explain's "sources.hooks[].wal_archive") under the hook's line. */
void cli_archive_settings_print(json_t *a);
