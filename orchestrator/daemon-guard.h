/* orchestrator/daemon-guard.h: what yunbakd makes sure of before it touches anything: that it is
 * the only yunbakd on its state directory (a lock that names its holder), that its catalog reads
 * through (quick_check), and that the catalog still holds the audit history the daemon last
 * sealed. The sealed head is kept outside the catalog, in the state directory beside
 * yunbakd.pub, so that a catalog emptied, replaced by an older copy or started afresh is noticed
 * rather than taken for a first start (docs/operations.md, "The catalog").
 *
 * This file calls nothing in daemon.c; yunbakd.c decides what to do with what it finds. */
#pragma once

#include <stdbool.h>

#include "orchestrator/daemon.h"

/* Takes the exclusive lock <state>/yunbakd.lock (making the state directory 0700 if needed) and
 * writes our pid in it; the descriptor stays open in d->lock_fd while yunbakd runs. -EBUSY,
 * logged with the pid of the holder, when another process holds it. */
int yb_daemon_lock_state(YbDaemon *d);

/* Opens config->catalog into d->catalog, checks it with quick_check and checks that it holds the
 * sealed head recorded in the state directory. Logs what is wrong and what to do, and returns
 * -EBADMSG when the catalog is damaged, -ENODATA when its history is missing (unless
 * accept_new: then it returns 1 and *ret_lost, malloc'ed, says what was given up, for the audit
 * log), another -errno when it cannot be opened; 0 when all is well. */
int yb_daemon_open_catalog(YbDaemon *d, bool accept_new, char **ret_lost);

/* For `yunbakd --check`: checks the live catalog as yb_daemon_open_catalog() does, but only
 * reading it (no catalog yet is fine), then gives d an empty catalog in memory for the policy
 * check to write into. Returns as yb_daemon_open_catalog() does. */
int yb_daemon_check_catalog(YbDaemon *d);

/* Records the newest seal of d->catalog in <state>/audit-head when it is newer than the one
 * recorded; under lock. Logs and returns -errno on failure. */
int yb_daemon_save_sealed_head(YbDaemon *d);
