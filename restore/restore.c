/* restore/restore.c: the restore engine. Plan every file as a chain of operations (a whole
 * content, then deltas, oldest first), then read each needed volume of the chain once, in order,
 * applying operations to staging files (content.c); finally check hashes and move everything
 * into place (place.c). */
#include "restore/restore.h"

#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/timeutil.h"
#include "restore/restore-internal.h"

int restore_add_op(Restore *r, const Op *op) {
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

/* Appends the ops that rebuild path as of levels[level], oldest first: back through the chain
 * while the record says "the same as before" (unchanged, or a delta on it), to a whole content.
 * Iterative: a file rewritten in every segment of a long chain is a long way back. -EBADMSG if
 * the chain does not hold what the manifests promise. */
int restore_plan_file(Restore *r, size_t job, size_t level, const char *path) {
        _cleanup_free_ const YbEntry **steps = NULL;
        _cleanup_free_ size_t *levels = NULL;
        size_t n = 0, alloc = 0;
        int k;

        for (;;) {
                const YbEntry *e;
                size_t at;

                k = restore_chain_find(r->chain, level, path, &e, &at);
                if (k == -ENOENT)
                        return -EBADMSG;
                if (k < 0)
                        return k;
                if (e->type != YB_ENTRY_FILE)
                        return -EBADMSG;
                if (n == alloc) {
                        size_t a2 = alloc ? alloc * 2 : 8;
                        const YbEntry **p = realloc(steps, a2 * sizeof(*p));
                        size_t *q;

                        if (!p)
                                return -ENOMEM;
                        steps = p;
                        q = realloc(levels, a2 * sizeof(*q));
                        if (!q)
                                return -ENOMEM;
                        levels = q;
                        alloc = a2;
                }
                steps[n] = e;
                levels[n++] = at;
                if (e->content == YB_CONTENT_EMPTY || e->content == YB_CONTENT_WHOLE)
                        break;
                if (e->content != YB_CONTENT_UNCHANGED && e->content != YB_CONTENT_DELTA)
                        return -EBADMSG;
                if (at == 0)
                        return -EBADMSG; /* "as before" in the oldest snapshot */
                level = at - 1;
                path = e->base_path ? e->base_path : e->path;
        }
        while (n-- > 0) {
                const YbEntry *e = steps[n];
                Op op;

                if (e->content == YB_CONTENT_EMPTY || e->content == YB_CONTENT_UNCHANGED)
                        continue;
                /* a delta needs something to patch */
                if (e->content == YB_CONTENT_DELTA && r->jobs[job].n_ops == 0)
                        return -EBADMSG;
                op = (Op){
                        .level = levels[n],
                        .vol = e->volume,
                        .entry = e->entry,
                        .delta = e->content == YB_CONTENT_DELTA,
                        .stored = e->stored,
                        .job = job,
                        .step = r->jobs[job].n_ops++,
                };
                k = restore_add_op(r, &op);
                if (k < 0)
                        return k;
        }
        return 0;
}

static int op_cmp(const void *a, const void *b) {
        const Op *x = a, *y = b;

        /* Oldest snapshot first, then volume, then entry order. */
        if (x->level != y->level)
                return x->level < y->level ? -1 : 1;
        if (x->vol != y->vol)
                return x->vol < y->vol ? -1 : 1;
        if (x->entry != y->entry)
                return x->entry < y->entry ? -1 : 1;
        return x->job < y->job ? -1 : x->job > y->job;
}

static bool selected(const YbRestoreOptions *o, const char *path) {
        for (size_t i = 0; i < o->n_skip; i++)
                if (yb_path_startswith(path, o->skip[i]))
                        return false;
        if (o->n_paths == 0)
                return true;
        for (size_t i = 0; i < o->n_paths; i++)
                if (yb_path_startswith(path, o->paths[i]))
                        return true;
        return false;
}

const char *restore_problem_text(int k) {
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

int restore_open_target(Restore *r, const char *target) {
        int k;

        /* A target made here is private until the restore is done (the snapshot's own top
         * directories get their recorded modes). */
        k = yb_mkdir_p_at(AT_FDCWD, target, 0700);
        if (k >= 0) {
                r->target_fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (r->target_fd < 0)
                        k = negative_errno();
        }
        if (k < 0)
                return log_error_errno(k, "Cannot create or open target directory '%s': %m",
                                       target);
        if (!r->buf) {
                r->buf = malloc(BUF_SIZE);
                if (!r->buf)
                        return -ENOMEM;
        }
        snprintf(r->staging, sizeof(r->staging), STAGING_PREFIX "%ld", (long) getpid());
        (void) yb_rm_rf_at(r->target_fd, r->staging);
        if (mkdirat(r->target_fd, r->staging, 0700) < 0 ||
            (r->staging_fd = openat(r->target_fd, r->staging,
                                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return log_error_errno(errno, "Cannot make the staging directory '%s' in '%s': %m",
                                       r->staging, target);
        return 0;
}

/* The end of the ops of the volume ops[i] is in. */
int restore_run_ops(Restore *r) {
        _cleanup_(yb_sealed_in_freep) YbSealedIn *next = NULL;
        int k;

        if (r->n_ops > 1)
                qsort(r->ops, r->n_ops, sizeof(Op), op_cmp);
        k = restore_early_read(r);
        if (k < 0)
                return k;
        for (size_t i = 0; i < r->n_ops;) {
                size_t end = restore_volume_end(r, i);
                YbSealedIn *in = TAKE_PTR(next);

                if (r->stop && *r->stop) {
                        /* the files in hand are finished (checked, or removed) first */
                        yb_sealed_in_free(in);
                        k = restore_writer_drain(r);
                        return k < 0 ? k : -EINTR;
                }
                /* The next volume is decoded while this one is restored (one decoding thread
                 * each: this one's alone would leave the other core idle). When it cannot be
                 * opened now, it is opened (and its failure reported) in its turn. */
                if (end < r->n_ops && restore_open_volume(r, end, &next) < 0)
                        next = NULL;
                k = restore_read_volume_in(r, i, end, in);
                if (k < 0)
                        return k;
                i = end;
        }
        k = restore_writer_drain(r);
        restore_early_free(r); /* any not sent: their jobs failed first */
        return k;
}

int yb_restore_clean_staging(const char *target) {
        _cleanup_close_ int fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        int k = 0;

        if (fd < 0)
                return errno == ENOENT ? 0 : negative_errno();
        d = fdopendir(fcntl(fd, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return negative_errno();
        while (k >= 0 && (de = readdir(d)))
                if (strncmp(de->d_name, STAGING_PREFIX, strlen(STAGING_PREFIX)) == 0)
                        k = yb_rm_rf_at(fd, de->d_name);
        closedir(d);
        return k;
}

void restore_close(Restore *r) {
        restore_writer_free(r); /* first: its thread uses the rest */
        restore_early_free(r);
        restore_place_done(r);
        if (r->staging_fd >= 0) {
                r->staging_fd = safe_close(r->staging_fd);
                (void) yb_rm_rf_at(r->target_fd, r->staging);
        }
        r->target_fd = safe_close(r->target_fd);
        free(r->jobs);
        free(r->ops);
        free(r->buf);
        yb_buf_done(&r->delta);
        r->jobs = NULL;
        r->ops = NULL;
        r->buf = NULL;
        r->n_jobs = r->n_ops = r->ops_alloc = 0;
}

/* The process's umask, without changing it even for a moment (another thread may be making
 * files): 0777 when it cannot be read, so that every mode is then set explicitly. */
static mode_t read_umask(void) {
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        unsigned u;
        mode_t m = 0777;

        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "Umask: %o", &u) == 1) {
                        m = (mode_t) (u & 0777);
                        break;
                }
        if (f)
                fclose(f);
        return m;
}

Restore restore_init(YbRestoreChain *c, YbRestoreReportFn report, void *userdata) {
        return (Restore){
                .umask = read_umask(),
                .euid = geteuid(),
                .egid = getegid(),
                .lock = PTHREAD_MUTEX_INITIALIZER,
                .repo = c->repo,
                .key = c->key,
                .chain = c,
                .report = report,
                .userdata = userdata,
                .target_fd = -EBADF,
                .staging_fd = -EBADF,
                .root = geteuid() == 0,
        };
}

void yb_restore_stats_add(YbRestoreStats *to, const YbRestoreStats *from) {
        static_assert(sizeof(YbRestoreStats) == 13 * sizeof(uint64_t),
                      "YbRestoreStats has a field yb_restore_stats_add does not add");
        to->files += from->files;
        to->dirs += from->dirs;
        to->symlinks += from->symlinks;
        to->hardlinks += from->hardlinks;
        to->special += from->special;
        to->bytes += from->bytes;
        to->volumes_read += from->volumes_read;
        to->volumes_read_early += from->volumes_read_early;
        to->deltas += from->deltas;
        to->in_place += from->in_place;
        to->early += from->early;
        to->errors += from->errors;
        to->damaged += from->damaged;
}

int yb_restore(YbRestoreChain *c, const YbRestoreOptions *opts, YbRestoreReportFn report,
               void *userdata, YbRestoreStats *ret) {
        Restore r = restore_init(c, report, userdata);
        const YbSnapshotHeader *snap = yb_restore_chain_point(c);
        YbManifest *m = NULL;
        bool m_owned = false;
        bool *picked = NULL;
        size_t *group = NULL, *link_to = NULL; /* hard links whose first name is not selected */
        int k;

        r.stop = opts->stop;
        r.direct = true;
        /* The point's whole tree: a snapshot's manifest, or the root's as its segments left it. */
        k = restore_chain_state(c, &m, &m_owned);
        if (k < 0)
                goto out;
        for (size_t i = 0; i < opts->n_paths; i++) {
                bool any = false;

                for (size_t j = 0; j < m->n && !any; j++)
                        any = yb_path_startswith(m->entries[j].path, opts->paths[i]);
                if (!any) {
                        log_error("'%s' is not in %s %s.", opts->paths[i],
                                  snap->level == YB_LEVEL_SEGMENT ? "segment" : "snapshot",
                                  snap->id);
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
        if (!picked || !r.jobs || !group || !link_to) {
                k = -ENOMEM;
                goto out;
        }
        k = restore_open_target(&r, opts->target);
        if (k < 0)
                goto out;

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
                                restore_fail_entry(&r, e->path, true,
                                                   "its hard link target is missing");
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
                k = restore_plan_file(&r, r.n_jobs, c->n - 1, e->path);
                if (k == -ENOMEM)
                        goto out;
                if (k < 0) {
                        r.jobs[r.n_jobs].failed = true;
                        restore_fail_entry(&r, r.jobs[r.n_jobs].dest, true, "%s",
                                           k == -EBADMSG
                                                   ? "its content is missing from the snapshot "
                                                     "chain (damaged repository)"
                                                   : "its snapshot chain cannot be read");
                }
                r.n_jobs++;
        }

        restore_chain_release(c);

        /* Directories first (so files have somewhere to go), then contents, volume by volume
         * from the oldest snapshot, then everything else. */
        for (size_t i = 0; i < m->n; i++)
                if (picked[i] && m->entries[i].type == YB_ENTRY_DIR) {
                        k = restore_make_dir(&r, &m->entries[i]);
                        if (k < 0)
                                restore_fail_entry(&r, m->entries[i].path, false, "%s",
                                                   restore_problem_text(k));
                        else
                                r.stats.dirs++;
                }
        k = restore_run_ops(&r);
        if (k < 0)
                goto out;
        for (size_t j = 0; j < r.n_jobs; j++) {
                Job *job = &r.jobs[j];

                if (job->failed)
                        continue;
                if (job->done_ops != job->n_ops) {
                        restore_fail_entry(&r, job->dest, true,
                                           "its content was not found in the "
                                           "volumes (damaged repository)");
                        continue;
                }
                k = restore_finish_file(&r, j);
                if (k < 0)
                        restore_fail_entry(&r, job->dest, false, "%s", restore_problem_text(k));
                else
                        r.stats.files++;
        }
        for (size_t i = 0; i < m->n; i++) {
                const YbEntry *e = &m->entries[i];

                if (!picked[i] || e->type == YB_ENTRY_FILE || e->type == YB_ENTRY_DIR)
                        continue;
                if (e->type == YB_ENTRY_HARDLINK && !selected(opts, e->target)) {
                        if (link_to[i] != SIZE_MAX) {
                                k = restore_link_to_job(&r, &r.jobs[link_to[i]], e->path);
                                if (k < 0)
                                        restore_fail_entry(&r, e->path, false, "%s",
                                                           restore_problem_text(k));
                        }
                        continue; /* the first such name was restored above as a file */
                }
                k = restore_make_other(&r, i, e, m);
                if (k < 0)
                        restore_fail_entry(&r, e->path, k == -EBADMSG, "%s",
                                           restore_problem_text(k));
        }
        for (size_t i = m->n; i > 0; i--)
                if (picked[i - 1] && m->entries[i - 1].type == YB_ENTRY_DIR)
                        restore_finish_dir(&r, &m->entries[i - 1]);
        if (opts->sync && syncfs(r.target_fd) < 0) {
                k = log_error_errno(errno,
                                    "Cannot flush the files restored in '%s' to disk: %m. They "
                                    "may not survive a crash; run 'sync -f %s' once the disk "
                                    "is writable again.",
                                    opts->target, opts->target);
                goto out;
        }
        k = 0;
out:
        restore_close(&r);
        if (m_owned)
                yb_manifest_free(m);
        free(picked);
        free(group);
        free(link_to);
        if (ret)
                *ret = r.stats;
        if (k < 0)
                return k;
        return (int) MIN(r.stats.errors, (uint64_t) INT32_MAX);
}
