/* restore/pg-wal.c: which base a PostgreSQL restore starts from, and the WAL after it gathered
 * from wherever the store holds it, laid out as whole WAL files (pg-restore.h).
 *
 * WAL comes in three shapes: a base's own data/pg_wal/<WAL> (complete up to its stop LSN), a
 * whole archived file wal/<WAL> in a tier-1 chain (wal-archive), and pieces wal/<WAL>.<OFFSET>
 * in a tier-2 chain (the bytes the replicator shipped each interval). The same bytes may be in
 * several places (a chain's first segment ships the root's stop WAL file again from 0, a
 * system may archive and stream), so every byte is written where it goes and a byte already
 * there must equal it: a disagreement means a store holds something other than what PostgreSQL
 * wrote, and the restore stops rather than pick one. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/repo/segment.h"
#include "restore/pg-restore.h"
#include "restore/restore-internal.h"

const YbPgBackup *yb_pg_base_of(const YbSnapshotHeader *h, const char *hook) {
        for (size_t i = 0; i < h->n_pg; i++)
                if (streq(h->pg[i].name, hook))
                        return &h->pg[i];
        return NULL;
}

int yb_pg_hooks(const YbSnapshotList *l, char ***ret, size_t *ret_n) {
        char **names = NULL;
        size_t n = 0;

        for (size_t i = 0; i < l->n; i++)
                for (size_t j = 0; j < l->items[i]->n_pg; j++) {
                        const char *name = l->items[i]->pg[j].name;
                        bool seen = false;
                        char **p;

                        for (size_t k = 0; k < n && !seen; k++)
                                seen = streq(names[k], name);
                        if (seen)
                                continue;
                        p = realloc(names, (n + 1) * sizeof(char *));
                        if (!p || !(p[n] = strdup(name))) {
                                names = p ? p : names;
                                for (size_t k = 0; k < n; k++)
                                        free(names[k]);
                                free(names);
                                return -ENOMEM;
                        }
                        names = p;
                        n++;
                }
        *ret = names;
        *ret_n = n;
        return 0;
}

int yb_pg_base_pick(const YbSnapshotList *l, const char *hook, int64_t at_ns,
                    const YbSnapshotHeader **ret, const YbPgBackup **ret_base,
                    const YbPgBackup **ret_oldest) {
        const YbSnapshotHeader *pick = NULL;
        const YbPgBackup *pb = NULL, *oldest = NULL;

        for (size_t i = 0; i < l->n; i++) {
                const YbPgBackup *b = yb_pg_base_of(l->items[i], hook);

                if (!b)
                        continue;
                if (!oldest || b->stopped_ns < oldest->stopped_ns)
                        oldest = b;
                if (b->stopped_ns <= at_ns && (!pb || b->stopped_ns >= pb->stopped_ns)) {
                        pick = l->items[i];
                        pb = b;
                }
        }
        if (!pick) {
                if (ret_oldest)
                        *ret_oldest = oldest;
                return -ENOENT;
        }
        *ret = pick;
        *ret_base = pb;
        return 0;
}

/* The byte ranges of one WAL file written so far, sorted and merged. */
typedef struct Range {
        uint64_t start, end;
} Range;

typedef struct WalFile {
        uint64_t segno;
        Range *r;
        size_t n_r;
        int64_t written_ns;
} WalFile;

/* One WAL content of a chain to take: the record of path at level, whose bytes [0, len) are
 * the WAL file's bytes from off on. */
typedef struct Src {
        size_t level;
        char *path;
        uint64_t segno, off, len;
} Src;

typedef struct Gather {
        YbRepo *repo;
        const YbSecretKey *key;
        const YbPgBackup *b;
        const char *hook;
        int dir_fd; /* waldir */
        const char *waldir;
        WalFile *files;
        size_t n_files;
        YbRestoreReportFn report;
        void *userdata;
        bool failed; /* something was reported */
        uint8_t *buf, *theirs;
} Gather;

static void wal_name(const Gather *g, uint64_t segno, char ret[YB_PG_WAL_NAME_LEN + 1]) {
        yb_pg_wal_name(g->b->timeline, segno * g->b->wal_segment_size, g->b->wal_segment_size, ret);
}

static WalFile *file_get(Gather *g, uint64_t segno) {
        WalFile *p;

        for (size_t i = g->n_files; i > 0; i--)
                if (g->files[i - 1].segno == segno)
                        return &g->files[i - 1];
        p = realloc(g->files, (g->n_files + 1) * sizeof(WalFile));
        if (!p)
                return NULL;
        g->files = p;
        p[g->n_files] = (WalFile){ .segno = segno };
        return &p[g->n_files++];
}

