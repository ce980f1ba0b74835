/* One tier-1 backup: walk the sources, skip what the parent already has, store the rest whole or
 * as a librsync delta, write the manifest and the signature index, commit. */
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <time.h>

#include "agents/agent.h"
#include "core/base/exitcode.h"
#include "core/base/fileio.h"
#include "core/base/log.h"
#include "core/base/pathutil.h"
#include "core/base/pipeline.h"
#include "core/base/timeutil.h"
#include "core/codec/delta.h"
#include "core/repo/writer.h"

#define READ_BUF_SIZE (1024 * 1024)
#define SPOOL_MEM_MAX (16 * 1024 * 1024)
#define READ_ATTEMPTS 3
/* read_pass's code for "the source file could not be read" (b->read_error says why), so that it
 * is told apart from a failure to write the store: the first skips a file, the second stops. */
#define E_SOURCE_READ 10000

typedef struct IdName {
        uint32_t id;
        char *name;
} IdName;

typedef struct LinkSeen {
        uint64_t dev, ino;
        char *path;
} LinkSeen;

typedef struct Backup {
        const AgentBackupArgs *args;
        const AgentWalkEntry *cur; /* the file being read */
        int read_error;            /* errno of the last source read that failed */
        bool no_proc;              /* /proc is not mounted: extended attributes cannot be read */
        unsigned mutations;        /* test hook: times the file was changed under us */
        YbStore *store;
        YbRepo *repo;
        YbAgentIdentity *agent;
        YbSnapshotWriter *w;
        YbSnapshotHeader hdr; /* counts and byte totals as they grow */
        YbSigIndex *index;    /* the parent's, or NULL */
        uint8_t *seen;        /* per index entry: still present */
        LinkSeen *links;      /* open-addressing table by (dev, ino) of files with several names */
        size_t n_links, links_size;
        IdName *users, *groups;
        size_t n_users, n_groups;
        uint8_t *buf;
        json_t *errors;
        json_t *streams;     /* what each stream stored, for the summary */
        bool *stream_stored; /* per stream: it (and the directories above it) is in the snapshot */
} Backup;

/* Reports an entry that is left out of the snapshot, once, and marks the snapshot partial.
 * error is a negative errno, or 0 when why says it all. */
static void backup_error(Backup *b, const char *abs, int error, const char *why) {
        _cleanup_free_ char *esc = yb_path_escape(abs), *msg = NULL;

        if (asprintf(&msg, "%s%s%s", why, error ? ": " : "", error ? strerror(-error) : "") < 0)
                msg = NULL;
        log_warning("Skipped '%s': %s.", esc ? esc : abs, msg ? msg : why);
        b->hdr.counts.errors++;
        b->hdr.partial = true;
        json_array_append_new(b->errors, json_pack("{s:s, s:s}", "path", esc ? esc : "", "error",
                                                   msg ? msg : why));
}

static void walk_error(void *userdata, const char *abs, int error) {
        if (error == -ESTALE)
                backup_error(userdata, abs, 0, "it was replaced while being read");
        else
                backup_error(userdata, abs, error, "cannot read it");
}

static const char *id_name(IdName **list, size_t *n, uint32_t id, bool group) {
        char buf[4096], *name = NULL;
        IdName *p;

        for (size_t i = 0; i < *n; i++)
                if ((*list)[i].id == id)
                        return (*list)[i].name;
        if (group) {
                struct group g, *res = NULL;

                if (getgrgid_r(id, &g, buf, sizeof(buf), &res) == 0 && res)
                        name = strdup(res->gr_name);
        } else {
                struct passwd pw, *res = NULL;

                if (getpwuid_r(id, &pw, buf, sizeof(buf), &res) == 0 && res)
                        name = strdup(res->pw_name);
        }
        if (!name)
                name = strdup("");
        p = realloc(*list, (*n + 1) * sizeof(IdName));
        if (!p || !name) {
                free(name);
                return "";
        }
        *list = p;
        p[*n] = (IdName){ id, name };
        (*n)++;
        return name;
}

/* Fills the metadata every record carries. Strings point into caches; not freed with the entry. */
static void fill_meta(Backup *b, const AgentWalkEntry *e, YbEntry *ret) {
        const struct stat *st = e->st;

        *ret = (YbEntry){
                .path = (char *) e->path,
                .mode = st->st_mode & 07777,
                .uid = st->st_uid,
                .gid = st->st_gid,
                .uname = (char *) id_name(&b->users, &b->n_users, st->st_uid, false),
                .gname = (char *) id_name(&b->groups, &b->n_groups, st->st_gid, true),
                .mtime_sec = st->st_mtim.tv_sec,
                .mtime_nsec = (uint32_t) st->st_mtim.tv_nsec,
        };
}

static void xattrs_free(YbXattr *x, size_t n) {
        for (size_t i = 0; i < n; i++) {
                free(x[i].name);
                free(x[i].value);
        }
        free(x);
}

/* Reads every extended attribute of an entry (POSIX ACLs included: they are
 * system.posix_acl_*), without following a symlink and without opening the entry. The path goes
 * through /proc/self/fd/<dir> so it stays short however deep the entry is. */
static int read_xattrs(int dir_fd, const char *name, YbXattr **ret, size_t *ret_n) {
        _cleanup_free_ char *names = NULL, *path = NULL;
        YbXattr *v = NULL;
        size_t n = 0;
        ssize_t len;

        *ret = NULL;
        *ret_n = 0;
        if (asprintf(&path, "/proc/self/fd/%d/%s", dir_fd, name) < 0)
                return -ENOMEM;
        for (;;) {
                len = llistxattr(path, NULL, 0);
                if (len < 0)
                        return errno == ENOTSUP ? 0 : negative_errno();
                if (len == 0)
                        return 0;
                free(names);
                names = malloc((size_t) len);
                if (!names)
                        return -ENOMEM;
                len = llistxattr(path, names, (size_t) len);
                if (len >= 0)
                        break;
                if (errno != ERANGE)
                        return negative_errno();
        }
        for (char *p = names; p < names + len; p += strlen(p) + 1) {
                ssize_t vlen = lgetxattr(path, p, NULL, 0);
                YbXattr *nv;
                void *val;

                if (vlen < 0) {
                        if (errno == ENODATA)
                                continue;
                        xattrs_free(v, n);
                        return negative_errno();
                }
                val = malloc((size_t) vlen + 1);
                nv = realloc(v, (n + 1) * sizeof(YbXattr));
                if (!val || !nv) {
                        free(val);
                        xattrs_free(nv ? nv : v, n);
                        return -ENOMEM;
                }
                v = nv;
                vlen = lgetxattr(path, p, val, (size_t) vlen);
                if (vlen < 0) {
                        free(val);
                        continue; /* removed meanwhile */
                }
                v[n].name = strdup(p);
                v[n].value = val;
                v[n].size = (size_t) vlen;
                if (!v[n].name) {
                        free(val);
                        xattrs_free(v, n);
                        return -ENOMEM;
                }
                n++;
        }
        *ret = v;
        *ret_n = n;
        return 0;
}

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

static void spool_done(Spool *s) {
        yb_buf_done(&s->mem);
        s->fd = safe_close(s->fd);
}

