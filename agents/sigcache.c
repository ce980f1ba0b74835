/* The agent's local cache of signature indexes: <state dir>/cache/<system>/<id>.sigindex, each a
 * copy of a snapshot's sealed file in the store. It holds the last snapshot's index and, when that
 * one is a delta against its parent's (docs/format.md, "Signature index"), the ones down its chain
 * to a whole index: the next backup starts without reading the store. Every copy is checked
 * against the size and hash its snapshot's header signs, as the store's file would be. An agent
 * that lost its cache reads the chain from the store, and caches it again. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "agents/backup-internal.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/repo/segment.h"

/* <state dir>/cache/<system>, or NULL when memory runs out. */
static char *cache_dir(const AgentBackup *b) {
        char *dir = NULL;

        if (asprintf(&dir, "%s/cache/%s", b->args->state_dir, b->args->system) < 0)
                return NULL;
        return dir;
}

/* Reads snapshot h's index (plaintext) from local, the cache (name <id>.sigindex) or the store
 * (its own path). */
static int read_sealed(AgentBackup *b, YbStore *s, const char *path, const YbSnapshotHeader *h,
                       YbBuf *out) {
        const YbFileRef *ref = yb_header_find_file(h, "sigindex");
        char ctx[256];

        if (!ref)
                return -EBADMSG;
        yb_seal_context(b->args->system, h->id, "sigindex", ctx);
        return yb_sealed_read_all(s, path, ref, &b->agent->state, ctx, true, SIZE_MAX, out);
}

static int read_cached(AgentBackup *b, const YbSnapshotHeader *h, YbBuf *out) {
        _cleanup_(yb_store_closep) YbStore *local = NULL;
        _cleanup_free_ char *dir = cache_dir(b), *name = NULL;
        int r;

        if (!dir || asprintf(&name, "%s.sigindex", h->id) < 0)
                return -ENOMEM;
        r = yb_store_open(dir, &local);
        return r < 0 ? r : read_sealed(b, local, name, h, out);
}

/* Writes a cached copy through a temporary name, without fsync: a copy that a crash left torn
 * does not match the size and hash its header signs, and the store's file is read instead. */
static int write_copy(const char *dst, const YbBuf *buf) {
        _cleanup_free_ char *tmp = NULL;
        int fd, r;

        if (asprintf(&tmp, "%s.tmp-%ld", dst, (long) getpid()) < 0)
                return -ENOMEM;
        fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return -errno;
        r = yb_write_all(fd, buf->data, buf->size);
        if (close(fd) < 0 && r >= 0)
                r = -errno;
        if (r >= 0 && rename(tmp, dst) < 0)
                r = -errno;
        if (r < 0)
                (void) unlink(tmp);
        return r;
}

/* Copies snapshot id's index from the store into the cache, unless it is there already. */
static int fetch(AgentBackup *b, const char *id, bool again) {
        _cleanup_free_ char *dir = cache_dir(b), *src = NULL, *dst = NULL;
        YbBuf buf = YB_BUF_INIT;
        int r;

        src = yb_repo_snapshot_path(b->repo, id, "sigindex");
        if (!dir || !src || asprintf(&dst, "%s/%s.sigindex", dir, id) < 0)
                return -ENOMEM;
        if (!again && faccessat(AT_FDCWD, dst, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        r = yb_mkdir_p_at(AT_FDCWD, dir, 0700);
        if (r >= 0)
                r = yb_store_read_file(b->store, src, SIZE_MAX, &buf);
        if (r >= 0)
                r = write_copy(dst, &buf);
        yb_buf_done(&buf);
        if (r < 0)
                log_debug_errno(r, "Cannot cache the signature index of snapshot %s in '%s': %m",
                                id, dir);
        return r;
}

/* YbSigLoadFn: from the cache, else from the store (cached again at the commit: a damaged copy
 * is removed now). */
static int load_one(void *userdata, const YbSnapshotHeader *h, YbBuf *out) {
        AgentBackup *b = userdata;
        _cleanup_free_ char *dir = cache_dir(b), *path = NULL, *cached = NULL;
        int r = read_cached(b, h, out);

        if (r >= 0)
                return r;
        log_debug_errno(r, "No usable cached signature index of snapshot %s: %m", h->id);
        yb_buf_done(out);
        if (r != -ENOENT && dir && asprintf(&cached, "%s/%s.sigindex", dir, h->id) >= 0)
                (void) unlink(cached);
        path = yb_repo_point_path(b->repo, h, "sigindex");
        return path ? read_sealed(b, b->store, path, h, out) : -ENOMEM;
}

int agent_sigcache_load(AgentBackup *b, const YbSnapshotHeader *parent) {
        b->sig_chain = (yb_sigdelta_chain_free(b->sig_chain), NULL);
        return yb_sigindex_load_chain(b->repo, parent, load_one, b, &b->index, &b->sig_chain);
}

int agent_sigcache_delta(AgentBackup *b) {
        size_t n = 0;
        int r;

        while (b->sig_chain && b->sig_chain[n])
                n++;
        if (!b->index || n == 0 || n > YB_SIGDELTA_CHAIN_MAX)
                return 0;
        r = yb_snapshot_writer_sig_parent(b->w, b->index);
        b->sig_delta = r >= 0;
        return r;
}

/* Whether <id>.sigindex is one to keep beside snapshot h's: one of its chain. */
static bool keep(const AgentBackup *b, const YbSnapshotHeader *h, const char *name) {
        size_t n = strlen(name);

        if (n < 9 || !streq(name + n - 9, ".sigindex"))
                return false;
        if (strncmp(name, h->id, n - 9) == 0 && h->id[n - 9] == 0)
                return true;
        for (size_t i = 0; b->sig_delta && b->sig_chain && b->sig_chain[i]; i++)
                if (strncmp(name, b->sig_chain[i], n - 9) == 0 && b->sig_chain[i][n - 9] == 0)
                        return true;
        return false;
}

void agent_sigcache_save(AgentBackup *b, const YbSnapshotHeader *h) {
        _cleanup_free_ char *dir = cache_dir(b);
        DIR *d;

        if (!dir || fetch(b, h->id, true) < 0)
                return;
        /* A delta needs its chain: copies of those the cache lost (or that were damaged). */
        for (size_t i = 0; b->sig_delta && b->sig_chain && b->sig_chain[i]; i++)
                if (fetch(b, b->sig_chain[i], false) < 0)
                        return;
        d = opendir(dir);
        if (!d) {
                log_debug_errno(-errno, "Cannot list the signature cache '%s': %m", dir);
                return;
        }
        for (struct dirent *de; (de = readdir(d));)
                if (!streq(de->d_name, ".") && !streq(de->d_name, "..") && !keep(b, h, de->d_name))
                        (void) yb_rm_rf_at(dirfd(d), de->d_name);
        closedir(d);
}
