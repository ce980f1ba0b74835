/* restore/pg-recover.c: one PostgreSQL hook's restored data directory made to recover to a time
 * (pg-restore.h, yb_pg_recover): the WAL after its base laid out, the recovery target decided
 * (pg-recovery.c says why a target needs a transaction end after it) and the recovery settings
 * written. `yunbak restore --at/--latest` and a drill's restore of a point both use it, so that a
 * drill recovers exactly what a restore would. */
#include <stdio.h>
#include <string.h>

#include "core/base/timeutil.h"
#include "restore/pg-restore.h"

/* The newest transaction end in the WAL laid out (yb_pg_newest_xact_end's answer). */
static int newest_xact_end(const char *waldir, const YbPgBackup *b, const YbPgWal *w,
                           int64_t *ret_ns) {
        _cleanup_free_ char *waldump = yb_pg_waldump_find();

        if (!waldump || w->files == 0)
                return -ENOENT;
        return yb_pg_newest_xact_end(waldump, waldir, b->timeline, b->wal_segment_size,
                                     w->first_segno, w->last_segno, ret_ns);
}

/* The recovery target of a restore to at_ns from the WAL laid out. */
static void decide(const YbPgBackup *b, int64_t at_ns, YbPgRecovery *ret) {
        const YbPgWal *w = &ret->wal;
        char t[32], when[32];

        if (at_ns == INT64_MAX) {
                snprintf(ret->why, sizeof(ret->why), "all the WAL stored");
                return;
        }
        yb_pg_time_format(at_ns, t);
        if (w->newest_ns < at_ns) {
                yb_time_format_iso(w->newest_ns, when);
                snprintf(ret->why, sizeof(ret->why),
                         "%s is later than anything stored: the newest WAL was stored at %s", t,
                         when);
                return;
        }
        if (ret->xend_known == 0 || (ret->xend_known > 0 && ret->xend_ns <= at_ns)) {
                /* no transaction end since the last one (or since the base): nothing changed */
                yb_pg_time_format(ret->xend_known > 0 ? ret->xend_ns : b->stopped_ns, when);
                snprintf(ret->why, sizeof(ret->why),
                         "the end of the WAL is the state at %s: no transaction committed "
                         "between %s and %s",
                         t, when, t);
                return;
        }
        ret->recovery = "time";
        ret->target_ns = at_ns;
        if (ret->xend_known > 0) {
                yb_pg_time_format(ret->xend_ns, when);
                snprintf(ret->why, sizeof(ret->why),
                         "a transaction ended after it (the WAL's newest at %s), so PostgreSQL "
                         "stops exactly at %s",
                         when, t);
                return;
        }
        ret->target_unsure = true;
        snprintf(ret->why, sizeof(ret->why), "recovery target time %s", t);
}

int yb_pg_recover(YbRepo *repo, const YbSnapshotList *l, const YbSecretKey *key,
                  const YbSnapshotHeader *base, const YbPgBackup *b, const char *datadir,
                  const char *waldir, int64_t at_ns, YbRestoreReportFn report, void *userdata,
                  YbPgRecovery *ret) {
        int r;

        *ret = (YbPgRecovery){ .recovery = "end", .target_ns = -1, .xend_known = -ENOENT };
        ret->failed = YB_PG_RECOVER_GATHER;
        r = yb_pg_wal_gather(repo, l, key, base, b, false, waldir, report, userdata, &ret->wal);
        if (r < 0)
                return r;
        if (ret->wal.gap[0] || at_ns != INT64_MAX)
                ret->xend_known = newest_xact_end(waldir, b, &ret->wal, &ret->xend_ns);
        /* A gap is passed over only when the WAL before it already reaches at_ns. */
        if (ret->wal.gap[0] &&
            !(at_ns != INT64_MAX && ret->xend_known > 0 && ret->xend_ns > at_ns)) {
                ret->failed = YB_PG_RECOVER_GAP;
                return -ENODATA;
        }
        decide(b, at_ns, ret);
        ret->failed = YB_PG_RECOVER_WRITE;
        r = yb_pg_recovery_write(datadir, waldir, ret->target_ns, yb_usec_to_ns(yb_now_usec()));
        if (r >= 0)
                r = yb_pg_chown_like(datadir, waldir);
        if (r < 0)
                return r;
        ret->failed = YB_PG_RECOVER_NONE;
        return 0;
}
