/* The agent's local cache of signature indexes: a copy of the last snapshot's, kept in
 * <state dir>/cache/<system>/<id>.sigindex, sealed as in the store. It saves reading the parent's
 * index from a remote store; the store has it too, so an agent that lost its cache still makes an
 * incremental. */
#include <fcntl.h>
#include <stdio.h>

#include "agents/backup-internal.h"
#include "core/base/fileio.h"
#include "core/base/log.h"

/* <state dir>/cache/<system>, or NULL when memory runs out. */
static char *cache_dir(const AgentBackup *b) {
        char *dir = NULL;

        if (asprintf(&dir, "%s/cache/%s", b->args->state_dir, b->args->system) < 0)
                return NULL;
        return dir;
}

/* Reads the parent's index from the local cache into b->index. */
static int load_cached(AgentBackup *b, const YbSnapshotHeader *parent, const YbFileRef *ref) {
        _cleanup_(yb_store_closep) YbStore *local = NULL;
        _cleanup_free_ char *dir = cache_dir(b), *name = NULL;
        YbBuf buf = YB_BUF_INIT;
        char ctx[256];
        int r;

        if (!dir || asprintf(&name, "%s.sigindex", parent->id) < 0)
                return -ENOMEM;
        r = yb_store_open(dir, &local);
        if (r < 0)
                return r;
        yb_seal_context(b->args->system, parent->id, "sigindex", ctx);
        r = yb_sealed_read_all(local, name, ref, &b->agent->state, ctx, true, SIZE_MAX, &buf);
        if (r >= 0)
                r = yb_sigindex_parse(buf.data, buf.size, &b->index);
        yb_buf_done(&buf);
        if (r < 0)
                log_debug_errno(r, "No usable cached signature index: %m");
        return r;
}

int agent_sigcache_load(AgentBackup *b, const YbSnapshotHeader *parent) {
        const YbFileRef *ref = yb_header_find_file(parent, "sigindex");

        if (!ref)
                return -EBADMSG;
        if (load_cached(b, parent, ref) >= 0)
                return 0;
        return yb_repo_load_sigindex(b->repo, parent, &b->agent->state, &b->index);
}

void agent_sigcache_save(AgentBackup *b, const YbSnapshotHeader *h) {
        _cleanup_free_ char *dir = cache_dir(b), *src = NULL, *dst = NULL;
        YbBuf buf = YB_BUF_INIT;
        int r;

        if (!dir)
                return;
        src = yb_repo_snapshot_path(b->repo, h->id, "sigindex");
        if (!src || asprintf(&dst, "%s/%s.sigindex", dir, h->id) < 0)
                return;
        r = yb_mkdir_p_at(AT_FDCWD, dir, 0700);
        if (r >= 0)
                r = yb_store_read_file(b->store, src, SIZE_MAX, &buf);
        if (r >= 0)
                (void) yb_rm_rf_at(AT_FDCWD, dir);
        if (r >= 0)
                r = yb_mkdir_p_at(AT_FDCWD, dir, 0700);
        if (r >= 0)
                r = yb_write_file_atomic_at(AT_FDCWD, dst, buf.data, buf.size, 0600);
        if (r < 0)
                log_debug_errno(r, "Cannot cache the signature index in '%s': %m", dir);
        yb_buf_done(&buf);
}
