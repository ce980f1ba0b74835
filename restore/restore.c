/* The restore engine. Plan every file as a chain of operations (a whole content, then deltas,
 * oldest first), then read each needed volume of the chain once, in order, applying operations
 * to staging files; finally check hashes and move everything into place. */
#include "restore/restore.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"
#include "core/codec/delta.h"

#define BUF_SIZE (1024 * 1024)
#define STAGING_PREFIX ".yunbak-restore-"

typedef struct Chain {
        const YbSnapshotHeader *h; /* chain[0] is the snapshot restored, then its parents */
        YbManifest *m;             /* loaded on first use */
} Chain;

/* One operation on a file's staging copy: its content from volume entry (vol, entry) of
 * chain[level], whole or as a delta. */
typedef struct Op {
        size_t level;
        uint32_t vol, entry;
        bool delta;
        uint64_t stored;
        size_t job;
        size_t step; /* position in the job's op list */
} Op;

typedef struct Job {
        const YbEntry *e; /* in chain[0]'s manifest: content and metadata */
        const char *dest; /* where it goes: e->path, or a hard link's own name */
        size_t n_ops, done_ops;
        unsigned gen; /* staging file generation */
        bool failed;
} Job;

typedef struct Restore {
        YbRepo *repo;
        const YbSecretKey *key;
        Chain *chain;
        size_t n_chain;
        Job *jobs;
        size_t n_jobs;
        Op *ops;
        size_t n_ops, ops_alloc;
        int target_fd, staging_fd;
        char staging[64];
        uint8_t *buf;
        YbRestoreReportFn report;
        void *userdata;
        YbRestoreStats stats;
        bool root;
} Restore;

static void fail_entry(Restore *r, const char *path, bool damaged, const char *fmt, ...)
        _printf_(4, 5);
static void fail_entry(Restore *r, const char *path, bool damaged, const char *fmt, ...) {
        _cleanup_free_ char *esc = yb_path_escape(path);
        char msg[1024];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        r->stats.errors++;
        if (damaged)
                r->stats.damaged++;
        r->report(r->userdata, esc ? esc : path, msg);
}

static int chain_manifest(Restore *r, size_t level, YbManifest **ret) {
        int k;

        if (!r->chain[level].m) {
                k = yb_repo_load_manifest(r->repo, r->chain[level].h, r->key, &r->chain[level].m);
                if (k < 0)
                        return k;
        }
        *ret = r->chain[level].m;
        return 0;
}

static int add_op(Restore *r, const Op *op) {
        if (r->n_ops == r->ops_alloc) {
                size_t a = r->ops_alloc ? 2 * r->ops_alloc : 256;
                Op *p = realloc(r->ops, a * sizeof(Op));

                if (!p)
                        return -ENOMEM;
                r->ops = p;
                r->ops_alloc = a;
        }
        r->ops[r->n_ops++] = *op;
        return 0;
}

/* Appends the ops that rebuild path as of chain[level], oldest first. -EBADMSG (with a report)
 * if the chain does not hold what the manifests promise. */
static int plan_file(Restore *r, size_t job, size_t level, const char *path, size_t depth) {
        YbManifest *m;
        const YbEntry *e;
        Op op;
        int k;

        if (level >= r->n_chain || depth > r->n_chain)
                return -EBADMSG;
        k = chain_manifest(r, level, &m);
        if (k < 0)
                return k;
        e = yb_manifest_find(m, path);
        if (!e || e->type != YB_ENTRY_FILE)
                return -EBADMSG;
        switch (e->content) {
        case YB_CONTENT_EMPTY:
                return 0;
        case YB_CONTENT_UNCHANGED:
                return plan_file(r, job, level + 1, e->base_path, depth + 1);
        case YB_CONTENT_DELTA:
                k = plan_file(r, job, level + 1, e->base_path, depth + 1);
                if (k < 0)
                        return k;
                /* a delta needs something to patch */
                if (r->jobs[job].n_ops == 0)
                        return -EBADMSG;
                break;
        case YB_CONTENT_WHOLE:
                break;
        default:
                return -EBADMSG;
        }
        op = (Op){
                .level = level,
                .vol = e->volume,
                .entry = e->entry,
                .delta = e->content == YB_CONTENT_DELTA,
                .stored = e->stored,
                .job = job,
                .step = r->jobs[job].n_ops++,
        };
        return add_op(r, &op);
}

