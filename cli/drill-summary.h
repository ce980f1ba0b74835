/* cli/drill-summary.h: what yunbak drill prints of a drill, recorded or not. */
#pragma once

#include <jansson.h>
#include <stdint.h>

#include "restore/drill-run.h"

/* The summary of a drill yunbakd recorded: record is its signed record (system, objectives,
 * achieved, met, id), res what the run measured. */
void cli_drill_print_recorded(json_t *record, const YbDrillResult *res);
/* What a run with --no-record measured (RPO at started_usec, or at at_usec when --at asked for
 * an earlier time, on this host's clock), and that nothing was recorded or judged; at: the time
 * --at asked for as given, or NULL. */
void cli_drill_print_unrecorded(const char *system, int tier, const char *location, const char *at,
                                int64_t at_usec, const YbDrillResult *res, int64_t started_usec);