static bool stat_same(const struct stat *a, const struct stat *b) {
        return a->st_size == b->st_size && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
               a->st_mtim.tv_nsec == b->st_mtim.tv_nsec && a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
               a->st_ctim.tv_nsec == b->st_ctim.tv_nsec && a->st_ino == b->st_ino;
}

static bool stat_same_sig(const YbSigEntry *s, const struct stat *st) {
        return s->size == (uint64_t) st->st_size && s->mtime_sec == st->st_mtim.tv_sec &&
               s->mtime_nsec == (uint32_t) st->st_mtim.tv_nsec &&
               s->ctime_sec == st->st_ctim.tv_sec &&
               s->ctime_nsec == (uint32_t) st->st_ctim.tv_nsec && s->ino == st->st_ino &&
               s->dev == st->st_dev;
}

static void sig_entry_from_stat(YbSigEntry *s, const char *path, const struct stat *st) {
        *s = (YbSigEntry){
                .path = (char *) path,
                .size = (uint64_t) st->st_size,
                .mtime_sec = st->st_mtim.tv_sec,
                .mtime_nsec = (uint32_t) st->st_mtim.tv_nsec,
                .ctime_sec = st->st_ctim.tv_sec,
                .ctime_nsec = (uint32_t) st->st_ctim.tv_nsec,
                .ino = st->st_ino,
                .dev = st->st_dev,
        };
}

#ifdef YB_FAULT_INJECTION
/* Test hook: YB_TEST_MUTATE="grow:NAME" appends to a file named NAME while it is being read, on
 * every attempt; "grow-once:NAME" only on the first. Stands in for a busy writer, without races. */
static void test_mutate(Backup *b) {
        const char *spec = getenv("YB_TEST_MUTATE"), *name;
        bool once;
        int fd;

        if (!spec || !b->cur)
                return;
        once = strncmp(spec, "grow-once:", 10) == 0;
        if (!once && strncmp(spec, "grow:", 5) != 0)
                return;
        name = spec + (once ? 10 : 5);
        if (!streq(name, b->cur->name) || (once && b->mutations > 0))
                return;
        fd = openat(b->cur->dir_fd, b->cur->name, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW);
        if (fd >= 0) {
                if (write(fd, "more", 4) == 4)
                        b->mutations++;
                close(fd);
        }
}
#else
static void test_mutate(Backup *b) {
}
#endif

static int hash_chunk(Backup *b, void *ud, const void *data, size_t n) {
        yb_hash_update(ud, data, n);
        return 0;
}

/* Reads a file once from its start, giving every chunk to fn. Returns -EAGAIN if the file
 * changed while it was read (size or times moved, or it grew past its size). */
static int read_pass(Backup *b, int fd, const struct stat *st,
                     int (*fn)(Backup *b, void *ud, const void *data, size_t n), void *ud) {
        uint64_t left = (uint64_t) st->st_size;
        struct stat after;
        uint8_t extra;
        ssize_t k;
        int r;

        if (lseek(fd, 0, SEEK_SET) < 0)
                return negative_errno();
        while (left > 0) {
                k = read(fd, b->buf, (size_t) MIN(left, (uint64_t) READ_BUF_SIZE));
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        b->read_error = errno;
                        return -E_SOURCE_READ;
                }
                if (k == 0)
                        return -EAGAIN; /* shrank */
                r = fn(b, ud, b->buf, (size_t) k);
                if (r < 0)
                        return r;
                if (left == (uint64_t) st->st_size)
                        test_mutate(b);
                left -= (uint64_t) k;
                b->hdr.bytes_read += (uint64_t) k;
        }
        k = read(fd, &extra, 1);
        if (k > 0)
                return -EAGAIN; /* grew */
        if (fstat(fd, &after) < 0)
                return negative_errno();
        if (!stat_same(st, &after))
                return -EAGAIN;
        return 0;
}

/* A file's content hash and librsync signature, computed as its bytes go by: inline for small
 * files, on a helper thread for big ones so that the delta search (or compression) runs beside
 * them on the other core. */
typedef struct Digest {
        YbHash hash;
        YbSigBuilder *sig; /* NULL when the file is too small to delta later */
        YbPipeline *pipe;
} Digest;

#define DIGEST_THREAD_MIN (4 * 1024 * 1024)

static int digest_block(void *userdata, const void *data, size_t n) {
        Digest *d = userdata;

        yb_hash_update(&d->hash, data, n);
        return d->sig ? yb_sig_builder_feed(d->sig, data, n) : 0;
}

static void digest_done(Digest *d) {
        d->pipe = yb_pipeline_free(d->pipe); /* first: its thread uses the rest */
        d->sig = yb_sig_builder_free(d->sig);
}

static int digest_begin(Digest *d, uint64_t size) {
        int r;

        *d = (Digest){ 0 };
        yb_hash_init(&d->hash);
        if (size >= YB_DELTA_MIN_FILE_SIZE) {
                r = yb_sig_builder_new(size, &d->sig);
                if (r < 0)
                        return r;
        }
        if (size >= DIGEST_THREAD_MIN) {
                r = yb_pipeline_new(digest_block, d, READ_BUF_SIZE, 4, &d->pipe);
                if (r < 0) {
                        digest_done(d);
                        return r;
                }
        }
        return 0;
}

static int digest_feed(Digest *d, const void *data, size_t n) {
        if (d->pipe)
                return yb_pipeline_write(d->pipe, data, n);
        return digest_block(d, data, n);
}

/* Waits for the helper, then gives the hash and (appended to sig) the signature. */
static int digest_end(Digest *d, uint8_t ret_hash[YB_HASH_SIZE], YbBuf *sig) {
        int r = 0;

        if (d->pipe) {
                r = yb_pipeline_finish(d->pipe);
                d->pipe = yb_pipeline_free(d->pipe);
        }
        if (r >= 0)
                yb_hash_final(&d->hash, ret_hash);
        yb_buf_clear(sig);
        if (r >= 0 && d->sig)
                r = yb_sig_builder_finish(d->sig, sig);
        digest_done(d);
        return r;
}

static int whole_chunk(Backup *b, void *ud, const void *data, size_t n) {
        int r = digest_feed(ud, data, n);

        if (r < 0)
                return r;
        return yb_snapshot_writer_data(b->w, data, n);
}