static int range_add(WalFile *f, uint64_t start, uint64_t end) {
        Range *p = realloc(f->r, (f->n_r + 1) * sizeof(Range));
        size_t i, j;

        if (!p)
                return -ENOMEM;
        f->r = p;
        for (i = 0; i < f->n_r && f->r[i].start < start; i++)
                ;
        memmove(&f->r[i + 1], &f->r[i], (f->n_r - i) * sizeof(Range));
        f->r[i] = (Range){ start, end };
        f->n_r++;
        /* merge what touches or overlaps */
        for (i = 0, j = 0; i < f->n_r; i++) {
                if (j > 0 && f->r[i].start <= f->r[j - 1].end)
                        f->r[j - 1].end = MAX(f->r[j - 1].end, f->r[i].end);
                else
                        f->r[j++] = f->r[i];
        }
        f->n_r = j;
        return 0;
}

/* Writes n bytes of WAL file f at off, after checking the bytes already there agree. 1 when
 * they do not (nothing written), 0 when written, -errno. */
static int file_put(Gather *g, WalFile *f, const uint8_t *data, size_t n, uint64_t off) {
        char name[YB_PG_WAL_NAME_LEN + 1];
        _cleanup_close_ int fd = -EBADF;
        int k;

        wal_name(g, f->segno, name);
        fd = openat(g->dir_fd, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0)
                return negative_errno();
        for (size_t i = 0; i < f->n_r; i++) {
                uint64_t s = MAX(f->r[i].start, off), e = MIN(f->r[i].end, off + n);
                ssize_t got;

                if (s >= e)
                        continue;
                got = yb_pread_all(fd, g->theirs, e - s, s);
                if (got < 0)
                        return (int) got;
                if ((uint64_t) got != e - s || memcmp(g->theirs, data + (s - off), e - s) != 0)
                        return 1;
        }
        k = yb_pwrite_all(fd, data, n, off);
        if (k < 0)
                return k;
        return range_add(f, off, off + n);
}

/* Takes the staged content of src (fd) into its WAL file. */
static int take(Gather *g, const Src *src, int fd, const YbSnapshotHeader *from) {
        const YbPgBackup *fb = yb_pg_base_of(from, g->hook);
        WalFile *f = file_get(g, src->segno);
        uint64_t done = 0;
        int k;

        if (!f)
                return -ENOMEM;
        while (done < src->len) {
                size_t n = (size_t) MIN((uint64_t) BUF_SIZE, src->len - done);
                ssize_t got = yb_read_all(fd, g->buf, n);

                if (got < 0)
                        return (int) got;
                if ((size_t) got != n)
                        return -EBADMSG; /* shorter than its record: checked by its hash */
                k = file_put(g, f, g->buf, n, src->off + done);
                if (k < 0)
                        return k;
                if (k > 0) {
                        char msg[512];

                        snprintf(
                                msg, sizeof(msg),
                                "its bytes from %llu on differ from the same bytes of WAL file "
                                "%.24s found elsewhere in the store (in %s %s); the WAL cannot "
                                "be trusted. Run 'yunbak verify --deep'",
                                (unsigned long long) (src->off + done), strrchr(src->path, '/') + 1,
                                from->level == YB_LEVEL_SEGMENT ? "segment" : "snapshot", from->id);
                        g->report(g->userdata, src->path, msg);
                        g->failed = true;
                        return 0;
                }
                done += n;
        }
        /* when these bytes were stored: a base's pg_wal holds WAL up to its stop */
        f->written_ns =
                MAX(f->written_ns,
                    from->level != YB_LEVEL_SEGMENT && fb ? fb->stopped_ns : from->finished_ns);
        return 0;
}

static void report_fwd(void *userdata, const char *path, const char *problem) {
        Gather *g = userdata;

        g->failed = true;
        g->report(g->userdata, path, problem);
}

/* Reads the contents of srcs (all of chain c) from the chain's volumes, each checked against
 * its hash, into a staging directory in stage, and takes each into its WAL file. */