static int op_cmp(const void *a, const void *b) {
        const Op *x = a, *y = b;

        /* Oldest snapshot first (highest level), then volume, then entry order. */
        if (x->level != y->level)
                return x->level > y->level ? -1 : 1;
        if (x->vol != y->vol)
                return x->vol < y->vol ? -1 : 1;
        if (x->entry != y->entry)
                return x->entry < y->entry ? -1 : 1;
        return x->job < y->job ? -1 : x->job > y->job;
}

static void staging_name(const Restore *r, size_t job, unsigned gen, char ret[64]) {
        snprintf(ret, 64, "%zu.%u", job, gen);
}

/* Writes content to a staging file, leaving holes for all-zero blocks when asked. */
typedef struct Sink {
        int fd;
        uint64_t off;
        bool sparse;
        YbHash hash;
} Sink;

static bool all_zero(const uint8_t *p, size_t n) {
        for (size_t i = 0; i < n; i++)
                if (p[i])
                        return false;
        return true;
}

static int sink_write(void *userdata, const void *data, size_t n) {
        Sink *s = userdata;
        const uint8_t *p = data;
        int k;

        yb_hash_update(&s->hash, data, n);
        if (!s->sparse) {
                k = yb_write_all(s->fd, data, n);
                if (k >= 0)
                        s->off += n;
                return k;
        }
        while (n > 0) {
                size_t chunk = MIN(n, (size_t) (4096 - s->off % 4096));

                if (!all_zero(p, chunk)) {
                        k = yb_pwrite_all(s->fd, p, chunk, s->off);
                        if (k < 0)
                                return k;
                }
                s->off += chunk;
                p += chunk;
                n -= chunk;
        }
        return 0;
}

typedef struct EntryReader {
        YbPaxReader *pax;
        uint64_t left;
} EntryReader;

static ssize_t entry_read(void *userdata, void *data, size_t n) {
        EntryReader *er = userdata;

        return yb_pax_read(er->pax, data, n);
}