static void pax_from(const YbEntry *me, const char *name, uint64_t size, YbPaxEntry *ret) {
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

/* Stores the file whole as "tree/<path>". -EAGAIN: it changed while read (entry left torn). */
static int store_whole(Backup *b, int fd, const struct stat *st, YbEntry *me, YbSigEntry *se,
                       YbBuf *sig) {
        _cleanup_(digest_done) Digest d = { 0 };
        _cleanup_free_ char *name = NULL;
        YbPaxEntry pe;
        int r, k;

        if (asprintf(&name, "tree/%s", me->path) < 0)
                return -ENOMEM;
        r = digest_begin(&d, (uint64_t) st->st_size);
        if (r < 0)
                return r;
        pax_from(me, name, (uint64_t) st->st_size, &pe);
        r = yb_snapshot_writer_begin_entry(b->w, &pe, &me->volume, &me->entry);
        if (r < 0)
                return r;
        r = read_pass(b, fd, st, whole_chunk, &d);
        if (r == -EFBIG)
                r = -EAGAIN;
        k = yb_snapshot_writer_end_entry(b->w); /* pads a torn entry */
        if (k < 0)
                return k;
        if (r < 0)
                return r;
        r = digest_end(&d, me->hash, sig);
        if (r < 0)
                return r;
        memcpy(se->hash, me->hash, YB_HASH_SIZE);
        me->content = YB_CONTENT_WHOLE;
        me->stored = (uint64_t) st->st_size;
        b->hdr.counts.whole++;
        return 0;
}

typedef struct DeltaCtx {
        YbDeltaJob *job;
        Digest digest;
        uint64_t probe;
} DeltaCtx;

static int delta_chunk(Backup *b, void *ud, const void *data, size_t n) {
        DeltaCtx *c = ud;
        int r;

        r = yb_delta_feed(c->job, data, n);
        if (r < 0)
                return r;
        /* A file that changed throughout finds nothing to match, and librsync's search for
         * matches is slow then: give up early and store it whole. */
        if (yb_delta_in_bytes(c->job) >= c->probe &&
            yb_delta_out_bytes(c->job) > yb_delta_in_bytes(c->job) / 2)
                return -ECANCELED;
        return digest_feed(&c->digest, data, n);
}

/* Stores the file as a delta against prev. 1: stored; 0: not worth it (store whole instead);
 * -EAGAIN: it changed while read. */
static int store_delta(Backup *b, int fd, const struct stat *st, const YbSigEntry *prev,
                       YbEntry *me, YbSigEntry *se, YbBuf *sig) {
        _cleanup_(yb_signature_freep) YbSignature *old = NULL;
        _cleanup_(yb_delta_freep) YbDeltaJob *job = NULL;
        _cleanup_free_ char *name = NULL;
        Spool spool = { .fd = -EBADF, .dir = b->args->state_dir };
        DeltaCtx c = { 0 };
        YbPaxEntry pe;
        int r;

        r = yb_signature_load(prev->sig, prev->sig_size, &old);
        if (r < 0)
                return 0; /* an unusable signature only costs us the delta */
        yb_hash_init(&spool.hash);
        r = yb_delta_new(old, spool_write, &spool, &job);
        if (r >= 0)
                r = digest_begin(&c.digest, (uint64_t) st->st_size);
        if (r < 0)
                goto out;
        c.job = job;
        c.probe = MAX((uint64_t) 1 << 20, MIN((uint64_t) 8 << 20, (uint64_t) st->st_size / 16));
        r = read_pass(b, fd, st, delta_chunk, &c);
        if (r == -ECANCELED) {
                r = 0;
                goto out;
        }
        if (r >= 0)
                r = yb_delta_finish(job);
        if (r < 0)
                goto out;
        if (spool.size >= (uint64_t) st->st_size) {
                r = 0; /* the delta is no smaller than the file */
                goto out;
        }
        if (asprintf(&name, "delta/%s", me->path) < 0) {
                r = -ENOMEM;
                goto out;
        }
        pax_from(me, name, spool.size, &pe);
        r = yb_snapshot_writer_begin_entry(b->w, &pe, &me->volume, &me->entry);
        if (r < 0)
                goto out;
        if (spool.fd >= 0) {
                uint64_t off = 0;

                while (off < spool.size && r >= 0) {
                        ssize_t k = pread(spool.fd, b->buf,
                                          (size_t) MIN((uint64_t) READ_BUF_SIZE, spool.size - off),
                                          (off_t) off);
                        if (k <= 0)
                                r = k < 0 ? negative_errno() : -EIO;
                        else
                                r = yb_snapshot_writer_data(b->w, b->buf, (size_t) k);
                        off += k > 0 ? (uint64_t) k : 0;
                }
        } else
                r = yb_snapshot_writer_data(b->w, spool.mem.data, spool.mem.size);
        if (r >= 0)
                r = yb_snapshot_writer_end_entry(b->w);
        if (r < 0)
                goto out;
        r = digest_end(&c.digest, me->hash, sig);
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
        digest_done(&c.digest);
        spool_done(&spool);
        return r;
}

static int add_sig(Backup *b, YbSigEntry *se, const YbBuf *sig) {
        se->sig = sig->data;
        se->sig_size = sig->size;
        return yb_snapshot_writer_add_sig(b->w, se);
}

static size_t link_slot(const Backup *b, uint64_t dev, uint64_t ino) {
        size_t h = (size_t) ((dev * 0x9E3779B97F4A7C15ULL) ^ (ino * 0xC2B2AE3D27D4EB4FULL));

        for (h &= b->links_size - 1;; h = (h + 1) & (b->links_size - 1))
                if (!b->links[h].path || (b->links[h].dev == dev && b->links[h].ino == ino))
                        return h;
}

/* The first name seen of a file with several names, or NULL. */
static const LinkSeen *link_find(const Backup *b, uint64_t dev, uint64_t ino) {
        size_t h;

        if (b->links_size == 0)
                return NULL;
        h = link_slot(b, dev, ino);
        return b->links[h].path ? &b->links[h] : NULL;
}

static int link_add(Backup *b, uint64_t dev, uint64_t ino, const char *path) {
        size_t h;

        if (2 * (b->n_links + 1) > b->links_size) {
                /* Grow and rehash: the table stays at most half full. */
                LinkSeen *old = b->links;
                size_t old_size = b->links_size;

                b->links_size = old_size ? 2 * old_size : 64;
                b->links = new0(LinkSeen, b->links_size);
                if (!b->links) {
                        b->links = old;
                        b->links_size = old_size;
                        return -ENOMEM;
                }
                for (size_t i = 0; i < old_size; i++)
                        if (old[i].path)
                                b->links[link_slot(b, old[i].dev, old[i].ino)] = old[i];
                free(old);
        }
        h = link_slot(b, dev, ino);
        if (b->links[h].path)
                return 0;
        b->links[h] = (LinkSeen){ dev, ino, strdup(path) };
        if (!b->links[h].path)
                return -ENOMEM;
        b->n_links++;
        return 0;
}

static void mark_seen(Backup *b, const YbSigEntry *e) {
        if (b->index && e)
                b->seen[e - b->index->entries] = 1;
}

/* A regular file. Returns <0 only for failures that must stop the backup. */
static int backup_file(Backup *b, const AgentWalkEntry *e, YbEntry *me) {
        const struct stat *st = e->st;
        const YbSigEntry *prev = b->index ? yb_sigindex_find(b->index, e->path) : NULL;
        bool maybe_renamed = false;
        YbSigEntry se;
        YbBuf sig = YB_BUF_INIT;
        _cleanup_close_ int fd = -EBADF;
        struct stat fst;
        int r = 0;

        me->type = YB_ENTRY_FILE;
        me->size = (uint64_t) st->st_size;
        me->sparse = (uint64_t) st->st_blocks * 512 < (uint64_t) st->st_size;
        b->cur = e;
        b->mutations = 0;
        sig_entry_from_stat(&se, e->path, st);
        mark_seen(b, prev);

        if (st->st_nlink > 1) {
                const LinkSeen *first = link_find(b, st->st_dev, st->st_ino);

                if (first) {
                        me->type = YB_ENTRY_HARDLINK;
                        me->target = first->path;
                        b->hdr.counts.hardlinks++;
                        r = yb_snapshot_writer_add(b->w, me);
                        me->target = NULL;
                        return r;
                }
        }

        /* Unchanged by size, mtime, ctime and inode: not even opened. */
        if (prev && stat_same_sig(prev, st)) {
                me->content = me->size == 0 ? YB_CONTENT_EMPTY : YB_CONTENT_UNCHANGED;
                me->base_path = me->size == 0 ? NULL : prev->path;
                memcpy(me->hash, prev->hash, YB_HASH_SIZE);
                memcpy(se.hash, prev->hash, YB_HASH_SIZE);
                se.sig = prev->sig;
                se.sig_size = prev->sig_size;
                b->hdr.counts.unchanged++;
                goto record;
        }
        /* Perhaps renamed: the same inode under another name. An inode number is reused as soon
         * as a file is deleted, and tools that keep mtimes make a new file look like the old
         * one, so a rename is only believed once the content hashes the same (below). Either
         * way the old version is the best basis for a delta. */
        if (!prev && b->index && st->st_size > 0) {
                const YbSigEntry *old = yb_sigindex_find_inode(b->index, st->st_dev, st->st_ino);

                if (old) {
                        mark_seen(b, old);
                        prev = old;
                        maybe_renamed = old->size == (uint64_t) st->st_size &&
                                        old->mtime_sec == st->st_mtim.tv_sec &&
                                        old->mtime_nsec == (uint32_t) st->st_mtim.tv_nsec;
                }
        }

        fd = openat(e->dir_fd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NOATIME);
        if (fd < 0 && errno == EPERM) /* O_NOATIME needs ownership */
                fd = openat(e->dir_fd, e->name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                if (errno != ENOENT)
                        backup_error(b, e->abs, negative_errno(), "cannot read it");
                return 0;
        }
        if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_ino != st->st_ino) {
                backup_error(b, e->abs, 0, "it was replaced while being read");
                return 0;
        }
        if (maybe_renamed) {
                YbHash h;
                uint8_t digest[YB_HASH_SIZE];

                yb_hash_init(&h);
                r = read_pass(b, fd, &fst, hash_chunk, &h);
                yb_hash_final(&h, digest);
                if (r >= 0 && memcmp(digest, prev->hash, YB_HASH_SIZE) == 0) {
                        me->content = YB_CONTENT_UNCHANGED;
                        me->base_path = prev->path;
                        memcpy(me->hash, digest, YB_HASH_SIZE);
                        sig_entry_from_stat(&se, e->path, &fst);
                        memcpy(se.hash, digest, YB_HASH_SIZE);
                        se.sig = prev->sig;
                        se.sig_size = prev->sig_size;
                        b->hdr.counts.renamed++;
                        goto record;
                }
                if (r < 0 && r != -EAGAIN && r != -E_SOURCE_READ)
                        return r;
        }
        for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
                if (attempt > 0 && fstat(fd, &fst) < 0)
                        break;
                /* Metadata as of the read that counts, not as of the walk. */
                me->size = (uint64_t) fst.st_size;
                me->mode = fst.st_mode & 07777;
                me->uid = fst.st_uid;
                me->gid = fst.st_gid;
                me->mtime_sec = fst.st_mtim.tv_sec;
                me->mtime_nsec = (uint32_t) fst.st_mtim.tv_nsec;
                sig_entry_from_stat(&se, e->path, &fst);
                if (fst.st_size == 0) {
                        me->content = YB_CONTENT_EMPTY;
                        yb_hash_buf(NULL, 0, me->hash);
                        memcpy(se.hash, me->hash, YB_HASH_SIZE);
                        b->hdr.counts.empty++;
                        r = 0;
                        break;
                }
                r = 0;
                if (prev && prev->sig && fst.st_size >= YB_DELTA_MIN_FILE_SIZE)
                        r = store_delta(b, fd, &fst, prev, me, &se, &sig);
                if (r == 0)
                        r = store_whole(b, fd, &fst, me, &se, &sig);
                else if (r == 1)
                        r = 0;
                if (r != -EAGAIN)
                        break;
        }
        if (r == -EAGAIN) {
                backup_error(b, e->abs, 0, "it kept changing while being read (3 attempts)");
                r = 0;
                goto out;
        }
        if (r == -E_SOURCE_READ) {
                backup_error(b, e->abs, -b->read_error, "cannot read it");
                r = 0;
                goto out;
        }
        /* Racily clean (as git says): written less than a second before we read it, a write in
         * the same clock tick after our read could leave size and times as they are now. The
         * next backup must read it again, so the index does not vouch for it (inode 0 never
         * matches). Every write moves mtime, so mtime is what counts. */
        if ((int64_t) fst.st_mtim.tv_sec * YB_NSEC_PER_SEC + fst.st_mtim.tv_nsec >
            yb_now_ns() - YB_NSEC_PER_SEC)
                se.ino = 0;
        if (r < 0) {
                /* A failure writing the store: the backup stops, naming where it was. */
                _cleanup_free_ char *esc = yb_path_escape(e->abs);

                log_error("Cannot store '%s': %s", esc ? esc : e->abs, strerror(-r));
                goto out;
        }
        b->hdr.bytes_source += me->size;
        r = yb_snapshot_writer_add(b->w, me);
        if (r >= 0)
                r = add_sig(b, &se, &sig);
        goto remember;