static int chain_take(Gather *g, YbRestoreChain *c, const Src *srcs, size_t n, const char *stage) {
        Restore r = restore_init(c, report_fwd, g);
        int k = 0;

        if (n == 0)
                return 0;
        r.jobs = new0(Job, n);
        if (!r.jobs)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++) {
                const YbEntry *e;
                size_t at;

                r.jobs[i].dest = srcs[i].path;
                r.n_jobs = i + 1;
                k = restore_chain_find(c, srcs[i].level, srcs[i].path, &e, &at);
                if (k >= 0) {
                        r.jobs[i].e = e;
                        k = restore_plan_file(&r, i, srcs[i].level, srcs[i].path);
                }
                if (k == -ENOMEM)
                        goto out;
                if (k < 0) {
                        r.jobs[i].failed = true;
                        restore_fail_entry(&r, srcs[i].path, true,
                                           "its content is missing from %s %s (damaged "
                                           "repository)",
                                           c->levels[srcs[i].level].h->level == YB_LEVEL_SEGMENT
                                                   ? "segment"
                                                   : "snapshot",
                                           c->levels[srcs[i].level].h->id);
                }
        }
        k = restore_open_target(&r, stage);
        if (k >= 0)
                k = restore_run_ops(&r);
        for (size_t j = 0; k >= 0 && j < r.n_jobs; j++) {
                Job *job = &r.jobs[j];
                _cleanup_close_ int fd = -EBADF;
                char name[64];

                if (job->failed)
                        continue;
                if (job->done_ops != job->n_ops) {
                        restore_fail_entry(&r, job->dest, true,
                                           "its content was not found in the volumes of %s "
                                           "(damaged repository)",
                                           c->levels[srcs[j].level].h->id);
                        continue;
                }
                if (job->n_ops == 0)
                        continue; /* an empty file */
                restore_staging_name(&r, j, job->gen, name);
                fd = openat(r.staging_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0) {
                        k = negative_errno();
                        break;
                }
                k = take(g, &srcs[j], fd, c->levels[srcs[j].level].h);
                (void) unlinkat(r.staging_fd, name, 0);
        }
out:
        restore_close(&r);
        return k;
}

static int src_push(Src **v, size_t *n, size_t level, const char *path, uint64_t segno,
                    uint64_t off, uint64_t len) {
        Src *p = realloc(*v, (*n + 1) * sizeof(Src));

        if (!p)
                return -ENOMEM;
        *v = p;
        p[*n] = (Src){
                .level = level, .path = strdup(path), .segno = segno, .off = off, .len = len
        };
        if (!p[*n].path)
                return -ENOMEM;
        (*n)++;
        return 0;
}

static void srcs_free(Src *v, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(v[i].path);
        free(v);
}

/* The WAL in level's manifest (a base's data/pg_wal, or a segment's wal/ files) of g's
 * timeline, from the base's start WAL file on. */
static int collect(Gather *g, YbRestoreChain *c, size_t level, Src **v, size_t *n) {
        const YbSnapshotHeader *h = c->levels[level].h;
        const YbPgBackup *hb = yb_pg_base_of(h, g->hook);
        _cleanup_free_ char *pgwal = NULL;
        uint32_t seg_size = g->b->wal_segment_size;
        uint64_t start_segno = g->b->start_lsn / seg_size;
        YbManifest *m;
        size_t plen;
        int k;

        k = restore_chain_manifest(c, level, &m);
        if (k < 0)
                return k;
        if (asprintf(&pgwal, "%s/%s/data/pg_wal/", YB_PG_DIR, g->hook) < 0)
                return -ENOMEM;
        plen = strlen(pgwal);
        for (size_t i = 0; i < m->n; i++) {
                const YbEntry *e = &m->entries[i];
                char hook[YB_PG_NAME_MAX + 1], wal[YB_PG_WAL_NAME_LEN + 1];
                uint64_t segno, len = e->size;
                uint32_t tl;
                int64_t off = 0;

                if (e->type != YB_ENTRY_FILE)
                        continue;
                if (h->level == YB_LEVEL_SEGMENT) {
                        if (yb_pg_path_wal_parse(e->path, hook, wal, &off) != 1 ||
                            !streq(hook, g->hook))
                                continue;
                        off = MAX(off, 0);
                } else {
                        /* A base's own pg_wal: bytes after its stop LSN were read while the
                         * server could still write them, and are not taken. */
                        if (!hb || strncmp(e->path, pgwal, plen) != 0 ||
                            strlen(e->path + plen) != YB_PG_WAL_NAME_LEN)
                                continue;
                        snprintf(wal, sizeof(wal), "%s", e->path + plen);
                }
                if (yb_pg_wal_name_parse(wal, seg_size, &tl, &segno) < 0 || tl != g->b->timeline ||
                    segno < start_segno)
                        continue;
                if (h->level != YB_LEVEL_SEGMENT) {
                        uint64_t stop_segno = hb->stop_lsn / seg_size;

                        if (hb->wal_segment_size != seg_size || segno > stop_segno)
                                continue;
                        if (segno == stop_segno)
                                len = MIN(len, hb->stop_lsn % seg_size);
                }
                if ((uint64_t) off >= seg_size || len > seg_size - (uint64_t) off) {
                        g->report(g->userdata, e->path,
                                  "it does not fit in a WAL file of this cluster's segment size; "
                                  "the store holds something PostgreSQL did not write");
                        g->failed = true;
                        continue;
                }
                log_debug("WAL of hook '%s': %s of %s %s: bytes %llu..%llu", g->hook, e->path,
                          h->level == YB_LEVEL_SEGMENT ? "segment" : "snapshot", h->id,
                          (unsigned long long) off, (unsigned long long) (off + len));
                k = src_push(v, n, level, e->path, segno, (uint64_t) off, len);
                if (k < 0)
                        return k;
        }
        return 0;
}

