/* restore/pg-restore.h: a PostgreSQL base backup restored so that `pg_ctl start` brings it to
 * a chosen time (docs/postgresql.md, "Restore"). The base's data directory is restored as any
 * snapshot path is (restore.h); this adds what PostgreSQL needs beside it: the base to start
 * from (pg-wal.c), the WAL after it gathered from the store's segment chains and laid out as
 * whole WAL files (pg-wal.c), the tablespace map pointing at the restored tablespaces, the
 * recovery settings, and the decision whether a recovery target can be reached exactly
 * (pg-recovery.c, with pg_waldump). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/repo/repo.h"
#include "restore/restore.h"

/* The names of the hooks that have a base in l (each once, in the order first met); the caller
 * frees each name and the array. 0 (and n 0) when there is none. */
int yb_pg_hooks(const YbSnapshotList *l, char ***ret, size_t *ret_n);

/* The base of hook's cluster in h, or NULL. */
const YbPgBackup *yb_pg_base_of(const YbSnapshotHeader *h, const char *hook);

/* The newest base of hook in l consistent at at_ns (stopped_ns <= at_ns; INT64_MAX: the newest
 * of all): its snapshot and record. -ENOENT if there is none; *ret_oldest is then the oldest
 * base of hook (NULL if it has none), for the message. */
int yb_pg_base_pick(const YbSnapshotList *l, const char *hook, int64_t at_ns,
                    const YbSnapshotHeader **ret, const YbPgBackup **ret_base,
                    const YbPgBackup **ret_oldest);

/* What yb_pg_wal_gather laid out. */
typedef struct YbPgWal {
        uint64_t files; /* WAL files written, from the base's start WAL file on */
        uint64_t first_segno, last_segno;
        uint64_t end_lsn;  /* where the WAL laid out ends (the last file is padded with zeros
                            * after it) */
        int64_t newest_ns; /* when the newest WAL of them was stored: the finished time of the
                            * segment that brought it, or the base's stopped_ns */
        /* A gap: the WAL after end_lsn is stored, but not all of what comes between ("WAL file
         * 000000010000000000000007 is missing"); "" when there is none. The files after the
         * gap are not laid out. */
        char gap[256];
} YbPgWal;

/* Gathers the WAL of hook's base b (in snapshot base, which l holds) into waldir, made if
 * missing, as whole WAL files of b's timeline: from base's own data/pg_wal (up to b's stop
 * LSN), then from the segment chain of base and of every snapshot after it in l (wal/<WAL>
 * whole, wal/<WAL>.<OFFSET> pieces, and the data/pg_wal of later bases of hook). Each WAL
 * file is found wherever it is; bytes that two sources both hold must be the same. The last
 * file may end short: it is padded with zeros to the segment size, as PostgreSQL reads that as
 * the end of the WAL. Each content is checked against its hash. With base_only, only base's
 * own data/pg_wal is used.
 * Returns 0, or -EBADMSG when something needed is damaged, a segment chain cannot be read
 * past some segment, or two sources disagree (each reported through report, naming the
 * segment), -errno otherwise. */
int yb_pg_wal_gather(YbRepo *repo, const YbSnapshotList *l, const YbSecretKey *key,
                     const YbSnapshotHeader *base, const YbPgBackup *b, bool base_only,
                     const char *waldir, YbRestoreReportFn report, void *userdata, YbPgWal *ret);

/* pg-recover.c */

/* Where yb_pg_recover stopped. */
typedef enum YbPgRecoverStep {
        YB_PG_RECOVER_NONE,   /* it did everything */
        YB_PG_RECOVER_GATHER, /* the WAL could not be gathered (each problem reported) */
        YB_PG_RECOVER_GAP,    /* the WAL has a gap before the time asked for: nothing written */
        YB_PG_RECOVER_WRITE,  /* the recovery settings could not be written (-EINVAL: waldir
                               * holds a character restore_command cannot quote) */
} YbPgRecoverStep;