record:
        b->hdr.bytes_source += me->size;
        r = yb_snapshot_writer_add(b->w, me);
        if (r >= 0)
                r = yb_snapshot_writer_add_sig(b->w, &se);
remember:
        if (r >= 0 && st->st_nlink > 1)
                r = link_add(b, st->st_dev, st->st_ino, e->path);
        if (r >= 0)
                b->hdr.counts.files++;
out:
        yb_buf_done(&sig);
        return r;
}

static int backup_entry(void *userdata, const AgentWalkEntry *e) {
        Backup *b = userdata;
        const struct stat *st = e->st;
        YbEntry me;
        int r = 0;

        fill_meta(b, e, &me);
        if (!S_ISSOCK(st->st_mode) && !b->no_proc) {
                r = read_xattrs(e->dir_fd, e->name, &me.xattrs, &me.n_xattrs);
                if (r == -ENOMEM)
                        return r;
                if (r < 0 && r != -ENOENT)
                        log_warning_errno(r, "Cannot read the extended attributes of '%s': %m",
                                          e->abs);
                r = 0;
        }
        switch (st->st_mode & S_IFMT) {
        case S_IFREG:
                r = backup_file(b, e, &me);
                break;
        case S_IFDIR:
                me.type = YB_ENTRY_DIR;
                r = yb_snapshot_writer_add(b->w, &me);
                b->hdr.counts.dirs++;
                break;
        case S_IFLNK: {
                size_t size = (size_t) st->st_size + 1;

                for (;;) {
                        ssize_t k;

                        free(me.target);
                        me.target = malloc(size);
                        if (!me.target)
                                return -ENOMEM;
                        k = readlinkat(e->dir_fd, e->name, me.target, size);
                        if (k < 0) {
                                backup_error(b, e->abs, negative_errno(),
                                             "cannot read the symlink");
                                goto done;
                        }
                        if ((size_t) k < size) {
                                me.target[k] = 0;
                                break;
                        }
                        size *= 2;
                }
                me.type = YB_ENTRY_SYMLINK;
                r = yb_snapshot_writer_add(b->w, &me);
                b->hdr.counts.symlinks++;
                break;
        }
        case S_IFIFO:
        case S_IFCHR:
        case S_IFBLK:
                me.type = S_ISFIFO(st->st_mode)  ? YB_ENTRY_FIFO
                          : S_ISCHR(st->st_mode) ? YB_ENTRY_CHARDEV
                                                 : YB_ENTRY_BLOCKDEV;
                me.rdev = st->st_rdev;
                r = yb_snapshot_writer_add(b->w, &me);
                b->hdr.counts.special++;
                break;
        default:
                /* Sockets belong to a running process; there is nothing to keep. */
                break;
        }
done:
        free(me.target);
        xattrs_free(me.xattrs, me.n_xattrs);
        return r;
}

