#include "orchestrator/scheduler.h"

#include <stdlib.h>

#include "core/base/log.h"

typedef struct Entry {
        char *system, *kind;
        const YbCalendar *cal;
        int64_t next_usec; /* INT64_MAX: never again */
        bool catch_up;
} Entry;

struct YbScheduler {
        Entry *entries;
        size_t n, alloc;
};

int yb_scheduler_new(YbScheduler **ret) {
        YbScheduler *s = new0(YbScheduler, 1);

        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

void yb_scheduler_clear(YbScheduler *s) {
        for (size_t i = 0; i < s->n; i++) {
                free(s->entries[i].system);
                free(s->entries[i].kind);
        }
        s->n = 0;
}

YbScheduler *yb_scheduler_free(YbScheduler *s) {
        if (!s)
                return NULL;
        yb_scheduler_clear(s);
        free(s->entries);
        free(s);
        return NULL;
}

/* The entry's next run after t, or INT64_MAX: never. A calendar that cannot be computed (its
 * zone file damaged or gone since the policy was loaded) is said, not taken silently for one
 * that has no run left. */
static int64_t next_after(const Entry *e, int64_t t) {
        int64_t n;
        int r;

        r = yb_calendar_next(e->cal, t, &n);
        if (r == -ENOENT || r == -ENOMEM)
                return INT64_MAX;
        if (r < 0) {
                _cleanup_free_ char *text = yb_calendar_to_string(e->cal);

                log_error_errno(r,
                                "System '%s': cannot work out when its %s backup runs next (%s): "
                                "%m. It will not run until the policy is reloaded.",
                                e->system, e->kind, text ?: "?");
                return INT64_MAX;
        }
        return n;
}

int yb_scheduler_add(YbScheduler *s, const char *system, const char *kind, const YbCalendar *cal,
                     int64_t last_due_usec, int64_t now_usec) {
        Entry e = { .cal = cal };

        if (s->n == s->alloc) {
                size_t a = s->alloc ? 2 * s->alloc : 16;
                Entry *p = realloc(s->entries, a * sizeof(Entry));

                if (!p)
                        return -ENOMEM;
                s->entries = p;
                s->alloc = a;
        }
        e.system = strdup(system);
        e.kind = strdup(kind);
        if (!e.system || !e.kind) {
                free(e.system);
                free(e.kind);
                return -ENOMEM;
        }
        if (last_due_usec > 0) {
                e.next_usec = next_after(&e, last_due_usec);
                /* Missed while we were down: due now, once. */
                e.catch_up = e.next_usec <= now_usec;
        } else
                e.next_usec = next_after(&e, now_usec);
        s->entries[s->n++] = e;
        return 0;
}

/* Tier-1 levels by strength; other kinds are not ranked (0) and never cover each other. */
static int strength(const char *kind) {
        if (streq(kind, "full"))
                return 3;
        if (streq(kind, "differential"))
                return 2;
        if (streq(kind, "incremental"))
                return 1;
        return 0;
}

int yb_scheduler_run_due(YbScheduler *s, int64_t now_usec, int (*fn)(void *ud, const YbDue *due),
                         void *ud) {
        bool *due = new0(bool, s->n + 1);
        int r = 0;

        if (!due)
                return -ENOMEM;
        for (size_t i = 0; i < s->n; i++)
                due[i] = s->entries[i].next_usec <= now_usec;
        /* A stronger tier-1 level due for the same system covers the weaker ones. */
        for (size_t i = 0; i < s->n; i++)
                for (size_t j = 0; due[i] && j < s->n; j++)
                        if (j != i && due[j] && strength(s->entries[j].kind) > 0 &&
                            strength(s->entries[i].kind) > strength(s->entries[j].kind) &&
                            streq(s->entries[i].system, s->entries[j].system)) {
                                due[j] = false;
                                s->entries[j].next_usec = next_after(&s->entries[j], now_usec);
                                s->entries[j].catch_up = false;
                        }
        for (size_t i = 0; i < s->n && r >= 0; i++) {
                Entry *e = &s->entries[i];
                YbDue d;

                if (!due[i])
                        continue;
                d = (YbDue){ e->system, e->kind, e->next_usec, e->catch_up };
                r = fn(ud, &d);
                e->next_usec = next_after(e, now_usec);
                e->catch_up = false;
        }
        free(due);
        return r < 0 ? r : 0;
}

int64_t yb_scheduler_next_wakeup(const YbScheduler *s) {
        int64_t t = INT64_MAX;

        for (size_t i = 0; i < s->n; i++)
                t = MIN(t, s->entries[i].next_usec);
        return t;
}

size_t yb_scheduler_count(const YbScheduler *s) {
        return s->n;
}

void yb_scheduler_entry(const YbScheduler *s, size_t i, const char **ret_system,
                        const char **ret_kind, int64_t *ret_next_usec) {
        *ret_system = s->entries[i].system;
        *ret_kind = s->entries[i].kind;
        *ret_next_usec = s->entries[i].next_usec;
}