/* How one hook's recovery was prepared. */
typedef struct YbPgRecovery {
        YbPgWal wal;
        YbPgRecoverStep failed;
        /* The newest transaction end in the WAL laid out (yb_pg_newest_xact_end's answer: 1
         * with xend_ns, 0 none, -ENOENT when pg_waldump is missing, -EIO); asked only with a
         * time or a gap. */
        int xend_known;
        int64_t xend_ns;
        const char *recovery; /* "end" (the end of the WAL) or "time" */
        int64_t target_ns;    /* recovery_target_time, or -1 */
        char why[512];        /* why so, in a sentence's words */
        /* "time" without pg_waldump's word: if no transaction ended after target_ns,
         * PostgreSQL stops with FATAL "recovery ended before configured recovery target was
         * reached" (the end of the WAL is then the state asked for). */
        bool target_unsure;
} YbPgRecovery;

/* Makes the restored data directory datadir of hook's base b (in snapshot base) recover to
 * at_ns (INT64_MAX: to the end of all the WAL stored), as `yunbak restore --at/--latest` does:
 * the WAL from base on gathered into waldir (yb_pg_wal_gather), the target decided (a target
 * time only when a transaction ended after it, else the end of the WAL, which is then the same
 * state), recovery.signal and the settings written (yb_pg_recovery_write), waldir given
 * datadir's owner. A gap in the WAL is passed over only when the WAL before it reaches at_ns.
 * Returns 0, or -errno (-ENODATA for a gap) with ret->failed saying at which step. */
int yb_pg_recover(YbRepo *repo, const YbSnapshotList *l, const YbSecretKey *key,
                  const YbSnapshotHeader *base, const YbPgBackup *b, const char *datadir,
                  const char *waldir, int64_t at_ns, YbRestoreReportFn report, void *userdata,
                  YbPgRecovery *ret);

/* pg-recovery.c */

/* The pg_waldump to use: the newest /usr/lib/postgresql/<version>/bin one, else "pg_waldump"
 * from PATH; NULL when there is none. The caller frees it. */
char *yb_pg_waldump_find(void);

/* The time of the newest transaction end (COMMIT or ABORT, the records a recovery target time
 * is checked against) in WAL files first_segno..last_segno of timeline in waldir, read with
 * waldump from the newest file back until one is found. 1 and *ret_ns when found, 0 when the
 * WAL holds none, -ENOENT if waldump cannot be run, -EIO if it says nothing readable. */
int yb_pg_newest_xact_end(const char *waldump, const char *waldir, uint32_t timeline,
                          uint32_t segment_size, uint64_t first_segno, uint64_t last_segno,
                          int64_t *ret_ns);

/* Rewrites datadir's tablespace_map so that each tablespace is tsroot/<oid> (absolute paths):
 * PostgreSQL makes its pg_tblspc links from the map when it starts. 0 when datadir has no
 * map (no tablespaces), -EBADMSG when a line is not "<oid> <path>". */
int yb_pg_tablespace_map_rewrite(const char *datadir, const char *tsroot);

/* Writes datadir/recovery.signal and appends to datadir/postgresql.auto.conf a comment saying
 * that yunbak wrote it and when (now_ns), restore_command copying from waldir, and with
 * target_ns >= 0 recovery_target_time (UTC, microseconds) and recovery_target_action =
 * 'promote', and archive_mode = 'off' (see yb_pg_archive_off). Both files get datadir's
 * owner. */
int yb_pg_recovery_write(const char *datadir, const char *waldir, int64_t target_ns,
                         int64_t now_ns);

/* Appends archive_mode = 'off' to datadir's postgresql.auto.conf, with a comment saying why
 * and when (now_ns): the restored cluster's configuration is the production cluster's, and its
 * archive_command would write a new timeline's WAL into the store it was restored from. */
int yb_pg_archive_off(const char *datadir, int64_t now_ns);

/* "2026-12-06 11:40:01.123456+00", as PostgreSQL takes a timestamptz (ret needs 32 bytes). */
void yb_pg_time_format(int64_t ns, char ret[32]);

/* Gives path (and, if a directory, everything directly in it) datadir's owner: a restore by
 * root must leave the WAL readable to the server's user. */
int yb_pg_chown_like(const char *datadir, const char *path);