static int load_parent_index(Backup *b, const YbSnapshotHeader *parent) {
        _cleanup_free_ char *cache = NULL;
        const YbFileRef *ref = yb_header_find_file(parent, "sigindex");
        int r;

        if (!ref)
                return -EBADMSG;
        /* The local cache saves reading the index from a remote store; the store has it too, so
         * an agent that lost its cache still makes an incremental. */
        if (asprintf(&cache, "%s/cache/%s/%s.sigindex", b->args->state_dir, b->args->system,
                     parent->id) < 0)
                return -ENOMEM;
        {
                _cleanup_(yb_store_closep) YbStore *local = NULL;
                _cleanup_free_ char *dir = NULL;
                YbBuf buf = YB_BUF_INIT;
                char ctx[256];

                if (asprintf(&dir, "%s/cache/%s", b->args->state_dir, b->args->system) >= 0 &&
                    yb_store_open(dir, &local) >= 0) {
                        yb_seal_context(b->args->system, parent->id, "sigindex", ctx);
                        r = yb_sealed_read_all(local, strrchr(cache, '/') + 1, ref,
                                               &b->agent->state, ctx, true, SIZE_MAX, &buf);
                        if (r >= 0)
                                r = yb_sigindex_parse(buf.data, buf.size, &b->index);
                        yb_buf_done(&buf);
                        if (r >= 0)
                                return 0;
                        log_debug_errno(r, "No usable cached signature index: %m");
                }
        }
        return yb_repo_load_sigindex(b->repo, parent, &b->agent->state, &b->index);
}

