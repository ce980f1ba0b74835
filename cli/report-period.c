/* cli/report-period.c: a report's period from --month, --quarter or --year (report-period.h). */
#include "cli/report-period.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/base/macro.h"
#include "core/base/timeutil.h"

static const char *const option[_CLI_PERIOD_MAX] = {
        [CLI_PERIOD_MONTH] = "--month",
        [CLI_PERIOD_QUARTER] = "--quarter",
        [CLI_PERIOD_YEAR] = "--year",
};
static const char *const form[_CLI_PERIOD_MAX] = {
        [CLI_PERIOD_MONTH] = "YYYY-MM, e.g. 2026-11",
        [CLI_PERIOD_QUARTER] = "YYYY-Qn with n from 1 to 4, e.g. 2026-Q4",
        [CLI_PERIOD_YEAR] = "YYYY, e.g. 2026",
};

static bool digits(const char *s, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (s[i] < '0' || s[i] > '9')
                        return false;
        return true;
}

static int number(const char *s, size_t n) {
        int v = 0;

        for (size_t i = 0; i < n; i++)
                v = v * 10 + (s[i] - '0');
        return v;
}

/* Year, first month and months of the period, or false when value is not of kind's form. */
static bool parse(CliPeriodKind kind, const char *value, int *ret_year, int *ret_month,
                  int *ret_months) {
        size_t n = strlen(value);

        if (n < 4 || !digits(value, 4))
                return false;
        *ret_year = number(value, 4);
        if (*ret_year < 1970)
                return false;
        switch (kind) {
        case CLI_PERIOD_MONTH:
                if (n != 7 || value[4] != '-' || !digits(value + 5, 2))
                        return false;
                *ret_month = number(value + 5, 2);
                *ret_months = 1;
                return *ret_month >= 1 && *ret_month <= 12;
        case CLI_PERIOD_QUARTER:
                if (n != 7 || value[4] != '-' || (value[5] != 'Q' && value[5] != 'q') ||
                    value[6] < '1' || value[6] > '4')
                        return false;
                *ret_month = (value[6] - '1') * 3 + 1;
                *ret_months = 3;
                return true;
        case CLI_PERIOD_YEAR:
                *ret_month = 1;
                *ret_months = 12;
                return n == 4;
        default:
                return false;
        }
}

int cli_report_period(CliPeriodKind kind, const char *value, const YbTz *tz, int64_t *ret_from,
                      int64_t *ret_to, char *why, size_t why_size) {
        int year, month, months, end_year, end_month;
        int64_t from, to;

        if ((unsigned) kind >= _CLI_PERIOD_MAX) {
                snprintf(why, why_size, "no period was given (--month, --quarter or --year)");
                return -EINVAL;
        }
        if (!parse(kind, value, &year, &month, &months)) {
                snprintf(why, why_size, "%s '%s' is not a %s (%s, from 1970 on)", option[kind],
                         value,
                         kind == CLI_PERIOD_MONTH     ? "month"
                         : kind == CLI_PERIOD_QUARTER ? "quarter"
                                                      : "year",
                         form[kind]);
                return -EINVAL;
        }
        end_month = month + months;
        end_year = year + (end_month - 1) / 12;
        end_month = (end_month - 1) % 12 + 1;
        if (yb_tz_day_start(tz, yb_days_from_civil(year, month, 1), &from) < 0 ||
            yb_tz_day_start(tz, yb_days_from_civil(end_year, end_month, 1), &to) < 0) {
                snprintf(why, why_size,
                         "%s '%s': the time zone skips the whole first day of the period or of "
                         "the next; name another zone with --tz",
                         option[kind], value);
                return -ENOENT;
        }
        *ret_from = from * YB_USEC_PER_SEC;
        *ret_to = to * YB_USEC_PER_SEC;
        return 0;
}
