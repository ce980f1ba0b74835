/* policies/calendar-internal.h: a parsed calendar expression as calendar.c (parsing, normal form)
 * and calendar-search.c (the next elapse) share it; not for use outside those two. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "policies/calendar.h"

#define CAL_MIN_YEAR 1970
#define CAL_MAX_YEAR 2199
#define CAL_MAX_ITERATIONS 1000 /* as systemd's MAX_CALENDAR_ITERATIONS */
#define USEC_PER_SEC 1000000LL
/* 2201-01-01T00:00:00Z: past the last year in every zone, so nothing elapses after it. */
#define CAL_END_USEC (7289654400LL * USEC_PER_SEC)

typedef enum Field {
        FIELD_YEAR,
        FIELD_MONTH,
        FIELD_DAY,
        FIELD_HOUR,
        FIELD_MINUTE,
        FIELD_SECOND,
        _FIELD_MAX,
} Field;

/* One list element: "start", "start..stop" (repeat 1), "start/repeat" (no end) or
 * "start..stop/repeat". stop is -1 without an end, repeat 0 without a step. */
typedef struct Item {
        int start, stop, repeat;
        int written_stop; /* stop as written, before normalisation trims it to the last step */
} Item;

/* A field's list; no items means "*" (any value). */
typedef struct Chain {
        Item *items;
        size_t n;
} Chain;

typedef enum ZoneKind {
        ZONE_LOCAL, /* the process's local zone (TZ or /etc/localtime) */
        ZONE_UTC,
        ZONE_NAMED, /* an IANA zone from the tz database */
} ZoneKind;

struct YbCalendar {
        unsigned weekdays; /* bit 0 Monday ... bit 6 Sunday; 0: any day */
        Chain chains[_FIELD_MAX];
        ZoneKind zone_kind;
        char *zone; /* ZONE_NAMED only */
        bool never; /* no listed month has any listed day ("*-02-30"): never elapses */
};
