/* core/repo/pg.h: PostgreSQL physical backups in the repository format (docs/format.md,
 * "PostgreSQL").
 *
 * A postgresql hook in mode: physical makes the snapshot a base backup of the cluster, between
 * pg_backup_start and pg_backup_stop. The snapshot's header says so in clear (YbPgBackup, one per
 * hook), so that a key-less reader (yunbakd, `yunbak-agent wal-archive`) knows which snapshots
 * are bases and which WAL each needs. The cluster lives in the snapshot under "_pg/<hook>/":
 *
 *   _pg/<hook>/data/...                the data directory as the walk read it, without what
 *                                      PostgreSQL says not to copy; with backup_label and
 *                                      tablespace_map as pg_backup_stop returned them, and
 *                                      data/pg_wal/<WAL> the WAL from start to stop LSN, so that
 *                                      the restored directory alone is consistent
 *   _pg/<hook>/tablespaces/<oid>/...   each tablespace
 *
 * WAL written after the base lives in segment chains (segment.h): the tier-1 store's chains hold
 * archived WAL files (wal-archive: one chain per base, rooted on it), the tier-2 store's the bytes
 * the replicator shipped every interval. In a segment, WAL is a regular file at
 *
 *   _pg/<hook>/wal/<WAL>               a whole WAL file (24 hex digits: timeline, log, seg)
 *   _pg/<hook>/wal/<WAL>.<OFFSET>      the bytes of WAL file <WAL> from byte OFFSET (8 hex
 *                                      digits) on, as far as the file holds
 *
 * A restore lays a WAL file out from its whole copy, or from its pieces in offset order when they
 * follow one another from 0 (the last may stop short of the segment size: the WAL that existed).
 * LSNs are 64-bit positions, written "X/Y" as PostgreSQL writes them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "core/base/buf.h"

#define YB_PG_NAME_MAX 63     /* a hook's name: policy.c keeps them to [A-Za-z0-9_.-] */
#define YB_PG_WAL_NAME_LEN 24 /* "000000010000000000000003" */
#define YB_PG_LSN_MAX 18      /* "FFFFFFFF/FFFFFFFF" */
#define YB_PG_DIR "_pg"       /* the snapshot directory of every hook's cluster */

/* A base backup as the snapshot header records it ("postgresql" in the header's JSON). */
typedef struct YbPgBackup {
        char name[YB_PG_NAME_MAX + 1]; /* the hook's name */
        int version;                   /* the server's server_version_num (150018) */
        uint64_t system_identifier;    /* pg_control_system()'s, to tell clusters apart */
        uint32_t timeline;             /* backup_label's START TIMELINE */
        uint32_t wal_segment_size;     /* bytes (16 MiB unless initdb was told otherwise) */
        uint64_t start_lsn, stop_lsn;  /* pg_backup_start's and pg_backup_stop's LSNs */
        /* The server's clock when pg_backup_start and pg_backup_stop returned: the restored
         * cluster is consistent from stopped_ns on, so a restore to time T needs a base with
         * stopped_ns <= T. */
        int64_t started_ns, stopped_ns;
        char *data_directory; /* on the host, as the server named it (for messages) */
} YbPgBackup;

/* A physical hook's name as every reader takes it: 1 to YB_PG_NAME_MAX of A-Z, a-z, 0-9, '_',
 * '.' and '-', not starting with '.'. It is a directory of the snapshot (_pg/NAME), which a
 * header refuses if it starts with '.', and part of a replication slot's name. */
bool yb_pg_name_valid(const char *name);

/* Frees what b holds (not b). */
void yb_pg_backup_done(YbPgBackup *b);

/* Appends " key='value'" to b (no space when b is empty): one setting of a libpq connection
 * string, the value quoted as libpq wants (a quote or backslash in it backslash-escaped).
 * 0 or -ENOMEM. */
int yb_pg_conninfo_append(YbBuf *b, const char *key, const char *value);

/* "16/B374D848" <-> 0x16B374D848. Parse: -EINVAL unless two hex numbers of 1..8 digits. */
int yb_pg_lsn_parse(const char *s, uint64_t *ret);
void yb_pg_lsn_format(uint64_t lsn, char ret[YB_PG_LSN_MAX + 1]);

/* The WAL file holding lsn: "TTTTTTTTXXXXXXXXYYYYYYYY" (timeline, then the segment number
 * split as PostgreSQL's XLogFileName does). segment_size is a power of two, 1 MiB..1 GiB. */
void yb_pg_wal_name(uint32_t timeline, uint64_t lsn, uint32_t segment_size,
                    char ret[YB_PG_WAL_NAME_LEN + 1]);
/* The reverse: the timeline and the segment number (the LSN of its first byte is segno *
 * segment_size). -EINVAL unless name is 24 upper-case hex digits naming a valid segment. */
int yb_pg_wal_name_parse(const char *name, uint32_t segment_size, uint32_t *ret_timeline,
                         uint64_t *ret_segno);

/* Snapshot paths, each freed by the caller (NULL when out of memory):
 * "_pg/<hook>", "_pg/<hook>/data", "_pg/<hook>/tablespaces/<oid>", and in segments
 * "_pg/<hook>/wal/<WAL>" (offset < 0) or "_pg/<hook>/wal/<WAL>.<OFFSET>". */
char *yb_pg_path_root(const char *hook);
char *yb_pg_path_data(const char *hook);
char *yb_pg_path_tablespace(const char *hook, uint32_t oid);
char *yb_pg_path_wal(const char *hook, const char *wal_name, int64_t offset);
/* "_pg/<hook>/wal": the directory of a hook's WAL in segments, and the one source a WAL archive
 * segment's header names (walarchive.h). The caller frees it; NULL when out of memory. */
char *yb_pg_path_wal_dir(const char *hook);
/* Reads a segment's WAL path back: 1 when path is "_pg/<hook>/wal/<WAL>[.<OFFSET>]" (hook copied
 * into ret_hook, the name into ret_wal, *ret_offset the offset or -1 for a whole file), 0 when it
 * is some other path. */
int yb_pg_path_wal_parse(const char *path, char ret_hook[YB_PG_NAME_MAX + 1],
                         char ret_wal[YB_PG_WAL_NAME_LEN + 1], int64_t *ret_offset);

/* Timeline history files: "TTTTTTTT.history" (PostgreSQL's TLHistoryFileName), which a server
 * writes when it starts a new timeline (a promotion, the end of a point-in-time recovery) and
 * archives beside the WAL; a recovery that follows timelines reads them. In a segment one lives
 * at "_pg/<hook>/wal/<TTTTTTTT>.history", whole. */
#define YB_PG_HISTORY_NAME_LEN 16 /* "00000002.history" */
/* The timeline of a history file's name: -EINVAL unless 8 upper-case hex digits (not all zero)
 * then ".history". */
int yb_pg_history_name_parse(const char *name, uint32_t *ret_timeline);
/* "_pg/<hook>/wal/<TTTTTTTT>.history"; the caller frees it (NULL when out of memory). */
char *yb_pg_path_history(const char *hook, uint32_t timeline);
/* Reads it back: 1 when path is one (hook copied into ret_hook, the timeline into
 * *ret_timeline), 0 when it is some other path. */
int yb_pg_path_history_parse(const char *path, char ret_hook[YB_PG_NAME_MAX + 1],
                             uint32_t *ret_timeline);