/* Gathers from the chain rooted at snapshot root: its own pg_wal when it is a base of the
 * hook, then its segments' WAL (all of them unless base_only). */
static int gather_chain(Gather *g, YbRepo *repo, const YbSnapshotList *l,
                        const YbSnapshotHeader *root, bool base_only, const char *stage) {
        _cleanup_(yb_restore_chain_freep) YbRestoreChain *c = NULL;
        _cleanup_(yb_snapshot_list_done) YbSnapshotList segs = { 0 };
        _cleanup_free_ char *bad = NULL;
        Src *v = NULL;
        size_t n = 0;
        int k;

        const YbPgBackup *rb = yb_pg_base_of(root, g->hook);

        /* a base of another cluster under the same hook's name (made again with initdb): its
         * WAL is not this cluster's, whatever its file names */
        if (rb && (rb->system_identifier != g->b->system_identifier ||
                   rb->wal_segment_size != g->b->wal_segment_size))
                return 0;
        if (!base_only) {
                k = yb_segments_load(repo, root->id, 1, INT64_MAX, &segs, &bad);
                if (k == -ENOENT && !yb_pg_base_of(root, g->hook))
                        return 0; /* neither a base nor a chain root */
                if (k < 0 && k != -ENOENT)
                        return log_error_errno(k,
                                               "Cannot list the segments of chain %s in store "
                                               "'%s': %m",
                                               root->id, repo->store->location);
        }
        k = yb_restore_chain_new(repo, l, root, g->key, &c);
        if (k < 0) {
                char msg[256];

                snprintf(msg, sizeof(msg), "snapshot %s or a parent of it cannot be read: %s",
                         root->id, strerror(-k));
                g->report(g->userdata, root->id, msg);
                g->failed = true;
                return 0;
        }
        if (yb_pg_base_of(root, g->hook)) {
                k = collect(g, c, c->root, &v, &n);
                if (k < 0)
                        goto out;
        }
        for (size_t i = 0; i < segs.n; i++) {
                YbSnapshotHeader *h = TAKE_PTR(segs.items[i]);
                char id[YB_SNAPSHOT_ID_MAX + 1];

                snprintf(id, sizeof(id), "%s", h->id);
                k = yb_restore_chain_add(c, h);
                if (k == -ENOMEM)
                        goto out;
                if (k < 0) {
                        char msg[256];

                        snprintf(msg, sizeof(msg),
                                 "segment %s of chain %s cannot be read (%s): the WAL it and "
                                 "the segments after it hold is not restored",
                                 id, root->id,
                                 k == -EBADMSG ? "its manifest is damaged or altered"
                                               : strerror(-k));
                        g->report(g->userdata, id, msg);
                        g->failed = true;
                        break;
                }
                k = collect(g, c, c->n - 1, &v, &n);
                if (k < 0)
                        goto out;
        }
        if (bad) {
                char msg[512];

                snprintf(msg, sizeof(msg),
                         "the segment chain of %s is damaged: %s; the WAL from there on is not "
                         "restored",
                         root->id, bad);
                g->report(g->userdata, root->id, msg);
                g->failed = true;
        }
        k = chain_take(g, c, v, n, stage);
out:
        srcs_free(v, n);
        return k;
}