/* Applies one op: reads the current pax entry into a new staging generation. */
static int apply_op(Restore *r, const Op *op, YbPaxReader *pax) {
        Job *job = &r->jobs[op->job];
        bool last = op->step + 1 == job->n_ops;
        char cur[64], next[64];
        Sink s = { .fd = -EBADF, .sparse = last && job->e->sparse };
        _cleanup_close_ int basis = -EBADF;
        uint8_t h[YB_HASH_SIZE];
        int k;

        yb_hash_init(&s.hash);
        staging_name(r, op->job, job->gen + 1, next);
        s.fd = openat(r->staging_fd, next, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                      0600);
        if (s.fd < 0)
                return negative_errno();
        if (op->delta) {
                staging_name(r, op->job, job->gen, cur);
                basis = openat(r->staging_fd, cur, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (basis < 0)
                        k = negative_errno();
                else {
                        EntryReader er = { .pax = pax };

                        k = yb_patch(basis, entry_read, &er, sink_write, &s);
                }
        } else {
                for (;;) {
                        ssize_t n = yb_pax_read(pax, r->buf, BUF_SIZE);

                        if (n <= 0) {
                                k = (int) n;
                                break;
                        }
                        k = sink_write(&s, r->buf, (size_t) n);
                        if (k < 0)
                                break;
                }
        }
        if (k >= 0 && s.sparse && ftruncate(s.fd, (off_t) s.off) < 0)
                k = negative_errno();
        safe_close(s.fd);
        if (op->delta)
                (void) unlinkat(r->staging_fd, cur, 0);
        job->gen++;
        job->done_ops++;
        if (k < 0)
                return k;
        if (last) {
                yb_hash_final(&s.hash, h);
                if (s.off != job->e->size || memcmp(h, job->e->hash, YB_HASH_SIZE) != 0)
                        return -EBADMSG;
                r->stats.bytes += s.off;
        }
        return 0;
}

static int read_volume(Restore *r, size_t first, size_t end) {
        const Op *op0 = &r->ops[first];
        const YbSnapshotHeader *h = r->chain[op0->level].h;
        _cleanup_(yb_sealed_in_freep) YbSealedIn *in = NULL;
        _cleanup_(yb_pax_reader_freep) YbPaxReader *pax = NULL;
        _cleanup_free_ char *path = NULL;
        const YbFileRef *ref;
        char name[32], ctx[256];
        uint32_t entry = 0;
        size_t i = first;
        int k;

        snprintf(name, sizeof(name), "vol-%06u", op0->vol);
        ref = yb_header_find_file(h, name);
        path = yb_repo_snapshot_path(r->repo, h->id, name);
        if (!path)
                return -ENOMEM;
        yb_seal_context(r->repo->system, h->id, name, ctx);
        k = ref ? yb_sealed_in_open(r->repo->store, path, ref, r->key, ctx, true, &in) : -EBADMSG;
        if (k >= 0)
                k = yb_sealed_in_prefetch(in);
        if (k >= 0)
                k = yb_pax_reader_new(yb_sealed_in_read_cb, in, &pax);
        r->stats.volumes_read++;
        while (k >= 0 && i < end) {
                const char *ename;
                uint64_t size;

                k = yb_pax_next(pax, &ename, &size);
                if (k == 0)
                        k = -EBADMSG; /* the volume ended before an entry we need */
                if (k < 0)
                        break;
                for (; i < end && r->ops[i].entry == entry; i++) {
                        Job *job = &r->jobs[r->ops[i].job];
                        int e;

                        if (job->failed)
                                continue;
                        if (size != r->ops[i].stored || job->done_ops != r->ops[i].step)
                                e = -EBADMSG;
                        else
                                e = apply_op(r, &r->ops[i], pax);
                        if (e == -ENOMEM)
                                return e;
                        if (e < 0) {
                                job->failed = true;
                                if (e == -EBADMSG)
                                        fail_entry(r, job->dest, true,
                                                   "content does not match its hash in snapshot "
                                                   "%s (damaged repository)",
                                                   h->id);
                                else
                                        fail_entry(r, job->dest, false, "cannot be written: %s",
                                                   strerror(-e));
                        }
                        if (i + 1 < end && r->ops[i + 1].entry == entry) {
                                /* Several files share this entry: read it again from the
                                 * start is impossible in a stream, so each needs its own
                                 * pass. Rare (identical renamed copies); handled by
                                 * re-reading the volume. */
                                i++;
                                k = read_volume(r, i, end);
                                return k;
                        }
                }
                entry++;
        }
        if (k < 0) {
                for (; i < end; i++) {
                        Job *job = &r->jobs[r->ops[i].job];

                        if (!job->failed) {
                                job->failed = true;
                                fail_entry(r, job->dest, true,
                                           "%s of snapshot %s cannot be read: %s", name, h->id,
                                           k == -EBADMSG ? "damaged or altered" : strerror(-k));
                        }
                }
                return k == -ENOMEM ? k : 0;
        }
        return 0;
}

/* Opens the directory that will hold path inside the target, creating missing directories
 * and refusing to pass through anything that is not a real directory. *ret_name points into
 * path (its last component). */
static int open_parent(Restore *r, const char *path, const char **ret_name) {
        _cleanup_free_ char *copy = strdup(path);
        int fd, k;
        char *p, *slash;

        if (!copy)
                return -ENOMEM;
        fd = fcntl(r->target_fd, F_DUPFD_CLOEXEC, 3);
        if (fd < 0)
                return negative_errno();
        for (p = copy; (slash = strchr(p, '/')); p = slash + 1) {
                int next;

                *slash = 0;
                next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (next < 0 && errno == ENOENT) {
                        if (mkdirat(fd, p, 0700) < 0 && errno != EEXIST) {
                                k = negative_errno();
                                safe_close(fd);
                                return k;
                        }
                        next = openat(fd, p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                }
                if (next < 0) {
                        k = errno == ELOOP || errno == ENOTDIR ? -ENOTDIR : negative_errno();
                        safe_close(fd);
                        return k; /* a symlink or a file where a directory must be */
                }
                safe_close(fd);
                fd = next;
        }
        *ret_name = path + (p - copy);
        return fd;
}

static void apply_xattrs(Restore *r, int fd, const YbEntry *e) {
        for (size_t i = 0; i < e->n_xattrs; i++)
                if (fsetxattr(fd, e->xattrs[i].name, e->xattrs[i].value, e->xattrs[i].size, 0) <
                            0 &&
                    (r->root || strncmp(e->xattrs[i].name, "user.", 5) == 0 ||
                     strncmp(e->xattrs[i].name, "system.posix_acl", 16) == 0))
                        log_warning("Cannot restore extended attribute '%s' of '%s': %s",
                                    e->xattrs[i].name, e->path, strerror(errno));
}

/* Owner, mode, xattrs, mtime of an open file or directory. Ownership first: chown clears
 * setuid and setgid bits, so the mode comes after it. */
static void apply_meta_fd(Restore *r, int fd, const YbEntry *e) {
        struct timespec ts[2] = { { 0, UTIME_OMIT }, { e->mtime_sec, e->mtime_nsec } };

        if (r->root && fchown(fd, e->uid, e->gid) < 0)
                log_warning("Cannot set the owner of '%s': %s", e->path, strerror(errno));
        apply_xattrs(r, fd, e);
        if (fchmod(fd, e->mode & 07777) < 0)
                log_warning("Cannot set the mode of '%s': %s", e->path, strerror(errno));
        if (futimens(fd, ts) < 0)
                log_warning("Cannot set the time of '%s': %s", e->path, strerror(errno));
}

static int place(Restore *r, const char *stage_name, const char *dest) {
        const char *name;
        int dfd, k = 0;

        dfd = open_parent(r, dest, &name);
        if (dfd < 0)
                return dfd;
        if (renameat(r->staging_fd, stage_name, dfd, name) < 0)
                k = errno == EISDIR ? -EEXIST : negative_errno();
        safe_close(dfd);
        return k;
}

static int finish_file(Restore *r, size_t j) {
        Job *job = &r->jobs[j];
        const YbEntry *e = job->e;
        char name[64];
        _cleanup_close_ int fd = -EBADF;

        staging_name(r, j, job->gen, name);
        if (job->n_ops == 0) /* empty file */
                fd = openat(r->staging_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        else
                fd = openat(r->staging_fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return negative_errno();
        apply_meta_fd(r, fd, e);
        return place(r, name, job->dest);
}

/* Symlinks, FIFOs and device nodes are made in the private staging directory, given their
 * owner, mode and time there, and renamed into place: nothing is ever done by name to an entry
 * in the target, where someone could swap in a symlink between two calls. */
static int make_other(Restore *r, size_t i, const YbEntry *e, const YbManifest *m) {
        struct timespec ts[2] = { { 0, UTIME_OMIT }, { e->mtime_sec, e->mtime_nsec } };
        char stage[64];
        const char *name;
        int dfd, k = 0;

        if ((e->type == YB_ENTRY_CHARDEV || e->type == YB_ENTRY_BLOCKDEV) && !r->root)
                return -EPERM;
        dfd = open_parent(r, e->path, &name);
        if (dfd < 0)
                return dfd;
        snprintf(stage, sizeof(stage), "o%zu", i);
        switch (e->type) {
        case YB_ENTRY_SYMLINK:
        case YB_ENTRY_FIFO:
        case YB_ENTRY_CHARDEV:
        case YB_ENTRY_BLOCKDEV:
                if (e->type == YB_ENTRY_SYMLINK)
                        k = symlinkat(e->target, r->staging_fd, stage) < 0 ? negative_errno() : 0;
                else {
                        mode_t type = e->type == YB_ENTRY_FIFO      ? S_IFIFO
                                      : e->type == YB_ENTRY_CHARDEV ? S_IFCHR
                                                                    : S_IFBLK;

                        k = mknodat(r->staging_fd, stage, type | (e->mode & 07777),
                                    (dev_t) e->rdev) < 0
                                    ? negative_errno()
                                    : 0;
                }
                if (k < 0)
                        break;
                if (r->root &&
                    fchownat(r->staging_fd, stage, e->uid, e->gid, AT_SYMLINK_NOFOLLOW) < 0)
                        log_warning("Cannot set the owner of '%s': %s", e->path, strerror(errno));
                /* mknod applied the umask; the recorded mode wins (symlinks have none). The
                 * staging directory is ours alone, so following the name is safe here. */
                if (e->type != YB_ENTRY_SYMLINK &&
                    fchmodat(r->staging_fd, stage, e->mode & 07777, 0) < 0)
                        log_warning("Cannot set the mode of '%s': %s", e->path, strerror(errno));
                (void) utimensat(r->staging_fd, stage, ts, AT_SYMLINK_NOFOLLOW);
                if (renameat(r->staging_fd, stage, dfd, name) < 0) {
                        k = errno == EISDIR ? -EEXIST : negative_errno();
                        (void) unlinkat(r->staging_fd, stage, 0);
                        break;
                }
                if (e->type == YB_ENTRY_SYMLINK)
                        r->stats.symlinks++;
                else
                        r->stats.special++;
                break;
        case YB_ENTRY_HARDLINK: {
                const char *tname;
                const YbEntry *t = yb_manifest_find(m, e->target);
                int tfd;

                if (!t) {
                        k = -EBADMSG;
                        break;
                }
                tfd = open_parent(r, e->target, &tname);
                if (tfd < 0) {
                        k = tfd;
                        break;
                }
                (void) unlinkat(dfd, name, 0); /* linkat does not replace */
                if (linkat(tfd, tname, dfd, name, 0) < 0)
                        k = negative_errno();
                else
                        r->stats.hardlinks++;
                safe_close(tfd);
                break;
        }
        default:
                k = -EBADMSG;
        }
        safe_close(dfd);
        return k;
}

/* Links path to the file a job restored. */
static int link_to_job(Restore *r, const Job *job, const char *path) {
        const char *name, *tname;
        int dfd, tfd, k = 0;

        if (job->failed)
                return -ENOENT;
        tfd = open_parent(r, job->dest, &tname);
        if (tfd < 0)
                return tfd;
        dfd = open_parent(r, path, &name);
        if (dfd < 0) {
                safe_close(tfd);
                return dfd;
        }
        (void) unlinkat(dfd, name, 0); /* linkat does not replace */
        if (linkat(tfd, tname, dfd, name, 0) < 0)
                k = negative_errno();
        else
                r->stats.hardlinks++;
        safe_close(dfd);
        safe_close(tfd);
        return k;
}

static int make_dir(Restore *r, const YbEntry *e) {
        const char *name;
        int dfd, fd, k = 0;

        dfd = open_parent(r, e->path, &name);
        if (dfd < 0)
                return dfd;
        if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
                k = negative_errno();
        if (k >= 0) {
                fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (fd < 0)
                        k = errno == ELOOP || errno == ENOTDIR ? -ENOTDIR : negative_errno();
                else
                        safe_close(fd);
        }
        safe_close(dfd);
        return k;
}

/* Directory metadata last, deepest first, so that restoring children does not disturb mtimes
 * and a read-only directory does not block its own contents. */
static void finish_dir(Restore *r, const YbEntry *e) {
        const char *name;
        int dfd, fd;

        dfd = open_parent(r, e->path, &name);
        if (dfd < 0)
                return;
        fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
                apply_meta_fd(r, fd, e);
                safe_close(fd);
        }
        safe_close(dfd);
}

static bool selected(const YbRestoreOptions *o, const char *path) {
        if (o->n_paths == 0)
                return true;
        for (size_t i = 0; i < o->n_paths; i++)
                if (yb_path_startswith(path, o->paths[i]))
                        return true;
        return false;
}

static const char *problem_text(int k) {
        switch (k) {
        case -ENOTDIR:
                return "a symlink or non-directory in the target is in the way; refusing to "
                       "write through it";
        case -EPERM:
                return "needs root (device node)";
        case -EBADMSG:
                return "the snapshot's records are inconsistent (damaged repository)";
        default:
                return strerror(-k);
        }
}

int yb_restore(YbRepo *repo, const YbSnapshotList *list, const YbSnapshotHeader *snap,
               const YbSecretKey *key, const YbRestoreOptions *opts, YbRestoreReportFn report,
               void *userdata, YbRestoreStats *ret) {
        Restore r = {
                .repo = repo,
                .key = key,
                .report = report,
                .userdata = userdata,
                .target_fd = -EBADF,
                .staging_fd = -EBADF,
                .root = geteuid() == 0,
        };
        YbManifest *m = NULL;
        bool *picked = NULL;
        size_t *group = NULL, *link_to = NULL; /* hard links whose first name is not selected */
        int k;

        /* The chain: this snapshot, its parent, ... down to the full. */
        for (const YbSnapshotHeader *h = snap; h;) {
                Chain *p = realloc(r.chain, (r.n_chain + 1) * sizeof(Chain));

                if (!p) {
                        k = -ENOMEM;
                        goto out;
                }
                r.chain = p;
                r.chain[r.n_chain++] = (Chain){ .h = h };
                if (h->level == YB_LEVEL_FULL)
                        break;
                h = yb_snapshot_list_find(list, h->parent);
                if (!h || r.n_chain > list->n) {
                        k = -ENOLINK;
                        goto out;
                }
        }
        k = chain_manifest(&r, 0, &m);
        if (k < 0)
                goto out;
        for (size_t i = 0; i < opts->n_paths; i++) {
                bool any = false;

                for (size_t j = 0; j < m->n && !any; j++)
                        any = yb_path_startswith(m->entries[j].path, opts->paths[i]);
                if (!any) {
                        log_error("'%s' is not in snapshot %s.", opts->paths[i], snap->id);
                        k = -ENOENT;
                        goto out;
                }
        }
        picked = new0(bool, m->n + 1);
        group = malloc((m->n + 1) * sizeof(size_t));
        link_to = malloc((m->n + 1) * sizeof(size_t));
        for (size_t i = 0; group && link_to && i <= m->n; i++)
                group[i] = link_to[i] = SIZE_MAX;
        r.jobs = new0(Job, m->n + 1);
        r.buf = malloc(BUF_SIZE);
        if (!picked || !r.jobs || !r.buf || !group || !link_to) {
                k = -ENOMEM;
                goto out;
        }
        /* A target made here is private until the restore is done (the snapshot's own top
         * directories get their recorded modes). */
        k = yb_mkdir_p_at(AT_FDCWD, opts->target, 0700);
        if (k >= 0) {
                r.target_fd = open(opts->target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (r.target_fd < 0)
                        k = negative_errno();
        }
        if (k < 0) {
                log_error("Cannot create or open target directory '%s': %s", opts->target,
                          strerror(-k));
                goto out;
        }
        snprintf(r.staging, sizeof(r.staging), STAGING_PREFIX "%ld", (long) getpid());
        (void) yb_rm_rf_at(r.target_fd, r.staging);
        if (mkdirat(r.target_fd, r.staging, 0700) < 0 ||
            (r.staging_fd = openat(r.target_fd, r.staging,
                                   O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
                k = negative_errno();
                goto out;
        }

        /* Plan: every selected regular file becomes a job with its chain of ops. A hard link
         * whose first name is not selected is restored as a file of its own. */
        for (size_t i = 0; i < m->n; i++) {
                const YbEntry *e = &m->entries[i];

                picked[i] = selected(opts, e->path);
                if (!picked[i])
                        continue;
                if (e->type == YB_ENTRY_HARDLINK && !selected(opts, e->target)) {
                        const YbEntry *t = yb_manifest_find(m, e->target);

                        if (!t || t->type != YB_ENTRY_FILE) {
                                fail_entry(&r, e->path, true, "its hard link target is missing");
                                continue;
                        }
                        /* The first selected name of the file gets its content; the others
                         * become hard links to it, as they were. */
                        if (group[t - m->entries] != SIZE_MAX) {
                                link_to[i] = group[t - m->entries];
                                continue;
                        }
                        group[t - m->entries] = r.n_jobs;
                        e = t; /* restored as a file with the first name's content */
                        r.jobs[r.n_jobs].dest = m->entries[i].path;
                } else if (e->type != YB_ENTRY_FILE)
                        continue;
                else
                        r.jobs[r.n_jobs].dest = e->path;
                r.jobs[r.n_jobs].e = e;
                k = plan_file(&r, r.n_jobs, 0, e->path, 0);
                if (k == -ENOMEM)
                        goto out;
                if (k < 0) {
                        r.jobs[r.n_jobs].failed = true;
                        fail_entry(&r, r.jobs[r.n_jobs].dest, true, "%s",
                                   k == -EBADMSG ? "its content is missing from the snapshot "
                                                   "chain (damaged repository)"
                                                 : "its snapshot chain cannot be read");
                }
                r.n_jobs++;
        }

        /* Directories first (so files have somewhere to go), then contents, volume by volume
         * from the oldest snapshot, then everything else. */
        for (size_t i = 0; i < m->n; i++)
                if (picked[i] && m->entries[i].type == YB_ENTRY_DIR) {
                        k = make_dir(&r, &m->entries[i]);
                        if (k < 0)
                                fail_entry(&r, m->entries[i].path, false, "%s", problem_text(k));
                        else
                                r.stats.dirs++;
                }
        if (r.n_ops > 1)
                qsort(r.ops, r.n_ops, sizeof(Op), op_cmp);
        for (size_t i = 0; i < r.n_ops;) {
                size_t end = i + 1;

                while (end < r.n_ops && r.ops[end].level == r.ops[i].level &&
                       r.ops[end].vol == r.ops[i].vol)
                        end++;
                k = read_volume(&r, i, end);
                if (k < 0)
                        goto out;
                i = end;
        }
        for (size_t j = 0; j < r.n_jobs; j++) {
                Job *job = &r.jobs[j];

                if (job->failed)
                        continue;
                if (job->done_ops != job->n_ops) {
                        fail_entry(&r, job->dest, true,
                                   "its content was not found in the "
                                   "volumes (damaged repository)");
                        continue;
                }
                k = finish_file(&r, j);
                if (k < 0)
                        fail_entry(&r, job->dest, false, "%s", problem_text(k));
                else
                        r.stats.files++;
        }
        for (size_t i = 0; i < m->n; i++) {
                const YbEntry *e = &m->entries[i];

                if (!picked[i] || e->type == YB_ENTRY_FILE || e->type == YB_ENTRY_DIR)
                        continue;
                if (e->type == YB_ENTRY_HARDLINK && !selected(opts, e->target)) {
                        if (link_to[i] != SIZE_MAX) {
                                k = link_to_job(&r, &r.jobs[link_to[i]], e->path);
                                if (k < 0)
                                        fail_entry(&r, e->path, false, "%s", problem_text(k));
                        }
                        continue; /* the first such name was restored above as a file */
                }
                k = make_other(&r, i, e, m);
                if (k < 0)
                        fail_entry(&r, e->path, k == -EBADMSG, "%s", problem_text(k));
        }
        for (size_t i = m->n; i > 0; i--)
                if (picked[i - 1] && m->entries[i - 1].type == YB_ENTRY_DIR)
                        finish_dir(&r, &m->entries[i - 1]);
        k = 0;
out:
        if (r.staging_fd >= 0) {
                safe_close(r.staging_fd);
                (void) yb_rm_rf_at(r.target_fd, r.staging);
        }
        safe_close(r.target_fd);
        for (size_t i = 0; i < r.n_chain; i++)
                yb_manifest_free(r.chain[i].m);
        free(r.chain);
        free(r.jobs);
        free(r.ops);
        free(r.buf);
        free(picked);
        free(group);
        free(link_to);
        if (ret)
                *ret = r.stats;
        if (k < 0)
                return k;
        return (int) MIN(r.stats.errors, (uint64_t) INT32_MAX);
}
