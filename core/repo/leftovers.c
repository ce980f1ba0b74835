/* core/repo/leftovers.c: what interrupted writers leave, removed by the next lock holder
 * (repo.h, yb_repo_cleanup_tmp): anything under tmp/ but the copies and repairs that the next
 * one resumes, and on an object store the incomplete snapshots and segments, written in place
 * but without their header (docs/format.md, "S3 stores"). What Object Lock keeps there is named
 * with its date and left. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/dirnames.h"
#include "core/repo/segment-internal.h"

/* Whether snapshots/<id> exists (or cannot be told not to). */
static bool snapshot_exists(YbRepo *r, const char *id) {
        _cleanup_free_ char *dir = NULL;
        YbStoreStat st;

        if (!yb_snapshot_id_valid(id))
                return false;
        dir = yb_repo_snapshot_path(r, id, NULL);
        return !dir || yb_store_stat(r->store, dir, &st) != -ENOENT;
}

int yb_repo_point_incomplete(YbRepo *r, const char *dir) {
        _cleanup_free_ char *header = NULL;
        YbStoreStat st;
        int k;

        if (!yb_store_objects(r->store))
                return 0;
        if (asprintf(&header, "%s/header", dir) < 0)
                return -ENOMEM;
        k = yb_store_stat(r->store, header, &st);
        if (k == -ENOENT)
                return 1;
        return k < 0 ? k : 0;
}

/* The latest retain-until date (seconds) of the files left in dir, 0 if none has one. */
static int64_t kept_until(YbStore *s, const char *dir) {
        _cleanup_(yb_dirnames_done) YbDirNames names = { 0 };
        int64_t until = 0;

        if (yb_store_list(s, dir, yb_dirnames_add, &names) < 0)
                return 0;
        for (size_t i = 0; i < names.n; i++) {
                _cleanup_free_ char *p = NULL;
                YbStoreStat st;

                if (asprintf(&p, "%s/%s", dir, names.v[i]) >= 0 && yb_store_stat(s, p, &st) >= 0)
                        until = MAX(until, st.retain_until);
        }
        return until;
}

int yb_repo_remove_leftover(YbRepo *r, const char *dir, const char *what) {
        int k = yb_store_remove_tree(r->store, dir);
        int64_t until;
        char date[32];

        if (k != -EPERM)
                return k == -ENOENT ? 0 : k;
        until = kept_until(r->store, dir);
        if (until > 0)
                yb_time_format_iso(until * YB_NSEC_PER_SEC, date);
        log_warning("%s %s in store %s is kept by Object Lock %s%s: it stays until then, and the "
                    "first backup, copy or prune after that removes it. Nothing reads it "
                    "meanwhile.",
                    what, dir, yb_store_location(r->store),
                    until > 0 ? "until " : "(no date given)", until > 0 ? date : "");
        return 0;
}

/* An object store's incomplete snapshot id is left alone while a copy or a repair of it is
 * under way (tmp/copy-<id>, tmp/repair-<id>): theirs to finish. */
static bool in_progress(YbRepo *r, const char *id) {
        _cleanup_free_ char *copy = NULL, *repair = NULL;
        YbStoreStat st;

        if (asprintf(&copy, "%s/tmp/copy-%s", r->system, id) < 0 ||
            asprintf(&repair, "%s/tmp/repair-%s", r->system, id) < 0)
                return true;
        return yb_store_stat(r->store, copy, &st) != -ENOENT ||
               yb_store_stat(r->store, repair, &st) != -ENOENT;
}

