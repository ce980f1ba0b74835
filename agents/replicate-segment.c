/* Writing one segment of the replicator's chain (docs/replication.md, "Segments"): the dirty
 * paths are moved out of the dirty set and each is looked at now. A path that is gone becomes a
 * YB_ENTRY_DELETED record (when the replica has it); a directory that is new, replaced, moved in
 * or marked for a rescan is compared with the state below it (agents/replicate-scan.c), which
 * adds paths to the batch; a file with other names brings them along, so that the first of them
 * carries the content and the others are hard links to it. Then, in walk order, the deletions
 * first, every path whose stat differs from the state is recorded by the tier-1 code
 * (agent_backup_entry: a delta against the state's signature, a rename found by inode, whole, or
 * read again when it changes while read; after the last attempt, kept as read, flagged
 * "changing", and left dirty from the moment that read began); then the PostgreSQL hooks' new WAL
 * (agents/replicate-wal.c). Only after the commit does the state
 * take the changes; a segment that fails leaves the state as it was and the paths dirty for the
 * next one. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "agents/replicate.h"
#include "core/base/exitcode.h"
#include "core/base/log.h"
#include "core/base/timeutil.h"

/* A change to the state, applied once the segment is committed. */
typedef struct Op {
        char *path;
        bool del;
        struct stat st;
        bool has_sig;
        YbSigEntry se; /* its path borrowed, its sig owned */
} Op;

typedef struct Seg {
        AgentReplicator *rp;
        AgentDirty *batch;
        Op *ops;
        size_t n_ops, alloc_ops;
        char **deleted; /* the paths deleted in this segment (each takes what is below it) */
        size_t n_deleted, cursor;
        uint64_t changes;
        bool recorded;          /* the hook saw the current file's content recorded */
        bool rec_changing;      /* ... kept as read while it was written */
        int64_t rec_started_ns; /* ... that read's start */
        YbSigEntry rec_se;
        YbBuf rec_sig;
} Seg;

static void seg_done(Seg *s) {
        for (size_t i = 0; i < s->n_ops; i++) {
                free(s->ops[i].path);
                free(s->ops[i].se.sig);
        }
        free(s->ops);
        for (size_t i = 0; i < s->n_deleted; i++)
                free(s->deleted[i]);
        free(s->deleted);
        yb_buf_done(&s->rec_sig);
}

static Op *add_op(Seg *s, const char *path) {
        Op *op;

        if (s->n_ops == s->alloc_ops) {
                size_t a = s->alloc_ops ? 2 * s->alloc_ops : 64;
                Op *p = realloc(s->ops, a * sizeof(Op));

                if (!p)
                        return NULL;
                s->ops = p;
                s->alloc_ops = a;
        }
        op = &s->ops[s->n_ops];
        *op = (Op){ .path = strdup(path) };
        if (!op->path)
                return NULL;
        s->n_ops++;
        return op;
}

static bool under(const char *path, const char *dir) {
        size_t n = strlen(dir);

        return strncmp(path, dir, n) == 0 && (path[n] == '/' || path[n] == 0);
}

/* Whether path is (below) a path deleted in this segment. The paths come in walk order, as the
 * deletions were made, and what is below a path comes right after it: one cursor suffices. */
static bool under_deleted(Seg *s, const char *path) {
        while (s->cursor < s->n_deleted) {
                if (under(path, s->deleted[s->cursor]))
                        return true;
                if (agent_path_cmp(s->deleted[s->cursor], path) > 0)
                        return false;
                s->cursor++;
        }
        return false;
}

/* Opens the directory holding snapshot path path without following a symlink on the way (one
 * swapped in for a directory must not lead the replicator out of the tree). Returns the fd and
 * sets *ret_abs (the host path, which the caller frees) and *ret_name (its last component, in
 * *ret_abs); -ENOENT, -ENOTDIR or -ELOOP when it is gone. */