static int file_cmp(const void *a, const void *b) {
        const WalFile *x = a, *y = b;

        return x->segno < y->segno ? -1 : x->segno > y->segno;
}

/* From the base's start WAL file on, the files that follow one another, each whole but the
 * last; the rest is a gap. Pads the last file, removes what lies after a gap. */
static int lay_out(Gather *g, YbPgWal *w) {
        uint32_t size = g->b->wal_segment_size;
        uint64_t want = g->b->start_lsn / size;
        size_t i = 0;
        bool end = false;
        char name[YB_PG_WAL_NAME_LEN + 1];

        if (g->n_files > 1)
                qsort(g->files, g->n_files, sizeof(WalFile), file_cmp);
        *w = (YbPgWal){ .first_segno = want };
        for (; i < g->n_files && !end; i++) {
                WalFile *f = &g->files[i];
                uint64_t have = f->n_r > 0 && f->r[0].start == 0 ? f->r[0].end : 0;
                _cleanup_close_ int fd = -EBADF;

                wal_name(g, want, name);
                if (f->segno != want || have == 0) {
                        snprintf(w->gap, sizeof(w->gap),
                                 "WAL file %s is missing (the store holds WAL after it)", name);
                        break;
                }
                w->files++;
                w->last_segno = f->segno;
                w->end_lsn = f->segno * size + have;
                w->newest_ns = MAX(w->newest_ns, f->written_ns);
                want++;
                if (have == size)
                        continue;
                /* The last file: what is after its first hole is not WAL we can use. */
                end = true;
                if (f->n_r > 1 || i + 1 < g->n_files)
                        snprintf(w->gap, sizeof(w->gap),
                                 "WAL file %s holds its first %llu bytes only (the store holds "
                                 "WAL after it)",
                                 name, (unsigned long long) have);
                fd = openat(g->dir_fd, name, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
                if (fd < 0 || ftruncate(fd, (off_t) have) < 0 || ftruncate(fd, size) < 0)
                        return log_error_errno(errno, "Cannot pad WAL file '%s/%s': %m", g->waldir,
                                               name);
        }
        for (; i < g->n_files; i++) {
                wal_name(g, g->files[i].segno, name);
                if (unlinkat(g->dir_fd, name, 0) < 0 && errno != ENOENT)
                        return log_error_errno(errno, "Cannot remove '%s/%s': %m", g->waldir, name);
        }
        return 0;
}

int yb_pg_wal_gather(YbRepo *repo, const YbSnapshotList *l, const YbSecretKey *key,
                     const YbSnapshotHeader *base, const YbPgBackup *b, bool base_only,
                     const char *waldir, YbRestoreReportFn report, void *userdata, YbPgWal *ret) {
        Gather g = { .repo = repo,
                     .key = key,
                     .b = b,
                     .hook = b->name,
                     .dir_fd = -EBADF,
                     .waldir = waldir,
                     .report = report,
                     .userdata = userdata };
        _cleanup_free_ char *stage = NULL;
        bool after = false;
        int k;

        g.buf = malloc(BUF_SIZE);
        g.theirs = malloc(BUF_SIZE);
        stage = strdup(waldir);
        if (!g.buf || !g.theirs || !stage) {
                k = -ENOMEM;
                goto out;
        }
        /* the staging directory goes beside the WAL directory, on the same file system */
        if (strrchr(stage, '/'))
                *strrchr(stage, '/') = 0;
        /* what an earlier restore into the same place laid out must not be taken for WAL */
        k = yb_rm_rf_at(AT_FDCWD, waldir);
        if (k >= 0)
                k = yb_mkdir_p_at(AT_FDCWD, waldir, 0700);
        if (k >= 0) {
                g.dir_fd = open(waldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (g.dir_fd < 0)
                        k = negative_errno();
        }
        if (k < 0) {
                log_error_errno(k, "Cannot make the WAL directory '%s': %m", waldir);
                goto out;
        }
        for (size_t i = 0; i < l->n && k >= 0; i++) {
                if (l->items[i] == base)
                        after = true;
                if (!after)
                        continue;
                k = gather_chain(&g, repo, l, l->items[i], base_only, stage);
                if (base_only)
                        break;
        }
        if (k >= 0 && g.failed)
                k = -EBADMSG;
        if (k >= 0)
                k = lay_out(&g, ret);
out:
        for (size_t i = 0; i < g.n_files; i++)
                free(g.files[i].r);
        free(g.files);
        free(g.buf);
        free(g.theirs);
        safe_close(g.dir_fd);
        return k;
}
