/* restore/apply.c: brings a target that holds one point of a chain to another point, changing
 * only what differs (yunbak restore --follow keeps a warm standby with it). Each changed file's
 * new content is built in the staging directory inside the target (a delta is applied to the
 * target's own copy of the file, which is the previous point's, read through a hard link and
 * never written) and checked against its hash; then what went is removed, and the new entries
 * are renamed into place. A copy in the target that does not give the recorded content (it was
 * changed by something else) is reported and fetched from the chain instead: never kept. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "restore/restore-internal.h"

/* What one step does: entries to put in place (at the chain's point) and paths to remove. */
typedef struct Plan {
        const YbEntry **place;
        size_t n_place, alloc_place;
        char **del; /* borrowed */
        size_t n_del, alloc_del;
} Plan;

static void plan_done(Plan *p) {
        free(p->place);
        free(p->del);
}

static int plan_place(Plan *p, const YbEntry *e) {
        if (p->n_place == p->alloc_place) {
                size_t a = p->alloc_place ? p->alloc_place * 2 : 64;
                const YbEntry **v = realloc(p->place, a * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                p->place = v;
                p->alloc_place = a;
        }
        p->place[p->n_place++] = e;
        return 0;
}

static int plan_del(Plan *p, char *path) {
        if (p->n_del == p->alloc_del) {
                size_t a = p->alloc_del ? p->alloc_del * 2 : 64;
                char **v = realloc(p->del, a * sizeof(*v));

                if (!v)
                        return -ENOMEM;
                p->del = v;
                p->alloc_del = a;
        }
        p->del[p->n_del++] = path;
        return 0;
}

/* Reads fd to its end (copying it to out unless out is -EBADF): 0 when what it read is e's
 * content (size and hash), -EBADMSG when not, or -errno. */
static int check_content(Restore *r, int fd, int out, const YbEntry *e) {
        uint8_t h[YB_HASH_SIZE];
        uint64_t size = 0;
        YbHash hash;
        ssize_t n;
        int k = 0;

        yb_hash_init(&hash);
        while (k >= 0 && (n = read(fd, r->buf, BUF_SIZE)) > 0) {
                yb_hash_update(&hash, r->buf, (size_t) n);
                size += (uint64_t) n;
                if (out >= 0)
                        k = yb_write_all(out, r->buf, (size_t) n);
        }
        if (k >= 0 && n < 0)
                k = negative_errno();
        if (k < 0)
                return k;
        yb_hash_final(&hash, h);
        return size == e->size && memcmp(h, e->hash, YB_HASH_SIZE) == 0 ? 0 : -EBADMSG;
}

/* Whether the target's file at e->path already has e's content (an apply that was cut after
 * putting it there, or a file whose metadata alone changed). */
static bool target_has(Restore *r, const YbEntry *e) {
        _cleanup_close_ int fd = restore_open_file(r, e->path);

        return fd >= 0 && check_content(r, fd, -EBADF, e) == 0;
}

/* An "unchanged" record (a rename, or new metadata): a copy of the target's own file at its
 * base path, hashed as it is copied. -EBADMSG if the copy is not the recorded content. */
static int copy_from_target(Restore *r, size_t j, const char *base) {
        Job *job = &r->jobs[j];
        _cleanup_close_ int in = restore_open_file(r, base), out = -EBADF;
        char name[64];
        int k;

        if (in < 0)
                return in;
        restore_staging_name(r, j, job->gen + 1, name);
        out = openat(r->staging_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
                     0600);
        if (out < 0)
                return negative_errno();
        k = check_content(r, in, out, job->e);
        if (k < 0)
                return k;
        job->gen++;
        job->n_ops = job->done_ops = 1;
        r->stats.bytes += job->e->size;
        return 0;
}

/* A rename: the target's file at base linked into staging as job j's content, checked against
 * its hash. -EMLINK if the file has other names (then it is copied). */
static int move_from_target(Restore *r, size_t j, const char *base) {
        Job *job = &r->jobs[j];
        _cleanup_close_ int fd = -EBADF;
        char name[64];
        int k;

        restore_staging_name(r, j, job->gen + 1, name);
        k = restore_link_basis(r, base, name, true);
        if (k < 0)
                return k;
        fd = openat(r->staging_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        k = fd < 0 ? negative_errno() : check_content(r, fd, -EBADF, job->e);
        if (k < 0) {
                (void) unlinkat(r->staging_fd, name, 0);
                return k;
        }
        job->gen++;
        job->n_ops = job->done_ops = 1;
        return 0;
}

/* Plans job j from the target's copy of its base path: a delta applied to it, or a copy. */
static int plan_from_target(Restore *r, size_t j, size_t level) {
        Job *job = &r->jobs[j];
        const YbEntry *e = job->e;
        const char *base = e->base_path ? e->base_path : e->path;
        char name[64];
        Op op;
        int k;

        job->from_target = true;
        if (e->content == YB_CONTENT_UNCHANGED) {
                const YbEntry *now;
                size_t at;

                /* A rename: when the old name goes at this point and the file has no other,
                 * the file itself moves (checked, not copied). */
                if (!streq(base, e->path) &&
                    restore_chain_find(r->chain, level, base, &now, &at) == -ENOENT) {
                        k = move_from_target(r, j, base);
                        if (k != -EMLINK)
                                return k;
                }
                return copy_from_target(r, j, base);
        }
        restore_staging_name(r, j, job->gen, name);
        k = restore_link_basis(r, base, name, false);
        if (k < 0)
                return k;
        job->n_ops = job->done_ops = 1; /* step 0: the basis, in staging */
        op = (Op){
                .level = level,
                .vol = e->volume,
                .entry = e->entry,
                .delta = true,
                .stored = e->stored,
                .job = j,
                .step = job->n_ops++,
        };
        return restore_add_op(r, &op);
}

/* Plans job j from the chain alone, after its copy in the target failed it. */
static int plan_refetch(Restore *r, size_t j, size_t level, bool quiet, const char *why,
                        YbApplyStats *st) {
        Job *job = &r->jobs[j];
        int k;

        if (!quiet) {
                restore_fail_entry(r, job->dest, false, "%s; fetched again from the chain", why);
                r->stats.errors--; /* put right, not left out */
                st->refetched++;
        }
        job->gen++;
        job->n_ops = job->done_ops = 0;
        job->failed = job->from_target = job->refetch = false;
        k = restore_plan_file(r, j, level, job->e->path);
        if (k < 0 && k != -ENOMEM) {
                job->failed = true;
                restore_fail_entry(r, job->dest, true,
                                   "its content is missing from the snapshot chain (damaged "
                                   "repository)");
        }
        return k == -ENOMEM ? k : 0;
}

static int path_depth_cmp(const void *a, const void *b) {
        const char *x = *(char *const *) a, *y = *(char *const *) b;
        size_t dx = 0, dy = 0;

        for (const char *p = x; *p; p++)
                dx += *p == '/';
        for (const char *p = y; *p; p++)
                dy += *p == '/';
        if (dx != dy)
                return dx > dy ? -1 : 1; /* deepest first */
        return strcmp(x, y);
}

/* Every directory the step changed (made, or an entry added or removed in it) gets the
 * metadata it has at the point, deepest first: renames into it changed its time. */
static int finish_dirs(Restore *r, const Plan *p, size_t level) {
        _cleanup_free_ char **dirs = new0(char *, 2 * (p->n_place + p->n_del) + 1);
        size_t n = 0;
        int k = 0;

        if (!dirs)
                return -ENOMEM;
        for (size_t i = 0; k >= 0 && i < p->n_place + p->n_del; i++) {
                const char *path = i < p->n_place ? p->place[i]->path : p->del[i - p->n_place];
                const char *slash = strrchr(path, '/');

                if (i < p->n_place && p->place[i]->type == YB_ENTRY_DIR) {
                        dirs[n] = strdup(path);
                        if (!dirs[n++])
                                k = -ENOMEM;
                }
                if (slash) {
                        dirs[n] = strndup(path, (size_t) (slash - path));
                        if (!dirs[n++])
                                k = -ENOMEM;
                }
        }
        if (k >= 0 && n > 1)
                qsort(dirs, n, sizeof(char *), path_depth_cmp);
        for (size_t i = 0; k >= 0 && i < n; i++) {
                const YbEntry *e;
                size_t at;

                if (i > 0 && streq(dirs[i], dirs[i - 1]))
                        continue;
                if (restore_chain_find(r->chain, level, dirs[i], &e, &at) >= 0 &&
                    e->type == YB_ENTRY_DIR)
                        restore_finish_dir(r, e);
        }
        for (size_t i = 0; i < n; i++)
                free(dirs[i]);
        return k;
}

/* Carries out plan p in target: contents (from the target's own copies when from_target),
 * then removals, then everything put in place. */
static int apply_plan(YbRestoreChain *c, const char *target, const Plan *p, bool from_target,
                      bool resume, const char *why, YbRestoreReportFn report, void *userdata,
                      YbApplyStats *st) {
        Restore r = restore_init(c, report, userdata);
        _cleanup_free_ bool *kept = NULL;
        size_t level = c->n - 1;
        bool again = false;
        int k;

        k = restore_open_target(&r, target);
        if (k < 0)
                goto out;
        r.jobs = new0(Job, p->n_place + 1);
        kept = new0(bool, p->n_place + 1);
        if (!r.jobs || !kept) {
                k = -ENOMEM;
                goto out;
        }
        for (size_t i = 0; i < p->n_place; i++) {
                const YbEntry *e = p->place[i];
                size_t j = r.n_jobs;

                if (e->type != YB_ENTRY_FILE)
                        continue;
                r.jobs[j] = (Job){ .e = e, .dest = e->path };
                r.n_jobs++;
                /* New metadata alone (or a step that was cut after this file): the file stays,
                 * once its content is checked, and gets its metadata where it is. */
                if ((resume || (from_target && e->content == YB_CONTENT_UNCHANGED &&
                                streq(e->base_path ? e->base_path : e->path, e->path))) &&
                    target_has(&r, e)) {
                        kept[j] = true;
                        continue;
                }
                if (from_target &&
                    (e->content == YB_CONTENT_DELTA || e->content == YB_CONTENT_UNCHANGED)) {
                        k = plan_from_target(&r, j, level);
                        if (k == -ENOMEM)
                                goto out;
                        if (k >= 0)
                                continue;
                        k = plan_refetch(&r, j, level, resume,
                                         k == -EBADMSG ? why : "its copy in the target is gone",
                                         st);
                } else
                        k = plan_refetch(&r, j, level, true, NULL, st);
                if (k < 0)
                        goto out;
        }
        k = restore_run_ops(&r);
        if (k < 0)
                goto out;
        /* A delta that did not give the recorded content was applied to a copy that something
         * else changed: those files come from the chain, in a second pass. */
        r.n_ops = 0;
        for (size_t j = 0; j < r.n_jobs; j++)
                if (r.jobs[j].refetch) {
                        k = plan_refetch(&r, j, level, resume, why, st);
                        if (k < 0)
                                goto out;
                        again = true;
                }
        if (again) {
                k = restore_run_ops(&r);
                if (k < 0)
                        goto out;
        }
        /* A content that could not be built (each reported) leaves the target as it was: at
         * the point before, never between the two. */
        if (r.stats.errors > 0) {
                k = 0;
                goto out;
        }

        for (size_t i = 0; i < p->n_del; i++) {
                k = restore_remove(&r, p->del[i]);
                if (k < 0)
                        restore_fail_entry(&r, p->del[i], false, "cannot be removed: %s",
                                           strerror(-k));
                else
                        st->deleted++;
        }
        for (size_t i = 0; i < p->n_place; i++)
                if (p->place[i]->type == YB_ENTRY_DIR) {
                        k = restore_make_dir(&r, p->place[i]);
                        if (k < 0)
                                restore_fail_entry(&r, p->place[i]->path, false, "%s",
                                                   restore_problem_text(k));
                        else
                                r.stats.dirs++;
                }
        for (size_t j = 0; j < r.n_jobs; j++) {
                Job *job = &r.jobs[j];

                if (job->failed)
                        continue;
                if (kept[j])
                        k = restore_meta_in_place(&r, job->e);
                else if (job->done_ops != job->n_ops) {
                        restore_fail_entry(&r, job->dest, true,
                                           "its content was not found in the volumes "
                                           "(damaged repository)");
                        continue;
                } else
                        k = restore_finish_file(&r, j);
                if (k < 0)
                        restore_fail_entry(&r, job->dest, false, "%s", restore_problem_text(k));
                else
                        r.stats.files++;
        }
        for (size_t i = 0; i < p->n_place; i++) {
                const YbEntry *e = p->place[i];

                if (e->type == YB_ENTRY_FILE || e->type == YB_ENTRY_DIR)
                        continue;
                k = restore_make_other(&r, i, e, NULL);
                if (k < 0)
                        restore_fail_entry(&r, e->path, k == -EBADMSG, "%s",
                                           restore_problem_text(k));
        }
        k = finish_dirs(&r, p, level);
        if (k >= 0)
                st->changed += p->n_place;
        st->applied = true;
out:
        restore_close(&r);
        yb_restore_stats_add(&st->restore, &r.stats);
        if (k < 0)
                return k;
        return (int) MIN(r.stats.errors, (uint64_t) INT32_MAX);
}

int yb_restore_apply_segment(YbRestoreChain *c, const char *target, bool resume,
                             YbRestoreReportFn report, void *userdata, YbApplyStats *ret) {
        _cleanup_(plan_done) Plan p = { 0 };
        size_t level = c->n - 1;
        YbManifest *m;
        int k;

        if (level <= c->root)
                return -EINVAL;
        m = c->levels[level].m;
        for (size_t i = 0; i < m->n; i++) {
                const YbEntry *e = &m->entries[i], *now;
                size_t at;

                if (e->type == YB_ENTRY_DELETED)
                        k = plan_del(&p, e->path);
                else if (restore_chain_find(c, level, e->path, &now, &at) >= 0 && now == e)
                        k = plan_place(&p, e);
                else
                        k = 0; /* a later record of the same segment says otherwise */
                if (k < 0)
                        return k;
        }
        return apply_plan(c, target, &p, true, resume,
                          "its copy in the target was changed by something else", report, userdata,
                          ret);
}

static bool same_xattrs(const YbEntry *a, const YbEntry *b) {
        if (a->n_xattrs != b->n_xattrs)
                return false;
        for (size_t i = 0; i < a->n_xattrs; i++)
                if (!streq(a->xattrs[i].name, b->xattrs[i].name) ||
                    a->xattrs[i].size != b->xattrs[i].size ||
                    memcmp(a->xattrs[i].value, b->xattrs[i].value, a->xattrs[i].size) != 0)
                        return false;
        return true;
}

/* Whether entry b (at the new point) differs from a (at the old one) in anything a restore
 * puts in place. */
static bool entry_differs(const YbEntry *a, const YbEntry *b) {
        if (a->type != b->type || a->mode != b->mode || a->uid != b->uid || a->gid != b->gid ||
            a->mtime_sec != b->mtime_sec || a->mtime_nsec != b->mtime_nsec || !same_xattrs(a, b))
                return true;
        switch (a->type) {
        case YB_ENTRY_FILE:
                return a->size != b->size || memcmp(a->hash, b->hash, YB_HASH_SIZE) != 0;
        case YB_ENTRY_SYMLINK:
        case YB_ENTRY_HARDLINK:
                return !streq(a->target, b->target);
        case YB_ENTRY_CHARDEV:
        case YB_ENTRY_BLOCKDEV:
                return a->rdev != b->rdev;
        default:
                return false;
        }
}

int yb_restore_apply_switch(YbRestoreChain *from, YbRestoreChain *to, const char *target,
                            YbRestoreReportFn report, void *userdata, YbApplyStats *ret) {
        _cleanup_(plan_done) Plan p = { 0 };
        YbManifest *old = NULL, *now = NULL;
        bool old_owned = false, now_owned = false;
        int k;

        k = restore_chain_state(from, &old, &old_owned);
        if (k >= 0)
                k = restore_chain_state(to, &now, &now_owned);
        /* Removed: what the new point lacks, topmost only; and what changed its type. */
        for (size_t i = 0; k >= 0 && i < old->n; i++) {
                const YbEntry *e = &old->entries[i], *n = yb_manifest_find(now, e->path);
                const char *slash = strrchr(e->path, '/');
                _cleanup_free_ char *parent =
                        slash ? strndup(e->path, (size_t) (slash - e->path)) : NULL;

                if (slash && !parent) {
                        k = -ENOMEM;
                        break;
                }
                if (n ? n->type != e->type : !parent || yb_manifest_find(now, parent))
                        k = plan_del(&p, e->path);
        }
        /* Put in place: what is new or differs, and every other name of a file that does. */
        for (size_t i = 0; k >= 0 && i < now->n; i++) {
                const YbEntry *e = &now->entries[i], *o = yb_manifest_find(old, e->path);
                bool changed = !o || entry_differs(o, e);

                if (!changed && e->type == YB_ENTRY_HARDLINK) {
                        const YbEntry *t = yb_manifest_find(now, e->target),
                                      *ot = yb_manifest_find(old, e->target);

                        changed = !t || !ot || entry_differs(ot, t);
                }
                if (changed)
                        k = plan_place(&p, e);
        }
        if (k >= 0)
                k = apply_plan(to, target, &p, false, false, NULL, report, userdata, ret);
        if (old_owned)
                yb_manifest_free(old);
        if (now_owned)
                yb_manifest_free(now);
        return k;
}

/* The entries of one directory of the target that the point does not have: something else
 * added them. */
typedef struct Extra {
        Restore *r;
        const YbManifest *m;
        const char *dir;
        Plan *p;
        char **owned; /* the paths in p->del made here */
        size_t n_owned;
        YbApplyStats *st;
} Extra;

static int extra_entry(void *userdata, const char *name) {
        Extra *x = userdata;
        char *path, **v;

        if (!x->dir[0] && strncmp(name, ".yunbak-", 8) == 0)
                return 0; /* the standby's own state and staging */
        if (asprintf(&path, "%s%s%s", x->dir, x->dir[0] ? "/" : "", name) < 0)
                return -ENOMEM;
        if (yb_manifest_find(x->m, path)) {
                free(path);
                return 0;
        }
        v = realloc(x->owned, (x->n_owned + 1) * sizeof(char *));
        if (!v) {
                free(path);
                return -ENOMEM;
        }
        x->owned = v;
        x->owned[x->n_owned++] = path;
        restore_fail_entry(x->r, path, false,
                           "it is not at this point: something else added it to the target; "
                           "removed");
        x->st->deleted++;
        return plan_del(x->p, path);
}

int yb_restore_check(YbRestoreChain *c, const char *target, YbRestoreReportFn report,
                     void *userdata, YbApplyStats *ret) {
        _cleanup_(plan_done) Plan p = { 0 };
        Restore r = restore_init(c, report, userdata);
        YbApplyStats found = { 0 }, fix = { 0 };
        YbManifest *m = NULL;
        Extra x = { .r = &r, .p = &p, .st = &found };
        bool owned = false;
        int k;

        k = restore_chain_state(c, &m, &owned);
        if (k < 0)
                return k;
        x.m = m;
        r.target_fd = open(target, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (r.target_fd < 0)
                k = negative_errno();
        /* What something else added: in the target's top and in each directory of the point. */
        x.dir = "";
        if (k >= 0)
                k = restore_list_dir(&r, "", extra_entry, &x);
        for (size_t i = 0; k >= 0 && i < m->n; i++)
                if (m->entries[i].type == YB_ENTRY_DIR) {
                        x.dir = m->entries[i].path;
                        k = restore_list_dir(&r, x.dir, extra_entry, &x);
                        if (k == -ENOENT)
                                k = 0; /* missing: put back below */
                }
        /* What something else changed, removed or put in the place of another type. */
        for (size_t i = 0; k >= 0 && i < m->n; i++) {
                const YbEntry *e = &m->entries[i];
                struct stat st;
                const char *what = NULL;
                bool exists, other;

                if (e->type == YB_ENTRY_HARDLINK)
                        continue; /* checked as its first name */
                exists = restore_stat(&r, e->path, &st) >= 0;
                other = exists && ((e->type == YB_ENTRY_DIR) != !!S_ISDIR(st.st_mode) ||
                                   (e->type == YB_ENTRY_FILE && !S_ISREG(st.st_mode)));
                if (!exists)
                        what = "it is missing from the target";
                else if (other)
                        what = "something else took its place in the target";
                else if (e->type == YB_ENTRY_FILE &&
                         ((uint64_t) st.st_size != e->size || st.st_mtim.tv_sec != e->mtime_sec ||
                          (uint32_t) st.st_mtim.tv_nsec != e->mtime_nsec))
                        what = "it was changed in the target by something else";
                if (!what)
                        continue;
                restore_fail_entry(&r, e->path, false, "%s; fetched again from the chain", what);
                found.refetched++;
                if (other)
                        k = plan_del(&p, e->path); /* nothing renames over another type */
                if (k >= 0)
                        k = plan_place(&p, e);
        }
        restore_place_done(&r);
        r.target_fd = safe_close(r.target_fd);
        /* A file put back also needs its other names linked to it again. */
        for (size_t i = 0; k >= 0 && p.n_place > 0 && i < m->n; i++)
                if (m->entries[i].type == YB_ENTRY_HARDLINK)
                        k = plan_place(&p, &m->entries[i]);
        if (k >= 0 && p.n_place + p.n_del > 0)
                k = apply_plan(c, target, &p, false, false, NULL, report, userdata, &fix);
        /* Counted as found (each reported), not as each removal or placement made for them. */
        ret->restore = fix.restore;
        ret->changed += fix.changed;
        ret->refetched += found.refetched;
        ret->deleted += found.deleted;
        for (size_t i = 0; i < x.n_owned; i++)
                free(x.owned[i]);
        free(x.owned);
        if (owned)
                yb_manifest_free(m);
        return k < 0 ? k : (int) MIN(found.refetched + found.deleted, (uint64_t) INT32_MAX);
}