/* Removes the incomplete points among the names of directory dir (each a point's directory). */
static int remove_incomplete_in(YbRepo *r, const char *dir, bool snapshots) {
        _cleanup_(yb_dirnames_done) YbDirNames names = { 0 };
        int k = yb_dirnames_list_sorted(r->store, dir, &names);

        if (k == -ENOENT)
                return 0;
        for (size_t i = 0; i < names.n && k >= 0; i++) {
                _cleanup_free_ char *p = NULL;

                if (!yb_snapshot_id_valid(names.v[i]))
                        continue;
                if (asprintf(&p, "%s/%s", dir, names.v[i]) < 0)
                        return -ENOMEM;
                k = yb_repo_point_incomplete(r, p);
                if (k <= 0 || (snapshots && in_progress(r, names.v[i])))
                        continue;
                log_debug("Removing an incomplete %s: %s", snapshots ? "snapshot" : "segment", p);
                k = yb_repo_remove_leftover(
                        r, p, snapshots ? "The incomplete snapshot" : "The incomplete segment");
        }
        return k;
}

/* The incomplete segments of every chain's hours without an index (those with one were cleaned
 * when it was written: yb_segments_close_hours). */
static int cleanup_segments(YbRepo *r) {
        _cleanup_(yb_dirnames_done) YbDirNames roots = { 0 };
        _cleanup_free_ char *dir = yb_repo_path(r, "segments");
        int k;

        if (!dir)
                return -ENOMEM;
        k = yb_dirnames_list_sorted(r->store, dir, &roots);
        if (k == -ENOENT)
                return 0;
        for (size_t i = 0; i < roots.n && k >= 0; i++) {
                _cleanup_(yb_seg_hours_done) YbSegHours hours = { 0 };

                if (!yb_snapshot_id_valid(roots.v[i]))
                        continue;
                k = yb_seg_chain_hours(r, roots.v[i], &hours, NULL);
                if (k == -ENOENT) {
                        k = 0;
                        continue;
                }
                for (size_t j = 0; j < hours.n && k >= 0; j++) {
                        _cleanup_free_ char *h = NULL;

                        if (hours.v[j].has_index || !hours.v[j].has_dir)
                                continue;
                        h = yb_seg_chain_path(r, roots.v[i], hours.v[j].name);
                        k = h ? remove_incomplete_in(r, h, false) : -ENOMEM;
                }
        }
        return k;
}

int yb_repo_cleanup_incomplete(YbRepo *r) {
        _cleanup_free_ char *snaps = yb_repo_path(r, "snapshots");
        int k;

        assert(r->locked);
        if (!yb_store_objects(r->store))
                return 0;
        if (!snaps)
                return -ENOMEM;
        k = remove_incomplete_in(r, snaps, true);
        if (k >= 0)
                k = cleanup_segments(r);
        return k;
}

int yb_repo_cleanup_tmp(YbRepo *r) {
        _cleanup_free_ char *tmp = yb_repo_path(r, "tmp");
        YbDirNames l = { 0 };
        int k;

        if (!tmp)
                return -ENOMEM;
        assert(r->locked);
        k = yb_store_list(r->store, tmp, yb_dirnames_add, &l);
        if (k == -ENOENT)
                k = 0;
        for (size_t i = 0; i < l.n && k >= 0; i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%s", tmp, l.v[i]) < 0) {
                        k = -ENOMEM;
                        break;
                }
                /* A copy in progress, or a repair of a snapshot that still exists: theirs to
                 * resume (docs/format.md, "Copies" and "Repair"). */
                if (strncmp(l.v[i], "copy-", 5) == 0 ||
                    (strncmp(l.v[i], "repair-", 7) == 0 && snapshot_exists(r, l.v[i] + 7)))
                        continue;
                log_debug("Removing leftover of an interrupted backup: %s", p);
                /* A pruned segment chain's files are removed without the lock
                 * (yb_segments_remove_detached), maybe right now: what the other remover took
                 * first is gone, not an error (each pass takes what is left). */
                k = -ENOENT;
                for (int pass = 0; pass < 100 && k == -ENOENT; pass++)
                        k = yb_store_remove_tree(r->store, p);
                if (k == -EPERM)
                        k = yb_repo_remove_leftover(r, p, "The leftover");
        }
        yb_dirnames_done(&l);
        if (k >= 0)
                k = yb_repo_cleanup_incomplete(r);
        return k;
}
