/* The second step of a backup: choosing what it builds on. A differential builds on the last full
 * snapshot, an incremental on the last snapshot of any level (and that one's full base); with
 * --parent-agent only on snapshots that agent signed, never on one of --skip-parent, and never on
 * a damaged one (a header that does not check out, or a file of its chain missing or of another
 * size than its header signs). Without a parent the backup is a full one. The parent's signature
 * index says which files are unchanged and holds the signatures deltas are made against. */
#include "agents/backup-internal.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/repo/verify.h"

/* With --parent-agent, only snapshots that agent signed are built on; never one of
 * --skip-parent. */
static bool parent_agent_ok(const AgentBackupArgs *args, const YbSnapshotHeader *h) {
        for (size_t i = 0; i < args->n_skip_parents; i++)
                if (streq(args->skip_parents[i], h->id))
                        return false;
        return !args->has_parent_agent || memcmp(h->agent_pk, args->parent_agent, 32) == 0;
}

/* Sets b->parent and b->base from b->list for b->level; NULL when there is none. */
static void choose(AgentBackup *b) {
        const YbSnapshotList *list = &b->list;

        if (b->level == YB_LEVEL_DIFFERENTIAL) {
                for (size_t i = list->n; i > 0 && !b->base; i--)
                        if (list->items[i - 1]->level == YB_LEVEL_FULL &&
                            parent_agent_ok(b->args, list->items[i - 1]))
                                b->base = list->items[i - 1];
                b->parent = b->base;
        } else if (b->level == YB_LEVEL_INCREMENTAL) {
                for (size_t i = list->n; i > 0 && !b->parent; i--)
                        if (parent_agent_ok(b->args, list->items[i - 1]))
                                b->parent = list->items[i - 1];
                b->base = !b->parent || b->parent->level == YB_LEVEL_FULL
                                  ? b->parent
                                  : yb_snapshot_list_find(list, b->parent->base);
                if (!b->base || !parent_agent_ok(b->args, b->base))
                        b->parent = b->base = NULL;
        }
}

/* Loads the parent's signature index; without it every file is read and stored whole. */
static int load_index(AgentBackup *b) {
        int r = agent_sigcache_load(b, b->parent);

        if (r == -EKEYREJECTED)
                log_warning("Snapshot %s was made by another agent; every file is read and stored "
                            "whole this time.",
                            b->parent->id);
        else if (r < 0)
                log_warning_errno(r,
                                  "Cannot read the signature index of snapshot %s (%m); every "
                                  "file is read and stored whole.",
                                  b->parent->id);
        if (b->index) {
                b->seen = new0(uint8_t, b->index->n + 1);
                if (!b->seen)
                        return agent_fail(-ENOMEM, "Out of memory.");
        }
        return YB_EXIT_OK;
}

/* A parent whose chain (itself, its parents, down to its full) has a file missing or of another
 * size than its header signs cannot be restored, and neither could anything built on it: then
 * the backup is a full one, said. Returns 0 or -errno from the store. */
static int check_chain(AgentBackup *b) {
        for (const YbSnapshotHeader *h = b->parent; h;
             h = h->level == YB_LEVEL_FULL ? NULL : yb_snapshot_list_find(&b->list, h->parent)) {
                const char *file = NULL;
                int r = yb_verify_sizes(b->repo, h, &file);

                if (r == -ENOENT || r == -EBADMSG) {
                        log_warning("Snapshot %s of system '%s', which this %s backup would build "
                                    "on, is damaged (its file %s is %s); making a full backup "
                                    "instead. Run 'yunbak verify'.",
                                    h->id, b->args->system, yb_level_to_string(b->level), file,
                                    r == -ENOENT ? "missing" : "not of the size its header signs");
                        b->parent = b->base = NULL;
                        b->level = YB_LEVEL_FULL;
                        return 0;
                }
                if (r < 0)
                        return r;
        }
        return 0;
}

int agent_backup_choose_parent(AgentBackup *b) {
        const char *system = b->args->system;
        int r;

        r = yb_repo_list(b->repo, &b->list);
        if (r < 0)
                return agent_fail(r, "Cannot list the snapshots of system '%s': %s", system,
                                  strerror(-r));
        for (size_t i = 0; i < b->list.n_broken; i++)
                log_warning("Snapshot %s of system '%s' is damaged (%s); it is not used as a "
                            "parent. Run 'yunbak verify'.",
                            b->list.broken[i].id, system, strerror(-b->list.broken[i].error));
        choose(b);
        r = check_chain(b);
        if (r < 0)
                return agent_fail(r, "Cannot check the snapshots of system '%s' in '%s': %s",
                                  system, b->args->store, strerror(-r));
        if (b->level != YB_LEVEL_FULL && !b->parent) {
                log_notice("System '%s' has no full snapshot to build on yet: making a full "
                           "backup.",
                           system);
                b->level = YB_LEVEL_FULL;
        }
        if (b->parent)
                return load_index(b);
        return YB_EXIT_OK;
}