/* Keeps a copy of the new snapshot's signature index next to the agent, and only that one. */
static void cache_sigindex(Backup *b, const YbSnapshotHeader *h) {
        _cleanup_free_ char *dir = NULL, *src = NULL, *dst = NULL;
        YbBuf buf = YB_BUF_INIT;
        int r;

        if (asprintf(&dir, "%s/cache/%s", b->args->state_dir, b->args->system) < 0)
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

static void print_summary(Backup *b, const YbSnapshotHeader *h, double seconds) {
        const YbSnapshotCounts *c = &h->counts;
        char b1[32], b2[32], b3[32];

        if (b->args->json) {
                json_t *o = json_pack(
                        "{s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
                        "s:I, s:I, s:I, s:I, s:I, s:f, s:b, s:O, s:O}",
                        "snapshot", h->id, "system", h->system, "level",
                        yb_level_to_string(h->level), "parent",
                        *h->parent ? json_string(h->parent) : json_null(), "store", b->args->store,
                        "files", (json_int_t) c->files, "dirs", (json_int_t) c->dirs, "symlinks",
                        (json_int_t) c->symlinks, "hardlinks", (json_int_t) c->hardlinks, "whole",
                        (json_int_t) c->whole, "delta", (json_int_t) c->delta, "unchanged",
                        (json_int_t) c->unchanged, "renamed", (json_int_t) c->renamed, "deleted",
                        (json_int_t) c->deleted, "errors", (json_int_t) c->errors, "bytes_source",
                        (json_int_t) h->bytes_source, "bytes_read", (json_int_t) h->bytes_read,
                        "bytes_stored", (json_int_t) h->bytes_stored, "volumes",
                        (json_int_t) (h->n_files - 2), "seconds", seconds, "partial", h->partial,
                        "skipped", b->errors, "streams", b->streams);

                if (o) {
                        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
                        fputc('\n', stdout);
                        json_decref(o);
                }
                return;
        }
        printf("Snapshot %s committed: %s backup of system '%s'%s%s.\n", h->id,
               yb_level_to_string(h->level), h->system, *h->parent ? ", parent " : "", h->parent);
        printf("  files:  %llu (%llu stored whole, %llu as deltas, %llu unchanged, %llu renamed, "
               "%llu deleted since the parent)\n",
               (unsigned long long) c->files, (unsigned long long) c->whole,
               (unsigned long long) c->delta, (unsigned long long) c->unchanged,
               (unsigned long long) c->renamed, (unsigned long long) c->deleted);
        printf("  also:   %llu directories, %llu symlinks, %llu hard links, %llu special files\n",
               (unsigned long long) c->dirs, (unsigned long long) c->symlinks,
               (unsigned long long) c->hardlinks, (unsigned long long) c->special);
        printf("  bytes:  %s in the sources, %s read, %s stored, in %.2f s\n",
               yb_format_bytes(h->bytes_source, b1), yb_format_bytes(h->bytes_read, b2),
               yb_format_bytes(h->bytes_stored, b3), seconds);
        for (size_t i = 0; i < json_array_size(b->streams); i++) {
                json_t *st = json_array_get(b->streams, i);

                printf("  stream: %s, %s from its command in %.2f s\n",
                       json_string_value(json_object_get(st, "name")),
                       yb_format_bytes((uint64_t) json_integer_value(json_object_get(st, "bytes")),
                                       b1),
                       json_real_value(json_object_get(st, "seconds")));
        }
        printf("  store:  %s\n", b->args->store);
        if (h->partial)
                printf("  PARTIAL: %llu files or directories could not be read (listed above).\n",
                       (unsigned long long) c->errors);
}

static void backup_done(Backup *b) {
        yb_snapshot_writer_free(b->w);
        yb_sigindex_free(b->index);
        free(b->seen);
        for (size_t i = 0; i < b->links_size; i++)
                free(b->links[i].path);
        free(b->links);
        for (size_t i = 0; i < b->n_users; i++)
                free(b->users[i].name);
        free(b->users);
        for (size_t i = 0; i < b->n_groups; i++)
                free(b->groups[i].name);
        free(b->groups);
        free(b->buf);
        yb_repo_free(b->repo);
        yb_store_close(b->store);
        yb_agent_identity_free(b->agent);
        json_decref(b->errors);
        json_decref(b->streams);
        free(b->stream_stored);
}

/* Whether path holds a private key file (given by mistake where the public key belongs). */
static bool key_file_is_private(const char *path) {
        YbBuf b = YB_BUF_INIT;
        bool r = false;

        if (yb_read_file_at(AT_FDCWD, path, 64 * 1024, &b) >= 0 && yb_buf_append_u8(&b, 0) >= 0)
                r = strstr((char *) b.data, "\"yunbak-secret-key\"") != NULL;
        yb_buf_done(&b);
        return r;
}

static int fail(int r, const char *fmt, ...) _printf_(2, 3);
static int fail(int r, const char *fmt, ...) {
        char msg[2048];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        log_error("%s", msg);
        return yb_exit_code_from_errno(r);
}

/* The agent's own owner and group, for what it makes itself (streams and their directories). */
static void own_meta(Backup *b, const char *path, int64_t ns, YbEntry *ret) {
        uid_t uid = geteuid();
        gid_t gid = getegid();

        *ret = (YbEntry){
                .path = (char *) path,
                .mode = 0700,
                .uid = uid,
                .gid = gid,
                .uname = (char *) id_name(&b->users, &b->n_users, uid, false),
                .gname = (char *) id_name(&b->groups, &b->n_groups, gid, true),
                .mtime_sec = ns / YB_NSEC_PER_SEC,
                .mtime_nsec = (uint32_t) (ns % YB_NSEC_PER_SEC),
        };
}

/* With --parent-agent, only snapshots that agent signed are built on; never one of
 * --skip-parent. */
static bool parent_agent_ok(const AgentBackupArgs *args, const YbSnapshotHeader *h) {
        for (size_t i = 0; i < args->n_skip_parents; i++)
                if (streq(args->skip_parents[i], h->id))
                        return false;
        return !args->has_parent_agent || memcmp(h->agent_pk, args->parent_agent, 32) == 0;
}

/* The directories above stream i's name ("_streams" of "_streams/db.pgdump"), each recorded once
 * (by the first stored stream below it), before the stream itself. */
static int add_stream_dirs(Backup *b, size_t i, int64_t ns) {
        const char *name = b->args->streams[i].name;

        for (const char *p = strchr(name, '/'); p; p = strchr(p + 1, '/')) {
                _cleanup_free_ char *dir = strndup(name, (size_t) (p - name));
                bool seen = false;
                YbEntry me;
                int r;

                if (!dir)
                        return -ENOMEM;
                for (size_t j = 0; j < i && !seen; j++) /* a failed optional one made none */
                        seen = b->stream_stored[j] &&
                               yb_path_startswith(b->args->streams[j].name, dir);
                if (seen)
                        continue;
                own_meta(b, dir, ns, &me);
                me.type = YB_ENTRY_DIR;
                r = yb_snapshot_writer_add(b->w, &me);
                if (r < 0)
                        return r;
                b->hdr.counts.dirs++;
        }
        return 0;
}

typedef struct StreamCopy {
        Backup *b;
        bool store_failed;
} StreamCopy;

static int stream_chunk(void *userdata, const void *data, size_t n) {
        StreamCopy *c = userdata;
        int r = yb_snapshot_writer_data(c->b->w, data, n);

        if (r < 0)
                c->store_failed = true;
        return r;
}

static size_t spool_chunk_size(void) {
#ifdef YB_FAULT_INJECTION
        /* Test hook: tiny chunks put every chunk boundary case within reach of small streams. */
        const char *e = getenv("YB_TEST_SPOOL_CHUNK");

        if (e && atol(e) > 0)
                return (size_t) atol(e);
#endif
        return 0;
}

/* Runs stream i, spooled, and stores its output whole as a regular file (mode 0600, mtime the
 * start of the command, which is when a dump's snapshot of the database is taken). Returns an
 * exit code, having said what went wrong. */
static int backup_stream(Backup *b, size_t i) {
        const AgentStream *s = &b->args->streams[i];
        const char *system = b->args->system, *dir = b->args->state_dir;
        _cleanup_(agent_spool_freep) AgentSpool *spool = NULL;
        _cleanup_free_ char *pax_name = NULL;
        AgentStreamResult res;
        StreamCopy copy = { .b = b };
        char how[192], b1[32], b2[32];
        YbPaxEntry pe;
        YbEntry me;
        int r;

        r = agent_spool_new(dir, spool_chunk_size(), &spool);
        if (r == -ENOSPC)
                return fail(r,
                            "Backup of system '%s' failed, nothing was committed: no room to "
                            "spool stream '%s' in '%s' (a spool leaves 2%% of the file system, "
                            "at most 1 GiB, free for the host). Free space there, or give "
                            "--state-dir on a larger file system.",
                            system, s->name, dir);
        if (r < 0)
                return fail(r,
                            "Backup of system '%s' failed, nothing was committed: cannot create "
                            "the spool of stream '%s' in '%s': %s",
                            system, s->name, dir, strerror(-r));
        log_info("Stream '%s': running its command.", s->name);
        r = agent_stream_run(s, spool, &res);
        if (r == -ENOSPC)
                return fail(r,
                            "Backup of system '%s' failed, nothing was committed: stream '%s' "
                            "does not fit in '%s' (%s spooled; a spool leaves %s free for the "
                            "host). Free space there, or give --state-dir on a larger file "
                            "system.",
                            system, s->name, dir,
                            yb_format_bytes(agent_spool_disk_bytes(spool), b1),
                            yb_format_bytes(agent_spool_reserve(spool), b2));
        if (r < 0)
                return fail(r,
                            "Backup of system '%s' failed, nothing was committed: stream '%s' "
                            "could not be %s in '%s': %s",
                            system, s->name,
                            agent_spool_disk_bytes(spool) > 0 ? "spooled" : "started", dir,
                            strerror(-r));
        if (!WIFEXITED(res.status) || WEXITSTATUS(res.status) != 0) {
                agent_stream_status_text(res.status, how, sizeof(how));
                if (s->optional) {
                        _cleanup_free_ char *why = NULL;

                        if (asprintf(&why, "stream: its command %s%s%s%s", how,
                                     *res.last_message ? " (last message: \"" : "",
                                     res.last_message, *res.last_message ? "\")" : "") < 0)
                                return fail(-ENOMEM, "Out of memory.");
                        backup_error(b, s->name, 0, why);
                        return YB_EXIT_OK;
                }
                log_error("Stream '%s' failed: its command %s%s%s%s. Backup of system '%s' "
                          "failed, nothing was committed.",
                          s->name, how, *res.last_message ? " (last message: \"" : "",
                          res.last_message, *res.last_message ? "\")" : "", system);
                return YB_EXIT_FAILED;
        }

        r = add_stream_dirs(b, i, res.started_ns);
        own_meta(b, s->name, res.started_ns, &me);
        me.mode = 0600;
        me.type = YB_ENTRY_FILE;
        me.size = res.size;
        memcpy(me.hash, res.hash, YB_HASH_SIZE);
        if (r >= 0 && res.size > 0) {
                if (asprintf(&pax_name, "tree/%s", s->name) < 0)
                        return fail(-ENOMEM, "Out of memory.");
                pax_from(&me, pax_name, res.size, &pe);
                r = yb_snapshot_writer_begin_entry(b->w, &pe, &me.volume, &me.entry);
                if (r >= 0) {
                        r = agent_spool_replay(spool, stream_chunk, &copy);
                        if (r < 0 && !copy.store_failed) {
                                /* The spool, not the store, failed. */
                                if (r == -EBADMSG)
                                        log_error("The spool of stream '%s' in '%s' did not read "
                                                  "back as it was written: something altered it "
                                                  "on disk. Backup of system '%s' failed, nothing "
                                                  "was committed.",
                                                  s->name, dir, system);
                                else
                                        log_error("Cannot read back the spool of stream '%s' in "
                                                  "'%s': %s. Backup of system '%s' failed, "
                                                  "nothing was committed.",
                                                  s->name, dir, strerror(-r), system);
                                return YB_EXIT_FAILED;
                        }
                }
                if (r >= 0)
                        r = yb_snapshot_writer_end_entry(b->w);
                me.content = YB_CONTENT_WHOLE;
                me.stored = res.size;
        } else
                me.content = YB_CONTENT_EMPTY;
        if (r >= 0)
                r = yb_snapshot_writer_add(b->w, &me);
        if (r < 0)
                return fail(r,
                            "Backup of system '%s' failed, nothing was committed: cannot store "
                            "stream '%s': %s",
                            system, s->name, r == -ENOSPC ? "the store is full" : strerror(-r));
        b->stream_stored[i] = true;
        b->hdr.counts.files++;
        if (res.size > 0)
                b->hdr.counts.whole++;
        else
                b->hdr.counts.empty++;
        b->hdr.bytes_source += res.size;
        b->hdr.bytes_read += res.size;
        {
                double seconds = (double) (res.finished_ns - res.started_ns) / 1e9;

                log_info("Stream '%s': %s stored, from a command that ran %.2f s.", s->name,
                         yb_format_bytes(res.size, b1), seconds);
                json_array_append_new(b->streams,
                                      json_pack("{s:s, s:I, s:f}", "name", s->name, "bytes",
                                                (json_int_t) res.size, "seconds", seconds));
        }
        return YB_EXIT_OK;
}

/* A stream's name is a snapshot path of its own: safe, given once, and clear of the sources'
 * names (roots) and of the other streams. Returns an exit code. */
static int check_stream_names(const AgentBackupArgs *args, char *const *roots) {
        for (size_t i = 0; i < args->n_streams; i++) {
                const char *name = args->streams[i].name;
                size_t first = strcspn(name, "/");

                if (!yb_path_is_safe(name, strlen(name))) {
                        log_error("Stream name '%s' is not a valid snapshot path: give a relative "
                                  "path such as _streams/hr-db.pgdump, without a leading '/' or "
                                  "empty, '.' or '..' components.",
                                  name);
                        return YB_EXIT_USAGE;
                }
                for (size_t j = 0; j < args->n_paths; j++)
                        if (strlen(roots[j]) == first && strncmp(name, roots[j], first) == 0) {
                                log_error("Stream '%s' collides with source '%s', which the "
                                          "snapshot keeps under the name '%s': give the stream "
                                          "another name (such as _streams/%s).",
                                          name, args->paths[j], roots[j], name);
                                return YB_EXIT_USAGE;
                        }
                for (size_t j = 0; j < i; j++)
                        if (yb_path_startswith(name, args->streams[j].name) ||
                            yb_path_startswith(args->streams[j].name, name)) {
                                log_error("Streams '%s' and '%s' collide: %s.",
                                          args->streams[j].name, name,
                                          streq(name, args->streams[j].name)
                                                  ? "the same name is given twice"
                                                  : "one would be a directory holding the other");
                                return YB_EXIT_USAGE;
                        }
        }
        return YB_EXIT_OK;
}

int agent_backup(const AgentBackupArgs *args) {
        _cleanup_(backup_done) Backup b = { .args = args };
        _cleanup_(yb_header_freep) YbSnapshotHeader *committed = NULL;
        _cleanup_free_ char **roots = NULL;
        const YbSnapshotHeader *parent = NULL, *base = NULL;
        YbSnapshotList list = { 0 };
        YbWriterOptions opts = { .zstd_level = args->zstd_level, .zstd_workers = args->threads };
        YbLevel level = (YbLevel) args->level;
        YbPublicKey pub;
        char host[256] = "", kid[2 * YB_KEY_ID_SIZE + 1], kid2[2 * YB_KEY_ID_SIZE + 1];
        char key_name[PATH_MAX + 3]; /* the key as messages name it */
        int64_t t0 = yb_monotonic_ns();
        int r;

        b.errors = json_array();
        b.streams = json_array();
        b.buf = malloc(READ_BUF_SIZE);
        b.stream_stored = new0(bool, args->n_streams + 1);
        roots = new0(char *, args->n_paths + 1);
        if (!b.errors || !b.streams || !b.buf || !b.stream_stored || !roots)
                return fail(-ENOMEM, "Out of memory.");
        /* Each source is stored under its own name; two sources of the same name would clash. */
        for (size_t i = 0; i < args->n_paths; i++) {
                char *p = args->paths[i], *slash;
                size_t n = strlen(p);

                while (n > 1 && p[n - 1] == '/')
                        p[--n] = 0;
                slash = strrchr(p, '/');
                roots[i] = slash ? slash + 1 : p;
                if (!*roots[i] || streq(roots[i], ".") || streq(roots[i], ".."))
                        return fail(-EINVAL,
                                    "Cannot back up '%s': name a directory or file by its path "
                                    "(such as /srv/data), not '/', '.' or '..'.",
                                    p);
                for (size_t j = 0; j < i; j++)
                        if (streq(roots[i], roots[j])) {
                                log_error("Sources '%s' and '%s' have the same name '%s'; a "
                                          "snapshot keeps each source under its name.",
                                          args->paths[j], p, roots[i]);
                                return YB_EXIT_USAGE;
                        }
        }
        r = check_stream_names(args, roots);
        if (r != YB_EXIT_OK)
                return r;

        if (args->public_key_json) {
                r = yb_public_key_parse(args->public_key_json, strlen(args->public_key_json), &pub);
                if (r == -EBADMSG && strstr(args->public_key_json, "\"yunbak-secret-key\""))
                        return fail(-EKEYREJECTED,
                                    "--public-key-json holds the system's PRIVATE key. An agent "
                                    "needs only the public key (ID.pub).");
                if (r < 0)
                        return fail(-EKEYREJECTED,
                                    "--public-key-json is not the text of a yunbak public key "
                                    "(ID.pub).");
                snprintf(key_name, sizeof(key_name), "given with --public-key-json");
        } else {
                snprintf(key_name, sizeof(key_name), "'%s'", args->public_key);
                r = yb_public_key_read(args->public_key, &pub);
        }
        if (r == -EBADMSG && key_file_is_private(args->public_key))
                return fail(-EKEYREJECTED,
                            "'%s' is the system's PRIVATE key. An agent needs only the public key "
                            "(ID.pub); the private key must not be on the agent's host.",
                            args->public_key);
        if (r == -EBADMSG || r == -EPROTONOSUPPORT)
                return fail(-EKEYREJECTED, "'%s' is not a yunbak public key file.",
                            args->public_key);
        if (r < 0)
                return fail(r, "Cannot read public key '%s': %s", args->public_key, strerror(-r));
        if (!streq(pub.system, args->system))
                return fail(-EKEYREJECTED, "Public key %s belongs to system '%s', not '%s'.",
                            key_name, pub.system, args->system);
        r = yb_agent_identity_load(args->state_dir, &b.agent);
        if (r < 0)
                return fail(r, "Cannot load or create the agent key in '%s': %s", args->state_dir,
                            strerror(-r));
        r = yb_store_open(args->store, &b.store);
        if (r == -ENOENT || r == -ENOTDIR || r == -EACCES)
                return r == -EACCES
                               ? fail(r, "Cannot open store '%s': %s", args->store, strerror(-r))
                               : (log_error("Store '%s' does not exist (or is not a "
                                            "directory).",
                                            args->store),
                                  YB_EXIT_UNREACHABLE);
        if (r == -EPROTONOSUPPORT)
                return fail(-EINVAL,
                            "Store '%s': unknown kind of location (use a directory "
                            "path or file:///path).",
                            args->store);
        if (r < 0)
                return fail(r, "Cannot open store '%s': %s", args->store, strerror(-r));
        r = yb_repo_open_or_create(b.store, &pub, &b.repo);
        if (r == -EKEYREJECTED) {
                YbRepo *other = NULL;

                yb_key_id_hex(pub.id, kid);
                if (yb_repo_open(b.store, args->system, &other) >= 0)
                        yb_key_id_hex(other->config.pub.id, kid2);
                else
                        strcpy(kid2, "?");
                yb_repo_free(other);
                return fail(r,
                            "The repository of system '%s' in '%s' uses key %s, but the key %s "
                            "is %s. Use the system's own public key.",
                            args->system, args->store, kid2, key_name, kid);
        }
        if (r < 0)
                return fail(r, "Cannot open the repository of system '%s' in '%s': %s",
                            args->system, args->store,
                            r == -EBADMSG ? "its config is damaged" : strerror(-r));
        r = yb_repo_lock(b.repo);
        if (r == -EBUSY)
                return fail(r, "Another backup of system '%s' is running (lock held by %s).",
                            args->system, b.repo->lock_owner);
        if (r < 0)
                return fail(r, "Cannot lock the repository of system '%s': %s", args->system,
                            strerror(-r));
        r = yb_repo_cleanup_tmp(b.repo);
        if (r < 0)
                log_warning_errno(r, "Cannot remove leftovers of an interrupted backup: %m");

        r = yb_repo_list(b.repo, &list);
        if (r < 0)
                return fail(r, "Cannot list the snapshots of system '%s': %s", args->system,
                            strerror(-r));
        for (size_t i = 0; i < list.n_broken; i++)
                log_warning("Snapshot %s of system '%s' is damaged (%s); it is not used as a "
                            "parent. Run 'yunbak verify'.",
                            list.broken[i].id, args->system, strerror(-list.broken[i].error));
        if (level == YB_LEVEL_DIFFERENTIAL) {
                for (size_t i = list.n; i > 0 && !base; i--)
                        if (list.items[i - 1]->level == YB_LEVEL_FULL &&
                            parent_agent_ok(args, list.items[i - 1]))
                                base = list.items[i - 1];
                parent = base;
        } else if (level == YB_LEVEL_INCREMENTAL) {
                for (size_t i = list.n; i > 0 && !parent; i--)
                        if (parent_agent_ok(args, list.items[i - 1]))
                                parent = list.items[i - 1];
                base = !parent || parent->level == YB_LEVEL_FULL
                               ? parent
                               : yb_snapshot_list_find(&list, parent->base);
                if (!base || !parent_agent_ok(args, base))
                        parent = base = NULL;
        }
        if (level != YB_LEVEL_FULL && !parent) {
                log_notice("System '%s' has no full snapshot to build on yet: making a full "
                           "backup.",
                           args->system);
                level = YB_LEVEL_FULL;
        }
        if (parent) {
                r = load_parent_index(&b, parent);
                if (r == -EKEYREJECTED)
                        log_warning("Snapshot %s was made by another agent; every file is read "
                                    "and stored whole this time.",
                                    parent->id);
                else if (r < 0)
                        log_warning_errno(r,
                                          "Cannot read the signature index of snapshot %s "
                                          "(%m); every file is read and stored whole.",
                                          parent->id);
                if (b.index) {
                        b.seen = new0(uint8_t, b.index->n + 1);
                        if (!b.seen) {
                                yb_snapshot_list_done(&list);
                                return fail(-ENOMEM, "Out of memory.");
                        }
                }
        }

        /* Extended attributes (and ACLs) are read through /proc/self/fd: without /proc they would
         * be lost in silence. Say so once, and mark the snapshot partial. */
        if (access("/proc/self/fd", F_OK) < 0) {
                b.no_proc = true;
                log_warning("/proc is not mounted: extended attributes and ACLs are NOT backed "
                            "up; the snapshot is marked partial.");
                b.hdr.partial = true;
                b.hdr.counts.errors++;
        }
        (void) gethostname(host, sizeof(host) - 1);
        opts.host = host;
        r = yb_snapshot_writer_new(b.repo, b.agent, level, parent, base, &opts, &b.w);
        if (r < 0) {
                yb_snapshot_list_done(&list);
                return fail(r, "Cannot start a snapshot in '%s', nothing was committed: %s",
                            args->store, strerror(-r));
        }
        /* Streams first: a database dump is taken as close to the backup's start as can be,
         * and a failed one stops the backup before any walking. */
        for (size_t i = 0; i < args->n_streams; i++) {
                int code = backup_stream(&b, i);

                if (code != YB_EXIT_OK) {
                        yb_snapshot_list_done(&list);
                        return code;
                }
        }
        for (size_t i = 0; i < args->n_paths && r >= 0; i++) {
                _cleanup_free_ char *target = NULL;
                const char *source = args->paths[i];
                struct stat lst;

                /* A source named through a symlink (/var/lib/mysql -> /data/mysql) means what it
                 * points to: back that up, under the name given. Below it, links are kept as
                 * links. */
                if (lstat(source, &lst) == 0 && S_ISLNK(lst.st_mode)) {
                        target = realpath(source, NULL);
                        if (target) {
                                log_info("'%s' is a symlink to '%s': backing up what it points "
                                         "to, as '%s'.",
                                         source, target, roots[i]);
                                source = target;
                        }
                }
                r = agent_walk(source, roots[i], args->excludes, args->n_excludes, backup_entry,
                               walk_error, &b);
                if (r == -ENOENT || r == -EACCES || r == -ENOTDIR) {
                        backup_error(&b, args->paths[i], r, "cannot read the source");
                        r = 0;
                }
        }
        yb_snapshot_list_done(&list);
        if (r < 0)
                return fail(r, "Backup of system '%s' failed, nothing was committed: %s",
                            args->system, r == -ENOSPC ? "the store is full" : strerror(-r));
        if (b.index)
                for (size_t i = 0; i < b.index->n; i++)
                        b.hdr.counts.deleted += !b.seen[i];
        {
                char **abs = new0(char *, args->n_paths + 1);

                for (size_t i = 0; abs && i < args->n_paths; i++)
                        abs[i] = realpath(args->paths[i], NULL) ?: strdup(args->paths[i]);
                b.hdr.sources = abs;
                b.hdr.n_sources = abs ? args->n_paths : 0;
                r = yb_snapshot_writer_commit(b.w, &b.hdr, &committed);
                for (size_t i = 0; abs && i < args->n_paths; i++)
                        free(abs[i]);
                free(abs);
                b.hdr.sources = NULL;
        }
        if (r < 0 && committed) {
                cache_sigindex(&b, committed);
                return fail(r,
                            "Snapshot %s of system '%s' was committed, but the store did not "
                            "confirm it is on disk (%s); it may not survive a crash of the "
                            "store. Run 'yunbak verify' once the store is healthy.",
                            committed->id, args->system, strerror(-r));
        }
        if (r < 0)
                return fail(r, "Backup of system '%s' failed, nothing was committed: %s",
                            args->system, r == -ENOSPC ? "the store is full" : strerror(-r));
        cache_sigindex(&b, committed);
        print_summary(&b, committed, (double) (yb_monotonic_ns() - t0) / 1e9);
        return committed->partial ? YB_EXIT_PARTIAL : YB_EXIT_OK;
}