static int open_parent(const AgentReplicator *rp, const char *path, char **ret_abs,
                       const char **ret_name) {
        for (size_t i = 0; i < rp->n_sources; i++) {
                const AgentSource *src = &rp->sources[i];
                size_t k = strlen(src->name);
                _cleanup_free_ char *abs = NULL, *rel = NULL;
                _cleanup_close_ int fd = -EBADF;
                char *slash, *tok, *save = NULL;

                if (strncmp(path, src->name, k) != 0 || (path[k] != '/' && path[k] != 0))
                        continue;
                if (asprintf(&abs, "%s%s", src->real, path + k) < 0)
                        return -ENOMEM;
                slash = strrchr(abs, '/');
                if (path[k] == 0) {
                        /* The source itself: its directory is outside the tree, as given. */
                        _cleanup_free_ char *dir = strndup(abs, (size_t) (slash - abs));

                        if (!dir)
                                return -ENOMEM;
                        fd = open(*dir ? dir : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                } else {
                        fd = open(src->real, O_PATH | O_DIRECTORY | O_CLOEXEC);
                        rel = strndup(path + k + 1, strlen(path + k + 1));
                        if (!rel)
                                return -ENOMEM;
                        /* Every component but the last. */
                        slash = strrchr(rel, '/');
                        if (slash)
                                *slash = 0;
                        else
                                *rel = 0;
                        for (tok = strtok_r(rel, "/", &save); fd >= 0 && tok;
                             tok = strtok_r(NULL, "/", &save)) {
                                int next = openat(fd, tok,
                                                  O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

                                safe_close(fd);
                                fd = next;
                        }
                }
                if (fd < 0)
                        return negative_errno();
                *ret_name = strrchr(abs, '/') + 1;
                *ret_abs = TAKE_PTR(abs);
                return TAKE_FD(fd);
        }
        return -ENOENT;
}

static bool gone(int error) {
        return error == -ENOENT || error == -ENOTDIR || error == -ELOOP;
}

/* Looks at item i now: its lstat, and what it brings into the batch. */
static int examine(Seg *s, size_t i);

typedef struct Siblings {
        Seg *s;
        const char *path;
        int64_t noticed_ns;
        int error;
} Siblings;

static void add_sibling(void *userdata, AgentStateEntry *e) {
        Siblings *x = userdata;

        if (x->error >= 0 && !streq(e->se.path, x->path))
                x->error =
                        agent_dirty_add(x->s->batch, e->se.path, x->noticed_ns, AGENT_DIRTY_FORCE);
}

static int examine(Seg *s, size_t i) {
        AgentReplicator *rp = s->rp;
        AgentDirtyItem *it = agent_dirty_item(s->batch, i);
        _cleanup_free_ char *abs = NULL, *path = NULL;
        _cleanup_close_ int dfd = -EBADF;
        const char *name;
        AgentStateEntry *e;
        struct stat st;
        int64_t noticed;
        unsigned flags;

        dfd = open_parent(rp, it->path, &abs, &name);
        if (dfd == -ENOMEM)
                return -ENOMEM;
        it->error = dfd < 0                                                ? dfd
                    : fstatat(dfd, name, &it->st, AT_SYMLINK_NOFOLLOW) < 0 ? negative_errno()
                                                                           : 0;
        if (it->error == 0 && agent_path_excluded(rp->args->backup.excludes,
                                                  rp->args->backup.n_excludes, it->path, abs))
                it->error = -ENOENT; /* as if gone: the replica does not keep it */
        if (it->error < 0)
                return 0;
        /* The item may move when the batch grows: copy what is needed. */
        st = it->st;
        noticed = it->noticed_ns;
        flags = it->flags;
        path = strdup(it->path);
        if (!path)
                return -ENOMEM;
        e = agent_state_find(rp->state, path);
        if (S_ISDIR(st.st_mode) && !(flags & AGENT_DIRTY_SCANNED) &&
            ((flags & AGENT_DIRTY_RESCAN) || !e || !S_ISDIR(e->mode) || e->se.ino != st.st_ino)) {
                int64_t r;

                agent_dirty_item(s->batch, i)->flags |= AGENT_DIRTY_SCANNED;
                r = agent_scan(rp, path, s->batch, noticed, false);
                if (r < 0)
                        return (int) r;
                rp->scanned += (uint64_t) r;
        }
        if (S_ISREG(st.st_mode) && st.st_nlink > 1 && (!e || agent_state_changed(e, &st))) {
                Siblings x = { s, path, noticed, 0 };

                agent_state_foreach_inode(rp->state, st.st_dev, st.st_ino, add_sibling, &x);
                if (x.error < 0)
                        return x.error;
        }
        return 0;
}

static int add_deleted(Seg *s, const char *path) {
        static char empty[] = "";
        YbEntry me = { .type = YB_ENTRY_DELETED, .path = (char *) path };
        char **p;
        Op *op;
        int r;

        me.uname = me.gname = empty;
        r = yb_snapshot_writer_add(s->rp->b.w, &me);
        if (r < 0)
                return r;
        p = realloc(s->deleted, (s->n_deleted + 1) * sizeof(char *));
        if (!p)
                return -ENOMEM;
        s->deleted = p;
        s->deleted[s->n_deleted] = strdup(path);
        if (!s->deleted[s->n_deleted])
                return -ENOMEM;
        s->n_deleted++;
        op = add_op(s, path);
        if (!op)
                return -ENOMEM;
        op->del = true;
        s->rp->b.hdr.counts.deleted++;
        return 0;
}

/* The deletions, first in the manifest: paths that are gone, and paths whose entry is of another
 * kind now (or another directory), which are then recorded anew. */
static int write_deletions(Seg *s) {
        for (size_t i = 0; i < agent_dirty_count(s->batch); i++) {
                AgentDirtyItem *it = agent_dirty_item(s->batch, i);
                AgentStateEntry *e = agent_state_find(s->rp->state, it->path);
                bool replaced;
                int r;

                /* Below the last deletion: gone with it. */
                if (!e || (s->n_deleted > 0 && under(it->path, s->deleted[s->n_deleted - 1])))
                        continue;
                if (it->error < 0 && !gone(it->error))
                        continue; /* cannot tell: left as it is */
                replaced = it->error == 0 && ((e->mode & S_IFMT) != (it->st.st_mode & S_IFMT) ||
                                              (S_ISDIR(e->mode) && e->se.ino != it->st.st_ino));
                if (it->error == 0 && !replaced)
                        continue;
                r = add_deleted(s, it->path);
                if (r < 0)
                        return r;
        }
        return 0;
}

static const YbSigEntry *prev_by_path(void *userdata, const char *path) {
        return agent_state_find_prev(((AgentReplicator *) userdata)->state, path);
}

static const YbSigEntry *prev_by_inode(void *userdata, uint64_t dev, uint64_t ino) {
        return agent_state_find_prev_inode(((AgentReplicator *) userdata)->state, dev, ino);
}

static int recorded(void *userdata, const YbEntry *me, const YbSigEntry *se) {
        Seg *s = ((AgentReplicator *) userdata)->seg;

        s->recorded = true;
        s->rec_changing = me->changing;
        s->rec_started_ns = me->read_started_ns;
        s->rec_se = *se;
        yb_buf_clear(&s->rec_sig);
        if (se->sig && yb_buf_append(&s->rec_sig, se->sig, se->sig_size) < 0)
                return -ENOMEM;
        return 0;
}

static uint64_t n_records(const YbSnapshotCounts *c) {
        return c->files + c->dirs + c->symlinks + c->hardlinks + c->special;
}

/* Whether the last entry the backup code reported left out was one that kept changing. */
static bool last_error_was_changing(AgentBackup *b) {
        json_t *e = json_array_get(b->errors, json_array_size(b->errors) - 1);
        const char *msg = json_string_value(json_object_get(e, "error"));

        return msg && strncmp(msg, "it kept changing", 16) == 0;
}

/* Records item it, which exists, if it changed. */
static int record_item(Seg *s, AgentDirtyItem *it) {
        AgentReplicator *rp = s->rp;
        AgentBackup *b = &rp->b;
        AgentStateEntry *e = agent_state_find(rp->state, it->path);
        _cleanup_free_ char *abs = NULL;
        _cleanup_close_ int dfd = -EBADF;
        const char *name;
        uint64_t before = n_records(&b->hdr.counts), errors = b->hdr.counts.errors;
        AgentWalkEntry we;
        struct stat st;
        Op *op;
        int r;

        if (S_ISSOCK(it->st.st_mode))
                return 0;
        if (e && !e->learned && !(it->flags & AGENT_DIRTY_FORCE) && !under_deleted(s, it->path) &&
            !agent_state_changed(e, &it->st))
                return 0;
        dfd = open_parent(rp, it->path, &abs, &name);
        if (dfd < 0)
                return dfd == -ENOMEM ? dfd : 0;
        if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return 0; /* gone since: the next segment deletes it */
        we = (AgentWalkEntry){
                .dir_fd = dfd, .name = name, .path = it->path, .abs = abs, .st = &st
        };
        s->recorded = false;
        r = agent_backup_entry(b, &we);
        if (r < 0)
                return r;
        if (n_records(&b->hdr.counts) == before) {
                /* Not recorded: it shrank while read every time (the next segment tries
                 * again), or cannot be read (said; it waits for its next change). */
                if (b->hdr.counts.errors > errors && last_error_was_changing(b))
                        return agent_dirty_add(rp->dirty, it->path, it->noticed_ns, 0);
                if (b->hdr.counts.errors > errors)
                        agent_out_error(&rp->out,
                                        "'%s' of system '%s' is not replicated: it cannot be "
                                        "read (see the log); it is tried again when it changes.",
                                        abs, rp->args->backup.system);
                return 0;
        }
        s->changes++;
        if (s->recorded && s->rec_changing) {
                /* Kept as read while written: every change before the read began is in this
                 * segment, the later ones wait for the next, which reads it again. */
                r = agent_dirty_add(rp->dirty, it->path, s->rec_started_ns, 0);
                if (r < 0)
                        return r;
        }
        op = add_op(s, it->path);
        if (!op)
                return -ENOMEM;
        op->st = st;
        if (s->recorded) {
                op->has_sig = true;
                op->se = s->rec_se;
                op->se.path = op->path;
                op->se.sig = NULL;
                op->se.sig_size = 0;
                if (s->rec_sig.size > 0) {
                        op->se.sig = malloc(s->rec_sig.size);
                        if (!op->se.sig)
                                return -ENOMEM;
                        memcpy(op->se.sig, s->rec_sig.data, s->rec_sig.size);
                        op->se.sig_size = s->rec_sig.size;
                }
        }
        return 0;
}

/* Applies the committed segment's changes to the state. */
static int apply(Seg *s) {
        for (size_t i = 0; i < s->n_ops; i++) {
                Op *op = &s->ops[i];

                if (op->del)
                        agent_state_remove_tree(s->rp->state, op->path);
                else if (!agent_state_put(s->rp->state, op->path, &op->st,
                                          op->has_sig ? &op->se : NULL, false))
                        return -ENOMEM;
        }
        return 0;
}

static int start_writer(AgentReplicator *rp) {
        AgentBackup *b = &rp->b;
        YbWriterOptions o = { .zstd_level = rp->args->backup.zstd_level,
                              .host = b->host,
                              .seq = rp->seq + 1 };

        b->hdr = (YbSnapshotHeader){ 0 };
        agent_links_done(&b->links);
        json_array_clear(b->errors);
        return yb_snapshot_writer_new(b->repo, b->agent, YB_LEVEL_SEGMENT,
                                      rp->last ? rp->last : rp->root, rp->root, &o, &b->w);
}

static int commit(AgentReplicator *rp, Seg *s, YbSnapshotHeader **ret) {
        AgentBackup *b = &rp->b;
        char **srcs = new0(char *, rp->n_sources + 1);
        int r;

        if (!srcs)
                return -ENOMEM;
        for (size_t i = 0; i < rp->n_sources; i++)
                srcs[i] = rp->sources[i].real;
        b->hdr.sources = srcs;
        b->hdr.n_sources = rp->n_sources;
        b->hdr.partial = false; /* what could not be read waits for the next segment */
        r = yb_snapshot_writer_commit(b->w, &b->hdr, ret);
        b->hdr.sources = NULL;
        free(srcs);
        return r;
}

/* After a commit: the chain moves on, the hour indexes are written, the event is printed. */
static void committed(AgentReplicator *rp, Seg *s, YbSnapshotHeader *h, uint64_t wal_bytes) {
        int r;

        rp->seq = h->seq ? h->seq : rp->seq + 1;
        yb_header_free(rp->last);
        rp->last = h;
        if (rp->hour[0] && strncmp(rp->hour, h->id, YB_SEGMENT_HOUR_LEN) != 0) {
                char open_hour[YB_SEGMENT_HOUR_LEN + 1];

                memcpy(open_hour, h->id, YB_SEGMENT_HOUR_LEN);
                open_hour[YB_SEGMENT_HOUR_LEN] = 0;
                r = yb_segments_close_hours(rp->b.repo, rp->root->id, open_hour);
                if (r < 0)
                        agent_out_error(&rp->out,
                                        "Cannot write the hour index of chain %s of system '%s' "
                                        "in '%s' (%s); readers read the hour's segments one by "
                                        "one, and the next new hour tries again.",
                                        rp->root->id, rp->args->backup.system,
                                        rp->args->backup.store, strerror(-r));
        }
        memcpy(rp->hour, h->id, YB_SEGMENT_HOUR_LEN);
        rp->hour[YB_SEGMENT_HOUR_LEN] = 0;
        pthread_mutex_lock(&rp->out.lock);
        rp->out.last_commit_started_ns = h->started_ns;
        pthread_mutex_unlock(&rp->out.lock);
        agent_out_emit(&rp->out, "segment",
                       json_pack("{s:s, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "id", h->id,
                                 "seq", (json_int_t) rp->seq, "root", rp->root->id, "changes",
                                 (json_int_t) s->changes, "deleted", (json_int_t) h->counts.deleted,
                                 "changing", (json_int_t) h->counts.changing, "wal_bytes",
                                 (json_int_t) wal_bytes, "bytes_stored",
                                 (json_int_t) h->bytes_stored, "started_ns",
                                 (json_int_t) h->started_ns, "finished_ns",
                                 (json_int_t) h->finished_ns));
}

/* Examines, records and commits the batch, with the writer started. */
static int write_batch(AgentReplicator *rp, Seg *s, YbSnapshotHeader **ret) {
        int64_t wal;
        int r = 0;

        /* Parents first, so that a directory's scan covers what is below it once. */
        agent_dirty_sort(s->batch);
        for (size_t i = 0; i < agent_dirty_count(s->batch) && r >= 0; i++)
                r = examine(s, i);
        if (r < 0)
                return r;
        agent_dirty_sort(s->batch);
        r = write_deletions(s);
        s->cursor = 0;
        for (size_t i = 0; i < agent_dirty_count(s->batch) && r >= 0; i++) {
                AgentDirtyItem *it = agent_dirty_item(s->batch, i);

                if (it->error == 0)
                        r = record_item(s, it);
        }
        if (r < 0)
                return r;
        /* The PostgreSQL hooks' new WAL, after the files (agents/replicate-wal.c). */
        wal = agent_wal_write(rp);
        if (wal < 0)
                return (int) wal;
        s->changes += (uint64_t) wal;
        if (s->changes == 0 && s->n_deleted == 0)
                return 0; /* nothing changed after all */
        r = commit(rp, s, ret);
        if (r < 0 && *ret) {
                /* Committed, but the store did not confirm it is on disk: it is the chain's
                 * point now (the next segment names it), and the store is suspect. */
                agent_out_error(&rp->out,
                                "Segment %s of system '%s' was committed, but the store '%s' did "
                                "not confirm it is on disk (%s).",
                                (*ret)->id, rp->args->backup.system, rp->args->backup.store,
                                strerror(-r));
                r = 0;
        }
        return r;
}

int agent_replicate_lock(AgentReplicator *rp) {
        YbRepo *repo = rp->b.repo;
        char me[256], host[128] = "";
        int r = yb_repo_lock(repo);

        (void) gethostname(host, sizeof(host) - 1);
        snprintf(me, sizeof(me), "%s %ld", host, (long) getpid());
        if (r == -EBUSY && streq(repo->lock_owner, me)) {
                /* Ours, left when the connection was lost before we could remove it: nobody
                 * else holds it, and only we would remove it. */
                _cleanup_free_ char *path = yb_repo_path(repo, "lock");

                if (!path)
                        return -ENOMEM;
                log_info("Removing our own lock of system '%s', left when the store was lost.",
                         rp->args->backup.system);
                r = yb_store_unlink(repo->store, path);
                if (r >= 0 || r == -ENOENT)
                        r = yb_repo_lock(repo);
        }
        return r;
}

int agent_segment_write(AgentReplicator *rp) {
        _cleanup_(agent_dirty_freep) AgentDirty *batch = NULL;
        _cleanup_(seg_done) Seg s = { .rp = rp };
        YbSnapshotHeader *h = NULL;
        AgentBackup *b = &rp->b;
        size_t n;
        int64_t oldest;
        int r;

        agent_dirty_stats(rp->dirty, &n, &oldest);
        if (n == 0 && !agent_wal_pending(rp))
                return 0;
        r = agent_dirty_new(0, &batch);
        if (r < 0)
                return r;
        r = agent_replicate_lock(rp);
        if (r < 0)
                return r;
        /* The writer starts before the paths are taken: every change noticed before its
         * started_ns is in this segment or was in an earlier one. */
        r = start_writer(rp);
        if (r < 0) {
                yb_repo_unlock(b->repo);
                return r;
        }
        agent_dirty_move(rp->dirty, batch);
        agent_dirty_stats(batch, &n, &oldest);
        agent_out_set_inflight(&rp->out, n, oldest);
        s.batch = batch;
        b->find_prev = prev_by_path;
        b->find_prev_inode = prev_by_inode;
        b->recorded = recorded;
        b->hook_userdata = rp;
        b->trust_moves = true;
        b->keep_changing = true; /* a file written all the time still reaches the replica */
        rp->seg = &s;
        r = write_batch(rp, &s, &h);
        rp->seg = NULL;
        b->w = yb_snapshot_writer_free(b->w); /* an uncommitted one's files are removed */
        if (r >= 0 && h) {
                r = apply(&s);
                committed(rp, &s, h, agent_wal_segment_end(rp, true));
        } else
                (void) agent_wal_segment_end(rp, false);
        yb_repo_unlock(b->repo);
        if (r < 0 && !h) {
                /* Nothing was committed: every path waits for the next segment. */
                int k = agent_dirty_merge(rp->dirty, batch);

                if (k < 0)
                        r = k;
        }
        agent_out_set_inflight(&rp->out, 0, 0);
        return r;
}
