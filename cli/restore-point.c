/* cli/restore-point.c: the point `yunbak restore` (and `yunbak drill`) restores: a snapshot
 * by id, by time or the newest, and on a tier-2 store the newest segment or chain root, each
 * under the rule for damage (a damaged newer point is never skipped silently); and the check
 * that the key given is the repository's. */
#include "cli/restore-point.h"

#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"
#include "core/repo/segment.h"

/* The chain of the point to restore on a tier-2 store: the newest segment or root finished at
 * or before at (NULL: the newest), with the rule for damage that snapshots follow (a damaged
 * segment before the point refuses, unless allow_older takes the newest point before it). */
static int tier2_chain(YbRepo *repo, const YbSnapshotList *l, const char *system,
                       const YbSecretKey *key, const char *at, bool allow_older,
                       YbRestoreChain **ret) {
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        _cleanup_free_ char *bad = NULL;
        const YbSnapshotHeader *root = NULL;
        int64_t at_ns = INT64_MAX;
        int r;

        if (at && yb_time_parse(at, &at_ns) < 0)
                return cli_usage_error("restore");
        r = yb_segments_find(repo, l, at_ns, &root, &segs, &bad);
        if (r == -ENOENT) {
                if (at)
                        log_error("System '%s' has no snapshot or segment finished at or before "
                                  "%s in store '%s'.",
                                  system, at, repo->store->location);
                else
                        log_error("System '%s' has nothing to restore yet in store '%s'.", system,
                                  repo->store->location);
                return YB_EXIT_FAILED;
        }
        if (r < 0) {
                log_error("Cannot find the point to restore among the segments of system '%s' in "
                          "store '%s': %s",
                          system, repo->store->location, strerror(-r));
                return yb_exit_code_from_errno(r);
        }
        if (bad) {
                const char *before = segs.n ? segs.items[segs.n - 1]->id : root->id;

                if (!allow_older) {
                        log_error("The segment chain of %s (system '%s') is damaged: %s; nothing "
                                  "was restored. Run 'yunbak verify' to see what is wrong, or add "
                                  "--allow-older to restore the newest sound point before it, "
                                  "%s.",
                                  root->id, system, bad, before);
                        return YB_EXIT_DAMAGED;
                }
                log_warning("The segment chain of %s (system '%s') is damaged: %s; restoring the "
                            "older point %s instead, as --allow-older asks.",
                            root->id, system, bad, before);
        }
        r = yb_restore_chain_new(repo, l, root, key, &c);
        if (r < 0) {
                log_error("Chain root %s of system '%s' cannot be restored: a snapshot it needs is "
                          "missing or damaged. Run 'yunbak verify'.",
                          root->id, system);
                return YB_EXIT_DAMAGED;
        }
        for (size_t i = 0; i < segs.n; i++) {
                YbSnapshotHeader *h = TAKE_PTR(segs.items[i]);
                char id[YB_SNAPSHOT_ID_MAX + 1];
                uint64_t seq = h->seq;

                snprintf(id, sizeof(id), "%s", h->id);
                r = yb_restore_chain_add(c, h);
                if (r < 0) {
                        log_error("Segment %s (seq %llu of chain %s, system '%s') cannot be "
                                  "read: %s. Nothing was restored. Run 'yunbak verify'.",
                                  id, (unsigned long long) seq, root->id, system,
                                  r == -EBADMSG  ? "its manifest is damaged or altered"
                                  : r == -EINVAL ? "it does not follow the segment before it"
                                                 : strerror(-r));
                        return r == -ENOMEM ? YB_EXIT_FAILED : YB_EXIT_DAMAGED;
                }
        }
        *ret = TAKE_PTR(c);
        return 0;
}

int cli_restore_point(YbRepo *repo, const YbSnapshotList *l, bool segments, const char *system,
                      const YbSecretKey *key, const char *id, const char *at, bool allow_older,
                      YbRestoreChain **ret) {
        const YbSnapshotHeader *snap;
        int r;

        r = cli_pick_snapshot(l, system, id, at, allow_older, &snap);
        if (r != 0)
                return r;
        if (!id && segments)
                return tier2_chain(repo, l, system, key, at, allow_older, ret);
        if (yb_restore_chain_new(repo, l, snap, key, ret) < 0) {
                log_error("Snapshot %s cannot be restored: a snapshot of its chain is missing or "
                          "damaged. Run 'yunbak verify'.",
                          snap->id);
                return YB_EXIT_DAMAGED;
        }
        return 0;
}

int cli_check_repo_key(const YbRepo *repo, const YbSecretKey *key, const char *keyfile,
                       const char *system) {
        char a[2 * YB_KEY_ID_SIZE + 1], b[2 * YB_KEY_ID_SIZE + 1];

        if (memcmp(key->pub.pk, repo->config.pub.pk, 32) == 0)
                return 0;
        yb_key_id_hex(key->pub.id, a);
        yb_key_id_hex(repo->config.pub.id, b);
        log_error("Key '%s' (system '%s', key id %s) is not the key of system '%s' in store "
                  "'%s' (key id %s): give the key whose id is that one.",
                  keyfile, key->pub.system, a, system,
                  repo->store && repo->store->location ? repo->store->location : "?", b);
        return YB_EXIT_KEY;
}
