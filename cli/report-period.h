/* cli/report-period.h: the period of `yunbak report` (docs/reports.md, "The period"): a month
 * (YYYY-MM), a quarter (YYYY-Qn) or a year (YYYY) in a time zone, as [from, to) in usec. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "policies/tz.h"

typedef enum CliPeriodKind {
        CLI_PERIOD_MONTH,
        CLI_PERIOD_QUARTER,
        CLI_PERIOD_YEAR,
        _CLI_PERIOD_MAX,
} CliPeriodKind;

/* The period value of kind names (as its option --month, --quarter or --year gives it), from
 * its first local midnight in tz to the next period's (a midnight the zone skips: the first
 * second that exists). Returns 0 with *ret_from and *ret_to (usec), or -EINVAL with why
 * (naming the option, the value and the form it wants) in why (why_size bytes), or -ENOENT
 * when the zone skips a bound's whole day. */
int cli_report_period(CliPeriodKind kind, const char *value, const YbTz *tz, int64_t *ret_from,
                      int64_t *ret_to, char *why, size_t why_size);
