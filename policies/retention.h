/* policies/retention.h: which snapshots a retention policy keeps. Pure logic over a list the
 * caller gives (the clear snapshot headers: no key needed) and a clock the caller gives; nothing
 * here touches a store; chains are followed in the snapshot graph (core/repo/graph.h). yunbakd and
 * `yunbak prune` apply it with yb_retention_apply() (policies/retention-apply.h), which plans with
 * yb_retention_plan() and removes what it does not keep with yb_repo_prune_many().
 *
 * The rules (docs/policy.md, "How retention is applied"), in brief:
 * - now < lock_until: everything is kept (YB_KEEP_LOCKED). No rule set: everything is kept
 *   (YB_KEEP_ALL).
 * - keep_last N: the N newest snapshots. keep_daily/weekly/monthly/yearly N: of each of the N
 *   newest days (weeks from Monday, ISO 8601; months; years) that have a snapshot, in the time zone
 *   given, the newest complete snapshot, or the newest partial one if that period has no complete
 *   snapshot. A rule whose count is more than the periods there are also keeps the oldest
 *   snapshot (as restic does). keep_within D: every snapshot younger than D at now.
 * - The newest complete snapshot is always kept (YB_KEEP_NEWEST), and if its chain is broken also
 *   the newest complete one whose chain is whole; with no complete snapshot, the newest one.
 * - Then every ancestor (parent, parent's parent, ...) of a kept snapshot is kept (YB_KEEP_CHAIN),
 *   so that every kept snapshot can still be restored. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policies/policy.h"

/* One snapshot as retention sees it. Strings are borrowed. */
typedef struct YbRetentionSnap {
        const char *id;     /* unique in the list, not empty */
        const char *parent; /* "" or NULL: none (a full) */
        int level;          /* YbLevel (repo/format.h); informational: chains follow parent */
        int64_t time_usec;  /* when the snapshot started, microseconds since the epoch (UTC) */
        bool partial;       /* some source files could not be read */
} YbRetentionSnap;

/* Why a snapshot is kept. A snapshot kept for several reasons gets the first in this order:
 * LOCKED, ALL, then LAST, DAILY, WEEKLY, MONTHLY, YEARLY, WITHIN, then NEWEST, then CHAIN. */
typedef enum YbKeepReason {
        YB_KEEP_NOT,     /* not kept: prune it */
        YB_KEEP_LAST,    /* keep_last */
        YB_KEEP_DAILY,   /* keep_daily */
        YB_KEEP_WEEKLY,  /* keep_weekly */
        YB_KEEP_MONTHLY, /* keep_monthly */
        YB_KEEP_YEARLY,  /* keep_yearly */
        YB_KEEP_WITHIN,  /* keep_within */
        YB_KEEP_CHAIN,   /* a kept snapshot needs it to be restored */
        YB_KEEP_LOCKED,  /* now is before lock_until */
        YB_KEEP_ALL,     /* no rule is set */
        YB_KEEP_NEWEST,  /* the newest complete snapshot is never pruned */
        _YB_KEEP_MAX,
} YbKeepReason;

/* Decides, for each of the n snapshots (in any order), whether rules keep it, and why:
 * ret_reasons[i] is snaps[i]'s reason. lock_until_usec (0: none) and now_usec are microseconds
 * since the epoch. tz is the time zone that days, weeks, months and years are counted in: an IANA
 * name ("Asia/Shanghai") or "UTC"; NULL for the process's local zone (TZ, else /etc/localtime).
 * Times before 1970-01-03 or after 2199-12-28 are counted in UTC days. A snapshot whose parent is
 * not in snaps is planned like any other (its chain is already broken; see
 * yb_retention_check_chains()).
 *
 * Returns the number of snapshots not kept (>= 0), or -EINVAL (a NULL or empty id, two snapshots
 * with the same id, a rule below -1 or a negative keep_within, an unknown time zone) or -ENOMEM;
 * on error ret_reasons is untouched. Thread-safe. */
int yb_retention_plan(const YbRetentionSnap *snaps, size_t n, const YbRetention *rules,
                      int64_t lock_until_usec, int64_t now_usec, const char *tz,
                      YbKeepReason *ret_reasons);

/* Finds the snapshots of snaps that cannot be restored because their chain is broken:
 * ret_missing[i] is NULL when snaps[i]'s chain reaches a snapshot without a parent, else the id
 * (a pointer into snaps) of the first ancestor missing from snaps, or, for parents that loop,
 * the id where the loop closes. Returns how many are broken, or -EINVAL (as yb_retention_plan) or
 * -ENOMEM. */
int yb_retention_check_chains(const YbRetentionSnap *snaps, size_t n, const char **ret_missing);

/* "prune" for YB_KEEP_NOT; "last", "daily", "weekly", "monthly", "yearly", "within", "chain",
 * "locked", "all", "newest"; NULL if out of range. */
const char *yb_keep_reason_to_string(YbKeepReason r);

/* Whether any rule of r is set (a rule below -1 or a negative keep_within counts as set, and
 * makes yb_retention_plan fail). With none, yb_retention_plan keeps everything. */
bool yb_retention_is_set(const YbRetention *r);
