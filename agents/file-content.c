/* Storing a regular file's content in the snapshot: whole, as "tree/<path>", or as a librsync
 * delta against the parent's signature, as "delta/<path>". The content is a source file read as
 * it may change (file-read.c), or a stream's spool replayed (a database dump, stream.c): the same
 * bytes either way, so a dump is stored as a delta against the previous dump just as a file is.
 * A delta's size is known only once it is made, and a pax entry needs its size up front, so the
 * delta is spooled first: in memory, then in an unlinked file of the state directory. Either way
 * the content's hash is computed as its bytes go by (digest.c); a delta's new signature is made
 * with it (core/codec/deltagen.h), a whole file's with the hash. A big file's delta is made on a
 * worker thread (delta-worker.c). What to do when a
 * file changed while read is file.c's to decide. */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>

#include "agents/backup-internal.h"
#include "core/base/fileio.h"
#include "core/base/log.h"

#define SPOOL_MEM_MAX (16 * 1024 * 1024)

/* Holds a delta until its size is known: memory first, then an unlinked temporary file. */
typedef struct Spool {
        YbBuf mem;
        int fd;
        uint64_t size;
        YbHash hash;
        const char *dir;
} Spool;

static int spool_write(void *userdata, const void *data, size_t n) {
        Spool *s = userdata;
        int r;

        yb_hash_update(&s->hash, data, n);
        s->size += n;
        if (s->fd < 0 && s->mem.size + n > SPOOL_MEM_MAX) {
                s->fd = open(s->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
                r = s->fd < 0 ? negative_errno() : yb_write_all(s->fd, s->mem.data, s->mem.size);
                if (r < 0)
                        goto spool_failed;
                yb_buf_done(&s->mem);
        }
        r = s->fd >= 0 ? yb_write_all(s->fd, data, n) : yb_buf_append(&s->mem, data, n);
        if (r < 0)
                goto spool_failed;
        return 0;
spool_failed:
        /* The delta only saves space: without room for it in the state directory, the file is
         * stored whole instead (ECANCELED is the delta's "give up"). */
        log_debug_errno(r, "Cannot spool a delta in '%s' (%m); storing the file whole.", s->dir);
        return -ECANCELED;
}

/* Copies the spooled delta into the current entry of the snapshot. */
static int spool_copy(AgentBackup *b, const Spool *s) {
        uint64_t off = 0;
        int r = 0;

        if (s->fd < 0)
                return yb_snapshot_writer_data(b->w, s->mem.data, s->mem.size);
        while (off < s->size && r >= 0) {
                ssize_t k = pread(s->fd, b->buf,
                                  (size_t) MIN((uint64_t) AGENT_READ_BUF_SIZE, s->size - off),
                                  (off_t) off);
                if (k <= 0)
                        r = k < 0 ? negative_errno() : -EIO;
                else
                        r = yb_snapshot_writer_data(b->w, b->buf, (size_t) k);
                off += k > 0 ? (uint64_t) k : 0;
        }
        return r;
}

static void spool_done(Spool *s) {
        yb_buf_done(&s->mem);
        s->fd = safe_close(s->fd);
}

void agent_pax_from(const YbEntry *me, const char *name, uint64_t size, YbPaxEntry *ret) {
        *ret = (YbPaxEntry){
                .name = name,
                .mode = me->mode,
                .uid = me->uid,
                .gid = me->gid,
                .uname = me->uname,
                .gname = me->gname,
                .mtime_sec = me->mtime_sec,
                .mtime_nsec = me->mtime_nsec,
                .size = size,
                .xattrs = me->xattrs,
                .n_xattrs = me->n_xattrs,
        };
}

/* Begins the volume entry prefix/<path> of size bytes for record me. */
static int begin_entry(AgentBackup *b, const char *prefix, YbEntry *me, uint64_t size) {
        _cleanup_free_ char *name = NULL;
        YbPaxEntry pe;

        if (asprintf(&name, "%s/%s", prefix, me->path) < 0)
                return -ENOMEM;
        agent_pax_from(me, name, size, &pe);
        return yb_snapshot_writer_begin_entry(b->w, &pe, &me->volume, &me->entry);
}

/* A spool replayed for agent_read_pass's callers: its own failure (not fn's) is reported as the
 * source's, so that it is told apart from a failure to write the store. */
typedef struct Replay {
        AgentBackup *b;
        AgentReadFn fn;
        void *userdata;
        bool fn_failed;
} Replay;

static int replay_chunk(void *userdata, const void *data, size_t n) {
        Replay *p = userdata;
        int r = p->fn(p->b, p->userdata, data, n);

        if (r < 0)
                p->fn_failed = true;
        return r;
}

/* One pass over src from its start, each chunk to fn; as agent_read_pass. */
static int content_pass(AgentBackup *b, const AgentContent *src, AgentReadFn fn, void *userdata) {
        Replay p = { .b = b, .fn = fn, .userdata = userdata };
        int r;

        if (!src->spool)
                return agent_read_pass(b, src->fd, src->st, fn, userdata);
        r = agent_spool_replay(src->spool, replay_chunk, &p);
        if (r < 0 && !p.fn_failed) {
                b->read_error = -r;
                return -AGENT_E_SOURCE_READ;
        }
        return r;
}

static int whole_chunk(AgentBackup *b, void *ud, const void *data, size_t n) {
        int r = agent_digest_feed(ud, data, n);

        if (r < 0)
                return r;
        return yb_snapshot_writer_data(b->w, data, n);
}

int agent_store_whole(AgentBackup *b, const AgentContent *src, YbEntry *me, YbSigEntry *se,
                      YbBuf *sig) {
        _cleanup_(agent_digest_done) AgentDigest d = { 0 };
        int r, k;

        r = agent_digest_begin(&d, src->size);
        if (r < 0)
                return r;
        r = begin_entry(b, "tree", me, src->size);
        if (r < 0)
                return r;
        r = content_pass(b, src, whole_chunk, &d);
        if (r == -EFBIG)
                r = -EAGAIN;
        k = yb_snapshot_writer_end_entry(b->w); /* pads a torn entry */
        if (k < 0)
                return k;
        if (r < 0)
                return r;
        r = agent_digest_end(&d, me->hash, sig);
        if (r < 0)
                return r;
        memcpy(se->hash, me->hash, YB_HASH_SIZE);
        me->content = YB_CONTENT_WHOLE;
        me->stored = src->size;
        b->hdr.counts.whole++;
        return 0;
}

typedef struct DeltaCtx {
        /* The delta is made by gen on this thread, or by worker (a big file's). */
        YbDeltaGen *gen;
        AgentDeltaWorker *worker;
        AgentDigest digest;
        uint64_t probe;
} DeltaCtx;

static int delta_chunk(AgentBackup *b, void *ud, const void *data, size_t n) {
        DeltaCtx *c = ud;
        int r;

        if (c->worker)
                r = agent_delta_worker_feed(c->worker, data, n);
        else
                r = agent_delta_feed(c->gen, c->probe, data, n);
        if (r < 0)
                return r;
        return agent_digest_feed(&c->digest, data, n);
}

/* Starts the delta: on a worker thread for a big file (delta-worker.c), else here. 0; -EBADMSG or
 * -EINVAL when the old signature is not usable. */
static int delta_start(const AgentContent *src, const YbSigEntry *prev, const char *path,
                       Spool *spool, DeltaCtx *c) {
        int r;

        if (src->size >= AGENT_DELTA_WORKER_MIN) {
                r = agent_delta_worker_start(prev->sig, prev->sig_size, src->size, c->probe,
                                             &c->worker);
                if (r >= 0)
                        log_debug("The delta of '%s' is made on a worker thread.", path);
                if (r >= 0 || r == -EBADMSG || r == -EINVAL)
                        return r;
                log_debug_errno(r, "Cannot start the delta's worker for '%s' (%m); making it here.",
                                path);
        }
        return yb_delta_gen_new(prev->sig, prev->sig_size, src->size, YB_DELTA_GEN_WHOLE,
                                spool_write, spool, &c->gen);
}

/* Ends the delta: its bytes to the spool, the new signature to sig. */
static int delta_finish(DeltaCtx *c, Spool *spool, YbBuf *sig) {
        if (c->worker)
                return agent_delta_worker_finish(c->worker, spool_write, spool, sig);
        return yb_delta_gen_finish(c->gen, sig);
}

int agent_store_delta(AgentBackup *b, const AgentContent *src, const YbSigEntry *prev, YbEntry *me,
                      YbSigEntry *se, YbBuf *sig) {
        _cleanup_(yb_buf_done) YbBuf check = YB_BUF_INIT;
        Spool spool = { .fd = -EBADF, .dir = b->args->state_dir };
        DeltaCtx c = { 0 };
        int r;

        yb_hash_init(&spool.hash);
        c.probe = MAX((uint64_t) 1 << 20, MIN((uint64_t) 8 << 20, src->size / 16));
        r = delta_start(src, prev, me->path, &spool, &c);
        if (r == -EBADMSG || r == -EINVAL) {
                r = 0; /* an unusable signature only costs us the delta */
                goto out;
        }
        if (r >= 0)
                r = agent_digest_begin_hash(&c.digest, src->size);
        if (r < 0)
                goto out;
        r = content_pass(b, src, delta_chunk, &c);
        if (r >= 0)
                r = agent_digest_end(&c.digest, me->hash, &check);
        if (r >= 0)
                r = delta_finish(&c, &spool, sig);
        if (r == -ECANCELED) {
                r = 0; /* it gave up: stored whole */
                goto out;
        }
        if (r >= 0)
                r = agent_digest_check_sig(&check, sig);
        if (r < 0)
                goto out;
        if (spool.size >= src->size) {
                r = 0; /* the delta is no smaller than the file */
                goto out;
        }
        r = begin_entry(b, "delta", me, spool.size);
        if (r >= 0)
                r = spool_copy(b, &spool);
        if (r >= 0)
                r = yb_snapshot_writer_end_entry(b->w);
        if (r < 0)
                goto out;
        memcpy(se->hash, me->hash, YB_HASH_SIZE);
        yb_hash_final(&spool.hash, me->stored_hash);
        me->content = YB_CONTENT_DELTA;
        me->stored = spool.size;
        me->base_path = prev->path;
        b->hdr.counts.delta++;
        r = 1;
out:
        if (r == 0)
                yb_buf_clear(sig); /* stored whole: that makes its own */
        /* The worker first: it may still be working on the file's bytes. */
        c.worker = agent_delta_worker_free(c.worker);
        c.gen = yb_delta_gen_free(c.gen);
        agent_digest_done(&c.digest);
        spool_done(&spool);
        return r;
}

int agent_store_content(AgentBackup *b, const AgentContent *src, const YbSigEntry *prev,
                        YbEntry *me, YbSigEntry *se, YbBuf *sig) {
        int r = 0;

        if (prev && prev->sig && src->size >= YB_DELTA_MIN_FILE_SIZE)
                r = agent_store_delta(b, src, prev, me, se, sig);
        if (r == 0)
                return agent_store_whole(b, src, me, se, sig);
        return r == 1 ? 0 : r;
}
