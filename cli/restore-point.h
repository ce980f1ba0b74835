/* cli/restore-point.h: which point `yunbak restore` restores, and with which key: shared by
 * yunbak restore and yunbak drill, so that a drill restores exactly what a restore would. */
#pragma once

#include <stdbool.h>

#include "core/crypto/keys.h"
#include "core/repo/repo.h"
#include "restore/restore.h"

/* The chain of the point to restore from repo, whose snapshots are l (borrowed: l must outlive
 * the chain): snapshot id; else the newest snapshot (at or before at, an ISO 8601 time) picked
 * with cli_pick_snapshot's damage rule, and on a store with segment chains (segments) the
 * newest segment or chain root finished at or before at, under the same rule (a damaged point
 * newer than the pick refuses, unless allow_older). Returns 0 or an exit code (printed). */
int cli_restore_point(YbRepo *repo, const YbSnapshotList *l, bool segments, const char *system,
                      const YbSecretKey *key, const char *id, const char *at, bool allow_older,
                      YbRestoreChain **ret);

/* 0 when key (loaded from keyfile) is the key of system's repository; else says whose key it
 * is and returns YB_EXIT_KEY. */
int cli_check_repo_key(const YbRepo *repo, const YbSecretKey *key, const char *keyfile,
                       const char *system);
