/* core/repo/prune-objects.h: pruning a snapshot on an object store (S3), where no rename takes it
 * away in one step: every object of it is checked for Object Lock (a retain-until date ahead, a
 * legal hold) before anything is deleted, then the header goes first and the rest after it, and
 * what a refused delete leaves is said exactly (prune.c uses it; docs/s3.md, "Object Lock"). */
#pragma once

#include <stdint.h>

#include "core/repo/repo.h"

/* Stats every object under snapshots/<id>/ (a HEAD each on S3). *ret_until: the latest
 * retain-until date still ahead of now_sec (seconds; 0: none); *ret_held: the first object under
 * a legal hold (its key, to free), or NULL. 0 or the store's -errno (nothing is deleted). */
int yb_prune_objects_check(YbRepo *r, const char *id, int64_t now_sec, int64_t *ret_until,
                           char **ret_held);

/* Deletes snapshot id on an object store: its header first (from then on it is no snapshot),
 * then each of its objects, then whatever remains under its prefix (pending uploads). A refused
 * header leaves it whole: the store's -errno, *ret_partly NULL. A refused delete after the header
 * went: the store's -errno and *ret_partly (to free) says what went and what is kept, and why:
 * "its header and N objects are deleted; KEY is kept by ...". */
int yb_prune_objects_remove(YbRepo *r, const char *id, char **ret_partly);
