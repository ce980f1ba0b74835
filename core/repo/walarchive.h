/* core/repo/walarchive.h: WAL archive chains, the WAL of a system without tier 2 (docs/format.md,
 * "PostgreSQL", "WAL archive chains").
 *
 * PostgreSQL's archive_command (`yunbak-agent wal-archive`) commits each finished WAL file, and
 * each timeline history file, as a segment (segment.h) of the tier-1 store holding one regular
 * file at "_pg/<hook>/wal/<name>" (pg.h), in the chain whose root is the base backup that needs
 * it: the newest base of the cluster whose start WAL file is at or before it. Such a segment's
 * header names exactly one source, "_pg/<hook>/wal"; a replicator's (tier 2) names the host
 * paths it watches, never that. So a key-less reader (a prune, which has no key to read
 * manifests) tells a WAL archive chain from a replicator's by its headers alone. */
#pragma once

#include <stdbool.h>

#include "core/repo/repo.h"

/* The base a WAL file goes with: the newest snapshot of l (yb_repo_list's order, oldest first)
 * whose header records a base backup of cluster hook (YbPgBackup with that name) with
 *   - the system identifier system_identifier (that of the cluster that wrote the WAL file; 0:
 *     any), so that the WAL of a cluster made anew never goes with the old one's bases;
 *   - a start WAL file at or before wal_name: its timeline at or before the WAL file's, and its
 *     segment number (by the base's wal_segment_size) at or before the WAL file's.
 * NULL when there is none (no base needs the WAL file yet), or wal_name is not a WAL file name.
 * Borrowed from l. */
const YbSnapshotHeader *yb_walarchive_root(const YbSnapshotList *l, const char *hook,
                                           const char *wal_name, uint64_t system_identifier);
/* The same for the history file of timeline timeline: the newest base of hook on that timeline
 * or an earlier one. */
const YbSnapshotHeader *yb_walarchive_root_history(const YbSnapshotList *l, const char *hook,
                                                   uint32_t timeline);

/* Whether segment header h is a WAL archive segment: its sources are exactly one,
 * "_pg/<hook>/wal" for some hook (copied into ret_hook if non-NULL). */
bool yb_walarchive_is_archive_segment(const YbSnapshotHeader *h, char ret_hook[YB_PG_NAME_MAX + 1]);

/* The newest segment of chain root (its header, checked; the caller frees it), or NULL in *ret
 * when the chain has no segment or does not exist. Reads the chain's newest hours only, newest
 * first, until one holds a segment. -EBADMSG when that hour holds a segment whose header does
 * not check out (what comes after it cannot be known: nothing may be appended); *ret_bad (if
 * non-NULL) then names it, and the caller frees it. Other -errno from the store. */
int yb_walarchive_last_segment(YbRepo *r, const char *root, YbSnapshotHeader **ret, char **ret_bad);

/* Whether the chain of root is a WAL archive chain: 1 when it exists and every one of its
 * segments is a WAL archive segment (and all check out, with no gap); 0 when it is another
 * chain (a replicator's), or one that cannot be told whole (a damaged header: left to a person,
 * as a replicator's is); -ENOENT when there is no chain; other -errno from the store. Reads
 * every hour index of the chain, and the headers of hours without one. */
int yb_walarchive_chain_is_archive(YbRepo *r, const char *root);
